//! The privilege-escalation graph: who can become admin, and by which chain of steps.
//!
//! **Nodes** are the account's users, roles and groups. **Admin** is a goal, not a node: a
//! principal is admin when the policy engine allows every action of [`catalog::ADMIN_PROBES`] on
//! `*` through its own policies, boundary included (certainly, or only under conditions the
//! snapshot cannot decide).
//!
//! **Edges** are steps an attacker holding the source can take, each decided by
//! `trailguard_policy::eval::evaluate` (so Deny statements, permissions boundaries, conditions and,
//! when given, SCPs count), and each carrying the statements that grant it ([`Grant`]):
//! - [`EdgeKind::AssumeRole`]: the role's trust policy and the source's identity policy allow
//!   `sts:AssumeRole` (a trust policy that names the source's ARN needs no identity grant, as in AWS).
//! - [`EdgeKind::PassRole`]: every action of a [`catalog::PASS_ROLE_PATHS`] path plus `iam:PassRole`
//!   on a role that trusts the path's service; the code then runs as the role.
//! - [`EdgeKind::MintCredentials`]: an access key or console password for another user.
//! - [`EdgeKind::RewriteTrust`]: `iam:UpdateAssumeRolePolicy` on a role.
//! - [`EdgeKind::JoinGroup`]: `iam:AddUserToGroup` on a group the user is not in.
//! - [`EdgeKind::ModifyPermissions`] (to admin): write or attach a policy, create a policy version,
//!   make an admin-granting old version the default, on the source itself, its groups or its attached
//!   policies; or on a principal the source can act as in one step (the catalog's iam-014..021).
//!   Counted only when the modified principal's boundary admits admin.
//!
//! An edge whose grants depend on a condition is **conditional** and kept apart: a principal's
//! certain path uses certain edges only; its conditional path is reported only when no certain one
//! exists. Edges out of admins are not built (they add nothing).
//!
//! **Incremental**: [`Graph::apply`] changes the account (a policy written, attached, versioned, a
//! trust rewritten, a user added to a group), rebuilds only the touched principals and the
//! principals with an edge into them, and recomputes distances to admin only upstream of those.

pub mod catalog;
mod edges;
pub mod events;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use trailguard_policy::PolicyDocument;

use crate::model::{AttachedPolicy, AuthorizationDetails, InlinePolicy, PolicyVersion};
use crate::principals::{self, GroupIndex, ManagedIndex, PolicySource};

pub type NodeId = usize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    User,
    Role,
    Group,
}

/// Certain, or only if conditions the snapshot cannot decide hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Certainty {
    Certain,
    Conditional,
}

/// One permission an edge uses, and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    pub action: String,
    pub resource: String,
    /// `inline policy `x` Statement[0]`, `trust policy of role `r` Statement[0]`, ...
    pub statement: Option<String>,
    /// Undecided conditions (empty when certain).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<String>,
}

