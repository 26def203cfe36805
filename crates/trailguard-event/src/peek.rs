//! Reads top-level string fields of a raw record without parsing it, so that a visitor can decline a
//! record (most of a trail is read-only calls no rule looks at) before it is fully parsed.
//!
//! [`RawRecord`] reads `eventSource` and `eventName` in one walk over the record's top-level keys, once
//! per record, for every consumer (built-in rules, Sigma rules); nested values are skipped 64 bytes at
//! a time ([`crate::structural`]).

use std::sync::LazyLock;

use memchr::memmem::Finder;

pub use crate::structural::TextHints;
use crate::structural::{string_end, string_end_plain};

/// A record's raw JSON text and the fields the scan dispatches on, read without parsing.
#[derive(Debug, Clone, Copy)]
pub struct RawRecord<'a> {
    text: &'a [u8],
    event_source: Option<&'a str>,
    event_name: Option<&'a str>,
    event_time: Peeked<'a>,
    aws_region: Peeked<'a>,
    recipient_account_id: Peeked<'a>,
    caller_account_id: Peeked<'a>,
    malformed: bool,
    /// The text of `userIdentity`, when the walk passed it once under a plain key.
    user_identity_text: Option<&'a [u8]>,
    /// Where the walk stopped: members before it were read by key.
    walked_to: usize,
    /// An `errorCode` key came by before `walked_to`; `odd_key`: a key spelled with escapes did.
    saw_error_code: bool,
    odd_key: bool,
    /// What the splitter saw in `text` ([`RawRecord::with_hints`]).
    hints: TextHints,
}

/// The fields a raw walk reads besides `eventSource` and `eventName`: what a filter needs
/// ([`crate::Filter::raw_fields`]), so that a scan without filters walks no further than before.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RawFields {
    /// Top-level `eventTime`.
    pub event_time: bool,
    /// Top-level `awsRegion`.
    pub aws_region: bool,
    /// Top-level `recipientAccountId` and `userIdentity.accountId`.
    pub accounts: bool,
}

/// A string field as a raw walk read it, in the terms serde would: a field is [`Peeked::Text`] or
/// [`Peeked::Missing`] only when [`Record::from_raw`](crate::Record::from_raw) would read the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peeked<'a> {
    /// A string without escapes (serde reads these very bytes).
    Text(&'a str),
    /// `null`, or absent from an object walked to its end (serde reads `None`).
    Missing,
    /// Not known from the text alone: not asked for; an escaped string or another type; the key appears
    /// twice (serde rejects the record); the object has a key spelled with escapes, which may be this
    /// one; or the walk stopped on broken text first. Parse to know.
    Unknown,
}

impl<'a> Peeked<'a> {
    /// The field as serde reads an optional string: `Some(None)` when missing, `None` when unknown.
    pub fn optional(self) -> Option<Option<&'a str>> {
        match self {
            Peeked::Text(text) => Some(Some(text)),
            Peeked::Missing => Some(None),
            Peeked::Unknown => None,
        }
    }
}

impl<'a> RawRecord<'a> {
    /// Reads `eventSource` and `eventName` from `text` (a JSON object), stopping once both are found.
    ///
    /// ```
    /// let raw = trailguard_event::peek::RawRecord::new(
    ///     br#"{"userIdentity":{"eventName":"x"},"eventSource":"iam.amazonaws.com","eventName":"CreateUser"}"#,
    /// );
    /// assert_eq!(raw.event_name(), Some("CreateUser"));
    /// assert_eq!(raw.event_source(), Some("iam.amazonaws.com"));
    /// ```
    pub fn new(text: &'a [u8]) -> Self {
        Self::with_fields(text, RawFields::default())
    }

