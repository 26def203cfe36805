//! `deploy/template.yaml` is a valid CloudFormation template (cfn-lint, the ecosystem's own linter, from
//! the test environment of scripts/setup.sh: no error and no warning), and the worker role it creates is
//! least-privilege: its policy, with the template's intrinsic functions resolved to sample values, holds
//! exactly the actions the worker needs and passes `trailguard policy check` with no finding at high or
//! above, with and without a KMS-encrypted trail.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value as Json};
use serde_yaml::Value as Yaml;

fn template_path() -> PathBuf {
    trailguard_testkit::workspace_root().join("deploy/template.yaml")
}

fn template() -> Yaml {
    serde_yaml::from_str(&std::fs::read_to_string(template_path()).unwrap()).unwrap()
}

#[test]
fn cfn_lint_finds_nothing_in_the_template() {
    let python = trailguard_testkit::python();
    let out = Command::new(&python)
        .args([
            "-c",
            "import sys; from cfnlint.runner import main; sys.exit(main())",
            "--format",
            "parseable",
        ])
        .arg(template_path())
        .output()
        .expect("the test environment's python runs");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "cfn-lint ({}) exited {:?}:\n{report}{}",
        python.display(),
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.trim().is_empty(), "{report}");
}

/// Sample values for the template's parameters and pseudo parameters, and the attributes of its
/// resources as CloudFormation would give them.
struct Sample {
    refs: BTreeMap<&'static str, String>,
}

impl Sample {
    fn new(kms_key: &str) -> Sample {
        Sample::with(kms_key, "")
    }

    fn with(kms_key: &str, alert_topic: &str) -> Sample {
        let refs = [
            ("AlertTopicArn", alert_topic),
            ("AlertMinSeverity", "medium"),
            ("AlertConfigPath", ""),
            ("IgnoreRules", ""),
            ("StoreUrl", "postgres://trailguard@db.internal/trailguard"),
            ("AWS::Partition", "aws"),
            ("AWS::Region", "us-east-1"),
            ("AWS::AccountId", "111122223333"),
            ("AWS::StackName", "tg"),
            ("TrailBucketName", "example-trail"),
            ("TrailPrefix", "AWSLogs/"),
            ("TrailKmsKeyArn", kms_key),
            (
                "Queue.Arn",
                "arn:aws:sqs:us-east-1:111122223333:tg-trail-files",
            ),
            (
                "DeadLetterQueue.Arn",
                "arn:aws:sqs:us-east-1:111122223333:tg-trail-files-dlq",
            ),
            ("TrailBucket.Arn", "arn:aws:s3:::example-trail"),
            (
                "FunctionLogGroup.Arn",
                "arn:aws:logs:us-east-1:111122223333:log-group:/aws/lambda/tg-trailguard:*",
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_owned()))
        .collect();
        Sample { refs }
    }

    /// The same sample with one parameter set otherwise.
    fn set(mut self, name: &'static str, value: &str) -> Sample {
        self.refs.insert(name, value.to_owned());
        self
    }

    fn lookup(&self, name: &str) -> String {
        self.refs
            .get(name)
            .unwrap_or_else(|| panic!("no sample value for `{name}`"))
            .clone()
    }

    fn condition(&self, template: &Yaml, name: &str) -> bool {
        let condition = &template["Conditions"][name];
        self.resolve(template, condition)
            .and_then(|v| v.as_bool())
            .unwrap_or_else(|| panic!("condition `{name}` does not resolve to a boolean"))
    }

