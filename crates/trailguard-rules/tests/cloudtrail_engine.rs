//! The engine as the scan command uses it: through the real ingest pipeline with several workers, with
//! Sigma rules added, on the AWS documentation's example events, and with results that do not depend on
//! how records were split across workers.

use std::collections::{BTreeSet, HashSet};

use serde_json::value::RawValue;
use trailguard_event::pipeline::{scan, NoopObserver, ScanOptions};
use trailguard_event::{Filter, Record};
use trailguard_rules::engine::Engine;
use trailguard_rules::sigma::SigmaRuleSet;
use trailguard_rules::{FindingSource, Outcome, Severity};

fn cloudtrail_data() -> std::path::PathBuf {
    trailguard_testkit::shared_data().join("cloudtrail")
}

/// Each example event from the AWS documentation, alone, and the codes it must fire.
#[test]
fn aws_documentation_examples_fire_the_expected_rules() {
    let text = std::fs::read_to_string(
        cloudtrail_data().join("aws-docs-examples/aws_docs_cloudtrail_examples.jsonl"),
    )
    .unwrap();
    let engine = Engine::builtin();
    let mut fired_per_event = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let wrapper: serde_json::Value = serde_json::from_str(line).unwrap();
        let event = serde_json::to_string(&wrapper["event"]).unwrap();
        let raw: &RawValue = serde_json::from_str(&event).unwrap();
        let record = Record::from_raw(raw).unwrap();
        let mut worker = engine.new_worker();
        worker.visit(&record);
        let findings = engine.finish(vec![worker]);
        let codes: Vec<String> = findings
            .iter()
            .map(|f| format!("{}:{}", f.rule_id, f.severity))
            .collect();
        fired_per_event.push(format!(
            "{} {} -> {}",
            record.event_name,
            record.user_identity.identity_type.as_deref().unwrap_or("-"),
            codes.join(",")
        ));
    }
    let expected = [
        "ConsoleLogin IAMUser -> CT015:medium",
        "ConsoleLogin IAMUser -> ",
        // A failure that records `MFAUsed: Yes`: the password was accepted, the code was not.
        "ConsoleLogin IAMUser -> CT069:medium",
        "CheckMfa IAMUser -> ",
        "CheckMfa IAMUser -> ",
        "ConsoleLogin Root -> CT014:critical,CT015:critical",
        "ConsoleLogin Root -> CT014:high",
        "ConsoleLogin Root -> CT024:medium",
        "EnableMFADevice Root -> CT014:high,CT050:info",
        "PasswordUpdated Root -> CT014:critical",
        "StartLogging IAMUser -> CT040:low",
        "StartInstances IAMUser -> ",
        "StopInstances IAMUser -> ",
        "CreateKeyPair IAMUser -> ",
        "CreateUser IAMUser -> CT050:info",
        "AddUserToGroup IAMUser -> CT050:info",
        "UpdateTrail IAMUser -> CT040:info",
        "ConsoleLogin IAMUser -> CT015:medium",
        "RotateKey - -> ",
        "CreateServiceLinkedChannel - -> ",
        "GetUserPolicy IAMUser -> ",
        "AssumeRole IAMUser -> ",
        "AssumeRole AWSAccount -> ",
        "AssumeRole AssumedRole -> ",
        "DeleteBucket AssumedRole -> ",
        // Failed sign-ins that make no burst: each user's recorded at info (CIS 4.6).
        "ConsoleLogin IAMUser -> CT016:info",
        "ConsoleLogin IAMUser -> CT016:info",
    ];
    assert_eq!(fired_per_event, expected);
}

/// The AWS documentation's failed root sign-in is a finding of its own (CT024), an attempt, not folded into
/// a root session.
#[test]
fn a_record_without_a_time_is_judged_by_single_record_rules_and_shows_no_time() {
    let engine = Engine::builtin();
    let mut worker = engine.new_worker();
    let text = r#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/bob","accountId":"111122223333","accessKeyId":"AKIAEXAMPLE123456789","userName":"bob"},"eventSource":"iam.amazonaws.com","eventName":"AttachUserPolicy","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.9","requestParameters":{"userName":"bob","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"},"eventID":"untimed-1"}"#;
    let raw: &RawValue = serde_json::from_str(text).unwrap();
    worker.visit(&Record::from_raw(raw).unwrap());
    let report = engine.finish_report(vec![worker]);
    let admin = report
        .findings
        .iter()
        .find(|f| f.rule_id == "CT005")
        .expect("the admin attachment is judged without a time");
    assert_eq!(admin.severity, Severity::Critical);
    assert_eq!(
        admin.event_time, None,
        "no time is shown as none, not as empty text"
    );
}

