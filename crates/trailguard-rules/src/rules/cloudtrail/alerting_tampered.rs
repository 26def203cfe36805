//! CT080 alerting-tampered: what turns CloudTrail into alerts, taken apart: CloudWatch alarms deleted or
//! silenced, the metric and subscription filters that feed them deleted, EventBridge rules disabled or
//! deleted, and a trail's CloudWatch Logs group deleted or given a short retention.

use serde_json::Value;
use trailguard_event::Record;

use super::common::{
    call_judgement_rule, region_arg, regional_arn, request_field, sh, CallJudgement, Judged,
};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::ANY_EVENT;

pub const META: RuleMeta = RuleMeta {
    code: "CT080",
    name: "alerting-tampered",
    title: "Alarms, log filters or EventBridge rules removed",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1562.001", "T1562.008", "T1070"],
    compliance: &["CIS-4.1", "CloudWatch.1"],
    events: &[ANY_EVENT],
    kb_entries: &[],
    doc: RuleDoc {
        what: "**medium**: CloudWatch alarms deleted (`DeleteAlarms`) or silenced (`DisableAlarmActions`: \
               the alarm still changes state but notifies no one); a CloudWatch Logs metric filter deleted \
               (`DeleteMetricFilter`: the log lines stop becoming the metric an alarm watches) or a \
               subscription filter deleted (`DeleteSubscriptionFilter`: the group stops streaming to a \
               SIEM, Lambda or Firehose); an EventBridge rule disabled (`DisableRule`); a trail's log group \
               deleted, one of its streams deleted, or its retention cut to 7 days or less \
               (`DeleteLogGroup`, `DeleteLogStream`, `PutRetentionPolicy`). A trail's log group is one \
               whose name mentions CloudTrail, as the console's default `aws-cloudtrail-logs-…` and Control \
               Tower's `aws-controltower/CloudTrailLogs` do. **low**: an EventBridge rule deleted or its \
               targets removed (`DeleteRule`, `RemoveTargets`), another log group deleted. Left out: calls \
               AWS makes (CloudFormation tearing down a stack, Auto Scaling removing its `TargetTracking-` \
               alarms). A refused call is an attempt, one step lower; a refused call that would be low is \
               not reported.",
        why: "The CIS monitoring controls (a metric filter and an alarm for root use, IAM changes, console \
              sign-ins without MFA, trail changes), GuardDuty and Security Hub findings routed by \
              EventBridge, and logs streamed to a SIEM are how people hear about the rest of an intrusion. \
              Removing them is quieter than stopping the trail (CT017): the trail keeps recording while \
              nobody is told (ATT&CK T1562.001, Impair Defenses). Deleting a trail's log group or expiring \
              it within days removes the evidence that was queryable (T1070).",
        example: "A role session calls `aws cloudwatch delete-alarms --alarm-names CIS-4.3-RootAccountUsage \
                  CIS-4.4-IAMPolicyChanges`, then `aws logs delete-metric-filter --log-group-name \
                  aws-cloudtrail-logs-111122223333-1a2b3c4d --filter-name RootAccountUsage`.",
        fix: "Put the alarms, filters and rules back from their source (infrastructure code, the CIS \
              set-up), re-enable alarm actions or the rule, and restore the log group's retention. Then \
              review what happened while nobody was being told: the trail still holds it. Deny these calls \
              outside the monitoring pipeline's role with a service control policy.",
        references: &[
            "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudwatch-alarms-for-cloudtrail.html",
            "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DisableAlarmActions.html",
            "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html",
            "https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_DisableRule.html",
            "https://attack.mitre.org/techniques/T1562/001/",
        ],
    },
};

