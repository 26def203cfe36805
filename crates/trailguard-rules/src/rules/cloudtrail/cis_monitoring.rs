//! Shared by the CIS AWS Foundations "monitoring" rules (v3.0 section 4: "ensure a log metric filter and
//! alarm exist for ..."): each such rule declares its control's event set and reports every call in it,
//! naming the resource the call touched, so the alarm CIS asks for exists even without CloudWatch.
//!
//! These rules report *that* a monitored change happened (low severity unless the control's events are
//! destructive); rules such as CT017 (trail stopped) or CT039 (log bucket tampered) judge the risk.

use trailguard_event::Record;

use super::common::{change_finding, Change};
use crate::finding::{Resource, Severity};
use crate::meta::RuleMeta;
use crate::Finding;

/// Request members that name the resource a monitored call touched, most specific first.
const RESOURCE_KEYS: &[(&str, &str)] = &[
    ("groupId", "AwsEc2SecurityGroup"),
    ("networkAclId", "AwsEc2NetworkAcl"),
    ("internetGatewayId", "AwsEc2InternetGateway"),
    ("customerGatewayId", "AwsEc2CustomerGateway"),
    ("routeTableId", "AwsEc2RouteTable"),
    ("associationId", "AwsEc2Association"),
    ("vpcPeeringConnectionId", "AwsEc2VpcPeeringConnection"),
    ("vpcId", "AwsEc2Vpc"),
    ("keyId", "AwsKmsKey"),
    ("bucketName", "AwsS3Bucket"),
    (
        "configurationRecorderName",
        "AwsConfigConfigurationRecorder",
    ),
    ("deliveryChannelName", "AwsConfigDeliveryChannel"),
    ("name", "AwsResource"),
    ("trailName", "AwsCloudTrailTrail"),
    ("policyId", "AwsOrganizationsPolicy"),
    ("organizationalUnitId", "AwsOrganizationsOrganizationalUnit"),
    ("accountId", "AwsAccount"),
];

/// The finding of a monitoring rule for `record`: `subject` names what the control watches (e.g.
/// "security group"), `severity` is the rule's judgement of this call.
pub fn monitored_change(
    meta: &'static RuleMeta,
    record: &Record<'_>,
    severity: Severity,
    subject: &str,
) -> Finding {
    let params = record.request_parameters();
    let named = RESOURCE_KEYS.iter().find_map(|&(key, kind)| {
        params
            .as_ref()
            .and_then(|p| p.get(key)?.as_str().map(|v| (key, kind, v.to_owned())))
    });
    let api = format!(
        "{}:{}",
        record.event_source.trim_end_matches(".amazonaws.com"),
        record.event_name
    );
    let target = named
        .as_ref()
        .map(|(_, _, id)| format!(" on `{id}`"))
        .unwrap_or_default();
    let evidence_keys: Vec<&str> = named.iter().map(|(key, _, _)| *key).collect();
    let (kind, id) = named
        .map(|(_, kind, id)| (kind.to_owned(), id))
        .unwrap_or_else(|| {
            (
                "AwsAccount".to_owned(),
                record.account_id().unwrap_or("unknown").to_owned(),
            )
        });
    let mut finding = change_finding(
        meta,
        record,
        severity,
        Change {
            done: format!("made a change CIS monitors ({subject}: {api}{target})"),
            tried: format!("make a change CIS monitors ({subject}: {api}{target})"),
            resource: Resource {
                kind,
                id,
                name: None,
            },
            evidence_keys: &evidence_keys,
            summary: format!(
                "Confirm this {subject} change was planned (change ticket, infrastructure-as-code run); if not, \
                 revert it and find out who holds the caller's credentials."
            ),
        },
    );
    finding
        .evidence
        .push(super::common::evidence("eventName", api));
    finding
}
