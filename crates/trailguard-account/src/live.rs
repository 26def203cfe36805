//! The live collector: read-only AWS SDK calls that save the same JSON files an auditor would save
//! with the AWS CLI, so a live audit goes through [`AccountSnapshot::from_raw`] like an offline one.
//!
//! Credentials come from the SDK's usual chain (`--profile`, environment, SSO, instance role);
//! throttling is retried with the SDK's standard mode and more attempts than the default. A call
//! that fails (access denied, a service moto lacks) is recorded as a [`SnapshotProblem`] and the
//! collection goes on; only an unusable identity (`sts:GetCallerIdentity` fails) stops it.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use chrono::DateTime;
use serde::Serialize;
use serde_json::Value;

use crate::aws::AwsTarget;
use crate::model::*;
use crate::snapshot::{self, RawSnapshot, SnapshotProblem};
use crate::time::format_aws_time;

/// How to reach the account.
#[derive(Debug, Clone, Default)]
pub struct LiveOptions {
    pub profile: Option<String>,
    pub region: Option<String>,
    /// A custom endpoint for every service (a moto server in tests, a VPC endpoint, ...).
    pub endpoint_url: Option<String>,
    /// Attempts per call including the first (throttling, transient errors). 0 = default (10).
    pub max_attempts: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    #[error("cannot identify the caller (sts:GetCallerIdentity failed; check credentials, `--profile` and `--endpoint-url`): {0}")]
    Identity(String),
}

/// Receives one line per step, for a progress display.
pub trait Progress {
    fn step(&self, message: &str);
}

/// A progress sink that says nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn step(&self, _message: &str) {}
}

/// Collects a snapshot of the account, blocking on a private runtime.
pub fn collect(options: &LiveOptions, progress: &dyn Progress) -> Result<RawSnapshot, LiveError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(LiveError::Runtime)?;
    runtime.block_on(collect_async(options, progress))
}

