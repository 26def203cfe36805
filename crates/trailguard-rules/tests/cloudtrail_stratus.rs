//! Real-data evidence: the Stratus Red Team detonation logs and the Invictus IR attack dataset in
//! `../shared/data/cloudtrail/` run through the whole built-in engine. For each technique file we assert
//! exactly which rule codes fire; techniques outside identity, logging, network monitoring, credential
//! access, access to instances, containers and models, and resources shared outside the account fire
//! none (an unusual instance type launched).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::value::RawValue;
use trailguard_event::Record;
use trailguard_rules::engine::Engine;
use trailguard_rules::{Finding, Outcome, Severity};

fn scan_records(engine: &Engine, text: &str) -> Vec<Finding> {
    let raws: Vec<&RawValue> = serde_json::from_str(text).expect("a JSON array of records");
    let mut worker = engine.new_worker();
    for raw in raws {
        let record = Record::from_raw(raw).expect("a CloudTrail record");
        worker.visit(&record);
    }
    engine.finish(vec![worker])
}

fn stratus_dir() -> std::path::PathBuf {
    trailguard_testkit::shared_data().join("cloudtrail/stratus-red-team/docs/detonation-logs")
}

/// Rule codes each technique must produce; every other technique must produce none.
fn expected() -> BTreeMap<&'static str, Vec<&'static str>> {
    BTreeMap::from([
        (
            "aws.persistence.iam-create-admin-user",
            vec!["CT005", "CT008", "CT019", "CT020", "CT050"],
        ),
        (
            "aws.persistence.iam-create-user-login-profile",
            vec!["CT009", "CT050"],
        ),
        ("aws.persistence.iam-backdoor-user", vec!["CT008", "CT050"]),
        ("aws.persistence.iam-backdoor-role", vec!["CT010", "CT050"]),
        (
            "aws.persistence.iam-create-backdoor-role",
            vec!["CT005", "CT010", "CT050"],
        ),
        (
            "aws.privilege-escalation.iam-update-user-login-profile",
            vec!["CT009", "CT050"],
        ),
        (
            "aws.defense-evasion.cloudtrail-stop",
            vec!["CT017", "CT040"],
        ),
        (
            "aws.defense-evasion.cloudtrail-delete",
            vec!["CT017", "CT040"],
        ),
        (
            "aws.defense-evasion.cloudtrail-event-selectors",
            vec!["CT018"],
        ),
        (
            "aws.defense-evasion.organizations-leave",
            vec!["CT021", "CT034", "CT049"],
        ),
        (
            "aws.initial-access.console-login-without-mfa",
            vec!["CT015"],
        ),
        ("aws.persistence.sts-federation-token", vec!["CT023"]),
        (
            "aws.credential-access.ec2-get-password-data",
            vec!["CT032", "CT034"],
        ),
        (
            "aws.credential-access.secretsmanager-retrieve-secrets",
            vec!["CT057"],
        ),
        (
            "aws.credential-access.secretsmanager-batch-retrieve-secrets",
            vec!["CT057"],
        ),
        (
            "aws.credential-access.ssm-retrieve-securestring-parameters",
            vec!["CT057"],
        ),
        (
            "aws.exfiltration.ec2-security-group-open-port-22-ingress",
            vec!["CT044"],
        ),
        (
            "aws.persistence.rolesanywhere-create-trust-anchor",
            vec!["CT027"],
        ),
        ("aws.persistence.lambda-backdoor-function", vec!["CT062"]),
        ("aws.persistence.lambda-layer-extension", vec!["CT077"]),
        ("aws.persistence.lambda-overwrite-code", vec!["CT077"]),
        ("aws.lateral-movement.ec2-instance-connect", vec!["CT063"]),
        ("aws.exfiltration.ec2-share-ami", vec!["CT064"]),
        ("aws.exfiltration.ec2-share-ebs-snapshot", vec!["CT064"]),
        ("aws.exfiltration.rds-share-snapshot", vec!["CT064"]),
        ("aws.defense-evasion.dns-delete-logs", vec!["CT067"]),
        ("aws.defense-evasion.vpc-remove-flow-logs", vec!["CT067"]),
        ("aws.execution.ec2-user-data", vec!["CT070"]),
        (
            "aws.credential-access.ec2-steal-instance-credentials",
            vec!["CT072", "CT101"],
        ),
        ("aws.execution.ssm-send-command", vec!["CT101"]),
        ("aws.execution.ssm-start-session", vec!["CT101"]),
        ("aws.impact.bedrock-invoke-model", vec!["CT102"]),
        (
            "aws.discovery.ec2-download-user-data",
            vec!["CT034", "CT073"],
        ),
        (
            "aws.lateral-movement.ec2-serial-console-send-ssh-public-key",
            vec!["CT063"],
        ),
        // GPU instances the role may not launch: the refusals, at info (CIS 4.1).
        ("aws.execution.ec2-launch-unusual-instances", vec!["CT034"]),
    ])
}

