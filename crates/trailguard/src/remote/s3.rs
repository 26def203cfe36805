//! CloudTrail logs in S3: `s3://bucket/[prefix/]AWSLogs/[o-org/]<account>/CloudTrail/<region>/YYYY/MM/DD/…json.gz`.
//!
//! Listing prunes that layout by the scan's filter before it lists a folder's objects ([`Prune`]): with
//! `--since`, day folders published before the day of `--since` (a file holds only records written
//! before it was published, so nothing there can be that recent); with `--account` and
//! `--event-region`, other accounts' and regions' folders. `--until` prunes nothing: a file published
//! after it may still hold older records (delivery is usually minutes late, but AWS guarantees no bound).
//! Without such a filter, or below the day folders, keys are listed flat (one request per 1,000 keys).

use std::io::{self, Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use aws_sdk_s3::Client;
use chrono::{Datelike, NaiveDate};
use trailguard_event::source::Source;
use trailguard_event::Filter;

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
pub(crate) fn is_log_key(key: &str) -> bool {
    [".json.gz", ".json", ".jsonl", ".jsonl.gz", ".gz"]
        .iter()
        .any(|ext| key.ends_with(ext))
}

/// Which folders of the CloudTrail layout a scan can skip without listing them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prune {
    /// Day folders before this date hold nothing at or after `--since`.
    pub first_day: Option<NaiveDate>,
    /// Account folders to keep (empty: all).
    pub accounts: Vec<String>,
    /// Region folders to keep (empty: all).
    pub regions: Vec<String>,
}

/// What to do with one folder (a common prefix ending in `/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Skip it: nothing under it can pass the filter.
    Skip,
    /// List it folder by folder: a level below it may still be pruned.
    Descend,
    /// List everything under it: nothing below it can be pruned.
    ListAll,
}

/// Folders above `AWSLogs` (the trail's own key prefix) walked one level at a time before giving up on
/// finding the layout and listing flat.
const MAX_UNKNOWN_DEPTH: usize = 4;

impl Prune {
    pub fn from_filter(filter: &Filter) -> Prune {
        Prune {
            first_day: filter.since.map(|since| since.date_naive()),
            accounts: filter.accounts.clone(),
            regions: filter.regions.clone(),
        }
    }

    fn is_empty(&self) -> bool {
        self.first_day.is_none() && self.accounts.is_empty() && self.regions.is_empty()
    }

    /// Judges a folder by where it sits in the layout (`segments`: the key's folders, bucket-relative).
    fn judge(&self, segments: &[&str]) -> Verdict {
        let Some(logs) = segments.iter().position(|s| *s == "AWSLogs") else {
            return if segments.len() < MAX_UNKNOWN_DEPTH {
                Verdict::Descend
            } else {
                Verdict::ListAll
            };
        };
        let mut rest = &segments[logs + 1..];
        // An organization trail puts the organization id before the account.
        if rest.first().is_some_and(|s| s.starts_with("o-")) {
            rest = &rest[1..];
        }
        let [account, rest @ ..] = rest else {
            return Verdict::Descend;
        };
        if !self.accounts.is_empty() && !self.accounts.iter().any(|a| a == *account) {
            return Verdict::Skip;
        }
        // `CloudTrail`, `CloudTrail-Digest`, `CloudTrail-Insight`: the same layout below.
        let [kind, rest @ ..] = rest else {
            return Verdict::Descend;
        };
        if !kind.starts_with("CloudTrail") {
            return Verdict::ListAll;
        }
        let [region, dates @ ..] = rest else {
            return Verdict::Descend;
        };
        if !self.regions.is_empty() && !self.regions.iter().any(|r| r == *region) {
            return Verdict::Skip;
        }
        let Some(first) = self.first_day else {
            return Verdict::ListAll;
        };
        let numbers: Option<Vec<u32>> = dates.iter().map(|d| d.parse().ok()).collect();
        let Some(numbers) = numbers else {
            return Verdict::ListAll;
        };
        let wanted = [first.year() as u32, first.month(), first.day()];
        // Compare as far as the folder goes: year, then year and month, then the day.
        let depth = numbers.len().min(3);
        if numbers[..depth] < wanted[..depth] {
            return Verdict::Skip;
        }
        if depth < 3 {
            Verdict::Descend
        } else {
            Verdict::ListAll
        }
    }
}

/// Lists the log objects under the location, skipping the folders `prune` rules out.
pub fn list(
    client: &Client,
    runtime: &Arc<tokio::runtime::Runtime>,
    location: &S3Location,
    prune: &Prune,
) -> anyhow::Result<RemoteSources> {
    let mut sources: Vec<Box<dyn Source>> = Vec::new();
    let mut found = list_logs(client, runtime, location, prune, &mut |log| {
        sources.push(Box::new(S3ObjectSource {
            name: PathBuf::from(format!("s3://{}/{}", location.bucket, log.key)),
            bucket: location.bucket.clone(),
            key: log.key,
            size: log.size,
            client: client.clone(),
            runtime: Arc::clone(runtime),
        }));
    })?;
    found.sources = sources;
    Ok(found)
}

/// A log object a listing found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogObject {
    pub key: String,
    pub size: Option<u64>,
    /// Without quotes.
    pub etag: Option<String>,
}

