//! PC019: the policy enables a known privilege-escalation method (one finding per method).

use crate::finding::{Finding, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rules::policy::PolicyContext;

pub const META: RuleMeta = RuleMeta {
    code: "PC019",
    name: "privilege-escalation",
    title: "Policy enables privilege escalation",
    family: Family::Policy,
    severity: Severity::Critical,
    attack: &["T1098.003", "T1548", "T1078.004"],
    compliance: &[],
    events: &[],
    kb_entries: &[],
    doc: RuleDoc {
        what: "The policy grants every permission of a published privilege-escalation method (63 methods: Rhino Security Labs' 21 IAM methods and the later ones through Lambda, Glue, CloudFormation, Data Pipeline, CodeBuild, SageMaker, ECS, SSM, EC2, Step Functions, Batch, App Runner, permissions boundaries, KMS grants...). Each finding names the method and the statements that grant its permissions; it is critical when every permission is granted on `*` without conditions, high when some are scoped or conditional (the escalation then depends on which resources are reachable).",
        why: "A principal that can escalate has, in effect, the permissions of the most privileged identity it can reach, usually administrator. Reviewing its visible permissions understates its real access.",
        example: "```json\n{\"Effect\": \"Allow\", \"Action\": [\"iam:PassRole\", \"lambda:CreateFunction\", \"lambda:InvokeFunction\"], \"Resource\": \"*\"}\n```\nenables *PassExistingRoleToNewLambdaThenInvoke*.",
        fix: "Remove one permission of the method, or scope it: limit `iam:PassRole` to specific roles with `iam:PassedToService`, limit IAM write actions to the principal's own resources, put a permissions boundary on principals that may create or modify roles.",
        references: &["https://rhinosecuritylabs.com/aws/aws-privilege-escalation-methods-mitigation/", "https://github.com/BishopFox/iam-vulnerable", "https://pathfinding.cloud/"],
    },
};

pub fn check(ctx: &PolicyContext<'_>, out: &mut Vec<Finding>) {
    // An administrator has nothing to escalate to; PC010 reports it.
    if ctx.analysis.is_admin {
        return;
    }
    for p in &ctx.analysis.privilege_escalation {
        let Some(first) = p.statements.first().and_then(|i| ctx.statement(*i)) else {
            continue;
        };
        let grants: Vec<String> = p
            .actions
            .iter()
            .map(|h| {
                let path = ctx
                    .statement(h.statement)
                    .map(|s| s.path())
                    .unwrap_or_default();
                let mut note = String::new();
                if !h.resource_star {
                    note.push_str(", scoped");
                }
                if h.conditional {
                    note.push_str(", conditional");
                }
                format!("`{}` ({path}{note})", h.action)
            })
            .collect();
        let mut f = ctx.finding(
            &META,
            first.span,
            &first.path(),
            p.method.id,
            format!(
                "Enables {} ({}): {} Granted by {}.",
                p.method.name,
                p.method.id,
                p.method.description,
                grants.join(", ")
            ),
        );
        if !p.unrestricted {
            f.severity = Severity::High;
        }
        f.notes.push(format!("Source: {}.", p.method.source));
        out.push(f);
    }
}

#[cfg(test)]
mod tests {
    use crate::finding::Severity;
    use crate::rules::policy::testkit::codes;

    #[test]
    fn names_each_method_with_its_statements() {
        let f = codes(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["glue:updatedevendpoint","lambda:updatefunctioncode"],"Resource":"*"}]}"#,
            "PC019",
        );
        let names: Vec<&str> = f
            .iter()
            .map(|f| f.message.split(' ').nth(1).unwrap())
            .collect();
        assert_eq!(
            names,
            vec![
                "EditExistingLambdaFunctionWithRole",
                "UpdateExistingGlueDevEndpoint"
            ]
        );
        assert!(f.iter().all(|f| f.severity == Severity::Critical));
        let scoped = codes(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::1:role/ec2-*"},{"Effect":"Allow","Action":"ec2:RunInstances","Resource":"*"}]}"#,
            "PC019",
        );
        assert_eq!(scoped.len(), 1);
        assert_eq!(scoped[0].severity, Severity::High);
        assert!(
            scoped[0]
                .message
                .contains("`iam:PassRole` (Statement[0], scoped)"),
            "{}",
            scoped[0].message
        );
        assert!(codes(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#, "PC019").is_empty());
    }
}
