//! CT103 console-sign-ins-from-two-networks: one principal signing in to the console successfully from
//! two networks within ten minutes: the password (and perhaps the MFA code) is used by two people at
//! once.
//!
//! A sequence rule over successful `ConsoleLogin` events. A network is an IPv4 `/16` or an IPv6 `/48`
//! ([`network_of`]), as in CT093: two addresses of one office or one home fall in one network.

use std::collections::HashMap;

use trailguard_event::Record;

use super::common::{
    console_signer, evidence, finding_from_event, network_of, same_address_family, user_resource,
    SignIn,
};
use crate::finding::{Finding, Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{Observation, Observed, Report, SequenceRule};

pub const META: RuleMeta = RuleMeta {
    code: "CT103",
    name: "console-sign-ins-from-two-networks",
    title: "Console sign-ins from two networks at once",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1078.004", "T1550.004"],
    compliance: &[],
    events: &[("signin.amazonaws.com", "ConsoleLogin")],
    kb_entries: &["ConsoleLogin"],
    doc: RuleDoc {
        what: "Successful `ConsoleLogin` events of one principal (an IAM user, the root user, or a federated \
               role session by its session name) from two or more networks, each sign-in within 10 minutes \
               of the one before, a network being an IPv4 `/16` or an IPv6 `/48` (IPv4 and IPv6 addresses \
               are not compared: a dual-stack machine uses both). One finding per stretch of sign-ins, with \
               every address, time and whether MFA was used. **medium** when an IAM user or the root user \
               signed in without MFA in the stretch (a password alone opened the account twice); **low** \
               when every sign-in used MFA or was federated (the identity provider checked the user). \
               Failed sign-ins are CT016's.",
        why: "A person signs in from one place at a time. Two successful sign-ins from unrelated networks \
              minutes apart mean two people hold the credentials: a phished or reused password used while \
              its owner is working, a shared account, or a sign-in relayed through a phishing proxy next to \
              the user's own (ATT&CK T1078.004). Splunk and Panther alarm on the same pattern. A phone on a \
              mobile network beside a laptop on the office network gives it too, hence **low** when MFA was \
              used and the addresses listed for the user to confirm.",
        example: "IAM user `alice` signs in without MFA from 203.0.113.50 at 09:00 and again from 45.133.172.19 \
                  at 09:04.",
        fix: "Ask the user whether both sign-ins were theirs. If not: reset the password, deactivate and \
              re-enrol MFA, end the user's console sessions (for a role session: revoke its sessions), and \
              review what the other address did.",
        references: &[
            "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-aws-console-sign-in-events.html",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_mfa.html",
            "https://attack.mitre.org/techniques/T1078/004/",
        ],
    },
};

/// How close two sign-ins must be to belong to one stretch.
pub const WINDOW_MS: i64 = 10 * 60 * 1000;

/// `kind` bit: the sign-in used MFA.
const MFA: u8 = 1;
/// `kind` bit: a federated (role session) sign-in, whose MFA the identity provider checked.
const FEDERATED: u8 = 2;

/// Flags one principal's successful console sign-ins from several networks at once.
#[derive(Debug, Default)]
pub struct ConsoleSignInsFromTwoNetworks;

impl SequenceRule for ConsoleSignInsFromTwoNetworks {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn reach_ms(&self) -> Option<i64> {
        Some(WINDOW_MS)
    }

    fn observe<'r>(&self, record: &'r Record<'r>) -> Option<Observed<'r>> {
        let sign_in = SignIn::of(record);
        if sign_in.succeeded != Some(true) {
            return None;
        }
        let address = record.source_ip_address.as_deref()?;
        network_of(address)?;
        let identity = &record.user_identity;
        let signer = console_signer(record)?;
        // Shown by name: the user's, else the session's ARN.
        let who = match identity.identity_type.as_deref() {
            Some("IAMUser") => identity.user_name.as_deref()?,
            _ => identity.arn.as_deref()?,
        };
        let federated = !matches!(identity.identity_type.as_deref(), Some("IAMUser" | "Root"));
        let kind = if federated { FEDERATED } else { 0 }
            | if sign_in.mfa_used() == Some(true) {
                MFA
            } else {
                0
            };
        Observed::new(record, kind, 0, signer, address, who)
    }

    fn evaluate(&self, observations: &[Observation], out: &mut Report) {
        // principal → its current stretch of sign-ins.
        let mut stretches: HashMap<&str, Vec<&Observation>> = HashMap::new();
        for (n, obs) in observations.iter().enumerate() {
            if n % 1024 == 0 {
                stretches.retain(|_, stretch| {
                    let open = stretch.last().is_some_and(|l| obs.at - l.at <= WINDOW_MS);
                    if !open {
                        report(stretch, out);
                    }
                    open
                });
            }
            let stretch = stretches.entry(obs.principal.as_ref()).or_default();
            if stretch.last().is_some_and(|l| obs.at - l.at > WINDOW_MS) {
                report(stretch, out);
                stretch.clear();
            }
            stretch.push(obs);
        }
        let mut rest: Vec<_> = stretches.into_values().filter(|s| !s.is_empty()).collect();
        rest.sort_by_key(|s| s[0].at);
        for stretch in &rest {
            report(stretch, out);
        }
    }
}

/// Reports a stretch whose sign-ins of one address family lie in more than one network.
fn report(stretch: &[&Observation], out: &mut Report) {
    let Some(other) = stretch.iter().enumerate().find_map(|(i, later)| {
        stretch[..i]
            .iter()
            .any(|earlier| {
                same_address_family(&earlier.subject, &later.subject)
                    && network_of(&earlier.subject) != network_of(&later.subject)
            })
            .then_some(*later)
    }) else {
        return;
    };
    out.push(finding(stretch, other));
}

/// Who signed in, for the message: the user, the root user, or a federated session by its name.
fn signer(sign_in: &Observation) -> String {
    let actor = &sign_in.event.actor;
    match actor.identity_type.as_deref() {
        Some("IAMUser") => format!("IAM user `{}`", sign_in.detail),
        Some("Root") => "The root user".to_owned(),
        _ => {
            let session = sign_in.detail.rsplit('/').next().unwrap_or_default();
            match actor.user_name.as_deref() {
                Some(role) => format!("Role session `{session}` of `{role}`"),
                None => format!("Session `{session}`"),
            }
        }
    }
}

fn finding(stretch: &[&Observation], other: &Observation) -> Finding {
    let first = stretch[0];
    let password_only = stretch.iter().any(|s| s.kind & (MFA | FEDERATED) == 0);
    let severity = if password_only {
        Severity::Medium
    } else {
        Severity::Low
    };
    let mut finding = finding_from_event(&META, &other.event, severity);
    finding.id = Finding::stable_id(&[
        META.code,
        &first.principal,
        first
            .event
            .event_id
            .as_deref()
            .unwrap_or(&first.event.event_time),
    ]);
    let who = first.detail.as_ref();
    let sign_ins = stretch
        .iter()
        .map(|s| {
            let how = match (s.kind & FEDERATED != 0, s.kind & MFA != 0) {
                (true, _) => "federated",
                (false, true) => "MFA",
                (false, false) => "no MFA",
            };
            format!("{} at {} ({how})", s.subject, s.event.event_time)
        })
        .collect::<Vec<_>>();
    let mut addresses: Vec<&str> = stretch.iter().map(|s| s.subject.as_ref()).collect();
    addresses.sort_unstable();
    addresses.dedup();
    finding.message = format!(
        "{} signed in to the console {} times from {} addresses in different networks between {} and {}: \
         {}.{}",
        signer(first),
        stretch.len(),
        addresses.len(),
        first.event.event_time,
        stretch[stretch.len() - 1].event.event_time,
        sign_ins.join("; "),
        if password_only {
            " A password alone opened the account."
        } else {
            ""
        }
    );
    finding.resource = Some(match first.event.actor.identity_type.as_deref() {
        Some("IAMUser") => user_resource(first.event.account.as_deref(), who),
        _ => Resource {
            kind: "AwsIamPrincipal".to_owned(),
            id: who.to_owned(),
            name: first.event.actor.user_name.clone(),
        },
    });
    finding.evidence = vec![
        evidence("sourceIPAddress", addresses),
        evidence(
            "eventIDs",
            stretch
                .iter()
                .filter_map(|s| s.event.event_id.as_deref())
                .collect::<Vec<_>>(),
        ),
    ];
    finding.fix.summary = format!(
        "Ask `{who}` whether every sign-in was theirs; if not, reset the password, re-enrol MFA and review \
         what the other address did."
    );
    finding
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{run_sequence, TestEvent};

    fn sign_in(user: &str, ip: &str, time: &str, mfa: bool) -> TestEvent {
        TestEvent::new("signin.amazonaws.com", "ConsoleLogin")
            .identity(&format!(
                r#"{{"type":"IAMUser","principalId":"AIDACKCEVSQ6C2EXAMPLE","accountId":"229654561268","accessKeyId":"","userName":"{user}","arn":"arn:aws:iam::229654561268:user/{user}"}}"#
            ))
            .source_ip(ip)
            .event_type("AwsConsoleSignIn")
            .time(time)
            .id(&format!("login-{user}-{ip}-{time}"))
            .response(r#"{"ConsoleLogin":"Success"}"#)
            .additional(&format!(
                r#"{{"LoginTo":"https://console.aws.amazon.com/console/home","MobileVersion":"No","MFAUsed":"{}"}}"#,
                if mfa { "Yes" } else { "No" }
            ))
    }

    #[test]
    fn a_password_used_from_two_networks_minutes_apart_is_medium() {
        let events = [
            sign_in("alice", "203.0.113.50", "2024-08-02T09:00:00Z", false),
            sign_in("alice", "45.133.172.19", "2024-08-02T09:04:00Z", false),
        ];
        let findings = run_sequence(Box::new(ConsoleSignInsFromTwoNetworks), &events);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        let f = &findings[0];
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(f.event_time.as_deref(), Some("2024-08-02T09:04:00Z"));
        assert_eq!(
            f.message,
            "IAM user `alice` signed in to the console 2 times from 2 addresses in different networks between \
             2024-08-02T09:00:00Z and 2024-08-02T09:04:00Z: 203.0.113.50 at 2024-08-02T09:00:00Z (no MFA); \
             45.133.172.19 at 2024-08-02T09:04:00Z (no MFA). A password alone opened the account."
        );
    }

    #[test]
    fn with_mfa_it_is_low() {
        let events = [
            sign_in("alice", "203.0.113.50", "2024-08-02T09:00:00Z", true),
            sign_in("alice", "45.133.172.19", "2024-08-02T09:04:00Z", true),
        ];
        let findings = run_sequence(Box::new(ConsoleSignInsFromTwoNetworks), &events);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert_eq!(findings[0].severity, Severity::Low);
    }

    #[test]
    fn one_network_a_late_sign_in_two_families_or_two_users_are_not_reported() {
        let quiet = [
            // One /16.
            vec![
                sign_in("alice", "203.0.113.50", "2024-08-02T09:00:00Z", false),
                sign_in("alice", "203.0.7.9", "2024-08-02T09:04:00Z", false),
            ],
            // Eleven minutes apart.
            vec![
                sign_in("alice", "203.0.113.50", "2024-08-02T09:00:00Z", false),
                sign_in("alice", "45.133.172.19", "2024-08-02T09:11:00Z", false),
            ],
            // IPv4 then IPv6 of one dual-stack machine.
            vec![
                sign_in("alice", "203.0.113.50", "2024-08-02T09:00:00Z", false),
                sign_in("alice", "2001:db8:1::50", "2024-08-02T09:01:00Z", false),
            ],
            // Two users.
            vec![
                sign_in("alice", "203.0.113.50", "2024-08-02T09:00:00Z", false),
                sign_in("bob", "45.133.172.19", "2024-08-02T09:01:00Z", false),
            ],
        ];
        for events in quiet {
            let findings = run_sequence(Box::new(ConsoleSignInsFromTwoNetworks), &events);
            assert!(findings.is_empty(), "{findings:#?}");
        }
    }

    #[test]
    fn a_chain_of_sign_ins_is_one_finding() {
        let events = [
            sign_in("alice", "203.0.113.50", "2024-08-02T09:00:00Z", false),
            sign_in("alice", "45.133.172.19", "2024-08-02T09:08:00Z", false),
            sign_in("alice", "203.0.113.51", "2024-08-02T09:16:00Z", false),
        ];
        let findings = run_sequence(Box::new(ConsoleSignInsFromTwoNetworks), &events);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert!(findings[0].message.contains("3 times from 3 addresses"));
    }
}
