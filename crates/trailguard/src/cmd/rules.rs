//! `trailguard rules [CODE]`: the built-in rules with their docs, and any Sigma rules loaded with `--sigma`
//! (with the files that failed to load). Text for people, JSON for tools, Markdown for docs sites.
//!
//! Exit codes: 0 listed; 2 an unknown rule was asked for, or `--sigma` loaded no rule at all (each
//! failure is then also said on stderr).

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;
use trailguard_rules::meta::{resolve_codes, Family, RuleMeta};
use trailguard_rules::output::visible;
use trailguard_rules::registry;
use trailguard_rules::sigma::{CompiledRule, SigmaLoadError, SigmaRuleSet};

use crate::ui::{self, ColorChoice};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RulesFormat {
    Text,
    Json,
    Md,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FamilyArg {
    Cloudtrail,
    Posture,
    Policy,
}

impl FamilyArg {
    fn family(self) -> Family {
        match self {
            FamilyArg::Cloudtrail => Family::Cloudtrail,
            FamilyArg::Posture => Family::Posture,
            FamilyArg::Policy => Family::Policy,
        }
    }
}

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  trailguard rules                         # every built-in rule, one line each
  trailguard rules CT001                   # one rule's full doc (code or name)
  trailguard rules --family posture --format md > docs/posture.md
  trailguard rules --sigma ../shared/data/sigma-aws/rules --format json")]
pub struct RulesArgs {
    /// Show this rule's full doc (a code like CT001, a rule name, or a Sigma rule id or name).
    #[arg(value_name = "CODE")]
    pub code: Option<String>,

    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = RulesFormat::Text)]
    pub format: RulesFormat,

    /// Only this family of built-in rules.
    #[arg(long, value_enum)]
    pub family: Option<FamilyArg>,

    /// Also load and list the Sigma rules in DIR (repeatable); load errors are listed too.
    #[arg(long, value_name = "DIR")]
    pub sigma: Vec<PathBuf>,

    /// Colour in the text listing.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

