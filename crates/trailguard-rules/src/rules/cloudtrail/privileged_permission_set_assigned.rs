//! CT052 privileged-permission-set-assigned: an IAM Identity Center permission set made privileged and
//! assigned to a user or group, in either order, within the scan. A sequence rule: the privilege (CT037's
//! [`judge`]) and the assignment are separate calls, often minutes apart and by different admins.

use std::collections::{HashMap, HashSet};

use trailguard_event::Record;

use super::common::{
    call_failed, caller_key, describe_caller, evidence, finding_from_event, request_field,
};
use super::document_risk::privileged_document;
use super::identity_center_access_granted::{customer_policy_key, judge};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{Observation, Observed, Report, SequenceRule};
use crate::Finding;

pub const META: RuleMeta = RuleMeta {
    code: "CT052",
    name: "privileged-permission-set-assigned",
    title: "Privileged Identity Center permission set assigned",
    family: Family::Cloudtrail,
    severity: Severity::High,
    attack: &["T1098.003", "T1484.002"],
    compliance: &["CIS-1.15"],
    events: &[
        ("sso.amazonaws.com", "AttachManagedPolicyToPermissionSet"),
        ("sso.amazonaws.com", "PutInlinePolicyToPermissionSet"),
        ("sso.amazonaws.com", "AttachCustomerManagedPolicyReferenceToPermissionSet"),
        ("sso.amazonaws.com", "DetachManagedPolicyFromPermissionSet"),
        ("sso.amazonaws.com", "DeleteInlinePolicyFromPermissionSet"),
        ("sso.amazonaws.com", "DetachCustomerManagedPolicyReferenceFromPermissionSet"),
        ("sso.amazonaws.com", "DeletePermissionSet"),
        ("sso.amazonaws.com", "CreateAccountAssignment"),
        ("iam.amazonaws.com", "CreatePolicy"),
    ],
    kb_entries: &[],
    doc: RuleDoc {
        what: "A user or group given (`CreateAccountAssignment`) a permission set that, in the same scan, was \
               made privileged: a privileged AWS managed policy attached or a high-risk inline document put \
               (as CT037 judges them), or a customer managed policy reference attached whose policy (same path \
               and name) the scan saw created with a high-risk document (`iam:CreatePolicy`). Either order \
               counts: a set assigned first and made privileged later gives its holders the same power once \
               provisioned. A privilege detached, deleted or its set deleted before the assignment no longer \
               counts. One **high** finding per assignment, naming the principal, account, set and the call \
               that made it privileged.",
        why: "CT037 rates each call on its own; the threat is their sum: someone now holds administrator \
              rights in an account through a role no IAM user, key or trust policy shows (ATT&CK T1098.003). \
              An attacker with Identity Center admin rights makes a set privileged in one call and assigns it \
              to a user they control in another, possibly through a customer managed policy whose document \
              only the member account's trail shows.",
        example: "`AttachManagedPolicyToPermissionSet` (`AdministratorAccess` on `ps-0123456789abcdef`) at \
                  10:02, then `CreateAccountAssignment` of `ps-0123456789abcdef` to user `9067a1b2c3-...` in \
                  account 111122223333 at 10:05.",
        fix: "Confirm the assignment with the identity team. If unknown, delete it (`aws sso-admin \
              delete-account-assignment`), remove the privileged policy from the set and re-provision it, then \
              review what the principal did through `AWSReservedSSO_*` role sessions in the target account.",
        references: &[
            "https://docs.aws.amazon.com/singlesignon/latest/APIReference/API_CreateAccountAssignment.html",
            "https://docs.aws.amazon.com/singlesignon/latest/userguide/permissionsetcustom.html",
            "https://attack.mitre.org/techniques/T1098/003/",
        ],
    },
};

/// `kind`: the permission set (`subject`) made privileged; `detail` says by what.
const PRIVILEGED: u8 = 0;
/// A customer managed policy reference (`detail`: path + name) attached to the set.
const CUSTOMER_REFERENCE: u8 = 1;
/// A customer managed policy with a high-risk document created (`subject`: path + name).
const PRIVILEGED_CUSTOMER_POLICY: u8 = 2;
/// A privilege taken away from the set: `detail` the policy (ARN, `inline`, or path + name), `*` for the
/// whole set deleted.
const REVOKED: u8 = 3;
/// The set assigned; `detail`: `TYPE principalId account`.
const ASSIGNED: u8 = 4;

