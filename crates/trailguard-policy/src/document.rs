//! The IAM policy grammar: Version, Id, Statement (object or array), Sid, Effect, Action/NotAction,
//! Resource/NotResource, Principal/NotPrincipal and Condition blocks with every operator family.
//!
//! Parsing is strict about structure (a malformed policy gives a [`ParseError`] with the JSON path
//! and position, never a panic) and lenient about content: unknown actions, odd ARNs, unknown
//! condition operators and bad Sids are kept as written, so the checks can report each one precisely.

use std::fmt;

use crate::condition::{ConditionOperator, SetOperator};
use crate::json::{self, LineIndex, Node, Value};

/// A byte range in the policy text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    fn of(node: &Node) -> Span {
        Span {
            start: node.start,
            end: node.end,
        }
    }
}

/// A policy that could not be read, with the JSON path and position of the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at `{path}` (line {line}, column {column})")]
pub struct ParseError {
    /// e.g. `Statement[2].Condition`; empty for the document itself.
    pub path: String,
    pub message: String,
    pub line: u32,
    pub column: u32,
    /// Byte offset of the problem in the parsed text.
    pub offset: usize,
    /// True when the text is not JSON at all (as opposed to JSON that is not a policy).
    pub not_json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Effect {
    Allow,
    Deny,
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        })
    }
}

/// One action pattern as written, e.g. `iam:Create*`, `s3:GetObject`, `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionPattern {
    pub raw: String,
    /// Lower-cased service prefix (`*` for the bare `*`); empty when the pattern has no colon.
    pub service: String,
    /// Lower-cased action part, possibly with wildcards.
    pub action: String,
}

impl ActionPattern {
    pub fn new(raw: &str) -> ActionPattern {
        let trimmed = raw.trim();
        if trimmed == "*" {
            return ActionPattern {
                raw: raw.to_owned(),
                service: "*".into(),
                action: "*".into(),
            };
        }
        match trimmed.split_once(':') {
            Some((service, action)) => ActionPattern {
                raw: raw.to_owned(),
                service: service.to_ascii_lowercase(),
                action: action.to_ascii_lowercase(),
            },
            None => ActionPattern {
                raw: raw.to_owned(),
                service: String::new(),
                action: trimmed.to_ascii_lowercase(),
            },
        }
    }

    /// True for `*` and `*:*`-like patterns that name every action of every service.
    pub fn is_everything(&self) -> bool {
        self.service.chars().all(|c| c == '*')
            && !self.service.is_empty()
            && self.action.chars().all(|c| c == '*')
    }

    pub fn has_wildcard(&self) -> bool {
        self.raw.contains(['*', '?'])
    }
}

/// `Action` or `NotAction`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionSpec {
    pub negated: bool,
    pub patterns: Vec<ActionPattern>,
    pub span: Span,
    /// Span of each pattern's string in the text.
    pub item_spans: Vec<Span>,
}

/// `Resource` or `NotResource`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceSpec {
    pub negated: bool,
    pub patterns: Vec<String>,
    pub span: Span,
    pub item_spans: Vec<Span>,
}

impl ResourceSpec {
    /// `Resource: "*"` (or a list containing `*`): every resource.
    pub fn is_star(&self) -> bool {
        !self.negated && self.patterns.iter().any(|p| p == "*")
    }
}

/// The kinds of principal a policy can name: the key of an entry in a `Principal` element (`"AWS"`,
/// `"Service"`, ...). Not `trailguard_account::PrincipalKind` (a user or role with effective policies):
/// this one says how a policy names principals, which covers services, identity providers and anyone
/// (`"*"`), not which IAM identity holds a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    Aws,
    Service,
    Federated,
    CanonicalUser,
    /// Any other key, kept so the checks can flag it.
    Other,
}

/// `Principal` or `NotPrincipal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalSpec {
    pub negated: bool,
    /// `"Principal": "*"`: everyone, including anonymous callers.
    pub any: bool,
    /// `(kind, key as written, values)`.
    pub entries: Vec<(PrincipalKind, String, Vec<String>)>,
    pub span: Span,
}

