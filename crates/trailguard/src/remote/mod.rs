//! Inputs that live in AWS rather than on disk, as [`Source`]s for the same streaming pipeline:
//!
//! - [`s3`]: `s3://bucket/prefix`: every log object under the prefix (the S3 layout CloudTrail writes),
//!   each fetched only when a worker is ready for it, so memory stays bounded by the worker count.
//! - [`lookup_events`]: the CloudTrail LookupEvents API (the last 90 days of management events), streamed
//!   page by page as JSON lines.

pub mod lookup_events;
pub mod s3;

use std::sync::Arc;

use trailguard_event::source::Source;
use trailguard_event::Filter;

use crate::aws::AwsTarget;

/// What remote inputs produced: sources to scan plus what was passed over (reported in the summary).
#[derive(Default)]
pub struct RemoteSources {
    pub sources: Vec<Box<dyn Source>>,
    /// CloudTrail digest files (integrity manifests, not events).
    pub digest_files: u64,
    /// Objects that are not log files by name (e.g. a README in the bucket).
    pub ignored: u64,
    /// Folders skipped unlisted because nothing in them can pass the filter (see [`s3::Prune`]).
    pub pruned_folders: u64,
    /// ListObjectsV2 requests made.
    pub list_requests: u64,
}

/// A shared multi-thread runtime: pipeline workers block on it from their own threads.
pub fn runtime() -> anyhow::Result<Arc<tokio::runtime::Runtime>> {
    Ok(Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?,
    ))
}

/// Whether a command-line input names an S3 location.
pub fn is_s3_url(input: &str) -> bool {
    input.starts_with("s3://")
}

/// Resolves every `s3://` input into sources, leaving out the folders `filter` rules out.
pub fn s3_sources(
    inputs: &[String],
    target: &AwsTarget,
    filter: &Filter,
) -> anyhow::Result<RemoteSources> {
    let runtime = runtime()?;
    let config = target.load(&runtime);
    let client = s3::client(&config, target.endpoint_url.is_some());
    let prune = s3::Prune::from_filter(filter);
    let mut all = RemoteSources::default();
    for input in inputs {
        let location = s3::S3Location::parse(input)?;
        let found = s3::list(&client, &runtime, &location, &prune)?;
        all.sources.extend(found.sources);
        all.digest_files += found.digest_files;
        all.ignored += found.ignored;
        all.pruned_folders += found.pruned_folders;
        all.list_requests += found.list_requests;
    }
    Ok(all)
}
