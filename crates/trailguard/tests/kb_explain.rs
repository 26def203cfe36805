//! `trailguard explain`: the rendered flagship entries (snapshots), lookups, suggestions, exit codes, the
//! list filters and the JSON and Markdown formats, run through the real binary.

use std::process::{Command, Output};

fn explain(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .arg("explain")
        .args(args)
        // A fixed width and no colour, as on a 100-column terminal with NO_COLOR set.
        .env("COLUMNS", "100")
        .env("NO_COLOR", "1")
        .output()
        .expect("trailguard runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("utf-8 output")
}

#[test]
fn flagship_create_policy_version_renders() {
    let out = explain(&["CreatePolicyVersion"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    // Wrapped, colourless, and the moto setup block hidden.
    assert!(!text.contains('\x1b'), "colour codes with NO_COLOR");
    assert!(
        !text.contains("def document(*actions)"),
        "python setup block must be hidden"
    );
    assert!(text.contains("iam.set_default_policy_version"));
    for line in text.lines().filter(|l| !l.starts_with("    ")) {
        assert!(
            line.chars().count() <= 100,
            "prose line wider than 100 columns: {line:?}"
        );
    }
    insta::assert_snapshot!("explain_create_policy_version", text);
}

#[test]
fn flagship_create_account_alias_renders() {
    let out = explain(&["createaccountalias"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    assert!(
        text.starts_with("CreateAccountAlias  iam.amazonaws.com  severity medium\n"),
        "{text}"
    );
    assert!(!text
        .contains("boto3.client(\"iam\").create_account_alias(AccountAlias=\"examp1e-corp-sso\")"));
    insta::assert_snapshot!("explain_create_account_alias", text);
}

#[test]
fn unknown_event_exits_2_with_suggestions() {
    let out = explain(&["CreatePolicyVerison"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no knowledge-base entry for `CreatePolicyVerison`"),
        "{err}"
    );
    assert!(err.contains("did you mean: CreatePolicyVersion"), "{err}");

    let out = explain(&["DescribeInstances"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("did you mean"));
}

#[test]
fn service_prefixed_names_pick_the_service() {
    let out = explain(&["sts:assumerole", "--format", "json"]);
    assert!(out.status.success());
    let entry: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(entry["event"], "AssumeRole");
    assert_eq!(entry["source"], "sts.amazonaws.com");
    assert!(entry["sections"]["python"]
        .as_str()
        .is_some_and(|p| p.contains("boto3")));
    assert!(entry["cli_commands"]
        .as_array()
        .is_some_and(|c| !c.is_empty()));
}

#[test]
fn markdown_format_is_the_entry_source() {
    let out = explain(&["StopLogging", "--format", "md"]);
    assert!(out.status.success());
    let text = stdout(&out);
    let source = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../trailguard-kb/entries/cloudtrail/StopLogging.md"),
    )
    .expect("entry file");
    assert_eq!(text, source);
}

fn list(args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec!["--list", "--format", "json"];
    all.extend_from_slice(args);
    let out = explain(&all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON list")
}

#[test]
fn list_filters_by_service_risk_and_severity() {
    let everything = list(&[]);
    assert!(everything.len() >= 119, "{}", everything.len());

    let sts = list(&["--service", "sts"]);
    let sts_files = std::fs::read_dir(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../trailguard-kb/entries/sts"),
    )
    .expect("the sts entries")
    .filter(|entry| {
        entry
            .as_ref()
            .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "md"))
    })
    .count();
    assert!(sts_files >= 5, "{sts_files}");
    assert_eq!(sts.len(), sts_files);
    assert!(sts.iter().all(|e| e["source"] == "sts.amazonaws.com"));

    let escalation = list(&[
        "--service",
        "iam",
        "--risk",
        "privilege-escalation",
        "--severity",
        "high",
    ]);
    assert!(escalation
        .iter()
        .any(|e| e["event"] == "CreatePolicyVersion"));
    for e in &escalation {
        assert!(
            e["risks"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r == "privilege-escalation"),
            "{e}"
        );
        assert!(
            ["high", "critical"].contains(&e["severity"].as_str().unwrap()),
            "{e}"
        );
    }
    assert!(escalation.len() < everything.len());

    let by_rule = list(&["--rule", "CT017"]);
    let names: Vec<&str> = by_rule
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"StopLogging") && names.contains(&"DeleteTrail"),
        "{names:?}"
    );

    let out = explain(&["--list", "--risk", "mayhem"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown risk `mayhem`"));
}

#[test]
fn text_list_has_one_line_per_entry() {
    let out = explain(&["--list", "--service", "cloudtrail"]);
    assert!(out.status.success());
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{text}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("StopLogging") && l.contains("critical")),
        "{text}"
    );
}

#[test]
fn listing_a_service_the_knowledge_base_lacks_names_the_ones_it_has() {
    let out = explain(&["--list", "--service", "dynamodb"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no knowledge-base entries for service `dynamodb`"),
        "{err}"
    );
    let services: Vec<String> = list(&[])
        .iter()
        .map(|e| e["service"].as_str().unwrap().to_owned())
        .collect();
    for service in ["iam", "sts", "s3"] {
        assert!(services.iter().any(|s| s == service));
        assert!(err.contains(service), "{service} in {err}");
    }
    // The full event source names a covered service as well.
    assert!(explain(&["--list", "--service", "iam.amazonaws.com"])
        .status
        .success());
}
