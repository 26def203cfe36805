//! Detach a managed policy that a flagged event attached (CT005 privileged policy attached, CT020 new user
//! keyed and made admin). Undo attaches it again.

use serde::{Deserialize, Serialize};
use trailguard_rules::call::Call;
use trailguard_rules::remediation::IdentityKind;

use super::{newest_first, unexpected, Context, Resolution};
use crate::fix::aws::ApiError;
use crate::fix::plan::Reversibility;

/// The managed policies attached to the principal before the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prior {
    pub attached: Vec<String>,
}

pub fn resolve(
    cx: &Context<'_>,
    kind: IdentityKind,
    principal: &str,
    policy_arn: &str,
) -> Result<Resolution<Prior>, ApiError> {
    let description = format!("detach {policy_arn} from {} {principal}", kind.as_str());
    let call = Call::DetachPolicy {
        principal_kind: kind,
        principal_name: principal.to_owned(),
        policy_arn: policy_arn.to_owned(),
    };
    let Some(aws) = cx.aws else {
        return Ok(Resolution::offline(
            description,
            vec![call],
            Reversibility::Full,
        ));
    };
    Ok(match aws.attached_policies(kind, principal)? {
        None => cx.missing_principal(kind, principal),
        Some(attached) => {
            let calls = if attached.iter().any(|a| a == policy_arn) {
                vec![call]
            } else {
                Vec::new()
            };
            Resolution::step(
                description,
                Some(Prior { attached }),
                calls,
                Reversibility::Full,
            )
        }
    })
}

pub fn inverse(_prior: &Prior, made: &[Call]) -> Result<Vec<Call>, String> {
    newest_first(made, |call| {
        reattach(call).map(Some).ok_or_else(|| unexpected(call))
    })
}

/// The call that attaches again what `call` detached (`None`: `call` is no detach). Shared with the
/// actions that detach on the way to something else (deleting a user).
pub fn reattach(call: &Call) -> Option<Call> {
    let Call::DetachPolicy {
        principal_kind,
        principal_name,
        policy_arn,
    } = call
    else {
        return None;
    };
    Some(Call::AttachPolicy {
        principal_kind: *principal_kind,
        principal_name: principal_name.clone(),
        policy_arn: policy_arn.clone(),
    })
}
