//! PA018 cloudtrail-multi-region-missing: no multi-region trail that is logging all management events.

use trailguard_account::model::Trail;
use trailguard_account::snapshot::DESCRIBE_TRAILS;

use super::{evidence, PostureContext, Report};
use crate::call::Call;
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;

pub const META: RuleMeta = RuleMeta {
    code: "PA018",
    name: "cloudtrail-multi-region-missing",
    title: "No multi-region CloudTrail trail logging management events",
    family: Family::Posture,
    severity: Severity::High,
    attack: &["T1562.008"],
    compliance: &["CIS-3.1", "CloudTrail.1"],
    events: &[],
    kb_entries: &["StopLogging", "DeleteTrail", "PutEventSelectors"],
    doc: RuleDoc {
        what: "No trail in `describe-trails` is multi-region, logging (`get-trail-status` `IsLogging`), and \
               recording all read and write management events (`get-event-selectors`: no selectors, or a selector \
               with `ReadWriteType: All`, management events included and no excluded sources; advanced selectors \
               on `eventCategory = Management` alone). The finding names each trail and what it lacks.",
        why: "Without a multi-region trail, activity in regions nobody watches (where attackers start crypto \
              miners) is not recorded at all, and IAM changes leave no audit trail. A stopped trail is the classic \
              defence-evasion step.",
        example: "A single-region trail in `eu-west-1`, or a multi-region trail with `IsLogging: false`.",
        fix: "Make an existing single-region trail multi-region (`aws cloudtrail update-trail --name TRAIL \
              --is-multi-region-trail`; a second trail would bill every event twice), start logging on a stopped \
              one (`aws cloudtrail start-logging --name TRAIL`), or, with no trail at all, create a multi-region \
              trail with log file validation into a dedicated bucket. `trailguard fix` can do each.",
        references: &[
            "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/receive-cloudtrail-log-files-from-multiple-regions.html",
            "https://docs.aws.amazon.com/securityhub/latest/userguide/cloudtrail-controls.html#cloudtrail-1",
        ],
    },
};

/// Trails listed once each (a multi-region trail shows up in every region's listing).
pub fn unique_trails(trails: &[Trail]) -> Vec<&Trail> {
    let mut seen = std::collections::HashSet::new();
    trails
        .iter()
        .filter(|t| {
            seen.insert(if t.trail_arn.is_empty() {
                &t.name
            } else {
                &t.trail_arn
            })
        })
        .collect()
}

pub fn check(ctx: &PostureContext<'_>) -> Report {
    let Some(trails) = &ctx.snapshot.trails else {
        return Report::missing(DESCRIBE_TRAILS);
    };
    let trails = unique_trails(trails);
    let mut problems = Vec::new();
    let mut stopped_multi_region = Vec::new();
    // Trails that would pass but for a missing status or selectors file.
    let mut undecided = Vec::new();
    for trail in &trails {
        let status = ctx.snapshot.trail_status.get(&trail.name);
        let selectors = ctx.snapshot.event_selectors.get(&trail.name);
        let mut lacks = Vec::new();
        if !trail.is_multi_region_trail {
            lacks.push("single-region");
        }
        match status {
            Some(s) if s.is_logging => {}
            Some(_) => {
                lacks.push("not logging");
                if trail.is_multi_region_trail {
                    stopped_multi_region.push(trail.name.clone());
                }
            }
            None => lacks.push("logging status unknown"),
        }
        match selectors {
            Some(s) if s.logs_all_management_events() => {}
            Some(_) => lacks.push("not all management events"),
            None if trail.has_custom_event_selectors => lacks.push("event selectors unknown"),
            None => {}
        }
        if lacks.is_empty() {
            return Report::evaluated(Vec::new());
        }
        if lacks.iter().all(|l| l.ends_with("unknown")) {
            undecided.push(trail.name.clone());
        }
        problems.push(format!("`{}`: {}", trail.name, lacks.join(", ")));
    }
    if !undecided.is_empty() {
        return Report::not_evaluated(format!(
            "the status or event selectors of trail(s) {} are missing from the snapshot",
            undecided.join(", ")
        ));
    }
    let message = if trails.is_empty() {
        "The account has no CloudTrail trail: API activity is kept only 90 days in Event history."
            .to_owned()
    } else {
        format!(
            "No trail is multi-region, logging and recording all management events ({}).",
            problems.join("; ")
        )
    };
    let mut finding = ctx.finding(&META, ctx.account_resource(), "", message);
    finding.evidence.push(evidence(
        "trailList",
        serde_json::to_value(&trails).unwrap_or_default(),
    ));
    for name in &stopped_multi_region {
        let start = Call::StartLogging { name: name.clone() };
        finding.fix.commands.push(start.to_cli());
        finding.fix.actions.push(FixAction::StartLogging {
            trail_name: name.clone(),
        });
    }
    // A single-region trail is made multi-region in place: a second trail would bill a second copy of
    // every management event. The one already logging is preferred.
    let single_region = trails
        .iter()
        .filter(|t| !t.is_multi_region_trail)
        .max_by_key(|t| {
            ctx.snapshot
                .trail_status
                .get(&t.name)
                .is_some_and(|s| s.is_logging)
        });
    if let (true, Some(trail)) = (stopped_multi_region.is_empty(), single_region) {
        let multi_region = Call::UpdateTrail {
            name: trail.name.clone(),
            is_multi_region_trail: Some(true),
            include_global_service_events: Some(true),
            enable_log_file_validation: None,
        };
        finding.fix.commands.push(multi_region.to_cli());
        finding.fix.actions.push(FixAction::MakeTrailMultiRegion {
            trail_name: trail.name.clone(),
        });
        let logging = ctx.snapshot.trail_status.get(&trail.name);
        if logging.is_some_and(|s| !s.is_logging) {
            let start = Call::StartLogging {
                name: trail.name.clone(),
            };
            finding.fix.commands.push(start.to_cli());
            finding.fix.actions.push(FixAction::StartLogging {
                trail_name: trail.name.clone(),
            });
        }
    } else if stopped_multi_region.is_empty() {
        finding.fix.commands.push(
            "aws cloudtrail create-trail --name org-audit --s3-bucket-name BUCKET --is-multi-region-trail \
             --enable-log-file-validation --include-global-service-events && aws cloudtrail start-logging --name org-audit"
                .to_owned(),
        );
        finding
            .fix
            .actions
            .push(FixAction::CreateMultiRegionTrail { bucket_name: None });
    }
    Report::evaluated(vec![finding])
}

