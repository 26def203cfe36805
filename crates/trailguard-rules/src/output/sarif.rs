//! SARIF 2.1.0, for CI code scanning (GitHub, GitLab, Azure DevOps): one run, the rules that fired
//! (with their docs and a `security-severity`), and one result per finding. Policy findings carry
//! their file, line and column and the JSON path of the offending statement; findings without a file
//! (CloudTrail, posture) are placed on their resource as a logical location.
//!
//! SARIF is one JSON document, so the writer buffers findings and writes everything in `finish`.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde_json::{json, Value};

use crate::finding::{Finding, Severity};
use crate::meta::RuleMeta;
use crate::output::{FindingWriter, RunSummary, PRODUCT_NAME, PRODUCT_VERSION};

pub const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const INFORMATION_URI: &str = "https://example.invalid/trailguard";

pub struct SarifWriter<W: Write> {
    out: W,
    findings: Vec<Finding>,
    /// The docs of the rules the run knows ([`OutputOptions::rules`](crate::output::OutputOptions)).
    rules: Vec<&'static RuleMeta>,
}

impl<W: Write> SarifWriter<W> {
    /// A writer describing findings' rules from `rules` (rules not in it get a descriptor from the finding).
    pub fn new(out: W, rules: Vec<&'static RuleMeta>) -> Self {
        SarifWriter {
            out,
            findings: Vec::new(),
            rules,
        }
    }
}

/// SARIF result level for a severity.
pub fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub's `security-severity` (0.0-10.0) for a severity.
pub fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "1.0",
    }
}

fn rule_descriptor(rule_id: &str, first: &Finding, meta: Option<&RuleMeta>) -> Value {
    let severity = meta.map(|m| m.severity).unwrap_or(first.severity);
    let mut rule = json!({
        "id": rule_id,
        "name": meta.map(|m| m.name).unwrap_or(first.rule_name.as_str()),
        "shortDescription": {"text": meta.map(|m| m.title).unwrap_or(first.title.as_str())},
        "defaultConfiguration": {"level": level(severity)},
        "properties": {
            "security-severity": security_severity(severity),
            "tags": ["security", format!("trailguard/{:?}", first.source).to_lowercase()],
        },
    });
    if let Some(meta) = meta {
        rule["fullDescription"] = json!({"text": meta.doc.what});
        rule["help"] = json!({
            "text": format!("{}\n\nWhy: {}\n\nFix: {}", meta.doc.what, meta.doc.why, meta.doc.fix),
            "markdown": format!("**What it detects.** {}\n\n**Why it matters.** {}\n\n**Example.**\n\n{}\n\n**Fix.** {}\n\n{}",
                meta.doc.what, meta.doc.why, meta.doc.example, meta.doc.fix,
                meta.doc.references.iter().map(|r| format!("- <{r}>")).collect::<Vec<_>>().join("\n")),
        });
        if let Some(uri) = meta.doc.references.first() {
            rule["helpUri"] = json!(uri);
        }
    }
    rule
}

fn result(finding: &Finding, rule_index: usize) -> Value {
    let mut result = json!({
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "level": level(finding.severity),
        "message": {"text": finding.message},
        "partialFingerprints": {"trailguardFindingId/v1": finding.id},
        "properties": {
            "severity": finding.severity.as_str(),
            "security-severity": security_severity(finding.severity),
        },
    });
    let mut location = serde_json::Map::new();
    if let Some(loc) = &finding.location {
        let mut region = serde_json::Map::new();
        if let Some(line) = loc.line {
            region.insert("startLine".into(), json!(line));
        }
        if let Some(column) = loc.column {
            region.insert("startColumn".into(), json!(column));
        }
        let mut physical = json!({"artifactLocation": {"uri": file_uri(&loc.file)}});
        if !region.is_empty() {
            physical["region"] = Value::Object(region);
        }
        location.insert("physicalLocation".into(), physical);
        if let Some(path) = &loc.json_path {
            location.insert(
                "logicalLocations".into(),
                json!([{"fullyQualifiedName": path, "kind": "member"}]),
            );
        }
    } else if let Some(resource) = &finding.resource {
        location.insert(
            "logicalLocations".into(),
            json!([{"fullyQualifiedName": resource.id, "kind": "resource"}]),
        );
    }
    if !location.is_empty() {
        result["locations"] = json!([Value::Object(location)]);
    }
    if let Some(resource) = &finding.resource {
        result["properties"]["resource"] = json!(resource.id);
    }
    if !finding.fix.summary.is_empty() {
        result["properties"]["fix"] = json!(finding.fix.summary);
    }
    result
}

/// Relative paths stay relative (resolved against the checkout by CI); Windows separators become `/`.
fn file_uri(path: &str) -> String {
    let path = path.replace('\\', "/");
    let path = path.strip_prefix("./").unwrap_or(&path);
    path.replace(' ', "%20")
}

