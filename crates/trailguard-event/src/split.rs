//! The incremental record splitter: finds record boundaries in a byte stream without parsing records.
//!
//! It reads into one buffer (4 MiB by default, grown only while a single value does not fit, up to a
//! limit) and hands out the byte ranges of complete values:
//! - elements of `{"Records":[...]}` (CloudTrail's S3 files; several such objects may follow each other),
//! - elements of a top-level array (`[{...},{...}]`),
//! - top-level values one after another (JSON lines, concatenated JSON, a single event).
//!
//! Only strings (with their escapes) and bracket depth are tracked, 64 bytes at a time
//! ([`crate::structural`]), so splitting costs a small fraction of parsing. Records are parsed afterwards, borrowing from
//! the buffer. Values that are not valid JSON are still cut at their boundary and fail when parsed, so
//! one bad record does not lose the rest of the file.

use std::io::{self, Read};

use crate::structural::{container_end, string_end, value_end_hinted, TextHints};

/// Default buffer size, and so the most one read takes. Small enough to stay in a core's L2 cache
/// from the read that fills it to the split and parse that read it back: reading a trail's 1.3 MB
/// files whole into a 4 MB buffer cost four times the kernel copy of reading them 256 KB at a time
/// (0.27 s against 0.07 s for the 600 MB bench corpus, a plain read loop, 2026-12-05). A value longer
/// than this grows the buffer.
pub const DEFAULT_BUFFER: usize = 256 << 10;
/// The smallest first buffer [`initial_buffer`] chooses.
pub const MIN_BUFFER: usize = 64 << 10;

/// The first buffer size for an input of `stored` bytes (compressed or not; `None` when unknown):
/// enough for the input decompressed at CloudTrail's usual ratio, at most [`DEFAULT_BUFFER`]. A small
/// object then costs a small buffer, which matters when every object starts a new scan (`serve`);
/// a value that does not fit grows the buffer anyway.
pub fn initial_buffer(stored: Option<u64>) -> usize {
    stored.map_or(DEFAULT_BUFFER, |bytes| {
        let expanded = usize::try_from(bytes.saturating_mul(16)).unwrap_or(usize::MAX);
        expanded.clamp(MIN_BUFFER, DEFAULT_BUFFER)
    })
}
/// Default limit for one value (and so for the buffer). CloudTrail records are far smaller.
pub const DEFAULT_MAX_VALUE: usize = 64 << 20;

/// Where a value sits in the input; decides how it is interpreted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitKind {
    /// An element of a `Records` array: must be a CloudTrail event.
    RecordsElement,
    /// A top-level value or an element of a top-level array: an event, an envelope around one, or
    /// something else.
    Value,
}

/// One complete value in the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unit {
    pub start: usize,
    pub end: usize,
    pub kind: UnitKind,
    /// 0-based position among the values of the input.
    pub index: usize,
    /// Offset of the value's first byte in the (decompressed) stream.
    pub offset: u64,
    /// 1-based line of the value's first byte, while every value so far stood at the top level (JSON
    /// lines, concatenated JSON); `None` inside arrays, where the record index says where it is.
    pub line: Option<u64>,
    /// What the split's pass saw in the value's text ([`TextHints::UNKNOWN`] for a value that is not an
    /// object or array, or one cut at a line's end).
    pub hints: TextHints,
}

