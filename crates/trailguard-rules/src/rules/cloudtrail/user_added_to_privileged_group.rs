//! CT087 user-added-to-privileged-group: a user put into an IAM group that the same scan saw given
//! administrator-level power (a privileged AWS managed policy attached, a customer managed policy whose
//! document the scan saw rated high, or an inline policy the policy analyser rates high), while that power
//! was still on the group: the user now holds it.

use std::collections::{HashMap, HashSet};

use trailguard_event::Record;

use super::common::{
    account_scoped, account_scoped_name, call_failed, caller_iam_user, caller_key, evidence,
    finding_from_event, privileged_policy, request_field, sh, user_resource,
};
use super::document_risk::privileged_document;
use super::risky_customer_policy_attached::{
    customer_policy_change, is_customer_policy, CustomerPolicyChange,
};
use crate::finding::{Finding, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{Observation, Observed, Report, SequenceRule};

pub const META: RuleMeta = RuleMeta {
    code: "CT087",
    name: "user-added-to-privileged-group",
    title: "User added to a group given privileged access",
    family: Family::Cloudtrail,
    severity: Severity::High,
    attack: &["T1098", "T1078.004"],
    compliance: &["CIS-1.15"],
    events: &[
        ("iam.amazonaws.com", "AttachGroupPolicy"),
        ("iam.amazonaws.com", "PutGroupPolicy"),
        ("iam.amazonaws.com", "DetachGroupPolicy"),
        ("iam.amazonaws.com", "DeleteGroupPolicy"),
        ("iam.amazonaws.com", "AddUserToGroup"),
        ("iam.amazonaws.com", "CreatePolicy"),
        ("iam.amazonaws.com", "CreatePolicyVersion"),
        ("iam.amazonaws.com", "DeletePolicy"),
    ],
    kb_entries: &[
        "AttachGroupPolicy",
        "PutGroupPolicy",
        "DetachGroupPolicy",
        "DeleteGroupPolicy",
        "AddUserToGroup",
        "CreatePolicy",
        "CreatePolicyVersion",
        "DeletePolicy",
    ],
    doc: RuleDoc {
        what: "A successful `AddUserToGroup` into a group that, earlier in the scan, was given a privileged \
               AWS managed policy (`AttachGroupPolicy` with a policy CT005 rates, such as \
               `AdministratorAccess` or `IAMFullAccess`), a customer managed policy whose default document \
               the scan saw rated high or critical (as CT088 reads `CreatePolicy` and `CreatePolicyVersion`), \
               or an inline policy the policy analyser rates high or critical (`PutGroupPolicy`), and not \
               since detached or deleted. **high**; \
               **critical** when the caller added itself (an IAM user putting itself in the group). One \
               finding per membership, naming the grant and who made it. Grants made before the scanned \
               period are not known to this rule: with `scan --snapshot`, CT054 judges every membership \
               against the account's whole escalation graph.",
        why: "Adding a user to a group is the quiet way to hand out a group's permissions: the user's own \
              policies do not change, and `AddUserToGroup` on an administrators group is a documented \
              privilege-escalation path (`iam:AddUserToGroup`). An intruder who first makes a group \
              powerful and then joins it, or joins one a colleague just made powerful, holds its rights \
              from that moment (ATT&CK T1098).",
        example: "Role session `ops/mallory` calls `aws iam attach-group-policy --group-name support \
                  --policy-arn arn:aws:iam::aws:policy/AdministratorAccess`, then IAM user `mallory` calls \
                  `aws iam add-user-to-group --group-name support --user-name mallory`.",
        fix: "Take the user out of the group (`aws iam remove-user-from-group`) unless the membership was \
              approved, review what the user did since, and move the group's privileged policy to a role \
              that people assume with MFA.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/APIReference/API_AddUserToGroup.html",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_groups_manage_add-remove-users.html",
            "https://attack.mitre.org/techniques/T1098/",
        ],
    },
};

