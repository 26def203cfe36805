//! `trailguard bench`: scan throughput and peak memory on a generated corpus, beside the machine's raw
//! limits.
//!
//! The corpus is generated once, deterministically: 1,000-record `.json.gz` files in the S3 layout
//! (`gz/AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/`) and a plain-JSON copy (`json/`). Each phase
//! then runs in a child process (`trailguard bench --phase ...`) so that its peak memory (`VmHWM`) is
//! its own:
//! - `decompress`: read and decompress every file, nothing else (for plain JSON: read only);
//! - `parse`: decompress, parse each whole file with serde_json and every record with
//!   `Record::from_raw`: the raw limit any scanner built on these records has;
//! - `pipeline`: the streaming pipeline with a visitor that only counts;
//! - `scan`: the full scan, every built-in rule on (`Engine::builtin()`);
//! - `scan-no-bulk`: the same without the rules that watch the bulk of a trail
//!   ([`Engine::bulk_watchers`]), to show what they cost;
//! - `scan+sigma`: the same plus the Sigma rules from `--sigma`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{bail, Context};
use chrono::{DateTime, Duration, Utc};
use flate2::write::GzEncoder;
use flate2::Compression;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use trailguard_event::source::{self, open_decoded, Source};
use trailguard_event::synth::{Rng, Synth};
use trailguard_event::{scan, NoopObserver, Record, RecordVisitor, ScanOptions};
use trailguard_rules::engine::{scan_findings, Engine};
use trailguard_rules::sigma::SigmaRuleSet;

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Corpus directory: `gz/` and `json/` copies of the same records in the S3 layout.
    #[arg(long, default_value = "bench-data")]
    corpus: PathBuf,
    /// Generate the corpus when it is missing or was made with other settings (deterministic).
    #[arg(long)]
    generate: bool,
    /// Uncompressed size of the generated corpus, in MB (10^6 bytes).
    #[arg(long, default_value_t = 600)]
    size_mb: u64,
    /// Also run the Sigma rules in this directory, to show their extra cost.
    #[arg(long)]
    sigma: Option<PathBuf>,
    /// Worker threads for every phase (0 = all cores).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Formats to measure.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Format::Gz, Format::Json])]
    formats: Vec<Format>,
    /// Print one JSON object per phase instead of the table.
    #[arg(long)]
    json: bool,
    /// Also write one JSON object per phase to this file.
    #[arg(long)]
    save: Option<PathBuf>,
    /// Another trailguard build to compare the scan with, such as the commit a speed goal was set on
    /// (`scripts/bench.sh` builds one from `BASELINE`). Its scan phases run interleaved with this
    /// build's, `--rounds` times each, so that a busy machine slows both alike; medians are compared.
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Runs of each scan phase per build when comparing with `--baseline`.
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=100))]
    rounds: u32,
    /// The most this build's scan may take against the baseline's, as a ratio of median times.
    #[arg(long, default_value_t = 1.10, value_parser = parse_slowdown)]
    max_slowdown: f64,
    /// Run one phase in this process and print its result as JSON (the bench runs itself this way).
    #[arg(long, value_enum, hide = true)]
    phase: Option<Phase>,
    /// The format for `--phase`.
    #[arg(long, value_enum, hide = true, default_value_t = Format::Gz)]
    format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Format {
    Gz,
    Json,
}

impl Format {
    fn dir(self) -> &'static str {
        match self {
            Format::Gz => "gz",
            Format::Json => "json",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Phase {
    Decompress,
    Parse,
    Pipeline,
    Scan,
    #[value(name = "scan-no-bulk")]
    ScanNoBulk,
    #[value(name = "scan-sigma")]
    ScanSigma,
}

impl Phase {
    fn label(self) -> &'static str {
        match self {
            Phase::Decompress => "decompress",
            Phase::Parse => "decompress+parse",
            Phase::Pipeline => "pipeline (count)",
            Phase::Scan => "scan, all rules",
            Phase::ScanNoBulk => "scan, no bulk rules",
            Phase::ScanSigma => "scan, rules+sigma",
        }
    }

    fn arg(self) -> &'static str {
        match self {
            Phase::Decompress => "decompress",
            Phase::Parse => "parse",
            Phase::Pipeline => "pipeline",
            Phase::Scan => "scan",
            Phase::ScanNoBulk => "scan-no-bulk",
            Phase::ScanSigma => "scan-sigma",
        }
    }
}

