//! Built-in CloudTrail rules, one file per rule (`CT001`..), plus helpers: [`common`] (every rule),
//! [`burst`] (the burst sequences) and [`cis_monitoring`] (the CIS section 4 monitoring rules).
//!
//! Adding a rule: a file with `pub const META: RuleMeta`, the rule struct and its tests, then one line in
//! each list below. [`builtin_rules`] holds single-record rules, [`builtin_sequences`] the rules that need
//! state across records.

pub mod common;

pub mod access_analyzer_deleted;
pub mod access_denied_burst;
pub mod access_key_created_for_another_user;
pub mod account_alias_created;
pub mod account_alias_deleted;
pub mod burst;
pub mod cis_monitoring;
pub mod cloudtrail_config_changed;
pub mod cloudtrail_logging_reduced;
pub mod cloudtrail_logging_stopped;
pub mod config_recording_changed;
pub mod console_login_failure_burst;
pub mod console_login_without_mfa;
pub mod default_policy_version_changed;
pub mod delivery_silent;
pub mod document_risk;
pub mod federation_token_persistence;
pub mod iam_change_recorded;
pub mod identity_center_access_granted;
pub mod identity_center_sign_in;
pub mod identity_enumeration_burst;
pub mod identity_provider_changed;
pub mod kms_key_disabled_or_deleted;
pub mod leaked_key_quarantined;
pub mod login_profile_for_another_user;
pub mod mfa_device_removed;
pub mod network_acl_changed;
pub mod network_gateway_changed;
pub mod new_user_given_access_key;
pub mod organization_account_added;
pub mod organization_changed;
pub mod organization_guardrail_removed;
pub mod organization_left;
pub mod own_access_key_added;
pub mod own_password_changed;
pub mod password_data_burst;
pub mod password_policy_deleted;
pub mod password_policy_weakened;
pub mod privileged_policy_attached;
pub mod risky_inline_policy;
pub mod risky_managed_policy_created;
pub mod risky_policy_version;
pub mod roles_anywhere_trust_changed;
pub mod root_account_activity;
pub mod root_console_login_failed;
pub mod route_table_changed;
pub mod s3_bucket_policy_changed;
pub mod security_group_changed;
pub mod session_token_for_iam_user;
pub mod signin_token_from_keys;
pub mod trail_bucket_tampered;
pub mod trust_policy_opened;
pub mod user_created_keyed_and_made_admin;
pub mod vpc_changed;

use crate::engine::{CloudTrailRule, SequenceRule};
use crate::meta::RuleMeta;

/// Metadata of every cloudtrail rule, in code order.
pub fn metas() -> Vec<&'static RuleMeta> {
    let mut metas: Vec<&'static RuleMeta> = builtin_rules()
        .iter()
        .map(|r| r.meta())
        .chain(builtin_sequences().iter().map(|r| r.meta()))
        .chain([&delivery_silent::META])
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
        Box::new(root_console_login_failed::RootConsoleLoginFailed),
        Box::new(leaked_key_quarantined::LeakedKeyQuarantined),
        Box::new(identity_provider_changed::IdentityProviderChanged),
        Box::new(roles_anywhere_trust_changed::RolesAnywhereTrustChanged),
        Box::new(own_access_key_added::OwnAccessKeyAdded),
        Box::new(session_token_for_iam_user::SessionTokenForIamUser),
        Box::new(signin_token_from_keys::SigninTokenFromKeys),
        Box::new(own_password_changed::OwnPasswordChanged),
        Box::new(organization_account_added::OrganizationAccountAdded),
        Box::new(organization_guardrail_removed::OrganizationGuardrailRemoved),
        Box::new(identity_center_access_granted::IdentityCenterAccessGranted),
        Box::new(identity_center_sign_in::IdentityCenterSignIn),
        Box::new(cloudtrail_config_changed::CloudtrailConfigChanged),
        Box::new(kms_key_disabled_or_deleted::KmsKeyDisabledOrDeleted),
        Box::new(s3_bucket_policy_changed::S3BucketPolicyChanged),
        Box::new(config_recording_changed::ConfigRecordingChanged),
        Box::new(security_group_changed::SecurityGroupChanged),
        Box::new(network_acl_changed::NetworkAclChanged),
        Box::new(network_gateway_changed::NetworkGatewayChanged),
        Box::new(route_table_changed::RouteTableChanged),
        Box::new(vpc_changed::VpcChanged),
        Box::new(organization_changed::OrganizationChanged),
        Box::new(iam_change_recorded::IamChangeRecorded),
    ]
}

/// Every sequence rule.
pub fn builtin_sequences() -> Vec<Box<dyn SequenceRule>> {
    vec![
        Box::new(root_account_activity::RootAccountActivity),
        Box::new(console_login_failure_burst::ConsoleLoginFailureBurst),
        Box::new(new_user_given_access_key::NewUserGivenAccessKey),
        Box::new(user_created_keyed_and_made_admin::UserCreatedKeyedAndMadeAdmin),
        Box::new(password_data_burst::PasswordDataBurst),
        Box::new(identity_enumeration_burst::IdentityEnumerationBurst),
        Box::new(access_denied_burst::AccessDeniedBurst),
        Box::new(trail_bucket_tampered::TrailBucketTampered),
    ]
}
