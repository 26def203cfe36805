//! Mutes and alerts in `trailguard audit` and `policy check`, as in `scan`: the Cloudsplaining example account (real
//! `get-account-authorization-details` output) audited offline with a JSON-lines alert file and a
//! mute in the store.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use trailguard_rules::{Finding, Severity};
use trailguard_testkit::shared_data;

fn trailguard(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("TRAILGUARD_CONFIG")
        .output()
        .expect("trailguard runs")
}

fn findings_of(stdout: &[u8]) -> (Vec<Finding>, Value) {
    let mut findings = Vec::new();
    let mut summary = Value::Null;
    for line in String::from_utf8_lossy(stdout).lines() {
        let value: Value = serde_json::from_str(line).expect("JSON lines");
        match value.get("audit_summary") {
            Some(s) => summary = s.clone(),
            None => findings.push(serde_json::from_value(value).expect("a finding")),
        }
    }
    (findings, summary)
}

fn alerted(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["kind"] == "alert")
        .map(|v| v["message"]["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn audit_alerts_unmuted_findings_once_and_counts_the_muted() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("snapshot");
    std::fs::create_dir(&snapshot).unwrap();
    std::fs::copy(
        shared_data().join("peer-suites/cloudsplaining/example.json"),
        snapshot.join("get-account-authorization-details.json"),
    )
    .expect("reference data present");
    let snapshot = snapshot.to_str().unwrap();
    let audit = |extra: &[&str]| {
        let mut args = vec!["audit", "--offline", snapshot, "--format", "json"];
        args.extend(["--fail-on", "never", "--store", "tg.db"]);
        args.extend(extra);
        trailguard(dir.path(), &args)
    };

    // Without mutes or alerts: what the audit finds.
    let plain = audit(&[]);
    assert_eq!(plain.status.code(), Some(0), "{plain:?}");
    let (all, _) = findings_of(&plain.stdout);
    let high: Vec<&Finding> = all
        .iter()
        .filter(|f| f.severity >= Severity::High)
        .collect();
    let pa014: BTreeSet<String> = all
        .iter()
        .filter(|f| f.rule_id == "PA014")
        .map(|f| f.id.clone())
        .collect();
    assert!(!pa014.is_empty() && high.len() > pa014.len());

    // Mute every PA014 finding; alert on high and above to a file.
    let muted = trailguard(
        dir.path(),
        &[
            "mute",
            "add",
            "--store",
            "tg.db",
            "--rule",
            "PA014",
            "--reason",
            "admins reviewed",
            "--expires",
            "2099-01-01",
        ],
    );
    assert!(muted.status.success(), "{muted:?}");
    let args = [
        "--alert",
        "file=alerts.jsonl",
        "--alert-min-severity",
        "high",
    ];
    let out = audit(&args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{err}");
    let (shown, summary) = findings_of(&out.stdout);
    let shown_ids: BTreeSet<String> = shown.iter().map(|f| f.id.clone()).collect();
    assert!(shown_ids.is_disjoint(&pa014), "muted findings are hidden");
    assert_eq!(shown.len(), all.len() - pa014.len());
    let counted: u64 = summary["findings"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(
        counted as usize,
        shown.len(),
        "muted findings are not counted as findings"
    );

    // Alerted: the first high-or-above finding of each rule and principal, none of them muted.
    let file = dir.path().join("alerts.jsonl");
    let first = alerted(&file);
    assert!(!first.is_empty(), "{err}");
    assert!(first.iter().all(|id| !pa014.contains(id)));
    let high_ids: BTreeSet<&str> = high.iter().map(|f| f.id.as_str()).collect();
    assert!(first.iter().all(|id| high_ids.contains(id.as_str())));

    // Again: nothing new is sent; --show-muted shows the muted ones.
    let again = audit(&[&args[..], &["--show-muted"]].concat());
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(alerted(&file), first, "a finding is alerted once");
    let (shown, _) = findings_of(&again.stdout);
    assert_eq!(shown.len(), all.len());
}

#[test]
fn policy_check_applies_mutes_and_alerts_like_scan() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("admin.json"),
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    )
    .unwrap();
    let check = |extra: &[&str]| {
        let mut args = vec!["policy", "check", "admin.json", "--format", "json"];
        args.extend(["--store", "tg.db", "--alert", "file=alerts.jsonl"]);
        args.extend(extra);
        trailguard(dir.path(), &args)
    };
    let muted = trailguard(
        dir.path(),
        &[
            "mute",
            "add",
            "--store",
            "tg.db",
            "--rule",
            "PC010",
            "--reason",
            "break-glass role",
            "--expires",
            "2099-01-01",
        ],
    );
    assert!(muted.status.success(), "{muted:?}");
    let out = check(&[]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let (shown, _) = findings_of(&out.stdout);
    assert!(!shown.is_empty(), "{err}");
    assert!(shown.iter().all(|f| f.rule_id != "PC010"), "{err}");
    // The muted critical finding neither fails the gate nor is alerted.
    assert_eq!(out.status.code(), Some(0), "{err}");
    let sent = alerted(&dir.path().join("alerts.jsonl"));
    let shown_ids: BTreeSet<String> = shown.iter().map(|f| f.id.clone()).collect();
    assert_eq!(sent.iter().cloned().collect::<BTreeSet<_>>(), shown_ids);
    assert!(err.contains("1 muted"), "{err}");

    // With --show-muted it is reported (and still not alerted).
    let out = check(&["--show-muted", "--fail-on", "never"]);
    let (shown, _) = findings_of(&out.stdout);
    assert!(shown.iter().any(|f| f.rule_id == "PC010"));
    assert_eq!(alerted(&dir.path().join("alerts.jsonl")), sent);
}
