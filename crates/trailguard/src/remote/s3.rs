//! CloudTrail logs in S3: `s3://bucket/AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/…json.gz`.

use std::io::{self, Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use aws_sdk_s3::Client;
use trailguard_event::source::Source;

use super::RemoteSources;

/// A bucket and key prefix from `s3://bucket/prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    pub prefix: String,
}

impl S3Location {
    pub fn parse(url: &str) -> anyhow::Result<S3Location> {
        let Some(rest) = url.strip_prefix("s3://") else {
            bail!("`{url}` is not an s3:// URL");
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            bail!("`{url}` names no bucket (expected s3://bucket/prefix)");
        }
        Ok(S3Location {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        })
    }
}

/// An S3 client; path-style addressing when a custom endpoint (a local server) is used.
pub fn client(config: &aws_config::SdkConfig, custom_endpoint: bool) -> Client {
    let conf = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(custom_endpoint)
        .build();
    Client::from_conf(conf)
}

/// Keys CloudTrail writes for events (digests are separate, under `CloudTrail-Digest/`).
fn is_log_key(key: &str) -> bool {
    [".json.gz", ".json", ".jsonl", ".jsonl.gz", ".gz"]
        .iter()
        .any(|ext| key.ends_with(ext))
}

/// Lists every object under the location, paginating.
pub fn list(
    client: &Client,
    runtime: &Arc<tokio::runtime::Runtime>,
    location: &S3Location,
) -> anyhow::Result<RemoteSources> {
    let mut found = RemoteSources::default();
    let mut token: Option<String> = None;
    loop {
        let page = runtime
            .block_on(
                client
                    .list_objects_v2()
                    .bucket(&location.bucket)
                    .prefix(&location.prefix)
                    .set_continuation_token(token.clone())
                    .send(),
            )
            .map_err(aws_sdk_s3::Error::from)
            .with_context(|| format!("cannot list s3://{}/{}", location.bucket, location.prefix))?;
        for object in page.contents() {
            let Some(key) = object.key() else { continue };
            if key.ends_with('/') {
                continue;
            }
            if key.contains("CloudTrail-Digest") {
                found.digest_files += 1;
            } else if is_log_key(key) {
                found.sources.push(Box::new(S3ObjectSource {
                    name: PathBuf::from(format!("s3://{}/{}", location.bucket, key)),
                    bucket: location.bucket.clone(),
                    key: key.to_owned(),
                    size: object.size().and_then(|s| u64::try_from(s).ok()),
                    client: client.clone(),
                    runtime: Arc::clone(runtime),
                }));
            } else {
                found.ignored += 1;
            }
        }
        token = page.next_continuation_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    Ok(found)
}

/// One S3 object, fetched when a worker opens it. CloudTrail objects are small (a few MB), so each is
/// read whole; at most one per worker is in memory at a time.
pub struct S3ObjectSource {
    name: PathBuf,
    bucket: String,
    key: String,
    size: Option<u64>,
    client: Client,
    runtime: Arc<tokio::runtime::Runtime>,
}

impl Source for S3ObjectSource {
    fn name(&self) -> &Path {
        &self.name
    }

    fn size_hint(&self) -> Option<u64> {
        self.size
    }

    fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        let bytes = self.runtime.block_on(async {
            let object = self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(&self.key)
                .send()
                .await
                .map_err(|e| {
                    io::Error::other(format!("GetObject: {}", aws_sdk_s3::Error::from(e)))
                })?;
            object
                .body
                .collect()
                .await
                .map(|data| data.into_bytes())
                .map_err(|e| io::Error::other(format!("reading object body: {e}")))
        })?;
        Ok(Box::new(Cursor::new(bytes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_s3_urls() {
        let loc = S3Location::parse("s3://trail-logs/AWSLogs/111122223333/").unwrap();
        assert_eq!(loc.bucket, "trail-logs");
        assert_eq!(loc.prefix, "AWSLogs/111122223333/");
        assert_eq!(S3Location::parse("s3://only-bucket").unwrap().prefix, "");
        assert!(S3Location::parse("s3:///prefix").is_err());
        assert!(S3Location::parse("/local/path").is_err());
    }

    #[test]
    fn recognises_log_keys() {
        assert!(is_log_key(
            "AWSLogs/1/CloudTrail/us-east-1/2024/01/01/1_CloudTrail_us-east-1_x.json.gz"
        ));
        assert!(!is_log_key("AWSLogs/README.txt"));
    }
}
