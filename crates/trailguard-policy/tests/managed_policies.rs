//! Evidence: all AWS managed policies of the iam-dataset parse with zero errors; AdministratorAccess
//! is admin and ReadOnlyAccess is not; our privilege-escalation flags agree with that dataset's own
//! analysis on at least 95% of policies (disagreements printed and explained in MANAGED_POLICIES.md).

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;
use trailguard_policy::analysis::analyze;
use trailguard_policy::PolicyDocument;

fn dataset() -> Vec<(String, Value)> {
    let dir: PathBuf = trailguard_testkit::shared_data().join("managed-policies/iam-dataset");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let value: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            out.push((
                path.file_stem().unwrap().to_string_lossy().into_owned(),
                value,
            ));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn every_managed_policy_parses_and_agrees_on_privesc() {
    let policies = dataset();
    assert_eq!(
        policies.len(),
        1641,
        "the dataset's 1,642 files are 1,641 policies and a licence"
    );
    let mut agree = 0;
    let mut strict_agree = 0;
    let mut disagreements = Vec::new();
    for (name, entry) in &policies {
        let text = entry["document"].to_string();
        let doc = PolicyDocument::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let analysis = analyze(&doc);
        let theirs = entry["privesc"].as_bool().unwrap();
        let ours = !analysis.escalation_primitives.is_empty();
        if ours == theirs {
            agree += 1;
        } else {
            let their_actions: BTreeSet<&str> = entry["effective_actions"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|a| a["privesc"] == Value::Bool(true))
                .filter_map(|a| a["effective_action"].as_str())
                .collect();
            let methods: Vec<&str> = analysis
                .privilege_escalation
                .iter()
                .map(|p| p.method.id)
                .collect();
            disagreements.push(format!("{name}: ours={ours} theirs={theirs} our methods={methods:?} their actions={their_actions:?}"));
        }
        if analysis.has_privilege_escalation() == theirs {
            strict_agree += 1;
        }
    }
    for d in &disagreements {
        eprintln!("disagree: {d}");
    }
    let rate = agree as f64 / policies.len() as f64;
    eprintln!(
        "escalation primitives agree on {agree}/{} ({:.1}%); complete methods agree on {strict_agree}/{}",
        policies.len(),
        rate * 100.0,
        policies.len()
    );
    assert!(rate >= 0.95, "agreement {:.1}% below 95%", rate * 100.0);
}

#[test]
fn administrator_access_is_admin_and_read_only_is_not() {
    let policies = dataset();
    // AdministratorAccess and PowerUserAccess are not in the iam-dataset snapshot; the Cloudsplaining
    // example account carries their real documents.
    let account: Value = serde_json::from_str(
        &std::fs::read_to_string(
            trailguard_testkit::shared_data().join("peer-suites/cloudsplaining/example.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let get = |n: &str| {
        let doc = match policies.iter().find(|(name, _)| name == n) {
            Some((_, entry)) => entry["document"].clone(),
            None => {
                let policy = account["Policies"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|p| p["PolicyName"] == n)
                    .unwrap();
                let version = policy["PolicyVersionList"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|v| v["IsDefaultVersion"] == Value::Bool(true))
                    .unwrap();
                version["Document"].clone()
            }
        };
        analyze(&PolicyDocument::parse(&doc.to_string()).unwrap())
    };
    let admin = get("AdministratorAccess");
    assert!(admin.is_admin);
    let read_only = get("ReadOnlyAccess");
    assert!(!read_only.is_admin);
    assert!(
        read_only.privilege_escalation.is_empty(),
        "{:?}",
        read_only
            .privilege_escalation
            .iter()
            .map(|p| p.method.id)
            .collect::<Vec<_>>()
    );
    assert!(read_only.resource_exposure.is_empty());
    let power_user = get("PowerUserAccess");
    assert!(!power_user.is_admin);
    assert_eq!(power_user.allow_not_action.len(), 1);
    let iam_full = get("IAMFullAccess");
    let methods: Vec<&str> = iam_full
        .privilege_escalation
        .iter()
        .map(|p| p.method.id)
        .collect();
    for expected in [
        "create-policy-version",
        "attach-user-policy",
        "put-user-policy",
        "create-access-key",
        "update-login-profile",
    ] {
        assert!(
            methods.contains(&expected),
            "IAMFullAccess lacks {expected}: {methods:?}"
        );
    }
    assert!(iam_full
        .service_wildcards
        .iter()
        .any(|w| w.service == "iam" && w.sensitive));
}

#[test]
fn expanded_actions_match_the_dataset() {
    // The dataset lists each policy's effective actions; ours must cover every one of them that
    // the catalog still knows (the dataset is older than our catalog, so we may list more).
    let catalog = trailguard_policy::catalog::Catalog::get();
    let policies = dataset();
    let mut checked = 0;
    for (name, entry) in policies.iter().filter(|(n, _)| {
        [
            "AmazonS3ReadOnlyAccess",
            "IAMReadOnlyAccess",
            "AmazonEC2FullAccess",
            "SecurityAudit",
        ]
        .contains(&n.as_str())
    }) {
        let doc = PolicyDocument::parse(&entry["document"].to_string()).unwrap();
        let grants = trailguard_policy::diff::effective_grants(catalog, &doc);
        let ours: BTreeSet<String> = grants
            .values()
            .flatten()
            .map(|id| catalog.full_name(*id).to_ascii_lowercase())
            .collect();
        for action in entry["effective_actions"].as_array().unwrap() {
            let action = action["effective_action"]
                .as_str()
                .unwrap()
                .to_ascii_lowercase();
            if catalog.lookup(&action).is_some() {
                assert!(ours.contains(&action), "{name}: {action} missing");
                checked += 1;
            }
        }
    }
    assert!(checked > 500, "{checked}");
}
