//! The scripts `trailguard fix --format cli` and `--format python` write are code built from record
//! values, which an attacker chooses. These tests plan fixes for findings with hostile names (newlines,
//! quotes, `$(...)`, backticks, `'''`, backslashes, Unicode line separators, NUL), run the generated
//! scripts against stubs that record what they receive (a fake `aws` on PATH, a fake `boto3` module), and
//! check that every hostile value arrives as one literal argument and that none of the payloads runs.
//! Also here: `fix --from -` reads stdin and takes `audit --format json` output, summary line included.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use trailguard_rules::remediation::{FixAction, IdentityKind};
use trailguard_rules::{Finding, FindingSource, Fix, Severity};

fn finding(id: &str, action: FixAction) -> Finding {
    let mut finding = Finding::new(
        id,
        "CT005",
        "test",
        "hostile names",
        Severity::High,
        FindingSource::Cloudtrail,
        "seeded by the test",
    );
    finding.account = Some("123456789012".into());
    finding.fix = Fix {
        actions: vec![action],
        ..Default::default()
    };
    finding
}

fn write_jsonl(path: &Path, findings: &[Finding]) {
    let text: String = findings
        .iter()
        .map(|f| serde_json::to_string(f).unwrap() + "\n")
        .collect();
    std::fs::write(path, text).unwrap();
}

fn trailguard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(args)
        .output()
        .expect("trailguard runs")
}

/// Hostile values, each with a payload that would create `marker(i)` if it ever ran.
fn hostile_values(dir: &Path) -> Vec<String> {
    let m = |i: usize| dir.join(format!("pwned-{i}")).display().to_string();
    vec![
        format!("mallory\ntouch {}", m(0)),
        format!("$(touch {})", m(1)),
        format!("`touch {}`", m(2)),
        format!("x''')\nimport os; os.system('touch {}') #", m(3)),
        format!("it's \"quoted\"; touch {}", m(4)),
        format!("back\\slash\\\ntouch {}", m(5)),
        format!("sep\u{2028}touch {}\u{2029}nel\u{85}x", m(6)),
        format!("cr\rtouch {}\r", m(7)),
        format!("esc\u{1b}]0;title\u{7}$'\\n'touch {}", m(8)),
    ]
}

fn hostile_findings(values: &[String]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (i, value) in values.iter().enumerate() {
        // The finding id, the principal and the policy name are all record values; one of them per kind.
        let id = format!("tg-hostile-{i}\ntouch {value}");
        let action = match i % 3 {
            0 => FixAction::DetachPolicy {
                principal_kind: IdentityKind::User,
                principal_name: value.clone(),
                policy_arn: "arn:aws:iam::aws:policy/AdministratorAccess".into(),
            },
            1 => FixAction::DeleteInlinePolicy {
                principal_kind: IdentityKind::Role,
                principal_name: "app-role".into(),
                policy_name: value.clone(),
            },
            _ => FixAction::DeactivateAccessKey {
                user_name: value.clone(),
                access_key_id: "AKIAEXAMPLEKEY000001".into(),
            },
        };
        findings.push(finding(&id, action));
    }
    findings
}

fn assert_no_marker(dir: &Path, count: usize, script: &str) {
    for i in 0..count {
        let marker = dir.join(format!("pwned-{i}"));
        assert!(
            !marker.exists(),
            "payload {i} ran: {} exists\n{script}",
            marker.display()
        );
    }
}

/// The offline plan for the hostile findings as a script of `format`, written to `dir/name`.
fn hostile_script(dir: &Path, format: &str, name: &str) -> (Vec<String>, String) {
    let values = hostile_values(dir);
    let findings_path = dir.join("findings.jsonl");
    write_jsonl(&findings_path, &hostile_findings(&values));
    let out = trailguard(&[
        "fix",
        "--offline",
        "--format",
        format,
        "--from",
        findings_path.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let script = String::from_utf8(out.stdout).unwrap();
    std::fs::write(dir.join(name), &script).unwrap();
    (values, script)
}

#[test]
fn hostile_names_reach_the_aws_cli_as_single_literal_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let (values, script) = hostile_script(dir.path(), "cli", "plan.sh");
    let script_path = dir.path().join("plan.sh");

    // A fake `aws` that appends its arguments, as one JSON array per run, to a file.
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let fake = bin.join("aws");
    std::fs::write(
        &fake,
        "#!/usr/bin/env python3\nimport json, os, sys\nwith open(os.environ['RECORD'], 'a') as f:\n    f.write(json.dumps(sys.argv[1:]) + '\\n')\n",
    )
    .unwrap();
    Command::new("chmod").arg("+x").arg(&fake).status().unwrap();
    let record = dir.path().join("argv.jsonl");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = Command::new("bash")
        .arg(&script_path)
        .current_dir(dir.path())
        .env("PATH", path)
        .env("RECORD", &record)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "the script runs cleanly: {}\n{script}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_no_marker(dir.path(), values.len(), &script);
    let calls: Vec<Vec<String>> = std::fs::read_to_string(&record)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        calls.len(),
        values.len(),
        "one aws call per step: {calls:?}"
    );
    for (value, argv) in values.iter().zip(&calls) {
        assert!(
            argv.iter().any(|arg| arg == value),
            "{value:?} arrives as one argument: {argv:?}"
        );
        assert_eq!(argv[0], "iam");
    }
}

