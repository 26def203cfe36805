//! Policy checks (`PC001`..), one file per check, run on every policy document `trailguard policy
//! check` reads (and on documents the CloudTrail rules and the posture audit pass in).
//!
//! Each check file declares `pub const META: RuleMeta` and `pub fn check(ctx: &PolicyContext, out: &mut
//! Report)`, and is registered by one line in the `register!` block below. [`check_policy`] runs them all
//! on one parsed document; [`check_text`] takes a whole
//! input file (a policy, `get-policy-version` output, `get-account-authorization-details` output, a
//! URL-encoded string), finds every policy in it and reports parse errors as `PC001` findings.

use trailguard_policy::analysis::{analyze, ActionHit, PolicyAnalysis};
use trailguard_policy::input::{extract_policies, NamedPolicy, PolicyFile};
use trailguard_policy::json::LineIndex;
use trailguard_policy::{PolicyDocument, Span, Statement};

use crate::finding::{Evidence, Finding, FindingSource, Location, Resource};
use crate::meta::RuleMeta;
use crate::rule::{FindingBuilder, Report};

crate::registry::register! { policy:
    malformed_policy,
    version_invalid,
    unknown_service,
    unknown_action,
    invalid_condition_operator,
    invalid_resource_arn,
    unknown_condition_key,
    condition_type_mismatch,
    invalid_sid,
    admin_access,
    allow_not_action,
    allow_with_not_resource_or_principal,
    passrole_on_any_role,
    resource_exposure,
    credentials_exposure,
    data_exfiltration,
    infrastructure_modification,
    sensitive_service_wildcard,
    privilege_escalation,
    mfa_missing_on_sensitive_actions,
    mfa_condition_inverted,
    redundant_statement,
    deprecated_action,
    resource_type_mismatch,
    public_principal,
    resource_star_where_scopable,
}

/// A registered policy check: its metadata and its verb.
#[derive(Clone, Copy)]
pub struct PolicyCheck {
    pub meta: &'static RuleMeta,
    pub check: fn(&PolicyContext<'_>, &mut Report),
}

/// Everything a check sees about one policy.
pub struct PolicyContext<'a> {
    /// The file as the user named it (or a label such as `cloudtrail:requestParameters.policyDocument`).
    pub file: &'a str,
    pub policy: &'a NamedPolicy,
    /// Line index of the whole file.
    pub lines: &'a LineIndex,
    pub document: &'a PolicyDocument,
    pub analysis: &'a PolicyAnalysis,
}

impl PolicyContext<'_> {
    /// File location of a span inside the document, with its JSON path.
    pub fn location(&self, span: Span, inner_path: &str) -> Location {
        let offset = self.policy.file_offset_of(span.start);
        let (line, column) = self.lines.line_col(offset);
        Location {
            file: self.file.to_owned(),
            line: Some(line),
            column: Some(column),
            json_path: Some(self.policy.path_in_file(inner_path)),
        }
    }

    pub fn statement(&self, index: usize) -> Option<&Statement> {
        self.document.statements.get(index)
    }

    /// Builds a finding for `meta` about something at `span`/`inner_path`; `key` distinguishes
    /// several findings of one check on one policy (stable across runs).
    pub fn finding(
        &self,
        meta: &RuleMeta,
        span: Span,
        inner_path: &str,
        key: &str,
        message: String,
    ) -> Finding {
        let policy_id = policy_resource_id(self.file, self.policy);
        let slice = self.policy.text.get(span.start..span.end).unwrap_or("");
        // A member span (`"key": value`) reads as JSON once wrapped in braces. A huge span (a hostile
        // multi-megabyte resource) is shown by its start only, so findings stay small.
        let evidence_value = if slice.len() > MAX_EVIDENCE {
            let mut end = MAX_EVIDENCE;
            while !slice.is_char_boundary(end) {
                end -= 1;
            }
            serde_json::Value::String(format!(
                "{}… (truncated: {} bytes)",
                &slice[..end],
                slice.len()
            ))
        } else {
            serde_json::from_str(slice)
                .or_else(|_| serde_json::from_str(&format!("{{{slice}}}")))
                .unwrap_or_else(|_| serde_json::Value::String(slice.to_owned()))
        };
        FindingBuilder::new(
            meta,
            FindingSource::Policy,
            &[self.file, &self.policy.name, inner_path, key],
        )
        .message(message)
        .resource(Resource {
            kind: "PolicyDocument".to_owned(),
            id: policy_id,
            name: Some(self.policy.name.clone()),
        })
        .evidence(Evidence {
            path: self.policy.path_in_file(inner_path),
            value: evidence_value,
        })
        .fix_summary(first_paragraph(meta.doc.fix))
        .location(self.location(span, inner_path))
        .build()
    }

    /// A finding about a whole statement.
    pub fn statement_finding(
        &self,
        meta: &RuleMeta,
        statement: usize,
        key: &str,
        message: String,
    ) -> Option<Finding> {
        let s = self.statement(statement)?;
        Some(self.finding(meta, s.span, &s.path(), key, message))
    }
}

