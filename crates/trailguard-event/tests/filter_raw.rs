//! The filter's raw decision agrees with its parsed one.
//!
//! [`Filter::check_raw`] settles records from one walk over their text so that a filtered scan keeps the
//! fast path; [`Filter::check`] (and the pipeline's rule that a kept record needs an RFC 3339 `eventTime`)
//! is the meaning. Checked here on every record of the real logs in the shared data, read as written
//! (member order, escapes), under filters built from their own values, and on hand-written edge cases:
//! escapes, missing and `null` fields, odd times, unusual member order, repeated keys. Then the pipeline:
//! a filtered scan whose visitor declines everything counts what one that parses everything counts.

use std::path::Path;

use serde::Deserialize;
use serde_json::value::RawValue;
use trailguard_event::peek::RawRecord;
use trailguard_event::source::MemorySource;
use trailguard_event::{
    parse_event_time, scan_sources, CollectErrors, Filter, FilterOutcome, RawOutcome, Record,
    RecordVisitor, ScanStats, SkipReason,
};
use trailguard_testkit::shared_data;

/// The parsed decision as the pipeline makes it (`deliver`): `None` when serde rejects the record.
fn parsed(filter: &Filter, text: &str) -> Option<FilterOutcome> {
    let raw: &RawValue = serde_json::from_str(text).ok()?;
    let record = Record::from_raw(raw).ok()?;
    Some(match filter.check(&record) {
        FilterOutcome::Keep if parse_event_time(&record.event_time).is_none() => {
            FilterOutcome::BadTime
        }
        outcome => outcome,
    })
}

fn raw(filter: &Filter, text: &str) -> RawOutcome {
    filter.check_raw(&RawRecord::with_fields(
        text.as_bytes(),
        filter.raw_fields(),
    ))
}

/// Whether the raw decision keeps the contract for one record serde reads.
fn agrees(raw: RawOutcome, parsed: FilterOutcome) -> bool {
    matches!(
        (raw, parsed),
        (RawOutcome::Parse, _)
            | (RawOutcome::Keep, FilterOutcome::Keep)
            | (RawOutcome::Drop, FilterOutcome::Drop)
    )
}

#[derive(Deserialize)]
struct Trail<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    event: &'a RawValue,
}

/// Every record under the shared CloudTrail data, as its text stands in the file.
fn real_records() -> Vec<String> {
    let dir = shared_data().join("cloudtrail");
    assert!(dir.is_dir(), "the shared data sits beside the checkout");
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(&dir) {
        let entry = entry.unwrap();
        let path: &Path = entry.path();
        let name = path.to_string_lossy();
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        if name.ends_with(".json") {
            if let Ok(trail) = serde_json::from_str::<Trail<'_>>(&text) {
                out.extend(trail.records.iter().map(|r| r.get().to_owned()));
            } else if let Ok(list) = serde_json::from_str::<Vec<&RawValue>>(&text) {
                out.extend(list.iter().map(|r| r.get().to_owned()));
            }
        } else if name.ends_with(".jsonl") {
            for line in text.lines() {
                if let Ok(line) = serde_json::from_str::<Line<'_>>(line) {
                    out.push(line.event.get().to_owned());
                }
            }
        }
    }
    out
}

/// The most common values first.
fn by_count<'a>(values: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for value in values {
        *counts.entry(value).or_default() += 1;
    }
    let mut sorted: Vec<_> = counts.into_iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    sorted.into_iter().map(|(v, _)| v).collect()
}

fn time(text: &str) -> chrono::DateTime<chrono::Utc> {
    parse_event_time(text).unwrap()
}

