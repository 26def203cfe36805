//! Field mapping: a Sigma field name to where its value lives in a CloudTrail record.
//!
//! Fields that [`Record`] already types (`eventName`, `userIdentity.arn`, `errorCode`, ...) are read from
//! it directly, so the rules that run on every record never parse JSON. Any other dotted path goes into
//! the JSON: the three nested documents (`requestParameters`, `responseElements`, `additionalEventData`)
//! are parsed on their own, anything else from the whole record, each at most once per record and only
//! when a rule asks ([`RecordView`]). Arrays on the way are walked: `a.b` reaches `b` in every element
//! of an array `a`.

use std::cell::OnceCell;

use serde_json::value::RawValue;
use serde_json::Value;
use trailguard_event::Record;

/// A record field typed by [`Record`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Typed {
    EventVersion,
    EventTime,
    EventSource,
    EventName,
    AwsRegion,
    SourceIpAddress,
    UserAgent,
    ErrorCode,
    ErrorMessage,
    EventId,
    RequestId,
    EventType,
    ReadOnly,
    ManagementEvent,
    RecipientAccountId,
    EventCategory,
    IdentityType,
    PrincipalId,
    IdentityArn,
    IdentityAccountId,
    AccessKeyId,
    IdentityUserName,
    InvokedBy,
    IssuerType,
    IssuerArn,
    IssuerUserName,
    MfaAuthenticated,
    SessionCreationDate,
}

/// The typed fields by their CloudTrail path (compared ignoring ASCII case).
const TYPED: &[(&str, Typed)] = &[
    ("eventVersion", Typed::EventVersion),
    ("eventTime", Typed::EventTime),
    ("eventSource", Typed::EventSource),
    ("eventName", Typed::EventName),
    ("awsRegion", Typed::AwsRegion),
    ("sourceIPAddress", Typed::SourceIpAddress),
    ("userAgent", Typed::UserAgent),
    ("errorCode", Typed::ErrorCode),
    ("errorMessage", Typed::ErrorMessage),
    ("eventID", Typed::EventId),
    ("requestID", Typed::RequestId),
    ("eventType", Typed::EventType),
    ("readOnly", Typed::ReadOnly),
    ("managementEvent", Typed::ManagementEvent),
    ("recipientAccountId", Typed::RecipientAccountId),
    ("eventCategory", Typed::EventCategory),
    ("userIdentity.type", Typed::IdentityType),
    ("userIdentity.principalId", Typed::PrincipalId),
    ("userIdentity.arn", Typed::IdentityArn),
    ("userIdentity.accountId", Typed::IdentityAccountId),
    ("userIdentity.accessKeyId", Typed::AccessKeyId),
    ("userIdentity.userName", Typed::IdentityUserName),
    ("userIdentity.invokedBy", Typed::InvokedBy),
    (
        "userIdentity.sessionContext.sessionIssuer.type",
        Typed::IssuerType,
    ),
    (
        "userIdentity.sessionContext.sessionIssuer.arn",
        Typed::IssuerArn,
    ),
    (
        "userIdentity.sessionContext.sessionIssuer.userName",
        Typed::IssuerUserName,
    ),
    (
        "userIdentity.sessionContext.attributes.mfaAuthenticated",
        Typed::MfaAuthenticated,
    ),
    (
        "userIdentity.sessionContext.attributes.creationDate",
        Typed::SessionCreationDate,
    ),
];

/// Field names other Sigma pipelines use for CloudTrail (Elastic Common Schema, as in Elastic's AWS
/// integration), mapped to the CloudTrail path they mean, so rules written for those backends run here.
/// CloudTrail records have no top-level `event`, `source`, `cloud`, `user_agent` or `aws` key, so an
/// alias never hides a real field.
const ALIASES: &[(&str, &str)] = &[
    ("event.action", "eventName"),
    ("event.provider", "eventSource"),
    ("event.id", "eventID"),
    ("source.ip", "sourceIPAddress"),
    ("source.address", "sourceIPAddress"),
    ("user_agent.original", "userAgent"),
    ("cloud.region", "awsRegion"),
    ("cloud.account.id", "recipientAccountId"),
    ("aws.cloudtrail.event_type", "eventType"),
    ("aws.cloudtrail.event_version", "eventVersion"),
    ("aws.cloudtrail.error_code", "errorCode"),
    ("aws.cloudtrail.error_message", "errorMessage"),
    ("aws.cloudtrail.request_id", "requestID"),
    ("aws.cloudtrail.request_parameters", "requestParameters"),
    ("aws.cloudtrail.response_elements", "responseElements"),
    ("aws.cloudtrail.additional_eventdata", "additionalEventData"),
    ("aws.cloudtrail.recipient_account_id", "recipientAccountId"),
    ("aws.cloudtrail.user_identity.type", "userIdentity.type"),
    ("aws.cloudtrail.user_identity.arn", "userIdentity.arn"),
    (
        "aws.cloudtrail.user_identity.access_key_id",
        "userIdentity.accessKeyId",
    ),
    (
        "aws.cloudtrail.user_identity.invoked_by",
        "userIdentity.invokedBy",
    ),
    (
        "aws.cloudtrail.user_identity.session_context.mfa_authenticated",
        "userIdentity.sessionContext.attributes.mfaAuthenticated",
    ),
    (
        "aws.cloudtrail.user_identity.session_context.session_issuer.type",
        "userIdentity.sessionContext.sessionIssuer.type",
    ),
    (
        "aws.cloudtrail.user_identity.session_context.session_issuer.arn",
        "userIdentity.sessionContext.sessionIssuer.arn",
    ),
];

