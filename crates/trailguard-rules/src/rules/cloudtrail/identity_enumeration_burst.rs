//! CT033 identity-enumeration-burst: one principal listing and reading IAM, STS, Organizations, account
//! and Identity Center configuration in bulk. A sequence rule offered only the reads of those services
//! (source and name-prefix patterns, so the engine skips every other record unparsed), folded as the
//! calls come ([`BurstFold`]: runs per principal, never the calls' events).

use trailguard_event::peek::RawRecord;
use trailguard_event::Record;

use super::burst::{burst_finding, bursts, list_counts, Burst, BurstFold, BurstShape, FAILED};
use super::common::service_api;
use super::common::{
    call_failed, caller_key, describe_caller, evidence, long_term_key, made_by_aws,
};
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{Observation, Observed, Report, SequenceFold, SequenceRule};
use crate::Finding;

pub const META: RuleMeta = RuleMeta {
    code: "CT033",
    name: "identity-enumeration-burst",
    title: "Burst of identity and account discovery calls",
    family: Family::Cloudtrail,
    severity: Severity::Low,
    attack: &["T1087.004", "T1069.003", "T1580", "T1526"],
    compliance: &[],
    events: &[
        ("iam.amazonaws.com", "Get*"),
        ("iam.amazonaws.com", "List*"),
        ("sts.amazonaws.com", "Get*"),
        ("organizations.amazonaws.com", "Describe*"),
        ("organizations.amazonaws.com", "List*"),
        ("account.amazonaws.com", "Get*"),
        ("account.amazonaws.com", "List*"),
        ("sso.amazonaws.com", "Describe*"),
        ("sso.amazonaws.com", "Get*"),
        ("sso.amazonaws.com", "List*"),
        ("identitystore.amazonaws.com", "Describe*"),
        ("identitystore.amazonaws.com", "Get*"),
        ("identitystore.amazonaws.com", "List*"),
        ("access-analyzer.amazonaws.com", "Get*"),
        ("access-analyzer.amazonaws.com", "List*"),
    ],
    kb_entries: &[],
    doc: RuleDoc {
        what: "At least 20 read calls (`Get*`, `List*`, `Describe*`) to IAM, STS, Organizations, Account, \
               IAM Identity Center (`sso`, `identitystore`) by one principal within 10 minutes, covering at \
               least 8 different API names: users, roles, policies, keys, the organization's accounts, contact \
               details (`sts:GetCallerIdentity`, which every SDK calls to learn who it is, does not count). One \
               finding per burst with every API called and how many were refused. **low**; \
               **medium** when the caller is an IAM user calling with a long-term key, or when a quarter or \
               more of the calls were refused. AWS service-linked roles (`AWSServiceRoleFor*`) and calls AWS \
               services make on a principal's behalf (`invokedBy`) are left out.",
        why: "Enumerating identities and their permissions is the first thing an attacker does with new \
              credentials (ATT&CK T1087.004 Cloud Account discovery, T1069.003 Cloud Groups, tools such as \
              Pacu `iam__enum_permissions`, enumerate-iam, ScoutSuite). Refused calls in the mix show a caller \
              probing what its credentials allow. Auditors and posture tools do the same, which is why the \
              rule is low unless the shape points at stolen keys.",
        example: "IAM user `build` calls `GetAccountAuthorizationDetails`, `ListUsers`, `ListRoles`, \
                  `ListAttachedUserPolicies`, `GetUser`, `ListAccessKeys`, `ListMFADevices`, \
                  `organizations:ListAccounts` ... 60 calls in three minutes from a new address.",
        fix: "Identify the caller. If it is an audit tool, note its principal so its bursts are expected. If \
              not, treat its credentials as compromised: deactivate the key or revoke the role's sessions and \
              review what it did after the enumeration.",
        references: &[
            "https://attack.mitre.org/techniques/T1087/004/",
            "https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetAccountAuthorizationDetails.html",
        ],
    },
};

/// Services whose read calls describe identities, permissions or the account itself.
const IDENTITY_SOURCES: &[&str] = &[
    "iam.amazonaws.com",
    "sts.amazonaws.com",
    "organizations.amazonaws.com",
    "account.amazonaws.com",
    "sso.amazonaws.com",
    "identitystore.amazonaws.com",
    "access-analyzer.amazonaws.com",
];

const SHAPE: BurstShape = BurstShape {
    window_ms: 10 * 60 * 1000,
    threshold: 20,
    min_kinds: 8,
};

fn is_discovery(source: &str, name: &str) -> bool {
    // Every SDK and CLI asks `GetCallerIdentity` who it is, all day: alone it tells nothing, and a real
    // sweep shows itself through the calls that follow.
    IDENTITY_SOURCES.contains(&source)
        && name != "GetCallerIdentity"
        && ["Get", "List", "Describe"]
            .iter()
            .any(|prefix| name.starts_with(prefix))
}

/// Bursts of identity discovery by one principal.
#[derive(Debug, Default)]
pub struct IdentityEnumerationBurst;

impl SequenceRule for IdentityEnumerationBurst {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn reach_ms(&self) -> Option<i64> {
        Some(SHAPE.window_ms)
    }

    /// The patterns already hold the sources and prefixes; this leaves out `GetCallerIdentity`.
    fn wants_raw(&self, raw: &RawRecord<'_>) -> bool {
        raw.source_and_name()
            .is_none_or(|(source, name)| is_discovery(source, name))
    }

