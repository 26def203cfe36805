//! CT012 password-policy-deleted: DeleteAccountPasswordPolicy.

use trailguard_event::Record;

use super::common::{call_failed, describe_caller, finding_for};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{CloudTrailRule, EventContext, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT012",
    name: "password-policy-deleted",
    title: "Account password policy deleted",
    family: Family::Cloudtrail,
    severity: Severity::High,
    attack: &["T1556", "T1110"],
    compliance: &["CIS-1.8", "CIS-1.9", "IAM.7", "IAM.15", "IAM.16"],
    events: &[("iam.amazonaws.com", "DeleteAccountPasswordPolicy")],
    kb_entries: &["DeleteAccountPasswordPolicy"],
    doc: RuleDoc {
        what: "`DeleteAccountPasswordPolicy`: the account's IAM password policy was removed.",
        why: "Without a policy, IAM falls back to its defaults: 8 characters minimum, no character-class rules, \
              no reuse prevention, no expiry. New and changed console passwords can then be short and reused, \
              which makes password spraying and credential stuffing much easier. CIS requires a 14-character \
              minimum and reuse prevention of 24.",
        example: "`aws iam delete-account-password-policy`",
        fix: "Set the policy again with CIS values: minimum length 14, uppercase, lowercase, numbers and symbols \
              required, reuse prevention 24, users allowed to change their own password.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeleteAccountPasswordPolicy.html",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_passwords_account-policy.html",
        ],
    },
};

/// The command that sets a CIS-compliant password policy.
pub const CIS_PASSWORD_POLICY_COMMAND: &str =
    "aws iam update-account-password-policy --minimum-password-length 14 \
--require-uppercase-characters --require-lowercase-characters --require-numbers --require-symbols \
--password-reuse-prevention 24 --allow-users-to-change-password";

/// Flags every deletion of the account password policy.
#[derive(Debug, Default)]
pub struct PasswordPolicyDeleted;

impl CloudTrailRule for PasswordPolicyDeleted {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let account = record.account_id().unwrap_or("unknown").to_owned();
        let mut finding = finding_for(&META, record, META.severity);
        let who = describe_caller(&EventContext::from_record(record));
        finding.message = if call_failed(record) {
            format!(
                "{who} tried to delete the password policy of account {account}; the call failed."
            )
        } else {
            format!(
                "{who} deleted the password policy of account {account}; IAM now accepts 8-character passwords \
                 with no complexity or reuse rules."
            )
        };
        finding.resource = Some(Resource {
            kind: "AwsAccount".to_owned(),
            id: account,
            name: None,
        });
        if call_failed(record) {
            finding.fix.summary =
                "Nothing changed; find out why this principal tried to.".to_owned();
        } else {
            finding.fix.summary = "Set a CIS-compliant password policy again.".to_owned();
            finding.fix.commands = vec![CIS_PASSWORD_POLICY_COMMAND.to_owned()];
            finding.fix.actions.push(FixAction::SetCisPasswordPolicy);
        }
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Outcome;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent};

    #[test]
    fn deleting_the_policy_is_high_with_the_cis_command() {
        let f = &check(
            &PasswordPolicyDeleted,
            &TestEvent::iam("DeleteAccountPasswordPolicy"),
        )[0];
        assert_eq!(f.severity, Severity::High);
        assert_eq!(f.outcome, Outcome::Success);
        assert!(f.fix.commands[0].contains("--minimum-password-length 14"));
        assert!(f.fix.commands[0].contains("--password-reuse-prevention 24"));
        assert_eq!(f.fix.actions, vec![FixAction::SetCisPasswordPolicy]);
        assert_eq!(f.resource.as_ref().unwrap().id, "229654561268");
    }

    #[test]
    fn a_denied_delete_is_an_attempt() {
        let f = &check(
            &PasswordPolicyDeleted,
            &TestEvent::iam("DeleteAccountPasswordPolicy").denied(),
        )[0];
        assert_eq!(f.severity, Severity::Medium);
        assert!(f.fix.commands.is_empty());
    }
}
