//! From findings to a plan. Each fixable finding's [`FixAction`] is resolved against the account's current
//! state (read-only calls) into a [`Step`]: the exact calls to make, the prior state to journal, and
//! whether AWS lets it be undone. A step whose target state already holds has no calls, so planning
//! again after an apply shows nothing to do.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use trailguard_rules::remediation::FixAction;
use trailguard_rules::Finding;

use super::aws::{ApiError, Aws, UserSnapshot};
use super::call::{Call, KeyStatus, PasswordPolicySettings};

/// CIS AWS Foundations 1.8 / 1.9: minimum length 14, remember 24 passwords.
pub const CIS_MIN_LENGTH: i32 = 14;
pub const CIS_REUSE_PREVENTION: i32 = 24;
/// Name of the trail `fix` creates when an account has no multi-region trail.
pub const TRAIL_NAME: &str = "trailguard-multi-region";

/// Whether AWS allows undoing a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum Reversibility {
    Full,
    Partial(String),
    None(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Stable id of the action, so the same fix planned twice is recognised.
    pub id: String,
    pub finding_ids: Vec<String>,
    pub action: FixAction,
    pub description: String,
    /// The state before the change, saved to the journal; `null` when it was not read (offline plan).
    pub prior: Value,
    /// Empty when the target state already holds.
    pub calls: Vec<Call>,
    pub reversibility: Reversibility,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// A fixable finding that could not be planned, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    pub finding_ids: Vec<String>,
    pub action: Option<FixAction>,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub skipped: Vec<Skipped>,
    /// Findings that carry no fix action (fixed by hand from their commands).
    pub not_fixable: usize,
}

impl Plan {
    pub fn pending_steps(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| !s.calls.is_empty())
    }
}

/// Options that fill in what findings cannot know.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// S3 bucket for a new trail (`--trail-bucket`).
    pub trail_bucket: Option<String>,
}

pub fn step_id(action: &FixAction) -> String {
    let json = serde_json::to_string(action).unwrap_or_default();
    Finding::stable_id(&["fix", &json]).replacen("tg-", "fx-", 1)
}

/// Groups findings by action (several findings may ask for the same fix) in first-seen order.
pub fn actions_of(findings: &[Finding]) -> (Vec<(FixAction, Vec<String>)>, usize) {
    let mut order: Vec<(FixAction, Vec<String>)> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    let mut not_fixable = 0;
    for finding in findings {
        if finding.fix.actions.is_empty() {
            not_fixable += 1;
        }
        for action in &finding.fix.actions {
            let key = step_id(action);
            match index.get(&key) {
                Some(&i) => order[i].1.push(finding.id.clone()),
                None => {
                    index.insert(key, order.len());
                    order.push((action.clone(), vec![finding.id.clone()]));
                }
            }
        }
    }
    (order, not_fixable)
}

/// Builds the plan. With `aws`, each action is resolved against the live state; without it (offline),
/// steps list the calls the action implies, unverified.
pub fn build(
    findings: &[Finding],
    aws: Option<&Aws>,
    opts: &PlanOptions,
) -> Result<Plan, ApiError> {
    let (actions, not_fixable) = actions_of(findings);
    let mut plan = Plan {
        not_fixable,
        ..Plan::default()
    };
    for (action, finding_ids) in actions {
        match resolve(&action, aws, opts)? {
            Resolution::Step {
                description,
                prior,
                calls,
                reversibility,
                notes,
            } => plan.steps.push(Step {
                id: step_id(&action),
                finding_ids,
                action,
                description,
                prior,
                calls,
                reversibility,
                notes,
            }),
            Resolution::Skip(reason) => plan.skipped.push(Skipped {
                finding_ids,
                action: Some(action),
                reason,
            }),
        }
    }
    Ok(plan)
}

pub enum Resolution {
    Step {
        description: String,
        prior: Value,
        calls: Vec<Call>,
        reversibility: Reversibility,
        notes: Vec<String>,
    },
    Skip(String),
}

fn step(
    description: String,
    prior: Value,
    calls: Vec<Call>,
    reversibility: Reversibility,
) -> Resolution {
    Resolution::Step {
        description,
        prior,
        calls,
        reversibility,
        notes: Vec::new(),
    }
}

