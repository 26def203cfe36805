//! Finding every policy in an input file: a plain policy, a URL-encoded policy string (as CloudTrail
//! records it), `aws iam get-policy-version` / `get-role-policy` / `get-role` output, and every policy
//! inside `aws iam get-account-authorization-details` output. Each policy keeps a name saying where it
//! came from and enough position data to report file line and column.

use crate::json::{self, LineIndex, Node, Value};
use crate::{decode_policy_text, ParseError, PolicyDocument};

/// What a policy is used as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    /// Identity-based (managed or inline).
    Identity,
    /// A role's trust policy.
    Trust,
    /// Unknown: a bare document.
    Document,
}

/// One policy found in an input.
#[derive(Debug, Clone)]
pub struct NamedPolicy {
    /// Where it came from, e.g. `role/Admin inline policy AdminPolicy`, `policy/ReadOnly (v3, default)`.
    pub name: String,
    /// JSON path of the document inside the file (empty for a bare document).
    pub json_path: String,
    /// The policy JSON text (decoded when the file held it URL-encoded).
    pub text: String,
    /// Where `text` starts in the file, when `text` is a verbatim slice of it; `None` when it was
    /// decoded from a string (positions then point at `anchor`).
    pub file_offset: Option<usize>,
    /// File offset of the value that holds the document.
    pub anchor: usize,
    pub kind: PolicyKind,
    /// For managed policies: the ARN and whether this is the default version.
    pub arn: Option<String>,
    pub is_default_version: bool,
}

impl NamedPolicy {
    /// Parses the document.
    pub fn parse(&self) -> Result<PolicyDocument, ParseError> {
        PolicyDocument::parse(&self.text)
    }

    /// File offset of a byte offset inside `text`.
    pub fn file_offset_of(&self, doc_offset: usize) -> usize {
        match self.file_offset {
            Some(base) => base + doc_offset,
            None => self.anchor,
        }
    }

    /// JSON path of something inside the document, prefixed with where the document sits in the file.
    pub fn path_in_file(&self, inner: &str) -> String {
        match (self.json_path.is_empty(), inner.is_empty()) {
            (true, _) => inner.to_owned(),
            (false, true) => self.json_path.clone(),
            (false, false) => format!("{}.{inner}", self.json_path),
        }
    }
}

/// An input file with its policies.
#[derive(Debug, Clone)]
pub struct PolicyFile {
    pub policies: Vec<NamedPolicy>,
    pub lines: LineIndex,
    /// What the file was recognised as.
    pub format: &'static str,
}

/// Reads every policy in `text`. A file that is not JSON at all (nor URL-encoded JSON) is returned
/// as one bare document, so the caller reports the parse error with its position.
pub fn extract_policies(text: &str) -> PolicyFile {
    let lines = LineIndex::new(text);
    let decoded = decode_policy_text(text.trim());
    if decoded.as_ref() != text.trim() {
        return PolicyFile {
            policies: vec![bare(decoded.into_owned(), None, 0, "url-encoded policy")],
            lines,
            format: "url-encoded policy",
        };
    }
    let root = match json::parse(text) {
        Ok(root) => root,
        Err(_) => {
            return PolicyFile {
                policies: vec![bare(text.to_owned(), Some(0), 0, "policy")],
                lines,
                format: "policy",
            }
        }
    };
    let mut out = Vec::new();
    let format = if root.get("Statement").is_some() || !matches!(root.value, Value::Object(_)) {
        out.push(bare(text.to_owned(), Some(0), 0, "policy"));
        "policy"
    } else if let Some(version) = root.get("PolicyVersion") {
        if let Some(doc) = version.get("Document") {
            let id = str_of(version.get("VersionId")).unwrap_or("?");
            let default = version
                .get("IsDefaultVersion")
                .is_some_and(|n| n.value == Value::Bool(true));
            let name = format!(
                "policy version {id}{}",
                if default { " (default)" } else { "" }
            );
            out.push(embedded(
                text,
                doc,
                "PolicyVersion.Document",
                name,
                PolicyKind::Identity,
                None,
                default,
            ));
        }
        "get-policy-version output"
    } else if [
        "UserDetailList",
        "GroupDetailList",
        "RoleDetailList",
        "Policies",
    ]
    .iter()
    .any(|k| root.get(k).is_some())
    {
        authorization_details(text, &root, &mut out);
        "get-account-authorization-details output"
    } else if let Some(doc) = root.get("PolicyDocument") {
        let owner = ["UserName", "GroupName", "RoleName"]
            .iter()
            .find_map(|k| {
                str_of(root.get(k))
                    .map(|v| format!("{}/{v} ", k.trim_end_matches("Name").to_lowercase()))
            })
            .unwrap_or_default();
        let name = format!(
            "{owner}inline policy {}",
            str_of(root.get("PolicyName")).unwrap_or("?")
        );
        out.push(embedded(
            text,
            doc,
            "PolicyDocument",
            name,
            PolicyKind::Identity,
            None,
            true,
        ));
        "get-*-policy output"
    } else if let Some(doc) = root
        .get("Role")
        .and_then(|r| r.get("AssumeRolePolicyDocument"))
    {
        let name = format!(
            "role/{} trust policy",
            str_of(root.get("Role").and_then(|r| r.get("RoleName"))).unwrap_or("?")
        );
        out.push(embedded(
            text,
            doc,
            "Role.AssumeRolePolicyDocument",
            name,
            PolicyKind::Trust,
            None,
            true,
        ));
        "get-role output"
    } else {
        // An object without Statement: let the parser say what is missing.
        out.push(bare(text.to_owned(), Some(0), 0, "policy"));
        "policy"
    };
    PolicyFile {
        policies: out,
        lines,
        format,
    }
}

