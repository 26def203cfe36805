//! CT036 organization-guardrail-removed: service control (and other) policies detached, deleted or
//! rewritten, policy types disabled, accounts removed from the organization.

use trailguard_event::Record;

use super::common::{change_finding, request_field, Change};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{CloudTrailRule, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT036",
    name: "organization-guardrail-removed",
    title: "Organization guardrail removed",
    family: Family::Cloudtrail,
    severity: Severity::High,
    attack: &["T1562.001", "T1484.001"],
    compliance: &["CIS-4.15", "CloudWatch.15"],
    events: &[
        ("organizations.amazonaws.com", "DetachPolicy"),
        ("organizations.amazonaws.com", "DisablePolicyType"),
        ("organizations.amazonaws.com", "RemoveAccountFromOrganization"),
        ("organizations.amazonaws.com", "DeletePolicy"),
        ("organizations.amazonaws.com", "UpdatePolicy"),
        ("organizations.amazonaws.com", "DisableAWSServiceAccess"),
        ("organizations.amazonaws.com", "DeregisterDelegatedAdministrator"),
    ],
    kb_entries: &["DisableAWSServiceAccess", "DeregisterDelegatedAdministrator"],
    doc: RuleDoc {
        what: "Guardrails of an AWS Organization taken away. **high**: a policy detached from a root, OU or \
               account (`DetachPolicy`), a policy type disabled for a root (`DisablePolicyType`, e.g. \
               `SERVICE_CONTROL_POLICY`: every SCP stops applying at once), an account removed from the \
               organization (`RemoveAccountFromOrganization`); trusted access turned off for a security or \
               audit service (`DisableAWSServiceAccess` for CloudTrail, GuardDuty, Security Hub, Config, \
               IAM Access Analyzer, IAM Identity Center, Macie, Inspector, Detective or Firewall Manager: \
               an organization trail stops recording the members, the detectors stop being managed) or its \
               delegated administrator removed (`DeregisterDelegatedAdministrator`: the security account \
               loses its view of every member's findings). **medium**: a policy deleted (`DeletePolicy`, \
               only possible once detached) or its content replaced (`UpdatePolicy`, which may weaken it); \
               trusted access or a delegated administrator removed for any other service.",
        why: "SCPs and resource control policies are the limits no one in a member account can lift: deny \
              leaving the organization, deny disabling CloudTrail or GuardDuty, region locks. An attacker with \
              management-account access removes them first, then acts in the member accounts unhindered \
              (ATT&CK T1562.001, T1484.001).",
        example: "`aws organizations detach-policy --policy-id p-examplescp1 --target-id ou-ab12-prod0001`.",
        fix: "Re-attach the policy or re-enable the policy type (`enable-policy-type --root-id r-... \
              --policy-type SERVICE_CONTROL_POLICY`), or turn the service's trusted access back on \
              (`enable-aws-service-access`) and re-register its delegated administrator, then review what \
              the affected accounts did while unguarded. Limit `organizations:*Policy*` and these calls \
              to a break-glass role.",
        references: &[
            "https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html",
            "https://docs.aws.amazon.com/organizations/latest/APIReference/API_DisablePolicyType.html",
            "https://docs.aws.amazon.com/organizations/latest/userguide/orgs_integrate_services_list.html",
        ],
    },
};

/// The services whose organization-wide integration is a guardrail: audit, detection and sign-in.
pub const SECURITY_SERVICES: &[&str] = &[
    "cloudtrail.amazonaws.com",
    "guardduty.amazonaws.com",
    "securityhub.amazonaws.com",
    "config.amazonaws.com",
    "config-multiaccountsetup.amazonaws.com",
    "access-analyzer.amazonaws.com",
    "sso.amazonaws.com",
    "macie.amazonaws.com",
    "inspector2.amazonaws.com",
    "detective.amazonaws.com",
    "fms.amazonaws.com",
];

/// Flags organization guardrails being removed or weakened.
#[derive(Debug, Default)]
pub struct OrganizationGuardrailRemoved;

