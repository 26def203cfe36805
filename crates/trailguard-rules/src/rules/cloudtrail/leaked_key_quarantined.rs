//! CT025 leaked-key-quarantined: AWS reporting a user's access key as public by attaching its quarantine
//! policy, and anyone taking that policy off again.

use trailguard_event::Record;

use super::common::{
    call_failed, describe_caller, event_in, evidence, finding_for, identity_resource,
    named_identity, request_field, sh,
};
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::{FixAction, IdentityKind};
use crate::rule::{CloudTrailRule, EventContext, Report, ANY_EVENT};

pub const META: RuleMeta = RuleMeta {
    code: "CT025",
    name: "leaked-key-quarantined",
    title: "AWS quarantined a leaked access key",
    family: Family::Cloudtrail,
    severity: Severity::Critical,
    attack: &["T1552.001", "T1078.004"],
    compliance: &[],
    events: &[ANY_EVENT],
    kb_entries: &["AttachUserPolicy", "PutUserPolicy", "DetachUserPolicy"],
    doc: RuleDoc {
        what: "AWS's own response to a leaked key: the AWS managed policy `AWSCompromisedKeyQuarantine` (any \
               version: `V2`, `V3`, ...) attached to a principal, or the inline policy \
               `AWSExposedCredentialPolicy_DO_NOT_REMOVE` (or one named `AWSCompromisedKeyQuarantine...`) put \
               on a user (**critical**). Taking either off again \
               (`Detach*Policy`, `DeleteUserPolicy`) is reported at **high**: it lifts the only brake on a key \
               that is public.",
        why: "AWS attaches these policies when it finds a user's secret access key in a public place (a public \
              GitHub repository, a paste site) and opens a support case. The key must be treated as in an \
              attacker's hands: bots harvest such keys within minutes and start instances for mining or read \
              data. The quarantine denies only some actions, so the key still works for the rest.",
        example: "`AttachUserPolicy` with `requestParameters.policyArn` = \
                  `arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3` on user `ci-deploy`.",
        fix: "Deactivate and delete the exposed key (`aws iam list-access-keys --user-name USER` shows which), \
              create a new one only if still needed and store it in a secret manager, remove the key from the \
              public place and its history, then review everything the key did (CloudTrail by \
              `userIdentity.accessKeyId`) and the bill. Leave the quarantine policy until all that is done.",
        references: &[
            "https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSCompromisedKeyQuarantineV3.html",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html",
            "https://attack.mitre.org/techniques/T1552/001/",
        ],
    },
};

/// The calls this rule judges: it declares every event and the engine routes it these ([`CloudTrailRule::watched`]).
const WATCHED: &[(&str, &str)] = &[
    ("iam.amazonaws.com", "AttachUserPolicy"),
    ("iam.amazonaws.com", "AttachGroupPolicy"),
    ("iam.amazonaws.com", "AttachRolePolicy"),
    ("iam.amazonaws.com", "PutUserPolicy"),
    ("iam.amazonaws.com", "DetachUserPolicy"),
    ("iam.amazonaws.com", "DetachGroupPolicy"),
    ("iam.amazonaws.com", "DetachRolePolicy"),
    ("iam.amazonaws.com", "DeleteUserPolicy"),
];

/// The inline policy name AWS puts on a user whose key it found exposed.
const EXPOSED_INLINE_POLICY: &str = "AWSExposedCredentialPolicy_DO_NOT_REMOVE";
/// The name of AWS's managed quarantine policies, before the version suffix (`V2`, `V3`, ...).
const QUARANTINE_POLICY: &str = "AWSCompromisedKeyQuarantine";

/// Whether `policy_arn` is one of AWS's quarantine policies, whatever its version suffix.
fn is_quarantine_arn(policy_arn: &str) -> bool {
    policy_arn
        .split_once(":iam::aws:policy/")
        .is_some_and(|(_, name)| name.starts_with(QUARANTINE_POLICY))
}

/// Whether an inline policy's name is one AWS gives its quarantine: the exposed-credential policy, or a
/// copy of the managed quarantine put inline under that policy's name (as AWS has done on some users).
fn is_quarantine_inline(policy_name: &str) -> bool {
    policy_name == EXPOSED_INLINE_POLICY || policy_name.starts_with(QUARANTINE_POLICY)
}

/// Flags AWS's quarantine of a leaked key, and its removal.
#[derive(Debug, Default)]
pub struct LeakedKeyQuarantined;

