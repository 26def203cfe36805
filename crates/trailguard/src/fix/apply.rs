//! Carrying out a plan, resuming an interrupted one, and undoing a change, all through the journal.

use serde::Serialize;
use serde_json::Value;
use trailguard_rules::remediation::FixAction;
use trailguard_rules::Finding;

use super::aws::{Aws, CallOutcome, InlinePolicy, UserSnapshot};
use super::call::{Call, KeyStatus, PasswordPolicySettings};
use super::journal::{ChangeStatus, Journal, JournalError, Phase};
use super::plan::{self, PlanOptions, Resolution, Reversibility, Step};

#[derive(Debug, thiserror::Error)]
pub enum FixError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Api(#[from] super::aws::ApiError),
    #[error("no change `{0}` in the journal (see `trailguard fix journal`)")]
    UnknownChange(String),
    #[error("change `{id}` cannot be undone: {reason}")]
    Irreversible { id: String, reason: String },
    #[error("change `{id}` is {status}, not applied: nothing to undo")]
    NotApplied { id: String, status: String },
}

/// What happened to one step.
#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    pub change_id: String,
    pub step_id: String,
    pub description: String,
    pub status: ChangeStatus,
    pub calls_done: usize,
    pub calls_already_in_state: usize,
    pub error: Option<String>,
}

/// Stops an apply after this many calls, leaving the change pending, as a crash would. Tests use it to
/// prove `fix resume`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Interrupt {
    pub after_calls: Option<usize>,
}

pub struct Interrupted;

/// Applies every step that has calls. A failing step is journaled as failed and the run goes on.
pub fn apply(
    steps: &[&Step],
    findings: &[Finding],
    aws: &Aws,
    journal: &Journal,
    run_id: &str,
    interrupt: Interrupt,
) -> Result<(Vec<StepResult>, Option<Interrupted>), FixError> {
    let mut results = Vec::new();
    let mut budget = interrupt.after_calls;
    for step in steps {
        let related: Vec<&Finding> = findings
            .iter()
            .filter(|f| step.finding_ids.contains(&f.id))
            .collect();
        let change_id = journal.begin_change(run_id, step, &related)?;
        let (result, stopped) = run_calls(
            aws,
            journal,
            &change_id,
            step,
            &step.calls,
            Phase::Apply,
            &mut budget,
        )?;
        results.push(result);
        if stopped {
            return Ok((results, Some(Interrupted)));
        }
    }
    Ok((results, None))
}

/// Finishes what an interrupted or failed apply left: each unfinished change's action is resolved again
/// against the current state (so calls already made are not repeated), keeping the original prior state.
pub fn resume(
    aws: &Aws,
    journal: &Journal,
    opts: &PlanOptions,
) -> Result<Vec<StepResult>, FixError> {
    let mut results = Vec::new();
    for change in journal.unfinished()? {
        let mut step = change.step.clone();
        match plan::resolve(&step.action, Some(aws), opts)? {
            Resolution::Step { calls, .. } => step.calls = calls,
            Resolution::Skip(reason) => {
                journal.set_status(&change.id, ChangeStatus::Failed, Some(&reason))?;
                results.push(StepResult {
                    change_id: change.id.clone(),
                    step_id: step.id.clone(),
                    description: step.description.clone(),
                    status: ChangeStatus::Failed,
                    calls_done: 0,
                    calls_already_in_state: 0,
                    error: Some(reason),
                });
                continue;
            }
        }
        // What was planned originally stays the record; only the remaining calls run now.
        let remaining = step.calls.clone();
        step.calls = change.step.calls.clone();
        journal.update_step(&change.id, &step)?;
        let (result, _) = run_calls(
            aws,
            journal,
            &change.id,
            &step,
            &remaining,
            Phase::Apply,
            &mut None,
        )?;
        results.push(result);
    }
    Ok(results)
}

/// Undoes an applied change from its saved prior state.
pub fn undo(aws: &Aws, journal: &Journal, change_id: &str) -> Result<StepResult, FixError> {
    let change = journal
        .get(change_id)?
        .ok_or_else(|| FixError::UnknownChange(change_id.to_owned()))?;
    if change.status != ChangeStatus::Applied && change.status != ChangeStatus::UndoFailed {
        return Err(FixError::NotApplied {
            id: change.id,
            status: format!("{:?}", change.status).to_lowercase(),
        });
    }
    let calls = undo_calls(&change.step).map_err(|reason| FixError::Irreversible {
        id: change.id.clone(),
        reason,
    })?;
    let (mut result, _) = run_calls(
        aws,
        journal,
        &change.id,
        &change.step,
        &calls,
        Phase::Undo,
        &mut None,
    )?;
    result.status = if result.error.is_some() {
        ChangeStatus::UndoFailed
    } else {
        ChangeStatus::Undone
    };
    journal.set_status(&change.id, result.status, result.error.as_deref())?;
    Ok(result)
}

