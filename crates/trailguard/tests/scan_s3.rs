//! End-to-end: `trailguard scan s3://bucket/prefix` against a local moto S3 holding the sample trail in
//! its real layout finds exactly what scanning the same files on disk finds, and reports the same bad
//! objects by their `s3://` names.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use trailguard_rules::Finding;
use trailguard_testkit::MotoServer;

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../samples/cloudtrail")
        .canonicalize()
        .expect("samples/cloudtrail exists")
}

/// Uploads every sample file under its path relative to `samples/cloudtrail` (the `AWSLogs/...` key).
fn upload_samples(moto: &MotoServer, bucket: &str) {
    let script = r#"
import os, sys, boto3
root, bucket = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3")
s3.create_bucket(Bucket=bucket)
for dirpath, _, files in os.walk(root):
    for name in files:
        path = os.path.join(dirpath, name)
        s3.upload_file(path, bucket, os.path.relpath(path, root))
"#;
    upload(moto, script, &[samples().to_str().unwrap(), bucket]);
}

/// Runs a boto3 upload script against the moto server.
fn upload(moto: &MotoServer, script: &str, args: &[&str]) {
    let python = trailguard_testkit::python();
    let out = Command::new(python)
        .args(["-c", script])
        .args(args)
        .envs(moto.env())
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "upload failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn ids(stdout: &[u8]) -> BTreeSet<String> {
    String::from_utf8(stdout.to_vec())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Finding>(l).unwrap().id)
        .collect()
}

#[test]
fn s3_prefix_scans_like_the_same_files_on_disk() {
    let moto = MotoServer::start();
    upload_samples(&moto, "acme-trail-logs");

    let local = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args([
            "scan",
            samples().to_str().unwrap(),
            "--format",
            "json",
            "--fail-on",
            "never",
        ])
        .output()
        .unwrap();
    let remote = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args([
            "scan",
            "s3://acme-trail-logs/AWSLogs/111122223333/",
            "--format",
            "json",
            "--fail-on",
            "never",
            "--endpoint-url",
            &moto.endpoint(),
        ])
        .envs(moto.env())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&remote.stderr);
    assert_eq!(remote.status.code(), Some(0), "{err}");
    let expected = ids(&local.stdout);
    assert!(!expected.is_empty());
    assert_eq!(ids(&remote.stdout), expected);
    // Bad objects are named by their S3 URL; the digest file is counted, not read.
    assert!(
        err.contains("s3://acme-trail-logs/AWSLogs/111122223333/CloudTrail/us-east-1/2023/07/11/"),
        "{err}"
    );
    assert!(err.contains("bucket-inventory.json"), "{err}");
    assert!(err.contains("384 records"), "{err}");
    assert!(err.contains("CloudTrail digest file"), "{err}");
}

#[test]
fn a_missing_bucket_is_an_error() {
    let moto = MotoServer::start();
    let out = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args([
            "scan",
            "s3://no-such-bucket/AWSLogs/",
            "--quiet",
            "--endpoint-url",
            &moto.endpoint(),
        ])
        .envs(moto.env())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-bucket"));
}

/// A trail bucket over six days, two regions and two accounts; each log file holds one CreateUser
/// record (the AWS documentation's example, re-dated and re-homed like CloudTrail would deliver it).
fn upload_six_days(moto: &MotoServer, bucket: &str) {
    let script = r#"
import gzip, io, json, sys, boto3
example, bucket = sys.argv[1], sys.argv[2]
event = None
for line in open(example):
    doc = json.loads(line)
    if doc["event"]["eventName"] == "CreateUser":
        event = doc["event"]
s3 = boto3.client("s3")
s3.create_bucket(Bucket=bucket)
layout = [("111122223333", region, day) for region in ("us-east-1", "eu-west-1") for day in range(1, 7)]
layout += [("444455556666", "us-east-1", day) for day in (5, 6)]
for n, (account, region, day) in enumerate(layout):
    record = dict(event, eventTime="2024-03-%02dT10:00:00Z" % day, awsRegion=region,
                  recipientAccountId=account, eventID="00000000-0000-4000-8000-%012d" % n)
    record["userIdentity"] = dict(event["userIdentity"], accountId=account,
                                  arn="arn:aws:iam::%s:user/Alice" % account)
    body = gzip.compress(json.dumps({"Records": [record]}).encode())
    key = "AWSLogs/%s/CloudTrail/%s/2024/03/%02d/%s_CloudTrail_%s_202403%02dT1005Z_%016d.json.gz" % (
        account, region, day, account, region, day, n)
    s3.put_object(Bucket=bucket, Key=key, Body=body)
"#;
    let example = trailguard_testkit::shared_data()
        .join("cloudtrail/aws-docs-examples/aws_docs_cloudtrail_examples.jsonl");
    upload(moto, script, &[example.to_str().unwrap(), bucket]);
}

/// The summary's `read` line (`N files, M records`) and its s3 note, from a scan of the bucket.
fn scan_bucket(moto: &MotoServer, extra: &[&str]) -> (String, String) {
    let endpoint = moto.endpoint();
    let mut args = vec![
        "scan",
        "s3://six-days/AWSLogs/",
        "--format",
        "json",
        "--fail-on",
        "never",
        "--endpoint-url",
        &endpoint,
    ];
    args.extend_from_slice(extra);
    let out = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(&args)
        .envs(moto.env())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{err}");
    let line = |label: &str, text: &str| {
        err.lines()
            .find(|l| l.trim_start().starts_with(label) && l.contains(text))
            .unwrap_or_else(|| panic!("no `{label}` line with `{text}` in {err}"))
            .to_owned()
    };
    let read = line("read", "files");
    let note = line("note", "s3:");
    (read, note)
}

#[test]
fn since_account_and_region_prune_folders_before_listing() {
    let moto = MotoServer::start();
    upload_six_days(&moto, "six-days");

    let (read, note) = scan_bucket(&moto, &[]);
    assert!(read.contains("14 files, 14 records"), "{read}");
    assert!(note.contains("0 folders"), "{note}");

    // Days before 2024-03-05 are never listed: only the 05 and 06 folders of each account and region
    // are fetched (6 objects of 14).
    let (read, note) = scan_bucket(&moto, &["--since", "2024-03-05T00:00:00Z"]);
    assert!(read.contains("6 files, 6 records"), "{read}");
    assert!(
        !read.contains("left out"),
        "nothing fetched needed filtering: {read}"
    );
    assert!(note.contains("6 log objects listed"), "{note}");
    // 111122223333: 4 days in each of 2 regions; 444455556666 has only the days in range.
    assert!(note.contains("8 folders"), "{note}");

    // Account and region folders: one account, one region, two days.
    let (read, note) = scan_bucket(
        &moto,
        &[
            "--since",
            "2024-03-05",
            "--account",
            "111122223333",
            "--event-region",
            "us-east-1",
        ],
    );
    assert!(read.contains("2 files, 2 records"), "{read}");
    assert!(note.contains("2 log objects listed"), "{note}");
    // 444455556666, eu-west-1, and days 01-04 of us-east-1.
    assert!(note.contains("6 folders"), "{note}");
}
