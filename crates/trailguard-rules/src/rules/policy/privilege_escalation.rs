//! PC019: the policy enables a known privilege-escalation method. Methods enabled by the same
//! statements, all unrestricted or all not, are one finding listing them.

use trailguard_policy::analysis::PrivescFinding;

use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::Report;
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
        what: "The policy grants every permission of a published privilege-escalation method (63 methods: Rhino Security Labs' 21 IAM methods and the later ones through Lambda, Glue, CloudFormation, Data Pipeline, CodeBuild, SageMaker, ECS, SSM, EC2, Step Functions, Batch, App Runner, permissions boundaries, KMS grants...). Each finding names the method (or, when the same statements enable several, every method, in one finding) and the statements that grant its permissions; it is critical when every permission is granted on `*` without conditions, high when some are scoped or conditional (the escalation then depends on which resources are reachable). Access keys and console passwords granted only on the caller's own user (`user/${aws:username}`, AWS's self-service pattern) do not count: minting credentials for yourself gains nothing.",
        why: "A principal that can escalate has, in effect, the permissions of the most privileged identity it can reach, usually administrator. Reviewing its visible permissions understates its real access.",
        example: "```json\n{\"Effect\": \"Allow\", \"Action\": [\"iam:PassRole\", \"lambda:CreateFunction\", \"lambda:InvokeFunction\"], \"Resource\": \"*\"}\n```\nenables *PassExistingRoleToNewLambdaThenInvoke*.",
        fix: "Remove one permission of the method, or scope it: limit `iam:PassRole` to specific roles with `iam:PassedToService`, limit IAM write actions to the principal's own resources, put a permissions boundary on principals that may create or modify roles.",
        references: &["https://rhinosecuritylabs.com/aws/aws-privilege-escalation-methods-mitigation/", "https://github.com/BishopFox/iam-vulnerable", "https://pathfinding.cloud/"],
    },
};

pub fn check(ctx: &PolicyContext<'_>, out: &mut Report) {
    // An administrator has nothing to escalate to; PC010 reports it.
    if ctx.analysis.is_admin {
        return;
    }
    // Methods enabled by the same statements with the same reach read as one finding: a broad
    // `Allow NotAction iam:*` enables twenty methods through one statement, and twenty findings
    // with one evidence would bury the point.
    let mut groups: Vec<(&[usize], bool, Vec<&PrivescFinding>)> = Vec::new();
    for p in &ctx.analysis.privilege_escalation {
        match groups.iter_mut().find(|(statements, unrestricted, _)| {
            *statements == p.statements.as_slice() && *unrestricted == p.unrestricted
        }) {
            Some((_, _, methods)) => methods.push(p),
            None => groups.push((&p.statements, p.unrestricted, vec![p])),
        }
    }
    for (statements, unrestricted, methods) in groups {
        let Some(first) = statements.first().and_then(|i| ctx.statement(*i)) else {
            continue;
        };
        let mut grants: Vec<String> = Vec::new();
        for h in methods.iter().flat_map(|p| &p.actions) {
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
            let grant = format!("`{}` ({path}{note})", h.action);
            if !grants.contains(&grant) {
                grants.push(grant);
            }
        }
        let shown_grants = if grants.len() > MAX_GRANTS_SHOWN {
            format!(
                "{} and {} more",
                grants[..MAX_GRANTS_SHOWN].join(", "),
                grants.len() - MAX_GRANTS_SHOWN
            )
        } else {
            grants.join(", ")
        };
        let (key, message) = match methods.as_slice() {
            [p] => (
                p.method.id.to_owned(),
                format!(
                    "Enables {} ({}): {} Granted by {shown_grants}.",
                    p.method.name, p.method.id, p.method.description
                ),
            ),
            many => {
                let names: Vec<String> = many
                    .iter()
                    .map(|p| format!("{} ({})", p.method.name, p.method.id))
                    .collect();
                let ids: Vec<&str> = many.iter().map(|p| p.method.id).collect();
                (
                    ids.join("+"),
                    format!(
                        "Enables {} privilege-escalation methods: {}. Granted by {shown_grants}.",
                        many.len(),
                        names.join(", ")
                    ),
                )
            }
        };
        let mut f = ctx.finding(&META, first.span, &first.path(), &key, message);
        if !unrestricted {
            f.severity = Severity::High;
        }
        let mut sources: Vec<&str> = methods.iter().map(|p| p.method.source).collect();
        sources.sort_unstable();
        sources.dedup();
        f.notes.push(format!("Source: {}.", sources.join("; ")));
        out.push(f);
    }
}

/// Grants listed in one finding before "and N more".
const MAX_GRANTS_SHOWN: usize = 12;

#[cfg(test)]
mod tests {
    use crate::finding::Severity;
    use crate::rules::policy::testkit::codes;

    #[test]
    fn names_each_method_with_its_statements() {
        let f = codes(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["glue:updatedevendpoint"],"Resource":"*"},{"Effect":"Allow","Action":["lambda:updatefunctioncode"],"Resource":"*"}]}"#,
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

    #[test]
    fn one_statement_enabling_many_methods_is_one_finding() {
        let f = codes(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}]}"#,
            "PC019",
        );
        assert_eq!(
            f.len(),
            1,
            "{:#?}",
            f.iter().map(|f| &f.message).collect::<Vec<_>>()
        );
        let message = &f[0].message;
        assert!(message.starts_with("Enables "), "{message}");
        assert!(
            message.contains("privilege-escalation methods:"),
            "{message}"
        );
        assert!(
            message.contains("EditExistingLambdaFunctionWithRole"),
            "{message}"
        );
        assert!(
            message.contains("UpdateExistingGlueDevEndpoint"),
            "{message}"
        );
        assert_eq!(f[0].severity, Severity::Critical);
        assert_eq!(
            f[0].location.as_ref().unwrap().json_path.as_deref(),
            Some("Statement[0]")
        );
    }
}
