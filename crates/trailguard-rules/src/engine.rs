//! The rule engine: dispatches CloudTrail records to the rules that asked for them, and the one flow a
//! scan's findings take from the rules to the outputs.
//!
//! Built once ([`Engine::builtin`]) and shared by every worker thread of the scan pipeline. Each worker gets an
//! [`EngineWorker`] (a record visitor) that keeps its own findings and its own *observations*: small owned
//! copies of the few events sequence rules need (CreateUser, CreateAccessKey, failed ConsoleLogin, ...).
//! [`Engine::finish`] merges the workers, sorts the observations by time, runs every sequence rule over
//! them (sliding windows per principal, pruned as time advances), then sorts and de-duplicates the findings.
//!
//! Dispatch is an index of the rules' [`EventPattern`]s, read from their [`RuleMeta::events`]: a table
//! keyed by `eventName` for exact events (each route checks its `eventSource`), a table keyed by
//! `eventSource` for patterns over a source (`("iam.amazonaws.com", "List*")`: each route checks its
//! name prefix), and the list of rules on [`ANY_EVENT`]. A record only meets the rules whose patterns
//! match it; the decision uses the `eventSource`/`eventName` the raw walk already read, before any
//! parse. Most records in a real trail are read-only calls no rule wants, so they cost two hash
//! lookups. Rules reached through a source, a prefix or [`ANY_EVENT`] are asked their `wants_raw` as
//! well, before the record is parsed for them; a rule on [`ANY_EVENT`] sees every record and must
//! reject cheaply (root activity does, on `"Root"` in the caller's text), so a rule that wants one family of
//! calls declares its sources instead. A single-record rule on [`ANY_EVENT`] that judges only a few
//! exact events names them ([`CloudTrailRule::watched`]) and is indexed as those events.
//!
//! ## Memory stays flat whatever the input repeats
//! - A finding is folded the moment it is found: a worker drops a finding whose stable id it already
//!   produced ([`FindingFold`]), so a record delivered a million times costs one finding and a counter.
//! - [`scan_findings`] is the one flow of a scan (`trailguard scan` and `trailguard bench` both call it):
//!   workers hand each new finding over a bounded channel as they find it, one more [`FindingFold`] drops
//!   the repeats different workers found, and the caller's callback gets each distinct finding once, in
//!   the order they were found. Streaming formats write it at once; only the text report orders them
//!   (and keeps a bounded number: see [`crate::output::text`]). What the folds keep is one id per distinct
//!   finding, never the findings.
//! - Sequence rules keep observations for [`Engine::finish`], all workers together at most
//!   [`Engine::observation_cap`] (a shared atomic counter, touched only for the rare events sequences
//!   want); the rest are counted. A sequence rule whose state is a summary per key (root activity: one
//!   per root session) folds observations as they come instead ([`SequenceRule::fold`]), so its state
//!   grows with sessions, not events, up to its own limit.
//! - Any rule that reaches a limit says so: [`EngineReport::limits`] lists each with what was left out,
//!   and `scan` prints it in the run summary. Results are never silently incomplete.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, BuildHasherDefault, RandomState};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TryRecvError, TrySendError};
use std::sync::LazyLock;

use memchr::memmem::Finder;

use trailguard_event::peek::{Peeked, RawFields, RawRecord};
use trailguard_event::source::Source;
use trailguard_event::{
    scan_sources, Filter, Observer, Record, RecordVisitor, ScanError, ScanStats,
};

use crate::finding::Finding;
use crate::meta::RuleMeta;
use crate::rule::{fold_all, Report};
pub use crate::rule::{
    CloudTrailRule, EventContext, EventPattern, Observation, Observed, SequenceFold, SequenceRule,
    StateLimit, ANY_EVENT,
};
use crate::sigma::collect::SigmaCollector;
use crate::sigma::{PreHashed, SigmaRuleSet, WordHashed};

/// Default bound on observations all workers together keep for sequence rules. One observation takes
/// about 0.8 KB (it owns the event's actor and ids), so the cap keeps them under ~55 MB whatever the input.
pub const DEFAULT_OBSERVATION_CAP: usize = 64_000;

/// Folds repeated findings as they arrive: a finding whose stable id was already seen is dropped and
/// counted. Keeps one id per distinct finding, nothing else.
#[derive(Debug, Default)]
pub struct FindingFold {
    seen: HashSet<Box<str>>,
    folded: u64,
}

impl FindingFold {
    /// Whether `finding` is new; a repeat is counted in [`FindingFold::folded`].
    pub fn first_time(&mut self, finding: &Finding) -> bool {
        if self.seen.contains(finding.id.as_str()) {
            self.folded += 1;
            return false;
        }
        self.seen.insert(finding.id.as_str().into());
        true
    }

    /// Repeats dropped so far.
    pub fn folded(&self) -> u64 {
        self.folded
    }
}

/// Counters the engine keeps besides findings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Records the workers visited.
    pub records_seen: u64,
    /// Records that met at least one built-in rule.
    pub records_dispatched: u64,
    /// Observations kept for sequence rules.
    pub observations: u64,
    /// Observations dropped because the cap was reached (sequence results may be incomplete).
    pub observations_dropped: u64,
    /// Observations whose `eventTime` could not be read: each was judged on its own, never combined
    /// with others (its place in time is unknown).
    pub observations_untimed: u64,
    /// Observations of an event a sequence rule had already seen (same `eventID`: CloudTrail delivers some
    /// events twice, and a file may be scanned twice). A repeat must not count twice towards a burst.
    /// Folds that drop repeats themselves ([`SequenceFold::drops_repeats`]) are not counted here.
    pub observations_repeated: u64,
    /// Repeated findings folded (the same event delivered more than once, or the same finding found by
    /// two workers).
    pub duplicates_removed: u64,
}

/// Findings of a whole run plus the engine's counters.
#[derive(Debug, Clone, Default)]
pub struct EngineReport {
    pub findings: Vec<Finding>,
    pub stats: EngineStats,
    /// Rules that reached their state limit (their findings may be incomplete).
    pub limits: Vec<StateLimit>,
    /// With [`Engine::with_deferred_sequences`]: every sequence rule's observations, de-duplicated and
    /// not evaluated (`findings` then holds single-record findings only). Empty otherwise.
    pub observations: Vec<Observation>,
    /// With [`Engine::with_deferred_sequences`]: the newest readable `eventTime` of any record seen
    /// (parsed or not), as written in the record. `serve`'s delivery health keeps it.
    pub newest_event_time: Option<String>,
}

/// How a record must be read for the rules that want it ([`Engine::raw_need`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawNeed {
    /// No rule wants it.
    Nothing,
    /// Only rules that read typed fields want it: [`Engine::typed_peek`] will do.
    Typed,
    /// Some rule needs it parsed.
    Parse,
}

#[derive(Debug, Clone, Copy)]
enum Target {
    Rule(u16),
    Sequence(u16),
}

#[derive(Debug, Clone, Copy)]
struct Route {
    source: &'static str,
    target: Target,
}

