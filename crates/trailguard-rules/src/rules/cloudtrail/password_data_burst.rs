//! CT032 password-data-burst: one principal retrieving many EC2 Windows administrator passwords
//! (`GetPasswordData`) in a short time; fewer retrievals are recorded at info. A sequence rule.

use trailguard_event::Record;

use super::burst::{burst_finding, list_counts, runs, Burst, BurstShape, FAILED};
use super::common::{call_failed, caller_key, describe_caller, evidence};
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{Observation, Observed, Report, SequenceRule};
use crate::Finding;

pub const META: RuleMeta = RuleMeta {
    code: "CT032",
    name: "password-data-burst",
    title: "EC2 Windows password retrievals",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1552.005", "T1555"],
    compliance: &[],
    events: &[("ec2.amazonaws.com", "GetPasswordData")],
    kb_entries: &[],
    doc: RuleDoc {
        what: "At least 5 `GetPasswordData` calls by one principal within 10 minutes: the encrypted Windows \
               administrator password of EC2 instances fetched in bulk. One finding per burst with the count, \
               how many were refused (`Client.UnauthorizedOperation`) and the instances asked for. **medium**; \
               **high** when at least one call succeeded and three or more instances were asked for. A \
               principal's calls that make no burst (fewer, or too slow) are one finding per stretch of \
               calls (each within 10 minutes of the next) at **info**, naming the instances and the \
               refusals: the record of who read which password.",
        why: "An administrator fetches the password of the one instance they are about to connect to. Many in a \
              row, or one refusal after another, is credential harvesting by a tool trying every instance in \
              the region (ATT&CK T1552.005; Stratus Red Team `ec2-get-password-data` makes dozens of calls). \
              Whoever also holds the instance's key pair can then decrypt each password.",
        example: "A role session calls `GetPasswordData` for 30 instance ids within two minutes, every call \
                  refused.",
        fix: "Find out who the principal is and why it enumerates passwords. If it is not expected, revoke its \
              credentials, rotate the Windows administrator passwords of the instances that answered, and \
              restrict `ec2:GetPasswordData` to the operators who need it.",
        references: &[
            "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_GetPasswordData.html",
            "https://stratus-red-team.cloud/attack-techniques/AWS/aws.credential-access.ec2-get-password-data/",
        ],
    },
};

const SHAPE: BurstShape = BurstShape {
    window_ms: 10 * 60 * 1000,
    threshold: 5,
    min_kinds: 1,
};

/// Bursts of EC2 password retrievals.
#[derive(Debug, Default)]
pub struct PasswordDataBurst;

impl SequenceRule for PasswordDataBurst {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn reach_ms(&self) -> Option<i64> {
        Some(SHAPE.window_ms)
    }

    fn observe<'r>(&self, record: &'r Record<'r>) -> Option<Observed<'r>> {
        let instance = record
            .request_parameters()
            .and_then(|p| p.get("instanceId")?.as_str().map(str::to_owned))
            .unwrap_or_default();
        let kind = if call_failed(record) { FAILED } else { 0 };
        Observed::new(
            record,
            kind,
            0,
            caller_key(record),
            instance,
            "GetPasswordData",
        )
    }

    fn evaluate(&self, observations: &[Observation], out: &mut Report) {
        runs(observations, SHAPE, |run, is_burst| {
            out.push(if is_burst {
                finding(run)
            } else {
                lone_finding(run)
            })
        });
    }
}

fn finding(burst: &Burst<'_>) -> Finding {
    let event = &burst.first.event;
    let succeeded = burst.count - burst.failed;
    let severity = if succeeded > 0 && burst.subjects.len() >= 3 {
        Severity::High
    } else {
        META.severity
    };
    let mut finding = burst_finding(&META, burst, severity);
    let instances = burst.subjects.iter().copied().collect::<Vec<_>>();
    finding.message = format!(
        "{} called GetPasswordData {} times between {} and {} ({} refused) for {} instance(s): {}.",
        describe_caller(event),
        burst.count,
        event.event_time,
        burst.last_time,
        burst.failed,
        instances.len(),
        instances.join(", ")
    );
    finding
        .evidence
        .push(evidence("requestParameters.instanceId", instances));
    finding.evidence.push(evidence(
        "eventNames",
        list_counts(&burst.details, burst.other_details),
    ));
    finding.fix.summary = "Find out why this principal fetches instance passwords in bulk; if unexpected, \
                           revoke its credentials and rotate the passwords of instances that answered."
        .to_owned();
    finding
}

