//! What a rule is, for every family: the one module below the engine and the rule files.
//!
//! A rule declares a [`RuleMeta`] (code, name, severity, doc, the events it wants) and one verb, `check`,
//! over its input kind, writing into a [`Report`]: the findings, or why it could not look ("not
//! evaluated"). The input kinds:
//! - one CloudTrail record: [`CloudTrailRule::check`];
//! - CloudTrail records over time: [`SequenceRule`] observes records ([`Observation`]), then checks the
//!   observations once the input is read ([`SequenceRule::evaluate`]), or folds them as they come
//!   ([`SequenceFold`]);
//! - an account snapshot: a posture check, `fn check(&PostureContext) -> Report`
//!   ([`crate::rules::posture`]);
//! - a policy document: a policy check, `fn check(&PolicyContext, &mut Report)` ([`crate::rules::policy`]).
//!
//! Every finding starts from its rule's metadata through [`FindingBuilder`] (code, name, title, baseline
//! severity, ATT&CK and compliance ids), so no producer writes a `Finding` literal. Rules are listed once,
//! in [`crate::registry`]; the engine receives them from there and imports no rule.

use std::any::Any;
use std::borrow::Cow;

use trailguard_event::peek::RawRecord;
use trailguard_event::Record;

use crate::finding::{
    Actor, Evidence, Finding, FindingSource, Location, Outcome, Resource, Severity,
};
use crate::meta::RuleMeta;

/// The `(eventSource, eventName)` pair meaning "every record".
pub const ANY_EVENT: (&str, &str) = ("*", "*");

/// What one `(eventSource, eventName)` pair of [`RuleMeta::events`] selects: the engine reads every
/// declared pair as one of these and indexes it, so a record meets only the rules whose patterns match
/// its `eventSource` and `eventName`, decided from the two fields the raw walk reads anyway (no parse).
///
/// The pair's spelling:
/// - `("iam.amazonaws.com", "CreateUser")`: that event ([`EventPattern::Event`]);
/// - `("iam.amazonaws.com", "List*")`: events of that source whose name starts with `List`, and
///   `("iam.amazonaws.com", "*")` every event of that source ([`EventPattern::Source`]);
/// - [`ANY_EVENT`], `("*", "*")`: every record ([`EventPattern::Any`]).
///
/// A `*` anywhere else (in a source, or inside a name) is not a pattern: [`EventPattern::of`] refuses it,
/// and the registry's tests hold every rule to that. Rules reached through a pattern that is not one
/// event (a source, a prefix, every record) are asked [`CloudTrailRule::wants_raw`] /
/// [`SequenceRule::wants_raw`] before the record is parsed for them; rules reached by their exact event
/// are not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventPattern {
    /// Every record.
    Any,
    /// One event.
    Event {
        source: &'static str,
        name: &'static str,
    },
    /// Every event of `source` whose `eventName` starts with `name_prefix` (empty: every event of it).
    Source {
        source: &'static str,
        name_prefix: &'static str,
    },
}

impl EventPattern {
    /// Reads a declared pair; `None` when it is not well formed (a `*` in the source other than
    /// [`ANY_EVENT`], or one inside a name rather than at its end).
    ///
    /// ```
    /// use trailguard_rules::rule::EventPattern;
    /// assert_eq!(
    ///     EventPattern::of(("sts.amazonaws.com", "Get*")),
    ///     Some(EventPattern::Source { source: "sts.amazonaws.com", name_prefix: "Get" })
    /// );
    /// assert_eq!(EventPattern::of(("*", "*")), Some(EventPattern::Any));
    /// assert_eq!(EventPattern::of(("iam.amazonaws.com", "Get*Policy")), None);
    /// assert_eq!(EventPattern::of(("*", "CreateUser")), None);
    /// ```
    pub fn of((source, name): (&'static str, &'static str)) -> Option<EventPattern> {
        if (source, name) == ANY_EVENT {
            return Some(EventPattern::Any);
        }
        if source.is_empty() || source.contains('*') || name.is_empty() {
            return None;
        }
        match name.find('*') {
            None => Some(EventPattern::Event { source, name }),
            Some(star) if star == name.len() - 1 => Some(EventPattern::Source {
                source,
                name_prefix: &name[..star],
            }),
            Some(_) => None,
        }
    }

