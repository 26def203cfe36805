//! Deactivate (not delete) an access key (CT008 access key for another user, CT019 own access key added,
//! CT020 new user keyed and made admin, CT023 new user given an access key, PA009 unused access key).
//! Undo makes it active again.

use serde::{Deserialize, Serialize};
use trailguard_rules::call::{Call, KeyStatus};
use trailguard_rules::remediation::IdentityKind;

use super::{newest_first, unexpected, Context, Resolution};
use crate::fix::aws::ApiError;
use crate::fix::plan::Reversibility;

/// The key's status before the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prior {
    pub status: KeyStatus,
}

pub fn resolve(
    cx: &Context<'_>,
    user_name: &str,
    access_key_id: &str,
) -> Result<Resolution<Prior>, ApiError> {
    let description = format!("deactivate access key {access_key_id} of user {user_name}");
    let call = Call::UpdateAccessKey {
        user_name: user_name.to_owned(),
        access_key_id: access_key_id.to_owned(),
        status: KeyStatus::Inactive,
    };
    let Some(aws) = cx.aws else {
        return Ok(Resolution::offline(
            description,
            vec![call],
            Reversibility::Full,
        ));
    };
    let Some(keys) = aws.access_keys(user_name)? else {
        return Ok(cx.missing_principal(IdentityKind::User, user_name));
    };
    Ok(
        match keys.iter().find(|k| k.access_key_id == access_key_id) {
            None => Resolution::Skip(format!(
                "access key `{access_key_id}` of user `{user_name}` does not exist {}",
                cx.in_account()
            )),
            Some(key) => {
                let calls = match key.status {
                    KeyStatus::Inactive => Vec::new(),
                    KeyStatus::Active => vec![call],
                };
                Resolution::step(
                    description,
                    Some(Prior { status: key.status }),
                    calls,
                    Reversibility::Full,
                )
            }
        },
    )
}

pub fn inverse(_prior: &Prior, made: &[Call]) -> Result<Vec<Call>, String> {
    newest_first(made, |call| match call {
        Call::UpdateAccessKey {
            user_name,
            access_key_id,
            status: KeyStatus::Inactive,
        } => Ok(Some(Call::UpdateAccessKey {
            user_name: user_name.clone(),
            access_key_id: access_key_id.clone(),
            status: KeyStatus::Active,
        })),
        other => Err(unexpected(other)),
    })
}
