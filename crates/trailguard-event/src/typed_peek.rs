//! A record's typed fields read straight from its text, without serde.
//!
//! Most records of a busy trail are routine calls that a rule only needs to glance at through the typed
//! fields (`userIdentity.type`, `eventName`, `userAgent`): SigmaHQ's assumed-role hunting rule matches
//! half of a typical trail. Parsing each of them costs more than the rest of the scan; reading the typed
//! fields in one walk over the text, skipping the nested documents 64 bytes at a time, costs a fraction.
//!
//! [`Record::peek_typed`] answers only when it is sure to agree with [`Record::from_raw`]: anything serde
//! could read differently (an escape, a value of another type, a repeated key, a missing required field,
//! a broken object on the way) gives `None`, and the caller parses.

use std::borrow::Cow;

use serde_json::value::RawValue;

use crate::peek::{Cursor, Step};
use crate::record::{OnBehalfOf, SessionAttributes, SessionIssuer};
use crate::{Record, SessionContext, UserIdentity};

impl<'a> Record<'a> {
    /// The record's typed fields read without a parse, and `requestParameters` as the raw document
    /// serde would borrow (validated as JSON, as serde does). The other nested documents
    /// (`responseElements`, `additionalEventData`) and [`Record::raw`] are left `None`, so this is for
    /// consumers that read typed fields and request parameters only. Text outside those is not validated
    /// beyond its object structure. `None` when serde might read the text differently: parse it then.
    ///
    /// ```
    /// use trailguard_event::Record;
    /// let text = br#"{"eventTime":"2024-03-01T10:00:00Z","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","userIdentity":{"type":"AssumedRole","sessionContext":{"sessionIssuer":{"type":"Role"}}},"requestParameters":{"roleArn":"x"},"readOnly":true}"#;
    /// let record = Record::peek_typed(text).unwrap();
    /// assert_eq!(record.event_name, "AssumeRole");
    /// assert_eq!(record.read_only, Some(true));
    /// assert_eq!(record.request_parameters.map(|r| r.get()), Some(r#"{"roleArn":"x"}"#));
    /// assert!(record.response_elements.is_none(), "the other nested documents are not read");
    /// assert!(Record::peek_typed(br#"{"eventTime":"t","eventSource":"s","eventName":"A\u0042"}"#).is_none());
    /// ```
    pub fn peek_typed(text: &'a [u8]) -> Option<Record<'a>> {
        Record::peek_typed_and_response(text).map(|(record, _)| record)
    }

    /// [`Record::peek_typed`], and the raw text of `responseElements` (empty when absent), which the
    /// record leaves out: enough to tell whether the response may report a failure (sign-in events
    /// write `"Failure"` there) without a parse.
    ///
    /// ```
    /// use trailguard_event::Record;
    /// let text = br#"{"eventTime":"t","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","responseElements":{"ConsoleLogin":"Failure"}}"#;
    /// let (_, response) = Record::peek_typed_and_response(text).unwrap();
    /// assert_eq!(response, br#"{"ConsoleLogin":"Failure"}"#);
    /// ```
    pub fn peek_typed_and_response(text: &'a [u8]) -> Option<(Record<'a>, &'a [u8])> {
        let mut response: &'a [u8] = b"";
        let mut event_time = None;
        let mut event_source = None;
        let mut event_name = None;
        let mut record = Record {
            event_version: None,
            event_time: Cow::Borrowed(""),
            event_source: Cow::Borrowed(""),
            event_name: Cow::Borrowed(""),
            aws_region: None,
            source_ip_address: None,
            user_agent: None,
            user_identity: UserIdentity::default(),
            error_code: None,
            error_message: None,
            request_parameters: None,
            response_elements: None,
            additional_event_data: None,
            event_id: None,
            request_id: None,
            event_type: None,
            read_only: None,
            management_event: None,
            recipient_account_id: None,
            event_category: None,
            raw: None,
        };
        let mut fields = Fields::default();
        Cursor::new(text).object(|key, cursor| {
            // A key with an escape could spell a typed field's name.
            match key? {
                b"eventVersion" => fields.text(0, cursor, &mut record.event_version)?,
                b"eventTime" => fields.text(1, cursor, &mut event_time)?,
                b"eventSource" => fields.text(2, cursor, &mut event_source)?,
                b"eventName" => fields.text(3, cursor, &mut event_name)?,
                b"awsRegion" => fields.text(4, cursor, &mut record.aws_region)?,
                b"sourceIPAddress" => fields.text(5, cursor, &mut record.source_ip_address)?,
                b"userAgent" => fields.text(6, cursor, &mut record.user_agent)?,
                b"errorCode" => fields.text(7, cursor, &mut record.error_code)?,
                b"errorMessage" => fields.text(8, cursor, &mut record.error_message)?,
                b"eventID" => fields.text(9, cursor, &mut record.event_id)?,
                b"requestID" => fields.text(10, cursor, &mut record.request_id)?,
                b"eventType" => fields.text(11, cursor, &mut record.event_type)?,
                b"readOnly" => fields.flag(12, cursor, &mut record.read_only)?,
                b"managementEvent" => fields.flag(13, cursor, &mut record.management_event)?,
                b"recipientAccountId" => {
                    fields.text(14, cursor, &mut record.recipient_account_id)?
                }
                b"eventCategory" => fields.text(15, cursor, &mut record.event_category)?,
                b"userIdentity" => {
                    fields.first(16)?;
                    record.user_identity = user_identity(cursor)?;
                }
                // Serde would reject these twice too, and would check they are JSON values.
                b"requestParameters" => {
                    fields.first(17)?;
                    record.request_parameters = nested(cursor.value()?)?;
                }
                b"responseElements" => {
                    fields.first(18)?;
                    response = cursor.value()?;
                }
                b"additionalEventData" => skip(fields.first(19), cursor)?,
                _ => skip(Some(()), cursor)?,
            }
            Some(Step::Next)
        })?;
        record.event_time = event_time?;
        record.event_source = event_source?;
        record.event_name = event_name?;
        Some((record, response))
    }
}

/// The keys seen so far in one object: serde rejects a repeated field.
#[derive(Default)]
struct Fields {
    seen: u32,
}

impl Fields {
    /// Marks key `bit` seen; `None` if it was already.
    fn first(&mut self, bit: u32) -> Option<()> {
        let fresh = self.seen & (1 << bit) == 0;
        self.seen |= 1 << bit;
        fresh.then_some(())
    }

