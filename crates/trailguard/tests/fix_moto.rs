//! End-to-end tests of `trailguard fix` against a local moto server: create the bad state, plan, apply,
//! assert the new state through the API, re-apply (nothing changes), undo and assert the old state again;
//! resume an interrupted apply; and run the generated boto3 script.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{json, Value};
use trailguard_rules::remediation::{FixAction, PrincipalKind};
use trailguard_rules::{Finding, FindingSource, Fix, Severity};
use trailguard_testkit::MotoServer;

const ACCOUNT: &str = "123456789012";

/// Runs a Python snippet against the server; its stdout parsed as JSON when it prints any.
fn python(server: &MotoServer, code: &str) -> Value {
    let stdout = server.python(code);
    if stdout.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(stdout.trim()).expect("python printed JSON")
    }
}

const SETUP: &str = r#"
import boto3, json
iam = boto3.client("iam")
narrow = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
admin = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
arn = iam.create_policy(PolicyName="app-policy", PolicyDocument=narrow)["Policy"]["Arn"]
iam.create_policy_version(PolicyArn=arn, PolicyDocument=admin, SetAsDefault=True)
iam.create_user(UserName="mallory")
iam.attach_user_policy(UserName="mallory", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
iam.create_role(RoleName="app-role", AssumeRolePolicyDocument=trust)
iam.put_role_policy(RoleName="app-role", PolicyName="backdoor", PolicyDocument=admin)
iam.create_user(UserName="victim")
key = iam.create_access_key(UserName="victim")["AccessKey"]["AccessKeyId"]
iam.create_login_profile(UserName="victim", Password="Sup3r-secret-pass!", PasswordResetRequired=False)
iam.update_account_password_policy(MinimumPasswordLength=8, PasswordReusePrevention=5, RequireSymbols=False)
iam.create_group(GroupName="devs")
iam.create_user(UserName="stale", Tags=[{"Key": "team", "Value": "legacy"}])
iam.add_user_to_group(GroupName="devs", UserName="stale")
iam.attach_user_policy(UserName="stale", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
iam.put_user_policy(UserName="stale", PolicyName="own-keys", PolicyDocument=narrow)
iam.create_access_key(UserName="stale")
print(json.dumps({"policy_arn": arn, "victim_key": key}))
"#;

const DUMP: &str = r#"
import boto3, json
iam = boto3.client("iam")
arn = "arn:aws:iam::123456789012:policy/app-policy"
versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
default = [v["VersionId"] for v in versions if v["IsDefaultVersion"]][0]
doc = iam.get_policy_version(PolicyArn=arn, VersionId=default)["PolicyVersion"]["Document"]
mallory = [p["PolicyArn"] for p in iam.list_attached_user_policies(UserName="mallory")["AttachedPolicies"]]
role_inline = iam.list_role_policies(RoleName="app-role")["PolicyNames"]
keys = {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName="victim")["AccessKeyMetadata"]}
try:
    iam.get_login_profile(UserName="victim"); victim_login = True
except iam.exceptions.NoSuchEntityException:
    victim_login = False
pp = iam.get_account_password_policy()["PasswordPolicy"]
users = sorted(u["UserName"] for u in iam.list_users()["Users"])
stale = None
if "stale" in users:
    stale = {
        "groups": [g["GroupName"] for g in iam.list_groups_for_user(UserName="stale")["Groups"]],
        "attached": [p["PolicyArn"] for p in iam.list_attached_user_policies(UserName="stale")["AttachedPolicies"]],
        "inline": iam.list_user_policies(UserName="stale")["PolicyNames"],
        "tags": iam.list_user_tags(UserName="stale")["Tags"],
    }
print(json.dumps({
    "versions": sorted(v["VersionId"] for v in versions), "default": default,
    "default_allows_all": doc["Statement"][0]["Action"] == "*",
    "mallory": mallory, "role_inline": role_inline, "victim_keys": keys, "victim_login": victim_login,
    "min_length": pp.get("MinimumPasswordLength"), "reuse": pp.get("PasswordReusePrevention"),
    "symbols": pp.get("RequireSymbols"), "users": users, "stale": stale,
    "aliases": iam.list_account_aliases()["AccountAliases"],
}))
"#;

fn finding(id: &str, rule: &str, action: FixAction) -> Finding {
    let mut finding = Finding::new(
        id,
        rule,
        "test",
        format!("{rule} finding"),
        Severity::High,
        FindingSource::Cloudtrail,
        "seeded by the test",
    );
    finding.account = Some(ACCOUNT.into());
    finding.fix = Fix {
        actions: vec![action],
        ..Default::default()
    };
    finding
}

fn write_findings(path: &Path, findings: &[Finding]) {
    let mut text = String::new();
    for f in findings {
        text.push_str(&serde_json::to_string(f).unwrap());
        text.push('\n');
    }
    // A summary line like scan writes: reported as "not a finding", never fatal.
    text.push_str("{\"type\":\"summary\",\"findings\":7}\n");
    std::fs::write(path, text).unwrap();
}

fn trailguard(server: &MotoServer, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(args)
        .args(["--endpoint-url", &server.endpoint()])
        .envs(server.env())
        .output()
        .expect("trailguard runs")
}

/// `fix journal` reads only the local journal: no endpoint.
fn journal_listing(journal: &str, extra: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(["fix", "journal", "--journal", journal])
        .args(extra)
        .output()
        .expect("trailguard runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout(&out)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn all_findings(policy_arn: &str, victim_key: &str) -> Vec<Finding> {
    vec![
        finding(
            "tg-version",
            "CT001",
            FixAction::RevertPolicyVersion {
                policy_arn: policy_arn.into(),
                bad_version: "v2".into(),
                restore_version: None,
            },
        ),
        finding(
            "tg-attach",
            "CT005",
            FixAction::DetachPolicy {
                principal_kind: PrincipalKind::User,
                principal_name: "mallory".into(),
                policy_arn: "arn:aws:iam::aws:policy/AdministratorAccess".into(),
            },
        ),
        finding(
            "tg-inline",
            "CT004",
            FixAction::DeleteInlinePolicy {
                principal_kind: PrincipalKind::Role,
                principal_name: "app-role".into(),
                policy_name: "backdoor".into(),
            },
        ),
        finding(
            "tg-key",
            "CT008",
            FixAction::DeactivateAccessKey {
                user_name: "victim".into(),
                access_key_id: victim_key.into(),
            },
        ),
        finding(
            "tg-login",
            "CT009",
            FixAction::DeleteLoginProfile {
                user_name: "victim".into(),
            },
        ),
        finding("tg-pw", "PA001", FixAction::SetCisPasswordPolicy),
        finding(
            "tg-stale",
            "PA010",
            FixAction::DeleteUnusedUser {
                user_name: "stale".into(),
            },
        ),
        finding(
            "tg-alias",
            "CT007",
            FixAction::RestoreAccountAlias {
                alias: "acme-prod".into(),
            },
        ),
    ]
}

#[test]
fn plan_apply_reapply_and_undo_against_moto() {
    let server = MotoServer::start();
    let seeded = python(&server, SETUP);
    let policy_arn = seeded["policy_arn"].as_str().unwrap().to_owned();
    let victim_key = seeded["victim_key"].as_str().unwrap().to_owned();
    let before = python(&server, DUMP);
    assert_eq!(before["default"], "v2");
    assert_eq!(before["default_allows_all"], true);

    let dir = tempfile::tempdir().unwrap();
    let findings_path = dir.path().join("findings.jsonl");
    let journal = dir.path().join("journal.db");
    let journal_s = journal.to_str().unwrap();
    write_findings(&findings_path, &all_findings(&policy_arn, &victim_key));
    let from = findings_path.to_str().unwrap();

    // Plan only: shows the calls, changes nothing.
    let plan = trailguard(&server, &["fix", "--from", from, "--journal", journal_s]);
    assert!(
        plan.status.success(),
        "{}",
        String::from_utf8_lossy(&plan.stderr)
    );
    let text = stdout(&plan);
    assert!(text.contains("Plan: 8 change(s) to make"), "{text}");
    assert!(text.contains("aws iam set-default-policy-version --policy-arn arn:aws:iam::123456789012:policy/app-policy --version-id v1"), "{text}");
    assert!(text.contains("aws iam delete-policy-version --policy-arn arn:aws:iam::123456789012:policy/app-policy --version-id v2"), "{text}");
    assert!(
        text.contains("aws iam update-access-key --user-name victim"),
        "{text}"
    );
    assert!(
        text.contains("NOT reversible"),
        "login profile deletion is flagged irreversible: {text}"
    );
    assert!(
        String::from_utf8_lossy(&plan.stderr).contains("not a finding"),
        "the summary line is reported"
    );
    assert_eq!(
        python(&server, DUMP),
        before,
        "a plan without --apply changes nothing"
    );

    // Without --yes and without a terminal, apply refuses.
    let refused = trailguard(
        &server,
        &["fix", "--from", from, "--journal", journal_s, "--apply"],
    );
    assert_eq!(refused.status.code(), Some(2));
    assert_eq!(python(&server, DUMP), before);

    let applied = trailguard(
        &server,
        &[
            "fix",
            "--from",
            from,
            "--journal",
            journal_s,
            "--apply",
            "--yes",
        ],
    );
    assert!(
        applied.status.success(),
        "{}\n{}",
        stdout(&applied),
        String::from_utf8_lossy(&applied.stderr)
    );
    let after = python(&server, DUMP);
    assert_eq!(after["default"], "v1");
    assert_eq!(after["versions"], json!(["v1"]));
    assert_eq!(after["mallory"], json!([]));
    assert_eq!(after["role_inline"], json!([]));
    assert_eq!(
        after["victim_keys"][&victim_key], "Inactive",
        "deactivated, not deleted"
    );
    assert_eq!(after["victim_login"], false);
    assert_eq!(after["min_length"], 14);
    assert_eq!(after["reuse"], 24);
    assert_eq!(after["symbols"], true);
    assert!(!after["users"].as_array().unwrap().contains(&json!("stale")));
    assert_eq!(after["aliases"], json!(["acme-prod"]));

    // Idempotent: planning again finds everything in place, applying again changes nothing.
    let again = trailguard(
        &server,
        &[
            "fix",
            "--from",
            from,
            "--journal",
            journal_s,
            "--apply",
            "--yes",
        ],
    );
    assert!(again.status.success());
    assert!(
        stdout(&again).contains("Plan: 0 change(s) to make"),
        "{}",
        stdout(&again)
    );
    assert_eq!(python(&server, DUMP), after);

    // Undo every reversible change from the journal.
    let listing = journal_listing(journal_s, &["--format", "json"]);
    let changes: Vec<Value> = listing
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(changes.len(), 8);
    assert!(
        changes.iter().all(|c| c["status"] == "applied"),
        "{changes:?}"
    );
    for change in &changes {
        let id = change["id"].as_str().unwrap();
        let undo = trailguard(
            &server,
            &["fix", "undo", id, "--journal", journal_s, "--yes"],
        );
        if change["step"]["action"]["action"] == "delete_login_profile" {
            assert_eq!(
                undo.status.code(),
                Some(2),
                "irreversible change refuses to undo"
            );
            assert!(String::from_utf8_lossy(&undo.stderr).contains("cannot be undone"));
        } else {
            assert!(
                undo.status.success(),
                "undo {id}: {}\n{}",
                stdout(&undo),
                String::from_utf8_lossy(&undo.stderr)
            );
        }
    }
    let undone = python(&server, DUMP);
    assert_eq!(
        undone["default_allows_all"], true,
        "the admin version is back as default (new id)"
    );
    assert_eq!(undone["default"], "v3");
    assert_eq!(
        undone["mallory"],
        json!(["arn:aws:iam::aws:policy/AdministratorAccess"])
    );
    assert_eq!(undone["role_inline"], json!(["backdoor"]));
    assert_eq!(undone["victim_keys"][&victim_key], "Active");
    assert_eq!(undone["min_length"], 8);
    assert_eq!(undone["reuse"], 5);
    assert_eq!(undone["symbols"], false);
    assert_eq!(undone["stale"]["groups"], json!(["devs"]));
    assert_eq!(
        undone["stale"]["attached"],
        json!(["arn:aws:iam::aws:policy/ReadOnlyAccess"])
    );
    assert_eq!(undone["stale"]["inline"], json!(["own-keys"]));
    assert_eq!(
        undone["stale"]["tags"],
        json!([{"Key": "team", "Value": "legacy"}])
    );
    assert_eq!(undone["aliases"], json!([]));
}

#[test]
fn an_interrupted_apply_resumes_from_the_journal() {
    let server = MotoServer::start();
    let seeded = python(&server, SETUP);
    let policy_arn = seeded["policy_arn"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let findings_path = dir.path().join("f.jsonl");
    let journal = dir.path().join("j.db");
    let journal_s = journal.to_str().unwrap();
    let revert = finding(
        "tg-version",
        "CT001",
        FixAction::RevertPolicyVersion {
            policy_arn: policy_arn.into(),
            bad_version: "v2".into(),
            restore_version: Some("v1".into()),
        },
    );
    write_findings(&findings_path, &[revert]);
    let from = findings_path.to_str().unwrap();

    // Crash after the first of two calls: v1 is default again, v2 not yet deleted.
    let cut = trailguard(
        &server,
        &[
            "fix",
            "--from",
            from,
            "--journal",
            journal_s,
            "--apply",
            "--yes",
            "--interrupt-after-calls",
            "1",
        ],
    );
    assert_eq!(
        cut.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&cut.stderr)
    );
    let mid = python(&server, DUMP);
    assert_eq!(mid["default"], "v1");
    assert_eq!(mid["versions"], json!(["v1", "v2"]));
    let listing = journal_listing(journal_s, &["--calls"]);
    assert!(listing.contains("pending"), "{listing}");
    assert!(
        listing.contains("apply #0 ok"),
        "the first call is journaled as done: {listing}"
    );

    let resumed = trailguard(&server, &["fix", "resume", "--journal", journal_s, "--yes"]);
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let done = python(&server, DUMP);
    assert_eq!(done["versions"], json!(["v1"]));
    let listing = journal_listing(journal_s, &[]);
    assert!(
        listing.contains("applied") && !listing.contains("pending"),
        "{listing}"
    );

    // The change journaled by the interrupted run undoes with the prior state saved before it started.
    let id = listing.split_whitespace().next().unwrap();
    let undo = trailguard(
        &server,
        &["fix", "undo", id, "--journal", journal_s, "--yes"],
    );
    assert!(
        undo.status.success(),
        "{}",
        String::from_utf8_lossy(&undo.stderr)
    );
    assert_eq!(python(&server, DUMP)["default_allows_all"], true);

    let nothing = trailguard(&server, &["fix", "resume", "--journal", journal_s, "--yes"]);
    assert!(stdout(&nothing).contains("Nothing to resume"));
}

#[test]
fn the_boto3_script_and_cli_script_make_the_same_fix() {
    let server = MotoServer::start();
    let seeded = python(&server, SETUP);
    let dir = tempfile::tempdir().unwrap();
    let findings_path = dir.path().join("f.jsonl");
    let findings = all_findings(
        seeded["policy_arn"].as_str().unwrap(),
        seeded["victim_key"].as_str().unwrap(),
    );
    write_findings(&findings_path, &findings);
    let from = findings_path.to_str().unwrap();

    let script = trailguard(&server, &["fix", "--from", from, "--format", "python"]);
    assert!(script.status.success());
    let script = stdout(&script);
    assert!(
        script.contains("iam.delete_policy_version(PolicyArn="),
        "{script}"
    );
    python(&server, &script);
    let after = python(&server, DUMP);
    assert_eq!(after["default"], "v1");
    assert_eq!(after["mallory"], json!([]));
    assert_eq!(after["min_length"], 14);
    assert!(!after["users"].as_array().unwrap().contains(&json!("stale")));

    let cli = trailguard(&server, &["fix", "--from", from, "--format", "cli"]);
    let cli = stdout(&cli);
    assert!(cli.starts_with("#!/usr/bin/env bash"));
    assert_eq!(
        cli.lines().filter(|l| l.starts_with("aws ")).count(),
        0,
        "everything is already fixed: {cli}"
    );
}

/// A CreatePolicyVersion record (shaped like CloudTrail's) in moto's account: scanning it must yield a
/// finding whose fix reverts exactly that version.
const CREATE_POLICY_VERSION_EVENT: &str = r#"{"Records":[{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLEDEVUSER01","arn":"arn:aws:iam::123456789012:user/dev-ci","accountId":"123456789012","accessKeyId":"AKIAEXAMPLEDEVKEY001","userName":"dev-ci"},"eventTime":"2026-11-20T10:15:42Z","eventSource":"iam.amazonaws.com","eventName":"CreatePolicyVersion","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.23","userAgent":"aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0 exe/x86_64.ubuntu.22 prompt/off command/iam.create-policy-version","requestParameters":{"policyArn":"arn:aws:iam::123456789012:policy/app-policy","policyDocument":"%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22*%22%2C%22Resource%22%3A%22*%22%7D%5D%7D","setAsDefault":true},"responseElements":{"policyVersion":{"versionId":"v2","isDefaultVersion":true,"createDate":"Nov 20, 2026 10:15:42 AM"}},"requestID":"4f1c2a9e-6b1d-4c57-9a3e-0d8e4b9f2c11","eventID":"9b3e7f40-2d6a-4c1e-8f59-7a1d2c3b4e5f","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"123456789012","eventCategory":"Management","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"iam.amazonaws.com"}}]}"#;

#[test]
fn a_scanned_create_policy_version_is_reverted_end_to_end() {
    let server = MotoServer::start();
    python(&server, SETUP);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("trail.json");
    std::fs::write(&log, CREATE_POLICY_VERSION_EVENT).unwrap();
    let findings_path = dir.path().join("findings.jsonl");
    let scan = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args([
            "scan",
            "--format",
            "json",
            "--output",
            findings_path.to_str().unwrap(),
            log.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        scan.status.code(),
        Some(1),
        "an admin policy version is a finding: {}",
        String::from_utf8_lossy(&scan.stderr)
    );
    let findings = std::fs::read_to_string(&findings_path).unwrap();
    assert!(findings.contains("revert_policy_version"), "{findings}");

    // The same finding, kept in the store by `scan --store`, is fixed by its id alone.
    let store = dir.path().join("store.db");
    let stored = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args([
            "scan",
            "--quiet",
            "--store",
            store.to_str().unwrap(),
            log.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        stored.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&stored.stderr)
    );
    let finding: Value = findings
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|f| f["rule_id"] == "CT001")
        .unwrap();
    let id = finding["id"].as_str().unwrap();
    let planned = trailguard(&server, &["fix", id, "--store", store.to_str().unwrap()]);
    assert!(
        planned.status.success(),
        "{}",
        String::from_utf8_lossy(&planned.stderr)
    );
    assert!(
        stdout(&planned).contains("Plan: 1 change(s) to make"),
        "{}",
        stdout(&planned)
    );
    assert!(
        stdout(&planned).contains("--version-id v1"),
        "{}",
        stdout(&planned)
    );

    let journal = dir.path().join("j.db");
    let applied = trailguard(
        &server,
        &[
            "fix",
            id,
            "--store",
            store.to_str().unwrap(),
            "--journal",
            journal.to_str().unwrap(),
            "--apply",
            "--yes",
        ],
    );
    assert!(
        applied.status.success(),
        "{}\n{}",
        stdout(&applied),
        String::from_utf8_lossy(&applied.stderr)
    );
    let state = python(&server, DUMP);
    assert_eq!(state["default"], "v1");
    assert_eq!(state["versions"], json!(["v1"]));
    assert_eq!(state["default_allows_all"], false);
}

/// `audit` finds a weak password policy and a directly attached admin policy in moto; `fix --from` the
/// audit's JSON repairs both; a second audit no longer reports them.
#[test]
fn audit_findings_are_fixed_and_the_next_audit_is_clean_of_them() {
    let server = MotoServer::start();
    python(&server, SETUP);
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("audit.jsonl");
    let audit = |out: &Path| {
        let result = Command::new(env!("CARGO_BIN_EXE_trailguard"))
            .args([
                "audit",
                "--format",
                "json",
                "--fail-on",
                "never",
                "--output",
                out.to_str().unwrap(),
            ])
            .args([
                "--endpoint-url",
                &server.endpoint(),
                "--region",
                "us-east-1",
            ])
            .envs(server.env())
            .output()
            .unwrap();
        assert!(
            result.status.success(),
            "{}",
            String::from_utf8_lossy(&result.stderr)
        );
        let text = std::fs::read_to_string(out).unwrap();
        text.lines()
            .filter_map(|l| serde_json::from_str::<Finding>(l).ok())
            .collect::<Vec<_>>()
    };
    let before = audit(&report);
    let weak_policy = |findings: &[Finding]| findings.iter().any(|f| f.rule_id == "PA001");
    assert!(weak_policy(&before), "the 8-character policy is reported");
    assert!(
        before
            .iter()
            .any(|f| f.fix.actions.contains(&FixAction::SetCisPasswordPolicy)),
        "and carries the fix action"
    );

    let journal = dir.path().join("j.db");
    let fixed = trailguard(
        &server,
        &[
            "fix",
            "--from",
            report.to_str().unwrap(),
            "--journal",
            journal.to_str().unwrap(),
            "--apply",
            "--yes",
        ],
    );
    let fixed_out = stdout(&fixed);
    assert!(
        fixed.status.success(),
        "{fixed_out}\n{}",
        String::from_utf8_lossy(&fixed.stderr)
    );
    assert!(
        fixed_out.contains("update-account-password-policy"),
        "{fixed_out}"
    );
    let state = python(&server, DUMP);
    assert_eq!(state["min_length"], 14);
    assert_eq!(state["reuse"], 24);

    let after = audit(&dir.path().join("audit2.jsonl"));
    assert!(
        !weak_policy(&after),
        "the password policy finding is gone after the fix"
    );
    assert!(
        after.len() < before.len(),
        "{} findings before, {} after",
        before.len(),
        after.len()
    );
}