    /// The JSON CloudFormation would make of `value`; `None` for `AWS::NoValue`.
    fn resolve(&self, template: &Yaml, value: &Yaml) -> Option<Json> {
        Some(match value {
            Yaml::Null => Json::Null,
            Yaml::Bool(b) => Json::Bool(*b),
            Yaml::Number(n) => serde_json::to_value(n).unwrap(),
            Yaml::String(s) => Json::String(s.clone()),
            Yaml::Sequence(items) => Json::Array(
                items
                    .iter()
                    .filter_map(|item| self.resolve(template, item))
                    .collect(),
            ),
            Yaml::Mapping(map) => Json::Object(
                map.iter()
                    .filter_map(|(k, v)| {
                        Some((k.as_str().unwrap().to_owned(), self.resolve(template, v)?))
                    })
                    .collect(),
            ),
            Yaml::Tagged(tagged) => {
                let args = &tagged.value;
                match tagged.tag.to_string().as_str() {
                    "!Ref" if args.as_str() == Some("AWS::NoValue") => return None,
                    "!Ref" => Json::String(self.lookup(args.as_str().unwrap())),
                    "!GetAtt" => Json::String(self.lookup(args.as_str().unwrap())),
                    "!Sub" => {
                        let mut text = args.as_str().unwrap().to_owned();
                        while let Some(start) = text.find("${") {
                            let end = start + text[start..].find('}').unwrap();
                            let value = self.lookup(&text[start + 2..end]);
                            text.replace_range(start..=end, &value);
                        }
                        Json::String(text)
                    }
                    "!If" => {
                        let name = args[0].as_str().unwrap();
                        let branch = if self.condition(template, name) { 1 } else { 2 };
                        return self.resolve(template, &args[branch]);
                    }
                    "!Equals" => Json::Bool(
                        self.resolve(template, &args[0]) == self.resolve(template, &args[1]),
                    ),
                    "!Not" => Json::Bool(!self.resolve(template, &args[0])?.as_bool().unwrap()),
                    other => panic!("the test resolves no `{other}`: add it"),
                }
            }
        })
    }
}

/// The worker role's policy documents, resolved with `sample`.
fn worker_policy(sample: &Sample) -> Json {
    let template = template();
    let policies = &template["Resources"]["WorkerRole"]["Properties"]["Policies"];
    let policies = policies.as_sequence().unwrap();
    assert_eq!(policies.len(), 1, "one inline policy");
    sample
        .resolve(&template, &policies[0]["PolicyDocument"])
        .unwrap()
}

fn actions(policy: &Json) -> BTreeSet<String> {
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| match &s["Action"] {
            Json::String(a) => vec![a.clone()],
            Json::Array(list) => list
                .iter()
                .map(|a| a.as_str().unwrap().to_owned())
                .collect(),
            other => panic!("Action {other}"),
        })
        .collect()
}