/// Collects a snapshot of the account.
pub async fn collect_async(
    options: &LiveOptions,
    progress: &dyn Progress,
) -> Result<RawSnapshot, LiveError> {
    let config = load_config(options).await;
    let iam = aws_sdk_iam::Client::new(&config);
    let sts = aws_sdk_sts::Client::new(&config);
    let cloudtrail = aws_sdk_cloudtrail::Client::new(&config);
    let analyzer = aws_sdk_accessanalyzer::Client::new(&config);
    let mut raw = RawSnapshot::default();

    progress.step("sts get-caller-identity");
    let identity = sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| LiveError::Identity(error_text(&e)))?;
    raw.insert_json(
        snapshot::CALLER_IDENTITY,
        &to_json(&CallerIdentityFile {
            user_id: identity.user_id().unwrap_or_default().to_owned(),
            account: identity.account().unwrap_or_default().to_owned(),
            arn: identity.arn().unwrap_or_default().to_owned(),
        }),
    );

    progress.step("iam get-account-authorization-details");
    match authorization_details(&iam).await {
        Ok(details) => raw.insert_json(snapshot::AUTHORIZATION_DETAILS, &to_json(&details)),
        Err(e) => problem(&mut raw, "iam:GetAccountAuthorizationDetails", e),
    }

    progress.step("iam generate-credential-report / get-credential-report");
    match credential_report(&iam).await {
        Ok(file) => raw.insert_json(snapshot::CREDENTIAL_REPORT, &to_json(&file)),
        Err(e) => problem(&mut raw, "iam:GetCredentialReport", e),
    }

    if let Some(text) = raw.files.get(snapshot::CREDENTIAL_REPORT).cloned() {
        let users = users_with_active_keys(&text);
        for user in users {
            progress.step(&format!("iam list-access-keys {user}"));
            match iam.list_access_keys().user_name(&user).send().await {
                Ok(out) => {
                    let file = AccessKeysFile {
                        access_key_metadata: out
                            .access_key_metadata()
                            .iter()
                            .map(|k| AccessKeyMetadata {
                                user_name: owned(k.user_name()),
                                access_key_id: owned(k.access_key_id()),
                                status: k
                                    .status()
                                    .map(|s| s.as_str().to_owned())
                                    .unwrap_or_default(),
                                create_date: time(k.create_date()),
                            })
                            .collect(),
                    };
                    raw.insert_json(
                        format!(
                            "{}/{}",
                            snapshot::ACCESS_KEYS_DIR,
                            snapshot::safe_file_name(&user)
                        ),
                        &to_json(&file),
                    );
                }
                Err(e) => problem(
                    &mut raw,
                    &format!("iam:ListAccessKeys {user}"),
                    error_text(&e),
                ),
            }
        }
    }

    progress.step("iam get-account-password-policy");
    match iam.get_account_password_policy().send().await {
        Ok(out) => {
            let file = PasswordPolicyFile {
                password_policy: out.password_policy().map(password_policy),
            };
            raw.insert_json(snapshot::PASSWORD_POLICY, &to_json(&file));
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_no_such_entity_exception()) =>
        {
            raw.insert_json(
                snapshot::PASSWORD_POLICY,
                &to_json(&PasswordPolicyFile::default()),
            );
        }
        Err(e) => problem(&mut raw, "iam:GetAccountPasswordPolicy", error_text(&e)),
    }

    progress.step("iam get-account-summary");
    match iam.get_account_summary().send().await {
        Ok(out) => {
            let summary_map: BTreeMap<String, i64> = out
                .summary_map()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.as_str().to_owned(), i64::from(*v)))
                        .collect()
                })
                .unwrap_or_default();
            raw.insert_json(
                snapshot::ACCOUNT_SUMMARY,
                &to_json(&AccountSummaryFile { summary_map }),
            );
        }
        Err(e) => problem(&mut raw, "iam:GetAccountSummary", error_text(&e)),
    }

    progress.step("iam list-account-aliases");
    match iam.list_account_aliases().send().await {
        Ok(out) => raw.insert_json(
            snapshot::ACCOUNT_ALIASES,
            &to_json(&AccountAliasesFile {
                account_aliases: out.account_aliases().to_vec(),
            }),
        ),
        Err(e) => problem(&mut raw, "iam:ListAccountAliases", error_text(&e)),
    }

    progress.step("iam list-virtual-mfa-devices");
    match virtual_mfa_devices(&iam).await {
        Ok(file) => raw.insert_json(snapshot::VIRTUAL_MFA_DEVICES, &to_json(&file)),
        Err(e) => problem(&mut raw, "iam:ListVirtualMFADevices", e),
    }

    progress.step("iam list-server-certificates");
    match server_certificates(&iam).await {
        Ok(file) => raw.insert_json(snapshot::SERVER_CERTIFICATES, &to_json(&file)),
        Err(e) => problem(&mut raw, "iam:ListServerCertificates", e),
    }

    progress.step("cloudtrail describe-trails");
    match cloudtrail.describe_trails().send().await {
        Ok(out) => {
            let trails: Vec<Trail> = out.trail_list().iter().map(trail).collect();
            raw.insert_json(
                snapshot::DESCRIBE_TRAILS,
                &to_json(&DescribeTrailsFile {
                    trail_list: trails.clone(),
                }),
            );
            for t in &trails {
                progress.step(&format!("cloudtrail get-trail-status {}", t.name));
                trail_details(&cloudtrail, t, &mut raw).await;
            }
        }
        Err(e) => problem(&mut raw, "cloudtrail:DescribeTrails", error_text(&e)),
    }

    progress.step("accessanalyzer list-analyzers");
    match analyzers(&analyzer).await {
        Ok(file) => raw.insert_json(snapshot::ANALYZERS, &to_json(&file)),
        Err(e) => problem(&mut raw, "access-analyzer:ListAnalyzers", e),
    }
    Ok(raw)
}

/// Live collection retries more than other callers: an audit makes hundreds of IAM calls, and IAM
/// throttles them.
const LIVE_ATTEMPTS: u32 = 10;

async fn load_config(options: &LiveOptions) -> aws_config::SdkConfig {
    let target = AwsTarget {
        profile: options.profile.clone(),
        region: options.region.clone(),
        endpoint_url: options.endpoint_url.clone(),
    };
    let attempts = match options.max_attempts {
        0 => LIVE_ATTEMPTS,
        n => n,
    };
    target.config(attempts).await
}

fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn problem(raw: &mut RawSnapshot, call: &str, message: String) {
    raw.problems.push(SnapshotProblem {
        file: call.to_owned(),
        message,
    });
}

fn error_text<E: std::error::Error>(err: &E) -> String {
    aws_smithy_types::error::display::DisplayErrorContext(err).to_string()
}

fn time(t: Option<&aws_smithy_types::DateTime>) -> String {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
        .map(format_aws_time)
        .unwrap_or_default()
}

fn opt_time(t: Option<&aws_smithy_types::DateTime>) -> Option<String> {
    Some(time(t)).filter(|s| !s.is_empty())
}

fn owned(s: Option<&str>) -> String {
    s.unwrap_or_default().to_owned()
}

