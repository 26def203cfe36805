//! CT026 identity-provider-changed: SAML and OpenID Connect identity providers created, re-keyed, given new
//! audiences or deleted: the trust that lets outside tokens become role sessions.

use trailguard_event::Record;

use super::common::{
    call_failed, describe_caller, evidence, finding_for, request_field, service_linked_session, sh,
};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{CloudTrailRule, EventContext, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT026",
    name: "identity-provider-changed",
    title: "Federation identity provider changed",
    family: Family::Cloudtrail,
    severity: Severity::High,
    attack: &["T1484.002", "T1606.002", "T1098"],
    compliance: &[],
    events: &[
        ("iam.amazonaws.com", "CreateSAMLProvider"),
        ("iam.amazonaws.com", "UpdateSAMLProvider"),
        ("iam.amazonaws.com", "DeleteSAMLProvider"),
        ("iam.amazonaws.com", "CreateOpenIDConnectProvider"),
        ("iam.amazonaws.com", "UpdateOpenIDConnectProviderThumbprint"),
        ("iam.amazonaws.com", "AddClientIDToOpenIDConnectProvider"),
        ("iam.amazonaws.com", "RemoveClientIDFromOpenIDConnectProvider"),
        ("iam.amazonaws.com", "DeleteOpenIDConnectProvider"),
    ],
    kb_entries: &[
        "CreateSAMLProvider",
        "UpdateSAMLProvider",
        "CreateOpenIDConnectProvider",
        "UpdateOpenIDConnectProviderThumbprint",
        "AddClientIDToOpenIDConnectProvider",
    ],
    doc: RuleDoc {
        what: "Changes to the identity providers IAM trusts. **high**: a SAML provider created or its metadata \
               (signing certificate) replaced (`CreateSAMLProvider`, `UpdateSAMLProvider`); an OIDC provider \
               created, its certificate thumbprints replaced, or a client id (audience) added \
               (`CreateOpenIDConnectProvider`, `UpdateOpenIDConnectProviderThumbprint`, \
               `AddClientIDToOpenIDConnectProvider`). **medium**: a provider deleted (federated sign-in breaks; \
               also a way to cover tracks). **low**: a client id removed. **info**: any of these made by AWS \
               through a service-linked role's session (IAM Identity Center keeps its `AWSSSO_…` provider in \
               each account so); a call CloudFormation relays for a stack is the stack caller's change. \
               The provider, its URL, client ids and thumbprints are in the evidence.",
        why: "Whoever controls a trusted identity provider can mint tokens that become sessions of every role \
              trusting it, without any IAM user or key: a persistence path that survives key rotation and user \
              clean-up (ATT&CK T1484.002, the \"Golden SAML\" family T1606.002). A new audience on an existing \
              OIDC provider lets tokens issued to another application (or another GitHub repository) in.",
        example: "`aws iam create-open-id-connect-provider --url https://token.actions.githubusercontent.com \
                  --client-id-list sts.amazonaws.com --thumbprint-list 6938fd4d98bab03faadb97b34396831e3780aea1` by \
                  an unexpected principal.",
        fix: "Confirm the change with the identity team. If unknown, delete the provider (or restore its previous \
              metadata or thumbprints), then list the roles whose trust policy names it \
              (`Federated: arn:aws:iam::ACCOUNT:saml-provider/NAME` or `oidc-provider/HOST`) and the \
              `AssumeRoleWithSAML` / `AssumeRoleWithWebIdentity` calls made through it.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers.html",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_oidc.html",
            "https://attack.mitre.org/techniques/T1484/002/",
        ],
    },
};

/// Flags changes to SAML and OIDC identity providers.
#[derive(Debug, Default)]
pub struct IdentityProviderChanged;

