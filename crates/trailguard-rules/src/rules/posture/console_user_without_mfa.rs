//! PA006 console-user-without-mfa: an IAM user with a console password and no MFA device.

use trailguard_account::snapshot::CREDENTIAL_REPORT;

use super::{evidence, user_resource, PostureContext, Report};
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rules::cloudtrail::common::sh;

pub const META: RuleMeta = RuleMeta {
    code: "PA006",
    name: "console-user-without-mfa",
    title: "Console user without MFA",
    family: Family::Posture,
    severity: Severity::High,
    attack: &["T1078.004", "T1110"],
    compliance: &["CIS-1.10", "IAM.5", "IAM.19"],
    events: &[],
    kb_entries: &["ConsoleLogin", "DeactivateMFADevice"],
    doc: RuleDoc {
        what: "Every IAM user whose credential report row has `password_enabled` true and `mfa_active` false: \
               it can sign in to the console with a password alone.",
        why: "Passwords are phished, sprayed and reused. MFA turns a stolen password into a failed sign-in; \
              without it, the user's permissions belong to whoever holds the password.",
        example: "`alice,arn:aws:iam::111122223333:user/alice,...,password_enabled=true,...,mfa_active=false,...`",
        fix: "Have the user enrol an MFA device (a FIDO key is best), and deny everything but MFA self-service \
              until they do (a policy with `aws:MultiFactorAuthPresent`). If the user does not need the console, \
              delete the login profile.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_mfa_enable.html",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/tutorial_users-self-manage-mfa-and-creds.html",
        ],
    },
};

pub fn check(ctx: &PostureContext<'_>) -> Report {
    let Some(report) = &ctx.snapshot.credential_report else {
        return Report::missing(CREDENTIAL_REPORT);
    };
    let findings = report
        .users()
        .filter(|u| u.password_enabled() && !u.mfa_active())
        .map(|user| {
            let last = match ctx.days_since(&user.password_last_used) {
                Some(days) => format!("last signed in {}", super::ago(days)),
                None => "has never signed in".to_owned(),
            };
            let mut finding = ctx.finding(
                &META,
                user_resource(&user.arn, &user.user),
                "",
                format!(
                    "IAM user `{}` has a console password and no MFA device ({last}).",
                    user.user
                ),
            );
            finding.evidence.push(evidence(
                format!("credential_report[{}]", user.user),
                serde_json::json!({"password_enabled": true, "mfa_active": false,
                                   "password_last_used": user.password_last_used}),
            ));
            finding.fix.commands.push(format!(
                "aws iam create-virtual-mfa-device --virtual-mfa-device-name {} --outfile mfa.png --bootstrap-method QRCodePNG",
                sh(&user.user)
            ));
            finding.fix.actions.push(FixAction::Manual {
                description: format!("Have `{}` enrol an MFA device, or delete their login profile.", user.user),
            });
            finding
        })
        .collect();
    Report::evaluated(findings)
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{self, row};
    use super::*;

    #[test]
    fn only_password_users_without_mfa_are_flagged() {
        let outcome = testkit::run_report(
            check,
            &[
                row("<root_account>", &[("mfa_active", "false")]),
                row("alice", &[("password_enabled", "true")]),
                row(
                    "bob",
                    &[("password_enabled", "true"), ("mfa_active", "true")],
                ),
                row("ci", &[("access_key_1_active", "true")]),
            ],
        );
        assert_eq!(testkit::names(&outcome), ["alice"]);
        let f = &outcome.findings()[0];
        assert_eq!(
            f.message,
            "IAM user `alice` has a console password and no MFA device (has never signed in)."
        );
        assert_eq!(
            f.resource.as_ref().unwrap().id,
            "arn:aws:iam::111122223333:user/alice"
        );
    }
}
