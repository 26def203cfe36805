//! PC012: `Allow` with `NotResource` or `NotPrincipal`.

use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::Report;
use crate::rules::policy::PolicyContext;
use trailguard_policy::Effect;

pub const META: RuleMeta = RuleMeta {
    code: "PC012",
    name: "allow-not-resource-or-principal",
    title: "Allow statement uses NotResource or NotPrincipal",
    family: Family::Policy,
    severity: Severity::Medium,
    attack: &[],
    compliance: &[],
    events: &[],
    kb_entries: &[],
    doc: RuleDoc {
        what: "`Effect: Allow` with `NotResource` (every resource except the listed ones) or `NotPrincipal` (everyone except the listed principals, including anonymous users).",
        why: "Both invert the grant: new resources and any principal in any account fall inside it by default. AWS advises against `NotPrincipal` with Allow entirely.",
        example: "```json\n{\"Effect\": \"Allow\", \"Action\": \"s3:*\", \"NotResource\": \"arn:aws:s3:::payroll/*\"}\n```",
        fix: "List the resources or principals to allow; express exceptions with a separate Deny.",
        references: &["https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notresource.html", "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html"],
    },
};

pub fn check(ctx: &PolicyContext<'_>, out: &mut Report) {
    for s in ctx
        .document
        .statements
        .iter()
        .filter(|s| s.effect == Effect::Allow)
    {
        if let Some(r) = s.resource.as_ref().filter(|r| r.negated) {
            out.push(ctx.finding(
                &META,
                r.span,
                &format!("{}.NotResource", s.path()),
                "NotResource",
                format!(
                "Allows the actions on every resource except {}.",
                r.patterns.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ")
            ),
            ));
        }
        if let Some(p) = s.principal.as_ref().filter(|p| p.negated) {
            let mut f = ctx.finding(&META, p.span, &format!("{}.NotPrincipal", s.path()), "NotPrincipal",
                "Allows every principal except the listed ones, including anonymous callers and other accounts.".to_owned());
            f.severity = Severity::High;
            out.push(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::policy::testkit::codes;

    #[test]
    fn not_resource_and_not_principal_with_allow() {
        let f = codes(
            r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"s3:GetObject","NotResource":"arn:aws:s3:::payroll/*"},
            {"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},
            {"Effect":"Deny","Action":"s3:*","NotResource":"arn:aws:s3:::b/*"}]}"#,
            "PC012",
        );
        assert_eq!(f.len(), 2);
        assert!(f[1].message.contains("anonymous"));
    }
}
