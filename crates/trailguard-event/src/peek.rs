//! Reads one top-level string field of a raw record without parsing it, so that a visitor can decline
//! a record (most of a trail is read-only calls no rule looks at) before it is fully parsed.

/// The value of top-level `key` in the JSON object `raw` when it is a string without escapes;
/// `None` when the key is absent, nested only, not a string, or escaped (then parse the record).
///
/// ```
/// let raw = br#"{"userIdentity":{"eventName":"x"},"eventName":"CreateUser"}"#;
/// assert_eq!(trailguard_event::peek::peek_str(raw, "eventName"), Some("CreateUser"));
/// ```
pub fn peek_str<'a>(raw: &'a [u8], key: &str) -> Option<&'a str> {
    let key = key.as_bytes();
    let mut i = raw.iter().position(|b| !b.is_ascii_whitespace())?;
    if raw[i] != b'{' {
        return None;
    }
    i += 1;
    loop {
        // At depth 1, expecting a key (or the end of the object).
        i = skip_space(raw, i);
        match raw.get(i)? {
            b'}' => return None,
            b'"' => {}
            _ => return None,
        }
        let key_end = string_end(raw, i + 1)?;
        let this_key = &raw[i + 1..key_end - 1];
        i = skip_space(raw, key_end);
        if raw.get(i)? != &b':' {
            return None;
        }
        i = skip_space(raw, i + 1);
        let value_end = value_end(raw, i)?;
        if this_key == key {
            let value = &raw[i..value_end];
            let inner = value.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
            if memchr::memchr(b'\\', inner).is_some() {
                return None;
            }
            return std::str::from_utf8(inner).ok();
        }
        i = skip_space(raw, value_end);
        match raw.get(i)? {
            b',' => i += 1,
            _ => return None,
        }
    }
}

/// Whether `needle` occurs in `raw` (SIMD substring search), for raw-text hints such as `"Root"`.
/// JSON may spell characters as `\u` escapes, so a hint should also accept [`has_escapes`] text.
pub fn contains(raw: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(raw, needle).is_some()
}

/// Whether the raw text holds any `\u` escape (then substring hints cannot rule anything out).
pub fn has_escapes(raw: &[u8]) -> bool {
    contains(raw, b"\\u")
}

fn skip_space(raw: &[u8], mut i: usize) -> usize {
    while i < raw.len() && raw[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// From inside a string, the index just past its closing quote.
fn string_end(raw: &[u8], mut i: usize) -> Option<usize> {
    loop {
        let found = i + memchr::memchr2(b'"', b'\\', raw.get(i..)?)?;
        if raw[found] == b'\\' {
            i = found + 2;
        } else {
            return Some(found + 1);
        }
    }
}

/// The end of the value starting at `i`.
fn value_end(raw: &[u8], i: usize) -> Option<usize> {
    match raw.get(i)? {
        b'"' => string_end(raw, i + 1),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            while j < raw.len() {
                match raw[j] {
                    b'"' => {
                        j = string_end(raw, j + 1)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            None
        }
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
