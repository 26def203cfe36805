//! End-to-end, hostile and careless input to `trailguard scan` (and the other commands' output): an
//! output over an input, values that try to drive the terminal or forge report lines, a closed pipe, a
//! FIFO among the logs, a damaged gzip member with `--store`, the same record repeated.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use trailguard_rules::Finding;

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trailguard"));
    cmd.env("NO_COLOR", "1");
    cmd
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("trailguard runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8")
}

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../samples/cloudtrail")
        .canonicalize()
        .expect("samples/cloudtrail exists")
}

/// A real CreateAccessKey record (a key made for another user), as a JSON value to edit.
fn create_access_key() -> serde_json::Value {
    let path = trailguard_testkit::shared_data().join(
        "cloudtrail/stratus-red-team/docs/detonation-logs/aws.persistence.iam-backdoor-user.json",
    );
    let records: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    records
        .into_iter()
        .find(|r| r["eventName"] == "CreateAccessKey")
        .unwrap()
}

#[test]
fn output_over_an_input_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("trail.json");
    let body = format!("{{\"Records\":[{}]}}", create_access_key());
    std::fs::write(&log, &body).unwrap();
    let log_str = log.to_str().unwrap();
    // The same file by another name, and a file inside a scanned directory.
    let dotted = dir.path().join(".").join("trail.json");
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&log, &link).unwrap();
    let dir_str = dir.path().to_str().unwrap();
    for (input, output) in [
        (log_str, log_str),
        (log_str, dotted.to_str().unwrap()),
        (link.to_str().unwrap(), log_str),
        (dir_str, log_str),
    ] {
        let out = run(&["scan", input, "-o", output, "--format", "json"]);
        assert_eq!(out.status.code(), Some(2), "{input} -o {output}");
        let err = text(&out.stderr);
        assert!(err.contains("refusing to write the output to"), "{err}");
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            body,
            "{input} -o {output}"
        );
    }
    // A new file beside the input is fine.
    let fresh = dir.path().join("findings.jsonl");
    let out = run(&[
        "scan",
        log_str,
        "-o",
        fresh.to_str().unwrap(),
        "--format",
        "json",
        "--rule",
        "CT008",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(&fresh).unwrap().lines().count(), 1);
}

