//! CT056 roles-anywhere-revocation-weakened: an IAM Roles Anywhere certificate revocation list deleted,
//! disabled or given new contents, so certificates it revoked may get role credentials again.

use serde_json::Value;
use trailguard_event::Record;

use super::common::{call_failed, describe_caller, evidence, finding_for, region_arg, sh};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{CloudTrailRule, EventContext, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT056",
    name: "roles-anywhere-revocation-weakened",
    title: "IAM Roles Anywhere certificate revocation weakened",
    family: Family::Cloudtrail,
    severity: Severity::High,
    attack: &["T1556", "T1098"],
    compliance: &[],
    events: &[
        ("rolesanywhere.amazonaws.com", "DeleteCrl"),
        ("rolesanywhere.amazonaws.com", "DisableCrl"),
        ("rolesanywhere.amazonaws.com", "UpdateCrl"),
    ],
    kb_entries: &[],
    doc: RuleDoc {
        what: "A certificate revocation list (CRL) imported into IAM Roles Anywhere losing its force. **high**: \
               `DisableCrl`, and `DeleteCrl` of a list that was enabled (or whose state the record does not \
               show); `UpdateCrl` that sends new list data (`crlData`), since the new list may leave out \
               certificates the old one revoked. **medium**: `UpdateCrl` whose record carries no `crlData` \
               (a rename, or CloudTrail left the large value out, so the record cannot say). **low**: \
               `DeleteCrl` of a list the response shows already disabled (revocation was off before; the \
               `DisableCrl` was the change). Refused calls change nothing and are not reported. The CRL's \
               id, ARN and trust anchor, and the caller, are in the evidence.",
        why: "Roles Anywhere refuses credentials to a certificate on an enabled CRL of its trust anchor; that \
              is how a stolen or leaked workload certificate is cut off. Whoever holds such a certificate \
              gets its roles back the moment the list is disabled or deleted, or replaced by one that no \
              longer names it (ATT&CK T1556, the authentication process modified; T1098, access kept). \
              Replacing the data is as strong as deleting the list but looks like routine upkeep, which is \
              why an update with `crlData` is rated like a deletion.",
        example: "`aws rolesanywhere disable-crl --crl-id 4f1e2d3c-5b6a-4798-8a9b-0c1d2e3f4a5b` by a role \
                  session, followed by `CreateSession` calls from a certificate the list had revoked.",
        fix: "Enable the list again (`aws rolesanywhere enable-crl`), or import the CA's current CRL \
              (`import-crl`, or `update-crl --crl-data fileb://crl.pem`) and check it names every revoked \
              certificate. Review Roles Anywhere sessions (`CreateSession`, the certificate serial is the \
              session name) since the change, and allow `rolesanywhere:*Crl` only to the PKI pipeline. A \
              scheduled CRL refresh by a known role can be muted by its caller.",
        references: &[
            "https://docs.aws.amazon.com/rolesanywhere/latest/userguide/trust-model.html",
            "https://docs.aws.amazon.com/rolesanywhere/latest/APIReference/API_UpdateCrl.html",
            "https://docs.aws.amazon.com/rolesanywhere/latest/APIReference/API_DeleteCrl.html",
            "https://attack.mitre.org/techniques/T1556/",
        ],
    },
};

/// CloudTrail's stand-in for a value it will not log.
const HIDDEN: &str = "HIDDEN_DUE_TO_SECURITY_REASONS";

/// Flags Roles Anywhere revocation lists deleted, disabled or rewritten.
#[derive(Debug, Default)]
pub struct RolesAnywhereRevocationWeakened;

/// What the call did to the list.
#[derive(Clone, Copy, PartialEq)]
enum ListChange {
    Deleted,
    Disabled,
    /// `UpdateCrl` with new list data in the record.
    Replaced,
    /// `UpdateCrl` whose record shows no list data.
    Updated,
}

