//! posture rules: one file per rule (placeholder, filled in by the posture work).

use crate::meta::RuleMeta;

/// Metadata of every posture rule, in code order.
pub fn metas() -> Vec<&'static RuleMeta> {
    Vec::new()
}
