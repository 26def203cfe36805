//! One knowledge-base entry: YAML front matter plus fixed Markdown sections (see `ENTRY_FORMAT.md`).
//!
//! The parser is strict on purpose: a missing section, a section out of order, an unknown front-matter
//! key or an example record that is not JSON is an error naming the file and line, because every entry
//! is shown to users and embedded in findings, and the tests only hold if the structure does.

use serde::{Deserialize, Serialize};

use crate::error::EntryError;

/// Baseline severity of an event: the scale findings use, from its one home.
pub use trailguard_event::severity::Severity;

/// The abuse categories an entry may declare in `risks:`.
pub const RISK_KINDS: &[&str] = &[
    "privilege-escalation",
    "persistence",
    "defense-evasion",
    "credential-access",
    "weakening",
    "exfiltration",
    "discovery",
    "impact",
    "initial-access",
    "none",
];

/// Whether the Python remediation snippet can run on moto.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "reason", rename_all = "lowercase")]
pub enum MotoSupport {
    Supported,
    /// Moto lacks the calls; the reason says which.
    Unsupported(String),
}

/// The YAML front matter, exactly as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    event: String,
    source: String,
    title: String,
    severity: Severity,
    risks: Vec<String>,
    attack: Vec<String>,
    rules: Vec<String>,
    related: Vec<String>,
    moto: String,
}

/// One `- \`field\`: meaning` line of "Fields that matter".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    pub path: String,
    pub meaning: String,
}

/// A fenced code block and the line its first body line is on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeBlock {
    /// The info string after the fence (`bash`, `python setup`, `json`, ...).
    pub lang: String,
    pub code: String,
    pub line: usize,
}

/// The body, split into the fixed sections. Prose fields hold the section's Markdown as written.
#[derive(Debug, Clone, Serialize)]
pub struct Sections {
    pub event_information: String,
    pub fields: Vec<Field>,
    /// The example record's JSON text.
    pub example_record: String,
    pub risks: String,
    pub console: String,
    /// Everything under "AWS CLI" (prose and code).
    pub cli: String,
    pub python_setup: Option<String>,
    pub python: String,
    pub rust: String,
    pub prevention: String,
}

/// A parsed entry.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// Path relative to the entries directory, e.g. `iam/CreatePolicyVersion.md`.
    pub file: String,
    pub event: String,
    pub source: String,
    /// The service directory: `source` without `.amazonaws.com`.
    pub service: String,
    pub title: String,
    pub severity: Severity,
    pub risks: Vec<String>,
    pub attack: Vec<String>,
    pub rules: Vec<String>,
    pub related: Vec<String>,
    pub moto: MotoSupport,
    pub sections: Sections,
    /// Every fenced code block in the body, in order, for checks that look at all of them.
    #[serde(skip)]
    pub code_blocks: Vec<CodeBlock>,
    /// Every line starting with `aws ` inside a `bash`/`sh`/`shell` block, with its line number.
    pub cli_commands: Vec<CliCommand>,
    /// The Markdown body (everything after the front matter).
    #[serde(skip)]
    pub body: String,
    /// The 1-based line the body starts on, so renderers can point at lines of the file.
    #[serde(skip)]
    pub body_line: usize,
}

/// One AWS CLI command line from an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CliCommand {
    pub command: String,
    pub line: usize,
    /// True when the command is in the "AWS CLI" remediation section (a fix), false elsewhere (prevention).
    pub remediation: bool,
}

