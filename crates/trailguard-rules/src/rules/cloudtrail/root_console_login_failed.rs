//! CT024 root-console-login-failed: one failed console sign-in of the root user, reported on its own.

use trailguard_event::Record;

use super::common::{
    call_failure, describe_caller, event_in, evidence, failure_finding_from_event,
    root_user_resource,
};
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{CloudTrailRule, EventContext, Report, ANY_EVENT};

pub const META: RuleMeta = RuleMeta {
    code: "CT024",
    name: "root-console-login-failed",
    title: "Failed root console sign-in",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1110.001", "T1078.004"],
    compliance: &["CIS-4.3", "CIS-4.6", "CloudWatch.1", "CloudWatch.6"],
    events: &[ANY_EVENT],
    kb_entries: &["ConsoleLogin"],
    doc: RuleDoc {
        what: "A `ConsoleLogin` by the root user (`userIdentity.type` = `Root`) that failed: \
               `responseElements.ConsoleLogin` = `Failure`, usually with `errorMessage` `Failed authentication`. \
               Each failure is its own finding at **medium**, not only part of a burst (CT016 needs five). \
               Successful root sign-ins are CT014's and CT015's.",
        why: "Only someone who knows the account's root email address can try the root password. A failed \
              attempt is either the owner mistyping, which they can confirm, or someone guessing or replaying a \
              leaked password against the one identity no policy can limit. CIS counts root use and console \
              authentication failures among the events to alarm on.",
        example: "A `ConsoleLogin` with `\"userIdentity\": {\"type\": \"Root\", ...}`, \
                  `\"responseElements\": {\"ConsoleLogin\": \"Failure\"}` and `\"errorMessage\": \"Failed \
                  authentication\"` from an address the owner does not know.",
        fix: "Ask the account owner whether they tried to sign in. If not, make sure the root user has MFA (a \
              hardware key) and a long unique password, no access keys, and that the root email mailbox itself \
              is protected; watch for password-recovery emails.",
        references: &[
            "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-aws-console-sign-in-events.html",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/root-user-best-practices.html",
        ],
    },
};

/// The calls this rule judges: it declares every event and the engine routes it these ([`CloudTrailRule::watched`]).
const WATCHED: &[(&str, &str)] = &[("signin.amazonaws.com", "ConsoleLogin")];

/// Flags each failed root console sign-in.
#[derive(Debug, Default)]
pub struct RootConsoleLoginFailed;

impl CloudTrailRule for RootConsoleLoginFailed {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn watched(&self) -> &'static [(&'static str, &'static str)] {
        WATCHED
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        if !event_in(record, WATCHED) {
            return;
        }
        if !record.user_identity.is_root() {
            return;
        }
        let Some(reason) = call_failure(record) else {
            return;
        };
        let context = EventContext::from_record(record);
        // A failed sign-in is this rule's subject, not a lesser form of it.
        let mut finding = failure_finding_from_event(&META, &context, META.severity);
        let account = record.account_id().unwrap_or("unknown").to_owned();
        finding.message = format!(
            "{} failed to sign in to the console of account {account} ({reason}).",
            describe_caller(&context)
        );
        finding.resource = Some(root_user_resource(record));
        finding.evidence.push(evidence("userIdentity.type", "Root"));
        finding
            .evidence
            .push(evidence("responseElements.ConsoleLogin", "Failure"));
        if let Some(ip) = &context.actor.source_ip {
            finding
                .evidence
                .push(evidence("sourceIPAddress", ip.as_str()));
        }
        finding.fix.summary =
            "Confirm with the account owner; if it was not them, check the root user's MFA, \
                               password and access keys, and protect the root email mailbox."
                .to_owned();
        finding.fix.commands = vec![
            "aws iam get-account-summary --query 'SummaryMap.[AccountMFAEnabled,AccountAccessKeysPresent]'"
                .to_owned(),
        ];
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Outcome;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent};

    const ROOT_SIGN_IN: &str = r#"{"type":"Root","principalId":"229654561268","arn":"arn:aws:iam::229654561268:root","accountId":"229654561268","accessKeyId":""}"#;

    fn sign_in(outcome: &str) -> TestEvent {
        TestEvent::new("signin.amazonaws.com", "ConsoleLogin")
            .identity(ROOT_SIGN_IN)
            .event_type("AwsConsoleSignIn")
            .response(&format!(r#"{{"ConsoleLogin":"{outcome}"}}"#))
            .additional(r#"{"LoginTo":"https://console.aws.amazon.com/console/home","MobileVersion":"No","MFAUsed":"No"}"#)
    }

    #[test]
    fn one_failed_root_sign_in_is_a_medium_finding_of_its_own() {
        let findings = check(&RootConsoleLoginFailed, &sign_in("Failure"));
        assert_eq!(findings.len(), 1);
        let f = &findings[0];
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(f.title, "Failed root console sign-in");
        assert!(matches!(f.outcome, Outcome::Attempt { .. }));
        assert!(f.message.contains("failed to sign in"), "{}", f.message);
    }

    #[test]
    fn successful_and_non_root_sign_ins_are_left_to_other_rules() {
        assert!(check(&RootConsoleLoginFailed, &sign_in("Success")).is_empty());
        let user = sign_in("Failure").identity(
            r#"{"type":"IAMUser","principalId":"AIDACKCEVSQ6C2EXAMPLE","accountId":"229654561268","accessKeyId":"","userName":"bob"}"#,
        );
        assert!(check(&RootConsoleLoginFailed, &user).is_empty());
    }
}
