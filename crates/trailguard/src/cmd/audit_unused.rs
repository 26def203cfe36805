//! `trailguard audit unused --logs LOGS (--offline SNAPSHOT | live options)`: per principal, what its
//! effective policies grant against what the logs show it used (`trailguard_account::unused`), stated
//! with the window the logs cover. A principal whose unused grants include sensitive actions, and a
//! principal not used at all in the window, are findings; the fix is the policy generated from its usage
//! (`trailguard_account::usage::generate_policy`) with the `policy diff` from its current policies.
//!
//! The findings are `Finding`s with stable ids (rule, principal ARN): LP001 sensitive grants unused in the
//! window, fixed by [`FixAction::ApplyGeneratedPolicy`] (the generated policy replaces the principal's own
//! policies; `trailguard fix` journals it and can undo it), and LP002 a principal not used at all in the
//! window, fixed by hand. `--store` saves them like a scan's, so `trailguard fix ID --store` applies them;
//! text and JSON name each finding's id beside its principal.

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
use trailguard_rules::call::Call;
use trailguard_rules::output::RunSummary;
use trailguard_rules::output::{self, Format};
use trailguard_rules::remediation::{FixAction, IdentityKind};
use trailguard_rules::{Evidence, Finding, FindingSource, Fix, Resource, Severity};

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

    /// Save the findings (LP001, LP002) in this store, as `scan --store` does (a SQLite file or a
    /// postgres:// URL), for `trailguard findings` and `trailguard fix ID --store`.
    #[arg(long, value_name = "PATH|URL")]
    pub store: Option<String>,
}