impl CloudTrailRule for RolesAnywhereRevocationWeakened {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        // A refused call left the list as it was.
        if call_failed(record) {
            return;
        }
        let params = record.request_parameters();
        let response = record.response_elements();
        let crl = response.as_ref().and_then(|r| r.get("crl"));
        let crl_text = |key: &str| crl.and_then(|c| c.get(key)?.as_str().map(str::to_owned));
        let param_text = |key: &str| {
            params
                .as_ref()
                .and_then(|p| p.get(key)?.as_str().map(str::to_owned))
        };
        let new_data = params
            .as_ref()
            .and_then(|p| p.get("crlData"))
            .filter(|v| !v.is_null());
        let change = match record.event_name.as_ref() {
            "DeleteCrl" => ListChange::Deleted,
            "DisableCrl" => ListChange::Disabled,
            _ if new_data.is_some() => ListChange::Replaced,
            _ => ListChange::Updated,
        };
        // The response is the list as it was when deleted: a disabled one was not revoking anything.
        let was_disabled = crl.and_then(|c| c.get("enabled")?.as_bool()) == Some(false);
        let severity = match change {
            ListChange::Deleted if was_disabled => Severity::Low,
            ListChange::Updated => Severity::Medium,
            _ => META.severity,
        };

        // The id with the path it was read from (the request, else the list the response describes).
        let crl_id = param_text("crlId")
            .map(|id| ("requestParameters.crlId", id))
            .or_else(|| crl_text("crlId").map(|id| ("responseElements.crl.crlId", id)));
        let (crl_id_path, crl_id) = match crl_id {
            Some((path, id)) => (Some(path), Some(id)),
            None => (None, None),
        };
        let crl_arn = crl_text("crlArn");
        let list_name = crl_text("name").or_else(|| param_text("name"));
        let label = list_name
            .clone()
            .or_else(|| crl_id.clone())
            .unwrap_or_else(|| "unknown".to_owned());
        let anchor = crl_text("trustAnchorArn");

        let mut finding = finding_for(&META, record, severity);
        let who = describe_caller(&EventContext::from_record(record));
        let subject = format!("Roles Anywhere certificate revocation list `{label}`");
        let of_anchor = anchor
            .as_deref()
            .map(|a| format!(" (trust anchor `{a}`)"))
            .unwrap_or_default();
        const REVIVED: &str = "certificates it revoked can get role credentials again.";
        finding.message = match change {
            ListChange::Deleted if was_disabled => format!(
                "{who} deleted {subject}{of_anchor}, which was already disabled: this call did not change \
                 what is revoked; find when and by whom it was disabled."
            ),
            ListChange::Deleted => format!("{who} deleted {subject}{of_anchor}: {REVIVED}"),
            ListChange::Disabled => format!(
                "{who} disabled {subject}{of_anchor}: Roles Anywhere stops checking it, so {REVIVED}"
            ),
            ListChange::Replaced => format!(
                "{who} replaced the contents of {subject}{of_anchor}: any certificate the new list leaves \
                 out that the old one named can get role credentials again."
            ),
            ListChange::Updated => format!(
                "{who} updated {subject}{of_anchor}; the record carries no `crlData`, so it cannot show \
                 whether the revoked certificates changed (CloudTrail may leave large values out)."
            ),
        };

        finding.resource = Some(Resource {
            kind: "AwsRolesAnywhereCrl".to_owned(),
            id: crl_arn
                .clone()
                .or_else(|| crl_id.clone())
                .unwrap_or_else(|| label.clone()),
            name: list_name.clone(),
        });
        if let (Some(path), Some(id)) = (crl_id_path, &crl_id) {
            finding.evidence.push(evidence(path, id.as_str()));
        }
        if let Some(arn) = &crl_arn {
            finding
                .evidence
                .push(evidence("responseElements.crl.crlArn", arn.as_str()));
        }
        if let Some(anchor) = &anchor {
            finding.evidence.push(evidence(
                "responseElements.crl.trustAnchorArn",
                anchor.as_str(),
            ));
        }
        if change == ListChange::Deleted {
            if let Some(enabled) = crl
                .and_then(|c| c.get("enabled"))
                .filter(|v| v.is_boolean())
            {
                finding
                    .evidence
                    .push(evidence("responseElements.crl.enabled", enabled.clone()));
            }
        }
        if let Some(new_name) = param_text("name").filter(|_| record.event_name == "UpdateCrl") {
            finding
                .evidence
                .push(evidence("requestParameters.name", new_name));
        }
        if let Some(data) = new_data {
            // The list itself can be 300 KB: say what was sent, not all of it.
            finding.evidence.push(evidence(
                "requestParameters.crlData",
                describe_list_data(data),
            ));
        }
        if let Some(caller) = record.user_identity.best_arn() {
            finding.evidence.push(evidence("userIdentity.arn", caller));
        }

