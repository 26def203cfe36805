//! What an SQS message body asks a worker to do. Pure: no I/O, so every shape AWS sends is unit-tested.
//!
//! The shapes understood ([`parse`]), outermost first:
//! - an SNS envelope (`"Type": "Notification"`, the payload as a JSON string in `Message`): a topic
//!   subscription with raw message delivery *off*. With raw delivery on, the payload is the body itself.
//! - an S3 event notification (`{"Records": [{"eventSource": "aws:s3", "s3": {...}}]}`), sent by S3
//!   straight to the queue or through SNS. Keys are URL-encoded (`+` for a space), as S3 writes them.
//! - `s3:TestEvent`, which S3 sends once when a notification configuration is saved.
//! - CloudTrail's own per-file notification through the trail's SNS topic
//!   (`{"s3Bucket": "...", "s3ObjectKey": ["...", ...]}`); keys are plain text.
//! - EventBridge `Object Created` from `aws.s3` (the key in `detail.object.key`, plain text).
//! - EventBridge `AWS API Call via CloudTrail` (and the other `... via CloudTrail` detail types): the
//!   record itself, inline. The worker scans the whole event, which the pipeline unwraps (the fast lane).
//!
//! Anything else is [`Unrecognised`]: the worker reports it with the message id and leaves it to SQS, so
//! the queue's redrive policy moves it to the dead-letter queue where a person can look at it.
//!
//! [`triage`] then decides, from the key and size alone, which objects are not worth fetching (digest
//! files, folder markers and other 0-byte objects, keys outside `--prefix`, names that are not log
//! files): they are acknowledged and counted, never errors.

use serde_json::Value;

/// One piece of work a message carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Work {
    /// An S3 object to fetch and scan.
    Object(ObjectRef),
    /// One CloudTrail event delivered inline by EventBridge: `body` is the whole EventBridge event,
    /// `id` its EventBridge id.
    Record { id: String, body: String },
    /// Nothing to do: acknowledged and counted.
    Ignored(Ignored),
}

/// An object named by a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub bucket: String,
    /// The key as stored (URL-decoded when the notification encodes it).
    pub key: String,
    /// The size, when the notification says (CloudTrail's own notification does not).
    pub size: Option<u64>,
    /// The ETag without quotes, when the notification says.
    pub etag: Option<String>,
    pub version_id: Option<String>,
}

/// Notifications that need no work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ignored {
    /// `s3:TestEvent`, sent when a bucket's notification configuration is saved.
    TestEvent,
    /// An S3 event other than an object creation (removal, restore, ...): the event's name.
    NotCreated(String),
}

impl Ignored {
    /// The metric label.
    pub fn label(&self) -> &'static str {
        match self {
            Ignored::TestEvent => "test_event",
            Ignored::NotCreated(_) => "not_object_created",
        }
    }
}

/// A body that is none of the shapes above; `reason` says what it looked like.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a notification trailguard understands: {reason}")]
pub struct Unrecognised {
    pub reason: String,
}

fn unrecognised(reason: impl Into<String>) -> Unrecognised {
    Unrecognised {
        reason: reason.into(),
    }
}

/// Reads a message body into the work it carries (one or more items, in order).
pub fn parse(body: &str) -> Result<Vec<Work>, Unrecognised> {
    let value: Value = serde_json::from_str(body.trim())
        .map_err(|e| unrecognised(format!("the body is not JSON ({e})")))?;
    parse_value(&value, body, true)
}

