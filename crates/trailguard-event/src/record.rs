//! The CloudTrail record model, borrowed from the input buffer.
//!
//! Only the fields every rule needs are typed. The nested documents (`requestParameters`,
//! `responseElements`, `additionalEventData`) stay as raw JSON slices until a rule asks for them, because
//! most records in a real trail are read-only calls no rule looks inside.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

/// One CloudTrail event, as delivered in `{"Records":[...]}` files, JSON lines or EventBridge `detail`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record<'a> {
    #[serde(borrow, default)]
    pub event_version: Option<Cow<'a, str>>,
    /// As written; empty when the record has none. A record without a readable time is still judged, on
    /// its own (the pipeline reports it).
    #[serde(borrow, default)]
    pub event_time: Cow<'a, str>,
    #[serde(borrow)]
    pub event_source: Cow<'a, str>,
    #[serde(borrow)]
    pub event_name: Cow<'a, str>,
    #[serde(borrow, default)]
    pub aws_region: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "sourceIPAddress")]
    pub source_ip_address: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub user_agent: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub user_identity: UserIdentity<'a>,
    #[serde(borrow, default)]
    pub error_code: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub error_message: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub request_parameters: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub response_elements: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub additional_event_data: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "eventID")]
    pub event_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "requestID")]
    pub request_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub event_type: Option<Cow<'a, str>>,
    /// A JSON boolean, or the strings `"true"`/`"false"` (any case) some exports write: see [`flag`].
    #[serde(default, deserialize_with = "flag")]
    pub read_only: Option<bool>,
    #[serde(default, deserialize_with = "flag")]
    pub management_event: Option<bool>,
    #[serde(borrow, default)]
    pub recipient_account_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub event_category: Option<Cow<'a, str>>,
    /// The whole record as it appeared in the input; Sigma rules and evidence read arbitrary paths from it.
    /// Filled by the reader, not by serde.
    #[serde(skip)]
    pub raw: Option<&'a RawValue>,
}

/// `userIdentity`: who made the call.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity<'a> {
    #[serde(borrow, default, rename = "type")]
    pub identity_type: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub principal_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub arn: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub account_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub access_key_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub user_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub invoked_by: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub session_context: Option<SessionContext<'a>>,
    /// IAM Identity Center's portal, sign-in and token records name the directory user they act for here
    /// (`IdentityCenterUser`, and `Unknown` in newer sign-in records).
    #[serde(borrow, default)]
    pub on_behalf_of: Option<OnBehalfOf<'a>>,
    /// Which Identity Center access token a portal call used (an id, not the token).
    #[serde(borrow, default)]
    pub credential_id: Option<Cow<'a, str>>,
}

/// `userIdentity.onBehalfOf`: the Identity Center user a record acts for.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnBehalfOf<'a> {
    /// The identity store's id of the user.
    #[serde(borrow, default)]
    pub user_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub identity_store_arn: Option<Cow<'a, str>>,
}

