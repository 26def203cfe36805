//! PC018: `service:*` on a sensitive service (IAM, STS, KMS, Organizations, CloudTrail).

use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::Report;
use crate::rules::policy::PolicyContext;

pub const META: RuleMeta = RuleMeta {
    code: "PC018",
    name: "sensitive-service-wildcard",
    title: "Wildcard over a sensitive service",
    family: Family::Policy,
    severity: Severity::High,
    attack: &["T1098", "T1562.008"],
    compliance: &[],
    events: &[],
    kb_entries: &[],
    doc: RuleDoc {
        what: "An Allow of every action of IAM, STS, KMS, Organizations or CloudTrail (`iam:*`, `kms:*`, ...).",
        why: "These services control identity, keys, the organization and the audit trail: `iam:*` is administrator access in two steps, `kms:*` can lock data away or decrypt it, `cloudtrail:*` can stop the logging that would show any of it.",
        example: "```json\n{\"Effect\": \"Allow\", \"Action\": \"iam:*\", \"Resource\": \"*\"}\n```",
        fix: "Grant the specific actions needed, e.g. `iam:Get*`/`iam:List*` for read access, and scope resources.",
        references: &["https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege"],
    },
};

pub fn check(ctx: &PolicyContext<'_>, out: &mut Report) {
    if ctx.analysis.is_admin {
        return;
    }
    for w in ctx
        .analysis
        .service_wildcards
        .iter()
        .filter(|w| w.sensitive)
    {
        let Some(s) = ctx.statement(w.statement) else {
            continue;
        };
        let scope = if s.resource_is_star() {
            "every resource"
        } else {
            "the listed resources"
        };
        let mut f = ctx.finding(
            &META,
            s.action.span,
            &format!("{}.Action", s.path()),
            &w.service,
            format!(
                "Allows every `{}` action (`{}:*`) on {scope}.",
                w.service, w.service
            ),
        );
        if s.has_conditions() || !s.resource_is_star() {
            f.severity = Severity::Medium;
        }
        out.push(f);
    }
}

#[cfg(test)]
mod tests {
    use crate::finding::Severity;
    use crate::rules::policy::testkit::codes;

    #[test]
    fn sensitive_services_only() {
        let f = codes(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["IAM:*","s3:*","kms:*"],"Resource":"*"}]}"#,
            "PC018",
        );
        assert_eq!(f.len(), 2);
        assert!(f[0].message.contains("`iam:*`"));
        let scoped = codes(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"arn:aws:kms:us-east-1:1:key/abc"}]}"#,
            "PC018",
        );
        assert_eq!(scoped[0].severity, Severity::Medium);
    }
}
