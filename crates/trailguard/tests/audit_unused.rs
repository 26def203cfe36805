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

const ACCOUNT: &str = "111122223333";

/// An inline policy document of one Allow or Deny statement on every resource.
fn statement_on_any(effect: &str, actions: &[&str]) -> serde_json::Value {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": effect, "Action": actions, "Resource": "*"}]
    })
}

/// A user of the snapshot: its one inline policy, its groups and its boundary.
fn user(
    name: &str,
    inline: &serde_json::Value,
    groups: &[&str],
    boundary: Option<&str>,
) -> serde_json::Value {
    let policies =
        [serde_json::json!({"PolicyName": format!("{name}-own"), "PolicyDocument": inline})];
    let mut user = serde_json::json!({
        "UserName": name,
        "UserId": format!("AIDA{}", name.to_uppercase()),
        "Arn": format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
        "Path": "/",
        "CreateDate": "2024-01-01T00:00:00Z",
        "GroupList": groups,
        "UserPolicyList": policies,
        "AttachedManagedPolicies": [],
    });
    if let Some(arn) = boundary {
        user["PermissionsBoundary"] = serde_json::json!({
            "PermissionsBoundaryType": "Policy",
            "PermissionsBoundaryArn": arn,
        });
    }
    user
}

/// A managed policy with one default version.
fn managed(name: &str, document: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "PolicyName": name,
        "Arn": format!("arn:aws:iam::{ACCOUNT}:policy/{name}"),
        "DefaultVersionId": "v1",
        "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": true, "Document": document}],
    })
}

/// A successful S3 call by a user; `GetObject` carries the bucket and key its ARN is built from.
fn s3_call(user: &str, event: &str, time: &str) -> serde_json::Value {
    serde_json::json!({
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": format!("AIDA{}", user.to_uppercase()),
            "arn": format!("arn:aws:iam::{ACCOUNT}:user/{user}"),
            "accountId": ACCOUNT,
            "userName": user,
        },
        "eventTime": time,
        "eventSource": "s3.amazonaws.com",
        "eventName": event,
        "awsRegion": "eu-west-1",
        "requestParameters": if event == "GetObject" {
            serde_json::json!({"bucketName": "trail-data", "key": "reports/a.csv"})
        } else {
            serde_json::Value::Null
        },
        "eventID": format!("{user}-{event}"),
        "recipientAccountId": ACCOUNT,
    })
}

