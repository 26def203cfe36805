//! CT061 mfa-device-enabled-for-another-user: `EnableMFADevice` binding an MFA device to a user other than
//! the caller.

use trailguard_event::Record;

use super::common::{
    call_failed, describe_caller, evidence, finding_for, other_user_named, request_field,
    session_named_like, sh, user_resource,
};
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{CloudTrailRule, EventContext, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT061",
    name: "mfa-device-enabled-for-another-user",
    title: "MFA device enabled for another user",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1098.005", "T1556.006"],
    compliance: &[],
    events: &[("iam.amazonaws.com", "EnableMFADevice")],
    kb_entries: &["EnableMFADevice"],
    doc: RuleDoc {
        what: "`EnableMFADevice` where `requestParameters.userName` names a user other than the caller: an \
               IAM user, role session, federated user or the root user binding an MFA device to someone \
               else. **medium**; a refused call is an attempt, one step lower. A user enrolling its own \
               device is not reported, nor is a role session of IAM Identity Center whose session name is \
               the target user's name (AWS sets that name to the person's, so it is the same person). The \
               device's serial number is in the evidence.",
        why: "Whoever holds a user's password and binds their own device to it owns the user's MFA: their \
              sessions then meet `aws:MultiFactorAuthPresent` conditions, and the real owner cannot enrol \
              another device in that slot (ATT&CK T1098.005 Device Registration, T1556.006). Helpdesks do \
              register hardware tokens for people, which is why it is medium; a device enabled right after \
              the user's own was removed (CT011) or its password reset by someone else (CT009) is the \
              takeover pattern.",
        example: "Role session `Admin/mallory` calls `aws iam enable-mfa-device --user-name carol \
                  --serial-number arn:aws:iam::111122223333:mfa/carol-backup` with two codes from her own \
                  authenticator.",
        fix: "Ask the user whether they enrolled the device. If not, deactivate and delete it, reset the \
              user's password and sessions, and review what sessions with MFA did since. Allow \
              `iam:EnableMFADevice` on `${aws:username}` only, and keep enrolment for others to a helpdesk role.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/APIReference/API_EnableMFADevice.html",
            "https://attack.mitre.org/techniques/T1098/005/",
        ],
    },
};

/// Flags MFA devices bound to a user by someone else.
#[derive(Debug, Default)]
pub struct MfaDeviceEnabledForAnotherUser;

impl CloudTrailRule for MfaDeviceEnabledForAnotherUser {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let params = record.request_parameters();
        // A user's own device, or the root user's (CT014's business), is not reported.
        let Some(target) = other_user_named(record, params.as_ref()) else {
            return;
        };
        // The same person through IAM Identity Center, enrolling a device on their own IAM user.
        let same_name_session = session_named_like(record, &target);
        if same_name_session.is_some_and(|s| s.identity_center) {
            return;
        }
        let serial = request_field(params.as_ref(), "serialNumber");
        let failed = call_failed(record);
        let mut finding = finding_for(&META, record, META.severity);
        let who = describe_caller(&EventContext::from_record(record));
        let device = serial
            .as_deref()
            .map(|s| format!(" `{s}`"))
            .unwrap_or_default();
        finding.message = if failed {
            format!(
                "{who} tried to enable MFA device{device} for user `{target}`; the call failed."
            )
        } else {
            format!(
                "{who} enabled MFA device{device} for user `{target}`: whoever holds the device now passes \
                 that user's MFA checks."
            )
        };
        if let Some(session) = same_name_session {
            finding.message.push_str(&session.same_name_note());
            finding.evidence.push(session.same_name_evidence());
        }
        finding.resource = Some(user_resource(record.account_id(), &target));
        finding
            .evidence
            .push(evidence("requestParameters.userName", target.as_str()));
        if let Some(serial) = &serial {
            finding
                .evidence
                .push(evidence("requestParameters.serialNumber", serial.as_str()));
        }
        if failed {
            finding.fix.summary =
                "Nothing changed; find out why this principal tried to.".to_owned();
        } else {
            let serial = serial.as_deref().unwrap_or("SERIAL_NUMBER");
            let deactivate = format!(
                "aws iam deactivate-mfa-device --user-name {} --serial-number {}",
                sh(&target),
                sh(serial)
            );
            finding.fix.summary = format!(
                "Ask `{target}` whether they enrolled this device; if not, deactivate it and reset the user's \
                 password."
            );
            finding.fix.commands = vec![deactivate.clone()];
            finding.fix.actions.push(FixAction::Manual {
                description: format!(
                    "Unless `{target}` enrolled the device, deactivate it (`{deactivate}`) and reset the \
                     user's password."
                ),
            });
        }
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent, ASSUMED_ROLE_MFA, ROOT};
    use crate::rules::cloudtrail::common::ROOT_USER_NAME;

    fn enable(user: &str) -> TestEvent {
        TestEvent::iam("EnableMFADevice").request(&format!(
            r#"{{"userName":"{user}","serialNumber":"arn:aws:iam::229654561268:mfa/{user}-backup"}}"#
        ))
    }

    #[test]
    fn a_device_for_another_user_is_medium_and_ones_own_is_not_reported() {
        let f = &check(&MfaDeviceEnabledForAnotherUser, &enable("carol"))[0];
        assert_eq!(f.severity, Severity::Medium);
        assert!(f.message.contains("mfa/carol-backup"), "{}", f.message);
        assert_eq!(
            f.fix.commands,
            vec!["aws iam deactivate-mfa-device --user-name carol --serial-number arn:aws:iam::229654561268:mfa/carol-backup"]
        );
        // `christophe` is the IAM user the test events are made by.
        assert!(check(&MfaDeviceEnabledForAnotherUser, &enable("christophe")).is_empty());
        // The root user's own device, as CloudTrail names it in the request.
        let root = enable(ROOT_USER_NAME).identity(ROOT);
        assert!(check(&MfaDeviceEnabledForAnotherUser, &root).is_empty());
    }

    #[test]
    fn a_role_session_named_like_the_user_still_counts_and_refusals_are_attempts() {
        // Session `alice` of role `Admin`: a name its caller chose.
        let f = &check(
            &MfaDeviceEnabledForAnotherUser,
            &enable("alice").identity(ASSUMED_ROLE_MFA),
        )[0];
        assert!(f.message.contains("whoever assumed"), "{}", f.message);
        let f = &check(&MfaDeviceEnabledForAnotherUser, &enable("carol").denied())[0];
        assert_eq!(f.severity, Severity::Low);
        assert!(f.fix.actions.is_empty());
    }
}
