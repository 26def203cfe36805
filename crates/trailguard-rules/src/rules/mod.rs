//! The rule catalog, one file per rule, grouped by family. Each family's `mod.rs` lists its rules once;
//! [`all_metas`] gathers them for `trailguard rules`, the docs site and the registry tests.

pub mod cloudtrail;
pub mod policy;
pub mod posture;

use crate::meta::RuleMeta;

/// Every built-in rule's metadata, CloudTrail first, then posture, then policy.
pub fn all_metas() -> Vec<&'static RuleMeta> {
    let mut metas = cloudtrail::metas();
    metas.extend(posture::metas());
    metas.extend(policy::metas());
    metas
}
