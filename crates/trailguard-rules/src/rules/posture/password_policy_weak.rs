//! PA001 password-policy-weak: no account password policy, or one below CIS values (length ≥ 14,
//! reuse prevention ≥ 24, upper, lower, number and symbol required, a maximum age of at most 90 days
//! when expiry is set).

use trailguard_account::snapshot::PASSWORD_POLICY;

use super::{evidence, PostureContext, Report};
use crate::call::Call;
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;

pub const META: RuleMeta = RuleMeta {
    code: "PA001",
    name: "password-policy-weak",
    title: "Account password policy missing or below CIS values",
    family: Family::Posture,
    severity: Severity::Medium,
    attack: &["T1110"],
    compliance: &[
        "CIS-1.8", "CIS-1.9", "IAM.7", "IAM.10", "IAM.11", "IAM.12", "IAM.13", "IAM.14", "IAM.15",
        "IAM.16", "IAM.17",
    ],
    events: &[],
    kb_entries: &["UpdateAccountPasswordPolicy", "DeleteAccountPasswordPolicy"],
    doc: RuleDoc {
        what: "The account has no password policy (**high**), or its policy allows passwords shorter than 14 \
               characters, remembers fewer than 24 previous passwords, does not require upper-case, lower-case, \
               number and symbol characters, or lets passwords live longer than 90 days when expiry is on. One \
               finding lists every shortfall.",
        why: "Console passwords of IAM users are guessed, sprayed and reused from other breaches. Without a \
              policy, AWS accepts any 8-character password and lets users cycle back to an old one. A policy \
              applies to new passwords only, so existing weak passwords stay until each user changes theirs.",
        example: "`{\"PasswordPolicy\": {\"MinimumPasswordLength\": 8, \"RequireSymbols\": false, ...}}`",
        fix: "Set a CIS password policy (`trailguard fix` raises each setting and keeps stricter ones). Then require \
              console users to reset their password so existing passwords meet it: `aws iam \
              update-account-password-policy --minimum-password-length 14 --password-reuse-prevention 24 \
              --require-uppercase-characters --require-lowercase-characters --require-numbers \
              --require-symbols --allow-users-to-change-password`.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_passwords_account-policy.html",
            "https://docs.aws.amazon.com/securityhub/latest/userguide/iam-controls.html",
        ],
    },
};

/// CIS minimums.
pub const MIN_LENGTH: i64 = 14;
pub const MIN_REUSE_PREVENTION: i64 = 24;
pub const MAX_AGE_DAYS: i64 = 90;

pub const UPDATE_COMMAND: &str =
    "aws iam update-account-password-policy --minimum-password-length 14 \
--password-reuse-prevention 24 --require-uppercase-characters --require-lowercase-characters \
--require-numbers --require-symbols --allow-users-to-change-password";

