//! Helpers shared by the CloudTrail rules: the common part of a finding, who the caller is, shell-safe
//! command arguments, the list of privileged AWS managed policies, and policy-document decoding.

use std::borrow::Cow;

use serde_json::Value;
use trailguard_event::Record;

use crate::finding::{Evidence, Finding, Resource, Severity};
use crate::meta::RuleMeta;
use crate::remediation::{FixAction, IdentityKind};
use crate::rule::{EventContext, FindingBuilder, Report};

/// A finding about `record` with everything rules share filled in: rule id/name/title, actor (ARN, type,
/// user, access key, source IP, user agent, MFA), account, region, event time/name/source/id, ATT&CK and
/// compliance ids, `fix.kb_entry` = the event name. When the call failed (`errorCode` set) the outcome is
/// an attempt, `severity` is lowered one step and the title starts with "Attempted:".
pub fn finding_for(meta: &'static RuleMeta, record: &Record<'_>, severity: Severity) -> Finding {
    FindingBuilder::event(meta, &EventContext::from_record(record), severity).build()
}

/// The id of a finding about `about` (a user, a principal and policy) in `record`: the rule, the event
/// (its id, else its time) and the subject, so one record reports each subject once, stably across runs.
pub fn finding_id(meta: &RuleMeta, record: &Record<'_>, about: &[&str]) -> String {
    let mut parts = vec![
        meta.code,
        record.event_id.as_deref().unwrap_or(&record.event_time),
    ];
    parts.extend_from_slice(about);
    Finding::stable_id(&parts)
}

/// [`finding_from_event`] for a rule whose signal is the failure itself (a refused sign-in, a refused MFA
/// code, a run of refusals): the rule's title and `severity` as judged, not an attempt's "Attempted:" one
/// step lower. The outcome still records the failure.
pub fn failure_finding_from_event(
    meta: &'static RuleMeta,
    event: &EventContext,
    severity: Severity,
) -> Finding {
    let mut finding = finding_from_event(meta, event, severity);
    finding.severity = severity;
    finding.title = meta.title.to_owned();
    finding
}

/// [`finding_for`] from an owned [`EventContext`] (sequence rules, after the input is gone).
pub fn finding_from_event(
    meta: &'static RuleMeta,
    event: &EventContext,
    severity: Severity,
) -> Finding {
    FindingBuilder::event(meta, event, severity).build()
}

pub use crate::rule::call_failure;

/// Whether the call failed; see [`call_failure`].
pub fn call_failed(record: &Record<'_>) -> bool {
    call_failure(record).is_some()
}

/// What a console sign-in record (`ConsoleLogin`) says: whether it succeeded, and whether MFA was used.
/// The one reading of these fields for every sign-in rule; each rule decides what an unknown means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignIn {
    /// `Some(true)` for `responseElements.ConsoleLogin` `Success` on a call that did not otherwise fail,
    /// `Some(false)` for `Failure` or the `Failed authentication` error message, `None` when the record
    /// says neither.
    pub succeeded: Option<bool>,
    /// `additionalEventData.MFAUsed` as written (`Yes`, `No`), for evidence.
    pub mfa_used_text: Option<String>,
}

impl SignIn {
    pub fn of(record: &Record<'_>) -> SignIn {
        let result = record
            .response_elements()
            .and_then(|r| r.get("ConsoleLogin")?.as_str().map(str::to_owned));
        let succeeded = match result.as_deref() {
            Some(r) if r.eq_ignore_ascii_case("Success") => Some(!call_failed(record)),
            Some(r) if r.eq_ignore_ascii_case("Failure") => Some(false),
            _ if record.error_message.as_deref() == Some("Failed authentication") => Some(false),
            _ => None,
        };
        let mfa_used_text = record
            .additional_event_data()
            .and_then(|d| d.get("MFAUsed")?.as_str().map(str::to_owned));
        SignIn {
            succeeded,
            mfa_used_text,
        }
    }

    /// Whether MFA was used: `Some(true)` only for `Yes` (either case), `Some(false)` for any other
    /// value, `None` when the record does not say (as the CIS 4.2 filter reads it, `MFAUsed != "Yes"`).
    pub fn mfa_used(&self) -> Option<bool> {
        self.mfa_used_text
            .as_deref()
            .map(|text| text.eq_ignore_ascii_case("yes"))
    }
}

/// Whether a call judged at `severity` is worth a finding, given whether it failed: a refused call is an
/// attempt one step lower ([`finding_for`]), and a refused call that would have been low is routine
/// noise (a console page probing what it may show), not an attempt anyone acts on.
pub fn worth_reporting(failed: bool, severity: Severity) -> bool {
    !failed || severity > Severity::Low
}

/// What a rule says about one call it reports as it is (no judgement beyond the event itself).
pub struct Change<'a> {
    /// What the caller did, past tense, e.g. ``created account `dev` ``.
    pub done: String,
    /// What the caller tried, infinitive, e.g. ``create account `dev` ``.
    pub tried: String,
    pub resource: Resource,
    /// Top-level `requestParameters` members copied into the evidence when present.
    pub evidence_keys: &'a [&'a str],
    /// The fix summary for a change that took effect.
    pub summary: String,
}

/// The finding of a rule that reports a call as it is: the caller and the change (or the attempt, when
/// [`call_failed`]), the named request members as evidence, and for a change that took effect the summary
/// and a manual fix action saying to confirm it.
pub fn change_finding(
    meta: &'static RuleMeta,
    record: &Record<'_>,
    severity: Severity,
    change: Change<'_>,
) -> Finding {
    let mut finding = finding_for(meta, record, severity);
    let who = describe_caller(&EventContext::from_record(record));
    let failed = call_failed(record);
    finding.message = if failed {
        format!("{who} tried to {}; the call failed.", change.tried)
    } else {
        format!("{who} {}.", change.done)
    };
    request_evidence(
        &mut finding,
        record.request_parameters().as_ref(),
        change.evidence_keys,
    );
    finding.resource = Some(change.resource);
    if failed {
        finding.fix.summary = "Nothing changed; find out why this principal tried to.".to_owned();
    } else {
        finding.fix.actions.push(FixAction::Manual {
            description: change.summary.clone(),
        });
        finding.fix.summary = change.summary;
    }
    finding
}

/// A call a watched rule judged worth reporting: how much it matters, what it did, and how to undo it.
pub struct Judged {
    pub severity: Severity,
    /// What the caller did, past tense, e.g. ``deleted CloudWatch alarm(s) `a` ``.
    pub done: String,
    /// What the caller tried, infinitive, for a refused call.
    pub tried: String,
    pub resource: Resource,
    /// The command that undoes it, offered only when the call took effect.
    pub undo: Option<String>,
}