/// The whole SARIF log for a set of findings, taking rule docs from `metas` (rules not in it get a
/// descriptor from the finding).
pub fn sarif_log(findings: &[Finding], summary: &RunSummary, metas: &[&RuleMeta]) -> Value {
    let metas: BTreeMap<&str, &RuleMeta> = metas.iter().map(|m| (m.code, *m)).collect();
    let mut rule_order: Vec<&str> = Vec::new();
    let mut rules = Vec::new();
    for f in findings {
        if !rule_order.contains(&f.rule_id.as_str()) {
            rule_order.push(&f.rule_id);
            rules.push(rule_descriptor(
                &f.rule_id,
                f,
                metas.get(f.rule_id.as_str()).copied(),
            ));
        }
    }
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let index = rule_order.iter().position(|r| *r == f.rule_id).unwrap_or(0);
            result(f, index)
        })
        .collect();
    let mut invocation = json!({"executionSuccessful": true});
    if !summary.command.is_empty() {
        invocation["commandLine"] = json!(format!("{PRODUCT_NAME} {}", summary.command));
    }
    if summary.errors > 0 {
        invocation["toolExecutionNotifications"] = json!([{
            "level": "error",
            "message": {"text": format!("{} input error(s); see stderr", summary.errors)},
        }]);
    }
    json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": PRODUCT_NAME,
                "version": PRODUCT_VERSION,
                "semanticVersion": PRODUCT_VERSION,
                "informationUri": INFORMATION_URI,
                "rules": rules,
            }},
            "invocations": [invocation],
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    })
}

impl<W: Write> FindingWriter for SarifWriter<W> {
    fn write(&mut self, finding: &Finding) -> io::Result<()> {
        self.findings.push(finding.clone());
        Ok(())
    }

    fn finish(&mut self, summary: &RunSummary) -> io::Result<()> {
        let log = sarif_log(&self.findings, summary, &self.rules);
        serde_json::to_writer_pretty(&mut self.out, &log)?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::fixtures::sample_findings;

    fn render() -> Value {
        let mut buf = Vec::new();
        let mut writer = SarifWriter::new(&mut buf, crate::registry::metas());
        for finding in sample_findings() {
            writer.write(&finding).unwrap();
        }
        writer.finish(&RunSummary::new("policy check")).unwrap();
        serde_json::from_slice(&buf).unwrap()
    }

    /// The parts of the SARIF 2.1.0 schema that code-scanning services enforce.
    #[test]
    fn log_has_the_required_sarif_shape() {
        let log = render();
        assert_eq!(log["version"], "2.1.0");
        assert_eq!(log["$schema"], SARIF_SCHEMA);
        let run = &log["runs"][0];
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), sample_findings().len());
        for r in results {
            let index = r["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[index]["id"], r["ruleId"]);
            assert!(["error", "warning", "note"].contains(&r["level"].as_str().unwrap()));
            assert!(!r["message"]["text"].as_str().unwrap().is_empty());
            assert!(
                r["locations"].as_array().is_some_and(|l| !l.is_empty()),
                "{r}"
            );
        }
        for rule in rules {
            let sev: f64 = rule["properties"]["security-severity"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((0.0..=10.0).contains(&sev));
        }
        let with_file = results
            .iter()
            .find(|r| r["locations"][0]["physicalLocation"].is_object())
            .unwrap();
        let region = &with_file["locations"][0]["physicalLocation"]["region"];
        assert!(region["startLine"].as_u64().unwrap() >= 1);
    }

    #[test]
    fn policy_findings_have_file_line_and_path() {
        let report = crate::rules::policy::check_text(
            "policies/admin.json",
            "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Effect\": \"Allow\", \"Action\": \"*\", \"Resource\": \"*\"}\n  ]\n}",
            crate::rules::policy::VersionSelection::All,
        );
        let log = sarif_log(
            &report.findings,
            &RunSummary::new("policy check"),
            &crate::registry::metas(),
        );
        let result = &log["runs"][0]["results"][0];
        assert_eq!(result["ruleId"], "PC010");
        assert_eq!(result["level"], "error");
        let loc = &result["locations"][0];
        assert_eq!(
            loc["physicalLocation"]["artifactLocation"]["uri"],
            "policies/admin.json"
        );
        assert_eq!(loc["physicalLocation"]["region"]["startLine"], 4);
        assert_eq!(loc["physicalLocation"]["region"]["startColumn"], 5);
        assert_eq!(
            loc["logicalLocations"][0]["fullyQualifiedName"],
            "Statement[0]"
        );
        let rule = &log["runs"][0]["tool"]["driver"]["rules"][0];
        assert!(rule["help"]["markdown"]
            .as_str()
            .unwrap()
            .contains("**Fix.**"));
    }

    #[test]
    fn snapshot() {
        // Descriptors from the findings only, so other rules' doc edits do not churn this snapshot.
        let mut log = sarif_log(&sample_findings(), &RunSummary::new("policy check"), &[]);
        // Keep the snapshot stable across version bumps.
        log["runs"][0]["tool"]["driver"]["version"] = "[version]".into();
        log["runs"][0]["tool"]["driver"]["semanticVersion"] = "[version]".into();
        insta::assert_json_snapshot!(log);
    }
}
