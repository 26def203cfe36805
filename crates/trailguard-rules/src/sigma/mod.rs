//! Sigma rules for CloudTrail: load SigmaHQ YAML, compile it once, match records fast.
//!
//! - [`yaml`]: the rule document (metadata, `logsource`, `detection`) read from YAML.
//! - [`condition`]: the condition language (`and`/`or`/`not`, parentheses, `1 of x*`, `all of them`).
//! - [`modifiers`]: value modifiers and the transforms (`base64offset`, `windash`, ...).
//! - [`pattern`]: wildcard strings compiled to exact/prefix/suffix/contains comparisons or one regex.
//! - [`fields`]: field mapping from Sigma names to typed [`Record`] fields or lazily parsed JSON paths.
//! - [`matcher`]: the compiled detection and the eventSource/eventName sets a rule can match.
//! - [`finding`]: a match as a shared-format [`Finding`].
//!
//! [`SigmaRuleSet`] indexes rules by the literal `eventName` (else `eventSource`) values their conditions
//! require, so a record only meets the rules that could match it; rules that pin neither (root activity,
//! user-agent rules) see every record and read only typed fields unless they ask for more. A rule that
//! cannot be loaded becomes a [`SigmaLoadError`] naming its file and the reason; the others still load.
//!
//! Matching semantics, where the Sigma specification leaves room:
//! - strings compare ignoring case unless `cased`; `re` is case-sensitive unless `re|i` (as the spec says);
//! - `field: null` matches an absent field or JSON `null`; `exists` treats `null` as absent;
//! - arrays are walked at every step of a dotted path, and a value matches if any element does;
//! - a string test against an object (`requestParameters|contains: x`) matches any value nested in it, or
//!   the object's compact JSON text;
//! - booleans and numbers compare as the text they print as (`'true'` matches JSON `true`);
//! - keywords search the record's raw JSON text (so they see escaped quotes as `\"`);
//! - names from Elastic's schema (`event.action`, `source.ip`, ...) are accepted as aliases ([`fields`]).

pub mod collect;
pub mod condition;
pub mod error;
pub mod fields;
pub mod finding;
pub mod matcher;
pub mod modifiers;
pub mod pattern;
pub mod yaml;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use trailguard_event::peek::RawRecord;
use trailguard_event::Record;

use crate::finding::{Finding, Severity};

pub use error::{SigmaErrorKind, SigmaLoadError};
use fields::{RecordView, Typed};
use matcher::Detection;
use yaml::{RuleDocument, YamlNode};

/// One loaded Sigma rule: its metadata for listing, and its compiled matcher.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    /// The Sigma `id` (a UUID), or the file stem when the rule has none.
    pub id: String,
    /// The file stem, e.g. `aws_cloudtrail_disable_logging` (the finding's `rule_name`).
    pub name: String,
    pub title: String,
    /// Where the rule came from (a path, or the origin given to [`SigmaRuleSet::load_str`]).
    pub file: String,
    /// `stable`, `test`, `experimental`, `deprecated`, `unsupported`, when given.
    pub status: Option<String>,
    /// `level` mapped to a severity (informational → info); medium when the rule gives none.
    pub level: Severity,
    pub description: Option<String>,
    pub tags: Vec<String>,
    /// ATT&CK technique ids from the tags (`attack.t1098` → `T1098`).
    pub attack: Vec<String>,
    pub falsepositives: Vec<String>,
    pub references: Vec<String>,
    pub author: Option<String>,
    pub date: Option<String>,
    pub modified: Option<String>,
    detection: Detection,
    /// Notes every finding carries (false positives, tactics, status), built once.
    notes: Vec<String>,
    /// The fields shown as evidence, built once.
    evidence_fields: Vec<(String, fields::FieldRef)>,
    event_names: Option<BTreeSet<String>>,
    event_sources: Option<BTreeSet<String>>,
}

impl CompiledRule {
    /// The lower-cased `eventName` values the rule can match, or `None` when it does not pin them.
    pub fn event_names(&self) -> Option<&BTreeSet<String>> {
        self.event_names.as_ref()
    }

    /// The lower-cased `eventSource` values the rule can match, or `None` when it does not pin them.
    pub fn event_sources(&self) -> Option<&BTreeSet<String>> {
        self.event_sources.as_ref()
    }

    /// The selection names in the rule's `detection`.
    pub fn selection_names(&self) -> &[String] {
        self.detection.selection_names()
    }

