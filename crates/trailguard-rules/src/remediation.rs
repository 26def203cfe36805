//! Machine-readable fixes. A rule that knows how to undo what it saw attaches a [`FixAction`] to its
//! finding; `trailguard fix` turns actions into a plan of exact API calls, applies them on request and
//! journals every change. Actions carry the facts they need, so a saved findings file is enough.

use serde::{Deserialize, Serialize};

pub use trailguard_account::IdentityKind;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum FixAction {
    /// Undo CreatePolicyVersion / SetDefaultPolicyVersion: make `restore_version` (or, when unknown,
    /// the newest other version) the default again and delete `bad_version`. Several of these for one
    /// policy are planned as one step (restore once, then delete every bad version).
    RevertPolicyVersion {
        policy_arn: String,
        bad_version: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        restore_version: Option<String>,
        /// Whether the event made `bad_version` the default (`None`: not known). An offline plan needs it:
        /// IAM refuses to delete the default version, so another one must be made default first.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bad_version_was_default: Option<bool>,
    },
    /// Several [`FixAction::RevertPolicyVersion`]s of one policy, as `trailguard fix` plans them: one step
    /// makes a good version the default once, then deletes every bad version.
    RevertPolicyVersions {
        policy_arn: String,
        bad_versions: Vec<BadPolicyVersion>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        restore_version: Option<String>,
    },
    /// Detach a managed policy attached by a flagged event.
    DetachPolicy {
        principal_kind: IdentityKind,
        principal_name: String,
        policy_arn: String,
    },
    /// Delete an inline policy put by a flagged event (saved to the journal first).
    DeleteInlinePolicy {
        principal_kind: IdentityKind,
        principal_name: String,
        policy_name: String,
    },
    /// Deactivate (not delete) an access key.
    DeactivateAccessKey {
        user_name: String,
        access_key_id: String,
    },
    /// Delete a console login profile created for another user.
    DeleteLoginProfile { user_name: String },
    /// Raise the account password policy to CIS values, keeping stricter current settings.
    SetCisPasswordPolicy,
    /// Force a password change at next sign-in.
    RequirePasswordReset { user_name: String },
    /// Remove an unused user, after saving everything about it.
    DeleteUnusedUser { user_name: String },
    /// Create a multi-region trail with log file validation when none exists.
    CreateMultiRegionTrail {
        #[serde(skip_serializing_if = "Option::is_none")]
        bucket_name: Option<String>,
    },
    /// Turn an existing single-region trail multi-region (`update-trail`), rather than paying for a
    /// second trail.
    MakeTrailMultiRegion { trail_name: String },
    /// Turn on log file integrity validation on an existing trail (`update-trail`).
    EnableLogFileValidation { trail_name: String },
    /// Restart logging on a trail that was stopped.
    StartLogging { trail_name: String },
    /// Put back an account alias that was deleted.
    RestoreAccountAlias { alias: String },
    /// Replace a principal's own policies with the least-privilege policy generated from its usage
    /// (`audit unused`): put `policy_document` as the inline policy `policy_name`, then detach its
    /// managed policies and delete its other inline policies (saved first). Groups and boundary stay.
    ApplyGeneratedPolicy {
        principal_kind: IdentityKind,
        principal_name: String,
        policy_name: String,
        policy_document: String,
    },
    /// Remove an MFA deactivation's effect is not possible by API; this asks the user to re-enroll.
    /// Kept as an action so plans can list it as manual.
    Manual { description: String },
}

/// One version to revert, and whether it was made the default (`None`: not known).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadPolicyVersion {
    pub version_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub was_default: Option<bool>,
}

impl FixAction {
    /// Short, stable kind name used in plans and the journal.
    pub fn kind(&self) -> &'static str {
        match self {
            FixAction::RevertPolicyVersion { .. } => "revert_policy_version",
            FixAction::RevertPolicyVersions { .. } => "revert_policy_versions",
            FixAction::DetachPolicy { .. } => "detach_policy",
            FixAction::DeleteInlinePolicy { .. } => "delete_inline_policy",
            FixAction::DeactivateAccessKey { .. } => "deactivate_access_key",
            FixAction::DeleteLoginProfile { .. } => "delete_login_profile",
            FixAction::SetCisPasswordPolicy => "set_cis_password_policy",
            FixAction::RequirePasswordReset { .. } => "require_password_reset",
            FixAction::DeleteUnusedUser { .. } => "delete_unused_user",
            FixAction::CreateMultiRegionTrail { .. } => "create_multi_region_trail",
            FixAction::MakeTrailMultiRegion { .. } => "make_trail_multi_region",
            FixAction::EnableLogFileValidation { .. } => "enable_log_file_validation",
            FixAction::StartLogging { .. } => "start_logging",
            FixAction::RestoreAccountAlias { .. } => "restore_account_alias",
            FixAction::ApplyGeneratedPolicy { .. } => "apply_generated_policy",
            FixAction::Manual { .. } => "manual",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_round_trip_through_json_with_a_tag() {
        let action = FixAction::RevertPolicyVersion {
            policy_arn: "arn:aws:iam::111122223333:policy/p".into(),
            bad_version: "v3".into(),
            restore_version: Some("v2".into()),
            bad_version_was_default: Some(true),
        };
        let json = serde_json::to_value(&action).unwrap();
        assert_eq!(json["action"], "revert_policy_version");
        let back: FixAction = serde_json::from_value(json).unwrap();
        assert_eq!(back, action);
        assert_eq!(back.kind(), "revert_policy_version");
    }
}
