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
use trailguard_event::{
    scan_sources, Filter, InputError, Observer, Record, RecordVisitor, ScanStats, SkipReason,
};
use trailguard_rules::engine::{Engine, EngineWorker};
use trailguard_rules::output::{self, Format, OutputOptions, RunSummary};

use super::args::{parse_fail_on, parse_format, parse_severity, FailOn};
use trailguard_rules::sigma::collect::SigmaCollector;
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

    /// Write findings to FILE instead of stdout (the summary then goes to stderr).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Exit with code 1 when a finding is at or above this severity: info, low, medium, high, critical,
    /// or never.
    #[arg(long = "fail-on", default_value = "high", value_name = "SEVERITY", value_parser = parse_fail_on)]
    pub fail_on: FailOn,

    /// Also run the Sigma rules in DIR (a directory of SigmaHQ YAML rules, or one file). Repeatable.
    #[arg(long, value_name = "DIR")]
    pub sigma: Vec<PathBuf>,

    /// Run only these built-in rules (code like CT001 or name). Repeatable or comma-separated; default all.
    #[arg(long, value_name = "CODE", value_delimiter = ',')]
    pub rule: Vec<String>,

    /// Report only findings at or above this severity (info, low, medium, high, critical).
    #[arg(long = "min-severity", value_name = "SEVERITY", value_parser = parse_severity)]
    pub min_severity: Option<Severity>,

    /// Save the run and its findings in this SQLite file (created if missing); re-scans update, never duplicate.
    #[arg(long, value_name = "PATH")]
    pub store: Option<String>,

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
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    if let Ok(amount) = number.parse::<i64>() {
        let seconds = match unit {
            "s" => Some(1),
            "m" => Some(60),
            "h" => Some(3600),
            "d" => Some(86_400),
            "w" => Some(7 * 86_400),
            _ => None,
        };
        if let Some(delta) = seconds
            .and_then(|s| amount.checked_mul(s))
            .and_then(chrono::TimeDelta::try_seconds)
        {
            if let Some(time) = now.checked_sub_signed(delta) {
                return Ok(time);
            }
        }
    }
    bail!(
        "cannot read time `{text}`: use RFC 3339 (2024-03-01T12:00:00Z), a date (2024-03-01) or an age (36h, 7d)"
    )
}

/// One engine worker per pipeline thread, plus the Sigma rules when loaded. `trailguard bench` uses the
/// same visitor, so it measures exactly what a scan runs.
pub(crate) struct ScanVisitor<'e> {
    pub(crate) engine: EngineWorker<'e>,
    sigma: Option<SigmaCollector<'e>>,
}

impl<'e> ScanVisitor<'e> {
    pub(crate) fn new(engine: &'e Engine, sigma: Option<&'e SigmaRuleSet>) -> Self {
        ScanVisitor {
            engine: engine.new_worker(),
            sigma: sigma.map(SigmaCollector::new),
        }
    }

    /// Splits the workers into the engine's and one collector of all Sigma matches (folded repeats).
    pub(crate) fn split(
        workers: Vec<ScanVisitor<'e>>,
    ) -> (Vec<EngineWorker<'e>>, Option<SigmaCollector<'e>>) {
        let mut engines = Vec::with_capacity(workers.len());
        let mut sigma: Option<SigmaCollector<'e>> = None;
        for worker in workers {
            engines.push(worker.engine);
            if let Some(theirs) = worker.sigma {
                match sigma.as_mut() {
                    Some(ours) => ours.merge(theirs),
                    None => sigma = Some(theirs),
                }
            }
        }
        (engines, sigma)
    }
}

impl RecordVisitor for ScanVisitor<'_> {
    /// Parse only records some rule may want (most of a trail is read-only noise): the engine judges
    /// from the raw text, and the Sigma rules settle from it what they can (a repeat of a hunting
    /// rule's match only adds to a count).
    fn wants_raw(&mut self, raw: &trailguard_event::peek::RawRecord<'_>) -> bool {
        if self.engine.wants_raw(raw) {
            return true;
        }
        self.sigma
            .as_mut()
            .is_some_and(|sigma| !sigma.fold_raw(raw))
    }

    fn visit(&mut self, record: &Record<'_>) {
        self.engine.visit(record);
        if let Some(sigma) = self.sigma.as_mut() {
            sigma.evaluate(record);
        }
    }
}

/// Prints input errors as they happen (above the progress bar) and drives the bar.
struct ConsoleObserver {
    bar: ProgressBar,
}