impl Judged {
    /// A judged call with no command to undo it.
    pub fn new(severity: Severity, done: String, tried: String, resource: Resource) -> Self {
        Judged {
            severity,
            done,
            tried,
            resource,
            undo: None,
        }
    }
}

/// Pushes the finding for a judged call: none for a refused call that would be low
/// ([`worth_reporting`]); otherwise [`change_finding`] with the named request members as evidence, and
/// `judged.undo` as its command when the call took effect.
pub fn push_judged(
    meta: &'static RuleMeta,
    record: &Record<'_>,
    judged: Judged,
    evidence_keys: &[&str],
    summary: &str,
    out: &mut Report,
) {
    let failed = call_failed(record);
    if !worth_reporting(failed, judged.severity) {
        return;
    }
    let mut finding = change_finding(
        meta,
        record,
        judged.severity,
        Change {
            done: judged.done,
            tried: judged.tried,
            resource: judged.resource,
            evidence_keys,
            summary: summary.to_owned(),
        },
    );
    if !failed {
        finding.fix.commands = judged.undo.into_iter().collect();
    }
    out.push(finding);
}

/// A watched rule that judges each of its calls from the record and its request alone: calls AWS makes
/// are left out, and what [`CallJudgement::judge`] finds is reported by [`push_judged`]. Rules of that
/// shape (CT080, CT084, CT094, CT095, CT097, CT099, CT100, CT101, CT102) keep their table, judgement and
/// evidence here and call [`CallJudgement::check`] from their `check`.
pub struct CallJudgement {
    pub meta: &'static RuleMeta,
    /// The calls judged, as the rule's `watched()` returns them.
    pub watched: &'static [(&'static str, &'static str)],
    /// What the call did, from the record and its `requestParameters` (`null` when it has none); `None`
    /// when it weakened nothing.
    pub judge: fn(&Record<'_>, &Value) -> Option<Judged>,
    /// The request members shown as evidence.
    pub evidence_keys: &'static [&'static str],
    /// The fix's summary.
    pub summary: &'static str,
}

impl CallJudgement {
    pub fn check(&self, record: &Record<'_>, out: &mut Report) {
        if !event_in(record, self.watched) || made_by_aws(record) {
            return;
        }
        let params = record.request_parameters().unwrap_or(Value::Null);
        if let Some(judged) = (self.judge)(record, &params) {
            push_judged(
                self.meta,
                record,
                judged,
                self.evidence_keys,
                self.summary,
                out,
            );
        }
    }
}

/// Declares the rule of a [`CallJudgement`]: a unit struct whose `meta`, `watched` and `check` are the
/// judgement's, so that such a rule's file holds its table and judgement and nothing else.
///
/// ```text
/// call_judgement_rule!(
///     /// Flags web application firewalls taken off.
///     WafProtectionRemoved,
///     JUDGEMENT
/// );
/// ```
macro_rules! call_judgement_rule {
    ($(#[$doc:meta])* $rule:ident, $judgement:path) => {
        $(#[$doc])*
        #[derive(Debug, Default)]
        pub struct $rule;

        impl $crate::rule::CloudTrailRule for $rule {
            fn meta(&self) -> &'static $crate::meta::RuleMeta {
                $judgement.meta
            }

            fn watched(&self) -> &'static [(&'static str, &'static str)] {
                $judgement.watched
            }

            fn check(&self, record: &trailguard_event::Record<'_>, out: &mut $crate::rule::Report) {
                $judgement.check(record, out);
            }
        }
    };
}
pub(crate) use call_judgement_rule;

/// For a single-record rule that judges only a few of the calls its events carry (a policy name, a caller
/// type, an outcome): it declares [`crate::rule::ANY_EVENT`], so the knowledge-base entry of each event
/// need not show a record the rule fires on, and lists its events in a `WATCHED` table that its
/// [`crate::rule::CloudTrailRule::watched`] returns: the engine routes it those events only. This is the
/// check its `check` starts with, for a caller that hands it any record (tests, tools).
pub fn event_in(record: &Record<'_>, watched: &[(&str, &str)]) -> bool {
    watched
        .iter()
        .any(|&(source, name)| record.event_source == source && record.event_name == name)
}

/// Adds each of `keys` that `requestParameters` holds (and is not `null`) to the finding's evidence, as
/// `requestParameters.KEY`, in the order given.
pub fn request_evidence(finding: &mut Finding, params: Option<&Value>, keys: &[&str]) {
    for key in keys {
        if let Some(value) = params.and_then(|p| p.get(*key)).filter(|v| !v.is_null()) {
            finding
                .evidence
                .push(evidence(format!("requestParameters.{key}"), value.clone()));
        }
    }
}

/// Whether the call was refused because a principal its policy names does not exist: AWS validates every
/// principal of a trust or resource policy, so the refusal (`MalformedPolicyDocument`, `MalformedPolicy`
/// or an invalid-parameter error whose message names the principal) tells the caller the principal is
/// missing. Nothing was opened; the call is a probe ([CT065](super::principal_enumeration_burst)).
pub fn names_missing_principal(record: &Record<'_>) -> bool {
    let (Some(code), Some(message)) = (
        record.error_code.as_deref(),
        record.error_message.as_deref(),
    ) else {
        return false;
    };
    (code.starts_with("MalformedPolicy") || code.starts_with("InvalidParameter"))
        && message.to_ascii_lowercase().contains("principal")
}

/// An evidence item.
pub fn evidence(path: impl Into<String>, value: impl Into<Value>) -> Evidence {
    let path = path.into();
    // Record values are copied into every output and the store: never a credential (`crate::secrets`).
    let value = crate::secrets::redact(&path, value.into());
    Evidence { path, value }
}

/// `value` as one shell word for a command in a finding ([`crate::call::quote::shell_word_shown`], the
/// one shell quoting): borrowed when it needs no quoting. Record values are attacker-controlled, so a
/// copied command must never run more than itself.
pub fn sh(value: &str) -> Cow<'_, str> {
    let word = crate::call::quote::shell_word_shown(value);
    if word == value {
        Cow::Borrowed(value)
    } else {
        Cow::Owned(word)
    }
}

/// Whether an AWS service made the call on the principal's behalf (`userIdentity.invokedBy` set, as
/// when CloudFormation resolves a dynamic reference or the console relays a call).
pub fn relayed_by_service(record: &Record<'_>) -> bool {
    record
        .user_identity
        .invoked_by
        .as_deref()
        .is_some_and(|s| !s.is_empty())
}

/// Whether the caller is a session of a service-linked role (its issuer under the path
/// `/aws-service-role/`, such as Identity Center's `AWSServiceRoleForSSO`): only the AWS service the role
/// is linked to can assume it, so that service acted.
pub fn service_linked_session(record: &Record<'_>) -> bool {
    record
        .user_identity
        .session_context
        .as_ref()
        .and_then(|c| c.session_issuer.as_ref())
        .and_then(|issuer| issuer.arn.as_deref())
        .is_some_and(|arn| arn.contains(":role/aws-service-role/"))
}

