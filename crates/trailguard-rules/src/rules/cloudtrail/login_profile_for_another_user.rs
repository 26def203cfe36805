//! CT009 login-profile-for-another-user: CreateLoginProfile / UpdateLoginProfile for a user other than the caller.

use trailguard_event::Record;

use super::common::{
    call_failed, describe_caller, evidence, finding_for, finding_id, other_user_named,
    session_named_like, user_resource,
};
use crate::call::Call;
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{CloudTrailRule, EventContext, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT009",
    name: "login-profile-for-another-user",
    title: "Console password set for another user",
    family: Family::Cloudtrail,
    severity: Severity::High,
    attack: &["T1098", "T1078.004"],
    compliance: &[],
    events: &[
        ("iam.amazonaws.com", "CreateLoginProfile"),
        ("iam.amazonaws.com", "UpdateLoginProfile"),
    ],
    kb_entries: &["CreateLoginProfile", "UpdateLoginProfile"],
    doc: RuleDoc {
        what: "`CreateLoginProfile` (gives a user a console password) or `UpdateLoginProfile` (changes it) where \
               the target user is not the caller. A password created without `passwordResetRequired` is called \
               out, because the person who set it keeps knowing it. A role session whose name equals the target \
               user is judged deliberately: through an IAM Identity Center role (`AWSReservedSSO_*`, whose session \
               name AWS sets to the signed-in user) it is the usual single-sign-on pattern of a person managing \
               their own IAM user, reported at **low**; through any other role the name was set either by an \
               identity provider (SAML federation names sessions after the person, as Identity Center does) or \
               by whoever called `AssumeRole`, and the record cannot tell which, so it is reported one step \
               lower, at **medium**, rather than dismissed. The evidence says which. A password changed with \
               `passwordResetRequired` (a help-desk reset: the owner sets a new one at the next sign-in, and \
               CT085 reports the resetter signing in first) is **medium**; a console password created for a \
               user who had none stays **high**.",
        why: "Setting a console password for another user lets the caller sign in as that user: persistence \
              through a second identity (Stratus Red Team `iam-create-user-login-profile`) or privilege \
              escalation when the target holds more rights than the caller (`iam-update-user-login-profile`). \
              Both are in the published lists of IAM privilege-escalation methods.",
        example: "IAM user `christophe` calls `aws iam update-login-profile --user-name admin-alice --password ...`.",
        fix: "For a created profile: delete it unless the user asked for console access. For a changed password: \
              force a reset and tell the real owner; check the user's console sign-ins (`ConsoleLogin`) since. \
              Allow `iam:CreateLoginProfile` and `iam:UpdateLoginProfile` only on `${aws:username}` or to an \
              identity-admin role.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateLoginProfile.html",
            "https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateLoginProfile.html",
            "https://stratus-red-team.cloud/attack-techniques/AWS/aws.privilege-escalation.iam-update-user-login-profile/",
        ],
    },
};

/// Flags console passwords set for a user other than the caller.
#[derive(Debug, Default)]
pub struct LoginProfileForAnotherUser;

