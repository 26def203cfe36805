//! The terminal report: findings grouped by severity (critical first), each with what happened, who did
//! it, to what, the evidence and the exact fix commands, then a summary of the run.
//!
//! Findings are buffered until [`FindingWriter::finish`] because grouping needs them all, and the buffer
//! is bounded: the report keeps the [`REPORT_LIMIT`] findings that come first in its order (worst, then
//! earliest) and says how many more there were; the summary still counts every one, and the streaming
//! formats (`--format json`, ...) carry them all. Colour is the caller's choice
//! ([`OutputOptions::color`]): on a TTY and without `NO_COLOR`. Long values are shortened only for a
//! terminal ([`OutputOptions::truncate`]).
//!
//! Every value from the input goes through [`visible`] before it is printed: a record cannot drive the
//! terminal or forge a line of the report.

use std::fmt::Write as _;
use std::io::{self, Write};

use owo_colors::{OwoColorize, Style};

use crate::finding::{Actor, Evidence, Finding, Fix, Location, Outcome, Resource, Severity};
use crate::output::{truncate_chars, visible, FindingWriter, OutputOptions, RunSummary};

/// Longest evidence value shown inline on a terminal; the JSON output keeps the whole value.
const EVIDENCE_MAX_CHARS: usize = 240;
/// Longest user agent shown on a terminal.
const USER_AGENT_MAX_CHARS: usize = 80;
const LABEL_WIDTH: usize = 10;
/// Findings the report lists at most; the rest are counted (the summary has every one).
pub const REPORT_LIMIT: usize = 10_000;

pub struct TextWriter<W: Write> {
    out: W,
    color: bool,
    width: usize,
    truncate: bool,
    findings: Vec<Finding>,
    /// Findings dropped from the report to stay within [`REPORT_LIMIT`].
    not_listed: u64,
}

impl<W: Write> TextWriter<W> {
    pub fn new(out: W, options: &OutputOptions) -> Self {
        TextWriter {
            out,
            color: options.color,
            width: options.width.unwrap_or(100).max(40),
            truncate: options.truncate,
            findings: Vec::new(),
            not_listed: 0,
        }
    }

    /// Keeps the first [`REPORT_LIMIT`] findings in report order.
    fn trim(&mut self) {
        if self.findings.len() <= REPORT_LIMIT {
            return;
        }
        self.findings.sort_by(report_order);
        self.not_listed += (self.findings.len() - REPORT_LIMIT) as u64;
        self.findings.truncate(REPORT_LIMIT);
    }
}

/// Worst first, then by time so a story reads in order within a severity.
fn report_order(a: &Finding, b: &Finding) -> std::cmp::Ordering {
    b.severity
        .cmp(&a.severity)
        .then_with(|| a.event_time.cmp(&b.event_time))
        .then_with(|| a.rule_id.cmp(&b.rule_id))
        .then_with(|| a.id.cmp(&b.id))
}

impl<W: Write> FindingWriter for TextWriter<W> {
    fn write(&mut self, finding: &Finding) -> io::Result<()> {
        self.findings.push(finding.clone());
        // Trimming at twice the limit keeps the cost of sorting small per finding.
        if self.findings.len() >= 2 * REPORT_LIMIT {
            self.trim();
        }
        Ok(())
    }

    fn finish(&mut self, summary: &RunSummary) -> io::Result<()> {
        self.trim();
        let mut findings = std::mem::take(&mut self.findings);
        findings.sort_by(report_order);
        let painter = Painter { color: self.color };
        let truncate = self.truncate;
        let mut text = String::new();
        for severity in Severity::ALL {
            let group: Vec<&Finding> = findings.iter().filter(|f| f.severity == severity).collect();
            if group.is_empty() {
                continue;
            }
            let heading = format!("{} ({})", severity.as_str().to_uppercase(), group.len());
            let _ = writeln!(text, "{}", painter.severity(severity, &heading));
            let _ = writeln!(text, "{}", "─".repeat(heading.chars().count()));
            for finding in group {
                render_finding(
                    &mut text,
                    &displayable(finding),
                    &painter,
                    self.width,
                    truncate,
                );
            }
        }
        if self.not_listed > 0 {
            let _ = writeln!(
                text,
                "… and {} more findings not listed: the report lists the {REPORT_LIMIT} worst (then earliest); \
                 `--format json` carries every one.\n",
                self.not_listed
            );
        }
        if findings.is_empty() {
            let _ = writeln!(
                text,
                "{}\n",
                painter.paint(Style::new().green(), "No findings.")
            );
        }
        text.push_str(&render_summary(summary, self.color));
        self.out.write_all(text.as_bytes())?;
        self.out.flush()
    }
}

