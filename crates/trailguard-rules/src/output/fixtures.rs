//! Shared sample findings for the output snapshot tests: one per producer and shape (a critical change
//! with fix actions, a denied attempt, a root login, a posture check without an event, a policy-file check
//! with a location), so every format is exercised on every optional field.

use serde_json::json;

use crate::finding::{
    Actor, Evidence, Finding, FindingSource, Fix, Location, Outcome, Resource, Severity,
};
use crate::remediation::FixAction;

pub(crate) fn sample_findings() -> Vec<Finding> {
    vec![
        policy_version_admin(),
        access_key_for_other_user_denied(),
        console_login_without_mfa(),
        password_policy_weak(),
        policy_file_wildcard(),
    ]
}

fn policy_version_admin() -> Finding {
    Finding {
        id: Finding::stable_id(&["CT001", "3b5c2f9e-7d1a-4c1e-9a51-0c0a7b2f1e11"]),
        rule_id: "CT001".into(),
        rule_name: "create-policy-version-admin".into(),
        title: "Policy version grants full administrator access".into(),
        severity: Severity::Critical,
        source: FindingSource::Cloudtrail,
        outcome: Outcome::Success,
        message: "alice created version v2 of policy ops-readonly granting `*` on `*` and set it as default."
            .into(),
        event_time: Some("2024-03-01T10:15:42Z".into()),
        event_name: Some("CreatePolicyVersion".into()),
        event_source: Some("iam.amazonaws.com".into()),
        event_id: Some("3b5c2f9e-7d1a-4c1e-9a51-0c0a7b2f1e11".into()),
        account: Some("111122223333".into()),
        region: Some("us-east-1".into()),
        actor: Some(Actor {
            arn: Some("arn:aws:iam::111122223333:user/alice".into()),
            identity_type: Some("IAMUser".into()),
            user_name: Some("alice".into()),
            access_key_id: Some("AKIAIOSFODNN7EXAMPLE".into()),
            source_ip: Some("198.51.100.23".into()),
            user_agent: Some("aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0 exe/x86_64.ubuntu.22".into()),
            mfa: Some(false),
        }),
        resource: Some(Resource {
            kind: "AwsIamPolicy".into(),
            id: "arn:aws:iam::111122223333:policy/ops-readonly".into(),
            name: Some("ops-readonly".into()),
        }),
        evidence: vec![
            Evidence {
                path: "requestParameters.policyDocument.Statement[0]".into(),
                value: json!({"Effect": "Allow", "Action": "*", "Resource": "*"}),
            },
            Evidence {
                path: "requestParameters.setAsDefault".into(),
                value: json!(true),
            },
        ],
        attack: vec!["T1098.003".into(), "T1484".into()],
        compliance: vec!["CIS-1.16".into()],
        fix: Fix {
            summary: "Make v1 the default version again and delete v2.".into(),
            commands: vec![
                "aws iam set-default-policy-version --policy-arn arn:aws:iam::111122223333:policy/ops-readonly --version-id v1".into(),
                "aws iam delete-policy-version --policy-arn arn:aws:iam::111122223333:policy/ops-readonly --version-id v2".into(),
            ],
            kb_entry: Some("CreatePolicyVersion".into()),
            actions: vec![FixAction::RevertPolicyVersion {
                policy_arn: "arn:aws:iam::111122223333:policy/ops-readonly".into(),
                bad_version: "v2".into(),
                restore_version: Some("v1".into()),
                bad_version_was_default: None,
            }],
        },
        notes: vec![],
        location: None,
    }
}

fn access_key_for_other_user_denied() -> Finding {
    Finding {
        id: Finding::stable_id(&["CT010", "a7f0d3c2-55e4-4b8a-8f2c-1d9e6b0c4a77"]),
        rule_id: "CT010".into(),
        rule_name: "access-key-created-for-other-user".into(),
        title: "Access key created for another user".into(),
        severity: Severity::Medium,
        source: FindingSource::Cloudtrail,
        outcome: Outcome::Attempt {
            error_code: "AccessDenied".into(),
        },
        message: "Role session dev-ci/build-42 tried to create an access key for user backup-admin; AWS denied it."
            .into(),
        event_time: Some("2024-03-01T11:02:07Z".into()),
        event_name: Some("CreateAccessKey".into()),
        event_source: Some("iam.amazonaws.com".into()),
        event_id: Some("a7f0d3c2-55e4-4b8a-8f2c-1d9e6b0c4a77".into()),
        account: Some("111122223333".into()),
        region: Some("us-east-1".into()),
        actor: Some(Actor {
            arn: Some("arn:aws:sts::111122223333:assumed-role/dev-ci/build-42".into()),
            identity_type: Some("AssumedRole".into()),
            user_name: None,
            access_key_id: Some("ASIAY34FZKBOKMUTVV7A".into()),
            source_ip: Some("2001:db8::7".into()),
            user_agent: Some("Boto3/1.34.50 md/Botocore#1.34.50 ua/2.0 os/linux".into()),
            mfa: None,
        }),
        resource: Some(Resource {
            kind: "AwsIamUser".into(),
            id: "arn:aws:iam::111122223333:user/backup-admin".into(),
            name: Some("backup-admin".into()),
        }),
        evidence: vec![Evidence {
            path: "requestParameters.userName".into(),
            value: json!("backup-admin"),
        }],
        attack: vec!["T1098.001".into()],
        compliance: vec![],
        fix: Fix {
            summary: "Nothing changed; find out why dev-ci tried to mint keys for another user.".into(),
            commands: vec![
                "aws iam list-access-keys --user-name backup-admin".into(),
            ],
            kb_entry: Some("CreateAccessKey".into()),
            actions: vec![],
        },
        notes: vec!["The call failed with AccessDenied: an attempt, not a change.".into()],
        location: None,
    }
}

