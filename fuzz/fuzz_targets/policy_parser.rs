//! The policy parser and every policy check on arbitrary text: a policy document, a URL-encoded one as
//! CloudTrail records it, or a whole `get-account-authorization-details` file. Must never panic; a
//! malformed document is a finding, not a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailguard_rules::rules::policy::{check_document_text, check_text, VersionSelection};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(doc) = trailguard_policy::PolicyDocument::parse(text) {
        let _ = trailguard_policy::analysis::analyze(&doc);
    }
    let _ = check_text("fuzz.json", text, VersionSelection::All);
    let _ = check_document_text("fuzz", text);
});
