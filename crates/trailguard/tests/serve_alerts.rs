//! Alerts and mutes in `trailguard serve`: two workers on one PostgreSQL store, S3 notifications from
//! the moto server shared by this test binary, a JSON-lines file and a signed webhook (a receiver on
//! 127.0.0.1 that answers 500 until the test lets it recover). Every unmuted finding reaches each
//! destination exactly once, nothing is lost while the webhook is down, a mute keeps its findings quiet,
//! an expired mute is reported once, and `/metrics` counts the failed deliveries.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use trailguard_testkit::MotoServer;

fn moto() -> &'static MotoServer {
    MotoServer::shared()
}

/// The stateful rules, evaluated in the store's commit: a finding of one seen in part may be replaced
/// by the whole one in a later commit, after its alert went out.
/// The codes of every registered sequence rule (the registry is the one list of them).
fn sequence_rules() -> Vec<&'static str> {
    trailguard_rules::rules::cloudtrail::sequences()
        .iter()
        .map(|rule| rule.meta().code)
        .collect()
}

/// A webhook receiver: answers 500 while `down`, else 200 and keeps (delivery id, body).
struct Receiver {
    url: String,
    down: Arc<AtomicBool>,
    refused: Arc<AtomicU64>,
    accepted: Arc<Mutex<Vec<(String, String)>>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let down = Arc::new(AtomicBool::new(true));
        let refused = Arc::new(AtomicU64::new(0));
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let (d, r, a) = (down.clone(), refused.clone(), accepted.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let (mut length, mut delivery) = (0usize, String::new());
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    if lower.starts_with("x-trailguard-delivery:") {
                        delivery = line.split_once(':').unwrap().1.trim().to_owned();
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let status = if d.load(Ordering::SeqCst) {
                    r.fetch_add(1, Ordering::SeqCst);
                    "500 Internal Server Error"
                } else {
                    a.lock()
                        .unwrap()
                        .push((delivery, String::from_utf8_lossy(&body).into_owned()));
                    "200 OK"
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
            }
        });
        Receiver {
            url,
            down,
            refused,
            accepted,
        }
    }
}

/// A bucket announcing its objects on a queue, holding the samples' log files: the queue URL and the
/// number of objects.
fn setup_bucket(name: &str) -> (String, String) {
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/cloudtrail");
    let out = moto().python(&format!(
        r#"
import boto3, os
s3 = boto3.client("s3"); sqs = boto3.client("sqs")
url = sqs.create_queue(QueueName="{name}", Attributes={{"VisibilityTimeout": "30"}})["QueueUrl"]
arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
s3.create_bucket(Bucket="{name}")
s3.put_bucket_notification_configuration(Bucket="{name}", NotificationConfiguration={{
    "QueueConfigurations": [{{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}}]}})
root = "{root}"
count = 0
for dirpath, _, files in os.walk(root):
    for n in sorted(files):
        path = os.path.join(dirpath, n)
        key = os.path.relpath(path, root)
        # The readable log files only: the samples' broken ones are for other tests.
        if "/CloudTrail/" in key and key.endswith(".json.gz") and "RbQmpYTT" not in key:
            s3.upload_file(path, "{name}", key)
            count += 1
print(url, count)
"#,
        root = samples.display()
    ));
    let (url, count) = out.trim().split_once(' ').unwrap();
    (url.to_owned(), count.to_owned())
}