impl CloudTrailRule for LeakedKeyQuarantined {
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
        let params = record.request_parameters();
        let name = record.event_name.as_ref();
        let inline = matches!(name, "PutUserPolicy" | "DeleteUserPolicy");
        let policy = if inline {
            request_field(params.as_ref(), "policyName").filter(|p| is_quarantine_inline(p))
        } else {
            request_field(params.as_ref(), "policyArn").filter(|p| is_quarantine_arn(p))
        };
        let Some(policy) = policy else {
            return;
        };
        let removing = name.starts_with("Detach") || name == "DeleteUserPolicy";
        let (kind, target) =
            named_identity(params.as_ref()).unwrap_or((IdentityKind::User, "unknown".to_owned()));
        let severity = if removing {
            Severity::High
        } else {
            META.severity
        };
        let mut finding = finding_for(&META, record, severity);
        let who = describe_caller(&EventContext::from_record(record));
        if removing {
            finding.title = if call_failed(record) {
                "Attempted: AWS quarantine of a leaked key removed".to_owned()
            } else {
                "AWS quarantine of a leaked key removed".to_owned()
            };
        }
        finding.message = match (removing, call_failed(record)) {
            (false, false) => format!(
                "{who} attached `{policy}` to `{target}`: AWS found an access key of `{target}` in a public \
                 place. Treat the key as compromised."
            ),
            (false, true) => format!(
                "{who} tried to attach `{policy}` to `{target}`; the call failed. AWS quarantines keys it \
                 found exposed: check `{target}`'s keys."
            ),
            (true, false) => format!(
                "{who} removed `{policy}` from `{target}`, lifting AWS's quarantine of a leaked key."
            ),
            (true, true) => format!(
                "{who} tried to remove `{policy}` from `{target}`; the call failed."
            ),
        };
        finding.resource = Some(identity_resource(kind, record.account_id(), &target));
        let path = if inline {
            "requestParameters.policyName"
        } else {
            "requestParameters.policyArn"
        };
        finding.evidence.push(evidence(path, policy.as_str()));
        if call_failed(record) {
            finding.fix.summary =
                "Nothing changed; find out why this principal tried to.".to_owned();
        } else if kind == IdentityKind::User {
            let user = sh(&target);
            finding.fix.summary = format!(
                "Deactivate and delete `{target}`'s exposed access key, review what it did, and keep the \
                 quarantine policy until that is done."
            );
            finding.fix.commands = vec![
                format!("aws iam list-access-keys --user-name {user}"),
                format!(
                    "aws iam update-access-key --user-name {user} --access-key-id EXPOSED_KEY_ID --status Inactive"
                ),
            ];
            finding.fix.actions.push(FixAction::Manual {
                description: format!(
                    "Deactivate the exposed access key of `{target}` and review its activity."
                ),
            });
        } else {
            finding.fix.summary = format!(
                "Find the exposed credentials behind `{target}` and revoke them; keep the quarantine policy."
            );
            finding.fix.actions.push(FixAction::Manual {
                description: format!("Revoke the exposed credentials of `{target}`."),
            });
        }
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent};

    #[test]
    fn any_quarantine_version_is_critical_and_removal_high() {
        for version in ["", "V2", "V3"] {
            let e = TestEvent::iam("AttachUserPolicy").request(&format!(
                r#"{{"policyArn":"arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantine{version}","userName":"ci-deploy"}}"#
            ));
            let f = &check(&LeakedKeyQuarantined, &e)[0];
            assert_eq!(f.severity, Severity::Critical, "{version}");
            assert!(f.message.contains("public place"), "{}", f.message);
        }
        let inline = TestEvent::iam("PutUserPolicy").request(
            r#"{"policyDocument":"{}","policyName":"AWSExposedCredentialPolicy_DO_NOT_REMOVE","userName":"ci-deploy"}"#,
        );
        assert_eq!(
            check(&LeakedKeyQuarantined, &inline)[0].severity,
            Severity::Critical
        );
        let lifted = TestEvent::iam("DetachUserPolicy").request(
            r#"{"policyArn":"arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV2","userName":"ci-deploy"}"#,
        );
        let f = &check(&LeakedKeyQuarantined, &lifted)[0];
        assert_eq!(f.severity, Severity::High);
        assert_eq!(f.title, "AWS quarantine of a leaked key removed");
    }

    #[test]
    fn other_policies_and_look_alikes_are_ignored() {
        let other = TestEvent::iam("AttachUserPolicy").request(
            r#"{"policyArn":"arn:aws:iam::aws:policy/ReadOnlyAccess","userName":"ci-deploy"}"#,
        );
        assert!(check(&LeakedKeyQuarantined, &other).is_empty());
        // A customer policy named like AWS's is not AWS's report.
        let own = TestEvent::iam("AttachUserPolicy").request(
            r#"{"policyArn":"arn:aws:iam::229654561268:policy/AWSCompromisedKeyQuarantineV2","userName":"x"}"#,
        );
        assert!(check(&LeakedKeyQuarantined, &own).is_empty());
    }
}
