//! CT042 s3-bucket-policy-changed: s3 bucket policy or configuration changed, the event set of CIS AWS Foundations 4.8 (Security Hub CloudWatch.8).

use serde_json::Value;
use trailguard_event::Record;

use super::cis_monitoring::monitored_change;
use super::common::{evidence, member_either_case, request_field};
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{CloudTrailRule, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT042",
    name: "s3-bucket-policy-changed",
    title: "S3 bucket policy or configuration changed",
    family: Family::Cloudtrail,
    severity: Severity::Low,
    attack: &["T1098", "T1537"],
    compliance: &["CIS-4.8", "CloudWatch.8"],
    events: &[
        ("s3.amazonaws.com", "PutBucketAcl"),
        ("s3.amazonaws.com", "PutBucketPolicy"),
        ("s3.amazonaws.com", "PutBucketCors"),
        ("s3.amazonaws.com", "PutBucketLifecycle"),
        ("s3.amazonaws.com", "PutBucketReplication"),
        ("s3.amazonaws.com", "DeleteBucketPolicy"),
        ("s3.amazonaws.com", "DeleteBucketCors"),
        ("s3.amazonaws.com", "DeleteBucketLifecycle"),
        ("s3.amazonaws.com", "DeleteBucketReplication"),
    ],
    kb_entries: &[],
    doc: RuleDoc {
        what: "Every call CIS 4.8 watches: bucket policies and ACLs put or deleted, CORS, lifecycle and replication \
               rules put or deleted. **low**: the change itself is routine; CT039 rates changes to CloudTrail's own \
               log buckets (known from the trail's configuration), and the policy engine judges public access. \
               A lifecycle rule that is enabled and expires objects within 7 days is **medium** (a bucket \
               emptied within the week), and **high** on a bucket whose name says it holds CloudTrail logs \
               (`cloudtrail` in it: the console's and Control Tower's names), whether or not the scan saw its \
               trail.",
        why: "Bucket policies, ACLs and replication decide who can read a bucket and where its objects are copied; a \
              changed policy is how data is opened to an outside account (ATT&CK T1537) and a lifecycle rule how it \
              is quietly expired. CIS 4.8 (Security Hub CloudWatch.8) asks for an alarm on these calls.",
        example: "`aws s3api put-bucket-policy --bucket reports --policy file://policy.json` outside a deployment.",
        fix: "Compare the bucket's policy, ACL and replication with their intended state and revert unexpected \
              changes; keep S3 Block Public Access on at the account level.",
        references: &[
            "https://docs.aws.amazon.com/securityhub/latest/userguide/cloudwatch-controls.html#cloudwatch-8",
            "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-policies.html",
        ],
    },
};

/// Reports every S3 bucket access change CIS 4.8 monitors.
#[derive(Debug, Default)]
pub struct S3BucketPolicyChanged;

impl CloudTrailRule for S3BucketPolicyChanged {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let params = record.request_parameters();
        let short = (record.event_name == "PutBucketLifecycle")
            .then(|| params.as_ref().and_then(shortest_expiration))
            .flatten()
            .filter(|days| *days <= SHORT_EXPIRATION_DAYS);
        let bucket = request_field(params.as_ref(), "bucketName").unwrap_or_default();
        let log_bucket = bucket.to_ascii_lowercase().contains("cloudtrail");
        let severity = match short {
            Some(_) if log_bucket => Severity::High,
            Some(_) => Severity::Medium,
            None => META.severity,
        };
        let mut finding = monitored_change(&META, record, severity, "S3 bucket access");
        if let Some(days) = short {
            finding.message.push_str(&format!(
                " An enabled lifecycle rule expires objects after {days} day(s){}.",
                if log_bucket {
                    ": the bucket's name says it holds CloudTrail logs, the evidence of what happened"
                } else {
                    ""
                }
            ));
            finding
                .evidence
                .push(evidence("lifecycleExpirationDays", days));
        }
        out.push(finding);
    }
}

