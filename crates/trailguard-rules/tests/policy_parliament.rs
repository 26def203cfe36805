//! Evidence: Parliament's own test suite. Each Parliament finding id maps to our check codes; for
//! every case whose concepts we cover, the mapped codes we report must equal the mapped codes of what
//! Parliament expects. Cases and ids we do not cover, and the few where we differ on purpose, are
//! listed (with reasons) in `crates/trailguard-policy/PARLIAMENT.md`.

use std::collections::BTreeSet;

use serde_json::Value;
use trailguard_rules::rules::policy::{check_text, VersionSelection};

/// Parliament id -> our codes (any of them satisfies the expectation).
const MAPPING: &[(&str, &[&str])] = &[
    ("MALFORMED_JSON", &["PC001"]),
    ("MALFORMED", &["PC001"]),
    ("INVALID_SID", &["PC009"]),
    ("DUPLICATE_SID", &["PC009"]),
    ("UNKNOWN_PREFIX", &["PC003"]),
    ("UNKNOWN_ACTION", &["PC004"]),
    ("UNKNOWN_OPERATOR", &["PC005"]),
    // An object where an ARN belongs (`{"Fn::Sub": ...}`) is a parse error for us.
    ("INVALID_ARN", &["PC006", "PC001"]),
    ("UNKNOWN_CONDITION_FOR_ACTION", &["PC007"]),
    ("MISMATCHED_TYPE", &["PC008"]),
    ("MISMATCHED_TYPE_BUT_USABLE", &["PC008"]),
    ("RESOURCE_MISMATCH", &["PC024"]),
    ("RESOURCE_STAR", &["PC026"]),
    ("RESOURCE_EFFECTIVELY_STAR", &["PC026"]),
    ("BAD_PATTERN_FOR_MFA", &["PC021"]),
    ("RESOURCE_POLICY_PRIVILEGE_ESCALATION", &["PC014"]),
    // Community auditors (only active with include_community_auditors).
    ("NOTRESOURCE_WITH_ALLOW", &["PC012"]),
    ("NOTPRINCIPAL_WITH_ALLOW", &["PC012"]),
    ("CREDENTIALS_EXPOSURE", &["PC015"]),
    ("PERMISSIONS_MANAGEMENT_ACTIONS", &["PC014"]),
    ("PRIVILEGE_ESCALATION", &["PC019"]),
];

const COMMUNITY: &[&str] = &[
    "NOTRESOURCE_WITH_ALLOW",
    "NOTPRINCIPAL_WITH_ALLOW",
    "CREDENTIALS_EXPOSURE",
    "PERMISSIONS_MANAGEMENT_ACTIONS",
    "PRIVILEGE_ESCALATION",
    "SENSITIVE_ACCESS",
];

/// Ids with no counterpart: configuration-driven checks.
const NOT_COVERED: &[&str] = &["SENSITIVE_ACCESS"];

/// `(test name, case index within that test)` where we differ on purpose; see PARLIAMENT.md.
const KNOWN_DIFFERENCES: &[(&str, usize)] = &[
    // Parliament treats NotResource ARNs as granted resources; they are the ones *not* granted.
    ("test_notresource_allow", 1),
    // The policy has a trailing comma: IAM rejects it and so do we (PC001).
    ("test_notprincipal_allow", 1),
    // Parliament's older action data filed these under Permissions management; AWS no longer does.
    ("test_credentials_management", 0),
    // An unknown operator has no type; we report the operator (PC005), not a type mismatch too.
    ("test_condition_operator", 1),
    // PC014 counts permissions-management actions on `*` only (bucket-scoped grants are not exposure of every resource).
    (
        "test_resource_policy_privilege_escalation_at_bucket_level",
        0,
    ),
];

/// Ids whose concept our code implies but does not equal: an expectation of them is met by the code,
/// but the code firing without them is not a difference (PC014 is broader than Parliament's RPPE).
const IMPLIED_ONLY: &[&str] = &["RESOURCE_POLICY_PRIVILEGE_ESCALATION"];

fn codes_for(id: &str) -> &'static [&'static str] {
    MAPPING
        .iter()
        .find(|(i, _)| *i == id)
        .map(|(_, c)| *c)
        .unwrap_or(&[])
}

#[test]
fn parliament_expectations_hold_for_covered_concepts() {
    let path = trailguard_testkit::shared_data()
        .join("peer-suites/parliament/parliament_policy_tests.jsonl");
    let text = std::fs::read_to_string(path).unwrap();
    let mut passed = 0;
    let mut not_covered = 0;
    let mut no_expectation = 0;
    let mut failures = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for line in text.lines() {
        let case: Value = serde_json::from_str(line).unwrap();
        let test = case["test"].as_str().unwrap().to_owned();
        let index = seen.iter().filter(|t| **t == test).count();
        seen.push(test.clone());
        let policy = case["policy_string"].as_str().unwrap_or("");
        // Every policy, covered or not, must be handled without a panic.
        let findings = check_text("policy.json", policy, VersionSelection::All).findings;
        let Some(expected) = case["expected_finding_ids"].as_array() else {
            no_expectation += 1;
            continue;
        };
        let expected: Vec<&str> = expected.iter().filter_map(Value::as_str).collect();
        if expected.iter().any(|id| NOT_COVERED.contains(id))
            || case["kwargs"].get("config").is_some()
        {
            not_covered += 1;
            continue;
        }
        let community = case["kwargs"]["include_community_auditors"] == Value::Bool(true);
        let considered: BTreeSet<&str> = MAPPING
            .iter()
            .filter(|(id, _)| (community || !COMMUNITY.contains(id)) && !IMPLIED_ONLY.contains(id))
            .flat_map(|(_, codes)| codes.iter().copied())
            .collect();
        let ours: BTreeSet<&str> = findings
            .iter()
            .map(|f| f.rule_id.as_str())
            .filter(|c| considered.contains(c))
            .collect();
        let all_ours: BTreeSet<&str> = findings.iter().map(|f| f.rule_id.as_str()).collect();
        let missing: Vec<&str> = expected
            .iter()
            .filter(|id| !codes_for(id).iter().any(|c| all_ours.contains(c)))
            .copied()
            .collect();
        let explained: BTreeSet<&str> = expected
            .iter()
            .flat_map(|id| codes_for(id).iter().copied())
            .collect();
        let extra: Vec<&str> = ours
            .iter()
            .filter(|c| !explained.contains(*c))
            .copied()
            .collect();
        if missing.is_empty() && extra.is_empty() {
            passed += 1;
        } else if !KNOWN_DIFFERENCES.contains(&(test.as_str(), index)) {
            failures.push(format!(
                "{test}#{index}: expected {expected:?}, missing {missing:?}, extra {extra:?}"
            ));
        }
    }
    eprintln!("parliament: {passed} passed, {} known differences, {not_covered} not covered, {no_expectation} without expectation", KNOWN_DIFFERENCES.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(passed >= 45, "{passed}");
}
