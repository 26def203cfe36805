//! PA021 cloudtrail-global-events-excluded: a trail that leaves out global service events (IAM, STS, CloudFront).

use trailguard_account::snapshot::DESCRIBE_TRAILS;

use super::cloudtrail_log_validation_disabled::trail_resource;
use super::cloudtrail_multi_region_missing::unique_trails;
use super::{evidence, PostureContext, Report};
use crate::call::Call;
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;

pub const META: RuleMeta = RuleMeta {
    code: "PA021",
    name: "cloudtrail-global-events-excluded",
    title: "CloudTrail trail excludes global service events",
    family: Family::Posture,
    severity: Severity::Medium,
    attack: &["T1562.008"],
    compliance: &["CIS-3.1", "CloudTrail.1"],
    events: &[],
    kb_entries: &["UpdateTrail"],
    doc: RuleDoc {
        what: "Each multi-region trail with `IncludeGlobalServiceEvents` false, and, when no trail includes them, \
               every trail: IAM, STS and CloudFront events are then recorded nowhere.",
        why: "IAM is a global service: `CreateUser`, `AttachUserPolicy`, `CreateAccessKey` and every other IAM \
              change is delivered as a global service event. A trail that excludes them misses exactly the \
              activity an IAM audit needs.",
        example: "`{\"Name\": \"main\", \"IsMultiRegionTrail\": true, \"IncludeGlobalServiceEvents\": false}`",
        fix: "`aws cloudtrail update-trail --name TRAIL --include-global-service-events` on the multi-region trail.",
        references: &[
            "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-concepts.html#cloudtrail-concepts-global-service-events",
            "https://docs.aws.amazon.com/securityhub/latest/userguide/cloudtrail-controls.html#cloudtrail-1",
        ],
    },
};

pub fn check(ctx: &PostureContext<'_>) -> Report {
    let Some(trails) = &ctx.snapshot.trails else {
        return Report::missing(DESCRIBE_TRAILS);
    };
    let trails = unique_trails(trails);
    let any_includes = trails.iter().any(|t| t.include_global_service_events);
    let findings = trails
        .into_iter()
        .filter(|t| !t.include_global_service_events && (t.is_multi_region_trail || !any_includes))
        .map(|trail| {
            let mut finding = ctx.finding(
                &META,
                trail_resource(trail),
                "",
                format!(
                    "Trail `{}` excludes global service events, so IAM and STS activity is not in it.",
                    trail.name
                ),
            );
            finding.evidence.push(evidence("IncludeGlobalServiceEvents", false));
            let include = Call::UpdateTrail {
                name: trail.name.clone(),
                is_multi_region_trail: None,
                include_global_service_events: Some(true),
                enable_log_file_validation: None,
            };
            finding.fix.commands.push(include.to_cli());
            finding.fix.actions.push(FixAction::Manual {
                description: format!("Include global service events in trail `{}`.", trail.name),
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
    fn multi_region_trails_without_global_events_are_flagged() {
        let trails = r#"{"trailList":[
            {"Name":"multi","TrailARN":"arn:aws:cloudtrail:us-east-1:111122223333:trail/multi","IsMultiRegionTrail":true,"IncludeGlobalServiceEvents":false},
            {"Name":"regional","TrailARN":"arn:aws:cloudtrail:eu-west-1:111122223333:trail/regional","IncludeGlobalServiceEvents":false},
            {"Name":"global","TrailARN":"arn:aws:cloudtrail:us-east-1:111122223333:trail/global","IncludeGlobalServiceEvents":true}]}"#;
        let outcome = testkit::run(check, &[(DESCRIBE_TRAILS, trails)]);
        assert_eq!(testkit::names(&outcome), ["multi"]);
    }

    #[test]
    fn when_no_trail_includes_them_every_trail_is_flagged() {
        let trails = r#"{"trailList":[{"Name":"regional","TrailARN":"arn:aws:cloudtrail:eu-west-1:111122223333:trail/regional"}]}"#;
        assert_eq!(
            testkit::names(&testkit::run(check, &[(DESCRIBE_TRAILS, trails)])),
            ["regional"]
        );
    }
}
