//! CT072 instance-credentials-exfiltrated: an EC2 instance's role credentials used from the very address
//! whose caller had just reached into that instance (a command, a session or an SSH key). A sequence rule,
//! folded: the calls that reach into instances are rare and kept whole; the instances' own calls are kept
//! as one summary per instance and address.

use std::collections::HashMap;
use std::net::IpAddr;

use std::sync::LazyLock;

use memchr::memmem::Finder;
use trailguard_event::peek::RawRecord;
use trailguard_event::Record;

use super::common::assumed_role_parts;
use super::common::{
    call_failed, caller_key, deny_sessions_issued_before, evidence, finding_from_event,
    identity_resource, is_instance_id, made_by_aws, role_session, sh,
};
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::IdentityKind;
use crate::rule::{
    fold_all, Observation, Observed, Report, SequenceFold, SequenceRule, StateLimit,
};
use crate::Finding;

/// The calls that put a caller's code or keyboard on an instance.
const REACHES: &[(&str, &str)] = &[
    ("ssm.amazonaws.com", "SendCommand"),
    ("ssm.amazonaws.com", "StartSession"),
    ("ec2-instance-connect.amazonaws.com", "SendSSHPublicKey"),
    (
        "ec2-instance-connect.amazonaws.com",
        "SendSerialConsoleSSHPublicKey",
    ),
];

pub const META: RuleMeta = RuleMeta {
    code: "CT072",
    name: "instance-credentials-exfiltrated",
    title: "Instance role credentials used from the address that reached into the instance",
    family: Family::Cloudtrail,
    severity: Severity::High,
    attack: &["T1552.005", "T1078.004"],
    compliance: &[],
    events: &[
        ("ssm.amazonaws.com", "SendCommand"),
        ("ssm.amazonaws.com", "StartSession"),
        ("ec2-instance-connect.amazonaws.com", "SendSSHPublicKey"),
        ("ec2-instance-connect.amazonaws.com", "SendSerialConsoleSSHPublicKey"),
        // What stolen credentials are tried on first: who am I, what may I see.
        ("sts.amazonaws.com", "Get*"),
        ("iam.amazonaws.com", "Get*"),
        ("iam.amazonaws.com", "List*"),
        ("ec2.amazonaws.com", "Describe*"),
        ("secretsmanager.amazonaws.com", "List*"),
        ("secretsmanager.amazonaws.com", "GetSecretValue"),
        ("ssm.amazonaws.com", "GetParameter*"),
    ],
    kb_entries: &[
        "SendCommand",
        "StartSession",
        "SendSSHPublicKey",
        "SendSerialConsoleSSHPublicKey",
    ],
    doc: RuleDoc {
        what: "A principal reaches into an EC2 instance (Systems Manager `SendCommand` or `StartSession`, \
               EC2 Instance Connect `SendSSHPublicKey` or `SendSerialConsoleSSHPublicKey`), and that \
               instance's role session (the session AWS names after the instance, `.../ROLE/i-...`) then \
               calls AWS from the same source address within 6 hours: `sts:GetCallerIdentity`, IAM, STS \
               or EC2 reads, secret or parameter reads. One finding per instance, address and caller, \
               with the calls counted. **high**; **medium** when the caller that reached in is itself \
               another instance's role (two instances behind one NAT gateway share an address). A session \
               is an instance's when it carries `sessionContext.ec2RoleDelivery` (credentials served by \
               the instance metadata service; CloudTrail has written it since 2021) and is named after \
               the instance. Refused \
               reaches, calls AWS services make on a principal's behalf, and addresses that are not IP \
               addresses (`ssm.amazonaws.com`) are left out.",
        why: "An instance's role credentials are served to whatever runs on it by the instance metadata \
              service. An attacker who can run a command or open a shell there (`SendCommand` with \
              `curl http://169.254.169.254/...`) copies them and uses them from their own machine (ATT&CK \
              T1552.005 Cloud Instance Metadata API, T1078.004 Cloud Accounts; Stratus Red Team \
              `ec2-steal-instance-credentials`). The instance's own calls come from the instance's \
              address, never from the address of the person who reached into it: the two meeting is the \
              credentials leaving the instance. GuardDuty reports the same theft as \
              `InstanceCredentialExfiltration`.",
        example: "IAM user `christophe` runs `AWS-RunShellScript` on `i-0786a3a8b5c0d92ef` from \
                  18.236.253.47; a minute later `.../ec2-role/i-0786a3a8b5c0d92ef` calls \
                  `GetCallerIdentity` and `DescribeInstances` from 18.236.253.47.",
        fix: "Deny the role's sessions issued up to now (an inline policy on `aws:TokenIssueTime`: the \
              instance gets fresh credentials within minutes and keeps working), find out what the \
              stolen session did, and deactivate the credentials of the caller that reached in if that \
              was not a person doing their job. Require IMDSv2 with a hop limit of 1 and limit \
              `ssm:SendCommand`/`ssm:StartSession` to named instances.",
        references: &[
            "https://attack.mitre.org/techniques/T1552/005/",
            "https://stratus-red-team.cloud/attack-techniques/AWS/aws.credential-access.ec2-steal-instance-credentials/",
            "https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_finding-types-iam.html#unauthorizedaccess-iam-instancecredentialexfiltrationoutsideaws",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_revoke-sessions.html",
        ],
    },
};

