//! CT039 trail-bucket-tampered: lifecycle, policy, ACL, versioning or deletion changes on an S3 bucket that
//! receives CloudTrail logs, learning the trail buckets from CloudTrail events in the same scan and,
//! with `scan --snapshot DIR`, from the snapshot's trails ([`TrailBucketTampered::knowing`]).

use std::collections::HashMap;

use trailguard_event::Record;

use super::common::{call_failed, describe_caller, evidence, finding_from_event, sh};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{Observation, Observed, Report, SequenceRule};
use crate::Finding;

pub const META: RuleMeta = RuleMeta {
    code: "CT039",
    name: "trail-bucket-tampered",
    title: "CloudTrail log bucket tampered with",
    family: Family::Cloudtrail,
    severity: Severity::High,
    attack: &["T1562.008", "T1485", "T1070"],
    compliance: &["CIS-3.3", "CIS-4.8"],
    events: &[
        ("cloudtrail.amazonaws.com", "CreateTrail"),
        ("cloudtrail.amazonaws.com", "UpdateTrail"),
        ("cloudtrail.amazonaws.com", "DeleteTrail"),
        ("s3.amazonaws.com", "PutBucketLifecycle"),
        ("s3.amazonaws.com", "PutBucketPolicy"),
        ("s3.amazonaws.com", "DeleteBucketPolicy"),
        ("s3.amazonaws.com", "PutBucketAcl"),
        ("s3.amazonaws.com", "PutBucketVersioning"),
        ("s3.amazonaws.com", "DeleteBucket"),
        ("s3.amazonaws.com", "DeleteObject"),
        ("s3.amazonaws.com", "DeleteObjects"),
    ],
    kb_entries: &[],
    doc: RuleDoc {
        what: "Changes to an S3 bucket after a `CreateTrail` or `UpdateTrail` in the same scan named it as the \
               trail's `s3BucketName`: an expiration lifecycle rule (`PutBucketLifecycle`), the bucket policy \
               deleted (`DeleteBucketPolicy`), the bucket deleted, log objects deleted (`DeleteObject` under a \
               `/CloudTrail/` key, `DeleteObjects`): **high**; the bucket policy or ACL replaced, versioning \
               changed: **medium**. Once the scan saw the bucket's trail deleted (`DeleteTrail`), a later change is \
               one step lower (the bucket keeps old logs but receives no new ones: the usual teardown deletes the \
               trail, then its bucket; the trail's deletion is CT017's finding). Changes made before the bucket \
               became a trail bucket are its set-up and \
               are left out; buckets whose trail was configured before the scanned period are not known to \
               this rule (scan a period that includes the trail's creation or last update).",
        why: "Stopping the trail is noisy (CT017); quietly expiring, deleting or locking out its log files \
              removes the evidence while the trail looks healthy (Stratus Red Team \
              `cloudtrail-lifecycle-rule`, ATT&CK T1562.008). A bucket policy deleted or rewritten can also stop \
              delivery or open the logs to others.",
        example: "`CreateTrail` with `s3BucketName` `org-trail-logs`, later `PutBucketLifecycle` on \
                  `org-trail-logs` with a rule expiring every object after 1 day.",
        fix: "Restore the bucket's protection: remove the lifecycle rule or put the policy back, enable \
              versioning and MFA delete or Object Lock, and check the trail still delivers \
              (`aws cloudtrail get-trail-status`). Deleted log files are gone unless versioning kept them.",
        references: &[
            "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-s3-bucket-policy-for-cloudtrail.html",
            "https://stratus-red-team.cloud/attack-techniques/AWS/aws.defense-evasion.cloudtrail-lifecycle-rule/",
        ],
    },
};

/// Observation kinds.
const TRAIL: u8 = 0;
const TAMPER: u8 = 1;
/// The trail (`subject`) deleted: its bucket no longer receives logs.
const TRAIL_DELETED: u8 = 2;

/// A trail's name, whether the call gave the name or the trail's ARN.
fn trail_name(name_or_arn: &str) -> &str {
    name_or_arn.rsplit(":trail/").next().unwrap_or(name_or_arn)
}

/// Flags tampering with buckets that receive CloudTrail logs.
#[derive(Debug, Default)]
pub struct TrailBucketTampered;

impl TrailBucketTampered {
    /// The rule knowing the trail buckets of an account snapshot, `(bucket, trail)`: those are trail
    /// buckets from the start of the scan.
    pub fn knowing(buckets: Vec<(String, String)>) -> KnownTrailBuckets {
        KnownTrailBuckets { buckets }
    }
}

