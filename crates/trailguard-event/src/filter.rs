//! Record filters: event time window, accounts, regions and event names.
//!
//! A filter decides twice, and both decisions must agree. [`Filter::check_raw`] decides from the fields a
//! raw walk read ([`RawRecord::with_fields`] with [`Filter::raw_fields`]: `eventTime`, `awsRegion`,
//! `recipientAccountId`, `userIdentity.accountId`, `eventName`), before any parse, so that a filtered scan
//! keeps the fast path: a record the filter drops is never parsed, and one it keeps goes on to the
//! visitor's raw test exactly as in a scan without filters. [`Filter::check`] decides on the parsed
//! [`Record`]. The contract (tested on the real logs in `tests/filter_raw.rs`):
//! - [`RawOutcome::Drop`] only when `check` would drop the parsed record;
//! - [`RawOutcome::Keep`] only when `check` would keep it *and* its `eventTime` is a time
//!   ([`parse_event_time`])
//!   (the pipeline reports a kept record without one as bad input, so it must be parsed to be reported);
//! - [`RawOutcome::Parse`] whenever the text alone cannot settle it the same way: a field escaped, of
//!   another type or repeated, a key spelled with escapes, an `eventTime` that is not a time.
//!
//! "Would" is for records serde reads. A record serde rejects (a repeated key the walk stopped before,
//! a broken nested document) and the raw decision drops is counted as filtered, not reported: like a
//! record the visitor declines from its text, it is checked for structure only.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};

use crate::peek::{Peeked, RawFields, RawRecord};
use crate::record::Record;

/// Which records to keep. Empty lists and `None` bounds keep everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Keep records with `eventTime` at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Keep records with `eventTime` before this instant.
    pub until: Option<DateTime<Utc>>,
    /// Keep records whose `recipientAccountId` (or `userIdentity.accountId`) is one of these.
    pub accounts: Vec<String>,
    /// Keep records whose `awsRegion` is one of these.
    pub regions: Vec<String>,
    /// Keep records whose `eventName` is one of these (exact, case-sensitive like CloudTrail).
    pub event_names: Vec<String>,
}

/// The outcome of [`Filter::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterOutcome {
    Keep,
    Drop,
    /// A time bound is set and `eventTime` is not a time ([`parse_event_time`]).
    BadTime,
}

/// The outcome of [`Filter::check_raw`]: a decision from the raw text, or a request to parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawOutcome {
    /// [`Filter::check`] keeps the parsed record, and its `eventTime` is an RFC 3339 time.
    Keep,
    /// [`Filter::check`] drops the parsed record.
    Drop,
    /// The text alone cannot tell: parse the record and ask [`Filter::check`].
    Parse,
}

/// One step of [`Filter::check_raw`]: passes, drops, or cannot tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Pass,
    Drop,
    Unsure,
}

impl Step {
    fn of(known: Option<bool>) -> Step {
        match known {
            Some(true) => Step::Pass,
            Some(false) => Step::Drop,
            None => Step::Unsure,
        }
    }
}

impl Filter {
    /// True when the filter keeps everything.
    pub fn is_empty(&self) -> bool {
        self.since.is_none()
            && self.until.is_none()
            && self.accounts.is_empty()
            && self.regions.is_empty()
            && self.event_names.is_empty()
    }

    /// Decides exactly on a parsed record.
    pub fn check(&self, record: &Record<'_>) -> FilterOutcome {
        if !self.event_names.is_empty() && !self.event_names.iter().any(|n| *n == record.event_name)
        {
            return FilterOutcome::Drop;
        }
        if !self.regions.is_empty() {
            let region = record.aws_region.as_deref().unwrap_or("");
            if !self.regions.iter().any(|r| r == region) {
                return FilterOutcome::Drop;
            }
        }
        if !self.accounts.is_empty() {
            let recipient = record.recipient_account_id.as_deref();
            let caller = record.user_identity.account_id.as_deref();
            let wanted = |a: Option<&str>| a.is_some_and(|a| self.accounts.iter().any(|w| w == a));
            if !wanted(recipient) && !wanted(caller) {
                return FilterOutcome::Drop;
            }
        }
        if self.since.is_some() || self.until.is_some() {
            let Some(time) = parse_event_time(&record.event_time) else {
                return FilterOutcome::BadTime;
            };
            if self.since.is_some_and(|since| time < since) {
                return FilterOutcome::Drop;
            }
            if self.until.is_some_and(|until| time >= until) {
                return FilterOutcome::Drop;
            }
        }
        FilterOutcome::Keep
    }