/// The summary block alone, for commands that print it on stderr beside a machine-readable format.
pub fn render_summary(summary: &RunSummary, color: bool) -> String {
    let painter = Painter { color };
    let mut text = String::new();
    let _ = writeln!(text, "{}", painter.paint(Style::new().bold(), "Summary"));
    if !summary.inputs.is_empty() {
        let _ = writeln!(
            text,
            "{}",
            field("inputs", &visible(&summary.inputs.join(", ")))
        );
    }
    let mut read = plural(summary.files, "file", "files");
    if summary.files_failed > 0 {
        let _ = write!(read, " ({} unreadable)", summary.files_failed);
    }
    let _ = write!(read, ", {}", plural(summary.records, "record", "records"));
    if summary.records_filtered > 0 {
        let _ = write!(read, " ({} left out by filters)", summary.records_filtered);
    }
    if summary.files > 0 || summary.records > 0 || summary.command == "scan" {
        let _ = writeln!(text, "{}", field("read", &read));
    }
    if !summary.skipped.is_empty() {
        let parts: Vec<String> = summary
            .skipped
            .iter()
            .map(|(reason, n)| format!("{n} {reason}"))
            .collect();
        let _ = writeln!(
            text,
            "{}",
            field(
                "skipped",
                &format!("{} ({})", summary.total_skipped(), parts.join(", "))
            )
        );
    }
    if summary.errors > 0 {
        let errors = format!("{} (see the lines above, on stderr)", summary.errors);
        let _ = writeln!(
            text,
            "{}",
            field("errors", &painter.paint(Style::new().yellow(), &errors))
        );
    }
    if summary.rules > 0 {
        let _ = writeln!(text, "{}", field("rules", &summary.rules.to_string()));
    }
    let by_severity: Vec<String> = Severity::ALL
        .iter()
        .map(|sev| {
            let n = summary.findings.get(sev).copied().unwrap_or(0);
            let part = format!("{n} {sev}");
            if n > 0 {
                painter.severity(*sev, &part)
            } else {
                part
            }
        })
        .collect();
    let _ = writeln!(
        text,
        "{}",
        field(
            "findings",
            &format!("{} ({})", summary.total_findings(), by_severity.join(", "))
        )
    );
    if summary.findings_muted > 0 {
        let _ = writeln!(
            text,
            "{}",
            field(
                "muted",
                &format!(
                    "{} muted (see `trailguard mute list`; --show-muted reports them)",
                    summary.findings_muted
                )
            )
        );
    }
    if summary.findings_folded > 0 {
        let _ = writeln!(
            text,
            "{}",
            field(
                "repeats",
                &format!(
                    "{} (the same finding again, e.g. an event delivered twice: folded into the first)",
                    summary.findings_folded
                )
            )
        );
    }
    if summary.duration_ms > 0 {
        let _ = writeln!(
            text,
            "{}",
            field(
                "time",
                &format!("{:.2} s", summary.duration_ms as f64 / 1000.0)
            )
        );
    }
    for note in &summary.notes {
        let _ = writeln!(text, "{}", field("note", &visible(note)));
    }
    text
}

/// `value` made [`visible`]; a value that needed escaping also keeps its spaces from line wrapping (they
/// become no-break spaces), so it stays on one line and reads as one value, never as a report line.
fn one_value(value: &str) -> String {
    match visible(value) {
        std::borrow::Cow::Borrowed(plain) => plain.to_owned(),
        std::borrow::Cow::Owned(escaped) => escaped.replace(' ', "\u{a0}"),
    }
}