/// CT039 seeded with trail buckets known before the scan (see [`TrailBucketTampered::knowing`]).
#[derive(Debug, Default)]
pub struct KnownTrailBuckets {
    buckets: Vec<(String, String)>,
}

impl SequenceRule for KnownTrailBuckets {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn observe<'r>(&self, record: &'r Record<'r>) -> Option<Observed<'r>> {
        TrailBucketTampered.observe(record)
    }

    fn evaluate(&self, observations: &[Observation], out: &mut Report) {
        let seed = self
            .buckets
            .iter()
            .map(|(b, t)| (b.as_str(), t.as_str()))
            .collect();
        evaluate_from(seed, observations, out);
    }
}

impl SequenceRule for TrailBucketTampered {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn observe<'r>(&self, record: &'r Record<'r>) -> Option<Observed<'r>> {
        let params = record.request_parameters();
        let name = record.event_name.as_ref();
        if record.event_source == "cloudtrail.amazonaws.com" {
            if call_failed(record) {
                return None;
            }
            if name == "DeleteTrail" {
                let trail = params
                    .as_ref()
                    .and_then(|p| p.get("name")?.as_str().map(str::to_owned))?;
                return Observed::new(
                    record,
                    TRAIL_DELETED,
                    0,
                    "",
                    trail_name(&trail).to_owned(),
                    name,
                );
            }
            let bucket = params
                .as_ref()
                .and_then(|p| p.get("s3BucketName")?.as_str().map(str::to_owned))?;
            let trail = params
                .as_ref()
                .and_then(|p| p.get("name")?.as_str().map(|n| trail_name(n).to_owned()))
                .unwrap_or_default();
            // Trails sort before changes at the same second.
            return Observed::new(record, TRAIL, 0, bucket, trail, name);
        }
        let bucket = params
            .as_ref()
            .and_then(|p| p.get("bucketName")?.as_str().map(str::to_owned))?;
        // Single-object deletions are data events that can number millions: only CloudTrail's own layout.
        if name == "DeleteObject"
            && !params
                .as_ref()
                .and_then(|p| p.get("key")?.as_str().map(|k| k.contains("/CloudTrail")))
                .unwrap_or(false)
        {
            return None;
        }
        Observed::new(record, TAMPER, 1, bucket, "", name)
    }

    fn evaluate(&self, observations: &[Observation], out: &mut Report) {
        evaluate_from(HashMap::new(), observations, out);
    }
}

/// Bucket → the trail that named it (first time it became a trail bucket), from `seed` on.
fn evaluate_from<'a>(
    mut trail_buckets: HashMap<&'a str, &'a str>,
    observations: &'a [Observation],
    out: &mut Report,
) {
    // Trail → when it was deleted (and not created again since).
    let mut deleted: HashMap<&str, &str> = HashMap::new();
    {
        for obs in observations {
            match obs.kind {
                TRAIL => {
                    trail_buckets
                        .entry(obs.principal.as_ref())
                        .or_insert(obs.subject.as_ref());
                    deleted.remove(obs.subject.as_ref());
                }
                TRAIL_DELETED => {
                    deleted.insert(obs.subject.as_ref(), obs.event.event_time.as_str());
                }
                _ => {
                    if let Some(trail) = trail_buckets.get(obs.principal.as_ref()) {
                        out.push(finding(obs, trail, deleted.get(trail).copied()));
                    }
                }
            }
        }
    }
}

