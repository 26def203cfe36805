//! Output formats: one streaming writer per format, shared by `scan`, `audit` and `policy check`.
//!
//! A producer calls [`FindingWriter::write`] once per finding as findings arrive, then
//! [`FindingWriter::finish`] once with the [`RunSummary`]. Formats that must see every finding before
//! printing (the text report groups by severity; ASFF batches by 100) buffer internally; the others stream.
//!
//! - [`text`]: a readable terminal report grouped by severity, then a summary.
//! - [`json`]: JSON lines, one [`Finding`] per line in its exact serde shape (`trailguard fix --from` reads it).
//! - [`ocsf`]: OCSF 1.3 Detection Finding (class 2004), one event per line.
//! - [`asff`]: AWS Security Hub ASFF, one `{"Findings":[...]}` batch of at most 100 per line.
//! - [`sarif`]: SARIF 2.1.0 for CI code scanning, with file/line locations for policy findings.

pub mod asff;
pub mod json;
pub mod ocsf;
pub mod sarif;
pub mod text;

#[cfg(test)]
pub(crate) mod fixtures;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::finding::{Finding, Severity};

/// The product name every format reports.
pub const PRODUCT_NAME: &str = "trailguard";
/// The version every format reports.
pub const PRODUCT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A streaming sink for findings.
pub trait FindingWriter {
    /// Writes (or buffers) one finding.
    fn write(&mut self, finding: &Finding) -> io::Result<()>;
    /// Writes whatever was buffered and the run's summary (formats without a summary ignore it), then flushes.
    fn finish(&mut self, summary: &RunSummary) -> io::Result<()>;
}

/// The output formats `--format` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Text,
    Json,
    Ocsf,
    Asff,
    Sarif,
}

impl Format {
    pub const ALL: [Format; 5] = [
        Format::Text,
        Format::Json,
        Format::Ocsf,
        Format::Asff,
        Format::Sarif,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
            Format::Ocsf => "ocsf",
            Format::Asff => "asff",
            Format::Sarif => "sarif",
        }
    }

    /// Whether the format is meant for people (so a summary on stderr would be redundant).
    pub fn is_human(self) -> bool {
        matches!(self, Format::Text)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown output format `{0}` (expected text, json, ocsf, asff or sarif)")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "text" | "txt" => Ok(Format::Text),
            "json" | "jsonl" | "ndjson" => Ok(Format::Json),
            "ocsf" => Ok(Format::Ocsf),
            "asff" | "securityhub" => Ok(Format::Asff),
            "sarif" => Ok(Format::Sarif),
            _ => Err(UnknownFormat(s.to_owned())),
        }
    }
}

/// Settings a writer may use; every field has a sensible default.
#[derive(Debug, Clone, Default)]
pub struct OutputOptions {
    /// ANSI colour in the text report (the caller decides: TTY, `NO_COLOR`, `--color`).
    pub color: bool,
    /// Text report width for wrapping; `None` means 100 columns.
    pub width: Option<usize>,
    /// Shorten long values (user agents, evidence) in the text report: for a terminal only. Written to a
    /// pipe or a file, the report keeps every value whole.
    pub truncate: bool,
    /// ASFF: the account that imports the findings (`ProductArn`); defaults to each finding's account.
    pub asff_product_account: Option<String>,
    /// ASFF: the Security Hub region (`ProductArn`); defaults to each finding's region, else `us-east-1`.
    pub asff_region: Option<String>,
    /// The docs of the rules the run may report (SARIF describes each rule it reports): the caller
    /// passes them, usually [`crate::registry::metas`]. A rule missing here is described from its findings.
    pub rules: Vec<&'static crate::meta::RuleMeta>,
}

/// Builds the writer for `format`, writing to `out`.
pub fn new_writer<'w>(
    format: Format,
    out: Box<dyn Write + 'w>,
    options: &OutputOptions,
) -> Box<dyn FindingWriter + 'w> {
    match format {
        Format::Text => Box::new(text::TextWriter::new(out, options)),
        Format::Json => Box::new(json::JsonLinesWriter::new(out)),
        Format::Ocsf => Box::new(ocsf::OcsfWriter::new(out)),
        Format::Asff => Box::new(asff::AsffWriter::new(out, options)),
        Format::Sarif => Box::new(sarif::SarifWriter::new(out, options.rules.clone())),
    }
}

