//! The real CloudTrail logs in the shared reference data scan with zero errors, and every record is
//! delivered exactly once. Expected counts come from reading the same files independently with
//! `serde_json::Value`, not from our own output.

use std::path::{Path, PathBuf};

use trailguard_event::{
    parse_event_time, scan, CollectErrors, Filter, Record, RecordVisitor, ScanOptions, ScanStats,
};
use trailguard_testkit::shared_data;

/// What the visitor keeps of each record: enough to compare with the independent reading.
#[derive(Default)]
struct Keep(Vec<(String, String, String)>);

impl RecordVisitor for Keep {
    fn visit(&mut self, record: &Record<'_>) {
        self.0.push((
            record.event_id.as_deref().unwrap_or("").to_owned(),
            record.event_name.to_string(),
            record.event_time.to_string(),
        ));
    }
}

fn cloudtrail_dir() -> PathBuf {
    shared_data().join("cloudtrail")
}

/// Reads every event under `dir` with plain serde_json: `{"Records":[...]}` files, JSON arrays and
/// JSON lines whose events sit under `event`.
fn independent_events(dir: &Path) -> Vec<serde_json::Value> {
    let mut events = Vec::new();
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry.unwrap();
        let path = entry.path();
        let name = path.to_string_lossy();
        if name.ends_with(".json") {
            let value: serde_json::Value =
                serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
            match value {
                serde_json::Value::Array(items) => events.extend(items),
                serde_json::Value::Object(mut map) => match map.remove("Records") {
                    Some(serde_json::Value::Array(items)) => events.extend(items),
                    _ => panic!("{name}: unexpected shape"),
                },
                _ => panic!("{name}: unexpected shape"),
            }
        } else if name.ends_with(".jsonl") {
            for line in std::fs::read_to_string(path).unwrap().lines() {
                let mut value: serde_json::Value = serde_json::from_str(line).unwrap();
                events.push(value["event"].take());
            }
        }
    }
    events
}

fn key(event: &serde_json::Value) -> (String, String, String) {
    let text = |k: &str| event[k].as_str().unwrap_or("").to_owned();
    (text("eventID"), text("eventName"), text("eventTime"))
}

fn scan_dir(
    dir: &Path,
    filter: Filter,
    threads: usize,
) -> (Vec<(String, String, String)>, ScanStats, CollectErrors) {
    let errors = CollectErrors::default();
    let opts = ScanOptions {
        inputs: vec![dir.to_path_buf()],
        filter,
        threads,
    };
    let (visitors, stats) = scan(&opts, Keep::default, &errors).unwrap();
    let mut got: Vec<_> = visitors.into_iter().flat_map(|v| v.0).collect();
    got.sort();
    (got, stats, errors)
}

#[test]
fn every_folder_scans_with_zero_errors_and_exact_counts() {
    let mut total = 0;
    for folder in ["invictus-ir", "stratus-red-team", "aws-docs-examples"] {
        let dir = cloudtrail_dir().join(folder);
        let expected = independent_events(&dir);
        assert!(!expected.is_empty(), "{folder}: no reference events found");
        let mut want: Vec<_> = expected.iter().map(key).collect();
        want.sort();
        for threads in [1, 2] {
            let (got, stats, errors) = scan_dir(&dir, Filter::default(), threads);
            let errors = errors.take();
            assert!(
                errors.is_empty(),
                "{folder}: {}",
                errors
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            assert_eq!(got.len(), expected.len(), "{folder}");
            assert_eq!(got, want, "{folder}: same events, each once");
            assert_eq!(stats.records_seen, expected.len() as u64);
            assert_eq!(stats.records_skipped_total(), 0);
            assert_eq!(stats.files_skipped_total(), 0, "{folder}: {stats:?}");
        }
        total += expected.len();
    }
    // The README's numbers: 2,900 Invictus records, 310 Stratus records, 27 documentation examples.
    assert_eq!(total, 2900 + 310 + 27);
}

#[test]
fn license_and_readme_files_are_ignored_not_errors() {
    let (_, stats, errors) = scan_dir(&cloudtrail_dir(), Filter::default(), 2);
    assert!(errors.take().is_empty());
    // invictus-ir: LICENSE, README.md; stratus-red-team: LICENSE.
    assert_eq!(stats.files_ignored, 3, "{stats:?}");
    let json_files = walkdir::WalkDir::new(cloudtrail_dir())
        .into_iter()
        .filter(|e| {
            let name = e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .into_owned();
            name.ends_with(".json") || name.ends_with(".jsonl")
        })
        .count();
    assert_eq!(stats.files_read, json_files as u64);
}

#[test]
fn filters_agree_with_an_independent_filter() {
    let dir = cloudtrail_dir();
    let events = independent_events(&dir);
    let since = parse_event_time("2023-07-10T11:55:00Z").unwrap();
    let until = parse_event_time("2023-07-10T12:30:00Z").unwrap();
    let names = [
        "AssumeRole",
        "GetSecretValue",
        "CreateAccessKey",
        "Decrypt",
        "ConsoleLogin",
    ];
    let filter = Filter {
        since: Some(since),
        until: Some(until),
        accounts: vec![],
        regions: vec!["us-east-1".into()],
        event_names: names.iter().map(|n| n.to_string()).collect(),
    };
    let mut want: Vec<_> = events
        .iter()
        .filter(|e| {
            let t = parse_event_time(e["eventTime"].as_str().unwrap()).unwrap();
            t >= since
                && t < until
                && e["awsRegion"] == "us-east-1"
                && names.contains(&e["eventName"].as_str().unwrap())
        })
        .map(key)
        .collect();
    want.sort();
    assert!(
        want.len() > 20,
        "filter keeps too little to be a test: {}",
        want.len()
    );
    let (got, stats, errors) = scan_dir(&dir, filter, 2);
    assert!(errors.take().is_empty());
    assert_eq!(got, want);
    assert_eq!(stats.records_matched, want.len() as u64);
    assert_eq!(
        stats.records_filtered,
        events.len() as u64 - want.len() as u64
    );

    // Account filter: the Invictus account on either side of the call.
    let account = "123837392027";
    let by_account = events
        .iter()
        .filter(|e| e["recipientAccountId"] == account || e["userIdentity"]["accountId"] == account)
        .count();
    let filter = Filter {
        accounts: vec![account.into()],
        ..Filter::default()
    };
    let (got, _, _) = scan_dir(&dir, filter, 2);
    assert_eq!(got.len(), by_account);
    assert!(by_account > 1000);
}
