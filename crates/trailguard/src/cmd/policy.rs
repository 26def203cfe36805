//! `trailguard policy`: check IAM policy documents (`check`), show the effective permission delta
//! between two versions (`diff`), list the actions a pattern names (`expand`), and decide one request
//! against a set of policies (`simulate`), and write the least-privilege policy a principal's CloudTrail
//! usage calls for (`generate`, built on `trailguard_account::usage`).
//!
//! Exit codes: 0 nothing at or above `--fail-on`, 1 findings at or above it (for `diff`: the new
//! version adds risk and `--fail-on-risk` was given), 2 nothing could be read.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use chrono::{SecondsFormat, Utc};
use trailguard_policy::catalog::Catalog;
use trailguard_policy::diff::{diff, Permission, PolicyDiff};
use trailguard_policy::eval::{evaluate, Decision, PolicySet, Request};
use trailguard_policy::input::extract_policies;
use trailguard_policy::PolicyDocument;
use trailguard_rules::meta::resolve_codes;
use trailguard_rules::output::{self, Format, OutputOptions, RunSummary};

use super::args::{parse_fail_on, parse_format, FailOn};
use trailguard_rules::rules::policy::{check_text, VersionSelection};
use trailguard_rules::Severity;

use crate::ui::{self, ColorChoice};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  trailguard policy check policy.json
  trailguard policy check policies/ --format sarif --output trailguard.sarif --fail-on high
  aws iam get-account-authorization-details > auth.json && trailguard policy check auth.json
  trailguard policy diff v1.json v2.json
  trailguard policy expand 'iam:Create*'
  trailguard policy simulate --action iam:CreateUser --context aws:MultiFactorAuthPresent=true policy.json
  trailguard policy generate --from logs/ --principal arn:aws:iam::111122223333:role/app > app.json
  trailguard policy generate --from logs/ --principal arn:aws:iam::111122223333:role/app --per-session --out-dir policies/")]
