//! The effective permission delta between two versions of a policy, exact in both directions: for
//! every action and resource, what the old document decides (denied, allowed only under conditions,
//! allowed) against what the new one decides, as [`crate::eval::evaluate`] would with every condition
//! key unknown. The changes are grouped by resource region and listed with the actions they concern,
//! followed by the risk categories of what was added (privilege escalation, exposure, admin, ...).
//!
//! How: each statement is an action set (the catalog expansion) and a resource region (`Resource`
//! patterns, the complement of `NotResource` patterns, or everything). Actions named by exactly the
//! same statements of both documents behave alike, so they are grouped; per group, a resource's
//! permission depends only on which of eight unions it falls in (unconditional/conditional Allow/Deny
//! of each document), so the changes are the cells of those unions where the two permissions differ.
//! Cells are kept as formulas over the unions ([`Region`]); [`PolicyDiff::change_at`] answers for one
//! action and resource, which is what the property test compares with the evaluator.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::analysis::{analyze_with, statement_actions, unconditionally_denied, PolicyAnalysis};
use crate::catalog::{ActionId, ActionSet, Catalog};
use crate::document::{Effect, PolicyDocument};
use crate::eval::{substitute, Request};
use crate::glob::glob_match;

/// Where a grant applies: a resource pattern (`NOT ` prefix for NotResource) and whether the
/// granting statement has a condition.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Scope {
    pub resource: String,
    pub conditional: bool,
}

/// What one document decides for one action on one resource, every condition key being unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// No Allow applies, or an unconditional Deny does.
    Denied,
    /// Allowed only if some conditions hold (or denied only if some hold).
    Conditional,
    Allowed,
}

/// The resources one statement applies to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StatementRegion {
    Everything,
    /// Resources matching one of these patterns (`Resource`).
    AnyOf(Vec<String>),
    /// Resources matching none of these patterns (`NotResource`).
    NoneOf(Vec<String>),
}

impl StatementRegion {
    pub fn contains(&self, resource: &str) -> bool {
        let hit = |patterns: &[String]| {
            patterns
                .iter()
                .any(|p| glob_match(p.as_bytes(), resource.as_bytes(), false))
        };
        match self {
            StatementRegion::Everything => true,
            StatementRegion::AnyOf(p) => hit(p),
            StatementRegion::NoneOf(p) => !hit(p),
        }
    }

    fn describe(&self) -> String {
        match self {
            StatementRegion::Everything => "*".to_owned(),
            StatementRegion::AnyOf(p) => p.join(" or "),
            StatementRegion::NoneOf(p) => format!("anything but {}", p.join(", ")),
        }
    }

    /// Whether every resource of `self` is in `other` (sound, not complete: `false` when unsure).
    fn within(&self, other: &StatementRegion) -> bool {
        match (self, other) {
            (_, StatementRegion::Everything) => true,
            (StatementRegion::AnyOf(mine), StatementRegion::AnyOf(theirs)) => mine
                .iter()
                .all(|p| theirs.iter().any(|q| pattern_within(p, q))),
            (StatementRegion::NoneOf(mine), StatementRegion::NoneOf(theirs)) => theirs
                .iter()
                .all(|q| mine.iter().any(|p| pattern_within(q, p))),
            (StatementRegion::AnyOf(mine), StatementRegion::NoneOf(theirs)) => mine
                .iter()
                .all(|p| theirs.iter().all(|q| patterns_disjoint(p, q))),
            _ => false,
        }
    }

    /// Whether `self` and `other` share no resource (sound: `false` when unsure).
    fn disjoint(&self, other: &StatementRegion) -> bool {
        match (self, other) {
            (StatementRegion::AnyOf(a), StatementRegion::AnyOf(b)) => {
                a.iter().all(|p| b.iter().all(|q| patterns_disjoint(p, q)))
            }
            (StatementRegion::AnyOf(a), StatementRegion::NoneOf(b))
            | (StatementRegion::NoneOf(b), StatementRegion::AnyOf(a)) => {
                a.iter().all(|p| b.iter().any(|q| pattern_within(p, q)))
            }
            _ => false,
        }
    }
}

