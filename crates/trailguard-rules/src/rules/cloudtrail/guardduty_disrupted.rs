//! CT066 guardduty-disrupted: GuardDuty turned off, blinded or told to look away: a detector deleted or
//! disabled, its data sources switched off, an address put on its trusted list, a filter that archives
//! findings as they come, or an account cut from its GuardDuty administrator.

use serde_json::Value;
use trailguard_event::Record;

use super::common::{
    call_failed, describe_caller, event_in, finding_for, region_arg, regional_arn,
    request_evidence, request_field, sh, worth_reporting,
};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{CloudTrailRule, EventContext, Report, ANY_EVENT};

pub const META: RuleMeta = RuleMeta {
    code: "CT066",
    name: "guardduty-disrupted",
    title: "GuardDuty disabled or blinded",
    family: Family::Cloudtrail,
    severity: Severity::High,
    attack: &["T1562.001"],
    compliance: &["GuardDuty.1"],
    events: &[ANY_EVENT],
    kb_entries: &[],
    doc: RuleDoc {
        what: "**high**: a GuardDuty detector deleted (`DeleteDetector`) or disabled (`UpdateDetector` with \
               `enable: false`): no more findings in that account and region. **medium**: protection \
               plans or data sources switched off (`UpdateDetector` with a feature `DISABLED` or a data \
               source `enable: false`); a trusted IP list created or changed (`CreateIPSet`, \
               `UpdateIPSet`: GuardDuty raises nothing for traffic from its addresses); a filter that \
               archives findings as they arrive (`CreateFilter`, `UpdateFilter` with action `ARCHIVE`); a \
               member account leaving its GuardDuty administrator (`DisassociateFromAdministratorAccount`, \
               `DisassociateFromMasterAccount`) or an administrator dropping members \
               (`DisassociateMembers`, `DeleteMembers`, `StopMonitoringMembers`); a threat intelligence list \
               deleted or deactivated (`DeleteThreatIntelSet`, `UpdateThreatIntelSet` with `activate: \
               false`: its known-bad addresses no longer raise findings). **low**: a findings \
               export destination deleted (`DeletePublishingDestination`). A refused call is an attempt, one \
               step lower; a refused call that would be low is not reported.",
        why: "GuardDuty is what notices stolen credentials in use (calls from unusual networks, instance \
              credentials used outside EC2, crypto-mining). Attackers who can, turn it off or make it look \
              away before the noisy part of an attack (ATT&CK T1562.001, Impair Defenses): deleting the \
              detector, putting their own addresses on the trusted list, or auto-archiving the findings \
              their tools trigger, which leaves the console quiet while the detector still runs. Security \
              Hub control GuardDuty.1 asks that GuardDuty be enabled.",
        example: "A role session that has just created an access key calls `aws guardduty create-ip-set \
                  --detector-id 12abc34d567e8fa901bc2d34eexample --name office --format TXT --location \
                  https://s3.amazonaws.com/attacker-bucket/ips.txt --activate`.",
        fix: "Undo the change (re-enable the detector or its protections, delete the trusted IP list or the \
              archive filter, re-associate the account) and review the findings GuardDuty raised or would \
              have raised since, then the caller's other activity. Deny these calls outside a security \
              role with a service control policy.",
        references: &[
            "https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_upload-lists.html",
            "https://docs.aws.amazon.com/guardduty/latest/ug/findings_suppression-rule.html",
            "https://docs.aws.amazon.com/securityhub/latest/userguide/guardduty-controls.html",
            "https://attack.mitre.org/techniques/T1562/001/",
        ],
    },
};

/// The GuardDuty calls judged; which of them disrupt depends on their parameters.
const WATCHED: &[(&str, &str)] = &[
    ("guardduty.amazonaws.com", "DeleteDetector"),
    ("guardduty.amazonaws.com", "UpdateDetector"),
    ("guardduty.amazonaws.com", "CreateIPSet"),
    ("guardduty.amazonaws.com", "UpdateIPSet"),
    ("guardduty.amazonaws.com", "CreateFilter"),
    ("guardduty.amazonaws.com", "UpdateFilter"),
    (
        "guardduty.amazonaws.com",
        "DisassociateFromAdministratorAccount",
    ),
    ("guardduty.amazonaws.com", "DisassociateFromMasterAccount"),
    ("guardduty.amazonaws.com", "DisassociateMembers"),
    ("guardduty.amazonaws.com", "DeleteMembers"),
    ("guardduty.amazonaws.com", "StopMonitoringMembers"),
    ("guardduty.amazonaws.com", "DeletePublishingDestination"),
    ("guardduty.amazonaws.com", "DeleteThreatIntelSet"),
    ("guardduty.amazonaws.com", "UpdateThreatIntelSet"),
];

