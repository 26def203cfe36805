//! One pass of usage collection, and the generated least-privilege policy replayed through the policy
//! engine: on the real logs and on written records.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{json, Value};
use trailguard_account::usage::{
    collect, generate_policy, window_days, PrincipalKey, Usage, UsageCollector,
};
use trailguard_event::source::{MemorySource, Source};
use trailguard_event::{scan_sources, Filter, NoopObserver, ScanOptions};
use trailguard_policy::catalog::{ActionId, Catalog};
use trailguard_policy::eval::{evaluate, PolicySet, Request};
use trailguard_policy::risk::risk_table;
use trailguard_policy::PolicyDocument;

fn real_usage(per_session: bool) -> Usage {
    let logs = trailguard_testkit::shared_data().join("cloudtrail");
    let opts = ScanOptions {
        inputs: vec![logs],
        ..ScanOptions::default()
    };
    let (usage, stats) = collect(&opts, per_session, &NoopObserver).unwrap();
    assert!(
        stats.records_matched + stats.records_unparsed > 3000,
        "{stats:?}"
    );
    usage
}

fn sensitive_actions() -> Vec<ActionId> {
    risk_table()
        .iter()
        .enumerate()
        .filter(|(_, r)| r.sensitive || r.credentials_exposure)
        .map(|(i, _)| ActionId(i as u32))
        .collect()
}

/// The generated policy allows every successful call and no sensitive action the principal did not use.
fn replay(usage: &Usage) -> usize {
    let catalog = Catalog::get();
    let sensitive = sensitive_actions();
    assert!(sensitive.len() > 50);
    let mut checked = 0;
    for (key, used) in &usage.principals {
        if used.allowed.is_empty() {
            continue;
        }
        let generated = generate_policy(used, catalog);
        let text = serde_json::to_string(&generated.document).unwrap();
        let doc = PolicyDocument::parse(&text).unwrap();
        let set = PolicySet {
            identity: vec![&doc],
            ..PolicySet::default()
        };
        for (action, resource) in used.allowed.keys() {
            let request =
                Request::new(&catalog.full_name(*action), resource).with_principal(&key.arn);
            assert!(
                evaluate(&set, &request).is_allowed(),
                "{key:?}: {} on {resource} not allowed",
                request.action
            );
        }
        let used_actions: BTreeSet<ActionId> = used.allowed.keys().map(|(a, _)| *a).collect();
        for action in sensitive.iter().filter(|a| !used_actions.contains(a)) {
            let name = catalog.full_name(*action);
            for resource in ["*", "arn:aws:iam::111122223333:role/Admin"] {
                let request = Request::new(&name, resource).with_principal(&key.arn);
                assert!(
                    !evaluate(&set, &request).is_allowed(),
                    "{key:?}: unused {name} allowed"
                );
            }
        }
        checked += 1;
    }
    checked
}

#[test]
fn replay_on_the_real_logs() {
    let usage = real_usage(false);
    let checked = replay(&usage);
    assert!(checked >= 5, "{checked} principals");
    // Sessions of a role count for the role: no assumed-role ARN is a principal.
    assert!(usage
        .principals
        .keys()
        .all(|k| !k.arn.contains(":assumed-role/") && k.session.is_none()));
    // Every unmapped event carries a reason and a count.
    assert!(usage
        .unmapped
        .values()
        .all(|e| !e.reason.is_empty() && e.count > 0));
    assert!(usage
        .unmapped
        .contains_key(&("signin.amazonaws.com".into(), "ConsoleLogin".into())));
    let (from, to) = usage.window.unwrap();
    assert!(from < to);
    assert!(window_days(usage.window) > 1);
    // Denied calls are apart: the Stratus logs hold refused attempts.
    assert!(usage.principals.values().any(|p| !p.denied.is_empty()));

    let split = real_usage(true);
    assert!(split.principals.len() > usage.principals.len());
    replay(&split);
    let sessions: usize = split.principals.values().map(|p| p.allowed.len()).sum();
    assert!(
        sessions
            >= usage
                .principals
                .values()
                .map(|p| p.allowed.len())
                .sum::<usize>()
    );
}

#[test]
fn generated_policy_for_a_real_principal() {
    let usage = real_usage(false);
    // The busiest principal of the logs, by distinct permissions.
    let (key, used) = usage
        .principals
        .iter()
        .max_by_key(|(k, p)| (p.allowed.len(), (*k).clone()))
        .unwrap();
    let generated = generate_policy(used, Catalog::get());
    insta::assert_snapshot!(
        "busiest_real_principal",
        format!(
            "{}\n{}\ndenied:\n{}",
            key.arn,
            serde_json::to_string_pretty(&generated.document).unwrap(),
            generated.denied.join("\n")
        )
    );
}

