//! The findings store: every run (start, end, inputs, summary) and the findings it produced, so a scan
//! can be compared with the last one and queried later.
//!
//! Findings are keyed by their stable id ([`Finding::stable_id`]): scanning the same logs again updates
//! `last_seen` and `times_seen` instead of adding duplicates. SQLite ([`sqlite::SqliteStore`]) is the
//! embedded default; PostgreSQL ([`postgres::PostgresStore`], `--store postgres://…`) serves many
//! processes on many hosts. Both implement [`FindingStore`] on one schema ([`schema`]: the versioned
//! migrations, numbered alike, and the SQL both run) and read rows one way ([`row`]); [`open`] picks
//! one from the `--store` value, and [`display_name`] is how a store is named in messages (never with
//! its password).
//!
//! The contract every backend keeps: concurrent runs into one store never lose a run (writers wait for
//! each other); a store the backend cannot use (unreadable, read-only, from a newer trailguard) is
//! refused at [`open`], untouched, so a scan fails before it starts rather than after; a run that never
//! finished reads back as [`RunStatus::Interrupted`] once its process is gone; and a stored finding that
//! cannot be read is skipped and reported as a [`DamagedRow`], never fatal to the query. [`RunRecorder`]
//! is how a command uses it: open and begin the run up front, save and finish at the end.

pub mod alerting;
pub mod cli;
#[cfg(test)]
mod contract;
pub mod dashboard;
pub mod postgres;
pub mod row;
pub mod schema;
pub mod sqlite;

use std::path::Path;

use trailguard_rules::output::RunSummary;
use trailguard_rules::{Finding, Severity};

use row::RowRead;
use schema::Param;

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
    #[error("store `{0}` is not supported: give a SQLite file path or a postgres:// URL")]
    Unsupported(String),
    #[error("store query failed")]
    Sql(#[from] rusqlite::Error),
    #[error("cannot connect to store `{store}`")]
    Connect {
        store: String,
        #[source]
        source: PgCause,
    },
    #[error("store `{store}` refused: {why}")]
    Transport { store: String, why: String },
    #[error("store `{store}`: query failed")]
    Query {
        store: String,
        #[source]
        source: PgCause,
    },
    #[error("a stored run cannot be read: {0}")]
    DamagedRun(String),
    #[error("a stored {table} row cannot be read: {reason}")]
    DamagedState { table: &'static str, reason: String },
    #[error("cannot encode finding `{id}` as JSON")]
    Encode {
        id: String,
        #[source]
        source: serde_json::Error,
    },
}

/// A PostgreSQL error as one line: the server's message (with its detail and hint, when it sends them),
/// or the client's reason (connection refused, timed out, bad URL). `postgres::Error` itself prints its
/// cause separately and a server error over several lines.
#[derive(Debug)]
pub struct PgCause(String);

impl From<::postgres::Error> for PgCause {
    fn from(error: ::postgres::Error) -> PgCause {
        if let Some(db) = error.as_db_error() {
            let mut text = db.message().to_owned();
            if let Some(detail) = db.detail() {
                text.push_str(&format!(" ({detail})"));
            }
            if let Some(hint) = db.hint() {
                text.push_str(&format!("; hint: {hint}"));
            }
            return PgCause(text.replace('\n', " "));
        }
        let mut text = error.to_string();
        let mut cause = std::error::Error::source(&error);
        while let Some(inner) = cause {
            text.push_str(&format!(": {inner}"));
            cause = inner.source();
        }
        PgCause(text.replace('\n', " "))
    }
}

impl std::fmt::Display for PgCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PgCause {}

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
    /// The row's `rowid` (SQLite's own; an identity column of the same name in Postgres).
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectCommit {
    /// The object's findings and its processed-object row were committed together. `reevaluated`: the
    /// sequence rules the commit evaluated again because it stored new observations of them, sorted;
    /// only their stored findings can have changed.
    Committed {
        saved: SaveStats,
        reevaluated: Vec<String>,
    },
    /// Another worker (or an earlier delivery) committed this object first: nothing was written.
    AlreadyProcessed,
}

/// One sequence-rule observation as `serve` keeps it (schema version 4, table `sequence_observations`):
/// the rule's code, the event's key (one row per event, however many objects or deliveries repeat it),
/// its time (ms since the epoch) and the observation as JSON ([`trailguard_rules::engine::Observation`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObservation {
    pub rule: String,
    pub key: String,
    pub at: i64,
    pub body: String,
}

