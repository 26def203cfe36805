//! Who can do what: every user and role whose effective policies (own, groups', boundary) the policy
//! engine says allow an action, and the parsed policies that the posture checks share.
//!
//! A principal's documents are parsed once ([`ParsedPrincipal`]); requests are decided by
//! `trailguard_policy::eval::evaluate`, never by a second evaluator here. Condition keys the
//! question does not fix are treated as unknown, so "allowed only with MFA" comes out as
//! [`Access::Conditional`] rather than being dropped.

use serde::Serialize;
use serde_json::Value;
use trailguard_policy::eval::{evaluate, Decision, Layer, PolicySet, Request};
use trailguard_policy::PolicyDocument;

use crate::principals::{EffectivePrincipal, PrincipalKind};

/// A principal with its documents parsed.
pub struct ParsedPrincipal<'p> {
    pub principal: &'p EffectivePrincipal,
    /// `(index into principal.policies, document)`, for every document that parsed.
    pub documents: Vec<(usize, PolicyDocument)>,
    pub boundary: Option<PolicyDocument>,
    /// Policies that did not parse: `label: error`.
    pub errors: Vec<String>,
    /// All Allow and Deny statements of the identity policies in one document, for analyses that
    /// must see combinations across policies (privilege escalation needs two actions from two
    /// policies as much as from one); `origins[i]` = (policy index, statement index) of statement `i`.
    pub combined: Option<CombinedPolicy>,
}

/// Every identity statement of a principal as one document.
pub struct CombinedPolicy {
    pub document: PolicyDocument,
    pub text: String,
    pub origins: Vec<(usize, usize)>,
}

impl<'p> ParsedPrincipal<'p> {
    pub fn parse(principal: &'p EffectivePrincipal) -> ParsedPrincipal<'p> {
        let mut documents = Vec::new();
        let mut errors = Vec::new();
        for (index, policy) in principal.policies.iter().enumerate() {
            match parse_value(&policy.document) {
                Ok(doc) => documents.push((index, doc)),
                Err(err) => errors.push(format!("{}: {err}", policy.source.label())),
            }
        }
        let boundary = principal
            .boundary
            .as_ref()
            .and_then(|b| match parse_value(&b.document) {
                Ok(doc) => Some(doc),
                Err(err) => {
                    errors.push(format!("boundary {}: {err}", b.source.label()));
                    None
                }
            });
        let combined = combine(principal, &documents);
        ParsedPrincipal {
            principal,
            documents,
            boundary,
            errors,
            combined,
        }
    }

    /// The identity policies and boundary, for `evaluate`.
    pub fn policy_set(&self) -> PolicySet<'_> {
        PolicySet {
            identity: self.documents.iter().map(|(_, d)| d).collect(),
            boundary: self.boundary.as_ref(),
            ..PolicySet::default()
        }
    }

    /// A request from this principal, with the context keys its own identity fixes.
    pub fn request(&self, action: &str, resource: &str) -> Request {
        let p = self.principal;
        principal_request(p.kind, &p.name, &p.arn, action, resource)
    }

    /// The label of the policy behind a decision's deciding statement.
    pub fn describe(&self, decision: &Decision) -> Option<String> {
        let by = match decision {
            Decision::Allow { by } | Decision::ExplicitDeny { by } => by,
            _ => return None,
        };
        match by.layer {
            Layer::Identity => self.documents.get(by.policy).map(|(i, doc)| {
                let label = self.principal.policies[*i].source.label();
                let path = doc
                    .statements
                    .iter()
                    .find(|s| s.index == by.statement)
                    .map(|s| s.path())
                    .unwrap_or_else(|| format!("Statement[{}]", by.statement));
                format!("{label} {path}")
            }),
            Layer::Boundary => Some("permissions boundary".to_owned()),
            _ => None,
        }
    }
}

/// A request from a user or role, with the context keys its own identity fixes (ARN, type, user
/// name, account); every other key is unknown, so conditions on it come out as conditional.
pub fn principal_request(
    kind: PrincipalKind,
    name: &str,
    arn: &str,
    action: &str,
    resource: &str,
) -> Request {
    let mut request = Request::new(action, resource)
        .with_principal(arn)
        .with("aws:PrincipalArn", &[arn])
        .with(
            "aws:PrincipalType",
            &[match kind {
                PrincipalKind::User => "User",
                PrincipalKind::Role => "AssumedRole",
            }],
        )
        .treat_missing_as_unknown();
    if kind == PrincipalKind::User {
        request = request.with("aws:username", &[name]);
    }
    if let Some(account) = crate::snapshot::account_of_arn(arn) {
        request = request.with("aws:PrincipalAccount", &[account]);
    }
    request
}

