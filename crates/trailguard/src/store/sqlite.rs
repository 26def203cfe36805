//! The embedded SQLite store (rusqlite, bundled SQLite: nothing to install).
//!
//! Schema versions live in `PRAGMA user_version`; the shared [`MIGRATIONS`] are applied in order inside
//! one `BEGIN IMMEDIATE` transaction that re-reads the version, so scans racing to create a new store
//! migrate it exactly once. A store from a newer trailguard is refused before anything is written to it
//! (not even the switch to WAL), and a read-only one is refused at open, so both show up before a scan
//! starts.
//!
//! Contention: every write takes the write lock up front (immediate transactions) and waits for it
//! through the busy handler for up to [`BUSY_TIMEOUT`]; findings are saved in batches of [`SAVE_BATCH`]
//! so a long save never holds the lock for long. Each run records the process that writes it, so a run
//! whose process is gone before it finished reads back as `interrupted`.
//!
//! The statements are the shared ones of [`super::schema`]; rows are read by [`super::row`].

use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, TransactionBehavior};
use trailguard_rules::output::RunSummary;
use trailguard_rules::Finding;

use super::row::{self, FindingColumns, ProcessId, RowRead};
use super::schema::{self, Param, MIGRATIONS, SCHEMA_VERSION};
use super::{
    DamagedRow, Delivery, FindingQuery, FindingStore, FindingsRead, ObjectCommit, ObjectVersion,
    RunId, SaveStats, SequenceWork, StoreError, StoredRun,
};

/// How long a write waits for another process's write lock before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(120);

/// Findings per write transaction: small enough that other writers wait milliseconds, not minutes.
const SAVE_BATCH: usize = 2_000;

pub struct SqliteStore {
    conn: Connection,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let shown = path.display().to_string();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::CreateDir {
                path: shown.clone(),
                source,
            })?;
        }
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: shown.clone(),
            source,
        })?;
        Self::prepare(conn, &shown)
    }

    /// An in-memory store, for tests.
    #[cfg(test)]
    pub fn in_memory() -> Result<SqliteStore, StoreError> {
        let conn = Connection::open_in_memory().map_err(|source| StoreError::Open {
            path: ":memory:".into(),
            source,
        })?;
        Self::prepare(conn, ":memory:")
    }

    fn prepare(mut conn: Connection, shown: &str) -> Result<SqliteStore, StoreError> {
        let open_err = |source| StoreError::Open {
            path: shown.to_owned(),
            source,
        };
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        // Read-only checks first: a newer store is refused untouched.
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(open_err)?;
        schema::refuse_newer(version, shown)?;
        if conn
            .is_readonly(rusqlite::DatabaseName::Main)
            .map_err(open_err)?
        {
            return Err(StoreError::ReadOnly {
                path: shown.to_owned(),
            });
        }
        // WAL lets `trailguard findings` read while a scan writes.
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory") {
            conn.pragma_update(None, "journal_mode", "WAL")
                .or_else(|_| conn.pragma_update(None, "journal_mode", "DELETE"))
                .map_err(open_err)?;
        }
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        migrate(&mut conn, shown)?;
        Ok(SqliteStore { conn })
    }

    /// The schema version of the open database.
    #[cfg(test)]
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))?)
    }

    /// A write transaction that holds the write lock from its first statement, so it waits for other
    /// writers through the busy handler instead of failing when it upgrades from reading.
    fn write(&mut self) -> Result<rusqlite::Transaction<'_>, StoreError> {
        Ok(self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?)
    }
}

fn migrate(conn: &mut Connection, shown: &str) -> Result<(), StoreError> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if current == SCHEMA_VERSION {
        return Ok(());
    }
    // Another process may be migrating the same new store: take the lock, then look again.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    schema::refuse_newer(current, shown)?;
    for migration in MIGRATIONS.iter().skip(current.max(0) as usize) {
        tx.execute_batch(migration.sqlite)?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

impl RowRead for rusqlite::Row<'_> {
    fn int(&self, index: usize) -> Result<i64, String> {
        self.get(index).map_err(|e| e.to_string())
    }
    fn opt_int(&self, index: usize) -> Result<Option<i64>, String> {
        self.get(index).map_err(|e| e.to_string())
    }
    fn text(&self, index: usize) -> Result<String, String> {
        self.get(index).map_err(|e| e.to_string())
    }
    fn opt_text(&self, index: usize) -> Result<Option<String>, String> {
        self.get(index).map_err(|e| e.to_string())
    }
}

