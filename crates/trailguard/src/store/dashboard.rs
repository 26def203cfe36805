//! The store's side of `trailguard web` (schema version 7), written once for both backends over
//! [`super::Tx`].
//!
//! - **Findings pages**: [`FindingFilter`] is the one query builder for the list, its count and its
//!   exports: every value is a bound `$N` parameter (numbered in order of first use, as SQLite binds
//!   them), never text in the SQL; sort keys come from a closed enum. A finding's status is derived:
//!   `muted` when `finding_mutes` names it, else `resolved` when `finding_resolutions` does, else `open`.
//!   Paging is by keyset ([`PageAt`], [`Cursor`]): a page starts after (or before) the sort key of a
//!   row, never at an offset, so page 2,000 costs what page 1 does (migration 8's indexes hold each
//!   sort's key).
//! - **Overview**: counts by severity per day, top rules and principals (read from the count tables
//!   that migration 8's triggers keep, not counted from the findings on each visit), delivery health.
//! - **Users** (`web_users`): argon2id hashes only; **sessions** (`web_sessions`): the SHA-256 of each
//!   session token, never the token; **actions** (`web_actions`): every mute and resolve done through
//!   the web, with who and when, written in the transaction that does it.
//! - **Audits** (`audits`): the summary of each `audit --store`, for the overview's scores.

use trailguard_rules::{Finding, Severity};

use super::row::RowRead;
use super::schema::Param;
use super::{Delivery, FindingStore, StoreError};

/// Where a stored finding stands in triage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Open,
    Muted,
    Resolved,
}

impl Status {
    pub fn parse(text: &str) -> Option<Status> {
        match text {
            "open" => Some(Status::Open),
            "muted" => Some(Status::Muted),
            "resolved" => Some(Status::Resolved),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Muted => "muted",
            Status::Resolved => "resolved",
        }
    }
}

/// The order of a findings list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Worst first, then newest event (the store's own order).
    #[default]
    Severity,
    Newest,
    Oldest,
    Rule,
}

impl Sort {
    pub fn parse(text: &str) -> Option<Sort> {
        match text {
            "severity" => Some(Sort::Severity),
            "newest" => Some(Sort::Newest),
            "oldest" => Some(Sort::Oldest),
            "rule" => Some(Sort::Rule),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Severity => "severity",
            Sort::Newest => "newest",
            Sort::Oldest => "oldest",
            Sort::Rule => "rule",
        }
    }