#[test]
fn failed_root_sign_in_is_an_attempt() {
    let text = std::fs::read_to_string(
        cloudtrail_data().join("aws-docs-examples/aws_docs_cloudtrail_examples.jsonl"),
    )
    .unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("a4fbbe77-91a0-4238-804a-64314184edb6"))
        .unwrap();
    let wrapper: serde_json::Value = serde_json::from_str(line).unwrap();
    let event = serde_json::to_string(&wrapper["event"]).unwrap();
    let raw: &RawValue = serde_json::from_str(&event).unwrap();
    let engine = Engine::builtin();
    let mut worker = engine.new_worker();
    worker.visit(&Record::from_raw(raw).unwrap());
    let findings = engine.finish(vec![worker]);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].rule_id, "CT024");
    assert!(
        matches!(&findings[0].outcome, Outcome::Attempt { error_code } if error_code == "Failed authentication")
    );
    assert_eq!(findings[0].title, "Failed root console sign-in");
}

/// The whole Stratus corpus through the ingest pipeline with 3 workers gives the same findings, in the
/// same order, as one worker fed file by file.
#[test]
fn pipeline_with_workers_matches_a_single_worker() {
    let dir = cloudtrail_data().join("stratus-red-team/docs/detonation-logs");
    let engine = Engine::builtin();
    let opts = ScanOptions {
        inputs: vec![dir.clone()],
        filter: Filter::default(),
        threads: 3,
    };
    let (workers, stats) = scan(&opts, || engine.new_worker(), &NoopObserver).expect("scan runs");
    // Every record is seen; records no rule wants are declined from their raw text, unparsed.
    assert_eq!(stats.records_seen, 310, "{stats:?}");
    assert_eq!(
        stats.records_matched + stats.records_unparsed,
        310,
        "{stats:?}"
    );
    assert!(
        stats.records_unparsed > 0,
        "read-only records are declined: {stats:?}"
    );
    let parallel = engine.finish(workers);

    let mut single = engine.new_worker();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let raws: Vec<&RawValue> = serde_json::from_str(&text).unwrap();
        for raw in raws.into_iter().rev() {
            single.visit(&Record::from_raw(raw).unwrap());
        }
    }
    let sequential = engine.finish(vec![single]);
    let ids = |fs: &[trailguard_rules::Finding]| {
        fs.iter()
            .map(|f| (f.rule_id.clone(), f.id.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&parallel), ids(&sequential));
    assert!(parallel.len() >= 15, "only {} findings", parallel.len());
}

#[test]
fn sigma_rules_run_beside_the_builtin_rules() {
    let (sigma, errors) =
        SigmaRuleSet::load_dirs(&[trailguard_testkit::shared_data().join("sigma-aws/rules")]);
    assert!(
        sigma.len() > 40,
        "only {} sigma rules loaded ({} errors)",
        sigma.len(),
        errors.len()
    );
    // Sigma runs beside the engine through one door: the scan's worker.
    let engine = Engine::builtin();
    let path = cloudtrail_data()
        .join("stratus-red-team/docs/detonation-logs/aws.defense-evasion.cloudtrail-stop.json");
    let text = std::fs::read_to_string(path).unwrap();
    let raws: Vec<&RawValue> = serde_json::from_str(&text).unwrap();
    let mut worker = trailguard_rules::engine::ScanWorker::new(&engine, Some(&sigma));
    for raw in raws {
        trailguard_event::RecordVisitor::visit(&mut worker, &Record::from_raw(raw).unwrap());
    }
    let (workers, collected) = trailguard_rules::engine::ScanWorker::split(vec![worker]);
    let mut findings = engine.finish(workers);
    findings.extend(collected.map(|c| c.into_findings()).unwrap_or_default());
    let sources: HashSet<FindingSource> = findings.iter().map(|f| f.source).collect();
    assert!(
        sources.contains(&FindingSource::Cloudtrail),
        "{findings:#?}"
    );
    assert!(
        sources.contains(&FindingSource::Sigma),
        "no Sigma finding for StopLogging: {findings:#?}"
    );
    let builtin = findings.iter().find(|f| f.rule_id == "CT017").unwrap();
    assert_eq!(builtin.severity, Severity::High);
}