/// The calls judged; whether they tamper depends on what they name.
const WATCHED: &[(&str, &str)] = &[
    ("monitoring.amazonaws.com", "DeleteAlarms"),
    ("monitoring.amazonaws.com", "DisableAlarmActions"),
    ("logs.amazonaws.com", "DeleteMetricFilter"),
    ("logs.amazonaws.com", "DeleteSubscriptionFilter"),
    ("logs.amazonaws.com", "DeleteLogGroup"),
    ("logs.amazonaws.com", "DeleteLogStream"),
    ("logs.amazonaws.com", "PutRetentionPolicy"),
    ("events.amazonaws.com", "DisableRule"),
    ("events.amazonaws.com", "DeleteRule"),
    ("events.amazonaws.com", "RemoveTargets"),
];

/// Retention at or below this many days leaves a trail's log group holding a week at most.
const SHORT_RETENTION_DAYS: u64 = 7;

/// Whether a log group's name says it receives a trail's events.
fn trail_log_group(name: &str) -> bool {
    name.to_ascii_lowercase().contains("cloudtrail")
}

/// `alarmNames` of a CloudWatch call, minus the alarms Auto Scaling target tracking creates and removes
/// by itself.
fn alarms(params: &Value) -> Vec<&str> {
    params
        .get("alarmNames")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|name| !name.starts_with("TargetTracking-"))
        .collect()
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn tampering(record: &Record<'_>, params: &Value) -> Option<Judged> {
    let field = |key: &str| request_field(Some(params), key);
    let region = region_arg(record);
    let group = || field("logGroupName").unwrap_or_else(|| "(unnamed)".to_owned());
    let group_resource = |group: &str| Resource {
        kind: "AwsLogsLogGroup".to_owned(),
        id: regional_arn(record, "logs", &format!("log-group:{group}")),
        name: Some(group.to_owned()),
    };
    let event_rule = || {
        let name = field("name")
            .or_else(|| field("rule"))
            .unwrap_or_else(|| "(unnamed)".to_owned());
        let bus = field("eventBusName").filter(|b| b != "default");
        let path = match &bus {
            Some(bus) => format!("rule/{bus}/{name}"),
            None => format!("rule/{name}"),
        };
        let resource = Resource {
            kind: "AwsEventsRule".to_owned(),
            id: regional_arn(record, "events", &path),
            name: Some(name.clone()),
        };
        let bus_arg = bus
            .map(|b| format!(" --event-bus-name {}", sh(&b)))
            .unwrap_or_default();
        (name, resource, bus_arg)
    };
    let tampering = match record.event_name.as_ref() {
        name @ ("DeleteAlarms" | "DisableAlarmActions") => {
            let names = alarms(params);
            let first = *names.first()?;
            let (verb, infinitive, undo) = if name == "DeleteAlarms" {
                ("deleted", "delete", None)
            } else {
                let args: Vec<String> = names.iter().map(|n| sh(n).into_owned()).collect();
                (
                    "silenced (actions disabled)",
                    "silence",
                    Some(format!(
                        "aws cloudwatch enable-alarm-actions{region} --alarm-names {}",
                        args.join(" ")
                    )),
                )
            };
            Judged {
                severity: Severity::Medium,
                done: format!("{verb} CloudWatch alarm(s) {}", quoted(&names)),
                tried: format!("{infinitive} CloudWatch alarm(s) {}", quoted(&names)),
                resource: Resource {
                    kind: "AwsCloudWatchAlarm".to_owned(),
                    id: regional_arn(record, "cloudwatch", &format!("alarm:{first}")),
                    name: Some(first.to_owned()),
                },
                undo,
            }
        }
        name @ ("DeleteMetricFilter" | "DeleteSubscriptionFilter") => {
            let group = group();
            let filter = field("filterName").unwrap_or_else(|| "(unnamed)".to_owned());
            let kind = if name == "DeleteMetricFilter" {
                "metric filter (the metric an alarm watches)"
            } else {
                "subscription filter (where the group streams its events)"
            };
            Judged {
                severity: Severity::Medium,
                done: format!("deleted {kind} `{filter}` of log group `{group}`"),
                tried: format!("delete {kind} `{filter}` of log group `{group}`"),
                resource: group_resource(&group),
                undo: None,
            }
        }
        "DeleteLogGroup" => {
            let group = group();
            let (severity, whose) = if trail_log_group(&group) {
                (Severity::Medium, "trail log group")
            } else {
                (Severity::Low, "log group")
            };
            Judged {
                severity,
                done: format!("deleted {whose} `{group}` and every event it held"),
                tried: format!("delete {whose} `{group}`"),
                resource: group_resource(&group),
                undo: None,
            }
        }
        "DeleteLogStream" => {
            let group = group();
            if !trail_log_group(&group) {
                return None;
            }
            let stream = field("logStreamName").unwrap_or_else(|| "(unnamed)".to_owned());
            Judged {
                severity: Severity::Medium,
                done: format!("deleted stream `{stream}` of trail log group `{group}`"),
                tried: format!("delete stream `{stream}` of trail log group `{group}`"),
                resource: group_resource(&group),
                undo: None,
            }
        }
        "PutRetentionPolicy" => {
            let group = group();
            let days = params.get("retentionInDays").and_then(Value::as_u64)?;
            if !trail_log_group(&group) || days > SHORT_RETENTION_DAYS {
                return None;
            }
            Judged {
                severity: Severity::Medium,
                done: format!("cut the retention of trail log group `{group}` to {days} day(s)"),
                tried: format!("cut the retention of trail log group `{group}` to {days} day(s)"),
                undo: Some(format!(
                    "aws logs delete-retention-policy{region} --log-group-name {}",
                    sh(&group)
                )),
                resource: group_resource(&group),
            }
        }
        "DisableRule" => {
            let (name, resource, bus_arg) = event_rule();
            Judged {
                severity: Severity::Medium,
                done: format!("disabled EventBridge rule `{name}`"),
                tried: format!("disable EventBridge rule `{name}`"),
                undo: Some(format!(
                    "aws events enable-rule{region} --name {}{bus_arg}",
                    sh(&name)
                )),
                resource,
            }
        }
        name @ ("DeleteRule" | "RemoveTargets") => {
            let (rule, resource, _) = event_rule();
            let (done, tried) = if name == "DeleteRule" {
                (
                    format!("deleted EventBridge rule `{rule}`"),
                    format!("delete EventBridge rule `{rule}`"),
                )
            } else {
                (
                    format!("removed the targets of EventBridge rule `{rule}`"),
                    format!("remove the targets of EventBridge rule `{rule}`"),
                )
            };
            Judged {
                severity: Severity::Low,
                done,
                tried,
                resource,
                undo: None,
            }
        }
        _ => return None,
    };
    Some(tampering)
}

