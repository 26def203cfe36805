//! Deriving a node's edges: "may principal P do action A on resource R" questions to the policy
//! engine, grouped as the escalation catalog groups them.

use std::collections::{BTreeSet, HashMap};

use trailguard_policy::document::PrincipalKind as SpecKind;
use trailguard_policy::eval::{evaluate, Decision, Layer, PolicySet, Request};
use trailguard_policy::glob::glob_match;
use trailguard_policy::{Effect, PolicyDocument};

use super::catalog::{ADMIN_PROBES, MINT_ACTIONS, PASS_ROLE_PATHS};
use super::{Certainty, Edge, EdgeKind, Grant, Graph, Node, NodeId, NodeKind, To};
use crate::principals::PrincipalKind;
use crate::who_can::principal_request;

/// The policy an attacker attaches when an attach action is allowed: it exists in every account.
pub(crate) const ADMIN_POLICY_ARN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

/// Every action [`modifications`] uses: a subject allowed none of them modifies nobody.
const MODIFY_ACTIONS: &[&str] = &[
    "iam:PutUserPolicy",
    "iam:AttachUserPolicy",
    "iam:PutRolePolicy",
    "iam:AttachRolePolicy",
    "iam:PutGroupPolicy",
    "iam:AttachGroupPolicy",
    "iam:CreatePolicyVersion",
    "iam:SetDefaultPolicyVersion",
];

/// Which roles each trust policy opens, so assume edges are found without trying every pair.
#[derive(Debug, Clone, Default)]
pub(crate) struct TrustIndex {
    /// Principal ARN named in a trust policy → roles.
    explicit: HashMap<String, BTreeSet<NodeId>>,
    /// Roles whose trust names an account (root or id) or `*`: any principal with an identity
    /// grant may assume them.
    account_wide: BTreeSet<NodeId>,
    /// Service principal → roles trusting it.
    services: HashMap<String, BTreeSet<NodeId>>,
    /// What each role was filed under, to unfile it when its trust changes.
    filed: HashMap<NodeId, (Vec<String>, Vec<String>)>,
}

impl TrustIndex {
    pub(crate) fn update(&mut self, id: NodeId, node: &Node) {
        if let Some((explicit, services)) = self.filed.remove(&id) {
            for arn in explicit {
                if let Some(set) = self.explicit.get_mut(&arn) {
                    set.remove(&id);
                }
            }
            for service in services {
                if let Some(set) = self.services.get_mut(&service) {
                    set.remove(&id);
                }
            }
        }
        self.account_wide.remove(&id);
        let Some(trust) = node.trust.as_ref().filter(|_| !node.deleted) else {
            return;
        };
        let mut explicit = Vec::new();
        let mut services = Vec::new();
        for statement in &trust.statements {
            if statement.effect != Effect::Allow {
                continue;
            }
            let Some(principal) = statement.principal.as_ref().filter(|p| !p.negated) else {
                continue;
            };
            if principal.any {
                self.account_wide.insert(id);
            }
            for (kind, _, values) in &principal.entries {
                for value in values {
                    match kind {
                        SpecKind::Aws
                            if value == "*" || value.ends_with(":root") || !value.contains(':') =>
                        {
                            self.account_wide.insert(id);
                        }
                        SpecKind::Aws => explicit.push(value.clone()),
                        SpecKind::Service => services.push(value.to_ascii_lowercase()),
                        _ => {}
                    }
                }
            }
        }
        for arn in &explicit {
            self.explicit.entry(arn.clone()).or_default().insert(id);
        }
        for service in &services {
            self.services.entry(service.clone()).or_default().insert(id);
        }
        self.filed.insert(id, (explicit, services));
    }

    /// Nodes that may be able to assume `role` under its current trust.
    pub(crate) fn may_assume(&self, role: NodeId, graph: &Graph) -> Vec<NodeId> {
        let mut out: Vec<NodeId> = Vec::new();
        if let Some((explicit, _)) = self.filed.get(&role) {
            out.extend(explicit.iter().filter_map(|arn| graph.node_by_arn(arn)));
        }
        if self.account_wide.contains(&role) {
            out.extend((0..graph.nodes.len()).filter(|&n| {
                n != role && Subject::new(&graph.nodes[n], graph).may("sts:AssumeRole")
            }));
        }
        out
    }
}

/// One node's policies, ready for requests.
struct Subject<'g> {
    node: &'g Node,
    /// Identity policies, boundary and SCPs: built once, asked many times.
    set: PolicySet<'g>,
}

