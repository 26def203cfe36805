//! CT014 root-account-activity: calls made by the root user, except AWS-internal noise, grouped into one
//! finding per root session. A sequence rule, so a console session of hundreds of calls is one finding.
//!
//! Its state is folded as calls arrive ([`SequenceRule::fold`]): one summary per session (first, last and
//! worst call, counts per call name), never the calls themselves, so memory grows with sessions, not
//! events. Calls may arrive in any order (workers read files in parallel): a call joins every session it
//! falls within [`SESSION_GAP_MS`] of, merging them, which gives the same sessions as walking the calls
//! in time order. At most [`SESSION_CAP`] sessions are kept; calls that would open more are counted and
//! the run summary says the limit was reached.

use std::any::Any;
use std::collections::{BTreeMap, HashMap};

use trailguard_event::Record;

use super::common::{
    call_failed, describe_caller, evidence, finding_from_event, relayed_by_service, sh, SignIn,
};
use super::spans::{take_in_place, touching, Span};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{
    fold_all, Observation, Observed, Report, SequenceFold, SequenceRule, StateLimit, ANY_EVENT,
};
use crate::Finding;

pub const META: RuleMeta = RuleMeta {
    code: "CT014",
    name: "root-account-activity",
    title: "Root user activity",
    family: Family::Cloudtrail,
    severity: Severity::High,
    attack: &["T1078.004"],
    compliance: &["CIS-1.7", "CIS-4.3", "CloudWatch.1"],
    events: &[ANY_EVENT],
    kb_entries: &["ConsoleLogin"],
    doc: RuleDoc {
        what: "Any event whose `userIdentity.type` is `Root`, following the CIS 4.3 metric filter: events with \
               `userIdentity.invokedBy` set (an AWS service acting on the root user's behalf, e.g. \
               `support.amazonaws.com`) and events of type `AwsServiceEvent` are left out as AWS-internal noise, \
               except the calls that create or strip root credentials, which are kept whoever relays them (the \
               console relays a root access key creation). \
               Read-only calls are **medium**, changes **high**, and a few calls are **critical**: creating \
               root access keys, removing the root MFA device, changing the root password (`PasswordUpdated`, or \
               `PasswordRecoveryCompleted` through the recovery email) \
               and root console sign-in without MFA. A failed root sign-in is left to CT024, which reports \
               each one. A failed call (see `call_failure`: error code, or a `Failure` response such as \
               `PasswordUpdated: Failure`) is an attempt, one severity lower. Calls are grouped per root session (the same credentials, or the same \
               address for sign-ins, with no gap over an hour): one finding per session, at the severity of its \
               worst call, listing every call made with its count.",
        why: "The root user cannot be limited by IAM policies or permission boundaries and can close the \
              account. AWS and CIS recommend locking it away and using it only for the handful of tasks that \
              need it; any other use is either a process failure or a compromise. Root access keys in \
              particular must not exist (CIS 1.4).",
        example: "The root user signs in to the console and calls `CreateAccessKey`.",
        fix: "Confirm the activity with the account owner. If it was not expected, change the root password, \
              rotate or enable MFA (hardware key), delete any root access keys and review everything the session \
              did. Prevent future use with an SCP that denies the root user in member accounts, or centralised \
              root access management.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_root-user.html",
            "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/root-user-tasks.html",
        ],
    },
};

/// Root calls treated as critical, because they create or strip root credentials.
const CRITICAL_ROOT_EVENTS: &[&str] = &[
    "CreateAccessKey",
    "PasswordUpdated",
    // The "Forgot password?" email flow: a new root password set without the old one.
    "PasswordRecoveryCompleted",
    "DeactivateMFADevice",
    "DeleteVirtualMFADevice",
    "UpdateLoginProfile",
    "CreateLoginProfile",
];

