//! `trailguard explain`: show a knowledge-base entry (what the event is, how it is abused, how to fix it),
//! or list entries with filters.
//!
//! Text output is rendered from the entry's Markdown for a terminal: wrapped to the terminal width, coloured
//! when stdout is a terminal (anstream strips the colour otherwise and honours `NO_COLOR`), with the Python
//! setup block hidden (it only prepares moto for the tests). `--format md` prints the entry's source and
//! `--format json` the parsed entry. An unknown event exits 2 with "did you mean" suggestions.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use trailguard_kb::{Entry, Kb, ListFilter, Severity, RISK_KINDS};
use trailguard_rules::output::{truncate_chars, visible};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExplainFormat {
    /// Rendered for a terminal (wrapped; coloured on a TTY).
    Text,
    /// The entry's Markdown source.
    Md,
    /// The parsed entry as JSON.
    Json,
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  trailguard explain CreatePolicyVersion\n  trailguard explain sts:AssumeRole --format json\n  trailguard explain --list --service iam --risk privilege-escalation --severity high"
)]
pub struct ExplainArgs {
    /// CloudTrail event name, case-insensitive (`CreatePolicyVersion`), optionally with its service
    /// (`sts:AssumeRole`, `iam.amazonaws.com:CreateUser`).
    #[arg(required_unless_present = "list", conflicts_with = "list")]
    pub event: Option<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ExplainFormat::Text)]
    pub format: ExplainFormat,

    /// List entries (one line each) instead of explaining one.
    #[arg(long)]
    pub list: bool,

    /// With --list: only this service (`iam`, `sts`, `signin`, `organizations`, `cloudtrail`,
    /// `access-analyzer`, or the full event source).
    #[arg(long, requires = "list")]
    pub service: Option<String>,

    /// With --list: only entries with this risk (`privilege-escalation`, `persistence`, `defense-evasion`, ...).
    #[arg(long, requires = "list")]
    pub risk: Option<String>,

    /// With --list: only entries whose baseline severity is at or above this one.
    #[arg(long, requires = "list", value_parser = parse_severity)]
    pub severity: Option<Severity>,

    /// With --list: only entries a rule code detects (`CT001`).
    #[arg(long, requires = "list")]
    pub rule: Option<String>,
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse::<Severity>().map_err(|e| e.to_string())
}

pub fn run(args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let kb = Kb::builtin();
    for error in kb.errors() {
        eprintln!("warning: knowledge-base entry skipped: {error}");
    }
    if args.list {
        return list(kb, &args);
    }
    let name = args.event.as_deref().unwrap_or_default();
    let Some(entry) = kb.lookup(name) else {
        eprintln!("error: no knowledge-base entry for `{}`", visible(name));
        let suggestions = kb.suggest(name);
        if !suggestions.is_empty() {
            eprintln!("  did you mean: {}?", suggestions.join(", "));
        }
        eprintln!(
            "  run `trailguard explain --list` to see all {} entries",
            kb.entries().len()
        );
        return Ok(ExitCode::from(2));
    };
    let text = match args.format {
        ExplainFormat::Text => render_entry(entry, terminal_width()),
        ExplainFormat::Md => entry_source(entry),
        ExplainFormat::Json => serde_json::to_string_pretty(entry)? + "\n",
    };
    write_out(&text)?;
    Ok(ExitCode::SUCCESS)
}

