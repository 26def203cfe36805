//! End-to-end: every `--format asff` document trailguard writes for the sample trail is a valid
//! `BatchImportFindings` request according to Security Hub's own API model (botocore's `securityhub`
//! service definition): required members present, no unknown members, enums, types and length limits.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn securityhub_model() -> Value {
    let python = trailguard_testkit::python();
    let out = Command::new(python)
        .args([
            "-c",
            "import botocore, os; print(os.path.dirname(botocore.__file__))",
        ])
        .output()
        .expect("python3 runs (scripts/setup.sh installs botocore)");
    assert!(
        out.status.success(),
        "botocore is not installed: run scripts/setup.sh"
    );
    let root =
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim()).join("data/securityhub");
    let version = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .max()
        .expect("a securityhub API version");
    let gz = version.join("service-2.json.gz");
    let mut text = String::new();
    if gz.exists() {
        flate2::read::MultiGzDecoder::new(std::fs::File::open(gz).unwrap())
            .read_to_string(&mut text)
            .unwrap();
    } else {
        text = std::fs::read_to_string(version.join("service-2.json")).unwrap();
    }
    serde_json::from_str(&text).unwrap()
}

/// Checks `value` against the model shape `shape`, collecting every problem with its JSON path.
fn check(value: &Value, shape: &str, shapes: &Value, path: &str, problems: &mut Vec<String>) {
    let def = &shapes[shape];
    match def["type"].as_str().unwrap_or("") {
        "structure" => {
            let Some(object) = value.as_object() else {
                problems.push(format!("{path}: expected an object for {shape}"));
                return;
            };
            for required in def["required"].as_array().into_iter().flatten() {
                let name = required.as_str().unwrap();
                if !object.contains_key(name) {
                    problems.push(format!("{path}: missing required `{name}` of {shape}"));
                }
            }
            for (key, member) in object {
                match def["members"].get(key) {
                    Some(m) => check(
                        member,
                        m["shape"].as_str().unwrap(),
                        shapes,
                        &format!("{path}.{key}"),
                        problems,
                    ),
                    None => problems.push(format!("{path}: `{key}` is not a member of {shape}")),
                }
            }
        }
        "list" => match value.as_array() {
            Some(items) => {
                if let Some(max) = def["max"].as_u64() {
                    if items.len() as u64 > max {
                        problems.push(format!("{path}: {} items, at most {max}", items.len()));
                    }
                }
                for (i, item) in items.iter().enumerate() {
                    check(
                        item,
                        def["member"]["shape"].as_str().unwrap(),
                        shapes,
                        &format!("{path}[{i}]"),
                        problems,
                    );
                }
            }
            None => problems.push(format!("{path}: expected a list for {shape}")),
        },
        "map" => match value.as_object() {
            Some(entries) => {
                for (key, item) in entries {
                    check(
                        item,
                        def["value"]["shape"].as_str().unwrap(),
                        shapes,
                        &format!("{path}.{key}"),
                        problems,
                    );
                }
            }
            None => problems.push(format!("{path}: expected a map for {shape}")),
        },
        "string" | "timestamp" => match value.as_str() {
            Some(text) => {
                if let Some(allowed) = def["enum"].as_array() {
                    if !allowed.iter().any(|a| a == text) {
                        problems.push(format!("{path}: `{text}` is not one of {allowed:?}"));
                    }
                }
                if let Some(max) = def["max"].as_u64() {
                    if text.chars().count() as u64 > max {
                        problems.push(format!("{path}: longer than {max}"));
                    }
                }
            }
            None => problems.push(format!("{path}: expected a string for {shape}")),
        },
        "integer" | "long" => {
            if !value.is_i64() && !value.is_u64() {
                problems.push(format!("{path}: expected an integer for {shape}"));
            }
        }
        "double" | "float" => {
            if !value.is_number() {
                problems.push(format!("{path}: expected a number for {shape}"));
            }
        }
        "boolean" => {
            if !value.is_boolean() {
                problems.push(format!("{path}: expected a boolean for {shape}"));
            }
        }
        other => problems.push(format!("{path}: unknown shape type `{other}` ({shape})")),
    }
}

#[test]
fn asff_batches_match_the_security_hub_api_model() {
    let model = securityhub_model();
    let shapes = &model["shapes"];
    assert!(shapes["AwsSecurityFinding"].is_object());

    // The checker itself catches what Security Hub would reject.
    let mut caught = Vec::new();
    let bad = serde_json::json!({"Findings": [{
        "SchemaVersion": "2018-10-08", "Id": "x", "ProductArn": "p", "GeneratorId": "g",
        "AwsAccountId": "111122223333", "CreatedAt": "2024-01-01T00:00:00Z",
        "UpdatedAt": "2024-01-01T00:00:00Z", "Description": "d",
        "Resources": [{"Type": "AwsIamUser"}],
        "Severity": {"Label": "SEVERE"},
        "Colour": "red"
    }]});
    check(
        &bad,
        "BatchImportFindingsRequest",
        shapes,
        "bad",
        &mut caught,
    );
    let caught = caught.join("\n");
    for expected in [
        "missing required `Title`",
        "missing required `Id`",
        "`SEVERE`",
        "`Colour`",
    ] {
        assert!(
            caught.contains(expected),
            "{expected} not caught in:\n{caught}"
        );
    }

    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/cloudtrail");
    let out = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args([
            "scan",
            samples.to_str().unwrap(),
            "--format",
            "asff",
            "--fail-on",
            "never",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut problems = Vec::new();
    let mut findings = 0;
    let mut types = BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        let batch: Value = serde_json::from_str(line).unwrap();
        check(
            &batch,
            "BatchImportFindingsRequest",
            shapes,
            &format!("batch[{i}]"),
            &mut problems,
        );
        for finding in batch["Findings"].as_array().unwrap() {
            findings += 1;
            types.insert(finding["Resources"][0]["Type"].as_str().unwrap().to_owned());
        }
    }
    assert!(findings > 10, "{findings}");
    assert!(problems.is_empty(), "{problems:#?}");
    // The sample touches users, roles, policies, trails and the account itself.
    for kind in ["AwsIamUser", "AwsIamPolicy", "AwsCloudTrailTrail"] {
        assert!(types.contains(kind), "{types:?}");
    }
}
