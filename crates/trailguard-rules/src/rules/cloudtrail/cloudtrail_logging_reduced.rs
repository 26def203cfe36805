//! CT018 cloudtrail-logging-reduced: UpdateTrail / PutEventSelectors that record less than before.

use serde_json::Value;
use trailguard_event::Record;

use super::common::{
    call_failed, describe_caller, evidence, finding_for, region_arg, request_field, sh,
};
use crate::call::Call;
use crate::finding::{Evidence, Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{CloudTrailRule, EventContext, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT018",
    name: "cloudtrail-logging-reduced",
    title: "CloudTrail logging reduced",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1562.008"],
    compliance: &["CIS-3.1", "CIS-3.2", "CIS-4.5", "CloudWatch.5", "CloudTrail.1", "CloudTrail.4"],
    events: &[
        ("cloudtrail.amazonaws.com", "UpdateTrail"),
        ("cloudtrail.amazonaws.com", "PutEventSelectors"),
    ],
    kb_entries: &["UpdateTrail", "PutEventSelectors"],
    doc: RuleDoc {
        what: "`PutEventSelectors` that turns management events off (`includeManagementEvents: false`, or \
               advanced selectors with no `Management` category), records only read or only write calls \
               (`readWriteType` `ReadOnly`/`WriteOnly`, advanced `readOnly` field), or excludes management \
               event sources (e.g. `kms.amazonaws.com`); and `UpdateTrail` that switches off multi-region \
               logging, global service events or log file validation, or points the trail at another bucket. \
               **high** when management or write events stop being recorded.",
        why: "Event selectors are a quieter way to blind a trail than `StopLogging`: the trail still shows as \
              logging, but the events an attacker cares about are no longer written (Stratus Red Team \
              `cloudtrail-event-selectors`). Turning off multi-region or global events hides activity in unused \
              regions and in IAM; a new destination bucket can send the log to the attacker.",
        example: "`aws cloudtrail put-event-selectors --trail-name t --event-selectors \
                  '[{\"ReadWriteType\":\"ReadOnly\",\"IncludeManagementEvents\":false}]'`",
        fix: "Put the selectors back to all management events, read and write (`ReadWriteType: All`, \
              `IncludeManagementEvents: true`), and re-enable multi-region, global events and log file \
              validation. Check data-event selectors you rely on before replacing selectors. Deny \
              `cloudtrail:PutEventSelectors` and `cloudtrail:UpdateTrail` outside your logging pipeline.",
        references: &[
            "https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_PutEventSelectors.html",
            "https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_UpdateTrail.html",
            "https://stratus-red-team.cloud/attack-techniques/AWS/aws.defense-evasion.cloudtrail-event-selectors/",
        ],
    },
};

/// One way a trail records less, with whether it is severe.
struct Reduction {
    evidence: Evidence,
    description: String,
    severe: bool,
}

/// Flags trail changes that reduce what is logged.
#[derive(Debug, Default)]
pub struct CloudtrailLoggingReduced;

fn put_event_selectors(params: &Value) -> Vec<Reduction> {
    let mut found = Vec::new();
    if let Some(selectors) = params.get("eventSelectors").and_then(Value::as_array) {
        for (i, selector) in selectors.iter().enumerate() {
            let path = format!("requestParameters.eventSelectors[{i}]");
            if selector
                .get("includeManagementEvents")
                .and_then(Value::as_bool)
                == Some(false)
            {
                found.push(Reduction {
                    evidence: evidence(format!("{path}.includeManagementEvents"), false),
                    description: "management events are no longer recorded".to_owned(),
                    severe: true,
                });
            }
            match selector.get("readWriteType").and_then(Value::as_str) {
                Some("ReadOnly") => found.push(Reduction {
                    evidence: evidence(format!("{path}.readWriteType"), "ReadOnly"),
                    description: "write (change) events are no longer recorded".to_owned(),
                    severe: true,
                }),
                Some("WriteOnly") => found.push(Reduction {
                    evidence: evidence(format!("{path}.readWriteType"), "WriteOnly"),
                    description: "read events are no longer recorded".to_owned(),
                    severe: false,
                }),
                _ => {}
            }
            if let Some(excluded) = selector
                .get("excludeManagementEventSources")
                .and_then(Value::as_array)
                .filter(|a| !a.is_empty())
            {
                found.push(Reduction {
                    evidence: evidence(
                        format!("{path}.excludeManagementEventSources"),
                        Value::Array(excluded.clone()),
                    ),
                    description: "some management event sources are excluded".to_owned(),
                    severe: false,
                });
            }
        }
        // Every selector left management events out: nothing of the control plane is logged.
        let any_management = selectors
            .iter()
            .any(|s| s.get("includeManagementEvents").and_then(Value::as_bool) != Some(false));
        if !selectors.is_empty() && !any_management {
            found.retain(|r| !r.description.starts_with("management events"));
            found.insert(
                0,
                Reduction {
                    evidence: evidence(
                        "requestParameters.eventSelectors[*].includeManagementEvents",
                        false,
                    ),
                    description: "management events are no longer recorded".to_owned(),
                    severe: true,
                },
            );
        }
    }
    if let Some(advanced) = params
        .get("advancedEventSelectors")
        .and_then(Value::as_array)
    {
        let mut management = false;
        for (i, selector) in advanced.iter().enumerate() {
            let fields = selector
                .get("fieldSelectors")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let field = |name: &str| {
                fields
                    .iter()
                    .find(|f| f.get("field").and_then(Value::as_str) == Some(name))
                    .cloned()
            };
            let is_management = field("eventCategory")
                .and_then(|f| f.get("equals").cloned())
                .and_then(|v| v.as_array().cloned())
                .is_some_and(|v| v.iter().any(|x| x == "Management"));
            if is_management {
                management = true;
                if let Some(read_only) = field("readOnly").and_then(|f| f.get("equals").cloned()) {
                    let only_reads = read_only
                        .as_array()
                        .is_some_and(|v| v.len() == 1 && v[0] == "true");
                    let only_writes = read_only
                        .as_array()
                        .is_some_and(|v| v.len() == 1 && v[0] == "false");
                    if only_reads || only_writes {
                        found.push(Reduction {
                            evidence: evidence(
                                format!(
                                    "requestParameters.advancedEventSelectors[{i}].fieldSelectors"
                                ),
                                Value::Array(fields.clone()),
                            ),
                            description: if only_reads {
                                "write (change) events are no longer recorded".to_owned()
                            } else {
                                "read events are no longer recorded".to_owned()
                            },
                            severe: only_reads,
                        });
                    }
                }
                if let Some(excluded) =
                    field("eventSource").and_then(|f| f.get("notEquals").cloned())
                {
                    found.push(Reduction {
                        evidence: evidence(format!("requestParameters.advancedEventSelectors[{i}].eventSource.notEquals"), excluded),
                        description: "some management event sources are excluded".to_owned(),
                        severe: false,
                    });
                }
            }
        }
        if !management {
            found.push(Reduction {
                evidence: evidence(
                    "requestParameters.advancedEventSelectors",
                    Value::Array(advanced.clone()),
                ),
                description: "no advanced selector records management events".to_owned(),
                severe: true,
            });
        }
    }
    found
}

fn update_trail(params: &Value) -> Vec<Reduction> {
    let mut found = Vec::new();
    let mut off = |key: &str, description: &str, severe: bool| {
        if params.get(key).and_then(Value::as_bool) == Some(false) {
            found.push(Reduction {
                evidence: evidence(format!("requestParameters.{key}"), false),
                description: description.to_owned(),
                severe,
            });
        }
    };
    off(
        "isMultiRegionTrail",
        "the trail no longer records every region",
        true,
    );
    off(
        "includeGlobalServiceEvents",
        "global service events (IAM, STS, CloudFront) are no longer recorded",
        true,
    );
    off(
        "enableLogFileValidation",
        "log file validation is off, so tampering with delivered logs goes unnoticed",
        false,
    );
    if let Some(bucket) = params.get("s3BucketName").and_then(Value::as_str) {
        found.push(Reduction {
            evidence: evidence("requestParameters.s3BucketName", bucket),
            description: format!("logs now go to bucket `{bucket}`; confirm it is yours"),
            severe: false,
        });
    }
    for key in ["cloudWatchLogsLogGroupArn", "kmsKeyId"] {
        if params.get(key).and_then(Value::as_str) == Some("") {
            found.push(Reduction {
                evidence: evidence(format!("requestParameters.{key}"), ""),
                description: if key == "kmsKeyId" {
                    "log encryption with a KMS key was removed".to_owned()
                } else {
                    "delivery to CloudWatch Logs (and its alarms) was removed".to_owned()
                },
                severe: false,
            });
        }
    }
    found
}

impl CloudTrailRule for CloudtrailLoggingReduced {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let Some(params) = record.request_parameters() else {
            return;
        };
        let selectors = record.event_name == "PutEventSelectors";
        let reductions = if selectors {
            put_event_selectors(&params)
        } else {
            update_trail(&params)
        };
        if reductions.is_empty() {
            return;
        }
        let trail = request_field(Some(&params), if selectors { "trailName" } else { "name" })
            .unwrap_or_else(|| "unknown".to_owned());
        let severity = if reductions.iter().any(|r| r.severe) {
            Severity::High
        } else {
            META.severity
        };
        let mut finding = finding_for(&META, record, severity);
        let who = describe_caller(&EventContext::from_record(record));
        let list = reductions
            .iter()
            .map(|r| r.description.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        finding.message = if call_failed(record) {
            format!("{who} tried to reduce logging on trail `{trail}` ({list}); the call failed.")
        } else {
            format!("{who} reduced logging on trail `{trail}`: {list}.")
        };
        let trail_arn = record
            .response_elements()
            .and_then(|r| r.get("trailARN").and_then(Value::as_str).map(str::to_owned));
        finding.resource = Some(Resource {
            kind: "AwsCloudTrailTrail".to_owned(),
            id: trail_arn.unwrap_or_else(|| trail.clone()),
            name: Some(trail.rsplit('/').next().unwrap_or(&trail).to_owned()),
        });
        finding.evidence = reductions.into_iter().map(|r| r.evidence).collect();
        let region = region_arg(record);
        if call_failed(record) {
            finding.fix.summary =
                "Nothing changed; find out why this principal tried to.".to_owned();
        } else if selectors {
            finding.fix.summary =
                "Record all management events again (read and write). Replacing selectors also \
                                   replaces data-event selectors: add back the ones you need."
                    .to_owned();
            finding.fix.commands = vec![
                format!("aws cloudtrail get-event-selectors --trail-name {}{region}", sh(&trail)),
                format!(
                    "aws cloudtrail put-event-selectors --trail-name {} --event-selectors '[{{\"ReadWriteType\":\"All\",\"IncludeManagementEvents\":true}}]'{region}",
                    sh(&trail)
                ),
            ];
            finding.fix.actions.push(FixAction::Manual {
                description: format!(
                    "Restore event selectors on trail `{trail}` to all management events."
                ),
            });
        } else {
            finding.fix.summary = "Re-enable multi-region logging, global service events and log file validation, and \
                                   check the destination bucket."
                .to_owned();
            finding.fix.commands = vec![
                format!(
                    "aws cloudtrail describe-trails --trail-name-list {}{region}",
                    sh(&trail)
                ),
                format!(
                    "{}{region}",
                    Call::UpdateTrail {
                        name: trail.clone(),
                        is_multi_region_trail: Some(true),
                        include_global_service_events: Some(true),
                        enable_log_file_validation: Some(true),
                    }
                    .to_cli()
                ),
            ];
            finding.fix.actions.push(FixAction::Manual {
                description: format!("Restore the configuration of trail `{trail}`."),
            });
        }
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent};

    fn selectors(body: &str) -> TestEvent {
        TestEvent::new("cloudtrail.amazonaws.com", "PutEventSelectors").request(&format!(
            r#"{{"eventSelectors":{body},"trailName":"main-trail"}}"#
        ))
    }

    #[test]
    fn management_events_off_and_read_only_is_high() {
        let e = selectors(
            r#"[{"dataResources":[],"excludeManagementEventSources":[],"includeManagementEvents":false,"readWriteType":"ReadOnly"}]"#,
        );
        let f = &check(&CloudtrailLoggingReduced, &e)[0];
        assert_eq!(f.severity, Severity::High);
        assert!(
            f.message
                .contains("management events are no longer recorded"),
            "{}",
            f.message
        );
        assert!(f.message.contains("write (change) events"), "{}", f.message);
        assert!(f.fix.commands[1].contains("put-event-selectors --trail-name main-trail"));
    }

    #[test]
    fn full_management_logging_is_not_flagged_but_exclusions_are_medium() {
        let all = selectors(
            r#"[{"includeManagementEvents":true,"readWriteType":"All","excludeManagementEventSources":[]}]"#,
        );
        assert!(check(&CloudtrailLoggingReduced, &all).is_empty());
        let kms = selectors(
            r#"[{"includeManagementEvents":true,"readWriteType":"All","excludeManagementEventSources":["kms.amazonaws.com"]}]"#,
        );
        assert_eq!(
            check(&CloudtrailLoggingReduced, &kms)[0].severity,
            Severity::Medium
        );
    }

    #[test]
    fn advanced_selectors_without_management_are_high() {
        let e = TestEvent::new("cloudtrail.amazonaws.com", "PutEventSelectors").request(
            r#"{"trailName":"main-trail","advancedEventSelectors":[{"name":"s3 only","fieldSelectors":[{"field":"eventCategory","equals":["Data"]},{"field":"resources.type","equals":["AWS::S3::Object"]}]}]}"#,
        );
        assert_eq!(
            check(&CloudtrailLoggingReduced, &e)[0].severity,
            Severity::High
        );
        let ok = TestEvent::new("cloudtrail.amazonaws.com", "PutEventSelectors").request(
            r#"{"trailName":"main-trail","advancedEventSelectors":[{"name":"mgmt","fieldSelectors":[{"field":"eventCategory","equals":["Management"]}]}]}"#,
        );
        assert!(check(&CloudtrailLoggingReduced, &ok).is_empty());
    }

    #[test]
    fn update_trail_turning_off_multi_region_is_high() {
        let e = TestEvent::new("cloudtrail.amazonaws.com", "UpdateTrail").request(
            r#"{"name":"main-trail","isMultiRegionTrail":false,"enableLogFileValidation":false}"#,
        );
        let f = &check(&CloudtrailLoggingReduced, &e)[0];
        assert_eq!(f.severity, Severity::High);
        assert_eq!(f.evidence.len(), 2);
        let harmless = TestEvent::new("cloudtrail.amazonaws.com", "UpdateTrail").request(
            r#"{"name":"main-trail","isMultiRegionTrail":true,"enableLogFileValidation":true}"#,
        );
        assert!(check(&CloudtrailLoggingReduced, &harmless).is_empty());
    }

    #[test]
    fn a_denied_change_is_an_attempt() {
        let e = selectors(r#"[{"includeManagementEvents":false,"readWriteType":"All"}]"#).denied();
        let f = &check(&CloudtrailLoggingReduced, &e)[0];
        assert_eq!(f.severity, Severity::Medium);
        assert!(f.fix.commands.is_empty());
    }
}
