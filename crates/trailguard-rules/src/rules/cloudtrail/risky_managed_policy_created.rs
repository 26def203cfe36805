//! CT003 risky-managed-policy-created: CreatePolicy with a risky document.

use trailguard_event::Record;

use super::common::{
    call_failed, created_policy_arn, describe_caller, finding_for, policy_text, request_field, sh,
};
use super::document_risk::{assess, unreadable};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{CloudTrailRule, EventContext, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT003",
    name: "risky-managed-policy-created",
    title: "Risky customer managed policy created",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1098"],
    compliance: &["CIS-1.16", "CIS-4.4", "CloudWatch.4"],
    events: &[("iam.amazonaws.com", "CreatePolicy")],
    kb_entries: &["CreatePolicy"],
    doc: RuleDoc {
        what: "`CreatePolicy` whose document grants administrator access, `Allow` with `NotAction`, service-wide \
               wildcards on IAM, STS, KMS, Organizations or CloudTrail, privilege-escalation actions, \
               `iam:PassRole` on every role, or sensitive actions without an MFA condition. A new managed policy \
               grants nothing until attached, so the severity is one step below the document's worst risk.",
        why: "Attackers create a permissive policy and attach it in a second call (or wait for someone to attach \
              it); CIS asks that no policy grants full `*:*` administrative privileges. Catching the policy at \
              creation names the document before it is in use.",
        example: "`aws iam create-policy --policy-name helper --policy-document \
                  '{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"iam:*\",\"Resource\":\"*\"}]}'`",
        fix: "Narrow the document to the actions and resources needed, or delete the policy if nobody asked for \
              it (detach it from every principal first). Check `AttachUserPolicy` / `AttachRolePolicy` / \
              `AttachGroupPolicy` events that use its ARN.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreatePolicy.html",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege",
        ],
    },
};

/// Flags new customer managed policies whose document is risky.
#[derive(Debug, Default)]
pub struct RiskyManagedPolicyCreated;

impl CloudTrailRule for RiskyManagedPolicyCreated {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let params = record.request_parameters();
        let Some(text) = policy_text(params.as_ref(), "policyDocument") else {
            return;
        };
        let name =
            request_field(params.as_ref(), "policyName").unwrap_or_else(|| "unknown".to_owned());
        let arn = created_policy_arn(record, params.as_ref());
        let risk = match assess(&text, "requestParameters.policyDocument") {
            Ok(Some(risk)) => risk,
            Ok(None) => return,
            Err(err) => {
                if !call_failed(record) {
                    out.push(unreadable(&META, record, &arn, &err.0));
                }
                return;
            }
        };
        let mut finding = finding_for(&META, record, risk.severity.lowered());
        let who = describe_caller(&EventContext::from_record(record));
        let verb = if call_failed(record) {
            "tried to create"
        } else {
            "created"
        };
        finding.message = format!(
            "{who} {verb} managed policy `{name}` whose document {}. It takes effect once attached.",
            risk.reasons.join("; ")
        );
        finding.resource = Some(Resource {
            kind: "AwsIamPolicy".to_owned(),
            id: arn.clone(),
            name: Some(name.clone()),
        });
        finding.evidence = risk.evidence.clone();
        if call_failed(record) {
            finding.fix.summary =
                "No policy was created; find out why this principal tried.".to_owned();
        } else {
            let a = sh(&arn).into_owned();
            finding.fix.summary =
                format!("Narrow or delete managed policy `{name}`; check where it is attached.");
            finding.fix.commands = vec![
                format!("aws iam list-entities-for-policy --policy-arn {a}"),
                format!("aws iam delete-policy --policy-arn {a}"),
            ];
            finding.fix.actions.push(FixAction::Manual {
                description: format!("Narrow or delete managed policy `{arn}` after detaching it."),
            });
        }
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent};

    fn create(doc: &str) -> TestEvent {
        TestEvent::iam("CreatePolicy")
            .request(&format!(r#"{{"policyDocument":{},"policyName":"helper"}}"#, serde_json::Value::from(doc)))
            .response(r#"{"policy":{"arn":"arn:aws:iam::229654561268:policy/helper","attachmentCount":0,"createDate":"Aug 1, 2024 1:33:28 PM","defaultVersionId":"v1","isAttachable":true,"path":"/","permissionsBoundaryUsageCount":0,"policyId":"ANPAQ3ZBGOEX4EXAMPLE","policyName":"helper","updateDate":"Aug 1, 2024 1:33:28 PM"}}"#)
    }

    #[test]
    fn an_iam_wildcard_policy_is_flagged_one_step_below_its_risk() {
        let f = &check(
            &RiskyManagedPolicyCreated,
            &create(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}"#,
            ),
        )[0];
        assert_eq!(f.severity, Severity::Medium);
        assert!(f.message.contains("iam:*"), "{}", f.message);
        assert_eq!(
            f.resource.as_ref().unwrap().id,
            "arn:aws:iam::229654561268:policy/helper"
        );
        assert_eq!(
            f.fix.commands[1],
            "aws iam delete-policy --policy-arn arn:aws:iam::229654561268:policy/helper"
        );
        let admin = &check(
            &RiskyManagedPolicyCreated,
            &create(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
            ),
        )[0];
        assert_eq!(admin.severity, Severity::High);
    }

    #[test]
    fn a_narrow_policy_is_ignored_and_a_denied_one_is_an_attempt() {
        let narrow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"arn:aws:sqs:us-east-1:229654561268:jobs"}]}"#;
        assert!(check(&RiskyManagedPolicyCreated, &create(narrow)).is_empty());
        let admin = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
        let f = &check(&RiskyManagedPolicyCreated, &create(admin).denied())[0];
        assert_eq!(f.severity, Severity::Medium);
        assert!(f.fix.commands.is_empty());
    }
}
