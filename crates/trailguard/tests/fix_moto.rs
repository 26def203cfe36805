//! End-to-end tests of `trailguard fix` against a local moto server: create the bad state, plan, apply,
//! assert the new state through the API, re-apply (nothing changes), undo and assert the old state again;
//! resume an interrupted apply; and run the generated boto3 script.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{json, Value};
use trailguard_rules::remediation::{FixAction, IdentityKind};
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

/// `fix --from FROM --journal JOURNAL --apply --yes` against the server.
fn apply_fix(server: &MotoServer, from: &str, journal: &str) -> Output {
    trailguard(
        server,
        &[
            "fix",
            "--from",
            from,
            "--journal",
            journal,
            "--apply",
            "--yes",
        ],
    )
}

/// `fix undo ID --journal JOURNAL --yes` against the server.
fn undo_change(server: &MotoServer, id: &str, journal: &str) -> Output {
    trailguard(server, &["fix", "undo", id, "--journal", journal, "--yes"])
}

/// The id of the newest change in the journal (listed first).
fn newest_change(journal: &str) -> String {
    journal_listing(journal, &[])
        .split_whitespace()
        .next()
        .expect("the journal lists a change")
        .to_owned()
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
                bad_version_was_default: None,
            },
        ),
        finding(
            "tg-attach",
            "CT005",
            FixAction::DetachPolicy {
                principal_kind: IdentityKind::User,
                principal_name: "mallory".into(),
                policy_arn: "arn:aws:iam::aws:policy/AdministratorAccess".into(),
            },
        ),
        finding(
            "tg-inline",
            "CT004",
            FixAction::DeleteInlinePolicy {
                principal_kind: IdentityKind::Role,
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

    let applied = apply_fix(&server, from, journal_s);
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
    let again = apply_fix(&server, from, journal_s);
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
        let undo = undo_change(&server, id, journal_s);
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
            bad_version_was_default: Some(true),
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
    let undo = undo_change(&server, id, journal_s);
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

/// A finding as JSON, for fix actions whose newer fields the typed model may not have everywhere.
fn finding_json(id: &str, account: &str, action: Value) -> String {
    let mut finding =
        serde_json::to_value(finding(id, "CT001", FixAction::SetCisPasswordPolicy)).unwrap();
    finding["account"] = json!(account);
    finding["fix"]["actions"] = json!([action]);
    finding.to_string()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Findings from account 111122223333 against credentials for moto's 123456789012: refused before any
/// change, whatever the same-named user in this account has; `--account-map` says the mapping is meant.
#[test]
fn a_finding_from_another_account_is_refused_unless_mapped() {
    let server = MotoServer::start();
    python(&server, SETUP);
    let dir = tempfile::tempdir().unwrap();
    let findings_path = dir.path().join("f.jsonl");
    let detach = json!({"action": "detach_policy", "principal_kind": "user", "principal_name": "mallory",
        "policy_arn": "arn:aws:iam::aws:policy/AdministratorAccess"});
    std::fs::write(
        &findings_path,
        finding_json("tg-other-account", "111122223333", detach) + "\n",
    )
    .unwrap();
    let from = findings_path.to_str().unwrap();
    let journal = dir.path().join("j.db");
    let journal_s = journal.to_str().unwrap();
    let apply = |extra: &[&str]| {
        let mut args = vec![
            "fix",
            "--from",
            from,
            "--journal",
            journal_s,
            "--apply",
            "--yes",
        ];
        args.extend_from_slice(extra);
        trailguard(&server, &args)
    };

    let refused = apply(&[]);
    assert_eq!(refused.status.code(), Some(2), "{}", stdout(&refused));
    let message = stderr(&refused);
    assert!(
        message.contains("111122223333") && message.contains("123456789012"),
        "{message}"
    );
    assert!(
        message.contains("--account-map 111122223333=123456789012"),
        "{message}"
    );
    assert!(
        stdout(&refused).is_empty(),
        "no plan printed: {}",
        stdout(&refused)
    );
    assert_eq!(
        python(&server, DUMP)["mallory"],
        json!(["arn:aws:iam::aws:policy/AdministratorAccess"]),
        "the same-named user in the other account keeps its policy"
    );
    assert!(!journal.exists(), "nothing journaled");

    // A map to another account than the caller's changes nothing.
    let wrong_map = apply(&["--account-map", "111122223333=444455556666"]);
    assert_eq!(wrong_map.status.code(), Some(2));
    let bad_flag = apply(&["--account-map", "111122223333"]);
    assert_eq!(bad_flag.status.code(), Some(2));
    assert!(
        stderr(&bad_flag).contains("FROM=TO"),
        "{}",
        stderr(&bad_flag)
    );

    let mapped = apply(&["--account-map", "111122223333=123456789012"]);
    assert!(mapped.status.success(), "{}", stderr(&mapped));
    assert_eq!(python(&server, DUMP)["mallory"], json!([]));
}

/// Users, roles and policies a finding names but the account does not have are reported missing, never
/// "already in place".
#[test]
fn targets_missing_in_the_account_are_reported_missing() {
    let server = MotoServer::start();
    python(&server, SETUP);
    let dir = tempfile::tempdir().unwrap();
    let findings_path = dir.path().join("f.jsonl");
    let ghost = |id: &str, action: FixAction| finding(id, "CT005", action);
    write_findings(
        &findings_path,
        &[
            ghost(
                "tg-detach",
                FixAction::DetachPolicy {
                    principal_kind: IdentityKind::User,
                    principal_name: "ghost".into(),
                    policy_arn: "arn:aws:iam::aws:policy/AdministratorAccess".into(),
                },
            ),
            ghost(
                "tg-inline",
                FixAction::DeleteInlinePolicy {
                    principal_kind: IdentityKind::Role,
                    principal_name: "ghost-role".into(),
                    policy_name: "backdoor".into(),
                },
            ),
            ghost(
                "tg-login",
                FixAction::DeleteLoginProfile {
                    user_name: "ghost".into(),
                },
            ),
            ghost(
                "tg-user",
                FixAction::DeleteUnusedUser {
                    user_name: "ghost".into(),
                },
            ),
            // Present and already fixed: that one is in place.
            ghost(
                "tg-real",
                FixAction::DeleteLoginProfile {
                    user_name: "mallory".into(),
                },
            ),
        ],
    );
    let plan = trailguard(&server, &["fix", "--from", findings_path.to_str().unwrap()]);
    assert!(plan.status.success(), "{}", stderr(&plan));
    let text = stdout(&plan);
    assert!(
        text.contains("Plan: 0 change(s) to make, 1 already in place, 4 skipped"),
        "{text}"
    );
    assert!(
        text.contains("missing: user `ghost` does not exist in account 123456789012"),
        "{text}"
    );
    assert!(
        text.contains("missing: role `ghost-role` does not exist"),
        "{text}"
    );
}

/// Two findings ask to remove the same policy from `stale`: deleting the user removes it, so the detach
/// finds nothing to do. That change is `unchanged`, not `applied`, and undo refuses it before showing any
/// call: it would otherwise attach a policy trailguard never detached.
#[test]
fn a_change_whose_target_was_already_gone_has_nothing_to_undo() {
    let server = MotoServer::start();
    python(&server, SETUP);
    let dir = tempfile::tempdir().unwrap();
    let findings_path = dir.path().join("f.jsonl");
    let journal = dir.path().join("j.db");
    let journal_s = journal.to_str().unwrap();
    write_findings(
        &findings_path,
        &[
            finding(
                "tg-stale",
                "PA010",
                FixAction::DeleteUnusedUser {
                    user_name: "stale".into(),
                },
            ),
            finding(
                "tg-detach",
                "CT005",
                FixAction::DetachPolicy {
                    principal_kind: IdentityKind::User,
                    principal_name: "stale".into(),
                    policy_arn: "arn:aws:iam::aws:policy/ReadOnlyAccess".into(),
                },
            ),
        ],
    );
    let from = findings_path.to_str().unwrap();
    let applied = apply_fix(&server, from, journal_s);
    assert!(applied.status.success(), "{}", stderr(&applied));
    let out = stdout(&applied);
    assert!(out.contains("Plan: 2 change(s) to make"), "{out}");
    assert!(
        !out.contains("Nothing has changed"),
        "an applied plan does not say nothing changed: {out}"
    );
    let changes: Vec<Value> = journal_listing(journal_s, &["--format", "json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let detach = changes
        .iter()
        .find(|c| c["step"]["action"]["action"] == "detach_policy")
        .unwrap();
    assert_eq!(detach["status"], "unchanged", "{detach}");
    let id = detach["id"].as_str().unwrap();

    let undo = undo_change(&server, id, journal_s);
    assert_eq!(undo.status.code(), Some(2));
    assert!(stderr(&undo).contains("made no call"), "{}", stderr(&undo));
    assert!(
        !stdout(&undo).contains("aws iam"),
        "refused before printing calls: {}",
        stdout(&undo)
    );

    // The user's own change undoes (recreating it), and a second undo of it is refused before any call.
    let user_change = changes
        .iter()
        .find(|c| c["step"]["action"]["action"] == "delete_unused_user")
        .unwrap()["id"]
        .as_str()
        .unwrap();
    let first = undo_change(&server, user_change, journal_s);
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(
        python(&server, DUMP)["stale"]["attached"],
        json!(["arn:aws:iam::aws:policy/ReadOnlyAccess"])
    );
    let again = undo_change(&server, user_change, journal_s);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("undone"), "{}", stderr(&again));
    assert!(!stdout(&again).contains("aws iam"), "{}", stdout(&again));
}

/// With nothing listening at the endpoint, `fix --apply` stops at once with one readable line: the call,
/// the cause and a hint, no SDK debug dump and no minute of retries.
#[test]
fn an_unreachable_endpoint_fails_fast_with_one_readable_line() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let findings_path = dir.path().join("f.jsonl");
    write_findings(
        &findings_path,
        &all_findings("arn:aws:iam::123456789012:policy/app-policy", "AKIAEXAMPLE"),
    );
    let endpoint = format!("http://127.0.0.1:{port}");
    let started = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(["fix", "--from", findings_path.to_str().unwrap()])
        .args(["--journal", dir.path().join("j.db").to_str().unwrap()])
        .args(["--apply", "--yes", "--endpoint-url", &endpoint])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    let message = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{message}");
    assert!(
        elapsed < std::time::Duration::from_secs(10),
        "failed after {elapsed:?}: {message}"
    );
    // The findings file's summary line is warned about; everything else is the one error line.
    let errors: Vec<&str> = message
        .lines()
        .filter(|l| !l.starts_with("warning:"))
        .collect();
    assert_eq!(errors.len(), 1, "one line: {message}");
    assert!(errors[0].starts_with("error: "), "{message}");
    assert!(errors[0].contains("failed:"), "{message}");
    assert!(errors[0].contains("hint"), "{message}");
    assert!(
        !message.contains("DispatchFailure")
            && !message.contains("ConnectorError")
            && !message.contains(" {"),
        "no debug dump: {message}"
    );
}

const TWO_VERSIONS: &str = r#"
import boto3, json
iam = boto3.client("iam")
def doc(action):
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]})
arn = iam.create_policy(PolicyName="two-bad", PolicyDocument=doc("s3:GetObject"))["Policy"]["Arn"]
iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc("iam:*"), SetAsDefault=True)
iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc("*"), SetAsDefault=True)
print(json.dumps({"arn": arn}))
"#;