/// One phase's measurement, printed by the child as JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PhaseResult {
    phase: Phase,
    format: Format,
    threads: usize,
    files: u64,
    records: u64,
    /// Bytes as stored on disk.
    stored_bytes: u64,
    /// Bytes of JSON text after decompression.
    json_bytes: u64,
    seconds: f64,
    peak_rss_mb: f64,
    findings: u64,
    errors: u64,
}

impl PhaseResult {
    fn records_per_sec(&self) -> f64 {
        self.records as f64 / self.seconds.max(1e-9)
    }

    fn mb_per_sec(&self) -> f64 {
        self.json_bytes as f64 / 1e6 / self.seconds.max(1e-9)
    }
}

/// What the corpus holds, written beside it so later runs can reuse it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Manifest {
    seed: u64,
    size_mb: u64,
    files: u64,
    records: u64,
    json_bytes: u64,
    gz_bytes: u64,
}

const SEED: u64 = 0x7261_696c_6775_6172;
const RECORDS_PER_FILE: usize = 1000;

pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let threads = match args.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    if let Some(phase) = args.phase {
        let result = run_phase(&args, phase, threads)?;
        println!("{}", serde_json::to_string(&result)?);
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(baseline) = &args.baseline {
        if !baseline.is_file() {
            bail!(
                "--baseline `{}`: no such file (give a trailguard executable)",
                baseline.display()
            );
        }
    }
    let manifest = ensure_corpus(&args)?;
    if !args.json {
        println!(
            "corpus {}: {} files, {} records, {:.0} MB JSON, {:.0} MB gzip; {threads} threads",
            args.corpus.display(),
            manifest.files,
            manifest.records,
            manifest.json_bytes as f64 / 1e6,
            manifest.gz_bytes as f64 / 1e6
        );
        println!(
            "{:<6} {:<20} {:>9} {:>8} {:>11} {:>9} {:>9} {:>9}",
            "format", "phase", "records", "seconds", "records/s", "MB/s", "peak MB", "findings"
        );
    }
    let mut phases = vec![
        Phase::Decompress,
        Phase::Parse,
        Phase::Pipeline,
        Phase::Scan,
        Phase::ScanNoBulk,
    ];
    if args.sigma.is_some() {
        phases.push(Phase::ScanSigma);
    }
    let ours = std::env::current_exe().context("cannot find the trailguard executable")?;
    let mut failed = false;
    let mut saved = String::new();
    for &format in &args.formats {
        let mut results = Vec::new();
        for &phase in &phases {
            let result = run_phase_of(&ours, &args, phase, format, threads)?;
            let line = serde_json::to_string(&result)?;
            saved.push_str(&line);
            saved.push('\n');
            if args.json {
                println!("{line}");
            } else {
                println!(
                    "{:<6} {:<20} {:>9} {:>8.2} {:>11.0} {:>9.0} {:>9.1} {:>9}",
                    format.dir(),
                    phase.label(),
                    result.records,
                    result.seconds,
                    result.records_per_sec(),
                    result.mb_per_sec(),
                    result.peak_rss_mb,
                    result.findings
                );
            }
            if result.records != manifest.records || result.errors > 0 {
                eprintln!(
                    "bench: phase `{}` on {} saw {} records and {} errors; the corpus has {} records",
                    phase.arg(),
                    format.dir(),
                    result.records,
                    result.errors,
                    manifest.records
                );
                failed = true;
            }
            results.push(result);
        }
        if !args.json {
            print_summary(format, &results);
        }
        if let Some(baseline) = &args.baseline {
            for comparison in compare_with_baseline(&args, &ours, baseline, format, threads)? {
                let line = serde_json::to_string(&comparison)?;
                saved.push_str(&line);
                saved.push('\n');
                if args.json {
                    println!("{line}");
                } else {
                    println!("{}", comparison.line(args.max_slowdown));
                }
            }
        }
    }
    if let Some(path) = &args.save {
        std::fs::write(path, saved)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
    }
    Ok(if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_summary(format: Format, results: &[PhaseResult]) {
    let find = |p: Phase| results.iter().find(|r| r.phase == p);
    if let (Some(parse), Some(scan)) = (find(Phase::Parse), find(Phase::Scan)) {
        let ratio = scan.seconds / parse.seconds.max(1e-9);
        println!(
            "{:<6} full scan takes {ratio:.2}x the raw decompress+parse time (target <= 1.5x): {}",
            format.dir(),
            if ratio <= 1.5 { "met" } else { "NOT met" }
        );
    }
    let scan_peak = results
        .iter()
        .filter(|r| matches!(r.phase, Phase::Pipeline | Phase::Scan | Phase::ScanNoBulk))
        .map(|r| r.peak_rss_mb)
        .fold(0.0, f64::max);
    println!(
        "{:<6} peak memory of the scan with the built-in rules {scan_peak:.1} MB (target < 200 MB): {}",
        format.dir(),
        if scan_peak < 200.0 { "met" } else { "NOT met" }
    );
    if let (Some(all), Some(no_bulk)) = (find(Phase::Scan), find(Phase::ScanNoBulk)) {
        let share = 1.0 - no_bulk.seconds / all.seconds.max(1e-9);
        println!(
            "{:<6} the rules watching the bulk of the trail ({}) take {:.0}% of the scan: {:.2} s with them, {:.2} s without",
            format.dir(),
            Engine::builtin().bulk_watchers().join(", "),
            share.max(0.0) * 100.0,
            all.seconds,
            no_bulk.seconds
        );
    }
    if let Some(sigma) = find(Phase::ScanSigma) {
        println!(
            "{:<6} with Sigma rules: {:.1} MB peak, {} findings held until the end of the scan",
            format.dir(),
            sigma.peak_rss_mb,
            sigma.findings
        );
    }
}

/// Runs one phase in a child process of the trailguard executable `exe` (this build or a baseline) and
/// reads its JSON result.
fn run_phase_of(
    exe: &Path,
    args: &BenchArgs,
    phase: Phase,
    format: Format,
    threads: usize,
) -> anyhow::Result<PhaseResult> {
    let mut command = Command::new(exe);
    command
        .arg("bench")
        .arg("--corpus")
        .arg(&args.corpus)
        .args(["--phase", phase.arg(), "--format", format.dir()])
        .args(["--threads", &threads.to_string()]);
    if let Some(sigma) = &args.sigma {
        command.arg("--sigma").arg(sigma);
    }
    let output = command.output().with_context(|| {
        format!(
            "cannot run bench phase `{}` with `{}`",
            phase.arg(),
            exe.display()
        )
    })?;
    if !output.status.success() {
        bail!(
            "bench phase `{}` on {} failed with `{}`: {}",
            phase.arg(),
            format.dir(),
            exe.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line)
        .with_context(|| format!("bench phase `{}` printed `{line}`", phase.arg()))
}

/// `--max-slowdown`: a ratio of times, so a positive number (1.10 allows 10% slower).
fn parse_slowdown(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(ratio) if ratio.is_finite() && ratio > 0.0 => Ok(ratio),
        _ => Err(format!(
            "`{text}` is not a ratio of times: give a positive number such as 1.10"
        )),
    }
}

/// One scan phase of this build against the baseline build's, from interleaved runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Comparison {
    format: Format,
    /// This build's phase.
    phase: Phase,
    /// The baseline's phase it is held against: the same one, except that this build's `scan-no-bulk`
    /// is held against the baseline's full `scan` (what the engine and the other rules cost now).
    baseline_phase: Phase,
    seconds: Vec<f64>,
    baseline_seconds: Vec<f64>,
}

impl Comparison {
    fn ratio(&self) -> f64 {
        median(&self.seconds) / median(&self.baseline_seconds).max(1e-9)
    }

    /// Whether this build is within `max_slowdown` of the baseline, by median.
    fn within(&self, max_slowdown: f64) -> bool {
        self.ratio() <= max_slowdown
    }

    fn line(&self, max_slowdown: f64) -> String {
        let against = if self.baseline_phase == self.phase {
            "the baseline's".to_owned()
        } else {
            format!("the baseline's `{}`", self.baseline_phase.arg())
        };
        format!(
            "{:<6} `{}` {:.3} s against {against} {:.3} s (medians of {} interleaved runs): {:.2}x (target <= {max_slowdown:.2}x): {}",
            self.format.dir(),
            self.phase.arg(),
            median(&self.seconds),
            median(&self.baseline_seconds),
            self.seconds.len(),
            self.ratio(),
            if self.within(max_slowdown) { "met" } else { "NOT met" }
        )
    }
}

/// The middle value (the mean of the two middle ones for an even count); 0 for none.
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// Runs this build's scan phases and the baseline's interleaved, `--rounds` times, on one format: the full
/// scan, the scan with the Sigma rules when `--sigma` is given, and the scan without the bulk watchers
/// (held against the baseline's full scan).
fn compare_with_baseline(
    args: &BenchArgs,
    ours: &Path,
    baseline: &Path,
    format: Format,
    threads: usize,
) -> anyhow::Result<Vec<Comparison>> {
    let mut pairs = vec![(Phase::Scan, Phase::Scan), (Phase::ScanNoBulk, Phase::Scan)];
    if args.sigma.is_some() {
        pairs.push((Phase::ScanSigma, Phase::ScanSigma));
    }
    let mut comparisons: Vec<Comparison> = pairs
        .iter()
        .map(|&(phase, baseline_phase)| Comparison {
            format,
            phase,
            baseline_phase,
            seconds: Vec::new(),
            baseline_seconds: Vec::new(),
        })
        .collect();
    for round in 0..args.rounds {
        for comparison in &mut comparisons {
            // Each build goes first every other round: neither always finds the other's caches warm.
            let run = |exe: &Path, phase| run_phase_of(exe, args, phase, format, threads);
            let (mine, theirs) = if round % 2 == 0 {
                let mine = run(ours, comparison.phase)?;
                (mine, run(baseline, comparison.baseline_phase)?)
            } else {
                let theirs = run(baseline, comparison.baseline_phase)?;
                (run(ours, comparison.phase)?, theirs)
            };
            if mine.records != theirs.records {
                bail!(
                    "bench: `{}` on {} read {} records with this build and {} with the baseline",
                    comparison.phase.arg(),
                    format.dir(),
                    mine.records,
                    theirs.records
                );
            }
            comparison.seconds.push(mine.seconds);
            comparison.baseline_seconds.push(theirs.seconds);
        }
    }
    Ok(comparisons)
}

fn run_phase(args: &BenchArgs, phase: Phase, threads: usize) -> anyhow::Result<PhaseResult> {
    let root = args.corpus.join(args.format.dir());
    if !root.is_dir() {
        bail!(
            "no corpus at `{}`: run `trailguard bench --generate`",
            root.display()
        );
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .context("cannot start the thread pool")?;
    let found = source::discover(std::slice::from_ref(&root))?;
    let sources = found.sources;
    let mut result = PhaseResult {
        phase,
        format: args.format,
        threads,
        files: sources.len() as u64,
        records: 0,
        stored_bytes: sources.iter().filter_map(|s| s.size_hint()).sum(),
        json_bytes: 0,
        seconds: 0.0,
        peak_rss_mb: 0.0,
        findings: 0,
        errors: 0,
    };
    let started = Instant::now();
    match phase {
        Phase::Decompress => {
            let (bytes, errors) = pool.install(|| {
                sources
                    .par_iter()
                    .map_init(Vec::new, |buf, source| {
                        match read_decoded(source.as_ref(), buf) {
                            Ok(()) => (buf.len() as u64, 0),
                            Err(_) => (0, 1),
                        }
                    })
                    .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
            });
            result.json_bytes = bytes;
            result.errors = errors;
            // Every generated file holds exactly this many records.
            result.records = result.files * RECORDS_PER_FILE as u64;
        }
        Phase::Parse => {
            let (bytes, records, errors) = pool.install(|| {
                sources
                    .par_iter()
                    .map_init(Vec::new, |buf, source| {
                        parse_whole_file(source.as_ref(), buf)
                    })
                    .reduce(|| (0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2))
            });
            result.json_bytes = bytes;
            result.records = records;
            result.errors = errors;
        }
        Phase::Pipeline | Phase::Scan | Phase::ScanNoBulk | Phase::ScanSigma => {
            let opts = ScanOptions {
                inputs: vec![root.clone()],
                threads,
                ..ScanOptions::default()
            };
            let engine = phase_engine(phase);
            let sigma = match (phase, &args.sigma) {
                (Phase::ScanSigma, Some(dir)) => {
                    let (set, errors) = SigmaRuleSet::load_dirs(std::slice::from_ref(dir));
                    for err in &errors {
                        eprintln!("sigma: {err}");
                    }
                    Some(set)
                }
                _ => None,
            };
            let stats = match phase {
                Phase::Pipeline => {
                    let (_, stats) = scan(&opts, CountVisitor::default, &NoopObserver)?;
                    stats
                }
                _ => {
                    // Exactly what `trailguard scan` runs, with a callback that only counts.
                    let found = source::discover(std::slice::from_ref(&root))?;
                    let mut findings = 0u64;
                    let outcome = scan_findings(
                        &engine,
                        sigma.as_ref(),
                        found.sources,
                        &opts.filter,
                        threads,
                        &NoopObserver,
                        |_| findings += 1,
                    )?;
                    result.findings = findings;
                    outcome.stats
                }
            };
            // Records the rules had no use for were read but not parsed: still scanned.
            result.records = stats.records_matched + stats.records_unparsed;
            result.json_bytes = stats.bytes_uncompressed;
            result.errors = stats.errors;
        }
    }
    result.seconds = started.elapsed().as_secs_f64();
    result.peak_rss_mb = peak_rss_kb().unwrap_or(0) as f64 / 1024.0;
    Ok(result)
}

/// The built-in rules a scan phase runs: all of them, or all but the bulk watchers.
fn phase_engine(phase: Phase) -> Engine {
    let engine = Engine::builtin();
    if phase != Phase::ScanNoBulk {
        return engine;
    }
    let bulk = engine.bulk_watchers();
    engine.retain(|meta| !bulk.contains(&meta.code))
}

fn read_decoded(source: &dyn Source, buf: &mut Vec<u8>) -> std::io::Result<()> {
    buf.clear();
    open_decoded(source)?.reader.read_to_end(buf)?;
    Ok(())
}

#[derive(Deserialize)]
struct RecordsFile<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<&'a RawValue>,
}

/// The simplest correct reader: a whole file in memory, parsed at once, then every record.
fn parse_whole_file(source: &dyn Source, buf: &mut Vec<u8>) -> (u64, u64, u64) {
    if read_decoded(source, buf).is_err() {
        return (0, 0, 1);
    }
    let Ok(file) = serde_json::from_slice::<RecordsFile<'_>>(buf) else {
        return (buf.len() as u64, 0, 1);
    };
    let mut records = 0;
    let mut errors = 0;
    for raw in file.records {
        match Record::from_raw(raw) {
            Ok(record) => {
                std::hint::black_box(&record);
                records += 1;
            }
            Err(_) => errors += 1,
        }
    }
    (buf.len() as u64, records, errors)
}

