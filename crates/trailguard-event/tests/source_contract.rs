//! The source contract: every kind of source must pass the same cases, run by one macro line each.
//!
//! Cases: empty input, truncated gzip (records before the cut are kept), concatenated gzip members,
//! non-CloudTrail JSON and digest files counted as skipped, and an input several times larger than the
//! split buffer, streamed through the parallel pipeline without losing or repeating a record.

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Utc};
use flate2::write::GzEncoder;
use flate2::Compression;
use trailguard_event::source::{FileSource, MemorySource, ReaderSource, Source};
use trailguard_event::synth::Synth;
use trailguard_event::{
    scan_sources, CollectErrors, Filter, InputError, Record, RecordVisitor, ScanStats, SkipReason,
};

/// Builds a source of the kind under test holding `bytes`.
type MakeSource = fn(&Path, &str, Vec<u8>) -> Box<dyn Source>;

#[derive(Default)]
struct Ids(Vec<String>);

impl RecordVisitor for Ids {
    fn visit(&mut self, record: &Record<'_>) {
        self.0
            .push(record.event_id.as_deref().unwrap_or("?").to_owned());
    }
}

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-03-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// `n` synthetic records and the eventIDs they carry, independently read back with serde_json.
fn records(seed: u64, n: usize) -> (Vec<String>, Vec<String>) {
    let mut synth = Synth::new(seed, start());
    let texts: Vec<String> = (0..n).map(|_| synth.next_record()).collect();
    let ids = texts
        .iter()
        .map(|t| {
            let v: serde_json::Value = serde_json::from_str(t).unwrap();
            v["eventID"].as_str().unwrap().to_owned()
        })
        .collect();
    (texts, ids)
}

fn records_file(texts: &[String]) -> Vec<u8> {
    format!("{{\"Records\":[{}]}}", texts.join(",")).into_bytes()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn run(source: Box<dyn Source>, threads: usize) -> (Vec<String>, ScanStats, Vec<InputError>) {
    let errors = CollectErrors::default();
    let (visitors, stats) = scan_sources(
        vec![source],
        &Filter::default(),
        threads,
        Ids::default,
        &errors,
    )
    .unwrap();
    let ids = visitors.into_iter().flat_map(|v| v.0).collect();
    (ids, stats, errors.take())
}

fn check_invariants(stats: &ScanStats) {
    assert_eq!(
        stats.records_seen,
        stats.records_matched
            + stats.records_filtered
            + stats.records_unparsed
            + stats.records_skipped_total(),
        "{stats:?}"
    );
}

fn empty_input(dir: &Path, make: MakeSource) {
    for (name, bytes) in [("empty.json", Vec::new()), ("empty.json.gz", gzip(b""))] {
        let (ids, stats, errors) = run(make(dir, name, bytes), 1);
        assert!(ids.is_empty());
        assert_eq!(
            stats.files_skipped.get(&SkipReason::EmptyInput),
            Some(&1),
            "{name}"
        );
        assert_eq!(stats.files_read, 0);
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0]
                .to_string()
                .ends_with("empty input: no JSON in it"),
            "{}",
            errors[0]
        );
        check_invariants(&stats);
    }
}

fn truncated_gzip(dir: &Path, make: MakeSource) {
    let (texts, ids) = records(1, 1000);
    let whole = gzip(&records_file(&texts));
    let cut = whole[..whole.len() / 2].to_vec();
    let (got, stats, errors) = run(make(dir, "cut.json.gz", cut), 1);
    // Exactly the records before the cut are delivered, unchanged; the rest is lost. (A stream of
    // unknown size is cut into batches that workers take in any order, so compare them sorted.)
    assert!(got.len() > 100 && got.len() < 1000, "{}", got.len());
    let mut delivered = got.clone();
    delivered.sort();
    let mut before_cut = ids[..got.len()].to_vec();
    before_cut.sort();
    assert_eq!(delivered, before_cut);
    assert_eq!(stats.files_read, 1);
    assert_eq!(
        stats.files_truncated.get(&SkipReason::CorruptGzip),
        Some(&1)
    );
    assert_eq!(errors.len(), 1);
    let line = errors[0].to_string();
    assert!(
        line.contains("cut.json.gz: corrupt gzip at byte "),
        "{line}"
    );
    assert!(
        line.ends_with("the gzip stream ends early (truncated file)"),
        "{line}"
    );
    check_invariants(&stats);

    // Damage in the middle of the deflate data rather than a cut.
    let mut damaged = whole.clone();
    for b in &mut damaged[whole.len() / 2..whole.len() / 2 + 64] {
        *b ^= 0x5a;
    }
    let (got, stats, errors) = run(make(dir, "damaged.json.gz", damaged), 1);
    // The one member fails its check: none of its records is read (damaged bytes could pass for
    // values), and the damage is reported.
    assert!(
        got.is_empty(),
        "{} records from a damaged member",
        got.len()
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].reason, SkipReason::CorruptGzip);
    assert!(
        errors[0].to_string().contains("gzip member 1 is damaged"),
        "{}",
        errors[0]
    );
    check_invariants(&stats);
}