/// Observation kinds. A grant's `detail` is the policy ARN or `inline:NAME`; a customer managed policy's
/// grant counts while its default document is risky ([`CUSTOMER_RISKY`], [`CUSTOMER_CLEARED`], whose
/// `subject` is the policy ARN).
const GRANTED: u8 = 0;
const REVOKED: u8 = 1;
const JOINED: u8 = 2;
const CUSTOMER_RISKY: u8 = 3;
const CUSTOMER_CLEARED: u8 = 4;

/// Flags users added to groups the scan saw made privileged.
#[derive(Debug, Default)]
pub struct UserAddedToPrivilegedGroup;

impl SequenceRule for UserAddedToPrivilegedGroup {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn observe<'r>(&self, record: &'r Record<'r>) -> Option<Observed<'r>> {
        if let Some(change) = customer_policy_change(record) {
            let (kind, arn) = match change {
                CustomerPolicyChange::Risky { arn, .. } => (CUSTOMER_RISKY, arn),
                CustomerPolicyChange::Cleared { arn } => (CUSTOMER_CLEARED, arn),
            };
            return Observed::new(record, kind, 0, caller_key(record).to_owned(), arn, "");
        }
        if call_failed(record) {
            return None;
        }
        let params = record.request_parameters();
        let group = account_scoped(record, &request_field(params.as_ref(), "groupName")?);
        let policy_arn = || request_field(params.as_ref(), "policyArn");
        let inline_name =
            || request_field(params.as_ref(), "policyName").map(|name| format!("inline:{name}"));
        // Grants and revocations sort before a membership in the same second.
        match record.event_name.as_ref() {
            "AttachGroupPolicy" => {
                let arn = policy_arn()?;
                if privileged_policy(&arn).is_none() && !is_customer_policy(&arn) {
                    return None;
                }
                Observed::new(
                    record,
                    GRANTED,
                    0,
                    caller_key(record).to_owned(),
                    group,
                    arn,
                )
            }
            "PutGroupPolicy" => {
                privileged_document(params.as_ref(), "policyDocument")?;
                let name = inline_name()?;
                Observed::new(
                    record,
                    GRANTED,
                    0,
                    caller_key(record).to_owned(),
                    group,
                    name,
                )
            }
            "DetachGroupPolicy" => Observed::new(record, REVOKED, 0, "", group, policy_arn()?),
            "DeleteGroupPolicy" => Observed::new(record, REVOKED, 0, "", group, inline_name()?),
            _ => {
                let user = request_field(params.as_ref(), "userName")?;
                let by_itself = caller_iam_user(record) == Some(user.as_str());
                Observed::new(
                    record,
                    JOINED,
                    1,
                    user,
                    group,
                    if by_itself { "self" } else { "" },
                )
            }
        }
    }

    fn evaluate(&self, observations: &[Observation], out: &mut Report) {
        // Group → its privileged grants still in place, by policy ARN or `inline:NAME`.
        let mut grants: HashMap<&str, HashMap<&str, &Observation>> = HashMap::new();
        // Customer managed policies whose default document is risky now, by ARN.
        let mut risky_customer: HashSet<&str> = HashSet::new();
        for obs in observations {
            let group = obs.subject.as_ref();
            match obs.kind {
                CUSTOMER_RISKY => {
                    risky_customer.insert(obs.subject.as_ref());
                }
                CUSTOMER_CLEARED => {
                    risky_customer.remove(obs.subject.as_ref());
                }
                GRANTED => {
                    grants
                        .entry(group)
                        .or_default()
                        .insert(obs.detail.as_ref(), obs);
                }
                REVOKED => {
                    if let Some(held) = grants.get_mut(group) {
                        held.remove(obs.detail.as_ref());
                    }
                }
                _ => {
                    let in_force = |grant: &&&Observation| {
                        let policy = grant.detail.as_ref();
                        !is_customer_policy(policy) || risky_customer.contains(policy)
                    };
                    let Some(grant) = grants
                        .get(group)
                        .and_then(|held| held.values().filter(in_force).min_by_key(|g| g.order()))
                    else {
                        continue;
                    };
                    out.push(finding(grant, obs));
                }
            }
        }
    }
}

