//! The store's side of alerts and mutes (schema version 5), written once for both backends over
//! [`super::Tx`].
//!
//! - **Mutes** (`mutes`): added, listed, removed; keyed by the mute's id, so importing a file twice
//!   keeps one row each. `finding_mutes` records which mute silenced a stored finding.
//! - **Folding** (`alert_folds`): one row per destination and fold key (rule and principal). The
//!   first finding of a key opens a window and is enqueued at once; findings of the same key while the
//!   window is open only raise `repeats`. When a window has closed with repeats, one digest is
//!   enqueued for it ([`close_windows`], or the next finding of the key).
//! - **Outbox** (`alert_outbox`): every message to send, unique on (destination, dedup key): an alert's
//!   key is its finding's stable id, so a finding is enqueued once however many workers or runs see
//!   it. [`claim`] takes due rows under a lease (Postgres: `FOR UPDATE SKIP LOCKED`, so two workers
//!   never take the same row; SQLite: the immediate transaction holds the write lock), the sender
//!   marks each [`mark_sent`] or [`mark_failed`] (retry with exponential backoff, given up after
//!   [`MAX_ATTEMPTS`]). A worker that dies holding a lease leaves its rows due again when the lease
//!   ends, so nothing is lost across restarts.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::row::RowRead;
use super::schema::Param;
use super::{Dialect, FindingStore, StoreError, Tx};
use crate::mute::{stamp, Mute, MuteMatch};

/// Attempts before a message is given up (reported, counted, kept in the table).
pub const MAX_ATTEMPTS: i64 = 8;

/// How long a claimed message is held by its sender before another may take it.
pub const CLAIM_LEASE: Duration = Duration::from_secs(60);

fn text(value: &str) -> Param {
    Param::Text(value.to_owned())
}

fn later(now: DateTime<Utc>, by: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX)
}

fn damaged(table: &'static str) -> impl Fn(StoreError) -> StoreError {
    move |err| match err {
        StoreError::DamagedState { reason, .. } => StoreError::DamagedState { table, reason },
        other => other,
    }
}

// ---- mutes ----

const INSERT_MUTE: &str = "INSERT INTO mutes (id, rule, principal, account, region, resource,
        event_name, source_cidr, reason, expires_at, created_by, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
     ON CONFLICT (id) DO UPDATE SET reason = excluded.reason, expires_at = excluded.expires_at,
        created_by = excluded.created_by, created_at = excluded.created_at,
        expiry_reported_at = NULL";

const SELECT_MUTES: &str = "SELECT id, rule, principal, account, region, resource, event_name,
        source_cidr, reason, expires_at, created_by, created_at
     FROM mutes ORDER BY created_at, id";

const DELETE_MUTE: &str = "DELETE FROM mutes WHERE id = $1";

const EXPIRY_REPORTED: &str = "UPDATE mutes SET expiry_reported_at = $1
     WHERE id = $2 AND expires_at = $3 AND expiry_reported_at IS NULL";

const EXPIRIES_REPORTED: &str =
    "SELECT id, expires_at FROM mutes WHERE expiry_reported_at IS NOT NULL AND expires_at IS NOT NULL";

/// Adds a mute, or replaces the reason, expiry and author of the mute with the same matcher.
pub fn add_mute(store: &mut dyn FindingStore, mute: &Mute) -> Result<(), StoreError> {
    let m = &mute.matches;
    let params = [
        text(&mute.id),
        m.rule.clone().into(),
        m.principal.clone().into(),
        m.account.clone().into(),
        m.region.clone().into(),
        m.resource.clone().into(),
        m.event_name.clone().into(),
        m.source_ip.clone().into(),
        text(&mute.reason),
        mute.expires_at.clone().into(),
        text(&mute.created_by),
        text(&mute.created_at),
    ];
    store.transact(&mut |tx| tx.exec(INSERT_MUTE, &params).map(drop))
}

/// Every stored mute, oldest first.
pub fn mutes(store: &mut dyn FindingStore) -> Result<Vec<Mute>, StoreError> {
    let mut out = Vec::new();
    store.transact(&mut |tx| {
        out.clear();
        tx.query(SELECT_MUTES, &[], &mut |row| {
            out.push(read_mute(row)?);
            Ok(())
        })
        .map_err(damaged("mutes"))
    })?;
    Ok(out)
}