pub struct PolicyArgs {
    #[command(subcommand)]
    pub command: PolicyCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// Lint and analyse policy documents: errors, security warnings, privilege escalation, MFA, suggestions.
    Check(CheckArgs),
    /// Effective permission delta between two versions of a policy, with the risks it adds.
    Diff(DiffArgs),
    /// List the actions an action pattern matches (case-insensitive wildcards).
    Expand(ExpandArgs),
    /// Decide one request against identity policies, a permissions boundary and SCPs.
    Simulate(SimulateArgs),
    /// The least-privilege policy for a principal, from the calls it made successfully in CloudTrail logs.
    Generate(GenerateArgs),
}

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// CloudTrail log files or directories (as for `scan`), or `-` for stdin.
    #[arg(long = "from", required = true, value_name = "LOGS")]
    pub from: Vec<PathBuf>,
    /// The user's or role's ARN (a role's sessions all count for the role).
    #[arg(long, value_name = "ARN")]
    pub principal: String,
    /// Keep events at or after this time: RFC 3339, a date, or an age such as `90d`.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Keep events before this time (same forms as --since).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// One policy per role session name. On stdout (the default): one JSON object of session name →
    /// policy; with --out-dir, one file per session.
    #[arg(long = "per-session")]
    pub per_session: bool,
    /// Write the policy to `DIR/<principal name>.json` (with --per-session, each session's to
    /// `DIR/<session name>.json`) instead of stdout, and name each file written on stderr. DIR is created
    /// if needed. A session name IAM would not accept (`[A-Za-z0-9_+=,.@-]`, 2-64 characters) or that
    /// starts with `.` is refused with a warning, never used as a path.
    #[arg(long = "out-dir", value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// With --out-dir: replace files that exist. Without it, an existing file stops the run before
    /// anything is written.
    #[arg(long, requires = "out_dir")]
    pub force: bool,
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Policy files or directories (`.json` files inside), or `-` for stdin. Each may be a policy, a
    /// URL-encoded policy, `aws iam get-policy-version` output or `get-account-authorization-details` output.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Output format: text, json (one finding per line), sarif, ocsf or asff.
    #[arg(long, default_value = "text", value_parser = parse_format)]
    pub format: Format,

    /// Exit 1 when a finding is at or above this severity (`never` to always exit 0).
    #[arg(long = "fail-on", default_value = "high", value_name = "SEVERITY", value_parser = parse_fail_on)]
    pub fail_on: FailOn,

    /// Report only findings at or above this severity.
    #[arg(long = "min-severity", value_name = "SEVERITY")]
    pub min_severity: Option<Severity>,

    /// Only these checks (codes or names, repeatable or comma-separated, e.g. `PC010,privilege-escalation`; `--select` also works).
    #[arg(
        long = "rule",
        alias = "select",
        value_delimiter = ',',
        value_name = "CODE"
    )]
    pub select: Vec<String>,

    /// Skip these checks (comma-separated codes or names).
    #[arg(long, value_delimiter = ',', value_name = "CODES")]
    pub ignore: Vec<String>,

    /// Check every version of managed policies in saved API output, not only the default one.
    #[arg(long = "all-versions")]
    pub all_versions: bool,

    /// Write the report here instead of stdout; `-` is stdout.
    #[arg(long, short = 'o', value_name = "PATH")]
    pub output: Option<PathBuf>,

    /// No summary on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// Colour in the text report.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// The store that holds mutes and the alert outbox (a SQLite file or a postgres:// URL; default
    /// .trailguard/trailguard.db). The findings are not saved in it.
    #[arg(long, value_name = "PATH|URL", help_heading = "Alerts and mutes")]
    pub store: Option<String>,

    #[command(flatten)]
    pub triage: crate::triage::TriageArgs,

    // For `--alert sns=...`: the credentials, region and endpoint SNS is called with (the topic's
    // region unless --region). The check itself calls no AWS API.
    #[command(flatten)]
    pub aws: crate::cmd::args::AwsArgs,
}

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The old version (a policy or `get-policy-version` output).
    pub old: PathBuf,
    /// The new version.
    pub new: PathBuf,
    /// text or json.
    #[arg(long, default_value = "text")]
    pub format: DiffFormat,
    /// Exit 1 when the new version adds a risk (admin, privilege escalation, exposure, ...).
    #[arg(long = "fail-on-risk")]
    pub fail_on_risk: bool,
    /// Colour in the text report.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffFormat {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct ExpandArgs {
    /// Action patterns, e.g. `iam:Create*`, `s3:*Object*`, `*`.
    #[arg(required = true)]
    pub patterns: Vec<String>,
    /// text or json.
    #[arg(long, default_value = "text")]
    pub format: DiffFormat,
}

#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// Identity policies of the caller.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The action, e.g. `iam:CreateUser`.
    #[arg(long)]
    pub action: String,
    /// The resource ARN (default `*`).
    #[arg(long, default_value = "*")]
    pub resource: String,
    /// The caller's ARN (for resource policies and `Principal`).
    #[arg(long)]
    pub principal: Option<String>,
    /// Request context, `key=value` (repeat the key for several values).
    #[arg(long = "context", value_name = "KEY=VALUE")]
    pub context: Vec<String>,
    /// Treat condition keys missing from `--context` as unknown (answer "allowed only if ...").
    #[arg(long = "unknown-missing")]
    pub unknown_missing: bool,
    /// A permissions boundary.
    #[arg(long, value_name = "FILE")]
    pub boundary: Option<PathBuf>,
    /// SCPs, one per organization level (root first).
    #[arg(long, value_name = "FILE")]
    pub scp: Vec<PathBuf>,
    /// Resource-based policies of the target.
    #[arg(long = "resource-policy", value_name = "FILE")]
    pub resource_policy: Vec<PathBuf>,
}

