//! Remove an unused user after saving everything about it (PA012 unused user). IAM refuses to delete a
//! user that still has credentials, memberships or policies, so those go first. Undo recreates the user
//! with its path, boundary and tags, its groups and its policies; passwords, access keys, MFA devices,
//! certificates and SSH keys cannot be recreated as they were. No offline plan: the calls depend on what
//! the user has.

use serde::{Deserialize, Serialize};
use trailguard_rules::call::Call;
use trailguard_rules::remediation::IdentityKind;

use super::{delete_inline_policy, detach_policy, newest_first, unexpected, Context, Resolution};
use crate::fix::aws::{ApiError, UserSnapshot};
use crate::fix::plan::Reversibility;

/// Everything about the user before it was deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prior {
    pub user: UserSnapshot,
}

pub fn resolve(cx: &Context<'_>, user_name: &str) -> Result<Resolution<Prior>, ApiError> {
    let description = format!("delete unused user {user_name} (everything about it saved first)");
    let partial = Reversibility::Partial(
        "the user, its groups, tags, boundary and policies come back; passwords, access keys, MFA devices, \
         certificates and SSH keys cannot be recreated as they were"
            .into(),
    );
    let Some(aws) = cx.aws else {
        return Ok(Resolution::Skip(format!(
            "deleting user `{user_name}` needs its current state (connect to AWS; no offline plan)"
        )));
    };
    Ok(match aws.user_snapshot(user_name)? {
        None => cx.missing_principal(IdentityKind::User, user_name),
        Some(user) => {
            let calls = delete_user_calls(&user);
            Resolution::step(description, Some(Prior { user }), calls, partial)
        }
    })
}

pub fn inverse(prior: &Prior, made: &[Call]) -> Result<Vec<Call>, String> {
    let user = &prior.user;
    newest_first(made, |call| {
        Ok(match call {
            Call::DeleteUser { .. } => Some(Call::CreateUser {
                user_name: user.user_name.clone(),
                path: user.path.clone(),
                permissions_boundary: user.permissions_boundary.clone(),
                tags: user.tags.clone(),
            }),
            Call::RemoveUserFromGroup {
                group_name,
                user_name,
            } => Some(Call::AddUserToGroup {
                group_name: group_name.clone(),
                user_name: user_name.clone(),
            }),
            Call::DetachPolicy { .. } => detach_policy::reattach(call),
            Call::DeleteInlinePolicy { policy_name, .. } => {
                let saved = user.inline_policies.iter().find(|p| &p.name == policy_name);
                delete_inline_policy::put_back(call, saved.map(|p| p.document.as_str()))?
            }
            // Credentials AWS never returns: not recreatable (the step said so: partly reversible).
            Call::DeleteLoginProfile { .. }
            | Call::DeleteAccessKey { .. }
            | Call::DeactivateMfaDevice { .. }
            | Call::DeleteSigningCertificate { .. }
            | Call::DeleteSshPublicKey { .. }
            | Call::DeleteServiceSpecificCredential { .. } => None,
            other => return Err(unexpected(other)),
        })
    })
}

/// IAM refuses to delete a user that still has credentials, memberships or policies: remove them first.
pub fn delete_user_calls(user: &UserSnapshot) -> Vec<Call> {
    let name = &user.user_name;
    let mut calls = Vec::new();
    if user.has_login_profile {
        calls.push(Call::DeleteLoginProfile {
            user_name: name.clone(),
        });
    }
    for key in &user.access_keys {
        calls.push(Call::DeleteAccessKey {
            user_name: name.clone(),
            access_key_id: key.access_key_id.clone(),
        });
    }
    for serial in &user.mfa_devices {
        calls.push(Call::DeactivateMfaDevice {
            user_name: name.clone(),
            serial_number: serial.clone(),
        });
    }
    for id in &user.signing_certificates {
        calls.push(Call::DeleteSigningCertificate {
            user_name: name.clone(),
            certificate_id: id.clone(),
        });
    }
    for id in &user.ssh_public_keys {
        calls.push(Call::DeleteSshPublicKey {
            user_name: name.clone(),
            ssh_public_key_id: id.clone(),
        });
    }
    for id in &user.service_specific_credentials {
        calls.push(Call::DeleteServiceSpecificCredential {
            user_name: name.clone(),
            service_specific_credential_id: id.clone(),
        });
    }
    for group in &user.groups {
        calls.push(Call::RemoveUserFromGroup {
            group_name: group.clone(),
            user_name: name.clone(),
        });
    }
    for arn in &user.attached_policies {
        calls.push(Call::DetachPolicy {
            principal_kind: IdentityKind::User,
            principal_name: name.clone(),
            policy_arn: arn.clone(),
        });
    }
    for policy in &user.inline_policies {
        calls.push(Call::DeleteInlinePolicy {
            principal_kind: IdentityKind::User,
            principal_name: name.clone(),
            policy_name: policy.name.clone(),
        });
    }
    calls.push(Call::DeleteUser {
        user_name: name.clone(),
    });
    calls
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fix::aws::AccessKeyInfo;
    use trailguard_rules::call::KeyStatus;

    #[test]
    fn deleting_a_user_removes_what_blocks_it_first() {
        let user = UserSnapshot {
            user_name: "old".into(),
            arn: "arn:aws:iam::111122223333:user/old".into(),
            path: None,
            permissions_boundary: None,
            tags: vec![],
            groups: vec!["devs".into()],
            attached_policies: vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".into()],
            inline_policies: vec![],
            access_keys: vec![AccessKeyInfo {
                access_key_id: "AKIA1".into(),
                status: KeyStatus::Active,
            }],
            has_login_profile: true,
            mfa_devices: vec![],
            signing_certificates: vec![],
            ssh_public_keys: vec![],
            service_specific_credentials: vec![],
        };
        let calls = delete_user_calls(&user);
        let ops: Vec<&str> = calls.iter().map(|c| c.api_form().operation).collect();
        assert_eq!(
            ops,
            [
                "DeleteLoginProfile",
                "DeleteAccessKey",
                "RemoveUserFromGroup",
                "DetachUserPolicy",
                "DeleteUser"
            ]
        );
    }
}
