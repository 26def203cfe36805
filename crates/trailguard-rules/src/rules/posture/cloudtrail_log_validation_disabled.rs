//! PA019 cloudtrail-log-validation-disabled: a trail without log file integrity validation.

use trailguard_account::snapshot::DESCRIBE_TRAILS;

use super::cloudtrail_multi_region_missing::unique_trails;
use super::{evidence, PostureContext, Report};
use crate::call::Call;
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;

pub const META: RuleMeta = RuleMeta {
    code: "PA019",
    name: "cloudtrail-log-validation-disabled",
    title: "CloudTrail log file validation disabled",
    family: Family::Posture,
    severity: Severity::Medium,
    attack: &["T1070", "T1562.008"],
    compliance: &["CIS-3.2", "CloudTrail.4"],
    events: &[],
    kb_entries: &["UpdateTrail"],
    doc: RuleDoc {
        what: "Each trail whose `LogFileValidationEnabled` is false.",
        why: "With validation on, CloudTrail writes signed hourly digest files, so anyone can prove a log file was \
              not changed or deleted after delivery. Without it, an intruder with bucket access can edit the \
              record of what they did and nobody can tell.",
        example: "`{\"Name\": \"main\", \"LogFileValidationEnabled\": false}`",
        fix: "`aws cloudtrail update-trail --name TRAIL --enable-log-file-validation`, and check digests with \
              `aws cloudtrail validate-logs` during investigations.",
        references: &[
            "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-validation-intro.html",
            "https://docs.aws.amazon.com/securityhub/latest/userguide/cloudtrail-controls.html#cloudtrail-4",
        ],
    },
};

pub fn check(ctx: &PostureContext<'_>) -> Report {
    let Some(trails) = &ctx.snapshot.trails else {
        return Report::missing(DESCRIBE_TRAILS);
    };
    let findings = unique_trails(trails)
        .into_iter()
        .filter(|t| !t.log_file_validation_enabled)
        .map(|trail| {
            let mut finding = ctx.finding(
                &META,
                trail_resource(trail),
                "",
                format!("Trail `{}` does not validate its log files.", trail.name),
            );
            finding
                .evidence
                .push(evidence("LogFileValidationEnabled", false));
            let enable = Call::UpdateTrail {
                name: trail.name.clone(),
                is_multi_region_trail: None,
                include_global_service_events: None,
                enable_log_file_validation: Some(true),
            };
            finding.fix.commands.push(enable.to_cli());
            finding
                .fix
                .actions
                .push(FixAction::EnableLogFileValidation {
                    trail_name: trail.name.clone(),
                });
            finding
        })
        .collect();
    Report::evaluated(findings)
}

/// A trail as a finding resource.
pub fn trail_resource(trail: &trailguard_account::model::Trail) -> Resource {
    Resource {
        kind: "AwsCloudTrailTrail".into(),
        id: if trail.trail_arn.is_empty() {
            trail.name.clone()
        } else {
            trail.trail_arn.clone()
        },
        name: Some(trail.name.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit;
    use super::*;

    #[test]
    fn only_trails_without_validation_are_flagged_once() {
        let trails = r#"{"trailList":[
            {"Name":"a","TrailARN":"arn:aws:cloudtrail:us-east-1:111122223333:trail/a","LogFileValidationEnabled":false},
            {"Name":"a","TrailARN":"arn:aws:cloudtrail:us-east-1:111122223333:trail/a","LogFileValidationEnabled":false},
            {"Name":"b","TrailARN":"arn:aws:cloudtrail:us-east-1:111122223333:trail/b","LogFileValidationEnabled":true}]}"#;
        let outcome = testkit::run(check, &[(DESCRIBE_TRAILS, trails)]);
        assert_eq!(testkit::names(&outcome), ["a"]);
        assert_eq!(
            outcome.findings()[0].fix.commands,
            ["aws cloudtrail update-trail --name a --enable-log-file-validation"]
        );
        assert_eq!(
            outcome.findings()[0].fix.actions,
            [FixAction::EnableLogFileValidation {
                trail_name: "a".into()
            }]
        );
    }
}
