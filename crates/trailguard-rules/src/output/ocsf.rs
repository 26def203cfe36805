//! OCSF 1.3 Detection Finding (class 2004, category 2 Findings), one event per line (JSON lines), the
//! shape Amazon Security Lake, Splunk and most SIEM pipelines ingest.
//!
//! Mapping: `finding_info` carries the finding id, title, description, types and the rule as its
//! `analytic` (type Rule) with ATT&CK `attacks`; `resources` the target; one `evidences` artifact the
//! caller (`actor.user`, `session.is_mfa`), its `src_endpoint`, `http_request.user_agent`, the `api` call
//! and the exact evidence `data`; `remediation` the fix; `cloud` the account and region; and what OCSF has
//! no attribute for (outcome, compliance ids, fix actions, notes) goes under `unmapped.trailguard`.

use std::io::{self, Write};

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use crate::finding::{Finding, Outcome, Severity};
use crate::output::{attack_tactic, FindingWriter, RunSummary, PRODUCT_NAME, PRODUCT_VERSION};

pub const OCSF_VERSION: &str = "1.3.0";
pub const CLASS_UID: u32 = 2004;
pub const CATEGORY_UID: u32 = 2;
/// Every finding we emit is new: activity 1 (Create).
pub const ACTIVITY_CREATE: u32 = 1;

pub struct OcsfWriter<W: Write> {
    out: W,
    /// When the run wrote the finding; used as `time` for findings without an event time.
    now: DateTime<Utc>,
}

impl<W: Write> OcsfWriter<W> {
    pub fn new(out: W) -> Self {
        Self::with_clock(out, Utc::now())
    }

    /// A writer whose notion of "now" is fixed, for reproducible output.
    pub fn with_clock(out: W, now: DateTime<Utc>) -> Self {
        OcsfWriter { out, now }
    }
}

impl<W: Write> FindingWriter for OcsfWriter<W> {
    fn write(&mut self, finding: &Finding) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, &to_ocsf(finding, self.now))?;
        self.out.write_all(b"\n")
    }

    fn finish(&mut self, _summary: &RunSummary) -> io::Result<()> {
        self.out.flush()
    }
}

/// OCSF `severity_id`: 1 Informational, 2 Low, 3 Medium, 4 High, 5 Critical.
pub fn severity_id(severity: Severity) -> u32 {
    match severity {
        Severity::Info => 1,
        Severity::Low => 2,
        Severity::Medium => 3,
        Severity::High => 4,
        Severity::Critical => 5,
    }
}

fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "Informational",
        Severity::Low => "Low",
        Severity::Medium => "Medium",
        Severity::High => "High",
        Severity::Critical => "Critical",
    }
}

/// Builds one Detection Finding event.
pub fn to_ocsf(finding: &Finding, now: DateTime<Utc>) -> Value {
    let event_time = finding
        .event_time
        .as_deref()
        .and_then(trailguard_event::parse_event_time);
    let time = event_time.unwrap_or(now);

    let mut event = Map::new();
    event.insert("activity_id".into(), json!(ACTIVITY_CREATE));
    event.insert("activity_name".into(), json!("Create"));
    event.insert("category_uid".into(), json!(CATEGORY_UID));
    event.insert("category_name".into(), json!("Findings"));
    event.insert("class_uid".into(), json!(CLASS_UID));
    event.insert("class_name".into(), json!("Detection Finding"));
    event.insert("type_uid".into(), json!(CLASS_UID * 100 + ACTIVITY_CREATE));
    event.insert("type_name".into(), json!("Detection Finding: Create"));
    event.insert("severity_id".into(), json!(severity_id(finding.severity)));
    event.insert("severity".into(), json!(severity_name(finding.severity)));
    // Finding status 1 = New: trailguard reports, a person triages.
    event.insert("status_id".into(), json!(1));
    event.insert("status".into(), json!("New"));
    event.insert("time".into(), json!(time.timestamp_millis()));
    event.insert(
        "time_dt".into(),
        json!(time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
    );
    event.insert("message".into(), json!(finding.message));
    // Built-in rules match exact API facts (high confidence); community Sigma rules are broader.
    let (confidence_id, confidence) = match finding.source {
        crate::finding::FindingSource::Sigma => (2, "Medium"),
        _ => (3, "High"),
    };
    event.insert("confidence_id".into(), json!(confidence_id));
    event.insert("confidence".into(), json!(confidence));
    event.insert(
        "is_alert".into(),
        json!(finding.severity >= Severity::High && matches!(finding.outcome, Outcome::Success)),
    );
    event.insert(
        "metadata".into(),
        json!({
            "version": OCSF_VERSION,
            "uid": finding.id,
            "profiles": ["cloud"],
            "product": {
                "name": PRODUCT_NAME,
                "vendor_name": PRODUCT_NAME,
                "version": PRODUCT_VERSION,
                "feature": {"name": source_name(finding)},
            },
        }),
    );
    event.insert("finding_info".into(), finding_info(finding, event_time));
    if let Some(cloud) = cloud(finding) {
        event.insert("cloud".into(), cloud);
    }
    if let Some(resource) = &finding.resource {
        let mut detail = Map::new();
        detail.insert("uid".into(), json!(resource.id));
        detail.insert("type".into(), json!(resource.kind));
        if let Some(name) = &resource.name {
            detail.insert("name".into(), json!(name));
        }
        if let Some(region) = &finding.region {
            detail.insert("region".into(), json!(region));
        }
        if resource.id.starts_with("arn:") || finding.account.is_some() {
            detail.insert("cloud_partition".into(), json!(partition_of(&resource.id)));
        }
        event.insert("resources".into(), json!([Value::Object(detail)]));
    }
    event.insert("evidences".into(), json!([evidence_artifact(finding)]));
    event.insert("remediation".into(), remediation(finding));
    event.insert("unmapped".into(), json!({"trailguard": unmapped(finding)}));
    Value::Object(event)
}

fn source_name(finding: &Finding) -> &'static str {
    match finding.source {
        crate::finding::FindingSource::Cloudtrail => "CloudTrail detection",
        crate::finding::FindingSource::Sigma => "Sigma rule",
        crate::finding::FindingSource::Posture => "Posture audit",
        crate::finding::FindingSource::Policy => "Policy check",
    }
}