/// Resolves one action against the current state (or, offline, from the action alone).
pub fn resolve(
    action: &FixAction,
    aws: Option<&Aws>,
    opts: &PlanOptions,
) -> Result<Resolution, ApiError> {
    use FixAction::*;
    Ok(match action {
        RevertPolicyVersion {
            policy_arn,
            bad_version,
            restore_version,
        } => {
            let description = format!(
                "revert policy {policy_arn}: restore the previous default and delete {bad_version}"
            );
            let Some(aws) = aws else {
                let mut calls = Vec::new();
                if let Some(v) = restore_version {
                    calls.push(Call::SetDefaultPolicyVersion {
                        policy_arn: policy_arn.clone(),
                        version_id: v.clone(),
                    });
                }
                calls.push(Call::DeletePolicyVersion {
                    policy_arn: policy_arn.clone(),
                    version_id: bad_version.clone(),
                });
                let mut notes = Vec::new();
                if restore_version.is_none() {
                    notes.push(format!(
                        "the version to restore is not known offline: run `aws iam list-policy-versions \
                         --policy-arn {policy_arn}` and set the previous one as default first (IAM refuses to \
                         delete the default version)"
                    ));
                }
                return Ok(Resolution::Step {
                    description,
                    prior: Value::Null,
                    calls,
                    reversibility: revert_reversibility(),
                    notes,
                });
            };
            let Some(versions) = aws.policy_versions(policy_arn)? else {
                return Ok(Resolution::Skip(format!(
                    "policy `{policy_arn}` no longer exists"
                )));
            };
            let Some(bad) = versions.iter().find(|v| &v.version_id == bad_version) else {
                // Already reverted (or deleted by someone else): nothing to do.
                return Ok(step(
                    description,
                    json!({"versions": versions}),
                    Vec::new(),
                    revert_reversibility(),
                ));
            };
            let mut calls = Vec::new();
            if bad.is_default {
                let restore = restore_version
                    .as_ref()
                    .filter(|r| versions.iter().any(|v| &&v.version_id == r))
                    .cloned()
                    .or_else(|| {
                        versions
                            .iter()
                            .filter(|v| &v.version_id != bad_version)
                            .max_by_key(|v| (v.created, version_number(&v.version_id)))
                            .map(|v| v.version_id.clone())
                    });
                let Some(restore) = restore else {
                    return Ok(Resolution::Skip(format!(
                        "`{bad_version}` is the only version of `{policy_arn}`: there is nothing to revert to; \
                         detach or delete the policy instead"
                    )));
                };
                calls.push(Call::SetDefaultPolicyVersion {
                    policy_arn: policy_arn.clone(),
                    version_id: restore,
                });
            }
            calls.push(Call::DeletePolicyVersion {
                policy_arn: policy_arn.clone(),
                version_id: bad_version.clone(),
            });
            let document = aws.policy_version_document(policy_arn, bad_version)?;
            let prior = json!({
                "versions": versions,
                "bad_version": bad_version,
                "bad_version_was_default": bad.is_default,
                "bad_document": document,
            });
            step(description, prior, calls, revert_reversibility())
        }
        DetachPolicy {
            principal_kind,
            principal_name,
            policy_arn,
        } => {
            let description =
                format!("detach {policy_arn} from {principal_kind:?} {principal_name}")
                    .to_lowercase_kind();
            let call = Call::DetachPolicy {
                principal_kind: *principal_kind,
                principal_name: principal_name.clone(),
                policy_arn: policy_arn.clone(),
            };
            let Some(aws) = aws else {
                return Ok(step(
                    description,
                    Value::Null,
                    vec![call],
                    Reversibility::Full,
                ));
            };
            match aws.attached_policies(*principal_kind, principal_name)? {
                None => Resolution::Skip(format!(
                    "{principal_kind:?} `{principal_name}` no longer exists"
                )),
                Some(attached) if !attached.contains(policy_arn) => step(
                    description,
                    json!({"attached": attached}),
                    Vec::new(),
                    Reversibility::Full,
                ),
                Some(attached) => step(
                    description,
                    json!({"attached": attached}),
                    vec![call],
                    Reversibility::Full,
                ),
            }
        }
        DeleteInlinePolicy {
            principal_kind,
            principal_name,
            policy_name,
        } => {
            let description =
                format!("delete inline policy {policy_name} of {principal_kind:?} {principal_name} (saved first)")
                    .to_lowercase_kind();
            let call = Call::DeleteInlinePolicy {
                principal_kind: *principal_kind,
                principal_name: principal_name.clone(),
                policy_name: policy_name.clone(),
            };
            let Some(aws) = aws else {
                return Ok(step(
                    description,
                    Value::Null,
                    vec![call],
                    Reversibility::Full,
                ));
            };
            match aws.inline_policy(*principal_kind, principal_name, policy_name)? {
                None => step(
                    description,
                    json!({"document": null}),
                    Vec::new(),
                    Reversibility::Full,
                ),
                Some(document) => step(
                    description,
                    json!({"document": document}),
                    vec![call],
                    Reversibility::Full,
                ),
            }
        }
        DeactivateAccessKey {
            user_name,
            access_key_id,
        } => {
            let description = format!("deactivate access key {access_key_id} of user {user_name}");
            let call = Call::UpdateAccessKey {
                user_name: user_name.clone(),
                access_key_id: access_key_id.clone(),
                status: KeyStatus::Inactive,
            };
            let Some(aws) = aws else {
                return Ok(step(
                    description,
                    Value::Null,
                    vec![call],
                    Reversibility::Full,
                ));
            };
            let keys = aws.access_keys(user_name)?;
            match keys
                .as_ref()
                .and_then(|k| k.iter().find(|k| &k.access_key_id == access_key_id))
            {
                None => Resolution::Skip(format!(
                    "access key `{access_key_id}` of `{user_name}` no longer exists"
                )),
                Some(key) if key.status == KeyStatus::Inactive => step(
                    description,
                    json!({"status": "Inactive"}),
                    Vec::new(),
                    Reversibility::Full,
                ),
                Some(_) => step(
                    description,
                    json!({"status": "Active"}),
                    vec![call],
                    Reversibility::Full,
                ),
            }
        }
        DeleteLoginProfile { user_name } => {
            let description =
                format!("delete the console password (login profile) of user {user_name}");
            let irreversible = Reversibility::None(
                "AWS never returns a password; a new login profile would need a new password"
                    .into(),
            );
            let call = Call::DeleteLoginProfile {
                user_name: user_name.clone(),
            };
            let Some(aws) = aws else {
                return Ok(step(description, Value::Null, vec![call], irreversible));
            };
            match aws.login_profile(user_name)? {
                None => step(
                    description,
                    json!({"login_profile": false}),
                    Vec::new(),
                    irreversible,
                ),
                Some(reset) => step(
                    description,
                    json!({"login_profile": true, "password_reset_required": reset}),
                    vec![call],
                    irreversible,
                ),
            }
        }
        SetCisPasswordPolicy => {
            let description =
                "raise the account password policy to CIS values (stricter current values kept)"
                    .to_owned();
            let current = match aws {
                Some(aws) => aws.password_policy()?,
                None => None,
            };
            let target = cis_password_policy(current.as_ref());
            // Offline, the current policy is unknown: say so rather than record "there was none".
            let prior = if aws.is_some() {
                json!({"password_policy": current})
            } else {
                Value::Null
            };
            let calls = if current.as_ref() == Some(&target) {
                Vec::new()
            } else {
                vec![Call::UpdateAccountPasswordPolicy(target)]
            };
            step(description, prior, calls, Reversibility::Full)
        }
        RequirePasswordReset { user_name } => {
            let description =
                format!("require user {user_name} to set a new password at next sign-in");
            let call = Call::UpdateLoginProfile {
                user_name: user_name.clone(),
                password_reset_required: true,
            };
            let Some(aws) = aws else {
                return Ok(step(
                    description,
                    Value::Null,
                    vec![call],
                    Reversibility::Full,
                ));
            };
            match aws.login_profile(user_name)? {
                None => Resolution::Skip(format!(
                    "user `{user_name}` has no console password to reset"
                )),
                Some(true) => step(
                    description,
                    json!({"password_reset_required": true}),
                    Vec::new(),
                    Reversibility::Full,
                ),
                Some(false) => step(
                    description,
                    json!({"password_reset_required": false}),
                    vec![call],
                    Reversibility::Full,
                ),
            }
        }
        DeleteUnusedUser { user_name } => {
            let description =
                format!("delete unused user {user_name} (everything about it saved first)");
            let partial = Reversibility::Partial(
                "the user, its groups, tags, boundary and policies come back; passwords, access keys, MFA devices, \
                 certificates and SSH keys cannot be recreated as they were"
                    .into(),
            );
            let Some(aws) = aws else {
                return Ok(Resolution::Skip(format!(
                    "deleting user `{user_name}` needs its current state (connect to AWS; no offline plan)"
                )));
            };
            match aws.user_snapshot(user_name)? {
                None => step(description, json!({"user": null}), Vec::new(), partial),
                Some(snapshot) => {
                    let calls = delete_user_calls(&snapshot);
                    step(description, json!({"user": snapshot}), calls, partial)
                }
            }
        }
        CreateMultiRegionTrail { bucket_name } => {
            let description =
                format!("create multi-region trail {TRAIL_NAME} with log file validation");
            let Some(bucket) = bucket_name.clone().or_else(|| opts.trail_bucket.clone()) else {
                return Ok(Resolution::Skip(
                    "a new trail needs an S3 bucket with a CloudTrail bucket policy: pass --trail-bucket NAME".into(),
                ));
            };
            let calls = vec![
                Call::CreateTrail {
                    name: TRAIL_NAME.into(),
                    s3_bucket_name: bucket,
                },
                Call::StartLogging {
                    name: TRAIL_NAME.into(),
                },
            ];
            let Some(aws) = aws else {
                return Ok(step(description, Value::Null, calls, Reversibility::Full));
            };
            let trails = aws.trails()?;
            let covered = trails.iter().any(|t| t.is_multi_region && t.is_logging);
            let calls = if covered { Vec::new() } else { calls };
            step(
                description,
                json!({"trails": trails}),
                calls,
                Reversibility::Full,
            )
        }
        StartLogging { trail_name } => {
            let description = format!("restart logging on trail {trail_name}");
            let call = Call::StartLogging {
                name: trail_name.clone(),
            };
            let Some(aws) = aws else {
                return Ok(step(
                    description,
                    Value::Null,
                    vec![call],
                    Reversibility::Full,
                ));
            };
            let trails = aws.trails()?;
            match trails
                .iter()
                .find(|t| &t.name == trail_name || trail_name.ends_with(&format!("/{}", t.name)))
            {
                None => Resolution::Skip(format!("trail `{trail_name}` no longer exists")),
                Some(t) if t.is_logging => step(
                    description,
                    json!({"is_logging": true}),
                    Vec::new(),
                    Reversibility::Full,
                ),
                Some(_) => step(
                    description,
                    json!({"is_logging": false}),
                    vec![call],
                    Reversibility::Full,
                ),
            }
        }
        RestoreAccountAlias { alias } => {
            let description = format!("restore account alias {alias}");
            let create = Call::CreateAccountAlias {
                alias: alias.clone(),
            };
            let Some(aws) = aws else {
                return Ok(step(
                    description,
                    Value::Null,
                    vec![create],
                    Reversibility::Full,
                ));
            };
            let current = aws.account_aliases()?;
            if current.iter().any(|a| a == alias) {
                step(
                    description,
                    json!({"aliases": current}),
                    Vec::new(),
                    Reversibility::Full,
                )
            } else {
                // An account has at most one alias: the one there now (perhaps the attacker's) goes first.
                let mut calls: Vec<Call> = current
                    .iter()
                    .map(|a| Call::DeleteAccountAlias { alias: a.clone() })
                    .collect();
                calls.push(create);
                step(
                    description,
                    json!({"aliases": current}),
                    calls,
                    Reversibility::Full,
                )
            }
        }
        Manual { description } => Resolution::Skip(format!("manual fix: {description}")),
    })
}

