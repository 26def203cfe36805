//! CT007 account-alias-deleted: every DeleteAccountAlias.

use trailguard_event::Record;

use super::common::{call_failed, describe_caller, evidence, finding_for, request_field};
use crate::call::Call;
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{CloudTrailRule, EventContext, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT007",
    name: "account-alias-deleted",
    title: "Account alias deleted",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1531"],
    compliance: &[],
    events: &[("iam.amazonaws.com", "DeleteAccountAlias")],
    kb_entries: &["DeleteAccountAlias"],
    doc: RuleDoc {
        what: "Every `DeleteAccountAlias` call. The account alias is the friendly name in the console sign-in \
               URL (`https://ALIAS.signin.aws.amazon.com/console`); an account has at most one.",
        why: "Deleting the alias breaks every bookmarked sign-in URL, runbook and SSO link that uses it, which \
              slows responders down during an incident. It also frees the name: anyone in any AWS account can \
              then claim it and host a look-alike sign-in page under the old URL for phishing. Aliases are \
              almost never deleted in normal operation.",
        example: "`aws iam delete-account-alias --account-alias acme-prod`",
        fix: "Recreate the alias at once (`aws iam create-account-alias`) before someone else claims it, and find \
              out why it was removed. Restrict `iam:DeleteAccountAlias` with an SCP.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeleteAccountAlias.html",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/console_account-alias.html",
        ],
    },
};

/// Flags every deletion of the account alias.
#[derive(Debug, Default)]
pub struct AccountAliasDeleted;

impl CloudTrailRule for AccountAliasDeleted {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let params = record.request_parameters();
        let alias =
            request_field(params.as_ref(), "accountAlias").unwrap_or_else(|| "unknown".to_owned());
        let account = record.account_id().unwrap_or("unknown").to_owned();
        let mut finding = finding_for(&META, record, META.severity);
        let who = describe_caller(&EventContext::from_record(record));
        finding.message = if call_failed(record) {
            format!("{who} tried to delete account alias `{alias}` of account {account}; the call failed.")
        } else {
            format!(
                "{who} deleted account alias `{alias}` of account {account}; sign-in URLs using it no longer \
                 work and the name can be claimed by any other account."
            )
        };
        finding.resource = Some(Resource {
            kind: "AwsAccount".to_owned(),
            id: account,
            name: Some(alias.clone()),
        });
        finding
            .evidence
            .push(evidence("requestParameters.accountAlias", alias.as_str()));
        if call_failed(record) {
            finding.fix.summary =
                "Nothing changed; find out why this principal tried to delete the alias."
                    .to_owned();
        } else {
            finding.fix.summary = format!("Recreate alias `{alias}` before anyone else claims it.");
            finding.fix.commands = vec![Call::CreateAccountAlias {
                alias: alias.clone(),
            }
            .to_cli()];
            finding
                .fix
                .actions
                .push(FixAction::RestoreAccountAlias { alias });
        }
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Outcome;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent, ROOT};

    fn delete(alias: &str) -> TestEvent {
        TestEvent::iam("DeleteAccountAlias").request(&format!(r#"{{"accountAlias":"{alias}"}}"#))
    }

    #[test]
    fn every_delete_is_flagged_with_a_restore_action() {
        let f = &check(&AccountAliasDeleted, &delete("acme-prod"))[0];
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(
            f.fix.commands,
            vec!["aws iam create-account-alias --account-alias acme-prod"]
        );
        assert_eq!(
            f.fix.actions,
            vec![FixAction::RestoreAccountAlias {
                alias: "acme-prod".into()
            }]
        );
        assert!(f.message.contains("IAM user `christophe`"), "{}", f.message);
        let by_root = check(&AccountAliasDeleted, &delete("acme-prod").identity(ROOT));
        assert!(
            by_root[0].message.starts_with("the root user"),
            "{}",
            by_root[0].message
        );
    }

    #[test]
    fn a_denied_delete_is_an_attempt() {
        let f = &check(&AccountAliasDeleted, &delete("acme-prod").denied())[0];
        assert_eq!(f.severity, Severity::Low);
        assert!(matches!(f.outcome, Outcome::Attempt { .. }));
        assert!(f.fix.commands.is_empty());
    }
}
