//! CT096 iam-changed-with-user-session-token: an IAM identity or permission change made by an IAM user
//! with temporary credentials from `GetSessionToken` (an `ASIA…` key on an `IAMUser` identity, not from a
//! console sign-in).
//!
//! The watched changes and how a change is named are CT060's ([`super::iam_changed_by_instance`]); the
//! severity comes from the session, not the change: whether it passed MFA.

use trailguard_event::Record;

use super::common::{
    call_failed, caller_iam_user, describe_caller, event_in, evidence, finding_for, made_by_aws,
    session_from_console, session_mfa_evidence, sh, user_resource, worth_reporting,
};
use super::iam_changed_by_instance::{change_target, WATCHED};
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{CloudTrailRule, EventContext, Report, ANY_EVENT};

pub const META: RuleMeta = RuleMeta {
    code: "CT096",
    name: "iam-changed-with-user-session-token",
    title: "IAM changed with an IAM user's session token",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1550.001", "T1098", "T1078.004"],
    compliance: &[],
    // Routed only CT060's watched events: it judges the caller, so their entries need not show it firing.
    events: &[ANY_EVENT],
    kb_entries: &[],
    doc: RuleDoc {
        what: "An IAM change (CT060's list: `CreateUser`, `CreateAccessKey`, `CreateLoginProfile`, \
               `UpdateLoginProfile`, `AddUserToGroup`, user, group and role policies, `CreateRole`, \
               `UpdateAssumeRolePolicy`, `CreatePolicy`, `CreatePolicyVersion`, `SetDefaultPolicyVersion`, \
               SSH keys and service-specific credentials) made by an IAM user calling with temporary \
               credentials (`ASIA…`) that did not come from a console sign-in \
               (`sessionCredentialFromConsole` absent, on records of version 1.08 or later, which carry \
               it): the user's long-term key was exchanged with \
               `GetSessionToken` and the session changed IAM. **medium** when the session did not pass MFA \
               (`mfaAuthenticated` `false`); **low** when it did, which is how teams that require MFA for \
               the command line work. A refused call is an attempt, one step lower; a refused low one is not \
               reported. Console sessions, role sessions and calls AWS services make are not reported.",
        why: "`GetSessionToken` turns a user's access key into credentials that keep working for up to 36 \
              hours after the key is deactivated or deleted, under an `ASIA` key id that no longer names \
              the stolen key (CT029 reports the exchange). An attacker who expects the key to be revoked \
              makes the session first and changes IAM with it: users, keys and policies that outlive both \
              (ATT&CK T1550.001, T1098). Without MFA the session adds no assurance over the key itself, so \
              the usual honest reason for it is absent; Elastic watches IAM calls made this way.",
        example: "IAM user `ci-deploy` runs `aws sts get-session-token` without an MFA code, then, with \
                  temporary key `ASIAZ49AHUAJEXAMPLE9`, `aws iam create-user --user-name backup-svc` and \
                  `aws iam create-access-key --user-name backup-svc`.",
        fix: "Ask the user whether they made the change. If not, the user's key is stolen: deactivating it \
              does not end the session, so also deny the user every action for tokens issued before now \
              (`aws:TokenIssueTime`), rotate the key, and undo the change. Requiring MFA \
              (`aws:MultiFactorAuthPresent`) for IAM changes keeps a key alone from making them.",
        references: &[
            "https://docs.aws.amazon.com/STS/latest/APIReference/API_GetSessionToken.html",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_disable-perms.html",
            "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html",
            "https://attack.mitre.org/techniques/T1550/001/",
        ],
    },
};

/// Flags IAM changes made with an IAM user's `GetSessionToken` credentials.
#[derive(Debug, Default)]
pub struct IamChangedWithUserSessionToken;

/// The temporary key an IAM user called with, when it came from `GetSessionToken`: an `ASIA…` key on an
/// `IAMUser` identity, not from the console (every console click carries such a key too). AWS marks
/// console sessions since record version 1.08; an older record cannot tell the two apart, so it is left
/// out.
fn session_token_key<'r>(record: &'r Record<'_>) -> Option<&'r str> {
    let key = record.user_identity.access_key_id.as_deref()?;
    (key.starts_with("ASIA") && marks_console_sessions(record) && !session_from_console(record))
        .then_some(key)
}

/// Whether the record's version writes `sessionCredentialFromConsole` (1.08 and later). A record without a
/// readable version is taken as current: CloudTrail has written one on every record for years.
fn marks_console_sessions(record: &Record<'_>) -> bool {
    let Some(version) = record.event_version.as_deref() else {
        return true;
    };
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) >= (1, 8),
        _ => true,
    }
}

