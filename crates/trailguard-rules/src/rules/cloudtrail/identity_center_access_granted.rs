//! CT037 identity-center-access-granted: IAM Identity Center permission sets created or given powerful
//! policies, and account assignments that hand a permission set to a user or group.

use trailguard_event::Record;

use super::common::{change_finding, policy_text, privileged_policy, request_field, Change};
use crate::rule::{CloudTrailRule, Report};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};

pub const META: RuleMeta = RuleMeta {
    code: "CT037",
    name: "identity-center-access-granted",
    title: "IAM Identity Center access granted",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1098.003", "T1484.002"],
    compliance: &[],
    events: &[
        ("sso.amazonaws.com", "CreatePermissionSet"),
        ("sso.amazonaws.com", "AttachManagedPolicyToPermissionSet"),
        ("sso.amazonaws.com", "PutInlinePolicyToPermissionSet"),
        ("sso.amazonaws.com", "CreateAccountAssignment"),
    ],
    kb_entries: &[],
    doc: RuleDoc {
        what: "IAM Identity Center changes that decide who gets which role in which account. \
               `AttachManagedPolicyToPermissionSet` with a privileged AWS managed policy (the list CT005 uses: \
               `AdministratorAccess`, `IAMFullAccess`, `PowerUserAccess`, ...) and `PutInlinePolicyToPermissionSet` \
               with an admin document (`Allow *` on `*`): **high**. `CreateAccountAssignment` (a user or group \
               given a permission set in an account): **medium**, with the principal, account and permission set \
               in the evidence. `CreatePermissionSet` and other policies on permission sets: **low**.",
        why: "In an organization using Identity Center, permission sets are the roles people sign in to; an \
              attacker with Identity Center admin rights gives a user they control an admin permission set in \
              every account (ATT&CK T1098.003), which no IAM user or access key ever shows. The Identity Center \
              reserved roles (`AWSReservedSSO_*`) then appear in each account as if created by AWS.",
        example: "`CreateAccountAssignment` giving user `9067a1b2c3-...` permission set `ps-0123456789abcdef` \
                  (with `AdministratorAccess`) in account 111122223333.",
        fix: "Confirm the grant with the identity team. If unknown, delete the account assignment \
              (`aws sso-admin delete-account-assignment`), detach the policy from the permission set and \
              re-provision it, and review the sign-ins of the principal that received it.",
        references: &[
            "https://docs.aws.amazon.com/singlesignon/latest/userguide/permissionsetsconcept.html",
            "https://docs.aws.amazon.com/singlesignon/latest/userguide/logging-using-cloudtrail.html",
        ],
    },
};

/// Flags Identity Center grants.
#[derive(Debug, Default)]
pub struct IdentityCenterAccessGranted;

