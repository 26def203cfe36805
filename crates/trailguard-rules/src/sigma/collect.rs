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
use trailguard_event::Record;

/// A group: the rule's index and a 64-bit hash of principal, account, region and day (collisions between
/// distinct principal-days of one rule are negligible at 64 bits).
type GroupKey = (u32, u64);

fn group_hash(parts: [&str; 4]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    parts.hash(&mut hasher);
    hasher.finish()
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
    groups: HashMap<GroupKey, Group>,
    matched: u64,
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
            groups: HashMap::new(),
            matched: 0,
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
        let identity = &record.user_identity;
        let actor = identity
            .best_arn()
            .or(identity.principal_id.as_deref())
            .or(identity.identity_type.as_deref())
            .unwrap_or_default();
        let order = order_key(record);
        let hash = group_hash([
            actor,
            record.account_id().unwrap_or_default(),
            record.aws_region.as_deref().unwrap_or_default(),
            record.event_time.get(..10).unwrap_or_default(),
        ]);
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

    /// Whether any rule could match the record with this raw text, judged without parsing it.
    pub fn wants_raw(&self, raw: &[u8]) -> bool {
        self.set.wants_raw(raw)
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
}
