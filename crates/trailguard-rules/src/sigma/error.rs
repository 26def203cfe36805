//! Load errors: one per rule file that could not be used, naming the file and the reason.

use std::fmt;

/// Why a rule could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigmaErrorKind {
    /// The file could not be read.
    #[error("cannot read file: {0}")]
    Io(String),
    /// Not valid YAML (the message carries serde_yaml's line and column).
    #[error("invalid YAML: {0}")]
    Yaml(String),
    /// Valid YAML but not a valid Sigma rule (missing key, wrong type, bad condition, ...).
    #[error("{0}")]
    Invalid(String),
    /// A Sigma feature trailguard does not run (correlation rules, aggregations, unknown modifiers).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A valid rule for another log source: skipped, not an error in the rule itself.
    #[error("skipped: logsource is {0}, not `product: aws, service: cloudtrail`")]
    OtherLogsource(String),
    /// Two rules share one Sigma id; the later one is not loaded.
    #[error("duplicate rule id `{id}` (already loaded from `{first}`)")]
    DuplicateId { id: String, first: String },
}

/// A rule file that could not be loaded. `Display` is one line: `` `file`: reason ``.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigmaLoadError {
    /// The file (or origin given to `load_str`).
    pub file: String,
    /// The rule's title, when it got far enough to read one.
    pub title: Option<String>,
    pub kind: SigmaErrorKind,
}

impl SigmaLoadError {
    pub fn new(file: impl Into<String>, kind: SigmaErrorKind) -> SigmaLoadError {
        SigmaLoadError {
            file: file.into(),
            title: None,
            kind,
        }
    }

    /// A rule for another log source: callers usually count these apart from broken rules.
    pub fn is_skip(&self) -> bool {
        matches!(self.kind, SigmaErrorKind::OtherLogsource(_))
    }
}

impl fmt::Display for SigmaLoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One line, always: YAML errors may carry newlines from the parser.
        let reason = self.kind.to_string().replace('\n', " ");
        match &self.title {
            Some(title) => write!(f, "`{}` (rule `{title}`): {reason}", self.file),
            None => write!(f, "`{}`: {reason}", self.file),
        }
    }
}

impl std::error::Error for SigmaLoadError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_one_line_with_file_and_reason() {
        let err = SigmaLoadError::new(
            "rules/x.yml",
            SigmaErrorKind::Yaml("bad\nindent at line 3".into()),
        );
        let text = err.to_string();
        assert_eq!(text, "`rules/x.yml`: invalid YAML: bad indent at line 3");
        assert!(!err.is_skip());
        let skip = SigmaLoadError::new(
            "w.yml",
            SigmaErrorKind::OtherLogsource("`product: windows`".into()),
        );
        assert!(skip.is_skip());
        assert!(skip.to_string().contains("product: windows"));
    }
}
