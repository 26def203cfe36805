//! Delete a console login profile (CT009 login profile for another user, CT020 new user keyed and made
//! admin, PA008 unused password). Irreversible: AWS never returns a password.

use serde::{Deserialize, Serialize};
use trailguard_rules::call::Call;
use trailguard_rules::remediation::IdentityKind;

use super::{Context, Resolution};
use crate::fix::aws::ApiError;
use crate::fix::plan::Reversibility;

/// Whether the user had a login profile, and whether it required a reset (kept for the record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prior {
    pub login_profile: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_reset_required: Option<bool>,
}

const NO_WAY_BACK: &str =
    "AWS never returns a password; a new login profile would need a new password";

pub fn resolve(cx: &Context<'_>, user_name: &str) -> Result<Resolution<Prior>, ApiError> {
    let description = format!("delete the console password (login profile) of user {user_name}");
    let irreversible = Reversibility::None(NO_WAY_BACK.into());
    let call = Call::DeleteLoginProfile {
        user_name: user_name.to_owned(),
    };
    let Some(aws) = cx.aws else {
        return Ok(Resolution::offline(description, vec![call], irreversible));
    };
    Ok(match aws.login_profile(user_name)? {
        None if !aws.principal_exists(IdentityKind::User, user_name)? => {
            cx.missing_principal(IdentityKind::User, user_name)
        }
        None => Resolution::step(
            description,
            Some(Prior {
                login_profile: false,
                password_reset_required: None,
            }),
            Vec::new(),
            irreversible,
        ),
        Some(reset) => Resolution::step(
            description,
            Some(Prior {
                login_profile: true,
                password_reset_required: Some(reset),
            }),
            vec![call],
            irreversible,
        ),
    })
}

pub fn inverse(_prior: &Prior, _made: &[Call]) -> Result<Vec<Call>, String> {
    Err(NO_WAY_BACK.into())
}
