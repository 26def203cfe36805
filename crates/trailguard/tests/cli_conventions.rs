//! One convention across subcommands, and answers that never pass for an empty result: `--region` is the
//! AWS API region everywhere (`scan --event-region` filters events), rules are picked with `--rule`
//! (and left out with `--ignore`), `--min-severity` trims reports, a failed read prints an error and no report, and a filter spelled in
//! a way that can match nothing says how to spell it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use trailguard_rules::{Finding, Severity};

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../samples/cloudtrail")
        .canonicalize()
        .expect("samples/cloudtrail exists")
}

fn trailguard(args: &[&str]) -> Output {
    trailguard_with_env(args, &[])
}

/// [`trailguard`] with these environment variables set as well.
fn trailguard_with_env(args: &[&str], vars: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(args)
        .env("NO_COLOR", "1")
        .envs(vars.iter().copied())
        .output()
        .expect("trailguard runs")
}

fn with_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn scan_findings(extra: &[&str]) -> Vec<Finding> {
    scan_findings_of(&samples(), extra, &[])
}

/// The findings of a JSON scan of `path` with `extra` flags and `vars` set, sorted by id.
fn scan_findings_of(path: &Path, extra: &[&str], vars: &[(&str, &str)]) -> Vec<Finding> {
    let mut args = vec![
        "scan",
        path.to_str().unwrap(),
        "--format",
        "json",
        "--fail-on",
        "never",
    ];
    args.extend_from_slice(extra);
    let out = trailguard_with_env(&args, vars);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // JSON lines stream in the order found, which the worker threads decide: compare by id.
    let mut findings: Vec<Finding> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    findings.sort_by(|a, b| a.id.cmp(&b.id));
    findings
}

#[test]
fn scan_filters_events_with_event_region_and_region_is_the_api_region() {
    let all = scan_findings(&[]);
    let west = scan_findings(&["--event-region", "eu-west-1"]);
    assert!(!west.is_empty() && west.len() < all.len());
    assert!(west
        .iter()
        .all(|f| f.region.as_deref() == Some("eu-west-1")));
    // `--region` (and its old spelling `--aws-region`) picks where API calls go: local files are
    // not filtered by it.
    assert_eq!(scan_findings(&["--region", "eu-west-1"]), all);
    assert_eq!(scan_findings(&["--aws-region", "eu-west-1"]), all);

    let help = String::from_utf8_lossy(&trailguard(&["scan", "--help"]).stdout).into_owned();
    for flag in ["--event-region", "--region", "--min-severity", "--rule"] {
        assert!(help.contains(flag), "{flag} in {help}");
    }
    assert!(!help.contains("--aws-region"), "a hidden alias: {help}");
}

