//! PC004: an action (or wildcard pattern) matches nothing in a known service.

use trailguard_policy::catalog::Catalog;

use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::Report;
use crate::rules::policy::PolicyContext;

pub const META: RuleMeta = RuleMeta {
    code: "PC004",
    name: "unknown-action",
    title: "Action does not exist",
    family: Family::Policy,
    severity: Severity::Medium,
    attack: &[],
    compliance: &[],
    events: &[],
    kb_entries: &[],
    doc: RuleDoc {
        what: "An `Action`/`NotAction` entry in a real service that matches no action of that service, e.g. `iam:list` or `s3:GetObjects`. The message suggests the closest real action.",
        why: "The entry does nothing: an Allow grants less than intended (and someone will widen it to `*` to make things work), a Deny protects nothing.",
        example: "```json\n{\"Effect\": \"Deny\", \"Action\": \"iam:DeleteUsers\", \"Resource\": \"*\"}\n```",
        fix: "Use the exact action name from the Service Authorization Reference, or a wildcard that matches what you mean.",
        references: &["https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html"],
    },
};

pub fn check(ctx: &PolicyContext<'_>, out: &mut Report) {
    let catalog = Catalog::get();
    for unknown in ctx
        .analysis
        .unknown_actions
        .iter()
        .filter(|u| !u.unknown_service)
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
        let mut message = format!("`{}` matches no action", unknown.pattern);
        if let Some(suggestion) = catalog.suggest(&unknown.pattern) {
            message.push_str(&format!("; did you mean `{suggestion}`?"));
        } else {
            message.push('.');
        }
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
    fn flags_and_suggests() {
        let f = codes(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:listusers","iam:DeleteUsers","s3:Get*"],"Resource":"*"}]}"#,
            "PC004",
        );
        assert_eq!(f.len(), 1);
        assert!(
            f[0].message.contains("did you mean `iam:DeleteUser`"),
            "{}",
            f[0].message
        );
        assert_eq!(
            f[0].location.as_ref().unwrap().json_path.as_deref(),
            Some("Statement[0].Action[1]")
        );
    }
}