impl Grant {
    pub fn certainty(&self) -> Certainty {
        if self.conditions.is_empty() {
            Certainty::Certain
        } else {
            Certainty::Conditional
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EdgeKind {
    AssumeRole,
    PassRole {
        /// pathfinding.cloud path id.
        path: &'static str,
        service: &'static str,
    },
    MintCredentials {
        action: &'static str,
    },
    RewriteTrust,
    JoinGroup,
    ModifyPermissions {
        action: &'static str,
        /// The principal whose permissions change (the source itself, its group, or one it can
        /// act as).
        target: String,
        /// The managed policy changed, for policy versions.
        #[serde(skip_serializing_if = "Option::is_none")]
        policy: Option<String>,
    },
}

impl EdgeKind {
    /// A short description of the step.
    pub fn describe(&self) -> String {
        match self {
            EdgeKind::AssumeRole => "may assume".to_owned(),
            EdgeKind::PassRole { path, service } => {
                format!("may pass to {service} (pathfinding.cloud {path})")
            }
            EdgeKind::MintCredentials { action } => format!("may {action} for"),
            EdgeKind::RewriteTrust => "may rewrite the trust policy of".to_owned(),
            EdgeKind::JoinGroup => "may add itself to".to_owned(),
            EdgeKind::ModifyPermissions {
                action,
                target,
                policy,
            } => match policy {
                Some(policy) => format!("may {action} on `{policy}` (attached to `{target}`)"),
                None => format!("may {action} on `{target}`"),
            },
        }
    }
}

/// Where an edge leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum To {
    Admin,
    Node(NodeId),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Edge {
    pub from: NodeId,
    pub to: To,
    #[serde(flatten)]
    pub kind: EdgeKind,
    pub grants: Vec<Grant>,
    pub certainty: Certainty,
}

impl Edge {
    fn new(from: NodeId, to: To, kind: EdgeKind, grants: Vec<Grant>) -> Edge {
        let certainty = grants
            .iter()
            .map(Grant::certainty)
            .max()
            .unwrap_or(Certainty::Certain);
        Edge {
            from,
            to,
            kind,
            grants,
            certainty,
        }
    }
}

/// A node with the parsed policies that decide its edges.
#[derive(Debug, Clone)]
pub struct Node {
    pub kind: NodeKind,
    pub name: String,
    pub arn: String,
    /// Whether its own policies make it admin.
    pub admin: Option<Certainty>,
    pub(crate) documents: Vec<(String, Arc<PolicyDocument>)>,
    pub(crate) boundary: Option<Arc<PolicyDocument>>,
    /// Customer-managed policy ARNs attached directly or through its groups.
    pub(crate) attached: Vec<String>,
    /// A user's groups (node ids).
    pub(crate) groups: Vec<NodeId>,
    /// A role's trust policy.
    pub(crate) trust: Option<PolicyDocument>,
    /// Policies or groups that could not be resolved or parsed.
    pub problems: Vec<String>,
    /// Deleted by a change (kept so its id stays valid).
    pub deleted: bool,
}

/// What a principal's search found: the first hop on its shortest path and the path's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Step {
    hops: u32,
    /// Index into `out[node]`; `None` for a node that is admin itself.
    edge: Option<usize>,
}

/// Distances to admin, for certain edges only and for all edges.
#[derive(Debug, Clone, Default)]
struct Reach {
    certain: Vec<Option<Step>>,
    any: Vec<Option<Step>>,
}

/// The account as a graph. Built by [`Graph::build`], changed by [`Graph::apply`].
#[derive(Debug, Clone)]
pub struct Graph {
    pub nodes: Vec<Node>,
    out: Vec<Vec<Edge>>,
    /// `rev[q]`: `(p, i)` for each edge `out[p][i]` into `q` (a node has at most one edge to another).
    rev: Vec<Vec<(NodeId, usize)>>,
    reach: Reach,
    details: AuthorizationDetails,
    by_arn: HashMap<String, NodeId>,
    users: HashMap<String, NodeId>,
    roles: HashMap<String, NodeId>,
    groups: HashMap<String, NodeId>,
    /// Positions in `details`' lists, by name (users, roles, groups) and ARN (policies).
    user_pos: HashMap<String, usize>,
    role_pos: HashMap<String, usize>,
    group_pos: HashMap<String, usize>,
    policy_pos: HashMap<String, usize>,
    /// Parsed default documents of managed policies, and whether an older version grants admin.
    managed: HashMap<String, ManagedDoc>,
    /// Who holds each managed policy (directly, or as a group and its members).
    holders: HashMap<String, HashSet<NodeId>>,
    /// Node ids by kind, ascending (deleted nodes included).
    ids: Ids,
    index: edges::TrustIndex,
    scps: Vec<Vec<Arc<PolicyDocument>>>,
}

/// Node ids of each kind, ascending: the pools edge targets are picked from.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ids {
    users: Vec<NodeId>,
    roles: Vec<NodeId>,
    groups: Vec<NodeId>,
}

#[derive(Debug, Clone)]
pub(crate) struct ManagedDoc {
    document: Option<Arc<PolicyDocument>>,
    aws_managed: bool,
    /// A non-default version grants admin (so `SetDefaultPolicyVersion` escalates).
    admin_version: Option<String>,
}

/// One hop of a reported path.
#[derive(Debug, Clone, Serialize)]
pub struct Hop {
    pub from: String,
    /// The next principal's ARN, or `admin`.
    pub to: String,
    #[serde(flatten)]
    pub kind: EdgeKind,
    pub grants: Vec<Grant>,
    pub certainty: Certainty,
}

/// A principal that reaches the goal.
#[derive(Debug, Clone, Serialize)]
pub struct PathReport {
    pub kind: NodeKind,
    pub name: String,
    pub arn: String,
    /// Certain when every hop is.
    pub certainty: Certainty,
    /// Empty for a principal that is the goal (admin itself).
    pub hops: Vec<Hop>,
    /// When the path ends at a principal whose own policies make it admin only under conditions:
    /// those conditions (the hops' grants carry the rest).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub admin_conditions: Vec<String>,
}

impl PathReport {
    /// Every undecided condition the path hangs on, each once, in hop order.
    pub fn conditions(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let all = self
            .hops
            .iter()
            .flat_map(|h| &h.grants)
            .flat_map(|g| &g.conditions)
            .chain(&self.admin_conditions);
        for condition in all {
            if !out.contains(condition) {
                out.push(condition.clone());
            }
        }
        out
    }
}

/// A change to the account, as an IAM write event describes it ([`events::change_of`] reads one
/// from a CloudTrail record). Every change is idempotent: applying one the snapshot already holds
/// (an event just before the snapshot was taken) leaves the account as it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    CreateUser {
        name: String,
        arn: String,
        boundary: Option<String>,
    },
    CreateRole {
        name: String,
        arn: String,
        trust: Value,
        boundary: Option<String>,
    },
    CreateGroup {
        name: String,
        arn: String,
    },
    /// `DeleteUser`, `DeleteRole`, `DeleteGroup`.
    DeleteEntity {
        kind: NodeKind,
        name: String,
    },
    CreatePolicy {
        arn: String,
        document: Value,
    },
    DeletePolicy {
        arn: String,
    },
    DeletePolicyVersion {
        policy_arn: String,
        version_id: String,
    },
    PutInlinePolicy {
        kind: NodeKind,
        name: String,
        policy_name: String,
        document: Value,
    },
    DeleteInlinePolicy {
        kind: NodeKind,
        name: String,
        policy_name: String,
    },
    AttachPolicy {
        kind: NodeKind,
        name: String,
        policy_arn: String,
    },
    DetachPolicy {
        kind: NodeKind,
        name: String,
        policy_arn: String,
    },
    CreatePolicyVersion {
        policy_arn: String,
        version_id: String,
        document: Value,
        set_as_default: bool,
    },
    SetDefaultPolicyVersion {
        policy_arn: String,
        version_id: String,
    },
    UpdateAssumeRolePolicy {
        role: String,
        document: Value,
    },
    AddUserToGroup {
        user: String,
        group: String,
    },
    RemoveUserFromGroup {
        user: String,
        group: String,
    },
    PutPermissionsBoundary {
        kind: NodeKind,
        name: String,
        policy_arn: Option<String>,
    },
}

/// What a change did to reachability of admin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Update {
    /// Principals that could not reach admin (certainly) before and now can.
    pub opened: Vec<NodeId>,
    /// Principals that could reach admin (certainly) before and no longer can.
    pub closed: Vec<NodeId>,
    /// Principals that could not reach admin at all before and now can, but only under conditions
    /// the snapshot cannot decide.
    pub opened_conditionally: Vec<NodeId>,
    /// Nodes whose distances were recomputed.
    pub recomputed: usize,
    /// Nodes whose edges were rebuilt (the hop a change opened starts at one of them), sorted.
    pub rebuilt: Vec<NodeId>,
}

/// The change names something the snapshot does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not in the snapshot")]
pub struct UnknownEntity(pub String);

