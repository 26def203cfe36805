//! The parallel streaming scan.
//!
//! `threads` workers each own one visitor. They take whole files from a shared queue (one small file per
//! task: decompress, split and parse in one place, reusing one buffer; [`FileQueue`]: each worker reads
//! its own stretch of the input in order and then takes the last files of the longest stretch left, so
//! one worker sees an account's consecutive files, not every other one) and, for a large file or stdin, the
//! worker that opens it becomes its reader: it splits the stream into buffers of complete records and
//! hands them to the other workers through a small bounded channel, parsing a buffer itself when the
//! channel is full. Memory is therefore bounded by a few buffers per worker, whatever the input size.
//!
//! Records are parsed borrowing from the buffer ([`Record::from_raw`]); the visitor sees each record once,
//! in file order within a file, but files (and a large file's buffers) are spread over workers.
//!
//! Work is saved where it can be: records are cut from the buffer by a structural scan, 64 bytes at a
//! time, with no parse ([`crate::split`]); then one walk over each record's top-level keys
//! ([`RawRecord::with_fields`]) reads `eventSource`/`eventName` and whatever the filter needs
//! (`eventTime`, `awsRegion`, the accounts), the filter decides from those when it can
//! ([`Filter::check_raw`]), and the visitor may decline a record the filter keeps before it is parsed
//! ([`RecordVisitor::wants_raw`]). A filtered scan therefore parses what an unfiltered one does, less what
//! the filter drops. Counts stay those of a scan that parsed every record: what the raw decision cannot
//! settle exactly (an escape, a repeated key, a missing field, an `eventTime` that is not RFC 3339, a
//! record nested past the parser's limit) is parsed and judged by [`Filter::check`] as before.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use serde_json::value::RawValue;

use crate::classify::{classify, classify_raw, Classified};
use crate::error::{InputError, ScanError, SkipReason};
use crate::filter::{Filter, FilterOutcome, RawOutcome};
use crate::peek::{RawRecord, TextHints};
use crate::record::{may_nest_too_deep, Record};
use crate::source::{self, open_decoded, Encoding, Opened, Source};
use crate::split::{
    initial_buffer, SplitError, Splitter, Unit, UnitKind, DEFAULT_BUFFER, DEFAULT_MAX_VALUE,
};
use crate::stats::ScanStats;

/// What to scan and how.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanOptions {
    /// Files and directories; `-` is stdin.
    pub inputs: Vec<PathBuf>,
    pub filter: Filter,
    /// Worker threads; 0 uses every core.
    pub threads: usize,
}

/// Receives every record that passes the filter. One visitor per worker thread, so no locking.
pub trait RecordVisitor: Send {
    fn visit(&mut self, record: &Record<'_>);

    /// Whether this record is worth parsing, judged from its raw JSON text before any parse
    /// (`eventSource`/`eventName` are already read: [`RawRecord::source_and_name`]). Returning `false`
    /// settles the record without a parse: the visitor had no use for it, or took what it needed from
    /// the raw text (for example with [`Record::peek_typed`]). It is counted in
    /// [`ScanStats::records_unparsed`] and not validated beyond its structure. A hint: it is asked only
    /// about records the filter keeps (judged from the same raw walk), and the first record of each
    /// input is parsed (and visited) anyway, to judge the input; a record the visitor wants is then
    /// visited as usual. Answer `true` when unsure. The default wants everything.
    fn wants_raw(&mut self, raw: &RawRecord<'_>) -> bool {
        let _ = raw;
        true
    }

    /// Like [`RecordVisitor::visit`], with where the record came from. The pipeline calls this one;
    /// override it when findings need the file and position.
    fn visit_at(&mut self, record: &Record<'_>, origin: &Origin<'_>) {
        let _ = origin;
        self.visit(record);
    }

    /// Called after each batch of records taken from one read of the input, before the worker reads
    /// or waits for more: a visitor that holds results back to pass them on together passes them on
    /// here, so none waits on input still to come.
    fn batch_done(&mut self) {}
}

/// Where a record sits in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin<'a> {
    pub file: &'a Path,
    /// 0-based position of the value in the file (`Records[i]`, the i-th JSON line).
    pub record_index: usize,
    /// Offset of the record in the decompressed file.
    pub byte_offset: u64,
}