/// The API returns documents URL-encoded; the CLI (and so a snapshot) holds them as JSON objects.
fn document(text: Option<&str>) -> Value {
    match text {
        Some(text) => {
            snapshot::decode_policy_document(text).unwrap_or_else(|| Value::String(text.to_owned()))
        }
        None => Value::Null,
    }
}

fn inline_policies(list: &[aws_sdk_iam::types::PolicyDetail]) -> Vec<InlinePolicy> {
    list.iter()
        .map(|p| InlinePolicy {
            policy_name: owned(p.policy_name()),
            policy_document: document(p.policy_document()),
        })
        .collect()
}

fn attached(list: &[aws_sdk_iam::types::AttachedPolicy]) -> Vec<AttachedPolicy> {
    list.iter()
        .map(|p| AttachedPolicy {
            policy_name: owned(p.policy_name()),
            policy_arn: owned(p.policy_arn()),
        })
        .collect()
}

fn boundary(
    b: Option<&aws_sdk_iam::types::AttachedPermissionsBoundary>,
) -> Option<PermissionsBoundary> {
    b.map(|b| PermissionsBoundary {
        permissions_boundary_type: b
            .permissions_boundary_type()
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default(),
        permissions_boundary_arn: owned(b.permissions_boundary_arn()),
    })
}

fn tags(list: &[aws_sdk_iam::types::Tag]) -> Vec<Tag> {
    list.iter()
        .map(|t| Tag {
            key: t.key().to_owned(),
            value: t.value().to_owned(),
        })
        .collect()
}

async fn authorization_details(iam: &aws_sdk_iam::Client) -> Result<AuthorizationDetails, String> {
    let mut details = AuthorizationDetails::default();
    let mut marker: Option<String> = None;
    loop {
        let out = iam
            .get_account_authorization_details()
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| error_text(&e))?;
        for u in out.user_detail_list() {
            details.user_detail_list.push(UserDetail {
                path: owned(u.path()),
                user_name: owned(u.user_name()),
                user_id: owned(u.user_id()),
                arn: owned(u.arn()),
                create_date: time(u.create_date()),
                user_policy_list: inline_policies(u.user_policy_list()),
                group_list: u.group_list().to_vec(),
                attached_managed_policies: attached(u.attached_managed_policies()),
                permissions_boundary: boundary(u.permissions_boundary()),
                tags: tags(u.tags()),
            });
        }
        for g in out.group_detail_list() {
            details.group_detail_list.push(GroupDetail {
                path: owned(g.path()),
                group_name: owned(g.group_name()),
                group_id: owned(g.group_id()),
                arn: owned(g.arn()),
                create_date: time(g.create_date()),
                group_policy_list: inline_policies(g.group_policy_list()),
                attached_managed_policies: attached(g.attached_managed_policies()),
            });
        }
        for r in out.role_detail_list() {
            details.role_detail_list.push(RoleDetail {
                path: owned(r.path()),
                role_name: owned(r.role_name()),
                role_id: owned(r.role_id()),
                arn: owned(r.arn()),
                create_date: time(r.create_date()),
                assume_role_policy_document: document(r.assume_role_policy_document()),
                instance_profile_list: r
                    .instance_profile_list()
                    .iter()
                    .map(|p| {
                        serde_json::json!({
                            "InstanceProfileName": p.instance_profile_name(),
                            "Arn": p.arn(),
                        })
                    })
                    .collect(),
                role_policy_list: inline_policies(r.role_policy_list()),
                attached_managed_policies: attached(r.attached_managed_policies()),
                permissions_boundary: boundary(r.permissions_boundary()),
                tags: tags(r.tags()),
                role_last_used: r.role_last_used().map(|l| RoleLastUsed {
                    last_used_date: opt_time(l.last_used_date()),
                    region: l.region().map(str::to_owned),
                }),
            });
        }
        for p in out.policies() {
            details.policies.push(ManagedPolicyDetail {
                policy_name: owned(p.policy_name()),
                policy_id: owned(p.policy_id()),
                arn: owned(p.arn()),
                path: owned(p.path()),
                default_version_id: owned(p.default_version_id()),
                attachment_count: p.attachment_count().map(i64::from),
                permissions_boundary_usage_count: p
                    .permissions_boundary_usage_count()
                    .map(i64::from),
                is_attachable: p.is_attachable(),
                create_date: time(p.create_date()),
                update_date: time(p.update_date()),
                policy_version_list: p
                    .policy_version_list()
                    .iter()
                    .map(|v| PolicyVersion {
                        document: document(v.document()),
                        version_id: owned(v.version_id()),
                        is_default_version: v.is_default_version(),
                        create_date: time(v.create_date()),
                    })
                    .collect(),
            });
        }
        match (out.is_truncated(), out.marker()) {
            (true, Some(next)) => marker = Some(next.to_owned()),
            _ => break,
        }
    }
    Ok(details)
}