    /// The sort key, most significant first: (SQL expression, descending). The last column is the
    /// id, so every order is total and a cursor names one position. The event time is compared as
    /// `sort_time` (migration 8: the time, or '' when none), so findings without one sort as the
    /// oldest.
    fn key(self) -> &'static [(&'static str, bool)] {
        const TIME: &str = "f.sort_time";
        match self {
            Sort::Severity => &[("f.severity_rank", true), (TIME, true), ("f.id", true)],
            Sort::Newest => &[(TIME, true), ("f.id", true)],
            Sort::Oldest => &[(TIME, false), ("f.id", false)],
            Sort::Rule => &[("f.rule_id", false), (TIME, true), ("f.id", true)],
        }
    }

    /// `ORDER BY` for this sort, or for its reverse (a page read backwards).
    fn order_by(self, reverse: bool) -> String {
        self.key()
            .iter()
            .map(|(column, desc)| {
                format!("{column} {}", if *desc != reverse { "DESC" } else { "ASC" })
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The cursor's values as they bind, in key order.
    fn bind(self, cursor: &Cursor) -> Vec<Param> {
        let time = Param::Text(cursor.time.clone());
        let id = Param::Text(cursor.id.clone());
        match self {
            Sort::Severity => vec![Param::Int(cursor.rank), time, id],
            Sort::Newest | Sort::Oldest => vec![time, id],
            Sort::Rule => vec![Param::Text(cursor.rule.clone()), time, id],
        }
    }

    /// The rows strictly after `cursor` in this order (`forward`), or strictly before it. Runs of
    /// columns sorted the same way compare as one row value (`(a, b) < ($1, $2)`, which both engines
    /// answer with an index range); a change of direction splits them, led by a `>=`/`<=` on the
    /// first run so the index still bounds the scan.
    fn beyond(self, cursor: &Cursor, forward: bool, params: &mut Vec<Param>) -> String {
        let key = self.key();
        let values = self.bind(cursor);
        let mut runs: Vec<(bool, Vec<(&str, Param)>)> = Vec::new();
        for ((column, desc), value) in key.iter().zip(values) {
            match runs.last_mut() {
                Some((d, cols)) if d == desc => cols.push((column, value)),
                _ => runs.push((*desc, vec![(column, value)])),
            }
        }
        let mut placed: Vec<Vec<String>> = Vec::new();
        for (_, cols) in &runs {
            placed.push(
                cols.iter()
                    .map(|(_, value)| {
                        params.push(value.clone());
                        format!("${}", params.len())
                    })
                    .collect(),
            );
        }
        let tuple = |items: Vec<String>| {
            if items.len() == 1 {
                items[0].clone()
            } else {
                format!("({})", items.join(", "))
            }
        };
        let sides: Vec<(String, String, bool)> = runs
            .iter()
            .zip(&placed)
            .map(|((desc, cols), holders)| {
                (
                    tuple(cols.iter().map(|(c, _)| (*c).to_owned()).collect()),
                    tuple(holders.clone()),
                    // Moving forward through a descending run means smaller values.
                    *desc == forward,
                )
            })
            .collect();
        // Innermost first: run k strictly beyond, or equal and the rest beyond.
        let mut condition = String::new();
        for (i, (columns, holders, less)) in sides.iter().enumerate().rev() {
            let op = if *less { "<" } else { ">" };
            condition = if i == sides.len() - 1 {
                format!("{columns} {op} {holders}")
            } else {
                format!("({columns} {op} {holders} OR ({columns} = {holders} AND {condition}))")
            };
        }
        if sides.len() > 1 {
            let (columns, holders, less) = &sides[0];
            let op = if *less { "<=" } else { ">=" };
            condition = format!("{columns} {op} {holders} AND {condition}");
        }
        format!(" AND {condition}")
    }
}

/// A position in a findings list: the sort key of one row (the last of a page, to read on; the first,
/// to read back). Sent to the browser opaque (hex of JSON) and checked on the way back in
/// ([`Cursor::decode`]): a value that is not a cursor of this sort is refused, and the values only
/// ever bind as parameters, so a forged cursor can move a reader in the list and nothing else.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cursor {
    #[serde(rename = "s")]
    pub sort: String,
    #[serde(rename = "k")]
    pub rank: i64,
    #[serde(rename = "r")]
    pub rule: String,
    #[serde(rename = "t")]
    pub time: String,
    #[serde(rename = "i")]
    pub id: String,
}

/// The longest cursor accepted (hex): far beyond any real one, short of any abuse.
const MAX_CURSOR: usize = 4096;

impl Cursor {
    /// The position of `row` in `sort`.
    pub fn of(row: &ListRow, sort: Sort) -> Cursor {
        Cursor {
            sort: sort.as_str().to_owned(),
            rank: Severity::ALL
                .into_iter()
                .find(|s| s.as_str() == row.severity)
                .map_or(0, |s| s as i64),
            rule: row.rule_id.clone(),
            time: row.event_time.clone().unwrap_or_default(),
            id: row.id.clone(),
        }
    }

    pub fn encode(&self) -> String {
        hex::encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// The cursor in `text`, if it is one, of `sort`.
    pub fn decode(text: &str, sort: Sort) -> Result<Cursor, String> {
        let refuse =
            |why: &str| format!("the page cursor is not valid ({why}): start from the first page");
        if text.len() > MAX_CURSOR {
            return Err(refuse("too long"));
        }
        let bytes = hex::decode(text).map_err(|_| refuse("not a cursor"))?;
        let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| refuse("not a cursor"))?;
        if cursor.sort != sort.as_str() {
            return Err(refuse("made for another sort"));
        }
        Ok(cursor)
    }
}

/// Where a page starts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PageAt {
    /// The first page.
    #[default]
    First,
    /// The rows after this position.
    After(Cursor),
    /// The rows before this position (a "previous" link).
    Before(Cursor),
}

/// The filters of the findings list, its exports and `/api/v1/findings`; empty fields match all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FindingFilter {
    pub severity: Option<Severity>,
    /// A rule code or rule name.
    pub rule: Option<String>,
    pub account: Option<String>,
    pub region: Option<String>,
    /// The actor's ARN, exactly.
    pub principal: Option<String>,
    pub event_name: Option<String>,
    /// Event time at or after (RFC 3339 prefix compare).
    pub from: Option<String>,
    /// Event time before.
    pub to: Option<String>,
    pub status: Option<Status>,
}

/// The status of `f` as SQL, over the joins of [`FROM_FINDINGS`].
const STATUS_SQL: &str = "CASE WHEN fm.finding_id IS NOT NULL THEN 'muted'
     WHEN fr.finding_id IS NOT NULL THEN 'resolved' ELSE 'open' END";

