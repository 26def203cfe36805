//! CT086 instance-identity-credentials-used: the credentials of an EC2 instance's *identity* role
//! (`aws:ec2-instance`), which the metadata service hands to AWS's own agents so an instance can prove
//! which instance it is, used to call anything else: someone read them from the metadata service and is
//! trying them.

use std::sync::LazyLock;

use memchr::memmem::Finder;
use trailguard_event::peek::RawRecord;
use trailguard_event::Record;

use super::common::assumed_role_parts;
use super::common::{call_failed, describe_caller, finding_for, instance_resource};
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{CloudTrailRule, EventContext, Report, ANY_EVENT};

pub const META: RuleMeta = RuleMeta {
    code: "CT086",
    name: "instance-identity-credentials-used",
    title: "EC2 instance identity credentials used outside AWS's agents",
    family: Family::Cloudtrail,
    severity: Severity::High,
    attack: &["T1552.005", "T1078.004"],
    compliance: &[],
    events: &[ANY_EVENT],
    kb_entries: &[],
    doc: RuleDoc {
        what: "A call made with an EC2 instance identity role's session (`userIdentity.arn` \
               `arn:aws:sts::ACCOUNT:assumed-role/aws:ec2-instance/INSTANCE`, or another AWS-reserved \
               `aws:` role) to any service but Systems Manager's (`ssm`, `ec2messages`, `ssmmessages`, \
               which its agent reaches with these credentials under Default Host Management), and not \
               relayed by AWS (`sourceIPAddress` `AWS Internal`). **high**, refused calls included (they \
               read as attempts but keep their severity: refusal is the usual outcome, since the role has \
               no permissions, and holding the credentials is the finding). One finding per call.",
        why: "Every instance can read identity credentials from its metadata service \
              (`/latest/meta-data/identity-credentials/ec2/security-credentials/ec2-instance`). They exist \
              so AWS's agents can prove which instance they run on; nothing a customer runs calls AWS with \
              them. Someone who got into the instance, or reached its metadata service through a \
              server-side request forgery, and is trying every credential they found, calls with them \
              (ATT&CK T1552.005, Cloud Instance Metadata API). SigmaHQ's \
              `aws_cloudtrail_imds_malicious_usage` looks for the same.",
        example: "`GetCallerIdentity`, then a refused `ListBuckets`, from session \
                  `arn:aws:sts::111122223333:assumed-role/aws:ec2-instance/i-0a1b2c3d4e5f67890` at an \
                  address outside AWS.",
        fix: "Treat the instance as compromised: isolate it, find how its metadata service was read \
              (a shell on it, or a request forgery in what it serves), require IMDSv2 with a hop limit of \
              1, and rotate the credentials of the instance's own role, which the same reader could take.",
        references: &[
            "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/iam-roles-for-amazon-ec2.html#ec2-instance-identity-roles",
            "https://docs.aws.amazon.com/systems-manager/latest/userguide/managed-instances-default-host-management.html",
            "https://attack.mitre.org/techniques/T1552/005/",
        ],
    },
};

/// What an identity role's session ARN holds: an AWS-reserved role name. Built once: this test runs on
/// every record, and a searcher costs more to build than a caller's text costs to search.
static RESERVED_ROLE: LazyLock<Finder<'static>> =
    LazyLock::new(|| Finder::new(b":assumed-role/aws:"));

/// The services AWS's own agent calls with the identity credentials.
const AGENT_SERVICES: &[&str] = &[
    "ssm.amazonaws.com",
    "ec2messages.amazonaws.com",
    "ssmmessages.amazonaws.com",
];

/// The AWS-reserved role and the session (an instance id) an identity role's ARN names.
fn reserved_session(arn: &str) -> Option<(&str, &str)> {
    // The prebuilt searcher first: `check` sees every record parsed for any rule.
    RESERVED_ROLE.find(arn.as_bytes())?;
    let (role, session) = assumed_role_parts(arn)?;
    role.starts_with("aws:").then_some((role, session))
}

/// Flags calls made with an instance identity role's credentials.
#[derive(Debug, Default)]
pub struct InstanceIdentityCredentialsUsed;

impl CloudTrailRule for InstanceIdentityCredentialsUsed {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    /// Only records whose caller names an AWS-reserved role (or that the walk could not read plainly).
    fn wants_raw(&self, raw: &RawRecord<'_>) -> bool {
        let caller = raw.caller_text();
        RESERVED_ROLE.find(caller).is_some() || raw.escapes_in(caller)
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let Some((role, session)) = record
            .user_identity
            .arn
            .as_deref()
            .and_then(reserved_session)
        else {
            return;
        };
        if AGENT_SERVICES.contains(&record.event_source.as_ref())
            || record.source_ip_address.as_deref() == Some("AWS Internal")
        {
            return;
        }
        let event = EventContext::from_record(record);
        let failed = call_failed(record);
        let mut finding = finding_for(&META, record, META.severity);
        // A refused call reads as an attempt but keeps its severity: refusal is what these credentials
        // usually get, and holding them is the finding.
        finding.severity = META.severity;
        let outcome = if failed {
            "; it was refused, as the role has no permissions, but someone holds the credentials"
        } else {
            ""
        };
        finding.message = format!(
            "{} called {}:{} with the instance identity credentials of `{session}` (`{role}`), which \
             only AWS's agents use{outcome}.",
            describe_caller(&event),
            record.event_source.trim_end_matches(".amazonaws.com"),
            record.event_name,
        );
        finding.resource = Some(instance_resource(record, session));
        finding.fix.summary = format!(
            "Isolate instance `{session}`, find how its metadata service was read, require IMDSv2, and \
             rotate its role's credentials."
        );
        if !failed {
            finding.fix.actions.push(FixAction::Manual {
                description: format!(
                    "Isolate `{session}` (a quarantine security group), then investigate the shell or \
                     request forgery that read its metadata service."
                ),
            });
        }
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_aws_reserved_roles_are_identity_sessions() {
        assert_eq!(
            reserved_session(
                "arn:aws:sts::111122223333:assumed-role/aws:ec2-instance/i-0a1b2c3d4e5f67890"
            ),
            Some(("aws:ec2-instance", "i-0a1b2c3d4e5f67890"))
        );
        assert_eq!(
            reserved_session("arn:aws:sts::111122223333:assumed-role/ec2-app/i-0a1b2c3d4e5f67890"),
            None
        );
        assert_eq!(
            reserved_session("arn:aws:iam::111122223333:user/aws:odd"),
            None
        );
    }

    #[test]
    fn the_raw_test_looks_at_the_caller_only() {
        let identity = br#"{"userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/aws:ec2-instance/i-0a1b2c3d4e5f67890"},"eventSource":"s3.amazonaws.com","eventName":"ListBuckets"}"#;
        assert!(InstanceIdentityCredentialsUsed.wants_raw(&RawRecord::new(identity)));
        let mentioned = br#"{"userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/app/x"},"eventSource":"s3.amazonaws.com","eventName":"ListBuckets","requestParameters":{"k":":assumed-role/aws:ec2-instance"}}"#;
        assert!(!InstanceIdentityCredentialsUsed.wants_raw(&RawRecord::new(mentioned)));
    }
}
