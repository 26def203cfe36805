//! End-to-end: `trailguard serve` against one moto server shared by this test binary (S3 and SQS), with
//! the bucket notifications configured through the API so moto itself delivers the S3 events (and its
//! `s3:TestEvent`) to the queue.
//!
//! The objects are made from `../shared/data/cloudtrail` (the Invictus IR trail and the Stratus Red Team
//! detonation logs), cut into CloudTrail-sized files of at most 25 records, gzipped and named as
//! CloudTrail names them. What the store must hold is exactly what `trailguard scan` finds in the same
//! files scanned together: sequence and burst rules are evaluated over the observations of every object,
//! whichever worker took it and in whatever order (DESIGN.md, "Service flow").

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use trailguard_rules::Finding;
use trailguard_testkit::MotoServer;

fn moto() -> &'static MotoServer {
    MotoServer::shared()
}

/// boto3 helpers against the shared moto server: `python(&["cmd", args...])`.
const HELPERS: &str = r#"
import gzip, json, os, sys, boto3
s3 = boto3.client("s3")
sqs = boto3.client("sqs")
cmd, args = sys.argv[1], sys.argv[2:]

def queue(name, visibility, max_receives):
    dlq = sqs.create_queue(QueueName=name + "-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName=name, Attributes={
        "VisibilityTimeout": str(visibility),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receives)}),
    })["QueueUrl"]
    return url, dlq

if cmd == "make-objects":
    # Every record file of the shared data, cut into files of at most 20 records.
    data, out = args
    sources = []
    for sub in ("invictus-ir/CloudTrail", "stratus-red-team/docs/detonation-logs"):
        folder = os.path.join(data, "cloudtrail", sub)
        sources += [os.path.join(folder, n) for n in sorted(os.listdir(folder)) if n.endswith(".json")]
    count = 0
    for path in sources:
        doc = json.load(open(path))
        records = doc["Records"] if isinstance(doc, dict) else doc
        for start in range(0, len(records), 20):
            chunk = records[start:start + 20]
            first = chunk[0]
            account = first.get("recipientAccountId") or first.get("userIdentity", {}).get("accountId") or "111122223333"
            region = first.get("awsRegion", "us-east-1")
            day = first.get("eventTime", "2024-01-01")[:10].replace("-", "/")
            key = "AWSLogs/%s/CloudTrail/%s/%s/%s_CloudTrail_%s_%04d.json.gz" % (account, region, day, account, region, count)
            target = os.path.join(out, key)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as f:
                f.write(gzip.compress(json.dumps({"Records": chunk}).encode()))
            count += 1
    print(count)
elif cmd == "queue":
    name, visibility, max_receives = args
    print(json.dumps(queue(name, int(visibility), int(max_receives))))
elif cmd == "bucket":
    # A bucket whose object creations moto announces on the queue.
    bucket, queue_url = args
    s3.create_bucket(Bucket=bucket)
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
elif cmd == "upload":
    root, bucket = args
    for dirpath, _, files in os.walk(root):
        for name in sorted(files):
            path = os.path.join(dirpath, name)
            s3.upload_file(path, bucket, os.path.relpath(path, root))
elif cmd == "notify-twice":
    # A bucket without notifications: every object announced twice, once as an S3 event and once as
    # CloudTrail's own SNS notification wrapped by SNS (raw delivery off).
    root, bucket, queue_url = args
    s3.create_bucket(Bucket=bucket)
    for dirpath, _, files in os.walk(root):
        for name in sorted(files):
            path = os.path.join(dirpath, name)
            key = os.path.relpath(path, root)
            s3.upload_file(path, bucket, key)
            head = s3.head_object(Bucket=bucket, Key=key)
            event = {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
                "eventTime": "2024-03-01T10:05:31.123Z", "eventName": "ObjectCreated:Put",
                "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket, "arn": "arn:aws:s3:::" + bucket},
                       "object": {"key": key, "size": head["ContentLength"], "eTag": head["ETag"].strip('"')}}}]}
            trail = {"Type": "Notification", "MessageId": "m-" + name, "TopicArn": "arn:aws:sns:us-east-1:123456789012:trail",
                     "Message": json.dumps({"s3Bucket": bucket, "s3ObjectKey": [key]})}
            for body in (event, trail):
                sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(body))
elif cmd == "send":
    queue_url, body = args
    sqs.send_message(QueueUrl=queue_url, MessageBody=body)
elif cmd == "put":
    bucket, key, hex_body = args
    s3.put_object(Bucket=bucket, Key=key, Body=bytes.fromhex(hex_body))
elif cmd == "plain-bucket":
    # A bucket without notifications, holding the files: history for `backfill`.
    root, bucket = args
    s3.create_bucket(Bucket=bucket)
    for dirpath, _, files in os.walk(root):
        for name in sorted(files):
            path = os.path.join(dirpath, name)
            s3.upload_file(path, bucket, os.path.relpath(path, root))
