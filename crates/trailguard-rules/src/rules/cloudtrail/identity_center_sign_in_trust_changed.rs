//! CT076 identity-center-sign-in-trust-changed: what IAM Identity Center trusts to sign people in changed
//! (the external identity provider, its signing certificate, the directory, trusted token issuers, the SCIM
//! provisioning token), or one user's second factor or password was reset by an administrator.

use serde_json::Value;
use trailguard_event::Record;

use super::common::{
    call_failed, change_finding, event_in, request_field, worth_reporting, Change,
};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{CloudTrailRule, Report, ANY_EVENT};

pub const META: RuleMeta = RuleMeta {
    code: "CT076",
    name: "identity-center-sign-in-trust-changed",
    title: "IAM Identity Center sign-in trust changed",
    family: Family::Cloudtrail,
    severity: Severity::High,
    attack: &["T1556.007", "T1484.002", "T1098.005"],
    compliance: &[],
    events: &[ANY_EVENT],
    kb_entries: &[],
    doc: RuleDoc {
        what: "IAM Identity Center calls that change who it believes a person is. **high**: a SAML \
               signing certificate imported for the external identity provider \
               (`ImportExternalIdPCertificate`), the external provider configured, changed, enabled or \
               disabled (`Create`/`Update`/`Enable`/`DisableExternalIdPConfigurationForDirectory`), a directory \
               associated (`AssociateDirectory`), a trusted token issuer created or changed \
               (`Create`/`UpdateTrustedTokenIssuer`), and a SCIM provisioning token created \
               (`CreateBearerToken`). **medium**: the provider's certificate or configuration deleted, the \
               directory disassociated, who may manage MFA devices changed \
               (`PutMfaDeviceManagementForDirectory`), and one user's MFA device deleted or changed or password \
               set by an administrator (`DeleteMfaDeviceForUser`, `UpdateMfaDeviceForUser`, `UpdatePassword`). \
               The calls are read under both `sso.amazonaws.com` and `sso-directory.amazonaws.com`, the two \
               sources Identity Center's records use. A refused call is an attempt, one step lower.",
        why: "Identity Center signs people in to every account of the organization. Whoever controls the \
              SAML certificate or provider it trusts can mint a sign-in as any of its users, MFA included, \
              with no password stolen (ATT&CK T1556.007, Modify Authentication Process: Hybrid Identity; \
              T1484.002, Domain Trust Modification); a trusted token issuer does the same for applications. \
              A SCIM token lets its holder create users and put them in groups that hold permission sets. \
              Resetting one user's MFA device or password is the takeover of that user (T1098.005). Each \
              is set up once and changed rarely.",
        example: "A role session calls `ImportExternalIdPCertificate` on directory `d-9067a1b2c3`, then \
                  `UpdateExternalIdPConfigurationForDirectory`.",
        fix: "Confirm the change with the identity team. If it is unknown: restore the provider's metadata and \
              certificate from the identity provider, delete the unknown certificate, trusted token issuer or \
              SCIM token, reset the affected users' MFA devices in person, review the Identity Center \
              sign-ins (`Authenticate`, `Federate`) since, and treat the caller's credentials as compromised.",
        references: &[
            "https://docs.aws.amazon.com/singlesignon/latest/userguide/logging-using-cloudtrail.html",
            "https://docs.aws.amazon.com/singlesignon/latest/userguide/manage-your-identity-source-idp.html",
            "https://docs.aws.amazon.com/singlesignon/latest/userguide/using-trusted-token-issuer.html",
            "https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsiamidentitycenterdirectory.html",
        ],
    },
};

/// Each call, how severe, and what it did (past tense, then infinitive).
const CALLS: &[(&str, Severity, &str, &str)] = &[
    (
        "ImportExternalIdPCertificate",
        Severity::High,
        "imported a signing certificate for Identity Center's external identity provider",
        "import a signing certificate for Identity Center's external identity provider",
    ),
    (
        "CreateExternalIdPConfigurationForDirectory",
        Severity::High,
        "configured an external identity provider for Identity Center",
        "configure an external identity provider for Identity Center",
    ),
    (
        "UpdateExternalIdPConfigurationForDirectory",
        Severity::High,
        "changed Identity Center's external identity provider",
        "change Identity Center's external identity provider",
    ),
    (
        "EnableExternalIdPConfigurationForDirectory",
        Severity::High,
        "switched Identity Center's sign-in to an external identity provider",
        "switch Identity Center's sign-in to an external identity provider",
    ),
    (
        "DisableExternalIdPConfigurationForDirectory",
        Severity::High,
        "switched off Identity Center's external identity provider",
        "switch off Identity Center's external identity provider",
    ),
    (
        "AssociateDirectory",
        Severity::High,
        "connected a directory to Identity Center as its identity source",
        "connect a directory to Identity Center as its identity source",
    ),
    (
        "CreateTrustedTokenIssuer",
        Severity::High,
        "created an Identity Center trusted token issuer",
        "create an Identity Center trusted token issuer",
    ),
    (
        "UpdateTrustedTokenIssuer",
        Severity::High,
        "changed an Identity Center trusted token issuer",
        "change an Identity Center trusted token issuer",
    ),
    (
        "CreateBearerToken",
        Severity::High,
        "created a SCIM provisioning token for Identity Center",
        "create a SCIM provisioning token for Identity Center",
    ),
    (
        "DeleteExternalIdPCertificate",
        Severity::Medium,
        "deleted a signing certificate of Identity Center's external identity provider",
        "delete a signing certificate of Identity Center's external identity provider",
    ),
    (
        "DeleteExternalIdPConfigurationForDirectory",
        Severity::Medium,
        "deleted Identity Center's external identity provider configuration",
        "delete Identity Center's external identity provider configuration",
    ),
    (
        "DisassociateDirectory",
        Severity::Medium,
        "disconnected Identity Center's directory",
        "disconnect Identity Center's directory",
    ),
    (
        "PutMfaDeviceManagementForDirectory",
        Severity::Medium,
        "changed who may manage MFA devices in Identity Center",
        "change who may manage MFA devices in Identity Center",
    ),
    (
        "DeleteMfaDeviceForUser",
        Severity::Medium,
        "deleted an Identity Center user's MFA device",
        "delete an Identity Center user's MFA device",
    ),
    (
        "UpdateMfaDeviceForUser",
        Severity::Medium,
        "changed an Identity Center user's MFA device",
        "change an Identity Center user's MFA device",
    ),
    (
        "UpdatePassword",
        Severity::Medium,
        "set an Identity Center user's password",
        "set an Identity Center user's password",
    ),
];