    /// Reads `eventSource`, `eventName` and the `fields` asked for in one walk over the top-level
    /// keys, descending into `userIdentity` only when accounts are asked for. The walk stops once every
    /// field is found; a field that is absent costs a walk to the object's end.
    ///
    /// ```
    /// use trailguard_event::peek::{Peeked, RawFields, RawRecord};
    /// let text = br#"{"userIdentity":{"accountId":"111122223333"},"eventTime":"2024-03-01T00:00:00Z","eventSource":"iam.amazonaws.com","eventName":"CreateUser","awsRegion":null}"#;
    /// let all = RawFields { event_time: true, aws_region: true, accounts: true };
    /// let raw = RawRecord::with_fields(text, all);
    /// assert_eq!(raw.event_time(), Peeked::Text("2024-03-01T00:00:00Z"));
    /// assert_eq!(raw.aws_region(), Peeked::Missing);
    /// assert_eq!(raw.recipient_account_id(), Peeked::Missing);
    /// assert_eq!(raw.caller_account_id(), Peeked::Text("111122223333"));
    /// assert_eq!(RawRecord::new(text).event_time(), Peeked::Unknown, "not asked for");
    /// ```
    pub fn with_fields(text: &'a [u8], fields: RawFields) -> Self {
        let mut walk = Walk::new(fields);
        let completed = Cursor::new(text)
            .object(|key, cursor| walk.member(key, cursor))
            .is_some();
        walk.finish(text, completed)
    }
    /// The record's JSON text.
    pub fn text(&self) -> &'a [u8] {
        self.text
    }

    /// The record with what the splitter's pass saw in exactly this text (the pipeline's records), so
    /// that the tests below skip the searches the hints settle. Without them every test searches.
    ///
    /// ```
    /// use trailguard_event::peek::{RawRecord, TextHints};
    /// let text = br#"{"eventSource":"s3.amazonaws.com","eventName":"ListBuckets","requestParameters":null}"#;
    /// let none = TextHints { backslash: false, error_code: false };
    /// assert!(!RawRecord::new(text).with_hints(none).may_have_error_code());
    /// assert!(!RawRecord::new(text).with_hints(none).escapes_in(text));
    /// ```
    pub fn with_hints(mut self, hints: TextHints) -> Self {
        self.hints = hints;
        self
    }

    /// What the splitter saw in the text ([`TextHints::UNKNOWN`] when not told).
    pub fn hints(&self) -> TextHints {
        self.hints
    }

    /// [`has_escapes`] of `part`, a piece of this record's text (such as [`RawRecord::caller_text`]):
    /// `false` at once when the splitter saw no backslash in the record.
    pub fn escapes_in(&self, part: &[u8]) -> bool {
        self.hints.backslash && has_escapes(part)
    }

    /// Top-level `eventSource` when it is a string without escapes; `None` means "parse to know".
    pub fn event_source(&self) -> Option<&'a str> {
        self.event_source
    }

    /// Top-level `eventName` when it is a string without escapes; `None` means "parse to know".
    pub fn event_name(&self) -> Option<&'a str> {
        self.event_name
    }

    /// Both dispatch fields, when both could be read.
    pub fn source_and_name(&self) -> Option<(&'a str, &'a str)> {
        Some((self.event_source?, self.event_name?))
    }

    /// Top-level `eventTime`, when asked for ([`RawFields::event_time`]).
    pub fn event_time(&self) -> Peeked<'a> {
        self.event_time
    }

    /// Top-level `awsRegion`, when asked for ([`RawFields::aws_region`]).
    pub fn aws_region(&self) -> Peeked<'a> {
        self.aws_region
    }

    /// Top-level `recipientAccountId`, when asked for ([`RawFields::accounts`]).
    pub fn recipient_account_id(&self) -> Peeked<'a> {
        self.recipient_account_id
    }

    /// `userIdentity.accountId` (the caller's account), when asked for ([`RawFields::accounts`]).
    pub fn caller_account_id(&self) -> Peeked<'a> {
        self.caller_account_id
    }

    /// Whether serde certainly rejects the record, from what the walk saw: a field it read appears
    /// twice or holds the wrong type (`userIdentity` not an object), or a required one (`eventSource`,
    /// `eventName`, and `eventTime` when asked for) is `null` or absent from an object walked to its end.
    /// `false` says nothing: the walk reads a few fields only.
    pub fn malformed(&self) -> bool {
        self.malformed
    }

    /// Whether the text may spell characters as `\u` escapes (or escape `/`), so that substring tests
    /// on it cannot rule anything out.
    pub fn has_escapes(&self) -> bool {
        self.escapes_in(self.text)
    }

    /// The text a hint about the caller may search: the `userIdentity` value when the walk passed it
    /// (it comes before `eventSource` in CloudTrail's own order), else the whole record. A fraction of
    /// the record, for hints tested on every record (is it the root user?).
    ///
    /// ```
    /// use trailguard_event::peek::RawRecord;
    /// let raw = RawRecord::new(
    ///     br#"{"userIdentity":{"type":"Root"},"eventSource":"s3.amazonaws.com","eventName":"ListBuckets","requestParameters":{"Root":1}}"#,
    /// );
    /// assert_eq!(raw.caller_text(), br#"{"type":"Root"}"#);
    /// // A key spelled with escapes may be `userIdentity` in disguise: then the whole record.
    /// let odd = br#"{"userIdentity":{"type":"IAMUser"},"\u0075serIdentity":{"type":"Root"},"eventSource":"s3.amazonaws.com","eventName":"ListBuckets"}"#;
    /// assert_eq!(RawRecord::new(odd).caller_text(), &odd[..]);
    /// ```
    pub fn caller_text(&self) -> &'a [u8] {
        self.user_identity_text.unwrap_or(self.text)
    }

    /// Whether the record may have a top-level `errorCode` (a failed call): `false` only when no such
    /// key was walked and none follows in the text the walk did not reach, with no escapes there
    /// that could spell one. Errs on the side of `true`.
    ///
    /// ```
    /// use trailguard_event::peek::RawRecord;
    /// let ok = RawRecord::new(br#"{"eventSource":"s3.amazonaws.com","eventName":"ListBuckets","requestParameters":null}"#);
    /// let refused = RawRecord::new(br#"{"eventSource":"s3.amazonaws.com","eventName":"ListBuckets","errorCode":"AccessDenied"}"#);
    /// assert!(!ok.may_have_error_code());
    /// assert!(refused.may_have_error_code());
    /// // Walked past before the walk stopped, or an escape after it that could spell the key.
    /// let early = RawRecord::new(br#"{"errorCode":"AccessDenied","eventSource":"s3.amazonaws.com","eventName":"ListBuckets"}"#);
    /// let escaped = RawRecord::new(br#"{"eventSource":"s3.amazonaws.com","eventName":"ListBuckets","\u0065rrorCode":"AccessDenied"}"#);
    /// assert!(early.may_have_error_code());
    /// assert!(escaped.may_have_error_code());
    /// ```
    pub fn may_have_error_code(&self) -> bool {
        static ERROR_CODE: LazyLock<Finder<'static>> =
            LazyLock::new(|| Finder::new(br#""errorCode""#));
        if self.saw_error_code || self.odd_key {
            return true;
        }
        // The splitter saw neither the key's last bytes nor a backslash that could spell them.
        if !self.hints.error_code && !self.hints.backslash {
            return false;
        }
        let rest = self.text.get(self.walked_to..).unwrap_or(self.text);
        (self.hints.error_code && ERROR_CODE.find(rest).is_some()) || self.escapes_in(rest)
    }
}

/// The fields a [`RawRecord`] walk reads, one bit each (to see a key twice).
const SOURCE: u8 = 1;
const NAME: u8 = 1 << 1;
const TIME: u8 = 1 << 2;
const REGION: u8 = 1 << 3;
const RECIPIENT: u8 = 1 << 4;
const IDENTITY: u8 = 1 << 5;

/// The state of one [`RawRecord`] walk over the top-level members.
struct Walk<'a> {
    /// The fields to find (bits above), and those found so far.
    wanted: u8,
    seen: u8,
    /// Fields whose key appeared twice: serde rejects the record, so they are unknown.
    repeated: u8,
    /// A key spelled with escapes (or outside ASCII) came by: it may be any of the fields.
    odd_key: bool,
    /// A field read was of the wrong type, or a required one `null`: serde rejects the record.
    wrong: bool,
    event_source: Option<&'a str>,
    event_name: Option<&'a str>,
    event_time: Peeked<'a>,
    aws_region: Peeked<'a>,
    recipient_account_id: Peeked<'a>,
    caller_account_id: Peeked<'a>,
    user_identity_text: Option<&'a [u8]>,
    identities: u8,
    walked_to: usize,
    saw_error_code: bool,
}

