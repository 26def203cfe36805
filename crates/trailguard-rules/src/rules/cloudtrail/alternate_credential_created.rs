//! CT058 alternate-credential-created: an IAM user given a credential that is not an access key or a
//! password (an SSH public key, a service-specific credential such as a Bedrock API key or CodeCommit
//! password, an X.509 signing certificate), or a service-specific password reset: high for another
//! user, low (medium for a Bedrock API key) for the caller's own.

use serde_json::Value;
use trailguard_event::Record;

use super::common::{
    call_failed, caller_iam_user, describe_caller, evidence, finding_for, finding_id,
    names_the_caller, request_field, session_named_like, sh, user_resource,
};
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{CloudTrailRule, EventContext, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT058",
    name: "alternate-credential-created",
    title: "SSH key, service credential or signing certificate created for a user",
    family: Family::Cloudtrail,
    severity: Severity::High,
    attack: &["T1098.001", "T1098.004"],
    compliance: &[],
    events: &[
        ("iam.amazonaws.com", "UploadSSHPublicKey"),
        ("iam.amazonaws.com", "CreateServiceSpecificCredential"),
        ("iam.amazonaws.com", "ResetServiceSpecificCredential"),
        ("iam.amazonaws.com", "UploadSigningCertificate"),
    ],
    kb_entries: &[
        "UploadSSHPublicKey",
        "CreateServiceSpecificCredential",
        "ResetServiceSpecificCredential",
        "UploadSigningCertificate",
    ],
    doc: RuleDoc {
        what: "An IAM user given a long-lived credential other than an access key or a console password: an \
               SSH public key (`UploadSSHPublicKey`, CodeCommit over SSH), a service-specific credential \
               (`CreateServiceSpecificCredential`: CodeCommit Git password, Amazon Keyspaces password, Bedrock \
               API key), a new password for one (`ResetServiceSpecificCredential`, returned to the caller), or \
               an X.509 signing certificate (`UploadSigningCertificate`). **high** when the user is not the \
               caller (another IAM user, or any user named by a role session, federated user or the root \
               user); **low** when a user makes one for itself, **medium** when that is a long-term Bedrock \
               API key. A role session of IAM Identity Center whose session name is the target user's name is \
               the same person managing their own IAM user: **low**, and the evidence says so. A refused call \
               for another user is an attempt, one step lower; a refused call for oneself is not reported.",
        why: "These credentials are backdoors that access-key reviews miss: they are not listed by \
              `list-access-keys`, survive the rotation or deletion of the keys an attacker came in with, and \
              work from anywhere (ATT&CK T1098.001 Additional Cloud Credentials; T1098.004 SSH Authorized \
              Keys). A Bedrock API key lets its holder call paid models on the account's bill, the payoff \
              of \"LLMjacking\" campaigns with stolen keys. Made for another user, the caller also acts \
              under that user's name.",
        example: "Role session `ops/ci-runner` calls `aws iam create-service-specific-credential --user-name \
                  admin-legacy --service-name bedrock.amazonaws.com`.",
        fix: "If the credential was not requested by its user, deactivate it at once, then delete it and find \
              out how the caller got the permission. Limit `iam:UploadSSHPublicKey`, \
              `iam:CreateServiceSpecificCredential`, `iam:ResetServiceSpecificCredential` and \
              `iam:UploadSigningCertificate` to `${aws:username}` so users manage only their own.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_ssh-keys.html",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_service-specific-creds.html",
            "https://docs.aws.amazon.com/IAM/latest/APIReference/API_UploadSigningCertificate.html",
            "https://attack.mitre.org/techniques/T1098/001/",
        ],
    },
};

/// One kind of credential: how a message names it, where the record keeps its id, and the CLI that
/// deactivates it.
struct Kind {
    /// "an SSH public key", for "created ... for user X".
    noun: &'static str,
    /// `responseElements` pointer to the new credential's id (for a reset: the request's).
    id_pointer: &'static str,
    /// `requestParameters` member naming the credential, when the request does.
    id_param: Option<&'static str>,
    /// `aws iam` subcommand and id flag that deactivate it.
    deactivate: (&'static str, &'static str),
}

fn kind_of(event_name: &str) -> Option<Kind> {
    Some(match event_name {
        "UploadSSHPublicKey" => Kind {
            noun: "an SSH public key",
            id_pointer: "/sSHPublicKey/sSHPublicKeyId",
            id_param: None,
            deactivate: ("update-ssh-public-key", "--ssh-public-key-id"),
        },
        "CreateServiceSpecificCredential" => Kind {
            noun: "a service-specific credential",
            id_pointer: "/serviceSpecificCredential/serviceSpecificCredentialId",
            id_param: None,
            deactivate: (
                "update-service-specific-credential",
                "--service-specific-credential-id",
            ),
        },
        "ResetServiceSpecificCredential" => Kind {
            noun: "a new password for a service-specific credential",
            id_pointer: "/serviceSpecificCredential/serviceSpecificCredentialId",
            id_param: Some("serviceSpecificCredentialId"),
            deactivate: (
                "update-service-specific-credential",
                "--service-specific-credential-id",
            ),
        },
        "UploadSigningCertificate" => Kind {
            noun: "an X.509 signing certificate",
            id_pointer: "/certificate/certificateId",
            id_param: None,
            deactivate: ("update-signing-certificate", "--certificate-id"),
        },
        _ => return None,
    })
}