#[test]
fn min_severity_trims_scan_reports_and_their_exit_code() {
    let all = scan_findings(&[]);
    let high = scan_findings(&["--min-severity", "high"]);
    assert!(all.iter().any(|f| f.severity < Severity::High));
    let expected: Vec<Finding> = all
        .iter()
        .filter(|f| f.severity >= Severity::High)
        .cloned()
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(high, expected);
    let out = trailguard(&[
        "scan",
        samples().to_str().unwrap(),
        "--min-severity",
        "sever",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

/// `--ignore` leaves rules out of `scan` (and `serve` and `lambda`, which share the flags): exactly their findings
/// go, whatever else is chosen, and a code that names no rule, or a choice that leaves none, is a usage
/// error rather than a scan with nothing.
#[test]
fn rules_are_left_out_with_ignore() {
    let all = scan_findings(&[]);
    let mut per_rule = std::collections::BTreeMap::<&str, usize>::new();
    for f in &all {
        *per_rule.entry(f.rule_id.as_str()).or_default() += 1;
    }
    assert!(
        per_rule.len() >= 3,
        "the samples trip several rules: {per_rule:?}"
    );
    let mut busiest: Vec<(&str, usize)> = per_rule.into_iter().collect();
    busiest.sort_by_key(|(code, n)| (std::cmp::Reverse(*n), *code));
    let (first, second) = (busiest[0].0, busiest[1].0);

    let without_first = scan_findings(&["--ignore", first]);
    let expected: Vec<Finding> = all.iter().filter(|f| f.rule_id != first).cloned().collect();
    assert_eq!(without_first, expected);
    // The summary says what was not looked for.
    let samples = samples();
    let path = samples.to_str().unwrap();
    let out = trailguard(&["scan", path, "--fail-on", "never", "--ignore", first]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains(&format!("not run (--ignore): {first}")),
        "{report}"
    );
    // The same from the environment (a container's or a function's setting), said the same way.
    let json_scan = ["scan", path, "--fail-on", "never", "--format", "json"];
    let from_env = trailguard_with_env(&json_scan, &[("TRAILGUARD_IGNORE", first)]);
    let lines = String::from_utf8_lossy(&from_env.stdout);
    assert_eq!(lines.lines().count(), expected.len(), "{lines}");
    let summary = stderr(&from_env);
    assert!(
        summary.contains(&format!("not run (--ignore): {first}")),
        "{summary}"
    );
    // An empty variable leaves every rule in, and says nothing about it.
    let empty = trailguard_with_env(&json_scan, &[("TRAILGUARD_IGNORE", "")]);
    assert_eq!(
        String::from_utf8_lossy(&empty.stdout).lines().count(),
        all.len()
    );
    assert!(!stderr(&empty).contains("not run"), "{}", stderr(&empty));

    let both = format!("{first},{second}");
    let one = scan_findings(&["--rule", &both, "--ignore", second]);
    assert!(!one.is_empty());
    assert!(one.iter().all(|f| f.rule_id == first), "{one:?}");
    // The note names what --ignore took out, not what --rule never chose.
    let out = trailguard(&[
        "scan",
        path,
        "--fail-on",
        "never",
        "--rule",
        &both,
        "--ignore",
        second,
    ]);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains(&format!("not run (--ignore): {second}\n")),
        "{report}"
    );

    let out = trailguard(&["scan", path, "--ignore", "CT001,CT999"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--ignore: unknown rule `CT999`"),
        "{}",
        stderr(&out)
    );
    let out = trailguard(&["scan", path, "--rule", first, "--ignore", first]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no built-in rule is left"),
        "{}",
        stderr(&out)
    );

    for command in ["scan", "serve"] {
        let help = String::from_utf8_lossy(&trailguard(&[command, "--help"]).stdout).into_owned();
        assert!(
            help.contains("--ignore") && help.contains("--rule"),
            "{command}: {help}"
        );
    }
}

#[test]
fn rules_are_picked_with_rule_everywhere() {
    let one = scan_findings(&["--rule", "CT001,CT010"]);
    assert!(!one.is_empty());
    assert!(one
        .iter()
        .all(|f| f.rule_id == "CT001" || f.rule_id == "CT010"));

    let dir = tempfile::tempdir().unwrap();
    let admin = dir.path().join("admin.json");
    std::fs::write(
        &admin,
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}"#,
    )
    .unwrap();
    let codes = |flag: &str| -> Vec<String> {
        let out = trailguard(&[
            "policy",
            "check",
            admin.to_str().unwrap(),
            "--format",
            "json",
            flag,
            "PC010",
        ]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["rule_id"].to_string())
            .collect()
    };
    let by_rule = codes("--rule");
    assert!(!by_rule.is_empty());
    assert!(by_rule.iter().all(|c| c == "\"PC010\""), "{by_rule:?}");
    assert_eq!(codes("--select"), by_rule, "the old spelling still works");
}

#[test]
fn a_failed_read_prints_an_error_and_no_report() {
    let missing = trailguard(&["scan", "/nonexistent-trailguard-input"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        missing.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&missing.stdout)
    );
    assert!(stderr(&missing).contains("error:"), "{}", stderr(&missing));
    assert!(!stderr(&missing).contains("No findings"));

    let empty = with_stdin(&["scan", "-"], b"");
    assert_eq!(empty.status.code(), Some(2), "{}", stderr(&empty));
    assert!(
        empty.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&empty.stdout)
    );
    assert!(stderr(&empty).contains("error:"), "{}", stderr(&empty));

    let empty = with_stdin(&["policy", "check", "-"], b"\n");
    assert_eq!(empty.status.code(), Some(2), "{}", stderr(&empty));
    assert!(
        empty.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&empty.stdout)
    );
    assert!(
        stderr(&empty).contains("<stdin>: empty input"),
        "{}",
        stderr(&empty)
    );

    let policy = trailguard(&["policy", "check", "/nonexistent-trailguard.json"]);
    assert_eq!(policy.status.code(), Some(2));
    assert!(
        policy.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&policy.stdout)
    );
    assert!(
        stderr(&policy).contains("nonexistent-trailguard.json"),
        "{}",
        stderr(&policy)
    );
    assert!(!stderr(&policy).contains("No findings"));
}

