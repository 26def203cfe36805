//! `trailguard docs` (placeholder until its issue lands).

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct DocsArgs {}

pub fn run(_args: DocsArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`trailguard docs` is not built yet")
}
