//! AWS's policy evaluation logic for one request: an explicit Deny anywhere wins; otherwise the
//! request needs an Allow from an identity (or resource) policy, and, where given, from every
//! permissions boundary and every SCP level. Conditions are evaluated against the request context
//! with three-valued logic, so a request whose context leaves a key unknown (e.g. MFA) can come out
//! as [`Decision::Conditional`]: "allowed only if ...".

use std::collections::BTreeMap;

use crate::condition::{self, Tri};
use crate::document::{Effect, PolicyDocument, PrincipalKind, Statement};
use crate::glob::glob_match;

/// What to do with condition keys the request context does not contain.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MissingKeys {
    /// AWS semantics: the key is absent from the request.
    #[default]
    Absent,
    /// The key may or may not be present: conditions on it evaluate to unknown.
    Unknown,
}

/// One API request to decide.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// The calling principal's ARN (matched against `Principal` in resource policies).
    pub principal: Option<String>,
    /// e.g. `iam:CreateUser` (case-insensitive).
    pub action: String,
    /// The resource ARN, or `*` for actions without a resource.
    pub resource: String,
    /// Condition keys (case-insensitive) and their values.
    pub context: BTreeMap<String, Vec<String>>,
    pub missing_keys: MissingKeys,
}

impl Request {
    pub fn new(action: &str, resource: &str) -> Request {
        Request {
            action: action.to_owned(),
            resource: resource.to_owned(),
            ..Request::default()
        }
    }

    /// Adds a context key; keys compare case-insensitively.
    pub fn with(mut self, key: &str, values: &[&str]) -> Request {
        self.context.insert(
            key.to_ascii_lowercase(),
            values.iter().map(|v| (*v).to_owned()).collect(),
        );
        self
    }

    pub fn with_principal(mut self, arn: &str) -> Request {
        self.principal = Some(arn.to_owned());
        self
    }

    pub fn treat_missing_as_unknown(mut self) -> Request {
        self.missing_keys = MissingKeys::Unknown;
        self
    }

    fn value(&self, key: &str) -> Option<&[String]> {
        self.context
            .get(&key.to_ascii_lowercase())
            .map(Vec::as_slice)
    }
}

/// The policies that apply to a request.
#[derive(Debug, Clone, Default)]
pub struct PolicySet<'a> {
    /// Identity-based policies of the principal (inline and attached, including its groups').
    pub identity: Vec<&'a PolicyDocument>,
    /// Resource-based policies of the target (same account: an Allow here suffices).
    pub resource: Vec<&'a PolicyDocument>,
    /// The principal's permissions boundary, if any.
    pub boundary: Option<&'a PolicyDocument>,
    /// SCPs, one inner list per level (root, OU, ..., account): each level must allow.
    pub scps: Vec<Vec<&'a PolicyDocument>>,
}

/// Which statement decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementRef {
    pub layer: Layer,
    pub policy: usize,
    pub statement: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    Identity,
    Resource,
    Boundary,
    Scp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow {
        by: StatementRef,
    },
    ExplicitDeny {
        by: StatementRef,
    },
    /// No applicable Allow (or a boundary/SCP lacks one).
    ImplicitDeny {
        missing: Layer,
    },
    /// Allowed or denied depending on condition keys the request left unknown.
    Conditional {
        keys: Vec<String>,
        /// Each undecided condition as written: key, operator and value(s), e.g.
        /// `aws:TokenIssueTime DateGreaterThan 2024-01-01T00:00:00Z`.
        conditions: Vec<String>,
    },
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow { .. })
    }
}

/// The conditions a request left undecided (their keys were unknown), in the order met.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Undecided {
    /// Each key once, as first written.
    pub keys: Vec<String>,
    /// Each condition once: `key Operator value` (values in brackets when several).
    pub conditions: Vec<String>,
}

impl Undecided {
    fn add(&mut self, c: &crate::document::Condition) {
        if !self.keys.iter().any(|k| k.eq_ignore_ascii_case(&c.key)) {
            self.keys.push(c.key.clone());
        }
        let values = match c.values.as_slice() {
            [one] => one.clone(),
            many => format!("[{}]", many.join(", ")),
        };
        let text = format!("{} {} {values}", c.key, c.operator.raw);
        if !self.conditions.contains(&text) {
            self.conditions.push(text);
        }
    }
}