#[test]
fn raw_decisions_agree_with_parsed_ones_on_the_real_logs() {
    let texts = real_records();
    assert!(
        texts.len() > 1000,
        "the real logs hold records: {}",
        texts.len()
    );
    let records: Vec<(&str, Record<'_>)> = texts
        .iter()
        .filter_map(|t| {
            let raw: &RawValue = serde_json::from_str(t).ok()?;
            Some((t.as_str(), Record::from_raw(raw).ok()?))
        })
        .collect();
    assert!(records.len() * 10 > texts.len() * 9, "nearly all parse");

    let mut times: Vec<&str> = records.iter().map(|(_, r)| r.event_time.as_ref()).collect();
    times.sort();
    let regions = by_count(records.iter().filter_map(|(_, r)| r.aws_region.as_deref()));
    let recipients = by_count(
        records
            .iter()
            .filter_map(|(_, r)| r.recipient_account_id.as_deref()),
    );
    // An account seen only as the caller's: kept through `userIdentity.accountId` alone.
    let caller_only = by_count(records.iter().filter_map(|(_, r)| {
        let caller = r.user_identity.account_id.as_deref()?;
        (r.recipient_account_id.as_deref() != Some(caller)).then_some(caller)
    }));
    let names = by_count(records.iter().map(|(_, r)| r.event_name.as_ref()));
    assert!(regions.len() > 1 && recipients.len() > 1 && !caller_only.is_empty());

    let median = times[times.len() / 2];
    let late = times[times.len() * 3 / 4];
    let filters = [
        Filter {
            since: Some(time(median)),
            ..Filter::default()
        },
        Filter {
            until: Some(time(median)),
            ..Filter::default()
        },
        Filter {
            since: Some(time(median)),
            until: Some(time(late)),
            ..Filter::default()
        },
        // The same instants written with an offset.
        Filter {
            since: Some(time("2023-07-10T14:20:00+02:00")),
            until: Some(time("2023-07-10T08:30:00-04:00")),
            ..Filter::default()
        },
        Filter {
            regions: vec![regions[0].into()],
            ..Filter::default()
        },
        Filter {
            regions: vec![regions[1].into(), "nowhere-1".into(), String::new()],
            ..Filter::default()
        },
        Filter {
            accounts: vec![recipients[0].into()],
            ..Filter::default()
        },
        Filter {
            accounts: vec![caller_only[0].into(), "000000000000".into()],
            ..Filter::default()
        },
        Filter {
            event_names: vec![names[0].into(), names[3].into()],
            ..Filter::default()
        },
        Filter {
            since: Some(time(times[times.len() / 4])),
            regions: vec![regions[0].into()],
            accounts: vec![recipients[0].into(), caller_only[0].into()],
            ..Filter::default()
        },
    ];
    for filter in &filters {
        let (mut kept, mut dropped, mut undecided) = (0, 0, 0);
        for (text, record) in &records {
            let want = match filter.check(record) {
                FilterOutcome::Keep if parse_event_time(&record.event_time).is_none() => {
                    FilterOutcome::BadTime
                }
                outcome => outcome,
            };
            let got = raw(filter, text);
            assert!(
                agrees(got, want),
                "{filter:?}: raw {got:?}, parsed {want:?}: {text}"
            );
            match got {
                RawOutcome::Keep => kept += 1,
                RawOutcome::Drop => dropped += 1,
                RawOutcome::Parse => undecided += 1,
            }
        }
        // Deciding nothing would keep the contract and the slow path.
        assert!(
            undecided * 100 < records.len(),
            "{filter:?}: {undecided} of {} left to the parser",
            records.len()
        );
        assert!(
            kept > 0 && dropped > 0,
            "{filter:?}: kept {kept}, dropped {dropped}"
        );
    }
}

/// A record in CloudTrail's member order, the fields the filter reads marked for replacement.
const BASE: &str = r#"{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","principalId":"AROAX:alice","arn":"arn:aws:sts::111122223333:assumed-role/Admin/alice","accountId":"111122223333","sessionContext":{"attributes":{"creationDate":"2023-07-10T12:00:00Z","mfaAuthenticated":"false"}}},"eventTime":"2023-07-10T12:20:01Z","eventSource":"iam.amazonaws.com","eventName":"CreateUser","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.9","userAgent":"aws-cli/2","requestParameters":{"userName":"bob","tags":[{"key":"awsRegion","value":"eu-west-1"}]},"responseElements":null,"eventID":"e1","readOnly":false,"recipientAccountId":"444455556666","eventCategory":"Management"}"#;

fn filters() -> Vec<Filter> {
    let t = |s: &str| Some(time(s));
    vec![
        Filter {
            since: t("2023-07-10T12:20:01Z"),
            ..Filter::default()
        },
        Filter {
            since: t("2023-07-10T12:20:02Z"),
            ..Filter::default()
        },
        Filter {
            until: t("2023-07-10T12:20:01Z"),
            ..Filter::default()
        },
        Filter {
            regions: vec!["us-east-1".into()],
            ..Filter::default()
        },
        Filter {
            regions: vec!["eu-west-1".into()],
            ..Filter::default()
        },
        Filter {
            regions: vec![String::new()],
            ..Filter::default()
        },
        Filter {
            accounts: vec!["444455556666".into()],
            ..Filter::default()
        },
        Filter {
            accounts: vec!["111122223333".into()],
            ..Filter::default()
        },
        Filter {
            accounts: vec!["999999999999".into()],
            ..Filter::default()
        },
        Filter {
            event_names: vec!["CreateUser".into()],
            ..Filter::default()
        },
        Filter {
            since: t("2023-07-10T00:00:00Z"),
            regions: vec!["us-east-1".into()],
            accounts: vec!["111122223333".into()],
            event_names: vec!["CreateUser".into()],
            ..Filter::default()
        },
    ]
}

/// `BASE` with one piece of text replaced (which must be there).
fn with(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "{from}");
    BASE.replacen(from, to, 1)
}

