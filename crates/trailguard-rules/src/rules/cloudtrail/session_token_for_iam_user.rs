//! CT029 session-token-for-iam-user: sts GetSessionToken called by an IAM user.

use trailguard_event::Record;

use super::common::{
    call_failed, caller_iam_user, describe_caller, evidence, finding_for, request_field,
    user_resource,
};
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{CloudTrailRule, EventContext, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT029",
    name: "session-token-for-iam-user",
    title: "Session token issued to an IAM user",
    family: Family::Cloudtrail,
    severity: Severity::Low,
    attack: &["T1550.001", "T1078.004"],
    compliance: &[],
    events: &[("sts.amazonaws.com", "GetSessionToken")],
    kb_entries: &["GetSessionToken"],
    doc: RuleDoc {
        what: "`GetSessionToken` called by an IAM user: its long-term key exchanged for temporary credentials. \
               **low** without an MFA code (no `serialNumber` in the request), **info** with one, which is the \
               normal way to use MFA from the command line. The requested duration is in the evidence.",
        why: "Temporary credentials from a stolen key carry on working for up to 36 hours after the key itself \
              is deactivated or deleted, and calls made with them show an `ASIA` key id rather than the stolen \
              one, so attackers use the call to outlast a key revocation and to blur the trail (ATT&CK \
              T1550.001). Without MFA nothing was gained in assurance, so the usual honest reason is absent.",
        example: "IAM user `ci-deploy` runs `aws sts get-session-token --duration-seconds 129600` with no MFA \
                  code.",
        fix: "Confirm the user needs session tokens. If the key is suspected stolen, deactivating it is not \
              enough: attach a policy denying everything for tokens issued before now \
              (`aws:TokenIssueTime`), then rotate the key. Require MFA for `sts:GetSessionToken` where it is used.",
        references: &[
            "https://docs.aws.amazon.com/STS/latest/APIReference/API_GetSessionToken.html",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_disable-perms.html",
        ],
    },
};

/// Flags IAM users exchanging their keys for session tokens.
#[derive(Debug, Default)]
pub struct SessionTokenForIamUser;

impl CloudTrailRule for SessionTokenForIamUser {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let Some(user) = caller_iam_user(record).map(str::to_owned) else {
            return;
        };
        let params = record.request_parameters();
        let mfa_serial = request_field(params.as_ref(), "serialNumber");
        let duration = params
            .as_ref()
            .and_then(|p| p.get("durationSeconds")?.as_u64());
        let severity = if mfa_serial.is_some() {
            Severity::Info
        } else {
            META.severity
        };
        let mut finding = finding_for(&META, record, severity);
        let who = describe_caller(&EventContext::from_record(record));
        let hours = duration
            .map(|s| format!(" valid for {:.1} hours", s as f64 / 3600.0))
            .unwrap_or_default();
        finding.message = match (call_failed(record), &mfa_serial) {
            (true, _) => format!("{who} tried to get a session token; the call failed."),
            (false, Some(serial)) => format!(
                "{who} got a session token{hours} with MFA device `{serial}`."
            ),
            (false, None) => format!(
                "{who} got a session token{hours} without MFA; it keeps working even if the key is deactivated."
            ),
        };
        finding.resource = Some(user_resource(record.account_id(), &user));
        finding.evidence.push(evidence(
            "requestParameters.serialNumber",
            mfa_serial.clone().unwrap_or_else(|| "(absent)".to_owned()),
        ));
        if let Some(seconds) = duration {
            finding
                .evidence
                .push(evidence("requestParameters.durationSeconds", seconds));
        }
        finding.fix.summary = if call_failed(record) {
            "Nothing changed; find out why this principal tried to.".to_owned()
        } else {
            format!(
                "Confirm `{user}` needs session tokens; if its key may be stolen, revoke sessions issued before \
                 now and rotate the key."
            )
        };
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent, ASSUMED_ROLE_MFA};

    #[test]
    fn without_mfa_is_low_and_with_mfa_info() {
        let plain = TestEvent::new("sts.amazonaws.com", "GetSessionToken")
            .request(r#"{"durationSeconds":129600}"#)
            .read_only(true);
        let f = &check(&SessionTokenForIamUser, &plain)[0];
        assert_eq!(f.severity, Severity::Low);
        assert!(f.message.contains("36.0 hours"), "{}", f.message);
        let mfa = TestEvent::new("sts.amazonaws.com", "GetSessionToken")
            .request(r#"{"durationSeconds":3600,"serialNumber":"arn:aws:iam::229654561268:mfa/christophe","tokenCode":"HIDDEN_DUE_TO_SECURITY_REASONS"}"#)
            .read_only(true);
        assert_eq!(
            check(&SessionTokenForIamUser, &mfa)[0].severity,
            Severity::Info
        );
    }

    #[test]
    fn roles_cannot_and_are_ignored() {
        let role = TestEvent::new("sts.amazonaws.com", "GetSessionToken")
            .identity(ASSUMED_ROLE_MFA)
            .denied();
        assert!(check(&SessionTokenForIamUser, &role).is_empty());
    }
}
