//! PC020: sensitive actions allowed without an MFA condition.

use trailguard_policy::input::PolicyKind;

use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::Report;
use crate::rules::policy::{by_statement, list_actions, PolicyContext};

pub const META: RuleMeta = RuleMeta {
    code: "PC020",
    name: "mfa-missing-on-sensitive-actions",
    title: "Sensitive actions allowed without MFA",
    family: Family::Policy,
    severity: Severity::Low,
    attack: &["T1078.004"],
    compliance: &["CIS-1.10"],
    events: &[],
    kb_entries: &[],
    doc: RuleDoc {
        what: "An Allow of sensitive actions (IAM, Organizations, KMS and IAM Identity Center permissions management; creating credentials; stopping CloudTrail; deleting MFA devices) in a statement without an `aws:MultiFactorAuthPresent` or `aws:MultiFactorAuthAge` condition.",
        why: "Without MFA, a leaked access key or phished password is enough to change who can do what in the account. Requiring MFA for these actions limits the damage of stolen long-term credentials.",
        example: "```json\n{\"Effect\": \"Allow\", \"Action\": \"iam:AttachUserPolicy\", \"Resource\": \"*\"}\n```",
        fix: "Add `\"Condition\": {\"Bool\": {\"aws:MultiFactorAuthPresent\": \"true\"}}` to the statement (or `NumericLessThan` on `aws:MultiFactorAuthAge`), or grant these actions only through a role assumed with MFA.",
        references: &["https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_mfa_configure-api-require.html"],
    },
};

pub fn check(ctx: &PolicyContext<'_>, out: &mut Report) {
    // Trust policies and resource policies speak of other principals; MFA is the caller's matter.
    if ctx.policy.kind == PolicyKind::Trust
        || ctx
            .document
            .statements
            .iter()
            .any(|s| s.principal.is_some())
    {
        return;
    }
    for (statement, hits) in by_statement(&ctx.analysis.mfa_missing) {
        let Some(s) = ctx.statement(statement) else {
            continue;
        };
        out.push(ctx.finding(
            &META,
            s.span,
            &s.path(),
            "",
            format!(
                "Allows {} sensitive action{} without requiring MFA: {}.",
                hits.len(),
                if hits.len() == 1 { "" } else { "s" },
                list_actions(&hits, 6)
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::policy::testkit::codes;

    #[test]
    fn mfa_condition_required() {
        let f = codes(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:AttachUserPolicy","cloudtrail:StopLogging","s3:GetObject"],"Resource":"*"}]}"#,
            "PC020",
        );
        assert_eq!(f.len(), 1);
        assert!(
            f[0].message.starts_with("Allows 2 sensitive actions"),
            "{}",
            f[0].message
        );
        assert!(codes(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:AttachUserPolicy","Resource":"*","Condition":{"NumericLessThan":{"aws:MultiFactorAuthAge":"3600"}}}]}"#, "PC020").is_empty());
    }
}