impl<'a> Walk<'a> {
    fn new(fields: RawFields) -> Self {
        let mut wanted = SOURCE | NAME;
        if fields.event_time {
            wanted |= TIME;
        }
        if fields.aws_region {
            wanted |= REGION;
        }
        if fields.accounts {
            wanted |= RECIPIENT | IDENTITY;
        }
        Walk {
            wanted,
            seen: 0,
            repeated: 0,
            odd_key: false,
            wrong: false,
            event_source: None,
            event_name: None,
            event_time: Peeked::Unknown,
            aws_region: Peeked::Unknown,
            recipient_account_id: Peeked::Unknown,
            caller_account_id: Peeked::Unknown,
            user_identity_text: None,
            identities: 0,
            walked_to: 0,
            saw_error_code: false,
        }
    }

    /// Reads one member; stops the walk once every wanted field is found.
    #[inline]
    fn member(&mut self, key: Option<&'a [u8]>, cursor: &mut Cursor<'a>) -> Option<Step> {
        let bit = match key {
            Some(b"eventSource") => SOURCE,
            Some(b"eventName") => NAME,
            Some(b"eventTime") => TIME,
            Some(b"awsRegion") => REGION,
            Some(b"recipientAccountId") => RECIPIENT,
            Some(b"userIdentity") => IDENTITY,
            Some(_) => 0,
            None => {
                self.odd_key = true;
                0
            }
        } & self.wanted;
        if bit == 0 {
            let value = cursor.value()?;
            match key {
                Some(b"userIdentity") => {
                    self.identities = self.identities.saturating_add(1);
                    self.user_identity_text = Some(value);
                }
                Some(b"errorCode") => self.saw_error_code = true,
                _ => {}
            }
            self.walked_to = cursor.value_start();
            return Some(Step::Next);
        }
        if self.seen & bit != 0 {
            self.repeated |= bit;
        }
        self.seen |= bit;
        if bit == IDENTITY {
            let (account, wrong) = account_id(cursor)?;
            self.caller_account_id = account;
            self.wrong |= wrong;
            // Walked into, not passed whole: where it ends is not noted, so hints search the record.
            self.identities = 2;
        } else {
            let value = string_value(cursor)?;
            let required = bit & (SOURCE | NAME | TIME) != 0;
            self.wrong |= value == Value::Other || (required && value == Value::Null);
            let peeked = value.peeked();
            match bit {
                SOURCE => self.event_source = peeked.text(),
                NAME => self.event_name = peeked.text(),
                TIME => self.event_time = peeked,
                REGION => self.aws_region = peeked,
                _ => self.recipient_account_id = peeked,
            }
        }
        self.walked_to = cursor.value_start();
        // A key spelled with escapes before this point may have been one of these: let the parser say.
        Some(if self.seen == self.wanted && !self.odd_key {
            Step::Stop
        } else {
            Step::Next
        })
    }