/// The service a service-specific credential is for, from the request or the response.
fn service_name(params: Option<&Value>, response: Option<&Value>) -> Option<String> {
    request_field(params, "serviceName").or_else(|| {
        response?
            .pointer("/serviceSpecificCredential/serviceName")?
            .as_str()
            .map(str::to_owned)
    })
}

/// Flags credentials other than keys and passwords made for a user.
#[derive(Debug, Default)]
pub struct AlternateCredentialCreated;

impl CloudTrailRule for AlternateCredentialCreated {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let Some(kind) = kind_of(&record.event_name) else {
            return;
        };
        let params = record.request_parameters();
        let own_user = caller_iam_user(record);
        // Without `userName` the credential is the caller's own: an IAM user's, or the root user's
        // signing certificate, which CT014 reports with every root call.
        let Some(target) =
            request_field(params.as_ref(), "userName").or_else(|| own_user.map(str::to_owned))
        else {
            return;
        };
        let failed = call_failed(record);
        let own = names_the_caller(record, &target);
        // The root user's own credential, named by its placeholder: CT014 reports every root call.
        if own && own_user.is_none() {
            return;
        }
        let same_name_session = session_named_like(record, &target);
        let same_person = own || same_name_session.is_some_and(|s| s.identity_center);
        if same_person && failed {
            return;
        }
        let response = record.response_elements();
        let service = service_name(params.as_ref(), response.as_ref());
        let bedrock_key = record.event_name == "CreateServiceSpecificCredential"
            && service.as_deref() == Some("bedrock.amazonaws.com");
        let severity = match (same_person, bedrock_key) {
            (false, _) => META.severity,
            (true, true) => Severity::Medium,
            (true, false) => Severity::Low,
        };
        let credential_id = response
            .as_ref()
            .and_then(|r| r.pointer(kind.id_pointer)?.as_str().map(str::to_owned))
            .or_else(|| {
                kind.id_param
                    .and_then(|p| request_field(params.as_ref(), p))
            });