fn parse_value(value: &Value, body: &str, outer: bool) -> Result<Vec<Work>, Unrecognised> {
    let Some(object) = value.as_object() else {
        return Err(unrecognised("the body is not a JSON object"));
    };
    // SNS with raw delivery off wraps the payload; unwrap once (a payload is never itself an envelope).
    if outer && object.get("Type").and_then(Value::as_str) == Some("Notification") {
        let Some(message) = object.get("Message").and_then(Value::as_str) else {
            return Err(unrecognised(
                "an SNS notification without a `Message` string",
            ));
        };
        let inner: Value = serde_json::from_str(message.trim()).map_err(|e| {
            unrecognised(format!(
                "the SNS notification's `Message` is not JSON ({e})"
            ))
        })?;
        return parse_value(&inner, message, false);
    }
    if object.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(vec![Work::Ignored(Ignored::TestEvent)]);
    }
    if let Some(records) = object.get("Records").and_then(Value::as_array) {
        return records.iter().map(s3_event_record).collect();
    }
    if let Some(bucket) = object.get("s3Bucket").and_then(Value::as_str) {
        let Some(keys) = object.get("s3ObjectKey").and_then(Value::as_array) else {
            return Err(unrecognised(
                "a CloudTrail notification without `s3ObjectKey`",
            ));
        };
        return keys
            .iter()
            .map(|key| match key.as_str() {
                Some(key) => Ok(Work::Object(ObjectRef {
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                    size: None,
                    etag: None,
                    version_id: None,
                })),
                None => Err(unrecognised(
                    "a CloudTrail notification whose `s3ObjectKey` holds a non-string",
                )),
            })
            .collect();
    }
    if let (Some(detail_type), Some(detail)) = (
        object.get("detail-type").and_then(Value::as_str),
        object.get("detail"),
    ) {
        return eventbridge(object, detail_type, detail, body).map(|work| vec![work]);
    }
    let mut keys: Vec<&str> = object.keys().map(String::as_str).take(6).collect();
    keys.sort_unstable();
    Err(unrecognised(format!(
        "a JSON object with none of `Records`, `s3Bucket`, `detail-type`, `Event` (keys: {})",
        keys.iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

/// One record of an S3 event notification.
fn s3_event_record(record: &Value) -> Result<Work, Unrecognised> {
    let source = record.get("eventSource").and_then(Value::as_str);
    let Some(s3) = record.get("s3").filter(|_| source == Some("aws:s3")) else {
        return Err(unrecognised(
            "`Records` that are not S3 event notifications (no `eventSource: aws:s3`)",
        ));
    };
    let event_name = record
        .get("eventName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !event_name.starts_with("ObjectCreated:") {
        return Ok(Work::Ignored(Ignored::NotCreated(event_name.to_owned())));
    }
    let bucket = s3
        .pointer("/bucket/name")
        .and_then(Value::as_str)
        .ok_or_else(|| unrecognised("an S3 event without `s3.bucket.name`"))?;
    let object = s3
        .get("object")
        .ok_or_else(|| unrecognised("an S3 event without `s3.object`"))?;
    let encoded = object
        .get("key")
        .and_then(Value::as_str)
        .ok_or_else(|| unrecognised("an S3 event without `s3.object.key`"))?;
    Ok(Work::Object(ObjectRef {
        bucket: bucket.to_owned(),
        key: decode_key(encoded)?,
        size: object.get("size").and_then(Value::as_u64),
        etag: object.get("eTag").and_then(Value::as_str).map(plain_etag),
        version_id: object
            .get("versionId")
            .and_then(Value::as_str)
            .map(str::to_owned),
    }))
}

/// An EventBridge event: S3 `Object Created`, or a CloudTrail event inline.
fn eventbridge(
    envelope: &serde_json::Map<String, Value>,
    detail_type: &str,
    detail: &Value,
    body: &str,
) -> Result<Work, Unrecognised> {
    let source = envelope
        .get("source")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if detail_type.ends_with("via CloudTrail") {
        if !detail.is_object() {
            return Err(unrecognised(format!(
                "an EventBridge `{detail_type}` event whose `detail` is not an object"
            )));
        }
        let id = envelope
            .get("id")
            .and_then(Value::as_str)
            .or_else(|| detail.get("eventID").and_then(Value::as_str))
            .unwrap_or_default();
        return Ok(Work::Record {
            id: id.to_owned(),
            body: body.trim().to_owned(),
        });
    }
    if source != "aws.s3" {
        return Err(unrecognised(format!(
            "an EventBridge `{detail_type}` event from `{source}`"
        )));
    }
    if detail_type != "Object Created" {
        return Ok(Work::Ignored(Ignored::NotCreated(detail_type.to_owned())));
    }
    let bucket = detail
        .pointer("/bucket/name")
        .and_then(Value::as_str)
        .ok_or_else(|| unrecognised("an EventBridge `Object Created` without `bucket.name`"))?;
    let object = detail
        .get("object")
        .ok_or_else(|| unrecognised("an EventBridge `Object Created` without `object`"))?;
    let key = object
        .get("key")
        .and_then(Value::as_str)
        .ok_or_else(|| unrecognised("an EventBridge `Object Created` without `object.key`"))?;
    Ok(Work::Object(ObjectRef {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        size: object.get("size").and_then(Value::as_u64),
        etag: object.get("etag").and_then(Value::as_str).map(plain_etag),
        version_id: object
            .get("version-id")
            .and_then(Value::as_str)
            .map(str::to_owned),
    }))
}

/// S3 event keys are URL-encoded the way HTML forms are: `+` for a space, `%XX` for the rest.
fn decode_key(encoded: &str) -> Result<String, Unrecognised> {
    let spaced = encoded.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|key| key.into_owned())
        .map_err(|_| {
            unrecognised(format!(
                "an S3 event key that is not UTF-8 once decoded: `{encoded}`"
            ))
        })
}

/// An S3 event notification (`ObjectCreated:Put`) for one object, as S3 sends it: the key URL-encoded
/// (a space as `+`), the ETag without quotes. What `backfill` enqueues, so history takes the live path.
pub fn s3_event_body(bucket: &str, key: &str, size: Option<u64>, etag: Option<&str>) -> String {
    const KEPT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b'*');
    let encoded = percent_encoding::utf8_percent_encode(key, KEPT)
        .to_string()
        .replace("%20", "+");
    let mut object = serde_json::json!({ "key": encoded });
    if let Some(size) = size {
        object["size"] = size.into();
    }
    if let Some(etag) = etag {
        object["eTag"] = etag.into();
    }
    serde_json::json!({
        "Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "eventName": "ObjectCreated:Put",
            "s3": {
                "s3SchemaVersion": "1.0",
                "bucket": { "name": bucket, "arn": format!("arn:aws:s3:::{bucket}") },
                "object": object,
            },
        }]
    })
    .to_string()
}

