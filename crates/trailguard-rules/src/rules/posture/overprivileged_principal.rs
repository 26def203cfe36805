//! PA015 overprivileged-principal: users and roles that can escalate privileges, expose resources,
//! expose credentials or exfiltrate data, according to the policy engine.

use trailguard_account::snapshot::AUTHORIZATION_DETAILS;
use trailguard_account::PrincipalKind;
use trailguard_policy::analysis::ActionHit;

use super::{evidence, PostureContext, Report};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;

pub const META: RuleMeta = RuleMeta {
    code: "PA015",
    name: "overprivileged-principal",
    title: "Principal can escalate privileges, expose resources or exfiltrate data",
    family: Family::Posture,
    severity: Severity::High,
    attack: &["T1098", "T1548", "T1530"],
    compliance: &["CIS-1.16", "IAM.21"],
    events: &[],
    kb_entries: &["CreatePolicyVersion", "AttachUserPolicy"],
    doc: RuleDoc {
        what: "Users and roles (not already full administrators, see PA014, and not AWS service-linked roles, whose \
               policies AWS owns) whose combined identity policies — \
               own, groups', inline and managed, narrowed by their permissions boundary — enable a known \
               privilege-escalation method (CreatePolicyVersion, AttachUserPolicy, PassRole with a compute \
               service, ...), resource exposure (changing resource policies on every resource), credentials \
               exposure, or data exfiltration (reading data on every resource). Privilege escalation with every \
               needed action on every resource and unconditioned is **high**; escalation limited by a resource \
               or condition, and the other categories alone, are **medium**. Policies are combined first, so a method split across \
               two policies is found.",
        why: "A principal that can escalate is an administrator with extra steps; one that can rewrite resource \
              policies can open buckets, keys and queues to the internet; one that can read every object or \
              secret is a data breach on its first stolen credential.",
        example: "`privesc1-CreateNewPolicyVersion-user` with `iam:CreatePolicyVersion` on `*`: it can write a new \
                  default version of any policy attached to it, granting itself `*:*`.",
        fix: "Scope the named actions to the resources the principal needs (no `*`), add conditions, or attach a \
              permissions boundary that excludes them. `trailguard policy check` shows each risky statement.",
        references: &[
            "https://rhinosecuritylabs.com/aws/aws-privilege-escalation-methods-mitigation/",
            "https://github.com/salesforce/cloudsplaining",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html",
        ],
    },
};

/// Up to this many actions are named per category in a message.
const MAX_NAMED: usize = 5;

fn unrestricted(hits: &[ActionHit]) -> Vec<&str> {
    let mut actions: Vec<&str> = hits
        .iter()
        .filter(|h| h.unrestricted())
        .map(|h| h.action.as_str())
        .collect();
    actions.sort_unstable();
    actions.dedup();
    actions
}

fn named(actions: &[&str]) -> String {
    let mut text = actions
        .iter()
        .take(MAX_NAMED)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if actions.len() > MAX_NAMED {
        text.push_str(&format!(" and {} more", actions.len() - MAX_NAMED));
    }
    text
}

/// Service-linked roles live under the `/aws-service-role/` path.
pub fn is_service_linked(arn: &str) -> bool {
    arn.contains(":role/aws-service-role/")
}

pub fn check(ctx: &PostureContext<'_>) -> Report {
    if ctx.snapshot.authorization.is_none() {
        return Report::missing(AUTHORIZATION_DETAILS);
    }
    let mut findings = Vec::new();
    for facts in ctx.facts().iter().filter(|f| !f.is_admin) {
        let Some(analysis) = &facts.analysis else {
            continue;
        };
        let principal = &ctx.principals[facts.index];
        // Service-linked roles belong to AWS: their policies cannot be changed by the account.
        if is_service_linked(&principal.arn) {
            continue;
        }
        let privesc: Vec<&str> = analysis
            .privilege_escalation
            .iter()
            .map(|p| p.method.name)
            .collect();
        let exposure = unrestricted(&analysis.resource_exposure);
        let credentials = unrestricted(&analysis.credentials_exposure);
        let exfiltration = unrestricted(&analysis.data_exfiltration);
        if privesc.is_empty()
            && exposure.is_empty()
            && credentials.is_empty()
            && exfiltration.is_empty()
        {
            continue;
        }
        let mut parts = Vec::new();
        // Unrestricted: every needed action on `*` without conditions. Otherwise a resource or
        // condition limits it, which may or may not stop the method: flagged, one step lower.
        let unrestricted_privesc = analysis.privilege_escalation.iter().any(|p| p.unrestricted);
        if !privesc.is_empty() {
            let scoped = if unrestricted_privesc {
                ""
            } else {
                ", scoped or conditional"
            };
            parts.push(format!(
                "privilege escalation ({}{scoped})",
                named(&privesc)
            ));
        }
        if !exposure.is_empty() {
            parts.push(format!("resource exposure ({})", named(&exposure)));
        }
        if !credentials.is_empty() {
            parts.push(format!("credentials exposure ({})", named(&credentials)));
        }
        if !exfiltration.is_empty() {
            parts.push(format!("data exfiltration ({})", named(&exfiltration)));
        }
        let (kind, label) = match principal.kind {
            PrincipalKind::User => ("AwsIamUser", "IAM user"),
            PrincipalKind::Role => ("AwsIamRole", "IAM role"),
        };
        let mut finding = ctx.finding(
            &META,
            Resource {
                kind: kind.into(),
                id: principal.arn.clone(),
                name: Some(principal.name.clone()),
            },
            "",
            format!("{label} `{}` allows {}.", principal.name, parts.join("; ")),
        );
        if !unrestricted_privesc {
            finding.severity = Severity::Medium;
        }
        for p in &analysis.privilege_escalation {
            let sources: Vec<String> = p
                .statements
                .iter()
                .map(|s| facts.source_of(principal, *s))
                .collect();
            finding.evidence.push(evidence(
                format!("privilege_escalation.{}", p.method.id),
                serde_json::json!({
                    "actions": p.actions.iter().map(|a| a.action.as_str()).collect::<Vec<_>>(),
                    "granted_by": sources,
                    "unrestricted": p.unrestricted,
                }),
            ));
        }
        for (category, actions) in [
            ("resource_exposure", &exposure),
            ("credentials_exposure", &credentials),
            ("data_exfiltration", &exfiltration),
        ] {
            if !actions.is_empty() {
                finding.evidence.push(evidence(category, actions.clone()));
            }
        }
        if !facts.incomplete.is_empty() {
            finding.notes.push(format!(
                "Analysis may be incomplete: {}",
                facts.incomplete.join("; ")
            ));
        }
        finding.fix.actions.push(FixAction::Manual {
            description: format!(
                "Scope or remove the risky actions of `{}`, or add a permissions boundary without them.",
                principal.name
            ),
        });
        findings.push(finding);
    }
    Report::evaluated(findings)
}

