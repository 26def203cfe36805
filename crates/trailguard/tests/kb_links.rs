//! The example record of each entry is what its detection rules are tested on: for every per-record
//! CloudTrail rule an entry lists under `rules:` (and that declares the entry's event), running the built-in
//! engine on the example record alone must produce a finding from that rule. Sequence rules (bursts,
//! create-then-key chains) need several records and are checked by their own tests.

use std::collections::BTreeSet;

use serde_json::value::RawValue;
use trailguard_event::Record;
use trailguard_kb::Kb;
use trailguard_rules::engine::Engine;

/// Rule codes the engine reports for one record.
fn fired(engine: &Engine, record_json: &str) -> BTreeSet<String> {
    let raw: &RawValue = serde_json::from_str(record_json).expect("example record is JSON");
    let record = Record::from_raw(raw).expect("example record is a CloudTrail record");
    let mut worker = engine.new_worker();
    worker.visit(&record);
    engine
        .finish(vec![worker])
        .into_iter()
        .map(|f| f.rule_id)
        .collect()
}

#[test]
fn detection_rules_fire_on_their_entries_example_records() {
    let kb = Kb::builtin();
    assert!(
        kb.errors().is_empty(),
        "entries that do not parse: {:?}",
        kb.errors()
    );
    let per_record: Vec<_> = trailguard_rules::rules::cloudtrail::rules()
        .iter()
        .map(|rule| rule.meta())
        .collect();
    let engine = Engine::builtin();
    let mut checked = 0;
    let mut problems = Vec::new();
    for entry in kb.entries() {
        let expected: Vec<&str> = entry
            .rules
            .iter()
            .filter_map(|code| per_record.iter().find(|m| m.code == code))
            .filter(|meta| {
                meta.events
                    .iter()
                    .any(|(s, e)| *s == entry.source && *e == entry.event)
            })
            .map(|meta| meta.code)
            .collect();
        if expected.is_empty() {
            continue;
        }
        let codes = fired(&engine, &entry.sections.example_record);
        for code in expected {
            checked += 1;
            if !codes.contains(code) {
                problems.push(format!(
                    "{}: rule {code} does not fire on the example record (fired: {:?})",
                    entry.file, codes
                ));
            }
        }
    }
    assert!(checked >= 20, "only {checked} (entry, rule) pairs checked");
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// The CreatePolicyVersion example is an escalation to `Allow *` set as default: CT001 must rate it at
/// least at the entry's baseline severity (high), not as a routine policy edit.
#[test]
fn flagship_escalation_example_is_flagged_at_baseline_severity_or_above() {
    let kb = Kb::builtin();
    let engine = Engine::builtin();
    let entry = kb
        .get("iam.amazonaws.com", "CreatePolicyVersion")
        .expect("flagship entry");
    let raw: &RawValue = serde_json::from_str(&entry.sections.example_record).expect("JSON");
    let record = Record::from_raw(raw).expect("record");
    let mut worker = engine.new_worker();
    worker.visit(&record);
    let findings = engine.finish(vec![worker]);
    let finding = findings
        .iter()
        .find(|f| f.rule_id == "CT001")
        .expect("CT001 fires");
    let rank = |s: &str| {
        ["info", "low", "medium", "high", "critical"]
            .iter()
            .position(|x| *x == s)
    };
    assert!(
        rank(finding.severity.as_str()) >= rank(entry.severity.as_str()),
        "CT001 rated the example {}, below the entry's baseline {}",
        finding.severity,
        entry.severity
    );
}
