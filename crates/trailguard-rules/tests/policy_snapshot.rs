//! Snapshot of every finding `policy check` produces for one policy that trips most checks, in the
//! exact JSON shape `--format json` prints (ids, locations, messages, fixes).

use trailguard_rules::rules::policy::{check_text, VersionSelection};

const POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "Deploy", "Effect": "Allow", "Action": ["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"], "Resource": "*"},
    {"Sid": "Ops", "Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*"},
    {"Sid": "Keys", "Effect": "Allow", "Action": ["kms:*", "iam:CreateAccessKey"], "Resource": "*"},
    {"Sid": "Reports", "Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObjects"], "Resource": "arn:aws:s3:::reports/*",
     "Condition": {"stringEquals": {"s3:prefix": "daily/"}, "NumericLessThan": {"s3:prefix": "x"}}},
    {"Sid": "MfaGuard", "Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}}}
  ]
}"#;

#[test]
fn findings_snapshot() {
    let report = check_text("policies/ops.json", POLICY, VersionSelection::All);
    assert_eq!(report.parse_errors, 0);
    let mut findings = report.findings;
    findings.sort_by(|a, b| a.rule_id.cmp(&b.rule_id).then(a.id.cmp(&b.id)));
    insta::assert_json_snapshot!(findings);
}
