//! CT084 security-findings-suppressed: Security Hub left running but told to look away: automation
//! rules that suppress findings as they arrive, controls disabled, a product's findings no longer
//! imported, findings suppressed by hand.

use serde_json::Value;
use trailguard_event::Record;

use super::common::{
    call_judgement_rule, member_either_case, member_str_either_case, region_arg, regional_arn, sh,
    CallJudgement, Judged,
};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::ANY_EVENT;

pub const META: RuleMeta = RuleMeta {
    code: "CT084",
    name: "security-findings-suppressed",
    title: "Security Hub findings suppressed or controls disabled",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1562.001", "T1070"],
    compliance: &["CIS-4.16"],
    events: &[ANY_EVENT],
    kb_entries: &[],
    doc: RuleDoc {
        what: "**medium**: an automation rule created or changed to suppress findings, or lower them to \
               informational, as they arrive (`CreateAutomationRule`, `BatchUpdateAutomationRules` with a \
               `findingFieldsUpdate` setting workflow status `SUPPRESSED` or severity `INFORMATIONAL`); a \
               control disabled (`UpdateStandardsControl` with `controlStatus` `DISABLED`, \
               `BatchUpdateStandardsControlAssociations` with `associationStatus` `DISABLED`: it stops \
               failing); the findings of GuardDuty, Inspector, Macie, IAM Access Analyzer or Detective no \
               longer imported (`DisableImportFindingsForProduct`); findings suppressed by hand \
               (`BatchUpdateFindings` with workflow status `SUPPRESSED`) when GuardDuty raised any of them \
               or twenty or more at once. **low**: another product's findings no longer imported, a few \
               other findings suppressed by hand, findings archived through the older `UpdateFindings`. A \
               refused call is an attempt, one step lower; a refused call that would be low is not \
               reported. Calls AWS makes are left out.",
        why: "Disabling Security Hub is loud (CT053). Suppressing what it shows is quiet: an automation rule \
              that suppresses GuardDuty's credential findings, or a disabled `CloudTrail.1` control, leaves \
              the console green while the intrusion goes on (ATT&CK T1562.001, Impair Defenses). SigmaHQ \
              and Panther watch `BatchUpdateFindings` for the same reason; suppressing findings by hand is \
              also everyday triage, which is why only GuardDuty's findings or a mass suppression are rated \
              medium.",
        example: "A role session calls `aws securityhub create-automation-rule --rule-name tidy --rule-order 1 \
                  --criteria '{\"ProductName\":[{\"Value\":\"GuardDuty\",\"Comparison\":\"EQUALS\"}]}' \
                  --actions '[{\"Type\":\"FINDING_FIELDS_UPDATE\",\"FindingFieldsUpdate\":{\"Workflow\":\
                  {\"Status\":\"SUPPRESSED\"}}}]'`.",
        fix: "Delete or disable the automation rule, enable the control again, re-enable the product's \
              import, and set suppressed findings back to `NEW`; then review the findings that were hidden. \
              Limit these calls to the security team with an SCP.",
        references: &[
            "https://docs.aws.amazon.com/securityhub/latest/userguide/automation-rules.html",
            "https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_BatchUpdateFindings.html",
            "https://docs.aws.amazon.com/securityhub/latest/userguide/disable-controls-overview.html",
            "https://attack.mitre.org/techniques/T1562/001/",
        ],
    },
};

const WATCHED: &[(&str, &str)] = &[
    ("securityhub.amazonaws.com", "CreateAutomationRule"),
    ("securityhub.amazonaws.com", "BatchUpdateAutomationRules"),
    ("securityhub.amazonaws.com", "UpdateStandardsControl"),
    (
        "securityhub.amazonaws.com",
        "BatchUpdateStandardsControlAssociations",
    ),
    (
        "securityhub.amazonaws.com",
        "DisableImportFindingsForProduct",
    ),
    ("securityhub.amazonaws.com", "BatchUpdateFindings"),
    ("securityhub.amazonaws.com", "UpdateFindings"),
];

/// Products whose findings are the detection side of an identity attack.
const DETECTION_PRODUCTS: &[&str] = &[
    "guardduty",
    "inspector",
    "macie",
    "access-analyzer",
    "detective",
];

/// Suppressed by hand, this many findings at once is a sweep, not triage.
const MASS_SUPPRESSION: usize = 20;

