//! Each user's and role's effective identity policies, gathered from the authorization details:
//! a user's own inline and attached managed policies, plus every group's inline and managed
//! policies, and its permissions boundary; a role's inline and managed policies and its boundary.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{AttachedPolicy, AuthorizationDetails, InlinePolicy, ManagedPolicyDetail};

/// An IAM principal with effective policies: one that makes requests (the policy engine asks what it
/// may do). A group is not one (see [`IdentityKind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PrincipalKind {
    User,
    Role,
}

/// An IAM identity a policy can be attached to or embedded in: a user, a group or a role (the fix
/// actions name where a policy sits with it). Not a [`PrincipalKind`]: a group holds policies but is no
/// principal (it never makes a request and no policy can name it), so code about requests uses
/// `PrincipalKind` and cannot meet a group, and code about where a policy sits uses this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentityKind {
    User,
    Group,
    Role,
}

impl IdentityKind {
    /// `user`, `group` or `role`: the word IAM uses in ARNs, and in descriptions and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::User => "user",
            IdentityKind::Group => "group",
            IdentityKind::Role => "role",
        }
    }
}

impl From<PrincipalKind> for IdentityKind {
    fn from(kind: PrincipalKind) -> IdentityKind {
        match kind {
            PrincipalKind::User => IdentityKind::User,
            PrincipalKind::Role => IdentityKind::Role,
        }
    }
}

impl PrincipalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::Role => "role",
        }
    }
}

/// Where a policy in a principal's set comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PolicySource {
    /// Embedded in the principal itself.
    Inline { policy_name: String },
    /// A managed policy attached to the principal directly.
    Managed { policy_arn: String },
    /// Embedded in one of the user's groups.
    GroupInline { group: String, policy_name: String },
    /// A managed policy attached to one of the user's groups.
    GroupManaged { group: String, policy_arn: String },
}

impl PolicySource {
    /// A short human label: `inline:admin`, `managed:arn:...`, `group:devs/inline:x`.
    pub fn label(&self) -> String {
        match self {
            PolicySource::Inline { policy_name } => format!("inline policy `{policy_name}`"),
            PolicySource::Managed { policy_arn } => format!("managed policy `{policy_arn}`"),
            PolicySource::GroupInline { group, policy_name } => {
                format!("inline policy `{policy_name}` of group `{group}`")
            }
            PolicySource::GroupManaged { group, policy_arn } => {
                format!("managed policy `{policy_arn}` of group `{group}`")
            }
        }
    }

    /// Whether the policy is attached to or embedded in the principal itself, not via a group.
    pub fn is_direct(&self) -> bool {
        matches!(
            self,
            PolicySource::Inline { .. } | PolicySource::Managed { .. }
        )
    }
}

/// One policy document in a principal's set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourcedPolicy {
    pub source: PolicySource,
    pub document: Value,
}

/// A user or role with everything that decides what it may do.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EffectivePrincipal {
    pub kind: PrincipalKind,
    pub name: String,
    pub arn: String,
    pub policies: Vec<SourcedPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boundary: Option<SourcedPolicy>,
    /// Managed policy ARNs attached but absent from the details' `Policies` list (so unknown).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unresolved: Vec<String>,
    /// Group names the user belongs to (empty for roles).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

/// Managed policies by ARN and groups by name: what a principal's attachments are resolved against.
pub type ManagedIndex<'a> = HashMap<&'a str, &'a ManagedPolicyDetail>;
pub type GroupIndex<'a> = HashMap<&'a str, &'a crate::model::GroupDetail>;

/// Builds every user's and role's effective policy set, users first, each in listing order.
pub fn effective_principals(details: &AuthorizationDetails) -> Vec<EffectivePrincipal> {
    let managed: ManagedIndex<'_> = details
        .policies
        .iter()
        .map(|p| (p.arn.as_str(), p))
        .collect();
    let groups: GroupIndex<'_> = details
        .group_detail_list
        .iter()
        .map(|g| (g.group_name.as_str(), g))
        .collect();
    let users = details
        .user_detail_list
        .iter()
        .map(|user| effective_user(user, &managed, &groups));
    let roles = details
        .role_detail_list
        .iter()
        .map(|role| effective_role(role, &managed));
    users.chain(roles).collect()
}

/// One user's effective policy set: own inline and managed policies, each group's, the boundary.
pub fn effective_user(
    user: &crate::model::UserDetail,
    managed: &ManagedIndex<'_>,
    groups: &GroupIndex<'_>,
) -> EffectivePrincipal {
    let mut principal = EffectivePrincipal {
        kind: PrincipalKind::User,
        name: user.user_name.clone(),
        arn: user.arn.clone(),
        policies: Vec::new(),
        boundary: None,
        unresolved: Vec::new(),
        groups: user.group_list.clone(),
    };
    add_inline(&mut principal, &user.user_policy_list, None);
    add_managed(
        &mut principal,
        managed,
        &user.attached_managed_policies,
        None,
    );
    for group_name in &user.group_list {
        let Some(group) = groups.get(group_name.as_str()) else {
            continue;
        };
        add_inline(&mut principal, &group.group_policy_list, Some(group_name));
        add_managed(
            &mut principal,
            managed,
            &group.attached_managed_policies,
            Some(group_name),
        );
    }
    set_boundary(&mut principal, managed, user.permissions_boundary.as_ref());
    principal
}

