//! CT010 trust-policy-opened: a role trust policy that lets everyone, another account or an
//! unrestricted web identity assume the role (UpdateAssumeRolePolicy, CreateRole).

use trailguard_event::Record;
use trailguard_policy::{Effect, PolicyDocument, PrincipalKind};

use super::common::{
    call_failed, describe_caller, evidence, finding_for, identity_resource,
    names_missing_principal, policy_text, request_field, sh,
};
use super::outsiders::{outsiders, without_statements};
use crate::finding::{Evidence, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::{FixAction, IdentityKind};
use crate::rule::{CloudTrailRule, EventContext, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT010",
    name: "trust-policy-opened",
    title: "Role trust policy opened to outside principals",
    family: Family::Cloudtrail,
    severity: Severity::High,
    attack: &["T1098.003", "T1199"],
    compliance: &[],
    events: &[
        ("iam.amazonaws.com", "UpdateAssumeRolePolicy"),
        ("iam.amazonaws.com", "CreateRole"),
    ],
    kb_entries: &["UpdateAssumeRolePolicy", "CreateRole"],
    doc: RuleDoc {
        what: "`UpdateAssumeRolePolicy` or `CreateRole` whose trust policy has an `Allow` statement letting a \
               principal outside the account assume the role: everyone (`\"Principal\": \"*\"` or \
               `{\"AWS\": \"*\"}`, **critical** without conditions), another AWS account (**high**; **medium** \
               with an `sts:ExternalId` or organization condition), or a web identity provider such as GitHub \
               Actions without a `sub` condition (**critical**: any repository on GitHub could assume the role). \
               Service principals and principals in the same account are not flagged.",
        why: "A role that trusts an outside account is a backdoor that survives the removal of every user and \
              key in the account: the attacker assumes the role from their own account whenever they like \
              (Stratus Red Team `iam-backdoor-role`, `iam-create-backdoor-role`). Trusting `*` lets anyone with \
              an AWS account in.",
        example: "`aws iam update-assume-role-policy --role-name app --policy-document` with a statement \
                  `{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::193672423079:root\"},\"Action\":\"sts:AssumeRole\"}`.",
        fix: "Remove the outside principal from the trust policy (the finding gives the trust policy without the \
              offending statements), or delete a role created for it. For real third parties require \
              `sts:ExternalId`; for web identities require `sub` and `aud` conditions. Review the role's \
              `AssumeRole` events for use from the outside account.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateAssumeRolePolicy.html",
            "https://stratus-red-team.cloud/attack-techniques/AWS/aws.persistence.iam-backdoor-role/",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-idp_oidc.html",
        ],
    },
};

/// One statement that opens the role, with why.
struct Opening {
    statement: usize,
    severity: Severity,
    reason: String,
}