impl rusqlite::ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Param::Int(v) => v.to_sql(),
            Param::Text(v) => v.to_sql(),
            Param::NullText | Param::NullInt => Ok(rusqlite::types::ToSqlOutput::Owned(
                rusqlite::types::Value::Null,
            )),
        }
    }
}

/// [`super::Tx`] over an immediate SQLite transaction.
struct SqliteTx<'a>(&'a rusqlite::Transaction<'a>);

impl super::Tx for SqliteTx<'_> {
    fn dialect(&self) -> super::Dialect {
        super::Dialect::Sqlite
    }

    fn exec(&mut self, sql: &str, params: &[Param]) -> Result<u64, StoreError> {
        Ok(self
            .0
            .execute(sql, rusqlite::params_from_iter(params.iter()))? as u64)
    }

    fn query(
        &mut self,
        sql: &str,
        params: &[Param],
        each: &mut dyn FnMut(&dyn RowRead) -> Result<(), String>,
    ) -> Result<(), StoreError> {
        let mut statement = self.0.prepare(sql)?;
        let mut rows = statement.query(rusqlite::params_from_iter(params.iter()))?;
        while let Some(row) = rows.next()? {
            each(row).map_err(|reason| StoreError::DamagedState {
                table: "state",
                reason,
            })?;
        }
        Ok(())
    }
}

impl FindingStore for SqliteStore {
    fn transact(&mut self, work: &mut super::TxWork<'_>) -> Result<(), StoreError> {
        let tx = self.write()?;
        work(&mut SqliteTx(&tx))?;
        tx.commit()?;
        Ok(())
    }

    fn begin_run(
        &mut self,
        command: &str,
        started_at: &str,
        inputs: &[String],
    ) -> Result<RunId, StoreError> {
        let inputs = serde_json::to_string(inputs).unwrap_or_else(|_| "[]".to_owned());
        let me = ProcessId::current();
        let tx = self.write()?;
        mark_interrupted_runs(&tx)?;
        let id = tx.query_row(
            schema::BEGIN_RUN,
            params![
                command,
                env!("CARGO_PKG_VERSION"),
                started_at,
                inputs,
                me.pid,
                me.start,
                me.host
            ],
            |row| row.get(0),
        )?;
        tx.commit()?;
        Ok(id)
    }

    fn save_findings(
        &mut self,
        run: RunId,
        seen_at: &str,
        findings: &[Finding],
    ) -> Result<SaveStats, StoreError> {
        let mut stats = SaveStats::default();
        for batch in findings.chunks(SAVE_BATCH) {
            let tx = self.write()?;
            save_batch(&tx, run, seen_at, batch, &mut stats)?;
            tx.commit()?;
        }
        Ok(stats)
    }

    fn finish_run(&mut self, run: RunId, summary: &RunSummary) -> Result<(), StoreError> {
        let finished_at = summary
            .finished_at
            .clone()
            .unwrap_or_else(|| chrono::Utc::now().to_rfc3339());
        let summary_json = serde_json::to_string(summary).unwrap_or_else(|_| "{}".to_owned());
        let tx = self.write()?;
        tx.execute(schema::FINISH_RUN, params![finished_at, summary_json, run])?;
        tx.commit()?;
        Ok(())
    }

    fn findings(&self, query: &FindingQuery) -> Result<FindingsRead, StoreError> {
        let (sql, values) = schema::findings_query(query);
        let mut statement = self.conn.prepare(&sql)?;
        let mut rows = statement.query(rusqlite::params_from_iter(values))?;
        let mut read = FindingsRead::default();
        while let Some(row) = rows.next()? {
            match row::stored_finding(row) {
                Ok(finding) => read.findings.push(finding),
                Err(reason) => read.damaged.push(DamagedRow {
                    row: row.get::<_, i64>(0).unwrap_or_default(),
                    id: row.get::<_, String>(1).ok(),
                    reason,
                }),
            }
        }
        Ok(read)
    }