fn finding_info(finding: &Finding, event_time: Option<DateTime<Utc>>) -> Value {
    let mut info = Map::new();
    info.insert("uid".into(), json!(finding.id));
    info.insert("title".into(), json!(finding.title));
    info.insert("desc".into(), json!(finding.message));
    let mut types = vec![source_name(finding).to_owned()];
    if let Some(name) = &finding.event_name {
        types.push(name.clone());
    }
    info.insert("types".into(), json!(types));
    info.insert(
        "analytic".into(),
        json!({
            "uid": finding.rule_id,
            "name": finding.rule_name,
            // analytic type 1 = Rule.
            "type_id": 1,
            "type": "Rule",
            "category": source_name(finding),
        }),
    );
    let attacks: Vec<Value> = finding.attack.iter().map(|t| attack(t)).collect();
    if !attacks.is_empty() {
        info.insert("attacks".into(), json!(attacks));
    }
    if let Some(time) = event_time {
        let ms = time.timestamp_millis();
        info.insert("first_seen_time".into(), json!(ms));
        info.insert("last_seen_time".into(), json!(ms));
    }
    let data_source = match finding.source {
        crate::finding::FindingSource::Cloudtrail | crate::finding::FindingSource::Sigma => {
            "AWS CloudTrail"
        }
        crate::finding::FindingSource::Posture => "AWS IAM API",
        crate::finding::FindingSource::Policy => "IAM policy document",
    };
    info.insert("data_sources".into(), json!([data_source]));
    // The CloudTrail event behind the finding (its eventID), so a SIEM can join back to the raw log.
    if let Some(event_id) = &finding.event_id {
        let mut related = Map::new();
        related.insert("uid".into(), json!(event_id));
        if let Some(name) = &finding.event_name {
            related.insert("type".into(), json!(name));
        }
        related.insert("product_uid".into(), json!("AWS CloudTrail"));
        info.insert("related_events".into(), json!([Value::Object(related)]));
    }
    Value::Object(info)
}

fn attack(technique: &str) -> Value {
    let mut object = Map::new();
    let base = technique.split('.').next().unwrap_or(technique);
    object.insert("technique".into(), json!({"uid": base}));
    if base != technique {
        object.insert("sub_technique".into(), json!({"uid": technique}));
    }
    if let Some((uid, name)) = attack_tactic(technique) {
        object.insert("tactic".into(), json!({"uid": uid, "name": name}));
    }
    object.insert("version".into(), json!("15"));
    Value::Object(object)
}

fn cloud(finding: &Finding) -> Option<Value> {
    if finding.account.is_none() && finding.region.is_none() {
        return None;
    }
    let mut cloud = Map::new();
    cloud.insert("provider".into(), json!("AWS"));
    if let Some(region) = &finding.region {
        cloud.insert("region".into(), json!(region));
    }
    if let Some(account) = &finding.account {
        // account type 10 = AWS Account.
        cloud.insert(
            "account".into(),
            json!({"uid": account, "type_id": 10, "type": "AWS Account"}),
        );
    }
    Some(Value::Object(cloud))
}

