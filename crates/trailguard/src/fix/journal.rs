//! The change journal: a local SQLite file in which every applied change is written before its first
//! call (with the prior state and the planned calls) and after every call. `fix undo` reads the prior
//! state back; `fix resume` finds changes an interrupted run left pending.
//!
//! It lives in a per-user state directory ([`default_path`]: `$XDG_STATE_HOME/trailguard/journal.db`, else
//! `~/.local/state/trailguard/journal.db`), so `fix undo` finds a change from any working directory. Only
//! applying creates it: commands that read it ([`Journal::open_existing`]) leave a missing journal missing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::Utc;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use trailguard_rules::Finding;

use super::plan::Step;
use trailguard_rules::call::Call;

const SCHEMA_VERSION: i64 = 1;

/// Where a change stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeStatus {
    /// Written before the first call; still pending after a crash or interrupt.
    Pending,
    Applied,
    /// Every call found its target state already there (it changed between plan and apply): nothing
    /// was made, so there is nothing to undo.
    Unchanged,
    Failed,
    Undone,
    UndoFailed,
}

impl ChangeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeStatus::Pending => "pending",
            ChangeStatus::Applied => "applied",
            ChangeStatus::Unchanged => "unchanged",
            ChangeStatus::Failed => "failed",
            ChangeStatus::Undone => "undone",
            ChangeStatus::UndoFailed => "undo_failed",
        }
    }

    fn parse(s: &str) -> ChangeStatus {
        match s {
            "applied" => ChangeStatus::Applied,
            "unchanged" => ChangeStatus::Unchanged,
            "failed" => ChangeStatus::Failed,
            "undone" => ChangeStatus::Undone,
            "undo_failed" => ChangeStatus::UndoFailed,
            _ => ChangeStatus::Pending,
        }
    }
}

/// Whether a logged call belonged to applying or to undoing a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Apply,
    Undo,
}

