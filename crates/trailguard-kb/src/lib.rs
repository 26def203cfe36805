//! The knowledge base: one Markdown entry per IAM-relevant CloudTrail event, compiled into the binary.
//!
//! Each entry (`entries/<service>/<EventName>.md`, format in `ENTRY_FORMAT.md`) says what the event is,
//! how it is abused, and how to fix and prevent it, with CLI, Python and Rust snippets. `trailguard
//! explain` renders entries, `trailguard docs` exports them, and findings embed their fix commands.
//!
//! ```
//! let kb = trailguard_kb::Kb::builtin();
//! if let Some(entry) = kb.lookup("createpolicyversion") {
//!     assert_eq!(entry.event, "CreatePolicyVersion");
//! }
//! ```

pub mod awscli;
pub mod entry;
pub mod error;

use std::collections::BTreeMap;
use std::sync::OnceLock;

pub use entry::{parse_entry, CliCommand, Entry, Field, MotoSupport, Severity, RISK_KINDS};
pub use error::{EntryError, Location};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// The `(relative path, text)` of every entry compiled into the binary.
pub fn embedded_sources() -> &'static [(&'static str, &'static str)] {
    embedded::EMBEDDED
}

/// A set of parsed entries, plus the ones that failed to parse (counted, never silently dropped).
#[derive(Debug, Clone, Default)]
pub struct Kb {
    entries: Vec<Entry>,
    /// Lowercased event name → indexes into `entries` (an event name may exist in two services).
    by_name: BTreeMap<String, Vec<usize>>,
    errors: Vec<EntryError>,
}

/// Filters for [`Kb::list`]; every `Some` must match.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Service directory (`iam`, `sts`, ...) or full event source (`iam.amazonaws.com`).
    pub service: Option<String>,
    /// One of [`RISK_KINDS`].
    pub risk: Option<String>,
    /// At or above this baseline severity.
    pub min_severity: Option<Severity>,
    /// Entries that name this rule code.
    pub rule: Option<String>,
}