#[derive(Default)]
struct CountVisitor(u64);

impl RecordVisitor for CountVisitor {
    fn visit(&mut self, record: &Record<'_>) {
        std::hint::black_box(record);
        self.0 += 1;
    }
}

/// Peak resident memory of this process (`VmHWM`), in KiB.
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Makes the corpus unless a matching one is already there.
fn ensure_corpus(args: &BenchArgs) -> anyhow::Result<Manifest> {
    let manifest_path = args.corpus.join("manifest.json");
    if let Ok(text) = std::fs::read_to_string(&manifest_path) {
        if let Ok(manifest) = serde_json::from_str::<Manifest>(&text) {
            if !args.generate || (manifest.seed == SEED && manifest.size_mb == args.size_mb) {
                return Ok(manifest);
            }
        }
    }
    if !args.generate {
        bail!(
            "no corpus at `{}`: add `--generate` to make one ({} MB)",
            args.corpus.display(),
            args.size_mb
        );
    }
    eprintln!(
        "generating a {} MB corpus in {} ...",
        args.size_mb,
        args.corpus.display()
    );
    for format in [Format::Gz, Format::Json] {
        let dir = args.corpus.join(format.dir());
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("cannot clear `{}`", dir.display()))?;
        }
    }
    let target = args.size_mb * 1_000_000;
    // Size the corpus from the first file, then top up if it falls short.
    let first = write_trail_file(&args.corpus, 0)?;
    let estimate = (target / first.0.max(1) + 1).max(1);
    let mut sizes: Vec<(u64, u64)> = vec![first];
    let rest: anyhow::Result<Vec<(u64, u64)>> = (1..estimate)
        .into_par_iter()
        .map(|i| write_trail_file(&args.corpus, i))
        .collect();
    sizes.extend(rest?);
    let mut index = estimate;
    while sizes.iter().map(|s| s.0).sum::<u64>() < target {
        sizes.push(write_trail_file(&args.corpus, index)?);
        index += 1;
    }
    let manifest = Manifest {
        seed: SEED,
        size_mb: args.size_mb,
        files: sizes.len() as u64,
        records: sizes.len() as u64 * RECORDS_PER_FILE as u64,
        json_bytes: sizes.iter().map(|s| s.0).sum(),
        gz_bytes: sizes.iter().map(|s| s.1).sum(),
    };
    std::fs::write(&manifest_path, serde_json::to_string_pretty(&manifest)?)
        .with_context(|| format!("cannot write `{}`", manifest_path.display()))?;
    Ok(manifest)
}

