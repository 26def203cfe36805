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
use super::identity_store_changed::{added_member, CONSOLE_DIRECTORY, IDENTITY_STORE};
use crate::finding::{Evidence, Resource, Severity};
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
        (IDENTITY_STORE, "CreateGroupMembership"),
        (CONSOLE_DIRECTORY, "AddMemberToGroup"),
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
               that made it privileged. A user added to a group that holds such an assignment \
               (`identitystore` `CreateGroupMembership`, or the console's `sso-directory` \
               `AddMemberToGroup`), before or after, is one more **high** finding, naming the user, the \
               group and the assignment it inherits.",
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
/// A user added to a group: `subject` the group id, `detail` the user id.
const MEMBER_ADDED: u8 = 5;

/// The group and user a membership call names: its `groupId`, and the member as CT099 reads it
/// ([`added_member`]: the Identity Store API's `memberId.userId` or the console API's `member.memberId`).
fn membership(record: &Record<'_>) -> Option<(String, String)> {
    let params = record.request_parameters()?;
    let group = request_field(Some(&params), "groupId")?;
    Some((group, added_member(&params)?))
}

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
            "CreateGroupMembership" | "AddMemberToGroup" => {
                let (group, member) = membership(record)?;
                (MEMBER_ADDED, group, member)
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
        let mut joins = Joins::default();
        for obs in observations {
            let set = obs.subject.as_ref();
            match obs.kind {
                MEMBER_ADDED => joins.member_added(obs, out),
                PRIVILEGED => {
                    privileged.insert(set, (obs, None));
                    for assignment in assigned.get(set).into_iter().flatten() {
                        joins.report(assignment, obs, None, out);
                    }
                }
                PRIVILEGED_CUSTOMER_POLICY => {
                    customer.insert(set, obs);
                    for (&ps, refs) in &references {
                        if let Some(reference) = refs.iter().find(|r| r.detail == obs.subject) {
                            privileged.insert(ps, (reference, Some(obs)));
                            for assignment in assigned.get(ps).into_iter().flatten() {
                                joins.report(assignment, reference, Some(obs), out);
                            }
                        }
                    }
                }
                CUSTOMER_REFERENCE => {
                    references.entry(set).or_default().push(obs);
                    if let Some(&policy) = customer.get(obs.detail.as_ref()) {
                        privileged.insert(set, (obs, Some(policy)));
                        for assignment in assigned.get(set).into_iter().flatten() {
                            joins.report(assignment, obs, Some(policy), out);
                        }
                    }
                }
                REVOKED => {
                    if obs.detail.as_ref() == "*" {
                        privileged.remove(set);
                        references.remove(set);
                        assigned.remove(set);
                        joins.forget_set(set);
                    } else {
                        if let Some(refs) = references.get_mut(set) {
                            refs.retain(|r| r.detail != obs.detail);
                        }
                        if privileged
                            .get(set)
                            .is_some_and(|(grant, _)| grant.detail == obs.detail)
                        {
                            privileged.remove(set);
                            joins.forget_set(set);
                        }
                    }
                }
                _ => {
                    assigned.entry(set).or_default().push(obs);
                    if let Some(&(grant, policy)) = privileged.get(set) {
                        joins.report(obs, grant, policy, out);
                    }
                }
            }
        }
    }
}

/// A privileged assignment: the assignment, the call that made its set privileged, and for a customer
/// managed reference the policy's creation.
#[derive(Clone, Copy)]
struct Grant<'o> {
    assignment: &'o Observation,
    grant: &'o Observation,
    policy: Option<&'o Observation>,
}

/// What `evaluate` has reported, and the groups it follows memberships into.
#[derive(Default)]
struct Joins<'o> {
    reported: HashSet<*const Observation>,
    /// Group id -> the users the scan saw added to it.
    members: HashMap<&'o str, Vec<&'o Observation>>,
    /// Group id -> the first privileged assignment it was seen to hold.
    privileged_groups: HashMap<&'o str, Grant<'o>>,
}

