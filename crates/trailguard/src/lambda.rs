//! The `serve` worker as an AWS Lambda function behind an SQS event source mapping.
//!
//! Lambda's poller receives the messages and hands the function a batch (an [`SqsEvent`]); the function
//! works each message with the same code as a `serve` worker ([`Service::process`]) and answers with a
//! partial batch response: the ids of the messages that must stay on the queue. The event source mapping
//! (with `FunctionResponseTypes: [ReportBatchItemFailures]`, see `deploy/template.yaml`) deletes every
//! other message of the batch and leaves those for SQS to redeliver and, after the redrive limit, to move
//! to the dead-letter queue. Nothing here deletes a message or extends its visibility: the mapping does.
//! As in `serve`, the next message's objects are fetched from S3 while one is worked.
//!
//! A message is a failure when its body is not a notification trailguard reads, or when one of its
//! objects could not be fetched, read or committed; an object already committed is a no-op on the retry
//! (the store's processed-objects table). A message without an id is reported with an empty id, which
//! Lambda takes as the whole batch failing: every message is retried, which is safe for the same reason.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};

use crate::alert::Dispatcher;
use crate::serve::fetch::Ahead;
use crate::serve::Service;
use crate::store::FindingStore;

/// Works every message of one batch, in order, and returns the ids of those left on the queue. With
/// alerts (`service.alerts`), as a `serve` worker does around its messages: the mutes are read again
/// when stale and expiries raised (CT055) before the batch, and what is due is sent after it (a
/// delivery that fails waits in the store's outbox for a later batch; it never fails a message).
pub fn handle_batch(
    service: &Service<'_>,
    store: &mut dyn FindingStore,
    dispatcher: Option<&mut Dispatcher>,
    event: &SqsEvent,
) -> SqsBatchResponse {
    if let Some(alerts) = &service.alerts {
        // Every execution environment may raise expiries: the store's claim keeps them to one.
        alerts.refresh(store, &service.metrics, true, service.run);
    }
    let response = work_batch(service, store, event);
    if let Some(dispatcher) = dispatcher {
        crate::serve::alerts::deliver(dispatcher, store, &service.metrics);
    }
    response
}

