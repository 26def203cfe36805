//! Carrying out a plan, resuming an interrupted one, and undoing a change, all through the journal.
//!
//! The journal is the truth about what happened: a change whose calls all found their target state already
//! there is `unchanged`, not `applied`, and undo inverts only the calls the journal records as made (never
//! re-creating what trailguard did not delete). When the endpoint stops answering or the credentials are
//! refused, the remaining steps are not attempted: they are reported, and the run ends.

use serde::Serialize;
use trailguard_rules::call::Call;
use trailguard_rules::Finding;

use super::actions::{self, Resolution, Resolved};
use super::aws::{Aws, CallOutcome};
use super::journal::{ChangeRecord, ChangeStatus, Journal, JournalError, Phase};
use super::plan::{PlanOptions, Reversibility, Step};

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
    #[error("change `{id}` made no call (its target state was already there): nothing to undo")]
    NothingMade { id: String },
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

/// How a run of steps ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEnd {
    /// Every step was attempted.
    Finished,
    /// The simulated crash of [`Interrupt`] left a change pending.
    Interrupted,
    /// A call failed in a way no later call can avoid (endpoint unreachable, credentials missing or
    /// refused): these steps were not attempted.
    Halted { not_attempted: Vec<String> },
}

impl RunEnd {
    fn halted<'d>(not_attempted: impl Iterator<Item = &'d str>) -> RunEnd {
        RunEnd::Halted {
            not_attempted: not_attempted.map(str::to_owned).collect(),
        }
    }
}

/// Whether `run_calls` may go on to the next step.
enum Flow {
    Continue,
    Interrupted,
    Halt,
}

/// Applies every step that has calls. A failing step is journaled as failed and the run goes on, unless
/// the failure means no later call can work either.
pub fn apply(
    steps: &[&Step],
    findings: &[Finding],
    aws: &Aws,
    journal: &Journal,
    run_id: &str,
    interrupt: Interrupt,
) -> Result<(Vec<StepResult>, RunEnd), FixError> {
    let mut results = Vec::new();
    let mut budget = interrupt.after_calls;
    for (i, step) in steps.iter().enumerate() {
        let related: Vec<&Finding> = findings
            .iter()
            .filter(|f| step.finding_ids.contains(&f.id))
            .collect();
        let change_id = journal.begin_change(run_id, step, &related)?;
        let (result, flow) = run_calls(
            aws,
            journal,
            &change_id,
            step,
            &step.calls,
            Phase::Apply,
            &mut budget,
        )?;
        results.push(result);
        match flow {
            Flow::Continue => {}
            Flow::Interrupted => return Ok((results, RunEnd::Interrupted)),
            Flow::Halt => {
                let rest = steps[i + 1..].iter().map(|s| s.description.as_str());
                return Ok((results, RunEnd::halted(rest)));
            }
        }
    }
    Ok((results, RunEnd::Finished))
}

