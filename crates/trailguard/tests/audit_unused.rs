//! `trailguard audit unused` end to end on Cloudsplaining's example account and the log set written for
//! three of its principals (`trailguard-account/tests/data/cloudsplaining-usage.json`).

use std::process::Command;

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
    assert!(
        sre.contains("finding: ")
            && sre
                .contains("sensitive action(s) granted but unused in the 17 days these logs cover"),
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
    assert!(idle.contains("finding: not used at all:"), "{idle}");
    assert!(
        idle.contains("unused in the 17 days these logs cover"),
        "{idle}"
    );
    assert!(!text.contains("finding: unused"), "never a bare 'unused'");
    assert!(
        text.contains("sts.amazonaws.com GetCallerIdentity (1x): no IAM permission"),
        "{text}"
    );
}
