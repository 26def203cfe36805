//! `policy check` (and the CloudTrail rules that read policy documents) on hostile or unusual input:
//! huge and star-filled resources, authorization-details files carrying them, thousands of statements,
//! a byte-order mark, form-encoded documents. Each must be read, finish, and stay small; speed is
//! measured with `crates/trailguard-policy/scripts/hostile_policies.py` (see its doc), not asserted here.

use serde_json::{json, value::RawValue};
use trailguard_event::Record;
use trailguard_rules::engine::Engine;
use trailguard_rules::rules::policy::{check_document_text, check_text, VersionSelection};
use trailguard_rules::Severity;
use trailguard_testkit::within;

fn codes(findings: &[trailguard_rules::Finding]) -> Vec<String> {
    findings.iter().map(|f| f.rule_id.clone()).collect()
}

#[test]
fn a_resource_of_100000_stars_neither_overflows_nor_hangs() {
    let stars = format!("arn:aws:s3:::b/{}", "*".repeat(100_000));
    let doc = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": stars.clone()},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*".repeat(100_000)}]})
    .to_string();
    let report = within(60, move || {
        check_text("stars.json", &doc, VersionSelection::All)
    });
    assert_eq!(report.parse_errors, 0);
    assert!(codes(&report.findings).contains(&"PC006".to_owned()));
    let size = serde_json::to_string(&report.findings).unwrap().len();
    assert!(size < 200_000, "findings take {size} bytes");

    // The same resource inside `get-account-authorization-details` output.
    let details = json!({"Policies": [{"PolicyName": "stars", "Arn": "arn:aws:iam::111122223333:policy/stars",
        "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": true, "Document": {"Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": stars}]}}]}]})
    .to_string();
    let report = within(60, move || {
        check_text("auth.json", &details, VersionSelection::DefaultOnly)
    });
    assert_eq!(report.policies, 1);
    assert_eq!(report.parse_errors, 0);
}

#[test]
fn an_8_mb_resource_is_read_and_reported_briefly() {
    let huge = format!("arn:aws:s3:::bucket/{}", "ab/".repeat(8 << 20 >> 2));
    let doc = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": huge}]})
    .to_string();
    assert!(doc.len() > 6_000_000);
    let report = within(120, move || {
        check_text("huge.json", &doc, VersionSelection::All)
    });
    assert_eq!(report.parse_errors, 0);
    let pc006 = report
        .findings
        .iter()
        .find(|f| f.rule_id == "PC006")
        .expect("the resource is longer than any ARN");
    assert!(pc006.message.contains("characters"), "{}", pc006.message);
    // No finding copies the 8 MB string.
    let size = serde_json::to_string(&report.findings).unwrap().len();
    assert!(size < 200_000, "findings take {size} bytes");
}

#[test]
fn ten_thousand_statements_are_checked_and_duplicates_found() {
    let mut statements: Vec<serde_json::Value> = (0..10_000)
        .map(|i| {
            json!({"Sid": format!("S{i}"), "Effect": "Allow", "Action": "s3:GetObject",
                "Resource": format!("arn:aws:s3:::bucket-{i}/*")})
        })
        .collect();
    // Two statements another covers: one twin of statement 7, one narrower than a bucket-wide grant.
    statements.push(
        json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket-7/*"}),
    );
    statements.push(json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}));
    let doc = json!({"Version": "2012-10-17", "Statement": statements}).to_string();
    let report = within(300, move || {
        check_text("many.json", &doc, VersionSelection::All)
    });
    let redundant: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.rule_id == "PC022")
        .map(|f| f.message.as_str())
        .collect();
    // Every bucket statement is covered by the `*` one; the twin is reported once, as the later.
    assert_eq!(
        redundant.len(),
        10_001,
        "{:?}",
        &redundant[..3.min(redundant.len())]
    );
    assert!(redundant.iter().any(
        |m| m.starts_with("Statement[10000] adds nothing: Statement[7]")
            || m.starts_with("Statement[10000] adds nothing: Statement[10001]")
    ));
    assert!(!redundant.iter().any(|m| m.starts_with("Statement[10001]")));
}

#[test]
fn a_utf8_byte_order_mark_is_accepted() {
    let text = "\u{feff}{\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"*\", \"Resource\": \"*\"}]}";
    let report = check_text("bom.json", text, VersionSelection::All);
    assert_eq!(report.parse_errors, 0, "{:?}", codes(&report.findings));
    let found = codes(&report.findings);
    assert!(found.contains(&"PC010".to_owned()), "{found:?}");
    assert!(!found.contains(&"PC001".to_owned()), "{found:?}");
}

/// An administrator policy URL-encoded as a form, with `+` for each space.
const FORM_ENCODED_ADMIN: &str = "%7B%22Version%22%3A+%222012-10-17%22%2C+%22Statement%22%3A+%5B%7B%22Effect%22%3A+%22Allow%22%2C+%22Action%22%3A+%22*%22%2C+%22Resource%22%3A+%22*%22%7D%5D%7D";

#[test]
fn a_form_encoded_admin_policy_is_analysed_as_admin() {
    let report = check_document_text(
        "cloudtrail:requestParameters.policyDocument",
        FORM_ENCODED_ADMIN,
    );
    assert_eq!(report.parse_errors, 0);
    let admin = report
        .findings
        .iter()
        .find(|f| f.rule_id == "PC010")
        .expect("admin");
    assert_eq!(admin.severity, Severity::Critical);

    // And through the CloudTrail rule that watches policy versions.
    let record = json!({"eventVersion": "1.08", "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLEPRINCIPAL",
        "arn": "arn:aws:iam::111122223333:user/dev-alice", "accountId": "111122223333", "accessKeyId": "AKIAEXAMPLEKEY0001",
        "userName": "dev-alice"}, "eventTime": "2024-03-01T10:00:00Z", "eventSource": "iam.amazonaws.com",
        "eventName": "CreatePolicyVersion", "awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.66",
        "userAgent": "aws-cli/2.13.1", "requestParameters": {"policyArn": "arn:aws:iam::111122223333:policy/ops-readonly",
        "policyDocument": FORM_ENCODED_ADMIN, "setAsDefault": true},
        "responseElements": {"policyVersion": {"versionId": "v2", "isDefaultVersion": true, "createDate": "Mar 1, 2024 10:00:00 AM"}},
        "requestID": "5d3c1a2b-0000-4000-8000-000000000001", "eventID": "5d3c1a2b-0000-4000-8000-000000000002",
        "readOnly": false, "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": "111122223333"})
    .to_string();
    let raw: &RawValue = serde_json::from_str(&record).unwrap();
    let record = Record::from_raw(raw).unwrap();
    let engine = Engine::builtin();
    let mut worker = engine.new_worker();
    worker.visit(&record);
    let findings = engine.finish(vec![worker]);
    let ct001 = findings
        .iter()
        .find(|f| f.rule_id == "CT001")
        .expect("CT001 fires");
    assert_eq!(ct001.severity, Severity::Critical, "{}", ct001.message);
    assert!(
        !ct001.message.contains("could not be analysed"),
        "{}",
        ct001.message
    );
}