        let region = region_arg(record);
        let id_arg = crl_id.as_deref().map(sh);
        finding.fix.commands = match (change, &id_arg, &anchor) {
            (ListChange::Disabled, Some(id), _) => {
                vec![format!("aws rolesanywhere enable-crl --crl-id {id}{region}")]
            }
            (ListChange::Deleted, _, Some(anchor)) if !was_disabled => vec![format!(
                "aws rolesanywhere import-crl --name {} --trust-anchor-arn {} --crl-data fileb://current-crl.pem --enabled{region}",
                sh(list_name.as_deref().unwrap_or("restored-crl")),
                sh(anchor)
            )],
            (ListChange::Replaced | ListChange::Updated, Some(id), _) => vec![
                format!("aws rolesanywhere get-crl --crl-id {id}{region}"),
                format!(
                    "aws rolesanywhere update-crl --crl-id {id} --crl-data fileb://current-crl.pem{region}"
                ),
            ],
            _ => vec![format!("aws rolesanywhere list-crls{region}")],
        };
        finding.fix.summary = match change {
            ListChange::Deleted if was_disabled => {
                "Confirm the list was retired on purpose; the disabling call is the one to review."
                    .to_owned()
            }
            ListChange::Disabled => format!(
                "Enable {subject} again unless its owner retired it, and review Roles Anywhere sessions since."
            ),
            ListChange::Updated => format!(
                "Check with `get-crl` that {subject} still names every certificate your CA revoked; if not, \
                 upload the CA's current list and review Roles Anywhere sessions since."
            ),
            ListChange::Deleted | ListChange::Replaced => format!(
                "Put the CA's current revocation list back for {subject} (`current-crl.pem`: the list your \
                 CA publishes) and review Roles Anywhere sessions since."
            ),
        };
        finding.fix.actions.push(FixAction::Manual {
            description: finding.fix.summary.clone(),
        });
        out.push(finding);
    }
}