impl CloudTrailRule for IdentityProviderChanged {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let params = record.request_parameters();
        let response = record.response_elements();
        let name = record.event_name.as_ref();
        let saml = name.contains("SAML");
        let severity = match name {
            // Identity Center keeps its own SAML provider in each account through its service-linked role.
            // A call CloudFormation relays is still the stack's caller's change, and judged as one.
            _ if service_linked_session(record) => Severity::Info,
            "DeleteSAMLProvider" | "DeleteOpenIDConnectProvider" => Severity::Medium,
            "RemoveClientIDFromOpenIDConnectProvider" => Severity::Low,
            _ => META.severity,
        };
        // The provider: its ARN when the call names one, else what the create call was given or returned.
        let provider = ["sAMLProviderArn", "openIDConnectProviderArn"]
            .iter()
            .find_map(|k| request_field(params.as_ref(), k))
            .or_else(|| {
                ["sAMLProviderArn", "openIDConnectProviderArn"]
                    .iter()
                    .find_map(|k| request_field(response.as_ref(), k))
            })
            .or_else(|| request_field(params.as_ref(), "name"))
            .or_else(|| request_field(params.as_ref(), "url"))
            .unwrap_or_else(|| "unknown".to_owned());
        let mut finding = finding_for(&META, record, severity);
        let who = describe_caller(&EventContext::from_record(record));
        let kind = if saml { "SAML" } else { "OIDC" };
        let what = match name {
            "CreateSAMLProvider" | "CreateOpenIDConnectProvider" => "create",
            "UpdateSAMLProvider" => "replace the metadata (signing certificate) of",
            "UpdateOpenIDConnectProviderThumbprint" => "replace the certificate thumbprints of",
            "AddClientIDToOpenIDConnectProvider" => "add a client id (audience) to",
            "RemoveClientIDFromOpenIDConnectProvider" => "remove a client id from",
            _ => "delete",
        };
        let failed = call_failed(record);
        finding.message = if failed {
            format!("{who} tried to {what} {kind} identity provider `{provider}`; the call failed.")
        } else {
            let mut m = format!("{who} did {what} {kind} identity provider `{provider}`.")
                .replacen("did create", "created", 1)
                .replacen("did delete", "deleted", 1)
                .replacen("did replace", "replaced", 1)
                .replacen("did add", "added", 1)
                .replacen("did remove", "removed", 1);
            if severity == Severity::High {
                m.push_str(
                    " Tokens this provider signs can become sessions of every role that trusts it.",
                );
            }
            m
        };
        finding.resource = Some(Resource {
            kind: "AwsIamIdentityProvider".to_owned(),
            id: provider.clone(),
            name: request_field(params.as_ref(), "name"),
        });
        for key in ["url", "clientID", "clientIDList", "thumbprintList", "name"] {
            if let Some(value) = params.as_ref().and_then(|p| p.get(key)) {
                finding
                    .evidence
                    .push(evidence(format!("requestParameters.{key}"), value.clone()));
            }
        }
        if failed {
            finding.fix.summary =
                "Nothing changed; find out why this principal tried to.".to_owned();
        } else {
            finding.fix.summary = format!(
                "Confirm the change with the identity team; if unknown, remove or restore {kind} provider \
                 `{provider}` and review the roles that trust it."
            );
            if provider.starts_with("arn:") {
                let arn = sh(&provider);
                finding.fix.commands = vec![if saml {
                    format!("aws iam get-saml-provider --saml-provider-arn {arn}")
                } else {
                    format!(
                        "aws iam get-open-id-connect-provider --open-id-connect-provider-arn {arn}"
                    )
                }];
            } else {
                finding.fix.commands = vec![if saml {
                    "aws iam list-saml-providers".to_owned()
                } else {
                    "aws iam list-open-id-connect-providers".to_owned()
                }];
            }
            finding.fix.actions.push(FixAction::Manual {
                description: format!(
                    "Confirm the {kind} identity provider change `{provider}` with its owner."
                ),
            });
        }
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent};

    #[test]
    fn new_providers_and_new_trust_material_are_high() {
        let oidc = TestEvent::iam("CreateOpenIDConnectProvider")
            .request(r#"{"url":"https://token.actions.githubusercontent.com","clientIDList":["sts.amazonaws.com"],"thumbprintList":["6938fd4d98bab03faadb97b34396831e3780aea1"]}"#)
            .response(r#"{"openIDConnectProviderArn":"arn:aws:iam::229654561268:oidc-provider/token.actions.githubusercontent.com"}"#);
        let f = &check(&IdentityProviderChanged, &oidc)[0];
        assert_eq!(f.severity, Severity::High);
        assert!(f.message.contains("created OIDC identity provider `arn:aws:iam::229654561268:oidc-provider/token.actions.githubusercontent.com`"), "{}", f.message);
        assert!(f
            .evidence
            .iter()
            .any(|e| e.path == "requestParameters.thumbprintList"));
        let audience = TestEvent::iam("AddClientIDToOpenIDConnectProvider").request(
            r#"{"openIDConnectProviderArn":"arn:aws:iam::229654561268:oidc-provider/token.actions.githubusercontent.com","clientID":"attacker-app"}"#,
        );
        assert_eq!(
            check(&IdentityProviderChanged, &audience)[0].severity,
            Severity::High
        );
        let saml = TestEvent::iam("UpdateSAMLProvider").request(
            r#"{"sAMLMetadataDocument":"<EntityDescriptor/>","sAMLProviderArn":"arn:aws:iam::229654561268:saml-provider/okta"}"#,
        );
        let f = &check(&IdentityProviderChanged, &saml)[0];
        assert!(f.message.contains("replaced the metadata"), "{}", f.message);
    }

    #[test]
    fn removals_rank_lower_and_failures_are_attempts() {
        let delete = TestEvent::iam("DeleteSAMLProvider")
            .request(r#"{"sAMLProviderArn":"arn:aws:iam::229654561268:saml-provider/okta"}"#);
        assert_eq!(
            check(&IdentityProviderChanged, &delete)[0].severity,
            Severity::Medium
        );
        let remove = TestEvent::iam("RemoveClientIDFromOpenIDConnectProvider").request(
            r#"{"openIDConnectProviderArn":"arn:aws:iam::229654561268:oidc-provider/example.com","clientID":"old"}"#,
        );
        assert_eq!(
            check(&IdentityProviderChanged, &remove)[0].severity,
            Severity::Low
        );
        let denied = TestEvent::iam("CreateSAMLProvider")
            .request(r#"{"name":"okta","sAMLMetadataDocument":"<EntityDescriptor/>"}"#)
            .denied();
        let f = &check(&IdentityProviderChanged, &denied)[0];
        assert_eq!(f.severity, Severity::Medium);
        assert!(f.fix.actions.is_empty());
    }
}
