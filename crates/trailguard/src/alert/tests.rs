//! The dispatcher end to end: a real HTTP receiver on 127.0.0.1 (plain std sockets, answering what the
//! test scripts), a real SQLite store on disk, and the real sender.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use trailguard_rules::{Actor, Finding, FindingSource, Severity};

use super::config::{AlertSettings, Destination, Route, Target};
use super::{sign, DeliveryReport, Dispatcher, OfferCounts};
use crate::mute::parse_stamp;
use crate::store::{self, alerting, FindingStore};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A local HTTP receiver: answers each request with the next scripted status (200 once the script
/// is used up), records what it got, closes every connection.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<Vec<u16>>>,
}

impl Receiver {
    fn start(script: &[u16]) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let got = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script.iter().rev().copied().collect::<Vec<_>>()));
        let (got2, script2) = (got.clone(), script.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                stream
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    continue;
                }
                let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
                let mut headers = Vec::new();
                loop {
                    let mut header = String::new();
                    reader.read_line(&mut header).unwrap();
                    let header = header.trim_end();
                    if header.is_empty() {
                        break;
                    }
                    let (name, value) = header.split_once(':').unwrap();
                    headers.push((name.trim().to_owned(), value.trim().to_owned()));
                }
                let length: usize = headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                    .map_or(0, |(_, v)| v.parse().unwrap());
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let status = script2.lock().unwrap().pop().unwrap_or(200);
                got2.lock().unwrap().push(Received {
                    path,
                    headers,
                    body,
                });
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                );
            }
        });
        Receiver { url, got, script }
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

fn finding(id: &str, principal: &str, severity: Severity) -> Finding {
    let mut f = Finding::new(
        id,
        "CT006",
        "account-alias-changed",
        "Account alias changed",
        severity,
        FindingSource::Cloudtrail,
        "The account alias was set to `corp-prod`.",
    );
    f.account = Some("111122223333".into());
    f.region = Some("us-east-1".into());
    f.event_name = Some("CreateAccountAlias".into());
    f.actor = Some(Actor {
        arn: Some(principal.into()),
        ..Actor::default()
    });
    f.fix.commands = vec!["aws iam delete-account-alias --account-alias corp-prod".into()];
    f.fix.kb_entry = Some("CreateAccountAlias".into());
    f
}

fn settings(destinations: Vec<Destination>) -> AlertSettings {
    AlertSettings {
        destinations,
        fold_window: Duration::from_secs(3600),
        retry_base: Duration::from_secs(5),
    }
}

fn webhook(receiver: &Receiver, secret: &str) -> Destination {
    Destination {
        name: "hook".into(),
        target: Target::Webhook {
            url: format!("{}/hook", receiver.url),
            secret: Some(secret.into()),
        },
        route: Route::default(),
        rate_per_minute: None,
    }
}

fn slack(receiver: &Receiver, min: Severity) -> Destination {
    Destination {
        name: "slack".into(),
        target: Target::Slack {
            url: format!("{}/services/T0/B0/secret", receiver.url),
        },
        route: Route {
            min_severity: Some(min),
            ..Route::default()
        },
        rate_per_minute: None,
    }
}

fn at(text: &str) -> DateTime<Utc> {
    parse_stamp(text).unwrap()
}

struct Fixture {
    _dir: tempfile::TempDir,
    spec: String,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let spec = dir.path().join("tg.db").display().to_string();
        Fixture { _dir: dir, spec }
    }
    fn open(&self) -> Box<dyn FindingStore> {
        store::open(&self.spec).unwrap()
    }
}

fn offer(
    dispatcher: &Dispatcher,
    store: &mut dyn FindingStore,
    f: &Finding,
    now: &str,
) -> OfferCounts {
    let mut counts = OfferCounts::default();
    dispatcher.offer(store, f, at(now), &mut counts).unwrap();
    counts
}

