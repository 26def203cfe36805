//! CT085 user-signed-in-after-reset: a user's password (or, in IAM Identity Center, MFA device) reset by
//! someone else, then a sign-in as that user from the very address that reset it, within an hour: the one
//! who reset it is the one using it (Panther's "User Takeover Via Password Reset", and Elastic's Identity
//! Center MFA device removed or replaced, then the user signing in).
//!
//! Two kinds of users, one judgement: IAM users (`CreateLoginProfile`/`UpdateLoginProfile`, then
//! `ConsoleLogin`, keyed by user name) and Identity Center directory users (`UpdatePassword`,
//! `DeleteMfaDeviceForUser`, `UpdateMfaDeviceForUser`, then the portal's `UserAuthentication`, keyed by the
//! identity store user id, written `sso:<id>` so it cannot meet an IAM user name, which holds no `:`).

use std::collections::HashMap;

use serde::Deserialize;
use trailguard_event::Record;

use super::common::{
    account_scoped, account_scoped_name, call_failed, caller_iam_user, caller_key, evidence,
    finding_from_event, identity_center_user, other_user_named, request_field, sh, user_resource,
};
use crate::finding::{Finding, Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{Observation, Observed, Report, SequenceRule};

pub const META: RuleMeta = RuleMeta {
    code: "CT085",
    name: "user-signed-in-after-reset",
    title: "User signed in as by whoever reset their password",
    family: Family::Cloudtrail,
    severity: Severity::Critical,
    attack: &["T1098", "T1078.004", "T1531"],
    compliance: &[],
    events: &[
        ("iam.amazonaws.com", "CreateLoginProfile"),
        ("iam.amazonaws.com", "UpdateLoginProfile"),
        ("signin.amazonaws.com", "ConsoleLogin"),
        ("sso-directory.amazonaws.com", "UpdatePassword"),
        ("sso-directory.amazonaws.com", "DeleteMfaDeviceForUser"),
        ("sso-directory.amazonaws.com", "UpdateMfaDeviceForUser"),
        ("signin.amazonaws.com", "UserAuthentication"),
    ],
    kb_entries: &[
        "CreateLoginProfile",
        "UpdateLoginProfile",
        "ConsoleLogin",
        "UserAuthentication",
        "UpdatePassword",
        "DeleteMfaDeviceForUser",
        "UpdateMfaDeviceForUser",
    ],
    doc: RuleDoc {
        what: "A successful `CreateLoginProfile` or `UpdateLoginProfile` for IAM user U by another principal, \
               followed within an hour by a successful `ConsoleLogin` of U from the same source address as \
               the reset; or, in IAM Identity Center, a directory user's password set (`UpdatePassword`) or \
               MFA device deleted or changed (`DeleteMfaDeviceForUser`, `UpdateMfaDeviceForUser`, under \
               `sso-directory.amazonaws.com`) by an administrator, followed within an \
               hour by that user's successful portal sign-in (`UserAuthentication`, matched on the identity \
               store user id) from the same address. **critical**: one finding per sign-in, on the sign-in, \
               naming who reset what and when. A sign-in from another address (the user at their own desk \
               after a help desk reset) is not reported; the reset itself is CT009's or CT076's finding.",
        why: "Setting another user's password, or taking away the second factor that guards it, is how an \
              intruder with IAM or Identity Center administration takes over an identity with more rights \
              than their own (ATT&CK T1098). A help desk resets passwords and lost devices too, but the help \
              desk does not then sign in as the user from its own machine: the same address resetting and \
              then signing in as the user is the intruder using what they set.",
        example: "Role session `ops/mallory` from 198.51.100.7 calls `aws iam update-login-profile --user-name \
                  finance-admin --password …`; eleven minutes later `finance-admin` signs in to the console \
                  from 198.51.100.7. Or an administrator deletes Identity Center user `dana`'s MFA device from \
                  198.51.100.7 and `dana` signs in to the access portal from 198.51.100.7 with a password \
                  alone.",
        fix: "Treat the user as taken over. For an IAM user: delete or reset the login profile, deactivate \
              the user's keys. For an Identity Center user: disable the user, delete its active sessions, \
              and re-register its password and MFA device with the user in person. Then review what the \
              session did, and find out how the resetting principal could reset other users \
              (`iam:UpdateLoginProfile`, `iam:CreateLoginProfile`, Identity Center user administration).",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateLoginProfile.html",
            "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-aws-console-sign-in-events.html",
            "https://docs.aws.amazon.com/singlesignon/latest/userguide/understanding-sign-in-events.html",
            "https://attack.mitre.org/techniques/T1098/",
        ],
    },
};

