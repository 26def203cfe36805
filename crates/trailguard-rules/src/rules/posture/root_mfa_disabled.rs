//! PA002 root-mfa-disabled: the root user signs in with a password alone.

use trailguard_account::snapshot::{ACCOUNT_SUMMARY, CREDENTIAL_REPORT};

use super::{evidence, PostureContext, Report};
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;

pub const META: RuleMeta = RuleMeta {
    code: "PA002",
    name: "root-mfa-disabled",
    title: "Root user has no MFA",
    family: Family::Posture,
    severity: Severity::Critical,
    attack: &["T1078.004"],
    compliance: &["CIS-1.5", "IAM.9"],
    events: &[],
    kb_entries: &["DeactivateMFADevice", "ConsoleLogin"],
    doc: RuleDoc {
        what: "The root user has no MFA device: `AccountMFAEnabled` is 0 in the account summary, or (without \
               a summary) the credential report's `<root_account>` row has `mfa_active` false.",
        why: "Root can do everything, including closing the account and changing its contact details, and no \
              policy can restrict it. A phished or reused root password without MFA is a full takeover.",
        example: "`get-account-summary` → `\"AccountMFAEnabled\": 0`.",
        fix: "Sign in as root and assign an MFA device, preferably a FIDO security key (IAM console → \
              Security credentials → Assign MFA device). This cannot be done through the API with other credentials.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/enable-mfa-for-root.html",
            "https://docs.aws.amazon.com/securityhub/latest/userguide/iam-controls.html#iam-9",
        ],
    },
};

/// Whether root has MFA, from the summary or else the credential report; `None` when neither exists.
pub fn root_mfa_enabled(ctx: &PostureContext<'_>) -> Option<bool> {
    if let Some(flag) = ctx
        .snapshot
        .account_summary
        .as_ref()
        .and_then(|s| s.get("AccountMFAEnabled"))
    {
        return Some(*flag > 0);
    }
    let report = ctx.snapshot.credential_report.as_ref()?;
    report.root().map(|root| root.mfa_active())
}

pub fn check(ctx: &PostureContext<'_>) -> Report {
    let Some(enabled) = root_mfa_enabled(ctx) else {
        return Report::not_evaluated(format!(
            "neither `{ACCOUNT_SUMMARY}` nor a root row in `{CREDENTIAL_REPORT}`"
        ));
    };
    if enabled {
        return Report::evaluated(Vec::new());
    }
    let mut finding = ctx.finding(
        &META,
        ctx.account_resource(),
        "",
        "The root user has no MFA device: its password alone opens the whole account.".into(),
    );
    finding
        .evidence
        .push(evidence("SummaryMap.AccountMFAEnabled", 0));
    finding.fix.actions.push(FixAction::Manual {
        description: "Sign in as the root user and assign a hardware (FIDO) MFA device.".into(),
    });
    Report::evaluated(vec![finding])
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{self, row};
    use super::*;

    #[test]
    fn summary_decides_first() {
        let off = testkit::run(
            check,
            &[(ACCOUNT_SUMMARY, r#"{"SummaryMap":{"AccountMFAEnabled":0}}"#)],
        );
        assert_eq!(off.findings().len(), 1);
        assert_eq!(off.findings()[0].severity, Severity::Critical);
        let on = testkit::run(
            check,
            &[(ACCOUNT_SUMMARY, r#"{"SummaryMap":{"AccountMFAEnabled":1}}"#)],
        );
        assert_eq!(on, Report::evaluated(Vec::new()));
    }

    #[test]
    fn credential_report_is_the_fallback() {
        let off = testkit::run_report(check, &[row("<root_account>", &[("mfa_active", "false")])]);
        assert_eq!(off.findings().len(), 1);
        let on = testkit::run_report(check, &[row("<root_account>", &[("mfa_active", "true")])]);
        assert!(on.findings().is_empty());
        assert!(testkit::run(check, &[]).not_evaluated_reason().is_some());
    }
}
