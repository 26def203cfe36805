//! End-to-end: `scan --store` saves the run and its findings in SQLite; scanning the same logs again
//! updates what is there instead of adding duplicates.

use std::path::{Path, PathBuf};
use std::process::Command;

use trailguard_rules::Finding;

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../samples/cloudtrail")
        .canonicalize()
        .expect("samples/cloudtrail exists")
}

fn scan_into(store: &Path) -> Vec<Finding> {
    let samples = samples();
    let out = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args([
            "scan",
            samples.to_str().unwrap(),
            "--format",
            "json",
            "--fail-on",
            "never",
            "--store",
            store.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("stored run"), "{err}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn store_keeps_runs_and_rescans_do_not_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state").join("trailguard.db");
    let mut first = scan_into(&db);
    assert!(!first.is_empty());
    let mut second = scan_into(&db);
    // Findings stream in the order found: compare them by id.
    first.sort_by(|a, b| a.id.cmp(&b.id));
    second.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(first, second);

    let conn = rusqlite::Connection::open(&db).unwrap();
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(count("SELECT COUNT(*) FROM findings"), first.len() as i64);
    assert_eq!(count("SELECT COUNT(*) FROM runs"), 2);
    assert_eq!(
        count("SELECT COUNT(*) FROM runs WHERE finished_at IS NULL"),
        0
    );
    assert_eq!(count("SELECT MIN(times_seen) FROM findings"), 2);
    assert_eq!(
        count("SELECT COUNT(*) FROM run_findings"),
        2 * first.len() as i64
    );
    assert!(count("PRAGMA user_version") >= 1);

    // Each stored body is the finding itself.
    let mut stmt = conn
        .prepare("SELECT body FROM findings ORDER BY id")
        .unwrap();
    let mut stored: Vec<Finding> = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|b| serde_json::from_str(&b.unwrap()).unwrap())
        .collect();
    let mut expected = first.clone();
    expected.sort_by(|a, b| a.id.cmp(&b.id));
    stored.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(stored, expected);

    // The run summary is kept with the run.
    let summary: String = conn
        .query_row(
            "SELECT summary FROM runs ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let summary: serde_json::Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(summary["command"], "scan");
    assert_eq!(summary["records"], 384);
    assert!(summary["errors"].as_u64().unwrap() >= 2);
}

#[test]
fn an_unusable_store_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    // A directory where the database file should be.
    let samples = samples();
    let out = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args([
            "scan",
            samples.to_str().unwrap(),
            "--quiet",
            "--store",
            dir.path().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot open store"), "{err}");
}