fn evidence_artifact(finding: &Finding) -> Value {
    let mut artifact = Map::new();
    if let Some(actor) = &finding.actor {
        let mut user = Map::new();
        if let Some(arn) = &actor.arn {
            user.insert("uid".into(), json!(arn));
        }
        if let Some(name) = actor
            .user_name
            .clone()
            .or_else(|| actor.arn.as_deref().map(name_from_arn))
        {
            user.insert("name".into(), json!(name));
        }
        if let Some(kind) = &actor.identity_type {
            // OCSF user type ids: 1 User, 2 Admin, 3 System, 99 Other (the CloudTrail type stays in `type`).
            let type_id = match kind.as_str() {
                "IAMUser" => 1,
                "Root" => 2,
                "AWSService" => 3,
                _ => 99,
            };
            user.insert("type_id".into(), json!(type_id));
            user.insert("type".into(), json!(kind));
        }
        if let Some(key) = &actor.access_key_id {
            user.insert("credential_uid".into(), json!(key));
        }
        if let Some(account) = &finding.account {
            user.insert(
                "account".into(),
                json!({"uid": account, "type_id": 10, "type": "AWS Account"}),
            );
        }
        let mut actor_object = Map::new();
        actor_object.insert("user".into(), Value::Object(user));
        if let Some(mfa) = actor.mfa {
            let mut session = json!({"is_mfa": mfa});
            if let Some(key) = &actor.access_key_id {
                session["credential_uid"] = json!(key);
            }
            actor_object.insert("session".into(), session);
        }
        artifact.insert("actor".into(), Value::Object(actor_object));
        if let Some(ip) = &actor.source_ip {
            // CloudTrail puts a service name (e.g. `iam.amazonaws.com`) here for service calls.
            if ip.parse::<std::net::IpAddr>().is_ok() {
                artifact.insert("src_endpoint".into(), json!({"ip": ip}));
            } else {
                artifact.insert("src_endpoint".into(), json!({"domain": ip}));
            }
        }
        if let Some(agent) = &actor.user_agent {
            artifact.insert("http_request".into(), json!({"user_agent": agent}));
        }
    }
    if let Some(operation) = &finding.event_name {
        let mut api = Map::new();
        api.insert("operation".into(), json!(operation));
        if let Some(source) = &finding.event_source {
            api.insert("service".into(), json!({"name": source}));
        }
        if let Outcome::Attempt { error_code } = &finding.outcome {
            api.insert("response".into(), json!({"error": error_code}));
        }
        artifact.insert("api".into(), Value::Object(api));
    }
    let data: Vec<Value> = finding
        .evidence
        .iter()
        .map(|e| json!({"path": e.path, "value": e.value}))
        .collect();
    artifact.insert("data".into(), json!({"evidence": data}));
    Value::Object(artifact)
}

fn remediation(finding: &Finding) -> Value {
    let mut desc = if finding.fix.summary.is_empty() {
        finding.title.clone()
    } else {
        finding.fix.summary.clone()
    };
    for command in &finding.fix.commands {
        desc.push_str("\n$ ");
        desc.push_str(command);
    }
    let mut remediation = Map::new();
    remediation.insert("desc".into(), json!(desc));
    if let Some(entry) = &finding.fix.kb_entry {
        remediation.insert(
            "references".into(),
            json!([format!("trailguard explain {entry}")]),
        );
    }
    Value::Object(remediation)
}

fn unmapped(finding: &Finding) -> Value {
    let mut extra = Map::new();
    extra.insert("source".into(), json!(finding.source));
    extra.insert("outcome".into(), json!(finding.outcome));
    if !finding.compliance.is_empty() {
        extra.insert("compliance".into(), json!(finding.compliance));
    }
    if !finding.fix.commands.is_empty() {
        extra.insert("fix_commands".into(), json!(finding.fix.commands));
    }
    if !finding.fix.actions.is_empty() {
        extra.insert("fix_actions".into(), json!(finding.fix.actions));
    }
    if !finding.notes.is_empty() {
        extra.insert("notes".into(), json!(finding.notes));
    }
    if let Some(location) = &finding.location {
        extra.insert("location".into(), json!(location));
    }
    Value::Object(extra)
}

