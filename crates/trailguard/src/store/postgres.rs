//! The PostgreSQL store (`--store postgres://…`): many scans and workers on many hosts share one
//! database. The `postgres` crate (the synchronous client over tokio-postgres) implements the same
//! synchronous [`FindingStore`] contract as SQLite; DESIGN.md says why this client.
//!
//! Same schema, same migrations: [`super::schema::MIGRATIONS`] numbered alike, the version kept in a
//! one-row `trailguard_schema` table. Opening reads the version first and refuses a newer store before
//! writing anything; migrating runs in one transaction under a transaction-scoped advisory lock that
//! re-reads the version, so processes racing to create a new store migrate it exactly once. A server in
//! read-only mode (a standby, `default_transaction_read_only`) is refused at open.
//!
//! Contention: Postgres locks rows, not the database. A batch of findings is upserted in one
//! transaction in ascending id order, so two runs saving the same findings lock them in the same order
//! and cannot deadlock; a deadlock or serialization failure the server still reports is retried whole,
//! so no run is lost to contention. Interrupted runs are detected as in SQLite (pid, process start and
//! host recorded with each run). Rows are read by [`super::row`], so a damaged finding is skipped and
//! reported the same way.
//!
//! TLS: no TLS library is built in. The connection is plain text, which is allowed to a loopback
//! address or a Unix socket (the default `sslmode=prefer` then connects without TLS), or anywhere with
//! an explicit `sslmode=disable` (a trusted private network, a TLS tunnel such as a local pgbouncer or
//! cloud SQL proxy); `sslmode=require`, or a remote host without `sslmode=disable`, is refused at open
//! rather than sending credentials in the clear.

use std::cell::RefCell;
use std::str::FromStr;
use std::time::Duration;

use postgres::config::{Host, SslMode};
use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Client, Config, NoTls, Transaction};
use trailguard_rules::output::RunSummary;
use trailguard_rules::Finding;

use super::row::{self, FindingColumns, ProcessId, RowRead};
use super::schema::{self, Param, MIGRATIONS, SCHEMA_VERSION};
use super::{
    DamagedRow, Delivery, FindingQuery, FindingStore, FindingsRead, ObjectCommit, ObjectVersion,
    PgCause, RunId, SaveStats, SequenceWork, StoreError, StoredRun,
};

/// Findings per write transaction, as in SQLite: short transactions keep row locks short.
const SAVE_BATCH: usize = 2_000;

/// How long to wait for a server that does not answer, unless the URL says (`connect_timeout=`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Attempts of one write transaction that the server aborted for contention (deadlock, serialization).
const WRITE_ATTEMPTS: u32 = 8;

/// The advisory lock that serialises migrations (any fixed number; "trailgrd" in ASCII).
const MIGRATION_LOCK: i64 = 0x7472_6169_6c67_7264;

/// The first key of the advisory locks that serialise evaluations of one sequence rule (the second is
/// the rule code's `hashtext`; a collision only serialises two rules): "tgsq" in ASCII.
const SEQUENCE_LOCK: i32 = 0x7467_7371;

pub struct PostgresStore {
    client: RefCell<Client>,
    /// The URL without its password, for messages.
    shown: String,
}

