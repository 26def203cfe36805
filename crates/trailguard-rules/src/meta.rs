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
    /// `(eventSource, eventName)` pairs a CloudTrail rule wants; empty for posture and policy checks.
    pub events: &'static [(&'static str, &'static str)],
    /// Knowledge-base entries this rule links to (event names).
    pub kb_entries: &'static [&'static str],
    pub doc: RuleDoc,
}