    /// Whether the rule matches `record` (ignores the set's pre-filter; tests and `rules --sigma` use it).
    pub fn matches(&self, record: &Record<'_>) -> bool {
        self.detection.matches(&RecordView::new(record))
    }

    fn compile(doc: RuleDocument, origin: &str) -> Result<CompiledRule, SigmaLoadError> {
        let fail = |kind: SigmaErrorKind| SigmaLoadError {
            file: origin.to_owned(),
            title: Some(doc.title.clone()),
            kind,
        };
        check_logsource(&doc).map_err(fail)?;
        let level = match doc.level.as_deref() {
            None => Severity::Medium,
            Some(text) => text.trim().parse::<Severity>().map_err(|_| {
                fail(SigmaErrorKind::Invalid(format!(
                    "unknown level `{text}` (expected informational, low, medium, high or critical)"
                )))
            })?,
        };
        let detection = Detection::compile(&doc.detection).map_err(fail)?;
        let name = Path::new(origin)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or(origin)
            .to_owned();
        let notes = finding::rule_notes(&doc.falsepositives, &doc.tags, doc.status.as_deref());
        let evidence_fields = finding::evidence_fields(&detection.field_matchers());
        Ok(CompiledRule {
            notes,
            evidence_fields,
            id: doc.id.clone().unwrap_or_else(|| name.clone()),
            name,
            title: doc.title,
            file: origin.to_owned(),
            status: doc.status,
            level,
            description: doc.description,
            attack: finding::attack_techniques(&doc.tags),
            tags: doc.tags,
            falsepositives: doc.falsepositives,
            references: doc.references,
            author: doc.author,
            date: doc.date,
            modified: doc.modified,
            event_names: detection.required_values(Typed::EventName),
            event_sources: detection.required_values(Typed::EventSource),
            detection,
        })
    }
}

fn check_logsource(doc: &RuleDocument) -> Result<(), SigmaErrorKind> {
    let product_ok = doc
        .product
        .as_deref()
        .is_none_or(|p| p.eq_ignore_ascii_case("aws"));
    let service_ok = doc
        .service
        .as_deref()
        .is_none_or(|s| s.eq_ignore_ascii_case("cloudtrail"));
    let pinned = doc.product.is_some() || doc.service.is_some();
    if product_ok && service_ok && pinned {
        return Ok(());
    }
    let describe = |key: &str, v: &Option<String>| v.as_ref().map(|v| format!("{key}: {v}"));
    let parts: Vec<String> = [
        describe("product", &doc.product),
        describe("service", &doc.service),
        describe("category", &doc.category),
    ]
    .into_iter()
    .flatten()
    .collect();
    Err(SigmaErrorKind::OtherLogsource(if parts.is_empty() {
        "empty".to_owned()
    } else {
        format!("`{}`", parts.join(", "))
    }))
}

/// A set of compiled Sigma rules with their pre-filter index.
#[derive(Debug, Clone, Default)]
pub struct SigmaRuleSet {
    rules: Vec<CompiledRule>,
    /// eventName (any case) → rules that require one of their names to be it.
    by_name: CaselessIndex,
    /// eventSource (any case) → rules that pin the source but not the name.
    by_source: CaselessIndex,
    /// Rules that pin neither: they see every record.
    every_record: Vec<u32>,
    /// Per rule (by index): texts, lower case, one of which a record's raw JSON must contain for the rule
    /// to match, when the rule pins any down; searched with precompiled finders.
    required_texts: Vec<Option<Vec<memchr::memmem::Finder<'static>>>>,
    /// Per rule (by index): it reads typed fields only, so a record read without a parse judges it.
    typed_only: Vec<bool>,
}

