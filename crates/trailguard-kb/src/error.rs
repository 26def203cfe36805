//! Errors from reading knowledge-base entries. Every error names the entry file and, when known, the line.

use std::fmt;

/// An entry that could not be read. The knowledge base keeps going without it and counts it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct EntryError {
    pub location: Location,
    pub message: String,
}

/// Where in which entry file a problem is: `iam/CreateUser.md:12`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Path relative to the entries directory, e.g. `iam/CreateUser.md`.
    pub file: String,
    /// 1-based line, when the problem has one.
    pub line: Option<usize>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "`{}`:{line}", self.file),
            None => write!(f, "`{}`", self.file),
        }
    }
}

impl EntryError {
    pub(crate) fn at(file: &str, line: Option<usize>, message: impl Into<String>) -> EntryError {
        EntryError {
            location: Location {
                file: file.to_owned(),
                line,
            },
            message: message.into(),
        }
    }
}
