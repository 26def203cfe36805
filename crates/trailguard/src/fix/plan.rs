//! From findings to a plan. Each fixable finding's [`FixAction`] is resolved against the account's current
//! state (read-only calls) into a [`Step`]: the exact calls to make, the prior state to journal, and
//! whether AWS lets it be undone. A step whose target state already holds has no calls, so planning
//! again after an apply shows nothing to do.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use trailguard_rules::remediation::FixAction;
use trailguard_rules::Finding;

use trailguard_rules::remediation::{BadPolicyVersion, PrincipalKind};

use super::aws::{decode_document, ApiError, Aws, PolicyVersionInfo, TrailInfo, UserSnapshot};
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
    /// The account the plan was resolved in (the caller's); `undo` and `resume` refuse other accounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
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
    /// The account the calls go to (the caller's, from `GetCallerIdentity`), named in messages and
    /// recorded in each step.
    pub target_account: Option<String>,
    /// Documents of policy versions trailguard reverted before (from the journal), by policy ARN. A
    /// version that holds one of them again (`fix undo` recreates it under a new id) is reverted again:
    /// a revert is resolved against the document, not only the version id.
    pub reverted_documents: BTreeMap<String, Vec<String>>,
}

impl PlanOptions {
    /// "in account 123456789012", or "in the target account" when it is not known.
    fn in_account(&self) -> String {
        match &self.target_account {
            Some(account) => format!("in account {account}"),
            None => "in the target account".to_owned(),
        }
    }
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
    (merge_policy_reverts(order), not_fixable)
}