/// Whether every resource matching pattern `p` also matches pattern `q` (sound: a `?` of `q` is not
/// taken to cover a `*` of `p`, nor a literal of `q` a wildcard of `p`).
fn pattern_within(p: &str, q: &str) -> bool {
    crate::glob::glob_match_by(q.as_bytes(), p.as_bytes(), |qc, pc| match qc {
        b'?' => pc != b'*',
        _ => qc == pc && pc != b'*' && pc != b'?',
    })
}

/// Whether no resource can match both patterns: their literal starts (before any wildcard) disagree.
fn patterns_disjoint(p: &str, q: &str) -> bool {
    let literal = |s: &str| s.find(['*', '?']).map_or(s.len(), |i| i);
    let (lp, lq) = (literal(p), literal(q));
    let n = lp.min(lq);
    if p.as_bytes()[..n] != q.as_bytes()[..n] {
        return true;
    }
    // Both wholly literal and different.
    lp == p.len() && lq == q.len() && p != q
}

/// A union of statement regions: a resource is in it when it is in any of them.
pub type Union = Vec<StatementRegion>;

fn union_contains(union: &Union, resource: &str) -> bool {
    union.iter().any(|r| r.contains(resource))
}

/// A set of resources: those in every union of `inside` and in no union of `outside`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Region {
    pub inside: Vec<Union>,
    pub outside: Vec<Union>,
}

impl Region {
    pub fn contains(&self, resource: &str) -> bool {
        self.inside.iter().all(|u| union_contains(u, resource))
            && !self.outside.iter().any(|u| union_contains(u, resource))
    }

    /// `*`, `arn:aws:s3:::b/*`, `arn:a or arn:b`, `* except arn:aws:s3:::b/*`, ...
    pub fn describe(&self) -> String {
        let union_text = |u: &Union| {
            let parts: Vec<String> = u.iter().map(StatementRegion::describe).collect();
            parts.join(" or ")
        };
        let mut text = if self.inside.is_empty() {
            "*".to_owned()
        } else {
            let parts: Vec<String> = self.inside.iter().map(union_text).collect();
            parts.join(" and ")
        };
        // Exceptions that cannot overlap what is inside change nothing: leave them out of the text.
        let shown: Vec<String> = self
            .outside
            .iter()
            .flatten()
            .filter(|o| !self.inside.iter().any(|u| u.iter().all(|r| r.disjoint(o))))
            .map(StatementRegion::describe)
            .collect();
        if !shown.is_empty() {
            text.push_str(" except ");
            text.push_str(&shown.join(", "));
        }
        text
    }

    /// True when no resource can be in it (sound: `false` when unsure).
    fn is_empty(&self) -> bool {
        // Something inside is wholly within something excluded.
        self.inside.iter().any(|u| {
            self.outside
                .iter()
                .any(|o| u.iter().all(|r| o.iter().any(|x| r.within(x))))
        }) || self.inside.iter().enumerate().any(|(i, u)| {
            self.inside[i + 1..]
                .iter()
                .any(|v| u.iter().all(|r| v.iter().all(|x| r.disjoint(x))))
        })
    }
}

