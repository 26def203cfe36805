//! `trailguard audit unused` end to end on Cloudsplaining's example account and the log set written for
//! three of its principals (`trailguard-account/tests/data/cloudsplaining-usage.json`).

use std::process::Command;

/// The id on a section's `finding ID (RULE): ...` line.
fn finding_id(section: &str, rule: &str) -> String {
    let line = section
        .lines()
        .find(|l| l.starts_with("  finding tg-"))
        .unwrap_or_else(|| panic!("no finding line:\n{section}"));
    assert!(line.contains(&format!(" ({rule}): ")), "{line}");
    line["  finding ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn granted_against_used_with_findings_and_fixes() {
    let snapshot =
        trailguard_testkit::shared_data().join("peer-suites/cloudsplaining/example.json");
    let logs = trailguard_testkit::workspace_root()
        .join("crates/trailguard-account/tests/data/cloudsplaining-usage.json");
    let out = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(["audit", "unused", "--quiet", "--offline"])
        .arg(&snapshot)
        .arg("--logs")
        .arg(&logs)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.starts_with("Granted against used: unused in the 17 days these logs cover (2024-05-01T08:00:00Z to 2024-05-17T23:00:00Z)"), "{text}");
    let section = |arn: &str| -> String {
        let start = text
            .find(&format!("{arn} ("))
            .unwrap_or_else(|| panic!("{arn} missing:\n{text}"));
        text[start..].split("\n\n").next().unwrap().to_string()
    };
    let privesc4 = section("arn:aws:iam::200611803367:user/privesc4-CreateAccessKey-user");
    assert!(
        privesc4.contains("\n  + iam:CreateAccessKey\n  ? s3:ListAllMyBuckets"),
        "{privesc4}"
    );
    let sre = section("arn:aws:iam::200611803367:role/privesc-sre-role");
    assert!(sre.contains("(role, 2 successful call(s))"), "{sre}");
    assert!(sre.contains("\n  + ec2:DescribeInstances\n"), "{sre}");
    assert!(sre.contains("\n  - iam: "), "{sre}");
    assert!(sre.contains("\n  ? ssm:DescribeParameters"), "{sre}");
    // The finding line names its stable id and rule, for `trailguard fix ID --store`.
    let sre_id = finding_id(&sre, "LP001");
    assert!(
        sre.contains("sensitive action(s) granted but unused in the 17 days these logs cover"),
        "{sre}"
    );
    assert!(
        sre.contains("fix: replace its policies with the policy generated from its granted usage"),
        "{sre}"
    );
    assert!(sre.contains("\"ec2:DescribeInstances\""), "{sre}");
    // The fix never widens: the unexplained SSM call stays out of the generated policy.
    assert!(!sre.contains("\"ssm:DescribeParameters\""), "{sre}");
    assert!(sre.contains("policy diff, current → generated:"), "{sre}");
    let obama = section("arn:aws:iam::012345678901:user/obama");
    assert!(obama.contains("\n  + ec2:DescribeInstances\n"), "{obama}");
    let idle = section("arn:aws:iam::200611803367:user/privesc7-AttachUserPolicy-user");
    assert!(idle.contains("(user, 0 successful call(s))"), "{idle}");
    let idle_id = finding_id(&idle, "LP002");
    assert!(idle.contains("): not used at all:"), "{idle}");
    assert_ne!(sre_id, idle_id);
    assert!(
        idle.contains("unused in the 17 days these logs cover"),
        "{idle}"
    );
    assert!(!text.contains("): unused"), "never a bare 'unused'");
    assert!(
        text.contains("sts.amazonaws.com GetCallerIdentity (1x): no IAM permission"),
        "{text}"
    );
}

/// `--store` saves LP001/LP002 like a scan's findings: stable ids (a second run updates, never adds),
/// and LP001's fix action holds the generated policy, without the unexplained (`?`) calls.
#[test]
fn findings_are_stored_with_stable_ids_and_the_generated_policy_as_fix() {
    let snapshot =
        trailguard_testkit::shared_data().join("peer-suites/cloudsplaining/example.json");
    let logs = trailguard_testkit::workspace_root()
        .join("crates/trailguard-account/tests/data/cloudsplaining-usage.json");
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("tg.db");
    let audit = || {
        let out = Command::new(env!("CARGO_BIN_EXE_trailguard"))
            .args([
                "audit",
                "unused",
                "--quiet",
                "--format",
                "json",
                "--offline",
            ])
            .arg(&snapshot)
            .arg("--logs")
            .arg(&logs)
            .arg("--store")
            .arg(&store)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let stored = || -> Vec<serde_json::Value> {
        let out = Command::new(env!("CARGO_BIN_EXE_trailguard"))
            .args(["findings", "--store"])
            .arg(&store)
            .args(["--format", "json", "--limit", "1000"])
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|f| f["rule_id"].is_string())
            .collect()
    };
    let report = audit();
    let first = stored();
    let ids = |findings: &[serde_json::Value]| -> Vec<String> {
        let mut ids: Vec<String> = findings
            .iter()
            .map(|f| f["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    // One finding per JSON line that names one, and no other.
    let named: Vec<String> = report
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter_map(|l| l["finding_id"].as_str().map(str::to_owned))
        .collect();
    assert!(named.len() > 20, "{report}");
    let mut named_sorted = named.clone();
    named_sorted.sort();
    assert_eq!(ids(&first), named_sorted);
    audit();
    assert_eq!(ids(&stored()), ids(&first), "a second run adds nothing");

    let sre = first
        .iter()
        .find(|f| f["resource"]["id"] == "arn:aws:iam::200611803367:role/privesc-sre-role")
        .expect("the SRE role's finding is stored");
    assert_eq!(sre["rule_id"], "LP001");
    let action = &sre["fix"]["actions"][0];
    assert_eq!(action["action"], "apply_generated_policy");
    assert_eq!(action["principal_kind"], "role");
    assert_eq!(action["principal_name"], "privesc-sre-role");
    let document: serde_json::Value =
        serde_json::from_str(action["policy_document"].as_str().unwrap()).unwrap();
    let text = document.to_string();
    assert!(text.contains("ec2:DescribeInstances"), "{text}");
    assert!(!text.contains("ssm:"), "a fix never widens: {text}");
    let idle = first
        .iter()
        .find(|f| {
            f["resource"]["id"] == "arn:aws:iam::200611803367:user/privesc7-AttachUserPolicy-user"
        })
        .unwrap();
    assert_eq!(idle["rule_id"], "LP002");
    assert!(idle["fix"]["actions"].is_null(), "{idle}");
    assert!(idle["message"]
        .as_str()
        .unwrap()
        .contains("unused in the 17 days these logs cover"));
}
