//! CT042 s3-bucket-policy-changed: s3 bucket policy or configuration changed, the event set of CIS AWS Foundations 4.8 (Security Hub CloudWatch.8).

use serde_json::Value;
use trailguard_event::Record;

use super::cis_monitoring::monitored_change;
use super::common::{change_finding, evidence, member_either_case, request_field, Change};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{CloudTrailRule, Report};
use crate::Finding;

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
        ("s3.amazonaws.com", "PutBucketVersioning"),
    ],
    kb_entries: &[],
    doc: RuleDoc {
        what: "Every call CIS 4.8 watches: bucket policies and ACLs put or deleted, CORS, lifecycle and replication \
               rules put or deleted. **low**: the change itself is routine; CT039 rates changes to CloudTrail's own \
               log buckets (known from the trail's configuration), and the policy engine judges public access. \
               A lifecycle rule that is enabled and expires objects within 7 days (`Expiration.Days`, or an \
               `Expiration.Date` at most 7 days after the call) or their noncurrent versions within 7 days \
               (`NoncurrentVersionExpiration.NoncurrentDays`: deleted and overwritten objects gone for good) \
               is **medium** (a bucket emptied within the week), and **high** on a bucket whose name says it \
               holds CloudTrail logs (`cloudtrail` in it: the console's and Control Tower's names), whether or \
               not the scan saw its trail. Beyond CIS 4.8: versioning suspended or MFA Delete disabled \
               (`PutBucketVersioning`), after which deletes and overwrites are final, **low**, **medium** on \
               a bucket named for CloudTrail logs; versioning enabled is not reported.",
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
        let bucket = request_field(params.as_ref(), "bucketName").unwrap_or_default();
        let log_bucket = bucket.to_ascii_lowercase().contains("cloudtrail");
        if record.event_name == "PutBucketVersioning" {
            if let Some(weakened) = params.as_ref().and_then(versioning_weakened) {
                let severity = if log_bucket {
                    Severity::Medium
                } else {
                    Severity::Low
                };
                out.push(versioning_finding(
                    record, &bucket, weakened, log_bucket, severity,
                ));
            }
            return;
        }
        let short = (record.event_name == "PutBucketLifecycle")
            .then(|| {
                params
                    .as_ref()
                    .and_then(|p| shortest_expiration(p, &record.event_time))
            })
            .flatten()
            .filter(|expiry| expiry.days <= SHORT_EXPIRATION_DAYS);
        let severity = match short {
            Some(_) if log_bucket => Severity::High,
            Some(_) => Severity::Medium,
            None => META.severity,
        };
        let mut finding = monitored_change(&META, record, severity, "S3 bucket access");
        if let Some(expiry) = short {
            finding.message.push_str(&format!(
                " An enabled lifecycle rule expires {} after {} day(s){}.",
                expiry.of,
                expiry.days,
                log_bucket_note(log_bucket)
            ));
            finding
                .evidence
                .push(evidence("lifecycleExpirationDays", expiry.days));
        }
        out.push(finding);
    }
}

fn versioning_finding(
    record: &Record<'_>,
    bucket: &str,
    weakened: Weakened,
    log_bucket: bool,
    severity: Severity,
) -> Finding {
    let (done, tried, consequence) = match weakened {
        Weakened::Suspended => (
            "suspended versioning",
            "suspend versioning",
            "from now on a delete or an overwrite is final",
        ),
        Weakened::MfaDelete => (
            "disabled MFA Delete",
            "disable MFA Delete",
            "an object version can now be deleted for good without the root user's MFA code",
        ),
        Weakened::Both => (
            "suspended versioning and disabled MFA Delete",
            "suspend versioning and disable MFA Delete",
            "from now on a delete or an overwrite is final",
        ),
    };
    let mut finding = change_finding(
        &META,
        record,
        severity,
        Change {
            done: format!("{done} of bucket `{bucket}`"),
            tried: format!("{tried} of bucket `{bucket}`"),
            resource: Resource {
                kind: "AwsS3Bucket".to_owned(),
                id: bucket.to_owned(),
                name: None,
            },
            evidence_keys: &["bucketName", "VersioningConfiguration"],
            summary: "Confirm the change was planned; if not, enable versioning (and MFA Delete) again and \
                      check the bucket for deleted or overwritten objects."
                .to_owned(),
        },
    );
    finding.message = format!(
        "{} ({consequence}{}).",
        finding.message.trim_end_matches('.'),
        log_bucket_note(log_bucket)
    );
    finding
}

fn log_bucket_note(log_bucket: bool) -> &'static str {
    if log_bucket {
        ": the bucket's name says it holds CloudTrail logs, the evidence of what happened"
    } else {
        ""
    }
}

/// A lifecycle rule this short empties a bucket within the week.
const SHORT_EXPIRATION_DAYS: u64 = 7;

/// The soonest expiry of a `PutBucketLifecycle` request's enabled rules.
#[derive(Debug, PartialEq, Eq)]
struct Expiry {
    days: u64,
    /// What expires: current objects or noncurrent versions.
    of: &'static str,
}