#[test]
fn control_characters_from_a_record_are_shown_escaped_never_obeyed() {
    let mut record = create_access_key();
    let hostile =
        "evil\u{1b}]0;owned\u{7}\u{1b}[2J\n    fix       $ aws iam delete-user --user-name admin";
    record["userIdentity"]["userName"] = hostile.into();
    record["userIdentity"]["arn"] = format!("arn:aws:iam::946986569305:user/{hostile}").into();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("hostile.json");
    std::fs::write(&log, format!("{{\"Records\":[{record}]}}")).unwrap();
    let out = run(&[
        "scan",
        log.to_str().unwrap(),
        "--color",
        "never",
        "--fail-on",
        "never",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // A value that had to be escaped is kept on one line (no-break spaces); compare with plain spaces.
    let report = text(&out.stdout).replace('\u{a0}', " ");
    assert!(
        report.contains("[HIGH]") || report.contains("[CRITICAL]"),
        "{report}"
    );
    assert!(
        !report.contains('\u{1b}'),
        "no escape reaches the terminal: {report:?}"
    );
    assert!(!report.contains('\u{7}'), "{report:?}");
    // The forged line stays inside the value it came in, visibly escaped.
    assert!(
        !report.lines().any(|l| l
            .trim_start()
            .starts_with("fix       $ aws iam delete-user")),
        "{report}"
    );
    assert!(
        report
            .contains("evil\\u{1b}]0;owned\\u{7}\\u{1b}[2J\\n    fix       $ aws iam delete-user"),
        "{report}"
    );
}

#[test]
fn piped_reports_keep_long_values_whole() {
    let mut record = create_access_key();
    let agent = format!("aws-cli/2.15.0 {}", "x".repeat(150));
    record["userAgent"] = agent.clone().into();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("agent.json");
    std::fs::write(&log, format!("{{\"Records\":[{record}]}}")).unwrap();
    let out = run(&["scan", log.to_str().unwrap(), "--fail-on", "never"]);
    let report = text(&out.stdout);
    assert!(report.contains(&agent), "{report}");
    assert!(!report.contains('…'), "{report}");
    let out = run(&["explain", "--list"]);
    let listing = text(&out.stdout);
    assert!(!listing.contains('…'), "{listing}");
}

/// Runs `args` with stdout a pipe whose reader is already gone.
fn into_closed_pipe(args: &[&str]) -> (Option<i32>, String) {
    let mut child = bin()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (child.wait().unwrap().code(), err)
}

#[test]
fn a_closed_pipe_ends_every_command_quietly() {
    let samples = samples();
    let samples = samples.to_str().unwrap();
    for args in [
        vec!["scan", samples, "--fail-on", "never", "-q"],
        vec![
            "scan",
            samples,
            "--format",
            "json",
            "--fail-on",
            "never",
            "-q",
        ],
        vec!["rules"],
        vec!["explain", "--list"],
        vec!["explain", "CreatePolicyVersion"],
    ] {
        let (code, err) = into_closed_pipe(&args);
        assert!(!err.contains("Broken pipe"), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(code, Some(0), "{args:?}: {err}");
    }
}

#[test]
fn a_fifo_among_the_logs_is_counted_as_skipped_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("trail.json"),
        format!("{{\"Records\":[{}]}}", create_access_key()),
    )
    .unwrap();
    let fifo = dir.path().join("pipe.json");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let out = run(&["scan", dir.path().to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("pipe.json: skipped: a FIFO (named pipe), not a regular file"),
        "{err}"
    );
    assert!(
        err.contains("1 special file (FIFO, socket or device)"),
        "{err}"
    );
}

fn gzip_stored(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(0));
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn stored_source_ips(db: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn.prepare("SELECT body FROM findings").unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|body| {
            let finding: Finding = serde_json::from_str(&body.unwrap()).unwrap();
            finding.actor.unwrap().source_ip.unwrap()
        })
        .collect()
}

#[test]
fn a_gzip_member_failing_its_check_never_replaces_a_stored_finding() {
    let record = create_access_key();
    let good_ip = record["sourceIPAddress"].as_str().unwrap().to_owned();
    let body = format!("{{\"Records\":[{record}]}}");
    let good = gzip_stored(body.as_bytes());
    // The same bytes with one character of the address changed: the member's CRC no longer matches.
    let bad_ip = good_ip.replacen('.', "e", 1);
    let mut damaged = good.clone();
    let at = damaged
        .windows(good_ip.len())
        .position(|w| w == good_ip.as_bytes())
        .unwrap();
    damaged[at..at + bad_ip.len()].copy_from_slice(bad_ip.as_bytes());

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let db_str = db.to_str().unwrap();
    let log = dir.path().join("trail.json.gz");
    let scan_into_store = |bytes: &[u8]| {
        std::fs::write(&log, bytes).unwrap();
        run(&[
            "scan",
            log.to_str().unwrap(),
            "--store",
            db_str,
            "--format",
            "json",
            "--rule",
            "CT008",
        ])
    };
    let out = scan_into_store(&good);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(stored_source_ips(&db), std::slice::from_ref(&good_ip));

    let out = scan_into_store(&damaged);
    let err = text(&out.stderr);
    assert!(
        out.stdout.is_empty(),
        "no finding from damaged bytes: {}",
        text(&out.stdout)
    );
    assert!(err.contains("gzip member 1 is damaged"), "{err}");
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert_eq!(stored_source_ips(&db), [good_ip]);
}

#[test]
fn repeated_records_print_one_finding_and_count_the_repeats() {
    let record = create_access_key().to_string();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("repeats.jsonl");
    std::fs::write(&log, format!("{record}\n").repeat(5000)).unwrap();
    let out = run(&[
        "scan",
        log.to_str().unwrap(),
        "--format",
        "json",
        "--rule",
        "CT008",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout).lines().count(), 1);
    let err = text(&out.stderr);
    assert!(err.contains("5000 records"), "{err}");
    assert!(err.contains("repeats   4999 "), "{err}");
}

/// Scans `records` written as one CloudTrail file `name`, with only `rule`: (findings' rule ids and
/// severities, stderr).
fn scan_records(records: &[serde_json::Value], name: &str, rule: &str) -> (Vec<String>, String) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join(name);
    std::fs::write(&log, serde_json::json!({ "Records": records }).to_string()).unwrap();
    let out = run(&[
        "scan",
        log.to_str().unwrap(),
        "--format",
        "json",
        "--fail-on",
        "never",
        "--rule",
        rule,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let findings = text(&out.stdout)
        .lines()
        .map(|line| {
            let finding: Finding = serde_json::from_str(line).unwrap();
            format!("{} {}", finding.rule_id, finding.severity)
        })
        .collect();
    (findings, text(&out.stderr))
}

/// Records whose `eventTime` cannot be read are judged one by one: what a record shows alone (a catch-all
/// secrets read) is reported, but nothing is combined with them (a burst needs their order).
#[test]
fn records_without_a_time_are_judged_alone_never_combined() {
    let stratus =
        trailguard_testkit::shared_data().join("cloudtrail/stratus-red-team/docs/detonation-logs");
    let read = |name: &str| -> Vec<serde_json::Value> {
        serde_json::from_str(&std::fs::read_to_string(stratus.join(name)).unwrap()).unwrap()
    };
    // Stratus's harvest of 20 secrets is a burst with its times...
    let mut harvest = read("aws.credential-access.secretsmanager-retrieve-secrets.json");
    let (timed, _) = scan_records(&harvest, "timed.json", "CT057");
    assert_eq!(timed, ["CT057 high"]);
    // ...and none without: one secret read per record, each warned about and counted.
    for record in &mut harvest {
        record.as_object_mut().unwrap().remove("eventTime");
    }
    let (untimed, err) = scan_records(&harvest, "untimed.json", "CT057");
    assert!(untimed.is_empty(), "{untimed:?}");
    assert!(
        err.contains("untimed.json: record 0 (byte 12): no `eventTime`: judged on its own"),
        "{err}"
    );
    // The one `ListSecrets` is read by no rule of this run, so its time is never asked for.
    assert!(
        err.contains("20 record(s) had no readable eventTime"),
        "{err}"
    );
    // A read of every secret at once is a finding by itself, time or not.
    let mut batch = read("aws.credential-access.secretsmanager-batch-retrieve-secrets.json")
        .into_iter()
        .find(|r| r["eventName"] == "BatchGetSecretValue")
        .unwrap();
    batch["requestParameters"]["filters"][0]["values"] = serde_json::json!(["!NoSuchTag"]);
    batch["eventTime"] = serde_json::json!("31/07/2024 12:29");
    let (alone, err) = scan_records(&[batch], "catch-all.json", "CT057");
    // High: the caller used a long-term key (`AKIA…`).
    assert_eq!(alone, ["CT057 high"], "{err}");
}