async fn credential_report(iam: &aws_sdk_iam::Client) -> Result<CredentialReportFile, String> {
    iam.generate_credential_report()
        .send()
        .await
        .map_err(|e| error_text(&e))?;
    // AWS builds the report asynchronously; it is usually ready within seconds.
    let mut last_error = String::new();
    for attempt in 0..30u64 {
        match iam.get_credential_report().send().await {
            Ok(out) => {
                let content = out.content().map(|b| b.as_ref()).unwrap_or_default();
                return Ok(CredentialReportFile {
                    content: base64::engine::general_purpose::STANDARD.encode(content),
                    report_format: out
                        .report_format()
                        .map(|f| f.as_str().to_owned())
                        .unwrap_or_else(|| "text/csv".to_owned()),
                    generated_time: opt_time(out.generated_time()),
                });
            }
            Err(e) => {
                let not_ready = e.as_service_error().is_some_and(|s| {
                    s.is_credential_report_not_ready_exception()
                        || s.is_credential_report_not_present_exception()
                });
                last_error = error_text(&e);
                if !not_ready {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500 + 250 * attempt.min(8))).await;
            }
        }
    }
    Err(last_error)
}

/// Users (not root) that the saved credential report shows with an active key.
fn users_with_active_keys(report_json: &str) -> Vec<String> {
    let mut raw = RawSnapshot::default();
    raw.files.insert(
        snapshot::CREDENTIAL_REPORT.to_owned(),
        report_json.to_owned(),
    );
    let parsed = crate::AccountSnapshot::from_raw(&raw);
    parsed
        .credential_report
        .map(|r| {
            r.users()
                .filter(|u| u.access_keys().iter().any(|k| k.active))
                .map(|u| u.user.clone())
                .collect()
        })
        .unwrap_or_default()
}

fn password_policy(p: &aws_sdk_iam::types::PasswordPolicy) -> PasswordPolicy {
    PasswordPolicy {
        minimum_password_length: p.minimum_password_length().map(i64::from),
        require_symbols: p.require_symbols(),
        require_numbers: p.require_numbers(),
        require_uppercase_characters: p.require_uppercase_characters(),
        require_lowercase_characters: p.require_lowercase_characters(),
        allow_users_to_change_password: p.allow_users_to_change_password(),
        expire_passwords: p.expire_passwords(),
        max_password_age: p.max_password_age().map(i64::from),
        password_reuse_prevention: p.password_reuse_prevention().map(i64::from),
        hard_expiry: p.hard_expiry(),
    }
}

async fn virtual_mfa_devices(iam: &aws_sdk_iam::Client) -> Result<VirtualMfaDevicesFile, String> {
    let mut file = VirtualMfaDevicesFile::default();
    let mut marker: Option<String> = None;
    loop {
        let out = iam
            .list_virtual_mfa_devices()
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| error_text(&e))?;
        for d in out.virtual_mfa_devices() {
            file.virtual_mfa_devices.push(VirtualMfaDevice {
                serial_number: d.serial_number().to_owned(),
                user: d.user().map(|u| MfaDeviceUser {
                    user_name: u.user_name().to_owned(),
                    arn: u.arn().to_owned(),
                }),
                enable_date: opt_time(d.enable_date()),
            });
        }
        match (out.is_truncated(), out.marker()) {
            (true, Some(next)) => marker = Some(next.to_owned()),
            _ => break,
        }
    }
    Ok(file)
}

async fn server_certificates(iam: &aws_sdk_iam::Client) -> Result<ServerCertificatesFile, String> {
    let mut file = ServerCertificatesFile::default();
    let mut marker: Option<String> = None;
    loop {
        let out = iam
            .list_server_certificates()
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| error_text(&e))?;
        for c in out.server_certificate_metadata_list() {
            file.server_certificate_metadata_list
                .push(ServerCertificate {
                    path: c.path().to_owned(),
                    server_certificate_name: c.server_certificate_name().to_owned(),
                    server_certificate_id: c.server_certificate_id().to_owned(),
                    arn: c.arn().to_owned(),
                    upload_date: time(c.upload_date()),
                    expiration: opt_time(c.expiration()),
                });
        }
        match (out.is_truncated(), out.marker()) {
            (true, Some(next)) => marker = Some(next.to_owned()),
            _ => break,
        }
    }
    Ok(file)
}

