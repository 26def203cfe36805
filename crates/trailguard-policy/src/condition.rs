//! Condition operators (every family, the `IfExists` suffix, `ForAllValues:`/`ForAnyValue:`), the
//! value types they compare, and three-valued matching: a key missing from the request context can
//! be treated as absent (AWS semantics) or as unknown, so "allowed only with MFA" can be expressed.

use std::net::IpAddr;

use chrono::{DateTime, Utc};

use crate::glob::glob_match;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperatorKind {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
    /// Not an IAM operator; kept so the checks can report it.
    Unknown,
}

/// The type of value an operator compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    String,
    Numeric,
    Date,
    Bool,
    Binary,
    Ip,
    Arn,
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetOperator {
    ForAllValues,
    ForAnyValue,
}

/// A condition operator as written, split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionOperator {
    pub raw: String,
    pub kind: OperatorKind,
    pub if_exists: bool,
    pub set: Option<SetOperator>,
}

const OPERATORS: [(&str, OperatorKind); 27] = [
    ("StringEquals", OperatorKind::StringEquals),
    ("StringNotEquals", OperatorKind::StringNotEquals),
    (
        "StringEqualsIgnoreCase",
        OperatorKind::StringEqualsIgnoreCase,
    ),
    (
        "StringNotEqualsIgnoreCase",
        OperatorKind::StringNotEqualsIgnoreCase,
    ),
    ("StringLike", OperatorKind::StringLike),
    ("StringNotLike", OperatorKind::StringNotLike),
    ("NumericEquals", OperatorKind::NumericEquals),
    ("NumericNotEquals", OperatorKind::NumericNotEquals),
    ("NumericLessThan", OperatorKind::NumericLessThan),
    ("NumericLessThanEquals", OperatorKind::NumericLessThanEquals),
    ("NumericGreaterThan", OperatorKind::NumericGreaterThan),
    (
        "NumericGreaterThanEquals",
        OperatorKind::NumericGreaterThanEquals,
    ),
    ("DateEquals", OperatorKind::DateEquals),
    ("DateNotEquals", OperatorKind::DateNotEquals),
    ("DateLessThan", OperatorKind::DateLessThan),
    ("DateLessThanEquals", OperatorKind::DateLessThanEquals),
    ("DateGreaterThan", OperatorKind::DateGreaterThan),
    ("DateGreaterThanEquals", OperatorKind::DateGreaterThanEquals),
    ("Bool", OperatorKind::Bool),
    ("BinaryEquals", OperatorKind::BinaryEquals),
    ("IpAddress", OperatorKind::IpAddress),
    ("NotIpAddress", OperatorKind::NotIpAddress),
    ("ArnEquals", OperatorKind::ArnEquals),
    ("ArnLike", OperatorKind::ArnLike),
    ("ArnNotEquals", OperatorKind::ArnNotEquals),
    ("ArnNotLike", OperatorKind::ArnNotLike),
    ("Null", OperatorKind::Null),
];

impl ConditionOperator {
    /// Splits `ForAnyValue:StringLikeIfExists` into its parts. Operator names are case-sensitive in
    /// IAM; an unrecognised name gives [`OperatorKind::Unknown`].
    pub fn parse(raw: &str) -> ConditionOperator {
        let (set, rest) = if let Some(rest) = raw.strip_prefix("ForAllValues:") {
            (Some(SetOperator::ForAllValues), rest)
        } else if let Some(rest) = raw.strip_prefix("ForAnyValue:") {
            (Some(SetOperator::ForAnyValue), rest)
        } else {
            (None, raw)
        };
        let (if_exists, base) = match rest.strip_suffix("IfExists") {
            Some(base) => (true, base),
            None => (false, rest),
        };
        let mut kind = OPERATORS
            .iter()
            .find(|(name, _)| *name == base)
            .map(|(_, k)| *k)
            .unwrap_or(OperatorKind::Unknown);
        // `NullIfExists` is not a thing.
        if kind == OperatorKind::Null && (if_exists || set.is_some()) {
            kind = OperatorKind::Unknown;
        }
        ConditionOperator {
            raw: raw.to_owned(),
            kind,
            if_exists,
            set,
        }
    }

    pub fn is_known(&self) -> bool {
        self.kind != OperatorKind::Unknown
    }

