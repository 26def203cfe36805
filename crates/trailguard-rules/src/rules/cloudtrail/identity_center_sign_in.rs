//! CT038 identity-center-sign-in: IAM Identity Center sign-ins and the credentials they hand out, recorded
//! at informational level as an audit trail.

use trailguard_event::Record;

use super::common::{change_finding, identity_center_user, request_field, Change};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{CloudTrailRule, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT038",
    name: "identity-center-sign-in",
    title: "IAM Identity Center sign-in or credentials",
    family: Family::Cloudtrail,
    severity: Severity::Info,
    attack: &["T1078.004"],
    compliance: &[],
    events: &[
        ("signin.amazonaws.com", "UserAuthentication"),
        ("signin.amazonaws.com", "CredentialVerification"),
        ("signin.amazonaws.com", "CredentialChallenge"),
        ("sso.amazonaws.com", "Authenticate"),
        ("sso.amazonaws.com", "Federate"),
        ("sso.amazonaws.com", "GetRoleCredentials"),
        // The OIDC token call is recorded under the portal's event source, not `sso-oauth` (that one is
        // `CreateTokenWithIAM`'s): AWS's "IAM Identity Center information in CloudTrail" lists it so.
        ("sso.amazonaws.com", "CreateToken"),
        // The two calls before it in the device sign-in of the CLI (and of device-code phishing), which
        // AWS does not list among recorded events but exported logs and peer rule tests carry.
        ("sso.amazonaws.com", "RegisterClient"),
        ("sso.amazonaws.com", "StartDeviceAuthorization"),
    ],
    kb_entries: &[],
    doc: RuleDoc {
        what: "IAM Identity Center's sign-in events (`UserAuthentication`, `CredentialVerification`, \
               `CredentialChallenge`, `Authenticate`), a portal user opening an account's console \
               (`Federate`), role credentials handed to the CLI or SDK (`GetRoleCredentials`) and device or \
               CLI tokens (the OIDC `CreateToken`, which CloudTrail records under `sso.amazonaws.com`, and \
               the two calls that start a device sign-in before it, `RegisterClient` and \
               `StartDeviceAuthorization`, where a log has them: AWS's list of recorded OIDC events names \
               only `CreateToken`). \
               **info**, so a team has an audit trail of who entered which account and role; failed sign-ins \
               are attempts.",
        why: "Identity Center sign-ins never appear as IAM users or `ConsoleLogin` of the member account, so \
              without them a responder cannot answer \"who signed in, from where, and which role did they \
              take\" (ATT&CK T1078.004). Device-code phishing of the CLI flow ends in `CreateToken` and \
              `GetRoleCredentials` from the attacker's address.",
        example: "`GetRoleCredentials` with `roleName` `AdministratorAccess` and `accountId` 111122223333 from an \
                  address the user has never used.",
        fix: "Nothing to fix for expected sign-ins. For an unexpected one: disable the user in the identity \
              source, revoke its active sessions in Identity Center, and review the role sessions it took.",
        references: &[
            "https://docs.aws.amazon.com/singlesignon/latest/userguide/understanding-sign-in-events.html",
            "https://docs.aws.amazon.com/singlesignon/latest/userguide/sso-info-in-cloudtrail.html",
        ],
    },
};

/// Records Identity Center sign-ins and credential hand-outs.
#[derive(Debug, Default)]
pub struct IdentityCenterSignIn;

impl CloudTrailRule for IdentityCenterSignIn {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let params = record.request_parameters();
        let role = request_field(params.as_ref(), "roleName");
        let account = request_field(params.as_ref(), "accountId");
        let what = match (record.event_name.as_ref(), &role, &account) {
            ("GetRoleCredentials", Some(role), Some(account)) => {
                format!("role credentials for `{role}` in account {account}")
            }
            ("Federate", _, _) => "a console session through the Identity Center portal".to_owned(),
            ("CreateToken", _, _) => {
                "an Identity Center OIDC token (CLI or device sign-in)".to_owned()
            }
            (name, _, _) => format!("an Identity Center sign-in step (`{name}`)"),
        };
        let (done, tried) = match record.event_name.as_ref() {
            "RegisterClient" => (
                "registered an OIDC client (the first step of a CLI or device sign-in)".to_owned(),
                "register an OIDC client".to_owned(),
            ),
            "StartDeviceAuthorization" => (
                "started a device sign-in (a code that a person approves in a browser; whoever started \
                 it receives the token)"
                    .to_owned(),
                "start a device sign-in".to_owned(),
            ),
            _ => (format!("obtained {what}"), format!("obtain {what}")),
        };
        let user = record
            .user_identity
            .user_name
            .as_deref()
            .or_else(|| identity_center_user(record))
            .or(record.user_identity.principal_id.as_deref())
            .unwrap_or("unknown")
            .to_owned();
        out.push(change_finding(
            &META,
            record,
            META.severity,
            Change {
                done,
                tried,
                resource: Resource {
                    kind: "AwsSsoUser".to_owned(),
                    id: user,
                    name: None,
                },
                evidence_keys: &["roleName", "accountId", "clientId", "grantType"],
                summary: "Nothing to do if the user expected it; otherwise disable the user and revoke its \
                          Identity Center sessions."
                    .to_owned(),
            },
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent};

    #[test]
    fn role_credentials_are_recorded_at_info() {
        let e = TestEvent::new("sso.amazonaws.com", "GetRoleCredentials")
            .identity(r#"{"type":"Unknown","principalId":"9067a1b2c3-0f1e2d3c","accountId":"229654561268","userName":"alice@example.com"}"#)
            .request(r#"{"roleName":"AdministratorAccess","accountId":"111122223333"}"#)
            .read_only(true);
        let f = &check(&IdentityCenterSignIn, &e)[0];
        assert_eq!(f.severity, Severity::Info);
        assert!(
            f.message
                .contains("role credentials for `AdministratorAccess` in account 111122223333"),
            "{}",
            f.message
        );
    }
}
