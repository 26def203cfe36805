//! PA022 access-analyzer-disabled: no active IAM Access Analyzer in the audited region.

use trailguard_account::snapshot::ANALYZERS;

use super::{evidence, PostureContext, Report};
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;

pub const META: RuleMeta = RuleMeta {
    code: "PA022",
    name: "access-analyzer-disabled",
    title: "IAM Access Analyzer not enabled",
    family: Family::Posture,
    severity: Severity::Low,
    attack: &["T1530"],
    compliance: &["CIS-1.20", "IAM.28"],
    events: &[],
    kb_entries: &["CreateAnalyzer"],
    doc: RuleDoc {
        what: "`accessanalyzer list-analyzers` (for the audited region) lists no analyzer with status `ACTIVE` \
               of type `ACCOUNT` or `ORGANIZATION` (external access).",
        why: "Access Analyzer continuously reports buckets, keys, roles, queues and secrets shared outside the \
              account or organisation. Without it, a resource policy that opens data to the world is found by \
              whoever looks first.",
        example: "`aws accessanalyzer list-analyzers` in `us-east-1` returns `{\"analyzers\": []}`, or only an \
                  analyzer whose status is `FAILED`.",
        fix: "`aws accessanalyzer create-analyzer --analyzer-name account-analyzer --type ACCOUNT` in every \
              region you use (or an ORGANIZATION analyzer from the delegated administrator).",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/what-is-access-analyzer.html",
            "https://docs.aws.amazon.com/securityhub/latest/userguide/iam-controls.html#iam-28",
        ],
    },
};

pub fn check(ctx: &PostureContext<'_>) -> Report {
    let Some(analyzers) = &ctx.snapshot.analyzers else {
        return Report::missing(ANALYZERS);
    };
    let active = analyzers.iter().any(|a| {
        a.status.eq_ignore_ascii_case("ACTIVE")
            && matches!(
                a.analyzer_type.to_ascii_uppercase().as_str(),
                "ACCOUNT" | "ORGANIZATION"
            )
    });
    if active {
        return Report::evaluated(Vec::new());
    }
    let mut finding = ctx.finding(
        &META,
        ctx.account_resource(),
        "",
        if analyzers.is_empty() {
            "IAM Access Analyzer has no analyzer in this region.".to_owned()
        } else {
            "IAM Access Analyzer has no active external-access analyzer in this region.".to_owned()
        },
    );
    finding.evidence.push(evidence(
        "analyzers",
        serde_json::to_value(analyzers).unwrap_or_default(),
    ));
    finding.fix.commands.push(
        "aws accessanalyzer create-analyzer --analyzer-name account-analyzer --type ACCOUNT"
            .to_owned(),
    );
    finding.fix.actions.push(FixAction::Manual {
        description: "Create an ACCOUNT (or ORGANIZATION) analyzer in each region in use.".into(),
    });
    Report::evaluated(vec![finding])
}

#[cfg(test)]
mod tests {
    use super::super::testkit;
    use super::*;

    #[test]
    fn only_an_active_external_access_analyzer_passes() {
        assert_eq!(
            testkit::run(check, &[(ANALYZERS, r#"{"analyzers":[]}"#)])
                .findings()
                .len(),
            1
        );
        let failed = r#"{"analyzers":[{"arn":"arn:aws:access-analyzer:us-east-1:111122223333:analyzer/a","name":"a","type":"ACCOUNT","status":"FAILED"}]}"#;
        assert_eq!(
            testkit::run(check, &[(ANALYZERS, failed)]).findings().len(),
            1
        );
        let active = r#"{"analyzers":[{"arn":"arn:aws:access-analyzer:us-east-1:111122223333:analyzer/a","name":"a","type":"ACCOUNT","status":"ACTIVE"}]}"#;
        assert_eq!(
            testkit::run(check, &[(ANALYZERS, active)]),
            Report::evaluated(Vec::new())
        );
        assert!(testkit::run(check, &[]).not_evaluated_reason().is_some());
    }
}
