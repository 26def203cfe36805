//! AWS Security Finding Format (ASFF, schema 2018-10-08) for Security Hub.
//!
//! Output is JSON lines of batches: each line is one `{"Findings":[...]}` document holding at most 100
//! findings, exactly the request `BatchImportFindings` takes, so each line can be sent as is:
//!
//! ```sh
//! trailguard scan logs/ --format asff | while read -r batch; do
//!   aws securityhub batch-import-findings --cli-input-json "$batch"
//! done
//! ```
//!
//! `Id` is the stable finding id, so importing the same scan twice updates findings instead of adding them.
//! `ProductArn` is the account's own default product (`product/<account>/default`), which any account may
//! import into; `--asff-account`/`--asff-region` (see [`OutputOptions`]) choose it when findings lack them.

use std::io::{self, Write};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

use crate::finding::{Finding, FindingSource, Outcome, Severity};
use crate::output::ocsf::partition_of;
use crate::output::{
    attack_tactic, truncate_chars, FindingWriter, OutputOptions, RunSummary, PRODUCT_NAME,
    PRODUCT_VERSION,
};

pub const SCHEMA_VERSION: &str = "2018-10-08";
/// `BatchImportFindings` accepts at most 100 findings per call.
pub const BATCH_SIZE: usize = 100;
/// Used when neither the finding nor the options name an account (e.g. a policy-file check).
const UNKNOWN_ACCOUNT: &str = "000000000000";
const DEFAULT_REGION: &str = "us-east-1";

// ASFF field limits (Security Hub rejects longer values).
const TITLE_MAX: usize = 256;
const DESCRIPTION_MAX: usize = 1024;
const RECOMMENDATION_MAX: usize = 512;
const PRODUCT_FIELDS_MAX: usize = 50;

pub struct AsffWriter<W: Write> {
    out: W,
    now: DateTime<Utc>,
    product_account: Option<String>,
    region: Option<String>,
    batch: Vec<Value>,
}

impl<W: Write> AsffWriter<W> {
    pub fn new(out: W, options: &OutputOptions) -> Self {
        Self::with_clock(out, options, Utc::now())
    }

    /// A writer whose notion of "now" (`UpdatedAt`) is fixed, for reproducible output.
    pub fn with_clock(out: W, options: &OutputOptions, now: DateTime<Utc>) -> Self {
        AsffWriter {
            out,
            now,
            product_account: options.asff_product_account.clone(),
            region: options.asff_region.clone(),
            batch: Vec::with_capacity(BATCH_SIZE),
        }
    }

    fn flush_batch(&mut self) -> io::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let document = json!({ "Findings": std::mem::take(&mut self.batch) });
        serde_json::to_writer(&mut self.out, &document)?;
        self.out.write_all(b"\n")
    }
}

impl<W: Write> FindingWriter for AsffWriter<W> {
    fn write(&mut self, finding: &Finding) -> io::Result<()> {
        let value = to_asff(
            finding,
            self.now,
            self.product_account.as_deref(),
            self.region.as_deref(),
        );
        self.batch.push(value);
        if self.batch.len() >= BATCH_SIZE {
            self.flush_batch()?;
        }
        Ok(())
    }

    fn finish(&mut self, _summary: &RunSummary) -> io::Result<()> {
        self.flush_batch()?;
        self.out.flush()
    }
}

/// Security Hub's severity label.
pub fn severity_label(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "INFORMATIONAL",
        Severity::Low => "LOW",
        Severity::Medium => "MEDIUM",
        Severity::High => "HIGH",
        Severity::Critical => "CRITICAL",
    }
}

