//! CT027 roles-anywhere-trust-changed: IAM Roles Anywhere trust anchors and profiles created, changed or
//! enabled, letting holders of certificates from a chosen authority get role credentials.

use trailguard_event::Record;

use super::common::{
    call_failed, describe_caller, evidence, finding_for, region_arg, request_field,
};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{CloudTrailRule, EventContext, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT027",
    name: "roles-anywhere-trust-changed",
    title: "IAM Roles Anywhere trust changed",
    family: Family::Cloudtrail,
    severity: Severity::High,
    attack: &["T1098.003", "T1484.002"],
    compliance: &[],
    events: &[
        ("rolesanywhere.amazonaws.com", "CreateTrustAnchor"),
        ("rolesanywhere.amazonaws.com", "UpdateTrustAnchor"),
        ("rolesanywhere.amazonaws.com", "EnableTrustAnchor"),
        ("rolesanywhere.amazonaws.com", "CreateProfile"),
        ("rolesanywhere.amazonaws.com", "UpdateProfile"),
        ("rolesanywhere.amazonaws.com", "EnableProfile"),
    ],
    kb_entries: &[],
    doc: RuleDoc {
        what: "IAM Roles Anywhere configuration that decides who can get role credentials with a certificate: \
               a trust anchor created, changed or enabled (`CreateTrustAnchor`, `UpdateTrustAnchor`, \
               `EnableTrustAnchor`: **high**, since any certificate the anchor's authority signs is then \
               accepted), and a profile created, changed or enabled (`CreateProfile`, `UpdateProfile`, \
               `EnableProfile`: **medium**; it names the roles those certificates may become). The anchor's \
               source type and the profile's roles are in the evidence.",
        why: "A trust anchor for a certificate authority the attacker owns, plus a profile naming a role whose \
              trust policy allows `rolesanywhere.amazonaws.com`, is a persistence path outside IAM users and \
              keys: the attacker signs themselves a certificate and exchanges it for credentials from anywhere \
              (Stratus Red Team `rolesanywhere-create-trust-anchor`).",
        example: "`CreateTrustAnchor` with `source.sourceType` = `CERTIFICATE_BUNDLE` and a self-signed \
                  certificate, followed by `CreateProfile` naming `arn:aws:iam::111122223333:role/admin`.",
        fix: "Confirm the anchor and profile with their owner. If unknown, disable and delete them, and remove \
              `rolesanywhere.amazonaws.com` from the trust policy of the roles the profile named; review \
              `CreateSession` activity from Roles Anywhere since.",
        references: &[
            "https://docs.aws.amazon.com/rolesanywhere/latest/userguide/introduction.html",
            "https://docs.aws.amazon.com/rolesanywhere/latest/userguide/trust-model.html",
            "https://stratus-red-team.cloud/attack-techniques/AWS/aws.persistence.rolesanywhere-create-trust-anchor/",
        ],
    },
};

/// Flags Roles Anywhere trust anchors and profiles being set up or changed.
#[derive(Debug, Default)]
pub struct RolesAnywhereTrustChanged;

impl CloudTrailRule for RolesAnywhereTrustChanged {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let params = record.request_parameters();
        let response = record.response_elements();
        let name = record.event_name.as_ref();
        let anchor = name.ends_with("TrustAnchor");
        let severity = if anchor {
            META.severity
        } else {
            Severity::Medium
        };
        let (object, arn_pointer, id_key) = if anchor {
            (
                "trust anchor",
                "/trustAnchor/trustAnchorArn",
                "trustAnchorId",
            )
        } else {
            ("profile", "/profile/profileArn", "profileId")
        };
        let label = request_field(params.as_ref(), "name")
            .or_else(|| request_field(params.as_ref(), id_key))
            .unwrap_or_else(|| "unknown".to_owned());
        let arn = response
            .as_ref()
            .and_then(|r| r.pointer(arn_pointer)?.as_str().map(str::to_owned));
        let mut finding = finding_for(&META, record, severity);
        let who = describe_caller(&EventContext::from_record(record));
        let verb = match name {
            n if n.starts_with("Create") => "created",
            n if n.starts_with("Update") => "changed",
            _ => "enabled",
        };
        let failed = call_failed(record);
        finding.message = if failed {
            format!("{who} tried to set up Roles Anywhere {object} `{label}`; the call failed.")
        } else if anchor {
            format!(
                "{who} {verb} Roles Anywhere {object} `{label}`: certificates its authority signs can now be \
                 exchanged for role credentials."
            )
        } else {
            format!("{who} {verb} Roles Anywhere {object} `{label}`, naming the roles certificates may become.")
        };
        finding.resource = Some(Resource {
            kind: if anchor {
                "AwsRolesAnywhereTrustAnchor"
            } else {
                "AwsRolesAnywhereProfile"
            }
            .to_owned(),
            id: arn.clone().unwrap_or_else(|| label.clone()),
            name: Some(label.clone()),
        });
        if let Some(source_type) = params
            .as_ref()
            .and_then(|p| p.pointer("/source/sourceType")?.as_str().map(str::to_owned))
        {
            finding
                .evidence
                .push(evidence("requestParameters.source.sourceType", source_type));
        }
        if let Some(roles) = params.as_ref().and_then(|p| p.get("roleArns")) {
            finding
                .evidence
                .push(evidence("requestParameters.roleArns", roles.clone()));
        }
        if failed {
            finding.fix.summary =
                "Nothing changed; find out why this principal tried to.".to_owned();
        } else {
            finding.fix.summary = format!(
                "Confirm Roles Anywhere {object} `{label}` with its owner; if unknown, disable and delete it and \
                 review the roles it reaches."
            );
            finding.fix.commands = vec![format!(
                "aws rolesanywhere list-{}{}",
                if anchor { "trust-anchors" } else { "profiles" },
                region_arg(record)
            )];
            finding.fix.actions.push(FixAction::Manual {
                description: format!("Confirm or remove Roles Anywhere {object} `{label}`."),
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
    fn trust_anchor_is_high_and_profile_medium() {
        let anchor = TestEvent::new("rolesanywhere.amazonaws.com", "CreateTrustAnchor")
            .request(r#"{"enabled":true,"name":"ops-ca","source":{"sourceData":{"x509CertificateData":"-----BEGIN CERTIFICATE-----\nMIIE\n-----END CERTIFICATE-----"},"sourceType":"CERTIFICATE_BUNDLE"}}"#)
            .response(r#"{"trustAnchor":{"enabled":true,"name":"ops-ca","trustAnchorArn":"arn:aws:rolesanywhere:us-east-1:229654561268:trust-anchor/1f0e","trustAnchorId":"1f0e"}}"#);
        let f = &check(&RolesAnywhereTrustChanged, &anchor)[0];
        assert_eq!(f.severity, Severity::High);
        assert_eq!(
            f.resource.as_ref().unwrap().id,
            "arn:aws:rolesanywhere:us-east-1:229654561268:trust-anchor/1f0e"
        );
        let profile = TestEvent::new("rolesanywhere.amazonaws.com", "CreateProfile").request(
            r#"{"durationSeconds":3600,"enabled":true,"name":"ops","roleArns":["arn:aws:iam::229654561268:role/admin"]}"#,
        );
        let f = &check(&RolesAnywhereTrustChanged, &profile)[0];
        assert_eq!(f.severity, Severity::Medium);
        assert!(f
            .evidence
            .iter()
            .any(|e| e.path == "requestParameters.roleArns"));
    }
}
