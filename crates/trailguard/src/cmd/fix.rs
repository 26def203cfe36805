//! `trailguard fix`: plan, apply, resume and undo fixes for findings.
//!
//! `fix --from FINDINGS.json` (or `fix FINDING_ID... --from ...`; `--from -` reads stdin) prints a plan
//! and changes nothing; `--apply` carries it out (asking first on a terminal unless `--yes`), journaling
//! every call; `fix undo CHANGE_ID`, `fix resume` and `fix journal` work from that journal, which lives in
//! the per-user state directory unless `--journal PATH` says otherwise.
//!
//! Before the first read of live state, the caller's account (`sts:GetCallerIdentity`) must be the
//! account of every finding to fix, or mapped to it with `--account-map FROM=TO`; `undo` and `resume`
//! check it against the account the change was made in.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use trailguard_rules::Finding;

use crate::fix::apply::{self, Interrupt, RunEnd, StepResult};
use crate::fix::aws::{Aws, AwsTarget};
use crate::fix::journal::{self, ChangeStatus, Journal};
use crate::fix::plan::{self, PlanOptions};
use crate::fix::render;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct FixArgs {
    #[command(subcommand)]
    command: Option<FixCommand>,
    #[command(flatten)]
    plan: PlanArgs,
}

#[derive(Debug, Subcommand)]
enum FixCommand {
    /// Undo an applied change, from the prior state saved in the journal.
    Undo {
        /// The change id printed by `fix --apply` (see `fix journal`).
        change_id: String,
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        journal: JournalArg,
        /// Do not ask for confirmation.
        #[arg(long, short)]
        yes: bool,
    },
    /// Finish the changes an interrupted or failed apply left unfinished.
    Resume {
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        journal: JournalArg,
        /// S3 bucket for a trail that still needs creating.
        #[arg(long)]
        trail_bucket: Option<String>,
        #[arg(long, short)]
        yes: bool,
    },
    /// List the changes in the journal.
    Journal {
        #[command(flatten)]
        journal: JournalArg,
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
        /// Also list every call made for each change, in order.
        #[arg(long)]
        calls: bool,
    },
}

#[derive(Debug, Args)]
struct PlanArgs {
    /// Finding ids to fix (prefixes work); every fixable finding when none are given.
    finding_ids: Vec<String>,
    /// Findings file: the JSON-lines output of `trailguard scan --format json` or `audit --format json`
    /// (`-` reads stdin).
    #[arg(long = "from", value_name = "FINDINGS.json")]
    from: Vec<PathBuf>,
    /// Findings from account FROM may be fixed with credentials for account TO (repeatable; FROM `*`
    /// means any account, including findings that name none). Without it, every finding's account must
    /// be the caller's.
    #[arg(long, value_name = "FROM=TO", value_parser = parse_account_mapping)]
    account_map: Vec<AccountMapping>,
    /// Findings store written by `scan --store` (read when no --from is given): a SQLite file or a
    /// postgres:// URL.
    #[arg(long, value_name = "PATH|URL", default_value = DEFAULT_STORE)]
    store: String,
    /// How to show the plan.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    format: PlanFormat,
    /// Carry the plan out. Without it nothing changes.
    #[arg(long)]
    apply: bool,
    /// Do not ask for confirmation before applying.
    #[arg(long, short)]
    yes: bool,
    /// Plan without reading the account's current state (no AWS calls at all; cannot be applied).
    #[arg(long, conflicts_with = "apply")]
    offline: bool,
    /// S3 bucket for a new multi-region trail (it needs a CloudTrail bucket policy).
    #[arg(long)]
    trail_bucket: Option<String>,
    #[command(flatten)]
    target: TargetArgs,
    #[command(flatten)]
    journal: JournalArg,
    /// Testing aid: stop after this many API calls, leaving the change pending as a crash would.
    #[arg(long, hide = true)]
    interrupt_after_calls: Option<usize>,
}

