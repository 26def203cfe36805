//! PC004: an action (or wildcard pattern) matches nothing in a known service.

use trailguard_policy::catalog::Catalog;

use crate::finding::{Finding, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
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

pub fn check(ctx: &PolicyContext<'_>, out: &mut Vec<Finding>) {
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
        if let Some(suggestion) = closest(catalog, &unknown.pattern) {
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

/// The action of the same service with the smallest edit distance, if close enough.
fn closest(catalog: &Catalog, pattern: &str) -> Option<String> {
    let (service, action) = pattern.split_once(':')?;
    let service = catalog.service(service)?;
    let wanted = action.to_ascii_lowercase();
    let mut best: Option<(usize, String)> = None;
    for i in service.first..service.first + service.count {
        let name = &catalog.actions[i as usize].name;
        let d = edit_distance(&wanted, &name.to_ascii_lowercase());
        if best.as_ref().is_none_or(|(bd, _)| d < *bd) {
            best = Some((d, format!("{}:{}", service.prefix, name)));
        }
    }
    best.filter(|(d, _)| *d <= 3.max(wanted.len() / 4))
        .map(|(_, n)| n)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
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
        assert_eq!(super::edit_distance("kitten", "sitting"), 3);
    }
}
