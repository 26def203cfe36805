//! CT030 signin-token-from-keys: GetSigninToken, the federation endpoint turning API credentials into a
//! console session.

use trailguard_event::Record;

use super::common::{call_failed, describe_caller, evidence, finding_for};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{CloudTrailRule, EventContext, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT030",
    name: "signin-token-from-keys",
    title: "API credentials turned into a console session",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1550.001", "T1078.004"],
    compliance: &[],
    events: &[("signin.amazonaws.com", "GetSigninToken")],
    kb_entries: &[],
    doc: RuleDoc {
        what: "`GetSigninToken` on the federation endpoint (`signin.aws.amazon.com/federation`): temporary \
               credentials (a role session or a `GetFederationToken` user) exchanged for a console sign-in URL. \
               Calls made by IAM Identity Center's own portal (user agent `Jersey/...`) are left out, since \
               every Identity Center console sign-in makes one.",
        why: "Tools such as `aws_consoler` and Pacu turn stolen access keys into a browser session this way, \
              which opens the console's whole surface (and its activity is harder to tie back to the key). \
              Custom federation brokers use the same call, so the caller and its address are in the finding \
              to tell the two apart.",
        example: "Federated user `arn:aws:sts::111122223333:federated-user/ops` calls `GetSigninToken` from an \
                  address outside the company range with user agent `python-requests/2.31`.",
        fix: "Confirm the caller runs a federation broker. If not, revoke the session's source credentials \
              (the access key behind `GetFederationToken`, or the role's sessions issued before now) and \
              review the console activity of the session that followed.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_enable-console-custom-url.html",
            "https://attack.mitre.org/techniques/T1550/001/",
        ],
    },
};

/// Flags API credentials exchanged for a console session.
#[derive(Debug, Default)]
pub struct SigninTokenFromKeys;

impl CloudTrailRule for SigninTokenFromKeys {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        // IAM Identity Center's portal signs its users in through the same endpoint.
        if record
            .user_agent
            .as_deref()
            .is_some_and(|agent| agent.starts_with("Jersey/"))
        {
            return;
        }
        let context = EventContext::from_record(record);
        let mut finding = finding_for(&META, record, META.severity);
        let who = describe_caller(&context);
        finding.message = if call_failed(record) {
            format!("{who} tried to exchange its credentials for a console sign-in token; the call failed.")
        } else {
            format!("{who} exchanged its API credentials for a console sign-in token.")
        };
        finding.resource = Some(Resource {
            kind: "AwsIamPrincipal".to_owned(),
            id: context
                .actor
                .arn
                .clone()
                .unwrap_or_else(|| "unknown".to_owned()),
            name: context.actor.user_name.clone(),
        });
        if let Some(agent) = &context.actor.user_agent {
            finding.evidence.push(evidence("userAgent", agent.as_str()));
        }
        if let Some(key) = &context.actor.access_key_id {
            finding
                .evidence
                .push(evidence("userIdentity.accessKeyId", key.as_str()));
        }
        finding.fix.summary = if call_failed(record) {
            "Nothing changed; find out why this principal tried to.".to_owned()
        } else {
            "Confirm the caller is a federation broker; if not, revoke the credentials behind the session and \
             review its console activity."
                .to_owned()
        };
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent, FEDERATED};

    #[test]
    fn keys_turned_into_a_console_session_are_flagged() {
        let e = TestEvent::new("signin.amazonaws.com", "GetSigninToken")
            .identity(FEDERATED)
            .event_type("AwsConsoleSignIn")
            .request(r#"{"SessionDuration":"43200"}"#)
            .response(r#"{"GetSigninToken":"Success"}"#);
        let f = &check(&SigninTokenFromKeys, &e)[0];
        assert_eq!(f.severity, Severity::Medium);
        assert!(f.message.contains("console sign-in token"), "{}", f.message);
        assert!(!f.title.starts_with("Attempted"));
    }
}