/// Several reverts of one policy become one [`FixAction::RevertPolicyVersions`]: two steps would each
/// pick a version to restore, and the second could pick the version the first deletes.
fn merge_policy_reverts(actions: Vec<(FixAction, Vec<String>)>) -> Vec<(FixAction, Vec<String>)> {
    let mut per_policy: BTreeMap<String, usize> = BTreeMap::new();
    for (action, _) in &actions {
        if let FixAction::RevertPolicyVersion { policy_arn, .. } = action {
            *per_policy.entry(policy_arn.clone()).or_default() += 1;
        }
    }
    let mut merged: Vec<(FixAction, Vec<String>)> = Vec::new();
    let mut slot: BTreeMap<String, usize> = BTreeMap::new();
    for (action, finding_ids) in actions {
        let FixAction::RevertPolicyVersion {
            policy_arn,
            bad_version,
            restore_version,
            bad_version_was_default,
        } = &action
        else {
            merged.push((action, finding_ids));
            continue;
        };
        if per_policy[policy_arn] < 2 {
            merged.push((action, finding_ids));
            continue;
        }
        let bad = BadPolicyVersion {
            version_id: bad_version.clone(),
            was_default: *bad_version_was_default,
        };
        match slot.get(policy_arn) {
            None => {
                slot.insert(policy_arn.clone(), merged.len());
                merged.push((
                    FixAction::RevertPolicyVersions {
                        policy_arn: policy_arn.clone(),
                        bad_versions: vec![bad],
                        restore_version: restore_version.clone(),
                    },
                    finding_ids,
                ));
            }
            Some(&i) => {
                let (group, ids) = &mut merged[i];
                if let FixAction::RevertPolicyVersions {
                    bad_versions,
                    restore_version: restore,
                    ..
                } = group
                {
                    match bad_versions
                        .iter_mut()
                        .find(|b| b.version_id == bad.version_id)
                    {
                        Some(known) => {
                            known.was_default = known.was_default.or(bad.was_default);
                        }
                        None => bad_versions.push(bad),
                    }
                    if restore.is_none() {
                        restore.clone_from(restore_version);
                    }
                }
                for id in finding_ids {
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
            }
        }
    }
    for (action, _) in &mut merged {
        if let FixAction::RevertPolicyVersions {
            bad_versions,
            restore_version,
            ..
        } = action
        {
            bad_versions.sort_by_key(|b| version_number(&b.version_id));
            // A version flagged as bad is never the one to restore.
            if restore_version
                .as_ref()
                .is_some_and(|r| bad_versions.iter().any(|b| &b.version_id == r))
            {
                *restore_version = None;
            }
        }
    }
    merged
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
            } => {
                let mut notes = notes;
                if calls.iter().any(Call::holds_nul) {
                    plan.skipped.push(Skipped {
                        finding_ids,
                        action: Some(action),
                        reason: "a value holds a NUL character, which no AWS name can hold and no shell \
                                 word can carry: not a real target"
                            .into(),
                    });
                    continue;
                }
                notes.dedup();
                plan.steps.push(Step {
                    id: step_id(&action),
                    finding_ids,
                    action,
                    description,
                    prior,
                    calls,
                    reversibility,
                    notes,
                    account: opts.target_account.clone(),
                })
            }
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
            bad_version_was_default,
        } => revert_versions(
            policy_arn,
            &[BadPolicyVersion {
                version_id: bad_version.clone(),
                was_default: *bad_version_was_default,
            }],
            restore_version.as_ref(),
            aws,
            opts,
        )?,
        RevertPolicyVersions {
            policy_arn,
            bad_versions,
            restore_version,
        } => revert_versions(
            policy_arn,
            bad_versions,
            restore_version.as_ref(),
            aws,
            opts,
        )?,
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
                None => missing(*principal_kind, principal_name, opts),
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
                None if !aws.principal_exists(*principal_kind, principal_name)? => {
                    missing(*principal_kind, principal_name, opts)
                }
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
            let Some(keys) = aws.access_keys(user_name)? else {
                return Ok(missing(PrincipalKind::User, user_name, opts));
            };
            match keys.iter().find(|k| &k.access_key_id == access_key_id) {
                None => Resolution::Skip(format!(
                    "access key `{access_key_id}` of user `{user_name}` does not exist {}",
                    opts.in_account()
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
                None if !aws.principal_exists(PrincipalKind::User, user_name)? => {
                    missing(PrincipalKind::User, user_name, opts)
                }
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
                None if !aws.principal_exists(PrincipalKind::User, user_name)? => {
                    missing(PrincipalKind::User, user_name, opts)
                }
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
                None => missing(PrincipalKind::User, user_name, opts),
                Some(snapshot) => {
                    let calls = delete_user_calls(&snapshot);
                    step(description, json!({"user": snapshot}), calls, partial)
                }
            }
        }
        CreateMultiRegionTrail { bucket_name } => {
            let create = |bucket: String| {
                vec![
                    Call::CreateTrail {
                        name: TRAIL_NAME.into(),
                        s3_bucket_name: bucket,
                    },
                    Call::StartLogging {
                        name: TRAIL_NAME.into(),
                    },
                ]
            };
            let description =
                format!("create multi-region trail {TRAIL_NAME} with log file validation");
            let bucket = bucket_name.clone().or_else(|| opts.trail_bucket.clone());
            let Some(aws) = aws else {
                let Some(bucket) = bucket else {
                    return Ok(Resolution::Skip(NEEDS_BUCKET.into()));
                };
                let mut resolution = step(
                    description,
                    Value::Null,
                    create(bucket),
                    Reversibility::Full,
                );
                add_note(
                    &mut resolution,
                    "planned offline: with AWS access, an existing single-region trail is made multi-region \
                     instead of creating a second one",
                );
                return Ok(resolution);
            };
            let trails = aws.trails()?;
            if trails.iter().any(|t| t.is_multi_region && t.is_logging) {
                return Ok(step(
                    description,
                    json!({"trails": trails}),
                    Vec::new(),
                    Reversibility::Full,
                ));
            }
            // An existing trail is changed in place rather than paying for a second one: a stopped
            // multi-region trail is restarted, else a single-region one (logging preferred) made multi-region.
            let existing = trails
                .iter()
                .filter(|t| t.is_multi_region)
                .chain(trails.iter().filter(|t| !t.is_multi_region && t.is_logging))
                .chain(trails.iter().filter(|t| !t.is_multi_region))
                .next();
            match existing {
                Some(trail) => update_trail_to_multi_region(trail, aws)?,
                None => match bucket {
                    Some(bucket) => step(
                        description,
                        json!({"trails": trails}),
                        create(bucket),
                        Reversibility::Full,
                    ),
                    None => Resolution::Skip(NEEDS_BUCKET.into()),
                },
            }
        }
        MakeTrailMultiRegion { trail_name } => {
            let Some(aws) = aws else {
                return Ok(step(
                    format!("make trail {trail_name} multi-region"),
                    Value::Null,
                    vec![make_multi_region_call(trail_name, None)],
                    Reversibility::Full,
                ));
            };
            match find_trail(&aws.trails()?, trail_name) {
                None => missing_trail(trail_name, opts),
                Some(trail) => update_trail_to_multi_region(trail, aws)?,
            }
        }
        EnableLogFileValidation { trail_name } => {
            let description = format!("enable log file validation on trail {trail_name}");
            let call = |name: &str| Call::UpdateTrail {
                name: name.to_owned(),
                is_multi_region_trail: None,
                include_global_service_events: None,
                enable_log_file_validation: Some(true),
            };
            let Some(aws) = aws else {
                return Ok(step(
                    description,
                    Value::Null,
                    vec![call(trail_name)],
                    Reversibility::Full,
                ));
            };
            match find_trail(&aws.trails()?, trail_name) {
                None => missing_trail(trail_name, opts),
                Some(trail) if trail.log_file_validation => step(
                    description,
                    json!({"trail": trail}),
                    Vec::new(),
                    Reversibility::Full,
                ),
                Some(trail) => match wrong_region(trail, aws) {
                    Some(skip) => skip,
                    None => step(
                        description,
                        json!({"trail": trail}),
                        vec![call(&trail.name)],
                        Reversibility::Full,
                    ),
                },
            }
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
            match find_trail(&trails, trail_name) {
                None => missing_trail(trail_name, opts),
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

const NEEDS_BUCKET: &str =
    "a new trail needs an S3 bucket with a CloudTrail bucket policy: pass --trail-bucket NAME";

/// A target the finding names that is not in the account the credentials reach: reported, never
/// mistaken for "already in place" (the finding may come from another account).
fn missing(kind: PrincipalKind, name: &str, opts: &PlanOptions) -> Resolution {
    let kind = format!("{kind:?}").to_lowercase();
    Resolution::Skip(format!(
        "missing: {kind} `{name}` does not exist {}",
        opts.in_account()
    ))
}

fn missing_trail(name: &str, opts: &PlanOptions) -> Resolution {
    Resolution::Skip(format!(
        "missing: trail `{name}` does not exist {}",
        opts.in_account()
    ))
}

fn add_note(resolution: &mut Resolution, note: &str) {
    if let Resolution::Step { notes, .. } = resolution {
        notes.push(note.to_owned());
    }
}

/// A trail by name, or by an ARN ending in `/NAME`.
fn find_trail<'t>(trails: &'t [TrailInfo], name: &str) -> Option<&'t TrailInfo> {
    trails
        .iter()
        .find(|t| t.name == name || name.ends_with(&format!("/{}", t.name)))
}

/// `UpdateTrail` only works in the trail's home region: a plan for another region is refused up front.
fn wrong_region(trail: &TrailInfo, aws: &Aws) -> Option<Resolution> {
    let home = trail.home_region.as_deref()?;
    let here = aws.region()?;
    (home != here).then(|| {
        Resolution::Skip(format!(
            "trail `{}` lives in {home}: plan again with --region {home} (UpdateTrail must be called there)",
            trail.name
        ))
    })
}

fn make_multi_region_call(name: &str, current: Option<&TrailInfo>) -> Call {
    Call::UpdateTrail {
        name: name.to_owned(),
        is_multi_region_trail: Some(true),
        // AWS requires global service events on a multi-region trail.
        include_global_service_events: match current {
            Some(t) if t.include_global_service_events => None,
            _ => Some(true),
        },
        enable_log_file_validation: None,
    }
}

/// Makes an existing trail multi-region (and restarts it when stopped), saving its settings for undo.
fn update_trail_to_multi_region(trail: &TrailInfo, aws: &Aws) -> Result<Resolution, ApiError> {
    let mut calls = Vec::new();
    if !trail.is_multi_region {
        calls.push(make_multi_region_call(&trail.name, Some(trail)));
    }
    if !trail.is_logging {
        calls.push(Call::StartLogging {
            name: trail.name.clone(),
        });
    }
    let description = if trail.is_multi_region {
        format!("restart logging on multi-region trail {}", trail.name)
    } else {
        format!(
            "make trail {} multi-region with update-trail (no second trail)",
            trail.name
        )
    };
    if let Some(skip) = wrong_region(trail, aws).filter(|_| !calls.is_empty()) {
        return Ok(skip);
    }
    Ok(step(
        description,
        json!({"trail": trail}),
        calls,
        Reversibility::Full,
    ))
}

/// Reverts one or more versions of a policy: makes a good version the default when a bad one is (IAM
/// refuses to delete the default version), then deletes every bad version. Live, the bad versions are
/// the named ids that still exist plus any version whose document trailguard reverted before; offline,
/// the version to restore is `restore` or, when unknown, the newest version number below the bad ones.
fn revert_versions(
    policy_arn: &str,
    bad: &[BadPolicyVersion],
    restore: Option<&String>,
    aws: Option<&Aws>,
    opts: &PlanOptions,
) -> Result<Resolution, ApiError> {
    let ids: Vec<&str> = bad.iter().map(|b| b.version_id.as_str()).collect();
    let description = format!(
        "revert policy {policy_arn}: restore the previous default and delete {}",
        ids.join(", ")
    );
    let delete = |id: &str| Call::DeletePolicyVersion {
        policy_arn: policy_arn.to_owned(),
        version_id: id.to_owned(),
    };
    let set_default = |id: &str| Call::SetDefaultPolicyVersion {
        policy_arn: policy_arn.to_owned(),
        version_id: id.to_owned(),
    };
    let Some(aws) = aws else {
        let mut calls = Vec::new();
        let mut notes = Vec::new();
        // Unknown counts as default: deleting a default version fails, setting a default first does not.
        if bad.iter().any(|b| b.was_default != Some(false)) {
            let given = restore.filter(|r| !ids.contains(&r.as_str())).cloned();
            let guessed = given.is_none();
            let Some(restore) = given.or_else(|| previous_version(&ids)) else {
                return Ok(Resolution::Skip(format!(
                    "no version of `{policy_arn}` older than {} is known offline to restore; plan with AWS \
                     access, or detach or delete the policy instead",
                    ids.join(", ")
                )));
            };
            if guessed {
                notes.push(format!(
                    "planned offline: {restore}, the version numbered just before, is assumed to be the previous \
                     default; check with `aws iam list-policy-versions --policy-arn {policy_arn}`"
                ));
            }
            calls.push(set_default(&restore));
        }
        calls.extend(ids.iter().map(|id| delete(id)));
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
            "missing: policy `{policy_arn}` does not exist {}",
            opts.in_account()
        )));
    };
    let mut notes = Vec::new();
    let mut reverted: Vec<(&PolicyVersionInfo, String)> = Vec::new();
    let known = opts
        .reverted_documents
        .get(policy_arn)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for version in &versions {
        let named = ids.contains(&version.version_id.as_str());
        if !named && known.is_empty() {
            continue;
        }
        let document = aws.policy_version_document(policy_arn, &version.version_id)?;
        let seen_before = !named && known.iter().any(|k| same_document(k, &document));
        if seen_before {
            notes.push(format!(
                "{} holds a document trailguard reverted before (recreated since, e.g. by `fix undo`)",
                version.version_id
            ));
        }
        if named || seen_before {
            reverted.push((version, document));
        }
    }
    reverted.sort_by_key(|(v, _)| version_number(&v.version_id));
    let mut calls = Vec::new();
    if reverted.iter().any(|(v, _)| v.is_default) {
        let is_bad = |id: &str| reverted.iter().any(|(v, _)| v.version_id == id);
        let restore = restore
            .filter(|r| versions.iter().any(|v| &&v.version_id == r) && !is_bad(r))
            .cloned()
            .or_else(|| {
                versions
                    .iter()
                    .filter(|v| !is_bad(&v.version_id))
                    .max_by_key(|v| (v.created, version_number(&v.version_id)))
                    .map(|v| v.version_id.clone())
            });
        let Some(restore) = restore else {
            return Ok(Resolution::Skip(format!(
                "every version of `{policy_arn}` is one to revert: there is nothing to restore; detach or \
                 delete the policy instead"
            )));
        };
        calls.push(set_default(&restore));
    }
    calls.extend(reverted.iter().map(|(v, _)| delete(&v.version_id)));
    let prior = json!({
        "versions": versions,
        "default_version": versions.iter().find(|v| v.is_default).map(|v| &v.version_id),
        "reverted": reverted
            .iter()
            .map(|(v, document)| json!({
                "version_id": v.version_id,
                "was_default": v.is_default,
                "document": document,
            }))
            .collect::<Vec<_>>(),
    });
    Ok(Resolution::Step {
        description,
        prior,
        calls,
        reversibility: revert_reversibility(),
        notes,
    })
}

