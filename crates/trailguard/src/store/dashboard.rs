//! The store's side of `trailguard web` (schema version 7), written once for both backends over
//! [`super::Tx`].
//!
//! - **Findings pages**: [`FindingFilter`] is the one query builder for the list, its count and its
//!   exports: every value is a bound `$N` parameter (numbered in order of first use, as SQLite binds
//!   them), never text in the SQL; sort keys come from a closed enum. A finding's status is derived:
//!   `muted` when `finding_mutes` names it, else `resolved` when `finding_resolutions` does, else `open`.
//!   Paging is by offset over the indexes of migration 7 (a page of 50 at any depth the UI offers reads
//!   the index, not the table).
//! - **Overview**: counts by severity per day, top rules and principals, delivery health.
//! - **Users** (`web_users`): argon2id hashes only; **actions** (`web_actions`): every mute and resolve
//!   done through the web, with who and when, written in the transaction that does it.

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

    fn order_by(self) -> &'static str {
        // NULL event times last in both engines; the id makes every order total (stable pages).
        match self {
            Sort::Severity => "f.severity_rank DESC, f.event_time DESC NULLS LAST, f.id",
            Sort::Newest => "f.event_time DESC NULLS LAST, f.id",
            Sort::Oldest => "f.event_time ASC NULLS LAST, f.id",
            Sort::Rule => "f.rule_id, f.event_time DESC NULLS LAST, f.id",
        }
    }
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

    /// One page of summary rows ([`ListRow`]); `limit + 1` rows are asked for so the caller knows
    /// whether a next page exists.
    pub fn page(&self, sort: Sort, offset: u64, limit: u64) -> Built {
        let mut params = Vec::new();
        let mut sql = format!(
            "SELECT f.id, f.rule_id, f.title, f.severity, f.event_time, f.event_name, f.account,
                f.region, f.actor_arn, f.resource_id, {STATUS_SQL}{FROM_FINDINGS}"
        );
        sql.push_str(&self.where_sql(&mut params));
        sql.push_str(&format!(" ORDER BY {}", sort.order_by()));
        params.push(Param::Int(clamp(limit) + 1));
        sql.push_str(&format!(" LIMIT ${}", params.len()));
        params.push(Param::Int(clamp(offset)));
        sql.push_str(&format!(" OFFSET ${}", params.len()));
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
        sql.push_str(&format!(" ORDER BY {}", sort.order_by()));
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

/// A page of the list: its rows, whether more follow, and the filter's total.
#[derive(Debug, Clone, Default)]
pub struct ListPage {
    pub rows: Vec<ListRow>,
    pub more: bool,
    pub total: u64,
}

pub fn list(
    store: &mut dyn FindingStore,
    filter: &FindingFilter,
    sort: Sort,
    offset: u64,
    limit: u64,
) -> Result<ListPage, StoreError> {
    let page = filter.page(sort, offset, limit);
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
    out.more = out.rows.len() as u64 > limit;
    out.rows.truncate(limit as usize);
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

const PER_DAY: &str = "SELECT SUBSTR(event_time, 1, 10) AS day, severity, COUNT(*) FROM findings
     WHERE event_time >= $1 GROUP BY SUBSTR(event_time, 1, 10), severity ORDER BY day, severity";
const TOP_RULES: &str = "SELECT rule_id, MIN(rule_name), COUNT(*) FROM findings
     GROUP BY rule_id ORDER BY COUNT(*) DESC, rule_id LIMIT $1";
const TOP_PRINCIPALS: &str = "SELECT actor_arn, COUNT(*) FROM findings WHERE actor_arn IS NOT NULL
     GROUP BY actor_arn ORDER BY COUNT(*) DESC, actor_arn LIMIT $1";
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
            filter.page(Sort::Newest, 50, 50),
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
