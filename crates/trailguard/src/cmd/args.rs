//! Flags several commands share, parsed one way: `--fail-on` and `--format`.

use std::str::FromStr;

use trailguard_rules::output::{Format, RunSummary};
use trailguard_rules::Severity;

/// `--fail-on`: a severity threshold, or never fail on findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    AtOrAbove(Severity),
    Never,
}

impl FailOn {
    /// How many of the run's findings make it fail (exit code 1).
    pub fn failing(self, summary: &RunSummary) -> u64 {
        match self {
            FailOn::Never => 0,
            FailOn::AtOrAbove(threshold) => summary.findings_at_or_above(threshold),
        }
    }
}

pub fn parse_fail_on(text: &str) -> Result<FailOn, String> {
    match text.to_ascii_lowercase().as_str() {
        "never" | "none" | "off" => Ok(FailOn::Never),
        other => Severity::from_str(other)
            .map(FailOn::AtOrAbove)
            .map_err(|e| format!("{e}, or never")),
    }
}

pub fn parse_format(text: &str) -> Result<Format, String> {
    Format::from_str(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_on_parses_severities_and_never() {
        assert_eq!(
            parse_fail_on("HIGH").unwrap(),
            FailOn::AtOrAbove(Severity::High)
        );
        assert_eq!(parse_fail_on("never").unwrap(), FailOn::Never);
        assert!(parse_fail_on("severe").unwrap_err().contains("`severe`"));
        assert!(parse_format("sarif").is_ok());
        assert!(parse_format("yaml").is_err());
    }
}