/// How long after reaching into an instance a use of its credentials from the same address counts:
/// credentials from the instance metadata service last up to 6 hours.
const WINDOW_MS: i64 = 6 * 60 * 60 * 1000;
/// A use a little before the reach still counts: CloudTrail times are to the second, and a session's
/// first call can be logged before the command that launched it.
const SLACK_MS: i64 = 5 * 60 * 1000;
/// Reaches and instance/address pairs a fold keeps; more are counted and reported as a state limit.
const REACH_CAP: usize = 16_384;
const USE_CAP: usize = 65_536;

/// `kind` of an observation.
const REACH: u8 = 0;
const USE: u8 = 1;
/// `kind` bit of a reach: the caller is itself an instance's role session.
const FROM_INSTANCE: u8 = 0x02;

/// Instance role credentials used from the address that reached into the instance.
#[derive(Debug, Default)]
pub struct InstanceCredentialsExfiltrated;

/// The instance whose profile credentials made the call: served by the instance metadata service (only
/// those sessions carry `ec2RoleDelivery`, tested first: it settles most records), in the session AWS
/// names after the instance.
fn instance_of_caller<'r>(record: &'r Record<'_>) -> Option<&'r str> {
    let context = record.user_identity.session_context.as_ref()?;
    context.ec2_role_delivery.as_ref()?;
    role_session(record)
        .map(|s| s.session_name)
        .filter(|name| is_instance_id(name))
}

/// The instances a reach names (`instanceIds`, `target`, `instanceId`), each a well-formed instance id,
/// joined by `,` (no id holds one), less `own`, the caller's own instance: an instance commanding itself
/// calls from its own address anyway.
fn reached_instances(record: &Record<'_>, own: Option<&str>) -> Option<String> {
    let params = record.request_parameters()?;
    let ids: Vec<&str> = match record.event_name.as_ref() {
        "SendCommand" => params
            .get("instanceIds")?
            .as_array()?
            .iter()
            .filter_map(|v| v.as_str())
            .collect(),
        "StartSession" => vec![params.get("target")?.as_str()?],
        _ => vec![params.get("instanceId")?.as_str()?],
    };
    let ids: Vec<&str> = ids
        .into_iter()
        .filter(|id| is_instance_id(id) && Some(*id) != own)
        .collect();
    (!ids.is_empty()).then(|| ids.join(","))
}

/// The record's source address when it is an IP address (AWS services write their own name there).
fn source_address<'r>(record: &'r Record<'_>) -> Option<&'r str> {
    record
        .source_ip_address
        .as_deref()
        .filter(|a| a.parse::<IpAddr>().is_ok())
}

impl SequenceRule for InstanceCredentialsExfiltrated {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn reach_ms(&self) -> Option<i64> {
        Some(WINDOW_MS + SLACK_MS)
    }

