//! CT016 console-login-failure-burst: many failed console sign-ins for one user, or from one address
//! against several users (password spraying), within a sliding window; a user's failures that make no
//! burst are reported on their own at info. A sequence rule.

use std::collections::{BTreeSet, HashMap, VecDeque};

use trailguard_event::Record;

use super::common::{evidence, failure_finding_from_event, user_resource, SignIn};
use crate::finding::{Outcome, Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{EventContext, Observation, Observed, Report, SequenceRule};
use crate::Finding;

pub const META: RuleMeta = RuleMeta {
    code: "CT016",
    name: "console-login-failure-burst",
    title: "Failed console sign-ins",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1110.001", "T1110.003"],
    compliance: &["CIS-4.6", "CloudWatch.6"],
    events: &[("signin.amazonaws.com", "ConsoleLogin")],
    kb_entries: &["ConsoleLogin"],
    doc: RuleDoc {
        what: "At least 5 failed `ConsoleLogin` events for one user within 10 minutes (password guessing), or at \
               least 10 failures from one source address against 3 or more user names within 10 minutes \
               (password spraying). One finding per burst, however long it lasts, with the count, the time \
               span, the addresses and the user names involved. A successful sign-in for the same user during \
               or right after the burst raises the severity to **high**: the guessing may have worked. A \
               user's failures that make no burst are reported too, as CIS 4.6 asks for every failure: one \
               finding per user and stretch of failures (each within 10 minutes of a later one), **info**, \
               saying whether a successful sign-in followed (a mistyped password); **low** when 5 or more \
               came without a success, too slowly for a burst (a guesser pacing itself). Names that are not \
               users of the account (CloudTrail writes `HIDDEN_DUE_TO_SECURITY_REASONS`) count towards \
               spraying and are reported together per account; the root user's failures are CT024's and \
               failures at the MFA code CT069's.",
        why: "Failed sign-ins in bulk are password guessing or spraying against the console (ATT&CK T1110). CIS \
              asks for an alarm on console authentication failures. A success at the end of a burst is the \
              moment an attacker gets in.",
        example: "Eight `ConsoleLogin` events with `\"ConsoleLogin\": \"Failure\"` and `Failed authentication` for \
                  user `alice` from 203.0.113.50 between 10:00 and 10:04.",
        fix: "If a success followed, reset that user's password, check MFA, and review the session. Block the \
              source addresses where you can, and require MFA for every console user so a guessed password is \
              not enough.",
        references: &[
            "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-aws-console-sign-in-events.html",
            "https://attack.mitre.org/techniques/T1110/",
        ],
    },
};

/// Failures for one user that make a burst.
pub const USER_THRESHOLD: usize = 5;
/// Failures from one address that make a spraying burst, when they hit at least [`SPRAY_MIN_USERS`] users.
pub const IP_THRESHOLD: usize = 10;
pub const SPRAY_MIN_USERS: usize = 3;
/// Sliding window length.
pub const WINDOW_MS: i64 = 10 * 60 * 1000;
/// How many addresses or user names a finding lists.
const LIST_CAP: usize = 20;

const FAILURE: u8 = 0;
const SUCCESS: u8 = 1;
/// `kind` bit: the root user's sign-in.
const ROOT: u8 = 2;
/// `kind` bit: a failure after the password was accepted, at the MFA code.
const AT_MFA: u8 = 4;
/// The user name CloudTrail writes for a name that is not a user of the account.
const HIDDEN_USER: &str = "HIDDEN_DUE_TO_SECURITY_REASONS";

/// Console sign-in failures in bulk.
#[derive(Debug, Default)]
pub struct ConsoleLoginFailureBurst;

/// The sign-in's `kind`: [`SUCCESS`] or [`FAILURE`], with [`AT_MFA`] for a failure at the MFA code.
fn login_result(record: &Record<'_>) -> Option<u8> {
    let sign_in = SignIn::of(record);
    match sign_in.succeeded? {
        true => Some(SUCCESS),
        false if sign_in.mfa_used() == Some(true) => Some(FAILURE | AT_MFA),
        false => Some(FAILURE),
    }
}

impl SequenceRule for ConsoleLoginFailureBurst {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn reach_ms(&self) -> Option<i64> {
        Some(WINDOW_MS)
    }

    fn observe<'r>(&self, record: &'r Record<'r>) -> Option<Observed<'r>> {
        let result = login_result(record)?;
        let identity = &record.user_identity;
        let root = identity.identity_type.as_deref() == Some("Root");
        let kind = result | if root { ROOT } else { 0 };
        let result = result & SUCCESS;
        // Unknown user names are hidden by CloudTrail; they still count towards the address.
        let user = identity
            .user_name
            .as_deref()
            .or(identity.arn.as_deref())
            .or(identity.principal_id.as_deref())
            .unwrap_or(HIDDEN_USER);
        let account = record.account_id().unwrap_or("");
        let principal = format!("{account}/{user}");
        let ip = record.source_ip_address.as_deref().unwrap_or("unknown");
        Observed::new(record, kind, result, principal, ip, user)
    }

    fn evaluate(&self, observations: &[Observation], out: &mut Report) {
        let mut users: HashMap<&str, Tracker<'_>> = HashMap::new();
        let mut ips: HashMap<&str, Tracker<'_>> = HashMap::new();
        for (n, obs) in observations.iter().enumerate() {
            if n % 1024 == 0 {
                prune(&mut users, obs.at, Scope::User, out);
                prune(&mut ips, obs.at, Scope::Address, out);
            }
            let user_hidden = obs.detail.as_ref() == HIDDEN_USER;
            if obs.kind & SUCCESS != 0 {
                if let Some(tracker) = users.get_mut(obs.principal.as_ref()) {
                    if obs.at - tracker.last_at <= WINDOW_MS {
                        if let Some(burst) = tracker.burst.as_mut() {
                            burst.success = Some(obs);
                            tracker.close(Scope::User, out);
                        } else {
                            tracker.success_after = Some(obs);
                        }
                    }
                }
                continue;
            }
            // Names that do not exist (hidden by CloudTrail) are many users under one key: their failures
            // are reported, but never as one user's burst.
            users.entry(obs.principal.as_ref()).or_default().failure(
                obs,
                Scope::User,
                !user_hidden,
                out,
            );
            ips.entry(obs.subject.as_ref())
                .or_default()
                .failure(obs, Scope::Address, true, out);
        }
        for tracker in users.values_mut() {
            tracker.close(Scope::User, out);
        }
        for tracker in ips.values_mut() {
            tracker.close(Scope::Address, out);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    User,
    Address,
}

#[derive(Default)]
struct Tracker<'o> {
    window: VecDeque<&'o Observation>,
    last_at: i64,
    burst: Option<Burst<'o>>,
    /// A user's failures that fell out of the window without making a burst (time order).
    lone: Option<Lone<'o>>,
    /// A successful sign-in after the user's last failure, within the window.
    success_after: Option<&'o Observation>,
}

/// Failures of one user that made no burst: reported on their own, as CIS 4.6 asks for every failure.
struct Lone<'o> {
    first: &'o Observation,
    last: &'o Observation,
    count: usize,
    ips: BTreeSet<&'o str>,
}

impl<'o> Lone<'o> {
    /// Adds a failure to the user's stretch, unless another rule reports it on its own: the root user's
    /// (CT024) and those at the MFA code (CT069).
    fn add(lone: &mut Option<Lone<'o>>, obs: &'o Observation) {
        if obs.kind & (ROOT | AT_MFA) != 0 {
            return;
        }
        match lone {
            Some(group) => {
                group.count += 1;
                group.last = obs;
                if group.ips.len() < LIST_CAP {
                    group.ips.insert(&obs.subject);
                }
            }
            None => {
                *lone = Some(Lone {
                    first: obs,
                    last: obs,
                    count: 1,
                    ips: BTreeSet::from([obs.subject.as_ref()]),
                });
            }
        }
    }
}

struct Burst<'o> {
    first: &'o Observation,
    last: &'o Observation,
    count: usize,
    users: BTreeSet<&'o str>,
    ips: BTreeSet<&'o str>,
    success: Option<&'o Observation>,
}

