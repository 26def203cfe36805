//! Counters for one scan: what was read, what was filtered out, what was skipped and why.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::SkipReason;

/// What a scan read and skipped. Workers each keep one and the pipeline adds them up.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScanStats {
    /// Files (and stdin) opened and read as CloudTrail, including ones cut short by an error.
    pub files_read: u64,
    /// Files from which nothing could be read, by reason (digest files, not CloudTrail, unreadable, ...).
    pub files_skipped: BTreeMap<SkipReason, u64>,
    /// Files read in part: records before the problem were delivered, the rest was lost.
    pub files_truncated: BTreeMap<SkipReason, u64>,
    /// Files found while walking directories that are not logs by name or content (README, LICENSE, ...).
    pub files_ignored: u64,
    /// Values that looked like records (counted before filters and before validation).
    pub records_seen: u64,
    /// Records that passed the filters and were handed to the visitor.
    pub records_matched: u64,
    /// Records the filters left out. Those the filter decided from their raw text
    /// ([`crate::Filter::check_raw`]) are checked for structure only, like [`ScanStats::records_unparsed`].
    pub records_filtered: u64,
    /// Records the visitor settled from their raw text ([`crate::RecordVisitor::wants_raw`]): declined,
    /// or judged from their typed fields without a parse. Not validated beyond their structure.
    pub records_unparsed: u64,
    /// Records skipped, by reason (not JSON, missing `eventName`, ...).
    pub records_skipped: BTreeMap<SkipReason, u64>,
    /// Records handed to the visitor without a readable `eventTime` (missing, or not a time), each
    /// reported: rules that judge one record judged them; nothing that needs the time (a sequence rule,
    /// `--since/--until`) could place them. Part of [`ScanStats::records_matched`].
    pub records_untimed: u64,
    /// Bytes read from files and stdin as stored (compressed for `.gz`).
    pub bytes_read: u64,
    /// Bytes after decompression: the JSON text that was split and parsed.
    pub bytes_uncompressed: u64,
    /// Problems reported through [`crate::Observer::on_input_error`].
    pub errors: u64,
}

impl ScanStats {
    /// Adds another worker's counters to these.
    pub fn merge(&mut self, other: &ScanStats) {
        self.files_read += other.files_read;
        add_counts(&mut self.files_skipped, &other.files_skipped);
        add_counts(&mut self.files_truncated, &other.files_truncated);
        self.files_ignored += other.files_ignored;
        self.records_seen += other.records_seen;
        self.records_matched += other.records_matched;
        self.records_filtered += other.records_filtered;
        self.records_unparsed += other.records_unparsed;
        add_counts(&mut self.records_skipped, &other.records_skipped);
        self.records_untimed += other.records_untimed;
        self.bytes_read += other.bytes_read;
        self.bytes_uncompressed += other.bytes_uncompressed;
        self.errors += other.errors;
    }

    /// Total files skipped whatever the reason.
    pub fn files_skipped_total(&self) -> u64 {
        self.files_skipped.values().sum()
    }

    /// Total records skipped whatever the reason.
    pub fn records_skipped_total(&self) -> u64 {
        self.records_skipped.values().sum()
    }

    pub(crate) fn skip_file(&mut self, reason: SkipReason) {
        *self.files_skipped.entry(reason).or_default() += 1;
    }

    pub(crate) fn truncate_file(&mut self, reason: SkipReason) {
        *self.files_truncated.entry(reason).or_default() += 1;
    }

    pub(crate) fn skip_record(&mut self, reason: SkipReason) {
        *self.records_skipped.entry(reason).or_default() += 1;
    }
}

fn add_counts(into: &mut BTreeMap<SkipReason, u64>, from: &BTreeMap<SkipReason, u64>) {
    for (reason, count) in from {
        *into.entry(*reason).or_default() += count;
    }
}