/// What a call did to GuardDuty: its severity, a past-tense phrase, and the command that undoes it.
struct Disruption {
    severity: Severity,
    done: String,
    undo: Option<String>,
}

/// The protection plans (`features`) and older data sources an `UpdateDetector` call switched off.
fn switched_off(params: &Value) -> Vec<String> {
    let mut off: Vec<String> = params
        .get("features")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|f| f.get("status").and_then(Value::as_str) == Some("DISABLED"))
        .filter_map(|f| f.get("name")?.as_str().map(str::to_owned))
        .collect();
    // `dataSources`: {"s3Logs": {"enable": false}, "kubernetes": {"auditLogs": {"enable": false}}, ...}
    fn walk(path: &str, value: &Value, off: &mut Vec<String>) {
        let Some(map) = value.as_object() else {
            return;
        };
        if map.get("enable").and_then(Value::as_bool) == Some(false) {
            off.push(path.to_owned());
        }
        for (key, inner) in map {
            let inner_path = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            walk(&inner_path, inner, off);
        }
    }
    if let Some(sources) = params.get("dataSources") {
        walk("", sources, &mut off);
    }
    off
}

fn disruption(record: &Record<'_>, params: &Value, detector: &str) -> Option<Disruption> {
    let field = |key: &str| request_field(Some(params), key);
    let region = region_arg(record);
    let d = sh(detector);
    let (severity, done, undo) = match record.event_name.as_ref() {
        "DeleteDetector" => (
            Severity::High,
            "deleted GuardDuty detector".to_owned(),
            Some(format!("aws guardduty create-detector{region} --enable")),
        ),
        "UpdateDetector" if params.get("enable").and_then(Value::as_bool) == Some(false) => (
            Severity::High,
            "disabled GuardDuty detector".to_owned(),
            Some(format!(
                "aws guardduty update-detector{region} --detector-id {d} --enable"
            )),
        ),
        "UpdateDetector" => {
            let off = switched_off(params);
            if off.is_empty() {
                return None;
            }
            let features: Vec<Value> = off
                .iter()
                .filter(|name| !name.contains('.') && name.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
                .map(|name| serde_json::json!({ "Name": name, "Status": "ENABLED" }))
                .collect();
            let undo = (!features.is_empty()).then(|| {
                format!(
                    "aws guardduty update-detector{region} --detector-id {d} --features {}",
                    sh(&Value::Array(features).to_string())
                )
            });
            (
                Severity::Medium,
                format!("switched off {} of GuardDuty detector", off.join(", ")),
                undo,
            )
        }
        name @ ("CreateIPSet" | "UpdateIPSet") => {
            // An update that does not say `activate: false` leaves or makes the list active.
            if params.get("activate").and_then(Value::as_bool) == Some(false) {
                return None;
            }
            let list = field("name")
                .or_else(|| field("ipSetId"))
                .unwrap_or_else(|| "(unnamed)".to_owned());
            let id = field("ipSetId").or_else(|| {
                record
                    .response_elements()
                    .and_then(|r| r.get("ipSetId")?.as_str().map(str::to_owned))
            });
            let verb = if name == "CreateIPSet" { "created" } else { "changed" };
            (
                Severity::Medium,
                format!(
                    "{verb} trusted IP list `{list}` (from {}) of GuardDuty detector",
                    field("location").unwrap_or_else(|| "an unnamed location".to_owned())
                ),
                id.map(|id| {
                    format!(
                        "aws guardduty delete-ip-set{region} --detector-id {d} --ip-set-id {}",
                        sh(&id)
                    )
                }),
            )
        }
        "CreateFilter" | "UpdateFilter" => {
            if !field("action").is_some_and(|a| a.eq_ignore_ascii_case("ARCHIVE")) {
                return None;
            }
            let filter = field("name")
                .or_else(|| field("filterName"))
                .unwrap_or_else(|| "(unnamed)".to_owned());
            (
                Severity::Medium,
                format!("set filter `{filter}` to archive findings as they arrive, on GuardDuty detector"),
                Some(format!(
                    "aws guardduty delete-filter{region} --detector-id {d} --filter-name {}",
                    sh(&filter)
                )),
            )
        }
        "DisassociateFromAdministratorAccount" | "DisassociateFromMasterAccount" => (
            Severity::Medium,
            "cut the account from its GuardDuty administrator, which no longer sees its findings, on \
             detector"
                .to_owned(),
            None,
        ),
        name @ ("DisassociateMembers" | "DeleteMembers" | "StopMonitoringMembers") => {
            let accounts: Vec<String> = params
                .get("accountIds")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str().map(str::to_owned))
                .collect();
            let what = match name {
                "StopMonitoringMembers" => "stopped monitoring",
                "DeleteMembers" => "deleted",
                _ => "disassociated",
            };
            (
                Severity::Medium,
                format!(
                    "{what} member account(s) {} of GuardDuty detector",
                    if accounts.is_empty() {
                        "(unnamed)".to_owned()
                    } else {
                        accounts.join(", ")
                    }
                ),
                None,
            )
        }
        "DeleteThreatIntelSet" => (
            Severity::Medium,
            format!(
                "deleted threat intelligence list `{}` (GuardDuty no longer flags traffic with the \
                 addresses it named) of GuardDuty detector",
                field("threatIntelSetId").unwrap_or_else(|| "(unnamed)".to_owned())
            ),
            None,
        ),
        "UpdateThreatIntelSet" => {
            if params.get("activate").and_then(Value::as_bool) != Some(false) {
                return None;
            }
            let id = field("threatIntelSetId").unwrap_or_else(|| "(unnamed)".to_owned());
            (
                Severity::Medium,
                format!(
                    "deactivated threat intelligence list `{id}` (GuardDuty no longer flags traffic \
                     with the addresses it names) of GuardDuty detector"
                ),
                Some(format!(
                    "aws guardduty update-threat-intel-set{region} --detector-id {d} --threat-intel-set-id {} --activate",
                    sh(&id)
                )),
            )
        }
        "DeletePublishingDestination" => (
            Severity::Low,
            "deleted a findings export destination of GuardDuty detector".to_owned(),
            None,
        ),
        _ => return None,
    };
    Some(Disruption {
        severity,
        done,
        undo,
    })
}