pub fn check(ctx: &PostureContext<'_>) -> Report {
    let Some(policy) = &ctx.snapshot.password_policy else {
        return Report::missing(PASSWORD_POLICY);
    };
    let mut shortfalls: Vec<(String, serde_json::Value)> = Vec::new();
    let severity = match policy {
        None => {
            shortfalls.push(("no password policy is set".into(), serde_json::Value::Null));
            Severity::High
        }
        Some(p) => {
            let length = p.minimum_password_length.unwrap_or(8);
            if length < MIN_LENGTH {
                shortfalls.push((
                    format!("minimum length {length} < {MIN_LENGTH}"),
                    length.into(),
                ));
            }
            let reuse = p.password_reuse_prevention.unwrap_or(0);
            if reuse < MIN_REUSE_PREVENTION {
                shortfalls.push((
                    format!("reuse prevention {reuse} < {MIN_REUSE_PREVENTION}"),
                    reuse.into(),
                ));
            }
            for (required, label) in [
                (p.require_uppercase_characters, "upper-case letters"),
                (p.require_lowercase_characters, "lower-case letters"),
                (p.require_numbers, "numbers"),
                (p.require_symbols, "symbols"),
            ] {
                if !required {
                    shortfalls.push((format!("{label} not required"), false.into()));
                }
            }
            if let Some(age) = p.max_password_age.filter(|age| *age > MAX_AGE_DAYS) {
                shortfalls.push((
                    format!("maximum age {age} days > {MAX_AGE_DAYS}"),
                    age.into(),
                ));
            }
            META.severity
        }
    };
    if shortfalls.is_empty() {
        return Report::evaluated(Vec::new());
    }
    let summary: Vec<&str> = shortfalls.iter().map(|(s, _)| s.as_str()).collect();
    let mut finding = ctx.finding(
        &META,
        ctx.account_resource(),
        "",
        format!("Account password policy is weak: {}.", summary.join("; ")),
    );
    finding.severity = severity;
    finding.evidence.push(evidence(
        "PasswordPolicy",
        serde_json::to_value(policy).unwrap_or_default(),
    ));
    finding.fix.commands.push(UPDATE_COMMAND.to_owned());
    finding.fix.actions.push(FixAction::SetCisPasswordPolicy);
    // A new policy binds new passwords only: existing console users must reset theirs.
    if let Some(report) = &ctx.snapshot.credential_report {
        for user in report.users().filter(|u| u.password_enabled()) {
            let reset = Call::UpdateLoginProfile {
                user_name: user.user.clone(),
                password_reset_required: true,
            };
            finding.fix.commands.push(reset.to_cli());
            finding.fix.actions.push(FixAction::RequirePasswordReset {
                user_name: user.user.clone(),
            });
        }
    }
    Report::evaluated(vec![finding])
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{self, row};
    use super::*;
    use trailguard_account::snapshot::CREDENTIAL_REPORT;

    #[test]
    fn a_cis_policy_passes() {
        let outcome = testkit::run(
            check,
            &[(
                PASSWORD_POLICY,
                r#"{"PasswordPolicy":{"MinimumPasswordLength":14,"PasswordReusePrevention":24,
                "RequireSymbols":true,"RequireNumbers":true,"RequireUppercaseCharacters":true,
                "RequireLowercaseCharacters":true,"AllowUsersToChangePassword":true,
                "ExpirePasswords":true,"MaxPasswordAge":90}}"#,
            )],
        );
        assert_eq!(outcome, Report::evaluated(Vec::new()));
    }

    #[test]
    fn every_shortfall_is_listed_and_console_users_must_reset() {
        let report = testkit::credential_report(&[
            row("<root_account>", &[]),
            row("alice", &[("password_enabled", "true")]),
            row("ci-bot", &[]),
        ]);
        let outcome = testkit::run(
            check,
            &[
                (
                    PASSWORD_POLICY,
                    r#"{"PasswordPolicy":{"MinimumPasswordLength":8,"RequireSymbols":true,
                    "RequireNumbers":true,"RequireUppercaseCharacters":true,"RequireLowercaseCharacters":false,
                    "ExpirePasswords":true,"MaxPasswordAge":365}}"#,
                ),
                (CREDENTIAL_REPORT, &report),
            ],
        );
        let findings = outcome.findings();
        assert_eq!(findings.len(), 1);
        let f = &findings[0];
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(
            f.message,
            "Account password policy is weak: minimum length 8 < 14; reuse prevention 0 < 24; \
             lower-case letters not required; maximum age 365 days > 90."
        );
        assert_eq!(
            f.fix.actions,
            vec![
                FixAction::SetCisPasswordPolicy,
                FixAction::RequirePasswordReset {
                    user_name: "alice".into()
                }
            ]
        );
    }

    #[test]
    fn no_policy_is_high_and_missing_file_is_not_evaluated() {
        let outcome = testkit::run(check, &[(PASSWORD_POLICY, "{}")]);
        assert_eq!(outcome.findings()[0].severity, Severity::High);
        assert!(testkit::run(check, &[])
            .not_evaluated_reason()
            .is_some_and(|reason| reason.contains(PASSWORD_POLICY)));
    }
}
