//! `trailguard serve`: a worker on the queue-based engine AWS already runs. CloudTrail writes log files to
//! S3; S3 event notifications (or the trail's SNS topic, or EventBridge) put one message per file on an
//! SQS queue; any number of workers compete for the messages. trailguard has no scheduler and no queue of
//! its own: visibility timeouts, retries and the dead-letter queue are SQS's.
//!
//! One message, in order:
//! 1. [`message::parse`] reads the body into work items; a body it does not understand is reported with
//!    the message id and left on the queue (after the redrive limit SQS moves it to the DLQ).
//! 2. While the worker holds the message its visibility is extended (a heartbeat every half timeout).
//! 3. Each object: [`message::triage`] skips digests, folder markers and keys outside `--prefix`; an
//!    object whose (bucket, key, ETag) is already in the store's processed-objects table is a no-op;
//!    otherwise it is fetched and scanned by the same flow as `scan` ([`engine::scan_findings`]), and
//!    its findings and its processed-object row are committed in one transaction. The next message's
//!    objects are fetched while this one's are worked ([`fetch`]).
//! 4. The message is deleted only when every item of it is committed (or skipped): the committed
//!    messages of one receive are deleted together (DeleteMessageBatch) after the last of them, their
//!    heartbeats running until then. A failure leaves it: the worker prints one line (the object, the
//!    reason, the receive count) and SQS redelivers.
//!
//! A SIGTERM (or Ctrl-C) lets each worker finish the message it is on, gives the messages it received
//! but has not started back at once (visibility 0), and exits 0. `--drain` exits when every queue is
//! empty, in flight included.

pub mod alerts;
pub(crate) mod fetch;
pub mod listen;
pub mod message;
pub mod metrics;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use trailguard_event::source::{MemorySource, Source};
use trailguard_event::{Filter, InputError, Observer, SkipReason};
use trailguard_rules::engine::{self, Engine, Observation};
use trailguard_rules::output;
use trailguard_rules::sigma::SigmaRuleSet;
use trailguard_rules::Finding;

use crate::fix::aws::api_error;
use trailguard_rules::rules::cloudtrail::delivery_silent;

use crate::store::{
    self, Delivery, FindingStore, ObjectCommit, ObjectVersion, RunId, SequenceWork,
    StoredObservation,
};
use message::{ObjectRef, Work};
use metrics::Metrics;

/// A queue and its visibility timeout (read once at start).
#[derive(Debug, Clone)]
pub struct Queue {
    pub url: String,
    pub visibility_timeout: i32,
}

/// What every worker of a process shares.
pub struct Service<'a> {
    pub engine: &'a Engine,
    pub sigma: Option<&'a SigmaRuleSet>,
    pub sqs: aws_sdk_sqs::Client,
    pub s3: aws_sdk_s3::Client,
    pub runtime: Arc<tokio::runtime::Runtime>,
    pub queues: Vec<Queue>,
    pub store: String,
    pub run: RunId,
    pub prefix: Option<String>,
    pub drain: bool,
    /// Long-poll wait per ReceiveMessage call (with `drain`, after an empty receive only).
    pub wait_seconds: i32,
    pub metrics: Arc<Metrics>,
    pub stop: tokio::sync::watch::Receiver<bool>,
    /// One line per object on stderr (a terminal only).
    pub progress: bool,
    /// How long an account and region that was delivering may stay silent before CT051 is raised.
    pub silence_after: chrono::TimeDelta,
    /// Mutes and alert destinations (`--alert`, `--config`); `None`: neither is applied.
    pub alerts: Option<alerts::ServeAlerts>,
}

/// Why one object (or inline record) could not be processed. `kind` is the metric label.
#[derive(Debug)]
struct Failure {
    kind: &'static str,
    reason: String,
}

impl Failure {
    fn new(kind: &'static str, reason: impl Into<String>) -> Failure {
        Failure {
            kind,
            reason: reason.into(),
        }
    }
}

fn chain(err: impl Into<anyhow::Error>) -> String {
    format!("{:#}", err.into())
}

