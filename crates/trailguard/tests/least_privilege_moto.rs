//! `audit unused` to `fix` end to end against a local moto server (the `tests/fix_moto.rs` way): a role
//! with admin and a broad inline policy, CloudTrail records of what it really did, `audit unused --store`
//! (live, through the endpoint) saving LP001 with the generated policy as its fix, `fix ID --store
//! --apply`, the role's policies read back through the API, a second apply that changes nothing, and
//! `fix undo` putting every policy back.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{json, Value};
use trailguard_testkit::MotoServer;

const ACCOUNT: &str = "123456789012";
const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

const SETUP: &str = r#"
import boto3, json
iam = boto3.client("iam")
trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
iam.create_role(RoleName="app", AssumeRolePolicyDocument=trust)
iam.attach_role_policy(RoleName="app", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
broad = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:*", "iam:*"], "Resource": "*"}]})
iam.put_role_policy(RoleName="app", PolicyName="legacy-s3", PolicyDocument=broad)
"#;

const DUMP: &str = r#"
import boto3, json
iam = boto3.client("iam")
attached = [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName="app")["AttachedPolicies"]]
names = iam.list_role_policies(RoleName="app")["PolicyNames"]
docs = {n: iam.get_role_policy(RoleName="app", PolicyName=n)["PolicyDocument"] for n in names}
print(json.dumps({"attached": attached, "inline": sorted(names), "documents": docs}))
"#;

fn dump(server: &MotoServer) -> Value {
    serde_json::from_str(server.python(DUMP).trim()).expect("the dump prints JSON")
}

/// A successful call by a session of role `app`, shaped like a CloudTrail record.
fn record(time: &str, source: &str, name: &str, params: Value) -> Value {
    json!({
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": "AROAEXAMPLEAPP:i-0abc",
            "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/app/i-0abc"),
            "accountId": ACCOUNT,
            "sessionContext": {"sessionIssuer": {
                "type": "Role", "principalId": "AROAEXAMPLEAPP",
                "arn": format!("arn:aws:iam::{ACCOUNT}:role/app"), "accountId": ACCOUNT, "userName": "app"
            }}
        },
        "eventTime": time,
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "10.0.0.7",
        "userAgent": "aws-sdk-go/1.44",
        "requestParameters": params,
        "responseElements": null,
        "eventID": format!("{name}-{time}"),
        "eventType": "AwsApiCall",
        "recipientAccountId": ACCOUNT
    })
}

fn write_logs(path: &Path) {
    let records = vec![
        record(
            "2024-05-01T08:00:00Z",
            "s3.amazonaws.com",
            "GetObject",
            json!({"bucketName": "app-data", "key": "in/batch-1.csv"}),
        ),
        record(
            "2024-05-09T12:00:00Z",
            "ec2.amazonaws.com",
            "DescribeInstances",
            json!({"instancesSet": {}}),
        ),
        record(
            "2024-05-17T23:00:00Z",
            "s3.amazonaws.com",
            "GetObject",
            json!({"bucketName": "app-data", "key": "in/batch-2.csv"}),
        ),
    ];
    std::fs::write(path, json!({"Records": records}).to_string()).unwrap();
}

fn trailguard(server: &MotoServer, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(args)
        .args(["--endpoint-url", &server.endpoint()])
        .envs(server.env())
        .env("NO_COLOR", "1")
        .output()
        .expect("trailguard runs")
}

