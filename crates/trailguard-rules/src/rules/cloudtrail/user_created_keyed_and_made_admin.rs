//! CT020 user-created-keyed-and-made-admin: one principal creates a user, gives it a credential and an
//! administrator policy within an hour. A sequence rule.

use std::collections::HashMap;

use trailguard_event::Record;

use super::common::{
    account_scoped_name, call_failed, caller_key, evidence, finding_from_event, policy_text,
    privileged_policy, request_field, sh, user_resource,
};
use super::new_user_given_access_key::target_user;
use crate::call::{Call, KeyStatus};
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::{FixAction, IdentityKind};
use crate::rule::{Observation, Observed, Report, SequenceRule};
use crate::Finding;

pub const META: RuleMeta = RuleMeta {
    code: "CT020",
    name: "user-created-keyed-and-made-admin",
    title: "User created, given credentials and made administrator",
    family: Family::Cloudtrail,
    severity: Severity::Critical,
    attack: &["T1136.003", "T1098.001", "T1098"],
    compliance: &[],
    events: &[
        ("iam.amazonaws.com", "CreateUser"),
        ("iam.amazonaws.com", "CreateAccessKey"),
        ("iam.amazonaws.com", "CreateLoginProfile"),
        ("iam.amazonaws.com", "AttachUserPolicy"),
        ("iam.amazonaws.com", "PutUserPolicy"),
    ],
    kb_entries: &["CreateUser", "CreateAccessKey", "CreateLoginProfile", "AttachUserPolicy", "PutUserPolicy"],
    doc: RuleDoc {
        what: "Within one hour, the same principal (a) creates an IAM user, (b) gives it a credential \
               (`CreateAccessKey` or `CreateLoginProfile`) and (c) makes it an administrator, by attaching a \
               privileged AWS managed policy (`AdministratorAccess`, `IAMFullAccess`, ...) or putting an inline \
               policy that grants every action. The steps may come in any order; one finding per user.",
        why: "This is the complete \"create an admin backdoor user\" play (Stratus Red Team \
              `iam-create-admin-user`): each step alone can be routine, together they give the actor a second, \
              fully privileged identity that survives the loss of the first.",
        example: "`christophe` calls CreateUser `malicious-iam-user`, CreateAccessKey for it and AttachUserPolicy \
                  `AdministratorAccess`, all in the same second.",
        fix: "Treat as an incident: deactivate the new user's keys and console password, detach its policies, \
              then investigate the creating principal, whose own credentials are probably compromised.",
        references: &[
            "https://stratus-red-team.cloud/attack-techniques/AWS/aws.persistence.iam-create-admin-user/",
            "https://attack.mitre.org/techniques/T1136/003/",
        ],
    },
};

pub const WINDOW_MS: i64 = 60 * 60 * 1000;

const CREATE_USER: u8 = 0;
const CREDENTIAL: u8 = 1;
const ADMIN: u8 = 2;
/// `detail` of a CreateLoginProfile observation.
const CONSOLE_PASSWORD: &str = "console-password";

/// The whole create-key-admin play by one principal.
#[derive(Debug, Default)]
pub struct UserCreatedKeyedAndMadeAdmin;

impl SequenceRule for UserCreatedKeyedAndMadeAdmin {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn reach_ms(&self) -> Option<i64> {
        Some(WINDOW_MS)
    }

    fn observe<'r>(&self, record: &'r Record<'r>) -> Option<Observed<'r>> {
        if call_failed(record) {
            return None;
        }
        let params = record.request_parameters();
        let (kind, detail) = match record.event_name.as_ref() {
            "CreateUser" => (CREATE_USER, String::new()),
            "CreateAccessKey" => (
                CREDENTIAL,
                record
                    .response_elements()
                    .and_then(|r| {
                        r.pointer("/accessKey/accessKeyId")?
                            .as_str()
                            .map(str::to_owned)
                    })
                    .unwrap_or_default(),
            ),
            "CreateLoginProfile" => (CREDENTIAL, CONSOLE_PASSWORD.to_owned()),
            "AttachUserPolicy" => {
                let arn = request_field(params.as_ref(), "policyArn")?;
                let privileged = privileged_policy(&arn)?;
                if privileged.severity < Severity::High {
                    return None;
                }
                (ADMIN, arn)
            }
            _ => {
                // PutUserPolicy: only documents that grant everything count as "made admin".
                let text = policy_text(params.as_ref(), "policyDocument")?;
                if !super::document_risk::is_admin_document(&text) {
                    return None;
                }
                let name = request_field(params.as_ref(), "policyName").unwrap_or_default();
                (ADMIN, format!("inline:{name}"))
            }
        };
        let target = target_user(record)?;
        Observed::new(record, kind, kind, caller_key(record), target, detail)
    }