/// The soonest expiry among the enabled rules of a `PutBucketLifecycle` request
/// (`LifecycleConfiguration.Rule`, one rule or a list): `Expiration.Days`, `Expiration.Date` counted in
/// whole days from the call (`event_time`; a date already past is 0), and
/// `NoncurrentVersionExpiration.NoncurrentDays`; numbers as numbers or text. Disabled rules are left out.
fn shortest_expiration(params: &Value, event_time: &str) -> Option<Expiry> {
    let rules = member_either_case(
        member_either_case(Some(params), "lifecycleConfiguration"),
        "rule",
    )?;
    let rules: Vec<&Value> = match rules {
        Value::Array(list) => list.iter().collect(),
        one => vec![one],
    };
    let called = trailguard_event::parse_event_time(event_time);
    let number = |v: &Value| {
        v.as_u64()
            .or_else(|| v.as_str().and_then(|d| d.trim().parse().ok()))
    };
    rules
        .into_iter()
        .filter(|rule| {
            member_either_case(Some(rule), "status")
                .and_then(Value::as_str)
                .is_some_and(|s| s.eq_ignore_ascii_case("Enabled"))
        })
        .flat_map(|rule| {
            let expiration = member_either_case(Some(rule), "expiration");
            let days = member_either_case(expiration, "days").and_then(number);
            let by_date = member_either_case(expiration, "date")
                .and_then(Value::as_str)
                .and_then(trailguard_event::parse_event_time)
                .zip(called)
                .map(|(date, called)| u64::try_from((date - called).num_days()).unwrap_or(0));
            let noncurrent = member_either_case(
                member_either_case(Some(rule), "noncurrentVersionExpiration"),
                "noncurrentDays",
            )
            .and_then(number);
            [
                days.map(|days| Expiry {
                    days,
                    of: "objects",
                }),
                by_date.map(|days| Expiry {
                    days,
                    of: "objects",
                }),
                noncurrent.map(|days| Expiry {
                    days,
                    of: "noncurrent object versions (deleted and overwritten ones)",
                }),
            ]
        })
        .flatten()
        .min_by_key(|expiry| expiry.days)
}

/// What a `PutBucketVersioning` request takes away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Weakened {
    Suspended,
    MfaDelete,
    Both,
}

/// What a `PutBucketVersioning` request takes away: versioning suspended, MFA Delete disabled, or both.
fn versioning_weakened(params: &Value) -> Option<Weakened> {
    let config = member_either_case(Some(params), "versioningConfiguration");
    let is = |name: &str, value: &str| {
        member_either_case(config, name)
            .and_then(Value::as_str)
            .is_some_and(|v| v.eq_ignore_ascii_case(value))
    };
    match (is("status", "Suspended"), is("mfaDelete", "Disabled")) {
        (true, true) => Some(Weakened::Both),
        (true, false) => Some(Weakened::Suspended),
        (false, true) => Some(Weakened::MfaDelete),
        (false, false) => None,
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
    fn noncurrent_versions_and_dates_count_as_expirations() {
        let lifecycle = |rule: &str| {
            TestEvent::new("s3.amazonaws.com", "PutBucketLifecycle")
                .time("2024-08-02T10:00:00Z")
                .request(&format!(
                    r#"{{"bucketName":"org-cloudtrail-archive","LifecycleConfiguration":{{"Rule":[{{"ID":"keep","Status":"Enabled","Expiration":{{"Days":3650}}}},{rule}]}}}}"#
                ))
        };
        let f = &check(
            &S3BucketPolicyChanged,
            &lifecycle(
                r#"{"ID":"x","Status":"Enabled","NoncurrentVersionExpiration":{"NoncurrentDays":"1"}}"#,
            ),
        )[0];
        assert_eq!(f.severity, Severity::High);
        assert!(
            f.message.contains("expires noncurrent object versions"),
            "{}",
            f.message
        );
        // A date counts from the call (2024-08-02T10:00:00Z); a date already past is 0 days.
        for (date, days, severity) in [
            ("2024-08-05T00:00:00Z", "after 2 day(s)", Severity::High),
            ("2020-01-01T00:00:00Z", "after 0 day(s)", Severity::High),
            ("2025-01-01T00:00:00Z", "", Severity::Low),
        ] {
            let rule =
                format!(r#"{{"ID":"x","Status":"Enabled","Expiration":{{"Date":"{date}"}}}}"#);
            let f = &check(&S3BucketPolicyChanged, &lifecycle(&rule))[0];
            assert_eq!(f.severity, severity, "{date}");
            assert!(f.message.contains(days), "{}", f.message);
        }
    }

    #[test]
    fn versioning_suspended_or_mfa_delete_disabled_is_reported_enabled_is_not() {
        let versioning = |bucket: &str, config: &str| {
            TestEvent::new("s3.amazonaws.com", "PutBucketVersioning").request(&format!(
                r#"{{"bucketName":"{bucket}","Host":"{bucket}.s3.amazonaws.com","versioning":[""],"VersioningConfiguration":{{{config},"xmlns":"http://s3.amazonaws.com/doc/2006-03-01/"}}}}"#
            ))
        };
        let f = &check(
            &S3BucketPolicyChanged,
            &versioning("aws-cloudtrail-logs-1111", r#""Status":"Suspended""#),
        )[0];
        assert_eq!(f.severity, Severity::Medium);
        assert!(
            f.message.contains("suspended versioning of bucket"),
            "{}",
            f.message
        );
        let f = &check(
            &S3BucketPolicyChanged,
            &versioning("reports", r#""Status":"Enabled","MfaDelete":"Disabled""#),
        )[0];
        assert_eq!(f.severity, Severity::Low);
        assert!(
            f.message.contains("disabled MFA Delete of bucket"),
            "{}",
            f.message
        );
        assert!(check(
            &S3BucketPolicyChanged,
            &versioning("reports", r#""Status":"Enabled""#)
        )
        .is_empty());
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
