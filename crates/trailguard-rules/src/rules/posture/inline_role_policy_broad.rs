//! PA016 inline-role-policy-broad: inline role policies that break least privilege: administrator
//! access, service-wide wildcards, `Allow` with `NotAction`, `iam:PassRole` on `*`, or a
//! privilege-escalation method.

use trailguard_account::snapshot::AUTHORIZATION_DETAILS;
use trailguard_policy::analysis::analyze;
use trailguard_policy::PolicyDocument;

use super::{evidence, PostureContext, Report};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::{FixAction, IdentityKind};
use crate::rules::cloudtrail::common::sh;

pub const META: RuleMeta = RuleMeta {
    code: "PA016",
    name: "inline-role-policy-broad",
    title: "Inline role policy breaks least privilege",
    family: Family::Posture,
    severity: Severity::Medium,
    attack: &["T1098"],
    compliance: &["IAM.21", "CIS-1.16"],
    events: &[],
    kb_entries: &["PutRolePolicy"],
    doc: RuleDoc {
        what: "Each inline policy of each role that grants administrator access (**high**), a privilege-escalation \
               method (**high**), a service-wide wildcard such as `iam:*` or `s3:*`, `Allow` with `NotAction`, or \
               `iam:PassRole` on every role. One finding per policy, naming the statements.",
        why: "Inline policies are invisible in the policy list, cannot be reused or versioned, and are often \
              written once in a hurry with wildcards. Roles are assumed by services and other accounts, so an \
              over-broad inline policy is reachable from every workload that can assume the role.",
        example: "Role `deploy` with inline policy `all-s3` = `{\"Effect\": \"Allow\", \"Action\": \"s3:*\", \"Resource\": \"*\"}`.",
        fix: "Rewrite the policy with the actions and resources the workload uses (Access Analyzer can generate it \
              from CloudTrail), preferably as a customer managed policy so it is versioned and reviewable.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-vs-inline.html",
            "https://docs.aws.amazon.com/securityhub/latest/userguide/iam-controls.html#iam-21",
        ],
    },
};

pub fn check(ctx: &PostureContext<'_>) -> Report {
    let Some(details) = &ctx.snapshot.authorization else {
        return Report::missing(AUTHORIZATION_DETAILS);
    };
    let mut findings = Vec::new();
    for role in &details.role_detail_list {
        for policy in &role.role_policy_list {
            let Ok(text) = serde_json::to_string(&policy.policy_document) else {
                continue;
            };
            let Ok(doc) = PolicyDocument::parse(&text) else {
                continue;
            };
            let analysis = analyze(&doc);
            let mut reasons = Vec::new();
            let mut severity = META.severity;
            if analysis.is_admin {
                reasons.push("full administrator access".to_owned());
                severity = Severity::High;
            }
            if !analysis.privilege_escalation.is_empty() {
                let methods: Vec<&str> = analysis
                    .privilege_escalation
                    .iter()
                    .map(|p| p.method.name)
                    .collect();
                reasons.push(format!("privilege escalation ({})", methods.join(", ")));
                severity = Severity::High;
            }
            if !analysis.service_wildcards.is_empty() && !analysis.is_admin {
                let mut services: Vec<String> = analysis
                    .service_wildcards
                    .iter()
                    .map(|w| format!("{}:*", w.service))
                    .collect();
                services.dedup();
                reasons.push(format!("service-wide wildcards {}", services.join(", ")));
            }
            if !analysis.allow_not_action.is_empty() {
                reasons.push("Allow with NotAction".to_owned());
            }
            if !analysis.passrole_star.is_empty() {
                reasons.push("iam:PassRole on every role".to_owned());
            }
            if reasons.is_empty() {
                continue;
            }
            let mut finding = ctx.finding(
                &META,
                Resource {
                    kind: "AwsIamRole".into(),
                    id: role.arn.clone(),
                    name: Some(role.role_name.clone()),
                },
                &policy.policy_name,
                format!(
                    "Inline policy `{}` of role `{}` grants {}.",
                    policy.policy_name,
                    role.role_name,
                    reasons.join("; ")
                ),
            );
            finding.severity = severity;
            finding.evidence.push(evidence(
                format!(
                    "RoleDetailList[{}].RolePolicyList[{}]",
                    role.role_name, policy.policy_name
                ),
                policy.policy_document.clone(),
            ));
            finding.fix.commands.push(format!(
                "aws iam get-role-policy --role-name {} --policy-name {}",
                sh(&role.role_name),
                sh(&policy.policy_name)
            ));
            finding.fix.actions.push(FixAction::Manual {
                description: format!(
                    "Rewrite inline policy `{}` of role `{}` with least privilege.",
                    policy.policy_name, role.role_name
                ),
            });
            // Deleting is offered only for admin grants, where keeping it is never least privilege.
            if analysis.is_admin {
                finding.fix.actions.push(FixAction::DeleteInlinePolicy {
                    principal_kind: IdentityKind::Role,
                    principal_name: role.role_name.clone(),
                    policy_name: policy.policy_name.clone(),
                });
            }
            findings.push(finding);
        }
    }
    Report::evaluated(findings)
}

#[cfg(test)]
mod tests {
    use super::super::testkit;
    use super::*;

    #[test]
    fn cloudsplaining_roles_with_passrole_star_inline() {
        let snap = testkit::cloudsplaining();
        let ctx = PostureContext::new(&snap, Some(testkit::now()));
        let outcome = check(&ctx);
        let names = testkit::names(&outcome);
        // MyRole's and MyOtherRole's inline policies grant iam:PassRole on `*` (read by hand).
        for role in ["MyRole", "MyOtherRole"] {
            let i = names
                .iter()
                .position(|n| n == role)
                .unwrap_or_else(|| panic!("{role} in {names:?}"));
            assert!(
                outcome.findings()[i]
                    .message
                    .contains("iam:PassRole on every role"),
                "{}",
                outcome.findings()[i].message
            );
        }
    }

    #[test]
    fn scoped_inline_policies_pass_and_admin_ones_are_high() {
        let details = r#"{"RoleDetailList":[
            {"RoleName":"scoped","Arn":"arn:aws:iam::111122223333:role/scoped","RolePolicyList":[{"PolicyName":"p",
              "PolicyDocument":{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}}]},
            {"RoleName":"wide","Arn":"arn:aws:iam::111122223333:role/wide","RolePolicyList":[{"PolicyName":"all",
              "PolicyDocument":{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}},
              {"PolicyName":"s3","PolicyDocument":{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}}]}]}"#;
        let outcome = testkit::run(check, &[(AUTHORIZATION_DETAILS, details)]);
        let messages: Vec<(&str, Severity)> = outcome
            .findings()
            .iter()
            .map(|f| (f.message.as_str(), f.severity))
            .collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert_eq!(messages[0].1, Severity::High);
        assert!(messages[0]
            .0
            .starts_with("Inline policy `all` of role `wide` grants full administrator access"));
        assert_eq!(
            messages[1],
            (
                "Inline policy `s3` of role `wide` grants service-wide wildcards s3:*.",
                Severity::Medium
            )
        );
    }
}