impl PrincipalSpec {
    /// True when the principal is everyone: `"*"` or `{"AWS": "*"}`.
    pub fn is_public(&self) -> bool {
        self.any
            || self.entries.iter().any(|(kind, _, values)| {
                *kind == PrincipalKind::Aws && values.iter().any(|v| v == "*")
            })
    }
}

/// One condition: operator, key, values (scalars kept as written: `true`, `28800`, `"x"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub operator: ConditionOperator,
    pub key: String,
    pub values: Vec<String>,
    /// Whether each value was written as a JSON string (`"true"`) rather than a bare scalar.
    pub quoted: Vec<bool>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// Position in the `Statement` array (0 when `Statement` is a single object).
    pub index: usize,
    pub sid: Option<String>,
    pub effect: Effect,
    pub principal: Option<PrincipalSpec>,
    pub action: ActionSpec,
    pub resource: Option<ResourceSpec>,
    pub conditions: Vec<Condition>,
    pub condition_span: Option<Span>,
    pub span: Span,
    /// Whether the document's `Statement` was an array (for JSON paths).
    in_array: bool,
}

impl Statement {
    /// JSON path of this statement, e.g. `Statement[2]` (or `Statement` when it is a single object).
    pub fn path(&self) -> String {
        if self.in_array {
            format!("Statement[{}]", self.index)
        } else {
            "Statement".to_owned()
        }
    }

    pub fn has_conditions(&self) -> bool {
        !self.conditions.is_empty()
    }

    /// True when the statement applies to every resource: `Resource: "*"` or no resource element
    /// (trust policies).
    pub fn resource_is_star(&self) -> bool {
        self.resource.as_ref().is_none_or(ResourceSpec::is_star)
    }

    /// The statement as JSON (for evidence).
    pub fn to_json(&self, text: &str) -> serde_json::Value {
        text.get(self.span.start..self.span.end)
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or(serde_json::Value::Null)
    }
}

/// A content problem found while parsing that does not stop the policy from being read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseNote {
    pub path: String,
    pub message: String,
    pub span: Span,
    pub kind: NoteKind,
}

/// What a [`ParseNote`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteKind {
    /// A key given twice in one object: only the last one counts.
    DuplicateKey,
    /// A key the grammar does not have (often a typo such as `Resources`).
    UnknownKey,
    /// Anything else (e.g. several values for a single-valued operator).
    Other,
}

/// A parsed IAM policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDocument {
    /// `Version` as written; `None` when absent (AWS then assumes `2008-10-17`).
    pub version: Option<String>,
    pub version_span: Option<Span>,
    pub id: Option<String>,
    pub statements: Vec<Statement>,
    /// Unknown keys, duplicate keys and similar oddities.
    pub notes: Vec<ParseNote>,
    lines: LineIndex,
}

/// Valid values of `Version`.
pub const VERSIONS: [&str; 2] = ["2012-10-17", "2008-10-17"];

impl PolicyDocument {
    /// Parses a policy document (plain JSON; see [`crate::decode_policy_text`] for URL-encoded text).
    pub fn parse(text: &str) -> Result<PolicyDocument, ParseError> {
        let lines = LineIndex::new(text);
        let root = json::parse(text).map_err(|err| {
            let (line, column) = lines.line_col(err.offset);
            ParseError {
                path: String::new(),
                message: format!("invalid JSON: {}", err.message),
                line,
                column,
                offset: err.offset,
                not_json: true,
            }
        })?;
        let mut builder = Builder {
            lines: &lines,
            notes: Vec::new(),
        };
        let (version, version_span, id, statements) = builder.document(&root)?;
        let notes = builder.notes;
        Ok(PolicyDocument {
            version,
            version_span,
            id,
            statements,
            notes,
            lines,
        })
    }

    /// 1-based line and column of a byte offset in the text this document was parsed from.
    pub fn line_col(&self, offset: usize) -> (u32, u32) {
        self.lines.line_col(offset)
    }
}

struct Builder<'a> {
    lines: &'a LineIndex,
    notes: Vec<ParseNote>,
}

type DocumentParts = (Option<String>, Option<Span>, Option<String>, Vec<Statement>);

