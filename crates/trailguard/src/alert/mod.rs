//! Alerts: telling people about findings, once.
//!
//! ```text
//! finding ─► Dispatcher::offer ─► per destination whose route takes it (min severity, rules, accounts)
//!        ─► store::alerting::enqueue_alert (one transaction: fold window + outbox row)
//!           first of its key (rule + principal) in the window → an `alert` row; a repeat → a count
//! Dispatcher::deliver ─► close_windows (one `digest` row per closed window that counted repeats)
//!        ─► claim due rows under a lease ─► send (Slack, webhook, SNS, file) ─► mark sent | failed (backoff)
//! ```
//! Delivery state lives in the store, never in the process: a destination that is down is retried
//! with exponential backoff across runs and restarts, workers on one PostgreSQL store never take the
//! same row (`FOR UPDATE SKIP LOCKED`), and a message that keeps failing is given up after
//! [`crate::store::alerting::MAX_ATTEMPTS`], counted and reported. A sender that dies after the
//! receiver accepted but before `mark_sent` resends after the lease: receivers dedupe on the
//! `X-Trailguard-Delivery` id (the webhook is signed, see [`sign`]).
//!
//! Destinations come from `trailguard.toml` (`--config`, `$TRAILGUARD_CONFIG`, or `./trailguard.toml`)
//! and from `--alert KIND=TARGET` ([`config`]). Every string in a finding is attacker-controlled:
//! Slack text is escaped ([`render`]), and URLs and secrets are never printed (a destination is
//! named by its kind and a hash of its target).

pub mod config;
pub mod render;
pub mod send;
pub mod sign;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use trailguard_rules::Finding;

use crate::store::alerting::{self, AlertIntent, Enqueued, OutboxMessage};
use crate::store::{FindingStore, StoreError};
pub use config::{AlertSettings, Destination};

/// Messages claimed per round of [`Dispatcher::deliver`].
const CLAIM_BATCH: u64 = 64;

/// What one [`Dispatcher::deliver`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub sent: u64,
    /// Failed attempts that will be retried.
    pub retrying: u64,
    /// Messages given up in this round, with why (destination, delivery id, error).
    pub given_up: Vec<String>,
    /// Held back by a destination's rate limit, for a later round.
    pub deferred: u64,
    /// Attempts by destination and outcome (`sent`, `failed`, `given_up`), for `/metrics`.
    pub outcomes: std::collections::BTreeMap<(String, &'static str), u64>,
    /// The last error of each destination that failed in this round (one line each, no URL).
    pub last_errors: std::collections::BTreeMap<String, String>,
}

/// What [`Dispatcher::offer`] did with the findings of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OfferCounts {
    pub alerts: u64,
    pub folded: u64,
}

/// Routes findings into the outbox and sends what is due.
pub struct Dispatcher {
    settings: AlertSettings,
    sender: send::Sender,
    /// Sends per destination in the current minute, for the rate limit.
    sent_this_minute: HashMap<String, (Instant, u32)>,
}

impl Dispatcher {
    /// A dispatcher whose SNS destinations use the default AWS settings.
    #[cfg(test)]
    pub fn new(settings: AlertSettings) -> anyhow::Result<Dispatcher> {
        Dispatcher::with_aws(settings, crate::aws::AwsTarget::default())
    }

    /// A dispatcher whose SNS destinations are reached with `aws` (the command's AWS flags).
    pub fn with_aws(
        settings: AlertSettings,
        aws: crate::aws::AwsTarget,
    ) -> anyhow::Result<Dispatcher> {
        Ok(Dispatcher {
            settings,
            sender: send::Sender::new(aws)?,
            sent_this_minute: HashMap::new(),
        })
    }

    /// Enqueues a finding at every destination whose route takes it (or folds it into the open window).
    pub fn offer(
        &self,
        store: &mut dyn FindingStore,
        finding: &Finding,
        now: DateTime<Utc>,
        counts: &mut OfferCounts,
    ) -> Result<(), StoreError> {
        offer(&self.settings, store, finding, now, true, counts)
    }

    /// Closes fold windows that ended, then sends due messages until none is left (or all that are
    /// left wait for a retry or a rate limit).
    pub fn deliver(
        &mut self,
        store: &mut dyn FindingStore,
        now: DateTime<Utc>,
    ) -> Result<DeliveryReport, StoreError> {
        alerting::close_windows(store, now)?;
        let mut report = DeliveryReport::default();
        loop {
            let claimed = alerting::claim(store, now, CLAIM_BATCH)?;
            if claimed.is_empty() {
                break;
            }
            for message in &claimed {
                self.deliver_one(store, message, now, &mut report)?;
            }
        }
        Ok(report)
    }

