//! CT022 access-analyzer-deleted: DeleteAnalyzer, and archive-rule changes that hide findings.

use trailguard_event::Record;

use super::common::{
    call_failed, describe_caller, evidence, finding_for, region_arg, regional_arn, request_field,
    sh,
};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{CloudTrailRule, EventContext, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT022",
    name: "access-analyzer-deleted",
    title: "IAM Access Analyzer deleted or its findings suppressed",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1562.001"],
    compliance: &["CIS-1.20", "IAM.28"],
    events: &[
        ("access-analyzer.amazonaws.com", "DeleteAnalyzer"),
        ("access-analyzer.amazonaws.com", "DeleteArchiveRule"),
        ("access-analyzer.amazonaws.com", "CreateArchiveRule"),
        ("access-analyzer.amazonaws.com", "UpdateArchiveRule"),
    ],
    kb_entries: &["DeleteAnalyzer", "DeleteArchiveRule"],
    doc: RuleDoc {
        what: "`DeleteAnalyzer` (**high**: the region loses its external-access analysis), `CreateArchiveRule` \
               and `UpdateArchiveRule` (**medium**: new findings that match the rule are archived automatically, \
               so nobody sees them) and `DeleteArchiveRule` (**low**: a change to how findings are triaged, worth \
               a record).",
        why: "IAM Access Analyzer reports resources shared outside the account or organization: public buckets, \
              roles trusting other accounts, shared KMS keys. Deleting the analyzer or adding a broad archive \
              rule before opening a backdoor keeps that backdoor from ever showing up (ATT&CK T1562.001). CIS \
              asks for an analyzer in every region.",
        example: "`aws accessanalyzer delete-analyzer --analyzer-name ConsoleAnalyzer-1234`",
        fix: "Recreate the analyzer in that region (account or organization zone of trust), review archive rules \
              and unarchive anything a suspicious rule archived.",
        references: &[
            "https://docs.aws.amazon.com/access-analyzer/latest/APIReference/API_DeleteAnalyzer.html",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-archive-rules.html",
        ],
    },
};

/// Flags analyzers deleted and archive rules changed.
#[derive(Debug, Default)]
pub struct AccessAnalyzerDeleted;

