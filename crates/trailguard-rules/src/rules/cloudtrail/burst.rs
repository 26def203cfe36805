//! Shared by the burst rules (CT032, CT033, CT034): groups one principal's time-sorted observations into
//! bursts, with memory bounded by the number of principals active within one window.
//!
//! A burst starts when `threshold` observations of one principal fall within `window_ms` and at least
//! `min_kinds` distinct `detail` values (e.g. API names) are among the run so far; it goes on while the
//! next observation comes within `window_ms` of the previous one, and is reported once when it ends. A
//! steady trickle (one call every few minutes all day) never fills the window, so it is not a burst.

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use super::common::{evidence, failure_finding_from_event};
use super::spans::{take_in_place, touching, Span};
use crate::finding::{Outcome, Resource, Severity};
use crate::meta::RuleMeta;
use crate::rule::{Observation, Observed, Report, SequenceFold, StateLimit};
use crate::sigma::{PreHashed, WordHashed};
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
    /// The `eventTime` of the burst's last call, as written.
    pub last_time: &'o str,
    pub count: u64,
    /// Observations whose `kind` had [`FAILED`] set.
    pub failed: u64,
    /// Every observation's `kind`, or'ed: whether any call of the run had a rule's mark.
    pub kinds: u8,
    /// Distinct `subject` values (capped at [`LIST_CAP`]).
    pub subjects: BTreeSet<&'o str>,
    /// Count per `detail` value (the first [`LIST_CAP`] values; the rest in `other_details`).
    pub details: BTreeMap<&'o str, u64>,
    pub other_details: u64,
}

/// `kind` bit for an observation of a failed call.
pub const FAILED: u8 = 0x01;

struct Run<'o> {
    last: &'o Observation,
    recent: VecDeque<i64>,
    burst: Burst<'o>,
    qualified: bool,
}