impl PostgresStore {
    /// Connects to the database at `url` and brings its schema up to date.
    pub fn open(url: &str) -> Result<PostgresStore, StoreError> {
        let shown = super::display_name(url);
        let connect_err = |source: postgres::Error| StoreError::Connect {
            store: shown.clone(),
            source: PgCause::from(source),
        };
        let mut config = Config::from_str(url).map_err(connect_err)?;
        check_transport(&config, &shown)?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("trailguard");
        }
        // Plain text only (see the module doc); `prefer` must not try a TLS handshake it cannot make.
        config.ssl_mode(SslMode::Disable);
        let client = config.connect(NoTls).map_err(connect_err)?;
        let mut store = PostgresStore {
            client: RefCell::new(client),
            shown,
        };
        store.prepare()?;
        Ok(store)
    }

    fn prepare(&mut self) -> Result<(), StoreError> {
        // Read-only checks first: a newer store is refused untouched.
        let version = self.schema_version()?;
        schema::refuse_newer(version, &self.shown)?;
        let read_only: String = self
            .client
            .get_mut()
            .query_one("SHOW transaction_read_only", &[])
            .map_err(|e| self.query_err(e))?
            .get(0);
        if read_only == "on" {
            return Err(StoreError::ReadOnly {
                path: self.shown.clone(),
            });
        }
        if version != SCHEMA_VERSION {
            self.migrate()?;
        }
        Ok(())
    }

    /// The schema version of the database: 0 when trailguard never wrote to it.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        let mut client = self.client.borrow_mut();
        let exists: bool = client
            .query_one("SELECT to_regclass('trailguard_schema') IS NOT NULL", &[])
            .map_err(|e| self.query_err(e))?
            .get(0);
        if !exists {
            return Ok(0);
        }
        let row = client
            .query_opt("SELECT version FROM trailguard_schema", &[])
            .map_err(|e| self.query_err(e))?;
        Ok(row.map_or(0, |r| r.get(0)))
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let shown = self.shown.clone();
        let err = |e| query_err(&shown, e);
        let mut tx = self.client.get_mut().transaction().map_err(err)?;
        // Another process may be migrating the same new database: take the lock, then look again.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .map_err(err)?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS trailguard_schema (version BIGINT NOT NULL)")
            .map_err(err)?;
        let current: i64 = match tx
            .query_opt("SELECT version FROM trailguard_schema", &[])
            .map_err(err)?
        {
            Some(row) => row.get(0),
            None => {
                tx.execute("INSERT INTO trailguard_schema (version) VALUES (0)", &[])
                    .map_err(err)?;
                0
            }
        };
        schema::refuse_newer(current, &shown)?;
        for migration in MIGRATIONS.iter().skip(current.max(0) as usize) {
            tx.batch_execute(migration.postgres).map_err(err)?;
        }
        tx.execute(
            "UPDATE trailguard_schema SET version = $1",
            &[&SCHEMA_VERSION],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(())
    }

    fn query_err(&self, source: postgres::Error) -> StoreError {
        query_err(&self.shown, source)
    }

    /// Runs `work` in a transaction, again from the start when the server aborts it for contention.
    fn write<T>(
        &mut self,
        mut work: impl FnMut(&mut Transaction<'_>) -> Result<T, postgres::Error>,
    ) -> Result<T, StoreError> {
        let client = self.client.get_mut();
        let mut attempt = 1;
        loop {
            let result = client.transaction().and_then(|mut tx| {
                let value = work(&mut tx)?;
                tx.commit()?;
                Ok(value)
            });
            match result {
                Err(e) if attempt < WRITE_ATTEMPTS && is_contention(&e) => {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(10 * u64::from(attempt)));
                }
                other => return other.map_err(|e| query_err(&self.shown, e)),
            }
        }
    }
}

/// The findings' columns sorted by finding id: one lock order for every writer, so writers saving the
/// same findings cannot deadlock.
fn columns_in_lock_order(findings: &[Finding]) -> Result<Vec<FindingColumns<'_>>, StoreError> {
    let mut columns = findings
        .iter()
        .map(FindingColumns::of)
        .collect::<Result<Vec<_>, _>>()?;
    columns.sort_by(|a, b| a.id.cmp(b.id));
    Ok(columns)
}