impl CloudTrailRule for IamChangedWithUserSessionToken {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn watched(&self) -> &'static [(&'static str, &'static str)] {
        WATCHED
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        if !event_in(record, WATCHED) || made_by_aws(record) {
            return;
        }
        let Some(user) = caller_iam_user(record) else {
            return;
        };
        let Some(key) = session_token_key(record) else {
            return;
        };
        let with_mfa = record.user_identity.mfa_authenticated() == Some(true);
        let severity = if with_mfa {
            Severity::Low
        } else {
            Severity::Medium
        };
        let failed = call_failed(record);
        if !worth_reporting(failed, severity) {
            return;
        }
        let name = record.event_name.as_ref();
        let (target, on) = change_target(record);
        let who = describe_caller(&EventContext::from_record(record));
        let mut finding = finding_for(&META, record, severity);
        finding.message = if failed {
            format!(
                "{who} tried to call iam:{name}{on} with temporary key {key} from GetSessionToken; the \
                 call failed."
            )
        } else {
            format!(
                "{who} called iam:{name}{on} with temporary key {key} from GetSessionToken: such a \
                 session keeps working after the user's access key is revoked."
            )
        };
        finding.resource = Some(user_resource(record.account_id(), user));
        finding
            .evidence
            .push(evidence("userIdentity.accessKeyId", key));
        finding.evidence.extend(session_mfa_evidence(record));
        if let Some(target) = &target {
            finding.evidence.push(evidence("changed", target.as_str()));
        }
        if failed {
            finding.fix.summary = format!(
                "Nothing changed; ask `{user}` whether they tried, and if not treat the user's key as stolen."
            );
            out.push(finding);
            return;
        }
        finding.fix.summary = format!(
            "Ask `{user}` whether they made this change; if not, deny the user's sessions issued before now \
             (aws:TokenIssueTime), rotate the key and undo iam:{name}{on}."
        );
        finding.fix.commands = vec![format!("aws iam list-access-keys --user-name {}", sh(user))];
        finding.fix.actions.push(FixAction::Manual {
            description: format!(
                "If `{user}` did not make this change: attach to the user a policy denying every action when \
                 aws:TokenIssueTime is before now (deactivating the key leaves session {key} working), \
                 deactivate and rotate the user's access keys, and undo iam:{name}{on}."
            ),
        });
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, with_record, TestEvent};

    /// An IAM user calling with `GetSessionToken` credentials: an `ASIA` key and a session context whose
    /// issuer is empty, as CloudTrail writes it.
    fn session_identity(mfa: bool) -> String {
        format!(
            r#"{{"type":"IAMUser","principalId":"AIDAZ49AHUAJ9OEK73O5","arn":"arn:aws:iam::229654561268:user/ci-deploy","accountId":"229654561268","accessKeyId":"ASIAZ49AHUAJEXAMPLE9","userName":"ci-deploy","sessionContext":{{"sessionIssuer":{{}},"webIdFederationData":{{}},"attributes":{{"creationDate":"2024-08-01T13:00:00Z","mfaAuthenticated":"{mfa}"}}}}}}"#
        )
    }

    fn create_user(identity: &str) -> TestEvent {
        TestEvent::iam("CreateUser")
            .identity(identity)
            .request(r#"{"userName":"backup-svc"}"#)
    }

    #[test]
    fn a_session_without_mfa_is_medium_and_with_mfa_low() {
        let without = check(
            &IamChangedWithUserSessionToken,
            &create_user(&session_identity(false)),
        );
        assert_eq!(without.len(), 1, "{without:#?}");
        assert_eq!(without[0].severity, Severity::Medium);
        assert!(without[0].message.contains("`backup-svc`"));
        assert!(without[0].message.contains("ASIAZ49AHUAJEXAMPLE9"));
        let with = check(
            &IamChangedWithUserSessionToken,
            &create_user(&session_identity(true)),
        );
        assert_eq!(with[0].severity, Severity::Low);
    }

    #[test]
    fn console_sessions_long_term_keys_and_reads_are_left_out() {
        let from_api = create_user(&session_identity(false)).json();
        let from_console = from_api.replacen('{', r#"{"sessionCredentialFromConsole":"true","#, 1);
        for (json, findings) in [(&from_api, 1), (&from_console, 0)] {
            let mut out = Report::default();
            with_record(json, |record| {
                IamChangedWithUserSessionToken.check(record, &mut out)
            });
            assert_eq!(out.into_findings().len(), findings, "{json}");
        }
        let long_term =
            session_identity(false).replace("ASIAZ49AHUAJEXAMPLE9", "AKIAZ49AHUAJEXAMPLE9");
        assert!(check(&IamChangedWithUserSessionToken, &create_user(&long_term)).is_empty());
        let read = TestEvent::iam("GetUser").identity(&session_identity(false));
        assert!(check(&IamChangedWithUserSessionToken, &read).is_empty());
    }

    #[test]
    fn records_older_than_the_console_mark_are_left_out() {
        let old = create_user(&session_identity(false))
            .json()
            .replace(r#""eventVersion":"1.09""#, r#""eventVersion":"1.05""#);
        let mut out = Report::default();
        with_record(&old, |record| {
            IamChangedWithUserSessionToken.check(record, &mut out)
        });
        assert!(out.into_findings().is_empty());
        let current = old.replace(r#""eventVersion":"1.05""#, r#""eventVersion":"1.10""#);
        let mut out = Report::default();
        with_record(&current, |record| {
            IamChangedWithUserSessionToken.check(record, &mut out)
        });
        assert_eq!(out.into_findings().len(), 1);
    }

    #[test]
    fn a_refused_change_is_an_attempt_and_a_refused_low_one_is_dropped() {
        let refused = create_user(&session_identity(false)).denied();
        let findings = check(&IamChangedWithUserSessionToken, &refused);
        assert_eq!(findings.len(), 1);
        assert!(findings[0].severity < Severity::Medium);
        assert!(findings[0].fix.actions.is_empty());
        let refused_with_mfa = create_user(&session_identity(true)).denied();
        assert!(check(&IamChangedWithUserSessionToken, &refused_with_mfa).is_empty());
    }
}