fn get(url: &str) -> String {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(
        stream,
        "GET /{path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn two_workers_on_postgres_alert_each_finding_once_through_an_outage() {
    let db = trailguard_testkit::postgres().fresh_database();
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start();
    let (queue, objects) = setup_bucket("tg-serve-alerts");
    let file = dir.path().join("alerts.jsonl");
    let config = dir.path().join("trailguard.toml");
    // No folding (a window of 0 s): which of two findings of one key comes first depends on the
    // workers, and each must be alerted on its own here.
    std::fs::write(
        &config,
        format!(
            r#"
[alerts]
fold_window = "0s"
retry_base = "1s"

[[alerts.destination]]
kind = "file"
name = "jsonl"
path = "{}"

[[alerts.destination]]
kind = "webhook"
name = "hook"
url = "{}"
secret_env = "TG_TEST_SERVE_HOOK_SECRET"
"#,
            file.display(),
            receiver.url
        ),
    )
    .unwrap();

    // A mute of every CT008 finding, and one that has expired (the CLI refuses a past expiry, so the
    // row is written as an older run would have left it).
    let trailguard = env!("CARGO_BIN_EXE_trailguard");
    let added = Command::new(trailguard)
        .args(["mute", "add", "--store", db.url(), "--rule", "CT008"])
        .args(["--reason", "accepted in review", "--expires", "2099-01-01"])
        .output()
        .unwrap();
    assert!(added.status.success(), "{added:?}");
    db.sql(
        "INSERT INTO mutes (id, rule, reason, expires_at, created_by, created_at)
         VALUES ('mute-old', 'CT999', 'a past review', '2020-01-01T00:00:00Z', 'ci', '2019-12-01T00:00:00Z')",
    );

    let port = free_port();
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(trailguard)
        .args(["serve", "--queue", &queue, "--store", db.url()])
        .args(["--workers", "2", "--endpoint-url", &moto().endpoint()])
        .args(["--listen", &port.to_string(), "--config"])
        .arg(&config)
        .envs(moto().env())
        .env("TG_TEST_SERVE_HOOK_SECRET", "s3cret")
        .stderr(log.reopen().unwrap())
        .spawn()
        .unwrap();
    let stderr = || std::fs::read_to_string(log.path()).unwrap_or_default();
    let wait = |what: &str, done: &dyn Fn() -> bool| {
        let start = Instant::now();
        while !done() {
            assert!(
                start.elapsed() < Duration::from_secs(300),
                "{what}: {}",
                stderr()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    wait("objects committed", &|| {
        db.sql("SELECT COUNT(*) FROM processed_objects") == objects
    });
    // Muted findings are recorded just after their object's commit.
    std::thread::sleep(Duration::from_secs(2));
    // Every object is in: what must be alerted is what the store holds, less the muted.
    let stored: BTreeMap<String, String> = db
        .sql("SELECT id || ' ' || rule_id FROM findings")
        .lines()
        .map(|l| {
            let (id, rule) = l.split_once(' ').unwrap();
            (id.to_owned(), rule.to_owned())
        })
        .collect();
    let muted: BTreeSet<String> = db
        .sql("SELECT finding_id FROM finding_mutes")
        .lines()
        .map(str::to_owned)
        .collect();
    let ct008: BTreeSet<String> = stored
        .iter()
        .filter(|(_, rule)| *rule == "CT008")
        .map(|(id, _)| id.clone())
        .collect();
    assert!(!ct008.is_empty(), "the samples have CT008 findings");
    assert_eq!(muted, ct008, "every CT008 finding is recorded muted");
    let expected: BTreeSet<String> = stored
        .keys()
        .filter(|id| !muted.contains(*id))
        .cloned()
        .collect();
    assert!(expected.len() > 10, "{expected:?}");

    // The file destination has them all, once each; the webhook has refused at least one.
    let alert_ids = |text: &str| -> Vec<String> {
        text.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|v| v["kind"] == "alert")
            .map(|v| v["message"]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    wait("the file has every alert", &|| {
        alert_ids(&std::fs::read_to_string(&file).unwrap_or_default()).len() >= expected.len()
    });
    wait("the webhook refused", &|| {
        receiver.refused.load(Ordering::SeqCst) > 0
    });
    let metrics = get(&format!("http://127.0.0.1:{port}/metrics"));
    assert!(
        metrics.lines().any(|l| l.starts_with(
            "trailguard_alert_deliveries_total{destination=\"hook\",outcome=\"failed\"} "
        )),
        "{metrics}"
    );
    assert!(
        !metrics.contains("trailguard_alert_outbox_pending 0\n"),
        "{metrics}"
    );

    // The receiver recovers: everything that waited is delivered, once.
    receiver.down.store(false, Ordering::SeqCst);
    let file_now: BTreeSet<String> = alert_ids(&std::fs::read_to_string(&file).unwrap())
        .into_iter()
        .collect();
    wait("the webhook has every alert", &|| {
        let accepted = receiver.accepted.lock().unwrap();
        let ids: BTreeSet<String> = accepted
            .iter()
            .filter_map(|(_, body)| serde_json::from_str::<serde_json::Value>(body).ok())
            .filter_map(|v| v["id"].as_str().map(str::to_owned))
            .collect();
        ids.is_superset(&file_now) && accepted.iter().any(|(_, b)| b.contains("\"CT055\""))
    });
    // A moment more for a duplicate to show, had there been one.
    std::thread::sleep(Duration::from_secs(3));
    let metrics = get(&format!("http://127.0.0.1:{port}/metrics"));
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert_eq!(child.wait().unwrap().code(), Some(0), "{}", stderr());
    let err = stderr();

    // Each alerted once; a sequence finding replaced by a fuller one may have been alerted too (its
    // replacement folds into it).
    let in_file = alert_ids(&std::fs::read_to_string(&file).unwrap());
    let file_set: BTreeSet<String> = in_file.iter().cloned().collect();
    assert_eq!(
        in_file.len(),
        file_set.len(),
        "no finding twice in the file"
    );
    assert!(file_set.is_superset(&expected));
    let extra: BTreeSet<&String> = file_set.difference(&expected).collect();
    let rules: BTreeMap<String, String> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["kind"] == "alert")
        .map(|v| {
            let rule = v["message"]["rule_id"].as_str().unwrap().to_owned();
            (v["message"]["id"].as_str().unwrap().to_owned(), rule)
        })
        .collect();
    let sequences = sequence_rules();
    assert!(
        extra
            .iter()
            .all(|id| !stored.contains_key(*id) && sequences.contains(&rules[*id].as_str())),
        "only sequence findings no longer stored: {extra:?}"
    );
    let accepted = receiver.accepted.lock().unwrap().clone();
    let hook_ids: Vec<String> = accepted
        .iter()
        .filter_map(|(_, body)| serde_json::from_str::<serde_json::Value>(body).ok())
        .filter_map(|v| v["id"].as_str().map(str::to_owned))
        .collect();
    let hook_set: BTreeSet<String> = hook_ids.iter().cloned().collect();
    assert_eq!(
        hook_ids.len(),
        hook_set.len(),
        "no finding twice at the webhook"
    );
    assert_eq!(
        hook_set, file_set,
        "both destinations got the same findings"
    );
    let deliveries: BTreeSet<&String> = accepted.iter().map(|(d, _)| d).collect();
    assert_eq!(deliveries.len(), accepted.len(), "one delivery id each");

    // The expired mute: one CT055 finding, stored, one line on stderr and one alert at each
    // destination, for both workers.
    assert_eq!(
        err.matches("mute EXPIRED").count(),
        1,
        "reported once: {err}"
    );
    assert!(err.contains("mute-old"), "{err}");
    assert_eq!(
        db.sql("SELECT id || ' ' || resource_id FROM findings WHERE rule_id = 'CT055'")
            .lines()
            .count(),
        1
    );
    let expiry = db.sql("SELECT id FROM findings WHERE rule_id = 'CT055'");
    assert_eq!(rules.get(expiry.trim()).map(String::as_str), Some("CT055"));
    assert_eq!(
        hook_ids.iter().filter(|id| **id == expiry.trim()).count(),
        1
    );
    // The failures were reported, one line per destination and round, and counted.
    assert!(
        err.lines()
            .any(|l| l.starts_with("warning: alerts to hook: ") && l.contains("HTTP 500")),
        "{err}"
    );
    assert!(
        !err.contains("s3cret") && !err.contains(&receiver.url),
        "{err}"
    );
    assert!(
        metrics.contains("trailguard_alert_outbox_pending 0\n"),
        "{metrics}"
    );
    let sent = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix(
                "trailguard_alert_deliveries_total{destination=\"hook\",outcome=\"sent\"} ",
            )
        })
        .unwrap_or("0");
    assert_eq!(sent, file_set.len().to_string(), "{metrics}");
    let muted_total: usize = metrics
        .lines()
        .find_map(|l| l.strip_prefix("trailguard_findings_muted_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(muted_total >= ct008.len(), "{metrics}");
}

/// `serve --drain` on an empty queue, started: it only reads the mutes, raises what expired and sends
/// what is due before it ends.
fn serve_once(queue: &str, db: &str, config: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(["serve", "--queue", queue, "--store", db, "--drain"])
        .args(["--workers", "2", "--endpoint-url", &moto().endpoint()])
        .arg("--config")
        .arg(config)
        .envs(moto().env())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Its stderr, once it exited 0.
fn finished(child: std::process::Child) -> String {
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{err}");
    err
}

#[test]
fn each_mute_expiry_is_one_stored_finding_and_one_alert_across_processes_and_restarts() {
    let db = trailguard_testkit::postgres().fresh_database();
    let dir = tempfile::tempdir().unwrap();
    let queue = moto()
        .python(
            r#"
import boto3
print(boto3.client("sqs").create_queue(QueueName="tg-mute-expiries")["QueueUrl"])
"#,
        )
        .trim()
        .to_owned();
    let file = dir.path().join("alerts.jsonl");
    let config = dir.path().join("trailguard.toml");
    // The default fold window (1 h): two expiries within it are still two alerts.
    std::fs::write(
        &config,
        format!(
            "[[alerts.destination]]\nkind = \"file\"\nname = \"jsonl\"\npath = \"{}\"\n",
            file.display()
        ),
    )
    .unwrap();
    // Two expired mutes, one whose expiry an earlier run already reported, and one still active.
    // The CLI refuses a past expiry, so the rows are written as an older run would have left them.
    let trailguard = env!("CARGO_BIN_EXE_trailguard");
    let added = Command::new(trailguard)
        .args(["mute", "add", "--store", db.url(), "--rule", "CT008"])
        .args(["--reason", "accepted in review", "--expires", "2099-01-01"])
        .output()
        .unwrap();
    assert!(added.status.success(), "{added:?}");
    db.sql(
        "INSERT INTO mutes (id, rule, account, reason, expires_at, created_by, created_at)
         VALUES ('mute-a', 'CT006', '111122223333', 'IaC manages aliases', '2020-01-01T00:00:00.000Z', 'ci', '2019-12-01T00:00:00.000Z'),
                ('mute-b', 'CT999', NULL, 'a past review', '2020-02-01T00:00:00.000Z', 'ci', '2019-12-01T00:00:00.000Z')",
    );
    db.sql(
        "INSERT INTO mutes (id, rule, reason, expires_at, created_by, created_at, expiry_reported_at)
         VALUES ('mute-done', 'CT007', 'reported long ago', '2020-03-01T00:00:00.000Z', 'ci', '2019-12-01T00:00:00.000Z', '2020-03-01T00:00:30.000Z')",
    );

    let alerts = || -> Vec<serde_json::Value> {
        std::fs::read_to_string(&file)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .collect()
    };
    let stored = || -> BTreeMap<String, String> {
        db.sql("SELECT id || ' ' || resource_id FROM findings WHERE rule_id = 'CT055'")
            .lines()
            .map(|l| {
                let (id, mute) = l.split_once(' ').unwrap();
                (id.to_owned(), mute.to_owned())
            })
            .collect()
    };

    // Two processes of two workers each, at once, on one store.
    let (first, second) = (
        serve_once(&queue, db.url(), &config),
        serve_once(&queue, db.url(), &config),
    );
    let err = format!("{}{}", finished(first), finished(second));
    let findings = stored();
    assert_eq!(
        findings.values().cloned().collect::<BTreeSet<_>>(),
        BTreeSet::from(["mute-a", "mute-b"].map(String::from)),
        "one finding per unreported expiry: {err}"
    );
    let sent = alerts();
    assert_eq!(sent.len(), 2, "{sent:#?}\n{err}");
    for alert in &sent {
        assert_eq!(alert["kind"], "alert");
        let finding = &alert["message"];
        assert_eq!(finding["rule_id"], "CT055");
        assert_eq!(finding["severity"], "medium");
        assert!(findings.contains_key(finding["id"].as_str().unwrap()));
    }
    let to_a = sent
        .iter()
        .find(|a| a["message"]["resource"]["id"] == "mute-a")
        .unwrap();
    assert_eq!(to_a["message"]["account"], "111122223333");
    assert!(
        to_a["message"]["message"]
            .as_str()
            .unwrap()
            .contains("IaC manages aliases"),
        "{to_a:#}"
    );
    assert_eq!(err.matches("mute EXPIRED").count(), 2, "{err}");
    assert!(!err.contains("mute-done"), "{err}");
    // The process that lost the race counted no repeat either: no digest will follow.
    assert_eq!(
        db.sql("SELECT COALESCE(SUM(repeats), 0) FROM alert_folds"),
        "0"
    );
    assert_eq!(
        db.sql(
            "SELECT COUNT(*) FROM mutes WHERE expiry_reported_at IS NULL AND expires_at < '2021'"
        ),
        "0"
    );

    // A restart raises nothing again.
    let err = finished(serve_once(&queue, db.url(), &config));
    assert_eq!(stored(), findings, "{err}");
    assert_eq!(alerts().len(), 2, "{err}");
    assert!(!err.contains("mute EXPIRED"), "{err}");

    // Renewed and expired again (as `mute add` leaves it: a new expiry, the mark cleared): a new
    // finding of its own, and one alert.
    db.sql("UPDATE mutes SET expires_at = '2021-01-01T00:00:00.000Z', expiry_reported_at = NULL WHERE id = 'mute-a'");
    let err = finished(serve_once(&queue, db.url(), &config));
    let after = stored();
    assert_eq!(after.len(), 3, "{err}");
    assert_eq!(after.values().filter(|m| *m == "mute-a").count(), 2);
    assert_eq!(alerts().len(), 3, "{err}");
    assert_eq!(err.matches("mute EXPIRED").count(), 1, "{err}");
}