/// Whether AWS made the call rather than a principal acting: relayed by a service, an `AWSService`
/// identity, or a service-linked role's session.
pub fn made_by_aws(record: &Record<'_>) -> bool {
    relayed_by_service(record)
        || record.user_identity.identity_type.as_deref() == Some("AWSService")
        || service_linked_session(record)
}

/// A grouping key for the caller: its ARN, else principal id, else access key, else `unknown`.
pub fn caller_key<'r>(record: &'r Record<'_>) -> &'r str {
    let identity = &record.user_identity;
    identity
        .best_arn()
        .or(identity.principal_id.as_deref())
        .or(identity.access_key_id.as_deref())
        .unwrap_or("unknown")
}

/// The IAM Identity Center user a portal, sign-in or token record acts for: the identity store user id in
/// `userIdentity.onBehalfOf.userId`, else the `principalId` older records carry it in. Only for the identity
/// types Identity Center writes for its users (`IdentityCenterUser`, `Unknown`): a role session's principal
/// id is no user id.
pub fn identity_center_user<'r>(record: &'r Record<'_>) -> Option<&'r str> {
    let identity = &record.user_identity;
    if !matches!(
        identity.identity_type.as_deref(),
        Some("IdentityCenterUser" | "Unknown")
    ) {
        return None;
    }
    identity
        .on_behalf_of
        .as_ref()
        .and_then(|o| o.user_id.as_deref())
        .or(identity.principal_id.as_deref())
        .filter(|id| !id.is_empty())
}

/// The caller's access key when it is a long-term one (`AKIA…`, an IAM user's or the root user's), which
/// a person or a forgotten script holds, rather than the session keys (`ASIA…`) of a role or of
/// `GetSessionToken`.
pub fn long_term_key<'r>(record: &'r Record<'_>) -> Option<&'r str> {
    record
        .user_identity
        .access_key_id
        .as_deref()
        .filter(|key| key.starts_with("AKIA"))
}

/// The ARN of the Lambda function a request names: `functionName` may be a name, a partial ARN
/// (`123456789012:function:name`) or a full ARN, with or without a qualifier.
pub fn lambda_function_arn(record: &Record<'_>, name: &str, account: Option<&str>) -> String {
    if name.starts_with("arn:") {
        return name.to_owned();
    }
    let partition = record
        .user_identity
        .arn
        .as_deref()
        .and_then(|arn| arn.split(':').nth(1))
        .filter(|p| !p.is_empty())
        .unwrap_or("aws");
    let region = record.aws_region.as_deref().unwrap_or("REGION");
    if name.contains(":function:") {
        return format!("arn:{partition}:lambda:{region}:{name}");
    }
    format!(
        "arn:{partition}:lambda:{region}:{}:function:{name}",
        account.unwrap_or("ACCOUNT_ID")
    )
}

/// The caller's own IAM user name when the caller is an IAM user.
pub fn caller_iam_user<'r>(record: &'r Record<'_>) -> Option<&'r str> {
    let identity = &record.user_identity;
    if identity.identity_type.as_deref() == Some("IAMUser") {
        identity.user_name.as_deref().or_else(|| {
            identity
                .arn
                .as_deref()
                .and_then(|arn| arn.rsplit_once(":user/"))
                .map(|(_, path_name)| path_name.rsplit('/').next().unwrap_or(path_name))
        })
    } else {
        None
    }
}

/// The `userName` CloudTrail writes in the request of a call the root user makes on its own credentials
/// (seen on `EnableMFADevice` in AWS's sign-in event examples).
pub const ROOT_USER_NAME: &str = "AWS ROOT USER";

/// Whether `user_name`, from a request's `userName`, names the caller itself: its own IAM user name, or
/// the root user's placeholder when the root user calls.
pub fn names_the_caller(record: &Record<'_>, user_name: &str) -> bool {
    caller_iam_user(record) == Some(user_name)
        || (record.user_identity.identity_type.as_deref() == Some("Root")
            && user_name == ROOT_USER_NAME)
}

/// The user a call acts on (`requestParameters.userName`) when it is not the caller itself
/// ([`names_the_caller`]): what the rules on calls "for another user" judge. `None` without a
/// `userName`, which makes the call act on the caller.
pub fn other_user_named(record: &Record<'_>, params: Option<&Value>) -> Option<String> {
    request_field(params, "userName").filter(|user| !names_the_caller(record, user))
}

/// The caller's role session when the caller is an assumed role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleSession<'r> {
    pub role_name: &'r str,
    pub session_name: &'r str,
    /// The role is one IAM Identity Center manages (`AWSReservedSSO_...` under
    /// `aws-reserved/sso.amazonaws.com/`): AWS sets its session name to the Identity Center user name, so the
    /// name says who signed in. For any other role the name is whatever the caller of `AssumeRole` chose.
    pub identity_center: bool,
}

/// The role and session names of an assumed-role ARN, `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
pub fn assumed_role_parts(arn: &str) -> Option<(&str, &str)> {
    arn.split_once(":assumed-role/")?.1.split_once('/')
}

/// `service:EventName` of the call (`iam:ListUsers`), built without `format!`: burst rules make one for
/// every call they count.
pub fn service_api(record: &Record<'_>) -> String {
    let service = record.event_source.trim_end_matches(".amazonaws.com");
    let mut api = String::with_capacity(service.len() + 1 + record.event_name.len());
    api.push_str(service);
    api.push(':');
    api.push_str(&record.event_name);
    api
}

/// The caller's role session, read from `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
pub fn role_session<'r>(record: &'r Record<'_>) -> Option<RoleSession<'r>> {
    let identity = &record.user_identity;
    if identity.identity_type.as_deref() != Some("AssumedRole") {
        return None;
    }
    let (role_name, session_name) = assumed_role_parts(identity.arn.as_deref()?)?;
    let issuer = identity
        .session_context
        .as_ref()
        .and_then(|c| c.session_issuer.as_ref())
        .and_then(|i| i.arn.as_deref())
        .unwrap_or_default();
    Some(RoleSession {
        role_name,
        session_name,
        identity_center: role_name.starts_with("AWSReservedSSO_")
            && (issuer.is_empty() || issuer.contains("/aws-reserved/sso.amazonaws.com/")),
    })
}

/// The inline policy that denies every session issued before `cutoff` (an RFC 3339 time), as IAM's
/// "Revoke active sessions" writes it: sessions started later, and the instance or person fetching fresh
/// credentials, are not affected.
pub fn deny_sessions_issued_before(cutoff: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Action":"*","Resource":"*","Condition":{{"DateLessThan":{{"aws:TokenIssueTime":"{cutoff}"}}}}}}]}}"#
    )
}

