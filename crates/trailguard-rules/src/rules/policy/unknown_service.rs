//! PC003: an action names a service prefix that does not exist.

use crate::finding::{Finding, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rules::policy::PolicyContext;

pub const META: RuleMeta = RuleMeta {
    code: "PC003",
    name: "unknown-service",
    title: "Action names an unknown service",
    family: Family::Policy,
    severity: Severity::Medium,
    attack: &[],
    compliance: &[],
    events: &[],
    kb_entries: &[],
    doc: RuleDoc {
        what: "An `Action` or `NotAction` entry whose service prefix (before the colon) is not an AWS service in the action catalog, e.g. `s3s:GetObject`, or an entry without a colon.",
        why: "The entry grants (or denies) nothing. In a Deny or NotAction statement the typo silently weakens the intended restriction.",
        example: "```json\n{\"Effect\": \"Deny\", \"Action\": \"cloudtrial:StopLogging\", \"Resource\": \"*\"}\n```",
        fix: "Correct the service prefix; the AWS Service Authorization Reference lists every prefix.",
        references: &["https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html"],
    },
};

pub fn check(ctx: &PolicyContext<'_>, out: &mut Vec<Finding>) {
    for unknown in ctx
        .analysis
        .unknown_actions
        .iter()
        .filter(|u| u.unknown_service)
    {
        let Some(s) = ctx.statement(unknown.statement) else {
            continue;
        };
        let Some(span) = s.action.item_spans.get(unknown.item) else {
            continue;
        };
        let element = if s.action.negated {
            "NotAction"
        } else {
            "Action"
        };
        let message = if unknown.pattern.contains(':') {
            format!(
                "`{}` names service `{}`, which is not in the AWS action catalog (misspelled, or retired).",
                unknown.pattern,
                unknown.pattern.split(':').next().unwrap_or("")
            )
        } else {
            format!("`{}` is not of the form `service:action`.", unknown.pattern)
        };
        out.push(ctx.finding(
            &META,
            *span,
            &format!("{}.{element}[{}]", s.path(), unknown.item),
            &unknown.pattern,
            message,
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::policy::testkit::codes;

    #[test]
    fn flags_unknown_prefixes_only() {
        let f = codes(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["cloudtrial:StopLogging","s3","iam:Nope"],"Resource":"*"}]}"#,
            "PC003",
        );
        assert_eq!(f.len(), 2);
        assert!(f[0].message.contains("`cloudtrial`"));
        assert_eq!(
            f[0].location.as_ref().unwrap().json_path.as_deref(),
            Some("Statement[0].Action[0]")
        );
        assert!(f[1].message.contains("service:action"));
    }
}
