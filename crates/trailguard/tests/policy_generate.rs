//! `trailguard policy generate` end to end on the real logs: the policy on stdout passes `policy check`,
//! the window and the denied requests are stated on stderr. On a hand-written log set: `--out-dir` writes
//! one file per session, refuses session names that are no safe file name, and never overwrites a file
//! unless `--force`.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use trailguard_policy::eval::{evaluate, PolicySet, Request};
use trailguard_policy::PolicyDocument;

fn trailguard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run trailguard")
}

fn logs() -> String {
    trailguard_testkit::shared_data()
        .join("cloudtrail")
        .display()
        .to_string()
}

#[test]
fn generated_policy_passes_policy_check() {
    let user = "arn:aws:iam::123837392027:user/bert-jan";
    let out = trailguard(&["policy", "generate", "--from", &logs(), "--principal", user]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let policy: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(policy["Version"], "2012-10-17");
    assert!(policy["Statement"].as_array().unwrap().len() > 5);
    assert!(stderr.contains("days these logs cover"), "{stderr}");
    assert!(stderr.contains(&format!("{user}: ")), "{stderr}");
    assert!(
        stderr.contains("signin.amazonaws.com ConsoleLogin"),
        "{stderr}"
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("generated.json");
    std::fs::write(&path, &out.stdout).unwrap();
    let findings = policy_check_without_errors(&path);
    assert!(
        findings.contains("\"rule_id\":\"PC019\""),
        "the user escalated: its policy says so"
    );
}

/// Runs `policy check` on a file, asserts it reports no error of the language, and returns its findings
/// (one JSON object per line).
fn policy_check_without_errors(path: &Path) -> String {
    let check = trailguard(&[
        "policy",
        "check",
        path.to_str().unwrap(),
        "--format",
        "json",
        "--fail-on",
        "never",
    ]);
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let findings = String::from_utf8_lossy(&check.stdout).into_owned();
    for line in findings.lines().filter(|l| !l.trim().is_empty()) {
        let finding: serde_json::Value = serde_json::from_str(line).unwrap();
        let code = finding["rule_id"].as_str().unwrap();
        // PC001-PC009 are errors of the language (malformed, unknown action, invalid ARN or Sid); PC024
        // would mean a narrowed statement grants an action on none of its resources.
        let errors = [
            "PC001", "PC002", "PC003", "PC004", "PC005", "PC006", "PC007", "PC008", "PC009",
            "PC024",
        ];
        assert!(!errors.contains(&code), "{}: {line}", path.display());
    }
    findings
}

#[test]
fn sessions_split_and_unknown_principals_are_named() {
    let out = trailguard(&[
        "policy",
        "generate",
        "--from",
        &logs(),
        "--principal",
        "arn:aws:iam::1:user/nobody",
    ]);
    assert_ne!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no calls by `arn:aws:iam::1:user/nobody`"),
        "{stderr}"
    );
    assert!(stderr.contains("principals seen:"), "{stderr}");
    // A role of the real logs, by the first principal it names.
    let role = stderr
        .split(['`', ',', ' '])
        .find(|s| s.contains(":role/"))
        .expect("a role in the real logs")
        .trim()
        .to_string();
    let whole = trailguard(&[
        "policy",
        "generate",
        "--from",
        &logs(),
        "--principal",
        &role,
    ]);
    assert_eq!(
        whole.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&whole.stderr)
    );
    let split = trailguard(&[
        "policy",
        "generate",
        "--from",
        &logs(),
        "--principal",
        &role,
        "--per-session",
    ]);
    assert_eq!(
        split.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&split.stderr)
    );
    let sessions: serde_json::Value = serde_json::from_slice(&split.stdout).unwrap();
    let sessions = sessions.as_object().unwrap();
    assert!(!sessions.is_empty());
    assert!(sessions.values().all(|p| p["Version"] == "2012-10-17"));
}

const ROLE: &str = "arn:aws:iam::111122223333:role/deployer";