    /// Whether a record of `source` and `name` falls under the pattern.
    pub fn matches(&self, source: &str, name: &str) -> bool {
        match *self {
            EventPattern::Any => true,
            EventPattern::Event { source: s, name: n } => s == source && n == name,
            EventPattern::Source {
                source: s,
                name_prefix,
            } => s == source && name.starts_with(name_prefix),
        }
    }

    /// The one event the pattern names, when it names one (knowledge-base links are per event).
    pub fn event(&self) -> Option<(&'static str, &'static str)> {
        match *self {
            EventPattern::Event { source, name } => Some((source, name)),
            _ => None,
        }
    }
}

/// What a rule reports from one input: its findings, or why it could not be evaluated (a posture check
/// whose snapshot file is missing). A report with no findings that was evaluated is a pass.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    findings: Vec<Finding>,
    not_evaluated: Option<String>,
}

impl Report {
    /// An evaluated report with these findings.
    pub fn evaluated(findings: Vec<Finding>) -> Report {
        Report {
            findings,
            not_evaluated: None,
        }
    }

    /// The rule could not look; `reason` says why (names the missing input).
    pub fn not_evaluated(reason: impl Into<String>) -> Report {
        Report {
            findings: Vec::new(),
            not_evaluated: Some(reason.into()),
        }
    }

    /// "not evaluated: `FILE` missing from the snapshot".
    pub fn missing(file: &str) -> Report {
        Report::not_evaluated(format!("`{file}` missing from the snapshot"))
    }

