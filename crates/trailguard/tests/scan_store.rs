//! End-to-end: `scan --store` saves the run and its findings in SQLite or PostgreSQL; scanning the same
//! logs again updates what is there instead of adding duplicates; `findings` and `fix` read either.
//! The PostgreSQL cases take a fresh database of the test run's server (`trailguard_testkit::postgres`).

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
    scan_into_spec(store.to_str().unwrap())
}

fn scan_into_spec(store: &str) -> Vec<Finding> {
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
            store,
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

fn trailguard(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(args)
        .output()
        .unwrap()
}

/// Scans racing to create one new store: each migrates it or waits for the one that does, and every
/// run is kept. Three rounds of four processes, each round on a fresh store, to give the race chances.
#[test]
fn concurrent_scans_into_a_new_store_keep_every_run() {
    let samples = samples();
    for round in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join(format!("round{round}.db"));
        let children: Vec<_> = (0..4)
            .map(|_| {
                Command::new(env!("CARGO_BIN_EXE_trailguard"))
                    .args([
                        "scan",
                        samples.to_str().unwrap(),
                        "--format",
                        "json",
                        "--fail-on",
                        "never",
                        "--store",
                        db.to_str().unwrap(),
                    ])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(0), "round {round}: {err}");
            assert!(err.contains("stored run"), "{err}");
        }
        let conn = rusqlite::Connection::open(&db).unwrap();
        let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
        assert_eq!(count("SELECT COUNT(*) FROM runs"), 4, "round {round}");
        assert_eq!(
            count("SELECT COUNT(*) FROM runs WHERE finished_at IS NOT NULL"),
            4
        );
        assert_eq!(count("SELECT MIN(times_seen) FROM findings"), 4);
    }
}

#[test]
fn a_damaged_stored_finding_is_skipped_and_named_and_the_rest_still_works() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tg.db");
    let findings = scan_into(&db);
    assert!(findings.len() >= 2);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let (row, id): (i64, String) = conn
        .query_row(
            "SELECT rowid, id FROM findings ORDER BY id LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    conn.execute(
        "UPDATE findings SET body = substr(body, 1, 40) WHERE id = ?1",
        [&id],
    )
    .unwrap();
    drop(conn);

    let out = trailguard(&[
        "findings",
        "--store",
        db.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains(&format!("stored finding row {row} (`{id}`) skipped: ")),
        "{err}"
    );
    assert!(err.contains("not valid JSON"), "{err}");
    let listed: Vec<Finding> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(listed.len(), findings.len() - 1);
    assert!(listed.iter().all(|f| f.id != id));

    // `fix` reads the same store: it plans from the good findings and names the bad row too.
    let out = trailguard(&[
        "fix",
        "--store",
        db.to_str().unwrap(),
        "--offline",
        "--format",
        "json",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("stored finding row {row} (`{id}`) skipped")),
        "{err}"
    );
    assert!(!err.contains("error:"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
}

/// A store from a newer trailguard fails the scan before it starts (nothing on stdout) and is left
/// byte for byte as it was.
#[test]
fn a_newer_store_is_refused_before_the_scan_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("newer.db");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch("CREATE TABLE runs (id INTEGER PRIMARY KEY); PRAGMA user_version = 99;")
            .unwrap();
    }
    let before = std::fs::read(&db).unwrap();
    let samples = samples();
    let out = trailguard(&[
        "scan",
        samples.to_str().unwrap(),
        "--store",
        db.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("schema version 99, newer"), "{err}");
    assert!(out.stdout.is_empty(), "no report: the scan never ran");
    assert!(!err.contains("Summary"), "{err}");
    assert_eq!(std::fs::read(&db).unwrap(), before);
    assert!(!dir.path().join("newer.db-wal").exists());
}

/// A scan killed while it runs leaves its run unfinished; `findings --runs` tells it apart from a
/// running one.
#[test]
fn a_killed_run_reads_back_as_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tg.db");
    killed_run_reads_back_as_interrupted(db.to_str().unwrap(), || db.exists());
}

#[test]
fn a_killed_run_reads_back_as_interrupted_in_postgres() {
    let db = trailguard_testkit::postgres().fresh_database();
    killed_run_reads_back_as_interrupted(db.url(), || true);
}