impl<'o> Tracker<'o> {
    /// Counts a failure; `can_burst` is false for the names CloudTrail hides, which are many users under
    /// one key.
    fn failure(&mut self, obs: &'o Observation, scope: Scope, can_burst: bool, out: &mut Report) {
        // A gap over the window ends the burst, or the stretch of failures that made none.
        if obs.at - self.last_at > WINDOW_MS {
            self.close(scope, out);
        }
        self.last_at = obs.at;
        self.success_after = None;
        if let Some(burst) = self.burst.as_mut() {
            burst.count += 1;
            burst.last = obs;
            if burst.users.len() < LIST_CAP {
                burst.users.insert(&obs.detail);
            }
            if burst.ips.len() < LIST_CAP {
                burst.ips.insert(&obs.subject);
            }
            return;
        }
        self.window.push_back(obs);
        while let Some(old) = self
            .window
            .front()
            .copied()
            .filter(|o| obs.at - o.at > WINDOW_MS)
        {
            self.window.pop_front();
            if scope == Scope::User {
                Lone::add(&mut self.lone, old);
            }
        }
        let users: BTreeSet<&str> = self.window.iter().map(|o| o.detail.as_ref()).collect();
        let starts = match scope {
            Scope::User => can_burst && self.window.len() >= USER_THRESHOLD,
            Scope::Address => {
                can_burst && self.window.len() >= IP_THRESHOLD && users.len() >= SPRAY_MIN_USERS
            }
        };
        if starts {
            self.report_lone(out);
            let first = self.window.front().copied().unwrap_or(obs);
            self.burst = Some(Burst {
                first,
                last: obs,
                count: self.window.len(),
                users: users.into_iter().take(LIST_CAP).collect(),
                ips: self
                    .window
                    .iter()
                    .map(|o| o.subject.as_ref())
                    .take(LIST_CAP)
                    .collect(),
                success: None,
            });
            self.window.clear();
        }
    }