/// A route of a pattern over one source ([`EventPattern::Source`]), kept under that source.
#[derive(Debug, Clone, Copy)]
struct SourceRoute {
    name_prefix: &'static str,
    target: Target,
}

/// The rule engine, built once and shared by all workers.
pub struct Engine {
    rules: Vec<Box<dyn CloudTrailRule>>,
    sequences: Vec<Box<dyn SequenceRule>>,
    /// eventName → routes (each with its eventSource).
    dispatch: HashMap<&'static str, Vec<Route>, BuildHasherDefault<WordHashed>>,
    /// eventSource → routes of patterns over that source (each with its name prefix).
    by_source: HashMap<&'static str, Vec<SourceRoute>, BuildHasherDefault<WordHashed>>,
    /// Rules (single-record or sequence) that declared [`ANY_EVENT`].
    every_record: Vec<Target>,
    /// Per sequence rule: [`SequenceRule::typed_fields_only`].
    typed_only: Vec<bool>,
    observation_cap: usize,
    /// Observations kept by all workers of the current run.
    observations_kept: AtomicUsize,
    /// Hand the observations out instead of evaluating sequence rules ([`Engine::with_deferred_sequences`]).
    defer_sequences: bool,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("rules", &self.rule_codes())
            .field("observation_cap", &self.observation_cap)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine running exactly these rules: the registry's ([`Engine::builtin`], in
    /// [`crate::registry`]), or a test's own.
    pub fn from_rules(
        rules: Vec<Box<dyn CloudTrailRule>>,
        sequences: Vec<Box<dyn SequenceRule>>,
    ) -> Engine {
        let mut engine = Engine {
            rules,
            sequences,
            dispatch: HashMap::default(),
            by_source: HashMap::default(),
            every_record: Vec::new(),
            typed_only: Vec::new(),
            observation_cap: DEFAULT_OBSERVATION_CAP,
            observations_kept: AtomicUsize::new(0),
            defer_sequences: false,
        };
        engine.rebuild_dispatch();
        engine
    }

    /// Keeps only the built-in rules for which `keep` returns true (e.g. `--rule CT001,CT005`).
    pub fn retain(mut self, keep: impl Fn(&RuleMeta) -> bool) -> Engine {
        self.rules.retain(|r| keep(r.meta()));
        self.sequences.retain(|r| keep(r.meta()));
        self.rebuild_dispatch();
        self
    }

    /// Adds a sequence rule, or replaces the one with the same code: for rules that need more than a
    /// record (CT052 and a seeded CT039 take an account snapshot, `scan --snapshot`).
    pub fn with_sequence(mut self, rule: Box<dyn SequenceRule>) -> Engine {
        let code = rule.meta().code;
        match self.sequences.iter().position(|r| r.meta().code == code) {
            Some(i) => self.sequences[i] = rule,
            None => self.sequences.push(rule),
        }
        self.rebuild_dispatch();
        self
    }

    /// Changes the bound on observations kept for sequence rules (all workers together).
    pub fn with_observation_cap(mut self, cap: usize) -> Engine {
        self.observation_cap = cap;
        self
    }

    pub fn observation_cap(&self) -> usize {
        self.observation_cap
    }

    /// An engine whose runs do not evaluate sequence rules but hand out their observations
    /// ([`EngineReport::observations`], [`ScanOutcome::observations`]); no rule folds them either. Its
    /// runs also note the newest event time ([`EngineReport::newest_event_time`]). For
    /// `serve`, which scans one object at a time and evaluates each sequence rule over the observations
    /// of every object in its store ([`Engine::sequence_findings`]).
    pub fn with_deferred_sequences(mut self) -> Engine {
        self.defer_sequences = true;
        self
    }

