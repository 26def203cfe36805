//! Sigma rules come from outside: a hostile or broken rule must be reported (file and reason) and
//! skipped within a bounded time, never take the process down or hang it, and the other rules still load.
//! Each case runs on its own thread (default stack) with a generous deadline, so a regression
//! shows as a failed test, not a hung suite.

use std::path::Path;

use trailguard_rules::sigma::{SigmaErrorKind, SigmaRuleSet};
use trailguard_testkit::within;

fn rule_with_condition(selections: &[&str], condition: &str) -> String {
    let mut text = String::from(
        "title: Hostile condition\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n",
    );
    for name in selections {
        text.push_str(&format!("  {name}:\n    eventName: StopLogging\n"));
    }
    text.push_str(&format!("  condition: '{condition}'\nlevel: high\n"));
    text
}

const GOOD_RULE: &str = "title: Trail stopped
id: 5f1c0a7e-2222-4333-8444-555555555555
logsource:
  product: aws
  service: cloudtrail
detection:
  selection:
    eventSource: cloudtrail.amazonaws.com
    eventName: StopLogging
  condition: selection
level: high
";

#[test]
fn deeply_nested_parentheses_are_an_error_not_a_stack_overflow() {
    let condition = format!("{}selection{}", "(".repeat(20_000), ")".repeat(20_000));
    let text = rule_with_condition(&["selection"], &condition);
    let err = within(20, move || {
        SigmaRuleSet::load_str(&text, "rules/deep.yml").map(|s| s.len())
    })
    .unwrap_err();
    assert_eq!(err.file, "rules/deep.yml");
    assert!(matches!(err.kind, SigmaErrorKind::Invalid(_)), "{err}");
    assert!(err.to_string().contains("more than 64 deep"), "{err}");
    // One line, and not the 40,000-character condition.
    assert!(err.to_string().len() < 300, "{err}");
}

#[test]
fn long_not_chains_are_an_error_not_a_stack_overflow() {
    let condition = format!("{}selection", "not ".repeat(100_000));
    let text = rule_with_condition(&["selection"], &condition);
    let err = within(20, move || {
        SigmaRuleSet::load_str(&text, "rules/nots.yml").map(|s| s.len())
    })
    .unwrap_err();
    assert!(err.to_string().contains("more than 64 deep"), "{err}");
    // Nesting that real rules use still loads.
    let fine = rule_with_condition(&["selection"], "not (not (not selection))");
    assert_eq!(SigmaRuleSet::load_str(&fine, "ok.yml").unwrap().len(), 1);
}

#[test]
fn star_heavy_selection_patterns_do_not_backtrack_exponentially() {
    // Selection names of 40 `a`s; the pattern needs a `b` no name has, after 24 stars.
    let names: Vec<String> = (0..8).map(|i| format!("{}{i}", "a".repeat(40))).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let pattern = format!("{}b*", "a*".repeat(24));
    let text = rule_with_condition(&refs, &format!("1 of {pattern} or {}", names[0]));
    let err = within(20, move || {
        SigmaRuleSet::load_str(&text, "rules/stars.yml").map(|s| s.len())
    })
    .unwrap_err();
    assert!(err.to_string().contains("matches no selection"), "{err}");
    // A star pattern that does match still selects exactly what it should.
    let text = rule_with_condition(
        &["sel_one", "sel_two", "filter"],
        "1 of s*l*_* and not filter",
    );
    assert_eq!(SigmaRuleSet::load_str(&text, "ok.yml").unwrap().len(), 1);
}

#[cfg(unix)]
#[test]
fn symlink_loops_in_a_rules_directory_are_reported_and_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    std::fs::write(root.join("good.yml"), GOOD_RULE).unwrap();
    for name in ["x", "y", "z"] {
        std::os::unix::fs::symlink(".", root.join(name)).unwrap();
    }
    let sub = root.join("sub");
    std::fs::create_dir(&sub).unwrap();
    std::os::unix::fs::symlink(&root, sub.join("up")).unwrap();
    let (loaded, errors) = within(20, move || {
        let (set, errors) = SigmaRuleSet::load_dirs(&[root]);
        (set.len(), errors)
    });
    assert_eq!(loaded, 1, "{errors:?}");
    let loops: Vec<&str> = errors
        .iter()
        .filter(|e| e.to_string().contains("directory loop"))
        .map(|e| e.file.as_str())
        .collect();
    assert_eq!(loops.len(), 4, "{errors:?}");
    for name in ["x", "y", "z", "up"] {
        assert!(
            loops.iter().any(|f| Path::new(f).ends_with(name)),
            "{name}: {loops:?}"
        );
    }
}