impl Graph {
    /// Builds the graph of an account. `scps`: one list of documents per level, when known.
    pub fn build(details: &AuthorizationDetails, scps: Vec<Vec<PolicyDocument>>) -> Graph {
        let mut graph = Graph {
            nodes: Vec::new(),
            out: Vec::new(),
            rev: Vec::new(),
            reach: Reach::default(),
            details: details.clone(),
            by_arn: HashMap::new(),
            users: HashMap::new(),
            roles: HashMap::new(),
            groups: HashMap::new(),
            user_pos: position(details.user_detail_list.iter().map(|u| &u.user_name)),
            role_pos: position(details.role_detail_list.iter().map(|r| &r.role_name)),
            group_pos: position(details.group_detail_list.iter().map(|g| &g.group_name)),
            policy_pos: position(details.policies.iter().map(|p| &p.arn)),
            managed: HashMap::new(),
            holders: HashMap::new(),
            ids: Ids::default(),
            index: edges::TrustIndex::default(),
            scps: scps
                .into_iter()
                .map(|level| level.into_iter().map(Arc::new).collect())
                .collect(),
        };
        let arns: Vec<String> = graph
            .details
            .policies
            .iter()
            .map(|p| p.arn.clone())
            .collect();
        for arn in arns {
            graph.refresh_managed(&arn);
        }
        let entities: Vec<(NodeKind, String, String)> = graph
            .details
            .group_detail_list
            .iter()
            .map(|g| (NodeKind::Group, g.group_name.clone(), g.arn.clone()))
            .chain(
                graph
                    .details
                    .user_detail_list
                    .iter()
                    .map(|u| (NodeKind::User, u.user_name.clone(), u.arn.clone())),
            )
            .chain(
                graph
                    .details
                    .role_detail_list
                    .iter()
                    .map(|r| (NodeKind::Role, r.role_name.clone(), r.arn.clone())),
            )
            .collect();
        for (kind, name, arn) in entities {
            graph.add_node(kind, name, arn);
        }
        let all: Vec<NodeId> = (0..graph.nodes.len()).collect();
        for &id in &all {
            graph.refresh_node(id);
        }
        for &id in &all {
            graph.rebuild_edges(id);
        }
        graph.reach = Reach {
            certain: vec![None; graph.nodes.len()],
            any: vec![None; graph.nodes.len()],
        };
        graph.recompute(&all);
        graph
    }

    fn add_node(&mut self, kind: NodeKind, name: String, arn: String) -> NodeId {
        let id = self.nodes.len();
        let map = match kind {
            NodeKind::User => &mut self.users,
            NodeKind::Role => &mut self.roles,
            NodeKind::Group => &mut self.groups,
        };
        map.insert(name.clone(), id);
        match kind {
            NodeKind::User => self.ids.users.push(id),
            NodeKind::Role => self.ids.roles.push(id),
            NodeKind::Group => self.ids.groups.push(id),
        }
        self.by_arn.insert(arn.clone(), id);
        self.nodes.push(Node {
            kind,
            name,
            arn,
            admin: None,
            documents: Vec::new(),
            boundary: None,
            attached: Vec::new(),
            groups: Vec::new(),
            trust: None,
            problems: Vec::new(),
            deleted: false,
        });
        self.out.push(Vec::new());
        self.rev.push(Vec::new());
        if !self.reach.any.is_empty() {
            self.reach.any.push(None);
            self.reach.certain.push(None);
        }
        id
    }

    /// The node with this ARN.
    pub fn node_by_arn(&self, arn: &str) -> Option<NodeId> {
        self.by_arn.get(arn).copied()
    }

    /// The node with this name (users first, then roles, then groups).
    pub fn node_by_name(&self, name: &str) -> Option<NodeId> {
        self.users
            .get(name)
            .or_else(|| self.roles.get(name))
            .or_else(|| self.groups.get(name))
            .copied()
    }

    /// Edges out of a node.
    pub fn edges(&self, id: NodeId) -> &[Edge] {
        &self.out[id]
    }

    /// Every edge of the graph.
    pub fn all_edges(&self) -> impl Iterator<Item = &Edge> {
        self.out.iter().flatten()
    }

    /// Whether the node reaches admin, and how surely (`None`: it does not).
    pub fn reaches_admin(&self, id: NodeId) -> Option<Certainty> {
        if self.reach.certain[id].is_some() {
            Some(Certainty::Certain)
        } else if self.reach.any[id].is_some() {
            Some(Certainty::Conditional)
        } else {
            None
        }
    }

    /// Every user and role (and group, when `groups`) that reaches admin, with its shortest path
    /// (certain when one exists), sorted by ARN.
    pub fn paths_to_admin(&self, groups: bool) -> Vec<PathReport> {
        let mut out: Vec<PathReport> = (0..self.nodes.len())
            .filter(|&id| !self.nodes[id].deleted)
            .filter(|&id| groups || self.nodes[id].kind != NodeKind::Group)
            .filter_map(|id| self.path_to_admin(id))
            .collect();
        out.sort_by(|a, b| a.arn.cmp(&b.arn));
        out
    }

    /// The shortest path from one node to admin.
    pub fn path_to_admin(&self, id: NodeId) -> Option<PathReport> {
        let (table, certainty) = if self.reach.certain[id].is_some() {
            (&self.reach.certain, Certainty::Certain)
        } else if self.reach.any[id].is_some() {
            (&self.reach.any, Certainty::Conditional)
        } else {
            return None;
        };
        let mut hops = Vec::new();
        let mut at = id;
        while let Some(Step {
            edge: Some(index), ..
        }) = table[at]
        {
            let edge = &self.out[at][index];
            hops.push(self.hop(edge));
            match edge.to {
                To::Admin => break,
                To::Node(next) => at = next,
            }
            if hops.len() > self.nodes.len() {
                break;
            }
        }
        let mut report = self.report(id, certainty, hops);
        if table[at].is_some_and(|s| s.edge.is_none())
            && self.nodes[at].admin == Some(Certainty::Conditional)
        {
            report.admin_conditions = edges::admin_conditions(&self.nodes[at], &self.scps);
        }
        Some(report)
    }