/// Hears about problems and progress while a scan runs. Called from worker threads.
pub trait Observer: Sync {
    /// One problem with the input; `Display` gives one clear line for the user.
    fn on_input_error(&self, err: &InputError) {
        let _ = err;
    }
    /// Stored bytes read so far and in total (0 when unknown, e.g. stdin).
    fn on_progress(&self, bytes_done: u64, bytes_total: u64) {
        let _ = (bytes_done, bytes_total);
    }
}

/// An observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopObserver;

impl Observer for NoopObserver {}

/// An observer that keeps every input error, for tests and for callers that report at the end.
#[derive(Debug, Default)]
pub struct CollectErrors {
    errors: Mutex<Vec<InputError>>,
}

impl CollectErrors {
    /// The errors seen so far, sorted by file and position.
    pub fn take(&self) -> Vec<InputError> {
        let mut errors = match self.errors.lock() {
            Ok(mut guard) => std::mem::take(&mut *guard),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        errors.sort_by(|a, b| {
            (&a.file, a.byte_offset, a.record_index).cmp(&(&b.file, b.byte_offset, b.record_index))
        });
        errors
    }
}

impl Observer for CollectErrors {
    fn on_input_error(&self, err: &InputError) {
        if let Ok(mut errors) = self.errors.lock() {
            errors.push(err.clone());
        }
    }
}

/// Files at least this large (as stored) are split across workers instead of read by one.
const SPLIT_LARGE_FILE: u64 = 32 << 20;
/// With fewer files than workers, files at least this large are split too.
const SPLIT_FEW_FILES: u64 = 4 << 20;

/// Scans the inputs in parallel. Returns one visitor per worker (merge them) and the counters.
pub fn scan<V: RecordVisitor>(
    opts: &ScanOptions,
    make_visitor: impl Fn() -> V + Sync,
    observer: &dyn Observer,
) -> Result<(Vec<V>, ScanStats), ScanError> {
    let found = source::discover(&opts.inputs)?;
    let mut stats = ScanStats {
        files_ignored: found.ignored,
        ..ScanStats::default()
    };
    for _ in &found.digest_files {
        stats.skip_file(SkipReason::DigestFile);
    }
    for err in &found.errors {
        stats.skip_file(err.reason);
        stats.errors += 1;
        observer.on_input_error(err);
    }
    let (visitors, worker_stats) = scan_sources(
        found.sources,
        &opts.filter,
        opts.threads,
        make_visitor,
        observer,
    )?;
    stats.merge(&worker_stats);
    Ok((visitors, stats))
}

/// Scans already-built sources (files, memory, streams) in parallel.
pub fn scan_sources<V: RecordVisitor>(
    sources: Vec<Box<dyn Source>>,
    filter: &Filter,
    threads: usize,
    make_visitor: impl Fn() -> V + Sync,
    observer: &dyn Observer,
) -> Result<(Vec<V>, ScanStats), ScanError> {
    let threads = match threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let bytes_total = sources.iter().filter_map(|s| s.size_hint()).sum();
    let few_files = sources.len() < threads;
    let (batch_tx, batch_rx) = bounded(threads);
    let (pool_tx, pool_rx) = bounded(threads * 2);
    let shared = Shared {
        files: FileQueue::new(sources, threads),
        batch_tx,
        batch_rx,
        pool_tx,
        pool_rx,
        active_readers: AtomicUsize::new(0),
        progress: AtomicU64::new(0),
        bytes_total,
        filter,
        observer,
        split_threshold: if few_files {
            SPLIT_FEW_FILES
        } else {
            SPLIT_LARGE_FILE
        },
    };
    let results = std::thread::scope(|scope| {
        let mut handles = Vec::with_capacity(threads);
        for i in 0..threads {
            let shared = &shared;
            let make_visitor = &make_visitor;
            let handle = std::thread::Builder::new()
                .name(format!("trailguard-scan-{i}"))
                .spawn_scoped(scope, move || {
                    let mut worker = Worker::new(shared, i, make_visitor());
                    worker.run();
                    (worker.visitor, worker.stats)
                })
                .map_err(ScanError::Thread)?;
            handles.push(handle);
        }
        handles
            .into_iter()
            .map(|h| h.join().map_err(|_| ScanError::WorkerPanicked))
            .collect::<Result<Vec<_>, _>>()
    })?;
    let mut stats = ScanStats::default();
    let mut visitors = Vec::with_capacity(results.len());
    for (visitor, worker_stats) in results {
        stats.merge(&worker_stats);
        visitors.push(visitor);
    }
    Ok((visitors, stats))
}

/// Reads one source on the calling thread, feeding `visitor`. For tests and small tools.
pub fn scan_one<V: RecordVisitor>(
    source: Box<dyn Source>,
    filter: &Filter,
    visitor: V,
    observer: &dyn Observer,
) -> Result<(V, ScanStats), ScanError> {
    let cell = Mutex::new(Some(visitor));
    let (mut visitors, stats) = scan_sources(
        vec![source],
        filter,
        1,
        || {
            cell.lock()
                .ok()
                .and_then(|mut v| v.take())
                .expect("one worker takes the one visitor")
        },
        observer,
    )?;
    visitors
        .pop()
        .map(|v| (v, stats))
        .ok_or(ScanError::WorkerPanicked)
}

/// The files of a scan, dealt to the workers in contiguous stretches of the order they were given (the
/// S3 layout sorts an account's and region's files by time). A worker takes the next file of its own
/// stretch; once it is done, the last file of the longest stretch left. Sequence rules keep state per
/// principal and time span: a worker that reads consecutive files of a trail extends the spans it holds,
/// where one that read every other file would start a new one per file, to be merged at the end.
struct FileQueue {
    stretches: Mutex<Vec<VecDeque<Box<dyn Source>>>>,
}

impl FileQueue {
    fn new(sources: Vec<Box<dyn Source>>, workers: usize) -> FileQueue {
        let workers = workers.max(1);
        let per_worker = sources.len().div_ceil(workers).max(1);
        let mut stretches: Vec<VecDeque<Box<dyn Source>>> =
            (0..workers).map(|_| VecDeque::new()).collect();
        for (n, source) in sources.into_iter().enumerate() {
            stretches[(n / per_worker).min(workers - 1)].push_back(source);
        }
        FileQueue {
            stretches: Mutex::new(stretches),
        }
    }

