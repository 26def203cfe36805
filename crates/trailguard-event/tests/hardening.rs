//! Hostile and damaged input found by probing: a bad first record, a record cut short in JSON lines,
//! nesting deeper than the parser reads and a gzip member that fails its CRC check. Each must lose only
//! itself, and be counted and reported with where it is.

use std::io::Write;

use chrono::{DateTime, Utc};
use flate2::write::GzEncoder;
use flate2::Compression;
use trailguard_event::source::{MemorySource, Source};
use trailguard_event::synth::Synth;
use trailguard_event::{
    scan_sources, CollectErrors, Filter, Origin, Record, RecordVisitor, ScanStats, SkipReason,
};

/// Keeps the eventID of every record it is given.
#[derive(Default)]
struct Ids(Vec<String>);

impl RecordVisitor for Ids {
    fn visit(&mut self, record: &Record<'_>) {
        self.0
            .push(record.event_id.as_deref().unwrap_or("").to_owned());
    }

    fn visit_at(&mut self, record: &Record<'_>, _origin: &Origin<'_>) {
        self.visit(record);
    }
}

fn records(n: usize) -> Vec<String> {
    let start: DateTime<Utc> = DateTime::parse_from_rfc3339("2024-03-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let mut synth = Synth::new(7, start);
    (0..n).map(|_| synth.next_record()).collect()
}

fn id_of(text: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(text).unwrap();
    value["eventID"].as_str().unwrap().to_owned()
}

fn run(name: &str, bytes: Vec<u8>) -> (Vec<String>, ScanStats, Vec<String>) {
    let errors = CollectErrors::default();
    let source: Box<dyn Source> = Box::new(MemorySource::new(name, bytes));
    let (visitors, stats) =
        scan_sources(vec![source], &Filter::default(), 1, Ids::default, &errors).unwrap();
    let ids = visitors.into_iter().flat_map(|v| v.0).collect();
    let lines = errors.take().iter().map(|e| e.to_string()).collect();
    (ids, stats, lines)
}

#[test]
fn a_malformed_first_record_loses_only_itself() {
    let texts = records(999);
    let good: Vec<String> = texts.iter().map(|t| id_of(t)).collect();
    // In a CloudTrail file: the first element is broken JSON.
    let body = format!(
        "{{\"Records\":[{{\"eventVersion\":\"1.08\",\"eventTime\":tru}},{}]}}",
        texts.join(",")
    );
    let (ids, stats, lines) = run("first-bad.json", body.into_bytes());
    assert_eq!(ids, good);
    assert_eq!(stats.files_read, 1);
    assert_eq!(stats.records_skipped_total(), 1, "{lines:?}");
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0].starts_with("first-bad.json: record 0 "),
        "{lines:?}"
    );

    // In JSON lines: the first line is not a record at all, then the same records.
    for first in [
        "{\"eventVersion\":\"1.08\",\"eventTime\":tru}",
        "\"oops\"",
        "nonsense",
    ] {
        let body = format!("{first}\n{}\n", texts.join("\n"));
        let (ids, stats, lines) = run("first-bad.jsonl", body.into_bytes());
        assert_eq!(ids, good, "{first}");
        assert_eq!(stats.files_read, 1);
        assert_eq!(stats.records_skipped_total(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with("first-bad.jsonl: line 1, record 0 (byte 0): "),
            "{lines:?}"
        );
    }

    // A file of JSON that is not CloudTrail is still judged so, once.
    let other = "{\"name\":\"x\",\"version\":\"1\"}\n".repeat(20);
    let (ids, stats, lines) = run("package.jsonl", other.into_bytes());
    assert!(ids.is_empty());
    assert_eq!(
        stats.files_skipped.get(&SkipReason::NotCloudTrail),
        Some(&1)
    );
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("not a CloudTrail log"), "{lines:?}");
}

#[test]
fn a_record_cut_short_in_json_lines_loses_only_itself() {
    let texts = records(50);
    let mut lines_in = texts.clone();
    // Record 20 is cut mid-way (a crash while writing it); the lines after it are whole.
    lines_in[20] = texts[20][..texts[20].len() / 2].to_owned();
    let body = lines_in.join("\n") + "\n";
    let (ids, stats, lines) = run("cut.jsonl", body.clone().into_bytes());
    let expected: Vec<String> = texts
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 20)
        .map(|(_, t)| id_of(t))
        .collect();
    assert_eq!(ids, expected);
    assert_eq!(stats.records_skipped_total(), 1, "{lines:?}");
    assert!(stats.files_truncated.is_empty(), "{stats:?}");
    let offset = body.find(&lines_in[20]).unwrap();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!("cut.jsonl: line 21, record 20 (byte {offset}): ")),
        "{lines:?}"
    );
}

#[test]
fn nesting_deeper_than_the_parser_reads_is_counted_and_reported() {
    let texts = records(5);
    let deep = texts[2].replacen(
        "\"requestParameters\":",
        &format!(
            "\"requestParameters\":{{\"policyDocument\":{}{}}},\"x\":",
            "[".repeat(300),
            "]".repeat(300)
        ),
        1,
    );
    assert_ne!(deep, texts[2], "the record has requestParameters");
    let mut all = texts.clone();
    all[2] = deep;
    let body = format!("{{\"Records\":[{}]}}", all.join(","));
    let (ids, stats, lines) = run("deep.json", body.into_bytes());
    assert_eq!(ids.len(), 4);
    assert!(!ids.contains(&id_of(&texts[2])));
    assert_eq!(
        stats.records_skipped.get(&SkipReason::NestedTooDeep),
        Some(&1)
    );
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0].starts_with("deep.json: record 2 ")
            && lines[0].contains("`requestParameters` nests deeper than 128 levels"),
        "{lines:?}"
    );
}

fn gzip(bytes: &[u8], level: u32) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::new(level));
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn records_of_a_gzip_member_that_fails_its_check_are_never_delivered() {
    let texts = records(20);
    let first = format!("{{\"Records\":[{}]}}", texts[..10].join(","));
    let second = format!("{{\"Records\":[{}]}}", texts[10..].join(","));
    // Stored (level 0) so the text sits as it is in the member: change one digit of an address.
    let mut damaged = gzip(second.as_bytes(), 0);
    let at = damaged
        .windows(4)
        .position(|w| w.iter().all(u8::is_ascii_digit))
        .unwrap();
    damaged[at] = if damaged[at] == b'1' { b'2' } else { b'1' };
    let mut bytes = gzip(first.as_bytes(), 6);
    bytes.extend(damaged);
    let (ids, stats, lines) = run("members.json.gz", bytes);
    let expected: Vec<String> = texts[..10].iter().map(|t| id_of(t)).collect();
    assert_eq!(ids, expected, "only the first member's records");
    assert_eq!(
        stats.files_truncated.get(&SkipReason::CorruptGzip),
        Some(&1)
    );
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("members.json.gz: corrupt gzip at byte ")
            && lines[0].contains("gzip member 2 is damaged"),
        "{lines:?}"
    );
}
