//! CT037 identity-center-access-granted: IAM Identity Center permission sets created or given powerful
//! policies, their permissions boundary taken away, and account assignments that hand a permission set to a
//! user or group. [`judge`] is the one judgement of a permission-set change; CT052 reuses it to follow a
//! privileged set to the people it is assigned to.

use serde_json::Value;
use trailguard_event::Record;

use super::common::{
    change_finding, member_either_case, member_str_either_case, policy_text, privileged_policy,
    Change,
};
use super::document_risk::assess;
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{CloudTrailRule, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT037",
    name: "identity-center-access-granted",
    title: "IAM Identity Center access granted",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1098.003", "T1484.002"],
    compliance: &["CIS-1.15"],
    events: &[
        ("sso.amazonaws.com", "CreatePermissionSet"),
        ("sso.amazonaws.com", "AttachManagedPolicyToPermissionSet"),
        ("sso.amazonaws.com", "AttachCustomerManagedPolicyReferenceToPermissionSet"),
        ("sso.amazonaws.com", "PutInlinePolicyToPermissionSet"),
        ("sso.amazonaws.com", "PutPermissionsBoundaryToPermissionSet"),
        ("sso.amazonaws.com", "DeletePermissionsBoundaryFromPermissionSet"),
        ("sso.amazonaws.com", "CreateAccountAssignment"),
        ("sso.amazonaws.com", "UpdatePermissionSet"),
        ("sso.amazonaws.com", "ProvisionPermissionSet"),
    ],
    kb_entries: &[],
    doc: RuleDoc {
        what: "IAM Identity Center changes that decide who gets which role in which account. **high** \
               (privileged): `AttachManagedPolicyToPermissionSet` with a privileged AWS managed policy (the list \
               CT005 uses: `AdministratorAccess`, `IAMFullAccess`, `PowerUserAccess`, `SystemAdministrator`, \
               ...; a lesser one such as `AWSKeyManagementServicePowerUser` is **medium**), and \
               `PutInlinePolicyToPermissionSet` whose document the policy analyser rates high or worse \
               (every action on every resource, `Allow` with `NotAction`, service-wide wildcards on sensitive \
               services, unrestricted privilege escalation; a medium-rated document is **medium**). **medium**: \
               the permissions boundary removed (`DeletePermissionsBoundaryFromPermissionSet`) or replaced by \
               a privileged AWS managed policy, which bounds nothing (`PutPermissionsBoundaryToPermissionSet`); \
               `CreateAccountAssignment` (a user or group given a permission set in an account), with the \
               principal, account and permission set in the evidence. **low**: `CreatePermissionSet`, \
               ordinary managed or inline policies, and `AttachCustomerManagedPolicyReferenceToPermissionSet` \
               (the policy's document lives in each account, not in the record; CT052 rates it when the scan \
               saw that policy created), and `UpdatePermissionSet` (its session duration, with how long a \
               session now lasts, or its relay state). **info**: a restrictive permissions boundary put on a \
               set, and `ProvisionPermissionSet` (the set's current policies pushed to the accounts it is \
               assigned in: what makes the changes above take effect).",
        why: "In an organization using Identity Center, permission sets are the roles people sign in to; an \
              attacker with Identity Center admin rights gives a user they control an admin permission set in \
              every account (ATT&CK T1098.003), which no IAM user or access key ever shows. The Identity Center \
              reserved roles (`AWSReservedSSO_*`) then appear in each account as if created by AWS. Removing a \
              set's permissions boundary is the quiet variant: the set's policies were already broad, the \
              boundary was what held them.",
        example: "`AttachManagedPolicyToPermissionSet` attaching `arn:aws:iam::aws:policy/AdministratorAccess` to \
                  `ps-0123456789abcdef`, then `CreateAccountAssignment` giving user `9067a1b2c3-...` that set \
                  in account 111122223333.",
        fix: "Confirm the grant with the identity team. If unknown, delete the account assignment \
              (`aws sso-admin delete-account-assignment`), detach the policy from the permission set (or put the \
              boundary back) and re-provision it, and review the sign-ins of the principal that received it.",
        references: &[
            "https://docs.aws.amazon.com/singlesignon/latest/userguide/permissionsetsconcept.html",
            "https://docs.aws.amazon.com/singlesignon/latest/userguide/logging-using-cloudtrail.html",
            "https://docs.aws.amazon.com/singlesignon/latest/APIReference/API_PutPermissionsBoundaryToPermissionSet.html",
        ],
    },
};

/// `path` + `name` of a customer managed policy reference (`{"name", "path"}`), e.g. `/ops/Admin`: the key
/// CT052 matches against policies created in the scan.
pub fn customer_policy_key(reference: Option<&Value>) -> Option<String> {
    let name = member_str_either_case(reference, "name")?;
    let path = member_str_either_case(reference, "path").unwrap_or_else(|| "/".to_owned());
    let path = if path.ends_with('/') {
        path
    } else {
        format!("{path}/")
    };
    Some(format!("{path}{name}"))
}

