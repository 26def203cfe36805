//! An AWS account's IAM configuration as data: the snapshot model, the two ways to fill it (live
//! through the AWS SDK, or saved CLI output on disk), and who-can questions over it.
//!
//! - [`snapshot`]: [`RawSnapshot`] (file name → saved JSON) and [`AccountSnapshot`] (parsed); the file
//!   names an auditor saves are listed there.
//! - [`model`]: typed views of each saved API output, named as the AWS CLI prints them.
//! - [`aws`]: connecting to AWS ([`aws::AwsTarget`]), for the live collector and every other caller.
//! - [`live`]: the read-only SDK collector that writes the same files.
//! - [`principals`]: each user's and role's effective policies (own, groups', boundary).
//! - [`who_can`]: which principals the policy engine says may perform an action.
//! - [`graph`]: the privilege-escalation graph (who can become admin, by which steps), kept current
//!   change by change.
//! - [`time`]: AWS timestamp parsing.
//! - [`usage`]: what principals did, from CloudTrail, in one pass; the least-privilege policy it calls for.
//! - [`unused`]: granted against used per principal (`+ - ?`), over the window the logs cover.

pub mod aws;
pub mod graph;
pub mod live;
pub mod model;
pub mod principals;
pub mod snapshot;
pub mod time;
pub mod unused;
pub mod usage;
pub mod who_can;

pub use principals::{
    effective_principals, EffectivePrincipal, IdentityKind, PolicySource, PrincipalKind,
};
pub use snapshot::{AccountSnapshot, RawSnapshot, SnapshotProblem};
pub use who_can::{who_can, Access, ParsedPrincipal, WhoCanEntry, WhoCanReport};
