//! Runs every labelled fixture in `tests/fixtures/cloudtrail/` (one file per rule, written by `generate.py`)
//! through the whole built-in engine: each case must produce exactly the rule codes it lists, then the
//! findings of each file are snapshotted.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::value::RawValue;
use trailguard_event::Record;
use trailguard_rules::engine::Engine;
use trailguard_rules::Finding;

#[derive(Deserialize)]
struct FixtureFile {
    rule: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    expect: Vec<String>,
    records: Vec<Box<RawValue>>,
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cloudtrail")
}

fn run(engine: &Engine, records: &[Box<RawValue>]) -> Vec<Finding> {
    let mut worker = engine.new_worker();
    for raw in records {
        let record = Record::from_raw(raw).expect("fixture record parses");
        worker.visit(&record);
    }
    engine.finish(vec![worker])
}

fn fixture_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixture_dir())
        .expect("fixture dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_rule_has_a_fixture_file_with_a_positive_case() {
    let files = fixture_files();
    // A rule without events (CT051, raised by `serve` from delivery health) has no record to fire on;
    // its test is `tests/serve.rs` in the trailguard crate.
    let codes: BTreeSet<String> = trailguard_rules::rules::cloudtrail::metas()
        .iter()
        .filter(|m| !m.events.is_empty())
        .map(|m| m.code.to_owned())
        .collect();
    let mut covered = BTreeSet::new();
    for path in &files {
        let file: FixtureFile =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert!(
            file.cases.iter().any(|c| c.expect.contains(&file.rule)),
            "{} has no positive case",
            path.display()
        );
        covered.insert(file.rule);
    }
    assert_eq!(covered, codes, "fixture files and rule codes differ");
}

#[test]
fn fixtures_fire_exactly_the_expected_rules() {
    let engine = Engine::builtin();
    let mut failures = Vec::new();
    for path in fixture_files() {
        let file: FixtureFile =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let mut all = Vec::new();
        for case in &file.cases {
            let findings = run(&engine, &case.records);
            let fired: BTreeSet<&str> = findings.iter().map(|f| f.rule_id.as_str()).collect();
            let expected: BTreeSet<&str> = case.expect.iter().map(String::as_str).collect();
            if fired != expected {
                failures.push(format!(
                    "{} / {}: expected {expected:?}, fired {fired:?}",
                    file.rule, case.name
                ));
            }
            // Every finding carries the common parts the helper fills in.
            for f in &findings {
                assert!(
                    f.event_id.is_some() && f.account.is_some() && f.actor.is_some(),
                    "{f:#?}"
                );
                assert!(!f.message.is_empty() && !f.fix.summary.is_empty(), "{f:#?}");
                assert!(f.fix.kb_entry.is_some(), "{f:#?}");
            }
            all.push(serde_json::json!({"case": case.name, "findings": findings}));
        }
        insta::assert_json_snapshot!(file.rule.clone(), all);
    }
    assert!(
        failures.is_empty(),
        "fixture mismatches:\n{}",
        failures.join("\n")
    );
}

#[test]
fn denied_cases_are_attempts() {
    let engine = Engine::builtin();
    let mut checked = 0;
    for path in fixture_files() {
        let file: FixtureFile =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for case in file
            .cases
            .iter()
            .filter(|c| c.records.iter().any(|r| r.get().contains("\"errorCode\"")))
        {
            // Burst findings (CT032-CT034) are about the run of refusals itself, which did happen; they
            // count the refusals in their `refused` evidence instead.
            for f in run(&engine, &case.records)
                .into_iter()
                .filter(|f| !f.evidence.iter().any(|e| e.path == "refused"))
            {
                assert!(
                    f.title.starts_with("Attempted:"),
                    "{}: {}",
                    case.name,
                    f.title
                );
                assert!(
                    f.fix.actions.is_empty(),
                    "{}: attempts carry no fix actions",
                    case.name
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 10, "only {checked} attempt findings checked");
}