impl CloudTrailRule for AccessAnalyzerDeleted {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let params = record.request_parameters();
        let analyzer =
            request_field(params.as_ref(), "analyzerName").unwrap_or_else(|| "unknown".to_owned());
        let rule_name = request_field(params.as_ref(), "ruleName");
        let event = record.event_name.as_ref();
        let severity = match event {
            "DeleteAnalyzer" => Severity::High,
            "DeleteArchiveRule" => Severity::Low,
            _ => Severity::Medium,
        };
        let mut finding = finding_for(&META, record, severity);
        let who = describe_caller(&EventContext::from_record(record));
        let region = record.aws_region.as_deref().unwrap_or("unknown");
        let rule_text = rule_name
            .as_deref()
            .map(|r| format!(" archive rule `{r}` of"))
            .unwrap_or_default();
        let verb = match event {
            "DeleteAnalyzer" => "deleted",
            "DeleteArchiveRule" => "deleted",
            "CreateArchiveRule" => "created",
            _ => "updated",
        };
        finding.message = if call_failed(record) {
            format!("{who} tried to change{rule_text} analyzer `{analyzer}` in {region} ({event}); the call failed.")
        } else if event == "DeleteAnalyzer" {
            format!("{who} deleted IAM Access Analyzer `{analyzer}` in {region}; external access there is no longer analysed.")
        } else {
            format!("{who} {verb}{rule_text} analyzer `{analyzer}` in {region}.")
        };
        if event == "CreateArchiveRule" || event == "UpdateArchiveRule" {
            finding
                .message
                .push_str(" Matching findings are archived automatically and hidden from review.");
            if let Some(filter) = params.as_ref().and_then(|p| p.get("filter")) {
                finding
                    .evidence
                    .push(evidence("requestParameters.filter", filter.clone()));
            }
        }
        finding.resource = Some(Resource {
            kind: "AwsAccessAnalyzer".to_owned(),
            id: regional_arn(record, "access-analyzer", &format!("analyzer/{analyzer}")),
            name: Some(analyzer.clone()),
        });
        finding.evidence.insert(
            0,
            evidence("requestParameters.analyzerName", analyzer.as_str()),
        );
        let region_flag = region_arg(record);
        if call_failed(record) {
            finding.fix.summary =
                "Nothing changed; find out why this principal tried to.".to_owned();
        } else if event == "DeleteAnalyzer" {
            finding.fix.summary = format!("Recreate the analyzer in {region}.");
            finding.fix.commands = vec![format!(
                "aws accessanalyzer create-analyzer --analyzer-name {} --type ACCOUNT{region_flag}",
                sh(&analyzer)
            )];
            finding.fix.actions.push(FixAction::Manual {
                description: format!("Recreate IAM Access Analyzer `{analyzer}` in {region}."),
            });
        } else {
            finding.fix.summary =
                "Review the analyzer's archive rules and archived findings.".to_owned();
            finding.fix.commands = vec![
                format!("aws accessanalyzer list-archive-rules --analyzer-name {}{region_flag}", sh(&analyzer)),
                format!(
                    "aws accessanalyzer list-findings-v2 --analyzer-arn ANALYZER_ARN --filter '{{\"status\":{{\"eq\":[\"ARCHIVED\"]}}}}'{region_flag}"
                ),
            ];
            if let (Some(rule), "CreateArchiveRule" | "UpdateArchiveRule") = (&rule_name, event) {
                finding.fix.commands.push(format!(
                    "aws accessanalyzer delete-archive-rule --analyzer-name {} --rule-name {}{region_flag}",
                    sh(&analyzer),
                    sh(rule)
                ));
            }
        }
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent};

    fn event(name: &str, params: &str) -> TestEvent {
        TestEvent::new("access-analyzer.amazonaws.com", name).request(params)
    }

    #[test]
    fn deleting_an_analyzer_is_high_with_a_recreate_command() {
        let f = &check(
            &AccessAnalyzerDeleted,
            &event(
                "DeleteAnalyzer",
                r#"{"analyzerName":"ConsoleAnalyzer-1234"}"#,
            ),
        )[0];
        assert_eq!(f.severity, Severity::High);
        assert_eq!(
            f.fix.commands,
            vec!["aws accessanalyzer create-analyzer --analyzer-name ConsoleAnalyzer-1234 --type ACCOUNT --region us-east-1"]
        );
    }

    #[test]
    fn archive_rules_are_flagged_by_kind() {
        let create = event(
            "CreateArchiveRule",
            r#"{"analyzerName":"a","ruleName":"hide-all","filter":{"resourceType":{"eq":["AWS::IAM::Role"]}},"clientToken":"x"}"#,
        );
        let f = &check(&AccessAnalyzerDeleted, &create)[0];
        assert_eq!(f.severity, Severity::Medium);
        assert!(f
            .evidence
            .iter()
            .any(|e| e.path == "requestParameters.filter"));
        assert!(f
            .fix
            .commands
            .last()
            .unwrap()
            .contains("delete-archive-rule --analyzer-name a --rule-name hide-all"));
        let delete = event(
            "DeleteArchiveRule",
            r#"{"analyzerName":"a","ruleName":"r"}"#,
        );
        assert_eq!(
            check(&AccessAnalyzerDeleted, &delete)[0].severity,
            Severity::Low
        );
    }

    #[test]
    fn a_denied_delete_is_an_attempt() {
        let f = &check(
            &AccessAnalyzerDeleted,
            &event("DeleteAnalyzer", r#"{"analyzerName":"a"}"#).denied(),
        )[0];
        assert_eq!(f.severity, Severity::Medium);
        assert!(f.fix.commands.is_empty());
    }
}
