//! CT078 instance-metadata-v1-allowed: an EC2 instance, or the account's default for new instances, made
//! to answer instance metadata requests without a session token again (IMDSv1), the form a server-side
//! request forgery can reach to take the instance role's credentials.

use serde_json::Value;
use trailguard_event::Record;

use super::common::{
    call_failed, change_finding, ec2_request_member, event_in, instance_resource, region_arg,
    regional_arn, sh, worth_reporting, Change,
};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{CloudTrailRule, Report, ANY_EVENT};

pub const META: RuleMeta = RuleMeta {
    code: "CT078",
    name: "instance-metadata-v1-allowed",
    title: "Instance metadata service opened to IMDSv1",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1552.005", "T1562"],
    compliance: &["EC2.8"],
    events: &[ANY_EVENT],
    kb_entries: &[],
    doc: RuleDoc {
        what: "`ModifyInstanceMetadataOptions` setting `HttpTokens` to `optional` on an instance, or \
               `ModifyInstanceMetadataDefaults` setting the account's regional default for new instances to \
               `optional` or `no-preference` (then each image decides, and many still allow IMDSv1). \
               **medium**. Requiring tokens, and changes that leave `HttpTokens` alone, are not reported; \
               a refused call is an attempt, one step lower.",
        why: "With IMDSv1 any process on the instance, or any web application on it that can be made to \
              fetch a URL (server-side request forgery), reads `169.254.169.254` and gets the instance \
              role's temporary credentials in one unauthenticated GET: the Capital One breach. IMDSv2's \
              session token stops that. Switching it back off is the preparation for Unsecured \
              Credentials: Cloud Instance Metadata API (ATT&CK T1552.005) and weakens a control \
              (Security Hub EC2.8 requires IMDSv2).",
        example: "A role session calls `aws ec2 modify-instance-metadata-options --instance-id \
                  i-0c2f7a91d3b5e4068 --http-tokens optional`.",
        fix: "Require tokens again (`aws ec2 modify-instance-metadata-options --http-tokens required`, or \
              `modify-instance-metadata-defaults --http-tokens required` for the account) unless an \
              application on the instance still needs IMDSv1, and find out who turned them off.",
        references: &[
            "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-options.html",
            "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyInstanceMetadataOptions.html",
            "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyInstanceMetadataDefaults.html",
            "https://docs.aws.amazon.com/securityhub/latest/userguide/ec2-controls.html#ec2-8",
        ],
    },
};

const WATCHED: &[(&str, &str)] = &[
    ("ec2.amazonaws.com", "ModifyInstanceMetadataOptions"),
    ("ec2.amazonaws.com", "ModifyInstanceMetadataDefaults"),
];

/// Flags instances and account defaults opened to IMDSv1.
#[derive(Debug, Default)]
pub struct InstanceMetadataV1Allowed;

/// [`ec2_request_member`] when it is a string.
fn member<'p>(params: &'p Value, wrapper: &str, camel: &str) -> Option<&'p str> {
    ec2_request_member(params, wrapper, camel)?.as_str()
}

impl CloudTrailRule for InstanceMetadataV1Allowed {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn watched(&self) -> &'static [(&'static str, &'static str)] {
        WATCHED
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        if !event_in(record, WATCHED) {
            return;
        }
        let Some(params) = record.request_parameters() else {
            return;
        };
        let defaults = record.event_name == "ModifyInstanceMetadataDefaults";
        let wrapper = format!("{}Request", record.event_name);
        let Some(tokens) = member(&params, &wrapper, "httpTokens") else {
            return;
        };
        let opens = if defaults {
            tokens.eq_ignore_ascii_case("optional") || tokens.eq_ignore_ascii_case("no-preference")
        } else {
            tokens.eq_ignore_ascii_case("optional")
        };
        if !opens || !worth_reporting(call_failed(record), META.severity) {
            return;
        }
        let region = region_arg(record);
        let (done, tried, resource, command) = if defaults {
            let region_name = record.aws_region.as_deref().unwrap_or("its region");
            (
                format!(
                    "set the account's instance metadata default in {region_name} to `HttpTokens` \
                     `{tokens}`: new instances may answer IMDSv1 requests"
                ),
                format!("set the account's instance metadata default to `HttpTokens` `{tokens}`"),
                Resource {
                    kind: "AwsAccount".to_owned(),
                    id: regional_arn(record, "ec2", "instance-metadata-defaults"),
                    name: record.account_id().map(str::to_owned),
                },
                format!("aws ec2 modify-instance-metadata-defaults{region} --http-tokens required"),
            )
        } else {
            let instance = member(&params, &wrapper, "instanceId")
                .unwrap_or("(unnamed instance)")
                .to_owned();
            (
                format!(
                    "allowed IMDSv1 on instance `{instance}` (`HttpTokens` `{tokens}`): anything that can \
                     make it fetch a URL can read its role's credentials"
                ),
                format!("allow IMDSv1 on instance `{instance}`"),
                instance_resource(record, &instance),
                format!(
                    "aws ec2 modify-instance-metadata-options{region} --instance-id {} --http-tokens required --http-endpoint enabled",
                    sh(&instance)
                ),
            )
        };
        let mut finding = change_finding(
            &META,
            record,
            META.severity,
            Change {
                done,
                tried,
                resource,
                evidence_keys: &[
                    "instanceId",
                    "httpTokens",
                    "httpEndpoint",
                    "httpPutResponseHopLimit",
                    &wrapper,
                ],
                summary:
                    "Require IMDSv2 tokens again unless an application on it still needs IMDSv1, \
                          and find out who turned them off."
                        .to_owned(),
            },
        );
        if !call_failed(record) {
            finding.fix.commands = vec![command];
        }
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_members_are_read_flat_or_wrapped() {
        let flat = serde_json::json!({"instanceId": "i-1", "httpTokens": "optional"});
        let wrapped = serde_json::json!({"ModifyInstanceMetadataOptionsRequest": {"InstanceId": "i-2", "HttpTokens": "optional"}});
        let wrapper = "ModifyInstanceMetadataOptionsRequest";
        assert_eq!(member(&flat, wrapper, "httpTokens"), Some("optional"));
        assert_eq!(member(&wrapped, wrapper, "instanceId"), Some("i-2"));
        assert_eq!(member(&wrapped, wrapper, "httpEndpoint"), None);
    }
}