/// A lifecycle rule this short empties a bucket within the week.
const SHORT_EXPIRATION_DAYS: u64 = 7;

/// The fewest days after which an enabled rule of a `PutBucketLifecycle` request expires objects
/// (`LifecycleConfiguration.Rule`, one rule or a list; `Expiration.Days` as a number or text). Rules
/// that are disabled or expire by date are left out.
fn shortest_expiration(params: &Value) -> Option<u64> {
    let rules = member_either_case(
        member_either_case(Some(params), "lifecycleConfiguration"),
        "rule",
    )?;
    let rules: Vec<&Value> = match rules {
        Value::Array(list) => list.iter().collect(),
        one => vec![one],
    };
    rules
        .into_iter()
        .filter(|rule| {
            member_either_case(Some(rule), "status")
                .and_then(Value::as_str)
                .is_some_and(|s| s.eq_ignore_ascii_case("Enabled"))
        })
        .filter_map(|rule| {
            let days = member_either_case(member_either_case(Some(rule), "expiration"), "days")?;
            days.as_u64()
                .or_else(|| days.as_str().and_then(|d| d.trim().parse().ok()))
        })
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent};

    #[test]
    fn a_monitored_call_is_reported_with_the_control_id() {
        let e = TestEvent::new("s3.amazonaws.com", "PutBucketPolicy").request(r#"{"bucketName":"reports","bucketPolicy":{"Version":"2012-10-17","Statement":[]},"Host":"reports.s3.amazonaws.com","policy":[""]}"#);
        let f = &check(&S3BucketPolicyChanged, &e)[0];
        assert_eq!(f.severity, Severity::Low);
        assert!(f.compliance.contains(&"CIS-4.8".to_owned()));
        assert!(f.message.contains("PutBucketPolicy"), "{}", f.message);
    }

    #[test]
    fn a_short_enabled_expiration_is_raised_and_more_on_a_log_bucket() {
        let lifecycle = |bucket: &str, status: &str, days: &str| {
            TestEvent::new("s3.amazonaws.com", "PutBucketLifecycle").request(&format!(
                r#"{{"bucketName":"{bucket}","LifecycleConfiguration":{{"Rule":{{"ID":"x","Status":"{status}","Filter":{{"Prefix":""}},"Expiration":{{"Days":{days}}}}}}}}}"#
            ))
        };
        let f = &check(
            &S3BucketPolicyChanged,
            &lifecycle("reports", "Enabled", "1"),
        )[0];
        assert_eq!(f.severity, Severity::Medium);
        let f = &check(
            &S3BucketPolicyChanged,
            &lifecycle("aws-cloudtrail-logs-111122223333-0c1d", "Enabled", "\"3\""),
        )[0];
        assert_eq!(f.severity, Severity::High);
        assert!(f.message.contains("3 day(s)"), "{}", f.message);
        for (status, days) in [("Disabled", "1"), ("Enabled", "730")] {
            let f = &check(
                &S3BucketPolicyChanged,
                &lifecycle("aws-cloudtrail-logs-111122223333-0c1d", status, days),
            )[0];
            assert_eq!(f.severity, Severity::Low, "{status} {days}");
        }
    }

    #[test]
    fn reads_are_not_monitored_changes() {
        assert!(!META
            .events
            .iter()
            .any(|&(_, name)| name == "GetBucketPolicy"));
        let denied = TestEvent::new("s3.amazonaws.com", "PutBucketPolicy")
            .request(r#"{"bucketName":"reports","bucketPolicy":{"Version":"2012-10-17","Statement":[]},"Host":"reports.s3.amazonaws.com","policy":[""]}"#)
            .denied();
        let f = &check(&S3BucketPolicyChanged, &denied)[0];
        assert!(f.title.starts_with("Attempted:"));
        assert!(f.fix.actions.is_empty());
    }
}