impl<'g> Subject<'g> {
    fn new(node: &'g Node, graph: &'g Graph) -> Subject<'g> {
        Subject::with_scps(node, &graph.scps)
    }

    fn with_scps(node: &'g Node, scps: &'g [Vec<std::sync::Arc<PolicyDocument>>]) -> Subject<'g> {
        Subject {
            node,
            set: PolicySet {
                identity: node.documents.iter().map(|(_, d)| &**d).collect(),
                resource: Vec::new(),
                boundary: node.boundary.as_deref(),
                scps: scps
                    .iter()
                    .map(|level| level.iter().map(|d| &**d).collect())
                    .collect(),
            },
        }
    }

    fn request(&self, action: &str, resource: &str) -> Request {
        let n = self.node;
        match n.kind {
            NodeKind::User => {
                principal_request(PrincipalKind::User, &n.name, &n.arn, action, resource)
            }
            NodeKind::Role => {
                principal_request(PrincipalKind::Role, &n.name, &n.arn, action, resource)
            }
            // A group is not a caller; its members are, whoever they are.
            NodeKind::Group => {
                let mut request = Request::new(action, resource).treat_missing_as_unknown();
                if let Some(account) = crate::snapshot::account_of_arn(&n.arn) {
                    request = request.with("aws:PrincipalAccount", &[account]);
                }
                request
            }
        }
    }

    /// A request for `action` with extra context, to be pointed at one resource after another.
    fn prepared(&self, action: &str, context: &[(&str, &str)]) -> Request {
        let mut request = self.request(action, "*");
        for (key, value) in context {
            request = request.with(key, &[value]);
        }
        request
    }

    /// The resources the subject's Allow statements for `action` may cover. With no resource policy
    /// in the request, the engine allows (even conditionally) only where one of them matches, so
    /// targets outside the scope need no request: a filter, never a decision.
    fn scope(&self, action: &str) -> Scope<'g> {
        let mut scope = Scope {
            everywhere: false,
            patterns: Vec::new(),
        };
        let allows = self
            .set
            .identity
            .iter()
            .flat_map(|doc| doc.statements.iter())
            .filter(|s| s.effect == Effect::Allow && statement_names(s, action));
        for statement in allows {
            match statement.resource.as_ref().filter(|r| !r.negated) {
                // No `Resource`, or a `NotResource`: anything may match.
                None => scope.everywhere = true,
                Some(r) => {
                    for pattern in &r.patterns {
                        // A policy variable is substituted per request: assume it may match.
                        if pattern.contains("${") {
                            scope.everywhere = true;
                        } else {
                            scope.patterns.push(pattern.as_str());
                        }
                    }
                }
            }
            if scope.everywhere {
                scope.patterns.clear();
                break;
            }
        }
        scope
    }

    /// Whether some Allow statement names the action at all: a cheap filter before real requests.
    fn may(&self, action: &str) -> bool {
        self.set.identity.iter().any(|doc| {
            doc.statements.iter().any(|s| {
                s.effect == Effect::Allow && {
                    let hit = s.action.patterns.iter().any(|p| {
                        p.is_everything()
                            || glob_match(p.raw.trim().as_bytes(), action.as_bytes(), true)
                    });
                    hit != s.action.negated
                }
            })
        })
    }

    fn set_with<'a>(&'a self, resource: &'a PolicyDocument) -> PolicySet<'a> {
        PolicySet {
            resource: vec![resource],
            ..self.set.clone()
        }
    }

    /// The grant for a prepared request on `resource`, if the engine allows it.
    fn allow_on(&self, request: &mut Request, resource: &str) -> Option<Grant> {
        request.resource.clear();
        request.resource.push_str(resource);
        let decision = evaluate(&self.set, request);
        self.grant(&request.action, resource, &decision, None)
    }

    /// Whether the decision on `action` cannot depend on the resource: every statement of every
    /// layer that names the action applies to any resource (`Resource: "*"` or none). Then one
    /// request stands for all targets.
    fn resource_blind(&self, action: &str) -> bool {
        let every = |s: &trailguard_policy::document::Statement| match &s.resource {
            None => true,
            Some(r) => {
                !r.negated
                    && r.patterns
                        .iter()
                        .all(|p| !p.is_empty() && p.bytes().all(|b| b == b'*'))
            }
        };
        self.set
            .identity
            .iter()
            .copied()
            .chain(self.set.boundary)
            .chain(self.set.scps.iter().flatten().copied())
            .flat_map(|doc| doc.statements.iter())
            .filter(|s| statement_names(s, action))
            .all(every)
    }

    /// [`Subject::allow_on`] for each target: one request when the decision cannot depend on the
    /// resource (a grant on `*` decided once, not per role or user), else one per target.
    fn allow_on_each(
        &self,
        request: &mut Request,
        targets: &[(NodeId, &str)],
    ) -> Vec<(NodeId, Grant)> {
        if targets.len() > 1 && self.resource_blind(&request.action) {
            let Some(first) = self.allow_on(request, targets[0].1) else {
                return Vec::new();
            };
            return targets
                .iter()
                .map(|&(id, arn)| {
                    let mut grant = first.clone();
                    grant.resource.clear();
                    grant.resource.push_str(arn);
                    (id, grant)
                })
                .collect();
        }
        targets
            .iter()
            .filter_map(|&(id, arn)| Some((id, self.allow_on(request, arn)?)))
            .collect()
    }

    /// The grant for `action` on `resource`, if the engine allows it (certainly or conditionally).
    fn allow(&self, action: &str, resource: &str, context: &[(&str, &str)]) -> Option<Grant> {
        self.allow_on(&mut self.prepared(action, context), resource)
    }

    /// Like [`Subject::allow`] on any resource: `*` first, then each pattern the node's own Allow
    /// statements name (a grant on `arn:aws:lambda:*:*:function:x` counts).
    fn allow_somewhere(&self, action: &str) -> Option<Grant> {
        let mut conditional = None;
        let patterns = std::iter::once("*".to_owned()).chain(
            self.set
                .identity
                .iter()
                .flat_map(|d| d.statements.iter())
                .filter(|s| s.effect == Effect::Allow)
                .filter_map(|s| s.resource.as_ref().filter(|r| !r.negated))
                .flat_map(|r| r.patterns.iter().cloned()),
        );
        for resource in patterns {
            match self.allow(action, &resource, &[]) {
                Some(g) if g.conditions.is_empty() => return Some(g),
                Some(g) => {
                    conditional.get_or_insert(g);
                }
                None => {}
            }
        }
        conditional
    }

    fn grant(
        &self,
        action: &str,
        resource: &str,
        decision: &Decision,
        resource_label: Option<&str>,
    ) -> Option<Grant> {
        let (statement, conditions) = match decision {
            Decision::Allow { by } => {
                let label = match by.layer {
                    Layer::Identity => self.node.documents.get(by.policy).map(|(label, doc)| {
                        let path = doc
                            .statements
                            .iter()
                            .find(|s| s.index == by.statement)
                            .map(|s| s.path())
                            .unwrap_or_default();
                        format!("{label} {path}")
                    }),
                    Layer::Resource => {
                        resource_label.map(|l| format!("{l} Statement[{}]", by.statement))
                    }
                    _ => None,
                };
                (label, Vec::new())
            }
            Decision::Conditional { conditions, .. } => (None, conditions.clone()),
            _ => return None,
        };
        Some(Grant {
            action: action.to_owned(),
            resource: resource.to_owned(),
            statement,
            conditions,
        })
    }
}