pub fn run(args: PolicyArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        PolicyCommand::Check(args) => run_check(args),
        PolicyCommand::Diff(args) => run_diff(args),
        PolicyCommand::Expand(args) => run_expand(args),
        PolicyCommand::Simulate(args) => run_simulate(args),
        PolicyCommand::Generate(args) => run_generate(args),
    }
}

/// Files named on the command line, with directories expanded to the `.json` files inside (sorted).
fn collect_inputs(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found = Vec::new();
            walk_json(path, &mut found);
            found.sort();
            out.extend(found);
        } else {
            out.push(path.clone());
        }
    }
    out
}

fn walk_json(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk_json(&path, out);
        } else if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        {
            out.push(path);
        }
    }
}

fn read_input(path: &Path) -> anyhow::Result<String> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read stdin")?;
        return Ok(text);
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    String::from_utf8(bytes).with_context(|| format!("`{}` is not UTF-8 text", path.display()))
}

fn run_check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let mut summary = RunSummary::new("policy check");
    summary.started_at = Some(Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true));
    summary.inputs = args.files.iter().map(|p| p.display().to_string()).collect();
    summary.rules =
        trailguard_rules::registry::family_metas(trailguard_rules::Family::Policy).len() as u64;
    let versions = if args.all_versions {
        VersionSelection::All
    } else {
        VersionSelection::DefaultOnly
    };
    // Unknown codes are usage errors: a CI gate with a typo must fail, not silently check nothing.
    let metas = trailguard_rules::registry::family_metas(trailguard_rules::Family::Policy);
    let select = resolve_codes(&metas, &args.select).map_err(|e| {
        anyhow::anyhow!("--select: {e}: `trailguard rules --family policy` lists them")
    })?;
    let ignore = resolve_codes(&metas, &args.ignore).map_err(|e| {
        anyhow::anyhow!("--ignore: {e}: `trailguard rules --family policy` lists them")
    })?;

    // Mutes and alerts as in `scan` (SNS destinations are reached with the AWS flags).
    let mut triage = crate::triage::Triage::start(
        &args.triage,
        args.store.as_deref(),
        args.aws.target(),
        Utc::now(),
    )?;
    let mut findings = Vec::new();
    let mut policies = 0usize;
    let mut parse_errors = 0usize;
    for path in collect_inputs(&args.files) {
        summary.files += 1;
        let text = match read_input(&path) {
            Ok(text) => text,
            Err(err) => {
                eprintln!("error: {err:#}");
                summary.files_failed += 1;
                summary.errors += 1;
                continue;
            }
        };
        let label = if path.as_os_str() == "-" {
            "<stdin>".to_owned()
        } else {
            path.display().to_string()
        };
        if text.trim().is_empty() {
            eprintln!("error: {label}: empty input, no policy to check");
            summary.files_failed += 1;
            summary.errors += 1;
            continue;
        }
        let report = check_text(&label, &text, versions);
        policies += report.policies;
        parse_errors += report.parse_errors;
        // Malformed policies are input errors: always said on stderr, whatever the filters.
        for f in report.findings.iter().filter(|f| f.rule_id == "PC001") {
            let at = f
                .location
                .as_ref()
                .map(|l| {
                    format!(
                        "{}:{}:{}",
                        l.file,
                        l.line.unwrap_or(1),
                        l.column.unwrap_or(1)
                    )
                })
                .unwrap_or_else(|| label.clone());
            eprintln!("error: {at}: {}", f.message);
        }
        if report.parse_errors > 0 {
            summary.errors += report.parse_errors as u64;
            *summary
                .skipped
                .entry("malformed policy".to_owned())
                .or_default() += report.parse_errors as u64;
        }
        findings.extend(report.findings.into_iter().filter(|f| {
            (select.is_empty() || select.contains(&f.rule_id.as_str()))
                && !ignore.contains(&f.rule_id.as_str())
                && args.min_severity.is_none_or(|min| f.severity >= min)
        }));
    }
    summary.notes.push(format!(
        "{policies} policies checked, {parse_errors} could not be parsed"
    ));

    // Nothing read at all: the errors above are the answer, not an empty report that reads as a pass.
    if policies == 0 {
        if summary.files_failed == 0 {
            eprintln!("error: no policy found in the inputs");
        }
        return Ok(ExitCode::from(2));
    }
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
        let judged_at = Utc::now();
        for f in &findings {
            let verdict = triage.judge(f, judged_at);
            if verdict == crate::triage::Verdict::Report {
                summary.count_finding(f);
            }
            if verdict.shown() {
                writer.write(f)?;
            }
        }
        summary.duration_ms = started.elapsed().as_millis() as u64;
        summary.finished_at = Some(Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true));
        triage.finish(&mut summary, false, Utc::now())?;
        writer.finish(&summary)?;
    }
    super::args::write_report(args.output.as_deref(), &buffer)?;
    if !args.quiet && !args.format.is_human() {
        let color = args.color.resolve(ui::stderr_is_terminal());
        eprint!("{}", output::text::render_summary(&summary, color));
    }
    // Nothing could be read: no file, or every policy found was malformed.
    if policies == 0
        || parse_errors == policies
        || (summary.files_failed == summary.files && summary.files > 0)
    {
        return Ok(ExitCode::from(2));
    }
    let failing = args.fail_on.failing(&summary) > 0;
    Ok(if failing {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Reads the first policy of a file (a policy, `get-policy-version` output, ...).
fn load_document(path: &Path) -> anyhow::Result<PolicyDocument> {
    let text = read_input(path)?;
    let file = extract_policies(&text);
    let policy = file
        .policies
        .iter()
        .find(|p| p.is_default_version)
        .or(file.policies.first())
        .with_context(|| format!("no policy found in `{}`", path.display()))?;
    policy.parse().with_context(|| {
        format!(
            "`{}` ({}) is not a valid policy",
            path.display(),
            policy.name
        )
    })
}

fn run_diff(args: DiffArgs) -> anyhow::Result<ExitCode> {
    let old = load_document(&args.old)?;
    let new = load_document(&args.new)?;
    let delta = diff(&old, &new);
    let text = match args.format {
        DiffFormat::Json => serde_json::to_string_pretty(&delta)? + "\n",
        DiffFormat::Text => render_diff(&delta, args.color.resolve(ui::stdout_is_terminal())),
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .context("cannot write to stdout")?;
    Ok(if args.fail_on_risk && !delta.new_risks.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The readable diff: added and removed actions per resource, then the risks added.
pub fn render_diff(delta: &PolicyDiff, color: bool) -> String {
    use owo_colors::OwoColorize;
    let paint = |s: String, f: fn(&String) -> String| if color { f(&s) } else { s };
    let mut out = String::new();
    if delta.is_empty() {
        out.push_str("No effective change in permissions.\n");
        return out;
    }
    out.push_str(&format!(
        "{} action(s) newly allowed, {} no longer allowed.\n",
        delta.added_action_count, delta.removed_action_count
    ));
    for (sign, changes, paint_fn) in [
        (
            "+",
            &delta.added,
            (|s: &String| s.green().to_string()) as fn(&String) -> String,
        ),
        (
            "-",
            &delta.removed,
            (|s: &String| s.red().to_string()) as fn(&String) -> String,
        ),
    ] {
        for change in changes {
            let cond = match (change.from, change.to) {
                (Permission::Denied, Permission::Conditional) => " (with conditions)",
                (Permission::Conditional, Permission::Denied) => " (was with conditions)",
                (Permission::Conditional, Permission::Allowed) => " (conditions no longer needed)",
                (Permission::Allowed, Permission::Conditional) => " (now only with conditions)",
                _ => "",
            };
            out.push_str(&format!(
                "\n{} on {}{cond}: {} action(s)\n",
                sign, change.resource, change.action_count
            ));
            let shown = change.actions.iter().take(40);
            for action in shown {
                out.push_str(&paint(format!("  {sign} {action}"), paint_fn));
                out.push('\n');
            }
            if change.actions.len() > 40 {
                out.push_str(&format!(
                    "  ... and {} more (use --format json)\n",
                    change.actions.len() - 40
                ));
            }
        }
    }
    let r = &delta.new_risks;
    if r.is_empty() {
        out.push_str("\nNo new risk categories.\n");
    } else {
        out.push_str("\nRisks added by the new version:\n");
        if r.became_admin {
            out.push_str("  - full administrator access\n");
        }
        let mut line = |label: &str, items: &[String]| {
            if !items.is_empty() {
                let shown: Vec<&str> = items.iter().take(8).map(String::as_str).collect();
                let more = if items.len() > 8 {
                    format!(" and {} more", items.len() - 8)
                } else {
                    String::new()
                };
                out.push_str(&format!("  - {label}: {}{more}\n", shown.join(", ")));
            }
        };
        line("privilege escalation", &r.privilege_escalation);
        line("resource exposure", &r.resource_exposure);
        line("credentials exposure", &r.credentials_exposure);
        line("data exfiltration", &r.data_exfiltration);
        line("sensitive service wildcards", &r.sensitive_wildcards);
        if r.passrole_star {
            out.push_str("  - iam:PassRole on every role\n");
        }
        if r.allow_not_action {
            out.push_str("  - Allow with NotAction\n");
        }
        if r.infrastructure_modification > 0 {
            out.push_str(&format!(
                "  - {} more write action(s) on every resource\n",
                r.infrastructure_modification
            ));
        }
    }
    if delta.lost_admin {
        out.push_str("\nThe new version is no longer full administrator access.\n");
    }
    out
}

fn run_expand(args: ExpandArgs) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::get();
    // A pattern that names nothing is a usage error with the closest real spelling, not an empty list.
    for pattern in &args.patterns {
        catalog
            .check_action(pattern)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let mut result: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    let mut text = String::new();
    let mut any = false;
    for pattern in &args.patterns {
        let ids = catalog.expand(pattern);
        any |= !ids.is_empty();
        text.push_str(&format!("{pattern}: {} action(s)\n", ids.len()));
        let mut rows = Vec::new();
        for id in ids {
            let action = catalog.action(id);
            let levels: Vec<&str> = action.levels().iter().map(|l| l.as_str()).collect();
            let name = catalog.full_name(id);
            text.push_str(&format!(
                "  {name:<60} {}{}\n",
                levels.join(", "),
                if action.deprecated {
                    " (deprecated)"
                } else {
                    ""
                }
            ));
            rows.push(serde_json::json!({"action": name, "access_levels": levels, "deprecated": action.deprecated}));
        }
        result.insert(pattern.clone(), rows);
    }
    let out_text = match args.format {
        DiffFormat::Json => serde_json::to_string_pretty(&result)? + "\n",
        DiffFormat::Text => text,
    };
    std::io::stdout().lock().write_all(out_text.as_bytes())?;
    Ok(if any {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn run_simulate(args: SimulateArgs) -> anyhow::Result<ExitCode> {
    // A misspelled action matches no statement but `*`: refuse it before deciding anything.
    Catalog::get()
        .check_action(&args.action)
        .map_err(|e| anyhow::anyhow!("--action: {e}"))?;
    let identity: Vec<PolicyDocument> = args
        .files
        .iter()
        .map(|p| load_document(p))
        .collect::<anyhow::Result<_>>()?;
    let boundary = args.boundary.as_deref().map(load_document).transpose()?;
    let scps: Vec<PolicyDocument> = args
        .scp
        .iter()
        .map(|p| load_document(p))
        .collect::<anyhow::Result<_>>()?;
    let resource: Vec<PolicyDocument> = args
        .resource_policy
        .iter()
        .map(|p| load_document(p))
        .collect::<anyhow::Result<_>>()?;
    let mut request = Request::new(&args.action, &args.resource);
    if let Some(principal) = &args.principal {
        request = request.with_principal(principal);
    }
    for pair in &args.context {
        let (key, value) = pair
            .split_once('=')
            .with_context(|| format!("`--context {pair}`: expected KEY=VALUE"))?;
        request
            .context
            .entry(key.trim().to_ascii_lowercase())
            .or_default()
            .push(value.to_owned());
    }
    if args.unknown_missing {
        request = request.treat_missing_as_unknown();
    }
    let set = PolicySet {
        identity: identity.iter().collect(),
        resource: resource.iter().collect(),
        boundary: boundary.as_ref(),
        scps: scps.iter().map(|s| vec![s]).collect(),
    };
    let decision = evaluate(&set, &request);
    let line = match &decision {
        Decision::Allow { by } => format!(
            "ALLOW ({:?} policy #{}, Statement[{}])",
            by.layer,
            by.policy + 1,
            by.statement
        ),
        Decision::ExplicitDeny { by } => format!(
            "DENY, explicit ({:?} policy #{}, Statement[{}])",
            by.layer,
            by.policy + 1,
            by.statement
        ),
        Decision::ImplicitDeny { missing } => {
            format!("DENY, implicit (no Allow in the {missing:?} policies)")
        }
        Decision::Conditional { conditions, .. } => {
            format!("ALLOWED ONLY DEPENDING ON {}", conditions.join(" and "))
        }
    };
    println!("decision: {} on {}: {line}", args.action, args.resource);
    Ok(if decision.is_allowed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// IAM's limit on a managed policy document, whitespace excluded.
const MANAGED_POLICY_LIMIT: usize = 6144;

/// Prints the generated policy on stdout, or writes it under `--out-dir` (ready for `aws iam
/// create-policy-version --policy-document file://...`); the window, the denied requests, the events that
/// map to no permission and the files written go to stderr.
fn run_generate(args: GenerateArgs) -> anyhow::Result<ExitCode> {
    use trailguard_account::usage::{collect, generate_policy, window_days};
    use trailguard_event::{CollectErrors, Filter, ScanOptions};

    let now = Utc::now();
    let bound = |text: &Option<String>, flag: &str| {
        text.as_deref()
            .map(|t| super::scan::parse_time_bound(t, now))
            .transpose()
            .with_context(|| flag.to_string())
    };
    let filter = Filter {
        since: bound(&args.since, "--since")?,
        until: bound(&args.until, "--until")?,
        ..Filter::default()
    };
    let opts = ScanOptions {
        inputs: args.from.clone(),
        filter,
        threads: 0,
    };
    // What the run writes to is checked before the pass over the logs.
    if let Some(dir) = &args.out_dir {
        std::fs::create_dir_all(dir).with_context(|| {
            format!(
                "cannot create the output directory `{}`",
                output::visible(&dir.display().to_string())
            )
        })?;
    }
    let errors = CollectErrors::default();
    let (usage, _stats) = collect(&opts, args.per_session, &errors)?;
    let mut err = std::io::stderr().lock();
    for problem in errors.take() {
        writeln!(err, "warning: {problem}")?;
    }
    let catalog = Catalog::get();
    let matches: Vec<_> = usage.for_arn(&args.principal).collect();
    if matches.is_empty() {
        let seen: Vec<String> = usage
            .principals
            .keys()
            .map(|k| output::visible(&k.arn).into_owned())
            .take(20)
            .collect();
        anyhow::bail!(
            "no calls by `{}` in these logs; principals seen: {}",
            output::visible(&args.principal),
            if seen.is_empty() {
                "none".to_string()
            } else {
                seen.join(", ")
            }
        );
    }
    let days = window_days(usage.window);
    if let Some((from, to)) = usage.window {
        writeln!(
            err,
            "window: the {days} days these logs cover ({} to {})",
            from.to_rfc3339_opts(SecondsFormat::Secs, true),
            to.to_rfc3339_opts(SecondsFormat::Secs, true)
        )?;
    }
    // (session name when split, policy), in session order.
    let mut policies: Vec<(Option<&str>, serde_json::Value)> = Vec::new();
    for (key, used) in &matches {
        let generated = generate_policy(used, catalog);
        let calls: u64 = used.allowed.values().sum();
        let label = key
            .session
            .as_deref()
            .map(|s| format!(" session {}", output::visible(s)))
            .unwrap_or_default();
        writeln!(
            err,
            "{}{label}: {} permission(s) from {calls} successful call(s)",
            output::visible(&key.arn),
            used.allowed.len()
        )?;
        if !generated.denied.is_empty() {
            writeln!(err, "asked for, denied (not in the policy):")?;
            for line in &generated.denied {
                writeln!(err, "  {}", output::visible(line))?;
            }
        }
        let size = serde_json::to_string(&generated.document)?.chars().count();
        if size > MANAGED_POLICY_LIMIT {
            writeln!(
                err,
                "note: {size} characters without whitespace, over IAM's {MANAGED_POLICY_LIMIT} for a managed policy: split it by service"
            )?;
        }
        policies.push((key.session.as_deref(), generated.document));
    }
    match &args.out_dir {
        Some(dir) => write_policy_files(dir, &args.principal, policies, args.force, &mut err)?,
        None => {
            let mut out = std::io::stdout().lock();
            if args.per_session {
                let sessions: serde_json::Map<String, serde_json::Value> = policies
                    .into_iter()
                    .map(|(session, document)| (session.unwrap_or_default().to_owned(), document))
                    .collect();
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&serde_json::Value::Object(sessions))?
                )?;
            } else {
                for (_, document) in policies {
                    writeln!(out, "{}", serde_json::to_string_pretty(&document)?)?;
                }
            }
        }
    }
    if !usage.unmapped.is_empty() {
        writeln!(
            err,
            "events that map to no IAM permission (all principals):"
        )?;
        for ((source, name), event) in &usage.unmapped {
            writeln!(
                err,
                "  {} {} ({}x): {}",
                output::visible(source),
                output::visible(name),
                event.count,
                event.reason
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// IAM's longest role session name; longer names come from no real session.
const SESSION_NAME_MAX: usize = 64;

/// Why `name` cannot be a file name under `--out-dir`, if it cannot. Session names come from records, so
/// anything may arrive: only what IAM itself accepts for a session name (`[\w+=,.@-]`, ASCII, at most 64
/// characters, at least `min_len`) is used, and never a leading `.` (a hidden file, or `..`).
fn file_stem_problem(name: &str, min_len: usize) -> Option<String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
    if name.is_empty() {
        Some("it is empty".to_owned())
    } else if let Some(c) = name.chars().find(|c| !allowed(*c)) {
        Some(format!(
            "it holds `{}`, outside IAM's [A-Za-z0-9_+=,.@-]",
            c.escape_default()
        ))
    } else if name.len() > SESSION_NAME_MAX {
        Some(format!("it is over {SESSION_NAME_MAX} characters"))
    } else if name.len() < min_len {
        Some(format!("it is under {min_len} characters"))
    } else if name.starts_with('.') {
        Some("it starts with `.`".to_owned())
    } else {
        None
    }
}

/// The last part of a user's or role's ARN: `arn:aws:iam::1:role/path/app` → `app`.
fn principal_name(arn: &str) -> &str {
    arn.rsplit(['/', ':']).next().unwrap_or(arn)
}

/// Writes each policy to `dir/<name>.json`: the session name, or the principal's name for the whole
/// principal (and for calls without a session, a user's). A name that cannot be a file name, or that
/// would share a file with an earlier one (case-insensitive file systems included), is refused with a
/// warning. Existing files stop the run before anything is written, unless `force`.
fn write_policy_files(
    dir: &Path,
    principal: &str,
    policies: Vec<(Option<&str>, serde_json::Value)>,
    force: bool,
    err: &mut impl Write,
) -> anyhow::Result<()> {
    let own_name = principal_name(principal);
    let mut planned: Vec<(PathBuf, String, serde_json::Value)> = Vec::new();
    // Lower-cased file stem → the session that took it.
    let mut taken: BTreeMap<String, String> = BTreeMap::new();
    for (session, document) in policies {
        let (stem, what, problem) = match session.filter(|s| !s.is_empty()) {
            Some(session) => (
                session,
                format!("session `{}`", output::visible(session)),
                file_stem_problem(session, 2),
            ),
            None => (
                own_name,
                format!("`{}`", output::visible(principal)),
                file_stem_problem(own_name, 1),
            ),
        };
        if let Some(problem) = problem {
            writeln!(err, "warning: {what} not written: {problem}")?;
            continue;
        }
        if let Some(owner) = taken.get(&stem.to_ascii_lowercase()) {
            writeln!(
                err,
                "warning: {what} not written: `{stem}.json` would be the file of {owner} (file names may ignore case)"
            )?;
            continue;
        }
        taken.insert(stem.to_ascii_lowercase(), what.clone());
        planned.push((dir.join(format!("{stem}.json")), what, document));
    }
    if planned.is_empty() {
        anyhow::bail!("no policy written: every name was refused (see the warnings above)");
    }
    if !force {
        let existing: Vec<String> = planned
            .iter()
            .filter(|(path, _, _)| path.symlink_metadata().is_ok())
            .map(|(path, _, _)| format!("`{}`", output::visible(&path.display().to_string())))
            .collect();
        if !existing.is_empty() {
            anyhow::bail!(
                "{} already exist(s); nothing written (--force replaces them)",
                existing.join(", ")
            );
        }
    }
    for (path, what, document) in planned {
        let shown = output::visible(&path.display().to_string()).into_owned();
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            // Without --force, a file that appeared since the check is still never replaced.
            .create_new(!force)
            .open(&path)
            .with_context(|| format!("cannot write `{shown}`"))?;
        writeln!(file, "{}", serde_json::to_string_pretty(&document)?)
            .with_context(|| format!("cannot write `{shown}`"))?;
        writeln!(err, "wrote {shown} ({what})")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_iam_would_accept_become_file_names() {
        for good in ["alice", "ci@example.com", "i-0abc,x=y+z_", &"a".repeat(64)] {
            assert_eq!(file_stem_problem(good, 2), None, "{good}");
        }
        assert_eq!(
            file_stem_problem("a", 1),
            None,
            "a principal name may be short"
        );
        for (bad, why) in [
            ("", "empty"),
            ("../x", "`/`"),
            ("..", "starts with `.`"),
            (".hidden", "starts with `.`"),
            ("a", "under 2"),
            ("a\\b", "`\\\\`"),
            ("line\nbreak", "`\\n`"),
            ("caf\u{e9}", "`\\u{e9}`"),
        ] {
            let problem = file_stem_problem(bad, 2).unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert!(problem.contains(why), "{bad:?}: {problem}");
        }
        let long = "a".repeat(65);
        assert!(file_stem_problem(&long, 2).unwrap().contains("over 64"));
    }

    #[test]
    fn the_principal_name_is_the_last_part_of_its_arn() {
        assert_eq!(
            principal_name("arn:aws:iam::111122223333:role/path/app"),
            "app"
        );
        assert_eq!(principal_name("arn:aws:iam::111122223333:root"), "root");
    }
}
