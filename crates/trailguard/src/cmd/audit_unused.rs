//! `trailguard audit unused --logs LOGS (--offline SNAPSHOT | live options)`: per principal, what its
//! effective policies grant against what the logs show it used (`trailguard_account::unused`), stated
//! with the window the logs cover. A principal whose unused grants include sensitive actions, and a
//! principal not used at all in the window, are findings; the fix is the policy generated from its usage
//! (`trailguard_account::usage::generate_policy`) with the `policy diff` from its current policies.
//!
//! The findings are printed here (text or one JSON object per principal); they are not yet `Finding`s of
//! the rule catalog, so the store and `fix` do not see them: this file is the one place to wire that.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{SecondsFormat, Utc};
use serde_json::json;
use trailguard_account::unused::{compare, merged_usage, PrincipalUnused};
use trailguard_account::usage::{collect, generate_policy, window_days, Usage};
use trailguard_account::who_can::ParsedPrincipal;
use trailguard_account::{effective_principals, AccountSnapshot};
use trailguard_event::{CollectErrors, Filter, ScanOptions};
use trailguard_policy::catalog::{ActionId, Catalog};
use trailguard_policy::diff::diff;
use trailguard_policy::PolicyDocument;
use trailguard_rules::output::{self, Format};

use super::args::parse_format;
use super::audit::{load_raw, report_problems, SourceArgs};

/// Services with more unused actions than this are summarised on one line (their sensitive ones named).
const LIST_PER_SERVICE: usize = 8;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  trailguard audit unused --logs AWSLogs/ --offline snapshot/
  trailguard audit unused --logs AWSLogs/ --profile audit --since 90d --format json")]
pub struct UnusedArgs {
    /// CloudTrail log files or directories (as for `scan`).
    #[arg(long, required = true, value_name = "LOGS")]
    pub logs: Vec<PathBuf>,

    #[command(flatten)]
    pub source: SourceArgs,

    /// Keep events at or after this time: RFC 3339, a date, or an age such as `90d`.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Keep events before this time (same forms as --since).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,

    /// `text` or `json` (one JSON object per principal).
    #[arg(long, short = 'f', default_value = "text", value_parser = parse_format)]
    pub format: Format,

