//! The SigmaHQ AWS CloudTrail rules: every one loads, and for each rule with a fixture file in
//! `tests/fixtures/sigma/<rule>.json`, our own real-shaped events prove it matches what it should and
//! nothing else (through the set's pre-filter, as a scan runs it).

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::value::RawValue;
use trailguard_event::Record;
use trailguard_rules::sigma::SigmaRuleSet;
use trailguard_rules::{FindingSource, Severity};

fn rules_dir() -> PathBuf {
    trailguard_testkit::shared_data().join("sigma-aws/rules")
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sigma")
}

#[test]
fn every_sigmahq_aws_rule_loads() {
    let (set, errors) = SigmaRuleSet::load_dirs(&[rules_dir()]);
    let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert!(messages.is_empty(), "load errors:\n{}", messages.join("\n"));
    let files = std::fs::read_dir(rules_dir())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "yml"))
        })
        .count();
    assert_eq!(files, 57);
    assert_eq!(set.len(), files);
    for rule in set.rules() {
        assert!(!rule.title.is_empty(), "{}", rule.file);
        assert_eq!(
            rule.id.len(),
            36,
            "{}: id `{}` is not a UUID",
            rule.file,
            rule.id
        );
        assert!(rule.file.ends_with(&format!("{}.yml", rule.name)));
        assert!(rule.description.is_some(), "{}", rule.file);
    }
    // Most rules pin eventName; only the few identity/user-agent rules see every record.
    let every: Vec<&str> = set.every_record_rules().map(|r| r.name.as_str()).collect();
    assert!(every.len() <= 5, "too many unfiltered rules: {every:?}");
    assert!(every.contains(&"aws_root_account_usage"), "{every:?}");
}

#[test]
fn rule_metadata_maps_level_and_attack() {
    let (set, _) = SigmaRuleSet::load_dirs(&[rules_dir()]);
    let rule = set
        .rules()
        .iter()
        .find(|r| r.name == "aws_update_login_profile")
        .expect("rule present");
    assert_eq!(rule.level, Severity::High);
    assert_eq!(rule.attack, ["T1098"]);
    assert_eq!(rule.id, "055fb148-60f8-462d-ad16-26926ce050f1");
    let levels: std::collections::BTreeSet<Severity> =
        set.rules().iter().map(|r| r.level).collect();
    assert!(
        levels.contains(&Severity::Low)
            && levels.contains(&Severity::Medium)
            && levels.contains(&Severity::High)
    );
}

#[derive(Deserialize)]
struct Fixture<'a> {
    rule: String,
    #[serde(borrow)]
    cases: Vec<Case<'a>>,
}

#[derive(Deserialize)]
struct Case<'a> {
    expect: String,
    why: String,
    #[serde(borrow)]
    record: &'a RawValue,
}