/// A session ends after this long without a call.
pub const SESSION_GAP_MS: i64 = 60 * 60 * 1000;
/// How many distinct calls a finding lists by name.
const NAMES_CAP: usize = 40;
/// Root sessions kept in one run (all accounts and credentials together); a session's summary is a few KB.
pub const SESSION_CAP: usize = 4096;
/// Root access keys a session's finding lists (each gets a command to deactivate it).
const KEYS_CAP: usize = 16;
/// `kind` bit set on observations of failed calls.
const FAILED: u8 = 0x10;
/// `kind` bit set on a console sign-in without MFA.
const NO_MFA_LOGIN: u8 = 0x20;

fn severity_code(severity: Severity) -> u8 {
    severity as u8
}

fn severity_from_code(code: u8) -> Severity {
    match code & 0x0f {
        0 => Severity::Info,
        1 => Severity::Low,
        2 => Severity::Medium,
        3 => Severity::High,
        _ => Severity::Critical,
    }
}

/// Groups the root user's calls into sessions.
#[derive(Debug, Default)]
pub struct RootAccountActivity;

impl SequenceRule for RootAccountActivity {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn reach_ms(&self) -> Option<i64> {
        Some(SESSION_GAP_MS)
    }

    /// Root calls carry `"type":"Root"`; any other record can skip parsing (unless escapes hide it).
    fn wants_raw(&self, raw: &trailguard_event::peek::RawRecord<'_>) -> bool {
        use memchr::memmem::Finder;
        use std::sync::LazyLock;
        static ROOT: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(br#""Root""#));
        let caller = raw.caller_text();
        ROOT.find(caller).is_some() || raw.escapes_in(caller)
    }

    fn observe<'r>(&self, record: &'r Record<'r>) -> Option<Observed<'r>> {
        let identity = &record.user_identity;
        if !identity.is_root() {
            return None;
        }
        let event_name = record.event_name.as_ref();
        // CIS 4.3: skip calls AWS services make on the root user's behalf and service events. Calls that
        // create or strip root credentials are kept whoever relays them: the console sets `invokedBy` on
        // some of them (a root access key created in the console), and they are what this rule is for.
        if (relayed_by_service(record) && !CRITICAL_ROOT_EVENTS.contains(&event_name))
            || record.event_type.as_deref() == Some("AwsServiceEvent")
        {
            return None;
        }
        let failed = call_failed(record);
        // A failed root sign-in is someone failing to become root: CT024 reports each one on its own.
        if event_name == "ConsoleLogin" && failed {
            return None;
        }
        let login_without_mfa =
            event_name == "ConsoleLogin" && SignIn::of(record).mfa_used() == Some(false);
        let severity = if CRITICAL_ROOT_EVENTS.contains(&event_name) || login_without_mfa {
            Severity::Critical
        } else if record.read_only == Some(true) {
            Severity::Medium
        } else {
            META.severity
        };
        let mut kind = severity_code(severity);
        if failed {
            kind |= FAILED;
        }
        if login_without_mfa {
            kind |= NO_MFA_LOGIN;
        }
        let account = record.account_id().unwrap_or("");
        // Console calls use short-lived ASIA keys that change; the sign-in itself has none: fall back to the
        // address so a sign-in and the calls after it from the same place form one session.
        let credential = identity
            .access_key_id
            .as_deref()
            .filter(|k| !k.is_empty() && !k.starts_with("ASIA"))
            .map(str::to_owned)
            .unwrap_or_else(|| {
                format!(
                    "ip:{}",
                    record.source_ip_address.as_deref().unwrap_or("unknown")
                )
            });
        let session = format!(
            "{account}|{credential}|{}",
            if failed { "failed" } else { "ok" }
        );
        let call = format!(
            "{}:{event_name}",
            record.event_source.trim_end_matches(".amazonaws.com")
        );
        let root_key = if event_name == "CreateAccessKey" && !failed {
            record
                .response_elements()
                .and_then(|r| {
                    r.pointer("/accessKey/accessKeyId")?
                        .as_str()
                        .map(str::to_owned)
                })
                .unwrap_or_default()
        } else {
            String::new()
        };
        Observed::new(record, kind, 0, session, call, root_key)
    }

    /// The engine folds instead ([`SequenceRule::fold`]); this runs the same fold over a slice.
    fn evaluate(&self, observations: &[Observation], out: &mut Report) {
        let _limit = fold_all(Box::new(RootSessions::default()), observations, out);
    }

    fn fold(&self) -> Option<Box<dyn SequenceFold>> {
        Some(Box::new(RootSessions::default()))
    }
}

/// Every root session of a run, per principal (account, credential, failed or not), by first call time.
/// Sessions of one principal never overlap: two within [`SESSION_GAP_MS`] of each other are one.
#[derive(Default)]
struct RootSessions {
    by_principal: HashMap<Box<str>, BTreeMap<i64, Session>>,
    sessions: usize,
    calls_left_out: u64,
}

impl RootSessions {
    fn insert(&mut self, principal: Box<str>, session: Session) {
        let known = self.by_principal.contains_key(&principal);
        if !known && self.sessions >= SESSION_CAP {
            self.calls_left_out += session.count;
            return;
        }
        let list = self.by_principal.entry(principal).or_default();
        // Sessions that start before this one ends (plus the gap) and end after it starts (less the gap).
        let touched: Vec<i64> =
            touching(list, session.first.at, session.last.at, SESSION_GAP_MS).collect();
        if touched.is_empty() && self.sessions >= SESSION_CAP {
            self.calls_left_out += session.count;
            return;
        }
        let mut merged = session;
        for start in &touched {
            if let Some(other) = list.remove(start) {
                merged.absorb(other);
            }
        }
        self.sessions = self.sessions + 1 - touched.len();
        list.insert(merged.first.at, merged);
    }
}

impl SequenceFold for RootSessions {
    fn add(&mut self, observed: Observed<'_>) {
        // Root calls are rare and a session keeps its first, last and worst whole: copied at once.
        let mut observation = observed.into_observation();
        // Most calls fall within exactly one session of their principal: taken in place, without
        // building a one-call session (three copies of the call) only to merge it.
        if let Some(list) = self.by_principal.get_mut(observation.principal.as_ref()) {
            let at = observation.at;
            match take_in_place(list, at, SESSION_GAP_MS, observation, Session::take) {
                None => return,
                Some(back) => observation = back,
            }
        }
        let principal = observation.principal.clone();
        self.insert(principal, Session::new(observation));
    }