    /// No progress or snapshot problems on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

pub fn run(args: UnusedArgs) -> anyhow::Result<ExitCode> {
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
    let raw = load_raw(&args.source, args.quiet)?;
    let snapshot = AccountSnapshot::from_raw(&raw);
    if !args.quiet {
        report_problems(&snapshot.problems);
    }
    let Some(details) = &snapshot.authorization else {
        anyhow::bail!(
            "audit unused needs the authorization details (get-account-authorization-details.json)"
        );
    };
    let opts = ScanOptions {
        inputs: args.logs.clone(),
        filter,
        threads: 0,
    };
    let errors = CollectErrors::default();
    let (usage, _) = collect(&opts, false, &errors)?;
    if !args.quiet {
        for problem in errors.take() {
            eprintln!("warning: {problem}");
        }
    }
    let span = window_text(&usage);
    let catalog = Catalog::get();
    let mut out = std::io::stdout().lock();
    if args.format == Format::Text {
        writeln!(out, "Granted against used: {span}")?;
        writeln!(out, "  + used and granted   - granted, unused in the window   ? used, not explained by these policies\n")?;
    }
    for principal in effective_principals(details) {
        let used = merged_usage(&usage, &principal.arn);
        let report = compare(&principal, used.as_ref(), catalog);
        // The fix keeps what the policies already grant: a `?` call was allowed by something not seen
        // here (a resource policy, another account), and a fix must not widen access.
        let generated = used.as_ref().map(|u| {
            let mut granted_only = u.clone();
            granted_only
                .allowed
                .retain(|(action, _), _| report.used_granted.contains(action));
            generate_policy(&granted_only, catalog)
        });
        let current = ParsedPrincipal::parse(&principal)
            .combined
            .map(|c| c.document);
        let fix_diff = match (&current, &generated) {
            (Some(current), Some(generated)) => {
                let text = serde_json::to_string(&generated.document)?;
                PolicyDocument::parse(&text)
                    .ok()
                    .map(|new| diff(current, &new))
            }
            _ => None,
        };
        match args.format {
            Format::Json => {
                let names = |set: &std::collections::BTreeSet<ActionId>| -> Vec<String> {
                    set.iter().map(|a| catalog.full_name(*a)).collect()
                };
                let line = json!({
                    "principal": report.arn,
                    "kind": report.kind.as_str(),
                    "window": span,
                    "calls": report.calls,
                    "used_granted": names(&report.used_granted),
                    "used_unexplained": names(&report.used_unexplained),
                    "granted_unused_count": report.granted_unused.len(),
                    "sensitive_unused": names(&report.sensitive_unused),
                    "finding": finding_title(&report, &span),
                    "generated_policy": generated.as_ref().map(|g| &g.document),
                    "denied": generated.as_ref().map(|g| &g.denied),
                });
                writeln!(out, "{line}")?;
            }
            _ => {
                out.write_all(render_principal(&report, catalog).as_bytes())?;
                if let Some(title) = finding_title(&report, &span) {
                    writeln!(out, "  finding: {title}")?;
                    if let (Some(generated), Some(delta)) = (&generated, &fix_diff) {
                        writeln!(
                            out,
                            "  fix: replace its policies with the policy generated from its granted usage (`?` calls left out):"
                        )?;
                        for line in serde_json::to_string_pretty(&generated.document)?.lines() {
                            writeln!(out, "    {line}")?;
                        }
                        writeln!(out, "  policy diff, current → generated:")?;
                        for line in super::policy::render_diff(delta, false).lines() {
                            writeln!(out, "    {line}")?;
                        }
                    } else if report.calls == 0 {
                        writeln!(
                            out,
                            "  fix: remove the principal, or its policies, if nothing needs it"
                        )?;
                    }
                }
                writeln!(out)?;
            }
        }
    }
    if args.format == Format::Text && !usage.unmapped.is_empty() {
        writeln!(out, "Events that map to no IAM permission:")?;
        for ((source, name), event) in &usage.unmapped {
            writeln!(
                out,
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

/// "the 17 days these logs cover (from … to …)"; every result names it.
fn window_text(usage: &Usage) -> String {
    let days = window_days(usage.window);
    match usage.window {
        Some((from, to)) => format!(
            "unused in the {days} days these logs cover ({} to {})",
            from.to_rfc3339_opts(SecondsFormat::Secs, true),
            to.to_rfc3339_opts(SecondsFormat::Secs, true)
        ),
        None => "these logs hold no calls: nothing can be called unused".to_string(),
    }
}

/// The finding a principal's comparison calls for, if any.
fn finding_title(report: &PrincipalUnused, span: &str) -> Option<String> {
    let sensitive = report.sensitive_unused.len();
    if report.calls == 0 && !report.granted_unused.is_empty() {
        return Some(format!(
            "not used at all: {} granted action(s), {sensitive} sensitive, {span}",
            report.granted_unused.len()
        ));
    }
    (sensitive > 0).then(|| format!("{sensitive} sensitive action(s) granted but {span}"))
}

/// The `+ - ?` lines of one principal; services with many unused actions on one line.
fn render_principal(report: &PrincipalUnused, catalog: &Catalog) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "{} ({}, {} successful call(s))",
        output::visible(&report.arn),
        report.kind.as_str(),
        report.calls
    );
    for action in &report.used_granted {
        let _ = writeln!(text, "  + {}", catalog.full_name(*action));
    }
    let mut by_service: BTreeMap<&str, Vec<ActionId>> = BTreeMap::new();
    for action in &report.granted_unused {
        by_service
            .entry(catalog.service_of(*action).prefix.as_str())
            .or_default()
            .push(*action);
    }
    for (service, actions) in by_service {
        if actions.len() <= LIST_PER_SERVICE {
            for action in actions {
                let _ = writeln!(text, "  - {}", catalog.full_name(action));
            }
            continue;
        }
        let sensitive: Vec<String> = actions
            .iter()
            .filter(|a| report.sensitive_unused.contains(a))
            .map(|a| catalog.action(*a).name.clone())
            .collect();
        let named = if sensitive.is_empty() {
            String::new()
        } else {
            format!(", sensitive: {}", sensitive.join(", "))
        };
        let _ = writeln!(text, "  - {service}: {} actions{named}", actions.len());
    }
    for action in &report.used_unexplained {
        let _ = writeln!(text, "  ? {}", catalog.full_name(*action));
    }
    text
}
