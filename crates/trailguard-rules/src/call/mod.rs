//! One AWS API call, typed. A call renders itself as an AWS CLI command ([`Call::to_cli`]) or a boto3 line
//! ([`Call::to_python`]) from one description of it ([`Call::api_form`]), every value quoted by [`quote`].
//!
//! It lives in the rules crate so that both sides speak it: a rule renders the command it suggests in a
//! finding from the same value `trailguard fix` plans, journals, executes (the SDK dispatch stays in the
//! binary, `fix/aws.rs`) and undoes. What the user reviews is exactly what runs, and a command a rule
//! prints cannot quote a value differently from the script `fix` writes.
//!
//! Adding a call: one variant here and its `api_form` arm (the CLI and boto3 forms follow), and its SDK
//! arm in the binary's `Aws::execute`. The serde form of a call is the journal's: renaming a variant or a
//! field breaks reading old journals, so don't.

pub mod quote;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::remediation::IdentityKind;

/// Access key status, as IAM spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyStatus {
    Active,
    Inactive,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "Active",
            KeyStatus::Inactive => "Inactive",
        }
    }
}

/// The account password policy settings that `UpdateAccountPasswordPolicy` takes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordPolicySettings {
    pub minimum_password_length: Option<i32>,
    pub require_symbols: bool,
    pub require_numbers: bool,
    pub require_uppercase_characters: bool,
    pub require_lowercase_characters: bool,
    pub allow_users_to_change_password: bool,
    pub max_password_age: Option<i32>,
    pub password_reuse_prevention: Option<i32>,
    pub hard_expiry: bool,
}

/// A user's tag or a resource tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "snake_case")]
pub enum Call {
    SetDefaultPolicyVersion {
        policy_arn: String,
        version_id: String,
    },
    DeletePolicyVersion {
        policy_arn: String,
        version_id: String,
    },
    CreatePolicyVersion {
        policy_arn: String,
        policy_document: String,
        set_as_default: bool,
    },
    AttachPolicy {
        principal_kind: IdentityKind,
        principal_name: String,
        policy_arn: String,
    },
    DetachPolicy {
        principal_kind: IdentityKind,
        principal_name: String,
        policy_arn: String,
    },
    PutInlinePolicy {
        principal_kind: IdentityKind,
        principal_name: String,
        policy_name: String,
        policy_document: String,
    },
    DeleteInlinePolicy {
        principal_kind: IdentityKind,
        principal_name: String,
        policy_name: String,
    },
    UpdateAccessKey {
        user_name: String,
        access_key_id: String,
        status: KeyStatus,
    },
    DeleteAccessKey {
        user_name: String,
        access_key_id: String,
    },
    DeleteLoginProfile {
        user_name: String,
    },
    UpdateLoginProfile {
        user_name: String,
        password_reset_required: bool,
    },
    UpdateAccountPasswordPolicy(PasswordPolicySettings),
    DeleteAccountPasswordPolicy,
    CreateUser {
        user_name: String,
        path: Option<String>,
        permissions_boundary: Option<String>,
        tags: Vec<Tag>,
    },
    DeleteUser {
        user_name: String,
    },
    AddUserToGroup {
        group_name: String,
        user_name: String,
    },
    RemoveUserFromGroup {
        group_name: String,
        user_name: String,
    },
    DeactivateMfaDevice {
        user_name: String,
        serial_number: String,
    },
    DeleteSigningCertificate {
        user_name: String,
        certificate_id: String,
    },
    DeleteSshPublicKey {
        user_name: String,
        ssh_public_key_id: String,
    },
    DeleteServiceSpecificCredential {
        user_name: String,
        service_specific_credential_id: String,
    },
    CreateTrail {
        name: String,
        s3_bucket_name: String,
    },
    /// `UpdateTrail` with only the settings a fix changes (`None`: left as it is).
    UpdateTrail {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        is_multi_region_trail: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        include_global_service_events: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        enable_log_file_validation: Option<bool>,
    },
    StartLogging {
        name: String,
    },
    StopLogging {
        name: String,
    },
    DeleteTrail {
        name: String,
    },
    CreateAccountAlias {
        alias: String,
    },
    DeleteAccountAlias {
        alias: String,
    },
}

/// A call as the AWS API names it: service, operation and parameters (API member names).
pub struct ApiForm {
    pub service: &'static str,
    pub operation: &'static str,
    pub params: Vec<(&'static str, Value)>,
}

fn principal_op(
    kind: IdentityKind,
    user: &'static str,
    group: &'static str,
    role: &'static str,
) -> &'static str {
    match kind {
        IdentityKind::User => user,
        IdentityKind::Group => group,
        IdentityKind::Role => role,
    }
}

