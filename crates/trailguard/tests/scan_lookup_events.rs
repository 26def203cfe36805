//! `trailguard scan --lookup-events`, against a loopback fake that speaks CloudTrail's JSON protocol,
//! because moto does not implement LookupEvents. (S3 inputs are tested against moto in `scan_s3.rs`.)

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use trailguard_testkit::shared_data;

fn trailguard(args: &[&str], env: &[(String, String)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(args)
        .envs(env.iter().cloned())
        .output()
        .expect("trailguard runs")
}

fn finding_ids(out: &Output) -> BTreeSet<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| {
            v.get("rule_id")
                .and(v.get("id"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect()
}

/// A loopback stand-in for the CloudTrail JSON API that serves LookupEvents in two pages.
struct FakeLookup {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

fn fake_lookup_server(events: Vec<String>) -> FakeLookup {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&requests);
    std::thread::spawn(move || {
        let (first, second) = events.split_at(events.len() / 2);
        let pages = [first.to_vec(), second.to_vec()];
        for stream in listener.incoming().take(4) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            let mut target = String::new();
            let mut signed_for = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                if lower.starts_with("x-amz-target:") {
                    target = line.trim().to_owned();
                }
                // SigV4's credential scope names the region the call was signed for.
                if lower.starts_with("authorization:") {
                    signed_for = lower
                        .split("credential=")
                        .nth(1)
                        .and_then(|c| c.split('/').nth(2))
                        .map(|region| format!(" signed-for={region}"))
                        .unwrap_or_default();
                }
            }
            let mut body = vec![0u8; length];
            reader.read_exact(&mut body).unwrap();
            let body = String::from_utf8_lossy(&body).into_owned();
            let page = if body.contains("\"NextToken\"") { 1 } else { 0 };
            seen.lock()
                .unwrap()
                .push(format!("{target}{signed_for} {body}"));
            let items: Vec<Value> = pages[page]
                .iter()
                .enumerate()
                .map(|(i, e)| serde_json::json!({"EventId": format!("e{page}-{i}"), "CloudTrailEvent": e}))
                .collect();
            let mut response = serde_json::json!({ "Events": items });
            if page == 0 {
                response["NextToken"] = Value::String("page-2".into());
            }
            let text = response.to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\nx-amzn-RequestId: fake\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
    FakeLookup { url, requests }
}

/// Test credentials, and no config file or instance metadata to find others.
fn fake_env() -> Vec<(String, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID".to_owned(), "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY".to_owned(), "testing".to_owned()),
        ("AWS_REGION".to_owned(), "us-east-1".to_owned()),
        ("AWS_CONFIG_FILE".to_owned(), "/dev/null".to_owned()),
        (
            "AWS_SHARED_CREDENTIALS_FILE".to_owned(),
            "/dev/null".to_owned(),
        ),
        ("AWS_EC2_METADATA_DISABLED".to_owned(), "true".to_owned()),
    ]
}

/// `--region` is the API region, as in `audit` and `fix`; `--aws-region` is its old spelling.
#[test]
fn region_picks_the_api_region() {
    for flag in ["--region", "--aws-region"] {
        let fake = fake_lookup_server(vec!["{}".to_owned(), "{}".to_owned()]);
        let out = trailguard(
            &[
                "scan",
                "--lookup-events",
                flag,
                "eu-west-2",
                "--format",
                "json",
                "--endpoint-url",
                &fake.url,
            ],
            &fake_env(),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        let requests = fake.requests.lock().unwrap();
        assert!(!requests.is_empty(), "{flag}: {stderr}");
        assert!(
            requests[0].contains("signed-for=eu-west-2"),
            "{flag}: {}",
            requests[0]
        );
    }
}

#[test]
fn lookup_events_are_scanned_like_log_records() {
    // Real records from the Stratus detonation logs, served as LookupEvents returns them.
    let path = shared_data().join("cloudtrail/stratus-red-team/docs/detonation-logs/aws.persistence.iam-create-admin-user.json");
    let records: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let events: Vec<String> = records.iter().map(Value::to_string).collect();
    assert!(events.len() >= 2);
    let fake = fake_lookup_server(events);
    let env = fake_env();
    let from_api = trailguard(
        &[
            "scan",
            "--lookup-events",
            "--since",
            "2024-08-01T00:00:00Z",
            "--format",
            "json",
            "--fail-on",
            "critical",
            "--endpoint-url",
            &fake.url,
        ],
        &env,
    );
    let stderr = String::from_utf8_lossy(&from_api.stderr);
    assert_ne!(from_api.status.code(), Some(2), "{stderr}");
    let from_file = trailguard(
        &[
            "scan",
            "--format",
            "json",
            "--fail-on",
            "critical",
            path.to_str().unwrap(),
        ],
        &[],
    );
    let api_ids = finding_ids(&from_api);
    assert!(
        !api_ids.is_empty(),
        "an admin user created by Stratus is flagged: {stderr}"
    );
    assert_eq!(api_ids, finding_ids(&from_file));
    let requests = fake.requests.lock().unwrap();
    assert_eq!(requests.len(), 2, "two pages fetched: {requests:?}");
    assert!(
        requests[0].contains("CloudTrail_20131101.LookupEvents"),
        "{}",
        requests[0]
    );
    assert!(
        requests[0].contains("\"StartTime\""),
        "--since becomes StartTime: {}",
        requests[0]
    );
    assert!(
        requests[1].contains("page-2"),
        "the second request carries the token: {}",
        requests[1]
    );
}