const ACCOUNT: &str = "111122223333";

fn role_record(
    session: &str,
    source: &str,
    name: &str,
    params: Value,
    error: Option<&str>,
) -> Value {
    let mut record = json!({
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": format!("AROAEXAMPLE:{session}"),
            "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/Deployer/{session}"),
            "accountId": ACCOUNT,
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": format!("arn:aws:iam::{ACCOUNT}:role/ci/Deployer"), "userName": "Deployer"}}
        },
        "eventTime": "2024-03-01T10:00:00Z",
        "eventSource": source,
        "eventName": name,
        "awsRegion": "eu-west-1",
        "requestParameters": params,
        "eventID": "e",
        "recipientAccountId": ACCOUNT
    });
    if let Some(code) = error {
        record["errorCode"] = json!(code);
    }
    record
}

fn collect_records(records: &[Value], per_session: bool) -> Usage {
    let text = serde_json::to_vec(&json!({"Records": records})).unwrap();
    let source: Box<dyn Source> =
        Box::new(MemorySource::new("written.json", Arc::<[u8]>::from(text)));
    let (workers, _) = scan_sources(
        vec![source],
        &Filter::default(),
        1,
        || UsageCollector::new(per_session),
        &NoopObserver,
    )
    .unwrap();
    let mut usage = Usage::default();
    for w in workers {
        usage.merge(w.into_usage());
    }
    usage
}

#[test]
fn written_records_narrow_resources_and_keep_denials_apart() {
    let mut late = role_record(
        "b",
        "iam.amazonaws.com",
        "CreateAccessKey",
        json!({"userName": "alice"}),
        None,
    );
    late["eventTime"] = json!("2024-03-18T09:00:00Z");
    let records = vec![
        role_record(
            "a",
            "s3.amazonaws.com",
            "GetObject",
            json!({"bucketName": "logs", "key": "2024/x.gz"}),
            None,
        ),
        role_record(
            "a",
            "s3.amazonaws.com",
            "GetObject",
            json!({"bucketName": "lo*", "key": "y"}),
            None,
        ),
        role_record("a", "s3.amazonaws.com", "ListBuckets", json!(null), None),
        role_record(
            "a",
            "ec2.amazonaws.com",
            "RunInstances",
            json!({"instanceType": "t3.micro", "iamInstanceProfile": {"name": "web"}}),
            None,
        ),
        role_record(
            "b",
            "lambda.amazonaws.com",
            "CreateFunction20150331",
            json!({"functionName": "f", "role": format!("arn:aws:iam::{ACCOUNT}:role/fn-exec")}),
            None,
        ),
        late,
        role_record(
            "b",
            "iam.amazonaws.com",
            "CreateUser",
            json!({"userName": "mallory"}),
            Some("AccessDenied"),
        ),
        role_record(
            "b",
            "iam.amazonaws.com",
            "GetUser",
            json!({"userName": "ghost"}),
            Some("NoSuchEntity"),
        ),
        role_record(
            "b",
            "signin.amazonaws.com",
            "ConsoleLogin",
            json!(null),
            None,
        ),
    ];
    let usage = collect_records(&records, false);
    let role = format!("arn:aws:iam::{ACCOUNT}:role/ci/Deployer");
    assert_eq!(usage.principals.len(), 1, "{:?}", usage.principals.keys());
    let used = &usage.principals[&PrincipalKey {
        arn: role.clone(),
        session: None,
    }];
    assert_eq!(used.other_failures, 1);
    assert_eq!(window_days(usage.window), 17);
    assert_eq!(usage.unmapped.len(), 1);
    let catalog = Catalog::get();
    let triple = |action: &str, resource: &str| {
        (catalog.lookup(action).unwrap(), Box::<str>::from(resource))
    };
    // Narrowed where the record names the resource; `*` where a wildcard value or no ARN leaves no choice.
    assert!(used
        .allowed
        .contains_key(&triple("s3:GetObject", "arn:aws:s3:::logs/2024/x.gz")));
    assert!(used.allowed.contains_key(&triple("s3:GetObject", "*")));
    assert!(used.allowed.contains_key(&triple(
        "iam:PassRole",
        &format!("arn:aws:iam::{ACCOUNT}:role/fn-exec")
    )));
    assert!(
        used.allowed.contains_key(&triple("iam:PassRole", "*")),
        "the instance profile names no role"
    );
    assert!(used.denied.contains_key(&triple(
        "iam:CreateUser",
        &format!("arn:aws:iam::{ACCOUNT}:user/mallory")
    )));
    let generated = generate_policy(used, catalog);
    insta::assert_snapshot!(format!(
        "{}\ndenied:\n{}",
        serde_json::to_string_pretty(&generated.document).unwrap(),
        generated.denied.join("\n")
    ));
    let mut probe = Usage::default();
    probe.principals.insert(
        PrincipalKey {
            arn: role.clone(),
            session: None,
        },
        used.clone(),
    );
    replay(&probe);

    let split = collect_records(&records, true);
    let sessions: Vec<Option<String>> =
        split.principals.keys().map(|k| k.session.clone()).collect();
    assert_eq!(sessions, [Some("a".into()), Some("b".into())]);
    assert!(split.principals.keys().all(|k| k.arn == role));
}