/// Whether `name` is an EC2 instance id: `i-` and 8 (older) or 17 hex digits. AWS writes them in lower
/// case; anonymised logs (Stratus Red Team's detonation logs) mix cases, and reading those as instances
/// costs nothing, since a session name is no proof of an instance either way.
pub fn is_instance_id(name: &str) -> bool {
    name.strip_prefix("i-").is_some_and(|hex| {
        matches!(hex.len(), 8 | 17) && hex.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// The caller's role session when its name is `user_name`, the IAM user a call acts on. Through IAM
/// Identity Center that is the same person managing their own IAM user (AWS sets the session name to the
/// person's user name); through any other role the name was set by an identity provider or by whoever
/// assumed it, which the record does not tell apart, so it proves nothing. The rules on calls "for another
/// user" judge the first as the user's own (CT009 the second one step lower) and say which in the message
/// ([`RoleSession::same_name_note`]) and the evidence ([`RoleSession::same_name_evidence`]).
pub fn session_named_like<'r>(record: &'r Record<'_>, user_name: &str) -> Option<RoleSession<'r>> {
    role_session(record).filter(|s| s.session_name == user_name)
}

impl RoleSession<'_> {
    /// A sentence for the message of a finding about a call on the IAM user this session is named like
    /// ([`session_named_like`]), starting with a space.
    pub fn same_name_note(&self) -> String {
        if self.identity_center {
            " The caller signed in through IAM Identity Center as the same name, so this is most likely that \
             person managing their own IAM user; confirm they still need it."
                .to_owned()
        } else {
            format!(
                " The session name `{}` equals the user name, but it was set by an identity provider or by \
                 whoever assumed role `{}`, and the record does not show which, so it does not prove the \
                 caller is that user.",
                self.session_name, self.role_name
            )
        }
    }

    /// The evidence item saying the session name matched the target user, and whether Identity Center set it.
    pub fn same_name_evidence(&self) -> Evidence {
        evidence(
            "userIdentity.sessionName",
            serde_json::json!({
                "sessionName": self.session_name,
                "matchesTargetUser": true,
                "identityCenterSession": self.identity_center,
            }),
        )
    }
}

/// A short human description of the caller, e.g. ``IAM user `alice` from 203.0.113.9 (no MFA)``.
pub fn describe_caller(event: &EventContext) -> String {
    let actor = &event.actor;
    let kind = match actor.identity_type.as_deref() {
        Some("Root") => "the root user".to_owned(),
        Some("IAMUser") => format!(
            "IAM user `{}`",
            actor.user_name.as_deref().unwrap_or("unknown")
        ),
        Some("AssumedRole") => format!(
            "role session `{}`",
            actor.arn.as_deref().unwrap_or("unknown")
        ),
        Some("FederatedUser") => format!(
            "federated user `{}`",
            actor.arn.as_deref().unwrap_or("unknown")
        ),
        Some("AWSService") => "an AWS service".to_owned(),
        Some("IdentityCenterUser") => format!(
            "Identity Center user `{}`",
            actor.user_name.as_deref().unwrap_or("unknown")
        ),
        // Identity Center's portal sign-ins are `Unknown` with a user name and no ARN.
        Some(other) => format!(
            "{other} principal `{}`",
            actor
                .arn
                .as_deref()
                .or(actor.user_name.as_deref())
                .unwrap_or("unknown")
        ),
        None => format!("`{}`", actor.arn.as_deref().unwrap_or("an unknown caller")),
    };
    let from = actor
        .source_ip
        .as_deref()
        .map(|ip| format!(" from {ip}"))
        .unwrap_or_default();
    let mfa = match actor.mfa {
        Some(true) => " (MFA)",
        Some(false) => " (no MFA)",
        None => "",
    };
    format!("{kind}{from}{mfa}")
}

/// `--region R` for regional services (CloudTrail, Access Analyzer), empty when unknown.
pub fn region_arg(record: &Record<'_>) -> String {
    record
        .aws_region
        .as_deref()
        .map(|r| format!(" --region {}", sh(r)))
        .unwrap_or_default()
}

/// A string field of `requestParameters` (owned; the nested document is parsed on demand).
pub fn request_field(params: Option<&Value>, key: &str) -> Option<String> {
    params?.get(key)?.as_str().map(str::to_owned)
}

/// A member of a request object named as CloudTrail writes most requests (`camelCase`), or as the API
/// documents it (`PascalCase`), which some services' records and some producers use: Identity Center,
/// EC2's wrapped `<Operation>Request` objects, the Account Management API. The `camelCase` one first.
pub fn member_either_case<'v>(value: Option<&'v Value>, camel: &str) -> Option<&'v Value> {
    let value = value?;
    value.get(camel).or_else(|| {
        let mut pascal = camel.to_owned();
        pascal[..1].make_ascii_uppercase();
        value.get(&pascal)
    })
}

/// A request member, whether CloudTrail wrote the request flat (`httpTokens`) or wrapped in `wrapper`
/// (`<Operation>Request`) with the API's own names (`HttpTokens`): EC2 records use both.
pub fn ec2_request_member<'p>(params: &'p Value, wrapper: &str, camel: &str) -> Option<&'p Value> {
    [Some(params), params.get(wrapper)]
        .into_iter()
        .find_map(|object| member_either_case(object, camel))
}

/// [`member_either_case`] when it is a string.
pub fn member_str_either_case(value: Option<&Value>, camel: &str) -> Option<String> {
    member_either_case(value, camel)?
        .as_str()
        .map(str::to_owned)
}

/// Whether a request flag is on: `true`, or the string `"true"` that some clients and exports write.
pub fn flag_set(value: Option<&Value>) -> bool {
    value.is_some_and(|v| v.as_bool() == Some(true) || v.as_str() == Some("true"))
}

/// The caller's session MFA flag as evidence (`userIdentity.sessionContext.attributes.mfaAuthenticated`),
/// when the record carries one.
pub fn session_mfa_evidence(record: &Record<'_>) -> Option<Evidence> {
    let mfa = record.user_identity.mfa_authenticated()?;
    Some(evidence(
        "userIdentity.sessionContext.attributes.mfaAuthenticated",
        mfa.to_string(),
    ))
}

/// Whether the call was made with a console session's credentials: the top-level
/// `sessionCredentialFromConsole`, which AWS writes (as the string `"true"`) only when it holds. An IAM
/// user's temporary key (`ASIA…`) without it came from `GetSessionToken` instead. Read from the parsed
/// record's text: the typed record leaves the member out.
pub fn session_from_console(record: &Record<'_>) -> bool {
    #[derive(serde::Deserialize)]
    struct Console {
        #[serde(rename = "sessionCredentialFromConsole")]
        flag: Option<Value>,
    }
    record
        .raw
        .and_then(|raw| serde_json::from_str::<Console>(raw.get()).ok())
        .is_some_and(|console| flag_set(console.flag.as_ref()))
}

