//! CloudTrail records and where they come from.
//!
//! A [`Record`] borrows its strings from the buffer it was parsed from, so scanning a large trail does not
//! allocate per field. Sources (files, `.json.gz`, JSON lines, EventBridge envelopes, stdin) and the
//! parallel streaming pipeline live in [`source`] and [`pipeline`]; neither knows anything about findings.

pub mod record;

pub use record::{Record, SessionContext, UserIdentity};