const FROM_FINDINGS: &str = " FROM findings f
     LEFT JOIN finding_mutes fm ON fm.finding_id = f.id
     LEFT JOIN finding_resolutions fr ON fr.finding_id = f.id";

/// A built statement: SQL with `$N` placeholders and the values they bind.
#[derive(Debug, Clone, PartialEq)]
pub struct Built {
    pub sql: String,
    pub params: Vec<Param>,
}

impl FindingFilter {
    /// ` WHERE ...` for this filter, pushing its values to `params`.
    fn where_sql(&self, params: &mut Vec<Param>) -> String {
        let mut sql = String::from(" WHERE 1 = 1");
        let bind = |value: Param, params: &mut Vec<Param>| {
            params.push(value);
            format!("${}", params.len())
        };
        if let Some(severity) = self.severity {
            let p = bind(Param::Int(severity as i64), params);
            sql.push_str(&format!(" AND f.severity_rank = {p}"));
        }
        if let Some(rule) = &self.rule {
            let p = bind(Param::Text(rule.clone()), params);
            sql.push_str(&format!(" AND (f.rule_id = {p} OR f.rule_name = {p})"));
        }
        for (column, value) in [
            ("f.account", &self.account),
            ("f.region", &self.region),
            ("f.actor_arn", &self.principal),
            ("f.event_name", &self.event_name),
        ] {
            if let Some(value) = value {
                let p = bind(Param::Text(value.clone()), params);
                sql.push_str(&format!(" AND {column} = {p}"));
            }
        }
        if let Some(from) = &self.from {
            let p = bind(Param::Text(from.clone()), params);
            sql.push_str(&format!(" AND f.event_time >= {p}"));
        }
        if let Some(to) = &self.to {
            let p = bind(Param::Text(to.clone()), params);
            sql.push_str(&format!(" AND f.event_time < {p}"));
        }
        match self.status {
            None => {}
            Some(Status::Open) => {
                sql.push_str(" AND fm.finding_id IS NULL AND fr.finding_id IS NULL");
            }
            Some(Status::Muted) => sql.push_str(" AND fm.finding_id IS NOT NULL"),
            Some(Status::Resolved) => {
                sql.push_str(" AND fm.finding_id IS NULL AND fr.finding_id IS NOT NULL");
            }
        }
        sql
    }

    /// One page of summary rows ([`ListRow`]) from `at`; `limit + 1` rows are asked for so the caller
    /// knows whether more follow (in the direction read). A page read backwards comes in reverse order.
    pub fn page(&self, sort: Sort, at: &PageAt, limit: u64) -> Built {
        let mut params = Vec::new();
        let mut sql = format!(
            "SELECT f.id, f.rule_id, f.title, f.severity, f.event_time, f.event_name, f.account,
                f.region, f.actor_arn, f.resource_id, {STATUS_SQL}{FROM_FINDINGS}"
        );
        sql.push_str(&self.where_sql(&mut params));
        let reverse = match at {
            PageAt::First => false,
            PageAt::After(cursor) => {
                sql.push_str(&sort.beyond(cursor, true, &mut params));
                false
            }
            PageAt::Before(cursor) => {
                sql.push_str(&sort.beyond(cursor, false, &mut params));
                true
            }
        };
        sql.push_str(&format!(" ORDER BY {}", sort.order_by(reverse)));
        params.push(Param::Int(clamp(limit) + 1));
        sql.push_str(&format!(" LIMIT ${}", params.len()));
        Built { sql, params }
    }

    /// How many findings the filter matches.
    pub fn count(&self) -> Built {
        let mut params = Vec::new();
        let mut sql = format!("SELECT COUNT(*){FROM_FINDINGS}");
        sql.push_str(&self.where_sql(&mut params));
        Built { sql, params }
    }

    /// Every matching finding's body and status, in `sort` order (the exports).
    pub fn bodies(&self, sort: Sort, limit: u64) -> Built {
        let mut params = Vec::new();
        let mut sql = format!("SELECT f.body, {STATUS_SQL}{FROM_FINDINGS}");
        sql.push_str(&self.where_sql(&mut params));
        sql.push_str(&format!(" ORDER BY {}", sort.order_by(false)));
        params.push(Param::Int(clamp(limit)));
        sql.push_str(&format!(" LIMIT ${}", params.len()));
        Built { sql, params }
    }
}

fn clamp(n: u64) -> i64 {
    n.min(i64::MAX as u64) as i64
}

