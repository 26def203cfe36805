//! Remediation: findings → a plan of exact AWS API calls → (only when asked) applied, journaled, undoable.
//!
//! - [`actions`]: one file per fix action: its resolution against the account, its typed prior state, and
//!   the calls that undo it.
//! - [`plan`]: each finding's `FixAction` resolved by its action into a step.
//! - [`apply`]: applying, resuming an interrupted apply, undoing a change.
//! - [`journal`]: the SQLite journal written before and after every call.
//! - [`render`]: the plan as a diff-like list, a shell script of AWS CLI commands, a boto3 script, or JSON.
//! - [`aws`]: SDK clients, state readers and call execution (idempotent: "already so" counts as done).
//!
//! The calls themselves ([`trailguard_rules::call::Call`]) and their quoting live in the rules crate, so
//! the commands rules suggest and the scripts `fix` writes render from the same typed values.

pub mod actions;
pub mod apply;
pub mod aws;
pub mod journal;
pub mod plan;
pub mod render;
