//! All SigmaHQ AWS rules over every real CloudTrail record in `shared/data/cloudtrail/`: which rules fire
//! and how often (snapshot), the pre-filter never changes a result, and (ignored, run by hand) the cost of
//! the Sigma rules next to the built-in engine in records per second.
//!
//! The files are read directly: `{"Records":[...]}` (S3 delivery), JSON arrays, and JSON lines whose
//! lines are records or wrap one in `event` / `detail`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Deserialize;
use serde_json::value::RawValue;
use trailguard_event::Record;
use trailguard_rules::sigma::SigmaRuleSet;

fn sigma_rules() -> SigmaRuleSet {
    let (set, errors) =
        SigmaRuleSet::load_dirs(&[trailguard_testkit::shared_data().join("sigma-aws/rules")]);
    assert!(errors.is_empty(), "{errors:?}");
    set
}

/// Every CloudTrail file's text, in path order.
fn cloudtrail_files() -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path
                .extension()
                .is_some_and(|e| e == "json" || e == "jsonl")
            {
                out.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    walk(
        &trailguard_testkit::shared_data().join("cloudtrail"),
        &mut paths,
    );
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect()
}

#[derive(Deserialize)]
struct Delivery<'a> {
    #[serde(borrow, rename = "Records")]
    records: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct Wrapped<'a> {
    #[serde(borrow, default)]
    event: Option<&'a RawValue>,
    #[serde(borrow, default)]
    detail: Option<&'a RawValue>,
}

/// The raw records in one file's text; lines that are not JSON are counted in `skipped`.
fn raw_records<'t>(text: &'t str, skipped: &mut usize) -> Vec<&'t RawValue> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        return serde_json::from_str(text).unwrap_or_else(|_| {
            *skipped += 1;
            Vec::new()
        });
    }
    if let Ok(delivery) = serde_json::from_str::<Delivery<'_>>(text) {
        return delivery.records;
    }
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(raw) = serde_json::from_str::<&RawValue>(line) else {
            *skipped += 1;
            continue;
        };
        match serde_json::from_str::<Wrapped<'_>>(raw.get()) {
            Ok(Wrapped {
                event: Some(inner), ..
            })
            | Ok(Wrapped {
                detail: Some(inner),
                ..
            }) => out.push(inner),
            _ => out.push(raw),
        }
    }
    out
}

#[test]
fn real_logs_fire_these_rules() {
    let set = sigma_rules();
    let files = cloudtrail_files();
    let mut records = 0usize;
    let mut skipped = 0usize;
    let mut fired: BTreeMap<String, (String, usize, BTreeMap<String, usize>)> = BTreeMap::new();
    for (path, text) in &files {
        for raw in raw_records(text, &mut skipped) {
            let Ok(record) = Record::from_raw(raw) else {
                skipped += 1;
                continue;
            };
            records += 1;
            let mut findings = Vec::new();
            set.evaluate(&record, &mut findings);
            // The pre-filter must never hide a match: check every rule without it.
            for rule in set.rules() {
                let hit = findings.iter().any(|f| f.rule_id == rule.id);
                assert_eq!(
                    hit,
                    rule.matches(&record),
                    "{}: rule {} and the pre-filter disagree on {}",
                    path.display(),
                    rule.name,
                    record.event_name
                );
                if hit {
                    assert!(set.wants(&record.event_source, &record.event_name));
                }
            }
            for f in findings {
                let entry = fired
                    .entry(f.rule_name.clone())
                    .or_insert_with(|| (f.severity.to_string(), 0, BTreeMap::new()));
                entry.1 += 1;
                *entry
                    .2
                    .entry(f.event_name.clone().unwrap_or_default())
                    .or_default() += 1;
            }
        }
    }
    assert!(records > 3000, "only {records} records read");
    assert!(fired.len() >= 5, "too few rules fired: {fired:?}");

    let mut report = format!(
        "records: {records}, unreadable: {skipped}, rules fired: {}\n",
        fired.len()
    );
    for (rule, (level, count, events)) in &fired {
        let events: Vec<String> = events.iter().map(|(e, n)| format!("{e}×{n}")).collect();
        report.push_str(&format!(
            "{rule} [{level}] {count}: {}\n",
            events.join(", ")
        ));
    }
    insta::assert_snapshot!("sigma_rules_fired_on_real_logs", report);
}

/// One finding in full, from a real record (Stratus Red Team stopping a trail), as outputs receive it.
#[test]
fn sigma_finding_in_full() {
    let set = sigma_rules();
    let path = trailguard_testkit::shared_data().join(
        "cloudtrail/stratus-red-team/docs/detonation-logs/aws.defense-evasion.cloudtrail-stop.json",
    );
    let text = std::fs::read_to_string(path).unwrap();
    let mut skipped = 0;
    let mut findings = Vec::new();
    for raw in raw_records(&text, &mut skipped) {
        let record = Record::from_raw(raw).unwrap();
        set.evaluate(&record, &mut findings);
    }
    let stop = findings
        .iter()
        .find(|f| f.rule_name == "aws_cloudtrail_disable_logging")
        .expect("StopLogging fires the disable-logging rule");
    insta::assert_json_snapshot!("sigma_finding_stop_logging", stop);
}

/// Throughput of the built-in engine alone and with every SigmaHQ rule, over the real logs repeated.
/// Each configuration runs several times, interleaved, and the best time counts (the machine is shared).
/// Run with `cargo test -p trailguard-rules --test sigma_scan --release -- --ignored --nocapture`.
#[test]
#[ignore = "benchmark: run by hand with --release"]
fn sigma_throughput() {
    let set = sigma_rules();
    let files = cloudtrail_files();
    let mut skipped = 0;
    let raws: Vec<&RawValue> = files
        .iter()
        .flat_map(|(_, text)| raw_records(text, &mut skipped))
        .collect();
    let engine = trailguard_rules::engine::Engine::builtin();
    let rounds = 40;
    let total = (raws.len() * rounds) as f64;

    // (label, built-in rules, Sigma rules)
    let configs = [
        ("parse only", false, false),
        ("built-in rules", true, false),
        ("built-in + SigmaHQ rules", true, true),
        ("SigmaHQ rules only", false, true),
    ];
    let mut best = [f64::MAX; 4];
    let mut findings_per_round = [0usize; 4];
    for _ in 0..7 {
        for (slot, &(_, with_builtin, with_sigma)) in configs.iter().enumerate() {
            let mut worker = engine.new_worker();
            let mut findings = Vec::new();
            let start = Instant::now();
            for _ in 0..rounds {
                findings.clear();
                for raw in &raws {
                    let Ok(record) = Record::from_raw(raw) else {
                        continue;
                    };
                    if with_builtin {
                        worker.visit(&record);
                    }
                    if with_sigma {
                        set.evaluate(&record, &mut findings);
                    }
                }
            }
            best[slot] = best[slot].min(start.elapsed().as_secs_f64());
            findings_per_round[slot] = findings.len() + worker.findings().len() / rounds;
        }
    }
    for (slot, (label, _, _)) in configs.iter().enumerate() {
        println!(
            "{label:<26} {:>10.0} records/s  ({} records/round, {} findings/round)",
            total / best[slot],
            raws.len(),
            findings_per_round[slot]
        );
    }
    println!(
        "Sigma cost over built-in: {:+.1}%   (Sigma alone over parsing: {:+.1}%)",
        (best[2] / best[1] - 1.0) * 100.0,
        (best[3] / best[0] - 1.0) * 100.0
    );
}
