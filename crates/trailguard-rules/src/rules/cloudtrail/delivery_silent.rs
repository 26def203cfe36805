//! CT051 cloudtrail-delivery-silent: an account and region whose CloudTrail log files stopped arriving.
//! Not a record rule: no event marks a trail that went quiet, so `trailguard serve` raises it from its
//! store's delivery health (when each pair's last file arrived) once a pair that was delivering stays
//! silent longer than `--silence-after`.

use crate::finding::{Finding, FindingSource, Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::FindingBuilder;

pub const META: RuleMeta = RuleMeta {
    code: "CT051",
    name: "cloudtrail-delivery-silent",
    title: "CloudTrail log delivery went silent",
    family: Family::Cloudtrail,
    severity: Severity::High,
    attack: &["T1562.008"],
    compliance: &["CIS-3.1", "CloudTrail.5"],
    events: &[],
    kb_entries: &[],
    doc: RuleDoc {
        what: "An account and region whose CloudTrail log files had been arriving in the watched bucket and \
               have not for longer than `trailguard serve --silence-after` (default one hour). Raised by \
               `serve` from the delivery health its store keeps (when each pair's last file arrived and the \
               newest event time in it), not by a log record: a trail that stopped leaves no record behind.",
        why: "Stopping, moving or filtering the trail is an attacker's first move (ATT&CK T1562.008): \
              `StopLogging`, a new S3 destination, an event selector that drops management events, a bucket \
              policy that denies CloudTrail's writes, or an organization trail removed. Only some of these \
              leave an event that reaches the same bucket; all of them end the delivery. CloudTrail writes \
              a file about every five minutes per account and region while there is activity.",
        example: "`aws cloudtrail update-trail --name management-trail --s3-bucket-name attacker-bucket`, after \
                  which no file arrives in the watched bucket.",
        fix: "Check the trail (`aws cloudtrail get-trail-status`, `get-event-selectors`) and its bucket policy, \
              restore logging to the watched bucket, and read CloudTrail event history (90 days of management \
              events) for the silent period. A region without any activity is also silent: raise \
              `--silence-after` for quiet accounts rather than ignoring the finding.",
        references: &[
            "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/how-cloudtrail-works.html",
            "https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_GetTrailStatus.html",
            "https://attack.mitre.org/techniques/T1562/008/",
        ],
    },
};

/// The rule in the registry: it has no verb, since no record marks a trail that went quiet; `serve`
/// calls [`finding`] from its delivery health.
pub struct DeliverySilent;

/// The finding for an account and region silent since `last_arrival` (RFC 3339; the newest event time
/// its files held, when known). Its id is the pair and the last arrival, so every worker that notices
/// the same silence raises the same finding, and a new silence after files came back is a new one.
pub fn finding(
    account: &str,
    region: &str,
    last_arrival: &str,
    newest_event: Option<&str>,
    silent_for: &str,
) -> Finding {
    let newest = newest_event.map_or_else(String::new, |t| format!(" (its newest event at {t})"));
    let mut finding = FindingBuilder::new(
        &META,
        FindingSource::Cloudtrail,
        &[account, region, last_arrival],
    )
    .message(format!(
        "No CloudTrail log file of account {account} in {region} arrived for more than {silent_for}: \
         the last one arrived at {last_arrival}{newest}. The trail may have been stopped, moved to \
         another bucket or filtered."
    ))
    .account(Some(account))
    .resource(Resource {
        kind: "AwsAccount".to_owned(),
        id: account.to_owned(),
        name: None,
    })
    .fix_summary(format!(
        "Check the trails logging account {account} in {region}: `aws cloudtrail get-trail-status` and \
         `get-event-selectors`, and the bucket policy."
    ))
    .build();
    finding.event_time = newest_event.map(str::to_owned);
    finding.event_source = Some("cloudtrail.amazonaws.com".to_owned());
    finding.region = Some(region.to_owned());
    finding
}