/// Builds one ASFF finding.
pub fn to_asff(
    finding: &Finding,
    now: DateTime<Utc>,
    product_account: Option<&str>,
    product_region: Option<&str>,
) -> Value {
    let account = finding
        .account
        .as_deref()
        .or(product_account)
        .unwrap_or(UNKNOWN_ACCOUNT);
    let region = product_region
        .or(finding.region.as_deref())
        .unwrap_or(DEFAULT_REGION);
    let product_owner = product_account.unwrap_or(account);
    let partition = finding
        .resource
        .as_ref()
        .map(|r| partition_of(&r.id))
        .unwrap_or("aws");
    let now_text = now.to_rfc3339_opts(SecondsFormat::Millis, true);
    let observed = finding
        .event_time
        .as_deref()
        .and_then(trailguard_event::parse_event_time)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true));

    let mut asff = Map::new();
    asff.insert("SchemaVersion".into(), json!(SCHEMA_VERSION));
    asff.insert("Id".into(), json!(finding.id));
    asff.insert(
        "ProductArn".into(),
        json!(format!(
            "arn:{partition}:securityhub:{region}:{product_owner}:product/{product_owner}/default"
        )),
    );
    asff.insert("ProductName".into(), json!(PRODUCT_NAME));
    asff.insert("CompanyName".into(), json!(PRODUCT_NAME));
    asff.insert("Region".into(), json!(region));
    asff.insert(
        "GeneratorId".into(),
        json!(format!("{PRODUCT_NAME}/{}", finding.rule_id)),
    );
    asff.insert("AwsAccountId".into(), json!(account));
    asff.insert("Types".into(), json!(types(finding)));
    if let Some(observed) = &observed {
        asff.insert("FirstObservedAt".into(), json!(observed));
        asff.insert("LastObservedAt".into(), json!(observed));
    }
    asff.insert(
        "CreatedAt".into(),
        json!(observed.clone().unwrap_or_else(|| now_text.clone())),
    );
    asff.insert("UpdatedAt".into(), json!(now_text));
    asff.insert(
        "Severity".into(),
        json!({"Label": severity_label(finding.severity), "Original": finding.severity.as_str()}),
    );
    asff.insert(
        "Title".into(),
        json!(truncate_chars(&finding.title, TITLE_MAX)),
    );
    asff.insert(
        "Description".into(),
        json!(truncate_chars(&finding.message, DESCRIPTION_MAX)),
    );
    asff.insert(
        "Resources".into(),
        json!([resource(finding, partition, region)]),
    );
    asff.insert("Remediation".into(), remediation(finding));
    asff.insert("ProductFields".into(), product_fields(finding));
    if let Some(action) = action(finding) {
        asff.insert("Action".into(), action);
    }
    asff.insert("RecordState".into(), json!("ACTIVE"));
    asff.insert("Workflow".into(), json!({"Status": "NEW"}));
    if finding.source == FindingSource::Posture && !finding.compliance.is_empty() {
        asff.insert(
            "Compliance".into(),
            json!({"Status": "FAILED", "RelatedRequirements": finding.compliance}),
        );
    }
    Value::Object(asff)
}

/// ASFF `Types` (`namespace/category/classifier`): tactics for detections, best practices for checks.
fn types(finding: &Finding) -> Vec<String> {
    let mut types = Vec::new();
    match finding.source {
        FindingSource::Cloudtrail | FindingSource::Sigma => {
            for technique in &finding.attack {
                if let Some((_, tactic)) = attack_tactic(technique) {
                    let tactic = if tactic == "Exfiltration" {
                        "Data Exfiltration"
                    } else {
                        tactic
                    };
                    let t = format!("TTPs/{tactic}");
                    if !types.contains(&t) {
                        types.push(t);
                    }
                }
            }
            if types.is_empty() {
                types.push("Unusual Behaviors/User".to_owned());
            }
        }
        FindingSource::Posture | FindingSource::Policy => {
            types.push("Software and Configuration Checks/AWS Security Best Practices".to_owned());
        }
    }
    if finding.compliance.iter().any(|c| c.starts_with("CIS")) {
        types.push(
            "Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark"
                .to_owned(),
        );
    }
    types
}

/// ASFF resource types we can name; anything else is `Other`.
fn resource_type(kind: &str) -> &str {
    match kind {
        "AwsIamPolicy" | "AwsIamUser" | "AwsIamRole" | "AwsIamGroup" | "AwsIamAccessKey"
        | "AwsCloudTrailTrail" | "AwsAccount" => kind,
        _ => "Other",
    }
}

fn resource(finding: &Finding, partition: &str, region: &str) -> Value {
    let mut resource = Map::new();
    match &finding.resource {
        Some(r) => {
            resource.insert("Type".into(), json!(resource_type(&r.kind)));
            resource.insert("Id".into(), json!(r.id));
            let mut details = Map::new();
            if resource_type(&r.kind) == "Other" {
                details.insert("Type".into(), json!(r.kind));
            }
            if let Some(name) = &r.name {
                details.insert("Name".into(), json!(name));
            }
            if !details.is_empty() {
                resource.insert("Details".into(), json!({"Other": details}));
            }
        }
        // Security Hub requires one resource; the account is the honest fallback.
        None => {
            resource.insert("Type".into(), json!("AwsAccount"));
            resource.insert(
                "Id".into(),
                json!(finding.account.as_deref().unwrap_or(UNKNOWN_ACCOUNT)),
            );
        }
    }
    resource.insert("Partition".into(), json!(partition));
    resource.insert("Region".into(), json!(region));
    Value::Object(resource)
}

fn remediation(finding: &Finding) -> Value {
    let mut text = finding.fix.summary.clone();
    for command in &finding.fix.commands {
        text.push_str(" $ ");
        text.push_str(command);
    }
    if text.is_empty() {
        text = finding.title.clone();
    }
    json!({"Recommendation": {"Text": truncate_chars(&text, RECOMMENDATION_MAX)}})
}