    /// Asked only of the reads (the engine never asks a rule about the exact events it declares): those
    /// made with instance profile credentials have `"ec2RoleDelivery"` in the caller's text, or an escape
    /// that could spell it.
    fn wants_raw(&self, raw: &RawRecord<'_>) -> bool {
        static INSTANCE_SESSION: LazyLock<Finder<'static>> =
            LazyLock::new(|| Finder::new(br#""ec2RoleDelivery""#));
        let caller = raw.caller_text();
        INSTANCE_SESSION.find(caller).is_some() || raw.escapes_in(caller)
    }

    /// `observe` reads names, identity, address and request parameters: a typed peek serves it.
    fn typed_fields_only(&self) -> bool {
        true
    }

    fn observe<'r>(&self, record: &'r Record<'r>) -> Option<Observed<'r>> {
        // Most records offered are reads other rules peeked, by no instance: settled here.
        let own = instance_of_caller(record);
        let reach = REACHES.contains(&(record.event_source.as_ref(), record.event_name.as_ref()));
        if !reach && own.is_none() {
            return None;
        }
        if made_by_aws(record) || call_failed(record) {
            return None;
        }
        let address = source_address(record)?;
        if reach {
            let instances = reached_instances(record, own)?;
            let kind = if own.is_some() {
                REACH | FROM_INSTANCE
            } else {
                REACH
            };
            return Observed::new(record, kind, 0, caller_key(record), instances, address);
        }
        Observed::new(record, USE, 1, caller_key(record), own?, address)
    }

    fn fold(&self) -> Option<Box<dyn SequenceFold>> {
        Some(Box::<CredentialFold>::default())
    }

    /// The engine folds instead ([`SequenceRule::fold`]); this runs the same fold over a slice.
    fn evaluate(&self, observations: &[Observation], out: &mut Report) {
        let _limit = fold_all(Box::<CredentialFold>::default(), observations, out);
    }
}

/// An instance role's calls from one address: the earliest kept whole, the span and the count.
struct Use {
    first: Observation,
    last_at: i64,
    calls: u64,
}

/// Reaches per instance, and each instance's calls per address.
#[derive(Default)]
struct CredentialFold {
    reaches: HashMap<Box<str>, Vec<Observation>>,
    reach_count: usize,
    /// Instance, then address: looked up by the call's own text, nothing copied for a known pair.
    uses: HashMap<Box<str>, HashMap<Box<str>, Use>>,
    use_count: usize,
    left_out: u64,
}

impl CredentialFold {
    fn add_reach(&mut self, instance: &str, reach: Observation) {
        if self.reach_count >= REACH_CAP {
            self.left_out += 1;
            return;
        }
        self.reach_count += 1;
        self.reaches.entry(instance.into()).or_default().push(reach);
    }

    /// The calls kept of `instance`'s role from `address`, found by the text given.
    fn kept_use(&mut self, instance: &str, address: &str) -> Option<&mut Use> {
        self.uses.get_mut(instance)?.get_mut(address)
    }

    /// Keeps the calls of a pair not seen yet, or counts them as left out beyond [`USE_CAP`].
    fn insert_use(&mut self, instance: &str, address: &str, used: Use) {
        if self.use_count >= USE_CAP {
            self.left_out += used.calls;
            return;
        }
        self.use_count += 1;
        (self.uses.entry(instance.into()).or_default()).insert(address.into(), used);
    }
}

impl Use {
    /// Takes in the same pair's calls kept by another worker.
    fn absorb(&mut self, other: Use) {
        self.calls += other.calls;
        self.last_at = self.last_at.max(other.last_at);
        if other.first.order() < self.first.order() {
            self.first = other.first;
        }
    }
}

impl SequenceFold for CredentialFold {
    fn add(&mut self, observed: Observed<'_>) {
        if observed.kind & USE != 0 {
            // Most calls of an instance come from its one address: a count, nothing copied.
            if let Some(kept) = self.kept_use(&observed.subject, &observed.detail) {
                kept.calls += 1;
                kept.last_at = kept.last_at.max(observed.at);
                if observed.order() < kept.first.order() {
                    kept.first = observed.into_observation();
                }
                return;
            }
            let last_at = observed.at;
            let first = observed.into_observation();
            let (instance, address) = (first.subject.clone(), first.detail.clone());
            let used = Use {
                first,
                last_at,
                calls: 1,
            };
            self.insert_use(&instance, &address, used);
            return;
        }
        let reach = observed.into_observation();
        for instance in reach.subject.split(',') {
            self.add_reach(instance, reach.clone());
        }
    }

    fn merge(&mut self, other: Box<dyn SequenceFold>) {
        let Ok(other) = other.into_any().downcast::<CredentialFold>() else {
            return;
        };
        let other = *other;
        self.left_out += other.left_out;
        for (instance, reaches) in other.reaches {
            for reach in reaches {
                self.add_reach(&instance, reach);
            }
        }
        for (instance, addresses) in other.uses {
            for (address, used) in addresses {
                match self.kept_use(&instance, &address) {
                    Some(kept) => kept.absorb(used),
                    None => self.insert_use(&instance, &address, used),
                }
            }
        }
    }

    fn finish(self: Box<Self>, out: &mut Report) -> Option<StateLimit> {
        let CredentialFold {
            reaches,
            uses,
            left_out,
            ..
        } = *self;
        let mut found: Vec<Finding> = Vec::new();
        let uses = uses.iter().flat_map(|(instance, addresses)| {
            (addresses.iter()).map(move |(address, used)| (instance, address, used))
        });
        for (instance, address, used) in uses {
            let Some(reaches) = reaches.get(instance) else {
                continue;
            };
            // The earliest reach from this address per caller whose window the calls fall in.
            let mut by_caller: HashMap<&str, &Observation> = HashMap::new();
            for reach in reaches {
                let in_window =
                    used.last_at >= reach.at - SLACK_MS && used.first.at <= reach.at + WINDOW_MS;
                if *reach.detail != **address || !in_window {
                    continue;
                }
                let earliest = by_caller.entry(&reach.principal).or_insert(reach);
                if reach.order() < earliest.order() {
                    *earliest = reach;
                }
            }
            for reach in by_caller.values() {
                found.push(finding(instance, address, reach, used));
            }
        }
        // One order whatever the order of the maps.
        found.sort_by(|a, b| a.id.cmp(&b.id));
        out.extend(found);
        (left_out > 0).then(|| StateLimit {
            rule: META.code,
            events_left_out: left_out,
            limit: format!("{REACH_CAP} reaches into instances or {USE_CAP} instance addresses"),
        })
    }

    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}

fn finding(instance: &str, address: &str, reach: &Observation, used: &Use) -> Finding {
    let from_instance = reach.kind & FROM_INSTANCE != 0;
    let severity = if from_instance {
        Severity::Medium
    } else {
        Severity::High
    };
    let use_event = &used.first.event;
    let mut finding = finding_from_event(&META, use_event, severity);
    // One finding per instance, address and caller, whichever of its calls came first.
    finding.id = Finding::stable_id(&[META.code, instance, address, &reach.principal]);
    let role = assumed_role_parts(&used.first.principal)
        .map_or("ROLE", |(role, _)| role)
        .to_owned();
    let reacher = &reach.principal;
    let calls = if used.calls == 1 {
        "1 call".to_owned()
    } else {
        format!("{} calls", used.calls)
    };
    let shared = if from_instance {
        " The caller that reached in is itself an instance's role: if both instances sit behind one NAT \
         gateway, the shared address explains the match."
    } else {
        ""
    };
    finding.message = format!(
        "Role `{role}` of instance {instance} was used from {address} ({calls}, the first `{}` at {}) \
         after `{reacher}` ran `{}` on that instance from the same address at {}: the instance's \
         credentials are being used outside it.{shared}",
        use_event.event_name, use_event.event_time, reach.event.event_name, reach.event.event_time,
    );
    finding.resource = Some(identity_resource(
        IdentityKind::Role,
        use_event.account.as_deref(),
        &role,
    ));
    finding.evidence = vec![
        evidence("instanceId", instance),
        evidence("sourceIPAddress", address),
        evidence(
            format!("{}.eventID", reach.event.event_name),
            reach.event.event_id.clone().unwrap_or_default(),
        ),
        evidence(
            "firstUse.eventID",
            use_event.event_id.clone().unwrap_or_default(),
        ),
        evidence("calls", used.calls),
    ];
    // Deny every session of the role issued until a second after the stolen one was last seen; the
    // instance fetches fresh credentials and carries on.
    let cutoff = chrono::DateTime::from_timestamp_millis(used.last_at + 1000)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| use_event.event_time.clone());
    let deny = deny_sessions_issued_before(&cutoff);
    finding.fix.summary = format!(
        "Revoke the sessions of role `{role}` issued up to {cutoff}, review what they did from {address}, \
         and find out why `{reacher}` reached into {instance}."
    );
    finding.fix.commands = vec![
        format!(
            "aws iam put-role-policy --role-name {} --policy-name AWSRevokeOlderSessions --policy-document {}",
            sh(&role),
            sh(&deny)
        ),
        format!(
            "aws cloudtrail lookup-events --lookup-attributes AttributeKey=ResourceName,AttributeValue={} --start-time {}",
            sh(instance),
            sh(&reach.event.event_time)
        ),
    ];
    finding.fix.kb_entry = Some(reach.event.event_name.clone());
    finding
}

#[cfg(test)]
mod tests {
    use trailguard_event::peek::RawRecord;

