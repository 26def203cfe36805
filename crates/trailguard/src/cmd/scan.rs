//! `trailguard scan PATH...`: read CloudTrail logs, run the built-in rules (and Sigma rules), report.
//!
//! The flow: build the record filter from the flags, load Sigma rules, stream every input through the
//! parallel pipeline with one engine worker per thread, merge the workers' findings, link each finding
//! to its knowledge-base entry, write them in the chosen format, save the run to the store, and pick the
//! exit code: 0 nothing at or above `--fail-on`, 1 findings at or above it, 2 nothing could be read.
//!
//! Input problems never stop the scan: each is one line on stderr (`warning: FILE: record N: reason`)
//! and one count in the summary.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use indicatif::ProgressBar;
use trailguard_event::source::{discover, Source};
use trailguard_event::{Filter, InputError, Observer, ScanStats, SkipReason};
use trailguard_rules::engine::{scan_findings, Engine};
use trailguard_rules::output::{self, Format, OutputOptions, RunSummary};

use super::args::{parse_fail_on, parse_format, parse_severity, FailOn, RuleChoice};
use trailguard_rules::sigma::SigmaRuleSet;
use trailguard_rules::{Finding, Severity};

use crate::aws::AwsTarget;
use crate::remote::{self, lookup_events::LookupEventsSource, lookup_events::LookupQuery};
use crate::store;
use crate::ui::{self, ColorChoice};

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  trailguard scan samples/cloudtrail
  trailguard scan s3-export/AWSLogs --since 2024-03-01 --event-region us-east-1 --fail-on critical
  trailguard scan logs/ --format json --output findings.jsonl --store .trailguard/trailguard.db
  trailguard scan s3://my-trail-bucket/AWSLogs/111122223333/CloudTrail/ --since 2d
  trailguard scan --lookup-events --region eu-west-1 --since 24h

Exit codes: 0 no finding at or above --fail-on, 1 findings at or above it, 2 nothing could be read.")]
pub struct ScanArgs {
    /// Files or directories to scan (recursively; `.json`, `.json.gz`, JSON lines, EventBridge); `-` is
    /// stdin; `s3://bucket/prefix` reads every log object under the prefix.
    #[arg(required_unless_present = "lookup_events", value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Keep events at or after this time: RFC 3339 (`2024-03-01T12:00:00Z`), a date (`2024-03-01`),
    /// or an age (`90m`, `36h`, `7d`).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,

    /// Keep events before this time (same forms as --since).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,

    /// Keep events of this account (recipientAccountId or the caller's account). Repeatable.
    #[arg(long, value_name = "ID")]
    pub account: Vec<String>,

    /// Keep events of this region (awsRegion). Repeatable. (`--region` is the AWS API region, as in
    /// every other command.)
    #[arg(long = "event-region", value_name = "REGION")]
    pub event_region: Vec<String>,

    /// Keep events with this eventName (exact and case-sensitive as CloudTrail writes it, e.g.
    /// CreatePolicyVersion). Repeatable.
    #[arg(long = "event-name", value_name = "NAME")]
    pub event_name: Vec<String>,

    /// Output format: text (terminal report), json (JSON lines of findings), ocsf (OCSF 1.3 Detection
    /// Finding, JSON lines), asff (Security Hub batches of 100, JSON lines), sarif (SARIF 2.1.0 document).
    #[arg(long, short = 'f', default_value = "text", value_parser = parse_format)]
    pub format: Format,

    /// Write findings to FILE instead of stdout (the summary then goes to stderr); `-` is stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Exit with code 1 when a finding is at or above this severity: info, low, medium, high, critical,
    /// or never.
    #[arg(long = "fail-on", default_value = "high", value_name = "SEVERITY", value_parser = parse_fail_on)]
    pub fail_on: FailOn,

    /// Also run the Sigma rules in DIR (a directory of SigmaHQ YAML rules, or one file). Repeatable.
    #[arg(long, value_name = "DIR")]
    pub sigma: Vec<PathBuf>,

    #[command(flatten)]
    pub rules: RuleChoice,

    /// Report only findings at or above this severity (info, low, medium, high, critical).
    #[arg(long = "min-severity", value_name = "SEVERITY", value_parser = parse_severity)]
    pub min_severity: Option<Severity>,

