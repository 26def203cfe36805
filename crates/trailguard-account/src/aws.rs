//! Connecting to AWS, the one way for every caller (the live audit here; `fix`, `serve` and remote
//! `scan` sources in the binary): the usual credential chain, optionally a profile, a region and an
//! endpoint (a local moto server in tests), with the SDK's standard retry mode and more attempts than
//! its default, so throttling is retried with backoff.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

/// Where to send calls.
#[derive(Debug, Clone, Default)]
pub struct AwsTarget {
    pub profile: Option<String>,
    pub region: Option<String>,
    /// A custom endpoint for every service (a moto server in tests, a VPC endpoint, ...).
    pub endpoint_url: Option<String>,
}

impl AwsTarget {
    /// Attempts per call, the first included, when the caller does not say.
    pub const DEFAULT_ATTEMPTS: u32 = 8;

    /// The SDK configuration, retrying each call up to `max_attempts` times (0: the default). IAM is
    /// global, but requests still need a region to be signed: us-east-1 when none is configured
    /// anywhere.
    pub async fn config(&self, max_attempts: u32) -> SdkConfig {
        let attempts = match max_attempts {
            0 => AwsTarget::DEFAULT_ATTEMPTS,
            n => n,
        };
        let retry = RetryConfig::standard()
            .with_max_attempts(attempts)
            .with_initial_backoff(Duration::from_millis(200))
            .with_max_backoff(Duration::from_secs(20));
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).retry_config(retry);
        if let Some(profile) = &self.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &self.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &self.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let config = loader.load().await;
        if config.region().is_none() {
            config
                .into_builder()
                .region(Region::new("us-east-1"))
                .build()
        } else {
            config
        }
    }

    /// [`AwsTarget::config`] with the default attempts, on `runtime` (callers without async code).
    pub fn load(&self, runtime: &tokio::runtime::Runtime) -> SdkConfig {
        runtime.block_on(self.config(0))
    }
}
