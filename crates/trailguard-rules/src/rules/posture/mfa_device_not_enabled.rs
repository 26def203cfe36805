//! PA007 mfa-device-not-enabled: virtual MFA devices created but never enabled, and devices the
//! MFA list shows assigned to a user whose credential report says MFA is not active.

use trailguard_account::snapshot::VIRTUAL_MFA_DEVICES;

use super::{evidence, PostureContext, Report};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rules::cloudtrail::common::sh;

pub const META: RuleMeta = RuleMeta {
    code: "PA007",
    name: "mfa-device-not-enabled",
    title: "MFA device assigned but inactive",
    family: Family::Posture,
    severity: Severity::Low,
    attack: &["T1556.006"],
    compliance: &["CIS-1.10", "IAM.19"],
    events: &[],
    kb_entries: &["CreateVirtualMFADevice", "EnableMFADevice", "DeactivateMFADevice"],
    doc: RuleDoc {
        what: "Virtual MFA devices in `list-virtual-mfa-devices` that were created but never enabled (no user, no \
               enable date), and devices listed for a user whose credential report row says `mfa_active` false \
               (the device exists but does not protect the sign-in).",
        why: "An unfinished enrolment leaves the user believing they have MFA while their password still works \
              alone, and orphaned device secrets (the seed was shown once as a QR code) can be enabled later by \
              anyone who kept the seed and can call `EnableMFADevice`.",
        example: "`{\"SerialNumber\": \"arn:aws:iam::111122223333:mfa/alice\"}` with no `User` and no `EnableDate`.",
        fix: "Finish the enrolment with the user (`aws iam enable-mfa-device`) or delete the orphaned device \
              (`aws iam delete-virtual-mfa-device --serial-number ARN`).",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/APIReference/API_ListVirtualMFADevices.html",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_mfa_enable_virtual.html",
        ],
    },
};

pub fn check(ctx: &PostureContext<'_>) -> Report {
    let Some(devices) = &ctx.snapshot.virtual_mfa_devices else {
        return Report::missing(VIRTUAL_MFA_DEVICES);
    };
    let report = ctx.snapshot.credential_report.as_ref();
    let mut findings = Vec::new();
    for device in devices {
        let resource = Resource {
            kind: "AwsIamVirtualMfaDevice".into(),
            id: device.serial_number.clone(),
            name: device.serial_number.rsplit('/').next().map(str::to_owned),
        };
        let message = match &device.user {
            None => format!(
                "Virtual MFA device `{}` was created but never enabled for any user.",
                device.serial_number
            ),
            Some(user) => {
                let inactive = report
                    .and_then(|r| r.users().find(|row| row.user == user.user_name))
                    .is_some_and(|row| !row.mfa_active());
                if !inactive {
                    continue;
                }
                format!(
                    "Virtual MFA device `{}` is listed for `{}`, but the credential report shows no active MFA for them.",
                    device.serial_number, user.user_name
                )
            }
        };
        let mut finding = ctx.finding(&META, resource, "", message);
        finding.evidence.push(evidence(
            "VirtualMFADevices[]",
            serde_json::to_value(device).unwrap_or_default(),
        ));
        finding.fix.commands.push(format!(
            "aws iam delete-virtual-mfa-device --serial-number {}",
            sh(&device.serial_number)
        ));
        finding.fix.actions.push(FixAction::Manual {
            description:
                "Finish the MFA enrolment with its user, or delete the unused virtual device."
                    .into(),
        });
        findings.push(finding);
    }
    Report::evaluated(findings)
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{self, row};
    use super::*;
    use trailguard_account::snapshot::CREDENTIAL_REPORT;

    #[test]
    fn unfinished_and_inconsistent_devices_are_flagged() {
        let devices = r#"{"VirtualMFADevices":[
            {"SerialNumber":"arn:aws:iam::111122223333:mfa/orphan"},
            {"SerialNumber":"arn:aws:iam::111122223333:mfa/bob","User":{"UserName":"bob","Arn":"arn:aws:iam::111122223333:user/bob"},"EnableDate":"2024-01-01T00:00:00Z"},
            {"SerialNumber":"arn:aws:iam::111122223333:mfa/carol","User":{"UserName":"carol","Arn":"arn:aws:iam::111122223333:user/carol"},"EnableDate":"2024-01-01T00:00:00Z"}]}"#;
        let report = testkit::credential_report(&[
            row(
                "bob",
                &[("password_enabled", "true"), ("mfa_active", "true")],
            ),
            row("carol", &[("password_enabled", "true")]),
        ]);
        let outcome = testkit::run(
            check,
            &[(VIRTUAL_MFA_DEVICES, devices), (CREDENTIAL_REPORT, &report)],
        );
        assert_eq!(testkit::names(&outcome), ["orphan", "carol"]);
    }

    #[test]
    fn enabled_devices_pass() {
        let devices = r#"{"VirtualMFADevices":[{"SerialNumber":"arn:aws:iam::111122223333:mfa/bob",
            "User":{"UserName":"bob","Arn":"arn:aws:iam::111122223333:user/bob"}}]}"#;
        assert_eq!(
            testkit::run(check, &[(VIRTUAL_MFA_DEVICES, devices)]),
            Report::evaluated(Vec::new())
        );
    }
}
