//! The IAM policy language, shared by the CloudTrail rules, the posture audit, `trailguard policy`
//! and remediation. Pure: no I/O and no findings.
//!
//! - [`PolicyDocument::parse`]: the whole grammar; errors carry the JSON path and position.
//! - [`decode_policy_text`]: undo CloudTrail's / the IAM API's URL encoding.
//! - [`input::extract_policies`]: every policy in a file (a policy, `get-policy-version` output,
//!   `get-account-authorization-details` output, a URL-encoded string).
//! - [`catalog::Catalog`]: every AWS action, with wildcard expansion.
//! - [`analysis::analyze`]: admin, NotAction, sensitive wildcards, privilege escalation, exposure...
//! - [`eval::evaluate`]: AWS's evaluation logic over identity policies, boundaries, SCPs.
//! - [`diff::diff`]: the effective permission delta between two documents.

pub mod analysis;
pub mod catalog;
pub mod condition;
pub mod diff;
pub mod document;
pub mod eval;
pub mod glob;
pub mod input;
pub mod json;
pub mod privesc;
pub mod risk;

use std::borrow::Cow;

pub use document::{
    ActionPattern, ActionSpec, Condition, Effect, ParseError, ParseNote, PolicyDocument,
    PrincipalKind, PrincipalSpec, ResourceSpec, Span, Statement,
};

/// Returns the policy JSON, URL-decoded when it was percent-encoded (as in CloudTrail's
/// `requestParameters.policyDocument` for some clients and the IAM API's `Document` fields).
/// Text that is already JSON, or that does not decode to UTF-8, is returned as is.
pub fn decode_policy_text(s: &str) -> Cow<'_, str> {
    let trimmed = s.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') || !s.contains('%') {
        return Cow::Borrowed(s);
    }
    match percent_encoding::percent_decode_str(s).decode_utf8() {
        Ok(decoded) => {
            // A form-encoded body uses `+` for spaces; JSON text never needs a bare `+` outside strings.
            let trimmed = decoded.trim_start();
            if trimmed.starts_with('{') || trimmed.starts_with('[') {
                Cow::Owned(decoded.into_owned())
            } else {
                Cow::Borrowed(s)
            }
        }
        Err(_) => Cow::Borrowed(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_url_encoded_documents() {
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3A*%22%2C%22Resource%22%3A%22*%22%7D%5D%7D";
        let decoded = decode_policy_text(encoded);
        assert!(matches!(decoded, Cow::Owned(_)));
        let doc = PolicyDocument::parse(&decoded).unwrap();
        assert_eq!(doc.statements[0].action.patterns[0].raw, "s3:*");
        let plain = r#"{"Statement":{"Effect":"Allow","Action":"a:b%20c"}}"#;
        assert!(matches!(decode_policy_text(plain), Cow::Borrowed(_)));
        assert!(matches!(decode_policy_text("100%"), Cow::Borrowed(_)));
        assert!(matches!(decode_policy_text("%FF%FE"), Cow::Borrowed(_)));
    }
}
