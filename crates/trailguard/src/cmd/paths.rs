//! `trailguard audit paths`: who can become admin (or reach a given principal), by the shortest
//! chain of steps, from the escalation graph of `trailguard_account::graph`.
//!
//! Output: a text report, the paths as JSON, the graph in Graphviz DOT (`--format dot`: every
//! principal on a reported path and its hops), or `--findings`: one finding per principal that
//! reaches the goal, through the shared finding writers, with a fix that cuts the cheapest hop — the
//! hop whose granting statements the fewest other edges of the graph rely on.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use trailguard_account::graph::{Certainty, Graph, Hop, PathReport};
use trailguard_rules::output::{self, Format, OutputOptions, RunSummary};
use trailguard_rules::{Evidence, Finding, FindingSource, Fix, Resource, Severity};

use super::audit::{snapshot_with_details, SourceArgs};

#[derive(Debug, clap::Args)]
pub struct PathsArgs {
    #[command(flatten)]
    pub source: SourceArgs,

    /// Only this principal (ARN or name).
    #[arg(long, value_name = "ARN")]
    pub principal: Option<String>,

    /// `admin`, or the ARN (or name) of a user, role or group to reach.
    #[arg(long, default_value = "admin", value_name = "admin|ARN")]
    pub to: String,

    /// `text`, `json` or `dot` (Graphviz); with `--findings`: `text`, `json`, `ocsf`, `asff`, `sarif`.
    #[arg(long, short = 'f', default_value = "text")]
    pub format: String,

    /// Report one finding per principal that reaches the goal, with a fix that cuts its cheapest hop.
    #[arg(long)]
    pub findings: bool,

