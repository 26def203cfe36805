//! Make sure the account has a logging multi-region trail (CT017 CloudTrail logging stopped, PA018 no
//! multi-region trail). An existing trail is changed in place rather than paying for a second one: a
//! stopped multi-region trail is restarted, else a single-region one (logging preferred) made
//! multi-region. Only with no trail at all is one created, with log file validation, in the bucket the
//! finding or `--trail-bucket` names. Undo deletes a created trail, or puts a changed one's settings back.

use serde::{Deserialize, Serialize};
use trailguard_rules::call::Call;

use super::trail::{self, SavedTrail};
use super::{newest_first, Context, Resolution};
use crate::fix::aws::{ApiError, TrailInfo};
use crate::fix::plan::Reversibility;

/// Name of the trail `fix` creates when an account has no multi-region trail.
pub const TRAIL_NAME: &str = "trailguard-multi-region";

const NEEDS_BUCKET: &str =
    "a new trail needs an S3 bucket with a CloudTrail bucket policy: pass --trail-bucket NAME";

/// Every trail, when none was changed in place (nothing to do, or a trail created); the changed trail's
/// settings otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Prior {
    Trails(AllTrails),
    Changed(SavedTrail),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllTrails {
    pub trails: Vec<TrailInfo>,
}

pub fn resolve(
    cx: &Context<'_>,
    bucket_name: Option<&String>,
) -> Result<Resolution<Prior>, ApiError> {
    let create = |bucket: String| {
        vec![
            Call::CreateTrail {
                name: TRAIL_NAME.into(),
                s3_bucket_name: bucket,
            },
            Call::StartLogging {
                name: TRAIL_NAME.into(),
            },
        ]
    };
    let description = format!("create multi-region trail {TRAIL_NAME} with log file validation");
    let bucket = bucket_name.or(cx.opts.trail_bucket.as_ref()).cloned();
    let Some(aws) = cx.aws else {
        let Some(bucket) = bucket else {
            return Ok(Resolution::Skip(NEEDS_BUCKET.into()));
        };
        return Ok(
            Resolution::offline(description, create(bucket), Reversibility::Full).with_note(
                "planned offline: with AWS access, an existing single-region trail is made multi-region \
                 instead of creating a second one",
            ),
        );
    };
    let trails = aws.trails()?;
    if trails.iter().any(|t| t.is_multi_region && t.is_logging) {
        let prior = Prior::Trails(AllTrails { trails });
        return Ok(Resolution::step(
            description,
            Some(prior),
            Vec::new(),
            Reversibility::Full,
        ));
    }
    let existing = trails
        .iter()
        .filter(|t| t.is_multi_region)
        .chain(trails.iter().filter(|t| !t.is_multi_region && t.is_logging))
        .chain(trails.iter().filter(|t| !t.is_multi_region))
        .next();
    Ok(match (existing, bucket) {
        (Some(existing), _) => {
            trail::update_to_multi_region(existing, aws)?.map_prior(Prior::Changed)
        }
        (None, Some(bucket)) => Resolution::step(
            description,
            Some(Prior::Trails(AllTrails { trails })),
            create(bucket),
            Reversibility::Full,
        ),
        (None, None) => Resolution::Skip(NEEDS_BUCKET.into()),
    })
}

pub fn inverse(prior: &Prior, made: &[Call]) -> Result<Vec<Call>, String> {
    let before = |name: &str| match prior {
        Prior::Changed(saved) => Some(&saved.trail),
        Prior::Trails(all) => trail::find(&all.trails, name),
    };
    newest_first(made, |call| {
        let name = match call {
            Call::UpdateTrail { name, .. } => name.as_str(),
            _ => "",
        };
        trail::inverse(call, before(name), made)
    })
}
