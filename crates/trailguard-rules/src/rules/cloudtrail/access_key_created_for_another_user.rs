//! CT008 access-key-created-for-another-user: CreateAccessKey whose target user is not the caller.

use trailguard_event::Record;

use super::common::{
    call_failed, describe_caller, evidence, finding_for, other_user_named, sh, user_resource,
};
use crate::call::{Call, KeyStatus};
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{CloudTrailRule, EventContext, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT008",
    name: "access-key-created-for-another-user",
    title: "Access key created for another user",
    family: Family::Cloudtrail,
    severity: Severity::High,
    attack: &["T1098.001"],
    compliance: &[],
    events: &[("iam.amazonaws.com", "CreateAccessKey")],
    kb_entries: &["CreateAccessKey"],
    doc: RuleDoc {
        what: "`CreateAccessKey` where `requestParameters.userName` names a user other than the caller: an IAM \
               user creating a key for someone else, or a role session, federated user or the root user \
               creating a key for any IAM user. A user creating its own key is not flagged.",
        why: "An access key is a long-lived credential that works from anywhere. Creating one for another user \
              is the classic backdoor (Stratus Red Team `iam-backdoor-user`): the attacker keeps access even \
              after the credentials they came in with are revoked, and the activity is logged under the other \
              user's name. `iam:CreateAccessKey` on `*` is also a privilege-escalation path, because the attacker \
              can mint a key for a more privileged user.",
        example: "IAM user `christophe` calls `aws iam create-access-key --user-name stratus-red-team-backdoor-u-user`.",
        fix: "If not approved, deactivate the new key at once (`update-access-key --status Inactive`), review \
              what it was used for, then delete it. Limit `iam:CreateAccessKey` to `${aws:username}` in policies \
              so users can only manage their own keys.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateAccessKey.html",
            "https://stratus-red-team.cloud/attack-techniques/AWS/aws.persistence.iam-backdoor-user/",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_examples_aws_my-sec-creds-self-manage.html",
        ],
    },
};

/// Flags access keys created for a user other than the caller.
#[derive(Debug, Default)]
pub struct AccessKeyCreatedForAnotherUser;

impl CloudTrailRule for AccessKeyCreatedForAnotherUser {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let params = record.request_parameters();
        // Without userName the key is for the caller itself (root keys are CT014's business).
        let Some(target) = other_user_named(record, params.as_ref()) else {
            return;
        };
        let key_id = record.response_elements().and_then(|r| {
            r.pointer("/accessKey/accessKeyId")?
                .as_str()
                .map(str::to_owned)
        });
        let mut finding = finding_for(&META, record, META.severity);
        let who = describe_caller(&EventContext::from_record(record));
        finding.message = match (&key_id, call_failed(record)) {
            (_, true) => {
                format!("{who} tried to create an access key for user `{target}`; the call failed.")
            }
            (Some(key), false) => format!("{who} created access key {key} for user `{target}`."),
            (None, false) => format!("{who} created an access key for user `{target}`."),
        };
        finding.resource = Some(user_resource(record.account_id(), &target));
        finding
            .evidence
            .push(evidence("requestParameters.userName", target.as_str()));
        if let Some(key) = &key_id {
            finding.evidence.push(evidence(
                "responseElements.accessKey.accessKeyId",
                key.as_str(),
            ));
        }
        if call_failed(record) {
            finding.fix.summary =
                "No key was created; find out why this principal tried to.".to_owned();
        } else {
            let key = key_id.clone().unwrap_or_else(|| "ACCESS_KEY_ID".to_owned());
            let deactivate = Call::UpdateAccessKey {
                user_name: target.clone(),
                access_key_id: key.clone(),
                status: KeyStatus::Inactive,
            };
            let delete = Call::DeleteAccessKey {
                user_name: target.clone(),
                access_key_id: key.clone(),
            };
            finding.fix.summary =
                format!("Deactivate the new key of `{target}` unless approved, review its use, then delete it.");
            finding.fix.commands = vec![
                deactivate.to_cli(),
                format!(
                    "aws iam get-access-key-last-used --access-key-id {}",
                    sh(&key)
                ),
                delete.to_cli(),
            ];
            if let Some(access_key_id) = key_id {
                finding.fix.actions.push(FixAction::DeactivateAccessKey {
                    user_name: target,
                    access_key_id,
                });
            }
        }
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent, ASSUMED_ROLE_MFA};

    fn create_key(user: &str) -> TestEvent {
        TestEvent::iam("CreateAccessKey")
            .request(&format!(r#"{{"userName":"{user}"}}"#))
            .response(&format!(
                r#"{{"accessKey":{{"accessKeyId":"AKIAL80DWDVKKM0UXEER","createDate":"Aug 1, 2024 1:33:28 PM","status":"Active","userName":"{user}"}}}}"#
            ))
    }

    #[test]
    fn a_key_for_another_user_is_flagged_with_the_new_key_id() {
        let f = &check(&AccessKeyCreatedForAnotherUser, &create_key("backdoor"))[0];
        assert_eq!(f.severity, Severity::High);
        assert!(f.message.contains("AKIAL80DWDVKKM0UXEER"));
        assert_eq!(
            f.fix.commands[0],
            "aws iam update-access-key --user-name backdoor --access-key-id AKIAL80DWDVKKM0UXEER --status Inactive"
        );
        assert_eq!(
            f.fix.actions,
            vec![FixAction::DeactivateAccessKey {
                user_name: "backdoor".into(),
                access_key_id: "AKIAL80DWDVKKM0UXEER".into()
            }]
        );
    }

    #[test]
    fn own_keys_are_not_flagged_but_role_sessions_creating_keys_are() {
        assert!(check(&AccessKeyCreatedForAnotherUser, &create_key("christophe")).is_empty());
        let own_implicit = TestEvent::iam("CreateAccessKey").request("{}");
        assert!(check(&AccessKeyCreatedForAnotherUser, &own_implicit).is_empty());
        let by_role = create_key("christophe").identity(ASSUMED_ROLE_MFA);
        assert_eq!(check(&AccessKeyCreatedForAnotherUser, &by_role).len(), 1);
    }

    #[test]
    fn a_denied_key_creation_is_an_attempt_without_actions() {
        let f = &check(
            &AccessKeyCreatedForAnotherUser,
            &create_key("admin").denied(),
        )[0];
        assert_eq!(f.severity, Severity::Medium);
        assert!(f.fix.actions.is_empty());
        assert!(f.message.contains("tried"));
    }
}