/// What one permission-set change gives, judged from the record alone.
#[derive(Debug, Clone)]
pub struct PermissionSetChange {
    pub severity: Severity,
    /// The permission set's ARN (its `name` for `CreatePermissionSet`).
    pub permission_set: String,
    /// Past tense, for the message, e.g. ``attached `...AdministratorAccess` (full access ...)``.
    pub done: String,
    /// Infinitive, for a failed call.
    pub tried: String,
    /// The change makes the set privileged (admin or near-admin): CT052 follows such sets to assignments.
    pub privileged: bool,
}

/// The judgement of an Identity Center permission-set call (the events of [`META`]); `None` for others.
/// Whether the call succeeded is left to the caller ([`super::common::call_failed`]).
pub fn judge(record: &Record<'_>) -> Option<PermissionSetChange> {
    let params = record.request_parameters();
    let params = params.as_ref();
    let field =
        |key: &str| member_str_either_case(params, key).unwrap_or_else(|| "unknown".to_owned());
    let permission_set = member_str_either_case(params, "permissionSetArn")
        .or_else(|| member_str_either_case(params, "name"))
        .unwrap_or_else(|| "unknown".to_owned());
    let ps = &permission_set;
    let (severity, privileged, done, tried) = match record.event_name.as_ref() {
        "AttachManagedPolicyToPermissionSet" => {
            let policy = field("managedPolicyArn");
            let found = privileged_policy(&policy);
            let severity = match found {
                Some(p) if p.severity >= Severity::High => Severity::High,
                Some(p) if p.severity >= Severity::Medium => Severity::Medium,
                _ => Severity::Low,
            };
            let why = found.map(|p| format!(" ({})", p.why)).unwrap_or_default();
            (
                severity,
                severity == Severity::High,
                format!("attached `{policy}`{why} to permission set `{ps}`"),
                format!("attach `{policy}` to permission set `{ps}`"),
            )
        }
        "PutInlinePolicyToPermissionSet" => {
            let (severity, what) = match policy_text(params, "inlinePolicy")
                .or_else(|| policy_text(params, "InlinePolicy"))
            {
                Some(text) => match assess(&text, "requestParameters.inlinePolicy") {
                    Ok(Some(risk)) => {
                        let severity = if risk.analysis.is_admin || risk.severity >= Severity::High {
                            Severity::High
                        } else if risk.severity == Severity::Medium {
                            Severity::Medium
                        } else {
                            Severity::Low
                        };
                        (severity, format!(" that {}", risk.reasons.join("; ")))
                    }
                    Ok(None) => (Severity::Low, String::new()),
                    Err(e) => (
                        Severity::Low,
                        format!(" (its document could not be analysed: {}; review it by hand)", e.0),
                    ),
                },
                None => (Severity::Low, " (no document in the record)".to_owned()),
            };
            (
                severity,
                severity == Severity::High,
                format!("put an inline policy{what} on permission set `{ps}`"),
                format!("put an inline policy{what} on permission set `{ps}`"),
            )
        }
        "AttachCustomerManagedPolicyReferenceToPermissionSet" => {
            let policy = customer_policy_key(member_either_case(params, "customerManagedPolicyReference"))
                .unwrap_or_else(|| "unknown".to_owned());
            (
                Severity::Low,
                false,
                format!(
                    "attached customer managed policy `{policy}` (defined in each target account) to \
                     permission set `{ps}`"
                ),
                format!("attach customer managed policy `{policy}` to permission set `{ps}`"),
            )
        }
        "PutPermissionsBoundaryToPermissionSet" => {
            let boundary = member_either_case(params, "permissionsBoundary");
            let managed = member_str_either_case(boundary, "managedPolicyArn");
            let unbounded = managed
                .as_deref()
                .and_then(privileged_policy)
                .filter(|p| p.severity >= Severity::High);
            let named = managed
                .clone()
                .or_else(|| customer_policy_key(member_either_case(boundary, "customerManagedPolicyReference")))
                .unwrap_or_else(|| "unknown".to_owned());
            match unbounded {
                Some(p) => (
                    Severity::Medium,
                    false,
                    format!(
                        "made `{named}` ({}) the permissions boundary of permission set `{ps}`, a boundary \
                         that limits nothing",
                        p.why
                    ),
                    format!("make `{named}` the permissions boundary of permission set `{ps}`"),
                ),
                None => (
                    Severity::Info,
                    false,
                    format!("put permissions boundary `{named}` on permission set `{ps}`"),
                    format!("put permissions boundary `{named}` on permission set `{ps}`"),
                ),
            }
        }
        "DeletePermissionsBoundaryFromPermissionSet" => (
            Severity::Medium,
            false,
            format!(
                "removed the permissions boundary of permission set `{ps}`: its policies now apply in full"
            ),
            format!("remove the permissions boundary of permission set `{ps}`"),
        ),
        "CreateAccountAssignment" => {
            let (kind, principal, account) =
                (field("principalType"), field("principalId"), field("targetId"));
            (
                META.severity,
                false,
                format!(
                    "gave {} `{principal}` permission set `{ps}` in account {account}",
                    kind.to_ascii_lowercase()
                ),
                format!("give `{principal}` permission set `{ps}` in account {account}"),
            )
        }
        "UpdatePermissionSet" => {
            let duration = member_str_either_case(params, "sessionDuration");
            let relay = member_str_either_case(params, "relayState");
            let mut what: Vec<String> = Vec::new();
            if let Some(duration) = &duration {
                what.push(format!(
                    "session duration now `{duration}`{}",
                    session_hours(duration)
                        .map(|h| format!(" (a session, stolen or not, now lasts up to {h} hours)"))
                        .unwrap_or_default()
                ));
            }
            if let Some(relay) = &relay {
                what.push(format!("relay state (the console page after sign-in) now `{relay}`"));
            }
            let what = if what.is_empty() {
                String::new()
            } else {
                format!(": {}", what.join(" and "))
            };
            (
                Severity::Low,
                false,
                format!("updated permission set `{ps}`{what}"),
                format!("update permission set `{ps}`{what}"),
            )
        }
        "ProvisionPermissionSet" => {
            let target = match field("targetType").as_str() {
                "AWS_ACCOUNT" => format!("account {}", field("targetId")),
                _ => "every account it is assigned in".to_owned(),
            };
            (
                Severity::Info,
                false,
                format!("provisioned permission set `{ps}` to {target}: its current policies apply there now"),
                format!("provision permission set `{ps}` to {target}"),
            )
        }
        "CreatePermissionSet" => (
            Severity::Low,
            false,
            format!("created permission set `{ps}`"),
            format!("create permission set `{ps}`"),
        ),
        _ => return None,
    };
    Some(PermissionSetChange {
        severity,
        permission_set,
        done,
        tried,
        privileged,
    })
}