fn run_calls(
    aws: &Aws,
    journal: &Journal,
    change_id: &str,
    step: &Step,
    calls: &[Call],
    phase: Phase,
    budget: &mut Option<usize>,
) -> Result<(StepResult, bool), FixError> {
    let mut result = StepResult {
        change_id: change_id.to_owned(),
        step_id: step.id.clone(),
        description: step.description.clone(),
        status: ChangeStatus::Applied,
        calls_done: 0,
        calls_already_in_state: 0,
        error: None,
    };
    for (seq, call) in calls.iter().enumerate() {
        if let Some(left) = budget {
            if *left == 0 {
                // Simulated crash: the change stays pending in the journal.
                result.status = ChangeStatus::Pending;
                return Ok((result, true));
            }
            *left -= 1;
        }
        journal.log_call(change_id, phase, seq, call, "started", None)?;
        match aws.execute(call) {
            Ok(CallOutcome::Done) => {
                journal.log_call(change_id, phase, seq, call, "ok", None)?;
                result.calls_done += 1;
            }
            Ok(CallOutcome::AlreadyInState) => {
                journal.log_call(change_id, phase, seq, call, "already_in_state", None)?;
                result.calls_already_in_state += 1;
            }
            Err(err) => {
                let message = err.to_string();
                journal.log_call(change_id, phase, seq, call, "failed", Some(&message))?;
                result.error = Some(message);
                result.status = ChangeStatus::Failed;
                break;
            }
        }
    }
    if phase == Phase::Apply {
        journal.set_status(change_id, result.status, result.error.as_deref())?;
    }
    Ok((result, false))
}

/// The calls that put back what a step changed, from its saved prior state.
pub fn undo_calls(step: &Step) -> Result<Vec<Call>, String> {
    if let Reversibility::None(reason) = &step.reversibility {
        return Err(reason.clone());
    }
    if step.calls.is_empty() {
        return Ok(Vec::new());
    }
    let prior = &step.prior;
    if prior.is_null() {
        return Err("no prior state was saved".into());
    }
    let text = |v: &Value| v.as_str().map(str::to_owned);
    Ok(match &step.action {
        FixAction::RevertPolicyVersion { policy_arn, .. } => {
            let document = text(&prior["bad_document"])
                .ok_or("the reverted version's document was not saved")?;
            vec![Call::CreatePolicyVersion {
                policy_arn: policy_arn.clone(),
                policy_document: document,
                set_as_default: prior["bad_version_was_default"].as_bool().unwrap_or(false),
            }]
        }
        FixAction::DetachPolicy {
            principal_kind,
            principal_name,
            policy_arn,
        } => vec![Call::AttachPolicy {
            principal_kind: *principal_kind,
            principal_name: principal_name.clone(),
            policy_arn: policy_arn.clone(),
        }],
        FixAction::DeleteInlinePolicy {
            principal_kind,
            principal_name,
            policy_name,
        } => {
            let document =
                text(&prior["document"]).ok_or("the inline policy's document was not saved")?;
            vec![Call::PutInlinePolicy {
                principal_kind: *principal_kind,
                principal_name: principal_name.clone(),
                policy_name: policy_name.clone(),
                policy_document: document,
            }]
        }
        FixAction::DeactivateAccessKey {
            user_name,
            access_key_id,
        } => vec![Call::UpdateAccessKey {
            user_name: user_name.clone(),
            access_key_id: access_key_id.clone(),
            status: KeyStatus::Active,
        }],
        FixAction::SetCisPasswordPolicy => match &prior["password_policy"] {
            Value::Null => vec![Call::DeleteAccountPasswordPolicy],
            value => {
                let policy: PasswordPolicySettings = serde_json::from_value(value.clone())
                    .map_err(|e| format!("saved password policy: {e}"))?;
                vec![Call::UpdateAccountPasswordPolicy(policy)]
            }
        },
        FixAction::RequirePasswordReset { user_name } => {
            vec![Call::UpdateLoginProfile {
                user_name: user_name.clone(),
                password_reset_required: false,
            }]
        }
        FixAction::DeleteUnusedUser { .. } => {
            let user: UserSnapshot = serde_json::from_value(prior["user"].clone())
                .map_err(|e| format!("saved user state is unreadable: {e}"))?;
            recreate_user_calls(&user)
        }
        FixAction::CreateMultiRegionTrail { .. } => vec![Call::DeleteTrail {
            name: plan::TRAIL_NAME.into(),
        }],
        FixAction::StartLogging { trail_name } => vec![Call::StopLogging {
            name: trail_name.clone(),
        }],
        FixAction::RestoreAccountAlias { alias } => {
            let mut calls = vec![Call::DeleteAccountAlias {
                alias: alias.clone(),
            }];
            if let Some(previous) = prior["aliases"]
                .as_array()
                .and_then(|a| a.first())
                .and_then(text)
            {
                calls.push(Call::CreateAccountAlias { alias: previous });
            }
            calls
        }
        FixAction::DeleteLoginProfile { .. } | FixAction::Manual { .. } => {
            return Err("AWS offers no way to put this back".into())
        }
    })
}

fn recreate_user_calls(user: &UserSnapshot) -> Vec<Call> {
    use trailguard_rules::remediation::PrincipalKind;
    let name = &user.user_name;
    let mut calls = vec![Call::CreateUser {
        user_name: name.clone(),
        path: user.path.clone(),
        permissions_boundary: user.permissions_boundary.clone(),
        tags: user.tags.clone(),
    }];
    for group in &user.groups {
        calls.push(Call::AddUserToGroup {
            group_name: group.clone(),
            user_name: name.clone(),
        });
    }
    for arn in &user.attached_policies {
        calls.push(Call::AttachPolicy {
            principal_kind: PrincipalKind::User,
            principal_name: name.clone(),
            policy_arn: arn.clone(),
        });
    }
    for InlinePolicy {
        name: policy_name,
        document,
    } in &user.inline_policies
    {
        calls.push(Call::PutInlinePolicy {
            principal_kind: PrincipalKind::User,
            principal_name: name.clone(),
            policy_name: policy_name.clone(),
            policy_document: document.clone(),
        });
    }
    calls
}