/// A permissions boundary, a group's policies and an explicit Deny all limit what `audit unused` calls
/// granted. Four users hold the same `iam:*` + `s3:*` grant and make the same S3 calls:
/// `bounded` has a boundary of `s3:*`, `bucket-bounded` a boundary of `s3:*` on one bucket only,
/// `grouped-denied` gets its grant from a group and denies `iam:*` in its own policy, and `unbounded`
/// is the twin with nothing in the way, which must show the IAM grants as unused.
#[test]
fn boundaries_groups_and_denies_limit_what_is_granted() {
    let broad = statement_on_any("Allow", &["iam:*", "s3:*"]);
    let s3_only = format!("arn:aws:iam::{ACCOUNT}:policy/s3-only");
    let one_bucket = format!("arn:aws:iam::{ACCOUNT}:policy/trail-data-only");
    let details = serde_json::json!({
        "UserDetailList": [
            user("bounded", &broad, &[], Some(&s3_only)),
            user("bucket-bounded", &broad, &[], Some(&one_bucket)),
            user("grouped-denied", &statement_on_any("Deny", &["iam:*"]), &["admins"], None),
            user("unbounded", &broad, &[], None),
        ],
        "GroupDetailList": [{
            "GroupName": "admins",
            "GroupId": "AGPAADMINS",
            "Arn": format!("arn:aws:iam::{ACCOUNT}:group/admins"),
            "Path": "/",
            "CreateDate": "2024-01-01T00:00:00Z",
            "GroupPolicyList": [{"PolicyName": "broad", "PolicyDocument": broad}],
            "AttachedManagedPolicies": [],
        }],
        "RoleDetailList": [],
        "Policies": [
            managed("s3-only", statement_on_any("Allow", &["s3:*"])),
            managed("trail-data-only", serde_json::json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Action": "s3:*",
                    "Resource": ["arn:aws:s3:::trail-data", "arn:aws:s3:::trail-data/*"],
                }],
            })),
        ],
    });
    let users = ["bounded", "bucket-bounded", "grouped-denied", "unbounded"];
    let records: Vec<serde_json::Value> = users
        .iter()
        .flat_map(|u| {
            [
                s3_call(u, "ListBuckets", "2024-06-01T10:00:00Z"),
                s3_call(u, "GetObject", "2024-06-05T10:00:00Z"),
            ]
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("snapshot");
    std::fs::create_dir(&snapshot).unwrap();
    std::fs::write(
        snapshot.join("get-account-authorization-details.json"),
        serde_json::to_string_pretty(&details).unwrap(),
    )
    .unwrap();
    let logs = dir.path().join("logs.json");
    std::fs::write(&logs, serde_json::json!({ "Records": records }).to_string()).unwrap();
    let audit = |format: &str| -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_trailguard"))
            .args([
                "audit",
                "unused",
                "--quiet",
                "--format",
                format,
                "--offline",
            ])
            .arg(&snapshot)
            .arg("--logs")
            .arg(&logs)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    // Text: the `-` lines name each service with unused grants.
    let text = audit("text");
    let section = |name: &str| -> String {
        let arn = format!("arn:aws:iam::{ACCOUNT}:user/{name} (");
        let start = text
            .find(&arn)
            .unwrap_or_else(|| panic!("{name} missing:\n{text}"));
        text[start..].split("\n\n").next().unwrap().to_string()
    };
    let unused_services = |section: &str| -> Vec<String> {
        let mut services: Vec<String> = section
            .lines()
            .filter_map(|l| l.strip_prefix("  - "))
            .map(|l| l.split(':').next().unwrap().to_owned())
            .collect();
        services.dedup();
        services
    };
    for name in users {
        let section = section(name);
        if name == "bucket-bounded" {
            // Its boundary allows S3 on one bucket: the object read is explained, the account-wide
            // listing is not (AWS would have refused it; something we cannot see allowed it).
            assert!(section.contains("\n  + s3:GetObject\n"), "{section}");
            assert!(section.contains("\n  ? s3:ListAllMyBuckets"), "{section}");
        } else {
            assert!(
                section.contains("\n  + s3:GetObject\n  + s3:ListAllMyBuckets\n"),
                "{section}"
            );
            assert!(!section.contains("\n  ? "), "{section}");
        }
        let expected: &[&str] = if name == "unbounded" {
            &["iam", "s3"]
        } else {
            &["s3"]
        };
        assert_eq!(unused_services(&section), expected, "{section}");
    }

    // JSON: the sensitive unused grants, and the finding they raise.
    let json = audit("json");
    let line = |name: &str| -> serde_json::Value {
        let arn = format!("arn:aws:iam::{ACCOUNT}:user/{name}");
        json.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|l| l["principal"] == arn.as_str())
            .unwrap_or_else(|| panic!("{name} missing:\n{json}"))
    };
    let sensitive = |name: &str| -> Vec<String> {
        line(name)["sensitive_unused"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_owned())
            .collect()
    };
    let twin = sensitive("unbounded");
    assert!(
        twin.iter().any(|a| a == "iam:CreateAccessKey"),
        "the twin without a boundary is flagged for IAM writes: {twin:?}"
    );
    assert!(line("unbounded")["finding"]
        .as_str()
        .unwrap()
        .contains("sensitive action(s) granted but unused in the 4 days these logs cover"));
    for name in ["bounded", "bucket-bounded", "grouped-denied"] {
        let limited = sensitive(name);
        assert!(
            limited.iter().all(|a| !a.starts_with("iam:")),
            "{name}: {limited:?}"
        );
        assert!(
            line(name)["granted_unused_count"].as_u64().unwrap()
                < line("unbounded")["granted_unused_count"].as_u64().unwrap()
        );
    }
}
