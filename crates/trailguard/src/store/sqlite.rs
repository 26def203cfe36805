//! The embedded SQLite store (rusqlite, bundled SQLite: nothing to install).
//!
//! Schema versions live in `PRAGMA user_version`; [`MIGRATIONS`] are applied in order inside one
//! `BEGIN IMMEDIATE` transaction that re-reads the version, so scans racing to create a new store migrate
//! it exactly once. A store from a newer trailguard is refused before anything is written to it (not even
//! the switch to WAL), and a read-only one is refused at open, so both show up before a scan starts.
//!
//! Contention: every write takes the write lock up front (immediate transactions) and waits for it
//! through the busy handler for up to [`BUSY_TIMEOUT`]; findings are saved in batches of [`SAVE_BATCH`]
//! so a long save never holds the lock for long. Each run records the process that writes it, so a run
//! whose process is gone before it finished reads back as `interrupted`.
//!
//! The full finding is kept as JSON (`body`) beside indexed columns for the usual filters, so the model can
//! grow without a migration per field. A row whose body cannot be read is skipped and reported
//! ([`DamagedRow`]), never fatal to a query.

use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, TransactionBehavior};
use trailguard_rules::output::RunSummary;
use trailguard_rules::{Finding, Outcome, Severity};

use super::{
    DamagedRow, FindingQuery, FindingStore, FindingsRead, ObjectCommit, ObjectVersion, RunId,
    RunStatus, SaveStats, StoreError, StoredFinding, StoredRun,
};

/// How long a write waits for another process's write lock before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(120);

/// Findings per write transaction: small enough that other writers wait milliseconds, not minutes.
const SAVE_BATCH: usize = 2_000;

const MIGRATIONS: &[&str] = &[
    // 1: runs, findings, and which run saw which finding.
    r#"
    CREATE TABLE runs (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        command      TEXT NOT NULL,
        tool_version TEXT NOT NULL,
        started_at   TEXT NOT NULL,
        finished_at  TEXT,
        inputs       TEXT NOT NULL,
        summary      TEXT
    );
    CREATE TABLE findings (
        id             TEXT PRIMARY KEY,
        rule_id        TEXT NOT NULL,
        rule_name      TEXT NOT NULL,
        title          TEXT NOT NULL,
        severity       TEXT NOT NULL,
        severity_rank  INTEGER NOT NULL,
        source         TEXT NOT NULL,
        outcome        TEXT NOT NULL,
        event_time     TEXT,
        event_name     TEXT,
        event_id       TEXT,
        account        TEXT,
        region         TEXT,
        actor_arn      TEXT,
        resource_id    TEXT,
        body           TEXT NOT NULL,
        first_seen_run INTEGER NOT NULL REFERENCES runs(id),
        last_seen_run  INTEGER NOT NULL REFERENCES runs(id),
        first_seen_at  TEXT NOT NULL,
        last_seen_at   TEXT NOT NULL,
        times_seen     INTEGER NOT NULL DEFAULT 1
    );
    CREATE INDEX findings_severity ON findings(severity_rank DESC, event_time DESC);
    CREATE INDEX findings_rule ON findings(rule_id);
    CREATE INDEX findings_account ON findings(account);
    CREATE TABLE run_findings (
        run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        finding_id TEXT NOT NULL REFERENCES findings(id) ON DELETE CASCADE,
        PRIMARY KEY (run_id, finding_id)
    ) WITHOUT ROWID;
    "#,
    // 2: the process writing each run (to tell a killed run from a running one) and its end state.
    r#"
    ALTER TABLE runs ADD COLUMN pid INTEGER;
    ALTER TABLE runs ADD COLUMN process_start TEXT;
    ALTER TABLE runs ADD COLUMN host TEXT;
    ALTER TABLE runs ADD COLUMN status TEXT;
    "#,
    // 3: `serve`'s processed objects: one row per object version whose findings are committed, written
    // in the findings' transaction, so a repeated notification is a no-op. Portable SQL on purpose (the
    // same table in PostgreSQL: TEXT, BIGINT, a composite primary key).
    r#"
    CREATE TABLE processed_objects (
        bucket       TEXT NOT NULL,
        key          TEXT NOT NULL,
        etag         TEXT NOT NULL,
        run_id       INTEGER NOT NULL REFERENCES runs(id),
        processed_at TEXT NOT NULL,
        records      INTEGER NOT NULL,
        findings     INTEGER NOT NULL,
        PRIMARY KEY (bucket, key, etag)
    );
    "#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

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
        refuse_newer(version, shown)?;
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

    /// How many objects `serve` recorded as processed.
    #[cfg(test)]
    pub fn processed_objects(&self) -> Result<u64, StoreError> {
        let count: i64 =
            self.conn
                .query_row("SELECT COUNT(*) FROM processed_objects", [], |row| {
                    row.get(0)
                })?;
        Ok(count.max(0) as u64)
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

fn refuse_newer(version: i64, shown: &str) -> Result<(), StoreError> {
    if version > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: shown.to_owned(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}

fn migrate(conn: &mut Connection, shown: &str) -> Result<(), StoreError> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if current == SCHEMA_VERSION {
        return Ok(());
    }
    // Another process may be migrating the same new store: take the lock, then look again.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    refuse_newer(current, shown)?;
    for sql in MIGRATIONS.iter().skip(current.max(0) as usize) {
        tx.execute_batch(sql)?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

/// This process, as a run records it: pid, start time (so a reused pid is not taken for it) and host.
struct ProcessId {
    pid: i64,
    start: Option<String>,
    host: Option<String>,
}

impl ProcessId {
    fn current() -> ProcessId {
        let pid = i64::from(std::process::id());
        ProcessId {
            pid,
            start: process_start(pid),
            host: host_name(),
        }
    }
}

/// The process's start time in clock ticks after boot (field 22 of `/proc/PID/stat`), Linux only.
fn process_start(pid: i64) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count from the last `)`.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19).map(str::to_owned)
}

fn host_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}

/// Whether the process that wrote an unfinished run is still there; `None` when this host cannot tell
/// (another host, no `/proc`, or a run from before pids were recorded).
fn writer_alive(pid: Option<i64>, start: Option<&str>, host: Option<&str>) -> Option<bool> {
    let (pid, start, host) = (pid?, start?, host?);
    let here = ProcessId::current();
    if here.start.is_none() || here.host.as_deref() != Some(host) {
        return None;
    }
    Some(process_start(pid).as_deref() == Some(start))
}

fn outcome_text(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Success => "success".to_owned(),
        Outcome::Attempt { error_code } => format!("attempt:{error_code}"),
    }
}

