//! Record filters: event time window, accounts, regions and event names.
//!
//! Filtering happens in two steps. [`Filter::may_match_raw`] looks at the raw JSON bytes with `memmem`
//! and rejects a record whose text cannot contain a wanted value, before any parsing; [`Filter::check`]
//! then decides exactly on the parsed [`Record`]. The raw check only ever rejects a record that the exact
//! check would also reject.

use chrono::{DateTime, Utc};
use memchr::memmem;

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
    /// A time bound is set and `eventTime` is not an RFC 3339 time.
    BadTime,
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

    /// Cheap pre-check on the raw record text: `false` means the record certainly fails [`Filter::check`].
    ///
    /// Looks for each wanted event name, region and account as a quoted string. JSON may spell a
    /// character as a `\u` escape, so a record that contains any `\u` is never rejected here.
    pub fn may_match_raw(&self, raw: &[u8]) -> bool {
        let lists = [&self.event_names, &self.regions, &self.accounts];
        if lists.iter().all(|l| l.is_empty()) {
            return true;
        }
        for list in lists {
            if list.is_empty() {
                continue;
            }
            let found = list.iter().any(|value| contains_quoted(raw, value));
            if !found {
                return memmem::find(raw, b"\\u").is_some();
            }
        }
        true
    }
}

fn contains_quoted(haystack: &[u8], value: &str) -> bool {
    let mut needle = Vec::with_capacity(value.len() + 2);
    needle.push(b'"');
    needle.extend_from_slice(value.as_bytes());
    needle.push(b'"');
    memmem::find(haystack, &needle).is_some()
}

/// Parses a CloudTrail `eventTime` (RFC 3339, usually `2023-07-10T12:20:01Z`).
pub fn parse_event_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
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

    #[test]
    fn empty_filter_keeps_everything() {
        let filter = Filter::default();
        assert!(filter.is_empty());
        assert_eq!(filter.check(&record(EVENT)), FilterOutcome::Keep);
        assert!(filter.may_match_raw(EVENT.as_bytes()));
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
            assert_eq!(
                filter.may_match_raw(EVENT.as_bytes()),
                expected == FilterOutcome::Keep
            );
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
        assert!(!wrong_name.may_match_raw(EVENT.as_bytes()));
    }

    #[test]
    fn escaped_text_is_never_rejected_by_the_raw_check() {
        let escaped = EVENT.replace("\"CreateUser\"", "\"\\u0043reateUser\"");
        let filter = Filter {
            event_names: vec!["CreateUser".into()],
            ..Filter::default()
        };
        assert!(filter.may_match_raw(escaped.as_bytes()));
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
    }
}
