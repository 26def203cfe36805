//! Output formats: text, JSON lines, OCSF, ASFF, SARIF (placeholder).