/// Why [`Service::process`] leaves a message on the queue (each is already reported on stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Left {
    /// The body is not a notification trailguard reads.
    Unrecognised,
    /// At least one of its objects failed; the others are committed. `store` when a failure was the
    /// store's (the worker then reconnects).
    Failed { store: bool },
}

/// What became of one received message in [`Service::handle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Handled {
    /// Every item is committed or skipped: the message may be deleted.
    Committed,
    /// It stays on the queue (already reported).
    Left,
    /// It stays, and the store failed: the worker reconnects.
    StoreFailed,
}

/// A received message's facts for reports.
struct Received {
    id: String,
    receipt: String,
    body: String,
    receive_count: String,
}

impl Service<'_> {
    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// One worker: receives, works and deletes until stopped (or, with `--drain`, until the queues are
    /// empty). Opens its own store connection.
    pub fn worker(&self, index: usize) -> anyhow::Result<()> {
        let mut store = store::open(&self.store)?;
        let mut next = index % self.queues.len().max(1);
        // One worker per process watches delivery health, at start and then every half silence (at
        // most every minute).
        let mut health = (index == 0).then(|| DeliveryWatch::new(self.silence_after));
        let mut dispatcher = match &self.alerts {
            Some(alerts) => alerts.dispatcher()?,
            None => None,
        };
        let mut ahead = fetch::Ahead::default();
        let mut last_was_empty = false;
        while !self.stopping() {
            if let Some(alerts) = &self.alerts {
                alerts.refresh(store.as_mut(), &self.metrics, index == 0, self.run);
            }
            if let Some(watch) = health.as_mut() {
                watch.check(self, store.as_mut());
            }
            // What is due now: new alerts of the last round, and retries whose backoff has passed.
            if let Some(dispatcher) = dispatcher.as_mut() {
                alerts::deliver(dispatcher, store.as_mut(), &self.metrics);
            }
            let queue = &self.queues[next];
            next = (next + 1) % self.queues.len();
            // Draining, a receive after one that brought messages does not wait: an empty answer is
            // then settled by `queues_empty` at once (the last batch ends the run without a long
            // poll); after an empty one it waits, so a queue whose messages are in flight elsewhere
            // is not polled in a tight loop.
            let wait = if self.drain && !last_was_empty {
                0
            } else {
                self.wait_seconds
            };
            let Some(received) = self.receive(queue, wait) else {
                break;
            };
            let messages = match received {
                Ok(messages) => messages,
                Err(reason) => {
                    self.metrics.error("sqs");
                    eprintln!("error: {reason}");
                    self.pause(Duration::from_secs(2));
                    continue;
                }
            };
            last_was_empty = messages.is_empty();
            if messages.is_empty() {
                if self.drain && self.queues_empty() {
                    // What the last messages enqueued goes out before the worker ends.
                    if let Some(dispatcher) = dispatcher.as_mut() {
                        alerts::deliver(dispatcher, store.as_mut(), &self.metrics);
                    }
                    break;
                }
                continue;
            }
            // Every message in hand stays invisible until it is done or given back.
            let heartbeats: Vec<_> = messages
                .iter()
                .map(|m| {
                    self.runtime.spawn(extend_visibility(
                        self.sqs.clone(),
                        queue.clone(),
                        m.receipt.clone(),
                    ))
                })
                .collect();
            // Committed messages are deleted together after the batch (one DeleteMessageBatch call
            // instead of one call each); their heartbeats run until then.
            let mut committed = Vec::new();
            if let Some(first) = messages.first() {
                self.fetch_ahead(store.as_mut(), &mut ahead, &first.body);
            }
            let mut messages = messages.into_iter().zip(heartbeats).peekable();
            while let Some((message, heartbeat)) = messages.next() {
                if self.stopping() {
                    heartbeat.abort();
                    self.give_back(queue, &message);
                    continue;
                }
                // The next message's objects come from S3 while this one is worked.
                if let Some((next, _)) = messages.peek() {
                    self.fetch_ahead(store.as_mut(), &mut ahead, &next.body);
                }
                let handled = self.handle(store.as_mut(), queue, &message, &mut ahead);
                if handled == Handled::Committed {
                    committed.push((message, heartbeat));
                    continue;
                }
                heartbeat.abort();
                if handled == Handled::StoreFailed {
                    // The connection may be gone for good (a restarted server): a fresh one for the
                    // next message, or a pause while the store is unreachable.
                    match store::open(&self.store) {
                        Ok(fresh) => store = fresh,
                        Err(err) => {
                            eprintln!("error: {err:#}; retrying");
                            self.pause(Duration::from_secs(2));
                        }
                    }
                }
            }
            ahead.clear();
            self.delete_committed(queue, &committed);
            for (_, heartbeat) in committed {
                heartbeat.abort();
            }
        }
        Ok(())
    }

    /// One ReceiveMessage call (long-polling up to `wait_seconds`), or `None` when asked to stop while
    /// waiting.
    fn receive(&self, queue: &Queue, wait_seconds: i32) -> Option<Result<Vec<Received>, String>> {
        let mut stop = self.stop.clone();
        let call = self
            .sqs
            .receive_message()
            .queue_url(&queue.url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait_seconds)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send();
        self.runtime.block_on(async {
            tokio::select! {
                result = call => Some(result
                    .map_err(|e| format!("{} ({})", api_error("ReceiveMessage", &e), queue.url))
                    .map(|out| {
                        out.messages()
                            .iter()
                            .map(|m| Received {
                                id: m.message_id().unwrap_or_default().to_owned(),
                                receipt: m.receipt_handle().unwrap_or_default().to_owned(),
                                body: m.body().unwrap_or_default().to_owned(),
                                receive_count: m
                                    .attributes()
                                    .and_then(|a| {
                                        a.get(&MessageSystemAttributeName::ApproximateReceiveCount)
                                    })
                                    .cloned()
                                    .unwrap_or_else(|| "unknown".to_owned()),
                            })
                            .collect()
                    })),
                _ = stop.changed() => None,
            }
        })
    }

    /// Sleeps, waking early when asked to stop.
    fn pause(&self, duration: Duration) {
        let mut stop = self.stop.clone();
        self.runtime.block_on(async {
            tokio::select! {
                _ = tokio::time::sleep(duration) => {}
                _ = stop.changed() => {}
            }
        });
    }

    /// Whether every queue is empty: nothing visible, nothing in flight, nothing delayed.
    fn queues_empty(&self) -> bool {
        self.queues.iter().all(|queue| {
            let call = self
                .sqs
                .get_queue_attributes()
                .queue_url(&queue.url)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
                .send();
            match self.runtime.block_on(call) {
                Ok(out) => out
                    .attributes()
                    .is_some_and(|a| a.values().all(|v| v.trim() == "0")),
                Err(err) => {
                    self.metrics.error("sqs");
                    eprintln!(
                        "error: {} ({})",
                        api_error("GetQueueAttributes", &err),
                        queue.url
                    );
                    false
                }
            }
        })
    }

    /// Makes a message visible again at once, for another worker.
    fn give_back(&self, queue: &Queue, message: &Received) {
        let call = self
            .sqs
            .change_message_visibility()
            .queue_url(&queue.url)
            .receipt_handle(&message.receipt)
            .visibility_timeout(0)
            .send();
        if let Err(err) = self.runtime.block_on(call) {
            eprintln!(
                "warning: message {}: {}",
                message.id,
                api_error("ChangeMessageVisibility", &err)
            );
        }
    }

    /// One message end to end, deleting nothing: its body parsed, each of its objects (or inline events)
    /// scanned and committed, one line on stderr per failure. `Ok` when every item is committed or
    /// skipped, so the message may be deleted; `Err` when it must stay on the queue. `queue` names the
    /// source in those lines (a URL, or the event source ARN under Lambda). Shared by [`Service::worker`]
    /// and `trailguard lambda`, which reports the `Err` ones as batch item failures.
    pub(crate) fn process(
        &self,
        store: &mut dyn FindingStore,
        queue: &str,
        id: &str,
        body: &str,
        receive_count: &str,
        ahead: &mut fetch::Ahead,
    ) -> Result<(), Left> {
        self.metrics
            .messages_received
            .fetch_add(1, Ordering::Relaxed);
        let work = match message::parse(body) {
            Ok(work) => work,
            Err(err) => {
                self.metrics
                    .messages_unrecognised
                    .fetch_add(1, Ordering::Relaxed);
                self.metrics.error("unrecognised_message");
                eprintln!(
                    "error: message {} on {}: {} (receive count {}); left for the dead-letter queue",
                    id,
                    queue,
                    output::visible(&err.to_string()),
                    receive_count
                );
                return Err(Left::Unrecognised);
            }
        };
        let mut failed = false;
        let mut store_failed = false;
        for item in work {
            let started = Instant::now();
            let (name, result) = match item {
                Work::Ignored(ignored) => {
                    self.metrics.skipped(ignored.label());
                    continue;
                }
                Work::Object(object) => {
                    if let Some(skip) = message::triage(&object, self.prefix.as_deref()) {
                        self.metrics.skipped(skip.label());
                        continue;
                    }
                    let name = format!("s3://{}/{}", object.bucket, object.key);
                    let result = self.object(store, &object, &name, ahead);
                    (name, result)
                }
                Work::Record { id, body } => {
                    let name = format!("EventBridge event {id}");
                    let version = ObjectVersion {
                        bucket: String::new(),
                        key: id,
                        etag: String::new(),
                    };
                    self.metrics.records_inline.fetch_add(1, Ordering::Relaxed);
                    let result = self.scan_and_commit(store, &version, &name, body.into_bytes());
                    (name, result)
                }
            };
            match result {
                Ok(Some(line)) => {
                    self.metrics.observe_processing(started.elapsed());
                    if self.progress {
                        eprintln!("{}: {line}", output::visible(&name));
                    }
                }
                Ok(None) => {}
                Err(failure) => {
                    failed = true;
                    store_failed |= failure.kind == "store";
                    self.metrics.objects_failed.fetch_add(1, Ordering::Relaxed);
                    self.metrics.error(failure.kind);
                    eprintln!(
                        "error: {}: {} (message {}, receive count {}); the message is left on the queue",
                        output::visible(&name),
                        output::visible(&failure.reason),
                        id,
                        receive_count
                    );
                }
            }
        }
        if failed {
            self.metrics.messages_left.fetch_add(1, Ordering::Relaxed);
            return Err(Left::Failed {
                store: store_failed,
            });
        }
        Ok(())
    }

    /// Works one message; whether all of its work is committed (it may be deleted), or it stays on the
    /// queue, and then whether the store failed (the caller reconnects).
    fn handle(
        &self,
        store: &mut dyn FindingStore,
        queue: &Queue,
        message: &Received,
        ahead: &mut fetch::Ahead,
    ) -> Handled {
        let processed = self.process(
            store,
            &queue.url,
            &message.id,
            &message.body,
            &message.receive_count,
            ahead,
        );
        match processed {
            Ok(()) => Handled::Committed,
            Err(Left::Unrecognised | Left::Failed { store: false }) => Handled::Left,
            Err(Left::Failed { store: true }) => Handled::StoreFailed,
        }
    }

    /// Deletes the messages whose work is committed, in DeleteMessageBatch calls of at most ten (SQS's
    /// limit). A message that cannot be deleted is reported and comes back later: its work is committed,
    /// so the redelivery is a no-op.
    fn delete_committed<T>(&self, queue: &Queue, committed: &[(Received, T)]) {
        for chunk in committed.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .filter_map(|(index, (message, _))| {
                    aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                        .id(index.to_string())
                        .receipt_handle(&message.receipt)
                        .build()
                        .ok()
                })
                .collect::<Vec<_>>();
            let call = self
                .sqs
                .delete_message_batch()
                .queue_url(&queue.url)
                .set_entries(Some(entries))
                .send();
            match self.runtime.block_on(call) {
                Ok(out) => {
                    let deleted = u64::try_from(out.successful().len()).unwrap_or(u64::MAX);
                    self.metrics
                        .messages_deleted
                        .fetch_add(deleted, Ordering::Relaxed);
                    for failed in out.failed() {
                        self.metrics.error("sqs");
                        let id = failed
                            .id()
                            .parse::<usize>()
                            .ok()
                            .and_then(|index| chunk.get(index))
                            .map_or("?", |(message, _)| message.id.as_str());
                        eprintln!(
                            "error: message {}: DeleteMessageBatch: {}: {}; its work is committed, so a redelivery changes nothing",
                            id,
                            output::visible(failed.code()),
                            output::visible(failed.message().unwrap_or_default())
                        );
                    }
                }
                Err(err) => {
                    self.metrics.error("sqs");
                    let ids: Vec<&str> = chunk.iter().map(|(m, _)| m.id.as_str()).collect();
                    eprintln!(
                        "error: messages {}: {}; their work is committed, so a redelivery changes nothing",
                        ids.join(", "),
                        api_error("DeleteMessageBatch", &err)
                    );
                }
            }
        }
    }

    /// Starts fetching the objects of a message that comes soon (see [`fetch`]). Best effort: a body
    /// that does not parse, an object the store already holds or a store error starts nothing, and
    /// the object's turn does the work and the reporting.
    pub(crate) fn fetch_ahead(
        &self,
        store: &mut dyn FindingStore,
        ahead: &mut fetch::Ahead,
        body: &str,
    ) {
        let Ok(work) = message::parse(body) else {
            return;
        };
        for item in work {
            let Work::Object(object) = item else {
                continue;
            };
            if !ahead.wants(&object) || message::triage(&object, self.prefix.as_deref()).is_some() {
                continue;
            }
            if let Some(etag) = &object.etag {
                let version = ObjectVersion {
                    bucket: object.bucket.clone(),
                    key: object.key.clone(),
                    etag: etag.clone(),
                };
                if !matches!(store.object_processed(&version), Ok(false)) {
                    continue;
                }
            }
            let fetch =
                fetch::get_object(self.s3.clone(), object.bucket.clone(), object.key.clone());
            ahead.start(&object, self.runtime.spawn(fetch));
        }
    }

    /// One S3 object: `Ok(Some(line))` when committed now, `Ok(None)` when there was nothing to do.
    fn object(
        &self,
        store: &mut dyn FindingStore,
        object: &ObjectRef,
        name: &str,
        ahead: &mut fetch::Ahead,
    ) -> Result<Option<String>, Failure> {
        if let Some(etag) = &object.etag {
            let version = ObjectVersion {
                bucket: object.bucket.clone(),
                key: object.key.clone(),
                etag: etag.clone(),
            };
            if store
                .object_processed(&version)
                .map_err(|e| Failure::new("store", chain(e)))?
            {
                self.metrics
                    .objects_duplicate
                    .fetch_add(1, Ordering::Relaxed);
                return Ok(None);
            }
        }
        let fetched = match ahead.take(object) {
            Some(started) => self
                .runtime
                .block_on(started)
                .unwrap_or_else(|e| Err(format!("the GetObject task ended without a result: {e}"))),
            None => self.runtime.block_on(fetch::get_object(
                self.s3.clone(),
                object.bucket.clone(),
                object.key.clone(),
            )),
        };
        let (bytes, etag) = fetched.map_err(|reason| Failure::new("get_object", reason))?;
        let version = ObjectVersion {
            bucket: object.bucket.clone(),
            key: object.key.clone(),
            etag: etag
                .or_else(|| object.etag.clone())
                .or_else(|| object.version_id.clone())
                .unwrap_or_default(),
        };
        if object.etag.is_none()
            && store
                .object_processed(&version)
                .map_err(|e| Failure::new("store", chain(e)))?
        {
            self.metrics
                .objects_duplicate
                .fetch_add(1, Ordering::Relaxed);
            return Ok(None);
        }
        if bytes.is_empty() {
            self.metrics.skipped(message::Skip::Empty.label());
            return Ok(None);
        }
        self.scan_and_commit(store, &version, name, bytes)
    }

    /// Scans the bytes of one object (or one inline event) with the same flow as `scan`, then commits
    /// its findings with its processed-object row.
    fn scan_and_commit(
        &self,
        store: &mut dyn FindingStore,
        version: &ObjectVersion,
        name: &str,
        bytes: Vec<u8>,
    ) -> Result<Option<String>, Failure> {
        let source: Box<dyn Source> = Box::new(MemorySource::new(name, bytes));
        let observer = Collect::default();
        let kb = trailguard_kb::Kb::builtin();
        let mut findings: Vec<Finding> = Vec::new();
        let outcome = engine::scan_findings(
            self.engine,
            self.sigma,
            vec![source],
            &Filter::default(),
            1,
            &observer,
            |mut finding| {
                crate::cmd::scan::link_knowledge_base(&mut finding, kb);
                findings.push(finding);
            },
        )
        .map_err(|e| Failure::new("scan", chain(e)))?;
        let stats = &outcome.stats;
        if stats.files_skipped.contains_key(&SkipReason::DigestFile) {
            self.metrics.skipped(message::Skip::Digest.label());
            return Ok(None);
        }
        let unreadable = stats
            .files_skipped
            .keys()
            .chain(stats.files_truncated.keys())
            .find(|reason| **reason != SkipReason::EmptyInput);
        if let Some(reason) = unreadable {
            // The reader's message starts with the object's name, which the report already gives.
            let detail = observer
                .first_file_error()
                .map(|e| {
                    e.strip_prefix(name)
                        .and_then(|rest| rest.strip_prefix(": "))
                        .map_or_else(|| e.clone(), str::to_owned)
                })
                .unwrap_or_else(|| reason.as_str().replace('_', " "));
            return Err(Failure::new("unreadable_object", detail));
        }
        for warning in observer.record_errors() {
            eprintln!("warning: {}", output::visible(&warning));
        }
        let records = stats.records_matched + stats.records_filtered + stats.records_unparsed;
        let seen_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let observations = self.stored_observations(&outcome.observations)?;
        let evaluate = |rule: &str, bodies: Vec<String>| self.sequence_findings(rule, bodies);
        let forget_before = |rule: &str| {
            let reach = chrono::TimeDelta::milliseconds(self.engine.sequence_reach_ms(rule)?);
            let keep = (reach * 2).max(OBSERVATIONS_KEPT_AT_LEAST);
            Some((chrono::Utc::now() - keep).to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        };
        let sequences = SequenceWork {
            observations: &observations,
            evaluate: &evaluate,
            forget_before: &forget_before,
        };
        // Alerts are enqueued before the commit (idempotently, see `alerts`): a crash between the two
        // leaves the message on the queue, and its redelivery enqueues nothing twice.
        let marks = match &self.alerts {
            Some(alerts) => alerts
                .judge(store, &findings)
                .map_err(|e| Failure::new("store", chain(e)))?,
            None => Vec::new(),
        };
        match store.commit_object(self.run, &seen_at, version, records, &findings, &sequences) {
            Ok(ObjectCommit::Committed { reevaluated, .. }) => {
                if let Some(alerts) = &self.alerts {
                    alerts.mark(store, &marks, &self.metrics, true);
                    // Sequence findings are made inside the commit: taken from the store after it, for
                    // the rules it evaluated again (the others' stored findings did not change).
                    for rule in &reevaluated {
                        alerts.offer_stored(store, rule, self.run, &self.metrics);
                    }
                }
                self.record_delivery(store, version, &seen_at, outcome.newest_event_time);
                self.metrics
                    .objects_processed
                    .fetch_add(1, Ordering::Relaxed);
                self.metrics.records.fetch_add(records, Ordering::Relaxed);
                for finding in &findings {
                    self.metrics
                        .finding(finding.severity, finding.event_time.as_deref());
                }
                Ok(Some(format!(
                    "{records} records, {} findings",
                    findings.len()
                )))
            }
            Ok(ObjectCommit::AlreadyProcessed) => {
                self.metrics
                    .objects_duplicate
                    .fetch_add(1, Ordering::Relaxed);
                Ok(None)
            }
            Err(err) => Err(Failure::new("store", chain(err))),
        }
    }
}

