//! The Sigma loader on arbitrary YAML: a rule that cannot be used is an error naming the reason, never a
//! panic, a stack overflow or a hang. A rule that loads is matched against a real-shaped record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;
use trailguard_event::Record;
use trailguard_rules::sigma::SigmaRuleSet;

const RECORD: &str = r#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::111122223333:user/dev-alice","accountId":"111122223333","accessKeyId":"AKIAEXAMPLE","userName":"dev-alice"},"eventTime":"2023-07-11T08:05:42Z","eventSource":"iam.amazonaws.com","eventName":"CreatePolicyVersion","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.66","userAgent":"aws-cli/2.13.1","requestParameters":{"policyArn":"arn:aws:iam::111122223333:policy/ops-readonly","policyDocument":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}","setAsDefault":true},"responseElements":{"policyVersion":{"versionId":"v2","isDefaultVersion":true}},"requestID":"r","eventID":"e","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}"#;

fuzz_target!(|data: &[u8]| {
    let Ok(yaml) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(rules) = SigmaRuleSet::load_str(yaml, "fuzz.yml") else {
        return;
    };
    let raw: &RawValue = serde_json::from_str(RECORD).expect("the sample record parses");
    let record = Record::from_raw(raw).expect("the sample record is CloudTrail");
    let mut out = Vec::new();
    rules.evaluate(&record, &mut out);
});