impl<'o> Run<'o> {
    fn new(obs: &'o Observation) -> Run<'o> {
        Run {
            recent: VecDeque::new(),
            last: obs,
            burst: Burst {
                first: obs,
                last_time: obs.event.event_time.as_str(),
                count: 0,
                failed: 0,
                kinds: 0,
                subjects: BTreeSet::new(),
                details: BTreeMap::new(),
                other_details: 0,
            },
            qualified: false,
        }
    }

    fn add(&mut self, obs: &'o Observation, shape: BurstShape) {
        let burst = &mut self.burst;
        self.last = obs;
        burst.last_time = obs.event.event_time.as_str();
        burst.count += 1;
        burst.kinds |= obs.kind;
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
    runs(observations, shape, |run, is_burst| {
        if is_burst {
            emit(run);
        }
    });
}

/// Calls `emit` once per run in `observations` (sorted by time), grouped by `principal`: a principal's
/// calls with no gap over the window, with whether the run was a burst. For the rules that report the
/// calls that made no burst too.
pub fn runs<'o>(
    observations: &'o [Observation],
    shape: BurstShape,
    mut emit: impl FnMut(&Burst<'o>, bool),
) {
    let mut runs: HashMap<&'o str, Run<'o>> = HashMap::new();
    for (n, obs) in observations.iter().enumerate() {
        if n % 1024 == 0 {
            runs.retain(|_, run| {
                let open = obs.at - run.last.at <= shape.window_ms;
                if !open {
                    emit(&run.burst, run.qualified);
                }
                open
            });
        }
        let run = runs
            .entry(obs.principal.as_ref())
            .or_insert_with(|| Run::new(obs));
        if obs.at - run.last.at > shape.window_ms {
            emit(&run.burst, run.qualified);
            *run = Run::new(obs);
        }
        run.add(obs, shape);
    }
    let mut rest: Vec<_> = runs.into_values().collect();
    rest.sort_by_key(|r| r.burst.first.at);
    for run in rest {
        emit(&run.burst, run.qualified);
    }
}

/// `name ×n, other ×m, k more` for a message.
pub fn list_counts(details: &BTreeMap<&str, u64>, other: u64) -> String {
    counted(details)
        .chain((other > 0).then(|| format!("{other} more")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Each name, with `×n` when it came `n > 1` times.
pub fn counted<'a>(counts: &'a BTreeMap<&str, u64>) -> impl Iterator<Item = String> + 'a {
    counts.iter().map(|(name, n)| {
        if *n > 1 {
            format!("{name} ×{n}")
        } else {
            (*name).to_owned()
        }
    })
}

/// The parts every finding about one principal's run of calls shares, made from the run's first call:
/// one per principal and start, at `severity` as judged by the rule (a run of refusals is not lowered:
/// the run itself happened), the principal as resource. The rule adds evidence, message and fix.
pub fn run_finding(meta: &'static RuleMeta, first: &Observation, severity: Severity) -> Finding {
    let event = &first.event;
    let mut finding = failure_finding_from_event(meta, event, severity);
    finding.outcome = Outcome::Success;
    finding.id = Finding::stable_id(&[
        meta.code,
        &first.principal,
        event.event_id.as_deref().unwrap_or(&event.event_time),
    ]);
    finding.resource = Some(Resource {
        kind: "AwsIamPrincipal".to_owned(),
        id: first.principal.to_string(),
        name: event.actor.user_name.clone(),
    });
    finding
}

/// [`run_finding`] of a burst, with the call and refusal counts as evidence.
pub fn burst_finding(meta: &'static RuleMeta, burst: &Burst<'_>, severity: Severity) -> Finding {
    let mut finding = run_finding(meta, burst.first, severity);
    finding.evidence.push(evidence("calls", burst.count));
    finding.evidence.push(evidence("refused", burst.failed));
    finding
}

/// Runs a burst rule keeps in one fold (all principals together). A run is a principal's calls with no
/// gap over the window: its first observation (about 1 KB) and a few bytes per call.
pub const RUN_CAP: usize = 32_768;
/// Calls a fold keeps the time of (32 bytes each), all runs together.
pub const CALL_CAP: usize = 1 << 20;
/// Calls a new run has room for before its list grows. Two, not more: most runs stay short and every run
/// is kept to the end of the scan, while growing copies only 32 bytes a call (room for 8 made a scan of the
/// three bulk watchers 3% slower, for the memory it held).
const RUN_START_CALLS: usize = 2;
/// Distinct `detail` (or `subject`) values one run names; beyond, they are counted unnamed.
pub const NAMES_PER_RUN: usize = 512;

/// The fold of a rule over runs of one principal's calls ([`crate::rule::SequenceRule::fold`]): calls
/// arrive in any order (workers read files in parallel, a file's records need not be sorted, another
/// worker's runs are merged at the end), and each run is judged once the input is read, from its calls
/// in time order. [`BurstFold::new`] judges bursts, exactly as [`bursts`] does over the time-sorted
/// observations; [`BurstFold::judged_by`] takes the rule's own judgement of a run ([`RunCalls`]).
///
/// Per principal it keeps runs (calls with no gap over the window), each as its earliest observation and
/// 32 bytes per call (time, event id hash, kind, which detail and subject): never the calls' events,
/// which are read from the record only for a call that becomes a run's first
/// ([`Observed::into_observation`]). A call joins every run it falls within the window of, merging them.
/// A call seen twice (the same `eventID`, e.g. in two workers) counts once. State is bounded by
/// [`RUN_CAP`] runs and [`CALL_CAP`] calls; what does not fit is counted and reported as a
/// [`StateLimit`].
pub struct BurstFold {
    meta: &'static RuleMeta,
    window_ms: i64,
    verdict: Verdict,
    /// Each principal's runs by first call time, boxed: a run is large, and the map moves its values
    /// as it grows.
    by_principal: HashMap<Box<str>, BTreeMap<i64, Box<FoldRun>>>,
    runs: usize,
    calls: usize,
    left_out: u64,
    unnamed: u64,
}

/// How a fold judges a run.
#[derive(Clone, Copy)]
enum Verdict {
    Burst {
        shape: BurstShape,
        finding: fn(&Burst<'_>) -> Finding,
    },
    EveryRun {
        shape: BurstShape,
        finding: fn(&Burst<'_>, bool) -> Option<Finding>,
    },
    Rule {
        could_be: fn(&RunOutline) -> bool,
        judge: fn(&RunCalls<'_>) -> Option<Finding>,
    },
}

/// A run as the fold holds it, before its calls are sorted: enough for a rule judging runs itself
/// ([`BurstFold::judged_by`]) to pass over those that cannot be a finding without settling them (most
/// runs are a workload's few routine calls).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOutline {
    /// Distinct `subject` values; [`NAMES_PER_RUN`] when more were seen than it names.
    pub subjects: usize,
    /// The `kind` bits of every call, or'ed.
    pub kinds: u8,
}

/// Where an observation sorts: the engine's order (time, rank, event id).
type OrderKey = (i64, u8, Option<Box<str>>);
/// An [`OrderKey`] borrowed from the call it is of.
type OrderRef<'a> = (i64, u8, Option<&'a str>);

fn order_ref(key: &OrderKey) -> OrderRef<'_> {
    (key.0, key.1, key.2.as_deref())
}

fn owned_key(key: OrderRef<'_>) -> OrderKey {
    (key.0, key.1, key.2.map(Box::from))
}

/// A detail or subject value of a run and where it first appears. `hash` ([`id_hash`] of the name)
/// lets a lookup pass over the other values without reading their text, each a heap block of its own.
struct Named {
    name: Box<str>,
    hash: u64,
    first: OrderKey,
}

/// Index of an unnamed value (over [`NAMES_PER_RUN`]), or no value (an empty subject).
const UNNAMED: u32 = u32::MAX;
const NO_VALUE: u32 = u32::MAX - 1;

/// One call of a run.
#[derive(Clone, Copy)]
struct Call {
    at: i64,
    /// Hash of the `eventID`; `has_id` false when the record had none (never a repeat then).
    id: u64,
    has_id: bool,
    kind: u8,
    detail: u32,
    subject: u32,
}

/// A run's latest call: where it sorts and its `eventTime` as written. It changes with nearly every call
/// of a time-ordered input, so it keeps its buffers.
#[derive(Default)]
struct Latest {
    at: i64,
    rank: u8,
    id: Option<String>,
    time: String,
}

impl Latest {
    fn key(&self) -> OrderRef<'_> {
        (self.at, self.rank, self.id.as_deref())
    }

    fn set(&mut self, key: OrderRef<'_>, time: &str) {
        (self.at, self.rank) = (key.0, key.1);
        match (&mut self.id, key.2) {
            (Some(buffer), Some(id)) => {
                buffer.clear();
                buffer.push_str(id);
            }
            (slot, id) => *slot = id.map(str::to_owned),
        }
        self.time.clear();
        self.time.push_str(time);
    }
}

struct FoldRun {
    first: Observation,
    latest: Latest,
    last_at: i64,
    calls: Vec<Call>,
    /// Every call's `kind`, or'ed.
    kinds: u8,
    details: Names,
    subjects: Names,
}

impl Call {
    /// The call `obs` is (sorting at `key`), its detail and subject named in `details` and `subjects`.
    fn of(
        obs: &Observed<'_>,
        key: OrderRef<'_>,
        details: &mut Names,
        subjects: &mut Names,
    ) -> Call {
        Call {
            at: obs.at,
            id: obs.event_id().map_or(0, id_hash),
            has_id: obs.event_id().is_some(),
            kind: obs.kind,
            detail: details.index_of(&obs.detail, key),
            subject: if obs.subject.is_empty() {
                NO_VALUE
            } else {
                subjects.index_of(&obs.subject, key)
            },
        }
    }
}

/// The same value in every worker's fold, and cheap on a 36-byte `eventID`, eight bytes at a time (this
/// runs once per observed call). Two ids of one run sharing a hash at the same time would count as one
/// call: at 64 bits, not a practical concern.
fn id_hash(id: &str) -> u64 {
    let mut hasher = WordHashed::default();
    hasher.write(id.as_bytes());
    hasher.finish()
}

/// A run's distinct detail (or subject) values, each numbered by its place in the list. Looked up by
/// a scan while there are few, through a map once there are more (a run may name hundreds of secrets).
#[derive(Default)]
struct Names {
    list: Vec<Named>,
    /// Each value's hash, in the list's order: a scan reads these eight to a cache line, not the values.
    hashes: Vec<u64>,
    /// Each value's place by its hash ([`Named::hash`]), so the map holds no copy of the text. Two values
    /// sharing a hash (made on purpose: the hash is unkeyed) keep the first in the map; the second is
    /// found by a scan of the list, at most [`NAMES_PER_RUN`] long.
    index: HashMap<u64, u32, BuildHasherDefault<PreHashed>>,
}

/// Values a run looks up by a scan of its list before it keeps a map of them.
const SCANNED_NAMES: usize = 8;

impl std::ops::Deref for Names {
    type Target = [Named];
    fn deref(&self) -> &[Named] {
        &self.list
    }
}

impl Names {
    /// The number of `name`, added (first appearing at `key`) when new and there is room; an earlier
    /// `key` moves its first appearance.
    fn index_of(&mut self, name: &str, key: OrderRef<'_>) -> u32 {
        let hash = id_hash(name);
        if let Some(i) = self.find(name, hash) {
            if key < order_ref(&self.list[i].first) {
                self.list[i].first = owned_key(key);
            }
            return i as u32;
        }
        self.push(Named {
            name: name.into(),
            hash,
            first: owned_key(key),
        })
    }

    /// [`Names::index_of`] for a value of another run, moved rather than copied.
    fn adopt(&mut self, named: Named) -> u32 {
        if let Some(i) = self.find(&named.name, named.hash) {
            if named.first < self.list[i].first {
                self.list[i].first = named.first;
            }
            return i as u32;
        }
        self.push(named)
    }

    fn find(&self, name: &str, hash: u64) -> Option<usize> {
        let scan = || {
            (self.hashes.iter().zip(&self.list)).position(|(&h, n)| h == hash && &*n.name == name)
        };
        if self.list.len() <= SCANNED_NAMES {
            return scan();
        }
        match self.index.get(&hash) {
            Some(&i) if &*self.list[i as usize].name == name => Some(i as usize),
            // Another value with the same hash holds the map's place.
            Some(_) => scan(),
            None => None,
        }
    }

    /// Adds a value not in the list, when there is room.
    fn push(&mut self, named: Named) -> u32 {
        if self.list.len() >= NAMES_PER_RUN {
            return UNNAMED;
        }
        self.hashes.push(named.hash);
        self.list.push(named);
        let last = self.list.len() - 1;
        if self.list.len() > SCANNED_NAMES {
            if self.index.is_empty() {
                // In reverse, so that of values sharing a hash the first keeps the place.
                self.index = (self.list.iter().enumerate().rev())
                    .map(|(i, n)| (n.hash, i as u32))
                    .collect();
            } else {
                self.index
                    .entry(self.list[last].hash)
                    .or_insert(last as u32);
            }
        }
        last as u32
    }
}

impl FoldRun {
    fn new(obs: Observed<'_>) -> Box<FoldRun> {
        let mut details = Names::default();
        let mut subjects = Names::default();
        let mut latest = Latest::default();
        let call = Call::of(&obs, obs.order(), &mut details, &mut subjects);
        latest.set(obs.order(), obs.event_time());
        Box::new(FoldRun {
            last_at: obs.at,
            kinds: obs.kind,
            first: obs.into_observation(),
            latest,
            calls: {
                // Room for the next call too: most runs grow past one.
                let mut calls = Vec::with_capacity(RUN_START_CALLS);
                calls.push(call);
                calls
            },
            details,
            subjects,
        })
    }

    /// Takes in one more call of this run's principal that touches it; the same as absorbing a run of
    /// that one call, without building one (nor copying the call unless it comes first). Returns how
    /// many of its names did not fit.
    fn take(&mut self, obs: Observed<'_>) -> u64 {
        let key = obs.order();
        let call = Call::of(&obs, key, &mut self.details, &mut self.subjects);
        self.calls.push(call);
        self.kinds |= call.kind;
        if key > self.latest.key() {
            self.latest.set(key, obs.event_time());
        }
        self.last_at = self.last_at.max(obs.at);
        if key < self.first.order() {
            self.first = obs.into_observation();
        }
        u64::from(call.detail == UNNAMED) + u64::from(call.subject == UNNAMED)
    }

    /// Takes in another run of the same principal that touches this one.
    fn absorb(&mut self, other: Box<FoldRun>) -> u64 {
        let other = *other;
        let mut unnamed = 0;
        let remap = |ours: &mut Names, theirs: Names, unnamed: &mut u64| -> Vec<u32> {
            theirs
                .list
                .into_iter()
                .map(|named| {
                    let i = ours.adopt(named);
                    if i == UNNAMED {
                        *unnamed += 1;
                    }
                    i
                })
                .collect()
        };
        let details = remap(&mut self.details, other.details, &mut unnamed);
        let subjects = remap(&mut self.subjects, other.subjects, &mut unnamed);
        let moved = |index: u32, map: &[u32]| match index {
            UNNAMED | NO_VALUE => index,
            i => map.get(i as usize).copied().unwrap_or(UNNAMED),
        };
        self.kinds |= other.kinds;
        self.calls.extend(other.calls.iter().map(|call| Call {
            detail: moved(call.detail, &details),
            subject: moved(call.subject, &subjects),
            ..*call
        }));
        if other.latest.key() > self.latest.key() {
            self.latest = other.latest;
        }
        self.last_at = self.last_at.max(other.last_at);
        if other.first.order() < self.first.order() {
            self.first = other.first;
        }
        unnamed
    }

    /// Sorts the calls by time and drops repeated events.
    fn settle(&mut self) {
        self.calls.sort_unstable_by_key(|c| (c.at, c.id, c.has_id));
        self.calls.dedup_by(|later, earlier| {
            later.has_id && earlier.has_id && later.at == earlier.at && later.id == earlier.id
        });
    }

    /// The run as [`bursts`] reports it, when it is a burst.
    fn burst(&mut self, shape: BurstShape) -> Option<Burst<'_>> {
        // Fewer calls than a burst needs, repeats included, cannot be one: passed over unsorted.
        if self.calls.len() < shape.threshold {
            return None;
        }
        let (burst, is_burst) = self.summary(shape);
        is_burst.then_some(burst)
    }

    /// The run as [`runs`] reports it, with whether it is a burst of `shape`.
    fn summary(&mut self, shape: BurstShape) -> (Burst<'_>, bool) {
        self.settle();
        let is_burst = self.is_dense(shape);
        (self.summarised(), is_burst)
    }

    /// Whether the settled run holds `threshold` calls within the window, ending at a call no earlier
    /// than the one that brought its `min_kinds`-th distinct detail (unnamed ones count as one more).
    fn is_dense(&self, shape: BurstShape) -> bool {
        let mut firsts: Vec<i64> = self.details.iter().map(|n| n.first.0).collect();
        if let Some(at) = self
            .calls
            .iter()
            .filter(|c| c.detail == UNNAMED)
            .map(|c| c.at)
            .min()
        {
            firsts.push(at);
        }
        firsts.sort_unstable();
        let Some(&kinds_at) = firsts.get(shape.min_kinds.max(1) - 1) else {
            return false;
        };
        let mut start = 0;
        for (end, call) in self.calls.iter().enumerate() {
            while call.at - self.calls[start].at > shape.window_ms {
                start += 1;
            }
            // Calls at the same time as this one that follow it are in its window too.
            let group_end = self.calls[end..]
                .iter()
                .take_while(|c| c.at == call.at)
                .count()
                + end;
            if call.at >= kinds_at && group_end - start >= shape.threshold {
                return true;
            }
        }
        false
    }

    /// The settled run's counts and names, as a [`Burst`] whether it is one or not.
    fn summarised(&self) -> Burst<'_> {
        let mut detail_counts = vec![0u64; self.details.len()];
        let mut unnamed_details = 0u64;
        let mut failed = 0;
        for call in &self.calls {
            match detail_counts.get_mut(call.detail as usize) {
                Some(n) => *n += 1,
                None => unnamed_details += 1,
            }
            failed += u64::from(call.kind & FAILED != 0);
        }
        let mut order: Vec<usize> = (0..self.details.len()).collect();
        order.sort_by(|&a, &b| self.details[a].first.cmp(&self.details[b].first));
        let mut details = BTreeMap::new();
        let mut other_details = unnamed_details;
        for (rank, &i) in order.iter().enumerate() {
            if rank < LIST_CAP {
                details.insert(&*self.details[i].name, detail_counts[i]);
            } else {
                other_details += detail_counts[i];
            }
        }
        let mut subject_order: Vec<&Named> = self.subjects.iter().collect();
        subject_order.sort_by(|a, b| a.first.cmp(&b.first));
        let subjects = subject_order
            .into_iter()
            .take(LIST_CAP)
            .map(|n| &*n.name)
            .collect();
        Burst {
            first: &self.first,
            last_time: &self.latest.time,
            count: self.calls.len() as u64,
            failed,
            kinds: self.kinds,
            subjects,
            details,
            other_details,
        }
    }