    pub fn push(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    /// The findings (none when not evaluated).
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    pub fn into_findings(self) -> Vec<Finding> {
        self.findings
    }

    /// Why the rule could not be evaluated, or `None` when it was.
    pub fn not_evaluated_reason(&self) -> Option<&str> {
        self.not_evaluated.as_deref()
    }
}

impl Extend<Finding> for Report {
    fn extend<I: IntoIterator<Item = Finding>>(&mut self, findings: I) {
        self.findings.extend(findings);
    }
}

/// A rule that looks at one record at a time.
pub trait CloudTrailRule: Send + Sync {
    /// The rule's metadata; `META.events` lists the `(eventSource, eventName)` pairs it wants, each an
    /// [`EventPattern`].
    fn meta(&self) -> &'static RuleMeta;
    /// Appends zero or more findings for `record`. Called only for records its patterns match.
    fn check(&self, record: &Record<'_>, out: &mut Report);
    /// For a rule reached through a pattern that is not one event ([`ANY_EVENT`], a source, a name
    /// prefix): whether a record may concern it, judged from its raw JSON text before parsing (e.g. it
    /// mentions `"Root"`). `false` lets the scan skip parsing records no rule wants. Answer `true` when
    /// unsure; the default does. A record some other rule wanted may still reach `check`.
    fn wants_raw(&self, raw: &RawRecord<'_>) -> bool {
        let _ = raw;
        true
    }
    /// For a rule on [`ANY_EVENT`] that judges only a few exact events, those events. Such a rule
    /// declares every event so that the knowledge base does not list it under events it mostly lets
    /// pass (it judges a policy name, a caller type, an outcome), yet the engine routes it only these,
    /// as exact events: no record of another event reaches it, nor asks its `wants_raw`. Empty (the
    /// default): routed as its patterns say.
    fn watched(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }
}

/// A rule that needs state across records (e.g. a burst of failed logins, a user created then keyed).
///
/// Workers call [`SequenceRule::observe`] for the declared events and keep the compact observations;
/// `Engine::finish` then calls [`SequenceRule::evaluate`] once with every observation sorted by time.
pub trait SequenceRule: Send + Sync {
    fn meta(&self) -> &'static RuleMeta;
    /// What the rule needs from `record`, or `None` when the record is irrelevant. It borrows the
    /// record: the engine makes the owned [`Observation`] only when it keeps it, and a fold only for
    /// the calls it keeps whole ([`Observed::into_observation`]).
    fn observe<'r>(&self, record: &'r Record<'r>) -> Option<Observed<'r>>;
    /// Runs over this rule's observations, sorted by `(at, rank)`.
    fn evaluate(&self, observations: &[Observation], out: &mut Report);
    /// See [`CloudTrailRule::wants_raw`].
    fn wants_raw(&self, raw: &RawRecord<'_>) -> bool {
        let _ = raw;
        true
    }
    /// A fresh fold for a rule whose state is a summary per key (e.g. one per session) rather than every
    /// event: the engine then hands it each observation as it comes ([`SequenceFold::add`]) instead of
    /// keeping them, so the state grows with keys, not events. `None` (the default): keep observations
    /// and call [`SequenceRule::evaluate`] at the end.
    fn fold(&self) -> Option<Box<dyn SequenceFold>> {
        None
    }
    /// Whether [`SequenceRule::observe`] reads only what `Record::peek_typed` reads (names, times,
    /// identity, error code and message, and `requestParameters`) and the outcome through
    /// [`call_failure`], never the other nested documents (`responseElements`, `additionalEventData`)
    /// or the raw text. A record that only such rules want is then observed from
    /// its typed peek, without a parse (about a quarter of the cost); one whose text holds `"Failure"`
    /// (which [`call_failure`] reads in `responseElements`) or that the peek cannot read for sure is
    /// parsed as usual. Default `false`.
    fn typed_fields_only(&self) -> bool {
        false
    }
    /// How far apart in event time (ms) two observations can be and still bear on one finding. A
    /// long-running service forgets observations further behind the newest than this (plus slack for late
    /// delivery). `None` (the default): no bound, keep them, e.g. definitions such as which buckets receive
    /// logs.
    fn reach_ms(&self) -> Option<i64> {
        None
    }
}

/// The state of a folding sequence rule (see [`SequenceRule::fold`]): one per worker, merged at the end.
/// It must stay bounded on its own and report, from [`SequenceFold::finish`], what it had to leave out.
pub trait SequenceFold: Send + Any {
    /// Folds one observation in; observations come in any order. Most calls a fold keeps only a few
    /// numbers of, so it makes the owned [`Observation`] ([`Observed::into_observation`]) only for
    /// those it keeps whole.
    fn add(&mut self, observed: Observed<'_>);
    /// Folds in another worker's state of the same rule.
    fn merge(&mut self, other: Box<dyn SequenceFold>);
    /// The findings, and the limit reached on the way, if any.
    fn finish(self: Box<Self>, out: &mut Report) -> Option<StateLimit>;
    /// For [`SequenceFold::merge`]: the concrete state behind the trait object.
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
    /// Whether the fold counts an event delivered twice (the same `eventID` at the same time) once on
    /// its own, as it must across workers anyway; the engine then hands it every observation without
    /// keeping their ids. Default `false`: the engine drops repeats it has seen before they come.
    fn drops_repeats(&self) -> bool {
        false
    }
}

/// A rule that reached the bound on the state it may keep: some events were left out, so its findings
/// may be incomplete. The run summary prints each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateLimit {
    /// The rule's code (`CT014`).
    pub rule: &'static str,
    /// Events the rule could not take into account.
    pub events_left_out: u64,
    /// What the limit is, for people (`more than 4096 root sessions`).
    pub limit: String,
}

impl std::fmt::Display for StateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: state limit reached ({}): {} events were left out, so its findings may be incomplete",
            self.rule, self.limit, self.events_left_out
        )
    }
}

/// The facts of one event a finding needs, owned, so sequence rules can build findings after the input
/// buffers are gone.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EventContext {
    pub event_time: String,
    pub event_name: String,
    pub event_source: String,
    pub event_id: Option<String>,
    pub account: Option<String>,
    pub region: Option<String>,
    pub actor: Actor,
    pub error_code: Option<String>,
}