/// Follows privileged permission sets to their assignments.
#[derive(Debug, Default)]
pub struct PrivilegedPermissionSetAssigned;

/// The policy a permission-set call names, as [`REVOKED`] and [`PRIVILEGED`] details spell it.
fn named_policy(record: &Record<'_>) -> String {
    let params = record.request_parameters();
    let params = params.as_ref();
    match record.event_name.as_ref() {
        "AttachManagedPolicyToPermissionSet" | "DetachManagedPolicyFromPermissionSet" => {
            request_field(params, "managedPolicyArn").unwrap_or_default()
        }
        "AttachCustomerManagedPolicyReferenceToPermissionSet"
        | "DetachCustomerManagedPolicyReferenceFromPermissionSet" => {
            customer_policy_key(params.and_then(|p| p.get("customerManagedPolicyReference")))
                .unwrap_or_default()
        }
        "DeletePermissionSet" => "*".to_owned(),
        _ => "inline".to_owned(),
    }
}

/// `/path/name` of the policy an `iam:CreatePolicy` created, when its document rates high or worse.
fn privileged_customer_policy(record: &Record<'_>) -> Option<String> {
    let params = record.request_parameters();
    privileged_document(params.as_ref(), "policyDocument")?;
    let reference = serde_json::json!({
        "name": request_field(params.as_ref(), "policyName")?,
        "path": request_field(params.as_ref(), "path").unwrap_or_else(|| "/".to_owned()),
    });
    customer_policy_key(Some(&reference))
}

impl SequenceRule for PrivilegedPermissionSetAssigned {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn observe<'r>(&self, record: &'r Record<'r>) -> Option<Observed<'r>> {
        if call_failed(record) {
            return None;
        }
        let params = record.request_parameters();
        let set = request_field(params.as_ref(), "permissionSetArn").unwrap_or_default();
        let caller = caller_key(record);
        let (kind, subject, detail) = match record.event_name.as_ref() {
            "CreatePolicy" => (
                PRIVILEGED_CUSTOMER_POLICY,
                privileged_customer_policy(record)?,
                String::new(),
            ),
            "CreateAccountAssignment" => {
                let field = |key: &str| request_field(params.as_ref(), key).unwrap_or_default();
                (
                    ASSIGNED,
                    set,
                    format!(
                        "{} {} {}",
                        field("principalType"),
                        field("principalId"),
                        field("targetId")
                    ),
                )
            }
            "AttachCustomerManagedPolicyReferenceToPermissionSet" => {
                (CUSTOMER_REFERENCE, set, named_policy(record))
            }
            name if name.starts_with("Detach") || name.starts_with("Delete") => {
                (REVOKED, set, named_policy(record))
            }
            _ => {
                let change = judge(record)?;
                if !change.privileged {
                    return None;
                }
                (PRIVILEGED, set, named_policy(record))
            }
        };
        if subject.is_empty() {
            return None;
        }
        // At equal times, privileges before assignments: a scripted setup does both in one second.
        let rank = if kind == ASSIGNED { 1 } else { 0 };
        Observed::new(record, kind, rank, caller, subject, detail)
    }