    /// Shortest paths from every node to one target node, over all edges (certain ones preferred:
    /// each node's path is certain when a certain one exists).
    pub fn paths_to(&self, target: NodeId) -> Vec<PathReport> {
        let certain = self.search_to(target, true);
        let any = self.search_to(target, false);
        let mut out = Vec::new();
        for id in 0..self.nodes.len() {
            if id == target || self.nodes[id].deleted {
                continue;
            }
            let (table, certainty) = if certain[id].is_some() {
                (&certain, Certainty::Certain)
            } else if any[id].is_some() {
                (&any, Certainty::Conditional)
            } else {
                continue;
            };
            let mut hops = Vec::new();
            let mut at = id;
            while let Some(Step {
                edge: Some(index), ..
            }) = table[at]
            {
                let edge = &self.out[at][index];
                hops.push(self.hop(edge));
                match edge.to {
                    To::Node(next) if next != target && hops.len() <= self.nodes.len() => at = next,
                    _ => break,
                }
            }
            out.push(self.report(id, certainty, hops));
        }
        out.sort_by(|a, b| a.arn.cmp(&b.arn));
        out
    }

    fn report(&self, id: NodeId, certainty: Certainty, hops: Vec<Hop>) -> PathReport {
        let node = &self.nodes[id];
        PathReport {
            kind: node.kind,
            name: node.name.clone(),
            arn: node.arn.clone(),
            certainty,
            hops,
            admin_conditions: Vec::new(),
        }
    }

    fn hop(&self, edge: &Edge) -> Hop {
        Hop {
            from: self.nodes[edge.from].arn.clone(),
            to: match edge.to {
                To::Admin => "admin".to_owned(),
                To::Node(n) => self.nodes[n].arn.clone(),
            },
            kind: edge.kind.clone(),
            grants: edge.grants.clone(),
            certainty: edge.certainty,
        }
    }

    fn search_to(&self, target: NodeId, certain_only: bool) -> Vec<Option<Step>> {
        let mut table: Vec<Option<Step>> = vec![None; self.nodes.len()];
        table[target] = Some(Step {
            hops: 0,
            edge: None,
        });
        let mut queue = std::collections::VecDeque::from([target]);
        while let Some(at) = queue.pop_front() {
            let hops = table[at].map_or(0, |s| s.hops);
            for &(from, edge) in &self.rev[at] {
                if table[from].is_some() {
                    continue;
                }
                let e = &self.out[from][edge];
                if !certain_only || e.certainty == Certainty::Certain {
                    table[from] = Some(Step {
                        hops: hops + 1,
                        edge: Some(edge),
                    });
                    queue.push_back(from);
                }
            }
        }
        table
    }

    /// Applies one change and re-evaluates what it can affect.
    pub fn apply(&mut self, change: &Change) -> Result<Update, UnknownEntity> {
        let touched = self.mutate(change)?;
        // The touched nodes' own policies changed; the nodes with edges into them may have
        // modify-another edges that depend on what the touched nodes hold, and a trust change
        // moves assume edges. A node that appears may be the target of edges no one had; one that
        // goes takes every edge into it along.
        let trust_changed = matches!(
            change,
            Change::UpdateAssumeRolePolicy { .. } | Change::CreateRole { .. }
        );
        let appeared = matches!(
            change,
            Change::CreateUser { .. } | Change::CreateRole { .. } | Change::CreateGroup { .. }
        );
        let removed = matches!(change, Change::DeleteEntity { .. });
        let mut sources: HashSet<NodeId> = touched.iter().copied().collect();
        for &id in &touched {
            self.refresh_node(id);
            // Edges into a node depend on its trust (assume edges) and, for modify-another edges,
            // on what it holds; a source that may modify nobody keeps its edges.
            let upstream: Vec<NodeId> = self.rev[id]
                .iter()
                .map(|&(from, _)| from)
                .filter(|&from| {
                    trust_changed || removed || edges::may_modify(&self.nodes[from], &self.scps)
                })
                .collect();
            sources.extend(upstream);
            if trust_changed {
                sources.extend(self.index.may_assume(id, self));
            }
            if appeared {
                let kind = self.nodes[id].kind;
                sources.extend((0..self.nodes.len()).filter(|&n| {
                    n != id
                        && !self.nodes[n].deleted
                        && edges::may_point_at(&self.nodes[n], kind, &self.scps)
                }));
            }
        }
        let mut sources: Vec<NodeId> = sources.into_iter().collect();
        sources.sort_unstable();
        for &id in &sources {
            self.rebuild_edges(id);
        }
        let mut update = self.recompute(&sources);
        update.rebuilt = sources;
        Ok(update)
    }

    /// The snapshot's newest `CreateDate`/`UpdateDate` (a lower bound on when it was taken).
    pub fn newest_date(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        let d = &self.details;
        d.user_detail_list
            .iter()
            .map(|u| &u.create_date)
            .chain(d.role_detail_list.iter().map(|r| &r.create_date))
            .chain(d.group_detail_list.iter().map(|g| &g.create_date))
            .chain(d.policies.iter().flat_map(|p| {
                std::iter::once(&p.update_date)
                    .chain(p.policy_version_list.iter().map(|v| &v.create_date))
            }))
            .filter_map(|t| crate::time::parse_aws_time(t))
            .max()
    }

