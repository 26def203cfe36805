//! Delete an inline policy that a flagged event put (CT004 inline policy grants admin, CT020 new user keyed
//! and made admin, PA016 broad inline role policy). The document is saved first; undo puts it back.

use serde::{Deserialize, Serialize};
use trailguard_rules::call::Call;
use trailguard_rules::remediation::IdentityKind;

use super::{newest_first, unexpected, Context, Resolution};
use crate::fix::aws::ApiError;
use crate::fix::plan::Reversibility;

/// The policy's document before the change (`None`: there was no such policy, nothing to do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prior {
    pub document: Option<String>,
}

pub fn resolve(
    cx: &Context<'_>,
    kind: IdentityKind,
    principal: &str,
    policy_name: &str,
) -> Result<Resolution<Prior>, ApiError> {
    let description = format!(
        "delete inline policy {policy_name} of {} {principal} (saved first)",
        kind.as_str()
    );
    let call = Call::DeleteInlinePolicy {
        principal_kind: kind,
        principal_name: principal.to_owned(),
        policy_name: policy_name.to_owned(),
    };
    let Some(aws) = cx.aws else {
        return Ok(Resolution::offline(
            description,
            vec![call],
            Reversibility::Full,
        ));
    };
    Ok(match aws.inline_policy(kind, principal, policy_name)? {
        None if !aws.principal_exists(kind, principal)? => cx.missing_principal(kind, principal),
        None => Resolution::step(
            description,
            Some(Prior { document: None }),
            Vec::new(),
            Reversibility::Full,
        ),
        Some(document) => Resolution::step(
            description,
            Some(Prior {
                document: Some(document),
            }),
            vec![call],
            Reversibility::Full,
        ),
    })
}

pub fn inverse(prior: &Prior, made: &[Call]) -> Result<Vec<Call>, String> {
    newest_first(made, |call| {
        match put_back(call, prior.document.as_deref())? {
            Some(put) => Ok(Some(put)),
            None => Err(unexpected(call)),
        }
    })
}

/// The call that puts back the inline policy `call` deleted, from its saved `document` (`None`: `call`
/// is no inline policy delete). Shared with the actions that delete one on the way (deleting a user).
pub fn put_back(call: &Call, document: Option<&str>) -> Result<Option<Call>, String> {
    let Call::DeleteInlinePolicy {
        principal_kind,
        principal_name,
        policy_name,
    } = call
    else {
        return Ok(None);
    };
    Ok(Some(Call::PutInlinePolicy {
        principal_kind: *principal_kind,
        principal_name: principal_name.clone(),
        policy_name: policy_name.clone(),
        policy_document: document
            .ok_or("the inline policy's document was not saved")?
            .to_owned(),
    }))
}