fn parse_value(value: &Value) -> Result<PolicyDocument, String> {
    if value.is_null() {
        return Err("no document".to_owned());
    }
    let text = serde_json::to_string(value).map_err(|e| e.to_string())?;
    PolicyDocument::parse(&text).map_err(|e| e.to_string())
}

fn combine(
    principal: &EffectivePrincipal,
    documents: &[(usize, PolicyDocument)],
) -> Option<CombinedPolicy> {
    let mut statements = Vec::new();
    let mut origins = Vec::new();
    for (index, _) in documents {
        let value = &principal.policies[*index].document;
        let list: Vec<&Value> = match value.get("Statement") {
            Some(Value::Array(items)) => items.iter().collect(),
            Some(single @ Value::Object(_)) => vec![single],
            _ => Vec::new(),
        };
        for (si, statement) in list.into_iter().enumerate() {
            statements.push(statement.clone());
            origins.push((*index, si));
        }
    }
    let text = serde_json::to_string(&serde_json::json!({
        "Version": "2012-10-17",
        "Statement": statements,
    }))
    .ok()?;
    let document = PolicyDocument::parse(&text).ok()?;
    Some(CombinedPolicy {
        document,
        text,
        origins,
    })
}

/// Whether the principal may act.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "access", rename_all = "snake_case")]
pub enum Access {
    Allowed,
    /// Allowed only if conditions on these keys hold (MFA, source IP, tags...).
    Conditional {
        keys: Vec<String>,
        /// The undecided conditions with operator and value, e.g.
        /// `aws:TokenIssueTime DateGreaterThan 2024-01-01T00:00:00Z`.
        conditions: Vec<String>,
    },
}

/// One principal allowed to perform the action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WhoCanEntry {
    pub kind: PrincipalKind,
    pub name: String,
    pub arn: String,
    #[serde(flatten)]
    pub access: Access,
    /// The resource the decision was made for (`*`, the asked resource, or a pattern from the
    /// principal's own statements when no resource was asked).
    pub resource: String,
    /// The policy and statement that allows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
}

/// The answer to one who-can question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WhoCanReport {
    pub action: String,
    /// `None`: any resource.
    pub resource: Option<String>,
    pub principals_checked: usize,
    pub entries: Vec<WhoCanEntry>,
    /// Principals whose answer may be incomplete: a policy that did not parse or a managed policy
    /// missing from the snapshot. `arn: reason`.
    pub incomplete: Vec<String>,
}

/// Every user and role allowed to perform `action` on `resource` (any resource when `None`).
pub fn who_can(
    principals: &[EffectivePrincipal],
    action: &str,
    resource: Option<&str>,
) -> WhoCanReport {
    let mut entries = Vec::new();
    let mut incomplete = Vec::new();
    for principal in principals {
        let parsed = ParsedPrincipal::parse(principal);
        for err in &parsed.errors {
            incomplete.push(format!("{}: {err}", principal.arn));
        }
        for arn in &principal.unresolved {
            incomplete.push(format!(
                "{}: managed policy `{arn}` is not in the snapshot",
                principal.arn
            ));
        }
        if let Some(entry) = decide(&parsed, action, resource) {
            entries.push(entry);
        }
    }
    WhoCanReport {
        action: action.to_owned(),
        resource: resource.map(str::to_owned),
        principals_checked: principals.len(),
        entries,
        incomplete,
    }
}