/// Actions whose permission changed on one region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PermissionChange {
    /// The region, readable: `*`, an ARN pattern, `* except arn:...`.
    pub resource: String,
    /// The grant that was added (for `added`) or lost (for `removed`) holds only under conditions.
    pub conditional: bool,
    pub from: Permission,
    pub to: Permission,
    /// Compacted: `svc:*` when every action of a service changed, `*` for everything.
    pub actions: Vec<String>,
    pub action_count: usize,
    #[serde(skip)]
    pub region: Region,
    #[serde(skip)]
    pub ids: ActionSet,
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
    /// Changes that widen access: denied → allowed or conditional, conditional → allowed.
    pub added: Vec<PermissionChange>,
    /// Changes that narrow it.
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

    /// How `action` on `resource` changed, `(old, new)`, or `None` when both documents decide alike.
    pub fn change_at(&self, action: &str, resource: &str) -> Option<(Permission, Permission)> {
        let id = Catalog::get().lookup(action)?;
        self.added
            .iter()
            .chain(&self.removed)
            .find(|c| c.ids.contains(id) && c.region.contains(resource))
            .map(|c| (c.from, c.to))
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
        let resources: Vec<String> = match &s.resource {
            None => vec!["*".to_owned()],
            Some(r) if r.negated => vec![format!("NOT {}", r.patterns.join(", NOT "))],
            Some(r) => r.patterns.clone(),
        };
        for resource in resources {
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

/// The four kinds of statement, by how they weigh in the decision.
const DENY_ALWAYS: usize = 0;
const DENY_MAYBE: usize = 1;
const ALLOW_ALWAYS: usize = 2;
const ALLOW_MAYBE: usize = 3;

/// One statement as the diff sees it.
struct Compiled {
    kind: usize,
    actions: ActionSet,
    region: StatementRegion,
}

fn compile(catalog: &Catalog, doc: &PolicyDocument) -> Vec<Compiled> {
    // Variables are resolved as the evaluator does for a request with no context.
    let no_context = Request::default();
    doc.statements
        .iter()
        // With no caller, a `Principal` other than `*` never applies (and a `NotPrincipal` other than
        // `*` always does), as in the evaluator.
        .filter(|s| s.principal.as_ref().is_none_or(|p| p.any != p.negated))
        .map(|s| {
            let conditional = s.has_conditions();
            let kind = match (s.effect, conditional) {
                (Effect::Deny, false) => DENY_ALWAYS,
                (Effect::Deny, true) => DENY_MAYBE,
                (Effect::Allow, false) => ALLOW_ALWAYS,
                (Effect::Allow, true) => ALLOW_MAYBE,
            };
            let patterns = |r: &crate::document::ResourceSpec| -> Vec<String> {
                let mut p: Vec<String> = r
                    .patterns
                    .iter()
                    .map(|p| substitute(p, &no_context).into_owned())
                    .collect();
                p.sort();
                p.dedup();
                p
            };
            let region = match &s.resource {
                None => StatementRegion::Everything,
                Some(r) if r.negated && r.patterns.is_empty() => StatementRegion::Everything,
                Some(r) if !r.negated && r.patterns.iter().any(|p| p == "*") => {
                    StatementRegion::Everything
                }
                Some(r) if r.negated => StatementRegion::NoneOf(patterns(r)),
                Some(r) => StatementRegion::AnyOf(patterns(r)),
            };
            Compiled {
                kind,
                actions: statement_actions(catalog, s),
                region,
            }
        })
        // `"Resource": []` applies to nothing.
        .filter(|c| c.region != StatementRegion::AnyOf(Vec::new()))
        .collect()
}

fn decide(present: [bool; 4]) -> Permission {
    if present[DENY_ALWAYS] {
        Permission::Denied
    } else if present[ALLOW_ALWAYS] && !present[DENY_MAYBE] {
        Permission::Allowed
    } else if present[ALLOW_ALWAYS] || present[ALLOW_MAYBE] {
        Permission::Conditional
    } else {
        Permission::Denied
    }
}

/// Every change between the two compiled documents: `(from, to, region, actions)`.
fn changes_between(
    catalog: &Catalog,
    old: &[Compiled],
    new: &[Compiled],
) -> Vec<(Permission, Permission, Region, ActionSet)> {
    // Group actions by the exact set of statements (of both documents) that name them.
    let all: Vec<&Compiled> = old.iter().chain(new).collect();
    let mut signature: Vec<(u64, u64)> = vec![(0, 0); catalog.len()];
    for (i, c) in all.iter().enumerate() {
        let i = i as u64 + 1;
        for id in c.actions.iter() {
            if let Some(sig) = signature.get_mut(id.0 as usize) {
                sig.0 = (sig.0.rotate_left(17) ^ i).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                sig.1 = (sig.1.rotate_left(31) ^ i.wrapping_mul(0xc2b2_ae3d_27d4_eb4f))
                    .wrapping_mul(0x1656_67b1_9e37_79f9);
            }
        }
    }
    let mut groups: BTreeMap<(u64, u64), ActionSet> = BTreeMap::new();
    for (i, sig) in signature.iter().enumerate() {
        if *sig != (0, 0) {
            groups.entry(*sig).or_default().insert(ActionId(i as u32));
        }
    }
    let mut out: BTreeMap<(Permission, Permission, Region), ActionSet> = BTreeMap::new();
    for actions in groups.into_values() {
        let Some(sample) = actions.iter().next() else {
            continue;
        };
        // The eight unions: per document, per kind, the regions of the statements naming these actions.
        let mut unions: [[Union; 4]; 2] = Default::default();
        for (d, doc) in [old, new].into_iter().enumerate() {
            for c in doc.iter().filter(|c| c.actions.contains(sample)) {
                if !unions[d][c.kind].contains(&c.region) {
                    unions[d][c.kind].push(c.region.clone());
                }
            }
        }
        // Each union is empty (never in), everything (always in) or either.
        let mut free: Vec<(usize, usize)> = Vec::new();
        let mut fixed = [[false; 4]; 2];
        for d in 0..2 {
            for k in 0..4 {
                let u = &unions[d][k];
                if u.is_empty() {
                    continue;
                }
                if u.contains(&StatementRegion::Everything) {
                    fixed[d][k] = true;
                } else {
                    free.push((d, k));
                }
            }
        }
        for cell in 0u32..(1 << free.len()) {
            let mut present = fixed;
            let mut region = Region::default();
            for (bit, &(d, k)) in free.iter().enumerate() {
                let inside = cell & (1 << bit) != 0;
                present[d][k] = inside;
                if inside {
                    region.inside.push(unions[d][k].clone());
                } else {
                    region.outside.push(unions[d][k].clone());
                }
            }
            let (from, to) = (decide(present[0]), decide(present[1]));
            if from == to || region.is_empty() {
                continue;
            }
            region.inside.sort();
            region.inside.dedup();
            region.outside.sort();
            region.outside.dedup();
            out.entry((from, to, region))
                .or_default()
                .union_with(&actions);
        }
    }
    out.into_iter()
        .map(|((from, to, region), ids)| (from, to, region, ids))
        .collect()
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
    let mut added = Vec::new();
    let mut removed = Vec::new();
    let mut added_all = ActionSet::new();
    let mut removed_all = ActionSet::new();
    for (from, to, region, ids) in
        changes_between(catalog, &compile(catalog, old), &compile(catalog, new))
    {
        let widens = to > from;
        let conditional = if widens {
            to == Permission::Conditional
        } else {
            from == Permission::Conditional
        };
        let list: BTreeSet<ActionId> = ids.iter().collect();
        let change = PermissionChange {
            resource: region.describe(),
            conditional,
            from,
            to,
            action_count: list.len(),
            actions: compact_actions(catalog, &list),
            region,
            ids: ids.clone(),
        };
        if widens {
            added_all.union_with(&ids);
            added.push(change);
        } else {
            removed_all.union_with(&ids);
            removed.push(change);
        }
    }
    // Broadest first, so the text report leads with what matters.
    added.sort_by(|a, b| {
        b.action_count
            .cmp(&a.action_count)
            .then(a.resource.cmp(&b.resource))
    });
    removed.sort_by(|a, b| {
        b.action_count
            .cmp(&a.action_count)
            .then(a.resource.cmp(&b.resource))
    });
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
