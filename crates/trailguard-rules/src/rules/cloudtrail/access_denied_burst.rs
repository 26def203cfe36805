//! CT034 access-denied-burst: one principal collecting AccessDenied / UnauthorizedOperation refusals across
//! several APIs (CIS "unauthorized API calls"), and the refusals that make no burst at info. A sequence
//! rule over every record (cheap raw test), folded as the refusals come ([`BurstFold`]: runs per
//! principal, never the calls' events).

use trailguard_event::peek::RawRecord;
use trailguard_event::Record;

use super::burst::{burst_finding, list_counts, runs, Burst, BurstFold, BurstShape, FAILED};
use super::common::service_api;
use super::common::{caller_key, describe_caller, evidence};
use crate::finding::{Outcome, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{Observation, Observed, Report, SequenceFold, SequenceRule, ANY_EVENT};
use crate::Finding;

pub const META: RuleMeta = RuleMeta {
    code: "CT034",
    name: "access-denied-burst",
    title: "Unauthorized API calls",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1580", "T1526", "T1087.004"],
    compliance: &["CIS-4.1", "CloudWatch.2"],
    events: &[ANY_EVENT],
    kb_entries: &[],
    doc: RuleDoc {
        what: "At least 10 calls refused for lack of permission within 10 minutes by one principal, across at \
               least 3 different APIs, following the CIS 4.1 metric filter (`errorCode` `AccessDenied*` or \
               `*UnauthorizedOperation`). One finding per burst with every API refused and the services \
               involved. **medium**; **high** when the refusals span 4 or more services. A refused \
               `sts:AssumeRole*` counts each role it named (in `errorMessage`) as an API of its own, so 10 \
               refusals trying 3 or more roles are a burst too: role names guessed, or a stolen credential \
               trying the organization's roles in other accounts; retries of one role are not. Refusals \
               that make no burst are reported too, as the CIS alarm fires on any: one **info** finding \
               per principal's stretch of them (each within 10 minutes of the next), naming what was \
               refused. Like the CIS filter (v1.5 onwards), a stretch only of refusals of AWS's log \
               delivery (`sourceIPAddress` `delivery.logs.amazonaws.com`: a bucket policy that does not \
               let flow or access logs in yet) or of `HeadBucket` (the console checking buckets it may \
               not read) is not reported; such refusals still count toward a burst.",
        why: "A principal that keeps being refused across APIs is probing what its credentials allow: the \
              signature of stolen credentials being tested (enumerate-iam, Pacu, Stratus Red Team runs) or of \
              a compromised workload reaching beyond its job. One refusal is routine; a spread of them is not. \
              CIS asks for an alarm on unauthorized API calls.",
        example: "A role session is refused `s3:ListBuckets`, `iam:ListUsers`, `ec2:DescribeInstances`, \
                  `secretsmanager:ListSecrets` and 20 more within five minutes.",
        fix: "Identify the principal and where it called from. If the calls are not a misconfigured deployment, \
              revoke the credentials and look at what the calls that succeeded did. A few refusals of a \
              known principal (an info finding) usually mean a policy lacks a permission its job needs.",
        references: &[
            "https://docs.aws.amazon.com/securityhub/latest/userguide/cloudwatch-controls.html#cloudwatch-2",
            "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-record-contents.html",
        ],
    },
};

const SHAPE: BurstShape = BurstShape {
    window_ms: 10 * 60 * 1000,
    threshold: 10,
    min_kinds: 3,
};

/// Whether `code` is a refusal for lack of permission, as the CIS 4.1 filter reads it.
fn is_unauthorized(code: &str) -> bool {
    code.starts_with("AccessDenied") || code.ends_with("UnauthorizedOperation")
}

/// `kind` bit: a refusal the CIS 4.1 filter counts. Since v1.5 the filter leaves out refusals of AWS's
/// log delivery service and of `HeadBucket`, which the console sends for every bucket it lists:
/// routine noise alone, though still part of a spread of refusals.
const CIS_COUNTED: u8 = 0x02;

fn cis_counts(record: &Record<'_>) -> bool {
    record.source_ip_address.as_deref() != Some("delivery.logs.amazonaws.com")
        && record.event_name != "HeadBucket"
}

/// Bursts of refused calls by one principal.
#[derive(Debug, Default)]
pub struct AccessDeniedBurst;

impl SequenceRule for AccessDeniedBurst {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn reach_ms(&self) -> Option<i64> {
        Some(SHAPE.window_ms)
    }

    /// Refused calls carry an `errorCode` member; nothing else needs parsing for this rule.
    fn wants_raw(&self, raw: &RawRecord<'_>) -> bool {
        raw.may_have_error_code()
    }

    fn observe<'r>(&self, record: &'r Record<'r>) -> Option<Observed<'r>> {
        let code = record.error_code.as_deref()?;
        if !is_unauthorized(code) {
            return None;
        }
        let service = record.event_source.trim_end_matches(".amazonaws.com");
        let mut api = service_api(record);
        if let Some(role) = role_refused(record) {
            api.push(' ');
            api.push_str(role);
        }
        let kind = if cis_counts(record) {
            FAILED | CIS_COUNTED
        } else {
            FAILED
        };
        Observed::new(record, kind, 0, caller_key(record), service, api)
    }

    fn fold(&self) -> Option<Box<dyn SequenceFold>> {
        Some(Box::new(BurstFold::every_run(&META, SHAPE, finding)))
    }

    /// `observe` reads names, identity and outcome only: the engine peeks, never parses, for it.
    fn typed_fields_only(&self) -> bool {
        true
    }

    /// The engine folds instead ([`SequenceRule::fold`]); this is the same judgement over sorted calls.
    fn evaluate(&self, observations: &[Observation], out: &mut Report) {
        runs(observations, SHAPE, |run, is_burst| {
            out.extend(finding(run, is_burst));
        });
    }
}

/// The role a refused `sts:AssumeRole*` call named, read from its `errorMessage` (`… is not authorized
/// to perform: sts:AssumeRole on resource: arn:aws:iam::…:role/…`, the typed peek holds no request): each
/// role tried counts as an API of its own, so trying several roles is a spread of refusals.
fn role_refused<'r>(record: &'r Record<'r>) -> Option<&'r str> {
    if record.event_source != "sts.amazonaws.com" || !record.event_name.starts_with("AssumeRole") {
        return None;
    }
    let (_, rest) = record
        .error_message
        .as_deref()?
        .split_once(" on resource: ")?;
    let role = rest.split_whitespace().next()?;
    // An ARN is at most 2,048 characters; anything longer is not one.
    (role.starts_with("arn:") && role.len() <= 2048).then_some(role)
}

/// A principal's run of refusals: a burst at medium or high, fewer (or slower) at info, unless the CIS
/// filter would count none of them.
fn finding(run: &Burst<'_>, is_burst: bool) -> Option<Finding> {
    if !is_burst && run.kinds & CIS_COUNTED == 0 {
        return None;
    }
    let event = &run.first.event;
    let severity = match (is_burst, run.subjects.len()) {
        (false, _) => Severity::Info,
        (true, services) if services >= 4 => Severity::High,
        (true, _) => META.severity,
    };
    let mut finding = burst_finding(&META, run, severity);
    // Every call of the run was refused: an attempt, so nothing borrows commands to undo the first.
    finding.outcome = Outcome::Attempt {
        error_code: event.error_code.clone().unwrap_or_default(),
    };
    let services = run.subjects.iter().copied().collect::<Vec<_>>();
    let when = if run.count == 1 {
        format!("1 call at {}", event.event_time)
    } else {
        format!(
            "{} calls between {} and {}",
            run.count, event.event_time, run.last_time
        )
    };
    finding.message = format!(
        "{} was refused {when} in {} service(s) ({}): {}.",
        describe_caller(event),
        services.len(),
        services.join(", "),
        list_counts(&run.details, run.other_details),
    );
    finding.evidence.push(evidence("services", services));
    finding.evidence.push(evidence(
        "eventNames",
        serde_json::to_value(&run.details).unwrap_or_default(),
    ));
    finding.fix.summary = if is_burst {
        "Identify the principal; unless it is a misconfigured deployment, revoke its credentials and \
         review the calls that succeeded."
    } else {
        "Nothing to do if the principal's job does not need these calls; otherwise grant what it lacks. \
         If the principal should not be calling them at all, find out who holds its credentials."
    }
    .to_owned();
    Some(finding)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{run_sequence, TestEvent};

    const PROBES: &[(&str, &str)] = &[
        ("s3.amazonaws.com", "ListBuckets"),
        ("iam.amazonaws.com", "ListUsers"),
        ("ec2.amazonaws.com", "DescribeInstances"),
        ("secretsmanager.amazonaws.com", "ListSecrets"),
        ("lambda.amazonaws.com", "ListFunctions20150331"),
    ];

    fn probes(n: usize, kinds: usize) -> Vec<TestEvent> {
        (0..n)
            .map(|i| {
                let (source, name) = PROBES[i % kinds];
                TestEvent::new(source, name)
                    .read_only(true)
                    .time(&format!("2024-08-01T13:10:{i:02}Z"))
                    .id(&format!("probe-{i}"))
                    .denied()
            })
            .collect()
    }

    #[test]
    fn refusals_across_services_are_a_burst() {
        let findings = run_sequence(Box::new(AccessDeniedBurst), &probes(15, 5));
        assert_eq!(findings.len(), 1, "{findings:#?}");
        let f = &findings[0];
        assert_eq!(f.severity, Severity::High);
        assert!(
            f.message.contains("refused 15 calls between 2024-08-01T13:10:00Z and 2024-08-01T13:10:14Z in 5 service(s)"),
            "{}",
            f.message
        );
        let three = run_sequence(Box::new(AccessDeniedBurst), &probes(12, 3));
        assert_eq!(three[0].severity, Severity::Medium);
    }

    fn assume_role_refused(i: usize, roles: usize) -> TestEvent {
        let role = format!(
            "arn:aws:iam::444455556666:role/{}",
            [
                "Admin",
                "OrganizationAccountAccessRole",
                "deploy",
                "ReadOnly"
            ][i % roles]
        );
        TestEvent::new("sts.amazonaws.com", "AssumeRole")
            .request(&format!(
                r#"{{"roleArn":"{role}","roleSessionName":"s{i}"}}"#
            ))
            .time(&format!("2024-08-01T13:20:{i:02}Z"))
            .id(&format!("assume-{i}"))
            .denied_on(&role)
    }

    #[test]
    fn trying_several_roles_is_a_burst_retrying_one_is_not() {
        let guessing: Vec<_> = (0..12).map(|i| assume_role_refused(i, 4)).collect();
        let findings = run_sequence(Box::new(AccessDeniedBurst), &guessing);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert_eq!(findings[0].severity, Severity::Medium);
        assert!(
            findings[0].message.contains(
                "sts:AssumeRole arn:aws:iam::444455556666:role/OrganizationAccountAccessRole ×3"
            ),
            "{}",
            findings[0].message
        );
        let retrying: Vec<_> = (0..12).map(|i| assume_role_refused(i, 1)).collect();
        assert_eq!(severities(&retrying), [Severity::Info]);
    }

    fn severities(events: &[TestEvent]) -> Vec<Severity> {
        run_sequence(Box::new(AccessDeniedBurst), events)
            .iter()
            .map(|f| f.severity)
            .collect()
    }

    #[test]
    fn one_api_refused_again_and_again_or_a_few_refusals_are_no_burst_but_recorded() {
        assert_eq!(severities(&probes(30, 1)), [Severity::Info]);
        let few = run_sequence(Box::new(AccessDeniedBurst), &probes(6, 5));
        assert_eq!(few.len(), 1, "{few:#?}");
        assert_eq!(few[0].severity, Severity::Info);
        assert!(
            few[0].message.contains("refused 6 calls between")
                && few[0]
                    .message
                    .contains("s3:ListBuckets ×2, secretsmanager:ListSecrets"),
            "{}",
            few[0].message
        );
        // One refusal alone says when, and a quiet hour splits the stretches.
        let alone = run_sequence(Box::new(AccessDeniedBurst), &probes(1, 1));
        assert!(
            alone[0].message.contains(
                "refused 1 call at 2024-08-01T13:10:00Z in 1 service(s) (s3): s3:ListBuckets."
            ),
            "{}",
            alone[0].message
        );
        let mut apart = probes(2, 2);
        apart[1] = apart[1].clone().time("2024-08-01T14:10:00Z");
        assert_eq!(severities(&apart), [Severity::Info, Severity::Info]);
        // Other errors are not refusals.
        let throttled: Vec<_> = probes(15, 5)
            .into_iter()
            .map(|mut e| {
                e.error = Some(("ThrottlingException".to_owned(), "Rate exceeded".to_owned()));
                e
            })
            .collect();
        assert!(run_sequence(Box::new(AccessDeniedBurst), &throttled).is_empty());
    }

    #[test]
    fn refusals_the_cis_filter_leaves_out_are_reported_only_beside_others_or_in_a_burst() {
        let head_bucket = |i: usize| {
            TestEvent::new("s3.amazonaws.com", "HeadBucket")
                .read_only(true)
                .time(&format!("2024-08-01T13:10:{i:02}Z"))
                .id(&format!("head-{i}"))
                .denied()
        };
        let log_delivery = |i: usize, (source, name): (&str, &str)| {
            TestEvent::new(source, name)
                .source_ip("delivery.logs.amazonaws.com")
                .time(&format!("2024-08-01T13:20:{i:02}Z"))
                .id(&format!("delivery-{i}"))
                .denied()
        };
        // Alone, neither is reported.
        let heads: Vec<_> = (0..4).map(head_bucket).collect();
        assert!(severities(&heads).is_empty());
        let deliveries: Vec<_> = (0..3)
            .map(|i| log_delivery(i, ("s3.amazonaws.com", "PutObject")))
            .collect();
        assert!(severities(&deliveries).is_empty());
        // Beside a refusal the filter counts, the stretch is reported with all of them.
        let mut mixed = heads.clone();
        mixed.push(probes(1, 1).remove(0).time("2024-08-01T13:10:30Z"));
        let found = run_sequence(Box::new(AccessDeniedBurst), &mixed);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].severity, Severity::Info);
        assert!(
            found[0]
                .message
                .contains("s3:HeadBucket ×4, s3:ListBuckets"),
            "{}",
            found[0].message
        );
        // A spread of them is still a burst.
        let spread: Vec<_> = (0..12).map(|i| log_delivery(i, PROBES[i % 3])).collect();
        assert_eq!(severities(&spread), [Severity::Medium]);
    }
}
