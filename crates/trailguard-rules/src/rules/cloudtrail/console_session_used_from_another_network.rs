//! CT105 console-session-used-from-another-network: IAM changed with a console session's credentials from
//! a network its user did not sign in from: the browser session (its cookies) taken elsewhere, by an
//! adversary-in-the-middle phishing proxy or by malware on the user's machine.
//!
//! A sequence rule over successful `ConsoleLogin` events and IAM changes made with console credentials
//! (`sessionCredentialFromConsole`). They meet on the signer: an IAM user, the root user, or a federated
//! role session, in its account. A network is an IPv4 `/16` or an IPv6 `/48` ([`network_of`]).

use std::collections::{BTreeSet, HashMap};

use trailguard_event::peek::{contains, RawRecord};
use trailguard_event::Record;

use super::common::{
    console_signer, describe_caller, evidence, finding_from_event, network_of, same_address_family,
    session_from_console, SignIn,
};
use super::iam_change_recorded::is_iam_change;
use crate::finding::{Finding, Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{Observation, Observed, Report, SequenceRule};

pub const META: RuleMeta = RuleMeta {
    code: "CT105",
    name: "console-session-used-from-another-network",
    title: "Console session used from another network",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1539", "T1550.004", "T1557"],
    compliance: &[],
    events: &[
        ("signin.amazonaws.com", "ConsoleLogin"),
        ("iam.amazonaws.com", "*"),
    ],
    kb_entries: &["ConsoleLogin"],
    doc: RuleDoc {
        what: "An IAM change (any IAM call but `Get*`, `List*`, `Generate*`, `Simulate*`) made with a console \
               session's credentials (`sessionCredentialFromConsole`) from an address in none of the \
               networks its user signed in to the console from in the 12 hours before (successful \
               `ConsoleLogin` events of the same IAM user, root user or federated role session in the same \
               account), a network being an IPv4 `/16` or an IPv6 `/48` (IPv4 and IPv6 addresses are not \
               compared). One finding per signer and other network, with the changes made from there and \
               the sign-ins. **high** when a change there created or reset credentials or opened trust \
               (access keys, console passwords, MFA devices, users, trust policies); **medium** otherwise. \
               Changes whose sign-in is not in the scan are not judged; refused changes count as attempts.",
        why: "A console session lives in the browser's cookies for up to 12 hours. Phishing kits that relay the \
              sign-in (adversary in the middle) and infostealers on the user's machine take those cookies and \
              replay them from their own servers, past the password and MFA (ATT&CK T1539, T1550.004, T1557). \
              The replayed session's calls carry the console flag but come from the thief's address, while \
              the user signed in from their own. Changing IAM is what such a session is used for first: a \
              key or a user to keep access after the cookies expire. A user whose address changes during the \
              day (a VPN switched on, a laptop carried home) gives the same picture, hence the sign-ins and \
              addresses on the finding for the user to confirm.",
        example: "IAM user `alice` signs in from 203.0.113.50 at 09:00 with MFA; at 09:20 her console session \
                  creates an access key for `alice` from 45.133.172.19.",
        fix: "Ask the user whether they were on the other network. If not: revoke the session (for an IAM user, \
              deactivate the password and keys and attach a deny on `aws:TokenIssueTime` before now; for a \
              role, Revoke active sessions), undo the changes listed, reset the password and MFA, and look for \
              the phishing page or the malware that took the cookies.",
        references: &[
            "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_revoke-sessions.html",
            "https://attack.mitre.org/techniques/T1539/",
        ],
    },
};

/// How long after a sign-in its console session may be used (the longest console session).
pub const SESSION_MS: i64 = 12 * 60 * 60 * 1000;

/// `kind`: a successful console sign-in.
const SIGNED_IN: u8 = 0;
/// `kind`: an IAM change made with console credentials.
const CHANGED: u8 = 1;
/// `kind` bit on a change: it created or reset credentials or opened trust.
const CREDENTIALS: u8 = 2;

/// IAM calls that hand someone a way back in.
const CREDENTIAL_CHANGES: &[&str] = &[
    "CreateAccessKey",
    "UpdateAccessKey",
    "CreateLoginProfile",
    "UpdateLoginProfile",
    "CreateVirtualMFADevice",
    "EnableMFADevice",
    "DeactivateMFADevice",
    "CreateUser",
    "UpdateAssumeRolePolicy",
    "AddUserToGroup",
    "AttachUserPolicy",
    "PutUserPolicy",
    "CreateSAMLProvider",
    "UpdateSAMLProvider",
    "CreateOpenIDConnectProvider",
];

/// Flags IAM changes made by a console session away from the networks its user signed in from.
#[derive(Debug, Default)]
pub struct ConsoleSessionUsedFromAnotherNetwork;

impl SequenceRule for ConsoleSessionUsedFromAnotherNetwork {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn reach_ms(&self) -> Option<i64> {
        Some(SESSION_MS)
    }

    /// Sign-ins, and IAM changes whose text holds the console flag (few records are either).
    fn wants_raw(&self, raw: &RawRecord<'_>) -> bool {
        match raw.source_and_name() {
            Some(("signin.amazonaws.com", "ConsoleLogin")) => true,
            Some((source, name)) => {
                is_iam_change(source, name) && contains(raw.text(), b"sessionCredentialFromConsole")
            }
            None => true,
        }
    }

    fn observe<'r>(&self, record: &'r Record<'r>) -> Option<Observed<'r>> {
        // The engine offers every IAM record its other rules want: the cheap tests first.
        let kind = if record.event_name == "ConsoleLogin" {
            if SignIn::of(record).succeeded != Some(true) {
                return None;
            }
            SIGNED_IN
        } else {
            let flagged = |raw: &serde_json::value::RawValue| {
                contains(raw.get().as_bytes(), b"sessionCredentialFromConsole")
            };
            if !is_iam_change(&record.event_source, &record.event_name)
                || !record.raw.is_some_and(flagged)
                || !session_from_console(record)
            {
                return None;
            }
            let opens = CREDENTIAL_CHANGES.contains(&record.event_name.as_ref());
            CHANGED | if opens { CREDENTIALS } else { 0 }
        };
        let address = record.source_ip_address.as_deref()?;
        network_of(address)?;
        // Sign-ins sort before changes of the same instant.
        let rank = u8::from(kind != SIGNED_IN);
        Observed::new(
            record,
            kind,
            rank,
            console_signer(record)?,
            address,
            record.event_name.to_string(),
        )
    }

    fn evaluate(&self, observations: &[Observation], out: &mut Report) {
        // signer → its sign-ins of the last session length.
        let mut sign_ins: HashMap<&str, Vec<&Observation>> = HashMap::new();
        // (signer, other network) → what was seen away.
        let mut away: HashMap<(&str, String), Away<'_>> = HashMap::new();
        let mut order: Vec<(&str, String)> = Vec::new();
        for obs in observations {
            let signer = obs.principal.as_ref();
            let seen = sign_ins.entry(signer).or_default();
            seen.retain(|s| obs.at - s.at <= SESSION_MS);
            if obs.kind == SIGNED_IN {
                seen.push(obs);
                continue;
            }
            let comparable: Vec<&Observation> = seen
                .iter()
                .copied()
                .filter(|s| same_address_family(&s.subject, &obs.subject))
                .collect();
            let network = network_of(&obs.subject);
            if comparable.is_empty() || comparable.iter().any(|s| network_of(&s.subject) == network)
            {
                continue;
            }
            let key = (signer, network.unwrap_or_default());
            let entry = away.entry(key.clone()).or_insert_with(|| {
                order.push(key);
                Away {
                    sign_ins: comparable,
                    changes: Vec::new(),
                }
            });
            entry.changes.push(obs);
        }
        for key in order {
            if let Some(seen) = away.remove(&key) {
                out.push(finding(&seen.sign_ins, &seen.changes));
            }
        }
    }
}

/// One signer's changes from one other network, and the sign-ins they were compared with.
struct Away<'o> {
    sign_ins: Vec<&'o Observation>,
    changes: Vec<&'o Observation>,
}