    /// Adds a policy the snapshot may not list because nothing held it: only AdministratorAccess,
    /// whose document is known (the attack attaches it more than any other).
    fn ensure_policy(&mut self, arn: &str) {
        if self.policy_pos.contains_key(arn) || arn != edges::ADMIN_POLICY_ARN {
            return;
        }
        let document = serde_json::json!({"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
        self.insert_policy(arn, document);
    }

    fn insert_policy(&mut self, arn: &str, document: Value) {
        self.policy_pos
            .insert(arn.to_owned(), self.details.policies.len());
        self.details
            .policies
            .push(crate::model::ManagedPolicyDetail {
                policy_name: arn.rsplit('/').next().unwrap_or_default().to_owned(),
                arn: arn.to_owned(),
                default_version_id: "v1".to_owned(),
                is_attachable: true,
                policy_version_list: vec![PolicyVersion {
                    document,
                    version_id: "v1".to_owned(),
                    is_default_version: true,
                    create_date: String::new(),
                }],
                ..Default::default()
            });
        self.refresh_managed(arn);
    }

    /// Creates (or revives) a user, role or group node; `None` when it exists already.
    fn create_node(&mut self, kind: NodeKind, name: &str, arn: &str) -> Option<NodeId> {
        let existing = match kind {
            NodeKind::User => self.users.get(name),
            NodeKind::Role => self.roles.get(name),
            NodeKind::Group => self.groups.get(name),
        }
        .copied();
        match existing {
            Some(id) if !self.nodes[id].deleted => None,
            Some(id) => Some(id),
            None => Some(self.add_node(kind, name.to_owned(), arn.to_owned())),
        }
    }

    fn boundary_of(&mut self, arn: &Option<String>) -> Option<crate::model::PermissionsBoundary> {
        arn.as_ref().map(|arn| {
            self.ensure_policy(arn);
            crate::model::PermissionsBoundary {
                permissions_boundary_type: "Policy".to_owned(),
                permissions_boundary_arn: arn.clone(),
            }
        })
    }

    fn user_mut(&mut self, name: &str) -> Result<&mut crate::model::UserDetail, UnknownEntity> {
        let pos = self.user_pos.get(name).copied();
        pos.and_then(|i| self.details.user_detail_list.get_mut(i))
            .ok_or_else(|| UnknownEntity(format!("user `{name}`")))
    }

    fn role_mut(&mut self, name: &str) -> Result<&mut crate::model::RoleDetail, UnknownEntity> {
        let pos = self.role_pos.get(name).copied();
        pos.and_then(|i| self.details.role_detail_list.get_mut(i))
            .ok_or_else(|| UnknownEntity(format!("role `{name}`")))
    }

    fn group_mut(&mut self, name: &str) -> Result<&mut crate::model::GroupDetail, UnknownEntity> {
        let pos = self.group_pos.get(name).copied();
        pos.and_then(|i| self.details.group_detail_list.get_mut(i))
            .ok_or_else(|| UnknownEntity(format!("group `{name}`")))
    }

    fn node_of(&self, kind: NodeKind, name: &str) -> Result<NodeId, UnknownEntity> {
        let map = match kind {
            NodeKind::User => &self.users,
            NodeKind::Role => &self.roles,
            NodeKind::Group => &self.groups,
        };
        map.get(name)
            .copied()
            .ok_or_else(|| UnknownEntity(format!("{kind:?} `{name}`").to_lowercase()))
    }

    /// A node and, for a group, its members: whose effective policies a change to it alters.
    fn with_members(&self, id: NodeId) -> Vec<NodeId> {
        let mut out = vec![id];
        if self.nodes[id].kind == NodeKind::Group {
            out.extend(
                self.nodes
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| n.groups.contains(&id))
                    .map(|(i, _)| i),
            );
        }
        out
    }

    fn inline_list(
        &mut self,
        kind: NodeKind,
        name: &str,
    ) -> Result<&mut Vec<InlinePolicy>, UnknownEntity> {
        Ok(match kind {
            NodeKind::User => &mut self.user_mut(name)?.user_policy_list,
            NodeKind::Role => &mut self.role_mut(name)?.role_policy_list,
            NodeKind::Group => &mut self.group_mut(name)?.group_policy_list,
        })
    }

    fn attached_list(
        &mut self,
        kind: NodeKind,
        name: &str,
    ) -> Result<&mut Vec<AttachedPolicy>, UnknownEntity> {
        Ok(match kind {
            NodeKind::User => &mut self.user_mut(name)?.attached_managed_policies,
            NodeKind::Role => &mut self.role_mut(name)?.attached_managed_policies,
            NodeKind::Group => &mut self.group_mut(name)?.attached_managed_policies,
        })
    }

    /// Changes the stored details; returns the nodes whose own policies changed.
    fn mutate(&mut self, change: &Change) -> Result<Vec<NodeId>, UnknownEntity> {
        match change {
            Change::CreateUser {
                name,
                arn,
                boundary,
            } => {
                let Some(id) = self.create_node(NodeKind::User, name, arn) else {
                    return Ok(Vec::new());
                };
                let permissions_boundary = self.boundary_of(boundary);
                self.user_pos
                    .insert(name.clone(), self.details.user_detail_list.len());
                self.details
                    .user_detail_list
                    .push(crate::model::UserDetail {
                        user_name: name.clone(),
                        arn: arn.clone(),
                        permissions_boundary,
                        ..Default::default()
                    });
                Ok(vec![id])
            }
            Change::CreateRole {
                name,
                arn,
                trust,
                boundary,
            } => {
                let Some(id) = self.create_node(NodeKind::Role, name, arn) else {
                    return Ok(Vec::new());
                };
                let permissions_boundary = self.boundary_of(boundary);
                self.role_pos
                    .insert(name.clone(), self.details.role_detail_list.len());
                self.details
                    .role_detail_list
                    .push(crate::model::RoleDetail {
                        role_name: name.clone(),
                        arn: arn.clone(),
                        assume_role_policy_document: trust.clone(),
                        permissions_boundary,
                        ..Default::default()
                    });
                Ok(vec![id])
            }
            Change::CreateGroup { name, arn } => {
                let Some(id) = self.create_node(NodeKind::Group, name, arn) else {
                    return Ok(Vec::new());
                };
                self.group_pos
                    .insert(name.clone(), self.details.group_detail_list.len());
                self.details
                    .group_detail_list
                    .push(crate::model::GroupDetail {
                        group_name: name.clone(),
                        arn: arn.clone(),
                        ..Default::default()
                    });
                Ok(vec![id])
            }
            Change::DeleteEntity { kind, name } => {
                let id = self.node_of(*kind, name)?;
                if self.nodes[id].deleted {
                    return Ok(Vec::new());
                }
                let touched = self.with_members(id);
                match kind {
                    NodeKind::User => {
                        self.details
                            .user_detail_list
                            .retain(|u| u.user_name != *name);
                        self.user_pos =
                            position(self.details.user_detail_list.iter().map(|u| &u.user_name));
                    }
                    NodeKind::Role => {
                        self.details
                            .role_detail_list
                            .retain(|r| r.role_name != *name);
                        self.role_pos =
                            position(self.details.role_detail_list.iter().map(|r| &r.role_name));
                    }
                    NodeKind::Group => {
                        self.details
                            .group_detail_list
                            .retain(|g| g.group_name != *name);
                        self.group_pos =
                            position(self.details.group_detail_list.iter().map(|g| &g.group_name));
                    }
                }
                Ok(touched)
            }
            Change::CreatePolicy { arn, document } => {
                if !self.policy_pos.contains_key(arn) {
                    self.insert_policy(arn, document.clone());
                }
                Ok(Vec::new())
            }
            Change::DeletePolicy { arn } => {
                if !self.policy_pos.contains_key(arn) {
                    return Ok(Vec::new());
                }
                let holders = self.holders_of(arn);
                self.details.policies.retain(|p| p.arn != *arn);
                self.policy_pos = position(self.details.policies.iter().map(|p| &p.arn));
                self.managed.remove(arn);
                Ok(holders)
            }
            Change::DeletePolicyVersion {
                policy_arn,
                version_id,
            } => {
                let policy = self
                    .policy_pos
                    .get(policy_arn)
                    .and_then(|&i| self.details.policies.get_mut(i))
                    .ok_or_else(|| UnknownEntity(format!("policy `{policy_arn}`")))?;
                // The default version cannot be deleted; AWS refuses, so does the graph.
                policy.policy_version_list.retain(|v| {
                    v.version_id != *version_id || v.version_id == policy.default_version_id
                });
                self.refresh_managed(policy_arn);
                Ok(self.holders_of(policy_arn))
            }
            Change::PutInlinePolicy {
                kind,
                name,
                policy_name,
                document,
            } => {
                let id = self.node_of(*kind, name)?;
                let list = self.inline_list(*kind, name)?;
                list.retain(|p| p.policy_name != *policy_name);
                list.push(InlinePolicy {
                    policy_name: policy_name.clone(),
                    policy_document: document.clone(),
                });
                Ok(self.with_members(id))
            }
            Change::DeleteInlinePolicy {
                kind,
                name,
                policy_name,
            } => {
                let id = self.node_of(*kind, name)?;
                self.inline_list(*kind, name)?
                    .retain(|p| p.policy_name != *policy_name);
                Ok(self.with_members(id))
            }
            Change::AttachPolicy {
                kind,
                name,
                policy_arn,
            } => {
                let id = self.node_of(*kind, name)?;
                self.ensure_policy(policy_arn);
                let list = self.attached_list(*kind, name)?;
                if !list.iter().any(|p| p.policy_arn == *policy_arn) {
                    list.push(AttachedPolicy {
                        policy_name: policy_arn.rsplit('/').next().unwrap_or("").to_owned(),
                        policy_arn: policy_arn.clone(),
                    });
                }
                Ok(self.with_members(id))
            }
            Change::DetachPolicy {
                kind,
                name,
                policy_arn,
            } => {
                let id = self.node_of(*kind, name)?;
                self.attached_list(*kind, name)?
                    .retain(|p| p.policy_arn != *policy_arn);
                Ok(self.with_members(id))
            }
            Change::CreatePolicyVersion {
                policy_arn,
                version_id,
                document,
                set_as_default,
            } => {
                let policy = self
                    .policy_pos
                    .get(policy_arn)
                    .and_then(|&i| self.details.policies.get_mut(i))
                    .ok_or_else(|| UnknownEntity(format!("policy `{policy_arn}`")))?;
                if *set_as_default {
                    for v in &mut policy.policy_version_list {
                        v.is_default_version = false;
                    }
                    policy.default_version_id = version_id.clone();
                }
                // Applied again (an event the snapshot already holds): the version is replaced.
                policy
                    .policy_version_list
                    .retain(|v| v.version_id != *version_id);
                policy.policy_version_list.push(PolicyVersion {
                    document: document.clone(),
                    version_id: version_id.clone(),
                    is_default_version: *set_as_default,
                    create_date: String::new(),
                });
                self.refresh_managed(policy_arn);
                Ok(self.holders_of(policy_arn))
            }
            Change::SetDefaultPolicyVersion {
                policy_arn,
                version_id,
            } => {
                let policy = self
                    .policy_pos
                    .get(policy_arn)
                    .and_then(|&i| self.details.policies.get_mut(i))
                    .ok_or_else(|| UnknownEntity(format!("policy `{policy_arn}`")))?;
                for v in &mut policy.policy_version_list {
                    v.is_default_version = v.version_id == *version_id;
                }
                policy.default_version_id = version_id.clone();
                self.refresh_managed(policy_arn);
                Ok(self.holders_of(policy_arn))
            }
            Change::UpdateAssumeRolePolicy { role, document } => {
                let id = self.node_of(NodeKind::Role, role)?;
                // Sources of the old trust lose their edges: they are upstream of `id` already.
                self.role_mut(role)?.assume_role_policy_document = document.clone();
                Ok(vec![id])
            }
            Change::AddUserToGroup { user, group } => {
                let id = self.node_of(NodeKind::User, user)?;
                self.node_of(NodeKind::Group, group)?;
                let list = &mut self.user_mut(user)?.group_list;
                if !list.contains(group) {
                    list.push(group.clone());
                }
                Ok(vec![id])
            }
            Change::RemoveUserFromGroup { user, group } => {
                let id = self.node_of(NodeKind::User, user)?;
                self.user_mut(user)?.group_list.retain(|g| g != group);
                Ok(vec![id])
            }
            Change::PutPermissionsBoundary {
                kind,
                name,
                policy_arn,
            } => {
                let id = self.node_of(*kind, name)?;
                let boundary = self.boundary_of(policy_arn);
                match kind {
                    NodeKind::User => self.user_mut(name)?.permissions_boundary = boundary,
                    NodeKind::Role => self.role_mut(name)?.permissions_boundary = boundary,
                    NodeKind::Group => {
                        return Err(UnknownEntity(format!("boundary of group `{name}`")))
                    }
                }
                Ok(vec![id])
            }
        }
    }

    fn holders_of(&self, policy_arn: &str) -> Vec<NodeId> {
        let mut out: Vec<NodeId> = self
            .holders
            .get(policy_arn)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default();
        out.sort_unstable();
        out
    }

    fn refresh_managed(&mut self, arn: &str) {
        let Some(policy) = self.policy_pos.get(arn).map(|&i| &self.details.policies[i]) else {
            return;
        };
        let document = policy
            .default_document()
            .and_then(|d| parse_value(d).ok())
            .map(Arc::new);
        let admin_version = policy
            .policy_version_list
            .iter()
            .filter(|v| !(v.is_default_version || v.version_id == policy.default_version_id))
            .find(|v| {
                parse_value(&v.document)
                    .is_ok_and(|doc| edges::document_is_admin(&doc) == Some(Certainty::Certain))
            })
            .map(|v| v.version_id.clone());
        self.managed.insert(
            arn.to_owned(),
            ManagedDoc {
                document,
                aws_managed: policy.is_aws_managed(),
                admin_version,
            },
        );
    }

    /// The managed policies and groups a principal's details refer to, as the indexes
    /// [`principals::effective_user`] resolves against (only those: a change stays cheap).
    fn indexes_for<'a>(
        &'a self,
        attached: impl Iterator<Item = &'a str>,
        group_names: &'a [String],
    ) -> (ManagedIndex<'a>, GroupIndex<'a>) {
        let groups: GroupIndex<'a> = group_names
            .iter()
            .filter_map(|g| self.group_pos.get(g))
            .map(|&i| &self.details.group_detail_list[i])
            .map(|g| (g.group_name.as_str(), g))
            .collect();
        let group_attached = groups.values().flat_map(|g| {
            g.attached_managed_policies
                .iter()
                .map(|a| a.policy_arn.as_str())
        });
        let managed: ManagedIndex<'a> = attached
            .chain(group_attached)
            .filter_map(|arn| self.policy_pos.get(arn))
            .map(|&i| &self.details.policies[i])
            .map(|p| (p.arn.as_str(), p))
            .collect();
        (managed, groups)
    }

