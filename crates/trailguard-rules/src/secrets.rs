//! Secrets in records: the one list of fields that carry credentials, and the redaction every finding
//! applies before a record value becomes evidence.
//!
//! CloudTrail usually hides such values itself (`HIDDEN_DUE_TO_SECURITY_REASONS`), but not for every
//! service, and a forged or hostile record may carry anything. A rule (built-in or Sigma) may test a
//! secret field; its finding still never copies the value into an output, the store or a fix script.
//! A field is secret when the last part of its path (or any key inside an object value) is one of
//! [`SECRET_FIELDS`], ignoring case and `_`/`-`.

use serde_json::Value;

/// What replaces a secret value. It says that something was there, not what.
pub const REDACTED: &str = "[redacted]";

/// Field names (lower case, without `_` and `-`) whose values are credentials or key material.
pub const SECRET_FIELDS: &[&str] = &[
    "password",
    "newpassword",
    "oldpassword",
    "currentpassword",
    "masteruserpassword",
    "adminpassword",
    "secretaccesskey",
    "sessiontoken",
    "privatekey",
    "certificateprivatekey",
    "privatekeymaterial",
    "secretstring",
    "secretbinary",
    "clientsecret",
    "authenticationcode1",
    "authenticationcode2",
    "authtoken",
    "accesstoken",
    "refreshtoken",
    "passphrase",
];

/// Whether a field (a dotted path such as `requestParameters.password`, or a bare key) is secret.
pub fn is_secret_field(path: &str) -> bool {
    let last = path
        .rsplit(['.', '/'])
        .next()
        .unwrap_or(path)
        // `Statement[0]`-style indexes are not part of the name.
        .split('[')
        .next()
        .unwrap_or("");
    let normalised: String = last
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    SECRET_FIELDS.contains(&normalised.as_str())
}

/// The value to show for `path`: [`REDACTED`] when the field is secret, else the value with every
/// secret key inside it (at any depth) redacted. `null` stays `null` (nothing to hide).
pub fn redact(path: &str, value: Value) -> Value {
    if value.is_null() {
        return value;
    }
    if is_secret_field(path) {
        return Value::String(REDACTED.to_owned());
    }
    redact_inside(value)
}

fn redact_inside(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, v)| {
                    let v = if is_secret_field(&key) && !v.is_null() {
                        Value::String(REDACTED.to_owned())
                    } else {
                        redact_inside(v)
                    };
                    (key, v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redact_inside).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_fields_by_last_path_part() {
        for path in [
            "requestParameters.password",
            "requestParameters.newPassword",
            "responseElements.credentials.secretAccessKey",
            "responseElements.credentials.sessionToken",
            "requestParameters.private_key",
            "requestParameters.secretString",
            "password",
        ] {
            assert!(is_secret_field(path), "{path}");
        }
        for path in [
            "requestParameters.minimumPasswordLength",
            "requestParameters.passwordResetRequired",
            "responseElements.credentials.accessKeyId",
            "requestParameters.userName",
            "eventName",
        ] {
            assert!(!is_secret_field(path), "{path}");
        }
    }

    #[test]
    fn redacts_the_value_and_keys_nested_in_it() {
        assert_eq!(
            redact("requestParameters.password", json!("hunter2")),
            json!(REDACTED)
        );
        assert_eq!(
            redact(
                "requestParameters",
                json!({"userName": "bob", "password": "hunter2", "tags": [{"privateKey": "-----BEGIN"}]})
            ),
            json!({"userName": "bob", "password": REDACTED, "tags": [{"privateKey": REDACTED}]})
        );
        assert_eq!(
            redact("requestParameters.password", Value::Null),
            Value::Null
        );
        assert_eq!(
            redact("eventName", json!("CreateUser")),
            json!("CreateUser")
        );
    }

    #[test]
    fn built_in_rules_evidence_is_redacted() {
        let e = crate::rules::cloudtrail::common::evidence(
            "requestParameters",
            json!({"userName": "bob", "password": "hunter2"}),
        );
        assert_eq!(e.value, json!({"userName": "bob", "password": REDACTED}));
    }
}
