//! The one flow of a scan's findings (`engine::scan_findings`): repeats folded as they are found, findings
//! handed on while the scan still reads, and rule state bounded (CT014 by sessions) with its limit said.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use trailguard_event::source::{MemorySource, Source};
use trailguard_event::{CollectErrors, Filter, NoopObserver};
use trailguard_rules::engine::{scan_findings, Engine, ScanOutcome};
use trailguard_rules::rules::cloudtrail::root_account_activity::SESSION_CAP;
use trailguard_rules::{Finding, Severity};

/// A real CreateAccessKey record (christophe makes a key for another user: CT rule material), one line.
fn create_access_key() -> String {
    let path = trailguard_testkit::shared_data().join(
        "cloudtrail/stratus-red-team/docs/detonation-logs/aws.persistence.iam-backdoor-user.json",
    );
    let records: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let record = records
        .into_iter()
        .find(|r| r["eventName"] == "CreateAccessKey")
        .unwrap();
    serde_json::to_string(&record).unwrap()
}

fn scan(engine: &Engine, sources: Vec<Box<dyn Source>>) -> (Vec<Finding>, ScanOutcome) {
    let mut found = Vec::new();
    let outcome = scan_findings(
        engine,
        None,
        sources,
        &Filter::default(),
        2,
        &NoopObserver,
        |f| found.push(f),
    )
    .unwrap();
    (found, outcome)
}

#[test]
fn repeated_records_give_one_finding_and_count_the_repeats() {
    let record = create_access_key();
    let copies = 20_000;
    // JSON lines and a Records file, read by two workers: repeats meet in one worker and across both.
    let lines = format!("{record}\n").repeat(copies / 2);
    let records = format!(
        "{{\"Records\":[{}]}}",
        vec![record.as_str(); copies / 2].join(",")
    );
    let sources: Vec<Box<dyn Source>> = vec![
        Box::new(MemorySource::new("a.jsonl", lines.into_bytes())),
        Box::new(MemorySource::new("b.json", records.into_bytes())),
    ];
    // CT008 alone: the inventory rule (CT050) finds the same event, and one rule makes the count plain.
    let engine = Engine::builtin().retain(|meta| meta.code == "CT008");
    let (found, outcome) = scan(&engine, sources);
    assert_eq!(outcome.stats.records_matched, copies as u64);
    let ids: Vec<&str> = found.iter().map(|f| f.rule_id.as_str()).collect();
    assert_eq!(ids, ["CT008"], "{found:#?}");
    assert_eq!(outcome.engine.duplicates_removed, copies as u64 - 1);
}

/// Serves `head`, then waits until the test says a finding arrived (or gives up after a while, noting
/// it), then serves `tail`: a finding that only arrives at the end of the scan cannot arrive in time.
struct GatedSource {
    head: Vec<u8>,
    tail: Vec<u8>,
    gate: Mutex<Option<mpsc::Receiver<()>>>,
    waited_in_vain: Arc<Mutex<bool>>,
}

struct GatedReader {
    head: io::Cursor<Vec<u8>>,
    tail: io::Cursor<Vec<u8>>,
    gate: Option<mpsc::Receiver<()>>,
    waited_in_vain: Arc<Mutex<bool>>,
}

impl Read for GatedReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.head.read(out)?;
        if n > 0 {
            return Ok(n);
        }
        if let Some(gate) = self.gate.take() {
            if gate.recv_timeout(Duration::from_secs(20)).is_err() {
                *self.waited_in_vain.lock().unwrap() = true;
            }
        }
        self.tail.read(out)
    }
}

impl Source for GatedSource {
    fn name(&self) -> &Path {
        Path::new("gated.jsonl")
    }

    fn size_hint(&self) -> Option<u64> {
        // Small: read by one worker, which judges each buffer before it reads the next.
        Some(1)
    }

    fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(GatedReader {
            head: io::Cursor::new(self.head.clone()),
            tail: io::Cursor::new(self.tail.clone()),
            gate: self.gate.lock().unwrap().take(),
            waited_in_vain: Arc::clone(&self.waited_in_vain),
        }))
    }
}

#[test]
fn findings_reach_the_caller_while_the_scan_is_still_reading() {
    let record = create_access_key();
    // Enough read-only records after the finding to fill the reader's first buffer (4 MiB).
    let filler = record
        .replace("\"CreateAccessKey\"", "\"ListAccessKeys\"")
        .replace("c64c4ded", "0000beef");
    let mut head = format!("{record}\n");
    while head.len() < 6 << 20 {
        head.push_str(&filler);
        head.push('\n');
    }
    let tail = format!("{}\n", record.replace("c64c4ded", "11112222"));
    let (open_gate, gate) = mpsc::channel();
    let waited_in_vain = Arc::new(Mutex::new(false));
    let source = GatedSource {
        head: head.into_bytes(),
        tail: tail.into_bytes(),
        gate: Mutex::new(Some(gate)),
        waited_in_vain: Arc::clone(&waited_in_vain),
    };
    let mut found = Vec::new();
    // CT008 alone: the inventory rule (CT050) would find each key event a second time.
    scan_findings(
        &Engine::builtin().retain(|meta| meta.code == "CT008"),
        None,
        vec![Box::new(source)],
        &Filter::default(),
        1,
        &NoopObserver,
        |finding| {
            let _ = open_gate.send(());
            found.push(finding);
        },
    )
    .unwrap();
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(
        !*waited_in_vain.lock().unwrap(),
        "the first finding was not handed on until the input ended"
    );
}

