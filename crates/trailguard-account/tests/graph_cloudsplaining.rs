//! The escalation graph on the Cloudsplaining example account (Bishop Fox's iam-vulnerable, 122
//! users and roles), against Cloudsplaining's own results and against what the account's names say
//! each principal was built to show. Every disagreement is explained in
//! `graph-cloudsplaining.md` beside this file; this test holds the list to that document.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;
use trailguard_account::graph::{Certainty, Graph, NodeKind};
use trailguard_account::model::AuthorizationDetails;

fn shared() -> PathBuf {
    PathBuf::from(
        std::env::var("TRAILGUARD_SHARED_DATA").unwrap_or_else(|_| "../../../shared/data".into()),
    )
    .join("peer-suites/cloudsplaining")
}

fn load(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(shared().join(name)).unwrap()).unwrap()
}

/// Principals Cloudsplaining flags: those holding (directly or through a group) a policy its
/// results mark with `PrivilegeEscalation`. Only the principals its results list.
fn cloudsplaining_flags(results: &Value) -> BTreeMap<String, bool> {
    let mut escalating: BTreeSet<String> = BTreeSet::new();
    for section in [
        "aws_managed_policies",
        "customer_managed_policies",
        "inline_policies",
    ] {
        for (id, policy) in results[section].as_object().unwrap() {
            if policy["PrivilegeEscalation"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
            {
                escalating.insert(id.clone());
            }
        }
    }
    let holds = |p: &Value| {
        [
            "inline_policies",
            "customer_managed_policies",
            "aws_managed_policies",
        ]
        .iter()
        .any(|s| {
            p[*s]
                .as_object()
                .is_some_and(|m| m.keys().any(|k| escalating.contains(k)))
        })
    };
    let mut out = BTreeMap::new();
    for section in ["users", "roles"] {
        for (name, p) in results[section].as_object().unwrap() {
            let via_group = p["groups"]
                .as_object()
                .is_some_and(|g| g.values().any(holds));
            out.insert(name.clone(), holds(p) || via_group);
        }
    }
    out
}

#[test]
fn the_example_account_agrees_with_cloudsplaining_and_its_design_except_as_documented() {
    let details: AuthorizationDetails = serde_json::from_value(load("example.json")).unwrap();
    let graph = Graph::build(&details, Vec::new());
    let principals: Vec<usize> = (0..graph.nodes.len())
        .filter(|&id| graph.nodes[id].kind != NodeKind::Group)
        .collect();
    assert_eq!(principals.len(), 122);

    // What the account's names say: `privesc*` and `fn*` principals were built to escalate, `fp*`
    // ones not to. A verdict of "escalates" here means a certain path to admin.
    let mut disagreements = BTreeSet::new();
    for &id in &principals {
        let node = &graph.nodes[id];
        let built_to = if node.name.starts_with("privesc") || node.name.starts_with("fn") {
            Some(true)
        } else if node.name.starts_with("fp") {
            Some(false)
        } else {
            None
        };
        let ours = graph.reaches_admin(id) == Some(Certainty::Certain);
        if built_to.is_some_and(|expected| expected != ours) {
            disagreements.insert(node.name.clone());
        }
    }
    let documented: BTreeSet<String> = DESIGN_DISAGREEMENTS
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    assert_eq!(disagreements, documented);

    // Cloudsplaining's results name 5 of these principals (its report is of a slightly different
    // snapshot of the same account).
    let flags = cloudsplaining_flags(&load("iam-results-example.json"));
    let compared: Vec<(String, bool, Option<bool>)> = flags
        .iter()
        .map(|(name, flagged)| {
            let ours = graph
                .node_by_name(name)
                .map(|id| graph.reaches_admin(id) == Some(Certainty::Certain));
            (name.clone(), *flagged, ours)
        })
        .collect();
    assert_eq!(
        compared,
        [
            ("ASIAZZUSERZZPLACEHOLDER".to_owned(), true, None),
            ("MyOtherRole".to_owned(), true, Some(false)),
            ("MyRole".to_owned(), true, Some(false)),
            ("OverprivilegedEC2".to_owned(), true, Some(true)),
            ("obama".to_owned(), true, Some(true)),
        ]
    );

    // Conditions the snapshot cannot decide stay conditional: fn3 and fp5 differ only in the
    // direction of a date test on aws:TokenIssueTime.
    for name in [
        "fn3-exploitableConditionConstraint-user",
        "fp5-nonExploitableConditionConstraint-user",
    ] {
        let id = graph.node_by_name(name).unwrap();
        assert_eq!(
            graph.reaches_admin(id),
            Some(Certainty::Conditional),
            "{name}"
        );
    }
}

/// Principals whose verdict differs from what their name says; each is explained in
/// `graph-cloudsplaining.md`.
const DESIGN_DISAGREEMENTS: &[&str] = &[
    "fn3-exploitableConditionConstraint-role",
    "fn3-exploitableConditionConstraint-user",
    "privesc-AssumeRole-start-user",
    "privesc-CloudFormationUpdateStack-role",
    "privesc-CloudFormationUpdateStack-user",
    "privesc-ec2InstanceConnect-role",
    "privesc-ec2InstanceConnect-user",
    "privesc-permissive-role-trust",
    "privesc-sageMakerCreatePresignedNotebookURL-role",
    "privesc-sageMakerCreatePresignedNotebookURL-user",
    "privesc-ssmSendCommand-role",
    "privesc-ssmSendCommand-user",
    "privesc-ssmStartSession-role",
    "privesc-ssmStartSession-user",
    "privesc10-PutUserPolicy-role",
    "privesc11-PutGroupPolicy-role",
    "privesc12-PutRolePolicy-user",
    "privesc13-AddUserToGroup-role",
    "privesc17-EditExistingLambdaFunctionWithRole-role",
    "privesc17-EditExistingLambdaFunctionWithRole-user",
    "privesc19-UpdateExistingGlueDevEndpoint-role",
    "privesc19-UpdateExistingGlueDevEndpoint-user",
    "privesc2-SetExistingDefaultPolicyVersion-role",
    "privesc2-SetExistingDefaultPolicyVersion-user",
    "privesc7-AttachUserPolicy-role",
    "privesc8-AttachGroupPolicy-role",
    "privesc9-AttachRolePolicy-user",
];
