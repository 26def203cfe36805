//! A matched Sigma rule as a [`Finding`] in the shared format.
//!
//! The common part (actor, account, region, event fields, outcome) comes from the engine's
//! [`EventContext`], so Sigma findings read like the built-in CloudTrail ones. The rule supplies the title,
//! id, level, ATT&CK techniques (from `attack.tNNNN` tags), false positives (as notes) and description
//! (as the fix summary). Evidence lists the record's values for the fields the rule tests, with secret
//! fields redacted ([`crate::secrets`]).

use serde_json::Value;

use crate::finding::{Evidence, Finding, FindingSource, Resource};
use crate::rule::{EventContext, FindingBuilder};

use super::fields::{FieldRef, RecordView};
use super::CompiledRule;

/// ATT&CK technique ids from Sigma tags: `attack.t1098.003` → `T1098.003`. Tactic tags
/// (`attack.persistence`) and group/software tags (`attack.g0016`, `attack.s0002`) are not techniques.
pub fn attack_techniques(tags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for tag in tags {
        let Some(rest) = tag.strip_prefix("attack.") else {
            continue;
        };
        let technique = rest.to_ascii_uppercase();
        // Bytes, not string slices: tags are user text and may hold multi-byte characters.
        let b = technique.as_bytes();
        let digits = |part: &[u8]| !part.is_empty() && part.iter().all(u8::is_ascii_digit);
        let is_technique = b.len() >= 5
            && b[0] == b'T'
            && digits(&b[1..5])
            && (b.len() == 5 || (b[5] == b'.' && digits(&b[6..])));
        if is_technique && !out.contains(&technique) {
            out.push(technique);
        }
    }
    out
}

/// ATT&CK tactic names from Sigma tags (`attack.defense-evasion` → `defense-evasion`).
pub fn attack_tactics(tags: &[String]) -> Vec<String> {
    tags.iter()
        .filter_map(|t| t.strip_prefix("attack."))
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'))
        .map(str::to_owned)
        .collect()
}

/// Request parameters that name the resource a call acted on, with the resource type they imply.
const RESOURCE_KEYS: &[(&str, &str)] = &[
    ("userName", "AwsIamUser"),
    ("roleName", "AwsIamRole"),
    ("groupName", "AwsIamGroup"),
    ("policyArn", "AwsIamPolicy"),
    ("sAMLProviderArn", "AwsIamSamlProvider"),
    ("bucketName", "AwsS3Bucket"),
    ("name", "AwsCloudTrailTrail"),
    ("trailName", "AwsCloudTrailTrail"),
    ("detectorId", "AwsGuardDutyDetector"),
    ("functionName", "AwsLambdaFunction"),
    ("instanceId", "AwsEc2Instance"),
    ("groupId", "AwsEc2SecurityGroup"),
    ("snapshotId", "AwsEc2Snapshot"),
    ("dBInstanceIdentifier", "AwsRdsDbInstance"),
    ("dBClusterIdentifier", "AwsRdsDbCluster"),
    ("keyId", "AwsKmsKey"),
    ("fileSystemId", "AwsEfsFileSystem"),
    ("domainName", "AwsRoute53Domain"),
    ("identity", "AwsSesIdentity"),
    ("roleArn", "AwsIamRole"),
];

/// The resource a call acted on, best effort: the first well-known name in `requestParameters`.
fn resource_of(view: &RecordView<'_, '_>) -> Option<Resource> {
    // Only a trail's `name` is a trail; elsewhere `name` means many things.
    let is_trail = view.record.event_source == "cloudtrail.amazonaws.com";
    let wanted = |key: &str| key != "name" || is_trail;
    let make = |kind: &str, id: &str| Resource {
        kind: kind.to_owned(),
        name: id.rsplit(['/', ':']).next().map(str::to_owned),
        id: id.to_owned(),
    };
    // A rule that read requestParameters already parsed it; otherwise read only its top level, which is
    // far cheaper than building the whole value for one name.
    if let Some(parsed) = view.parsed_request_parameters() {
        let params = parsed.as_object()?;
        return RESOURCE_KEYS.iter().find_map(|(key, kind)| {
            wanted(key)
                .then(|| params.get(*key)?.as_str().map(|id| make(kind, id)))
                .flatten()
        });
    }
    let raw = view.record.request_parameters?;
    let top: Vec<(std::borrow::Cow<'_, str>, &serde_json::value::RawValue)> =
        serde_json::from_str::<TopLevel<'_>>(raw.get()).ok()?.0;
    RESOURCE_KEYS.iter().find_map(|(key, kind)| {
        if !wanted(key) {
            return None;
        }
        let (_, value) = top.iter().find(|(k, _)| k == key)?;
        let id: std::borrow::Cow<'_, str> = serde_json::from_str(value.get()).ok()?;
        Some(make(kind, &id))
    })
}

/// The top-level entries of a JSON object, values left unparsed.
struct TopLevel<'a>(Vec<(std::borrow::Cow<'a, str>, &'a serde_json::value::RawValue)>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for TopLevel<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Entries<'a> {
            type Value = TopLevel<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    let value: &'de serde_json::value::RawValue = map.next_value()?;
                    out.push((key, value));
                }
                Ok(TopLevel(out))
            }
        }
        deserializer.deserialize_map(Entries(std::marker::PhantomData))
    }
}

