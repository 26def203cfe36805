//! What a filter costs the pipeline: records per CPU second with no filter, `--since` keeping every
//! record, `--since` keeping half, `--event-region` and `--account`, on records from the bench generator.
//!
//! The visitor parses IAM records only and declines the rest from their text, as the rule engine does,
//! so the numbers show the raw walk, the filter's raw decision and the parse of what is kept. CPU time
//! (user + system, all threads) is measured, not wall time, so a shared machine still gives numbers.
//!
//! ```sh
//! cargo run --release -p trailguard-event --example filter_speed -- [FILES=150] [THREADS=1] [ROUNDS=12]
//! ```

use std::error::Error;

use chrono::{DateTime, Duration, Utc};
use trailguard_event::peek::RawRecord;
use trailguard_event::source::{MemorySource, Source};
use trailguard_event::synth::Synth;
use trailguard_event::{scan_sources, Filter, NoopObserver, Record, RecordVisitor};

/// Parses IAM records, declines the rest from their text.
#[derive(Default)]
struct IamOnly;

impl RecordVisitor for IamOnly {
    fn wants_raw(&mut self, raw: &RawRecord<'_>) -> bool {
        raw.event_source().is_none_or(|s| s == "iam.amazonaws.com")
    }

    fn visit(&mut self, _record: &Record<'_>) {}
}

/// User and system CPU seconds of this process (all threads) so far, from `/proc/self/stat`.
fn cpu_seconds() -> Result<f64, Box<dyn Error>> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // The command name may hold spaces; the fields after it do not.
    let after = stat.rfind(')').map_or("", |i| &stat[i + 2..]);
    let fields: Vec<&str> = after.split(' ').collect();
    let ticks = |i: usize| -> Result<f64, Box<dyn Error>> {
        Ok(fields.get(i).ok_or("short /proc/self/stat")?.parse()?)
    };
    // utime and stime, in clock ticks of 1/100 s.
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}

fn arg(n: usize, default: usize) -> usize {
    std::env::args()
        .nth(n)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn main() -> Result<(), Box<dyn Error>> {
    let (files, threads, rounds) = (arg(1, 150), arg(2, 1), arg(3, 12).max(1));
    let start = DateTime::<Utc>::from_timestamp(1_709_251_200, 0).ok_or("start time")?;
    let (accounts, regions) = (Synth::accounts(), Synth::regions());
    // As `trailguard bench` lays its corpus out: one account and region per 1,000-record file.
    let bodies: Vec<Vec<u8>> = (0..files)
        .map(|i| {
            let account = accounts[i % accounts.len()];
            let region = regions[(i / accounts.len()) % regions.len()];
            let mut synth = Synth::new(i as u64 * 7919, start + Duration::seconds(i as i64 * 60))
                .for_trail(account, region);
            let records: Vec<String> = (0..1000).map(|_| synth.next_record()).collect();
            format!("{{\"Records\":[{}]}}", records.join(",")).into_bytes()
        })
        .collect();
    let mb = bodies.iter().map(Vec::len).sum::<usize>() / 1_000_000;
    println!("{files} files of 1,000 records, {mb} MB, {threads} threads, {rounds} rounds");
    let middle = start + Duration::seconds(files as i64 * 30);
    let cases = [
        ("none", Filter::default()),
        (
            "--since (keeps all)",
            Filter {
                since: Some(start),
                ..Filter::default()
            },
        ),
        (
            "--since (keeps half)",
            Filter {
                since: Some(middle),
                ..Filter::default()
            },
        ),
        (
            "--event-region us-east-1",
            Filter {
                regions: vec!["us-east-1".into()],
                ..Filter::default()
            },
        ),
        (
            "--account (one of four)",
            Filter {
                accounts: vec![accounts[0].into()],
                ..Filter::default()
            },
        ),
    ];
    let mut cpu = vec![0.0; cases.len()];
    let mut stats = vec![None; cases.len()];
    // Rounds interleave the cases, so a change in the machine's load falls on all of them.
    for _ in 0..rounds {
        for (i, (_, filter)) in cases.iter().enumerate() {
            let sources: Vec<Box<dyn Source>> = bodies
                .iter()
                .enumerate()
                .map(|(j, body)| {
                    Box::new(MemorySource::new(format!("{j}.json"), body.clone()))
                        as Box<dyn Source>
                })
                .collect();
            let before = cpu_seconds()?;
            let (_, scanned) =
                scan_sources(sources, filter, threads, IamOnly::default, &NoopObserver)?;
            cpu[i] += cpu_seconds()? - before;
            stats[i] = Some(scanned);
        }
    }
    println!(
        "{:<26} {:>16} {:>9} {:>9} {:>9}",
        "filter", "records/CPU-s", "parsed", "filtered", "unparsed"
    );
    for (i, (name, _)) in cases.iter().enumerate() {
        let Some(s) = &stats[i] else { continue };
        let rate = s.records_seen as f64 * rounds as f64 / cpu[i].max(1e-9);
        println!(
            "{name:<26} {rate:>16.0} {:>9} {:>9} {:>9}",
            s.records_matched, s.records_filtered, s.records_unparsed
        );
    }
    Ok(())
}
