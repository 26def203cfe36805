//! The `serve` worker as an AWS Lambda function behind an SQS event source mapping.
//!
//! Lambda's poller receives the messages and hands the function a batch (an [`SqsEvent`]); the function
//! works each message with the same code as a `serve` worker ([`Service::process`]) and answers with a
//! partial batch response: the ids of the messages that must stay on the queue. The event source mapping
//! (with `FunctionResponseTypes: [ReportBatchItemFailures]`, see `deploy/template.yaml`) deletes every
//! other message of the batch and leaves those for SQS to redeliver and, after the redrive limit, to move
//! to the dead-letter queue. Nothing here deletes a message or extends its visibility: the mapping does.
//!
//! A message is a failure when its body is not a notification trailguard reads, or when one of its
//! objects could not be fetched, read or committed; an object already committed is a no-op on the retry
//! (the store's processed-objects table). A message without an id is reported with an empty id, which
//! Lambda takes as the whole batch failing: every message is retried, which is safe for the same reason.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};

use crate::serve::Service;
use crate::store::FindingStore;

/// Works every message of one batch, in order, and returns the ids of those left on the queue.
pub fn handle_batch(
    service: &Service<'_>,
    store: &mut dyn FindingStore,
    event: &SqsEvent,
) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for message in &event.records {
        let id = message.message_id.as_deref().unwrap_or_default();
        let queue = message
            .event_source_arn
            .as_deref()
            .unwrap_or("the event source");
        let receive_count = message
            .attributes
            .get("ApproximateReceiveCount")
            .map_or("unknown", String::as_str);
        let body = message.body.as_deref().unwrap_or_default();
        if service
            .process(store, queue, id, body, receive_count)
            .is_err()
        {
            response.add_failure(id);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    //! The handler in-process on a recorded SQS batch (`tests/fixtures/lambda-sqs-batch.json`, shaped as
    //! Lambda delivers it) whose bodies are S3 notifications for objects put into moto's S3: two trail
    //! files made from the shared data, one object that is not a CloudTrail file, and moto's
    //! `s3:TestEvent`.

    use std::collections::BTreeSet;
    use std::path::Path;
    use std::sync::atomic::Ordering::Relaxed;
    use std::sync::Arc;

    use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
    use trailguard_event::source::{MemorySource, Source};
    use trailguard_event::Filter;
    use trailguard_rules::engine::{self, Engine};
    use trailguard_testkit::MotoServer;

    use super::*;
    use crate::serve::metrics::Metrics;
    use crate::store::{self, FindingQuery};

    const BATCH: &str = include_str!("../tests/fixtures/lambda-sqs-batch.json");
    /// The message of the batch whose object is not a CloudTrail file.
    const BAD_MESSAGE: &str = "3f1c1b0e-51a4-4f0e-9a53-4f3c6a3e8c03";

    /// Writes the objects the recorded batch names into `dir` and puts them into moto's S3: the
    /// detonation logs of two Stratus Red Team techniques as CloudTrail files, and under the third key a
    /// gzip stream cut short. Returns the two trail files.
    fn put_objects(moto: &MotoServer, dir: &Path) -> Vec<std::path::PathBuf> {
        let data = trailguard_testkit::shared_data()
            .join("cloudtrail/stratus-red-team/docs/detonation-logs");
        let written = moto.python(&format!(
            r#"
import gzip, json, os, boto3
s3 = boto3.client("s3")
s3.create_bucket(Bucket="lambda-trail")
prefix = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/01/111122223333_CloudTrail_us-east-1_20240301T"
for suffix, name in (("1000Z_a.json.gz", "aws.persistence.iam-backdoor-user.json"),
                     ("1005Z_b.json.gz", "aws.privilege-escalation.iam-update-user-login-profile.json")):
    doc = json.load(open(os.path.join({data:?}, name)))
    body = gzip.compress(json.dumps({{"Records": doc["Records"] if isinstance(doc, dict) else doc}}).encode(), mtime=0)
    with open(os.path.join({dir:?}, suffix), "wb") as f:
        f.write(body)
    s3.put_object(Bucket="lambda-trail", Key=prefix + suffix, Body=body)
    print(os.path.join({dir:?}, suffix))
s3.put_object(Bucket="lambda-trail", Key=prefix + "1010Z_c.json.gz", Body=gzip.compress(b'{{"Records": [' * 50, mtime=0)[:40])
"#,
            data = data.display().to_string(),
            dir = dir.display().to_string(),
        ));
        written.lines().map(Into::into).collect()
    }

    /// What the flow of `scan` finds in each file on its own.
    fn scan_ids(engine: &Engine, files: &[std::path::PathBuf]) -> BTreeSet<String> {
        let mut ids = BTreeSet::new();
        for file in files {
            let bytes = std::fs::read(file).unwrap();
            let source: Box<dyn Source> = Box::new(MemorySource::new(file.clone(), bytes));
            engine::scan_findings(
                engine,
                None,
                vec![source],
                &Filter::default(),
                1,
                &trailguard_event::NoopObserver,
                |finding| {
                    ids.insert(finding.id);
                },
            )
            .unwrap();
        }
        ids
    }

    #[test]
    fn a_batch_with_one_bad_message_reports_exactly_that_one() {
        let moto = MotoServer::start();
        let dir = tempfile::tempdir().unwrap();
        let files = put_objects(&moto, dir.path());
        assert_eq!(files.len(), 2);
        let spec = dir.path().join("lambda.db").display().to_string();
        let mut store = store::open(&spec).unwrap();
        let run = store
            .begin_run("lambda", "2024-03-01T10:00:00Z", &[])
            .unwrap();

        let credentials = Credentials::new("test", "test", None, None, "moto");
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("us-east-1"))
                .endpoint_url(moto.endpoint())
                .credentials_provider(credentials.clone())
                .force_path_style(true)
                .build(),
        );
        let sqs = aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::Config::builder()
                .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
                .region(aws_sdk_sqs::config::Region::new("us-east-1"))
                .endpoint_url(moto.endpoint())
                .credentials_provider(credentials)
                .build(),
        );
        // Sequence rules are evaluated over the store's observations of every object, as in `serve`.
        let engine = Engine::builtin().with_deferred_sequences();
        let (_stop_tx, stop) = tokio::sync::watch::channel(false);
        let service = Service {
            engine: &engine,
            sigma: None,
            sqs,
            s3,
            runtime: crate::remote::runtime().unwrap(),
            queues: Vec::new(),
            store: spec.clone(),
            run,
            prefix: Some("AWSLogs/".to_owned()),
            drain: false,
            wait_seconds: 0,
            metrics: Arc::new(Metrics::default()),
            stop,
            progress: false,
            silence_after: chrono::TimeDelta::hours(1),
            alerts: None,
        };
        let event: SqsEvent = serde_json::from_str(BATCH).unwrap();
        assert_eq!(event.records.len(), 4);

        let response = handle_batch(&service, store.as_mut(), &event);
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            serde_json::json!({"batchItemFailures": [{"itemIdentifier": BAD_MESSAGE}]})
        );

        // The two trail files are committed with what `scan` finds in them; the bad one is not.
        let metrics = &service.metrics;
        assert_eq!(metrics.objects_processed.load(Relaxed), 2);
        assert_eq!(metrics.objects_failed.load(Relaxed), 1);
        let stored: BTreeSet<String> = store
            .findings(&FindingQuery::default())
            .unwrap()
            .findings
            .into_iter()
            .map(|f| f.finding.id)
            .collect();
        let expected = scan_ids(&engine, &files);
        assert!(!expected.is_empty());
        assert_eq!(stored, expected);

        // Lambda retries only the bad message: the same failure, nothing new in the store.
        let mut retry = event.clone();
        retry
            .records
            .retain(|m| m.message_id.as_deref() == Some(BAD_MESSAGE));
        assert_eq!(handle_batch(&service, store.as_mut(), &retry), response);
        // A redelivery of the whole batch is a no-op for the committed objects.
        assert_eq!(handle_batch(&service, store.as_mut(), &event), response);
        assert_eq!(metrics.objects_duplicate.load(Relaxed), 2);
        assert_eq!(
            store
                .findings(&FindingQuery::default())
                .unwrap()
                .findings
                .len(),
            stored.len()
        );
    }
}
