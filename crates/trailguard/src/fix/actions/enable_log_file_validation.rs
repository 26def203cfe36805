//! Turn on log file integrity validation on an existing trail with `update-trail` (PA019 log file
//! validation disabled). Undo sets it back as it was.

use trailguard_rules::call::Call;

use super::trail::{self, SavedTrail};
use super::{newest_first, Context, Resolution};
use crate::fix::aws::ApiError;
use crate::fix::plan::Reversibility;

pub type Prior = SavedTrail;

pub fn resolve(cx: &Context<'_>, trail_name: &str) -> Result<Resolution<Prior>, ApiError> {
    let description = format!("enable log file validation on trail {trail_name}");
    let call = |name: &str| Call::UpdateTrail {
        name: name.to_owned(),
        is_multi_region_trail: None,
        include_global_service_events: None,
        enable_log_file_validation: Some(true),
    };
    let Some(aws) = cx.aws else {
        return Ok(Resolution::offline(
            description,
            vec![call(trail_name)],
            Reversibility::Full,
        ));
    };
    let trails = aws.trails()?;
    let Some(found) = trail::find(&trails, trail_name) else {
        return Ok(trail::missing(cx, trail_name));
    };
    let calls = if found.log_file_validation {
        Vec::new()
    } else if let Some(skip) = trail::wrong_region(found, aws) {
        return Ok(skip);
    } else {
        vec![call(&found.name)]
    };
    let prior = SavedTrail {
        trail: found.clone(),
    };
    Ok(Resolution::step(
        description,
        Some(prior),
        calls,
        Reversibility::Full,
    ))
}

pub fn inverse(prior: &Prior, made: &[Call]) -> Result<Vec<Call>, String> {
    newest_first(made, |call| trail::inverse(call, Some(&prior.trail), made))
}
