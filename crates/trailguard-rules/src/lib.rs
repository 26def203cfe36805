//! The detection catalog and everything that speaks in findings.
//!
//! Every producer — CloudTrail rules, Sigma rules, posture checks, policy checks — emits the same
//! [`Finding`], so every output format, the store and `trailguard fix` work for all of them.
//!
//! - [`finding`]: the `Finding` model, severity, actor, resource, evidence, fix.
//! - [`meta`]: the metadata and doc every rule or check declares beside its code.
//! - [`rule`]: what a rule is, for every family: its verb, its [`rule::Report`], the finding builder.
//! - [`registry`]: the one list of built-in rules; the engine and the outputs receive them from it.
//! - [`remediation`]: machine-readable fix actions that `trailguard fix` turns into API calls.
//! - [`call`]: one typed AWS API call, rendered as AWS CLI or boto3 (with the one shell and Python quoting).
//! - [`rules`]: one file per rule, grouped by family (`cloudtrail/`, `posture/`, `policy/`).
//! - [`sigma`]: SigmaHQ rules compiled into matchers.
//! - [`secrets`]: the fields that carry credentials, redacted wherever a record value becomes evidence.
//! - [`output`]: text, JSON lines, OCSF, ASFF and SARIF writers.

pub mod call;
pub mod engine;
pub mod finding;
pub mod meta;
pub mod output;
pub mod registry;
pub mod remediation;
pub mod rule;
pub mod rules;
pub mod secrets;
pub mod sigma;

pub use finding::{Actor, Evidence, Finding, FindingSource, Fix, Outcome, Resource, Severity};
pub use meta::{Family, RuleDoc, RuleMeta};
pub use remediation::FixAction;
pub use rule::{FindingBuilder, Report};
