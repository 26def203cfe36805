//! CT031 own-password-changed: a user changing its own console password (informational audit trail).

use trailguard_event::Record;

use super::common::{
    call_failed, caller_iam_user, describe_caller, event_in, finding_for, request_field,
    user_resource,
};
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{CloudTrailRule, EventContext, Report, ANY_EVENT};

pub const META: RuleMeta = RuleMeta {
    code: "CT031",
    name: "own-password-changed",
    title: "User changed its own password",
    family: Family::Cloudtrail,
    severity: Severity::Info,
    attack: &["T1098"],
    compliance: &[],
    events: &[ANY_EVENT],
    kb_entries: &["ChangePassword"],
    doc: RuleDoc {
        what: "An IAM user changing its own console password: `ChangePassword` (always the caller's own), or \
               `UpdateLoginProfile` / `CreateLoginProfile` naming the caller. **info**: the normal thing to do, \
               recorded so a team can answer \"when did this user last change its password, and from where\". \
               Passwords set for other users are CT009; the root user's are CT014.",
        why: "Routine on its own, but an attacker who took over a user's session or keys changes the password \
              to lock the owner out and keep the console; the audit trail lets a responder see that moment \
              and the address it came from.",
        example: "IAM user `anaya` calls `ChangePassword` from the console after her first sign-in.",
        fix: "Nothing to fix when the owner did it. If the owner did not, reset the password with \
              `--password-reset-required`, check MFA, and review the sessions since.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/APIReference/API_ChangePassword.html",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_passwords_user-change-own.html",
        ],
    },
};

/// The calls this rule judges: it declares every event and the engine routes it these ([`CloudTrailRule::watched`]).
const WATCHED: &[(&str, &str)] = &[
    ("iam.amazonaws.com", "ChangePassword"),
    ("iam.amazonaws.com", "UpdateLoginProfile"),
    ("iam.amazonaws.com", "CreateLoginProfile"),
];

/// Records users changing their own passwords.
#[derive(Debug, Default)]
pub struct OwnPasswordChanged;

impl CloudTrailRule for OwnPasswordChanged {
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
        if record.event_name != "ChangePassword"
            && request_field(record.request_parameters().as_ref(), "userName").as_deref()
                != Some(caller)
        {
            return;
        }
        let mut finding = finding_for(&META, record, META.severity);
        let who = describe_caller(&EventContext::from_record(record));
        finding.message = if call_failed(record) {
            format!("{who} tried to change its own console password; the call failed.")
        } else {
            format!("{who} changed its own console password.")
        };
        finding.resource = Some(user_resource(record.account_id(), caller));
        finding.fix.summary =
            "Nothing to do if the owner did it; otherwise reset the password and review the sessions since."
                .to_owned();
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent};

    #[test]
    fn own_changes_are_info_and_others_are_not_this_rule() {
        let change = TestEvent::iam("ChangePassword")
            .request(r#"{"oldPassword":"HIDDEN_DUE_TO_SECURITY_REASONS","newPassword":"HIDDEN_DUE_TO_SECURITY_REASONS"}"#);
        let f = &check(&OwnPasswordChanged, &change)[0];
        assert_eq!(f.severity, Severity::Info);
        let own = TestEvent::iam("UpdateLoginProfile").request(r#"{"userName":"christophe"}"#);
        assert_eq!(check(&OwnPasswordChanged, &own).len(), 1);
        let other = TestEvent::iam("UpdateLoginProfile").request(r#"{"userName":"admin-alice"}"#);
        assert!(check(&OwnPasswordChanged, &other).is_empty());
    }
}
