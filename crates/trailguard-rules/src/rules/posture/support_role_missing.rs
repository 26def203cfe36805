//! PA017 support-role-missing: no principal has `AWSSupportAccess` to manage incidents with AWS Support.

use trailguard_account::snapshot::AUTHORIZATION_DETAILS;

use super::{PostureContext, Report};
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;

pub const META: RuleMeta = RuleMeta {
    code: "PA017",
    name: "support-role-missing",
    title: "No support role",
    family: Family::Posture,
    severity: Severity::Low,
    attack: &[],
    compliance: &["CIS-1.17", "IAM.18"],
    events: &[],
    kb_entries: &["AttachRolePolicy"],
    doc: RuleDoc {
        what: "No user, group or role in the authorization details has the AWS managed policy \
               `arn:aws:iam::aws:policy/AWSSupportAccess` attached.",
        why: "During an incident someone must open and follow AWS Support cases. Without a dedicated role, teams \
              fall back to root or an administrator for it; CIS asks for a role limited to support.",
        example: "No `AttachedManagedPolicies` entry with `AWSSupportAccess` anywhere in the account.",
        fix: "Create a role trusted by your incident responders (or your identity provider) and attach \
              AWSSupportAccess: `aws iam create-role --role-name aws-support --assume-role-policy-document \
              file://trust.json && aws iam attach-role-policy --role-name aws-support --policy-arn \
              arn:aws:iam::aws:policy/AWSSupportAccess`.",
        references: &[
            "https://docs.aws.amazon.com/awssupport/latest/user/accessing-support.html",
            "https://docs.aws.amazon.com/securityhub/latest/userguide/iam-controls.html#iam-18",
        ],
    },
};

pub const SUPPORT_POLICY: &str = "arn:aws:iam::aws:policy/AWSSupportAccess";

pub fn check(ctx: &PostureContext<'_>) -> Report {
    let Some(details) = &ctx.snapshot.authorization else {
        return Report::missing(AUTHORIZATION_DETAILS);
    };
    let is_support = |arn: &str| arn == SUPPORT_POLICY;
    let attached = details
        .user_detail_list
        .iter()
        .flat_map(|u| &u.attached_managed_policies)
        .chain(
            details
                .group_detail_list
                .iter()
                .flat_map(|g| &g.attached_managed_policies),
        )
        .chain(
            details
                .role_detail_list
                .iter()
                .flat_map(|r| &r.attached_managed_policies),
        )
        .any(|p| is_support(&p.policy_arn));
    if attached {
        return Report::evaluated(Vec::new());
    }
    let mut finding = ctx.finding(
        &META,
        ctx.account_resource(),
        "",
        "No user, group or role has AWSSupportAccess: there is no dedicated role to work with AWS Support.".into(),
    );
    finding.fix.commands.push(format!(
        "aws iam attach-role-policy --role-name aws-support --policy-arn {SUPPORT_POLICY}"
    ));
    finding.fix.actions.push(FixAction::Manual {
        description:
            "Create a support role trusted by your responders and attach AWSSupportAccess.".into(),
    });
    Report::evaluated(vec![finding])
}

#[cfg(test)]
mod tests {
    use super::super::testkit;
    use super::*;

    #[test]
    fn cloudsplaining_account_has_no_support_role() {
        let snap = testkit::cloudsplaining();
        let ctx = PostureContext::new(&snap, Some(testkit::now()));
        assert_eq!(check(&ctx).findings().len(), 1);
    }

    #[test]
    fn a_role_with_support_access_passes() {
        let details = r#"{"RoleDetailList":[{"RoleName":"support","Arn":"arn:aws:iam::111122223333:role/support",
            "AttachedManagedPolicies":[{"PolicyName":"AWSSupportAccess","PolicyArn":"arn:aws:iam::aws:policy/AWSSupportAccess"}]}]}"#;
        assert_eq!(
            testkit::run(check, &[(AUTHORIZATION_DETAILS, details)]),
            Report::evaluated(Vec::new())
        );
    }
}