/// Why splitting stopped early.
#[derive(Debug)]
pub enum SplitError {
    /// The reader failed (for gzip input: the stream is corrupt or cut short).
    Read(io::Error),
    /// The input ends inside a value; `index` is the value that was cut.
    Truncated { offset: u64, index: Option<usize> },
    /// The structure around the values is broken.
    Syntax { offset: u64, message: String },
    /// The input does not start like JSON at all.
    NotJson { offset: u64, found: u8 },
    /// One value does not fit in the largest buffer allowed.
    TooLarge { offset: u64, limit: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between top-level values.
    TopLevel,
    /// Inside an array whose elements we hand out: waiting for an element or `]`.
    ArrayStart(ArrayKind),
    /// After an element: waiting for `,` or `]`.
    AfterElement(ArrayKind),
    /// After a `,`: waiting for an element.
    AfterComma(ArrayKind),
    /// After the `Records` array: skipping the rest of its object.
    RecordsTail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArrayKind {
    Records,
    Top,
}

impl ArrayKind {
    fn unit_kind(self) -> UnitKind {
        match self {
            ArrayKind::Records => UnitKind::RecordsElement,
            ArrayKind::Top => UnitKind::Value,
        }
    }
}

/// Splits a reader into values. Call [`Splitter::next_units`] until it returns `Ok(false)` or an error.
pub struct Splitter<R> {
    reader: R,
    buf: Vec<u8>,
    filled: usize,
    pos: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    eof: bool,
    /// A read error met while filling; reported once the data before it has been handed out.
    pending_error: Option<io::Error>,
    /// A structural error met after some values; reported on the next call.
    pending_split: Option<SplitError>,
    state: State,
    next_index: usize,
    max_value: usize,
    seen_first_byte: bool,
    done: bool,
    /// Newlines before `pos`, counted while the input is top-level values only (`None` after).
    lines: Option<u64>,
}

enum Step {
    /// A value ends here; what the pass over it saw.
    Unit(usize, TextHints),
    NeedMore,
}

impl<R: Read> Splitter<R> {
    pub fn new(reader: R) -> Self {
        Self::with_buffer(reader, Vec::new(), DEFAULT_BUFFER, DEFAULT_MAX_VALUE)
    }

    /// A splitter reusing `buffer` (grown to `initial` bytes if smaller) and limiting one value to
    /// `max_value` bytes.
    pub fn with_buffer(reader: R, mut buffer: Vec<u8>, initial: usize, max_value: usize) -> Self {
        let size = initial.min(max_value).max(buffer.len());
        buffer.resize(size, 0);
        Splitter {
            reader,
            buf: buffer,
            filled: 0,
            pos: 0,
            base: 0,
            eof: false,
            pending_error: None,
            pending_split: None,
            state: State::TopLevel,
            next_index: 0,
            max_value: max_value.max(16),
            seen_first_byte: false,
            done: false,
            lines: Some(0),
        }
    }

    /// The buffer the last units point into.
    pub fn buffer(&self) -> &[u8] {
        &self.buf
    }

    /// Gives the buffer back for reuse.
    pub fn into_buffer(self) -> Vec<u8> {
        self.buf
    }

    /// Total bytes read from the reader so far.
    pub fn bytes_read(&self) -> u64 {
        self.base + self.filled as u64
    }

    /// Whether anything other than whitespace was read.
    pub fn saw_content(&self) -> bool {
        self.seen_first_byte
            || self.buf[self.pos..self.filled]
                .iter()
                .any(|b| !b.is_ascii_whitespace() && *b != 0xEF && *b != 0xBB && *b != 0xBF)
    }

    /// Number of values handed out so far.
    pub fn values_seen(&self) -> usize {
        self.next_index
    }

    /// Reads more input and appends the complete values found to `out` (cleared first).
    ///
    /// Returns `Ok(true)` while input may remain and `Ok(false)` at a clean end. The ranges in `out`
    /// point into [`Splitter::buffer`] and stay valid until the next call. An error is returned only
    /// after every value before it has been handed out.
    pub fn next_units(&mut self, out: &mut Vec<Unit>) -> Result<bool, SplitError> {
        out.clear();
        if let Some(err) = self.pending_split.take() {
            return Err(err);
        }
        if self.done {
            return Ok(false);
        }
        loop {
            self.fill()?;
            if let Err(err) = self.scan(out) {
                if out.is_empty() {
                    return Err(err);
                }
                // Hand out the values before the error first.
                self.pending_split = Some(err);
                return Ok(true);
            }
            if !out.is_empty() {
                return Ok(true);
            }
            if self.eof {
                return self.finish();
            }
        }
    }

    /// Swaps in `fresh` as the working buffer, moving the unconsumed tail into it, and returns the old
    /// buffer: the units from the last [`Splitter::next_units`] still point into it. Lets a reader
    /// thread hand whole buffers to workers without copying records.
    pub fn take_buffer(&mut self, mut fresh: Vec<u8>) -> Vec<u8> {
        let tail = self.filled - self.pos;
        if fresh.len() < self.buf.len() {
            fresh.resize(self.buf.len(), 0);
        }
        fresh[..tail].copy_from_slice(&self.buf[self.pos..self.filled]);
        self.base += self.pos as u64;
        self.filled = tail;
        self.pos = 0;
        std::mem::replace(&mut self.buf, fresh)
    }

    /// Called at end of input when nothing more can be split.
    fn finish(&mut self) -> Result<bool, SplitError> {
        self.done = true;
        if let Some(err) = self.pending_error.take() {
            return Err(SplitError::Read(err));
        }
        let rest = &self.buf[self.pos..self.filled];
        let only_space = rest.iter().all(|b| b.is_ascii_whitespace());
        if self.state == State::TopLevel && only_space {
            return Ok(false);
        }
        let index = match self.state {
            State::TopLevel | State::ArrayStart(_) | State::AfterComma(_) if !only_space => {
                Some(self.next_index)
            }
            _ => None,
        };
        Err(SplitError::Truncated {
            offset: self.base + self.pos as u64,
            index,
        })
    }

    /// Drops consumed bytes and reads until the buffer is full or the input ends.
    fn fill(&mut self) -> Result<(), SplitError> {
        if self.eof {
            return Ok(());
        }
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.filled, 0);
            self.base += self.pos as u64;
            self.filled -= self.pos;
            self.pos = 0;
        }
        if self.filled == self.buf.len() {
            // One value fills the whole buffer: grow, up to the limit.
            if self.buf.len() >= self.max_value {
                self.done = true;
                return Err(SplitError::TooLarge {
                    offset: self.base,
                    limit: self.max_value,
                });
            }
            let grown = (self.buf.len() * 2).min(self.max_value);
            self.buf.resize(grown, 0);
        }
        while self.filled < self.buf.len() {
            match self.reader.read(&mut self.buf[self.filled..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => self.filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.pending_error = Some(e);
                    self.eof = true;
                    break;
                }
            }
        }
        Ok(())
    }

