//! PC016: Policy allows reading sensitive data on every resource.

use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::Report;
use crate::rules::policy::{category_check, PolicyContext};

pub const META: RuleMeta = RuleMeta {
    code: "PC016",
    name: "data-exfiltration",
    title: "Policy allows reading sensitive data on every resource",
    family: Family::Policy,
    severity: Severity::Medium,
    attack: &["T1530", "T1537"],
    compliance: &[],
    events: &[],
    kb_entries: &[],
    doc: RuleDoc {
        what: "A statement that allows, on `Resource: *`, actions that read data out of the account: `s3:GetObject`, `ssm:GetParameter*`, `secretsmanager:GetSecretValue`, `rds:CreateDBSnapshot`/`CopyDBSnapshot`.",
        why: "Unscoped, one compromised principal can read every object, parameter and secret in the account, including those meant for other teams.",
        example: "```json\n{\"Effect\": \"Allow\", \"Action\": \"secretsmanager:GetSecretValue\", \"Resource\": \"*\"}\n```",
        fix: "Name the buckets, parameter paths and secrets the principal needs.",
        references: &["https://github.com/salesforce/cloudsplaining"],
    },
};

pub fn check(ctx: &PolicyContext<'_>, out: &mut Report) {
    category_check(
        ctx,
        &META,
        &ctx.analysis.data_exfiltration,
        "data-exfiltration",
        out,
    );
}

#[cfg(test)]
mod tests {
    use crate::rules::policy::testkit::codes;

    #[test]
    fn secret_reads_on_star() {
        let f = codes(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:Get*","ssm:GetParameters"],"Resource":"*"}]}"#,
            "PC016",
        );
        assert_eq!(f.len(), 1);
        assert!(
            f[0].message.contains("`s3:GetObject`") && f[0].message.contains("`ssm:GetParameters`")
        );
        assert!(codes(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#, "PC016").is_empty());
    }
}