fn read_mute(row: &dyn RowRead) -> Result<Mute, String> {
    Ok(Mute {
        id: row.text(0)?,
        matches: MuteMatch {
            rule: row.opt_text(1)?,
            principal: row.opt_text(2)?,
            account: row.opt_text(3)?,
            region: row.opt_text(4)?,
            resource: row.opt_text(5)?,
            event_name: row.opt_text(6)?,
            source_ip: row.opt_text(7)?,
        },
        reason: row.text(8)?,
        expires_at: row.opt_text(9)?,
        created_by: row.text(10)?,
        created_at: row.text(11)?,
    })
}

/// Removes a mute; whether it existed.
pub fn remove_mute(store: &mut dyn FindingStore, id: &str) -> Result<bool, StoreError> {
    let mut removed = 0;
    store.transact(&mut |tx| {
        removed = tx.exec(DELETE_MUTE, &[text(id)])?;
        Ok(())
    })?;
    Ok(removed > 0)
}

/// Marks a mute's expiry as reported; true for the one caller that marks it first. Keyed on the mute
/// and the expiry it was read with, as its CT055 finding is: a mute renewed meanwhile (`add_mute`
/// clears the mark) is not marked for an expiry it no longer has.
pub fn claim_expiry_report(
    store: &mut dyn FindingStore,
    mute: &Mute,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let Some(expires_at) = mute.expires_at.as_deref() else {
        return Ok(false);
    };
    let mut changed = 0;
    store.transact(&mut |tx| {
        changed = tx.exec(
            EXPIRY_REPORTED,
            &[text(&stamp(now)), text(&mute.id), text(expires_at)],
        )?;
        Ok(())
    })?;
    Ok(changed > 0)
}

/// The (mute id, expiry) pairs whose expiry has been reported: `serve` raises the others.
pub fn reported_expiries(
    store: &mut dyn FindingStore,
) -> Result<std::collections::HashSet<(String, String)>, StoreError> {
    let mut out = std::collections::HashSet::new();
    store.transact(&mut |tx| {
        out.clear();
        tx.query(EXPIRIES_REPORTED, &[], &mut |row| {
            out.insert((row.text(0)?, row.text(1)?));
            Ok(())
        })
        .map_err(damaged("mutes"))
    })?;
    Ok(out)
}

const MUTE_FINDING: &str = "INSERT INTO finding_mutes (finding_id, mute_id, muted_at) VALUES ($1, $2, $3)
     ON CONFLICT (finding_id) DO UPDATE SET mute_id = excluded.mute_id, muted_at = excluded.muted_at";

const UNMUTE_FINDING: &str = "DELETE FROM finding_mutes WHERE finding_id = $1";

/// Records, for stored findings, the mute that silenced each (`Some`) or that none did (`None`: a
/// finding seen again after its mute expired is no longer muted).
pub fn set_finding_mutes(
    store: &mut dyn FindingStore,
    findings: &[(String, Option<String>)],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let at = stamp(now);
    store.transact(&mut |tx| {
        for (finding, mute) in findings {
            match mute {
                Some(mute) => tx.exec(MUTE_FINDING, &[text(finding), text(mute), text(&at)])?,
                None => tx.exec(UNMUTE_FINDING, &[text(finding)])?,
            };
        }
        Ok(())
    })
}

/// The mute recorded for a stored finding.
#[cfg_attr(not(test), allow(dead_code))] // Used by tests now; serve's expiry findings next.
pub fn finding_mute(
    store: &mut dyn FindingStore,
    finding: &str,
) -> Result<Option<String>, StoreError> {
    let mut found = None;
    store.transact(&mut |tx| {
        tx.query(
            "SELECT mute_id FROM finding_mutes WHERE finding_id = $1",
            &[text(finding)],
            &mut |row| {
                found = Some(row.text(0)?);
                Ok(())
            },
        )
        .map_err(damaged("finding_mutes"))
    })?;
    Ok(found)
}

// ---- folding and the outbox ----

/// What to enqueue for one finding at one destination.
#[derive(Debug, Clone)]
pub struct AlertIntent<'a> {
    pub destination: &'a str,
    /// The finding's stable id: the alert's dedup key.
    pub finding_id: &'a str,
    /// Rule and principal: findings with the same key fold into one alert per window.
    pub fold_key: &'a str,
    /// The message (JSON) sent when the finding opens a window.
    pub payload: &'a str,
    pub fold_window: Duration,
    pub now: DateTime<Utc>,
    /// Whether a finding alerted before counts as a repeat in its open window: yes for a run that
    /// sees it again; no for `serve` offering a stored or redelivered finding once more.
    pub recount: bool,
}

