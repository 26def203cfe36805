//! PC010: the policy grants every action on every resource.

use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::Report;
use crate::rules::policy::PolicyContext;

pub const META: RuleMeta = RuleMeta {
    code: "PC010",
    name: "admin-access",
    title: "Policy grants full administrator access",
    family: Family::Policy,
    severity: Severity::Critical,
    attack: &["T1098.003", "T1078.004"],
    compliance: &["CIS-1.16", "IAM.1"],
    events: &[],
    kb_entries: &[],
    doc: RuleDoc {
        what: "An Allow of `*` (or `*:*`) on `Resource: *` without conditions, or statements that together allow every action of every service on every resource.",
        why: "Whoever holds the policy can do anything in the account, including erasing logs and creating backdoor users and roles; one leaked key is a full account compromise. CIS 1.16 forbids such customer policies.",
        example: "```json\n{\"Effect\": \"Allow\", \"Action\": \"*\", \"Resource\": \"*\"}\n```",
        fix: "Replace it with the actions the principal needs (IAM Access Analyzer can generate a policy from CloudTrail activity); keep break-glass admin on a role behind MFA.",
        references: &["https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege", "https://docs.aws.amazon.com/securityhub/latest/userguide/iam-controls.html#iam-1"],
    },
};

pub fn check(ctx: &PolicyContext<'_>, out: &mut Report) {
    let a = ctx.analysis;
    for &index in &a.admin_statements {
        if let Some(f) = ctx.statement_finding(
            &META,
            index,
            "",
            "Allows every action on every resource without conditions: full administrator access."
                .to_owned(),
        ) {
            out.push(f);
        }
    }
    if a.is_admin && a.admin_statements.is_empty() {
        // Admin through several statements together (e.g. NotAction plus the complement).
        if let Some(f) = ctx.statement_finding(&META, 0, "combined", "Together, the statements allow every action on every resource: full administrator access.".to_owned()) {
            out.push(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::policy::testkit::codes;

    #[test]
    fn direct_and_combined_admin() {
        assert_eq!(codes(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*:*","Resource":"*"}]}"#, "PC010").len(), 1);
        let combined = codes(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"},{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}"#,
            "PC010",
        );
        assert_eq!(combined.len(), 1);
        assert!(combined[0].message.contains("Together"));
        assert!(codes(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}"#, "PC010").is_empty());
    }
}
