//! The account snapshot model: typed views of the JSON the AWS CLI prints for each saved call.
//!
//! Field names follow the CLI output exactly (PascalCase for IAM and CloudTrail, camelCase for Access
//! Analyzer), so a file saved with `aws ... > file.json` deserialises as is. Every field that AWS may
//! omit has a default; timestamps stay strings (the CLI and the SDKs print several shapes) and are
//! parsed on use by [`crate::time::parse_aws_time`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `aws iam get-account-authorization-details`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AuthorizationDetails {
    pub user_detail_list: Vec<UserDetail>,
    pub group_detail_list: Vec<GroupDetail>,
    pub role_detail_list: Vec<RoleDetail>,
    pub policies: Vec<ManagedPolicyDetail>,
}

/// An inline policy as listed in the authorization details (`UserPolicyList` and friends).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InlinePolicy {
    pub policy_name: String,
    /// The document as a JSON object (the CLI decodes it; the raw API gives a URL-encoded string,
    /// which the loader decodes before checks see it).
    pub policy_document: Value,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AttachedPolicy {
    pub policy_name: String,
    pub policy_arn: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PermissionsBoundary {
    pub permissions_boundary_type: String,
    pub permissions_boundary_arn: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UserDetail {
    pub path: String,
    pub user_name: String,
    pub user_id: String,
    pub arn: String,
    pub create_date: String,
    pub user_policy_list: Vec<InlinePolicy>,
    pub group_list: Vec<String>,
    pub attached_managed_policies: Vec<AttachedPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions_boundary: Option<PermissionsBoundary>,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GroupDetail {
    pub path: String,
    pub group_name: String,
    pub group_id: String,
    pub arn: String,
    pub create_date: String,
    pub group_policy_list: Vec<InlinePolicy>,
    pub attached_managed_policies: Vec<AttachedPolicy>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RoleLastUsed {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RoleDetail {
    pub path: String,
    pub role_name: String,
    pub role_id: String,
    pub arn: String,
    pub create_date: String,
    pub assume_role_policy_document: Value,
    /// Kept as JSON: no check needs more than the count.
    pub instance_profile_list: Vec<Value>,
    pub role_policy_list: Vec<InlinePolicy>,
    pub attached_managed_policies: Vec<AttachedPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions_boundary: Option<PermissionsBoundary>,
    pub tags: Vec<Tag>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_last_used: Option<RoleLastUsed>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PolicyVersion {
    pub document: Value,
    pub version_id: String,
    pub is_default_version: bool,
    pub create_date: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ManagedPolicyDetail {
    pub policy_name: String,
    pub policy_id: String,
    pub arn: String,
    pub path: String,
    pub default_version_id: String,
    /// `null` in some tools' output, hence optional.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions_boundary_usage_count: Option<i64>,
    pub is_attachable: bool,
    pub create_date: String,
    pub update_date: String,
    pub policy_version_list: Vec<PolicyVersion>,
}

impl ManagedPolicyDetail {
    /// The document of the default version (the one in force), if the listing carries it.
    pub fn default_document(&self) -> Option<&Value> {
        self.policy_version_list
            .iter()
            .find(|v| v.is_default_version || v.version_id == self.default_version_id)
            .map(|v| &v.document)
    }

    /// AWS managed policies live under the `aws` account in their ARN.
    pub fn is_aws_managed(&self) -> bool {
        self.arn.starts_with("arn:aws:iam::aws:") || self.arn.contains(":iam::aws:policy/")
    }
}

/// `aws iam get-credential-report`: `Content` is base64 of a CSV.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CredentialReportFile {
    pub content: String,
    pub report_format: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated_time: Option<String>,
}

/// One row of the credential report. Values stay as AWS prints them (`N/A`, `no_information`,
/// `not_supported`, `true`, an ISO 8601 time); helpers interpret them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CredentialReportRow {
    pub user: String,
    pub arn: String,
    pub user_creation_time: String,
    pub password_enabled: String,
    pub password_last_used: String,
    pub password_last_changed: String,
    pub password_next_rotation: String,
    pub mfa_active: String,
    pub access_key_1_active: String,
    pub access_key_1_last_rotated: String,
    pub access_key_1_last_used_date: String,
    pub access_key_1_last_used_region: String,
    pub access_key_1_last_used_service: String,
    pub access_key_2_active: String,
    pub access_key_2_last_rotated: String,
    pub access_key_2_last_used_date: String,
    pub access_key_2_last_used_region: String,
    pub access_key_2_last_used_service: String,
    pub cert_1_active: String,
    pub cert_1_last_rotated: String,
    pub cert_2_active: String,
    pub cert_2_last_rotated: String,
}

/// The root account's row in the credential report is named `<root_account>`.
pub const ROOT_ROW_USER: &str = "<root_account>";

impl CredentialReportRow {
    pub fn is_root(&self) -> bool {
        self.user == ROOT_ROW_USER
    }
    pub fn password_enabled(&self) -> bool {
        self.password_enabled.eq_ignore_ascii_case("true")
    }
    pub fn mfa_active(&self) -> bool {
        self.mfa_active.eq_ignore_ascii_case("true")
    }
    /// The two access key slots, as views.
    pub fn access_keys(&self) -> [AccessKeySlot<'_>; 2] {
        [
            AccessKeySlot {
                slot: 1,
                active: self.access_key_1_active.eq_ignore_ascii_case("true"),
                last_rotated: &self.access_key_1_last_rotated,
                last_used_date: &self.access_key_1_last_used_date,
                last_used_service: &self.access_key_1_last_used_service,
            },
            AccessKeySlot {
                slot: 2,
                active: self.access_key_2_active.eq_ignore_ascii_case("true"),
                last_rotated: &self.access_key_2_last_rotated,
                last_used_date: &self.access_key_2_last_used_date,
                last_used_service: &self.access_key_2_last_used_service,
            },
        ]
    }
}

/// One of a user's two access key slots in the credential report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessKeySlot<'a> {
    pub slot: u8,
    pub active: bool,
    pub last_rotated: &'a str,
    pub last_used_date: &'a str,
    pub last_used_service: &'a str,
}

/// The decoded credential report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CredentialReport {
    pub generated_time: Option<String>,
    pub rows: Vec<CredentialReportRow>,
}

impl CredentialReport {
    pub fn root(&self) -> Option<&CredentialReportRow> {
        self.rows.iter().find(|r| r.is_root())
    }
    /// IAM users (every row but root).
    pub fn users(&self) -> impl Iterator<Item = &CredentialReportRow> {
        self.rows.iter().filter(|r| !r.is_root())
    }
}

/// `aws iam get-account-password-policy`. An account with no policy is saved as `{}` (the CLI
/// itself fails with `NoSuchEntity`; `audit snapshot` writes `{}` in that case).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PasswordPolicyFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_policy: Option<PasswordPolicy>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PasswordPolicy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum_password_length: Option<i64>,
    pub require_symbols: bool,
    pub require_numbers: bool,
    pub require_uppercase_characters: bool,
    pub require_lowercase_characters: bool,
    pub allow_users_to_change_password: bool,
    pub expire_passwords: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_password_age: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_reuse_prevention: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hard_expiry: Option<bool>,
}

/// `aws iam get-account-summary`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AccountSummaryFile {
    pub summary_map: BTreeMap<String, i64>,
}

/// `aws iam list-account-aliases`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AccountAliasesFile {
    pub account_aliases: Vec<String>,
}