    /// The code of the sequence rule that made `observation` (one of this engine's runs).
    pub fn observation_rule(&self, observation: &Observation) -> Option<&'static str> {
        self.sequences
            .get(usize::from(observation.rule))
            .map(|rule| rule.meta().code)
    }

    /// How far apart in event time two observations of the sequence rule `code` can bear on one finding
    /// ([`SequenceRule::reach_ms`]); `None` when unbounded or when this engine does not run the rule.
    pub fn sequence_reach_ms(&self, code: &str) -> Option<i64> {
        self.sequences
            .iter()
            .find(|r| r.meta().code == code)
            .and_then(|r| r.reach_ms())
    }

    /// Evaluates the sequence rule `code` over `observations` (in any order, repeats allowed), exactly as
    /// a scan that had met them all would: the same ordering, the same de-duplication of repeated events,
    /// the same fold. Empty when this engine does not run the rule.
    pub fn sequence_findings(&self, code: &str, observations: Vec<Observation>) -> Vec<Finding> {
        let Some(index) = self.sequences.iter().position(|r| r.meta().code == code) else {
            return Vec::new();
        };
        let index = index as u16;
        let mut observations: Vec<Observation> = observations
            .into_iter()
            .map(|mut o| {
                o.rule = index;
                o
            })
            .collect();
        sort_and_dedup(&mut observations);
        let mut findings = Vec::new();
        self.evaluate(index, &observations, &mut findings);
        sort_findings(&mut findings);
        findings.dedup_by(|later, earlier| later.id == earlier.id);
        findings
    }

    /// Runs sequence rule `index` over its observations, sorted and de-duplicated: through a fresh fold
    /// for a rule that folds (the result of a fold does not depend on how it was fed), else `evaluate`.
    /// Returns the limit the fold reached, if any.
    fn evaluate(
        &self,
        index: u16,
        observations: &[Observation],
        findings: &mut Vec<Finding>,
    ) -> Option<StateLimit> {
        let sequence = self.sequences.get(usize::from(index))?;
        let mut report = Report::default();
        let limit = match sequence.fold() {
            Some(fold) => fold_all(fold, observations, &mut report),
            None => {
                sequence.evaluate(observations, &mut report);
                None
            }
        };
        findings.extend(report.into_findings());
        limit
    }

    /// Codes of the built-in rules this engine runs, single-record rules first.
    pub fn rule_codes(&self) -> Vec<&'static str> {
        self.rules
            .iter()
            .map(|r| r.meta().code)
            .chain(self.sequences.iter().map(|r| r.meta().code))
            .collect()
    }

    /// Codes of the sequence rules that watch the bulk of a trail (read calls, refused calls) and so
    /// read it through the typed peek ([`SequenceRule::typed_fields_only`]): on a busy trail, most of a
    /// scan's rule time. `trailguard bench` measures the scan without them.
    pub fn bulk_watchers(&self) -> Vec<&'static str> {
        self.sequences
            .iter()
            .filter(|rule| rule.typed_fields_only())
            .map(|rule| rule.meta().code)
            .collect()
    }

    /// Whether any built-in rule wants this event; lets a caller skip work early.
    pub fn wants(&self, event_source: &str, event_name: &str) -> bool {
        if !self.every_record.is_empty() {
            return true;
        }
        self.dispatch
            .get(event_name)
            .is_some_and(|routes| routes.iter().any(|r| r.source == event_source))
            || self
                .source_routes(event_source, event_name)
                .next()
                .is_some()
    }

    /// The routes of source patterns that match `source` and `name`.
    fn source_routes<'a>(
        &'a self,
        source: &str,
        name: &'a str,
    ) -> impl Iterator<Item = Target> + 'a {
        self.by_source
            .get(source)
            .into_iter()
            .flatten()
            .filter(move |route| name.starts_with(route.name_prefix))
            .map(|route| route.target)
    }

    /// Whether any rule may want this record, from its raw JSON text (`eventSource`/`eventName` read
    /// without parsing; rules reached through a source pattern or [`ANY_EVENT`] asked through their
    /// `wants_raw`). Lets the scan skip parsing the read-only bulk of a trail. `true` whenever the text
    /// cannot be read cheaply.
    pub fn wants_raw(&self, raw: &RawRecord<'_>) -> bool {
        self.raw_need(raw) != RawNeed::Nothing
    }

    /// How the rules that may want this record need it read, from its raw text: not at all, through a
    /// typed peek (only sequence rules that read typed fields want it,
    /// [`SequenceRule::typed_fields_only`]), or parsed.
    pub fn raw_need(&self, raw: &RawRecord<'_>) -> RawNeed {
        let Some((source, name)) = raw.source_and_name() else {
            return RawNeed::Parse;
        };
        let mut need = RawNeed::Nothing;
        let exact = self
            .dispatch
            .get(name)
            .into_iter()
            .flatten()
            .filter(|r| r.source == source)
            .map(|r| r.target);
        for target in exact {
            if !self.typed(target) {
                return RawNeed::Parse;
            }
            need = RawNeed::Typed;
        }
        for target in self
            .source_routes(source, name)
            .chain(self.every_record.iter().copied())
        {
            if !self.target_wants_raw(target, raw) {
                continue;
            }
            if !self.typed(target) {
                return RawNeed::Parse;
            }
            need = RawNeed::Typed;
        }
        need
    }

    fn typed(&self, target: Target) -> bool {
        match target {
            Target::Rule(_) => false,
            Target::Sequence(i) => self.typed_only.get(usize::from(i)) == Some(&true),
        }
    }

    /// The typed peek of a record for [`RawNeed::Typed`]: `None` when it must be parsed after all (the
    /// peek is unsure, or `responseElements` may say `"Failure"`, which `call_failure` reads there: it
    /// holds the word, or an escape that could spell it).
    pub fn typed_peek<'a>(raw: &RawRecord<'a>) -> Option<Record<'a>> {
        static FAILURE: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(br#""Failure""#));
        let (record, response) = Record::peek_typed_and_response(raw.text())?;
        let may_fail = FAILURE.find(response).is_some()
            || (raw.hints().backslash && memchr::memchr(b'\\', response).is_some());
        (!may_fail).then_some(record)
    }

    fn target_wants_raw(&self, target: Target, raw: &RawRecord<'_>) -> bool {
        match target {
            Target::Rule(i) => self
                .rules
                .get(usize::from(i))
                .is_none_or(|r| r.wants_raw(raw)),
            Target::Sequence(i) => self
                .sequences
                .get(usize::from(i))
                .is_none_or(|r| r.wants_raw(raw)),
        }
    }

    pub fn new_worker(&self) -> EngineWorker<'_> {
        let folds: Vec<Option<Box<dyn SequenceFold>>> = self
            .sequences
            .iter()
            .map(|rule| rule.fold().filter(|_| !self.defer_sequences))
            .collect();
        let seen_events = folds
            .iter()
            .map(|fold| {
                (!fold.as_ref().is_some_and(|fold| fold.drops_repeats())).then(HashSet::default)
            })
            .collect();
        EngineWorker {
            engine: self,
            findings: Vec::new(),
            fold: FindingFold::default(),
            observations: Vec::new(),
            folds,
            dropped: vec![0; self.sequences.len()],
            seen_events,
            event_keys: RandomState::new(),
            stats: EngineStats::default(),
            newest_event: None,
        }
    }

    /// Merges the workers, runs the sequence rules and returns every finding, sorted and de-duplicated.
    pub fn finish(&self, workers: Vec<EngineWorker<'_>>) -> Vec<Finding> {
        self.finish_report(workers).findings
    }

    /// Like [`Engine::finish`], with the engine's counters and the rules that reached a state limit.
    pub fn finish_report(&self, workers: Vec<EngineWorker<'_>>) -> EngineReport {
        // The next run starts with a fresh budget.
        self.observations_kept.store(0, Ordering::Relaxed);
        let mut stats = EngineStats::default();
        let mut findings = Vec::new();
        let mut observations = Vec::new();
        // Per folding rule, every worker's fold: merged and finished below, one thread per rule.
        let mut folds: Vec<Vec<Box<dyn SequenceFold>>> =
            self.sequences.iter().map(|_| Vec::new()).collect();
        let mut dropped = vec![0u64; self.sequences.len()];
        let mut newest: Option<(i64, Box<str>)> = None;
        for worker in workers {
            if worker.newest_event > newest {
                newest = worker.newest_event.clone();
            }
            stats.records_seen += worker.stats.records_seen;
            stats.records_dispatched += worker.stats.records_dispatched;
            stats.observations_dropped += worker.stats.observations_dropped;
            stats.observations_untimed += worker.stats.observations_untimed;
            stats.observations_repeated += worker.stats.observations_repeated;
            stats.duplicates_removed += worker.fold.folded();
            findings.extend(worker.findings);
            observations.extend(worker.observations);
            for (slot, theirs) in folds.iter_mut().zip(worker.folds) {
                slot.extend(theirs);
            }
            for (total, theirs) in dropped.iter_mut().zip(worker.dropped) {
                *total += theirs;
            }
        }

        let mut limits = Vec::new();
        // The rules' folds are independent: the serial tail of a run is the slowest rule's, not
        // their sum.
        let finished: Vec<(Report, Option<StateLimit>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = folds
                .into_iter()
                .filter(|parts| !parts.is_empty())
                .map(|parts| scope.spawn(move || merged_and_finished(parts)))
                .collect();
            handles
                .into_iter()
                .map(|handle| {
                    handle
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        });
        for (report, limit) in finished {
            limits.extend(limit);
            findings.extend(report.into_findings());
        }

        let before_dedup = observations.len();
        sort_and_dedup(&mut observations);
        stats.observations_repeated += (before_dedup - observations.len()) as u64;
        stats.observations = observations.len() as u64;
        if self.defer_sequences {
            sort_findings(&mut findings);
            let before = findings.len();
            findings.dedup_by(|later, earlier| later.id == earlier.id);
            stats.duplicates_removed += (before - findings.len()) as u64;
            return EngineReport {
                findings,
                stats,
                limits,
                observations,
                newest_event_time: newest.map(|(_, text)| text.into()),
            };
        }
        let mut start = 0;
        while start < observations.len() {
            let rule = observations[start].rule;
            let end = observations[start..]
                .iter()
                .position(|o| o.rule != rule)
                .map_or(observations.len(), |n| start + n);
            let before = findings.len();
            limits.extend(self.evaluate(rule, &observations[start..end], &mut findings));
            if stats.observations_dropped > 0 {
                for finding in &mut findings[before..] {
                    finding.notes.push(format!(
                        "{} observations were dropped at the memory cap; this sequence may be incomplete",
                        stats.observations_dropped
                    ));
                }
            }
            start = end;
        }
        for (rule, left_out) in self.sequences.iter().zip(dropped) {
            if left_out > 0 {
                limits.push(StateLimit {
                    rule: rule.meta().code,
                    events_left_out: left_out,
                    limit: format!(
                        "{} events kept for sequence rules in all",
                        self.observation_cap
                    ),
                });
            }
        }

        sort_findings(&mut findings);
        let before = findings.len();
        findings.dedup_by(|later, earlier| later.id == earlier.id);
        stats.duplicates_removed += (before - findings.len()) as u64;
        EngineReport {
            findings,
            stats,
            limits,
            observations: Vec::new(),
            newest_event_time: None,
        }
    }

    fn rebuild_dispatch(&mut self) {
        self.dispatch.clear();
        self.by_source.clear();
        self.every_record.clear();
        self.typed_only = self
            .sequences
            .iter()
            .map(|rule| rule.typed_fields_only())
            .collect();
        let rule_events = self.rules.iter().enumerate().map(|(i, r)| {
            // A rule on every event that watches a few is routed those few, as exact events.
            let events = match r.watched() {
                [] => r.meta().events,
                watched => watched,
            };
            (Target::Rule(i as u16), events)
        });
        let sequence_events = self
            .sequences
            .iter()
            .enumerate()
            .map(|(i, r)| (Target::Sequence(i as u16), r.meta().events));
        for (target, events) in rule_events.chain(sequence_events).collect::<Vec<_>>() {
            for &pair in events {
                // A pair that is not a well-formed pattern (the registry's tests refuse them) is read
                // as the one event it spells, which no real record carries.
                let pattern = EventPattern::of(pair).unwrap_or(EventPattern::Event {
                    source: pair.0,
                    name: pair.1,
                });
                match pattern {
                    EventPattern::Any => self.every_record.push(target),
                    EventPattern::Event { source, name } => self
                        .dispatch
                        .entry(name)
                        .or_default()
                        .push(Route { source, target }),
                    EventPattern::Source {
                        source,
                        name_prefix,
                    } => self.by_source.entry(source).or_default().push(SourceRoute {
                        name_prefix,
                        target,
                    }),
                }
            }
        }
    }
}

