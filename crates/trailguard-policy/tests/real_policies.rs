//! Evaluation and diff on real AWS managed policies (iam-dataset and the Cloudsplaining account).

use serde_json::Value;
use trailguard_policy::diff::diff;
use trailguard_policy::eval::{evaluate, Decision, Layer, PolicySet, Request};
use trailguard_policy::PolicyDocument;

fn managed(name: &str) -> PolicyDocument {
    let dir = trailguard_testkit::shared_data().join("managed-policies/iam-dataset");
    if let Ok(text) = std::fs::read_to_string(dir.join(format!("{name}.json"))) {
        let value: Value = serde_json::from_str(&text).unwrap();
        return PolicyDocument::parse(&serde_json::to_string_pretty(&value["document"]).unwrap())
            .unwrap();
    }
    let account: Value = serde_json::from_str(
        &std::fs::read_to_string(
            trailguard_testkit::shared_data().join("peer-suites/cloudsplaining/example.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let policy = account["Policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["PolicyName"] == name)
        .unwrap();
    let version = policy["PolicyVersionList"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["IsDefaultVersion"] == Value::Bool(true))
        .unwrap();
    PolicyDocument::parse(&version["Document"].to_string()).unwrap()
}

#[test]
fn evaluation_matches_what_the_managed_policies_mean() {
    let read_only = managed("ReadOnlyAccess");
    let power_user = managed("PowerUserAccess");
    let admin = managed("AdministratorAccess");
    let ro = PolicySet {
        identity: vec![&read_only],
        ..Default::default()
    };
    assert!(evaluate(&ro, &Request::new("s3:GetObject", "arn:aws:s3:::any/key")).is_allowed());
    assert!(evaluate(&ro, &Request::new("ec2:DescribeInstances", "*")).is_allowed());
    assert!(!evaluate(
        &ro,
        &Request::new("iam:CreateUser", "arn:aws:iam::111122223333:user/x")
    )
    .is_allowed());
    assert!(!evaluate(&ro, &Request::new("s3:PutObject", "arn:aws:s3:::any/key")).is_allowed());

    let pu = PolicySet {
        identity: vec![&power_user],
        ..Default::default()
    };
    assert!(evaluate(&pu, &Request::new("ec2:RunInstances", "*")).is_allowed());
    assert!(!evaluate(&pu, &Request::new("iam:AttachUserPolicy", "*")).is_allowed());
    assert!(!evaluate(&pu, &Request::new("organizations:LeaveOrganization", "*")).is_allowed());

    // Admin inside a read-only permissions boundary can only read.
    let bounded = PolicySet {
        identity: vec![&admin],
        boundary: Some(&read_only),
        ..Default::default()
    };
    assert!(evaluate(&bounded, &Request::new("s3:GetObject", "arn:aws:s3:::b/k")).is_allowed());
    assert!(matches!(
        evaluate(&bounded, &Request::new("iam:CreateUser", "*")),
        Decision::ImplicitDeny {
            missing: Layer::Boundary
        }
    ));
}

#[test]
fn diffs_between_real_policies_name_the_added_risk() {
    let iam_read = managed("IAMReadOnlyAccess");
    let iam_full = managed("IAMFullAccess");
    let d = diff(&iam_read, &iam_full);
    assert!(d.added_action_count > 100, "{}", d.added_action_count);
    for method in [
        "CreateNewPolicyVersion",
        "AttachUserPolicy",
        "CreateAccessKey",
    ] {
        assert!(
            d.new_risks.privilege_escalation.iter().any(|m| m == method),
            "{method}: {:?}",
            d.new_risks.privilege_escalation
        );
    }
    assert!(d
        .new_risks
        .sensitive_wildcards
        .contains(&"iam:*".to_owned()));
    assert!(!d.new_risks.became_admin);
    let back = diff(&iam_full, &iam_read);
    assert!(back.new_risks.is_empty() && back.added.is_empty());
    assert_eq!(back.removed_action_count, d.added_action_count);

    let to_admin = diff(&managed("ReadOnlyAccess"), &managed("AdministratorAccess"));
    assert!(to_admin.new_risks.became_admin);
}
