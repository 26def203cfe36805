//! Folding repeated Sigma matches into one finding.
//!
//! Some SigmaHQ rules are hunting rules that match routine traffic (the STS AssumeRole one matches every
//! assumed-role call), so a busy trail yields one match per record. Reporting each would bury the
//! findings that matter and hold them all in memory. [`SigmaCollector`] keeps one finding per rule,
//! principal, account, region and UTC day, with the number of matches and the last one's time and event
//! id. A repeat costs one hash of those parts (no allocation), not a finding, and memory grows with
//! distinct principal-days, not with records.
//!
//! The finding shown is built from the group's earliest record (ties broken by event id), so the result
//! does not depend on how records were split across workers.

use std::collections::HashMap;

use serde_json::json;

use crate::finding::{Evidence, Finding};

use super::fields::RecordView;
use super::{finding, SigmaRuleSet};
use trailguard_event::peek::RawRecord;
use trailguard_event::Record;

/// A group: the rule's index and a 64-bit hash of principal, account, region and day (collisions between
/// distinct principal-days of one rule are negligible at 64 bits).
type GroupKey = (u32, u64);

/// Folds `parts` into 64 bits, eight bytes at a time: this runs once per match, on half the records of a
/// busy trail, where SipHash cost more than the rest of the fold. Each part's length goes in too, so
/// moving bytes from one part to the next changes the hash. Not keyed, like `DefaultHasher::new()`.
fn group_hash(parts: [&str; 4]) -> u64 {
    let mut h = 0u64;
    for part in parts {
        // The length as a word of its own: an empty part still moves the hash.
        h = super::mix_words(h, &(part.len() as u64).to_le_bytes(), 0);
        h = super::mix_words(h, part.as_bytes(), 0);
    }
    // Murmur3's finaliser: every input bit reaches every output bit.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The groups, hashed cheaply: the key's second half is already a well-mixed hash.
type Groups = HashMap<GroupKey, Group, std::hash::BuildHasherDefault<super::PreHashed>>;

/// The group hash of a record's principal, account, region and UTC day.
fn group_hash_of(record: &Record<'_>) -> u64 {
    let identity = &record.user_identity;
    let actor = identity
        .best_arn()
        .or(identity.principal_id.as_deref())
        .or(identity.identity_type.as_deref())
        .unwrap_or_default();
    group_hash([
        actor,
        record.account_id().unwrap_or_default(),
        record.aws_region.as_deref().unwrap_or_default(),
        record.event_time.get(..10).unwrap_or_default(),
    ])
}

#[derive(Debug, Clone)]
struct Group {
    finding: Finding,
    /// (eventTime, eventID) of the record the finding was built from: the earliest seen.
    first: (String, String),
    /// (eventTime, eventID) of the latest match.
    last: (String, String),
    count: u64,
}

/// Evaluates Sigma rules on records and keeps one finding per group of repeats.
pub struct SigmaCollector<'s> {
    set: &'s SigmaRuleSet,
    groups: Groups,
    matched: u64,
    /// The rules matched by the record being folded, reused across records.
    scratch: Vec<u32>,
}

fn order_key(record: &Record<'_>) -> (String, String) {
    (
        record.event_time.to_string(),
        record.event_id.as_deref().unwrap_or_default().to_owned(),
    )
}

impl<'s> SigmaCollector<'s> {
    pub fn new(set: &'s SigmaRuleSet) -> Self {
        SigmaCollector {
            set,
            groups: Groups::default(),
            matched: 0,
            scratch: Vec::new(),
        }
    }

    /// Matches the record against the rules that can match it and folds each match into its group.
    pub fn evaluate(&mut self, record: &Record<'_>) {
        let view = RecordView::new(record);
        let set = self.set;
        let mut matches = Vec::new();
        set.for_each_candidate(record, |index| {
            if set.rules[index as usize].detection.matches(&view) {
                matches.push(index);
            }
        });
        if matches.is_empty() {
            return;
        }
        let order = order_key(record);
        let hash = group_hash_of(record);
        for index in matches {
            self.matched += 1;
            let key = (index, hash);
            match self.groups.get_mut(&key) {
                Some(group) => {
                    group.count += 1;
                    if order > group.last {
                        group.last = order.clone();
                    }
                    if order < group.first {
                        group.finding = finding::build(&set.rules[index as usize], &view);
                        group.first = order.clone();
                    }
                }
                None => {
                    let finding = finding::build(&set.rules[index as usize], &view);
                    self.groups.insert(
                        key,
                        Group {
                            finding,
                            first: order.clone(),
                            last: order.clone(),
                            count: 1,
                        },
                    );
                }
            }
        }
    }