    /// The next file for `worker`: the next of its stretch, else the last of the longest left.
    fn take(&self, worker: usize) -> Option<Box<dyn Source>> {
        let mut stretches = self
            .stretches
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(source) = stretches.get_mut(worker).and_then(VecDeque::pop_front) {
            return Some(source);
        }
        stretches
            .iter_mut()
            .max_by_key(|stretch| stretch.len())
            .and_then(VecDeque::pop_back)
    }
}

struct Shared<'s> {
    files: FileQueue,
    batch_tx: Sender<Batch>,
    batch_rx: Receiver<Batch>,
    pool_tx: Sender<Vec<u8>>,
    pool_rx: Receiver<Vec<u8>>,
    active_readers: AtomicUsize,
    progress: AtomicU64,
    bytes_total: u64,
    filter: &'s Filter,
    observer: &'s dyn Observer,
    split_threshold: u64,
}

/// Complete records of one large input, in a buffer handed from its reader to a worker.
struct Batch {
    buf: Vec<u8>,
    units: Vec<Unit>,
    file: Arc<Path>,
}

/// What is known about the file being read.
struct FileState<'f> {
    file: &'f Path,
    /// A CloudTrail event was found: later oddities are record errors, not a reason to skip the file.
    seen_cloudtrail: bool,
    /// The whole file is skipped for this reason (set on its first value).
    skipped: Option<SkipReason>,
    /// Reading stopped early for this reason after some values were read.
    truncated: Option<SkipReason>,
    /// Top-level values before any CloudTrail record that were not CloudTrail, with why: bad records
    /// if a CloudTrail record follows, else the reason the file is not a CloudTrail log.
    doubts: Vec<(At, SkipReason, String)>,
}