/// What a run did, for the summary and the store. Producers fill what applies to them
/// (a posture audit has no files; a scan has no resources checked).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// The command that produced the findings: `scan`, `audit`, `policy check`.
    pub command: String,
    /// RFC 3339 UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    #[serde(default)]
    pub duration_ms: u64,
    /// Paths, `-` for stdin, or an account description.
    #[serde(default)]
    pub inputs: Vec<String>,
    /// Input files opened.
    #[serde(default)]
    pub files: u64,
    /// Files that could not be read at all (corrupt gzip, not CloudTrail, I/O error).
    #[serde(default)]
    pub files_failed: u64,
    /// Records parsed.
    #[serde(default)]
    pub records: u64,
    /// Records parsed but left out by `--since/--until/--account/--region/--event-name`.
    #[serde(default)]
    pub records_filtered: u64,
    /// Skipped input by reason (`corrupt gzip`, `missing eventName`, `digest file`, ...).
    #[serde(default)]
    pub skipped: BTreeMap<String, u64>,
    /// Input errors reported on stderr.
    #[serde(default)]
    pub errors: u64,
    /// Rules that were run (built-in and Sigma).
    #[serde(default)]
    pub rules: u64,
    /// Findings by severity.
    #[serde(default)]
    pub findings: BTreeMap<Severity, u64>,
    /// Repeats of a finding (same stable id: the same event delivered or stored more than once) folded
    /// into the first as they were found.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub findings_folded: u64,
    /// Findings silenced by a mute (`trailguard mute`): stored, not in `findings`, never alerted.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub findings_muted: u64,
    /// Free-form lines worth showing under the summary (e.g. Sigma load errors).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl RunSummary {
    pub fn new(command: &str) -> RunSummary {
        RunSummary {
            command: command.to_owned(),
            ..RunSummary::default()
        }
    }

    /// Counts one finding under its severity.
    pub fn count_finding(&mut self, finding: &Finding) {
        *self.findings.entry(finding.severity).or_default() += 1;
    }

    pub fn total_findings(&self) -> u64 {
        self.findings.values().sum()
    }

    /// Findings at `threshold` or above: what `--fail-on` compares against.
    pub fn findings_at_or_above(&self, threshold: Severity) -> u64 {
        self.findings
            .iter()
            .filter(|(sev, _)| **sev >= threshold)
            .map(|(_, n)| n)
            .sum()
    }

    pub fn total_skipped(&self) -> u64 {
        self.skipped.values().sum()
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The MITRE ATT&CK tactic a technique most often serves in AWS IAM attacks: `(tactic id, name)`.
/// Used where a format wants a tactic (OCSF `attacks`, ASFF `Types`); `None` for techniques we do not know.
pub fn attack_tactic(technique: &str) -> Option<(&'static str, &'static str)> {
    let base = technique.split('.').next().unwrap_or(technique);
    let tactic = match base {
        "T1078" | "T1190" | "T1199" | "T1566" => ("TA0001", "Initial Access"),
        "T1059" | "T1203" | "T1204" | "T1648" | "T1651" => ("TA0002", "Execution"),
        "T1098" | "T1136" | "T1525" | "T1546" | "T1133" => ("TA0003", "Persistence"),
        "T1484" | "T1548" | "T1068" => ("TA0004", "Privilege Escalation"),
        "T1562" | "T1070" | "T1578" | "T1535" | "T1550" | "T1666" => ("TA0005", "Defense Evasion"),
        "T1110" | "T1552" | "T1555" | "T1556" | "T1528" | "T1606" | "T1621" => {
            ("TA0006", "Credential Access")
        }
        "T1087" | "T1069" | "T1580" | "T1526" | "T1538" | "T1619" | "T1082" | "T1201" => {
            ("TA0007", "Discovery")
        }
        "T1021" | "T1563" => ("TA0008", "Lateral Movement"),
        "T1530" | "T1119" | "T1213" => ("TA0009", "Collection"),
        "T1537" | "T1567" | "T1048" => ("TA0010", "Exfiltration"),
        "T1090" | "T1102" => ("TA0011", "Command and Control"),
        "T1485" | "T1486" | "T1489" | "T1490" | "T1496" | "T1531" => ("TA0040", "Impact"),
        _ => return None,
    };
    Some(tactic)
}

/// Text from the input (any string of a CloudTrail record, a policy or a Sigma rule can be chosen by an
/// attacker) made safe to print for people: every control character (C0 such as ESC, CR and LF, DEL, C1),
/// every bidirectional override or isolate and the Unicode line separators are written as a visible
/// escape (`\n`, `\r`, `\t`, `\u{1b}`, `\u{202e}`), so a value can neither drive the terminal (retitle,
/// clear, recolour) nor start a line of its own that passes for the report's (a forged `$ aws ...` fix
/// line). The one function every human output (text reports, `explain`, `rules`, fix plans) uses for
/// such values; machine formats (JSON, OCSF, ASFF, SARIF) escape by their own syntax instead.
pub fn visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => {
                use fmt::Write as _;
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Characters [`visible`] escapes.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
                | '\u{2028}' | '\u{2029}'
        )
}