    /// Evaluates the record from its raw text when that settles it, so that it need not be parsed.
    ///
    /// `true`: done. Every rule that could match was either ruled out by the texts it requires or
    /// reads typed fields only and was judged on [`Record::peek_typed`], and each match fell into a
    /// group that already exists, at or after its first record, so it only adds to the count (the
    /// finding shown is built from the earliest record, and building one needs the parsed record).
    /// `false`: parse the record and [`SigmaCollector::evaluate`] it; nothing was counted.
    pub fn fold_raw(&mut self, raw: &RawRecord<'_>) -> bool {
        self.fold_raw_peeked(raw, None)
    }

    /// [`SigmaCollector::fold_raw`] with the record's [`Record::peek_typed`] when the caller already
    /// has it (the built-in rules peeked it), so that it is not peeked twice.
    pub fn fold_raw_peeked(&mut self, raw: &RawRecord<'_>, peeked: Option<&Record<'_>>) -> bool {
        let set = self.set;
        let Some((source, name)) = raw.source_and_name() else {
            return false;
        };
        let (by_name, others) = set.candidates(source, name);
        if by_name.iter().any(|&i| !set.typed_only[i as usize]) {
            return false;
        }
        let typed = !by_name.is_empty() || others.clone().any(|i| set.typed_only[i as usize]);
        if set.text_may_match(raw, others.clone().filter(|&i| !set.typed_only[i as usize])) {
            return false;
        }
        if !typed {
            return true;
        }
        let own_peek = peeked
            .is_none()
            .then(|| Record::peek_typed(raw.text()))
            .flatten();
        let Some(record) = peeked.or(own_peek.as_ref()) else {
            return false;
        };
        let view = RecordView::new(record);
        self.scratch.clear();
        // The candidates `for_each_candidate` gives: the peeked name and source are the raw ones.
        for index in by_name.iter().copied().chain(others) {
            if set.typed_only[index as usize] && set.rules[index as usize].detection.matches(&view)
            {
                self.scratch.push(index);
            }
        }
        if self.scratch.is_empty() {
            return true;
        }
        let hash = group_hash_of(record);
        let order = (
            &*record.event_time,
            record.event_id.as_deref().unwrap_or_default(),
        );
        let folds = self.scratch.iter().all(|&index| {
            self.groups
                .get(&(index, hash))
                .is_some_and(|group| order >= (group.first.0.as_str(), group.first.1.as_str()))
        });
        if !folds {
            return false;
        }
        for &index in &self.scratch {
            self.matched += 1;
            if let Some(group) = self.groups.get_mut(&(index, hash)) {
                group.count += 1;
                if order > (group.last.0.as_str(), group.last.1.as_str()) {
                    // Reuses the strings' buffers: no allocation per record.
                    group.last.0.clear();
                    group.last.0.push_str(order.0);
                    group.last.1.clear();
                    group.last.1.push_str(order.1);
                }
            }
        }
        true
    }

    /// Rule matches seen (before folding).
    pub fn matched(&self) -> u64 {
        self.matched
    }

    /// Folds another worker's groups into this one.
    pub fn merge(&mut self, other: SigmaCollector<'s>) {
        self.matched += other.matched;
        for (key, theirs) in other.groups {
            match self.groups.get_mut(&key) {
                None => {
                    self.groups.insert(key, theirs);
                }
                Some(ours) => {
                    ours.count += theirs.count;
                    if theirs.last > ours.last {
                        ours.last = theirs.last;
                    }
                    if theirs.first < ours.first {
                        ours.first = theirs.first;
                        ours.finding = theirs.finding;
                    }
                }
            }
        }
    }