fn finding(grant: &Observation, joined: &Observation) -> Finding {
    let group = account_scoped_name(&joined.subject).to_owned();
    let user = joined.principal.to_string();
    let by_itself = joined.detail.as_ref() == "self";
    let severity = if by_itself {
        Severity::Critical
    } else {
        META.severity
    };
    let mut finding = finding_from_event(&META, &joined.event, severity);
    let what = grant.detail.strip_prefix("inline:").map_or_else(
        || format!("`{}`", grant.detail),
        |name| format!("the inline policy `{name}`"),
    );
    finding.message = format!(
        "IAM user `{user}` was added to group `{group}`{}; the group was given {what} by `{}` at {}, so \
         the user now holds it.",
        if by_itself { " by itself" } else { "" },
        grant.principal,
        grant.event.event_time,
    );
    finding.resource = Some(user_resource(joined.event.account.as_deref(), &user));
    finding.evidence = vec![
        evidence(
            format!("{}.eventID", grant.event.event_name),
            grant.event.event_id.clone().unwrap_or_default(),
        ),
        evidence("grant", grant.detail.to_string()),
        evidence("requestParameters.groupName", group.clone()),
    ];
    finding.fix.summary = format!(
        "Unless the membership was approved, take `{user}` out of `{group}` and review what it did since."
    );
    finding.fix.commands = vec![format!(
        "aws iam remove-user-from-group --group-name {} --user-name {}",
        sh(&group),
        sh(&user)
    )];
    finding.fix.actions.push(FixAction::Manual {
        description: format!(
            "Confirm `{user}`'s membership of `{group}` with the account owner; remove it if it was not \
             approved, and grant the group's power through a role assumed with MFA instead."
        ),
    });
    finding
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{run_sequence, TestEvent};

    fn attach(group: &str, policy: &str, time: &str) -> TestEvent {
        TestEvent::iam("AttachGroupPolicy")
            .request(&format!(
                r#"{{"groupName":"{group}","policyArn":"{policy}"}}"#
            ))
            .time(time)
            .id(&format!("attach-{group}-{time}"))
    }

    fn join(group: &str, user: &str, time: &str) -> TestEvent {
        TestEvent::iam("AddUserToGroup")
            .request(&format!(r#"{{"groupName":"{group}","userName":"{user}"}}"#))
            .time(time)
            .id(&format!("join-{group}-{user}-{time}"))
    }

    #[test]
    fn only_a_grant_still_in_place_makes_a_membership_privileged() {
        let admin = "arn:aws:iam::aws:policy/AdministratorAccess";
        let granted = [
            attach("support", admin, "2024-08-01T10:00:00Z"),
            join("support", "mallory", "2024-08-01T10:05:00Z"),
        ];
        let findings = run_sequence(Box::new(UserAddedToPrivilegedGroup), &granted);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert_eq!(findings[0].severity, Severity::High);
        let detach = TestEvent::iam("DetachGroupPolicy")
            .request(&format!(
                r#"{{"groupName":"support","policyArn":"{admin}"}}"#
            ))
            .time("2024-08-01T10:02:00Z")
            .id("detach");
        let revoked = [
            attach("support", admin, "2024-08-01T10:00:00Z"),
            detach,
            join("support", "mallory", "2024-08-01T10:05:00Z"),
        ];
        assert!(run_sequence(Box::new(UserAddedToPrivilegedGroup), &revoked).is_empty());
        let narrow = [
            attach(
                "readers",
                "arn:aws:iam::aws:policy/ReadOnlyAccess",
                "2024-08-01T10:00:00Z",
            ),
            join("readers", "mallory", "2024-08-01T10:05:00Z"),
        ];
        assert!(run_sequence(Box::new(UserAddedToPrivilegedGroup), &narrow).is_empty());
        let before = [
            join("support", "mallory", "2024-08-01T09:55:00Z"),
            attach("support", admin, "2024-08-01T10:00:00Z"),
        ];
        assert!(
            run_sequence(Box::new(UserAddedToPrivilegedGroup), &before).is_empty(),
            "a membership before the grant is CT005's finding on the grant"
        );
    }
}