/// Whether a statement applies to the request: True, False or Unknown (conditions on unknown keys,
/// which are added to `undecided`).
pub fn statement_matches(
    statement: &Statement,
    request: &Request,
    undecided: &mut Undecided,
) -> Tri {
    let action_hit = statement.action.patterns.iter().any(|p| {
        glob_match(p.raw.trim().as_bytes(), request.action.as_bytes(), true) || (p.is_everything())
    });
    if action_hit == statement.action.negated {
        return Tri::False;
    }
    if let Some(resource) = &statement.resource {
        let hit = resource
            .patterns
            .iter()
            .any(|p| resource_matches(&substitute(p, request), &request.resource));
        if hit == resource.negated {
            return Tri::False;
        }
    }
    if let Some(principal) = &statement.principal {
        let hit = principal_matches(principal, request.principal.as_deref());
        if hit == principal.negated {
            return Tri::False;
        }
    }
    let mut result = Tri::True;
    for c in &statement.conditions {
        let expected: Vec<String> = c
            .values
            .iter()
            .map(|v| substitute(v, request).into_owned())
            .collect();
        let actual = request.value(&c.key);
        let r = condition::evaluate(
            &c.operator,
            &expected,
            actual,
            request.missing_keys == MissingKeys::Unknown,
        );
        if r == Tri::Unknown {
            undecided.add(c);
        }
        result = result.and(r);
        if result == Tri::False {
            return Tri::False;
        }
    }
    result
}

/// Resource ARNs: `*` and `?` wildcards, case-sensitive.
fn resource_matches(pattern: &str, resource: &str) -> bool {
    glob_match(pattern.as_bytes(), resource.as_bytes(), false)
}

fn principal_matches(principal: &crate::document::PrincipalSpec, caller: Option<&str>) -> bool {
    if principal.any {
        return true;
    }
    let Some(caller) = caller else { return false };
    principal.entries.iter().any(|(kind, _, values)| {
        values.iter().any(|v| match kind {
            PrincipalKind::Aws => {
                v == "*"
                    || v == caller
                    // An account id or account root stands for every principal in the account.
                    || account_of(caller).is_some_and(|acct| v == acct || *v == format!("arn:aws:iam::{acct}:root"))
            }
            _ => v == caller,
        })
    })
}

