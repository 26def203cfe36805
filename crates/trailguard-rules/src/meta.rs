//! What every rule or check declares beside its code: a stable code, a slug, severity, ATT&CK and
//! compliance ids, and its doc. `trailguard rules` and `trailguard docs` render the doc, so it is written once.

use serde::Serialize;

use crate::finding::Severity;

/// The family a rule belongs to; the code prefix follows it (`CT`, `PA`, `PC`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Cloudtrail,
    Posture,
    Policy,
}

impl Family {
    pub fn code_prefix(self) -> &'static str {
        match self {
            Family::Cloudtrail => "CT",
            Family::Posture => "PA",
            Family::Policy => "PC",
        }
    }

    /// The family's directory under `src/rules/`.
    pub fn dir(self) -> &'static str {
        match self {
            Family::Cloudtrail => "cloudtrail",
            Family::Posture => "posture",
            Family::Policy => "policy",
        }
    }
}

/// The sections of a rule's doc. Markdown allowed in each.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RuleDoc {
    /// What it detects.
    pub what: &'static str,
    /// Why it matters.
    pub why: &'static str,
    /// An example that triggers it.
    pub example: &'static str,
    /// How to fix it.
    pub fix: &'static str,
    pub references: &'static [&'static str],
}

/// Declared once per rule as a `pub const META: RuleMeta`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RuleMeta {
    /// Stable code, e.g. `CT001`.
    pub code: &'static str,
    /// Slug named for the risky condition, e.g. `create-policy-version-admin`.
    pub name: &'static str,
    pub title: &'static str,
    pub family: Family,
    /// Baseline severity; a rule may raise or lower it per finding.
    pub severity: Severity,
    pub attack: &'static [&'static str],
    pub compliance: &'static [&'static str],
    /// `(eventSource, eventName)` pairs a CloudTrail rule wants, each read as a
    /// [`crate::rule::EventPattern`] (one event, `("iam.amazonaws.com", "List*")` a name prefix of one
    /// source, `(source, "*")` the whole source, `("*", "*")` every record); empty for posture and
    /// policy checks.
    pub events: &'static [(&'static str, &'static str)],
    /// Knowledge-base entries this rule links to (event names).
    pub kb_entries: &'static [&'static str],
    pub doc: RuleDoc,
}

/// Resolves rule codes or names a user typed (`--rule`, `--select`, `--ignore`), case-insensitively, to
/// codes. Any unknown entry is an error naming it with the closest codes and names, so a typo never
/// silently selects nothing (or everything).
pub fn resolve_codes(
    metas: &[&'static RuleMeta],
    wanted: &[String],
) -> Result<Vec<&'static str>, String> {
    let mut codes = Vec::new();
    // `--rule CT001,CT002` may arrive as one value: each comma-separated entry counts.
    let entries = wanted.iter().flat_map(|w| w.split(','));
    for entry in entries.map(str::trim).filter(|w| !w.is_empty()) {
        let found = metas
            .iter()
            .find(|m| m.code.eq_ignore_ascii_case(entry) || m.name.eq_ignore_ascii_case(entry));
        match found {
            Some(meta) => {
                if !codes.contains(&meta.code) {
                    codes.push(meta.code);
                }
            }
            None => {
                let candidates = metas.iter().flat_map(|m| [m.code, m.name]);
                let close = trailguard_policy::suggest::closest(entry, candidates, 3);
                let hint = if close.is_empty() {
                    String::new()
                } else {
                    let named: Vec<String> = close.iter().map(|c| format!("`{c}`")).collect();
                    format!(" (did you mean {}?)", named.join(", "))
                };
                return Err(format!("unknown rule `{entry}`{hint}"));
            }
        }
    }
    Ok(codes)
}
