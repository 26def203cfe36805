//! What the built-in rules cost a scan: CPU seconds of `engine::scan_findings` (the flow of `trailguard
//! scan` and `trailguard bench`) over bench-generator records, with only the rules before issue #19
//! (CT001–CT023) and with every rule, rounds interleaved so a change in the machine's load falls on both.
//! It needs no build of the binary, so a rule's cost can be measured right after changing it; the
//! numbers to publish still come from `trailguard scan` on the bench corpus (README).
//!
//! ```sh
//! cargo run --release --workspace --example rule_cost -- [FILES=150] [THREADS=1] [ROUNDS=8]
//! ```

use std::error::Error;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use trailguard_event::source::{MemorySource, Source};
use trailguard_event::synth::Synth;
use trailguard_event::{Filter, NoopObserver};
use trailguard_rules::engine::{scan_findings, Engine};

/// User and system CPU seconds of this process (all threads) so far, from `/proc/self/stat`.
fn cpu_seconds() -> Result<f64, Box<dyn Error>> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    let after = stat.rfind(')').map_or("", |i| &stat[i + 2..]);
    let fields: Vec<&str> = after.split(' ').collect();
    let ticks = |i: usize| -> Result<f64, Box<dyn Error>> {
        Ok(fields.get(i).ok_or("short /proc/self/stat")?.parse()?)
    };
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}

fn arg(n: usize, default: usize) -> usize {
    std::env::args()
        .nth(n)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn main() -> Result<(), Box<dyn Error>> {
    let (files, threads, rounds) = (arg(1, 150), arg(2, 1), arg(3, 8).max(1));
    let start = DateTime::<Utc>::from_timestamp(1_709_251_200, 0).ok_or("start time")?;
    let (accounts, regions) = (Synth::accounts(), Synth::regions());
    // As `trailguard bench` lays its corpus out: one account and region per 1,000-record file.
    let bodies: Vec<Arc<[u8]>> = (0..files)
        .map(|i| {
            let account = accounts[i % accounts.len()];
            let region = regions[(i / accounts.len()) % regions.len()];
            let mut synth = Synth::new(i as u64 * 7919, start + Duration::seconds(i as i64 * 60))
                .for_trail(account, region);
            let records: Vec<String> = (0..1000).map(|_| synth.next_record()).collect();
            Arc::from(format!("{{\"Records\":[{}]}}", records.join(",")).into_bytes())
        })
        .collect();
    let mb = bodies.iter().map(|b| b.len()).sum::<usize>() / 1_000_000;
    println!("{files} files of 1,000 records, {mb} MB, {threads} threads, {rounds} rounds");
    let cases = [
        (
            "CT001-CT023",
            Engine::builtin().retain(|meta| meta.code <= "CT023"),
        ),
        ("all rules", Engine::builtin()),
    ];
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    let mut findings = vec![0usize; cases.len()];
    for _ in 0..rounds {
        for (i, (_, engine)) in cases.iter().enumerate() {
            let sources: Vec<Box<dyn Source>> = bodies
                .iter()
                .enumerate()
                .map(|(j, body)| {
                    Box::new(MemorySource::new(format!("{j}.json"), body.clone()))
                        as Box<dyn Source>
                })
                .collect();
            let mut found = 0;
            let before = cpu_seconds()?;
            let outcome = scan_findings(
                engine,
                None,
                sources,
                &Filter::default(),
                threads,
                &NoopObserver,
                |_| found += 1,
            )?;
            cpu[i].push(cpu_seconds()? - before);
            findings[i] = found;
            for limit in &outcome.limits {
                println!("  {limit}");
            }
        }
    }
    println!(
        "{:<14} {:>12} {:>12} {:>9}",
        "rules", "median CPU-s", "min CPU-s", "findings"
    );
    let mut medians = Vec::new();
    for (i, (name, _)) in cases.iter().enumerate() {
        let mut times = cpu[i].clone();
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        medians.push(median);
        println!(
            "{name:<14} {median:>12.3} {:>12.3} {:>9}",
            times[0], findings[i]
        );
    }
    println!(
        "all rules / CT001-CT023: {:.2}",
        medians[1] / medians[0].max(1e-9)
    );
    Ok(())
}