/// The account and region a CloudTrail log file belongs to, from its key as CloudTrail writes it:
/// `[prefix/]AWSLogs/[o-org/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/file`. `None` for any other key.
pub fn log_origin(key: &str) -> Option<(&str, &str)> {
    let parts: Vec<&str> = key.split('/').collect();
    let at = parts.iter().position(|p| *p == "CloudTrail")?;
    let account = parts.get(at.checked_sub(1)?)?;
    let region = parts.get(at + 1)?;
    let plausible = |s: &str| !s.is_empty() && s.len() <= 64;
    (parts.contains(&"AWSLogs")
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && plausible(region)
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
    .then_some((*account, *region))
}

/// ETags without their quotes, so the notification's and GetObject's forms compare equal.
pub fn plain_etag(etag: &str) -> String {
    etag.trim_matches('"').to_owned()
}

/// Why an object named by a notification is acknowledged without being fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// A CloudTrail digest file (integrity manifest, no events).
    Digest,
    /// A 0-byte object: a folder marker (`key/`) or an empty upload.
    Empty,
    /// Outside `--prefix`.
    OutsidePrefix,
    /// Not a log file by its name (a README, an inventory report, ...).
    NotLogFile,
}

impl Skip {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Skip::Digest => "digest_file",
            Skip::Empty => "empty_object",
            Skip::OutsidePrefix => "outside_prefix",
            Skip::NotLogFile => "not_a_log_file",
        }
    }
}

