//! A fix no API call makes (re-enrolling MFA, rotating root credentials, rejoining an organization, ...):
//! many rules (CT003, CT010, CT011, CT014, PA002, ...) attach one so plans list it as manual. It never
//! becomes a step, so it makes no calls and there is nothing to undo.

use serde::{Deserialize, Serialize};
use trailguard_rules::call::Call;

use super::Resolution;

/// A manual fix changes nothing through trailguard: its prior state is empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(
    clippy::empty_structs_with_brackets,
    reason = "a braced struct reads as `{}` like every other prior; a unit struct would read `null`"
)]
pub struct Prior {}

pub fn resolve(description: &str) -> Resolution<Prior> {
    Resolution::Skip(format!("manual fix: {description}"))
}

pub fn inverse(_prior: &Prior, _made: &[Call]) -> Result<Vec<Call>, String> {
    Err("AWS offers no way to put this back".into())
}
