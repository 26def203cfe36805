//! The AWS side of `fix`: SDK clients, the read-only calls a plan needs to see the current state, and
//! the execution of [`Call`]s. Errors that mean "already in that state" (deleting what is gone, creating
//! what exists) count as done, which is what makes re-applying a plan change nothing.
//!
//! Every failure is one [`ApiError`] line: the operation, AWS's error code and message (or, when no answer
//! came, the connection's own one-line cause) and a hint for missing credentials or an unreachable
//! endpoint. Only throttling is retried: a refused connection or a server error fails the call at once,
//! and [`ApiError::stops_everything`] tells a caller to stop the remaining steps too.

use std::future::Future;

use aws_config::SdkConfig;
use aws_sdk_cloudtrail::Client as CloudTrailClient;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_iam::types::StatusType;
use aws_sdk_iam::Client as IamClient;
use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority, RetryReason,
};
use aws_smithy_types::retry::ErrorKind;
use serde::{Deserialize, Serialize};
use trailguard_rules::remediation::IdentityKind;

pub use crate::aws::AwsTarget;
use trailguard_rules::call::{Call, KeyStatus, PasswordPolicySettings, Tag};

/// What kind of failure an [`ApiError`] is, which decides whether the remaining calls can still work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiErrorKind {
    /// The service answered with an error (its code and message are in the error).
    Service,
    /// No answer: the endpoint refused the connection, timed out or could not be resolved.
    Unreachable,
    /// The request could not be signed or the service rejected the credentials.
    Credentials,
    /// Anything else (a response that could not be read, a request that could not be built).
    Other,
}

/// An API error, with AWS's error code when there is one. Displays as one line.
#[derive(Debug, thiserror::Error)]
#[error("{operation} failed: {message}{}", hint_text(*kind))]
pub struct ApiError {
    pub operation: &'static str,
    pub code: Option<String>,
    pub message: String,
    pub kind: ApiErrorKind,
}

impl ApiError {
    /// True when no later call can succeed either (endpoint down, credentials missing or refused).
    pub fn stops_everything(&self) -> bool {
        matches!(
            self.kind,
            ApiErrorKind::Unreachable | ApiErrorKind::Credentials
        )
    }
}

fn hint_text(kind: ApiErrorKind) -> &'static str {
    match kind {
        ApiErrorKind::Unreachable => {
            " (hint: the endpoint did not answer; check the network, --region and --endpoint-url)"
        }
        ApiErrorKind::Credentials => {
            " (hint: no usable AWS credentials; set AWS_PROFILE or pass --profile, or run `aws configure`)"
        }
        ApiErrorKind::Service | ApiErrorKind::Other => "",
    }
}

/// Service error codes that mean the credentials, not the request, are wrong.
const CREDENTIAL_CODES: &[&str] = &[
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "ExpiredToken",
    "ExpiredTokenException",
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
    "AuthFailure",
    "MissingAuthenticationToken",
];

