//! The pipeline end to end: error lines, positions, envelopes, filters and the parallel split of one
//! large stream, on records shaped like real CloudTrail events.

use std::path::Path;

use chrono::{DateTime, Utc};
use trailguard_event::source::{MemorySource, ReaderSource, Source};
use trailguard_event::synth::Synth;
use trailguard_event::{
    scan, scan_sources, CollectErrors, Filter, Origin, Record, RecordVisitor, ScanOptions,
    ScanStats, SkipReason,
};

/// A record's eventID, file, index and byte offset.
type Seen = (String, String, usize, u64);

/// Keeps each record's eventID with where the pipeline says it came from.
#[derive(Default)]
struct Located(Vec<Seen>);

impl RecordVisitor for Located {
    fn visit(&mut self, _record: &Record<'_>) {
        unreachable!("the pipeline calls visit_at");
    }

    fn visit_at(&mut self, record: &Record<'_>, origin: &Origin<'_>) {
        self.0.push((
            record.event_id.as_deref().unwrap_or("").to_owned(),
            origin.file.display().to_string(),
            origin.record_index,
            origin.byte_offset,
        ));
    }
}

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-03-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn synth_records(seed: u64, n: usize) -> Vec<String> {
    let mut synth = Synth::new(seed, start());
    (0..n).map(|_| synth.next_record()).collect()
}

fn event_id(text: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(text).unwrap();
    value["eventID"].as_str().unwrap().to_owned()
}

fn run(
    sources: Vec<Box<dyn Source>>,
    filter: &Filter,
    threads: usize,
) -> (Vec<Seen>, ScanStats, Vec<String>) {
    let errors = CollectErrors::default();
    let (visitors, stats) =
        scan_sources(sources, filter, threads, Located::default, &errors).unwrap();
    let mut got: Vec<_> = visitors.into_iter().flat_map(|v| v.0).collect();
    got.sort_by(|a, b| (&a.1, a.2).cmp(&(&b.1, b.2)));
    let lines = errors.take().iter().map(|e| e.to_string()).collect();
    (got, stats, lines)
}

#[test]
fn error_lines_name_file_record_and_byte() {
    let records = synth_records(1, 14);
    let mut texts = records.clone();
    // Record 12 loses its eventName; record 13 is not an object.
    texts[12] = texts[12].replacen("\"eventName\":", "\"eventNameX\":", 1);
    texts[13] = "[\"not\",\"a\",\"record\"]".to_owned();
    let body = format!("{{\"Records\":[{}]}}", texts.join(","));
    let offset_12 = body.find(&texts[12]).unwrap();
    let offset_13 = body.find(&texts[13]).unwrap();
    let source = MemorySource::new("samples/x.json", body.clone().into_bytes());
    let (got, stats, lines) = run(vec![Box::new(source)], &Filter::default(), 1);
    assert_eq!(
        lines,
        [
            format!("samples/x.json: record 12 (byte {offset_12}): missing field `eventName`"),
            format!("samples/x.json: record 13 (byte {offset_13}): expected a JSON object, found an array"),
        ]
    );
    assert_eq!(got.len(), 12);
    for (id, file, index, offset) in &got {
        assert_eq!(file, "samples/x.json");
        assert_eq!(*id, event_id(&records[*index]));
        // The offset points at the record's own text.
        assert!(body[*offset as usize..].starts_with(&records[*index]));
    }
    assert_eq!(
        stats.records_skipped.get(&SkipReason::MissingEventName),
        Some(&1)
    );
    assert_eq!(
        stats.records_skipped.get(&SkipReason::NotAnObject),
        Some(&1)
    );
    assert_eq!(stats.records_seen, 14);
    assert_eq!(stats.errors, 2);
}