/// Writes file number `index` in both formats; returns its JSON and gzip sizes.
fn write_trail_file(corpus: &Path, index: u64) -> anyhow::Result<(u64, u64)> {
    let accounts = Synth::accounts();
    let regions = Synth::regions();
    let account = accounts[(index % accounts.len() as u64) as usize];
    let region = regions[((index / accounts.len() as u64) % regions.len() as u64) as usize];
    let start: DateTime<Utc> = DateTime::from_timestamp(1_709_251_200, 0).unwrap_or_default()
        + Duration::seconds(index as i64 * 60);
    let mut synth =
        Synth::new(SEED ^ index.wrapping_mul(0x9E37_79B9), start).for_trail(account, region);
    let mut text = String::with_capacity(RECORDS_PER_FILE * 1500);
    text.push_str("{\"Records\":[");
    for i in 0..RECORDS_PER_FILE {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&synth.next_record());
    }
    text.push_str("]}");
    let mut rng = Rng::new(index);
    let suffix: String = (0..16)
        .map(|_| {
            char::from(
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                    [rng.below(62) as usize],
            )
        })
        .collect();
    let day = start.format("%Y/%m/%d");
    let stamp = start.format("%Y%m%dT%H%MZ");
    let rel = format!("AWSLogs/{account}/CloudTrail/{region}/{day}");
    let name = format!("{account}_CloudTrail_{region}_{stamp}_{suffix}");
    let json_dir = corpus.join("json").join(&rel);
    let gz_dir = corpus.join("gz").join(&rel);
    std::fs::create_dir_all(&json_dir)?;
    std::fs::create_dir_all(&gz_dir)?;
    std::fs::write(json_dir.join(format!("{name}.json")), &text)?;
    let mut encoder = GzEncoder::new(Vec::new(), Compression::new(6));
    std::io::Write::write_all(&mut encoder, text.as_bytes())?;
    let gz = encoder.finish()?;
    std::fs::write(gz_dir.join(format!("{name}.json.gz")), &gz)?;
    Ok((text.len() as u64, gz.len() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailguard_rules::engine::ScanWorker;

    fn args(corpus: &Path, generate: bool) -> BenchArgs {
        BenchArgs {
            corpus: corpus.to_path_buf(),
            generate,
            size_mb: 2,
            sigma: None,
            threads: 2,
            formats: vec![Format::Gz, Format::Json],
            json: true,
            save: None,
            baseline: None,
            rounds: 1,
            max_slowdown: 1.10,
            phase: None,
            format: Format::Gz,
        }
    }

    /// The scan's visitor without the raw-text shortcut: parses and visits every record.
    struct ParseAll<'e>(ScanWorker<'e>);

    impl RecordVisitor for ParseAll<'_> {
        fn visit(&mut self, record: &Record<'_>) {
            self.0.visit(record);
        }
    }

    /// Finding ids of a scan, built-in and Sigma, sorted.
    fn finding_ids(engine: &Engine, visitors: Vec<ScanWorker<'_>>) -> Vec<String> {
        let (workers, sigma) = ScanWorker::split(visitors);
        let mut ids: Vec<String> = engine.finish(workers).into_iter().map(|f| f.id).collect();
        ids.extend(
            sigma
                .map(|s| s.into_findings())
                .unwrap_or_default()
                .into_iter()
                .map(|f| f.id),
        );
        ids.sort();
        ids
    }

    #[test]
    fn skipping_unwanted_records_finds_exactly_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = args(dir.path(), true);
        a.size_mb = 8;
        ensure_corpus(&a).unwrap();
        let engine = Engine::builtin();
        let (sigma, errors) =
            SigmaRuleSet::load_dirs(&[trailguard_testkit::shared_data().join("sigma-aws/rules")]);
        assert!(errors.is_empty() && sigma.len() > 50, "{errors:?}");
        let opts = ScanOptions {
            inputs: vec![dir.path().join("json")],
            threads: 2,
            ..ScanOptions::default()
        };
        for sigma in [None, Some(&sigma)] {
            let make = || ScanWorker::new(&engine, sigma);
            let (fast, fast_stats) = scan(&opts, make, &NoopObserver).unwrap();
            let fast = finding_ids(&engine, fast);
            let (all, all_stats) = scan(
                &opts,
                || ParseAll(ScanWorker::new(&engine, sigma)),
                &NoopObserver,
            )
            .unwrap();
            let all = finding_ids(&engine, all.into_iter().map(|v| v.0).collect());
            assert!(all.len() > 20, "too few findings to compare: {}", all.len());
            assert_eq!(fast, all, "with sigma: {}", sigma.is_some());
            assert_eq!(all_stats.records_unparsed, 0);
            // Records no rule can match are declined unparsed: most of them without Sigma; with the
            // SigmaHQ rules (one matches every assumed-role call) still some.
            assert!(fast_stats.records_unparsed > 0, "{fast_stats:?}");
            if sigma.is_none() {
                assert!(
                    fast_stats.records_unparsed * 10 > fast_stats.records_seen * 8,
                    "{fast_stats:?}"
                );
            }
        }
    }

    #[test]
    fn the_slowdown_target_is_a_positive_ratio() {
        assert_eq!(parse_slowdown("1.10"), Ok(1.10));
        for bad in ["0", "-1", "NaN", "inf", "ten percent"] {
            let err = parse_slowdown(bad).unwrap_err();
            assert!(err.contains(&format!("`{bad}`")), "{err}");
        }
    }

    #[test]
    fn a_comparison_holds_medians_against_the_target() {
        assert_eq!(median(&[]), 0.0);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        let comparison = |seconds: Vec<f64>| Comparison {
            format: Format::Gz,
            phase: Phase::Scan,
            baseline_phase: Phase::Scan,
            seconds,
            // An outlier in the baseline's runs moves no median.
            baseline_seconds: vec![1.0, 1.0, 9.0],
        };
        let slower = comparison(vec![1.2, 1.25, 0.5]);
        assert!((slower.ratio() - 1.2).abs() < 1e-9);
        assert!(!slower.within(1.10) && slower.within(1.25));
        let line = slower.line(1.10);
        assert!(
            line.contains("`scan` 1.200 s against the baseline's 1.000 s (medians of 3 interleaved runs): 1.20x (target <= 1.10x): NOT met"),
            "{line}"
        );
        let mut no_bulk = comparison(vec![0.8, 0.7, 0.9]);
        no_bulk.phase = Phase::ScanNoBulk;
        let line = no_bulk.line(1.10);
        assert!(
            line.contains("`scan-no-bulk` 0.800 s against the baseline's `scan` 1.000 s")
                && line.ends_with("0.80x (target <= 1.10x): met"),
            "{line}"
        );
    }

    /// The `scan-no-bulk` phase leaves out exactly the bulk watchers: on real logs where they find
    /// something, its findings are the full scan's less theirs.
    #[test]
    fn the_no_bulk_phase_loses_only_the_bulk_watchers_findings() {
        let logs = trailguard_testkit::shared_data().join("cloudtrail");
        let findings = |phase: Phase| -> Vec<(String, String)> {
            let found = source::discover(std::slice::from_ref(&logs)).unwrap();
            let mut out = Vec::new();
            scan_findings(
                &phase_engine(phase),
                None,
                found.sources,
                &trailguard_event::Filter::default(),
                2,
                &NoopObserver,
                |f| out.push((f.rule_id, f.id)),
            )
            .unwrap();
            out.sort();
            out
        };
        let bulk = Engine::builtin().bulk_watchers();
        assert!(bulk.len() >= 3, "{bulk:?}");
        let all = findings(Phase::Scan);
        let (theirs, others): (Vec<_>, Vec<_>) = all
            .into_iter()
            .partition(|(rule, _)| bulk.contains(&rule.as_str()));
        assert!(!theirs.is_empty(), "the real logs hold bursts of reads");
        assert!(others.len() > 50, "{}", others.len());
        assert_eq!(findings(Phase::ScanNoBulk), others);
    }

    #[test]
    fn corpus_is_deterministic_s3_layout_and_every_phase_counts_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = ensure_corpus(&args(dir.path(), true)).unwrap();
        assert!(manifest.json_bytes >= 2_000_000);
        assert_eq!(manifest.records, manifest.files * 1000);
        // Regenerating with the same settings reuses the corpus; a fresh one is byte-identical.
        assert_eq!(ensure_corpus(&args(dir.path(), true)).unwrap(), manifest);
        let again = tempfile::tempdir().unwrap();
        assert_eq!(ensure_corpus(&args(again.path(), true)).unwrap(), manifest);

        let found = source::discover(&[dir.path().join("gz")]).unwrap();
        assert_eq!(found.sources.len() as u64, manifest.files);
        let first = found.sources[0]
            .name()
            .strip_prefix(dir.path())
            .unwrap()
            .to_path_buf();
        let parts: Vec<_> = first
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        assert_eq!(parts[..3], ["gz", "AWSLogs", "111122223333"]);
        assert_eq!(parts[3], "CloudTrail");
        assert!(parts[8].starts_with("111122223333_CloudTrail_") && parts[8].ends_with(".json.gz"));

        for format in [Format::Gz, Format::Json] {
            let mut scan_findings = [0; 2];
            for phase in [
                Phase::Decompress,
                Phase::Parse,
                Phase::Pipeline,
                Phase::Scan,
                Phase::ScanNoBulk,
            ] {
                let mut a = args(dir.path(), false);
                a.format = format;
                let result = run_phase(&a, phase, 2).unwrap();
                assert_eq!(result.records, manifest.records, "{phase:?} {format:?}");
                assert_eq!(
                    result.json_bytes, manifest.json_bytes,
                    "{phase:?} {format:?}"
                );
                assert_eq!(result.errors, 0);
                assert!(result.peak_rss_mb > 0.0);
                match phase {
                    Phase::Scan => scan_findings[0] = result.findings,
                    Phase::ScanNoBulk => scan_findings[1] = result.findings,
                    _ => {}
                }
            }
            // The sprinkling of risky IAM writes must trip the rules, with or without the bulk
            // watchers (what they find is checked on real logs below).
            let [all, no_bulk] = scan_findings;
            assert!(
                no_bulk > 0 && no_bulk <= all,
                "{format:?}: {all} against {no_bulk}"
            );
        }
    }
}