/// Decides one principal; with no resource asked, tries `*` and then each resource pattern the
/// principal's own Allow statements name (so a grant on `arn:aws:iam::*:policy/team-*` counts).
pub fn decide(
    parsed: &ParsedPrincipal<'_>,
    action: &str,
    resource: Option<&str>,
) -> Option<WhoCanEntry> {
    let candidates: Vec<String> = match resource {
        Some(r) => vec![r.to_owned()],
        None => {
            let mut list = vec!["*".to_owned()];
            for (_, doc) in &parsed.documents {
                for statement in &doc.statements {
                    if let Some(spec) = statement.resource.as_ref().filter(|s| !s.negated) {
                        for pattern in &spec.patterns {
                            if !list.contains(pattern) {
                                list.push(pattern.clone());
                            }
                        }
                    }
                }
            }
            list
        }
    };
    let set = parsed.policy_set();
    let mut conditional: Option<WhoCanEntry> = None;
    for candidate in candidates {
        let decision = evaluate(&set, &parsed.request(action, &candidate));
        let access = match &decision {
            Decision::Allow { .. } => Access::Allowed,
            Decision::Conditional { keys, conditions } => {
                let mut keys = keys.clone();
                keys.sort();
                keys.dedup();
                Access::Conditional {
                    keys,
                    conditions: conditions.clone(),
                }
            }
            _ => continue,
        };
        let entry = WhoCanEntry {
            kind: parsed.principal.kind,
            name: parsed.principal.name.clone(),
            arn: parsed.principal.arn.clone(),
            via: parsed.describe(&decision),
            access,
            resource: candidate,
        };
        if entry.access == Access::Allowed {
            return Some(entry);
        }
        conditional.get_or_insert(entry);
    }
    conditional
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AuthorizationDetails;
    use crate::principals::effective_principals;
    use serde_json::json;

    fn details() -> AuthorizationDetails {
        serde_json::from_value(json!({
            "UserDetailList": [
                {"UserName": "admin", "Arn": "arn:aws:iam::111122223333:user/admin", "GroupList": ["admins"]},
                {"UserName": "bounded", "Arn": "arn:aws:iam::111122223333:user/bounded", "GroupList": ["admins"],
                 "PermissionsBoundary": {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": "arn:aws:iam::111122223333:policy/s3-only"}},
                {"UserName": "mfa", "Arn": "arn:aws:iam::111122223333:user/mfa",
                 "UserPolicyList": [{"PolicyName": "alias-with-mfa", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": "iam:*AccountAlias", "Resource": "*",
                     "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]}}]},
                {"UserName": "denied", "Arn": "arn:aws:iam::111122223333:user/denied", "GroupList": ["admins"],
                 "UserPolicyList": [{"PolicyName": "no-alias", "PolicyDocument": {"Statement": [
                    {"Effect": "Deny", "Action": "iam:CreateAccountAlias", "Resource": "*"}]}}]},
                {"UserName": "team", "Arn": "arn:aws:iam::111122223333:user/team",
                 "UserPolicyList": [{"PolicyName": "own-policies", "PolicyDocument": {"Statement": [
                    {"Effect": "Allow", "Action": "iam:CreatePolicyVersion", "Resource": "arn:aws:iam::111122223333:policy/team-*"}]}}]}
            ],
            "GroupDetailList": [{"GroupName": "admins", "AttachedManagedPolicies": [
                {"PolicyName": "AdministratorAccess", "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}]}],
            "RoleDetailList": [{"RoleName": "reader", "Arn": "arn:aws:iam::111122223333:role/reader",
                "RolePolicyList": [{"PolicyName": "read", "PolicyDocument": {"Statement": [
                    {"Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"}]}}]}],
            "Policies": [
                {"Arn": "arn:aws:iam::aws:policy/AdministratorAccess", "DefaultVersionId": "v1", "PolicyVersionList": [
                    {"VersionId": "v1", "IsDefaultVersion": true, "Document": {"Version": "2012-10-17", "Statement": [
                        {"Effect": "Allow", "Action": "*", "Resource": "*"}]}}]},
                {"Arn": "arn:aws:iam::111122223333:policy/s3-only", "DefaultVersionId": "v1", "PolicyVersionList": [
                    {"VersionId": "v1", "IsDefaultVersion": true, "Document": {"Statement": [
                        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}}]}
            ]
        }))
        .unwrap()
    }

    #[test]
    fn groups_boundaries_denies_and_conditions_are_honoured() {
        let principals = effective_principals(&details());
        let report = who_can(&principals, "iam:CreateAccountAlias", None);
        let answers: Vec<(&str, &Access)> = report
            .entries
            .iter()
            .map(|e| (e.name.as_str(), &e.access))
            .collect();
        assert_eq!(
            answers,
            [
                ("admin", &Access::Allowed),
                (
                    "mfa",
                    &Access::Conditional {
                        keys: vec!["aws:MultiFactorAuthPresent".to_owned()],
                        conditions: vec!["aws:MultiFactorAuthPresent Bool true".to_owned()],
                    }
                ),
            ]
        );
        assert_eq!(
            report.entries[0].via.as_deref(),
            Some("managed policy `arn:aws:iam::aws:policy/AdministratorAccess` of group `admins` Statement[0]")
        );
        assert_eq!(report.principals_checked, 6);
        assert!(report.incomplete.is_empty());
    }

    #[test]
    fn resource_scoped_grants_count_for_any_resource_but_not_for_others() {
        let principals = effective_principals(&details());
        let any = who_can(&principals, "iam:CreatePolicyVersion", None);
        let names: Vec<&str> = any.entries.iter().map(|e| e.name.as_str()).collect();
        // `denied` is an administrator whose only Deny is on CreateAccountAlias.
        assert_eq!(names, ["admin", "denied", "team"]);
        assert_eq!(
            any.entries[2].resource,
            "arn:aws:iam::111122223333:policy/team-*"
        );

        let other = who_can(
            &principals,
            "iam:CreatePolicyVersion",
            Some("arn:aws:iam::111122223333:policy/prod-admin"),
        );
        let names: Vec<&str> = other.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["admin", "denied"]);
    }
}