/// One rule's folds (one per worker) merged into the first, and its findings.
fn merged_and_finished(parts: Vec<Box<dyn SequenceFold>>) -> (Report, Option<StateLimit>) {
    let mut report = Report::default();
    let mut parts = parts.into_iter();
    let Some(mut fold) = parts.next() else {
        return (report, None);
    };
    for other in parts {
        fold.merge(other);
    }
    let limit = fold.finish(&mut report);
    (report, limit)
}

/// Groups observations by rule, then time order; the event id makes the order independent of how records
/// were split across workers. The same event seen twice (a file listed twice, a duplicate delivery in
/// another file) is adjacent then, and only one is kept.
fn sort_and_dedup(observations: &mut Vec<Observation>) {
    observations.sort_by(|a, b| {
        (a.rule, a.at, a.rank, &a.event.event_id).cmp(&(b.rule, b.at, b.rank, &b.event.event_id))
    });
    observations.dedup_by(|later, earlier| {
        later.rule == earlier.rule
            && later.at == earlier.at
            && later.rank == earlier.rank
            && later.event.event_id.is_some()
            && later.event.event_id == earlier.event.event_id
    });
}

/// Time order, then rule, then id: stable whatever the number of workers.
fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        (&a.event_time, &a.rule_id, &a.id, &a.event_id).cmp(&(
            &b.event_time,
            &b.rule_id,
            &b.id,
            &b.event_id,
        ))
    });
}

/// One worker's share of a scan: visit records, then hand the worker to [`Engine::finish`].
pub struct EngineWorker<'e> {
    engine: &'e Engine,
    /// Distinct findings not yet handed on ([`EngineWorker::take_findings`]).
    findings: Vec<Finding>,
    /// Every finding this worker produced, by id: repeats are dropped as they are found.
    fold: FindingFold,
    observations: Vec<Observation>,
    /// Per sequence rule: its fold, for rules that fold ([`SequenceRule::fold`]).
    folds: Vec<Option<Box<dyn SequenceFold>>>,
    /// Per sequence rule: observations dropped at the cap.
    dropped: Vec<u64>,
    /// Per sequence rule: the `eventID`s it has observed, so a repeated event is observed once; at most
    /// the observation cap of them, so the set stays bounded whatever the input. Kept as 64-bit hashes
    /// under this worker's random SipHash keys (`event_keys`): one hash and no copy per observation,
    /// and ids written to collide cannot be made without the keys. `None` for a fold that drops
    /// repeats itself ([`SequenceFold::drops_repeats`]).
    seen_events: Vec<Option<HashSet<u64, BuildHasherDefault<PreHashed>>>>,
    event_keys: RandomState,
    stats: EngineStats,
    /// With deferred sequences: the newest event time seen (ms, as written).
    newest_event: Option<(i64, Box<str>)>,
}

impl std::fmt::Debug for EngineWorker<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineWorker")
            .field("findings", &self.findings.len())
            .field("observations", &self.observations.len())
            .field("stats", &self.stats)
            .finish()
    }
}

impl trailguard_event::pipeline::RecordVisitor for EngineWorker<'_> {
    fn visit(&mut self, record: &Record<'_>) {
        EngineWorker::visit(self, record);
    }

    fn wants_raw(&mut self, raw: &RawRecord<'_>) -> bool {
        self.engine.wants_raw(raw)
    }
}

