//! End-to-end: the built binary scans the bundled sample trail (`samples/cloudtrail`): the expected rules
//! fire, bad files are reported by name and the run goes on, exit codes follow `--fail-on`, every output
//! format parses, filters and stdin work.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use trailguard_rules::{Finding, Outcome, Severity};

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trailguard"));
    // Plain output whatever the environment.
    cmd.env("NO_COLOR", "1");
    cmd
}

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../samples/cloudtrail")
        .canonicalize()
        .expect("samples/cloudtrail exists")
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("trailguard runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("stderr is UTF-8")
}

/// The findings of a `--format json` run, by id: JSON lines stream in the order found, which the worker
/// threads decide.
fn findings_of(out: &Output) -> Vec<Finding> {
    let mut findings: Vec<Finding> = stdout(out)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    findings.sort_by(|a, b| a.id.cmp(&b.id));
    findings
}

fn scan_json(extra: &[&str]) -> (Output, Vec<Finding>) {
    let samples = samples();
    let mut args = vec![
        "scan",
        samples.to_str().unwrap(),
        "--format",
        "json",
        "--fail-on",
        "never",
    ];
    args.extend_from_slice(extra);
    let out = run(&args);
    let findings = findings_of(&out);
    (out, findings)
}

fn by_event<'a>(findings: &'a [Finding], event: &str) -> Vec<&'a Finding> {
    findings
        .iter()
        .filter(|f| f.event_name.as_deref() == Some(event))
        .collect()
}

#[test]
fn the_sample_attack_story_is_found() {
    let (out, findings) = scan_json(&[]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));

    // dev-alice's admin policy version, set as default: the worst finding of the trail.
    let policy = by_event(&findings, "CreatePolicyVersion");
    assert!(!policy.is_empty(), "no CreatePolicyVersion finding");
    let top = policy.iter().max_by_key(|f| f.severity).unwrap();
    assert_eq!(top.severity, Severity::Critical);
    assert_eq!(top.account.as_deref(), Some("111122223333"));
    assert_eq!(
        top.actor.as_ref().and_then(|a| a.arn.as_deref()),
        Some("arn:aws:iam::111122223333:user/dev-alice")
    );
    assert!(
        top.resource
            .as_ref()
            .is_some_and(|r| r.id.ends_with(":policy/ops-readonly")),
        "{top:?}"
    );
    assert!(!top.evidence.is_empty());
    assert!(
        top.fix
            .commands
            .iter()
            .any(|c| c.contains("set-default-policy-version")),
        "{:?}",
        top.fix.commands
    );

    // Each event written for the story yields a finding.
    for event in [
        "CreateAccountAlias",
        "DeactivateMFADevice",
        "StopLogging",
        "UpdateAccountPasswordPolicy",
    ] {
        assert!(
            !by_event(&findings, event).is_empty(),
            "no finding for {event}"
        );
    }
    let key = by_event(&findings, "CreateAccessKey");
    assert!(
        key.iter().any(|f| f
            .resource
            .as_ref()
            .is_some_and(|r| r.id.contains("backup-admin"))),
        "no finding for the access key created for backup-admin: {key:?}"
    );
    let logins = by_event(&findings, "ConsoleLogin");
    assert!(
        logins
            .iter()
            .any(|f| f.actor.as_ref().and_then(|a| a.arn.as_deref())
                == Some("arn:aws:iam::111122223333:user/dev-alice")),
        "no finding for dev-alice's login without MFA"
    );
    // ops-bob signed in with MFA: no finding.
    assert!(
        !logins
            .iter()
            .any(|f| f.actor.as_ref().and_then(|a| a.user_name.as_deref()) == Some("ops-bob")),
        "ops-bob's MFA login must not be flagged"
    );
    // A denied call is an attempt, never a change.
    for finding in &findings {
        if finding.event_name.as_deref() == Some("PutUserPolicy") {
            assert!(
                matches!(&finding.outcome, Outcome::Attempt { error_code } if error_code == "AccessDenied"),
                "{finding:?}"
            );
        }
    }
    // The real Stratus records in the sample: an admin user created and given AdministratorAccess.
    assert!(!by_event(&findings, "AttachUserPolicy").is_empty());

    // Every finding links to the knowledge base or says how to fix it.
    for finding in &findings {
        assert!(
            finding.fix.kb_entry.is_some() || !finding.fix.summary.is_empty(),
            "{finding:?}"
        );
        assert!(finding.id.starts_with("tg-"));
    }
}

