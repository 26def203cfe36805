//! Mutes and alerts in `serve`: the same [`crate::triage`] contract as `scan`, spread over workers.
//!
//! - **Mutes** are read from the store and read again every [`MUTES_REFRESH`], so a `trailguard mute
//!   add` reaches running workers without a restart. A muted finding is committed as usual and linked
//!   to its mute (`finding_mutes`); it is never offered to a destination.
//! - **Offering** happens before the object's commit, and is idempotent: the outbox is unique on
//!   (destination, finding id), so a worker that dies between the two, or two workers racing on one
//!   object, enqueue one alert between them, and a message redelivered after a failed commit offers
//!   again without a duplicate. Nothing is lost: the SQS message is deleted only after both.
//! - **Delivery**: each worker sends what is due from the shared outbox after its messages (claims
//!   are leased rows, `FOR UPDATE SKIP LOCKED`), so many workers never send a row twice. Outcomes
//!   are counted in `/metrics` by destination; a round with failures prints one line per destination.
//! - **Expired mutes**: one worker per process raises each expiry not yet reported as a CT055 finding
//!   (`rules::cloudtrail::mute_expired`, id = mute id + expiry): judged, offered and stored like an
//!   object's findings, so many workers and restarts store and alert it once; then the expiry is
//!   claimed in the store ([`alerting::claim_expiry_report`], first claimer wins across processes)
//!   and the claimer prints it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::Utc;
use trailguard_rules::output::visible;
use trailguard_rules::Finding;

use super::metrics::Metrics;
use crate::alert::{self, AlertSettings, Dispatcher, OfferCounts};
use crate::aws::AwsTarget;
use crate::mute::{Mute, MuteSet};
use crate::store::{alerting, FindingStore, RunId, StoreError};

/// How often workers read the mutes again.
pub const MUTES_REFRESH: Duration = Duration::from_secs(30);

/// Alert settings and mutes shared by every worker of a process.
pub struct ServeAlerts {
    pub settings: AlertSettings,
    pub aws: AwsTarget,
    /// The mutes, and when they were read (`None`: not yet).
    mutes: Mutex<(MuteSet, Option<Instant>)>,
    /// When expired mutes were last looked for.
    expiries_checked: Mutex<Option<Instant>>,
}

impl ServeAlerts {
    pub fn new(settings: AlertSettings, aws: AwsTarget) -> ServeAlerts {
        ServeAlerts {
            settings,
            aws,
            mutes: Mutex::new((MuteSet::default(), None)),
            expiries_checked: Mutex::new(None),
        }
    }

    /// A dispatcher for one worker (its own HTTP client and rate-limit counts), when there are
    /// destinations.
    pub fn dispatcher(&self) -> anyhow::Result<Option<Dispatcher>> {
        if self.settings.destinations.is_empty() {
            return Ok(None);
        }
        Dispatcher::with_aws(self.settings.clone(), self.aws.clone()).map(Some)
    }

    /// Reads the mutes again when they are older than [`MUTES_REFRESH`]; with `report_expired` (one
    /// worker per process), then raises the expiries no one has reported yet as CT055 findings of
    /// `run`. A store error is reported and the old mutes kept.
    pub fn refresh(
        &self,
        store: &mut dyn FindingStore,
        metrics: &Metrics,
        report_expired: bool,
        run: RunId,
    ) {
        self.reload(store, metrics);
        if report_expired {
            self.report_expiries(store, metrics, run);
        }
    }

    fn reload(&self, store: &mut dyn FindingStore, metrics: &Metrics) {
        let now = Utc::now();
        {
            let guard = self.mutes.lock().unwrap_or_else(|p| p.into_inner());
            if guard.1.is_some_and(|at| at.elapsed() < MUTES_REFRESH) {
                return;
            }
        }
        let mutes = match alerting::mutes(store) {
            Ok(mutes) => MuteSet::new(mutes, now),
            Err(err) => {
                metrics.error("store");
                eprintln!("error: cannot read mutes: {}", visible(&format!("{err:#}")));
                return;
            }
        };
        *self.mutes.lock().unwrap_or_else(|p| p.into_inner()) = (mutes, Some(Instant::now()));
    }

    fn report_expiries(&self, store: &mut dyn FindingStore, metrics: &Metrics, run: RunId) {
        {
            let mut checked = self
                .expiries_checked
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if checked.is_some_and(|at| at.elapsed() < MUTES_REFRESH) {
                return;
            }
            *checked = Some(Instant::now());
        }
        let expired = {
            let guard = self.mutes.lock().unwrap_or_else(|p| p.into_inner());
            guard.0.expired.clone()
        };
        if expired.is_empty() {
            return;
        }
        let result = alerting::reported_expiries(store).and_then(|reported| {
            for mute in &expired {
                let key = (mute.id.clone(), mute.expires_at.clone().unwrap_or_default());
                if !reported.contains(&key) {
                    self.report_expiry(store, mute, run, metrics)?;
                }
            }
            Ok(())
        });
        if let Err(err) = result {
            metrics.error("store");
            eprintln!(
                "error: cannot report expired mutes: {}",
                visible(&format!("{err:#}"))
            );
        }
    }