/// Which JSON document a path starts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    Record,
    RequestParameters,
    ResponseElements,
    AdditionalEventData,
}

/// Where a Sigma field's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldRef {
    Typed(Typed),
    Json {
        root: Root,
        path: Vec<String>,
    },
    /// Keyword search: the record's raw JSON text.
    RawText,
}

impl FieldRef {
    /// Maps a Sigma field name (`eventName`, `requestParameters.userName`) to its place in the record.
    pub fn map(name: &str) -> FieldRef {
        if name.is_empty() {
            return FieldRef::RawText;
        }
        let name = ALIASES
            .iter()
            .find(|(alias, _)| alias.eq_ignore_ascii_case(name))
            .map_or(name, |(_, path)| *path);
        if let Some((_, typed)) = TYPED.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            return FieldRef::Typed(*typed);
        }
        let mut segments: Vec<String> = name.split('.').map(str::to_owned).collect();
        let root = match segments[0].to_ascii_lowercase().as_str() {
            "requestparameters" => Root::RequestParameters,
            "responseelements" => Root::ResponseElements,
            "additionaleventdata" => Root::AdditionalEventData,
            _ => Root::Record,
        };
        if root != Root::Record {
            segments.remove(0);
        }
        FieldRef::Json {
            root,
            path: segments,
        }
    }

    /// Relative cost of reading the field: typed fields are free, nested documents need a parse of
    /// their own, other paths a parse of the whole record, keywords a scan of its text.
    pub fn cost(&self) -> u8 {
        match self {
            FieldRef::Typed(_) => 0,
            FieldRef::Json {
                root: Root::Record, ..
            } => 2,
            FieldRef::Json { .. } => 1,
            FieldRef::RawText => 3,
        }
    }

    /// This is the typed field `typed`.
    pub fn is(&self, typed: Typed) -> bool {
        matches!(self, FieldRef::Typed(t) if *t == typed)
    }
}

/// One value found at a field.
#[derive(Debug, Clone, Copy)]
pub enum Found<'v> {
    Str(&'v str),
    Bool(bool),
    Json(&'v Value),
}

impl Found<'_> {
    pub fn is_null(&self) -> bool {
        matches!(self, Found::Json(Value::Null))
    }
}

/// A record plus its JSON documents, parsed lazily and at most once, shared by every rule.
pub struct RecordView<'r, 'a> {
    pub record: &'r Record<'a>,
    whole: OnceCell<Option<Value>>,
    request: OnceCell<Option<Value>>,
    response: OnceCell<Option<Value>>,
    additional: OnceCell<Option<Value>>,
}

fn parse_raw(raw: Option<&RawValue>) -> Option<Value> {
    raw.and_then(|r| serde_json::from_str(r.get()).ok())
}

impl<'r, 'a> RecordView<'r, 'a> {
    pub fn new(record: &'r Record<'a>) -> Self {
        RecordView {
            record,
            whole: OnceCell::new(),
            request: OnceCell::new(),
            response: OnceCell::new(),
            additional: OnceCell::new(),
        }
    }

