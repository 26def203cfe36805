//! PC007: a condition key that does not exist, or that none of the statement's actions support.

use trailguard_policy::catalog::{ActionId, Catalog};
use trailguard_policy::Statement;

use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::Report;
use crate::rules::policy::PolicyContext;

pub const META: RuleMeta = RuleMeta {
    code: "PC007",
    name: "unknown-condition-key",
    title: "Condition key is unknown or unsupported by the actions",
    family: Family::Policy,
    severity: Severity::Low,
    attack: &[],
    compliance: &[],
    events: &[],
    kb_entries: &[],
    doc: RuleDoc {
        what: "A condition key that is not a global `aws:` key and that no action in the statement supports (per the Service Authorization Reference), e.g. `s3:x-amz-storage-class` on `s3:ListBucket`, or `iam:ResourceTag/...` on EC2 actions.",
        why: "AWS treats a key missing from the request as absent: a positive condition then never matches (the Allow grants nothing) and a negated one always matches (a Deny meant to be narrow applies, or an Allow meant to be narrow does not restrict).",
        example: "```json\n{\"Effect\": \"Allow\", \"Action\": \"s3:ListBucket\", \"Resource\": \"arn:aws:s3:::b\",\n \"Condition\": {\"StringEquals\": {\"s3:x-amz-storage-class\": \"STANDARD\"}}}\n```",
        fix: "Use a key the actions support (see the Condition keys column of the service's reference page) or move the condition to a statement with those actions.",
        references: &["https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html"],
    },
};

/// Whether `key` may appear in a request for one of `actions`.
fn supported(catalog: &Catalog, key: &str, actions: &[ActionId]) -> bool {
    let Some((prefix, _)) = key.split_once(':') else {
        return false;
    };
    if prefix.eq_ignore_ascii_case("aws") {
        return catalog.condition_key(key).is_some();
    }
    let Some(service) = catalog.service(prefix) else {
        return false;
    };
    let template = service
        .condition_keys
        .iter()
        .position(|k| key_matches(&k.name, key));
    let Some(template) = template else {
        return false;
    };
    let template = template as u16;
    actions.iter().any(|id| {
        let action = catalog.action(*id);
        if catalog.services[action.service as usize].prefix != service.prefix {
            return false;
        }
        action.condition_keys.contains(&template)
            || action.resource_types.iter().any(|(r, _)| {
                service
                    .resource_types
                    .get(*r as usize)
                    .is_some_and(|rt| rt.condition_keys.contains(&template))
            })
    })
}

fn key_matches(template: &str, key: &str) -> bool {
    if template.eq_ignore_ascii_case(key) {
        return true;
    }
    match template.find("${").or_else(|| template.find('<')) {
        Some(i) => {
            key.len() > i
                && key.is_char_boundary(i)
                && key[..i].eq_ignore_ascii_case(&template[..i])
        }
        None => false,
    }
}

fn statement_action_ids(catalog: &Catalog, s: &Statement) -> Option<Vec<ActionId>> {
    if s.action.negated || s.action.patterns.iter().any(|p| p.is_everything()) {
        return None;
    }
    Some(
        s.action
            .patterns
            .iter()
            .flat_map(|p| catalog.expand(&p.raw))
            .collect(),
    )
}

pub fn check(ctx: &PolicyContext<'_>, out: &mut Report) {
    let catalog = Catalog::get();
    for s in &ctx.document.statements {
        if s.conditions.is_empty() {
            continue;
        }
        let actions = statement_action_ids(catalog, s);
        for c in &s.conditions {
            let key = c.key.as_str();
            // Keys set by identity providers in trust policies: `accounts.google.com:aud`,
            // `token.actions.githubusercontent.com:sub`, `SAML:aud`, `cognito-identity.amazonaws.com:amr`.
            let prefix = key.split(':').next().unwrap_or("");
            if prefix.contains('.') || prefix.eq_ignore_ascii_case("saml") {
                continue;
            }
            let exists = catalog.condition_key(key).is_some();
            let ok = match &actions {
                // Every action: only require the key to exist somewhere.
                None => exists || !key.contains(':'),
                Some(ids) => supported(catalog, key, ids),
            };
            if ok {
                continue;
            }
            let message = if !exists {
                format!("Condition key `{key}` does not exist.")
            } else {
                format!("Condition key `{key}` is not supported by any action in this statement, so it is never present in the request.")
            };
            let path = format!("{}.Condition.{}.{}", s.path(), c.operator.raw, key);
            out.push(ctx.finding(&META, c.span, &path, key, message));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::policy::testkit::codes;

    fn one(condition: &str, action: &str) -> usize {
        let text = format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":{action},"Resource":"*","Condition":{condition}}}}}"#
        );
        codes(&text, "PC007").len()
    }

    #[test]
    fn keys_must_fit_the_actions() {
        assert_eq!(
            one(
                r#"{"StringEquals":{"s3:prefix":"home/"}}"#,
                r#""s3:ListBucket""#
            ),
            0
        );
        assert_eq!(
            one(
                r#"{"StringEquals":{"s3:x-amz-storage-class":"bad"}}"#,
                r#""s3:ListBucket""#
            ),
            1
        );
        assert_eq!(
            one(
                r#"{"StringNotEquals":{"iam:ResourceTag/status":"prod"}}"#,
                r#"["ec2:*","s3:*"]"#
            ),
            1
        );
        assert_eq!(
            one(
                r#"{"DateGreaterThan":{"aws:CurrentTime":"2019-07-16T12:00:00Z"}}"#,
                r#""s3:ListBucket""#
            ),
            0
        );
        assert_eq!(
            one(
                r#"{"DateGreaterThan":{"bad":"2019-07-16T12:00:00Z"}}"#,
                r#""s3:ListBucket""#
            ),
            1
        );
        assert_eq!(
            one(
                r#"{"StringEquals":{"aws:ResourceTag/team":"a"}}"#,
                r#""ec2:StartInstances""#
            ),
            0
        );
        assert_eq!(
            one(
                r#"{"StringEquals":{"ec2:ResourceTag/team":"a"}}"#,
                r#""ec2:StartInstances""#
            ),
            0
        );
        assert_eq!(
            one(
                r#"{"StringEquals":{"iam:PassedToService":"ec2.amazonaws.com"}}"#,
                r#""iam:PassRole""#
            ),
            0
        );
        assert_eq!(
            one(
                r#"{"Bool":{"kms:GrantIsForAWSResource":true}}"#,
                r#""kms:CreateGrant""#
            ),
            0
        );
    }
}