    fn effective_of(&self, id: NodeId) -> (Option<principals::EffectivePrincipal>, Option<Value>) {
        let node = &self.nodes[id];
        match node.kind {
            NodeKind::User => {
                let Some(user) = self
                    .user_pos
                    .get(&node.name)
                    .map(|&i| &self.details.user_detail_list[i])
                else {
                    return (None, None);
                };
                let attached = user
                    .attached_managed_policies
                    .iter()
                    .map(|a| a.policy_arn.as_str())
                    .chain(
                        user.permissions_boundary
                            .as_ref()
                            .map(|b| b.permissions_boundary_arn.as_str()),
                    );
                let (managed, groups) = self.indexes_for(attached, &user.group_list);
                (
                    Some(principals::effective_user(user, &managed, &groups)),
                    None,
                )
            }
            NodeKind::Role => {
                let Some(role) = self
                    .role_pos
                    .get(&node.name)
                    .map(|&i| &self.details.role_detail_list[i])
                else {
                    return (None, None);
                };
                let attached = role
                    .attached_managed_policies
                    .iter()
                    .map(|a| a.policy_arn.as_str())
                    .chain(
                        role.permissions_boundary
                            .as_ref()
                            .map(|b| b.permissions_boundary_arn.as_str()),
                    );
                let (managed, _) = self.indexes_for(attached, &[]);
                (
                    Some(principals::effective_role(role, &managed)),
                    Some(role.assume_role_policy_document.clone()),
                )
            }
            NodeKind::Group => {
                let Some(group) = self
                    .group_pos
                    .get(&node.name)
                    .map(|&i| &self.details.group_detail_list[i])
                else {
                    return (None, None);
                };
                let attached = group
                    .attached_managed_policies
                    .iter()
                    .map(|a| a.policy_arn.as_str());
                let (managed, _) = self.indexes_for(attached, &[]);
                (Some(group_as_principal(group, &managed)), None)
            }
        }
    }