impl Service<'_> {
    /// Notes in the store's delivery health that a log file of the object's account and region arrived.
    /// A failure is reported and does not fail the object: its findings are committed.
    fn record_delivery(
        &self,
        store: &mut dyn FindingStore,
        version: &ObjectVersion,
        seen_at: &str,
        newest_event_at: Option<String>,
    ) {
        let Some((account, region)) = message::log_origin(&version.key) else {
            return;
        };
        let delivery = Delivery {
            account: account.to_owned(),
            region: region.to_owned(),
            last_arrival_at: seen_at.to_owned(),
            newest_event_at,
        };
        if let Err(err) = store.record_delivery(&delivery) {
            self.metrics.error("store");
            eprintln!(
                "error: delivery health of {account} {region}: {}",
                output::visible(&chain(err))
            );
        }
    }

    /// One object's sequence-rule observations as the store keeps them. The key names the event as the
    /// engine's de-duplication does (time, rank, `eventID`), so a repeat in another object is one row;
    /// an event without an id is keyed by its whole observation.
    fn stored_observations(
        &self,
        observations: &[Observation],
    ) -> Result<Vec<StoredObservation>, Failure> {
        observations
            .iter()
            .filter_map(|o| Some((self.engine.observation_rule(o)?, o)))
            .map(|(rule, o)| {
                let body = serde_json::to_string(o).map_err(|e| {
                    Failure::new("scan", format!("cannot encode an observation: {e}"))
                })?;
                let key = match o.event.event_id.as_deref() {
                    Some(id) => Finding::stable_id(&[&o.at.to_string(), &o.rank.to_string(), id]),
                    None => Finding::stable_id(&[&body]),
                };
                Ok(StoredObservation {
                    rule: rule.to_owned(),
                    key,
                    at: o.at,
                    body,
                })
            })
            .collect()
    }

    /// A sequence rule's findings over every stored observation of it, linked to the knowledge base as
    /// `scan` links them. A body this build cannot read (written by another version) is left out.
    fn sequence_findings(&self, rule: &str, bodies: Vec<String>) -> Vec<Finding> {
        let observations = bodies
            .iter()
            .filter_map(|body| serde_json::from_str::<Observation>(body).ok())
            .collect();
        let kb = trailguard_kb::Kb::builtin();
        let mut findings = self.engine.sequence_findings(rule, observations);
        for finding in &mut findings {
            crate::cmd::scan::link_knowledge_base(finding, kb);
        }
        findings
    }
}

