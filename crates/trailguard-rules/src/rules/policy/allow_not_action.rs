//! PC011: `Allow` with `NotAction`.

use trailguard_policy::catalog::Catalog;

use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::Report;
use crate::rules::policy::PolicyContext;

pub const META: RuleMeta = RuleMeta {
    code: "PC011",
    name: "allow-not-action",
    title: "Allow statement uses NotAction",
    family: Family::Policy,
    severity: Severity::High,
    attack: &["T1098.003"],
    compliance: &[],
    events: &[],
    kb_entries: &[],
    doc: RuleDoc {
        what: "A statement with `Effect: Allow` and `NotAction`: it allows every action except the listed ones, in every service, including services AWS launches later.",
        why: "The grant grows silently with each new AWS service and action, and an exclusion list is easy to get wrong (exclude `iam:*` but forget `sts`, `organizations` or `iam:PassRole`-style paths through other services).",
        example: "```json\n{\"Effect\": \"Allow\", \"NotAction\": \"iam:*\", \"Resource\": \"*\"}\n```",
        fix: "List the allowed actions explicitly; if you need \"everything but X\", pair an explicit Allow with a Deny of X.",
        references: &["https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html"],
    },
};

pub fn check(ctx: &PolicyContext<'_>, out: &mut Report) {
    let catalog = Catalog::get();
    for &index in &ctx.analysis.allow_not_action {
        let Some(s) = ctx.statement(index) else {
            continue;
        };
        let allowed = trailguard_policy::analysis::statement_actions(catalog, s).len();
        let scope = if s.resource_is_star() {
            "on every resource"
        } else {
            "on the listed resources"
        };
        let mut f = ctx.finding(&META, s.action.span, &format!("{}.NotAction", s.path()), "", format!(
            "Allows every action except {} ({allowed} of {} actions today, and every future one) {scope}.",
            s.action.patterns.iter().map(|p| format!("`{}`", p.raw)).collect::<Vec<_>>().join(", "),
            catalog.len()
        ));
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
    fn allow_only() {
        let f = codes(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"},{"Effect":"Deny","NotAction":"s3:*","Resource":"*"}]}"#,
            "PC011",
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::High);
        assert_eq!(
            f[0].location.as_ref().unwrap().json_path.as_deref(),
            Some("Statement[0].NotAction")
        );
    }
}