/// What [`enqueue_alert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// The first of its key in the window: an alert is in the outbox.
    Alert,
    /// A repeat in an open window: counted for the digest, nothing to send now.
    Folded,
    /// This finding was alerted before (another worker, an earlier run): counted in an open window.
    AlreadyAlerted,
}

/// A digest of one closed fold window, as enqueued (the payload of a `digest` outbox row).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Digest {
    pub fold_key: String,
    /// The finding whose alert opened the window.
    pub first_finding: String,
    pub repeats: u64,
    pub window_start: String,
    pub window_end: String,
}

const OUTBOX_HAS: &str =
    "SELECT COUNT(*) FROM alert_outbox WHERE destination = $1 AND dedup_key = $2";
const OUTBOX_INSERT: &str = "INSERT INTO alert_outbox (destination, dedup_key, kind, payload,
        created_at, attempts, next_attempt_at) VALUES ($1, $2, $3, $4, $5, 0, $5)
     ON CONFLICT (destination, dedup_key) DO NOTHING";
const FOLD_OPEN: &str = "INSERT INTO alert_folds (destination, fold_key, window_start, window_end,
        first_finding, repeats) VALUES ($1, $2, $3, $4, $5, 0)
     ON CONFLICT (destination, fold_key) DO NOTHING";
const FOLD_COUNT: &str = "UPDATE alert_folds SET repeats = repeats + 1
     WHERE destination = $1 AND fold_key = $2 AND window_end > $3";
const FOLD_READ: &str = "SELECT window_start, window_end, first_finding, repeats FROM alert_folds
     WHERE destination = $1 AND fold_key = $2";
const FOLD_REOPEN: &str = "UPDATE alert_folds SET window_start = $1, window_end = $2,
        first_finding = $3, repeats = 0 WHERE destination = $4 AND fold_key = $5";
const FOLDS_CLOSED: &str = "SELECT destination, fold_key, window_start, window_end, first_finding,
        repeats FROM alert_folds WHERE window_end <= $1 AND repeats > 0 ORDER BY destination, fold_key";
const FOLD_DIGESTED: &str =
    "UPDATE alert_folds SET repeats = 0 WHERE destination = $1 AND fold_key = $2";

/// Postgres locks the rows a transaction reads to change; SQLite's write lock is already held.
fn locking(tx: &dyn Tx, sql: &str, skip_locked: bool) -> String {
    match (tx.dialect(), skip_locked) {
        (Dialect::Sqlite, _) => sql.to_owned(),
        (Dialect::Postgres, false) => format!("{sql} FOR UPDATE"),
        (Dialect::Postgres, true) => format!("{sql} FOR UPDATE SKIP LOCKED"),
    }
}

fn insert_message(
    tx: &mut dyn Tx,
    destination: &str,
    dedup_key: &str,
    kind: &str,
    payload: &str,
    now: &str,
) -> Result<u64, StoreError> {
    tx.exec(
        OUTBOX_INSERT,
        &[
            text(destination),
            text(dedup_key),
            text(kind),
            text(payload),
            text(now),
        ],
    )
}

fn digest_message(
    tx: &mut dyn Tx,
    destination: &str,
    digest: &Digest,
    now: &str,
) -> Result<(), StoreError> {
    let payload = serde_json::to_string(digest).map_err(|source| StoreError::Encode {
        id: digest.fold_key.clone(),
        source,
    })?;
    let key = format!("digest:{}:{}", digest.fold_key, digest.window_start);
    insert_message(tx, destination, &key, "digest", &payload, now).map(drop)
}

/// Whether the outbox already holds this finding's alert for the destination; if so, and the offer
/// is a new sighting (`recount`), the fold's counter is raised.
fn already_alerted(
    tx: &mut dyn Tx,
    intent: &AlertIntent<'_>,
    dedup: &str,
    now: &str,
) -> Result<bool, StoreError> {
    let dest = text(intent.destination);
    let mut seen = 0;
    tx.query(OUTBOX_HAS, &[dest.clone(), text(dedup)], &mut |row| {
        seen = row.int(0)?;
        Ok(())
    })?;
    if seen > 0 && intent.recount {
        tx.exec(FOLD_COUNT, &[dest, text(intent.fold_key), text(now)])?;
    }
    Ok(seen > 0)
}

