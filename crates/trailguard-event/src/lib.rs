//! CloudTrail records and where they come from.
//!
//! A [`Record`] borrows its strings from the buffer it was parsed from, so scanning a large trail does not
//! allocate per field. Sources (files, `.json.gz`, JSON lines, EventBridge envelopes, CloudWatch Logs
//! subscription exports, stdin) and the parallel streaming pipeline live in [`source`] and
//! [`pipeline`]; neither knows anything about findings.
//!
//! ```no_run
//! use trailguard_event::{scan, NoopObserver, Record, RecordVisitor, ScanOptions};
//!
//! #[derive(Default)]
//! struct Count(u64);
//! impl RecordVisitor for Count {
//!     fn visit(&mut self, _record: &Record<'_>) { self.0 += 1; }
//! }
//!
//! let opts = ScanOptions { inputs: vec!["logs/".into()], ..ScanOptions::default() };
//! let (workers, stats) = scan(&opts, Count::default, &NoopObserver)?;
//! let total: u64 = workers.iter().map(|c| c.0).sum();
//! assert_eq!(total, stats.records_matched);
//! # Ok::<(), trailguard_event::ScanError>(())
//! ```

mod classify;
pub mod error;
pub mod filter;
pub mod peek;
pub mod pipeline;
pub mod record;
pub mod severity;
pub mod source;
pub mod split;
pub mod stats;
mod structural;
pub mod synth;
pub mod typed_peek;

pub use error::{InputError, ScanError, SkipReason};
pub use filter::{event_time_rfc3339, parse_event_time, Filter, FilterOutcome, RawOutcome};
pub use pipeline::{
    scan, scan_one, scan_sources, CollectErrors, NoopObserver, Observer, Origin, RecordVisitor,
    ScanOptions,
};
pub use record::{Record, SessionContext, UserIdentity};
pub use stats::ScanStats;