/// One line of the findings list.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ListRow {
    pub id: String,
    pub rule_id: String,
    pub title: String,
    pub severity: String,
    pub event_time: Option<String>,
    pub event_name: Option<String>,
    pub account: Option<String>,
    pub region: Option<String>,
    pub principal: Option<String>,
    pub resource: Option<String>,
    pub status: String,
}

fn list_row(row: &dyn RowRead) -> Result<ListRow, String> {
    Ok(ListRow {
        id: row.text(0)?,
        rule_id: row.text(1)?,
        title: row.text(2)?,
        severity: row.text(3)?,
        event_time: row.opt_text(4)?,
        event_name: row.opt_text(5)?,
        account: row.opt_text(6)?,
        region: row.opt_text(7)?,
        principal: row.opt_text(8)?,
        resource: row.opt_text(9)?,
        status: row.text(10)?,
    })
}

fn damaged(table: &'static str) -> impl Fn(StoreError) -> StoreError {
    move |err| match err {
        StoreError::DamagedState { reason, .. } => StoreError::DamagedState { table, reason },
        other => other,
    }
}

/// A page of the list: its rows (in the sort's order), whether rows follow it and precede it, and
/// the filter's total.
#[derive(Debug, Clone, Default)]
pub struct ListPage {
    pub rows: Vec<ListRow>,
    /// Rows follow this page (a "next" link).
    pub more: bool,
    /// Rows precede this page (a "previous" link).
    pub earlier: bool,
    pub total: u64,
}

impl ListPage {
    /// The cursor that reads on after this page.
    pub fn next(&self, sort: Sort) -> Option<Cursor> {
        self.more
            .then(|| self.rows.last().map(|r| Cursor::of(r, sort)))
            .flatten()
    }

    /// The cursor that reads the page before this one.
    pub fn previous(&self, sort: Sort) -> Option<Cursor> {
        self.earlier
            .then(|| self.rows.first().map(|r| Cursor::of(r, sort)))
            .flatten()
    }
}

pub fn list(
    store: &mut dyn FindingStore,
    filter: &FindingFilter,
    sort: Sort,
    at: &PageAt,
    limit: u64,
) -> Result<ListPage, StoreError> {
    let page = filter.page(sort, at, limit);
    let count = filter.count();
    let mut out = ListPage::default();
    store
        .transact(&mut |tx| {
            out = ListPage::default();
            tx.query(&page.sql, &page.params, &mut |row| {
                out.rows.push(list_row(row)?);
                Ok(())
            })?;
            tx.query(&count.sql, &count.params, &mut |row| {
                out.total = row.int(0)?.max(0) as u64;
                Ok(())
            })
        })
        .map_err(damaged("findings"))?;
    let beyond = out.rows.len() as u64 > limit;
    out.rows.truncate(limit as usize);
    match at {
        PageAt::First => out.more = beyond,
        PageAt::After(_) => (out.more, out.earlier) = (beyond, true),
        PageAt::Before(_) => {
            out.rows.reverse();
            (out.more, out.earlier) = (true, beyond);
        }
    }
    Ok(out)
}

/// Every matching finding (at most `limit`) with its status; a body that is not a finding is skipped
/// and counted.
pub fn export(
    store: &mut dyn FindingStore,
    filter: &FindingFilter,
    sort: Sort,
    limit: u64,
) -> Result<(Vec<(Finding, Status)>, u64), StoreError> {
    let built = filter.bodies(sort, limit);
    let mut out = Vec::new();
    let mut skipped = 0;
    store
        .transact(&mut |tx| {
            out.clear();
            skipped = 0;
            tx.query(&built.sql, &built.params, &mut |row| {
                let status = Status::parse(&row.text(1)?).unwrap_or(Status::Open);
                match serde_json::from_str::<Finding>(&row.text(0)?) {
                    Ok(finding) => out.push((finding, status)),
                    Err(_) => skipped += 1,
                }
                Ok(())
            })
        })
        .map_err(damaged("findings"))?;
    Ok((out, skipped))
}

/// One stored finding with everything its page shows.
#[derive(Debug, Clone)]
pub struct FindingDetail {
    pub finding: Finding,
    pub status: Status,
    pub first_seen_at: String,
    pub last_seen_at: String,
    pub times_seen: u64,
    pub mute_id: Option<String>,
    pub resolved: Option<(String, String, String)>,
}

const ONE_FINDING: &str = "SELECT f.body, f.first_seen_at, f.last_seen_at, f.times_seen,
        fm.mute_id, fr.resolved_by, fr.resolved_at, fr.note
     FROM findings f
     LEFT JOIN finding_mutes fm ON fm.finding_id = f.id
     LEFT JOIN finding_resolutions fr ON fr.finding_id = f.id
     WHERE f.id = $1";

