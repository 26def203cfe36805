//! Raise the account password policy to CIS values, keeping stricter current settings (CT012 password
//! policy weakened, CT013 password policy deleted, PA001 weak password policy). Undo puts the saved policy
//! back, or deletes the policy when there was none.

use serde::{Deserialize, Serialize};
use trailguard_rules::call::{Call, PasswordPolicySettings};

use super::{newest_first, unexpected, Context, Resolution};
use crate::fix::aws::ApiError;
use crate::fix::plan::Reversibility;

/// CIS AWS Foundations 1.8 / 1.9: minimum length 14, remember 24 passwords.
pub const CIS_MIN_LENGTH: i32 = 14;
pub const CIS_REUSE_PREVENTION: i32 = 24;

/// The account's password policy before the change (`None`: it had none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prior {
    pub password_policy: Option<PasswordPolicySettings>,
}

pub fn resolve(cx: &Context<'_>) -> Result<Resolution<Prior>, ApiError> {
    let description =
        "raise the account password policy to CIS values (stricter current values kept)".to_owned();
    // Offline, the current policy is unknown: say so (no prior) rather than record "there was none".
    let prior = match cx.aws {
        Some(aws) => Some(Prior {
            password_policy: aws.password_policy()?,
        }),
        None => None,
    };
    let current = prior.as_ref().and_then(|p| p.password_policy.as_ref());
    let target = cis_password_policy(current);
    let calls = if current == Some(&target) {
        Vec::new()
    } else {
        vec![Call::UpdateAccountPasswordPolicy(target)]
    };
    Ok(Resolution::step(
        description,
        prior,
        calls,
        Reversibility::Full,
    ))
}

pub fn inverse(prior: &Prior, made: &[Call]) -> Result<Vec<Call>, String> {
    newest_first(made, |call| match call {
        Call::UpdateAccountPasswordPolicy(_) => Ok(Some(match &prior.password_policy {
            None => Call::DeleteAccountPasswordPolicy,
            Some(policy) => Call::UpdateAccountPasswordPolicy(policy.clone()),
        })),
        other => Err(unexpected(other)),
    })
}

/// CIS values, keeping any stricter current setting (a longer minimum, a longer reuse history, a max age).
pub fn cis_password_policy(current: Option<&PasswordPolicySettings>) -> PasswordPolicySettings {
    let cur = current.cloned().unwrap_or_default();
    PasswordPolicySettings {
        minimum_password_length: Some(cur.minimum_password_length.unwrap_or(0).max(CIS_MIN_LENGTH)),
        require_symbols: true,
        require_numbers: true,
        require_uppercase_characters: true,
        require_lowercase_characters: true,
        allow_users_to_change_password: true,
        max_password_age: cur.max_password_age,
        password_reuse_prevention: Some(
            cur.password_reuse_prevention
                .unwrap_or(0)
                .max(CIS_REUSE_PREVENTION),
        ),
        hard_expiry: cur.hard_expiry,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cis_policy_keeps_stricter_values() {
        let current = PasswordPolicySettings {
            minimum_password_length: Some(20),
            password_reuse_prevention: Some(5),
            max_password_age: Some(60),
            ..Default::default()
        };
        let target = cis_password_policy(Some(&current));
        assert_eq!(target.minimum_password_length, Some(20));
        assert_eq!(target.password_reuse_prevention, Some(24));
        assert_eq!(target.max_password_age, Some(60));
        assert!(target.require_symbols && target.require_numbers);
        let fresh = cis_password_policy(None);
        assert_eq!(fresh.minimum_password_length, Some(14));
        assert_eq!(fresh.max_password_age, None);
    }
}
