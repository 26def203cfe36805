//! The effective permission delta between two versions of a policy: actions (expanded through the
//! catalog) newly allowed or no longer allowed, grouped per resource pattern, and the risk
//! categories of what was added (privilege escalation, exposure, admin, ...).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::analysis::{analyze_with, statement_actions, unconditionally_denied, PolicyAnalysis};
use crate::catalog::{ActionId, Catalog};
use crate::document::{Effect, PolicyDocument};

/// Where a grant applies: a resource pattern (`NOT ` prefix for NotResource) and whether the
/// granting statement has a condition.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Scope {
    pub resource: String,
    pub conditional: bool,
}

/// Actions gained or lost on one scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PermissionChange {
    pub resource: String,
    pub conditional: bool,
    /// Compacted: `svc:*` when every action of a service changed, `*` for everything.
    pub actions: Vec<String>,
    pub action_count: usize,
}

/// What the new version adds in risk terms, compared with the old one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RiskDelta {
    pub became_admin: bool,
    /// Names of privilege-escalation methods newly enabled.
    pub privilege_escalation: Vec<String>,
    pub resource_exposure: Vec<String>,
    pub credentials_exposure: Vec<String>,
    pub data_exfiltration: Vec<String>,
    pub infrastructure_modification: usize,
    pub sensitive_wildcards: Vec<String>,
    pub passrole_star: bool,
    pub allow_not_action: bool,
}