/// Enqueues a finding's alert at one destination, or folds it into the open window of its key; one
/// transaction, so workers racing on the same finding or key enqueue one alert between them.
pub fn enqueue_alert(
    store: &mut dyn FindingStore,
    intent: &AlertIntent<'_>,
) -> Result<Enqueued, StoreError> {
    let now = stamp(intent.now);
    let window_end = stamp(later(intent.now, intent.fold_window));
    let dedup = format!("alert:{}", intent.finding_id);
    let mut result = Enqueued::Alert;
    store.transact(&mut |tx| {
        let (dest, key) = (text(intent.destination), text(intent.fold_key));
        if already_alerted(tx, intent, &dedup, &now)? {
            result = Enqueued::AlreadyAlerted;
            return Ok(());
        }
        let opened = tx.exec(
            FOLD_OPEN,
            &[
                dest.clone(),
                key.clone(),
                text(&now),
                text(&window_end),
                text(intent.finding_id),
            ],
        )?;
        if opened == 0 {
            let mut fold = None;
            tx.query(
                &locking(&*tx, FOLD_READ, false),
                &[dest.clone(), key.clone()],
                &mut |row| {
                    fold = Some((row.text(0)?, row.text(1)?, row.text(2)?, row.int(3)?));
                    Ok(())
                },
            )
            .map_err(damaged("alert_folds"))?;
            let Some((start, end, first, repeats)) = fold else {
                return Err(StoreError::DamagedState {
                    table: "alert_folds",
                    reason: format!("fold `{}` vanished", intent.fold_key),
                });
            };
            // A worker offering the same finding at the same moment (Postgres) opened the fold and
            // enqueued the alert while this one waited on the fold's row: it is alerted, not a repeat.
            if already_alerted(tx, intent, &dedup, &now)? {
                result = Enqueued::AlreadyAlerted;
                return Ok(());
            }
            if end > now {
                tx.exec(FOLD_COUNT, &[dest.clone(), key.clone(), text(&now)])?;
                result = Enqueued::Folded;
                return Ok(());
            }
            if repeats > 0 {
                let digest = Digest {
                    fold_key: intent.fold_key.to_owned(),
                    first_finding: first,
                    repeats: repeats.max(0) as u64,
                    window_start: start,
                    window_end: end,
                };
                digest_message(tx, intent.destination, &digest, &now)?;
            }
            tx.exec(
                FOLD_REOPEN,
                &[
                    text(&now),
                    text(&window_end),
                    text(intent.finding_id),
                    dest.clone(),
                    key.clone(),
                ],
            )?;
        }
        insert_message(
            tx,
            intent.destination,
            &dedup,
            "alert",
            intent.payload,
            &now,
        )?;
        result = Enqueued::Alert;
        Ok(())
    })?;
    Ok(result)
}

/// Enqueues one digest for every fold window closed by `now` that counted repeats; the number enqueued.
pub fn close_windows(store: &mut dyn FindingStore, now: DateTime<Utc>) -> Result<u64, StoreError> {
    let at = stamp(now);
    let mut enqueued = 0;
    store.transact(&mut |tx| {
        enqueued = 0;
        let mut closed = Vec::new();
        let sql = locking(&*tx, FOLDS_CLOSED, true);
        tx.query(&sql, &[text(&at)], &mut |row| {
            closed.push((
                row.text(0)?,
                Digest {
                    fold_key: row.text(1)?,
                    window_start: row.text(2)?,
                    window_end: row.text(3)?,
                    first_finding: row.text(4)?,
                    repeats: row.int(5)?.max(0) as u64,
                },
            ));
            Ok(())
        })
        .map_err(damaged("alert_folds"))?;
        for (destination, digest) in &closed {
            digest_message(tx, destination, digest, &at)?;
            tx.exec(FOLD_DIGESTED, &[text(destination), text(&digest.fold_key)])?;
            enqueued += 1;
        }
        Ok(())
    })?;
    Ok(enqueued)
}

/// Enqueues a message that is not a finding's alert (a mute's expiry); once per key and destination.
#[cfg_attr(not(test), allow(dead_code))] // Used by tests now; serve's expiry findings next.
pub fn enqueue_message(
    store: &mut dyn FindingStore,
    destination: &str,
    dedup_key: &str,
    kind: &str,
    payload: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let mut added = 0;
    store.transact(&mut |tx| {
        added = insert_message(tx, destination, dedup_key, kind, payload, &stamp(now))?;
        Ok(())
    })?;
    Ok(added > 0)
}

/// A message claimed for sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    pub id: i64,
    pub destination: String,
    pub dedup_key: String,
    /// `alert`, `digest` or `mute-expired`.
    pub kind: String,
    pub payload: String,
    /// Attempts including this one.
    pub attempt: i64,
}

const DUE: &str = "SELECT id, destination, dedup_key, kind, payload, attempts FROM alert_outbox
     WHERE sent_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= $1 ORDER BY id LIMIT $2";
