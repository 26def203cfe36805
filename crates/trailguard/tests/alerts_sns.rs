//! Alerts to an SNS topic, end to end: `trailguard scan --alert sns=TOPIC_ARN` against the moto server
//! shared by this test binary, with an SQS queue subscribed to the topic so the test reads back what
//! SNS delivered (moto delivers to SQS subscriptions as AWS does, in the SNS envelope).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use trailguard_rules::{Finding, Severity};
use trailguard_testkit::MotoServer;

fn moto() -> &'static MotoServer {
    MotoServer::shared()
}

/// A topic with a queue subscribed to it: `[topic_arn, queue_url]`.
fn topic_with_queue(name: &str) -> (String, String) {
    let out = moto().python(&format!(
        r#"
import boto3, json
sns = boto3.client("sns"); sqs = boto3.client("sqs")
topic = sns.create_topic(Name="{name}")["TopicArn"]
queue = sqs.create_queue(QueueName="{name}-inbox")["QueueUrl"]
arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
print(json.dumps([topic, queue]))
"#
    ));
    let pair: Vec<String> = serde_json::from_str(out.trim()).unwrap();
    (pair[0].clone(), pair[1].clone())
}

/// Every message on the queue (SNS envelopes), deleted as read.
fn drain(queue: &str) -> Vec<serde_json::Value> {
    let out = moto().python(&format!(
        r#"
import boto3, json
sqs = boto3.client("sqs")
bodies = []
while True:
    got = sqs.receive_message(QueueUrl="{queue}", MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
    if not got:
        break
    for m in got:
        bodies.append(json.loads(m["Body"]))
        sqs.delete_message(QueueUrl="{queue}", ReceiptHandle=m["ReceiptHandle"])
print(json.dumps(bodies))
"#
    ));
    serde_json::from_str(out.trim()).unwrap()
}

fn samples() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/cloudtrail")
}