    fn evaluate(&self, observations: &[Observation], out: &mut Report) {
        // Set -> the observation that made it privileged (and, for a reference, the policy's creation).
        let mut privileged: HashMap<&str, (&Observation, Option<&Observation>)> = HashMap::new();
        let mut references: HashMap<&str, Vec<&Observation>> = HashMap::new();
        let mut customer: HashMap<&str, &Observation> = HashMap::new();
        let mut assigned: HashMap<&str, Vec<&Observation>> = HashMap::new();
        let mut reported: HashSet<*const Observation> = HashSet::new();
        let mut report = |assignment: &Observation,
                          grant: &Observation,
                          policy: Option<&Observation>,
                          out: &mut Report| {
            if reported.insert(assignment as *const Observation) {
                out.push(finding(assignment, grant, policy));
            }
        };
        for obs in observations {
            let set = obs.subject.as_ref();
            match obs.kind {
                PRIVILEGED => {
                    privileged.insert(set, (obs, None));
                    for assignment in assigned.get(set).into_iter().flatten() {
                        report(assignment, obs, None, out);
                    }
                }
                PRIVILEGED_CUSTOMER_POLICY => {
                    customer.insert(set, obs);
                    for (&ps, refs) in &references {
                        if let Some(reference) = refs.iter().find(|r| r.detail == obs.subject) {
                            privileged.insert(ps, (reference, Some(obs)));
                            for assignment in assigned.get(ps).into_iter().flatten() {
                                report(assignment, reference, Some(obs), out);
                            }
                        }
                    }
                }
                CUSTOMER_REFERENCE => {
                    references.entry(set).or_default().push(obs);
                    if let Some(&policy) = customer.get(obs.detail.as_ref()) {
                        privileged.insert(set, (obs, Some(policy)));
                        for assignment in assigned.get(set).into_iter().flatten() {
                            report(assignment, obs, Some(policy), out);
                        }
                    }
                }
                REVOKED => {
                    if obs.detail.as_ref() == "*" {
                        privileged.remove(set);
                        references.remove(set);
                        assigned.remove(set);
                    } else {
                        if let Some(refs) = references.get_mut(set) {
                            refs.retain(|r| r.detail != obs.detail);
                        }
                        if privileged
                            .get(set)
                            .is_some_and(|(grant, _)| grant.detail == obs.detail)
                        {
                            privileged.remove(set);
                        }
                    }
                }
                _ => {
                    assigned.entry(set).or_default().push(obs);
                    if let Some(&(grant, policy)) = privileged.get(set) {
                        report(obs, grant, policy, out);
                    }
                }
            }
        }
    }
}

