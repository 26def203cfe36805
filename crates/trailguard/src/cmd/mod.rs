//! One file per command. Each exposes `XxxArgs` (clap) and `run(args) -> anyhow::Result<ExitCode>`.

pub mod args;
pub mod audit;
pub mod audit_unused;
pub mod backfill;
pub mod bench;
pub mod docs;
pub mod explain;
pub mod fix;
pub mod lambda;
pub mod mute;
pub mod paths;
pub mod policy;
pub mod rules;
pub mod scan;
pub mod scan_snapshot;
pub mod serve;