/// A copy of `finding` with every string made [`visible`]. Every field is named, so a new field of
/// `Finding` cannot reach the terminal without a decision here.
fn displayable(finding: &Finding) -> Finding {
    let Finding {
        id,
        rule_id,
        rule_name,
        title,
        severity,
        source,
        outcome,
        message,
        event_time,
        event_name,
        event_source,
        event_id,
        account,
        region,
        actor,
        resource,
        evidence,
        attack,
        compliance,
        fix,
        notes,
        location,
    } = finding;
    let text = |s: &String| one_value(s);
    let opt = |s: &Option<String>| s.as_deref().map(one_value);
    let list = |l: &Vec<String>| l.iter().map(text).collect::<Vec<_>>();
    Finding {
        id: text(id),
        rule_id: text(rule_id),
        rule_name: text(rule_name),
        title: text(title),
        severity: *severity,
        source: *source,
        outcome: match outcome {
            Outcome::Attempt { error_code } => Outcome::Attempt {
                error_code: text(error_code),
            },
            other => other.clone(),
        },
        message: text(message),
        event_time: opt(event_time),
        event_name: opt(event_name),
        event_source: opt(event_source),
        event_id: opt(event_id),
        account: opt(account),
        region: opt(region),
        actor: actor.as_ref().map(|a| Actor {
            arn: opt(&a.arn),
            identity_type: opt(&a.identity_type),
            user_name: opt(&a.user_name),
            access_key_id: opt(&a.access_key_id),
            source_ip: opt(&a.source_ip),
            user_agent: opt(&a.user_agent),
            mfa: a.mfa,
        }),
        resource: resource.as_ref().map(|r| Resource {
            kind: text(&r.kind),
            id: text(&r.id),
            name: opt(&r.name),
        }),
        // Values are rendered (and made visible) when printed: JSON text keeps their types apparent.
        evidence: evidence
            .iter()
            .map(|e| Evidence {
                path: text(&e.path),
                value: e.value.clone(),
            })
            .collect(),
        attack: list(attack),
        compliance: list(compliance),
        fix: Fix {
            summary: text(&fix.summary),
            commands: list(&fix.commands),
            kb_entry: opt(&fix.kb_entry),
            actions: fix.actions.clone(),
        },
        notes: list(notes),
        location: location.as_ref().map(|l| Location {
            file: text(&l.file),
            line: l.line,
            column: l.column,
            json_path: opt(&l.json_path),
        }),
    }
}