    fn runs(&self, limit: u64) -> Result<Vec<StoredRun>, StoreError> {
        let mut statement = self.conn.prepare(schema::LATEST_RUNS)?;
        let mut rows = statement.query([limit.min(i64::MAX as u64) as i64])?;
        let mut runs = Vec::new();
        while let Some(row) = rows.next()? {
            runs.push(row::stored_run(row)?);
        }
        Ok(runs)
    }

    #[cfg(test)]
    fn test_sql(&mut self, sql: &str) -> Result<Option<String>, StoreError> {
        let mut statement = self.conn.prepare(sql)?;
        let mut rows = statement.query([])?;
        Ok(match rows.next()? {
            Some(row) if row.as_ref().column_count() > 0 => row.get(0)?,
            _ => None,
        })
    }

    fn object_processed(&self, object: &ObjectVersion) -> Result<bool, StoreError> {
        let found: i64 = self
            .conn
            .prepare_cached(schema::OBJECT_PROCESSED)?
            .query_row(params![object.bucket, object.key, object.etag], |row| {
                row.get(0)
            })?;
        Ok(found > 0)
    }

    fn commit_object(
        &mut self,
        run: RunId,
        seen_at: &str,
        object: &ObjectVersion,
        records: u64,
        findings: &[Finding],
        sequences: &SequenceWork<'_>,
    ) -> Result<ObjectCommit, StoreError> {
        let tx = self.write()?;
        // The row first: the primary key settles which worker commits the object; the loser's
        // transaction is dropped (rolled back) with nothing written.
        let claimed = tx.execute(
            schema::CLAIM_OBJECT,
            params![
                object.bucket,
                object.key,
                object.etag,
                run,
                seen_at,
                records.min(i64::MAX as u64) as i64,
                findings.len() as i64
            ],
        )?;
        if claimed == 0 {
            return Ok(ObjectCommit::AlreadyProcessed);
        }
        let mut stats = SaveStats::default();
        save_batch(&tx, run, seen_at, findings, &mut stats)?;
        // The write lock is held: no other writer evaluates a rule until this one commits.
        let mut gained = Vec::new();
        {
            let mut insert = tx.prepare_cached(schema::INSERT_OBSERVATION)?;
            for o in sequences.in_lock_order() {
                if insert.execute(params![o.rule, o.key, o.at, o.body, seen_at])? == 1 {
                    gained.push(o.rule.as_str());
                }
            }
        }
        let mut reevaluated = Vec::new();
        for rule in sequences.rules() {
            if gained.contains(&rule) {
                reevaluate(&tx, run, seen_at, rule, sequences, &mut stats)?;
                reevaluated.push(rule.to_owned());
            }
        }
        tx.commit()?;
        Ok(ObjectCommit::Committed {
            saved: stats,
            reevaluated,
        })
    }

    fn record_delivery(&mut self, delivery: &Delivery) -> Result<(), StoreError> {
        let tx = self.write()?;
        tx.prepare_cached(schema::RECORD_DELIVERY)?
            .execute(params![
                delivery.account,
                delivery.region,
                delivery.last_arrival_at,
                delivery.newest_event_at
            ])?;
        tx.commit()?;
        Ok(())
    }