    /// The folded findings. A group of more than one match says how many, and when the last one was.
    pub fn into_findings(self) -> Vec<Finding> {
        let mut findings: Vec<Finding> = self
            .groups
            .into_values()
            .map(|group| {
                let mut finding = group.finding;
                if group.count > 1 {
                    finding.message.push_str(&format!(
                        " Matched {} times by this principal that day (any event); the last at {} (event {}).",
                        group.count, group.last.0, group.last.1
                    ));
                    finding.evidence.push(Evidence {
                        path: "sigma.occurrences".into(),
                        value: json!(group.count),
                    });
                    finding.evidence.push(Evidence {
                        path: "sigma.lastEventTime".into(),
                        value: json!(group.last.0),
                    });
                }
                finding
            })
            .collect();
        findings.sort_by(|a, b| {
            (&a.event_time, &a.rule_id, &a.id).cmp(&(&b.event_time, &b.rule_id, &b.id))
        });
        findings
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;

    const RULE: &str = r#"
title: Assumed-role call
id: 11111111-2222-3333-4444-555555555555
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    eventSource: sts.amazonaws.com
    userIdentity.type: AssumedRole
  condition: selection
level: low
"#;

    fn record_json(time: &str, id: &str, arn: &str) -> String {
        format!(
            r#"{{"eventTime":"{time}","eventSource":"sts.amazonaws.com","eventName":"GetCallerIdentity","awsRegion":"us-east-1","eventID":"{id}","recipientAccountId":"111122223333","userIdentity":{{"type":"AssumedRole","arn":"{arn}","accountId":"111122223333"}}}}"#
        )
    }

    fn feed(collector: &mut SigmaCollector<'_>, json: &str) {
        let raw: &RawValue = serde_json::from_str(json).unwrap();
        let record = Record::from_raw(raw).unwrap();
        collector.evaluate(&record);
    }

    #[test]
    fn group_hashes_tell_parts_apart() {
        let arn = "arn:aws:sts::111122223333:assumed-role/app/i-1";
        let base = group_hash([arn, "111122223333", "us-east-1", "2024-05-01"]);
        assert_eq!(
            base,
            group_hash([arn, "111122223333", "us-east-1", "2024-05-01"])
        );
        let others = [
            group_hash([arn, "111122223333", "us-east-1", "2024-05-02"]),
            group_hash([arn, "111122223333", "us-east-2", "2024-05-01"]),
            group_hash([arn, "444455556666", "us-east-1", "2024-05-01"]),
            group_hash([
                "arn:aws:sts::111122223333:assumed-role/app/i-2",
                "111122223333",
                "us-east-1",
                "2024-05-01",
            ]),
            // The same bytes split differently between the parts.
            group_hash([arn, "11112222333", "3us-east-1", "2024-05-01"]),
            group_hash(["", "", "", ""]),
            group_hash(["", arn, "us-east-1", "2024-05-01"]),
            group_hash([arn, "", "us-east-1", "2024-05-01"]),
        ];
        let mut all: Vec<u64> = others.to_vec();
        all.push(base);
        all.sort_unstable();
        all.dedup();
        assert_eq!(
            all.len(),
            others.len() + 1,
            "every change gives another hash"
        );
        // Thousands of principals: no collision.
        let hashes: std::collections::HashSet<u64> = (0..20_000)
            .map(|i| {
                group_hash([
                    &format!("arn:aws:sts::111122223333:assumed-role/app/i-{i}"),
                    "111122223333",
                    "us-east-1",
                    "2024-05-01",
                ])
            })
            .collect();
        assert_eq!(hashes.len(), 20_000);
    }

    #[test]
    fn repeats_fold_into_one_finding_per_principal_and_day_whatever_the_split() {
        let set = SigmaRuleSet::load_str(RULE, "test.yml").unwrap();
        let a = "arn:aws:sts::111122223333:assumed-role/app/i-1";
        let b = "arn:aws:sts::111122223333:assumed-role/ci/run-9";
        let events = [
            record_json("2024-05-01T10:00:00Z", "e2", a),
            record_json("2024-05-01T09:00:00Z", "e1", a),
            record_json("2024-05-01T11:00:00Z", "e3", a),
            record_json("2024-05-02T08:00:00Z", "e4", a),
            record_json("2024-05-01T12:00:00Z", "e5", b),
        ];
        // One worker sees everything.
        let mut whole = SigmaCollector::new(&set);
        for e in &events {
            feed(&mut whole, e);
        }
        // Two workers see halves, merged afterwards.
        let mut left = SigmaCollector::new(&set);
        let mut right = SigmaCollector::new(&set);
        for (i, e) in events.iter().enumerate() {
            feed(if i % 2 == 0 { &mut left } else { &mut right }, e);
        }
        left.merge(right);
        assert_eq!(whole.matched(), 5);
        assert_eq!(left.matched(), 5);
        let whole = whole.into_findings();
        let split = left.into_findings();
        assert_eq!(whole, split, "folding does not depend on the split");
        assert_eq!(whole.len(), 3, "a on day 1, a on day 2, b on day 1");
        assert_eq!(
            whole
                .iter()
                .map(|f| f.rule_id.as_str())
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
            1
        );
        let day_one = &whole[0];
        assert_eq!(
            day_one.event_id.as_deref(),
            Some("e1"),
            "built from the earliest record"
        );
        assert!(
            day_one.message.contains("Matched 3 times"),
            "{}",
            day_one.message
        );
        assert!(day_one
            .evidence
            .iter()
            .any(|e| e.path == "sigma.occurrences" && e.value == 3));
        let single = whole
            .iter()
            .find(|f| f.event_id.as_deref() == Some("e5"))
            .unwrap();
        assert!(
            !single.message.contains("Matched"),
            "a single match reads as one event"
        );
    }

    /// How [`scan_like`] offers each record.
    #[derive(Clone, Copy)]
    enum Reading {
        /// Parsed and evaluated, every one.
        Parsed,
        /// Settled raw when `fold_raw` can.
        Raw,
        /// Settled raw with the peek a caller made (the built-in rules' typed peek).
        RawWithPeek,
    }

    /// Runs `records` through a collector the way a scan does: settled raw when it can (as `reading`
    /// says), parsed and evaluated otherwise. Returns the findings, matches and how many were settled
    /// raw.
    fn scan_like(
        set: &SigmaRuleSet,
        records: &[String],
        reading: Reading,
    ) -> (Vec<Finding>, u64, usize) {
        let mut collector = SigmaCollector::new(set);
        let mut settled = 0;
        for text in records {
            let raw = RawRecord::new(text.as_bytes());
            let settled_raw = match reading {
                Reading::Parsed => false,
                Reading::Raw => collector.fold_raw(&raw),
                Reading::RawWithPeek => {
                    let peek = Record::peek_typed(text.as_bytes());
                    collector.fold_raw_peeked(&raw, peek.as_ref())
                }
            };
            if settled_raw {
                settled += 1;
                continue;
            }
            feed(&mut collector, text);
        }
        let matched = collector.matched();
        (collector.into_findings(), matched, settled)
    }

    #[test]
    fn folding_raw_gives_what_parsing_every_record_gives() {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/sigma-aws/rules");
        let (sigmahq, errors) = SigmaRuleSet::load_dirs(&[dir]);
        assert!(errors.is_empty(), "{errors:?}");
        assert!(
            sigmahq.len() > 40,
            "the SigmaHQ rules sit beside the checkout"
        );
        let start = chrono::DateTime::from_timestamp(1_709_251_200, 0).unwrap();
        let mut synth = trailguard_event::synth::Synth::new(3, start);
        let mut records: Vec<String> = (0..4000).map(|_| synth.next_record()).collect();
        // Out of time order too: an earlier repeat must take over its group's finding.
        records[100..1100].reverse();
        // And records the raw reading must leave to the parser.
        let assumed = records
            .iter()
            .find(|r| r.contains("\"AssumedRole\""))
            .expect("the corpus has assumed-role calls");
        let escaped = assumed.replacen("\"AssumedRole\"", "\"Assumed\\u0052ole\"", 1);
        assert!(RawRecord::new(escaped.as_bytes())
            .source_and_name()
            .is_some());
        assert!(Record::peek_typed(escaped.as_bytes()).is_none());
        records.insert(2000, escaped);
        for set in [&sigmahq, &SigmaRuleSet::load_str(RULE, "test.yml").unwrap()] {
            let (parsed, parsed_matches, none) = scan_like(set, &records, Reading::Parsed);
            let (folded, folded_matches, settled) = scan_like(set, &records, Reading::Raw);
            let (given, given_matches, given_settled) =
                scan_like(set, &records, Reading::RawWithPeek);
            assert_eq!(
                (given, given_matches, given_settled),
                (folded.clone(), folded_matches, settled),
                "a peek handed in reads as the collector's own"
            );
            assert_eq!(none, 0);
            assert!(
                parsed_matches > 100,
                "the rules match routine records: {parsed_matches}"
            );
            assert_eq!(folded_matches, parsed_matches);
            assert_eq!(folded, parsed, "same findings, counts and first records");
            assert!(
                settled > records.len() / 2,
                "most records are settled without a parse: {settled} of {}",
                records.len()
            );
        }
    }
}
