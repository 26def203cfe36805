//! Remediation: findings → a plan of exact AWS API calls → (only when asked) applied, journaled, undoable.
//!
//! - [`call`]: one typed API call, rendered as an AWS CLI command or boto3 and executed through the SDK.
//! - [`plan`]: each finding's `FixAction` resolved against the current state (read-only) into a step.
//! - [`apply`]: applying, resuming an interrupted apply, undoing a change.
//! - [`journal`]: the SQLite journal written before and after every call.
//! - [`render`]: the plan as a diff-like list, a shell script of AWS CLI commands, a boto3 script, or JSON.
//! - [`quote`]: shell words, Python literals and comment text for the scripts (values are attacker-chosen).
//! - [`aws`]: SDK clients, state readers and call execution (idempotent: "already so" counts as done).

pub mod apply;
pub mod aws;
pub mod call;
pub mod journal;
pub mod plan;
pub mod quote;
pub mod render;
