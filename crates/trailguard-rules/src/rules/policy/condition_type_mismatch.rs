//! PC008: a condition operator of the wrong type for its key, or a value the operator cannot read.

use trailguard_policy::catalog::Catalog;
use trailguard_policy::condition::{value_fits, ValueType};

use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::Report;
use crate::rules::policy::PolicyContext;

pub const META: RuleMeta = RuleMeta {
    code: "PC008",
    name: "condition-type-mismatch",
    title: "Condition operator does not fit the key's type or value",
    family: Family::Policy,
    severity: Severity::Low,
    attack: &[],
    compliance: &[],
    events: &[],
    kb_entries: &[],
    doc: RuleDoc {
        what: "A condition that compares a key with an operator of another type (`StringEquals` on the numeric `s3:signatureAge`, `NumericEquals` on the string `s3:prefix`), or a value the operator cannot parse (`DateGreaterThan` with `\"bad\"`). A string operator on an ARN key works but is reported at info level.",
        why: "A mistyped comparison never matches: the Allow grants nothing or a Deny never applies, and nobody notices until access is needed or abused.",
        example: "```json\n\"Condition\": {\"DateGreaterThan\": {\"aws:CurrentTime\": \"tomorrow\"}}\n```",
        fix: "Use the operator family of the key's type (String*, Numeric*, Date*, Bool, IpAddress, Arn*) and values in that type's format (ISO 8601 dates, CIDR blocks, numbers).",
        references: &["https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html"],
    },
};

/// The operator type a catalog key type expects.
fn expected_type(key_type: &str) -> Option<ValueType> {
    Some(match key_type.trim_start_matches("ArrayOf") {
        "String" => ValueType::String,
        "ARN" | "Arn" => ValueType::Arn,
        "Numeric" | "Long" | "Integer" => ValueType::Numeric,
        "Date" => ValueType::Date,
        "Bool" | "Boolean" => ValueType::Bool,
        "IPAddress" | "IpAddress" => ValueType::Ip,
        "Binary" => ValueType::Binary,
        _ => return None,
    })
}

pub fn check(ctx: &PolicyContext<'_>, out: &mut Report) {
    let catalog = Catalog::get();
    for s in &ctx.document.statements {
        for c in &s.conditions {
            let Some(op_type) = c.operator.value_type() else {
                continue;
            };
            if op_type == ValueType::Null {
                continue;
            }
            let path = format!("{}.Condition.{}.{}", s.path(), c.operator.raw, c.key);
            let key_type = catalog
                .condition_key(&c.key)
                .and_then(|k| expected_type(&k.key_type));
            if let Some(key_type) = key_type {
                if key_type != op_type {
                    let usable = key_type == ValueType::Arn && op_type == ValueType::String;
                    let mut f = ctx.finding(
                        &META,
                        c.span,
                        &path,
                        "type",
                        if usable {
                            format!("`{}` compares the ARN key `{}` as a string; it works, but `ArnEquals`/`ArnLike` match ARNs part by part.", c.operator.raw, c.key)
                        } else {
                            format!("`{}` is a {:?} operator but `{}` is a {:?} key: the comparison never matches.", c.operator.raw, op_type, c.key, key_type)
                        },
                    );
                    if usable {
                        f.severity = Severity::Info;
                    }
                    out.push(f);
                    continue;
                }
            }
            let bad: Vec<&String> = c
                .values
                .iter()
                .filter(|v| !v.contains("${") && !value_fits(op_type, v))
                .collect();
            if let Some(first) = bad.first() {
                out.push(ctx.finding(
                    &META,
                    c.span,
                    &path,
                    "value",
                    format!(
                        "`{}` cannot read `{first}` as a {:?} value: the comparison never matches.",
                        c.operator.raw, op_type
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::finding::Severity;
    use crate::rules::policy::testkit::codes;

    fn run(condition: &str, action: &str) -> Vec<crate::finding::Finding> {
        let text = format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"{action}","Resource":"*","Condition":{condition}}}}}"#
        );
        codes(&text, "PC008")
    }

    #[test]
    fn types_and_values() {
        assert_eq!(
            run(
                r#"{"StringEquals":{"s3:signatureage":"bad"}}"#,
                "s3:ListBucket"
            )
            .len(),
            1
        );
        assert_eq!(
            run(
                r#"{"NumericEquals":{"s3:prefix":"home/"}}"#,
                "s3:ListBucket"
            )
            .len(),
            1
        );
        assert_eq!(
            run(
                r#"{"DateGreaterThan":{"aws:CurrentTime":"bad"}}"#,
                "s3:ListBucket"
            )
            .len(),
            1
        );
        assert!(run(
            r#"{"DateGreaterThan":{"aws:CurrentTime":"2019-07-16T12:00:00Z"}}"#,
            "s3:ListBucket"
        )
        .is_empty());
        assert!(run(
            r#"{"NumericGreaterThan":{"aws:MultiFactorAuthAge":"28800"}}"#,
            "s3:ListBucket"
        )
        .is_empty());
        assert!(run(
            r#"{"Bool":{"kms:GrantIsForAWSResource":true}}"#,
            "kms:CreateGrant"
        )
        .is_empty());
        assert!(run(
            r#"{"Null":{"aws:MultiFactorAuthAge":true}}"#,
            "s3:ListBucket"
        )
        .is_empty());
        let usable = run(
            r#"{"StringEquals":{"ec2:InstanceProfile":"arn:aws:iam::1:instance-profile/r"}}"#,
            "ec2:TerminateInstances",
        );
        assert_eq!(usable.len(), 1);
        assert_eq!(usable[0].severity, Severity::Info);
        assert!(run(
            r#"{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","not-an-ip"]}}"#,
            "s3:ListBucket"
        )[0]
        .message
        .contains("not-an-ip"));
    }
}