    /// A string field: a plain string or `null`.
    fn text<'a>(
        &mut self,
        bit: u32,
        cursor: &mut Cursor<'a>,
        slot: &mut Option<Cow<'a, str>>,
    ) -> Option<()> {
        self.first(bit)?;
        *slot = cursor.text()?.map(Cow::Borrowed);
        Some(())
    }

    /// A boolean field: `true`, `false` or `null`.
    fn flag(&mut self, bit: u32, cursor: &mut Cursor<'_>, slot: &mut Option<bool>) -> Option<()> {
        self.first(bit)?;
        *slot = match cursor.value()? {
            b"true" => Some(true),
            b"false" => Some(false),
            b"null" => None,
            _ => return None,
        };
        Some(())
    }
}

/// Consumes a value the typed fields do not hold, once `check` passed.
/// A nested document as serde reads it into `Option<&RawValue>`: `null` is `None`; anything else must
/// be valid JSON (checked by serde itself, without building a value), or the peek gives up.
fn nested(value: &[u8]) -> Option<Option<&RawValue>> {
    if value == b"null" {
        return Some(None);
    }
    let text = std::str::from_utf8(value).ok()?;
    serde_json::from_str::<&RawValue>(text).ok().map(Some)
}

fn skip(check: Option<()>, cursor: &mut Cursor<'_>) -> Option<()> {
    check?;
    cursor.value().map(drop)
}

/// Walks the nested object at the cursor, `member` reading the fields it knows.
fn object<'a>(
    cursor: &mut Cursor<'a>,
    mut member: impl FnMut(&mut Fields, &'a [u8], &mut Cursor<'a>) -> Option<()>,
) -> Option<()> {
    let mut fields = Fields::default();
    cursor.object(|key, cursor| {
        member(&mut fields, key?, cursor)?;
        Some(Step::Next)
    })
}

/// An optional nested object: `null` is `None`, anything but an object is unfit.
fn optional<'a, T>(
    cursor: &mut Cursor<'a>,
    read: impl FnOnce(&mut Cursor<'a>) -> Option<T>,
) -> Option<Option<T>> {
    if cursor.null() {
        return Some(None);
    }
    read(cursor).map(Some)
}

