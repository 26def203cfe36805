//! CT019 new-user-given-access-key: a user created and then given an access key within a day. A sequence rule.

use std::collections::HashMap;

use trailguard_event::Record;

use super::common::{
    account_scoped, account_scoped_name, call_failed, caller_iam_user, caller_key, evidence,
    finding_from_event, request_field, sh, user_resource,
};
use crate::call::{Call, KeyStatus};
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{Observation, Observed, Report, SequenceRule};
use crate::Finding;

pub const META: RuleMeta = RuleMeta {
    code: "CT019",
    name: "new-user-given-access-key",
    title: "New IAM user given an access key",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1136.003", "T1098.001"],
    compliance: &[],
    events: &[
        ("iam.amazonaws.com", "CreateUser"),
        ("iam.amazonaws.com", "CreateAccessKey"),
    ],
    kb_entries: &["CreateUser", "CreateAccessKey"],
    doc: RuleDoc {
        what: "A successful `CreateUser` followed, within 24 hours, by a successful `CreateAccessKey` for that \
               same user (by anyone). One finding per new user, on the key event, naming who created the user \
               and who created the key.",
        why: "A new user with a long-term key is the simplest durable backdoor (ATT&CK T1136.003, Stratus Red \
              Team `iam-create-admin-user`). Well-run accounts create machine users through reviewed \
              infrastructure code, rarely by hand, and prefer roles to access keys.",
        example: "`aws iam create-user --user-name svc-backup` then `aws iam create-access-key --user-name svc-backup`.",
        fix: "Confirm the user is expected. If not, deactivate the key, then delete the user after saving what it \
              did. Prefer roles (with temporary credentials) to users with keys.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateUser.html",
            "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateAccessKey.html",
            "https://stratus-red-team.cloud/attack-techniques/AWS/aws.persistence.iam-create-admin-user/",
        ],
    },
};

/// How long after its creation a user's first key is still "new user given a key".
pub const WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

const CREATE_USER: u8 = 0;
const CREATE_KEY: u8 = 1;

/// A new user given an access key.
#[derive(Debug, Default)]
pub struct NewUserGivenAccessKey;

/// `account/user` for the user a CreateUser or CreateAccessKey acts on.
pub(crate) fn target_user(record: &Record<'_>) -> Option<String> {
    let params = record.request_parameters();
    let user = request_field(params.as_ref(), "userName")
        .or_else(|| caller_iam_user(record).map(str::to_owned))?;
    Some(account_scoped(record, &user))
}

impl SequenceRule for NewUserGivenAccessKey {
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
        let kind = if record.event_name == "CreateUser" {
            CREATE_USER
        } else {
            CREATE_KEY
        };
        let target = target_user(record)?;
        let key = if kind == CREATE_KEY {
            record
                .response_elements()
                .and_then(|r| {
                    r.pointer("/accessKey/accessKeyId")?
                        .as_str()
                        .map(str::to_owned)
                })
                .unwrap_or_default()
        } else {
            String::new()
        };
        Observed::new(record, kind, kind, caller_key(record), target, key)
    }

    fn evaluate(&self, observations: &[Observation], out: &mut Report) {
        let mut created: HashMap<&str, &Observation> = HashMap::new();
        for (n, obs) in observations.iter().enumerate() {
            if n % 1024 == 0 {
                created.retain(|_, c| obs.at - c.at <= WINDOW_MS);
            }
            match obs.kind {
                CREATE_USER => {
                    created.insert(&obs.subject, obs);
                }
                _ => {
                    let Some(creation) = created.get(obs.subject.as_ref()).copied() else {
                        continue;
                    };
                    if obs.at - creation.at > WINDOW_MS {
                        created.remove(obs.subject.as_ref());
                        continue;
                    }
                    created.remove(obs.subject.as_ref());
                    out.push(finding(creation, obs));
                }
            }
        }
    }
}