/// `userIdentity.sessionContext`: temporary-credential details, including whether MFA was used.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionContext<'a> {
    #[serde(borrow, default)]
    pub session_issuer: Option<SessionIssuer<'a>>,
    #[serde(borrow, default)]
    pub attributes: Option<SessionAttributes<'a>>,
    /// `"1.0"` or `"2.0"`: the instance metadata service version that delivered these credentials. Only
    /// an EC2 instance profile's session carries it, wherever the credentials are used from.
    #[serde(borrow, default)]
    pub ec2_role_delivery: Option<Cow<'a, str>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionIssuer<'a> {
    #[serde(borrow, default, rename = "type")]
    pub issuer_type: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub arn: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub user_name: Option<Cow<'a, str>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionAttributes<'a> {
    /// CloudTrail writes this as the string `"true"`/`"false"`.
    #[serde(borrow, default)]
    pub mfa_authenticated: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub creation_date: Option<Cow<'a, str>>,
}

impl<'a> Record<'a> {
    /// Parses one record from its JSON text, keeping the text as [`Record::raw`].
    pub fn from_raw(raw: &'a RawValue) -> Result<Self, serde_json::Error> {
        let mut record: Record<'a> = serde_json::from_str(raw.get())?;
        record.raw = Some(raw);
        Ok(record)
    }

    /// The call failed (for example `AccessDenied`): an attempt, not a change.
    pub fn is_error(&self) -> bool {
        self.error_code.as_deref().is_some_and(|c| !c.is_empty())
    }

    /// The account the event belongs to: `recipientAccountId`, else the caller's account.
    pub fn account_id(&self) -> Option<&str> {
        self.recipient_account_id
            .as_deref()
            .or(self.user_identity.account_id.as_deref())
    }

    /// `requestParameters` parsed as a JSON value (`None` when absent or `null`).
    pub fn request_parameters(&self) -> Option<serde_json::Value> {
        parse_nested(self.request_parameters)
    }

    /// `responseElements` parsed as a JSON value (`None` when absent or `null`).
    pub fn response_elements(&self) -> Option<serde_json::Value> {
        parse_nested(self.response_elements)
    }

    /// `additionalEventData` parsed as a JSON value (`None` when absent or `null`).
    pub fn additional_event_data(&self) -> Option<serde_json::Value> {
        parse_nested(self.additional_event_data)
    }

    /// The whole record as a JSON value, for rules that read arbitrary paths (Sigma).
    pub fn to_value(&self) -> Option<serde_json::Value> {
        self.raw.and_then(|r| serde_json::from_str(r.get()).ok())
    }

    /// The field that nests deeper than `serde_json` reads (128 levels), if any: such a field cannot be
    /// parsed ([`Record::request_parameters`] and [`Record::to_value`] would answer `None`), so rules
    /// would silently miss the record. The scan counts and reports it instead. Costs one count of
    /// brackets; only a record with that many brackets is parsed to be sure.
    pub fn nested_too_deep(&self) -> Option<&'static str> {
        let raw = self.raw?.get();
        if !may_nest_too_deep(raw.as_bytes()) || !too_deep(raw) {
            return None;
        }
        let fields = [
            ("requestParameters", self.request_parameters),
            ("responseElements", self.response_elements),
            ("additionalEventData", self.additional_event_data),
        ];
        Some(
            fields
                .into_iter()
                .find(|(_, value)| value.is_some_and(|v| too_deep(v.get())))
                .map_or("the record", |(name, _)| name),
        )
    }

    /// A string field of `requestParameters`, e.g. `req_str("userName")`.
    pub fn request_str(&self, key: &str) -> Option<String> {
        self.request_parameters()?
            .get(key)?
            .as_str()
            .map(str::to_owned)
    }
}

impl UserIdentity<'_> {
    /// Whether the caller's session was MFA-authenticated; `None` when CloudTrail does not say.
    pub fn mfa_authenticated(&self) -> Option<bool> {
        let flag = self
            .session_context
            .as_ref()?
            .attributes
            .as_ref()?
            .mfa_authenticated
            .as_deref()?;
        Some(flag.eq_ignore_ascii_case("true"))
    }

    /// The caller's ARN, or for an assumed role the role it came from when that is all CloudTrail gives.
    pub fn best_arn(&self) -> Option<&str> {
        self.arn.as_deref().or_else(|| {
            self.session_context
                .as_ref()?
                .session_issuer
                .as_ref()?
                .arn
                .as_deref()
        })
    }

    pub fn is_root(&self) -> bool {
        self.identity_type.as_deref() == Some("Root")
    }
}

/// Nesting `serde_json` refuses to parse (its recursion limit), counted from the outer value.
const NESTING_LIMIT: usize = 127;

/// Whether `text` holds enough opening brackets to nest past the parser's limit: a cheap test that rules
/// out nearly every record, so only the rare one is parsed to be sure ([`Record::nested_too_deep`]).
pub(crate) fn may_nest_too_deep(text: &[u8]) -> bool {
    // Asked of every record a filtered scan keeps: a byte-wide count in chunks that cannot overflow it
    // compiles to SIMD compares and adds, where a search stopping at each of a record's dozens of
    // brackets restarts dozens of times.
    let mut open = 0;
    // 192 bytes: a whole number of vector steps, few enough that a byte counter cannot overflow.
    for chunk in text.chunks(192) {
        let mut count = 0u8;
        for &b in chunk {
            count += u8::from(b == b'{' || b == b'[');
        }
        open += usize::from(count);
        if open >= NESTING_LIMIT {
            return true;
        }
    }
    false
}

/// Whether parsing `text` into a value fails on its depth.
fn too_deep(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text)
        .err()
        .is_some_and(|err| err.to_string().starts_with("recursion limit exceeded"))
}

/// A CloudTrail flag (`readOnly`, `managementEvent`): a JSON boolean, `null`, or the same value written as
/// a string (`"True"`, `"false"`), as some exports and the Lake/Athena tables do. Any other value is an
/// invalid field.
fn flag<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag<'a> {
        Bool(bool),
        #[serde(borrow)]
        Text(Cow<'a, str>),
    }
    match Option::<Flag<'de>>::deserialize(deserializer)? {
        None => Ok(None),
        Some(Flag::Bool(value)) => Ok(Some(value)),
        Some(Flag::Text(text)) if text.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Flag::Text(text)) if text.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(Flag::Text(text)) => Err(serde::de::Error::custom(format!(
            "expected true or false, found `{text}`"
        ))),
    }
}