pub fn finding(
    store: &mut dyn FindingStore,
    id: &str,
) -> Result<Option<FindingDetail>, StoreError> {
    let mut out = None;
    store
        .transact(&mut |tx| {
            tx.query(ONE_FINDING, &[Param::Text(id.to_owned())], &mut |row| {
                let finding: Finding = serde_json::from_str(&row.text(0)?)
                    .map_err(|e| format!("the stored finding is not valid JSON: {e}"))?;
                let mute_id = row.opt_text(4)?;
                let resolved = match row.opt_text(5)? {
                    Some(by) => Some((by, row.text(6)?, row.text(7)?)),
                    None => None,
                };
                let status = if mute_id.is_some() {
                    Status::Muted
                } else if resolved.is_some() {
                    Status::Resolved
                } else {
                    Status::Open
                };
                out = Some(FindingDetail {
                    finding,
                    status,
                    first_seen_at: row.text(1)?,
                    last_seen_at: row.text(2)?,
                    times_seen: row.int(3)?.max(0) as u64,
                    mute_id,
                    resolved,
                });
                Ok(())
            })
        })
        .map_err(damaged("findings"))?;
    Ok(out)
}

// ---- overview ----

/// What the overview page draws.
#[derive(Debug, Clone, Default)]
pub struct Overview {
    /// (day, severity, count), days ascending.
    pub per_day: Vec<(String, String, u64)>,
    /// (rule code, rule name, count), most first.
    pub top_rules: Vec<(String, String, u64)>,
    /// (principal ARN, count), most first.
    pub top_principals: Vec<(String, u64)>,
    pub deliveries: Vec<Delivery>,
}

// The counts come from migration 8's tables, which triggers keep equal to the findings (one home
// for them: the schema); a row may hold 0 after a finding moved on, so every sum is checked > 0.
const PER_DAY: &str = "SELECT day, severity, CAST(SUM(n) AS BIGINT) FROM finding_day_counts
     WHERE day >= $1 GROUP BY day, severity HAVING SUM(n) > 0 ORDER BY day, severity";
const TOP_RULES: &str = "SELECT t.rule_id,
        COALESCE((SELECT f.rule_name FROM findings f WHERE f.rule_id = t.rule_id LIMIT 1), ''), t.n
     FROM (SELECT rule_id, CAST(SUM(n) AS BIGINT) AS n FROM finding_day_counts
           GROUP BY rule_id HAVING SUM(n) > 0) t
     ORDER BY t.n DESC, t.rule_id LIMIT $1";
const TOP_PRINCIPALS: &str = "SELECT actor_arn, CAST(SUM(n) AS BIGINT) FROM finding_actor_counts
     GROUP BY actor_arn HAVING SUM(n) > 0 ORDER BY SUM(n) DESC, actor_arn LIMIT $1";
const DELIVERIES: &str = "SELECT account, region, last_arrival_at, newest_event_at
     FROM delivery_health ORDER BY account, region";

/// The overview since `since` (RFC 3339) for the per-day counts; `top` rows in each top list.
pub fn overview(
    store: &mut dyn FindingStore,
    since: &str,
    top: u64,
) -> Result<Overview, StoreError> {
    let mut out = Overview::default();
    store
        .transact(&mut |tx| {
            out = Overview::default();
            tx.query(PER_DAY, &[Param::Text(since.to_owned())], &mut |row| {
                out.per_day
                    .push((row.text(0)?, row.text(1)?, row.int(2)?.max(0) as u64));
                Ok(())
            })?;
            tx.query(TOP_RULES, &[Param::Int(clamp(top))], &mut |row| {
                out.top_rules
                    .push((row.text(0)?, row.text(1)?, row.int(2)?.max(0) as u64));
                Ok(())
            })?;
            tx.query(TOP_PRINCIPALS, &[Param::Int(clamp(top))], &mut |row| {
                out.top_principals
                    .push((row.text(0)?, row.int(1)?.max(0) as u64));
                Ok(())
            })?;
            tx.query(DELIVERIES, &[], &mut |row| {
                out.deliveries.push(Delivery {
                    account: row.text(0)?,
                    region: row.text(1)?,
                    last_arrival_at: row.text(2)?,
                    newest_event_at: row.opt_text(3)?,
                });
                Ok(())
            })
        })
        .map_err(damaged("findings"))?;
    Ok(out)
}

/// The overview's stored counts, as (day, severity, rule, status, n) and (principal, status, n)
/// rows with n > 0, sorted: what [`direct_counts`] must equal.
#[cfg(test)]
pub type Counts = (
    Vec<(String, String, String, String, i64)>,
    Vec<(String, String, i64)>,
);