fn openings(doc: &PolicyDocument, own_account: Option<&str>) -> Vec<Opening> {
    let mut found: Vec<Opening> = outsiders(doc, own_account, &[])
        .into_iter()
        .map(|outsider| {
            let (severity, reason) = match outsider.account {
                None if outsider.bound => (
                    Severity::Medium,
                    "trusts every AWS principal, limited by an account or organization condition"
                        .to_owned(),
                ),
                None if !outsider.condition_keys.is_empty() => (
                    Severity::High,
                    "trusts every AWS principal (`*`), limited only by conditions".to_owned(),
                ),
                None => (
                    Severity::Critical,
                    "trusts every AWS principal (`*`) without conditions".to_owned(),
                ),
                Some((account, value)) if outsider.external_id || outsider.bound => (
                    Severity::Medium,
                    format!(
                        "trusts external account {account} (`{value}`) (with an external-id or \
                         organization condition)"
                    ),
                ),
                Some((account, value)) => (
                    Severity::High,
                    format!("trusts external account {account} (`{value}`)"),
                ),
            };
            Opening {
                statement: outsider.statement,
                severity,
                reason,
            }
        })
        .collect();
    for statement in &doc.statements {
        let Some(principal) = &statement.principal else {
            continue;
        };
        if statement.effect != Effect::Allow || principal.negated || principal.is_public() {
            continue;
        }
        for (_, _, values) in principal
            .entries
            .iter()
            .filter(|(kind, ..)| *kind == PrincipalKind::Federated)
        {
            for value in values {
                // SAML providers and OIDC providers in the own account are normal federation; an OIDC
                // provider without a subject condition lets every identity of that provider in.
                if value.contains(":saml-provider/") {
                    continue;
                }
                let provider = value.rsplit(":oidc-provider/").next().unwrap_or(value);
                let sub_key = format!("{provider}:sub");
                let has_sub = statement.conditions.iter().any(|c| {
                    c.key.eq_ignore_ascii_case(&sub_key)
                        || c.key.to_ascii_lowercase().ends_with(":sub")
                });
                if has_sub {
                    continue;
                }
                let severity = if provider.contains("token.actions.githubusercontent.com") {
                    Severity::Critical
                } else {
                    Severity::High
                };
                found.push(Opening {
                    statement: statement.index,
                    severity,
                    reason: format!(
                        "trusts web identity provider `{provider}` without a `sub` condition"
                    ),
                });
            }
        }
    }
    // Statement order, as the document reads; within a statement, AWS principals first.
    found.sort_by_key(|o| o.statement);
    found
}

/// Flags trust policies that let outside principals assume a role.
#[derive(Debug, Default)]
pub struct TrustPolicyOpened;

impl CloudTrailRule for TrustPolicyOpened {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        // Refused because the outside principal does not exist: nothing opened, a probe (CT065).
        if names_missing_principal(record) {
            return;
        }
        let params = record.request_parameters();
        let creating = record.event_name == "CreateRole";
        let key = if creating {
            "assumeRolePolicyDocument"
        } else {
            "policyDocument"
        };
        let Some(raw_text) = policy_text(params.as_ref(), key) else {
            return;
        };
        let text = trailguard_policy::decode_policy_text(&raw_text).into_owned();
        let Ok(doc) = PolicyDocument::parse(&text) else {
            return;
        };
        let found = openings(&doc, record.account_id());
        let Some(severity) = found.iter().map(|o| o.severity).max() else {
            return;
        };
        let role =
            request_field(params.as_ref(), "roleName").unwrap_or_else(|| "unknown".to_owned());
        let mut finding = finding_for(&META, record, severity);
        let who = describe_caller(&EventContext::from_record(record));
        let reasons = found
            .iter()
            .map(|o| o.reason.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        let verb = match (creating, call_failed(record)) {
            (true, false) => "created role",
            (true, true) => "tried to create role",
            (false, false) => "changed the trust policy of role",
            (false, true) => "tried to change the trust policy of role",
        };
        finding.message = format!("{who} {verb} `{role}` so that it {reasons}.");
        finding.resource = Some(identity_resource(
            IdentityKind::Role,
            record.account_id(),
            &role,
        ));
        let mut dropped: Vec<usize> = found.iter().map(|o| o.statement).collect();
        dropped.dedup();
        finding.evidence = doc
            .statements
            .iter()
            .filter(|s| dropped.contains(&s.index))
            .map(|s| -> Evidence {
                evidence(
                    format!("requestParameters.{key}.{}", s.path()),
                    s.to_json(&text),
                )
            })
            .collect();
        let r = sh(&role).into_owned();
        if call_failed(record) {
            finding.fix.summary =
                "Nothing changed; find out why this principal tried to open the role.".to_owned();
        } else if creating {
            finding.fix.summary =
                format!("Delete role `{role}` unless the outside trust is approved.");
            finding.fix.commands = vec![
                format!("aws iam list-attached-role-policies --role-name {r}"),
                format!("aws iam list-role-policies --role-name {r}"),
                format!("aws iam detach-role-policy --role-name {r} --policy-arn POLICY_ARN  # for each attached policy"),
                format!("aws iam delete-role --role-name {r}"),
            ];
            finding.fix.actions.push(FixAction::Manual {
                description: format!("Delete role `{role}` or remove its outside trust."),
            });
        } else {
            finding.fix.summary =
                format!("Remove the outside principal from the trust policy of `{role}`.");
            finding.fix.commands = vec![format!(
                "aws iam get-role --role-name {r} --query Role.AssumeRolePolicyDocument"
            )];
            match without_statements(&text, &doc, &dropped) {
                Some(trimmed) => finding.fix.commands.push(format!(
                    "aws iam update-assume-role-policy --role-name {r} --policy-document {}",
                    sh(&trimmed)
                )),
                None => finding.fix.commands.push(format!(
                    "aws iam update-assume-role-policy --role-name {r} --policy-document file://previous-trust-policy.json"
                )),
            }
            finding.fix.actions.push(FixAction::Manual {
                description: format!("Remove the outside trust from role `{role}`."),
            });
        }
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent};

