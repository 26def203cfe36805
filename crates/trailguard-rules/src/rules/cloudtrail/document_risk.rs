//! The risk of a policy document carried in a CloudTrail record, for CT001, CT003, CT004 and the sequence
//! rules. A thin mapping from [`trailguard_policy::analysis::PolicyAnalysis`] (the one policy analyser) to
//! finding severity, reasons and evidence.
//!
//! Analysing a broad document takes about a millisecond, and trails repeat the same documents (pipelines
//! re-apply them), so results are kept in a small per-thread cache keyed by the document text, bounded
//! both in entries and in bytes (documents come from records, so their size is the attacker's choice).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use trailguard_policy::analysis::{analyze, PolicyAnalysis};
use trailguard_policy::PolicyDocument;

use serde_json::Value;

use super::common::{evidence, policy_text};
use crate::finding::{Evidence, Severity};

/// Why a document is risky, most severe first.
#[derive(Debug, Clone)]
pub struct DocumentRisk {
    /// Severity of the worst reason, before the rule adjusts it (e.g. not yet in effect).
    pub severity: Severity,
    pub reasons: Vec<String>,
    /// The statements behind the reasons, at `PREFIX.Statement[i]`.
    pub evidence: Vec<Evidence>,
    pub analysis: PolicyAnalysis,
}

/// Why a document could not be analysed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentError(pub String);

/// Documents remembered per worker thread; the cache is emptied when it reaches this many entries.
const CACHE_CAP: usize = 256;

/// Bytes the cache may hold per worker thread (keys and results, estimated): the cache is emptied
/// before it would pass this, whatever the documents' sizes. A document above a quarter of it is
/// analysed every time rather than cached (one such document would evict everything else).
const CACHE_BYTES: usize = 16 << 20;

/// Shared, not copied: a cache hit costs a hash of the text and a reference count.
type Assessment = Result<Option<Rc<DocumentRisk>>, DocumentError>;