/// How long after storing it a bounded sequence rule's observation is kept at least (longer when twice the
/// rule's reach is longer): CloudTrail delivers most files within 15 minutes but some hours late, and a
/// backfill of history takes hours; a week covers both with room.
const OBSERVATIONS_KEPT_AT_LEAST: chrono::TimeDelta = chrono::TimeDelta::days(7);

/// Raises CT051 for account and region pairs that were delivering and fell silent: checked at start and
/// then every half `--silence-after` (at most every minute). Each silence is raised once per process;
/// its stable id (pair and last arrival) makes other processes' raising it an update, not a duplicate.
struct DeliveryWatch {
    silence_after: chrono::TimeDelta,
    every: Duration,
    last: Option<Instant>,
    raised: std::collections::HashSet<String>,
}

impl DeliveryWatch {
    fn new(silence_after: chrono::TimeDelta) -> DeliveryWatch {
        let half = silence_after.to_std().unwrap_or_default() / 2;
        DeliveryWatch {
            silence_after,
            every: half.clamp(Duration::from_secs(1), Duration::from_secs(60)),
            last: None,
            raised: std::collections::HashSet::new(),
        }
    }

    fn check(&mut self, service: &Service<'_>, store: &mut dyn FindingStore) {
        if self.last.is_some_and(|last| last.elapsed() < self.every) {
            return;
        }
        self.last = Some(Instant::now());
        let now = chrono::Utc::now();
        let before = (now - self.silence_after).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let silent = match store.silent_deliveries(&before) {
            Ok(silent) => silent,
            Err(err) => {
                service.metrics.error("store");
                eprintln!("error: delivery health: {}", output::visible(&chain(err)));
                return;
            }
        };
        let silent_for = format_age(self.silence_after);
        let findings: Vec<Finding> = silent
            .iter()
            .map(|d| {
                delivery_silent::finding(
                    &d.account,
                    &d.region,
                    &d.last_arrival_at,
                    d.newest_event_at.as_deref(),
                    &silent_for,
                )
            })
            .filter(|f| !self.raised.contains(&f.id))
            .collect();
        if findings.is_empty() {
            return;
        }
        let seen_at = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let marks = match &service.alerts {
            Some(alerts) => match alerts.judge(store, &findings) {
                Ok(marks) => marks,
                Err(err) => {
                    service.metrics.error("store");
                    eprintln!("error: delivery health: {}", output::visible(&chain(err)));
                    return;
                }
            },
            None => Vec::new(),
        };
        if let Err(err) = store.save_findings(service.run, &seen_at, &findings) {
            service.metrics.error("store");
            eprintln!("error: delivery health: {}", output::visible(&chain(err)));
            return;
        }
        if let Some(alerts) = &service.alerts {
            alerts.mark(store, &marks, &service.metrics, true);
        }
        for finding in findings {
            service
                .metrics
                .finding(finding.severity, finding.event_time.as_deref());
            eprintln!(
                "{} {}: {}",
                finding.rule_id,
                finding.severity.as_str(),
                output::visible(&finding.message)
            );
            self.raised.insert(finding.id);
        }
    }
}

