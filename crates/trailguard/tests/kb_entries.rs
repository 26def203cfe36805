//! Knowledge-base correctness: every entry parses, every required event has one, every example record is
//! a valid CloudTrail record for its event, and rule ↔ entry links resolve both ways.

mod kb_support;

use std::collections::BTreeSet;

use serde_json::value::RawValue;
use trailguard_event::Record;
use trailguard_kb::Kb;

fn kb() -> &'static Kb {
    let kb = Kb::builtin();
    let errors: Vec<String> = kb.errors().iter().map(ToString::to_string).collect();
    assert!(
        errors.is_empty(),
        "entries that do not parse:\n{}",
        errors.join("\n")
    );
    kb
}

#[test]
fn every_entry_on_disk_is_embedded_and_parses() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../trailguard-kb/entries");
    let mut on_disk = BTreeSet::new();
    for service in std::fs::read_dir(&dir).expect("entries dir") {
        let service = service.expect("dir entry").path();
        for file in std::fs::read_dir(&service).into_iter().flatten().flatten() {
            let path = file.path();
            if path.extension().is_some_and(|e| e == "md") {
                let relative = path
                    .strip_prefix(&dir)
                    .expect("under dir")
                    .to_string_lossy()
                    .replace('\\', "/");
                on_disk.insert(relative);
            }
        }
    }
    let embedded: BTreeSet<String> = trailguard_kb::embedded_sources()
        .iter()
        .map(|(p, _)| p.to_string())
        .collect();
    assert_eq!(
        on_disk, embedded,
        "build.rs must embed exactly the files in entries/"
    );
    assert!(!on_disk.is_empty());
    assert_eq!(kb().entries().len(), on_disk.len());
}

