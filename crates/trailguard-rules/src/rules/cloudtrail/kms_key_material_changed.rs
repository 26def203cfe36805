//! CT081 kms-key-material-changed: who holds a KMS key's material, changed: material imported from
//! outside AWS or deleted, and external or CloudHSM key stores created, repointed or disconnected.

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use serde_json::Value;
use trailguard_event::Record;

use super::common::{
    event_in, made_by_aws, member_str_either_case, push_judged, regional_arn, Judged,
};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{CloudTrailRule, Report, ANY_EVENT};

pub const META: RuleMeta = RuleMeta {
    code: "CT081",
    name: "kms-key-material-changed",
    title: "KMS key material or key store changed",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1485", "T1486", "T1552"],
    compliance: &["KMS.3"],
    events: &[ANY_EVENT],
    kb_entries: &[],
    doc: RuleDoc {
        what: "**high**: imported key material deleted (`DeleteImportedKeyMaterial`: the key stops working at \
               once, with no waiting period, until someone holding the material imports it again); key \
               material imported that expires within a day of the import (`ImportKeyMaterial` with \
               `expirationModel` `KEY_MATERIAL_EXPIRES` and a near `validTo`: the same, on a timer); an \
               external key store pointed at another proxy (`UpdateCustomKeyStore` changing the proxy's \
               URI endpoint, path, VPC endpoint service or connectivity: every key in the store now asks \
               that proxy to encrypt and decrypt). **medium**: key material imported \
               (`ImportKeyMaterial`: whoever kept a copy of the material can use the key outside AWS); an \
               external key store created (`CreateCustomKeyStore` of type `EXTERNAL_KEY_STORE`: its keys \
               live outside AWS, with whoever runs the proxy); an external store's proxy credential changed; \
               a key store disconnected (`DisconnectCustomKeyStore`: none of its keys work until it is \
               connected again). **low**: a CloudHSM key store created, any other key store change, a key \
               store connected. A refused call is an attempt, one step lower; a refused call that would be \
               low is not reported. Calls AWS makes are left out.",
        why: "Keys whose material AWS generated and keeps cannot be copied out or deleted without a waiting \
              period; imported material and external key stores change both. An intruder who imports \
              material they keep, or points an external key store at a proxy they run, can decrypt the \
              data outside AWS (T1552) or switch it off when they please; one who deletes imported material \
              or lets it expire holds every object encrypted under the key to ransom at once (T1486, \
              T1485), faster than `ScheduleKeyDeletion` (CT041), which waits at least seven days. Teams use \
              imported material and key stores rarely and on purpose.",
        example: "A role session calls `aws kms import-key-material --key-id \
                  1234abcd-12ab-34cd-56ef-1234567890ab --encrypted-key-material fileb://material.bin \
                  --import-token fileb://token.bin --expiration-model KEY_MATERIAL_EXPIRES --valid-to \
                  2025-05-21T05:47:45Z`: the key works for five minutes.",
        fix: "Confirm the change with the key's owners. Imported material deleted or expiring: import the same \
              material again from the owners' escrow (`aws kms import-key-material`), or the data it \
              protects is lost. A key store changed: point it back at the owners' proxy and rotate its \
              credential. Limit `kms:ImportKeyMaterial`, `kms:DeleteImportedKeyMaterial` and the custom key \
              store calls to key administrators in key policies and SCPs.",
        references: &[
            "https://docs.aws.amazon.com/kms/latest/developerguide/importing-keys.html",
            "https://docs.aws.amazon.com/kms/latest/developerguide/keystore-external.html",
            "https://docs.aws.amazon.com/kms/latest/developerguide/ct-importkeymaterial.html",
            "https://attack.mitre.org/techniques/T1486/",
        ],
    },
};

