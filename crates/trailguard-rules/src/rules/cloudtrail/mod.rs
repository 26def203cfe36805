//! Built-in CloudTrail rules, one file per rule (`CT001`..), plus [`common`] helpers.
//!
//! Adding a rule: a file with `pub const META: RuleMeta`, the rule struct and its tests, then one line in
//! each list below. [`builtin_rules`] holds single-record rules, [`builtin_sequences`] the rules that need
//! state across records.

pub mod common;

pub mod access_analyzer_deleted;
pub mod access_key_created_for_another_user;
pub mod account_alias_created;
pub mod account_alias_deleted;
pub mod cloudtrail_logging_reduced;
pub mod cloudtrail_logging_stopped;
pub mod console_login_failure_burst;
pub mod console_login_without_mfa;
pub mod default_policy_version_changed;
pub mod document_risk;
pub mod federation_token_persistence;
pub mod login_profile_for_another_user;
pub mod mfa_device_removed;
pub mod new_user_given_access_key;
pub mod organization_left;
pub mod password_policy_deleted;
pub mod password_policy_weakened;
pub mod privileged_policy_attached;
pub mod risky_inline_policy;
pub mod risky_managed_policy_created;
pub mod risky_policy_version;
pub mod root_account_activity;
pub mod trust_policy_opened;
pub mod user_created_keyed_and_made_admin;

use crate::engine::{CloudTrailRule, SequenceRule};
use crate::meta::RuleMeta;

/// Metadata of every cloudtrail rule, in code order.
pub fn metas() -> Vec<&'static RuleMeta> {
    let mut metas: Vec<&'static RuleMeta> = builtin_rules()
        .iter()
        .map(|r| r.meta())
        .chain(builtin_sequences().iter().map(|r| r.meta()))
        .collect();
    metas.sort_by_key(|m| m.code);
    metas
}

/// Every single-record rule.
pub fn builtin_rules() -> Vec<Box<dyn CloudTrailRule>> {
    vec![
        Box::new(risky_policy_version::RiskyPolicyVersion),
        Box::new(default_policy_version_changed::DefaultPolicyVersionChanged),
        Box::new(risky_managed_policy_created::RiskyManagedPolicyCreated),
        Box::new(risky_inline_policy::RiskyInlinePolicy),
        Box::new(privileged_policy_attached::PrivilegedPolicyAttached),
        Box::new(account_alias_created::AccountAliasCreated),
        Box::new(account_alias_deleted::AccountAliasDeleted),
        Box::new(access_key_created_for_another_user::AccessKeyCreatedForAnotherUser),
        Box::new(login_profile_for_another_user::LoginProfileForAnotherUser),
        Box::new(trust_policy_opened::TrustPolicyOpened),
        Box::new(mfa_device_removed::MfaDeviceRemoved),
        Box::new(password_policy_deleted::PasswordPolicyDeleted),
        Box::new(password_policy_weakened::PasswordPolicyWeakened),
        Box::new(console_login_without_mfa::ConsoleLoginWithoutMfa),
        Box::new(cloudtrail_logging_stopped::CloudtrailLoggingStopped),
        Box::new(cloudtrail_logging_reduced::CloudtrailLoggingReduced),
        Box::new(organization_left::OrganizationLeft),
        Box::new(access_analyzer_deleted::AccessAnalyzerDeleted),
        Box::new(federation_token_persistence::FederationTokenPersistence),
    ]
}

/// Every sequence rule.
pub fn builtin_sequences() -> Vec<Box<dyn SequenceRule>> {
    vec![
        Box::new(root_account_activity::RootAccountActivity),
        Box::new(console_login_failure_burst::ConsoleLoginFailureBurst),
        Box::new(new_user_given_access_key::NewUserGivenAccessKey),
        Box::new(user_created_keyed_and_made_admin::UserCreatedKeyedAndMadeAdmin),
    ]
}
