//! `scan LOGS --snapshot DIR`: IAM change events applied to the escalation graph of an account
//! snapshot raise exactly the "can now reach admin" findings (CT054) they should; events older than
//! the snapshot, failed calls and changes that open no path raise none; CT039 knows the snapshot's
//! trail bucket. Fixtures: `fixtures/escalation-snapshot` (the account) and `fixtures/escalation-logs`
//! (change events written in the shape of the real records of `../shared/data/cloudtrail`).

use std::path::Path;
use std::process::Command;

use trailguard_rules::{Finding, Severity};

fn scan(snapshot: Option<&str>) -> (Vec<Finding>, String) {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut command = Command::new(env!("CARGO_BIN_EXE_trailguard"));
    command.args([
        "scan",
        fixtures.join("escalation-logs").to_str().unwrap(),
        "--format",
        "json",
        "--fail-on",
        "never",
    ]);
    if let Some(dir) = snapshot {
        command.args(["--snapshot", fixtures.join(dir).to_str().unwrap()]);
    }
    let out = command.env("NO_COLOR", "1").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let findings = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (findings, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn of<'a>(findings: &'a [Finding], rule: &str) -> Vec<&'a Finding> {
    findings.iter().filter(|f| f.rule_id == rule).collect()
}

#[test]
fn changes_over_a_snapshot_raise_exactly_the_paths_they_open_and_close() {
    let (findings, stderr) = scan(Some("escalation-snapshot"));
    let raised: Vec<(String, Severity, String)> = of(&findings, "CT054")
        .into_iter()
        .map(|f| {
            (
                f.event_name.clone().unwrap_or_default(),
                f.severity,
                f.resource
                    .as_ref()
                    .and_then(|r| r.name.clone())
                    .unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        raised,
        vec![
            // dev-alice may now version the policy attached to her.
            (
                "PutUserPolicy".to_owned(),
                Severity::High,
                "dev-alice".to_owned()
            ),
            // Its new default version grants everything to dave, who holds it too (dev-alice
            // reached admin already: nothing new for her).
            (
                "CreatePolicyVersion".to_owned(),
                Severity::High,
                "dave".to_owned()
            ),
            // Back to v1: dave's path closes; dev-alice may still version the policy.
            (
                "SetDefaultPolicyVersion".to_owned(),
                Severity::Info,
                "dave".to_owned()
            ),
        ],
        "{findings:#?}"
    );
    let alice = of(&findings, "CT054")[0];
    assert!(
        alice.message.starts_with("`dev-alice` can now reach admin: `dev-alice` may iam:CreatePolicyVersion on `arn:aws:iam::111122223333:policy/ops-readonly`"),
        "{}",
        alice.message
    );
    assert!(
        alice
            .message
            .contains("opened by PutUserPolicy on user `dev-alice`"),
        "{}",
        alice.message
    );
    // carol's AdministratorAccess (before the snapshot), bob's s3-read and his denied pass-roles open
    // nothing; the summary counts what was applied and left out.
    let summary = stderr
        .lines()
        .find(|l| l.contains("IAM changes applied"))
        .unwrap_or_default();
    assert!(
        summary.contains("4 IAM changes applied") && summary.contains("1 older than the snapshot"),
        "{stderr}"
    );
    // CT039 knows the snapshot's trail bucket.
    let tampered = of(&findings, "CT039");
    assert_eq!(tampered.len(), 1, "{findings:#?}");
    assert!(tampered[0].message.contains("trail `management-trail`"));
}

#[test]
fn without_a_snapshot_neither_rule_fires() {
    let (findings, _) = scan(None);
    assert!(of(&findings, "CT054").is_empty());
    assert!(of(&findings, "CT039").is_empty());
    // The scan saw the same events: its other rules still fire.
    assert!(!findings.is_empty());
}
