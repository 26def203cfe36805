//! PC005: a condition operator IAM does not know.

use trailguard_policy::condition::ConditionOperator;

use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::Report;
use crate::rules::policy::PolicyContext;

pub const META: RuleMeta = RuleMeta {
    code: "PC005",
    name: "invalid-condition-operator",
    title: "Condition uses an unknown operator",
    family: Family::Policy,
    severity: Severity::Medium,
    attack: &[],
    compliance: &[],
    events: &[],
    kb_entries: &[],
    doc: RuleDoc {
        what: "A `Condition` block whose operator is not one of IAM's (String*, Numeric*, Date*, Bool, BinaryEquals, IpAddress/NotIpAddress, Arn*, Null), optionally with `IfExists` and `ForAllValues:`/`ForAnyValue:`. Operator names are case-sensitive.",
        why: "IAM rejects the policy; if a tool drops the block instead, the statement applies without the intended restriction.",
        example: "```json\n\"Condition\": {\"stringEquals\": {\"aws:PrincipalOrgID\": \"o-abc\"}}\n```",
        fix: "Use the exact operator name, e.g. `StringEquals`.",
        references: &["https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html"],
    },
};

pub fn check(ctx: &PolicyContext<'_>, out: &mut Report) {
    for s in &ctx.document.statements {
        let mut seen: Vec<&str> = Vec::new();
        for c in s.conditions.iter().filter(|c| !c.operator.is_known()) {
            if seen.contains(&c.operator.raw.as_str()) {
                continue;
            }
            seen.push(&c.operator.raw);
            let mut message = format!("`{}` is not an IAM condition operator", c.operator.raw);
            if let Some(fixed) = case_fix(&c.operator.raw) {
                message.push_str(&format!(" (operators are case-sensitive: `{fixed}`)"));
            }
            message.push('.');
            let path = format!("{}.Condition.{}", s.path(), c.operator.raw);
            out.push(ctx.finding(&META, c.span, &path, &c.operator.raw, message));
        }
    }
}

fn case_fix(raw: &str) -> Option<String> {
    const NAMES: [&str; 27] = [
        "StringEquals",
        "StringNotEquals",
        "StringEqualsIgnoreCase",
        "StringNotEqualsIgnoreCase",
        "StringLike",
        "StringNotLike",
        "NumericEquals",
        "NumericNotEquals",
        "NumericLessThan",
        "NumericLessThanEquals",
        "NumericGreaterThan",
        "NumericGreaterThanEquals",
        "DateEquals",
        "DateNotEquals",
        "DateLessThan",
        "DateLessThanEquals",
        "DateGreaterThan",
        "DateGreaterThanEquals",
        "Bool",
        "BinaryEquals",
        "IpAddress",
        "NotIpAddress",
        "ArnEquals",
        "ArnLike",
        "ArnNotEquals",
        "ArnNotLike",
        "Null",
    ];
    let (prefix, rest) = match raw.split_once(':') {
        Some((p, r)) => (Some(p), r),
        None => (None, raw),
    };
    let (base, suffix) = if rest.to_ascii_lowercase().ends_with("ifexists") {
        (&rest[..rest.len() - 8], "IfExists")
    } else {
        (rest, "")
    };
    let name = NAMES.iter().find(|n| n.eq_ignore_ascii_case(base))?;
    let prefix = match prefix.map(str::to_ascii_lowercase).as_deref() {
        None => String::new(),
        Some("forallvalues") => "ForAllValues:".to_owned(),
        Some("foranyvalue") => "ForAnyValue:".to_owned(),
        Some(_) => return None,
    };
    let fixed = format!("{prefix}{name}{suffix}");
    (ConditionOperator::parse(&fixed).is_known() && fixed != raw).then_some(fixed)
}

#[cfg(test)]
mod tests {
    use crate::rules::policy::testkit::codes;

    #[test]
    fn flags_unknown_and_suggests_case() {
        let f = codes(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b","Condition":{"stringequals":{"s3:prefix":"a"},"bad":{"s3:prefix":"b"},"StringLikeIfExists":{"s3:prefix":"c"}}}]}"#,
            "PC005",
        );
        assert_eq!(f.len(), 2);
        assert!(f[0].message.contains("`StringEquals`"), "{}", f[0].message);
        assert_eq!(
            f[1].location.as_ref().unwrap().json_path.as_deref(),
            Some("Statement[0].Condition.bad")
        );
    }
}