    fn deliver_one(
        &mut self,
        store: &mut dyn FindingStore,
        message: &OutboxMessage,
        now: DateTime<Utc>,
        report: &mut DeliveryReport,
    ) -> Result<(), StoreError> {
        let Some(destination) = self
            .settings
            .destinations
            .iter()
            .find(|d| d.name == message.destination)
        else {
            // A destination no longer configured in this process: leave its rows to one that has it.
            return alerting::release(store, message, now);
        };
        if let Some(limit) = destination.rate_per_minute {
            let (since, count) = self
                .sent_this_minute
                .entry(destination.name.clone())
                .or_insert((Instant::now(), 0));
            if since.elapsed() >= Duration::from_secs(60) {
                *since = Instant::now();
                *count = 0;
            }
            if *count >= limit {
                report.deferred += 1;
                return alerting::release(store, message, now);
            }
            *count += 1;
        }
        match self.sender.send(destination, message) {
            Ok(()) => {
                alerting::mark_sent(store, message.id, now)?;
                report.sent += 1;
                *report
                    .outcomes
                    .entry((destination.name.clone(), "sent"))
                    .or_default() += 1;
            }
            Err(error) => {
                let error = format!("{error:#}");
                let given_up =
                    alerting::mark_failed(store, message, &error, self.settings.retry_base, now)?;
                let outcome = if given_up { "given_up" } else { "failed" };
                *report
                    .outcomes
                    .entry((destination.name.clone(), outcome))
                    .or_default() += 1;
                report
                    .last_errors
                    .insert(destination.name.clone(), error.clone());
                if given_up {
                    report.given_up.push(format!(
                        "{} delivery {} given up after {} attempts: {error}",
                        destination.name, message.dedup_key, message.attempt
                    ));
                } else {
                    report.retrying += 1;
                }
            }
        }
        Ok(())
    }
}

/// [`Dispatcher::offer`] for callers that only enqueue (`serve`'s workers share one set of settings
/// and deliver from a dispatcher each). `recount`: see [`AlertIntent::recount`].
pub fn offer(
    settings: &AlertSettings,
    store: &mut dyn FindingStore,
    finding: &Finding,
    now: DateTime<Utc>,
    recount: bool,
    counts: &mut OfferCounts,
) -> Result<(), StoreError> {
    let routed: Vec<&Destination> = settings
        .destinations
        .iter()
        .filter(|d| d.takes(finding))
        .collect();
    if routed.is_empty() {
        return Ok(());
    }
    let payload = serde_json::to_string(finding).map_err(|source| StoreError::Encode {
        id: finding.id.clone(),
        source,
    })?;
    let fold_key = fold_key(finding);
    for destination in routed {
        let intent = AlertIntent {
            destination: &destination.name,
            finding_id: &finding.id,
            fold_key: &fold_key,
            payload: &payload,
            fold_window: settings.fold_window,
            now,
            recount,
        };
        match alerting::enqueue_alert(store, &intent)? {
            Enqueued::Alert => counts.alerts += 1,
            Enqueued::Folded | Enqueued::AlreadyAlerted => counts.folded += 1,
        }
    }
    Ok(())
}

/// Findings with the same rule and principal fold into one alert per window. A mute's expiry (CT055)
/// has no principal and is about one expiry of its mute: expiries of different mutes, or a renewed
/// mute's next expiry, never fold into one another (each is a decision to make).
pub fn fold_key(finding: &Finding) -> String {
    if finding.rule_id == trailguard_rules::rules::cloudtrail::mute_expired::META.code {
        let mute = finding.resource.as_ref().map_or("-", |r| r.id.as_str());
        let expiry = finding.event_time.as_deref().unwrap_or("-");
        return format!("{}|{mute}@{expiry}", finding.rule_id);
    }
    let principal = finding
        .actor
        .as_ref()
        .and_then(|a| a.arn.as_deref())
        .unwrap_or("-");
    format!("{}|{principal}", finding.rule_id)
}

impl Destination {
    /// Whether the destination's route takes the finding.
    pub fn takes(&self, finding: &Finding) -> bool {
        let route = &self.route;
        route.min_severity.is_none_or(|min| finding.severity >= min)
            && (route.rules.is_empty()
                || route.rules.iter().any(|r| {
                    r.eq_ignore_ascii_case(&finding.rule_id)
                        || r.eq_ignore_ascii_case(&finding.rule_name)
                }))
            && (route.accounts.is_empty()
                || finding
                    .account
                    .as_deref()
                    .is_some_and(|a| route.accounts.iter().any(|r| r == a)))
    }
}
