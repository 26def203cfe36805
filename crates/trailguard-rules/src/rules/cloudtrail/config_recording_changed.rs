//! CT043 config-recording-changed: aws config recording changed, the event set of CIS AWS Foundations 4.9 (Security Hub CloudWatch.9).

use trailguard_event::Record;

use super::cis_monitoring::monitored_change;
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{CloudTrailRule, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT043",
    name: "config-recording-changed",
    title: "AWS Config recording changed",
    family: Family::Cloudtrail,
    severity: Severity::Low,
    attack: &["T1562.001"],
    compliance: &["CIS-4.9", "CloudWatch.9"],
    events: &[
        ("config.amazonaws.com", "StopConfigurationRecorder"),
        ("config.amazonaws.com", "DeleteDeliveryChannel"),
        ("config.amazonaws.com", "PutDeliveryChannel"),
        ("config.amazonaws.com", "PutConfigurationRecorder"),
    ],
    kb_entries: &[],
    doc: RuleDoc {
        what: "The calls CIS 4.9 watches: the configuration recorder stopped (`StopConfigurationRecorder`) or the \
               delivery channel deleted (`DeleteDeliveryChannel`), both **medium**; the recorder or channel \
               replaced (`PutConfigurationRecorder`, `PutDeliveryChannel`), **low**, since it can narrow what is \
               recorded or send it elsewhere.",
        why: "AWS Config keeps the history of every resource's configuration and evaluates the compliance rules; \
              stopping it blinds both (ATT&CK T1562.001). CIS 4.9 (Security Hub CloudWatch.9) asks for an alarm.",
        example: "`aws configservice stop-configuration-recorder --configuration-recorder-name default`.",
        fix: "Restart the recorder (`aws configservice start-configuration-recorder`), restore the delivery channel, \
              and check what changed while it was off.",
        references: &[
            "https://docs.aws.amazon.com/securityhub/latest/userguide/cloudwatch-controls.html#cloudwatch-9",
            "https://docs.aws.amazon.com/config/latest/developerguide/stop-start-recorder.html",
        ],
    },
};

/// Reports every AWS Config change CIS 4.9 monitors.
#[derive(Debug, Default)]
pub struct ConfigRecordingChanged;

impl CloudTrailRule for ConfigRecordingChanged {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let severity = match record.event_name.as_ref() {
            "StopConfigurationRecorder" | "DeleteDeliveryChannel" => Severity::Medium,
            _ => META.severity,
        };
        out.push(monitored_change(&META, record, severity, "AWS Config"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent};

    #[test]
    fn a_monitored_call_is_reported_with_the_control_id() {
        let e = TestEvent::new("config.amazonaws.com", "StopConfigurationRecorder")
            .request(r#"{"configurationRecorderName":"default"}"#);
        let f = &check(&ConfigRecordingChanged, &e)[0];
        assert_eq!(f.severity, Severity::Medium);
        assert!(f.compliance.contains(&"CIS-4.9".to_owned()));
        assert!(
            f.message.contains("StopConfigurationRecorder"),
            "{}",
            f.message
        );
    }

    #[test]
    fn reads_are_not_monitored_changes() {
        assert!(!META
            .events
            .iter()
            .any(|&(_, name)| name == "DescribeConfigurationRecorders"));
        let denied = TestEvent::new("config.amazonaws.com", "StopConfigurationRecorder")
            .request(r#"{"configurationRecorderName":"default"}"#)
            .denied();
        let f = &check(&ConfigRecordingChanged, &denied)[0];
        assert!(f.title.starts_with("Attempted:"));
        assert!(f.fix.actions.is_empty());
    }
}