const VERSIONS: &str = r#"
import boto3, json
iam = boto3.client("iam")
arn = "arn:aws:iam::123456789012:policy/two-bad"
versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
default = [v["VersionId"] for v in versions if v["IsDefaultVersion"]][0]
doc = iam.get_policy_version(PolicyArn=arn, VersionId=default)["PolicyVersion"]["Document"]
print(json.dumps({"versions": sorted(v["VersionId"] for v in versions), "default": default,
    "action": doc["Statement"][0]["Action"]}))
"#;

fn two_version_findings(path: &Path, arn: &str) {
    let revert = |id: &str, version: &str| {
        finding_json(
            id,
            ACCOUNT,
            json!({"action": "revert_policy_version", "policy_arn": arn, "bad_version": version,
                "bad_version_was_default": true}),
        )
    };
    std::fs::write(
        path,
        format!("{}\n{}\n", revert("tg-v2", "v2"), revert("tg-v3", "v3")),
    )
    .unwrap();
}

/// Two versions of one policy, each created as the default: the offline plan (no AWS access) makes v1 the
/// default before deleting either (IAM refuses to delete the default version), in one step, and the AWS
/// CLI script it writes runs cleanly; the live plan is one step too.
#[test]
fn two_versions_of_one_policy_are_reverted_in_one_step() {
    let server = MotoServer::start();
    let arn = python(&server, TWO_VERSIONS)["arn"]
        .as_str()
        .unwrap()
        .to_owned();
    let dir = tempfile::tempdir().unwrap();
    let findings_path = dir.path().join("f.jsonl");
    two_version_findings(&findings_path, &arn);
    let from = findings_path.to_str().unwrap();

    let offline = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(["fix", "--offline", "--format", "cli", "--from", from])
        .output()
        .unwrap();
    let script = stdout(&offline);
    let aws_lines: Vec<&str> = script.lines().filter(|l| l.starts_with("aws ")).collect();
    assert_eq!(aws_lines.len(), 3, "{script}");
    assert!(
        aws_lines[0].starts_with("aws iam set-default-policy-version")
            && aws_lines[0].ends_with("--version-id v1"),
        "{script}"
    );
    let script_path = dir.path().join("plan.sh");
    std::fs::write(&script_path, &script).unwrap();
    let run = Command::new("bash")
        .arg(&script_path)
        .envs(server.env())
        .output()
        .unwrap();
    assert!(run.status.success(), "{}\n{script}", stderr(&run));
    let state = python(&server, VERSIONS);
    assert_eq!(state["versions"], json!(["v1"]));
    assert_eq!(state["action"], "s3:GetObject");

    // Live, against a fresh copy of the bad state.
    server.reset();
    python(&server, TWO_VERSIONS);
    let journal = dir.path().join("j.db");
    let journal_s = journal.to_str().unwrap();
    let applied = apply_fix(&server, from, journal_s);
    assert!(
        applied.status.success(),
        "{}\n{}",
        stdout(&applied),
        stderr(&applied)
    );
    assert!(
        stdout(&applied).contains("Plan: 1 change(s) to make"),
        "{}",
        stdout(&applied)
    );
    let state = python(&server, VERSIONS);
    assert_eq!(state["versions"], json!(["v1"]));
    assert_eq!(state["default"], "v1");

    // Undo puts both documents back, the last default as the default again.
    let id = newest_change(journal_s);
    let undo = undo_change(&server, &id, journal_s);
    assert!(undo.status.success(), "{}", stderr(&undo));
    let state = python(&server, VERSIONS);
    assert_eq!(state["versions"].as_array().unwrap().len(), 3);
    assert_eq!(state["action"], "*");
}

