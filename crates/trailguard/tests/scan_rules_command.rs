//! End-to-end: `trailguard rules` lists every built-in rule with its doc, shows one rule in full, and lists
//! Sigma rules with their load errors.

use std::process::{Command, Output};

use trailguard_testkit::shared_data;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

#[test]
fn json_lists_every_rule_with_its_doc() {
    let out = run(&["rules", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let listing: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rules = listing["rules"].as_array().unwrap();
    assert!(rules.len() >= 10, "{}", rules.len());
    let mut codes = std::collections::BTreeSet::new();
    for rule in rules {
        let code = rule["code"].as_str().unwrap();
        assert!(codes.insert(code.to_owned()), "duplicate code {code}");
        for section in ["what", "why", "fix"] {
            assert!(
                !rule["doc"][section]
                    .as_str()
                    .unwrap_or("")
                    .trim()
                    .is_empty(),
                "{code} has no {section}"
            );
        }
    }
    assert!(codes.iter().any(|c| c.starts_with("CT")));
}

#[test]
fn one_rule_in_full_and_unknown_codes_fail() {
    let listing: serde_json::Value =
        serde_json::from_slice(&run(&["rules", "--format", "json"]).stdout).unwrap();
    let first = listing["rules"][0].clone();
    let code = first["code"].as_str().unwrap();
    let out = run(&["rules", code]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with(code), "{text}");
    assert!(text.contains("What it detects"));
    assert!(text.contains("Why it matters"));
    // By name, case-insensitively, as Markdown.
    let name = first["name"].as_str().unwrap().to_uppercase();
    let out = run(&["rules", &name, "--format", "md"]);
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains(&format!("## {code}")));

    let out = run(&["rules", "XX999"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`XX999`"));
}

#[test]
fn sigma_rules_are_listed_with_load_errors() {
    let dir = shared_data().join("sigma-aws/rules");
    let out = run(&[
        "rules",
        "--sigma",
        dir.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let listing: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let loaded = listing["sigma"]["rules"].as_array().unwrap().len();
    let errors = listing["sigma"]["errors"].as_array().unwrap().len();
    // Every rule file is either loaded or reported: none silently dropped.
    let files = walk_yaml(&dir);
    assert!(loaded > 40, "{loaded}");
    assert!(
        loaded + errors >= files,
        "{loaded} loaded + {errors} errors < {files} files"
    );

    let out = run(&["rules", "--sigma", dir.to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(&format!("sigma rules ({loaded} loaded)")),
        "{text}"
    );
}

fn walk_yaml(dir: &std::path::Path) -> usize {
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            count += walk_yaml(&path);
        } else if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            count += 1;
        }
    }
    count
}
