//! What a `serve` process has done, shared by its workers (atomics, no lock on the hot path), rendered
//! in the Prometheus text format for `GET /metrics` and summed up at exit.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use trailguard_rules::Severity;

/// Upper bounds (seconds) of the object processing-time histogram's buckets.
const BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

const SEVERITIES: [Severity; 5] = [
    Severity::Info,
    Severity::Low,
    Severity::Medium,
    Severity::High,
    Severity::Critical,
];

#[derive(Default)]
pub struct Metrics {
    pub messages_received: AtomicU64,
    pub messages_deleted: AtomicU64,
    /// Messages left on the queue because some of their work failed.
    pub messages_left: AtomicU64,
    /// Messages whose body is not a notification trailguard understands (left for the DLQ).
    pub messages_unrecognised: AtomicU64,
    pub objects_processed: AtomicU64,
    /// Objects whose findings an earlier delivery (or another worker) had already committed.
    pub objects_duplicate: AtomicU64,
    pub objects_failed: AtomicU64,
    pub records_inline: AtomicU64,
    pub records: AtomicU64,
    findings: [AtomicU64; 5],
    /// Acknowledged without work, by reason (`digest_file`, `test_event`, ...).
    skipped: Mutex<BTreeMap<&'static str, u64>>,
    /// Failures by kind (`get_object`, `corrupt_input`, `store`, `sqs`, ...).
    errors: Mutex<BTreeMap<&'static str, u64>>,
    /// The newest `eventTime` of a finding committed, as Unix seconds (0: none yet).
    newest_event: AtomicI64,
    histogram: [AtomicU64; BUCKETS.len()],
    processing_count: AtomicU64,
    processing_micros: AtomicU64,
    /// Findings committed muted (never alerted).
    pub findings_muted: AtomicU64,
    /// Alert delivery attempts by (destination, outcome: `sent`, `failed`, `given_up`).
    alert_deliveries: Mutex<BTreeMap<(String, &'static str), u64>>,
    /// The outbox as last counted: messages waiting (due or backing off), and given up.
    alert_pending: AtomicU64,
    alert_given_up: AtomicU64,
}

fn bump(map: &Mutex<BTreeMap<&'static str, u64>>, key: &'static str) {
    // A poisoned lock only means another worker panicked mid-increment: the counts are still usable.
    let mut map = map.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    *map.entry(key).or_default() += 1;
}

fn snapshot(map: &Mutex<BTreeMap<&'static str, u64>>) -> BTreeMap<&'static str, u64> {
    map.lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone()
}

impl Metrics {
    pub fn skipped(&self, reason: &'static str) {
        bump(&self.skipped, reason);
    }

    pub fn error(&self, kind: &'static str) {
        bump(&self.errors, kind);
    }

    pub fn finding(&self, severity: Severity, event_time: Option<&str>) {
        let index = SEVERITIES.iter().position(|s| *s == severity).unwrap_or(0);
        self.findings[index].fetch_add(1, Ordering::Relaxed);
        if let Some(time) = event_time.and_then(trailguard_event::parse_event_time) {
            self.newest_event
                .fetch_max(time.timestamp(), Ordering::Relaxed);
        }
    }

    pub fn alert_delivery(&self, destination: &str, outcome: &'static str, count: u64) {
        let mut map = self
            .alert_deliveries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *map.entry((destination.to_owned(), outcome)).or_default() += count;
    }

    pub fn alert_outbox(&self, pending: u64, given_up: u64) {
        self.alert_pending.store(pending, Ordering::Relaxed);
        self.alert_given_up.store(given_up, Ordering::Relaxed);
    }

    pub fn observe_processing(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        for (bound, bucket) in BUCKETS.iter().zip(&self.histogram) {
            if seconds <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.processing_count.fetch_add(1, Ordering::Relaxed);
        self.processing_micros.fetch_add(
            elapsed.as_micros().min(u128::from(u64::MAX)) as u64,
            Ordering::Relaxed,
        );
    }

    pub fn findings_by_severity(&self) -> BTreeMap<Severity, u64> {
        SEVERITIES
            .iter()
            .zip(&self.findings)
            .map(|(s, n)| (*s, n.load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    pub fn skipped_by_reason(&self) -> BTreeMap<&'static str, u64> {
        snapshot(&self.skipped)
    }

    pub fn errors_by_kind(&self) -> BTreeMap<&'static str, u64> {
        snapshot(&self.errors)
    }

    /// The Prometheus text exposition format (version 0.0.4).
    pub fn render(&self, now: chrono::DateTime<chrono::Utc>) -> String {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        };
        counter(
            "trailguard_messages_received_total",
            "SQS messages received.",
            load(&self.messages_received),
        );
        counter(
            "trailguard_messages_deleted_total",
            "SQS messages deleted after their work was committed.",
            load(&self.messages_deleted),
        );
        counter(
            "trailguard_messages_left_total",
            "SQS messages left on the queue after a failure (retried, then dead-lettered).",
            load(&self.messages_left),
        );
        counter(
            "trailguard_messages_unrecognised_total",
            "SQS messages whose body is no notification trailguard understands.",
            load(&self.messages_unrecognised),
        );
        counter(
            "trailguard_objects_processed_total",
            "Log objects scanned and committed.",
            load(&self.objects_processed),
        );
        counter(
            "trailguard_objects_duplicate_total",
            "Notifications for objects already committed (no-ops).",
            load(&self.objects_duplicate),
        );
        counter(
            "trailguard_objects_failed_total",
            "Log objects that could not be processed.",
            load(&self.objects_failed),
        );
        counter(
            "trailguard_records_total",
            "CloudTrail records read.",
            load(&self.records),
        );
        counter(
            "trailguard_records_inline_total",
            "CloudTrail events delivered inline by EventBridge.",
            load(&self.records_inline),
        );
        counter(
            "trailguard_findings_muted_total",
            "Findings committed muted (stored, never alerted).",
            load(&self.findings_muted),
        );
        let mut labelled = |name: &str, help: &str, label: &str, values: Vec<(String, u64)>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (value, count) in values {
                let _ = writeln!(out, "{name}{{{label}=\"{value}\"}} {count}");
            }
        };
        labelled(
            "trailguard_findings_total",
            "Findings committed, by severity.",
            "severity",
            SEVERITIES
                .iter()
                .zip(&self.findings)
                .map(|(s, n)| (s.as_str().to_owned(), load(n)))
                .collect(),
        );
        labelled(
            "trailguard_skipped_total",
            "Notifications acknowledged without work, by reason.",
            "reason",
            snapshot(&self.skipped)
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        );
        labelled(
            "trailguard_errors_total",
            "Failures, by kind.",
            "kind",
            snapshot(&self.errors)
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        );
        let name = "trailguard_alert_deliveries_total";
        let _ = writeln!(
            out,
            "# HELP {name} Alert delivery attempts, by destination and outcome (sent, failed, given_up).\n# TYPE {name} counter"
        );
        let deliveries = self
            .alert_deliveries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        for ((destination, outcome), count) in deliveries {
            let _ = writeln!(
                out,
                "{name}{{destination=\"{}\",outcome=\"{outcome}\"}} {count}",
                label_value(&destination)
            );
        }
        for (name, help, value) in [
            (
                "trailguard_alert_outbox_pending",
                "Alert messages in the store's outbox not yet sent (due or backing off).",
                &self.alert_pending,
            ),
            (
                "trailguard_alert_outbox_given_up",
                "Alert messages given up after every retry.",
                &self.alert_given_up,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {}",
                load(value)
            );
        }
        let newest = self.newest_event.load(Ordering::Relaxed);
        if newest > 0 {
            let lag = (now.timestamp() - newest).max(0);
            let _ = writeln!(
                out,
                "# HELP trailguard_lag_seconds Now minus the newest eventTime of a committed finding.\n# TYPE trailguard_lag_seconds gauge\ntrailguard_lag_seconds {lag}"
            );
        }
        let name = "trailguard_object_processing_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time from receiving an object's notification to committing it.\n# TYPE {name} histogram"
        );
        for (bound, bucket) in BUCKETS.iter().zip(&self.histogram) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {}", load(bucket));
        }
        let count = load(&self.processing_count);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            load(&self.processing_micros) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count {count}");
        out
    }
}