#[test]
fn bad_files_are_reported_by_name_and_the_scan_goes_on() {
    let (out, findings) = scan_json(&[]);
    let err = stderr(&out);
    assert!(!findings.is_empty());
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("warning: ")).collect();
    assert!(
        warnings
            .iter()
            .any(|l| l.contains("T0825Z_") && l.contains(".json.gz")),
        "corrupt gzip not reported: {err}"
    );
    assert!(
        warnings.iter().any(|l| l.contains("bucket-inventory.json")),
        "non-CloudTrail file not reported: {err}"
    );
    // The digest file is skipped quietly, and counted.
    assert!(
        !warnings.iter().any(|l| l.contains("CloudTrail-Digest")),
        "{err}"
    );
    assert!(err.contains("Summary"), "{err}");
    assert!(err.contains("384 records"), "{err}");
    assert!(err.contains("digest file"), "{err}");
}

#[test]
fn exit_codes_follow_fail_on() {
    let samples = samples();
    let samples = samples.to_str().unwrap();
    // Default --fail-on high: the sample has critical findings.
    let out = run(&["scan", samples, "--quiet"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let out = run(&["scan", samples, "--quiet", "--fail-on", "never"]);
    assert_eq!(out.status.code(), Some(0));
    // The threshold is inclusive: a run whose worst finding is S fails on S and passes one step above.
    let (_, policy) = scan_json(&["--event-name", "UpdateAccountPasswordPolicy"]);
    let worst = policy
        .iter()
        .map(|f| f.severity)
        .max()
        .expect("a password-policy finding");
    assert!(worst < Severity::Critical, "{worst}");
    let at = run(&[
        "scan",
        samples,
        "--quiet",
        "--event-name",
        "UpdateAccountPasswordPolicy",
        "--fail-on",
        worst.as_str(),
    ]);
    assert_eq!(at.status.code(), Some(1));
    let above = run(&[
        "scan",
        samples,
        "--quiet",
        "--event-name",
        "UpdateAccountPasswordPolicy",
        "--fail-on",
        worst.raised().as_str(),
    ]);
    assert_eq!(above.status.code(), Some(0), "{}", stdout(&above));
    // Read-only calls fail nothing, even at --fail-on info.
    let out = run(&[
        "scan",
        samples,
        "--quiet",
        "--event-name",
        "DescribeRouteTables",
        "--fail-on",
        "info",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    // Nothing readable: exit 2, with the reason.
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.json.gz");
    std::fs::write(&broken, b"\x1f\x8b\x08\x00not really gzip").unwrap();
    let out = run(&["scan", broken.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("broken.json.gz"), "{}", stderr(&out));
    let out = run(&["scan", dir.path().join("missing").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("missing"), "{}", stderr(&out));
    // A bad flag value is an error too.
    let out = run(&["scan", samples, "--since", "last tuesday"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("last tuesday"), "{}", stderr(&out));
}

#[test]
fn text_report_is_grouped_and_plain_when_piped() {
    let samples = samples();
    let out = run(&["scan", samples.to_str().unwrap(), "--fail-on", "never"]);
    let text = stdout(&out);
    let critical = text.find("CRITICAL (").expect("a critical group");
    let summary = text.find("Summary").expect("a summary");
    assert!(critical < summary);
    if let Some(medium) = text.find("MEDIUM (") {
        assert!(critical < medium);
    }
    assert!(
        text.contains("trailguard explain CreatePolicyVersion"),
        "{text}"
    );
    assert!(text.contains("$ aws iam"), "fix commands are shown");
    assert!(!text.contains('\u{1b}'), "no colour when piped");
    // --color always forces it.
    let out = run(&[
        "scan",
        samples.to_str().unwrap(),
        "--color",
        "always",
        "--fail-on",
        "never",
    ]);
    assert!(stdout(&out).contains('\u{1b}'));
}

#[test]
fn json_round_trips_and_other_formats_carry_the_same_findings() {
    let (_, findings) = scan_json(&[]);
    assert!(findings.len() >= 8, "{}", findings.len());
    // Round trip: what we read back serialises to the same line. Findings stream in the order they are
    // found, so formats are compared by finding id, not by position.
    let (out, _) = scan_json(&[]);
    for line in stdout(&out).lines() {
        let finding: Finding = serde_json::from_str(line).unwrap();
        assert_eq!(serde_json::to_string(&finding).unwrap(), line);
    }
    let by_id: std::collections::HashMap<&str, &Finding> =
        findings.iter().map(|f| (f.id.as_str(), f)).collect();

    let samples = samples();
    let samples = samples.to_str().unwrap();
    let out = run(&["scan", samples, "--format", "ocsf", "--fail-on", "never"]);
    let events: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), findings.len());
    for event in &events {
        let finding = by_id[event["finding_info"]["uid"].as_str().unwrap()];
        assert_eq!(event["class_uid"], 2004);
        assert_eq!(event["type_uid"], 200401);
        assert_eq!(event["finding_info"]["uid"], finding.id.as_str());
        assert_eq!(
            event["finding_info"]["analytic"]["uid"],
            finding.rule_id.as_str()
        );
    }

    let out = run(&["scan", samples, "--format", "asff", "--fail-on", "never"]);
    let mut ids = Vec::new();
    for line in stdout(&out).lines() {
        let batch: serde_json::Value = serde_json::from_str(line).unwrap();
        let batch = batch["Findings"].as_array().unwrap();
        assert!(!batch.is_empty() && batch.len() <= 100);
        for finding in batch {
            assert_eq!(finding["SchemaVersion"], "2018-10-08");
            assert_eq!(finding["AwsAccountId"], "111122223333");
            ids.push(finding["Id"].as_str().unwrap().to_owned());
        }
    }
    let mut expected: Vec<String> = findings.iter().map(|f| f.id.clone()).collect();
    expected.sort();
    ids.sort();
    assert_eq!(ids, expected);
}

#[test]
fn output_file_gets_findings_and_stderr_gets_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("findings.jsonl");
    let samples = samples();
    let out = run(&[
        "scan",
        samples.to_str().unwrap(),
        "--format",
        "json",
        "--output",
        file.to_str().unwrap(),
        "--fail-on",
        "never",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    let written = std::fs::read_to_string(&file).unwrap();
    let (_, findings) = scan_json(&[]);
    assert_eq!(written.lines().count(), findings.len());
    assert!(stderr(&out).contains("findings"));
}

#[test]
fn filters_narrow_the_findings() {
    let (_, all) = scan_json(&[]);

    let (_, west) = scan_json(&["--event-region", "eu-west-1"]);
    assert!(!west.is_empty());
    assert!(west.len() < all.len());
    assert!(
        west.iter()
            .all(|f| f.region.as_deref() == Some("eu-west-1")),
        "{west:?}"
    );
    assert!(!by_event(&west, "StopLogging").is_empty());

    let (_, policy) = scan_json(&["--event-name", "CreatePolicyVersion"]);
    assert!(!policy.is_empty());
    assert!(policy
        .iter()
        .all(|f| f.event_name.as_deref() == Some("CreatePolicyVersion")));

    let (out, later) = scan_json(&["--since", "2023-07-11T08:05:00Z"]);
    assert!(!later.is_empty());
    assert!(later.len() < all.len());
    for finding in &later {
        assert!(
            finding.event_time.as_deref().unwrap() >= "2023-07-11T08:05:00Z",
            "{finding:?}"
        );
    }
    assert!(
        stderr(&out).contains("left out by filters"),
        "{}",
        stderr(&out)
    );

    let (_, window) = scan_json(&["--since", "2023-07-10", "--until", "2023-07-11"]);
    for finding in &window {
        assert!(finding
            .event_time
            .as_deref()
            .unwrap()
            .starts_with("2023-07-10"));
    }
    assert!(by_event(&window, "CreatePolicyVersion").is_empty());

    let (out, none) = scan_json(&["--account", "999988887777"]);
    assert!(none.is_empty());
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn stdin_is_scanned() {
    // The day of the story, decompressed, piped in as JSON.
    let day = samples().join("AWSLogs/111122223333/CloudTrail/us-east-1/2023/07/11");
    let gz = std::fs::read_dir(&day)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("T0815Z_"))
        .unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::MultiGzDecoder::new(std::fs::File::open(gz).unwrap()),
        &mut text,
    )
    .unwrap();
    let mut child = bin()
        .args(["scan", "-", "--format", "json", "--fail-on", "never"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let findings = findings_of(&out);
    assert!(!by_event(&findings, "CreatePolicyVersion").is_empty());
    assert!(!by_event(&findings, "DeactivateMFADevice").is_empty());
    assert!(
        by_event(&findings, "StopLogging").is_empty(),
        "StopLogging is in the other file"
    );
}

#[test]
fn results_do_not_depend_on_thread_count() {
    let (_, mut one) = scan_json(&["--threads", "1"]);
    let (_, mut four) = scan_json(&["--threads", "4"]);
    // Streamed in the order found: the same findings, in any order.
    one.sort_by(|a, b| a.id.cmp(&b.id));
    four.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(one, four);
}

#[test]
fn sigma_rules_add_their_findings() {
    let rules = trailguard_testkit::shared_data().join("sigma-aws/rules");
    let (out, findings) = scan_json(&["--sigma", rules.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let sigma: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.source == trailguard_rules::FindingSource::Sigma)
        .collect();
    assert!(!sigma.is_empty(), "no Sigma finding on the sample");
    assert!(
        sigma
            .iter()
            .any(|f| f.event_name.as_deref() == Some("StopLogging")),
        "the SigmaHQ CloudTrail-disabling rule should match StopLogging"
    );
    assert!(stderr(&out).contains("sigma:"), "{}", stderr(&out));
    // Without --sigma, only built-in rules run.
    let (_, builtin) = scan_json(&[]);
    assert!(builtin
        .iter()
        .all(|f| f.source != trailguard_rules::FindingSource::Sigma));
    assert!(findings.len() > builtin.len());
}

#[test]
fn rule_selection_and_output_errors() {
    let (_, only) = scan_json(&["--rule", "CT017"]);
    assert!(!only.is_empty());
    assert!(only.iter().all(|f| f.rule_id == "CT017"), "{only:?}");
    // By name too, case-insensitively.
    let (_, by_name) = scan_json(&["--rule", "CLOUDTRAIL-LOGGING-STOPPED"]);
    assert_eq!(by_name, only);

    let samples = samples();
    let out = run(&["scan", samples.to_str().unwrap(), "--rule", "CT999"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("CT999"), "{}", stderr(&out));

    let out = run(&[
        "scan",
        samples.to_str().unwrap(),
        "--output",
        "/nonexistent-dir/findings.jsonl",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("/nonexistent-dir/findings.jsonl"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn no_progress_bar_when_stderr_is_not_a_terminal() {
    let (out, _) = scan_json(&[]);
    let err = stderr(&out);
    assert!(
        !err.contains('\r'),
        "progress drawing leaked into a pipe: {err:?}"
    );
    assert!(
        !err.contains('\u{1b}'),
        "escape codes leaked into a pipe: {err:?}"
    );
}