/// The notes every finding of a rule carries: its false positives, ATT&CK tactics and status.
pub fn rule_notes(falsepositives: &[String], tags: &[String], status: Option<&str>) -> Vec<String> {
    let mut notes: Vec<String> = falsepositives
        .iter()
        .filter(|fp| !fp.trim().is_empty())
        .map(|fp| format!("Possible false positive: {}", fp.trim()))
        .collect();
    let tactics = attack_tactics(tags);
    if !tactics.is_empty() {
        notes.push(format!("ATT&CK tactics: {}", tactics.join(", ")));
    }
    if let Some(status) = status.filter(|s| *s != "stable") {
        notes.push(format!("Sigma rule status: {status}"));
    }
    notes
}

/// The distinct fields a rule tests, for evidence (keyword searches have no single value to show).
pub fn evidence_fields(rule_fields: &[&super::matcher::FieldMatcher]) -> Vec<(String, FieldRef)> {
    let mut out: Vec<(String, FieldRef)> = Vec::new();
    for matcher in rule_fields {
        if matcher.field == FieldRef::RawText || out.iter().any(|(name, _)| *name == matcher.name) {
            continue;
        }
        out.push((matcher.name.clone(), matcher.field.clone()));
    }
    out
}

/// Builds the finding for `rule` matching the record in `view`.
pub fn build(rule: &CompiledRule, view: &RecordView<'_, '_>) -> Finding {
    let record = view.record;
    let event = EventContext::from_record(record);
    let id_fallback;
    let id_part = match event.event_id.as_deref() {
        Some(id) => id,
        None => {
            id_fallback = format!(
                "{}|{}|{}",
                event.event_time,
                event.event_name,
                event.actor.arn.as_deref().unwrap_or_default()
            );
            &id_fallback
        }
    };
    let caller = event
        .actor
        .arn
        .as_deref()
        .or(event.actor.identity_type.as_deref())
        .unwrap_or("an unknown caller");
    let from = event
        .actor
        .source_ip
        .as_deref()
        .map(|ip| format!(" from {ip}"))
        .unwrap_or_default();
    let failed = event
        .error_code
        .as_deref()
        .map(|code| format!(" (failed: {code})"))
        .unwrap_or_default();
    let message = format!(
        "Sigma rule `{}` matched {} ({}) by `{caller}`{from}{failed}.",
        rule.title, event.event_name, event.event_source
    );

    let evidence: Vec<Evidence> = rule
        .evidence_fields
        .iter()
        .filter_map(|(name, field)| {
            let value = view.json_value(field)?;
            // A rule may test a secret field; its value still never leaves the record.
            (value != Value::Null).then(|| Evidence {
                path: name.clone(),
                value: crate::secrets::redact(name, value),
            })
        })
        .collect();

    let mut finding = Finding::new(
        Finding::stable_id(&[&rule.id, id_part]),
        rule.id.clone(),
        rule.name.clone(),
        rule.title.clone(),
        rule.level,
        FindingSource::Sigma,
        message,
    );
    finding.attack = rule.attack.clone();
    finding.evidence = evidence;
    finding.notes = rule.notes.clone();
    finding.resource = resource_of(view);
    finding.fix.summary = rule
        .description
        .clone()
        .unwrap_or_else(|| format!("Review this {} call.", event.event_name));
    FindingBuilder::from_finding(finding)
        .with_event(&event)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn techniques_from_tags() {
        let t = tags(&[
            "attack.persistence",
            "attack.t1098",
            "attack.t1098.003",
            "attack.T1098",
            "attack.g0016",
            "attack.s0002",
            "cve.2021-1234",
            "attack.defense-evasion",
            "attack.t1562.x",
            "attack.t123ä",
            "attack.t1234ä",
            "attack.t1098.",
        ]);
        assert_eq!(attack_techniques(&t), ["T1098", "T1098.003"]);
        assert_eq!(attack_tactics(&t), ["persistence", "defense-evasion"]);
    }
}