/// A successful call by a session of the `deployer` role.
fn role_call(
    session: &str,
    source: &str,
    event: &str,
    params: serde_json::Value,
) -> serde_json::Value {
    serde_json::json!({
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": format!("AROADEPLOYER:{session}"),
            "arn": format!("arn:aws:sts::111122223333:assumed-role/deployer/{session}"),
            "accountId": "111122223333",
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "arn": ROLE, "userName": "deployer"}
            }
        },
        "eventTime": "2024-06-01T10:00:00Z",
        "eventSource": source,
        "eventName": event,
        "awsRegion": "eu-west-1",
        "requestParameters": params,
        "eventID": format!("{session}-{event}"),
        "recipientAccountId": "111122223333",
    })
}

/// Each honest session's calls, as the (permission, resource) pairs IAM authorises them against.
fn session_calls() -> [(&'static str, Vec<(&'static str, &'static str)>); 2] {
    [
        (
            "alice",
            vec![
                ("s3:GetObject", "arn:aws:s3:::trail-data/reports/a.csv"),
                ("s3:ListAllMyBuckets", "*"),
            ],
        ),
        (
            "bob",
            vec![
                ("ec2:DescribeInstances", "*"),
                ("iam:GetRole", "arn:aws:iam::111122223333:role/app"),
            ],
        ),
    ]
}

/// Two honest sessions of the role, one whose name climbs out of a directory, and one whose name holds a
/// terminal escape.
fn write_session_logs(path: &Path) {
    let records = [
        role_call(
            "alice",
            "s3.amazonaws.com",
            "GetObject",
            serde_json::json!({"bucketName": "trail-data", "key": "reports/a.csv"}),
        ),
        role_call(
            "alice",
            "s3.amazonaws.com",
            "ListBuckets",
            serde_json::Value::Null,
        ),
        role_call(
            "bob",
            "ec2.amazonaws.com",
            "DescribeInstances",
            serde_json::Value::Null,
        ),
        role_call(
            "bob",
            "iam.amazonaws.com",
            "GetRole",
            serde_json::json!({"roleName": "app"}),
        ),
        role_call(
            "../x",
            "dynamodb.amazonaws.com",
            "ListTables",
            serde_json::Value::Null,
        ),
        role_call(
            "ev\u{1b}[2Jil",
            "sqs.amazonaws.com",
            "ListQueues",
            serde_json::Value::Null,
        ),
    ];
    std::fs::write(path, serde_json::json!({ "Records": records }).to_string()).unwrap();
}

/// Every action a policy document names, across its statements.
fn actions_of(document: &serde_json::Value) -> BTreeSet<String> {
    document["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["Action"].as_array().unwrap().iter())
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

fn generate_into(logs: &Path, dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "policy",
        "generate",
        "--from",
        logs.to_str().unwrap(),
        "--principal",
        ROLE,
        "--out-dir",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    trailguard(&args)
}

fn file_names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn out_dir_writes_one_checked_policy_per_session() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs.json");
    write_session_logs(&logs);
    let dir = tmp.path().join("policies");
    let out = generate_into(&logs, &dir, &["--per-session"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(out.stdout.is_empty(), "the files replace stdout");

    // Only the honest sessions have files, and nothing was written outside the directory.
    assert_eq!(
        file_names(&dir),
        BTreeSet::from(["alice.json".to_owned(), "bob.json".to_owned()])
    );
    assert_eq!(
        file_names(tmp.path()),
        BTreeSet::from(["logs.json".to_owned(), "policies".to_owned()])
    );
    assert!(
        stderr.contains("warning: session `../x` not written: it holds `/`"),
        "{stderr}"
    );
    // The hostile name is named, escaped: no raw escape character reaches the terminal.
    assert!(
        stderr.contains("warning: session `ev\\u{1b}[2Jil` not written"),
        "{stderr}"
    );
    assert!(!stderr.contains('\u{1b}'), "{stderr}");

    let policies: Vec<(String, PolicyDocument, serde_json::Value)> = session_calls()
        .iter()
        .map(|(session, _)| {
            let path = dir.join(format!("{session}.json"));
            assert!(
                stderr.contains(&format!("wrote {} (session `{session}`)", path.display())),
                "{stderr}"
            );
            policy_check_without_errors(&path);
            let text = std::fs::read_to_string(&path).unwrap();
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            (
                (*session).to_owned(),
                PolicyDocument::parse(&text).unwrap(),
                value,
            )
        })
        .collect();
    for ((session, document, value), (_, calls)) in policies.iter().zip(session_calls()) {
        let expected: BTreeSet<String> = calls.iter().map(|(a, _)| (*a).to_owned()).collect();
        assert_eq!(actions_of(value), expected, "{session}");
        let set = PolicySet {
            identity: vec![document],
            ..PolicySet::default()
        };
        // Each policy allows its own session's calls and none of the other session's.
        for (other, other_calls) in session_calls() {
            for (action, resource) in other_calls {
                let allowed = evaluate(&set, &Request::new(action, resource)).is_allowed();
                assert_eq!(
                    allowed,
                    other == session,
                    "{session}'s policy on {other}'s {action} {resource}"
                );
            }
        }
    }
}

#[test]
fn out_dir_never_overwrites_without_force() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs.json");
    write_session_logs(&logs);
    let dir = tmp.path().join("policies");
    assert!(generate_into(&logs, &dir, &["--per-session"])
        .status
        .success());

    // One file edited by hand, one removed: a run without --force refuses, and writes nothing at all.
    let alice = dir.join("alice.json");
    std::fs::write(&alice, "kept\n").unwrap();
    std::fs::remove_file(dir.join("bob.json")).unwrap();
    let refused = generate_into(&logs, &dir, &["--per-session"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("alice.json"), "{stderr}");
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&alice).unwrap(), "kept\n");
    assert!(!dir.join("bob.json").exists(), "nothing written");

    let forced = generate_into(&logs, &dir, &["--per-session", "--force"]);
    assert!(
        forced.status.success(),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
    let replaced: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&alice).unwrap()).unwrap();
    assert_eq!(
        actions_of(&replaced),
        BTreeSet::from(["s3:GetObject".to_owned(), "s3:ListAllMyBuckets".to_owned()])
    );
    assert!(dir.join("bob.json").exists());
}

#[test]
fn out_dir_without_sessions_writes_the_principal_file() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs.json");
    write_session_logs(&logs);
    let dir = tmp.path().join("policies");
    let out = generate_into(&logs, &dir, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        file_names(&dir),
        BTreeSet::from(["deployer.json".to_owned()])
    );
    let path = dir.join("deployer.json");
    assert!(
        stderr.contains(&format!("wrote {} (`{ROLE}`)", path.display())),
        "{stderr}"
    );
    policy_check_without_errors(&path);
    // Sessions all count for the role: the hostile ones' calls too, since no file is named after them.
    let policy: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut expected: BTreeSet<String> = session_calls()
        .iter()
        .flat_map(|(_, calls)| calls.iter().map(|(a, _)| (*a).to_owned()))
        .collect();
    expected.extend([
        "dynamodb:ListTables".to_owned(),
        "sqs:ListQueues".to_owned(),
    ]);
    assert_eq!(actions_of(&policy), expected);

    // The stdout default with --per-session is still one object of session name → policy.
    let stdout = trailguard(&[
        "policy",
        "generate",
        "--from",
        logs.to_str().unwrap(),
        "--principal",
        ROLE,
        "--per-session",
    ]);
    assert!(stdout.status.success());
    let sessions: serde_json::Value = serde_json::from_slice(&stdout.stdout).unwrap();
    let names: BTreeSet<&str> = sessions
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["../x", "alice", "bob", "ev\u{1b}[2Jil"])
    );
}