fn killed_run_reads_back_as_interrupted(db: &str, exists: impl Fn() -> bool) {
    // Reading stdin that never ends keeps the scan (and its open run) waiting until it is killed.
    let mut child = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(["scan", "-", "--quiet", "--store", db])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let runs_listing = || {
        let out = trailguard(&["findings", "--store", db, "--runs"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    loop {
        if exists() && runs_listing().contains("(running)") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the run never began");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let listing = runs_listing();
    let line = listing
        .lines()
        .find(|l| l.contains("scan"))
        .unwrap_or_default();
    assert!(line.ends_with("(interrupted)"), "{listing}");
}

#[test]
fn findings_for_a_run_that_does_not_exist_say_so_and_list_the_latest() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tg.db");
    scan_into(&db);
    let out = trailguard(&["findings", "--store", db.to_str().unwrap(), "--run", "99"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--run 99: no such run"), "{err}");
    assert!(
        err.contains("    1  scan"),
        "the latest runs are listed: {err}"
    );
    assert!(out.stdout.is_empty());
}

/// The README's PostgreSQL walk-through: `scan --store postgres://…` twice, then `findings` and `fix`
/// from the same database.
#[test]
fn postgres_store_end_to_end_scan_findings_fix() {
    let db = trailguard_testkit::postgres().fresh_database();
    let url = db.url();
    let mut first = scan_into_spec(url);
    assert!(!first.is_empty());
    let mut second = scan_into_spec(url);
    first.sort_by(|a, b| a.id.cmp(&b.id));
    second.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(first, second);

    assert_eq!(
        db.sql("SELECT COUNT(*) FROM findings"),
        first.len().to_string()
    );
    assert_eq!(
        db.sql("SELECT COUNT(*) FROM runs WHERE finished_at IS NOT NULL"),
        "2"
    );
    assert_eq!(db.sql("SELECT MIN(times_seen) FROM findings"), "2");
    // Migrated to the same schema version as a SQLite store of this build.
    let sqlite_dir = tempfile::tempdir().unwrap();
    let sqlite = sqlite_dir.path().join("tg.db");
    scan_into(&sqlite);
    let sqlite_version: i64 = rusqlite::Connection::open(&sqlite)
        .unwrap()
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert!(sqlite_version >= 3, "{sqlite_version}");
    assert_eq!(
        db.sql("SELECT version FROM trailguard_schema"),
        sqlite_version.to_string()
    );
    let summary: serde_json::Value =
        serde_json::from_str(&db.sql("SELECT summary FROM runs ORDER BY id DESC LIMIT 1")).unwrap();
    assert_eq!(summary["records"], 384);

    let out = trailguard(&["findings", "--store", url, "--format", "json"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let mut listed: Vec<Finding> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    listed.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(listed, first);

    let out = trailguard(&["findings", "--store", url, "--runs"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.lines().filter(|l| l.contains("  scan  ")).count(),
        2,
        "{text}"
    );

    // A damaged row is skipped and named by `findings` and `fix` alike.
    let id = db.sql("SELECT id FROM findings ORDER BY id LIMIT 1");
    db.sql(&format!(
        "UPDATE findings SET body = left(body, 40) WHERE id = '{id}'"
    ));
    let out = trailguard(&["fix", "--store", url, "--offline", "--format", "json"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("(`{id}`) skipped")), "{err}");
    assert!(!err.contains("error:"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
}

/// Four scans at once into one fresh PostgreSQL database: one migrates it, and every run is kept.
#[test]
fn concurrent_scans_into_a_new_postgres_database_keep_every_run() {
    let db = trailguard_testkit::postgres().fresh_database();
    let samples = samples();
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_trailguard"))
                .args([
                    "scan",
                    samples.to_str().unwrap(),
                    "--format",
                    "json",
                    "--fail-on",
                    "never",
                    "--store",
                    db.url(),
                ])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{err}");
        assert!(err.contains("stored run"), "{err}");
    }
    assert_eq!(db.sql("SELECT COUNT(*) FROM runs"), "4");
    assert_eq!(
        db.sql("SELECT COUNT(*) FROM runs WHERE finished_at IS NOT NULL"),
        "4"
    );
    assert_eq!(db.sql("SELECT MIN(times_seen) FROM findings"), "4");
    assert_eq!(db.sql("SELECT COUNT(*) FROM trailguard_schema"), "1");
}

/// A PostgreSQL store that cannot be used is one readable line naming it, never its password.
#[test]
fn postgres_errors_are_one_line_without_the_password() {
    let samples = samples();
    let cases = [
        // Nothing listens on port 1.
        (
            "postgres://alice:s3cret@127.0.0.1:1/tg?sslmode=disable&connect_timeout=5",
            "error: cannot connect to store `postgres://alice@127.0.0.1:1/tg?sslmode=disable&connect_timeout=5`: ",
        ),
        // A remote host without TLS is refused before anything is sent.
        (
            "postgres://alice:s3cret@db.example.invalid/tg",
            "error: store `postgres://alice@db.example.invalid/tg` refused: this build connects without TLS",
        ),
        (
            "postgresql://alice@127.0.0.1/tg?password=s3cret&sslmode=require",
            "error: store `postgresql://alice@127.0.0.1/tg?sslmode=require` refused: sslmode=require needs TLS",
        ),
    ];
    for (url, expected) in cases {
        for args in [
            vec!["scan", samples.to_str().unwrap(), "--quiet", "--store", url],
            vec!["findings", "--store", url],
        ] {
            let out = trailguard(&args);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{err}");
            assert!(err.starts_with(expected), "{err}");
            assert_eq!(err.trim_end().lines().count(), 1, "{err}");
            assert!(!err.contains("s3cret"), "{err}");
            assert!(out.stdout.is_empty());
        }
    }
}
