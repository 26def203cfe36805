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
    let python = trailguard_testkit::python();
    let out = Command::new(python)
        .args(["-c", script, samples().to_str().unwrap(), bucket])
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
