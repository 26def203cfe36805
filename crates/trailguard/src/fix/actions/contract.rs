//! The contract every fix action keeps, checked row by row: one row per action (two where an action has
//! two prior shapes), with the prior state as the journal holds it today. A new action adds its row.
//!
//! - its offline plan and the calls it makes render as one-line AWS CLI commands and printable boto3, the
//!   hostile names in them quoted by `trailguard_rules::call::quote`;
//! - its `Prior` reads the journal's JSON back and writes the same JSON (old journals still undo);
//! - a prior with an unknown or renamed field is refused, never undone from a guess;
//! - the inverse of the calls made, computed from that JSON, is exactly the calls that put the state back
//!   (newest first), and renders like any call.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use trailguard_rules::call::quote::{python_str, shell_word};
use trailguard_rules::call::{Call, KeyStatus, PasswordPolicySettings, Tag};
use trailguard_rules::remediation::{FixAction, IdentityKind};

use super::*;
use crate::fix::plan::PlanOptions;

/// A name no shell or Python source may take literally.
const HOSTILE: &str = "o'brien\n$(touch /tmp/x)";
const ARN: &str = "arn:aws:iam::111122223333:policy/app";
const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

struct Row {
    action: FixAction,
    /// The prior state as the journal stores it.
    prior: Value,
    /// `Prior` → JSON → `Prior` → JSON, for this action's type.
    round_trip: fn(&Value) -> Result<Value, serde_json::Error>,
    /// The calls the journal records as made.
    made: Vec<Call>,
    /// The undo calls, or a text the refusal holds.
    undo: Result<Vec<Call>, &'static str>,
}

fn round_trip<P: Serialize + DeserializeOwned>(value: &Value) -> Result<Value, serde_json::Error> {
    serde_json::to_value(serde_json::from_value::<P>(value.clone())?)
}

fn trail(name: &str, multi: bool, logging: bool) -> Value {
    json!({
        "name": name,
        "is_multi_region": multi,
        "is_logging": logging,
        "include_global_service_events": false,
        "log_file_validation": false,
        "home_region": "eu-west-1",
    })
}

fn update_trail(multi: Option<bool>, global: Option<bool>, validation: Option<bool>) -> Call {
    Call::UpdateTrail {
        name: HOSTILE.into(),
        is_multi_region_trail: multi,
        include_global_service_events: global,
        enable_log_file_validation: validation,
    }
}