fn user_identity<'a>(cursor: &mut Cursor<'a>) -> Option<UserIdentity<'a>> {
    let mut identity = UserIdentity::default();
    object(cursor, |fields, key, cursor| match key {
        b"type" => fields.text(0, cursor, &mut identity.identity_type),
        b"principalId" => fields.text(1, cursor, &mut identity.principal_id),
        b"arn" => fields.text(2, cursor, &mut identity.arn),
        b"accountId" => fields.text(3, cursor, &mut identity.account_id),
        b"accessKeyId" => fields.text(4, cursor, &mut identity.access_key_id),
        b"userName" => fields.text(5, cursor, &mut identity.user_name),
        b"invokedBy" => fields.text(6, cursor, &mut identity.invoked_by),
        b"sessionContext" => {
            fields.first(7)?;
            identity.session_context = optional(cursor, session_context)?;
            Some(())
        }
        b"onBehalfOf" => {
            fields.first(8)?;
            identity.on_behalf_of = optional(cursor, on_behalf_of)?;
            Some(())
        }
        b"credentialId" => fields.text(9, cursor, &mut identity.credential_id),
        _ => skip(Some(()), cursor),
    })?;
    Some(identity)
}

fn on_behalf_of<'a>(cursor: &mut Cursor<'a>) -> Option<OnBehalfOf<'a>> {
    let mut on_behalf_of = OnBehalfOf::default();
    object(cursor, |fields, key, cursor| match key {
        b"userId" => fields.text(0, cursor, &mut on_behalf_of.user_id),
        b"identityStoreArn" => fields.text(1, cursor, &mut on_behalf_of.identity_store_arn),
        _ => skip(Some(()), cursor),
    })?;
    Some(on_behalf_of)
}

fn session_context<'a>(cursor: &mut Cursor<'a>) -> Option<SessionContext<'a>> {
    let mut context = SessionContext::default();
    object(cursor, |fields, key, cursor| match key {
        b"sessionIssuer" => {
            fields.first(0)?;
            context.session_issuer = optional(cursor, session_issuer)?;
            Some(())
        }
        b"attributes" => {
            fields.first(1)?;
            context.attributes = optional(cursor, session_attributes)?;
            Some(())
        }
        b"ec2RoleDelivery" => fields.text(2, cursor, &mut context.ec2_role_delivery),
        _ => skip(Some(()), cursor),
    })?;
    Some(context)
}

fn session_issuer<'a>(cursor: &mut Cursor<'a>) -> Option<SessionIssuer<'a>> {
    let mut issuer = SessionIssuer::default();
    object(cursor, |fields, key, cursor| match key {
        b"type" => fields.text(0, cursor, &mut issuer.issuer_type),
        b"arn" => fields.text(1, cursor, &mut issuer.arn),
        b"userName" => fields.text(2, cursor, &mut issuer.user_name),
        _ => skip(Some(()), cursor),
    })?;
    Some(issuer)
}

fn session_attributes<'a>(cursor: &mut Cursor<'a>) -> Option<SessionAttributes<'a>> {
    let mut attributes = SessionAttributes::default();
    object(cursor, |fields, key, cursor| match key {
        b"mfaAuthenticated" => fields.text(0, cursor, &mut attributes.mfa_authenticated),
        b"creationDate" => fields.text(1, cursor, &mut attributes.creation_date),
        _ => skip(Some(()), cursor),
    })?;
    Some(attributes)
}

#[cfg(test)]
mod tests {
    use serde_json::value::RawValue;

    use super::*;

    /// Every typed field of the two readings, side by side.
    /// Every typed field and the request parameters' text (as serde borrows it).
    fn typed(record: &Record<'_>) -> String {
        let mut record = record.clone();
        let params = record.request_parameters.take().map(RawValue::get);
        record.response_elements = None;
        record.additional_event_data = None;
        record.raw = None;
        format!("{record:?} {params:?}")
    }

    fn serde_reading(text: &str) -> Option<String> {
        let raw: &RawValue = serde_json::from_str(text).ok()?;
        Record::from_raw(raw).ok().map(|r| typed(&r))
    }

    #[test]
    fn agrees_with_serde_on_generated_records() {
        let start = chrono::DateTime::from_timestamp(1_709_251_200, 0).unwrap();
        let mut synth = crate::synth::Synth::new(11, start);
        let mut read = 0;
        for _ in 0..2000 {
            let text = synth.next_record();
            let expected = serde_reading(&text).expect("synth records parse");
            if let Some(peeked) = Record::peek_typed(text.as_bytes()) {
                assert_eq!(typed(&peeked), expected, "{text}");
                read += 1;
            }
        }
        assert!(
            read > 1900,
            "nearly every generated record reads plainly: {read}"
        );
    }