#[cfg(test)]
mod tests {
    use super::super::testkit;
    use super::*;

    const MULTI: &str = r#"{"trailList":[{"Name":"main","TrailARN":"arn:aws:cloudtrail:us-east-1:111122223333:trail/main",
        "IsMultiRegionTrail":true,"IncludeGlobalServiceEvents":true,"LogFileValidationEnabled":true,"HomeRegion":"us-east-1"}]}"#;

    #[test]
    fn a_logging_multi_region_trail_passes() {
        let outcome = testkit::run(
            check,
            &[
                (DESCRIBE_TRAILS, MULTI),
                ("get-trail-status/main.json", r#"{"IsLogging":true}"#),
            ],
        );
        assert_eq!(outcome, Report::evaluated(Vec::new()));
    }

    #[test]
    fn a_stopped_trail_gets_start_logging_and_no_trail_gets_a_new_one() {
        let stopped = testkit::run(
            check,
            &[
                (DESCRIBE_TRAILS, MULTI),
                ("get-trail-status/main.json", r#"{"IsLogging":false}"#),
            ],
        );
        let f = &stopped.findings()[0];
        assert_eq!(
            f.message,
            "No trail is multi-region, logging and recording all management events (`main`: not logging)."
        );
        assert_eq!(
            f.fix.actions,
            [FixAction::StartLogging {
                trail_name: "main".into()
            }]
        );

        let none = testkit::run(check, &[(DESCRIBE_TRAILS, r#"{"trailList":[]}"#)]);
        assert_eq!(
            none.findings()[0].fix.actions,
            [FixAction::CreateMultiRegionTrail { bucket_name: None }]
        );
    }

    #[test]
    fn a_single_region_trail_is_made_multi_region_not_duplicated() {
        const SINGLE: &str = r#"{"trailList":[{"Name":"eu","TrailARN":"arn:aws:cloudtrail:eu-west-1:111122223333:trail/eu",
            "IsMultiRegionTrail":false,"IncludeGlobalServiceEvents":false,"LogFileValidationEnabled":true,"HomeRegion":"eu-west-1"}]}"#;
        let logging = testkit::run(
            check,
            &[
                (DESCRIBE_TRAILS, SINGLE),
                ("get-trail-status/eu.json", r#"{"IsLogging":true}"#),
            ],
        );
        let f = &logging.findings()[0];
        assert_eq!(
            f.fix.actions,
            [FixAction::MakeTrailMultiRegion {
                trail_name: "eu".into()
            }]
        );
        assert_eq!(
            f.fix.commands,
            ["aws cloudtrail update-trail --name eu --is-multi-region-trail --include-global-service-events"]
        );
        let stopped = testkit::run(
            check,
            &[
                (DESCRIBE_TRAILS, SINGLE),
                ("get-trail-status/eu.json", r#"{"IsLogging":false}"#),
            ],
        );
        assert_eq!(
            stopped.findings()[0].fix.actions,
            [
                FixAction::MakeTrailMultiRegion {
                    trail_name: "eu".into()
                },
                FixAction::StartLogging {
                    trail_name: "eu".into()
                }
            ]
        );
    }

    #[test]
    fn a_missing_status_file_leaves_the_check_undecided() {
        let outcome = testkit::run(check, &[(DESCRIBE_TRAILS, MULTI)]);
        assert!(
            outcome
                .not_evaluated_reason()
                .is_some_and(|reason| reason.contains("main")),
            "{outcome:?}"
        );
    }

    #[test]
    fn write_only_selectors_are_not_enough() {
        let outcome = testkit::run(
            check,
            &[
                (DESCRIBE_TRAILS, MULTI),
                ("get-trail-status/main.json", r#"{"IsLogging":true}"#),
                (
                    "get-event-selectors/main.json",
                    r#"{"EventSelectors":[{"ReadWriteType":"WriteOnly","IncludeManagementEvents":true}]}"#,
                ),
            ],
        );
        assert!(outcome.findings()[0]
            .message
            .contains("not all management events"));
    }
}