#[cfg(test)]
fn read_counts(store: &mut dyn FindingStore, days: &str, actors: &str) -> Counts {
    let mut out: Counts = Default::default();
    store
        .transact(&mut |tx| {
            out = Default::default();
            tx.query(days, &[], &mut |row| {
                out.0.push((
                    row.text(0)?,
                    row.text(1)?,
                    row.text(2)?,
                    row.text(3)?,
                    row.int(4)?,
                ));
                Ok(())
            })?;
            tx.query(actors, &[], &mut |row| {
                out.1.push((row.text(0)?, row.text(1)?, row.int(2)?));
                Ok(())
            })
        })
        .unwrap();
    out
}

/// The counts as the triggers keep them.
#[cfg(test)]
pub fn stored_counts(store: &mut dyn FindingStore) -> Counts {
    read_counts(
        store,
        "SELECT day, severity, rule_id, status, n FROM finding_day_counts WHERE n <> 0
         ORDER BY 1, 2, 3, 4",
        "SELECT actor_arn, status, n FROM finding_actor_counts WHERE n <> 0 ORDER BY 1, 2",
    )
}

/// The counts counted afresh from the findings.
#[cfg(test)]
pub fn direct_counts(store: &mut dyn FindingStore) -> Counts {
    read_counts(
        store,
        &format!(
            "SELECT COALESCE(SUBSTR(f.event_time, 1, 10), ''), f.severity, f.rule_id, {STATUS_SQL},
                COUNT(*){FROM_FINDINGS} GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"
        ),
        &format!(
            "SELECT f.actor_arn, {STATUS_SQL}, COUNT(*){FROM_FINDINGS}
             WHERE f.actor_arn IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2"
        ),
    )
}

// ---- audits ----

/// One section's score in a stored audit (the fields of the audit's `SectionScore` the dashboard
/// shows; others in the stored JSON are ignored).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditSection {
    pub title: String,
    pub score: Option<u32>,
    #[serde(default)]
    pub checks_passed: u64,
    #[serde(default)]
    pub checks_failed: u64,
    #[serde(default)]
    pub checks_not_evaluated: u64,
    #[serde(default)]
    pub findings: u64,
}

/// An audit `audit --store` kept.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoredAudit {
    pub id: i64,
    pub stored_at: String,
    /// The audit's "now".
    pub audited_at: String,
    pub account: Option<String>,
    pub source: String,
    pub overall_score: Option<i64>,
    pub sections: Vec<AuditSection>,
}

const SAVE_AUDIT: &str =
    "INSERT INTO audits (stored_at, audited_at, account, source, overall_score, summary)
     VALUES ($1, $2, $3, $4, $5, $6)";
const LATEST_AUDITS: &str =
    "SELECT id, stored_at, audited_at, account, source, overall_score, summary
     FROM audits ORDER BY id DESC LIMIT $1";

/// Keeps an audit: `summary` is its JSON summary (the `audit_summary` object of `audit --format
/// json`), whose `account`, `now`, `source`, `overall_score` and `sections` are read back.
pub fn save_audit(
    store: &mut dyn FindingStore,
    stored_at: &str,
    summary: &serde_json::Value,
) -> Result<(), StoreError> {
    let text = |key: &str| summary.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    let params = [
        Param::Text(stored_at.to_owned()),
        Param::Text(text("now").unwrap_or_else(|| stored_at.to_owned())),
        Param::from(text("account")),
        Param::Text(text("source").unwrap_or_default()),
        match summary.get("overall_score").and_then(|v| v.as_i64()) {
            Some(score) => Param::Int(score),
            None => Param::NullInt,
        },
        Param::Text(summary.to_string()),
    ];
    store.transact(&mut |tx| tx.exec(SAVE_AUDIT, &params).map(drop))
}

/// The newest stored audits, newest first.
pub fn audits(store: &mut dyn FindingStore, limit: u64) -> Result<Vec<StoredAudit>, StoreError> {
    let mut out = Vec::new();
    store
        .transact(&mut |tx| {
            out.clear();
            tx.query(LATEST_AUDITS, &[Param::Int(clamp(limit))], &mut |row| {
                let summary: serde_json::Value = serde_json::from_str(&row.text(6)?)
                    .map_err(|e| format!("the stored audit summary is not JSON: {e}"))?;
                let sections = serde_json::from_value::<Vec<AuditSection>>(
                    summary.get("sections").cloned().unwrap_or_default(),
                )
                .map_err(|e| format!("the stored audit's sections cannot be read: {e}"))?;
                out.push(StoredAudit {
                    id: row.int(0)?,
                    stored_at: row.text(1)?,
                    audited_at: row.text(2)?,
                    account: row.opt_text(3)?,
                    source: row.text(4)?,
                    overall_score: row.opt_int(5)?,
                    sections,
                });
                Ok(())
            })
        })
        .map_err(damaged("audits"))?;
    Ok(out)
}

