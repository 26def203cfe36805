//! Granted against used, per principal: what the effective policies allow (expanded by the policy
//! engine, through groups and the permissions boundary), what the logs show each principal used, and
//! the difference, always stated with the window the logs cover ("unused in the 17 days these logs
//! cover", never "unused").
//!
//! - `+` used and granted; `-` granted but not used in the window; `?` used but not explained by the
//!   policies we see (a resource policy, an SCP-free path we cannot see, or a snapshot older than the logs).
//! - Granted: every action an Allow statement names (wildcards and `NotAction` expanded over the catalog),
//!   kept when the policy engine allows it on `*` or on a resource pattern of the principal's own Allow
//!   statements or of its boundary (a boundary on one bucket grants the bucket's actions there, not on `*`);
//!   an action with no resource-level permission only on `*`.
//! - Sensitive: the risk table's sensitive and credential-exposure actions (admin, IAM write, credentials).

use std::collections::BTreeSet;

use trailguard_policy::catalog::{ActionId, ActionSet, Catalog};
use trailguard_policy::eval::evaluate;
use trailguard_policy::risk::risk_table;
use trailguard_policy::Effect;

use crate::usage::{PrincipalUsage, Usage};
use crate::who_can::ParsedPrincipal;
use crate::{EffectivePrincipal, PrincipalKind};

/// One principal's granted, used and unused actions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalUnused {
    pub arn: String,
    pub kind: PrincipalKind,
    /// `+`: used and granted.
    pub used_granted: BTreeSet<ActionId>,
    /// `-`: granted, not used in the window.
    pub granted_unused: BTreeSet<ActionId>,
    /// `?`: used, not explained by the policies we see.
    pub used_unexplained: BTreeSet<ActionId>,
    /// The sensitive actions among `granted_unused`.
    pub sensitive_unused: BTreeSet<ActionId>,
    /// Successful calls in the window (0: the principal was not used at all).
    pub calls: u64,
}

/// Whether an action is sensitive enough to name in a finding.
pub fn is_sensitive(action: ActionId) -> bool {
    risk_table()
        .get(action.0 as usize)
        .is_some_and(|r| r.sensitive || r.credentials_exposure)
}

/// Every action the principal's policies allow on some resource.
pub fn granted_actions(parsed: &ParsedPrincipal<'_>, catalog: &Catalog) -> BTreeSet<ActionId> {
    let mut candidates = ActionSet::new();
    let mut resources: BTreeSet<&str> = BTreeSet::from(["*"]);
    for (_, document) in &parsed.documents {
        for statement in document
            .statements
            .iter()
            .filter(|s| s.effect == Effect::Allow)
        {
            let mut named = ActionSet::new();
            for pattern in &statement.action.patterns {
                catalog.expand_set(&pattern.raw, &mut named);
            }
            if statement.action.negated {
                named = named.complement(catalog.len());
            }
            candidates.union_with(&named);
            if let Some(spec) = statement.resource.as_ref().filter(|r| !r.negated) {
                resources.extend(spec.patterns.iter().map(String::as_str));
            }
        }
    }
    // A boundary narrowed to some resources grants nothing on `*`: its own patterns are candidates too.
    if let Some(boundary) = &parsed.boundary {
        for statement in boundary
            .statements
            .iter()
            .filter(|s| s.effect == Effect::Allow)
        {
            if let Some(spec) = statement.resource.as_ref().filter(|r| !r.negated) {
                resources.extend(spec.patterns.iter().map(String::as_str));
            }
        }
    }
    let set = parsed.policy_set();
    candidates
        .iter()
        .filter(|id| {
            let name = catalog.full_name(*id);
            let allowed_on = |r: &&str| evaluate(&set, &parsed.request(&name, r)).is_allowed();
            // An action with no resource-level permission is authorised on `*` alone: a statement
            // naming some ARN does not grant it (`s3:ListAllMyBuckets` under a one-bucket boundary).
            if catalog.action(*id).resource_types.is_empty() {
                allowed_on(&"*")
            } else {
                resources.iter().any(allowed_on)
            }
        })
        .collect()
}

/// Compares one principal's grants with its usage (`None`: not seen in the logs).
pub fn compare(
    principal: &EffectivePrincipal,
    usage: Option<&PrincipalUsage>,
    catalog: &Catalog,
) -> PrincipalUnused {
    let parsed = ParsedPrincipal::parse(principal);
    let granted = granted_actions(&parsed, catalog);
    let used: BTreeSet<ActionId> = usage
        .map(|u| u.allowed.keys().map(|(a, _)| *a).collect())
        .unwrap_or_default();
    let granted_unused: BTreeSet<ActionId> = granted.difference(&used).copied().collect();
    PrincipalUnused {
        arn: principal.arn.clone(),
        kind: principal.kind,
        used_granted: used.intersection(&granted).copied().collect(),
        used_unexplained: used.difference(&granted).copied().collect(),
        sensitive_unused: granted_unused
            .iter()
            .copied()
            .filter(|a| is_sensitive(*a))
            .collect(),
        granted_unused,
        calls: usage.map_or(0, |u| u.allowed.values().sum()),
    }
}

/// Every principal of the account against the usage (sessions merged per role).
pub fn compare_all(principals: &[EffectivePrincipal], usage: &Usage) -> Vec<PrincipalUnused> {
    let catalog = Catalog::get();
    principals
        .iter()
        .map(|p| {
            let merged = merged_usage(usage, &p.arn);
            compare(p, merged.as_ref(), catalog)
        })
        .collect()
}

/// A principal's usage with its sessions merged (collected with or without `per_session`).
pub fn merged_usage(usage: &Usage, arn: &str) -> Option<PrincipalUsage> {
    let mut found: Option<PrincipalUsage> = None;
    for (_, part) in usage.for_arn(arn) {
        found.get_or_insert_with(PrincipalUsage::default).add(part);
    }
    found
}