/// A length of time as `--silence-after` takes it (`90s`, `30m`, `1h`, `2d`), in its largest whole unit.
fn format_age(age: chrono::TimeDelta) -> String {
    let seconds = age.num_seconds();
    [(86_400, "d"), (3600, "h"), (60, "m")]
        .iter()
        .find(|(unit, _)| seconds % unit == 0 && seconds >= *unit)
        .map_or_else(
            || format!("{seconds}s"),
            |(unit, name)| format!("{}{name}", seconds / unit),
        )
}

/// Keeps a message invisible while a worker holds it: every half visibility timeout, the timeout again.
async fn extend_visibility(client: aws_sdk_sqs::Client, queue: Queue, receipt: String) {
    let timeout = queue.visibility_timeout.max(2);
    let every = Duration::from_secs(u64::try_from(timeout / 2).unwrap_or(1));
    loop {
        tokio::time::sleep(every).await;
        let extended = client
            .change_message_visibility()
            .queue_url(&queue.url)
            .receipt_handle(&receipt)
            .visibility_timeout(timeout)
            .send()
            .await;
        if let Err(err) = extended {
            eprintln!(
                "warning: {} ({}): the message may be given to another worker, which is harmless",
                api_error("ChangeMessageVisibility", &err),
                queue.url
            );
            return;
        }
    }
}