/// Finishes what an interrupted or failed apply left: each unfinished change's action is resolved again
/// against the current state (so calls already made are not repeated), keeping the original prior state.
pub fn resume(
    aws: &Aws,
    journal: &Journal,
    opts: &PlanOptions,
) -> Result<(Vec<StepResult>, RunEnd), FixError> {
    let mut results = Vec::new();
    let unfinished = journal.unfinished()?;
    for (i, change) in unfinished.iter().enumerate() {
        let mut step = change.step.clone();
        match actions::resolve(&step.action, Some(aws), opts)? {
            Resolution::Step(Resolved { calls, .. }) => step.calls = calls,
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
        let (result, flow) = run_calls(
            aws,
            journal,
            &change.id,
            &step,
            &remaining,
            Phase::Apply,
            &mut None,
        )?;
        results.push(result);
        if let Flow::Halt = flow {
            let rest = unfinished[i + 1..]
                .iter()
                .map(|c| c.step.description.as_str());
            return Ok((results, RunEnd::halted(rest)));
        }
    }
    Ok((results, RunEnd::Finished))
}

/// The change and the calls that would undo it, or why it cannot be undone. `fix undo` shows these calls
/// only after every check has passed, and [`undo`] makes exactly these.
pub fn undo_preview(
    journal: &Journal,
    change_id: &str,
) -> Result<(ChangeRecord, Vec<Call>), FixError> {
    let change = journal
        .get(change_id)?
        .ok_or_else(|| FixError::UnknownChange(change_id.to_owned()))?;
    if change.status == ChangeStatus::Unchanged {
        return Err(FixError::NothingMade { id: change.id });
    }
    let undoable = matches!(
        change.status,
        ChangeStatus::Applied | ChangeStatus::UndoFailed | ChangeStatus::Failed
    );
    if !undoable {
        return Err(FixError::NotApplied {
            id: change.id,
            status: change.status.as_str().replace('_', " "),
        });
    }
    let made = made_calls(journal, &change.id)?;
    if made.is_empty() {
        return Err(match change.status {
            ChangeStatus::Failed => FixError::NotApplied {
                id: change.id,
                status: "failed before its first call".into(),
            },
            _ => FixError::NothingMade { id: change.id },
        });
    }
    let calls = undo_calls(&change.step, &made).map_err(|reason| FixError::Irreversible {
        id: change.id.clone(),
        reason,
    })?;
    Ok((change, calls))
}

/// Undoes an applied change from its saved prior state: the inverse of each call it made, newest first.
pub fn undo(aws: &Aws, journal: &Journal, change_id: &str) -> Result<StepResult, FixError> {
    let (change, calls) = undo_preview(journal, change_id)?;
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

/// The calls of a change that the journal records as made (applying, not undoing): only these are undone.
fn made_calls(journal: &Journal, change_id: &str) -> Result<Vec<Call>, FixError> {
    let mut made = Vec::new();
    for (phase, _, call, status) in journal.calls(change_id)? {
        if phase == "apply" && status == "ok" {
            let call: Call =
                serde_json::from_str(&call).map_err(|source| JournalError::Corrupt {
                    id: change_id.to_owned(),
                    source,
                })?;
            made.push(call);
        }
    }
    Ok(made)
}

fn run_calls(
    aws: &Aws,
    journal: &Journal,
    change_id: &str,
    step: &Step,
    calls: &[Call],
    phase: Phase,
    budget: &mut Option<usize>,
) -> Result<(StepResult, Flow), FixError> {
    let mut result = StepResult {
        change_id: change_id.to_owned(),
        step_id: step.id.clone(),
        description: step.description.clone(),
        status: ChangeStatus::Applied,
        calls_done: 0,
        calls_already_in_state: 0,
        error: None,
    };
    let mut flow = Flow::Continue;
    for (seq, call) in calls.iter().enumerate() {
        if let Some(left) = budget {
            if *left == 0 {
                // Simulated crash: the change stays pending in the journal.
                result.status = ChangeStatus::Pending;
                return Ok((result, Flow::Interrupted));
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
                if err.stops_everything() {
                    flow = Flow::Halt;
                }
                break;
            }
        }
    }
    if phase == Phase::Apply {
        // Nothing made, here or by an earlier interrupted run: the target was already so.
        if result.status == ChangeStatus::Applied && made_calls(journal, change_id)?.is_empty() {
            result.status = ChangeStatus::Unchanged;
        }
        journal.set_status(change_id, result.status, result.error.as_deref())?;
    }
    Ok((result, flow))
}

/// The calls that put back what a step's `made` calls changed: its action's inverse, from the prior state
/// saved in the journal read back as the action's typed prior (`fix/actions/`), newest first. A call AWS
/// offers no inverse for (a deleted password or access key) is left out; the plan marked the step partly
/// reversible or irreversible before it was applied.
pub fn undo_calls(step: &Step, made: &[Call]) -> Result<Vec<Call>, String> {
    if let Reversibility::None(reason) = &step.reversibility {
        return Err(reason.clone());
    }
    if made.is_empty() {
        return Ok(Vec::new());
    }
    if step.prior.is_null() {
        return Err("no prior state was saved".into());
    }
    actions::inverse(&step.action, &step.prior, made)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::fix::plan;
    use serde_json::Value;
    use trailguard_rules::remediation::{FixAction, IdentityKind};
    use trailguard_rules::{FindingSource, Fix, Severity};

    fn detach(id: &str, user: &str) -> Finding {
        let mut finding = Finding::new(
            id,
            "CT005",
            "privileged-policy-attached",
            "t",
            Severity::High,
            FindingSource::Cloudtrail,
            "m",
        );
        finding.fix = Fix {
            actions: vec![FixAction::DetachPolicy {
                principal_kind: IdentityKind::User,
                principal_name: user.into(),
                policy_arn: "arn:aws:iam::aws:policy/AdministratorAccess".into(),
            }],
            ..Default::default()
        };
        finding
    }

    /// Nothing listens at the endpoint: the first call fails at once (no retries of a refused
    /// connection), as one line with a hint, and the second step is reported, never begun.
    #[test]
    fn an_unreachable_endpoint_halts_the_run_at_once() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let aws = Aws::for_test(&format!("http://127.0.0.1:{port}"));
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(&dir.path().join("j.db")).unwrap();
        let findings = [detach("tg-a", "alice"), detach("tg-b", "bob")];
        let plan = plan::build(&findings, None, &PlanOptions::default()).unwrap();
        let steps: Vec<&Step> = plan.pending_steps().collect();
        assert_eq!(steps.len(), 2);

        let started = Instant::now();
        let (results, end) = apply(
            &steps,
            &findings,
            &aws,
            &journal,
            "run-test",
            Interrupt::default(),
        )
        .unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].status, ChangeStatus::Failed);
        let error = results[0].error.as_deref().unwrap();
        assert!(error.starts_with("DetachUserPolicy failed: "), "{error}");
        assert!(
            error.contains("hint: the endpoint did not answer"),
            "{error}"
        );
        assert!(
            !error.contains('\n') && !error.contains("DispatchFailure"),
            "{error}"
        );
        assert_eq!(
            end,
            RunEnd::Halted {
                not_attempted: vec![steps[1].description.clone()]
            }
        );
        assert_eq!(
            journal.list().unwrap().len(),
            1,
            "the second step was never begun"
        );
    }

    fn applied_step(action: FixAction, prior: Value, calls: Vec<Call>) -> Step {
        Step {
            id: plan::step_id(&action),
            finding_ids: vec![],
            action,
            description: "d".into(),
            prior,
            calls,
            reversibility: Reversibility::Full,
            notes: vec![],
            account: None,
        }
    }

    #[test]
    fn undo_inverts_only_the_calls_made() {
        let arn = "arn:aws:iam::111122223333:policy/p";
        let action = FixAction::RevertPolicyVersions {
            policy_arn: arn.into(),
            bad_versions: vec![],
            restore_version: None,
        };
        let prior = serde_json::json!({
            "versions": [
                {"version_id": "v1", "is_default": false, "created": 1},
                {"version_id": "v2", "is_default": false, "created": 2},
                {"version_id": "v3", "is_default": true, "created": 3},
            ],
            "default_version": "v3",
            "reverted": [
                {"version_id": "v2", "was_default": false, "document": "{\"two\":2}"},
                {"version_id": "v3", "was_default": true, "document": "{\"three\":3}"},
            ],
        });
        let set_default = Call::SetDefaultPolicyVersion {
            policy_arn: arn.into(),
            version_id: "v1".into(),
        };
        let delete = |v: &str| Call::DeletePolicyVersion {
            policy_arn: arn.into(),
            version_id: v.into(),
        };
        let step = applied_step(
            action,
            prior,
            vec![set_default.clone(), delete("v2"), delete("v3")],
        );
        // Everything made: both documents come back, the old default last and as default.
        let all = undo_calls(&step, &step.calls).unwrap();
        assert_eq!(
            all,
            [
                Call::CreatePolicyVersion {
                    policy_arn: arn.into(),
                    policy_document: "{\"three\":3}".into(),
                    set_as_default: true
                },
                Call::CreatePolicyVersion {
                    policy_arn: arn.into(),
                    policy_document: "{\"two\":2}".into(),
                    set_as_default: false
                },
            ]
        );
        // Only the default switched before the deletes failed: only the default goes back.
        let partial = undo_calls(&step, std::slice::from_ref(&set_default)).unwrap();
        assert_eq!(
            partial,
            [Call::SetDefaultPolicyVersion {
                policy_arn: arn.into(),
                version_id: "v3".into()
            }]
        );
        assert!(undo_calls(&step, &[]).unwrap().is_empty());
    }

    /// A step as the journal of the previous release stored it (the shape `fix/actions/` keeps).
    const STORED_STEP: &str = r#"{"id":"fx-1","finding_ids":["tg-1"],
        "action":{"action":"deactivate_access_key","user_name":"bob","access_key_id":"AKIAEXAMPLE"},
        "description":"deactivate access key AKIAEXAMPLE of user bob","prior":{"status":"Active"},
        "calls":[{"call":"update_access_key","user_name":"bob","access_key_id":"AKIAEXAMPLE","status":"Inactive"}],
        "reversibility":{"kind":"full"}}"#;

    /// Journals already on disk still undo; a prior whose field was renamed is refused with a reason.
    #[test]
    fn a_stored_journal_undoes_and_a_renamed_prior_field_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(&dir.path().join("j.db")).unwrap();
        let record = |text: &str, run: &str| {
            let step: Step = serde_json::from_str(text).unwrap();
            let change = journal.begin_change(run, &step, &[]).unwrap();
            journal
                .log_call(&change, Phase::Apply, 0, &step.calls[0], "ok", None)
                .unwrap();
            journal
                .set_status(&change, ChangeStatus::Applied, None)
                .unwrap();
            change
        };
        let change = record(STORED_STEP, "run-1");
        let (_, calls) = undo_preview(&journal, &change).unwrap();
        assert_eq!(
            calls[0].to_cli(),
            "aws iam update-access-key --user-name bob --access-key-id AKIAEXAMPLE --status Active"
        );

        let renamed = STORED_STEP.replace(r#"{"status":"Active"}"#, r#"{"state":"Active"}"#);
        let renamed = record(&renamed, "run-2");
        let refusal = undo_preview(&journal, &renamed).unwrap_err().to_string();
        assert!(
            refusal.contains("does not read back") && refusal.contains("unknown field `state`"),
            "{refusal}"
        );
    }
}
