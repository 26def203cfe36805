//! CT011 mfa-device-removed: DeactivateMFADevice and DeleteVirtualMFADevice.

use trailguard_event::Record;

use super::common::{
    call_failed, caller_iam_user, describe_caller, evidence, finding_for, request_field, sh,
    user_resource,
};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{CloudTrailRule, EventContext, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT011",
    name: "mfa-device-removed",
    title: "MFA device removed",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1556.006"],
    compliance: &["CIS-1.5", "CIS-1.10"],
    events: &[
        ("iam.amazonaws.com", "DeactivateMFADevice"),
        ("iam.amazonaws.com", "DeleteVirtualMFADevice"),
    ],
    kb_entries: &["DeactivateMFADevice", "DeleteVirtualMFADevice"],
    doc: RuleDoc {
        what: "`DeactivateMFADevice` (detaches an MFA device from a user, which then signs in with a password \
               alone) and `DeleteVirtualMFADevice` (deletes a virtual device). Severity: **critical** for the root \
               user's device whoever removes it; for another user's device **high** when the caller's session \
               carries no MFA and **medium** when it does; for the caller's own device **medium** without MFA \
               and **low** with it. The split follows who can do it: a caller signed in with MFA proved a \
               second factor, so the removal is most likely an owner or admin replacing a device, while a \
               caller without MFA (long-term keys, or a password-only session) is exactly what a stolen \
               credential looks like. The evidence records `mfaAuthenticated`.",
        why: "Removing MFA is how an attacker who has a password, or who controls an admin identity, makes an \
              account usable without the second factor (ATT&CK T1556.006). It also breaks policies that require \
              `aws:MultiFactorAuthPresent`, quietly turning MFA-protected actions into ordinary ones. CIS asks \
              that the root user and every console user have MFA enabled.",
        example: "`aws iam deactivate-mfa-device --user-name alice --serial-number arn:aws:iam::111122223333:mfa/alice`",
        fix: "Confirm with the user. If not intended, re-enroll an MFA device for the user (virtual, or better a \
              FIDO security key) and force a password reset, then review the user's sign-ins since. There is \
              no API call that undoes the removal.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeactivateMFADevice.html",
            "https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeleteVirtualMFADevice.html",
            "https://attack.mitre.org/techniques/T1556/006/",
        ],
    },
};

/// Flags MFA devices being deactivated or deleted.
#[derive(Debug, Default)]
pub struct MfaDeviceRemoved;

