//! `trailguard audit` against a local moto server started by the test: build a known account (users with
//! and without MFA, login profiles, keys, an admin inline policy, a privilege-escalation managed policy
//! attached directly, groups, a role with a broad inline policy, a weak password policy), then audit it
//! live through the library and through the binary, save it with `audit snapshot` and audit the saved
//! directory offline: the findings must be exactly the expected ones, and identical in every mode.
//!
//! What moto lacks (and so what these tests cannot see): no `<root_account>` row in the credential
//! report (root usage is "not evaluated", root keys come from the account summary), a fixed 2015
//! `GeneratedTime` (the audit's "now" falls back to the latest time in the report), no "last used"
//! times for passwords or keys, no Access Analyzer (the call fails: "not evaluated"), and AWS managed
//! policies are not loaded (customer managed ones stand in).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use trailguard_account::live::{self, LiveOptions, NoProgress};
use trailguard_account::AccountSnapshot;
use trailguard_rules::remediation::FixAction;
use trailguard_rules::rules::posture::{self, PostureContext};
use trailguard_rules::{Finding, Severity};
use trailguard_testkit::MotoServer;

const SETUP: &str = r#"
import boto3, json
iam = boto3.client("iam")
doc = lambda *st: json.dumps({"Version": "2012-10-17", "Statement": list(st)})
iam.update_account_password_policy(MinimumPasswordLength=8, PasswordReusePrevention=5, RequireSymbols=False,
    RequireNumbers=True, RequireUppercaseCharacters=True, RequireLowercaseCharacters=True, AllowUsersToChangePassword=True)
ro = iam.create_policy(PolicyName="iam-read", PolicyDocument=doc({"Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"}))["Policy"]["Arn"]
pv = iam.create_policy(PolicyName="policy-editor", PolicyDocument=doc({"Effect": "Allow", "Action": "iam:CreatePolicyVersion", "Resource": "*"}))["Policy"]["Arn"]
iam.create_group(GroupName="devs")
iam.attach_group_policy(GroupName="devs", PolicyArn=ro)
for name in ["alice", "bob", "carol", "dave", "eve"]:
    iam.create_user(UserName=name)
for name in ["alice", "bob", "carol"]:
    iam.add_user_to_group(GroupName="devs", UserName=name)
iam.create_login_profile(UserName="alice", Password="Weak-pass-1")
iam.create_login_profile(UserName="bob", Password="Weak-pass-2")
serial = iam.create_virtual_mfa_device(VirtualMFADeviceName="bob")["VirtualMFADevice"]["SerialNumber"]
iam.enable_mfa_device(UserName="bob", SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321")
iam.create_virtual_mfa_device(VirtualMFADeviceName="orphan")
iam.create_access_key(UserName="carol")
iam.create_access_key(UserName="carol")
iam.put_user_policy(UserName="dave", PolicyName="admin", PolicyDocument=doc({"Effect": "Allow", "Action": "*", "Resource": "*"}))
iam.attach_user_policy(UserName="eve", PolicyArn=pv)
trust = doc({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"})
iam.create_role(RoleName="app", AssumeRolePolicyDocument=trust)
iam.put_role_policy(RoleName="app", PolicyName="s3-all", PolicyDocument=doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}))
boto3.client("s3").create_bucket(Bucket="audit-trail-logs")
boto3.client("cloudtrail").create_trail(Name="regional", S3BucketName="audit-trail-logs", IsMultiRegionTrail=False)
"#;

fn trailguard(server: &MotoServer, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(args)
        .envs(server.env())
        .output()
        .expect("trailguard runs")
}

/// Findings from `--format json` output, and the trailing `audit_summary` object.
fn parse_json_report(stdout: &[u8]) -> (Vec<Finding>, Value) {
    let text = String::from_utf8_lossy(stdout);
    let mut findings = Vec::new();
    let mut summary = Value::Null;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let value: Value = serde_json::from_str(line).expect("every line is JSON");
        match value.get("audit_summary") {
            Some(s) => summary = s.clone(),
            None => findings.push(serde_json::from_value(value).expect("a finding")),
        }
    }
    (findings, summary)
}

/// `(rule, resource name, severity)` of each finding, sorted.
fn keys(findings: &[Finding]) -> BTreeSet<(String, String, Severity)> {
    findings
        .iter()
        .map(|f| {
            let name = f
                .resource
                .as_ref()
                .and_then(|r| r.name.clone())
                .unwrap_or_else(|| "-".into());
            (f.rule_id.clone(), name, f.severity)
        })
        .collect()
}

