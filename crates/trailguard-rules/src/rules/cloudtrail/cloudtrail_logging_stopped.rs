//! CT017 cloudtrail-logging-stopped: StopLogging and DeleteTrail.

use trailguard_event::Record;

use super::common::{
    call_failed, describe_caller, evidence, finding_for, region_arg, regional_arn, request_field,
    sh,
};
use crate::call::Call;
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{CloudTrailRule, EventContext, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT017",
    name: "cloudtrail-logging-stopped",
    title: "CloudTrail logging stopped",
    family: Family::Cloudtrail,
    severity: Severity::High,
    attack: &["T1562.008"],
    compliance: &["CIS-3.1", "CIS-4.5", "CloudWatch.5", "CloudTrail.1"],
    events: &[
        ("cloudtrail.amazonaws.com", "StopLogging"),
        ("cloudtrail.amazonaws.com", "DeleteTrail"),
    ],
    kb_entries: &["StopLogging", "DeleteTrail"],
    doc: RuleDoc {
        what: "`StopLogging` (the trail stops delivering events) and `DeleteTrail` (the trail is gone).",
        why: "Turning off the audit trail is the classic first move of an intruder who wants the rest of their \
              work unrecorded (ATT&CK T1562.008; Stratus Red Team `cloudtrail-stop`, `cloudtrail-delete`). \
              Anything done after this event may be missing from the logs you are reading. CIS requires a \
              multi-region trail that is always on, and an alarm on trail configuration changes.",
        example: "`aws cloudtrail stop-logging --name management-trail`",
        fix: "Restart logging (`start-logging`) or recreate the trail as a multi-region trail with log file \
              validation, then look for activity in the gap using other sources (CloudTrail event history keeps \
              90 days of management events even without a trail). Deny `cloudtrail:StopLogging` and \
              `cloudtrail:DeleteTrail` with an SCP, or use an organization trail member accounts cannot change.",
        references: &[
            "https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_StopLogging.html",
            "https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_DeleteTrail.html",
            "https://stratus-red-team.cloud/attack-techniques/AWS/aws.defense-evasion.cloudtrail-stop/",
        ],
    },
};

/// Flags trails being stopped or deleted.
#[derive(Debug, Default)]
pub struct CloudtrailLoggingStopped;

impl CloudTrailRule for CloudtrailLoggingStopped {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let params = record.request_parameters();
        let trail = request_field(params.as_ref(), "name").unwrap_or_else(|| "unknown".to_owned());
        let deleting = record.event_name == "DeleteTrail";
        let mut finding = finding_for(&META, record, META.severity);
        if deleting {
            finding.title = finding
                .title
                .replace("CloudTrail logging stopped", "CloudTrail trail deleted");
        }
        let who = describe_caller(&EventContext::from_record(record));
        let what = if deleting {
            "delete"
        } else {
            "stop logging on"
        };
        finding.message = if call_failed(record) {
            format!(
                "{who} tried to {what} trail `{trail}`; the call failed ({}).",
                record.error_code.as_deref().unwrap_or("error")
            )
        } else if deleting {
            format!("{who} deleted trail `{trail}`; events after this time may not be recorded.")
        } else {
            format!("{who} stopped logging on trail `{trail}`; events after this time may not be recorded.")
        };
        let trail_name = trail.rsplit('/').next().unwrap_or(&trail).to_owned();
        finding.resource = Some(Resource {
            kind: "AwsCloudTrailTrail".to_owned(),
            id: if trail.starts_with("arn:") {
                trail.clone()
            } else {
                regional_arn(record, "cloudtrail", &format!("trail/{trail}"))
            },
            name: Some(trail_name.clone()),
        });
        finding
            .evidence
            .push(evidence("requestParameters.name", trail.as_str()));
        let region = region_arg(record);
        if call_failed(record) {
            finding.fix.summary =
                "Nothing changed; find out why this principal tried to.".to_owned();
        } else if deleting {
            finding.fix.summary =
                format!("Recreate trail `{trail_name}` as a multi-region trail with log file validation and start it.");
            finding.fix.commands = vec![
                format!(
                    "{}{region}",
                    Call::CreateTrail {
                        name: trail_name.clone(),
                        s3_bucket_name: "YOUR_TRAIL_BUCKET".into(),
                    }
                    .to_cli()
                ),
                format!(
                    "{}{region}",
                    Call::StartLogging {
                        name: trail_name.clone(),
                    }
                    .to_cli()
                ),
            ];
            finding
                .fix
                .actions
                .push(FixAction::CreateMultiRegionTrail { bucket_name: None });
        } else {
            finding.fix.summary =
                format!("Start logging on trail `{trail_name}` again and review the gap.");
            finding.fix.commands = vec![
                format!(
                    "{}{region}",
                    Call::StartLogging {
                        name: trail.clone(),
                    }
                    .to_cli()
                ),
                format!(
                    "aws cloudtrail get-trail-status --name {}{region}",
                    sh(&trail)
                ),
            ];
            finding
                .fix
                .actions
                .push(FixAction::StartLogging { trail_name: trail });
        }
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent};

    fn event(name: &str) -> TestEvent {
        TestEvent::new("cloudtrail.amazonaws.com", name).request(r#"{"name":"management-trail"}"#)
    }

    #[test]
    fn stop_logging_has_a_start_logging_fix() {
        let f = &check(&CloudtrailLoggingStopped, &event("StopLogging"))[0];
        assert_eq!(f.severity, Severity::High);
        assert_eq!(
            f.fix.commands[0],
            "aws cloudtrail start-logging --name management-trail --region us-east-1"
        );
        assert_eq!(
            f.fix.actions,
            vec![FixAction::StartLogging {
                trail_name: "management-trail".into()
            }]
        );
        assert_eq!(
            f.resource.as_ref().unwrap().id,
            "arn:aws:cloudtrail:us-east-1:229654561268:trail/management-trail"
        );
    }

    #[test]
    fn delete_trail_recreates_it() {
        let f = &check(&CloudtrailLoggingStopped, &event("DeleteTrail"))[0];
        assert_eq!(f.title, "CloudTrail trail deleted");
        assert!(
            f.fix.commands[0].starts_with("aws cloudtrail create-trail --name management-trail")
        );
        assert!(matches!(
            f.fix.actions[0],
            FixAction::CreateMultiRegionTrail { .. }
        ));
    }

    #[test]
    fn failed_calls_are_attempts() {
        let mut e = event("StopLogging");
        e.error = Some(("TrailNotFoundException".into(), "Unknown trail".into()));
        let f = &check(&CloudtrailLoggingStopped, &e)[0];
        assert_eq!(f.severity, Severity::Medium);
        assert!(f.message.contains("TrailNotFoundException"));
        assert!(f.fix.actions.is_empty());
        assert_eq!(
            check(&CloudtrailLoggingStopped, &event("DeleteTrail").denied())[0].title,
            "Attempted: CloudTrail trail deleted"
        );
    }
}
