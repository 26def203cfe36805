//! Fix actions: one file per [`FixAction`], each holding everything about its fix.
//!
//! An action file says what it fixes and for which rules, then gives
//! - `resolve`: read the current state (read-only calls; offline, `ctx.aws` is `None`) and return the
//!   calls that reach the target state with the typed `Prior` state they change. No calls when the target
//!   already holds, so applying again is a no-op. A target that is not in the account is a skip, never
//!   "already fixed".
//! - `Prior`: the state the calls change, as the journal saves it. A serde struct with
//!   `deny_unknown_fields` (and every state type it holds, in `fix/aws.rs`, the same): a journal whose
//!   prior state does not read back exactly is refused with a message, never undone from a guess.
//! - `inverse`: from the `Prior` and the calls the journal records as made, the calls that put the state
//!   back, newest first. A call AWS offers no inverse for (a deleted password or access key) is left out;
//!   the step's [`Reversibility`] told the user so before it was applied.
//!
//! Calls are [`Call`]s (`trailguard_rules::call`), so a plan renders as AWS CLI or boto3 with the same
//! quoting as the commands rules suggest, and executes through `fix/aws.rs`.
//!
//! The registry is below: [`resolve`] and [`inverse`], one arm per action, each `match` exhaustive so a new
//! `FixAction` variant without its action does not compile. Adding an action: the variant in
//! `trailguard-rules/src/remediation.rs`, its file here, its `mod` line and its arm in both `match`es,
//! and its row in the contract test at the end of this file.

mod apply_generated_policy;
mod create_multi_region_trail;
mod deactivate_access_key;
mod delete_inline_policy;
mod delete_login_profile;
mod delete_unused_user;
mod detach_policy;
mod enable_log_file_validation;
mod make_trail_multi_region;
mod manual;
mod require_password_reset;
mod restore_account_alias;
mod revert_policy_versions;
mod set_cis_password_policy;
mod start_logging;
mod trail;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use trailguard_rules::call::Call;
use trailguard_rules::remediation::{BadPolicyVersion, FixAction, IdentityKind};

use super::aws::{ApiError, ApiErrorKind, Aws};
use super::plan::{PlanOptions, Reversibility};

pub use apply_generated_policy::POLICY_NAME as GENERATED_POLICY_NAME;
pub use revert_policy_versions::{merge_policy_reverts, reverted_documents};

/// Resolves one action against the current state (or, offline, from the action alone).
pub fn resolve(
    action: &FixAction,
    aws: Option<&Aws>,
    opts: &PlanOptions,
) -> Result<Resolution, ApiError> {
    use FixAction as A;
    let cx = &Context { aws, opts };
    match action {
        A::RevertPolicyVersion {
            policy_arn,
            bad_version,
            restore_version,
            bad_version_was_default,
        } => erase(revert_policy_versions::resolve(
            cx,
            policy_arn,
            &[BadPolicyVersion {
                version_id: bad_version.clone(),
                was_default: *bad_version_was_default,
            }],
            restore_version.as_ref(),
        )),
        A::RevertPolicyVersions {
            policy_arn,
            bad_versions,
            restore_version,
        } => erase(revert_policy_versions::resolve(
            cx,
            policy_arn,
            bad_versions,
            restore_version.as_ref(),
        )),
        A::DetachPolicy {
            principal_kind,
            principal_name,
            policy_arn,
        } => erase(detach_policy::resolve(
            cx,
            *principal_kind,
            principal_name,
            policy_arn,
        )),
        A::DeleteInlinePolicy {
            principal_kind,
            principal_name,
            policy_name,
        } => erase(delete_inline_policy::resolve(
            cx,
            *principal_kind,
            principal_name,
            policy_name,
        )),
        A::DeactivateAccessKey {
            user_name,
            access_key_id,
        } => erase(deactivate_access_key::resolve(cx, user_name, access_key_id)),
        A::DeleteLoginProfile { user_name } => erase(delete_login_profile::resolve(cx, user_name)),
        A::SetCisPasswordPolicy => erase(set_cis_password_policy::resolve(cx)),
        A::RequirePasswordReset { user_name } => {
            erase(require_password_reset::resolve(cx, user_name))
        }
        A::DeleteUnusedUser { user_name } => erase(delete_unused_user::resolve(cx, user_name)),
        A::CreateMultiRegionTrail { bucket_name } => {
            erase(create_multi_region_trail::resolve(cx, bucket_name.as_ref()))
        }
        A::MakeTrailMultiRegion { trail_name } => {
            erase(make_trail_multi_region::resolve(cx, trail_name))
        }
        A::EnableLogFileValidation { trail_name } => {
            erase(enable_log_file_validation::resolve(cx, trail_name))
        }
        A::StartLogging { trail_name } => erase(start_logging::resolve(cx, trail_name)),
        A::RestoreAccountAlias { alias } => erase(restore_account_alias::resolve(cx, alias)),
        A::ApplyGeneratedPolicy {
            principal_kind,
            principal_name,
            policy_name,
            policy_document,
        } => erase(apply_generated_policy::resolve(
            cx,
            *principal_kind,
            principal_name,
            policy_name,
            policy_document,
        )),
        A::Manual { description } => erase(Ok(manual::resolve(description))),
    }
}