#[test]
fn unreadable_event_time_is_reported_without_a_filter_and_string_flags_are_read() {
    let records = synth_records(3, 4);
    let mut texts = records.clone();
    // Record 1's time cannot be placed, yet it is judged (and reported); record 2 writes its flags as
    // strings, as some exports do.
    let time_start = texts[1].find("\"eventTime\":\"").unwrap() + "\"eventTime\":\"".len();
    let time_end = time_start + texts[1][time_start..].find('"').unwrap();
    texts[1].replace_range(time_start..time_end, "10/07/2023 12:20");
    let value: serde_json::Value = serde_json::from_str(&texts[2]).unwrap();
    let read_only = value["readOnly"].as_bool().unwrap();
    texts[2] = texts[2].replacen(
        &format!("\"readOnly\":{read_only}"),
        &format!(
            "\"readOnly\":\"{}\"",
            if read_only { "True" } else { "False" }
        ),
        1,
    );
    assert_ne!(texts[2], records[2], "the flag was rewritten");
    let body = format!("{{\"Records\":[{}]}}", texts.join(","));
    let offset_1 = body.find(&texts[1]).unwrap();
    let source = MemorySource::new("logs/t.json", body.clone().into_bytes());
    let (got, stats, lines) = run(vec![Box::new(source)], &Filter::default(), 1);
    assert_eq!(
        lines,
        [format!(
            "logs/t.json: record 1 (byte {offset_1}): `eventTime` `10/07/2023 12:20` is not a time (RFC 3339, or `YYYY-MM-DD HH:MM:SS` in UTC): judged on its own, never combined with other events (its place among them is unknown)"
        )]
    );
    let ids: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
    assert_eq!(ids, records.iter().map(|r| event_id(r)).collect::<Vec<_>>());
    assert!(stats.records_skipped.is_empty(), "{stats:?}");
    assert_eq!(stats.records_untimed, 1);
    assert_eq!(stats.records_matched, 4);
    assert_eq!(stats.records_seen, 4);
}

#[test]
fn truncated_json_keeps_the_records_before_the_cut() {
    let records = synth_records(2, 20);
    let body = format!("{{\"Records\":[{}]}}", records.join(","));
    let cut_at = body.find(&records[17]).unwrap() + 100;
    let source = MemorySource::new("cut.json", body.as_bytes()[..cut_at].to_vec());
    let (got, stats, lines) = run(vec![Box::new(source)], &Filter::default(), 1);
    assert_eq!(got.len(), 17);
    let at = body.find(&records[17]).unwrap();
    assert_eq!(
        lines,
        [format!(
            "cut.json: record 17 (byte {at}): truncated JSON: the input ends inside this record"
        )]
    );
    assert_eq!(stats.files_read, 1);
    assert_eq!(
        stats.files_truncated.get(&SkipReason::TruncatedJson),
        Some(&1)
    );
}

#[test]
fn json_lines_with_envelopes_and_a_garbage_line() {
    let records = synth_records(3, 4);
    let lines_in = [
        records[0].clone(),
        format!(
            r#"{{"version":"0","id":"a1","detail-type":"AWS API Call via CloudTrail","source":"aws.iam","account":"111122223333","time":"2024-03-01T00:00:01Z","region":"us-east-1","resources":[],"detail":{}}}"#,
            records[1]
        ),
        "this line is not json".to_owned(),
        format!(r#"{{"source":"docs","event":{}}}"#, records[2]),
        r#"{"version":"0","id":"a2","detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","detail":{"instance-id":"i-1","state":"running"}}"#.to_owned(),
        records[3].clone(),
    ];
    let body = lines_in.join("\n");
    let source = MemorySource::new("events.jsonl", body.into_bytes());
    let (got, stats, lines) = run(vec![Box::new(source)], &Filter::default(), 1);
    let ids: Vec<_> = got.iter().map(|g| g.0.clone()).collect();
    assert_eq!(ids, records.iter().map(|r| event_id(r)).collect::<Vec<_>>());
    assert_eq!(got.iter().map(|g| g.2).collect::<Vec<_>>(), [0, 1, 3, 5]);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with("events.jsonl: line 3, record 2 (byte "),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("not valid JSON"), "{}", lines[0]);
    assert!(
        lines[1].contains("record 4")
            && lines[1].contains("`EC2 Instance State-change Notification`"),
        "{}",
        lines[1]
    );
    assert_eq!(stats.records_skipped.get(&SkipReason::NotAnEvent), Some(&1));
}

