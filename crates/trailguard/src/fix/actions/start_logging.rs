//! Restart logging on a trail that was stopped (CT017 CloudTrail logging stopped, PA018 no multi-region
//! trail logging). Undo stops it again.

use serde::{Deserialize, Serialize};
use trailguard_rules::call::Call;

use super::{newest_first, trail, unexpected, Context, Resolution};
use crate::fix::aws::ApiError;
use crate::fix::plan::Reversibility;

/// Whether the trail was logging before the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prior {
    pub is_logging: bool,
}

pub fn resolve(cx: &Context<'_>, trail_name: &str) -> Result<Resolution<Prior>, ApiError> {
    let description = format!("restart logging on trail {trail_name}");
    let call = Call::StartLogging {
        name: trail_name.to_owned(),
    };
    let Some(aws) = cx.aws else {
        return Ok(Resolution::offline(
            description,
            vec![call],
            Reversibility::Full,
        ));
    };
    Ok(match trail::find(&aws.trails()?, trail_name) {
        None => trail::missing(cx, trail_name),
        Some(found) => Resolution::step(
            description,
            Some(Prior {
                is_logging: found.is_logging,
            }),
            if found.is_logging {
                Vec::new()
            } else {
                vec![call]
            },
            Reversibility::Full,
        ),
    })
}

pub fn inverse(_prior: &Prior, made: &[Call]) -> Result<Vec<Call>, String> {
    newest_first(made, |call| match call {
        Call::StartLogging { .. } => trail::inverse(call, None, made),
        other => Err(unexpected(other)),
    })
}