/// Upserts one batch of findings (sorted by id: one lock order for every writer) and links them to `run`,
/// inside the caller's transaction.
fn upsert_batch(
    tx: &mut Transaction<'_>,
    run: RunId,
    seen_at: &str,
    batch: &[FindingColumns<'_>],
) -> Result<SaveStats, postgres::Error> {
    let insert = tx.prepare(schema::INSERT_FINDING)?;
    let update = tx.prepare(schema::UPDATE_FINDING)?;
    let link = tx.prepare(schema::LINK_FINDING)?;
    let mut saved = SaveStats::default();
    for c in batch {
        let inserted = insert_finding(tx, &insert, c, run, seen_at)?;
        if inserted == 1 {
            saved.inserted += 1;
        } else {
            tx.execute(
                &update,
                &[
                    &c.rule_name,
                    &c.title,
                    &c.severity,
                    &c.severity_rank,
                    &c.outcome,
                    &c.body,
                    &run,
                    &seen_at,
                    &c.id,
                ],
            )?;
            saved.updated += 1;
        }
        tx.execute(&link, &[&run, &c.id])?;
    }
    Ok(saved)
}

/// [`schema::INSERT_FINDING`] for one finding: 1 when it is new, 0 when its id is stored already.
fn insert_finding(
    tx: &mut Transaction<'_>,
    insert: &postgres::Statement,
    c: &FindingColumns<'_>,
    run: RunId,
    seen_at: &str,
) -> Result<u64, postgres::Error> {
    tx.execute(
        insert,
        &[
            &c.id,
            &c.rule_id,
            &c.rule_name,
            &c.title,
            &c.severity,
            &c.severity_rank,
            &c.source,
            &c.outcome,
            &c.event_time,
            &c.event_name,
            &c.event_id,
            &c.account,
            &c.region,
            &c.actor_arn,
            &c.resource_id,
            &c.body,
            &run,
            &seen_at,
        ],
    )
}

/// Evaluates `rule` over every stored observation of it and makes its stored findings that evaluation's,
/// under the rule's advisory lock (taken after this transaction's inserts: once it is granted, every
/// observation committed by an earlier holder is visible to the next statement).
fn reevaluate(
    tx: &mut Transaction<'_>,
    run: RunId,
    seen_at: &str,
    rule: &str,
    sequences: &SequenceWork<'_>,
) -> Result<SaveStats, postgres::Error> {
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext($2))",
        &[&SEQUENCE_LOCK, &rule],
    )?;
    let mut column = |sql: &str| -> Result<Vec<String>, postgres::Error> {
        tx.query(sql, &[&rule])?
            .iter()
            .map(|row| row.try_get::<_, String>(0))
            .collect()
    };
    let bodies = column(schema::RULE_OBSERVATIONS)?;
    let before = column(schema::RULE_FINDINGS)?;
    let findings = (sequences.evaluate)(rule, bodies);
    for id in super::stale_findings(before, &findings) {
        tx.execute(schema::DROP_RULE_FINDING, &[&rule, &id])?;
        tx.execute(schema::DELETE_FINDING_LINKS, &[&id])?;
        tx.execute(schema::DELETE_FINDING, &[&id])?;
    }
    // Encoding a finding cannot fail (its fields are plain data); one that did would be left out.
    let mut columns: Vec<FindingColumns<'_>> = findings
        .iter()
        .filter_map(|f| FindingColumns::of(f).ok())
        .collect();
    columns.sort_by(|a, b| a.id.cmp(b.id));
    let insert = tx.prepare(schema::INSERT_FINDING)?;
    let refresh = tx.prepare(schema::REFRESH_FINDING)?;
    let link = tx.prepare(schema::LINK_FINDING)?;
    let remember = tx.prepare(schema::ADD_RULE_FINDING)?;
    let mut saved = SaveStats::default();
    for c in &columns {
        if insert_finding(tx, &insert, c, run, seen_at)? == 1 {
            saved.inserted += 1;
            tx.execute(&link, &[&run, &c.id])?;
        } else {
            tx.execute(
                &refresh,
                &[
                    &c.title,
                    &c.severity,
                    &c.severity_rank,
                    &c.outcome,
                    &c.body,
                    &c.id,
                ],
            )?;
        }
        tx.execute(&remember, &[&rule, &c.id])?;
    }
    // Last, so that the findings made with what is forgotten are no longer remembered as this rule's
    // and stay when later evaluations, without those observations, no longer give them.
    if let Some(before) = (sequences.forget_before)(rule) {
        if tx.execute(schema::FORGET_OBSERVATIONS, &[&rule, &before])? > 0 {
            tx.execute(schema::FORGET_RULE_FINDINGS, &[&rule])?;
        }
    }
    Ok(saved)
}

