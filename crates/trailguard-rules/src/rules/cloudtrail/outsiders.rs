//! Who outside the account a policy document lets in: the `Allow` statements whose `Principal` is everyone
//! (`*`, `{"AWS": "*"}`, or a `NotPrincipal`) or an AWS principal of another account, with the conditions
//! that tie them down. Shared by the rules on trust policies (CT010) and resource policies (CT064); each
//! rates what it finds by its own scale. Service principals, canonical users and federated identities
//! are left to the caller: what they mean depends on the kind of policy.

use trailguard_policy::{Effect, PolicyDocument, PrincipalKind, Statement};

use super::common::principal_account;

/// Condition keys that restrict a statement to the caller's organization or to named accounts or
/// principals.
pub const ORGANIZATION_KEYS: &[&str] = &[
    "aws:PrincipalOrgID",
    "aws:PrincipalOrgPaths",
    "aws:PrincipalAccount",
    "aws:SourceAccount",
    "aws:PrincipalArn",
];

/// One outside principal an `Allow` statement names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outsider<'d> {
    /// The statement's index in the document.
    pub statement: usize,
    /// `None` for everyone; else the other account and the principal as written.
    pub account: Option<(&'d str, &'d str)>,
    /// Whether one of [`ORGANIZATION_KEYS`] (or a key the caller adds) limits the statement.
    pub bound: bool,
    /// Whether the statement has an `sts:ExternalId` condition (third-party trust).
    pub external_id: bool,
    /// The statement's condition keys, as written.
    pub condition_keys: Vec<&'d str>,
}

impl Outsider<'_> {
    pub fn is_everyone(&self) -> bool {
        self.account.is_none()
    }
}

/// Whether `statement` has a condition on one of `keys` (case-insensitively, as IAM reads keys).
pub fn has_condition(statement: &Statement, keys: &[&str]) -> bool {
    statement
        .conditions
        .iter()
        .any(|c| keys.iter().any(|k| c.key.eq_ignore_ascii_case(k)))
}

/// Every outsider the `Allow` statements of `doc` name, in statement order; a statement open to everyone
/// is one outsider, however it names them. Principals of `own_account` are not outsiders. `binding_keys`
/// count as binding besides [`ORGANIZATION_KEYS`] (e.g. `kms:CallerAccount` in a key policy).
pub fn outsiders<'d>(
    doc: &'d PolicyDocument,
    own_account: Option<&str>,
    binding_keys: &[&str],
) -> Vec<Outsider<'d>> {
    let mut found = Vec::new();
    for statement in doc.statements.iter().filter(|s| s.effect == Effect::Allow) {
        let Some(principal) = &statement.principal else {
            continue;
        };
        let outsider = |account| Outsider {
            statement: statement.index,
            account,
            bound: has_condition(statement, ORGANIZATION_KEYS)
                || has_condition(statement, binding_keys),
            external_id: has_condition(statement, &["sts:ExternalId"]),
            condition_keys: statement
                .conditions
                .iter()
                .map(|c| c.key.as_str())
                .collect(),
        };
        if principal.negated || principal.is_public() {
            found.push(outsider(None));
            continue;
        }
        for (_, _, values) in principal
            .entries
            .iter()
            .filter(|(kind, ..)| *kind == PrincipalKind::Aws)
        {
            for value in values {
                let Some(account) = principal_account(value) else {
                    continue;
                };
                if Some(account) != own_account {
                    found.push(outsider(Some((account, value.as_str()))));
                }
            }
        }
    }
    found
}

/// The policy without the statements at `drop`, compact JSON (`None` when nothing is left): what a fix
/// puts back.
pub fn without_statements(text: &str, doc: &PolicyDocument, drop: &[usize]) -> Option<String> {
    let kept: Vec<serde_json::Value> = doc
        .statements
        .iter()
        .filter(|s| !drop.contains(&s.index))
        .map(|s| s.to_json(text))
        .collect();
    if kept.is_empty() {
        return None;
    }
    let version = doc
        .version
        .clone()
        .unwrap_or_else(|| "2012-10-17".to_owned());
    serde_json::to_string(&serde_json::json!({"Version": version, "Statement": kept})).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> PolicyDocument {
        PolicyDocument::parse(text).unwrap()
    }

    #[test]
    fn everyone_and_other_accounts_are_outsiders_and_the_own_account_is_not() {
        let d = doc(r#"{"Statement":[
                {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"},
                {"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:root","444455556666"]},"Action":"s3:*","Resource":"*"},
                {"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*"},
                {"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":"s3:PutObject","Resource":"*"}]}"#);
        let found = outsiders(&d, Some("111122223333"), &[]);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].is_everyone() && !found[0].bound);
        assert_eq!(found[1].account, Some(("444455556666", "444455556666")));
    }

    #[test]
    fn conditions_are_read_for_what_they_bind() {
        let d = doc(r#"{"Statement":[
                {"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:CallerAccount":"111122223333"}}},
                {"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sqs:SendMessage","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}},
                {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"x"}}}]}"#);
        let found = outsiders(&d, Some("111122223333"), &["kms:CallerAccount"]);
        assert!(found[0].bound);
        assert!(!found[1].bound);
        assert_eq!(found[1].condition_keys, vec!["aws:SourceIp"]);
        assert!(found[2].external_id && !found[2].bound);
    }
}