impl EventContext {
    pub fn from_record(record: &Record<'_>) -> EventContext {
        let identity = &record.user_identity;
        let actor = Actor {
            arn: identity.best_arn().map(str::to_owned),
            identity_type: identity.identity_type.as_deref().map(str::to_owned),
            user_name: identity
                .user_name
                .as_deref()
                .or_else(|| {
                    identity
                        .session_context
                        .as_ref()?
                        .session_issuer
                        .as_ref()?
                        .user_name
                        .as_deref()
                })
                // An Identity Center user's newer records give its directory id only.
                .or_else(|| identity.on_behalf_of.as_ref()?.user_id.as_deref())
                .map(str::to_owned),
            access_key_id: identity
                .access_key_id
                .as_deref()
                .filter(|k| !k.is_empty())
                .map(str::to_owned),
            source_ip: record.source_ip_address.as_deref().map(str::to_owned),
            user_agent: record.user_agent.as_deref().map(str::to_owned),
            mfa: identity.mfa_authenticated(),
        };
        EventContext {
            event_time: trailguard_event::event_time_rfc3339(&record.event_time).into_owned(),
            event_name: record.event_name.to_string(),
            event_source: record.event_source.to_string(),
            event_id: record.event_id.as_deref().map(str::to_owned),
            account: record.account_id().map(str::to_owned),
            region: record.aws_region.as_deref().map(str::to_owned),
            actor,
            error_code: call_failure(record),
        }
    }

    /// `Attempt` when the call failed, else `Success`.
    pub fn outcome(&self) -> Outcome {
        match &self.error_code {
            Some(code) => Outcome::Attempt {
                error_code: code.clone(),
            },
            None => Outcome::Success,
        }
    }
}

/// What a sequence rule keeps of one record. Serialisable, so `serve` can keep a rule's observations in
/// its store and evaluate the rule over every worker's (`Engine::sequence_findings`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Observation {
    /// Event time in milliseconds since the Unix epoch.
    pub at: i64,
    /// Tie-break at equal times: CloudTrail times have one-second resolution, so a CreateUser and the
    /// CreateAccessKey that follows often share a second; a lower rank sorts first.
    pub rank: u8,
    /// Rule-defined kind of event.
    pub kind: u8,
    /// Grouping key, usually the caller (ARN) or a target user or source IP.
    pub principal: Box<str>,
    /// Rule-defined: e.g. the user created or keyed.
    pub subject: Box<str>,
    /// Rule-defined extra detail (policy ARN, access key id, ...).
    pub detail: Box<str>,
    pub event: Box<EventContext>,
    /// Index of the sequence rule that made it; set by the engine (an index of this engine only, so
    /// never serialised: `Engine::observation_rule` names the rule).
    #[serde(skip)]
    pub(crate) rule: u16,
}

impl Observation {
    /// `at` of an observation whose `eventTime` could not be read.
    pub const UNREADABLE_TIME: i64 = i64::MIN;

    /// Where it sorts: time, rank, then `eventID` (the engine's order, whatever the workers).
    pub fn order(&self) -> (i64, u8, Option<&str>) {
        (self.at, self.rank, self.event.event_id.as_deref())
    }
}

/// Runs `fold` over `observations` (any order) and finishes it into `out`: how a folding rule's
/// `evaluate`, and the engine's evaluation of stored observations, give exactly what the fold gives.
pub fn fold_all(
    mut fold: Box<dyn SequenceFold>,
    observations: &[Observation],
    out: &mut Report,
) -> Option<StateLimit> {
    for observation in observations {
        fold.add(Observed::from(observation.clone()));
    }
    fold.finish(out)
}

/// What a sequence rule takes from one record ([`SequenceRule::observe`]), borrowing the record: the
/// rule's own fields, and the event's facts read from the record only when an owned [`Observation`] is
/// made ([`Observed::into_observation`]). Most observed calls only add to a count, so most are never
/// copied. An owned observation read back (a service's store, a test) is one too ([`Observed::from`]).
#[derive(Debug)]
pub struct Observed<'r> {
    /// Event time in milliseconds since the Unix epoch ([`Observation::UNREADABLE_TIME`] when unreadable).
    pub at: i64,
    /// See [`Observation::rank`].
    pub rank: u8,
    /// See [`Observation::kind`].
    pub kind: u8,
    /// See [`Observation::principal`].
    pub principal: Cow<'r, str>,
    /// See [`Observation::subject`].
    pub subject: Cow<'r, str>,
    /// See [`Observation::detail`].
    pub detail: Cow<'r, str>,
    event: ObservedEvent<'r>,
}