impl<'f> FileState<'f> {
    fn new(file: &'f Path) -> Self {
        FileState {
            file,
            seen_cloudtrail: false,
            skipped: None,
            truncated: None,
            doubts: Vec::new(),
        }
    }
}

struct Worker<'s, V> {
    shared: &'s Shared<'s>,
    /// Which stretch of the [`FileQueue`] is this worker's.
    index: usize,
    visitor: V,
    stats: ScanStats,
    buffer: Vec<u8>,
    units: Vec<Unit>,
}

impl<'s, V: RecordVisitor> Worker<'s, V> {
    fn new(shared: &'s Shared<'s>, index: usize, visitor: V) -> Self {
        Worker {
            shared,
            index,
            visitor,
            stats: ScanStats::default(),
            buffer: Vec::new(),
            units: Vec::new(),
        }
    }

    fn run(&mut self) {
        let shared = self.shared;
        loop {
            if let Ok(batch) = shared.batch_rx.try_recv() {
                self.run_batch(batch);
                continue;
            }
            if let Some(source) = shared.files.take(self.index) {
                self.run_source(source.as_ref());
                continue;
            }
            // No files left: help with the large inputs still being read, then stop.
            if shared.active_readers.load(Ordering::SeqCst) == 0 && shared.batch_rx.is_empty() {
                return;
            }
            if let Ok(batch) = shared.batch_rx.recv_timeout(Duration::from_millis(2)) {
                self.run_batch(batch);
            }
        }
    }

    fn report(&mut self, err: InputError) {
        self.stats.errors += 1;
        self.shared.observer.on_input_error(&err);
    }

    fn run_source(&mut self, source: &dyn Source) {
        let file = source.name();
        let mut state = FileState::new(file);
        let opened = match open_decoded(source) {
            Ok(opened) => opened,
            Err(err) => {
                self.stats.skip_file(SkipReason::Unreadable);
                self.report(InputError::file(
                    file,
                    SkipReason::Unreadable,
                    format!("cannot open: {err}"),
                ));
                return;
            }
        };
        let split = source
            .size_hint()
            .is_none_or(|size| size >= self.shared.split_threshold);
        let buffer = std::mem::take(&mut self.buffer);
        let Opened {
            reader,
            encoding,
            stored_bytes,
        } = opened;
        let initial = initial_buffer(source.size_hint());
        let mut splitter = Splitter::with_buffer(reader, buffer, initial, DEFAULT_MAX_VALUE);
        let shared_name: Arc<Path> = Arc::from(file);
        if split {
            self.shared.active_readers.fetch_add(1, Ordering::SeqCst);
        }
        let mut stored_reported = 0;
        loop {
            let result = splitter.next_units(&mut self.units);
            let stored = stored_bytes.load(Ordering::Relaxed);
            self.add_progress(stored - stored_reported);
            stored_reported = stored;
            match result {
                Ok(more) => {
                    if split && state.seen_cloudtrail && !self.units.is_empty() {
                        let fresh = self.shared.pool_rx.try_recv().unwrap_or_default();
                        let batch = Batch {
                            buf: splitter.take_buffer(fresh),
                            units: std::mem::take(&mut self.units),
                            file: Arc::clone(&shared_name),
                        };
                        match self.shared.batch_tx.try_send(batch) {
                            Ok(()) => {}
                            Err(TrySendError::Full(batch) | TrySendError::Disconnected(batch)) => {
                                self.run_batch(batch)
                            }
                        }
                    } else {
                        let units = std::mem::take(&mut self.units);
                        for unit in &units {
                            self.handle_unit(splitter.buffer(), unit, &mut state);
                            if state.skipped.is_some() {
                                break;
                            }
                        }
                        self.visitor.batch_done();
                        self.units = units;
                    }
                    if !more || state.skipped.is_some() {
                        break;
                    }
                }
                Err(err) => {
                    self.split_error(err, &mut state, encoding, stored, splitter.values_seen());
                    break;
                }
            }
        }
        if split {
            self.shared.active_readers.fetch_sub(1, Ordering::SeqCst);
        }
        self.finish_source(source, &stored_bytes, splitter, state, stored_reported);
    }