/// Whether a statement's `Action` (or `NotAction`) covers `action`, as the engine decides it.
fn statement_names(statement: &trailguard_policy::document::Statement, action: &str) -> bool {
    let hit =
        statement.action.patterns.iter().any(|p| {
            p.is_everything() || glob_match(p.raw.trim().as_bytes(), action.as_bytes(), true)
        });
    hit != statement.action.negated
}

/// Where a subject's grants of one action may apply ([`Subject::scope`]).
struct Scope<'g> {
    everywhere: bool,
    /// Resource patterns (empty with `everywhere`).
    patterns: Vec<&'g str>,
}

impl Scope<'_> {
    fn admits(&self, arn: &str) -> bool {
        self.everywhere
            || self
                .patterns
                .iter()
                .any(|p| glob_match(p.as_bytes(), arn.as_bytes(), false))
    }

    /// The nodes of `pool` (sorted ids) the scope may cover, other than `except`. Patterns without
    /// wildcards are looked up by ARN instead of matched against every node.
    fn pick<'a>(
        &self,
        graph: &'a Graph,
        pool: &[NodeId],
        except: NodeId,
    ) -> Vec<(NodeId, &'a str)> {
        let exact = !self.everywhere && self.patterns.iter().all(|p| !p.contains(['*', '?']));
        let mut out: Vec<NodeId> = if exact {
            let mut ids: Vec<NodeId> = self
                .patterns
                .iter()
                .filter_map(|p| graph.node_by_arn(p))
                .filter(|id| pool.binary_search(id).is_ok())
                .collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        } else {
            pool.iter()
                .copied()
                .filter(|&n| self.admits(&graph.nodes[n].arn))
                .collect()
        };
        out.retain(|&n| n != except);
        out.into_iter()
            .map(|n| (n, graph.nodes[n].arn.as_str()))
            .collect()
    }
}