/// How long after a reset a sign-in from the resetter's address still counts.
pub const WINDOW_MS: i64 = 60 * 60 * 1000;

const RESET: u8 = 0;
const SIGN_IN: u8 = 1;

/// Identity Center keys start with this; IAM user names cannot hold a `:`.
const DIRECTORY_USER: &str = "sso:";

/// How a portal sign-in ended, which the typed record leaves out: `serviceEventDetails`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PortalSignIn<'a> {
    #[serde(borrow, default)]
    service_event_details: Option<PortalOutcome<'a>>,
}

#[derive(Debug, Default, Deserialize)]
struct PortalOutcome<'a> {
    #[serde(borrow, default, rename = "UserAuthentication")]
    user_authentication: Option<std::borrow::Cow<'a, str>>,
}

/// The identity store user a successful portal sign-in was for ([`identity_center_user`]). `None` for a
/// failure (`serviceEventDetails` says `Failure`, or an error is recorded).
fn portal_sign_in_user<'r>(record: &'r Record<'_>) -> Option<&'r str> {
    if call_failed(record) || record.error_message.is_some() {
        return None;
    }
    let sign_in: PortalSignIn<'_> = serde_json::from_str(record.raw?.get()).ok()?;
    if sign_in
        .service_event_details
        .and_then(|d| d.user_authentication)
        .is_some_and(|outcome| outcome != "Success")
    {
        return None;
    }
    identity_center_user(record)
}

/// Flags a sign-in as a user from the address that had just reset that user's password or MFA device.
#[derive(Debug, Default)]
pub struct UserSignedInAfterReset;

impl SequenceRule for UserSignedInAfterReset {
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
        let address = record.source_ip_address.as_deref()?;
        // Sign-ins sort after a reset in the same second.
        match record.event_name.as_ref() {
            "ConsoleLogin" => {
                if record.user_identity.identity_type.as_deref() != Some("IAMUser") {
                    return None;
                }
                let user = caller_iam_user(record)?;
                Observed::new(
                    record,
                    SIGN_IN,
                    1,
                    address.to_owned(),
                    account_scoped(record, user),
                    "",
                )
            }
            "UserAuthentication" => {
                let user = portal_sign_in_user(record)?;
                let name = record
                    .user_identity
                    .user_name
                    .as_deref()
                    .unwrap_or_default();
                Observed::new(
                    record,
                    SIGN_IN,
                    1,
                    address.to_owned(),
                    account_scoped(record, &format!("{DIRECTORY_USER}{user}")),
                    name,
                )
            }
            "CreateLoginProfile" | "UpdateLoginProfile" => {
                let params = record.request_parameters();
                let user = other_user_named(record, params.as_ref())?;
                Observed::new(
                    record,
                    RESET,
                    0,
                    address.to_owned(),
                    account_scoped(record, &user),
                    caller_key(record).to_owned(),
                )
            }
            // An Identity Center directory reset: `UpdatePassword`, `DeleteMfaDeviceForUser`,
            // `UpdateMfaDeviceForUser`.
            _ => {
                let params = record.request_parameters();
                let user = request_field(params.as_ref(), "userId").filter(|u| !u.is_empty())?;
                Observed::new(
                    record,
                    RESET,
                    0,
                    address.to_owned(),
                    account_scoped(record, &format!("{DIRECTORY_USER}{user}")),
                    caller_key(record).to_owned(),
                )
            }
        }
    }

    fn evaluate(&self, observations: &[Observation], out: &mut Report) {
        // (user, address) → the latest reset of that user's password from that address.
        let mut resets: HashMap<(&str, &str), &Observation> = HashMap::new();
        for (n, obs) in observations.iter().enumerate() {
            if n % 1024 == 0 {
                resets.retain(|_, reset| obs.at - reset.at <= WINDOW_MS);
            }
            let key = (obs.subject.as_ref(), obs.principal.as_ref());
            if obs.kind == RESET {
                resets.insert(key, obs);
                continue;
            }
            let Some(reset) = resets.get(&key).copied() else {
                continue;
            };
            if obs.at - reset.at > WINDOW_MS {
                resets.remove(&key);
                continue;
            }
            out.push(finding(reset, obs));
        }
    }
}

/// What a reset did, in words.
fn what_was_reset(event_name: &str) -> &'static str {
    match event_name {
        "CreateLoginProfile" => "gave that user a console password",
        "DeleteMfaDeviceForUser" => "deleted that user's MFA device",
        "UpdateMfaDeviceForUser" => "changed that user's MFA device",
        _ => "set that user's password",
    }
}

