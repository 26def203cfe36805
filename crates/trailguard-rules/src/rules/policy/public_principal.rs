//! PC025: a resource policy that allows everyone, without conditions.

use trailguard_policy::Effect;

use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::Report;
use crate::rules::policy::PolicyContext;

pub const META: RuleMeta = RuleMeta {
    code: "PC025",
    name: "public-principal",
    title: "Resource policy allows anyone",
    family: Family::Policy,
    severity: Severity::High,
    attack: &["T1530", "T1537"],
    compliance: &["S3.2", "S3.3"],
    events: &[],
    kb_entries: &[],
    doc: RuleDoc {
        what: "An Allow statement whose `Principal` is `*` or `{\"AWS\": \"*\"}` with no condition limiting the caller (source account, organization, VPC endpoint, IP).",
        why: "Anyone on the internet, signed in to any AWS account or anonymous, gets the listed actions: the most common cause of public buckets, queues and snapshots. In a role trust policy, anyone can assume the role.",
        example: "```json\n{\"Effect\": \"Allow\", \"Principal\": \"*\", \"Action\": \"s3:GetObject\", \"Resource\": \"arn:aws:s3:::site/*\"}\n```",
        fix: "Name the accounts or principals, or add a condition such as `aws:PrincipalOrgID`, `aws:SourceVpce` or `aws:SourceAccount`; serve public web content through CloudFront with origin access control instead.",
        references: &["https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html"],
    },
};

pub fn check(ctx: &PolicyContext<'_>, out: &mut Report) {
    for s in ctx
        .document
        .statements
        .iter()
        .filter(|s| s.effect == Effect::Allow && !s.has_conditions())
    {
        let Some(p) = s.principal.as_ref().filter(|p| !p.negated && p.is_public()) else {
            continue;
        };
        out.push(ctx.finding(
            &META,
            p.span,
            &format!("{}.Principal", s.path()),
            "",
            format!(
            "Allows anyone ({}) to call {} with no condition on the caller.",
            if p.any { "`Principal: *`" } else { "`AWS: *`" },
            s.action.patterns.iter().map(|a| format!("`{}`", a.raw)).collect::<Vec<_>>().join(", ")
        ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::policy::testkit::codes;

    #[test]
    fn public_without_condition() {
        assert_eq!(codes(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sqs:SendMessage","Resource":"*"}]}"#, "PC025").len(), 1);
        assert!(codes(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-123"}}}]}"#, "PC025").is_empty());
        assert!(codes(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#, "PC025").is_empty());
    }
}