/// After `fix undo` recreated the admin document as v3, the same fix must see it (by its document) and
/// revert it again, not call the fix "already in place" because v2 is gone.
#[test]
fn after_undo_the_same_fix_reverts_the_recreated_document() {
    let server = MotoServer::start();
    let seeded = python(&server, SETUP);
    let policy_arn = seeded["policy_arn"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let findings_path = dir.path().join("f.jsonl");
    let journal = dir.path().join("j.db");
    let journal_s = journal.to_str().unwrap();
    let revert = json!({"action": "revert_policy_version", "policy_arn": policy_arn, "bad_version": "v2",
        "bad_version_was_default": true});
    std::fs::write(
        &findings_path,
        finding_json("tg-version", ACCOUNT, revert) + "\n",
    )
    .unwrap();
    let from = findings_path.to_str().unwrap();
    let apply = || apply_fix(&server, from, journal_s);
    assert!(apply().status.success());
    let id = newest_change(journal_s);
    let undo = undo_change(&server, &id, journal_s);
    assert!(undo.status.success(), "{}", stderr(&undo));
    let undone = python(&server, DUMP);
    assert_eq!(undone["default"], "v3");
    assert_eq!(undone["default_allows_all"], true);

    let again = apply();
    let out = stdout(&again);
    assert!(again.status.success(), "{out}\n{}", stderr(&again));
    assert!(out.contains("Plan: 1 change(s) to make"), "{out}");
    assert!(out.contains("--version-id v3"), "{out}");
    let fixed = python(&server, DUMP);
    assert_eq!(fixed["default"], "v1");
    assert_eq!(fixed["versions"], json!(["v1"]));
}

/// Without --journal, the journal is `$XDG_STATE_HOME/trailguard/journal.db`: `fix journal` in an empty
/// directory creates nothing there, a change applied in one directory is undone from another, and the
/// listing shows the newest change first.
#[test]
fn the_journal_lives_in_the_state_directory_and_lists_newest_first() {
    let server = MotoServer::start();
    let seeded = python(&server, SETUP);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let (here, there) = (dir.path().join("here"), dir.path().join("there"));
    std::fs::create_dir(&here).unwrap();
    std::fs::create_dir(&there).unwrap();
    let run = |cwd: &Path, args: &[&str], endpoint: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_trailguard"));
        cmd.args(args)
            .current_dir(cwd)
            .envs(server.env())
            .env("XDG_STATE_HOME", &state)
            .env("HOME", dir.path().join("home"));
        if endpoint {
            cmd.args(["--endpoint-url", &server.endpoint()]);
        }
        cmd.output().unwrap()
    };
    let empty = run(&here, &["fix", "journal"], false);
    assert!(empty.status.success(), "{}", stderr(&empty));
    assert!(stdout(&empty).contains("The journal is empty"));
    assert_eq!(
        std::fs::read_dir(&here).unwrap().count(),
        0,
        "nothing created in the working directory"
    );
    assert!(!state.exists(), "listing creates no journal");
    let journal = state.join("trailguard").join("journal.db");
    assert!(
        stderr(&empty).contains(&journal.display().to_string()),
        "the path is printed: {}",
        stderr(&empty)
    );

    let findings_path = dir.path().join("f.jsonl");
    let detach = finding(
        "tg-attach",
        "CT005",
        FixAction::DetachPolicy {
            principal_kind: IdentityKind::User,
            principal_name: "mallory".into(),
            policy_arn: "arn:aws:iam::aws:policy/AdministratorAccess".into(),
        },
    );
    let key = finding(
        "tg-key",
        "CT008",
        FixAction::DeactivateAccessKey {
            user_name: "victim".into(),
            access_key_id: seeded["victim_key"].as_str().unwrap().into(),
        },
    );
    let from = findings_path.to_str().unwrap();
    write_findings(&findings_path, &[detach]);
    let first = run(&here, &["fix", "--from", from, "--apply", "--yes"], true);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(stderr(&first).contains(&journal.display().to_string()));
    write_findings(&findings_path, &[key]);
    let second = run(&here, &["fix", "--from", from, "--apply", "--yes"], true);
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(journal.exists());
    assert_eq!(std::fs::read_dir(&here).unwrap().count(), 0);

    let listing = stdout(&run(&there, &["fix", "journal"], false));
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), 2, "{listing}");
    assert!(
        lines[0].contains("deactivate access key"),
        "newest first: {listing}"
    );
    assert!(lines[1].contains("detach"), "{listing}");

    let id = lines[1].split_whitespace().next().unwrap();
    let undo = run(&there, &["fix", "undo", id, "--yes"], true);
    assert!(undo.status.success(), "{}", stderr(&undo));
    assert_eq!(
        python(&server, DUMP)["mallory"],
        json!(["arn:aws:iam::aws:policy/AdministratorAccess"])
    );
}