/// Where an [`Observed`]'s event facts come from.
#[derive(Debug)]
enum ObservedEvent<'r> {
    Record(&'r Record<'r>),
    Owned(Box<EventContext>),
}

impl<'r> Observed<'r> {
    /// An observation of `record` (`at` read from its `eventTime`; when it cannot be read, the engine
    /// counts it and judges it on its own: a sequence cannot place it among others).
    pub fn new(
        record: &'r Record<'r>,
        kind: u8,
        rank: u8,
        principal: impl Into<Cow<'r, str>>,
        subject: impl Into<Cow<'r, str>>,
        detail: impl Into<Cow<'r, str>>,
    ) -> Option<Observed<'r>> {
        let at = trailguard_event::parse_event_time(&record.event_time)
            .map_or(Observation::UNREADABLE_TIME, |t| t.timestamp_millis());
        Some(Observed {
            at,
            rank,
            kind,
            principal: principal.into(),
            subject: subject.into(),
            detail: detail.into(),
            event: ObservedEvent::Record(record),
        })
    }

    /// The event's `eventID`.
    pub fn event_id(&self) -> Option<&str> {
        match &self.event {
            ObservedEvent::Record(record) => record.event_id.as_deref(),
            ObservedEvent::Owned(event) => event.event_id.as_deref(),
        }
    }

    /// The event's `eventTime`, as written.
    pub fn event_time(&self) -> &str {
        match &self.event {
            ObservedEvent::Record(record) => &record.event_time,
            ObservedEvent::Owned(event) => &event.event_time,
        }
    }

    /// Where it sorts: [`Observation::order`].
    pub fn order(&self) -> (i64, u8, Option<&str>) {
        (self.at, self.rank, self.event_id())
    }

    /// The owned copy, the event's facts read from the record now.
    pub fn into_observation(self) -> Observation {
        let event = match self.event {
            ObservedEvent::Record(record) => Box::new(EventContext::from_record(record)),
            ObservedEvent::Owned(event) => event,
        };
        Observation {
            at: self.at,
            rank: self.rank,
            kind: self.kind,
            principal: self.principal.into(),
            subject: self.subject.into(),
            detail: self.detail.into(),
            event,
            rule: 0,
        }
    }
}

impl From<Observation> for Observed<'static> {
    fn from(observation: Observation) -> Observed<'static> {
        Observed {
            at: observation.at,
            rank: observation.rank,
            kind: observation.kind,
            principal: Cow::Owned(observation.principal.into()),
            subject: Cow::Owned(observation.subject.into()),
            detail: Cow::Owned(observation.detail.into()),
            event: ObservedEvent::Owned(observation.event),
        }
    }
}

/// Why the call did not take effect, or `None` when it did. CloudTrail records a failure in three ways:
/// `errorCode` on API calls; a `"Failure"` value at the top of `responseElements` on sign-in events
/// (`ConsoleLogin`, `PasswordUpdated`, `SwitchRole`, `CheckMfa`, ...), which carry no error code; and an
/// `errorMessage` alone. Rules judge the outcome through this, never through `errorCode` alone, so a
/// failed root password change is an attempt, not a change. [`FindingBuilder::event`] marks such findings
/// as attempts (title, outcome, one severity lower).
pub fn call_failure(record: &Record<'_>) -> Option<String> {
    if let Some(code) = record.error_code.as_deref().filter(|c| !c.is_empty()) {
        return Some(code.to_owned());
    }
    let message = record.error_message.as_deref().filter(|m| !m.is_empty());
    // The raw text is searched first: most responses hold no "Failure" and are never parsed here.
    let says_failure = record
        .response_elements
        .is_some_and(|raw| memchr::memmem::find(raw.get().as_bytes(), b"\"Failure\"").is_some())
        && record.response_elements().is_some_and(|response| {
            response
                .as_object()
                .is_some_and(|fields| fields.values().any(|v| v.as_str() == Some("Failure")))
        });
    match (says_failure, message) {
        (_, Some(message)) => Some(message.to_owned()),
        (true, None) => Some("Failure".to_owned()),
        (false, None) => None,
    }
}

