//! `trailguard policy ...` end to end: the real binary on files we write, exit codes, formats.

use std::path::PathBuf;
use std::process::{Command, Output};

const ADMIN: &str = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Sid\": \"ReadLogs\", \"Effect\": \"Allow\", \"Action\": \"logs:GetLogEvents\", \"Resource\": \"arn:aws:logs:us-east-1:111122223333:log-group:app:*\"},\n    {\"Sid\": \"Everything\", \"Effect\": \"Allow\", \"Action\": \"*\", \"Resource\": \"*\"}\n  ]\n}\n";
const CLEAN: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Read","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"}]}"#;
const OLD: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::reports/*"}]}"#;
const NEW: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"},{"Effect":"Allow","Action":["iam:CreatePolicyVersion"],"Resource":"*"}]}"#;

fn trailguard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run trailguard")
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path: PathBuf = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn check_reports_admin_and_sets_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let admin = write(&dir, "admin.json", ADMIN);
    let out = trailguard(&["policy", "check", &admin]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    assert!(text.contains("PC010"), "{text}");
    assert_eq!(
        trailguard(&["policy", "check", &admin, "--fail-on", "never"])
            .status
            .code(),
        Some(0)
    );
    let clean = write(&dir, "clean.json", CLEAN);
    assert_eq!(
        trailguard(&["policy", "check", &clean]).status.code(),
        Some(0)
    );
    let broken = write(&dir, "broken.json", "{\"Statement\": [}");
    let out = trailguard(&["policy", "check", &broken, "--format", "json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).contains("\"PC001\""));
}

#[test]
fn check_json_and_sarif_carry_locations() {
    let dir = tempfile::tempdir().unwrap();
    let admin = write(&dir, "admin.json", ADMIN);
    let out = trailguard(&[
        "policy", "check", &admin, "--format", "json", "--select", "PC010",
    ]);
    let findings: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0]["location"]["line"], 5);
    assert_eq!(findings[0]["location"]["json_path"], "Statement[1]");
    let sarif_path = dir.path().join("out.sarif");
    let out = trailguard(&[
        "policy",
        "check",
        &admin,
        "--format",
        "sarif",
        "--output",
        sarif_path.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let log: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sarif_path).unwrap()).unwrap();
    assert_eq!(log["version"], "2.1.0");
    let results = log["runs"][0]["results"].as_array().unwrap();
    let admin_result = results.iter().find(|r| r["ruleId"] == "PC010").unwrap();
    assert_eq!(
        admin_result["locations"][0]["physicalLocation"]["region"]["startLine"],
        5
    );
}

#[test]
fn check_reads_authorization_details_and_url_encoded_documents() {
    let path = trailguard_testkit::shared_data().join("peer-suites/cloudsplaining/example.json");
    let out = trailguard(&[
        "policy",
        "check",
        path.to_str().unwrap(),
        "--format",
        "json",
        "--select",
        "PC019",
    ]);
    let text = stdout(&out);
    assert!(
        text.contains("policy/privesc4-CreateAccessKey (v1, default)"),
        "{}",
        &text[..text.len().min(2000)]
    );
    assert!(text.contains("CreateNewPolicyVersion"));
    let dir = tempfile::tempdir().unwrap();
    let encoded = write(&dir, "encoded.txt", "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22iam%3APassRole%22%2C%22Resource%22%3A%22*%22%7D%5D%7D");
    let out = trailguard(&["policy", "check", &encoded, "--format", "json"]);
    assert!(stdout(&out).contains("\"PC013\""), "{}", stdout(&out));
}

#[test]
fn diff_shows_the_delta_and_added_risk() {
    let dir = tempfile::tempdir().unwrap();
    let old = write(&dir, "old.json", OLD);
    let new = write(&dir, "new.json", NEW);
    let out = trailguard(&["policy", "diff", &old, &new]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.contains("+ iam:CreatePolicyVersion"), "{text}");
    assert!(text.contains("- s3:PutObject"), "{text}");
    assert!(
        text.contains("privilege escalation: CreateNewPolicyVersion"),
        "{text}"
    );
    assert_eq!(
        trailguard(&["policy", "diff", &old, &new, "--fail-on-risk"])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        trailguard(&["policy", "diff", &new, &old, "--fail-on-risk"])
            .status
            .code(),
        Some(0)
    );
    let json: serde_json::Value = serde_json::from_slice(
        &trailguard(&["policy", "diff", &old, &new, "--format", "json"]).stdout,
    )
    .unwrap();
    insta::assert_json_snapshot!(json);
}

#[test]
fn expand_and_simulate() {
    let out = trailguard(&["policy", "expand", "iam:Create*", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let actions = json["iam:Create*"].as_array().unwrap();
    assert!(actions.iter().any(|a| a["action"] == "iam:CreateUser"));
    assert_eq!(
        trailguard(&["policy", "expand", "nosuch:*"]).status.code(),
        Some(2)
    );

    let dir = tempfile::tempdir().unwrap();
    let mfa = write(
        &dir,
        "mfa.json",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}"#,
    );
    let allowed = trailguard(&[
        "policy",
        "simulate",
        &mfa,
        "--action",
        "iam:CreateUser",
        "--context",
        "aws:MultiFactorAuthPresent=true",
    ]);
    assert_eq!(allowed.status.code(), Some(0));
    assert!(stdout(&allowed).contains("ALLOW"));
    let unknown = trailguard(&[
        "policy",
        "simulate",
        &mfa,
        "--action",
        "iam:CreateUser",
        "--unknown-missing",
    ]);
    assert!(
        stdout(&unknown).contains("DEPENDING ON aws:MultiFactorAuthPresent"),
        "{}",
        stdout(&unknown)
    );
    let denied = trailguard(&["policy", "simulate", &mfa, "--action", "iam:CreateUser"]);
    assert_eq!(denied.status.code(), Some(1));
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn unknown_check_codes_and_names_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let admin = write(&dir, "admin.json", ADMIN);
    for (flag, value, hint) in [
        ("--select", "PC999", "did you mean"),
        ("--select", "privilege-escalatoin", "`privilege-escalation`"),
        ("--ignore", "PC010,XX001", "`XX001`"),
    ] {
        let out = trailguard(&["policy", "check", &admin, flag, value]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{flag} {value}: {}",
            stdout(&out)
        );
        assert!(
            stderr(&out).contains(hint),
            "{flag} {value}: {}",
            stderr(&out)
        );
        assert!(stderr(&out).contains(flag), "{}", stderr(&out));
        assert!(!stdout(&out).contains("No findings"), "{}", stdout(&out));
    }
    // A rule name selects that rule, as a code does.
    let out = trailguard(&[
        "policy",
        "check",
        &admin,
        "--select",
        "admin-access",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let codes: Vec<String> = stdout(&out)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["rule_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(codes, ["PC010"]);
}

#[test]
fn check_accepts_a_byte_order_mark() {
    let dir = tempfile::tempdir().unwrap();
    let admin = write(&dir, "bom.json", &format!("\u{feff}{ADMIN}"));
    let out = trailguard(&["policy", "check", &admin, "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).contains("\"PC010\""), "{}", stdout(&out));
    assert!(!stdout(&out).contains("\"PC001\""), "{}", stdout(&out));
}

#[test]
fn diff_from_read_only_to_everything_lists_only_gains() {
    let dir = tempfile::tempdir().unwrap();
    let read_only = write(
        &dir,
        "ro.json",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::reports","arn:aws:s3:::reports/*"]}]}"#,
    );
    let admin = write(
        &dir,
        "admin.json",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    );
    let out = trailguard(&["policy", "diff", &read_only, &admin]);
    let text = stdout(&out);
    assert!(text.contains(", 0 no longer allowed"), "{text}");
    assert!(!text.contains("\n- on"), "{text}");
    assert!(text.contains("full administrator access"), "{text}");
    assert!(
        text.contains("+ on * except arn:aws:s3:::reports or arn:aws:s3:::reports/*"),
        "{text}"
    );
}

#[test]
fn misspelled_actions_are_refused_with_a_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let admin = write(&dir, "admin.json", ADMIN);
    let out = trailguard(&["policy", "expand", "iam:CreatUser"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("did you mean `iam:CreateUser`"),
        "{}",
        stderr(&out)
    );
    let out = trailguard(&["policy", "expand", "iamm:CreateUser"]);
    assert!(
        stderr(&out).contains("did you mean `iam:CreateUser`"),
        "{}",
        stderr(&out)
    );
    let out = trailguard(&["policy", "simulate", &admin, "--action", "iam:CreateUsr"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("did you mean `iam:CreateUser`"),
        "{}",
        stderr(&out)
    );
    assert!(!stdout(&out).contains("decision"), "{}", stdout(&out));

    let details = shared_data_file("peer-suites/cloudsplaining/example.json");
    let out = trailguard(&[
        "audit",
        "who-can",
        "iam:CreatAccountAlias",
        "--offline",
        &details,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("did you mean `iam:CreateAccountAlias`"),
        "{}",
        stderr(&out)
    );
}

fn shared_data_file(path: &str) -> String {
    trailguard_testkit::shared_data()
        .join(path)
        .display()
        .to_string()
}

#[test]
fn who_can_shows_each_condition_with_operator_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let details = write(
        &dir,
        "details.json",
        r#"{"UserDetailList": [{"UserName": "fresh", "Arn": "arn:aws:iam::111122223333:user/fresh", "UserId": "AIDAFRESH",
            "UserPolicyList": [{"PolicyName": "recent-sessions", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
              {"Effect": "Allow", "Action": "iam:CreateAccountAlias", "Resource": "*",
               "Condition": {"DateGreaterThan": {"aws:TokenIssueTime": "2024-01-01T00:00:00Z"}}}]}}],
            "GroupList": [], "AttachedManagedPolicies": []}],
          "GroupDetailList": [], "RoleDetailList": [], "Policies": []}"#,
    );
    let out = trailguard(&[
        "audit",
        "who-can",
        "iam:CreateAccountAlias",
        "--offline",
        &details,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("only if aws:TokenIssueTime DateGreaterThan 2024-01-01T00:00:00Z"),
        "{text}"
    );
}
