//! PC026: actions that support resource-level permissions granted on `*` (or on an ARN that is `*`
//! in all but name).

use trailguard_policy::catalog::Catalog;
use trailguard_policy::Effect;

use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::Report;
use crate::rules::policy::PolicyContext;

pub const META: RuleMeta = RuleMeta {
    code: "PC026",
    name: "resource-star-where-scopable",
    title: "Actions granted on every resource although they can be scoped",
    family: Family::Policy,
    severity: Severity::Low,
    attack: &[],
    compliance: &[],
    events: &[],
    kb_entries: &[],
    doc: RuleDoc {
        what: "An Allow on `Resource: *` (or on an ARN whose every part is a wildcard, such as `arn:*:cloudtrail:*:*:trail/*`) of actions that support resource-level permissions. Actions that only work on `*` (`s3:ListAllMyBuckets`, most `List*`/`Describe*`) are not reported.",
        why: "Least privilege: the grant covers every current and future resource of that type, including other teams' and production ones.",
        example: "```json\n{\"Effect\": \"Allow\", \"Action\": \"ec2:TerminateInstances\", \"Resource\": \"*\"}\n```",
        fix: "List the ARNs (wildcards within your naming scheme are fine) or scope with `aws:ResourceTag` conditions.",
        references: &["https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege"],
    },
};

pub fn check(ctx: &PolicyContext<'_>, out: &mut Report) {
    if ctx.analysis.is_admin {
        return;
    }
    let catalog = Catalog::get();
    for s in &ctx.document.statements {
        if s.effect != Effect::Allow
            || s.action.negated
            || s.action.patterns.iter().any(|p| p.is_everything())
        {
            continue;
        }
        let Some(resource) = &s.resource else {
            continue;
        };
        if resource.negated {
            continue;
        }
        let actions: Vec<_> = s
            .action
            .patterns
            .iter()
            .flat_map(|p| catalog.expand(&p.raw))
            .collect();
        if resource.is_star() {
            let mut scopable: Vec<String> = actions
                .iter()
                .filter(|id| !catalog.action(**id).resource_types.is_empty())
                .map(|id| catalog.full_name(*id))
                .collect();
            scopable.sort();
            scopable.dedup();
            if scopable.is_empty() {
                continue;
            }
            let shown: Vec<String> = scopable.iter().take(6).map(|a| format!("`{a}`")).collect();
            let more = if scopable.len() > 6 {
                format!(" and {} more", scopable.len() - 6)
            } else {
                String::new()
            };
            out.push(ctx.finding(
                &META,
                resource.span,
                &format!("{}.Resource", s.path()),
                "star",
                format!(
                    "{}{more} {} resource-level permissions but {} granted on `*`.",
                    shown.join(", "),
                    if scopable.len() == 1 {
                        "supports"
                    } else {
                        "support"
                    },
                    if scopable.len() == 1 { "is" } else { "are" }
                ),
            ));
            continue;
        }
        for (i, arn) in resource.patterns.iter().enumerate() {
            if arn.contains("${") || !arn.starts_with("arn:") {
                continue;
            }
            let effectively_star = actions.iter().any(|id| {
                let a = catalog.action(*id);
                let service = &catalog.services[a.service as usize];
                a.resource_types.iter().any(|(r, _)| {
                    service
                        .resource_types
                        .get(*r as usize)
                        .is_some_and(|rt| is_all_wildcards(arn, &rt.arn))
                })
            });
            if effectively_star {
                let span = resource.item_spans.get(i).copied().unwrap_or(resource.span);
                out.push(ctx.finding(
                    &META,
                    span,
                    &format!("{}.Resource[{i}]", s.path()),
                    arn,
                    format!(
                        "`{}` wildcards every part of the ARN: it is `*` for these actions.",
                        crate::rules::policy::invalid_resource_arn::shown_arn(arn)
                    ),
                ));
            }
        }
    }
}

/// Whether `arn` puts a bare `*` wherever the template has a variable (`arn:*:cloudtrail:*:*:trail/*`).
fn is_all_wildcards(arn: &str, template: &str) -> bool {
    let mut glob = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        glob.push_str(&rest[..start]);
        glob.push('*');
        match rest[start..].find('}') {
            Some(end) => rest = &rest[start + end + 1..],
            None => rest = "",
        }
    }
    glob.push_str(rest);
    glob == arn
}

#[cfg(test)]
mod tests {
    use crate::rules::policy::testkit::codes;

    #[test]
    fn star_and_effectively_star() {
        assert_eq!(codes(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:TerminateInstances","Resource":"*"}]}"#, "PC026").len(), 1);
        assert!(codes(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"guardduty:ListDetectors","Resource":"*"}]}"#, "PC026").is_empty());
        assert_eq!(codes(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["cloudtrail:GetEventSelectors"],"Resource":["arn:*:cloudtrail:*:*:trail/*"]}]}"#, "PC026").len(), 1);
        assert!(codes(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["cloudtrail:GetEventSelectors"],"Resource":["arn:aws:cloudtrail:us-east-1:000000000000:trail/*"]}]}"#, "PC026").is_empty());
    }
}