fn console_login_without_mfa() -> Finding {
    Finding {
        id: Finding::stable_id(&["CT020", "0e6a1f8b-2c3d-4e5f-8a9b-7c6d5e4f3a21"]),
        rule_id: "CT020".into(),
        rule_name: "root-console-login-without-mfa".into(),
        title: "Root user signed in to the console without MFA".into(),
        severity: Severity::High,
        source: FindingSource::Cloudtrail,
        outcome: Outcome::Success,
        message: "The root user signed in from 203.0.113.50 with a password only.".into(),
        event_time: Some("2024-03-02T06:44:10Z".into()),
        event_name: Some("ConsoleLogin".into()),
        event_source: Some("signin.amazonaws.com".into()),
        event_id: Some("0e6a1f8b-2c3d-4e5f-8a9b-7c6d5e4f3a21".into()),
        account: Some("111122223333".into()),
        region: Some("us-east-1".into()),
        actor: Some(Actor {
            arn: Some("arn:aws:iam::111122223333:root".into()),
            identity_type: Some("Root".into()),
            user_name: None,
            access_key_id: None,
            source_ip: Some("203.0.113.50".into()),
            user_agent: Some(
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Safari/605.1.15"
                    .into(),
            ),
            mfa: Some(false),
        }),
        resource: Some(Resource {
            kind: "AwsAccount".into(),
            id: "111122223333".into(),
            name: None,
        }),
        evidence: vec![Evidence {
            path: "additionalEventData.MFAUsed".into(),
            value: json!("No"),
        }],
        attack: vec!["T1078.004".into()],
        compliance: vec!["CIS-1.5".into(), "CIS-1.7".into()],
        fix: Fix {
            summary: "Enable MFA on the root user and stop using it for daily work.".into(),
            commands: vec![],
            kb_entry: Some("ConsoleLogin".into()),
            actions: vec![FixAction::Manual {
                description: "Enroll a hardware MFA device for the root user in the console.".into(),
            }],
        },
        notes: vec![],
        location: None,
    }
}

fn password_policy_weak() -> Finding {
    Finding {
        id: Finding::stable_id(&["PA003", "111122223333"]),
        rule_id: "PA003".into(),
        rule_name: "password-policy-below-cis".into(),
        title: "Account password policy is weaker than CIS".into(),
        severity: Severity::Low,
        source: FindingSource::Posture,
        outcome: Outcome::Success,
        message: "Minimum length is 8 (CIS: 14) and passwords may be reused.".into(),
        event_time: None,
        event_name: None,
        event_source: None,
        event_id: None,
        account: Some("111122223333".into()),
        region: None,
        actor: None,
        resource: Some(Resource {
            kind: "AwsAccount".into(),
            id: "111122223333".into(),
            name: None,
        }),
        evidence: vec![Evidence {
            path: "PasswordPolicy".into(),
            value: json!({"MinimumPasswordLength": 8, "PasswordReusePrevention": null}),
        }],
        attack: vec![],
        compliance: vec!["CIS-1.8".into(), "CIS-1.9".into()],
        fix: Fix {
            summary: "Raise the password policy to CIS values.".into(),
            commands: vec!["aws iam update-account-password-policy --minimum-password-length 14 --password-reuse-prevention 24 --require-symbols --require-numbers --require-uppercase-characters --require-lowercase-characters".into()],
            kb_entry: Some("UpdateAccountPasswordPolicy".into()),
            actions: vec![FixAction::SetCisPasswordPolicy],
        },
        notes: vec![],
        location: None,
    }
}

fn policy_file_wildcard() -> Finding {
    Finding {
        id: Finding::stable_id(&["PC004", "policies/deploy.json", "Statement[1]"]),
        rule_id: "PC004".into(),
        rule_name: "service-wildcard-on-sensitive-service".into(),
        title: "Statement allows every IAM action".into(),
        severity: Severity::Info,
        source: FindingSource::Policy,
        outcome: Outcome::Success,
        message: "`iam:*` on `*` lets the holder grant itself any permission.".into(),
        event_time: None,
        event_name: None,
        event_source: None,
        event_id: None,
        account: None,
        region: None,
        actor: None,
        resource: Some(Resource {
            kind: "PolicyDocument".into(),
            id: "policies/deploy.json".into(),
            name: Some("deploy.json".into()),
        }),
        evidence: vec![Evidence {
            path: "Statement[1].Action".into(),
            value: json!("iam:*"),
        }],
        attack: vec!["T1098".into()],
        compliance: vec![],
        fix: Fix {
            summary: "List the IAM actions the deploy role needs instead of `iam:*`.".into(),
            commands: vec![],
            kb_entry: None,
            actions: vec![],
        },
        notes: vec![],
        location: Some(Location {
            file: "policies/deploy.json".into(),
            line: Some(12),
            column: Some(7),
            json_path: Some("Statement[1].Action".into()),
        }),
    }
}
