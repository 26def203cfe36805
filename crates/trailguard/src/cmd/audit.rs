//! `trailguard audit`: the IAM posture of an account, live through the AWS SDK or offline from saved
//! API output, plus `audit snapshot` (save that output), `audit who-can` (who may do an action) and
//! `audit unused` (granted against used from CloudTrail logs, in `audit_unused.rs`).
//!
//! Live and offline audits share one path: the live collector produces the same files `snapshot`
//! saves, and both are parsed by `AccountSnapshot::from_raw`, so their findings are identical.
//!
//! Offline input is checked before it is used: a file that is valid JSON but not the API output its
//! name claims (a policy document, `{}`, another command's output) is refused with the file and what
//! was expected, exit 2 and no score, because it would read as an empty, well-scored account. Live
//! audits speak of API calls, not files.
//!
//! Output: the shared finding writers, then the per-section scores — after the report in text
//! mode, as a last JSON line `{"audit_summary": {...}}` in JSON mode (see [`AuditSummary`]), and on
//! stderr for OCSF and ASFF (unless `--quiet`).

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, SecondsFormat, Utc};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use trailguard_account::live::{self, LiveOptions, Progress};
use trailguard_account::snapshot::{RawSnapshot, SnapshotProblem};
use trailguard_account::{effective_principals, AccountSnapshot, WhoCanReport};
use trailguard_rules::output::{self, Format, OutputOptions, RunSummary};

use super::args::{parse_fail_on, parse_format, parse_severity, FailOn};
use trailguard_rules::rules::posture::{self, NotEvaluated, PostureContext, SectionScore};
use trailguard_rules::{Finding, Severity};

use crate::ui::{self, ColorChoice};

/// The files a snapshot holds; an auditor may also save them with the AWS CLI.
const SNAPSHOT_FILES_HELP: &str =
    "Files (each the exact output of the AWS CLI command; all optional, \
a missing one makes the checks that need it \"not evaluated\"):
  get-account-authorization-details.json   aws iam get-account-authorization-details
  get-credential-report.json               aws iam get-credential-report
  credential-report.csv                    the same report's decoded CSV, instead
  get-account-password-policy.json         aws iam get-account-password-policy ({} when none is set)
  get-account-summary.json                 aws iam get-account-summary
  list-account-aliases.json                aws iam list-account-aliases
  list-virtual-mfa-devices.json            aws iam list-virtual-mfa-devices
  list-server-certificates.json            aws iam list-server-certificates
  list-access-keys/<user>.json             aws iam list-access-keys --user-name <user>
  get-caller-identity.json                 aws sts get-caller-identity
  describe-trails.json                     aws cloudtrail describe-trails
  get-trail-status/<trail>.json            aws cloudtrail get-trail-status --name <trail>
  get-event-selectors/<trail>.json         aws cloudtrail get-event-selectors --trail-name <trail>
  list-analyzers.json                      aws accessanalyzer list-analyzers";

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: Option<AuditCommand>,

    #[command(flatten)]
    pub run: AuditRunArgs,
}

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Save the account's IAM, CloudTrail and Access Analyzer API output to a directory, for
    /// `audit --offline DIR` later or elsewhere.
    #[command(after_long_help = SNAPSHOT_FILES_HELP)]
    Snapshot(SnapshotArgs),
    /// List every user and role the policy engine says may perform ACTION (through groups, managed
    /// and inline policies, permissions boundaries).
    WhoCan(WhoCanArgs),
    /// Granted against used per principal from CloudTrail logs (`+` used, `-` granted but unused in the
    /// window the logs cover, `?` used but not explained), with the least-privilege policy as the fix.
    Unused(super::audit_unused::UnusedArgs),
    /// Every principal that can become admin (or reach `--to ARN`), with the shortest chain of
    /// steps and the statement behind each: text, JSON, Graphviz DOT or findings.
    Paths(super::paths::PathsArgs),
}

/// Where the account comes from.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SourceArgs {
    /// Read saved API output from DIR instead of calling AWS (see `audit snapshot --help` for the
    /// file names); a single file is read as `get-account-authorization-details` output.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["profile", "region", "endpoint_url"])]
    pub offline: Option<PathBuf>,

    /// AWS profile (default: the SDK's credential chain: environment, SSO, instance role, ...).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,

    /// Region for CloudTrail and Access Analyzer (IAM is global).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// Send every API call to this endpoint (a moto server, a VPC endpoint).
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,

    /// Attempts per API call, retried with backoff on throttling.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub max_attempts: u32,
}