#[cfg(test)]
mod tests {
    use super::super::testkit;
    use super::*;

    #[test]
    fn cloudsplaining_privesc_users_are_found() {
        let snap = testkit::cloudsplaining();
        let ctx = PostureContext::new(&snap, Some(testkit::now()));
        let outcome = check(&ctx);
        let names = testkit::names(&outcome);
        // Each of these users has one policy named for a Rhino privilege-escalation method, with the
        // method's actions on `*` (read by hand in example.json).
        for user in [
            "privesc1-CreateNewPolicyVersion-user",
            "privesc2-SetExistingDefaultPolicyVersion-user",
            "privesc4-CreateAccessKey-user",
            "privesc5-CreateLoginProfile-user",
            "privesc7-AttachUserPolicy-user",
            "privesc10-PutUserPolicy-user",
            "privesc-sre-user",
            // PassRole (fn1-passrole-star) and RunInstances (fn1-privesc3-partial) in two policies.
            "fn1-privesc3-partial-user",
        ] {
            let Some(i) = names.iter().position(|n| n == user) else {
                panic!("{user} missing from {names:?}");
            };
            assert_eq!(outcome.findings()[i].severity, Severity::High, "{user}");
            assert!(
                outcome.findings()[i]
                    .message
                    .contains("privilege escalation"),
                "{user}"
            );
        }
        // Scoped by resource or condition (Cloudsplaining's fp4/fp5 and fn2/fn3 cases): still
        // flagged, but medium and said to be scoped.
        for user in [
            "fp4-nonExploitableResourceConstraint-user",
            "fn3-exploitableConditionConstraint-user",
        ] {
            let f = &outcome.findings()[names.iter().position(|n| n == user).unwrap()];
            assert_eq!(f.severity, Severity::Medium, "{user}");
            assert!(f.message.contains("scoped or conditional"), "{}", f.message);
        }
        // AttachRolePolicy and PutRolePolicy alone needs sts:AssumeRole on the role too (Rhino method 9), so it is
        // resource exposure (permissions management on `*`), not escalation.
        for (user, action) in [
            ("privesc9-AttachRolePolicy-user", "iam:AttachRolePolicy"),
            ("privesc12-PutRolePolicy-user", "iam:PutRolePolicy"),
        ] {
            let f = &outcome.findings()[names.iter().position(|n| n == user).unwrap()];
            assert_eq!(f.severity, Severity::Medium, "{user}");
            assert_eq!(
                f.message,
                format!("IAM user `{user}` allows resource exposure ({action}).")
            );
        }
        // Full admins are PA014's; `fp3-deny-iam-user` only has a Deny.
        for absent in [
            "obama",
            "fp3-deny-iam-user",
            "fp2-allow-and-deny-multiple-policies-user",
        ] {
            assert!(
                !names.contains(&absent.to_owned()),
                "{absent} should not be flagged"
            );
        }
        let v1 = &outcome.findings()[names
            .iter()
            .position(|n| n == "privesc1-CreateNewPolicyVersion-user")
            .unwrap()];
        assert!(
            v1.message.contains("CreateNewPolicyVersion"),
            "{}",
            v1.message
        );
        // biden's inline InsecureUserPolicy grants s3:PutObjectAcl on `*` (resource exposure); the
        // message names five actions per category, the evidence all of them.
        let biden = &outcome.findings()[names.iter().position(|n| n == "biden").unwrap()];
        let exposure = biden
            .evidence
            .iter()
            .find(|e| e.path == "resource_exposure")
            .unwrap();
        assert!(
            exposure
                .value
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a == "s3:PutObjectAcl"),
            "{exposure:?}"
        );
        assert!(
            biden.message.contains("resource exposure (") && biden.message.contains(" more)"),
            "{}",
            biden.message
        );
    }

    #[test]
    fn read_only_principals_pass() {
        let details = r#"{"RoleDetailList":[{"RoleName":"reader","Arn":"arn:aws:iam::111122223333:role/reader",
            "RolePolicyList":[{"PolicyName":"r","PolicyDocument":{"Statement":[{"Effect":"Allow","Action":["ec2:Describe*","iam:List*"],"Resource":"*"}]}}]}]}"#;
        assert_eq!(
            testkit::run(check, &[(AUTHORIZATION_DETAILS, details)]),
            Report::evaluated(Vec::new())
        );
    }
}
