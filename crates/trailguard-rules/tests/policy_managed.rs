//! Every check runs on every AWS managed policy without a malformed-policy finding or a panic, and
//! the headline policies get the findings a reviewer expects.

use trailguard_rules::rules::policy::{check_text, VersionSelection};

#[test]
fn every_managed_policy_is_checked_cleanly() {
    let dir = trailguard_testkit::shared_data().join("managed-policies/iam-dataset");
    let mut policies = 0;
    let mut findings = 0;
    let mut iam_full = Vec::new();
    let mut read_only = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let value: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let text = serde_json::to_string_pretty(&value["document"]).unwrap();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let report = check_text(&format!("{name}.json"), &text, VersionSelection::All);
        assert_eq!(report.parse_errors, 0, "{name}");
        assert!(
            report.findings.iter().all(|f| f.rule_id != "PC001"),
            "{name}"
        );
        for f in &report.findings {
            let loc = f
                .location
                .as_ref()
                .expect("policy findings carry a location");
            assert!(
                loc.line.unwrap() >= 1 && loc.json_path.is_some(),
                "{name}: {f:?}"
            );
        }
        policies += 1;
        findings += report.findings.len();
        match name.as_str() {
            "IAMFullAccess" => iam_full = report.findings,
            "ReadOnlyAccess" => read_only = report.findings,
            _ => {}
        }
    }
    assert_eq!(policies, 1641);
    assert!(findings > policies, "{findings}");
    let codes = |fs: &[trailguard_rules::Finding]| {
        fs.iter()
            .map(|f| f.rule_id.clone())
            .collect::<std::collections::BTreeSet<_>>()
    };
    let iam = codes(&iam_full);
    for code in ["PC013", "PC014", "PC015", "PC018", "PC019"] {
        assert!(iam.contains(code), "IAMFullAccess lacks {code}: {iam:?}");
    }
    let ro = codes(&read_only);
    for code in ["PC010", "PC011", "PC013", "PC014", "PC019"] {
        assert!(!ro.contains(code), "ReadOnlyAccess has {code}");
    }
}
