//! cloudtrail rules: one file per rule (placeholder, filled in by the cloudtrail work).

use crate::meta::RuleMeta;

/// Metadata of every cloudtrail rule, in code order.
pub fn metas() -> Vec<&'static RuleMeta> {
    Vec::new()
}