/// The key sequence rules meet on for an IAM user or group name in the record's account: `ACCOUNT/NAME`,
/// so one name in two accounts of a scan stays apart. [`account_scoped_name`] reads the name back.
pub fn account_scoped(record: &Record<'_>, name: &str) -> String {
    format!("{}/{name}", record.account_id().unwrap_or(""))
}

/// The name in an [`account_scoped`] key (IAM user and group names hold no `/`).
pub fn account_scoped_name(key: &str) -> &str {
    key.split_once('/').map_or(key, |(_, name)| name)
}

/// The ARN of IAM user `name` in `account` (without path: CloudTrail's requestParameters carry none).
pub fn user_arn(account: Option<&str>, name: &str) -> String {
    identity_arn(IdentityKind::User, account, name)
}

/// The ARN of IAM user, group or role `name` in `account` (without path).
pub fn identity_arn(kind: IdentityKind, account: Option<&str>, name: &str) -> String {
    format!(
        "arn:aws:iam::{}:{}/{name}",
        account.unwrap_or("ACCOUNT_ID"),
        kind.as_str()
    )
}

/// The account id an AWS principal names (`arn:aws:iam::123:root`, `arn:aws:iam::123:role/x`, `123`).
pub fn principal_account(value: &str) -> Option<&str> {
    if value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(value);
    }
    let mut parts = value.split(':');
    let (Some("arn"), _, Some(_service), _, Some(account)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    Some(account).filter(|a| !a.is_empty())
}

/// Who signed in to the console, as a `ConsoleLogin` and the calls of its session both name it:
/// `ACCOUNT/user/NAME` for an IAM user, `ACCOUNT/root`, or `ACCOUNT/` and a federated session's ARN.
/// `None` for any other caller.
pub fn console_signer(record: &Record<'_>) -> Option<String> {
    let identity = &record.user_identity;
    let who = match identity.identity_type.as_deref() {
        Some("IAMUser") => format!("user/{}", identity.user_name.as_deref()?),
        Some("Root") => "root".to_owned(),
        Some("AssumedRole" | "FederatedUser") => identity.arn.as_deref()?.to_owned(),
        _ => return None,
    };
    Some(format!("{}/{who}", record.account_id().unwrap_or("")))
}

/// The network of an address, as the rules that compare places read it without address-ownership data:
/// an IPv4 `/16` or an IPv6 `/48` (two addresses of one office or one home fall in one, a laptop and an
/// attacker's server do not). `None` for what is not an address (`AWS Internal`, a service name).
pub fn network_of(address: &str) -> Option<String> {
    match address.parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            Some(format!("{a}.{b}.0.0/16"))
        }
        std::net::IpAddr::V6(v6) => {
            let [a, b, c, ..] = v6.segments();
            Some(format!("{a:x}:{b:x}:{c:x}::/48"))
        }
    }
}

/// Whether two addresses are both IPv4 or both IPv6: only those are compared, as a dual-stack machine
/// uses both.
pub fn same_address_family(a: &str, b: &str) -> bool {
    a.contains(':') == b.contains(':')
}

/// IAM user `name` of `account` as a finding's resource.
pub fn user_resource(account: Option<&str>, name: &str) -> Resource {
    identity_resource(IdentityKind::User, account, name)
}

/// The IAM user, group or role `name` of `account` as a finding's resource: `AwsIamUser`, `AwsIamGroup`
/// or `AwsIamRole`, with its [`identity_arn`].
pub fn identity_resource(kind: IdentityKind, account: Option<&str>, name: &str) -> Resource {
    let resource_kind = match kind {
        IdentityKind::User => "AwsIamUser",
        IdentityKind::Group => "AwsIamGroup",
        IdentityKind::Role => "AwsIamRole",
    };
    Resource {
        kind: resource_kind.to_owned(),
        id: identity_arn(kind, account, name),
        name: Some(name.to_owned()),
    }
}

/// The IAM user, role or group a request names, by `userName`, then `roleName`, then `groupName`.
pub fn named_identity(params: Option<&Value>) -> Option<(IdentityKind, String)> {
    [
        (IdentityKind::User, "userName"),
        (IdentityKind::Role, "roleName"),
        (IdentityKind::Group, "groupName"),
    ]
    .into_iter()
    .find_map(|(kind, key)| request_field(params, key).map(|name| (kind, name)))
}

/// The root user of the record's account as a finding's resource (a sign-in by root).
pub fn root_user_resource(record: &Record<'_>) -> Resource {
    Resource {
        kind: "AwsAccount".to_owned(),
        id: record.account_id().unwrap_or("unknown").to_owned(),
        name: Some("root".to_owned()),
    }
}

/// `arn:aws:SERVICE:REGION:ACCOUNT:RESOURCE` for a resource in the record's region and account, with
/// `REGION` and `ACCOUNT_ID` standing in for what the record does not say.
pub fn regional_arn(record: &Record<'_>, service: &str, resource: &str) -> String {
    format!(
        "arn:aws:{service}:{}:{}:{resource}",
        record.aws_region.as_deref().unwrap_or("REGION"),
        record.account_id().unwrap_or("ACCOUNT_ID")
    )
}

/// The ARN of SageMaker notebook instance `name` in the record's account and region (ARNs hold the name
/// in lower case).
pub fn notebook_instance_arn(record: &Record<'_>, name: &str) -> String {
    regional_arn(
        record,
        "sagemaker",
        &format!("notebook-instance/{}", name.to_ascii_lowercase()),
    )
}

/// EC2 instance `id` of the record's account and region as a finding's resource.
pub fn instance_resource(record: &Record<'_>, id: &str) -> Resource {
    Resource {
        kind: "AwsEc2Instance".to_owned(),
        id: regional_arn(record, "ec2", &format!("instance/{id}")),
        name: Some(id.to_owned()),
    }
}

/// An AWS managed policy that grants broad power when attached to a principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrivilegedPolicy {
    pub name: &'static str,
    pub severity: Severity,
    pub why: &'static str,
}

