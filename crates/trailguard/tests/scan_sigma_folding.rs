//! Sigma matches are folded per rule, principal, account, region and day: on the real logs
//! the noisy SigmaHQ AssumeRole hunting rule becomes a few findings with counts, and the result does not
//! depend on how many threads scanned.

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;
use trailguard_testkit::shared_data;

fn scan(threads: &str) -> Vec<Value> {
    let data = shared_data();
    let out = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args([
            "scan",
            "--format",
            "json",
            "--fail-on",
            "never",
            "--threads",
            threads,
        ])
        .arg("--sigma")
        .arg(data.join("sigma-aws/rules"))
        .arg(data.join("cloudtrail"))
        .output()
        .expect("trailguard runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON lines"))
        .collect()
}

#[test]
fn repeated_sigma_matches_fold_and_do_not_depend_on_threads() {
    let one = scan("1");
    let two = scan("2");
    let ids = |v: &[Value]| {
        let mut ids: Vec<String> = v
            .iter()
            .map(|f| f["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&one), ids(&two), "same findings with 1 and 2 threads");

    let sigma: Vec<&Value> = one.iter().filter(|f| f["source"] == "sigma").collect();
    assert!(!sigma.is_empty());
    let mut per_rule: BTreeMap<&str, (usize, u64)> = BTreeMap::new();
    for f in &sigma {
        let occurrences = f["evidence"]
            .as_array()
            .and_then(|e| e.iter().find(|e| e["path"] == "sigma.occurrences"))
            .and_then(|e| e["value"].as_u64())
            .unwrap_or(1);
        let entry = per_rule
            .entry(f["rule_name"].as_str().unwrap())
            .or_default();
        entry.0 += 1;
        entry.1 += occurrences;
    }
    let (findings, matches) = per_rule["aws_sts_assumerole_misuse"];
    assert!(
        matches >= 100,
        "the hunting rule matches routinely: {matches}"
    );
    assert!(
        findings < matches as usize,
        "{matches} matches fold into {findings} findings"
    );
    let folded = sigma
        .iter()
        .find(|f| {
            f["rule_name"] == "aws_sts_assumerole_misuse"
                && f["message"].as_str().unwrap().contains("Matched")
        })
        .expect("a folded finding says how many times it matched");
    assert!(folded["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["path"] == "sigma.lastEventTime"));
}
