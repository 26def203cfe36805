//! CT088 risky-customer-policy-attached: a customer managed policy that the same scan saw created (or
//! given a new default version) with a high-risk document, attached to a user, group or role. CT003 rates
//! the document one step down because a new policy grants nothing until attached; this is the attachment
//! that puts it to work. A definitions rule: the policy's document is the fact, however long before.
//!
//! [`customer_policy_change`] is the one reading of what a policy call does to a customer managed policy's
//! effective document; CT087 uses it too, for groups.

use std::collections::HashMap;

use trailguard_event::Record;

use super::common::{
    call_failed, caller_iam_user, caller_key, created_policy_arn, describe_caller, evidence,
    finding_from_event, flag_set, identity_resource, request_field, role_session,
};
use super::document_risk::privileged_document;
use crate::finding::{Finding, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::IdentityKind;
use crate::rule::{Observation, Observed, Report, SequenceRule};

pub const META: RuleMeta = RuleMeta {
    code: "CT088",
    name: "risky-customer-policy-attached",
    title: "High-risk customer managed policy attached",
    family: Family::Cloudtrail,
    severity: Severity::High,
    attack: &["T1098", "T1078.004"],
    compliance: &["CIS-1.16", "CIS-4.4"],
    events: &[
        ("iam.amazonaws.com", "CreatePolicy"),
        ("iam.amazonaws.com", "CreatePolicyVersion"),
        ("iam.amazonaws.com", "DeletePolicy"),
        ("iam.amazonaws.com", "AttachUserPolicy"),
        ("iam.amazonaws.com", "AttachGroupPolicy"),
        ("iam.amazonaws.com", "AttachRolePolicy"),
    ],
    kb_entries: &[
        "CreatePolicy",
        "CreatePolicyVersion",
        "DeletePolicy",
        "AttachUserPolicy",
        "AttachGroupPolicy",
        "AttachRolePolicy",
    ],
    doc: RuleDoc {
        what: "A successful `AttachUserPolicy`, `AttachGroupPolicy` or `AttachRolePolicy` of a customer \
               managed policy whose document, as the scan last saw it, the policy analyser rates high or \
               critical: created that way (`CreatePolicy`) or given such a version as default \
               (`CreatePolicyVersion` with `setAsDefault`), and not since deleted or given a harmless \
               default version. The finding carries the document's own severity (**critical** for \
               administrator access, **high** otherwise), and is **critical** whenever the caller attached \
               the policy to itself (an IAM user to its own user, a role session to its own role). One \
               finding per attachment, naming the policy, its creator and the document's risk. Policies \
               created before the scanned period are not known here: `scan --snapshot` judges every \
               attached policy's document (CT054, the audit).",
        why: "Creating a permissive policy and attaching it are two calls, and only the second grants \
              anything. Rules that know AWS managed policies by name (CT005) cannot see that a policy called \
              `ReadOnlyHelper` holds `*:*`; attaching such a policy, above all to oneself, is a documented \
              privilege-escalation path (`iam:CreatePolicy` with `iam:AttachUserPolicy`, ATT&CK T1098).",
        example: "IAM user `mallory` calls `aws iam create-policy --policy-name helper --policy-document \
                  '{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}'` \
                  and then `aws iam attach-user-policy --user-name mallory --policy-arn \
                  arn:aws:iam::111122223333:policy/helper`.",
        fix: "Detach the policy (`aws iam detach-user-policy`, `detach-group-policy` or `detach-role-policy`) \
              unless the grant was approved, narrow or delete the policy, and review what the principal did \
              since it was attached.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/APIReference/API_AttachUserPolicy.html",
            "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreatePolicyVersion.html",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-vs-inline.html",
            "https://attack.mitre.org/techniques/T1098/",
        ],
    },
};

/// What a policy call made of a customer managed policy's effective (default) document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerPolicyChange {
    /// Its default document now rates `severity` (high or critical) for `reason`.
    Risky {
        arn: String,
        severity: Severity,
        reason: String,
    },
    /// It was deleted, or its default document is now one that rates below high.
    Cleared { arn: String },
}