fn expected() -> BTreeSet<(String, String, Severity)> {
    [
        ("PA001", "-", Severity::Medium),   // length 8, reuse 5, no symbols
        ("PA002", "-", Severity::Critical), // AccountMFAEnabled = 0
        ("PA003", "-", Severity::High),     // so no hardware MFA either
        ("PA006", "alice", Severity::High), // password, no MFA (bob has MFA)
        ("PA007", "orphan", Severity::Low), // created, never enabled
        ("PA011", "carol", Severity::Medium), // two active keys
        ("PA013", "dave", Severity::Low),   // inline policy on the user
        ("PA013", "eve", Severity::Low),    // managed policy on the user
        ("PA014", "dave", Severity::High),  // *:* inline
        ("PA015", "app", Severity::Medium), // s3:* on *: exposure and exfiltration, no privesc
        ("PA015", "eve", Severity::High),   // iam:CreatePolicyVersion on *
        ("PA016", "app", Severity::Medium), // inline s3:* on a role
        ("PA017", "-", Severity::Low),      // no AWSSupportAccess anywhere
        ("PA018", "-", Severity::High),     // one single-region trail, never started
        ("PA019", "regional", Severity::Medium), // no log file validation
        ("PA020", "regional", Severity::Medium), // no KMS key
        ("PA024", "-", Severity::Low),      // no alias
    ]
    .into_iter()
    .map(|(r, n, s)| (r.to_owned(), n.to_owned(), s))
    .collect()
}

fn set_env(server: &MotoServer) {
    for (key, value) in server.env() {
        // One test per binary sets these before any SDK client exists.
        std::env::set_var(key, value);
    }
}