/// AWS managed policies whose attachment is itself a privilege grant worth a finding: full admin, near
/// admin, or control over identities, credentials or logging. Matched on the managed policy name under
/// `arn:<partition>:iam::aws:policy/` (any path, e.g. `job-function/`).
const PRIVILEGED_POLICIES: &[PrivilegedPolicy] = &[
    PrivilegedPolicy {
        name: "AdministratorAccess",
        severity: Severity::Critical,
        why: "full access to every service and resource",
    },
    PrivilegedPolicy {
        name: "PowerUserAccess",
        severity: Severity::High,
        why: "full access to every service except IAM and Organizations user management",
    },
    PrivilegedPolicy {
        name: "IAMFullAccess",
        severity: Severity::Critical,
        why: "full control of IAM, enough to grant itself any permission",
    },
    PrivilegedPolicy {
        name: "AWSOrganizationsFullAccess",
        severity: Severity::High,
        why: "full control of the organization, its accounts and policies",
    },
    PrivilegedPolicy {
        name: "AdministratorAccess-Amplify",
        severity: Severity::High,
        why: "broad write access including IAM role creation and PassRole",
    },
    PrivilegedPolicy {
        name: "AdministratorAccess-AWSElasticBeanstalk",
        severity: Severity::High,
        why: "broad write access including IAM PassRole and instance profiles",
    },
    PrivilegedPolicy {
        name: "SystemAdministrator",
        severity: Severity::High,
        why: "wide infrastructure control including PassRole",
    },
    PrivilegedPolicy {
        name: "SecurityAudit",
        severity: Severity::Low,
        why: "read access to the configuration of every service (reconnaissance)",
    },
    PrivilegedPolicy {
        name: "AWSCloudTrail_FullAccess",
        severity: Severity::High,
        why: "can stop, delete and reconfigure the audit trail",
    },
    PrivilegedPolicy {
        name: "AWSKeyManagementServicePowerUser",
        severity: Severity::Medium,
        why: "can create and manage KMS keys and their policies",
    },
    PrivilegedPolicy {
        name: "IAMUserSSHKeys",
        severity: Severity::Low,
        why: "can manage SSH keys for CodeCommit",
    },
    PrivilegedPolicy {
        name: "AWSSSOMasterAccountAdministrator",
        severity: Severity::High,
        why: "administers IAM Identity Center for the organization",
    },
];

/// The privileged AWS managed policy `policy_arn` names, if any.
pub fn privileged_policy(policy_arn: &str) -> Option<&'static PrivilegedPolicy> {
    let (_, rest) = policy_arn.split_once(":iam::aws:policy/")?;
    let name = rest.rsplit('/').next().unwrap_or(rest);
    PRIVILEGED_POLICIES.iter().find(|p| p.name == name)
}

/// The ARN of the customer managed policy a `CreatePolicy` record made: `responseElements.policy.arn`, or,
/// when the response is not recorded (a refused call), the ARN built from the request's `path` and
/// `policyName` in the record's account.
pub fn created_policy_arn(record: &Record<'_>, params: Option<&Value>) -> String {
    record
        .response_elements()
        .and_then(|r| r.pointer("/policy/arn")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| {
            let path = request_field(params, "path").unwrap_or_else(|| "/".to_owned());
            let name = request_field(params, "policyName").unwrap_or_else(|| "unknown".to_owned());
            format!(
                "arn:aws:iam::{}:policy{path}{name}",
                record.account_id().unwrap_or("ACCOUNT_ID")
            )
        })
}