/// Whether some statement of the node names an action that changes permissions.
pub(crate) fn may_modify(node: &Node, scps: &[Vec<std::sync::Arc<PolicyDocument>>]) -> bool {
    let subject = Subject::with_scps(node, scps);
    MODIFY_ACTIONS.iter().any(|a| subject.may(a))
}

/// Whether some statement of the node names an action that could give it an edge into a new node
/// of `kind` (credentials for a user, joining a group; assuming, passing or re-trusting a role).
pub(crate) fn may_point_at(
    node: &Node,
    kind: NodeKind,
    scps: &[Vec<std::sync::Arc<PolicyDocument>>],
) -> bool {
    let subject = Subject::with_scps(node, scps);
    match kind {
        NodeKind::User => MINT_ACTIONS.iter().any(|a| subject.may(a)),
        NodeKind::Group => node.kind == NodeKind::User && subject.may("iam:AddUserToGroup"),
        NodeKind::Role => [
            "sts:AssumeRole",
            "iam:PassRole",
            "iam:UpdateAssumeRolePolicy",
        ]
        .iter()
        .any(|a| subject.may(a)),
    }
}

/// Whether a node's own policies (and boundary, and SCPs) make it admin.
pub(crate) fn is_admin(
    node: &Node,
    scps: &[Vec<std::sync::Arc<PolicyDocument>>],
) -> Option<Certainty> {
    let subject = Subject::with_scps(node, scps);
    probe(|action| evaluate(&subject.set, &subject.request(action, "*")))
}

/// The conditions a node's own admin grant hangs on (empty when it is not conditionally admin).
pub(crate) fn admin_conditions(
    node: &Node,
    scps: &[Vec<std::sync::Arc<PolicyDocument>>],
) -> Vec<String> {
    let subject = Subject::with_scps(node, scps);
    let mut out: Vec<String> = Vec::new();
    for action in ADMIN_PROBES {
        if let Decision::Conditional { conditions, .. } =
            evaluate(&subject.set, &subject.request(action, "*"))
        {
            for c in conditions {
                if !out.contains(&c) {
                    out.push(c);
                }
            }
        }
    }
    out
}

/// Whether a document alone grants admin.
pub(crate) fn document_is_admin(doc: &PolicyDocument) -> Option<Certainty> {
    let set = PolicySet {
        identity: vec![doc],
        ..PolicySet::default()
    };
    probe(|action| evaluate(&set, &Request::new(action, "*").treat_missing_as_unknown()))
}

fn probe(decide: impl Fn(&str) -> Decision) -> Option<Certainty> {
    let mut certainty = Certainty::Certain;
    for action in ADMIN_PROBES {
        match decide(action) {
            Decision::Allow { .. } => {}
            Decision::Conditional { .. } => certainty = Certainty::Conditional,
            _ => return None,
        }
    }
    Some(certainty)
}

/// Whether a principal given any policy would be admin: its boundary does not stand in the way.
fn admits_admin(node: &Node) -> bool {
    node.boundary
        .as_deref()
        .is_none_or(|b| document_is_admin(b).is_some())
}

/// The writes that would give `target` any permission: (action, resource, policy, extra context).
fn modifications(graph: &Graph, target: NodeId) -> Vec<(&'static str, String, Option<String>)> {
    let node = &graph.nodes[target];
    let mut out = Vec::new();
    let (put, attach) = match node.kind {
        NodeKind::User => ("iam:PutUserPolicy", "iam:AttachUserPolicy"),
        NodeKind::Role => ("iam:PutRolePolicy", "iam:AttachRolePolicy"),
        NodeKind::Group => ("iam:PutGroupPolicy", "iam:AttachGroupPolicy"),
    };
    out.push((put, node.arn.clone(), None));
    out.push((attach, node.arn.clone(), None));
    for &g in &node.groups {
        let group = &graph.nodes[g];
        out.push(("iam:PutGroupPolicy", group.arn.clone(), None));
        out.push(("iam:AttachGroupPolicy", group.arn.clone(), None));
    }
    for arn in &node.attached {
        out.push(("iam:CreatePolicyVersion", arn.clone(), Some(arn.clone())));
        if graph
            .managed
            .get(arn)
            .is_some_and(|m| m.admin_version.is_some())
        {
            out.push((
                "iam:SetDefaultPolicyVersion",
                arn.clone(),
                Some(arn.clone()),
            ));
        }
    }
    out
}

