//! CT106 instance-credentials-used-outside-aws: an EC2 instance's role credentials calling AWS from an
//! internet address outside AWS's networks. A sequence rule over every record (a cheap raw test on the
//! caller), folded per session into runs of its outside calls ([`BurstFold::every_run`]).

use std::sync::LazyLock;

use memchr::memmem::Finder;
use trailguard_event::peek::RawRecord;
use trailguard_event::Record;

use super::aws_networks::AwsNetworks;
use super::burst::{burst_finding, list_counts, runs, Burst, BurstFold, BurstShape, FAILED};
use super::common::{assumed_role_parts, service_api};
use super::common::{
    call_failed, caller_key, deny_sessions_issued_before, evidence, identity_resource,
    is_instance_id, made_by_aws, sh,
};
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::IdentityKind;
use crate::rule::{Observation, Observed, Report, SequenceFold, SequenceRule, ANY_EVENT};
use crate::Finding;

pub const META: RuleMeta = RuleMeta {
    code: "CT106",
    name: "instance-credentials-used-outside-aws",
    title: "Instance role credentials used from outside AWS",
    family: Family::Cloudtrail,
    severity: Severity::High,
    attack: &["T1552.005", "T1078.004"],
    compliance: &[],
    events: &[ANY_EVENT],
    kb_entries: &[],
    doc: RuleDoc {
        what: "An EC2 instance's role session calls AWS from an internet address that is in none of AWS's \
               published networks (`ip-ranges.json`, every service) and is not a private, shared or \
               link-local address. One finding per session and stretch of such calls (each within 6 \
               hours of the next, the longest life of instance credentials), naming the addresses and the \
               calls, refused ones included. **high** when the session carries \
               `sessionContext.ec2RoleDelivery` (credentials the instance metadata service served); \
               **medium** when only its name says instance (`.../ROLE/i-…`: whoever assumes a role \
               chooses the session name). Calls AWS services make on the session's behalf (`invokedBy`) \
               and source addresses that are a service's name are left out. The networks are a snapshot \
               shipped with trailguard (its dates are in `data/aws-ip-ranges.txt`): a network AWS \
               announced later reads as outside, unless the run is given the current list \
               (`--aws-ip-ranges FILE`, a download of `ip-ranges.json`, added to the snapshot). Where \
               instances reach the \
               internet through the company's own egress (a proxy or firewall on premises, addresses \
               brought to AWS with BYOIP), those addresses read as outside too: mute them once \
               (`trailguard mute add --rule CT106 --source-ip CIDR`).",
        why: "Instance credentials work from anywhere, but an instance's own calls leave from the \
              instance: a private address through a VPC endpoint, or an address of AWS's through an \
              internet or NAT gateway. The same session calling from a broadband line or a hosting \
              provider is someone who read the credentials from the metadata service (server-side \
              request forgery, a shell on the instance, a leaked backup) and uses them from their own \
              machine (ATT&CK T1552.005, T1078.004). GuardDuty reports it as \
              `InstanceCredentialExfiltration.OutsideAWS`; CT072 catches the thief who works from inside \
              AWS, by the address that reached into the instance.",
        example: "`.../assumed-role/web-app-role/i-0abcdef1234567890`, served by the metadata service, calls \
                  `GetCallerIdentity`, `ListBuckets` and `DescribeInstances` from 45.33.32.156.",
        fix: "Deny the role's sessions issued up to the last call seen (an inline policy on \
              `aws:TokenIssueTime`: the instance fetches fresh credentials and carries on), review what the \
              session did from those addresses, and find how the credentials left the instance. Require \
              IMDSv2 with a hop limit of 1; a VPC endpoint policy or the `aws:EC2InstanceSourceVPC` \
              condition keeps instance credentials from working outside their network.",
        references: &[
            "https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_finding-types-iam.html#unauthorizedaccess-iam-instancecredentialexfiltrationoutsideaws",
            "https://docs.aws.amazon.com/vpc/latest/userguide/aws-ip-ranges.html",
            "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/iam-roles-for-amazon-ec2.html",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_revoke-sessions.html",
            "https://attack.mitre.org/techniques/T1552/005/",
        ],
    },
};