#[test]
fn an_event_name_in_the_wrong_case_is_refused_with_the_right_spelling() {
    let samples = samples();
    let out = trailguard(&[
        "scan",
        samples.to_str().unwrap(),
        "--event-name",
        "createpolicyversion",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(err.contains("did you mean `CreatePolicyVersion`?"), "{err}");
    assert!(err.contains("case-sensitive"), "{err}");

    // A filter that matches no record says so in the summary.
    let out = trailguard(&[
        "scan",
        samples.to_str().unwrap(),
        "--account",
        "999988887777",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("no record matched the filters"),
        "{}",
        stderr(&out)
    );
}

/// `--aws-ip-ranges FILE` (and `TRAILGUARD_AWS_IP_RANGES`, as `serve` and `lambda` are configured) adds a
/// current copy of AWS's list to the snapshot CT106 reads: an instance session calling from a network the
/// snapshot does not hold is outside AWS until the list names it. A file that is not AWS's list stops the
/// run, naming the file and where it went wrong.
#[test]
fn a_current_list_of_aws_networks_is_read_with_aws_ip_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let trail = dir.path().join("trail.json");
    // An instance's served credentials calling from 45.33.32.156, in none of the snapshot's networks.
    let record = serde_json::json!({
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": "AROAQXHN7L2UCJ5K4EXMP:i-0786a3a8b5c0d92ef",
            "arn": "arn:aws:sts::229654561268:assumed-role/ec2-app-role/i-0786a3a8b5c0d92ef",
            "accountId": "229654561268",
            "accessKeyId": "ASIAQXHN7L2UDEXAMPLE",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": "AROAQXHN7L2UCJ5K4EXMP",
                    "arn": "arn:aws:iam::229654561268:role/ec2-app-role",
                    "accountId": "229654561268",
                    "userName": "ec2-app-role"
                },
                "attributes": {"creationDate": "2024-08-01T13:00:12Z", "mfaAuthenticated": "false"},
                "ec2RoleDelivery": "2.0"
            }
        },
        "eventTime": "2024-08-01T14:01:10Z",
        "eventSource": "sts.amazonaws.com",
        "eventName": "GetCallerIdentity",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "45.33.32.156",
        "userAgent": "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0 exe/x86_64.ubuntu.22",
        "requestParameters": null,
        "responseElements": null,
        "requestID": "5d1b2c3e-8a9f-4b0c-9d1e-2f3a4b5c6d7e",
        "eventID": "0c9e8d7f-6a5b-4c3d-8e2f-1a0b9c8d7e6f",
        "readOnly": true,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": "229654561268",
        "eventCategory": "Management"
    });
    std::fs::write(
        &trail,
        serde_json::json!({ "Records": [record] }).to_string(),
    )
    .unwrap();
    let list = |prefix: &str| {
        serde_json::json!({
            "syncToken": "1764022387",
            "createDate": "2026-11-24-22-13-07",
            "prefixes": [{"ip_prefix": prefix, "region": "us-east-1", "service": "EC2",
                          "network_border_group": "us-east-1"}],
            "ipv6_prefixes": []
        })
        .to_string()
    };
    let current = dir.path().join("ip-ranges.json");
    let elsewhere = dir.path().join("ip-ranges-elsewhere.json");
    std::fs::write(&current, list("45.33.32.0/24")).unwrap();
    std::fs::write(&elsewhere, list("45.33.33.0/24")).unwrap();
    let ct106 = |extra: &[&str], vars: &[(&str, &str)]| -> usize {
        (scan_findings_of(&trail, extra, vars).iter())
            .filter(|f| f.rule_id == "CT106")
            .count()
    };
    assert_eq!(ct106(&[], &[]), 1, "outside the snapshot");
    assert_eq!(
        ct106(&["--aws-ip-ranges", elsewhere.to_str().unwrap()], &[]),
        1,
        "a list without the address"
    );
    assert_eq!(
        ct106(&["--aws-ip-ranges", current.to_str().unwrap()], &[]),
        0,
        "a list naming the address's network"
    );
    assert_eq!(
        ct106(
            &[],
            &[("TRAILGUARD_AWS_IP_RANGES", current.to_str().unwrap())]
        ),
        0,
        "the same from the environment"
    );

    let scan_with = |list: &Path| {
        trailguard(&[
            "scan",
            trail.to_str().unwrap(),
            "--fail-on",
            "never",
            "--aws-ip-ranges",
            list.to_str().unwrap(),
        ])
    };
    // The report says which list it was given.
    let report = String::from_utf8_lossy(&scan_with(&current).stdout).into_owned();
    assert!(
        report.contains(&format!(
            "CT106 reads AWS's networks from this build's snapshot and `{}` (createDate 2026-11-24-22-13-07)",
            current.display()
        )),
        "{report}"
    );

    // A broken or missing list is a usage error naming the file (and where it broke), and no report.
    let broken = dir.path().join("broken.json");
    std::fs::write(
        &broken,
        "{\"createDate\": \"2026-11-24\",\n \"prefixes\": [{\"ip_prefix\": ",
    )
    .unwrap();
    let missing = dir.path().join("missing.json");
    for (list, says) in [
        (&broken, &["not AWS's ip-ranges.json", "line 2 column"][..]),
        (&missing, &["No such file"][..]),
    ] {
        let out = scan_with(list);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let message = stderr(&out);
        assert!(
            message.contains(&format!("--aws-ip-ranges `{}`: ", list.display()))
                && says.iter().all(|said| message.contains(said)),
            "{message}"
        );
        assert!(out.stdout.is_empty(), "no report after a failed start");
    }
}