    /// The record read: fields not found are missing only when the object was walked to its end and
    /// no key could have been one of them in disguise.
    fn finish(self, text: &'a [u8], completed: bool) -> RawRecord<'a> {
        let sure = |bit: u8, value: Peeked<'a>| -> Peeked<'a> {
            if self.odd_key || self.repeated & bit != 0 {
                Peeked::Unknown
            } else if self.seen & bit != 0 {
                value
            } else if completed && self.wanted & bit != 0 {
                Peeked::Missing
            } else {
                Peeked::Unknown
            }
        };
        let dispatch = |bit: u8, value: Option<&'a str>| {
            if self.repeated & bit != 0 {
                None
            } else {
                value
            }
        };
        let required = SOURCE | NAME | (self.wanted & TIME);
        // Absent: an escaped key might have been it, so only a walk without one is sure.
        let absent = completed && !self.odd_key && self.seen & required != required;
        RawRecord {
            text,
            malformed: self.wrong || self.repeated != 0 || absent,
            event_source: dispatch(SOURCE, self.event_source),
            event_name: dispatch(NAME, self.event_name),
            event_time: sure(TIME, self.event_time),
            aws_region: sure(REGION, self.aws_region),
            recipient_account_id: sure(RECIPIENT, self.recipient_account_id),
            // No `userIdentity` at all: serde's default identity, without an account.
            caller_account_id: if self.seen & IDENTITY == 0 {
                sure(IDENTITY, Peeked::Missing)
            } else {
                sure(IDENTITY, self.caller_account_id)
            },
            user_identity_text: self
                .user_identity_text
                .filter(|_| self.identities == 1 && !self.odd_key),
            walked_to: self.walked_to,
            saw_error_code: self.saw_error_code,
            odd_key: self.odd_key,
            hints: TextHints::UNKNOWN,
        }
    }
}