    fn silent_deliveries(&self, before: &str) -> Result<Vec<Delivery>, StoreError> {
        let mut select = self.conn.prepare_cached(schema::SILENT_DELIVERIES)?;
        let rows = select.query_map([before], |row| {
            Ok(Delivery {
                account: row.get(0)?,
                region: row.get(1)?,
                last_arrival_at: row.get(2)?,
                newest_event_at: row.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }
}

/// Marks unfinished runs whose writing process is gone (on this host) as interrupted, so the mark stays
/// true after the pid is reused.
fn mark_interrupted_runs(tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
    let mut gone = Vec::new();
    {
        let mut select = tx.prepare(schema::UNMARKED_UNFINISHED_RUNS)?;
        let mut rows = select.query([])?;
        while let Some(row) = rows.next()? {
            gone.extend(row::gone_run(row)?);
        }
    }
    for id in gone {
        tx.execute(schema::MARK_INTERRUPTED, [id])?;
    }
    Ok(())
}

/// Evaluates `rule` over every stored observation of it and makes its stored findings that evaluation's.
fn reevaluate(
    tx: &rusqlite::Transaction<'_>,
    run: RunId,
    seen_at: &str,
    rule: &str,
    sequences: &SequenceWork<'_>,
    stats: &mut SaveStats,
) -> Result<(), StoreError> {
    let column = |sql: &str| -> Result<Vec<String>, StoreError> {
        let mut select = tx.prepare_cached(sql)?;
        let rows = select.query_map([rule], |row| row.get::<_, String>(0))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    };
    let findings = (sequences.evaluate)(rule, column(schema::RULE_OBSERVATIONS)?);
    for id in super::stale_findings(column(schema::RULE_FINDINGS)?, &findings) {
        tx.execute(schema::DROP_RULE_FINDING, params![rule, id])?;
        tx.execute(schema::DELETE_FINDING_LINKS, [&id])?;
        tx.execute(schema::DELETE_FINDING, [&id])?;
    }
    let mut insert = tx.prepare_cached(schema::INSERT_FINDING)?;
    let mut refresh = tx.prepare_cached(schema::REFRESH_FINDING)?;
    let mut link = tx.prepare_cached(schema::LINK_FINDING)?;
    let mut remember = tx.prepare_cached(schema::ADD_RULE_FINDING)?;
    for finding in &findings {
        let c = FindingColumns::of(finding)?;
        let inserted = insert_finding(&mut insert, &c, run, seen_at)?;
        if inserted == 1 {
            stats.inserted += 1;
            link.execute(params![run, c.id])?;
        } else {
            refresh.execute(params![
                c.title,
                c.severity,
                c.severity_rank,
                c.outcome,
                c.body,
                c.id
            ])?;
        }
        remember.execute(params![rule, c.id])?;
    }
    // Last, so that the findings made with what is forgotten are no longer remembered as this rule's
    // and stay when later evaluations, without those observations, no longer give them.
    if let Some(before) = (sequences.forget_before)(rule) {
        if tx.execute(schema::FORGET_OBSERVATIONS, params![rule, before])? > 0 {
            tx.execute(schema::FORGET_RULE_FINDINGS, [rule])?;
        }
    }
    Ok(())
}

/// [`schema::INSERT_FINDING`] for one finding: 1 when it is new, 0 when its id is stored already.
fn insert_finding(
    insert: &mut rusqlite::CachedStatement<'_>,
    c: &FindingColumns<'_>,
    run: RunId,
    seen_at: &str,
) -> rusqlite::Result<usize> {
    insert.execute(params![
        c.id,
        c.rule_id,
        c.rule_name,
        c.title,
        c.severity,
        c.severity_rank,
        c.source,
        c.outcome,
        c.event_time,
        c.event_name,
        c.event_id,
        c.account,
        c.region,
        c.actor_arn,
        c.resource_id,
        c.body,
        run,
        seen_at,
    ])
}

fn save_batch(
    tx: &rusqlite::Transaction<'_>,
    run: RunId,
    seen_at: &str,
    findings: &[Finding],
    stats: &mut SaveStats,
) -> Result<(), StoreError> {
    let mut insert = tx.prepare_cached(schema::INSERT_FINDING)?;
    let mut update = tx.prepare_cached(schema::UPDATE_FINDING)?;
    let mut link = tx.prepare_cached(schema::LINK_FINDING)?;
    for finding in findings {
        let c = FindingColumns::of(finding)?;
        let inserted = insert_finding(&mut insert, &c, run, seen_at)?;
        if inserted == 1 {
            stats.inserted += 1;
        } else {
            update.execute(params![
                c.rule_name,
                c.title,
                c.severity,
                c.severity_rank,
                c.outcome,
                c.body,
                run,
                seen_at,
                c.id,
            ])?;
            stats.updated += 1;
        }
        link.execute(params![run, c.id])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::contract::finding;
    use crate::store::{FindingQuery, RunStatus, StoreError};
    use trailguard_rules::Severity;

    #[test]
    fn file_store_persists_and_refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("tg.db");
        {
            let mut store = SqliteStore::open(&path).unwrap();
            assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
            let run = store
                .begin_run("scan", "2024-03-02T00:00:00Z", &[])
                .unwrap();
            store
                .save_findings(
                    run,
                    "2024-03-02T00:00:00Z",
                    &[finding("CT001", "e1", Severity::High)],
                )
                .unwrap();
        }
        {
            // Reopening applies no migration twice and keeps the data.
            let store = SqliteStore::open(&path).unwrap();
            assert_eq!(
                store
                    .findings(&FindingQuery::default())
                    .unwrap()
                    .findings
                    .len(),
                1
            );
            store
                .conn
                .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
                .unwrap();
        }
        let before = std::fs::read(&path).unwrap();
        let err = SqliteStore::open(&path).err().unwrap();
        assert!(matches!(err, StoreError::TooNew { .. }), "{err}");
        assert!(err.to_string().contains("tg.db"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), before, "refused untouched");
    }

    /// A store in rollback-journal mode from a newer trailguard: refusing it must not even switch it to
    /// WAL (which rewrites the header), so an older binary can never damage a newer store.
    #[test]
    fn a_newer_store_is_refused_byte_identical() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("newer.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE runs (id INTEGER PRIMARY KEY); CREATE TABLE future (x);",
            )
            .unwrap();
            conn.pragma_update(None, "user_version", SCHEMA_VERSION + 5)
                .unwrap();
        }
        let before = std::fs::read(&path).unwrap();
        let err = SqliteStore::open(&path).err().unwrap();
        assert!(matches!(err, StoreError::TooNew { found, .. } if found == SCHEMA_VERSION + 5));
        assert_eq!(std::fs::read(&path).unwrap(), before);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, ["newer.db"], "no -wal or -shm file either");
    }

    #[test]
    fn a_read_only_store_is_refused_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ro.db");
        SqliteStore::open(&path).unwrap();
        let conn =
            Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let err = SqliteStore::prepare(conn, "ro.db").err().unwrap();
        assert!(matches!(err, StoreError::ReadOnly { .. }), "{err}");
        assert!(err.to_string().contains("`ro.db` is read-only"), "{err}");
    }