    /// Save the run and its findings in this SQLite file (created if missing) or PostgreSQL database
    /// (postgres://USER@HOST/DB); re-scans update, never duplicate.
    #[arg(long, value_name = "PATH|URL")]
    pub store: Option<String>,

    #[command(flatten)]
    pub triage: crate::triage::TriageArgs,

    /// An account snapshot (the files of `audit --offline`): apply the scan's IAM changes to its
    /// privilege-escalation graph and report paths to admin they open (CT054) or close; CT039 also
    /// knows the snapshot's trail buckets.
    #[arg(long, value_name = "DIR")]
    pub snapshot: Option<PathBuf>,

    /// Worker threads (0 = one per core).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub threads: usize,

    /// No progress bar and no summary on stderr (input errors are still reported).
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// Colour in the text report.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// ASFF: the Security Hub account that imports the findings (default: each finding's account).
    #[arg(long = "asff-account", value_name = "ID")]
    pub asff_account: Option<String>,

    /// ASFF: the Security Hub region (default: each finding's region).
    #[arg(long = "asff-region", value_name = "REGION")]
    pub asff_region: Option<String>,

    /// Also read the CloudTrail LookupEvents API (the last 90 days of management events of --region),
    /// narrowed by --since/--until and a single --event-name.
    #[arg(long = "lookup-events", help_heading = "AWS inputs")]
    pub lookup_events: bool,

    /// With --lookup-events: stop after this many events.
    #[arg(
        long = "max-events",
        value_name = "N",
        requires = "lookup_events",
        help_heading = "AWS inputs"
    )]
    pub max_events: Option<u64>,

    /// AWS profile for `s3://` inputs and --lookup-events (default: the usual credential chain).
    #[arg(long, value_name = "NAME", help_heading = "AWS inputs")]
    pub profile: Option<String>,

    /// AWS region to call for `s3://` inputs and --lookup-events (`--event-region` filters events).
    #[arg(
        long,
        alias = "aws-region",
        value_name = "REGION",
        help_heading = "AWS inputs"
    )]
    pub region: Option<String>,

    /// Send `s3://` and --lookup-events calls to this endpoint (e.g. a local moto server).
    #[arg(long = "endpoint-url", value_name = "URL", help_heading = "AWS inputs")]
    pub endpoint_url: Option<String>,
}

/// Parses `--since/--until`: RFC 3339, a date (midnight UTC), or an age before `now`.
pub fn parse_time_bound(text: &str, now: DateTime<Utc>) -> anyhow::Result<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        if let Some(midnight) = date.and_hms_opt(0, 0, 0) {
            return Ok(midnight.and_utc());
        }
    }
    if let Some(time) = parse_age(text).and_then(|age| now.checked_sub_signed(age)) {
        return Ok(time);
    }
    bail!(
        "cannot read time `{text}`: use RFC 3339 (2024-03-01T12:00:00Z), a date (2024-03-01) or an age (36h, 7d)"
    )
}

/// An age or a length of time: a whole number and a unit (`90s`, `15m`, `36h`, `7d`, `2w`).
pub fn parse_age(text: &str) -> Option<chrono::TimeDelta> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    number
        .parse::<i64>()
        .ok()?
        .checked_mul(seconds)
        .and_then(chrono::TimeDelta::try_seconds)
}

/// How the LookupEvents API is named among a run's inputs.
const LOOKUP_EVENTS_INPUT: &str = "CloudTrail LookupEvents API";

/// Prints input errors as they happen (above the progress bar) and drives the bar.
struct ConsoleObserver {
    bar: ProgressBar,
}

impl Observer for ConsoleObserver {
    fn on_input_error(&self, err: &InputError) {
        // File names and record values in the message come from the input.
        let line = format!("warning: {}", output::visible(&err.to_string()));
        self.bar.suspend(|| eprintln!("{line}"));
    }

    fn on_progress(&self, bytes_done: u64, bytes_total: u64) {
        ui::set_total(&self.bar, bytes_total);
        self.bar.set_position(bytes_done);
    }
}