    /// The raw JSON text of the record (keyword search), when the reader kept it.
    pub fn raw_text(&self) -> Option<&'r str> {
        self.record.raw.map(RawValue::get)
    }

    /// `requestParameters` if a rule already had it parsed; never parses.
    pub fn parsed_request_parameters(&self) -> Option<&Value> {
        self.request.get()?.as_ref()
    }

    fn root(&self, root: Root) -> Option<&Value> {
        let r = self.record;
        match root {
            Root::Record => self.whole.get_or_init(|| parse_raw(r.raw)),
            Root::RequestParameters => self.request.get_or_init(|| parse_raw(r.request_parameters)),
            Root::ResponseElements => self.response.get_or_init(|| parse_raw(r.response_elements)),
            Root::AdditionalEventData => self
                .additional
                .get_or_init(|| parse_raw(r.additional_event_data)),
        }
        .as_ref()
    }

    fn typed(&self, typed: Typed) -> Option<Found<'_>> {
        let r = self.record;
        let ui = &r.user_identity;
        let session = ui.session_context.as_ref();
        let issuer = session.and_then(|s| s.session_issuer.as_ref());
        let attributes = session.and_then(|s| s.attributes.as_ref());
        let text = match typed {
            Typed::EventVersion => r.event_version.as_deref(),
            Typed::EventTime => Some(&*r.event_time),
            Typed::EventSource => Some(&*r.event_source),
            Typed::EventName => Some(&*r.event_name),
            Typed::AwsRegion => r.aws_region.as_deref(),
            Typed::SourceIpAddress => r.source_ip_address.as_deref(),
            Typed::UserAgent => r.user_agent.as_deref(),
            Typed::ErrorCode => r.error_code.as_deref(),
            Typed::ErrorMessage => r.error_message.as_deref(),
            Typed::EventId => r.event_id.as_deref(),
            Typed::RequestId => r.request_id.as_deref(),
            Typed::EventType => r.event_type.as_deref(),
            Typed::ReadOnly => return r.read_only.map(Found::Bool),
            Typed::ManagementEvent => return r.management_event.map(Found::Bool),
            Typed::RecipientAccountId => r.recipient_account_id.as_deref(),
            Typed::EventCategory => r.event_category.as_deref(),
            Typed::IdentityType => ui.identity_type.as_deref(),
            Typed::PrincipalId => ui.principal_id.as_deref(),
            Typed::IdentityArn => ui.arn.as_deref(),
            Typed::IdentityAccountId => ui.account_id.as_deref(),
            Typed::AccessKeyId => ui.access_key_id.as_deref(),
            Typed::IdentityUserName => ui.user_name.as_deref(),
            Typed::InvokedBy => ui.invoked_by.as_deref(),
            Typed::IssuerType => issuer.and_then(|i| i.issuer_type.as_deref()),
            Typed::IssuerArn => issuer.and_then(|i| i.arn.as_deref()),
            Typed::IssuerUserName => issuer.and_then(|i| i.user_name.as_deref()),
            Typed::MfaAuthenticated => attributes.and_then(|a| a.mfa_authenticated.as_deref()),
            Typed::SessionCreationDate => attributes.and_then(|a| a.creation_date.as_deref()),
        };
        text.map(Found::Str)
    }

    /// Calls `f` with every value at `field` (arrays flattened) until it returns `true`.
    /// Returns whether `f` returned `true`. Absent fields call `f` zero times; JSON `null` is passed on.
    pub fn any_value(&self, field: &FieldRef, f: &mut dyn FnMut(Found<'_>) -> bool) -> bool {
        match field {
            FieldRef::Typed(typed) => self.typed(*typed).is_some_and(f),
            FieldRef::RawText => self.raw_text().is_some_and(|t| f(Found::Str(t))),
            FieldRef::Json { root, path } => match self.root(*root) {
                Some(value) => walk(value, path, f),
                None => false,
            },
        }
    }

    /// The first string-like value at `field` (for `fieldref` and evidence).
    pub fn first_text(&self, field: &FieldRef) -> Option<String> {
        let mut out = None;
        self.any_value(field, &mut |found| {
            out = match found {
                Found::Str(s) => Some(s.to_owned()),
                Found::Bool(b) => Some(b.to_string()),
                Found::Json(Value::String(s)) => Some(s.clone()),
                Found::Json(Value::Null) => None,
                Found::Json(other) => Some(other.to_string()),
            };
            out.is_some()
        });
        out
    }

    /// The value at `field` as JSON (evidence): one value, or an array when the path fans out.
    pub fn json_value(&self, field: &FieldRef) -> Option<Value> {
        let mut values = Vec::new();
        self.any_value(field, &mut |found| {
            values.push(match found {
                Found::Str(s) => Value::String(s.to_owned()),
                Found::Bool(b) => Value::Bool(b),
                Found::Json(v) => v.clone(),
            });
            false
        });
        match values.len() {
            0 => None,
            1 => values.pop(),
            _ => Some(Value::Array(values)),
        }
    }
}

