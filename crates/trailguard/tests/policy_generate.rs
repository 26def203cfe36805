//! `trailguard policy generate` end to end on the real logs: the policy on stdout passes `policy check`,
//! the window and the denied requests are stated on stderr.

use std::process::{Command, Output};

fn trailguard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run trailguard")
}

fn logs() -> String {
    trailguard_testkit::shared_data()
        .join("cloudtrail")
        .display()
        .to_string()
}

#[test]
fn generated_policy_passes_policy_check() {
    let user = "arn:aws:iam::123837392027:user/bert-jan";
    let out = trailguard(&["policy", "generate", "--from", &logs(), "--principal", user]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let policy: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(policy["Version"], "2012-10-17");
    assert!(policy["Statement"].as_array().unwrap().len() > 5);
    assert!(stderr.contains("days these logs cover"), "{stderr}");
    assert!(stderr.contains(&format!("{user}: ")), "{stderr}");
    assert!(
        stderr.contains("signin.amazonaws.com ConsoleLogin"),
        "{stderr}"
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("generated.json");
    std::fs::write(&path, &out.stdout).unwrap();
    let check = trailguard(&[
        "policy",
        "check",
        path.to_str().unwrap(),
        "--format",
        "json",
        "--fail-on",
        "never",
    ]);
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let findings = String::from_utf8_lossy(&check.stdout);
    assert!(
        findings.contains("\"rule_id\":\"PC019\""),
        "the user escalated: its policy says so"
    );
    for line in findings.lines().filter(|l| !l.trim().is_empty()) {
        let finding: serde_json::Value = serde_json::from_str(line).unwrap();
        let code = finding["rule_id"].as_str().unwrap();
        // PC001-PC009 are errors of the language (malformed, unknown action, invalid ARN or Sid); PC024
        // would mean a narrowed statement grants an action on none of its resources.
        let errors = [
            "PC001", "PC002", "PC003", "PC004", "PC005", "PC006", "PC007", "PC008", "PC009",
            "PC024",
        ];
        assert!(!errors.contains(&code), "{line}");
    }
}

#[test]
fn sessions_split_and_unknown_principals_are_named() {
    let out = trailguard(&[
        "policy",
        "generate",
        "--from",
        &logs(),
        "--principal",
        "arn:aws:iam::1:user/nobody",
    ]);
    assert_ne!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no calls by `arn:aws:iam::1:user/nobody`"),
        "{stderr}"
    );
    assert!(stderr.contains("principals seen:"), "{stderr}");
    // A role of the real logs, by the first principal it names.
    let role = stderr
        .split(['`', ',', ' '])
        .find(|s| s.contains(":role/"))
        .expect("a role in the real logs")
        .trim()
        .to_string();
    let whole = trailguard(&[
        "policy",
        "generate",
        "--from",
        &logs(),
        "--principal",
        &role,
    ]);
    assert_eq!(
        whole.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&whole.stderr)
    );
    let split = trailguard(&[
        "policy",
        "generate",
        "--from",
        &logs(),
        "--principal",
        &role,
        "--per-session",
    ]);
    assert_eq!(
        split.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&split.stderr)
    );
    let sessions: serde_json::Value = serde_json::from_slice(&split.stdout).unwrap();
    let sessions = sessions.as_object().unwrap();
    assert!(!sessions.is_empty());
    assert!(sessions.values().all(|p| p["Version"] == "2012-10-17"));
}
