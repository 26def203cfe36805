//! PC003: an action names a service prefix that does not exist.

use trailguard_policy::catalog::retired_service;

use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::Report;
use crate::rules::policy::PolicyContext;

pub const META: RuleMeta = RuleMeta {
    code: "PC003",
    name: "unknown-service",
    title: "Action names an unknown service",
    family: Family::Policy,
    severity: Severity::Medium,
    attack: &[],
    compliance: &[],
    events: &[],
    kb_entries: &[],
    doc: RuleDoc {
        what: "An `Action` or `NotAction` entry whose service prefix (before the colon) is not an AWS service in the action catalog, e.g. `s3s:GetObject`, or an entry without a colon. A prefix of a service AWS retired (CodeStar, Evidently, IoT Events, ...), or any unknown prefix in an AWS managed policy, is informational and says the service was retired.",
        why: "The entry grants (or denies) nothing. In a Deny or NotAction statement the typo silently weakens the intended restriction.",
        example: "```json\n{\"Effect\": \"Deny\", \"Action\": \"cloudtrial:StopLogging\", \"Resource\": \"*\"}\n```",
        fix: "Correct the service prefix; the AWS Service Authorization Reference lists every prefix.",
        references: &["https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html"],
    },
};

pub fn check(ctx: &PolicyContext<'_>, out: &mut Report) {
    // AWS writes its managed policies from real prefixes: one it no longer knows was retired, not mistyped.
    let aws_managed = ctx
        .policy
        .arn
        .as_deref()
        .is_some_and(|arn| arn.starts_with("arn:aws:iam::aws:policy/"));
    for unknown in ctx
        .analysis
        .unknown_actions
        .iter()
        .filter(|u| u.unknown_service)
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
        let mut retired = false;
        let message = match unknown.pattern.split_once(':') {
            Some((prefix, _)) => match retired_service(prefix.trim()) {
                Some(name) => {
                    retired = true;
                    format!(
                        "`{}` names service `{prefix}` ({name}), which AWS retired: the entry grants nothing and can be removed.",
                        unknown.pattern
                    )
                }
                None if aws_managed => {
                    retired = true;
                    format!(
                        "`{}` names service `{prefix}`, which is no longer in AWS's service reference: AWS retired or renamed it, so the entry grants nothing.",
                        unknown.pattern
                    )
                }
                None => format!(
                    "`{}` names service `{prefix}`, which is not in the AWS action catalog (misspelled, or retired).",
                    unknown.pattern
                ),
            },
            None => format!("`{}` is not of the form `service:action`.", unknown.pattern),
        };
        let mut f = ctx.finding(
            &META,
            *span,
            &format!("{}.{element}[{}]", s.path(), unknown.item),
            &unknown.pattern,
            message,
        );
        if retired {
            f.severity = Severity::Info;
        }
        out.push(f);
    }
}

#[cfg(test)]
mod tests {
    use crate::finding::Severity;
    use crate::rules::policy::testkit::codes;

    #[test]
    fn flags_unknown_prefixes_only() {
        let f = codes(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["cloudtrial:StopLogging","s3","iam:Nope"],"Resource":"*"}]}"#,
            "PC003",
        );
        assert_eq!(f.len(), 2);
        assert!(f[0].message.contains("`cloudtrial`"));
        assert_eq!(
            f[0].location.as_ref().unwrap().json_path.as_deref(),
            Some("Statement[0].Action[0]")
        );
        assert!(f[1].message.contains("service:action"));
        assert!(f.iter().all(|f| f.severity == Severity::Medium));
    }

    #[test]
    fn retired_services_in_aws_managed_policies_are_info() {
        let dir = trailguard_testkit::shared_data().join("managed-policies/iam-dataset");
        let value: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("AWSCodeStarFullAccess.json")).unwrap(),
        )
        .unwrap();
        let f = codes(&value["document"].to_string(), "PC003");
        assert!(!f.is_empty());
        for f in &f {
            assert_eq!(f.severity, Severity::Info, "{}", f.message);
            assert!(f.message.contains("AWS retired"), "{}", f.message);
        }
        // An unknown prefix in a policy whose ARN says AWS manages it is retired, whatever the prefix.
        let details = serde_json::json!({"Policies": [{"PolicyName": "Old", "Arn": "arn:aws:iam::aws:policy/Old",
            "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": true,
            "Document": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "gonesvc:Get*", "Resource": "*"}]}}]}]});
        let f = codes(&details.to_string(), "PC003");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Info);
        assert!(f[0].message.contains("retired"), "{}", f[0].message);
    }
}