fn rows() -> Vec<Row> {
    let user = || HOSTILE.to_owned();
    let detach = Call::DetachPolicy {
        principal_kind: IdentityKind::User,
        principal_name: user(),
        policy_arn: ADMIN.into(),
    };
    let attach = Call::AttachPolicy {
        principal_kind: IdentityKind::User,
        principal_name: user(),
        policy_arn: ADMIN.into(),
    };
    let delete_inline = Call::DeleteInlinePolicy {
        principal_kind: IdentityKind::User,
        principal_name: user(),
        policy_name: "inline".into(),
    };
    let put_inline = Call::PutInlinePolicy {
        principal_kind: IdentityKind::User,
        principal_name: user(),
        policy_name: "inline".into(),
        policy_document: r#"{"Statement":[]}"#.into(),
    };
    let weak_policy = PasswordPolicySettings {
        minimum_password_length: Some(8),
        allow_users_to_change_password: true,
        ..PasswordPolicySettings::default()
    };
    vec![
        Row {
            action: FixAction::RevertPolicyVersion {
                policy_arn: ARN.into(),
                bad_version: "v2".into(),
                restore_version: None,
                bad_version_was_default: Some(true),
            },
            prior: json!({
                "versions": [
                    {"version_id": "v1", "is_default": false, "created": 1},
                    {"version_id": "v2", "is_default": true, "created": 2},
                ],
                "default_version": "v2",
                "reverted": [{"version_id": "v2", "was_default": true, "document": HOSTILE}],
            }),
            round_trip: round_trip::<revert_policy_versions::Prior>,
            made: vec![
                Call::SetDefaultPolicyVersion {
                    policy_arn: ARN.into(),
                    version_id: "v1".into(),
                },
                Call::DeletePolicyVersion {
                    policy_arn: ARN.into(),
                    version_id: "v2".into(),
                },
            ],
            // The old default was deleted: recreating it as default is the whole undo.
            undo: Ok(vec![Call::CreatePolicyVersion {
                policy_arn: ARN.into(),
                policy_document: HOSTILE.into(),
                set_as_default: true,
            }]),
        },
        Row {
            action: FixAction::DetachPolicy {
                principal_kind: IdentityKind::User,
                principal_name: user(),
                policy_arn: ADMIN.into(),
            },
            prior: json!({"attached": [ADMIN]}),
            round_trip: round_trip::<detach_policy::Prior>,
            made: vec![detach.clone()],
            undo: Ok(vec![attach.clone()]),
        },
        Row {
            action: FixAction::DeleteInlinePolicy {
                principal_kind: IdentityKind::User,
                principal_name: user(),
                policy_name: "inline".into(),
            },
            prior: json!({"document": r#"{"Statement":[]}"#}),
            round_trip: round_trip::<delete_inline_policy::Prior>,
            made: vec![delete_inline.clone()],
            undo: Ok(vec![put_inline.clone()]),
        },
        Row {
            action: FixAction::DeactivateAccessKey {
                user_name: user(),
                access_key_id: "AKIAEXAMPLE".into(),
            },
            prior: json!({"status": "Active"}),
            round_trip: round_trip::<deactivate_access_key::Prior>,
            made: vec![Call::UpdateAccessKey {
                user_name: user(),
                access_key_id: "AKIAEXAMPLE".into(),
                status: KeyStatus::Inactive,
            }],
            undo: Ok(vec![Call::UpdateAccessKey {
                user_name: user(),
                access_key_id: "AKIAEXAMPLE".into(),
                status: KeyStatus::Active,
            }]),
        },
        Row {
            action: FixAction::DeleteLoginProfile { user_name: user() },
            prior: json!({"login_profile": true, "password_reset_required": false}),
            round_trip: round_trip::<delete_login_profile::Prior>,
            made: vec![Call::DeleteLoginProfile { user_name: user() }],
            undo: Err("never returns a password"),
        },
        Row {
            action: FixAction::SetCisPasswordPolicy,
            prior: json!({"password_policy": serde_json::to_value(&weak_policy).unwrap()}),
            round_trip: round_trip::<set_cis_password_policy::Prior>,
            made: vec![Call::UpdateAccountPasswordPolicy(
                set_cis_password_policy::cis_password_policy(Some(&weak_policy)),
            )],
            undo: Ok(vec![Call::UpdateAccountPasswordPolicy(weak_policy.clone())]),
        },
        Row {
            action: FixAction::SetCisPasswordPolicy,
            prior: json!({"password_policy": null}),
            round_trip: round_trip::<set_cis_password_policy::Prior>,
            made: vec![Call::UpdateAccountPasswordPolicy(
                set_cis_password_policy::cis_password_policy(None),
            )],
            undo: Ok(vec![Call::DeleteAccountPasswordPolicy]),
        },
        Row {
            action: FixAction::RequirePasswordReset { user_name: user() },
            prior: json!({"password_reset_required": false}),
            round_trip: round_trip::<require_password_reset::Prior>,
            made: vec![Call::UpdateLoginProfile {
                user_name: user(),
                password_reset_required: true,
            }],
            undo: Ok(vec![Call::UpdateLoginProfile {
                user_name: user(),
                password_reset_required: false,
            }]),
        },
        Row {
            action: FixAction::DeleteUnusedUser { user_name: user() },
            prior: json!({"user": {
                "user_name": HOSTILE,
                "arn": "arn:aws:iam::111122223333:user/old",
                "path": "/ops/",
                "permissions_boundary": null,
                "tags": [{"key": "team", "value": HOSTILE}],
                "groups": ["devs"],
                "attached_policies": [ADMIN],
                "inline_policies": [{"name": "inline", "document": r#"{"Statement":[]}"#}],
                "access_keys": [{"access_key_id": "AKIA1", "status": "Active"}],
                "has_login_profile": true,
                "mfa_devices": [],
                "signing_certificates": [],
                "ssh_public_keys": [],
                "service_specific_credentials": [],
            }}),
            round_trip: round_trip::<delete_unused_user::Prior>,
            made: vec![
                Call::DeleteLoginProfile { user_name: user() },
                Call::DeleteAccessKey {
                    user_name: user(),
                    access_key_id: "AKIA1".into(),
                },
                Call::RemoveUserFromGroup {
                    group_name: "devs".into(),
                    user_name: user(),
                },
                detach.clone(),
                delete_inline.clone(),
                Call::DeleteUser { user_name: user() },
            ],
            undo: Ok(vec![
                Call::CreateUser {
                    user_name: user(),
                    path: Some("/ops/".into()),
                    permissions_boundary: None,
                    tags: vec![Tag {
                        key: "team".into(),
                        value: HOSTILE.into(),
                    }],
                },
                put_inline,
                attach,
                Call::AddUserToGroup {
                    group_name: "devs".into(),
                    user_name: user(),
                },
            ]),
        },
        Row {
            action: FixAction::CreateMultiRegionTrail {
                bucket_name: Some(HOSTILE.into()),
            },
            prior: json!({"trails": []}),
            round_trip: round_trip::<create_multi_region_trail::Prior>,
            made: vec![
                Call::CreateTrail {
                    name: create_multi_region_trail::TRAIL_NAME.into(),
                    s3_bucket_name: HOSTILE.into(),
                },
                Call::StartLogging {
                    name: create_multi_region_trail::TRAIL_NAME.into(),
                },
            ],
            // A trail the change created is deleted, not stopped first.
            undo: Ok(vec![Call::DeleteTrail {
                name: create_multi_region_trail::TRAIL_NAME.into(),
            }]),
        },
        Row {
            action: FixAction::CreateMultiRegionTrail { bucket_name: None },
            prior: json!({"trail": trail(HOSTILE, false, false)}),
            round_trip: round_trip::<create_multi_region_trail::Prior>,
            made: vec![
                update_trail(Some(true), Some(true), None),
                Call::StartLogging {
                    name: HOSTILE.into(),
                },
            ],
            undo: Ok(vec![
                Call::StopLogging {
                    name: HOSTILE.into(),
                },
                update_trail(Some(false), Some(false), None),
            ]),
        },
        Row {
            action: FixAction::MakeTrailMultiRegion {
                trail_name: HOSTILE.into(),
            },
            prior: json!({"trail": trail(HOSTILE, false, true)}),
            round_trip: round_trip::<make_trail_multi_region::Prior>,
            made: vec![update_trail(Some(true), Some(true), None)],
            undo: Ok(vec![update_trail(Some(false), Some(false), None)]),
        },
        Row {
            action: FixAction::EnableLogFileValidation {
                trail_name: HOSTILE.into(),
            },
            prior: json!({"trail": trail(HOSTILE, true, true)}),
            round_trip: round_trip::<enable_log_file_validation::Prior>,
            made: vec![update_trail(None, None, Some(true))],
            undo: Ok(vec![update_trail(None, None, Some(false))]),
        },
        Row {
            action: FixAction::StartLogging {
                trail_name: HOSTILE.into(),
            },
            prior: json!({"is_logging": false}),
            round_trip: round_trip::<start_logging::Prior>,
            made: vec![Call::StartLogging {
                name: HOSTILE.into(),
            }],
            undo: Ok(vec![Call::StopLogging {
                name: HOSTILE.into(),
            }]),
        },
        Row {
            action: FixAction::RestoreAccountAlias {
                alias: "prod".into(),
            },
            prior: json!({"aliases": [HOSTILE]}),
            round_trip: round_trip::<restore_account_alias::Prior>,
            made: vec![
                Call::DeleteAccountAlias {
                    alias: HOSTILE.into(),
                },
                Call::CreateAccountAlias {
                    alias: "prod".into(),
                },
            ],
            undo: Ok(vec![
                Call::DeleteAccountAlias {
                    alias: "prod".into(),
                },
                Call::CreateAccountAlias {
                    alias: HOSTILE.into(),
                },
            ]),
        },
        // The generated policy put new, a managed policy detached, another inline policy deleted: undo
        // puts back the deleted one, re-attaches, and removes the generated one, newest first.
        Row {
            action: generated_policy_action(),
            prior: json!({
                "attached": [ADMIN],
                "inline_policies": [{"name": "inline", "document": HOSTILE}],
            }),
            round_trip: round_trip::<apply_generated_policy::Prior>,
            made: vec![
                role_call("put", GENERATED),
                role_call("detach", ADMIN),
                role_call("delete", "inline"),
            ],
            undo: Ok(vec![
                role_call("put-inline", HOSTILE),
                role_call("attach", ADMIN),
                role_call("delete", apply_generated_policy::POLICY_NAME),
            ]),
        },
        // A generated policy of that name was already there, older: undo puts its document back.
        Row {
            action: generated_policy_action(),
            prior: json!({
                "attached": [],
                "inline_policies": [{"name": apply_generated_policy::POLICY_NAME, "document": HOSTILE}],
            }),
            round_trip: round_trip::<apply_generated_policy::Prior>,
            made: vec![role_call("put", GENERATED)],
            undo: Ok(vec![role_call("put", HOSTILE)]),
        },
        Row {
            action: FixAction::Manual {
                description: HOSTILE.into(),
            },
            prior: json!({}),
            round_trip: round_trip::<manual::Prior>,
            made: vec![],
            undo: Err("no way to put this back"),
        },
    ]
}

const GENERATED: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::logs/x"]}]}"#;

fn generated_policy_action() -> FixAction {
    FixAction::ApplyGeneratedPolicy {
        principal_kind: IdentityKind::Role,
        principal_name: HOSTILE.into(),
        policy_name: apply_generated_policy::POLICY_NAME.into(),
        policy_document: GENERATED.into(),
    }
}

/// A call on the role named [`HOSTILE`]: `put` the generated policy's name with a document,
/// `put-inline` the policy `inline`, `delete` an inline policy, `detach`/`attach` a managed one.
fn role_call(what: &str, value: &str) -> Call {
    let role = || HOSTILE.to_owned();
    let kind = IdentityKind::Role;
    match what {
        "put" | "put-inline" => Call::PutInlinePolicy {
            principal_kind: kind,
            principal_name: role(),
            policy_name: if what == "put" {
                apply_generated_policy::POLICY_NAME.into()
            } else {
                "inline".into()
            },
            policy_document: value.into(),
        },
        "delete" => Call::DeleteInlinePolicy {
            principal_kind: kind,
            principal_name: role(),
            policy_name: value.into(),
        },
        "detach" => Call::DetachPolicy {
            principal_kind: kind,
            principal_name: role(),
            policy_arn: value.into(),
        },
        _ => Call::AttachPolicy {
            principal_kind: kind,
            principal_name: role(),
            policy_arn: value.into(),
        },
    }
}

/// A call renders as one line of shell with every hostile value quoted, and as printable boto3.
fn assert_renders(call: &Call) {
    let cli = call.to_cli();
    let python = call.to_python();
    let form = call.api_form();
    assert!(cli.starts_with(&format!("aws {} ", form.service)), "{cli}");
    assert!(!cli.contains(['\n', '\r']), "{cli}");
    assert!(
        python.starts_with(&format!("{}.", form.service)),
        "{python}"
    );
    assert!(python.chars().all(|c| (' '..='~').contains(&c)), "{python}");
    let holds_hostile = |value: &Value| value.as_str() == Some(HOSTILE);
    if form.params.iter().any(|(_, value)| holds_hostile(value)) {
        let word = shell_word(HOSTILE).unwrap();
        assert!(cli.contains(&word), "{cli} lacks {word}");
        assert!(python.contains(&python_str(HOSTILE)), "{python}");
    }
}

#[test]
fn every_action_keeps_the_contract() {
    let opts = PlanOptions {
        trail_bucket: Some("trail-logs".into()),
        ..PlanOptions::default()
    };
    for row in rows() {
        let kind = row.action.kind();
        // Offline, the action resolves (or says why not) and its calls render.
        if let Resolution::Step(step) = resolve(&row.action, None, &opts).unwrap() {
            assert!(
                step.prior.is_none(),
                "{kind}: an offline plan read no state"
            );
            step.calls.iter().for_each(assert_renders);
        }
        row.made.iter().for_each(assert_renders);

        // The journal's JSON reads back as the typed prior and writes the same JSON.
        let back = (row.round_trip)(&row.prior).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(back, row.prior, "{kind}");

        // Undo from the JSON as it comes out of the journal's text.
        let stored: Value = serde_json::from_str(&row.prior.to_string()).unwrap();
        match (inverse(&row.action, &stored, &row.made), &row.undo) {
            (Ok(calls), Ok(expected)) => {
                assert_eq!(&calls, expected, "{kind}");
                calls.iter().for_each(assert_renders);
            }
            (Err(reason), Err(expected)) => assert!(reason.contains(expected), "{kind}: {reason}"),
            (got, expected) => panic!("{kind}: undo gave {got:?}, expected {expected:?}"),
        }

        // A field the type does not know, or one renamed since, is refused loudly.
        let mut unknown = row.prior.clone();
        unknown["added_later"] = json!(true);
        let mut renamed = row.prior.clone();
        let fields = renamed.as_object_mut().unwrap();
        if let Some(first) = fields.keys().next().cloned() {
            let value = fields.remove(&first).unwrap();
            fields.insert(format!("{first}_v2"), value);
        }
        for changed in [unknown, renamed] {
            if changed == row.prior {
                continue;
            }
            assert!((row.round_trip)(&changed).is_err(), "{kind}: {changed}");
            let refusal = inverse(&row.action, &changed, &row.made).unwrap_err();
            assert!(
                refusal.contains("does not read back") || row.undo.is_err(),
                "{kind}: {refusal}"
            );
        }
    }
}

/// The state types a prior holds (`fix/aws.rs`) refuse unknown fields too, however deep.
#[test]
fn nested_state_refuses_unknown_fields() {
    let row = rows()
        .into_iter()
        .find(|r| r.action.kind() == "delete_unused_user")
        .unwrap();
    let mut prior = row.prior.clone();
    prior["user"]["access_keys"][0]["last_used"] = json!("2026-01-01");
    assert!((row.round_trip)(&prior).is_err());
    let trail_row = rows()
        .into_iter()
        .find(|r| r.action.kind() == "make_trail_multi_region")
        .unwrap();
    let mut prior = trail_row.prior.clone();
    prior["trail"]["kms_key_id"] = json!("k");
    let refusal = inverse(&trail_row.action, &prior, &trail_row.made).unwrap_err();
    assert!(refusal.contains("unknown field `kms_key_id`"), "{refusal}");
}