/// Refuses a connection that would send credentials and findings in plain text over a network.
fn check_transport(config: &Config, shown: &str) -> Result<(), StoreError> {
    let refuse = |why: &str| {
        Err(StoreError::Transport {
            store: shown.to_owned(),
            why: why.to_owned(),
        })
    };
    match config.get_ssl_mode() {
        SslMode::Disable => Ok(()),
        SslMode::Require => refuse(
            "sslmode=require needs TLS, which this build does not include; connect through a TLS \
             tunnel on loopback, or use sslmode=disable on a trusted network",
        ),
        _ => {
            let local = config.get_hosts().iter().all(|host| match host {
                Host::Tcp(name) => {
                    name == "localhost"
                        || name
                            .trim_start_matches('[')
                            .trim_end_matches(']')
                            .parse::<std::net::IpAddr>()
                            .is_ok_and(|ip| ip.is_loopback())
                }
                #[cfg(unix)]
                Host::Unix(_) => true,
            });
            if local {
                Ok(())
            } else {
                refuse(
                    "this build connects without TLS; add sslmode=disable to the URL to accept \
                     that on a trusted network, or connect through a TLS tunnel on loopback",
                )
            }
        }
    }
}

fn is_contention(error: &postgres::Error) -> bool {
    matches!(
        error.code(),
        Some(code) if *code == SqlState::T_R_DEADLOCK_DETECTED
            || *code == SqlState::T_R_SERIALIZATION_FAILURE
    )
}

fn query_err(shown: &str, source: postgres::Error) -> StoreError {
    StoreError::Query {
        store: shown.to_owned(),
        source: PgCause::from(source),
    }
}

impl RowRead for postgres::Row {
    fn int(&self, index: usize) -> Result<i64, String> {
        self.try_get(index)
            .map_err(|e| PgCause::from(e).to_string())
    }
    fn opt_int(&self, index: usize) -> Result<Option<i64>, String> {
        self.try_get(index)
            .map_err(|e| PgCause::from(e).to_string())
    }
    fn text(&self, index: usize) -> Result<String, String> {
        self.try_get(index)
            .map_err(|e| PgCause::from(e).to_string())
    }
    fn opt_text(&self, index: usize) -> Result<Option<String>, String> {
        self.try_get(index)
            .map_err(|e| PgCause::from(e).to_string())
    }
}

/// The value bound for [`Param::NullText`].
static NULL_TEXT: Option<&str> = None;
/// The value bound for [`Param::NullInt`].
static NULL_INT: Option<i64> = None;

fn bind(values: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    values
        .iter()
        .map(|value| match value {
            Param::Int(v) => v as &(dyn ToSql + Sync),
            Param::Text(v) => v as &(dyn ToSql + Sync),
            Param::NullText => &NULL_TEXT as &(dyn ToSql + Sync),
            Param::NullInt => &NULL_INT as &(dyn ToSql + Sync),
        })
        .collect()
}

/// [`super::Tx`] over a Postgres transaction.
struct PgTx<'a, 'b> {
    tx: &'a mut Transaction<'b>,
    shown: &'a str,
}

impl super::Tx for PgTx<'_, '_> {
    fn dialect(&self) -> super::Dialect {
        super::Dialect::Postgres
    }

    fn exec(&mut self, sql: &str, params: &[Param]) -> Result<u64, StoreError> {
        self.tx
            .execute(sql, &bind(params))
            .map_err(|e| query_err(self.shown, e))
    }

    fn query(
        &mut self,
        sql: &str,
        params: &[Param],
        each: &mut dyn FnMut(&dyn RowRead) -> Result<(), String>,
    ) -> Result<(), StoreError> {
        let rows = self
            .tx
            .query(sql, &bind(params))
            .map_err(|e| query_err(self.shown, e))?;
        for row in &rows {
            each(row).map_err(|reason| StoreError::DamagedState {
                table: "state",
                reason,
            })?;
        }
        Ok(())
    }
}

impl FindingStore for PostgresStore {
    fn transact(&mut self, work: &mut super::TxWork<'_>) -> Result<(), StoreError> {
        let shown = self.shown.clone();
        let mut tx = self
            .client
            .get_mut()
            .transaction()
            .map_err(|e| query_err(&shown, e))?;
        work(&mut PgTx {
            tx: &mut tx,
            shown: &shown,
        })?;
        tx.commit().map_err(|e| query_err(&shown, e))
    }