/// `trailguard scan samples --format json` with `extra`: exit code, findings, stderr.
fn scan(dir: &Path, extra: &[&str]) -> (Option<i32>, Vec<Finding>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .current_dir(dir)
        .arg("scan")
        .arg(samples())
        .args(["--format", "json", "--fail-on", "never"])
        .args(["--endpoint-url", &moto().endpoint()])
        .args(extra)
        .envs(moto().env())
        .env_remove("TRAILGUARD_CONFIG")
        .output()
        .unwrap();
    let findings = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (
        out.status.code(),
        findings,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn critical_findings_reach_an_sns_topic_once_each_fold_key() {
    let (topic, queue) = topic_with_queue("tg-alerts-critical");
    let dir = tempfile::tempdir().unwrap();
    let alert = format!("sns={topic}");
    let args = [
        "--alert",
        alert.as_str(),
        "--alert-min-severity",
        "critical",
        "--store",
        "tg.db",
    ];
    let (code, findings, err) = scan(dir.path(), &args);
    assert_eq!(code, Some(0), "{err}");
    // The first critical finding of each rule and principal is alerted; its repeats fold.
    let mut first_of_key: BTreeMap<String, &Finding> = BTreeMap::new();
    for finding in findings.iter().filter(|f| f.severity == Severity::Critical) {
        let principal = finding.actor.as_ref().and_then(|a| a.arn.clone());
        let key = format!("{}|{}", finding.rule_id, principal.unwrap_or_default());
        first_of_key.entry(key).or_insert(finding);
    }
    assert!(
        !first_of_key.is_empty(),
        "the samples have critical findings"
    );
    let delivered = drain(&queue);
    assert_eq!(
        delivered.len(),
        first_of_key.len(),
        "one message per fold key: {delivered:#?}\n{err}"
    );
    let expected_ids: Vec<&str> = first_of_key.values().map(|f| f.id.as_str()).collect();
    for envelope in &delivered {
        assert_eq!(envelope["TopicArn"], topic.as_str());
        let finding: Finding = serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
        assert_eq!(finding.severity, Severity::Critical);
        assert!(
            expected_ids.contains(&finding.id.as_str()),
            "{} is the first of its key",
            finding.id
        );
        let subject = envelope["Subject"].as_str().unwrap();
        assert!(
            subject.starts_with(&format!("trailguard CRITICAL {} ", finding.rule_id)),
            "{subject}"
        );
        let attributes = &envelope["MessageAttributes"];
        assert_eq!(attributes["trailguard_kind"]["Value"], "alert");
        assert!(attributes["trailguard_delivery"]["Value"]
            .as_str()
            .unwrap()
            .starts_with("tg-"));
    }
    assert!(
        err.contains(&format!("{} sent", first_of_key.len())),
        "{err}"
    );

    // The same findings again: already alerted, nothing new reaches the topic.
    let (code, _, err) = scan(dir.path(), &args);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(drain(&queue), Vec::<serde_json::Value>::new(), "{err}");
}

#[test]
fn a_missing_topic_is_retried_not_lost() {
    let dir = tempfile::tempdir().unwrap();
    let missing = "arn:aws:sns:us-east-1:123456789012:tg-not-there-yet";
    let alert = format!("sns={missing}");
    let args = [
        "--alert",
        alert.as_str(),
        "--alert-min-severity",
        "critical",
        "--store",
        "tg.db",
    ];
    let (code, findings, err) = scan(dir.path(), &args);
    assert_eq!(code, Some(0), "{err}");
    let critical = findings
        .iter()
        .filter(|f| f.severity == Severity::Critical)
        .count();
    assert!(critical > 0);
    assert!(err.contains("0 sent"), "{err}");
    assert!(
        !err.contains("0 to retry"),
        "the failures wait for a retry: {err}"
    );

    // The topic appears; the next run (once the backoff has passed) sends what waited.
    let (topic, queue) = topic_with_queue("tg-not-there-yet");
    assert_eq!(topic, missing);
    std::thread::sleep(std::time::Duration::from_secs(6));
    let (code, _, err) = scan(dir.path(), &args);
    assert_eq!(code, Some(0), "{err}");
    let delivered = drain(&queue);
    assert!(!delivered.is_empty(), "{err}");
    for envelope in &delivered {
        let finding: Finding = serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
        assert_eq!(finding.severity, Severity::Critical);
    }
}

#[test]
fn a_malformed_topic_arn_is_refused_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = scan(dir.path(), &["--alert", "sns=arn:aws:sqs:us-east-1:1:q"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("not an SNS topic ARN"), "{err}");
}

#[test]
fn policy_check_reaches_sns_with_its_own_aws_flags() {
    let (topic, queue) = topic_with_queue("tg-alerts-policy");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("admin.json"),
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    )
    .unwrap();
    // A profile that exists only in this file, and no endpoint, region or keys in the environment:
    // only --profile, --region and --endpoint-url can make the call reach moto.
    let aws_config = dir.path().join("aws-config");
    std::fs::write(
        &aws_config,
        "[profile tg-ci]\naws_access_key_id = testing\naws_secret_access_key = testing\n",
    )
    .unwrap();
    let alert = format!("sns={topic}");
    let mut command = Command::new(env!("CARGO_BIN_EXE_trailguard"));
    command
        .current_dir(dir.path())
        .args(["policy", "check", "admin.json", "--format", "json"])
        .args(["--fail-on", "never", "--store", "tg.db", "--alert", &alert])
        .args(["--profile", "tg-ci", "--region", "us-east-1"])
        .args(["--endpoint-url", &moto().endpoint()])
        .envs(moto().env());
    for name in [
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "TRAILGUARD_CONFIG",
    ] {
        command.env_remove(name);
    }
    let out = command
        .env("AWS_CONFIG_FILE", &aws_config)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{err}");
    let findings: Vec<Finding> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!findings.is_empty(), "{err}");
    let delivered = drain(&queue);
    assert!(!delivered.is_empty(), "{err}");
    assert!(err.contains(&format!("{} sent", delivered.len())), "{err}");
    for envelope in &delivered {
        assert_eq!(envelope["TopicArn"], topic.as_str());
        let finding: Finding = serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
        assert!(
            findings.iter().any(|f| f.id == finding.id),
            "{}",
            finding.id
        );
    }
}