thread_local! {
    /// A lower-cased copy of the record being judged, reused across records.
    static LOWERED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl SigmaRuleSet {
    /// Loads every `.yml`/`.yaml` file under `dirs` (recursively, in path order; a path may also be a
    /// single file). Each rule that cannot be used is an error naming its file; the others still load.
    /// Rules for other log sources are errors too, marked [`SigmaLoadError::is_skip`].
    pub fn load_dirs(dirs: &[PathBuf]) -> (SigmaRuleSet, Vec<SigmaLoadError>) {
        let mut set = SigmaRuleSet::default();
        let mut errors = Vec::new();
        let mut files = Vec::new();
        for dir in dirs {
            if dir.is_file() {
                files.push(dir.clone());
                continue;
            }
            RuleWalk {
                files: &mut files,
                errors: &mut errors,
                visited: HashSet::new(),
                ancestors: Vec::new(),
            }
            .walk(dir);
        }
        files.sort();
        // The same file reached twice (listed twice, or through a symlink) loads once.
        let mut seen = HashSet::new();
        files.retain(|path| {
            seen.insert(std::fs::canonicalize(path).unwrap_or_else(|_| path.clone()))
        });
        let mut first_file: HashMap<String, String> = HashMap::new();
        for path in files {
            let origin = path.display().to_string();
            let loaded = std::fs::read(&path)
                .map_err(|e| SigmaLoadError::new(&origin, SigmaErrorKind::Io(e.to_string())))
                .and_then(|bytes| {
                    String::from_utf8(bytes).map_err(|_| {
                        SigmaLoadError::new(
                            &origin,
                            SigmaErrorKind::Io("not UTF-8 text".to_owned()),
                        )
                    })
                })
                .and_then(|text| SigmaRuleSet::load_str(&text, &origin));
            match loaded {
                Ok(file_set) => {
                    for rule in file_set.rules {
                        if let Some(first) = first_file.get(&rule.id) {
                            errors.push(SigmaLoadError {
                                file: origin.clone(),
                                title: Some(rule.title.clone()),
                                kind: SigmaErrorKind::DuplicateId {
                                    id: rule.id.clone(),
                                    first: first.clone(),
                                },
                            });
                            continue;
                        }
                        first_file.insert(rule.id.clone(), origin.clone());
                        set.rules.push(rule);
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        set.reindex();
        (set, errors)
    }

    /// Loads the rule (or `---`-separated rules) in `yaml`; `origin` names it in errors and findings.
    pub fn load_str(yaml: &str, origin: &str) -> Result<SigmaRuleSet, SigmaLoadError> {
        let mut set = SigmaRuleSet::default();
        for document in serde_yaml::Deserializer::from_str(yaml) {
            let node = YamlNode::deserialize(document)
                .map_err(|e| SigmaLoadError::new(origin, SigmaErrorKind::Yaml(e.to_string())))?;
            if node == YamlNode::Null {
                continue;
            }
            let doc = RuleDocument::from_node(&node).map_err(|kind| SigmaLoadError {
                file: origin.to_owned(),
                title: node.get("title").and_then(YamlNode::scalar_text),
                kind,
            })?;
            let rule = CompiledRule::compile(doc, origin)?;
            if let Some(first) = set.rules.iter().find(|r| r.id == rule.id) {
                return Err(SigmaLoadError {
                    file: origin.to_owned(),
                    title: Some(rule.title.clone()),
                    kind: SigmaErrorKind::DuplicateId {
                        id: rule.id.clone(),
                        first: first.file.clone(),
                    },
                });
            }
            set.rules.push(rule);
        }
        if set.rules.is_empty() {
            return Err(SigmaLoadError::new(
                origin,
                SigmaErrorKind::Invalid("no rule in this file".to_owned()),
            ));
        }
        set.reindex();
        Ok(set)
    }

    /// Every loaded rule, in load order.
    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules that pin neither eventName nor eventSource and so see every record.
    pub fn every_record_rules(&self) -> impl Iterator<Item = &CompiledRule> {
        self.every_record.iter().map(|&i| &self.rules[i as usize])
    }

    /// Whether any rule could match an event with this source and name (a cheap literal check).
    pub fn wants(&self, event_source: &str, event_name: &str) -> bool {
        !self.every_record.is_empty()
            || self.by_name.get(event_name).is_some()
            || self.by_source.get(event_source).is_some()
    }

    /// Runs every rule that could match `record` and appends a finding for each that does.
    pub fn evaluate(&self, record: &Record<'_>, out: &mut Vec<Finding>) {
        let view = RecordView::new(record);
        self.for_each_candidate(record, |i| {
            let rule = &self.rules[i as usize];
            if rule.detection.matches(&view) {
                out.push(finding::build(rule, &view));
            }
        });
    }

    /// Calls `f` with the index of every rule that can match the record (by the pre-filter index).
    pub(crate) fn for_each_candidate(&self, record: &Record<'_>, f: impl FnMut(u32)) {
        let (by_name, others) = self.candidates(&record.event_source, &record.event_name);
        by_name.iter().copied().chain(others).for_each(f);
    }

    /// Adds `other`'s rules after this set's (e.g. several `--sigma` directories). Rules are kept as
    /// given, even with an id already present; use one `load_dirs` call to have duplicates reported.
    pub fn merge(&mut self, other: SigmaRuleSet) {
        self.rules.extend(other.rules);
        self.reindex();
    }

    fn reindex(&mut self) {
        self.by_name.clear();
        self.by_source.clear();
        self.every_record.clear();
        self.required_texts = self
            .rules
            .iter()
            .map(|rule| {
                rule.detection.required_substrings().map(|texts| {
                    texts
                        .into_iter()
                        .map(|t| memchr::memmem::Finder::new(t.as_bytes()).into_owned())
                        .collect()
                })
            })
            .collect();
        self.typed_only = self
            .rules
            .iter()
            .map(|rule| rule.detection.reads_typed_fields_only())
            .collect();
        for (i, rule) in self.rules.iter().enumerate() {
            let index = i as u32;
            if let Some(names) = &rule.event_names {
                for name in names {
                    self.by_name.insert(name, index);
                }
            } else if let Some(sources) = &rule.event_sources {
                for source in sources {
                    self.by_source.insert(source, index);
                }
            } else {
                self.every_record.push(index);
            }
        }
    }

    /// Whether any rule could match the record whose raw JSON text this is, judged without parsing it:
    /// rules pinned to the record's eventName are wanted; rules pinned only to its eventSource, and rules
    /// that pin neither, are wanted when the text holds one of the texts the rule requires (ignoring case).
    /// Text with JSON escapes that could hide a value is always wanted.
    pub fn wants_raw(&self, record: &RawRecord<'_>) -> bool {
        let Some((source, name)) = record.source_and_name() else {
            return true;
        };
        let (by_name, others) = self.candidates(source, name);
        !by_name.is_empty() || self.text_may_match(record, others)
    }

    /// The rules that can match an event with this source and name: those pinned to the eventName,
    /// then those pinned only to the eventSource or to nothing.
    fn candidates(
        &self,
        source: &str,
        name: &str,
    ) -> (&[u32], impl Iterator<Item = u32> + Clone + '_) {
        let by_name = self.by_name.get(name).unwrap_or(&[]);
        let by_source = self.by_source.get(source).unwrap_or(&[]);
        (by_name, by_source.iter().chain(&self.every_record).copied())
    }

    /// Whether one of `rules` may match the record, judged by the texts each requires (ignoring case).
    /// Text with JSON escapes that could hide a value may match anything.
    fn text_may_match(&self, record: &RawRecord<'_>, rules: impl Iterator<Item = u32>) -> bool {
        let mut rules = rules.peekable();
        if rules.peek().is_none() {
            return false;
        }
        if record.has_escapes() {
            return true;
        }
        LOWERED.with(|cell| {
            let mut lowered = cell.borrow_mut();
            lowered.clear();
            lowered.extend(record.text().iter().map(u8::to_ascii_lowercase));
            rules.any(|i| match &self.required_texts[i as usize] {
                None => true,
                Some(finders) => finders.iter().any(|f| f.find(&lowered).is_some()),
            })
        })
    }
}

/// A map from ASCII-case-insensitive strings to rule indexes, looked up without copying or lower-casing
/// the record's text: the hash folds case as it reads, then candidates are compared ignoring case.
/// Keys are short trusted rule literals, so a fast non-keyed hash is safe here.
#[derive(Debug, Clone, Default)]
struct CaselessIndex {
    buckets: HashMap<u64, Vec<IndexEntry>, BuildHasherDefault<PreHashed>>,
}

/// A key as the rule wrote it and the rules it selects.
type IndexEntry = (Box<str>, Vec<u32>);

impl CaselessIndex {
    /// Eight bytes at a time (two lookups run on every record). Setting bit 0x20 of every byte lower-cases
    /// ASCII letters and changes other bytes alike in both spellings, so texts equal ignoring ASCII case
    /// hash the same; the few others it conflates are told apart by the comparison after the lookup.
    fn hash(text: &str) -> u64 {
        const CASE: u64 = 0x2020_2020_2020_2020;
        let h = mix_words(text.len() as u64, text.as_bytes(), CASE);
        h ^ (h >> 29)
    }

    fn insert(&mut self, key: &str, rule: u32) {
        let bucket = self.buckets.entry(Self::hash(key)).or_default();
        match bucket.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(key)) {
            Some((_, rules)) => rules.push(rule),
            None => bucket.push((key.into(), vec![rule])),
        }
    }

    fn get(&self, key: &str) -> Option<&[u32]> {
        if self.buckets.is_empty() {
            return None;
        }
        self.buckets
            .get(&Self::hash(key))?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, rules)| rules.as_slice())
    }

    fn clear(&mut self) {
        self.buckets.clear();
    }
}

/// Folds `bytes` into `h` eight bytes at a time (the last word padded with zeros), each word OR-ed with
/// `or` first. A multiply-rotate step, not a finaliser: callers mix the result as their use needs.
pub(crate) fn mix_words(mut h: u64, bytes: &[u8], or: u64) -> u64 {
    let mut add =
        |word: u64| h = (h.rotate_left(23) ^ (word | or)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        add(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        add(u64::from_le_bytes(last));
    }
    h
}

/// A hasher for short texts in tables their users cannot grow past a small bound (the engine's dispatch
/// tables, built from the rules; a run's few hundred names): eight bytes at a time ([`mix_words`]),
/// several times cheaper than SipHash on an event name. Not keyed, so never for a table that input can
/// fill without a bound: there, colliding keys written on purpose would make every lookup a scan.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WordHashed(u64);

impl Hasher for WordHashed {
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 29)
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0 = mix_words(self.0 ^ bytes.len() as u64, bytes, 0);
    }
}

/// A hasher for keys that are, or hold, hashes already (the index's words, the Sigma groups' (rule, hash)
/// pairs): each integer written is combined with a rotate and a multiply, not SipHash.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PreHashed(u64);

impl Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only integer writes are used; fold anything else in so the hasher stays correct.
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(29) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// Rule trees are shallow; deeper directories are not walked (and said so).
const MAX_DEPTH: usize = 16;

/// The `--sigma` directory walk. Symbolic links are followed, but each real directory is walked once:
/// a link back to a directory being walked (a loop) is reported and not followed, and a directory
/// reached again by another path is skipped (its files would load once anyway), so three links to `.`
/// cost three checks, not 3^16 walks.
struct RuleWalk<'a> {
    files: &'a mut Vec<PathBuf>,
    errors: &'a mut Vec<SigmaLoadError>,
    /// Canonical paths of the directories walked so far.
    visited: HashSet<PathBuf>,
    /// Canonical paths of the directories from the root down to the current one.
    ancestors: Vec<PathBuf>,
}