const SINGLE_REGION_TRAIL: &str = r#"
import boto3
s3 = boto3.client("s3")
s3.create_bucket(Bucket="audit-logs")
ct = boto3.client("cloudtrail")
ct.create_trail(Name="main", S3BucketName="audit-logs", IsMultiRegionTrail=False, EnableLogFileValidation=False)
ct.start_logging(Name="main")
"#;

const TRAILS: &str = r#"
import boto3, json
ct = boto3.client("cloudtrail")
trails = ct.describe_trails()["trailList"]
print(json.dumps([{"name": t["Name"], "multi": t["IsMultiRegionTrail"], "validation": t["LogFileValidationEnabled"]}
    for t in trails]))
"#;

/// An audit of an account with one single-region trail without log file validation: the fix makes that
/// trail multi-region and turns validation on with `update-trail` (no second, paid trail), and undo puts
/// both settings back.
#[test]
fn a_single_region_trail_is_updated_in_place_and_validation_enabled() {
    let server = MotoServer::start();
    python(&server, SINGLE_REGION_TRAIL);
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("audit.jsonl");
    let audit = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(["audit", "--format", "json", "--fail-on", "never"])
        .args(["--output", report.to_str().unwrap()])
        .args([
            "--endpoint-url",
            &server.endpoint(),
            "--region",
            "us-east-1",
        ])
        .envs(server.env())
        .output()
        .unwrap();
    assert!(audit.status.success(), "{}", stderr(&audit));
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(
        text.contains("\"PA018\"") && text.contains("\"PA019\""),
        "{text}"
    );

    let journal = dir.path().join("j.db");
    let journal_s = journal.to_str().unwrap();
    let fixed = trailguard(
        &server,
        &[
            "fix",
            "--from",
            report.to_str().unwrap(),
            "--journal",
            journal_s,
            "--trail-bucket",
            "audit-logs",
            "--apply",
            "--yes",
        ],
    );
    let out = stdout(&fixed);
    assert!(fixed.status.success(), "{out}\n{}", stderr(&fixed));
    assert!(
        out.contains("aws cloudtrail update-trail --name main --is-multi-region-trail"),
        "{out}"
    );
    assert!(
        out.contains("aws cloudtrail update-trail --name main --enable-log-file-validation"),
        "{out}"
    );
    assert!(!out.contains("create-trail"), "{out}");
    assert_eq!(
        python(&server, TRAILS),
        json!([{"name": "main", "multi": true, "validation": true}])
    );

    let changes: Vec<Value> = journal_listing(journal_s, &["--format", "json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|c: &Value| c["step"]["description"].as_str().unwrap().contains("trail"))
        .collect();
    assert_eq!(changes.len(), 2, "{changes:?}");
    for change in &changes {
        let id = change["id"].as_str().unwrap();
        let undo = undo_change(&server, id, journal_s);
        assert!(undo.status.success(), "{}", stderr(&undo));
    }
    assert_eq!(
        python(&server, TRAILS),
        json!([{"name": "main", "multi": false, "validation": false}])
    );
}
