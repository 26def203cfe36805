//! Every `aws ...` command in every entry is checked against the AWS CLI's own service models (botocore
//! data): the operation exists, every `--parameter` is an input member (or a global option), and every
//! required member is given. The checker itself is tested on the real models, with negative cases.

mod kb_support;

use std::process::Command;

use trailguard_kb::awscli::{xform_name, Checker, CliProblem};
use trailguard_kb::Kb;

#[test]
fn every_cli_command_in_every_entry_matches_the_cli_model() {
    let kb = Kb::builtin();
    assert!(
        kb.errors().is_empty(),
        "entries that do not parse: {:?}",
        kb.errors()
    );
    let mut checker = Checker::new(kb_support::botocore_data());
    let mut checked = 0;
    let mut problems = Vec::new();
    for entry in kb.entries() {
        for command in &entry.cli_commands {
            checked += 1;
            for problem in checker.check(&command.command) {
                problems.push(format!(
                    "{}:{}: {problem}\n    {}",
                    entry.file, command.line, command.command
                ));
            }
        }
    }
    assert!(
        checked >= kb.entries().len(),
        "every entry has at least one command; checked {checked}"
    );
    assert!(
        problems.is_empty(),
        "{} invalid AWS CLI command(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert_eq!(
        kb_support::readme_number_after("every `aws` command line ("),
        checked,
        "the README's count of checked `aws` command lines"
    );
    assert_eq!(
        kb_support::readme_number_after("monitoring rules: "),
        kb.entries().len(),
        "the README's count of knowledge-base entries"
    );
}

/// The README promises `lookup-events` commands to triage every event: each entry carries at least one
/// (checked against the CLI model with the others above), and one of them looks up the entry's own event
/// or someone or something it names.
#[test]
fn every_entry_has_a_lookup_events_triage_command() {
    let kb = Kb::builtin();
    let missing: Vec<&str> = kb
        .entries()
        .iter()
        .filter(|entry| {
            !entry.cli_commands.iter().any(|c| {
                c.command.starts_with("aws cloudtrail lookup-events ")
                    && c.command.contains("--lookup-attributes AttributeKey=")
            })
        })
        .map(|entry| entry.file.as_str())
        .collect();
    assert!(kb.entries().len() > 100);
    assert!(
        missing.is_empty(),
        "{} entries have no `aws cloudtrail lookup-events --lookup-attributes ...` triage command:\n{}",
        missing.len(),
        missing.join("\n")
    );
}

/// Recognises the problem a broken command must produce.
type ProblemMatcher = fn(&CliProblem) -> bool;

#[test]
fn checker_rejects_broken_commands_on_the_real_models() {
    let mut checker = Checker::new(kb_support::botocore_data());
    let ok = [
        "aws iam create-policy-version --policy-arn arn:aws:iam::111122223333:policy/example --policy-document file://v2.json --set-as-default",
        "aws iam set-default-policy-version --policy-arn arn:aws:iam::111122223333:policy/example --version-id v1",
        "aws iam list-policy-versions --policy-arn arn:aws:iam::111122223333:policy/example --max-items 10 --output table",
        "aws iam enable-mfa-device --user-name bob --serial-number arn:aws:iam::111122223333:mfa/bob --authentication-code-1 123456 --authentication-code-2 654321",
        "aws accessanalyzer create-analyzer --analyzer-name org --type ACCOUNT",
        "aws cloudtrail start-logging --name management-events",
        "aws sts get-caller-identity",
        "aws events put-rule --name iam-alias --event-pattern '{\"source\":[\"aws.iam\"]}'",
        "aws logs put-metric-filter --log-group-name trail --filter-name alias --filter-pattern '{ $.eventName = \"CreateAccountAlias\" }' --metric-transformations metricName=A,metricNamespace=B,metricValue=1",
    ];
    for command in ok {
        assert_eq!(checker.check(command), [], "{command}");
    }
    let bad: [(&str, ProblemMatcher); 8] = [
        ("aws iam create-policy-verison --policy-arn a --policy-document d", |p| matches!(p, CliProblem::UnknownOperation { .. })),
        ("aws iam create-policy-version --policy-arn a", |p| matches!(p, CliProblem::MissingRequired { parameter, .. } if parameter == "policy-document")),
        ("aws iam create-policy-version --policy-arn a --policy-document d --default", |p| matches!(p, CliProblem::UnknownParameter { parameter, .. } if parameter == "default")),
        ("aws iam delete-account-alias --alias x", |p| matches!(p, CliProblem::UnknownParameter { .. } | CliProblem::MissingRequired { .. })),
        ("aws iam create-policy-version --policy-arn a --policy-document d --max-items 3", |p| matches!(p, CliProblem::UnknownParameter { parameter, .. } if parameter == "max-items")),
        ("aws accessanalyser delete-analyzer --analyzer-name x", |p| matches!(p, CliProblem::UnknownService(_))),
        ("aws iam enable-mfa-device --user-name b --serial-number s --authentication-code1 1 --authentication-code-2 2", |p| matches!(p, CliProblem::UnknownParameter { parameter, .. } if parameter == "authentication-code1")),
        ("aws iam delete-user --user-name a \\", |p| matches!(p, CliProblem::Syntax(_))),
    ];
    for (command, expected) in bad {
        let problems = checker.check(command);
        assert!(problems.iter().any(expected), "{command}: {problems:?}");
    }
}

/// Our `xform_name` must agree with botocore's on every operation and input member of the services our
/// entries use, or the checker would accept names the CLI rejects.
#[test]
fn xform_name_agrees_with_botocore_on_every_name() {
    let script = r#"
import json, botocore.session
from botocore import xform_name
s = botocore.session.get_session()
names = set()
for svc in ["iam", "sts", "organizations", "cloudtrail", "accessanalyzer", "events", "logs", "cloudwatch", "sns", "ec2", "kms", "config", "s3", "sso-admin", "identitystore", "rolesanywhere", "sso-oidc", "securityhub", "secretsmanager", "ssm"]:
    m = s.get_service_model(svc)
    for op in m.operation_names:
        names.add(op)
        shape = m.operation_model(op).input_shape
        if shape is not None:
            names.update(shape.members)
print(json.dumps({n: xform_name(n, "-") for n in sorted(names)}))
"#;
    let python = trailguard_testkit::python();
    let out = Command::new(python)
        .args(["-c", script])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected: std::collections::BTreeMap<String, String> =
        serde_json::from_slice(&out.stdout).expect("JSON from python");
    assert!(expected.len() > 1000, "only {} names", expected.len());
    let wrong: Vec<String> = expected
        .iter()
        .filter(|(name, want)| xform_name(name, "-") != **want)
        .map(|(name, want)| {
            format!(
                "{name}: ours `{}`, botocore `{want}`",
                xform_name(name, "-")
            )
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
