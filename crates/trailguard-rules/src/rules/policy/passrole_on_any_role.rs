//! PC013: `iam:PassRole` on every role, without limiting the service.

use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::Report;
use crate::rules::policy::PolicyContext;

pub const META: RuleMeta = RuleMeta {
    code: "PC013",
    name: "passrole-on-any-role",
    title: "iam:PassRole allowed on every role",
    family: Family::Policy,
    severity: Severity::High,
    attack: &["T1098.003", "T1548"],
    compliance: &[],
    events: &[],
    kb_entries: &[],
    doc: RuleDoc {
        what: "An Allow of `iam:PassRole` (directly or through `iam:*`, `*` or `NotAction`) on `Resource: *` with no `iam:PassedToService` condition.",
        why: "Passing any role to a compute service (EC2, Lambda, Glue, ECS, CloudFormation, ...) is the most common privilege-escalation step: the principal runs code as the most privileged role in the account.",
        example: "```json\n{\"Effect\": \"Allow\", \"Action\": \"iam:PassRole\", \"Resource\": \"*\"}\n```",
        fix: "Limit `Resource` to the role ARNs the principal must pass and add `\"Condition\": {\"StringEquals\": {\"iam:PassedToService\": \"lambda.amazonaws.com\"}}`.",
        references: &["https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html", "https://rhinosecuritylabs.com/aws/aws-privilege-escalation-methods-mitigation/"],
    },
};

pub fn check(ctx: &PolicyContext<'_>, out: &mut Report) {
    if ctx.analysis.is_admin {
        return;
    }
    for &index in &ctx.analysis.passrole_star {
        if let Some(f) = ctx.statement_finding(&META, index, "", "Allows passing any role in the account to any service (`iam:PassRole` on `*`, no `iam:PassedToService` condition).".to_owned()) {
            out.push(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::policy::testkit::codes;

    #[test]
    fn star_without_service_condition() {
        assert_eq!(codes(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:Pass*","Resource":"*"}]}"#, "PC013").len(), 1);
        assert!(codes(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::1:role/app"}]}"#, "PC013").is_empty());
        assert!(codes(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"*","Condition":{"StringEquals":{"iam:PassedToService":"lambda.amazonaws.com"}}}]}"#, "PC013").is_empty());
    }
}