/// Decides from the notification alone whether an object is skipped, and why.
pub fn triage(object: &ObjectRef, prefix: Option<&str>) -> Option<Skip> {
    if prefix.is_some_and(|p| !object.key.starts_with(p)) {
        return Some(Skip::OutsidePrefix);
    }
    if object.key.ends_with('/') || object.size == Some(0) {
        return Some(Skip::Empty);
    }
    if object.key.contains("CloudTrail-Digest/") || object.key.ends_with("-Digest.json.gz") {
        return Some(Skip::Digest);
    }
    if !crate::remote::s3::is_log_key(&object.key) {
        return Some(Skip::NotLogFile);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/01/111122223333_CloudTrail_us-east-1_20240301T1005Z_Ab12Cd34Ef56Gh78.json.gz";

    /// An S3 event notification as S3 sends it to SQS (AWS S3 user guide, "Event message structure").
    fn s3_event(key: &str) -> String {
        format!(
            r#"{{"Records":[{{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1",
            "eventTime":"2024-03-01T10:05:31.123Z","eventName":"ObjectCreated:Put",
            "userIdentity":{{"principalId":"AWS:AROAEXAMPLE:regionalDeliverySession"}},
            "requestParameters":{{"sourceIPAddress":"203.0.113.10"}},
            "responseElements":{{"x-amz-request-id":"C3D13FE58DE4C810","x-amz-id-2":"FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"}},
            "s3":{{"s3SchemaVersion":"1.0","configurationId":"trailguard",
              "bucket":{{"name":"acme-trail","ownerIdentity":{{"principalId":"A3NL1KOZZKExample"}},"arn":"arn:aws:s3:::acme-trail"}},
              "object":{{"key":"{key}","size":1523,"eTag":"d41d8cd98f00b204e9800998ecf8427e","versionId":"096fKKXTRTtl3on89fVO.nfljtsv6qko","sequencer":"0055AED6DCD90281E5"}}}}}}]}}"#
        )
    }

    fn object(key: &str) -> ObjectRef {
        ObjectRef {
            bucket: "acme-trail".into(),
            key: key.into(),
            size: Some(1523),
            etag: Some("d41d8cd98f00b204e9800998ecf8427e".into()),
            version_id: Some("096fKKXTRTtl3on89fVO.nfljtsv6qko".into()),
        }
    }

    /// An SNS envelope with raw message delivery off (SNS developer guide, "HTTP/HTTPS notification
    /// JSON format"; SQS subscriptions receive the same document as the body).
    fn sns(message: &str) -> String {
        serde_json::json!({
            "Type": "Notification",
            "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
            "TopicArn": "arn:aws:sns:us-east-1:111122223333:trail-files",
            "Subject": "Amazon S3 Notification",
            "Message": message,
            "Timestamp": "2024-03-01T10:05:32.000Z",
            "SignatureVersion": "1",
            "Signature": "EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0QHVCkhRS7fUQvi2egU3N858fiTDN6bkkOxYDVrY0Ad8L10Hs3zH81mtnPk5uvvolIC1CXGu43obcgFxeL3khZl8IKvO61GWB6jI9b5+gLPoBc1Q=",
            "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem",
            "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-east-1:111122223333:trail-files:c9135db0-26c4-47ec-8998-413945fb5a96"
        })
        .to_string()
    }

    #[test]
    fn s3_event_notifications_name_their_object() {
        assert_eq!(parse(&s3_event(KEY)).unwrap(), [Work::Object(object(KEY))]);
        // Keys are URL-encoded, `+` for a space.
        let encoded = parse(&s3_event("AWSLogs/odd+name%2Bplus%3D.json.gz")).unwrap();
        let Work::Object(found) = &encoded[0] else {
            panic!("{encoded:?}")
        };
        assert_eq!(found.key, "AWSLogs/odd name+plus=.json.gz");
        // moto encodes the slashes too.
        let slashes = parse(&s3_event(&KEY.replace('/', "%2F"))).unwrap();
        assert_eq!(slashes, [Work::Object(object(KEY))]);
    }

    #[test]
    fn s3_events_through_sns_raw_and_wrapped() {
        // Raw delivery on: the body is the S3 event itself.
        assert_eq!(parse(&s3_event(KEY)).unwrap(), [Work::Object(object(KEY))]);
        // Raw delivery off: the S3 event is a JSON string in `Message`.
        assert_eq!(
            parse(&sns(&s3_event(KEY))).unwrap(),
            [Work::Object(object(KEY))]
        );
    }

    #[test]
    fn the_test_event_is_acknowledged() {
        let body = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2024-03-01T10:00:00.000Z","Bucket":"acme-trail","RequestId":"5582815E1AEA5ADF","HostId":"8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"}"#;
        assert_eq!(parse(body).unwrap(), [Work::Ignored(Ignored::TestEvent)]);
        assert_eq!(
            parse(&sns(body)).unwrap(),
            [Work::Ignored(Ignored::TestEvent)]
        );
    }

    #[test]
    fn removals_are_not_work() {
        let body = s3_event(KEY).replace("ObjectCreated:Put", "ObjectRemoved:Delete");
        assert_eq!(
            parse(&body).unwrap(),
            [Work::Ignored(Ignored::NotCreated(
                "ObjectRemoved:Delete".into()
            ))]
        );
    }

    /// CloudTrail's notification through the trail's SNS topic (CloudTrail user guide, "Configuring
    /// Amazon SNS notifications for CloudTrail"): bucket and keys, no size or ETag.
    #[test]
    fn cloudtrail_sns_notifications_list_their_files() {
        let second = KEY.replace("Ab12", "Zz99");
        let message =
            serde_json::json!({"s3Bucket": "acme-trail", "s3ObjectKey": [KEY, second]}).to_string();
        let expected: Vec<Work> = [KEY, second.as_str()]
            .iter()
            .map(|key| {
                Work::Object(ObjectRef {
                    bucket: "acme-trail".into(),
                    key: (*key).to_owned(),
                    size: None,
                    etag: None,
                    version_id: None,
                })
            })
            .collect();
        assert_eq!(parse(&sns(&message)).unwrap(), expected);
        assert_eq!(parse(&message).unwrap(), expected, "raw delivery");
    }

    /// S3 through EventBridge (S3 user guide, "EventBridge event message structure").
    #[test]
    fn eventbridge_object_created() {
        let body = format!(
            r#"{{"version":"0","id":"17793124-05d4-b198-2fde-7ededc63b103","detail-type":"Object Created",
            "source":"aws.s3","account":"111122223333","time":"2024-03-01T10:05:31Z","region":"us-east-1",
            "resources":["arn:aws:s3:::acme-trail"],
            "detail":{{"version":"0","bucket":{{"name":"acme-trail"}},
              "object":{{"key":"{KEY}","size":1523,"etag":"d41d8cd98f00b204e9800998ecf8427e",
                "version-id":"096fKKXTRTtl3on89fVO.nfljtsv6qko","sequencer":"0055AED6DCD90281E5"}},
              "request-id":"N4N7GDK58NMKJ12R","requester":"cloudtrail.amazonaws.com",
              "source-ip-address":"203.0.113.15","reason":"PutObject"}}}}"#
        );
        assert_eq!(parse(&body).unwrap(), [Work::Object(object(KEY))]);
        let deleted = body.replace("Object Created", "Object Deleted");
        assert_eq!(
            parse(&deleted).unwrap(),
            [Work::Ignored(Ignored::NotCreated("Object Deleted".into()))]
        );
    }

    /// The fast lane: one CloudTrail event inline (EventBridge user guide, "AWS API Call via CloudTrail").
    #[test]
    fn eventbridge_cloudtrail_events_are_records() {
        let body = r#"{"version":"0","id":"6f87d04b-9f74-4f04-a780-7acf4b0a9b38","detail-type":"AWS API Call via CloudTrail","source":"aws.iam","account":"111122223333","time":"2024-03-01T10:00:00Z","region":"us-east-1","resources":[],"detail":{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","userName":"alice"},"eventTime":"2024-03-01T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":"CreateAccessKey","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.7","userAgent":"aws-cli/2.15.0","requestParameters":{"userName":"bob"},"responseElements":null,"requestID":"1a2b3c4d","eventID":"8f7e6d5c-0000-4000-8000-000000000001","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}}"#;
        assert_eq!(
            parse(body).unwrap(),
            [Work::Record {
                id: "6f87d04b-9f74-4f04-a780-7acf4b0a9b38".into(),
                body: body.to_owned()
            }]
        );
        let signin = body.replace(
            "AWS API Call via CloudTrail",
            "AWS Console Sign In via CloudTrail",
        );
        assert!(matches!(parse(&signin).unwrap()[0], Work::Record { .. }));
    }

    #[test]
    fn anything_else_is_unrecognised() {
        for body in [
            "",
            "hello",
            "[1, 2]",
            r#"{"Records":[{"eventSource":"iam.amazonaws.com","eventName":"CreateUser"}]}"#,
            r#"{"detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","detail":{}}"#,
            r#"{"Type":"Notification","Message":"not json"}"#,
            r#"{"alarm":"x"}"#,
        ] {
            let err = parse(body).unwrap_err();
            assert!(!err.reason.is_empty(), "{body}");
        }
        let err = parse(r#"{"alarm":"x"}"#).unwrap_err().to_string();
        assert!(err.contains("`alarm`"), "{err}");
    }

    #[test]
    fn a_backfill_notification_reads_back_as_its_object() {
        let key = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/01/a b+c%d é.json.gz";
        let body = s3_event_body("trail", key, Some(42), Some("abc"));
        assert!(body.contains("a+b%2Bc%25d+%C3%A9.json.gz"), "{body}");
        let work = parse(&body).unwrap();
        let [Work::Object(object)] = work.as_slice() else {
            panic!("{work:?}")
        };
        assert_eq!(object.bucket, "trail");
        assert_eq!(object.key, key);
        assert_eq!(object.etag.as_deref(), Some("abc"));
    }

    #[test]
    fn a_log_key_names_its_account_and_region() {
        assert_eq!(log_origin(KEY), Some(("111122223333", "us-east-1")));
        let org = "logs/AWSLogs/o-abc123/111122223333/CloudTrail/eu-west-1/2024/03/01/f.json.gz";
        assert_eq!(log_origin(org), Some(("111122223333", "eu-west-1")));
        for other in [
            "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/03/01/d.json.gz",
            "AWSLogs/1/CloudTrail/us-east-1/f.json.gz",
            "AWSLogs/111122223333/CloudTrail/US EAST/f.json.gz",
            "111122223333/CloudTrail/us-east-1/f.json.gz",
            "AWSLogs/111122223333/CloudTrail",
        ] {
            assert_eq!(log_origin(other), None, "{other}");
        }
    }

    #[test]
    fn digests_folders_and_foreign_keys_are_skipped() {
        assert_eq!(triage(&object(KEY), None), None);
        assert_eq!(triage(&object(KEY), Some("AWSLogs/111122223333/")), None);
        assert_eq!(
            triage(&object(KEY), Some("AWSLogs/444455556666/")),
            Some(Skip::OutsidePrefix)
        );
        let digest = "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/03/01/111122223333_CloudTrail-Digest_us-east-1_trail_us-east-1_20240301T100531Z.json.gz";
        assert_eq!(triage(&object(digest), None), Some(Skip::Digest));
        let mut folder = object("AWSLogs/111122223333/CloudTrail/");
        folder.size = Some(0);
        assert_eq!(triage(&folder, None), Some(Skip::Empty));
        let mut empty = object(KEY);
        empty.size = Some(0);
        assert_eq!(triage(&empty, None), Some(Skip::Empty));
        assert_eq!(
            triage(&object("AWSLogs/README.txt"), None),
            Some(Skip::NotLogFile)
        );
    }
}
