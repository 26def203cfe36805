//! CT085 user-signed-in-after-reset: an IAM user's console password set by someone else, then a console
//! sign-in as that user from the very address that set it, within an hour: the one who reset the password
//! is the one using it (Panther's "User Takeover Via Password Reset").

use std::collections::HashMap;

use trailguard_event::Record;

use super::common::{
    account_scoped, account_scoped_name, call_failed, caller_iam_user, caller_key, evidence,
    finding_from_event, other_user_named, sh, user_resource,
};
use crate::finding::{Finding, Severity};
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
    ],
    kb_entries: &["CreateLoginProfile", "UpdateLoginProfile", "ConsoleLogin"],
    doc: RuleDoc {
        what: "A successful `CreateLoginProfile` or `UpdateLoginProfile` for IAM user U by another principal, \
               followed within an hour by a successful `ConsoleLogin` of U from the same source address as \
               the reset. **critical**: one finding per sign-in, on the sign-in, naming who reset the \
               password and when. A sign-in from another address (the user at their own desk after a help \
               desk reset) is not reported; the reset itself is CT009's finding.",
        why: "Setting another user's console password (CT009) is how an intruder with IAM write access takes \
              over an identity with more rights than their own (ATT&CK T1098). A help desk resets passwords \
              too, but the help desk does not then sign in as the user from its own machine: the same address \
              resetting and then signing in as the user is the intruder using what they set.",
        example: "Role session `ops/mallory` from 198.51.100.7 calls `aws iam update-login-profile --user-name \
                  finance-admin --password …`; eleven minutes later `finance-admin` signs in to the console \
                  from 198.51.100.7.",
        fix: "Treat the user as taken over: delete or reset the login profile, deactivate the user's keys, \
              review what the session did, and find out how the resetting principal could set passwords \
              (`iam:UpdateLoginProfile`, `iam:CreateLoginProfile` on other users).",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateLoginProfile.html",
            "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-aws-console-sign-in-events.html",
            "https://attack.mitre.org/techniques/T1098/",
        ],
    },
};

/// How long after a reset a sign-in from the resetter's address still counts.
pub const WINDOW_MS: i64 = 60 * 60 * 1000;

const RESET: u8 = 0;
const SIGN_IN: u8 = 1;

/// Flags a console sign-in as a user from the address that had just set that user's password.
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
        if record.event_name == "ConsoleLogin" {
            if record.user_identity.identity_type.as_deref() != Some("IAMUser") {
                return None;
            }
            let user = caller_iam_user(record)?;
            // Sign-ins sort after a reset in the same second.
            return Observed::new(
                record,
                SIGN_IN,
                1,
                address.to_owned(),
                account_scoped(record, user),
                "",
            );
        }
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

fn finding(reset: &Observation, sign_in: &Observation) -> Finding {
    let user = account_scoped_name(&sign_in.subject).to_owned();
    let mut finding = finding_from_event(&META, &sign_in.event, META.severity);
    let minutes = (sign_in.at - reset.at) / 60_000;
    finding.message = format!(
        "IAM user `{user}` signed in to the console from {} {} after `{}` set that user's password \
         ({}) from the same address.",
        sign_in.principal,
        match minutes {
            0 => "less than a minute".to_owned(),
            1 => "a minute".to_owned(),
            n => format!("{n} minutes"),
        },
        reset.detail,
        reset.event.event_name,
    );
    finding.resource = Some(user_resource(sign_in.event.account.as_deref(), &user));
    finding.evidence = vec![
        evidence(
            format!("{}.eventID", reset.event.event_name),
            reset.event.event_id.clone().unwrap_or_default(),
        ),
        evidence(
            format!("{}.userIdentity", reset.event.event_name),
            reset.detail.to_string(),
        ),
        evidence("sourceIPAddress", sign_in.principal.to_string()),
    ];
    let u = sh(&user).into_owned();
    finding.fix.summary = format!(
        "Treat `{user}` as taken over: remove its console password and keys, review what the session \
         did, and find out how `{}` could set other users' passwords.",
        reset.detail
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
}