    fn fold(&self) -> Option<Box<dyn SequenceFold>> {
        Some(Box::new(BurstFold::new(&META, SHAPE, finding)))
    }

    /// `observe` reads names, identity and outcome only: the engine peeks, never parses, for it.
    fn typed_fields_only(&self) -> bool {
        true
    }

    fn observe<'r>(&self, record: &'r Record<'r>) -> Option<Observed<'r>> {
        if !is_discovery(&record.event_source, &record.event_name) {
            return None;
        }
        let identity = &record.user_identity;
        if made_by_aws(record)
            || identity
                .arn
                .as_deref()
                .is_some_and(|arn| arn.contains(":assumed-role/AWSServiceRoleFor"))
        {
            return None;
        }
        let user_key =
            identity.identity_type.as_deref() == Some("IAMUser") && long_term_key(record).is_some();
        let mut kind = if call_failed(record) { FAILED } else { 0 };
        if user_key {
            kind |= LONG_TERM_KEY;
        }
        // `service_api` builds it by hand: `format!` here was about 1% of a scan (every IAM read).
        Observed::new(record, kind, 0, caller_key(record), "", service_api(record))
    }

    /// The engine folds instead ([`SequenceRule::fold`]); this is the same judgement over sorted calls.
    fn evaluate(&self, observations: &[Observation], out: &mut Report) {
        bursts(observations, SHAPE, |burst| out.push(finding(burst)));
    }
}

/// `kind` bit: the caller used a long-term access key.
const LONG_TERM_KEY: u8 = 0x02;

fn finding(burst: &Burst<'_>) -> Finding {
    let event = &burst.first.event;
    let refused_share = burst.failed * 4 >= burst.count;
    let severity = if burst.first.kind & LONG_TERM_KEY != 0 || refused_share {
        Severity::Medium
    } else {
        META.severity
    };
    let mut finding = burst_finding(&META, burst, severity);
    let calls = list_counts(&burst.details, burst.other_details);
    finding.message = format!(
        "{} made {} identity discovery calls ({} refused) between {} and {}: {calls}.",
        describe_caller(event),
        burst.count,
        burst.failed,
        event.event_time,
        burst.last_time,
    );
    finding.evidence.push(evidence(
        "eventNames",
        serde_json::to_value(&burst.details).unwrap_or_default(),
    ));
    finding.fix.summary =
        "Identify the caller; if it is not a known audit tool, treat its credentials as \
                           compromised and review what it did next."
            .to_owned();
    finding
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{run_sequence, TestEvent, ASSUMED_ROLE_MFA};

    const CALLS: &[&str] = &[
        "GetAccountAuthorizationDetails",
        "ListUsers",
        "ListRoles",
        "ListPolicies",
        "ListAccessKeys",
        "ListMFADevices",
        "GetUser",
        "ListAttachedUserPolicies",
        "ListGroupsForUser",
        "GetAccountSummary",
    ];

    fn sweep(identity: &str, seconds_apart: usize) -> Vec<TestEvent> {
        (0..24)
            .map(|i| {
                let t = i * seconds_apart;
                TestEvent::iam(CALLS[i % CALLS.len()])
                    .identity(identity)
                    .read_only(true)
                    .time(&format!("2024-08-01T13:{:02}:{:02}Z", t / 60, t % 60))
                    .id(&format!("enum-{i}"))
            })
            .collect()
    }

    #[test]
    fn a_key_holder_sweeping_iam_is_one_medium_burst() {
        let findings = run_sequence(
            Box::new(IdentityEnumerationBurst),
            &sweep(crate::rules::cloudtrail::common::testing::IAM_USER, 5),
        );
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert_eq!(findings[0].severity, Severity::Medium);
        assert!(findings[0]
            .message
            .contains("made 24 identity discovery calls"));
        let role = run_sequence(
            Box::new(IdentityEnumerationBurst),
            &sweep(ASSUMED_ROLE_MFA, 5),
        );
        assert_eq!(role[0].severity, Severity::Low);
    }

    #[test]
    fn get_caller_identity_alone_is_not_discovery() {
        assert!(!is_discovery("sts.amazonaws.com", "GetCallerIdentity"));
        assert!(is_discovery("sts.amazonaws.com", "GetAccessKeyInfo"));
        assert!(is_discovery("organizations.amazonaws.com", "ListAccounts"));
        assert!(!is_discovery("ec2.amazonaws.com", "DescribeInstances"));
    }

    #[test]
    fn slow_reads_few_apis_and_service_roles_are_not_bursts() {
        // Two minutes apart: never 20 within ten minutes.
        assert!(run_sequence(
            Box::new(IdentityEnumerationBurst),
            &sweep(crate::rules::cloudtrail::common::testing::IAM_USER, 120)
        )
        .is_empty());
        let same_api: Vec<_> = (0..30)
            .map(|i| {
                TestEvent::iam("GetUser")
                    .read_only(true)
                    .time(&format!("2024-08-01T13:00:{i:02}Z"))
                    .id(&format!("get-{i}"))
            })
            .collect();
        assert!(run_sequence(Box::new(IdentityEnumerationBurst), &same_api).is_empty());
        let config = r#"{"type":"AssumedRole","principalId":"AROAEXAMPLE:AWSConfig","arn":"arn:aws:sts::229654561268:assumed-role/AWSServiceRoleForConfig/AWSConfig","accountId":"229654561268","accessKeyId":"ASIAEXAMPLE"}"#;
        assert!(run_sequence(Box::new(IdentityEnumerationBurst), &sweep(config, 5)).is_empty());
    }
}