impl CloudTrailRule for MfaDeviceRemoved {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let params = record.request_parameters();
        let serial =
            request_field(params.as_ref(), "serialNumber").unwrap_or_else(|| "unknown".to_owned());
        // DeleteVirtualMFADevice names only the device; its ARN ends in the device name, usually the user's.
        let target = request_field(params.as_ref(), "userName");
        let is_root_device = serial.ends_with(":mfa/root-account-mfa-device")
            || serial.contains(":mfa/root")
            || (target.is_none()
                && record.user_identity.is_root()
                && record.event_name == "DeactivateMFADevice");
        let for_other = match (&target, caller_iam_user(record)) {
            (Some(t), Some(caller)) => t != caller,
            (Some(_), None) => !record.user_identity.is_root(),
            _ => false,
        };
        // A caller who proved a second factor is far less likely to be someone holding only a stolen
        // password or key; long-term keys never carry MFA, so "unknown" counts as without.
        let caller_mfa = record.user_identity.mfa_authenticated() == Some(true);
        let severity = match (is_root_device, for_other, caller_mfa) {
            (true, _, _) => Severity::Critical,
            (false, true, false) => Severity::High,
            (false, true, true) | (false, false, false) => Severity::Medium,
            (false, false, true) => Severity::Low,
        };
        let mut finding = finding_for(&META, record, severity);
        let who = describe_caller(&EventContext::from_record(record));
        let owner = if is_root_device {
            "the root user".to_owned()
        } else {
            target
                .as_deref()
                .map(|t| format!("user `{t}`"))
                .unwrap_or_else(|| "an unnamed user".to_owned())
        };
        let action = if record.event_name == "DeleteVirtualMFADevice" {
            "delete virtual MFA device"
        } else {
            "deactivate MFA device"
        };
        finding.message = if call_failed(record) {
            format!("{who} tried to {action} `{serial}` of {owner}; the call failed.")
        } else {
            format!("{who} did {action} `{serial}` of {owner}; that identity can now sign in without a second factor.")
                .replacen("did deactivate", "deactivated", 1)
                .replacen("did delete", "deleted", 1)
        };
        finding.resource = Some(match &target {
            Some(t) => user_resource(record.account_id(), t),
            None => Resource {
                kind: "AwsIamMfaDevice".to_owned(),
                id: serial.clone(),
                name: None,
            },
        });
        finding
            .evidence
            .push(evidence("requestParameters.serialNumber", serial.as_str()));
        finding.evidence.push(evidence(
            "userIdentity.sessionContext.attributes.mfaAuthenticated",
            caller_mfa,
        ));
        if call_failed(record) {
            finding.fix.summary =
                "Nothing changed; find out why this principal tried to remove MFA.".to_owned();
        } else {
            let user_flag = target
                .as_deref()
                .map(|t| format!(" --user-name {}", sh(t)))
                .unwrap_or_default();
            let device_name = target
                .clone()
                .unwrap_or_else(|| "root-account-mfa-device".to_owned());
            finding.fix.summary = format!(
                "Re-enroll MFA for {owner} (there is no undo call), force a password reset and review its sign-ins."
            );
            finding.fix.commands = vec![
                format!("aws iam list-mfa-devices{user_flag}"),
                format!(
                    "aws iam create-virtual-mfa-device --virtual-mfa-device-name {} --outfile mfa-qr.png --bootstrap-method QRCodePNG",
                    sh(&device_name)
                ),
                format!(
                    "aws iam enable-mfa-device{user_flag} --serial-number NEW_DEVICE_ARN --authentication-code1 CODE1 --authentication-code2 CODE2"
                ),
            ];
            finding.fix.actions.push(FixAction::Manual {
                description: format!(
                    "Re-enroll an MFA device for {owner} and confirm the removal with its owner."
                ),
            });
        }
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent, ROOT};

    fn deactivate(user: &str) -> TestEvent {
        TestEvent::iam("DeactivateMFADevice").request(&format!(
            r#"{{"userName":"{user}","serialNumber":"arn:aws:iam::229654561268:mfa/{user}"}}"#
        ))
    }

    #[test]
    fn removing_another_users_mfa_is_high() {
        let f = &check(&MfaDeviceRemoved, &deactivate("alice"))[0];
        assert_eq!(f.severity, Severity::High);
        assert!(
            f.message.contains("deactivated MFA device"),
            "{}",
            f.message
        );
        assert_eq!(
            f.fix.commands[0],
            "aws iam list-mfa-devices --user-name alice"
        );
        assert!(matches!(f.fix.actions[0], FixAction::Manual { .. }));
    }

    #[test]
    fn removing_ones_own_mfa_is_medium_and_root_mfa_is_critical() {
        assert_eq!(
            check(&MfaDeviceRemoved, &deactivate("christophe"))[0].severity,
            Severity::Medium
        );
        let root = TestEvent::iam("DeactivateMFADevice")
            .identity(ROOT)
            .request(r#"{"serialNumber":"arn:aws:iam::229654561268:mfa/root-account-mfa-device"}"#);
        let f = &check(&MfaDeviceRemoved, &root)[0];
        assert_eq!(f.severity, Severity::Critical);
        assert!(f.message.contains("of the root user"), "{}", f.message);
        let delete = TestEvent::iam("DeleteVirtualMFADevice")
            .request(r#"{"serialNumber":"arn:aws:iam::229654561268:mfa/root-account-mfa-device"}"#);
        assert_eq!(
            check(&MfaDeviceRemoved, &delete)[0].severity,
            Severity::Critical
        );
    }

    #[test]
    fn a_caller_signed_in_with_mfa_ranks_one_step_lower() {
        use crate::rules::cloudtrail::common::testing::ASSUMED_ROLE_MFA;
        let with_mfa = deactivate("bob").identity(ASSUMED_ROLE_MFA);
        let f = &check(&MfaDeviceRemoved, &with_mfa)[0];
        assert_eq!(f.severity, Severity::Medium);
        assert!(f
            .evidence
            .iter()
            .any(|e| e.path.ends_with("mfaAuthenticated") && e.value == true));
        let without_mfa = deactivate("bob").identity(&ASSUMED_ROLE_MFA.replace(
            r#""mfaAuthenticated":"true""#,
            r#""mfaAuthenticated":"false""#,
        ));
        assert_eq!(
            check(&MfaDeviceRemoved, &without_mfa)[0].severity,
            Severity::High
        );
        // Own device: medium with long-term keys (no MFA), low from an MFA session.
        let own_console = deactivate("christophe").identity(
            r#"{"type":"IAMUser","principalId":"AIDAZ49AHUAJ9OEK73O5","arn":"arn:aws:iam::229654561268:user/christophe","accountId":"229654561268","accessKeyId":"ASIAZ49AHUAJCONSOLE1","userName":"christophe","sessionContext":{"sessionIssuer":{},"webIdFederationData":{},"attributes":{"creationDate":"2024-08-01T13:00:00Z","mfaAuthenticated":"true"}}}"#,
        );
        assert_eq!(
            check(&MfaDeviceRemoved, &own_console)[0].severity,
            Severity::Low
        );
    }

    #[test]
    fn a_denied_removal_is_an_attempt() {
        let f = &check(&MfaDeviceRemoved, &deactivate("alice").denied())[0];
        assert_eq!(f.severity, Severity::Medium);
        assert!(f.title.starts_with("Attempted:"));
        assert!(f.fix.actions.is_empty());
    }
}