/// The sequence rules' part of [`FindingStore::commit_object`]: the object's observations, how to
/// evaluate a rule over the bodies of every stored observation of it, and how long to keep them.
pub struct SequenceWork<'a> {
    pub observations: &'a [StoredObservation],
    pub evaluate: &'a dyn Fn(&str, Vec<String>) -> Vec<Finding>,
    /// For a rule, the storing time (RFC 3339) before which its observations are forgotten once it has
    /// been evaluated; `None`: kept. Without it a service's tables, and each evaluation, grow forever.
    /// The findings already made from forgotten observations stay; a burst or session still open across
    /// the line is judged afresh from what is kept.
    pub forget_before: &'a dyn Fn(&str) -> Option<String>,
}

impl SequenceWork<'_> {
    /// No observations: the commit touches no sequence rule.
    #[cfg(test)]
    pub fn none() -> SequenceWork<'static> {
        SequenceWork {
            observations: &[],
            evaluate: &|_, _| Vec::new(),
            forget_before: &|_| None,
        }
    }

    /// The rules with observations here, each once, in one order for every writer (the lock order).
    pub fn rules(&self) -> Vec<&str> {
        let mut rules: Vec<&str> = self.observations.iter().map(|o| o.rule.as_str()).collect();
        rules.sort_unstable();
        rules.dedup();
        rules
    }

    /// The observations sorted by (rule, key): one lock order for every writer.
    pub fn in_lock_order(&self) -> Vec<&StoredObservation> {
        let mut sorted: Vec<&StoredObservation> = self.observations.iter().collect();
        sorted.sort_by(|a, b| (&a.rule, &a.key).cmp(&(&b.rule, &b.key)));
        sorted
    }
}

/// The findings a rule's earlier evaluation stored (`before`) that its new one no longer gives, sorted
/// (one lock order for every writer).
pub(crate) fn stale_findings(mut before: Vec<String>, now: &[Finding]) -> Vec<String> {
    let given: std::collections::HashSet<&str> = now.iter().map(|f| f.id.as_str()).collect();
    before.retain(|id| !given.contains(id.as_str()));
    before.sort_unstable();
    before
}

/// A delivery-health row (schema version 4, table `delivery_health`): when a log file of an account and
/// region last arrived (was committed) and the newest `eventTime` any of its files held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub account: String,
    pub region: String,
    pub last_arrival_at: String,
    pub newest_event_at: Option<String>,
}

/// The SQL dialect of a backend, for the few statements that differ (row locks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// One open write transaction of a backend: statements of [`schema`] run through it by code written
/// once for both backends ([`alerting`]). SQLite's is immediate (it holds the write lock from the
/// start); Postgres's locks rows, so a reader that must lock what it reads says `FOR UPDATE`.
pub trait Tx {
    fn dialect(&self) -> Dialect;
    /// Runs one statement; the number of rows it changed.
    fn exec(&mut self, sql: &str, params: &[Param]) -> Result<u64, StoreError>;
    /// Runs one query and hands each row to `each`; an `Err` from `each` names what could not be read.
    fn query(
        &mut self,
        sql: &str,
        params: &[Param],
        each: &mut dyn FnMut(&dyn RowRead) -> Result<(), String>,
    ) -> Result<(), StoreError>;
}

/// The work of one transaction, for [`FindingStore::transact`].
pub type TxWork<'a> = dyn FnMut(&mut dyn Tx) -> Result<(), StoreError> + 'a;