/// What an evidence item says about the new list data instead of copying it.
fn describe_list_data(data: &Value) -> String {
    match data.as_str() {
        Some(HIDDEN) => "new list data sent (CloudTrail hid its contents)".to_owned(),
        Some(text) => format!(
            "new list data sent ({} characters, not copied)",
            text.chars().count()
        ),
        None => "new list data sent".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent};

    const CRL_ID: &str = "4f1e2d3c-5b6a-4798-8a9b-0c1d2e3f4a5b";

    fn crl_response(enabled: bool) -> String {
        format!(
            r#"{{"crl":{{"crlArn":"arn:aws:rolesanywhere:us-east-1:229654561268:crl/{CRL_ID}","crlId":"{CRL_ID}","enabled":{enabled},"name":"corp-ca-crl","trustAnchorArn":"arn:aws:rolesanywhere:us-east-1:229654561268:trust-anchor/2d3c4b5a-6978-4e8d-9c0b-1a2f3e4d5c6b"}}}}"#
        )
    }

    fn event(name: &str, request: &str, response: &str) -> TestEvent {
        TestEvent::new("rolesanywhere.amazonaws.com", name)
            .request(request)
            .response(response)
    }

    #[test]
    fn deleting_an_enabled_list_is_high_and_names_the_list_and_anchor() {
        let e = event(
            "DeleteCrl",
            &format!(r#"{{"crlId":"{CRL_ID}"}}"#),
            &crl_response(true),
        );
        let f = &check(&RolesAnywhereRevocationWeakened, &e)[0];
        assert_eq!(f.severity, Severity::High);
        assert_eq!(
            f.resource.as_ref().unwrap().id,
            format!("arn:aws:rolesanywhere:us-east-1:229654561268:crl/{CRL_ID}")
        );
        assert!(f.message.contains("trust-anchor/2d3c4b5a"), "{}", f.message);
        assert!(f.fix.commands[0].starts_with("aws rolesanywhere import-crl --name corp-ca-crl"));
    }

    #[test]
    fn deleting_a_list_already_disabled_is_low() {
        let e = event(
            "DeleteCrl",
            &format!(r#"{{"crlId":"{CRL_ID}"}}"#),
            &crl_response(false),
        );
        let f = &check(&RolesAnywhereRevocationWeakened, &e)[0];
        assert_eq!(f.severity, Severity::Low);
        assert!(f
            .evidence
            .iter()
            .any(|e| e.path == "responseElements.crl.enabled" && e.value == false));
    }

    #[test]
    fn update_is_high_only_with_new_list_data_and_never_copies_it() {
        let blob = "LS0tLS1CRUdJTiBYNTA5IENSTC0tLS0t".repeat(10);
        let replaced = event(
            "UpdateCrl",
            &format!(r#"{{"crlId":"{CRL_ID}","crlData":"{blob}"}}"#),
            &crl_response(true),
        );
        let f = &check(&RolesAnywhereRevocationWeakened, &replaced)[0];
        assert_eq!(f.severity, Severity::High);
        let data = f
            .evidence
            .iter()
            .find(|e| e.path == "requestParameters.crlData")
            .expect("the data is mentioned");
        assert_eq!(
            data.value,
            "new list data sent (320 characters, not copied)"
        );
        let hidden = event(
            "UpdateCrl",
            &format!(r#"{{"crlId":"{CRL_ID}","crlData":"{HIDDEN}"}}"#),
            "null",
        );
        assert_eq!(
            check(&RolesAnywhereRevocationWeakened, &hidden)[0].severity,
            Severity::High
        );
        let renamed = event(
            "UpdateCrl",
            &format!(r#"{{"crlId":"{CRL_ID}","name":"corp-ca-crl-2026"}}"#),
            &crl_response(true),
        );
        let f = &check(&RolesAnywhereRevocationWeakened, &renamed)[0];
        assert_eq!(f.severity, Severity::Medium);
        assert!(f.message.contains("no `crlData`"), "{}", f.message);
    }

    #[test]
    fn an_id_known_only_from_the_response_is_named_by_its_path() {
        let e = event("DisableCrl", "null", &crl_response(false));
        let f = &check(&RolesAnywhereRevocationWeakened, &e)[0];
        assert!(f
            .evidence
            .iter()
            .any(|e| e.path == "responseElements.crl.crlId" && e.value == CRL_ID));
        assert!(!f
            .evidence
            .iter()
            .any(|e| e.path == "requestParameters.crlId"));
        assert_eq!(
            f.fix.commands,
            vec![format!(
                "aws rolesanywhere enable-crl --crl-id {CRL_ID} --region us-east-1"
            )]
        );
    }

    #[test]
    fn a_refused_call_is_not_a_finding() {
        let e = event("DisableCrl", &format!(r#"{{"crlId":"{CRL_ID}"}}"#), "null").denied();
        assert!(check(&RolesAnywhereRevocationWeakened, &e).is_empty());
    }

    #[test]
    fn the_fix_command_quotes_a_hostile_id() {
        let e = event("DisableCrl", r#"{"crlId":"x; rm -rf ~"}"#, "null");
        let f = &check(&RolesAnywhereRevocationWeakened, &e)[0];
        assert_eq!(
            f.fix.commands,
            vec![
                "aws rolesanywhere enable-crl --crl-id 'x; rm -rf ~' --region us-east-1".to_owned()
            ]
        );
    }
}
