//! Every posture check over the Cloudsplaining example account (its real
//! `get-account-authorization-details` output, nothing else): which checks run, which cannot, and
//! the findings, snapshot-tested. The admin and privilege-escalation principals in the snapshot were
//! checked by hand against `example.json` (see the PA014 and PA015 unit tests for the reasoning).

use std::collections::BTreeMap;

use trailguard_account::snapshot::{RawSnapshot, AUTHORIZATION_DETAILS};
use trailguard_account::AccountSnapshot;
use trailguard_rules::rules::posture::{self, PostureContext};

fn snapshot() -> AccountSnapshot {
    let data = std::env::var_os("TRAILGUARD_SHARED_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
        });
    let text = std::fs::read_to_string(data.join("peer-suites/cloudsplaining/example.json"))
        .expect("reference data present");
    let mut raw = RawSnapshot::default();
    raw.files.insert(AUTHORIZATION_DETAILS.to_owned(), text);
    AccountSnapshot::from_raw(&raw)
}

#[test]
fn cloudsplaining_account_audit() {
    let snap = snapshot();
    let now = trailguard_account::time::parse_aws_time("2024-06-01T00:00:00Z");
    let ctx = PostureContext::new(&snap, now);
    let report = posture::audit(&ctx);

    // Only the checks on principals can run on authorization details alone.
    let evaluated: Vec<&str> = posture::CHECKS
        .iter()
        .map(|c| c.meta.code)
        .filter(|code| !report.not_evaluated.iter().any(|n| n.rule_id == *code))
        .collect();
    assert_eq!(evaluated, ["PA013", "PA014", "PA015", "PA016", "PA017"]);

    let mut per_rule: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &report.findings {
        *per_rule.entry(f.rule_id.as_str()).or_default() += 1;
    }
    // Users with their own policies: every user but privesc-AssumeRole-start-user and privesc-sre-user.
    assert_eq!(per_rule["PA013"], 42);
    assert_eq!(per_rule["PA014"], 8);
    assert_eq!(per_rule["PA017"], 1);

    let lines: Vec<String> = report
        .findings
        .iter()
        .map(|f| {
            format!(
                "{} {:<8} {}",
                f.rule_id,
                f.severity.as_str(),
                f.resource
                    .as_ref()
                    .and_then(|r| r.name.as_deref())
                    .unwrap_or("-")
            )
        })
        .collect();
    insta::assert_snapshot!("cloudsplaining_findings", lines.join("\n"));

    // Stable ids: the same account audited twice gives the same ids, all distinct.
    let again = posture::audit(&PostureContext::new(&snap, now));
    let ids: Vec<&str> = report.findings.iter().map(|f| f.id.as_str()).collect();
    let ids_again: Vec<&str> = again.findings.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids, ids_again);
    let unique: std::collections::HashSet<&&str> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len());
}
