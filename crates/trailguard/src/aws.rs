//! Connecting to AWS, one way for every command that does (`fix`, remote `scan` sources): the usual
//! credential chain, optionally a profile, a region and an endpoint (a local moto server in tests),
//! with the SDK's standard retry mode and more attempts, so throttling is retried with backoff.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

/// Where to send calls.
#[derive(Debug, Clone, Default)]
pub struct AwsTarget {
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

impl AwsTarget {
    /// Loads the SDK configuration on `runtime`. IAM is global, but requests still need a region to be
    /// signed: us-east-1 when none is configured anywhere.
    pub fn load(&self, runtime: &tokio::runtime::Runtime) -> SdkConfig {
        let retry = RetryConfig::standard()
            .with_max_attempts(8)
            .with_initial_backoff(Duration::from_millis(200));
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
        let config = runtime.block_on(loader.load());
        if config.region().is_none() {
            config
                .into_builder()
                .region(Region::new("us-east-1"))
                .build()
        } else {
            config
        }
    }
}