fn bare(text: String, file_offset: Option<usize>, anchor: usize, name: &str) -> NamedPolicy {
    NamedPolicy {
        name: name.to_owned(),
        json_path: String::new(),
        text,
        file_offset,
        anchor,
        kind: PolicyKind::Document,
        arn: None,
        is_default_version: true,
    }
}

fn str_of(node: Option<&Node>) -> Option<&str> {
    match node.map(|n| &n.value) {
        Some(Value::String(s)) => Some(s),
        _ => None,
    }
}

fn embedded(
    file: &str,
    doc: &Node,
    json_path: &str,
    name: String,
    kind: PolicyKind,
    arn: Option<String>,
    is_default_version: bool,
) -> NamedPolicy {
    let (text, file_offset) = match &doc.value {
        Value::String(s) => (decode_policy_text(s).into_owned(), None),
        _ => (file[doc.start..doc.end].to_owned(), Some(doc.start)),
    };
    NamedPolicy {
        name,
        json_path: json_path.to_owned(),
        text,
        file_offset,
        anchor: doc.start,
        kind,
        arn,
        is_default_version,
    }
}

fn items(node: Option<&Node>) -> &[Node] {
    match node.map(|n| &n.value) {
        Some(Value::Array(items)) => items,
        _ => &[],
    }
}

fn authorization_details(text: &str, root: &Node, out: &mut Vec<NamedPolicy>) {
    for (list, name_key, inline_key, kind) in [
        ("UserDetailList", "UserName", "UserPolicyList", "user"),
        ("GroupDetailList", "GroupName", "GroupPolicyList", "group"),
        ("RoleDetailList", "RoleName", "RolePolicyList", "role"),
    ] {
        for (i, principal) in items(root.get(list)).iter().enumerate() {
            let who = str_of(principal.get(name_key)).unwrap_or("?");
            if let Some(trust) = principal.get("AssumeRolePolicyDocument") {
                out.push(embedded(
                    text,
                    trust,
                    &format!("{list}[{i}].AssumeRolePolicyDocument"),
                    format!("{kind}/{who} trust policy"),
                    PolicyKind::Trust,
                    None,
                    true,
                ));
            }
            for (j, inline) in items(principal.get(inline_key)).iter().enumerate() {
                if let Some(doc) = inline.get("PolicyDocument") {
                    let policy_name = str_of(inline.get("PolicyName")).unwrap_or("?");
                    out.push(embedded(
                        text,
                        doc,
                        &format!("{list}[{i}].{inline_key}[{j}].PolicyDocument"),
                        format!("{kind}/{who} inline policy {policy_name}"),
                        PolicyKind::Identity,
                        None,
                        true,
                    ));
                }
            }
        }
    }
    for (i, policy) in items(root.get("Policies")).iter().enumerate() {
        let name = str_of(policy.get("PolicyName")).unwrap_or("?");
        let arn = str_of(policy.get("Arn")).map(str::to_owned);
        for (j, version) in items(policy.get("PolicyVersionList")).iter().enumerate() {
            let Some(doc) = version.get("Document") else {
                continue;
            };
            let id = str_of(version.get("VersionId")).unwrap_or("?");
            let default = version
                .get("IsDefaultVersion")
                .is_some_and(|n| n.value == Value::Bool(true));
            out.push(embedded(
                text,
                doc,
                &format!("Policies[{i}].PolicyVersionList[{j}].Document"),
                format!(
                    "policy/{name} ({id}{})",
                    if default { ", default" } else { "" }
                ),
                PolicyKind::Identity,
                arn.clone(),
                default,
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_get_policy_version_output_with_encoded_document() {
        let text = r#"{"PolicyVersion": {"Document": "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22*%22%2C%22Resource%22%3A%22*%22%7D%5D%7D", "VersionId": "v2", "IsDefaultVersion": true}}"#;
        let file = extract_policies(text);
        assert_eq!(file.format, "get-policy-version output");
        assert_eq!(file.policies.len(), 1);
        assert_eq!(file.policies[0].name, "policy version v2 (default)");
        let doc = file.policies[0].parse().unwrap();
        assert!(doc.statements[0].action.patterns[0].is_everything());
        assert_eq!(file.policies[0].file_offset_of(10), file.policies[0].anchor);
    }

    #[test]
    fn reads_object_documents_with_file_positions() {
        let text = "{\n \"PolicyVersion\": {\n  \"Document\": {\"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"s3:*\", \"Resource\": \"*\"}]},\n  \"VersionId\": \"v1\"}}";
        let file = extract_policies(text);
        let policy = &file.policies[0];
        let doc = policy.parse().unwrap();
        let offset = policy.file_offset_of(doc.statements[0].span.start);
        assert_eq!(file.lines.line_col(offset), (3, 30));
        assert_eq!(
            policy.path_in_file("Statement[0]"),
            "PolicyVersion.Document.Statement[0]"
        );
    }

    #[test]
    fn bare_and_broken_inputs() {
        let file = extract_policies(r#"{"Version":"2012-10-17","Statement":[]}"#);
        assert_eq!(file.format, "policy");
        let broken = extract_policies("not json");
        assert_eq!(broken.policies.len(), 1);
        assert!(broken.policies[0].parse().unwrap_err().not_json);
        let no_statement = extract_policies(r#"{"Version":"2012-10-17"}"#);
        assert!(no_statement.policies[0].parse().is_err());
    }
}