impl Entry {
    /// The Markdown body without the ```` ```python setup ```` block: what readers see (the setup only
    /// creates the state the snippet needs on moto).
    pub fn body_without_setup(&self) -> String {
        let mut out = String::with_capacity(self.body.len());
        let mut skipping = false;
        for line in self.body.lines() {
            let trimmed = line.trim();
            if !skipping
                && trimmed.starts_with("```")
                && trimmed.trim_start_matches('`').trim() == "python setup"
            {
                skipping = true;
                continue;
            }
            if skipping {
                if trimmed.starts_with("```") {
                    skipping = false;
                }
                continue;
            }
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    /// The AWS CLI commands that fix or contain the event (the "AWS CLI" remediation section).
    pub fn fix_commands(&self) -> Vec<&str> {
        self.cli_commands
            .iter()
            .filter(|c| c.remediation)
            .map(|c| c.command.as_str())
            .collect()
    }
}

/// The sections every entry has, in order: (heading level, title).
const LAYOUT: &[(usize, &str)] = &[
    (2, "Event information"),
    (3, "Fields that matter"),
    (3, "Example record"),
    (2, "Risks"),
    (2, "Remediation"),
    (3, "Console"),
    (3, "AWS CLI"),
    (3, "Python"),
    (3, "Rust"),
    (2, "Prevention"),
];

/// Parses one entry. `file` is the path relative to the entries directory (`iam/CreateUser.md`); the
/// event and service must match it.
pub fn parse_entry(file: &str, text: &str) -> Result<Entry, EntryError> {
    let err = |line: Option<usize>, msg: String| EntryError::at(file, line, msg);
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);

    let (yaml, body, body_line) = split_front_matter(text).ok_or_else(|| {
        err(
            Some(1),
            "missing front matter: the file must start with a `---` line and close it with another `---` line"
                .into(),
        )
    })?;
    let yaml_text = quote_moto_reason(yaml);
    let front: FrontMatter = serde_yaml::from_str(&yaml_text).map_err(|e| {
        // The YAML starts on line 2 of the file.
        let line = e.location().map(|l| l.line() + 1);
        err(line, format!("front matter: {e}"))
    })?;
    let front_line = |key: &str| {
        yaml.lines()
            .position(|l| l.starts_with(&format!("{key}:")))
            .map(|i| i + 2)
    };

    let service = front
        .source
        .strip_suffix(".amazonaws.com")
        .ok_or_else(|| {
            err(
                front_line("source"),
                format!(
                    "source `{}` must be an event source ending in `.amazonaws.com`",
                    front.source
                ),
            )
        })?
        .to_owned();
    let expected_file = format!("{service}/{}.md", front.event);
    if file.replace('\\', "/") != expected_file {
        return Err(err(
            front_line("event"),
            format!(
                "event `{}` from `{}` belongs in `{expected_file}`",
                front.event, front.source
            ),
        ));
    }
    if front.title.trim().is_empty() {
        return Err(err(front_line("title"), "title is empty".into()));
    }
    for risk in &front.risks {
        if !RISK_KINDS.contains(&risk.as_str()) {
            return Err(err(
                front_line("risks"),
                format!(
                    "unknown risk `{risk}` (expected one of {})",
                    RISK_KINDS.join(", ")
                ),
            ));
        }
    }
    if front.risks.is_empty() {
        return Err(err(
            front_line("risks"),
            "risks is empty: write `[none]` for a low-risk event".into(),
        ));
    }
    for technique in &front.attack {
        if !is_attack_id(technique) {
            return Err(err(
                front_line("attack"),
                format!("`{technique}` is not a MITRE ATT&CK technique id like `T1098.001`"),
            ));
        }
    }
    for rule in &front.rules {
        if !is_rule_code(rule) {
            return Err(err(
                front_line("rules"),
                format!("`{rule}` is not a trailguard rule code like `CT001`"),
            ));
        }
    }
    let moto = parse_moto(&front.moto).map_err(|m| err(front_line("moto"), m))?;

    let sections = split_sections(file, body, body_line)?;
    let mut code_blocks = Vec::new();
    for section in &sections {
        code_blocks.extend(section.blocks.iter().cloned());
    }
    let section = |title: &str| {
        sections
            .iter()
            .find(|s| s.title == title)
            .expect("layout checked by split_sections")
    };

    let fields_section = section("Fields that matter");
    let fields = parse_fields(&fields_section.text);
    if fields.is_empty() {
        return Err(err(
            Some(fields_section.line),
            "\"Fields that matter\" lists no fields (lines like \"- `requestParameters.userName`: ...\")".into(),
        ));
    }

    let example = section("Example record");
    let record = example
        .blocks
        .iter()
        .find(|b| b.lang == "json")
        .ok_or_else(|| {
            err(
                Some(example.line),
                "\"Example record\" has no ```json block".into(),
            )
        })?;
    let value: serde_json::Value = serde_json::from_str(&record.code).map_err(|e| {
        err(
            Some(record.line + e.line().saturating_sub(1)),
            format!("example record is not valid JSON: {e}"),
        )
    })?;
    for (key, want) in [("eventName", &front.event), ("eventSource", &front.source)] {
        let got = value.get(key).and_then(|v| v.as_str());
        if got != Some(want.as_str()) {
            return Err(err(
                Some(record.line),
                format!(
                    "example record has {key} `{}`, front matter says `{want}`",
                    got.unwrap_or("(missing)")
                ),
            ));
        }
    }

    let python = section("Python");
    let mut python_setup = None;
    let mut python_code = None;
    for block in &python.blocks {
        match block.lang.as_str() {
            "python setup" if python_code.is_none() => python_setup = Some(block.code.clone()),
            "python" if python_code.is_none() => python_code = Some(block.code.clone()),
            "python" | "python setup" => return Err(err(
                Some(block.line),
                "\"Python\" has more than one ```python block; the one snippet is what tests run"
                    .into(),
            )),
            _ => {}
        }
    }
    let python_code = python_code.ok_or_else(|| {
        err(
            Some(python.line),
            "\"Python\" has no ```python block".into(),
        )
    })?;
    if has_placeholder_pass(&python_code) {
        return Err(err(
            Some(python.line),
            "the Python snippet contains a bare `pass`: write the real calls".into(),
        ));
    }

    let rust = section("Rust");
    let rust_code = rust
        .blocks
        .iter()
        .find(|b| b.lang == "rust")
        .ok_or_else(|| err(Some(rust.line), "\"Rust\" has no ```rust block".into()))?;
    if rust_code.code.contains("todo!()") || rust_code.code.contains("unimplemented!()") {
        return Err(err(
            Some(rust_code.line),
            "the Rust snippet contains `todo!()`/`unimplemented!()`: write the real calls".into(),
        ));
    }

    let cli_section = section("AWS CLI");
    let mut cli_commands = Vec::new();
    for s in &sections {
        for block in &s.blocks {
            if !matches!(block.lang.as_str(), "bash" | "sh" | "shell" | "console") {
                continue;
            }
            for (i, line) in block.code.lines().enumerate() {
                let trimmed = line.trim_start();
                if trimmed.starts_with("aws ") {
                    cli_commands.push(CliCommand {
                        command: trimmed.trim_end().to_owned(),
                        line: block.line + i,
                        remediation: s.title == "AWS CLI",
                    });
                }
            }
        }
    }
    if !cli_commands.iter().any(|c| c.remediation) {
        return Err(err(
            Some(cli_section.line),
            "\"AWS CLI\" has no `aws ...` command in a ```bash block".into(),
        ));
    }

    let prose = |title: &str| section(title).text.trim().to_owned();
    Ok(Entry {
        file: file.to_owned(),
        event: front.event,
        source: front.source,
        service,
        title: front.title,
        severity: front.severity,
        risks: front.risks,
        attack: front.attack,
        rules: front.rules,
        related: front.related,
        moto,
        sections: Sections {
            event_information: prose("Event information"),
            fields,
            example_record: record.code.clone(),
            risks: prose("Risks"),
            console: prose("Console"),
            cli: prose("AWS CLI"),
            python_setup,
            python: python_code,
            rust: rust_code.code.clone(),
            prevention: prose("Prevention"),
        },
        code_blocks,
        cli_commands,
        body: body.to_owned(),
        body_line,
    })
}

/// `moto: unsupported: reason` is what the format asks for, but a second `: ` is not valid in a plain YAML
/// scalar; quote the value so authors need not remember to. Line numbers are unchanged.
fn quote_moto_reason(yaml: &str) -> String {
    let mut out = String::with_capacity(yaml.len() + 8);
    for line in yaml.lines() {
        match line.strip_prefix("moto:") {
            Some(value) if value.trim_start().starts_with("unsupported:") => {
                let escaped = value.trim().replace('\\', "\\\\").replace('"', "\\\"");
                out.push_str(&format!("moto: \"{escaped}\""));
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// A `pass` that stands for missing work: any `pass` except the body of an `except` clause (where it
/// means "that error is the expected outcome").
fn has_placeholder_pass(code: &str) -> bool {
    let mut previous = "";
    for line in code.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if trimmed == "pass" && !previous.starts_with("except") {
            return true;
        }
        previous = trimmed;
    }
    false
}

fn parse_moto(value: &str) -> Result<MotoSupport, String> {
    let value = value.trim();
    if value == "supported" {
        return Ok(MotoSupport::Supported);
    }
    match value.strip_prefix("unsupported:") {
        Some(reason) if !reason.trim().is_empty() => {
            Ok(MotoSupport::Unsupported(reason.trim().to_owned()))
        }
        _ => Err(format!(
            "moto `{value}` must be `supported` or `unsupported: <reason>`"
        )),
    }
}

fn is_attack_id(id: &str) -> bool {
    let Some(rest) = id.strip_prefix('T') else {
        return false;
    };
    let (main, sub) = match rest.split_once('.') {
        Some((m, s)) => (m, Some(s)),
        None => (rest, None),
    };
    main.len() == 4
        && main.bytes().all(|b| b.is_ascii_digit())
        && sub.is_none_or(|s| s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()))
}

fn is_rule_code(code: &str) -> bool {
    code.len() == 5
        && ["CT", "PA", "PC"].contains(&&code[..2])
        && code[2..].bytes().all(|b| b.is_ascii_digit())
}

/// Splits `---\nyaml\n---\nbody` into (yaml, body, 1-based line the body starts on).
fn split_front_matter(text: &str) -> Option<(&str, &str, usize)> {
    let rest = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))?;
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "---" {
            let yaml = &rest[..offset];
            let body = &rest[offset + line.len()..];
            let body_line = yaml.lines().count() + 3;
            return Some((yaml, body, body_line));
        }
        offset += line.len();
    }
    None
}

