//! `--sigma` on the command line: `rules --sigma DIR` fails (exit 2) when no rule at all could be loaded
//! and says why for each file; `scan --sigma PATH` with a path that does not exist is an error naming it,
//! before any scanning; `scan --rule` with any unknown code is a usage error too.

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn rules_sigma_fails_when_every_rule_fails_to_load() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a_broken.yml"), "title: x\ndetection: [").unwrap();
    std::fs::write(
        dir.path().join("b_no_condition.yml"),
        "title: No condition\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  selection: {eventName: StopLogging}\n",
    )
    .unwrap();
    let path = dir.path().to_str().unwrap();
    for format in ["text", "json"] {
        let out = run(&["rules", "--sigma", path, "--format", format]);
        assert_eq!(out.status.code(), Some(2), "{format}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("a_broken.yml"), "{err}");
        assert!(err.contains("b_no_condition.yml"), "{err}");
        assert!(err.contains("no Sigma rule could be loaded"), "{err}");
    }
    // A missing directory is the same failure.
    let out = run(&["rules", "--sigma", "/nonexistent/sigma-rules"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("/nonexistent/sigma-rules"),
        "{}",
        stderr(&out)
    );

    // One good rule among the broken ones: listed, the others reported, exit 0.
    std::fs::write(
        dir.path().join("c_good.yml"),
        "title: Trail stopped\nid: 5f1c0a7e-2222-4333-8444-555555555555\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  selection: {eventName: StopLogging}\n  condition: selection\nlevel: high\n",
    )
    .unwrap();
    let out = run(&["rules", "--sigma", path]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("sigma rules (1 loaded)"), "{text}");
    assert!(text.contains("sigma load errors (2)"), "{text}");
}

#[test]
fn scan_with_a_missing_sigma_path_fails_before_scanning() {
    let logs = tempfile::tempdir().unwrap();
    std::fs::write(
        logs.path().join("trail.json"),
        r#"{"Records":[{"eventVersion":"1.08","eventTime":"2024-02-01T09:00:00Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers","awsRegion":"us-east-1","eventID":"e-1","recipientAccountId":"111122223333"}]}"#,
    )
    .unwrap();
    let out = run(&[
        "scan",
        logs.path().to_str().unwrap(),
        "--sigma",
        "/nonexistent/sigma-rules",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("/nonexistent/sigma-rules"), "{err}");
    // Nothing was scanned: no report, no summary.
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!err.contains("records"), "{err}");
}

#[test]
fn scan_rule_with_one_unknown_code_is_a_usage_error() {
    let logs = tempfile::tempdir().unwrap();
    let out = run(&[
        "scan",
        logs.path().to_str().unwrap(),
        "--rule",
        "CT001,CT999",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("`CT999`"), "{err}");
    assert!(err.contains("did you mean"), "{err}");
}
