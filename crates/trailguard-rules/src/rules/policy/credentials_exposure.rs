//! PC015: Policy allows obtaining credentials.

use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::Report;
use crate::rules::policy::{category_check, PolicyContext};

pub const META: RuleMeta = RuleMeta {
    code: "PC015",
    name: "credentials-exposure",
    title: "Policy allows obtaining credentials",
    family: Family::Policy,
    severity: Severity::High,
    attack: &["T1528", "T1552"],
    compliance: &[],
    events: &[],
    kb_entries: &[],
    doc: RuleDoc {
        what: "A statement that allows, on `Resource: *`, actions that return or create credentials: access keys, console passwords, session tokens, database passwords, registry tokens (`iam:CreateAccessKey`, `sts:GetSessionToken`, `ecr:GetAuthorizationToken`, `redshift:GetClusterCredentials`, `ec2:GetPasswordData`, ...).",
        why: "Credentials outlive the session that created them and move with whoever copies them; creating them for other users is a classic persistence and escalation step.",
        example: "```json\n{\"Effect\": \"Allow\", \"Action\": [\"iam:CreateAccessKey\", \"redshift:GetClusterCredentials\"], \"Resource\": \"*\"}\n```",
        fix: "Scope these actions to the caller's own resources (e.g. `arn:aws:iam::ACCOUNT:user/${aws:username}`) or to named clusters and registries.",
        references: &["https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html"],
    },
};

pub fn check(ctx: &PolicyContext<'_>, out: &mut Report) {
    category_check(
        ctx,
        &META,
        &ctx.analysis.credentials_exposure,
        "credentials-exposure",
        out,
    );
}

#[cfg(test)]
mod tests {
    use crate::rules::policy::testkit::codes;

    #[test]
    fn credential_actions_on_star() {
        let f = codes(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["redshift:getclustercredentials","ecr:getauthorizationtoken","ecr:DescribeImages"],"Resource":"*"}]}"#,
            "PC015",
        );
        assert_eq!(f.len(), 1);
        assert!(
            f[0].message
                .starts_with("Allows 2 credentials-exposure actions"),
            "{}",
            f[0].message
        );
        assert!(codes(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:CreateAccessKey","Resource":"arn:aws:iam::1:user/${aws:username}"}]}"#, "PC015").is_empty());
    }
}