fn trail(t: &aws_sdk_cloudtrail::types::Trail) -> Trail {
    Trail {
        name: owned(t.name()),
        s3_bucket_name: t.s3_bucket_name().map(str::to_owned),
        include_global_service_events: t.include_global_service_events().unwrap_or(false),
        is_multi_region_trail: t.is_multi_region_trail().unwrap_or(false),
        home_region: t.home_region().map(str::to_owned),
        trail_arn: owned(t.trail_arn()),
        log_file_validation_enabled: t.log_file_validation_enabled().unwrap_or(false),
        kms_key_id: t.kms_key_id().map(str::to_owned),
        has_custom_event_selectors: t.has_custom_event_selectors().unwrap_or(false),
        is_organization_trail: t.is_organization_trail().unwrap_or(false),
        cloud_watch_logs_log_group_arn: t.cloud_watch_logs_log_group_arn().map(str::to_owned),
    }
}

async fn trail_details(client: &aws_sdk_cloudtrail::Client, t: &Trail, raw: &mut RawSnapshot) {
    // The ARN works from any region; the name only in the trail's home region.
    let id = if t.trail_arn.is_empty() {
        t.name.clone()
    } else {
        t.trail_arn.clone()
    };
    let file = snapshot::safe_file_name(&t.name);
    match client.get_trail_status().name(&id).send().await {
        Ok(out) => {
            let status = TrailStatus {
                is_logging: out.is_logging().unwrap_or(false),
                latest_delivery_time: opt_time(out.latest_delivery_time()),
                start_logging_time: opt_time(out.start_logging_time()),
                stop_logging_time: opt_time(out.stop_logging_time()),
                latest_delivery_error: out.latest_delivery_error().map(str::to_owned),
            };
            raw.insert_json(
                format!("{}/{file}", snapshot::TRAIL_STATUS_DIR),
                &to_json(&status),
            );
        }
        Err(e) => problem(
            raw,
            &format!("cloudtrail:GetTrailStatus {}", t.name),
            error_text(&e),
        ),
    }
    match client.get_event_selectors().trail_name(&id).send().await {
        Ok(out) => {
            let selectors = EventSelectorsFile {
                trail_arn: owned(out.trail_arn()),
                event_selectors: out
                    .event_selectors()
                    .iter()
                    .map(|s| EventSelector {
                        read_write_type: s
                            .read_write_type()
                            .map(|r| r.as_str().to_owned())
                            .unwrap_or_else(|| "All".to_owned()),
                        include_management_events: s.include_management_events().unwrap_or(true),
                        exclude_management_event_sources: s
                            .exclude_management_event_sources()
                            .to_vec(),
                        data_resources: s
                            .data_resources()
                            .iter()
                            .map(|d| serde_json::json!({"Type": d.r#type(), "Values": d.values()}))
                            .collect(),
                    })
                    .collect(),
                advanced_event_selectors: out
                    .advanced_event_selectors()
                    .iter()
                    .map(|a| AdvancedEventSelector {
                        name: a.name().map(str::to_owned),
                        field_selectors: a
                            .field_selectors()
                            .iter()
                            .map(|f| AdvancedFieldSelector {
                                field: f.field().to_owned(),
                                equals: f.equals().to_vec(),
                                not_equals: f.not_equals().to_vec(),
                            })
                            .collect(),
                    })
                    .collect(),
            };
            raw.insert_json(
                format!("{}/{file}", snapshot::EVENT_SELECTORS_DIR),
                &to_json(&selectors),
            );
        }
        Err(e) => problem(
            raw,
            &format!("cloudtrail:GetEventSelectors {}", t.name),
            error_text(&e),
        ),
    }
}

async fn analyzers(client: &aws_sdk_accessanalyzer::Client) -> Result<AnalyzersFile, String> {
    let mut file = AnalyzersFile::default();
    let mut token: Option<String> = None;
    loop {
        let out = client
            .list_analyzers()
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| error_text(&e))?;
        for a in out.analyzers() {
            file.analyzers.push(Analyzer {
                arn: a.arn().to_owned(),
                name: a.name().to_owned(),
                analyzer_type: a.r#type().as_str().to_owned(),
                status: a.status().as_str().to_owned(),
                created_at: opt_time(Some(a.created_at())),
            });
        }
        match out.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_owned()),
            _ => break,
        }
    }
    Ok(file)
}