    /// Counts what was read of one source and keeps its buffer for the next.
    fn finish_source<R: std::io::Read>(
        &mut self,
        source: &dyn Source,
        stored_bytes: &AtomicU64,
        splitter: Splitter<R>,
        mut state: FileState<'_>,
        stored_reported: u64,
    ) {
        let stored = stored_bytes.load(Ordering::Relaxed);
        self.add_progress(stored.saturating_sub(stored_reported));
        if state.skipped.is_none() && !state.doubts.is_empty() {
            // No CloudTrail record came: the file is not a log, for its first value's reason.
            let message = state.doubts.swap_remove(0).2;
            state.doubts.clear();
            self.skip_file(&mut state, message);
        }
        if state.skipped.is_none() && !splitter.saw_content() && state.truncated.is_none() {
            state.skipped = Some(SkipReason::EmptyInput);
            self.report(InputError::file(
                source.name(),
                SkipReason::EmptyInput,
                "empty input: no JSON in it",
            ));
        }
        self.stats.bytes_read += stored;
        self.stats.bytes_uncompressed += splitter.bytes_read();
        match (state.skipped, state.truncated) {
            (Some(reason), _) => self.stats.skip_file(reason),
            (None, Some(reason)) => {
                self.stats.files_read += 1;
                self.stats.truncate_file(reason);
            }
            (None, None) => self.stats.files_read += 1,
        }
        let mut buffer = splitter.into_buffer();
        if buffer.len() > DEFAULT_BUFFER {
            // A huge value grew it; do not keep that memory for the next file.
            buffer = Vec::new();
        }
        self.buffer = buffer;
    }

    fn add_progress(&self, delta: u64) {
        if delta == 0 {
            return;
        }
        let done = self.shared.progress.fetch_add(delta, Ordering::Relaxed) + delta;
        self.shared
            .observer
            .on_progress(done, self.shared.bytes_total);
    }

    fn run_batch(&mut self, batch: Batch) {
        let mut state = FileState::new(&batch.file);
        state.seen_cloudtrail = true;
        for unit in &batch.units {
            self.handle_unit(&batch.buf, unit, &mut state);
        }
        self.visitor.batch_done();
        let _ = self.shared.pool_tx.try_send(batch.buf);
    }

    fn split_error(
        &mut self,
        err: SplitError,
        state: &mut FileState<'_>,
        encoding: Encoding,
        stored: u64,
        values: usize,
    ) {
        let file = state.file;
        let (reason, error) = match err {
            SplitError::Read(io) if encoding == Encoding::Gzip => {
                let message = if io.kind() == std::io::ErrorKind::UnexpectedEof {
                    "the gzip stream ends early (truncated file)".to_owned()
                } else {
                    io.to_string()
                };
                (
                    SkipReason::CorruptGzip,
                    InputError::file(file, SkipReason::CorruptGzip, message).at_byte(stored),
                )
            }
            SplitError::Read(io) => (
                SkipReason::Unreadable,
                InputError::file(file, SkipReason::Unreadable, format!("read failed: {io}"))
                    .at_byte(stored),
            ),
            SplitError::Truncated { offset, index } => {
                let error = match index {
                    Some(index) => InputError::file(
                        file,
                        SkipReason::TruncatedJson,
                        "truncated JSON: the input ends inside this record",
                    )
                    .at_record(index),
                    None => InputError::file(
                        file,
                        SkipReason::TruncatedJson,
                        "truncated JSON: the input ends before the closing bracket",
                    ),
                };
                (SkipReason::TruncatedJson, error.at_byte(offset))
            }
            SplitError::Syntax { offset, message } => (
                SkipReason::InvalidJson,
                InputError::file(
                    file,
                    SkipReason::InvalidJson,
                    format!("invalid JSON: {message}"),
                )
                .at_byte(offset),
            ),
            SplitError::NotJson { offset, found } => {
                let shown = if found.is_ascii_graphic() {
                    format!("`{}`", char::from(found))
                } else {
                    format!("byte 0x{found:02x}")
                };
                (
                    SkipReason::NotCloudTrail,
                    InputError::file(
                        file,
                        SkipReason::NotCloudTrail,
                        format!("not a CloudTrail log: not JSON (starts with {shown})"),
                    )
                    .at_byte(offset),
                )
            }
            SplitError::TooLarge { offset, limit } => (
                SkipReason::ValueTooLarge,
                InputError::file(
                    file,
                    SkipReason::ValueTooLarge,
                    format!(
                        "a value is larger than {} MiB; the rest of the file is skipped",
                        limit >> 20
                    ),
                )
                .at_byte(offset),
            ),
        };
        if values == 0 && !state.seen_cloudtrail {
            state.skipped = Some(reason);
        } else {
            state.truncated = Some(reason);
        }
        self.report(error);
    }