/// `ProductFields` is a flat string map (at most 50 entries): what ASFF has no field for.
fn product_fields(finding: &Finding) -> Value {
    let mut fields = Map::new();
    let mut put = |key: &str, value: String| {
        if fields.len() < PRODUCT_FIELDS_MAX {
            fields.insert(key.to_owned(), json!(value));
        }
    };
    put("trailguard/RuleId", finding.rule_id.clone());
    put("trailguard/RuleName", finding.rule_name.clone());
    put(
        "trailguard/Source",
        format!("{:?}", finding.source).to_lowercase(),
    );
    put("trailguard/Version", PRODUCT_VERSION.to_owned());
    match &finding.outcome {
        Outcome::Success => put("trailguard/Outcome", "success".to_owned()),
        Outcome::Attempt { error_code } => {
            put("trailguard/Outcome", format!("attempt ({error_code})"))
        }
    }
    if let Some(event_id) = &finding.event_id {
        put("trailguard/EventId", event_id.clone());
    }
    if let Some(actor) = &finding.actor {
        if let Some(arn) = &actor.arn {
            put("trailguard/ActorArn", arn.clone());
        }
        if let Some(key) = &actor.access_key_id {
            put("trailguard/AccessKeyId", key.clone());
        }
        if let Some(kind) = &actor.identity_type {
            put("trailguard/ActorType", kind.clone());
        }
        if let Some(ip) = &actor.source_ip {
            put("trailguard/SourceIp", ip.clone());
        }
        if let Some(mfa) = actor.mfa {
            put("trailguard/MfaAuthenticated", mfa.to_string());
        }
    }
    if !finding.attack.is_empty() {
        put("trailguard/Attack", finding.attack.join(","));
    }
    if !finding.compliance.is_empty() {
        put("trailguard/Compliance", finding.compliance.join(","));
    }
    if let Some(entry) = &finding.fix.kb_entry {
        put("trailguard/Explain", format!("trailguard explain {entry}"));
    }
    for (i, evidence) in finding.evidence.iter().enumerate() {
        put(
            &format!("trailguard/Evidence/{i}"),
            truncate_chars(&format!("{} = {}", evidence.path, evidence.value), 1000),
        );
    }
    Value::Object(fields)
}