/// Whether a `findingFieldsUpdate` (or `BatchUpdateFindings` request) hides findings: workflow status
/// `SUPPRESSED`, or severity lowered to `INFORMATIONAL`.
fn hides(update: Option<&Value>) -> bool {
    let workflow = member_str_either_case(member_either_case(update, "workflow"), "status");
    let severity = member_str_either_case(member_either_case(update, "severity"), "label");
    workflow.is_some_and(|s| s.eq_ignore_ascii_case("SUPPRESSED"))
        || severity.is_some_and(|s| s.eq_ignore_ascii_case("INFORMATIONAL"))
}

/// Whether automation rule `actions` hide what they match.
fn actions_hide(actions: Option<&Value>) -> bool {
    actions
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|action| hides(member_either_case(Some(action), "findingFieldsUpdate")))
}

fn array<'v>(params: &'v Value, camel: &str) -> &'v [Value] {
    member_either_case(Some(params), camel)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn hiding(record: &Record<'_>, params: &Value) -> Option<Judged> {
    let field = |camel: &str| member_str_either_case(Some(params), camel);
    let region = region_arg(record);
    let hub = || Resource {
        kind: "AwsSecurityHubHub".to_owned(),
        id: regional_arn(record, "securityhub", "hub/default"),
        name: None,
    };
    let hiding = match record.event_name.as_ref() {
        "CreateAutomationRule" => {
            if !actions_hide(member_either_case(Some(params), "actions"))
                || field("ruleStatus").is_some_and(|s| s.eq_ignore_ascii_case("DISABLED"))
            {
                return None;
            }
            let name = field("ruleName").unwrap_or_else(|| "(unnamed)".to_owned());
            let arn = member_str_either_case(record.response_elements().as_ref(), "ruleArn");
            Judged {
                severity: Severity::Medium,
                done: format!("created Security Hub automation rule `{name}`, which suppresses the findings it matches as they arrive"),
                tried: format!("create Security Hub automation rule `{name}` suppressing findings"),
                undo: arn.as_ref().map(|arn| {
                    format!("aws securityhub batch-delete-automation-rules{region} --automation-rules-arns {}", sh(arn))
                }),
                resource: Resource {
                    kind: "AwsSecurityHubAutomationRule".to_owned(),
                    id: arn.unwrap_or_else(|| regional_arn(record, "securityhub", &format!("automation-rule/{name}"))),
                    name: Some(name),
                },
            }
        }
        "BatchUpdateAutomationRules" => {
            let items = array(params, "updateAutomationRulesRequestItems");
            let arns: Vec<&str> = items
                .iter()
                .filter(|item| actions_hide(member_either_case(Some(item), "actions")))
                .filter_map(|item| member_either_case(Some(item), "ruleArn")?.as_str())
                .collect();
            let first = *arns.first()?;
            Judged {
                severity: Severity::Medium,
                done: format!(
                    "set Security Hub automation rule(s) `{}` to suppress the findings they match",
                    arns.join("`, `")
                ),
                tried: format!(
                    "set Security Hub automation rule(s) `{}` to suppress findings",
                    arns.join("`, `")
                ),
                undo: None,
                resource: Resource {
                    kind: "AwsSecurityHubAutomationRule".to_owned(),
                    id: first.to_owned(),
                    name: Some(first.rsplit('/').next().unwrap_or(first).to_owned()),
                },
            }
        }
        "UpdateStandardsControl" => {
            if !field("controlStatus").is_some_and(|s| s.eq_ignore_ascii_case("DISABLED")) {
                return None;
            }
            let control = field("standardsControlArn").unwrap_or_else(|| "(unnamed)".to_owned());
            let short = control.rsplit('/').next().unwrap_or(&control).to_owned();
            Judged {
                severity: Severity::Medium,
                done: format!("disabled Security Hub control `{short}`, which stops failing"),
                tried: format!("disable Security Hub control `{short}`"),
                undo: Some(format!(
                    "aws securityhub update-standards-control{region} --standards-control-arn {} --control-status ENABLED",
                    sh(&control)
                )),
                resource: Resource {
                    kind: "AwsSecurityHubStandardsControl".to_owned(),
                    id: control,
                    name: Some(short),
                },
            }
        }
        "BatchUpdateStandardsControlAssociations" => {
            let controls: Vec<String> = array(params, "standardsControlAssociationUpdates")
                .iter()
                .filter(|update| {
                    member_str_either_case(Some(update), "associationStatus")
                        .is_some_and(|s| s.eq_ignore_ascii_case("DISABLED"))
                })
                .filter_map(|update| member_str_either_case(Some(update), "securityControlId"))
                .collect();
            let first = controls.first()?.clone();
            Judged {
                severity: Severity::Medium,
                done: format!(
                    "disabled Security Hub control(s) `{}`, which stop failing",
                    controls.join("`, `")
                ),
                tried: format!(
                    "disable Security Hub control(s) `{}`",
                    controls.join("`, `")
                ),
                undo: None,
                resource: Resource {
                    kind: "AwsSecurityHubStandardsControl".to_owned(),
                    id: regional_arn(record, "securityhub", &format!("security-control/{first}")),
                    name: Some(first),
                },
            }
        }
        "DisableImportFindingsForProduct" => {
            let subscription =
                field("productSubscriptionArn").unwrap_or_else(|| "(unnamed)".to_owned());
            let lower = subscription.to_ascii_lowercase();
            let detection = DETECTION_PRODUCTS
                .iter()
                .any(|p| lower.contains(&format!("/{p}")));
            Judged {
                severity: if detection {
                    Severity::Medium
                } else {
                    Severity::Low
                },
                done: format!(
                    "stopped importing the findings of `{subscription}` into Security Hub"
                ),
                tried: format!("stop importing the findings of `{subscription}`"),
                undo: None,
                resource: Resource {
                    kind: "AwsSecurityHubProductSubscription".to_owned(),
                    id: subscription.clone(),
                    // `…:product-subscription/aws/guardduty` is named `aws/guardduty`.
                    name: subscription
                        .split_once("product-subscription/")
                        .map(|(_, product)| product.to_owned()),
                },
            }
        }
        "BatchUpdateFindings" => {
            if !hides(Some(params)) {
                return None;
            }
            let findings = array(params, "findingIdentifiers");
            let from_guardduty = findings.iter().any(|f| {
                member_str_either_case(Some(f), "productArn")
                    .is_some_and(|arn| arn.to_ascii_lowercase().contains("/guardduty"))
            });
            let severity = if from_guardduty || findings.len() >= MASS_SUPPRESSION {
                Severity::Medium
            } else {
                Severity::Low
            };
            let whose = if from_guardduty {
                ", GuardDuty's among them"
            } else {
                ""
            };
            Judged {
                severity,
                done: format!(
                    "suppressed {} Security Hub finding(s){whose}",
                    findings.len()
                ),
                tried: format!("suppress {} Security Hub finding(s){whose}", findings.len()),
                undo: None,
                resource: hub(),
            }
        }
        "UpdateFindings" => {
            if !field("recordState").is_some_and(|s| s.eq_ignore_ascii_case("ARCHIVED")) {
                return None;
            }
            Judged {
                severity: Severity::Low,
                done: "archived the Security Hub findings its filters match".to_owned(),
                tried: "archive Security Hub findings".to_owned(),
                undo: None,
                resource: hub(),
            }
        }
        _ => return None,
    };
    Some(hiding)
}

