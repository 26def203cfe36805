//! What the principal page shows besides its findings, from an account snapshot given at start
//! (`trailguard web --snapshot DIR`, a directory `trailguard audit snapshot` wrote): the principal's
//! policies (inline, managed, through groups, and its boundary), what it can do (a who-can decision
//! for each of [`SENSITIVE_ACTIONS`]) and its shortest privilege-escalation path to admin from the
//! escalation graph (`audit paths`).
//!
//! The snapshot is read once, at start: the store keeps findings and audit scores, not the account's
//! policies, so without `--snapshot` the page says where these sections come from instead.

use std::path::Path;

use anyhow::Context;
use trailguard_account::graph::{Certainty, Graph};
use trailguard_account::who_can::decide;
use trailguard_account::{effective_principals, Access, AccountSnapshot, EffectivePrincipal};
use trailguard_account::{ParsedPrincipal, RawSnapshot};

/// Actions whose grant the page reports: each one is a known privilege-escalation or
/// credential step (the pathfinding.cloud catalogue's IAM and STS steps) or full access.
pub const SENSITIVE_ACTIONS: &[&str] = &[
    "*",
    "iam:*",
    "iam:CreatePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:AttachUserPolicy",
    "iam:AttachRolePolicy",
    "iam:PutUserPolicy",
    "iam:PutRolePolicy",
    "iam:AddUserToGroup",
    "iam:UpdateAssumeRolePolicy",
    "iam:CreateAccessKey",
    "iam:CreateLoginProfile",
    "iam:UpdateLoginProfile",
    "iam:PassRole",
    "sts:AssumeRole",
    "lambda:CreateFunction",
    "ec2:RunInstances",
    "cloudtrail:StopLogging",
    "cloudtrail:DeleteTrail",
];

/// The account as the page uses it: every user's and role's effective policies, and the graph.
pub struct Account {
    pub account_id: Option<String>,
    principals: Vec<EffectivePrincipal>,
    graph: Graph,
}

impl Account {
    /// Reads an `audit snapshot` directory; it must hold the authorization details.
    pub fn load(dir: &Path) -> anyhow::Result<Account> {
        let raw = RawSnapshot::read_path(dir)
            .map_err(|e| anyhow::anyhow!("--snapshot `{}`: {e}", dir.display()))?;
        let snapshot = AccountSnapshot::from_raw(&raw);
        let details = snapshot.authorization.as_ref().with_context(|| {
            format!(
                "--snapshot `{}`: no usable get-account-authorization-details.json",
                dir.display()
            )
        })?;
        Ok(Account {
            account_id: snapshot.account_id.clone(),
            principals: effective_principals(details),
            graph: Graph::build(details, Vec::new()),
        })
    }

    /// The page's sections for one ARN (a template value; every string in it is escaped there).
    pub fn describe(&self, arn: &str) -> minijinja::Value {
        let Some(principal) = self.principals.iter().find(|p| p.arn == arn) else {
            return minijinja::context! { known => false };
        };
        let mut policies: Vec<minijinja::Value> = principal
            .policies
            .iter()
            .map(|p| {
                minijinja::context! { label => p.source.label(),
                document => serde_json::to_string_pretty(&p.document).unwrap_or_default() }
            })
            .collect();
        if let Some(boundary) = &principal.boundary {
            policies.push(minijinja::context! {
            label => format!("permissions boundary: {}", boundary.source.label()),
            document => serde_json::to_string_pretty(&boundary.document).unwrap_or_default() });
        }
        let parsed = ParsedPrincipal::parse(principal);
        let can: Vec<minijinja::Value> = SENSITIVE_ACTIONS
            .iter()
            .filter_map(|action| decide(&parsed, action, None).map(|entry| (action, entry)))
            .map(|(action, entry)| {
                let (access, conditions) = match &entry.access {
                    Access::Allowed => ("allowed", String::new()),
                    Access::Conditional { conditions, .. } => {
                        ("conditional", conditions.join("; "))
                    }
                };
                minijinja::context! { action => action, access => access,
                conditions => conditions, resource => &entry.resource, via => &entry.via }
            })
            .collect();
        let path = self
            .graph
            .node_by_arn(arn)
            .and_then(|id| self.graph.path_to_admin(id));
        let hops: Vec<minijinja::Value> = path
            .iter()
            .flat_map(|report| &report.hops)
            .map(|hop| {
                minijinja::context! { from => &hop.from, step => hop.kind.describe(), to => &hop.to,
                certain => hop.certainty == Certainty::Certain }
            })
            .collect();
        minijinja::context! {
            known => true,
            kind => principal.kind.as_str(),
            groups => &principal.groups,
            unresolved => &principal.unresolved,
            policies => policies,
            can => can,
            reaches_admin => path.is_some(),
            admin_itself => path.as_ref().is_some_and(|p| p.hops.is_empty()),
            path_certain => path.as_ref().is_some_and(|p| p.certainty == Certainty::Certain),
            hops => hops,
        }
    }
}