        let mut finding = finding_for(&META, record, severity);
        finding.id = finding_id(&META, record, &[&target]);
        let who = describe_caller(&EventContext::from_record(record));
        let whose = if own {
            "itself".to_owned()
        } else {
            format!("user `{target}`")
        };
        let for_service = service
            .as_deref()
            .map(|s| format!(" for {s}"))
            .unwrap_or_default();
        let id = credential_id
            .as_deref()
            .map(|id| format!(" ({id})"))
            .unwrap_or_default();
        finding.message = if failed {
            format!(
                "{who} tried to create {}{for_service} for {whose}; the call failed.",
                kind.noun
            )
        } else {
            format!("{who} created {}{for_service}{id} for {whose}.", kind.noun)
        };
        if bedrock_key && !failed {
            finding.message.push_str(
                " A long-term Bedrock API key calls paid models from anywhere until it is deactivated.",
            );
        }
        if let Some(session) = same_name_session {
            finding.message.push_str(&session.same_name_note());
        }
        finding.resource = Some(user_resource(record.account_id(), &target));
        finding
            .evidence
            .push(evidence("requestParameters.userName", target.as_str()));
        finding
            .evidence
            .push(evidence("forOtherUser", !same_person));
        if let Some(service) = &service {
            finding
                .evidence
                .push(evidence("serviceName", service.as_str()));
        }
        if let Some(id) = &credential_id {
            finding.evidence.push(evidence("credentialId", id.as_str()));
        }
        if let Some(fingerprint) = response
            .as_ref()
            .and_then(|r| r.pointer("/sSHPublicKey/fingerprint")?.as_str())
        {
            finding.evidence.push(evidence(
                "responseElements.sSHPublicKey.fingerprint",
                fingerprint,
            ));
        }
        if let Some(session) = same_name_session {
            finding.evidence.push(session.same_name_evidence());
        }
        if failed {
            finding.fix.summary =
                "Nothing was created; find out why this principal tried to.".to_owned();
        } else {
            let (subcommand, id_flag) = kind.deactivate;
            let id = credential_id.as_deref().unwrap_or("CREDENTIAL_ID");
            let deactivate = format!(
                "aws iam {subcommand} --user-name {} {id_flag} {} --status Inactive",
                sh(&target),
                sh(id)
            );
            finding.fix.summary = if same_person {
                format!("Confirm `{target}` asked for this credential and still needs it; deactivate it if not.")
            } else {
                format!(
                    "Deactivate the new credential of `{target}` unless its user asked for it, then find out \
                     how the caller could make it."
                )
            };
            finding.fix.commands = vec![deactivate.clone()];
            finding.fix.actions.push(FixAction::Manual {
                description: format!(
                    "Unless `{target}` asked for it, deactivate the credential: `{deactivate}`."
                ),
            });
        }
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent, ASSUMED_ROLE_MFA};

    fn service_credential(user: &str, service: &str) -> TestEvent {
        TestEvent::iam("CreateServiceSpecificCredential")
            .request(&format!(
                r#"{{"userName":"{user}","serviceName":"{service}"}}"#
            ))
            .response(&format!(
                r#"{{"serviceSpecificCredential":{{"createDate":"Mar 14, 2026 9:41:07 AM","serviceName":"{service}","serviceUserName":"{user}-at-229654561268","serviceSpecificCredentialId":"ACCAQRSTUVWXSVCCRED1","userName":"{user}","status":"Active"}}}}"#
            ))
    }

    #[test]
    fn a_credential_for_another_user_is_high_with_its_id_and_a_deactivation() {
        let f = &check(
            &AlternateCredentialCreated,
            &service_credential("admin-legacy", "codecommit.amazonaws.com"),
        )[0];
        assert_eq!(f.severity, Severity::High);
        assert!(f.message.contains("ACCAQRSTUVWXSVCCRED1"), "{}", f.message);
        assert!(f.message.contains("user `admin-legacy`"), "{}", f.message);
        assert_eq!(
            f.fix.commands,
            vec![
                "aws iam update-service-specific-credential --user-name admin-legacy \
                  --service-specific-credential-id ACCAQRSTUVWXSVCCRED1 --status Inactive"
            ]
        );
    }

    #[test]
    fn own_credentials_are_low_except_a_bedrock_key() {
        // `christophe` is the IAM user the test events are made by.
        let codecommit = service_credential("christophe", "codecommit.amazonaws.com");
        assert_eq!(
            check(&AlternateCredentialCreated, &codecommit)[0].severity,
            Severity::Low
        );
        let bedrock = service_credential("christophe", "bedrock.amazonaws.com");
        let f = &check(&AlternateCredentialCreated, &bedrock)[0];
        assert_eq!(f.severity, Severity::Medium);
        assert!(f.message.contains("paid models"), "{}", f.message);
        // A signing certificate without `userName` is the caller's own.
        let certificate = TestEvent::iam("UploadSigningCertificate").request(
            r#"{"certificateBody":"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"}"#,
        );
        let f = &check(&AlternateCredentialCreated, &certificate)[0];
        assert_eq!(f.severity, Severity::Low);
        assert!(f.message.contains("for itself"), "{}", f.message);
    }

    #[test]
    fn refusals_are_attempts_for_others_and_silent_for_oneself() {
        let others = service_credential("admin-legacy", "bedrock.amazonaws.com").denied();
        let f = &check(&AlternateCredentialCreated, &others)[0];
        assert_eq!(f.severity, Severity::Medium);
        assert!(f.title.starts_with("Attempted:"), "{}", f.title);
        assert!(f.fix.actions.is_empty());
        let own = service_credential("christophe", "bedrock.amazonaws.com").denied();
        assert!(check(&AlternateCredentialCreated, &own).is_empty());
    }

    #[test]
    fn a_role_session_is_judged_by_who_named_it() {
        // `ASSUMED_ROLE_MFA` is session `alice` of role `Admin`: a name its caller chose.
        let ssh = TestEvent::iam("UploadSSHPublicKey")
            .identity(ASSUMED_ROLE_MFA)
            .request(r#"{"userName":"alice","sSHPublicKeyBody":"ssh-ed25519 AAAA attacker@laptop"}"#)
            .response(r#"{"sSHPublicKey":{"userName":"alice","sSHPublicKeyId":"APKAQRSTUVWXSSHKEY01","fingerprint":"7e:3c:91","status":"Active","uploadDate":"Mar 14, 2026 9:41:07 AM"}}"#);
        let f = &check(&AlternateCredentialCreated, &ssh)[0];
        assert_eq!(f.severity, Severity::High);
        assert!(f.message.contains("whoever assumed"), "{}", f.message);
        let sso = ssh.identity(
            r#"{"type":"AssumedRole","principalId":"AROAEXAMPLE:alice","arn":"arn:aws:sts::229654561268:assumed-role/AWSReservedSSO_Developer_0123456789abcdef/alice","accountId":"229654561268","accessKeyId":"ASIAEXAMPLE","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAEXAMPLE","arn":"arn:aws:iam::229654561268:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Developer_0123456789abcdef","accountId":"229654561268","userName":"AWSReservedSSO_Developer_0123456789abcdef"},"attributes":{"creationDate":"2026-03-14T09:00:00Z","mfaAuthenticated":"false"}}}"#,
        );
        assert_eq!(
            check(&AlternateCredentialCreated, &sso)[0].severity,
            Severity::Low
        );
    }
}