    /// The fields [`Filter::check_raw`] needs from the raw walk. The time is read whenever any filter
    /// is set: a kept record must have one (see [`RawOutcome::Keep`]).
    pub fn raw_fields(&self) -> RawFields {
        if self.is_empty() {
            return RawFields::default();
        }
        RawFields {
            event_time: true,
            aws_region: !self.regions.is_empty(),
            accounts: !self.accounts.is_empty(),
        }
    }

    /// Decides from the fields of a raw walk made with [`Filter::raw_fields`], as [`Filter::check`]
    /// would on the parsed record (see the module doc for the contract). Its steps are `check`'s, in
    /// the same order: a step that drops settles it whatever an earlier unsure step would have said,
    /// since that step could only have dropped it too; `check` reaches the time last.
    pub fn check_raw(&self, raw: &RawRecord<'_>) -> RawOutcome {
        if self.is_empty() {
            return RawOutcome::Keep;
        }
        if raw.malformed() {
            // Serde rejects it: parsed, it is reported as a bad record, not filtered.
            return RawOutcome::Parse;
        }
        let names = if self.event_names.is_empty() {
            Step::Pass
        } else {
            Step::of(
                raw.event_name()
                    .map(|name| self.event_names.iter().any(|n| n == name)),
            )
        };
        let regions = if self.regions.is_empty() {
            Step::Pass
        } else {
            Step::of(raw.aws_region().optional().map(|region| {
                let region = region.unwrap_or("");
                self.regions.iter().any(|r| r == region)
            }))
        };
        let accounts = if self.accounts.is_empty() {
            Step::Pass
        } else {
            let wanted = |account: Peeked<'_>| {
                account
                    .optional()
                    .map(|a| a.is_some_and(|a| self.accounts.iter().any(|w| w == a)))
            };
            // Either account keeps the record, so one known match is enough.
            match (
                wanted(raw.recipient_account_id()),
                wanted(raw.caller_account_id()),
            ) {
                (Some(true), _) | (_, Some(true)) => Step::Pass,
                (Some(false), Some(false)) => Step::Drop,
                _ => Step::Unsure,
            }
        };
        let steps = [names, regions, accounts];
        if steps.contains(&Step::Drop) {
            return RawOutcome::Drop;
        }
        let unsure = steps.contains(&Step::Unsure);
        // `eventTime` is required: missing or escaped, serde decides (and may reject the record).
        let Peeked::Text(text) = raw.event_time() else {
            return RawOutcome::Parse;
        };
        let Some(time) = parse_event_time(text) else {
            // `check` says BadTime (or drops on an unsure step): the parsed path reports it.
            return RawOutcome::Parse;
        };
        if self.since.is_some_and(|since| time < since)
            || self.until.is_some_and(|until| time >= until)
        {
            return RawOutcome::Drop;
        }
        if unsure {
            RawOutcome::Parse
        } else {
            RawOutcome::Keep
        }
    }
}

/// Parses a CloudTrail `eventTime`: RFC 3339 as CloudTrail writes it (`2023-07-10T12:20:01Z`), or the
/// zoneless form that copies of CloudTrail in query engines and data lakes write (Athena, Panther:
/// `2023-07-10 12:20:01`, `2023-07-10 12:20:01.000000000`), which is UTC there as in CloudTrail.
pub fn parse_event_time(text: &str) -> Option<DateTime<Utc>> {
    if let Some(time) = parse_plain_utc(text.as_bytes()) {
        return Some(time);
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| parse_zoneless_utc(text))
}

/// `eventTime` as findings show it: as written when it is RFC 3339, the zoneless form
/// ([`parse_event_time`]) rewritten as RFC 3339 in UTC, so every finding's time reads one way; anything
/// else (a record the pipeline reported) as written.
pub fn event_time_rfc3339(text: &str) -> Cow<'_, str> {
    if parse_plain_utc(text.as_bytes()).is_some() || DateTime::parse_from_rfc3339(text).is_ok() {
        return Cow::Borrowed(text);
    }
    match parse_zoneless_utc(text) {
        Some(time) => Cow::Owned(time.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        None => Cow::Borrowed(text),
    }
}

/// `YYYY-MM-DD HH:MM:SS` (or with `T`), with an optional fraction of up to nine digits and no zone, read
/// as UTC.
fn parse_zoneless_utc(text: &str) -> Option<DateTime<Utc>> {
    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .map(|time| time.and_utc())
}