#[test]
fn raw_decisions_agree_on_hand_written_edge_cases() {
    let time_field = r#""eventTime":"2023-07-10T12:20:01Z","#;
    let region_field = r#""awsRegion":"us-east-1","#;
    let recipient_field = r#","recipientAccountId":"444455556666""#;
    let caller_field = r#""accountId":"111122223333","#;
    let identity = &BASE[BASE.find(r#""userIdentity""#).unwrap()..BASE.find(time_field).unwrap()];
    let moved = |field: &str, to_end: bool| {
        let without = BASE.replacen(field, "", 1);
        let field = field.trim_matches(',');
        if to_end {
            format!("{},{field}}}", &without[..without.len() - 1])
        } else {
            format!("{{{field},{}", &without[1..])
        }
    };
    // (what the case is, its text)
    let cases: Vec<(&str, String)> = vec![
        ("the base record", BASE.to_owned()),
        // Escaped strings in the fields read: serde decodes them, the walk does not.
        ("escaped time", with("12:20:01Z", r"12:20:01\u005a")),
        (
            "escaped region",
            with(r#""us-east-1""#, r#""us-east\u002d1""#),
        ),
        (
            "escaped recipient",
            with(r#""444455556666""#, r#""4444555566\u00366""#),
        ),
        (
            "escaped caller",
            with(r#""111122223333""#, r#""\u003111122223333""#),
        ),
        (
            "escaped event name",
            with(r#""CreateUser""#, r#""Create\u0055ser""#),
        ),
        (
            "escaped quote in the region",
            with(r#""us-east-1""#, r#""us-\"east-1""#),
        ),
        // Keys spelled with escapes are the same keys to serde.
        (
            "escaped region key",
            with(r#""awsRegion""#, r#""aws\u0052egion""#),
        ),
        (
            "escaped time key",
            with(r#""eventTime""#, r#""event\u0054ime""#),
        ),
        (
            "escaped other key",
            with(r#""sourceIPAddress""#, r#""source\u0049PAddress""#),
        ),
        (
            "escaped key inside userIdentity",
            with(r#""principalId""#, r#""principal\u0049d""#),
        ),
        // Missing and null fields.
        ("no time", with(time_field, "")),
        ("null time", with(r#""2023-07-10T12:20:01Z""#, "null")),
        // The nested `awsRegion` key in `requestParameters` is not the record's.
        ("no region", with(region_field, "")),
        ("null region", with(r#""us-east-1""#, "null")),
        ("no recipient", with(recipient_field, "")),
        ("null recipient", with(r#""444455556666""#, "null")),
        ("no caller account", with(caller_field, "")),
        ("null caller account", with(r#""111122223333""#, "null")),
        ("no userIdentity", with(identity, "")),
        (
            "null userIdentity",
            with(identity, r#""userIdentity":null,"#),
        ),
        (
            "string userIdentity",
            with(identity, r#""userIdentity":"alice","#),
        ),
        ("no event name", with(r#""eventName":"CreateUser","#, "")),
        ("null event source", with(r#""iam.amazonaws.com""#, "null")),
        ("numeric region", with(r#""us-east-1""#, "1")),
        (
            "numeric time",
            with(r#""2023-07-10T12:20:01Z""#, "1688991601"),
        ),
        (
            "object recipient",
            with(r#""444455556666""#, r#"{"id":"444455556666"}"#),
        ),
        // Times that are or are not RFC 3339.
        ("fractional seconds", with("12:20:01Z", "12:20:01.999Z")),
        ("offset", with("12:20:01Z", "14:20:01+02:00")),
        (
            "lower-case separators",
            with("2023-07-10T12:20:01Z", "2023-07-10t12:20:01z"),
        ),
        (
            "space separator",
            with("2023-07-10T12:20:01Z", "2023-07-10 12:20:01Z"),
        ),
        ("no zone", with("12:20:01Z", "12:20:01")),
        ("epoch text", with("2023-07-10T12:20:01Z", "1688991601")),
        ("empty time", with("2023-07-10T12:20:01Z", "")),
        (
            "no such day",
            with("2023-07-10T12:20:01Z", "2023-02-30T12:20:01Z"),
        ),
        (
            "leap second",
            with("2023-07-10T12:20:01Z", "2016-12-31T23:59:60Z"),
        ),
        ("hour 24", with("12:20:01Z", "24:00:00Z")),
        ("date only", with("2023-07-10T12:20:01Z", "2023-07-10")),
        // Unusual member order.
        ("time last", moved(time_field, true)),
        ("recipient first", moved(recipient_field, false)),
        ("region first", moved(region_field, false)),
        ("userIdentity last", moved(identity, true)),
        // Repeated keys: serde rejects these records.
        (
            "repeated time before the rest",
            with(time_field, &format!("{time_field}{time_field}")),
        ),
        // Before the walk has all it needs, so it sees the second one.
        (
            "repeated region",
            with(region_field, "").replacen(
                time_field,
                &format!(r#""awsRegion":"eu-west-1",{region_field}{time_field}"#),
                1,
            ),
        ),
        (
            "repeated time at the end",
            format!(
                "{},\"eventTime\":\"2030-01-01T00:00:00Z\"}}",
                &BASE[..BASE.len() - 1]
            ),
        ),
        (
            "repeated caller account",
            with(caller_field, &format!("{caller_field}{caller_field}")),
        ),
        // Whitespace between tokens.
        (
            "spaced",
            BASE.replace("\":", "\" :\n ").replace(",\"", " ,\t\""),
        ),
    ];
    let mut rejected = Vec::new();
    for (what, text) in &cases {
        for filter in filters() {
            let got = raw(&filter, text);
            match parsed(&filter, text) {
                Some(want) => assert!(
                    agrees(got, want),
                    "{what} under {filter:?}: raw {got:?}, parsed {want:?}: {text}"
                ),
                None => rejected.push((*what, got, filter)),
            }
        }
    }
    // A record serde rejects for a field the walk reads is parsed, so it is reported as bad input as
    // before; what lies beyond the walk (a key repeated after it stopped) is settled like any record
    // declined from its text (see the filter module's doc).
    for (what, got, filter) in &rejected {
        let regions = !filter.regions.is_empty();
        let accounts = !filter.accounts.is_empty();
        let walk_sees_it = match *what {
            "no time"
            | "null time"
            | "numeric time"
            | "no event name"
            | "null event source"
            | "repeated time before the rest" => true,
            "numeric region" | "repeated region" => regions,
            "object recipient"
            | "repeated caller account"
            | "null userIdentity"
            | "string userIdentity" => accounts,
            "repeated time at the end" => false,
            other => panic!("serde rejects `{other}`, which the test did not expect"),
        };
        if walk_sees_it {
            assert_eq!(*got, RawOutcome::Parse, "{what} under {filter:?}");
        }
    }
    let rejected: std::collections::BTreeSet<_> = rejected.iter().map(|r| r.0).collect();
    assert!(
        rejected.contains("repeated time at the end"),
        "{rejected:?}"
    );
    assert!(rejected.contains("null userIdentity"), "{rejected:?}");

    // The cases that must be decided from the text, or nothing would be gained.
    let since = &filters()[0];
    for what in [
        "the base record",
        "no region",
        "time last",
        "userIdentity last",
        "spaced",
    ] {
        let text = &cases.iter().find(|c| c.0 == what).unwrap().1;
        assert_eq!(raw(since, text), RawOutcome::Keep, "{what}");
    }
    let region = &filters()[4];
    assert_eq!(raw(region, BASE), RawOutcome::Drop);
    let caller = &filters()[7];
    let last = &cases.iter().find(|c| c.0 == "userIdentity last").unwrap().1;
    assert_eq!(
        raw(caller, last),
        RawOutcome::Keep,
        "caller account read after the recipient"
    );
    let nobody = &filters()[8];
    assert_eq!(raw(nobody, last), RawOutcome::Drop);
}

/// Wants nothing: every record the filter keeps is settled from its text.
#[derive(Default)]
struct Declines(u64);

impl RecordVisitor for Declines {
    fn wants_raw(&mut self, _raw: &RawRecord<'_>) -> bool {
        false
    }
    fn visit(&mut self, _record: &Record<'_>) {
        self.0 += 1;
    }
}

/// Wants everything: every record the filter keeps is parsed, as every record once was.
#[derive(Default)]
struct Parses(u64);

impl RecordVisitor for Parses {
    fn visit(&mut self, _record: &Record<'_>) {
        self.0 += 1;
    }
}

fn scan_texts<V: RecordVisitor>(
    texts: &[String],
    filter: &Filter,
    visitor: fn() -> V,
) -> (ScanStats, Vec<String>) {
    let body = format!("{{\"Records\":[{}]}}", texts.join(","));
    let errors = CollectErrors::default();
    let (_, stats) = scan_sources(
        vec![Box::new(MemorySource::new("trail.json", body.into_bytes()))],
        filter,
        1,
        visitor,
        &errors,
    )
    .unwrap();
    let lines = errors.take().iter().map(|e| e.to_string()).collect();
    (stats, lines)
}

#[test]
fn a_filtered_scan_counts_what_parsing_every_record_counts() {
    let deep = with(
        r#"{"userName":"bob","tags":[{"key":"awsRegion","value":"eu-west-1"}]}"#,
        &format!("{}{}", "[".repeat(200), "]".repeat(200)),
    );
    let mut texts: Vec<String> = real_records().into_iter().take(3000).collect();
    // Among them, records each filter must hand to the parser to be reported as before.
    texts.push(with("2023-07-10T12:20:01Z", "yesterday"));
    texts.push(with(r#""eventTime":"2023-07-10T12:20:01Z","#, ""));
    texts.push(deep.clone());
    texts.push(with(r#""us-east-1""#, r#""us-east\u002d1""#));
    let filters = [
        Filter {
            since: Some(time("2023-07-10T12:00:00Z")),
            ..Filter::default()
        },
        Filter {
            regions: vec!["us-east-1".into()],
            ..Filter::default()
        },
        Filter {
            accounts: vec!["123837392027".into(), "111122223333".into()],
            until: Some(time("2024-01-01T00:00:00Z")),
            ..Filter::default()
        },
    ];
    for filter in &filters {
        let (fast, fast_lines) = scan_texts(&texts, filter, Declines::default);
        let (slow, slow_lines) = scan_texts(&texts, filter, Parses::default);
        assert_eq!(fast_lines, slow_lines, "{filter:?}");
        assert_eq!(fast.records_seen, slow.records_seen);
        assert_eq!(fast.records_filtered, slow.records_filtered, "{filter:?}");
        assert_eq!(fast.records_skipped, slow.records_skipped, "{filter:?}");
        assert_eq!(
            fast.records_matched + fast.records_unparsed,
            slow.records_matched,
            "{filter:?}"
        );
        assert!(
            fast.records_unparsed * 10 > slow.records_matched * 9,
            "{filter:?}: the kept records were settled from their text: {fast:?}"
        );
        assert_eq!(slow.records_unparsed, 0);
        assert!(
            slow.records_filtered > 0 && slow.records_matched > 0,
            "{slow:?}"
        );
        // The bad time and the deep record were reported, not settled in silence.
        assert_eq!(
            fast.records_skipped.get(&SkipReason::NestedTooDeep),
            Some(&1),
            "{filter:?}: {fast_lines:?}"
        );
        // Records without a readable time: skipped where a time bound must place them, otherwise judged
        // without one; reported either way.
        let bounded = filter.since.is_some() || filter.until.is_some();
        assert_eq!(
            fast.records_skipped
                .contains_key(&SkipReason::InvalidEventTime),
            bounded,
            "{filter:?}: {fast_lines:?}"
        );
        assert_eq!(fast.records_untimed, slow.records_untimed, "{filter:?}");
        assert_eq!(
            fast.records_untimed > 0,
            !bounded,
            "{filter:?}: {fast_lines:?}"
        );
    }
}