impl RuleWalk<'_> {
    fn error(&mut self, path: &Path, message: String) {
        self.errors.push(SigmaLoadError::new(
            path.display().to_string(),
            SigmaErrorKind::Io(message),
        ));
    }

    fn walk(&mut self, dir: &Path) {
        let canonical = match std::fs::canonicalize(dir) {
            Ok(path) => path,
            Err(e) => return self.error(dir, e.to_string()),
        };
        if self.ancestors.contains(&canonical) {
            return self.error(
                dir,
                format!(
                    "directory loop: leads back to `{}`; not followed",
                    canonical.display()
                ),
            );
        }
        if !self.visited.insert(canonical.clone()) {
            return;
        }
        if self.ancestors.len() > MAX_DEPTH {
            return self.error(
                dir,
                format!("more than {MAX_DEPTH} directories deep; not walked"),
            );
        }
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => return self.error(dir, e.to_string()),
        };
        self.ancestors.push(canonical);
        for entry in entries {
            let path = match entry {
                Ok(entry) => entry.path(),
                Err(e) => {
                    self.error(dir, format!("cannot list directory entry: {e}"));
                    continue;
                }
            };
            if path.is_dir() {
                self.walk(&path);
            } else if path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case("yml") || e.eq_ignore_ascii_case("yaml"))
            {
                self.files.push(path);
            }
        }
        self.ancestors.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;

    const RULE: &str = r#"