const SOURCES: [&str; 2] = ["sso.amazonaws.com", "sso-directory.amazonaws.com"];

/// Every call of [`CALLS`] under both sources.
const WATCHED: &[(&str, &str)] = &{
    let mut watched = [("", ""); CALLS.len() * 2];
    let mut i = 0;
    while i < CALLS.len() {
        watched[2 * i] = (SOURCES[0], CALLS[i].0);
        watched[2 * i + 1] = (SOURCES[1], CALLS[i].0);
        i += 1;
    }
    watched
};

/// Request members that name what the call changed.
const EVIDENCE_KEYS: &[&str] = &[
    "directoryId",
    "instanceArn",
    "userId",
    "mfaDeviceId",
    "trustedTokenIssuerArn",
    "name",
    "trustedTokenIssuerType",
    "externalIdPConfigurationId",
    "certificateId",
];

/// Flags changes to what Identity Center trusts to sign people in.
#[derive(Debug, Default)]
pub struct IdentityCenterSignInTrustChanged;

/// The first of `keys` the request names as a string, unless that string is empty.
fn first_named(params: Option<&Value>, keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|key| request_field(params, key))
        .filter(|name| !name.is_empty())
}

impl CloudTrailRule for IdentityCenterSignInTrustChanged {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn watched(&self) -> &'static [(&'static str, &'static str)] {
        WATCHED
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        if !event_in(record, WATCHED) {
            return;
        }
        let Some(&(_, severity, done, tried)) =
            CALLS.iter().find(|(name, ..)| *name == record.event_name)
        else {
            return;
        };
        if !worth_reporting(call_failed(record), severity) {
            return;
        }
        let params = record.request_parameters();
        let (kind, id) = match first_named(params.as_ref(), &["userId"]) {
            Some(user) => ("AwsIdentityStoreUser", user),
            None => (
                "AwsSsoInstance",
                first_named(
                    params.as_ref(),
                    &["trustedTokenIssuerArn", "instanceArn", "directoryId"],
                )
                .unwrap_or_else(|| "identity-center".to_owned()),
            ),
        };
        let summary = if record.event_name.contains("Mfa") || record.event_name == "UpdatePassword"
        {
            "Confirm the reset with the user and the help desk; if unknown, reset the user's MFA device \
             and password in person and review the user's sign-ins since."
        } else {
            "Confirm the change with the identity team; if unknown, restore the identity source from the \
             identity provider, remove what was added, and review Identity Center sign-ins since."
        };
        let finding = change_finding(
            &META,
            record,
            severity,
            Change {
                done: done.to_owned(),
                tried: tried.to_owned(),
                resource: Resource {
                    kind: kind.to_owned(),
                    name: Some(id.clone()),
                    id,
                },
                evidence_keys: EVIDENCE_KEYS,
                summary: summary.to_owned(),
            },
        );
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent};

    #[test]
    fn every_call_is_watched_under_both_sources_and_judged() {
        for &(name, severity, ..) in CALLS {
            for source in SOURCES {
                let found = check(
                    &IdentityCenterSignInTrustChanged,
                    &TestEvent::new(source, name),
                );
                assert_eq!(found.len(), 1, "{source} {name}");
                assert_eq!(found[0].severity, severity, "{name}");
            }
        }
        // Reads and other directory writes are not this rule's.
        for (source, name) in [
            ("sso-directory.amazonaws.com", "ListExternalIdPCertificates"),
            ("sso-directory.amazonaws.com", "CreateUser"),
            ("sso.amazonaws.com", "DescribeTrustedTokenIssuer"),
            ("iam.amazonaws.com", "UpdateSAMLProvider"),
        ] {
            assert!(check(
                &IdentityCenterSignInTrustChanged,
                &TestEvent::new(source, name)
            )
            .is_empty());
        }
    }

    #[test]
    fn a_refused_call_is_one_step_lower() {
        let refused = TestEvent::new(
            "sso-directory.amazonaws.com",
            "ImportExternalIdPCertificate",
        )
        .denied();
        let found = check(&IdentityCenterSignInTrustChanged, &refused);
        assert_eq!(found[0].severity, Severity::Medium);
        assert!(
            found[0].message.contains("tried to import"),
            "{}",
            found[0].message
        );
    }
}
