//! PA009 access-key-unused: an active access key not used for 45 days or more.

use trailguard_account::model::{AccessKeySlot, CredentialReportRow};
use trailguard_account::snapshot::CREDENTIAL_REPORT;

use super::{evidence, user_resource, PostureContext, Report};
use crate::call::{Call, KeyStatus};
use crate::finding::{Finding, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rules::cloudtrail::common::sh;

pub const META: RuleMeta = RuleMeta {
    code: "PA009",
    name: "access-key-unused",
    title: "Access key unused for 45 days",
    family: Family::Posture,
    severity: Severity::Medium,
    attack: &["T1078.004", "T1552"],
    compliance: &["CIS-1.12", "IAM.22", "IAM.8"],
    events: &[],
    kb_entries: &["CreateAccessKey", "UpdateAccessKey"],
    doc: RuleDoc {
        what: "Active access keys of IAM users last used 45 or more days before the audit, or never used and \
               created 45 or more days ago. One finding per key.",
        why: "A key that is not used is not needed, yet it still works for whoever finds it in an old \
              repository, CI variable or laptop backup. Unused keys are a common entry point in breaches.",
        example: "`ci,...,access_key_1_active=true,access_key_1_last_rotated=2023-01-10...,access_key_1_last_used_date=N/A`",
        fix: "Deactivate the key (reversible), wait for complaints, then delete it.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html",
            "https://docs.aws.amazon.com/securityhub/latest/userguide/iam-controls.html#iam-22",
        ],
    },
};

pub const UNUSED_DAYS: i64 = 45;

/// Deactivates the key in `slot` when the snapshot knows its id; otherwise tells how to look it up.
pub fn deactivate_key(
    ctx: &PostureContext<'_>,
    finding: &mut Finding,
    user: &CredentialReportRow,
    key: &AccessKeySlot<'_>,
) {
    match ctx.snapshot.access_key_id(&user.user, key.last_rotated) {
        Some(id) => {
            finding.fix.commands.push(
                Call::UpdateAccessKey {
                    user_name: user.user.clone(),
                    access_key_id: id.to_owned(),
                    status: KeyStatus::Inactive,
                }
                .to_cli(),
            );
            finding.fix.actions.push(FixAction::DeactivateAccessKey {
                user_name: user.user.clone(),
                access_key_id: id.to_owned(),
            });
            finding.evidence.push(evidence("AccessKeyId", id));
        }
        None => {
            finding.fix.commands.push(format!(
                "aws iam list-access-keys --user-name {}",
                sh(&user.user)
            ));
            finding.fix.actions.push(FixAction::Manual {
                description: format!(
                    "Deactivate `{}`'s access key created {} (its id is not in the snapshot).",
                    user.user, key.last_rotated
                ),
            });
        }
    }
}

pub fn check(ctx: &PostureContext<'_>) -> Report {
    let Some(report) = &ctx.snapshot.credential_report else {
        return Report::missing(CREDENTIAL_REPORT);
    };
    let mut findings = Vec::new();
    for user in report.users() {
        for key in user.access_keys().iter().filter(|k| k.active) {
            let message = match ctx.days_since(key.last_used_date) {
                Some(days) if days >= UNUSED_DAYS => format!(
                    "Access key {} of `{}` has not been used for {days} days (last: {}).",
                    key.slot, user.user, key.last_used_service
                ),
                Some(_) => continue,
                None => match ctx.days_since(key.last_rotated) {
                    Some(days) if days >= UNUSED_DAYS => format!(
                        "Access key {} of `{}` was created {days} days ago and never used.",
                        key.slot, user.user
                    ),
                    _ => continue,
                },
            };
            let mut finding = ctx.finding(
                &META,
                user_resource(&user.arn, &user.user),
                &key.slot.to_string(),
                message,
            );
            finding.evidence.push(evidence(
                format!(
                    "credential_report[{}].access_key_{}_last_used_date",
                    user.user, key.slot
                ),
                key.last_used_date,
            ));
            deactivate_key(ctx, &mut finding, user, key);
            findings.push(finding);
        }
    }
    Report::evaluated(findings)
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{self, days_ago, row};
    use super::*;
    use trailguard_account::snapshot::CREDENTIAL_REPORT;

    #[test]
    fn stale_and_never_used_active_keys_are_flagged_with_their_ids() {
        let created = days_ago(100);
        let report = testkit::credential_report(&[
            row(
                "ci",
                &[
                    ("access_key_1_active", "true"),
                    ("access_key_1_last_rotated", &created),
                    ("access_key_1_last_used_date", &days_ago(50)),
                    ("access_key_1_last_used_service", "s3"),
                    ("access_key_2_active", "true"),
                    ("access_key_2_last_rotated", &days_ago(10)),
                ],
            ),
            row(
                "busy",
                &[
                    ("access_key_1_active", "true"),
                    ("access_key_1_last_used_date", &days_ago(1)),
                ],
            ),
            row(
                "off",
                &[
                    ("access_key_1_active", "false"),
                    ("access_key_1_last_used_date", &days_ago(300)),
                ],
            ),
            row(
                "idle",
                &[
                    ("access_key_2_active", "true"),
                    ("access_key_2_last_rotated", &days_ago(46)),
                ],
            ),
        ]);
        let keys = format!(
            r#"{{"AccessKeyMetadata":[{{"UserName":"ci","AccessKeyId":"AKIAEXAMPLECI0000001","Status":"Active","CreateDate":"{created}"}}]}}"#
        );
        let outcome = testkit::run(
            check,
            &[
                (CREDENTIAL_REPORT, &report),
                ("list-access-keys/ci.json", &keys),
            ],
        );
        assert_eq!(testkit::names(&outcome), ["ci", "idle"]);
        let ci = &outcome.findings()[0];
        assert_eq!(
            ci.message,
            "Access key 1 of `ci` has not been used for 50 days (last: s3)."
        );
        assert_eq!(
            ci.fix.actions,
            [FixAction::DeactivateAccessKey {
                user_name: "ci".into(),
                access_key_id: "AKIAEXAMPLECI0000001".into()
            }]
        );
        let idle = &outcome.findings()[1];
        assert_eq!(
            idle.message,
            "Access key 2 of `idle` was created 46 days ago and never used."
        );
        assert!(matches!(idle.fix.actions[0], FixAction::Manual { .. }));
    }
}
