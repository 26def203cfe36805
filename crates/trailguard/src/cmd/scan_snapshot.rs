//! `scan --snapshot DIR` (and `serve --snapshot DIR`): the rules that need the account as it was when
//! the snapshot was taken. [`with_snapshot`] loads the snapshot (the same files as `audit --offline`)
//! and puts into the engine CT054 (escalation-path-opened: the privilege-escalation graph, to which
//! the scan's IAM changes are applied in event-time order) and CT039 knowing the snapshot's trail
//! buckets. Without `--snapshot` the engine is the built-in one, untouched.
//!
//! The snapshot's time is the newest of the credential report's time and the newest `CreateDate` or
//! `UpdateDate` in the authorization details: both are no later than the collection, so an event
//! between them and the collection may be applied although the snapshot holds it, which changes
//! nothing (every graph change is idempotent).

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use trailguard_account::graph::Graph;
use trailguard_account::snapshot::{AccountSnapshot, RawSnapshot};
use trailguard_rules::engine::Engine;
use trailguard_rules::rules::cloudtrail::escalation_path_opened::{
    EscalationPathOpened, WatchTally,
};
use trailguard_rules::rules::cloudtrail::trail_bucket_tampered::TrailBucketTampered;

/// What the snapshot rules did, for the run's notes.
pub struct SnapshotWatch {
    tally: Arc<Mutex<WatchTally>>,
    described: String,
}

impl SnapshotWatch {
    /// One note of what was applied and what was left out, and why.
    pub fn notes(&self) -> Vec<String> {
        let Ok(t) = self.tally.lock() else {
            return Vec::new();
        };
        let mut notes = vec![format!(
            "snapshot {}: {} IAM changes applied to the escalation graph, {} older than the snapshot left out, {} of other accounts, {} skipped",
            self.described, t.applied, t.before_snapshot, t.other_account, t.skipped
        )];
        notes.extend(t.reasons.iter().map(|r| format!("snapshot: skipped {r}")));
        notes
    }
}

/// The engine with the snapshot's rules; see the module doc.
pub fn with_snapshot(
    engine: Engine,
    dir: &Path,
    quiet: bool,
) -> anyhow::Result<(Engine, SnapshotWatch)> {
    let raw =
        RawSnapshot::read_path(dir).with_context(|| format!("--snapshot `{}`", dir.display()))?;
    if let Some(problem) = raw.shape_problems().first() {
        anyhow::bail!("--snapshot `{}`: {problem}", dir.display());
    }
    let snapshot = AccountSnapshot::from_raw(&raw);
    if !quiet {
        super::audit::report_problems(&snapshot.problems);
    }
    let details = snapshot.authorization.as_ref().with_context(|| {
        format!(
            "--snapshot `{}` holds no get-account-authorization-details.json",
            dir.display()
        )
    })?;
    let graph = Graph::build(details, Vec::new());
    let taken = snapshot.reference_time().max(graph.newest_date());
    let described = format!(
        "`{}` (taken {})",
        dir.display(),
        taken.map_or_else(
            || "at an unknown time".to_owned(),
            |t| format!("at {}", t.to_rfc3339())
        )
    );
    let watch = EscalationPathOpened::new(
        graph,
        taken.map(|t| t.timestamp_millis()),
        snapshot.account_id.clone(),
    );
    let tally = watch.tally();
    let buckets: Vec<(String, String)> = snapshot
        .trails
        .iter()
        .flatten()
        .filter_map(|t| Some((t.s3_bucket_name.clone()?, t.name.clone())))
        .collect();
    let engine = engine
        .with_sequence(Box::new(watch))
        .with_sequence(Box::new(TrailBucketTampered::knowing(buckets)));
    Ok((engine, SnapshotWatch { tally, described }))
}