#[test]
fn the_first_alert_goes_at_once_and_repeats_arrive_as_one_digest() {
    let receiver = Receiver::start(&[]);
    let fixture = Fixture::new();
    let mut store = fixture.open();
    let mut dispatcher = Dispatcher::new(settings(vec![
        webhook(&receiver, "s3cret"),
        slack(&receiver, Severity::High),
    ]))
    .unwrap();
    let ci = "arn:aws:iam::111122223333:role/ci";
    let first = finding("tg-1", ci, Severity::High);
    assert_eq!(
        offer(&dispatcher, store.as_mut(), &first, "2026-12-04T10:00:00Z").alerts,
        2
    );
    let report = dispatcher
        .deliver(store.as_mut(), at("2026-12-04T10:00:00Z"))
        .unwrap();
    assert_eq!(report.sent, 2);
    // Repeats: the same finding again, and two more by the same principal; one below Slack's route.
    let repeats = [
        first.clone(),
        finding("tg-2", ci, Severity::High),
        finding("tg-3", ci, Severity::Low),
    ];
    for (n, f) in repeats.iter().enumerate() {
        let counts = offer(
            &dispatcher,
            store.as_mut(),
            f,
            &format!("2026-12-04T10:0{}:00Z", n + 1),
        );
        assert_eq!(counts.alerts, 0, "{n}");
    }
    // Another principal is news.
    let other = finding(
        "tg-9",
        "arn:aws:iam::111122223333:user/mallory",
        Severity::Critical,
    );
    assert_eq!(
        offer(&dispatcher, store.as_mut(), &other, "2026-12-04T10:05:00Z").alerts,
        2
    );
    let report = dispatcher
        .deliver(store.as_mut(), at("2026-12-04T10:05:00Z"))
        .unwrap();
    assert_eq!(report.sent, 2);
    assert_eq!(receiver.got().len(), 4);
    // The window closes: one digest per destination, with the count and the window's end.
    let report = dispatcher
        .deliver(store.as_mut(), at("2026-12-04T11:00:00Z"))
        .unwrap();
    assert_eq!(report.sent, 2);
    let got = receiver.got();
    assert_eq!(got.len(), 6);
    let hook_digest = got[4..].iter().find(|r| r.path == "/hook").unwrap();
    assert_eq!(hook_digest.header("x-trailguard-kind"), Some("digest"));
    let body: serde_json::Value = serde_json::from_slice(&hook_digest.body).unwrap();
    assert_eq!(body["digest"]["repeats"], 3);
    assert_eq!(body["digest"]["window_end"], "2026-12-04T11:00:00.000Z");
    let slack_digest = got[4..].iter().find(|r| r.path != "/hook").unwrap();
    let text: serde_json::Value = serde_json::from_slice(&slack_digest.body).unwrap();
    assert!(
        text["text"]
            .as_str()
            .unwrap()
            .starts_with("*2* more findings"),
        "{text}"
    );
    // The first Slack alert is the readable one.
    let slack_first: serde_json::Value =
        serde_json::from_slice(&got.iter().find(|r| r.path != "/hook").unwrap().body).unwrap();
    let slack_text = slack_first["text"].as_str().unwrap();
    assert!(
        slack_text.contains("*HIGH* Account alias changed"),
        "{slack_text}"
    );
    assert!(
        slack_text.contains("*Fix:* `aws iam delete-account-alias --account-alias corp-prod`"),
        "{slack_text}"
    );
    assert!(
        slack_text.contains("`trailguard explain CreateAccountAlias`"),
        "{slack_text}"
    );
    // Nothing more to send.
    let report = dispatcher
        .deliver(store.as_mut(), at("2026-12-04T12:00:00Z"))
        .unwrap();
    assert_eq!(report, DeliveryReport::default());
}

#[test]
fn the_webhook_signature_verifies_and_a_replay_is_detectable() {
    let receiver = Receiver::start(&[]);
    let fixture = Fixture::new();
    let mut store = fixture.open();
    let mut dispatcher = Dispatcher::new(settings(vec![webhook(&receiver, "s3cret")])).unwrap();
    let f = finding("tg-1", "arn:aws:iam::111122223333:role/ci", Severity::High);
    offer(&dispatcher, store.as_mut(), &f, "2026-12-04T10:00:00Z");
    dispatcher
        .deliver(store.as_mut(), at("2026-12-04T10:00:00Z"))
        .unwrap();
    let got = receiver.got();
    let request = &got[0];
    // The body is the finding's JSON.
    let sent: Finding = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(sent, f);
    let header = request.header(sign::SIGNATURE_HEADER).unwrap();
    let now = Utc::now().timestamp();
    assert_eq!(
        sign::verify(b"s3cret", header, &request.body, now, 300),
        Ok(())
    );
    assert_eq!(
        sign::verify(b"wrong", header, &request.body, now, 300),
        Err(sign::SignatureError::Mismatch)
    );
    // A captured request replayed later is refused by its age; within the tolerance, by its delivery id.
    assert!(matches!(
        sign::verify(b"s3cret", header, &request.body, now + 301, 300),
        Err(sign::SignatureError::Stale { .. })
    ));
    let delivery = request.header(sign::DELIVERY_HEADER).unwrap();
    assert!(delivery.starts_with("tg-"), "{delivery}");
}

