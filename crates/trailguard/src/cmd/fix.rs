//! `trailguard fix`: plan, apply, resume and undo fixes for findings.
//!
//! `fix --from FINDINGS.json` (or `fix FINDING_ID... --from ...`) prints a plan and changes nothing;
//! `--apply` carries it out (asking first on a terminal unless `--yes`), journaling every call;
//! `fix undo CHANGE_ID`, `fix resume` and `fix journal` work from that journal.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use trailguard_rules::Finding;

use crate::fix::apply::{self, Interrupt, StepResult};
use crate::fix::aws::{Aws, AwsTarget};
use crate::fix::journal::{ChangeStatus, Journal};
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
    /// Findings file: the JSON-lines output of `trailguard scan --format json` or `audit --format json`.
    #[arg(long = "from", value_name = "FINDINGS.json")]
    from: Vec<PathBuf>,
    /// Findings store written by `scan --store` (read when no --from is given).
    #[arg(long, value_name = "PATH", default_value = DEFAULT_STORE)]
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
    /// The change journal (SQLite).
    #[arg(long = "journal", default_value = ".trailguard/journal.db")]
    path: PathBuf,
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
            let journal = Journal::open(&journal.path)?;
            let change = journal.get(&change_id)?.with_context(|| {
                format!("no change `{change_id}` in the journal (see `trailguard fix journal`)")
            })?;
            let undo_calls = apply::undo_calls(&change.step).map_err(|reason| {
                anyhow::anyhow!("change `{change_id}` cannot be undone: {reason}")
            })?;
            println!("Undo {}: {}", change.id, change.step.description);
            for call in &undo_calls {
                println!("  + {}", call.to_cli());
            }
            confirm(yes, "Make these calls?")?;
            let aws = target.connect()?;
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
            let journal = Journal::open(&journal.path)?;
            let unfinished = journal.unfinished()?;
            if unfinished.is_empty() {
                println!("Nothing to resume: every journaled change is finished.");
                return Ok(ExitCode::SUCCESS);
            }
            for change in &unfinished {
                println!(
                    "resume {} ({:?}): {}",
                    change.id, change.status, change.step.description
                );
            }
            confirm(yes, "Resume these changes?")?;
            let aws = target.connect()?;
            let results = apply::resume(&aws, &journal, &PlanOptions { trail_bucket })?;
            print_results(&results);
            Ok(exit_for(&results))
        }
        Some(FixCommand::Journal {
            journal,
            format,
            calls,
        }) => {
            let journal = Journal::open(&journal.path)?;
            let changes = journal.list()?;
            match format {
                ListFormat::Json => {
                    for change in &changes {
                        println!("{}", serde_json::to_string(change)?);
                    }
                }
                ListFormat::Text => {
                    if changes.is_empty() {
                        println!("The journal is empty.");
                    }
                    for c in &changes {
                        println!(
                            "{}  {:<11} {}  {}",
                            c.id,
                            format!("{:?}", c.status).to_lowercase(),
                            c.started_at,
                            c.step.description
                        );
                        if calls {
                            for (phase, seq, call, status) in journal.calls(&c.id)? {
                                let call: crate::fix::call::Call = serde_json::from_str(&call)?;
                                println!("    {phase} #{seq} {status:<16} {}", call.to_cli());
                            }
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
    let opts = PlanOptions {
        trail_bucket: args.trail_bucket.clone(),
    };
    let aws = if args.offline {
        None
    } else {
        Some(args.target.connect()?)
    };
    let plan = plan::build(&findings, aws.as_ref(), &opts)?;
    let rendered = match args.format {
        PlanFormat::Text => render::text(&plan),
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
    let journal = Journal::open(&args.journal.path)?;
    let run_id = chrono::Utc::now()
        .format("run-%Y%m%dT%H%M%S%.3fZ")
        .to_string();
    let interrupt = Interrupt {
        after_calls: args.interrupt_after_calls,
    };
    let (results, interrupted) =
        apply::apply(&steps, &findings, &aws, &journal, &run_id, interrupt)?;
    print_results(&results);
    if interrupted.is_some() {
        eprintln!("interrupted: run `trailguard fix resume` to finish the pending change");
        return Ok(ExitCode::from(3));
    }
    eprintln!(
        "journal: {} (undo a change with `trailguard fix undo CHANGE_ID`)",
        args.journal.path.display()
    );
    Ok(exit_for(&results))
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
    let store = crate::store::open(spec)
        .with_context(|| format!("cannot open the findings store `{spec}`"))?;
    let stored = store.findings(&crate::store::FindingQuery::default())?;
    stored.warn_damaged(spec);
    Ok(stored.findings.into_iter().map(|s| s.finding).collect())
}

fn print_results(results: &[StepResult]) {
    for r in results {
        let status = format!("{:?}", r.status).to_lowercase();
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

/// Reads JSON lines of findings (scan/audit `--format json`), or a JSON array of findings. Lines that are
/// not findings (a run summary) are reported, not silently dropped.
pub fn load_findings(path: &Path) -> anyhow::Result<LoadedFindings> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    let mut loaded = LoadedFindings {
        findings: Vec::new(),
        problems: Vec::new(),
    };
    if text.trim_start().starts_with('[') {
        let values: Vec<serde_json::Value> = serde_json::from_str(&text)
            .with_context(|| format!("`{}` is not a JSON array", path.display()))?;
        for (i, value) in values.into_iter().enumerate() {
            match serde_json::from_value::<Finding>(value) {
                Ok(f) => loaded.findings.push(f),
                Err(e) => loaded
                    .problems
                    .push(format!("{}: item {i}: not a finding: {e}", path.display())),
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
            Err(e) => loaded.problems.push(format!(
                "{}:{}: not a finding, skipped: {e}",
                path.display(),
                i + 1
            )),
        }
    }
    Ok(loaded)
}