#[test]
fn one_large_stream_is_split_across_workers_without_loss() {
    // ~20 MB through a one-shot stream (as stdin): the reader splits, workers parse.
    let records = synth_records(4, 15_000);
    let mut texts = records.clone();
    for bad in [5, 7_777, 14_999] {
        texts[bad] = texts[bad].replacen("\"eventName\":", "\"eventNameX\":", 1);
    }
    let body = format!("{{\"Records\":[{}]}}", texts.join(",\n"));
    let source = ReaderSource::new("-", std::io::Cursor::new(body.clone().into_bytes()));
    let (got, stats, lines) = run(vec![Box::new(source)], &Filter::default(), 4);
    assert_eq!(got.len(), 15_000 - 3);
    let mut indexes: Vec<_> = got.iter().map(|g| g.2).collect();
    indexes.dedup();
    assert_eq!(indexes.len(), got.len(), "each record once");
    for (id, _, index, offset) in &got {
        assert_eq!(*id, event_id(&records[*index]));
        assert!(body[*offset as usize..].starts_with(&records[*index]));
    }
    assert_eq!(lines.len(), 3);
    for (line, bad) in lines.iter().zip([5, 7_777, 14_999]) {
        let at = body.find(&texts[bad]).unwrap();
        assert_eq!(
            line,
            &format!("-: record {bad} (byte {at}): missing field `eventName`")
        );
    }
    assert_eq!(stats.bytes_uncompressed, body.len() as u64);
}

#[test]
fn filters_count_what_they_leave_out() {
    let records = synth_records(5, 3_000);
    let values: Vec<serde_json::Value> = records
        .iter()
        .map(|r| serde_json::from_str(r).unwrap())
        .collect();
    let filter = Filter {
        event_names: vec!["AssumeRole".into(), "CreateUser".into(), "Decrypt".into()],
        regions: vec!["us-east-1".into(), "eu-west-1".into()],
        accounts: vec!["111122223333".into()],
        since: Some(
            DateTime::parse_from_rfc3339("2024-03-01T00:05:00Z")
                .unwrap()
                .with_timezone(&Utc),
        ),
        until: Some(
            DateTime::parse_from_rfc3339("2024-03-01T00:40:00Z")
                .unwrap()
                .with_timezone(&Utc),
        ),
    };
    let want: Vec<String> = values
        .iter()
        .filter(|v| {
            let time = v["eventTime"].as_str().unwrap();
            ["AssumeRole", "CreateUser", "Decrypt"].contains(&v["eventName"].as_str().unwrap())
                && ["us-east-1", "eu-west-1"].contains(&v["awsRegion"].as_str().unwrap())
                && (v["recipientAccountId"] == "111122223333"
                    || v["userIdentity"]["accountId"] == "111122223333")
                && ("2024-03-01T00:05:00Z".."2024-03-01T00:40:00Z").contains(&time)
        })
        .map(|v| v["eventID"].as_str().unwrap().to_owned())
        .collect();
    assert!(want.len() > 30, "{}", want.len());
    // Split over several files so that several workers filter.
    let sources: Vec<Box<dyn Source>> = records
        .chunks(500)
        .enumerate()
        .map(|(i, chunk)| {
            Box::new(MemorySource::new(
                format!("part{i}.json"),
                format!("{{\"Records\":[{}]}}", chunk.join(",")).into_bytes(),
            )) as Box<dyn Source>
        })
        .collect();
    let (got, stats, lines) = run(sources, &filter, 3);
    assert!(lines.is_empty(), "{lines:?}");
    let mut got_ids: Vec<_> = got.into_iter().map(|g| g.0).collect();
    let mut want = want;
    got_ids.sort();
    want.sort();
    assert_eq!(got_ids, want);
    assert_eq!(stats.records_matched, want.len() as u64);
    assert_eq!(stats.records_filtered, 3_000 - want.len() as u64);
    assert_eq!(stats.records_seen, 3_000);
}

#[test]
fn directory_scan_counts_digests_ignored_and_missing_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let day = dir
        .path()
        .join("AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/01");
    let digest = dir
        .path()
        .join("AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/03/01");
    std::fs::create_dir_all(&day).unwrap();
    std::fs::create_dir_all(&digest).unwrap();
    let records = synth_records(6, 10);
    std::fs::write(
        day.join("a.json"),
        format!("{{\"Records\":[{}]}}", records[..6].join(",")),
    )
    .unwrap();
    std::fs::write(day.join("b.json"), format!("[{}]", records[6..].join(","))).unwrap();
    std::fs::write(
        digest.join("111122223333_CloudTrail-Digest_us-east-1_x.json.gz"),
        b"ignored",
    )
    .unwrap();
    std::fs::write(day.join("NOTES.txt"), b"not a log").unwrap();
    let missing = dir.path().join("missing.json.gz");
    let errors = CollectErrors::default();
    let opts = ScanOptions {
        inputs: vec![dir.path().to_path_buf(), missing.clone()],
        filter: Filter::default(),
        threads: 2,
    };
    let (visitors, stats) = scan(&opts, Located::default, &errors).unwrap();
    assert_eq!(visitors.iter().map(|v| v.0.len()).sum::<usize>(), 10);
    assert_eq!(stats.files_read, 2);
    assert_eq!(stats.files_skipped.get(&SkipReason::DigestFile), Some(&1));
    assert_eq!(stats.files_skipped.get(&SkipReason::Unreadable), Some(&1));
    assert_eq!(stats.files_ignored, 1);
    let errors = errors.take();
    assert_eq!(errors.len(), 1);
    let line = errors[0].to_string();
    assert!(
        line.starts_with(&format!("{}: cannot read input: ", missing.display())),
        "{line}"
    );
    assert!(Path::new(&errors[0].file) == missing);
}

