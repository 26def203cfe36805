//! The YAML side of a Sigma rule: a loose node tree and the rule document model read from it.
//!
//! We deserialise into our own [`YamlNode`] instead of `serde_yaml::Value` because real SigmaHQ rules
//! contain duplicate top-level keys (`level:` twice in `aws_ec2_vm_export_failure.yml`), which
//! `serde_yaml` rejects outright. Here a duplicate with the same value is accepted, a conflicting one is an
//! error naming the key, and keys keep the order they were written in.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::error::SigmaErrorKind;

/// One YAML value, keeping map order and duplicates (resolved later, where the meaning is known).
#[derive(Debug, Clone, PartialEq)]
pub enum YamlNode {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Seq(Vec<YamlNode>),
    Map(Vec<(String, YamlNode)>),
}

impl YamlNode {
    /// Short type name for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            YamlNode::Null => "null",
            YamlNode::Bool(_) => "a boolean",
            YamlNode::Int(_) | YamlNode::Float(_) => "a number",
            YamlNode::String(_) => "a string",
            YamlNode::Seq(_) => "a list",
            YamlNode::Map(_) => "a map",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            YamlNode::String(s) => Some(s),
            _ => None,
        }
    }

    /// The scalar written as text (`5`, `true`, `abc`), for fields such as `date` or `id` that YAML may
    /// type as a number or date.
    pub fn scalar_text(&self) -> Option<String> {
        match self {
            YamlNode::String(s) => Some(s.clone()),
            YamlNode::Int(i) => Some(i.to_string()),
            YamlNode::Float(f) => Some(f.to_string()),
            YamlNode::Bool(b) => Some(b.to_string()),
            YamlNode::Null | YamlNode::Seq(_) | YamlNode::Map(_) => None,
        }
    }

    /// The value of `key` in a map (the first, when duplicated).
    pub fn get(&self, key: &str) -> Option<&YamlNode> {
        match self {
            YamlNode::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for YamlNode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = YamlNode;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<YamlNode, E> {
        Ok(YamlNode::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<YamlNode, E> {
        Ok(YamlNode::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<YamlNode, D::Error> {
        YamlNode::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<YamlNode, E> {
        Ok(YamlNode::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<YamlNode, E> {
        Ok(YamlNode::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<YamlNode, E> {
        Ok(i64::try_from(v).map_or(YamlNode::Float(v as f64), YamlNode::Int))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<YamlNode, E> {
        Ok(YamlNode::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<YamlNode, E> {
        Ok(YamlNode::String(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<YamlNode, E> {
        Ok(YamlNode::String(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<YamlNode, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<YamlNode>()? {
            items.push(item);
        }
        Ok(YamlNode::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<YamlNode, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, value)) = map.next_entry::<YamlNode, YamlNode>()? {
            let key = match key.scalar_text() {
                Some(k) => k,
                None if key == YamlNode::Null => "null".to_owned(),
                None => {
                    return Err(de::Error::custom(format!(
                        "map keys must be scalars, found {}",
                        key.kind()
                    )))
                }
            };
            entries.push((key, value));
        }
        Ok(YamlNode::Map(entries))
    }
}

/// A map's entries with duplicates resolved: identical duplicates are merged, conflicting ones rejected.
pub fn dedup_map<'n>(
    entries: &'n [(String, YamlNode)],
    where_: &str,
) -> Result<Vec<(&'n str, &'n YamlNode)>, SigmaErrorKind> {
    let mut out: Vec<(&str, &YamlNode)> = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        match out.iter().find(|(k, _)| *k == key.as_str()) {
            Some((_, earlier)) if *earlier == value => {}
            Some(_) => {
                return Err(SigmaErrorKind::Invalid(format!(
                    "duplicate key `{key}` with different values in {where_}"
                )))
            }
            None => out.push((key.as_str(), value)),
        }
    }
    Ok(out)
}

/// The metadata and detection of one Sigma rule document, before compilation.
#[derive(Debug, Clone)]
pub struct RuleDocument {
    pub title: String,
    pub id: Option<String>,
    pub status: Option<String>,
    pub description: Option<String>,
    pub references: Vec<String>,
    pub author: Option<String>,
    pub date: Option<String>,
    pub modified: Option<String>,
    pub tags: Vec<String>,
    pub falsepositives: Vec<String>,
    pub level: Option<String>,
    pub product: Option<String>,
    pub service: Option<String>,
    pub category: Option<String>,
    /// `detection:` as written; compiled by the matcher.
    pub detection: YamlNode,
}

impl RuleDocument {
    /// Reads a rule document's fields, rejecting correlation and filter documents and wrong types.
    pub fn from_node(node: &YamlNode) -> Result<RuleDocument, SigmaErrorKind> {
        let YamlNode::Map(entries) = node else {
            return Err(SigmaErrorKind::Invalid(format!(
                "a rule must be a YAML map, found {}",
                node.kind()
            )));
        };
        let top = dedup_map(entries, "the rule")?;
        let get = |key: &str| top.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);

        if get("correlation").is_some() {
            return Err(SigmaErrorKind::Unsupported(
                "correlation rules (`correlation:`) are not supported; only detection rules run"
                    .into(),
            ));
        }
        if get("filter").is_some() && get("detection").is_none() {
            return Err(SigmaErrorKind::Unsupported(
                "Sigma filter documents (`filter:`) are not supported; put the filter in the rule's condition"
                    .into(),
            ));
        }
        if let Some(action) = get("action") {
            return Err(SigmaErrorKind::Unsupported(format!(
                "rule collections (`action: {}`) are not supported; write one rule per document",
                action.scalar_text().unwrap_or_default()
            )));
        }

        let title = match get("title") {
            Some(YamlNode::String(t)) if !t.trim().is_empty() => t.trim().to_owned(),
            Some(other) if other.scalar_text().is_some() => other.scalar_text().unwrap_or_default(),
            _ => return Err(SigmaErrorKind::Invalid("missing `title`".into())),
        };
        let detection = get("detection")
            .cloned()
            .ok_or_else(|| SigmaErrorKind::Invalid("missing `detection`".into()))?;

        let (product, service, category) = match get("logsource") {
            Some(YamlNode::Map(ls)) => {
                let ls = dedup_map(ls, "`logsource`")?;
                let text = |key: &str| {
                    ls.iter()
                        .find(|(k, _)| *k == key)
                        .and_then(|(_, v)| v.scalar_text())
                };
                (text("product"), text("service"), text("category"))
            }
            Some(other) => {
                return Err(SigmaErrorKind::Invalid(format!(
                    "`logsource` must be a map, found {}",
                    other.kind()
                )))
            }
            None => return Err(SigmaErrorKind::Invalid("missing `logsource`".into())),
        };

        Ok(RuleDocument {
            title,
            id: scalar(get("id"), "id")?,
            status: scalar(get("status"), "status")?,
            description: scalar(get("description"), "description")?.map(|d| d.trim().to_owned()),
            references: string_list(get("references"), "references")?,
            author: scalar(get("author"), "author")?,
            date: scalar(get("date"), "date")?,
            modified: scalar(get("modified"), "modified")?,
            tags: string_list(get("tags"), "tags")?,
            falsepositives: string_list(get("falsepositives"), "falsepositives")?,
            level: scalar(get("level"), "level")?,
            product,
            service,
            category,
            detection,
        })
    }
}

fn scalar(node: Option<&YamlNode>, key: &str) -> Result<Option<String>, SigmaErrorKind> {
    match node {
        None | Some(YamlNode::Null) => Ok(None),
        Some(n) => n.scalar_text().map(Some).ok_or_else(|| {
            SigmaErrorKind::Invalid(format!(
                "`{key}` must be a single value, found {}",
                n.kind()
            ))
        }),
    }
}

/// A list of strings; a single string counts as a one-item list (common in hand-written rules).
fn string_list(node: Option<&YamlNode>, key: &str) -> Result<Vec<String>, SigmaErrorKind> {
    match node {
        None | Some(YamlNode::Null) => Ok(Vec::new()),
        Some(YamlNode::Seq(items)) => items
            .iter()
            .filter(|i| **i != YamlNode::Null)
            .map(|i| {
                i.scalar_text().ok_or_else(|| {
                    SigmaErrorKind::Invalid(format!(
                        "`{key}` must be a list of strings, found {} inside",
                        i.kind()
                    ))
                })
            })
            .collect(),
        Some(n) => n.scalar_text().map(|s| vec![s]).ok_or_else(|| {
            SigmaErrorKind::Invalid(format!(
                "`{key}` must be a list of strings, found {}",
                n.kind()
            ))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> YamlNode {
        serde_yaml::from_str(text).unwrap()
    }

    #[test]
    fn keeps_duplicate_keys_and_order() {
        let node = parse("b: 1\na: x\nb: 1\n");
        let YamlNode::Map(entries) = &node else {
            panic!("not a map")
        };
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].0, "b");
        let dedup = dedup_map(entries, "test").unwrap();
        assert_eq!(dedup.len(), 2);
    }

    #[test]
    fn conflicting_duplicate_is_an_error_naming_the_key() {
        let node = parse("level: low\nlevel: high\n");
        let YamlNode::Map(entries) = &node else {
            panic!("not a map")
        };
        let err = dedup_map(entries, "the rule").unwrap_err();
        assert!(err.to_string().contains("`level`"), "{err}");
    }

    #[test]
    fn reads_null_numbers_and_bools() {
        let node = parse("a: null\nb: 5\nc: true\nd: 1.5\ne: ~\n");
        assert_eq!(node.get("a"), Some(&YamlNode::Null));
        assert_eq!(node.get("b"), Some(&YamlNode::Int(5)));
        assert_eq!(node.get("c"), Some(&YamlNode::Bool(true)));
        assert_eq!(node.get("d"), Some(&YamlNode::Float(1.5)));
        assert_eq!(node.get("e"), Some(&YamlNode::Null));
    }

    #[test]
    fn correlation_documents_are_unsupported() {
        let node = parse("title: x\ncorrelation:\n  type: event_count\n");
        let err = RuleDocument::from_node(&node).unwrap_err();
        assert!(matches!(err, SigmaErrorKind::Unsupported(_)));
        assert!(err.to_string().contains("correlation"), "{err}");
    }

    #[test]
    fn missing_title_and_detection_are_errors() {
        let err = RuleDocument::from_node(&parse("logsource: {product: aws}\ndetection: {}\n"))
            .unwrap_err();
        assert!(err.to_string().contains("title"), "{err}");
        let err =
            RuleDocument::from_node(&parse("title: t\nlogsource: {product: aws}\n")).unwrap_err();
        assert!(err.to_string().contains("detection"), "{err}");
    }
}