/// A synthetic set: 40 principals (users, and roles in several sessions) each calling a deterministic
/// mix of events (narrowed resources, `*` ones, several permissions per call, denials, other failures,
/// unmapped events), replayed like the real logs.
#[test]
fn replay_on_a_synthetic_set() {
    let calls: [(&str, &str, Value); 14] = [
        (
            "s3.amazonaws.com",
            "GetObject",
            json!({"bucketName": "data", "key": "k/1"}),
        ),
        (
            "s3.amazonaws.com",
            "PutObject",
            json!({"bucketName": "out", "key": "r.csv"}),
        ),
        ("s3.amazonaws.com", "ListBuckets", json!(null)),
        (
            "s3.amazonaws.com",
            "CopyObject",
            json!({"bucketName": "out", "key": "c", "x-amz-copy-source": "data/k/1"}),
        ),
        ("iam.amazonaws.com", "GetUser", json!({"userName": "alice"})),
        ("iam.amazonaws.com", "ListRoles", json!({})),
        (
            "ec2.amazonaws.com",
            "DescribeInstances",
            json!({"instancesSet": {}}),
        ),
        (
            "ec2.amazonaws.com",
            "RunInstances",
            json!({"instanceType": "t3.micro", "iamInstanceProfile": {"arn": format!("arn:aws:iam::{ACCOUNT}:instance-profile/web")}}),
        ),
        (
            "lambda.amazonaws.com",
            "CreateFunction20150331",
            json!({"functionName": "f", "role": format!("arn:aws:iam::{ACCOUNT}:role/exec")}),
        ),
        (
            "lambda.amazonaws.com",
            "UpdateFunctionConfiguration20150331v2",
            json!({"functionName": "f"}),
        ),
        (
            "kms.amazonaws.com",
            "Decrypt",
            json!({"keyId": format!("arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab")}),
        ),
        (
            "dynamodb.amazonaws.com",
            "GetItem",
            json!({"tableName": "orders"}),
        ),
        ("sts.amazonaws.com", "GetCallerIdentity", json!(null)),
        ("signin.amazonaws.com", "ConsoleLogin", json!(null)),
    ];
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |n: usize| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        (state >> 33) as usize % n
    };
    let mut records = Vec::new();
    for p in 0..40 {
        for i in 0..30 {
            let (source, name, params) = &calls[next(calls.len())];
            let error = match next(10) {
                0 => Some("AccessDenied"),
                1 => Some("ThrottlingException"),
                _ => None,
            };
            let mut record =
                role_record(&format!("s{}", i % 3), source, name, params.clone(), error);
            record["eventTime"] = json!(format!("2024-03-{:02}T10:00:00Z", 1 + (i % 20)));
            if p % 2 == 0 {
                // A user: no session, the user's own ARN.
                record["userIdentity"] = json!({
                    "type": "IAMUser", "principalId": format!("AIDA{p}"),
                    "arn": format!("arn:aws:iam::{ACCOUNT}:user/u{p}"), "accountId": ACCOUNT, "userName": format!("u{p}")
                });
            } else {
                let arn = format!("arn:aws:sts::{ACCOUNT}:assumed-role/r{p}/s{}", i % 3);
                record["userIdentity"]["arn"] = json!(arn);
                record["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] =
                    json!(format!("arn:aws:iam::{ACCOUNT}:role/r{p}"));
            }
            records.push(record);
        }
    }
    let usage = collect_records(&records, false);
    assert_eq!(usage.principals.len(), 40);
    assert!(usage.principals.values().any(|p| !p.denied.is_empty()));
    assert!(usage.principals.values().any(|p| p.other_failures > 0));
    // Narrowed and `*` resources both occur, so both statement kinds are replayed.
    let resources: BTreeSet<&str> = usage
        .principals
        .values()
        .flat_map(|p| p.allowed.keys().map(|(_, r)| &**r))
        .collect();
    assert!(resources.contains("*"));
    assert!(resources.contains(&*format!("arn:aws:iam::{ACCOUNT}:role/exec")));
    assert!(resources.contains("arn:aws:s3:::data/k/1"));
    assert_eq!(replay(&usage), 40);
    let split = collect_records(&records, true);
    assert_eq!(split.principals.len(), 20 + 20 * 3);
    assert_eq!(replay(&split), 80);
}