/// Workers pass findings on in batches (a full batch, the end of each read, the end of the scan):
/// every finding reaches the caller once, however the batches fall.
#[test]
fn every_finding_reaches_the_caller_once_whatever_the_batches() {
    let record = create_access_key();
    assert!(record.contains("c64c4ded"), "the event id this test varies");
    let file = |part: usize, count: usize| -> Box<dyn Source> {
        let body: String = (0..count)
            .map(|n| record.replace("c64c4ded", &format!("{part:02x}{n:06x}")) + "\n")
            .collect();
        Box::new(MemorySource::new(
            format!("part{part}.jsonl"),
            body.into_bytes(),
        ))
    };
    // Over, under and just at a batch of 64, read by two workers.
    let sources = vec![file(1, 150), file(2, 5), file(3, 64), file(4, 1)];
    let (found, _) = scan(&Engine::builtin().retain(|m| m.code == "CT008"), sources);
    let mut ids: Vec<&str> = found.iter().map(|f| f.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(found.len(), 220);
    assert_eq!(ids.len(), 220, "each finding once");
}

/// A root call of `ip` at `minute` minutes after midnight (sessions end after an hour without calls).
fn root_call(n: usize, ip: &str, minute: u64) -> String {
    format!(
        r#"{{"eventVersion":"1.08","userIdentity":{{"type":"Root","principalId":"111122223333","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333","accessKeyId":""}},"eventTime":"2024-08-{:02}T{:02}:{:02}:{:02}Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","awsRegion":"us-east-1","sourceIPAddress":"{ip}","userAgent":"console.amazonaws.com","requestParameters":null,"responseElements":null,"requestID":"r{n}","eventID":"root-{n}","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333"}}"#,
        1 + minute / 1440,
        (minute / 60) % 24,
        minute % 60,
        n % 60
    )
}

#[test]
fn root_activity_state_grows_with_sessions_not_calls() {
    // One long root session of 100,000 calls (one a minute would span days: keep them in one hour).
    let calls = 100_000;
    let body: String = (0..calls)
        .map(|n| root_call(n, "198.51.100.7", (n as u64 * 59) / calls as u64) + "\n")
        .collect();
    let engine = Engine::builtin().retain(|m| m.code == "CT014");
    let (found, outcome) = scan(
        &engine,
        vec![Box::new(MemorySource::new("root.jsonl", body.into_bytes()))],
    );
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].message.contains(&format!("made {calls} calls")),
        "{}",
        found[0].message
    );
    assert_eq!(found[0].severity, Severity::Medium);
    assert!(outcome.limits.is_empty(), "{:?}", outcome.limits);
    assert_eq!(outcome.engine.observations, 0, "folded, not kept");
}

#[test]
fn root_activity_says_when_its_session_limit_is_reached() {
    // Sessions two hours apart from distinct addresses: more than the rule keeps.
    let sessions = SESSION_CAP + 50;
    let body: String = (0..sessions)
        .map(|n| root_call(n, &format!("198.51.{}.{}", n / 256, n % 256), 0) + "\n")
        .collect();
    let engine = Engine::builtin().retain(|m| m.code == "CT014");
    let errors = CollectErrors::default();
    let mut found = Vec::new();
    let outcome = scan_findings(
        &engine,
        None,
        vec![Box::new(MemorySource::new(
            PathBuf::from("roots.jsonl"),
            body.into_bytes(),
        ))],
        &Filter::default(),
        2,
        &errors,
        |f| found.push(f),
    )
    .unwrap();
    assert_eq!(found.len(), SESSION_CAP);
    assert_eq!(outcome.limits.len(), 1, "{:?}", outcome.limits);
    let limit = &outcome.limits[0];
    assert_eq!(limit.rule, "CT014");
    assert_eq!(limit.events_left_out, 50);
    assert!(limit.to_string().contains("may be incomplete"), "{limit}");
}

/// A failed console sign-in of IAM user `alice`, shaped like CloudTrail's, `n` seconds after 10:00.
fn failed_sign_in(event_id: &str, n: u64) -> String {
    serde_json::json!({
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLEALICE", "accountId": "111122223333",
                         "userName": "alice", "arn": "arn:aws:iam::111122223333:user/alice"},
        "eventTime": format!("2024-05-02T10:00:{:02}Z", n % 60),
        "eventSource": "signin.amazonaws.com",
        "eventName": "ConsoleLogin",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.50",
        "userAgent": "Mozilla/5.0 (X11; Linux x86_64)",
        "errorMessage": "Failed authentication",
        "requestParameters": null,
        "responseElements": {"ConsoleLogin": "Failure"},
        "additionalEventData": {"MFAUsed": "No", "LoginTo": "https://console.aws.amazon.com/console/home"},
        "eventID": event_id,
        "readOnly": false,
        "eventType": "AwsConsoleSignIn",
        "managementEvent": true,
        "recipientAccountId": "111122223333",
        "eventCategory": "Management"
    })
    .to_string()
}