    /// The value type this operator compares.
    pub fn value_type(&self) -> Option<ValueType> {
        use OperatorKind::*;
        Some(match self.kind {
            StringEquals
            | StringNotEquals
            | StringEqualsIgnoreCase
            | StringNotEqualsIgnoreCase
            | StringLike
            | StringNotLike => ValueType::String,
            NumericEquals
            | NumericNotEquals
            | NumericLessThan
            | NumericLessThanEquals
            | NumericGreaterThan
            | NumericGreaterThanEquals => ValueType::Numeric,
            DateEquals
            | DateNotEquals
            | DateLessThan
            | DateLessThanEquals
            | DateGreaterThan
            | DateGreaterThanEquals => ValueType::Date,
            Bool => ValueType::Bool,
            BinaryEquals => ValueType::Binary,
            IpAddress | NotIpAddress => ValueType::Ip,
            ArnEquals | ArnLike | ArnNotEquals | ArnNotLike => ValueType::Arn,
            Null => ValueType::Null,
            Unknown => return None,
        })
    }

    /// Negated operators (`StringNotEquals`, `NotIpAddress`, ...) match when no value matches.
    pub fn is_negated(&self) -> bool {
        use OperatorKind::*;
        matches!(
            self.kind,
            StringNotEquals
                | StringNotEqualsIgnoreCase
                | StringNotLike
                | NumericNotEquals
                | DateNotEquals
                | NotIpAddress
                | ArnNotEquals
                | ArnNotLike
        )
    }

    /// Operators that only make sense with one value (`Bool`, `Null`).
    pub fn is_single_valued_only(&self) -> bool {
        matches!(self.kind, OperatorKind::Bool | OperatorKind::Null)
    }
}

/// Three-valued logic for conditions evaluated against a partly known request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tri {
    True,
    False,
    Unknown,
}

impl Tri {
    pub fn and(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::False, _) | (_, Tri::False) => Tri::False,
            (Tri::True, Tri::True) => Tri::True,
            _ => Tri::Unknown,
        }
    }

    pub fn from_bool(b: bool) -> Tri {
        if b {
            Tri::True
        } else {
            Tri::False
        }
    }
}

/// Compares one request value with one policy value under a (non-negated) operator family.
fn value_matches(kind: OperatorKind, actual: &str, expected: &str) -> bool {
    use OperatorKind::*;
    match kind {
        StringEquals | StringNotEquals => actual == expected,
        StringEqualsIgnoreCase | StringNotEqualsIgnoreCase => actual.eq_ignore_ascii_case(expected),
        StringLike | StringNotLike => glob_match(expected.as_bytes(), actual.as_bytes(), false),
        NumericEquals
        | NumericNotEquals
        | NumericLessThan
        | NumericLessThanEquals
        | NumericGreaterThan
        | NumericGreaterThanEquals => {
            match (actual.trim().parse::<f64>(), expected.trim().parse::<f64>()) {
                (Ok(a), Ok(e)) => compare(kind, a.partial_cmp(&e)),
                _ => false,
            }
        }
        DateEquals
        | DateNotEquals
        | DateLessThan
        | DateLessThanEquals
        | DateGreaterThan
        | DateGreaterThanEquals => match (parse_date(actual), parse_date(expected)) {
            (Some(a), Some(e)) => compare(kind, Some(a.cmp(&e))),
            _ => false,
        },
        Bool => actual.eq_ignore_ascii_case(expected),
        BinaryEquals => actual == expected,
        IpAddress | NotIpAddress => ip_in(actual, expected),
        ArnEquals | ArnNotEquals | ArnLike | ArnNotLike => arn_like(expected, actual),
        Null | Unknown => false,
    }
}

fn compare(kind: OperatorKind, ord: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering::*;
    use OperatorKind::*;
    let Some(ord) = ord else { return false };
    match kind {
        NumericEquals | NumericNotEquals | DateEquals | DateNotEquals => ord == Equal,
        NumericLessThan | DateLessThan => ord == Less,
        NumericLessThanEquals | DateLessThanEquals => ord != Greater,
        NumericGreaterThan | DateGreaterThan => ord == Greater,
        NumericGreaterThanEquals | DateGreaterThanEquals => ord != Less,
        _ => false,
    }
}

/// ISO 8601 / RFC 3339 (`2019-07-16T12:00:00Z`, also date-only) or epoch seconds.
pub fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.with_timezone(&Utc));
    }
    if let Ok(secs) = s.parse::<i64>() {
        return DateTime::from_timestamp(secs, 0);
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|n| n.and_utc());
    }
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
        .ok()
        .map(|n| n.and_utc())
}