#[test]
fn hostile_names_reach_boto3_as_exact_strings() {
    let dir = tempfile::tempdir().unwrap();
    let (values, script) = hostile_script(dir.path(), "python", "plan.py");
    let script_path = dir.path().join("plan.py");

    // A stub `boto3` whose clients record every call with its keyword arguments.
    let stub = dir.path().join("stub");
    std::fs::create_dir(&stub).unwrap();
    std::fs::write(
        stub.join("boto3.py"),
        r#"import json, os
class _Client:
    def __init__(self, service):
        self.service = service
    def __getattr__(self, operation):
        def call(**kwargs):
            with open(os.environ["RECORD"], "a") as f:
                f.write(json.dumps([self.service, operation, kwargs]) + "\n")
        return call
def client(service, **_):
    return _Client(service)
"#,
    )
    .unwrap();
    let record = dir.path().join("calls.jsonl");
    let python = std::env::var("TRAILGUARD_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let run = Command::new(python)
        .arg(&script_path)
        .current_dir(dir.path())
        .env("PYTHONPATH", &stub)
        .env("RECORD", &record)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "the script runs cleanly: {}\n{script}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_no_marker(dir.path(), values.len(), &script);
    let calls: Vec<Value> = std::fs::read_to_string(&record)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(calls.len(), values.len(), "{calls:?}");
    for (value, call) in values.iter().zip(&calls) {
        let kwargs = call[2].as_object().unwrap();
        assert!(
            kwargs.values().any(|v| v == value),
            "{value:?} arrives exactly: {call}"
        );
    }
}

#[test]
fn a_name_holding_nul_is_skipped_not_cut_short() {
    let dir = tempfile::tempdir().unwrap();
    let findings_path = dir.path().join("findings.jsonl");
    // In a shell word NUL would end the argument: `admin\0x` would become `admin`, another user.
    write_jsonl(
        &findings_path,
        &[finding(
            "tg-nul",
            FixAction::DetachPolicy {
                principal_kind: IdentityKind::User,
                principal_name: "admin\0x".into(),
                policy_arn: "arn:aws:iam::aws:policy/AdministratorAccess".into(),
            },
        )],
    );
    let from = findings_path.to_str().unwrap();
    let cli = trailguard(&["fix", "--offline", "--format", "cli", "--from", from]);
    let script = String::from_utf8_lossy(&cli.stdout);
    assert!(!script.contains("aws iam"), "{script}");
    let text = trailguard(&["fix", "--offline", "--from", from]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("1 skipped") && text.contains("NUL"), "{text}");
}

#[test]
fn findings_come_from_stdin_and_the_audit_summary_line_is_taken_quietly() {
    let finding = finding(
        "tg-stdin",
        FixAction::DetachPolicy {
            principal_kind: IdentityKind::User,
            principal_name: "mallory".into(),
            policy_arn: "arn:aws:iam::aws:policy/AdministratorAccess".into(),
        },
    );
    // What `trailguard audit --format json` writes: findings, then its summary object last.
    let input = format!(
        "{}\n{{\"audit_summary\":{{\"score\":94,\"findings\":1}}}}\n",
        serde_json::to_string(&finding).unwrap()
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(["fix", "--offline", "--from", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("Plan: 1 change(s) to make"), "{stdout}");
    assert!(
        stdout.contains("aws iam detach-user-policy --user-name mallory"),
        "{stdout}"
    );
    assert!(
        !stderr.contains("warning"),
        "no warning for the summary line: {stderr}"
    );
}
