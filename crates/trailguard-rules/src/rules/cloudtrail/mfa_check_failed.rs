//! CT069 mfa-check-failed: a console sign-in whose password was right and whose MFA code was not
//! (`CheckMfa` = `Failure`, or a failed `ConsoleLogin` that records `MFAUsed` = `Yes`): someone holds the
//! user's password.

use trailguard_event::Record;

use super::common::{
    describe_caller, event_in, evidence, failure_finding_from_event, root_user_resource,
    user_resource, SignIn,
};
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{CloudTrailRule, EventContext, Report, ANY_EVENT};

pub const META: RuleMeta = RuleMeta {
    code: "CT069",
    name: "mfa-check-failed",
    title: "Console sign-in failed at the MFA step",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1110", "T1078.004", "T1621"],
    compliance: &["CIS-4.6"],
    events: &[ANY_EVENT],
    kb_entries: &["CheckMfa", "ConsoleLogin"],
    doc: RuleDoc {
        what: "A `CheckMfa` sign-in event with `responseElements.CheckMfa` = `Failure`, or a `ConsoleLogin` \
               with `responseElements.ConsoleLogin` = `Failure` whose `additionalEventData.MFAUsed` is `Yes` \
               (the form the same failure takes in the sign-in record itself): AWS Sign-In accepted the \
               password and then refused the MFA code. One finding per failure, **medium**; **high** for \
               the root user. A successful check, and a failure at the password (`MFAUsed` `No`, which \
               CT016 counts), are not reported.",
        why: "AWS asks for the MFA code only after the password was accepted, so a failure here means \
              whoever was signing in had the right password: the user mistyping a code, or someone with a \
              phished, reused or leaked password stopped only by MFA, who may keep trying codes or turn to \
              the user with an MFA-fatigue or support pretext (ATT&CK T1110, T1621). For root, the password \
              of the one identity no policy limits is known. CIS 4.6 asks to alarm on console \
              authentication failures.",
        example: "`CheckMfa` for IAM user `contractor-jane` from 185.220.101.33 (a Tor exit) with \
                  `\"responseElements\": {\"CheckMfa\": \"Failure\"}` at 02:40, while she is asleep.",
        fix: "Ask the user whether it was them. If not, reset their console password at once (and the root \
              password for root), check the MFA device is still theirs, and look for sign-in attempts from \
              the same address against other users.",
        references: &[
            "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-aws-console-sign-in-events.html",
            "https://attack.mitre.org/techniques/T1621/",
        ],
    },
};

/// The fields that show a sign-in refused at the MFA step, when it was: `CheckMfa` failed, or a failed
/// `ConsoleLogin` records that MFA was used (AWS asks for the code only once the password is right).
fn refused_at_mfa(record: &Record<'_>) -> Option<Vec<(&'static str, &'static str)>> {
    let response = record.response_elements()?;
    let says = |key: &str, value: &str| response.get(key).and_then(|v| v.as_str()) == Some(value);
    match record.event_name.as_ref() {
        "CheckMfa" if says("CheckMfa", "Failure") => {
            Some(vec![("responseElements.CheckMfa", "Failure")])
        }
        "ConsoleLogin" => {
            let sign_in = SignIn::of(record);
            (sign_in.succeeded == Some(false) && sign_in.mfa_used() == Some(true)).then(|| {
                vec![
                    ("responseElements.ConsoleLogin", "Failure"),
                    ("additionalEventData.MFAUsed", "Yes"),
                ]
            })
        }
        _ => None,
    }
}

/// The sign-in events it judges by their outcome: most of either are not refusals at the MFA step.
const WATCHED: &[(&str, &str)] = &[
    ("signin.amazonaws.com", "CheckMfa"),
    ("signin.amazonaws.com", "ConsoleLogin"),
];

/// Flags console sign-ins stopped at the MFA step.
#[derive(Debug, Default)]
pub struct MfaCheckFailed;

impl CloudTrailRule for MfaCheckFailed {
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
        let Some(refusal) = refused_at_mfa(record) else {
            return;
        };
        let root = record.user_identity.is_root();
        let severity = if root { Severity::High } else { META.severity };
        let context = EventContext::from_record(record);
        // The failure is the signal, not an attempt at something else: no "Attempted:", no step down.
        let mut finding = failure_finding_from_event(&META, &context, severity);
        let device = record
            .additional_event_data()
            .and_then(|a| a.get("MfaType")?.as_str().map(str::to_owned));
        let whose = if root {
            "the root password"
        } else {
            "the right password"
        };
        finding.message = format!(
            "{} gave {whose} at console sign-in, then failed the MFA check{}: whoever was signing in holds \
             the password.",
            describe_caller(&context),
            device
                .as_deref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default()
        );
        let account = record.account_id();
        finding.resource = Some(match record.user_identity.user_name.as_deref() {
            Some(user) if !root => user_resource(account, user),
            _ => root_user_resource(record),
        });
        for (path, value) in refusal {
            finding.evidence.push(evidence(path, value));
        }
        if let Some(device) = device {
            finding
                .evidence
                .push(evidence("additionalEventData.MfaType", device));
        }
        if let Some(ip) = &context.actor.source_ip {
            finding
                .evidence
                .push(evidence("sourceIPAddress", ip.as_str()));
        }
        finding.fix.summary =
            "Ask the user whether it was them; if not, reset the password now and check \
                               the MFA device and other sign-ins from the same address."
                .to_owned();
        if let (Some(user), false) = (record.user_identity.user_name.as_deref(), root) {
            finding.fix.commands = vec![format!(
                "aws iam update-login-profile --user-name {} --password-reset-required --password NEW_TEMPORARY_PASSWORD",
                super::common::sh(user)
            )];
        }
        out.push(finding);
    }
}