/// Whether a policy value can be read as the operator's type (for the type-mismatch check).
pub fn value_fits(value_type: ValueType, value: &str) -> bool {
    match value_type {
        ValueType::String | ValueType::Binary => true,
        ValueType::Numeric => value.trim().parse::<f64>().is_ok(),
        ValueType::Date => parse_date(value).is_some(),
        ValueType::Bool | ValueType::Null => {
            value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false")
        }
        ValueType::Ip => value.parse::<ipnet::IpNet>().is_ok() || value.parse::<IpAddr>().is_ok(),
        ValueType::Arn => value == "*" || value.starts_with("arn:") || value.contains("${"),
    }
}

fn ip_in(actual: &str, expected: &str) -> bool {
    let Ok(addr) = actual.trim().parse::<IpAddr>() else {
        return false;
    };
    if let Ok(net) = expected.trim().parse::<ipnet::IpNet>() {
        return net.contains(&addr);
    }
    expected.trim().parse::<IpAddr>().is_ok_and(|e| e == addr)
}

/// `ArnLike`: each of the six colon-separated parts matched separately, wildcards allowed.
pub fn arn_like(pattern: &str, arn: &str) -> bool {
    let p: Vec<&str> = pattern.splitn(6, ':').collect();
    let a: Vec<&str> = arn.splitn(6, ':').collect();
    if p.len() == 1 && p[0] == "*" {
        return true;
    }
    if p.len() != a.len() {
        return false;
    }
    p.iter()
        .zip(&a)
        .all(|(p, a)| glob_match(p.as_bytes(), a.as_bytes(), false))
}