    /// Re-reads a node's policies, trust and boundary from the details.
    fn refresh_node(&mut self, id: NodeId) {
        let (effective, trust) = self.effective_of(id);
        let deleted = effective.is_none();
        let mut problems = Vec::new();
        let mut documents = Vec::new();
        let mut attached = Vec::new();
        let mut boundary = None;
        let mut member_of = Vec::new();
        if let Some(p) = &effective {
            for policy in &p.policies {
                let label = policy.source.label();
                let arn = match &policy.source {
                    PolicySource::Managed { policy_arn }
                    | PolicySource::GroupManaged { policy_arn, .. } => Some(policy_arn),
                    _ => None,
                };
                let parsed = match arn.and_then(|a| self.managed.get(a.as_str())) {
                    Some(m) => m.document.clone(),
                    None => parse_value(&policy.document).ok().map(Arc::new),
                };
                match parsed {
                    Some(doc) => documents.push((label, doc)),
                    None => problems.push(format!("{label} does not parse")),
                }
                if let Some(a) = arn {
                    if !self.managed.get(a.as_str()).is_some_and(|m| m.aws_managed)
                        && !attached.contains(a)
                    {
                        attached.push(a.clone());
                    }
                }
            }
            if let Some(b) = &p.boundary {
                boundary = match &b.source {
                    PolicySource::Managed { policy_arn } => self
                        .managed
                        .get(policy_arn.as_str())
                        .and_then(|m| m.document.clone()),
                    _ => None,
                };
                if boundary.is_none() {
                    problems.push("the permissions boundary does not parse".to_owned());
                }
            }
            for arn in &p.unresolved {
                problems.push(format!("managed policy `{arn}` is not in the snapshot"));
            }
            for g in &p.groups {
                match self.groups.get(g) {
                    Some(&gid) => member_of.push(gid),
                    None => problems.push(format!("group `{g}` is not in the snapshot")),
                }
            }
        }
        let trust = trust.and_then(|t| parse_value(&t).ok());
        // Holders: forget the old attachments, record the new ones (a group's members too).
        let old: Vec<String> = self.nodes[id].attached.clone();
        for arn in &old {
            if let Some(set) = self.holders.get_mut(arn) {
                set.remove(&id);
            }
        }
        for arn in &attached {
            self.holders.entry(arn.clone()).or_default().insert(id);
        }
        let node = &mut self.nodes[id];
        node.documents = documents;
        node.boundary = boundary;
        node.attached = attached;
        node.groups = member_of;
        node.trust = trust;
        node.problems = problems;
        node.deleted = deleted;
        let admin = if deleted {
            None
        } else {
            edges::is_admin(node, &self.scps)
        };
        self.nodes[id].admin = admin;
        self.index.update(id, &self.nodes[id]);
    }

