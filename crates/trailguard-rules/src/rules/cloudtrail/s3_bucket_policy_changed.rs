//! CT042 s3-bucket-policy-changed: s3 bucket policy or configuration changed, the event set of CIS AWS Foundations 4.8 (Security Hub CloudWatch.8).

use trailguard_event::Record;

use super::cis_monitoring::monitored_change;
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
               log buckets, and the policy engine judges public access.",
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
        let severity = META.severity;
        out.push(monitored_change(
            &META,
            record,
            severity,
            "S3 bucket access",
        ));
    }
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