impl EngineWorker<'_> {
    /// Runs every rule that wants this record.
    pub fn visit(&mut self, record: &Record<'_>) {
        self.stats.records_seen += 1;
        if self.engine.defer_sequences {
            self.note_event_time(&record.event_time);
        }
        let engine = self.engine;
        let mut dispatched = false;
        for &target in &engine.every_record {
            self.run(target, record);
        }
        if let Some(routes) = engine.dispatch.get(record.event_name.as_ref()) {
            for route in routes {
                if route.source != record.event_source {
                    continue;
                }
                dispatched = true;
                self.run(route.target, record);
            }
        }
        for target in engine.source_routes(&record.event_source, &record.event_name) {
            dispatched = true;
            self.run(target, record);
        }
        if dispatched {
            self.stats.records_dispatched += 1;
        }
    }

    /// Findings not yet taken (single-record rules only; sequences run in [`Engine::finish`]), each
    /// distinct: a repeat of one this worker already found is never kept.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// Hands over the findings found since the last call, so they can be written while the scan goes on.
    pub fn take_findings(&mut self) -> std::vec::Drain<'_, Finding> {
        self.findings.drain(..)
    }

    pub fn stats(&self) -> EngineStats {
        let mut stats = self.stats;
        stats.duplicates_removed = self.fold.folded();
        stats
    }

    fn run(&mut self, target: Target, record: &Record<'_>) {
        match target {
            Target::Rule(i) => {
                if let Some(rule) = self.engine.rules.get(usize::from(i)) {
                    let mut report = Report::default();
                    rule.check(record, &mut report);
                    self.keep_new(report);
                }
            }
            Target::Sequence(i) => self.observe(i, record),
        }
    }

    /// Keeps `text` when it is the newest readable event time so far.
    fn note_event_time(&mut self, text: &str) {
        let Some(at) = trailguard_event::parse_event_time(text).map(|t| t.timestamp_millis())
        else {
            return;
        };
        if self
            .newest_event
            .as_ref()
            .is_none_or(|(newest, _)| at > *newest)
        {
            self.newest_event = Some((at, text.into()));
        }
    }

    /// Whether a record the rules may skip unparsed must be parsed after all, to read its event time:
    /// only with deferred sequences, and only when the time is not plain text in the raw record.
    fn needs_time_from(&mut self, raw: &RawRecord<'_>) -> bool {
        if !self.engine.defer_sequences {
            return false;
        }
        let fields = RawFields {
            event_time: true,
            ..RawFields::default()
        };
        match RawRecord::with_fields(raw.text(), fields).event_time() {
            Peeked::Text(text) => {
                self.note_event_time(text);
                false
            }
            Peeked::Missing => false,
            Peeked::Unknown => true,
        }
    }

    /// Judges an observation whose `eventTime` cannot be read on its own: its place among the others is
    /// unknown, so it is never combined with them, but what it shows alone (a root call, a failed sign-in,
    /// a catch-all secrets read) is still reported. Placed at the epoch, so no rule's window sums overflow.
    fn judge_alone(&mut self, sequence: &dyn SequenceRule, index: u16, observed: Observed<'_>) {
        let mut observation = observed.into_observation();
        observation.rule = index;
        observation.at = 0;
        let alone = std::slice::from_ref(&observation);
        let mut report = Report::default();
        match sequence.fold() {
            Some(fold) => {
                // One observation cannot reach a fold's state limit.
                let _ = fold_all(fold, alone, &mut report);
            }
            None => sequence.evaluate(alone, &mut report),
        }
        self.keep_new(report);
    }

    /// Keeps the findings of `report` this worker has not produced yet; repeats are dropped as they come.
    fn keep_new(&mut self, report: Report) {
        for finding in report.into_findings() {
            if self.fold.first_time(&finding) {
                self.findings.push(finding);
            }
        }
    }

    fn observe(&mut self, index: u16, record: &Record<'_>) {
        let Some(sequence) = self.engine.sequences.get(usize::from(index)) else {
            return;
        };
        let Some(observed) = sequence.observe(record) else {
            return;
        };
        if observed.at == Observation::UNREADABLE_TIME {
            self.stats.observations_untimed += 1;
            self.judge_alone(sequence.as_ref(), index, observed);
            return;
        }
        if let (Some(id), Some(Some(seen))) = (
            observed.event_id(),
            self.seen_events.get_mut(usize::from(index)),
        ) {
            let id = self.event_keys.hash_one(id);
            if seen.contains(&id) {
                self.stats.observations_repeated += 1;
                return;
            }
            if seen.len() < self.engine.observation_cap {
                seen.insert(id);
            }
        }
        if let Some(Some(fold)) = self.folds.get_mut(usize::from(index)) {
            fold.add(observed);
            return;
        }
        if self
            .engine
            .observations_kept
            .fetch_add(1, Ordering::Relaxed)
            >= self.engine.observation_cap
        {
            self.stats.observations_dropped += 1;
            if let Some(dropped) = self.dropped.get_mut(usize::from(index)) {
                *dropped += 1;
            }
            return;
        }
        let mut observation = observed.into_observation();
        observation.rule = index;
        self.observations.push(observation);
    }
}

/// One pipeline worker of a scan: the built-in rules, the Sigma rules when loaded, and where to hand
/// new findings while the scan goes on.
pub struct ScanWorker<'e> {
    pub engine: EngineWorker<'e>,
    sigma: Option<SigmaCollector<'e>>,
    sink: Option<&'e SyncSender<Vec<Finding>>>,
    /// Findings found but not yet handed over.
    pending: Vec<Finding>,
}

/// Findings a worker offers together: each hand-over may wake the thread writing them, a system call
/// that cost 3% of a scan when every finding went on its own. A worker also offers what it holds after
/// each batch of records it reads ([`RecordVisitor::batch_done`]).
const HAND_OVER_BATCH: usize = 64;
/// Findings a worker holds, at most, while the writer's queue is full: only then does it wait for the
/// writer. Offers never wait: a worker that waited whenever the queue was full ran at the pace of the
/// writer's polls (a scan with a finding in most files took twice as long on two cores), while the
/// writer itself was idle most of the time.
const HOLD_AT_MOST: usize = 8 * HAND_OVER_BATCH;

impl<'e> ScanWorker<'e> {
    /// A worker that keeps its findings until [`Engine::finish`] (tests, measurements).
    pub fn new(engine: &'e Engine, sigma: Option<&'e SigmaRuleSet>) -> Self {
        ScanWorker {
            engine: engine.new_worker(),
            sigma: sigma.map(SigmaCollector::new),
            sink: None,
            pending: Vec::new(),
        }
    }

    /// Splits the workers into the engine's and one collector of all Sigma matches (folded repeats),
    /// once each has handed over the findings still waiting in it.
    pub fn split(
        workers: Vec<ScanWorker<'e>>,
    ) -> (Vec<EngineWorker<'e>>, Option<SigmaCollector<'e>>) {
        let mut engines = Vec::with_capacity(workers.len());
        let mut sigma: Option<SigmaCollector<'e>> = None;
        for mut worker in workers {
            worker.flush();
            engines.push(worker.engine);
            if let Some(theirs) = worker.sigma {
                match sigma.as_mut() {
                    Some(ours) => ours.merge(theirs),
                    None => sigma = Some(theirs),
                }
            }
        }
        (engines, sigma)
    }
}

impl RecordVisitor for ScanWorker<'_> {
    /// Parse only records some rule may want (most of a trail is read-only noise): the engine judges
    /// from the raw text, and the Sigma rules settle from it what they can (a repeat of a hunting
    /// rule's match only adds to a count).
    fn wants_raw(&mut self, raw: &RawRecord<'_>) -> bool {
        match self.engine.engine.raw_need(raw) {
            RawNeed::Parse => return true,
            RawNeed::Typed => return !self.visit_typed(raw),
            RawNeed::Nothing => {}
        }
        if self.engine.needs_time_from(raw) {
            return true;
        }
        self.sigma
            .as_mut()
            .is_some_and(|sigma| !sigma.fold_raw(raw))
    }

    fn visit(&mut self, record: &Record<'_>) {
        self.engine.visit(record);
        self.hand_over();
        if let Some(sigma) = self.sigma.as_mut() {
            sigma.evaluate(record);
        }
    }

    fn batch_done(&mut self) {
        self.offer();
    }
}

