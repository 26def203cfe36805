//! Decides what one split value is: a CloudTrail event, an envelope around one (EventBridge,
//! `{"event": {...}}`), a `Records` container, a digest, or something that is not CloudTrail.

use std::borrow::Cow;

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::SkipReason;
use crate::record::Record;
use crate::split::UnitKind;

/// What a value turned out to be.
// The record is the common case by far; boxing it would allocate once per record.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Classified<'a> {
    Record(Record<'a>),
    /// An object holding `Records` that was not its first key, so the splitter did not open it.
    Records(Vec<&'a RawValue>),
    Digest,
    /// A CloudWatch Logs subscription message (CloudTrail delivered to CloudWatch Logs, then exported
    /// through a subscription or Firehose): each log event's `message` is one CloudTrail record as text.
    Embedded(Vec<Cow<'a, str>>),
    /// A CloudWatch Logs `CONTROL_MESSAGE` (a delivery health check): no records, nothing wrong.
    Control,
    /// JSON that is not CloudTrail at all; the text says what was found.
    NotCloudTrail(String),
    /// A value that should have been an event but is broken.
    Skip(SkipReason, String),
}

/// The keys that tell a CloudTrail event, a digest or an envelope apart.
#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(rename = "detail-type", borrow, default)]
    detail_type: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    detail: Option<&'a RawValue>,
    #[serde(borrow, default)]
    event: Option<&'a RawValue>,
    #[serde(rename = "Records", borrow, default)]
    records: Option<&'a RawValue>,
    #[serde(rename = "messageType", borrow, default)]
    message_type: Option<Cow<'a, str>>,
    #[serde(rename = "logEvents", borrow, default)]
    log_events: Option<Vec<LogEvent<'a>>>,
    #[serde(rename = "digestStartTime", default)]
    digest_start_time: Option<IgnoredAny>,
    #[serde(rename = "digestS3Bucket", default)]
    digest_s3_bucket: Option<IgnoredAny>,
    #[serde(rename = "eventName", default)]
    event_name: Option<IgnoredAny>,
    #[serde(rename = "eventSource", default)]
    event_source: Option<IgnoredAny>,
    #[serde(rename = "eventTime", default)]
    event_time: Option<IgnoredAny>,
    #[serde(rename = "eventVersion", default)]
    event_version: Option<IgnoredAny>,
    #[serde(rename = "userIdentity", default)]
    user_identity: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct LogEvent<'a> {
    #[serde(borrow)]
    message: Cow<'a, str>,
}

impl Probe<'_> {
    fn looks_like_event(&self) -> bool {
        self.event_name.is_some()
            || self.event_source.is_some()
            || self.event_time.is_some()
            || self.event_version.is_some()
            || self.user_identity.is_some()
    }
}

pub(crate) fn classify(bytes: &[u8], kind: UnitKind) -> Classified<'_> {
    match serde_json::from_slice(bytes) {
        Ok(raw) => classify_raw(raw, kind),
        Err(err) => Classified::Skip(SkipReason::NotJson, format!("not valid JSON: {err}")),
    }
}