fn parse_nested(raw: Option<&RawValue>) -> Option<serde_json::Value> {
    let raw = raw?;
    match serde_json::from_str(raw.get()) {
        Ok(serde_json::Value::Null) | Err(_) => None,
        Ok(v) => Some(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bracket_count_agrees_with_a_search() {
        let searched = |t: &[u8]| memchr::memchr2_iter(b'{', b'[', t).count() >= NESTING_LIMIT;
        for text in [
            "{".repeat(126),
            "{".repeat(127),
            format!("{}{}", "x".repeat(250), "[".repeat(127)),
            format!("{}{}", "[{".repeat(200), "x".repeat(600)),
            "]}".repeat(300),
            String::new(),
            CREATE_USER.to_owned(),
        ] {
            assert_eq!(
                may_nest_too_deep(text.as_bytes()),
                searched(text.as_bytes()),
                "{text}"
            );
        }
    }

    #[test]
    fn nesting_too_deep_for_the_parser_is_named() {
        let nested = |depth: usize| {
            format!(
                r#"{{"eventTime":"2024-08-01T13:33:28Z","eventSource":"iam.amazonaws.com","eventName":"PutUserPolicy","userIdentity":{{"type":"IAMUser"}},"requestParameters":{{"userName":"a","policyDocument":{}{}}}}}"#,
                "[".repeat(depth),
                "]".repeat(depth)
            )
        };
        let deep = nested(200);
        let raw: &RawValue = serde_json::from_str(&deep).unwrap();
        let record = Record::from_raw(raw).unwrap();
        assert!(record.request_parameters().is_none());
        assert_eq!(record.nested_too_deep(), Some("requestParameters"));
        let shallow = nested(100);
        let raw: &RawValue = serde_json::from_str(&shallow).unwrap();
        let record = Record::from_raw(raw).unwrap();
        assert!(record.request_parameters().is_some());
        assert_eq!(record.nested_too_deep(), None);
    }

    const CREATE_USER: &str = r#"{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","principalId":"AROAX:alice","arn":"arn:aws:sts::111122223333:assumed-role/Admin/alice","accountId":"111122223333","accessKeyId":"ASIAX","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111122223333:role/Admin","userName":"Admin"},"attributes":{"creationDate":"2024-01-01T00:00:00Z","mfaAuthenticated":"true"}}},"eventTime":"2024-01-01T00:01:00Z","eventSource":"iam.amazonaws.com","eventName":"CreateUser","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.9","userAgent":"aws-cli/2","requestParameters":{"userName":"bob"},"responseElements":null,"eventID":"e1","readOnly":false,"recipientAccountId":"111122223333"}"#;

    #[test]
    fn parses_borrowed_record_with_session_mfa() {
        let raw: &RawValue = serde_json::from_str(CREATE_USER).unwrap();
        let rec = Record::from_raw(raw).unwrap();
        assert_eq!(rec.event_name, "CreateUser");
        assert!(matches!(rec.event_name, Cow::Borrowed(_)));
        assert_eq!(rec.user_identity.mfa_authenticated(), Some(true));
        assert_eq!(rec.request_str("userName").as_deref(), Some("bob"));
        assert!(rec.response_elements().is_none());
        assert_eq!(rec.account_id(), Some("111122223333"));
        assert!(!rec.is_error());
    }

    #[test]
    fn flags_written_as_strings_read_as_booleans() {
        let text = CREATE_USER.replace(
            r#""readOnly":false"#,
            r#""readOnly":"True","managementEvent":"false""#,
        );
        let raw: &RawValue = serde_json::from_str(&text).unwrap();
        let rec = Record::from_raw(raw).unwrap();
        assert_eq!(rec.read_only, Some(true));
        assert_eq!(rec.management_event, Some(false));
        let odd = CREATE_USER.replace(r#""readOnly":false"#, r#""readOnly":"maybe""#);
        let raw: &RawValue = serde_json::from_str(&odd).unwrap();
        let err = Record::from_raw(raw).unwrap_err();
        assert!(err.to_string().contains("`maybe`"), "{err}");
    }

    #[test]
    fn missing_event_name_is_an_error() {
        let raw: &RawValue =
            serde_json::from_str(r#"{"eventTime":"x","eventSource":"iam.amazonaws.com"}"#).unwrap();
        let err = Record::from_raw(raw).unwrap_err();
        assert!(err.to_string().contains("eventName"), "{err}");
    }
}