impl CloudTrailRule for IdentityCenterAccessGranted {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let params = record.request_parameters();
        let field =
            |key: &str| request_field(params.as_ref(), key).unwrap_or_else(|| "unknown".to_owned());
        let permission_set = request_field(params.as_ref(), "permissionSetArn")
            .or_else(|| request_field(params.as_ref(), "name"))
            .unwrap_or_else(|| "unknown".to_owned());
        let (severity, done, tried) = match record.event_name.as_ref() {
            "AttachManagedPolicyToPermissionSet" => {
                let policy = field("managedPolicyArn");
                let privileged = privileged_policy(&policy);
                let severity = match privileged {
                    Some(p) if p.severity >= Severity::High => Severity::High,
                    Some(_) => Severity::Medium,
                    None => Severity::Low,
                };
                let why = privileged
                    .map(|p| format!(" ({})", p.why))
                    .unwrap_or_default();
                (
                    severity,
                    format!("attached `{policy}`{why} to permission set `{permission_set}`"),
                    format!("attach `{policy}` to permission set `{permission_set}`"),
                )
            }
            "PutInlinePolicyToPermissionSet" => {
                let admin = policy_text(params.as_ref(), "inlinePolicy")
                    .as_deref()
                    .is_some_and(super::document_risk::is_admin_document);
                (
                    if admin { Severity::High } else { Severity::Low },
                    format!(
                        "put an inline policy{} on permission set `{permission_set}`",
                        if admin { " allowing every action" } else { "" }
                    ),
                    format!("put an inline policy on permission set `{permission_set}`"),
                )
            }
            "CreateAccountAssignment" => {
                let (kind, principal, account) = (
                    field("principalType"),
                    field("principalId"),
                    field("targetId"),
                );
                (
                    META.severity,
                    format!(
                        "gave {} `{principal}` permission set `{permission_set}` in account {account}",
                        kind.to_ascii_lowercase()
                    ),
                    format!("give `{principal}` permission set `{permission_set}` in account {account}"),
                )
            }
            _ => (
                Severity::Low,
                format!("created permission set `{permission_set}`"),
                format!("create permission set `{permission_set}`"),
            ),
        };
        out.push(change_finding(
            &META,
            record,
            severity,
            Change {
                done,
                tried,
                resource: Resource {
                    kind: "AwsSsoPermissionSet".to_owned(),
                    id: permission_set,
                    name: None,
                },
                evidence_keys: &[
                    "instanceArn",
                    "managedPolicyArn",
                    "principalType",
                    "principalId",
                    "targetId",
                    "targetType",
                    "sessionDuration",
                ],
                summary: "Confirm the grant with the identity team; if unknown, remove it and re-provision the \
                          permission set."
                    .to_owned(),
            },
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent, ASSUMED_ROLE_MFA};

    const PS: &str = "arn:aws:sso:::permissionSet/ssoins-7223a1b2c3d4e5f6/ps-0123456789abcdef";

    #[test]
    fn admin_policies_on_permission_sets_are_high() {
        let attach = TestEvent::new("sso.amazonaws.com", "AttachManagedPolicyToPermissionSet")
            .identity(ASSUMED_ROLE_MFA)
            .request(&format!(r#"{{"instanceArn":"arn:aws:sso:::instance/ssoins-7223a1b2c3d4e5f6","permissionSetArn":"{PS}","managedPolicyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}}"#));
        let f = &check(&IdentityCenterAccessGranted, &attach)[0];
        assert_eq!(f.severity, Severity::High);
        let read_only = TestEvent::new("sso.amazonaws.com", "AttachManagedPolicyToPermissionSet")
            .request(&format!(r#"{{"permissionSetArn":"{PS}","managedPolicyArn":"arn:aws:iam::aws:policy/ReadOnlyAccess"}}"#));
        assert_eq!(
            check(&IdentityCenterAccessGranted, &read_only)[0].severity,
            Severity::Low
        );
        let inline = TestEvent::new("sso.amazonaws.com", "PutInlinePolicyToPermissionSet").request(&format!(
            r#"{{"permissionSetArn":"{PS}","inlinePolicy":"{{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}}]}}"}}"#
        ));
        assert_eq!(
            check(&IdentityCenterAccessGranted, &inline)[0].severity,
            Severity::High
        );
    }

    #[test]
    fn assignments_name_who_got_what_where() {
        let assign = TestEvent::new("sso.amazonaws.com", "CreateAccountAssignment").request(&format!(
            r#"{{"instanceArn":"arn:aws:sso:::instance/ssoins-7223a1b2c3d4e5f6","targetId":"111122223333","targetType":"AWS_ACCOUNT","permissionSetArn":"{PS}","principalType":"USER","principalId":"9067a1b2c3-0f1e2d3c-4b5a-6978-8c9d-0e1f2a3b4c5d"}}"#
        ));
        let f = &check(&IdentityCenterAccessGranted, &assign)[0];
        assert_eq!(f.severity, Severity::Medium);
        assert!(
            f.message.contains("in account 111122223333"),
            "{}",
            f.message
        );
    }
}