/// Lists the log objects under the location as [`list`] does, handing each to `on_log` as its page
/// arrives; the counts are returned (`sources` stays empty).
pub fn list_logs(
    client: &Client,
    runtime: &Arc<tokio::runtime::Runtime>,
    location: &S3Location,
    prune: &Prune,
    on_log: &mut dyn FnMut(LogObject),
) -> anyhow::Result<RemoteSources> {
    let mut found = RemoteSources::default();
    if prune.is_empty() {
        list_prefix(
            client,
            runtime,
            location,
            &location.prefix,
            None,
            &mut found,
            on_log,
        )?;
        return Ok(found);
    }
    let mut pending = vec![location.prefix.clone()];
    while let Some(prefix) = pending.pop() {
        let folders = list_prefix(
            client,
            runtime,
            location,
            &prefix,
            Some('/'),
            &mut found,
            on_log,
        )?;
        for folder in folders {
            let segments: Vec<&str> = folder.trim_end_matches('/').split('/').collect();
            match prune.judge(&segments) {
                Verdict::Skip => found.pruned_folders += 1,
                Verdict::Descend => pending.push(folder),
                Verdict::ListAll => {
                    list_prefix(client, runtime, location, &folder, None, &mut found, on_log)?;
                }
            }
        }
    }
    Ok(found)
}

/// Lists one prefix, paginating: its log objects go to `on_log`, the others are counted; with a
/// delimiter, returns its sub-folders.
fn list_prefix(
    client: &Client,
    runtime: &Arc<tokio::runtime::Runtime>,
    location: &S3Location,
    prefix: &str,
    delimiter: Option<char>,
    found: &mut RemoteSources,
    on_log: &mut dyn FnMut(LogObject),
) -> anyhow::Result<Vec<String>> {
    let mut folders = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = runtime
            .block_on(
                client
                    .list_objects_v2()
                    .bucket(&location.bucket)
                    .prefix(prefix)
                    .set_delimiter(delimiter.map(String::from))
                    .set_continuation_token(token.clone())
                    .send(),
            )
            .map_err(aws_sdk_s3::Error::from)
            .with_context(|| format!("cannot list s3://{}/{}", location.bucket, prefix))?;
        found.list_requests += 1;
        folders.extend(
            page.common_prefixes()
                .iter()
                .filter_map(|p| p.prefix().map(str::to_owned)),
        );
        for object in page.contents() {
            let Some(key) = object.key() else { continue };
            if key.ends_with('/') {
                continue;
            }
            if key.contains("CloudTrail-Digest") {
                found.digest_files += 1;
            } else if is_log_key(key) {
                on_log(LogObject {
                    key: key.to_owned(),
                    size: object.size().and_then(|s| u64::try_from(s).ok()),
                    etag: object.e_tag().map(|e| e.trim_matches('"').to_owned()),
                });
            } else {
                found.ignored += 1;
            }
        }
        token = page.next_continuation_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    Ok(folders)
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

    fn judge(prune: &Prune, key: &str) -> Verdict {
        let segments: Vec<&str> = key.trim_end_matches('/').split('/').collect();
        prune.judge(&segments)
    }

    #[test]
    fn prunes_days_before_since_and_other_accounts_and_regions() {
        let prune = Prune {
            first_day: NaiveDate::from_ymd_opt(2024, 3, 5),
            accounts: vec!["111122223333".into()],
            regions: vec!["us-east-1".into()],
        };
        let base = "logs/AWSLogs/111122223333/CloudTrail/us-east-1";
        assert_eq!(judge(&prune, "logs/"), Verdict::Descend);
        assert_eq!(judge(&prune, "logs/AWSLogs/"), Verdict::Descend);
        assert_eq!(judge(&prune, "logs/AWSLogs/444455556666/"), Verdict::Skip);
        assert_eq!(
            judge(&prune, "logs/AWSLogs/o-abc123/111122223333/"),
            Verdict::Descend
        );
        assert_eq!(
            judge(&prune, "logs/AWSLogs/111122223333/CloudTrail/eu-west-1/"),
            Verdict::Skip
        );
        assert_eq!(judge(&prune, &format!("{base}/2023/")), Verdict::Skip);
        assert_eq!(judge(&prune, &format!("{base}/2024/")), Verdict::Descend);
        assert_eq!(judge(&prune, &format!("{base}/2024/02/")), Verdict::Skip);
        assert_eq!(judge(&prune, &format!("{base}/2024/03/")), Verdict::Descend);
        assert_eq!(judge(&prune, &format!("{base}/2024/03/04/")), Verdict::Skip);
        assert_eq!(
            judge(&prune, &format!("{base}/2024/03/05/")),
            Verdict::ListAll
        );
        assert_eq!(
            judge(&prune, &format!("{base}/2025/01/01/")),
            Verdict::ListAll
        );
        // Not the layout: listed whole rather than guessed at.
        assert_eq!(
            judge(&prune, "logs/AWSLogs/111122223333/elasticloadbalancing/"),
            Verdict::ListAll
        );
        assert_eq!(judge(&prune, &format!("{base}/latest/")), Verdict::ListAll);
        assert_eq!(judge(&prune, "a/b/c/d/"), Verdict::ListAll);
    }
}
