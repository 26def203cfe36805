//! CT073 instance-user-data-burst: one principal reading the user data of many EC2 instances in a short
//! time (`DescribeInstanceAttribute` with `attribute` `userData`). A sequence rule.

use trailguard_event::Record;

use super::burst::{burst_finding, bursts, Burst, BurstShape, FAILED};
use super::common::{call_failed, caller_key, describe_caller, evidence, is_instance_id};
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{Observation, Observed, Report, SequenceRule};
use crate::Finding;

pub const META: RuleMeta = RuleMeta {
    code: "CT073",
    name: "instance-user-data-burst",
    title: "Burst of EC2 user data reads",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1552.005", "T1580"],
    compliance: &[],
    events: &[("ec2.amazonaws.com", "DescribeInstanceAttribute")],
    kb_entries: &["DescribeInstanceAttribute"],
    doc: RuleDoc {
        what: "One principal asking for the user data (`DescribeInstanceAttribute` with `attribute` \
               `userData`) of at least 5 different instances within 10 minutes, refused calls included. One \
               finding per burst with the instances asked for and how many calls were refused. **medium**; \
               **high** when 5 or more of the calls succeeded. Reads of other attributes, and one instance \
               read again and again (a deployment waiting for its own instance), are not counted.",
        why: "User data is the script an instance runs at boot, and teams put database passwords, API \
              tokens and even access keys in it. It is readable by anyone with \
              `ec2:DescribeInstanceAttribute`, with no decryption step. An operator reads the one instance \
              they are fixing; a tool walking every instance of the region is harvesting credentials \
              (ATT&CK T1552.005; Stratus Red Team `ec2-download-user-data`; Pacu \
              `ec2__download_userdata`). Refusals in the burst are the same tool finding its limits.",
        example: "A role session asks for the user data of 15 instances within one second, every call \
                  refused with `Client.UnauthorizedOperation`.",
        fix: "Find out who the principal is and why it reads user data in bulk. If it is not expected, \
              revoke its credentials, rotate every secret the read user data held, and move secrets out of \
              user data into Secrets Manager or Parameter Store.",
        references: &[
            "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstanceAttribute.html",
            "https://stratus-red-team.cloud/attack-techniques/AWS/aws.discovery.ec2-download-user-data/",
            "https://attack.mitre.org/techniques/T1552/005/",
        ],
    },
};

const SHAPE: BurstShape = BurstShape {
    window_ms: 10 * 60 * 1000,
    threshold: 5,
    min_kinds: 1,
};
/// Different instances a burst must ask about.
const MIN_INSTANCES: usize = 5;
/// Successful reads that make a burst high.
const HIGH_READS: u64 = 5;

/// Bursts of EC2 user data reads.
#[derive(Debug, Default)]
pub struct InstanceUserDataBurst;

impl SequenceRule for InstanceUserDataBurst {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn reach_ms(&self) -> Option<i64> {
        Some(SHAPE.window_ms)
    }

    fn observe<'r>(&self, record: &'r Record<'r>) -> Option<Observed<'r>> {
        let params = record.request_parameters()?;
        if params.get("attribute")?.as_str()? != "userData" {
            return None;
        }
        let instance = params
            .get("instanceId")?
            .as_str()
            .filter(|id| is_instance_id(id))?
            .to_owned();
        let kind = if call_failed(record) { FAILED } else { 0 };
        Observed::new(
            record,
            kind,
            0,
            caller_key(record),
            instance,
            "DescribeInstanceAttribute",
        )
    }

    fn evaluate(&self, observations: &[Observation], out: &mut Report) {
        bursts(observations, SHAPE, |burst| {
            if burst.subjects.len() >= MIN_INSTANCES {
                out.push(finding(burst));
            }
        });
    }
}

fn finding(burst: &Burst<'_>) -> Finding {
    let event = &burst.first.event;
    let read = burst.count - burst.failed;
    let severity = if read >= HIGH_READS {
        Severity::High
    } else {
        META.severity
    };
    let mut finding = burst_finding(&META, burst, severity);
    let instances = burst.subjects.iter().copied().collect::<Vec<_>>();
    finding.message = format!(
        "{} asked for the user data of {} instance(s) {} times between {} and {} ({} refused): {}.",
        describe_caller(event),
        instances.len(),
        burst.count,
        event.event_time,
        burst.last_time,
        burst.failed,
        instances.join(", ")
    );
    finding
        .evidence
        .push(evidence("requestParameters.instanceId", instances));
    finding.fix.summary = if read == 0 {
        "Every call was refused: find out whose credentials these are and why they probe instances' \
         user data."
            .to_owned()
    } else {
        "Find out why this principal reads user data in bulk; if unexpected, revoke its credentials and \
         rotate every secret the user data of those instances held."
            .to_owned()
    };
    finding
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{run_sequence, TestEvent};

    fn read_user_data(instance: usize, second: usize) -> TestEvent {
        TestEvent::new("ec2.amazonaws.com", "DescribeInstanceAttribute")
            .request(&format!(
                r#"{{"attribute":"userData","instanceId":"i-0a1b2c3d4e5f6{instance:04}"}}"#
            ))
            .read_only(true)
            .time(&format!("2024-07-31T19:52:{second:02}Z"))
            .id(&format!("dia-{instance}-{second}"))
    }

    #[test]
    fn the_same_instance_read_again_and_again_is_not_a_burst() {
        let polling: Vec<_> = (0..12).map(|s| read_user_data(1, s)).collect();
        assert!(run_sequence(Box::new(InstanceUserDataBurst), &polling).is_empty());
        let many: Vec<_> = (0..5).map(|i| read_user_data(i, i)).collect();
        let findings = run_sequence(Box::new(InstanceUserDataBurst), &many);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert_eq!(findings[0].severity, Severity::High);
    }
}
