//! CT068 permissions-boundary-removed: the permissions boundary of an IAM user or role deleted, or replaced
//! by a policy so broad that it bounds nothing: the ceiling on what that identity may do is gone.

use trailguard_event::Record;

use super::common::{
    call_failed, caller_iam_user, describe_caller, finding_for, identity_resource,
    privileged_policy, request_evidence, request_field, role_session, sh,
};
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::{FixAction, IdentityKind};
use crate::rule::{CloudTrailRule, EventContext, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT068",
    name: "permissions-boundary-removed",
    title: "Permissions boundary removed",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1098", "T1548"],
    compliance: &[],
    events: &[
        ("iam.amazonaws.com", "DeleteUserPermissionsBoundary"),
        ("iam.amazonaws.com", "DeleteRolePermissionsBoundary"),
        ("iam.amazonaws.com", "PutUserPermissionsBoundary"),
        ("iam.amazonaws.com", "PutRolePermissionsBoundary"),
    ],
    kb_entries: &[
        "DeleteUserPermissionsBoundary",
        "DeleteRolePermissionsBoundary",
        "PutUserPermissionsBoundary",
        "PutRolePermissionsBoundary",
    ],
    doc: RuleDoc {
        what: "The permissions boundary of an IAM user or role deleted (`DeleteUserPermissionsBoundary`, \
               `DeleteRolePermissionsBoundary`), or set to an AWS managed policy that grants broad power \
               (`PutUserPermissionsBoundary`, `PutRolePermissionsBoundary` with `AdministratorAccess`, \
               `PowerUserAccess`, `IAMFullAccess` or another AWS managed policy CT005 rates high or \
               critical), which bounds nothing. **medium**; **high** \
               when the caller lifts its own boundary (an IAM user on itself, a role session on its own \
               role). A boundary set to a narrower policy is not reported. A refused call is an attempt, \
               one step lower.",
        why: "A boundary is the ceiling that delegated administration relies on: developers may create roles \
              and attach policies only because each new identity carries a boundary that caps it. Removing \
              or widening it turns every policy the identity already has into real permission, typically \
              `AdministratorAccess` attached earlier that did nothing (ATT&CK T1098, T1548 privilege \
              escalation). An identity lifting its own boundary is the textbook escalation path.",
        example: "Role session `dev-deployer/ci` calls `aws iam delete-role-permissions-boundary --role-name \
                  dev-deployer`, then uses the `AdministratorAccess` policy attached to the role last week.",
        fix: "Put the boundary back (`put-user-permissions-boundary` or `put-role-permissions-boundary` with \
              the policy the identity had), review what the identity did without it, and allow the delete \
              and put calls only to the administrators who own the boundary.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html",
            "https://attack.mitre.org/techniques/T1098/",
        ],
    },
};

/// Flags permissions boundaries deleted or made meaningless.
#[derive(Debug, Default)]
pub struct PermissionsBoundaryRemoved;

impl CloudTrailRule for PermissionsBoundaryRemoved {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let params = record.request_parameters();
        let name = record.event_name.as_ref();
        let user = name.contains("User");
        let key = if user { "userName" } else { "roleName" };
        let Some(target) = request_field(params.as_ref(), key) else {
            return;
        };
        let putting = name.starts_with("Put");
        let boundary = request_field(params.as_ref(), "permissionsBoundary");
        // A boundary caps only what it does not grant: one of the policies CT005 rates high or critical
        // caps nothing worth having.
        let broad = boundary
            .as_deref()
            .and_then(privileged_policy)
            .filter(|p| p.severity >= Severity::High);
        if putting && broad.is_none() {
            return;
        }
        let own = if user {
            caller_iam_user(record) == Some(target.as_str())
        } else {
            role_session(record).is_some_and(|s| s.role_name == target)
        };
        let severity = if own { Severity::High } else { META.severity };
        let failed = call_failed(record);
        let kind = if user { "user" } else { "role" };
        let mut finding = finding_for(&META, record, severity);
        let who = describe_caller(&EventContext::from_record(record));
        let whose = if own {
            format!("its own {kind} `{target}`")
        } else {
            format!("{kind} `{target}`")
        };
        // Past tense for a change made, the infinitive for an attempt.
        let ((done, tried), what) = match (putting, broad) {
            (true, Some(policy)) => (
                ("set", "set"),
                format!(
                    "the permissions boundary of {whose} to `{}` ({}), which bounds nothing",
                    policy.name, policy.why
                ),
            ),
            _ => (
                ("deleted", "delete"),
                format!("the permissions boundary of {whose}"),
            ),
        };
        finding.message = if failed {
            format!("{who} tried to {tried} {what}; the call failed.")
        } else {
            format!("{who} {done} {what}: every policy it holds now applies in full.")
        };
        let account = record.account_id();
        let identity = if user {
            IdentityKind::User
        } else {
            IdentityKind::Role
        };
        finding.resource = Some(identity_resource(identity, account, &target));
        request_evidence(&mut finding, params.as_ref(), &[key, "permissionsBoundary"]);
        if failed {
            finding.fix.summary =
                "Nothing changed; find out why this principal tried to lift the boundary."
                    .to_owned();
        } else {
            let flag = if user { "--user-name" } else { "--role-name" };
            finding.fix.summary = format!(
                "Put the boundary of {kind} `{target}` back and review what it did without one."
            );
            // The account comes from the record like the name: both are quoted for the shell.
            let previous = format!(
                "arn:aws:iam::{}:policy/PREVIOUS_BOUNDARY",
                account.unwrap_or("ACCOUNT_ID")
            );
            finding.fix.commands = vec![format!(
                "aws iam put-{kind}-permissions-boundary {flag} {} --permissions-boundary {}",
                sh(&target),
                sh(&previous)
            )];
            finding.fix.actions.push(FixAction::Manual {
                description: format!(
                    "Restore the permissions boundary of {kind} `{target}` (the policy it had before) and \
                     review its activity since."
                ),
            });
        }
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{with_record, TestEvent, ACCOUNT};

    #[test]
    fn the_fix_command_quotes_the_record_s_account_and_names() {
        let text = TestEvent::iam("DeleteUserPermissionsBoundary")
            .request(r#"{"userName":"temp contractor"}"#)
            .json()
            .replace(
                &format!(r#""recipientAccountId":"{ACCOUNT}""#),
                r#""recipientAccountId":"1; rm -rf ~""#,
            );
        let findings = with_record(&text, |record| {
            let mut report = Report::default();
            PermissionsBoundaryRemoved.check(record, &mut report);
            report.into_findings()
        });
        assert_eq!(
            findings[0].fix.commands,
            vec![
                "aws iam put-user-permissions-boundary --user-name 'temp contractor' \
                 --permissions-boundary 'arn:aws:iam::1; rm -rf ~:policy/PREVIOUS_BOUNDARY'"
                    .to_owned()
            ]
        );
    }
}