pub fn run(args: UnusedArgs) -> anyhow::Result<ExitCode> {
    let now = Utc::now();
    let started_at = now.to_rfc3339_opts(SecondsFormat::Secs, true);
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
    let inputs: Vec<String> = args
        .logs
        .iter()
        .map(|p| p.display().to_string())
        .chain([args.source.describe()])
        .collect();
    // A store that cannot be used fails before the work, as in `scan --store`.
    let mut recorder = args
        .store
        .as_deref()
        .map(|spec| crate::store::RunRecorder::start(spec, "audit unused", &started_at, &inputs))
        .transpose()?;
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
    let (usage, stats) = collect(&opts, false, &errors)?;
    let problems = errors.take();
    if !args.quiet {
        for problem in &problems {
            eprintln!("warning: {problem}");
        }
    }
    let span = window_text(&usage);
    let catalog = Catalog::get();
    let mut summary = RunSummary::new("audit unused");
    summary.started_at = Some(started_at);
    summary.inputs = inputs;
    summary.files = stats.files_read;
    summary.records = stats.records_seen;
    summary.errors = problems.len() as u64;
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
        let diff_text = fix_diff
            .as_ref()
            .map(|delta| super::policy::render_diff(delta, false));
        let finding = unused_finding(
            &report,
            &principal,
            generated.as_ref().map(|g| &g.document),
            diff_text.as_deref(),
            &span,
            snapshot.account_id.as_deref(),
        );
        if let Some(finding) = &finding {
            summary.count_finding(finding);
            if let Some(recorder) = recorder.as_mut() {
                recorder.save(finding.clone());
            }
        }
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
                    "finding_id": finding.as_ref().map(|f| &f.id),
                    "generated_policy": generated.as_ref().map(|g| &g.document),
                    "denied": generated.as_ref().map(|g| &g.denied),
                });
                writeln!(out, "{line}")?;
            }
            _ => {
                out.write_all(render_principal(&report, catalog).as_bytes())?;
                if let (Some(title), Some(finding)) = (finding_title(&report, &span), &finding) {
                    writeln!(
                        out,
                        "  finding {} ({}): {title}",
                        finding.id, finding.rule_id
                    )?;
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
    if let Some(recorder) = recorder {
        summary.finished_at = Some(Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true));
        summary.duration_ms = (Utc::now() - now).num_milliseconds().max(0) as u64;
        recorder.finish(&summary, args.quiet)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The finding a principal's comparison calls for (see the module doc), with its fix.
fn unused_finding(
    report: &PrincipalUnused,
    principal: &trailguard_account::EffectivePrincipal,
    generated: Option<&serde_json::Value>,
    diff_text: Option<&str>,
    span: &str,
    account: Option<&str>,
) -> Option<Finding> {
    let title = finding_title(report, span)?;
    let catalog = Catalog::get();
    let idle = report.calls == 0;
    let (rule, slug, severity) = if idle {
        ("LP002", "principal-unused-in-window", Severity::Low)
    } else {
        ("LP001", "sensitive-grants-unused", Severity::Medium)
    };
    let kind = match report.kind {
        trailguard_account::PrincipalKind::User => IdentityKind::User,
        trailguard_account::PrincipalKind::Role => IdentityKind::Role,
    };
    let sensitive: Vec<String> = report
        .sensitive_unused
        .iter()
        .map(|a| catalog.full_name(*a))
        .collect();
    let mut finding = Finding::new(
        Finding::stable_id(&[rule, &report.arn]),
        rule,
        slug,
        format!("`{}`: {title}", principal.name),
        severity,
        FindingSource::Posture,
        format!(
            "{} `{}` made {} successful call(s); {} granted action(s) are {span}, {} of them sensitive.",
            report.kind.as_str(),
            principal.name,
            report.calls,
            report.granted_unused.len(),
            sensitive.len()
        ),
    );
    finding.account = account.map(str::to_owned);
    finding.resource = Some(Resource {
        kind: match kind {
            IdentityKind::User => "AwsIamUser",
            _ => "AwsIamRole",
        }
        .to_owned(),
        id: report.arn.clone(),
        name: Some(principal.name.clone()),
    });
    finding.evidence = vec![Evidence {
        path: "sensitive_unused".to_owned(),
        value: json!(sensitive),
    }];
    if let Some(document) = generated {
        finding.evidence.push(Evidence {
            path: "generated_policy".to_owned(),
            value: document.clone(),
        });
    }
    if let Some(text) = diff_text {
        finding.evidence.push(Evidence {
            path: "policy_diff".to_owned(),
            value: json!(text),
        });
    }
    // A generated policy with no statement (every call `?`) is no policy IAM accepts: fixed by hand.
    let statements = generated
        .and_then(|g| g["Statement"].as_array())
        .map_or(0, Vec::len);
    let groups = if principal.groups.is_empty() {
        String::new()
    } else {
        format!(
            " Its groups ({}) still grant what they grant.",
            principal.groups.join(", ")
        )
    };
    finding.fix = match (generated, idle || statements == 0) {
        (Some(document), false) => {
            let action = FixAction::ApplyGeneratedPolicy {
                principal_kind: kind,
                principal_name: principal.name.clone(),
                policy_name: crate::fix::actions::GENERATED_POLICY_NAME.to_owned(),
                policy_document: document.to_string(),
            };
            let put = Call::PutInlinePolicy {
                principal_kind: kind,
                principal_name: principal.name.clone(),
                policy_name: crate::fix::actions::GENERATED_POLICY_NAME.to_owned(),
                policy_document: document.to_string(),
            };
            Fix {
                summary: format!(
                    "Replace its own policies with the policy generated from its granted usage (`?` calls \
                     left out): put it as inline policy `{}`, then detach its managed policies and delete \
                     its other inline policies (`trailguard fix` saves each first; undo puts them back).{groups}",
                    crate::fix::actions::GENERATED_POLICY_NAME
                ),
                commands: vec![put.to_cli()],
                actions: vec![action],
                ..Fix::default()
            }
        }
        _ if idle => Fix {
            summary: format!(
                "Remove the {}, or its policies, if nothing needs it (it made no call {span}).",
                report.kind.as_str()
            ),
            ..Fix::default()
        },
        _ => Fix {
            summary: "Its calls are all explained by policies not seen here: review its policies by hand."
                .to_owned(),
            ..Fix::default()
        },
    };
    Some(finding)
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