    /// SQLite keeps any value in any column: a column of the wrong type is damage too, not a failed
    /// query (the body case is in the shared contract).
    #[test]
    fn a_column_of_the_wrong_type_is_a_damaged_row() {
        let mut store = SqliteStore::in_memory().unwrap();
        let run = store
            .begin_run("scan", "2024-03-02T00:00:00Z", &[])
            .unwrap();
        let good = finding("CT001", "e1", Severity::High);
        let other = finding("CT010", "e22", Severity::Critical);
        store
            .save_findings(run, "2024-03-02T00:00:01Z", &[good.clone(), other])
            .unwrap();
        store
            .conn
            .execute(
                "UPDATE findings SET times_seen = 'many' WHERE id = ?1",
                [&good.id],
            )
            .unwrap();
        let read = store.findings(&FindingQuery::default()).unwrap();
        assert_eq!(read.findings.len(), 1);
        assert_eq!(read.damaged.len(), 1);
        assert_eq!(read.damaged[0].id.as_deref(), Some(good.id.as_str()));
    }

    #[test]
    fn a_version_1_store_is_upgraded_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0].sqlite).unwrap();
            conn.execute(
                "INSERT INTO runs (command, tool_version, started_at, inputs) VALUES ('scan', '0.1', 'x', '[]')",
                [],
            )
            .unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        let runs = store.runs(10).unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].status, RunStatus::Unknown, "no process recorded");
    }

    /// Another process holding the write lock longer than the old 10 s timeout (a long save) makes a
    /// save wait, not fail with `database is locked`.
    #[test]
    fn a_save_waits_out_a_long_write_by_another_process() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tg.db");
        let mut store = SqliteStore::open(&path).unwrap();
        let run = store
            .begin_run("scan", "2024-03-02T00:00:00Z", &[])
            .unwrap();
        let (locked_tx, locked_rx) = std::sync::mpsc::channel();
        let holder = {
            let path = path.clone();
            std::thread::spawn(move || {
                let conn = Connection::open(&path).unwrap();
                conn.execute_batch("BEGIN IMMEDIATE").unwrap();
                locked_tx.send(()).unwrap();
                std::thread::sleep(Duration::from_secs(11));
                conn.execute_batch("COMMIT").unwrap();
            })
        };
        locked_rx.recv().unwrap();
        let saved = store.save_findings(
            run,
            "2024-03-02T00:00:01Z",
            &[finding("CT001", "e1", Severity::High)],
        );
        holder.join().unwrap();
        assert_eq!(saved.unwrap().inserted, 1);
    }
}
