//! Reads top-level string fields of a raw record without parsing it, so that a visitor can decline a
//! record (most of a trail is read-only calls no rule looks at) before it is fully parsed.
//!
//! [`RawRecord`] reads `eventSource` and `eventName` in one walk over the record's top-level keys, once
//! per record, for every consumer (built-in rules, Sigma rules); nested values are skipped 64 bytes at
//! a time ([`crate::structural`]).

use std::sync::LazyLock;

use memchr::memmem::Finder;

use crate::structural::{string_end, string_end_plain};

/// A record's raw JSON text and the fields the scan dispatches on, read without parsing.
#[derive(Debug, Clone, Copy)]
pub struct RawRecord<'a> {
    text: &'a [u8],
    event_source: Option<&'a str>,
    event_name: Option<&'a str>,
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
        let mut event_source = None;
        let mut event_name = None;
        Cursor::new(text).object(|key, cursor| {
            let slot = match key {
                Some(b"eventSource") => &mut event_source,
                Some(b"eventName") => &mut event_name,
                _ => {
                    cursor.value()?;
                    return Some(Step::Next);
                }
            };
            match cursor.text() {
                Some(text) => *slot = text,
                // An escaped or non-string value: unknown, parse to know.
                None => drop(cursor.value()?),
            }
            Some(if event_source.is_some() && event_name.is_some() {
                Step::Stop
            } else {
                Step::Next
            })
        });
        RawRecord {
            text,
            event_source,
            event_name,
        }
    }

    /// The record's JSON text.
    pub fn text(&self) -> &'a [u8] {
        self.text
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

    /// Whether the text may spell characters as `\u` escapes (or escape `/`), so that substring tests
    /// on it cannot rule anything out.
    pub fn has_escapes(&self) -> bool {
        has_escapes(self.text)
    }
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
