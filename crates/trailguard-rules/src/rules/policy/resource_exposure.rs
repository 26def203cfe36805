//! PC014: Policy allows changing who can access resources.

use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::Report;
use crate::rules::policy::{category_check, PolicyContext};

pub const META: RuleMeta = RuleMeta {
    code: "PC014",
    name: "resource-exposure",
    title: "Policy allows changing who can access resources",
    family: Family::Policy,
    severity: Severity::High,
    attack: &["T1098", "T1537"],
    compliance: &[],
    events: &[],
    kb_entries: &[],
    doc: RuleDoc {
        what: "A statement that allows, on `Resource: *`, actions of the *Permissions management* access level: changing resource policies, ACLs, grants and shares (`s3:PutBucketPolicy`, `kms:PutKeyPolicy`, `lambda:AddPermission`, `ram:CreateResourceShare`, `iam:Attach*`, ...).",
        why: "Whoever holds it can open any bucket, key, queue or function to another account or to the internet, or grant themselves access through a resource policy, without touching their own identity policy.",
        example: "```json\n{\"Effect\": \"Allow\", \"Action\": [\"s3:PutBucketPolicy\", \"lambda:AddPermission\"], \"Resource\": \"*\"}\n```",
        fix: "Scope permissions-management actions to named resources, and prefer a separate, reviewed role for them.",
        references: &["https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_understand-policy-summary-access-level-summaries.html"],
    },
};

pub fn check(ctx: &PolicyContext<'_>, out: &mut Report) {
    category_check(
        ctx,
        &META,
        &ctx.analysis.resource_exposure,
        "resource-exposure (permissions management)",
        out,
    );
}

#[cfg(test)]
mod tests {
    use crate::finding::Severity;
    use crate::rules::policy::testkit::codes;

    #[test]
    fn permissions_management_on_star() {
        let f = codes(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["lambda:addpermission","s3:putbucketacl","s3:GetObject"],"Resource":"*"},{"Effect":"Allow","Action":"s3:PutBucketPolicy","Resource":"arn:aws:s3:::b"}]}"#,
            "PC014",
        );
        assert_eq!(f.len(), 1);
        assert!(
            f[0].message.contains("`lambda:AddPermission`")
                && f[0].message.contains("`s3:PutBucketAcl`"),
            "{}",
            f[0].message
        );
        assert!(!f[0].message.contains("GetObject"));
        let conditional = codes(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:PutKeyPolicy","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"sec"}}}]}"#,
            "PC014",
        );
        assert_eq!(conditional[0].severity, Severity::Medium);
        let denied = codes(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutBucketPolicy","Resource":"*"},{"Effect":"Deny","Action":"*","Resource":"*"}]}"#,
            "PC014",
        );
        assert!(denied.is_empty());
    }
}
