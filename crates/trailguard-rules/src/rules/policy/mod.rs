//! policy rules: one file per rule (placeholder, filled in by the policy work).

use crate::meta::RuleMeta;

/// Metadata of every policy rule, in code order.
pub fn metas() -> Vec<&'static RuleMeta> {
    Vec::new()
}
