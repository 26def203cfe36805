//! PA005 root-used-recently: the root user's password or an access key was used in the last 90 days.

use trailguard_account::snapshot::CREDENTIAL_REPORT;

use super::{evidence, PostureContext, Report};
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;

pub const META: RuleMeta = RuleMeta {
    code: "PA005",
    name: "root-used-recently",
    title: "Root user used recently",
    family: Family::Posture,
    severity: Severity::Medium,
    attack: &["T1078.004"],
    compliance: &["CIS-1.7"],
    events: &[],
    kb_entries: &["ConsoleLogin"],
    doc: RuleDoc {
        what: "The credential report shows the root password or a root access key used within the last 90 days \
               before the audit. Use within the last 7 days is **high**.",
        why: "Root should be used only for the handful of tasks that need it (closing the account, changing the \
              support plan). Regular root use means shared, unrestricted credentials in daily work, and root \
              activity cannot be limited or attributed to a person.",
        example: "`<root_account>,...,password_last_used=2024-05-29T08:12:00+00:00,...`",
        fix: "Find what root was used for (CloudTrail `userIdentity.type = Root`), give those tasks to IAM roles or \
              Identity Center users, and lock the root credentials away.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/root-user-tasks.html",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_root-user.html",
        ],
    },
};

pub const WINDOW_DAYS: i64 = 90;
pub const RECENT_DAYS: i64 = 7;

pub fn check(ctx: &PostureContext<'_>) -> Report {
    let Some(root) = ctx
        .snapshot
        .credential_report
        .as_ref()
        .and_then(|r| r.root())
    else {
        return Report::missing(CREDENTIAL_REPORT);
    };
    let mut uses: Vec<(String, &str)> = Vec::new();
    uses.push((
        "password_last_used".into(),
        root.password_last_used.as_str(),
    ));
    for key in root.access_keys() {
        uses.push((
            format!("access_key_{}_last_used_date", key.slot),
            key.last_used_date,
        ));
    }
    let latest = uses
        .iter()
        .filter_map(|(field, text)| ctx.days_since(text).map(|days| (days, field, *text)))
        .min_by_key(|(days, _, _)| *days);
    let Some((days, field, text)) = latest.filter(|(days, _, _)| *days <= WINDOW_DAYS) else {
        return Report::evaluated(Vec::new());
    };
    let what = if field.starts_with("password") {
        "signed in with the root password".to_owned()
    } else {
        "used a root access key".to_owned()
    };
    let mut finding = ctx.finding(
        &META,
        ctx.account_resource(),
        "",
        format!("Someone {what} {} ({text}).", super::ago(days)),
    );
    if days <= RECENT_DAYS {
        finding.severity = Severity::High;
    }
    finding.evidence.push(evidence(
        format!("credential_report[<root_account>].{field}"),
        text,
    ));
    finding.fix.actions.push(FixAction::Manual {
        description: "Review root activity in CloudTrail and move those tasks to IAM roles.".into(),
    });
    Report::evaluated(vec![finding])
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{self, days_ago, row};
    use super::*;

    #[test]
    fn the_latest_use_decides_and_recent_use_is_high() {
        let old = days_ago(200);
        let recent = days_ago(2);
        let outcome = testkit::run_report(
            check,
            &[row(
                "<root_account>",
                &[
                    ("password_last_used", &old),
                    ("access_key_1_last_used_date", &recent),
                ],
            )],
        );
        let f = &outcome.findings()[0];
        assert_eq!(f.severity, Severity::High);
        assert!(
            f.message
                .starts_with("Someone used a root access key 2 days ago"),
            "{}",
            f.message
        );
        let medium = testkit::run_report(
            check,
            &[row(
                "<root_account>",
                &[("password_last_used", &days_ago(30))],
            )],
        );
        assert_eq!(medium.findings()[0].severity, Severity::Medium);
    }

    #[test]
    fn no_use_in_the_window_passes() {
        let old = days_ago(91);
        let outcome = testkit::run_report(
            check,
            &[row("<root_account>", &[("password_last_used", &old)])],
        );
        assert_eq!(outcome, Report::evaluated(Vec::new()));
        let never = testkit::run_report(
            check,
            &[row(
                "<root_account>",
                &[("password_last_used", "no_information")],
            )],
        );
        assert!(never.findings().is_empty());
    }
}