title: Test Trail Stopped
id: 11111111-2222-3333-4444-555555555555
status: test
description: A trail was stopped.
tags:
    - attack.defense-evasion
    - attack.t1562.008
logsource:
    product: aws
    service: cloudtrail
detection:
    selection:
        eventSource: cloudtrail.amazonaws.com
        eventName:
            - StopLogging
            - DeleteTrail
    condition: selection
falsepositives:
    - Maintenance
level: high
"#;

    fn record(json: &str, f: impl FnOnce(&Record<'_>)) {
        let raw: &RawValue = serde_json::from_str(json).unwrap();
        f(&Record::from_raw(raw).unwrap());
    }

    #[test]
    fn load_str_compiles_metadata_and_prefilter() {
        let set = SigmaRuleSet::load_str(RULE, "rules/test_stop.yml").unwrap();
        let rule = &set.rules()[0];
        assert_eq!(rule.id, "11111111-2222-3333-4444-555555555555");
        assert_eq!(rule.name, "test_stop");
        assert_eq!(rule.level, Severity::High);
        assert_eq!(rule.attack, ["T1562.008"]);
        let names: Vec<&str> = rule
            .event_names()
            .unwrap()
            .iter()
            .map(String::as_str)
            .collect();
        assert_eq!(names, ["deletetrail", "stoplogging"]);
        assert!(set.wants("cloudtrail.amazonaws.com", "StopLogging"));
        assert!(set.wants("cloudtrail.amazonaws.com", "stoplogging"));
        assert!(!set.wants("s3.amazonaws.com", "GetObject"));
    }

    #[test]
    fn rules_without_an_event_name_prefilter_on_the_values_they_require() {
        let set = SigmaRuleSet::load_str(
            r#"
title: Root use
logsource: {product: aws, service: cloudtrail}
detection:
  selection: {userIdentity.type: Root}
  condition: selection
"#,
            "root.yml",
        )
        .unwrap();
        let root = br#"{"eventSource":"s3.amazonaws.com","eventName":"ListBuckets","userIdentity":{"type":"Root"}}"#;
        let lower = br#"{"eventSource":"s3.amazonaws.com","eventName":"ListBuckets","userIdentity":{"type":"root"}}"#;
        let role = br#"{"eventSource":"s3.amazonaws.com","eventName":"ListBuckets","userIdentity":{"type":"AssumedRole"}}"#;
        let escaped = br#"{"eventSource":"s3.amazonaws.com","eventName":"ListBuckets","userIdentity":{"type":"\u0052oot"}}"#;
        assert!(set.wants_raw(&RawRecord::new(root)));
        assert!(
            set.wants_raw(&RawRecord::new(lower)),
            "Sigma matching ignores case, so does the pre-filter"
        );
        assert!(
            !set.wants_raw(&RawRecord::new(role)),
            "no `root` in the text: the rule cannot match"
        );
        assert!(
            set.wants_raw(&RawRecord::new(escaped)),
            "an escape could hide the value"
        );
        assert!(
            set.wants_raw(&RawRecord::new(b"{}")),
            "no event name to judge by: parse it"
        );

        let denied = SigmaRuleSet::load_str(
            r#"
title: Any denied call
logsource: {product: aws, service: cloudtrail}
detection:
  selection: {errorMessage|contains: denied}
  condition: selection
"#,
            "denied.yml",
        )
        .unwrap();
        assert!(
            !denied.wants_raw(&RawRecord::new(role)),
            "`contains` pins a text the record lacks"
        );
        let refused = br#"{"eventSource":"s3.amazonaws.com","eventName":"ListBuckets","errorMessage":"Access Denied"}"#;
        assert!(denied.wants_raw(&RawRecord::new(refused)));

        let unpinned = SigmaRuleSet::load_str(
            r#"
title: Calls from a private range
logsource: {product: aws, service: cloudtrail}
detection:
  selection: {sourceIPAddress|cidr: 10.0.0.0/8}
  condition: selection
"#,
            "private.yml",
        )
        .unwrap();
        assert!(
            unpinned.wants_raw(&RawRecord::new(role)),
            "a rule with no required text sees every record"
        );
    }

    #[test]
    fn the_sigmahq_rules_without_an_event_name_all_get_a_raw_prefilter() {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/sigma-aws/rules");
        if !dir.is_dir() {
            return; // The shared data is beside the checkout in CI and on developer machines.
        }
        let (set, errors) = SigmaRuleSet::load_dirs(&[dir]);
        assert!(errors.is_empty(), "{errors:?}");
        let unpinned: Vec<(&str, bool)> = set
            .every_record
            .iter()
            .map(|&i| {
                (
                    set.rules[i as usize].name.as_str(),
                    set.required_texts[i as usize].is_some(),
                )
            })
            .collect();
        assert_eq!(unpinned.len(), 4, "{unpinned:?}");
        assert!(unpinned.iter().all(|(_, pinned)| *pinned), "{unpinned:?}");
    }

    #[test]
    fn evaluate_builds_a_shared_format_finding() {
        let set = SigmaRuleSet::load_str(RULE, "rules/test_stop.yml").unwrap();
        record(
            r#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAX","arn":"arn:aws:iam::111122223333:user/mallory","accountId":"111122223333","accessKeyId":"AKIAX","userName":"mallory"},"eventTime":"2024-02-01T09:00:00Z","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.5","userAgent":"aws-cli/2.13","requestParameters":{"name":"main-trail"},"responseElements":null,"eventID":"ev-1","readOnly":false,"recipientAccountId":"111122223333"}"#,
            |rec| {
                let mut out = Vec::new();
                set.evaluate(rec, &mut out);
                assert_eq!(out.len(), 1);
                let f = &out[0];
                assert_eq!(f.source, crate::FindingSource::Sigma);
                assert_eq!(f.rule_id, "11111111-2222-3333-4444-555555555555");
                assert_eq!(f.rule_name, "test_stop");
                assert_eq!(f.severity, Severity::High);
                assert_eq!(f.attack, ["T1562.008"]);
                assert_eq!(f.fix.summary, "A trail was stopped.");
                assert_eq!(f.fix.kb_entry.as_deref(), Some("StopLogging"));
                assert!(f.notes.iter().any(|n| n.contains("Maintenance")));
                assert!(f.notes.iter().any(|n| n.contains("defense-evasion")));
                let actor = f.actor.as_ref().unwrap();
                assert_eq!(actor.user_name.as_deref(), Some("mallory"));
                assert_eq!(actor.source_ip.as_deref(), Some("203.0.113.5"));
                let resource = f.resource.as_ref().unwrap();
                assert_eq!(
                    (resource.kind.as_str(), resource.id.as_str()),
                    ("AwsCloudTrailTrail", "main-trail")
                );
                assert!(f
                    .evidence
                    .iter()
                    .any(|e| e.path == "eventName" && e.value == "StopLogging"));
                assert_eq!(f.account.as_deref(), Some("111122223333"));
                assert!(f.message.contains("StopLogging"), "{}", f.message);
            },
        );
    }

    #[test]
    fn other_logsources_and_bad_levels_are_reported() {
        let windows = RULE.replace("product: aws", "product: windows");
        let err = SigmaRuleSet::load_str(&windows, "w.yml").unwrap_err();
        assert!(err.is_skip(), "{err}");
        assert!(err.to_string().contains("product: windows"), "{err}");
        let bad = RULE.replace("level: high", "level: severe");
        let err = SigmaRuleSet::load_str(&bad, "b.yml").unwrap_err();
        assert_eq!(
            err.to_string(),
            "`b.yml` (rule `Test Trail Stopped`): unknown level `severe` (expected informational, low, medium, high or critical)"
        );
        let err = SigmaRuleSet::load_str("title: [unclosed", "y.yml").unwrap_err();
        assert!(
            err.to_string().starts_with("`y.yml`: invalid YAML:"),
            "{err}"
        );
        let err = SigmaRuleSet::load_str("", "e.yml").unwrap_err();
        assert!(err.to_string().contains("no rule"), "{err}");
    }

    #[test]
    fn load_dirs_keeps_going_and_reports_each_bad_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a_good.yml"), RULE).unwrap();
        std::fs::write(dir.path().join("b_broken.yml"), "title: x\ndetection: [").unwrap();
        std::fs::write(dir.path().join("c_dup.yaml"), RULE).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a rule").unwrap();
        let nested = dir.path().join("nested");
        std::fs::create_dir(&nested).unwrap();
        std::fs::write(
            nested.join("d_other.yml"),
            RULE.replace(
                "11111111-2222-3333-4444-555555555555",
                "99999999-2222-3333-4444-555555555555",
            )
            .replace("StopLogging", "UpdateTrail"),
        )
        .unwrap();
        let (set, errors) =
            SigmaRuleSet::load_dirs(&[dir.path().to_path_buf(), dir.path().join("missing")]);
        assert_eq!(set.len(), 2);
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(
            errors
                .iter()
                .any(|e| e.file.ends_with("b_broken.yml")
                    && matches!(e.kind, SigmaErrorKind::Yaml(_)))
        );
        assert!(errors.iter().any(|e| e.file.ends_with("c_dup.yaml")
            && matches!(e.kind, SigmaErrorKind::DuplicateId { .. })));
        assert!(errors
            .iter()
            .any(|e| e.file.ends_with("missing") && matches!(e.kind, SigmaErrorKind::Io(_))));
    }

    #[test]
    fn merge_reindexes() {
        let mut a = SigmaRuleSet::load_str(RULE, "a.yml").unwrap();
        let b = SigmaRuleSet::load_str(
            &RULE
                .replace(
                    "11111111-2222-3333-4444-555555555555",
                    "22222222-2222-3333-4444-555555555555",
                )
                .replace("- StopLogging", "- PutEventSelectors"),
            "b.yml",
        )
        .unwrap();
        assert!(!a.wants("cloudtrail.amazonaws.com", "PutEventSelectors"));
        a.merge(b);
        assert_eq!(a.len(), 2);
        assert!(a.wants("cloudtrail.amazonaws.com", "PutEventSelectors"));
    }

    #[test]
    fn multi_document_files_and_elastic_field_names() {
        let second = RULE
            .replace(
                "11111111-2222-3333-4444-555555555555",
                "33333333-2222-3333-4444-555555555555",
            )
            .replace(
                "eventSource: cloudtrail.amazonaws.com",
                "event.provider: cloudtrail.amazonaws.com",
            )
            .replace("eventName:", "event.action:")
            .replace("- StopLogging", "- PutEventSelectors");
        let set = SigmaRuleSet::load_str(&format!("{RULE}\n---\n{second}"), "two.yml").unwrap();
        assert_eq!(set.len(), 2);
        // The alias pins eventName too, so the second rule is pre-filtered like the first.
        assert!(set.wants("cloudtrail.amazonaws.com", "PutEventSelectors"));
        assert!(set.every_record_rules().next().is_none());
        record(
            r#"{"eventTime":"2024-02-01T09:00:00Z","eventSource":"cloudtrail.amazonaws.com","eventName":"PutEventSelectors","eventID":"ev-2"}"#,
            |rec| {
                let mut out = Vec::new();
                set.evaluate(rec, &mut out);
                assert_eq!(out.len(), 1);
                assert_eq!(out[0].rule_id, "33333333-2222-3333-4444-555555555555");
                assert_eq!(out[0].evidence[0].path, "event.provider");
            },
        );
        let dup = SigmaRuleSet::load_str(&format!("{RULE}\n---\n{RULE}"), "dup.yml").unwrap_err();
        assert!(
            matches!(dup.kind, SigmaErrorKind::DuplicateId { .. }),
            "{dup}"
        );
    }

    #[test]
    fn rule_set_is_shared_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<SigmaRuleSet>();
    }

    #[test]
    fn symlink_loops_do_not_hang() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yml"), RULE).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(dir.path(), dir.path().join("loop")).unwrap();
        let (set, errors) = SigmaRuleSet::load_dirs(&[dir.path().to_path_buf()]);
        // The rule loads once; the loop is reported (naming the link) and not followed.
        assert_eq!(set.len(), 1);
        #[cfg(unix)]
        {
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert!(errors[0].file.ends_with("loop"), "{}", errors[0]);
            assert!(
                errors[0].to_string().contains("directory loop"),
                "{}",
                errors[0]
            );
        }
    }

    #[test]
    fn caseless_index_ignores_ascii_case_only() {
        let mut index = CaselessIndex::default();
        assert!(index.get("StopLogging").is_none());
        index.insert("stoplogging", 3);
        index.insert("StopLogging", 5);
        index.insert("deletetrail", 4);
        assert_eq!(index.get("STOPLOGGING"), Some(&[3, 5][..]));
        assert_eq!(index.get("DeleteTrail"), Some(&[4][..]));
        assert!(index.get("StopLoggin").is_none());
        assert!(index.get("").is_none());
        index.insert("Überwachung", 9);
        assert_eq!(index.get("Überwachung"), Some(&[9][..]));
        // Bytes that only the hash's case bit conflates are still told apart.
        index.insert("Get@Item", 6);
        assert!(index.get("Get`Item").is_none());
        assert_eq!(index.get("GET@ITEM"), Some(&[6][..]));
        // Long names (several 8-byte words) and names that differ only in their last word.
        index.insert("UpdateFunctionConfiguration20150331v2", 7);
        assert_eq!(
            index.get("updatefunctionconfiguration20150331V2"),
            Some(&[7][..])
        );
        assert!(index.get("UpdateFunctionConfiguration20150331v3").is_none());
        index.clear();
        assert!(index.get("deletetrail").is_none());
    }
}