impl Phase {
    fn as_str(self) -> &'static str {
        match self {
            Phase::Apply => "apply",
            Phase::Undo => "undo",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ChangeRecord {
    pub id: String,
    pub run_id: String,
    pub step: Step,
    pub status: ChangeStatus,
    pub error: Option<String>,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub undone_at: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot open the journal `{path}`")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("journal query failed")]
    Sql(#[from] rusqlite::Error),
    #[error("journal: stored step of change `{id}` is unreadable")]
    Corrupt {
        id: String,
        source: serde_json::Error,
    },
    #[error("journal `{path}` was written by a newer trailguard (schema {found}, this one knows {SCHEMA_VERSION})")]
    TooNew { path: String, found: i64 },
}

pub struct Journal {
    conn: Connection,
}

/// The journal's default place: `$XDG_STATE_HOME/trailguard/journal.db` when that is an absolute path
/// (the XDG rule), else `$HOME/.local/state/trailguard/journal.db`; `None` with neither set.
pub fn default_path() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .map(|home| home.join(".local/state"))
        })?;
    Some(state.join("trailguard").join("journal.db"))
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Journal {
    /// Opens the journal for reading when it exists; `None` (and nothing created) when it does not.
    pub fn open_existing(path: &Path) -> Result<Option<Journal>, JournalError> {
        if !path.exists() {
            return Ok(None);
        }
        Journal::open(path).map(Some)
    }

    /// Opens the journal, creating it (and its directory) when missing.
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
        let open_err = |source| JournalError::Open {
            path: path.display().to_string(),
            source,
        };
        let conn = Connection::open(path).map_err(open_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open_err)?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(open_err)?;
        if version > SCHEMA_VERSION {
            return Err(JournalError::TooNew {
                path: path.display().to_string(),
                found: version,
            });
        }
        if version < 1 {
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS changes (
                    id TEXT PRIMARY KEY,
                    run_id TEXT NOT NULL,
                    step_id TEXT NOT NULL,
                    step TEXT NOT NULL,
                    status TEXT NOT NULL,
                    error TEXT,
                    started_at TEXT NOT NULL,
                    finished_at TEXT,
                    undone_at TEXT
                 );
                 CREATE INDEX IF NOT EXISTS changes_status ON changes(status);
                 CREATE TABLE IF NOT EXISTS calls (
                    change_id TEXT NOT NULL REFERENCES changes(id),
                    phase TEXT NOT NULL,
                    seq INTEGER NOT NULL,
                    call TEXT NOT NULL,
                    status TEXT NOT NULL,
                    error TEXT,
                    at TEXT NOT NULL
                 );
                 CREATE TABLE IF NOT EXISTS findings (
                    change_id TEXT NOT NULL REFERENCES changes(id),
                    finding TEXT NOT NULL
                 );
                 PRAGMA user_version = 1;",
            )
            .map_err(open_err)?;
        }
        Ok(Journal { conn })
    }

    /// Records a change before its first call. Returns the change id the user passes to `fix undo`.
    pub fn begin_change(
        &self,
        run_id: &str,
        step: &Step,
        findings: &[&Finding],
    ) -> Result<String, JournalError> {
        let id = Finding::stable_id(&["change", run_id, &step.id]).replacen("tg-", "chg-", 1);
        let id = id[..14.min(id.len())].to_owned();
        let step_json = serde_json::to_string(step).map_err(|source| JournalError::Corrupt {
            id: id.clone(),
            source,
        })?;
        self.conn.execute(
            "INSERT INTO changes (id, run_id, step_id, step, status, started_at) VALUES (?1, ?2, ?3, ?4, 'pending', ?5)",
            params![id, run_id, step.id, step_json, now()],
        )?;
        for finding in findings {
            let json = serde_json::to_string(finding).unwrap_or_default();
            self.conn.execute(
                "INSERT INTO findings (change_id, finding) VALUES (?1, ?2)",
                params![id, json],
            )?;
        }
        Ok(id)
    }

    pub fn log_call(
        &self,
        change_id: &str,
        phase: Phase,
        seq: usize,
        call: &Call,
        status: &str,
        error: Option<&str>,
    ) -> Result<(), JournalError> {
        let call_json = serde_json::to_string(call).unwrap_or_default();
        self.conn.execute(
            "INSERT INTO calls (change_id, phase, seq, call, status, error, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![change_id, phase.as_str(), seq as i64, call_json, status, error, now()],
        )?;
        Ok(())
    }

    pub fn set_status(
        &self,
        change_id: &str,
        status: ChangeStatus,
        error: Option<&str>,
    ) -> Result<(), JournalError> {
        let column = if matches!(status, ChangeStatus::Undone | ChangeStatus::UndoFailed) {
            "undone_at"
        } else {
            "finished_at"
        };
        self.conn.execute(
            &format!("UPDATE changes SET status = ?1, error = ?2, {column} = ?3 WHERE id = ?4"),
            params![status.as_str(), error, now(), change_id],
        )?;
        Ok(())
    }

    /// Replaces the stored step (resume re-resolves the remaining calls but keeps the original prior state).
    pub fn update_step(&self, change_id: &str, step: &Step) -> Result<(), JournalError> {
        let json = serde_json::to_string(step).map_err(|source| JournalError::Corrupt {
            id: change_id.to_owned(),
            source,
        })?;
        self.conn.execute(
            "UPDATE changes SET step = ?1 WHERE id = ?2",
            params![json, change_id],
        )?;
        Ok(())
    }

    pub fn get(&self, change_id: &str) -> Result<Option<ChangeRecord>, JournalError> {
        let row = self
            .conn
            .query_row(
                "SELECT id, run_id, step, status, error, started_at, finished_at, undone_at FROM changes WHERE id = ?1",
                params![change_id],
                row_tuple,
            )
            .optional()?;
        row.map(to_record).transpose()
    }

    /// Every change, newest first.
    pub fn list(&self) -> Result<Vec<ChangeRecord>, JournalError> {
        self.query("SELECT id, run_id, step, status, error, started_at, finished_at, undone_at FROM changes ORDER BY started_at DESC, rowid DESC")
    }

    /// The documents of policy versions that applied reverts deleted, by policy ARN. Planning reverts
    /// against them too, so a version `fix undo` recreated under a new id is still recognised.
    pub fn reverted_documents(&self) -> Result<BTreeMap<String, Vec<String>>, JournalError> {
        use trailguard_rules::remediation::FixAction;
        let mut documents: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for change in self.list()? {
            let policy_arn = match &change.step.action {
                FixAction::RevertPolicyVersion { policy_arn, .. }
                | FixAction::RevertPolicyVersions { policy_arn, .. } => policy_arn,
                _ => continue,
            };
            let made = matches!(
                change.status,
                ChangeStatus::Applied | ChangeStatus::Undone | ChangeStatus::UndoFailed
            );
            if !made || change.step.prior.is_null() {
                continue;
            }
            let saved =
                crate::fix::actions::reverted_documents(&change.step.prior).map_err(|source| {
                    JournalError::Corrupt {
                        id: change.id.clone(),
                        source,
                    }
                })?;
            let known = documents.entry(policy_arn.clone()).or_default();
            for document in saved {
                if !known.contains(&document) {
                    known.push(document);
                }
            }
        }
        Ok(documents)
    }

    /// Changes an interrupted or failed apply left unfinished.
    pub fn unfinished(&self) -> Result<Vec<ChangeRecord>, JournalError> {
        self.query(
            "SELECT id, run_id, step, status, error, started_at, finished_at, undone_at FROM changes \
             WHERE status IN ('pending', 'failed') ORDER BY started_at, rowid",
        )
    }

    /// The calls logged for a change, in order: (phase, seq, call JSON, status).
    pub fn calls(
        &self,
        change_id: &str,
    ) -> Result<Vec<(String, i64, String, String)>, JournalError> {
        let mut stmt = self.conn.prepare(
            "SELECT phase, seq, call, status FROM calls WHERE change_id = ?1 ORDER BY rowid",
        )?;
        let rows = stmt.query_map(params![change_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn query(&self, sql: &str) -> Result<Vec<ChangeRecord>, JournalError> {
        let mut stmt = self.conn.prepare(sql)?;
        let rows = stmt
            .query_map([], row_tuple)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(to_record).collect()
    }
}

type RowTuple = (
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
);

fn row_tuple(r: &rusqlite::Row<'_>) -> rusqlite::Result<RowTuple> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
    ))
}