    /// Rebuilds the edges out of one node and the reverse index.
    fn rebuild_edges(&mut self, id: NodeId) {
        let old = std::mem::take(&mut self.out[id]);
        for edge in &old {
            if let To::Node(q) = edge.to {
                self.rev[q].retain(|&(from, _)| from != id);
            }
        }
        let new = if self.nodes[id].deleted || self.nodes[id].admin == Some(Certainty::Certain) {
            Vec::new()
        } else {
            edges::edges_from(self, id)
        };
        for (i, edge) in new.iter().enumerate() {
            if let To::Node(q) = edge.to {
                self.rev[q].push((id, i));
            }
        }
        self.out[id] = new;
    }

    /// Recomputes distances to admin for every node upstream of `changed` (their edges changed).
    fn recompute(&mut self, changed: &[NodeId]) -> Update {
        let mut upstream: HashSet<NodeId> = changed.iter().copied().collect();
        let mut stack: Vec<NodeId> = changed.to_vec();
        while let Some(at) = stack.pop() {
            for &(from, _) in &self.rev[at] {
                if upstream.insert(from) {
                    stack.push(from);
                }
            }
        }
        let before: Vec<(NodeId, Option<Certainty>)> = upstream
            .iter()
            .map(|&n| (n, self.reaches_admin(n)))
            .collect();
        for certain_only in [true, false] {
            let table = self.shortest_within(&upstream, certain_only);
            let target = if certain_only {
                &mut self.reach.certain
            } else {
                &mut self.reach.any
            };
            for (n, step) in table {
                target[n] = step;
            }
        }
        let mut update = Update {
            recomputed: upstream.len(),
            ..Update::default()
        };
        for (n, was) in before {
            let now = self.reaches_admin(n);
            let certain = |c: Option<Certainty>| c == Some(Certainty::Certain);
            if certain(now) && !certain(was) {
                update.opened.push(n);
            } else if certain(was) && !certain(now) {
                update.closed.push(n);
            } else if was.is_none() && now == Some(Certainty::Conditional) {
                update.opened_conditionally.push(n);
            }
        }
        update.opened.sort_unstable();
        update.closed.sort_unstable();
        update.opened_conditionally.sort_unstable();
        update
    }

    /// Dijkstra (unit weights) over the nodes of `region`, seeded by the admins among them and by
    /// their edges to admin or to nodes outside the region (whose distances stand).
    fn shortest_within(
        &self,
        region: &HashSet<NodeId>,
        certain_only: bool,
    ) -> Vec<(NodeId, Option<Step>)> {
        let known = if certain_only {
            &self.reach.certain
        } else {
            &self.reach.any
        };
        let usable = |e: &Edge| !certain_only || e.certainty == Certainty::Certain;
        let mut best: HashMap<NodeId, Step> = HashMap::new();
        let mut heap = BinaryHeap::new();
        for &n in region {
            let node = &self.nodes[n];
            if node.deleted {
                continue;
            }
            let own = match node.admin {
                Some(Certainty::Certain) => true,
                Some(Certainty::Conditional) => !certain_only,
                None => false,
            };
            let mut seed = own.then_some(Step {
                hops: 0,
                edge: None,
            });
            for (i, e) in self.out[n].iter().enumerate() {
                if !usable(e) {
                    continue;
                }
                let hops = match e.to {
                    To::Admin => Some(1),
                    To::Node(q) if !region.contains(&q) => known[q].map(|s| s.hops + 1),
                    To::Node(_) => None,
                };
                if let Some(hops) = hops {
                    if seed.is_none_or(|s| hops < s.hops) {
                        seed = Some(Step {
                            hops,
                            edge: Some(i),
                        });
                    }
                }
            }
            if let Some(step) = seed {
                best.insert(n, step);
                heap.push(Reverse((step.hops, n)));
            }
        }
        while let Some(Reverse((hops, at))) = heap.pop() {
            if best.get(&at).is_some_and(|s| s.hops < hops) {
                continue;
            }
            for &(from, i) in &self.rev[at] {
                if !region.contains(&from) || !usable(&self.out[from][i]) {
                    continue;
                }
                let candidate = hops + 1;
                if best.get(&from).is_none_or(|s| candidate < s.hops) {
                    best.insert(
                        from,
                        Step {
                            hops: candidate,
                            edge: Some(i),
                        },
                    );
                    heap.push(Reverse((candidate, from)));
                }
            }
        }
        region.iter().map(|&n| (n, best.get(&n).copied())).collect()
    }
}

fn position<'a>(names: impl Iterator<Item = &'a String>) -> HashMap<String, usize> {
    names.enumerate().map(|(i, n)| (n.clone(), i)).collect()
}

/// A group's own policies in the shape of a principal's, so the edge builder treats it alike.
fn group_as_principal(
    group: &crate::model::GroupDetail,
    managed: &ManagedIndex<'_>,
) -> principals::EffectivePrincipal {
    let role_like = crate::model::RoleDetail {
        role_name: group.group_name.clone(),
        arn: group.arn.clone(),
        role_policy_list: group.group_policy_list.clone(),
        attached_managed_policies: group.attached_managed_policies.clone(),
        ..crate::model::RoleDetail::default()
    };
    principals::effective_role(&role_like, managed)
}

fn parse_value(value: &Value) -> Result<PolicyDocument, String> {
    if value.is_null() {
        return Err("no document".to_owned());
    }
    let text = serde_json::to_string(value).map_err(|e| e.to_string())?;
    PolicyDocument::parse(&text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests;