    fn close(&mut self, scope: Scope, out: &mut Report) {
        if scope == Scope::User {
            for obs in self.window.drain(..) {
                Lone::add(&mut self.lone, obs);
            }
            self.report_lone(out);
        }
        self.window.clear();
        if let Some(burst) = self.burst.take() {
            out.push(burst_finding(&burst, scope));
        }
    }

    /// Reports the user's failures that made no burst.
    fn report_lone(&mut self, out: &mut Report) {
        let success = self.success_after.take();
        if let Some(lone) = self.lone.take() {
            out.push(lone_finding(&lone, success));
        }
    }
}

fn prune(trackers: &mut HashMap<&str, Tracker<'_>>, now: i64, scope: Scope, out: &mut Report) {
    trackers.retain(|_, tracker| {
        if now - tracker.last_at > WINDOW_MS {
            tracker.close(scope, out);
            false
        } else {
            true
        }
    });
}

fn burst_finding(burst: &Burst<'_>, scope: Scope) -> Finding {
    let first: &EventContext = &burst.first.event;
    let severity = if burst.success.is_some() {
        Severity::High
    } else {
        META.severity
    };
    let mut finding = failure_finding_from_event(&META, first, severity);
    finding.outcome = Outcome::Success;
    let key = match scope {
        Scope::User => burst.first.principal.as_ref(),
        Scope::Address => burst.first.subject.as_ref(),
    };
    finding.id = Finding::stable_id(&[
        META.code,
        if scope == Scope::User {
            "user"
        } else {
            "address"
        },
        key,
        first.event_id.as_deref().unwrap_or(&first.event_time),
    ]);
    let users = burst.users.iter().copied().collect::<Vec<_>>().join(", ");
    let ips = burst.ips.iter().copied().collect::<Vec<_>>().join(", ");
    let span = format!(
        "between {} and {}",
        first.event_time, burst.last.event.event_time
    );
    finding.message = match scope {
        Scope::User => format!(
            "{} failed console sign-ins for user `{}` {span}, from {ips}.",
            burst.count, burst.first.detail
        ),
        Scope::Address => format!(
            "{} failed console sign-ins from {} {span} against {} user names ({users}): password spraying.",
            burst.count,
            burst.first.subject,
            burst.users.len()
        ),
    };
    if let Some(success) = burst.success {
        finding.message.push_str(&format!(
            " A successful sign-in for `{}` followed at {} from {}.",
            success.detail, success.event.event_time, success.subject
        ));
        finding.evidence.push(evidence(
            "success.eventID",
            success.event.event_id.clone().unwrap_or_default(),
        ));
    }
    finding.resource = Some(match scope {
        Scope::User => user_resource(first.account.as_deref(), &burst.first.detail),
        Scope::Address => Resource {
            kind: "IpAddress".to_owned(),
            id: burst.first.subject.to_string(),
            name: None,
        },
    });
    finding
        .evidence
        .insert(0, evidence("failures", burst.count as u64));
    finding.evidence.insert(1, evidence("sourceIPAddress", ips));
    finding
        .evidence
        .insert(2, evidence("userIdentity.userName", users));
    finding.fix.summary = if burst.success.is_some() {
        "A sign-in succeeded after the failures: reset the user's password, check MFA and review the session.".to_owned()
    } else {
        "Block the source addresses if you can and make sure every console user has MFA.".to_owned()
    };
    if let (Scope::User, Some(_)) = (scope, burst.success) {
        let user = super::common::sh(&burst.first.detail).into_owned();
        finding.fix.commands = vec![
            format!("aws iam update-login-profile --user-name {user} --password-reset-required"),
            format!("aws iam list-mfa-devices --user-name {user}"),
        ];
        finding
            .fix
            .actions
            .push(crate::remediation::FixAction::RequirePasswordReset {
                user_name: burst.first.detail.to_string(),
            });
    }
    finding
}

