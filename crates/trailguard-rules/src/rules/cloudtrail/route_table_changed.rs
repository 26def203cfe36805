//! CT047 route-table-changed: route table changed, the event set of CIS AWS Foundations 4.13 (Security Hub CloudWatch.13).

use trailguard_event::Record;

use super::cis_monitoring::monitored_change;
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{CloudTrailRule, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT047",
    name: "route-table-changed",
    title: "Route table changed",
    family: Family::Cloudtrail,
    severity: Severity::Low,
    attack: &["T1562.007", "T1048"],
    compliance: &["CIS-4.13", "CloudWatch.13"],
    events: &[
        ("ec2.amazonaws.com", "CreateRoute"),
        ("ec2.amazonaws.com", "CreateRouteTable"),
        ("ec2.amazonaws.com", "ReplaceRoute"),
        ("ec2.amazonaws.com", "ReplaceRouteTableAssociation"),
        ("ec2.amazonaws.com", "DeleteRouteTable"),
        ("ec2.amazonaws.com", "DeleteRoute"),
        ("ec2.amazonaws.com", "DisassociateRouteTable"),
    ],
    kb_entries: &[],
    doc: RuleDoc {
        what: "Every call CIS 4.13 watches: route tables created or deleted, routes created, replaced or deleted, \
               and subnet associations replaced or removed. **low**.",
        why: "Routes decide where a subnet's traffic goes; a default route to an internet gateway or a foreign \
              appliance can open or redirect traffic (ATT&CK T1048). CIS 4.13 (Security Hub CloudWatch.13) asks for \
              an alarm on every change.",
        example: "`aws ec2 create-route --route-table-id rtb-0123456789abcdef0 --destination-cidr-block 0.0.0.0/0 --gateway-id igw-0123456789abcdef0`.",
        fix: "Compare the table's routes and associations with their intended state (`aws ec2 describe-route-tables`) \
              and revert unplanned changes.",
        references: &[
            "https://docs.aws.amazon.com/securityhub/latest/userguide/cloudwatch-controls.html#cloudwatch-13",
            "https://docs.aws.amazon.com/vpc/latest/userguide/VPC_Route_Tables.html",
        ],
    },
};

/// Reports every route table change CIS 4.13 monitors.
#[derive(Debug, Default)]
pub struct RouteTableChanged;

impl CloudTrailRule for RouteTableChanged {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let severity = META.severity;
        out.push(monitored_change(&META, record, severity, "route table"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent};

    #[test]
    fn a_monitored_call_is_reported_with_the_control_id() {
        let e = TestEvent::new("ec2.amazonaws.com", "CreateRoute").request(r#"{"routeTableId":"rtb-0123456789abcdef0","destinationCidrBlock":"0.0.0.0/0","gatewayId":"igw-0123456789abcdef0"}"#);
        let f = &check(&RouteTableChanged, &e)[0];
        assert_eq!(f.severity, Severity::Low);
        assert!(f.compliance.contains(&"CIS-4.13".to_owned()));
        assert!(f.message.contains("CreateRoute"), "{}", f.message);
    }

    #[test]
    fn reads_are_not_monitored_changes() {
        assert!(!META
            .events
            .iter()
            .any(|&(_, name)| name == "DescribeRouteTables"));
        let denied = TestEvent::new("ec2.amazonaws.com", "CreateRoute")
            .request(r#"{"routeTableId":"rtb-0123456789abcdef0","destinationCidrBlock":"0.0.0.0/0","gatewayId":"igw-0123456789abcdef0"}"#)
            .denied();
        let f = &check(&RouteTableChanged, &denied)[0];
        assert!(f.title.starts_with("Attempted:"));
        assert!(f.fix.actions.is_empty());
    }
}
