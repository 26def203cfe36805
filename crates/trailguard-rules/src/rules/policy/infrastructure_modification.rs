//! PC017: Policy allows modifying any resource.

use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::Report;
use crate::rules::policy::{category_check, PolicyContext};

pub const META: RuleMeta = RuleMeta {
    code: "PC017",
    name: "infrastructure-modification",
    title: "Policy allows modifying any resource",
    family: Family::Policy,
    severity: Severity::Low,
    attack: &["T1578"],
    compliance: &[],
    events: &[],
    kb_entries: &[],
    doc: RuleDoc {
        what: "A statement that allows, on `Resource: *`, actions of the *Write* or *Permissions management* access level: creating, changing and deleting resources anywhere in the account.",
        why: "Unscoped write access means a compromised principal can delete, replace or reconfigure any resource of the services involved.",
        example: "```json\n{\"Effect\": \"Allow\", \"Action\": \"ec2:*\", \"Resource\": \"*\"}\n```",
        fix: "Scope write actions to the resources (ARNs, tags via `aws:ResourceTag`) the principal owns.",
        references: &["https://github.com/salesforce/cloudsplaining"],
    },
};

pub fn check(ctx: &PolicyContext<'_>, out: &mut Report) {
    category_check(
        ctx,
        &META,
        &ctx.analysis.infrastructure_modification,
        "write",
        out,
    );
}

#[cfg(test)]
mod tests {
    use crate::rules::policy::testkit::codes;

    #[test]
    fn write_actions_on_star() {
        let f = codes(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:PutObject","s3:PutObjectAcl","s3:GetObject"],"Resource":"*"}]}"#,
            "PC017",
        );
        assert_eq!(f.len(), 1);
        assert!(
            f[0].message.starts_with("Allows 2 write actions"),
            "{}",
            f[0].message
        );
        assert!(codes(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}]}"#, "PC017").is_empty());
    }
}