/// Starts a finding from its rule's metadata: the one place a [`Finding`] is assembled for a rule.
/// The id comes from the parts that identify the finding ([`Finding::stable_id`]); the rest is filled
/// by the family's helper (an event, a resource, a location) and then by the rule.
#[derive(Debug, Clone)]
pub struct FindingBuilder {
    finding: Finding,
}

impl FindingBuilder {
    /// A finding of `meta` from `source`, identified by `id_parts` (the rule code is added first), with
    /// the rule's title, baseline severity, ATT&CK and compliance ids; the outcome is a success.
    pub fn new(meta: &RuleMeta, source: FindingSource, id_parts: &[&str]) -> FindingBuilder {
        let mut parts = Vec::with_capacity(id_parts.len() + 1);
        parts.push(meta.code);
        parts.extend_from_slice(id_parts);
        let mut finding = Finding::new(
            Finding::stable_id(&parts),
            meta.code,
            meta.name,
            meta.title,
            meta.severity,
            source,
            String::new(),
        );
        finding.attack = meta.attack.iter().map(|s| (*s).to_owned()).collect();
        finding.compliance = meta.compliance.iter().map(|s| (*s).to_owned()).collect();
        FindingBuilder { finding }
    }

    /// A CloudTrail finding about `event`, identified by its `eventID` (else its time, name and caller):
    /// event, account, region and actor filled in, `fix.kb_entry` the event name, `severity` instead of the
    /// baseline. When the call failed the outcome is an attempt, the severity one step lower and the title
    /// starts with "Attempted:".
    pub fn event(meta: &RuleMeta, event: &EventContext, severity: Severity) -> FindingBuilder {
        let id_fallback = format!(
            "{}|{}|{}",
            event.event_time,
            event.event_name,
            event.actor.arn.as_deref().unwrap_or_default()
        );
        let id = event.event_id.as_deref().unwrap_or(&id_fallback);
        let mut builder = FindingBuilder::new(meta, FindingSource::Cloudtrail, &[id]);
        let attempted = event.error_code.is_some();
        if attempted {
            builder.finding.title = format!("Attempted: {}", meta.title);
        }
        builder.finding.severity = if attempted {
            severity.lowered()
        } else {
            severity
        };
        builder.with_event(event)
    }

    /// A builder from a finding a producer without [`RuleMeta`] started (a Sigma rule).
    pub fn from_finding(finding: Finding) -> FindingBuilder {
        FindingBuilder { finding }
    }

    /// The facts of `event`: time, name, source, id, account, region, actor, outcome (an attempt when
    /// the call failed), and its knowledge-base entry as `fix.kb_entry`.
    pub fn with_event(mut self, event: &EventContext) -> FindingBuilder {
        let finding = &mut self.finding;
        finding.outcome = event.outcome();
        // A record without a time (judged all the same, with a warning) gives a finding without one.
        finding.event_time = Some(event.event_time.clone()).filter(|t| !t.is_empty());
        finding.event_name = Some(event.event_name.clone());
        finding.event_source = Some(event.event_source.clone());
        finding.event_id = event.event_id.clone();
        finding.account = event.account.clone();
        finding.region = event.region.clone();
        finding.actor = Some(event.actor.clone());
        finding.fix.kb_entry = Some(event.event_name.clone());
        self
    }

    pub fn message(mut self, message: impl Into<String>) -> FindingBuilder {
        self.finding.message = message.into();
        self
    }

    pub fn account(mut self, account: Option<&str>) -> FindingBuilder {
        self.finding.account = account.map(str::to_owned);
        self
    }

    pub fn resource(mut self, resource: Resource) -> FindingBuilder {
        self.finding.resource = Some(resource);
        self
    }

    pub fn evidence(mut self, evidence: Evidence) -> FindingBuilder {
        self.finding.evidence.push(evidence);
        self
    }

    pub fn location(mut self, location: Location) -> FindingBuilder {
        self.finding.location = Some(location);
        self
    }

    /// The fix summary (families take it from the rule's doc).
    pub fn fix_summary(mut self, summary: impl Into<String>) -> FindingBuilder {
        self.finding.fix.summary = summary.into();
        self
    }

    pub fn build(self) -> Finding {
        self.finding
    }
}