#[test]
fn every_iam_write_event_has_an_entry() {
    let data = kb_support::botocore_data();
    let operations = kb_support::iam_write_operations(&data);
    // Sanity check on the derivation itself: the IAM API has well over a hundred write operations.
    assert!(
        operations.len() >= 100,
        "only {} IAM write operations derived",
        operations.len()
    );
    assert!(operations.iter().any(|o| o == "CreatePolicyVersion"));
    assert!(!operations.iter().any(|o| o.starts_with("List")));
    let kb = kb();
    let missing: Vec<&String> = operations
        .iter()
        .filter(|op| kb.get("iam.amazonaws.com", op).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} IAM write events have no entry in entries/iam/:\n{}",
        missing.len(),
        operations.len(),
        missing
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn every_required_non_iam_event_has_an_entry() {
    let kb = kb();
    let missing: Vec<String> = kb_support::REQUIRED_NON_IAM
        .iter()
        .filter(|(service, event)| kb.get(&format!("{service}.amazonaws.com"), event).is_none())
        .map(|(service, event)| format!("{service}/{event}.md"))
        .collect();
    assert!(
        missing.is_empty(),
        "missing non-IAM entries:\n{}",
        missing.join("\n")
    );
}

/// Keys a real management-event record always carries (ConsoleLogin has no `requestParameters` value,
/// but the key is still there as `null`).
const RECORD_KEYS: &[&str] = &[
    "eventVersion",
    "userIdentity",
    "eventTime",
    "eventSource",
    "eventName",
    "awsRegion",
    "sourceIPAddress",
    "userAgent",
    "requestParameters",
    "responseElements",
    "eventID",
    "readOnly",
    "eventType",
    "managementEvent",
    "recipientAccountId",
    "eventCategory",
];

/// S3 object-level operations CloudTrail records as data events (`eventCategory: Data`).
const S3_DATA_EVENTS: &[&str] = &["DeleteObject", "DeleteObjects"];

#[test]
fn every_example_record_is_a_valid_cloudtrail_record_for_its_event() {
    let mut problems = Vec::new();
    for entry in kb().entries() {
        let text = &entry.sections.example_record;
        let place = &entry.file;
        let raw: &RawValue = match serde_json::from_str(text) {
            Ok(raw) => raw,
            Err(e) => {
                problems.push(format!("{place}: not JSON: {e}"));
                continue;
            }
        };
        let record = match Record::from_raw(raw) {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!("{place}: not a CloudTrail record: {e}"));
                continue;
            }
        };
        if record.event_name != entry.event || record.event_source != entry.source {
            problems.push(format!(
                "{place}: record is {}:{}, entry is {}:{}",
                record.event_source, record.event_name, entry.source, entry.event
            ));
        }
        let value: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
        for key in RECORD_KEYS {
            if value.get(key).is_none() {
                problems.push(format!("{place}: record lacks `{key}`"));
            }
        }
        if chrono::DateTime::parse_from_rfc3339(&record.event_time).is_err() {
            problems.push(format!(
                "{place}: eventTime `{}` is not RFC 3339",
                record.event_time
            ));
        }
        if !record
            .event_version
            .as_deref()
            .is_some_and(|v| v.starts_with("1."))
        {
            problems.push(format!("{place}: eventVersion should be `1.0x`"));
        }
        if record.user_identity.identity_type.is_none() {
            problems.push(format!("{place}: userIdentity.type missing"));
        }
        // IAM Identity Center's directory sign-in steps are service events of the sign-in service.
        let identity_center_step = matches!(
            entry.event.as_str(),
            "UserAuthentication" | "CredentialChallenge" | "CredentialVerification"
        );
        let expected_type = if entry.source == "signin.amazonaws.com" && identity_center_step {
            "AwsServiceEvent"
        } else if entry.source == "signin.amazonaws.com" {
            "AwsConsoleSignIn"
        } else {
            "AwsApiCall"
        };
        if record.event_type.as_deref() != Some(expected_type) {
            problems.push(format!("{place}: eventType should be `{expected_type}`"));
        }
        // S3 object-level calls are data events; everything else an entry covers is a management event.
        let data_event =
            entry.source == "s3.amazonaws.com" && S3_DATA_EVENTS.contains(&entry.event.as_str());
        let (category, management) = if data_event {
            ("Data", false)
        } else {
            ("Management", true)
        };
        if record.event_category.as_deref() != Some(category)
            || record.management_event != Some(management)
        {
            problems.push(format!(
                "{place}: should be a {} event (eventCategory {category})",
                category.to_ascii_lowercase()
            ));
        }
        if !record
            .recipient_account_id
            .as_deref()
            .is_some_and(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
        {
            problems.push(format!(
                "{place}: recipientAccountId should be a 12-digit account id"
            ));
        }
        // Fields the entry says matter must be in the record (fields the entry itself calls absent excepted).
        for field in &entry.sections.fields {
            let path = field.path.as_str();
            let checked = [
                "requestParameters.",
                "responseElements.",
                "additionalEventData.",
                "userIdentity.",
            ];
            if !checked.iter().any(|p| path.starts_with(p)) {
                continue;
            }
            if lookup_path(&value, path).is_none()
                && !field.meaning.to_ascii_lowercase().contains("absent")
            {
                problems.push(format!(
                    "{place}: field `{path}` listed under \"Fields that matter\" is not in the example record \
                     (say \"absent ...\" in its meaning when it only appears sometimes)"
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Follows a dotted path; `name[]` steps into the first element of an array.
fn lookup_path<'v>(value: &'v serde_json::Value, path: &str) -> Option<&'v serde_json::Value> {
    let mut current = value;
    for segment in path.split('.') {
        match segment.strip_suffix("[]") {
            Some(name) => current = current.get(name)?.as_array()?.first()?,
            None => current = current.get(segment)?,
        }
    }
    Some(current)
}

#[test]
fn lookup_path_walks_objects_and_arrays() {
    let value = serde_json::json!({"a": {"b": [{"c": 1}]}, "n": null});
    assert_eq!(lookup_path(&value, "a.b[].c"), Some(&serde_json::json!(1)));
    assert!(lookup_path(&value, "a.b[].d").is_none());
    assert!(lookup_path(&value, "a.x").is_none());
    assert!(lookup_path(&value, "n").is_some());
}

#[test]
fn rule_codes_in_entries_exist_and_rules_link_back_to_entries() {
    let kb = kb();
    let metas = trailguard_rules::registry::metas();
    let codes: BTreeSet<&str> = metas.iter().map(|m| m.code).collect();
    let mut problems = Vec::new();
    for entry in kb.entries() {
        for code in &entry.rules {
            if !codes.contains(code.as_str()) {
                problems.push(format!(
                    "{}: rules: `{code}` is not a built-in rule",
                    entry.file
                ));
            }
        }
    }
    for meta in &metas {
        for event in meta.kb_entries {
            if kb.lookup(event).is_none() {
                problems.push(format!(
                    "rule {} links to `{event}`, which has no entry",
                    meta.code
                ));
            }
        }
        // A CloudTrail rule's events should list the rule in their entries.
        for (source, event) in meta.events {
            if let Some(entry) = kb.get(source, event) {
                if !entry.rules.iter().any(|c| c == meta.code) {
                    problems.push(format!(
                        "{}: rule {} detects this event but `rules:` omits it",
                        entry.file, meta.code
                    ));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} broken link(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn related_events_are_real_event_names() {
    let data = kb_support::botocore_data();
    let mut known: BTreeSet<String> = BTreeSet::new();
    for service in [
        "iam",
        "sts",
        "organizations",
        "cloudtrail",
        "accessanalyzer",
        "signin",
        "ec2",
        "kms",
        "config",
        "s3",
        "sso-admin",
        "sso",
        "sso-oidc",
        "rolesanywhere",
        "securityhub",
        "secretsmanager",
        "ssm",
        "ec2-instance-connect",
        "guardduty",
        "route53resolver",
        "account",
    ] {
        let model = kb_support::service_model(&data, service);
        known.extend(
            model["operations"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, _)| k.clone()),
        );
    }
    let kb = kb();
    known.extend(kb.entries().iter().map(|e| e.event.clone()));
    // Sign-in events are not API operations; CloudTrail records them under signin.amazonaws.com.
    known.extend(
        [
            "ConsoleLogin",
            "CheckMfa",
            "SwitchRole",
            "ExitRole",
            "PasswordRecoveryRequested",
        ]
        .map(String::from),
    );
    let mut problems = Vec::new();
    for entry in kb.entries() {
        for related in &entry.related {
            if !known.contains(related) {
                problems.push(format!(
                    "{}: related `{related}` is not an event name",
                    entry.file
                ));
            }
            if related == &entry.event {
                problems.push(format!("{}: related lists the entry itself", entry.file));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn flagship_entries_cover_what_the_issue_promises() {
    let kb = kb();
    let version = kb
        .get("iam.amazonaws.com", "CreatePolicyVersion")
        .expect("CreatePolicyVersion entry");
    let body = version.body.to_ascii_lowercase();
    for needle in [
        "five",
        "setasdefault",
        "set-default-policy-version",
        "delete-policy-version",
        "roll back",
    ] {
        assert!(
            body.contains(needle),
            "CreatePolicyVersion entry does not mention `{needle}`"
        );
    }
    let alias = kb
        .get("iam.amazonaws.com", "CreateAccountAlias")
        .expect("CreateAccountAlias entry");
    let body = alias.body.to_ascii_lowercase();
    for needle in [
        "iam:createaccountalias",
        "service control policy",
        "eventbridge",
        "metric filter",
        "put-metric-filter",
        "put-rule",
    ] {
        assert!(
            body.contains(needle),
            "CreateAccountAlias entry does not mention `{needle}`"
        );
    }
}

/// The Rust snippets are not compiled here (that needs every AWS SDK crate they name), so check what can
/// be checked cheaply: an async function making real SDK calls, with balanced delimiters.
#[test]
fn rust_snippets_are_real_sdk_calls() {
    let known_crates = [
        "aws_sdk_iam",
        "aws_sdk_sts",
        "aws_sdk_cloudtrail",
        "aws_sdk_accessanalyzer",
        "aws_sdk_organizations",
        "aws_sdk_s3",
        "aws_sdk_cloudwatchlogs",
        "aws_sdk_eventbridge",
        "aws_sdk_ec2",
        "aws_sdk_kms",
        "aws_sdk_config",
        "aws_sdk_ssoadmin",
        "aws_sdk_rolesanywhere",
        "aws_sdk_securityhub",
        "aws_sdk_secretsmanager",
        "aws_sdk_ssm",
        "aws_sdk_guardduty",
        "aws_sdk_route53resolver",
        "aws_sdk_account",
    ];
    let mut problems = Vec::new();
    for entry in kb().entries() {
        let code = &entry.sections.rust;
        let place = &entry.file;
        if !code.contains("async fn ") {
            problems.push(format!("{place}: no `async fn`"));
        }
        if !code.contains(".send()") || !code.contains(".await") {
            problems.push(format!("{place}: no `.send().await` call"));
        }
        let crates: Vec<&str> = known_crates
            .iter()
            .copied()
            .filter(|c| code.contains(c))
            .collect();
        if crates.is_empty() {
            problems.push(format!(
                "{place}: names no AWS SDK crate (aws_sdk_iam, ...)"
            ));
        }
        for (open, close) in [('{', '}'), ('(', ')'), ('[', ']')] {
            if code.matches(open).count() != code.matches(close).count() {
                problems.push(format!("{place}: unbalanced `{open}{close}`"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Every IAM write event and every event of the other covered sources that occurs in the real CloudTrail
/// logs under shared data (a lab account attacked with Stratus Red Team) has an entry, so `scan` can link
/// each finding on that data to its explanation.
#[test]
fn events_in_real_logs_have_entries() {
    let dir = trailguard_testkit::shared_data().join("cloudtrail");
    let mut files = Vec::new();
    let mut stack = vec![dir.clone()];
    while let Some(d) = stack.pop() {
        for item in std::fs::read_dir(&d)
            .expect("shared data readable")
            .flatten()
        {
            let path = item.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                files.push(path);
            }
        }
    }
    assert!(
        files.len() >= 50,
        "expected the shared CloudTrail files under {}",
        dir.display()
    );
    let covered_sources = [
        "iam.amazonaws.com",
        "signin.amazonaws.com",
        "organizations.amazonaws.com",
    ];
    let required: BTreeSet<(String, String)> = kb_support::REQUIRED_NON_IAM
        .iter()
        .map(|(s, e)| (format!("{s}.amazonaws.com"), e.to_string()))
        .collect();
    let mut seen = BTreeSet::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable");
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        let records = value.get("Records").unwrap_or(&value);
        for record in records.as_array().into_iter().flatten() {
            let (Some(source), Some(name)) =
                (record["eventSource"].as_str(), record["eventName"].as_str())
            else {
                continue;
            };
            let write = !["Get", "List", "Simulate", "Generate", "Describe"]
                .iter()
                .any(|p| name.starts_with(p));
            let pair = (source.to_owned(), name.to_owned());
            if (covered_sources.contains(&source) && write) || required.contains(&pair) {
                seen.insert(pair);
            }
        }
    }
    assert!(
        seen.len() >= 20,
        "only {} covered events found in the real logs",
        seen.len()
    );
    let kb = kb();
    let missing: Vec<String> = seen
        .iter()
        .filter(|(source, name)| kb.get(source, name).is_none())
        .map(|(source, name)| format!("{source} {name}"))
        .collect();
    assert!(
        missing.is_empty(),
        "events in real logs without an entry:\n{}",
        missing.join("\n")
    );
}
