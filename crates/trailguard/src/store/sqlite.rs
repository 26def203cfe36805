//! The embedded SQLite store (rusqlite, bundled SQLite: nothing to install).
//!
//! Schema versions live in `PRAGMA user_version`; [`MIGRATIONS`] are applied in order, each in its own
//! transaction, so an old database is upgraded in place and a newer one is refused rather than damaged.
//! The full finding is kept as JSON (`body`) beside indexed columns for the usual filters, so the model can
//! grow without a migration per field.

use std::path::Path;

use rusqlite::{params, Connection};
use trailguard_rules::output::RunSummary;
use trailguard_rules::{Finding, Outcome, Severity};

use super::{FindingQuery, FindingStore, RunId, SaveStats, StoreError, StoredFinding, StoredRun};

/// Schema migrations; the index + 1 is the version each one brings the database to.
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
        // WAL lets `trailguard findings` read while a scan writes; the busy timeout covers the overlap.
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .or_else(|_| conn.pragma_update(None, "journal_mode", "DELETE"))?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
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
}

fn migrate(conn: &mut Connection, shown: &str) -> Result<(), StoreError> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: shown.to_owned(),
            found: current,
            supported: SCHEMA_VERSION,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current.max(0) as usize) {
        let version = index as i64 + 1;
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
    }
    Ok(())
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
        self.conn.execute(
            "INSERT INTO runs (command, tool_version, started_at, inputs) VALUES (?1, ?2, ?3, ?4)",
            params![command, env!("CARGO_PKG_VERSION"), started_at, inputs],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn save_findings(
        &mut self,
        run: RunId,
        seen_at: &str,
        findings: &[Finding],
    ) -> Result<SaveStats, StoreError> {
        let mut stats = SaveStats::default();
        let tx = self.conn.transaction()?;
        {
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
        }
        tx.commit()?;
        Ok(stats)
    }

    fn finish_run(&mut self, run: RunId, summary: &RunSummary) -> Result<(), StoreError> {
        let finished_at = summary
            .finished_at
            .clone()
            .unwrap_or_else(|| chrono::Utc::now().to_rfc3339());
        let summary_json = serde_json::to_string(summary).unwrap_or_else(|_| "{}".to_owned());
        self.conn.execute(
            "UPDATE runs SET finished_at = ?2, summary = ?3 WHERE id = ?1",
            params![run, finished_at, summary_json],
        )?;
        Ok(())
    }

    fn findings(&self, query: &FindingQuery) -> Result<Vec<StoredFinding>, StoreError> {
        let mut sql = String::from(
            "SELECT f.id, f.body, f.first_seen_at, f.last_seen_at, f.first_seen_run, f.last_seen_run,
                    f.times_seen
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
        let rows = statement.query_map(rusqlite::params_from_iter(values), |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, i64>(4)?,
                row.get::<_, i64>(5)?,
                row.get::<_, i64>(6)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, body, first_seen_at, last_seen_at, first_run, last_run, times) = row?;
            let finding: Finding =
                serde_json::from_str(&body).map_err(|source| StoreError::Corrupt { id, source })?;
            out.push(StoredFinding {
                finding,
                first_seen_at,
                last_seen_at,
                first_seen_run: first_run,
                last_seen_run: last_run,
                times_seen: times.max(0) as u64,
            });
        }
        Ok(out)
    }

    fn runs(&self, limit: u64) -> Result<Vec<StoredRun>, StoreError> {
        let mut statement = self.conn.prepare(
            "SELECT r.id, r.command, r.started_at, r.finished_at, r.inputs, r.summary,
                    (SELECT COUNT(*) FROM run_findings rf WHERE rf.run_id = r.id)
             FROM runs r ORDER BY r.id DESC LIMIT ?1",
        )?;
        let rows = statement.query_map([limit.min(i64::MAX as u64) as i64], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, Option<String>>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, Option<String>>(5)?,
                row.get::<_, i64>(6)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, command, started_at, finished_at, inputs, summary, findings) = row?;
            out.push(StoredRun {
                id,
                command,
                started_at,
                finished_at,
                // Written by us as JSON; a hand-edited row degrades to empty rather than failing the listing.
                inputs: serde_json::from_str(&inputs).unwrap_or_default(),
                summary: summary.and_then(|s| serde_json::from_str(&s).ok()),
                findings: findings.max(0) as u64,
            });
        }
        Ok(out)
    }
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

        let all = store.findings(&FindingQuery::default()).unwrap();
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
            .unwrap();
        assert_eq!(high.len(), 1);
        let only_run1 = store
            .findings(&FindingQuery {
                run: Some(run1),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(only_run1.len(), 2);
        let by_rule = store
            .findings(&FindingQuery {
                rule_id: Some("ct010-rule".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(by_rule.len(), 1);

        let runs = store.runs(10).unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].id, run2);
        assert_eq!(runs[0].findings, 3);
        assert_eq!(runs[1].summary.as_ref().unwrap().records, 10);
        assert!(runs[0].finished_at.is_none());
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
            assert_eq!(store.findings(&FindingQuery::default()).unwrap().len(), 1);
            store
                .conn
                .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
                .unwrap();
        }
        let err = SqliteStore::open(&path).err().unwrap();
        assert!(matches!(err, StoreError::TooNew { .. }), "{err}");
        assert!(err.to_string().contains("tg.db"), "{err}");
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