fn render_finding(
    text: &mut String,
    finding: &Finding,
    painter: &Painter,
    width: usize,
    truncate: bool,
) {
    let badge = format!("[{}]", finding.severity.as_str().to_uppercase());
    let _ = writeln!(
        text,
        "{} {} {}",
        painter.severity(finding.severity, &badge),
        painter.paint(Style::new().bold(), &finding.title),
        painter.paint(
            Style::new().dimmed(),
            &format!("{} {}", finding.rule_id, finding.rule_name)
        ),
    );
    let indent = " ".repeat(LABEL_WIDTH + 4);
    let wrap = |body: &str| -> String {
        // Never split ARNs and names at hyphens, nor break long words (URLs, ARNs): overflow instead.
        let options = textwrap::Options::new(width.saturating_sub(indent.len()).max(20))
            .break_words(false)
            .word_separator(textwrap::WordSeparator::AsciiSpace)
            .word_splitter(textwrap::WordSplitter::NoHyphenation);
        textwrap::wrap(body, options).join(&format!("\n{indent}"))
    };
    let _ = writeln!(text, "{}", field("what", &wrap(&finding.message)));

    let mut when_where = Vec::new();
    if let Some(time) = &finding.event_time {
        when_where.push(time.clone());
    }
    match (&finding.account, &finding.region) {
        (Some(account), Some(region)) => when_where.push(format!("account {account} / {region}")),
        (Some(account), None) => when_where.push(format!("account {account}")),
        (None, Some(region)) => when_where.push(region.clone()),
        (None, None) => {}
    }
    if !when_where.is_empty() {
        let _ = writeln!(text, "{}", field("when", &when_where.join(" · ")));
    }
    if let Some(event_name) = &finding.event_name {
        let mut event = event_name.clone();
        if let Some(source) = &finding.event_source {
            let _ = write!(event, " ({source})");
        }
        if let Some(id) = &finding.event_id {
            let _ = write!(event, " id {id}");
        }
        let _ = writeln!(text, "{}", field("event", &event));
    }
    if let Outcome::Attempt { error_code } = &finding.outcome {
        let attempt = format!("attempt only: the call failed with {error_code}, nothing changed");
        let _ = writeln!(
            text,
            "{}",
            field("outcome", &painter.paint(Style::new().cyan(), &attempt))
        );
    }
    if let Some(actor) = &finding.actor {
        for (i, line) in actor_lines(actor, truncate).into_iter().enumerate() {
            let label = if i == 0 { "actor" } else { "" };
            let _ = writeln!(text, "{}", field(label, &line));
        }
    }
    if let Some(resource) = &finding.resource {
        let mut line = format!("{} {}", resource.kind, resource.id);
        if let Some(name) = &resource.name {
            if !resource.id.ends_with(name.as_str()) {
                let _ = write!(line, " ({name})");
            }
        }
        let _ = writeln!(text, "{}", field("resource", &line));
    }
    if let Some(location) = &finding.location {
        let mut line = location.file.clone();
        if let Some(l) = location.line {
            let _ = write!(line, ":{l}");
            if let Some(c) = location.column {
                let _ = write!(line, ":{c}");
            }
        }
        if let Some(path) = &location.json_path {
            let _ = write!(line, " ({path})");
        }
        let _ = writeln!(text, "{}", field("location", &line));
    }
    for (i, evidence) in finding.evidence.iter().enumerate() {
        let value = match &evidence.value {
            serde_json::Value::String(s) => format!("{s:?}"),
            other => other.to_string(),
        };
        let value = visible(&value);
        let value = if truncate {
            truncate_chars(&value, EVIDENCE_MAX_CHARS)
        } else {
            value.into_owned()
        };
        let line = format!("{} = {value}", evidence.path);
        let label = if i == 0 { "evidence" } else { "" };
        let _ = writeln!(text, "{}", field(label, &wrap(&line)));
    }
    let mut tags = Vec::new();
    if !finding.attack.is_empty() {
        tags.push(format!("ATT&CK {}", finding.attack.join(", ")));
    }
    if !finding.compliance.is_empty() {
        tags.push(finding.compliance.join(", "));
    }
    if !tags.is_empty() {
        let _ = writeln!(text, "{}", field("maps to", &tags.join(" · ")));
    }
    if !finding.fix.summary.is_empty() {
        let _ = writeln!(text, "{}", field("fix", &wrap(&finding.fix.summary)));
    }
    for command in &finding.fix.commands {
        let _ = writeln!(
            text,
            "{}",
            field(
                "",
                &painter.paint(Style::new().green(), &format!("$ {command}"))
            )
        );
    }
    // Manual actions are instructions for a person, already said in the summary.
    let kinds: Vec<&str> = finding
        .fix
        .actions
        .iter()
        .map(|a| a.kind())
        .filter(|kind| *kind != "manual")
        .collect();
    if !kinds.is_empty() {
        let _ = writeln!(
            text,
            "{}",
            field(
                "",
                &format!("trailguard fix can do this: {}", kinds.join(", "))
            )
        );
    }
    if let Some(entry) = &finding.fix.kb_entry {
        let _ = writeln!(
            text,
            "{}",
            field("learn", &format!("trailguard explain {entry}"))
        );
    }
    for note in &finding.notes {
        let _ = writeln!(text, "{}", field("note", &wrap(note)));
    }
    let _ = writeln!(
        text,
        "{}",
        field("id", &painter.paint(Style::new().dimmed(), &finding.id))
    );
    text.push('\n');
}

/// The actor's identity on one line, then how it connected on a second.
fn actor_lines(actor: &Actor, truncate: bool) -> Vec<String> {
    let mut who = actor
        .arn
        .clone()
        .or_else(|| actor.user_name.clone())
        .unwrap_or_else(|| "unknown principal".to_owned());
    if let Some(kind) = &actor.identity_type {
        let _ = write!(who, " ({kind})");
    }
    let mut how = Vec::new();
    if let Some(key) = &actor.access_key_id {
        how.push(format!("key {key}"));
    }
    if let Some(ip) = &actor.source_ip {
        how.push(format!("from {ip}"));
    }
    match actor.mfa {
        Some(true) => how.push("MFA yes".to_owned()),
        Some(false) => how.push("MFA no".to_owned()),
        None => {}
    }
    if let Some(agent) = &actor.user_agent {
        how.push(if truncate {
            truncate_chars(agent, USER_AGENT_MAX_CHARS)
        } else {
            agent.clone()
        });
    }
    let mut lines = vec![who];
    if !how.is_empty() {
        lines.push(how.join(" · "));
    }
    lines
}