/// One user's failures that made no burst: **info**, or **low** when there were at least
/// [`USER_THRESHOLD`] of them (a guesser pacing itself under the window) and no sign-in followed.
fn lone_finding(lone: &Lone<'_>, success: Option<&Observation>) -> Finding {
    let first: &EventContext = &lone.first.event;
    let slow_guessing = lone.count >= USER_THRESHOLD && success.is_none();
    let severity = if slow_guessing {
        Severity::Low
    } else {
        Severity::Info
    };
    let mut finding = failure_finding_from_event(&META, first, severity);
    finding.outcome = Outcome::Success;
    finding.id = Finding::stable_id(&[
        META.code,
        "lone",
        &lone.first.principal,
        first.event_id.as_deref().unwrap_or(&first.event_time),
    ]);
    let ips = lone.ips.iter().copied().collect::<Vec<_>>().join(", ");
    let failures = if lone.count == 1 {
        format!("1 failed console sign-in at {}", first.event_time)
    } else {
        format!(
            "{} failed console sign-ins between {} and {}",
            lone.count, first.event_time, lone.last.event.event_time
        )
    };
    let user = lone.first.detail.as_ref();
    let whom = if user == HIDDEN_USER {
        "with user names that are not users of the account (CloudTrail hides them)".to_owned()
    } else {
        format!("for user `{user}`")
    };
    finding.message = format!("{failures} {whom}, from {ips}");
    match success {
        Some(success) => {
            finding.message.push_str(&format!(
                ", then a successful sign-in at {} from {}.",
                success.event.event_time, success.subject
            ));
            finding.evidence.push(evidence(
                "success.eventID",
                success.event.event_id.clone().unwrap_or_default(),
            ));
        }
        None if slow_guessing => finding
            .message
            .push_str(", never five within 10 minutes: a guesser may be pacing itself."),
        None => finding.message.push('.'),
    }
    finding.resource = Some(if user == HIDDEN_USER {
        // Names that are no user: the account they were tried against.
        Resource {
            kind: "AwsAccount".to_owned(),
            id: first.account.clone().unwrap_or_default(),
            name: None,
        }
    } else {
        user_resource(first.account.as_deref(), user)
    });
    finding
        .evidence
        .insert(0, evidence("failures", lone.count as u64));
    finding.evidence.insert(1, evidence("sourceIPAddress", ips));
    finding.fix.summary = if success.is_some() {
        "Most likely a mistyped password. If the user did not sign in then, reset the password and check MFA."
            .to_owned()
    } else {
        "Ask the user whether they tried to sign in; if not, someone knows the user name: make sure the user \
         has MFA and a strong password."
            .to_owned()
    };
    finding
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{run_sequence, TestEvent};

    /// A console sign-in shaped like the AWS documentation's examples; failures carry an errorMessage and
    /// no errorCode, as CloudTrail writes them.
    fn login(user: &str, ip: &str, minute: u32, second: u32, ok: bool) -> TestEvent {
        let identity = format!(
            r#"{{"type":"IAMUser","principalId":"AIDACKCEVSQ6C2EXAMPLE","accountId":"229654561268","accessKeyId":"","userName":"{user}"}}"#
        );
        TestEvent::new("signin.amazonaws.com", "ConsoleLogin")
            .identity(&identity)
            .source_ip(ip)
            .event_type("AwsConsoleSignIn")
            .time(&format!("2024-08-02T08:{minute:02}:{second:02}Z"))
            .id(&format!("d38ce1b3-4575-4cb8-a632-{user:0>6.6}{minute:02}{second:02}{}", ip.len()))
            .response(if ok { r#"{"ConsoleLogin":"Success"}"# } else { r#"{"ConsoleLogin":"Failure"}"# })
            .additional(r#"{"LoginTo":"https://console.aws.amazon.com/console/home","MobileVersion":"No","MFAUsed":"No"}"#)
    }

    #[test]
    fn five_failures_in_ten_minutes_make_one_burst() {
        let events: Vec<TestEvent> = (0..7)
            .map(|i| login("alice", "203.0.113.50", i, 5, false))
            .collect();
        let findings = run_sequence(Box::new(ConsoleLoginFailureBurst), &events);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        let f = &findings[0];
        assert_eq!(f.severity, Severity::Medium);
        assert!(
            f.message
                .starts_with("7 failed console sign-ins for user `alice`"),
            "{}",
            f.message
        );
        assert_eq!(f.evidence[0].value, 7);
    }

    #[test]
    fn four_failures_or_spread_out_failures_are_reported_alone_not_as_a_burst() {
        let four: Vec<TestEvent> = (0..4)
            .map(|i| login("alice", "203.0.113.50", i, 0, false))
            .collect();
        let findings = run_sequence(Box::new(ConsoleLoginFailureBurst), &four);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert_eq!(findings[0].severity, Severity::Info);
        assert_eq!(
            findings[0].message,
            "4 failed console sign-ins between 2024-08-02T08:00:00Z and 2024-08-02T08:03:00Z for user \
             `alice`, from 203.0.113.50."
        );
        // Five failures, each 9 minutes apart: never five inside one window, but a guesser pacing itself.
        let spread: Vec<TestEvent> = (0..5)
            .map(|i| login("alice", "203.0.113.50", i * 9, 0, false))
            .collect();
        let findings = run_sequence(Box::new(ConsoleLoginFailureBurst), &spread);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert_eq!(findings[0].severity, Severity::Low);
        assert!(
            findings[0].message.contains("pacing"),
            "{}",
            findings[0].message
        );
        // Failures more than 10 minutes apart are stretches of their own.
        let apart: Vec<TestEvent> = (0..3)
            .map(|i| login("alice", "203.0.113.50", i * 11, 0, false))
            .collect();
        let findings = run_sequence(Box::new(ConsoleLoginFailureBurst), &apart);
        assert_eq!(findings.len(), 3, "{findings:#?}");
        assert!(findings.iter().all(|f| f.severity == Severity::Info));
    }

    #[test]
    fn a_success_after_lone_failures_reads_as_a_typo_and_root_is_left_to_ct024() {
        let events = vec![
            login("carol", "203.0.113.9", 1, 0, false),
            login("carol", "203.0.113.9", 1, 30, true),
        ];
        let findings = run_sequence(Box::new(ConsoleLoginFailureBurst), &events);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert_eq!(findings[0].severity, Severity::Info);
        assert!(
            findings[0]
                .message
                .ends_with("then a successful sign-in at 2024-08-02T08:01:30Z from 203.0.113.9."),
            "{}",
            findings[0].message
        );
        let root = TestEvent::new("signin.amazonaws.com", "ConsoleLogin")
            .identity(r#"{"type":"Root","principalId":"229654561268","arn":"arn:aws:iam::229654561268:root","accountId":"229654561268"}"#)
            .event_type("AwsConsoleSignIn")
            .time("2024-08-02T08:05:00Z")
            .response(r#"{"ConsoleLogin":"Failure"}"#);
        assert!(run_sequence(Box::new(ConsoleLoginFailureBurst), &[root]).is_empty());
    }

    #[test]
    fn a_success_after_the_burst_raises_severity() {
        let mut events: Vec<TestEvent> = (0..5)
            .map(|i| login("bob", "203.0.113.50", i, 0, false))
            .collect();
        events.push(login("bob", "203.0.113.50", 6, 0, true));
        let findings = run_sequence(Box::new(ConsoleLoginFailureBurst), &events);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].severity, Severity::High);
        assert!(
            findings[0].message.contains("successful sign-in"),
            "{}",
            findings[0].message
        );
        assert_eq!(
            findings[0].fix.commands[0],
            "aws iam update-login-profile --user-name bob --password-reset-required"
        );
    }

    #[test]
    fn spraying_from_one_address_across_users() {
        let users = ["ann", "ben", "cat", "dan", "eve"];
        let events: Vec<TestEvent> = (0..10)
            .map(|i| {
                login(
                    users[i as usize % users.len()],
                    "198.51.100.7",
                    i / 2,
                    i % 60,
                    false,
                )
            })
            .collect();
        let findings = run_sequence(Box::new(ConsoleLoginFailureBurst), &events);
        let spray: Vec<_> = findings
            .iter()
            .filter(|f| f.message.contains("password spraying"))
            .collect();
        assert_eq!(spray.len(), 1, "{findings:#?}");
        assert!(spray[0].message.contains("198.51.100.7"));
        // Two failures per user: no single-user burst, each user's failures at info.
        assert_eq!(findings.len(), 1 + users.len(), "{findings:#?}");
        assert!(findings
            .iter()
            .filter(|f| !f.message.contains("password spraying"))
            .all(|f| f.severity == Severity::Info));
    }
}