/// A call of IAM user `mallory` refused with `AccessDenied`, `n` seconds after 10:00; `api` is one of
/// three services' calls.
fn refused_call(event_id: &str, n: u64, api: usize) -> String {
    let (source, name) = [
        ("iam.amazonaws.com", "ListUsers"),
        ("s3.amazonaws.com", "ListBuckets"),
        ("ec2.amazonaws.com", "DescribeInstances"),
    ][api % 3];
    serde_json::json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLEMALLORY", "accountId": "111122223333",
                         "accessKeyId": "AKIAEXAMPLEMALLORY01", "userName": "mallory",
                         "arn": "arn:aws:iam::111122223333:user/mallory"},
        "eventTime": format!("2024-05-02T10:00:{:02}Z", n % 60),
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15.0",
        "errorCode": "AccessDenied",
        "errorMessage": format!("User: arn:aws:iam::111122223333:user/mallory is not authorized to perform: {name}"),
        "requestParameters": null,
        "responseElements": null,
        "eventID": event_id,
        "readOnly": true,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": "111122223333",
        "eventCategory": "Management"
    })
    .to_string()
}

/// The same for a rule that folds its calls as they come (CT034): the fold, not the engine, drops the
/// repeats, within a worker and across them.
#[test]
fn a_repeated_event_counts_once_towards_a_folded_burst() {
    let engine = Engine::builtin().retain(|meta| meta.code == "CT034");
    let event = |n: u64| {
        refused_call(
            &format!("7a6b5c4d-0000-4000-8000-0000000000{n:02}"),
            n,
            n as usize,
        )
    };
    // Four refusals of three kinds, each delivered three times over two files: twelve deliveries, four
    // calls, under the ten a burst needs: recorded at info as four calls.
    let four: String = (1..=4).map(|n| event(n) + "\n").collect();
    let sources: Vec<Box<dyn Source>> = vec![
        Box::new(MemorySource::new("a.jsonl", four.repeat(2).into_bytes())),
        Box::new(MemorySource::new("b.jsonl", four.into_bytes())),
    ];
    let (found, outcome) = scan(&engine, sources);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].severity, Severity::Info);
    let calls = |f: &Finding| {
        f.evidence
            .iter()
            .find(|e| e.path == "calls")
            .map(|e| e.value.clone())
    };
    assert_eq!(calls(&found[0]), Some(serde_json::json!(4)), "{found:#?}");
    assert_eq!(outcome.stats.records_seen, 12);

    // Twelve distinct refusals are a burst (the positive control).
    let twelve: String = (1..=12).map(|n| event(n) + "\n").collect();
    let (found, _) = scan(
        &engine,
        vec![Box::new(MemorySource::new("c.jsonl", twelve.into_bytes()))],
    );
    let rules: Vec<&str> = found.iter().map(|f| f.rule_id.as_str()).collect();
    assert_eq!(rules, ["CT034"], "{found:#?}");
    assert!(found[0].severity >= Severity::Medium, "{found:#?}");
    assert_eq!(calls(&found[0]), Some(serde_json::json!(12)), "{found:#?}");
}

#[test]
fn a_repeated_event_counts_once_towards_a_burst() {
    let engine = Engine::builtin().retain(|meta| meta.code == "CT016");
    // One failure delivered many times, in two files read by two workers: not a burst.
    let once = failed_sign_in("0f1e2d3c-0000-4000-8000-000000000001", 1);
    let sources: Vec<Box<dyn Source>> = vec![
        Box::new(MemorySource::new(
            "a.jsonl",
            format!("{once}\n").repeat(6).into_bytes(),
        )),
        Box::new(MemorySource::new(
            "b.jsonl",
            format!("{once}\n").repeat(6).into_bytes(),
        )),
    ];
    let (found, outcome) = scan(&engine, sources);
    // One failure is recorded on its own (info), counted once.
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].severity, Severity::Info);
    assert_eq!(found[0].evidence[0].value, 1);
    assert_eq!(outcome.engine.observations_repeated, 11);

    // Six distinct failures are (the positive control for the same rule and record shape).
    let distinct: String = (1..=6)
        .map(|n| failed_sign_in(&format!("0f1e2d3c-0000-4000-8000-00000000000{n}"), n) + "\n")
        .collect();
    let (found, _) = scan(
        &engine,
        vec![Box::new(MemorySource::new(
            "c.jsonl",
            distinct.into_bytes(),
        ))],
    );
    let rules: Vec<&str> = found.iter().map(|f| f.rule_id.as_str()).collect();
    assert_eq!(rules, ["CT016"], "{found:#?}");
    assert_eq!(found[0].severity, Severity::Medium);
}