impl<'o> Joins<'o> {
    /// Reports a privileged assignment once; for a group's, also every member added to it so far.
    fn report(
        &mut self,
        assignment: &'o Observation,
        grant: &'o Observation,
        policy: Option<&'o Observation>,
        out: &mut Report,
    ) {
        if !self.reported.insert(assignment as *const Observation) {
            return;
        }
        out.push(finding(assignment, grant, policy));
        let Some(group) = assigned_group(assignment) else {
            return;
        };
        let held = *self.privileged_groups.entry(group).or_insert(Grant {
            assignment,
            grant,
            policy,
        });
        for &member in self.members.get(group).into_iter().flatten() {
            if self.reported.insert(member as *const Observation) {
                out.push(membership_finding(member, &held));
            }
        }
    }

    /// Follows a membership; reports it when its group already holds a privileged assignment.
    fn member_added(&mut self, member: &'o Observation, out: &mut Report) {
        let group = member.subject.as_ref();
        self.members.entry(group).or_default().push(member);
        if let Some(held) = self.privileged_groups.get(group) {
            if self.reported.insert(member as *const Observation) {
                out.push(membership_finding(member, held));
            }
        }
    }

    /// The set is no longer privileged (or gone): its groups no longer pass a privilege to new members.
    fn forget_set(&mut self, set: &str) {
        self.privileged_groups
            .retain(|_, held| held.assignment.subject.as_ref() != set);
    }
}

/// The group an assignment's `detail` (`TYPE principalId account`) names, when it is a group.
fn assigned_group(assignment: &Observation) -> Option<&str> {
    let mut parts = assignment.detail.splitn(3, ' ');
    let kind = parts.next()?;
    let principal = parts.next()?;
    (kind.eq_ignore_ascii_case("GROUP") && !principal.is_empty()).then_some(principal)
}

/// A user added to a group that holds a privileged assignment, in either order.
fn membership_finding(member: &Observation, held: &Grant<'_>) -> Finding {
    let assignment = held.assignment;
    let account = assignment.detail.splitn(3, ' ').nth(2).unwrap_or_default();
    let set = assignment.subject.as_ref();
    let group = member.subject.as_ref();
    let user = member.detail.as_ref();
    let mut finding = finding_from_event(&META, &member.event, META.severity);
    let order = if assignment.at <= member.at {
        "already held"
    } else {
        "was given afterwards"
    };
    finding.message = format!(
        "{} added Identity Center user `{user}` to group `{group}`, which {order} privileged permission set \
         `{set}` in account {account} (assigned by `{}` at {}; made privileged by `{}` at {}).",
        describe_caller(&member.event),
        assignment.principal,
        assignment.event.event_time,
        held.grant.principal,
        held.grant.event.event_time,
    );
    finding.resource = Some(Resource {
        kind: "AwsIdentityStoreGroup".to_owned(),
        id: group.to_owned(),
        name: None,
    });
    finding.evidence.push(evidence("memberId.userId", user));
    finding.evidence.push(evidence("groupId", group));
    finding.evidence.push(evidence(
        "assignment",
        serde_json::json!({
            "permissionSet": set,
            "account": account,
            "eventID": assignment.event.event_id,
            "eventTime": assignment.event.event_time,
        }),
    ));
    finding
        .evidence
        .extend(grant_evidence(held.grant, held.policy));
    let summary = "Confirm the membership with the identity team; if unknown, remove the user from the group \
                   and review the user's sessions in the accounts the group reaches."
        .to_owned();
    finding.fix.actions.push(FixAction::Manual {
        description: summary.clone(),
    });
    finding.fix.summary = summary;
    finding
}