/// A label value in the text format: backslash, quote and newline escaped.
fn label_value(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let metrics = Metrics::default();
        metrics.messages_received.fetch_add(3, Ordering::Relaxed);
        metrics.finding(Severity::High, Some("2024-03-01T10:00:00Z"));
        metrics.skipped("digest_file");
        metrics.error("get_object");
        metrics.observe_processing(Duration::from_millis(300));
        metrics.alert_delivery("webhook-1a2b", "failed", 2);
        metrics.alert_delivery("webhook-1a2b", "sent", 1);
        metrics.alert_delivery("team \"a\"", "sent", 1);
        metrics.alert_outbox(3, 1);
        let now = chrono::DateTime::parse_from_rfc3339("2024-03-01T10:01:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let text = metrics.render(now);
        assert!(
            text.contains("trailguard_messages_received_total 3\n"),
            "{text}"
        );
        assert!(
            text.contains("trailguard_findings_total{severity=\"high\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("trailguard_skipped_total{reason=\"digest_file\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("trailguard_errors_total{kind=\"get_object\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("trailguard_lag_seconds 60\n"), "{text}");
        for line in [
            "trailguard_alert_deliveries_total{destination=\"webhook-1a2b\",outcome=\"failed\"} 2\n",
            "trailguard_alert_deliveries_total{destination=\"webhook-1a2b\",outcome=\"sent\"} 1\n",
            "trailguard_alert_deliveries_total{destination=\"team \\\"a\\\"\",outcome=\"sent\"} 1\n",
            "trailguard_alert_outbox_pending 3\n",
            "trailguard_alert_outbox_given_up 1\n",
        ] {
            assert!(text.contains(line), "{line}: {text}");
        }
        assert!(
            text.contains("trailguard_object_processing_seconds_bucket{le=\"0.25\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("trailguard_object_processing_seconds_bucket{le=\"0.5\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("trailguard_object_processing_seconds_count 1\n"),
            "{text}"
        );
    }
}
