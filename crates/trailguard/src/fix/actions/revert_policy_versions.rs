//! Undo CreatePolicyVersion / SetDefaultPolicyVersion (CT001 policy version created with admin rights,
//! CT002 default policy version changed): make a good version the default when a bad one is (IAM refuses
//! to delete the default version), then delete every bad version. Serves both `RevertPolicyVersion` and
//! `RevertPolicyVersions` (several reverts of one policy, merged by the plan). Live, the bad versions are
//! the named ids that still exist plus any version holding a document trailguard reverted before (`fix
//! undo` recreates a version under a new id); offline, the version to restore is the one named or, when
//! unknown, the newest version number below the bad ones. Undo recreates each deleted version from its
//! saved document (under a new id: IAM assigns them) and sets the previous default back.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use trailguard_rules::call::Call;
use trailguard_rules::remediation::{BadPolicyVersion, FixAction};

use super::{newest_first, unexpected, Context, Resolution, Resolved};
use crate::fix::aws::{decode_document, ApiError, PolicyVersionInfo};
use crate::fix::plan::Reversibility;

/// The policy's versions before the change, and what was saved of each version reverted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prior {
    pub versions: Vec<PolicyVersionInfo>,
    pub default_version: Option<String>,
    pub reverted: Vec<RevertedVersion>,
}

/// A version the change deleted: its document, and whether it was the default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevertedVersion {
    pub version_id: String,
    pub was_default: bool,
    pub document: String,
}

/// The documents of the versions a change reverted, from its saved prior state.
pub fn reverted_documents(prior: &Value) -> Result<Vec<String>, serde_json::Error> {
    let prior: Prior = serde_json::from_value(prior.clone())?;
    Ok(prior.reverted.into_iter().map(|v| v.document).collect())
}

pub fn resolve(
    cx: &Context<'_>,
    policy_arn: &str,
    bad: &[BadPolicyVersion],
    restore: Option<&String>,
) -> Result<Resolution<Prior>, ApiError> {
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
    let Some(aws) = cx.aws else {
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
        return Ok(Resolution::Step(Resolved {
            description,
            prior: None,
            calls,
            reversibility: revert_reversibility(),
            notes,
        }));
    };
    let Some(versions) = aws.policy_versions(policy_arn)? else {
        return Ok(cx.missing("policy", policy_arn));
    };
    let mut notes = Vec::new();
    let mut reverted: Vec<(&PolicyVersionInfo, String)> = Vec::new();
    let known = cx
        .opts
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
    let prior = Prior {
        default_version: versions
            .iter()
            .find(|v| v.is_default)
            .map(|v| v.version_id.clone()),
        reverted: reverted
            .iter()
            .map(|(v, document)| RevertedVersion {
                version_id: v.version_id.clone(),
                was_default: v.is_default,
                document: document.clone(),
            })
            .collect(),
        versions,
    };
    Ok(Resolution::Step(Resolved {
        description,
        prior: Some(prior),
        calls,
        reversibility: revert_reversibility(),
        notes,
    }))
}

pub fn inverse(prior: &Prior, made: &[Call]) -> Result<Vec<Call>, String> {
    newest_first(made, |call| {
        Ok(match call {
            Call::DeletePolicyVersion {
                policy_arn,
                version_id,
            } => {
                let saved = prior
                    .reverted
                    .iter()
                    .find(|v| &v.version_id == version_id)
                    .ok_or("the reverted version's document was not saved")?;
                Some(Call::CreatePolicyVersion {
                    policy_arn: policy_arn.clone(),
                    policy_document: saved.document.clone(),
                    set_as_default: saved.was_default,
                })
            }
            Call::SetDefaultPolicyVersion { policy_arn, .. } => {
                // When the previous default was deleted too, recreating it as default puts it back.
                let previous = prior.default_version.as_ref().filter(|previous| {
                    !made.iter().any(|c| {
                        matches!(c, Call::DeletePolicyVersion { version_id, .. } if &version_id == previous)
                    })
                });
                previous.map(|previous| Call::SetDefaultPolicyVersion {
                    policy_arn: policy_arn.clone(),
                    version_id: previous.clone(),
                })
            }
            other => return Err(unexpected(other)),
        })
    })
}

/// Several reverts of one policy become one [`FixAction::RevertPolicyVersions`]: two steps would each
/// pick a version to restore, and the second could pick the version the first deletes.
pub fn merge_policy_reverts(
    actions: Vec<(FixAction, Vec<String>)>,
) -> Vec<(FixAction, Vec<String>)> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
