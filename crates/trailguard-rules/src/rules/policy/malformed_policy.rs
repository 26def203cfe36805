//! PC001: the document is not a valid IAM policy (not JSON, or JSON missing required elements).

use trailguard_policy::input::NamedPolicy;
use trailguard_policy::json::LineIndex;
use trailguard_policy::{NoteKind, ParseError};

use crate::finding::{Evidence, Finding, FindingSource, Location, Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{FindingBuilder, Report};
use crate::rules::policy::PolicyContext;

pub const META: RuleMeta = RuleMeta {
    code: "PC001",
    name: "policy-malformed",
    title: "Policy document is malformed",
    family: Family::Policy,
    severity: Severity::Medium,
    attack: &[],
    compliance: &[],
    events: &[],
    kb_entries: &[],
    doc: RuleDoc {
        what: "A policy that cannot be read: invalid JSON, a missing `Statement`, `Effect` or `Action`, an `Effect` other than `Allow`/`Deny`, both `Action` and `NotAction`, a value of the wrong shape, or a key given twice in one object (AWS keeps only the last). The finding gives the JSON path (e.g. `Statement[2].Condition`) and the line and column.",
        why: "IAM rejects such a document, so a deployment that carries it fails; when a tool silently repairs it, what is in force differs from what was reviewed.",
        example: "```json\n{\"Version\": \"2012-10-17\", \"Statement\": {\"Effect\": \"Allow\", \"Resource\": \"*\"}}\n```\nhas no `Action`.",
        fix: "Correct the element named in the message; validate with `aws accessanalyzer validate-policy --policy-type IDENTITY_POLICY --policy-document file://policy.json`.",
        references: &["https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html"],
    },
};

/// Keys given twice in one object (a parsed policy): AWS keeps only the last, so what a reviewer reads
/// first is not what is in force. Reported as duplicates with their path, never as another error.
pub fn check(ctx: &PolicyContext<'_>, out: &mut Report) {
    for note in ctx
        .document
        .notes
        .iter()
        .filter(|n| n.kind == NoteKind::DuplicateKey)
    {
        out.push(ctx.finding(
            &META,
            note.span,
            &note.path,
            &note.path,
            format!(
                "The document repeats a key: {} at `{}`.",
                note.message, note.path
            ),
        ));
    }
}

/// The finding for a policy that could not be parsed.
pub fn finding(file: &str, policy: &NamedPolicy, lines: &LineIndex, err: &ParseError) -> Finding {
    let offset = policy.file_offset_of(err.offset);
    let (line, column) = lines.line_col(offset);
    let path = policy.path_in_file(&err.path);
    // A bare file is "the document"; embedded ones are named by where they sit.
    let what = if policy.json_path.is_empty() {
        "The document".to_owned()
    } else {
        policy.name.clone()
    };
    let message = if err.path.is_empty() {
        format!("{what} is not a valid policy: {}.", err.message)
    } else {
        format!(
            "{what} is not a valid policy: {} at `{}`.",
            err.message, err.path
        )
    };
    FindingBuilder::new(
        &META,
        FindingSource::Policy,
        &[file, &policy.name, &err.path],
    )
    .message(message)
    .resource(Resource {
        kind: "PolicyDocument".to_owned(),
        id: crate::rules::policy::policy_resource_id(file, policy),
        name: Some(policy.name.clone()),
    })
    .evidence(Evidence {
        path: path.clone(),
        value: serde_json::Value::String(err.message.clone()),
    })
    .fix_summary(META.doc.fix)
    .location(Location {
        file: file.to_owned(),
        line: Some(line),
        column: Some(column),
        json_path: Some(path),
    })
    .build()
}

#[cfg(test)]
mod tests {
    use crate::rules::policy::testkit::codes;

    #[test]
    fn reports_path_and_position() {
        let f = codes("{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Effect\": \"Allow\", \"Resource\": \"*\"}\n  ]\n}", "PC001");
        assert_eq!(f.len(), 1);
        assert!(
            f[0].message.contains("missing `Action`"),
            "{}",
            f[0].message
        );
        let loc = f[0].location.as_ref().unwrap();
        assert_eq!(
            (loc.line, loc.column, loc.json_path.as_deref()),
            (Some(4), Some(5), Some("Statement[0]"))
        );
    }

    #[test]
    fn a_repeated_action_key_is_a_duplicate_not_a_conflict() {
        let f = codes(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Action":"iam:*","Resource":"*"}]}"#,
            "PC001",
        );
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].message.contains("duplicate key `Action`"),
            "{}",
            f[0].message
        );
        assert!(!f[0].message.contains("not both"), "{}", f[0].message);
        assert_eq!(
            f[0].location.as_ref().unwrap().json_path.as_deref(),
            Some("Statement[0].Action")
        );
        // The last one counts, as in AWS: the statement grants iam:*.
        assert_eq!(
            codes(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Action":"iam:*","Resource":"*"}]}"#,
                "PC018"
            )
            .len(),
            1
        );
        // Action beside NotAction is still the conflict it is.
        let both = codes(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","NotAction":"iam:*","Resource":"*"}]}"#,
            "PC001",
        );
        assert!(both[0].message.contains("not both"), "{}", both[0].message);
    }

    #[test]
    fn not_json_at_all() {
        let f = codes("not json", "PC001");
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("invalid JSON"));
        assert!(codes(r#"{"Version":"2012-10-17","Statement":[]}"#, "PC001").is_empty());
    }
}