/// The first modification of `target` the subject may make, certain ones preferred.
fn modify_edge(
    graph: &Graph,
    subject: &Subject<'_>,
    target: NodeId,
    via: &[Grant],
) -> Option<Edge> {
    if !MODIFY_ACTIONS.iter().any(|a| subject.may(a)) || !admits_admin(&graph.nodes[target]) {
        return None;
    }
    let mut best: Option<Edge> = None;
    for (action, resource, policy) in modifications(graph, target) {
        if !subject.may(action) {
            continue;
        }
        let context: &[(&str, &str)] = if action.starts_with("iam:Attach") {
            &[("iam:PolicyARN", ADMIN_POLICY_ARN)]
        } else {
            &[]
        };
        let Some(grant) = subject.allow(action, &resource, context) else {
            continue;
        };
        let mut grants = vec![grant];
        grants.extend(via.iter().cloned());
        let edge = Edge::new(
            subject_id(graph, subject),
            To::Admin,
            EdgeKind::ModifyPermissions {
                action,
                target: graph.nodes[target].arn.clone(),
                policy,
            },
            grants,
        );
        let certain = edge.certainty == Certainty::Certain;
        if best.as_ref().is_none_or(|b| b.certainty > edge.certainty) {
            best = Some(edge);
        }
        if certain {
            break;
        }
    }
    best
}

fn subject_id(graph: &Graph, subject: &Subject<'_>) -> NodeId {
    graph.node_by_arn(&subject.node.arn).unwrap_or_default()
}

/// Keeps the better of two edges to the same place: certain first, then fewer grants.
fn keep_best(slot: &mut Option<Edge>, edge: Edge) {
    let better = slot
        .as_ref()
        .is_none_or(|old| (edge.certainty, edge.grants.len()) < (old.certainty, old.grants.len()));
    if better {
        *slot = Some(edge);
    }
}