/// `trail_deleted`: when the bucket's trail was deleted before this change, if it was. The bucket then
/// holds old logs but receives no new ones (the usual teardown: trail, then bucket), so the change is one
/// step lower; the trail's deletion is CT017's finding.
fn finding(obs: &Observation, trail: &str, trail_deleted: Option<&str>) -> Finding {
    let event = &obs.event;
    let bucket = obs.principal.as_ref();
    let name = obs.detail.as_ref();
    let severity = match (name, trail_deleted) {
        ("PutBucketPolicy" | "PutBucketAcl" | "PutBucketVersioning", None) => Severity::Medium,
        ("PutBucketPolicy" | "PutBucketAcl" | "PutBucketVersioning", Some(_)) => Severity::Low,
        (_, None) => META.severity,
        (_, Some(_)) => Severity::Medium,
    };
    let mut finding = finding_from_event(&META, event, severity);
    let who = describe_caller(event);
    let what = match name {
        "PutBucketLifecycle" => "set a lifecycle configuration (log expiry) on",
        "DeleteBucketPolicy" => "deleted the bucket policy of",
        "PutBucketPolicy" => "replaced the bucket policy of",
        "PutBucketAcl" => "replaced the ACL of",
        "PutBucketVersioning" => "changed versioning of",
        "DeleteBucket" => "deleted",
        _ => "deleted log objects from",
    };
    let trail_text = if trail.is_empty() {
        "a trail".to_owned()
    } else {
        format!("trail `{trail}`")
    };
    let receives = match trail_deleted {
        Some(at) => {
            format!("which held the logs of {trail_text} until that trail was deleted at {at}")
        }
        None => format!("which receives the logs of {trail_text}"),
    };
    finding.message = if event.error_code.is_some() {
        format!("{who} tried to change bucket `{bucket}` ({name}), {receives}; the call failed.")
    } else {
        format!("{who} {what} bucket `{bucket}`, {receives}.")
    };
    finding.resource = Some(Resource {
        kind: "AwsS3Bucket".to_owned(),
        id: format!("arn:aws:s3:::{bucket}"),
        name: Some(bucket.to_owned()),
    });
    finding
        .evidence
        .push(evidence("requestParameters.bucketName", bucket));
    finding.evidence.push(evidence("trail", trail));
    if event.error_code.is_some() {
        finding.fix.summary = "Nothing changed; find out why this principal tried to.".to_owned();
    } else {
        let b = sh(bucket);
        finding.fix.summary = format!(
            "Restore the protection of log bucket `{bucket}` and check the trail still delivers."
        );
        finding.fix.commands = vec![
            format!("aws s3api get-bucket-lifecycle-configuration --bucket {b}"),
            format!("aws s3api get-bucket-policy --bucket {b}"),
            format!("aws s3api get-bucket-versioning --bucket {b}"),
        ];
        finding.fix.actions.push(FixAction::Manual {
            description: format!(
                "Restore the lifecycle, policy and versioning of log bucket `{bucket}`."
            ),
        });
    }
    finding
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{run_sequence, TestEvent};

    fn trail(bucket: &str, time: &str) -> TestEvent {
        TestEvent::new("cloudtrail.amazonaws.com", "CreateTrail")
            .request(&format!(
                r#"{{"name":"org-trail","s3BucketName":"{bucket}","isMultiRegionTrail":true}}"#
            ))
            .time(time)
            .id(&format!("trail-{bucket}"))
    }

    fn s3(name: &str, bucket: &str, time: &str) -> TestEvent {
        TestEvent::new("s3.amazonaws.com", name)
            .request(&format!(
                r#"{{"bucketName":"{bucket}","Host":"{bucket}.s3.us-east-1.amazonaws.com"}}"#
            ))
            .time(time)
            .id(&format!("{name}-{bucket}-{time}"))
    }

    #[test]
    fn changes_to_a_known_trail_bucket_after_its_trail_are_flagged() {
        let findings = run_sequence(
            Box::new(TrailBucketTampered),
            &[
                // Set-up before the trail exists: not tampering.
                s3("PutBucketPolicy", "trail-logs", "2023-07-10T12:00:25Z"),
                trail("trail-logs", "2023-07-10T12:00:31Z"),
                s3("PutBucketLifecycle", "trail-logs", "2023-07-10T12:00:35Z"),
                // Another bucket: none of this rule's business.
                s3("PutBucketLifecycle", "website", "2023-07-10T12:00:40Z"),
            ],
        );
        assert_eq!(findings.len(), 1, "{findings:#?}");
        let f = &findings[0];
        assert_eq!(f.severity, Severity::High);
        assert!(
            f.message.contains("set a lifecycle configuration"),
            "{}",
            f.message
        );
        assert!(f.message.contains("trail `org-trail`"), "{}", f.message);
    }

    #[test]
    fn a_snapshot_trail_makes_its_bucket_known_from_the_start() {
        let events = [
            s3("DeleteBucketPolicy", "trail-logs", "2023-07-10T12:28:24Z"),
            s3("DeleteBucketPolicy", "website", "2023-07-10T12:28:30Z"),
        ];
        let seeded = TrailBucketTampered::knowing(vec![(
            "trail-logs".to_owned(),
            "management-trail".to_owned(),
        )]);
        let findings = run_sequence(Box::new(seeded), &events);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert!(
            findings[0].message.contains("bucket `trail-logs`")
                && findings[0].message.contains("trail `management-trail`"),
            "{}",
            findings[0].message
        );
        // The same events without the snapshot: nothing is known.
        assert!(run_sequence(Box::new(TrailBucketTampered), &events).is_empty());
    }

    #[test]
    fn without_a_trail_event_no_bucket_is_known() {
        let findings = run_sequence(
            Box::new(TrailBucketTampered),
            &[s3(
                "DeleteBucketPolicy",
                "trail-logs",
                "2023-07-10T12:28:24Z",
            )],
        );
        assert!(findings.is_empty());
    }
}
