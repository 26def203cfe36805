//! PC021: an MFA condition that does the opposite of what it seems to.

use trailguard_policy::condition::OperatorKind;
use trailguard_policy::Effect;

use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::Report;
use crate::rules::policy::PolicyContext;

pub const META: RuleMeta = RuleMeta {
    code: "PC021",
    name: "mfa-condition-ineffective",
    title: "MFA condition does not do what it seems",
    family: Family::Policy,
    severity: Severity::Medium,
    attack: &["T1078.004"],
    compliance: &[],
    events: &[],
    kb_entries: &[],
    doc: RuleDoc {
        what: "`Bool` on `aws:MultiFactorAuthPresent` with `false`: in an Allow it grants to sessions *without* MFA; in a Deny (`Bool`, not `BoolIfExists`) it never applies to long-term access keys, whose requests carry no MFA key at all.",
        why: "The usual intent, \"deny unless MFA\", is silently bypassed by anyone using an access key: the key is absent, `Bool` does not match, and the Deny does not apply.",
        example: "```json\n{\"Effect\": \"Deny\", \"Action\": \"*\", \"Resource\": \"*\", \"Condition\": {\"Bool\": {\"aws:MultiFactorAuthPresent\": \"false\"}}}\n```",
        fix: "Deny with `BoolIfExists` and `false`, or allow with `Bool` and `true`.",
        references: &["https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-multifactorauthpresent"],
    },
};

pub fn check(ctx: &PolicyContext<'_>, out: &mut Report) {
    for s in &ctx.document.statements {
        for c in &s.conditions {
            let is_mfa_false = c.key.eq_ignore_ascii_case("aws:MultiFactorAuthPresent")
                && c.operator.kind == OperatorKind::Bool
                && c.values.iter().any(|v| v.eq_ignore_ascii_case("false"));
            if !is_mfa_false {
                continue;
            }
            let message = match (s.effect, c.operator.if_exists) {
                (Effect::Allow, _) => "Allows only sessions *without* MFA (`aws:MultiFactorAuthPresent` is `false`); requests with long-term keys do not match either.",
                (Effect::Deny, false) => "This Deny never applies to long-term access keys: their requests have no `aws:MultiFactorAuthPresent` key. Use `BoolIfExists`.",
                (Effect::Deny, true) => continue,
            };
            let path = format!("{}.Condition.{}.{}", s.path(), c.operator.raw, c.key);
            out.push(ctx.finding(&META, c.span, &path, "", message.to_owned()));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::policy::testkit::codes;

    #[test]
    fn allow_false_and_deny_without_if_exists() {
        let cond = |effect: &str, op: &str| {
            format!(
                r#"{{"Version":"2012-10-17","Statement":{{"Effect":"{effect}","Action":"*","Resource":"*","Condition":{{"{op}":{{"aws:MultiFactorAuthPresent":"false"}}}}}}}}"#
            )
        };
        assert_eq!(codes(&cond("Allow", "Bool"), "PC021").len(), 1);
        assert_eq!(codes(&cond("Deny", "Bool"), "PC021").len(), 1);
        assert!(codes(&cond("Deny", "BoolIfExists"), "PC021").is_empty());
    }
}
