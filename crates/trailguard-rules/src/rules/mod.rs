//! The rule catalog, one file per rule, grouped by family. Each family's `mod.rs` declares and registers
//! its rules in one `register!` block, one line a rule; [`crate::registry`] gathers them.

pub mod cloudtrail;
pub mod policy;
pub mod posture;
