//! PC023: an action AWS documents as deprecated.

use trailguard_policy::catalog::Catalog;

use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::Report;
use crate::rules::policy::PolicyContext;

pub const META: RuleMeta = RuleMeta {
    code: "PC023",
    name: "deprecated-action",
    title: "Policy names a deprecated action",
    family: Family::Policy,
    severity: Severity::Info,
    attack: &[],
    compliance: &[],
    events: &[],
    kb_entries: &[],
    doc: RuleDoc {
        what: "An action named explicitly (not through a wildcard) that the Service Authorization Reference marks as deprecated, e.g. the `es:*Elasticsearch*` actions replaced by OpenSearch ones, or Proton's major/minor version actions.",
        why: "The permission may stop being checked, or stop covering the API that replaced it, so the policy quietly grants less (or, for a Deny, blocks less) than intended.",
        example: "```json\n{\"Effect\": \"Allow\", \"Action\": \"es:UpgradeElasticsearchDomain\", \"Resource\": \"*\"}\n```",
        fix: "Replace it with the action the reference names as its successor.",
        references: &["https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html"],
    },
};

pub fn check(ctx: &PolicyContext<'_>, out: &mut Report) {
    let catalog = Catalog::get();
    for s in &ctx.document.statements {
        for (i, p) in s.action.patterns.iter().enumerate() {
            if p.has_wildcard() {
                continue;
            }
            let Some(id) = catalog.lookup(p.raw.trim()) else {
                continue;
            };
            if catalog.action(id).deprecated {
                let span = s.action.item_spans.get(i).copied().unwrap_or(s.action.span);
                let element = if s.action.negated {
                    "NotAction"
                } else {
                    "Action"
                };
                out.push(ctx.finding(
                    &META,
                    span,
                    &format!("{}.{element}[{i}]", s.path()),
                    &p.raw,
                    format!(
                        "`{}` is deprecated; use the action that replaced it.",
                        catalog.full_name(id)
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::policy::testkit::codes;

    #[test]
    fn explicit_deprecated_actions() {
        let f = codes(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["es:UpgradeElasticsearchDomain","es:*","s3:GetObject"],"Resource":"*"}]}"#,
            "PC023",
        );
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("es:UpgradeElasticsearchDomain"));
    }
}
