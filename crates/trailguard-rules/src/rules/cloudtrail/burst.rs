//! Shared by the burst rules (CT032, CT033, CT034): groups one principal's time-sorted observations into
//! bursts, with memory bounded by the number of principals active within one window.
//!
//! A burst starts when `threshold` observations of one principal fall within `window_ms` and at least
//! `min_kinds` distinct `detail` values (e.g. API names) are among the run so far; it goes on while the
//! next observation comes within `window_ms` of the previous one, and is reported once when it ends. A
//! steady trickle (one call every few minutes all day) never fills the window, so it is not a burst.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use super::common::{evidence, finding_from_event};
use crate::finding::{Outcome, Resource, Severity};
use crate::meta::RuleMeta;
use crate::rule::Observation;
use crate::Finding;

/// How many distinct subjects and details a burst keeps by name.
pub const LIST_CAP: usize = 25;

/// When a run of observations is a burst.
#[derive(Debug, Clone, Copy)]
pub struct BurstShape {
    pub window_ms: i64,
    /// Observations within one window.
    pub threshold: usize,
    /// Distinct `detail` values needed in the run (1 = any).
    pub min_kinds: usize,
}

/// One principal's burst.
#[derive(Debug)]
pub struct Burst<'o> {
    pub first: &'o Observation,
    pub last: &'o Observation,
    pub count: u64,
    /// Observations whose `kind` had [`FAILED`] set.
    pub failed: u64,
    /// Distinct `subject` values (capped at [`LIST_CAP`]).
    pub subjects: BTreeSet<&'o str>,
    /// Count per `detail` value (the first [`LIST_CAP`] values; the rest in `other_details`).
    pub details: BTreeMap<&'o str, u64>,
    pub other_details: u64,
}

/// `kind` bit for an observation of a failed call.
pub const FAILED: u8 = 0x01;

struct Run<'o> {
    recent: VecDeque<i64>,
    burst: Burst<'o>,
    qualified: bool,
}

impl<'o> Run<'o> {
    fn new(obs: &'o Observation) -> Run<'o> {
        Run {
            recent: VecDeque::new(),
            burst: Burst {
                first: obs,
                last: obs,
                count: 0,
                failed: 0,
                subjects: BTreeSet::new(),
                details: BTreeMap::new(),
                other_details: 0,
            },
            qualified: false,
        }
    }

    fn add(&mut self, obs: &'o Observation, shape: BurstShape) {
        let burst = &mut self.burst;
        burst.last = obs;
        burst.count += 1;
        if obs.kind & FAILED != 0 {
            burst.failed += 1;
        }
        if burst.subjects.len() < LIST_CAP && !obs.subject.is_empty() {
            burst.subjects.insert(&obs.subject);
        }
        if burst.details.len() < LIST_CAP || burst.details.contains_key(obs.detail.as_ref()) {
            *burst.details.entry(&obs.detail).or_default() += 1;
        } else {
            burst.other_details += 1;
        }
        if !self.qualified {
            self.recent.push_back(obs.at);
            while self.recent.len() > shape.threshold {
                self.recent.pop_front();
            }
            let dense = self.recent.len() >= shape.threshold
                && self
                    .recent
                    .front()
                    .is_some_and(|&front| obs.at - front <= shape.window_ms);
            let kinds = burst.details.len() as u64 + u64::from(burst.other_details > 0);
            if dense && kinds >= shape.min_kinds as u64 {
                self.qualified = true;
                self.recent = VecDeque::new();
            }
        }
    }
}

/// Calls `emit` once per burst in `observations` (sorted by time, as [`crate::engine::Engine::finish`]
/// hands them over), grouped by `principal`.
pub fn bursts<'o>(
    observations: &'o [Observation],
    shape: BurstShape,
    mut emit: impl FnMut(&Burst<'o>),
) {
    let mut runs: HashMap<&'o str, Run<'o>> = HashMap::new();
    for (n, obs) in observations.iter().enumerate() {
        if n % 1024 == 0 {
            runs.retain(|_, run| {
                let open = obs.at - run.burst.last.at <= shape.window_ms;
                if !open && run.qualified {
                    emit(&run.burst);
                }
                open
            });
        }
        let run = runs
            .entry(obs.principal.as_ref())
            .or_insert_with(|| Run::new(obs));
        if obs.at - run.burst.last.at > shape.window_ms {
            if run.qualified {
                emit(&run.burst);
            }
            *run = Run::new(obs);
        }
        run.add(obs, shape);
    }
    let mut rest: Vec<_> = runs.into_values().filter(|r| r.qualified).collect();
    rest.sort_by_key(|r| r.burst.first.at);
    for run in rest {
        emit(&run.burst);
    }
}

/// `name ×n, other ×m, k more` for a message.
pub fn list_counts(details: &BTreeMap<&str, u64>, other: u64) -> String {
    details
        .iter()
        .map(|(name, n)| {
            if *n > 1 {
                format!("{name} ×{n}")
            } else {
                (*name).to_owned()
            }
        })
        .chain((other > 0).then(|| format!("{other} more")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The parts every burst finding shares: about the burst's first call, one per principal and start, at
/// `severity` as judged by the rule (a run of refusals is not lowered: the run itself happened), the
/// principal as resource and the call and refusal counts as evidence. The rule adds message and fix.
pub fn burst_finding(meta: &'static RuleMeta, burst: &Burst<'_>, severity: Severity) -> Finding {
    let event = &burst.first.event;
    let mut finding = finding_from_event(meta, event, severity);
    finding.severity = severity;
    finding.title = meta.title.to_owned();
    finding.outcome = Outcome::Success;
    finding.id = Finding::stable_id(&[
        meta.code,
        &burst.first.principal,
        event.event_id.as_deref().unwrap_or(&event.event_time),
    ]);
    finding.resource = Some(Resource {
        kind: "AwsIamPrincipal".to_owned(),
        id: burst.first.principal.to_string(),
        name: event.actor.user_name.clone(),
    });
    finding.evidence.push(evidence("calls", burst.count));
    finding.evidence.push(evidence("refused", burst.failed));
    finding
}