fn finding(assignment: &Observation, grant: &Observation, policy: Option<&Observation>) -> Finding {
    let mut parts = assignment.detail.splitn(3, ' ');
    let (kind, principal, account) = (
        parts.next().unwrap_or_default().to_ascii_lowercase(),
        parts.next().unwrap_or_default().to_owned(),
        parts.next().unwrap_or_default().to_owned(),
    );
    let set = assignment.subject.to_string();
    let mut finding = finding_from_event(&META, &assignment.event, META.severity);
    let how = match (grant.event.event_name.as_str(), policy) {
        ("PutInlinePolicyToPermissionSet", _) => "a high-risk inline policy".to_owned(),
        (_, Some(created)) => format!(
            "customer managed policy `{}`, created with a high-risk document by `{}` at {}",
            grant.detail, created.principal, created.event.event_time
        ),
        _ => format!("`{}`", grant.detail),
    };
    let order = if grant.at <= assignment.at {
        "before"
    } else {
        "after"
    };
    finding.message = format!(
        "{} gave {kind} `{principal}` permission set `{set}` in account {account}; `{}` made that set \
         privileged with {how} at {} ({order} the assignment).",
        describe_caller(&assignment.event),
        grant.principal,
        grant.event.event_time,
    );
    finding.resource = Some(Resource {
        kind: "AwsSsoPermissionSet".to_owned(),
        id: set,
        name: None,
    });
    finding
        .evidence
        .push(evidence("requestParameters.principalId", principal));
    finding
        .evidence
        .push(evidence("requestParameters.targetId", account));
    finding.evidence.push(evidence(
        "privilegedBy",
        serde_json::json!({
            "eventName": grant.event.event_name,
            "eventID": grant.event.event_id,
            "eventTime": grant.event.event_time,
            "policy": grant.detail.as_ref(),
        }),
    ));
    if let Some(created) = policy {
        finding.evidence.push(evidence(
            "policyCreatedBy",
            serde_json::json!({
                "eventID": created.event.event_id,
                "eventTime": created.event.event_time,
                "account": created.event.account,
                "policy": created.subject.as_ref(),
            }),
        ));
    }
    let summary = "Confirm the assignment with the identity team; if unknown, delete it, remove the \
                   privileged policy from the set and re-provision it, then review the principal's sessions."
        .to_owned();
    finding.fix.actions.push(FixAction::Manual {
        description: summary.clone(),
    });
    finding.fix.summary = summary;
    finding
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{run_sequence, TestEvent};

    const PS: &str = "arn:aws:sso:::permissionSet/ssoins-7223a1b2c3d4e5f6/ps-0123456789abcdef";

    fn sso(name: &str, request: String, time: &str) -> TestEvent {
        TestEvent::new("sso.amazonaws.com", name)
            .request(&request)
            .time(time)
            .id(&format!("{name}-{time}"))
    }

    fn attach(policy: &str, time: &str) -> TestEvent {
        sso(
            "AttachManagedPolicyToPermissionSet",
            format!(r#"{{"permissionSetArn":"{PS}","managedPolicyArn":"{policy}"}}"#),
            time,
        )
    }

    fn assign(time: &str) -> TestEvent {
        sso(
            "CreateAccountAssignment",
            format!(
                r#"{{"targetId":"111122223333","targetType":"AWS_ACCOUNT","permissionSetArn":"{PS}","principalType":"USER","principalId":"9067a1b2c3-user"}}"#
            ),
            time,
        )
    }

    const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

    #[test]
    fn admin_set_assigned_in_either_order_is_one_high_finding() {
        for events in [
            vec![
                attach(ADMIN, "2024-08-01T10:02:00Z"),
                assign("2024-08-01T10:05:00Z"),
            ],
            vec![
                assign("2024-08-01T10:02:00Z"),
                attach(ADMIN, "2024-08-01T10:05:00Z"),
            ],
        ] {
            let findings = run_sequence(Box::new(PrivilegedPermissionSetAssigned), &events);
            assert_eq!(findings.len(), 1, "{findings:#?}");
            assert_eq!(findings[0].severity, Severity::High);
            assert!(
                findings[0].message.contains("9067a1b2c3-user"),
                "{}",
                findings[0].message
            );
        }
    }

    #[test]
    fn detached_before_the_assignment_or_read_only_is_not_privileged() {
        let detach = sso(
            "DetachManagedPolicyFromPermissionSet",
            format!(r#"{{"permissionSetArn":"{PS}","managedPolicyArn":"{ADMIN}"}}"#),
            "2024-08-01T10:03:00Z",
        );
        let events = [
            attach(ADMIN, "2024-08-01T10:02:00Z"),
            detach,
            assign("2024-08-01T10:05:00Z"),
        ];
        assert!(run_sequence(Box::new(PrivilegedPermissionSetAssigned), &events).is_empty());
        let events = [
            attach(
                "arn:aws:iam::aws:policy/ReadOnlyAccess",
                "2024-08-01T10:02:00Z",
            ),
            assign("2024-08-01T10:05:00Z"),
        ];
        assert!(run_sequence(Box::new(PrivilegedPermissionSetAssigned), &events).is_empty());
    }

    #[test]
    fn a_customer_policy_created_admin_makes_its_reference_privileged() {
        let create = TestEvent::iam("CreatePolicy")
            .request(r#"{"policyName":"ops-admin","path":"/ops/","policyDocument":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}"}"#)
            .time("2024-08-01T10:00:00Z");
        let reference = sso(
            "AttachCustomerManagedPolicyReferenceToPermissionSet",
            format!(
                r#"{{"permissionSetArn":"{PS}","customerManagedPolicyReference":{{"name":"ops-admin","path":"/ops/"}}}}"#
            ),
            "2024-08-01T10:02:00Z",
        );
        let findings = run_sequence(
            Box::new(PrivilegedPermissionSetAssigned),
            &[
                create.clone(),
                reference.clone(),
                assign("2024-08-01T10:05:00Z"),
            ],
        );
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert!(
            findings[0].message.contains("/ops/ops-admin"),
            "{}",
            findings[0].message
        );
        // The same reference to a policy the scan never saw created is not judged.
        assert!(run_sequence(
            Box::new(PrivilegedPermissionSetAssigned),
            &[reference, assign("2024-08-01T10:05:00Z")]
        )
        .is_empty());
    }

    #[test]
    fn a_refused_assignment_is_not_followed() {
        let events = [
            attach(ADMIN, "2024-08-01T10:02:00Z"),
            assign("2024-08-01T10:05:00Z").denied(),
        ];
        assert!(run_sequence(Box::new(PrivilegedPermissionSetAssigned), &events).is_empty());
    }
}
