//! AWS timestamps in the shapes the CLI, the SDKs and the credential report print them.

use chrono::{DateTime, NaiveDateTime, Utc};

/// Parses `2023-03-09T10:41:45+00:00`, `2023-03-09T10:41:45Z`, `2023-03-09 10:41:45+00:00`,
/// fractional seconds, or epoch seconds. `None` for `N/A`, `no_information`, `not_supported`, empty.
pub fn parse_aws_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if text.is_empty() || !text.as_bytes()[0].is_ascii_digit() {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    // Python's str(datetime) uses a space instead of `T`.
    if let Some(fixed) = text.get(..10).zip(text.get(11..)) {
        let joined = format!("{}T{}", fixed.0, fixed.1);
        if let Ok(t) = DateTime::parse_from_rfc3339(&joined) {
            return Some(t.with_timezone(&Utc));
        }
        if let Ok(t) = NaiveDateTime::parse_from_str(&joined, "%Y-%m-%dT%H:%M:%S%.f") {
            return Some(t.and_utc());
        }
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(t.and_utc());
    }
    if let Ok(secs) = text.parse::<f64>() {
        return DateTime::from_timestamp(secs as i64, 0);
    }
    None
}

/// Whole days from `then` to `now` (negative when `then` is in the future).
pub fn days_between(then: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    (now - then).num_days()
}

/// The form the CLI prints and `audit snapshot` writes: `2023-03-09T10:41:45+00:00`.
pub fn format_aws_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_shape_aws_prints() {
        let expected = parse_aws_time("2023-03-09T10:41:45+00:00").unwrap();
        assert_eq!(parse_aws_time("2023-03-09 10:41:45+00:00"), Some(expected));
        assert_eq!(parse_aws_time("2023-03-09T10:41:45Z"), Some(expected));
        assert_eq!(parse_aws_time("2023-03-09T10:41:45"), Some(expected));
        assert_eq!(parse_aws_time("1678358505"), Some(expected));
        assert!(parse_aws_time("2023-03-09T10:41:45.123456+00:00").is_some());
        assert_eq!(format_aws_time(expected), "2023-03-09T10:41:45+00:00");
    }

    #[test]
    fn credential_report_placeholders_are_not_times() {
        for text in ["N/A", "no_information", "not_supported", "", "  "] {
            assert_eq!(parse_aws_time(text), None, "{text}");
        }
    }
}
