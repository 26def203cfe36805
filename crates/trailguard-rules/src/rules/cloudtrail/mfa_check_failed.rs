//! CT069 mfa-check-failed: a console sign-in whose password was right and whose MFA code was not
//! (`CheckMfa` = `Failure`): someone holds the user's password.

use trailguard_event::Record;

use super::common::{
    describe_caller, evidence, failure_finding_from_event, root_user_resource, user_resource,
};
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{CloudTrailRule, EventContext, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT069",
    name: "mfa-check-failed",
    title: "Console sign-in failed at the MFA step",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1110", "T1078.004", "T1621"],
    compliance: &["CIS-4.6"],
    events: &[("signin.amazonaws.com", "CheckMfa")],
    kb_entries: &["CheckMfa"],
    doc: RuleDoc {
        what: "A `CheckMfa` sign-in event with `responseElements.CheckMfa` = `Failure`: AWS Sign-In accepted the \
               password and then refused the MFA code. One finding per failure, **medium**; **high** for \
               the root user. A successful check is not reported.",
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

/// Flags console sign-ins stopped at the MFA step.
#[derive(Debug, Default)]
pub struct MfaCheckFailed;

impl CloudTrailRule for MfaCheckFailed {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let failed = record
            .response_elements()
            .and_then(|r| r.get("CheckMfa")?.as_str().map(|s| s == "Failure"))
            .unwrap_or(false);
        if !failed {
            return;
        }
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
        finding
            .evidence
            .push(evidence("responseElements.CheckMfa", "Failure"));
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
