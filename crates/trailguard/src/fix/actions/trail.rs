//! What the trail actions share (not an action): finding a trail, the home-region rule of `UpdateTrail`,
//! turning an existing trail multi-region, and putting a trail's saved settings back.

use serde::{Deserialize, Serialize};
use trailguard_rules::call::Call;

use super::{unexpected, Context, Resolution};
use crate::fix::aws::{ApiError, Aws, TrailInfo};
use crate::fix::plan::Reversibility;

/// One trail's settings before the change: the prior of the actions that change an existing trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedTrail {
    pub trail: TrailInfo,
}

/// A trail by name, or by an ARN ending in `/NAME`.
pub fn find<'t>(trails: &'t [TrailInfo], name: &str) -> Option<&'t TrailInfo> {
    trails
        .iter()
        .find(|t| t.name == name || name.ends_with(&format!("/{}", t.name)))
}

pub fn missing<P>(cx: &Context<'_>, name: &str) -> Resolution<P> {
    cx.missing("trail", name)
}

/// `UpdateTrail` only works in the trail's home region: a plan for another region is refused up front.
pub fn wrong_region<P>(trail: &TrailInfo, aws: &Aws) -> Option<Resolution<P>> {
    let home = trail.home_region.as_deref()?;
    let here = aws.region()?;
    (home != here).then(|| {
        Resolution::Skip(format!(
            "trail `{}` lives in {home}: plan again with --region {home} (UpdateTrail must be called there)",
            trail.name
        ))
    })
}

pub fn make_multi_region_call(name: &str, current: Option<&TrailInfo>) -> Call {
    Call::UpdateTrail {
        name: name.to_owned(),
        is_multi_region_trail: Some(true),
        // AWS requires global service events on a multi-region trail.
        include_global_service_events: match current {
            Some(t) if t.include_global_service_events => None,
            _ => Some(true),
        },
        enable_log_file_validation: None,
    }
}

/// Makes an existing trail multi-region (and restarts it when stopped), saving its settings for undo.
pub fn update_to_multi_region(
    trail: &TrailInfo,
    aws: &Aws,
) -> Result<Resolution<SavedTrail>, ApiError> {
    let mut calls = Vec::new();
    if !trail.is_multi_region {
        calls.push(make_multi_region_call(&trail.name, Some(trail)));
    }
    if !trail.is_logging {
        calls.push(Call::StartLogging {
            name: trail.name.clone(),
        });
    }
    let description = if trail.is_multi_region {
        format!("restart logging on multi-region trail {}", trail.name)
    } else {
        format!(
            "make trail {} multi-region with update-trail (no second trail)",
            trail.name
        )
    };
    if let Some(skip) = wrong_region(trail, aws).filter(|_| !calls.is_empty()) {
        return Ok(skip);
    }
    Ok(Resolution::step(
        description,
        Some(SavedTrail {
            trail: trail.clone(),
        }),
        calls,
        Reversibility::Full,
    ))
}

/// The inverse of a call that changed an existing trail, `before` being its saved settings (`None`: not
/// saved). `made` is every call of the change: a trail the change created is deleted on undo, so
/// stopping it first would be pointless.
pub fn inverse(
    call: &Call,
    before: Option<&TrailInfo>,
    made: &[Call],
) -> Result<Option<Call>, String> {
    Ok(match call {
        Call::CreateTrail { name, .. } => Some(Call::DeleteTrail { name: name.clone() }),
        Call::StartLogging { name } => {
            let created = made
                .iter()
                .any(|c| matches!(c, Call::CreateTrail { name: created, .. } if created == name));
            (!created).then(|| Call::StopLogging { name: name.clone() })
        }
        Call::UpdateTrail {
            name,
            is_multi_region_trail,
            include_global_service_events,
            enable_log_file_validation,
        } => {
            let before = before.ok_or("the trail's settings were not saved")?;
            Some(Call::UpdateTrail {
                name: name.clone(),
                is_multi_region_trail: is_multi_region_trail.map(|_| before.is_multi_region),
                include_global_service_events: include_global_service_events
                    .map(|_| before.include_global_service_events),
                enable_log_file_validation: enable_log_file_validation
                    .map(|_| before.log_file_validation),
            })
        }
        other => return Err(unexpected(other)),
    })
}