fn finding(creation: &Observation, key: &Observation) -> Finding {
    let user = account_scoped_name(&key.subject).to_owned();
    let mut finding = finding_from_event(&META, &key.event, META.severity);
    let minutes = (key.at - creation.at) / 60_000;
    let key_text = if key.detail.is_empty() {
        String::new()
    } else {
        format!(" {}", key.detail)
    };
    finding.message =
        format!(
        "User `{user}` was created by `{}` at {} and given access key{key_text} by `{}` {} later.",
        creation.principal,
        creation.event.event_time,
        key.principal,
        if minutes == 0 { "less than a minute".to_owned() } else { format!("{minutes} minutes") }
    );
    finding.resource = Some(user_resource(key.event.account.as_deref(), &user));
    finding.evidence = vec![
        evidence(
            "CreateUser.eventID",
            creation.event.event_id.clone().unwrap_or_default(),
        ),
        evidence(
            "CreateAccessKey.eventID",
            key.event.event_id.clone().unwrap_or_default(),
        ),
    ];
    let u = sh(&user).into_owned();
    finding.fix.summary = format!(
        "Confirm user `{user}` is expected; if not, deactivate its key and remove the user."
    );
    finding.fix.commands = vec![format!("aws iam list-access-keys --user-name {u}")];
    if !key.detail.is_empty() {
        let deactivate = Call::UpdateAccessKey {
            user_name: user.clone(),
            access_key_id: key.detail.to_string(),
            status: KeyStatus::Inactive,
        };
        finding.fix.commands.push(deactivate.to_cli());
        finding.fix.actions.push(FixAction::DeactivateAccessKey {
            user_name: user.clone(),
            access_key_id: key.detail.to_string(),
        });
    }
    finding.fix.kb_entry = Some("CreateAccessKey".to_owned());
    finding
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{run_sequence, TestEvent};

    fn create_user(user: &str, time: &str) -> TestEvent {
        TestEvent::iam("CreateUser")
            .time(time)
            .id(&format!("3346344c-5a3e-429e-8405-{user:0>12.12}"))
            .request(&format!(r#"{{"userName":"{user}"}}"#))
            .response(&format!(r#"{{"user":{{"arn":"arn:aws:iam::229654561268:user/{user}","createDate":"Aug 1, 2024 1:33:28 PM","path":"/","userId":"AIDAL1XMLVWIUOK8KAF0","userName":"{user}"}}}}"#))
    }

    fn create_key(user: &str, time: &str) -> TestEvent {
        TestEvent::iam("CreateAccessKey")
            .time(time)
            .id(&format!("94faedcc-0fa4-46e6-9322-{user:0>12.12}"))
            .request(&format!(r#"{{"userName":"{user}"}}"#))
            .response(&format!(r#"{{"accessKey":{{"accessKeyId":"AKIAXAFZN8JEPF6L682H","createDate":"Aug 1, 2024 1:33:28 PM","status":"Active","userName":"{user}"}}}}"#))
    }

    #[test]
    fn key_in_the_same_second_listed_before_the_user_still_matches() {
        // As in the Stratus detonation log: same second, key event first in the file.
        let events = [
            create_key("malicious", "2024-08-01T13:33:28Z"),
            create_user("malicious", "2024-08-01T13:33:28Z"),
        ];
        let findings = run_sequence(Box::new(NewUserGivenAccessKey), &events);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert!(
            findings[0].message.contains("less than a minute"),
            "{}",
            findings[0].message
        );
        assert!(
            matches!(&findings[0].fix.actions[0], FixAction::DeactivateAccessKey { user_name, .. } if user_name == "malicious")
        );
    }

    #[test]
    fn keys_for_old_users_other_users_or_after_a_day_do_not_match() {
        let other = [
            create_user("a", "2024-08-01T13:00:00Z"),
            create_key("b", "2024-08-01T13:01:00Z"),
        ];
        assert!(run_sequence(Box::new(NewUserGivenAccessKey), &other).is_empty());
        let late = [
            create_user("a", "2024-08-01T13:00:00Z"),
            create_key("a", "2024-08-02T13:00:01Z"),
        ];
        assert!(run_sequence(Box::new(NewUserGivenAccessKey), &late).is_empty());
        let denied = [
            create_user("a", "2024-08-01T13:00:00Z"),
            create_key("a", "2024-08-01T13:05:00Z").denied(),
        ];
        assert!(run_sequence(Box::new(NewUserGivenAccessKey), &denied).is_empty());
    }
}