/// Like [`classify`], for a value already known to be valid JSON.
pub(crate) fn classify_raw(raw: &RawValue, kind: UnitKind) -> Classified<'_> {
    let text = raw.get();
    if !text.starts_with('{') {
        return Classified::Skip(
            SkipReason::NotAnObject,
            format!("expected a JSON object, found {}", describe(text)),
        );
    }
    let err = match Record::from_raw(raw) {
        Ok(record) => return Classified::Record(record),
        Err(err) => err,
    };
    if kind == UnitKind::RecordsElement {
        return record_error(&err);
    }
    let probe: Probe<'_> = match serde_json::from_str(text) {
        Ok(probe) => probe,
        Err(_) => return record_error(&err),
    };
    if probe.digest_start_time.is_some() || probe.digest_s3_bucket.is_some() {
        return Classified::Digest;
    }
    if let Some(events) = probe.log_events {
        if probe.message_type.as_deref() == Some("CONTROL_MESSAGE") {
            return Classified::Control;
        }
        return Classified::Embedded(events.into_iter().map(|e| e.message).collect());
    }
    if let Some(detail) = probe.detail {
        let via_cloudtrail = probe
            .detail_type
            .as_deref()
            .is_some_and(|t| t.ends_with("via CloudTrail"));
        return match Record::from_raw(detail) {
            Ok(record) => Classified::Record(record),
            Err(inner) if via_cloudtrail => record_error(&inner),
            Err(_) => Classified::NotCloudTrail(match probe.detail_type.as_deref() {
                Some(t) => format!("EventBridge event `{t}`, not an API call via CloudTrail"),
                None => "an object with `detail` that is not a CloudTrail event".to_owned(),
            }),
        };
    }
    if let Some(event) = probe.event.filter(|e| e.get().starts_with('{')) {
        return match Record::from_raw(event) {
            Ok(record) => Classified::Record(record),
            Err(inner) => record_error(&inner),
        };
    }
    if let Some(records) = probe.records {
        return match serde_json::from_str::<Vec<&RawValue>>(records.get()) {
            Ok(list) => Classified::Records(list),
            Err(_) => Classified::NotCloudTrail("`Records` is not an array".to_owned()),
        };
    }
    if probe.looks_like_event() {
        return record_error(&err);
    }
    Classified::NotCloudTrail(format!(
        "a JSON object without `eventName`, `Records` or an EventBridge `detail` (keys: {})",
        first_keys(text)
    ))
}

/// Maps a serde error on a record to a skip reason and a one-line message.
fn record_error(err: &serde_json::Error) -> Classified<'static> {
    let message = err.to_string();
    let reason = if message.starts_with("missing field `eventName`") {
        SkipReason::MissingEventName
    } else if message.starts_with("missing field `eventSource`") {
        SkipReason::MissingEventSource
    } else if err.is_data() {
        SkipReason::InvalidField
    } else {
        SkipReason::NotJson
    };
    // serde's position is relative to the record; the caller gives the file position instead.
    let message = match message.rfind(" at line ") {
        Some(cut) => message[..cut].to_owned(),
        None => message,
    };
    Classified::Skip(reason, message)
}

fn describe(text: &str) -> String {
    match text.as_bytes().first() {
        Some(b'[') => "an array".to_owned(),
        Some(b'"') => "a string".to_owned(),
        Some(b't' | b'f') => "a boolean".to_owned(),
        Some(b'n') => "null".to_owned(),
        _ => format!("`{}`", text.chars().take(20).collect::<String>()),
    }
}