#[test]
fn fixtures_prove_positive_and_negative_matches() {
    let mut fixture_files: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    fixture_files.sort();
    assert!(
        fixture_files.len() >= 20,
        "only {} fixture files",
        fixture_files.len()
    );

    let mut failures = Vec::new();
    let mut checked = 0;
    for path in &fixture_files {
        let text = std::fs::read_to_string(path).unwrap();
        let fixture: Fixture<'_> =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let stem = path.file_stem().unwrap().to_str().unwrap();
        assert_eq!(
            fixture.rule,
            format!("{stem}.yml"),
            "fixture named after its rule"
        );
        let rule_text = std::fs::read_to_string(rules_dir().join(&fixture.rule)).unwrap();
        let set = SigmaRuleSet::load_str(&rule_text, &fixture.rule).unwrap();
        let rule = &set.rules()[0];
        let positives = fixture.cases.iter().filter(|c| c.expect == "match").count();
        let negatives = fixture
            .cases
            .iter()
            .filter(|c| c.expect == "no_match")
            .count();
        assert!(
            positives >= 1 && negatives >= 1,
            "{stem}: needs both kinds of case"
        );
        assert_eq!(
            positives + negatives,
            fixture.cases.len(),
            "{stem}: expect is match or no_match"
        );

        for case in &fixture.cases {
            let record = Record::from_raw(case.record)
                .unwrap_or_else(|e| panic!("{stem} / {}: bad record: {e}", case.why));
            let mut findings = Vec::new();
            set.evaluate(&record, &mut findings);
            let want = case.expect == "match";
            let got = !findings.is_empty();
            // The pre-filter and the full matcher must agree.
            assert_eq!(
                got,
                rule.matches(&record),
                "{stem} / {}: pre-filter disagrees",
                case.why
            );
            if want && !set.wants(&record.event_source, &record.event_name) {
                failures.push(format!("{stem} / {}: wants() said no", case.why));
            }
            if got != want {
                failures.push(format!(
                    "{stem} / {}: expected {}, got {} findings",
                    case.why,
                    case.expect,
                    findings.len()
                ));
                continue;
            }
            if let Some(f) = findings.first() {
                assert_eq!(f.source, FindingSource::Sigma);
                assert_eq!(f.rule_id, rule.id);
                assert_eq!(f.rule_name, stem);
                assert_eq!(f.title, rule.title);
                assert_eq!(f.severity, rule.level);
                assert_eq!(f.event_name.as_deref(), Some(&*record.event_name));
                assert_eq!(f.fix.kb_entry.as_deref(), Some(&*record.event_name));
                assert!(!f.fix.summary.is_empty());
                assert!(
                    !f.evidence.is_empty(),
                    "{stem}: a finding shows what matched"
                );
                assert!(f.actor.is_some());
            }
            checked += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "fixture failures:\n{}",
        failures.join("\n")
    );
    assert!(checked >= 40, "only {checked} cases checked");
}

#[test]
fn a_broken_rule_among_good_ones_is_reported_and_the_rest_run() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["aws_cloudtrail_disable_logging.yml", "aws_enum_buckets.yml"] {
        std::fs::copy(rules_dir().join(name), dir.path().join(name)).unwrap();
    }
    let good = std::fs::read_to_string(rules_dir().join("aws_root_account_usage.yml")).unwrap();
    std::fs::write(
        dir.path().join("broken_modifier.yml"),
        good.replace(
            "userIdentity.type: Root",
            "userIdentity.type|startwith: Root",
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("broken_condition.yml"),
        good.replace(
            "selection_usertype and not",
            "selection_usertype and and not",
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("correlation.yml"),
        "title: Many failed logins\nid: 0c2bc1a4-1b9c-4cba-9d36-1b8f4e2b1f00\ncorrelation:\n  type: event_count\n  rules: [x]\n  group-by: [sourceIPAddress]\n  timespan: 5m\n  condition: {gte: 10}\n",
    )
    .unwrap();
    let (set, errors) = SigmaRuleSet::load_dirs(&[dir.path().to_path_buf()]);
    assert_eq!(set.len(), 2);
    let mut messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
    messages.sort();
    assert_eq!(messages.len(), 3, "{messages:?}");
    assert!(
        messages[0].contains("broken_condition.yml") && messages[0].contains("unexpected `and`"),
        "{}",
        messages[0]
    );
    assert!(
        messages[1].contains("broken_modifier.yml")
            && messages[1].contains("unknown modifier `startwith`"),
        "{}",
        messages[1]
    );
    assert!(
        messages[2].contains("correlation.yml") && messages[2].contains("correlation rules"),
        "{}",
        messages[2]
    );
    assert!(messages.iter().all(|m| !m.contains('\n')));
}

/// Truncated and corrupted versions of every real rule: each either loads or gives a one-line error
/// naming the file, and never panics.
#[test]
fn damaged_rules_never_panic() {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(rules_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    let mut errors = 0usize;
    let mut attempts = 0usize;
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        let mut variants: Vec<String> = Vec::new();
        // Cut at many points (on character boundaries).
        let cuts: Vec<usize> = text
            .char_indices()
            .map(|(i, _)| i)
            .filter(|i| i % 37 == 0)
            .collect();
        variants.extend(cuts.iter().map(|&i| text[..i].to_owned()));
        // Swap structural characters for others that change the meaning.
        for (from, to) in [
            (":", " "),
            ("|", "||"),
            ("- ", ""),
            ("and", "and and"),
            ("'", ""),
            ("    ", "  "),
        ] {
            variants.push(text.replacen(from, to, 1));
            variants.push(text.replace(from, to));
        }
        for variant in variants {
            attempts += 1;
            if let Err(e) = SigmaRuleSet::load_str(&variant, "damaged.yml") {
                errors += 1;
                let line = e.to_string();
                assert!(line.starts_with("`damaged.yml`"), "{line}");
                assert!(!line.contains('\n'), "{line}");
            }
        }
    }
    assert!(attempts > 1000, "{attempts}");
    assert!(
        errors > attempts / 2,
        "only {errors} of {attempts} damaged rules failed to load"
    );
}