impl<'a> Peeked<'a> {
    fn text(self) -> Option<&'a str> {
        match self {
            Peeked::Text(text) => Some(text),
            _ => None,
        }
    }
}

/// A value where a string belongs, as the walk consumed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Value<'a> {
    Text(&'a str),
    Null,
    /// A string with escapes (serde decodes it; the walk does not).
    Escaped,
    /// Another type: serde rejects it.
    Other,
}

impl<'a> Value<'a> {
    /// As serde reads it into `Option<Cow<str>>`.
    fn peeked(self) -> Peeked<'a> {
        match self {
            Value::Text(text) => Peeked::Text(text),
            Value::Null => Peeked::Missing,
            Value::Escaped | Value::Other => Peeked::Unknown,
        }
    }
}

/// Consumes the value at the cursor, where a string belongs.
#[inline]
fn string_value<'a>(cursor: &mut Cursor<'a>) -> Option<Value<'a>> {
    match cursor.text() {
        Some(Some(text)) => Some(Value::Text(text)),
        Some(None) => Some(Value::Null),
        None => {
            let escaped = cursor.at_quote();
            cursor.value()?;
            Some(if escaped {
                Value::Escaped
            } else {
                Value::Other
            })
        }
    }
}

/// Consumes `userIdentity`, reading its `accountId` as serde would, and whether serde rejects what it
/// saw (`null` or a string for the identity, a repeated or mistyped `accountId`).
fn account_id<'a>(cursor: &mut Cursor<'a>) -> Option<(Peeked<'a>, bool)> {
    let mut found = Peeked::Missing;
    let mut seen = false;
    let mut sure = true;
    let mut wrong = false;
    let mut walk = *cursor;
    let walked = walk.object(|key, cursor| {
        match key {
            Some(b"accountId") => {
                wrong |= seen;
                seen = true;
                let value = string_value(cursor)?;
                wrong |= value == Value::Other;
                found = value.peeked();
            }
            Some(_) => drop(cursor.value()?),
            // May be `accountId` in disguise.
            None => {
                sure = false;
                cursor.value()?;
            }
        }
        Some(Step::Next)
    });
    if walked.is_some() {
        *cursor = walk;
        let found = if sure && !wrong {
            found
        } else {
            Peeked::Unknown
        };
        return Some((found, wrong));
    }
    // Not an object (serde rejects that), or broken inside: unknown.
    let object = cursor.at(b'{');
    cursor.value().map(|_| (Peeked::Unknown, !object))
}

/// The value of top-level `key` in the JSON object `raw` when it is a string without escapes;
/// `None` when the key is absent, nested only, not a string, or escaped (then parse the record).
///
/// ```
/// let raw = br#"{"userIdentity":{"eventName":"x"},"eventName":"CreateUser"}"#;
/// assert_eq!(trailguard_event::peek::peek_str(raw, "eventName"), Some("CreateUser"));
/// ```
pub fn peek_str<'a>(raw: &'a [u8], key: &str) -> Option<&'a str> {
    let key = key.as_bytes();
    let mut found = None;
    Cursor::new(raw).object(|this_key, cursor| {
        if this_key == Some(key) {
            // Not a plain string (escaped, another type): unknown, as if absent.
            found = cursor.text().flatten();
            return Some(Step::Stop);
        }
        cursor.value()?;
        Some(Step::Next)
    });
    found
}

/// The raw text of top-level `key`'s value in the JSON object `raw`, whatever its type; `None` when the
/// key is absent, or the walk meets a key with an escape or broken JSON before it (then parse the record).
/// For a consumer that needs one nested value (e.g. `requestParameters`) and not the whole record.
///
/// ```
/// let raw = br#"{"eventName":"GetObject","requestParameters":{"bucketName":"b","key":"k"},"x":1}"#;
/// let params = trailguard_event::peek::peek_value(raw, "requestParameters").unwrap();
/// assert_eq!(params, br#"{"bucketName":"b","key":"k"}"#);
/// assert_eq!(trailguard_event::peek::peek_value(raw, "responseElements"), None);
/// ```
pub fn peek_value<'a>(raw: &'a [u8], key: &str) -> Option<&'a [u8]> {
    let key = key.as_bytes();
    let mut found = None;
    Cursor::new(raw).object(|this_key, cursor| {
        let this_key = this_key?;
        let value = cursor.value()?;
        if this_key == key {
            found = Some(value);
            return Some(Step::Stop);
        }
        Some(Step::Next)
    });
    found
}

