//! CT005 privileged-policy-attached: an AWS managed admin-class policy attached to a user, group or role.

use trailguard_event::Record;

use super::common::{
    call_failed, describe_caller, evidence, finding_for, finding_id, identity_resource,
    privileged_policy, request_field,
};
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::IdentityKind;
use crate::rule::{CloudTrailRule, EventContext, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT005",
    name: "privileged-policy-attached",
    title: "Privileged AWS managed policy attached",
    family: Family::Cloudtrail,
    severity: Severity::High,
    attack: &["T1098", "T1098.003"],
    compliance: &["CIS-1.15", "CIS-1.16", "CIS-4.4", "IAM.1"],
    events: &[
        ("iam.amazonaws.com", "AttachUserPolicy"),
        ("iam.amazonaws.com", "AttachGroupPolicy"),
        ("iam.amazonaws.com", "AttachRolePolicy"),
    ],
    kb_entries: &["AttachUserPolicy", "AttachGroupPolicy", "AttachRolePolicy"],
    doc: RuleDoc {
        what: "`AttachUserPolicy`, `AttachGroupPolicy` or `AttachRolePolicy` attached an AWS managed policy that \
               grants administrator or near-administrator power: `AdministratorAccess`, `IAMFullAccess`, \
               `PowerUserAccess`, `AWSOrganizationsFullAccess`, `AWSCloudTrail_FullAccess`, \
               `SystemAdministrator` and a few others (see the list in the rule source). Severity follows the \
               policy: critical for `AdministratorAccess` and `IAMFullAccess`.",
        why: "Attaching `AdministratorAccess` to a fresh user or role is the most common last step of account \
              takeover and of persistence (Stratus Red Team `iam-create-admin-user`, `iam-create-backdoor-role`). \
              `IAMFullAccess` is equivalent, because it can grant itself anything. CIS asks that no principal \
              holds full `*:*` administrative privileges and that users get permissions only through groups.",
        example: "`aws iam attach-user-policy --user-name malicious-iam-user --policy-arn \
                  arn:aws:iam::aws:policy/AdministratorAccess`",
        fix: "If the attachment was not approved, detach the policy at once, then review what the principal did \
              since (its access keys, sessions and any users or roles it created). Grant administrator access \
              only to a few roles assumed with MFA, never to users directly.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/APIReference/API_AttachUserPolicy.html",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_job-functions.html",
            "https://stratus-red-team.cloud/attack-techniques/AWS/aws.persistence.iam-create-admin-user/",
        ],
    },
};

/// Flags attachments of privileged AWS managed policies.
#[derive(Debug, Default)]
pub struct PrivilegedPolicyAttached;

impl CloudTrailRule for PrivilegedPolicyAttached {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let params = record.request_parameters();
        let Some(policy_arn) = request_field(params.as_ref(), "policyArn") else {
            return;
        };
        let Some(privileged) = privileged_policy(&policy_arn) else {
            return;
        };
        let (kind, key) = match record.event_name.as_ref() {
            "AttachUserPolicy" => (IdentityKind::User, "userName"),
            "AttachGroupPolicy" => (IdentityKind::Group, "groupName"),
            _ => (IdentityKind::Role, "roleName"),
        };
        let noun = kind.as_str();
        let principal = request_field(params.as_ref(), key).unwrap_or_else(|| "unknown".to_owned());
        let mut finding = finding_for(&META, record, privileged.severity);
        finding.id = finding_id(&META, record, &[&principal, &policy_arn]);
        let who = describe_caller(&EventContext::from_record(record));
        let verb = if call_failed(record) {
            "tried to attach"
        } else {
            "attached"
        };
        finding.message = format!(
            "{who} {verb} `{}` ({}) to {noun} `{principal}`.",
            privileged.name, privileged.why
        );
        finding.resource = Some(identity_resource(kind, record.account_id(), &principal));
        finding
            .evidence
            .push(evidence("requestParameters.policyArn", policy_arn.as_str()));
        if call_failed(record) {
            finding.fix.summary =
                "Nothing was attached; find out why this principal tried to grant administrator rights.".to_owned();
        } else {
            finding.fix.summary = format!(
                "Detach `{}` from {noun} `{principal}` unless approved, then review the {noun}'s activity.",
                privileged.name
            );
            finding
                .fix
                .push_detach_policy(kind, &principal, &policy_arn);
        }
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remediation::FixAction;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent};

    fn attach(event: &str, key: &str, name: &str, policy: &str) -> TestEvent {
        TestEvent::iam(event).request(&format!(r#"{{"policyArn":"{policy}","{key}":"{name}"}}"#))
    }

    #[test]
    fn administrator_access_on_a_user_is_critical_with_a_detach_fix() {
        let e = attach(
            "AttachUserPolicy",
            "userName",
            "malicious-iam-user",
            "arn:aws:iam::aws:policy/AdministratorAccess",
        );
        let f = &check(&PrivilegedPolicyAttached, &e)[0];
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(
            f.fix.commands,
            vec!["aws iam detach-user-policy --user-name malicious-iam-user --policy-arn arn:aws:iam::aws:policy/AdministratorAccess"]
        );
        assert_eq!(
            f.resource.as_ref().unwrap().id,
            "arn:aws:iam::229654561268:user/malicious-iam-user"
        );
        assert!(matches!(
            &f.fix.actions[0],
            FixAction::DetachPolicy {
                principal_kind: IdentityKind::User,
                ..
            }
        ));
    }

    #[test]
    fn power_user_on_a_role_and_iam_full_access_on_a_group() {
        let role = attach(
            "AttachRolePolicy",
            "roleName",
            "ci",
            "arn:aws:iam::aws:policy/PowerUserAccess",
        );
        let f = &check(&PrivilegedPolicyAttached, &role)[0];
        assert_eq!(f.severity, Severity::High);
        assert!(f.fix.commands[0].starts_with("aws iam detach-role-policy --role-name ci "));
        let group = attach(
            "AttachGroupPolicy",
            "groupName",
            "ops",
            "arn:aws:iam::aws:policy/IAMFullAccess",
        );
        let f = &check(&PrivilegedPolicyAttached, &group)[0];
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.resource.as_ref().unwrap().kind, "AwsIamGroup");
    }

    #[test]
    fn ordinary_and_customer_policies_are_ignored() {
        for policy in [
            "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
            "arn:aws:iam::229654561268:policy/AdministratorAccess",
        ] {
            let e = attach("AttachUserPolicy", "userName", "bob", policy);
            assert!(check(&PrivilegedPolicyAttached, &e).is_empty(), "{policy}");
        }
    }

    #[test]
    fn a_denied_attachment_is_an_attempt() {
        let e = attach(
            "AttachUserPolicy",
            "userName",
            "bob",
            "arn:aws:iam::aws:policy/AdministratorAccess",
        )
        .denied();
        let f = &check(&PrivilegedPolicyAttached, &e)[0];
        assert_eq!(f.severity, Severity::High);
        assert!(f.title.starts_with("Attempted:"));
        assert!(f.fix.actions.is_empty());
    }
}