/// A session's outside calls at most this far apart are one stretch: instance credentials last up to 6
/// hours, so one stolen set's use never spans a longer gap.
const SHAPE: BurstShape = BurstShape {
    window_ms: 6 * 60 * 60 * 1000,
    threshold: 1,
    min_kinds: 1,
};

/// `kind` bit: the session carries `ec2RoleDelivery` (served by the instance metadata service).
const SERVED_BY_METADATA: u8 = 0x02;

/// Instance role credentials used from outside AWS, judged against AWS's networks as this build's
/// snapshot lists them ([`Default`]) or as a run was told ([`InstanceCredentialsUsedOutsideAws::knowing`]).
#[derive(Debug)]
pub struct InstanceCredentialsUsedOutsideAws {
    networks: &'static AwsNetworks,
}

impl Default for InstanceCredentialsUsedOutsideAws {
    fn default() -> Self {
        InstanceCredentialsUsedOutsideAws::knowing(AwsNetworks::builtin())
    }
}

impl InstanceCredentialsUsedOutsideAws {
    /// The rule reading `networks` as AWS's (`--aws-ip-ranges`: the snapshot and a current list).
    pub fn knowing(networks: &'static AwsNetworks) -> Self {
        InstanceCredentialsUsedOutsideAws { networks }
    }
}

impl SequenceRule for InstanceCredentialsUsedOutsideAws {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn reach_ms(&self) -> Option<i64> {
        Some(SHAPE.window_ms)
    }

    /// Asked of every record: an instance's session, served by the metadata service or only named after
    /// the instance, has `:i-` in the caller's text (its principal id ends with the instance id); an
    /// escape could spell it. One search of the caller's few hundred bytes.
    fn wants_raw(&self, raw: &RawRecord<'_>) -> bool {
        static NAMED: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b":i-"));
        let caller = raw.caller_text();
        NAMED.find(caller).is_some() || raw.escapes_in(caller)
    }

    /// `observe` reads the identity, the address, names and outcome: a typed peek serves it.
    fn typed_fields_only(&self) -> bool {
        true
    }

    /// Offered every record another rule wants parsed, whatever the raw test said: the tests that
    /// settle most records (the caller's type, its principal id) come first, the address last.
    fn observe<'r>(&self, record: &'r Record<'r>) -> Option<Observed<'r>> {
        let identity = &record.user_identity;
        if identity.identity_type.as_deref() != Some("AssumedRole") {
            return None;
        }
        // An instance's session is named after it: `AROA…:i-…`. Served credentials carry
        // `ec2RoleDelivery` too; a name alone is weaker (see the doc).
        let session_name = match identity.principal_id.as_deref() {
            Some(id) => id.rsplit_once(':')?.1,
            None => identity.arn.as_deref()?.rsplit_once('/')?.1,
        };
        if !is_instance_id(session_name) || made_by_aws(record) {
            return None;
        }
        let address = record.source_ip_address.as_deref()?;
        self.networks.outside(address)?;
        let served = identity
            .session_context
            .as_ref()
            .is_some_and(|c| c.ec2_role_delivery.is_some());
        let mut kind = if served { SERVED_BY_METADATA } else { 0 };
        if call_failed(record) {
            kind |= FAILED;
        }
        Observed::new(
            record,
            kind,
            0,
            caller_key(record),
            address,
            service_api(record),
        )
    }

    fn fold(&self) -> Option<Box<dyn SequenceFold>> {
        Some(Box::new(BurstFold::every_run(&META, SHAPE, |run, _| {
            Some(finding(run))
        })))
    }

    /// The engine folds instead ([`SequenceRule::fold`]); this is the same judgement over sorted calls.
    fn evaluate(&self, observations: &[Observation], out: &mut Report) {
        runs(observations, SHAPE, |run, _| out.push(finding(run)));
    }
}