/// A principal's few retrievals, or a trickle too slow for a burst: **info**, an administrator's usual
/// fetch of the password of the instance they are about to connect to, kept as the record of who read
/// which password.
fn lone_finding(run: &Burst<'_>) -> Finding {
    let event = &run.first.event;
    let mut finding = burst_finding(&META, run, Severity::Info);
    let instances = run.subjects.iter().copied().collect::<Vec<_>>();
    let refused = match (run.failed, run.count) {
        (0, _) => String::new(),
        (failed, count) if failed == count => " (refused)".to_owned(),
        (failed, _) => format!(" ({failed} refused)"),
    };
    let calls = if run.count == 1 {
        format!("at {}", event.event_time)
    } else {
        format!(
            "{} times between {} and {}",
            run.count, event.event_time, run.last_time
        )
    };
    let named = if instances.is_empty() {
        "no instance named".to_owned()
    } else {
        instances.join(", ")
    };
    finding.message = format!(
        "{} called GetPasswordData {calls}{refused} for {named}.",
        describe_caller(event),
    );
    finding
        .evidence
        .push(evidence("requestParameters.instanceId", instances));
    finding.fix.summary =
        "Nothing to do if the principal administers these Windows instances; otherwise find \
                           out why it read their administrator password."
            .to_owned();
    finding
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{run_sequence, TestEvent};

    fn get_password(i: usize, minute: usize) -> TestEvent {
        TestEvent::new("ec2.amazonaws.com", "GetPasswordData")
            .request(&format!(r#"{{"instanceId":"i-0a1b2c3d4e5f6{i:04}"}}"#))
            .read_only(true)
            .time(&format!("2024-07-30T21:{minute:02}:21Z"))
            .id(&format!("gpd-{i}"))
    }

    #[test]
    fn many_retrievals_in_a_window_are_one_burst() {
        let events: Vec<_> = (0..8).map(|i| get_password(i, 31).denied()).collect();
        let findings = run_sequence(Box::new(PasswordDataBurst), &events);
        assert_eq!(findings.len(), 1);
        let f = &findings[0];
        assert_eq!(f.severity, Severity::Medium);
        assert!(f.message.contains("8 times"), "{}", f.message);
        assert!(f.message.contains("8 refused"), "{}", f.message);
        let served: Vec<_> = (0..4).map(|i| get_password(i, 31)).collect();
        let findings = run_sequence(Box::new(PasswordDataBurst), &[served, events].concat());
        assert_eq!(findings[0].severity, Severity::High);
    }

    #[test]
    fn a_few_retrievals_or_a_slow_trickle_are_recorded_at_info_not_as_a_burst() {
        let few: Vec<_> = (0..3).map(|i| get_password(i, 31)).collect();
        let findings = run_sequence(Box::new(PasswordDataBurst), &few);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert_eq!(findings[0].severity, Severity::Info);
        assert!(
            findings[0].message.ends_with(
                "called GetPasswordData 3 times between 2024-07-30T21:31:21Z and 2024-07-30T21:31:21Z \
                 for i-0a1b2c3d4e5f60000, i-0a1b2c3d4e5f60001, i-0a1b2c3d4e5f60002."
            ),
            "{}",
            findings[0].message
        );
        // One every three minutes: a single run, but never five within ten minutes.
        let trickle: Vec<_> = (0..6).map(|i| get_password(i, i * 3)).collect();
        let findings = run_sequence(Box::new(PasswordDataBurst), &trickle);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert_eq!(findings[0].severity, Severity::Info);
        let refused = run_sequence(Box::new(PasswordDataBurst), &[get_password(7, 40).denied()]);
        assert!(
            refused[0]
                .message
                .ends_with("(refused) for i-0a1b2c3d4e5f60007."),
            "{}",
            refused[0].message
        );
    }
}
