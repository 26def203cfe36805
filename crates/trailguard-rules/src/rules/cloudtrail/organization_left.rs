//! CT021 organization-left: LeaveOrganization.

use trailguard_event::Record;

use super::common::{call_failed, describe_caller, finding_for, sh};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{CloudTrailRule, EventContext, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT021",
    name: "organization-left",
    title: "Account left its AWS Organization",
    family: Family::Cloudtrail,
    severity: Severity::High,
    attack: &["T1666", "T1562"],
    compliance: &["CIS-4.15"],
    events: &[("organizations.amazonaws.com", "LeaveOrganization")],
    kb_entries: &["LeaveOrganization"],
    doc: RuleDoc {
        what: "`LeaveOrganization`: a member account removes itself from its AWS Organization.",
        why: "Leaving the organization drops every service control policy, the organization trail, delegated \
              GuardDuty and Security Hub, and central billing visibility in one call (ATT&CK T1666; Stratus Red \
              Team `organizations-leave`). An attacker who controls the account can then do what the SCPs \
              forbade, unobserved by the security team.",
        example: "A role session in a member account calls `aws organizations leave-organization`.",
        fix: "If the account left, invite it back from the management account and accept the handshake from \
              the member account, then review what happened while it was outside. Deny \
              `organizations:LeaveOrganization` with an SCP on every member account.",
        references: &[
            "https://docs.aws.amazon.com/organizations/latest/APIReference/API_LeaveOrganization.html",
            "https://stratus-red-team.cloud/attack-techniques/AWS/aws.defense-evasion.organizations-leave/",
            "https://attack.mitre.org/techniques/T1666/",
        ],
    },
};

/// Flags every attempt to leave the organization.
#[derive(Debug, Default)]
pub struct OrganizationLeft;

impl CloudTrailRule for OrganizationLeft {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let account = record.account_id().unwrap_or("unknown").to_owned();
        let mut finding = finding_for(&META, record, META.severity);
        let who = describe_caller(&EventContext::from_record(record));
        finding.message = if call_failed(record) {
            format!(
                "{who} tried to take account {account} out of its organization; the call failed ({}).",
                record.error_code.as_deref().unwrap_or("error")
            )
        } else {
            format!("{who} took account {account} out of its organization; SCPs and organization-wide controls no longer apply.")
        };
        finding.resource = Some(Resource {
            kind: "AwsAccount".to_owned(),
            id: account.clone(),
            name: None,
        });
        if call_failed(record) {
            finding.fix.summary =
                "Nothing changed; find out why this principal tried, and deny the action with an SCP.".to_owned();
        } else {
            finding.fix.summary =
                "Invite the account back from the management account and accept from the member account.".to_owned();
            finding.fix.commands = vec![
                format!(
                    "aws organizations invite-account-to-organization --target Id={},Type=ACCOUNT  # in the management account",
                    sh(&account)
                ),
                "aws organizations list-handshakes-for-account  # in the member account".to_owned(),
                "aws organizations accept-handshake --handshake-id HANDSHAKE_ID  # in the member account".to_owned(),
            ];
            finding.fix.actions.push(FixAction::Manual {
                description: format!(
                    "Invite account {account} back into the organization and review the gap."
                ),
            });
        }
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Outcome;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent, ASSUMED_ROLE_MFA};

    #[test]
    fn leaving_is_high_with_reinvite_commands() {
        let e = TestEvent::new("organizations.amazonaws.com", "LeaveOrganization")
            .identity(ASSUMED_ROLE_MFA);
        let f = &check(&OrganizationLeft, &e)[0];
        assert_eq!(f.severity, Severity::High);
        assert_eq!(f.outcome, Outcome::Success);
        assert!(f.fix.commands[0].contains("--target Id=229654561268,Type=ACCOUNT"));
    }

    #[test]
    fn a_denied_leave_is_an_attempt() {
        let e = TestEvent::new("organizations.amazonaws.com", "LeaveOrganization").denied();
        let f = &check(&OrganizationLeft, &e)[0];
        assert_eq!(f.severity, Severity::Medium);
        assert!(f.message.contains("AccessDenied"));
        assert!(f.fix.commands.is_empty());
    }
}