/// The calls that put back what `made` (the calls of a change the journal records as made) changed,
/// newest first, from the change's saved prior state read back as the action's typed `Prior`.
pub fn inverse(action: &FixAction, prior: &Value, made: &[Call]) -> Result<Vec<Call>, String> {
    use FixAction as A;
    match action {
        A::RevertPolicyVersion { .. } | A::RevertPolicyVersions { .. } => {
            typed(prior, made, revert_policy_versions::inverse)
        }
        A::DetachPolicy { .. } => typed(prior, made, detach_policy::inverse),
        A::DeleteInlinePolicy { .. } => typed(prior, made, delete_inline_policy::inverse),
        A::DeactivateAccessKey { .. } => typed(prior, made, deactivate_access_key::inverse),
        A::DeleteLoginProfile { .. } => typed(prior, made, delete_login_profile::inverse),
        A::SetCisPasswordPolicy => typed(prior, made, set_cis_password_policy::inverse),
        A::RequirePasswordReset { .. } => typed(prior, made, require_password_reset::inverse),
        A::DeleteUnusedUser { .. } => typed(prior, made, delete_unused_user::inverse),
        A::CreateMultiRegionTrail { .. } => typed(prior, made, create_multi_region_trail::inverse),
        A::MakeTrailMultiRegion { .. } => typed(prior, made, make_trail_multi_region::inverse),
        A::EnableLogFileValidation { .. } => {
            typed(prior, made, enable_log_file_validation::inverse)
        }
        A::StartLogging { .. } => typed(prior, made, start_logging::inverse),
        A::RestoreAccountAlias { .. } => typed(prior, made, restore_account_alias::inverse),
        A::ApplyGeneratedPolicy { .. } => typed(prior, made, apply_generated_policy::inverse),
        A::Manual { .. } => typed(prior, made, manual::inverse),
    }
}

/// The saved prior state read back as the action's `Prior`, then inverted. A prior that does not read
/// back exactly (a field renamed or missing since the journal was written) refuses the undo.
fn typed<P: DeserializeOwned>(
    prior: &Value,
    made: &[Call],
    inverse: fn(&P, &[Call]) -> Result<Vec<Call>, String>,
) -> Result<Vec<Call>, String> {
    let prior: P = serde_json::from_value(prior.clone()).map_err(|e| {
        format!(
            "the saved prior state does not read back ({e}); it was written by another version of trailguard: \
             undo by hand from `trailguard fix journal --calls`"
        )
    })?;
    inverse(&prior, made)
}

/// What an action resolves against: the account (`None`: planning offline) and the plan's options.
pub struct Context<'a> {
    pub aws: Option<&'a Aws>,
    pub opts: &'a PlanOptions,
}