/// The input errors of one object's scan: file-level ones make the object fail, record-level ones are
/// warnings.
#[derive(Default)]
struct Collect {
    file_errors: Mutex<Vec<String>>,
    record_errors: Mutex<Vec<String>>,
}

impl Collect {
    fn first_file_error(&self) -> Option<String> {
        self.file_errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .first()
            .cloned()
    }

    fn record_errors(&self) -> Vec<String> {
        std::mem::take(&mut *self.record_errors.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Observer for Collect {
    fn on_input_error(&self, err: &InputError) {
        let list = if err.record_index.is_some() || err.line.is_some() {
            &self.record_errors
        } else {
            &self.file_errors
        };
        list.lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(err.to_string());
    }
}

/// Reads each queue's visibility timeout, which also checks that every queue exists and is reachable.
pub fn queues(
    sqs: &aws_sdk_sqs::Client,
    runtime: &tokio::runtime::Runtime,
    urls: &[String],
) -> anyhow::Result<Vec<Queue>> {
    urls.iter()
        .map(|url| {
            let out = runtime
                .block_on(
                    sqs.get_queue_attributes()
                        .queue_url(url)
                        .attribute_names(QueueAttributeName::VisibilityTimeout)
                        .send(),
                )
                .map_err(|e| {
                    anyhow::anyhow!("queue `{url}`: {}", api_error("GetQueueAttributes", &e))
                })?;
            let visibility_timeout = out
                .attributes()
                .and_then(|a| a.get(&QueueAttributeName::VisibilityTimeout))
                .and_then(|v| v.parse().ok())
                .unwrap_or(30);
            Ok(Queue {
                url: url.clone(),
                visibility_timeout,
            })
        })
        .collect()
}