#[test]
fn each_stratus_technique_fires_exactly_its_rules() {
    let dir = stratus_dir();
    let engine = Engine::builtin();
    let expected = expected();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 35, "only {} technique files", files.len());
    let mut seen = BTreeSet::new();
    let mut mismatches = Vec::new();
    for path in &files {
        let technique = path.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).unwrap();
        let findings = scan_records(&engine, &text);
        let fired: BTreeSet<&str> = findings.iter().map(|f| f.rule_id.as_str()).collect();
        let want: BTreeSet<&str> = expected
            .get(technique.as_str())
            .map(|v| v.iter().copied().collect())
            .unwrap_or_default();
        if fired != want {
            mismatches.push(format!("{technique}: expected {want:?}, fired {fired:?}"));
        }
        if expected.contains_key(technique.as_str()) {
            seen.insert(technique);
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    assert_eq!(
        seen.len(),
        expected.len(),
        "some expected technique files are missing"
    );
}

fn stratus(technique: &str) -> Vec<Finding> {
    let text = std::fs::read_to_string(stratus_dir().join(format!("{technique}.json"))).unwrap();
    scan_records(&Engine::builtin(), &text)
}

#[test]
fn create_admin_user_findings_carry_real_values() {
    let findings = stratus("aws.persistence.iam-create-admin-user");
    let admin = findings.iter().find(|f| f.rule_id == "CT005").unwrap();
    assert_eq!(admin.severity, Severity::Critical);
    assert_eq!(
        admin.event_id.as_deref(),
        Some("083dc4ad-e264-46bc-a407-d0dd31b58bdc")
    );
    assert_eq!(admin.account.as_deref(), Some("229654561268"));
    let actor = admin.actor.as_ref().unwrap();
    assert_eq!(actor.access_key_id.as_deref(), Some("AKIAOZUDECYXYM4ONAN4"));
    assert_eq!(actor.source_ip.as_deref(), Some("075.050.255.67"));
    assert_eq!(
        admin.fix.commands,
        vec!["aws iam detach-user-policy --user-name malicious-iam-user --policy-arn arn:aws:iam::aws:policy/AdministratorAccess"]
    );
    let sequence = findings.iter().find(|f| f.rule_id == "CT020").unwrap();
    assert_eq!(sequence.severity, Severity::Critical);
    assert!(
        sequence.message.contains("AKIAXAFZN8JEPF6L682H"),
        "{}",
        sequence.message
    );
    let key = findings.iter().find(|f| f.rule_id == "CT008").unwrap();
    assert!(key.fix.commands[0].contains("--access-key-id AKIAXAFZN8JEPF6L682H --status Inactive"));
}

#[test]
fn stolen_instance_credentials_are_tied_to_the_command_that_took_them() {
    let findings = stratus("aws.credential-access.ec2-steal-instance-credentials");
    // The command itself is CT101's; the theft it led to is CT072's.
    let [command, theft] = findings.as_slice() else {
        panic!("{findings:#?}");
    };
    assert_eq!(command.rule_id, "CT101");
    assert_eq!(command.severity, Severity::Medium);
    assert_eq!(theft.rule_id, "CT072");
    assert_eq!(theft.severity, Severity::High);
    // The finding sits on the stolen session's first call, and names the command that reached in.
    assert_eq!(theft.event_name.as_deref(), Some("GetCallerIdentity"));
    assert_eq!(
        theft.resource.as_ref().and_then(|r| r.name.as_deref()),
        Some("stratus-red-team-ec2-steal-credentials-role")
    );
    for part in [
        "i-786a3A8B5C0d92eF4",
        "18.236.253.47",
        "user/christophe",
        "`SendCommand`",
        "2 calls",
    ] {
        assert!(theft.message.contains(part), "{part}: {}", theft.message);
    }
}

#[test]
fn leave_organization_was_denied_and_is_an_attempt() {
    let findings: Vec<_> = stratus("aws.defense-evasion.organizations-leave")
        .into_iter()
        .filter(|f| f.rule_id == "CT021")
        .collect();
    assert_eq!(findings.len(), 1);
    assert!(
        matches!(&findings[0].outcome, Outcome::Attempt { error_code } if error_code == "AccessDenied")
    );
    assert_eq!(findings[0].severity, Severity::Medium);
    assert!(findings[0].title.starts_with("Attempted:"));
}