pub fn run(args: ScanArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let started_at = Utc::now();
    let filter = build_filter(&args, started_at)?;
    for warning in super::args::check_event_names(&args.event_name)? {
        eprintln!("warning: {warning}");
    }

    let mut engine = Engine::builtin();
    let mut snapshot_watch = None;
    if let Some(dir) = &args.snapshot {
        let (seeded, watch) = super::scan_snapshot::with_snapshot(engine, dir, args.quiet)?;
        (engine, snapshot_watch) = (seeded, Some(watch));
    }
    // Every entry must name a rule: `--rule CT001,CT999` is a usage error, not a silent CT001.
    // A report says what it did not look for (nothing to say for `TRAILGUARD_IGNORE=`), and which list of
    // AWS's networks it was given.
    let mut notes;
    (engine, notes) = args.rules.apply_listing(engine)?;
    // A mistyped `--sigma` path is a usage error, said before any scanning.
    if let Some(missing) = args.sigma.iter().find(|p| !p.exists()) {
        bail!("--sigma `{}`: no such file or directory", missing.display());
    }
    let sigma = if args.sigma.is_empty() {
        None
    } else {
        let (set, errors) = SigmaRuleSet::load_dirs(&args.sigma);
        let skipped = errors.iter().filter(|e| e.is_skip()).count();
        let broken: Vec<_> = errors.iter().filter(|e| !e.is_skip()).collect();
        for err in &broken {
            eprintln!("warning: sigma: {err}");
        }
        notes.push(format!(
            "sigma: {} rules loaded, {} failed to load, {} for other log sources skipped",
            set.len(),
            broken.len(),
            skipped
        ));
        if set.is_empty() && !broken.is_empty() {
            eprintln!(
                "warning: sigma: no rule could be loaded from {}",
                join_paths(&args.sigma)
            );
        }
        Some(set)
    };

    // Open the output first: a path that cannot be written fails now, not after a long scan. Never over
    // an input: that would destroy the logs before they are read. `-o -` is stdout, as in most tools.
    let output_path = super::args::output_file(args.output.as_deref());
    if let Some(path) = output_path {
        refuse_output_over_input(path, &args.paths)?;
    }
    let sink: Box<dyn Write> = match output_path {
        Some(path) => {
            Box::new(BufWriter::new(File::create(path).with_context(|| {
                format!("cannot create `{}`", path.display())
            })?))
        }
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    let to_terminal = output_path.is_none() && ui::stdout_is_terminal();
    let output_options = OutputOptions {
        color: args.color.resolve(to_terminal),
        width: if to_terminal {
            ui::stdout_width()
        } else {
            None
        },
        truncate: to_terminal,
        asff_product_account: args.asff_account.clone(),
        asff_region: args.asff_region.clone(),
        rules: trailguard_rules::registry::metas(),
    };
    let mut writer = output::new_writer(args.format, sink, &output_options);
    // The store too: one that cannot be used (read-only, from a newer trailguard) fails before the scan,
    // and the run is recorded first so findings are saved as they are found.
    let mut recorder = args
        .store
        .as_deref()
        .map(|spec| {
            let started = started_at.to_rfc3339_opts(SecondsFormat::Secs, true);
            store::RunRecorder::start(spec, "scan", &started, &run_inputs(&args))
        })
        .transpose()?;
    let aws = crate::aws::AwsTarget {
        profile: args.profile.clone(),
        region: args.region.clone(),
        endpoint_url: args.endpoint_url.clone(),
    };
    let mut triage =
        crate::triage::Triage::start(&args.triage, args.store.as_deref(), aws, started_at)?;

    let bar = ui::progress_bar(None, !args.quiet, "scanning");
    let observer = ConsoleObserver { bar: bar.clone() };
    let (sources, found) = gather_sources(&args, &filter, &observer, &mut notes)?;
    let mut by_severity = std::collections::BTreeMap::new();
    let mut output = OutputState::default();
    let outcome = scan_findings(
        &engine,
        sigma.as_ref(),
        sources,
        &filter,
        args.threads,
        &observer,
        |mut finding| {
            if args.min_severity.is_some_and(|min| finding.severity < min) {
                return;
            }
            // Loaded at the first finding, on this thread, while the workers go on reading.
            link_knowledge_base(&mut finding, trailguard_kb::Kb::builtin());
            let verdict = triage.judge(&finding, Utc::now());
            if verdict == crate::triage::Verdict::Report {
                *by_severity.entry(finding.severity).or_insert(0u64) += 1;
            }
            if verdict.shown() {
                output.write(writer.as_mut(), &finding);
            }
            if let Some(recorder) = recorder.as_mut() {
                recorder.save(finding);
            }
        },
    )
    .context("scan failed")?;
    let mut stats = outcome.stats;
    stats.merge(&found);
    bar.finish_and_clear();

    for limit in &outcome.limits {
        notes.push(limit.to_string());
    }
    notes.extend(snapshot_watch.iter().flat_map(|w| w.notes()));
    let mut summary = summarize(&args, &stats, &notes, started_at);
    summary.rules =
        (engine.rule_codes().len() + sigma.as_ref().map_or(0, SigmaRuleSet::len)) as u64;
    summary.findings = by_severity;
    summary.findings_folded = outcome.engine.duplicates_removed;
    summary.duration_ms = started.elapsed().as_millis().min(u128::from(u64::MAX)) as u64;
    summary.finished_at = Some(Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true));
    triage.finish(&mut summary, recorder.is_some(), Utc::now())?;

    // Nothing could be read at all: an error, whatever else happened, and no report that could pass
    // for an empty one.
    let nothing_read = stats.files_read == 0 && stats.records_seen == 0;
    if !filter.is_empty() && summary.records > 0 && summary.records_filtered == summary.records {
        summary.notes.push(format!(
            "no record matched the filters: all {} were left out",
            summary.records
        ));
    }

    if !nothing_read {
        output.finish(writer.as_mut(), &summary)?;
    }
    if !nothing_read && !args.quiet && (!args.format.is_human() || output_path.is_some()) {
        let color = args.color.resolve(ui::stderr_is_terminal());
        eprint!("{}", output::text::render_summary(&summary, color));
    }

    if let Some(recorder) = recorder {
        recorder.finish(&summary, args.quiet)?;
    }

    if nothing_read {
        if stats.errors == 0 {
            eprintln!(
                "error: no CloudTrail log files found in {}",
                join_paths(&args.paths)
            );
        } else {
            eprintln!("error: no input could be read (see the warnings above)");
        }
        return Ok(ExitCode::from(2));
    }
    let failing = args.fail_on.failing(&summary);
    Ok(if failing > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Writes findings as they come. A closed pipe (`trailguard scan ... | head`) is not an error: the
/// reader has what it wanted, so writing stops quietly while the run still saves to the store and sets
/// its exit code; any other write error is kept and reported once the scan is done.
#[derive(Default)]
struct OutputState {
    closed: bool,
    error: Option<std::io::Error>,
}

impl OutputState {
    fn write(&mut self, writer: &mut dyn output::FindingWriter, finding: &Finding) {
        if self.closed || self.error.is_some() {
            return;
        }
        if let Err(err) = writer.write(finding) {
            self.fail(err);
        }
    }

    fn finish(
        mut self,
        writer: &mut dyn output::FindingWriter,
        summary: &RunSummary,
    ) -> anyhow::Result<()> {
        if !self.closed && self.error.is_none() {
            if let Err(err) = writer.finish(summary) {
                self.fail(err);
            }
        }
        match self.error {
            Some(err) => Err(anyhow::Error::new(err).context("cannot write findings")),
            None => Ok(()),
        }
    }

    fn fail(&mut self, err: std::io::Error) {
        if err.kind() == std::io::ErrorKind::BrokenPipe {
            self.closed = true;
        } else {
            self.error = Some(err);
        }
    }
}

/// Refuses `--output` when it names an input (or a file inside an input directory): creating the
/// output truncates it before the scan could read it.
fn refuse_output_over_input(output: &std::path::Path, inputs: &[PathBuf]) -> anyhow::Result<()> {
    let Ok(target) = std::fs::canonicalize(output) else {
        // Not there yet: it cannot be an input.
        return Ok(());
    };
    for input in inputs {
        let Ok(input_path) = std::fs::canonicalize(input) else {
            continue;
        };
        if target == input_path || (input_path.is_dir() && target.starts_with(&input_path)) {
            bail!(
                "refusing to write the output to `{}`: it is {} input `{}`, and writing would destroy it before it is read",
                output.display(),
                if target == input_path { "the" } else { "inside the" },
                input.display()
            );
        }
    }
    Ok(())
}

/// Turns the inputs into sources: local paths through the walker (digest files, non-log files and
/// unreadable paths are counted in the returned stats and reported), `s3://` locations through S3 listing,
/// and the LookupEvents API when asked.
fn gather_sources(
    args: &ScanArgs,
    filter: &Filter,
    observer: &dyn Observer,
    notes: &mut Vec<String>,
) -> anyhow::Result<(Vec<Box<dyn Source>>, ScanStats)> {
    let mut stats = ScanStats::default();
    let mut sources: Vec<Box<dyn Source>> = Vec::new();
    let (s3, local): (Vec<&PathBuf>, Vec<&PathBuf>) = args
        .paths
        .iter()
        .partition(|p| p.to_str().is_some_and(remote::is_s3_url));
    if !local.is_empty() {
        let local: Vec<PathBuf> = local.into_iter().cloned().collect();
        let found = discover(&local).context("cannot read the inputs")?;
        stats.files_ignored += found.ignored;
        if !found.digest_files.is_empty() {
            *stats
                .files_skipped
                .entry(SkipReason::DigestFile)
                .or_default() += found.digest_files.len() as u64;
        }
        for err in &found.errors {
            *stats.files_skipped.entry(err.reason).or_default() += 1;
            stats.errors += 1;
            observer.on_input_error(err);
        }
        sources.extend(found.sources);
    }
    if s3.is_empty() && !args.lookup_events {
        return Ok((sources, stats));
    }
    let target = AwsTarget {
        profile: args.profile.clone(),
        region: args.region.clone(),
        endpoint_url: args.endpoint_url.clone(),
    };
    if !s3.is_empty() {
        let urls: Vec<String> = s3.iter().map(|p| p.display().to_string()).collect();
        let remote = remote::s3_sources(&urls, &target, filter)?;
        notes.push(format!(
            "s3: {} log objects listed in {} requests; {} folders outside --since/--account/--event-region skipped unlisted",
            remote.sources.len(),
            remote.list_requests,
            remote.pruned_folders
        ));
        stats.files_ignored += remote.ignored;
        if remote.digest_files > 0 {
            *stats
                .files_skipped
                .entry(SkipReason::DigestFile)
                .or_default() += remote.digest_files;
        }
        sources.extend(remote.sources);
    }
    if args.lookup_events {
        let runtime = remote::runtime()?;
        let config = target.load(&runtime);
        // The API filters on one attribute: an event name when exactly one is wanted.
        let event_name = match filter.event_names.as_slice() {
            [one] => Some(one.clone()),
            _ => None,
        };
        let query = LookupQuery {
            start: filter.since,
            end: filter.until,
            event_name,
            max_events: args.max_events,
        };
        sources.push(Box::new(LookupEventsSource::new(&config, runtime, query)));
    }
    Ok((sources, stats))
}

fn build_filter(args: &ScanArgs, now: DateTime<Utc>) -> anyhow::Result<Filter> {
    let since = args
        .since
        .as_deref()
        .map(|t| parse_time_bound(t, now))
        .transpose()
        .context("--since")?;
    let until = args
        .until
        .as_deref()
        .map(|t| parse_time_bound(t, now))
        .transpose()
        .context("--until")?;
    if let (Some(since), Some(until)) = (since, until) {
        if since >= until {
            bail!("--since ({since}) must be before --until ({until})");
        }
    }
    Ok(Filter {
        since,
        until,
        accounts: args.account.clone(),
        regions: args.event_region.clone(),
        event_names: args.event_name.clone(),
    })
}

/// The run's inputs as the summary and the store name them.
fn run_inputs(args: &ScanArgs) -> Vec<String> {
    let mut inputs: Vec<String> = args.paths.iter().map(|p| p.display().to_string()).collect();
    if args.lookup_events {
        inputs.push(LOOKUP_EVENTS_INPUT.to_owned());
    }
    inputs
}

/// Turns the pipeline's counters into the summary every output and the store share.
fn summarize(
    args: &ScanArgs,
    stats: &ScanStats,
    notes: &[String],
    started_at: DateTime<Utc>,
) -> RunSummary {
    let mut summary = RunSummary::new("scan");
    summary.started_at = Some(started_at.to_rfc3339_opts(SecondsFormat::Secs, true));
    summary.inputs = run_inputs(args);
    summary.files = stats.files_read + stats.files_skipped_total();
    summary.files_failed = stats
        .files_skipped
        .iter()
        .filter(|(reason, _)| **reason != SkipReason::DigestFile)
        .map(|(_, n)| n)
        .sum();
    // Records no rule wanted were read but not parsed; they count as scanned.
    summary.records = stats.records_matched + stats.records_filtered + stats.records_unparsed;
    summary.records_filtered = stats.records_filtered;
    for (reason, count) in &stats.files_skipped {
        summary
            .skipped
            .insert(skipped_file_label(reason.as_str(), *count), *count);
    }
    for (reason, count) in &stats.files_truncated {
        let noun = if *count == 1 { "file" } else { "files" };
        summary.skipped.insert(
            format!("{noun} cut short ({})", reason.as_str().replace('_', " ")),
            *count,
        );
    }
    for (reason, count) in &stats.records_skipped {
        let noun = if *count == 1 { "record" } else { "records" };
        summary
            .skipped
            .insert(format!("{noun} {}", human_reason(reason.as_str())), *count);
    }
    summary.errors = stats.errors;
    summary.notes = notes.to_vec();
    if stats.records_untimed > 0 {
        summary.notes.push(format!(
            "{} record(s) had no readable eventTime: each was judged on its own, but no rule could \
             combine them with other events, such as into a burst (each is a warning above)",
            stats.records_untimed
        ));
    }
    if stats.files_ignored > 0 {
        summary.notes.push(format!(
            "{} files in the directories are not logs by name or content (README, ...) and were ignored",
            stats.files_ignored
        ));
    }
    summary
}

/// `1 CloudTrail digest file`, `2 files not CloudTrail`, ...: the summary prints the count before it.
fn skipped_file_label(reason: &str, count: u64) -> String {
    let plural = count != 1;
    match reason {
        "digest_file" if plural => "CloudTrail digest files".to_owned(),
        "digest_file" => "CloudTrail digest file".to_owned(),
        "empty_input" if plural => "empty files".to_owned(),
        "empty_input" => "empty file".to_owned(),
        "unreadable" if plural => "unreadable files".to_owned(),
        "unreadable" => "unreadable file".to_owned(),
        "not_regular_file" if plural => "special files (FIFOs, sockets, devices)".to_owned(),
        "not_regular_file" => "special file (FIFO, socket or device)".to_owned(),
        other => {
            let noun = if plural { "files" } else { "file" };
            format!("{noun} {}", human_reason(other))
        }
    }
}

fn human_reason(reason: &str) -> String {
    match reason {
        "not_cloudtrail" => "not CloudTrail".to_owned(),
        "corrupt_gzip" => "with corrupt gzip".to_owned(),
        "truncated_json" => "with truncated JSON".to_owned(),
        "invalid_json" => "with invalid JSON".to_owned(),
        "missing_event_name" => "missing eventName".to_owned(),
        "missing_event_time" => "missing eventTime".to_owned(),
        "missing_event_source" => "missing eventSource".to_owned(),
        "invalid_event_time" => "with an unreadable eventTime".to_owned(),
        "nested_too_deep" => "nested too deep to read".to_owned(),
        other => other.replace('_', " "),
    }
}

/// Links a finding to its knowledge-base entry and, when the rule gave no commands, embeds the entry's
/// remediation commands (they are the entry's examples, so the finding says to adapt the names). A link
/// the rule set to an event with no entry (Lambda, EC2 Instance Connect) is dropped, so no output points
/// at a `trailguard explain` that has nothing to say.
pub(crate) fn link_knowledge_base(finding: &mut Finding, kb: &trailguard_kb::Kb) {
    if finding
        .fix
        .kb_entry
        .as_deref()
        .is_some_and(|entry| kb.lookup(entry).is_none())
    {
        finding.fix.kb_entry = None;
    }
    let (Some(source), Some(event)) = (&finding.event_source, &finding.event_name) else {
        return;
    };
    let Some(entry) = kb.get(source, event) else {
        return;
    };
    if finding.fix.kb_entry.is_none() {
        finding.fix.kb_entry = Some(entry.event.clone());
    }
    // A denied attempt changed nothing: there is nothing to undo, so no commands are borrowed for it.
    let changed = matches!(finding.outcome, trailguard_rules::Outcome::Success);
    if changed && finding.fix.commands.is_empty() {
        let commands = entry.fix_commands();
        if !commands.is_empty() {
            finding
                .fix
                .commands
                .extend(commands.into_iter().map(str::to_owned));
            finding.notes.push(format!(
                "The fix commands are examples from `trailguard explain {}`: replace the names with this finding's.",
                entry.event
            ));
        }
    }
}

fn join_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| format!("`{}`", p.display()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailguard_rules::Severity;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-03-10T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn time_bounds_accept_rfc3339_dates_and_ages() {
        assert_eq!(
            parse_time_bound("2024-03-01T05:06:07Z", now())
                .unwrap()
                .to_rfc3339(),
            "2024-03-01T05:06:07+00:00"
        );
        assert_eq!(
            parse_time_bound("2024-03-01", now()).unwrap().to_rfc3339(),
            "2024-03-01T00:00:00+00:00"
        );
        assert_eq!(
            parse_time_bound("36h", now()).unwrap().to_rfc3339(),
            "2024-03-09T00:00:00+00:00"
        );
        assert_eq!(
            parse_time_bound("7d", now()).unwrap().to_rfc3339(),
            "2024-03-03T12:00:00+00:00"
        );
        let err = parse_time_bound("yesterday", now())
            .unwrap_err()
            .to_string();
        assert!(err.contains("`yesterday`"), "{err}");
        assert!(parse_time_bound("99999999999999d", now()).is_err());
    }

    fn bare_finding(outcome: trailguard_rules::Outcome) -> Finding {
        Finding {
            id: Finding::stable_id(&["TEST", "e1"]),
            rule_id: "TEST".into(),
            rule_name: "test".into(),
            title: "test".into(),
            severity: Severity::High,
            source: trailguard_rules::FindingSource::Sigma,
            outcome,
            message: "m".into(),
            event_time: None,
            event_name: Some("CreateAccessKey".into()),
            event_source: Some("iam.amazonaws.com".into()),
            event_id: None,
            account: None,
            region: None,
            actor: None,
            resource: None,
            evidence: vec![],
            attack: vec![],
            compliance: vec![],
            fix: trailguard_rules::Fix::default(),
            notes: vec![],
            location: None,
        }
    }

    #[test]
    fn findings_link_to_the_knowledge_base_and_borrow_its_commands() {
        let kb = trailguard_kb::Kb::builtin();
        let entry = kb
            .get("iam.amazonaws.com", "CreateAccessKey")
            .expect("the knowledge base has CreateAccessKey");
        let mut changed = bare_finding(trailguard_rules::Outcome::Success);
        link_knowledge_base(&mut changed, kb);
        assert_eq!(changed.fix.kb_entry.as_deref(), Some("CreateAccessKey"));
        let expected: Vec<String> = entry.fix_commands().iter().map(|c| c.to_string()).collect();
        assert_eq!(changed.fix.commands, expected);
        if !expected.is_empty() {
            assert!(changed.notes[0].contains("trailguard explain CreateAccessKey"));
        }

        let mut denied = bare_finding(trailguard_rules::Outcome::Attempt {
            error_code: "AccessDenied".into(),
        });
        link_knowledge_base(&mut denied, kb);
        assert_eq!(denied.fix.kb_entry.as_deref(), Some("CreateAccessKey"));
        assert!(
            denied.fix.commands.is_empty(),
            "nothing to undo after a denied call"
        );

        let mut unknown = bare_finding(trailguard_rules::Outcome::Success);
        unknown.event_name = Some("NoSuchEvent".into());
        link_knowledge_base(&mut unknown, kb);
        assert!(unknown.fix.kb_entry.is_none());

        // A rule names its event as the entry; with no such entry the link goes.
        let mut unlinked = bare_finding(trailguard_rules::Outcome::Success);
        unlinked.event_source = Some("lambda.amazonaws.com".into());
        unlinked.event_name = Some("AddPermission20150331v2".into());
        unlinked.fix.kb_entry = Some("AddPermission20150331v2".into());
        link_knowledge_base(&mut unlinked, kb);
        assert!(unlinked.fix.kb_entry.is_none());
        let mut linked = bare_finding(trailguard_rules::Outcome::Success);
        linked.fix.kb_entry = Some("CreateAccessKey".into());
        link_knowledge_base(&mut linked, kb);
        assert_eq!(linked.fix.kb_entry.as_deref(), Some("CreateAccessKey"));
    }
}