#[test]
fn damaged_inputs_never_panic_and_keep_the_counts_straight() {
    let records = synth_records(7, 40);
    let body = format!("{{\"Records\":[{}]}}", records.join(",\n")).into_bytes();
    let mut rng = trailguard_event::synth::Rng::new(42);
    let specials = [
        b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', b'\n', 0xff, b' ',
    ];
    for round in 0..300 {
        let mut damaged = body.clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(damaged.len() as u64) as usize;
            match rng.below(4) {
                0 => damaged[at] = *rng.pick(&specials),
                1 => damaged.insert(at, *rng.pick(&specials)),
                2 => {
                    damaged.remove(at);
                }
                _ => damaged.truncate(at),
            }
        }
        let damaged_copy = damaged.clone();
        let source = MemorySource::new(format!("round{round}.json"), damaged);
        let (got, stats, _) = run(vec![Box::new(source)], &Filter::default(), 1 + round % 2);
        assert!(got.len() <= 40, "round {round}");
        assert_eq!(
            stats.records_seen,
            stats.records_matched + stats.records_filtered + stats.records_skipped_total(),
            "round {round}: {stats:?}"
        );
        assert_eq!(stats.records_matched, got.len() as u64);
        // Damage may shift or cut records, but never makes one record come out twice.
        let mut ids: Vec<_> = got.iter().map(|g| g.0.clone()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(
            ids.len(),
            got.len(),
            "round {round}: a record delivered twice"
        );
        // Records before the first damaged byte are delivered unchanged.
        let first_damage = body
            .iter()
            .zip(&damaged_copy)
            .position(|(a, b)| a != b)
            .unwrap_or(damaged_copy.len().min(body.len()));
        let text = String::from_utf8_lossy(&body);
        for (index, record) in records.iter().enumerate() {
            let end = text.find(record.as_str()).unwrap() + record.len();
            if end < first_damage {
                assert!(
                    got.iter().any(|g| g.2 == index && g.0 == event_id(record)),
                    "round {round}: record {index} before the damage at {first_damage} was lost"
                );
            }
        }
    }
}

#[test]
fn progress_reaches_the_total_stored_size() {
    use std::sync::atomic::{AtomicU64, Ordering};

    #[derive(Default)]
    struct Progress {
        done: AtomicU64,
        total: AtomicU64,
    }
    impl trailguard_event::Observer for Progress {
        fn on_progress(&self, done: u64, total: u64) {
            self.done.fetch_max(done, Ordering::Relaxed);
            self.total.store(total, Ordering::Relaxed);
        }
    }
    let records = synth_records(8, 300);
    let sources: Vec<Box<dyn Source>> = records
        .chunks(100)
        .enumerate()
        .map(|(i, chunk)| {
            Box::new(MemorySource::new(
                format!("p{i}.json"),
                format!("[{}]", chunk.join(",")).into_bytes(),
            )) as Box<dyn Source>
        })
        .collect();
    let total: u64 = sources.iter().filter_map(|s| s.size_hint()).sum();
    let progress = Progress::default();
    let (_, stats) =
        scan_sources(sources, &Filter::default(), 2, Located::default, &progress).unwrap();
    assert_eq!(stats.records_matched, 300);
    assert_eq!(progress.total.load(Ordering::Relaxed), total);
    assert_eq!(progress.done.load(Ordering::Relaxed), total);
    assert_eq!(stats.bytes_read, total);
}

