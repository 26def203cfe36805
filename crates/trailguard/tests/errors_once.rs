//! A failure is one `error:` line that names what failed and then its cause, each once: error types keep
//! their source out of their own message, and `main` prints the chain (`outer: cause: root cause`).

use std::process::Command;

fn trailguard(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(args)
        .output()
        .expect("trailguard runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_store_that_cannot_be_created_prints_its_cause_once() {
    let tmp = tempfile::tempdir().unwrap();
    // A regular file where the store's directory should be: creating the directory fails with ENOTDIR.
    let file = tmp.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let store = file.join("sub/tg.db");
    let trail = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../../samples/cloudtrail/AWSLogs/111122223333/CloudTrail/eu-west-1/2023/07/11/\
         111122223333_CloudTrail_eu-west-1_20230711T0820Z_BuPw2I9QrJdoUHqc.json.gz",
    );
    let (code, stderr) = trailguard(&[
        "scan",
        trail.to_str().unwrap(),
        "--quiet",
        "--store",
        store.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line per failure:\n{stderr}");
    let line = lines[0];
    let cause = std::io::Error::from_raw_os_error(20).to_string(); // ENOTDIR, as the OS words it
    assert!(
        line.starts_with("error: cannot create the directory for store `"),
        "{line}"
    );
    assert!(line.contains(&store.display().to_string()), "{line}");
    assert_eq!(
        line.matches(&cause).count(),
        1,
        "cause printed once: {line}"
    );
    assert!(line.ends_with(&cause), "the root cause comes last: {line}");
}

/// The journal's errors follow the same rule: SQLite's cause appears once in the chain.
#[test]
fn a_journal_that_cannot_be_opened_prints_its_cause_once() {
    let tmp = tempfile::tempdir().unwrap();
    let journal = tmp.path().join("journal-is-a-dir");
    std::fs::create_dir_all(&journal).unwrap();
    let (code, stderr) = trailguard(&["fix", "journal", "--journal", journal.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    let line = lines[0];
    assert!(line.contains("cannot open the journal"), "{line}");
    // `unable to open database file` (SQLite's words) once, not once in the message and once in the chain.
    let parts: Vec<&str> = line.split(": ").collect();
    let mut unique = parts.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(
        unique.len(),
        parts.len(),
        "a part of the chain is repeated: {line}"
    );
}
