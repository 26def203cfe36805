//! PA012 unused-user: an IAM user with no sign-in and no key use for 90 days: a delete candidate.

use trailguard_account::snapshot::CREDENTIAL_REPORT;

use super::{evidence, user_resource, PostureContext, Report};
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;

pub const META: RuleMeta = RuleMeta {
    code: "PA012",
    name: "unused-user",
    title: "IAM user unused for 90 days",
    family: Family::Posture,
    severity: Severity::Low,
    attack: &["T1078.004"],
    compliance: &["CIS-1.12", "IAM.8"],
    events: &[],
    kb_entries: &["DeleteUser"],
    doc: RuleDoc {
        what: "IAM users created 90 or more days before the audit that have neither signed in nor used an access \
               key in the last 90 days (never counts as not in the window). These are delete candidates.",
        why: "Dormant users keep their permissions and whatever credentials they hold. Removing them shrinks what \
              an attacker can take over and what an auditor must review.",
        example: "`old-contractor,...,user_creation_time=2022-04-01...,password_last_used=2022-06-30...,access_key_1_last_used_date=N/A`",
        fix: "Confirm with the owner, then delete the user (`trailguard fix` saves its policies, groups, keys and \
              login profile to the journal first, then removes them and the user).",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_users_manage.html#id_users_deleting",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_finding-unused.html",
        ],
    },
};

pub const UNUSED_DAYS: i64 = 90;

pub fn check(ctx: &PostureContext<'_>) -> Report {
    let Some(report) = &ctx.snapshot.credential_report else {
        return Report::missing(CREDENTIAL_REPORT);
    };
    let mut findings = Vec::new();
    for user in report.users() {
        if ctx
            .days_since(&user.user_creation_time)
            .is_none_or(|age| age < UNUSED_DAYS)
        {
            continue;
        }
        let keys = user.access_keys();
        let last_use = [
            user.password_last_used.as_str(),
            keys[0].last_used_date,
            keys[1].last_used_date,
        ]
        .iter()
        .filter_map(|text| ctx.days_since(text))
        .min();
        let message = match last_use {
            Some(days) if days < UNUSED_DAYS => continue,
            Some(days) => format!(
                "IAM user `{}` has not signed in or used an access key for {days} days: a delete candidate.",
                user.user
            ),
            None => format!(
                "IAM user `{}` has never signed in or used an access key: a delete candidate.",
                user.user
            ),
        };
        let mut finding = ctx.finding(&META, user_resource(&user.arn, &user.user), "", message);
        finding.evidence.push(evidence(
            format!("credential_report[{}]", user.user),
            serde_json::json!({
                "user_creation_time": user.user_creation_time,
                "password_last_used": user.password_last_used,
                "access_key_1_last_used_date": keys[0].last_used_date,
                "access_key_2_last_used_date": keys[1].last_used_date,
            }),
        ));
        finding.fix.actions.push(FixAction::DeleteUnusedUser {
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
    fn dormant_users_are_delete_candidates() {
        let outcome = testkit::run_report(
            check,
            &[
                row(
                    "dormant",
                    &[
                        ("password_last_used", &days_ago(120)),
                        ("access_key_1_last_used_date", &days_ago(95)),
                    ],
                ),
                row("ghost", &[]),
                row(
                    "keyuser",
                    &[
                        ("password_last_used", &days_ago(400)),
                        ("access_key_2_last_used_date", &days_ago(5)),
                    ],
                ),
                row("newbie", &[("user_creation_time", &days_ago(10))]),
                row("<root_account>", &[]),
            ],
        );
        assert_eq!(testkit::names(&outcome), ["dormant", "ghost"]);
        assert_eq!(
            outcome.findings()[0].message,
            "IAM user `dormant` has not signed in or used an access key for 95 days: a delete candidate."
        );
        assert_eq!(
            outcome.findings()[1].fix.actions,
            [FixAction::DeleteUnusedUser {
                user_name: "ghost".into()
            }]
        );
    }
}
