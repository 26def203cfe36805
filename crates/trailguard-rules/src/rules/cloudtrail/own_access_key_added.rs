//! CT028 own-access-key-added: an IAM user calling with an access key creates another key for itself.

use trailguard_event::Record;

use super::common::{
    call_failed, caller_iam_user, describe_caller, event_in, evidence, finding_for, long_term_key,
    request_field, sh, user_resource,
};
use crate::call::{Call, KeyStatus};
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{CloudTrailRule, EventContext, Report, ANY_EVENT};

pub const META: RuleMeta = RuleMeta {
    code: "CT028",
    name: "own-access-key-added",
    title: "Second access key created for oneself",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1098.001"],
    compliance: &["CIS-1.13"],
    events: &[ANY_EVENT],
    kb_entries: &["CreateAccessKey"],
    doc: RuleDoc {
        what: "`CreateAccessKey` for the caller itself (no `userName`, or the caller's own name) made by an IAM \
               user authenticated with a long-term access key (`AKIA...`): the user already holds the key it \
               called with, so it now has two. Keys created from the console (temporary `ASIA` credentials) or \
               for other users (CT008) are not this rule's.",
        why: "A second key is how someone holding a stolen key keeps access after the owner rotates or deletes \
              the first one (ATT&CK T1098.001, Additional Cloud Credentials), and the new secret exists only in \
              the response the caller received. CIS 1.13 asks for at most one active key per user. Rotation \
              scripts do the same call, but then deactivate and delete the old key within minutes.",
        example: "IAM user `ci-deploy`, calling with key `AKIAOZUDECYXYM4ONAN4`, runs `aws iam create-access-key` \
                  and receives `AKIAL80DWDVKKM0UXEER`.",
        fix: "Check whether the calling key was deactivated or deleted soon after (a rotation). If not, ask the \
              owner; deactivate the key they do not use, and if neither was expected treat both as compromised.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html#rotating_access_keys_console",
            "https://attack.mitre.org/techniques/T1098/001/",
        ],
    },
};

/// The calls this rule judges: it declares every event and the engine routes it these ([`CloudTrailRule::watched`]).
const WATCHED: &[(&str, &str)] = &[("iam.amazonaws.com", "CreateAccessKey")];

/// Flags an IAM user giving itself another access key while calling with one.
#[derive(Debug, Default)]
pub struct OwnAccessKeyAdded;

impl CloudTrailRule for OwnAccessKeyAdded {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn watched(&self) -> &'static [(&'static str, &'static str)] {
        WATCHED
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        if !event_in(record, WATCHED) {
            return;
        }
        let Some(caller) = caller_iam_user(record) else {
            return;
        };
        let Some(calling_key) = long_term_key(record) else {
            return;
        };
        let params = record.request_parameters();
        if request_field(params.as_ref(), "userName").is_some_and(|target| target != caller) {
            return;
        }
        let new_key = record.response_elements().and_then(|r| {
            r.pointer("/accessKey/accessKeyId")?
                .as_str()
                .map(str::to_owned)
        });
        let mut finding = finding_for(&META, record, META.severity);
        let who = describe_caller(&EventContext::from_record(record));
        finding.message = if call_failed(record) {
            format!("{who} tried to create a second access key for itself while calling with {calling_key}; the call failed.")
        } else {
            format!(
                "{who} created access key {} for itself while calling with key {calling_key}: the user now holds \
                 two keys unless {calling_key} is retired.",
                new_key.as_deref().unwrap_or("(id not recorded)")
            )
        };
        finding.resource = Some(user_resource(record.account_id(), caller));
        finding
            .evidence
            .push(evidence("userIdentity.accessKeyId", calling_key));
        if let Some(key) = &new_key {
            finding.evidence.push(evidence(
                "responseElements.accessKey.accessKeyId",
                key.as_str(),
            ));
        }
        if call_failed(record) {
            finding.fix.summary =
                "Nothing changed; find out why this principal tried to.".to_owned();
        } else {
            let user = sh(caller);
            finding.fix.summary = format!(
                "Confirm with the owner of `{caller}` which key they use and deactivate the other one."
            );
            finding.fix.commands = vec![format!("aws iam list-access-keys --user-name {user}")];
            if let Some(key) = &new_key {
                let deactivate = Call::UpdateAccessKey {
                    user_name: caller.to_string(),
                    access_key_id: key.clone(),
                    status: KeyStatus::Inactive,
                };
                finding.fix.commands.push(format!(
                    "{}  # if the new key was not expected",
                    deactivate.to_cli()
                ));
            }
            finding.fix.actions.push(FixAction::Manual {
                description: format!("Leave `{caller}` with one access key the owner confirms."),
            });
        }
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent, ASSUMED_ROLE_MFA};

    const NEW_KEY: &str = r#"{"accessKey":{"accessKeyId":"AKIAL80DWDVKKM0UXEER","createDate":"Aug 1, 2024 1:33:28 PM","status":"Active","userName":"christophe"}}"#;

    #[test]
    fn a_key_holder_minting_another_key_for_itself_is_flagged() {
        for request in ["{}", r#"{"userName":"christophe"}"#] {
            let e = TestEvent::iam("CreateAccessKey")
                .request(request)
                .response(NEW_KEY);
            let f = &check(&OwnAccessKeyAdded, &e)[0];
            assert_eq!(f.severity, Severity::Medium);
            assert!(f.message.contains("AKIAL80DWDVKKM0UXEER"), "{}", f.message);
        }
    }

    #[test]
    fn keys_for_others_and_console_sessions_are_not_this_rule() {
        let other = TestEvent::iam("CreateAccessKey").request(r#"{"userName":"bob"}"#);
        assert!(check(&OwnAccessKeyAdded, &other).is_empty());
        let role = TestEvent::iam("CreateAccessKey")
            .identity(ASSUMED_ROLE_MFA)
            .request(r#"{"userName":"alice"}"#);
        assert!(check(&OwnAccessKeyAdded, &role).is_empty());
        let console = TestEvent::iam("CreateAccessKey").identity(
            r#"{"type":"IAMUser","principalId":"AIDAZ49AHUAJ9OEK73O5","arn":"arn:aws:iam::229654561268:user/christophe","accountId":"229654561268","accessKeyId":"ASIAZ49AHUAJCONSOLE1","userName":"christophe","sessionContext":{"sessionIssuer":{},"webIdFederationData":{},"attributes":{"creationDate":"2024-08-01T13:00:00Z","mfaAuthenticated":"true"}}}"#,
        );
        assert!(check(&OwnAccessKeyAdded, &console).is_empty());
    }
}
