//! The findings store: every run (start, end, inputs, summary) and the findings it produced, so a scan
//! can be compared with the last one and queried later.
//!
//! Findings are keyed by their stable id ([`Finding::stable_id`]): scanning the same logs again updates
//! `last_seen` and `times_seen` instead of adding duplicates. SQLite ([`sqlite::SqliteStore`]) is the
//! embedded default; the [`FindingStore`] trait is what another backend (Postgres) would implement, and
//! [`open`] picks one from the `--store` value.

pub mod cli;
pub mod sqlite;

use std::path::Path;

use trailguard_rules::output::RunSummary;
use trailguard_rules::{Finding, Severity};

/// A run's id in the store.
pub type RunId = i64;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open store `{path}`")]
    Open {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot create the directory for store `{path}`")]
    CreateDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("store `{path}` has schema version {found}, newer than this trailguard understands ({supported}); upgrade trailguard")]
    TooNew {
        path: String,
        found: i64,
        supported: i64,
    },
    #[error(
        "store `{0}` is not supported: only SQLite file paths are built in (Postgres is planned)"
    )]
    Unsupported(String),
    #[error("store query failed")]
    Sql(#[from] rusqlite::Error),
    #[error("stored finding `{id}` is not valid JSON")]
    Corrupt {
        id: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot encode finding `{id}` as JSON")]
    Encode {
        id: String,
        #[source]
        source: serde_json::Error,
    },
}

/// What a run saved: new findings and findings seen before.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SaveStats {
    pub inserted: u64,
    pub updated: u64,
}

/// A run as the store keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRun {
    pub id: RunId,
    pub command: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub inputs: Vec<String>,
    pub summary: Option<RunSummary>,
    /// Findings this run reported (new or seen before).
    pub findings: u64,
}

/// A finding as the store keeps it: the finding plus when it was seen.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFinding {
    pub finding: Finding,
    pub first_seen_at: String,
    pub last_seen_at: String,
    pub first_seen_run: RunId,
    pub last_seen_run: RunId,
    pub times_seen: u64,
}

/// Filters for [`FindingStore::findings`]; empty fields match everything.
#[derive(Debug, Clone, Default)]
pub struct FindingQuery {
    pub min_severity: Option<Severity>,
    pub rule_id: Option<String>,
    pub account: Option<String>,
    /// Only findings reported by this run.
    pub run: Option<RunId>,
    /// Event time at or after (RFC 3339 prefix compare, like CloudTrail's own times).
    pub since: Option<String>,
    pub limit: Option<u64>,
}

/// A findings store backend.
pub trait FindingStore {
    /// Records the start of a run and returns its id.
    fn begin_run(
        &mut self,
        command: &str,
        started_at: &str,
        inputs: &[String],
    ) -> Result<RunId, StoreError>;
    /// Upserts findings on their stable id and links them to `run`.
    fn save_findings(
        &mut self,
        run: RunId,
        seen_at: &str,
        findings: &[Finding],
    ) -> Result<SaveStats, StoreError>;
    /// Records the end of a run with its summary.
    fn finish_run(&mut self, run: RunId, summary: &RunSummary) -> Result<(), StoreError>;
    /// Stored findings, worst first, then newest event first.
    fn findings(&self, query: &FindingQuery) -> Result<Vec<StoredFinding>, StoreError>;
    /// The most recent runs, newest first.
    fn runs(&self, limit: u64) -> Result<Vec<StoredRun>, StoreError>;
}

/// Opens the store named by `--store`: a SQLite file path (created with its parent directories).
pub fn open(spec: &str) -> Result<Box<dyn FindingStore>, StoreError> {
    if spec.starts_with("postgres://") || spec.starts_with("postgresql://") {
        // Name the scheme only: the URL may hold a password.
        let scheme = spec.split("://").next().unwrap_or("postgres");
        return Err(StoreError::Unsupported(format!("{scheme}://…")));
    }
    let path = spec.strip_prefix("sqlite://").unwrap_or(spec);
    Ok(Box::new(sqlite::SqliteStore::open(Path::new(path))?))
}