fn list(kb: &Kb, args: &ExplainArgs) -> anyhow::Result<ExitCode> {
    if let Some(risk) = &args.risk {
        if !RISK_KINDS.contains(&risk.to_ascii_lowercase().as_str()) {
            anyhow::bail!(
                "unknown risk `{risk}` (expected one of {})",
                RISK_KINDS.join(", ")
            );
        }
    }
    if let Some(service) = &args.service {
        let wanted = service
            .trim_end_matches(".amazonaws.com")
            .to_ascii_lowercase();
        let mut services: Vec<&str> = kb.entries().iter().map(|e| e.service.as_str()).collect();
        services.dedup();
        if !services.contains(&wanted.as_str()) {
            anyhow::bail!(
                "no knowledge-base entries for service `{service}`: the knowledge base covers {}",
                services.join(", ")
            );
        }
    }
    let filter = ListFilter {
        service: args.service.clone(),
        risk: args.risk.clone(),
        min_severity: args.severity,
        rule: args.rule.clone(),
    };
    let entries = kb.list(&filter);
    let text = match args.format {
        ExplainFormat::Json => {
            let rows: Vec<serde_json::Value> = entries
                .iter()
                .map(|e| {
                    serde_json::json!({
                        "event": e.event, "source": e.source, "service": e.service, "title": e.title,
                        "severity": e.severity, "risks": e.risks, "attack": e.attack, "rules": e.rules,
                    })
                })
                .collect();
            serde_json::to_string_pretty(&rows)? + "\n"
        }
        ExplainFormat::Md => {
            let mut out = String::from("| Event | Service | Severity | Risks | Rules | Title |\n|---|---|---|---|---|---|\n");
            for e in &entries {
                out.push_str(&format!(
                    "| {} | {} | {} | {} | {} | {} |\n",
                    e.event,
                    e.service,
                    e.severity,
                    e.risks.join(", "),
                    e.rules.join(", "),
                    e.title
                ));
            }
            out
        }
        ExplainFormat::Text => {
            let width = entries
                .iter()
                .map(|e| e.event.len())
                .max()
                .unwrap_or(5)
                .max(5);
            // Columns are shortened for a terminal only: a pipe or a file gets every value whole.
            let on_terminal = std::io::IsTerminal::is_terminal(&std::io::stdout());
            let mut out = String::new();
            for e in &entries {
                let risks = e.risks.join(",");
                let risks = if on_terminal {
                    truncate_chars(&risks, 30)
                } else {
                    risks
                };
                out.push_str(&format!(
                    "{}{:<width$}{}  {:<15}  {}  {:<30}  {}\n",
                    BOLD,
                    visible(&e.event),
                    BOLD_END,
                    visible(&e.service),
                    severity_label(e.severity),
                    visible(&risks),
                    visible(&e.title)
                ));
            }
            if entries.is_empty() {
                eprintln!("no entries match these filters (`trailguard explain --list` lists all)");
            } else {
                eprintln!("{} of {} entries", entries.len(), kb.entries().len());
            }
            out
        }
    };
    write_out(&text)?;
    Ok(ExitCode::SUCCESS)
}

fn write_out(text: &str) -> anyhow::Result<()> {
    let mut out = anstream::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        // A closed pipe (`| head`) is not an error worth reporting.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing to stdout"),
    }
}

/// The entry's Markdown as stored (front matter and body), for `--format md`.
fn entry_source(entry: &Entry) -> String {
    trailguard_kb::embedded_sources()
        .iter()
        .find(|(path, _)| *path == entry.file)
        .map(|(_, text)| (*text).to_owned())
        .unwrap_or_else(|| entry.body.clone())
}

/// Terminal width for wrapping: the real terminal, else `$COLUMNS`, else 100; kept within 40..=120 so
/// prose stays readable on very wide terminals.
fn terminal_width() -> usize {
    let width = terminal_size::terminal_size()
        .map(|(w, _)| usize::from(w.0))
        .or_else(|| std::env::var("COLUMNS").ok()?.parse().ok())
        .unwrap_or(100);
    width.clamp(40, 120)
}

const BOLD: &str = "\x1b[1m";
const BOLD_END: &str = "\x1b[22m";
const ITALIC: &str = "\x1b[3m";
const ITALIC_END: &str = "\x1b[23m";
const UNDERLINE: &str = "\x1b[4m";
const UNDERLINE_END: &str = "\x1b[24m";
const CYAN: &str = "\x1b[36m";
const YELLOW: &str = "\x1b[33m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const MAGENTA: &str = "\x1b[35m";
const DIM: &str = "\x1b[2m";
const DIM_END: &str = "\x1b[22m";
const COLOR_END: &str = "\x1b[39m";

fn severity_color(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => RED,
        Severity::Medium => YELLOW,
        Severity::Low => CYAN,
        Severity::Info => GREEN,
    }
}