/// The error and its causes, joined on one line (`a: b: c`), without repeating a cause a parent already
/// quoted; line breaks inside a cause are flattened.
fn causes(err: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&dyn std::error::Error> = Some(err);
    while let Some(e) = current {
        let text = e
            .to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}

pub(crate) fn api_error<E, R>(operation: &'static str, err: &SdkError<E, R>) -> ApiError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let code = err.code().map(str::to_owned);
    let (message, kind) = match err {
        SdkError::ServiceError(_) => {
            let message = match (err.code(), err.message()) {
                (Some(code), Some(msg)) => format!("{code}: {msg}"),
                (Some(code), None) => code.to_owned(),
                (None, Some(msg)) => msg.to_owned(),
                (None, None) => causes(err),
            };
            let kind = if code
                .as_deref()
                .is_some_and(|c| CREDENTIAL_CODES.contains(&c))
            {
                ApiErrorKind::Credentials
            } else {
                ApiErrorKind::Service
            };
            (message, kind)
        }
        SdkError::TimeoutError(_) => (causes(err), ApiErrorKind::Unreachable),
        SdkError::DispatchFailure(failure) => {
            let text = causes(err);
            let kind = if failure.is_io() || failure.is_timeout() {
                ApiErrorKind::Unreachable
            } else if text.to_lowercase().contains("credential") {
                ApiErrorKind::Credentials
            } else {
                ApiErrorKind::Other
            };
            (text, kind)
        }
        _ => {
            let text = causes(err);
            let kind = if text.to_lowercase().contains("credential") {
                ApiErrorKind::Credentials
            } else {
                ApiErrorKind::Other
            };
            (text, kind)
        }
    };
    ApiError {
        operation,
        code,
        message,
        kind,
    }
}

/// Retries throttling and nothing else: the SDK would also retry a refused connection or a 5xx eight
/// times with backoff, which held every step of an apply for most of a minute once the endpoint was down.
#[derive(Debug)]
struct RetryThrottlingOnly;

impl ClassifyRetry for RetryThrottlingOnly {
    fn classify_retry(&self, _ctx: &InterceptorContext) -> RetryAction {
        RetryAction::NoActionIndicated
    }

    fn classify_retry_v2(&self, _ctx: &InterceptorContext, previous: &RetryAction) -> RetryAction {
        match previous {
            RetryAction::RetryIndicated(RetryReason::RetryableError {
                kind: ErrorKind::ThrottlingError,
                ..
            }) => previous.clone(),
            RetryAction::RetryIndicated(_) => RetryAction::RetryForbidden,
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "retry throttling only"
    }

    fn priority(&self) -> RetryClassifierPriority {
        // Runs after the SDK's own classifiers, so it sees (and may veto) their verdict.
        RetryClassifierPriority::run_after(RetryClassifierPriority::transient_error_classifier())
    }
}

/// What executing a call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    Done,
    /// AWS said the target state already holds (e.g. `NoSuchEntity` on a delete).
    AlreadyInState,
}

pub struct Aws {
    runtime: tokio::runtime::Runtime,
    iam: IamClient,
    cloudtrail: CloudTrailClient,
    sts: aws_sdk_sts::Client,
    region: Option<String>,
}

/// Reads of something that may not exist: IAM's `NoSuchEntity` becomes `None`, other errors stay errors.
fn missing_as_none<T>(result: Result<T, ApiError>) -> Result<Option<T>, ApiError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(err) if err.code.as_deref() == Some("NoSuchEntity") => Ok(None),
        Err(err) => Err(err),
    }
}

/// IAM returns policy documents URL-encoded; the SDK passes them through as they are.
pub fn decode_document(doc: &str) -> String {
    trailguard_policy::decode_policy_text(doc).into_owned()
}