#[derive(Debug, Args)]
struct TargetArgs {
    /// AWS profile (default: the usual credential chain).
    #[arg(long)]
    profile: Option<String>,
    /// AWS region (IAM is global; used for signing and CloudTrail).
    #[arg(long)]
    region: Option<String>,
    /// Send API calls to this endpoint (e.g. a local moto server).
    #[arg(long)]
    endpoint_url: Option<String>,
}

impl TargetArgs {
    fn connect(&self) -> anyhow::Result<Aws> {
        Aws::connect(&AwsTarget {
            profile: self.profile.clone(),
            region: self.region.clone(),
            endpoint_url: self.endpoint_url.clone(),
        })
    }
}

#[derive(Debug, Args)]
struct JournalArg {
    /// The change journal (SQLite) [default: $XDG_STATE_HOME/trailguard/journal.db, else
    /// ~/.local/state/trailguard/journal.db].
    #[arg(long = "journal", value_name = "PATH")]
    path: Option<PathBuf>,
}

impl JournalArg {
    fn path(&self) -> anyhow::Result<PathBuf> {
        match &self.path {
            Some(path) => Ok(path.clone()),
            None => journal::default_path().context(
                "no place for the journal: neither XDG_STATE_HOME nor HOME is set; pass --journal PATH",
            ),
        }
    }
}

/// `--account-map FROM=TO`.
#[derive(Debug, Clone)]
struct AccountMapping {
    /// A 12-digit account id, or `*` for any.
    from: String,
    to: String,
}

fn parse_account_mapping(text: &str) -> Result<AccountMapping, String> {
    let is_account = |s: &str| s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit());
    let (from, to) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not FROM=TO (e.g. 111122223333=444455556666)"))?;
    if !(is_account(from) || from == "*") || !is_account(to) {
        return Err(format!(
            "`{text}`: FROM must be a 12-digit account id or `*`, TO a 12-digit account id"
        ));
    }
    Ok(AccountMapping {
        from: from.to_owned(),
        to: to.to_owned(),
    })
}

/// Refuses unless every finding with an automatic fix belongs to the caller's account, directly or
/// through `--account-map`. Nothing but `sts:GetCallerIdentity` has been called at this point.
fn check_accounts(
    findings: &[Finding],
    caller: &str,
    map: &[AccountMapping],
) -> anyhow::Result<()> {
    use trailguard_rules::remediation::FixAction;
    let allowed = |account: Option<&str>| {
        account == Some(caller)
            || map
                .iter()
                .any(|m| m.to == caller && (m.from == "*" || Some(m.from.as_str()) == account))
    };
    let mut refused: BTreeMap<Option<&str>, Vec<&str>> = BTreeMap::new();
    for finding in findings {
        let fixable = finding
            .fix
            .actions
            .iter()
            .any(|a| !matches!(a, FixAction::Manual { .. }));
        if fixable && !allowed(finding.account.as_deref()) {
            refused
                .entry(finding.account.as_deref())
                .or_default()
                .push(&finding.id);
        }
    }
    let Some((account, ids)) = refused.iter().next() else {
        return Ok(());
    };
    let shown = ids.iter().take(3).copied().collect::<Vec<_>>().join(", ");
    let more = if ids.len() > 3 {
        format!(" and {} more", ids.len() - 3)
    } else {
        String::new()
    };
    match account {
        Some(account) => bail!(
            "refusing to fix: the credentials are for account {caller}, but finding(s) {shown}{more} come from \
             account {account}; nothing was changed. Use credentials for {account}, or, if these findings belong \
             in {caller}, pass --account-map {account}={caller}"
        ),
        None => bail!(
            "refusing to fix: finding(s) {shown}{more} name no account, so they cannot be checked against the \
             credentials' account {caller}; nothing was changed. Pass --account-map '*={caller}' to fix them there"
        ),
    }
}