fn finding(reset: &Observation, sign_in: &Observation) -> Finding {
    let key = account_scoped_name(&sign_in.subject);
    let mut finding = finding_from_event(&META, &sign_in.event, META.severity);
    let minutes = match (sign_in.at - reset.at) / 60_000 {
        0 => "less than a minute".to_owned(),
        1 => "a minute".to_owned(),
        n => format!("{n} minutes"),
    };
    let reset_name = &reset.event.event_name;
    let resetter = &reset.detail;
    let address = &sign_in.principal;
    finding.evidence = vec![
        evidence(
            format!("{reset_name}.eventID"),
            reset.event.event_id.clone().unwrap_or_default(),
        ),
        evidence(format!("{reset_name}.userIdentity"), resetter.to_string()),
        evidence("sourceIPAddress", address.to_string()),
    ];
    if let Some(user_id) = key.strip_prefix(DIRECTORY_USER) {
        let shown = if sign_in.detail.is_empty() {
            format!("`{user_id}`")
        } else {
            format!("`{}` ({user_id})", sign_in.detail)
        };
        finding.message = format!(
            "Identity Center user {shown} signed in to the access portal from {address} {minutes} after \
             `{resetter}` {} ({reset_name}) from the same address.",
            what_was_reset(reset_name),
        );
        finding.resource = Some(Resource {
            kind: "AwsIdentityStoreUser".to_owned(),
            id: user_id.to_owned(),
            name: (!sign_in.detail.is_empty()).then(|| sign_in.detail.to_string()),
        });
        finding.evidence.push(evidence("userId", user_id));
        finding.fix.summary = format!(
            "Treat Identity Center user {shown} as taken over: disable it, delete its active sessions, \
             re-register its password and MFA device with the user in person, and find out how `{resetter}` \
             could reset other users."
        );
        finding.fix.actions.push(FixAction::Manual {
            description: format!(
                "In IAM Identity Center, disable user {shown} and delete its active sessions; review the \
                 role sessions it took since {}; restore access only after re-registering its MFA device \
                 with the user.",
                sign_in.event.event_time
            ),
        });
        return finding;
    }
    let user = key.to_owned();
    finding.message = format!(
        "IAM user `{user}` signed in to the console from {address} {minutes} after `{resetter}` {} \
         ({reset_name}) from the same address.",
        what_was_reset(reset_name),
    );
    finding.resource = Some(user_resource(sign_in.event.account.as_deref(), &user));
    let u = sh(&user).into_owned();
    finding.fix.summary = format!(
        "Treat `{user}` as taken over: remove its console password and keys, review what the session \
         did, and find out how `{resetter}` could set other users' passwords."
    );
    finding.fix.commands = vec![
        format!("aws iam delete-login-profile --user-name {u}"),
        format!("aws iam list-access-keys --user-name {u}"),
    ];
    finding.fix.actions.push(FixAction::Manual {
        description: format!(
            "Remove `{user}`'s console password and deactivate its keys, then revoke what the session \
             created; confirm with the user's owner before restoring access."
        ),
    });
    finding
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{run_sequence, TestEvent};

    fn reset(user: &str, ip: &str, time: &str) -> TestEvent {
        TestEvent::new("iam.amazonaws.com", "UpdateLoginProfile")
            .request(&format!(r#"{{"userName":"{user}"}}"#))
            .source_ip(ip)
            .time(time)
            .id(&format!("reset-{user}-{time}"))
    }

    fn sign_in(user: &str, ip: &str, time: &str) -> TestEvent {
        TestEvent::new("signin.amazonaws.com", "ConsoleLogin")
            .identity(&format!(
                r#"{{"type":"IAMUser","principalId":"AIDAQRSTUVWXYZEXAMPLE","arn":"arn:aws:iam::229654561268:user/{user}","accountId":"229654561268","userName":"{user}"}}"#
            ))
            .response(r#"{"ConsoleLogin":"Success"}"#)
            .source_ip(ip)
            .time(time)
            .id(&format!("login-{user}-{time}"))
    }

    #[test]
    fn only_the_resetter_s_address_within_the_hour_counts() {
        let taken = [
            reset("finance-admin", "198.51.100.7", "2024-08-01T10:00:00Z"),
            sign_in("finance-admin", "198.51.100.7", "2024-08-01T10:11:00Z"),
        ];
        let findings = run_sequence(Box::new(UserSignedInAfterReset), &taken);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert_eq!(findings[0].severity, Severity::Critical);
        let help_desk = [
            reset("finance-admin", "198.51.100.7", "2024-08-01T10:00:00Z"),
            sign_in("finance-admin", "203.0.113.20", "2024-08-01T10:11:00Z"),
        ];
        assert!(run_sequence(Box::new(UserSignedInAfterReset), &help_desk).is_empty());
        let late = [
            reset("finance-admin", "198.51.100.7", "2024-08-01T10:00:00Z"),
            sign_in("finance-admin", "198.51.100.7", "2024-08-01T11:01:00Z"),
        ];
        assert!(run_sequence(Box::new(UserSignedInAfterReset), &late).is_empty());
    }

    fn directory_reset(name: &str, user_id: &str, ip: &str, time: &str) -> TestEvent {
        TestEvent::new("sso-directory.amazonaws.com", name)
            .identity(r#"{"type":"AssumedRole","principalId":"AROAHKPEEQ9BHUOX4D93T:mallory","arn":"arn:aws:sts::229654561268:assumed-role/AWSReservedSSO_AdministratorAccess_0a1b2c3d4e5f6a7b/mallory","accountId":"229654561268","accessKeyId":"ASIA36EV31F1RB3OA8IG"}"#)
            .request(&format!(
                r#"{{"directoryId":"d-9067a1b2c3","userId":"{user_id}","mfaDeviceId":"mfa-0f1e2d3c"}}"#
            ))
            .source_ip(ip)
            .time(time)
            .id(&format!("{name}-{user_id}-{time}"))
    }

    fn portal_sign_in(user_id: &str, ip: &str, time: &str, outcome: &str) -> TestEvent {
        TestEvent::new("signin.amazonaws.com", "UserAuthentication")
            .identity(&format!(
                r#"{{"type":"Unknown","principalId":"{user_id}","accountId":"229654561268","userName":"dana@example.com","onBehalfOf":{{"userId":"{user_id}","identityStoreArn":"arn:aws:identitystore::229654561268:identitystore/d-9067a1b2c3"}}}}"#
            ))
            // TestEvent has no `serviceEventDetails`: it rides in after `additionalEventData`.
            .additional(&format!(
                r#"{{"AuthWorkflowID":"9a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d","CredentialType":"PASSWORD"}},"serviceEventDetails":{{"UserAuthentication":"{outcome}"}}"#
            ))
            .event_type("AwsServiceEvent")
            .source_ip(ip)
            .time(time)
            .id(&format!("portal-{user_id}-{time}-{outcome}"))
    }

    #[test]
    fn an_identity_center_user_signing_in_from_the_resetter_s_address_is_critical() {
        const DANA: &str = "9067a1b2c3-4d5e6f70-8a9b-4c0d-9e1f-2a3b4c5d6e7f";
        const ERIN: &str = "9067a1b2c3-11223344-5566-4778-8899-aabbccddeeff";
        let taken = [
            directory_reset(
                "DeleteMfaDeviceForUser",
                DANA,
                "198.51.100.7",
                "2024-08-01T10:00:00Z",
            ),
            portal_sign_in(DANA, "198.51.100.7", "2024-08-01T10:06:00Z", "Success"),
        ];
        let findings = run_sequence(Box::new(UserSignedInAfterReset), &taken);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        let f = &findings[0];
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.resource.as_ref().map(|r| r.id.as_str()), Some(DANA));
        assert!(
            f.message.contains("`dana@example.com`")
                && f.message.contains("deleted that user's MFA device"),
            "{}",
            f.message
        );
        let from_home = [
            directory_reset(
                "UpdatePassword",
                DANA,
                "198.51.100.7",
                "2024-08-01T10:00:00Z",
            ),
            portal_sign_in(DANA, "203.0.113.20", "2024-08-01T10:06:00Z", "Success"),
        ];
        assert!(run_sequence(Box::new(UserSignedInAfterReset), &from_home).is_empty());
        let failed = [
            directory_reset(
                "UpdatePassword",
                DANA,
                "198.51.100.7",
                "2024-08-01T10:00:00Z",
            ),
            portal_sign_in(DANA, "198.51.100.7", "2024-08-01T10:06:00Z", "Failure"),
        ];
        assert!(run_sequence(Box::new(UserSignedInAfterReset), &failed).is_empty());
        let someone_else = [
            directory_reset(
                "UpdateMfaDeviceForUser",
                DANA,
                "198.51.100.7",
                "2024-08-01T10:00:00Z",
            ),
            portal_sign_in(ERIN, "198.51.100.7", "2024-08-01T10:06:00Z", "Success"),
        ];
        assert!(run_sequence(Box::new(UserSignedInAfterReset), &someone_else).is_empty());
    }
}
