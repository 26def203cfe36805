//! PA004 root-access-keys: the root user has an access key.

use trailguard_account::snapshot::{ACCOUNT_SUMMARY, CREDENTIAL_REPORT};

use super::{evidence, PostureContext, Report};
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;

pub const META: RuleMeta = RuleMeta {
    code: "PA004",
    name: "root-access-keys",
    title: "Root user has access keys",
    family: Family::Posture,
    severity: Severity::Critical,
    attack: &["T1078.004", "T1552"],
    compliance: &["CIS-1.4", "IAM.4"],
    events: &[],
    kb_entries: &["CreateAccessKey"],
    doc: RuleDoc {
        what: "The root user has an access key: an active key in the credential report's `<root_account>` row \
               (one finding per key slot, with its last use), or `AccountAccessKeysPresent` = 1 in the account \
               summary when there is no report.",
        why: "A root access key is an unrestricted, long-lived credential that no policy, boundary or SCP can \
              limit. Keys leak through code, CI logs and laptops; a leaked root key is the whole account.",
        example: "`<root_account>,...,access_key_1_active=true,access_key_1_last_used_date=2024-05-30T...`",
        fix: "Sign in as root, check what uses the key (its last used service and region), move that work to an \
              IAM role, then deactivate and delete the key under Security credentials.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_root-user_manage_delete-key.html",
            "https://docs.aws.amazon.com/securityhub/latest/userguide/iam-controls.html#iam-4",
        ],
    },
};

pub fn check(ctx: &PostureContext<'_>) -> Report {
    let manual = || FixAction::Manual {
        description: "Sign in as root, deactivate then delete the root access keys.".into(),
    };
    if let Some(root) = ctx
        .snapshot
        .credential_report
        .as_ref()
        .and_then(|r| r.root())
    {
        let findings = root
            .access_keys()
            .iter()
            .filter(|k| k.active)
            .map(|key| {
                let used = match ctx.days_since(key.last_used_date) {
                    Some(days) => {
                        format!("last used {} ({})", super::ago(days), key.last_used_service)
                    }
                    None => "never used".to_owned(),
                };
                let mut finding = ctx.finding(
                    &META,
                    ctx.account_resource(),
                    &key.slot.to_string(),
                    format!(
                        "The root user has an active access key in slot {}, {used}.",
                        key.slot
                    ),
                );
                finding.evidence.push(evidence(
                    format!(
                        "credential_report[<root_account>].access_key_{}_active",
                        key.slot
                    ),
                    true,
                ));
                finding.fix.actions.push(manual());
                finding
            })
            .collect();
        return Report::evaluated(findings);
    }
    let Some(present) = ctx
        .snapshot
        .account_summary
        .as_ref()
        .and_then(|s| s.get("AccountAccessKeysPresent"))
    else {
        return Report::not_evaluated(format!(
            "neither a root row in `{CREDENTIAL_REPORT}` nor `{ACCOUNT_SUMMARY}`"
        ));
    };
    if *present == 0 {
        return Report::evaluated(Vec::new());
    }
    let mut finding = ctx.finding(
        &META,
        ctx.account_resource(),
        "summary",
        "The root user has at least one access key (AccountAccessKeysPresent = 1).".into(),
    );
    finding
        .evidence
        .push(evidence("SummaryMap.AccountAccessKeysPresent", *present));
    finding.fix.actions.push(manual());
    Report::evaluated(vec![finding])
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{self, days_ago, row};
    use super::*;

    #[test]
    fn each_active_root_key_is_a_finding() {
        let used = days_ago(3);
        let outcome = testkit::run_report(
            check,
            &[row(
                "<root_account>",
                &[
                    ("access_key_1_active", "true"),
                    ("access_key_1_last_used_date", &used),
                    ("access_key_1_last_used_service", "s3"),
                    ("access_key_2_active", "true"),
                ],
            )],
        );
        let messages: Vec<&str> = outcome
            .findings()
            .iter()
            .map(|f| f.message.as_str())
            .collect();
        assert_eq!(
            messages,
            [
                "The root user has an active access key in slot 1, last used 3 days ago (s3).",
                "The root user has an active access key in slot 2, never used."
            ]
        );
        assert_ne!(outcome.findings()[0].id, outcome.findings()[1].id);
    }

    #[test]
    fn summary_is_the_fallback_and_no_keys_pass() {
        let summary = testkit::run(
            check,
            &[(
                ACCOUNT_SUMMARY,
                r#"{"SummaryMap":{"AccountAccessKeysPresent":1}}"#,
            )],
        );
        assert_eq!(summary.findings().len(), 1);
        let clean = testkit::run_report(check, &[row("<root_account>", &[])]);
        assert_eq!(clean, Report::evaluated(Vec::new()));
    }
}
