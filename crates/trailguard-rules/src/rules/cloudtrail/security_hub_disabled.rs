//! CT053 security-hub-disabled: AWS Security Hub turned off or cut from its administrator account, the
//! event side of CIS AWS Foundations 4.16 ("ensure AWS Security Hub is enabled").

use trailguard_event::Record;

use super::cis_monitoring::monitored_change;
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{CloudTrailRule, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT053",
    name: "security-hub-disabled",
    title: "Security Hub disabled",
    family: Family::Cloudtrail,
    severity: Severity::High,
    attack: &["T1562.001"],
    compliance: &["CIS-4.16"],
    events: &[
        ("securityhub.amazonaws.com", "DisableSecurityHub"),
        ("securityhub.amazonaws.com", "BatchDisableStandards"),
        ("securityhub.amazonaws.com", "DisassociateFromAdministratorAccount"),
        ("securityhub.amazonaws.com", "DisassociateFromMasterAccount"),
        ("securityhub.amazonaws.com", "DisassociateMembers"),
        ("securityhub.amazonaws.com", "DeleteMembers"),
    ],
    kb_entries: &[],
    doc: RuleDoc {
        what: "The calls that undo what CIS 4.16 asks for. **high**: `DisableSecurityHub` (the account stops \
               running checks and collecting findings in that region). **medium**: standards unsubscribed \
               (`BatchDisableStandards`); a member account leaving its Security Hub administrator \
               (`DisassociateFromAdministratorAccount`, or the older `DisassociateFromMasterAccount`), so the \
               security team no longer sees its findings; an administrator dropping member accounts \
               (`DisassociateMembers`, `DeleteMembers`).",
        why: "Security Hub is where GuardDuty, Inspector, IAM Access Analyzer and the CIS checks meet; turning it \
              off, or hiding one account's findings from the administrator account, blinds the team before \
              the noisy part of an attack (ATT&CK T1562.001, impair defenses). CIS 4.16 requires it enabled in \
              every account and region.",
        example: "`aws securityhub disable-security-hub --region us-east-1` by a role session that also stopped \
                  the trail.",
        fix: "Re-enable it (`aws securityhub enable-security-hub`, then the standards) or re-associate the \
              account with its administrator, and find out why the caller could: deny \
              `securityhub:DisableSecurityHub` and `securityhub:Disassociate*` with a service control policy.",
        references: &[
            "https://docs.aws.amazon.com/securityhub/latest/userguide/securityhub-disable.html",
            "https://docs.aws.amazon.com/securityhub/latest/userguide/securityhub-ct-events.html",
            "https://attack.mitre.org/techniques/T1562/001/",
        ],
    },
};

/// Reports Security Hub being turned off or disconnected.
#[derive(Debug, Default)]
pub struct SecurityHubDisabled;

impl CloudTrailRule for SecurityHubDisabled {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let severity = match record.event_name.as_ref() {
            "DisableSecurityHub" => Severity::High,
            _ => Severity::Medium,
        };
        out.push(monitored_change(&META, record, severity, "Security Hub"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent};

    #[test]
    fn disabling_is_high_and_carries_the_control_id() {
        let e = TestEvent::new("securityhub.amazonaws.com", "DisableSecurityHub").request("{}");
        let f = &check(&SecurityHubDisabled, &e)[0];
        assert_eq!(f.severity, Severity::High);
        assert!(f.compliance.contains(&"CIS-4.16".to_owned()));
        let standards = TestEvent::new("securityhub.amazonaws.com", "BatchDisableStandards").request(
            r#"{"standardsSubscriptionArns":["arn:aws:securityhub:us-east-1:229654561268:subscription/cis-aws-foundations-benchmark/v/1.2.0"]}"#,
        );
        assert_eq!(
            check(&SecurityHubDisabled, &standards)[0].severity,
            Severity::Medium
        );
    }

    #[test]
    fn a_refused_call_is_an_attempt() {
        let e = TestEvent::new("securityhub.amazonaws.com", "DisableSecurityHub")
            .request("{}")
            .denied();
        let f = &check(&SecurityHubDisabled, &e)[0];
        assert!(f.title.starts_with("Attempted:"));
        assert_eq!(f.severity, Severity::Medium);
    }
}
