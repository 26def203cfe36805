//! Sigma rules for CloudTrail: parse, compile, match (placeholder).