fn work_batch(
    service: &Service<'_>,
    store: &mut dyn FindingStore,
    event: &SqsEvent,
) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    let mut ahead = Ahead::default();
    let body_of = |index: usize| {
        event
            .records
            .get(index)
            .map(|m| m.body.as_deref().unwrap_or_default())
    };
    if let Some(first) = body_of(0) {
        service.fetch_ahead(store, &mut ahead, first);
    }
    for (index, message) in event.records.iter().enumerate() {
        // The next message's objects come from S3 while this one is worked.
        if let Some(next) = body_of(index + 1) {
            service.fetch_ahead(store, &mut ahead, next);
        }
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
            .process(store, queue, id, body, receive_count, &mut ahead)
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

    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;
    use std::sync::atomic::Ordering::Relaxed;
    use std::sync::Arc;

    use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
    use trailguard_event::source::{MemorySource, Source};
    use trailguard_event::Filter;
    use trailguard_rules::engine::{self, Engine};
    use trailguard_testkit::MotoServer;

    use super::*;
    use crate::serve::alerts::ServeAlerts;
    use crate::serve::metrics::Metrics;
    use crate::store::{self, alerting, FindingQuery};

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

    /// What the flow of `scan` finds in each file on its own: finding id to rule code.
    fn scan_ids(engine: &Engine, files: &[std::path::PathBuf]) -> BTreeMap<String, String> {
        let mut ids = BTreeMap::new();
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
                    ids.insert(finding.id, finding.rule_id);
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
        let expected = scan_ids(&engine, &files);
        assert!(!expected.is_empty());

        // Mutes and alerts as `trailguard lambda` sets them up from its environment: a JSON-lines
        // file destination, a mute of the rule of one expected finding, and a mute that has expired.
        let alerts_file = dir.path().join("alerts.jsonl");
        let alert_flag = format!("file={}", alerts_file.display());
        let settings = crate::alert::AlertSettings {
            destinations: vec![crate::alert::config::parse_alert_flag(&alert_flag, None).unwrap()],
            ..Default::default()
        };
        // A rule of one record (a sequence rule's findings are made in the commit, and counted apart).
        let sequence_rules: BTreeSet<&str> = trailguard_rules::rules::cloudtrail::sequences()
            .iter()
            .map(|r| r.meta().code)
            .collect();
        let muted_rule = expected
            .values()
            .find(|rule| !sequence_rules.contains(rule.as_str()))
            .unwrap()
            .clone();
        let now = chrono::Utc::now();
        let mute = |rule: &str, expires: &str, created: chrono::DateTime<chrono::Utc>| {
            crate::mute::MuteRequest {
                rule: Some(rule.to_owned()),
                reason: "accepted in review".to_owned(),
                expires: Some(expires.to_owned()),
                ..Default::default()
            }
            .into_mute("ci", created)
            .unwrap()
        };
        alerting::add_mute(store.as_mut(), &mute(&muted_rule, "2099-01-01", now)).unwrap();
        let expired = mute("CT999", "2020-01-01", now - chrono::TimeDelta::days(3000));
        alerting::add_mute(store.as_mut(), &expired).unwrap();
        let expiry = expired.expiry_finding().unwrap();
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
            alerts: Some(ServeAlerts::new(settings, Default::default())),
        };
        let mut dispatcher = service.alerts.as_ref().unwrap().dispatcher().unwrap();
        let event: SqsEvent = serde_json::from_str(BATCH).unwrap();
        assert_eq!(event.records.len(), 4);

        let response = handle_batch(&service, store.as_mut(), dispatcher.as_mut(), &event);
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            serde_json::json!({"batchItemFailures": [{"itemIdentifier": BAD_MESSAGE}]})
        );

        // The two trail files are committed with what `scan` finds in them; the bad one is not.
        let metrics = &service.metrics;
        assert_eq!(metrics.objects_processed.load(Relaxed), 2);
        assert_eq!(metrics.objects_failed.load(Relaxed), 1);
        // The expired mute is a CT055 finding of its own, stored beside them.
        let stored: BTreeSet<String> = store
            .findings(&FindingQuery::default())
            .unwrap()
            .findings
            .into_iter()
            .map(|f| f.finding.id)
            .collect();
        let mut with_expiry: BTreeSet<String> = expected.keys().cloned().collect();
        with_expiry.insert(expiry.id.clone());
        assert_eq!(stored, with_expiry);

        // The muted rule's findings are recorded muted and never alerted; every other finding and
        // the expiry are alerted once.
        let muted: BTreeSet<&String> = expected
            .iter()
            .filter(|(_, rule)| **rule == muted_rule)
            .map(|(id, _)| id)
            .collect();
        for id in &muted {
            assert!(alerting::finding_mute(store.as_mut(), id)
                .unwrap()
                .is_some());
        }
        assert_eq!(metrics.findings_muted.load(Relaxed), muted.len() as u64);
        let alerted = || -> Vec<String> {
            std::fs::read_to_string(&alerts_file)
                .unwrap_or_default()
                .lines()
                .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
                .filter(|v| v["kind"] == "alert")
                .map(|v| v["message"]["id"].as_str().unwrap().to_owned())
                .collect()
        };
        let sent = alerted();
        let sent_set: BTreeSet<String> = sent.iter().cloned().collect();
        assert_eq!(sent.len(), sent_set.len(), "no finding twice");
        assert!(sent_set.contains(&expiry.id));
        assert!(muted.iter().all(|id| !sent_set.contains(*id)));
        // Alerts fold on rule and principal: each unmuted finding is alerted or folded into one that is.
        let unmuted = expected.len() - muted.len();
        assert!(sent.len() > 1 && sent.len() <= unmuted + 1, "{sent:?}");

        // Lambda retries only the bad message: the same failure, nothing new in the store.
        let mut retry = event.clone();
        retry
            .records
            .retain(|m| m.message_id.as_deref() == Some(BAD_MESSAGE));
        assert_eq!(
            handle_batch(&service, store.as_mut(), dispatcher.as_mut(), &retry),
            response
        );
        // A redelivery of the whole batch is a no-op for the committed objects.
        assert_eq!(
            handle_batch(&service, store.as_mut(), dispatcher.as_mut(), &event),
            response
        );
        assert_eq!(metrics.objects_duplicate.load(Relaxed), 2);
        assert_eq!(
            store
                .findings(&FindingQuery::default())
                .unwrap()
                .findings
                .len(),
            stored.len()
        );
        // Nothing alerted twice, the expiry included.
        assert_eq!(alerted(), sent);
    }
}