// ---- users and actions ----

/// What a web user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Admin,
}

impl Role {
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "viewer" => Some(Role::Viewer),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Admin => "admin",
        }
    }
}

const UPSERT_USER: &str = "INSERT INTO web_users (name, role, password_hash, created_at)
     VALUES ($1, $2, $3, $4)
     ON CONFLICT (name) DO UPDATE SET role = excluded.role, password_hash = excluded.password_hash";
const SELECT_USER: &str = "SELECT role, password_hash FROM web_users WHERE name = $1";

/// Adds a user, or replaces the role and password of the user of that name.
pub fn put_user(
    store: &mut dyn FindingStore,
    name: &str,
    role: Role,
    password_hash: &str,
    now: &str,
) -> Result<(), StoreError> {
    let params = [
        Param::Text(name.to_owned()),
        Param::Text(role.as_str().to_owned()),
        Param::Text(password_hash.to_owned()),
        Param::Text(now.to_owned()),
    ];
    store.transact(&mut |tx| tx.exec(UPSERT_USER, &params).map(drop))
}

/// A user's role and password hash.
pub fn user(
    store: &mut dyn FindingStore,
    name: &str,
) -> Result<Option<(Role, String)>, StoreError> {
    let mut out = None;
    store
        .transact(&mut |tx| {
            tx.query(SELECT_USER, &[Param::Text(name.to_owned())], &mut |row| {
                let role = row.text(0)?;
                let role = Role::parse(&role).ok_or(format!("unknown role `{role}`"))?;
                out = Some((role, row.text(1)?));
                Ok(())
            })
        })
        .map_err(damaged("web_users"))?;
    Ok(out)
}

// ---- sessions ----

/// A stored session, read with its user's current role (a user removed or demoted since the login
/// is so at once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSession {
    pub user: String,
    pub role: Role,
    pub csrf: String,
    pub expires_at: String,
}

const FORGET_EXPIRED_SESSIONS: &str = "DELETE FROM web_sessions WHERE expires_at <= $1";
const SAVE_SESSION: &str =
    "INSERT INTO web_sessions (token_hash, user_name, csrf, created_at, expires_at)
     VALUES ($1, $2, $3, $4, $5)";
const SELECT_SESSION: &str = "SELECT s.user_name, u.role, s.csrf, s.expires_at
     FROM web_sessions s JOIN web_users u ON u.name = s.user_name
     WHERE s.token_hash = $1 AND s.expires_at > $2";
const DELETE_SESSION: &str = "DELETE FROM web_sessions WHERE token_hash = $1";

/// Stores a new session (by its token's hash: the token itself is only in the browser's cookie) and
/// forgets the expired ones, in one transaction. Times are RFC 3339.
pub fn create_session(
    store: &mut dyn FindingStore,
    token_hash: &str,
    user: &str,
    csrf: &str,
    now: &str,
    expires_at: &str,
) -> Result<(), StoreError> {
    let text = |s: &str| Param::Text(s.to_owned());
    store.transact(&mut |tx| {
        tx.exec(FORGET_EXPIRED_SESSIONS, &[text(now)])?;
        tx.exec(
            SAVE_SESSION,
            &[
                text(token_hash),
                text(user),
                text(csrf),
                text(now),
                text(expires_at),
            ],
        )
        .map(drop)
    })
}

/// The unexpired session of this token hash.
pub fn session(
    store: &mut dyn FindingStore,
    token_hash: &str,
    now: &str,
) -> Result<Option<StoredSession>, StoreError> {
    let mut out = None;
    let params = [
        Param::Text(token_hash.to_owned()),
        Param::Text(now.to_owned()),
    ];
    store
        .transact(&mut |tx| {
            out = None;
            tx.query(SELECT_SESSION, &params, &mut |row| {
                let role = row.text(1)?;
                out = Some(StoredSession {
                    user: row.text(0)?,
                    role: Role::parse(&role).ok_or(format!("unknown role `{role}`"))?,
                    csrf: row.text(2)?,
                    expires_at: row.text(3)?,
                });
                Ok(())
            })
        })
        .map_err(damaged("web_sessions"))?;
    Ok(out)
}