/// Hours of an ISO 8601 session duration as permission sets take it (`PT12H`, `PT1H30M`, `PT90M`),
/// shown when at least one.
fn session_hours(duration: &str) -> Option<String> {
    let rest = duration.strip_prefix("PT")?;
    let (mut minutes, mut number) = (0u64, String::new());
    for c in rest.chars() {
        let unit = match c {
            '0'..='9' => {
                number.push(c);
                continue;
            }
            'H' => 60,
            'M' => 1,
            _ => return None,
        };
        minutes += std::mem::take(&mut number)
            .parse::<u64>()
            .ok()?
            .checked_mul(unit)?;
    }
    if !number.is_empty() || minutes < 60 {
        return None;
    }
    Some(if minutes % 60 == 0 {
        (minutes / 60).to_string()
    } else {
        format!("{:.1}", minutes as f64 / 60.0)
    })
}

/// Flags Identity Center grants.
#[derive(Debug, Default)]
pub struct IdentityCenterAccessGranted;

impl CloudTrailRule for IdentityCenterAccessGranted {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let Some(change) = judge(record) else {
            return;
        };
        let mut finding = change_finding(
            &META,
            record,
            change.severity,
            Change {
                done: change.done,
                tried: change.tried,
                resource: Resource {
                    kind: "AwsSsoPermissionSet".to_owned(),
                    id: change.permission_set,
                    name: None,
                },
                evidence_keys: &[
                    "instanceArn",
                    "managedPolicyArn",
                    "customerManagedPolicyReference",
                    "permissionsBoundary",
                    "principalType",
                    "principalId",
                    "targetId",
                    "targetType",
                    "sessionDuration",
                    "relayState",
                ],
                summary: "Confirm the grant with the identity team; if unknown, remove it and re-provision the \
                          permission set."
                    .to_owned(),
            },
        );
        // The statements that make an inline document risky, as `risky_inline_policy` shows them.
        if record.event_name == "PutInlinePolicyToPermissionSet" {
            if let Some(text) = policy_text(record.request_parameters().as_ref(), "inlinePolicy") {
                if let Ok(Some(risk)) = assess(&text, "requestParameters.inlinePolicy") {
                    finding.evidence.extend(risk.evidence.iter().cloned());
                }
            }
        }
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent, ASSUMED_ROLE_MFA};

    const PS: &str = "arn:aws:sso:::permissionSet/ssoins-7223a1b2c3d4e5f6/ps-0123456789abcdef";

    #[test]
    fn session_durations_read_as_hours() {
        assert_eq!(session_hours("PT12H").as_deref(), Some("12"));
        assert_eq!(session_hours("PT1H30M").as_deref(), Some("1.5"));
        assert_eq!(session_hours("PT90M").as_deref(), Some("1.5"));
        assert_eq!(session_hours("PT30M"), None);
        assert_eq!(session_hours("12 hours"), None);
        assert_eq!(session_hours("PT99999999999999999999H"), None);
    }

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