/// `trailguard policy check` on `policy`: its findings (JSON lines).
fn policy_check(policy: &Json) -> Vec<Json> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("worker-role.json");
    std::fs::write(&file, serde_json::to_vec_pretty(policy).unwrap()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args([
            "policy",
            "check",
            "--format",
            "json",
            "--fail-on",
            "never",
            "-q",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

const WORKER_ACTIONS: &[&str] = &[
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "s3:GetObject",
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ReceiveMessage",
];

#[test]
fn the_worker_role_reads_the_trail_prefix_and_works_its_own_queue_only() {
    let policy = worker_policy(&Sample::new(""));
    let expected: BTreeSet<String> = WORKER_ACTIONS.iter().map(|a| (*a).to_owned()).collect();
    assert_eq!(actions(&policy), expected);
    let statements = policy["Statement"].as_array().unwrap();
    let resources: BTreeSet<&str> = statements
        .iter()
        .map(|s| s["Resource"].as_str().expect("one resource per statement"))
        .collect();
    assert_eq!(
        resources,
        BTreeSet::from([
            "arn:aws:s3:::example-trail/AWSLogs/*",
            "arn:aws:sqs:us-east-1:111122223333:tg-trail-files",
            "arn:aws:logs:us-east-1:111122223333:log-group:/aws/lambda/tg-trailguard:*",
        ])
    );
    assert!(statements.iter().all(|s| s["Effect"] == "Allow"));

    let findings = policy_check(&policy);
    let high: Vec<&Json> = findings
        .iter()
        .filter(|f| matches!(f["severity"].as_str(), Some("high" | "critical")))
        .collect();
    assert!(high.is_empty(), "{high:#?}");
}

#[test]
fn with_an_alert_topic_the_function_publishes_to_that_topic_only() {
    let topic = "arn:aws:sns:us-east-1:111122223333:security-alerts";
    let sample = Sample::with("", topic);
    let policy = worker_policy(&sample);
    let mut expected: BTreeSet<String> = WORKER_ACTIONS.iter().map(|a| (*a).to_owned()).collect();
    expected.insert("sns:Publish".to_owned());
    assert_eq!(actions(&policy), expected);
    let publish: Vec<&Json> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["Action"] == "sns:Publish")
        .collect();
    assert_eq!(
        publish,
        [
            &json!({"Sid": "PublishAlerts", "Effect": "Allow", "Action": "sns:Publish", "Resource": topic})
        ]
    );
    // The function is told where to alert through its environment, as `trailguard lambda` reads it.
    let template = template();
    let variables = sample
        .resolve(
            &template,
            &template["Resources"]["Function"]["Properties"]["Environment"]["Variables"],
        )
        .unwrap();
    assert_eq!(variables["TRAILGUARD_ALERT"], format!("sns={topic}"));
    assert_eq!(variables["TRAILGUARD_ALERT_MIN_SEVERITY"], "medium");
    assert!(variables.get("TRAILGUARD_CONFIG").is_none());
    let without = Sample::new("")
        .resolve(
            &template,
            &template["Resources"]["Function"]["Properties"]["Environment"]["Variables"],
        )
        .unwrap();
    assert!(without.get("TRAILGUARD_ALERT").is_none(), "{without}");
    let findings = policy_check(&policy);
    let high: Vec<&Json> = findings
        .iter()
        .filter(|f| matches!(f["severity"].as_str(), Some("high" | "critical")))
        .collect();
    assert!(high.is_empty(), "{high:#?}");
}

#[test]
fn with_a_kms_encrypted_trail_the_role_may_decrypt_through_s3_only() {
    let key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let policy = worker_policy(&Sample::new(key));
    let decrypt: Vec<&Json> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["Action"] == "kms:Decrypt")
        .collect();
    assert_eq!(
        decrypt,
        [&json!({
            "Sid": "DecryptTrailLogFiles",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": key,
            "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}},
        })]
    );
    let findings = policy_check(&policy);
    let high: Vec<&Json> = findings
        .iter()
        .filter(|f| matches!(f["severity"].as_str(), Some("high" | "critical")))
        .collect();
    assert!(high.is_empty(), "{high:#?}");
}

#[test]
fn the_queue_feeds_the_function_with_partial_batch_responses_and_a_dead_letter_queue() {
    let template = template();
    let resources = &template["Resources"];
    let mapping = &resources["QueueToFunction"]["Properties"];
    assert_eq!(
        mapping["FunctionResponseTypes"],
        serde_yaml::from_str::<Yaml>("[ReportBatchItemFailures]").unwrap()
    );
    let sample = Sample::new("");
    let redrive = sample
        .resolve(
            &template,
            &resources["Queue"]["Properties"]["RedrivePolicy"],
        )
        .unwrap();
    assert_eq!(
        redrive["deadLetterTargetArn"],
        "arn:aws:sqs:us-east-1:111122223333:tg-trail-files-dlq"
    );
    // Lambda asks for a visibility timeout of at least six times the function's.
    let visibility = resources["Queue"]["Properties"]["VisibilityTimeout"]
        .as_u64()
        .unwrap();
    let timeout = resources["Function"]["Properties"]["Timeout"]
        .as_u64()
        .unwrap();
    assert!(visibility >= 6 * timeout, "{visibility} < 6 x {timeout}");
}

/// The function leaves out the rules `IgnoreRules` names, through the variable `trailguard lambda` reads
/// (and sets nothing when it is empty, so every rule runs).
#[test]
fn ignored_rules_reach_the_function_as_trailguard_ignore() {
    let template = template();
    let variables = |sample: &Sample| {
        sample
            .resolve(
                &template,
                &template["Resources"]["Function"]["Properties"]["Environment"]["Variables"],
            )
            .unwrap()
    };
    let every_rule = variables(&Sample::new(""));
    assert!(
        every_rule.get("TRAILGUARD_IGNORE").is_none(),
        "{every_rule}"
    );
    let bulk = variables(&Sample::new("").set("IgnoreRules", "CT033,CT034,CT057"));
    assert_eq!(bulk["TRAILGUARD_IGNORE"], "CT033,CT034,CT057");
    let pattern = template["Parameters"]["IgnoreRules"]["AllowedPattern"]
        .as_str()
        .unwrap();
    let allowed = regex::Regex::new(pattern).unwrap();
    assert!(allowed.is_match("CT033,identity-enumeration-burst") && allowed.is_match(""));
    assert!(!allowed.is_match("CT033; rm -rf /"));
}