/// One heading's section: its own text (without sub-sections) and code blocks.
#[derive(Debug)]
struct RawSection {
    title: String,
    line: usize,
    text: String,
    blocks: Vec<CodeBlock>,
}

/// Splits the body at `##`/`###` headings (outside code fences) and checks they follow [`LAYOUT`].
fn split_sections(file: &str, body: &str, body_line: usize) -> Result<Vec<RawSection>, EntryError> {
    let mut sections: Vec<RawSection> = Vec::new();
    let mut fence: Option<(String, usize, String)> = None; // (lang, first body line, code)
    let mut fence_marker = "";
    for (i, line) in body.lines().enumerate() {
        let line_no = body_line + i;
        if let Some((lang, start, code)) = fence.as_mut() {
            if line.trim_end() == fence_marker {
                let block = CodeBlock {
                    lang: std::mem::take(lang),
                    code: std::mem::take(code),
                    line: *start,
                };
                match sections.last_mut() {
                    Some(s) => s.blocks.push(block),
                    None => {
                        return Err(EntryError::at(
                            file,
                            Some(*start),
                            "code block before the first section heading",
                        ))
                    }
                }
                fence = None;
            } else {
                code.push_str(line);
                code.push('\n');
            }
            continue;
        }
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            let marker_len = trimmed
                .chars()
                .take_while(|&c| c == '`' || c == '~')
                .count();
            fence_marker = if trimmed.starts_with('`') {
                &"````````"[..marker_len.min(8)]
            } else {
                &"~~~~~~~~"[..marker_len.min(8)]
            };
            fence = Some((
                trimmed[marker_len..].trim().to_owned(),
                line_no + 1,
                String::new(),
            ));
            if let Some(s) = sections.last_mut() {
                s.text.push_str(line);
                s.text.push('\n');
            }
            continue;
        }
        let level = if line.starts_with("### ") {
            3
        } else if line.starts_with("## ") {
            2
        } else if line.starts_with("# ") || line.starts_with("#### ") {
            return Err(EntryError::at(
                file,
                Some(line_no),
                "only `##` and `###` headings from the entry format are allowed",
            ));
        } else {
            0
        };
        if level > 0 {
            let title = line[level + 1..].trim().to_owned();
            let index = sections.len();
            match LAYOUT.get(index) {
                Some(&(want_level, want_title)) if want_level == level && want_title == title => {}
                Some(&(want_level, want_title)) => {
                    return Err(EntryError::at(
                        file,
                        Some(line_no),
                        format!(
                            "expected heading `{} {want_title}` here, found `{}`",
                            "#".repeat(want_level),
                            line.trim()
                        ),
                    ))
                }
                None => {
                    return Err(EntryError::at(
                        file,
                        Some(line_no),
                        format!("unexpected heading `{}` after Prevention", line.trim()),
                    ))
                }
            }
            sections.push(RawSection {
                title,
                line: line_no,
                text: String::new(),
                blocks: Vec::new(),
            });
            continue;
        }
        match sections.last_mut() {
            Some(s) => {
                s.text.push_str(line);
                s.text.push('\n');
            }
            None if line.trim().is_empty() => {}
            None => {
                return Err(EntryError::at(
                    file,
                    Some(line_no),
                    "text before `## Event information`",
                ))
            }
        }
    }
    if let Some((_, start, _)) = fence {
        return Err(EntryError::at(
            file,
            Some(start - 1),
            "code block is never closed",
        ));
    }
    if let Some(&(level, title)) = LAYOUT.get(sections.len()) {
        let line = body_line + body.lines().count();
        return Err(EntryError::at(
            file,
            Some(line),
            format!("missing section `{} {title}`", "#".repeat(level)),
        ));
    }
    for s in &sections {
        let has_content = !s.text.trim().is_empty() || !s.blocks.is_empty();
        let is_parent = matches!(s.title.as_str(), "Remediation");
        if !has_content && !is_parent {
            return Err(EntryError::at(
                file,
                Some(s.line),
                format!("section `{}` is empty", s.title),
            ));
        }
    }
    Ok(sections)
}

