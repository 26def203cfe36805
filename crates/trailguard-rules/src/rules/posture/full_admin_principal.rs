//! PA014 full-admin-principal: users and roles whose policies grant `*` on `*` (managed or inline).

use trailguard_account::snapshot::AUTHORIZATION_DETAILS;
use trailguard_account::PrincipalKind;

use super::{evidence, PostureContext, Report};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;

pub const META: RuleMeta = RuleMeta {
    code: "PA014",
    name: "full-admin-principal",
    title: "Principal with full administrator access",
    family: Family::Posture,
    severity: Severity::High,
    attack: &["T1078.004", "T1098"],
    compliance: &["CIS-1.16", "IAM.1"],
    events: &[],
    kb_entries: &["AttachUserPolicy", "AttachRolePolicy", "PutRolePolicy"],
    doc: RuleDoc {
        what: "Users and roles that the policy engine finds administrator in effect: an Allow statement with \
               `Action: \"*\"` (or `*:*`) on `Resource: \"*\"` without conditions, in an inline policy, an attached \
               managed policy (AdministratorAccess or a custom one) or a group's policy, and no permissions \
               boundary that cuts it back. Each finding names the granting policies and statements.",
        why: "Every administrator is a full-account compromise waiting for one leaked credential. CIS asks that no \
              policy grants `*:*`; the short list of principals that do is the first thing an auditor and an \
              attacker look for.",
        example: "A user in group `admins`, which has `arn:aws:iam::aws:policy/AdministratorAccess` attached.",
        fix: "Replace `*:*` with the permissions the principal needs (IAM Access Analyzer policy generation from \
              CloudTrail helps), or keep administrator access on a role assumed with MFA and a short session.",
        references: &[
            "https://docs.aws.amazon.com/securityhub/latest/userguide/iam-controls.html#iam-1",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-policy-generation.html",
        ],
    },
};

pub fn check(ctx: &PostureContext<'_>) -> Report {
    if ctx.snapshot.authorization.is_none() {
        return Report::missing(AUTHORIZATION_DETAILS);
    }
    let mut findings = Vec::new();
    for facts in ctx.facts().iter().filter(|f| f.is_admin) {
        let principal = &ctx.principals[facts.index];
        let (kind, label) = match principal.kind {
            PrincipalKind::User => ("AwsIamUser", "IAM user"),
            PrincipalKind::Role => ("AwsIamRole", "IAM role"),
        };
        let mut finding = ctx.finding(
            &META,
            Resource {
                kind: kind.into(),
                id: principal.arn.clone(),
                name: Some(principal.name.clone()),
            },
            "",
            format!(
                "{label} `{}` has full administrator access through {}.",
                principal.name,
                facts.admin_sources.join(", ")
            ),
        );
        finding
            .evidence
            .push(evidence("admin_statements", facts.admin_sources.clone()));
        finding.fix.actions.push(FixAction::Manual {
            description: format!(
                "Replace `*:*` for `{}` with least-privilege permissions, or move admin access to an MFA-protected role.",
                principal.name
            ),
        });
        findings.push(finding);
    }
    Report::evaluated(findings)
}

#[cfg(test)]
mod tests {
    use super::super::testkit;
    use super::*;

    #[test]
    fn cloudsplaining_admins_are_found_with_their_sources() {
        let snap = testkit::cloudsplaining();
        let ctx = PostureContext::new(&snap, Some(testkit::now()));
        let outcome = check(&ctx);
        // Checked by hand in example.json: these have AdministratorAccess attached (directly or via
        // group `admin`), or a customer policy of `*` on `*` (privesc-AssumeRole-high-priv-policy,
        // privesc-high-priv-service-policy). `fp2-allow-and-deny-multiple-policies-user` has `*:*` but also `deny-all`,
        // and `privesc-sre-user` has `iam:*`, `ec2:*`, `s3:*` only: neither is full admin.
        assert_eq!(
            testkit::names(&outcome),
            [
                "obama",
                "userwithlotsofpermissions",
                "AWS-QuickSetup-StackSet-Local-ExecutionRole",
                "AWSReservedSSO_AdministratorAccess_dc6414f7f2ab04fc",
                "OrganizationAccountAccessRole",
                "privesc-AssumeRole-ending-role",
                "privesc-high-priv-service-role",
                "stacksets-exec-b5520cb2730c2f54b523d6375a319abb",
            ]
        );
        assert_eq!(
            outcome.findings()[0].message,
            "IAM user `obama` has full administrator access through managed policy \
             `arn:aws:iam::aws:policy/AdministratorAccess` Statement[0], managed policy \
             `arn:aws:iam::aws:policy/AdministratorAccess` of group `admin` Statement[0]."
        );
    }

    #[test]
    fn conditional_admin_is_not_full_admin() {
        let details = r#"{"RoleDetailList":[{"RoleName":"r","Arn":"arn:aws:iam::111122223333:role/r",
            "RolePolicyList":[{"PolicyName":"mfa-admin","PolicyDocument":{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*",
              "Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}},
              {"PolicyName":"x","PolicyDocument":{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}}]},
            {"RoleName":"a","Arn":"arn:aws:iam::111122223333:role/a",
            "RolePolicyList":[{"PolicyName":"star","PolicyDocument":{"Statement":{"Effect":"Allow","Action":"*:*","Resource":"*"}}}]}]}"#;
        let outcome = testkit::run(check, &[(AUTHORIZATION_DETAILS, details)]);
        assert_eq!(testkit::names(&outcome), ["a"]);
        assert_eq!(
            outcome.findings()[0].message,
            "IAM role `a` has full administrator access through inline policy `star` Statement."
        );
    }
}
