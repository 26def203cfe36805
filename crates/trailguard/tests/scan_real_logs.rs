//! End-to-end on real CloudTrail logs from ../shared/data/cloudtrail: the Invictus and Stratus Red Team
//! logs scan with zero parse errors, and the Stratus techniques for IAM persistence, privilege escalation
//! and defense evasion produce the findings they should.

use std::path::Path;
use std::process::{Command, Output};

use trailguard_rules::Finding;
use trailguard_testkit::shared_data;

fn scan(path: &Path) -> (Output, Vec<Finding>) {
    let out = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args([
            "scan",
            path.to_str().unwrap(),
            "--format",
            "json",
            "--fail-on",
            "never",
        ])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let findings = String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (out, findings)
}

fn warnings(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn invictus_logs_scan_without_a_single_error() {
    let dir = shared_data().join("cloudtrail/invictus-ir/CloudTrail");
    let (out, findings) = scan(&dir);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(warnings(&out), Vec::<String>::new());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("2900 records"), "{err}");
    assert!(err.contains("findings"), "{err}");
    assert!(!findings.is_empty(), "an attacked account yields findings");
    assert!(findings
        .iter()
        .all(|f| f.account.as_deref() == Some("123837392027")));
}

#[test]
fn stratus_logs_scan_without_a_single_error() {
    let dir = shared_data().join("cloudtrail/stratus-red-team/docs/detonation-logs");
    let (out, _) = scan(&dir);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(warnings(&out), Vec::<String>::new());
    assert!(String::from_utf8_lossy(&out.stderr).contains("310 records"));
}

#[test]
fn stratus_techniques_produce_their_findings() {
    let dir = shared_data().join("cloudtrail/stratus-red-team/docs/detonation-logs");
    // Technique file → an event that must be flagged.
    let expected = [
        (
            "aws.persistence.iam-create-admin-user.json",
            "AttachUserPolicy",
        ),
        ("aws.persistence.iam-backdoor-user.json", "CreateAccessKey"),
        (
            "aws.persistence.iam-backdoor-role.json",
            "UpdateAssumeRolePolicy",
        ),
        (
            "aws.persistence.iam-create-backdoor-role.json",
            "AttachRolePolicy",
        ),
        (
            "aws.persistence.iam-create-user-login-profile.json",
            "CreateLoginProfile",
        ),
        (
            "aws.privilege-escalation.iam-update-user-login-profile.json",
            "UpdateLoginProfile",
        ),
        ("aws.defense-evasion.cloudtrail-stop.json", "StopLogging"),
        ("aws.defense-evasion.cloudtrail-delete.json", "DeleteTrail"),
        (
            "aws.defense-evasion.cloudtrail-event-selectors.json",
            "PutEventSelectors",
        ),
        (
            "aws.initial-access.console-login-without-mfa.json",
            "ConsoleLogin",
        ),
    ];
    let mut missing = Vec::new();
    for (file, event) in expected {
        let (out, findings) = scan(&dir.join(file));
        assert_eq!(warnings(&out), Vec::<String>::new(), "{file}");
        if !findings
            .iter()
            .any(|f| f.event_name.as_deref() == Some(event))
        {
            missing.push(format!("{file}: no finding for {event}"));
        }
    }
    assert!(missing.is_empty(), "{missing:#?}");
}