fn severity_label(severity: Severity) -> String {
    format!(
        "{}{:<8}{COLOR_END}",
        severity_color(severity),
        severity.as_str()
    )
}

/// The whole entry for a terminal: a header with the front matter, then the body.
pub fn render_entry(entry: &Entry, width: usize) -> String {
    let metas = trailguard_rules::registry::metas();
    let rules: Vec<String> = entry
        .rules
        .iter()
        .map(|code| match metas.iter().find(|m| m.code == code) {
            Some(meta) => format!("{code} {}", meta.name),
            None => code.clone(),
        })
        .collect();
    let mut out = String::new();
    out.push_str(&format!(
        "{BOLD}{}{BOLD_END}  {DIM}{}{DIM_END}  severity {}{}{COLOR_END}\n",
        entry.event,
        entry.source,
        severity_color(entry.severity),
        entry.severity
    ));
    out.push_str(&textwrap::fill(&entry.title, width));
    out.push_str("\n\n");
    let none = || "none".to_owned();
    let rows = [
        ("Risks", entry.risks.join(", ")),
        (
            "ATT&CK",
            if entry.attack.is_empty() {
                none()
            } else {
                entry.attack.join(", ")
            },
        ),
        (
            "Rules",
            if rules.is_empty() {
                none()
            } else {
                rules.join(", ")
            },
        ),
        (
            "Related",
            if entry.related.is_empty() {
                none()
            } else {
                entry.related.join(", ")
            },
        ),
    ];
    for (label, value) in rows {
        let options = textwrap::Options::new(width)
            .initial_indent("")
            .subsequent_indent("             ")
            .word_splitter(textwrap::WordSplitter::NoHyphenation);
        let line = format!("  {MAGENTA}{label:<9}{COLOR_END}  {value}");
        out.push_str(&textwrap::fill(&line, options));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&render_markdown(&entry.body_without_setup(), width));
    out
}

