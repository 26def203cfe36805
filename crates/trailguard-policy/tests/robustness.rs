//! Bad input never panics: every prefix of real policies and byte-level mutations of them either
//! parse or give a positioned error, and whatever parses can be analysed, diffed and evaluated.

use trailguard_policy::analysis::analyze;
use trailguard_policy::diff::diff;
use trailguard_policy::eval::{evaluate, PolicySet, Request};
use trailguard_policy::input::extract_policies;
use trailguard_policy::PolicyDocument;

fn samples() -> Vec<String> {
    let dir = trailguard_testkit::shared_data().join("managed-policies/iam-dataset");
    [
        "IAMFullAccess",
        "AmazonS3ReadOnlyAccess",
        "AWSLambda_FullAccess",
        "SecurityAudit",
    ]
    .iter()
    .filter_map(|name| std::fs::read_to_string(dir.join(format!("{name}.json"))).ok())
    .map(|text| {
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        serde_json::to_string_pretty(&value["document"]).unwrap()
    })
    .collect()
}

fn exercise(text: &str, base: &PolicyDocument) -> bool {
    match PolicyDocument::parse(text) {
        Ok(doc) => {
            let _ = analyze(&doc);
            let _ = diff(base, &doc);
            let set = PolicySet {
                identity: vec![&doc],
                ..Default::default()
            };
            let _ = evaluate(
                &set,
                &Request::new("iam:CreateUser", "*").treat_missing_as_unknown(),
            );
            true
        }
        Err(err) => {
            assert!(err.line >= 1 && err.column >= 1);
            false
        }
    }
}

#[test]
fn prefixes_and_mutations_never_panic() {
    let texts = samples();
    assert!(texts.len() >= 3);
    let base = PolicyDocument::parse(&texts[0]).unwrap();
    let mut parsed = 0;
    let mut rejected = 0;
    for text in &texts {
        let short: String = text.chars().take(1500).collect();
        for (i, _) in short.char_indices() {
            if exercise(&short[..i], &base) {
                parsed += 1
            } else {
                rejected += 1
            }
        }
        // Deterministic mutations: replace one byte with characters that matter to the grammar.
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..400 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut bytes = short.clone().into_bytes();
            let at = (seed as usize) % bytes.len();
            const GRAMMAR: &[u8] = b"{}[]\":,*?$ \\x0";
            bytes[at] = GRAMMAR[(seed >> 32) as usize % GRAMMAR.len()];
            let mutated = String::from_utf8_lossy(&bytes).into_owned();
            if exercise(&mutated, &base) {
                parsed += 1
            } else {
                rejected += 1
            }
            let _ = extract_policies(&mutated);
        }
    }
    assert!(
        parsed > 0 && rejected > 0,
        "parsed {parsed}, rejected {rejected}"
    );
}