/// The calls judged; how much they matter depends on their parameters.
const WATCHED: &[(&str, &str)] = &[
    ("kms.amazonaws.com", "ImportKeyMaterial"),
    ("kms.amazonaws.com", "DeleteImportedKeyMaterial"),
    ("kms.amazonaws.com", "CreateCustomKeyStore"),
    ("kms.amazonaws.com", "UpdateCustomKeyStore"),
    ("kms.amazonaws.com", "ConnectCustomKeyStore"),
    ("kms.amazonaws.com", "DisconnectCustomKeyStore"),
];

/// Imported material that expires within this long of its import is a timer, not a rotation schedule.
const SHORT_VALIDITY: TimeDelta = TimeDelta::hours(24);

/// The `UpdateCustomKeyStore` members that send an external key store's requests somewhere else.
const PROXY_TARGET: &[&str] = &[
    "xksProxyUriEndpoint",
    "xksProxyUriPath",
    "xksProxyVpcEndpointServiceName",
    "xksProxyConnectivity",
];

/// `validTo` as CloudTrail writes it (`May 21, 2025, 5:47:45 AM`, UTC) or as the API takes it (RFC 3339).
fn valid_to(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(text, "%b %d, %Y, %I:%M:%S %p")
        .ok()
        .map(|at| at.and_utc())
}

/// How much the call matters to the key or key store `resource` (named `subject`), and what it did.
fn key_change(
    record: &Record<'_>,
    params: Option<&Value>,
    subject: &str,
    resource: Resource,
) -> Option<Judged> {
    let field = |camel: &str| member_str_either_case(params, camel);
    let says = |camel: &str| field(camel).is_some();
    let (severity, done, tried) = match record.event_name.as_ref() {
        "DeleteImportedKeyMaterial" => (
            Severity::High,
            format!("deleted the imported key material of KMS key `{subject}`: the key is unusable until it is imported again"),
            format!("delete the imported key material of KMS key `{subject}`"),
        ),
        "ImportKeyMaterial" => {
            let expires = field("expirationModel").as_deref() == Some("KEY_MATERIAL_EXPIRES");
            let until = field("validTo").as_deref().and_then(valid_to);
            let imported = trailguard_event::parse_event_time(&record.event_time);
            let soon = match (expires, until, imported) {
                (true, Some(until), Some(imported)) => until - imported <= SHORT_VALIDITY,
                _ => false,
            };
            if soon {
                let when = field("validTo").unwrap_or_default();
                (
                    Severity::High,
                    format!("imported key material into KMS key `{subject}` that expires at {when}, when the key stops working"),
                    format!("import key material expiring at {when} into KMS key `{subject}`"),
                )
            } else {
                (
                    Severity::Medium,
                    format!("imported key material from outside AWS into KMS key `{subject}`"),
                    format!("import key material into KMS key `{subject}`"),
                )
            }
        }
        "CreateCustomKeyStore" => {
            let external = field("customKeyStoreType").as_deref() == Some("EXTERNAL_KEY_STORE");
            let store = if external {
                let proxy = field("xksProxyUriEndpoint")
                    .or_else(|| field("xksProxyVpcEndpointServiceName"))
                    .unwrap_or_else(|| "an unnamed proxy".to_owned());
                format!("external key store `{subject}` (proxy {proxy})")
            } else {
                format!("CloudHSM key store `{subject}`")
            };
            let severity = if external { Severity::Medium } else { Severity::Low };
            (severity, format!("created {store}"), format!("create {store}"))
        }
        "UpdateCustomKeyStore" => {
            let repointed: Vec<&str> = PROXY_TARGET.iter().copied().filter(|m| says(m)).collect();
            if !repointed.is_empty() {
                let to = field("xksProxyUriEndpoint")
                    .or_else(|| field("xksProxyVpcEndpointServiceName"))
                    .map(|p| format!(" (now {p})"))
                    .unwrap_or_default();
                (
                    Severity::High,
                    format!("pointed external key store `{subject}` at another proxy{to}, changing {}", repointed.join(", ")),
                    format!("point external key store `{subject}` at another proxy{to}"),
                )
            } else if says("xksProxyAuthenticationCredential") {
                (
                    Severity::Medium,
                    format!("changed the proxy credential of external key store `{subject}`"),
                    format!("change the proxy credential of external key store `{subject}`"),
                )
            } else {
                (
                    Severity::Low,
                    format!("changed key store `{subject}`"),
                    format!("change key store `{subject}`"),
                )
            }
        }
        "DisconnectCustomKeyStore" => (
            Severity::Medium,
            format!("disconnected key store `{subject}`: none of its keys work until it is connected again"),
            format!("disconnect key store `{subject}`"),
        ),
        "ConnectCustomKeyStore" => (
            Severity::Low,
            format!("connected key store `{subject}`"),
            format!("connect key store `{subject}`"),
        ),
        _ => return None,
    };
    Some(Judged {
        severity,
        done,
        tried,
        resource,
        undo: None,
    })
}

