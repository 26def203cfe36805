//! The findings store: every run (start, end, inputs, summary) and the findings it produced, so a scan
//! can be compared with the last one and queried later.
//!
//! Findings are keyed by their stable id ([`Finding::stable_id`]): scanning the same logs again updates
//! `last_seen` and `times_seen` instead of adding duplicates. SQLite ([`sqlite::SqliteStore`]) is the
//! embedded default; the [`FindingStore`] trait is what another backend (Postgres) would implement, and
//! [`open`] picks one from the `--store` value.
//!
//! The contract every backend keeps: concurrent runs into one store never lose a run (writers wait for
//! each other); a store the backend cannot use (unreadable, read-only, from a newer trailguard) is
//! refused at [`open`], untouched, so a scan fails before it starts rather than after; a run that never
//! finished reads back as [`RunStatus::Interrupted`] once its process is gone; and a stored finding that
//! cannot be read is skipped and reported as a [`DamagedRow`], never fatal to the query. [`RunRecorder`]
//! is how a command uses it: open and begin the run up front, save and finish at the end.

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
        "store `{path}` is read-only: trailguard must write to it (check the file's permissions)"
    )]
    ReadOnly { path: String },
    #[error(
        "store `{0}` is not supported: only SQLite file paths are built in (Postgres is planned)"
    )]
    Unsupported(String),
    #[error("store query failed")]
    Sql(#[from] rusqlite::Error),
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
    pub status: RunStatus,
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Finished,
    /// Not finished, and its process is still running.
    Running,
    /// Not finished, and its process is gone (killed, crashed, or stopped by an error).
    Interrupted,
    /// Not finished, and this host cannot tell whether its process is alive (another host, or a run
    /// recorded before processes were).
    Unknown,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Finished => "finished",
            RunStatus::Running => "running",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Unknown => "unfinished",
        }
    }
}

/// A stored finding row that could not be read, and why; the rest of the query is still answered.
#[derive(Debug, Clone, PartialEq)]
pub struct DamagedRow {
    /// The row's SQLite rowid.
    pub row: i64,
    /// The finding id, when that column could be read.
    pub id: Option<String>,
    pub reason: String,
}

impl std::fmt::Display for DamagedRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "stored finding row {}", self.row)?;
        if let Some(id) = &self.id {
            write!(f, " (`{id}`)")?;
        }
        write!(f, " skipped: {}", self.reason)
    }
}

/// The answer to [`FindingStore::findings`]: the readable findings and the rows that were skipped.
#[derive(Debug, Clone, Default)]
pub struct FindingsRead {
    pub findings: Vec<StoredFinding>,
    pub damaged: Vec<DamagedRow>,
}

impl FindingsRead {
    /// One warning line per skipped row, on stderr.
    pub fn warn_damaged(&self, store: &str) {
        for row in &self.damaged {
            eprintln!("warning: store `{store}`: {row}");
        }
    }
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

/// An S3 object `serve` has worked on, as the processed-objects table keys it: a notification for the
/// same bucket, key and ETag (or, for an event delivered inline, its EventBridge id) is a no-op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectVersion {
    pub bucket: String,
    pub key: String,
    /// The ETag without quotes; the version id when the bucket is versioned and the ETag unknown.
    pub etag: String,
}

/// What [`FindingStore::commit_object`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectCommit {
    /// The object's findings and its processed-object row were committed together.
    Committed(SaveStats),
    /// Another worker (or an earlier delivery) committed this object first: nothing was written.
    AlreadyProcessed,
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
    /// Stored findings, worst first, then newest event first; unreadable rows are skipped and listed.
    fn findings(&self, query: &FindingQuery) -> Result<FindingsRead, StoreError>;
    /// The most recent runs, newest first.
    fn runs(&self, limit: u64) -> Result<Vec<StoredRun>, StoreError>;

    // `serve`'s processed objects (schema version 3, table `processed_objects`). A backend keeps one
    // row per (bucket, key, etag), written in the same transaction as the object's findings, so a
    // finding is never committed without its row nor a row without its findings.

    /// Whether the object's findings are already committed (checked before fetching it; the commit
    /// itself is what settles a race between workers).
    fn object_processed(&self, object: &ObjectVersion) -> Result<bool, StoreError>;
    /// Commits one object: inserts its processed-object row (with `records`, the number of records
    /// read from it) and, only when the row is new, upserts `findings` and links them to `run`, all in
    /// one transaction. When the row exists, writes nothing and returns [`ObjectCommit::AlreadyProcessed`].
    fn commit_object(
        &mut self,
        run: RunId,
        seen_at: &str,
        object: &ObjectVersion,
        records: u64,
        findings: &[Finding],
    ) -> Result<ObjectCommit, StoreError>;
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

/// One command's run in the store. [`RunRecorder::start`] opens the store and records the run before
/// the work begins (so a store that cannot be used fails first); [`RunRecorder::save`] takes findings as
/// they are found and writes them in batches, one transaction each; [`RunRecorder::finish`] writes the
/// rest and the summary. A store error stops saving and is returned by `finish`, after the work is done.
pub struct RunRecorder {
    store: Box<dyn FindingStore>,
    spec: String,
    run: RunId,
    seen_at: String,
    batch: Vec<Finding>,
    saved: SaveStats,
    error: Option<StoreError>,
}

/// Findings saved per store transaction.
const SAVE_BATCH: usize = 512;

impl RunRecorder {
    pub fn start(
        spec: &str,
        command: &str,
        started_at: &str,
        inputs: &[String],
    ) -> Result<RunRecorder, StoreError> {
        let mut store = open(spec)?;
        let run = store.begin_run(command, started_at, inputs)?;
        Ok(RunRecorder {
            store,
            spec: spec.to_owned(),
            run,
            seen_at: started_at.to_owned(),
            batch: Vec::new(),
            saved: SaveStats::default(),
            error: None,
        })
    }

    /// Queues one finding; a full batch is written at once.
    pub fn save(&mut self, finding: Finding) {
        if self.error.is_some() {
            return;
        }
        self.batch.push(finding);
        if self.batch.len() >= SAVE_BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.batch.is_empty() || self.error.is_some() {
            return;
        }
        match self
            .store
            .save_findings(self.run, &self.seen_at, &self.batch)
        {
            Ok(saved) => {
                self.saved.inserted += saved.inserted;
                self.saved.updated += saved.updated;
            }
            Err(err) => self.error = Some(err),
        }
        self.batch.clear();
    }

    /// Saves what is queued and closes the run; says what was stored unless `quiet`.
    pub fn finish(mut self, summary: &RunSummary, quiet: bool) -> Result<SaveStats, StoreError> {
        self.flush();
        if let Some(err) = self.error {
            return Err(err);
        }
        self.store.finish_run(self.run, summary)?;
        if !quiet {
            eprintln!(
                "stored run {} in {}: {} new findings, {} seen before",
                self.run, self.spec, self.saved.inserted, self.saved.updated
            );
        }
        Ok(self.saved)
    }
}
