//! PA010 access-key-not-rotated: an active access key older than 90 days.

use trailguard_account::snapshot::CREDENTIAL_REPORT;

use super::{evidence, user_resource, PostureContext, Report};
use crate::call::{Call, KeyStatus};
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rules::cloudtrail::common::sh;

pub const META: RuleMeta = RuleMeta {
    code: "PA010",
    name: "access-key-not-rotated",
    title: "Access key older than 90 days",
    family: Family::Posture,
    severity: Severity::Medium,
    attack: &["T1552"],
    compliance: &["CIS-1.14", "IAM.3"],
    events: &[],
    kb_entries: &["CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey"],
    doc: RuleDoc {
        what: "Active access keys whose `last_rotated` (creation) time is more than 90 days before the audit. \
               One finding per key.",
        why: "The longer a key lives, the more places it has been copied to. Rotation bounds the useful life of a \
              leaked key; better still, replace long-lived keys with roles.",
        example: "`deploy,...,access_key_1_active=true,access_key_1_last_rotated=2023-01-10T12:00:00+00:00,...`",
        fix: "Create a second key, switch every consumer to it, deactivate the old key, then delete it. Prefer an \
              IAM role (instance profile, IRSA, OIDC for CI) so no key is needed.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html#rotating_access_keys_console",
            "https://docs.aws.amazon.com/securityhub/latest/userguide/iam-controls.html#iam-3",
        ],
    },
};

pub const MAX_AGE_DAYS: i64 = 90;

pub fn check(ctx: &PostureContext<'_>) -> Report {
    let Some(report) = &ctx.snapshot.credential_report else {
        return Report::missing(CREDENTIAL_REPORT);
    };
    let mut findings = Vec::new();
    for user in report.users() {
        for key in user.access_keys().iter().filter(|k| k.active) {
            let Some(age) = ctx
                .days_since(key.last_rotated)
                .filter(|d| *d > MAX_AGE_DAYS)
            else {
                continue;
            };
            let mut finding = ctx.finding(
                &META,
                user_resource(&user.arn, &user.user),
                &key.slot.to_string(),
                format!(
                    "Access key {} of `{}` is {age} days old (created {}).",
                    key.slot, user.user, key.last_rotated
                ),
            );
            finding.evidence.push(evidence(
                format!(
                    "credential_report[{}].access_key_{}_last_rotated",
                    user.user, key.slot
                ),
                key.last_rotated,
            ));
            finding.fix.commands.push(format!(
                "aws iam create-access-key --user-name {}",
                sh(&user.user)
            ));
            if let Some(id) = ctx.snapshot.access_key_id(&user.user, key.last_rotated) {
                finding.evidence.push(evidence("AccessKeyId", id));
                let deactivate = Call::UpdateAccessKey {
                    user_name: user.user.clone(),
                    access_key_id: id.to_owned(),
                    status: KeyStatus::Inactive,
                };
                finding.fix.commands.push(deactivate.to_cli());
            }
            finding.fix.actions.push(FixAction::Manual {
                description: format!(
                    "Rotate `{}`'s key {}: create a new key, move its consumers, deactivate the old one.",
                    user.user, key.slot
                ),
            });
            findings.push(finding);
        }
    }
    Report::evaluated(findings)
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{self, days_ago, row};
    use super::*;

    #[test]
    fn active_keys_past_ninety_days_are_flagged() {
        let outcome = testkit::run_report(
            check,
            &[
                row(
                    "old",
                    &[
                        ("access_key_1_active", "true"),
                        ("access_key_1_last_rotated", &days_ago(91)),
                    ],
                ),
                row(
                    "edge",
                    &[
                        ("access_key_1_active", "true"),
                        ("access_key_1_last_rotated", &days_ago(90)),
                    ],
                ),
                row(
                    "inactive",
                    &[
                        ("access_key_2_active", "false"),
                        ("access_key_2_last_rotated", &days_ago(500)),
                    ],
                ),
                row(
                    "<root_account>",
                    &[
                        ("access_key_1_active", "true"),
                        ("access_key_1_last_rotated", &days_ago(500)),
                    ],
                ),
            ],
        );
        assert_eq!(testkit::names(&outcome), ["old"]);
        assert!(outcome.findings()[0]
            .message
            .starts_with("Access key 1 of `old` is 91 days old"));
    }
}
