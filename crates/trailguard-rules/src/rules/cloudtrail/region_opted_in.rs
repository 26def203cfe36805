//! CT079 region-opted-in: an opt-in Region enabled for an account (`account:EnableRegion`), a place to work
//! that the account's monitoring and guardrails may not reach yet.

use trailguard_event::Record;

use super::common::{change_finding, member_str_either_case, Change};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{CloudTrailRule, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT079",
    name: "region-opted-in",
    title: "Opt-in Region enabled",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1535", "T1578"],
    compliance: &[],
    events: &[("account.amazonaws.com", "EnableRegion")],
    kb_entries: &["EnableRegion"],
    doc: RuleDoc {
        what: "`EnableRegion` from the Account Management API: an opt-in Region (Regions launched since 2019, \
               such as `ap-east-1`, `me-south-1` or `af-south-1`) switched on for this account or, from the \
               management account, for a member (`AccountId`). **medium**, the Region and the account in \
               the evidence; a refused call is an attempt, one step lower.",
        why: "Opt-in Regions start disabled, and what watches an account is often set up Region by Region: \
              GuardDuty detectors, Config recorders, trails that are not multi-Region, alarms, SCPs listing \
              the Regions in use. An intruder who enables a Region gets somewhere to run instances, keep \
              resources and use credentials that nobody looks at (ATT&CK T1535 Unused/Unsupported Cloud \
              Regions). Teams enable a Region rarely and on purpose.",
        example: "IAM user `christophe` calls `aws account enable-region --region-name ap-east-1` on a \
                  Sunday night.",
        fix: "Confirm the Region with the cloud platform team. If it is not wanted, check it for resources \
              (instances, keys, users' activity there), then disable it (`aws account disable-region`); \
              deny it in an SCP with `aws:RequestedRegion`, and make sure trails, GuardDuty and Config cover \
              every enabled Region.",
        references: &[
            "https://docs.aws.amazon.com/accounts/latest/reference/API_EnableRegion.html",
            "https://docs.aws.amazon.com/accounts/latest/reference/manage-acct-regions.html",
            "https://attack.mitre.org/techniques/T1535/",
        ],
    },
};

/// Flags opt-in Regions enabled.
#[derive(Debug, Default)]
pub struct RegionOptedIn;

impl CloudTrailRule for RegionOptedIn {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let params = record.request_parameters();
        // The API's members are `RegionName` and `AccountId`; a producer that writes them in camelCase
        // is read too.
        let field = |camel: &str| member_str_either_case(params.as_ref(), camel);
        let region = field("regionName").unwrap_or_else(|| "(unnamed)".to_owned());
        let caller_account = record.account_id().unwrap_or("unknown").to_owned();
        let (account, whose) = match field("accountId") {
            Some(member) if member != caller_account => {
                let whose = format!(" for member account `{member}`");
                (member, whose)
            }
            _ => (caller_account, String::new()),
        };
        let finding = change_finding(
            &META,
            record,
            META.severity,
            Change {
                done: format!("enabled the opt-in Region `{region}`{whose}"),
                tried: format!("enable the opt-in Region `{region}`{whose}"),
                resource: Resource {
                    kind: "AwsAccount".to_owned(),
                    name: Some(account.clone()),
                    id: account,
                },
                evidence_keys: &["RegionName", "regionName", "AccountId", "accountId"],
                summary: "Confirm the Region is wanted; if not, check it for resources and disable it, and \
                          make sure trails, GuardDuty and Config cover every enabled Region."
                    .to_owned(),
            },
        );
        out.push(finding);
    }
}