/// Truncates `text` to at most `max` characters (not bytes), marking the cut with `…`.
pub fn truncate_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_and_print_back() {
        for format in Format::ALL {
            assert_eq!(format.as_str().parse::<Format>().unwrap(), format);
        }
        assert_eq!("JSONL".parse::<Format>().unwrap(), Format::Json);
        let err = "xml".parse::<Format>().unwrap_err();
        assert!(err.to_string().contains("`xml`"), "{err}");
    }

    #[test]
    fn summary_counts_at_or_above_a_threshold() {
        let mut summary = RunSummary::new("scan");
        for finding in fixtures::sample_findings() {
            summary.count_finding(&finding);
        }
        let total = fixtures::sample_findings().len() as u64;
        assert_eq!(summary.total_findings(), total);
        assert_eq!(summary.findings_at_or_above(Severity::Info), total);
        let high_or_above = fixtures::sample_findings()
            .iter()
            .filter(|f| f.severity >= Severity::High)
            .count() as u64;
        assert!(high_or_above > 0 && high_or_above < total);
        assert_eq!(summary.findings_at_or_above(Severity::High), high_or_above);
    }

    #[test]
    fn tactics_cover_sub_techniques_and_unknowns() {
        assert_eq!(attack_tactic("T1098.001"), Some(("TA0003", "Persistence")));
        assert_eq!(
            attack_tactic("T1562.008").map(|t| t.1),
            Some("Defense Evasion")
        );
        assert_eq!(attack_tactic("T9999"), None);
    }

    #[test]
    fn control_characters_and_bidi_overrides_are_shown_not_obeyed() {
        assert!(matches!(visible("dev-alice"), Cow::Borrowed("dev-alice")));
        assert_eq!(visible("héllo wörld ✓"), "héllo wörld ✓");
        assert_eq!(
            visible("a\u{1b}]0;pwned\u{7}b\r\nc\td"),
            "a\\u{1b}]0;pwned\\u{7}b\\r\\nc\\td"
        );
        assert_eq!(visible("x\u{202e}gpj.exe"), "x\\u{202e}gpj.exe");
        assert_eq!(visible("\u{9b}31m\u{7f}"), "\\u{9b}31m\\u{7f}");
        assert_eq!(visible("l\u{2028}m"), "l\\u{2028}m");
        for c in (0u32..0x20).chain(0x7f..0xa0) {
            let c = char::from_u32(c).unwrap();
            assert!(
                !visible(&c.to_string()).chars().any(|o| o.is_control()),
                "{c:?}"
            );
        }
    }

    #[test]
    fn truncation_counts_characters_not_bytes() {
        assert_eq!(truncate_chars("héllo", 10), "héllo");
        assert_eq!(truncate_chars("héllo wörld", 5), "héll…");
    }
}