fn principal_param(kind: IdentityKind) -> &'static str {
    match kind {
        IdentityKind::User => "UserName",
        IdentityKind::Group => "GroupName",
        IdentityKind::Role => "RoleName",
    }
}

impl Call {
    /// The call in the API's own terms; the CLI and boto3 renderings derive from it.
    pub fn api_form(&self) -> ApiForm {
        use Call::*;
        let (service, operation, params): (&'static str, &'static str, Vec<(&'static str, Value)>) =
            match self {
                SetDefaultPolicyVersion {
                    policy_arn,
                    version_id,
                } => (
                    "iam",
                    "SetDefaultPolicyVersion",
                    vec![
                        ("PolicyArn", json!(policy_arn)),
                        ("VersionId", json!(version_id)),
                    ],
                ),
                DeletePolicyVersion {
                    policy_arn,
                    version_id,
                } => (
                    "iam",
                    "DeletePolicyVersion",
                    vec![
                        ("PolicyArn", json!(policy_arn)),
                        ("VersionId", json!(version_id)),
                    ],
                ),
                CreatePolicyVersion {
                    policy_arn,
                    policy_document,
                    set_as_default,
                } => (
                    "iam",
                    "CreatePolicyVersion",
                    vec![
                        ("PolicyArn", json!(policy_arn)),
                        ("PolicyDocument", json!(policy_document)),
                        ("SetAsDefault", json!(set_as_default)),
                    ],
                ),
                AttachPolicy {
                    principal_kind,
                    principal_name,
                    policy_arn,
                } => (
                    "iam",
                    principal_op(
                        *principal_kind,
                        "AttachUserPolicy",
                        "AttachGroupPolicy",
                        "AttachRolePolicy",
                    ),
                    vec![
                        (principal_param(*principal_kind), json!(principal_name)),
                        ("PolicyArn", json!(policy_arn)),
                    ],
                ),
                DetachPolicy {
                    principal_kind,
                    principal_name,
                    policy_arn,
                } => (
                    "iam",
                    principal_op(
                        *principal_kind,
                        "DetachUserPolicy",
                        "DetachGroupPolicy",
                        "DetachRolePolicy",
                    ),
                    vec![
                        (principal_param(*principal_kind), json!(principal_name)),
                        ("PolicyArn", json!(policy_arn)),
                    ],
                ),
                PutInlinePolicy {
                    principal_kind,
                    principal_name,
                    policy_name,
                    policy_document,
                } => (
                    "iam",
                    principal_op(
                        *principal_kind,
                        "PutUserPolicy",
                        "PutGroupPolicy",
                        "PutRolePolicy",
                    ),
                    vec![
                        (principal_param(*principal_kind), json!(principal_name)),
                        ("PolicyName", json!(policy_name)),
                        ("PolicyDocument", json!(policy_document)),
                    ],
                ),
                DeleteInlinePolicy {
                    principal_kind,
                    principal_name,
                    policy_name,
                } => (
                    "iam",
                    principal_op(
                        *principal_kind,
                        "DeleteUserPolicy",
                        "DeleteGroupPolicy",
                        "DeleteRolePolicy",
                    ),
                    vec![
                        (principal_param(*principal_kind), json!(principal_name)),
                        ("PolicyName", json!(policy_name)),
                    ],
                ),
                UpdateAccessKey {
                    user_name,
                    access_key_id,
                    status,
                } => (
                    "iam",
                    "UpdateAccessKey",
                    vec![
                        ("UserName", json!(user_name)),
                        ("AccessKeyId", json!(access_key_id)),
                        ("Status", json!(status.as_str())),
                    ],
                ),
                DeleteAccessKey {
                    user_name,
                    access_key_id,
                } => (
                    "iam",
                    "DeleteAccessKey",
                    vec![
                        ("UserName", json!(user_name)),
                        ("AccessKeyId", json!(access_key_id)),
                    ],
                ),
                DeleteLoginProfile { user_name } => (
                    "iam",
                    "DeleteLoginProfile",
                    vec![("UserName", json!(user_name))],
                ),
                UpdateLoginProfile {
                    user_name,
                    password_reset_required,
                } => (
                    "iam",
                    "UpdateLoginProfile",
                    vec![
                        ("UserName", json!(user_name)),
                        ("PasswordResetRequired", json!(password_reset_required)),
                    ],
                ),
                UpdateAccountPasswordPolicy(p) => {
                    let mut params = Vec::new();
                    if let Some(n) = p.minimum_password_length {
                        params.push(("MinimumPasswordLength", json!(n)));
                    }
                    params.push(("RequireSymbols", json!(p.require_symbols)));
                    params.push(("RequireNumbers", json!(p.require_numbers)));
                    params.push((
                        "RequireUppercaseCharacters",
                        json!(p.require_uppercase_characters),
                    ));
                    params.push((
                        "RequireLowercaseCharacters",
                        json!(p.require_lowercase_characters),
                    ));
                    params.push((
                        "AllowUsersToChangePassword",
                        json!(p.allow_users_to_change_password),
                    ));
                    if let Some(n) = p.max_password_age {
                        params.push(("MaxPasswordAge", json!(n)));
                    }
                    if let Some(n) = p.password_reuse_prevention {
                        params.push(("PasswordReusePrevention", json!(n)));
                    }
                    params.push(("HardExpiry", json!(p.hard_expiry)));
                    ("iam", "UpdateAccountPasswordPolicy", params)
                }
                DeleteAccountPasswordPolicy => ("iam", "DeleteAccountPasswordPolicy", vec![]),
                CreateUser {
                    user_name,
                    path,
                    permissions_boundary,
                    tags,
                } => {
                    let mut params = vec![("UserName", json!(user_name))];
                    if let Some(path) = path {
                        params.push(("Path", json!(path)));
                    }
                    if let Some(b) = permissions_boundary {
                        params.push(("PermissionsBoundary", json!(b)));
                    }
                    if !tags.is_empty() {
                        let tags: Vec<Value> = tags
                            .iter()
                            .map(|t| json!({"Key": t.key, "Value": t.value}))
                            .collect();
                        params.push(("Tags", Value::Array(tags)));
                    }
                    ("iam", "CreateUser", params)
                }
                DeleteUser { user_name } => {
                    ("iam", "DeleteUser", vec![("UserName", json!(user_name))])
                }
                AddUserToGroup {
                    group_name,
                    user_name,
                } => (
                    "iam",
                    "AddUserToGroup",
                    vec![
                        ("GroupName", json!(group_name)),
                        ("UserName", json!(user_name)),
                    ],
                ),
                RemoveUserFromGroup {
                    group_name,
                    user_name,
                } => (
                    "iam",
                    "RemoveUserFromGroup",
                    vec![
                        ("GroupName", json!(group_name)),
                        ("UserName", json!(user_name)),
                    ],
                ),
                DeactivateMfaDevice {
                    user_name,
                    serial_number,
                } => (
                    "iam",
                    "DeactivateMFADevice",
                    vec![
                        ("UserName", json!(user_name)),
                        ("SerialNumber", json!(serial_number)),
                    ],
                ),
                DeleteSigningCertificate {
                    user_name,
                    certificate_id,
                } => (
                    "iam",
                    "DeleteSigningCertificate",
                    vec![
                        ("UserName", json!(user_name)),
                        ("CertificateId", json!(certificate_id)),
                    ],
                ),
                DeleteSshPublicKey {
                    user_name,
                    ssh_public_key_id,
                } => (
                    "iam",
                    "DeleteSSHPublicKey",
                    vec![
                        ("UserName", json!(user_name)),
                        ("SSHPublicKeyId", json!(ssh_public_key_id)),
                    ],
                ),
                DeleteServiceSpecificCredential {
                    user_name,
                    service_specific_credential_id,
                } => (
                    "iam",
                    "DeleteServiceSpecificCredential",
                    vec![
                        ("UserName", json!(user_name)),
                        (
                            "ServiceSpecificCredentialId",
                            json!(service_specific_credential_id),
                        ),
                    ],
                ),
                CreateTrail {
                    name,
                    s3_bucket_name,
                } => (
                    "cloudtrail",
                    "CreateTrail",
                    vec![
                        ("Name", json!(name)),
                        ("S3BucketName", json!(s3_bucket_name)),
                        ("IsMultiRegionTrail", json!(true)),
                        ("IncludeGlobalServiceEvents", json!(true)),
                        ("EnableLogFileValidation", json!(true)),
                    ],
                ),
                UpdateTrail {
                    name,
                    is_multi_region_trail,
                    include_global_service_events,
                    enable_log_file_validation,
                } => {
                    let mut params = vec![("Name", json!(name))];
                    let settings = [
                        ("IsMultiRegionTrail", is_multi_region_trail),
                        ("IncludeGlobalServiceEvents", include_global_service_events),
                        ("EnableLogFileValidation", enable_log_file_validation),
                    ];
                    for (param, value) in settings {
                        if let Some(on) = value {
                            params.push((param, json!(on)));
                        }
                    }
                    ("cloudtrail", "UpdateTrail", params)
                }
                StartLogging { name } => {
                    ("cloudtrail", "StartLogging", vec![("Name", json!(name))])
                }
                StopLogging { name } => ("cloudtrail", "StopLogging", vec![("Name", json!(name))]),
                DeleteTrail { name } => ("cloudtrail", "DeleteTrail", vec![("Name", json!(name))]),
                CreateAccountAlias { alias } => (
                    "iam",
                    "CreateAccountAlias",
                    vec![("AccountAlias", json!(alias))],
                ),
                DeleteAccountAlias { alias } => (
                    "iam",
                    "DeleteAccountAlias",
                    vec![("AccountAlias", json!(alias))],
                ),
            };
        ApiForm {
            service,
            operation,
            params,
        }
    }

    /// The AWS CLI command that makes this call, every value one shell word ([`quote::shell_word_shown`]):
    /// a value holding NUL (which no shell word can carry) is shown as `<NUL: ...>`; [`Call::holds_nul`]
    /// lets plans and scripts refuse such a call.
    pub fn to_cli(&self) -> String {
        let form = self.api_form();
        let mut cmd = format!("aws {} {}", form.service, cli_name(form.operation, '-'));
        let word = quote::shell_word_shown;
        for (name, value) in &form.params {
            let flag = cli_name(name, '-');
            match value {
                Value::Bool(true) => cmd.push_str(&format!(" --{flag}")),
                Value::Bool(false) => cmd.push_str(&format!(" --no-{flag}")),
                Value::String(s) => cmd.push_str(&format!(" --{flag} {}", word(s))),
                Value::Number(n) => cmd.push_str(&format!(" --{flag} {n}")),
                other => cmd.push_str(&format!(" --{flag} {}", word(&other.to_string()))),
            }
        }
        cmd
    }

    /// Whether any value of the call holds NUL: no AWS name can, and no shell word can carry one.
    pub fn holds_nul(&self) -> bool {
        fn nul(value: &Value) -> bool {
            match value {
                Value::String(s) => s.contains('\0'),
                Value::Array(items) => items.iter().any(nul),
                Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || nul(v)),
                _ => false,
            }
        }
        self.api_form().params.iter().any(|(_, value)| nul(value))
    }

    /// The boto3 line that makes this call, on a client variable named after the service.
    pub fn to_python(&self) -> String {
        let form = self.api_form();
        let args: Vec<String> = form
            .params
            .iter()
            .map(|(name, value)| format!("{name}={}", python_literal(value)))
            .collect();
        format!(
            "{}.{}({})",
            form.service,
            cli_name(form.operation, '_'),
            args.join(", ")
        )
    }
}

/// botocore's name transform: `DeactivateMFADevice` → `deactivate-mfa-device`, `SSHPublicKeyId` →
/// `ssh-public-key-id`.
pub fn cli_name(api_name: &str, sep: char) -> String {
    let chars: Vec<char> = api_name.chars().collect();
    let mut out = String::with_capacity(api_name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_is_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_is_lower)
            {
                out.push(sep);
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

fn python_literal(value: &Value) -> String {
    match value {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => quote::python_str(s),
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(python_literal)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{}: {}", quote::python_str(k), python_literal(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_botocore() {
        assert_eq!(
            cli_name("DeactivateMFADevice", '-'),
            "deactivate-mfa-device"
        );
        assert_eq!(cli_name("SSHPublicKeyId", '-'), "ssh-public-key-id");
        assert_eq!(cli_name("DeleteSSHPublicKey", '_'), "delete_ssh_public_key");
        assert_eq!(cli_name("S3BucketName", '-'), "s3-bucket-name");
        assert_eq!(cli_name("PolicyArn", '-'), "policy-arn");
    }

    #[test]
    fn renders_cli_and_python() {
        let call = Call::SetDefaultPolicyVersion {
            policy_arn: "arn:aws:iam::111122223333:policy/app".into(),
            version_id: "v1".into(),
        };
        assert_eq!(
            call.to_cli(),
            "aws iam set-default-policy-version --policy-arn arn:aws:iam::111122223333:policy/app --version-id v1"
        );
        assert_eq!(
            call.to_python(),
            r#"iam.set_default_policy_version(PolicyArn="arn:aws:iam::111122223333:policy/app", VersionId="v1")"#
        );
        let reset = Call::UpdateLoginProfile {
            user_name: "bob smith".into(),
            password_reset_required: true,
        };
        assert_eq!(
            reset.to_cli(),
            "aws iam update-login-profile --user-name 'bob smith' --password-reset-required"
        );
        assert!(reset.to_python().ends_with("PasswordResetRequired=True)"));
    }

    #[test]
    fn calls_round_trip_through_the_journal_format() {
        let call = Call::PutInlinePolicy {
            principal_kind: IdentityKind::Role,
            principal_name: "app".into(),
            policy_name: "p".into(),
            policy_document: r#"{"Version":"2012-10-17","Statement":[]}"#.into(),
        };
        let json = serde_json::to_string(&call).unwrap();
        assert_eq!(serde_json::from_str::<Call>(&json).unwrap(), call);
        assert!(call
            .to_cli()
            .starts_with("aws iam put-role-policy --role-name app"));
    }
}