/// Renders Markdown for a terminal. Only what entries use: headings, paragraphs, nested lists, code blocks,
/// inline code, emphasis, links and simple tables.
pub fn render_markdown(markdown: &str, width: usize) -> String {
    let mut r = TermRenderer {
        width,
        out: String::new(),
        inline: String::new(),
        lists: Vec::new(),
        item_prefix: None,
        code: None,
        heading: None,
        link: None,
        table_row: Vec::new(),
    };
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    for event in Parser::new_ext(markdown, options) {
        r.event(event);
    }
    r.flush_inline();
    // At most one blank line in a row, and a single trailing newline.
    let mut text = String::with_capacity(r.out.len());
    let mut blank = 0;
    for line in r.out.lines() {
        if line.trim().is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text.trim_start_matches('\n')
        .trim_end()
        .replace(CODE_BLANK, "")
        + "\n"
}

/// Stands for an empty line inside a code block until output.
const CODE_BLANK: &str = "\u{1}";

struct TermRenderer {
    width: usize,
    out: String,
    /// Inline text of the current paragraph, heading or list item.
    inline: String,
    /// Open lists: `Some(next number)` for ordered ones.
    lists: Vec<Option<u64>>,
    /// Bullet or number waiting for the first line of the current item.
    item_prefix: Option<String>,
    /// Inside a code block: (language, text).
    code: Option<(String, String)>,
    heading: Option<HeadingLevel>,
    link: Option<String>,
    table_row: Vec<String>,
}

impl TermRenderer {
    fn indent(&self) -> usize {
        self.lists.len() * 3
    }

    fn event(&mut self, event: Event<'_>) {
        if let Some((_, code)) = self.code.as_mut() {
            match event {
                Event::Text(text) => code.push_str(&text),
                Event::End(TagEnd::CodeBlock) => self.end_code_block(),
                _ => {}
            }
            return;
        }
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                self.flush_inline();
                self.heading = Some(level);
            }
            Event::End(TagEnd::Heading(level)) => {
                let title = std::mem::take(&mut self.inline);
                let styled = match level {
                    HeadingLevel::H1 | HeadingLevel::H2 => {
                        format!(
                            "{BOLD}{UNDERLINE}{}{UNDERLINE_END}{BOLD_END}",
                            title.to_uppercase()
                        )
                    }
                    _ => format!("{BOLD}{title}{BOLD_END}"),
                };
                self.out.push('\n');
                self.out.push_str(&styled);
                self.out.push_str("\n\n");
                self.heading = None;
            }
            Event::Start(Tag::Paragraph) => self.flush_inline(),
            Event::End(TagEnd::Paragraph) => {
                self.flush_inline();
                if self.lists.is_empty() {
                    self.out.push('\n');
                }
            }
            Event::Start(Tag::List(start)) => {
                self.flush_inline();
                self.lists.push(start);
            }
            Event::End(TagEnd::List(_)) => {
                self.flush_inline();
                self.lists.pop();
                if self.lists.is_empty() {
                    self.out.push('\n');
                }
            }
            Event::Start(Tag::Item) => {
                self.flush_inline();
                let prefix = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        let p = format!("{n}. ");
                        *n += 1;
                        p
                    }
                    _ => "• ".to_owned(),
                };
                self.item_prefix = Some(prefix);
            }
            Event::End(TagEnd::Item) => self.flush_inline(),
            Event::Start(Tag::CodeBlock(kind)) => {
                self.flush_inline();
                let lang = match kind {
                    CodeBlockKind::Fenced(info) => info.to_string(),
                    CodeBlockKind::Indented => String::new(),
                };
                self.code = Some((lang, String::new()));
            }
            Event::Code(code) => {
                // Short inline code (a command, a field) never breaks across lines: its spaces become
                // no-break spaces until output. Long code (a JSON fragment) may wrap at its spaces.
                let code = if code.chars().count() <= 40 {
                    code.replace(' ', "\u{a0}")
                } else {
                    code.to_string()
                };
                self.inline.push_str(&format!("{CYAN}{code}{COLOR_END}"));
            }
            Event::Start(Tag::Strong) => self.inline.push_str(BOLD),
            Event::End(TagEnd::Strong) => self.inline.push_str(BOLD_END),
            Event::Start(Tag::Emphasis) => self.inline.push_str(ITALIC),
            Event::End(TagEnd::Emphasis) => self.inline.push_str(ITALIC_END),
            Event::Start(Tag::Link { dest_url, .. }) => self.link = Some(dest_url.to_string()),
            Event::End(TagEnd::Link) => {
                if let Some(url) = self.link.take() {
                    if !self.inline.ends_with(&url) {
                        self.inline.push_str(&format!(" {DIM}<{url}>{DIM_END}"));
                    }
                }
            }
            Event::Text(text) => self.inline.push_str(&text),
            Event::SoftBreak => self.inline.push(' '),
            Event::HardBreak => self.inline.push('\n'),
            Event::Rule => {
                self.flush_inline();
                self.out.push_str(&"─".repeat(self.width.min(60)));
                self.out.push_str("\n\n");
            }
            Event::Start(Tag::TableCell) => self.inline.clear(),
            Event::End(TagEnd::TableCell) => self.table_row.push(std::mem::take(&mut self.inline)),
            Event::End(TagEnd::TableHead) | Event::End(TagEnd::TableRow) => {
                let row = std::mem::take(&mut self.table_row).join("  │  ");
                self.out.push_str(&format!("  {row}\n"));
            }
            Event::End(TagEnd::Table) => self.out.push('\n'),
            _ => {}
        }
    }

    /// Wraps and writes the pending inline text, with the list bullet or number when there is one.
    fn flush_inline(&mut self) {
        let text = std::mem::take(&mut self.inline);
        if text.trim().is_empty() {
            return;
        }
        let base = " ".repeat(self.indent().saturating_sub(3));
        let (first, rest) = match self.item_prefix.take() {
            Some(prefix) => {
                let pad = " ".repeat(prefix.chars().count());
                (format!("{base}{prefix}"), format!("{base}{pad}"))
            }
            None if !self.lists.is_empty() => {
                let pad = " ".repeat(self.indent());
                (pad.clone(), pad)
            }
            None => (String::new(), String::new()),
        };
        // No hyphenation: `sign-in` or `list-policy-versions` must never be split across lines.
        let options = textwrap::Options::new(self.width)
            .initial_indent(&first)
            .subsequent_indent(&rest)
            .break_words(false)
            .word_splitter(textwrap::WordSplitter::NoHyphenation);
        for line in text.split('\n') {
            self.out
                .push_str(&textwrap::fill(line.trim(), &options).replace('\u{a0}', " "));
            self.out.push('\n');
        }
    }

    fn end_code_block(&mut self) {
        let Some((lang, code)) = self.code.take() else {
            return;
        };
        let pad = " ".repeat(self.indent() + 4);
        let color = match lang.split_whitespace().next().unwrap_or("") {
            "bash" | "sh" | "shell" => GREEN,
            "json" => DIM,
            _ => "",
        };
        let end = match color {
            "" => "",
            DIM => DIM_END,
            _ => COLOR_END,
        };
        if !lang.is_empty() {
            self.out.push_str(&format!("{pad}{DIM}# {lang}{DIM_END}\n"));
        }
        for line in code.lines() {
            if line.trim().is_empty() {
                // Kept through the blank-line folding in `render_markdown`: code keeps its own spacing.
                self.out.push_str(CODE_BLANK);
                self.out.push('\n');
            } else {
                self.out.push_str(&format!("{pad}{color}{line}{end}\n"));
            }
        }
        self.out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(text: &str) -> String {
        let mut out = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn every_entry_renders_within_the_width_without_its_setup_block() {
        let kb = Kb::builtin();
        assert!(!kb.entries().is_empty());
        for entry in kb.entries() {
            for width in [60, 100] {
                let text = plain(&render_entry(entry, width));
                assert!(text.starts_with(&entry.event), "{}", entry.file);
                for heading in ["EVENT INFORMATION", "RISKS", "REMEDIATION", "PREVENTION"] {
                    assert!(
                        text.contains(&format!("\n{heading}\n")),
                        "{}: no {heading}",
                        entry.file
                    );
                }
                // Prose wraps; code (indented four or more) and long unbreakable words may not.
                // The one-line header (event, source, severity) is not wrapped.
                for line in text.lines().skip(1).filter(|l| !l.starts_with("    ")) {
                    let fits = line.chars().count() <= width || !line.trim().contains(' ');
                    let long_word = line.split(' ').any(|w| w.chars().count() > width / 2);
                    assert!(fits || long_word, "{} at {width}: {line:?}", entry.file);
                }
                if let Some(setup) = &entry.sections.python_setup {
                    let first = setup.lines().find(|l| l.contains('(')).unwrap_or("");
                    if !first.is_empty() && !entry.sections.python.contains(first.trim()) {
                        assert!(
                            !text.contains(first.trim()),
                            "{}: setup shown: {first}",
                            entry.file
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn renders_markdown_wrapped_with_lists_and_code() {
        let md = "## Risks\nA paragraph that is long enough to need wrapping at forty columns, with `inline code` in it.\n\n1. First step\n2. Second step with **bold**\n\n- bullet\n\n```bash\naws iam list-users --max-items 1000000000000000000000000000000000000\n```\n";
        let text = plain(&render_markdown(md, 40));
        assert!(text.starts_with("RISKS\n"), "{text}");
        for line in text.lines() {
            if !line.contains("aws iam") {
                assert!(line.chars().count() <= 40, "line too long: {line:?}");
            }
        }
        assert!(
            text.contains("1. First step\n2. Second step with bold\n"),
            "{text}"
        );
        assert!(text.contains("• bullet"), "{text}");
        // Code is indented and never wrapped.
        assert!(
            text.contains(
                "    aws iam list-users --max-items 1000000000000000000000000000000000000\n"
            ),
            "{text}"
        );
        assert!(text.contains("inline code"), "{text}");
        // Inline code with spaces stays on one line.
        let narrow = plain(&render_markdown(
            "Run `aws iam list-entities-for-policy` first, then `aws iam get-policy` later on.",
            30,
        ));
        assert!(
            narrow
                .lines()
                .any(|l| l.contains("aws iam list-entities-for-policy")),
            "{narrow}"
        );
    }
}