/// What an object walk does after a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    Next,
    Stop,
}

/// A position in a JSON text, to walk objects member by member and descend into the values of interest
/// in the same pass (skipping a nested object first and then walking it would read it twice).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cursor<'a> {
    raw: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    /// At the first value in `raw`.
    pub(crate) fn new(raw: &'a [u8]) -> Self {
        Cursor {
            raw,
            at: skip_space(raw, 0),
        }
    }

    /// Where the cursor is in its text.
    pub(crate) fn value_start(&self) -> usize {
        self.at
    }

    /// Whether the value here starts with `byte`.
    fn at(&self, byte: u8) -> bool {
        self.raw.get(self.at) == Some(&byte)
    }

    /// Whether the value here is a string.
    fn at_quote(&self) -> bool {
        self.at(b'"')
    }

    /// Whether the value here is `null`, consuming it if so.
    pub(crate) fn null(&mut self) -> bool {
        let null = self.raw[self.at..].starts_with(b"null");
        if null {
            self.at += 4;
        }
        null
    }

    /// Consumes the string or `null` here: `Some(None)` for `null`, `Some(Some(text))` for a string
    /// without escapes. `None`, consuming nothing, for anything else (an escaped string, another
    /// type, a cut).
    #[inline]
    pub(crate) fn text(&mut self) -> Option<Option<&'a str>> {
        let raw = self.raw;
        match raw.get(self.at)? {
            b'"' => {
                let (end, plain) = string_end_plain(raw, self.at + 1)?;
                let inner = &raw[self.at + 1..end - 1];
                let text = if plain {
                    // SAFETY: plain means ASCII only, which is valid UTF-8.
                    unsafe { std::str::from_utf8_unchecked(inner) }
                } else if memchr::memchr(b'\\', inner).is_some() {
                    return None;
                } else {
                    std::str::from_utf8(inner).ok()?
                };
                self.at = end;
                Some(Some(text))
            }
            b'n' if self.null() => Some(None),
            _ => None,
        }
    }

    /// Consumes the value here and returns its text; `None` when it is cut short.
    pub(crate) fn value(&mut self) -> Option<&'a [u8]> {
        let start = self.at;
        let end = value_end(self.raw, start)?;
        self.at = end;
        Some(&self.raw[start..end])
    }

    /// Walks the object here: `member(key, cursor)` is called with the cursor at each member's value
    /// and must consume it ([`Cursor::value`], or a nested walk), then says whether to go on. The key
    /// is `None` when it holds an escape or a byte outside ASCII (it may not be what it looks like).
    /// `None` when the text is not a well-formed object here or `member` gave up; after
    /// [`Step::Stop`] the cursor is left inside the object.
    pub(crate) fn object(
        &mut self,
        mut member: impl FnMut(Option<&'a [u8]>, &mut Cursor<'a>) -> Option<Step>,
    ) -> Option<()> {
        let raw = self.raw;
        if raw.get(self.at) != Some(&b'{') {
            return None;
        }
        let mut i = skip_space(raw, self.at + 1);
        if raw.get(i) == Some(&b'}') {
            self.at = i + 1;
            return Some(());
        }
        loop {
            if raw.get(i) != Some(&b'"') {
                return None;
            }
            let (key_end, plain) = string_end_plain(raw, i + 1)?;
            let key = plain.then(|| &raw[i + 1..key_end - 1]);
            i = skip_space(raw, key_end);
            if raw.get(i) != Some(&b':') {
                return None;
            }
            self.at = skip_space(raw, i + 1);
            if member(key, self)? == Step::Stop {
                return Some(());
            }
            i = skip_space(raw, self.at);
            match raw.get(i) {
                Some(b',') => i = skip_space(raw, i + 1),
                Some(b'}') => {
                    self.at = i + 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }
}

/// Whether `needle` occurs in `raw` (SIMD substring search), for raw-text hints such as `"Root"`.
/// JSON may spell characters as `\u` escapes, so a hint should also accept [`has_escapes`] text.
/// For a needle tested on every record, keep a [`Finder`] instead (building one has a cost).
pub fn contains(raw: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(raw, needle).is_some()
}

/// Whether the raw text may hold a `\u` escape or an escaped `/` (then substring hints cannot rule
/// anything out). Errs on the side of `true`.
pub fn has_escapes(raw: &[u8]) -> bool {
    static ESCAPE_U: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\\u"));
    static ESCAPE_SLASH: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\\/"));
    memchr::memchr(b'\\', raw).is_some()
        && (ESCAPE_U.find(raw).is_some() || ESCAPE_SLASH.find(raw).is_some())
}

fn skip_space(raw: &[u8], mut i: usize) -> usize {
    while i < raw.len() && raw[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// The end of the value starting at `i`.
fn value_end(raw: &[u8], i: usize) -> Option<usize> {
    match raw.get(i)? {
        b'"' => string_end(raw, i + 1),
        // Empty objects and arrays are common (`"webIdFederationData":{}`): no block scan for them.
        b'{' if raw.get(i + 1) == Some(&b'}') => Some(i + 2),
        b'[' if raw.get(i + 1) == Some(&b']') => Some(i + 2),
        b'{' | b'[' => crate::structural::container_end(raw, i, 0),
        _ => Some(
            i + raw[i..]
                .iter()
                .position(|&b| matches!(b, b',' | b'}' | b']') || b.is_ascii_whitespace())?,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORD: &str = r#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","eventName":"Nested","arn":"a\"}{"},"eventTime":"2024-03-01T00:00:00Z","readOnly":true,"n":-1.5e3,"list":[{"eventName":"InList"}],"eventSource":"iam.amazonaws.com","eventName":"CreateUser","esc":"\u0041"}"#;

    #[test]
    fn finds_top_level_strings_only() {
        let raw = RECORD.as_bytes();
        assert_eq!(peek_str(raw, "eventName"), Some("CreateUser"));
        assert_eq!(peek_str(raw, "eventSource"), Some("iam.amazonaws.com"));
        assert_eq!(peek_str(raw, "eventTime"), Some("2024-03-01T00:00:00Z"));
        assert_eq!(peek_str(raw, "type"), None, "nested keys are not top level");
        assert_eq!(peek_str(raw, "readOnly"), None, "not a string");
        assert_eq!(
            peek_str(raw, "esc"),
            None,
            "escaped values need a real parse"
        );
        assert_eq!(peek_str(raw, "missing"), None);
        let record = RawRecord::new(raw);
        assert_eq!(
            record.source_and_name(),
            Some(("iam.amazonaws.com", "CreateUser")),
            "the nested and listed `eventName`s come first but are not top level"
        );
        let escaped =
            RawRecord::new(br#"{"eventSource":"iam.amazonaws.com","eventName":"Create\u0055ser"}"#);
        assert_eq!(escaped.event_name(), None, "escaped: parse to know");
        assert_eq!(escaped.source_and_name(), None);
    }

    #[test]
    fn agrees_with_serde_on_real_shaped_records() {
        let start = chrono::DateTime::from_timestamp(1_709_251_200, 0).unwrap();
        let mut synth = crate::synth::Synth::new(5, start);
        for _ in 0..500 {
            let text = synth.next_record();
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            for key in [
                "eventName",
                "eventSource",
                "eventTime",
                "awsRegion",
                "eventID",
            ] {
                assert_eq!(
                    peek_str(text.as_bytes(), key),
                    value[key].as_str(),
                    "{key} in {text}"
                );
            }
            let raw = RawRecord::new(text.as_bytes());
            assert_eq!(raw.event_name(), value["eventName"].as_str());
            assert_eq!(raw.event_source(), value["eventSource"].as_str());
        }
    }

    #[test]
    fn substring_hints() {
        let raw = br#"{"userIdentity":{"type":"Root"},"x":"\u0041"}"#;
        assert!(contains(raw, br#""Root""#));
        assert!(!contains(raw, br#""IAMUser""#));
        assert!(has_escapes(raw));
        assert!(!has_escapes(br#"{"a":"b\"c"}"#));
    }

    #[test]
    fn broken_input_gives_none_not_a_panic() {
        for text in [
            "",
            "[]",
            "{",
            "{\"a\"",
            "{\"a\":",
            "{\"a\":\"b",
            "{\"a\":{\"b\":1",
            "{1:2}",
            "{\"a\" 1}",
        ] {
            assert_eq!(peek_str(text.as_bytes(), "a"), None, "{text}");
        }
    }
}