#[derive(Default)]
struct Cache {
    /// Per record path (`requestParameters.policyDocument`, ...), per document text: looked up by `&str`
    /// so a hit allocates nothing.
    entries: HashMap<String, HashMap<String, Assessment>>,
    len: usize,
    bytes: usize,
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

/// Decodes (URL-encoded or plain) and analyses `text`; `Ok(None)` when nothing in it is risky.
/// `prefix` is the record path of the document, e.g. `requestParameters.policyDocument`.
pub fn assess(text: &str, prefix: &str) -> Assessment {
    let hit = CACHE.with(|c| {
        c.borrow()
            .entries
            .get(prefix)
            .and_then(|docs| docs.get(text))
            .cloned()
    });
    if let Some(hit) = hit {
        return hit;
    }
    let result = assess_uncached(text, prefix).map(|risk| risk.map(Rc::new));
    let cost = text.len() + prefix.len() + assessment_bytes(&result);
    if cost <= CACHE_BYTES / 4 {
        CACHE.with(|c| {
            let mut cache = c.borrow_mut();
            if cache.len >= CACHE_CAP || cache.bytes + cost > CACHE_BYTES {
                *cache = Cache::default();
            }
            cache.len += 1;
            cache.bytes += cost;
            cache
                .entries
                .entry(prefix.to_owned())
                .or_default()
                .insert(text.to_owned(), result.clone());
        });
    }
    result
}

/// The estimated bytes this thread's cache holds.
#[cfg(test)]
fn cached_bytes() -> usize {
    CACHE.with(|c| {
        c.borrow()
            .entries
            .iter()
            .flat_map(|(prefix, docs)| docs.iter().map(move |(text, a)| (prefix, text, a)))
            .map(|(prefix, text, a)| prefix.len() + text.len() + assessment_bytes(a))
            .sum()
    })
}

/// A generous estimate of the heap an assessment holds: its texts, evidence values and analysis lists.
fn assessment_bytes(assessment: &Assessment) -> usize {
    const NODE: usize = 48;
    fn value_bytes(v: &serde_json::Value) -> usize {
        NODE + match v {
            serde_json::Value::String(s) => s.len(),
            serde_json::Value::Array(items) => items.iter().map(value_bytes).sum(),
            serde_json::Value::Object(map) => {
                map.iter().map(|(k, v)| k.len() + value_bytes(v)).sum()
            }
            _ => 0,
        }
    }
    match assessment {
        Err(DocumentError(message)) => message.len(),
        Ok(None) => 0,
        Ok(Some(risk)) => {
            let a = &risk.analysis;
            let hits = a.resource_exposure.len()
                + a.credentials_exposure.len()
                + a.data_exfiltration.len()
                + a.infrastructure_modification.len()
                + a.mfa_missing.len()
                + a.escalation_primitives.len()
                + a.privilege_escalation
                    .iter()
                    .map(|p| p.actions.len() + 2)
                    .sum::<usize>();
            risk.reasons.iter().map(|r| r.len() + NODE).sum::<usize>()
                + risk
                    .evidence
                    .iter()
                    .map(|e| e.path.len() + value_bytes(&e.value))
                    .sum::<usize>()
                + hits * 2 * NODE
                + a.unknown_actions
                    .iter()
                    .map(|u| u.pattern.len() + NODE)
                    .sum::<usize>()
        }
    }
}

/// The risk of the policy document in `requestParameters.KEY` (plain or URL-encoded JSON) when it rates
/// high or critical: what makes a grant privileged for the rules that follow grants to their holders
/// (CT052, CT087, CT088). `None` for no document, one that cannot be analysed, or a lower risk.
pub fn privileged_document(params: Option<&Value>, key: &str) -> Option<Rc<DocumentRisk>> {
    let text = policy_text(params, key)?;
    assess(&text, &format!("requestParameters.{key}"))
        .ok()
        .flatten()
        .filter(|risk| risk.severity >= Severity::High)
}

/// Whether `text` (plain or URL-encoded) grants every action on every resource. Shares the cache entry of
/// the same document read as `requestParameters.policyDocument` (CT004 and CT020 both look at PutUserPolicy).
pub fn is_admin_document(text: &str) -> bool {
    matches!(assess(text, "requestParameters.policyDocument"), Ok(Some(risk)) if risk.analysis.is_admin)
}

fn assess_uncached(text: &str, prefix: &str) -> Result<Option<DocumentRisk>, DocumentError> {
    let decoded = trailguard_policy::decode_policy_text(text);
    let doc = PolicyDocument::parse(&decoded).map_err(|e| DocumentError(e.to_string()))?;
    let analysis = analyze(&doc);
    let mut reasons: Vec<(Severity, String, Vec<usize>)> = Vec::new();
    if analysis.is_admin {
        reasons.push((
            Severity::Critical,
            "grants every action on every resource (administrator)".to_owned(),
            analysis.admin_statements.clone(),
        ));
    }
    if !analysis.allow_not_action.is_empty() {
        reasons.push((
            Severity::High,
            "allows everything except a list of actions (`Allow` with `NotAction`)".to_owned(),
            analysis.allow_not_action.clone(),
        ));
    }
    let sensitive: Vec<_> = analysis
        .service_wildcards
        .iter()
        .filter(|w| w.sensitive)
        .collect();
    if !sensitive.is_empty() {
        let mut names: Vec<String> = sensitive
            .iter()
            .map(|w| format!("{}:*", w.service))
            .collect();
        names.dedup();
        reasons.push((
            Severity::High,
            format!(
                "grants service-wide wildcards on sensitive services ({})",
                names.join(", ")
            ),
            sensitive.iter().map(|w| w.statement).collect(),
        ));
    }
    if !analysis.privilege_escalation.is_empty() {
        let unrestricted = analysis.privilege_escalation.iter().any(|p| p.unrestricted);
        let mut names: Vec<&str> = analysis
            .privilege_escalation
            .iter()
            .map(|p| p.method.name)
            .collect();
        names.sort_unstable();
        names.dedup();
        let shown = names.iter().take(6).copied().collect::<Vec<_>>().join(", ");
        let more = if names.len() > 6 {
            format!(" and {} more", names.len() - 6)
        } else {
            String::new()
        };
        reasons.push((
            if unrestricted {
                Severity::High
            } else {
                Severity::Medium
            },
            format!("enables privilege escalation ({shown}{more})"),
            analysis
                .privilege_escalation
                .iter()
                .flat_map(|p| p.statements.iter().copied())
                .collect(),
        ));
    }
    if !analysis.passrole_star.is_empty() {
        reasons.push((
            Severity::Medium,
            "allows `iam:PassRole` on every role without an `iam:PassedToService` limit".to_owned(),
            analysis.passrole_star.clone(),
        ));
    }
    if !analysis.mfa_missing.is_empty() {
        let mut actions: Vec<&str> = analysis
            .mfa_missing
            .iter()
            .map(|h| h.action.as_str())
            .collect();
        actions.sort_unstable();
        actions.dedup();
        let shown = actions
            .iter()
            .take(5)
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        let more = if actions.len() > 5 {
            format!(" and {} more", actions.len() - 5)
        } else {
            String::new()
        };
        reasons.push((
            Severity::Low,
            format!("allows sensitive actions without an MFA condition ({shown}{more})"),
            analysis.mfa_missing.iter().map(|h| h.statement).collect(),
        ));
    }
    let Some(severity) = reasons.iter().map(|(s, _, _)| *s).max() else {
        return Ok(None);
    };
    reasons.sort_by_key(|r| std::cmp::Reverse(r.0));
    // Administrator access implies everything else; below that, missing MFA is noise next to a real grant.
    if analysis.is_admin {
        reasons.truncate(1);
    } else if severity >= Severity::High {
        reasons.retain(|(s, _, _)| *s > Severity::Low);
    }
    let mut statements: Vec<usize> = reasons
        .iter()
        .flat_map(|(_, _, s)| s.iter().copied())
        .collect();
    statements.sort_unstable();
    statements.dedup();
    let evidence = doc
        .statements
        .iter()
        .filter(|s| statements.binary_search(&s.index).is_ok())
        .map(|s| evidence(format!("{prefix}.{}", s.path()), s.to_json(&decoded)))
        .collect();
    Ok(Some(DocumentRisk {
        severity,
        reasons: reasons.into_iter().map(|(_, r, _)| r).collect(),
        evidence,
        analysis,
    }))
}

/// An info finding for a successful call whose policy document our parser could not read: AWS accepted it,
/// so the gap is ours, and the user should look at the document by hand.
pub fn unreadable(
    meta: &'static crate::meta::RuleMeta,
    record: &trailguard_event::Record<'_>,
    resource: &str,
    error: &str,
) -> crate::Finding {
    let mut finding = super::common::finding_for(meta, record, Severity::Info);
    finding.message = format!(
        "The policy document of `{resource}` could not be analysed ({error}); review it by hand."
    );
    finding
        .notes
        .push(format!("policy document not analysed: {error}"));
    finding.fix.summary = "Review the policy document in the record by hand.".to_owned();
    finding
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_documents_come_from_the_cache_with_the_same_answer() {
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}"#;
        let first = assess(doc, "p").unwrap().unwrap();
        let again = assess(doc, "p").unwrap().unwrap();
        assert_eq!(first.reasons, again.reasons);
        assert_eq!(first.evidence, again.evidence);
        let other_prefix = assess(doc, "q").unwrap().unwrap();
        assert_eq!(other_prefix.evidence[0].path, "q.Statement[0]");
        assert!(!is_admin_document(doc));
        assert!(is_admin_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#
        ));
        // More documents than the cache holds: still right.
        for n in 0..(CACHE_CAP + 10) {
            let d = format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"S{n}","Effect":"Allow","Action":"kms:*","Resource":"*"}}]}}"#
            );
            assert!(assess(&d, "p").unwrap().is_some());
        }
    }

    #[test]
    fn the_cache_is_bounded_by_bytes_not_only_by_count() {
        // 60 distinct documents of about 1 MB each: far fewer than the entry cap, far more than the
        // byte budget. Each is still assessed right, and the cache never holds more than its budget.
        let arns: Vec<String> = (0..20_000)
            .map(|i| format!("arn:aws:s3:::bucket-{i:06}/*"))
            .collect();
        let mut peak = 0;
        for n in 0..60 {
            let d = serde_json::json!({"Version": "2012-10-17", "Statement": [
                {"Sid": format!("S{n}"), "Effect": "Allow", "Action": "kms:*", "Resource": "*"},
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": arns}]})
            .to_string();
            assert!(d.len() > 500_000);
            let risk = assess(&d, "requestParameters.policyDocument")
                .unwrap()
                .unwrap();
            assert!(
                risk.reasons.iter().any(|r| r.contains("kms:*")),
                "{:?}",
                risk.reasons
            );
            peak = peak.max(cached_bytes());
        }
        assert!(peak > 0);
        assert!(peak <= CACHE_BYTES, "the cache held {peak} bytes");
        // One document bigger than a quarter of the budget is answered but not kept.
        let huge = serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "kms:*", "Resource": "*"},
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": vec![arns[0].clone(); 200_000]}]})
        .to_string();
        let before = cached_bytes();
        assert!(assess(&huge, "p").unwrap().is_some());
        assert_eq!(cached_bytes(), before);
    }

    #[test]
    fn admin_is_critical_with_the_statement_as_evidence() {
        let risk = assess(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"},{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
            "requestParameters.policyDocument",
        )
        .unwrap()
        .unwrap();
        assert_eq!(risk.severity, Severity::Critical);
        assert!(risk.reasons[0].contains("administrator"));
        assert_eq!(
            risk.evidence[0].path,
            "requestParameters.policyDocument.Statement[1]"
        );
        assert_eq!(risk.evidence[0].value["Action"], "*");
    }

    #[test]
    fn url_encoded_iam_wildcard_is_high_and_narrow_reads_are_clean() {
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22iam%3A*%22%2C%22Resource%22%3A%22*%22%7D%5D%7D";
        let risk = assess(encoded, "p").unwrap().unwrap();
        assert_eq!(risk.severity, Severity::High);
        assert!(
            risk.reasons.iter().any(|r| r.contains("iam:*")),
            "{:?}",
            risk.reasons
        );
        let clean = assess(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":"arn:aws:s3:::reports/*"}]}"#,
            "p",
        )
        .unwrap();
        assert!(clean.is_none());
        assert!(assess("{not json", "p").is_err());
    }
}