    fn outline(&self) -> RunOutline {
        RunOutline {
            subjects: self.subjects.len(),
            kinds: self.kinds,
        }
    }

    /// The run as a rule's own judgement reads it.
    fn calls(&mut self) -> RunCalls<'_> {
        self.settle();
        RunCalls {
            first: &self.first,
            last_time: &self.latest.time,
            calls: self
                .calls
                .iter()
                .map(|call| RunCall {
                    at: call.at,
                    kind: call.kind,
                    detail: named(&self.details, call.detail),
                    subject: named(&self.subjects, call.subject),
                    detail_index: call.detail,
                    subject_index: call.subject,
                })
                .collect(),
        }
    }
}

/// The value at `index` of a run's names, when it has one.
fn named(names: &[Named], index: u32) -> Option<&str> {
    names.get(index as usize).map(|n| &*n.name)
}

/// One principal's run of calls, in time order with repeated events dropped, for a rule that judges it
/// itself ([`BurstFold::judged_by`]).
pub struct RunCalls<'r> {
    /// The run's first call, whole.
    pub first: &'r Observation,
    /// The `eventTime` of its last call, as written.
    pub last_time: &'r str,
    pub calls: Vec<RunCall<'r>>,
}

/// One call of a [`RunCalls`].
pub struct RunCall<'r> {
    pub at: i64,
    pub kind: u8,
    /// The call's `detail` and `subject` (`None` when empty, or when the run named too many to keep:
    /// the fold then reports a limit).
    pub detail: Option<&'r str>,
    pub subject: Option<&'r str>,
    /// The same values as small integers, equal for equal values within one run, below
    /// [`NAMES_PER_RUN`] when named.
    pub detail_index: u32,
    pub subject_index: u32,
}

