//! CT046 network-gateway-changed: network gateway changed, the event set of CIS AWS Foundations 4.12 (Security Hub CloudWatch.12).

use trailguard_event::Record;

use super::cis_monitoring::monitored_change;
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{CloudTrailRule, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT046",
    name: "network-gateway-changed",
    title: "Network gateway changed",
    family: Family::Cloudtrail,
    severity: Severity::Low,
    attack: &["T1562.007", "T1048"],
    compliance: &["CIS-4.12", "CloudWatch.12"],
    events: &[
        ("ec2.amazonaws.com", "CreateCustomerGateway"),
        ("ec2.amazonaws.com", "DeleteCustomerGateway"),
        ("ec2.amazonaws.com", "AttachInternetGateway"),
        ("ec2.amazonaws.com", "CreateInternetGateway"),
        ("ec2.amazonaws.com", "DeleteInternetGateway"),
        ("ec2.amazonaws.com", "DetachInternetGateway"),
    ],
    kb_entries: &[],
    doc: RuleDoc {
        what: "Every call CIS 4.12 watches: internet gateways created, attached, detached or deleted and customer \
               (VPN) gateways created or deleted. **low**.",
        why: "A gateway decides whether a VPC can reach the internet or another network at all; attaching one to a \
              private VPC opens a path for exfiltration (ATT&CK T1048). CIS 4.12 (Security Hub CloudWatch.12) asks \
              for an alarm on every change.",
        example: "`aws ec2 attach-internet-gateway --internet-gateway-id igw-0123456789abcdef0 --vpc-id vpc-0123456789abcdef0` on a VPC meant to stay private.",
        fix: "Check which VPC the gateway serves (`aws ec2 describe-internet-gateways`) and detach it if the change \
              was not planned.",
        references: &[
            "https://docs.aws.amazon.com/securityhub/latest/userguide/cloudwatch-controls.html#cloudwatch-12",
            "https://docs.aws.amazon.com/vpc/latest/userguide/VPC_Internet_Gateway.html",
        ],
    },
};

/// Reports every network gateway change CIS 4.12 monitors.
#[derive(Debug, Default)]
pub struct NetworkGatewayChanged;

impl CloudTrailRule for NetworkGatewayChanged {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let severity = META.severity;
        out.push(monitored_change(&META, record, severity, "network gateway"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent};

    #[test]
    fn a_monitored_call_is_reported_with_the_control_id() {
        let e = TestEvent::new("ec2.amazonaws.com", "AttachInternetGateway").request(
            r#"{"internetGatewayId":"igw-0123456789abcdef0","vpcId":"vpc-0123456789abcdef0"}"#,
        );
        let f = &check(&NetworkGatewayChanged, &e)[0];
        assert_eq!(f.severity, Severity::Low);
        assert!(f.compliance.contains(&"CIS-4.12".to_owned()));
        assert!(f.message.contains("AttachInternetGateway"), "{}", f.message);
    }

    #[test]
    fn reads_are_not_monitored_changes() {
        assert!(!META
            .events
            .iter()
            .any(|&(_, name)| name == "DescribeInternetGateways"));
        let denied = TestEvent::new("ec2.amazonaws.com", "AttachInternetGateway")
            .request(
                r#"{"internetGatewayId":"igw-0123456789abcdef0","vpcId":"vpc-0123456789abcdef0"}"#,
            )
            .denied();
        let f = &check(&NetworkGatewayChanged, &denied)[0];
        assert!(f.title.starts_with("Attempted:"));
        assert!(f.fix.actions.is_empty());
    }
}