impl ScanWorker<'_> {
    /// Visits a record only typed-field rules want from its typed peek, when the peek is sure and the
    /// Sigma rules settle it from its text too; `false`: parse it (the parsed visit then serves both).
    fn visit_typed(&mut self, raw: &RawRecord<'_>) -> bool {
        let Some(record) = Engine::typed_peek(raw) else {
            return false;
        };
        if let Some(sigma) = self.sigma.as_mut() {
            if !sigma.fold_raw_peeked(raw, Some(&record)) {
                return false;
            }
        }
        self.engine.visit(&record);
        self.hand_over();
        true
    }

    /// Gathers the findings found so far to pass them on to the caller, when it takes them as they
    /// come: offered [`HAND_OVER_BATCH`] at a time and after each batch of records, handed over
    /// (waiting for room) only when [`HOLD_AT_MOST`] are held.
    fn hand_over(&mut self) {
        if self.sink.is_none() {
            return;
        }
        let held = self.pending.len();
        self.pending.extend(self.engine.take_findings());
        if self.pending.len() == held {
            return;
        }
        if self.pending.len() >= HOLD_AT_MOST {
            self.flush();
        } else if self.pending.len() >= HAND_OVER_BATCH {
            self.offer();
        }
    }

    /// Hands over the findings waiting when the caller's queue has room; keeps them otherwise.
    fn offer(&mut self) {
        let Some(sink) = self.sink else { return };
        if self.pending.is_empty() {
            return;
        }
        match sink.try_send(std::mem::take(&mut self.pending)) {
            Ok(()) => {}
            Err(TrySendError::Full(kept)) => self.pending = kept,
            // The receiver only goes away when the caller panicked; nothing is left to tell.
            Err(TrySendError::Disconnected(_)) => {}
        }
    }

    /// Hands over every finding still waiting, waiting for room when the queue is full.
    fn flush(&mut self) {
        if let (Some(sink), false) = (self.sink, self.pending.is_empty()) {
            // The receiver only goes away when the caller panicked; nothing is left to tell.
            let _ = sink.send(std::mem::take(&mut self.pending));
        }
    }
}

/// What a scan did besides its findings.
#[derive(Debug, Clone, Default)]
pub struct ScanOutcome {
    /// The pipeline's counters (files, records, skipped input).
    pub stats: ScanStats,
    /// The engine's counters; `duplicates_removed` counts every repeat folded, wherever it was caught.
    pub engine: EngineStats,
    /// See [`EngineReport::newest_event_time`].
    pub newest_event_time: Option<String>,
    /// Rules that reached their state limit.
    pub limits: Vec<StateLimit>,
    /// Sigma rule matches before folding.
    pub sigma_matches: u64,
    /// With [`Engine::with_deferred_sequences`]: the sequence rules' observations, not yet evaluated.
    pub observations: Vec<Observation>,
}

/// How many batches of found findings may wait for the caller before the workers wait for it.
const BATCHES_IN_FLIGHT: usize = 16;
/// How often the caller's side looks for findings. It polls rather than sleeping until a batch comes:
/// waking a sleeping receiver is a system call in the worker that sends (on a virtual machine, the
/// wake-up of an idle processor), which cost a scan several percent; a look every few milliseconds
/// costs the caller's thread next to nothing and delays no finding noticeably.
const POLL_FINDINGS: std::time::Duration = std::time::Duration::from_millis(2);