/// Flags imported key material and custom key stores changed.
#[derive(Debug, Default)]
pub struct KmsKeyMaterialChanged;

impl CloudTrailRule for KmsKeyMaterialChanged {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn watched(&self) -> &'static [(&'static str, &'static str)] {
        WATCHED
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        if !event_in(record, WATCHED) || made_by_aws(record) {
            return;
        }
        let params = record.request_parameters();
        let store_call = record.event_name.contains("CustomKeyStore");
        let (subject, resource) = if store_call {
            // A new store's id is only in the response; its name is in the request.
            let id = member_str_either_case(params.as_ref(), "customKeyStoreId").or_else(|| {
                member_str_either_case(record.response_elements().as_ref(), "customKeyStoreId")
            });
            let name = member_str_either_case(params.as_ref(), "customKeyStoreName");
            let subject = name
                .clone()
                .or_else(|| id.clone())
                .unwrap_or_else(|| "(unnamed)".to_owned());
            let resource = Resource {
                kind: "AwsKmsCustomKeyStore".to_owned(),
                id: id.clone().unwrap_or_else(|| {
                    regional_arn(record, "kms", &format!("custom-key-store/{subject}"))
                }),
                name: Some(subject.clone()),
            };
            (subject, resource)
        } else {
            let key = member_str_either_case(params.as_ref(), "keyId")
                .unwrap_or_else(|| "(unnamed)".to_owned());
            let id = if key.starts_with("arn:") {
                key.clone()
            } else {
                regional_arn(record, "kms", &format!("key/{key}"))
            };
            let resource = Resource {
                kind: "AwsKmsKey".to_owned(),
                id,
                name: Some(key.clone()),
            };
            (key, resource)
        };
        let Some(change) = key_change(record, params.as_ref(), &subject, resource) else {
            return;
        };
        push_judged(
            &META,
            record,
            change,
            &[
                "keyId",
                "expirationModel",
                "validTo",
                "importType",
                "customKeyStoreId",
                "customKeyStoreName",
                "customKeyStoreType",
                "xksProxyUriEndpoint",
                "xksProxyUriPath",
                "xksProxyVpcEndpointServiceName",
                "xksProxyConnectivity",
                "cloudHsmClusterId",
            ],
            "Confirm the change with the key's owners; if it was not theirs, restore the material or \
             the key store's proxy and treat the caller's credentials as compromised.",
            out,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_to_reads_cloudtrail_s_and_the_api_s_spelling() {
        let expected = DateTime::parse_from_rfc3339("2025-05-21T05:47:45Z").unwrap();
        assert_eq!(valid_to("May 21, 2025, 5:47:45 AM"), Some(expected.into()));
        assert_eq!(valid_to("2025-05-21T05:47:45Z"), Some(expected.into()));
        let evening = DateTime::parse_from_rfc3339("2025-05-21T17:47:45Z").unwrap();
        assert_eq!(valid_to("May 21, 2025, 5:47:45 PM"), Some(evening.into()));
        assert_eq!(valid_to("next Tuesday"), None);
    }
}
