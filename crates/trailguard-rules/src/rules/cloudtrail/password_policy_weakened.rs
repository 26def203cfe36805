//! CT013 password-policy-weakened: UpdateAccountPasswordPolicy with settings below the CIS values.

use serde_json::Value;
use trailguard_event::Record;

use super::common::{call_failed, describe_caller, evidence, finding_for};
use super::password_policy_deleted::CIS_PASSWORD_POLICY_COMMAND;
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{CloudTrailRule, EventContext, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT013",
    name: "password-policy-weakened",
    title: "Account password policy set below CIS values",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1556", "T1110"],
    compliance: &["CIS-1.8", "CIS-1.9", "IAM.7", "IAM.15", "IAM.16"],
    events: &[("iam.amazonaws.com", "UpdateAccountPasswordPolicy")],
    kb_entries: &["UpdateAccountPasswordPolicy"],
    doc: RuleDoc {
        what: "`UpdateAccountPasswordPolicy` whose resulting policy falls short of CIS: minimum length under 14, \
               password reuse prevention under 24, or any of the four character classes (uppercase, lowercase, \
               numbers, symbols) not required. The call replaces the whole policy, so a parameter left out takes \
               IAM's default (length 8, no reuse prevention, class not required) and is judged as such. Severity \
               is **high** when the minimum length is below 8 or no character class is required.",
        why: "Short, simple or reused passwords are what password spraying and credential stuffing succeed \
              against. Lowering the policy is also a quiet way to prepare such an attack, because nothing else \
              changes in the account.",
        example: "`aws iam update-account-password-policy --minimum-password-length 6`",
        fix: "Set the policy to CIS values (length ≥ 14, all four classes, reuse prevention 24), keeping any \
              stricter setting you already have.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateAccountPasswordPolicy.html",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_passwords_account-policy.html",
        ],
    },
};

const CIS_MIN_LENGTH: i64 = 14;
const CIS_REUSE_PREVENTION: i64 = 24;
/// IAM's values for parameters the call leaves out.
const DEFAULT_MIN_LENGTH: i64 = 8;

/// Flags password policies set below the CIS values.
#[derive(Debug, Default)]
pub struct PasswordPolicyWeakened;

impl CloudTrailRule for PasswordPolicyWeakened {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let params = record.request_parameters().unwrap_or(Value::Null);
        let number = |key: &str| params.get(key).and_then(Value::as_i64);
        let flag = |key: &str| params.get(key).and_then(Value::as_bool).unwrap_or(false);

        let mut shortfalls: Vec<(String, Value, String)> = Vec::new();
        let length = number("minimumPasswordLength").unwrap_or(DEFAULT_MIN_LENGTH);
        if length < CIS_MIN_LENGTH {
            shortfalls.push((
                "requestParameters.minimumPasswordLength".to_owned(),
                Value::from(length),
                format!("minimum length {length} (CIS: {CIS_MIN_LENGTH})"),
            ));
        }
        let reuse = number("passwordReusePrevention").unwrap_or(0);
        if reuse < CIS_REUSE_PREVENTION {
            shortfalls.push((
                "requestParameters.passwordReusePrevention".to_owned(),
                Value::from(reuse),
                format!("reuse prevention {reuse} (CIS: {CIS_REUSE_PREVENTION})"),
            ));
        }
        let classes = [
            ("requireUppercaseCharacters", "uppercase"),
            ("requireLowercaseCharacters", "lowercase"),
            ("requireNumbers", "numbers"),
            ("requireSymbols", "symbols"),
        ];
        let mut missing_classes = 0;
        for (key, label) in classes {
            if !flag(key) {
                missing_classes += 1;
                shortfalls.push((
                    format!("requestParameters.{key}"),
                    params.get(key).cloned().unwrap_or(Value::Bool(false)),
                    format!("{label} not required"),
                ));
            }
        }
        if shortfalls.is_empty() {
            return;
        }
        let severity = if length < DEFAULT_MIN_LENGTH || missing_classes == classes.len() {
            Severity::High
        } else {
            META.severity
        };
        let account = record.account_id().unwrap_or("unknown").to_owned();
        let mut finding = finding_for(&META, record, severity);
        let who = describe_caller(&EventContext::from_record(record));
        let list = shortfalls
            .iter()
            .map(|(_, _, why)| why.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        finding.message = if call_failed(record) {
            format!("{who} tried to set a weak password policy on account {account} ({list}); the call failed.")
        } else {
            format!("{who} set the password policy of account {account} below CIS: {list}.")
        };
        finding.resource = Some(Resource {
            kind: "AwsAccount".to_owned(),
            id: account,
            name: None,
        });
        finding.evidence = shortfalls
            .into_iter()
            .map(|(path, value, _)| evidence(path, value))
            .collect();
        if call_failed(record) {
            finding.fix.summary =
                "Nothing changed; find out why this principal tried to.".to_owned();
        } else {
            finding.fix.summary =
                "Set the password policy to CIS values, keeping any stricter setting already in place.".to_owned();
            finding.fix.commands = vec![CIS_PASSWORD_POLICY_COMMAND.to_owned()];
            finding.fix.actions.push(FixAction::SetCisPasswordPolicy);
        }
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent};

    fn update(params: &str) -> TestEvent {
        TestEvent::iam("UpdateAccountPasswordPolicy").request(params)
    }

    #[test]
    fn a_cis_policy_is_not_flagged() {
        let e = update(
            r#"{"minimumPasswordLength":14,"requireSymbols":true,"requireNumbers":true,"requireUppercaseCharacters":true,"requireLowercaseCharacters":true,"allowUsersToChangePassword":true,"maxPasswordAge":90,"passwordReusePrevention":24}"#,
        );
        assert!(check(&PasswordPolicyWeakened, &e).is_empty());
    }

    #[test]
    fn each_shortfall_is_evidence() {
        let e = update(
            r#"{"minimumPasswordLength":12,"requireSymbols":false,"requireNumbers":true,"requireUppercaseCharacters":true,"requireLowercaseCharacters":true,"passwordReusePrevention":5}"#,
        );
        let f = &check(&PasswordPolicyWeakened, &e)[0];
        assert_eq!(f.severity, Severity::Medium);
        let paths: Vec<&str> = f.evidence.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "requestParameters.minimumPasswordLength",
                "requestParameters.passwordReusePrevention",
                "requestParameters.requireSymbols"
            ]
        );
        assert!(
            f.message.contains("minimum length 12 (CIS: 14)"),
            "{}",
            f.message
        );
        assert_eq!(f.fix.actions, vec![FixAction::SetCisPasswordPolicy]);
    }

    #[test]
    fn omitted_parameters_take_iam_defaults_and_an_empty_policy_is_high() {
        let f = &check(&PasswordPolicyWeakened, &update("{}"))[0];
        assert_eq!(f.severity, Severity::High);
        assert_eq!(f.evidence.len(), 6);
        let short = update(
            r#"{"minimumPasswordLength":6,"requireSymbols":true,"requireNumbers":true,"requireUppercaseCharacters":true,"requireLowercaseCharacters":true,"passwordReusePrevention":24}"#,
        );
        assert_eq!(
            check(&PasswordPolicyWeakened, &short)[0].severity,
            Severity::High
        );
    }

    #[test]
    fn a_denied_update_is_an_attempt() {
        let f = &check(
            &PasswordPolicyWeakened,
            &update(r#"{"minimumPasswordLength":6}"#).denied(),
        )[0];
        assert_eq!(f.severity, Severity::Medium);
        assert!(f.title.starts_with("Attempted:"));
    }
}