/// Scans `sources` with the built-in rules (and the Sigma rules) and gives `on_finding` each distinct
/// finding once, while the scan runs: single-record findings by the end of the read of input they were
/// found in (workers pass them on in batches), sequence and Sigma findings (which need the whole input)
/// when it ends. Repeats (same stable id) are folded on arrival and counted in [`ScanOutcome::engine`].
/// The one flow of a scan's findings: `trailguard scan` and `trailguard bench` both run it.
pub fn scan_findings(
    engine: &Engine,
    sigma: Option<&SigmaRuleSet>,
    sources: Vec<Box<dyn Source>>,
    filter: &Filter,
    threads: usize,
    observer: &dyn Observer,
    mut on_finding: impl FnMut(Finding),
) -> Result<ScanOutcome, ScanError> {
    let (sink, found) = sync_channel::<Vec<Finding>>(BATCHES_IN_FLIGHT);
    std::thread::scope(|scope| {
        let producer = scope.spawn(move || -> Result<ScanOutcome, ScanError> {
            let sink = &sink;
            let (workers, stats) = scan_sources(
                sources,
                filter,
                threads,
                || ScanWorker {
                    sink: Some(sink),
                    ..ScanWorker::new(engine, sigma)
                },
                observer,
            )?;
            let (engines, sigma) = ScanWorker::split(workers);
            let report = engine.finish_report(engines);
            let sigma_matches = sigma.as_ref().map_or(0, SigmaCollector::matched);
            let sigma_findings = sigma.map(SigmaCollector::into_findings).unwrap_or_default();
            let _ = sink.send(report.findings);
            let _ = sink.send(sigma_findings);
            Ok(ScanOutcome {
                stats,
                engine: report.stats,
                limits: report.limits,
                sigma_matches,
                observations: report.observations,
                newest_event_time: report.newest_event_time,
            })
        });
        // The policy catalog, which every rule judging a policy document reads, is parsed on first use
        // (tens of milliseconds): here, on the caller's thread, while the workers read the first files,
        // rather than on the first worker to meet a policy.
        if !engine.rules.is_empty() {
            trailguard_policy::catalog::Catalog::get();
        }
        let mut fold = FindingFold::default();
        loop {
            match found.try_recv() {
                Ok(batch) => {
                    for finding in batch {
                        if fold.first_time(&finding) {
                            on_finding(finding);
                        }
                    }
                }
                Err(TryRecvError::Empty) => std::thread::sleep(POLL_FINDINGS),
                Err(TryRecvError::Disconnected) => break,
            }
        }
        let mut outcome = producer.join().map_err(|_| ScanError::WorkerPanicked)??;
        outcome.engine.duplicates_removed += fold.folded();
        Ok(outcome)
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::finding::{Outcome, Severity};
    use crate::meta::{Family, RuleDoc};
    use crate::rule::FindingBuilder;
    // Test records only: the engine itself imports no rule.
    use crate::rules::cloudtrail::common::testing::{with_record, TestEvent};

    const DOC: RuleDoc = RuleDoc {
        what: "test",
        why: "test",
        example: "test",
        fix: "test",
        references: &[],
    };

    const CREATE_USER_META: RuleMeta = RuleMeta {
        code: "T001",
        name: "counts-create-user",
        title: "Counted",
        family: Family::Cloudtrail,
        severity: Severity::High,
        attack: &[],
        compliance: &[],
        events: &[("iam.amazonaws.com", "CreateUser")],
        kb_entries: &[],
        doc: DOC,
    };

    /// Counts its calls and emits one finding per record.
    struct Counting(Arc<AtomicUsize>);

    impl CloudTrailRule for Counting {
        fn meta(&self) -> &'static RuleMeta {
            &CREATE_USER_META
        }
        fn check(&self, record: &Record<'_>, out: &mut Report) {
            self.0.fetch_add(1, Ordering::SeqCst);
            let event = EventContext::from_record(record);
            out.push(FindingBuilder::event(&CREATE_USER_META, &event, Severity::High).build());
        }
    }

    fn visit_all(worker: &mut EngineWorker<'_>, events: &[TestEvent]) {
        for event in events {
            with_record(&event.json(), |r| worker.visit(r));
        }
    }

    #[test]
    fn records_meet_only_the_rules_that_asked_for_their_event() {
        let calls = Arc::new(AtomicUsize::new(0));
        let engine = Engine::from_rules(vec![Box::new(Counting(calls.clone()))], Vec::new());
        let mut worker = engine.new_worker();
        visit_all(
            &mut worker,
            &[
                TestEvent::iam("CreateUser")
                    .request(r#"{"userName":"a"}"#)
                    .id("e1"),
                TestEvent::iam("ListUsers").id("e2"),
                // Same name, other service: not dispatched.
                TestEvent::new("cognito-idp.amazonaws.com", "CreateUser").id("e3"),
            ],
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(worker.stats().records_seen, 3);
        assert_eq!(worker.stats().records_dispatched, 1);
        assert!(engine.wants("iam.amazonaws.com", "CreateUser"));
        assert!(!engine.wants("iam.amazonaws.com", "ListUsers"));
    }

    const READS_META: RuleMeta = RuleMeta {
        code: "T002",
        name: "counts-identity-reads",
        events: &[
            ("iam.amazonaws.com", "List*"),
            ("iam.amazonaws.com", "Get*"),
            ("sts.amazonaws.com", "*"),
        ],
        ..CREATE_USER_META
    };

    const EVERY_META: RuleMeta = RuleMeta {
        code: "T003",
        name: "counts-every-record",
        events: &[ANY_EVENT],
        ..CREATE_USER_META
    };

    /// Records every `(eventSource, eventName)` it is offered, raw or parsed.
    struct Offered {
        meta: &'static RuleMeta,
        parsed: Arc<std::sync::Mutex<Vec<(String, String)>>>,
        raw: Arc<std::sync::Mutex<Vec<(String, String)>>>,
    }

    impl CloudTrailRule for Offered {
        fn meta(&self) -> &'static RuleMeta {
            self.meta
        }
        fn check(&self, record: &Record<'_>, _out: &mut Report) {
            let pair = (
                record.event_source.to_string(),
                record.event_name.to_string(),
            );
            self.parsed.lock().unwrap().push(pair);
        }
        fn wants_raw(&self, raw: &RawRecord<'_>) -> bool {
            if let Some((source, name)) = raw.source_and_name() {
                self.raw
                    .lock()
                    .unwrap()
                    .push((source.to_owned(), name.to_owned()));
            }
            true
        }
    }

    /// The `(eventSource, eventName)` of the cases marked wanted, in order.
    fn wanted_pairs(events: &[(&str, &str, bool)]) -> Vec<(String, String)> {
        events
            .iter()
            .filter(|(_, _, wanted)| *wanted)
            .map(|(s, n, _)| ((*s).to_owned(), (*n).to_owned()))
            .collect()
    }

    /// The contract of a source pattern: a rule that declares sources (and name prefixes) is offered
    /// only records of those sources and prefixes, raw or parsed, even when another rule wants every
    /// record parsed; and the engine's raw answer follows the index.
    #[test]
    fn a_rule_declaring_sources_is_never_offered_another_source() {
        let reads = Offered {
            meta: &READS_META,
            parsed: Arc::default(),
            raw: Arc::default(),
        };
        let (parsed, raw) = (reads.parsed.clone(), reads.raw.clone());
        let events = [
            ("iam.amazonaws.com", "ListUsers", true),
            ("iam.amazonaws.com", "GetRole", true),
            ("iam.amazonaws.com", "CreateUser", false),
            ("iam.amazonaws.com", "DeleteListener", false),
            ("sts.amazonaws.com", "GetCallerIdentity", true),
            ("sts.amazonaws.com", "AssumeRole", true),
            // Same names, other sources.
            ("ec2.amazonaws.com", "GetConsoleOutput", false),
            ("elasticloadbalancing.amazonaws.com", "ListUsers", false),
            ("iam.amazonaws.com.evil", "ListUsers", false),
            ("s3.amazonaws.com", "ListBuckets", false),
        ];
        // Alone, the engine wants exactly the records the patterns match.
        let engine = Engine::from_rules(
            vec![Box::new(Offered {
                meta: &READS_META,
                parsed: Arc::default(),
                raw: Arc::default(),
            })],
            Vec::new(),
        );
        for (i, (source, name, wanted)) in events.iter().enumerate() {
            let json = TestEvent::new(source, name).id(&format!("s{i}")).json();
            let raw = RawRecord::new(json.as_bytes());
            assert_eq!(engine.wants_raw(&raw), *wanted, "{source} {name}");
            assert_eq!(engine.wants(source, name), *wanted, "{source} {name}");
        }
        // Beside a rule that wants every record parsed, it is still offered only its own.
        let every = Offered {
            meta: &EVERY_META,
            parsed: Arc::default(),
            raw: Arc::default(),
        };
        let all_parsed = every.parsed.clone();
        let engine = Engine::from_rules(vec![Box::new(reads), Box::new(every)], Vec::new());
        let mut worker = engine.new_worker();
        for (i, (source, name, _)) in events.iter().enumerate() {
            let json = TestEvent::new(source, name).id(&format!("s{i}")).json();
            assert!(engine.wants_raw(&RawRecord::new(json.as_bytes())));
            with_record(&json, |r| worker.visit(r));
        }
        let expected = wanted_pairs(&events);
        assert_eq!(*parsed.lock().unwrap(), expected);
        assert_eq!(*raw.lock().unwrap(), expected);
        assert_eq!(all_parsed.lock().unwrap().len(), events.len());
        assert_eq!(worker.stats().records_dispatched, expected.len() as u64);
    }

    /// Every record, except that it watches two events ([`CloudTrailRule::watched`]).
    struct Watching(Offered);

    impl CloudTrailRule for Watching {
        fn meta(&self) -> &'static RuleMeta {
            self.0.meta()
        }
        fn check(&self, record: &Record<'_>, out: &mut Report) {
            self.0.check(record, out);
        }
        fn wants_raw(&self, raw: &RawRecord<'_>) -> bool {
            self.0.wants_raw(raw)
        }
        fn watched(&self) -> &'static [(&'static str, &'static str)] {
            &[
                ("iam.amazonaws.com", "CreateAccessKey"),
                ("signin.amazonaws.com", "ConsoleLogin"),
            ]
        }
    }

    /// The contract of `watched`: a rule on every event that watches a few is offered those, raw and
    /// parsed, as exact events (their source checked), and never asked about any other record.
    #[test]
    fn a_rule_on_every_event_that_watches_a_few_meets_only_those() {
        let watching = Watching(Offered {
            meta: &EVERY_META,
            parsed: Arc::default(),
            raw: Arc::default(),
        });
        let (parsed, raw) = (watching.0.parsed.clone(), watching.0.raw.clone());
        let engine = Engine::from_rules(vec![Box::new(watching)], Vec::new());
        let events = [
            ("iam.amazonaws.com", "CreateAccessKey", true),
            ("signin.amazonaws.com", "ConsoleLogin", true),
            ("iam.amazonaws.com", "ListUsers", false),
            ("s3.amazonaws.com", "CreateAccessKey", false),
            ("iam.amazonaws.com", "ConsoleLogin", false),
        ];
        let mut worker = engine.new_worker();
        for (i, (source, name, wanted)) in events.iter().enumerate() {
            let json = TestEvent::new(source, name).id(&format!("w{i}")).json();
            let raw_record = RawRecord::new(json.as_bytes());
            assert_eq!(engine.wants_raw(&raw_record), *wanted, "{source} {name}");
            assert_eq!(engine.wants(source, name), *wanted, "{source} {name}");
            with_record(&json, |r| worker.visit(r));
        }
        let expected = wanted_pairs(&events);
        assert_eq!(*parsed.lock().unwrap(), expected);
        assert!(
            raw.lock().unwrap().is_empty(),
            "an exact route never asks wants_raw"
        );
        assert_eq!(worker.stats().records_dispatched, 2);
    }

    #[test]
    fn patterns_read_as_declared() {
        let cases = [
            (("*", "*"), Some(EventPattern::Any)),
            (
                ("iam.amazonaws.com", "CreateUser"),
                Some(EventPattern::Event {
                    source: "iam.amazonaws.com",
                    name: "CreateUser",
                }),
            ),
            (
                ("iam.amazonaws.com", "*"),
                Some(EventPattern::Source {
                    source: "iam.amazonaws.com",
                    name_prefix: "",
                }),
            ),
            (("iam.amazonaws.com", "Get*User"), None),
            (("*", "ListUsers"), None),
            (("iam.*", "ListUsers"), None),
            (("", "ListUsers"), None),
        ];
        for (pair, expected) in cases {
            assert_eq!(EventPattern::of(pair), expected, "{pair:?}");
        }
        let prefix = EventPattern::of(("iam.amazonaws.com", "List*")).unwrap();
        assert!(prefix.matches("iam.amazonaws.com", "ListRoles"));
        assert!(!prefix.matches("iam.amazonaws.com", "GetRole"));
        assert!(!prefix.matches("sso.amazonaws.com", "ListRoles"));
        assert_eq!(prefix.event(), None);
    }

    #[test]
    fn attempts_lower_severity_and_say_so() {
        let engine = Engine::from_rules(vec![Box::new(Counting(Arc::default()))], Vec::new());
        let mut worker = engine.new_worker();
        visit_all(
            &mut worker,
            &[TestEvent::iam("CreateUser")
                .request(r#"{"userName":"a"}"#)
                .denied()],
        );
        let f = &engine.finish(vec![worker])[0];
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(f.title, "Attempted: Counted");
        assert!(
            matches!(&f.outcome, Outcome::Attempt { error_code } if error_code == "AccessDenied")
        );
        let actor = f.actor.as_ref().unwrap();
        assert_eq!(actor.access_key_id.as_deref(), Some("AKIAOZUDECYXYM4ONAN4"));
        assert_eq!(actor.user_name.as_deref(), Some("christophe"));
        assert_eq!(f.fix.kb_entry.as_deref(), Some("CreateUser"));
    }

    /// The contract of the hand-over: a worker whose writer is behind keeps its findings and reads on
    /// (it waited before, and a scan ran at the pace of the writer's polls); nothing is lost, and what
    /// it kept goes over once there is room.
    #[test]
    fn a_worker_keeps_its_findings_while_the_writer_is_behind() {
        let engine = Engine::from_rules(vec![Box::new(Counting(Arc::default()))], Vec::new());
        let (sink, found) = sync_channel::<Vec<Finding>>(1);
        sink.send(Vec::new()).unwrap(); // the writer has not taken this one yet: the queue is full
        let (done, finished) = sync_channel::<usize>(1);
        std::thread::scope(|scope| {
            let sink = &sink;
            let engine = &engine;
            scope.spawn(move || {
                let mut worker = ScanWorker {
                    sink: Some(sink),
                    ..ScanWorker::new(engine, None)
                };
                for user in ["a", "b", "c"] {
                    let event = TestEvent::iam("CreateUser")
                        .request(&format!(r#"{{"userName":"{user}"}}"#))
                        .id(user);
                    with_record(&event.json(), |record| worker.visit(record));
                }
                worker.batch_done();
                done.send(worker.pending.len()).unwrap();
                // The end of the scan hands over what is left, waiting for room.
                ScanWorker::split(vec![worker]);
            });
            let patience = std::time::Duration::from_secs(30);
            let held = finished.recv_timeout(patience);
            // The writer catches up: the batch that filled the queue, then what the worker kept.
            let filler = found.recv_timeout(patience).map(|batch| batch.len());
            let kept = found.recv_timeout(patience).map(|batch| batch.len());
            assert_eq!(
                held,
                Ok(3),
                "the worker waited for the writer, or handed over into a full queue"
            );
            assert_eq!((filler, kept), (Ok(0), Ok(3)));
        });
    }

    #[test]
    fn finish_sorts_by_time_and_removes_duplicate_deliveries() {
        let engine = Engine::from_rules(vec![Box::new(Counting(Arc::default()))], Vec::new());
        let late = TestEvent::iam("CreateUser")
            .time("2024-08-01T15:00:00Z")
            .id("late");
        let early = TestEvent::iam("CreateUser")
            .time("2024-08-01T09:00:00Z")
            .id("early");
        let mut first = engine.new_worker();
        visit_all(&mut first, &[late.clone(), early.clone()]);
        let mut second = engine.new_worker();
        // The same event delivered twice (CloudTrail can), seen by another worker.
        visit_all(&mut second, &[late]);
        let report = engine.finish_report(vec![first, second]);
        let ids: Vec<_> = report
            .findings
            .iter()
            .map(|f| f.event_id.clone().unwrap())
            .collect();
        assert_eq!(ids, vec!["early", "late"]);
        assert_eq!(report.stats.duplicates_removed, 1);
        assert_eq!(report.stats.records_seen, 3);
    }
}