    fn merge(&mut self, other: Box<dyn SequenceFold>) {
        let Ok(other) = other.into_any().downcast::<RootSessions>() else {
            return;
        };
        self.calls_left_out += other.calls_left_out;
        for (principal, sessions) in other.by_principal {
            for session in sessions.into_values() {
                self.insert(principal.clone(), session);
            }
        }
    }

    fn finish(self: Box<Self>, out: &mut Report) -> Option<StateLimit> {
        for sessions in self.by_principal.values() {
            out.extend(sessions.values().map(Session::finding));
        }
        (self.calls_left_out > 0).then(|| StateLimit {
            rule: META.code,
            events_left_out: self.calls_left_out,
            limit: format!("{SESSION_CAP} root sessions"),
        })
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// Whether `a` is the call a session's finding should be about rather than `b`: higher severity, or the
/// same severity and earlier.
fn is_worse(a: &Observation, b: &Observation) -> bool {
    let (theirs, ours) = (severity_from_code(a.kind), severity_from_code(b.kind));
    theirs > ours || (theirs == ours && a.order() < b.order())
}

/// One root session: calls with no gap over [`SESSION_GAP_MS`], summarised.
struct Session {
    first: Observation,
    last: Observation,
    /// The first call of the highest severity: the finding is about it.
    worst: Observation,
    count: u64,
    calls: BTreeMap<Box<str>, u64>,
    other_calls: u64,
    root_keys: Vec<Box<str>>,
    login_without_mfa: bool,
}

impl Span for Session {
    fn first_at(&self) -> i64 {
        self.first.at
    }
    fn last_at(&self) -> i64 {
        self.last.at
    }
}

impl Session {
    fn new(obs: Observation) -> Session {
        let mut calls = BTreeMap::new();
        calls.insert(obs.subject.clone(), 1);
        let root_keys = if obs.detail.is_empty() {
            Vec::new()
        } else {
            vec![obs.detail.clone()]
        };
        Session {
            login_without_mfa: obs.kind & NO_MFA_LOGIN != 0,
            first: obs.clone(),
            last: obs.clone(),
            worst: obs,
            count: 1,
            calls,
            other_calls: 0,
            root_keys,
        }
    }

    /// Takes in one more call that touches this session: what [`Session::absorb`] of a one-call
    /// session gives, copying the call only where it becomes the first, last or worst.
    fn take(&mut self, obs: Observation) {
        self.count += 1;
        self.count_call(&obs.subject, 1);
        if !obs.detail.is_empty() {
            self.keep_root_key(&obs.detail);
        }
        self.login_without_mfa |= obs.kind & NO_MFA_LOGIN != 0;
        let worst = is_worse(&obs, &self.worst);
        let first = obs.order() < self.first.order();
        let last = obs.order() > self.last.order();
        match (worst, first, last) {
            (false, false, false) => {}
            (true, false, false) => self.worst = obs,
            (false, true, false) => self.first = obs,
            (false, false, true) => self.last = obs,
            (worst, first, last) => {
                if worst {
                    self.worst = obs.clone();
                }
                if first {
                    self.first = obs.clone();
                }
                if last {
                    self.last = obs;
                }
            }
        }
    }

    /// Counts `n` calls of `call`, naming at most [`NAMES_CAP`] different calls.
    fn count_call(&mut self, call: &str, n: u64) {
        if self.calls.len() < NAMES_CAP || self.calls.contains_key(call) {
            *self.calls.entry(call.into()).or_default() += n;
        } else {
            self.other_calls += n;
        }
    }

    /// Keeps a root access key the session created, at most [`KEYS_CAP`] of them.
    fn keep_root_key(&mut self, key: &str) {
        if self.root_keys.len() < KEYS_CAP && !self.root_keys.iter().any(|k| **k == *key) {
            self.root_keys.push(key.into());
        }
    }

    /// Takes in another session of the same principal that touches this one.
    fn absorb(&mut self, other: Session) {
        self.count += other.count;
        if other.first.order() < self.first.order() {
            self.first = other.first;
        }
        if other.last.order() > self.last.order() {
            self.last = other.last;
        }
        if is_worse(&other.worst, &self.worst) {
            self.worst = other.worst;
        }
        for (call, n) in &other.calls {
            self.count_call(call, *n);
        }
        self.other_calls += other.other_calls;
        for key in &other.root_keys {
            self.keep_root_key(key);
        }
        self.login_without_mfa |= other.login_without_mfa;
    }

    fn finding(&self) -> Finding {
        let event = &self.worst.event;
        let failed = self.worst.kind & FAILED != 0;
        let mut finding = finding_from_event(&META, event, severity_from_code(self.worst.kind));
        finding.id = Finding::stable_id(&[
            META.code,
            &self.first.principal,
            self.first
                .event
                .event_id
                .as_deref()
                .unwrap_or(&self.first.event.event_time),
        ]);
        let account = event
            .account
            .clone()
            .unwrap_or_else(|| "unknown".to_owned());
        let who = describe_caller(event);
        let list = self
            .calls
            .iter()
            .map(|(call, n)| {
                if *n > 1 {
                    format!("{call} ×{n}")
                } else {
                    call.to_string()
                }
            })
            .chain((self.other_calls > 0).then(|| format!("{} more", self.other_calls)))
            .collect::<Vec<_>>()
            .join(", ");
        let single = self.count == 1;
        finding.message = match (failed, single) {
            (true, true) if event.event_name == "ConsoleLogin" => {
                format!("{who} failed to sign in to the console of account {account}.")
            }
            (true, true) => {
                format!("{who} tried to call {list} in account {account}; the call failed.")
            }
            (true, false) => format!(
                "{who} made {} failed calls in account {account} between {} and {}: {list}.",
                self.count, self.first.event.event_time, self.last.event.event_time
            ),
            (false, true) => format!("{who} called {list} in account {account}."),
            (false, false) => format!(
                "{who} made {} calls in account {account} between {} and {}: {list}.",
                self.count, self.first.event.event_time, self.last.event.event_time
            ),
        };
        if self.login_without_mfa {
            finding
                .message
                .push_str(" The root user signed in without MFA.");
        }
        finding.resource = Some(Resource {
            kind: "AwsAccount".to_owned(),
            id: account,
            name: None,
        });
        finding.evidence.push(evidence("userIdentity.type", "Root"));
        if let Some(key) = &event.actor.access_key_id {
            finding
                .evidence
                .push(evidence("userIdentity.accessKeyId", key.as_str()));
        }
        if !single {
            finding.evidence.push(evidence("calls", self.count));
            finding.evidence.push(evidence(
                "eventNames",
                serde_json::to_value(&self.calls).unwrap_or_default(),
            ));
            finding.evidence.push(evidence(
                "firstEventID",
                self.first.event.event_id.clone().unwrap_or_default(),
            ));
        }
        finding.fix.summary = "Confirm the root activity with the account owner; if unexpected, secure the root user \
                               (new password, MFA, no access keys) and review the session."
            .to_owned();
        finding.fix.commands = vec![
            "aws iam get-account-summary --query 'SummaryMap.[AccountAccessKeysPresent,AccountMFAEnabled]'".to_owned(),
            "aws iam generate-credential-report && aws iam get-credential-report --query Content --output text | base64 -d | head -2".to_owned(),
        ];
        for key in &self.root_keys {
            finding.evidence.push(evidence(
                "responseElements.accessKey.accessKeyId",
                key.as_ref(),
            ));
            finding.fix.commands.push(format!(
                "aws iam update-access-key --access-key-id {} --status Inactive  # run as root",
                sh(key)
            ));
        }
        finding.fix.actions.push(FixAction::Manual {
            description:
                "Confirm root activity with the account owner; secure the root user if unexpected."
                    .to_owned(),
        });
        finding
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{run_sequence, TestEvent, IAM_USER, ROOT};

    fn run(events: &[TestEvent]) -> Vec<Finding> {
        run_sequence(Box::new(RootAccountActivity), events)
    }

    #[test]
    fn root_changes_are_high_and_reads_medium() {
        let write = TestEvent::new("s3.amazonaws.com", "PutBucketPolicy")
            .identity(ROOT)
            .request(r#"{"bucketName":"logs","bucketPolicy":{}}"#);
        let f = &run(std::slice::from_ref(&write))[0];
        assert_eq!(f.severity, Severity::High);
        assert!(
            f.message.contains("called s3:PutBucketPolicy"),
            "{}",
            f.message
        );
        let read = write.read_only(true);
        assert_eq!(run(&[read])[0].severity, Severity::Medium);
    }

    #[test]
    fn a_session_is_one_finding_at_its_worst_call() {
        let calls: Vec<TestEvent> = (0..5)
            .map(|i| {
                TestEvent::new("s3.amazonaws.com", "ListBuckets")
                    .identity(ROOT)
                    .read_only(true)
                    .time(&format!("2024-08-01T13:{:02}:00Z", 10 + i))
                    .id(&format!("list-{i}"))
            })
            .chain(std::iter::once(
                TestEvent::iam("CreateAccessKey")
                    .identity(ROOT)
                    .request("{}")
                    .time("2024-08-01T13:20:00Z")
                    .id("root-key")
                    .response(r#"{"accessKey":{"accessKeyId":"AKIAROOTKEY000000001","createDate":"Aug 1, 2024 1:33:28 PM","status":"Active"}}"#),
            ))
            .collect();
        let findings = run(&calls);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        let f = &findings[0];
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.event_id.as_deref(), Some("root-key"));
        assert!(f.message.contains("made 6 calls"), "{}", f.message);
        assert!(f.message.contains("s3:ListBuckets ×5"), "{}", f.message);
        assert!(f
            .fix
            .commands
            .iter()
            .any(|c| c.contains("AKIAROOTKEY000000001")));
        // Two hours later: a new session.
        let mut later = calls.clone();
        later.push(
            TestEvent::new("s3.amazonaws.com", "ListBuckets")
                .identity(ROOT)
                .read_only(true)
                .time("2024-08-01T15:30:00Z")
                .id("list-late"),
        );
        assert_eq!(run(&later).len(), 2);
    }

    #[test]
    fn root_console_login_without_mfa_is_critical() {
        let e = TestEvent::new("signin.amazonaws.com", "ConsoleLogin")
            .identity(r#"{"type":"Root","principalId":"229654561268","arn":"arn:aws:iam::229654561268:root","accountId":"229654561268","accessKeyId":""}"#)
            .event_type("AwsConsoleSignIn")
            .response(r#"{"ConsoleLogin":"Success"}"#)
            .additional(r#"{"LoginTo":"https://console.aws.amazon.com/console/home","MobileVersion":"No","MFAUsed":"No"}"#);
        let f = &run(&[e])[0];
        assert_eq!(f.severity, Severity::Critical);
        assert!(f.message.contains("without MFA"));
    }

    #[test]
    fn non_root_service_invoked_and_service_events_are_ignored() {
        let user = TestEvent::iam("CreateUser").identity(IAM_USER);
        let invoked = TestEvent::iam("CreateServiceLinkedRole").identity(
            r#"{"type":"Root","principalId":"229654561268","arn":"arn:aws:iam::229654561268:root","accountId":"229654561268","invokedBy":"support.amazonaws.com"}"#,
        );
        let service_event = TestEvent::iam("CreateUser")
            .identity(ROOT)
            .event_type("AwsServiceEvent");
        assert!(run(&[user, invoked, service_event]).is_empty());
    }

    #[test]
    fn a_root_access_key_created_in_the_console_is_kept_despite_invoked_by() {
        let console_key = TestEvent::iam("CreateAccessKey")
            .identity(r#"{"type":"Root","principalId":"229654561268","arn":"arn:aws:iam::229654561268:root","accountId":"229654561268","accessKeyId":"ASIAROOTSESSION00001","invokedBy":"signin.amazonaws.com","sessionContext":{"sessionIssuer":{},"webIdFederationData":{},"attributes":{"creationDate":"2024-08-01T13:00:00Z","mfaAuthenticated":"true"}}}"#)
            .request("{}")
            .response(r#"{"accessKey":{"accessKeyId":"AKIAROOTKEY000000002","createDate":"Aug 1, 2024 1:33:28 PM","status":"Active"}}"#);
        let findings = run(&[console_key]);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert_eq!(findings[0].severity, Severity::Critical);
        assert!(findings[0]
            .fix
            .commands
            .iter()
            .any(|c| c.contains("AKIAROOTKEY000000002")));
    }

    #[test]
    fn a_failed_root_password_change_is_an_attempt_not_a_critical_change() {
        let failed = TestEvent::new("signin.amazonaws.com", "PasswordUpdated")
            .identity(r#"{"type":"Root","principalId":"229654561268","arn":"arn:aws:iam::229654561268:root","accountId":"229654561268","accessKeyId":""}"#)
            .event_type("AwsConsoleSignIn")
            .response(r#"{"PasswordUpdated":"Failure"}"#);
        let f = &run(std::slice::from_ref(&failed))[0];
        assert_eq!(f.severity, Severity::High);
        assert!(f.title.starts_with("Attempted:"), "{}", f.title);
        let done = failed.response(r#"{"PasswordUpdated":"Success"}"#);
        let f = &run(&[done])[0];
        assert_eq!(f.severity, Severity::Critical);
        assert!(!f.title.starts_with("Attempted:"));
    }

    #[test]
    fn failed_root_sign_ins_are_left_to_ct024() {
        let failed = TestEvent::new("signin.amazonaws.com", "ConsoleLogin")
            .identity(r#"{"type":"Root","principalId":"229654561268","arn":"arn:aws:iam::229654561268:root","accountId":"229654561268","accessKeyId":""}"#)
            .event_type("AwsConsoleSignIn")
            .response(r#"{"ConsoleLogin":"Failure"}"#);
        assert!(run(&[failed]).is_empty());
    }

    #[test]
    fn denied_root_calls_are_an_attempt_session_apart_from_successes() {
        let denied = TestEvent::iam("CreateUser")
            .identity(ROOT)
            .request(r#"{"userName":"x"}"#)
            .id("denied")
            .denied();
        let ok = TestEvent::iam("ListUsers")
            .identity(ROOT)
            .read_only(true)
            .id("ok");
        let findings = run(&[denied, ok]);
        assert_eq!(findings.len(), 2);
        let attempt = findings
            .iter()
            .find(|f| f.event_id.as_deref() == Some("denied"))
            .unwrap();
        assert_eq!(attempt.severity, Severity::Medium);
        assert!(attempt.title.starts_with("Attempted:"));
    }

    /// Calls taken in place ([`RootSessions::add`]), in any order and over two merged folds, give the
    /// sessions that building a one-call session per call and merging it gives in time order.
    #[test]
    fn calls_taken_in_place_in_any_order_give_the_sessions_of_the_merging_walk() {
        use crate::rules::cloudtrail::common::testing::{fold_dealt_to_two, with_record};
        let names = [
            ("s3.amazonaws.com", "ListBuckets", true),
            ("iam.amazonaws.com", "CreateAccessKey", false),
            ("iam.amazonaws.com", "DeactivateMFADevice", false),
            ("ec2.amazonaws.com", "DescribeInstances", true),
        ];
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = |below: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % below
        };
        let mut sessions_seen = 0;
        for round in 0..40 {
            let count = 20 + next(80);
            let mut calls: Vec<Observation> = (0..count)
                .filter_map(|n| {
                    let (source, name, read) = names[next(4) as usize];
                    // Minutes over six hours: gaps over an hour split sessions.
                    let minute = next(360);
                    let key = if next(3) == 0 { "AKIAROOTKEY000000001" } else { "" };
                    let event = TestEvent::new(source, name)
                        .identity(&format!(
                            r#"{{"type":"Root","principalId":"229654561268","arn":"arn:aws:iam::229654561268:root","accountId":"229654561268","accessKeyId":"{key}"}}"#
                        ))
                        .read_only(read)
                        .time(&format!("2024-08-01T{:02}:{:02}:00Z", minute / 60, minute % 60))
                        .id(&format!("0b7c1a53-{round:04}-{n:04}-9d1c-5a2f3e4d6c7b"));
                    with_record(&event.json(), |record| RootAccountActivity.observe(record).map(Observed::into_observation))
                })
                .collect();
            calls.sort_by(|a, b| a.order().cmp(&b.order()));
            let mut walk = RootSessions::default();
            for call in calls.iter().cloned() {
                let principal = call.principal.clone();
                walk.insert(principal, Session::new(call));
            }
            let mut expected = Report::default();
            let _ = Box::new(walk).finish(&mut expected);
            let expected = described(expected);
            sessions_seen += expected.len();

            for i in (1..calls.len()).rev() {
                calls.swap(i, next(i as u64 + 1) as usize);
            }
            let (report, _) = fold_dealt_to_two(calls, || Box::new(RootSessions::default()));
            assert_eq!(described(report), expected, "round {round}");
        }
        assert!(
            sessions_seen > 80,
            "the inputs must hold several sessions: {sessions_seen}"
        );
    }

    fn described(report: Report) -> Vec<(String, Severity, String)> {
        let mut out: Vec<_> = report
            .into_findings()
            .into_iter()
            .map(|f| (f.id, f.severity, f.message))
            .collect();
        out.sort();
        out
    }
}