/// How a successful `CreatePolicy`, `CreatePolicyVersion` or `DeletePolicy` changes the risk of a
/// customer managed policy's default document. `None` for anything else, for a failed call, and for a
/// version not set as default (it changes nothing in force). `SetDefaultPolicyVersion` names a version
/// whose document the record does not carry, so it is not read: the last document seen stays in force.
pub fn customer_policy_change(record: &Record<'_>) -> Option<CustomerPolicyChange> {
    if call_failed(record) {
        return None;
    }
    let params = record.request_parameters();
    let params = params.as_ref();
    let arn = match record.event_name.as_ref() {
        "CreatePolicy" => created_policy_arn(record, params),
        "CreatePolicyVersion" => {
            if !flag_set(params.and_then(|p| p.get("setAsDefault"))) {
                return None;
            }
            request_field(params, "policyArn")?
        }
        "DeletePolicy" => {
            return Some(CustomerPolicyChange::Cleared {
                arn: request_field(params, "policyArn")?,
            })
        }
        _ => return None,
    };
    Some(match privileged_document(params, "policyDocument") {
        Some(risk) => CustomerPolicyChange::Risky {
            arn,
            severity: risk.severity,
            reason: risk.reasons.first().cloned().unwrap_or_default(),
        },
        None => CustomerPolicyChange::Cleared { arn },
    })
}

/// Whether `policy_arn` names a customer managed policy (not one of AWS's, `arn:PARTITION:iam::aws:policy/`).
pub fn is_customer_policy(policy_arn: &str) -> bool {
    policy_arn.contains(":policy/") && !policy_arn.contains(":iam::aws:policy/")
}

/// Observation kinds. A risky definition's `detail` is `SEVERITY REASON`.
const RISKY: u8 = 0;
const CLEARED: u8 = 1;
/// `detail`: `KIND self|other NAME`, the principal the policy was attached to.
const ATTACHED: u8 = 2;

/// Follows high-risk customer managed policies to their attachments.
#[derive(Debug, Default)]
pub struct RiskyCustomerPolicyAttached;

impl SequenceRule for RiskyCustomerPolicyAttached {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn observe<'r>(&self, record: &'r Record<'r>) -> Option<Observed<'r>> {
        let caller = caller_key(record);
        if let Some(change) = customer_policy_change(record) {
            // Definitions sort before an attachment in the same second: scripts do both at once.
            return match change {
                CustomerPolicyChange::Risky {
                    arn,
                    severity,
                    reason,
                } => Observed::new(
                    record,
                    RISKY,
                    0,
                    caller,
                    arn,
                    format!("{severity} {reason}"),
                ),
                CustomerPolicyChange::Cleared { arn } => {
                    Observed::new(record, CLEARED, 0, caller, arn, "")
                }
            };
        }
        if call_failed(record) {
            return None;
        }
        let params = record.request_parameters();
        let policy =
            request_field(params.as_ref(), "policyArn").filter(|a| is_customer_policy(a))?;
        let (kind, key) = attached_to(&record.event_name)?;
        let name = request_field(params.as_ref(), key)?;
        let to_itself = match kind {
            IdentityKind::User => caller_iam_user(record) == Some(name.as_str()),
            IdentityKind::Role => role_session(record).is_some_and(|s| s.role_name == name),
            _ => false,
        };
        let whose = if to_itself { "self" } else { "other" };
        Observed::new(
            record,
            ATTACHED,
            1,
            caller,
            policy,
            format!("{} {whose} {name}", kind.as_str()),
        )
    }

    fn evaluate(&self, observations: &[Observation], out: &mut Report) {
        // Policy ARN → the definition that made its default document risky.
        let mut risky: HashMap<&str, &Observation> = HashMap::new();
        for obs in observations {
            let policy = obs.subject.as_ref();
            match obs.kind {
                RISKY => {
                    risky.insert(policy, obs);
                }
                CLEARED => {
                    risky.remove(policy);
                }
                _ => {
                    if let Some(defined) = risky.get(policy) {
                        if let Some(finding) = finding(defined, obs) {
                            out.push(finding);
                        }
                    }
                }
            }
        }
    }
}

/// The kind of principal an attach call names, and the request key of its name.
fn attached_to(event_name: &str) -> Option<(IdentityKind, &'static str)> {
    match event_name {
        "AttachUserPolicy" => Some((IdentityKind::User, "userName")),
        "AttachGroupPolicy" => Some((IdentityKind::Group, "groupName")),
        "AttachRolePolicy" => Some((IdentityKind::Role, "roleName")),
        _ => None,
    }
}