impl Kb {
    /// The entries compiled into the binary, parsed once per process.
    pub fn builtin() -> &'static Kb {
        static KB: OnceLock<Kb> = OnceLock::new();
        KB.get_or_init(|| Kb::from_sources(embedded_sources().iter().copied()))
    }

    /// Parses entries from `(relative path, text)` pairs. Entries that fail are kept in [`Kb::errors`].
    pub fn from_sources<'a>(sources: impl IntoIterator<Item = (&'a str, &'a str)>) -> Kb {
        let mut kb = Kb::default();
        for (file, text) in sources {
            match parse_entry(file, text) {
                Ok(entry) => kb.entries.push(entry),
                Err(e) => kb.errors.push(e),
            }
        }
        kb.entries
            .sort_by(|a, b| (&a.service, &a.event).cmp(&(&b.service, &b.event)));
        for (i, entry) in kb.entries.iter().enumerate() {
            kb.by_name
                .entry(entry.event.to_ascii_lowercase())
                .or_default()
                .push(i);
        }
        kb
    }

    /// Every parsed entry, sorted by service then event.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Entries that failed to parse, each naming its file and line.
    pub fn errors(&self) -> &[EntryError] {
        &self.errors
    }

    /// The entry for an exact `(eventSource, eventName)` pair, as found in a record.
    pub fn get(&self, source: &str, event: &str) -> Option<&Entry> {
        self.by_name
            .get(&event.to_ascii_lowercase())?
            .iter()
            .map(|&i| &self.entries[i])
            .find(|e| e.source == source && e.event == event)
    }

    /// The entry for an event name, case-insensitively. Also accepts `service:Event`,
    /// `service/Event` and `source:Event` (`iam:CreateUser`, `sts.amazonaws.com:AssumeRole`), which pick
    /// the service when a name exists in two; a bare name that does is resolved to IAM first.
    pub fn lookup(&self, name: &str) -> Option<&Entry> {
        let name = name.trim();
        let (service, event) = match name.split_once([':', '/']) {
            Some((service, event)) => (Some(service.trim_end_matches(".amazonaws.com")), event),
            None => (None, name),
        };
        let candidates = self.by_name.get(&event.to_ascii_lowercase())?;
        let mut found = candidates.iter().map(|&i| &self.entries[i]);
        match service {
            Some(s) => found.find(|e| e.service.eq_ignore_ascii_case(s)),
            None => {
                let all: Vec<&Entry> = found.collect();
                all.iter()
                    .find(|e| e.service == "iam")
                    .or_else(|| all.first())
                    .copied()
            }
        }
    }

    /// Event names close to a misspelt `name`, best first (at most 5).
    pub fn suggest(&self, name: &str) -> Vec<&str> {
        let wanted = name
            .rsplit([':', '/'])
            .next()
            .unwrap_or(name)
            .to_ascii_lowercase();
        if wanted.is_empty() {
            return Vec::new();
        }
        let mut scored: Vec<(f64, &str)> = self
            .entries
            .iter()
            .map(|e| {
                let candidate = e.event.to_ascii_lowercase();
                let mut score = strsim::normalized_damerau_levenshtein(&wanted, &candidate);
                // A fragment of a long name ("policyversion") is a good hint too.
                if wanted.len() >= 5 && candidate.contains(&wanted) {
                    score = score.max(0.75);
                }
                (score, e.event.as_str())
            })
            .filter(|(score, _)| *score >= 0.7)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
        scored.dedup_by(|a, b| a.1 == b.1);
        scored.into_iter().take(5).map(|(_, n)| n).collect()
    }

    /// Entries matching every set filter, in [`Kb::entries`] order.
    pub fn list(&self, filter: &ListFilter) -> Vec<&Entry> {
        let service = filter
            .service
            .as_deref()
            .map(|s| s.trim_end_matches(".amazonaws.com").to_ascii_lowercase());
        self.entries
            .iter()
            .filter(|e| service.as_deref().is_none_or(|s| e.service == s))
            .filter(|e| {
                filter
                    .risk
                    .as_deref()
                    .is_none_or(|r| e.risks.iter().any(|x| x.eq_ignore_ascii_case(r)))
            })
            .filter(|e| filter.min_severity.is_none_or(|s| e.severity >= s))
            .filter(|e| {
                filter
                    .rule
                    .as_deref()
                    .is_none_or(|r| e.rules.iter().any(|x| x.eq_ignore_ascii_case(r)))
            })
            .collect()
    }

    /// The AWS CLI commands that fix or contain `(source, event)`, for embedding in findings.
    pub fn fix_commands(&self, source: &str, event: &str) -> Vec<&str> {
        self.get(source, event)
            .map(Entry::fix_commands)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry_text(service: &str, event: &str, severity: &str, risks: &str) -> String {
        format!(
            r#"---
event: {event}
source: {service}.amazonaws.com
title: Example
severity: {severity}
risks: [{risks}]
attack: []
rules: []
related: []
moto: supported
---
## Event information
Text.
### Fields that matter
- `requestParameters.x`: y
### Example record
```json
{{"eventSource":"{service}.amazonaws.com","eventName":"{event}","eventTime":"2024-01-01T00:00:00Z"}}
```
## Risks
Low.
## Remediation
### Console
1. Open.
### AWS CLI
```bash
aws {service} do-thing --x y
```
### Python
```python
import boto3
```
### Rust
```rust
fn fix() {{}}
```
## Prevention
None.
"#
        )
    }

    fn sample() -> Kb {
        let texts = [
            (
                "iam/CreatePolicyVersion.md",
                entry_text("iam", "CreatePolicyVersion", "high", "privilege-escalation"),
            ),
            (
                "iam/CreatePolicy.md",
                entry_text("iam", "CreatePolicy", "medium", "privilege-escalation"),
            ),
            (
                "iam/CreateUser.md",
                entry_text("iam", "CreateUser", "medium", "persistence"),
            ),
            (
                "sts/AssumeRole.md",
                entry_text("sts", "AssumeRole", "low", "none"),
            ),
            ("iam/Broken.md", "---\nevent: Broken\n".to_owned()),
        ];
        Kb::from_sources(texts.iter().map(|(p, t)| (*p, t.as_str())))
    }

    #[test]
    fn lookup_is_case_insensitive_and_accepts_service_prefixes() {
        let kb = sample();
        assert_eq!(kb.entries().len(), 4);
        assert_eq!(kb.errors().len(), 1);
        assert_eq!(kb.errors()[0].location.file, "iam/Broken.md");
        assert_eq!(
            kb.lookup("createpolicyversion").unwrap().event,
            "CreatePolicyVersion"
        );
        assert_eq!(kb.lookup("sts:assumerole").unwrap().service, "sts");
        assert_eq!(
            kb.lookup("sts.amazonaws.com:AssumeRole").unwrap().service,
            "sts"
        );
        assert!(kb.lookup("iam:AssumeRole").is_none());
        assert!(kb.get("iam.amazonaws.com", "assumerole").is_none());
        assert_eq!(
            kb.get("sts.amazonaws.com", "AssumeRole").unwrap().event,
            "AssumeRole"
        );
    }

    #[test]
    fn suggests_close_names() {
        let kb = sample();
        assert_eq!(kb.suggest("CreatePolicyVerison")[0], "CreatePolicyVersion");
        assert_eq!(kb.suggest("CreateUsr"), ["CreateUser"]);
        assert_eq!(kb.suggest("iam:creatpolicy")[0], "CreatePolicy");
        assert!(kb.suggest("DescribeInstances").is_empty());
        assert!(kb.suggest("").is_empty());
    }

    #[test]
    fn list_filters_combine() {
        let kb = sample();
        let names = |f: ListFilter| {
            kb.list(&f)
                .iter()
                .map(|e| e.event.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(ListFilter::default()).len(), 4);
        assert_eq!(
            names(ListFilter {
                service: Some("sts.amazonaws.com".into()),
                ..Default::default()
            }),
            ["AssumeRole"]
        );
        assert_eq!(
            names(ListFilter {
                risk: Some("privilege-escalation".into()),
                min_severity: Some(Severity::High),
                ..Default::default()
            }),
            ["CreatePolicyVersion"]
        );
        assert_eq!(
            names(ListFilter {
                min_severity: Some(Severity::Medium),
                ..Default::default()
            }),
            ["CreatePolicy", "CreatePolicyVersion", "CreateUser"]
        );
    }

    #[test]
    fn fix_commands_come_from_the_cli_section() {
        let kb = sample();
        assert_eq!(
            kb.fix_commands("iam.amazonaws.com", "CreateUser"),
            ["aws iam do-thing --x y"]
        );
        assert!(kb.fix_commands("iam.amazonaws.com", "Nope").is_empty());
    }

    #[test]
    fn builtin_entries_all_parse() {
        let kb = Kb::builtin();
        let errors: Vec<String> = kb.errors().iter().map(ToString::to_string).collect();
        assert!(
            errors.is_empty(),
            "entries that do not parse:\n{}",
            errors.join("\n")
        );
        assert_eq!(kb.entries().len(), embedded_sources().len());
    }
}