    fn evaluate(&self, observations: &[Observation], out: &mut Report) {
        #[derive(Default)]
        struct Progress<'o> {
            created: Option<&'o Observation>,
            credential: Option<&'o Observation>,
            admin: Option<&'o Observation>,
            reported: bool,
        }
        let mut states: HashMap<(&str, &str), Progress<'_>> = HashMap::new();
        for (n, obs) in observations.iter().enumerate() {
            if n % 1024 == 0 {
                states.retain(|_, p| {
                    [p.created, p.credential, p.admin]
                        .iter()
                        .flatten()
                        .any(|o| obs.at - o.at <= WINDOW_MS)
                });
            }
            let progress = states.entry((&obs.principal, &obs.subject)).or_default();
            let slot = match obs.kind {
                CREATE_USER => &mut progress.created,
                CREDENTIAL => &mut progress.credential,
                _ => &mut progress.admin,
            };
            // Keep the latest step of each kind so the window is measured from recent activity.
            *slot = Some(obs);
            if progress.reported {
                continue;
            }
            let (Some(created), Some(credential), Some(admin)) =
                (progress.created, progress.credential, progress.admin)
            else {
                continue;
            };
            let times = [created.at, credential.at, admin.at];
            let span =
                times.iter().max().copied().unwrap_or(0) - times.iter().min().copied().unwrap_or(0);
            if span <= WINDOW_MS {
                progress.reported = true;
                out.push(finding(created, credential, admin));
            }
        }
    }
}

