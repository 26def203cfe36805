//! Benchmark: parse and analyse every AWS managed policy of the iam-dataset, and expand `*` across
//! the whole catalog. Prints policies/s, expansion time and peak memory.
//!
//! `cargo bench -p trailguard-policy --bench analyze [-- DIR]` (DIR defaults to
//! `../shared/data/managed-policies/iam-dataset` next to the workspace).

use std::path::PathBuf;
use std::time::Instant;

use trailguard_policy::analysis::analyze;
use trailguard_policy::catalog::Catalog;
use trailguard_policy::PolicyDocument;

fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
}

fn main() {
    let dir = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/data/managed-policies/iam-dataset")
        });
    let load = Instant::now();
    let catalog = Catalog::get();
    let load_ms = load.elapsed().as_secs_f64() * 1000.0;

    let iterations = 10_000;
    let start = Instant::now();
    let mut total = 0;
    for _ in 0..iterations {
        total += std::hint::black_box(catalog.expand("*")).len();
    }
    let expand_us = start.elapsed().as_secs_f64() * 1e6 / iterations as f64;
    let start = Instant::now();
    for _ in 0..iterations {
        total += std::hint::black_box(catalog.expand("iam:Create*")).len();
    }
    let prefix_us = start.elapsed().as_secs_f64() * 1e6 / iterations as f64;

    let mut documents = Vec::new();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!(
            "cannot read `{}`: pass the iam-dataset directory",
            dir.display()
        );
        std::process::exit(2);
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "json") {
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            documents.push(serde_json::to_string_pretty(&value["document"]).unwrap_or_default());
        }
    }
    let rounds = 3;
    let start = Instant::now();
    let mut flagged = 0;
    let mut errors = 0;
    for _ in 0..rounds {
        for text in &documents {
            match PolicyDocument::parse(text) {
                Ok(doc) => {
                    let a = analyze(&doc);
                    flagged += usize::from(a.has_privilege_escalation());
                }
                Err(_) => errors += 1,
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let analysed = documents.len() * rounds;
    println!(
        "catalog: {} actions, loaded in {load_ms:.1} ms",
        catalog.len()
    );
    println!("expand(\"*\"): {expand_us:.1} µs; expand(\"iam:Create*\"): {prefix_us:.1} µs ({total} ids)");
    println!(
        "analyse: {} policies x {rounds} in {secs:.2} s = {:.0} policies/s ({errors} parse errors, {flagged} privesc flags)",
        documents.len(),
        analysed as f64 / secs
    );
    if let Some(kb) = peak_rss_kb() {
        println!("peak memory: {:.1} MiB", kb as f64 / 1024.0);
    }
}