    use crate::engine::{Engine, RawNeed};
    use crate::rules::cloudtrail::common::testing::{TestEvent, ASSUMED_ROLE_MFA};

    const INSTANCE_SESSION: &str = r#"{"type":"AssumedRole","principalId":"AROAQXHN7L2UCJ5K4EXMP:i-0786a3a8b5c0d92ef","arn":"arn:aws:sts::229654561268:assumed-role/ec2-app-role/i-0786a3a8b5c0d92ef","accountId":"229654561268","accessKeyId":"ASIAQXHN7L2UDEXAMPLE","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAQXHN7L2UCJ5K4EXMP","arn":"arn:aws:iam::229654561268:role/ec2-app-role","accountId":"229654561268","userName":"ec2-app-role"},"attributes":{"creationDate":"2024-08-01T13:00:12Z","mfaAuthenticated":"false"},"ec2RoleDelivery":"2.0"}}"#;

    fn need(event: &TestEvent) -> RawNeed {
        let text = event.json();
        Engine::builtin().raw_need(&RawRecord::new(text.as_bytes()))
    }

    /// A scan decides from the raw text whether anyone wants a record: an instance's reads and the
    /// reaches must get through, a person's `GetCallerIdentity` (which no other rule reads) must not.
    #[test]
    fn the_raw_test_lets_through_instance_reads_and_reaches_only() {
        let instance_read = TestEvent::new("sts.amazonaws.com", "GetCallerIdentity")
            .identity(INSTANCE_SESSION)
            .source_ip("18.236.253.47");
        assert_ne!(need(&instance_read), RawNeed::Nothing);
        let instance_describe = TestEvent::new("ec2.amazonaws.com", "DescribeInstances")
            .identity(INSTANCE_SESSION)
            .source_ip("18.236.253.47");
        assert_ne!(need(&instance_describe), RawNeed::Nothing);
        let command = TestEvent::new("ssm.amazonaws.com", "SendCommand").request(
            r#"{"documentName":"AWS-RunShellScript","instanceIds":["i-0786a3a8b5c0d92ef"]}"#,
        );
        assert_ne!(need(&command), RawNeed::Nothing);
        let person_read = TestEvent::new("sts.amazonaws.com", "GetCallerIdentity")
            .identity(ASSUMED_ROLE_MFA)
            .source_ip("18.236.253.47");
        assert_eq!(need(&person_read), RawNeed::Nothing);
        let person_describe = TestEvent::new("ec2.amazonaws.com", "DescribeInstances")
            .identity(ASSUMED_ROLE_MFA)
            .source_ip("18.236.253.47");
        assert_eq!(need(&person_describe), RawNeed::Nothing);
    }
}
