//! The one hook every command that produces findings calls (`scan`, `audit`, `policy check`, `serve`):
//! mutes first, then alerts.
//!
//! [`Triage::start`] opens the store (the command's `--store`, else the default store: mutes live
//! there, and so does the alert outbox), loads the mutes, says loudly which have expired, and builds
//! the [`Dispatcher`] from `--config`/`--alert`. [`Triage::judge`] takes each finding: a muted one is
//! counted and remembered with its mute's id (and shown only with `--show-muted`); any other is offered
//! to the alert destinations. [`Triage::finish`] records which stored findings are muted, sends what is
//! due, and puts the counts in the run's summary.

use std::path::PathBuf;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Args;
use trailguard_rules::output::RunSummary;
use trailguard_rules::{Finding, Severity};

use crate::alert::{self, Dispatcher, OfferCounts};
use crate::cmd::args::parse_severity;
use crate::mute::MuteSet;
use crate::store::{self, alerting, FindingStore};

/// The store mutes and the outbox use when a command is given no `--store`.
pub const DEFAULT_STORE: &str = ".trailguard/trailguard.db";

/// The flags of mutes and alerts, shared by `scan`, `audit`, `policy check` and `serve`.
#[derive(Debug, Clone, Default, Args)]
pub struct TriageArgs {
    /// Send alerts for new findings: slack=URL, webhook=URL, sns=TOPIC_ARN, file=PATH. Repeatable. A webhook is signed
    /// with $TRAILGUARD_WEBHOOK_SECRET when set.
    #[arg(
        long = "alert",
        value_name = "KIND=TARGET",
        help_heading = "Alerts and mutes"
    )]
    pub alert: Vec<String>,

    /// With --alert: only findings at or above this severity.
    #[arg(long = "alert-min-severity", value_name = "SEVERITY", value_parser = parse_severity, help_heading = "Alerts and mutes")]
    pub alert_min_severity: Option<Severity>,

    /// The config file with alert destinations (default: $TRAILGUARD_CONFIG, else ./trailguard.toml).
    #[arg(long, value_name = "FILE", help_heading = "Alerts and mutes")]
    pub config: Option<PathBuf>,

    /// Report muted findings too (they are always stored and counted).
    #[arg(long = "show-muted", help_heading = "Alerts and mutes")]
    pub show_muted: bool,
}

/// What to do with one finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Report,
    /// Muted by this mute: store and count it, report it only with `--show-muted`.
    Muted {
        mute: String,
        show: bool,
    },
}

impl Verdict {
    pub fn shown(&self) -> bool {
        matches!(self, Verdict::Report | Verdict::Muted { show: true, .. })
    }
}

pub struct Triage {
    store: Option<Box<dyn FindingStore>>,
    mutes: MuteSet,
    dispatcher: Option<Dispatcher>,
    show_muted: bool,
    /// Findings judged, with the mute that silenced each: written to the store at the end.
    marks: Vec<(String, Option<String>)>,
    muted: u64,
    offered: OfferCounts,
    error: Option<anyhow::Error>,
}

impl Triage {
    /// Loads mutes and destinations. `store_spec` is the command's `--store`; without it the default
    /// store is read for mutes when it exists, and created only when alerts need an outbox.
    /// `aws`: the command's AWS flags, for SNS destinations.
    pub fn start(
        args: &TriageArgs,
        store_spec: Option<&str>,
        aws: crate::aws::AwsTarget,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Triage> {
        let settings =
            alert::config::load(args.config.as_deref(), &args.alert, args.alert_min_severity)?;
        let wants_outbox = !settings.destinations.is_empty();
        let spec = store_spec.or_else(|| {
            (wants_outbox || std::path::Path::new(DEFAULT_STORE).exists()).then_some(DEFAULT_STORE)
        });
        let mut store = spec
            .map(|spec| {
                store::open(spec).with_context(|| {
                    format!("mutes and alerts: store `{}`", store::display_name(spec))
                })
            })
            .transpose()?;
        let mutes = match store.as_mut() {
            Some(store) => MuteSet::new(alerting::mutes(store.as_mut())?, now),
            None => MuteSet::default(),
        };
        mutes.warn_expired();
        let dispatcher = wants_outbox
            .then(|| Dispatcher::with_aws(settings, aws))
            .transpose()?;
        Ok(Triage {
            store,
            mutes,
            dispatcher,
            show_muted: args.show_muted,
            marks: Vec::new(),
            muted: 0,
            offered: OfferCounts::default(),
            error: None,
        })
    }

    /// Judges one finding: muted (counted, remembered) or reported (and offered to the destinations).
    pub fn judge(&mut self, finding: &Finding, now: DateTime<Utc>) -> Verdict {
        let mute = self.mutes.apply(finding).map(|m| m.id.clone());
        self.marks.push((finding.id.clone(), mute.clone()));
        if let Some(mute) = mute {
            self.muted += 1;
            return Verdict::Muted {
                mute,
                show: self.show_muted,
            };
        }
        if let (Some(dispatcher), Some(store), None) =
            (&self.dispatcher, self.store.as_mut(), &self.error)
        {
            if let Err(err) = dispatcher.offer(store.as_mut(), finding, now, &mut self.offered) {
                self.error = Some(anyhow::Error::new(err).context("cannot queue alerts"));
            }
        }
        Verdict::Report
    }

    /// Records which stored findings are muted (`stored`: the command saved its findings to this
    /// store), sends due alerts, and adds the counts to `summary`.
    pub fn finish(
        mut self,
        summary: &mut RunSummary,
        stored: bool,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        summary.findings_muted = self.muted;
        if !self.mutes.expired.is_empty() {
            summary.notes.push(format!(
                "{} mute(s) EXPIRED and no longer applied: see `trailguard mute list`",
                self.mutes.expired.len()
            ));
        }
        if let Some(err) = self.error.take() {
            return Err(err);
        }
        let Some(store) = self.store.as_mut() else {
            return Ok(());
        };
        if stored {
            alerting::set_finding_mutes(store.as_mut(), &self.marks, now)
                .context("cannot record muted findings")?;
        }
        if let Some(dispatcher) = self.dispatcher.as_mut() {
            let report = dispatcher
                .deliver(store.as_mut(), now)
                .context("cannot send alerts")?;
            for line in &report.given_up {
                eprintln!("warning: alert {}", trailguard_rules::output::visible(line));
            }
            let pending = alerting::outbox_counts(store.as_mut())?.pending;
            summary.notes.push(format!(
                "alerts: {} queued, {} folded into digests, {} sent, {} to retry, {} given up, {} pending",
                self.offered.alerts,
                self.offered.folded,
                report.sent,
                report.retrying,
                report.given_up.len(),
                pending
            ));
        }
        Ok(())
    }
}