/// Refuses to undo or resume a change in another account than the one it was made in.
fn check_change_account(step: &plan::Step, caller: &str) -> anyhow::Result<()> {
    match &step.account {
        Some(account) if account != caller => bail!(
            "refusing: change `{}` was made in account {account}, but the credentials are for account {caller}",
            step.description
        ),
        _ => Ok(()),
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum PlanFormat {
    /// A diff-like list for review.
    Text,
    /// A shell script of AWS CLI commands.
    Cli,
    /// A boto3 script.
    Python,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ListFormat {
    Text,
    Json,
}

pub fn run(args: FixArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        None => run_plan(args.plan),
        Some(FixCommand::Undo {
            change_id,
            target,
            journal,
            yes,
        }) => {
            let path = journal.path()?;
            let Some(journal) = Journal::open_existing(&path)? else {
                bail!(
                    "no journal at `{}`: nothing was applied with it (pass --journal PATH if yours is elsewhere)",
                    path.display()
                );
            };
            // Every refusal comes before any call is shown.
            let (change, undo_calls) = apply::undo_preview(&journal, &change_id)?;
            let aws = target.connect()?;
            check_change_account(&change.step, &aws.caller_account()?)?;
            println!("Undo {}: {}", change.id, change.step.description);
            for call in &undo_calls {
                println!("  + {}", call.to_cli());
            }
            confirm(yes, "Make these calls?")?;
            let result = apply::undo(&aws, &journal, &change_id)?;
            print_results(std::slice::from_ref(&result));
            Ok(exit_for(std::slice::from_ref(&result)))
        }
        Some(FixCommand::Resume {
            target,
            journal,
            trail_bucket,
            yes,
        }) => {
            let path = journal.path()?;
            let journal = match Journal::open_existing(&path)? {
                Some(journal) => journal,
                None => {
                    println!("Nothing to resume: no journal at `{}`.", path.display());
                    return Ok(ExitCode::SUCCESS);
                }
            };
            let unfinished = journal.unfinished()?;
            if unfinished.is_empty() {
                println!("Nothing to resume: every journaled change is finished.");
                return Ok(ExitCode::SUCCESS);
            }
            let aws = target.connect()?;
            let caller = aws.caller_account()?;
            for change in &unfinished {
                check_change_account(&change.step, &caller)?;
                println!(
                    "resume {} ({}): {}",
                    change.id,
                    change.status.as_str(),
                    change.step.description
                );
            }
            confirm(yes, "Resume these changes?")?;
            let opts = PlanOptions {
                trail_bucket,
                target_account: Some(caller),
                reverted_documents: journal.reverted_documents()?,
            };
            let (results, end) = apply::resume(&aws, &journal, &opts)?;
            print_results(&results);
            Ok(report_end(&results, &end))
        }
        Some(FixCommand::Journal {
            journal,
            format,
            calls,
        }) => {
            let path = journal.path()?;
            eprintln!("journal: {}", path.display());
            let changes = match Journal::open_existing(&path)? {
                Some(journal) => {
                    let changes = journal.list()?;
                    let mut with_calls = Vec::new();
                    for change in changes {
                        let logged = if calls {
                            journal.calls(&change.id)?
                        } else {
                            Vec::new()
                        };
                        with_calls.push((change, logged));
                    }
                    with_calls
                }
                None => Vec::new(),
            };
            match format {
                ListFormat::Json => {
                    for (change, _) in &changes {
                        println!("{}", serde_json::to_string(change)?);
                    }
                }
                ListFormat::Text => {
                    if changes.is_empty() {
                        println!("The journal is empty.");
                    }
                    for (c, logged) in &changes {
                        println!(
                            "{}  {:<11} {}  {}",
                            c.id,
                            c.status.as_str(),
                            c.started_at,
                            c.step.description
                        );
                        for (phase, seq, call, status) in logged {
                            let call: trailguard_rules::call::Call = serde_json::from_str(call)?;
                            println!("    {phase} #{seq} {status:<16} {}", call.to_cli());
                        }
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn run_plan(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let mut findings = Vec::new();
    if args.from.is_empty() {
        findings = stored_findings(&args.store)?;
    }
    if args.from.iter().filter(|p| p.as_os_str() == "-").count() > 1 {
        bail!("--from - (stdin) can be given once");
    }
    for path in &args.from {
        let loaded = load_findings(path)?;
        for problem in &loaded.problems {
            eprintln!("warning: {problem}");
        }
        findings.extend(loaded.findings);
    }
    if !args.finding_ids.is_empty() {
        let before = findings.len();
        findings.retain(|f| {
            args.finding_ids
                .iter()
                .any(|id| f.id.starts_with(id.as_str()))
        });
        for id in &args.finding_ids {
            if !findings.iter().any(|f| f.id.starts_with(id.as_str())) {
                bail!("no finding `{id}` among the {before} loaded");
            }
        }
    }
    let journal_path = args.journal.path()?;
    let mut opts = PlanOptions {
        trail_bucket: args.trail_bucket.clone(),
        ..PlanOptions::default()
    };
    if let Some(journal) = Journal::open_existing(&journal_path)? {
        opts.reverted_documents = journal.reverted_documents()?;
    }
    let aws = if args.offline {
        None
    } else {
        let aws = args.target.connect()?;
        let caller = aws.caller_account()?;
        check_accounts(&findings, &caller, &args.account_map)?;
        opts.target_account = Some(caller);
        Some(aws)
    };
    let plan = plan::build(&findings, aws.as_ref(), &opts)?;
    let rendered = match args.format {
        PlanFormat::Text => render::text(&plan, args.apply),
        PlanFormat::Cli => render::cli(&plan),
        PlanFormat::Python => render::python(&plan),
        PlanFormat::Json => render::json(&plan),
    };
    print!("{rendered}");
    if !rendered.ends_with('\n') {
        println!();
    }
    if !args.apply {
        return Ok(ExitCode::SUCCESS);
    }
    let steps: Vec<&plan::Step> = plan.pending_steps().collect();
    if steps.is_empty() {
        eprintln!("Nothing to apply: every fix is already in place.");
        return Ok(ExitCode::SUCCESS);
    }
    confirm(args.yes, &format!("Apply {} change(s)?", steps.len()))?;
    let Some(aws) = aws else {
        bail!("--apply needs AWS access (drop --offline)")
    };
    let journal = Journal::open(&journal_path)?;
    let run_id = chrono::Utc::now()
        .format("run-%Y%m%dT%H%M%S%.3fZ")
        .to_string();
    let interrupt = Interrupt {
        after_calls: args.interrupt_after_calls,
    };
    let (results, end) = apply::apply(&steps, &findings, &aws, &journal, &run_id, interrupt)?;
    print_results(&results);
    if end == RunEnd::Interrupted {
        eprintln!("interrupted: run `trailguard fix resume` to finish the pending change");
        return Ok(ExitCode::from(3));
    }
    eprintln!(
        "journal: {} (undo a change with `trailguard fix undo CHANGE_ID`)",
        journal_path.display()
    );
    Ok(report_end(&results, &end))
}

/// Reports steps a halted run did not attempt; the exit code for the run.
fn report_end(results: &[StepResult], end: &RunEnd) -> ExitCode {
    if let RunEnd::Halted { not_attempted } = end {
        eprintln!(
            "stopped: the last error leaves no later call a chance; {} step(s) not attempted:",
            not_attempted.len()
        );
        for description in not_attempted {
            eprintln!("    {description}");
        }
        return ExitCode::from(2);
    }
    exit_for(results)
}

/// Where `scan --store` keeps findings by default (the demo uses it).
const DEFAULT_STORE: &str = ".trailguard/trailguard.db";

/// Every finding in the store, for `fix FINDING_ID` without `--from`.
fn stored_findings(spec: &str) -> anyhow::Result<Vec<Finding>> {
    let path = spec.strip_prefix("sqlite://").unwrap_or(spec);
    if !spec.contains("://") && !Path::new(path).exists() {
        bail!(
            "no findings given: pass --from FINDINGS.json (the output of `trailguard scan --format json`), \
             or scan with --store first (no store at `{spec}`)"
        );
    }
    let shown = crate::store::display_name(spec);
    let store = crate::store::open(spec)
        .with_context(|| format!("cannot open the findings store `{shown}`"))?;
    let stored = store.findings(&crate::store::FindingQuery::default())?;
    stored.warn_damaged(&shown);
    Ok(stored.findings.into_iter().map(|s| s.finding).collect())
}

fn print_results(results: &[StepResult]) {
    for r in results {
        let status = r.status.as_str();
        let mut line = format!(
            "{}  {:<8} {}  ({} call(s) made, {} already in place)",
            r.change_id, status, r.description, r.calls_done, r.calls_already_in_state
        );
        if let Some(err) = &r.error {
            line.push_str(&format!("\n    error: {err}"));
        }
        println!("{line}");
    }
}

fn exit_for(results: &[StepResult]) -> ExitCode {
    if results
        .iter()
        .any(|r| matches!(r.status, ChangeStatus::Failed | ChangeStatus::UndoFailed))
    {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

fn confirm(yes: bool, question: &str) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        bail!(
            "refusing to change anything without confirmation: stdin is not a terminal; pass --yes"
        );
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "YES") {
        Ok(())
    } else {
        bail!("cancelled: nothing changed")
    }
}

/// Findings read from a file, and what in it was not a finding.
pub struct LoadedFindings {
    pub findings: Vec<Finding>,
    pub problems: Vec<String>,
}

/// Reads JSON lines of findings (scan/audit `--format json`), or a JSON array of findings; `-` reads
/// stdin. The `{"audit_summary": ...}` line that `audit --format json` ends with is skipped quietly; other
/// lines that are not findings are reported, not silently dropped.
pub fn load_findings(path: &Path) -> anyhow::Result<LoadedFindings> {
    let (text, name) = if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read findings from stdin")?;
        if text.trim().is_empty() {
            bail!("stdin is empty: no findings to fix (pipe in `trailguard scan --format json`)");
        }
        (text, "<stdin>".to_owned())
    } else {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read `{}`", path.display()))?;
        (text, path.display().to_string())
    };
    let mut loaded = LoadedFindings {
        findings: Vec::new(),
        problems: Vec::new(),
    };
    if text.trim_start().starts_with('[') {
        let values: Vec<serde_json::Value> =
            serde_json::from_str(&text).with_context(|| format!("`{name}` is not a JSON array"))?;
        for (i, value) in values.into_iter().enumerate() {
            if is_audit_summary(&value) {
                continue;
            }
            match serde_json::from_value::<Finding>(value) {
                Ok(f) => loaded.findings.push(f),
                Err(e) => loaded
                    .problems
                    .push(format!("{name}: item {i}: not a finding: {e}")),
            }
        }
        return Ok(loaded);
    }
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Finding>(line) {
            Ok(f) => loaded.findings.push(f),
            Err(_) if serde_json::from_str(line).is_ok_and(|v| is_audit_summary(&v)) => {}
            Err(e) => loaded
                .problems
                .push(format!("{name}:{}: not a finding, skipped: {e}", i + 1)),
        }
    }
    Ok(loaded)
}

/// The last line of `audit --format json`: `{"audit_summary": {...}}`.
fn is_audit_summary(value: &serde_json::Value) -> bool {
    value
        .as_object()
        .is_some_and(|o| o.len() == 1 && o.contains_key("audit_summary"))
}