impl Context<'_> {
    /// A target the finding names that is not in the account the credentials reach: reported, never
    /// mistaken for "already in place" (the finding may come from another account).
    fn missing<P>(&self, what: &str, name: &str) -> Resolution<P> {
        Resolution::Skip(format!(
            "missing: {what} `{name}` does not exist {}",
            self.in_account()
        ))
    }

    fn missing_principal<P>(&self, kind: IdentityKind, name: &str) -> Resolution<P> {
        self.missing(kind.as_str(), name)
    }

    /// "in account 123456789012", or "in the target account" when it is not known.
    fn in_account(&self) -> String {
        match &self.opts.target_account {
            Some(account) => format!("in account {account}"),
            None => "in the target account".to_owned(),
        }
    }
}

/// An action resolved: a step (maybe with nothing left to do), or the reason it cannot be planned.
#[derive(Debug)]
pub enum Resolution<P = Value> {
    Step(Resolved<P>),
    Skip(String),
}

/// The step an action resolves to. `prior` is `None` when the state was not read (offline).
#[derive(Debug)]
pub struct Resolved<P = Value> {
    pub description: String,
    pub prior: Option<P>,
    /// Empty when the target state already holds.
    pub calls: Vec<Call>,
    pub reversibility: Reversibility,
    pub notes: Vec<String>,
}

impl<P> Resolution<P> {
    /// A step with no notes.
    fn step(
        description: String,
        prior: Option<P>,
        calls: Vec<Call>,
        reversibility: Reversibility,
    ) -> Self {
        Resolution::Step(Resolved {
            description,
            prior,
            calls,
            reversibility,
            notes: Vec::new(),
        })
    }

    /// A step planned offline: the calls the action implies, the state unread.
    fn offline(description: String, calls: Vec<Call>, reversibility: Reversibility) -> Self {
        Self::step(description, None, calls, reversibility)
    }

    /// The same resolution with its prior state wrapped (an action reusing another's resolution).
    fn map_prior<Q>(self, wrap: impl FnOnce(P) -> Q) -> Resolution<Q> {
        match self {
            Resolution::Skip(reason) => Resolution::Skip(reason),
            Resolution::Step(step) => Resolution::Step(Resolved {
                description: step.description,
                prior: step.prior.map(wrap),
                calls: step.calls,
                reversibility: step.reversibility,
                notes: step.notes,
            }),
        }
    }

    fn with_note(mut self, note: impl Into<String>) -> Self {
        if let Resolution::Step(step) = &mut self {
            step.notes.push(note.into());
        }
        self
    }
}

/// A typed resolution as the plan and the journal hold it: the prior as JSON.
fn erase<P: Serialize>(
    resolution: Result<Resolution<P>, ApiError>,
) -> Result<Resolution, ApiError> {
    Ok(match resolution? {
        Resolution::Skip(reason) => Resolution::Skip(reason),
        Resolution::Step(step) => {
            let prior = step.prior.map(|prior| serde_json::to_value(prior));
            let prior = prior.transpose().map_err(|e| ApiError {
                operation: "saving the prior state",
                code: None,
                message: e.to_string(),
                kind: ApiErrorKind::Other,
            })?;
            Resolution::Step(Resolved {
                prior,
                description: step.description,
                calls: step.calls,
                reversibility: step.reversibility,
                notes: step.notes,
            })
        }
    })
}

/// The inverse of each made call, newest first; `None` from `inverse_of` leaves a call out (nothing to
/// put back, or nothing AWS lets us put back).
fn newest_first(
    made: &[Call],
    mut inverse_of: impl FnMut(&Call) -> Result<Option<Call>, String>,
) -> Result<Vec<Call>, String> {
    let mut calls = Vec::new();
    for call in made.iter().rev() {
        calls.extend(inverse_of(call)?);
    }
    Ok(calls)
}

/// A made call this action never makes: the journal does not belong to it.
fn unexpected(call: &Call) -> String {
    format!(
        "the journal records a {} call this fix never makes: not undone",
        call.api_form().operation
    )
}

#[cfg(test)]
mod contract;
