//! The record reader on arbitrary bytes: sniffing (gzip or JSON, array, `{"Records":…}`, lines), the
//! structural splitter and the parse. It must never panic or hang, and the serde-free typed peek must
//! agree with serde on every record it answers for (it promises to answer only then).
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;
use trailguard_event::source::MemorySource;
use trailguard_event::{scan_one, Filter, NoopObserver, Record, RecordVisitor};

/// Every typed field of a reading, nested documents and the raw text left out (the peek does not read them).
fn typed(record: &Record<'_>) -> String {
    let mut record = record.clone();
    record.request_parameters = None;
    record.response_elements = None;
    record.additional_event_data = None;
    record.raw = None;
    format!("{record:?}")
}

struct PeekAgreesWithSerde;

impl RecordVisitor for PeekAgreesWithSerde {
    fn visit(&mut self, record: &Record<'_>) {
        let Some(raw) = record.raw else { return };
        if let Some(peeked) = Record::peek_typed(raw.get().as_bytes()) {
            assert_eq!(
                typed(&peeked),
                typed(record),
                "peek_typed disagrees with serde"
            );
        }
        // The nested documents parse lazily: that must not panic either.
        let _ = record.request_parameters();
        let _ = record.response_elements();
    }
}

fuzz_target!(|data: &[u8]| {
    let source = MemorySource::new("fuzz.json", data.to_vec());
    let _ = scan_one(
        Box::new(source),
        &Filter::default(),
        PeekAgreesWithSerde,
        &NoopObserver,
    );
    // The peek on its own, on text that never went through the splitter.
    if let Some(peeked) = Record::peek_typed(data) {
        if let Ok(text) = std::str::from_utf8(data) {
            if let Ok(raw) = serde_json::from_str::<&RawValue>(text) {
                if let Ok(parsed) = Record::from_raw(raw) {
                    assert_eq!(
                        typed(&peeked),
                        typed(&parsed),
                        "peek_typed disagrees with serde"
                    );
                }
            }
        }
    }
});