#[test]
fn cloudwatch_logs_firehose_export_is_read() {
    use std::io::Write;

    let records = synth_records(9, 6);
    let envelope = |events: &[String]| {
        let log_events: Vec<serde_json::Value> = events
            .iter()
            .enumerate()
            .map(|(i, e)| serde_json::json!({"id": i.to_string(), "timestamp": 1_709_251_200_000u64 + i as u64, "message": e}))
            .collect();
        serde_json::json!({
            "messageType": "DATA_MESSAGE",
            "owner": "111122223333",
            "logGroup": "aws-cloudtrail-logs-111122223333",
            "logStream": "111122223333_CloudTrail_us-east-1",
            "subscriptionFilters": ["cloudtrail-to-firehose"],
            "logEvents": log_events,
        })
        .to_string()
    };
    let control = r#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1709251200000,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}"#;
    // Firehose concatenates the objects with no separator, then gzips the batch.
    let body = format!(
        "{control}{}{}",
        envelope(&records[..4]),
        envelope(&records[4..])
    );
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(body.as_bytes()).unwrap();
    let bytes = gz.finish().unwrap();
    let (got, stats, lines) = run(
        vec![Box::new(MemorySource::new("firehose-batch", bytes.clone()))],
        &Filter::default(),
        1,
    );
    assert!(lines.is_empty(), "{lines:?}");
    let mut ids: Vec<_> = got.iter().map(|g| g.0.clone()).collect();
    let mut want: Vec<_> = records.iter().map(|r| event_id(r)).collect();
    ids.sort();
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(stats.files_read, 1);

    // Filtering by event name still finds records inside the escaped messages.
    let name = serde_json::from_str::<serde_json::Value>(&records[5]).unwrap()["eventName"]
        .as_str()
        .unwrap()
        .to_owned();
    let filter = Filter {
        event_names: vec![name.clone()],
        ..Filter::default()
    };
    let (got, _, _) = run(
        vec![Box::new(MemorySource::new("firehose-batch", bytes))],
        &filter,
        1,
    );
    let expected = records
        .iter()
        .filter(|r| {
            serde_json::from_str::<serde_json::Value>(r).unwrap()["eventName"] == name.as_str()
        })
        .count();
    assert_eq!(got.len(), expected);
    assert!(expected >= 1);
}

#[test]
fn records_the_visitor_declines_are_not_parsed() {
    use trailguard_event::peek::RawRecord;

    /// Wants IAM events only, like a rule engine whose rules all watch IAM.
    #[derive(Default)]
    struct IamOnly(Vec<String>);
    impl RecordVisitor for IamOnly {
        fn wants_raw(&mut self, raw: &RawRecord<'_>) -> bool {
            raw.event_source().is_none_or(|s| s == "iam.amazonaws.com")
        }
        fn visit(&mut self, record: &Record<'_>) {
            // A hint, not a guarantee: the first record of each input is always parsed and visited.
            if record.event_source == "iam.amazonaws.com" {
                self.0
                    .push(record.event_id.as_deref().unwrap_or("").to_owned());
            }
        }
    }
    let records = synth_records(10, 4_000);
    let iam: Vec<String> = records
        .iter()
        .filter(|r| r.contains(r#""eventSource":"iam.amazonaws.com""#))
        .map(|r| event_id(r))
        .collect();
    assert!(iam.len() > 50);
    for threads in [1, 2] {
        // One file read whole and one stream split across workers.
        let body = format!("{{\"Records\":[{}]}}", records.join(","));
        let sources: Vec<Box<dyn Source>> = vec![
            Box::new(MemorySource::new("whole.json", body.clone().into_bytes())),
            Box::new(ReaderSource::new(
                "-",
                std::io::Cursor::new(body.into_bytes()),
            )),
        ];
        let errors = CollectErrors::default();
        let (visitors, stats) = scan_sources(
            sources,
            &Filter::default(),
            threads,
            IamOnly::default,
            &errors,
        )
        .unwrap();
        assert!(errors.take().is_empty());
        let mut got: Vec<_> = visitors.into_iter().flat_map(|v| v.0).collect();
        got.sort();
        let mut want: Vec<_> = iam.iter().chain(&iam).cloned().collect();
        want.sort();
        assert_eq!(got, want);
        // The first record (not IAM) of each of the two inputs was parsed to judge the input.
        assert!(!records[0].contains(r#""eventSource":"iam.amazonaws.com""#));
        assert_eq!(stats.records_matched, want.len() as u64 + 2);
        assert_eq!(stats.records_unparsed, 2 * (4_000 - iam.len() as u64) - 2);
        assert_eq!(stats.records_seen, 8_000);
    }
}