    fn handle_unit(&mut self, buf: &[u8], unit: &Unit, state: &mut FileState<'_>) {
        let bytes = &buf[unit.start..unit.end];
        // CloudWatch Logs envelopes hold records as escaped text, which the raw check cannot read.
        let plain = unit.kind == UnitKind::RecordsElement
            || memchr::memmem::find(bytes, b"\"logEvents\"").is_none();
        if plain && self.settled_raw(bytes, unit.hints, state) {
            return;
        }
        let at = At {
            index: unit.index,
            line: unit.line,
            offset: unit.offset,
        };
        // Until a CloudTrail record shows, a top-level value that is not one may be the file's shape or
        // one bad record: judged by the values after it (see `FileState::doubts`).
        let judging = unit.kind == UnitKind::Value && !state.seen_cloudtrail;
        match classify(bytes, unit.kind) {
            Classified::Record(record) => {
                self.cloudtrail_seen(state);
                self.deliver(&record, state.file, at);
            }
            Classified::Records(list) => {
                self.cloudtrail_seen(state);
                for (index, raw) in list.iter().enumerate() {
                    let text = raw.get().as_bytes();
                    let offset =
                        unit.offset + (text.as_ptr() as usize - bytes.as_ptr() as usize) as u64;
                    let at = At {
                        index,
                        line: None,
                        offset,
                    };
                    if self.settled_raw(text, TextHints::UNKNOWN, state) {
                        continue;
                    }
                    match classify(text, UnitKind::RecordsElement) {
                        Classified::Record(record) => self.deliver(&record, state.file, at),
                        Classified::Skip(reason, message) => {
                            self.skip_record(state.file, at, reason, message)
                        }
                        _ => self.skip_record(
                            state.file,
                            at,
                            SkipReason::NotAnEvent,
                            "not a CloudTrail event".into(),
                        ),
                    }
                }
            }
            Classified::Embedded(messages) => {
                self.cloudtrail_seen(state);
                for (i, message) in messages.into_iter().enumerate() {
                    let raw = match RawValue::from_string(message.into_owned()) {
                        Ok(raw) => raw,
                        Err(err) => {
                            self.skip_record(
                                state.file,
                                at,
                                SkipReason::NotJson,
                                format!("`logEvents[{i}].message` is not valid JSON: {err}"),
                            );
                            continue;
                        }
                    };
                    match classify_raw(&raw, UnitKind::RecordsElement) {
                        Classified::Record(record) => self.deliver(&record, state.file, at),
                        Classified::Skip(reason, message) => self.skip_record(
                            state.file,
                            at,
                            reason,
                            format!("`logEvents[{i}].message`: {message}"),
                        ),
                        _ => self.skip_record(
                            state.file,
                            at,
                            SkipReason::NotAnEvent,
                            format!("`logEvents[{i}].message` is not a CloudTrail event"),
                        ),
                    }
                }
            }
            Classified::Control => self.cloudtrail_seen(state),
            Classified::Digest if judging && unit.index == 0 => {
                state.skipped = Some(SkipReason::DigestFile)
            }
            Classified::Digest => self.skip_record(
                state.file,
                at,
                SkipReason::NotAnEvent,
                "a CloudTrail digest, not an event".into(),
            ),
            Classified::NotCloudTrail(message) if judging => {
                self.doubt(state, at, SkipReason::NotAnEvent, message)
            }
            Classified::Skip(reason @ (SkipReason::NotJson | SkipReason::NotAnObject), message)
                if judging =>
            {
                self.doubt(state, at, reason, message)
            }
            Classified::NotCloudTrail(message) => {
                self.skip_record(state.file, at, SkipReason::NotAnEvent, message)
            }
            Classified::Skip(reason, message) => self.skip_record(state.file, at, reason, message),
        }
    }

