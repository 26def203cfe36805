//! Turn an existing single-region trail multi-region with `update-trail`, rather than paying for a
//! second trail, and restart it when stopped (PA018 no multi-region trail). Undo puts its saved settings
//! back and stops it again if it was stopped.

use trailguard_rules::call::Call;

use super::trail::{self, SavedTrail};
use super::{newest_first, Context, Resolution};
use crate::fix::aws::ApiError;
use crate::fix::plan::Reversibility;

pub type Prior = SavedTrail;

pub fn resolve(cx: &Context<'_>, trail_name: &str) -> Result<Resolution<Prior>, ApiError> {
    let Some(aws) = cx.aws else {
        return Ok(Resolution::offline(
            format!("make trail {trail_name} multi-region"),
            vec![trail::make_multi_region_call(trail_name, None)],
            Reversibility::Full,
        ));
    };
    match trail::find(&aws.trails()?, trail_name) {
        None => Ok(trail::missing(cx, trail_name)),
        Some(found) => trail::update_to_multi_region(found, aws),
    }
}

pub fn inverse(prior: &Prior, made: &[Call]) -> Result<Vec<Call>, String> {
    newest_first(made, |call| trail::inverse(call, Some(&prior.trail), made))
}