/// A findings store backend.
pub trait FindingStore {
    /// Runs `work` in one write transaction, committed when it returns `Ok` and rolled back otherwise.
    fn transact(&mut self, work: &mut TxWork<'_>) -> Result<(), StoreError>;
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
    /// Tests only: runs one statement in the backend's own connection and returns the first column of
    /// the first row as text (write `CAST(x AS TEXT)` for other types), so a contract test can damage a
    /// row or look under the trait the same way on every backend.
    #[cfg(test)]
    fn test_sql(&mut self, sql: &str) -> Result<Option<String>, StoreError>;

    // `serve`'s processed objects (schema version 3, table `processed_objects`). A backend keeps one
    // row per (bucket, key, etag), written in the same transaction as the object's findings, so a
    // finding is never committed without its row nor a row without its findings.

    /// Whether the object's findings are already committed (checked before fetching it; the commit
    /// itself is what settles a race between workers).
    fn object_processed(&self, object: &ObjectVersion) -> Result<bool, StoreError>;
    /// Commits one object: inserts its processed-object row (with `records`, the number of records
    /// read from it) and, only when the row is new, upserts `findings` and links them to `run`, all in
    /// one transaction. When the row exists, writes nothing and returns [`ObjectCommit::AlreadyProcessed`].
    ///
    /// In the same transaction, the sequence rules (schema version 4): the object's observations are
    /// added to `sequence_observations` (an event already there is not added twice), and each rule that
    /// gained one is evaluated again over all of its stored observations, writers serialised per rule
    /// (SQLite's write lock; a transaction-scoped advisory lock per rule in PostgreSQL, taken after
    /// the inserts so the evaluation sees every committed observation). The rule's findings become
    /// exactly that evaluation's: the ones an earlier evaluation stored and this one no longer gives
    /// (a burst seen in part, now seen whole) are deleted, tracked in `sequence_findings`.
    fn commit_object(
        &mut self,
        run: RunId,
        seen_at: &str,
        object: &ObjectVersion,
        records: u64,
        findings: &[Finding],
        sequences: &SequenceWork<'_>,
    ) -> Result<ObjectCommit, StoreError>;

    /// Records that a log file of `delivery.account` and `.region` arrived (schema version 4): the
    /// arrival time is the latest written, the newest event time the latest of all.
    fn record_delivery(&mut self, delivery: &Delivery) -> Result<(), StoreError>;
    /// The account and region pairs whose last file arrived before `before` (RFC 3339), oldest first.
    fn silent_deliveries(&self, before: &str) -> Result<Vec<Delivery>, StoreError>;
}

/// Whether `--store` names a PostgreSQL database rather than a SQLite file.
pub fn is_postgres(spec: &str) -> bool {
    spec.starts_with("postgres://") || spec.starts_with("postgresql://")
}

/// Opens the store named by `--store`: a `postgres://` (or `postgresql://`) URL, or a SQLite file path
/// (`sqlite://` optional; created with its parent directories).
pub fn open(spec: &str) -> Result<Box<dyn FindingStore>, StoreError> {
    if is_postgres(spec) {
        return Ok(Box::new(postgres::PostgresStore::open(spec)?));
    }
    if spec.contains("://") && !spec.starts_with("sqlite://") {
        return Err(StoreError::Unsupported(display_name(spec)));
    }
    let path = spec.strip_prefix("sqlite://").unwrap_or(spec);
    Ok(Box::new(sqlite::SqliteStore::open(Path::new(path))?))
}

/// The store as messages name it: a path as given, a URL without its password (in the user part or a
/// `password=` parameter).
pub fn display_name(spec: &str) -> String {
    let Some((scheme, rest)) = spec.split_once("://") else {
        return spec.to_owned();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => {
            let user = user.split_once(':').map_or(user, |(name, _)| name);
            format!("{user}@{host}")
        }
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let kept: Vec<&str> = query
                .split('&')
                .filter(|pair| !pair.to_ascii_lowercase().starts_with("password="))
                .collect();
            if kept.is_empty() {
                path.to_owned()
            } else {
                format!("{path}?{}", kept.join("&"))
            }
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
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
                self.run,
                display_name(&self.spec),
                self.saved.inserted,
                self.saved.updated
            );
        }
        Ok(self.saved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_is_named_without_its_password() {
        for (spec, shown) in [
            (".trailguard/trailguard.db", ".trailguard/trailguard.db"),
            (
                "postgres://alice:s3cret@db:5432/tg?sslmode=disable",
                "postgres://alice@db:5432/tg?sslmode=disable",
            ),
            (
                "postgresql://alice@db/tg?password=s3cret&sslmode=disable",
                "postgresql://alice@db/tg?sslmode=disable",
            ),
            ("postgres://db/tg?PASSWORD=s3cret", "postgres://db/tg"),
            ("postgres://a:b:c@d@host", "postgres://a@host"),
            ("postgres://alice:s3cret@db", "postgres://alice@db"),
        ] {
            assert_eq!(display_name(spec), shown, "{spec}");
        }
    }

    #[test]
    fn an_unknown_scheme_is_refused_not_taken_for_a_path() {
        let err = open("mysql://root:s3cret@db/tg").err().unwrap();
        assert!(matches!(err, StoreError::Unsupported(_)), "{err}");
        let text = err.to_string();
        assert!(text.contains("mysql://root@db/tg"), "{text}");
        assert!(!text.contains("s3cret"), "{text}");
        assert!(!Path::new("mysql:").exists());
    }
}