pub fn run(args: RulesArgs) -> anyhow::Result<ExitCode> {
    let metas: Vec<&'static RuleMeta> = registry::metas()
        .into_iter()
        .filter(|m| args.family.is_none_or(|f| m.family == f.family()))
        .collect();
    let (sigma, sigma_errors) = if args.sigma.is_empty() {
        (SigmaRuleSet::default(), Vec::new())
    } else {
        SigmaRuleSet::load_dirs(&args.sigma)
    };

    let text =
        match &args.code {
            Some(code) => {
                let wanted = code.trim();
                if let Some(meta) = metas.iter().find(|m| {
                    m.code.eq_ignore_ascii_case(wanted) || m.name.eq_ignore_ascii_case(wanted)
                }) {
                    match args.format {
                        RulesFormat::Json => json_text(&json!(meta))?,
                        RulesFormat::Md => markdown_rule(meta),
                        RulesFormat::Text => text_rule(meta),
                    }
                } else if let Some(rule) = sigma.rules().iter().find(|r| {
                    r.id.eq_ignore_ascii_case(wanted) || r.name.eq_ignore_ascii_case(wanted)
                }) {
                    match args.format {
                        RulesFormat::Json => json_text(&sigma_json(rule))?,
                        RulesFormat::Md | RulesFormat::Text => text_sigma_rule(rule),
                    }
                } else {
                    let reason = resolve_codes(&metas, &[wanted.to_owned()])
                        .err()
                        .unwrap_or_else(|| format!("unknown rule `{wanted}`"));
                    anyhow::bail!("{reason}: run `trailguard rules` for the list");
                }
            }
            None => match args.format {
                RulesFormat::Json => json_text(&json!({
                    "rules": metas,
                    "sigma": {
                        "rules": sigma.rules().iter().map(sigma_json).collect::<Vec<_>>(),
                        "errors": sigma_errors.iter().map(|e| json!({
                            "file": e.file,
                            "title": e.title,
                            "error": e.kind.to_string(),
                            "skipped": e.is_skip(),
                        })).collect::<Vec<_>>(),
                    },
                }))?,
                RulesFormat::Md => {
                    let mut md = String::from("# trailguard rules\n\n");
                    for meta in &metas {
                        md.push_str(&markdown_rule(meta));
                        md.push('\n');
                    }
                    md
                }
                RulesFormat::Text => text_list(
                    &metas,
                    &sigma,
                    &sigma_errors,
                    args.color.resolve(ui::stdout_is_terminal()),
                ),
            },
        };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .context("cannot write to stdout")?;
    // `--sigma` that yields no rule at all is a failed load, not an empty list: a CI step that
    // validates a rules directory must see it fail.
    if !args.sigma.is_empty() && sigma.is_empty() {
        for err in sigma_errors.iter().filter(|e| !e.is_skip()) {
            eprintln!("error: sigma: {err}");
        }
        let skipped = sigma_errors.iter().filter(|e| e.is_skip()).count();
        eprintln!(
            "error: no Sigma rule could be loaded from {} ({} failed to load, {skipped} for other log sources)",
            args.sigma
                .iter()
                .map(|p| format!("`{}`", p.display()))
                .collect::<Vec<_>>()
                .join(", "),
            sigma_errors.len() - skipped
        );
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

fn json_text(value: &serde_json::Value) -> anyhow::Result<String> {
    let mut text = serde_json::to_string_pretty(value).context("cannot encode rules as JSON")?;
    text.push('\n');
    Ok(text)
}

fn family_name(family: Family) -> &'static str {
    match family {
        Family::Cloudtrail => "cloudtrail",
        Family::Posture => "posture",
        Family::Policy => "policy",
    }
}

fn text_list(
    metas: &[&RuleMeta],
    sigma: &SigmaRuleSet,
    errors: &[SigmaLoadError],
    color: bool,
) -> String {
    let bold = |s: &str| {
        if color {
            format!("\u{1b}[1m{s}\u{1b}[0m")
        } else {
            s.to_owned()
        }
    };
    let mut text = String::new();
    for family in [Family::Cloudtrail, Family::Posture, Family::Policy] {
        let rules: Vec<&&RuleMeta> = metas.iter().filter(|m| m.family == family).collect();
        if rules.is_empty() {
            continue;
        }
        let _ = writeln!(
            text,
            "{}",
            bold(&format!("{} rules ({})", family_name(family), rules.len()))
        );
        for meta in rules {
            let _ = writeln!(
                text,
                "  {:<7} {:<9} {:<44} {}",
                meta.code,
                meta.severity.as_str(),
                meta.name,
                meta.title
            );
        }
        text.push('\n');
    }
    if metas.is_empty() {
        text.push_str("no built-in rules match\n\n");
    }
    if !sigma.is_empty() || !errors.is_empty() {
        let _ = writeln!(
            text,
            "{}",
            bold(&format!("sigma rules ({} loaded)", sigma.len()))
        );
        for rule in sigma.rules() {
            let _ = writeln!(
                text,
                "  {:<36} {:<9} {}",
                visible(&rule.id),
                rule.level.as_str(),
                visible(&rule.title)
            );
        }
        let broken: Vec<&SigmaLoadError> = errors.iter().filter(|e| !e.is_skip()).collect();
        let skipped = errors.len() - broken.len();
        if !broken.is_empty() {
            let _ = writeln!(
                text,
                "\n{}",
                bold(&format!("sigma load errors ({})", broken.len()))
            );
            for err in broken {
                let _ = writeln!(text, "  {}", visible(&err.to_string()));
            }
        }
        if skipped > 0 {
            let _ = writeln!(
                text,
                "\n{skipped} sigma files are for other log sources and were skipped"
            );
        }
        text.push('\n');
    }
    text.push_str("Run `trailguard rules CODE` for a rule's full doc.\n");
    text
}

fn text_rule(meta: &RuleMeta) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "{} {}: {}", meta.code, meta.name, meta.title);
    let _ = writeln!(
        text,
        "family {} · severity {}",
        family_name(meta.family),
        meta.severity
    );
    if !meta.attack.is_empty() {
        let _ = writeln!(text, "ATT&CK {}", meta.attack.join(", "));
    }
    if !meta.compliance.is_empty() {
        let _ = writeln!(text, "compliance {}", meta.compliance.join(", "));
    }
    if !meta.events.is_empty() {
        let events: Vec<String> = meta
            .events
            .iter()
            .map(|(source, name)| format!("{name} ({source})"))
            .collect();
        let _ = writeln!(text, "events {}", events.join(", "));
    }
    for (heading, body) in [
        ("What it detects", meta.doc.what),
        ("Why it matters", meta.doc.why),
        ("Example", meta.doc.example),
        ("Fix", meta.doc.fix),
    ] {
        let _ = writeln!(text, "\n{heading}\n{}", indent(body.trim()));
    }
    if !meta.doc.references.is_empty() {
        let _ = writeln!(text, "\nReferences");
        for reference in meta.doc.references {
            let _ = writeln!(text, "  {reference}");
        }
    }
    if !meta.kb_entries.is_empty() {
        let _ = writeln!(text, "\nLearn more");
        for entry in meta.kb_entries {
            let _ = writeln!(text, "  trailguard explain {entry}");
        }
    }
    text
}

