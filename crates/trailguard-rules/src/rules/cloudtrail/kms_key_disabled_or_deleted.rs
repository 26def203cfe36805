//! CT041 kms-key-disabled-or-deleted: kms key disabled or scheduled for deletion, the event set of CIS AWS Foundations 4.7 (Security Hub CloudWatch.7).

use trailguard_event::Record;

use super::cis_monitoring::monitored_change;
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{CloudTrailRule, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT041",
    name: "kms-key-disabled-or-deleted",
    title: "KMS key disabled or scheduled for deletion",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1485", "T1486"],
    compliance: &["CIS-4.7", "CloudWatch.7"],
    events: &[
        ("kms.amazonaws.com", "DisableKey"),
        ("kms.amazonaws.com", "ScheduleKeyDeletion"),
    ],
    kb_entries: &[],
    doc: RuleDoc {
        what: "The calls CIS 4.7 watches: a customer managed key disabled (`DisableKey`, **medium**) or scheduled for \
               deletion (`ScheduleKeyDeletion`, **high**: after the waiting period every object encrypted only under \
               that key is unreadable for good).",
        why: "Data encrypted with a key cannot be read while the key is disabled, and never again once it is deleted: \
              an attacker can hold data to ransom or destroy it this way (ATT&CK T1485, T1486) without touching the \
              data itself. CIS 4.7 (Security Hub CloudWatch.7) asks for an alarm on both calls.",
        example: "`aws kms schedule-key-deletion --key-id 1234abcd-12ab-34cd-56ef-1234567890ab --pending-window-in-days 7`.",
        fix: "If unexpected, cancel the deletion during the waiting period (`aws kms cancel-key-deletion`, then \
              `enable-key`) or re-enable the key, and restrict `kms:ScheduleKeyDeletion` and `kms:DisableKey` in key \
              policies to key administrators.",
        references: &[
            "https://docs.aws.amazon.com/securityhub/latest/userguide/cloudwatch-controls.html#cloudwatch-7",
            "https://docs.aws.amazon.com/kms/latest/developerguide/deleting-keys.html",
        ],
    },
};

/// Reports every KMS key change CIS 4.7 monitors.
#[derive(Debug, Default)]
pub struct KmsKeyDisabledOrDeleted;

impl CloudTrailRule for KmsKeyDisabledOrDeleted {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let severity = match record.event_name.as_ref() {
            "ScheduleKeyDeletion" => Severity::High,
            _ => META.severity,
        };
        out.push(monitored_change(&META, record, severity, "KMS key"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent};

    #[test]
    fn a_monitored_call_is_reported_with_the_control_id() {
        let e = TestEvent::new("kms.amazonaws.com", "ScheduleKeyDeletion")
            .request(r#"{"keyId":"1234abcd-12ab-34cd-56ef-1234567890ab","pendingWindowInDays":7}"#);
        let f = &check(&KmsKeyDisabledOrDeleted, &e)[0];
        assert_eq!(f.severity, Severity::High);
        assert!(f.compliance.contains(&"CIS-4.7".to_owned()));
        assert!(f.message.contains("ScheduleKeyDeletion"), "{}", f.message);
    }

    #[test]
    fn reads_are_not_monitored_changes() {
        assert!(!META.events.iter().any(|&(_, name)| name == "Decrypt"));
        let denied = TestEvent::new("kms.amazonaws.com", "ScheduleKeyDeletion")
            .request(r#"{"keyId":"1234abcd-12ab-34cd-56ef-1234567890ab","pendingWindowInDays":7}"#)
            .denied();
        let f = &check(&KmsKeyDisabledOrDeleted, &denied)[0];
        assert!(f.title.starts_with("Attempted:"));
        assert!(f.fix.actions.is_empty());
    }
}