    /// A top-level value that is not CloudTrail before any CloudTrail record: kept aside until the
    /// values after it tell whether the file is CloudTrail (then it is one bad record) or not (then the
    /// file is skipped, with the first value's reason).
    fn doubt(&mut self, state: &mut FileState<'_>, at: At, reason: SkipReason, message: String) {
        if state.doubts.len() < SNIFF_VALUES {
            state.doubts.push((at, reason, message));
            return;
        }
        let message = state.doubts.swap_remove(0).2;
        state.doubts.clear();
        self.skip_file(state, message);
    }

    /// The file shows a CloudTrail record: the values doubted before it were bad records.
    fn cloudtrail_seen(&mut self, state: &mut FileState<'_>) {
        state.seen_cloudtrail = true;
        for (at, reason, message) in std::mem::take(&mut state.doubts) {
            self.skip_record(state.file, at, reason, message);
        }
    }

    /// Settles a record from its raw text, before parsing, when it can be: the filter certainly drops
    /// it, or it keeps it and the visitor does not want it. Counts it and returns `true` then.
    fn settled_raw(&mut self, raw: &[u8], hints: TextHints, state: &FileState<'_>) -> bool {
        // Until a file shows a CloudTrail record, every value is parsed so the file is judged right.
        if !state.seen_cloudtrail {
            return false;
        }
        let filter = self.shared.filter;
        let record = RawRecord::with_fields(raw, filter.raw_fields()).with_hints(hints);
        match filter.check_raw(&record) {
            RawOutcome::Drop => {
                self.stats.records_seen += 1;
                self.stats.records_filtered += 1;
                return true;
            }
            RawOutcome::Parse => return false,
            RawOutcome::Keep => {}
        }
        // A filtered scan used to parse every record it kept, so one nested past the parser's limit
        // was reported (see `deliver`); it still is, and the visitor never sees it.
        if !filter.is_empty() && may_nest_too_deep(raw) {
            return false;
        }
        if self.visitor.wants_raw(&record) {
            return false;
        }
        self.stats.records_seen += 1;
        self.stats.records_unparsed += 1;
        true
    }

    fn skip_file(&mut self, state: &mut FileState<'_>, message: String) {
        state.skipped = Some(SkipReason::NotCloudTrail);
        self.report(InputError::file(
            state.file,
            SkipReason::NotCloudTrail,
            format!("not a CloudTrail log: {message}"),
        ));
    }

    fn skip_record(&mut self, file: &Path, at: At, reason: SkipReason, message: String) {
        self.stats.records_seen += 1;
        self.stats.skip_record(reason);
        self.report(
            InputError::file(file, reason, message)
                .at_record(at.index)
                .at_line(at.line)
                .at_byte(at.offset),
        );
    }