/// The longest evidence text a policy finding copies from the document.
const MAX_EVIDENCE: usize = 16 * 1024;

/// The id findings use for a policy: its ARN, else the file (plus the JSON path when embedded).
pub fn policy_resource_id(file: &str, policy: &NamedPolicy) -> String {
    if let Some(arn) = &policy.arn {
        return arn.clone();
    }
    match policy.path_in_file("").as_str() {
        "" => file.to_owned(),
        path => format!("{file}#{path}"),
    }
}

fn first_paragraph(text: &str) -> String {
    text.split("\n\n").next().unwrap_or(text).trim().to_owned()
}

/// Lists up to `max` action names, then "and N more".
pub fn list_actions(hits: &[&ActionHit], max: usize) -> String {
    let mut names: Vec<&str> = hits.iter().map(|h| h.action.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let shown: Vec<String> = names.iter().take(max).map(|n| format!("`{n}`")).collect();
    if names.len() > max {
        format!("{} and {} more", shown.join(", "), names.len() - max)
    } else {
        shown.join(", ")
    }
}

/// Groups category hits by statement, in statement order (a map, so thousands of statements stay linear).
pub fn by_statement(hits: &[ActionHit]) -> Vec<(usize, Vec<&ActionHit>)> {
    let mut groups: std::collections::BTreeMap<usize, Vec<&ActionHit>> = Default::default();
    for hit in hits {
        groups.entry(hit.statement).or_default().push(hit);
    }
    groups.into_iter().collect()
}

/// One finding per statement for a risk category (resource exposure, credentials exposure, ...):
/// lists the actions, lowers the severity when every grant is conditional. Skipped for admin
/// policies, which PC010 already reports.
pub fn category_check(
    ctx: &PolicyContext<'_>,
    meta: &RuleMeta,
    hits: &[ActionHit],
    what: &str,
    out: &mut Report,
) {
    if ctx.analysis.is_admin {
        return;
    }
    for (statement, list) in by_statement(hits) {
        let Some(s) = ctx.statement(statement) else {
            continue;
        };
        let conditional = list.iter().all(|h| h.conditional);
        let count = list.len();
        let message = format!(
            "Allows {count} {what} action{} on every resource{}: {}.",
            if count == 1 { "" } else { "s" },
            if conditional {
                " (under conditions)"
            } else {
                ""
            },
            list_actions(&list, 8)
        );
        let mut f = ctx.finding(meta, s.span, &s.path(), "", message);
        if conditional {
            f.severity = f.severity.lowered();
        }
        out.push(f);
    }
}

/// Checks about what a policy lets *its holder* do. Trust and resource policies (statements with a
/// `Principal`) grant to others, so these do not apply to them; PC012 and PC025 cover those.
const IDENTITY_ONLY: &[&str] = &[
    "PC010", "PC011", "PC013", "PC014", "PC015", "PC016", "PC017", "PC018", "PC019", "PC020",
    "PC026",
];

/// Whether the document is a trust or resource-based policy rather than an identity policy.
pub fn is_resource_policy(ctx: &PolicyContext<'_>) -> bool {
    ctx.policy.kind == trailguard_policy::input::PolicyKind::Trust
        || ctx
            .document
            .statements
            .iter()
            .any(|s| s.principal.is_some())
}

/// Runs every check on one parsed document.
pub fn check_policy(ctx: &PolicyContext<'_>) -> Vec<Finding> {
    let mut out = Report::default();
    for check in CHECKS {
        (check.check)(ctx, &mut out);
    }
    let mut findings = out.into_findings();
    if is_resource_policy(ctx) {
        findings.retain(|f| !IDENTITY_ONLY.contains(&f.rule_id.as_str()));
    }
    findings
}

/// The result of checking every policy in one input.
#[derive(Debug, Default)]
pub struct CheckReport {
    pub findings: Vec<Finding>,
    /// Policies found in the input.
    pub policies: usize,
    /// Policies that could not be parsed (each also reported as a `PC001` finding).
    pub parse_errors: usize,
    /// What the input was recognised as.
    pub format: &'static str,
}

/// Which policies of an input to check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum VersionSelection {
    /// Every version of every managed policy.
    All,
    /// Only default versions (what is in force).
    #[default]
    DefaultOnly,
}