fn plural(count: u64, one: &str, many: &str) -> String {
    if count == 1 {
        format!("1 {one}")
    } else {
        format!("{count} {many}")
    }
}

fn field(label: &str, body: &str) -> String {
    format!("    {label:<LABEL_WIDTH$}{body}")
}

/// Applies styles only when colour is on, so the same code renders plain text for pipes and files.
struct Painter {
    color: bool,
}

impl Painter {
    fn paint(&self, style: Style, text: &str) -> String {
        if self.color {
            text.style(style).to_string()
        } else {
            text.to_owned()
        }
    }

    fn severity(&self, severity: Severity, text: &str) -> String {
        let style = match severity {
            Severity::Critical => Style::new().bright_white().on_red().bold(),
            Severity::High => Style::new().red().bold(),
            Severity::Medium => Style::new().yellow().bold(),
            Severity::Low => Style::new().blue(),
            Severity::Info => Style::new().dimmed(),
        };
        self.paint(style, text)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::output::fixtures::sample_findings;

    fn sample_summary() -> RunSummary {
        let mut summary = RunSummary::new("scan");
        summary.inputs = vec!["samples/cloudtrail".into()];
        summary.files = 14;
        summary.files_failed = 2;
        summary.records = 412;
        summary.records_filtered = 3;
        summary.skipped = BTreeMap::from([
            ("corrupt gzip".to_owned(), 1),
            ("not CloudTrail".to_owned(), 1),
        ]);
        summary.errors = 2;
        summary.rules = 31;
        summary.duration_ms = 1234;
        for finding in sample_findings() {
            summary.count_finding(&finding);
        }
        summary
    }

    fn render(color: bool, findings: &[Finding]) -> String {
        let mut buf = Vec::new();
        let options = OutputOptions {
            color,
            ..OutputOptions::default()
        };
        let mut writer = TextWriter::new(&mut buf, &options);
        for finding in findings {
            writer.write(finding).unwrap();
        }
        writer.finish(&sample_summary()).unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn groups_by_severity_worst_first() {
        let text = render(false, &sample_findings());
        let critical = text.find("CRITICAL (1)").unwrap();
        let high = text.find("HIGH (1)").unwrap();
        let medium = text.find("MEDIUM (1)").unwrap();
        let info = text.find("INFO (1)").unwrap();
        assert!(critical < high && high < medium && medium < info);
        assert!(text.contains("$ aws iam set-default-policy-version"));
        assert!(text.contains("trailguard explain CreatePolicyVersion"));
        assert!(text.contains("attempt only: the call failed with AccessDenied"));
        assert!(text.contains("5 (1 critical, 1 high, 1 medium, 1 low, 1 info)"));
        assert!(
            !text.contains('\u{1b}'),
            "plain text must carry no ANSI escapes"
        );
    }

    #[test]
    fn long_values_are_shortened_for_a_terminal_only() {
        let findings = sample_findings();
        let agent = findings
            .iter()
            .filter_map(|f| f.actor.as_ref()?.user_agent.as_deref())
            .find(|a| a.chars().count() > USER_AGENT_MAX_CHARS)
            .expect("a sample with a long user agent")
            .to_owned();
        assert!(render(false, &findings).contains(&agent));
        let mut buf = Vec::new();
        let options = OutputOptions {
            truncate: true,
            ..OutputOptions::default()
        };
        let mut writer = TextWriter::new(&mut buf, &options);
        for finding in &findings {
            writer.write(finding).unwrap();
        }
        writer.finish(&sample_summary()).unwrap();
        let on_terminal = String::from_utf8(buf).unwrap();
        assert!(!on_terminal.contains(&agent));
        assert!(on_terminal.contains(&truncate_chars(&agent, USER_AGENT_MAX_CHARS)));
    }

    #[test]
    fn colour_only_when_asked() {
        let text = render(true, &sample_findings());
        assert!(text.contains('\u{1b}'));
    }

    #[test]
    fn empty_run_says_so() {
        let text = render(false, &[]);
        assert!(text.starts_with("No findings."));
    }

    #[test]
    fn snapshot() {
        insta::assert_snapshot!(render(false, &sample_findings()));
    }
}
