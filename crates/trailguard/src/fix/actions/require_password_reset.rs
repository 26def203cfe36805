//! Force a password change at next sign-in (CT009 login profile for another user, CT016 password changed
//! for another user, PA001 weak password policy). Undo clears the requirement again.

use serde::{Deserialize, Serialize};
use trailguard_rules::call::Call;
use trailguard_rules::remediation::IdentityKind;

use super::{newest_first, unexpected, Context, Resolution};
use crate::fix::aws::ApiError;
use crate::fix::plan::Reversibility;

/// Whether a reset was already required before the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prior {
    pub password_reset_required: bool,
}

pub fn resolve(cx: &Context<'_>, user_name: &str) -> Result<Resolution<Prior>, ApiError> {
    let description = format!("require user {user_name} to set a new password at next sign-in");
    let call = Call::UpdateLoginProfile {
        user_name: user_name.to_owned(),
        password_reset_required: true,
    };
    let Some(aws) = cx.aws else {
        return Ok(Resolution::offline(
            description,
            vec![call],
            Reversibility::Full,
        ));
    };
    Ok(match aws.login_profile(user_name)? {
        None if !aws.principal_exists(IdentityKind::User, user_name)? => {
            cx.missing_principal(IdentityKind::User, user_name)
        }
        None => Resolution::Skip(format!(
            "user `{user_name}` has no console password to reset"
        )),
        Some(required) => Resolution::step(
            description,
            Some(Prior {
                password_reset_required: required,
            }),
            if required { Vec::new() } else { vec![call] },
            Reversibility::Full,
        ),
    })
}

pub fn inverse(_prior: &Prior, made: &[Call]) -> Result<Vec<Call>, String> {
    newest_first(made, |call| match call {
        Call::UpdateLoginProfile {
            user_name,
            password_reset_required: true,
        } => Ok(Some(Call::UpdateLoginProfile {
            user_name: user_name.clone(),
            password_reset_required: false,
        })),
        other => Err(unexpected(other)),
    })
}