fn severity_rank(severity: Severity) -> i64 {
    severity as i64
}

impl FindingStore for SqliteStore {
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
        tx.execute(
            "INSERT INTO runs (command, tool_version, started_at, inputs, pid, process_start, host)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                command,
                env!("CARGO_PKG_VERSION"),
                started_at,
                inputs,
                me.pid,
                me.start,
                me.host
            ],
        )?;
        let id = tx.last_insert_rowid();
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
        tx.execute(
            "UPDATE runs SET finished_at = ?2, summary = ?3, status = 'finished' WHERE id = ?1",
            params![run, finished_at, summary_json],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn findings(&self, query: &FindingQuery) -> Result<FindingsRead, StoreError> {
        let mut sql = String::from(
            "SELECT f.rowid, f.id, f.body, f.first_seen_at, f.last_seen_at, f.first_seen_run,
                    f.last_seen_run, f.times_seen
             FROM findings f WHERE 1 = 1",
        );
        let mut values: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(severity) = query.min_severity {
            sql.push_str(" AND f.severity_rank >= ?");
            values.push(severity_rank(severity).into());
        }
        if let Some(rule) = &query.rule_id {
            sql.push_str(" AND (f.rule_id = ? OR f.rule_name = ?)");
            values.push(rule.clone().into());
            values.push(rule.clone().into());
        }
        if let Some(account) = &query.account {
            sql.push_str(" AND f.account = ?");
            values.push(account.clone().into());
        }
        if let Some(since) = &query.since {
            sql.push_str(" AND f.event_time >= ?");
            values.push(since.clone().into());
        }
        if let Some(run) = query.run {
            sql.push_str(
                " AND EXISTS (SELECT 1 FROM run_findings r WHERE r.finding_id = f.id AND r.run_id = ?)",
            );
            values.push(run.into());
        }
        sql.push_str(" ORDER BY f.severity_rank DESC, f.event_time DESC, f.id");
        if let Some(limit) = query.limit {
            sql.push_str(" LIMIT ?");
            values.push((limit.min(i64::MAX as u64) as i64).into());
        }
        let mut statement = self.conn.prepare(&sql)?;
        let mut rows = statement.query(rusqlite::params_from_iter(values))?;
        let mut read = FindingsRead::default();
        while let Some(row) = rows.next()? {
            match stored_finding(row) {
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
        let mut statement = self.conn.prepare(
            "SELECT r.id, r.command, r.started_at, r.finished_at, r.inputs, r.summary,
                    (SELECT COUNT(*) FROM run_findings rf WHERE rf.run_id = r.id),
                    r.status, r.pid, r.process_start, r.host
             FROM runs r ORDER BY r.id DESC LIMIT ?1",
        )?;
        let rows = statement.query_map([limit.min(i64::MAX as u64) as i64], |row| {
            let finished_at: Option<String> = row.get(3)?;
            let recorded: Option<String> = row.get(7)?;
            let status = match (&finished_at, recorded.as_deref()) {
                (Some(_), _) => RunStatus::Finished,
                (None, Some("interrupted")) => RunStatus::Interrupted,
                (None, _) => {
                    let start: Option<String> = row.get(9)?;
                    let host: Option<String> = row.get(10)?;
                    match writer_alive(row.get(8)?, start.as_deref(), host.as_deref()) {
                        Some(true) => RunStatus::Running,
                        Some(false) => RunStatus::Interrupted,
                        None => RunStatus::Unknown,
                    }
                }
            };
            Ok(StoredRun {
                id: row.get(0)?,
                command: row.get(1)?,
                started_at: row.get(2)?,
                finished_at,
                // Written by us as JSON; a hand-edited row degrades to empty rather than failing the listing.
                inputs: row
                    .get::<_, String>(4)
                    .ok()
                    .and_then(|i| serde_json::from_str(&i).ok())
                    .unwrap_or_default(),
                summary: row
                    .get::<_, Option<String>>(5)
                    .ok()
                    .flatten()
                    .and_then(|s| serde_json::from_str(&s).ok()),
                findings: row.get::<_, i64>(6)?.max(0) as u64,
                status,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn object_processed(&self, object: &ObjectVersion) -> Result<bool, StoreError> {
        let found: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM processed_objects WHERE bucket = ?1 AND key = ?2 AND etag = ?3",
            params![object.bucket, object.key, object.etag],
            |row| row.get(0),
        )?;
        Ok(found > 0)
    }

    fn commit_object(
        &mut self,
        run: RunId,
        seen_at: &str,
        object: &ObjectVersion,
        records: u64,
        findings: &[Finding],
    ) -> Result<ObjectCommit, StoreError> {
        let tx = self.write()?;
        // The row first: the primary key settles which worker commits the object; the loser's
        // transaction is dropped (rolled back) with nothing written.
        let claimed = tx.execute(
            "INSERT INTO processed_objects (bucket, key, etag, run_id, processed_at, records, findings)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
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
        tx.commit()?;
        Ok(ObjectCommit::Committed(stats))
    }
}

/// Marks unfinished runs whose writing process is gone (on this host) as interrupted, so the mark stays
/// true after the pid is reused.
fn mark_interrupted_runs(tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
    let mut select = tx.prepare(
        "SELECT id, pid, process_start, host FROM runs WHERE finished_at IS NULL AND status IS NULL",
    )?;
    let gone: Vec<i64> = select
        .query_map([], |row| {
            let start: Option<String> = row.get(2)?;
            let host: Option<String> = row.get(3)?;
            let alive = writer_alive(row.get(1)?, start.as_deref(), host.as_deref());
            Ok((row.get::<_, i64>(0)?, alive))
        })?
        .filter_map(|r| match r {
            Ok((id, Some(false))) => Some(Ok(id)),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        })
        .collect::<Result<_, _>>()?;
    for id in gone {
        tx.execute("UPDATE runs SET status = 'interrupted' WHERE id = ?1", [id])?;
    }
    Ok(())
}

/// One stored finding, or why its row cannot be read (a bad column type, a body that is not a finding).
fn stored_finding(row: &rusqlite::Row<'_>) -> Result<StoredFinding, String> {
    let column = |e: rusqlite::Error| e.to_string();
    let body: String = row.get(2).map_err(column)?;
    let finding: Finding = serde_json::from_str(&body)
        .map_err(|e| format!("the stored finding is not valid JSON for a finding: {e}"))?;
    Ok(StoredFinding {
        finding,
        first_seen_at: row.get(3).map_err(column)?,
        last_seen_at: row.get(4).map_err(column)?,
        first_seen_run: row.get(5).map_err(column)?,
        last_seen_run: row.get(6).map_err(column)?,
        times_seen: row.get::<_, i64>(7).map_err(column)?.max(0) as u64,
    })
}

fn save_batch(
    tx: &rusqlite::Transaction<'_>,
    run: RunId,
    seen_at: &str,
    findings: &[Finding],
    stats: &mut SaveStats,
) -> Result<(), StoreError> {
    let mut insert = tx.prepare_cached(
        "INSERT OR IGNORE INTO findings (id, rule_id, rule_name, title, severity, severity_rank,
            source, outcome, event_time, event_name, event_id, account, region, actor_arn,
            resource_id, body, first_seen_run, last_seen_run, first_seen_at, last_seen_at, times_seen)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?17, ?18, ?18, 1)",
    )?;
    // Seen again: refresh what a newer rule version may have changed, keep first-seen facts.
    // `times_seen` counts runs, so a finding reported twice in one run is counted once.
    let mut update = tx.prepare_cached(
        "UPDATE findings SET rule_name = ?2, title = ?3, severity = ?4, severity_rank = ?5,
            outcome = ?6, body = ?7,
            times_seen = times_seen + (last_seen_run <> ?8),
            last_seen_run = ?8, last_seen_at = ?9
         WHERE id = ?1",
    )?;
    let mut link = tx.prepare_cached(
        "INSERT OR IGNORE INTO run_findings (run_id, finding_id) VALUES (?1, ?2)",
    )?;
    for finding in findings {
        let body = serde_json::to_string(finding).map_err(|source| StoreError::Encode {
            id: finding.id.clone(),
            source,
        })?;
        let outcome = outcome_text(&finding.outcome);
        let source = serde_json::to_value(finding.source)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let inserted = insert.execute(params![
            finding.id,
            finding.rule_id,
            finding.rule_name,
            finding.title,
            finding.severity.as_str(),
            severity_rank(finding.severity),
            source,
            outcome,
            finding.event_time,
            finding.event_name,
            finding.event_id,
            finding.account,
            finding.region,
            finding.actor.as_ref().and_then(|a| a.arn.as_deref()),
            finding.resource.as_ref().map(|r| r.id.as_str()),
            body,
            run,
            seen_at,
        ])?;
        if inserted == 1 {
            stats.inserted += 1;
        } else {
            update.execute(params![
                finding.id,
                finding.rule_name,
                finding.title,
                finding.severity.as_str(),
                severity_rank(finding.severity),
                outcome,
                body,
                run,
                seen_at,
            ])?;
            stats.updated += 1;
        }
        link.execute(params![run, finding.id])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailguard_rules::{Actor, FindingSource, Fix, Resource};

    fn finding(rule: &str, event: &str, severity: Severity) -> Finding {
        Finding {
            id: Finding::stable_id(&[rule, event]),
            rule_id: rule.to_owned(),
            rule_name: format!("{}-rule", rule.to_lowercase()),
            title: format!("{rule} fired"),
            severity,
            source: FindingSource::Cloudtrail,
            outcome: Outcome::Success,
            message: "something risky".into(),
            event_time: Some(format!("2024-03-01T10:{:02}:00Z", event.len())),
            event_name: Some("CreateAccessKey".into()),
            event_source: Some("iam.amazonaws.com".into()),
            event_id: Some(event.to_owned()),
            account: Some("111122223333".into()),
            region: Some("us-east-1".into()),
            actor: Some(Actor {
                arn: Some("arn:aws:iam::111122223333:user/alice".into()),
                ..Actor::default()
            }),
            resource: Some(Resource {
                kind: "AwsIamUser".into(),
                id: "arn:aws:iam::111122223333:user/bob".into(),
                name: Some("bob".into()),
            }),
            evidence: vec![],
            attack: vec![],
            compliance: vec![],
            fix: Fix::default(),
            notes: vec![],
            location: None,
        }
    }

    #[test]
    fn rescanning_updates_instead_of_duplicating() {
        let mut store = SqliteStore::in_memory().unwrap();
        let findings = vec![
            finding("CT001", "e1", Severity::Critical),
            finding("CT010", "e22", Severity::Medium),
        ];
        let run1 = store
            .begin_run("scan", "2024-03-02T00:00:00Z", &["logs".into()])
            .unwrap();
        let first = store
            .save_findings(run1, "2024-03-02T00:00:01Z", &findings)
            .unwrap();
        assert_eq!(
            first,
            SaveStats {
                inserted: 2,
                updated: 0
            }
        );
        let mut summary = RunSummary::new("scan");
        summary.records = 10;
        store.finish_run(run1, &summary).unwrap();

        let run2 = store
            .begin_run("scan", "2024-03-03T00:00:00Z", &["logs".into()])
            .unwrap();
        let mut again = findings.clone();
        again.push(finding("CT020", "e333", Severity::Low));
        let second = store
            .save_findings(run2, "2024-03-03T00:00:01Z", &again)
            .unwrap();
        assert_eq!(
            second,
            SaveStats {
                inserted: 1,
                updated: 2
            }
        );
        // The same finding twice in one run counts one sighting.
        store
            .save_findings(run2, "2024-03-03T00:00:02Z", &findings[..1])
            .unwrap();

        let all = store.findings(&FindingQuery::default()).unwrap().findings;
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].finding, findings[0], "worst first, stored whole");
        assert_eq!(all[0].times_seen, 2);
        assert_eq!(all[0].first_seen_run, run1);
        assert_eq!(all[0].last_seen_run, run2);
        assert_eq!(all[2].times_seen, 1);

        let high = store
            .findings(&FindingQuery {
                min_severity: Some(Severity::High),
                ..Default::default()
            })
            .unwrap()
            .findings;
        assert_eq!(high.len(), 1);
        let only_run1 = store
            .findings(&FindingQuery {
                run: Some(run1),
                ..Default::default()
            })
            .unwrap()
            .findings;
        assert_eq!(only_run1.len(), 2);
        let by_rule = store
            .findings(&FindingQuery {
                rule_id: Some("ct010-rule".into()),
                ..Default::default()
            })
            .unwrap()
            .findings;
        assert_eq!(by_rule.len(), 1);

        let runs = store.runs(10).unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].id, run2);
        assert_eq!(runs[0].findings, 3);
        assert_eq!(runs[1].summary.as_ref().unwrap().records, 10);
        assert!(runs[0].finished_at.is_none());
        assert_eq!(runs[0].status, RunStatus::Running, "this process is alive");
        assert_eq!(runs[1].status, RunStatus::Finished);
    }

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

    #[test]
    fn a_damaged_row_is_skipped_and_named() {
        let mut store = SqliteStore::in_memory().unwrap();
        let run = store
            .begin_run("scan", "2024-03-02T00:00:00Z", &[])
            .unwrap();
        let good = finding("CT001", "e1", Severity::High);
        let bad = finding("CT010", "e22", Severity::Critical);
        store
            .save_findings(run, "2024-03-02T00:00:01Z", &[good.clone(), bad.clone()])
            .unwrap();
        store
            .conn
            .execute(
                "UPDATE findings SET body = '{\"id\": truncated' WHERE id = ?1",
                [&bad.id],
            )
            .unwrap();
        let bad_row: i64 = store
            .conn
            .query_row("SELECT rowid FROM findings WHERE id = ?1", [&bad.id], |r| {
                r.get(0)
            })
            .unwrap();
        let read = store.findings(&FindingQuery::default()).unwrap();
        assert_eq!(read.findings.len(), 1);
        assert_eq!(read.findings[0].finding, good);
        assert_eq!(read.damaged.len(), 1);
        assert_eq!(read.damaged[0].row, bad_row);
        assert_eq!(read.damaged[0].id.as_deref(), Some(bad.id.as_str()));
        let text = read.damaged[0].to_string();
        assert!(
            text.contains("not valid JSON") && text.contains("line 1"),
            "{text}"
        );

        // A column of the wrong type is damage too, not a failed query.
        store
            .conn
            .execute(
                "UPDATE findings SET times_seen = 'many' WHERE id = ?1",
                [&good.id],
            )
            .unwrap();
        let read = store.findings(&FindingQuery::default()).unwrap();
        assert!(read.findings.is_empty());
        assert_eq!(read.damaged.len(), 2);
    }

    #[test]
    fn a_run_whose_process_is_gone_reads_back_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tg.db");
        let mut store = SqliteStore::open(&path).unwrap();
        let run = store
            .begin_run("scan", "2024-03-02T00:00:00Z", &[])
            .unwrap();
        // Hand the run to a process that has exited.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = child.id();
        let start = process_start(i64::from(gone));
        child.wait().unwrap();
        if start.is_none() {
            return; // no /proc here: this host cannot tell, and says "unfinished"
        }
        store
            .conn
            .execute(
                "UPDATE runs SET pid = ?2, process_start = ?3 WHERE id = ?1",
                params![run, gone, start],
            )
            .unwrap();
        assert_eq!(store.runs(1).unwrap()[0].status, RunStatus::Interrupted);
        // The next run records the mark, so a reused pid cannot bring it back to life.
        store
            .begin_run("scan", "2024-03-03T00:00:00Z", &[])
            .unwrap();
        let status: Option<String> = store
            .conn
            .query_row("SELECT status FROM runs WHERE id = ?1", [run], |r| r.get(0))
            .unwrap();
        assert_eq!(status.as_deref(), Some("interrupted"));
    }

    #[test]
    fn a_version_1_store_is_upgraded_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
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

    #[test]
    fn an_object_is_committed_once_with_its_findings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tg.db");
        let mut first = SqliteStore::open(&path).unwrap();
        let mut second = SqliteStore::open(&path).unwrap();
        let run = first
            .begin_run("serve", "2024-03-02T00:00:00Z", &[])
            .unwrap();
        let object = ObjectVersion {
            bucket: "trail".into(),
            key: "AWSLogs/1/CloudTrail/us-east-1/2024/03/01/x.json.gz".into(),
            etag: "d41d8cd98f00b204e9800998ecf8427e".into(),
        };
        let findings = [
            finding("CT001", "e1", Severity::High),
            finding("CT010", "e22", Severity::Low),
        ];
        assert!(!first.object_processed(&object).unwrap());
        assert_eq!(
            first
                .commit_object(run, "2024-03-02T00:00:01Z", &object, 7, &findings)
                .unwrap(),
            ObjectCommit::Committed(SaveStats {
                inserted: 2,
                updated: 0
            })
        );
        // Another worker with the same notification: nothing written, not even a sighting.
        assert!(second.object_processed(&object).unwrap());
        assert_eq!(
            second
                .commit_object(run, "2024-03-02T00:00:02Z", &object, 7, &findings[..1])
                .unwrap(),
            ObjectCommit::AlreadyProcessed
        );
        let stored = first.findings(&FindingQuery::default()).unwrap().findings;
        assert_eq!(stored.len(), 2);
        assert!(stored
            .iter()
            .all(|f| f.last_seen_at == "2024-03-02T00:00:01Z"));
        // A new version of the object (another ETag) is new work.
        let newer = ObjectVersion {
            etag: "0123456789abcdef0123456789abcdef".into(),
            ..object.clone()
        };
        assert!(matches!(
            second
                .commit_object(run, "2024-03-02T00:00:03Z", &newer, 1, &[])
                .unwrap(),
            ObjectCommit::Committed(_)
        ));
        assert_eq!(first.processed_objects().unwrap(), 2);
    }

    #[test]
    fn postgres_urls_are_refused_without_leaking_the_password() {
        let err = super::super::open("postgres://user:secret@db/trailguard")
            .err()
            .unwrap();
        let text = err.to_string();
        assert!(text.contains("postgres://"), "{text}");
        assert!(!text.contains("secret"), "{text}");
    }
}
