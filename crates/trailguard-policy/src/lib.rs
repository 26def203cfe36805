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
//! - [`event_actions::EventActions`]: which permissions a CloudTrail event needed.

pub mod analysis;
pub mod catalog;
pub mod condition;
pub mod diff;
pub mod document;
pub mod eval;
pub mod event_actions;
pub mod glob;
pub mod input;
pub mod json;
pub mod privesc;
pub mod risk;
pub mod suggest;

use std::borrow::Cow;

pub use document::{
    ActionPattern, ActionSpec, Condition, Effect, NoteKind, ParseError, ParseNote, PolicyDocument,
    PrincipalKind, PrincipalSpec, ResourceSpec, Span, Statement,
};

/// Returns the policy JSON, URL-decoded when it was percent-encoded (as in CloudTrail's
/// `requestParameters.policyDocument` for some clients and the IAM API's `Document` fields).
/// Text that is already JSON, or that does not decode to UTF-8, is returned as is.
///
/// Form encoding writes a space as `+` (CloudTrail records some documents so), while a percent-encoder
/// writes a literal `+` as `%2B`; a `+` may also be left bare inside an ARN. So the text is read with
/// `+` kept first, and with `+` as a space only when that alone makes it JSON.
pub fn decode_policy_text(s: &str) -> Cow<'_, str> {
    let trimmed = s.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') || !s.contains('%') {
        return Cow::Borrowed(s);
    }
    let starts_like_json = |text: &str| {
        let t = text.trim_start();
        t.starts_with('{') || t.starts_with('[')
    };
    let Ok(decoded) = percent_encoding::percent_decode_str(s).decode_utf8() else {
        return Cow::Borrowed(s);
    };
    if !starts_like_json(&decoded) {
        return Cow::Borrowed(s);
    }
    if s.contains('+') && json::parse(&decoded).is_err() {
        let spaced = s.replace('+', " ");
        if let Ok(form) = percent_encoding::percent_decode_str(&spaced).decode_utf8() {
            if json::parse(&form).is_ok() {
                return Cow::Owned(form.into_owned());
            }
        }
    }
    Cow::Owned(decoded.into_owned())
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

    #[test]
    fn decodes_form_encoded_documents_with_plus_for_space() {
        // As CloudTrail records some CreatePolicyVersion calls: spaces as `+`.
        let form = "%7B%22Version%22%3A+%222012-10-17%22%2C+%22Statement%22%3A+%5B%7B%22Effect%22%3A+%22Allow%22%2C+%22Action%22%3A+%22*%22%2C+%22Resource%22%3A+%22*%22%7D%5D%7D";
        let doc = PolicyDocument::parse(&decode_policy_text(form)).unwrap();
        assert!(doc.statements[0].action.patterns[0].is_everything());
        // A bare `+` that is part of a value stays a `+` when the text is JSON with it.
        let arn = "%7B%22Statement%22%3A%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3AGetObject%22%2C%22Resource%22%3A%22arn%3Aaws%3As3%3A%3A%3Aa+b%2F*%22%7D%7D";
        let doc = PolicyDocument::parse(&decode_policy_text(arn)).unwrap();
        assert_eq!(
            doc.statements[0].resource.as_ref().unwrap().patterns,
            ["arn:aws:s3:::a+b/*"]
        );
    }
}
