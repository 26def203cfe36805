//! CT001 risky-policy-version: CreatePolicyVersion with a risky document; worse when set as default.

use trailguard_event::Record;

use super::common::{
    call_failed, describe_caller, evidence, finding_for, flag_set, policy_text, request_field, sh,
};
use super::document_risk::assess;
use crate::call::Call;
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{CloudTrailRule, EventContext, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT001",
    name: "risky-policy-version",
    title: "Risky managed policy version created",
    family: Family::Cloudtrail,
    severity: Severity::High,
    attack: &["T1098", "T1078.004"],
    compliance: &["CIS-1.16", "CIS-4.4", "CloudWatch.4"],
    events: &[("iam.amazonaws.com", "CreatePolicyVersion")],
    kb_entries: &["CreatePolicyVersion"],
    doc: RuleDoc {
        what: "`CreatePolicyVersion` whose `requestParameters.policyDocument` (plain or URL-encoded JSON) grants \
               administrator access (`*` / `*:*`), `Allow` with `NotAction`, service-wide wildcards on \
               sensitive services (IAM, STS, KMS, Organizations, CloudTrail), privilege-escalation actions \
               (each method named), `iam:PassRole` on every role, or sensitive actions without an \
               `aws:MultiFactorAuthPresent` / `aws:MultiFactorAuthAge` condition. The severity follows the worst \
               of these and is one step lower when the version is not made the default (`setAsDefault` false), \
               since it is then not in effect.",
        why: "`iam:CreatePolicyVersion` with `setAsDefault` rewrites what every principal attached to the policy \
              may do, without touching any attachment: a top privilege-escalation method (Rhino Security Labs \
              method 1). An attacker attached to a customer managed policy can grant itself `*:*` in one call.",
        example: "`aws iam create-policy-version --policy-arn arn:aws:iam::111122223333:policy/dev \
                  --policy-document '{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}' --set-as-default`",
        fix: "Set the previous version back as default and delete the new version, then review what the \
              principals attached to the policy did since. Allow `iam:CreatePolicyVersion` only to the pipeline \
              that owns the policy.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreatePolicyVersion.html",
            "https://rhinosecuritylabs.com/aws/aws-privilege-escalation-methods-mitigation/",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-versioning.html",
        ],
    },
};

/// Flags policy versions whose document is risky.
#[derive(Debug, Default)]
pub struct RiskyPolicyVersion;