/// Evaluates one condition. `actual` is `None` when the key is not in the request context;
/// `missing_is_unknown` then decides between AWS's absent-key semantics and [`Tri::Unknown`].
pub fn evaluate(
    op: &ConditionOperator,
    expected: &[String],
    actual: Option<&[String]>,
    missing_is_unknown: bool,
) -> Tri {
    let Some(actual) = actual else {
        if missing_is_unknown {
            return Tri::Unknown;
        }
        return Tri::from_bool(match op.kind {
            OperatorKind::Null => expected.iter().any(|v| v.eq_ignore_ascii_case("true")),
            OperatorKind::Unknown => false,
            _ if op.if_exists => true,
            _ if op.set == Some(SetOperator::ForAllValues) => true,
            _ => op.is_negated(),
        });
    };
    if op.kind == OperatorKind::Null {
        // Key present: `Null: true` is false, `Null: false` is true.
        return Tri::from_bool(expected.iter().any(|v| v.eq_ignore_ascii_case("false")));
    }
    if op.kind == OperatorKind::Unknown {
        return Tri::False;
    }
    let any_expected = |v: &String| expected.iter().any(|e| value_matches(op.kind, v, e));
    let negated = op.is_negated();
    let result = match op.set {
        Some(SetOperator::ForAllValues) => {
            if negated {
                actual.iter().all(|v| !any_expected(v))
            } else {
                actual.iter().all(any_expected)
            }
        }
        Some(SetOperator::ForAnyValue) => {
            if negated {
                actual.iter().any(|v| !any_expected(v))
            } else {
                actual.iter().any(any_expected)
            }
        }
        None => {
            if negated {
                !actual.iter().any(any_expected)
            } else {
                actual.iter().any(any_expected)
            }
        }
    };
    Tri::from_bool(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(op: &str, expected: &[&str], actual: Option<&[&str]>) -> Tri {
        let expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        let actual: Option<Vec<String>> = actual.map(|a| a.iter().map(|s| s.to_string()).collect());
        evaluate(
            &ConditionOperator::parse(op),
            &expected,
            actual.as_deref(),
            false,
        )
    }

    #[test]
    fn parses_operator_parts() {
        let op = ConditionOperator::parse("ForAllValues:StringNotEqualsIgnoreCaseIfExists");
        assert_eq!(op.kind, OperatorKind::StringNotEqualsIgnoreCase);
        assert!(op.if_exists && op.is_negated());
        assert_eq!(op.set, Some(SetOperator::ForAllValues));
        assert!(!ConditionOperator::parse("stringequals").is_known());
        assert!(!ConditionOperator::parse("NullIfExists").is_known());
        assert!(!ConditionOperator::parse("bad").is_known());
        assert_eq!(
            ConditionOperator::parse("DateGreaterThan").value_type(),
            Some(ValueType::Date)
        );
    }

    #[test]
    fn every_family_matches() {
        assert_eq!(eval("StringEquals", &["a"], Some(&["a"])), Tri::True);
        assert_eq!(eval("StringEquals", &["a"], Some(&["A"])), Tri::False);
        assert_eq!(
            eval("StringEqualsIgnoreCase", &["a"], Some(&["A"])),
            Tri::True
        );
        assert_eq!(
            eval("StringLike", &["home/*"], Some(&["home/bob/x"])),
            Tri::True
        );
        assert_eq!(
            eval("StringNotLike", &["home/*"], Some(&["tmp/x"])),
            Tri::True
        );
        assert_eq!(
            eval("NumericLessThan", &["3600"], Some(&["100"])),
            Tri::True
        );
        assert_eq!(
            eval("NumericGreaterThan", &["28800"], Some(&["100"])),
            Tri::False
        );
        assert_eq!(
            eval(
                "DateGreaterThan",
                &["2019-07-16T12:00:00Z"],
                Some(&["2020-01-01T00:00:00Z"])
            ),
            Tri::True
        );
        assert_eq!(
            eval(
                "DateLessThan",
                &["2019-07-16T12:00:00Z"],
                Some(&["1500000000"])
            ),
            Tri::True
        );
        assert_eq!(eval("Bool", &["true"], Some(&["true"])), Tri::True);
        assert_eq!(
            eval("BinaryEquals", &["QmluYXJ5"], Some(&["QmluYXJ5"])),
            Tri::True
        );
        assert_eq!(
            eval("IpAddress", &["203.0.113.0/24"], Some(&["203.0.113.9"])),
            Tri::True
        );
        assert_eq!(
            eval("NotIpAddress", &["203.0.113.0/24"], Some(&["198.51.100.1"])),
            Tri::True
        );
        assert_eq!(
            eval("IpAddress", &["2001:db8::/32"], Some(&["2001:db8::1"])),
            Tri::True
        );
        assert_eq!(
            eval(
                "ArnLike",
                &["arn:aws:iam::*:role/ops-*"],
                Some(&["arn:aws:iam::123:role/ops-x"])
            ),
            Tri::True
        );
        assert_eq!(
            eval(
                "ArnEquals",
                &["arn:aws:iam::*:role/ops"],
                Some(&["arn:aws:s3:::role/ops"])
            ),
            Tri::False
        );
        assert_eq!(
            eval(
                "ArnNotLike",
                &["arn:aws:iam::*:role/ops-*"],
                Some(&["arn:aws:iam::1:role/dev"])
            ),
            Tri::True
        );
    }

    #[test]
    fn absent_keys_follow_aws_semantics() {
        assert_eq!(eval("Bool", &["true"], None), Tri::False);
        assert_eq!(eval("BoolIfExists", &["true"], None), Tri::True);
        assert_eq!(eval("StringNotEquals", &["x"], None), Tri::True);
        assert_eq!(eval("Null", &["true"], None), Tri::True);
        assert_eq!(eval("Null", &["true"], Some(&["1"])), Tri::False);
        assert_eq!(eval("Null", &["false"], Some(&["1"])), Tri::True);
        assert_eq!(eval("ForAllValues:StringEquals", &["a"], None), Tri::True);
        assert_eq!(eval("ForAnyValue:StringEquals", &["a"], None), Tri::False);
        let op = ConditionOperator::parse("Bool");
        assert_eq!(evaluate(&op, &["true".into()], None, true), Tri::Unknown);
    }

    #[test]
    fn set_operators() {
        assert_eq!(
            eval("ForAllValues:StringEquals", &["a", "b"], Some(&["a", "b"])),
            Tri::True
        );
        assert_eq!(
            eval("ForAllValues:StringEquals", &["a"], Some(&["a", "c"])),
            Tri::False
        );
        assert_eq!(
            eval("ForAnyValue:StringEquals", &["a"], Some(&["c", "a"])),
            Tri::True
        );
        assert_eq!(
            eval("ForAnyValue:StringNotEquals", &["a"], Some(&["a"])),
            Tri::False
        );
        assert_eq!(
            eval("ForAllValues:StringNotEquals", &["a"], Some(&["b", "c"])),
            Tri::True
        );
    }

    #[test]
    fn bad_values_never_match_and_are_flagged() {
        assert_eq!(eval("NumericEquals", &["abc"], Some(&["1"])), Tri::False);
        assert_eq!(
            eval("DateEquals", &["bad"], Some(&["2020-01-01"])),
            Tri::False
        );
        assert!(!value_fits(ValueType::Numeric, "home/x"));
        assert!(!value_fits(ValueType::Date, "bad"));
        assert!(value_fits(ValueType::Date, "2019-07-16T12:00:00Z"));
        assert!(value_fits(ValueType::Ip, "10.0.0.0/8"));
        assert!(!value_fits(ValueType::Bool, "yes"));
    }
}