impl BurstFold {
    /// A fold of the rule `meta` reporting each burst of `shape` through `finding`.
    pub fn new(
        meta: &'static RuleMeta,
        shape: BurstShape,
        finding: fn(&Burst<'_>) -> Finding,
    ) -> BurstFold {
        BurstFold::with(meta, shape.window_ms, Verdict::Burst { shape, finding })
    }

    /// A fold of the rule `meta` handing every run to `finding`, with whether it is a burst of
    /// `shape`, exactly as [`runs`] does over the time-sorted observations (`None`: nothing to report).
    pub fn every_run(
        meta: &'static RuleMeta,
        shape: BurstShape,
        finding: fn(&Burst<'_>, bool) -> Option<Finding>,
    ) -> BurstFold {
        BurstFold::with(meta, shape.window_ms, Verdict::EveryRun { shape, finding })
    }

    /// A fold of the rule `meta` over runs with no gap over `window_ms`, each judged by `judge` unless
    /// its outline says it cannot be a finding (`could_be` false: it must never be for a run `judge`
    /// would report).
    pub fn judged_by(
        meta: &'static RuleMeta,
        window_ms: i64,
        could_be: fn(&RunOutline) -> bool,
        judge: fn(&RunCalls<'_>) -> Option<Finding>,
    ) -> BurstFold {
        BurstFold::with(meta, window_ms, Verdict::Rule { could_be, judge })
    }

    fn with(meta: &'static RuleMeta, window_ms: i64, verdict: Verdict) -> BurstFold {
        BurstFold {
            meta,
            window_ms,
            verdict,
            by_principal: HashMap::new(),
            runs: 0,
            calls: 0,
            left_out: 0,
            unnamed: 0,
        }
    }

    fn insert(&mut self, principal: &str, run: Box<FoldRun>) {
        let window = self.window_ms;
        let count = run.calls.len();
        if self.calls + count > CALL_CAP {
            self.left_out += count as u64;
            return;
        }
        if !self.by_principal.contains_key(principal) {
            if self.runs >= RUN_CAP {
                self.left_out += count as u64;
                return;
            }
            self.by_principal.insert(principal.into(), BTreeMap::new());
        }
        let Some(list) = self.by_principal.get_mut(principal) else {
            return;
        };
        let touched: Vec<i64> = touching(list, run.first.at, run.last_at, window).collect();
        if touched.is_empty() && self.runs >= RUN_CAP {
            self.left_out += count as u64;
            return;
        }
        let Some((merged, unnamed)) = merge_touched(list, &touched, Some(run)) else {
            return;
        };
        self.unnamed += unnamed;
        self.runs = self.runs + 1 - touched.len();
        self.calls += count;
        list.insert(merged.first.at, merged);
    }
}

/// Takes the runs starting at `starts` (and `extra`) out of `list` and merges them into one, the
/// longest taking in the others (a call joining a long burst copies nothing of it). Returns the run
/// and how many names did not fit.
fn merge_touched(
    list: &mut BTreeMap<i64, Box<FoldRun>>,
    starts: &[i64],
    extra: Option<Box<FoldRun>>,
) -> Option<(Box<FoldRun>, u64)> {
    let mut parts: Vec<Box<FoldRun>> = starts
        .iter()
        .filter_map(|start| list.remove(start))
        .collect();
    parts.extend(extra);
    let longest = parts
        .iter()
        .enumerate()
        .max_by_key(|(_, r)| r.calls.len())
        .map(|(i, _)| i)?;
    let mut merged = parts.swap_remove(longest);
    let unnamed = parts.into_iter().map(|other| merged.absorb(other)).sum();
    Some((merged, unnamed))
}

impl Span for FoldRun {
    fn first_at(&self) -> i64 {
        self.first.at
    }
    fn last_at(&self) -> i64 {
        self.last_at
    }
}

impl SequenceFold for BurstFold {
    fn add(&mut self, mut observed: Observed<'_>) {
        // Most calls fall within exactly one run of their principal: add them to it in place. A call
        // bridging runs merges them and joins the result; only a call touching none starts a run.
        if self.calls < CALL_CAP {
            if let Some(list) = self.by_principal.get_mut(observed.principal.as_ref()) {
                let (window, at) = (self.window_ms, observed.at);
                let mut unnamed = 0;
                match take_in_place(list, at, window, observed, |run, call| {
                    unnamed = run.take(call);
                }) {
                    None => {
                        self.unnamed += unnamed;
                        self.calls += 1;
                        return;
                    }
                    Some(back) => observed = back,
                }
                let touched: Vec<i64> = touching(list, at, at, window).collect();
                if touched.is_empty() && self.runs < RUN_CAP {
                    // A call of a known principal far from its runs starts one: what `insert` does,
                    // without looking the principal up twice more or gathering one run to merge.
                    list.insert(at, FoldRun::new(observed));
                    self.runs += 1;
                    self.calls += 1;
                    return;
                }
                if let Some((mut merged, unnamed)) = merge_touched(list, &touched, None) {
                    self.unnamed += unnamed + merged.take(observed);
                    self.runs = self.runs + 1 - touched.len();
                    self.calls += 1;
                    list.insert(merged.first.at, merged);
                    return;
                }
            }
        }
        let principal = observed.principal.clone();
        self.insert(&principal, FoldRun::new(observed));
    }

    fn merge(&mut self, other: Box<dyn SequenceFold>) {
        let Ok(other) = other.into_any().downcast::<BurstFold>() else {
            return;
        };
        let other = *other;
        self.left_out += other.left_out;
        self.unnamed += other.unnamed;
        for (principal, runs) in other.by_principal {
            for run in runs.into_values() {
                self.insert(&principal, run);
            }
        }
    }

    fn finish(self: Box<Self>, out: &mut Report) -> Option<StateLimit> {
        let BurstFold {
            meta,
            verdict,
            by_principal,
            left_out,
            unnamed,
            ..
        } = *self;
        for runs in by_principal.into_values() {
            for mut run in runs.into_values() {
                let found = match verdict {
                    Verdict::Burst { shape, finding } => run.burst(shape).map(|b| finding(&b)),
                    Verdict::EveryRun { shape, finding } => {
                        let (run, is_burst) = run.summary(shape);
                        finding(&run, is_burst)
                    }
                    Verdict::Rule { could_be, judge } => could_be(&run.outline())
                        .then(|| judge(&run.calls()))
                        .flatten(),
                };
                out.extend(found);
            }
        }
        if left_out > 0 {
            Some(StateLimit {
                rule: meta.code,
                events_left_out: left_out,
                limit: format!("{RUN_CAP} runs of calls or {CALL_CAP} calls in all"),
            })
        } else if unnamed > 0 {
            Some(StateLimit {
                rule: meta.code,
                events_left_out: unnamed,
                limit: format!("{NAMES_PER_RUN} distinct calls named per burst"),
            })
        } else {
            None
        }
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }

    /// A run settles its calls by time and event id before it is judged (`FoldRun::settle`).
    fn drops_repeats(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::EventContext;
    use crate::rules::cloudtrail::access_denied_burst::META;
    use crate::rules::cloudtrail::common::testing::fold_dealt_to_two;

    const SHAPE: BurstShape = BurstShape {
        window_ms: 600_000,
        threshold: 10,
        min_kinds: 3,
    };

    /// Everything a burst finding is made of, as text.
    fn described(burst: &Burst<'_>) -> Finding {
        let mut finding = burst_finding(&META, burst, Severity::Low);
        finding.message = format!(
            "{} {:?} {} {} {} {:#04x} {:?} {:?} {}",
            burst.first.principal,
            burst.first.event.event_id,
            burst.last_time,
            burst.count,
            burst.failed,
            burst.kinds,
            burst.subjects,
            burst.details,
            burst.other_details
        );
        finding
    }

    /// [`described`], with whether the run was a burst.
    fn described_run(run: &Burst<'_>, is_burst: bool) -> Option<Finding> {
        let mut finding = described(run);
        finding.message = format!("{is_burst} {}", finding.message);
        Some(finding)
    }

    /// A small deterministic generator (xorshift), so failures replay.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    fn observation(rng: &mut Rng, n: usize) -> Observation {
        // Calls a few seconds to a few minutes apart, so runs, gaps and bursts all happen; times
        // repeat (CloudTrail's one-second resolution).
        let at = 1_722_500_000_000 + (rng.below(4_000) as i64) * 1_000;
        let secs = at / 1000;
        Observation {
            at,
            rank: 0,
            // FAILED, and now and then a rule's own mark (kept or'ed per run).
            kind: [0, 0, FAILED, 0x02, FAILED | 0x04][rng.below(5) as usize],
            principal: format!("arn:aws:iam::111122223333:user/u{}", rng.below(3)).into(),
            subject: ["", "s3", "iam", "ec2", "kms"][rng.below(5) as usize].into(),
            detail: format!("api{}", rng.below(30)).into(),
            event: Box::new(EventContext {
                event_time: format!("t{secs}"),
                event_id: (rng.below(20) != 0).then(|| format!("id-{n}")),
                ..EventContext::default()
            }),
            rule: 0,
        }
    }

    fn messages(mut findings: Vec<Finding>) -> Vec<String> {
        let mut out: Vec<String> = findings.drain(..).map(|f| f.message).collect();
        out.sort();
        out
    }

    /// The fold, fed in any order, split over two workers and merged, with events delivered twice,
    /// reports exactly what the time-sorted walk reports: its bursts, and with
    /// [`BurstFold::every_run`] every run.
    #[test]
    fn the_fold_finds_the_bursts_of_the_sorted_walk_whatever_the_order() {
        let mut bursts_seen = 0;
        let mut quiet_runs_seen = 0;
        for seed in 1..=60u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let count = 50 + rng.below(400) as usize;
            let mut calls: Vec<Observation> =
                (0..count).map(|n| observation(&mut rng, n)).collect();
            // A few deliveries twice (same event id and time).
            for i in 0..count / 20 {
                let twice = calls[i * 7 % count].clone();
                calls.push(twice);
            }
            let mut sorted = calls.clone();
            sorted.sort_by(|a, b| {
                (a.at, a.rank, &a.event.event_id).cmp(&(b.at, b.rank, &b.event.event_id))
            });
            sorted.dedup_by(|later, earlier| {
                later.at == earlier.at
                    && later.event.event_id.is_some()
                    && later.event.event_id == earlier.event.event_id
            });
            let mut expected = Vec::new();
            bursts(&sorted, SHAPE, |burst| expected.push(described(burst)));
            bursts_seen += expected.len();
            let mut expected_runs = Vec::new();
            runs(&sorted, SHAPE, |run, is_burst| {
                quiet_runs_seen += usize::from(!is_burst);
                expected_runs.extend(described_run(run, is_burst));
            });

            // Shuffled, dealt to two folds.
            for i in (1..calls.len()).rev() {
                let j = rng.below(i as u64 + 1) as usize;
                calls.swap(i, j);
            }
            let (every, limit) = fold_dealt_to_two(calls.clone(), || {
                Box::new(BurstFold::every_run(&META, SHAPE, described_run))
            });
            assert_eq!(limit, None);
            assert_eq!(
                messages(every.into_findings()),
                messages(expected_runs),
                "seed {seed}, every run"
            );
            let (report, limit) =
                fold_dealt_to_two(calls, || Box::new(BurstFold::new(&META, SHAPE, described)));
            assert_eq!(limit, None);
            assert_eq!(
                messages(report.into_findings()),
                messages(expected),
                "seed {seed}"
            );
        }
        assert!(
            bursts_seen > 20 && quiet_runs_seen > 20,
            "the inputs must hold bursts and quiet runs: {bursts_seen}, {quiet_runs_seen}"
        );
    }

    /// Values are found by hash once a run names more than a few, and two values sharing a hash (the
    /// hash is unkeyed: an attacker can make them) are still told apart, whichever came first and
    /// whether they came one by one or with another run's names.
    #[test]
    fn names_sharing_a_hash_keep_their_own_numbers() {
        let named = |name: &str, hash: u64| Named {
            name: name.into(),
            hash,
            first: (0, 0, None),
        };
        for before_the_map in [true, false] {
            let mut names = Names::default();
            let mut expected = Vec::new();
            let fillers = if before_the_map { 0 } else { SCANNED_NAMES + 3 };
            for i in 0..fillers {
                expected.push((format!("filler-{i}"), 1_000 + i as u64));
            }
            expected.push(("first".to_owned(), 7));
            expected.push(("second".to_owned(), 7));
            for i in 0..SCANNED_NAMES + 5 {
                expected.push((format!("after-{i}"), 2_000 + i as u64));
            }
            for (name, hash) in &expected {
                names.adopt(named(name, *hash));
            }
            assert!(!names.index.is_empty(), "past the scan, a map");
            for (i, (name, hash)) in expected.iter().enumerate() {
                assert_eq!(names.find(name, *hash), Some(i), "{name}");
                assert_eq!(names.adopt(named(name, *hash)), i as u32, "{name} again");
            }
            assert_eq!(names.find("third", 7), None);
            assert_eq!(names.len(), expected.len());
        }
    }

    /// A run of exactly `threshold` calls is a burst and a run one short is not: the fold passes over
    /// runs shorter than the threshold unjudged, counting a repeated event before it drops it.
    #[test]
    fn a_run_of_just_the_threshold_is_a_burst_and_one_short_is_not() {
        let call = |n: usize, id: usize| {
            let mut rng = Rng(1);
            let mut call = observation(&mut rng, id);
            call.at = 1_722_500_000_000 + n as i64 * 1_000;
            call.principal = "arn:aws:iam::111122223333:user/probe".into();
            call.detail = format!("api{}", n % 3).into();
            call.event.event_id = Some(format!("id-{id}"));
            call
        };
        let folded = |calls: Vec<Observation>| {
            let mut fold: Box<dyn SequenceFold> = Box::new(BurstFold::new(&META, SHAPE, described));
            for call in calls {
                fold.add(Observed::from(call));
            }
            let mut report = Report::default();
            assert_eq!(fold.finish(&mut report), None);
            report.into_findings().len()
        };
        assert_eq!(
            folded((0..SHAPE.threshold).map(|n| call(n, n)).collect()),
            1
        );
        assert_eq!(
            folded((1..SHAPE.threshold).map(|n| call(n, n)).collect()),
            0
        );
        // Ten deliveries, nine calls: one is the same event twice.
        let mut repeated: Vec<Observation> = (1..SHAPE.threshold).map(|n| call(n, n)).collect();
        repeated.push(call(5, 5));
        assert_eq!(folded(repeated), 0);
    }

    #[test]
    fn a_fold_over_its_limit_says_so() {
        let mut fold: Box<dyn SequenceFold> = Box::new(BurstFold::new(&META, SHAPE, described));
        let mut rng = Rng(7);
        for n in 0..RUN_CAP + 10 {
            let mut call = observation(&mut rng, n);
            // Every call its own principal: a new run each.
            call.principal = format!("p{n}").into();
            fold.add(Observed::from(call));
        }
        let limit = fold.finish(&mut Report::default()).expect("limit reached");
        assert_eq!(limit.rule, "CT034");
        assert_eq!(limit.events_left_out, 10);
    }
}