#[test]
fn backdoor_role_evidence_is_the_external_statement() {
    let findings = stratus("aws.persistence.iam-backdoor-role");
    let f = &findings[0];
    assert_eq!(f.evidence.len(), 1);
    assert_eq!(
        f.evidence[0].value["Principal"]["AWS"],
        "arn:aws:iam::193672423079:root"
    );
    assert!(f.message.contains("193672423079"));
}

#[test]
fn federation_token_with_admin_session_policy_is_high() {
    let findings = stratus("aws.persistence.sts-federation-token");
    assert_eq!(findings[0].severity, Severity::High);
    assert_eq!(
        findings[0].resource.as_ref().unwrap().id,
        "arn:aws:sts::742491224508:federated-user/stratus_red_team"
    );
}

#[test]
fn invictus_attack_dataset_fires_the_iam_and_logging_rules() {
    let dir = trailguard_testkit::shared_data().join("cloudtrail/invictus-ir/CloudTrail");
    let engine = Engine::builtin();
    let mut worker = engine.new_worker();
    let mut records = 0;
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let Ok(doc) = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&text)
        else {
            continue;
        };
        let Some(list) = doc.get("Records") else {
            continue;
        };
        let list = serde_json::to_string(list).unwrap();
        let raws: Vec<&RawValue> = serde_json::from_str(&list).unwrap();
        for raw in raws {
            if let Ok(record) = Record::from_raw(raw) {
                records += 1;
                worker.visit(&record);
            }
        }
    }
    assert!(records > 2500, "only {records} records");
    let findings = engine.finish(vec![worker]);
    let by_rule: BTreeMap<&str, usize> = findings.iter().fold(BTreeMap::new(), |mut m, f| {
        *m.entry(f.rule_id.as_str()).or_default() += 1;
        m
    });
    insta::assert_debug_snapshot!("invictus_rule_counts", by_rule);
    for code in [
        "CT005", "CT008", "CT009", "CT010", "CT017", "CT018", "CT021", "CT027", "CT032", "CT039",
        "CT044", "CT062", "CT064", "CT067", "CT072", "CT073", "CT077",
    ] {
        assert!(
            by_rule.contains_key(code),
            "{code} did not fire on the Invictus dataset: {by_rule:?}"
        );
    }
}

#[test]
fn lambda_backdoor_is_high_with_its_removal_command() {
    let findings = stratus("aws.persistence.lambda-backdoor-function");
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let f = &findings[0];
    assert_eq!(f.severity, Severity::High);
    assert_eq!(
        f.resource.as_ref().map(|r| r.id.as_str()),
        Some("arn:aws:lambda:ca-centralnorth-1r:880896431042:function:stratus-red-team-backdoor-f-func")
    );
    assert_eq!(
        f.fix.commands,
        vec!["aws lambda remove-permission --region ca-centralnorth-1r --function-name stratus-red-team-backdoor-f-func --statement-id backdoor"]
    );
    assert!(f.message.contains("every AWS principal"), "{}", f.message);
}

#[test]
fn instance_connect_keys_are_one_finding_per_instance_and_the_serial_console_is_medium() {
    let connect = stratus("aws.lateral-movement.ec2-instance-connect");
    let instances: BTreeSet<_> = connect
        .iter()
        .filter_map(|f| f.resource.as_ref()?.name.clone())
        .collect();
    assert_eq!(instances.len(), 3, "{connect:#?}");
    assert!(connect.iter().all(|f| f.severity == Severity::Low));
    let serial = stratus("aws.lateral-movement.ec2-serial-console-send-ssh-public-key");
    assert_eq!(serial.len(), 4, "{serial:#?}");
    assert!(serial.iter().all(|f| f.severity == Severity::Medium));
    assert!(serial
        .iter()
        .any(|f| f.event_name.as_deref() == Some("EnableSerialConsoleAccess")));
}

#[test]
fn shared_snapshots_and_images_name_the_account_and_how_to_take_the_share_back() {
    let snapshot = stratus("aws.exfiltration.ec2-share-ebs-snapshot");
    assert_eq!(snapshot.len(), 1, "{snapshot:#?}");
    assert_eq!(snapshot[0].severity, Severity::Medium);
    assert!(snapshot[0].message.contains("098797384747"));
    assert!(
        snapshot[0].fix.commands[0].ends_with(
            "--snapshot-id snap-041993b54a9b3af6f --attribute createVolumePermission --operation-type remove --user-ids 098797384747"
        ),
        "{:?}",
        snapshot[0].fix.commands
    );
    let database = stratus("aws.exfiltration.rds-share-snapshot");
    assert_eq!(
        database[0].resource.as_ref().map(|r| r.kind.as_str()),
        Some("AwsRdsDbSnapshot")
    );
    assert!(database[0].fix.commands[0].contains("--values-to-remove 503161813013"));
}