    #[test]
    fn agrees_with_serde_on_the_real_logs() {
        let dir = trailguard_testkit::shared_data().join("cloudtrail");
        assert!(dir.is_dir(), "the shared data sits beside the checkout");
        let mut files = Vec::new();
        let mut stack = vec![dir];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "json") {
                    files.push(path);
                }
            }
        }
        let (mut read, mut agreed) = (0, 0);
        for path in files {
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            let Some(records) = value.get("Records").and_then(|r| r.as_array()) else {
                continue;
            };
            for record in records {
                let text = record.to_string();
                read += 1;
                if let Some(peeked) = Record::peek_typed(text.as_bytes()) {
                    let expected = serde_reading(&text);
                    assert_eq!(Some(typed(&peeked)), expected, "{}: {text}", path.display());
                    agreed += 1;
                }
            }
        }
        assert!(read > 1000, "the real logs hold records: {read}");
        assert!(
            agreed * 2 > read,
            "most real records read plainly: {agreed} of {read}"
        );
    }

    #[test]
    fn declines_whatever_serde_could_read_differently() {
        let base = r#""eventTime":"2024-03-01T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":"CreateUser""#;
        let good = format!("{{{base},\"userIdentity\":{{\"type\":\"IAMUser\",\"sessionContext\":null}},\"readOnly\":false}}");
        assert!(Record::peek_typed(good.as_bytes()).is_some());
        assert_eq!(
            serde_reading(&good),
            Record::peek_typed(good.as_bytes()).map(|r| typed(&r))
        );
        // Identity Center's user, as its portal and token records name it.
        let on_behalf = format!(
            r#"{{{base},"userIdentity":{{"type":"IdentityCenterUser","onBehalfOf":{{"userId":"9067a1b2c3-0f1e","identityStoreArn":"arn:aws:identitystore::111122223333:identitystore/d-9067a1b2c3"}},"credentialId":"7e5d"}}}}"#
        );
        let peeked = Record::peek_typed(on_behalf.as_bytes()).expect("reads plainly");
        assert_eq!(
            peeked
                .user_identity
                .on_behalf_of
                .as_ref()
                .and_then(|o| o.user_id.as_deref()),
            Some("9067a1b2c3-0f1e")
        );
        assert_eq!(peeked.user_identity.credential_id.as_deref(), Some("7e5d"));
        assert_eq!(serde_reading(&on_behalf), Some(typed(&peeked)));
        for broken in [
            // Required fields missing or null.
            r#"{"eventSource":"iam.amazonaws.com","eventName":"CreateUser"}"#.to_owned(),
            r#"{"eventTime":null,"eventSource":"iam.amazonaws.com","eventName":"CreateUser"}"#
                .to_owned(),
            // A key spelled with an escape is still the key to serde.
            format!(r#"{{{base},"user\u0041gent":"x"}}"#),
            // An escape, a number where a string belongs, a string where a flag belongs.
            format!(r#"{{{base},"userAgent":"a\"b"}}"#),
            format!(r#"{{{base},"awsRegion":1}}"#),
            format!(r#"{{{base},"readOnly":"true"}}"#),
            // Repeated keys, at the top and nested.
            format!(r#"{{{base},"eventName":"DeleteUser"}}"#),
            format!(r#"{{{base},"userIdentity":{{"type":"Root","type":"IAMUser"}}}}"#),
            format!(r#"{{{base},"requestParameters":{{}},"requestParameters":null}}"#),
            // Structure serde would refuse.
            format!(r#"{{{base},"userIdentity":"alice"}}"#),
            format!(r#"{{{base},"userIdentity":null}}"#),
            format!(r#"{{{base},"userIdentity":{{"sessionContext":[]}}}}"#),
            format!(r#"{{{base},"userIdentity":{{"onBehalfOf":"d-1"}}}}"#),
            format!(r#"{{{base},"userIdentity":{{"onBehalfOf":{{"userId":"a","userId":"b"}}}}}}"#),
            format!(r#"{{{base},"userIdentity":{{"type":"Root""#),
            format!(r#"{{{base}"#),
            format!(r#"{{{base},}}"#),
        ] {
            assert!(Record::peek_typed(broken.as_bytes()).is_none(), "{broken}");
        }
    }
}
