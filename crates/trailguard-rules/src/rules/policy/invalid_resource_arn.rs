//! PC006: a `Resource`/`NotResource` entry that is not a well-formed ARN (or `*`).

use trailguard_policy::catalog::Catalog;

use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::Report;
use crate::rules::policy::PolicyContext;

pub const META: RuleMeta = RuleMeta {
    code: "PC006",
    name: "invalid-resource-arn",
    title: "Resource is not a valid ARN",
    family: Family::Policy,
    severity: Severity::Medium,
    attack: &[],
    compliance: &[],
    events: &[],
    kb_entries: &[],
    doc: RuleDoc {
        what: "A resource that is neither `*` nor an ARN of the form `arn:partition:service:region:account:resource`: a bare name (`my-bucket`), an unknown partition or service, too few parts, or an unresolved template such as `${AWS::AccountId}`.",
        why: "IAM rejects a malformed ARN; one with a wrong service or partition matches nothing, so an Allow grants nothing and a Deny protects nothing.",
        example: "```json\n{\"Effect\": \"Allow\", \"Action\": \"s3:GetObject\", \"Resource\": \"my-bucket/*\"}\n```",
        fix: "Write the full ARN, e.g. `arn:aws:s3:::my-bucket/*`; resolve CloudFormation substitutions before checking the document.",
        references: &["https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html"],
    },
};

const PARTITIONS: [&str; 6] = ["aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "*"];

/// The longest ARN IAM accepts in a policy.
const MAX_ARN_LEN: usize = 2048;

/// `arn` for a message: whole when short, else its start and its length, so a hostile 8 MB
/// resource costs a line, not megabytes per finding.
pub fn shown_arn(arn: &str) -> std::borrow::Cow<'_, str> {
    const SHOWN: usize = 120;
    if arn.len() <= SHOWN * 2 {
        return arn.into();
    }
    let mut end = SHOWN;
    while !arn.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} characters)", &arn[..end], arn.len()).into()
}

/// Why `arn` is malformed, if it is.
pub fn arn_problem(arn: &str) -> Option<String> {
    if arn == "*" {
        return None;
    }
    if arn.len() > MAX_ARN_LEN {
        return Some(format!(
            "`{}` is longer than any ARN IAM accepts ({MAX_ARN_LEN} characters)",
            shown_arn(arn)
        ));
    }
    if arn.contains("${AWS::") || arn.contains("Fn::") {
        return Some(format!(
            "`{arn}` holds an unresolved CloudFormation expression"
        ));
    }
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() < 6 || parts[0] != "arn" {
        return Some(format!("`{arn}` is not `*` or an ARN of the form `arn:partition:service:region:account:resource`"));
    }
    if !PARTITIONS.contains(&parts[1]) && !parts[1].contains(['*', '?']) {
        return Some(format!("`{arn}` has unknown partition `{}`", parts[1]));
    }
    let service = parts[2];
    if !service.contains(['*', '?'])
        && Catalog::get().service(service).is_none()
        && !KNOWN_ARN_SERVICES.contains(&service)
    {
        return Some(format!("`{arn}` names unknown service `{service}`"));
    }
    if parts[5].is_empty() {
        return Some(format!("`{arn}` has an empty resource part"));
    }
    None
}

/// ARN service namespaces that differ from IAM action prefixes.
const KNOWN_ARN_SERVICES: &[&str] = &[
    "logs",
    "elasticloadbalancing",
    "execute-api",
    "rds-db",
    "s3-object-lambda",
];

pub fn check(ctx: &PolicyContext<'_>, out: &mut Report) {
    for s in &ctx.document.statements {
        let Some(resource) = &s.resource else {
            continue;
        };
        let element = if resource.negated {
            "NotResource"
        } else {
            "Resource"
        };
        for (i, (arn, span)) in resource
            .patterns
            .iter()
            .zip(&resource.item_spans)
            .enumerate()
        {
            if let Some(problem) = arn_problem(arn) {
                out.push(ctx.finding(
                    &META,
                    *span,
                    &format!("{}.{element}[{i}]", s.path()),
                    arn,
                    format!("{problem}."),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::arn_problem;
    use crate::rules::policy::testkit::codes;

    #[test]
    fn arn_shapes() {
        assert!(arn_problem("*").is_none());
        assert!(arn_problem("arn:aws:s3:::b/*").is_none());
        assert!(arn_problem("arn:*:cloudtrail:*:*:trail/*").is_none());
        assert!(arn_problem("arn:aws:logs:us-east-1:1:log-group:x").is_none());
        assert!(arn_problem("s3").unwrap().contains("not `*` or an ARN"));
        assert!(arn_problem("arn:aws:ssm:*:${AWS::AccountId}:*")
            .unwrap()
            .contains("CloudFormation"));
        assert!(arn_problem("arn:amazon:s3:::b")
            .unwrap()
            .contains("partition"));
        assert!(arn_problem("arn:aws:s4:::b")
            .unwrap()
            .contains("service `s4`"));
    }

    #[test]
    fn reports_each_bad_entry() {
        let f = codes(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":["s3","*"]}}"#,
            "PC006",
        );
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0].location.as_ref().unwrap().json_path.as_deref(),
            Some("Statement.Resource[0]")
        );
    }
}