fn account_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// Replaces policy variables (`${aws:username}`, `${*}`, `${?}`, `${$}`) from the request context.
/// An unknown variable is left in place, so it matches nothing.
pub fn substitute<'t>(text: &'t str, request: &Request) -> std::borrow::Cow<'t, str> {
    // Most patterns hold no variable: no copy for them (this runs for every pattern of every request).
    if !text.contains("${") {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return std::borrow::Cow::Owned(out);
        };
        let inner = &after[..end];
        // `${key, 'default'}` form.
        let (name, default) = match inner.split_once(',') {
            Some((n, d)) => (n.trim(), Some(d.trim().trim_matches('\''))),
            None => (inner.trim(), None),
        };
        match name {
            "*" => out.push('*'),
            "?" => out.push('?'),
            "$" => out.push('$'),
            _ => match request.value(name).and_then(|v| v.first()) {
                Some(value) => out.push_str(value),
                None => match default {
                    Some(d) => out.push_str(d),
                    None => out.push_str(&rest[start..start + 2 + end + 1]),
                },
            },
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// Outcome of one layer: explicit deny, allow, unknown, or nothing applicable.
struct LayerResult {
    deny: Option<(usize, usize)>,
    deny_unknown: bool,
    allow: Option<(usize, usize)>,
    allow_unknown: bool,
}

fn evaluate_layer(
    policies: &[&PolicyDocument],
    request: &Request,
    unknown: &mut Undecided,
) -> LayerResult {
    let mut r = LayerResult {
        deny: None,
        deny_unknown: false,
        allow: None,
        allow_unknown: false,
    };
    for (pi, policy) in policies.iter().enumerate() {
        for s in &policy.statements {
            match (s.effect, statement_matches(s, request, unknown)) {
                (_, Tri::False) => {}
                (Effect::Deny, Tri::True) => {
                    r.deny.get_or_insert((pi, s.index));
                }
                (Effect::Deny, Tri::Unknown) => r.deny_unknown = true,
                (Effect::Allow, Tri::True) => {
                    r.allow.get_or_insert((pi, s.index));
                }
                (Effect::Allow, Tri::Unknown) => r.allow_unknown = true,
            }
        }
    }
    r
}

/// Decides one request against a policy set.
pub fn evaluate(policies: &PolicySet<'_>, request: &Request) -> Decision {
    let mut unknown = Undecided::default();
    let mut layers: Vec<(Layer, LayerResult)> = Vec::new();
    for level in &policies.scps {
        layers.push((Layer::Scp, evaluate_layer(level, request, &mut unknown)));
    }
    if let Some(boundary) = policies.boundary {
        layers.push((
            Layer::Boundary,
            evaluate_layer(&[boundary], request, &mut unknown),
        ));
    }
    let identity = evaluate_layer(&policies.identity, request, &mut unknown);
    let resource = evaluate_layer(&policies.resource, request, &mut unknown);

    // 1. Explicit deny anywhere wins.
    let all = layers
        .iter()
        .map(|(l, r)| (*l, r))
        .chain([(Layer::Identity, &identity), (Layer::Resource, &resource)]);
    let mut possible_deny = false;
    for (layer, r) in all {
        if let Some((policy, statement)) = r.deny {
            return Decision::ExplicitDeny {
                by: StatementRef {
                    layer,
                    policy,
                    statement,
                },
            };
        }
        possible_deny |= r.deny_unknown;
    }
    // 2. Every SCP level and the boundary must allow.
    let mut conditional = possible_deny;
    for (layer, r) in &layers {
        if r.allow.is_none() {
            if r.allow_unknown {
                conditional = true;
            } else {
                return Decision::ImplicitDeny { missing: *layer };
            }
        }
    }
    // 3. An identity or resource policy must allow.
    let allow = identity
        .allow
        .map(|(p, s)| (Layer::Identity, p, s))
        .or(resource.allow.map(|(p, s)| (Layer::Resource, p, s)));
    match allow {
        Some((layer, policy, statement)) if !conditional => Decision::Allow {
            by: StatementRef {
                layer,
                policy,
                statement,
            },
        },
        Some(_) => Decision::Conditional {
            keys: unknown.keys,
            conditions: unknown.conditions,
        },
        None if identity.allow_unknown || resource.allow_unknown => Decision::Conditional {
            keys: unknown.keys,
            conditions: unknown.conditions,
        },
        None => Decision::ImplicitDeny {
            missing: Layer::Identity,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> PolicyDocument {
        PolicyDocument::parse(text).unwrap()
    }

    #[test]
    fn explicit_deny_wins_and_allow_is_needed() {
        let allow = doc(r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#);
        let deny = doc(
            r#"{"Statement":[{"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"arn:aws:s3:::prod-*"}]}"#,
        );
        let set = PolicySet {
            identity: vec![&allow, &deny],
            ..Default::default()
        };
        assert!(
            evaluate(&set, &Request::new("s3:GetObject", "arn:aws:s3:::prod-a/k")).is_allowed()
        );
        assert!(matches!(
            evaluate(
                &set,
                &Request::new("s3:deletebucket", "arn:aws:s3:::prod-a")
            ),
            Decision::ExplicitDeny {
                by: StatementRef {
                    policy: 1,
                    statement: 0,
                    ..
                }
            }
        ));
        assert!(evaluate(&set, &Request::new("s3:DeleteBucket", "arn:aws:s3:::dev")).is_allowed());
        assert!(matches!(
            evaluate(&set, &Request::new("iam:CreateUser", "*")),
            Decision::ImplicitDeny {
                missing: Layer::Identity
            }
        ));
    }

    #[test]
    fn not_action_and_not_resource() {
        let p = doc(
            r#"{"Statement":[{"Effect":"Allow","NotAction":"iam:*","NotResource":"arn:aws:s3:::secret/*"}]}"#,
        );
        let set = PolicySet {
            identity: vec![&p],
            ..Default::default()
        };
        assert!(evaluate(&set, &Request::new("ec2:RunInstances", "*")).is_allowed());
        assert!(!evaluate(&set, &Request::new("iam:CreateUser", "*")).is_allowed());
        assert!(
            !evaluate(&set, &Request::new("s3:GetObject", "arn:aws:s3:::secret/x")).is_allowed()
        );
    }

    #[test]
    fn mfa_only_allow_is_conditional_when_unknown() {
        let p = doc(
            r#"{"Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}"#,
        );
        let set = PolicySet {
            identity: vec![&p],
            ..Default::default()
        };
        let req = Request::new("iam:CreateUser", "*");
        assert!(!evaluate(&set, &req).is_allowed());
        assert!(evaluate(
            &set,
            &req.clone().with("aws:MultiFactorAuthPresent", &["true"])
        )
        .is_allowed());
        assert_eq!(
            evaluate(&set, &req.treat_missing_as_unknown()),
            Decision::Conditional {
                keys: vec!["aws:MultiFactorAuthPresent".into()],
                conditions: vec!["aws:MultiFactorAuthPresent Bool true".into()],
            }
        );
    }

    #[test]
    fn boundaries_and_scps_must_allow() {
        let admin = doc(r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#);
        let boundary =
            doc(r#"{"Statement":[{"Effect":"Allow","Action":["s3:*","ec2:*"],"Resource":"*"}]}"#);
        let scp_root = doc(r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#);
        let scp_ou = doc(
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},{"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*"}]}"#,
        );
        let set = PolicySet {
            identity: vec![&admin],
            boundary: Some(&boundary),
            scps: vec![vec![&scp_root], vec![&scp_ou]],
            ..Default::default()
        };
        assert!(evaluate(&set, &Request::new("s3:GetObject", "arn:aws:s3:::b/k")).is_allowed());
        assert!(matches!(
            evaluate(&set, &Request::new("ec2:RunInstances", "*")),
            Decision::ImplicitDeny {
                missing: Layer::Scp
            }
        ));
        assert!(matches!(
            evaluate(&set, &Request::new("s3:DeleteBucket", "*")),
            Decision::ExplicitDeny {
                by: StatementRef {
                    layer: Layer::Scp,
                    ..
                }
            }
        ));
        let no_scp = PolicySet {
            identity: vec![&admin],
            boundary: Some(&boundary),
            ..Default::default()
        };
        assert!(matches!(
            evaluate(&no_scp, &Request::new("iam:CreateUser", "*")),
            Decision::ImplicitDeny {
                missing: Layer::Boundary
            }
        ));
    }

    #[test]
    fn policy_variables_and_resource_policies() {
        let p = doc(
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::home/${aws:username}/*"}]}"#,
        );
        let set = PolicySet {
            identity: vec![&p],
            ..Default::default()
        };
        let req = Request::new("s3:GetObject", "arn:aws:s3:::home/bob/notes")
            .with("aws:username", &["bob"]);
        assert!(evaluate(&set, &req).is_allowed());
        let other = Request::new("s3:GetObject", "arn:aws:s3:::home/alice/notes")
            .with("aws:username", &["bob"]);
        assert!(!evaluate(&set, &other).is_allowed());
        let bucket = doc(
            r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#,
        );
        let set = PolicySet {
            resource: vec![&bucket],
            ..Default::default()
        };
        let req = Request::new("s3:GetObject", "arn:aws:s3:::b/k")
            .with_principal("arn:aws:iam::111122223333:user/u");
        assert!(evaluate(&set, &req).is_allowed());
        let stranger = Request::new("s3:GetObject", "arn:aws:s3:::b/k")
            .with_principal("arn:aws:iam::999999999999:user/u");
        assert!(!evaluate(&set, &stranger).is_allowed());
        assert_eq!(
            substitute("a/${*}/${aws:x, 'd'}", &Request::default()),
            "a/*/d"
        );
    }
}