/// `aws iam list-virtual-mfa-devices`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VirtualMfaDevicesFile {
    #[serde(rename = "VirtualMFADevices")]
    pub virtual_mfa_devices: Vec<VirtualMfaDevice>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VirtualMfaDevice {
    pub serial_number: String,
    /// Present when the device is assigned to (enabled for) a user or root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<MfaDeviceUser>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_date: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MfaDeviceUser {
    pub user_name: String,
    pub arn: String,
}

/// `aws iam list-server-certificates` (an addition to the list: needed by the expired
/// certificate check).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServerCertificatesFile {
    pub server_certificate_metadata_list: Vec<ServerCertificate>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServerCertificate {
    pub path: String,
    pub server_certificate_name: String,
    pub server_certificate_id: String,
    pub arn: String,
    pub upload_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration: Option<String>,
}

/// `aws sts get-caller-identity` (optional: names the account when no ARN elsewhere does).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CallerIdentityFile {
    pub user_id: String,
    pub account: String,
    pub arn: String,
}

/// `aws cloudtrail describe-trails`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DescribeTrailsFile {
    pub trail_list: Vec<Trail>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Trail {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3_bucket_name: Option<String>,
    pub include_global_service_events: bool,
    pub is_multi_region_trail: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub home_region: Option<String>,
    #[serde(rename = "TrailARN")]
    pub trail_arn: String,
    pub log_file_validation_enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    pub has_custom_event_selectors: bool,
    pub is_organization_trail: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud_watch_logs_log_group_arn: Option<String>,
}

/// `aws cloudtrail get-trail-status --name NAME`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TrailStatus {
    pub is_logging: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest_delivery_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_logging_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_logging_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest_delivery_error: Option<String>,
}

/// `aws cloudtrail get-event-selectors --trail-name NAME`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EventSelectorsFile {
    #[serde(rename = "TrailARN")]
    pub trail_arn: String,
    pub event_selectors: Vec<EventSelector>,
    pub advanced_event_selectors: Vec<AdvancedEventSelector>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EventSelector {
    pub read_write_type: String,
    pub include_management_events: bool,
    pub exclude_management_event_sources: Vec<String>,
    pub data_resources: Vec<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AdvancedEventSelector {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub field_selectors: Vec<AdvancedFieldSelector>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AdvancedFieldSelector {
    pub field: String,
    pub equals: Vec<String>,
    pub not_equals: Vec<String>,
}

impl EventSelectorsFile {
    /// Whether the selectors record all (read and write) management events with no source excluded.
    pub fn logs_all_management_events(&self) -> bool {
        if !self.advanced_event_selectors.is_empty() {
            return self.advanced_event_selectors.iter().any(|sel| {
                let category_management = sel.field_selectors.iter().any(|f| {
                    f.field == "eventCategory" && f.equals.iter().any(|v| v == "Management")
                });
                // Any other narrowing (readOnly, excluded sources) means not all management events.
                let narrowed = sel
                    .field_selectors
                    .iter()
                    .any(|f| f.field != "eventCategory");
                category_management && !narrowed
            });
        }
        // A trail with no selectors at all logs all management events (the default).
        if self.event_selectors.is_empty() {
            return true;
        }
        self.event_selectors.iter().any(|s| {
            s.include_management_events
                && s.read_write_type.eq_ignore_ascii_case("All")
                && s.exclude_management_event_sources.is_empty()
        })
    }
}

/// `aws accessanalyzer list-analyzers`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AnalyzersFile {
    pub analyzers: Vec<Analyzer>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Analyzer {
    pub arn: String,
    pub name: String,
    #[serde(rename = "type")]
    pub analyzer_type: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
}

/// `aws iam list-access-keys --user-name NAME` (an addition to the list: the credential report
/// names key slots, not key ids, and a deactivation needs the id).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AccessKeysFile {
    pub access_key_metadata: Vec<AccessKeyMetadata>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AccessKeyMetadata {
    pub user_name: String,
    pub access_key_id: String,
    pub status: String,
    pub create_date: String,
}