fn walk(value: &Value, path: &[String], f: &mut dyn FnMut(Found<'_>) -> bool) -> bool {
    let Some((key, rest)) = path.split_first() else {
        return match value {
            Value::Array(items) => items.iter().any(|item| walk(item, &[], f)),
            other => f(Found::Json(other)),
        };
    };
    match value {
        Value::Object(map) => {
            if let Some(child) = map.get(key.as_str()) {
                return walk(child, rest, f);
            }
            // A key that itself contains dots (`"a.b": 1`), then a key written in another case.
            if !rest.is_empty() {
                let joined = path.join(".");
                if let Some(child) = map.get(&joined) {
                    return walk(child, &[], f);
                }
            }
            map.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .is_some_and(|(_, child)| walk(child, rest, f))
        }
        Value::Array(items) => items.iter().any(|item| walk(item, path, f)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORD: &str = r#"{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/Ops/alice","accountId":"111122223333","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111122223333:role/Ops","userName":"Ops"},"attributes":{"mfaAuthenticated":"false"}}},"eventTime":"2024-03-01T10:00:00Z","eventSource":"ecs.amazonaws.com","eventName":"RegisterTaskDefinition","awsRegion":"eu-west-1","sourceIPAddress":"198.51.100.7","userAgent":"aws-cli/2.15","requestParameters":{"family":"web","containerDefinitions":[{"name":"a","command":["sh","-c","echo hi"]},{"name":"b","command":["curl","169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]}],"tags.key":"x"},"responseElements":null,"readOnly":false,"tlsDetails":{"tlsVersion":"TLSv1.3"},"recipientAccountId":"111122223333"}"#;

    fn with_view<T>(f: impl FnOnce(&RecordView<'_, '_>) -> T) -> T {
        let raw: &RawValue = serde_json::from_str(RECORD).unwrap();
        let record = Record::from_raw(raw).unwrap();
        let view = RecordView::new(&record);
        f(&view)
    }

    fn all_texts(view: &RecordView<'_, '_>, name: &str) -> Vec<String> {
        let mut out = Vec::new();
        view.any_value(&FieldRef::map(name), &mut |found| {
            out.push(match found {
                Found::Str(s) => s.to_owned(),
                Found::Bool(b) => b.to_string(),
                Found::Json(v) => v.to_string(),
            });
            false
        });
        out
    }

    #[test]
    fn typed_fields_map_without_json() {
        assert_eq!(
            FieldRef::map("eventName"),
            FieldRef::Typed(Typed::EventName)
        );
        assert_eq!(
            FieldRef::map("EVENTNAME"),
            FieldRef::Typed(Typed::EventName)
        );
        assert_eq!(
            FieldRef::map("userIdentity.sessionContext.sessionIssuer.type"),
            FieldRef::Typed(Typed::IssuerType)
        );
        assert_eq!(FieldRef::map(""), FieldRef::RawText);
        assert_eq!(
            FieldRef::map("event.action"),
            FieldRef::Typed(Typed::EventName)
        );
        assert_eq!(
            FieldRef::map("aws.cloudtrail.user_identity.session_context.session_issuer.type"),
            FieldRef::Typed(Typed::IssuerType)
        );
        assert_eq!(
            FieldRef::map("aws.cloudtrail.request_parameters"),
            FieldRef::Json {
                root: Root::RequestParameters,
                path: vec![]
            }
        );
        // Every alias points at a field that exists in the mapping's own terms.
        for (alias, path) in ALIASES {
            assert_eq!(FieldRef::map(alias), FieldRef::map(path), "{alias}");
            assert!(
                !matches!(
                    FieldRef::map(path),
                    FieldRef::Json {
                        root: Root::Record,
                        ..
                    }
                ),
                "{alias}"
            );
        }
        assert_eq!(
            FieldRef::map("requestParameters.userName"),
            FieldRef::Json {
                root: Root::RequestParameters,
                path: vec!["userName".into()]
            }
        );
        with_view(|v| {
            assert_eq!(
                all_texts(v, "userIdentity.sessionContext.sessionIssuer.type"),
                ["Role"]
            );
            assert_eq!(all_texts(v, "readOnly"), ["false"]);
            assert_eq!(all_texts(v, "errorCode"), Vec::<String>::new());
            // Nothing forced a JSON parse for typed fields.
            assert!(v.whole.get().is_none() && v.request.get().is_none());
        });
    }

    #[test]
    fn paths_walk_arrays_and_objects() {
        with_view(|v| {
            let commands = all_texts(v, "requestParameters.containerDefinitions.command");
            assert_eq!(commands.len(), 5, "{commands:?}");
            assert!(commands
                .iter()
                .any(|c| c.contains("$AWS_CONTAINER_CREDENTIALS")));
            assert_eq!(
                all_texts(v, "requestParameters.containerDefinitions.name"),
                ["\"a\"", "\"b\""]
            );
            assert_eq!(all_texts(v, "tlsDetails.tlsVersion"), ["\"TLSv1.3\""]);
            assert_eq!(all_texts(v, "responseElements"), Vec::<String>::new());
            assert_eq!(all_texts(v, "requestParameters.tags.key"), ["\"x\""]);
            assert_eq!(all_texts(v, "requestparameters.FAMILY"), ["\"web\""]);
            assert!(all_texts(v, "requestParameters.nothing.here").is_empty());
            assert_eq!(
                v.first_text(&FieldRef::map("requestParameters.family"))
                    .as_deref(),
                Some("web")
            );
        });
    }
}
