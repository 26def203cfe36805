//! `trailguard audit --offline` and `audit who-can --offline` on saved API output: the Cloudsplaining
//! example account (real `get-account-authorization-details` output), a hand-made snapshot of every
//! file shaped like the AWS CLI prints it (snapshot-tested), bad files, and an empty directory.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use trailguard_rules::{Finding, Severity};
use trailguard_testkit::shared_data;

fn trailguard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("trailguard runs")
}

/// A snapshot directory holding only the Cloudsplaining example's authorization details.
fn cloudsplaining_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        shared_data().join("peer-suites/cloudsplaining/example.json"),
        dir.path().join("get-account-authorization-details.json"),
    )
    .expect("reference data present");
    dir
}

fn findings_of(stdout: &[u8]) -> (Vec<Finding>, Value) {
    let mut findings = Vec::new();
    let mut summary = Value::Null;
    for line in String::from_utf8_lossy(stdout).lines() {
        let value: Value = serde_json::from_str(line).expect("JSON lines");
        match value.get("audit_summary") {
            Some(s) => summary = s.clone(),
            None => findings.push(serde_json::from_value(value).expect("a finding")),
        }
    }
    (findings, summary)
}

fn names(findings: &[Finding], rule: &str) -> Vec<String> {
    findings
        .iter()
        .filter(|f| f.rule_id == rule)
        .filter_map(|f| f.resource.as_ref().and_then(|r| r.name.clone()))
        .collect()
}

