//! What each principal's effective policies grant, computed once per audit with the policy engine
//! and shared by the checks on principals (full admin, overprivileged, who-can for the alias).
//!
//! Analyses run on a principal's identity statements combined into one document, so a privilege
//! escalation that needs an action from one policy and another from a second policy is seen. A
//! permissions boundary narrows the result: a granted action counts only if the boundary also allows
//! it on every resource (or might, under conditions).

use trailguard_account::{EffectivePrincipal, ParsedPrincipal};
use trailguard_policy::analysis::{analyze, ActionHit, PolicyAnalysis, PrivescFinding};
use trailguard_policy::eval::{evaluate, PolicySet, Request};

/// The engine's view of one principal.
#[derive(Debug, Clone)]
pub struct PrincipalFacts {
    /// Index into `PostureContext::principals`.
    pub index: usize,
    /// The combined identity policy's analysis, boundary applied. `None` when nothing parsed.
    pub analysis: Option<PolicyAnalysis>,
    /// Labels of the policies (and statements) that grant `*` on `*`.
    pub admin_sources: Vec<String>,
    /// Admin in effect: granted and not cut by a boundary.
    pub is_admin: bool,
    /// Policies that did not parse, managed policies missing from the snapshot.
    pub incomplete: Vec<String>,
    /// For statement `i` of the combined document: (policy index, statement index in that policy).
    pub origins: Vec<(usize, usize)>,
}

impl PrincipalFacts {
    /// The label of the policy behind statement `statement` of the combined document.
    pub fn source_of(&self, principal: &EffectivePrincipal, statement: usize) -> String {
        match self.origins.get(statement) {
            Some((policy, index)) => format!(
                "{} Statement[{index}]",
                principal.policies[*policy].source.label()
            ),
            None => format!("Statement[{statement}]"),
        }
    }
}

/// Computes the facts of every principal.
pub fn compute(principals: &[EffectivePrincipal]) -> Vec<PrincipalFacts> {
    principals
        .iter()
        .enumerate()
        .map(|(index, principal)| facts_of(index, principal))
        .collect()
}

fn facts_of(index: usize, principal: &EffectivePrincipal) -> PrincipalFacts {
    let parsed = ParsedPrincipal::parse(principal);
    let mut incomplete = parsed.errors.clone();
    incomplete.extend(
        principal
            .unresolved
            .iter()
            .map(|arn| format!("managed policy `{arn}` is not in the snapshot")),
    );
    let mut admin_sources = Vec::new();
    for (policy_index, doc) in &parsed.documents {
        let analysis = analyze(doc);
        for statement in analysis.admin_statements {
            let path = doc
                .statements
                .iter()
                .find(|s| s.index == statement)
                .map(|s| s.path())
                .unwrap_or_default();
            admin_sources.push(format!(
                "{} {path}",
                principal.policies[*policy_index].source.label()
            ));
        }
    }
    let boundary_admin = parsed.boundary.as_ref().is_none_or(|b| analyze(b).is_admin);
    let analysis = parsed.combined.as_ref().map(|combined| {
        let mut analysis = analyze(&combined.document);
        if let Some(boundary) = &parsed.boundary {
            narrow_by_boundary(&mut analysis, boundary);
        }
        analysis
    });
    let combined_admin = analysis.as_ref().is_some_and(|a| a.is_admin);
    PrincipalFacts {
        index,
        is_admin: combined_admin && boundary_admin && !admin_sources.is_empty(),
        analysis,
        admin_sources,
        incomplete,
        origins: parsed
            .combined
            .as_ref()
            .map(|c| c.origins.clone())
            .unwrap_or_default(),
    }
}

/// Keeps only what the boundary also allows on every resource (or may allow under conditions).
fn narrow_by_boundary(analysis: &mut PolicyAnalysis, boundary: &trailguard_policy::PolicyDocument) {
    let set = PolicySet {
        identity: vec![boundary],
        ..PolicySet::default()
    };
    let allowed = |action: &str| {
        let decision = evaluate(&set, &Request::new(action, "*").treat_missing_as_unknown());
        matches!(
            decision,
            trailguard_policy::eval::Decision::Allow { .. }
                | trailguard_policy::eval::Decision::Conditional { .. }
        )
    };
    let keep = |hits: &mut Vec<ActionHit>| hits.retain(|h| allowed(&h.action));
    keep(&mut analysis.resource_exposure);
    keep(&mut analysis.credentials_exposure);
    keep(&mut analysis.data_exfiltration);
    keep(&mut analysis.infrastructure_modification);
    analysis
        .privilege_escalation
        .retain(|p: &PrivescFinding| p.actions.iter().all(|h| allowed(&h.action)));
    if !analyze(boundary).is_admin {
        analysis.is_admin = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use trailguard_account::effective_principals;
    use trailguard_account::model::AuthorizationDetails;

    #[test]
    fn privesc_across_two_policies_is_seen_and_a_boundary_cuts_it() {
        let details: AuthorizationDetails = serde_json::from_value(json!({
            "UserDetailList": [
                {"UserName": "split", "Arn": "arn:aws:iam::111122223333:user/split",
                 "UserPolicyList": [
                    {"PolicyName": "pass", "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}]}},
                    {"PolicyName": "ec2", "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*"}]}}]},
                {"UserName": "bounded", "Arn": "arn:aws:iam::111122223333:user/bounded",
                 "UserPolicyList": [
                    {"PolicyName": "all", "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}}],
                 "PermissionsBoundary": {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": "arn:aws:iam::111122223333:policy/s3"}}
            ],
            "Policies": [{"Arn": "arn:aws:iam::111122223333:policy/s3", "DefaultVersionId": "v1", "PolicyVersionList": [
                {"VersionId": "v1", "IsDefaultVersion": true, "Document": {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}}]}]
        }))
        .unwrap();
        let facts = compute(&effective_principals(&details));
        let split = facts[0].analysis.as_ref().unwrap();
        assert!(
            split.has_privilege_escalation(),
            "{:?}",
            split.privilege_escalation
        );
        assert!(!facts[0].is_admin);

        assert!(!facts[1].is_admin, "the boundary allows only s3:GetObject");
        assert_eq!(facts[1].admin_sources, ["inline policy `all` Statement[0]"]);
        let bounded = facts[1].analysis.as_ref().unwrap();
        assert!(!bounded.has_privilege_escalation());
        assert!(bounded.resource_exposure.is_empty());
        assert!(bounded
            .data_exfiltration
            .iter()
            .all(|h| h.action == "s3:GetObject"));
    }
}