#[test]
fn live_library_binary_and_offline_audits_agree_on_the_exact_findings() {
    let server = MotoServer::start();
    server.python(SETUP);
    set_env(&server);

    // 1. The library: collect live, parse, audit.
    let options = LiveOptions {
        region: Some("us-east-1".into()),
        endpoint_url: Some(server.endpoint()),
        max_attempts: 2,
        ..LiveOptions::default()
    };
    let raw = live::collect(&options, &NoProgress).expect("moto answers");
    // Access Analyzer is the one call moto cannot serve.
    let failed: Vec<&str> = raw.problems.iter().map(|p| p.file.as_str()).collect();
    assert_eq!(failed, ["access-analyzer:ListAnalyzers"]);
    let snapshot = AccountSnapshot::from_raw(&raw);
    assert_eq!(snapshot.account_id.as_deref(), Some("123456789012"));
    let ctx = PostureContext::new(&snapshot, None);
    let report = posture::audit(&ctx);
    assert_eq!(keys(&report.findings), expected(), "{:#?}", report.findings);
    let skipped: Vec<&str> = report
        .not_evaluated
        .iter()
        .map(|n| n.rule_id.as_str())
        .collect();
    assert_eq!(skipped, ["PA005", "PA022"]);

    // Facts worth pinning beyond the keys.
    let by_rule = |rule: &str, name: &str| {
        report
            .findings
            .iter()
            .find(|f| {
                f.rule_id == rule
                    && f.resource
                        .as_ref()
                        .and_then(|r| r.name.as_deref())
                        .unwrap_or("-")
                        == name
            })
            .unwrap_or_else(|| panic!("{rule} {name}"))
            .clone()
    };
    let pa001 = by_rule("PA001", "-");
    assert_eq!(
        pa001.message,
        "Account password policy is weak: minimum length 8 < 14; reuse prevention 5 < 24; symbols not required."
    );
    assert_eq!(
        pa001.fix.actions,
        [
            FixAction::SetCisPasswordPolicy,
            FixAction::RequirePasswordReset {
                user_name: "alice".into()
            },
            FixAction::RequirePasswordReset {
                user_name: "bob".into()
            },
        ]
    );
    let carol = by_rule("PA011", "carol");
    assert!(
        matches!(&carol.fix.actions[0], FixAction::DeactivateAccessKey { user_name, access_key_id }
            if user_name == "carol" && access_key_id.starts_with("AKIA")),
        "{:?}",
        carol.fix.actions
    );
    let eve = by_rule("PA015", "eve");
    assert!(
        eve.message.contains("CreateNewPolicyVersion"),
        "{}",
        eve.message
    );
    let trail = by_rule("PA018", "-");
    assert_eq!(
        trail.message,
        "No trail is multi-region, logging and recording all management events (`regional`: single-region, not logging)."
    );
    // The existing trail is made multi-region and started: no second, paid trail.
    assert_eq!(
        trail.fix.actions,
        [
            FixAction::MakeTrailMultiRegion {
                trail_name: "regional".into()
            },
            FixAction::StartLogging {
                trail_name: "regional".into()
            }
        ]
    );
    let alias = by_rule("PA024", "-");
    assert_eq!(alias.evidence[1].path, "who_can.iam:CreateAccountAlias");
    assert_eq!(
        alias.evidence[1].value,
        serde_json::json!(["arn:aws:iam::123456789012:user/dave"])
    );

    // 2. The binary, live.
    let endpoint = server.endpoint();
    let live_args = [
        "audit",
        "--endpoint-url",
        &endpoint,
        "--region",
        "us-east-1",
        "--max-attempts",
        "2",
        "--format",
        "json",
        "--quiet",
    ];
    let out = trailguard(&server, &live_args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (live_findings, summary) = parse_json_report(&out.stdout);
    assert_eq!(live_findings, report.findings, "binary and library agree");
    assert_eq!(summary["account"], "123456789012");
    assert_eq!(summary["findings"]["critical"], 1);
    let sections: Vec<&str> = summary["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["section"].as_str().unwrap())
        .collect();
    assert_eq!(
        sections,
        [
            "password_policy",
            "root",
            "users_and_credentials",
            "principals_and_policies",
            "logging",
            "account"
        ]
    );
    assert_eq!(
        summary["sections"][0]["score"], 0,
        "the only password check failed"
    );

    // 2b. A live text report speaks of API calls, not snapshot files.
    let text_args: Vec<&str> = live_args[..7]
        .iter()
        .copied()
        .chain(["--fail-on", "never", "--color", "never"])
        .collect();
    let text = trailguard(&server, &text_args);
    assert_eq!(text.status.code(), Some(0));
    let report = String::from_utf8_lossy(&text.stdout);
    assert!(
        report.contains(
            "PA022 IAM Access Analyzer not enabled: no answer from the `list-analyzers` call"
        ),
        "{report}"
    );
    assert!(report.contains("API answers collected"), "{report}");
    assert!(
        report.contains("check(s) not evaluated (their API calls failed or were not allowed)"),
        "{report}"
    );
    for offline_words in ["snapshot", " files, 0 records"] {
        assert!(!report.contains(offline_words), "{offline_words}: {report}");
    }

    // 3. Snapshot, then offline: the same findings, byte for byte.
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("snap");
    let snap = trailguard(
        &server,
        &[
            "audit",
            "snapshot",
            "--out",
            out_dir.to_str().unwrap(),
            "--endpoint-url",
            &endpoint,
            "--region",
            "us-east-1",
            "--max-attempts",
            "2",
            "--quiet",
        ],
    );
    assert!(
        snap.status.success(),
        "{}",
        String::from_utf8_lossy(&snap.stderr)
    );
    for file in [
        "get-account-authorization-details.json",
        "get-credential-report.json",
        "get-account-password-policy.json",
        "get-account-summary.json",
        "list-account-aliases.json",
        "list-virtual-mfa-devices.json",
        "list-server-certificates.json",
        "get-caller-identity.json",
        "describe-trails.json",
        "list-access-keys/carol.json",
        "get-trail-status/regional.json",
        "get-event-selectors/regional.json",
    ] {
        assert!(out_dir.join(file).is_file(), "{file} saved");
    }
    assert!(
        !out_dir.join("list-analyzers.json").exists(),
        "failed calls save nothing"
    );
    let offline = trailguard(
        &server,
        &[
            "audit",
            "--offline",
            out_dir.to_str().unwrap(),
            "--format",
            "json",
            "--quiet",
        ],
    );
    assert_eq!(offline.status.code(), Some(1));
    let (offline_findings, offline_summary) = parse_json_report(&offline.stdout);
    assert_eq!(offline_findings, live_findings, "offline equals live");
    assert_eq!(offline_summary["sections"], summary["sections"]);

    // 4. who-can, live and offline.
    for source in [
        vec!["--endpoint-url", endpoint.as_str(), "--max-attempts", "2"],
        vec!["--offline", out_dir.to_str().unwrap()],
    ] {
        let mut args = vec![
            "audit",
            "who-can",
            "iam:CreatePolicyVersion",
            "--format",
            "json",
            "--quiet",
        ];
        args.extend(source.iter().copied());
        let out = trailguard(&server, &args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
        let names: Vec<&str> = answer["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["dave", "eve"], "{answer:#}");
        assert_eq!(answer["principals_checked"], 6);
    }
    // 4b. The escalation graph, live and offline: the same report (#21: "live (moto) and offline give
    // the same graph"). dave holds `*`; eve may create versions of the policy attached to her.
    let mut reports = Vec::new();
    for source in [
        vec!["--endpoint-url", endpoint.as_str(), "--max-attempts", "2"],
        vec!["--offline", out_dir.to_str().unwrap()],
    ] {
        let mut args = vec!["audit", "paths", "--format", "json"];
        args.extend(source.iter().copied());
        let out = trailguard(&server, &args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        reports.push(report);
    }
    let names: BTreeSet<&str> = reports[0]
        .as_array()
        .expect("a list of principals reaching admin")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(
        names.contains("dave") && names.contains("eve"),
        "{:#}",
        reports[0]
    );
    assert_eq!(
        reports[0], reports[1],
        "live and offline give the same graph"
    );
    write_text_report(&server, &out_dir);

    // 5. The same files saved by the AWS CLI itself give the same findings: one shape, two writers.
    let cli_dir = dir.path().join("cli");
    save_with_aws_cli(&server, &cli_dir);
    let from_cli = trailguard(
        &server,
        &[
            "audit",
            "--offline",
            cli_dir.to_str().unwrap(),
            "--format",
            "json",
            "--quiet",
        ],
    );
    let (cli_findings, _) = parse_json_report(&from_cli.stdout);
    assert_eq!(
        cli_findings, live_findings,
        "AWS CLI output audits like ours"
    );
}

/// Saves a snapshot with `aws` (CLI v1) commands, as an auditor would.
fn save_with_aws_cli(server: &MotoServer, dir: &Path) {
    std::fs::create_dir_all(dir.join("list-access-keys")).unwrap();
    let aws = |args: &[&str], file: Option<&str>| {
        let out = Command::new("aws")
            .args(args)
            .args(["--output", "json"])
            .envs(server.env())
            .output()
            .expect("the aws CLI runs");
        assert!(
            out.status.success(),
            "aws {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if let Some(file) = file {
            std::fs::write(dir.join(file), &out.stdout).unwrap();
        }
    };
    aws(
        &["iam", "get-account-authorization-details"],
        Some("get-account-authorization-details.json"),
    );
    aws(&["iam", "generate-credential-report"], None);
    aws(
        &["iam", "get-credential-report"],
        Some("get-credential-report.json"),
    );
    aws(
        &["iam", "get-account-password-policy"],
        Some("get-account-password-policy.json"),
    );
    aws(
        &["iam", "get-account-summary"],
        Some("get-account-summary.json"),
    );
    aws(
        &["iam", "list-account-aliases"],
        Some("list-account-aliases.json"),
    );
    aws(
        &["iam", "list-virtual-mfa-devices"],
        Some("list-virtual-mfa-devices.json"),
    );
    aws(
        &["iam", "list-server-certificates"],
        Some("list-server-certificates.json"),
    );
    aws(
        &["iam", "list-access-keys", "--user-name", "carol"],
        Some("list-access-keys/carol.json"),
    );
    aws(
        &["sts", "get-caller-identity"],
        Some("get-caller-identity.json"),
    );
    aws(
        &["cloudtrail", "describe-trails"],
        Some("describe-trails.json"),
    );
    std::fs::create_dir_all(dir.join("get-trail-status")).unwrap();
    std::fs::create_dir_all(dir.join("get-event-selectors")).unwrap();
    aws(
        &["cloudtrail", "get-trail-status", "--name", "regional"],
        Some("get-trail-status/regional.json"),
    );
    aws(
        &[
            "cloudtrail",
            "get-event-selectors",
            "--trail-name",
            "regional",
        ],
        Some("get-event-selectors/regional.json"),
    );
}

/// The text report names every finding and ends with the section scores.
fn write_text_report(server: &MotoServer, dir: &Path) {
    let out = trailguard(
        server,
        &[
            "audit",
            "--offline",
            dir.to_str().unwrap(),
            "--color",
            "never",
            "--fail-on",
            "never",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "--fail-on never");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("PA014"), "{text}");
    assert!(text.contains("Posture score: "), "{text}");
    assert!(text.contains("Not evaluated (2):"), "{text}");
    assert!(
        text.contains("PA022 IAM Access Analyzer not enabled: `list-analyzers.json` missing from the snapshot"),
        "{text}"
    );
}