/// Reads "- `path`: meaning" bullets (continuation lines indented under a bullet join it).
fn parse_fields(text: &str) -> Vec<Field> {
    let mut fields: Vec<Field> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(rest) = trimmed
            .strip_prefix("- `")
            .or_else(|| trimmed.strip_prefix("* `"))
        {
            if let Some((path, meaning)) = rest.split_once('`') {
                let meaning = meaning.trim_start_matches(':').trim();
                fields.push(Field {
                    path: path.to_owned(),
                    meaning: meaning.to_owned(),
                });
                continue;
            }
        }
        if line.starts_with("  ") && !trimmed.is_empty() {
            if let Some(last) = fields.last_mut() {
                last.meaning.push(' ');
                last.meaning.push_str(trimmed);
            }
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const MINIMAL: &str = r#"---
event: DeleteAccountAlias
source: iam.amazonaws.com
title: Delete the account alias
severity: low
risks: [defense-evasion]
attack: [T1531]
rules: [CT007]
related: [CreateAccountAlias]
moto: supported
---
## Event information
Removes the alias.

### Fields that matter
- `requestParameters.accountAlias`: the alias removed.
  Continued here.

### Example record
```json
{"eventVersion":"1.08","eventTime":"2024-01-01T00:00:00Z","eventSource":"iam.amazonaws.com","eventName":"DeleteAccountAlias","requestParameters":{"accountAlias":"x"}}
```

## Risks
Low.

## Remediation
### Console
1. Open IAM.

### AWS CLI
```bash
aws iam create-account-alias --account-alias example-corp
```

### Python
```python setup
SETUP = 1
```
```python
import boto3
```

### Rust
```rust
fn main() {}
```

## Prevention
An SCP.
```bash
aws events put-rule --name x --event-pattern '{}'
```
"#;

    #[test]
    fn parses_a_complete_entry() {
        let entry = parse_entry("iam/DeleteAccountAlias.md", MINIMAL).unwrap();
        assert_eq!(entry.event, "DeleteAccountAlias");
        assert_eq!(entry.service, "iam");
        assert_eq!(entry.severity, Severity::Low);
        assert_eq!(entry.sections.fields.len(), 1);
        assert_eq!(
            entry.sections.fields[0].meaning,
            "the alias removed. Continued here."
        );
        assert_eq!(entry.sections.python_setup.as_deref(), Some("SETUP = 1\n"));
        assert_eq!(entry.sections.python, "import boto3\n");
        assert_eq!(
            entry.fix_commands(),
            ["aws iam create-account-alias --account-alias example-corp"]
        );
        assert_eq!(entry.cli_commands.len(), 2);
        assert!(!entry.cli_commands[1].remediation);
        // The CLI line number points at the command in the file.
        let line = MINIMAL.lines().nth(entry.cli_commands[0].line - 1).unwrap();
        assert!(line.starts_with("aws iam create-account-alias"), "{line}");
        assert_eq!(entry.moto, MotoSupport::Supported);
        let shown = entry.body_without_setup();
        assert!(
            !shown.contains("SETUP = 1") && shown.contains("import boto3"),
            "{shown}"
        );
    }

    fn broken(from: &str, to: &str) -> EntryError {
        let text = MINIMAL.replacen(from, to, 1);
        assert_ne!(text, MINIMAL, "replacement `{from}` did not apply");
        parse_entry("iam/DeleteAccountAlias.md", &text).unwrap_err()
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let e = broken("severity: low", "severity: lowish");
        assert_eq!(e.location.file, "iam/DeleteAccountAlias.md");
        assert_eq!(e.location.line, Some(5), "{e}");

        let e = broken("### Example record", "### Example");
        assert_eq!(e.location.line, Some(19), "{e}");
        assert!(e.message.contains("Example record"), "{e}");

        let e = broken(r#""requestParameters""#, r#"requestParameters"#);
        assert!(e.message.contains("not valid JSON"), "{e}");
        assert_eq!(e.location.line, Some(21), "{e}");
    }

    #[test]
    fn rejects_structural_mistakes() {
        assert!(broken("risks: [defense-evasion]", "risks: [mayhem]")
            .message
            .contains("mayhem"));
        assert!(broken("attack: [T1531]", "attack: [1531]")
            .message
            .contains("ATT&CK"));
        assert!(broken("rules: [CT007]", "rules: [XX1]")
            .message
            .contains("rule code"));
        assert!(broken("moto: supported", "moto: unsupported")
            .message
            .contains("reason"));
        assert!(broken("moto: supported", "moto: supported\nextra: 1")
            .message
            .contains("extra"));
        assert!(broken(
            "\"eventName\":\"DeleteAccountAlias\"",
            "\"eventName\":\"Other\""
        )
        .message
        .contains("eventName"));
        assert!(broken("## Prevention", "## Prevent")
            .message
            .contains("Prevention"));
        assert!(broken("import boto3\n", "def fix():\n    pass\n")
            .message
            .contains("pass"));
        let allowed = "try:\n    x()\nexcept KeyError:\n    pass\n";
        assert!(!has_placeholder_pass(allowed));
        assert!(broken("aws iam create", "echo create")
            .message
            .contains("AWS CLI"));
        assert!(broken("Removes the alias.", "").message.contains("empty"));
        let e = parse_entry("iam/CreateUser.md", MINIMAL).unwrap_err();
        assert!(e.message.contains("iam/DeleteAccountAlias.md"), "{e}");
        let e = parse_entry("iam/DeleteAccountAlias.md", "no front matter").unwrap_err();
        assert_eq!(e.location.line, Some(1));
    }

    #[test]
    fn unclosed_fence_is_reported() {
        let text = MINIMAL.trim_end().to_owned() + "\n```bash\naws iam x\n";
        let e = parse_entry("iam/DeleteAccountAlias.md", &text).unwrap_err();
        assert!(e.message.contains("never closed"), "{e}");
    }

    #[test]
    fn attack_ids_and_rule_codes() {
        assert!(is_attack_id("T1098"));
        assert!(is_attack_id("T1098.001"));
        assert!(!is_attack_id("T198.001"));
        assert!(!is_attack_id("T1098.1"));
        assert!(is_rule_code("CT023"));
        assert!(!is_rule_code("CT23"));
    }
}