    fn push(
        &mut self,
        out: &mut Vec<Unit>,
        start: usize,
        end: usize,
        kind: UnitKind,
        hints: TextHints,
    ) {
        let top_level = self.state == State::TopLevel;
        if !top_level {
            self.lines = None;
        }
        out.push(Unit {
            start,
            end,
            kind,
            index: self.next_index,
            offset: self.base + start as u64,
            line: self.lines.map(|n| n + 1),
            hints,
        });
        if let Some(lines) = self.lines.as_mut() {
            *lines += memchr::memchr_iter(b'\n', &self.buf[start..end]).count() as u64;
        }
        self.next_index += 1;
        self.pos = end;
    }

    fn skip_space(&mut self) {
        if !self.seen_first_byte && self.base == 0 && self.pos == 0 {
            if self.filled < 3 && !self.eof {
                return;
            }
            if self.buf[..self.filled].starts_with(&[0xEF, 0xBB, 0xBF]) {
                self.pos = 3;
            }
        }
        let from = self.pos;
        while self.pos < self.filled && self.buf[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
        if let Some(lines) = self.lines.as_mut() {
            *lines += memchr::memchr_iter(b'\n', &self.buf[from..self.pos]).count() as u64;
        }
    }

    /// Hands out every complete value in the buffer; stops at the first incomplete one.
    fn scan(&mut self, out: &mut Vec<Unit>) -> Result<(), SplitError> {
        loop {
            self.skip_space();
            if self.pos >= self.filled {
                return Ok(());
            }
            let first = self.buf[self.pos];
            let at_start = !self.seen_first_byte;
            self.seen_first_byte = true;
            match self.state {
                State::TopLevel => {
                    if first == b'{' {
                        match records_header(&self.buf[self.pos..self.filled], self.eof) {
                            Header::Records(len) => {
                                self.lines = None;
                                self.pos += len;
                                self.state = State::ArrayStart(ArrayKind::Records);
                                continue;
                            }
                            Header::NeedMore => {
                                self.seen_first_byte = !at_start;
                                return Ok(());
                            }
                            Header::Other => {}
                        }
                    } else if first == b'[' {
                        self.lines = None;
                        self.pos += 1;
                        self.state = State::ArrayStart(ArrayKind::Top);
                        continue;
                    } else if at_start && !starts_json_value(first) {
                        self.done = true;
                        return Err(SplitError::NotJson {
                            offset: self.base + self.pos as u64,
                            found: first,
                        });
                    }
                    let step = if first == b'{' {
                        match broken_line(&self.buf[..self.filled], self.pos, self.eof) {
                            Some(step) => step,
                            None => value_end(&self.buf[..self.filled], self.pos, self.eof),
                        }
                    } else if first == b'"' {
                        value_end(&self.buf[..self.filled], self.pos, self.eof)
                    } else {
                        // A scalar or not JSON: cut the line so the next line (JSON lines) is still read.
                        line_end(&self.buf[..self.filled], self.pos, self.eof)
                    };
                    match step {
                        Step::Unit(end, hints) => {
                            self.push(out, self.pos, end, UnitKind::Value, hints)
                        }
                        Step::NeedMore => return Ok(()),
                    }
                }
                State::ArrayStart(kind) | State::AfterComma(kind) => {
                    if first == b']' {
                        self.close_array(kind);
                        continue;
                    }
                    match value_end(&self.buf[..self.filled], self.pos, self.eof) {
                        Step::Unit(end, hints) => {
                            self.push(out, self.pos, end, kind.unit_kind(), hints);
                            self.state = State::AfterElement(kind);
                        }
                        Step::NeedMore => return Ok(()),
                    }
                }
                State::AfterElement(kind) => match first {
                    b',' => {
                        self.pos += 1;
                        self.state = State::AfterComma(kind);
                    }
                    b']' => self.close_array(kind),
                    other => {
                        self.done = true;
                        return Err(SplitError::Syntax {
                            offset: self.base + self.pos as u64,
                            message: format!(
                                "expected `,` or `]` after record {}, found `{}`",
                                self.next_index.saturating_sub(1),
                                char::from(other).escape_default()
                            ),
                        });
                    }
                },
                State::RecordsTail => match container_end(&self.buf[..self.filled], self.pos, 1) {
                    Some(end) => {
                        self.pos = end;
                        self.state = State::TopLevel;
                    }
                    None => return Ok(()),
                },
            }
        }
    }

    fn close_array(&mut self, kind: ArrayKind) {
        self.pos += 1;
        self.state = match kind {
            ArrayKind::Records => State::RecordsTail,
            ArrayKind::Top => State::TopLevel,
        };
    }
}

pub(crate) enum Header {
    /// `{"Records":[`: the number of bytes up to and including `[`.
    Records(usize),
    Other,
    NeedMore,
}

/// Recognises `{ "Records" : [` at the start of `bytes`.
pub(crate) fn records_header(bytes: &[u8], eof: bool) -> Header {
    const KEY: &[u8] = b"\"Records\"";
    let short = if eof { Header::Other } else { Header::NeedMore };
    let skip = |mut i: usize| {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    let mut i = skip(1);
    let available = (bytes.len() - i).min(KEY.len());
    if bytes[i..i + available] != KEY[..available] {
        return Header::Other;
    }
    if available < KEY.len() {
        return short;
    }
    i = skip(i + KEY.len());
    match bytes.get(i) {
        None => return short,
        Some(b':') => {}
        Some(_) => return Header::Other,
    }
    i = skip(i + 1);
    match bytes.get(i) {
        None => short,
        Some(b'[') => Header::Records(i + 1),
        Some(_) => Header::Other,
    }
}

/// Bytes a JSON value may start with (besides objects and arrays, handled by the caller).
fn starts_json_value(b: u8) -> bool {
    matches!(
        b,
        b'{' | b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n'
    )
}

/// The end of the value starting at `start`, or `NeedMore` when the buffer ends first.
fn value_end(buf: &[u8], start: usize, eof: bool) -> Step {
    match buf[start] {
        b'{' | b'[' => match value_end_hinted(buf, start) {
            Some((end, hints)) => Step::Unit(end, hints),
            None => Step::NeedMore,
        },
        b'"' => match string_end(buf, start + 1) {
            Some(end) => Step::Unit(end, TextHints::UNKNOWN),
            None => Step::NeedMore,
        },
        _ => {
            // A scalar, or garbage: up to the next delimiter. Whatever it is, the parser judges it.
            let rest = &buf[start..];
            match rest.iter().position(|&b| {
                matches!(b, b',' | b']' | b'}' | b'{' | b'[') || b.is_ascii_whitespace()
            }) {
                Some(0) => Step::Unit(start + 1, TextHints::UNKNOWN),
                Some(len) => Step::Unit(start + len, TextHints::UNKNOWN),
                None if eof => Step::Unit(buf.len(), TextHints::UNKNOWN),
                None => Step::NeedMore,
            }
        }
    }
}

/// A top-level object that a line starting with `{` interrupts before it closes: in JSON lines, a record
/// cut short (the next line is the next record). Returns its line, so the bad record is reported alone
/// and reading resumes at the next line; `None` when the value is whole on its line or spans lines as
/// pretty-printed JSON does (inner lines are indented or start with a key). `NeedMore` when the line
/// after the first newline is not in the buffer yet.
fn broken_line(buf: &[u8], start: usize, eof: bool) -> Option<Step> {
    let newline = start + memchr::memchr(b'\n', &buf[start..])?;
    let line = &buf[start..newline];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if let Some((end, hints)) = value_end_hinted(line, 0) {
        // The value is whole on its line.
        return Some(Step::Unit(start + end, hints));
    }
    match buf.get(newline + 1) {
        Some(b'{') => Some(Step::Unit(start + line.len(), TextHints::UNKNOWN)),
        Some(b'\r') => match buf.get(newline + 2) {
            Some(b'{') => Some(Step::Unit(start + line.len(), TextHints::UNKNOWN)),
            Some(_) => None,
            None if eof => None,
            None => Some(Step::NeedMore),
        },
        Some(_) => None,
        None if eof => None,
        None => Some(Step::NeedMore),
    }
}

/// The end of the line starting at `start` (excluding the newline).
fn line_end(buf: &[u8], start: usize, eof: bool) -> Step {
    match memchr::memchr(b'\n', &buf[start..]) {
        Some(len) => Step::Unit(start + len.max(1), TextHints::UNKNOWN),
        None if eof => Step::Unit(buf.len(), TextHints::UNKNOWN),
        None => Step::NeedMore,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that returns at most `chunk` bytes per call, to cut values at every possible place.
    struct Trickle<'a> {
        data: &'a [u8],
        chunk: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.chunk.min(out.len()).min(self.data.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    /// A value's text, kind, index and offset.
    type Found = (String, UnitKind, usize, u64);

    fn split_all(data: &[u8], chunk: usize, buffer: usize) -> (Vec<Found>, Option<SplitError>) {
        let mut splitter =
            Splitter::with_buffer(Trickle { data, chunk }, Vec::new(), buffer, 1 << 20);
        let mut units = Vec::new();
        let mut found = Vec::new();
        loop {
            match splitter.next_units(&mut units) {
                Ok(more) => {
                    for u in &units {
                        let text =
                            String::from_utf8(splitter.buffer()[u.start..u.end].to_vec()).unwrap();
                        found.push((text, u.kind, u.index, u.offset));
                    }
                    if !more {
                        return (found, None);
                    }
                }
                Err(e) => return (found, Some(e)),
            }
        }
    }

    fn texts(found: &[Found]) -> Vec<&str> {
        found.iter().map(|f| f.0.as_str()).collect()
    }

    const RECORDS: &str = r#"{"Records":[{"eventName":"A","x":"}]\"{"},{"eventName":"B","n":[1,{"y":2}]} ,
        {"eventName":"C"}]}"#;

    #[test]
    fn splits_records_file_at_every_buffer_and_read_size() {
        for chunk in [1, 2, 3, 7, 64, 4096] {
            for buffer in [16, 40, 4096] {
                let (found, err) = split_all(RECORDS.as_bytes(), chunk, buffer);
                assert!(err.is_none(), "chunk {chunk} buffer {buffer}: {err:?}");
                assert_eq!(
                    texts(&found),
                    [
                        r#"{"eventName":"A","x":"}]\"{"}"#,
                        r#"{"eventName":"B","n":[1,{"y":2}]}"#,
                        r#"{"eventName":"C"}"#
                    ],
                    "chunk {chunk} buffer {buffer}"
                );
                assert!(found.iter().all(|f| f.1 == UnitKind::RecordsElement));
                assert_eq!(found.iter().map(|f| f.2).collect::<Vec<_>>(), [0, 1, 2]);
                for (text, _, _, offset) in &found {
                    let at = *offset as usize;
                    assert_eq!(&RECORDS[at..at + text.len()], text);
                }
            }
        }
    }

    /// Each record's hints are about its own text, whatever the buffer and read sizes and the form of
    /// the file: a backslash is reported exactly and an `errorCode` key is never missed, even when the
    /// record next to it holds both.
    #[test]
    fn units_carry_hints_about_their_own_text() {
        let records = [
            r#"{"eventName":"A","errorCode":"AccessDenied"}"#,
            r#"{"eventName":"B","x":"A"}"#,
            r#"{"eventName":"C","x":"plain"}"#,
        ];
        let forms = [
            format!(r#"{{"Records":[{}]}}"#, records.join(",")),
            records.join("\n"),
            format!("[{}]", records.join(", ")),
        ];
        for form in &forms {
            for (chunk, buffer) in [(1, 16), (7, 40), (4096, 4096)] {
                let mut splitter = Splitter::with_buffer(
                    Trickle {
                        data: form.as_bytes(),
                        chunk,
                    },
                    Vec::new(),
                    buffer,
                    1 << 20,
                );
                let mut units = Vec::new();
                let mut seen = Vec::new();
                while let Ok(more) = splitter.next_units(&mut units) {
                    for u in &units {
                        let text = &splitter.buffer()[u.start..u.end];
                        seen.push((String::from_utf8_lossy(text).into_owned(), u.hints));
                    }
                    if !more {
                        break;
                    }
                }
                let expected: Vec<(String, bool, bool)> = records
                    .iter()
                    .map(|r| (r.to_string(), r.contains('\\'), r.contains("errorCode")))
                    .collect();
                assert_eq!(seen.len(), expected.len(), "{form} {chunk} {buffer}");
                for ((text, hints), (want, backslash, key)) in seen.iter().zip(&expected) {
                    assert_eq!(text, want);
                    assert_eq!(hints.backslash, *backslash, "{text} in {form}");
                    assert_eq!(hints.error_code, *key, "{text} in {form}");
                }
            }
        }
    }

    #[test]
    fn splits_json_lines_arrays_and_concatenated_files() {
        let input = "\u{feff}{\"eventName\":\"A\"}\r\n{\"eventName\":\"B\"}\n[{\"eventName\":\"C\"}, {\"eventName\":\"D\"}]\n{\"Records\" : [ {\"eventName\":\"E\"} ], \"extra\": {\"k\": [\"]\"]}}{\"Records\":[]}\n";
        for chunk in [1, 5, 1000] {
            let (found, err) = split_all(input.as_bytes(), chunk, 32);
            assert!(err.is_none(), "{err:?}");
            assert_eq!(
                texts(&found),
                [
                    r#"{"eventName":"A"}"#,
                    r#"{"eventName":"B"}"#,
                    r#"{"eventName":"C"}"#,
                    r#"{"eventName":"D"}"#,
                    r#"{"eventName":"E"}"#
                ]
            );
            let kinds: Vec<_> = found.iter().map(|f| f.1).collect();
            assert_eq!(kinds[..4], [UnitKind::Value; 4]);
            assert_eq!(kinds[4], UnitKind::RecordsElement);
        }
    }

    #[test]
    fn object_without_leading_records_key_is_one_value() {
        let input = r#"{"detail-type":"AWS API Call via CloudTrail","detail":{"eventName":"A"}}"#;
        let (found, err) = split_all(input.as_bytes(), 3, 16);
        assert!(err.is_none());
        assert_eq!(texts(&found), [input]);
    }

    #[test]
    fn truncation_keeps_records_before_the_cut() {
        let cut = &RECORDS[..RECORDS.find("{\"eventName\":\"C\"").unwrap() + 5];
        let (found, err) = split_all(cut.as_bytes(), 7, 4096);
        assert_eq!(found.len(), 2);
        match err {
            Some(SplitError::Truncated {
                index: Some(2),
                offset,
            }) => {
                assert_eq!(
                    offset as usize,
                    RECORDS.find("{\"eventName\":\"C\"").unwrap()
                )
            }
            other => panic!("{other:?}"),
        }
        // Cut right after a complete element: truncated, but no record is lost.
        let cut = &RECORDS[..RECORDS.find(" ,").unwrap()];
        let (found, err) = split_all(cut.as_bytes(), 7, 4096);
        assert_eq!(found.len(), 2);
        assert!(
            matches!(err, Some(SplitError::Truncated { index: None, .. })),
            "{err:?}"
        );
    }

    #[test]
    fn empty_and_whitespace_inputs_end_cleanly() {
        for input in ["", "  \n\t", "\u{feff}"] {
            let (found, err) = split_all(input.as_bytes(), 4, 64);
            assert!(found.is_empty() && err.is_none(), "{input:?}: {err:?}");
        }
    }

    #[test]
    fn text_that_is_not_json_is_rejected_at_once() {
        let (found, err) = split_all(b"MIT License\n\nCopyright", 4, 64);
        assert!(found.is_empty());
        assert!(
            matches!(
                err,
                Some(SplitError::NotJson {
                    offset: 0,
                    found: b'M'
                })
            ),
            "{err:?}"
        );
    }

    #[test]
    fn garbage_line_in_json_lines_is_cut_and_the_rest_read() {
        let input = "{\"eventName\":\"A\"}\nnot json at all\n{\"eventName\":\"B\"}\n";
        let (found, err) = split_all(input.as_bytes(), 3, 64);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(
            texts(&found),
            [
                r#"{"eventName":"A"}"#,
                "not json at all",
                r#"{"eventName":"B"}"#
            ]
        );
    }

    #[test]
    fn json_lines_resume_at_the_line_after_a_record_cut_short() {
        let input = "{\"eventName\":\"A\",\"x\":{\"y\":1\n{\"eventName\":\"B\"}\r\n{\"eventName\":\"C\",\"n\":[1\r\n{\"eventName\":\"D\"}\n";
        for chunk in [1, 3, 1000] {
            for buffer in [24, 4096] {
                let (found, err) = split_all(input.as_bytes(), chunk, buffer);
                assert!(err.is_none(), "chunk {chunk} buffer {buffer}: {err:?}");
                assert_eq!(
                    texts(&found),
                    [
                        r#"{"eventName":"A","x":{"y":1"#,
                        r#"{"eventName":"B"}"#,
                        r#"{"eventName":"C","n":[1"#,
                        r#"{"eventName":"D"}"#
                    ],
                    "chunk {chunk} buffer {buffer}"
                );
                assert_eq!(found.iter().map(|f| f.2).collect::<Vec<_>>(), [0, 1, 2, 3]);
            }
        }
        let after_blank_line = format!("\n{input}");
        let mut splitter = Splitter::new(after_blank_line.as_bytes());
        let mut units = Vec::new();
        splitter.next_units(&mut units).unwrap();
        let lines: Vec<_> = units.iter().map(|u| u.line).collect();
        assert_eq!(lines, [Some(2), Some(3), Some(4), Some(5)]);
        // Pretty-printed JSON spans lines and stays one value; cut at the end, it is truncated.
        let pretty = "{\n  \"eventName\": \"A\",\n  \"x\": {\n    \"y\": 1\n  }\n}\n{\n  \"eventName\": \"B\"\n";
        let (found, err) = split_all(pretty.as_bytes(), 5, 4096);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(matches!(err, Some(SplitError::Truncated { .. })), "{err:?}");
    }

    #[test]
    fn missing_comma_between_records_is_a_syntax_error_after_the_good_ones() {
        let input = r#"{"Records":[{"eventName":"A"} {"eventName":"B"}]}"#;
        let (found, err) = split_all(input.as_bytes(), 100, 4096);
        assert_eq!(texts(&found), [r#"{"eventName":"A"}"#]);
        match err {
            Some(SplitError::Syntax { offset, message }) => {
                assert_eq!(offset, 30);
                assert!(
                    message.contains("expected `,` or `]` after record 0"),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn value_larger_than_the_limit_is_reported() {
        let big = format!("[{{\"eventName\":\"{}\"}}]", "x".repeat(5000));
        let mut splitter = Splitter::with_buffer(big.as_bytes(), Vec::new(), DEFAULT_BUFFER, 1024);
        let mut units = Vec::new();
        let err = loop {
            match splitter.next_units(&mut units) {
                Ok(true) => continue,
                Ok(false) => panic!("no error"),
                Err(e) => break e,
            }
        };
        assert!(
            matches!(err, SplitError::TooLarge { limit: 1024, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn the_first_buffer_fits_a_small_input_and_never_exceeds_the_default() {
        assert_eq!(initial_buffer(None), DEFAULT_BUFFER);
        assert_eq!(initial_buffer(Some(0)), MIN_BUFFER);
        // A 10 KB gzip object of 100 records inflates to well under 160 KB.
        assert_eq!(initial_buffer(Some(10_000)), 160_000);
        assert_eq!(initial_buffer(Some(u64::MAX)), DEFAULT_BUFFER);
    }

    #[test]
    fn take_buffer_keeps_units_valid_and_moves_the_tail() {
        let mut splitter = Splitter::with_buffer(
            Trickle {
                data: RECORDS.as_bytes(),
                chunk: 50,
            },
            Vec::new(),
            DEFAULT_BUFFER,
            1 << 20,
        );
        splitter.buf.truncate(60);
        let mut units = Vec::new();
        let mut found = Vec::new();
        while splitter.next_units(&mut units).unwrap() {
            let old = splitter.take_buffer(Vec::new());
            for u in &units {
                found.push(String::from_utf8(old[u.start..u.end].to_vec()).unwrap());
            }
        }
        assert_eq!(found.len(), 3);
        assert_eq!(found[2], r#"{"eventName":"C"}"#);
    }
}
