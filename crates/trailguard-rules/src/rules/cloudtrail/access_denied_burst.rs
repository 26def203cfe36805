//! CT034 access-denied-burst: one principal collecting AccessDenied / UnauthorizedOperation refusals across
//! several APIs (CIS "unauthorized API calls"). A sequence rule over every record (cheap raw test), folded
//! as the refusals come ([`BurstFold`]: runs per principal, never the calls' events).

use trailguard_event::peek::RawRecord;
use trailguard_event::Record;

use super::burst::{burst_finding, bursts, list_counts, Burst, BurstFold, BurstShape, FAILED};
use super::common::{caller_key, describe_caller, evidence};
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{Observation, Observed, Report, SequenceFold, SequenceRule, ANY_EVENT};
use crate::Finding;

pub const META: RuleMeta = RuleMeta {
    code: "CT034",
    name: "access-denied-burst",
    title: "Burst of unauthorized API calls",
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
               trying the organization's roles in other accounts; retries of one role are not.",
        why: "A principal that keeps being refused across APIs is probing what its credentials allow: the \
              signature of stolen credentials being tested (enumerate-iam, Pacu, Stratus Red Team runs) or of \
              a compromised workload reaching beyond its job. One refusal is routine; a spread of them is not. \
              CIS asks for an alarm on unauthorized API calls.",
        example: "A role session is refused `s3:ListBuckets`, `iam:ListUsers`, `ec2:DescribeInstances`, \
                  `secretsmanager:ListSecrets` and 20 more within five minutes.",
        fix: "Identify the principal and where it called from. If the calls are not a misconfigured deployment, \
              revoke the credentials and look at what the calls that succeeded did.",
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
        let api = match role_refused(record) {
            Some(role) => format!("{service}:{} {role}", record.event_name),
            None => format!("{service}:{}", record.event_name),
        };
        Observed::new(record, FAILED, 0, caller_key(record), service, api)
    }

    fn fold(&self) -> Option<Box<dyn SequenceFold>> {
        Some(Box::new(BurstFold::new(&META, SHAPE, finding)))
    }

    /// `observe` reads names, identity and outcome only: the engine peeks, never parses, for it.
    fn typed_fields_only(&self) -> bool {
        true
    }

    /// The engine folds instead ([`SequenceRule::fold`]); this is the same judgement over sorted calls.
    fn evaluate(&self, observations: &[Observation], out: &mut Report) {
        bursts(observations, SHAPE, |burst| out.push(finding(burst)));
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

fn finding(burst: &Burst<'_>) -> Finding {
    let event = &burst.first.event;
    let severity = if burst.subjects.len() >= 4 {
        Severity::High
    } else {
        META.severity
    };
    let mut finding = burst_finding(&META, burst, severity);
    let services = burst.subjects.iter().copied().collect::<Vec<_>>();
    finding.message = format!(
        "{} was refused {} calls in {} service(s) ({}) between {} and {}: {}.",
        describe_caller(event),
        burst.count,
        services.len(),
        services.join(", "),
        event.event_time,
        burst.last_time,
        list_counts(&burst.details, burst.other_details),
    );
    finding.evidence.push(evidence("services", services));
    finding.evidence.push(evidence(
        "eventNames",
        serde_json::to_value(&burst.details).unwrap_or_default(),
    ));
    finding.fix.summary =
        "Identify the principal; unless it is a misconfigured deployment, revoke its \
                           credentials and review the calls that succeeded."
            .to_owned();
    finding
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
            f.message.contains("refused 15 calls in 5 service(s)"),
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
        assert!(run_sequence(Box::new(AccessDeniedBurst), &retrying).is_empty());
    }

    #[test]
    fn one_api_refused_again_and_again_or_a_few_refusals_are_not() {
        assert!(run_sequence(Box::new(AccessDeniedBurst), &probes(30, 1)).is_empty());
        assert!(run_sequence(Box::new(AccessDeniedBurst), &probes(6, 5)).is_empty());
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
}