// The state types below are saved in fix actions' prior states: each refuses unknown fields, so a field
// renamed after a journal was written fails its undo loudly instead of reading as a default.

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyVersionInfo {
    pub version_id: String,
    pub is_default: bool,
    /// Seconds since the epoch, for picking the newest other version.
    pub created: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessKeyInfo {
    pub access_key_id: String,
    pub status: KeyStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InlinePolicy {
    pub name: String,
    pub document: String,
}

/// Everything about a user that can be put back after deleting it (and what cannot, listed for the record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSnapshot {
    pub user_name: String,
    pub arn: String,
    pub path: Option<String>,
    pub permissions_boundary: Option<String>,
    pub tags: Vec<Tag>,
    pub groups: Vec<String>,
    pub attached_policies: Vec<String>,
    pub inline_policies: Vec<InlinePolicy>,
    pub access_keys: Vec<AccessKeyInfo>,
    pub has_login_profile: bool,
    pub mfa_devices: Vec<String>,
    pub signing_certificates: Vec<String>,
    pub ssh_public_keys: Vec<String>,
    pub service_specific_credentials: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrailInfo {
    pub name: String,
    pub is_multi_region: bool,
    pub is_logging: bool,
    #[serde(default)]
    pub include_global_service_events: bool,
    #[serde(default)]
    pub log_file_validation: bool,
    /// The region the trail was created in: `UpdateTrail` must be called there.
    #[serde(default)]
    pub home_region: Option<String>,
}

impl Aws {
    pub fn connect(target: &AwsTarget) -> anyhow::Result<Aws> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let config = target.load(&runtime);
        Ok(Aws::with_config(runtime, &config))
    }

    fn with_config(runtime: tokio::runtime::Runtime, config: &SdkConfig) -> Aws {
        let iam = aws_sdk_iam::config::Builder::from(config)
            .retry_classifier(RetryThrottlingOnly)
            .build();
        let cloudtrail = aws_sdk_cloudtrail::config::Builder::from(config)
            .retry_classifier(RetryThrottlingOnly)
            .build();
        let sts = aws_sdk_sts::config::Builder::from(config)
            .retry_classifier(RetryThrottlingOnly)
            .build();
        Aws {
            iam: IamClient::from_conf(iam),
            cloudtrail: CloudTrailClient::from_conf(cloudtrail),
            sts: aws_sdk_sts::Client::from_conf(sts),
            region: config.region().map(|r| r.to_string()),
            runtime,
        }
    }

    /// A connection with fixed test credentials to `endpoint`, configured as [`Aws::connect`] does.
    #[cfg(test)]
    pub fn for_test(endpoint: &str) -> Aws {
        use aws_sdk_iam::config::{Credentials, SharedCredentialsProvider};
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let target = AwsTarget {
            profile: None,
            region: Some("us-east-1".into()),
            endpoint_url: Some(endpoint.into()),
        };
        let credentials = Credentials::new("testing", "testing", None, None, "test");
        let config = target
            .load(&runtime)
            .into_builder()
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .build();
        Aws::with_config(runtime, &config)
    }

    /// The region calls are signed for and CloudTrail calls go to.
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    /// The account the credentials belong to (`sts:GetCallerIdentity`).
    pub fn caller_account(&self) -> Result<String, ApiError> {
        let out = self
            .block(self.sts.get_caller_identity().send())
            .map_err(|e| api_error("GetCallerIdentity", &e))?;
        Ok(out.account().unwrap_or_default().to_owned())
    }

    /// Whether a user, group or role of that name exists.
    pub fn principal_exists(&self, kind: IdentityKind, name: &str) -> Result<bool, ApiError> {
        let result = match kind {
            IdentityKind::User => self
                .block(self.iam.get_user().user_name(name).send())
                .map(|_| ())
                .map_err(|e| api_error("GetUser", &e)),
            IdentityKind::Group => self
                .block(self.iam.get_group().group_name(name).max_items(1).send())
                .map(|_| ())
                .map_err(|e| api_error("GetGroup", &e)),
            IdentityKind::Role => self
                .block(self.iam.get_role().role_name(name).send())
                .map(|_| ())
                .map_err(|e| api_error("GetRole", &e)),
        };
        Ok(missing_as_none(result)?.is_some())
    }

    fn block<F: Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }

    pub fn policy_versions(
        &self,
        policy_arn: &str,
    ) -> Result<Option<Vec<PolicyVersionInfo>>, ApiError> {
        let out = self.block(
            self.iam
                .list_policy_versions()
                .policy_arn(policy_arn)
                .send(),
        );
        match out {
            Ok(out) => Ok(Some(
                out.versions()
                    .iter()
                    .map(|v| PolicyVersionInfo {
                        version_id: v.version_id().unwrap_or_default().to_owned(),
                        is_default: v.is_default_version(),
                        created: v.create_date().map(|d| d.secs()).unwrap_or(0),
                    })
                    .collect(),
            )),
            Err(e) if e.code() == Some("NoSuchEntity") => Ok(None),
            Err(e) => Err(api_error("ListPolicyVersions", &e)),
        }
    }

    pub fn policy_version_document(
        &self,
        policy_arn: &str,
        version_id: &str,
    ) -> Result<String, ApiError> {
        let out = self
            .block(
                self.iam
                    .get_policy_version()
                    .policy_arn(policy_arn)
                    .version_id(version_id)
                    .send(),
            )
            .map_err(|e| api_error("GetPolicyVersion", &e))?;
        let doc = out
            .policy_version()
            .and_then(|v| v.document())
            .unwrap_or_default();
        Ok(decode_document(doc))
    }

    pub fn attached_policies(
        &self,
        kind: IdentityKind,
        name: &str,
    ) -> Result<Option<Vec<String>>, ApiError> {
        let arns = |policies: &[aws_sdk_iam::types::AttachedPolicy]| -> Vec<String> {
            policies
                .iter()
                .filter_map(|p| p.policy_arn().map(str::to_owned))
                .collect()
        };
        let result = match kind {
            IdentityKind::User => self
                .block(
                    self.iam
                        .list_attached_user_policies()
                        .user_name(name)
                        .max_items(1000)
                        .send(),
                )
                .map(|o| arns(o.attached_policies()))
                .map_err(|e| api_error("ListAttachedUserPolicies", &e)),
            IdentityKind::Group => self
                .block(
                    self.iam
                        .list_attached_group_policies()
                        .group_name(name)
                        .max_items(1000)
                        .send(),
                )
                .map(|o| arns(o.attached_policies()))
                .map_err(|e| api_error("ListAttachedGroupPolicies", &e)),
            IdentityKind::Role => self
                .block(
                    self.iam
                        .list_attached_role_policies()
                        .role_name(name)
                        .max_items(1000)
                        .send(),
                )
                .map(|o| arns(o.attached_policies()))
                .map_err(|e| api_error("ListAttachedRolePolicies", &e)),
        };
        missing_as_none(result)
    }

    pub fn inline_policy(
        &self,
        kind: IdentityKind,
        name: &str,
        policy: &str,
    ) -> Result<Option<String>, ApiError> {
        let result = match kind {
            IdentityKind::User => self
                .block(
                    self.iam
                        .get_user_policy()
                        .user_name(name)
                        .policy_name(policy)
                        .send(),
                )
                .map(|o| o.policy_document().to_owned())
                .map_err(|e| api_error("GetUserPolicy", &e)),
            IdentityKind::Group => self
                .block(
                    self.iam
                        .get_group_policy()
                        .group_name(name)
                        .policy_name(policy)
                        .send(),
                )
                .map(|o| o.policy_document().to_owned())
                .map_err(|e| api_error("GetGroupPolicy", &e)),
            IdentityKind::Role => self
                .block(
                    self.iam
                        .get_role_policy()
                        .role_name(name)
                        .policy_name(policy)
                        .send(),
                )
                .map(|o| o.policy_document().to_owned())
                .map_err(|e| api_error("GetRolePolicy", &e)),
        };
        Ok(missing_as_none(result)?.map(|doc| decode_document(&doc)))
    }

    /// The user's access keys; `None` when the user does not exist.
    pub fn access_keys(&self, user: &str) -> Result<Option<Vec<AccessKeyInfo>>, ApiError> {
        match self.block(self.iam.list_access_keys().user_name(user).send()) {
            Ok(out) => Ok(Some(
                out.access_key_metadata()
                    .iter()
                    .map(|k| AccessKeyInfo {
                        access_key_id: k.access_key_id().unwrap_or_default().to_owned(),
                        status: match k.status() {
                            Some(StatusType::Active) => KeyStatus::Active,
                            _ => KeyStatus::Inactive,
                        },
                    })
                    .collect(),
            )),
            Err(e) if e.code() == Some("NoSuchEntity") => Ok(None),
            Err(e) => Err(api_error("ListAccessKeys", &e)),
        }
    }

    /// Whether the user has a console password, and if so whether a reset is required.
    pub fn login_profile(&self, user: &str) -> Result<Option<bool>, ApiError> {
        match self.block(self.iam.get_login_profile().user_name(user).send()) {
            Ok(out) => Ok(Some(
                out.login_profile()
                    .is_some_and(|p| p.password_reset_required()),
            )),
            Err(e) if e.code() == Some("NoSuchEntity") => Ok(None),
            Err(e) => Err(api_error("GetLoginProfile", &e)),
        }
    }

    pub fn password_policy(&self) -> Result<Option<PasswordPolicySettings>, ApiError> {
        match self.block(self.iam.get_account_password_policy().send()) {
            Ok(out) => Ok(out.password_policy().map(|p| PasswordPolicySettings {
                minimum_password_length: p.minimum_password_length(),
                require_symbols: p.require_symbols(),
                require_numbers: p.require_numbers(),
                require_uppercase_characters: p.require_uppercase_characters(),
                require_lowercase_characters: p.require_lowercase_characters(),
                allow_users_to_change_password: p.allow_users_to_change_password(),
                max_password_age: p.max_password_age().filter(|n| *n > 0),
                password_reuse_prevention: p.password_reuse_prevention().filter(|n| *n > 0),
                hard_expiry: p.hard_expiry().unwrap_or(false),
            })),
            Err(e) if e.code() == Some("NoSuchEntity") => Ok(None),
            Err(e) => Err(api_error("GetAccountPasswordPolicy", &e)),
        }
    }

    /// Everything about a user, for saving before a delete; `None` when the user does not exist.
    /// The names of a principal's inline policies (`None`: no such principal).
    pub fn inline_policy_names(
        &self,
        kind: IdentityKind,
        name: &str,
    ) -> Result<Option<Vec<String>>, ApiError> {
        let result = match kind {
            IdentityKind::User => self
                .block(
                    self.iam
                        .list_user_policies()
                        .user_name(name)
                        .max_items(1000)
                        .send(),
                )
                .map(|o| o.policy_names().to_vec())
                .map_err(|e| api_error("ListUserPolicies", &e)),
            IdentityKind::Group => self
                .block(
                    self.iam
                        .list_group_policies()
                        .group_name(name)
                        .max_items(1000)
                        .send(),
                )
                .map(|o| o.policy_names().to_vec())
                .map_err(|e| api_error("ListGroupPolicies", &e)),
            IdentityKind::Role => self
                .block(
                    self.iam
                        .list_role_policies()
                        .role_name(name)
                        .max_items(1000)
                        .send(),
                )
                .map(|o| o.policy_names().to_vec())
                .map_err(|e| api_error("ListRolePolicies", &e)),
        };
        missing_as_none(result)
    }

    pub fn user_snapshot(&self, user: &str) -> Result<Option<UserSnapshot>, ApiError> {
        let out = match self.block(self.iam.get_user().user_name(user).send()) {
            Ok(out) => out,
            Err(e) if e.code() == Some("NoSuchEntity") => return Ok(None),
            Err(e) => return Err(api_error("GetUser", &e)),
        };
        let Some(u) = out.user() else { return Ok(None) };
        let groups = self
            .block(self.iam.list_groups_for_user().user_name(user).send())
            .map_err(|e| api_error("ListGroupsForUser", &e))?
            .groups()
            .iter()
            .map(|g| g.group_name().to_owned())
            .collect();
        let attached_policies = self
            .attached_policies(IdentityKind::User, user)?
            .unwrap_or_default();
        let names = self
            .block(self.iam.list_user_policies().user_name(user).send())
            .map_err(|e| api_error("ListUserPolicies", &e))?
            .policy_names()
            .to_vec();
        let mut inline_policies = Vec::new();
        for name in names {
            if let Some(document) = self.inline_policy(IdentityKind::User, user, &name)? {
                inline_policies.push(InlinePolicy { name, document });
            }
        }
        let mfa_devices = self
            .block(self.iam.list_mfa_devices().user_name(user).send())
            .map_err(|e| api_error("ListMFADevices", &e))?
            .mfa_devices()
            .iter()
            .map(|d| d.serial_number().to_owned())
            .collect();
        // Credential kinds some endpoints (and moto) do not implement are treated as none, not as failure:
        // if one does exist, DeleteUser fails with DeleteConflict and the journal records it.
        let signing_certificates = self
            .block(self.iam.list_signing_certificates().user_name(user).send())
            .map(|o| {
                o.certificates()
                    .iter()
                    .map(|c| c.certificate_id().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        let ssh_public_keys = self
            .block(self.iam.list_ssh_public_keys().user_name(user).send())
            .map(|o| {
                o.ssh_public_keys()
                    .iter()
                    .map(|k| k.ssh_public_key_id().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        let service_specific_credentials = self
            .block(
                self.iam
                    .list_service_specific_credentials()
                    .user_name(user)
                    .send(),
            )
            .map(|o| {
                o.service_specific_credentials()
                    .iter()
                    .map(|c| c.service_specific_credential_id().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        Ok(Some(UserSnapshot {
            user_name: u.user_name().to_owned(),
            arn: u.arn().to_owned(),
            path: Some(u.path().to_owned()).filter(|p| p != "/"),
            permissions_boundary: u
                .permissions_boundary()
                .and_then(|b| b.permissions_boundary_arn().map(str::to_owned)),
            tags: u
                .tags()
                .iter()
                .map(|t| Tag {
                    key: t.key().to_owned(),
                    value: t.value().to_owned(),
                })
                .collect(),
            groups,
            attached_policies,
            inline_policies,
            access_keys: self.access_keys(user)?.unwrap_or_default(),
            has_login_profile: self.login_profile(user)?.is_some(),
            mfa_devices,
            signing_certificates,
            ssh_public_keys,
            service_specific_credentials,
        }))
    }

    pub fn trails(&self) -> Result<Vec<TrailInfo>, ApiError> {
        let out = self
            .block(self.cloudtrail.describe_trails().send())
            .map_err(|e| api_error("DescribeTrails", &e))?;
        let mut trails = Vec::new();
        for trail in out.trail_list() {
            let name = trail.name().unwrap_or_default().to_owned();
            let arn = trail.trail_arn().unwrap_or(&name).to_owned();
            let is_logging = self
                .block(self.cloudtrail.get_trail_status().name(arn).send())
                .map(|s| s.is_logging().unwrap_or(false))
                .map_err(|e| api_error("GetTrailStatus", &e))?;
            trails.push(TrailInfo {
                name,
                is_multi_region: trail.is_multi_region_trail().unwrap_or(false),
                is_logging,
                include_global_service_events: trail
                    .include_global_service_events()
                    .unwrap_or(false),
                log_file_validation: trail.log_file_validation_enabled().unwrap_or(false),
                home_region: trail.home_region().map(str::to_owned),
            });
        }
        Ok(trails)
    }

    pub fn account_aliases(&self) -> Result<Vec<String>, ApiError> {
        let out = self
            .block(self.iam.list_account_aliases().send())
            .map_err(|e| api_error("ListAccountAliases", &e))?;
        Ok(out.account_aliases().to_vec())
    }

    /// Makes one call. Errors meaning the target state already holds count as [`CallOutcome::AlreadyInState`].
    pub fn execute(&self, call: &Call) -> Result<CallOutcome, ApiError> {
        let operation = call.api_form().operation;
        let result = self.dispatch(call);
        match result {
            Ok(()) => Ok(CallOutcome::Done),
            Err(err) => {
                let gone = matches!(
                    err.code.as_deref(),
                    Some("NoSuchEntity" | "TrailNotFoundException")
                );
                let exists = matches!(
                    err.code.as_deref(),
                    Some("EntityAlreadyExists" | "TrailAlreadyExistsException")
                );
                let is_delete = operation.starts_with("Delete")
                    || operation.starts_with("Detach")
                    || operation.starts_with("Remove")
                    || operation.starts_with("Deactivate");
                let is_create = operation.starts_with("Create") || operation.starts_with("Add");
                if (gone && is_delete) || (exists && is_create) {
                    Ok(CallOutcome::AlreadyInState)
                } else {
                    Err(err)
                }
            }
        }
    }

    fn dispatch(&self, call: &Call) -> Result<(), ApiError> {
        use Call::*;
        let op = call.api_form().operation;
        let iam = &self.iam;
        macro_rules! run {
            ($fut:expr) => {
                self.block($fut).map(|_| ()).map_err(|e| api_error(op, &e))
            };
        }
        match call {
            SetDefaultPolicyVersion {
                policy_arn,
                version_id,
            } => {
                run!(iam
                    .set_default_policy_version()
                    .policy_arn(policy_arn)
                    .version_id(version_id)
                    .send())
            }
            DeletePolicyVersion {
                policy_arn,
                version_id,
            } => {
                run!(iam
                    .delete_policy_version()
                    .policy_arn(policy_arn)
                    .version_id(version_id)
                    .send())
            }
            CreatePolicyVersion {
                policy_arn,
                policy_document,
                set_as_default,
            } => run!(iam
                .create_policy_version()
                .policy_arn(policy_arn)
                .policy_document(policy_document)
                .set_as_default(*set_as_default)
                .send()),
            AttachPolicy {
                principal_kind,
                principal_name,
                policy_arn,
            } => match principal_kind {
                IdentityKind::User => {
                    run!(iam
                        .attach_user_policy()
                        .user_name(principal_name)
                        .policy_arn(policy_arn)
                        .send())
                }
                IdentityKind::Group => {
                    run!(iam
                        .attach_group_policy()
                        .group_name(principal_name)
                        .policy_arn(policy_arn)
                        .send())
                }
                IdentityKind::Role => {
                    run!(iam
                        .attach_role_policy()
                        .role_name(principal_name)
                        .policy_arn(policy_arn)
                        .send())
                }
            },
            DetachPolicy {
                principal_kind,
                principal_name,
                policy_arn,
            } => match principal_kind {
                IdentityKind::User => {
                    run!(iam
                        .detach_user_policy()
                        .user_name(principal_name)
                        .policy_arn(policy_arn)
                        .send())
                }
                IdentityKind::Group => {
                    run!(iam
                        .detach_group_policy()
                        .group_name(principal_name)
                        .policy_arn(policy_arn)
                        .send())
                }
                IdentityKind::Role => {
                    run!(iam
                        .detach_role_policy()
                        .role_name(principal_name)
                        .policy_arn(policy_arn)
                        .send())
                }
            },
            PutInlinePolicy {
                principal_kind,
                principal_name,
                policy_name,
                policy_document,
            } => match principal_kind {
                IdentityKind::User => run!(iam
                    .put_user_policy()
                    .user_name(principal_name)
                    .policy_name(policy_name)
                    .policy_document(policy_document)
                    .send()),
                IdentityKind::Group => run!(iam
                    .put_group_policy()
                    .group_name(principal_name)
                    .policy_name(policy_name)
                    .policy_document(policy_document)
                    .send()),
                IdentityKind::Role => run!(iam
                    .put_role_policy()
                    .role_name(principal_name)
                    .policy_name(policy_name)
                    .policy_document(policy_document)
                    .send()),
            },
            DeleteInlinePolicy {
                principal_kind,
                principal_name,
                policy_name,
            } => match principal_kind {
                IdentityKind::User => {
                    run!(iam
                        .delete_user_policy()
                        .user_name(principal_name)
                        .policy_name(policy_name)
                        .send())
                }
                IdentityKind::Group => {
                    run!(iam
                        .delete_group_policy()
                        .group_name(principal_name)
                        .policy_name(policy_name)
                        .send())
                }
                IdentityKind::Role => {
                    run!(iam
                        .delete_role_policy()
                        .role_name(principal_name)
                        .policy_name(policy_name)
                        .send())
                }
            },
            UpdateAccessKey {
                user_name,
                access_key_id,
                status,
            } => {
                let status = match status {
                    KeyStatus::Active => StatusType::Active,
                    KeyStatus::Inactive => StatusType::Inactive,
                };
                run!(iam
                    .update_access_key()
                    .user_name(user_name)
                    .access_key_id(access_key_id)
                    .status(status)
                    .send())
            }
            DeleteAccessKey {
                user_name,
                access_key_id,
            } => {
                run!(iam
                    .delete_access_key()
                    .user_name(user_name)
                    .access_key_id(access_key_id)
                    .send())
            }
            DeleteLoginProfile { user_name } => {
                run!(iam.delete_login_profile().user_name(user_name).send())
            }
            UpdateLoginProfile {
                user_name,
                password_reset_required,
            } => run!(iam
                .update_login_profile()
                .user_name(user_name)
                .password_reset_required(*password_reset_required)
                .send()),
            UpdateAccountPasswordPolicy(p) => run!(iam
                .update_account_password_policy()
                .set_minimum_password_length(p.minimum_password_length)
                .require_symbols(p.require_symbols)
                .require_numbers(p.require_numbers)
                .require_uppercase_characters(p.require_uppercase_characters)
                .require_lowercase_characters(p.require_lowercase_characters)
                .allow_users_to_change_password(p.allow_users_to_change_password)
                .set_max_password_age(p.max_password_age)
                .set_password_reuse_prevention(p.password_reuse_prevention)
                .hard_expiry(p.hard_expiry)
                .send()),
            DeleteAccountPasswordPolicy => run!(iam.delete_account_password_policy().send()),
            CreateUser {
                user_name,
                path,
                permissions_boundary,
                tags,
            } => {
                let mut req = iam
                    .create_user()
                    .user_name(user_name)
                    .set_path(path.clone())
                    .set_permissions_boundary(permissions_boundary.clone());
                for t in tags {
                    let tag = aws_sdk_iam::types::Tag::builder()
                        .key(&t.key)
                        .value(&t.value)
                        .build()
                        .map_err(|e| ApiError {
                            operation: op,
                            code: None,
                            message: e.to_string(),
                            kind: ApiErrorKind::Other,
                        })?;
                    req = req.tags(tag);
                }
                run!(req.send())
            }
            DeleteUser { user_name } => run!(iam.delete_user().user_name(user_name).send()),
            AddUserToGroup {
                group_name,
                user_name,
            } => {
                run!(iam
                    .add_user_to_group()
                    .group_name(group_name)
                    .user_name(user_name)
                    .send())
            }
            RemoveUserFromGroup {
                group_name,
                user_name,
            } => {
                run!(iam
                    .remove_user_from_group()
                    .group_name(group_name)
                    .user_name(user_name)
                    .send())
            }
            DeactivateMfaDevice {
                user_name,
                serial_number,
            } => {
                run!(iam
                    .deactivate_mfa_device()
                    .user_name(user_name)
                    .serial_number(serial_number)
                    .send())
            }
            DeleteSigningCertificate {
                user_name,
                certificate_id,
            } => {
                run!(iam
                    .delete_signing_certificate()
                    .user_name(user_name)
                    .certificate_id(certificate_id)
                    .send())
            }
            DeleteSshPublicKey {
                user_name,
                ssh_public_key_id,
            } => {
                run!(iam
                    .delete_ssh_public_key()
                    .user_name(user_name)
                    .ssh_public_key_id(ssh_public_key_id)
                    .send())
            }
            DeleteServiceSpecificCredential {
                user_name,
                service_specific_credential_id,
            } => run!(iam
                .delete_service_specific_credential()
                .user_name(user_name)
                .service_specific_credential_id(service_specific_credential_id)
                .send()),
            CreateTrail {
                name,
                s3_bucket_name,
            } => run!(self
                .cloudtrail
                .create_trail()
                .name(name)
                .s3_bucket_name(s3_bucket_name)
                .is_multi_region_trail(true)
                .include_global_service_events(true)
                .enable_log_file_validation(true)
                .send()),
            UpdateTrail {
                name,
                is_multi_region_trail,
                include_global_service_events,
                enable_log_file_validation,
            } => run!(self
                .cloudtrail
                .update_trail()
                .name(name)
                .set_is_multi_region_trail(*is_multi_region_trail)
                .set_include_global_service_events(*include_global_service_events)
                .set_enable_log_file_validation(*enable_log_file_validation)
                .send()),
            StartLogging { name } => run!(self.cloudtrail.start_logging().name(name).send()),
            StopLogging { name } => run!(self.cloudtrail.stop_logging().name(name).send()),
            DeleteTrail { name } => run!(self.cloudtrail.delete_trail().name(name).send()),
            CreateAccountAlias { alias } => {
                run!(iam.create_account_alias().account_alias(alias).send())
            }
            DeleteAccountAlias { alias } => {
                run!(iam.delete_account_alias().account_alias(alias).send())
            }
        }
    }
}