#[test]
fn cloudsplaining_admins_and_privesc_principals() {
    let dir = cloudsplaining_dir();
    let out = trailguard(&[
        "audit",
        "--offline",
        dir.path().to_str().unwrap(),
        "--format",
        "json",
        "--quiet",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (findings, summary) = findings_of(&out.stdout);
    // Read by hand in example.json: AdministratorAccess (directly, or via group `admin`) or a
    // customer policy of `*` on `*`.
    assert_eq!(
        names(&findings, "PA014"),
        [
            "obama",
            "userwithlotsofpermissions",
            "AWS-QuickSetup-StackSet-Local-ExecutionRole",
            "AWSReservedSSO_AdministratorAccess_dc6414f7f2ab04fc",
            "OrganizationAccountAccessRole",
            "privesc-AssumeRole-ending-role",
            "privesc-high-priv-service-role",
            "stacksets-exec-b5520cb2730c2f54b523d6375a319abb",
        ]
    );
    let privesc = names(&findings, "PA015");
    for user in [
        "privesc1-CreateNewPolicyVersion-user",
        "privesc4-CreateAccessKey-user",
        "privesc7-AttachUserPolicy-user",
        "privesc-sre-user",
        "fn1-privesc3-partial-user",
        "OverprivilegedEC2",
    ] {
        assert!(
            privesc.contains(&user.to_owned()),
            "{user} not in {privesc:?}"
        );
    }
    assert!(!privesc.contains(&"fp2-allow-and-deny-multiple-policies-user".to_owned()));
    let high = findings
        .iter()
        .filter(|f| f.rule_id == "PA015" && f.severity == Severity::High)
        .count();
    assert!(high >= 40, "{high}");
    // Only the principal checks can run on authorization details alone.
    assert_eq!(
        summary["checks_not_evaluated"].as_array().unwrap().len(),
        19
    );
    assert_eq!(summary["account"], "200611803367");
    assert!(findings
        .iter()
        .all(|f| f.account.as_deref() == Some("200611803367")));
}

fn who_can(dir: &Path, action: &str) -> Value {
    let out = trailguard(&[
        "audit",
        "who-can",
        action,
        "--offline",
        dir.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn allowed(answer: &Value) -> Vec<(String, String)> {
    answer["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_owned(),
                e["access"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

const ADMINS: [&str; 8] = [
    "privesc-sre-user",
    "obama",
    "userwithlotsofpermissions",
    "AWS-QuickSetup-StackSet-Local-ExecutionRole",
    "AWSReservedSSO_AdministratorAccess_dc6414f7f2ab04fc",
    "OrganizationAccountAccessRole",
    "privesc-AssumeRole-ending-role",
    "privesc-high-priv-service-role",
];

#[test]
fn who_can_change_the_account_alias_in_the_cloudsplaining_account() {
    let dir = cloudsplaining_dir();
    let create = who_can(dir.path(), "iam:CreateAccountAlias");
    let names: Vec<String> = allowed(&create).into_iter().map(|(n, _)| n).collect();
    // Administrators and `iam:*` holders; `fn4-exploitableNotAction` allows everything except
    // iam:Create*/Update*/Attach*, so it may delete the alias but not create one; `fp2` has `*:*`
    // and a `deny-all` policy.
    for name in ADMINS.iter().chain(&[
        "privesc-sre-role",
        "stacksets-exec-b5520cb2730c2f54b523d6375a319abb",
    ]) {
        assert!(names.contains(&name.to_string()), "{name} in {names:?}");
    }
    assert_eq!(names.len(), 10, "{names:?}");
    assert!(!names
        .iter()
        .any(|n| n.starts_with("fn4") || n.starts_with("fp2")));
    assert_eq!(create["principals_checked"], 122);

    let delete = who_can(dir.path(), "iam:DeleteAccountAlias");
    let names: Vec<String> = allowed(&delete).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names.len(), 12, "{names:?}");
    assert!(names.contains(&"fn4-exploitableNotAction-user".to_owned()));
}

#[test]
fn a_single_authorization_details_file_is_enough() {
    let file = shared_data().join("peer-suites/cloudsplaining/example.json");
    let out = trailguard(&[
        "audit",
        "who-can",
        "iam:CreateAccountAlias",
        "--offline",
        file.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with(
            "Who can iam:CreateAccountAlias on any resource: 10 of 122 principal(s)\n"
        ),
        "{text}"
    );
    assert!(text.contains("  user obama"), "{text}");
}

#[test]
fn who_can_create_policy_versions_in_the_cloudsplaining_account() {
    let dir = cloudsplaining_dir();
    let answer = who_can(dir.path(), "iam:CreatePolicyVersion");
    let entries = allowed(&answer);
    let find = |name: &str| {
        entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| a.as_str())
    };
    assert_eq!(
        find("privesc1-CreateNewPolicyVersion-user"),
        Some("allowed")
    );
    assert_eq!(find("obama"), Some("allowed"));
    // Resource-scoped grants count for "any resource", and say which resource.
    assert_eq!(
        find("fp4-nonExploitableResourceConstraint-user"),
        Some("allowed")
    );
    let fp4 = answer["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "fp4-nonExploitableResourceConstraint-user")
        .unwrap();
    assert_eq!(fp4["resource"], "arn:aws:iam::aws:policy/fp4-*");
    // A grant under a condition on the session is conditional, not dropped.
    assert_eq!(
        find("fp5-nonExploitableConditionConstraint-user"),
        Some("conditional")
    );
    assert_eq!(find("fp2-allow-and-deny-multiple-policies-user"), None);
    assert_eq!(entries.len(), 20, "{entries:?}");

    // On one specific policy only the unscoped grants and matching scopes remain.
    let out = trailguard(&[
        "audit",
        "who-can",
        "iam:CreatePolicyVersion",
        "--resource",
        "arn:aws:iam::200611803367:policy/fn2-target",
        "--offline",
        dir.path().to_str().unwrap(),
        "--format",
        "json",
    ]);
    let scoped: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<String> = allowed(&scoped).into_iter().map(|(n, _)| n).collect();
    assert!(names.contains(&"fn2-exploitableResourceConstraint-user".to_owned()));
    assert!(!names.contains(&"fp4-nonExploitableResourceConstraint-user".to_owned()));
}

const CSV: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated
<root_account>,arn:aws:iam::111122223333:root,2019-01-01T00:00:00+00:00,not_supported,2024-05-30T08:00:00+00:00,not_supported,not_supported,true,true,2019-02-01T00:00:00+00:00,2024-01-01T00:00:00+00:00,us-east-1,s3,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
alice,arn:aws:iam::111122223333:user/alice,2020-01-01T00:00:00+00:00,true,2024-05-31T10:00:00+00:00,2020-01-01T00:00:00+00:00,N/A,false,true,2021-03-01T00:00:00+00:00,2024-05-31T09:00:00+00:00,us-east-1,iam,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
old-contractor,arn:aws:iam::111122223333:user/old-contractor,2021-01-01T00:00:00+00:00,true,2022-06-30T00:00:00+00:00,2021-01-01T00:00:00+00:00,N/A,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
";

/// Every snapshot file, shaped as the CLI prints it, for a small account.
fn full_snapshot(dir: &Path) {
    let files: &[(&str, &str)] = &[
        ("credential-report.csv", CSV),
        (
            "get-account-password-policy.json",
            r#"{"PasswordPolicy": {"MinimumPasswordLength": 14, "RequireSymbols": true, "RequireNumbers": true, "RequireUppercaseCharacters": true, "RequireLowercaseCharacters": true, "AllowUsersToChangePassword": true, "ExpirePasswords": false, "PasswordReusePrevention": 24}}"#,
        ),
        (
            "get-account-summary.json",
            r#"{"SummaryMap": {"AccountMFAEnabled": 1, "AccountAccessKeysPresent": 1, "Users": 2}}"#,
        ),
        (
            "list-account-aliases.json",
            r#"{"AccountAliases": ["acme"]}"#,
        ),
        (
            "list-virtual-mfa-devices.json",
            r#"{"VirtualMFADevices": [{"SerialNumber": "arn:aws:iam::111122223333:mfa/root-account-mfa-device", "User": {"UserName": "", "Arn": "arn:aws:iam::111122223333:root"}, "EnableDate": "2019-01-02T00:00:00+00:00"}]}"#,
        ),
        (
            "list-server-certificates.json",
            r#"{"ServerCertificateMetadataList": [{"Path": "/", "ServerCertificateName": "www-2023", "ServerCertificateId": "ASCAEXAMPLE", "Arn": "arn:aws:iam::111122223333:server-certificate/www-2023", "UploadDate": "2022-01-01T00:00:00Z", "Expiration": "2023-01-01T00:00:00Z"}]}"#,
        ),
        (
            "describe-trails.json",
            r#"{"trailList": [{"Name": "main", "S3BucketName": "acme-trail", "IncludeGlobalServiceEvents": true, "IsMultiRegionTrail": true, "HomeRegion": "us-east-1", "TrailARN": "arn:aws:cloudtrail:us-east-1:111122223333:trail/main", "LogFileValidationEnabled": false, "HasCustomEventSelectors": false, "IsOrganizationTrail": false}]}"#,
        ),
        (
            "get-trail-status/main.json",
            r#"{"IsLogging": true, "LatestDeliveryTime": "2024-05-31T23:00:00Z"}"#,
        ),
        ("list-analyzers.json", r#"{"analyzers": []}"#),
        (
            "list-access-keys/alice.json",
            r#"{"AccessKeyMetadata": [{"UserName": "alice", "AccessKeyId": "AKIAEXAMPLEALICE0001", "Status": "Active", "CreateDate": "2021-03-01T00:00:00Z"}]}"#,
        ),
        (
            "get-account-authorization-details.json",
            r#"{"UserDetailList": [
            {"Path": "/", "UserName": "alice", "UserId": "AIDAEXAMPLE1", "Arn": "arn:aws:iam::111122223333:user/alice", "CreateDate": "2020-01-01T00:00:00Z", "GroupList": ["admins"], "AttachedManagedPolicies": [], "Tags": []},
            {"Path": "/", "UserName": "old-contractor", "UserId": "AIDAEXAMPLE2", "Arn": "arn:aws:iam::111122223333:user/old-contractor", "CreateDate": "2021-01-01T00:00:00Z", "GroupList": [], "AttachedManagedPolicies": [], "UserPolicyList": [{"PolicyName": "read", "PolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:List*", "Resource": "*"}]}}], "Tags": []}],
          "GroupDetailList": [{"Path": "/", "GroupName": "admins", "GroupId": "AGPAEXAMPLE", "Arn": "arn:aws:iam::111122223333:group/admins", "CreateDate": "2020-01-01T00:00:00Z", "GroupPolicyList": [], "AttachedManagedPolicies": [{"PolicyName": "AdministratorAccess", "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}]}],
          "RoleDetailList": [{"Path": "/", "RoleName": "support", "RoleId": "AROAEXAMPLE", "Arn": "arn:aws:iam::111122223333:role/support", "CreateDate": "2020-01-01T00:00:00Z", "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "sts:AssumeRole"}]}, "InstanceProfileList": [], "RolePolicyList": [], "AttachedManagedPolicies": [{"PolicyName": "AWSSupportAccess", "PolicyArn": "arn:aws:iam::aws:policy/AWSSupportAccess"}], "Tags": [], "RoleLastUsed": {}}],
          "Policies": [{"PolicyName": "AdministratorAccess", "PolicyId": "ANPAEXAMPLE", "Arn": "arn:aws:iam::aws:policy/AdministratorAccess", "Path": "/", "DefaultVersionId": "v1", "AttachmentCount": 1, "PermissionsBoundaryUsageCount": 0, "IsAttachable": true, "CreateDate": "2015-02-06T18:39:46Z", "UpdateDate": "2015-02-06T18:39:46Z",
             "PolicyVersionList": [{"Document": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}, "VersionId": "v1", "IsDefaultVersion": true, "CreateDate": "2015-02-06T18:39:46Z"}]}]}"#,
        ),
    ];
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

#[test]
fn a_full_snapshot_gives_the_expected_report() {
    let dir = tempfile::tempdir().unwrap();
    full_snapshot(dir.path());
    let path = dir.path().to_str().unwrap();
    let out = trailguard(&[
        "audit",
        "--offline",
        path,
        "--format",
        "json",
        "--now",
        "2024-06-01T00:00:00Z",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (findings, mut summary) = findings_of(&out.stdout);
    // The source names the temporary directory.
    assert_eq!(summary["source"], format!("snapshot {path}"));
    summary["source"] = "snapshot [dir]".into();
    let keys: Vec<String> = findings
        .iter()
        .map(|f| {
            format!(
                "{} {} {} {}",
                f.rule_id,
                f.severity,
                f.resource
                    .as_ref()
                    .and_then(|r| r.name.clone())
                    .unwrap_or_default(),
                f.message
            )
        })
        .collect();
    insta::assert_snapshot!("full_snapshot_findings", keys.join("\n"));
    insta::assert_json_snapshot!("full_snapshot_summary", summary);

    // The decoded CSV carries no generation time: "now" defaults to its latest time, so the same
    // findings come out without `--now` but for the day counts.
    let default_now = trailguard(&["audit", "--offline", path, "--format", "json"]);
    let (again, again_summary) = findings_of(&default_now.stdout);
    assert_eq!(again_summary["now"], "2024-05-31T10:00:00Z");
    let rules = |f: &[Finding]| f.iter().map(|f| f.rule_id.clone()).collect::<Vec<_>>();
    assert_eq!(rules(&again), rules(&findings));

    // The text report ends with the scores.
    let text = trailguard(&[
        "audit",
        "--offline",
        path,
        "--now",
        "2024-06-01T00:00:00Z",
        "--fail-on",
        "never",
    ]);
    assert_eq!(text.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&text.stdout);
    let scores = &stdout[stdout.find("Posture score").expect("scores printed")..];
    insta::assert_snapshot!("full_snapshot_scores", scores);
}

#[test]
fn a_bad_file_is_reported_with_its_position_and_the_audit_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    full_snapshot(dir.path());
    std::fs::write(
        dir.path().join("list-account-aliases.json"),
        "{\n  \"AccountAliases\": [\"acme\",\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("describe-trails.json"),
        "<html>not json</html>",
    )
    .unwrap();
    let out = trailguard(&[
        "audit",
        "--offline",
        dir.path().to_str().unwrap(),
        "--format",
        "json",
        "--now",
        "2024-06-01T00:00:00Z",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .contains("warning: list-account-aliases.json: not valid JSON for this file at line 3"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "warning: describe-trails.json: not valid JSON for this file at line 1 column 1"
        ),
        "{stderr}"
    );
    let (findings, summary) = findings_of(&out.stdout);
    assert!(
        findings.iter().any(|f| f.rule_id == "PA014"),
        "the rest still runs"
    );
    let skipped: Vec<&str> = summary["checks_not_evaluated"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["rule_id"].as_str().unwrap())
        .collect();
    assert_eq!(skipped, ["PA018", "PA019", "PA020", "PA021", "PA024"]);
    assert_eq!(summary["snapshot_problems"].as_array().unwrap().len(), 2);
}

#[test]
fn an_empty_or_missing_directory_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = trailguard(&["audit", "--offline", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no snapshot files found"));
    let missing = dir.path().join("nope");
    let out = trailguard(&["audit", "--offline", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("neither a snapshot directory nor a file")
    );
    let out = trailguard(&[
        "audit",
        "who-can",
        "iam:CreateUser",
        "--offline",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
}

/// Input that is not the saved output it claims to be is refused, naming the file and what was
/// expected, with exit 2 and no score: it would otherwise read as an empty account that scores well.
#[test]
fn input_that_is_not_what_it_claims_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // A policy document, and `{}`, given as the authorization details file.
    let policy = dir.path().join("admin-policy.json");
    std::fs::write(
        &policy,
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}"#,
    )
    .unwrap();
    let empty = dir.path().join("empty.json");
    std::fs::write(&empty, "{}").unwrap();
    for (file, found) in [
        (
            &policy,
            "found an object with Statement, Version (a policy document?)",
        ),
        (&empty, "found an empty object"),
    ] {
        let out = trailguard(&["audit", "--offline", file.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(out.stdout.is_empty(), "no report, no score");
        assert!(
            err.contains(&format!(
                "`{}`: not the output of `aws iam get-account-authorization-details`: expected a JSON object with UserDetailList or GroupDetailList or RoleDetailList or Policies, {found}",
                file.display()
            )),
            "{err}"
        );
        assert!(!err.contains("Posture score"), "{err}");
    }

    // A wrong file under a known name inside an otherwise good snapshot.
    let snap = tempfile::tempdir().unwrap();
    full_snapshot(snap.path());
    std::fs::copy(
        snap.path().join("get-account-summary.json"),
        snap.path().join("list-account-aliases.json"),
    )
    .unwrap();
    let out = trailguard(&["audit", "--offline", snap.path().to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(out.stdout.is_empty());
    let named = snap.path().join("list-account-aliases.json");
    assert!(
        err.contains(&format!(
            "`{}`: not the output of `aws iam list-account-aliases`: expected a JSON object with AccountAliases, found an object with SummaryMap",
            named.display()
        )),
        "{err}"
    );
    // who-can reads the same input and refuses it the same way.
    let out = trailguard(&[
        "audit",
        "who-can",
        "iam:CreateUser",
        "--offline",
        policy.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not the output of"));
}

#[test]
fn min_severity_drops_lower_findings_but_not_the_scores() {
    let dir = tempfile::tempdir().unwrap();
    full_snapshot(dir.path());
    let path = dir.path().to_str().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "audit",
            "--offline",
            path,
            "--format",
            "json",
            "--now",
            "2024-06-01T00:00:00Z",
        ];
        args.extend_from_slice(extra);
        findings_of(&trailguard(&args).stdout)
    };
    let (all, all_summary) = run(&[]);
    let (high, high_summary) = run(&["--min-severity", "high"]);
    assert!(all.iter().any(|f| f.severity < Severity::High));
    let expected: Vec<&Finding> = all
        .iter()
        .filter(|f| f.severity >= Severity::High)
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(high.iter().collect::<Vec<_>>(), expected);
    assert_eq!(high_summary["sections"], all_summary["sections"]);
}