/// The form CloudTrail writes, `YYYY-MM-DDTHH:MM:SSZ`, read without the general parser (a filtered
/// scan reads the time of every record). `None` for anything else, leap seconds included: the general
/// parser decides those.
fn parse_plain_utc(text: &[u8]) -> Option<DateTime<Utc>> {
    let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1, b'T', h0, h1, b':', n0, n1, b':', s0, s1, b'Z'] =
        *text
    else {
        return None;
    };
    let digits = |ds: &[u8]| {
        ds.iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let year = i32::try_from(digits(&[y0, y1, y2, y3])?).ok()?;
    let date = chrono::NaiveDate::from_ymd_opt(year, digits(&[m0, m1])?, digits(&[d0, d1])?)?;
    let time = date.and_hms_opt(digits(&[h0, h1])?, digits(&[n0, n1])?, digits(&[s0, s1])?)?;
    Some(time.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;

    const EVENT: &str = r#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","accountId":"111122223333"},"eventTime":"2023-07-10T12:20:01Z","eventSource":"iam.amazonaws.com","eventName":"CreateUser","awsRegion":"us-east-1","recipientAccountId":"444455556666"}"#;

    fn record(text: &str) -> Record<'_> {
        let raw: &RawValue = serde_json::from_str(text).unwrap();
        Record::from_raw(raw).unwrap()
    }

    fn time(text: &str) -> DateTime<Utc> {
        parse_event_time(text).unwrap()
    }

    fn raw(filter: &Filter, text: &str) -> RawOutcome {
        filter.check_raw(&RawRecord::with_fields(
            text.as_bytes(),
            filter.raw_fields(),
        ))
    }

    #[test]
    fn zoneless_times_from_query_engines_read_as_utc() {
        let utc = time("2022-09-27T17:09:18Z");
        assert_eq!(parse_event_time("2022-09-27 17:09:18"), Some(utc));
        assert_eq!(parse_event_time("2022-09-27T17:09:18"), Some(utc));
        assert_eq!(parse_event_time("2022-09-27 17:09:18.000000000"), Some(utc));
        assert_eq!(
            parse_event_time("2022-09-27 17:09:18.250").map(|t| t.timestamp_millis()),
            Some(utc.timestamp_millis() + 250)
        );
        assert_eq!(
            event_time_rfc3339("2022-09-27 17:09:18.000000000"),
            "2022-09-27T17:09:18Z"
        );
        assert_eq!(
            event_time_rfc3339("2022-09-27 17:09:18.250"),
            "2022-09-27T17:09:18.250Z"
        );
        for as_written in [
            "2022-09-27T17:09:18Z",
            "2022-09-27T19:09:18+02:00",
            "redacted",
        ] {
            assert_eq!(event_time_rfc3339(as_written), as_written);
        }
        for not_a_time in [
            "10/07/2023 12:20",
            "2022-09-27",
            "2022-09-27 17:09",
            "2022-09-27 25:09:18",
            "2022-09-27 17:09:18 UTC",
            "redacted",
        ] {
            assert_eq!(parse_event_time(not_a_time), None, "{not_a_time}");
        }
    }

    #[test]
    fn the_plain_time_reader_agrees_with_the_general_parser() {
        let general = |t: &str| {
            DateTime::parse_from_rfc3339(t)
                .ok()
                .map(|t| t.with_timezone(&Utc))
        };
        let mut plain = 0;
        for text in [
            "2023-07-10T12:20:01Z",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "2024-02-29T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2023-02-30T00:00:00Z",
            "2023-13-01T00:00:00Z",
            "2023-00-01T00:00:00Z",
            "2023-07-00T00:00:00Z",
            "2023-07-10T24:00:00Z",
            "2023-07-10T23:60:00Z",
            "2016-12-31T23:59:60Z",
            "2023-07-10t12:20:01z",
            "2023-07-10 12:20:01Z",
            "2023-07-10T12:20:01+00:00",
            "2023-07-10T12:20:01.5Z",
            "2023-07-10T12:20:0aZ",
            "+023-07-10T12:20:01Z",
            "",
        ] {
            assert_eq!(parse_event_time(text), general(text), "{text}");
            plain += usize::from(parse_plain_utc(text.as_bytes()).is_some());
        }
        assert_eq!(plain, 4, "the common form takes the short way");
        let start = DateTime::from_timestamp(1_709_251_200, 0).unwrap();
        let mut synth = crate::synth::Synth::new(3, start);
        for _ in 0..200 {
            let text = synth.next_record();
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            let time = value["eventTime"].as_str().unwrap();
            assert!(parse_plain_utc(time.as_bytes()).is_some(), "{time}");
            assert_eq!(parse_event_time(time), general(time));
        }
    }

    #[test]
    fn empty_filter_keeps_everything() {
        let filter = Filter::default();
        assert!(filter.is_empty());
        assert_eq!(filter.check(&record(EVENT)), FilterOutcome::Keep);
        assert_eq!(raw(&filter, EVENT), RawOutcome::Keep);
    }

    #[test]
    fn time_window_is_inclusive_start_exclusive_end() {
        let rec = record(EVENT);
        let at = |since: &str, until: &str| Filter {
            since: Some(time(since)),
            until: Some(time(until)),
            ..Filter::default()
        };
        assert_eq!(
            at("2023-07-10T12:20:01Z", "2023-07-10T12:20:02Z").check(&rec),
            FilterOutcome::Keep
        );
        assert_eq!(
            at("2023-07-10T12:20:02Z", "2023-07-11T00:00:00Z").check(&rec),
            FilterOutcome::Drop
        );
        assert_eq!(
            at("2023-07-10T00:00:00Z", "2023-07-10T12:20:01Z").check(&rec),
            FilterOutcome::Drop
        );
        // Offsets other than Z are the same instant.
        assert_eq!(
            at("2023-07-10T14:20:01+02:00", "2023-07-10T14:21:00+02:00").check(&rec),
            FilterOutcome::Keep
        );
    }

    #[test]
    fn account_matches_recipient_or_caller() {
        let rec = record(EVENT);
        for (account, expected) in [
            ("444455556666", FilterOutcome::Keep),
            ("111122223333", FilterOutcome::Keep),
            ("999999999999", FilterOutcome::Drop),
        ] {
            let filter = Filter {
                accounts: vec![account.into()],
                ..Filter::default()
            };
            assert_eq!(filter.check(&rec), expected, "{account}");
            let expected_raw = match expected {
                FilterOutcome::Keep => RawOutcome::Keep,
                _ => RawOutcome::Drop,
            };
            assert_eq!(raw(&filter, EVENT), expected_raw, "{account}");
        }
    }

    #[test]
    fn region_and_event_name_must_both_match() {
        let rec = record(EVENT);
        let filter = Filter {
            regions: vec!["eu-west-1".into(), "us-east-1".into()],
            event_names: vec!["CreateUser".into()],
            ..Filter::default()
        };
        assert_eq!(filter.check(&rec), FilterOutcome::Keep);
        let wrong_name = Filter {
            event_names: vec!["CreateUserX".into()],
            ..filter.clone()
        };
        assert_eq!(wrong_name.check(&rec), FilterOutcome::Drop);
        assert_eq!(raw(&wrong_name, EVENT), RawOutcome::Drop);
        assert_eq!(raw(&filter, EVENT), RawOutcome::Keep);
    }

    #[test]
    fn escaped_text_is_left_to_the_parser() {
        let escaped = EVENT.replace("\"CreateUser\"", "\"\\u0043reateUser\"");
        let filter = Filter {
            event_names: vec!["CreateUser".into()],
            ..Filter::default()
        };
        assert_eq!(raw(&filter, &escaped), RawOutcome::Parse);
        assert_eq!(filter.check(&record(&escaped)), FilterOutcome::Keep);
    }

    #[test]
    fn bad_time_is_reported_only_when_a_bound_is_set() {
        let bad = EVENT.replace("2023-07-10T12:20:01Z", "yesterday");
        let rec = record(&bad);
        assert_eq!(Filter::default().check(&rec), FilterOutcome::Keep);
        let filter = Filter {
            since: Some(time("2020-01-01T00:00:00Z")),
            ..Filter::default()
        };
        assert_eq!(filter.check(&rec), FilterOutcome::BadTime);
        assert_eq!(
            raw(&filter, &bad),
            RawOutcome::Parse,
            "parsed, to be reported"
        );
        // Without a time bound a kept record must still have a time: the pipeline reports it otherwise.
        let region = Filter {
            regions: vec!["us-east-1".into()],
            ..Filter::default()
        };
        assert_eq!(region.check(&rec), FilterOutcome::Keep);
        assert_eq!(raw(&region, &bad), RawOutcome::Parse);
        assert_eq!(raw(&region, EVENT), RawOutcome::Keep);
        // A step that drops settles it before the time is read, as in `check`.
        let elsewhere = Filter {
            regions: vec!["eu-west-1".into()],
            ..filter
        };
        assert_eq!(elsewhere.check(&rec), FilterOutcome::Drop);
        assert_eq!(raw(&elsewhere, &bad), RawOutcome::Drop);
    }
}
