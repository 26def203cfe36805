//! CT004 risky-inline-policy: PutUserPolicy / PutGroupPolicy / PutRolePolicy with a risky document.

use trailguard_event::Record;

use super::common::{
    call_failed, describe_caller, finding_for, finding_id, identity_resource, policy_text,
    request_field, sh,
};
use super::document_risk::{assess, unreadable};
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::{FixAction, IdentityKind};
use crate::rule::{CloudTrailRule, EventContext, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT004",
    name: "risky-inline-policy",
    title: "Risky inline policy put on a principal",
    family: Family::Cloudtrail,
    severity: Severity::High,
    attack: &["T1098", "T1098.003"],
    compliance: &["CIS-1.15", "CIS-1.16", "CIS-4.4", "CloudWatch.4"],
    events: &[
        ("iam.amazonaws.com", "PutUserPolicy"),
        ("iam.amazonaws.com", "PutGroupPolicy"),
        ("iam.amazonaws.com", "PutRolePolicy"),
    ],
    kb_entries: &["PutUserPolicy", "PutGroupPolicy", "PutRolePolicy"],
    doc: RuleDoc {
        what: "`PutUserPolicy`, `PutGroupPolicy` or `PutRolePolicy` whose inline document grants administrator \
               access, `Allow` with `NotAction`, service-wide wildcards on IAM, STS, KMS, Organizations or \
               CloudTrail, privilege-escalation actions, `iam:PassRole` on every role, or sensitive actions \
               without an MFA condition. Inline policies are in effect at once, so the severity is the \
               document's worst risk.",
        why: "An inline policy is invisible in the list of managed policies and is deleted with its principal, \
              which makes it a favourite for quiet privilege escalation (`iam:PutUserPolicy` on oneself is Rhino \
              method 11) and for backdoor roles.",
        example: "`aws iam put-user-policy --user-name dev --policy-name x --policy-document \
                  '{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}'`",
        fix: "Save the document (it is in the finding's evidence), delete the inline policy unless approved, and \
              grant what is needed through a reviewed managed policy.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutUserPolicy.html",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-vs-inline.html",
            "https://rhinosecuritylabs.com/aws/aws-privilege-escalation-methods-mitigation/",
        ],
    },
};

/// Flags inline policies whose document is risky.
#[derive(Debug, Default)]
pub struct RiskyInlinePolicy;

impl CloudTrailRule for RiskyInlinePolicy {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let params = record.request_parameters();
        let Some(text) = policy_text(params.as_ref(), "policyDocument") else {
            return;
        };
        let (kind, key) = match record.event_name.as_ref() {
            "PutUserPolicy" => (IdentityKind::User, "userName"),
            "PutGroupPolicy" => (IdentityKind::Group, "groupName"),
            _ => (IdentityKind::Role, "roleName"),
        };
        let noun = kind.as_str();
        let principal = request_field(params.as_ref(), key).unwrap_or_else(|| "unknown".to_owned());
        let policy_name =
            request_field(params.as_ref(), "policyName").unwrap_or_else(|| "unknown".to_owned());
        let resource = identity_resource(kind, record.account_id(), &principal);
        let risk = match assess(&text, "requestParameters.policyDocument") {
            Ok(Some(risk)) => risk,
            Ok(None) => return,
            Err(err) => {
                if !call_failed(record) {
                    out.push(unreadable(&META, record, &resource.id, &err.0));
                }
                return;
            }
        };
        let mut finding = finding_for(&META, record, risk.severity);
        finding.id = finding_id(&META, record, &[&principal, &policy_name]);
        let who = describe_caller(&EventContext::from_record(record));
        let verb = if call_failed(record) {
            "tried to put"
        } else {
            "put"
        };
        finding.message = format!(
            "{who} {verb} inline policy `{policy_name}` on {noun} `{principal}`; the document {}.",
            risk.reasons.join("; ")
        );
        finding.resource = Some(resource);
        finding.evidence = risk.evidence.clone();
        if call_failed(record) {
            finding.fix.summary = "Nothing was put; find out why this principal tried.".to_owned();
        } else {
            let (p, n) = (sh(&principal).into_owned(), sh(&policy_name).into_owned());
            finding.fix.summary =
                format!("Save, then delete inline policy `{policy_name}` from {noun} `{principal}` unless approved.");
            finding.fix.commands = vec![
                format!(
                    "aws iam get-{noun}-policy --{noun}-name {p} --policy-name {n} > {}",
                    sh(&format!("{policy_name}.json"))
                ),
                format!("aws iam delete-{noun}-policy --{noun}-name {p} --policy-name {n}"),
            ];
            finding.fix.actions.push(FixAction::DeleteInlinePolicy {
                principal_kind: kind,
                principal_name: principal,
                policy_name,
            });
        }
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent};

    fn put(event: &str, key: &str, doc: &str) -> TestEvent {
        TestEvent::iam(event).request(&format!(
            r#"{{"{key}":"target","policyName":"inline-x","policyDocument":{}}}"#,
            serde_json::Value::from(doc)
        ))
    }

    const ADMIN: &str =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

    #[test]
    fn an_admin_inline_policy_on_a_user_is_critical_with_a_delete_action() {
        let f = &check(&RiskyInlinePolicy, &put("PutUserPolicy", "userName", ADMIN))[0];
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(
            f.fix.commands[1],
            "aws iam delete-user-policy --user-name target --policy-name inline-x"
        );
        assert!(matches!(
            &f.fix.actions[0],
            FixAction::DeleteInlinePolicy {
                principal_kind: IdentityKind::User,
                ..
            }
        ));
    }

    #[test]
    fn roles_and_groups_use_their_own_commands() {
        let f = &check(&RiskyInlinePolicy, &put("PutRolePolicy", "roleName", ADMIN))[0];
        assert!(f.fix.commands[1].starts_with("aws iam delete-role-policy --role-name target"));
        let kms = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#;
        let f = &check(&RiskyInlinePolicy, &put("PutGroupPolicy", "groupName", kms))[0];
        assert_eq!(f.severity, Severity::High);
        assert_eq!(f.resource.as_ref().unwrap().kind, "AwsIamGroup");
    }

    #[test]
    fn narrow_policies_are_ignored_and_denied_puts_are_attempts() {
        let narrow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"logs:PutLogEvents","Resource":"arn:aws:logs:us-east-1:229654561268:log-group:app:*"}]}"#;
        assert!(check(
            &RiskyInlinePolicy,
            &put("PutRolePolicy", "roleName", narrow)
        )
        .is_empty());
        let f = &check(
            &RiskyInlinePolicy,
            &put("PutUserPolicy", "userName", ADMIN).denied(),
        )[0];
        assert_eq!(f.severity, Severity::High);
        assert!(f.fix.actions.is_empty());
    }
}
