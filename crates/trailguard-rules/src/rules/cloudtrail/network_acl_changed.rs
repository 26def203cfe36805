//! CT045 network-acl-changed: network acl changed, the event set of CIS AWS Foundations 4.11 (Security Hub CloudWatch.11).

use trailguard_event::Record;

use super::cis_monitoring::monitored_change;
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{CloudTrailRule, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT045",
    name: "network-acl-changed",
    title: "Network ACL changed",
    family: Family::Cloudtrail,
    severity: Severity::Low,
    attack: &["T1562.007"],
    compliance: &["CIS-4.11", "CloudWatch.11"],
    events: &[
        ("ec2.amazonaws.com", "CreateNetworkAcl"),
        ("ec2.amazonaws.com", "CreateNetworkAclEntry"),
        ("ec2.amazonaws.com", "DeleteNetworkAcl"),
        ("ec2.amazonaws.com", "DeleteNetworkAclEntry"),
        ("ec2.amazonaws.com", "ReplaceNetworkAclEntry"),
        ("ec2.amazonaws.com", "ReplaceNetworkAclAssociation"),
    ],
    kb_entries: &[],
    doc: RuleDoc {
        what: "Every call CIS 4.11 watches: network ACLs created or deleted, their entries created, replaced or \
               deleted, and subnet associations replaced. **low**.",
        why: "Network ACLs are the subnet-level firewall; an allow-all entry or a swapped association undoes network \
              segmentation for every instance in the subnet (ATT&CK T1562.007). CIS 4.11 (Security Hub \
              CloudWatch.11) asks for an alarm on every change.",
        example: "`aws ec2 create-network-acl-entry --network-acl-id acl-0123456789abcdef0 --rule-number 10 --protocol -1 --rule-action allow --ingress --cidr-block 0.0.0.0/0`.",
        fix: "Compare the ACL's entries and associations with their intended state (`aws ec2 describe-network-acls`) \
              and revert unplanned changes.",
        references: &[
            "https://docs.aws.amazon.com/securityhub/latest/userguide/cloudwatch-controls.html#cloudwatch-11",
            "https://docs.aws.amazon.com/vpc/latest/userguide/vpc-network-acls.html",
        ],
    },
};

/// Reports every network ACL change CIS 4.11 monitors.
#[derive(Debug, Default)]
pub struct NetworkAclChanged;

impl CloudTrailRule for NetworkAclChanged {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let severity = META.severity;
        out.push(monitored_change(&META, record, severity, "network ACL"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent};

    #[test]
    fn a_monitored_call_is_reported_with_the_control_id() {
        let e = TestEvent::new("ec2.amazonaws.com", "CreateNetworkAclEntry").request(r#"{"networkAclId":"acl-0123456789abcdef0","ruleNumber":10,"egress":false,"ruleAction":"allow","icmpTypeCode":{},"portRange":{},"aclProtocol":"-1","cidrBlock":"0.0.0.0/0"}"#);
        let f = &check(&NetworkAclChanged, &e)[0];
        assert_eq!(f.severity, Severity::Low);
        assert!(f.compliance.contains(&"CIS-4.11".to_owned()));
        assert!(f.message.contains("CreateNetworkAclEntry"), "{}", f.message);
    }

    #[test]
    fn reads_are_not_monitored_changes() {
        assert!(!META
            .events
            .iter()
            .any(|&(_, name)| name == "DescribeNetworkAcls"));
        let denied = TestEvent::new("ec2.amazonaws.com", "CreateNetworkAclEntry")
            .request(r#"{"networkAclId":"acl-0123456789abcdef0","ruleNumber":10,"egress":false,"ruleAction":"allow","icmpTypeCode":{},"portRange":{},"aclProtocol":"-1","cidrBlock":"0.0.0.0/0"}"#)
            .denied();
        let f = &check(&NetworkAclChanged, &denied)[0];
        assert!(f.title.starts_with("Attempted:"));
        assert!(f.fix.actions.is_empty());
    }
}