/// The rule's calls, judgement and evidence ([`CallJudgement`]).
const JUDGEMENT: CallJudgement = CallJudgement {
    meta: &META,
    watched: WATCHED,
    judge: tampering,
    evidence_keys: &[
        "alarmNames",
        "logGroupName",
        "logStreamName",
        "filterName",
        "retentionInDays",
        "name",
        "rule",
        "eventBusName",
        "ids",
    ],
    summary: "Unless the monitoring team planned it, put it back from its source and review what \
          happened while nobody was told; treat the caller's credentials as compromised.",
};

call_judgement_rule!(
    /// Flags alarms, log filters, trail log groups and EventBridge rules removed or silenced.
    AlertingTampered,
    JUDGEMENT
);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn target_tracking_alarms_are_auto_scaling_s_own() {
        let params =
            json!({"alarmNames": ["TargetTracking-table/orders-AlarmHigh-1a2b", "CIS-root-usage"]});
        assert_eq!(alarms(&params), vec!["CIS-root-usage"]);
        assert!(alarms(&json!({"alarmNames": ["TargetTracking-x"]})).is_empty());
    }

    #[test]
    fn trail_log_groups_are_known_by_name() {
        assert!(trail_log_group("aws-cloudtrail-logs-111122223333-1a2b3c4d"));
        assert!(trail_log_group("aws-controltower/CloudTrailLogs"));
        assert!(trail_log_group("CloudTrail/DefaultLogGroup"));
        assert!(!trail_log_group("/aws/lambda/orders"));
    }
}