fn finding(sign_ins: &[&Observation], changes: &[&Observation]) -> Finding {
    let first = changes[0];
    let opens = changes.iter().any(|c| c.kind & CREDENTIALS != 0);
    let severity = if opens {
        Severity::High
    } else {
        Severity::Medium
    };
    let anchor = changes
        .iter()
        .find(|c| c.kind & CREDENTIALS != 0)
        .copied()
        .unwrap_or(first);
    let mut finding = finding_from_event(&META, &anchor.event, severity);
    finding.id = Finding::stable_id(&[
        META.code,
        &first.principal,
        first
            .event
            .event_id
            .as_deref()
            .unwrap_or(&first.event.event_time),
    ]);
    let calls: Vec<String> = changes
        .iter()
        .map(|c| {
            let refused = if c.event.error_code.is_some() {
                " (refused)"
            } else {
                ""
            };
            format!("{}{refused} at {}", c.detail, c.event.event_time)
        })
        .collect();
    let signed: Vec<String> = sign_ins
        .iter()
        .map(|s| format!("{} at {}", s.subject, s.event.event_time))
        .collect();
    let away_from: BTreeSet<&str> = changes.iter().map(|c| c.subject.as_ref()).collect();
    finding.message = format!(
        "{} changed IAM with a console session away from the networks its user signed in from ({}): {}.",
        describe_caller(&first.event),
        signed.join("; "),
        calls.join(", ")
    );
    finding.resource = Some(Resource {
        kind: "AwsIamPrincipal".to_owned(),
        id: first
            .event
            .actor
            .arn
            .clone()
            .unwrap_or_else(|| first.principal.to_string()),
        name: first.event.actor.user_name.clone(),
    });
    finding.evidence = vec![
        evidence(
            "sourceIPAddress",
            away_from.iter().copied().collect::<Vec<_>>(),
        ),
        evidence(
            "signIn.sourceIPAddress",
            sign_ins
                .iter()
                .map(|s| s.subject.as_ref())
                .collect::<Vec<_>>(),
        ),
        evidence(
            "eventIDs",
            changes
                .iter()
                .filter_map(|c| c.event.event_id.as_deref())
                .collect::<Vec<_>>(),
        ),
    ];
    finding.fix.summary =
        "Ask the user whether they were on that network; if not, revoke the console \
                           session, undo the changes and reset the password and MFA."
            .to_owned();
    finding
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{run_sequence_texts, TestEvent};

    const ALICE: &str = r#"{"type":"IAMUser","principalId":"AIDACKCEVSQ6C2EXAMPLE","arn":"arn:aws:iam::229654561268:user/alice","accountId":"229654561268","accessKeyId":"ASIAQRSTUVWXCONSOLE1","userName":"alice","sessionContext":{"attributes":{"creationDate":"2024-08-02T09:00:00Z","mfaAuthenticated":"true"}}}"#;

    fn sign_in(ip: &str, time: &str) -> String {
        TestEvent::new("signin.amazonaws.com", "ConsoleLogin")
            .identity(r#"{"type":"IAMUser","principalId":"AIDACKCEVSQ6C2EXAMPLE","arn":"arn:aws:iam::229654561268:user/alice","accountId":"229654561268","accessKeyId":"","userName":"alice"}"#)
            .source_ip(ip)
            .event_type("AwsConsoleSignIn")
            .time(time)
            .id(&format!("login-{ip}-{time}"))
            .response(r#"{"ConsoleLogin":"Success"}"#)
            .additional(r#"{"MFAUsed":"Yes"}"#)
            .json()
    }

    /// A change made with the console session's credentials, as CloudTrail marks them.
    fn console_change(name: &str, ip: &str, time: &str) -> String {
        api_change(name, ip, time).replacen('{', r#"{"sessionCredentialFromConsole":"true","#, 1)
    }

    fn api_change(name: &str, ip: &str, time: &str) -> String {
        TestEvent::new("iam.amazonaws.com", name)
            .identity(ALICE)
            .source_ip(ip)
            .time(time)
            .id(&format!("{name}-{ip}-{time}"))
            .request(r#"{"userName":"alice"}"#)
            .json()
    }

    fn run(events: &[String]) -> Vec<Finding> {
        run_sequence_texts(Box::new(ConsoleSessionUsedFromAnotherNetwork), events)
    }

    #[test]
    fn a_key_created_by_the_session_from_another_network_is_high() {
        let events = [
            sign_in("203.0.113.50", "2024-08-02T09:00:00Z"),
            console_change("TagUser", "203.0.113.50", "2024-08-02T09:05:00Z"),
            console_change("CreateAccessKey", "45.133.172.19", "2024-08-02T09:20:00Z"),
            console_change("TagUser", "45.133.172.19", "2024-08-02T09:21:00Z"),
        ];
        let findings = run(&events);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        let f = &findings[0];
        assert_eq!(f.severity, Severity::High);
        assert_eq!(f.event_name.as_deref(), Some("CreateAccessKey"));
        assert!(
            f.message.ends_with(
                "from 45.133.172.19 (MFA) changed IAM with a console session away from the networks its \
                 user signed in from (203.0.113.50 at 2024-08-02T09:00:00Z): CreateAccessKey at \
                 2024-08-02T09:20:00Z, TagUser at 2024-08-02T09:21:00Z."
            ),
            "{}",
            f.message
        );
    }

    #[test]
    fn the_same_network_no_sign_in_in_the_scan_or_an_api_key_are_not_judged() {
        let quiet = [
            vec![
                sign_in("203.0.113.50", "2024-08-02T09:00:00Z"),
                console_change("CreateAccessKey", "203.0.9.1", "2024-08-02T09:20:00Z"),
            ],
            vec![console_change(
                "CreateAccessKey",
                "45.133.172.19",
                "2024-08-02T09:20:00Z",
            )],
            // Thirteen hours later: another session.
            vec![
                sign_in("203.0.113.50", "2024-08-02T09:00:00Z"),
                console_change("CreateAccessKey", "45.133.172.19", "2024-08-02T22:00:00Z"),
            ],
        ];
        for events in quiet {
            let findings = run(&events);
            assert!(findings.is_empty(), "{findings:#?}");
        }
        let events = [
            sign_in("203.0.113.50", "2024-08-02T09:00:00Z"),
            api_change("CreateAccessKey", "45.133.172.19", "2024-08-02T09:20:00Z"),
        ];
        assert!(run(&events).is_empty());
    }

    #[test]
    fn other_changes_are_medium() {
        let events = [
            sign_in("203.0.113.50", "2024-08-02T09:00:00Z"),
            console_change("TagUser", "45.133.172.19", "2024-08-02T09:20:00Z"),
        ];
        let findings = run(&events);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].severity, Severity::Medium);
    }
}