impl Observer for ConsoleObserver {
    fn on_input_error(&self, err: &InputError) {
        let line = format!("warning: {err}");
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
    if !args.rule.is_empty() {
        // Every entry must name a rule: `--rule CT001,CT999` is a usage error, not a silent CT001.
        let metas = trailguard_rules::rules::cloudtrail::metas();
        let wanted = trailguard_rules::meta::resolve_codes(&metas, &args.rule)
            .map_err(|e| anyhow::anyhow!("--rule: {e}: see `trailguard rules`"))?;
        engine = engine.retain(|meta| wanted.contains(&meta.code));
        if engine.rule_codes().is_empty() {
            bail!(
                "no built-in rule matches --rule {}: see `trailguard rules`",
                args.rule.join(", ")
            );
        }
    }
    let mut notes = Vec::new();
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

    // Open the output first: a path that cannot be written fails now, not after a long scan.
    let sink: Box<dyn Write> = match &args.output {
        Some(path) => {
            Box::new(BufWriter::new(File::create(path).with_context(|| {
                format!("cannot create `{}`", path.display())
            })?))
        }
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    // The store too: one that cannot be used (read-only, from a newer trailguard) fails before the scan.
    let recorder = args
        .store
        .as_deref()
        .map(|spec| {
            let started = started_at.to_rfc3339_opts(SecondsFormat::Secs, true);
            store::RunRecorder::start(spec, "scan", &started, &run_inputs(&args))
        })
        .transpose()?;
    let bar = ui::progress_bar(None, !args.quiet, "scanning");
    let observer = ConsoleObserver { bar: bar.clone() };
    let (sources, found) = gather_sources(&args, &filter, &observer, &mut notes)?;
    let sigma_ref = sigma.as_ref();
    let (workers, mut stats) = scan_sources(
        sources,
        &filter,
        args.threads,
        || ScanVisitor::new(&engine, sigma_ref),
        &observer,
    )
    .context("scan failed")?;
    stats.merge(&found);
    bar.finish_and_clear();

    let (engine_workers, sigma_matches) = ScanVisitor::split(workers);
    let mut findings = sigma_matches
        .map(SigmaCollector::into_findings)
        .unwrap_or_default();
    let report = engine.finish_report(engine_workers);
    if report.stats.observations_dropped > 0 {
        notes.push(format!(
            "{} events were not kept for sequence rules (memory cap); sequence findings may be incomplete",
            report.stats.observations_dropped
        ));
    }
    findings.extend(report.findings);
    findings.sort_by(|a, b| {
        (&a.event_time, &a.rule_id, &a.id).cmp(&(&b.event_time, &b.rule_id, &b.id))
    });
    findings.dedup_by(|later, earlier| later.id == earlier.id);
    if let Some(min) = args.min_severity {
        findings.retain(|f| f.severity >= min);
    }
    let kb = trailguard_kb::Kb::builtin();
    for finding in &mut findings {
        link_knowledge_base(finding, kb);
    }

    let mut summary = summarize(&args, &stats, &notes, started_at);
    summary.rules =
        (engine.rule_codes().len() + sigma.as_ref().map_or(0, SigmaRuleSet::len)) as u64;
    for finding in &findings {
        summary.count_finding(finding);
    }
    summary.duration_ms = started.elapsed().as_millis().min(u128::from(u64::MAX)) as u64;
    summary.finished_at = Some(Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true));

    // Nothing could be read at all: an error, whatever else happened, and no report that could pass
    // for an empty one.
    let nothing_read = stats.files_read == 0 && stats.records_seen == 0;
    if !filter.is_empty() && summary.records > 0 && summary.records_filtered == summary.records {
        summary.notes.push(format!(
            "no record matched the filters: all {} were left out",
            summary.records
        ));
    }

    let to_terminal = args.output.is_none() && ui::stdout_is_terminal();
    let output_options = OutputOptions {
        color: args.color.resolve(to_terminal),
        width: if to_terminal {
            ui::stdout_width()
        } else {
            None
        },
        asff_product_account: args.asff_account.clone(),
        asff_region: args.asff_region.clone(),
    };
    if !nothing_read {
        write_findings(
            output::new_writer(args.format, sink, &output_options),
            &findings,
            &summary,
        )?;
    }
    if !nothing_read && !args.quiet && (!args.format.is_human() || args.output.is_some()) {
        let color = args.color.resolve(ui::stderr_is_terminal());
        eprint!("{}", output::text::render_summary(&summary, color));
    }

    if let Some(recorder) = recorder {
        recorder.finish(&summary, &findings, args.quiet)?;
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

/// Writes every finding and the summary. A closed pipe (`trailguard scan ... | head`) is not an error:
/// the reader has what it wanted, and the run still saves to the store and sets its exit code.
fn write_findings(
    mut writer: Box<dyn output::FindingWriter + '_>,
    findings: &[Finding],
    summary: &RunSummary,
) -> anyhow::Result<()> {
    let result = findings
        .iter()
        .try_for_each(|finding| writer.write(finding))
        .and_then(|()| writer.finish(summary));
    match result {
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write findings"),
    }
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
        inputs.push("CloudTrail LookupEvents API".to_owned());
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
        other => other.replace('_', " "),
    }
}

/// Links a finding to its knowledge-base entry and, when the rule gave no commands, embeds the entry's
/// remediation commands (they are the entry's examples, so the finding says to adapt the names).
fn link_knowledge_base(finding: &mut Finding, kb: &trailguard_kb::Kb) {
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
    }
}