fn markdown_rule(meta: &RuleMeta) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "## {} {}\n", meta.code, meta.title);
    let _ = writeln!(
        md,
        "`{}` · family {} · severity **{}**",
        meta.name,
        family_name(meta.family),
        meta.severity
    );
    if !meta.attack.is_empty() {
        let _ = writeln!(md, "· ATT&CK {}", meta.attack.join(", "));
    }
    if !meta.compliance.is_empty() {
        let _ = writeln!(md, "· {}", meta.compliance.join(", "));
    }
    md.push('\n');
    for (heading, body) in [
        ("What it detects", meta.doc.what),
        ("Why it matters", meta.doc.why),
        ("Example", meta.doc.example),
        ("Fix", meta.doc.fix),
    ] {
        let _ = writeln!(md, "### {heading}\n\n{}\n", body.trim());
    }
    if !meta.doc.references.is_empty() {
        md.push_str("### References\n\n");
        for reference in meta.doc.references {
            let _ = writeln!(md, "- {reference}");
        }
        md.push('\n');
    }
    md
}

fn sigma_json(rule: &CompiledRule) -> serde_json::Value {
    json!({
        "id": rule.id,
        "name": rule.name,
        "title": rule.title,
        "level": rule.level,
        "status": rule.status,
        "file": rule.file,
        "description": rule.description,
        "attack": rule.attack,
        "falsepositives": rule.falsepositives,
        "references": rule.references,
    })
}

fn text_sigma_rule(rule: &CompiledRule) -> String {
    let mut text = String::new();
    // Everything here comes from the rule file: shown, never obeyed (`visible`).
    let _ = writeln!(
        text,
        "{} (sigma {})",
        visible(&rule.title),
        visible(&rule.id)
    );
    let _ = writeln!(text, "file {}", visible(&rule.file));
    let _ = writeln!(
        text,
        "level {}{}",
        rule.level,
        rule.status
            .as_deref()
            .map(|s| format!(" · status {}", visible(s)))
            .unwrap_or_default()
    );
    if !rule.attack.is_empty() {
        let _ = writeln!(text, "ATT&CK {}", visible(&rule.attack.join(", ")));
    }
    if let Some(description) = &rule.description {
        // The description's own line breaks are kept; anything else in a line is escaped.
        let lines: Vec<_> = description.trim().lines().map(visible).collect();
        let _ = writeln!(text, "\n{}", indent(&lines.join("\n")));
    }
    if !rule.falsepositives.is_empty() {
        let _ = writeln!(text, "\nKnown false positives");
        for fp in &rule.falsepositives {
            let _ = writeln!(text, "  {}", visible(fp));
        }
    }
    if !rule.references.is_empty() {
        let _ = writeln!(text, "\nReferences");
        for reference in &rule.references {
            let _ = writeln!(text, "  {}", visible(reference));
        }
    }
    text
}

fn indent(body: &str) -> String {
    body.lines()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("  {l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}
