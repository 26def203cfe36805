//! CT089 organization-delegation-granted: a member account made delegated administrator of a service
//! for the whole organization, a service given trusted access to every account, or all features turned
//! on. The additions that CT036 watches the removal of.

use trailguard_event::Record;

use super::common::{call_failed, change_finding, request_field, worth_reporting, Change};
use super::organization_guardrail_removed::SECURITY_SERVICES;
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{CloudTrailRule, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT089",
    name: "organization-delegation-granted",
    title: "Organization-wide administration delegated",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1484.002", "T1098"],
    compliance: &["CIS-4.15"],
    events: &[
        ("organizations.amazonaws.com", "RegisterDelegatedAdministrator"),
        ("organizations.amazonaws.com", "EnableAWSServiceAccess"),
        ("organizations.amazonaws.com", "EnableAllFeatures"),
    ],
    kb_entries: &[
        "RegisterDelegatedAdministrator",
        "EnableAWSServiceAccess",
        "EnableAllFeatures",
    ],
    doc: RuleDoc {
        what: "`RegisterDelegatedAdministrator`: a member account made administrator of a service for the \
               whole organization. **high** for IAM Identity Center (`sso.amazonaws.com`: that account \
               then creates permission sets and assigns them in every member account); **medium** for \
               the other audit and detection services CT036 guards (CloudTrail, GuardDuty, Security \
               Hub, Config, Access Analyzer, Macie, Inspector, Detective, Firewall Manager: that account \
               then decides what they watch and report); **low** for any other service. \
               `EnableAWSServiceAccess` (a service given trusted access, with a service-linked role in \
               every account) and `EnableAllFeatures` (the step that makes service control policies \
               possible): **low**. A refused call is an attempt, one step lower; a refused low one is \
               not reported.",
        why: "Delegated administration moves power over every account out of the management account, \
              whose use is rare and closely watched, into a member account where fewer people look. An \
              intruder who controls a member account and registers it as Identity Center's delegated \
              administrator can give themselves any role in any member account (ATT&CK T1484.002); as \
              GuardDuty's or Security Hub's, they can turn off or suppress the organization's findings.",
        example: "`aws organizations register-delegated-administrator --account-id 111122223333 \
                  --service-principal sso.amazonaws.com`, called in the management account.",
        fix: "Confirm the delegation with the owners of the organization. If unknown, deregister the \
              account (`aws organizations deregister-delegated-administrator`), then review what it did \
              with the service since: for Identity Center, the permission sets and account assignments \
              it created.",
        references: &[
            "https://docs.aws.amazon.com/organizations/latest/APIReference/API_RegisterDelegatedAdministrator.html",
            "https://docs.aws.amazon.com/singlesignon/latest/userguide/delegated-admin.html",
            "https://docs.aws.amazon.com/organizations/latest/userguide/orgs_integrate_services.html",
        ],
    },
};

/// Flags organization-wide administration handed to a member account or a service.
#[derive(Debug, Default)]
pub struct OrganizationDelegationGranted;

impl CloudTrailRule for OrganizationDelegationGranted {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let params = record.request_parameters();
        let field =
            |key: &str| request_field(params.as_ref(), key).unwrap_or_else(|| "unknown".to_owned());
        let service = field("servicePrincipal");
        let (severity, done, tried, resource) = match record.event_name.as_ref() {
            "RegisterDelegatedAdministrator" => {
                let account = field("accountId");
                let principal = service.to_ascii_lowercase();
                let (severity, power) = if principal == "sso.amazonaws.com" {
                    (
                        Severity::High,
                        ": it can now create permission sets and assign them in every member account",
                    )
                } else if SECURITY_SERVICES.contains(&principal.as_str()) {
                    (
                        META.severity,
                        ": it now decides what that service watches and reports across the organization",
                    )
                } else {
                    (Severity::Low, "")
                };
                (
                    severity,
                    format!(
                        "made account `{account}` delegated administrator of `{service}` for the \
                         organization{power}"
                    ),
                    format!("make account `{account}` delegated administrator of `{service}`"),
                    integration(&service),
                )
            }
            "EnableAWSServiceAccess" => (
                Severity::Low,
                format!(
                    "gave `{service}` trusted access to every account of the organization (it creates \
                     its service-linked role in each)"
                ),
                format!("give `{service}` trusted access to the organization"),
                integration(&service),
            ),
            _ => (
                Severity::Low,
                "started enabling all features of the organization (service control policies become \
                 possible once every member accepts)"
                    .to_owned(),
                "enable all features of the organization".to_owned(),
                Resource {
                    kind: "AwsOrganizationsOrganization".to_owned(),
                    id: record.account_id().unwrap_or("unknown").to_owned(),
                    name: None,
                },
            ),
        };
        if !worth_reporting(call_failed(record), severity) {
            return;
        }
        out.push(change_finding(
            &META,
            record,
            severity,
            Change {
                done,
                tried,
                resource,
                evidence_keys: &["accountId", "servicePrincipal"],
                summary: "Confirm the delegation with the organization's owners; if unknown, undo it \
                          (`aws organizations deregister-delegated-administrator` or \
                          `disable-aws-service-access`) and review what the account or service did since."
                    .to_owned(),
            },
        ));
    }
}

/// The organization's integration with `service`, as CT036 names it.
fn integration(service: &str) -> Resource {
    Resource {
        kind: "AwsOrganizationsServiceIntegration".to_owned(),
        id: service.to_owned(),
        name: Some(service.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent};

    fn register(service: &str) -> TestEvent {
        TestEvent::new(
            "organizations.amazonaws.com",
            "RegisterDelegatedAdministrator",
        )
        .request(&format!(
            r#"{{"accountId":"111122223333","servicePrincipal":"{service}"}}"#
        ))
    }

    #[test]
    fn identity_center_delegation_is_high_and_detection_medium() {
        let f = &check(
            &OrganizationDelegationGranted,
            &register("sso.amazonaws.com"),
        )[0];
        assert_eq!(f.severity, Severity::High);
        assert!(f.message.contains("permission sets"), "{}", f.message);
        let f = &check(
            &OrganizationDelegationGranted,
            &register("GuardDuty.amazonaws.com"),
        )[0];
        assert_eq!(f.severity, Severity::Medium);
        let f = &check(
            &OrganizationDelegationGranted,
            &register("backup.amazonaws.com"),
        )[0];
        assert_eq!(f.severity, Severity::Low);
        assert!(
            check(
                &OrganizationDelegationGranted,
                &register("backup.amazonaws.com").denied()
            )
            .is_empty(),
            "a refused low call is not reported"
        );
    }
}