    fn begin_run(
        &mut self,
        command: &str,
        started_at: &str,
        inputs: &[String],
    ) -> Result<RunId, StoreError> {
        let inputs = serde_json::to_string(inputs).unwrap_or_else(|_| "[]".to_owned());
        let me = ProcessId::current();
        let mut damaged = None;
        let id = self.write(|tx| {
            let mut gone = Vec::new();
            for row in tx.query(schema::UNMARKED_UNFINISHED_RUNS, &[])? {
                match row::gone_run(&row) {
                    Ok(id) => gone.extend(id),
                    Err(e) => damaged = Some(e),
                }
            }
            for id in gone {
                tx.execute(schema::MARK_INTERRUPTED, &[&id])?;
            }
            let row = tx.query_one(
                schema::BEGIN_RUN,
                &[
                    &command,
                    &env!("CARGO_PKG_VERSION"),
                    &started_at,
                    &inputs,
                    &me.pid,
                    &me.start,
                    &me.host,
                ],
            )?;
            row.try_get(0)
        })?;
        match damaged {
            Some(err) => Err(err),
            None => Ok(id),
        }
    }

    fn save_findings(
        &mut self,
        run: RunId,
        seen_at: &str,
        findings: &[Finding],
    ) -> Result<SaveStats, StoreError> {
        let columns = columns_in_lock_order(findings)?;
        let mut stats = SaveStats::default();
        for batch in columns.chunks(SAVE_BATCH) {
            let saved = self.write(|tx| upsert_batch(tx, run, seen_at, batch))?;
            stats.inserted += saved.inserted;
            stats.updated += saved.updated;
        }
        Ok(stats)
    }

    fn finish_run(&mut self, run: RunId, summary: &RunSummary) -> Result<(), StoreError> {
        let finished_at = summary
            .finished_at
            .clone()
            .unwrap_or_else(|| chrono::Utc::now().to_rfc3339());
        let summary_json = serde_json::to_string(summary).unwrap_or_else(|_| "{}".to_owned());
        self.write(|tx| {
            tx.execute(schema::FINISH_RUN, &[&finished_at, &summary_json, &run])
                .map(drop)
        })
    }

    fn findings(&self, query: &FindingQuery) -> Result<FindingsRead, StoreError> {
        let (sql, values) = schema::findings_query(query);
        let rows = self
            .client
            .borrow_mut()
            .query(sql.as_str(), &bind(&values))
            .map_err(|e| self.query_err(e))?;
        let mut read = FindingsRead::default();
        for row in &rows {
            match row::stored_finding(row) {
                Ok(finding) => read.findings.push(finding),
                Err(reason) => read.damaged.push(DamagedRow {
                    row: row.int(0).unwrap_or_default(),
                    id: row.text(1).ok(),
                    reason,
                }),
            }
        }
        Ok(read)
    }

    fn runs(&self, limit: u64) -> Result<Vec<StoredRun>, StoreError> {
        let limit = limit.min(i64::MAX as u64) as i64;
        let rows = self
            .client
            .borrow_mut()
            .query(schema::LATEST_RUNS, &[&limit])
            .map_err(|e| self.query_err(e))?;
        rows.iter().map(row::stored_run).collect()
    }

    fn object_processed(&self, object: &ObjectVersion) -> Result<bool, StoreError> {
        let found: i64 = self
            .client
            .borrow_mut()
            .query_one(
                schema::OBJECT_PROCESSED,
                &[&object.bucket, &object.key, &object.etag],
            )
            .and_then(|row| row.try_get(0))
            .map_err(|e| self.query_err(e))?;
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
        let columns = columns_in_lock_order(findings)?;
        let observations = sequences.in_lock_order();
        let records = records.min(i64::MAX as u64) as i64;
        let count = columns.len() as i64;
        // The row first: the primary key settles which worker commits the object, and the loser's
        // transaction writes nothing. One transaction for the row and every finding, however many.
        self.write(|tx| {
            let claimed = tx.execute(
                schema::CLAIM_OBJECT,
                &[
                    &object.bucket,
                    &object.key,
                    &object.etag,
                    &run,
                    &seen_at,
                    &records,
                    &count,
                ],
            )?;
            if claimed == 0 {
                return Ok(ObjectCommit::AlreadyProcessed);
            }
            let mut stats = SaveStats::default();
            for batch in columns.chunks(SAVE_BATCH) {
                let saved = upsert_batch(tx, run, seen_at, batch)?;
                stats.inserted += saved.inserted;
                stats.updated += saved.updated;
            }
            let mut gained = Vec::new();
            let insert = tx.prepare(schema::INSERT_OBSERVATION)?;
            for o in &observations {
                if tx.execute(&insert, &[&o.rule, &o.key, &o.at, &o.body, &seen_at])? == 1 {
                    gained.push(o.rule.as_str());
                }
            }
            let mut reevaluated = Vec::new();
            for rule in sequences.rules() {
                if gained.contains(&rule) {
                    stats.inserted += reevaluate(tx, run, seen_at, rule, sequences)?.inserted;
                    reevaluated.push(rule.to_owned());
                }
            }
            Ok(ObjectCommit::Committed {
                saved: stats,
                reevaluated,
            })
        })
    }