/// Every event a rule asks for, with malformed or unexpected shapes in every nested document: the engine
/// must not panic, and whatever it reports must still be a complete finding.
#[test]
fn odd_shapes_never_panic() {
    let engine = Engine::builtin();
    let odd_params = [
        "null",
        "{}",
        r#""a string""#,
        "[1,2,3]",
        r#"{"policyDocument":5,"userName":[],"eventSelectors":"x","advancedEventSelectors":{},"name":{"a":1}}"#,
        r#"{"policyDocument":"not json %7B","assumeRolePolicyDocument":"{\"Statement\":7}","policyArn":"arn:aws:iam::aws:policy/","userName":"","accountAlias":""}"#,
        r#"{"eventSelectors":[null,{"includeManagementEvents":"no","readWriteType":5}],"advancedEventSelectors":[{"fieldSelectors":[{"field":"eventCategory","equals":"Management"}]},7]}"#,
        r#"{"minimumPasswordLength":"x","passwordReusePrevention":-5,"requireSymbols":"true","serialNumber":"","policy":"{\"Statement\":[{\"Effect\":\"Allow\"}]}"}"#,
    ];
    let odd_responses = [
        "null",
        r#"{"accessKey":{"accessKeyId":7}}"#,
        r#"{"ConsoleLogin":"Failure"}"#,
        r#""x""#,
    ];
    let identities = [
        r#"{"type":"Root"}"#,
        r#"{"type":"IAMUser","userName":"a"}"#,
        r#"{"type":"AssumedRole","sessionContext":{"attributes":{"mfaAuthenticated":"maybe"}}}"#,
        r#"{}"#,
    ];
    let mut events = BTreeSet::new();
    for meta in trailguard_rules::registry::family_metas(trailguard_rules::Family::Cloudtrail) {
        for &(source, name) in meta.events {
            if source != "*" {
                events.insert((source, name));
            }
        }
    }
    let mut worker = engine.new_worker();
    let mut n = 0;
    for &(source, name) in &events {
        for params in odd_params {
            for response in odd_responses {
                for identity in identities {
                    n += 1;
                    let text = format!(
                        r#"{{"eventVersion":"1.09","userIdentity":{identity},"eventTime":"2024-08-01T13:{:02}:{:02}Z","eventSource":"{source}","eventName":"{name}","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.23","userAgent":"x","requestParameters":{params},"responseElements":{response},"additionalEventData":{{"MFAUsed":7}},"eventID":"odd-{n}","readOnly":false,"eventType":"AwsApiCall","recipientAccountId":"229654561268"}}"#,
                        (n / 60) % 60,
                        n % 60
                    );
                    let raw: &RawValue = serde_json::from_str(&text).unwrap();
                    let record = Record::from_raw(raw).unwrap();
                    worker.visit(&record);
                }
            }
        }
    }
    // A bad eventTime reaches the engine too: sequence rules judge it on its own, never with others.
    let bad_time = r#"{"eventTime":"yesterday","eventSource":"iam.amazonaws.com","eventName":"CreateUser","eventID":"untimed-root","userIdentity":{"type":"Root","arn":"arn:aws:iam::229654561268:root","accountId":"229654561268"},"requestParameters":{"userName":"x"}}"#;
    let raw: &RawValue = serde_json::from_str(bad_time).unwrap();
    worker.visit(&Record::from_raw(raw).unwrap());
    let report = engine.finish_report(vec![worker]);
    // Three sequence rules wanted that record (root activity, new user keyed, admin user play).
    assert_eq!(report.stats.observations_untimed, 3);
    // Root activity (CT014, a sequence rule) is a finding by itself, time or not; the other two need a
    // second event. CT050 judges one record and never needed the time.
    let untimed: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.event_id.as_deref() == Some("untimed-root"))
        .map(|f| f.rule_id.as_str())
        .collect();
    assert_eq!(untimed, ["CT014", "CT050"], "{untimed:?}");
    let findings = report.findings;
    assert!(n > 1000, "only {n} odd records");
    assert!(!findings.is_empty());
    for f in &findings {
        assert!(!f.message.is_empty() && !f.title.is_empty(), "{f:#?}");
    }
}