impl Builder<'_> {
    fn error(&self, path: &str, node_start: usize, message: impl Into<String>) -> ParseError {
        let (line, column) = self.lines.line_col(node_start);
        ParseError {
            path: path.to_owned(),
            message: message.into(),
            line,
            column,
            offset: node_start,
            not_json: false,
        }
    }

    fn note(&mut self, path: String, span: Span, message: impl Into<String>) {
        self.note_of(NoteKind::Other, path, span, message);
    }

    fn note_of(&mut self, kind: NoteKind, path: String, span: Span, message: impl Into<String>) {
        self.notes.push(ParseNote {
            path,
            message: message.into(),
            span,
            kind,
        });
    }

    fn members<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
    ) -> Result<&'n [json::Member], ParseError> {
        match &node.value {
            Value::Object(members) => {
                // A set, not a scan of the earlier keys: objects from outside may have many keys.
                let mut seen = std::collections::HashSet::with_capacity(members.len());
                for m in members {
                    if !seen.insert(m.key.as_str()) {
                        let span = Span {
                            start: m.key_start,
                            end: m.node.end,
                        };
                        let at = join(path, &m.key);
                        self.note_of(
                            NoteKind::DuplicateKey,
                            at,
                            span,
                            format!("duplicate key `{}`: only the last one counts", m.key),
                        );
                    }
                }
                Ok(members)
            }
            other => Err(self.error(
                path,
                node.start,
                format!("expected an object, found {}", other.kind()),
            )),
        }
    }

    fn document(&mut self, root: &Node) -> Result<DocumentParts, ParseError> {
        let members = self.members(root, "")?;
        let mut version = None;
        let mut version_span = None;
        let mut id = None;
        let mut statement_node = None;
        for m in members {
            match m.key.as_str() {
                "Version" => {
                    version_span = Some(Span::of(&m.node));
                    version = Some(self.string(&m.node, "Version")?);
                }
                "Id" => id = Some(self.string(&m.node, "Id")?),
                "Statement" => statement_node = Some(&m.node),
                other => {
                    let span = Span::of(&m.node);
                    self.note_of(
                        NoteKind::UnknownKey,
                        other.to_owned(),
                        span,
                        format!("unknown top-level key `{other}`"),
                    );
                }
            }
        }
        let Some(statement_node) = statement_node else {
            return Err(self.error("", root.start, "missing `Statement`"));
        };
        let statements = match &statement_node.value {
            Value::Array(items) => {
                let mut statements = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    statements.push(self.statement(item, i, true)?);
                }
                statements
            }
            Value::Object(_) => vec![self.statement(statement_node, 0, false)?],
            other => {
                return Err(self.error(
                    "Statement",
                    statement_node.start,
                    format!(
                        "expected an object or an array of objects, found {}",
                        other.kind()
                    ),
                ))
            }
        };
        Ok((version, version_span, id, statements))
    }

    fn string(&self, node: &Node, path: &str) -> Result<String, ParseError> {
        match &node.value {
            Value::String(s) => Ok(s.clone()),
            other => Err(self.error(
                path,
                node.start,
                format!("expected a string, found {}", other.kind()),
            )),
        }
    }

    /// A string or an array of strings.
    fn strings(&self, node: &Node, path: &str) -> Result<(Vec<String>, Vec<Span>), ParseError> {
        match &node.value {
            Value::String(s) => Ok((vec![s.clone()], vec![Span::of(node)])),
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                let mut spans = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.push(self.string(item, &format!("{path}[{i}]"))?);
                    spans.push(Span::of(item));
                }
                Ok((out, spans))
            }
            other => Err(self.error(
                path,
                node.start,
                format!(
                    "expected a string or an array of strings, found {}",
                    other.kind()
                ),
            )),
        }
    }

    fn statement(
        &mut self,
        node: &Node,
        index: usize,
        in_array: bool,
    ) -> Result<Statement, ParseError> {
        let path = if in_array {
            format!("Statement[{index}]")
        } else {
            "Statement".to_owned()
        };
        let members = self.members(node, &path)?;
        let mut sid = None;
        let mut effect = None;
        let mut principal = None;
        let mut action: Option<ActionSpec> = None;
        let mut resource: Option<ResourceSpec> = None;
        let mut conditions = Vec::new();
        let mut condition_span = None;
        for m in members {
            let at = join(&path, &m.key);
            match m.key.as_str() {
                "Sid" => sid = Some(self.string(&m.node, &at)?),
                "Effect" => {
                    let value = self.string(&m.node, &at)?;
                    effect = Some(match value.as_str() {
                        "Allow" => Effect::Allow,
                        "Deny" => Effect::Deny,
                        _ => {
                            return Err(self.error(
                                &at,
                                m.node.start,
                                format!("`Effect` must be `Allow` or `Deny`, found `{value}`"),
                            ))
                        }
                    });
                }
                "Action" | "NotAction" => {
                    // The same key twice is a duplicate (noted, the last counts, as in AWS); only
                    // `Action` beside `NotAction` is a conflict.
                    if action
                        .as_ref()
                        .is_some_and(|a| a.negated != (m.key == "NotAction"))
                    {
                        return Err(self.error(
                            &at,
                            m.key_start,
                            "a statement may have `Action` or `NotAction`, not both",
                        ));
                    }
                    let (values, item_spans) = self.strings(&m.node, &at)?;
                    action = Some(ActionSpec {
                        negated: m.key == "NotAction",
                        patterns: values.iter().map(|v| ActionPattern::new(v)).collect(),
                        span: Span::of(&m.node),
                        item_spans,
                    });
                }
                "Resource" | "NotResource" => {
                    if resource
                        .as_ref()
                        .is_some_and(|r| r.negated != (m.key == "NotResource"))
                    {
                        return Err(self.error(
                            &at,
                            m.key_start,
                            "a statement may have `Resource` or `NotResource`, not both",
                        ));
                    }
                    let (patterns, item_spans) = self.strings(&m.node, &at)?;
                    resource = Some(ResourceSpec {
                        negated: m.key == "NotResource",
                        patterns,
                        span: Span::of(&m.node),
                        item_spans,
                    });
                }
                "Principal" | "NotPrincipal" => {
                    if principal
                        .as_ref()
                        .is_some_and(|p: &PrincipalSpec| p.negated != (m.key == "NotPrincipal"))
                    {
                        return Err(self.error(
                            &at,
                            m.key_start,
                            "a statement may have `Principal` or `NotPrincipal`, not both",
                        ));
                    }
                    principal = Some(self.principal(&m.node, &at, m.key == "NotPrincipal")?);
                }
                "Condition" => {
                    condition_span = Some(Span::of(&m.node));
                    conditions = self.conditions(&m.node, &at)?;
                }
                other => {
                    let span = Span::of(&m.node);
                    self.note_of(
                        NoteKind::UnknownKey,
                        at.clone(),
                        span,
                        format!("unknown statement key `{other}`"),
                    );
                }
            }
        }
        let Some(effect) = effect else {
            return Err(self.error(&path, node.start, "missing `Effect`"));
        };
        let Some(action) = action else {
            return Err(self.error(&path, node.start, "missing `Action` or `NotAction`"));
        };
        Ok(Statement {
            index,
            sid,
            effect,
            principal,
            action,
            resource,
            conditions,
            condition_span,
            span: Span::of(node),
            in_array,
        })
    }

    fn principal(
        &mut self,
        node: &Node,
        path: &str,
        negated: bool,
    ) -> Result<PrincipalSpec, ParseError> {
        match &node.value {
            Value::String(s) if s == "*" => Ok(PrincipalSpec {
                negated,
                any: true,
                entries: Vec::new(),
                span: Span::of(node),
            }),
            Value::String(s) => Err(self.error(
                path,
                node.start,
                format!("a principal string must be `*`, found `{s}` (use {{\"AWS\": \"{s}\"}})"),
            )),
            Value::Object(_) => {
                let members = self.members(node, path)?;
                let mut entries = Vec::new();
                for m in members {
                    let at = join(path, &m.key);
                    let kind = match m.key.as_str() {
                        "AWS" => PrincipalKind::Aws,
                        "Service" => PrincipalKind::Service,
                        "Federated" => PrincipalKind::Federated,
                        "CanonicalUser" => PrincipalKind::CanonicalUser,
                        other => {
                            let span = Span::of(&m.node);
                            self.note(
                                at.clone(),
                                span,
                                format!("unknown principal type `{other}`"),
                            );
                            PrincipalKind::Other
                        }
                    };
                    let (values, _) = self.strings(&m.node, &at)?;
                    entries.push((kind, m.key.clone(), values));
                }
                Ok(PrincipalSpec {
                    negated,
                    any: false,
                    entries,
                    span: Span::of(node),
                })
            }
            other => Err(self.error(
                path,
                node.start,
                format!(
                    "expected `*` or an object of principals, found {}",
                    other.kind()
                ),
            )),
        }
    }

    fn conditions(&mut self, node: &Node, path: &str) -> Result<Vec<Condition>, ParseError> {
        let members = self.members(node, path)?;
        let mut out = Vec::new();
        for op in members {
            let op_path = join(path, &op.key);
            let operator = ConditionOperator::parse(&op.key);
            let keys = self.members(&op.node, &op_path)?;
            for key in keys {
                let key_path = join(&op_path, &key.key);
                let (values, quoted) = self.condition_values(&key.node, &key_path)?;
                if values.len() > 1 && operator.set.is_none() && operator.is_single_valued_only() {
                    // Allowed by AWS only for some operators; record, do not fail.
                    self.note(
                        key_path.clone(),
                        Span::of(&key.node),
                        format!("`{}` takes a single value", op.key),
                    );
                }
                out.push(Condition {
                    operator: operator.clone(),
                    key: key.key.clone(),
                    values,
                    quoted,
                    span: Span {
                        start: key.key_start,
                        end: key.node.end,
                    },
                });
            }
        }
        Ok(out)
    }

    fn condition_values(
        &self,
        node: &Node,
        path: &str,
    ) -> Result<(Vec<String>, Vec<bool>), ParseError> {
        let scalar = |n: &Node, p: &str| -> Result<(String, bool), ParseError> {
            match &n.value {
                Value::String(s) => Ok((s.clone(), true)),
                Value::Bool(b) => Ok((b.to_string(), false)),
                Value::Number(s) => Ok((s.clone(), false)),
                Value::Null => Ok(("null".to_owned(), false)),
                other => Err(self.error(
                    p,
                    n.start,
                    format!("expected a condition value, found {}", other.kind()),
                )),
            }
        };
        match &node.value {
            Value::Array(items) => {
                let mut values = Vec::with_capacity(items.len());
                let mut quoted = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let (v, q) = scalar(item, &format!("{path}[{i}]"))?;
                    values.push(v);
                    quoted.push(q);
                }
                Ok((values, quoted))
            }
            _ => {
                let (v, q) = scalar(node, path)?;
                Ok((vec![v], vec![q]))
            }
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

impl SetOperator {
    pub fn as_str(self) -> &'static str {
        match self {
            SetOperator::ForAllValues => "ForAllValues",
            SetOperator::ForAnyValue => "ForAnyValue",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::condition::OperatorKind;

    #[test]
    fn parses_every_element() {
        let text = r#"{
  "Version": "2012-10-17",
  "Id": "p1",
  "Statement": [
    {"Sid": "A", "Effect": "Allow", "Action": "s3:GetObject", "Resource": ["arn:aws:s3:::b/*"]},
    {"Effect": "Deny", "NotAction": ["iam:*"], "NotResource": "arn:aws:iam::1:role/x",
     "Principal": {"AWS": ["arn:aws:iam::1:root"], "Service": "ec2.amazonaws.com"},
     "Condition": {"ForAnyValue:StringLikeIfExists": {"aws:TagKeys": ["a*", "b"]},
                   "Bool": {"aws:MultiFactorAuthPresent": false}}}
  ]
}"#;
        let doc = PolicyDocument::parse(text).unwrap();
        assert_eq!(doc.version.as_deref(), Some("2012-10-17"));
        assert_eq!(doc.id.as_deref(), Some("p1"));
        assert_eq!(doc.statements.len(), 2);
        let s1 = &doc.statements[1];
        assert_eq!(s1.path(), "Statement[1]");
        assert!(s1.action.negated);
        assert!(s1.resource.as_ref().unwrap().negated);
        let principal = s1.principal.as_ref().unwrap();
        assert_eq!(principal.entries.len(), 2);
        assert_eq!(principal.entries[1].0, PrincipalKind::Service);
        assert_eq!(s1.conditions.len(), 2);
        let c0 = &s1.conditions[0];
        assert_eq!(c0.operator.set, Some(SetOperator::ForAnyValue));
        assert!(c0.operator.if_exists);
        assert_eq!(c0.operator.kind, OperatorKind::StringLike);
        assert_eq!(c0.values, vec!["a*", "b"]);
        assert_eq!(s1.conditions[1].values, vec!["false"]);
        assert_eq!(s1.conditions[1].quoted, vec![false]);
        assert_eq!(doc.line_col(s1.span.start), (6, 5));
    }

    #[test]
    fn single_statement_object_has_plain_path() {
        let doc = PolicyDocument::parse(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
        )
        .unwrap();
        assert_eq!(doc.statements[0].path(), "Statement");
        assert!(doc.statements[0].action.patterns[0].is_everything());
    }

    #[test]
    fn errors_carry_json_path_and_position() {
        let cases = [
            (r#"{"Version":"2012-10-17"}"#, "", "missing `Statement`"),
            (
                r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},{"Effect":"Maybe","Action":"*"}]}"#,
                "Statement[1].Effect",
                "must be",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Action":"a:b"},{"Effect":"Allow","Resource":"*"}]}"#,
                "Statement[1]",
                "missing `Action`",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"a:b","NotAction":"a:c"}}"#,
                "Statement.NotAction",
                "not both",
            ),
            (
                r#"{"Statement":[{},{},{"Effect":"Allow","Action":"a:b","Condition":[1]}]}"#,
                "Statement[0]",
                "missing `Effect`",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Action":"a:b","Condition":{"StringEquals":{"k":{"x":1}}}}]}"#,
                "Statement[0].Condition.StringEquals.k",
                "expected a condition value",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Action":"a:b","Condition":"x"}]}"#,
                "Statement[0].Condition",
                "expected an object",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Action":"a:b","Resource":[{"Fn::Sub":"x"}]}]}"#,
                "Statement[0].Resource[0]",
                "expected a string",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Action":"a:b","Principal":"arn:aws:iam::1:root"}]}"#,
                "Statement[0].Principal",
                "principal string",
            ),
            (
                r#"{"Statement":5}"#,
                "Statement",
                "expected an object or an array",
            ),
            (r#"[1]"#, "", "expected an object"),
        ];
        for (text, path, message) in cases {
            let err = PolicyDocument::parse(text).unwrap_err();
            assert_eq!(err.path, path, "{text}: {err}");
            assert!(err.message.contains(message), "{text}: {err}");
            assert!(!err.not_json);
        }
        let err = PolicyDocument::parse("{\n  \"Statement\": [,]\n}").unwrap_err();
        assert!(err.not_json);
        assert_eq!((err.line, err.column), (2, 17));
    }

    #[test]
    fn notes_duplicates_and_unknown_keys() {
        let doc = PolicyDocument::parse(
            r#"{"Version":"2012-10-17","Statment":[],"Statement":{"Effect":"Allow","Effect":"Deny","Action":"s3:x","Resources":"*"}}"#,
        )
        .unwrap();
        let messages: Vec<_> = doc.notes.iter().map(|n| n.message.as_str()).collect();
        assert!(messages
            .iter()
            .any(|m| m.contains("unknown top-level key `Statment`")));
        assert!(messages
            .iter()
            .any(|m| m.contains("duplicate key `Effect`")));
        assert!(messages
            .iter()
            .any(|m| m.contains("unknown statement key `Resources`")));
        // The last duplicate wins, as in AWS.
        assert_eq!(doc.statements[0].effect, Effect::Deny);
    }
}