/// Flags GuardDuty being turned off or made to look away.
#[derive(Debug, Default)]
pub struct GuarddutyDisrupted;

impl CloudTrailRule for GuarddutyDisrupted {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn watched(&self) -> &'static [(&'static str, &'static str)] {
        WATCHED
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        if !event_in(record, WATCHED) {
            return;
        }
        let params = record.request_parameters().unwrap_or(Value::Null);
        let detector =
            request_field(Some(&params), "detectorId").unwrap_or_else(|| "(unnamed)".to_owned());
        let Some(disruption) = disruption(record, &params, &detector) else {
            return;
        };
        let failed = call_failed(record);
        if !worth_reporting(failed, disruption.severity) {
            return;
        }
        let mut finding = finding_for(&META, record, disruption.severity);
        let who = describe_caller(&EventContext::from_record(record));
        finding.message = if failed {
            format!(
                "{who} tried to call guardduty:{} on detector `{detector}`; the call failed.",
                record.event_name
            )
        } else {
            format!("{who} {} `{detector}`.", disruption.done)
        };
        finding.resource = Some(Resource {
            kind: "AwsGuardDutyDetector".to_owned(),
            id: regional_arn(record, "guardduty", &format!("detector/{detector}")),
            name: Some(detector.clone()),
        });
        request_evidence(
            &mut finding,
            Some(&params),
            &[
                "enable",
                "features",
                "dataSources",
                "name",
                "location",
                "activate",
                "action",
                "findingCriteria",
                "accountIds",
                "threatIntelSetId",
            ],
        );
        if failed {
            finding.fix.summary =
                "Nothing changed; find out why this principal tried to change GuardDuty."
                    .to_owned();
        } else {
            finding.fix.summary =
                "Unless the change was planned by the security team, undo it and review \
                                   the findings GuardDuty raised, or would have raised, since."
                    .to_owned();
            finding.fix.commands = disruption.undo.into_iter().collect();
            finding.fix.actions.push(FixAction::Manual {
                description: format!(
                    "Confirm the GuardDuty change on detector `{detector}` with the security team; if it \
                     was not planned, undo it and treat the caller's credentials as compromised."
                ),
            });
        }
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn data_sources_and_features_switched_off_are_named() {
        let params = json!({
            "detectorId": "d",
            "features": [
                {"name": "S3_DATA_EVENTS", "status": "DISABLED"},
                {"name": "EKS_AUDIT_LOGS", "status": "ENABLED"}
            ],
            "dataSources": {"s3Logs": {"enable": false}, "kubernetes": {"auditLogs": {"enable": true}}}
        });
        assert_eq!(switched_off(&params), vec!["S3_DATA_EVENTS", "s3Logs"]);
        assert!(switched_off(&json!({"findingPublishingFrequency": "FIFTEEN_MINUTES"})).is_empty());
    }
}