#[test]
fn a_bad_rule_among_good_ones_is_reported_and_the_others_run() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a_good.yml"), GOOD_RULE).unwrap();
    let deep = format!("{}selection{}", "(".repeat(5_000), ")".repeat(5_000));
    std::fs::write(
        dir.path().join("b_deep.yml"),
        rule_with_condition(&["selection"], &deep),
    )
    .unwrap();
    let root = dir.path().to_path_buf();
    let (loaded, errors) = within(20, move || {
        let (set, errors) = SigmaRuleSet::load_dirs(&[root]);
        (set.len(), errors)
    });
    assert_eq!(loaded, 1);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].file.ends_with("b_deep.yml"));
}

#[test]
fn a_rule_testing_a_secret_field_never_copies_its_value() {
    use serde_json::value::RawValue;
    use trailguard_event::Record;

    let rule = "title: Login profile with a weak password
logsource:
  product: aws
  service: cloudtrail
detection:
  selection:
    eventName: CreateLoginProfile
    requestParameters.password|contains: hunter
  credentials:
    responseElements.credentials.sessionToken|startswith: IQo
  condition: selection or credentials
level: high
";
    let set = SigmaRuleSet::load_str(rule, "rules/secret.yml").unwrap();
    let record = r#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::111122223333:user/mallory","accountId":"111122223333","accessKeyId":"AKIAEXAMPLE","userName":"mallory"},"eventTime":"2024-02-01T09:00:00Z","eventSource":"iam.amazonaws.com","eventName":"CreateLoginProfile","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.5","userAgent":"aws-cli/2.13","requestParameters":{"userName":"bob","password":"hunter2-Secret!","passwordResetRequired":false},"responseElements":{"loginProfile":{"userName":"bob","createDate":"Feb 1, 2024 9:00:00 AM","passwordResetRequired":false},"credentials":{"accessKeyId":"ASIAEXAMPLE","sessionToken":"IQoJb3JpZ2luX2VjEXAMPLETOKEN","expiration":"Feb 1, 2024 10:00:00 AM"}},"requestID":"f1d3c0de-0000-4000-8000-000000000001","eventID":"f1d3c0de-0000-4000-8000-000000000002","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333"}"#;
    let raw: &RawValue = serde_json::from_str(record).unwrap();
    let record = Record::from_raw(raw).unwrap();
    let mut findings = Vec::new();
    set.evaluate(&record, &mut findings);
    assert_eq!(findings.len(), 1);
    let json = serde_json::to_string(&findings[0]).unwrap();
    assert!(!json.contains("hunter2"), "{json}");
    assert!(!json.contains("IQoJb3JpZ2lu"), "{json}");
    let shown: Vec<(&str, String)> = findings[0]
        .evidence
        .iter()
        .map(|e| (e.path.as_str(), e.value.to_string()))
        .collect();
    assert!(
        shown.contains(&("requestParameters.password", "\"[redacted]\"".to_owned())),
        "{shown:?}"
    );
    // Fields that are not secret still show their values.
    assert!(
        shown.contains(&("eventName", "\"CreateLoginProfile\"".to_owned())),
        "{shown:?}"
    );
}

#[test]
fn mutated_rules_never_panic() {
    // The SigmaHQ rules, cut short and with grammar-relevant bytes swapped in: loading each either
    // works or returns an error naming the origin. (The fuzz target drives the same entry point.)
    let dir = trailguard_testkit::shared_data().join("sigma-aws/rules");
    let mut texts: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .collect();
    texts.sort();
    texts.truncate(12);
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut loaded = 0;
    let mut refused = 0;
    for text in &texts {
        for cut in (0..text.len()).step_by(97) {
            let Some(prefix) = text.get(..cut) else {
                continue;
            };
            match SigmaRuleSet::load_str(prefix, "cut.yml") {
                Ok(_) => loaded += 1,
                Err(e) => {
                    assert_eq!(e.file, "cut.yml");
                    refused += 1
                }
            }
        }
        for _ in 0..150 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut bytes = text.clone().into_bytes();
            let at = (seed as usize) % bytes.len();
            const GRAMMAR: &[u8] = b"()|*?:-'\"\n {}[]&!\\";
            bytes[at] = GRAMMAR[(seed >> 40) as usize % GRAMMAR.len()];
            let mutated = String::from_utf8_lossy(&bytes).into_owned();
            match SigmaRuleSet::load_str(&mutated, "mutated.yml") {
                Ok(_) => loaded += 1,
                Err(_) => refused += 1,
            }
        }
    }
    assert!(
        loaded > 0 && refused > 0,
        "{loaded} loaded, {refused} refused"
    );
}
