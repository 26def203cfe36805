//! Replace a principal's own policies with the least-privilege policy generated from what it was seen to
//! use (LP001 sensitive grants unused in the window, from `audit unused`). The generated policy goes in
//! first, as the inline policy the finding names, so the principal never lacks what it uses; then its
//! managed policies are detached and its other inline policies deleted, each document saved first. Group
//! memberships and the permissions boundary are left alone (a note names the groups). Undo puts every
//! policy back and removes, or restores, the generated one.
//!
//! IAM caps a principal's inline policies (2,048 characters for a user, 10,240 for a role, whitespace not
//! counted): a generated policy over the cap is a skip with the reason, never a half-applied step. No
//! offline plan: what to detach and delete is read from the account.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use trailguard_rules::call::Call;
use trailguard_rules::remediation::IdentityKind;

use super::{delete_inline_policy, detach_policy, newest_first, unexpected, Context, Resolution};
use crate::fix::aws::{ApiError, InlinePolicy};
use crate::fix::plan::Reversibility;

/// The inline policy name `audit unused` gives the generated policy.
pub const POLICY_NAME: &str = "trailguard-least-privilege";

/// The principal's own policies before the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prior {
    /// Managed policy ARNs attached to the principal.
    pub attached: Vec<String>,
    /// Every inline policy, the one the generated policy replaces included.
    pub inline_policies: Vec<InlinePolicy>,
}

/// IAM's cap on a principal's inline policies, whitespace not counted.
fn inline_cap(kind: IdentityKind) -> usize {
    match kind {
        IdentityKind::User => 2_048,
        IdentityKind::Group => 5_120,
        IdentityKind::Role => 10_240,
    }
}

/// Two documents say the same when they parse to the same JSON (IAM re-serialises what it stores).
fn same_document(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<Value>(a),
        serde_json::from_str::<Value>(b),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

pub fn resolve(
    cx: &Context<'_>,
    kind: IdentityKind,
    principal: &str,
    policy_name: &str,
    document: &str,
) -> Result<Resolution<Prior>, ApiError> {
    let size = document.chars().filter(|c| !c.is_whitespace()).count();
    if size > inline_cap(kind) {
        return Ok(Resolution::Skip(format!(
            "the generated policy is {size} characters, over IAM's {} for a {}'s inline policies: \
             create it as a managed policy by hand (`aws iam create-policy`)",
            inline_cap(kind),
            kind.as_str()
        )));
    }
    let Some(aws) = cx.aws else {
        return Ok(Resolution::Skip(format!(
            "replacing the policies of {} `{principal}` needs its current policies (connect to AWS; \
             no offline plan)",
            kind.as_str()
        )));
    };
    let description = format!(
        "replace the policies of {} {principal} with the generated least-privilege policy {policy_name} \
         (every policy saved first)",
        kind.as_str()
    );
    let Some(attached) = aws.attached_policies(kind, principal)? else {
        return Ok(cx.missing_principal(kind, principal));
    };
    let names = aws
        .inline_policy_names(kind, principal)?
        .unwrap_or_default();
    let mut inline_policies = Vec::new();
    for name in names {
        if let Some(document) = aws.inline_policy(kind, principal, &name)? {
            inline_policies.push(InlinePolicy { name, document });
        }
    }
    let mut calls = Vec::new();
    let current = inline_policies.iter().find(|p| p.name == policy_name);
    if !current.is_some_and(|p| same_document(&p.document, document)) {
        calls.push(Call::PutInlinePolicy {
            principal_kind: kind,
            principal_name: principal.to_owned(),
            policy_name: policy_name.to_owned(),
            policy_document: document.to_owned(),
        });
    }
    calls.extend(attached.iter().map(|arn| Call::DetachPolicy {
        principal_kind: kind,
        principal_name: principal.to_owned(),
        policy_arn: arn.clone(),
    }));
    calls.extend(
        inline_policies
            .iter()
            .filter(|p| p.name != policy_name)
            .map(|p| Call::DeleteInlinePolicy {
                principal_kind: kind,
                principal_name: principal.to_owned(),
                policy_name: p.name.clone(),
            }),
    );
    let groups = match kind {
        IdentityKind::User => aws
            .user_snapshot(principal)?
            .map(|u| u.groups)
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let resolution = Resolution::step(
        description,
        Some(Prior {
            attached,
            inline_policies,
        }),
        calls,
        Reversibility::Full,
    );
    Ok(if groups.is_empty() {
        resolution
    } else {
        resolution.with_note(format!(
            "its groups still grant what they grant: {}",
            groups.join(", ")
        ))
    })
}

pub fn inverse(prior: &Prior, made: &[Call]) -> Result<Vec<Call>, String> {
    newest_first(made, |call| {
        let saved = |name: &str| {
            prior
                .inline_policies
                .iter()
                .find(|p| p.name == name)
                .map(|p| p.document.as_str())
        };
        Ok(match call {
            Call::DetachPolicy { .. } => detach_policy::reattach(call),
            Call::DeleteInlinePolicy { policy_name, .. } => {
                delete_inline_policy::put_back(call, saved(policy_name))?
            }
            // The generated policy: its earlier document back, or gone when there was none.
            Call::PutInlinePolicy {
                principal_kind,
                principal_name,
                policy_name,
                ..
            } => Some(match saved(policy_name) {
                Some(document) => Call::PutInlinePolicy {
                    principal_kind: *principal_kind,
                    principal_name: principal_name.clone(),
                    policy_name: policy_name.clone(),
                    policy_document: document.to_owned(),
                },
                None => Call::DeleteInlinePolicy {
                    principal_kind: *principal_kind,
                    principal_name: principal_name.clone(),
                    policy_name: policy_name.clone(),
                },
            }),
            other => return Err(unexpected(other)),
        })
    })
}