impl CloudTrailRule for RiskyPolicyVersion {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let params = record.request_parameters();
        let Some(text) = policy_text(params.as_ref(), "policyDocument") else {
            return;
        };
        let as_default = flag_set(params.as_ref().and_then(|p| p.get("setAsDefault")));
        let policy_arn =
            request_field(params.as_ref(), "policyArn").unwrap_or_else(|| "unknown".to_owned());
        let new_version = record.response_elements().and_then(|r| {
            r.pointer("/policyVersion/versionId")?
                .as_str()
                .map(str::to_owned)
        });
        let who = describe_caller(&EventContext::from_record(record));
        let risk = match assess(&text, "requestParameters.policyDocument") {
            Ok(Some(risk)) => risk,
            Ok(None) => return,
            Err(err) => {
                if !call_failed(record) {
                    out.push(super::document_risk::unreadable(
                        &META,
                        record,
                        &policy_arn,
                        &err.0,
                    ));
                }
                return;
            }
        };
        let severity = if as_default {
            risk.severity
        } else {
            risk.severity.lowered()
        };
        let mut finding = finding_for(&META, record, severity);
        let version_text = new_version
            .as_deref()
            .map(|v| format!("version {v}"))
            .unwrap_or_else(|| "a version".to_owned());
        let (verb, default_text) = match (call_failed(record), as_default) {
            (false, true) => ("created", " and made it the default"),
            (false, false) => ("created", " (not set as default)"),
            (true, true) => ("tried to create", " as the default"),
            (true, false) => ("tried to create", ""),
        };
        finding.message = format!(
            "{who} {verb} {version_text} of `{policy_arn}`{default_text}; the document {}.",
            risk.reasons.join("; ")
        );
        finding.resource = Some(Resource {
            kind: "AwsIamPolicy".to_owned(),
            id: policy_arn.clone(),
            name: policy_arn.rsplit('/').next().map(str::to_owned),
        });
        finding.evidence = risk.evidence.clone();
        finding
            .evidence
            .push(evidence("requestParameters.setAsDefault", as_default));
        if call_failed(record) {
            finding.fix.summary =
                "No version was created; find out why this principal tried.".to_owned();
        } else {
            let arn = sh(&policy_arn).into_owned();
            let bad = new_version
                .clone()
                .unwrap_or_else(|| "NEW_VERSION_ID".to_owned());
            finding
                .fix
                .commands
                .push(format!("aws iam list-policy-versions --policy-arn {arn}"));
            if as_default {
                finding.fix.summary = format!(
                    "Set the previous version of `{policy_arn}` back as default and delete version {bad}."
                );
                finding.fix.commands.push(format!(
                    "aws iam set-default-policy-version --policy-arn {arn} --version-id PREVIOUS_VERSION_ID"
                ));
            } else {
                finding.fix.summary = format!(
                    "Delete version {bad} of `{policy_arn}` before anyone makes it the default."
                );
            }
            let delete = Call::DeletePolicyVersion {
                policy_arn: policy_arn.clone(),
                version_id: bad,
            };
            finding.fix.commands.push(delete.to_cli());
            if let Some(bad_version) = new_version {
                finding.fix.actions.push(FixAction::RevertPolicyVersion {
                    policy_arn,
                    bad_version,
                    restore_version: None,
                    bad_version_was_default: Some(as_default),
                });
            }
        }
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent};

    fn version(doc: &str, default: bool) -> TestEvent {
        TestEvent::iam("CreatePolicyVersion")
            .request(&format!(
                r#"{{"policyArn":"arn:aws:iam::229654561268:policy/dev-boundary","policyDocument":{},"setAsDefault":{default}}}"#,
                serde_json::Value::from(doc)
            ))
            .response(&format!(
                r#"{{"policyVersion":{{"versionId":"v3","isDefaultVersion":{default},"createDate":"Aug 1, 2024 1:33:28 PM"}}}}"#
            ))
    }

    const ADMIN: &str =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

    #[test]
    fn an_admin_version_set_as_default_is_critical_with_revert_commands() {
        let f = &check(&RiskyPolicyVersion, &version(ADMIN, true))[0];
        assert_eq!(f.severity, Severity::Critical);
        assert!(f.message.contains("made it the default"), "{}", f.message);
        assert_eq!(
            f.fix.commands.last().unwrap(),
            "aws iam delete-policy-version --policy-arn arn:aws:iam::229654561268:policy/dev-boundary --version-id v3"
        );
        assert!(f
            .fix
            .commands
            .iter()
            .any(|c| c.starts_with("aws iam set-default-policy-version")));
        assert_eq!(
            f.evidence[0].path,
            "requestParameters.policyDocument.Statement[0]"
        );
        assert!(
            matches!(&f.fix.actions[0], FixAction::RevertPolicyVersion { bad_version, .. } if bad_version == "v3")
        );
    }

    #[test]
    fn severity_rises_with_set_as_default() {
        let off = check(&RiskyPolicyVersion, &version(ADMIN, false))[0].severity;
        let on = check(&RiskyPolicyVersion, &version(ADMIN, true))[0].severity;
        assert!(on > off, "{on} should be above {off}");
        let f = &check(&RiskyPolicyVersion, &version(ADMIN, false))[0];
        assert!(!f
            .fix
            .commands
            .iter()
            .any(|c| c.contains("set-default-policy-version")));
    }

    #[test]
    fn not_action_privesc_and_missing_mfa_are_reported() {
        let not_action = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}]}"#;
        let f = &check(&RiskyPolicyVersion, &version(not_action, true))[0];
        assert!(f.message.contains("NotAction"), "{}", f.message);
        let privesc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:CreatePolicyVersion"],"Resource":"*"}]}"#;
        let f = &check(&RiskyPolicyVersion, &version(privesc, true))[0];
        assert!(f.message.contains("privilege escalation"), "{}", f.message);
        assert!(f.severity >= Severity::High);
    }

    #[test]
    fn a_narrow_document_is_not_flagged_and_a_denied_call_is_an_attempt() {
        let narrow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"}]}"#;
        assert!(check(&RiskyPolicyVersion, &version(narrow, true)).is_empty());
        let f = &check(&RiskyPolicyVersion, &version(ADMIN, true).denied())[0];
        assert_eq!(f.severity, Severity::High);
        assert!(f.title.starts_with("Attempted:"));
        assert!(f.fix.actions.is_empty());
    }

    #[test]
    fn url_encoded_documents_are_decoded() {
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22*%22%2C%22Resource%22%3A%22*%22%7D%5D%7D";
        let f = &check(&RiskyPolicyVersion, &version(encoded, true))[0];
        assert_eq!(f.severity, Severity::Critical);
    }
}