fn concatenated_gzip_members(dir: &Path, make: MakeSource) {
    let (texts, ids) = records(2, 30);
    // Two whole CloudTrail files in two members, then one file cut across two members mid-record.
    let mut bytes = gzip(&records_file(&texts[..10]));
    bytes.extend(gzip(&records_file(&texts[10..20])));
    let third = records_file(&texts[20..]);
    let mid = third.len() / 2;
    bytes.extend(gzip(&third[..mid]));
    bytes.extend(gzip(&third[mid..]));
    let (got, stats, errors) = run(make(dir, "members.json.gz", bytes), 1);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(got, ids);
    assert_eq!(stats.records_matched, 30);
    assert_eq!(stats.files_read, 1);
    check_invariants(&stats);
}

fn not_cloudtrail_is_skipped(dir: &Path, make: MakeSource) {
    let cases: [(&str, &[u8], SkipReason, &str); 4] = [
        (
            "policy.json",
            br#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
            SkipReason::NotCloudTrail,
            "not a CloudTrail log: a JSON object without `eventName`",
        ),
        (
            "numbers.json",
            b"[1, 2, 3]",
            SkipReason::NotCloudTrail,
            "not a CloudTrail log: expected a JSON object, found `1`",
        ),
        (
            "README",
            b"# trailguard\nnot json",
            SkipReason::NotCloudTrail,
            "not a CloudTrail log: not JSON (starts with `#`)",
        ),
        (
            "digest.json",
            br#"{"awsAccountId":"111122223333","digestStartTime":"2024-03-01T00:00:00Z","digestEndTime":"2024-03-01T01:00:00Z","digestS3Bucket":"trail-bucket","digestS3Object":"AWSLogs/x","logFiles":[]}"#,
            SkipReason::DigestFile,
            "",
        ),
    ];
    for (name, bytes, reason, message) in cases {
        for compressed in [false, true] {
            let bytes = if compressed {
                gzip(bytes)
            } else {
                bytes.to_vec()
            };
            let (got, stats, errors) = run(make(dir, name, bytes), 1);
            assert!(got.is_empty(), "{name}");
            assert_eq!(
                stats.files_skipped.get(&reason),
                Some(&1),
                "{name}: {stats:?}"
            );
            assert_eq!(stats.files_read, 0, "{name}");
            if message.is_empty() {
                assert!(errors.is_empty(), "{name}: {errors:?}");
            } else {
                assert_eq!(errors.len(), 1, "{name}: {errors:?}");
                assert!(errors[0].to_string().contains(message), "{}", errors[0]);
            }
        }
    }
}

fn large_input_is_streamed(dir: &Path, make: MakeSource) {
    // About 14 MB: several times the 4 MiB split buffer, so values straddle refills; as stdin or a large
    // file the pipeline splits it across the workers.
    let (texts, ids) = records(3, 10_000);
    let mut lines = texts.join("\n").into_bytes();
    lines.push(b'\n');
    for (name, bytes) in [("big.jsonl", lines.clone()), ("big.jsonl.gz", gzip(&lines))] {
        let (mut got, stats, errors) = run(make(dir, name, bytes), 3);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(stats.records_matched, 10_000);
        assert_eq!(stats.bytes_uncompressed, lines.len() as u64);
        got.sort();
        let mut want = ids.clone();
        want.sort();
        assert_eq!(got, want, "{name}: every record exactly once");
        check_invariants(&stats);
    }
}

macro_rules! source_contract {
    ($kind:ident, $make:expr) => {
        mod $kind {
            use super::*;

            fn make() -> MakeSource {
                $make
            }

            #[test]
            fn empty_input() {
                super::empty_input(tempfile::tempdir().unwrap().path(), make());
            }

            #[test]
            fn truncated_gzip() {
                super::truncated_gzip(tempfile::tempdir().unwrap().path(), make());
            }

            #[test]
            fn concatenated_gzip_members() {
                super::concatenated_gzip_members(tempfile::tempdir().unwrap().path(), make());
            }

            #[test]
            fn not_cloudtrail_is_skipped() {
                super::not_cloudtrail_is_skipped(tempfile::tempdir().unwrap().path(), make());
            }

            #[test]
            fn large_input_is_streamed() {
                super::large_input_is_streamed(tempfile::tempdir().unwrap().path(), make());
            }
        }
    };
}

source_contract!(file, |dir, name, bytes| {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    Box::new(FileSource::new(path))
});
source_contract!(memory, |_, name, bytes| Box::new(MemorySource::new(
    name, bytes
)));
source_contract!(stream, |_, name, bytes| Box::new(ReaderSource::new(
    name,
    std::io::Cursor::new(bytes)
)));
