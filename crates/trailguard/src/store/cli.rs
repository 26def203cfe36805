//! `trailguard findings`: query the findings store that `scan --store` fills (filters, the recorded runs,
//! any output format of `scan`). `main.rs` dispatches the `findings` subcommand to [`run`].
//!
//! A filter that names something the store does not have (`--run 99`) is an error that says so and
//! shows what there is; a stored finding that cannot be read is skipped with a warning naming its row.

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use anyhow::Context;
use trailguard_rules::output::{self, Format, OutputOptions, RunSummary};
use trailguard_rules::Severity;

use super::{FindingQuery, RunStatus, StoredRun};
use crate::cmd::args::{parse_format, parse_severity};
use crate::ui::{self, ColorChoice};

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  trailguard findings --store .trailguard/trailguard.db
  trailguard findings --store .trailguard/trailguard.db --min-severity high --format json
  trailguard findings --store .trailguard/trailguard.db --runs
  trailguard findings --store postgres://trailguard@db.internal/trailguard?sslmode=disable")]
pub struct FindingsArgs {
    /// The store `scan --store` wrote: a SQLite file or a postgres:// URL.
    #[arg(
        long,
        value_name = "PATH|URL",
        default_value = ".trailguard/trailguard.db"
    )]
    pub store: String,

    /// Only findings at or above this severity.
    #[arg(long = "min-severity", value_name = "SEVERITY", value_parser = parse_severity)]
    pub min_severity: Option<Severity>,

    /// Only findings of this rule (code or name).
    #[arg(long, value_name = "CODE")]
    pub rule: Option<String>,

    /// Only findings of this account.
    #[arg(long, value_name = "ID")]
    pub account: Option<String>,

    /// Only findings a given run reported (see --runs); `last` for the latest run.
    #[arg(long, value_name = "RUN")]
    pub run: Option<String>,

    /// At most this many findings, worst first.
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,

    /// List the recorded runs instead of findings.
    #[arg(long)]
    pub runs: bool,

    /// Output format for findings (text, json, ocsf, asff, sarif).
    #[arg(long, short = 'f', default_value = "text", value_parser = parse_format)]
    pub format: Format,

    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

pub fn run(args: FindingsArgs) -> anyhow::Result<ExitCode> {
    if !args.store.contains("://") && !std::path::Path::new(&args.store).exists() {
        anyhow::bail!(
            "no store at `{}`: run `trailguard scan PATH --store {}` first",
            args.store,
            args.store
        );
    }
    let store = super::open(&args.store)?;
    // Messages name the store without its password.
    let shown = super::display_name(&args.store);
    let mut out = BufWriter::new(std::io::stdout().lock());
    if args.runs {
        let runs = store.runs(args.limit.unwrap_or(20))?;
        out.write_all(render_runs(&runs).as_bytes())?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let run = match args.run.as_deref() {
        None => None,
        Some("last") => match store.runs(1)?.first() {
            Some(run) => Some(run.id),
            None => anyhow::bail!("--run last: no runs recorded yet in `{shown}`"),
        },
        Some(id) => {
            let id: super::RunId = id
                .parse()
                .with_context(|| format!("--run `{id}` is not a run number or `last`"))?;
            let runs = store.runs(u64::MAX)?;
            if !runs.iter().any(|r| r.id == id) {
                let latest: Vec<StoredRun> = runs.into_iter().take(5).collect();
                anyhow::bail!(
                    "--run {id}: no such run in `{shown}`; the latest runs:\n{}",
                    render_runs(&latest).trim_end()
                );
            }
            Some(id)
        }
    };
    let query = FindingQuery {
        min_severity: args.min_severity,
        rule_id: args.rule.clone(),
        account: args.account.clone(),
        run,
        since: None,
        limit: args.limit,
    };
    let read = store.findings(&query)?;
    read.warn_damaged(&shown);
    let stored = read.findings;
    let mut summary = RunSummary::new("findings");
    summary.inputs = vec![shown.clone()];
    if !read.damaged.is_empty() {
        summary.errors += read.damaged.len() as u64;
        summary.skipped.insert(
            "damaged stored findings".to_owned(),
            read.damaged.len() as u64,
        );
    }
    for item in &stored {
        summary.count_finding(&item.finding);
    }
    let options = OutputOptions {
        color: args.color.resolve(ui::stdout_is_terminal()),
        rules: trailguard_rules::registry::metas(),
        ..OutputOptions::default()
    };
    let mut writer = output::new_writer(args.format, Box::new(out), &options);
    for item in &stored {
        writer.write(&item.finding)?;
    }
    writer.finish(&summary)?;
    Ok(ExitCode::SUCCESS)
}

/// One line per run: id, command, start, duration, findings, inputs.
pub fn render_runs(runs: &[StoredRun]) -> String {
    if runs.is_empty() {
        return "no runs recorded yet\n".to_owned();
    }
    let mut text = format!(
        "{:>5}  {:<8} {:<20} {:>9} {:>8}  {}\n",
        "run", "command", "started", "records", "findings", "inputs"
    );
    for run in runs {
        let records = run
            .summary
            .as_ref()
            .map_or("-".to_owned(), |s| s.records.to_string());
        let state = match run.status {
            RunStatus::Finished => String::new(),
            other => format!(" ({})", other.as_str()),
        };
        text.push_str(&format!(
            "{:>5}  {:<8} {:<20} {:>9} {:>8}  {}{}\n",
            run.id,
            run.command,
            run.started_at,
            records,
            run.findings,
            run.inputs.join(", "),
            state
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_render_one_line_each() {
        let mut summary = RunSummary::new("scan");
        summary.records = 384;
        let runs = vec![
            StoredRun {
                id: 2,
                command: "scan".into(),
                started_at: "2024-03-02T00:00:00Z".into(),
                finished_at: None,
                inputs: vec!["logs".into()],
                summary: None,
                findings: 0,
                status: RunStatus::Interrupted,
            },
            StoredRun {
                id: 1,
                command: "scan".into(),
                started_at: "2024-03-01T00:00:00Z".into(),
                finished_at: Some("2024-03-01T00:00:01Z".into()),
                inputs: vec!["samples/cloudtrail".into()],
                summary: Some(summary),
                findings: 19,
                status: RunStatus::Finished,
            },
        ];
        let text = render_runs(&runs);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[1].ends_with("(interrupted)"), "{}", lines[1]);
        assert!(lines[2].contains("384") && lines[2].contains("19"));
        assert_eq!(render_runs(&[]), "no runs recorded yet\n");
    }
}
