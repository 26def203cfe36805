//! What can go wrong with input, and how it is reported.
//!
//! Bad input never stops a scan: each problem becomes one [`InputError`] (handed to the
//! [`Observer`](crate::Observer)) and one count in [`ScanStats`](crate::ScanStats) under its
//! [`SkipReason`]. Only problems with the scan itself (no inputs, threads that cannot start) are a
//! [`ScanError`].

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

/// Why a file or a record was skipped. Used as the key of the skip counters in [`crate::ScanStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    // File level: nothing (or nothing more) could be read from the file.
    /// A CloudTrail digest file (`CloudTrail-Digest` in the path, or the digest JSON shape).
    DigestFile,
    /// Valid JSON (or text) that is not CloudTrail: no event, `Records` or envelope in it.
    NotCloudTrail,
    /// The file could not be opened or read (missing, permissions, I/O error).
    Unreadable,
    /// The gzip stream is damaged or cut short.
    CorruptGzip,
    /// The JSON stops in the middle of a value (records before the cut are still delivered).
    TruncatedJson,
    /// The JSON structure around the records is broken (not a record-level problem).
    InvalidJson,
    /// One value is larger than the splitter's limit.
    ValueTooLarge,
    /// The input holds no bytes (or only whitespace).
    EmptyInput,
    /// A FIFO, socket or device in a scanned directory: reading it could block or never end.
    NotRegularFile,
    // Record level: one value was skipped, the rest of the file goes on.
    /// The record is not valid JSON.
    NotJson,
    /// The record is JSON but not an object.
    NotAnObject,
    /// The record has no `eventName`.
    MissingEventName,
    /// The record has no `eventTime`: a reason skipped records no longer have (such a record is judged
    /// without a time, [`crate::ScanStats::records_untimed`]), kept so earlier reports still read.
    MissingEventTime,
    /// The record has no `eventSource`.
    MissingEventSource,
    /// A field has the wrong type (for example `eventName` is a number).
    InvalidField,
    /// `eventTime` is missing or not a time (`parse_event_time`). With `--since/--until` the record is
    /// skipped (the filter cannot place it); otherwise every rule judges it on its own (a sequence rule as a
    /// sequence of one), and the report says that no rule could combine it with other events.
    InvalidEventTime,
    /// A value inside a CloudTrail file that is not a CloudTrail event.
    NotAnEvent,
    /// A nested document (`requestParameters`, ...) nests deeper than the JSON parser reads
    /// (128 levels), so no rule could judge the record.
    NestedTooDeep,
}

impl SkipReason {
    /// Whether this reason describes a whole file rather than one record.
    pub fn is_file_level(self) -> bool {
        matches!(
            self,
            SkipReason::DigestFile
                | SkipReason::NotCloudTrail
                | SkipReason::Unreadable
                | SkipReason::CorruptGzip
                | SkipReason::TruncatedJson
                | SkipReason::InvalidJson
                | SkipReason::ValueTooLarge
                | SkipReason::EmptyInput
                | SkipReason::NotRegularFile
        )
    }

    /// The snake_case name used in counters and JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::DigestFile => "digest_file",
            SkipReason::NotCloudTrail => "not_cloudtrail",
            SkipReason::Unreadable => "unreadable",
            SkipReason::CorruptGzip => "corrupt_gzip",
            SkipReason::TruncatedJson => "truncated_json",
            SkipReason::InvalidJson => "invalid_json",
            SkipReason::ValueTooLarge => "value_too_large",
            SkipReason::EmptyInput => "empty_input",
            SkipReason::NotRegularFile => "not_regular_file",
            SkipReason::NotJson => "not_json",
            SkipReason::NotAnObject => "not_an_object",
            SkipReason::MissingEventName => "missing_event_name",
            SkipReason::MissingEventTime => "missing_event_time",
            SkipReason::MissingEventSource => "missing_event_source",
            SkipReason::InvalidField => "invalid_field",
            SkipReason::InvalidEventTime => "invalid_event_time",
            SkipReason::NotAnEvent => "not_an_event",
            SkipReason::NestedTooDeep => "nested_too_deep",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem with the input: which file, where in it, and why.
///
/// `record_index` is the 0-based position of the value in the file (`Records[12]`, the 13th JSON line);
/// `byte_offset` counts decompressed bytes from the start of the file, except for gzip errors, where it
/// counts compressed bytes read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InputError {
    pub file: PathBuf,
    pub record_index: Option<usize>,
    /// 1-based line, for values of JSON lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    pub byte_offset: Option<u64>,
    pub reason: SkipReason,
    pub message: String,
}

impl InputError {
    pub(crate) fn file(
        file: impl Into<PathBuf>,
        reason: SkipReason,
        message: impl Into<String>,
    ) -> Self {
        InputError {
            file: file.into(),
            record_index: None,
            line: None,
            byte_offset: None,
            reason,
            message: message.into(),
        }
    }

    pub(crate) fn at_byte(mut self, offset: u64) -> Self {
        self.byte_offset = Some(offset);
        self
    }

    pub(crate) fn at_record(mut self, index: usize) -> Self {
        self.record_index = Some(index);
        self
    }

    pub(crate) fn at_line(mut self, line: Option<u64>) -> Self {
        self.line = line;
        self
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.file.display())?;
        match (self.record_index, self.byte_offset) {
            (Some(index), Some(offset)) => match self.line {
                Some(line) => write!(f, "line {line}, record {index} (byte {offset}): ")?,
                None => write!(f, "record {index} (byte {offset}): ")?,
            },
            (Some(index), None) => write!(f, "record {index}: ")?,
            (None, Some(offset)) if self.reason == SkipReason::CorruptGzip => {
                write!(f, "corrupt gzip at byte {offset}: ")?
            }
            (None, Some(offset)) => write!(f, "at byte {offset}: ")?,
            (None, None) => {}
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for InputError {}

/// A problem with the scan itself rather than with one input.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("no inputs given: name files, directories or `-` for stdin")]
    NoInputs,
    #[error("`-` (stdin) given more than once")]
    StdinTwice,
    #[error("cannot start a scan worker thread")]
    Thread(#[source] std::io::Error),
    #[error("a scan worker thread panicked")]
    WorkerPanicked,
}
