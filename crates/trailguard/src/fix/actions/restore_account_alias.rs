//! Put back an account alias that was deleted (CT007 account alias deleted). An account has at most one
//! alias, so the one there now (perhaps the attacker's) is deleted first. Undo reverses both.

use serde::{Deserialize, Serialize};
use trailguard_rules::call::Call;

use super::{newest_first, unexpected, Context, Resolution};
use crate::fix::aws::ApiError;
use crate::fix::plan::Reversibility;

/// The account's aliases before the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prior {
    pub aliases: Vec<String>,
}

pub fn resolve(cx: &Context<'_>, alias: &str) -> Result<Resolution<Prior>, ApiError> {
    let description = format!("restore account alias {alias}");
    let create = Call::CreateAccountAlias {
        alias: alias.to_owned(),
    };
    let Some(aws) = cx.aws else {
        return Ok(Resolution::offline(
            description,
            vec![create],
            Reversibility::Full,
        ));
    };
    let aliases = aws.account_aliases()?;
    let calls = if aliases.iter().any(|a| a == alias) {
        Vec::new()
    } else {
        let mut calls: Vec<Call> = aliases
            .iter()
            .map(|a| Call::DeleteAccountAlias { alias: a.clone() })
            .collect();
        calls.push(create);
        calls
    };
    Ok(Resolution::step(
        description,
        Some(Prior { aliases }),
        calls,
        Reversibility::Full,
    ))
}

pub fn inverse(_prior: &Prior, made: &[Call]) -> Result<Vec<Call>, String> {
    newest_first(made, |call| match call {
        Call::CreateAccountAlias { alias } => Ok(Some(Call::DeleteAccountAlias {
            alias: alias.clone(),
        })),
        Call::DeleteAccountAlias { alias } => Ok(Some(Call::CreateAccountAlias {
            alias: alias.clone(),
        })),
        other => Err(unexpected(other)),
    })
}
