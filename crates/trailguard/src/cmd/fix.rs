//! `trailguard fix` (placeholder until its issue lands).

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct FixArgs {}

pub fn run(_args: FixArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`trailguard fix` is not built yet")
}
