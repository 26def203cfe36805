//! CT048 vpc-changed: vpc changed, the event set of CIS AWS Foundations 4.14 (Security Hub CloudWatch.14).

use trailguard_event::Record;

use super::cis_monitoring::monitored_change;
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{CloudTrailRule, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT048",
    name: "vpc-changed",
    title: "VPC changed",
    family: Family::Cloudtrail,
    severity: Severity::Low,
    attack: &["T1562.007", "T1048"],
    compliance: &["CIS-4.14", "CloudWatch.14"],
    events: &[
        ("ec2.amazonaws.com", "CreateVpc"),
        ("ec2.amazonaws.com", "DeleteVpc"),
        ("ec2.amazonaws.com", "ModifyVpcAttribute"),
        ("ec2.amazonaws.com", "AcceptVpcPeeringConnection"),
        ("ec2.amazonaws.com", "CreateVpcPeeringConnection"),
        ("ec2.amazonaws.com", "DeleteVpcPeeringConnection"),
        ("ec2.amazonaws.com", "RejectVpcPeeringConnection"),
        ("ec2.amazonaws.com", "AttachClassicLinkVpc"),
        ("ec2.amazonaws.com", "DetachClassicLinkVpc"),
        ("ec2.amazonaws.com", "DisableVpcClassicLink"),
        ("ec2.amazonaws.com", "EnableVpcClassicLink"),
    ],
    kb_entries: &[],
    doc: RuleDoc {
        what: "Every call CIS 4.14 watches: VPCs created, deleted or modified, peering connections created, accepted, \
               rejected or deleted, and ClassicLink changes. **low**.",
        why: "A peering connection joins two networks, possibly across accounts, and bypasses the gateways and \
              firewalls in between (ATT&CK T1048). CIS 4.14 (Security Hub CloudWatch.14) asks for an alarm on every \
              change.",
        example: "`aws ec2 accept-vpc-peering-connection --vpc-peering-connection-id pcx-0123456789abcdef0` for a peer in an unknown account.",
        fix: "Check the VPC and its peering connections (`aws ec2 describe-vpc-peering-connections`) and delete \
              connections nobody planned.",
        references: &[
            "https://docs.aws.amazon.com/securityhub/latest/userguide/cloudwatch-controls.html#cloudwatch-14",
            "https://docs.aws.amazon.com/vpc/latest/peering/what-is-vpc-peering.html",
        ],
    },
};

/// Reports every VPC change CIS 4.14 monitors.
#[derive(Debug, Default)]
pub struct VpcChanged;

impl CloudTrailRule for VpcChanged {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let severity = META.severity;
        out.push(monitored_change(&META, record, severity, "VPC"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent};

    #[test]
    fn a_monitored_call_is_reported_with_the_control_id() {
        let e = TestEvent::new("ec2.amazonaws.com", "CreateVpc").request(r#"{"cidrBlock":"10.0.0.0/16","instanceTenancy":"default","amazonProvidedIpv6CidrBlock":false}"#);
        let f = &check(&VpcChanged, &e)[0];
        assert_eq!(f.severity, Severity::Low);
        assert!(f.compliance.contains(&"CIS-4.14".to_owned()));
        assert!(f.message.contains("CreateVpc"), "{}", f.message);
    }

    #[test]
    fn reads_are_not_monitored_changes() {
        assert!(!META.events.iter().any(|&(_, name)| name == "DescribeVpcs"));
        let denied = TestEvent::new("ec2.amazonaws.com", "CreateVpc")
            .request(r#"{"cidrBlock":"10.0.0.0/16","instanceTenancy":"default","amazonProvidedIpv6CidrBlock":false}"#)
            .denied();
        let f = &check(&VpcChanged, &denied)[0];
        assert!(f.title.starts_with("Attempted:"));
        assert!(f.fix.actions.is_empty());
    }
}
