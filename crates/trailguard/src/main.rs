//! `trailguard`: watch and fix AWS IAM.
//!
//! This file only parses the command line and dispatches; each command lives in its own file under
//! [`cmd`] (`findings` beside the store it queries, in `store::cli`), and exit codes follow one rule:
//! 0 nothing at or above `--fail-on`, 1 findings, 2 errors only. An error is printed once, as one line:
//! the error and its causes in order (`error: outer: cause`); error types keep their source out of their
//! own message, so no cause is printed twice.

mod alert;
mod aws;
mod cmd;
mod fix;
mod lambda;
mod mute;
mod remote;
mod serve;
mod store;
mod triage;
mod ui;
mod web;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// A scan makes and frees millions of small values (run state, findings, observed events), and glibc's
/// malloc and free were 12-17% of a 600 MB bench scan; with mimalloc's per-thread free lists the scan
/// takes about 10% less time. Built without transparent huge pages (`no_thp`): with them, mimalloc's
/// 2 MB-aligned regions raised the scan's peak memory from 63 MB to 103-115 MB.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "trailguard",
    version,
    about = "Watch and fix AWS IAM: CloudTrail detections, policy analysis, posture audit, remediation",
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per run, so variant sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Scan CloudTrail logs (files, directories, .json.gz, JSON lines, stdin) for risky IAM activity.
    Scan(cmd::scan::ScanArgs),
    /// List the built-in rules (and loaded Sigma rules) with their docs.
    Rules(cmd::rules::RulesArgs),
    /// Explain a CloudTrail event: what it means, how it is abused, how to fix it.
    Explain(cmd::explain::ExplainArgs),
    /// Export the knowledge base and rule docs as a static HTML site.
    Docs(cmd::docs::DocsArgs),
    /// Analyse IAM policy documents: check, diff, expand, simulate, and generate one from CloudTrail usage.
    Policy(cmd::policy::PolicyArgs),
    /// Audit an account's IAM posture, live or from saved API output (snapshot, who-can, unused, paths).
    Audit(cmd::audit::AuditArgs),
    /// Query the findings store that `scan --store` keeps: findings and runs.
    Findings(store::cli::FindingsArgs),
    /// Plan, apply and undo fixes for findings; resume an interrupted apply; the journal of changes.
    Fix(cmd::fix::FixArgs),
    /// Measure scan throughput and peak memory on a generated corpus.
    Bench(cmd::bench::BenchArgs),
    /// Run as a service: SQS workers scan each CloudTrail log file as it is delivered, into the store.
    Serve(cmd::serve::ServeArgs),
    /// Enqueue the log files already in a bucket for `serve`, as S3 event notifications.
    Backfill(cmd::backfill::BackfillArgs),
    /// Mute findings (add, list, remove; export and import for review in git) by rule, principal,
    /// account, region, resource, event or source IP, with a reason and an expiry; kept in the store.
    Mute(cmd::mute::MuteArgs),
    /// Run as an AWS Lambda function on an SQS event source: the `serve` worker, one batch per call.
    Lambda(cmd::lambda::LambdaArgs),
    /// Serve the web dashboard over the store (findings, principals, fixes, mutes), behind a login;
    /// `web user add` manages its users.
    Web(web::WebArgs),
}

fn main() -> ExitCode {
    ui::exit_quietly_when_stdout_closes();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scan(args) => cmd::scan::run(args),
        Command::Rules(args) => cmd::rules::run(args),
        Command::Explain(args) => cmd::explain::run(args),
        Command::Docs(args) => cmd::docs::run(args),
        Command::Policy(args) => cmd::policy::run(args),
        Command::Audit(args) => cmd::audit::run(args),
        Command::Findings(args) => store::cli::run(args),
        Command::Fix(args) => cmd::fix::run(args),
        Command::Bench(args) => cmd::bench::run(args),
        Command::Serve(args) => cmd::serve::run(args),
        Command::Backfill(args) => cmd::backfill::run(args),
        Command::Mute(args) => cmd::mute::run(args),
        Command::Lambda(args) => cmd::lambda::run(args),
        Command::Web(args) => web::run(args),
    };
    match result {
        Ok(code) => code,
        // The reader of stdout went away (`| head`): it has what it wanted.
        Err(err) if ui::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
