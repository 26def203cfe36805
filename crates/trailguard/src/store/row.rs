//! What a row means, for every backend: the columns stored for a finding, how a stored finding and a
//! stored run are read back (a damaged finding row is a reason, never a failed query), and the process
//! identity that tells a killed run from a running one.

use trailguard_rules::{Finding, Outcome};

use super::{RunId, RunStatus, StoreError, StoredFinding, StoredRun};

/// Reads one column of a result row, whatever the backend; an error is a readable reason.
pub trait RowRead {
    fn int(&self, index: usize) -> Result<i64, String>;
    fn opt_int(&self, index: usize) -> Result<Option<i64>, String>;
    fn text(&self, index: usize) -> Result<String, String>;
    fn opt_text(&self, index: usize) -> Result<Option<String>, String>;
}

/// The indexed columns stored beside a finding's JSON body (the parameters of
/// [`super::schema::INSERT_FINDING`] before the run and time).
pub struct FindingColumns<'a> {
    pub id: &'a str,
    pub rule_id: &'a str,
    pub rule_name: &'a str,
    pub title: &'a str,
    pub severity: &'static str,
    pub severity_rank: i64,
    pub source: String,
    pub outcome: String,
    pub event_time: Option<&'a str>,
    pub event_name: Option<&'a str>,
    pub event_id: Option<&'a str>,
    pub account: Option<&'a str>,
    pub region: Option<&'a str>,
    pub actor_arn: Option<&'a str>,
    pub resource_id: Option<&'a str>,
    pub body: String,
}

impl<'a> FindingColumns<'a> {
    pub fn of(finding: &'a Finding) -> Result<FindingColumns<'a>, StoreError> {
        let body = serde_json::to_string(finding).map_err(|source| StoreError::Encode {
            id: finding.id.clone(),
            source,
        })?;
        Ok(FindingColumns {
            id: &finding.id,
            rule_id: &finding.rule_id,
            rule_name: &finding.rule_name,
            title: &finding.title,
            severity: finding.severity.as_str(),
            severity_rank: finding.severity as i64,
            source: serde_json::to_value(finding.source)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            outcome: match &finding.outcome {
                Outcome::Success => "success".to_owned(),
                Outcome::Attempt { error_code } => format!("attempt:{error_code}"),
            },
            event_time: finding.event_time.as_deref(),
            event_name: finding.event_name.as_deref(),
            event_id: finding.event_id.as_deref(),
            account: finding.account.as_deref(),
            region: finding.region.as_deref(),
            actor_arn: finding.actor.as_ref().and_then(|a| a.arn.as_deref()),
            resource_id: finding.resource.as_ref().map(|r| r.id.as_str()),
            body,
        })
    }
}

/// One row of [`super::schema::findings_query`], or why it cannot be read (a bad column, a body that is
/// not a finding).
pub fn stored_finding(row: &impl RowRead) -> Result<StoredFinding, String> {
    let body = row.text(2)?;
    let finding: Finding = serde_json::from_str(&body)
        .map_err(|e| format!("the stored finding is not valid JSON for a finding: {e}"))?;
    Ok(StoredFinding {
        finding,
        first_seen_at: row.text(3)?,
        last_seen_at: row.text(4)?,
        first_seen_run: row.int(5)?,
        last_seen_run: row.int(6)?,
        times_seen: row.int(7)?.max(0) as u64,
    })
}

/// One row of [`super::schema::LATEST_RUNS`].
pub fn stored_run(row: &impl RowRead) -> Result<StoredRun, StoreError> {
    let damaged = |reason: String| StoreError::DamagedRun(reason);
    let finished_at = row.opt_text(3).map_err(damaged)?;
    let recorded = row.opt_text(7).map_err(damaged)?;
    let status = match (&finished_at, recorded.as_deref()) {
        (Some(_), _) => RunStatus::Finished,
        (None, Some("interrupted")) => RunStatus::Interrupted,
        (None, _) => {
            let start = row.opt_text(9).map_err(damaged)?;
            let host = row.opt_text(10).map_err(damaged)?;
            match writer_alive(
                row.opt_int(8).map_err(damaged)?,
                start.as_deref(),
                host.as_deref(),
            ) {
                Some(true) => RunStatus::Running,
                Some(false) => RunStatus::Interrupted,
                None => RunStatus::Unknown,
            }
        }
    };
    Ok(StoredRun {
        id: row.int(0).map_err(damaged)?,
        command: row.text(1).map_err(damaged)?,
        started_at: row.text(2).map_err(damaged)?,
        finished_at,
        // Written by us as JSON; a hand-edited row degrades to empty rather than failing the listing.
        inputs: row
            .text(4)
            .ok()
            .and_then(|i| serde_json::from_str(&i).ok())
            .unwrap_or_default(),
        summary: row
            .opt_text(5)
            .ok()
            .flatten()
            .and_then(|s| serde_json::from_str(&s).ok()),
        findings: row.int(6).map_err(damaged)?.max(0) as u64,
        status,
    })
}

/// Of the rows of [`super::schema::UNMARKED_UNFINISHED_RUNS`], the runs whose process is gone.
pub fn gone_run(row: &impl RowRead) -> Result<Option<RunId>, StoreError> {
    let damaged = |reason: String| StoreError::DamagedRun(reason);
    let start = row.opt_text(2).map_err(damaged)?;
    let host = row.opt_text(3).map_err(damaged)?;
    let alive = writer_alive(
        row.opt_int(1).map_err(damaged)?,
        start.as_deref(),
        host.as_deref(),
    );
    (alive == Some(false))
        .then(|| row.int(0).map_err(damaged))
        .transpose()
}

/// This process, as a run records it: pid, start time (so a reused pid is not taken for it) and host.
pub struct ProcessId {
    pub pid: i64,
    pub start: Option<String>,
    pub host: Option<String>,
}

impl ProcessId {
    pub fn current() -> ProcessId {
        let pid = i64::from(std::process::id());
        ProcessId {
            pid,
            start: process_start(pid),
            host: host_name(),
        }
    }
}

/// The process's start time in clock ticks after boot (field 22 of `/proc/PID/stat`), Linux only.
pub fn process_start(pid: i64) -> Option<String> {
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
