//! Where the bulk watchers' time goes: each stage of the typed path, per record, over bench-generator
//! records, with the three bulk watchers (CT033, CT034, CT057) left out and with the ones named on the
//! command line (`all` for the three). The stages, as a scan runs them on every record:
//!
//! - `fields`: the walk that reads `eventSource`/`eventName` ([`RawRecord::with_fields`]);
//! - `need`: the routing decision from those ([`Engine::raw_need`]);
//! - `peek`: the typed peek of each record only typed-field rules want ([`Engine::typed_peek`]);
//! - `visit`: the rules' `observe` and folds on the peeked records;
//! - `finish`: the sequence rules' judgement once the input is read.
//!
//! Records go through the stages 64 at a time, so each stage finds them in cache as a scan does (a scan
//! reads a file 256 KB at a time). It answers "what does a watched record cost, and in which stage"; the
//! numbers to publish still come from `trailguard scan` on the bench corpus (README).
//!
//! ```sh
//! cargo run --release --example watch_cost -p trailguard-rules -- [FILES=200] [CT033|CT034|CT057|all]...
//! ```

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use trailguard_event::peek::{RawFields, RawRecord, TextHints};
use trailguard_event::synth::Synth;
use trailguard_rules::engine::{Engine, RawNeed};

/// Rounds over the records; the last is reported (the first ones warm the allocator and caches).
const ROUNDS: usize = 5;
/// Records that go through each stage together.
const BATCH: usize = 64;
const WATCHERS: [&str; 3] = ["CT033", "CT034", "CT057"];

/// Nanoseconds spent in each stage, and how many records reached it.
#[derive(Default)]
struct Stages {
    fields: u128,
    need: u128,
    peek: u128,
    visit: u128,
    finish: u128,
    typed: usize,
    peeked: usize,
    parsed: usize,
    findings: usize,
}

fn generate(files: usize) -> Vec<(String, TextHints)> {
    let start = DateTime::<Utc>::from_timestamp(1_709_251_200, 0).expect("a valid start");
    let (accounts, regions) = (Synth::accounts(), Synth::regions());
    let mut records = Vec::with_capacity(files * 1000);
    for i in 0..files {
        // As `trailguard bench` lays its corpus out: one account and region per 1,000-record file.
        let account = accounts[i % accounts.len()];
        let region = regions[(i / accounts.len()) % regions.len()];
        let mut synth = Synth::new(i as u64 * 7919, start + Duration::seconds(i as i64 * 60))
            .for_trail(account, region);
        for _ in 0..1000 {
            let text = synth.next_record();
            // What the splitter's pass would have seen.
            let hints = TextHints {
                backslash: text.contains('\\'),
                error_code: text.contains("rCode\""),
            };
            records.push((text, hints));
        }
    }
    records
}

fn measure(engine: &Engine, records: &[(String, TextHints)]) -> Stages {
    let mut stages = Stages::default();
    let mut worker = engine.new_worker();
    for batch in records.chunks(BATCH) {
        let t = Instant::now();
        let raws: Vec<RawRecord<'_>> = batch
            .iter()
            .map(|(text, hints)| {
                RawRecord::with_fields(text.as_bytes(), RawFields::default()).with_hints(*hints)
            })
            .collect();
        stages.fields += t.elapsed().as_nanos();
        let t = Instant::now();
        let needs: Vec<RawNeed> = raws.iter().map(|raw| engine.raw_need(raw)).collect();
        stages.need += t.elapsed().as_nanos();
        stages.parsed += needs.iter().filter(|n| **n == RawNeed::Parse).count();
        let typed: Vec<&RawRecord<'_>> = raws
            .iter()
            .zip(&needs)
            .filter(|(_, need)| **need == RawNeed::Typed)
            .map(|(raw, _)| raw)
            .collect();
        stages.typed += typed.len();
        let t = Instant::now();
        let peeked: Vec<_> = typed
            .iter()
            .filter_map(|raw| Engine::typed_peek(raw))
            .collect();
        stages.peek += t.elapsed().as_nanos();
        stages.peeked += peeked.len();
        let t = Instant::now();
        for record in &peeked {
            worker.visit(record);
        }
        stages.visit += t.elapsed().as_nanos();
    }
    let t = Instant::now();
    stages.findings = engine.finish(vec![worker]).len();
    stages.finish = t.elapsed().as_nanos();
    stages
}

fn main() {
    let mut args = std::env::args().skip(1);
    let files: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let named: Vec<String> = args.collect();
    let records = generate(files);
    let without = Engine::builtin().retain(|meta| !WATCHERS.contains(&meta.code));
    let with = Engine::builtin().retain(|meta| {
        !WATCHERS.contains(&meta.code) || named.iter().any(|n| n == meta.code || n == "all")
    });
    let (mut base, mut watched) = (Stages::default(), Stages::default());
    for _ in 0..ROUNDS {
        base = measure(&without, &records);
        watched = measure(&with, &records);
    }
    let n = records.len() as f64;
    println!(
        "{} records; watchers {named:?}; ns per record of the whole input (typed: records peeked)",
        records.len()
    );
    println!(
        "{:<10} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>8} {:>8}",
        "", "fields", "need", "peek", "visit", "finish", "total", "typed", "findings"
    );
    for (label, s) in [("without", &base), ("with", &watched)] {
        let per = |ns: u128| ns as f64 / n;
        let total = s.fields + s.need + s.peek + s.visit + s.finish;
        println!(
            "{label:<10} {:>7.1} {:>7.1} {:>7.1} {:>7.1} {:>7.1} {:>7.1} {:>8} {:>8}",
            per(s.fields),
            per(s.need),
            per(s.peek),
            per(s.visit),
            per(s.finish),
            per(total),
            s.typed,
            s.findings
        );
    }
    let extra_typed = watched.typed.saturating_sub(base.typed).max(1) as f64;
    println!(
        "per extra typed record: peek {:.0} ns, visit {:.0} ns, finish {:.0} ns ({} parsed either way)",
        (watched.peek as f64 - base.peek as f64) / extra_typed,
        (watched.visit as f64 - base.visit as f64) / extra_typed,
        (watched.finish as f64 - base.finish as f64) / extra_typed,
        watched.parsed,
    );
}