fn to_record(row: RowTuple) -> Result<ChangeRecord, JournalError> {
    let (id, run_id, step, status, error, started_at, finished_at, undone_at) = row;
    let step: Step = serde_json::from_str(&step).map_err(|source| JournalError::Corrupt {
        id: id.clone(),
        source,
    })?;
    Ok(ChangeRecord {
        id,
        run_id,
        step,
        status: ChangeStatus::parse(&status),
        error,
        started_at,
        finished_at,
        undone_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fix::plan::Reversibility;
    use trailguard_rules::remediation::FixAction;

    fn sample_step() -> Step {
        let action = FixAction::DeleteLoginProfile {
            user_name: "bob".into(),
        };
        Step {
            id: crate::fix::plan::step_id(&action),
            finding_ids: vec!["tg-1".into()],
            action,
            description: "delete".into(),
            prior: serde_json::json!({"login_profile": true}),
            calls: vec![Call::DeleteLoginProfile {
                user_name: "bob".into(),
            }],
            reversibility: Reversibility::None("no".into()),
            notes: vec![],
            account: None,
        }
    }

    #[test]
    fn a_change_is_pending_until_finished_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.db");
        let step = sample_step();
        let id = {
            let journal = Journal::open(&path).unwrap();
            let id = journal.begin_change("run-1", &step, &[]).unwrap();
            journal
                .log_call(&id, Phase::Apply, 0, &step.calls[0], "started", None)
                .unwrap();
            id
        };
        let journal = Journal::open(&path).unwrap();
        let unfinished = journal.unfinished().unwrap();
        assert_eq!(unfinished.len(), 1);
        assert_eq!(unfinished[0].id, id);
        assert_eq!(unfinished[0].step, step);
        journal
            .set_status(&id, ChangeStatus::Applied, None)
            .unwrap();
        assert!(journal.unfinished().unwrap().is_empty());
        let record = journal.get(&id).unwrap().unwrap();
        assert_eq!(record.status, ChangeStatus::Applied);
        assert!(record.finished_at.is_some());
        assert_eq!(journal.calls(&id).unwrap().len(), 1);
        assert!(journal.get("chg-missing").unwrap().is_none());
    }
}