/// The rule's calls, judgement and evidence ([`CallJudgement`]).
const JUDGEMENT: CallJudgement = CallJudgement {
    meta: &META,
    watched: WATCHED,
    judge: hiding,
    evidence_keys: &[
        "ruleName",
        "ruleStatus",
        "criteria",
        "actions",
        "updateAutomationRulesRequestItems",
        "standardsControlArn",
        "controlStatus",
        "disabledReason",
        "standardsControlAssociationUpdates",
        "productSubscriptionArn",
        "findingIdentifiers",
        "workflow",
        "severity",
        "note",
        "filters",
        "recordState",
    ],
    summary:
        "Unless the security team decided it, undo it (delete the automation rule, enable the \
          control, import the product's findings again, set the findings back to NEW) and review \
          what was hidden.",
};

call_judgement_rule!(
    /// Flags Security Hub findings suppressed and controls disabled.
    SecurityFindingsSuppressed,
    JUDGEMENT
);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn suppressing_or_informational_updates_hide_findings() {
        assert!(hides(Some(&json!({"workflow": {"status": "SUPPRESSED"}}))));
        assert!(hides(Some(
            &json!({"Severity": {"Label": "INFORMATIONAL"}})
        )));
        assert!(!hides(Some(
            &json!({"workflow": {"status": "NOTIFIED"}, "note": {"text": "x"}})
        )));
        let actions = json!([{"type": "FINDING_FIELDS_UPDATE", "findingFieldsUpdate": {"workflow": {"status": "SUPPRESSED"}}}]);
        assert!(actions_hide(Some(&actions)));
        assert!(!actions_hide(Some(
            &json!([{"type": "FINDING_FIELDS_UPDATE", "findingFieldsUpdate": {"userDefinedFields": {"team": "a"}}}])
        )));
    }
}