impl CloudTrailRule for OrganizationGuardrailRemoved {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let params = record.request_parameters();
        let field =
            |key: &str| request_field(params.as_ref(), key).unwrap_or_else(|| "unknown".to_owned());
        // Trusted access and delegated administrators: the organization's integrations with a service,
        // reported on the service rather than a policy.
        let integration = matches!(
            record.event_name.as_ref(),
            "DisableAWSServiceAccess" | "DeregisterDelegatedAdministrator"
        );
        let (severity, done, tried, id) = match record.event_name.as_ref() {
            "DetachPolicy" => {
                let (policy, target) = (field("policyId"), field("targetId"));
                (
                    META.severity,
                    format!("detached organization policy `{policy}` from `{target}`"),
                    format!("detach organization policy `{policy}` from `{target}`"),
                    policy,
                )
            }
            "DisablePolicyType" => {
                let (kind, root) = (field("policyType"), field("rootId"));
                (
                    META.severity,
                    format!("disabled policy type `{kind}` for root `{root}`: no policy of that type applies any more"),
                    format!("disable policy type `{kind}` for root `{root}`"),
                    root,
                )
            }
            "RemoveAccountFromOrganization" => {
                let account = field("accountId");
                (
                    META.severity,
                    format!("removed account `{account}` from the organization and its guardrails"),
                    format!("remove account `{account}` from the organization"),
                    account,
                )
            }
            name if integration => {
                let service = field("servicePrincipal");
                let severity = if SECURITY_SERVICES.contains(&service.to_ascii_lowercase().as_str())
                {
                    META.severity
                } else {
                    Severity::Medium
                };
                let (done, tried) = if name == "DisableAWSServiceAccess" {
                    (
                        format!(
                            "turned off trusted access for `{service}` across the organization"
                        ),
                        format!("turn off trusted access for `{service}`"),
                    )
                } else {
                    let account = field("accountId");
                    (
                        format!(
                            "removed account `{account}` as delegated administrator of `{service}`"
                        ),
                        format!(
                            "remove account `{account}` as delegated administrator of `{service}`"
                        ),
                    )
                };
                (severity, done, tried, service)
            }
            "DeletePolicy" => {
                let policy = field("policyId");
                (
                    Severity::Medium,
                    format!("deleted organization policy `{policy}`"),
                    format!("delete organization policy `{policy}`"),
                    policy,
                )
            }
            _ => {
                let policy = field("policyId");
                (
                    Severity::Medium,
                    format!("replaced organization policy `{policy}`"),
                    format!("change organization policy `{policy}`"),
                    policy,
                )
            }
        };
        out.push(change_finding(
            &META,
            record,
            severity,
            Change {
                done,
                tried,
                resource: if integration {
                    Resource {
                        kind: "AwsOrganizationsServiceIntegration".to_owned(),
                        name: Some(id.clone()),
                        id,
                    }
                } else {
                    Resource {
                        kind: "AwsOrganizationsPolicy".to_owned(),
                        id,
                        name: None,
                    }
                },
                evidence_keys: &[
                    "policyId",
                    "targetId",
                    "policyType",
                    "rootId",
                    "accountId",
                    "servicePrincipal",
                    "content",
                ],
                summary: if integration {
                    "Turn the service's trusted access back on (`aws organizations \
                     enable-aws-service-access`) or re-register its delegated administrator, then \
                     review what the member accounts did while the service did not cover them."
                        .to_owned()
                } else {
                    "Restore the guardrail (re-attach the policy or re-enable the policy type) and \
                     review what the affected accounts did meanwhile."
                        .to_owned()
                },
            },
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent};

    #[test]
    fn detaching_and_disabling_are_high_deleting_medium() {
        let detach = TestEvent::new("organizations.amazonaws.com", "DetachPolicy")
            .request(r#"{"policyId":"p-examplescp1","targetId":"ou-ab12-prod0001"}"#);
        let f = &check(&OrganizationGuardrailRemoved, &detach)[0];
        assert_eq!(f.severity, Severity::High);
        assert!(
            f.message
                .contains("detached organization policy `p-examplescp1` from `ou-ab12-prod0001`"),
            "{}",
            f.message
        );
        let disable = TestEvent::new("organizations.amazonaws.com", "DisablePolicyType")
            .request(r#"{"policyType":"SERVICE_CONTROL_POLICY","rootId":"r-ab12"}"#);
        assert_eq!(
            check(&OrganizationGuardrailRemoved, &disable)[0].severity,
            Severity::High
        );
        let delete = TestEvent::new("organizations.amazonaws.com", "DeletePolicy")
            .request(r#"{"policyId":"p-examplescp1"}"#);
        assert_eq!(
            check(&OrganizationGuardrailRemoved, &delete)[0].severity,
            Severity::Medium
        );
        let denied = detach.denied();
        let f = &check(&OrganizationGuardrailRemoved, &denied)[0];
        assert_eq!(f.severity, Severity::Medium);
        assert!(f.fix.actions.is_empty());
    }
}