    /// One expired mute, once across every worker, process and restart: its CT055 finding judged and
    /// offered, then stored, as an object's findings are (the outbox and the findings table are keyed
    /// on its stable id, so a second worker raising it adds nothing); then the expiry is claimed, and
    /// the one claimer prints it. A crash before the claim raises it again later: the same finding
    /// and no second alert.
    fn report_expiry(
        &self,
        store: &mut dyn FindingStore,
        mute: &Mute,
        run: RunId,
        metrics: &Metrics,
    ) -> Result<(), StoreError> {
        let Some(finding) = mute.expiry_finding() else {
            return Ok(());
        };
        let now = Utc::now();
        let findings = std::slice::from_ref(&finding);
        let marks = self.judge(store, findings)?;
        let seen_at = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        store.save_findings(run, &seen_at, findings)?;
        self.mark(store, &marks, metrics, true);
        if !alerting::claim_expiry_report(store, mute, now)? {
            return Ok(());
        }
        // Counted by severity; its time is the mute's expiry, not a CloudTrail event's (no lag).
        metrics.finding(finding.severity, None);
        eprintln!(
            "{} {}: mute EXPIRED and no longer applied: {} (renew it with `trailguard mute add`, or `trailguard mute remove {}`)",
            finding.rule_id,
            finding.severity.as_str(),
            visible(&mute.describe()),
            mute.id
        );
        Ok(())
    }

    /// Judges an object's findings before their commit: the mute of each (for `finding_mutes`), and
    /// every unmuted one offered to the destinations.
    pub fn judge(
        &self,
        store: &mut dyn FindingStore,
        findings: &[Finding],
    ) -> Result<Vec<(String, Option<String>)>, StoreError> {
        let now = Utc::now();
        let marks: Vec<(String, Option<String>)> = {
            let guard = self.mutes.lock().unwrap_or_else(|p| p.into_inner());
            findings
                .iter()
                .map(|f| (f.id.clone(), guard.0.apply(f).map(|m| m.id.clone())))
                .collect()
        };
        let mut counts = OfferCounts::default();
        for (finding, (_, mute)) in findings.iter().zip(&marks) {
            if mute.is_none() {
                // A finding offered again here is a redelivery or a re-read, not a new sighting.
                alert::offer(&self.settings, store, finding, now, false, &mut counts)?;
            }
        }
        Ok(marks)
    }

    /// A sequence rule's findings, which the store's commit evaluates: every one this run linked is
    /// judged and offered again after each commit that evaluated the rule again (offering is
    /// idempotent, so one missed after a failed offer is offered by the next such commit). A failure
    /// is reported; the object stays committed.
    pub fn offer_stored(
        &self,
        store: &mut dyn FindingStore,
        rule: &str,
        run: crate::store::RunId,
        metrics: &Metrics,
    ) {
        let query = crate::store::FindingQuery {
            rule_id: Some(rule.to_owned()),
            run: Some(run),
            ..Default::default()
        };
        let result = store.findings(&query).and_then(|read| {
            let findings: Vec<Finding> = read.findings.into_iter().map(|s| s.finding).collect();
            let marks = self.judge(store, &findings)?;
            Ok(marks)
        });
        match result {
            Ok(marks) => self.mark(store, &marks, metrics, false),
            Err(err) => {
                metrics.error("store");
                eprintln!(
                    "error: cannot queue the alerts of {rule}: {}",
                    visible(&format!("{err:#}"))
                );
            }
        }
    }

    /// After the commit: records which of the object's findings are muted (only when one is, or
    /// when mutes exist: a finding seen again after its mute expired is no longer muted).
    pub fn mark(
        &self,
        store: &mut dyn FindingStore,
        marks: &[(String, Option<String>)],
        metrics: &Metrics,
        count_muted: bool,
    ) {
        let any_mutes = {
            let guard = self.mutes.lock().unwrap_or_else(|p| p.into_inner());
            !guard.0.active.is_empty() || !guard.0.expired.is_empty()
        };
        if !any_mutes {
            return;
        }
        if count_muted {
            let muted = marks.iter().filter(|(_, m)| m.is_some()).count() as u64;
            metrics
                .findings_muted
                .fetch_add(muted, std::sync::atomic::Ordering::Relaxed);
        }
        if let Err(err) = alerting::set_finding_mutes(store, marks, Utc::now()) {
            metrics.error("store");
            eprintln!(
                "error: cannot record muted findings: {}",
                visible(&format!("{err:#}"))
            );
        }
    }
}

/// Sends what is due with a worker's dispatcher, counting outcomes in `metrics` and reporting failures
/// as one line per destination.
pub fn deliver(dispatcher: &mut Dispatcher, store: &mut dyn FindingStore, metrics: &Metrics) {
    let report = match dispatcher.deliver(store, Utc::now()) {
        Ok(report) => report,
        Err(err) => {
            metrics.error("store");
            eprintln!(
                "error: cannot send alerts: {}",
                visible(&format!("{err:#}"))
            );
            return;
        }
    };
    for ((destination, outcome), count) in &report.outcomes {
        metrics.alert_delivery(destination, outcome, *count);
    }
    for (destination, error) in &report.last_errors {
        let failed = |outcome| {
            report
                .outcomes
                .get(&(destination.clone(), outcome))
                .copied()
                .unwrap_or(0)
        };
        eprintln!(
            "warning: alerts to {destination}: {} failed (retried with backoff), {} given up: {}",
            failed("failed"),
            failed("given_up"),
            visible(error)
        );
    }
    match alerting::outbox_counts(store) {
        Ok(counts) => metrics.alert_outbox(counts.pending, counts.given_up),
        Err(err) => {
            metrics.error("store");
            eprintln!(
                "error: cannot count the alert outbox: {}",
                visible(&format!("{err:#}"))
            );
        }
    }
}