fn revert_reversibility() -> Reversibility {
    Reversibility::Partial(
        "the deleted version is recreated from its saved document under a new version id (IAM assigns ids)".into(),
    )
}

fn version_number(id: &str) -> u32 {
    id.trim_start_matches(['v', 'V']).parse().unwrap_or(0)
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

/// IAM refuses to delete a user that still has credentials, memberships or policies: remove them first.
pub fn delete_user_calls(user: &UserSnapshot) -> Vec<Call> {
    let name = &user.user_name;
    let mut calls = Vec::new();
    if user.has_login_profile {
        calls.push(Call::DeleteLoginProfile {
            user_name: name.clone(),
        });
    }
    for key in &user.access_keys {
        calls.push(Call::DeleteAccessKey {
            user_name: name.clone(),
            access_key_id: key.access_key_id.clone(),
        });
    }
    for serial in &user.mfa_devices {
        calls.push(Call::DeactivateMfaDevice {
            user_name: name.clone(),
            serial_number: serial.clone(),
        });
    }
    for id in &user.signing_certificates {
        calls.push(Call::DeleteSigningCertificate {
            user_name: name.clone(),
            certificate_id: id.clone(),
        });
    }
    for id in &user.ssh_public_keys {
        calls.push(Call::DeleteSshPublicKey {
            user_name: name.clone(),
            ssh_public_key_id: id.clone(),
        });
    }
    for id in &user.service_specific_credentials {
        calls.push(Call::DeleteServiceSpecificCredential {
            user_name: name.clone(),
            service_specific_credential_id: id.clone(),
        });
    }
    for group in &user.groups {
        calls.push(Call::RemoveUserFromGroup {
            group_name: group.clone(),
            user_name: name.clone(),
        });
    }
    for arn in &user.attached_policies {
        calls.push(Call::DetachPolicy {
            principal_kind: trailguard_rules::remediation::PrincipalKind::User,
            principal_name: name.clone(),
            policy_arn: arn.clone(),
        });
    }
    for policy in &user.inline_policies {
        calls.push(Call::DeleteInlinePolicy {
            principal_kind: trailguard_rules::remediation::PrincipalKind::User,
            principal_name: name.clone(),
            policy_name: policy.name.clone(),
        });
    }
    calls.push(Call::DeleteUser {
        user_name: name.clone(),
    });
    calls
}

/// `Debug` of a principal kind is `User`; descriptions read better in lower case.
trait LowercaseKind {
    fn to_lowercase_kind(self) -> String;
}

impl LowercaseKind for String {
    fn to_lowercase_kind(self) -> String {
        self.replacen(" User ", " user ", 1)
            .replacen(" Group ", " group ", 1)
            .replacen(" Role ", " role ", 1)
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

    #[test]
    fn offline_plan_groups_findings_by_action() {
        let action = FixAction::DeactivateAccessKey {
            user_name: "bob".into(),
            access_key_id: "AKIAEXAMPLE".into(),
        };
        let mk = |id: &str, actions: Vec<FixAction>| {
            let mut finding = Finding::new(
                id,
                "CT008",
                "access-key-created-for-another-user",
                "t",
                trailguard_rules::Severity::High,
                trailguard_rules::FindingSource::Cloudtrail,
                "m",
            );
            finding.fix = trailguard_rules::Fix {
                actions,
                ..Default::default()
            };
            finding
        };
        let findings = vec![
            mk("a", vec![action.clone()]),
            mk("b", vec![action.clone()]),
            mk("c", vec![]),
        ];
        let plan = build(&findings, None, &PlanOptions::default()).unwrap();
        assert_eq!(plan.steps.len(), 1);
        assert_eq!(plan.steps[0].finding_ids, vec!["a", "b"]);
        assert_eq!(plan.not_fixable, 1);
        assert_eq!(
            plan.steps[0].calls[0].to_cli(),
            "aws iam update-access-key --user-name bob --access-key-id AKIAEXAMPLE --status Inactive"
        );
    }

    #[test]
    fn deleting_a_user_removes_what_blocks_it_first() {
        let user = UserSnapshot {
            user_name: "old".into(),
            arn: "arn:aws:iam::111122223333:user/old".into(),
            path: None,
            permissions_boundary: None,
            tags: vec![],
            groups: vec!["devs".into()],
            attached_policies: vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".into()],
            inline_policies: vec![],
            access_keys: vec![super::super::aws::AccessKeyInfo {
                access_key_id: "AKIA1".into(),
                status: KeyStatus::Active,
            }],
            has_login_profile: true,
            mfa_devices: vec![],
            signing_certificates: vec![],
            ssh_public_keys: vec![],
            service_specific_credentials: vec![],
        };
        let calls = delete_user_calls(&user);
        let ops: Vec<&str> = calls.iter().map(|c| c.api_form().operation).collect();
        assert_eq!(
            ops,
            [
                "DeleteLoginProfile",
                "DeleteAccessKey",
                "RemoveUserFromGroup",
                "DetachUserPolicy",
                "DeleteUser"
            ]
        );
    }
}
