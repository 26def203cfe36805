//! PC009: a statement id with characters IAM rejects, or the same Sid twice.

use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::Report;
use crate::rules::policy::PolicyContext;

pub const META: RuleMeta = RuleMeta {
    code: "PC009",
    name: "invalid-sid",
    title: "Statement Sid is invalid or duplicated",
    family: Family::Policy,
    severity: Severity::Low,
    attack: &[],
    compliance: &[],
    events: &[],
    kb_entries: &[],
    doc: RuleDoc {
        what: "A `Sid` with characters other than ASCII letters and digits (IAM identity policies accept only those), or two statements with the same `Sid`.",
        why: "IAM rejects the identity policy; duplicated ids make reviews and `policy diff` output ambiguous, and some services reject them in resource policies.",
        example: "```json\n{\"Sid\": \"Allow S3 read!\", \"Effect\": \"Allow\", \"Action\": \"s3:GetObject\", \"Resource\": \"*\"}\n```",
        fix: "Use unique alphanumeric ids such as `AllowS3Read`.",
        references: &["https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_sid.html"],
    },
};

pub fn check(ctx: &PolicyContext<'_>, out: &mut Report) {
    let statements = &ctx.document.statements;
    // Sids seen so far: a set, so thousands of statements stay linear.
    let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for s in statements {
        let Some(sid) = &s.sid else { continue };
        if !sid.chars().all(|c| c.is_ascii_alphanumeric()) {
            if let Some(f) = ctx.statement_finding(
                &META,
                s.index,
                "chars",
                format!("Sid `{sid}` may contain only ASCII letters and digits."),
            ) {
                out.push(f);
            }
        }
        if !seen.insert(sid.as_str()) && !sid.is_empty() {
            if let Some(f) = ctx.statement_finding(
                &META,
                s.index,
                "duplicate",
                format!("Sid `{sid}` is used by an earlier statement too."),
            ) {
                out.push(f);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::policy::testkit::codes;

    #[test]
    fn characters_and_duplicates() {
        let f = codes(
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"Bad Sid!","Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"},{"Sid":"A1","Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"},{"Sid":"A1","Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"},{"Sid":"","Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}]}"#,
            "PC009",
        );
        assert_eq!(f.len(), 2);
        assert!(f[0].message.contains("`Bad Sid!`"));
        assert!(f[1].message.contains("earlier"));
        assert_eq!(
            f[1].location.as_ref().unwrap().json_path.as_deref(),
            Some("Statement[2]")
        );
    }
}