fn finding(defined: &Observation, attached: &Observation) -> Option<Finding> {
    let (severity, reason) = defined.detail.split_once(' ')?;
    let severity: Severity = severity.parse().ok()?;
    let (kind, key) = attached_to(&attached.event.event_name)?;
    let mut parts = attached.detail.splitn(3, ' ');
    let (_, whose, name) = (parts.next()?, parts.next()?, parts.next()?);
    let to_itself = whose == "self";
    let policy = attached.subject.to_string();
    let noun = kind.as_str();
    let mut finding = finding_from_event(
        &META,
        &attached.event,
        if to_itself {
            Severity::Critical
        } else {
            severity
        },
    );
    let how = if defined.event.event_name == "CreatePolicy" {
        "created it"
    } else {
        "set its default version"
    };
    finding.message = format!(
        "{} attached customer managed policy `{policy}` to {noun} `{name}`{}; `{}` {how} at {} with a \
         document that {reason}.",
        describe_caller(&attached.event),
        if to_itself { " (itself)" } else { "" },
        defined.principal,
        defined.event.event_time,
    );
    finding.resource = Some(identity_resource(
        kind,
        attached.event.account.as_deref(),
        name,
    ));
    finding.evidence = vec![
        evidence("requestParameters.policyArn", policy.as_str()),
        evidence(format!("requestParameters.{key}"), name),
        evidence(
            "policyDefinedBy",
            serde_json::json!({
                "eventName": defined.event.event_name,
                "eventID": defined.event.event_id,
                "eventTime": defined.event.event_time,
                "severity": severity.as_str(),
                "reason": reason,
            }),
        ),
    ];
    finding.fix.summary = format!(
        "Detach `{policy}` from {noun} `{name}` unless the grant was approved, narrow or delete the policy, \
         and review the {noun}'s activity since."
    );
    finding.fix.push_detach_policy(kind, name, &policy);
    Some(finding)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{run_sequence, TestEvent};

    const ADMIN: &str =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    const NARROW: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"}]}"#;
    const ARN: &str = "arn:aws:iam::229654561268:policy/helper";

    fn create(doc: &str, time: &str) -> TestEvent {
        TestEvent::iam("CreatePolicy")
            .request(&format!(
                r#"{{"policyDocument":{},"policyName":"helper"}}"#,
                serde_json::Value::from(doc)
            ))
            .time(time)
            .id(&format!("create-{time}"))
    }

    fn version(doc: &str, time: &str) -> TestEvent {
        TestEvent::iam("CreatePolicyVersion")
            .request(&format!(
                r#"{{"policyArn":"{ARN}","policyDocument":{},"setAsDefault":true}}"#,
                serde_json::Value::from(doc)
            ))
            .time(time)
            .id(&format!("version-{time}"))
    }

    fn attach(user: &str, time: &str) -> TestEvent {
        TestEvent::iam("AttachUserPolicy")
            .request(&format!(r#"{{"policyArn":"{ARN}","userName":"{user}"}}"#))
            .time(time)
            .id(&format!("attach-{user}-{time}"))
    }

    fn run(events: &[TestEvent]) -> Vec<Finding> {
        run_sequence(Box::new(RiskyCustomerPolicyAttached), events)
    }

    #[test]
    fn an_admin_policy_created_then_attached_is_reported_at_its_document_severity() {
        let found = run(&[
            create(ADMIN, "2024-08-01T10:00:00Z"),
            attach("bob", "2024-08-01T10:01:00Z"),
        ]);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].severity, Severity::Critical);
        assert!(
            found[0].message.contains("administrator"),
            "{}",
            found[0].message
        );
        assert_eq!(
            found[0].fix.commands,
            vec![format!(
                "aws iam detach-user-policy --user-name bob --policy-arn {ARN}"
            )]
        );
    }

    #[test]
    fn the_document_in_force_at_the_attachment_decides() {
        assert!(run(&[
            create(NARROW, "2024-08-01T10:00:00Z"),
            attach("bob", "2024-08-01T10:01:00Z"),
        ])
        .is_empty());
        let made_risky = run(&[
            create(NARROW, "2024-08-01T10:00:00Z"),
            version(ADMIN, "2024-08-01T10:00:30Z"),
            attach("bob", "2024-08-01T10:01:00Z"),
        ]);
        assert_eq!(made_risky.len(), 1);
        assert!(run(&[
            create(ADMIN, "2024-08-01T10:00:00Z"),
            version(NARROW, "2024-08-01T10:00:30Z"),
            attach("bob", "2024-08-01T10:01:00Z"),
        ])
        .is_empty());
        assert!(
            run(&[
                attach("bob", "2024-08-01T09:59:00Z"),
                create(ADMIN, "2024-08-01T10:00:00Z"),
            ])
            .is_empty(),
            "an attachment before the definition is another policy of the same name"
        );
    }

    #[test]
    fn aws_managed_policies_are_left_to_ct005() {
        assert!(!is_customer_policy(
            "arn:aws:iam::aws:policy/AdministratorAccess"
        ));
        assert!(is_customer_policy(ARN));
        assert!(is_customer_policy(
            "arn:aws-us-gov:iam::229654561268:policy/team/helper"
        ));
    }
}