/// `Action.AwsApiCallAction` for findings about an API call.
fn action(finding: &Finding) -> Option<Value> {
    let api = finding.event_name.as_ref()?;
    let mut call = Map::new();
    call.insert("Api".into(), json!(api));
    if let Some(service) = &finding.event_source {
        call.insert("ServiceName".into(), json!(service));
    }
    // CallerType says where the call came from: an IP address, or a domain (an AWS service calling
    // on someone's behalf puts its name, e.g. `cloudformation.amazonaws.com`, in sourceIPAddress).
    if let Some(source) = finding.actor.as_ref().and_then(|a| a.source_ip.as_deref()) {
        match source.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(_)) => {
                call.insert("CallerType".into(), json!("remoteip"));
                call.insert("RemoteIpDetails".into(), json!({"IpAddressV4": source}));
            }
            // ActionRemoteIpDetails has no IPv6 field: the address stays in ProductFields.
            Ok(std::net::IpAddr::V6(_)) => {
                call.insert("CallerType".into(), json!("remoteip"));
            }
            Err(_) => {
                call.insert("CallerType".into(), json!("domain"));
                call.insert("DomainDetails".into(), json!({"Domain": source}));
            }
        }
    }
    if let Some(resource) = &finding.resource {
        call.insert(
            "AffectedResources".into(),
            json!({ resource.kind.clone(): resource.id.clone() }),
        );
    }
    if let Some(time) = &finding.event_time {
        call.insert("FirstSeen".into(), json!(time));
        call.insert("LastSeen".into(), json!(time));
    }
    Some(json!({"ActionType": "AWS_API_CALL", "AwsApiCallAction": call}))
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

    fn render(findings: &[Finding]) -> String {
        let mut buf = Vec::new();
        let mut writer = AsffWriter::with_clock(&mut buf, &OutputOptions::default(), fixed_now());
        for finding in findings {
            writer.write(finding).unwrap();
        }
        writer.finish(&RunSummary::new("scan")).unwrap();
        String::from_utf8(buf).unwrap()
    }

    /// Every attribute Security Hub's `BatchImportFindings` requires, with the types and limits it checks.
    #[test]
    fn every_finding_has_the_required_fields() {
        let text = render(&sample_findings());
        let batches: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(batches.len(), 1);
        let findings = batches[0]["Findings"].as_array().unwrap();
        assert_eq!(findings.len(), sample_findings().len());
        let account_re = regex::Regex::new(r"^\d{12}$").unwrap();
        let time_re = regex::Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$").unwrap();
        for finding in findings {
            for key in [
                "SchemaVersion",
                "Id",
                "ProductArn",
                "GeneratorId",
                "AwsAccountId",
                "Types",
                "CreatedAt",
                "UpdatedAt",
                "Severity",
                "Title",
                "Description",
                "Resources",
            ] {
                assert!(finding.get(key).is_some(), "missing {key} in {finding}");
            }
            assert_eq!(finding["SchemaVersion"], "2018-10-08");
            assert!(account_re.is_match(finding["AwsAccountId"].as_str().unwrap()));
            assert!(time_re.is_match(finding["CreatedAt"].as_str().unwrap()));
            assert!(time_re.is_match(finding["UpdatedAt"].as_str().unwrap()));
            assert!(finding["ProductArn"]
                .as_str()
                .unwrap()
                .starts_with("arn:aws:securityhub:"));
            let label = finding["Severity"]["Label"].as_str().unwrap();
            assert!(["INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"].contains(&label));
            let types = finding["Types"].as_array().unwrap();
            assert!(!types.is_empty());
            for t in types {
                let t = t.as_str().unwrap();
                let namespace = t.split('/').next().unwrap();
                assert!(
                    [
                        "Software and Configuration Checks",
                        "TTPs",
                        "Effects",
                        "Unusual Behaviors",
                        "Sensitive Data Identifications"
                    ]
                    .contains(&namespace),
                    "bad type namespace in {t}"
                );
            }
            let resources = finding["Resources"].as_array().unwrap();
            assert!(!resources.is_empty());
            assert!(resources[0]["Type"].as_str().is_some());
            assert!(resources[0]["Id"].as_str().is_some());
            assert!(finding["Title"].as_str().unwrap().chars().count() <= TITLE_MAX);
            assert!(finding["ProductFields"].as_object().unwrap().len() <= PRODUCT_FIELDS_MAX);
            for value in finding["ProductFields"].as_object().unwrap().values() {
                assert!(value.is_string(), "ProductFields values must be strings");
            }
        }
    }

    #[test]
    fn batches_hold_at_most_one_hundred() {
        let base = &sample_findings()[0];
        let many: Vec<Finding> = (0..250)
            .map(|i| {
                let mut f = base.clone();
                f.id = Finding::stable_id(&["CT001", &i.to_string()]);
                f
            })
            .collect();
        let text = render(&many);
        let sizes: Vec<usize> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["Findings"]
                    .as_array()
                    .unwrap()
                    .len()
            })
            .collect();
        assert_eq!(sizes, vec![100, 100, 50]);
    }

    #[test]
    fn maps_tactics_api_call_and_fallbacks() {
        let critical = to_asff(&sample_findings()[0], fixed_now(), None, None);
        let types: Vec<&str> = critical["Types"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(types.contains(&"TTPs/Persistence"));
        assert!(types.contains(&"TTPs/Privilege Escalation"));
        assert_eq!(
            critical["Action"]["AwsApiCallAction"]["Api"],
            "CreatePolicyVersion"
        );
        assert_eq!(
            critical["Action"]["AwsApiCallAction"]["RemoteIpDetails"]["IpAddressV4"],
            "198.51.100.23"
        );
        assert_eq!(
            critical["Action"]["AwsApiCallAction"]["CallerType"],
            "remoteip"
        );
        assert_eq!(
            critical["Action"]["AwsApiCallAction"]["AffectedResources"]["AwsIamPolicy"],
            "arn:aws:iam::111122223333:policy/ops-readonly"
        );
        // IPv6 has no ASFF field: the caller type still says remoteip, the address is in ProductFields.
        let denied = to_asff(&sample_findings()[1], fixed_now(), None, None);
        assert_eq!(
            denied["Action"]["AwsApiCallAction"]["CallerType"],
            "remoteip"
        );
        assert!(denied["Action"]["AwsApiCallAction"]
            .get("RemoteIpDetails")
            .is_none());
        assert_eq!(
            denied["ProductFields"]["trailguard/SourceIp"],
            "2001:db8::7"
        );
        assert_eq!(critical["CreatedAt"], "2024-03-01T10:15:42.000Z");
        // A policy-file finding has no account: the options supply one, else a placeholder.
        let file = to_asff(
            &sample_findings()[4],
            fixed_now(),
            Some("999988887777"),
            None,
        );
        assert_eq!(file["AwsAccountId"], "999988887777");
        assert_eq!(
            file["ProductArn"],
            "arn:aws:securityhub:us-east-1:999988887777:product/999988887777/default"
        );
        assert_eq!(file["Resources"][0]["Type"], "Other");
        assert_eq!(
            file["Resources"][0]["Details"]["Other"]["Type"],
            "PolicyDocument"
        );
    }

    #[test]
    fn snapshot() {
        let batches: Vec<Value> = render(&sample_findings())
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        insta::assert_json_snapshot!(batches);
    }
}