/// One role's effective policy set: inline and managed policies and the boundary.
pub fn effective_role(
    role: &crate::model::RoleDetail,
    managed: &ManagedIndex<'_>,
) -> EffectivePrincipal {
    let mut principal = EffectivePrincipal {
        kind: PrincipalKind::Role,
        name: role.role_name.clone(),
        arn: role.arn.clone(),
        policies: Vec::new(),
        boundary: None,
        unresolved: Vec::new(),
        groups: Vec::new(),
    };
    add_inline(&mut principal, &role.role_policy_list, None);
    add_managed(
        &mut principal,
        managed,
        &role.attached_managed_policies,
        None,
    );
    set_boundary(&mut principal, managed, role.permissions_boundary.as_ref());
    principal
}

fn add_inline(principal: &mut EffectivePrincipal, list: &[InlinePolicy], group: Option<&String>) {
    for policy in list {
        let source = match group {
            Some(group) => PolicySource::GroupInline {
                group: group.clone(),
                policy_name: policy.policy_name.clone(),
            },
            None => PolicySource::Inline {
                policy_name: policy.policy_name.clone(),
            },
        };
        principal.policies.push(SourcedPolicy {
            source,
            document: policy.policy_document.clone(),
        });
    }
}

fn add_managed(
    principal: &mut EffectivePrincipal,
    managed: &ManagedIndex<'_>,
    list: &[AttachedPolicy],
    group: Option<&String>,
) {
    for attached in list {
        let source = match group {
            Some(group) => PolicySource::GroupManaged {
                group: group.clone(),
                policy_arn: attached.policy_arn.clone(),
            },
            None => PolicySource::Managed {
                policy_arn: attached.policy_arn.clone(),
            },
        };
        match managed
            .get(attached.policy_arn.as_str())
            .and_then(|p| p.default_document())
        {
            Some(document) => principal.policies.push(SourcedPolicy {
                source,
                document: document.clone(),
            }),
            None => principal.unresolved.push(attached.policy_arn.clone()),
        }
    }
}

fn set_boundary(
    principal: &mut EffectivePrincipal,
    managed: &ManagedIndex<'_>,
    boundary: Option<&crate::model::PermissionsBoundary>,
) {
    let Some(boundary) = boundary else { return };
    if boundary.permissions_boundary_arn.is_empty() {
        return;
    }
    match managed
        .get(boundary.permissions_boundary_arn.as_str())
        .and_then(|p| p.default_document())
    {
        Some(document) => {
            principal.boundary = Some(SourcedPolicy {
                source: PolicySource::Managed {
                    policy_arn: boundary.permissions_boundary_arn.clone(),
                },
                document: document.clone(),
            })
        }
        None => principal
            .unresolved
            .push(boundary.permissions_boundary_arn.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_user_gets_its_own_and_its_groups_policies_and_boundary() {
        let details: AuthorizationDetails = serde_json::from_value(json!({
            "UserDetailList": [{
                "UserName": "alice", "Arn": "arn:aws:iam::111122223333:user/alice",
                "GroupList": ["devs", "ghost"],
                "UserPolicyList": [{"PolicyName": "own", "PolicyDocument": {"Statement": []}}],
                "AttachedManagedPolicies": [{"PolicyName": "m", "PolicyArn": "arn:aws:iam::111122223333:policy/m"},
                                            {"PolicyName": "gone", "PolicyArn": "arn:aws:iam::aws:policy/Gone"}],
                "PermissionsBoundary": {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": "arn:aws:iam::111122223333:policy/b"}
            }],
            "GroupDetailList": [{
                "GroupName": "devs",
                "GroupPolicyList": [{"PolicyName": "gi", "PolicyDocument": {"Statement": []}}],
                "AttachedManagedPolicies": [{"PolicyName": "m", "PolicyArn": "arn:aws:iam::111122223333:policy/m"}]
            }],
            "Policies": [
                {"Arn": "arn:aws:iam::111122223333:policy/m", "DefaultVersionId": "v2", "PolicyVersionList": [
                    {"VersionId": "v1", "IsDefaultVersion": false, "Document": {"Id": "old"}},
                    {"VersionId": "v2", "IsDefaultVersion": true, "Document": {"Id": "new"}}]},
                {"Arn": "arn:aws:iam::111122223333:policy/b", "DefaultVersionId": "v1", "PolicyVersionList": [
                    {"VersionId": "v1", "IsDefaultVersion": true, "Document": {"Id": "boundary"}}]}
            ]
        }))
        .unwrap();
        let principals = effective_principals(&details);
        assert_eq!(principals.len(), 1);
        let alice = &principals[0];
        let labels: Vec<String> = alice.policies.iter().map(|p| p.source.label()).collect();
        assert_eq!(
            labels,
            [
                "inline policy `own`",
                "managed policy `arn:aws:iam::111122223333:policy/m`",
                "inline policy `gi` of group `devs`",
                "managed policy `arn:aws:iam::111122223333:policy/m` of group `devs`",
            ]
        );
        assert_eq!(alice.policies[1].document["Id"], "new");
        assert_eq!(alice.boundary.as_ref().unwrap().document["Id"], "boundary");
        assert_eq!(alice.unresolved, ["arn:aws:iam::aws:policy/Gone"]);
    }
}