#[test]
fn a_receiver_answering_500_is_retried_with_backoff_until_it_recovers() {
    let receiver = Receiver::start(&[500, 503]);
    let fixture = Fixture::new();
    let mut store = fixture.open();
    let mut dispatcher = Dispatcher::new(settings(vec![webhook(&receiver, "k")])).unwrap();
    let f = finding("tg-1", "arn:aws:iam::111122223333:role/ci", Severity::High);
    offer(&dispatcher, store.as_mut(), &f, "2026-12-04T10:00:00Z");
    let report = dispatcher
        .deliver(store.as_mut(), at("2026-12-04T10:00:00Z"))
        .unwrap();
    assert_eq!((report.sent, report.retrying), (0, 1));
    // Not due again before its backoff (5 s, then 10 s).
    let report = dispatcher
        .deliver(store.as_mut(), at("2026-12-04T10:00:04Z"))
        .unwrap();
    assert_eq!(report, DeliveryReport::default());
    let report = dispatcher
        .deliver(store.as_mut(), at("2026-12-04T10:00:05Z"))
        .unwrap();
    assert_eq!((report.sent, report.retrying), (0, 1));
    let report = dispatcher
        .deliver(store.as_mut(), at("2026-12-04T10:00:15Z"))
        .unwrap();
    assert_eq!((report.sent, report.retrying), (1, 0));
    let got = receiver.got();
    assert_eq!(got.len(), 3);
    // Every attempt carries the same delivery id, so the receiver can tell a retry from a new alert.
    let ids: Vec<_> = got
        .iter()
        .map(|r| r.header(sign::DELIVERY_HEADER).unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
    assert_eq!(alerting::outbox_counts(store.as_mut()).unwrap().sent, 1);
    assert!(receiver.script.lock().unwrap().is_empty());
}

#[test]
fn the_outbox_survives_a_restart() {
    let receiver = Receiver::start(&[]);
    let fixture = Fixture::new();
    let f = finding("tg-1", "arn:aws:iam::111122223333:role/ci", Severity::High);
    {
        // A run that queues its alert and dies before sending (a receiver that is down would do too).
        let mut store = fixture.open();
        let dispatcher = Dispatcher::new(settings(vec![webhook(&receiver, "k")])).unwrap();
        offer(&dispatcher, store.as_mut(), &f, "2026-12-04T10:00:00Z");
    }
    assert!(receiver.got().is_empty());
    let mut store = fixture.open();
    let mut dispatcher = Dispatcher::new(settings(vec![webhook(&receiver, "k")])).unwrap();
    // The next process sees the same finding again: still one alert.
    assert_eq!(
        offer(&dispatcher, store.as_mut(), &f, "2026-12-04T10:10:00Z").alerts,
        0
    );
    let report = dispatcher
        .deliver(store.as_mut(), at("2026-12-04T10:10:00Z"))
        .unwrap();
    assert_eq!(report.sent, 1);
    assert_eq!(receiver.got().len(), 1);
}

#[test]
fn a_file_destination_gets_one_json_line_per_message() {
    let fixture = Fixture::new();
    let path = fixture._dir.path().join("alerts.jsonl");
    let mut store = fixture.open();
    let file = Destination {
        name: "file".into(),
        target: Target::File { path: path.clone() },
        route: Route::default(),
        rate_per_minute: Some(1),
    };
    let mut dispatcher = Dispatcher::new(settings(vec![file])).unwrap();
    for (id, who) in [("tg-1", "role/a"), ("tg-2", "role/b")] {
        offer(
            &dispatcher,
            store.as_mut(),
            &finding(id, who, Severity::High),
            "2026-12-04T10:00:00Z",
        );
    }
    // One a minute: the second waits for the next round.
    let report = dispatcher
        .deliver(store.as_mut(), at("2026-12-04T10:00:00Z"))
        .unwrap();
    assert_eq!((report.sent, report.deferred), (1, 1));
    let lines = std::fs::read_to_string(&path).unwrap();
    let line: serde_json::Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert_eq!(line["kind"], "alert");
    assert_eq!(line["delivery"], "alert:tg-1");
    assert_eq!(line["message"]["id"], "tg-1");
}

#[test]
fn each_mute_expiry_is_its_own_alert_and_a_repeat_of_one_adds_nothing() {
    use crate::mute::MuteRequest;
    let fixture = Fixture::new();
    let path = fixture._dir.path().join("alerts.jsonl");
    let mut store = fixture.open();
    let file = Destination {
        name: "file".into(),
        target: Target::File { path: path.clone() },
        route: Route::default(),
        rate_per_minute: None,
    };
    let mut dispatcher = Dispatcher::new(settings(vec![file])).unwrap();
    let expiry = |rule: &str| {
        MuteRequest {
            rule: Some(rule.into()),
            reason: "accepted in review".into(),
            expires: Some("2026-12-01".into()),
            ..MuteRequest::default()
        }
        .into_mute("alice", at("2026-11-01T00:00:00Z"))
        .unwrap()
        .expiry_finding()
        .unwrap()
    };
    let (ct006, ct008) = (expiry("CT006"), expiry("CT008"));
    assert_ne!(ct006.id, ct008.id);
    // Neither has a principal, yet two expiries within one fold window are two alerts.
    assert_eq!(
        offer(&dispatcher, store.as_mut(), &ct006, "2026-12-04T10:00:00Z").alerts,
        1
    );
    assert_eq!(
        offer(&dispatcher, store.as_mut(), &ct008, "2026-12-04T10:00:01Z").alerts,
        1
    );
    // The same expiry raised again (another worker, a restart) is not a new alert.
    assert_eq!(
        offer(&dispatcher, store.as_mut(), &ct006, "2026-12-04T10:00:02Z").alerts,
        0
    );
    let report = dispatcher
        .deliver(store.as_mut(), at("2026-12-04T10:00:03Z"))
        .unwrap();
    assert_eq!(report.sent, 2);
    let rules: Vec<String> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|v| v["message"]["rule_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(rules, ["CT055", "CT055"]);
}