    fn record_delivery(&mut self, delivery: &Delivery) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                schema::RECORD_DELIVERY,
                &[
                    &delivery.account,
                    &delivery.region,
                    &delivery.last_arrival_at,
                    &delivery.newest_event_at,
                ],
            )
        })?;
        Ok(())
    }

    fn silent_deliveries(&self, before: &str) -> Result<Vec<Delivery>, StoreError> {
        let rows = self
            .client
            .borrow_mut()
            .query(schema::SILENT_DELIVERIES, &[&before])
            .map_err(|e| self.query_err(e))?;
        rows.iter()
            .map(|row| {
                Ok(Delivery {
                    account: row.try_get(0)?,
                    region: row.try_get(1)?,
                    last_arrival_at: row.try_get(2)?,
                    newest_event_at: row.try_get(3)?,
                })
            })
            .collect::<Result<Vec<_>, postgres::Error>>()
            .map_err(|e| self.query_err(e))
    }

    #[cfg(test)]
    fn test_sql(&mut self, sql: &str) -> Result<Option<String>, StoreError> {
        let rows = self
            .client
            .get_mut()
            .query(sql, &[])
            .map_err(|e| query_err(&self.shown, e))?;
        Ok(match rows.first() {
            Some(row) if !row.is_empty() => {
                row.try_get(0).map_err(|e| query_err(&self.shown, e))?
            }
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RunStatus;

    #[test]
    fn a_version_1_database_is_upgraded_in_place() {
        let db = trailguard_testkit::postgres().fresh_database();
        db.sql(MIGRATIONS[0].postgres);
        db.sql(
            "CREATE TABLE trailguard_schema (version BIGINT NOT NULL);
             INSERT INTO trailguard_schema VALUES (1);
             INSERT INTO runs (command, tool_version, started_at, inputs)
                 VALUES ('scan', '0.1', 'x', '[]');",
        );
        let store = PostgresStore::open(db.url()).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        let runs = store.runs(10).unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].status, RunStatus::Unknown, "no process recorded");
    }

    #[test]
    fn a_read_only_database_is_refused_at_open_untouched() {
        let db = trailguard_testkit::postgres().fresh_database();
        let name = db.sql("SELECT current_database()");
        db.sql(&format!(
            "ALTER DATABASE {name} SET default_transaction_read_only = on"
        ));
        let err = PostgresStore::open(db.url()).err().unwrap();
        assert!(matches!(err, StoreError::ReadOnly { .. }), "{err}");
        assert!(err.to_string().contains("is read-only"), "{err}");
        assert_eq!(
            db.sql("SELECT to_regclass('trailguard_schema') IS NULL"),
            "t",
            "nothing was created"
        );
    }

    #[test]
    fn plain_text_is_only_for_loopback_unless_asked_for() {
        let refused = |url: &str| {
            let config = Config::from_str(url).unwrap();
            check_transport(&config, url).is_err()
        };
        assert!(!refused("postgres://u@127.0.0.1/db"));
        assert!(!refused("postgres://u@localhost/db"));
        assert!(!refused("postgres://u@[::1]/db"));
        assert!(!refused("postgres://u@db.internal/db?sslmode=disable"));
        assert!(!refused(
            "postgres://u@localhost/db?host=/var/run/postgresql"
        ));
        assert!(refused("postgres://u@db.internal/db"));
        assert!(refused("postgres://u@db.internal/db?sslmode=prefer"));
        assert!(refused("postgres://u@127.0.0.1/db?sslmode=require"));
    }
}
