//! PA003 root-hardware-mfa-missing: root's MFA is a virtual (app) device, or there is none.

use trailguard_account::snapshot::VIRTUAL_MFA_DEVICES;

use super::root_mfa_disabled::root_mfa_enabled;
use super::{evidence, PostureContext, Report};
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;

pub const META: RuleMeta = RuleMeta {
    code: "PA003",
    name: "root-hardware-mfa-missing",
    title: "Root user has no hardware MFA",
    family: Family::Posture,
    severity: Severity::High,
    attack: &["T1078.004"],
    compliance: &["CIS-1.6", "IAM.6"],
    events: &[],
    kb_entries: &["EnableMFADevice"],
    doc: RuleDoc {
        what: "Root has MFA, but the device is virtual: `list-virtual-mfa-devices` lists a device assigned to \
               the root user (serial `...:mfa/root-account-mfa-device` or user ARN `...:root`). Root with no MFA \
               at all fails here too (and in PA002).",
        why: "A virtual MFA secret lives on a phone or laptop that is backed up, synced and lost; a hardware or \
              FIDO key cannot be copied. CIS asks for hardware MFA on root because root cannot be restricted.",
        example: "`{\"SerialNumber\": \"arn:aws:iam::111122223333:mfa/root-account-mfa-device\", \"User\": \
                  {\"Arn\": \"arn:aws:iam::111122223333:root\"}}`",
        fix: "Sign in as root, register a FIDO security key or hardware TOTP token, then remove the virtual device. \
              Keep the hardware device in a safe with a documented recovery process.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_mfa_enable_fido.html",
            "https://docs.aws.amazon.com/securityhub/latest/userguide/iam-controls.html#iam-6",
        ],
    },
};

pub fn check(ctx: &PostureContext<'_>) -> Report {
    let Some(devices) = &ctx.snapshot.virtual_mfa_devices else {
        return Report::missing(VIRTUAL_MFA_DEVICES);
    };
    let Some(enabled) = root_mfa_enabled(ctx) else {
        return Report::not_evaluated(
            "root MFA status unknown (no account summary or credential report)",
        );
    };
    let root_virtual = devices.iter().find(|d| {
        d.serial_number.ends_with(":mfa/root-account-mfa-device")
            || d.user.as_ref().is_some_and(|u| u.arn.ends_with(":root"))
    });
    let message = match (enabled, root_virtual) {
        (true, None) => return Report::evaluated(Vec::new()),
        (true, Some(device)) => format!(
            "The root user's MFA is the virtual device `{}`, not a hardware key.",
            device.serial_number
        ),
        (false, _) => "The root user has no MFA device at all, hardware or virtual.".to_owned(),
    };
    let mut finding = ctx.finding(&META, ctx.account_resource(), "", message);
    if let Some(device) = root_virtual {
        finding.evidence.push(evidence(
            "VirtualMFADevices[root]",
            serde_json::to_value(device).unwrap_or_default(),
        ));
    }
    finding.fix.actions.push(FixAction::Manual {
        description: "Sign in as root, register a hardware (FIDO) MFA device, remove the virtual one.".into(),
    });
    Report::evaluated(vec![finding])
}

#[cfg(test)]
mod tests {
    use super::super::testkit;
    use super::*;
    use trailguard_account::snapshot::ACCOUNT_SUMMARY;

    const MFA_ON: &str = r#"{"SummaryMap":{"AccountMFAEnabled":1}}"#;

    #[test]
    fn a_virtual_root_device_fails() {
        let devices = r#"{"VirtualMFADevices":[
            {"SerialNumber":"arn:aws:iam::111122223333:mfa/root-account-mfa-device",
             "User":{"UserName":"","Arn":"arn:aws:iam::111122223333:root"},"EnableDate":"2020-01-01T00:00:00Z"},
            {"SerialNumber":"arn:aws:iam::111122223333:mfa/alice","User":{"UserName":"alice","Arn":"arn:aws:iam::111122223333:user/alice"}}]}"#;
        let outcome = testkit::run(
            check,
            &[(ACCOUNT_SUMMARY, MFA_ON), (VIRTUAL_MFA_DEVICES, devices)],
        );
        assert_eq!(outcome.findings().len(), 1);
        assert!(outcome.findings()[0]
            .message
            .contains("root-account-mfa-device"));
    }

    #[test]
    fn mfa_on_with_no_virtual_root_device_is_hardware() {
        let devices = r#"{"VirtualMFADevices":[{"SerialNumber":"arn:aws:iam::111122223333:mfa/alice",
            "User":{"UserName":"alice","Arn":"arn:aws:iam::111122223333:user/alice"}}]}"#;
        let outcome = testkit::run(
            check,
            &[(ACCOUNT_SUMMARY, MFA_ON), (VIRTUAL_MFA_DEVICES, devices)],
        );
        assert_eq!(outcome, Report::evaluated(Vec::new()));
        assert!(testkit::run(check, &[(ACCOUNT_SUMMARY, MFA_ON)])
            .not_evaluated_reason()
            .is_some());
    }
}