const LEASE: &str =
    "UPDATE alert_outbox SET attempts = attempts + 1, next_attempt_at = $1 WHERE id = $2";
const SENT: &str = "UPDATE alert_outbox SET sent_at = $1, last_error = NULL WHERE id = $2";
const FAILED: &str =
    "UPDATE alert_outbox SET next_attempt_at = $1, last_error = $2, gave_up_at = $3 WHERE id = $4";

/// Claims up to `limit` due messages, oldest first, for `CLAIM_LEASE`; each claim counts an attempt.
pub fn claim(
    store: &mut dyn FindingStore,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<OutboxMessage>, StoreError> {
    let lease_end = stamp(later(now, CLAIM_LEASE));
    let mut claimed = Vec::new();
    store.transact(&mut |tx| {
        claimed.clear();
        let sql = locking(&*tx, DUE, true);
        tx.query(
            &sql,
            &[
                text(&stamp(now)),
                Param::Int(limit.min(i64::MAX as u64) as i64),
            ],
            &mut |row| {
                claimed.push(OutboxMessage {
                    id: row.int(0)?,
                    destination: row.text(1)?,
                    dedup_key: row.text(2)?,
                    kind: row.text(3)?,
                    payload: row.text(4)?,
                    attempt: row.int(5)? + 1,
                });
                Ok(())
            },
        )
        .map_err(damaged("alert_outbox"))?;
        for message in &claimed {
            tx.exec(LEASE, &[text(&lease_end), Param::Int(message.id)])?;
        }
        Ok(())
    })?;
    Ok(claimed)
}

const RELEASE: &str =
    "UPDATE alert_outbox SET attempts = attempts - 1, next_attempt_at = $1 WHERE id = $2";

/// Gives a claimed message back without counting the attempt (a rate limit, a destination this
/// process does not have); due again a second later.
pub fn release(
    store: &mut dyn FindingStore,
    message: &OutboxMessage,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let at = stamp(later(now, Duration::from_secs(1)));
    store.transact(&mut |tx| {
        tx.exec(RELEASE, &[text(&at), Param::Int(message.id)])
            .map(drop)
    })
}

pub fn mark_sent(
    store: &mut dyn FindingStore,
    id: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    store.transact(&mut |tx| {
        tx.exec(SENT, &[text(&stamp(now)), Param::Int(id)])
            .map(drop)
    })
}

/// The wait before attempt `attempt + 1`: 2^(attempt-1) × `base`, at most an hour.
pub fn backoff(attempt: i64, base: Duration) -> Duration {
    let factor = 1u32 << attempt.clamp(1, 20).saturating_sub(1) as u32;
    base.saturating_mul(factor).min(Duration::from_secs(3600))
}

/// Records a failed attempt: due again after the backoff, or given up after [`MAX_ATTEMPTS`]; whether
/// it was given up.
pub fn mark_failed(
    store: &mut dyn FindingStore,
    message: &OutboxMessage,
    error: &str,
    retry_base: Duration,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let give_up = message.attempt >= MAX_ATTEMPTS;
    let next = stamp(later(now, backoff(message.attempt, retry_base)));
    let gave_up: Param = give_up.then(|| stamp(now)).into();
    store.transact(&mut |tx| {
        tx.exec(
            FAILED,
            &[
                text(&next),
                text(error),
                gave_up.clone(),
                Param::Int(message.id),
            ],
        )
        .map(drop)
    })?;
    Ok(give_up)
}

/// Counts of the outbox, for summaries and `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    pub pending: u64,
    pub sent: u64,
    pub given_up: u64,
}

pub fn outbox_counts(store: &mut dyn FindingStore) -> Result<OutboxCounts, StoreError> {
    let mut counts = OutboxCounts::default();
    store.transact(&mut |tx| {
        tx.query(
            "SELECT
                CAST(COALESCE(SUM(CASE WHEN sent_at IS NULL AND gave_up_at IS NULL THEN 1 ELSE 0 END), 0) AS BIGINT),
                CAST(COALESCE(SUM(CASE WHEN sent_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT),
                CAST(COALESCE(SUM(CASE WHEN gave_up_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT)
             FROM alert_outbox",
            &[],
            &mut |row| {
                counts = OutboxCounts {
                    pending: row.int(0)?.max(0) as u64,
                    sent: row.int(1)?.max(0) as u64,
                    given_up: row.int(2)?.max(0) as u64,
                };
                Ok(())
            },
        )
        .map_err(damaged("alert_outbox"))
    })?;
    Ok(counts)
}
