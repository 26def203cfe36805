//! CT044 security-group-changed: security group changed, the event set of CIS AWS Foundations 4.10 (Security Hub CloudWatch.10).

use trailguard_event::Record;

use super::cis_monitoring::monitored_change;
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{CloudTrailRule, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT044",
    name: "security-group-changed",
    title: "Security group changed",
    family: Family::Cloudtrail,
    severity: Severity::Low,
    attack: &["T1562.007"],
    compliance: &["CIS-4.10", "CloudWatch.10"],
    events: &[
        ("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress"),
        ("ec2.amazonaws.com", "AuthorizeSecurityGroupEgress"),
        ("ec2.amazonaws.com", "RevokeSecurityGroupIngress"),
        ("ec2.amazonaws.com", "RevokeSecurityGroupEgress"),
        ("ec2.amazonaws.com", "CreateSecurityGroup"),
        ("ec2.amazonaws.com", "DeleteSecurityGroup"),
    ],
    kb_entries: &[],
    doc: RuleDoc {
        what: "Every call CIS 4.10 watches: security groups created or deleted and rules authorized or revoked, \
               ingress and egress. **low**; the group id and the request are in the evidence.",
        why: "Security groups are the instance-level firewall; a rule opened to `0.0.0.0/0` on SSH or RDP is a \
              classic way in and out (ATT&CK T1562.007, Stratus Red Team `ec2-security-group-open-port-22-ingress`). \
              CIS 4.10 (Security Hub CloudWatch.10) asks for an alarm on every change.",
        example: "`aws ec2 authorize-security-group-ingress --group-id sg-0123456789abcdef0 --protocol tcp --port 22 --cidr 0.0.0.0/0`.",
        fix: "Check the group's rules (`aws ec2 describe-security-group-rules --filters Name=group-id,Values=...`) \
              and revoke what the change opened if it was not planned.",
        references: &[
            "https://docs.aws.amazon.com/securityhub/latest/userguide/cloudwatch-controls.html#cloudwatch-10",
            "https://docs.aws.amazon.com/vpc/latest/userguide/vpc-security-groups.html",
        ],
    },
};

/// Reports every security group change CIS 4.10 monitors.
#[derive(Debug, Default)]
pub struct SecurityGroupChanged;

impl CloudTrailRule for SecurityGroupChanged {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let severity = META.severity;
        out.push(monitored_change(&META, record, severity, "security group"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent};

    #[test]
    fn a_monitored_call_is_reported_with_the_control_id() {
        let e = TestEvent::new("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress").request(r#"{"groupId":"sg-0123456789abcdef0","ipPermissions":{"items":[{"ipProtocol":"tcp","fromPort":22,"toPort":22,"groups":{},"ipRanges":{"items":[{"cidrIp":"0.0.0.0/0"}]},"ipv6Ranges":{},"prefixListIds":{}}]}}"#);
        let f = &check(&SecurityGroupChanged, &e)[0];
        assert_eq!(f.severity, Severity::Low);
        assert!(f.compliance.contains(&"CIS-4.10".to_owned()));
        assert!(
            f.message.contains("AuthorizeSecurityGroupIngress"),
            "{}",
            f.message
        );
    }

    #[test]
    fn reads_are_not_monitored_changes() {
        assert!(!META
            .events
            .iter()
            .any(|&(_, name)| name == "DescribeSecurityGroups"));
        let denied = TestEvent::new("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress")
            .request(r#"{"groupId":"sg-0123456789abcdef0","ipPermissions":{"items":[{"ipProtocol":"tcp","fromPort":22,"toPort":22,"groups":{},"ipRanges":{"items":[{"cidrIp":"0.0.0.0/0"}]},"ipv6Ranges":{},"prefixListIds":{}}]}}"#)
            .denied();
        let f = &check(&SecurityGroupChanged, &denied)[0];
        assert!(f.title.starts_with("Attempted:"));
        assert!(f.fix.actions.is_empty());
    }
}