/// Every edge out of node `p`.
pub(crate) fn edges_from(graph: &Graph, p: NodeId) -> Vec<Edge> {
    let node = &graph.nodes[p];
    let subject = Subject::new(node, graph);
    // Act-as edges, one per target node.
    let mut act: std::collections::BTreeMap<NodeId, Option<Edge>> = Default::default();
    let put =
        |to: NodeId, edge: Edge, act: &mut std::collections::BTreeMap<NodeId, Option<Edge>>| {
            keep_best(act.entry(to).or_default(), edge);
        };

    // Assume role: roles whose trust names this node, and account-wide trusts.
    let mut candidates: BTreeSet<NodeId> = graph
        .index
        .explicit
        .get(&node.arn)
        .cloned()
        .unwrap_or_default();
    if subject.may("sts:AssumeRole") {
        candidates.extend(graph.index.account_wide.iter().copied());
    }
    for r in candidates {
        if r == p || graph.nodes[r].deleted {
            continue;
        }
        let role = &graph.nodes[r];
        let Some(trust) = role.trust.as_ref() else {
            continue;
        };
        let label = format!("trust policy of role `{}`", role.name);
        let request = subject.request("sts:AssumeRole", &role.arn);
        let trust_only = PolicySet {
            resource: vec![trust],
            ..PolicySet::default()
        };
        let Some(trust_grant) = subject.grant(
            "sts:AssumeRole",
            &role.arn,
            &evaluate(&trust_only, &request),
            Some(&label),
        ) else {
            continue;
        };
        let named = graph
            .index
            .explicit
            .get(&node.arn)
            .is_some_and(|s| s.contains(&r));
        let decision = if named {
            evaluate(&subject.set_with(trust), &request)
        } else {
            evaluate(&subject.set, &request)
        };
        let Some(identity) = subject.grant("sts:AssumeRole", &role.arn, &decision, Some(&label))
        else {
            continue;
        };
        let grants = if matches!(decision, Decision::Allow { by } if by.layer == Layer::Resource) {
            vec![trust_grant]
        } else {
            vec![identity, trust_grant]
        };
        put(
            r,
            Edge::new(p, To::Node(r), EdgeKind::AssumeRole, grants),
            &mut act,
        );
    }

    // Pass a role to a service that runs code for it: per service, the best path the subject may
    // take (certain first, then fewest actions), then every role trusting that service.
    if subject.may("iam:PassRole") {
        let pass_scope = subject.scope("iam:PassRole");
        let mut best: std::collections::BTreeMap<
            &str,
            (&super::catalog::PassRolePath, Vec<Grant>),
        > = Default::default();
        for path in PASS_ROLE_PATHS {
            if !graph.index.services.contains_key(path.service) {
                continue;
            }
            let grants: Option<Vec<Grant>> = path
                .actions
                .iter()
                .map(|a| subject.allow_somewhere(a))
                .collect();
            let Some(grants) = grants else { continue };
            let rank = |g: &[Grant]| (g.iter().any(|x| !x.conditions.is_empty()), g.len());
            let better = best
                .get(path.service)
                .is_none_or(|(_, old)| rank(&grants) < rank(old));
            if better {
                best.insert(path.service, (path, grants));
            }
        }
        for (service, (path, service_grants)) in best {
            let mut request = subject.prepared("iam:PassRole", &[("iam:PassedToService", service)]);
            let roles: Vec<(NodeId, &str)> = graph
                .index
                .services
                .get(service)
                .into_iter()
                .flatten()
                .filter(|&&r| {
                    r != p && !graph.nodes[r].deleted && pass_scope.admits(&graph.nodes[r].arn)
                })
                .map(|&r| (r, graph.nodes[r].arn.as_str()))
                .collect();
            for (r, pass) in subject.allow_on_each(&mut request, &roles) {
                let mut grants = vec![pass];
                grants.extend(service_grants.iter().cloned());
                let kind = EdgeKind::PassRole {
                    path: path.id,
                    service: path.service,
                };
                put(r, Edge::new(p, To::Node(r), kind, grants), &mut act);
            }
        }
    }

    // Credentials for another user, and rewriting a role's trust.
    for action in MINT_ACTIONS {
        if !subject.may(action) {
            continue;
        }
        let targets = subject.scope(action).pick(graph, &graph.ids.users, p);
        let mut request = subject.prepared(action, &[]);
        for (u, grant) in subject.allow_on_each(&mut request, &targets) {
            let kind = EdgeKind::MintCredentials { action };
            put(u, Edge::new(p, To::Node(u), kind, vec![grant]), &mut act);
        }
    }
    if subject.may("iam:UpdateAssumeRolePolicy") {
        let roles = subject
            .scope("iam:UpdateAssumeRolePolicy")
            .pick(graph, &graph.ids.roles, p);
        let mut request = subject.prepared("iam:UpdateAssumeRolePolicy", &[]);
        for (r, grant) in subject.allow_on_each(&mut request, &roles) {
            let edge = Edge::new(p, To::Node(r), EdgeKind::RewriteTrust, vec![grant]);
            put(r, edge, &mut act);
        }
    }
    if node.kind == NodeKind::User && admits_admin(node) && subject.may("iam:AddUserToGroup") {
        let mut groups = subject
            .scope("iam:AddUserToGroup")
            .pick(graph, &graph.ids.groups, p);
        groups.retain(|(g, _)| !node.groups.contains(g));
        let mut request = subject.prepared("iam:AddUserToGroup", &[]);
        for (g, grant) in subject.allow_on_each(&mut request, &groups) {
            let edge = Edge::new(p, To::Node(g), EdgeKind::JoinGroup, vec![grant]);
            put(g, edge, &mut act);
        }
    }

    let mut out: Vec<Edge> = act
        .into_values()
        .flatten()
        .filter(|e| {
            !graph.nodes[match e.to {
                To::Node(n) => n,
                To::Admin => p,
            }]
            .deleted
        })
        .collect();

    // Changing permissions: its own, or those of a node it can act as in one step.
    let mut to_admin = modify_edge(graph, &subject, p, &[]);
    for edge in &out {
        if let To::Node(q) = edge.to {
            if let Some(m) = modify_edge(graph, &subject, q, &edge.grants) {
                let mut slot = to_admin.take();
                keep_best(&mut slot, m);
                to_admin = slot;
            }
        }
    }
    out.extend(to_admin);
    out
}