/// `-o -` writes the report to stdout, as `-` means in most tools, and creates no file named `-`: in
/// `scan`, `policy check` and `audit`, each run in an empty directory, each giving the findings (rule and
/// id) it gives without `-o`.
#[test]
fn output_dash_is_stdout() {
    let work = tempfile::tempdir().unwrap();
    let snapshot = tempfile::tempdir().unwrap();
    std::fs::copy(
        trailguard_testkit::shared_data().join("peer-suites/cloudsplaining/example.json"),
        snapshot
            .path()
            .join("get-account-authorization-details.json"),
    )
    .expect("reference data present");
    let admin = work.path().join("admin.json");
    std::fs::write(
        &admin,
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}"#,
    )
    .unwrap();
    let samples = samples();
    let json = ["--format", "json", "--fail-on", "never"];
    let commands: [Vec<&str>; 3] = [
        vec!["scan", samples.to_str().unwrap()],
        vec!["policy", "check", admin.to_str().unwrap()],
        vec![
            "audit",
            "--offline",
            snapshot.path().to_str().unwrap(),
            "--now",
            "2024-01-01T00:00:00Z",
        ],
    ];
    let empty = tempfile::tempdir().unwrap();
    let findings = |stdout: &[u8]| -> Vec<String> {
        let mut ids: Vec<String> = String::from_utf8_lossy(stdout)
            .lines()
            .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("JSON lines"))
            .filter_map(|value| {
                value
                    .get("rule_id")
                    .map(|id| format!("{id}/{}", value["id"]))
            })
            .collect();
        ids.sort();
        ids
    };
    for command in commands {
        let run = |extra: &[&str]| {
            Command::new(env!("CARGO_BIN_EXE_trailguard"))
                .args(&command)
                .args(json)
                .args(extra)
                .current_dir(empty.path())
                .output()
                .expect("trailguard runs")
        };
        let (plain, dashed) = (run(&[]), run(&["-o", "-"]));
        assert_eq!(
            dashed.status.code(),
            Some(0),
            "{command:?}: {}",
            stderr(&dashed)
        );
        assert_eq!(
            plain.status.code(),
            Some(0),
            "{command:?}: {}",
            stderr(&plain)
        );
        let found = findings(&dashed.stdout);
        assert!(!found.is_empty(), "{command:?} reports findings");
        assert_eq!(found, findings(&plain.stdout), "{command:?}");
        assert!(
            !empty.path().join("-").exists(),
            "{command:?} made a file named `-`"
        );
    }
}
