//! CT049 organization-changed: aws organizations changed, the event set of CIS AWS Foundations 4.15 (Security Hub CloudWatch.15).

use trailguard_event::Record;

use super::cis_monitoring::monitored_change;
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{CloudTrailRule, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT049",
    name: "organization-changed",
    title: "AWS Organizations changed",
    family: Family::Cloudtrail,
    severity: Severity::Low,
    attack: &["T1484.002", "T1562.001"],
    compliance: &["CIS-4.15", "CloudWatch.15"],
    events: &[
        ("organizations.amazonaws.com", "AcceptHandshake"),
        ("organizations.amazonaws.com", "AttachPolicy"),
        ("organizations.amazonaws.com", "CreateAccount"),
        ("organizations.amazonaws.com", "CreateOrganizationalUnit"),
        ("organizations.amazonaws.com", "CreatePolicy"),
        ("organizations.amazonaws.com", "DeclineHandshake"),
        ("organizations.amazonaws.com", "DeleteOrganization"),
        ("organizations.amazonaws.com", "DeleteOrganizationalUnit"),
        ("organizations.amazonaws.com", "DeletePolicy"),
        ("organizations.amazonaws.com", "DetachPolicy"),
        ("organizations.amazonaws.com", "DisablePolicyType"),
        ("organizations.amazonaws.com", "EnablePolicyType"),
        ("organizations.amazonaws.com", "InviteAccountToOrganization"),
        ("organizations.amazonaws.com", "LeaveOrganization"),
        ("organizations.amazonaws.com", "MoveAccount"),
        ("organizations.amazonaws.com", "RemoveAccountFromOrganization"),
        ("organizations.amazonaws.com", "UpdatePolicy"),
        ("organizations.amazonaws.com", "UpdateOrganizationalUnit"),
    ],
    kb_entries: &[],
    doc: RuleDoc {
        what: "Every call CIS 4.15 watches in AWS Organizations: accounts created, invited, moved or removed, \
               organizational units and policies created, changed, attached, detached or deleted, policy types \
               enabled or disabled, handshakes, leaving or deleting the organization. **low**: CT021, CT035 and \
               CT036 rate the risky ones.",
        why: "The organization's structure and policies are the guardrails of every member account; any change to \
              them changes what members can do (ATT&CK T1484.002). CIS 4.15 (Security Hub CloudWatch.15) asks for an \
              alarm on every change.",
        example: "`aws organizations move-account --account-id 111122223333 --source-parent-id ou-ab12-prod0001 --destination-parent-id r-ab12`.",
        fix: "Review the change against the organization's intended structure (`aws organizations list-policies-for-target`, \
              `list-parents`) and revert unplanned changes.",
        references: &[
            "https://docs.aws.amazon.com/securityhub/latest/userguide/cloudwatch-controls.html#cloudwatch-15",
            "https://docs.aws.amazon.com/organizations/latest/userguide/orgs_security_incident-response.html",
        ],
    },
};

/// Reports every AWS Organizations change CIS 4.15 monitors.
#[derive(Debug, Default)]
pub struct OrganizationChanged;

impl CloudTrailRule for OrganizationChanged {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let severity = META.severity;
        out.push(monitored_change(
            &META,
            record,
            severity,
            "AWS Organizations",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent};

    #[test]
    fn a_monitored_call_is_reported_with_the_control_id() {
        let e = TestEvent::new("organizations.amazonaws.com", "MoveAccount").request(r#"{"accountId":"111122223333","sourceParentId":"ou-ab12-prod0001","destinationParentId":"r-ab12"}"#);
        let f = &check(&OrganizationChanged, &e)[0];
        assert_eq!(f.severity, Severity::Low);
        assert!(f.compliance.contains(&"CIS-4.15".to_owned()));
        assert!(f.message.contains("MoveAccount"), "{}", f.message);
    }

    #[test]
    fn reads_are_not_monitored_changes() {
        assert!(!META.events.iter().any(|&(_, name)| name == "ListAccounts"));
        let denied = TestEvent::new("organizations.amazonaws.com", "MoveAccount")
            .request(r#"{"accountId":"111122223333","sourceParentId":"ou-ab12-prod0001","destinationParentId":"r-ab12"}"#)
            .denied();
        let f = &check(&OrganizationChanged, &denied)[0];
        assert!(f.title.starts_with("Attempted:"));
        assert!(f.fix.actions.is_empty());
    }
}