    fn update(doc: &str) -> TestEvent {
        TestEvent::iam("UpdateAssumeRolePolicy").request(&format!(
            r#"{{"policyDocument":{},"roleName":"app-role"}}"#,
            serde_json::Value::from(doc)
        ))
    }

    const EXTERNAL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"},{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::193672423079:root"},"Action":"sts:AssumeRole"}]}"#;

    #[test]
    fn an_external_account_is_high_and_the_fix_drops_only_its_statement() {
        let f = &check(&TrustPolicyOpened, &update(EXTERNAL))[0];
        assert_eq!(f.severity, Severity::High);
        assert!(f.message.contains("193672423079"), "{}", f.message);
        assert_eq!(f.evidence.len(), 1);
        assert_eq!(
            f.evidence[0].path,
            "requestParameters.policyDocument.Statement[1]"
        );
        let fix = &f.fix.commands[1];
        assert!(
            fix.contains("ec2.amazonaws.com") && !fix.contains("193672423079"),
            "{fix}"
        );
    }

    #[test]
    fn everyone_and_github_without_sub_are_critical() {
        let star = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#;
        assert_eq!(
            check(&TrustPolicyOpened, &update(star))[0].severity,
            Severity::Critical
        );
        let gh = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::229654561268:oidc-provider/token.actions.githubusercontent.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"}}}]}"#;
        assert_eq!(
            check(&TrustPolicyOpened, &update(gh))[0].severity,
            Severity::Critical
        );
        let gh_sub = gh.replace(
            r#""token.actions.githubusercontent.com:aud":"sts.amazonaws.com""#,
            r#""token.actions.githubusercontent.com:aud":"sts.amazonaws.com","token.actions.githubusercontent.com:sub":"repo:acme/app:ref:refs/heads/main""#,
        );
        assert!(check(&TrustPolicyOpened, &update(&gh_sub)).is_empty());
    }

    #[test]
    fn same_account_services_and_external_id_vendors() {
        let own = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::229654561268:role/ci"},"Action":"sts:AssumeRole"},{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        assert!(check(&TrustPolicyOpened, &update(own)).is_empty());
        let vendor = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"464622532012"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"abc"}}}]}"#;
        assert_eq!(
            check(&TrustPolicyOpened, &update(vendor))[0].severity,
            Severity::Medium
        );
    }

    #[test]
    fn create_role_with_url_encoded_document_and_denied_update() {
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22AWS%22%3A%22arn%3Aaws%3Aiam%3A%3A193672423079%3Aroot%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D";
        let e = TestEvent::iam("CreateRole").request(&format!(
            r#"{{"assumeRolePolicyDocument":"{encoded}","roleName":"backdoor"}}"#
        ));
        let f = &check(&TrustPolicyOpened, &e)[0];
        assert!(f
            .fix
            .commands
            .last()
            .unwrap()
            .ends_with("delete-role --role-name backdoor"));
        let denied = &check(&TrustPolicyOpened, &update(EXTERNAL).denied())[0];
        assert_eq!(denied.severity, Severity::Medium);
        assert!(denied.fix.commands.is_empty());
    }
}
