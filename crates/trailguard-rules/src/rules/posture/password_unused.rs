//! PA008 password-unused: a console password not used for 45 days or more.

use trailguard_account::snapshot::CREDENTIAL_REPORT;

use super::{evidence, user_resource, PostureContext, Report};
use crate::call::Call;
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;

pub const META: RuleMeta = RuleMeta {
    code: "PA008",
    name: "password-unused",
    title: "Console password unused for 45 days",
    family: Family::Posture,
    severity: Severity::Medium,
    attack: &["T1078.004"],
    compliance: &["CIS-1.12", "IAM.22", "IAM.8"],
    events: &[],
    kb_entries: &["DeleteLoginProfile"],
    doc: RuleDoc {
        what: "IAM users whose console password is enabled but was last used 45 or more days before the audit, \
               or never used although it was set 45 or more days ago.",
        why: "A password nobody uses is nobody's to notice when it is stolen. Unused credentials widen the attack \
              surface for no benefit; CIS asks for them to be disabled after 45 days.",
        example: "`dana,...,password_enabled=true,password_last_used=2024-02-01T09:00:00+00:00,...`",
        fix: "Delete the user's login profile (the user keeps its other access); recreate it when the person \
              needs the console again.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_finding-unused.html",
            "https://docs.aws.amazon.com/securityhub/latest/userguide/iam-controls.html#iam-22",
        ],
    },
};

pub const UNUSED_DAYS: i64 = 45;

pub fn check(ctx: &PostureContext<'_>) -> Report {
    let Some(report) = &ctx.snapshot.credential_report else {
        return Report::missing(CREDENTIAL_REPORT);
    };
    let mut findings = Vec::new();
    for user in report.users().filter(|u| u.password_enabled()) {
        let message = match ctx.days_since(&user.password_last_used) {
            Some(days) if days >= UNUSED_DAYS => format!(
                "IAM user `{}` has not used their console password for {days} days.",
                user.user
            ),
            Some(_) => continue,
            None => {
                // Never used: count from when the password was set (or the user created).
                let set = ctx
                    .days_since(&user.password_last_changed)
                    .or_else(|| ctx.days_since(&user.user_creation_time));
                match set {
                    Some(days) if days >= UNUSED_DAYS => format!(
                        "IAM user `{}` has a console password set {days} days ago and never used.",
                        user.user
                    ),
                    _ => continue,
                }
            }
        };
        let mut finding = ctx.finding(&META, user_resource(&user.arn, &user.user), "", message);
        finding.evidence.push(evidence(
            format!("credential_report[{}].password_last_used", user.user),
            user.password_last_used.clone(),
        ));
        let delete = Call::DeleteLoginProfile {
            user_name: user.user.clone(),
        };
        finding.fix.commands.push(delete.to_cli());
        finding.fix.actions.push(FixAction::DeleteLoginProfile {
            user_name: user.user.clone(),
        });
        findings.push(finding);
    }
    Report::evaluated(findings)
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{self, days_ago, row};
    use super::*;

    #[test]
    fn old_and_never_used_passwords_are_flagged_recent_ones_not() {
        let outcome = testkit::run_report(
            check,
            &[
                row(
                    "old",
                    &[
                        ("password_enabled", "true"),
                        ("password_last_used", &days_ago(60)),
                    ],
                ),
                row(
                    "edge",
                    &[
                        ("password_enabled", "true"),
                        ("password_last_used", &days_ago(45)),
                    ],
                ),
                row(
                    "recent",
                    &[
                        ("password_enabled", "true"),
                        ("password_last_used", &days_ago(44)),
                    ],
                ),
                row(
                    "never",
                    &[
                        ("password_enabled", "true"),
                        ("password_last_used", "no_information"),
                        ("password_last_changed", &days_ago(100)),
                    ],
                ),
                row(
                    "fresh",
                    &[
                        ("password_enabled", "true"),
                        ("password_last_used", "no_information"),
                        ("password_last_changed", &days_ago(3)),
                    ],
                ),
                row("nopass", &[("password_last_used", &days_ago(300))]),
            ],
        );
        assert_eq!(testkit::names(&outcome), ["old", "edge", "never"]);
        assert_eq!(
            outcome.findings()[2].message,
            "IAM user `never` has a console password set 100 days ago and never used."
        );
        assert_eq!(
            outcome.findings()[0].fix.actions,
            [FixAction::DeleteLoginProfile {
                user_name: "old".into()
            }]
        );
    }
}
