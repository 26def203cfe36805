//! Built-in CloudTrail rules, one file per rule (`CT001`..), plus helpers: [`common`] (every rule),
//! [`burst`] (the burst sequences), [`cis_monitoring`] (the CIS section 4 monitoring rules),
//! [`document_risk`] (what a policy document in a record grants), [`outsiders`] (who outside the account
//! a policy lets in) and `spans` (the time spans a principal's calls form, shared by the burst and
//! root-session folds).
//!
//! Adding a rule: a file with `pub const META: RuleMeta` and the rule (a [`crate::rule::CloudTrailRule`]
//! on one record, or a [`crate::rule::SequenceRule`] over records in time), its cases file, and one line
//! below ([`crate::registry`]).

pub mod burst;
pub mod cis_monitoring;
pub mod common;
pub mod document_risk;
pub mod outsiders;
pub(crate) mod spans;

crate::registry::register! { cloudtrail:
    single risky_policy_version::RiskyPolicyVersion,
    single default_policy_version_changed::DefaultPolicyVersionChanged,
    single risky_managed_policy_created::RiskyManagedPolicyCreated,
    single risky_inline_policy::RiskyInlinePolicy,
    single privileged_policy_attached::PrivilegedPolicyAttached,
    single account_alias_created::AccountAliasCreated,
    single account_alias_deleted::AccountAliasDeleted,
    single access_key_created_for_another_user::AccessKeyCreatedForAnotherUser,
    single login_profile_for_another_user::LoginProfileForAnotherUser,
    single trust_policy_opened::TrustPolicyOpened,
    single mfa_device_removed::MfaDeviceRemoved,
    single password_policy_deleted::PasswordPolicyDeleted,
    single password_policy_weakened::PasswordPolicyWeakened,
    sequence root_account_activity::RootAccountActivity,
    single console_login_without_mfa::ConsoleLoginWithoutMfa,
    sequence console_login_failure_burst::ConsoleLoginFailureBurst,
    single cloudtrail_logging_stopped::CloudtrailLoggingStopped,
    single cloudtrail_logging_reduced::CloudtrailLoggingReduced,
    sequence new_user_given_access_key::NewUserGivenAccessKey,
    sequence user_created_keyed_and_made_admin::UserCreatedKeyedAndMadeAdmin,
    single organization_left::OrganizationLeft,
    single access_analyzer_deleted::AccessAnalyzerDeleted,
    single federation_token_persistence::FederationTokenPersistence,
    single root_console_login_failed::RootConsoleLoginFailed,
    single leaked_key_quarantined::LeakedKeyQuarantined,
    single identity_provider_changed::IdentityProviderChanged,
    single roles_anywhere_trust_changed::RolesAnywhereTrustChanged,
    single own_access_key_added::OwnAccessKeyAdded,
    single session_token_for_iam_user::SessionTokenForIamUser,
    single signin_token_from_keys::SigninTokenFromKeys,
    single own_password_changed::OwnPasswordChanged,
    sequence password_data_burst::PasswordDataBurst,
    sequence identity_enumeration_burst::IdentityEnumerationBurst,
    sequence access_denied_burst::AccessDeniedBurst,
    single organization_account_added::OrganizationAccountAdded,
    single organization_guardrail_removed::OrganizationGuardrailRemoved,
    single identity_center_access_granted::IdentityCenterAccessGranted,
    single identity_center_sign_in::IdentityCenterSignIn,
    sequence trail_bucket_tampered::TrailBucketTampered,
    single cloudtrail_config_changed::CloudtrailConfigChanged,
    single kms_key_disabled_or_deleted::KmsKeyDisabledOrDeleted,
    single s3_bucket_policy_changed::S3BucketPolicyChanged,
    single config_recording_changed::ConfigRecordingChanged,
    single security_group_changed::SecurityGroupChanged,
    single network_acl_changed::NetworkAclChanged,
    single network_gateway_changed::NetworkGatewayChanged,
    single route_table_changed::RouteTableChanged,
    single vpc_changed::VpcChanged,
    single organization_changed::OrganizationChanged,
    single iam_change_recorded::IamChangeRecorded,
    raised delivery_silent::DeliverySilent,
    sequence privileged_permission_set_assigned::PrivilegedPermissionSetAssigned,
    single security_hub_disabled::SecurityHubDisabled,
    raised escalation_path_opened::EscalationPathOpened,
    raised mute_expired::MuteExpired,
    single roles_anywhere_revocation_weakened::RolesAnywhereRevocationWeakened,
    sequence secrets_bulk_read::SecretsBulkRead,
    single alternate_credential_created::AlternateCredentialCreated,
    single root_session_assumed::RootSessionAssumed,
    single iam_changed_by_instance::IamChangedByInstance,
    single mfa_device_enabled_for_another_user::MfaDeviceEnabledForAnotherUser,
    single lambda_function_opened::LambdaFunctionOpened,
    single instance_ssh_key_pushed::InstanceSshKeyPushed,
    single resource_shared_outside::ResourceSharedOutside,
    sequence principal_enumeration_burst::PrincipalEnumerationBurst,
    single guardduty_disrupted::GuarddutyDisrupted,
    single network_logging_removed::NetworkLoggingRemoved,
    single permissions_boundary_removed::PermissionsBoundaryRemoved,
    single mfa_check_failed::MfaCheckFailed,
    single instance_user_data_changed::InstanceUserDataChanged,
}