/// Finds every policy in `text` and checks it. `file` names the input in locations.
pub fn check_text(file: &str, text: &str, versions: VersionSelection) -> CheckReport {
    let input: PolicyFile = extract_policies(text);
    let mut report = CheckReport {
        format: input.format,
        ..CheckReport::default()
    };
    for policy in &input.policies {
        if versions == VersionSelection::DefaultOnly && !policy.is_default_version {
            continue;
        }
        report.policies += 1;
        match policy.parse() {
            Ok(document) => {
                let analysis = analyze(&document);
                let ctx = PolicyContext {
                    file,
                    policy,
                    lines: &input.lines,
                    document: &document,
                    analysis: &analysis,
                };
                report.findings.extend(check_policy(&ctx));
            }
            Err(err) => {
                report.parse_errors += 1;
                report
                    .findings
                    .push(malformed_policy::finding(file, policy, &input.lines, &err));
            }
        }
    }
    report
}

/// Checks one policy document given as text (e.g. a CloudTrail `policyDocument`, URL-encoded or not).
pub fn check_document_text(label: &str, text: &str) -> CheckReport {
    let decoded = trailguard_policy::decode_policy_text(text);
    check_text(label, &decoded, VersionSelection::All)
}

#[cfg(test)]
pub(crate) mod testkit {
    //! Helpers for the check tests: run every check on a policy and pick one check's findings.
    use super::*;

    pub fn run(text: &str) -> Vec<Finding> {
        check_text("policy.json", text, VersionSelection::All).findings
    }

    pub fn codes(text: &str, code: &str) -> Vec<Finding> {
        run(text)
            .into_iter()
            .filter(|f| f.rule_id == code)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_policies_get_only_the_checks_that_apply() {
        let trust = r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"}}},
            {"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:saml-provider/okta"},"Action":"sts:AssumeRoleWithSAML","Condition":{"StringEquals":{"SAML:aud":"https://signin.aws.amazon.com/saml"}}}]}"#;
        assert_eq!(testkit::run(trust), Vec::<Finding>::new());
        let public = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}]}"#;
        let codes: Vec<String> = testkit::run(public)
            .into_iter()
            .map(|f| f.rule_id)
            .collect();
        assert_eq!(codes, vec!["PC025"]);
    }

    #[test]
    fn a_clean_policy_has_no_findings() {
        let text = r#"{"Version":"2012-10-17","Statement":[{"Sid":"ReadReports","Effect":"Allow","Action":["s3:GetObject"],"Resource":"arn:aws:s3:::reports-bucket/*"}]}"#;
        assert_eq!(testkit::run(text), Vec::<Finding>::new());
    }

    #[test]
    fn findings_point_at_file_line_and_path() {
        let text = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Effect\": \"Allow\", \"Action\": \"s3:GetObject\", \"Resource\": \"arn:aws:s3:::b/*\"},\n    {\"Effect\": \"Allow\", \"Action\": \"*\", \"Resource\": \"*\"}\n  ]\n}";
        let admin = testkit::codes(text, "PC010");
        assert_eq!(admin.len(), 1);
        let location = admin[0].location.as_ref().unwrap();
        assert_eq!((location.line, location.column), (Some(5), Some(5)));
        assert_eq!(location.json_path.as_deref(), Some("Statement[1]"));
        assert_eq!(admin[0].evidence[0].value["Action"], "*");
    }

    #[test]
    fn authorization_details_report_every_policy_by_name() {
        let path =
            trailguard_testkit::shared_data().join("peer-suites/cloudsplaining/example.json");
        let text = std::fs::read_to_string(path).unwrap();
        let report = check_text("example.json", &text, VersionSelection::DefaultOnly);
        assert_eq!(report.format, "get-account-authorization-details output");
        assert_eq!(report.parse_errors, 0);
        assert!(report.policies > 150, "{}", report.policies);
        let admin: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.rule_id == "PC010")
            .collect();
        assert!(admin
            .iter()
            .any(|f| f.resource.as_ref().unwrap().name.as_deref()
                == Some("policy/AdministratorAccess (v1, default)")));
        let privesc = report.findings.iter().find(|f| {
            f.rule_id == "PC019"
                && f.resource
                    .as_ref()
                    .unwrap()
                    .name
                    .as_deref()
                    .is_some_and(|n| n.starts_with("policy/privesc4-CreateAccessKey"))
        });
        let privesc = privesc.expect("privesc4-CreateAccessKey is flagged");
        assert!(privesc.message.contains("CreateAccessKey"));
        assert!(privesc.location.as_ref().unwrap().line.unwrap() > 1);
    }
}