    fn deliver(&mut self, record: &Record<'_>, file: &Path, at: At) {
        let At { index, offset, .. } = at;
        let outcome = self.shared.filter.check(record);
        match outcome {
            FilterOutcome::Keep => {
                if let Some(field) = record.nested_too_deep() {
                    // serde_json stops at 128 levels: no rule (nor Sigma rule) could read the field.
                    return self.skip_record(
                        file,
                        at,
                        SkipReason::NestedTooDeep,
                        format!(
                            "`{field}` nests deeper than 128 levels, more than the JSON parser reads: \
                             no rule could judge this record"
                        ),
                    );
                }
                self.stats.records_seen += 1;
                self.stats.records_matched += 1;
                if crate::filter::parse_event_time(&record.event_time).is_none() {
                    // Judged all the same: losing a finding because the time is unreadable helps nobody.
                    // What needs the time cannot place it, and the warning says so.
                    self.stats.records_untimed += 1;
                    self.report(
                        InputError::file(
                            file,
                            SkipReason::InvalidEventTime,
                            format!(
                                "{}: judged on its own, never combined with other events (its place among them is unknown)",
                                unreadable_time(&record.event_time)
                            ),
                        )
                        .at_record(index)
                        .at_line(at.line)
                        .at_byte(offset),
                    );
                }
                let origin = Origin {
                    file,
                    record_index: index,
                    byte_offset: offset,
                };
                self.visitor.visit_at(record, &origin);
            }
            FilterOutcome::Drop => {
                self.stats.records_seen += 1;
                self.stats.records_filtered += 1;
            }
            FilterOutcome::BadTime => {
                self.stats.records_seen += 1;
                self.stats.skip_record(SkipReason::InvalidEventTime);
                self.report(
                    InputError::file(
                        file,
                        SkipReason::InvalidEventTime,
                        format!(
                            "{}: --since/--until cannot place it",
                            unreadable_time(&record.event_time)
                        ),
                    )
                    .at_record(index)
                    .at_line(at.line)
                    .at_byte(offset),
                );
            }
        }
    }
}

/// What is wrong with a record's `eventTime`, for a warning.
fn unreadable_time(event_time: &str) -> String {
    if event_time.is_empty() {
        "no `eventTime`".to_owned()
    } else {
        format!(
            "`eventTime` `{event_time}` is not a time (RFC 3339, or `YYYY-MM-DD HH:MM:SS` in UTC)"
        )
    }
}

/// Where a value sits in its file, for messages.
#[derive(Debug, Clone, Copy)]
struct At {
    index: usize,
    line: Option<u64>,
    offset: u64,
}

/// Top-level values that are not CloudTrail, before any record that is, after which a file is judged
/// not to be a CloudTrail log: one bad first record does not make a log "not CloudTrail".
const SNIFF_VALUES: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemorySource;

    fn names(queue: &FileQueue, worker: usize, n: usize) -> Vec<String> {
        (0..n)
            .filter_map(|_| queue.take(worker))
            .map(|s| s.name().display().to_string())
            .collect()
    }

    #[test]
    fn each_worker_reads_its_own_stretch_in_order_then_takes_from_the_longest_left() {
        let sources: Vec<Box<dyn Source>> = (0..10)
            .map(|n| {
                Box::new(MemorySource::new(format!("f{n}"), b"{}".to_vec())) as Box<dyn Source>
            })
            .collect();
        let queue = FileQueue::new(sources, 3);
        // Stretches of four: f0-f3, f4-f7, f8-f9.
        assert_eq!(names(&queue, 0, 2), ["f0", "f1"]);
        assert_eq!(
            names(&queue, 2, 3),
            ["f8", "f9", "f7"],
            "done, it takes the last of the longest"
        );
        assert_eq!(names(&queue, 1, 1), ["f4"]);
        let rest: Vec<String> = [
            names(&queue, 0, 10),
            names(&queue, 1, 10),
            names(&queue, 2, 10),
        ]
        .concat();
        let mut all: Vec<String> = ["f0", "f1", "f7", "f8", "f9", "f4"]
            .into_iter()
            .map(str::to_owned)
            .chain(rest)
            .collect();
        all.sort();
        let expected: Vec<String> = (0..10).map(|n| format!("f{n}")).collect();
        assert_eq!(all, expected, "every file taken once");
        assert!(queue.take(0).is_none());
    }
}