/// One session's stretch of calls from outside AWS. A session either carries `ec2RoleDelivery` on every
/// call or on none, so its first call says which.
fn finding(run: &Burst<'_>) -> Finding {
    let event = &run.first.event;
    let served = run.first.kind & SERVED_BY_METADATA != 0;
    let severity = if served {
        Severity::High
    } else {
        Severity::Medium
    };
    let mut finding = burst_finding(&META, run, severity);
    let (role, instance) = assumed_role_parts(&run.first.principal).unwrap_or(("ROLE", "INSTANCE"));
    let addresses = run.subjects.iter().copied().collect::<Vec<_>>();
    let calls = if run.count == 1 {
        format!("1 call at {}", event.event_time)
    } else {
        format!(
            "{} calls between {} and {}",
            run.count, event.event_time, run.last_time
        )
    };
    let refused = match run.failed {
        0 => String::new(),
        n => format!(", {n} refused"),
    };
    let whose = if served {
        "credentials the instance metadata service served"
    } else {
        "a session named after the instance (not marked as served by its metadata service)"
    };
    finding.message = format!(
        "Role `{role}` of instance {instance} ({whose}) called AWS from outside AWS's networks ({}): \
         {calls}{refused}: {}.",
        addresses.join(", "),
        list_counts(&run.details, run.other_details),
    );
    finding.resource = Some(identity_resource(
        IdentityKind::Role,
        event.account.as_deref(),
        role,
    ));
    finding.evidence.push(evidence("instanceId", instance));
    finding
        .evidence
        .push(evidence("sourceIPAddresses", addresses));
    finding.evidence.push(evidence(
        "sessionContext.ec2RoleDelivery",
        if served { "present" } else { "absent" },
    ));
    finding.evidence.push(evidence(
        "eventNames",
        serde_json::to_value(&run.details).unwrap_or_default(),
    ));
    // Deny every session of the role issued until a second after the last outside call seen.
    let cutoff = trailguard_event::parse_event_time(run.last_time)
        .map(|t| {
            (t + chrono::Duration::seconds(1))
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string()
        })
        .unwrap_or_else(|| run.last_time.to_owned());
    let deny = deny_sessions_issued_before(&cutoff);
    finding.fix.summary = format!(
        "Revoke the sessions of role `{role}` issued up to {cutoff}, review what they did from outside \
         AWS, and find how the credentials of {instance} left it."
    );
    finding.fix.commands = vec![format!(
        "aws iam put-role-policy --role-name {} --policy-name AWSRevokeOlderSessions --policy-document {}",
        sh(role),
        sh(&deny)
    )];
    finding
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{run_sequence, TestEvent, ASSUMED_ROLE_MFA};

    const SERVED: &str = r#"{"type":"AssumedRole","principalId":"AROAQXHN7L2UCJ5K4EXMP:i-0786a3a8b5c0d92ef","arn":"arn:aws:sts::229654561268:assumed-role/ec2-app-role/i-0786a3a8b5c0d92ef","accountId":"229654561268","accessKeyId":"ASIAQXHN7L2UDEXAMPLE","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAQXHN7L2UCJ5K4EXMP","arn":"arn:aws:iam::229654561268:role/ec2-app-role","accountId":"229654561268","userName":"ec2-app-role"},"attributes":{"creationDate":"2024-08-01T13:00:12Z","mfaAuthenticated":"false"},"ec2RoleDelivery":"2.0"}}"#;

    fn call(name: &str, address: &str, minute: u32) -> TestEvent {
        TestEvent::new("ec2.amazonaws.com", name)
            .identity(SERVED)
            .source_ip(address)
            .read_only(true)
            .time(&format!("2024-08-01T14:{minute:02}:00Z"))
            .id(&format!("{name}-{address}-{minute}"))
    }

    #[test]
    fn a_stolen_session_calling_from_outside_is_one_finding_per_stretch() {
        let events = [
            call("DescribeInstances", "45.33.32.156", 1),
            call("DescribeRegions", "45.33.32.156", 2).denied(),
            // The instance itself, from AWS's address and from its VPC: not the thief.
            call("DescribeInstances", "18.236.253.47", 3),
            call("DescribeInstances", "10.0.1.50", 4),
            call("DescribeVolumes", "2001:db8::7", 30),
        ];
        let findings = run_sequence(
            Box::new(InstanceCredentialsUsedOutsideAws::default()),
            &events,
        );
        assert_eq!(findings.len(), 1, "{findings:#?}");
        let f = &findings[0];
        assert_eq!(f.severity, Severity::High);
        assert!(
            f.message.contains(
                "from outside AWS's networks (2001:db8::7, 45.33.32.156): 3 calls between"
            ) && f.message.contains(", 1 refused: ")
                && f.message
                    .contains("ec2:DescribeInstances, ec2:DescribeRegions, ec2:DescribeVolumes"),
            "{}",
            f.message
        );
        assert_eq!(
            f.resource.as_ref().map(|r| r.id.as_str()),
            Some("arn:aws:iam::229654561268:role/ec2-app-role")
        );
        assert!(
            f.fix.commands[0].contains("2024-08-01T14:30:01Z"),
            "{:?}",
            f.fix.commands
        );
    }

    #[test]
    fn only_instance_sessions_calling_for_themselves_count() {
        let named_only = SERVED.replace(r#","ec2RoleDelivery":"2.0""#, "");
        let by_name = call("GetCallerIdentity", "45.33.32.156", 1).identity(&named_only);
        let findings = run_sequence(
            Box::new(InstanceCredentialsUsedOutsideAws::default()),
            &[by_name],
        );
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].severity, Severity::Medium);

        let other_session = SERVED
            .replace(r#","ec2RoleDelivery":"2.0""#, "")
            .replace("i-0786a3a8b5c0d92ef", "deploy-pipeline");
        let relayed = call("Decrypt", "45.33.32.156", 2).identity(&SERVED.replace(
            r#""type":"AssumedRole","#,
            r#""type":"AssumedRole","invokedBy":"cloudformation.amazonaws.com","#,
        ));
        let named_by_service = call("Decrypt", "cloudformation.amazonaws.com", 3);
        let events = [
            call("ListBuckets", "45.33.32.156", 1).identity(&other_session),
            relayed,
            named_by_service,
        ];
        let findings = run_sequence(
            Box::new(InstanceCredentialsUsedOutsideAws::default()),
            &events,
        );
        assert!(findings.is_empty(), "{findings:#?}");
    }

    #[test]
    fn the_raw_test_takes_instance_sessions_only() {
        let wants = |event: &TestEvent| {
            let text = event.json();
            InstanceCredentialsUsedOutsideAws::default().wants_raw(&RawRecord::new(text.as_bytes()))
        };
        let served = call("DescribeInstances", "45.33.32.156", 1);
        assert!(wants(&served));
        let named_only = SERVED.replace(r#","ec2RoleDelivery":"2.0""#, "");
        assert!(wants(&served.clone().identity(&named_only)));
        let person = TestEvent::new("ec2.amazonaws.com", "DescribeInstances")
            .identity(ASSUMED_ROLE_MFA)
            .source_ip("45.33.32.156");
        assert!(!wants(&person));
        assert!(!wants(&TestEvent::new("s3.amazonaws.com", "ListBuckets")));
    }

    #[test]
    fn stretches_six_hours_apart_are_two_findings() {
        let events = [
            call("DescribeInstances", "45.33.32.156", 1),
            call("DescribeInstances", "45.33.32.156", 2).time("2024-08-01T21:00:00Z"),
        ];
        let findings = run_sequence(
            Box::new(InstanceCredentialsUsedOutsideAws::default()),
            &events,
        );
        assert_eq!(findings.len(), 2, "{findings:#?}");
    }
}
