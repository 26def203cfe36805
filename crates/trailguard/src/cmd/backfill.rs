//! `trailguard backfill s3://bucket/prefix --queue URL`: lists the log files already in a bucket and
//! enqueues one S3-event-shaped notification per file ([`crate::serve::message::s3_event_body`]), ten
//! per SendMessageBatch call, so `serve`'s workers process history exactly as they process new files
//! (and a file they already committed is a no-op). Listing is the one `scan s3://` uses, pruned the same
//! way by `--since`; `--until` leaves out day folders after its day. Enqueueing goes on while the
//! listing pages arrive, with a progress bar on a terminal.

use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};

use crate::cmd::args::AwsArgs;
use crate::cmd::scan::parse_time_bound;
use crate::fix::aws::api_error;
use crate::remote::{self, s3::LogObject, s3::Prune, s3::S3Location};
use crate::serve::message::s3_event_body;
use crate::ui;
use trailguard_rules::output::visible;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  trailguard backfill s3://trail-bucket/AWSLogs/111122223333/ --queue https://sqs.us-east-1.amazonaws.com/111122223333/trail-files
  trailguard backfill s3://trail-bucket --queue URL --since 30d --until 2024-03-01")]
pub struct BackfillArgs {
    /// The log files to enqueue: s3://bucket/prefix.
    #[arg(value_name = "S3_URL")]
    pub location: String,

    /// SQS queue URL that `serve` takes notifications from.
    #[arg(long, value_name = "SQS_URL")]
    pub queue: String,

    /// Only files of this day or later: RFC 3339, a date (2024-03-01) or an age (36h, 7d).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,

    /// Only files of days before this time's day ends: RFC 3339, a date or an age.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,

    /// No progress bar and no summary.
    #[arg(long, short = 'q')]
    pub quiet: bool,

    #[command(flatten)]
    pub aws: AwsArgs,
}

/// Messages per SendMessageBatch call (SQS's limit).
const BATCH: usize = 10;

/// Sends notifications in batches and counts what SQS accepted.
struct Enqueuer<'a> {
    sqs: aws_sdk_sqs::Client,
    runtime: &'a tokio::runtime::Runtime,
    queue: &'a str,
    bucket: &'a str,
    pending: Vec<LogObject>,
    sent: u64,
    failed: u64,
    /// A call that failed whole (the queue is gone, no permission): the backfill stops.
    error: Option<anyhow::Error>,
    bar: indicatif::ProgressBar,
}

impl Enqueuer<'_> {
    fn push(&mut self, object: LogObject) {
        if self.error.is_some() {
            return;
        }
        self.pending.push(object);
        if self.pending.len() >= BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.pending.is_empty() || self.error.is_some() {
            return;
        }
        let batch = std::mem::take(&mut self.pending);
        let entries = batch.iter().enumerate().map(|(i, object)| {
            aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(s3_event_body(
                    self.bucket,
                    &object.key,
                    object.size,
                    object.etag.as_deref(),
                ))
                .build()
        });
        let entries = match entries.collect::<Result<Vec<_>, _>>() {
            Ok(entries) => entries,
            Err(err) => {
                self.error = Some(anyhow::anyhow!("cannot build a message: {err}"));
                return;
            }
        };
        let call = self
            .sqs
            .send_message_batch()
            .queue_url(self.queue)
            .set_entries(Some(entries))
            .send();
        match self.runtime.block_on(call) {
            Ok(out) => {
                for failed in out.failed() {
                    let key = failed
                        .id()
                        .parse::<usize>()
                        .ok()
                        .and_then(|i| batch.get(i))
                        .map_or("?", |o| o.key.as_str());
                    self.failed += 1;
                    let name = format!("s3://{}/{key}", self.bucket);
                    let reason =
                        format!("{} {}", failed.code(), failed.message().unwrap_or_default());
                    eprintln!(
                        "error: {}: not enqueued: {}",
                        visible(&name),
                        visible(&reason)
                    );
                }
                let sent = batch.len() as u64 - out.failed().len() as u64;
                self.sent += sent;
                self.bar
                    .inc(batch.iter().filter_map(|o| o.size).sum::<u64>());
                self.bar
                    .set_message(format!("{} files enqueued", self.sent));
            }
            Err(err) => {
                self.error = Some(anyhow::anyhow!(
                    "{} ({})",
                    api_error("SendMessageBatch", &err),
                    self.queue
                ));
            }
        }
    }
}

/// The day folder of a CloudTrail log key (`…/REGION/YYYY/MM/DD/file`), when it has one.
fn key_day(key: &str) -> Option<NaiveDate> {
    let parts: Vec<&str> = key.split('/').collect();
    let at = parts.iter().position(|p| *p == "CloudTrail")?;
    let [year, month, day] = parts.get(at + 2..at + 5)? else {
        return None;
    };
    NaiveDate::from_ymd_opt(year.parse().ok()?, month.parse().ok()?, day.parse().ok()?)
}

pub fn run(args: BackfillArgs) -> anyhow::Result<ExitCode> {
    let location = S3Location::parse(&args.location)?;
    let now = Utc::now();
    let bound = |text: &Option<String>| -> anyhow::Result<Option<DateTime<Utc>>> {
        text.as_deref()
            .map(|t| parse_time_bound(t, now))
            .transpose()
    };
    let since = bound(&args.since).context("--since")?;
    let until = bound(&args.until).context("--until")?;
    let prune = Prune {
        first_day: since.map(|t| t.date_naive()),
        ..Prune::default()
    };
    let last_day = until.map(|t| t.date_naive());

    let runtime = remote::runtime()?;
    let config = args.aws.target().load(&runtime);
    let s3 = remote::s3::client(&config, args.aws.endpoint_url.is_some());
    let mut enqueuer = Enqueuer {
        sqs: aws_sdk_sqs::Client::new(&config),
        runtime: &runtime,
        queue: &args.queue,
        bucket: &location.bucket,
        pending: Vec::new(),
        sent: 0,
        failed: 0,
        error: None,
        bar: ui::progress_bar(None, !args.quiet, "backfill"),
    };
    let mut after_until = 0u64;
    let listed = remote::s3::list_logs(&s3, &runtime, &location, &prune, &mut |object| {
        let day = key_day(&object.key);
        let too_late = matches!((day, last_day), (Some(day), Some(last)) if day > last);
        let too_early = matches!((day, prune.first_day), (Some(day), Some(first)) if day < first);
        if too_late || too_early {
            after_until += 1;
            return;
        }
        enqueuer.push(object);
    })?;
    enqueuer.flush();
    enqueuer.bar.finish_and_clear();
    if let Some(err) = enqueuer.error {
        return Err(err.context(format!(
            "backfill stopped after enqueueing {} files",
            enqueuer.sent
        )));
    }
    if !args.quiet {
        eprintln!(
            "enqueued {} log files of {} on {}; skipped {} outside --since/--until, {} digest files, {} other objects",
            enqueuer.sent,
            args.location,
            args.queue,
            after_until + listed.pruned_folders,
            listed.digest_files,
            listed.ignored
        );
    }
    Ok(if enqueuer.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_key_has_a_day() {
        assert_eq!(
            key_day("x/AWSLogs/1/CloudTrail/us-east-1/2024/03/01/f.json.gz"),
            NaiveDate::from_ymd_opt(2024, 3, 1)
        );
        assert_eq!(key_day("AWSLogs/1/CloudTrail/us-east-1/f.json.gz"), None);
        assert_eq!(key_day("other/2024/03/01/f.json.gz"), None);
    }
}