fn finding(created: &Observation, credential: &Observation, admin: &Observation) -> Finding {
    let user = account_scoped_name(&created.subject).to_owned();
    let mut finding = finding_from_event(&META, &created.event, META.severity);
    let last = [created, credential, admin]
        .into_iter()
        .max_by_key(|o| (o.at, o.rank))
        .unwrap_or(admin);
    finding.id = Finding::stable_id(&[
        META.code,
        &created.principal,
        &created.subject,
        created.event.event_id.as_deref().unwrap_or(""),
    ]);
    let admin_text = admin.detail.strip_prefix("inline:").map_or_else(
        || format!("attached `{}`", admin.detail),
        |name| format!("put admin inline policy `{name}`"),
    );
    let credential_text = match credential.detail.as_ref() {
        CONSOLE_PASSWORD => "a console password".to_owned(),
        "" => "an access key".to_owned(),
        key => format!("access key {key}"),
    };
    let first = [created, credential, admin]
        .into_iter()
        .min_by_key(|o| (o.at, o.rank))
        .unwrap_or(created);
    let span_seconds = (last.at - first.at) / 1000;
    finding.message = if span_seconds < 60 {
        format!(
            "`{}` created user `{user}`, gave it {credential_text} and {admin_text}, all within {span_seconds} s from {}: a new administrator with its own credentials.",
            created.principal, first.event.event_time,
        )
    } else {
        format!(
            "`{}` created user `{user}` at {}, gave it {credential_text} at {} and {admin_text} at {}: a new administrator with its own credentials.",
            created.principal,
            created.event.event_time,
            credential.event.event_time,
            admin.event.event_time,
        )
    };
    finding.resource = Some(user_resource(created.event.account.as_deref(), &user));
    finding.evidence = vec![
        evidence(
            "CreateUser.eventID",
            created.event.event_id.clone().unwrap_or_default(),
        ),
        evidence(
            format!("{}.eventID", credential.event.event_name),
            credential.event.event_id.clone().unwrap_or_default(),
        ),
        evidence(
            format!("{}.eventID", admin.event.event_name),
            admin.event.event_id.clone().unwrap_or_default(),
        ),
        evidence("spanSeconds", span_seconds),
    ];
    let u = sh(&user).into_owned();
    finding.fix.summary = format!(
        "Disable `{user}` (keys, console password, admin policy) and investigate `{}`.",
        created.principal
    );
    finding.fix.commands = vec![format!("aws iam list-access-keys --user-name {u}")];
    if credential.event.event_name == "CreateAccessKey" && !credential.detail.is_empty() {
        let deactivate = Call::UpdateAccessKey {
            user_name: user.clone(),
            access_key_id: credential.detail.to_string(),
            status: KeyStatus::Inactive,
        };
        finding.fix.commands.push(deactivate.to_cli());
        finding.fix.actions.push(FixAction::DeactivateAccessKey {
            user_name: user.clone(),
            access_key_id: credential.detail.to_string(),
        });
    } else if credential.detail.as_ref() == CONSOLE_PASSWORD {
        let delete = Call::DeleteLoginProfile {
            user_name: user.clone(),
        };
        finding.fix.commands.push(delete.to_cli());
        finding.fix.actions.push(FixAction::DeleteLoginProfile {
            user_name: user.clone(),
        });
    }
    match admin.detail.strip_prefix("inline:") {
        Some(name) => {
            let delete = Call::DeleteInlinePolicy {
                principal_kind: IdentityKind::User,
                principal_name: user.clone(),
                policy_name: name.to_owned(),
            };
            finding.fix.commands.push(delete.to_cli());
            finding.fix.actions.push(FixAction::DeleteInlinePolicy {
                principal_kind: IdentityKind::User,
                principal_name: user.clone(),
                policy_name: name.to_owned(),
            });
        }
        None => {
            finding
                .fix
                .push_detach_policy(IdentityKind::User, &user, &admin.detail);
        }
    }
    finding.fix.kb_entry = Some("CreateUser".to_owned());
    finding
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{run_sequence, TestEvent, ASSUMED_ROLE_MFA};

    fn ev(name: &str, request: &str, time: &str, n: u32) -> TestEvent {
        TestEvent::iam(name)
            .time(time)
            .id(&format!("083dc4ad-e264-46bc-a407-{n:012}"))
            .request(request)
    }

    fn play(time_key: &str, time_admin: &str) -> Vec<TestEvent> {
        vec![
            ev("CreateUser", r#"{"userName":"backdoor"}"#, "2024-08-01T13:00:00Z", 1),
            ev("CreateAccessKey", r#"{"userName":"backdoor"}"#, time_key, 2).response(
                r#"{"accessKey":{"accessKeyId":"AKIAXAFZN8JEPF6L682H","createDate":"Aug 1, 2024 1:33:28 PM","status":"Active","userName":"backdoor"}}"#,
            ),
            ev("AttachUserPolicy", r#"{"policyArn":"arn:aws:iam::aws:policy/AdministratorAccess","userName":"backdoor"}"#, time_admin, 3),
        ]
    }

    #[test]
    fn the_full_play_within_an_hour_is_critical_with_three_fix_steps() {
        let findings = run_sequence(
            Box::new(UserCreatedKeyedAndMadeAdmin),
            &play("2024-08-01T13:10:00Z", "2024-08-01T13:20:00Z"),
        );
        assert_eq!(findings.len(), 1, "{findings:#?}");
        let f = &findings[0];
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.fix.actions.len(), 2);
        assert!(f
            .fix
            .commands
            .iter()
            .any(|c| c.contains("detach-user-policy --user-name backdoor")));
        assert!(f.message.contains("AKIAXAFZN8JEPF6L682H"), "{}", f.message);
    }

    #[test]
    fn an_admin_inline_policy_counts_and_order_does_not_matter() {
        let mut events = play("2024-08-01T12:59:00Z", "2024-08-01T12:58:00Z");
        events[2] = ev(
            "PutUserPolicy",
            r#"{"userName":"backdoor","policyName":"x","policyDocument":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}"}"#,
            "2024-08-01T12:58:00Z",
            3,
        );
        let findings = run_sequence(Box::new(UserCreatedKeyedAndMadeAdmin), &events);
        assert_eq!(findings.len(), 1);
        assert!(findings[0].message.contains("inline policy `x`"));
    }

    #[test]
    fn steps_too_far_apart_by_different_principals_or_without_admin_do_not_match() {
        assert!(run_sequence(
            Box::new(UserCreatedKeyedAndMadeAdmin),
            &play("2024-08-01T13:10:00Z", "2024-08-01T14:30:00Z")
        )
        .is_empty());
        let mut other = play("2024-08-01T13:10:00Z", "2024-08-01T13:20:00Z");
        other[2] = other[2].clone().identity(ASSUMED_ROLE_MFA);
        assert!(run_sequence(Box::new(UserCreatedKeyedAndMadeAdmin), &other).is_empty());
        let mut read_only = play("2024-08-01T13:10:00Z", "2024-08-01T13:20:00Z");
        read_only[2] = ev(
            "AttachUserPolicy",
            r#"{"policyArn":"arn:aws:iam::aws:policy/ReadOnlyAccess","userName":"backdoor"}"#,
            "2024-08-01T13:20:00Z",
            3,
        );
        assert!(run_sequence(Box::new(UserCreatedKeyedAndMadeAdmin), &read_only).is_empty());
    }
}
