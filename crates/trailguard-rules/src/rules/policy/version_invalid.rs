//! PC002: `Version` missing or not one of the two valid values, or the old one on a document that uses
//! policy variables.

use trailguard_policy::document::VERSIONS;
use trailguard_policy::Span;

use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::Report;
use crate::rules::policy::PolicyContext;

pub const META: RuleMeta = RuleMeta {
    code: "PC002",
    name: "policy-version-invalid",
    title: "Policy Version is missing or invalid",
    family: Family::Policy,
    severity: Severity::Low,
    attack: &[],
    compliance: &[],
    events: &[],
    kb_entries: &[],
    doc: RuleDoc {
        what: "A policy without `\"Version\": \"2012-10-17\"`: either no `Version` (IAM then assumes `2008-10-17`) or a value IAM does not accept; and an explicit `2008-10-17` on a document that uses policy variables (**medium**). An explicit `2008-10-17` without variables is valid and behaves the same, so it is not reported.",
        why: "Under `2008-10-17`, policy variables such as `${aws:username}` are plain text, so a statement meant to scope each user to their own resources matches nothing, or a literal resource. An invalid value is rejected by IAM.",
        example: "```json\n{\"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"s3:*\", \"Resource\": \"arn:aws:s3:::home/${aws:username}/*\"}]}\n```",
        fix: "Add `\"Version\": \"2012-10-17\"` as the first element of the document.",
        references: &["https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_version.html"],
    },
};

pub fn check(ctx: &PolicyContext<'_>, out: &mut Report) {
    match (&ctx.document.version, ctx.document.version_span) {
        (None, _) => {
            let uses_variables = ctx.policy.text.contains("${");
            let mut f = ctx.finding(
                &META,
                Span { start: 0, end: 0 },
                "",
                "missing",
                if uses_variables {
                    "No `Version`: IAM assumes 2008-10-17, where the policy variables this document uses are not substituted.".to_owned()
                } else {
                    "No `Version`: IAM assumes 2008-10-17; declare 2012-10-17.".to_owned()
                },
            );
            f.severity = if uses_variables {
                Severity::Medium
            } else {
                Severity::Low
            };
            f.evidence[0].value = serde_json::Value::Null;
            out.push(f);
        }
        (Some(v), Some(span)) if !VERSIONS.contains(&v.as_str()) => {
            let mut f = ctx.finding(
                &META,
                span,
                "Version",
                "invalid",
                format!("`Version` is `{v}`; IAM accepts only `2012-10-17` or `2008-10-17`."),
            );
            f.severity = Severity::Medium;
            out.push(f);
        }
        (Some(v), Some(span)) if v == "2008-10-17" && ctx.policy.text.contains("${") => {
            let mut f = ctx.finding(
                &META,
                span,
                "Version",
                "old-with-variables",
                "`Version` is `2008-10-17`, where IAM does not substitute policy variables: the `${...}` this document uses are plain text. Declare 2012-10-17.".to_owned(),
            );
            f.severity = Severity::Medium;
            out.push(f);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use crate::finding::Severity;
    use crate::rules::policy::testkit::codes;

    #[test]
    fn missing_invalid_and_valid() {
        let missing = codes(
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::h/${aws:username}/*"}]}"#,
            "PC002",
        );
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].severity, Severity::Medium);
        let bad = codes(r#"{"Version":"2012-10-18","Statement":[]}"#, "PC002");
        assert_eq!(
            bad[0].location.as_ref().unwrap().json_path.as_deref(),
            Some("Version")
        );
        assert!(codes(r#"{"Version":"2008-10-17","Statement":[]}"#, "PC002").is_empty());
        let old_with_variables = codes(
            r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::h/${aws:username}/*"}]}"#,
            "PC002",
        );
        assert_eq!(old_with_variables.len(), 1);
        assert_eq!(old_with_variables[0].severity, Severity::Medium);
        assert!(old_with_variables[0].message.contains("plain text"));
    }
}