elif cmd == "split-sequences":
    # Seven failed sign-ins of one user (a burst: five within ten minutes) and a user created, keyed and
    # made admin by one principal, dealt round-robin into three files, so no file holds a whole one.
    out = args[0]
    account, region = "444455556666", "eu-west-1"
    def record(n, source, name, identity, request=None, response=None, ip="198.51.100.9"):
        return {"eventVersion": "1.08", "userIdentity": identity, "eventTime": "2024-05-02T10:%02d:00Z" % n,
                "eventSource": source, "eventName": name, "awsRegion": region, "sourceIPAddress": ip,
                "userAgent": "Mozilla/5.0", "requestParameters": request, "responseElements": response,
                "eventID": "split-%02d" % n, "eventType": "AwsApiCall" if source != "signin.amazonaws.com" else "AwsConsoleSignIn",
                "recipientAccountId": account, "readOnly": False, "managementEvent": True}
    victim = {"type": "IAMUser", "principalId": "AIDAVICTIM", "arn": "arn:aws:iam::%s:user/carol" % account,
              "accountId": account, "userName": "carol"}
    admin = {"type": "IAMUser", "principalId": "AIDAMALLORY", "arn": "arn:aws:iam::%s:user/mallory" % account,
             "accountId": account, "userName": "mallory", "accessKeyId": "AKIAMALLORY"}
    records = [record(n, "signin.amazonaws.com", "ConsoleLogin", victim, response={"ConsoleLogin": "Failure"})
               for n in range(7)]
    records += [
        record(20, "iam.amazonaws.com", "CreateUser", admin, {"userName": "backdoor"}),
        record(21, "iam.amazonaws.com", "CreateAccessKey", admin, {"userName": "backdoor"},
               {"accessKey": {"accessKeyId": "AKIABACKDOOR", "status": "Active", "userName": "backdoor"}}),
        record(22, "iam.amazonaws.com", "AttachUserPolicy", admin,
               {"userName": "backdoor", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
    ]
    for part in range(3):
        key = "AWSLogs/%s/CloudTrail/%s/2024/05/02/%s_CloudTrail_%s_split%d.json.gz" % (account, region, account, region, part)
        target = os.path.join(out, key)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
            f.write(gzip.compress(json.dumps({"Records": records[part::3]}).encode()))
elif cmd == "upload-one":
    root, bucket, path = args
    s3.upload_file(path, bucket, os.path.relpath(path, root))
elif cmd == "newest":
    # The newest eventTime of a gzipped log file.
    print(max(r["eventTime"] for r in json.load(gzip.open(args[0]))["Records"]))
elif cmd == "count":
    url = args[0]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    print(int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"]))
"#;

fn python(args: &[&str]) -> String {
    let out = Command::new(trailguard_testkit::python())
        .arg("-c")
        .arg(HELPERS)
        .args(args)
        .envs(moto().env())
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The objects, made once per test binary, and the findings `trailguard scan` gives on them.
struct Objects {
    dir: PathBuf,
    count: usize,
    /// What `trailguard scan` finds in all the objects together, and each finding's rule.
    whole: BTreeMap<String, String>,
    /// The findings of sequence rules that `scan` of each object on its own does not give: events of
    /// one sequence in different objects.
    across_objects: usize,
}

/// The stateful rules (`SequenceRule`s): bursts and sequences.
/// The codes of every registered sequence rule (the registry is the one list of them).
fn sequence_rules() -> Vec<&'static str> {
    trailguard_rules::rules::cloudtrail::sequences()
        .iter()
        .map(|rule| rule.meta().code)
        .collect()
}

struct Quiet;
impl trailguard_event::Observer for Quiet {}

/// The finding ids of one file scanned on its own, in process by the flow `trailguard scan` runs.
fn object_ids(file: &Path) -> Vec<String> {
    let engine = trailguard_rules::engine::Engine::builtin();
    let mut ids = Vec::new();
    trailguard_rules::engine::scan_findings(
        &engine,
        None,
        vec![Box::new(trailguard_event::source::FileSource::new(file))],
        &trailguard_event::Filter::default(),
        1,
        &Quiet,
        |finding| ids.push(finding.id),
    )
    .unwrap();
    ids
}

fn objects() -> &'static Objects {
    static OBJECTS: OnceLock<Objects> = OnceLock::new();
    OBJECTS.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("trailguard-serve-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let data = trailguard_testkit::shared_data();
        let count: usize = python(&[
            "make-objects",
            data.to_str().unwrap(),
            dir.to_str().unwrap(),
        ])
        .parse()
        .unwrap();
        let files = walk(&dir);
        let one_by_one: BTreeSet<String> = files.iter().flat_map(|f| object_ids(f)).collect();
        let whole = scan_ids(&[dir.as_path()]);
        let sequences = sequence_rules();
        let across_objects = whole
            .iter()
            .filter(|(id, _)| !one_by_one.contains(*id))
            .inspect(|(_, rule)| assert!(sequences.contains(&rule.as_str()), "{rule}"))
            .count();
        Objects {
            dir,
            count,
            whole,
            across_objects,
        }
    })
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// `trailguard scan --format json` on the paths: the finding ids and their rules.
fn scan_ids(paths: &[&Path]) -> BTreeMap<String, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .arg("scan")
        .args(paths)
        .args(["--format", "json", "--fail-on", "never", "--quiet"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let finding = serde_json::from_str::<Finding>(l).unwrap();
            (finding.id, finding.rule_id)
        })
        .collect()
}

fn queue(name: &str, visibility: u32, max_receives: u32) -> (String, String) {
    let urls: Vec<String> = serde_json::from_str(&python(&[
        "queue",
        name,
        &visibility.to_string(),
        &max_receives.to_string(),
    ]))
    .unwrap();
    (urls[0].clone(), urls[1].clone())
}

fn serve(queue: &str, store: impl AsRef<std::ffi::OsStr>, extra: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(["serve", "--queue", queue, "--store"])
        .arg(store)
        .args(["--endpoint-url", &moto().endpoint()])
        .args(extra)
        .envs(moto().env())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The store's finding ids, its processed-object count, and the largest `times_seen`.
fn stored(store: &Path) -> (Vec<String>, u64, i64) {
    let conn = rusqlite::Connection::open(store).unwrap();
    let mut statement = conn.prepare("SELECT id FROM findings ORDER BY id").unwrap();
    let ids = statement
        .query_map([], |row| row.get::<_, String>(0))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let objects: i64 = conn
        .query_row("SELECT COUNT(*) FROM processed_objects", [], |r| r.get(0))
        .unwrap();
    let times: i64 = conn
        .query_row(
            "SELECT COALESCE(MAX(times_seen), 0) FROM findings",
            [],
            |r| r.get(0),
        )
        .unwrap();
    (ids, objects as u64, times)
}

/// A count from serve's summary line ("served run 1: 231 messages (…); 220 objects committed, 9 already
/// processed, …; skipped: 1 test event"): the number written just before `label`.
fn summary_count(err: &str, label: &str) -> usize {
    let line = err
        .lines()
        .find(|line| line.starts_with("served run"))
        .unwrap_or_else(|| panic!("no summary: {err}"));
    line.find(&format!(" {label}"))
        .and_then(|at| line[..at].rsplit([' ', '(']).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count of {label:?} in the summary: {err}"))
}

#[test]
fn summary_counts_read_a_run_with_redeliveries() {
    // The summary of a CI run where SQS redelivered nine objects and the test event.
    let err = "serving http://127.0.0.1:1/123456789012/q with 3 workers until the queues are empty\n\
               served run 1: 231 messages (231 deleted, 0 left on the queue, 0 unrecognised); 220 objects \
               committed, 9 already processed, 0 failed; 3210 records, 235 findings; skipped: 2 test event\n";
    assert_eq!(summary_count(err, "messages"), 231);
    assert_eq!(summary_count(err, "deleted"), 231);
    assert_eq!(summary_count(err, "objects committed"), 220);
    assert_eq!(already_processed(err), 9);
    assert_eq!(summary_count(err, "test event"), 2);
}

/// The number of objects found already processed, from serve's summary line.
fn already_processed(err: &str) -> usize {
    summary_count(err, "already processed")
}

fn assert_holds_what_scan_finds(ids: &[String], processed: u64, times_seen: i64) {
    let objects = objects();
    let distinct: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(distinct.len(), ids.len(), "no duplicate rows");
    let whole: BTreeSet<String> = objects.whole.keys().cloned().collect();
    assert!(!whole.is_empty());
    assert_eq!(distinct, whole, "the store holds what scan finds");
    assert_eq!(processed, objects.count as u64, "every object once");
    assert_eq!(times_seen, 1, "each finding saved once");
}

#[test]
fn three_workers_store_exactly_what_scan_finds() {
    let objects = objects();
    assert!(objects.count >= 200, "{} objects", objects.count);
    assert!(
        objects.across_objects > 0,
        "the data has sequences whose events sit in different objects"
    );
    let (url, dlq) = queue("serve-three-workers", 30, 3);
    python(&["bucket", "serve-three-workers", &url]);
    python(&[
        "upload",
        objects.dir.to_str().unwrap(),
        "serve-three-workers",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("tg.db");
    let (code, err) = serve(&url, &store, &["--workers", "3", "--drain"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("error:"), "{err}");
    // SQS delivers at least once: under load a message (the test event too) can come twice, and the
    // second delivery of an object is found already processed. Every message is accounted for.
    let test_events = summary_count(&err, "test event");
    assert!(test_events >= 1, "moto's s3:TestEvent is counted: {err}");
    assert_eq!(
        summary_count(&err, "messages"),
        summary_count(&err, "objects committed") + already_processed(&err) + test_events,
        "each message is one object committed, one already processed or the test event: {err}"
    );
    assert_eq!(
        summary_count(&err, "objects committed"),
        objects.count,
        "{err}"
    );
    let (ids, processed, times_seen) = stored(&store);
    assert_holds_what_scan_finds(&ids, processed, times_seen);
    assert_eq!(python(&["count", &url]), "0");
    assert_eq!(python(&["count", &dlq]), "0");
}

#[test]
fn every_notification_twice_changes_nothing() {
    let objects = objects();
    let (url, _) = queue("serve-twice", 30, 3);
    python(&[
        "notify-twice",
        objects.dir.to_str().unwrap(),
        "serve-twice",
        &url,
    ]);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("tg.db");
    let (code, err) = serve(&url, &store, &["--workers", "3", "--drain"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("error:"), "{err}");
    // Every second notification is a no-op (SQS may redeliver a few more under load).
    assert!(already_processed(&err) >= objects.count, "{err}");
    let (ids, processed, times_seen) = stored(&store);
    assert_holds_what_scan_finds(&ids, processed, times_seen);
    assert_eq!(python(&["count", &url]), "0");
}

#[test]
fn a_corrupt_object_and_a_missing_one_go_to_the_dead_letter_queue() {
    let objects = objects();
    let (url, dlq) = queue("serve-bad", 2, 2);
    python(&["bucket", "serve-bad", &url]);
    // Three good objects, a gzip stream cut short, and a notification for an object that is not there.
    let good: Vec<PathBuf> = walk(&objects.dir).into_iter().take(3).collect();
    let staging = tempfile::tempdir().unwrap();
    for file in &good {
        let key = file.strip_prefix(&objects.dir).unwrap();
        let target = staging.path().join(key);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(file, &target).unwrap();
    }
    python(&["upload", staging.path().to_str().unwrap(), "serve-bad"]);
    let whole = std::fs::read(&good[0]).unwrap();
    let cut = hex::encode(&whole[..whole.len() / 2]);
    let corrupt = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/01/corrupt.json.gz";
    python(&["put", "serve-bad", corrupt, &cut]);
    let missing = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/01/missing.json.gz";
    let notification = serde_json::json!({"s3Bucket": "serve-bad", "s3ObjectKey": [missing]});
    python(&["send", &url, &notification.to_string()]);
    python(&["send", &url, r#"{"hello": "world"}"#]);

    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("tg.db");
    let (code, err) = serve(&url, &store, &["--workers", "2", "--drain"]);
    assert_eq!(code, Some(0), "{err}");
    let lines =
        |needle: &str| -> Vec<&str> { err.lines().filter(|l| l.contains(needle)).collect() };
    let corrupt_lines = lines("corrupt.json.gz");
    assert_eq!(corrupt_lines.len(), 2, "once per delivery: {err}");
    assert!(
        corrupt_lines[0].starts_with("error: s3://serve-bad/"),
        "{err}"
    );
    assert_eq!(
        corrupt_lines[0].matches("corrupt.json.gz").count(),
        1,
        "named once: {err}"
    );
    assert!(corrupt_lines[0].contains("gzip"), "{err}");
    assert!(
        corrupt_lines.iter().any(|l| l.contains("receive count 2")),
        "{err}"
    );
    let missing_lines = lines("missing.json.gz");
    assert_eq!(missing_lines.len(), 2, "{err}");
    assert!(
        missing_lines[0].contains("GetObject failed: NoSuchKey"),
        "{err}"
    );
    let unknown = lines("not a notification trailguard understands");
    assert_eq!(unknown.len(), 2, "{err}");
    assert!(unknown[0].contains("`hello`"), "{err}");
    let (ids, processed, _) = stored(&store);
    assert_eq!(processed, 3, "every good object processed: {err}");
    let expected: BTreeSet<String> = scan_ids(&[staging.path()]).into_keys().collect();
    assert_eq!(ids.into_iter().collect::<BTreeSet<_>>(), expected);
    assert_eq!(python(&["count", &url]), "0");
    assert_eq!(
        python(&["count", &dlq]),
        "3",
        "moved after the redrive limit"
    );
}

/// A request to the listener: the status line and the body.
fn get(addr: &str, path: &str) -> (String, String) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

#[test]
fn sigterm_stops_a_waiting_worker_and_the_listener_reports() {
    let (url, _) = queue("serve-sigterm", 30, 3);
    let eventbridge = r#"{"version":"0","id":"0d1e2f3a-0000-4000-8000-00000000fa57","detail-type":"AWS API Call via CloudTrail","source":"aws.iam","account":"111122223333","time":"2024-03-01T10:00:00Z","region":"us-east-1","resources":[],"detail":{"eventVersion":"1.08","userIdentity":{"type":"Root","principalId":"111122223333","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333"},"eventTime":"2024-03-01T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":"CreateAccessKey","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.7","userAgent":"aws-cli/2.15.0","requestParameters":{},"responseElements":{"accessKey":{"accessKeyId":"AKIAIOSFODNN7EXAMPLE","status":"Active","userName":"root"}},"requestID":"1a2b3c4d","eventID":"8f7e6d5c-0000-4000-8000-000000000001","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}}"#;
    python(&["send", &url, eventbridge]);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("tg.db");
    let mut child = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(["serve", "--queue", &url, "--store", store.to_str().unwrap()])
        .args([
            "--endpoint-url",
            &moto().endpoint(),
            "--listen",
            "127.0.0.1:0",
        ])
        .envs(moto().env())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("{line}"))
        .to_owned();
    let (status, body) = get(&addr, "/healthz");
    assert!(status.contains("200"), "{status}");
    assert_eq!(body, "ok\n");
    // The fast lane: the inline event is committed without any S3 object.
    let start = Instant::now();
    let body = loop {
        let (_, body) = get(&addr, "/metrics");
        if body.contains("trailguard_records_inline_total 1")
            && body.contains("trailguard_messages_deleted_total 1")
        {
            break body;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{body}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        body.lines()
            .any(|l| l.starts_with("trailguard_findings_total{") && !l.ends_with(" 0")),
        "root's access key is a finding: {body}"
    );
    assert!(
        body.contains("trailguard_object_processing_seconds_count 1"),
        "{body}"
    );
    assert!(get(&addr, "/nope").0.contains("404"));

    // The worker is now in a 20-second long poll: SIGTERM ends it at once, with exit code 0.
    let sent = Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(
        sent.elapsed() < Duration::from_secs(10),
        "{:?}",
        sent.elapsed()
    );
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(
        rest.contains("1 objects committed") || rest.contains("1 messages"),
        "{rest}"
    );
    let (ids, processed, _) = stored(&store);
    assert_eq!(processed, 1);
    assert!(!ids.is_empty(), "{rest}");
}

/// The store's delivery health: (account, region, newest event time) per pair.
fn deliveries(store: &Path) -> BTreeSet<(String, String, String)> {
    let conn = rusqlite::Connection::open(store).unwrap();
    let mut statement = conn
        .prepare("SELECT account, region, newest_event_at FROM delivery_health")
        .unwrap();
    statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn rule_count(store: &Path, rule: &str) -> i64 {
    let conn = rusqlite::Connection::open(store).unwrap();
    conn.query_row(
        "SELECT COUNT(*) FROM findings WHERE rule_id = ?1",
        [rule],
        |r| r.get(0),
    )
    .unwrap()
}

#[test]
fn a_pair_that_stops_delivering_raises_ct051_once() {
    let objects = objects();
    // One file of each of three account and region pairs.
    let mut picked: BTreeMap<(String, String), PathBuf> = BTreeMap::new();
    for file in walk(&objects.dir) {
        let key = file
            .strip_prefix(&objects.dir)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let parts: Vec<&str> = key.split('/').collect();
        picked
            .entry((parts[1].to_owned(), parts[3].to_owned()))
            .or_insert(file);
    }
    let picked: Vec<_> = picked.into_iter().take(3).collect();
    assert!(picked.len() >= 2, "{picked:?}");
    let staging = tempfile::tempdir().unwrap();
    let mut expected = BTreeSet::new();
    for ((account, region), file) in &picked {
        let target = staging
            .path()
            .join(file.strip_prefix(&objects.dir).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(file, &target).unwrap();
        let newest = python(&["newest", file.to_str().unwrap()]);
        expected.insert((account.clone(), region.clone(), newest));
    }
    let (url, _) = queue("serve-silence", 30, 3);
    python(&["bucket", "serve-silence", &url]);
    python(&["upload", staging.path().to_str().unwrap(), "serve-silence"]);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("tg.db");

    let (code, err) = serve(&url, &store, &["--drain"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(deliveries(&store), expected, "{err}");
    assert_eq!(
        rule_count(&store, "CT051"),
        0,
        "delivering within the hour: {err}"
    );

    // Nothing arrives for longer than the silence allowed: one finding per pair, on stderr too.
    std::thread::sleep(Duration::from_secs(3));
    let (code, err) = serve(&url, &store, &["--drain", "--silence-after", "2s"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(rule_count(&store, "CT051"), picked.len() as i64, "{err}");
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("CT051 high:"))
        .collect();
    assert_eq!(lines.len(), picked.len(), "{err}");
    let ((account, region), _) = &picked[0];
    assert!(
        lines[0].contains(account) && lines[0].contains(region) && lines[0].contains("2s"),
        "{err}"
    );
    // Raised again by another process for the same silence: the same findings.
    let (code, err) = serve(&url, &store, &["--drain", "--silence-after", "1s"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(rule_count(&store, "CT051"), picked.len() as i64, "{err}");
}

/// `trailguard backfill` with these arguments against the shared moto server.
fn backfill(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .arg("backfill")
        .args(args)
        .args(["--endpoint-url", &moto().endpoint()])
        .envs(moto().env())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// What a PostgreSQL store holds, as [`stored`] reads a SQLite one.
fn stored_postgres(url: &str) -> (Vec<String>, u64, i64) {
    let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
    let ids = client
        .query("SELECT id FROM findings ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect();
    let objects: i64 = client
        .query_one("SELECT COUNT(*) FROM processed_objects", &[])
        .unwrap()
        .get(0);
    let times: i64 = client
        .query_one("SELECT COALESCE(MAX(times_seen), 0) FROM findings", &[])
        .unwrap()
        .get(0);
    (ids, objects as u64, times)
}

#[test]
fn backfilled_history_by_three_workers_into_postgres_is_what_scan_finds() {
    let objects = objects();
    let (url, dlq) = queue("serve-backfill", 30, 3);
    python(&[
        "plain-bucket",
        objects.dir.to_str().unwrap(),
        "serve-backfill",
    ]);
    // Every file is of a day before 2030 and after 2000.
    let (code, err) = backfill(&[
        "s3://serve-backfill/AWSLogs/",
        "--queue",
        &url,
        "--since",
        "2030-01-01",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("enqueued 0 log files"), "{err}");
    let (code, err) = backfill(&[
        "s3://serve-backfill/AWSLogs/",
        "--queue",
        &url,
        "--until",
        "2000-01-01",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("enqueued 0 log files"), "{err}");
    assert_eq!(python(&["count", &url]), "0");
    let (code, err) = backfill(&[
        "s3://serve-backfill/AWSLogs/",
        "--queue",
        &url,
        "--since",
        "2000-01-01",
        "--until",
        "2030-01-01",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains(&format!("enqueued {} log files", objects.count)),
        "{err}"
    );
    assert_eq!(python(&["count", &url]), objects.count.to_string());

    let db = trailguard_testkit::postgres().fresh_database();
    let (code, err) = serve(&url, db.url(), &["--workers", "3", "--drain"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("error:"), "{err}");
    let (ids, processed, times_seen) = stored_postgres(db.url());
    assert_holds_what_scan_finds(&ids, processed, times_seen);
    assert_eq!(python(&["count", &url]), "0");
    assert_eq!(python(&["count", &dlq]), "0");

    // History enqueued again: every object is a no-op.
    let (code, err) = backfill(&["s3://serve-backfill", "--queue", &url, "--quiet"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.is_empty(), "{err}");
    let (code, err) = serve(&url, db.url(), &["--workers", "3", "--drain"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(already_processed(&err) >= objects.count, "{err}");
    let (again, processed, times_seen) = stored_postgres(db.url());
    assert_eq!(again, ids);
    assert_holds_what_scan_finds(&again, processed, times_seen);
}

#[test]
fn a_burst_and_a_sequence_split_over_objects_and_workers_are_found_as_scan_finds_them() {
    let dir = tempfile::tempdir().unwrap();
    python(&["split-sequences", dir.path().to_str().unwrap()]);
    let files = walk(dir.path());
    assert_eq!(files.len(), 3);
    let whole = scan_ids(&[dir.path()]);
    let rules: BTreeSet<&str> = whole.values().map(String::as_str).collect();
    for rule in ["CT016", "CT020"] {
        assert!(rules.contains(rule), "scan finds {rule}: {whole:?}");
        // No file on its own holds enough of it (CT016 reports a file's few failures at info, under
        // another id: the serve store must end with the whole burst in their place).
        for file in &files {
            let alone = scan_ids(&[file.as_path()]);
            assert!(
                !whole
                    .iter()
                    .any(|(id, r)| r == rule && alone.contains_key(id)),
                "{rule} in {}",
                file.display()
            );
        }
    }
    let (url, _) = queue("serve-split", 30, 3);
    python(&["bucket", "serve-split", &url]);
    let db = tempfile::tempdir().unwrap();
    let store = db.path().join("tg.db");
    // Newest file first, each taken by a worker of its own process: after every object, the store
    // holds exactly what scan finds in the files delivered so far.
    let mut delivered: Vec<&Path> = Vec::new();
    for file in files.iter().rev() {
        python(&[
            "upload-one",
            dir.path().to_str().unwrap(),
            "serve-split",
            file.to_str().unwrap(),
        ]);
        let (code, err) = serve(&url, &store, &["--workers", "1", "--drain"]);
        assert_eq!(code, Some(0), "{err}");
        assert!(!err.contains("error:"), "{err}");
        delivered.push(file);
        let (ids, processed, times_seen) = stored(&store);
        assert_eq!(processed, delivered.len() as u64);
        assert_eq!(times_seen, 1);
        assert_eq!(
            ids.into_iter().collect::<BTreeSet<_>>(),
            scan_ids(&delivered).into_keys().collect::<BTreeSet<_>>(),
            "after {} objects",
            delivered.len()
        );
    }
    let (ids, _, _) = stored(&store);
    assert_eq!(
        ids.into_iter().collect::<BTreeSet<_>>(),
        whole.into_keys().collect::<BTreeSet<_>>()
    );
}

#[test]
fn a_worker_killed_mid_object_loses_and_doubles_nothing() {
    let objects = objects();
    // A short visibility timeout: a dead worker's messages come back within seconds.
    let (url, dlq) = queue("serve-sigkill", 3, 5);
    python(&["bucket", "serve-sigkill", &url]);
    python(&["upload", objects.dir.to_str().unwrap(), "serve-sigkill"]);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("tg.db");
    let mut child = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(["serve", "--queue", &url, "--store", store.to_str().unwrap()])
        .args(["--workers", "1", "--endpoint-url", &moto().endpoint()])
        .envs(moto().env())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Killed once it has committed a few objects: it is working through its messages, almost all of
    // its time inside an object.
    let start = Instant::now();
    loop {
        let committed = rusqlite::Connection::open(&store)
            .and_then(|c| {
                c.query_row("SELECT COUNT(*) FROM processed_objects", [], |r| {
                    r.get::<_, i64>(0)
                })
            })
            .unwrap_or(0);
        if committed >= 5 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(120));
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let (_, before, _) = stored(&store);
    assert!(before < objects.count as u64, "killed before the end");

    let (code, err) = serve(&url, &store, &["--workers", "2", "--drain"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("error:"), "{err}");
    let (ids, processed, times_seen) = stored(&store);
    assert_holds_what_scan_finds(&ids, processed, times_seen);
    assert_eq!(python(&["count", &url]), "0");
    assert_eq!(python(&["count", &dlq]), "0");
}

/// A PostgreSQL cluster of this test's own (`scripts/test-postgres.sh`), since the test stops it; removed
/// when dropped.
struct OwnPostgres {
    url: String,
    dir: String,
    port: String,
}

const PG_SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../scripts/test-postgres.sh"
);

impl OwnPostgres {
    fn start() -> OwnPostgres {
        let out = Command::new("bash")
            .args([
                PG_SCRIPT,
                "start",
                "--watch",
                &std::process::id().to_string(),
                // `pause` crashes this server: it must keep every commit it acknowledged.
                "--durable",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let value = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .unwrap()
                .to_owned()
        };
        let url = value("TRAILGUARD_TEST_PG_URL=");
        let port = url
            .rsplit(':')
            .next()
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .to_owned();
        OwnPostgres {
            dir: value("TRAILGUARD_TEST_PG_DIR="),
            url,
            port,
        }
    }

    fn script(&self, args: &[&str]) {
        let status = Command::new("bash")
            .arg(PG_SCRIPT)
            .args(args)
            .status()
            .unwrap();
        assert!(status.success(), "{args:?}");
    }

    fn processed(&self) -> Option<i64> {
        let mut client = postgres::Client::connect(&self.url, postgres::NoTls).ok()?;
        client
            .query_one("SELECT COUNT(*) FROM processed_objects", &[])
            .ok()
            .map(|r| r.get(0))
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .args([PG_SCRIPT, "stop", &self.dir])
            .status();
    }
}

#[test]
fn the_store_down_for_a_while_loses_nothing() {
    let objects = objects();
    let pg = OwnPostgres::start();
    let (url, dlq) = queue("serve-outage", 2, 50);
    python(&["bucket", "serve-outage", &url]);
    python(&["upload", objects.dir.to_str().unwrap(), "serve-outage"]);
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(["serve", "--queue", &url, "--store", &pg.url])
        .args(["--workers", "2", "--endpoint-url", &moto().endpoint()])
        .envs(moto().env())
        .stderr(log.reopen().unwrap())
        .spawn()
        .unwrap();
    // Generous: the whole suite shares a loaded machine.
    let wait_for = |count: i64, child: &mut std::process::Child| {
        let start = Instant::now();
        let mut last_look = Instant::now();
        loop {
            let done = pg.processed().unwrap_or(0);
            if done >= count {
                break;
            }
            // Nothing left on the queue (in flight included) while objects are missing: they are lost.
            let look = last_look.elapsed() > Duration::from_secs(5);
            if look {
                last_look = Instant::now();
            }
            let drained = look && python(&["count", &url]) == "0";
            if drained || start.elapsed() > Duration::from_secs(900) {
                std::thread::sleep(Duration::from_secs(2));
                let done = pg.processed().unwrap_or(0);
                if done >= count {
                    break;
                }
                let _ = child.kill();
                panic!(
                    "{done} of {count} objects, queue drained: {drained}, after {:?}: {}",
                    start.elapsed(),
                    std::fs::read_to_string(log.path()).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait_for(10, &mut child);
    // The server goes away at once, connections and transactions in flight with it.
    pg.script(&["pause", &pg.dir]);
    std::thread::sleep(Duration::from_secs(4));
    pg.script(&["resume", &pg.dir, &pg.port]);
    wait_for(objects.count as i64, &mut child);
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let err = std::fs::read_to_string(log.path()).unwrap();
    assert!(
        err.lines()
            .any(|l| l.starts_with("error:") && l.contains("the message is left")),
        "the outage was noticed: {err}"
    );
    let (ids, processed, times_seen) = stored_postgres(&pg.url);
    assert_holds_what_scan_finds(&ids, processed, times_seen);
    assert_eq!(python(&["count", &url]), "0", "{err}");
    assert_eq!(python(&["count", &dlq]), "0", "{err}");
}

/// A TCP proxy in front of PostgreSQL that cuts the connection at chosen `COMMIT`s: before the server
/// sees it (the transaction must roll back) or right after handing it over (the server commits and the
/// client never hears so). It matches the simple-query frame the postgres crate sends for a commit.
struct CommitCutter {
    port: u16,
    commits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    cut: std::sync::Arc<std::sync::Mutex<Vec<(usize, CutAt)>>>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum CutAt {
    BeforeServer,
    AfterServer,
}

impl CommitCutter {
    /// Cuts the `n`-th commit (counting from 1) as `plan` says for each `(n, at)`.
    fn start(server_port: u16, plan: &[(usize, CutAt)]) -> CommitCutter {
        use std::net::{Shutdown, TcpListener, TcpStream};
        use std::sync::atomic::Ordering;
        use std::sync::{Arc, Mutex};
        const COMMIT_FRAME: &[u8] = b"Q\0\0\0\x0bCOMMIT\0";
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let commits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let plan: Arc<Vec<(usize, CutAt)>> = Arc::new(plan.to_vec());
        let cut = Arc::new(Mutex::new(Vec::new()));
        let (seen, done) = (commits.clone(), cut.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(("127.0.0.1", server_port)) else {
                    continue;
                };
                let (mut from_client, mut to_server) = (client.try_clone().unwrap(), server);
                let (mut from_server, mut to_client) = (to_server.try_clone().unwrap(), client);
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from_server, &mut to_client);
                    let _ = to_client.shutdown(Shutdown::Both);
                });
                let (seen, done, plan) = (seen.clone(), done.clone(), plan.clone());
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = match from_client.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let chunk = &buf[..n];
                        let cut_here = chunk
                            .windows(COMMIT_FRAME.len())
                            .any(|w| w == COMMIT_FRAME)
                            .then(|| seen.fetch_add(1, Ordering::SeqCst) + 1)
                            .and_then(|nth| plan.iter().find(|(n, _)| *n == nth).copied());
                        if let Some((nth, at)) = cut_here {
                            if at == CutAt::AfterServer {
                                let _ = to_server.write_all(chunk);
                            }
                            let _ = from_client.shutdown(Shutdown::Both);
                            let _ = to_server.shutdown(Shutdown::Both);
                            done.lock().unwrap().push((nth, at));
                            break;
                        }
                        if to_server.write_all(chunk).is_err() {
                            break;
                        }
                    }
                    let _ = to_server.shutdown(Shutdown::Both);
                });
            }
        });
        CommitCutter { port, commits, cut }
    }
}

#[test]
fn a_connection_cut_in_the_middle_of_a_commit_loses_and_doubles_nothing() {
    let objects = objects();
    let (url, dlq) = queue("serve-cut-commit", 2, 50);
    python(&["bucket", "serve-cut-commit", &url]);
    python(&["upload", objects.dir.to_str().unwrap(), "serve-cut-commit"]);
    let db = trailguard_testkit::postgres().fresh_database();
    // postgres://user@127.0.0.1:PORT/NAME?...: the same database, through the proxy.
    let (head, tail) = db.url().rsplit_once(':').unwrap();
    let (server_port, rest) = tail.split_once('/').unwrap();
    // The first commits belong to start-up (the schema); cut among the objects' commits, both ways.
    let plan = [
        (6, CutAt::BeforeServer),
        (12, CutAt::AfterServer),
        (20, CutAt::BeforeServer),
        (31, CutAt::AfterServer),
        (45, CutAt::BeforeServer),
    ];
    let cutter = CommitCutter::start(server_port.parse().unwrap(), &plan);
    let proxied = format!("{head}:{}/{rest}", cutter.port);
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(["serve", "--queue", &url, "--store", &proxied])
        .args(["--workers", "2", "--endpoint-url", &moto().endpoint()])
        .envs(moto().env())
        .stderr(log.reopen().unwrap())
        .spawn()
        .unwrap();
    let processed = || {
        postgres::Client::connect(db.url(), postgres::NoTls)
            .and_then(|mut c| c.query_one("SELECT COUNT(*) FROM processed_objects", &[]))
            .map(|r| r.get::<_, i64>(0))
            .unwrap_or(0)
    };
    let start = Instant::now();
    let mut last_look = Instant::now();
    while processed() < objects.count as i64 {
        // An empty queue (in flight included) with objects missing means they were lost.
        if last_look.elapsed() > Duration::from_secs(5) {
            last_look = Instant::now();
            let drained = python(&["count", &url]) == "0";
            std::thread::sleep(Duration::from_secs(2));
            if (drained && processed() < objects.count as i64)
                || start.elapsed() > Duration::from_secs(900)
            {
                let _ = child.kill();
                panic!(
                    "{} of {} objects (queue drained: {drained}): {}",
                    processed(),
                    objects.count,
                    std::fs::read_to_string(log.path()).unwrap_or_default()
                );
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let err = std::fs::read_to_string(log.path()).unwrap();
    let cut = cutter.cut.lock().unwrap().clone();
    assert_eq!(cut, plan, "every planned cut happened: {err}");
    assert!(
        cutter.commits.load(std::sync::atomic::Ordering::SeqCst) > objects.count,
        "the objects' commits went through the proxy"
    );
    assert!(
        err.lines()
            .any(|l| l.starts_with("error:") && l.contains("the message is left")),
        "a cut commit leaves its message: {err}"
    );
    let (ids, processed, times_seen) = stored_postgres(db.url());
    assert_holds_what_scan_finds(&ids, processed, times_seen);
    assert_eq!(python(&["count", &url]), "0", "{err}");
    assert_eq!(python(&["count", &dlq]), "0", "{err}");
}

/// `serve --snapshot DIR` (#21): the change events of a delivered log file are applied to the account's
/// escalation graph, and the store then holds exactly what `scan --snapshot` finds on the same file,
/// "can now reach admin" (CT054) findings included.
#[test]
fn serve_with_a_snapshot_stores_the_escalation_paths_scan_finds() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let logs = fixtures.join("escalation-logs");
    let snapshot = fixtures.join("escalation-snapshot");
    let out = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .arg("scan")
        .arg(&logs)
        .arg("--snapshot")
        .arg(&snapshot)
        .args(["--format", "json", "--fail-on", "never", "--quiet"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let scanned: BTreeMap<String, String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let finding = serde_json::from_str::<Finding>(l).unwrap();
            (finding.id, finding.rule_id)
        })
        .collect();
    assert!(
        scanned.values().any(|rule| rule == "CT054"),
        "the fixture opens an escalation path: {scanned:?}"
    );

    let (url, _) = queue("serve-snapshot", 30, 3);
    python(&["bucket", "serve-snapshot", &url]);
    python(&["upload", logs.to_str().unwrap(), "serve-snapshot"]);
    let db = tempfile::tempdir().unwrap();
    let store = db.path().join("tg.db");
    let (code, err) = serve(
        &url,
        &store,
        &[
            "--workers",
            "1",
            "--drain",
            "--snapshot",
            snapshot.to_str().unwrap(),
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("error:"), "{err}");
    let (ids, processed, _) = stored(&store);
    assert_eq!(processed, 1, "{err}");
    assert_eq!(
        ids.into_iter().collect::<BTreeSet<_>>(),
        scanned.into_keys().collect::<BTreeSet<_>>(),
        "{err}"
    );
}
