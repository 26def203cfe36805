//! `trailguard audit paths --offline`: its text, JSON and DOT outputs are the contract, snapshot-tested
//! on `fixtures/paths-account` (a hand-written account: an admin, a two-step chain through a role
//! and Lambda, a key minted for the admin, a policy version allowed only with MFA, an admin only
//! from one network, and a reader who reaches nothing), and the Cloudsplaining example's paths in
//! short form (who, how surely, by which kinds of step).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use trailguard_rules::{Finding, Severity};
use trailguard_testkit::shared_data;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/paths-account")
}

fn paths(dir: &Path, extra: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(["audit", "paths", "--offline", dir.to_str().unwrap(), "-q"])
        .args(extra)
        .env("NO_COLOR", "1")
        .output()
        .expect("trailguard runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn text_report_of_a_hand_written_account() {
    let text = paths(&fixture(), &[]);
    assert!(
        text.starts_with("7 principal(s) reach admin (5 certainly, 2 only under conditions)"),
        "{text}"
    );
    assert!(!text.contains("carol"), "{text}");
    insta::assert_snapshot!("paths_account_text", text);
}

#[test]
fn json_report_marks_conditional_paths_and_names_their_conditions() {
    let json: Vec<Value> = serde_json::from_str(&paths(&fixture(), &["--format", "json"])).unwrap();
    let by_name = |name: &str| json.iter().find(|r| r["name"] == name).cloned();
    let alice = by_name("dev-alice").unwrap();
    assert_eq!(alice["certainty"], "certain");
    let kinds: Vec<&str> = alice["hops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["assume_role", "pass_role"]);
    let bob = by_name("mfa-bob").unwrap();
    assert_eq!(bob["certainty"], "conditional");
    assert_eq!(bob["hops"][0]["certainty"], "conditional");
    assert_eq!(
        bob["hops"][0]["grants"][0]["conditions"][0],
        "aws:MultiFactorAuthPresent Bool true"
    );
    let erin = by_name("office-erin").unwrap();
    assert_eq!(erin["certainty"], "conditional");
    assert_eq!(
        erin["admin_conditions"][0],
        "aws:SourceIp IpAddress 192.0.2.0/24"
    );
    assert!(by_name("carol").is_none());
    insta::assert_json_snapshot!("paths_account_json", json);
}

#[test]
fn dot_draws_conditional_hops_dashed() {
    let dot = paths(&fixture(), &["--format", "dot"]);
    let bob = dot
        .lines()
        .find(|l| l.contains("user/mfa-bob\" ->"))
        .unwrap_or_else(|| panic!("{dot}"));
    assert!(bob.contains("style=dashed"), "{bob}");
    let alice = dot
        .lines()
        .find(|l| l.contains("user/dev-alice\" ->"))
        .unwrap_or_else(|| panic!("{dot}"));
    assert!(alice.contains("style=solid"), "{alice}");
    insta::assert_snapshot!("paths_account_dot", dot);
}

#[test]
fn findings_rate_conditional_paths_lower_and_name_the_condition() {
    let out = paths(&fixture(), &["--findings", "--format", "json"]);
    let findings: Vec<Finding> = out
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let of = |name: &str| {
        findings
            .iter()
            .find(|f| f.resource.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
            .unwrap_or_else(|| panic!("no finding for {name}: {out}"))
    };
    assert_eq!(of("dev-alice").severity, Severity::High);
    let bob = of("mfa-bob");
    assert_eq!(bob.severity, Severity::Medium);
    assert!(
        bob.message
            .contains("if aws:MultiFactorAuthPresent Bool true hold"),
        "{}",
        bob.message
    );
    // Admins themselves take no step: no path finding.
    assert!(findings
        .iter()
        .all(|f| f.resource.as_ref().and_then(|r| r.name.as_deref()) != Some("root-admin")));
}

#[test]
fn cloudsplaining_example_paths_in_short() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        shared_data().join("peer-suites/cloudsplaining/example.json"),
        dir.path().join("get-account-authorization-details.json"),
    )
    .expect("reference data present");
    let json: Vec<Value> = serde_json::from_str(&paths(dir.path(), &["--format", "json"])).unwrap();
    assert!(json.len() > 50, "{}", json.len());
    let lines: Vec<String> = json
        .iter()
        .map(|r| {
            let kinds: Vec<&str> = r["hops"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h["kind"].as_str().unwrap_or("?"))
                .collect();
            format!(
                "{} {} {}: {}",
                r["kind"].as_str().unwrap(),
                r["name"].as_str().unwrap(),
                r["certainty"].as_str().unwrap(),
                if kinds.is_empty() {
                    "admin itself".to_owned()
                } else {
                    kinds.join(" > ")
                }
            )
        })
        .collect();
    insta::assert_snapshot!("cloudsplaining_paths_summary", lines.join("\n"));
}