impl RiskDelta {
    pub fn is_empty(&self) -> bool {
        *self == RiskDelta::default()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PolicyDiff {
    pub added: Vec<PermissionChange>,
    pub removed: Vec<PermissionChange>,
    pub added_action_count: usize,
    pub removed_action_count: usize,
    pub lost_admin: bool,
    pub new_risks: RiskDelta,
}

impl PolicyDiff {
    /// No effective change.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// Effective grants: scope -> actions.
pub fn effective_grants(
    catalog: &Catalog,
    doc: &PolicyDocument,
) -> BTreeMap<Scope, BTreeSet<ActionId>> {
    let denied = unconditionally_denied(catalog, doc);
    let mut out: BTreeMap<Scope, BTreeSet<ActionId>> = BTreeMap::new();
    for s in &doc.statements {
        if s.effect != Effect::Allow {
            continue;
        }
        let mut actions = statement_actions(catalog, s);
        actions.difference_with(&denied);
        // A Deny on exactly the same resource pattern, unconditional, also removes the grant.
        let resources: Vec<String> = match &s.resource {
            None => vec!["*".to_owned()],
            Some(r) if r.negated => vec![format!("NOT {}", r.patterns.join(", NOT "))],
            Some(r) => r.patterns.clone(),
        };
        for resource in resources {
            let mut actions = actions.clone();
            for d in &doc.statements {
                if d.effect == Effect::Deny
                    && !d.has_conditions()
                    && d.resource
                        .as_ref()
                        .is_some_and(|r| !r.negated && r.patterns.contains(&resource))
                {
                    actions.difference_with(&statement_actions(catalog, d));
                }
            }
            if actions.is_empty() {
                continue;
            }
            let scope = Scope {
                resource,
                conditional: s.has_conditions(),
            };
            out.entry(scope).or_default().extend(actions.iter());
        }
    }
    out
}

/// Turns a list of actions into readable patterns: whole services become `svc:*`.
pub fn compact_actions(catalog: &Catalog, actions: &BTreeSet<ActionId>) -> Vec<String> {
    if actions.len() == catalog.len() && !actions.is_empty() {
        return vec!["*".to_owned()];
    }
    let mut per_service: BTreeMap<u16, Vec<ActionId>> = BTreeMap::new();
    for id in actions {
        per_service
            .entry(catalog.action(*id).service)
            .or_default()
            .push(*id);
    }
    let mut out = Vec::new();
    for (service, ids) in per_service {
        let svc = &catalog.services[service as usize];
        if ids.len() == svc.count as usize && svc.count > 1 {
            out.push(format!("{}:*", svc.prefix));
        } else {
            out.extend(ids.iter().map(|id| catalog.full_name(*id)));
        }
    }
    out
}

fn changes(
    catalog: &Catalog,
    from: &BTreeMap<Scope, BTreeSet<ActionId>>,
    to: &BTreeMap<Scope, BTreeSet<ActionId>>,
) -> (Vec<PermissionChange>, BTreeSet<ActionId>) {
    let mut out = Vec::new();
    let mut all = BTreeSet::new();
    let empty = BTreeSet::new();
    for (scope, actions) in to {
        let before = from.get(scope).unwrap_or(&empty);
        let delta: BTreeSet<ActionId> = actions.difference(before).copied().collect();
        if delta.is_empty() {
            continue;
        }
        all.extend(delta.iter().copied());
        out.push(PermissionChange {
            resource: scope.resource.clone(),
            conditional: scope.conditional,
            action_count: delta.len(),
            actions: compact_actions(catalog, &delta),
        });
    }
    (out, all)
}

fn names_added(
    old: &[crate::analysis::ActionHit],
    new: &[crate::analysis::ActionHit],
) -> Vec<String> {
    let before: BTreeSet<&str> = old.iter().map(|h| h.action.as_str()).collect();
    let mut out: Vec<String> = new
        .iter()
        .filter(|h| !before.contains(h.action.as_str()))
        .map(|h| h.action.clone())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Risk categories present in `new` and absent from `old`.
pub fn risk_delta(old: &PolicyAnalysis, new: &PolicyAnalysis) -> RiskDelta {
    let old_methods: BTreeSet<&str> = old
        .privilege_escalation
        .iter()
        .map(|p| p.method.id)
        .collect();
    let old_wild: BTreeSet<&str> = old
        .service_wildcards
        .iter()
        .filter(|w| w.sensitive)
        .map(|w| w.service.as_str())
        .collect();
    let mut sensitive_wildcards: Vec<String> = new
        .service_wildcards
        .iter()
        .filter(|w| w.sensitive && !old_wild.contains(w.service.as_str()))
        .map(|w| format!("{}:*", w.service))
        .collect();
    sensitive_wildcards.sort();
    sensitive_wildcards.dedup();
    let old_infra: BTreeSet<&str> = old
        .infrastructure_modification
        .iter()
        .map(|h| h.action.as_str())
        .collect();
    RiskDelta {
        became_admin: new.is_admin && !old.is_admin,
        privilege_escalation: new
            .privilege_escalation
            .iter()
            .filter(|p| !old_methods.contains(p.method.id))
            .map(|p| p.method.name.to_owned())
            .collect(),
        resource_exposure: names_added(&old.resource_exposure, &new.resource_exposure),
        credentials_exposure: names_added(&old.credentials_exposure, &new.credentials_exposure),
        data_exfiltration: names_added(&old.data_exfiltration, &new.data_exfiltration),
        infrastructure_modification: new
            .infrastructure_modification
            .iter()
            .filter(|h| !old_infra.contains(h.action.as_str()))
            .count(),
        sensitive_wildcards,
        passrole_star: !new.passrole_star.is_empty() && old.passrole_star.is_empty(),
        allow_not_action: !new.allow_not_action.is_empty() && old.allow_not_action.is_empty(),
    }
}

/// The effective permission delta from `old` to `new`.
pub fn diff(old: &PolicyDocument, new: &PolicyDocument) -> PolicyDiff {
    let catalog = Catalog::get();
    let before = effective_grants(catalog, old);
    let after = effective_grants(catalog, new);
    let (added, added_all) = changes(catalog, &before, &after);
    let (removed, removed_all) = changes(catalog, &after, &before);
    let old_analysis = analyze_with(catalog, old);
    let new_analysis = analyze_with(catalog, new);
    PolicyDiff {
        added,
        removed,
        added_action_count: added_all.len(),
        removed_action_count: removed_all.len(),
        lost_admin: old_analysis.is_admin && !new_analysis.is_admin,
        new_risks: risk_delta(&old_analysis, &new_analysis),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> PolicyDocument {
        PolicyDocument::parse(text).unwrap()
    }

    #[test]
    fn reports_added_and_removed_per_resource() {
        let old = doc(
            r#"{"Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::b/*"}]}"#,
        );
        let new = doc(
            r#"{"Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":"arn:aws:s3:::b/*"},
            {"Effect":"Allow","Action":["iam:CreatePolicyVersion","iam:PassRole"],"Resource":"*"}]}"#,
        );
        let d = diff(&old, &new);
        assert_eq!(d.added.len(), 1);
        assert_eq!(d.added[0].resource, "*");
        assert_eq!(
            d.added[0].actions,
            vec!["iam:CreatePolicyVersion", "iam:PassRole"]
        );
        assert_eq!(d.removed.len(), 1);
        assert_eq!(d.removed[0].actions, vec!["s3:PutObject"]);
        assert!(d
            .new_risks
            .privilege_escalation
            .contains(&"CreateNewPolicyVersion".to_owned()));
        assert!(d.new_risks.passrole_star);
        assert!(!d.new_risks.became_admin);
    }

    #[test]
    fn admin_gain_is_compacted() {
        let old = doc(
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}]}"#,
        );
        let new = doc(r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#);
        let d = diff(&old, &new);
        assert!(d.new_risks.became_admin);
        assert!(d.added[0].actions.contains(&"iam:*".to_owned()));
        assert!(
            !d.added[0].actions.contains(&"s3:*".to_owned()),
            "s3:ListAllMyBuckets was already there"
        );
        let from_nothing = diff(&doc(r#"{"Statement":[]}"#), &new);
        assert_eq!(from_nothing.added[0].actions, vec!["*"]);
        assert_eq!(d.added_action_count, Catalog::get().len() - 1);
        let back = diff(&new, &old);
        assert!(back.lost_admin && back.new_risks.is_empty());
        assert!(diff(&old, &old).is_empty());
    }

    #[test]
    fn wildcard_and_explicit_lists_are_equal() {
        let a = doc(r#"{"Statement":[{"Effect":"Allow","Action":"iam:Get*","Resource":"*"}]}"#);
        let catalog = Catalog::get();
        let names: Vec<String> = catalog
            .expand("iam:Get*")
            .into_iter()
            .map(|id| catalog.full_name(id))
            .collect();
        let b = doc(
            &serde_json::json!({"Statement":[{"Effect":"Allow","Action":names,"Resource":"*"}]})
                .to_string(),
        );
        assert!(diff(&a, &b).is_empty());
    }

    #[test]
    fn deny_is_taken_into_account() {
        let old = doc(r#"{"Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}"#);
        let new = doc(
            r#"{"Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"},{"Effect":"Deny","Action":"iam:Create*","Resource":"*"}]}"#,
        );
        let d = diff(&old, &new);
        assert!(d.added.is_empty());
        assert_eq!(
            d.removed_action_count,
            Catalog::get().expand("iam:Create*").len()
        );
    }
}