/// The text of a policy document as CloudTrail records it in `requestParameters`: a JSON string holding
/// the document (plain or URL-encoded), or, in some producers, the document object itself.
pub fn policy_text(params: Option<&Value>, key: &str) -> Option<String> {
    match params?.get(key)? {
        Value::String(text) => Some(text.clone()),
        Value::Object(_) => params?.get(key).map(Value::to_string),
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Test support: real-shaped CloudTrail records and a one-rule runner.

    use serde_json::value::RawValue;
    use trailguard_event::Record;

    use crate::engine::Engine;
    use crate::finding::Finding;
    use crate::rule::{CloudTrailRule, SequenceRule};

    pub const ACCOUNT: &str = "229654561268";

    /// An IAM user calling with long-term keys, as in the Stratus Red Team detonation logs.
    pub const IAM_USER: &str = r#"{"accessKeyId":"AKIAOZUDECYXYM4ONAN4","accountId":"229654561268","arn":"arn:aws:iam::229654561268:user/christophe","principalId":"AIDAZ49AHUAJ9OEK73O5","type":"IAMUser","userName":"christophe"}"#;
    /// A role session with MFA.
    pub const ASSUMED_ROLE_MFA: &str = r#"{"type":"AssumedRole","principalId":"AROAHKPEEQ9BHUOX4D93T:alice","arn":"arn:aws:sts::229654561268:assumed-role/Admin/alice","accountId":"229654561268","accessKeyId":"ASIA36EV31F1RB3OA8IG","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAHKPEEQ9BHUOX4D93T","arn":"arn:aws:iam::229654561268:role/Admin","accountId":"229654561268","userName":"Admin"},"webIdFederationData":{},"attributes":{"creationDate":"2024-08-01T13:00:00Z","mfaAuthenticated":"true"}}}"#;
    /// The root user without MFA (console session).
    pub const ROOT: &str = r#"{"type":"Root","principalId":"229654561268","arn":"arn:aws:iam::229654561268:root","accountId":"229654561268","accessKeyId":"ASIAROOTSESSION00001","sessionContext":{"sessionIssuer":{},"webIdFederationData":{},"attributes":{"creationDate":"2024-08-01T13:00:00Z","mfaAuthenticated":"false"}}}"#;
    /// A federated user (GetFederationToken session).
    pub const FEDERATED: &str = r#"{"type":"FederatedUser","principalId":"229654561268:ops","arn":"arn:aws:sts::229654561268:federated-user/ops","accountId":"229654561268","accessKeyId":"ASIASTJKC5GCM7ZE6LUP","sessionContext":{"sessionIssuer":{"type":"IAMUser","principalId":"AIDAN7SEM6PEVTNQR8M4","arn":"arn:aws:iam::229654561268:user/ops","accountId":"229654561268","userName":"ops"},"webIdFederationData":{},"attributes":{"creationDate":"2024-08-01T13:00:00Z","mfaAuthenticated":"false"}}}"#;

    /// A CloudTrail management event with every field a real one has.
    #[derive(Debug, Clone)]
    pub struct TestEvent {
        pub source: String,
        pub name: String,
        pub identity: String,
        pub request: String,
        pub response: String,
        pub error: Option<(String, String)>,
        pub additional: Option<String>,
        pub time: String,
        pub id: String,
        pub region: String,
        pub ip: String,
        pub event_type: String,
        pub read_only: bool,
        /// `None`: the AWS CLI's agent for the call.
        pub user_agent: Option<String>,
    }

    impl TestEvent {
        pub fn new(source: &str, name: &str) -> TestEvent {
            TestEvent {
                source: source.to_owned(),
                name: name.to_owned(),
                identity: IAM_USER.to_owned(),
                request: "null".to_owned(),
                response: "null".to_owned(),
                error: None,
                additional: None,
                time: "2024-08-01T13:33:28Z".to_owned(),
                id: format!("0b7c1a53-{:08x}-4e6f-9d1c-5a2f3e4d6c7b", fxhash(name)),
                region: "us-east-1".to_owned(),
                ip: "198.51.100.23".to_owned(),
                read_only: false,
                event_type: "AwsApiCall".to_owned(),
                user_agent: None,
            }
        }
        pub fn iam(name: &str) -> TestEvent {
            TestEvent::new("iam.amazonaws.com", name)
        }
        pub fn request(mut self, json: &str) -> Self {
            self.request = json.to_owned();
            self
        }
        pub fn response(mut self, json: &str) -> Self {
            self.response = json.to_owned();
            self
        }
        pub fn identity(mut self, json: &str) -> Self {
            self.identity = json.to_owned();
            self
        }
        pub fn additional(mut self, json: &str) -> Self {
            self.additional = Some(json.to_owned());
            self
        }
        pub fn time(mut self, time: &str) -> Self {
            self.time = time.to_owned();
            self
        }
        pub fn id(mut self, id: &str) -> Self {
            self.id = id.to_owned();
            self
        }
        pub fn read_only(mut self, read_only: bool) -> Self {
            self.read_only = read_only;
            self
        }
        pub fn source_ip(mut self, ip: &str) -> Self {
            self.ip = ip.to_owned();
            self
        }
        pub fn event_type(mut self, event_type: &str) -> Self {
            self.event_type = event_type.to_owned();
            self
        }
        pub fn user_agent(mut self, agent: &str) -> Self {
            self.user_agent = Some(agent.to_owned());
            self
        }
        /// The call was refused: `AccessDenied`, no response, as CloudTrail writes it.
        pub fn denied(self) -> Self {
            self.denied_on("*")
        }
        /// [`TestEvent::denied`], with the resource the refusal names (a role's ARN for `AssumeRole`).
        pub fn denied_on(mut self, resource: &str) -> Self {
            let action = format!(
                "{}:{}",
                self.source.trim_end_matches(".amazonaws.com"),
                self.name
            );
            self.error = Some((
                "AccessDenied".to_owned(),
                format!("User: arn:aws:iam::229654561268:user/christophe is not authorized to perform: {action} on resource: {resource} because no identity-based policy allows the {action} action"),
            ));
            self.response = "null".to_owned();
            self
        }
        pub fn json(&self) -> String {
            let error = self
                .error
                .as_ref()
                .map(|(code, message)| {
                    format!(
                        r#""errorCode":{},"errorMessage":{},"#,
                        serde_json::Value::from(code.as_str()),
                        serde_json::Value::from(message.as_str())
                    )
                })
                .unwrap_or_default();
            let additional = self
                .additional
                .as_ref()
                .map(|a| format!(r#""additionalEventData":{a},"#))
                .unwrap_or_default();
            format!(
                r#"{{{additional}"awsRegion":"{region}","eventCategory":"Management",{error}"eventID":"{id}","eventName":"{name}","eventSource":"{source}","eventTime":"{time}","eventType":"{event_type}","eventVersion":"1.09","managementEvent":true,"readOnly":{read_only},"recipientAccountId":"{ACCOUNT}","requestID":"6f1e2d3c-4b5a-4978-8c6d-5e4f3a2b1c0d","requestParameters":{request},"responseElements":{response},"sourceIPAddress":"{ip}","tlsDetails":{{"cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"{host}","tlsVersion":"TLSv1.3"}},"userAgent":{agent},"userIdentity":{identity}}}"#,
                region = self.region,
                ip = self.ip,
                read_only = self.read_only,
                id = self.id,
                name = self.name,
                source = self.source,
                time = self.time,
                event_type = self.event_type,
                request = self.request,
                response = self.response,
                host = self.source,
                agent = serde_json::Value::from(self.user_agent.clone().unwrap_or_else(|| format!(
                    "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0 exe/x86_64.ubuntu.22 prompt/off command/{}",
                    self.name.to_ascii_lowercase()
                ))),
                identity = self.identity,
            )
        }
    }

    fn fxhash(text: &str) -> u32 {
        text.bytes().fold(0x811c_9dc5_u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        })
    }

    /// Parses `json` as a record and runs it through `f`.
    pub fn with_record<T>(json: &str, f: impl FnOnce(&Record<'_>) -> T) -> T {
        let raw: &RawValue = serde_json::from_str(json).expect("test record is JSON");
        let record = Record::from_raw(raw).expect("test record parses");
        f(&record)
    }

    /// Runs one single-record rule on one event.
    pub fn check(rule: &dyn CloudTrailRule, event: &TestEvent) -> Vec<Finding> {
        let json = event.json();
        with_record(&json, |record| {
            let declared = rule.meta().events.iter().any(|&pair| {
                crate::rule::EventPattern::of(pair)
                    .is_some_and(|p| p.matches(&record.event_source, &record.event_name))
            });
            assert!(declared, "rule does not declare {}", record.event_name);
            let mut out = crate::rule::Report::default();
            rule.check(record, &mut out);
            out.into_findings()
        })
    }

    /// Runs events through a whole engine made of one sequence rule.
    /// Deals `calls` (already in the order to test) to two folds made by `fold`, every third to the
    /// second, as two workers would see them; merges the second into the first and finishes it.
    pub fn fold_dealt_to_two(
        calls: Vec<crate::rule::Observation>,
        fold: impl Fn() -> Box<dyn crate::rule::SequenceFold>,
    ) -> (crate::rule::Report, Option<crate::rule::StateLimit>) {
        let (mut first, mut second) = (fold(), fold());
        for (i, call) in calls.into_iter().enumerate() {
            if i % 3 == 0 {
                second.add(crate::rule::Observed::from(call));
            } else {
                first.add(crate::rule::Observed::from(call));
            }
        }
        first.merge(second);
        let mut report = crate::rule::Report::default();
        let limit = first.finish(&mut report);
        (report, limit)
    }

    pub fn run_sequence(rule: Box<dyn SequenceRule>, events: &[TestEvent]) -> Vec<Finding> {
        let texts: Vec<String> = events.iter().map(TestEvent::json).collect();
        run_sequence_texts(rule, &texts)
    }

    /// [`run_sequence`] over records given as text, for members [`TestEvent`] does not write.
    pub fn run_sequence_texts(rule: Box<dyn SequenceRule>, texts: &[String]) -> Vec<Finding> {
        let engine = Engine::from_rules(Vec::new(), vec![rule]);
        let mut worker = engine.new_worker();
        for json in texts {
            with_record(json, |record| worker.visit(record));
        }
        engine.finish(vec![worker])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caller_and_same_named_sessions_are_told_apart() {
        use testing::{with_record, TestEvent, ASSUMED_ROLE_MFA, ROOT};
        let by = |identity: &str| TestEvent::iam("EnableMFADevice").identity(identity).json();
        // The default test caller is IAM user `christophe`.
        with_record(&TestEvent::iam("EnableMFADevice").json(), |record| {
            assert!(names_the_caller(record, "christophe"));
            assert!(!names_the_caller(record, ROOT_USER_NAME));
            let params = |user: &str| Some(serde_json::json!({ "userName": user }));
            assert_eq!(
                other_user_named(record, params("christophe").as_ref()),
                None
            );
            assert_eq!(
                other_user_named(record, params("carol").as_ref()).as_deref(),
                Some("carol")
            );
            assert_eq!(other_user_named(record, None), None);
            assert!(session_named_like(record, "christophe").is_none());
        });
        with_record(&by(ROOT), |record| {
            assert!(names_the_caller(record, ROOT_USER_NAME));
            assert!(!names_the_caller(record, "christophe"));
            let own = serde_json::json!({ "userName": ROOT_USER_NAME });
            assert_eq!(other_user_named(record, Some(&own)), None);
        });
        // Session `alice` of role `Admin`: named by its caller, so it says so.
        with_record(&by(ASSUMED_ROLE_MFA), |record| {
            assert!(!names_the_caller(record, "alice"));
            let session = session_named_like(record, "alice").expect("same name");
            assert!(!session.identity_center);
            assert!(session
                .same_name_note()
                .contains("whoever assumed role `Admin`"));
            assert_eq!(
                session.same_name_evidence().value["identityCenterSession"],
                false
            );
            assert!(session_named_like(record, "bob").is_none());
        });
    }

    #[test]
    fn shell_quoting_keeps_names_and_quotes_the_rest() {
        assert_eq!(sh("malicious-iam-user"), "malicious-iam-user");
        assert_eq!(
            sh("arn:aws:iam::aws:policy/AdministratorAccess"),
            "arn:aws:iam::aws:policy/AdministratorAccess"
        );
        assert_eq!(sh("a b"), "'a b'");
        assert_eq!(sh("x'; rm -rf /"), r"'x'\''; rm -rf /'");
        assert_eq!(sh("$(id)"), "'$(id)'");
        assert_eq!(sh(""), "''");
        assert_eq!(sh("a\nb"), r"$'a\nb'");
    }

    #[test]
    fn a_refusal_for_a_missing_principal_is_told_from_other_failures() {
        use testing::{with_record, TestEvent};
        let failed = |code: &str, message: &str| {
            let mut event = TestEvent::iam("UpdateAssumeRolePolicy");
            event.error = Some((code.to_owned(), message.to_owned()));
            with_record(&event.json(), names_missing_principal)
        };
        assert!(failed(
            "MalformedPolicyDocumentException",
            "Invalid principal in policy: \"AWS\":\"arn:aws:iam::193672423079:role/admin\""
        ));
        assert!(failed("MalformedPolicy", "Invalid principal in policy"));
        assert!(failed(
            "InvalidParameterValueException",
            "The provided principal was invalid. Please check the principal and try again."
        ));
        assert!(!failed(
            "MalformedPolicyDocumentException",
            "Syntax errors in policy."
        ));
        assert!(!failed("AccessDenied", "not authorized: principal"));
        with_record(&TestEvent::iam("UpdateAssumeRolePolicy").json(), |record| {
            assert!(!names_missing_principal(record));
        });
    }

    #[test]
    fn failures_are_read_from_error_codes_and_failure_responses() {
        use testing::{with_record, TestEvent};
        let outcome = |e: TestEvent| with_record(&e.json(), call_failure);
        assert_eq!(
            outcome(TestEvent::iam("CreateUser").denied()).as_deref(),
            Some("AccessDenied")
        );
        let password = TestEvent::new("signin.amazonaws.com", "PasswordUpdated");
        assert_eq!(
            outcome(
                password
                    .clone()
                    .response(r#"{"PasswordUpdated":"Failure"}"#)
            )
            .as_deref(),
            Some("Failure")
        );
        assert_eq!(
            outcome(
                password
                    .clone()
                    .response(r#"{"PasswordUpdated":"Success"}"#)
            ),
            None
        );
        // "Failure" deeper in the response (a user-chosen name) is not an outcome.
        assert_eq!(
            outcome(TestEvent::iam("CreateUser").response(r#"{"user":{"userName":"Failure"}}"#)),
            None
        );
        let mut login = TestEvent::new("signin.amazonaws.com", "ConsoleLogin")
            .response(r#"{"ConsoleLogin":"Failure"}"#);
        login.error = None;
        assert_eq!(outcome(login).as_deref(), Some("Failure"));
    }

    #[test]
    fn privileged_policies_match_managed_arns_only() {
        let admin = privileged_policy("arn:aws:iam::aws:policy/AdministratorAccess").unwrap();
        assert_eq!(admin.severity, Severity::Critical);
        assert!(privileged_policy("arn:aws-us-gov:iam::aws:policy/IAMFullAccess").is_some());
        assert!(
            privileged_policy("arn:aws:iam::aws:policy/job-function/SystemAdministrator").is_some()
        );
        // A customer policy with the same name is not the AWS managed one.
        assert!(
            privileged_policy("arn:aws:iam::111122223333:policy/AdministratorAccess").is_none()
        );
        assert!(privileged_policy("arn:aws:iam::aws:policy/ReadOnlyAccess").is_none());
    }

    #[test]
    fn sign_in_reads_outcome_and_mfa_once_for_every_rule() {
        use testing::{with_record, TestEvent};
        let login = |response: &str, data: Option<&str>| {
            let event = TestEvent::new("signin.amazonaws.com", "ConsoleLogin").response(response);
            match data {
                Some(data) => event.additional(data),
                None => event,
            }
        };
        let cases = [
            (
                login(
                    r#"{"ConsoleLogin":"Success"}"#,
                    Some(r#"{"MFAUsed":"Yes"}"#),
                ),
                Some(true),
                Some(true),
            ),
            (
                login(
                    r#"{"ConsoleLogin":"Failure"}"#,
                    Some(r#"{"MFAUsed":"yes"}"#),
                ),
                Some(false),
                Some(true),
            ),
            (
                login(r#"{"ConsoleLogin":"Success"}"#, Some(r#"{"MFAUsed":"No"}"#)),
                Some(true),
                Some(false),
            ),
            (login("null", None), None, None),
        ];
        for (event, succeeded, mfa_used) in cases {
            with_record(&event.json(), |record| {
                let sign_in = SignIn::of(record);
                assert_eq!(sign_in.succeeded, succeeded, "{}", event.json());
                assert_eq!(sign_in.mfa_used(), mfa_used, "{}", event.json());
            });
        }
    }
}