impl SourceArgs {
    fn live_options(&self) -> LiveOptions {
        LiveOptions {
            profile: self.profile.clone(),
            region: self.region.clone(),
            endpoint_url: self.endpoint_url.clone(),
            max_attempts: self.max_attempts,
        }
    }

    pub(super) fn describe(&self) -> String {
        match &self.offline {
            Some(dir) => format!("snapshot {}", dir.display()),
            None => {
                let mut text = "live account".to_owned();
                if let Some(p) = &self.profile {
                    let _ = write!(text, " (profile {p})");
                }
                if let Some(u) = &self.endpoint_url {
                    let _ = write!(text, " via {u}");
                }
                text
            }
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct AuditRunArgs {
    #[command(flatten)]
    pub source: SourceArgs,

    /// Output format.
    #[arg(long, short = 'f', default_value = "text", value_parser = parse_format)]
    pub format: Format,

    /// Exit with 1 when a finding is at or above this severity (`never` to always exit 0).
    #[arg(long, default_value = "high", value_name = "SEVERITY", value_parser = parse_fail_on)]
    pub fail_on: FailOn,

    /// Report only findings at or above this severity (scores still count every check).
    #[arg(long = "min-severity", value_name = "SEVERITY", value_parser = parse_severity)]
    pub min_severity: Option<Severity>,

    /// Write the report to FILE instead of stdout; `-` is stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// The audit's "now" (RFC 3339); default: the credential report's generation time, else the clock.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub now: Option<DateTime<Utc>>,

    /// No progress and no summary on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// Colour in the text report.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// The store that holds mutes and the alert outbox (a SQLite file or a postgres:// URL; default
    /// .trailguard/trailguard.db). Given, the audit's scores are saved in it (for `trailguard web`);
    /// its findings are not.
    #[arg(long, value_name = "PATH|URL", help_heading = "Alerts and mutes")]
    pub store: Option<String>,

    #[command(flatten)]
    pub triage: crate::triage::TriageArgs,
}

#[derive(Debug, clap::Args)]
pub struct SnapshotArgs {
    /// Directory to write the files into (created if needed).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    #[command(flatten)]
    pub source: SourceArgs,

    /// No progress on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Debug, clap::Args)]
pub struct WhoCanArgs {
    /// The action, e.g. `iam:CreateAccountAlias`.
    pub action: String,

    /// The resource ARN (default: any resource, including ones the principals' policies name).
    #[arg(long, value_name = "ARN")]
    pub resource: Option<String>,

    #[command(flatten)]
    pub source: SourceArgs,

    /// `text` or `json` (one JSON object).
    #[arg(long, short = 'f', default_value = "text", value_parser = parse_format)]
    pub format: Format,

    /// No progress on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    trailguard_account::time::parse_aws_time(text)
        .ok_or_else(|| format!("`{text}` is not an RFC 3339 time (e.g. 2024-06-01T00:00:00Z)"))
}

pub fn run(args: AuditArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        Some(AuditCommand::Snapshot(a)) => run_snapshot(a),
        Some(AuditCommand::WhoCan(a)) => run_who_can(a),
        Some(AuditCommand::Unused(a)) => super::audit_unused::run(a),
        Some(AuditCommand::Paths(a)) => super::paths::run(a),
        None => run_audit(args.run),
    }
}

/// A spinner on stderr while the live collector works; hidden when piped or quiet.
struct Spinner(ProgressBar);

impl Spinner {
    fn new(enabled: bool) -> Spinner {
        if !enabled || !ui::stderr_is_terminal() {
            return Spinner(ProgressBar::hidden());
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} collecting {msg} [{elapsed}]")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        Spinner(bar)
    }
}

impl Progress for Spinner {
    fn step(&self, message: &str) {
        self.0.set_message(message.to_owned());
    }
}

/// Reads the snapshot from disk or collects it live.
pub(super) fn load_raw(source: &SourceArgs, quiet: bool) -> anyhow::Result<RawSnapshot> {
    match &source.offline {
        Some(path) => {
            let raw = RawSnapshot::read_path(path)?;
            let wrong = raw.shape_problems();
            if !wrong.is_empty() {
                let lines: Vec<String> = wrong
                    .iter()
                    .map(|p| format!("`{}`: {}", snapshot_file_path(path, &p.file), p.message))
                    .collect();
                anyhow::bail!(
                    "refusing the snapshot: {}\n(see `trailguard audit snapshot --help` for the files and the commands that write them)",
                    lines.join("\n  ")
                );
            }
            Ok(raw)
        }
        None => {
            let spinner = Spinner::new(!quiet);
            let raw = live::collect(&source.live_options(), &spinner);
            spinner.0.finish_and_clear();
            Ok(raw?)
        }
    }
}

/// Where a snapshot file name points on disk: the file itself when one file was given.
fn snapshot_file_path(offline: &std::path::Path, name: &str) -> String {
    if offline.is_file() {
        offline.display().to_string()
    } else {
        offline.join(name).display().to_string()
    }
}

/// A "not evaluated" reason in live terms: the offline wording names snapshot files, a live audit made
/// API calls (`` `list-analyzers.json` missing from the snapshot `` → `` no answer from the `list-analyzers` call ``).
fn live_reason(reason: &str) -> String {
    if let Some(file) = reason
        .strip_suffix(" missing from the snapshot")
        .and_then(|f| f.strip_prefix('`'))
        .and_then(|f| f.strip_suffix(".json`"))
    {
        return format!("no answer from the `{file}` call (see the warnings)");
    }
    reason
        .replace(" are missing from the snapshot", " could not be collected")
        .replace(".json`", "`")
}

/// The snapshot for a command that needs the authorization details (who-can, paths); `None` once it
/// has said they are missing.
pub(super) fn snapshot_with_details(
    source: &SourceArgs,
    quiet: bool,
    command: &str,
) -> anyhow::Result<Option<AccountSnapshot>> {
    let raw = load_raw(source, quiet)?;
    let snapshot = AccountSnapshot::from_raw(&raw);
    if !quiet {
        report_problems(&snapshot.problems);
    }
    if snapshot.authorization.is_none() {
        eprintln!(
            "error: {command} needs the authorization details (get-account-authorization-details.json) from {}",
            source.describe()
        );
        return Ok(None);
    }
    Ok(Some(snapshot))
}

pub(super) fn report_problems(problems: &[SnapshotProblem]) {
    for problem in problems {
        eprintln!("warning: {problem}");
    }
}

/// The summary object of a JSON audit: the last line, `{"audit_summary": AuditSummary}`.
#[derive(Debug, Serialize)]
pub struct AuditSummary {
    pub account: Option<String>,
    /// The audit's "now" (RFC 3339).
    pub now: String,
    pub source: String,
    /// 0–100 over every evaluated check; `null` when nothing could be evaluated.
    pub overall_score: Option<u32>,
    pub sections: Vec<SectionScore>,
    pub checks_not_evaluated: Vec<NotEvaluated>,
    /// Files that were unusable and API calls that failed.
    pub snapshot_problems: Vec<SnapshotProblem>,
    /// Findings by severity.
    pub findings: std::collections::BTreeMap<Severity, u64>,
}

/// Runs every posture check over a snapshot; the library entry point the binary and tests share.
pub fn audit_snapshot(
    snapshot: &AccountSnapshot,
    now: Option<DateTime<Utc>>,
) -> (Vec<Finding>, AuditSummaryParts) {
    let ctx = PostureContext::new(snapshot, now);
    let report = posture::audit(&ctx);
    (
        report.findings,
        AuditSummaryParts {
            now: ctx.now,
            overall: report.overall,
            sections: report.sections,
            not_evaluated: report.not_evaluated,
        },
    )
}

/// The scores and skipped checks of one audit.
pub struct AuditSummaryParts {
    pub now: DateTime<Utc>,
    pub overall: Option<u32>,
    pub sections: Vec<SectionScore>,
    pub not_evaluated: Vec<NotEvaluated>,
}

fn run_audit(args: AuditRunArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let started_at = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
    // Mutes and alerts as in `scan`: expired mutes are reported before the audit starts.
    let aws = crate::aws::AwsTarget {
        profile: args.source.profile.clone(),
        region: args.source.region.clone(),
        endpoint_url: args.source.endpoint_url.clone(),
    };
    let mut triage =
        crate::triage::Triage::start(&args.triage, args.store.as_deref(), aws, Utc::now())?;
    let raw = load_raw(&args.source, args.quiet)?;
    let live = args.source.offline.is_none();
    if raw.files.is_empty() {
        report_problems(&raw.problems);
        if live {
            eprintln!(
                "error: no API call to the {} succeeded (see the warnings above)",
                args.source.describe()
            );
        } else {
            eprintln!(
                "error: no snapshot files found in {} (expected e.g. get-account-authorization-details.json)",
                args.source.describe()
            );
        }
        return Ok(ExitCode::from(2));
    }
    let snapshot = AccountSnapshot::from_raw(&raw);
    if !args.quiet {
        report_problems(&snapshot.problems);
    }
    let (mut findings, mut parts) = audit_snapshot(&snapshot, args.now);
    if let Some(min) = args.min_severity {
        findings.retain(|f| f.severity >= min);
    }
    // Muted findings are counted apart, shown only with --show-muted, never alerted.
    let judged_at = Utc::now();
    let mut reported = std::collections::HashSet::new();
    findings.retain(|finding| {
        let verdict = triage.judge(finding, judged_at);
        if verdict == crate::triage::Verdict::Report {
            reported.insert(finding.id.clone());
        }
        verdict.shown()
    });
    if live {
        for skipped in &mut parts.not_evaluated {
            skipped.reason = live_reason(&skipped.reason);
        }
    }

    let mut summary = RunSummary::new("audit");
    summary.started_at = Some(started_at);
    summary.inputs = vec![args.source.describe()];
    if live {
        summary
            .notes
            .push(format!("{} API answers collected", raw.files.len()));
    } else {
        summary.files = raw.files.len() as u64;
    }
    summary.errors = snapshot.problems.len() as u64;
    summary.rules = posture::CHECKS.len() as u64;
    for finding in findings.iter().filter(|f| reported.contains(&f.id)) {
        summary.count_finding(finding);
    }
    if !parts.not_evaluated.is_empty() {
        let why = if live {
            "their API calls failed or were not allowed"
        } else {
            "snapshot files missing"
        };
        summary.notes.push(format!(
            "{} check(s) not evaluated ({why})",
            parts.not_evaluated.len()
        ));
    }
    summary.duration_ms = started.elapsed().as_millis().min(u128::from(u64::MAX)) as u64;
    summary.finished_at = Some(Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true));
    triage.finish(&mut summary, false, Utc::now())?;

    let to_terminal =
        super::args::output_file(args.output.as_deref()).is_none() && ui::stdout_is_terminal();
    let options = OutputOptions {
        color: args.color.resolve(to_terminal),
        rules: trailguard_rules::registry::metas(),
        ..OutputOptions::default()
    };
    let mut buffer: Vec<u8> = Vec::new();
    {
        let mut writer = output::new_writer(args.format, Box::new(&mut buffer), &options);
        for finding in &findings {
            writer.write(finding).context("cannot write findings")?;
        }
        writer.finish(&summary).context("cannot write findings")?;
    }
    let audit_summary = AuditSummary {
        account: snapshot.account_id.clone(),
        now: parts.now.to_rfc3339_opts(SecondsFormat::Secs, true),
        source: args.source.describe(),
        overall_score: parts.overall,
        sections: parts.sections.clone(),
        checks_not_evaluated: parts.not_evaluated.clone(),
        snapshot_problems: snapshot.problems.clone(),
        findings: summary.findings.clone(),
    };
    if let Some(spec) = &args.store {
        // The dashboard's overview shows the latest stored audit's scores.
        let mut store = crate::store::open(spec)
            .with_context(|| format!("cannot open store `{}`", crate::store::display_name(spec)))?;
        crate::store::dashboard::save_audit(
            store.as_mut(),
            &Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
            &serde_json::to_value(&audit_summary)?,
        )
        .with_context(|| {
            format!(
                "cannot save the audit in store `{}`",
                crate::store::display_name(spec)
            )
        })?;
    }
    let scores = render_scores(&audit_summary);
    match args.format {
        Format::Text => buffer.extend_from_slice(scores.as_bytes()),
        Format::Json => {
            let line =
                serde_json::to_string(&serde_json::json!({ "audit_summary": &audit_summary }))?;
            buffer.extend_from_slice(line.as_bytes());
            buffer.push(b'\n');
        }
        Format::Ocsf | Format::Asff | Format::Sarif => {
            if !args.quiet {
                eprint!("{scores}");
            }
        }
    }
    super::args::write_report(args.output.as_deref(), &buffer)?;
    let failing = args.fail_on.failing(&summary);
    Ok(if failing > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The per-section score table printed after a text report.
pub fn render_scores(summary: &AuditSummary) -> String {
    let mut text = String::new();
    let overall = summary
        .overall_score
        .map_or("n/a".to_owned(), |s| format!("{s}/100"));
    let _ = writeln!(text, "\nPosture score: {overall}");
    for section in &summary.sections {
        let score = section
            .score
            .map_or("n/a".to_owned(), |s| format!("{s}/100"));
        let _ = writeln!(
            text,
            "  {:<24} {score:>7}  {} passed, {} failed, {} not evaluated, {} finding(s)",
            section.title,
            section.checks_passed,
            section.checks_failed,
            section.checks_not_evaluated,
            section.findings
        );
    }
    if !summary.checks_not_evaluated.is_empty() {
        let _ = writeln!(
            text,
            "Not evaluated ({}):",
            summary.checks_not_evaluated.len()
        );
        for skipped in &summary.checks_not_evaluated {
            let _ = writeln!(
                text,
                "  {} {}: {}",
                skipped.rule_id, skipped.title, skipped.reason
            );
        }
    }
    text
}

fn run_snapshot(args: SnapshotArgs) -> anyhow::Result<ExitCode> {
    if args.source.offline.is_some() {
        anyhow::bail!(
            "`audit snapshot` collects from a live account; `--offline` makes no sense here"
        );
    }
    let raw = load_raw(&args.source, args.quiet)?;
    report_problems(&raw.problems);
    let written = raw.write_dir(&args.out)?;
    if !args.quiet {
        eprintln!(
            "wrote {} file(s) to {}{}",
            written.len(),
            args.out.display(),
            if raw.problems.is_empty() {
                String::new()
            } else {
                format!(" ({} call(s) failed, see warnings)", raw.problems.len())
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn run_who_can(args: WhoCanArgs) -> anyhow::Result<ExitCode> {
    // A misspelled action would match no statement but `*`: the answer would list only the admins.
    trailguard_policy::catalog::Catalog::get()
        .check_action(&args.action)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let Some(snapshot) = snapshot_with_details(&args.source, args.quiet, "who-can")? else {
        return Ok(ExitCode::from(2));
    };
    let Some(details) = &snapshot.authorization else {
        return Ok(ExitCode::from(2));
    };
    let principals = effective_principals(details);
    let report = trailguard_account::who_can(&principals, &args.action, args.resource.as_deref());
    let text = match args.format {
        Format::Json => serde_json::to_string_pretty(&report)? + "\n",
        Format::Text => render_who_can(&report),
        other => anyhow::bail!("who-can prints text or json, not {other}"),
    };
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .context("cannot write the answer")?;
    Ok(ExitCode::SUCCESS)
}

/// The who-can answer as a table.
pub fn render_who_can(report: &WhoCanReport) -> String {
    let mut text = String::new();
    let on = report
        .resource
        .as_deref()
        .map_or("any resource".to_owned(), |r| format!("`{r}`"));
    let _ = writeln!(
        text,
        "Who can {} on {on}: {} of {} principal(s)",
        report.action,
        report.entries.len(),
        report.principals_checked
    );
    let width = report
        .entries
        .iter()
        .map(|e| e.name.len())
        .max()
        .unwrap_or(0);
    for entry in &report.entries {
        let access = match &entry.access {
            trailguard_account::Access::Allowed => "allowed".to_owned(),
            trailguard_account::Access::Conditional { keys, conditions } => {
                let shown = if conditions.is_empty() {
                    keys
                } else {
                    conditions
                };
                format!("only if {}", shown.join(" and "))
            }
        };
        let mut line = format!(
            "  {:<4} {:<width$}  {access}",
            entry.kind.as_str(),
            entry.name
        );
        if let Some(via) = &entry.via {
            let _ = write!(line, " via {via}");
        }
        if entry.resource != "*" {
            let _ = write!(line, " (on {})", entry.resource);
        }
        let _ = writeln!(text, "{line}");
    }
    if !report.incomplete.is_empty() {
        let _ = writeln!(text, "May be incomplete ({}):", report.incomplete.len());
        for line in &report.incomplete {
            let _ = writeln!(text, "  {line}");
        }
    }
    text
}