fn first_keys(text: &str) -> String {
    let keys: Vec<String> =
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text)
            .map(|m| m.keys().take(5).map(|k| format!("`{k}`")).collect())
            .unwrap_or_default();
    if keys.is_empty() {
        "none".to_owned()
    } else {
        keys.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENT: &str = r#"{"eventVersion":"1.08","userIdentity":{"type":"Root","accountId":"111122223333"},"eventTime":"2024-01-01T00:00:00Z","eventSource":"iam.amazonaws.com","eventName":"CreateAccountAlias","awsRegion":"us-east-1","requestParameters":{"accountAlias":"acme"},"recipientAccountId":"111122223333"}"#;

    fn event_name(c: Classified<'_>) -> String {
        match c {
            Classified::Record(r) => r.event_name.into_owned(),
            Classified::Skip(reason, msg) => format!("skip {reason}: {msg}"),
            Classified::NotCloudTrail(msg) => format!("not cloudtrail: {msg}"),
            Classified::Digest => "digest".into(),
            Classified::Records(list) => format!("records {}", list.len()),
            Classified::Embedded(list) => format!("embedded {}", list.len()),
            Classified::Control => "control".into(),
        }
    }

    #[test]
    fn plain_event_and_envelopes_give_the_inner_record() {
        let eventbridge = format!(
            r#"{{"version":"0","id":"6f2c","detail-type":"AWS API Call via CloudTrail","source":"aws.iam","account":"111122223333","time":"2024-01-01T00:00:00Z","region":"us-east-1","resources":[],"detail":{EVENT}}}"#
        );
        let wrapped = format!(r#"{{"source":"docs","event":{EVENT}}}"#);
        for text in [EVENT.to_owned(), eventbridge, wrapped] {
            let c = classify(text.as_bytes(), UnitKind::Value);
            if let Classified::Record(r) = &c {
                // `raw` is the event itself, not the envelope.
                assert!(r.raw.unwrap().get().starts_with(r#"{"eventVersion""#));
            }
            assert_eq!(event_name(c), "CreateAccountAlias");
        }
    }

    #[test]
    fn missing_fields_are_named() {
        let no_name = EVENT.replace(r#""eventName":"CreateAccountAlias","#, "");
        assert_eq!(
            event_name(classify(no_name.as_bytes(), UnitKind::RecordsElement)),
            "skip missing_event_name: missing field `eventName`"
        );
        // A record without a time is still a record: the pipeline judges it and reports the time.
        let no_time = EVENT.replace(r#""eventTime":"2024-01-01T00:00:00Z","#, "");
        assert_eq!(
            event_name(classify(no_time.as_bytes(), UnitKind::Value)),
            "CreateAccountAlias"
        );
        let bad_type = EVENT.replace(r#""CreateAccountAlias""#, "42");
        assert!(event_name(classify(bad_type.as_bytes(), UnitKind::Value))
            .starts_with("skip invalid_field: invalid type"));
    }

    #[test]
    fn digest_other_json_and_scalars_are_told_apart() {
        let digest = r#"{"awsAccountId":"111122223333","digestStartTime":"2024-01-01T00:00:00Z","digestEndTime":"2024-01-01T01:00:00Z","digestS3Bucket":"b","logFiles":[]}"#;
        assert_eq!(
            event_name(classify(digest.as_bytes(), UnitKind::Value)),
            "digest"
        );
        let policy = r#"{"Version":"2012-10-17","Statement":[]}"#;
        assert_eq!(
            event_name(classify(policy.as_bytes(), UnitKind::Value)),
            "not cloudtrail: a JSON object without `eventName`, `Records` or an EventBridge `detail` (keys: `Statement`, `Version`)"
        );
        let guardduty = r#"{"detail-type":"GuardDuty Finding","detail":{"id":"x"}}"#;
        assert!(event_name(classify(guardduty.as_bytes(), UnitKind::Value))
            .contains("`GuardDuty Finding`"));
        assert_eq!(
            event_name(classify(b"[1,2]", UnitKind::RecordsElement)),
            "skip not_an_object: expected a JSON object, found an array"
        );
        assert!(event_name(classify(b"{\"a\":tru}", UnitKind::Value))
            .starts_with("skip not_json: not valid JSON"));
    }

    #[test]
    fn cloudwatch_logs_messages_are_unwrapped() {
        let escaped = serde_json::to_string(EVENT).unwrap();
        let data = format!(
            r#"{{"messageType":"DATA_MESSAGE","owner":"111122223333","logGroup":"aws-cloudtrail-logs","logStream":"111122223333_CloudTrail_us-east-1","subscriptionFilters":["to-s3"],"logEvents":[{{"id":"1","timestamp":1704067200000,"message":{escaped}}},{{"id":"2","timestamp":1704067200001,"message":{escaped}}}]}}"#
        );
        match classify(data.as_bytes(), UnitKind::Value) {
            Classified::Embedded(messages) => {
                assert_eq!(messages.len(), 2);
                assert_eq!(messages[0], EVENT);
            }
            other => panic!("{}", event_name(other)),
        }
        let control = r#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}"#;
        assert_eq!(
            event_name(classify(control.as_bytes(), UnitKind::Value)),
            "control"
        );
    }

    #[test]
    fn records_key_not_first_is_opened() {
        let text = format!(r#"{{"note":"x","Records":[{EVENT},{EVENT}]}}"#);
        assert_eq!(
            event_name(classify(text.as_bytes(), UnitKind::Value)),
            "records 2"
        );
    }
}