/// The call that made a set privileged and, for a customer managed reference, the policy's creation, as
/// evidence.
fn grant_evidence(grant: &Observation, policy: Option<&Observation>) -> Vec<Evidence> {
    let mut found = vec![evidence(
        "privilegedBy",
        serde_json::json!({
            "eventName": grant.event.event_name,
            "eventID": grant.event.event_id,
            "eventTime": grant.event.event_time,
            "policy": grant.detail.as_ref(),
        }),
    )];
    found.extend(policy.map(|created| {
        evidence(
            "policyCreatedBy",
            serde_json::json!({
                "eventID": created.event.event_id,
                "eventTime": created.event.event_time,
                "account": created.event.account,
                "policy": created.subject.as_ref(),
            }),
        )
    }));
    found
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
    finding.evidence.extend(grant_evidence(grant, policy));
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

    fn detach(policy: &str, time: &str) -> TestEvent {
        sso(
            "DetachManagedPolicyFromPermissionSet",
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

    const GROUP: &str = "f4d8c4a8-e011-70a6-bc6f-55a4d5b1c001";

    fn assign_group(time: &str) -> TestEvent {
        sso(
            "CreateAccountAssignment",
            format!(
                r#"{{"targetId":"111122223333","targetType":"AWS_ACCOUNT","permissionSetArn":"{PS}","principalType":"GROUP","principalId":"{GROUP}"}}"#
            ),
            time,
        )
    }

    /// A user added to `group` through the Identity Store API (`console`: the console's own API).
    fn add_member(group: &str, user: &str, console: bool, time: &str) -> TestEvent {
        let (source, name, request) = if console {
            (
                "sso-directory.amazonaws.com",
                "AddMemberToGroup",
                format!(r#"{{"groupId":"{group}","member":{{"memberId":"{user}"}}}}"#),
            )
        } else {
            (
                "identitystore.amazonaws.com",
                "CreateGroupMembership",
                format!(
                    r#"{{"identityStoreId":"d-9067642ac7","groupId":"{group}","memberId":{{"userId":"{user}"}}}}"#
                ),
            )
        };
        TestEvent::new(source, name)
            .request(&request)
            .time(time)
            .id(&format!("{name}-{user}-{time}"))
    }

    #[test]
    fn a_member_added_to_a_privileged_group_in_any_order_is_high() {
        let member = |console, time| add_member(GROUP, "94482488-user", console, time);
        for events in [
            vec![
                attach(ADMIN, "2024-08-01T10:01:00Z"),
                assign_group("2024-08-01T10:02:00Z"),
                member(false, "2024-08-01T10:03:00Z"),
            ],
            vec![
                member(true, "2024-08-01T10:01:00Z"),
                assign_group("2024-08-01T10:02:00Z"),
                attach(ADMIN, "2024-08-01T10:03:00Z"),
            ],
        ] {
            let findings = run_sequence(Box::new(PrivilegedPermissionSetAssigned), &events);
            assert_eq!(findings.len(), 2, "{findings:#?}");
            let joined: Vec<_> = findings
                .iter()
                .filter(|f| {
                    f.message
                        .contains("added Identity Center user `94482488-user`")
                })
                .collect();
            assert_eq!(joined.len(), 1, "{findings:#?}");
            assert_eq!(joined[0].severity, Severity::High);
            assert!(joined[0].message.contains(GROUP), "{}", joined[0].message);
        }
    }

    #[test]
    fn members_of_other_groups_or_of_a_set_made_harmless_are_not_reported() {
        let events = [
            attach(ADMIN, "2024-08-01T10:01:00Z"),
            assign_group("2024-08-01T10:02:00Z"),
            add_member(
                "other-group",
                "94482488-user",
                false,
                "2024-08-01T10:03:00Z",
            ),
        ];
        let findings = run_sequence(Box::new(PrivilegedPermissionSetAssigned), &events);
        assert_eq!(findings.len(), 1, "only the assignment: {findings:#?}");
        let events = [
            attach(ADMIN, "2024-08-01T10:01:00Z"),
            assign_group("2024-08-01T10:02:00Z"),
            detach(ADMIN, "2024-08-01T10:04:00Z"),
            add_member(GROUP, "94482488-user", false, "2024-08-01T10:05:00Z"),
        ];
        let findings = run_sequence(Box::new(PrivilegedPermissionSetAssigned), &events);
        assert_eq!(
            findings.len(),
            1,
            "the membership came after the set lost its privilege: {findings:#?}"
        );
    }

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
        let events = [
            attach(ADMIN, "2024-08-01T10:02:00Z"),
            detach(ADMIN, "2024-08-01T10:03:00Z"),
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
