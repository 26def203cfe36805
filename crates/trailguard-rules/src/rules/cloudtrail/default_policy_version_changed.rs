//! CT002 default-policy-version-changed: SetDefaultPolicyVersion rolled a managed policy to another version.

use trailguard_event::Record;

use super::common::{call_failed, describe_caller, evidence, finding_for, sh};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{CloudTrailRule, EventContext, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT002",
    name: "default-policy-version-changed",
    title: "Default version of a managed policy changed",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1098", "T1078.004"],
    compliance: &["CIS-4.4"],
    events: &[("iam.amazonaws.com", "SetDefaultPolicyVersion")],
    kb_entries: &["SetDefaultPolicyVersion"],
    doc: RuleDoc {
        what: "A customer managed policy's default version was switched with `SetDefaultPolicyVersion`. \
               The default version is the one IAM enforces, so every user, group and role the policy is \
               attached to gets the permissions of the version now selected.",
        why: "A managed policy keeps up to five versions. An attacker who holds only \
              `iam:SetDefaultPolicyVersion` can roll the default back (or forward) to an older, more permissive \
              version that was never deleted, a documented privilege-escalation path that needs no new policy \
              text and so slips past reviews of policy documents. Legitimate rollbacks happen, but rarely, and \
              normally from an infrastructure pipeline.",
        example: "`aws iam set-default-policy-version --policy-arn arn:aws:iam::111122223333:policy/app \
                  --version-id v1` where v1 granted `iam:*`.",
        fix: "Compare the new default with the version it replaced (`aws iam list-policy-versions`, \
              `aws iam get-policy-version`). If the change was not intended, set the previous version back as \
              default and delete the permissive one so it cannot be selected again; keep at most the versions \
              you need. Restrict `iam:SetDefaultPolicyVersion` to your deployment role.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/APIReference/API_SetDefaultPolicyVersion.html",
            "https://rhinosecuritylabs.com/aws/aws-privilege-escalation-methods-mitigation/",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-versioning.html",
        ],
    },
};

/// Flags every change of a managed policy's default version.
#[derive(Debug, Default)]
pub struct DefaultPolicyVersionChanged;

impl CloudTrailRule for DefaultPolicyVersionChanged {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let params = record.request_parameters();
        let policy_arn = super::common::request_field(params.as_ref(), "policyArn")
            .unwrap_or_else(|| "unknown".to_owned());
        let version = super::common::request_field(params.as_ref(), "versionId")
            .unwrap_or_else(|| "unknown".to_owned());
        let mut finding = finding_for(&META, record, META.severity);
        let who = describe_caller(&EventContext::from_record(record));
        finding.message = if call_failed(record) {
            format!("{who} tried to make version {version} the default of `{policy_arn}`; the call failed.")
        } else {
            format!(
                "{who} made version {version} the default of `{policy_arn}`; every principal it is attached \
                 to now has that version's permissions."
            )
        };
        finding.resource = Some(Resource {
            kind: "AwsIamPolicy".to_owned(),
            id: policy_arn.clone(),
            name: policy_arn.rsplit('/').next().map(str::to_owned),
        });
        finding
            .evidence
            .push(evidence("requestParameters.versionId", version.as_str()));
        if !call_failed(record) {
            let arn = sh(&policy_arn);
            let ver = sh(&version);
            finding.fix.summary = format!(
                "Review version {version}; if unintended, set the previous version back as default and delete {version}."
            );
            finding.fix.commands = vec![
                format!("aws iam list-policy-versions --policy-arn {arn}"),
                format!("aws iam get-policy-version --policy-arn {arn} --version-id {ver}"),
                format!(
                    "aws iam set-default-policy-version --policy-arn {arn} --version-id PREVIOUS_VERSION_ID"
                ),
                format!("aws iam delete-policy-version --policy-arn {arn} --version-id {ver}"),
            ];
            finding.fix.actions.push(FixAction::RevertPolicyVersion {
                policy_arn,
                bad_version: version,
                restore_version: None,
                bad_version_was_default: Some(true),
            });
        } else {
            finding.fix.summary =
                "Nothing changed; find out why this principal tried to switch policy versions."
                    .to_owned();
        }
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Outcome;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent};

    fn event() -> TestEvent {
        TestEvent::iam("SetDefaultPolicyVersion").request(
            r#"{"policyArn":"arn:aws:iam::229654561268:policy/app-deployer","versionId":"v1"}"#,
        )
    }

    #[test]
    fn flags_a_default_version_switch_with_revert_commands() {
        let findings = check(&DefaultPolicyVersionChanged, &event());
        assert_eq!(findings.len(), 1);
        let f = &findings[0];
        assert_eq!(f.rule_id, "CT002");
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(f.outcome, Outcome::Success);
        assert!(f.message.contains("version v1"), "{}", f.message);
        assert!(f.fix.commands.iter().any(|c| c
            == "aws iam delete-policy-version --policy-arn arn:aws:iam::229654561268:policy/app-deployer --version-id v1"));
        assert!(matches!(
            &f.fix.actions[0],
            FixAction::RevertPolicyVersion { bad_version, .. } if bad_version == "v1"
        ));
        assert_eq!(f.fix.kb_entry.as_deref(), Some("SetDefaultPolicyVersion"));
    }

    #[test]
    fn a_denied_switch_is_an_attempt_without_fix_actions() {
        let findings = check(&DefaultPolicyVersionChanged, &event().denied());
        assert_eq!(findings[0].severity, Severity::Low);
        assert!(findings[0].title.starts_with("Attempted:"));
        assert!(findings[0].fix.actions.is_empty());
        assert!(
            matches!(&findings[0].outcome, Outcome::Attempt { error_code } if error_code == "AccessDenied")
        );
    }
}
