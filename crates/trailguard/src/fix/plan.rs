//! From findings to a plan. Each fixable finding's [`FixAction`] is resolved by its action
//! (`fix/actions/`) against the account's current state (read-only calls) into a [`Step`]: the exact calls
//! to make, the prior state to journal, and whether AWS lets it be undone. A step whose target state
//! already holds has no calls, so planning again after an apply shows nothing to do.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use trailguard_rules::call::Call;
use trailguard_rules::remediation::FixAction;
use trailguard_rules::Finding;

use super::actions::{self, Resolution, Resolved};
use super::aws::{ApiError, Aws};

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
    (actions::merge_policy_reverts(order), not_fixable)
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
        match actions::resolve(&action, aws, opts)? {
            Resolution::Step(Resolved {
                description,
                prior,
                calls,
                reversibility,
                mut notes,
            }) => {
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
                    prior: prior.unwrap_or(Value::Null),
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
