//! PA011 multiple-active-access-keys: a user with two active access keys.

use trailguard_account::snapshot::CREDENTIAL_REPORT;

use super::access_key_unused::deactivate_key;
use super::{evidence, user_resource, PostureContext, Report};
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};

pub const META: RuleMeta = RuleMeta {
    code: "PA011",
    name: "multiple-active-access-keys",
    title: "More than one active access key",
    family: Family::Posture,
    severity: Severity::Medium,
    attack: &["T1098.001"],
    compliance: &["CIS-1.13"],
    events: &[],
    kb_entries: &["CreateAccessKey"],
    doc: RuleDoc {
        what: "IAM users with both access key slots active. The fix deactivates the key used least recently \
               (or never).",
        why: "Two keys are meant to overlap only during a rotation. A second key that stays active is often a \
              forgotten one, or a persistence key an attacker added beside the real one (`CreateAccessKey` for \
              another user).",
        example: "`svc,...,access_key_1_active=true,...,access_key_2_active=true,...`",
        fix: "Find which key the workload uses (last used date and service), deactivate the other, then delete it.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html",
            "https://www.cisecurity.org/benchmark/amazon_web_services",
        ],
    },
};

pub fn check(ctx: &PostureContext<'_>) -> Report {
    let Some(report) = &ctx.snapshot.credential_report else {
        return Report::missing(CREDENTIAL_REPORT);
    };
    let mut findings = Vec::new();
    for user in report.users() {
        let keys = user.access_keys();
        if !(keys[0].active && keys[1].active) {
            continue;
        }
        // The stale one: never used beats used; otherwise the older last use.
        let last_use = |i: usize| ctx.days_since(keys[i].last_used_date).unwrap_or(i64::MAX);
        let stale = if last_use(1) > last_use(0) { 1 } else { 0 };
        let mut finding = ctx.finding(
            &META,
            user_resource(&user.arn, &user.user),
            "",
            format!(
                "IAM user `{}` has two active access keys; key {} is the less recently used.",
                user.user, keys[stale].slot
            ),
        );
        for key in &keys {
            finding.evidence.push(evidence(
                format!("credential_report[{}].access_key_{}", user.user, key.slot),
                serde_json::json!({"active": key.active, "last_rotated": key.last_rotated,
                                   "last_used_date": key.last_used_date}),
            ));
        }
        deactivate_key(ctx, &mut finding, user, &keys[stale]);
        findings.push(finding);
    }
    Report::evaluated(findings)
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{self, days_ago, row};
    use super::*;

    #[test]
    fn two_active_keys_point_at_the_stale_one() {
        let outcome = testkit::run_report(
            check,
            &[
                row(
                    "two",
                    &[
                        ("access_key_1_active", "true"),
                        ("access_key_1_last_used_date", &days_ago(1)),
                        ("access_key_2_active", "true"),
                        ("access_key_2_last_used_date", "N/A"),
                    ],
                ),
                row(
                    "one",
                    &[
                        ("access_key_1_active", "true"),
                        ("access_key_2_active", "false"),
                    ],
                ),
            ],
        );
        assert_eq!(testkit::names(&outcome), ["two"]);
        assert!(outcome.findings()[0]
            .message
            .ends_with("key 2 is the less recently used."));
    }
}