/// The highest version number below the newest bad version that is not itself bad (`v1` for `v2, v3`).
fn previous_version(bad: &[&str]) -> Option<String> {
    let numbers: Vec<u32> = bad.iter().map(|id| version_number(id)).collect();
    let newest = *numbers.iter().max()?;
    (1..newest)
        .rev()
        .find(|n| !numbers.contains(n))
        .map(|n| format!("v{n}"))
}

/// Two policy documents are the same when they parse to the same JSON (IAM re-encodes what it stores).
pub fn same_document(a: &str, b: &str) -> bool {
    let parse = |d: &str| serde_json::from_str::<Value>(&decode_document(d)).ok();
    match (parse(a), parse(b)) {
        (Some(a), Some(b)) => a == b,
        _ => a == b,
    }
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

    fn finding_with(id: &str, actions: Vec<FixAction>) -> Finding {
        let mut finding = Finding::new(
            id,
            "CT008",
            "test",
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
    }

    #[test]
    fn offline_plan_groups_findings_by_action() {
        let action = FixAction::DeactivateAccessKey {
            user_name: "bob".into(),
            access_key_id: "AKIAEXAMPLE".into(),
        };
        let findings = vec![
            finding_with("a", vec![action.clone()]),
            finding_with("b", vec![action.clone()]),
            finding_with("c", vec![]),
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

    fn revert(version: &str, was_default: Option<bool>) -> Finding {
        finding_with(
            version,
            vec![FixAction::RevertPolicyVersion {
                policy_arn: "arn:aws:iam::111122223333:policy/p".into(),
                bad_version: version.into(),
                restore_version: None,
                bad_version_was_default: was_default,
            }],
        )
    }

    #[test]
    fn offline_reverts_of_one_policy_restore_once_then_delete_each() {
        let plan = build(
            &[revert("v3", Some(true)), revert("v2", Some(true))],
            None,
            &PlanOptions::default(),
        )
        .unwrap();
        assert_eq!(plan.steps.len(), 1);
        let ops: Vec<String> = plan.steps[0]
            .calls
            .iter()
            .map(|c| c.to_cli().rsplit(' ').next().unwrap().to_owned())
            .collect();
        assert_eq!(ops, ["v1", "v2", "v3"]);
        assert_eq!(
            plan.steps[0].calls[0].api_form().operation,
            "SetDefaultPolicyVersion"
        );
        assert_eq!(plan.steps[0].finding_ids, ["v3", "v2"]);

        // Created without becoming the default: deleted as it is, the default left alone.
        let plan = build(&[revert("v4", Some(false))], None, &PlanOptions::default()).unwrap();
        assert_eq!(plan.steps[0].calls.len(), 1);
        // The first version has nothing before it to restore.
        let plan = build(&[revert("v1", None)], None, &PlanOptions::default()).unwrap();
        assert_eq!(plan.skipped.len(), 1);
    }

    #[test]
    fn the_version_to_restore_is_the_newest_older_good_one() {
        assert_eq!(previous_version(&["v2", "v3"]).as_deref(), Some("v1"));
        assert_eq!(previous_version(&["v2", "v4"]).as_deref(), Some("v3"));
        assert_eq!(previous_version(&["v1"]), None);
        assert!(same_document(
            r#"{"Version": "2012-10-17", "Statement": []}"#,
            "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D"
        ));
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
