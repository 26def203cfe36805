//! The fast path for a whole `{"Records":[...]}` document already in memory (a typical 1,000-record
//! CloudTrail file): one serde pass hands out each record as a `&RawValue`, with no separate splitting
//! pass. Any syntax error stops it; the caller then reads the rest with the splitter, which can skip a
//! broken record and report it precisely.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::split::{records_header, Header};

/// Calls `each(index, record)` for every element of the document's `Records` array.
///
/// Returns `Ok(count)` when the whole input was one such document (and nothing else), or `Err(count)`
/// with the number of records handed out before the parse stopped. `None` when the input does not
/// start like a `Records` document at all.
pub(crate) fn for_each_record<'a>(
    bytes: &'a [u8],
    mut each: impl FnMut(usize, &'a RawValue),
) -> Option<Result<usize, usize>> {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace())?;
    if !matches!(records_header(&bytes[start..], true), Header::Records(_)) {
        return None;
    }
    let mut count = 0;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let seed = DocumentSeed {
        each: &mut |raw| {
            each(count, raw);
            count += 1;
        },
    };
    let parsed = seed.deserialize(&mut de).and_then(|()| de.end());
    Some(match parsed {
        Ok(()) => Ok(count),
        Err(_) => Err(count),
    })
}

struct DocumentSeed<'f, 'a> {
    each: &'f mut dyn FnMut(&'a RawValue),
}

impl<'de: 'a, 'a> DeserializeSeed<'de> for DocumentSeed<'_, 'a> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for DocumentSeed<'_, 'a> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a CloudTrail log file object")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<(), M::Error> {
        while let Some(key) = map.next_key::<&'de str>()? {
            if key == "Records" {
                map.next_value_seed(RecordsSeed {
                    each: &mut *self.each,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct RecordsSeed<'f, 'a> {
    each: &'f mut dyn FnMut(&'a RawValue),
}

impl<'de: 'a, 'a> DeserializeSeed<'de> for RecordsSeed<'_, 'a> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for RecordsSeed<'_, 'a> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of CloudTrail records")
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<(), S::Error> {
        while let Some(raw) = seq.next_element::<&'de RawValue>()? {
            (self.each)(raw);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(text: &str) -> (Vec<String>, Option<Result<usize, usize>>) {
        let mut seen = Vec::new();
        let result = for_each_record(text.as_bytes(), |i, raw| {
            seen.push(format!("{i}:{}", raw.get()))
        });
        (seen, result)
    }

    #[test]
    fn whole_document_is_read_in_one_pass() {
        let (seen, result) = collect(r#" {"Records":[{"a":1}, {"b":"]"}], "x": [1]} "#);
        assert_eq!(seen, [r#"0:{"a":1}"#, r#"1:{"b":"]"}"#]);
        assert_eq!(result, Some(Ok(2)));
    }

    #[test]
    fn stops_at_a_syntax_error_or_trailing_data() {
        let (seen, result) = collect(r#"{"Records":[{"a":1},{"b":tru},{"c":3}]}"#);
        assert_eq!(seen, [r#"0:{"a":1}"#]);
        assert_eq!(result, Some(Err(1)));
        let (seen, result) = collect(r#"{"Records":[{"a":1}]}{"Records":[{"b":2}]}"#);
        assert_eq!(seen.len(), 1);
        assert_eq!(result, Some(Err(1)));
    }

    #[test]
    fn other_shapes_are_left_to_the_splitter() {
        assert_eq!(collect(r#"[{"a":1}]"#).1, None);
        assert_eq!(collect(r#"{"eventName":"x"}"#).1, None);
        assert_eq!(collect("").1, None);
    }
}
