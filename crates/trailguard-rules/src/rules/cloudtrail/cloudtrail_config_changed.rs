//! CT040 cloudtrail-config-changed: cloudtrail configuration changed, the event set of CIS AWS Foundations 4.5 (Security Hub CloudWatch.5).

use trailguard_event::Record;

use super::cis_monitoring::monitored_change;
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{CloudTrailRule, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT040",
    name: "cloudtrail-config-changed",
    title: "CloudTrail configuration changed",
    family: Family::Cloudtrail,
    severity: Severity::Low,
    attack: &["T1562.008"],
    compliance: &["CIS-4.5", "CloudWatch.5"],
    events: &[
        ("cloudtrail.amazonaws.com", "CreateTrail"),
        ("cloudtrail.amazonaws.com", "UpdateTrail"),
        ("cloudtrail.amazonaws.com", "DeleteTrail"),
        ("cloudtrail.amazonaws.com", "StartLogging"),
        ("cloudtrail.amazonaws.com", "StopLogging"),
    ],
    kb_entries: &[],
    doc: RuleDoc {
        what: "Every call CIS 4.5 watches: trails created, updated or deleted, logging started or stopped. **low** for \
               creating, updating and starting; **medium** for `DeleteTrail` and `StopLogging` (CT017 rates those as \
               high threats on their own).",
        why: "CloudTrail is the record of everything else; CIS 4.5 (Security Hub CloudWatch.5) asks that any change to \
              its configuration raise an alarm, so a change made to blind the trail is seen at once.",
        example: "`aws cloudtrail update-trail --name management-trail --no-include-global-service-events`.",
        fix: "Compare the trail with its intended configuration (`aws cloudtrail get-trail`, `get-event-selectors`, \
              `get-trail-status`) and restore it; keep trail changes to a pipeline role.",
        references: &[
            "https://docs.aws.amazon.com/securityhub/latest/userguide/cloudwatch-controls.html#cloudwatch-5",
            "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-update-a-trail-console.html",
        ],
    },
};

/// Reports every trail change CIS 4.5 monitors.
#[derive(Debug, Default)]
pub struct CloudtrailConfigChanged;

impl CloudTrailRule for CloudtrailConfigChanged {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let severity = match record.event_name.as_ref() {
            "DeleteTrail" | "StopLogging" => Severity::Medium,
            _ => META.severity,
        };
        out.push(monitored_change(&META, record, severity, "trail"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent};

    #[test]
    fn a_monitored_call_is_reported_with_the_control_id() {
        let e = TestEvent::new("cloudtrail.amazonaws.com", "UpdateTrail")
            .request(r#"{"name":"management-trail","includeGlobalServiceEvents":false}"#);
        let f = &check(&CloudtrailConfigChanged, &e)[0];
        assert_eq!(f.severity, Severity::Low);
        assert!(f.compliance.contains(&"CIS-4.5".to_owned()));
        assert!(f.message.contains("UpdateTrail"), "{}", f.message);
    }

    #[test]
    fn reads_are_not_monitored_changes() {
        assert!(!META
            .events
            .iter()
            .any(|&(_, name)| name == "DescribeTrails"));
        let denied = TestEvent::new("cloudtrail.amazonaws.com", "UpdateTrail")
            .request(r#"{"name":"management-trail","includeGlobalServiceEvents":false}"#)
            .denied();
        let f = &check(&CloudtrailConfigChanged, &denied)[0];
        assert!(f.title.starts_with("Attempted:"));
        assert!(f.fix.actions.is_empty());
    }
}