    /// No warnings on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

pub fn run(args: PathsArgs) -> anyhow::Result<ExitCode> {
    let Some(snapshot) = snapshot_with_details(&args.source, args.quiet, "audit paths")? else {
        return Ok(ExitCode::from(2));
    };
    let Some(details) = &snapshot.authorization else {
        return Ok(ExitCode::from(2));
    };
    let graph = Graph::build(details, Vec::new());
    let find = |text: &str| graph.node_by_arn(text).or_else(|| graph.node_by_name(text));
    let mut reports = if args.to == "admin" {
        graph.paths_to_admin(false)
    } else {
        let target = find(&args.to).with_context(|| {
            format!("`{}` is not a user, role or group of the account", args.to)
        })?;
        graph.paths_to(target)
    };
    if let Some(principal) = &args.principal {
        let id = find(principal).with_context(|| {
            format!("`{principal}` is not a user, role or group of the account")
        })?;
        let arn = &graph.nodes[id].arn;
        reports.retain(|r| &r.arn == arn);
    }
    let goal = if args.to == "admin" {
        "admin".to_owned()
    } else {
        args.to.clone()
    };
    let text = if args.findings {
        let format: Format = args.format.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
        let uses = statement_use(&graph);
        let findings: Vec<Finding> = reports
            .iter()
            .filter(|r| !r.hops.is_empty())
            .map(|r| path_finding(r, &goal, &uses, snapshot.account_id.as_deref()))
            .collect();
        let mut summary = RunSummary::new("audit paths");
        summary.inputs = vec![args.source.describe()];
        for finding in &findings {
            summary.count_finding(finding);
        }
        let mut buffer = Vec::new();
        {
            let mut writer =
                output::new_writer(format, Box::new(&mut buffer), &OutputOptions::default());
            for finding in &findings {
                writer.write(finding).context("cannot write findings")?;
            }
            writer.finish(&summary).context("cannot write findings")?;
        }
        String::from_utf8_lossy(&buffer).into_owned()
    } else {
        match args.format.as_str() {
            "text" => render_text(&reports, &goal),
            "json" => serde_json::to_string_pretty(&reports)? + "\n",
            "dot" => render_dot(&reports),
            other => anyhow::bail!(
                "audit paths prints text, json or dot (or findings with --findings), not `{other}`"
            ),
        }
    };
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .context("cannot write the report")?;
    Ok(ExitCode::SUCCESS)
}

fn hop_line(hop: &Hop) -> String {
    let grants: Vec<String> = hop
        .grants
        .iter()
        .map(|g| {
            let by = g.statement.as_deref().unwrap_or("an undecided statement");
            let mut line = format!("{} on {} by {by}", g.action, g.resource);
            if !g.conditions.is_empty() {
                let _ = write!(line, " if {}", g.conditions.join(" and "));
            }
            line
        })
        .collect();
    format!(
        "{} {} {}\n      {}",
        hop.from,
        hop.kind.describe(),
        hop.to,
        grants.join("\n      ")
    )
}

fn render_text(reports: &[PathReport], goal: &str) -> String {
    let mut text = String::new();
    let certain = reports
        .iter()
        .filter(|r| r.certainty == Certainty::Certain)
        .count();
    let _ = writeln!(
        text,
        "{} principal(s) reach {goal} ({certain} certainly, {} only under conditions)",
        reports.len(),
        reports.len() - certain
    );
    for report in reports {
        let how = match (report.hops.len(), report.certainty) {
            (0, _) => "is admin itself".to_owned(),
            (n, Certainty::Certain) => format!("in {n} step(s)"),
            (n, Certainty::Conditional) => format!("in {n} step(s), only if conditions hold"),
        };
        let _ = writeln!(
            text,
            "\n{:?} {} ({}) {how}",
            report.kind, report.name, report.arn
        );
        for (i, hop) in report.hops.iter().enumerate() {
            let _ = writeln!(text, "  {}. {}", i + 1, hop_line(hop));
        }
        if !report.admin_conditions.is_empty() {
            let _ = writeln!(
                text,
                "  admin only if {}",
                report.admin_conditions.join(" and ")
            );
        }
    }
    text
}

/// DOT quoting: every name is attacker-controlled, so quotes and backslashes are escaped.
fn dot_id(text: &str) -> String {
    format!(
        "\"{}\"",
        text.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    )
}

fn render_dot(reports: &[PathReport]) -> String {
    let mut text =
        String::from("digraph escalation {\n  rankdir=LR;\n  \"admin\" [shape=doublecircle];\n");
    let mut seen = std::collections::BTreeSet::new();
    for report in reports {
        for hop in &report.hops {
            let style = match hop.certainty {
                Certainty::Certain => "solid",
                Certainty::Conditional => "dashed",
            };
            let line = format!(
                "  {} -> {} [label={}, style={style}];\n",
                dot_id(&hop.from),
                dot_id(&hop.to),
                dot_id(&hop.kind.describe())
            );
            if seen.insert(line.clone()) {
                text.push_str(&line);
            }
        }
    }
    text.push_str("}\n");
    text
}

/// How many edges of the graph each granting statement supports: cutting a hop whose statements
/// support few edges breaks the fewest other uses.
fn statement_use(graph: &Graph) -> HashMap<String, usize> {
    let mut uses = HashMap::new();
    for edge in graph.all_edges() {
        for grant in &edge.grants {
            if let Some(statement) = &grant.statement {
                *uses.entry(statement.clone()).or_insert(0) += 1;
            }
        }
    }
    uses
}

fn path_finding(
    report: &PathReport,
    goal: &str,
    uses: &HashMap<String, usize>,
    account: Option<&str>,
) -> Finding {
    let cost = |hop: &Hop| -> usize {
        hop.grants
            .iter()
            .filter_map(|g| g.statement.as_ref())
            .map(|s| uses.get(s).copied().unwrap_or(0))
            .min()
            .unwrap_or(usize::MAX)
    };
    let (cut_index, cut) = report
        .hops
        .iter()
        .enumerate()
        .min_by_key(|(i, hop)| (cost(hop), *i))
        .map(|(i, hop)| (i, hop.clone()))
        .unwrap_or_else(|| (0, report.hops[0].clone()));
    let severity = match report.certainty {
        Certainty::Certain => Severity::High,
        Certainty::Conditional => Severity::Medium,
    };
    let steps: Vec<String> = report
        .hops
        .iter()
        .map(|h| format!("{} {}", h.kind.describe(), h.to))
        .collect();
    let mut finding = Finding::new(
        Finding::stable_id(&["PG001", &report.arn, goal]),
        "PG001",
        "escalation-path",
        format!("`{}` can reach {goal}", report.name),
        severity,
        FindingSource::Posture,
        format!(
            "`{}` can reach {goal} in {} step(s){}: {}.",
            report.name,
            report.hops.len(),
            if report.certainty == Certainty::Conditional {
                format!(" if {} hold", report.conditions().join(" and "))
            } else {
                String::new()
            },
            steps.join(", then ")
        ),
    );
    finding.account = account.map(str::to_owned);
    finding.resource = Some(Resource {
        kind: match report.kind {
            trailguard_account::graph::NodeKind::User => "AwsIamUser",
            trailguard_account::graph::NodeKind::Role => "AwsIamRole",
            trailguard_account::graph::NodeKind::Group => "AwsIamGroup",
        }
        .to_owned(),
        id: report.arn.clone(),
        name: Some(report.name.clone()),
    });
    finding.evidence = report
        .hops
        .iter()
        .enumerate()
        .map(|(i, hop)| Evidence {
            path: format!("hops[{i}]"),
            value: serde_json::to_value(hop).unwrap_or_default(),
        })
        .collect();
    let statements: Vec<String> = cut
        .grants
        .iter()
        .map(|g| match &g.statement {
            Some(s) => format!("{s} ({} on {})", g.action, g.resource),
            None => format!("the statement granting {} on {}", g.action, g.resource),
        })
        .collect();
    finding.fix = Fix {
        summary: format!(
            "Cut step {} ({} {} {}): remove or narrow {}.",
            cut_index + 1,
            cut.from,
            cut.kind.describe(),
            cut.to,
            statements.join("; or ")
        ),
        ..Fix::default()
    };
    finding.attack = vec!["T1098".to_owned()];
    finding
}