/// Ends a session (logout).
pub fn delete_session(store: &mut dyn FindingStore, token_hash: &str) -> Result<(), StoreError> {
    let params = [Param::Text(token_hash.to_owned())];
    store.transact(&mut |tx| tx.exec(DELETE_SESSION, &params).map(drop))
}

const LOG_ACTION: &str =
    "INSERT INTO web_actions (at, actor, action, finding_id, detail) VALUES ($1, $2, $3, $4, $5)";
const RESOLVE: &str = "INSERT INTO finding_resolutions (finding_id, resolved_by, resolved_at, note)
     VALUES ($1, $2, $3, $4)
     ON CONFLICT (finding_id) DO UPDATE SET resolved_by = excluded.resolved_by,
        resolved_at = excluded.resolved_at, note = excluded.note";
const LINK_MUTE: &str = "INSERT INTO finding_mutes (finding_id, mute_id, muted_at) VALUES ($1, $2, $3)
     ON CONFLICT (finding_id) DO UPDATE SET mute_id = excluded.mute_id, muted_at = excluded.muted_at";

/// One logged web action.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Action {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub finding_id: String,
    pub detail: String,
}

/// Marks a finding resolved and logs who did it, in one transaction.
pub fn resolve(
    store: &mut dyn FindingStore,
    finding_id: &str,
    who: &str,
    now: &str,
    note: &str,
) -> Result<(), StoreError> {
    let text = |s: &str| Param::Text(s.to_owned());
    store.transact(&mut |tx| {
        tx.exec(
            RESOLVE,
            &[text(finding_id), text(who), text(now), text(note)],
        )?;
        tx.exec(
            LOG_ACTION,
            &[
                text(now),
                text(who),
                text("resolve"),
                text(finding_id),
                text(note),
            ],
        )
        .map(drop)
    })
}

/// Records that a (stored) mute silences a finding and logs who did it, in one transaction.
pub fn link_mute(
    store: &mut dyn FindingStore,
    finding_id: &str,
    mute_id: &str,
    who: &str,
    now: &str,
    detail: &str,
) -> Result<(), StoreError> {
    let text = |s: &str| Param::Text(s.to_owned());
    store.transact(&mut |tx| {
        tx.exec(LINK_MUTE, &[text(finding_id), text(mute_id), text(now)])?;
        tx.exec(
            LOG_ACTION,
            &[
                text(now),
                text(who),
                text("mute"),
                text(finding_id),
                text(detail),
            ],
        )
        .map(drop)
    })
}

/// The newest logged actions, newest first.
pub fn actions(store: &mut dyn FindingStore, limit: u64) -> Result<Vec<Action>, StoreError> {
    let mut out = Vec::new();
    store
        .transact(&mut |tx| {
            out.clear();
            tx.query(
                "SELECT at, actor, action, finding_id, detail FROM web_actions ORDER BY id DESC LIMIT $1",
                &[Param::Int(clamp(limit))],
                &mut |row| {
                    out.push(Action {
                        at: row.text(0)?,
                        actor: row.text(1)?,
                        action: row.text(2)?,
                        finding_id: row.text(3)?,
                        detail: row.text(4)?,
                    });
                    Ok(())
                },
            )
        })
        .map_err(damaged("web_actions"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SQLite binds `$N` by order of first appearance, so `$N` must first appear N-th, and every
    /// value must be bound, none written into the SQL.
    #[test]
    fn every_filter_value_is_a_parameter_numbered_in_order() {
        let hostile = "x' OR '1'='1";
        let filter = FindingFilter {
            severity: Some(Severity::High),
            rule: Some(hostile.into()),
            account: Some(hostile.into()),
            region: Some(hostile.into()),
            principal: Some(hostile.into()),
            event_name: Some(hostile.into()),
            from: Some(hostile.into()),
            to: Some(hostile.into()),
            status: Some(Status::Open),
        };
        for built in [
            filter.page(Sort::Newest, &PageAt::First, 50),
            filter.page(
                Sort::Rule,
                &PageAt::Before(Cursor {
                    sort: "rule".into(),
                    rank: 4,
                    rule: hostile.into(),
                    time: hostile.into(),
                    id: hostile.into(),
                }),
                50,
            ),
            filter.count(),
            filter.bodies(Sort::Rule, 10),
        ] {
            assert!(!built.sql.contains(hostile), "{}", built.sql);
            let mut last = 0;
            for part in built.sql.split('$').skip(1) {
                let n: usize = part
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
                    .parse()
                    .unwrap();
                assert!(n <= last + 1, "{}", built.sql);
                last = last.max(n);
            }
            assert_eq!(last, built.params.len(), "{}", built.sql);
        }
    }
}