/// `findings` reads only the store: it takes no AWS endpoint.
fn stored_findings(store: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(["findings", "--store", store, "--format", "json"])
        .output()
        .expect("trailguard runs");
    ok(&out, "findings")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[test]
fn unused_grants_are_stored_applied_and_undone_against_moto() {
    let server = MotoServer::start();
    server.python(SETUP);
    let before = dump(&server);
    assert_eq!(before["attached"], json!([ADMIN]));
    assert_eq!(before["inline"], json!(["legacy-s3"]));

    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("cloudtrail.json");
    write_logs(&logs);
    let store = dir.path().join("tg.db");
    let journal = dir.path().join("journal.db");
    let (store, journal, logs) = (
        store.to_str().unwrap(),
        journal.to_str().unwrap(),
        logs.to_str().unwrap(),
    );

    // Live audit through the endpoint; the finding goes to the store.
    let audit = |extra: &[&str]| {
        let mut args = vec![
            "audit",
            "unused",
            "--logs",
            logs,
            "--region",
            "us-east-1",
            "--format",
            "json",
            "--quiet",
        ];
        args.extend_from_slice(extra);
        ok(&trailguard(&server, &args), "audit unused")
    };
    let report = audit(&["--store", store]);
    let role_line: Value = report
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|l| l["principal"] == format!("arn:aws:iam::{ACCOUNT}:role/app"))
        .unwrap_or_else(|| panic!("no line for the role:\n{report}"));
    assert_eq!(
        role_line["window"]
            .as_str()
            .unwrap()
            .split(" (")
            .next()
            .unwrap(),
        "unused in the 17 days these logs cover"
    );
    // The inline policy grants s3 and iam whether or not the snapshot resolves the managed admin policy.
    let used_granted = role_line["used_granted"].as_array().unwrap().clone();
    assert!(used_granted.contains(&json!("s3:GetObject")), "{role_line}");
    let id = role_line["finding_id"]
        .as_str()
        .expect("LP001 for the role");
    assert!(role_line["sensitive_unused"]
        .as_array()
        .unwrap()
        .contains(&json!("iam:CreateAccessKey")));

    // The stored finding carries the fix action with the generated document.
    let stored = stored_findings(store);
    let finding: Value = stored
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|f| f["id"] == id)
        .unwrap_or_else(|| panic!("{id} not stored:\n{stored}"));
    assert_eq!(finding["rule_id"], "LP001");
    let action = &finding["fix"]["actions"][0];
    assert_eq!(action["action"], "apply_generated_policy");
    assert_eq!(action["principal_name"], "app");

    // The same audit again updates the finding instead of adding one (stable id).
    audit(&["--store", store]);
    let again = stored_findings(store);
    assert_eq!(again.matches(id).count(), 1, "{again}");

    // Plan only: nothing changes.
    let plan = ok(
        &trailguard(
            &server,
            &["fix", id, "--store", store, "--journal", journal],
        ),
        "fix plan",
    );
    assert!(plan.contains("put-role-policy"), "{plan}");
    assert!(plan.contains("detach-role-policy"), "{plan}");
    assert!(plan.contains("delete-role-policy"), "{plan}");
    assert_eq!(dump(&server), before, "a plan changes nothing");

    let apply = |what: &str| {
        ok(
            &trailguard(
                &server,
                &[
                    "fix",
                    id,
                    "--store",
                    store,
                    "--journal",
                    journal,
                    "--apply",
                    "--yes",
                ],
            ),
            what,
        )
    };
    apply("fix --apply");
    let after = dump(&server);
    assert_eq!(after["attached"], json!([]), "{after}");
    assert_eq!(after["inline"], json!(["trailguard-least-privilege"]));
    let document = &after["documents"]["trailguard-least-privilege"];
    let statements = document["Statement"].as_array().unwrap();
    // Exactly the used and granted actions, no more.
    let mut actions: Vec<Value> = statements
        .iter()
        .flat_map(|s| s["Action"].as_array().unwrap().clone())
        .collect();
    actions.sort_by_key(|a| a.to_string());
    let mut expected = used_granted.clone();
    expected.sort_by_key(|a| a.to_string());
    assert_eq!(actions, expected);
    let s3 = statements
        .iter()
        .find(|s| s["Action"] == json!(["s3:GetObject"]))
        .unwrap();
    assert_eq!(
        s3["Resource"],
        json!([
            "arn:aws:s3:::app-data/in/batch-1.csv",
            "arn:aws:s3:::app-data/in/batch-2.csv"
        ])
    );

    // Applying again finds the policy in place: no call.
    let second = apply("fix --apply again");
    assert!(second.contains("Plan: 0 change(s) to make"), "{second}");
    assert_eq!(dump(&server), after);

    // Undo from the journal: admin attached again, the broad policy back, the generated one gone.
    let listing = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(["fix", "journal", "--journal", journal, "--format", "json"])
        .output()
        .unwrap();
    let changes: Vec<Value> = ok(&listing, "fix journal")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let change = changes
        .iter()
        .find(|c| c["status"] == "applied")
        .unwrap_or_else(|| panic!("{changes:?}"));
    assert_eq!(change["step"]["action"]["action"], "apply_generated_policy");
    let change_id = change["id"].as_str().unwrap();
    ok(
        &trailguard(
            &server,
            &["fix", "undo", change_id, "--journal", journal, "--yes"],
        ),
        "fix undo",
    );
    let undone = dump(&server);
    assert_eq!(undone["attached"], json!([ADMIN]));
    assert_eq!(undone["inline"], json!(["legacy-s3"]));
    assert_eq!(
        undone["documents"]["legacy-s3"],
        before["documents"]["legacy-s3"]
    );
}