impl CloudTrailRule for LoginProfileForAnotherUser {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let params = record.request_parameters();
        let Some(target) = other_user_named(record, params.as_ref()) else {
            return;
        };
        // The same person through IAM Identity Center is low; another same-named session, whose name an
        // identity provider or the caller of AssumeRole set, medium.
        let same_name_session = session_named_like(record, &target);
        let creating = record.event_name == "CreateLoginProfile";
        let reset_required = params
            .as_ref()
            .and_then(|p| p.get("passwordResetRequired"))
            .and_then(serde_json::Value::as_bool);
        // A help-desk reset: the owner must choose a new password at the next sign-in, so the resetter's
        // knowledge lasts only until then (and a sign-in as the user from the resetter's address is
        // CT085's critical finding). A new password for a user who had none stays high either way.
        let help_desk_reset = !creating && reset_required == Some(true);
        let severity = match same_name_session {
            Some(session) if session.identity_center => Severity::Low,
            Some(_) => META.severity.lowered(),
            None if help_desk_reset => META.severity.lowered(),
            None => META.severity,
        };
        let mut finding = finding_for(&META, record, severity);
        finding.id = finding_id(&META, record, &[&target]);
        let who = describe_caller(&EventContext::from_record(record));
        let action = if creating {
            "create a console password for"
        } else {
            "change the console password of"
        };
        finding.message = if call_failed(record) {
            format!("{who} tried to {action} user `{target}`; the call failed.")
        } else {
            let done = if creating {
                "created a console password for"
            } else {
                "changed the console password of"
            };
            let mut m = format!("{who} {done} user `{target}`");
            if reset_required != Some(true) {
                m.push_str(
                    " without requiring a reset at next sign-in, so the caller knows the password",
                );
            }
            m.push('.');
            m
        };
        if let Some(session) = same_name_session {
            finding.message.push_str(&session.same_name_note());
        }
        finding.resource = Some(user_resource(record.account_id(), &target));
        finding
            .evidence
            .push(evidence("requestParameters.userName", target.as_str()));
        if let Some(session) = same_name_session {
            finding.evidence.push(session.same_name_evidence());
        }
        if let Some(reset) = reset_required {
            finding
                .evidence
                .push(evidence("requestParameters.passwordResetRequired", reset));
        }
        if call_failed(record) {
            finding.fix.summary =
                "Nothing changed; find out why this principal tried to.".to_owned();
        } else if creating {
            finding.fix.summary =
                format!("Delete the console password of `{target}` unless the user asked for console access.");
            let delete = Call::DeleteLoginProfile {
                user_name: target.clone(),
            };
            finding.fix.commands = vec![delete.to_cli()];
            finding
                .fix
                .actions
                .push(FixAction::DeleteLoginProfile { user_name: target });
        } else {
            finding.fix.summary = format!(
                "Force `{target}` to choose a new password at next sign-in and tell the account owner."
            );
            let reset = Call::UpdateLoginProfile {
                user_name: target.clone(),
                password_reset_required: true,
            };
            finding.fix.commands = vec![reset.to_cli()];
            finding
                .fix
                .actions
                .push(FixAction::RequirePasswordReset { user_name: target });
        }
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent};

    #[test]
    fn creating_a_password_for_another_user_is_flagged_with_a_delete_fix() {
        let e = TestEvent::iam("CreateLoginProfile")
            .request(r#"{"passwordResetRequired":false,"userName":"stratus-red-team-login-profile-user"}"#)
            .response(r#"{"loginProfile":{"createDate":"Aug 1, 2024 1:42:21 PM","passwordResetRequired":false,"userName":"stratus-red-team-login-profile-user"}}"#);
        let f = &check(&LoginProfileForAnotherUser, &e)[0];
        assert_eq!(f.severity, Severity::High);
        assert!(
            f.message.contains("caller knows the password"),
            "{}",
            f.message
        );
        assert_eq!(
            f.fix.commands,
            vec!["aws iam delete-login-profile --user-name stratus-red-team-login-profile-user"]
        );
        assert!(matches!(
            f.fix.actions[0],
            FixAction::DeleteLoginProfile { .. }
        ));
    }

    #[test]
    fn changing_another_users_password_forces_a_reset() {
        let e = TestEvent::iam("UpdateLoginProfile").request(r#"{"userName":"admin-alice"}"#);
        let f = &check(&LoginProfileForAnotherUser, &e)[0];
        assert_eq!(
            f.fix.commands,
            vec!["aws iam update-login-profile --user-name admin-alice --password-reset-required"]
        );
        assert!(matches!(
            f.fix.actions[0],
            FixAction::RequirePasswordReset { .. }
        ));
    }

    #[test]
    fn a_role_session_named_like_the_user_is_judged_by_who_set_the_name() {
        let sso = r#"{"type":"AssumedRole","principalId":"AROAHKPEEQ9BHUOX4D93T:alice","arn":"arn:aws:sts::229654561268:assumed-role/AWSReservedSSO_AdministratorAccess_0123456789abcdef/alice","accountId":"229654561268","accessKeyId":"ASIA36EV31F1RB3OA8IG","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAHKPEEQ9BHUOX4D93T","arn":"arn:aws:iam::229654561268:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_AdministratorAccess_0123456789abcdef","accountId":"229654561268","userName":"AWSReservedSSO_AdministratorAccess_0123456789abcdef"},"webIdFederationData":{},"attributes":{"creationDate":"2024-08-01T13:00:00Z","mfaAuthenticated":"false"}}}"#;
        let own_via_sso = TestEvent::iam("UpdateLoginProfile")
            .identity(sso)
            .request(r#"{"userName":"alice","passwordResetRequired":false}"#);
        let f = &check(&LoginProfileForAnotherUser, &own_via_sso)[0];
        assert_eq!(f.severity, Severity::Low);
        assert!(f.message.contains("IAM Identity Center"), "{}", f.message);
        let session = f
            .evidence
            .iter()
            .find(|e| e.path == "userIdentity.sessionName")
            .expect("the decision is in the evidence");
        assert_eq!(session.value["identityCenterSession"], true);
        // Any other role: the session name was set by an identity provider or whoever assumed it.
        let chosen = TestEvent::iam("UpdateLoginProfile")
            .identity(crate::rules::cloudtrail::common::testing::ASSUMED_ROLE_MFA)
            .request(r#"{"userName":"alice","passwordResetRequired":false}"#);
        let f = &check(&LoginProfileForAnotherUser, &chosen)[0];
        assert_eq!(f.severity, Severity::Medium);
        assert!(
            f.message.contains("whoever assumed role `Admin`"),
            "{}",
            f.message
        );
    }

    #[test]
    fn own_password_changes_are_ignored_and_denials_are_attempts() {
        let own = TestEvent::iam("UpdateLoginProfile").request(r#"{"userName":"christophe"}"#);
        assert!(check(&LoginProfileForAnotherUser, &own).is_empty());
        let denied = TestEvent::iam("CreateLoginProfile")
            .request(r#"{"userName":"bob"}"#)
            .denied();
        let f = &check(&LoginProfileForAnotherUser, &denied)[0];
        assert_eq!(f.severity, Severity::Medium);
        assert!(f.fix.actions.is_empty());
    }
}
