//! PA020 cloudtrail-not-kms-encrypted: a trail whose logs are not encrypted with a KMS key.

use trailguard_account::snapshot::DESCRIBE_TRAILS;

use super::cloudtrail_log_validation_disabled::trail_resource;
use super::cloudtrail_multi_region_missing::unique_trails;
use super::{evidence, PostureContext, Report};
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rules::cloudtrail::common::sh;

pub const META: RuleMeta = RuleMeta {
    code: "PA020",
    name: "cloudtrail-not-kms-encrypted",
    title: "CloudTrail logs not encrypted with KMS",
    family: Family::Posture,
    severity: Severity::Medium,
    attack: &["T1530"],
    compliance: &["CIS-3.5", "CloudTrail.2"],
    events: &[],
    kb_entries: &["UpdateTrail"],
    doc: RuleDoc {
        what: "Each trail without a `KmsKeyId`: its log files are encrypted only with S3-managed keys.",
        why: "With SSE-KMS, reading the logs needs `kms:Decrypt` on a key you control as well as S3 read access, \
              so a bucket policy mistake alone does not expose every API call in the account, and every \
              decryption is itself logged.",
        example: "`{\"Name\": \"main\", \"S3BucketName\": \"audit-logs\"}` with no `KmsKeyId`.",
        fix: "Create a customer managed key whose policy lets CloudTrail encrypt and your auditors decrypt, then \
              `aws cloudtrail update-trail --name TRAIL --kms-key-id KEY_ARN`.",
        references: &[
            "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/encrypting-cloudtrail-log-files-with-aws-kms.html",
            "https://docs.aws.amazon.com/securityhub/latest/userguide/cloudtrail-controls.html#cloudtrail-2",
        ],
    },
};

pub fn check(ctx: &PostureContext<'_>) -> Report {
    let Some(trails) = &ctx.snapshot.trails else {
        return Report::missing(DESCRIBE_TRAILS);
    };
    let findings = unique_trails(trails)
        .into_iter()
        .filter(|t| t.kms_key_id.as_deref().is_none_or(str::is_empty))
        .map(|trail| {
            let mut finding = ctx.finding(
                &META,
                trail_resource(trail),
                "",
                format!(
                    "Trail `{}` does not encrypt its logs with a KMS key.",
                    trail.name
                ),
            );
            finding
                .evidence
                .push(evidence("KmsKeyId", serde_json::Value::Null));
            finding.fix.commands.push(format!(
                "aws cloudtrail update-trail --name {} --kms-key-id KEY_ARN",
                sh(&trail.name)
            ));
            finding.fix.actions.push(FixAction::Manual {
                description: format!(
                    "Create a KMS key for CloudTrail and set it on trail `{}`.",
                    trail.name
                ),
            });
            finding
        })
        .collect();
    Report::evaluated(findings)
}

#[cfg(test)]
mod tests {
    use super::super::testkit;
    use super::*;

    #[test]
    fn trails_without_a_key_are_flagged() {
        let trails = r#"{"trailList":[
            {"Name":"plain","TrailARN":"arn:aws:cloudtrail:us-east-1:111122223333:trail/plain"},
            {"Name":"kms","TrailARN":"arn:aws:cloudtrail:us-east-1:111122223333:trail/kms",
             "KmsKeyId":"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}]}"#;
        let outcome = testkit::run(check, &[(DESCRIBE_TRAILS, trails)]);
        assert_eq!(testkit::names(&outcome), ["plain"]);
    }
}