/// `aws`, `aws-cn` or `aws-us-gov` from an ARN; `aws` when the id is not an ARN.
pub(crate) fn partition_of(id: &str) -> &str {
    let mut parts = id.split(':');
    match (parts.next(), parts.next()) {
        (Some("arn"), Some(partition)) if !partition.is_empty() => partition,
        _ => "aws",
    }
}

/// The last path segment of an ARN (`arn:aws:iam::1:user/alice` → `alice`).
fn name_from_arn(arn: &str) -> String {
    arn.rsplit(['/', ':']).next().unwrap_or(arn).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::fixtures::sample_findings;

    fn fixed_now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-03-05T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn render() -> String {
        let mut buf = Vec::new();
        let mut writer = OcsfWriter::with_clock(&mut buf, fixed_now());
        for finding in sample_findings() {
            writer.write(&finding).unwrap();
        }
        writer.finish(&RunSummary::new("scan")).unwrap();
        String::from_utf8(buf).unwrap()
    }

    /// The attributes OCSF 1.3 marks required for Detection Finding and its base event and objects.
    #[test]
    fn every_event_has_the_required_attributes() {
        let text = render();
        let events: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(events.len(), sample_findings().len());
        for (event, finding) in events.iter().zip(sample_findings()) {
            assert_eq!(event["class_uid"], 2004);
            assert_eq!(event["category_uid"], 2);
            assert_eq!(event["activity_id"], 1);
            assert_eq!(event["type_uid"], 200401);
            let sev = event["severity_id"].as_u64().unwrap();
            assert!((1..=5).contains(&sev));
            assert_eq!(sev, u64::from(severity_id(finding.severity)));
            assert!(event["time"].as_i64().unwrap() > 0);
            assert_eq!(event["metadata"]["version"], OCSF_VERSION);
            assert_eq!(event["metadata"]["product"]["name"], "trailguard");
            assert_eq!(event["metadata"]["product"]["vendor_name"], "trailguard");
            assert_eq!(event["finding_info"]["uid"], finding.id.as_str());
            assert_eq!(event["finding_info"]["title"], finding.title.as_str());
            assert_eq!(
                event["finding_info"]["analytic"]["uid"],
                finding.rule_id.as_str()
            );
            assert_eq!(event["finding_info"]["analytic"]["type_id"], 1);
            assert!((1..=3).contains(&event["confidence_id"].as_u64().unwrap()));
            assert!(event["remediation"]["desc"]
                .as_str()
                .is_some_and(|d| !d.is_empty()));
            if let Some(cloud) = event.get("cloud") {
                assert_eq!(cloud["provider"], "AWS");
            }
        }
    }

    #[test]
    fn actor_endpoint_and_attacks_are_mapped() {
        let event = to_ocsf(&sample_findings()[0], fixed_now());
        let artifact = &event["evidences"][0];
        assert_eq!(
            artifact["actor"]["user"]["uid"],
            "arn:aws:iam::111122223333:user/alice"
        );
        assert_eq!(
            artifact["actor"]["user"]["credential_uid"],
            "AKIAIOSFODNN7EXAMPLE"
        );
        assert_eq!(artifact["actor"]["session"]["is_mfa"], false);
        assert_eq!(artifact["src_endpoint"]["ip"], "198.51.100.23");
        assert_eq!(artifact["api"]["operation"], "CreatePolicyVersion");
        assert_eq!(
            event["finding_info"]["related_events"][0]["uid"],
            "3b5c2f9e-7d1a-4c1e-9a51-0c0a7b2f1e11"
        );
        assert_eq!(event["time"], 1_709_288_142_000_i64);
        let attack = &event["finding_info"]["attacks"][0];
        assert_eq!(attack["technique"]["uid"], "T1098");
        assert_eq!(attack["sub_technique"]["uid"], "T1098.003");
        assert_eq!(attack["tactic"]["name"], "Persistence");
        assert_eq!(event["is_alert"], true);
        // A denied attempt is not an alert, and says why.
        let denied = to_ocsf(&sample_findings()[1], fixed_now());
        assert_eq!(denied["is_alert"], false);
        assert_eq!(
            denied["evidences"][0]["api"]["response"]["error"],
            "AccessDenied"
        );
    }

    #[test]
    fn findings_without_event_time_use_the_run_clock() {
        let event = to_ocsf(&sample_findings()[3], fixed_now());
        assert_eq!(event["time"], fixed_now().timestamp_millis());
        assert!(event["finding_info"].get("first_seen_time").is_none());
    }

    #[test]
    fn snapshot() {
        let events: Vec<Value> = render()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        insta::assert_json_snapshot!(events);
    }
}
