//! What a policy grants, in risk terms: administrator access, `Allow` with `NotAction` or
//! `NotResource`, `iam:PassRole` on `*`, service-wide wildcards, privilege-escalation methods,
//! resource exposure, credentials exposure, data exfiltration, infrastructure modification and
//! sensitive actions allowed without MFA. Every item points at the statement that grants it.
//!
//! Effective actions are the Allow statements' expanded actions minus those an unconditional
//! `Deny` on every resource takes away. Category lists (exposure, exfiltration, modification)
//! count actions granted on every resource (`*`), as Cloudsplaining does; privilege escalation and
//! MFA count any resource and say when the grant is scoped or conditional.

use std::sync::OnceLock;

use serde::Serialize;

use crate::catalog::{ActionId, ActionSet, Catalog};
use crate::document::{Effect, PolicyDocument, ResourceSpec, Statement};
use crate::privesc::{PrivescMethod, METHODS, OTHER_USER_METHODS};
use crate::risk::{classify, SENSITIVE_SERVICES};

/// One action granted by one statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionHit {
    /// As AWS spells it, e.g. `iam:PassRole`.
    pub action: String,
    /// Index of the statement that grants it.
    pub statement: usize,
    /// Granted on every resource (`*` or `NotResource`).
    pub resource_star: bool,
    /// The granting statement has a `Condition`.
    pub conditional: bool,
}

impl ActionHit {
    /// Granted on every resource without conditions.
    pub fn unrestricted(&self) -> bool {
        self.resource_star && !self.conditional
    }
}

/// `service:*` granted by an Allow statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceWildcard {
    pub service: String,
    pub statement: usize,
    /// One of IAM, STS, KMS, Organizations, CloudTrail.
    pub sensitive: bool,
}

/// A privilege-escalation method the policy enables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrivescFinding {
    pub method: &'static PrivescMethod,
    /// The granted action chosen for each required group.
    pub actions: Vec<ActionHit>,
    /// Statements involved, sorted.
    pub statements: Vec<usize>,
    /// Every needed action granted on `*` without conditions.
    pub unrestricted: bool,
}

/// An action pattern that names nothing in the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnknownAction {
    pub pattern: String,
    pub statement: usize,
    /// Index of the pattern inside the statement's Action/NotAction.
    pub item: usize,
    /// The service prefix itself is unknown (not just the action).
    pub unknown_service: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PolicyAnalysis {
    /// Every action of every service on every resource, unconditionally.
    pub is_admin: bool,
    /// Statements granting `*` on `*` without conditions.
    pub admin_statements: Vec<usize>,
    pub allow_not_action: Vec<usize>,
    pub allow_not_resource: Vec<usize>,
    /// Allow statements granting `iam:PassRole` on every resource with no `iam:PassedToService` limit.
    pub passrole_star: Vec<usize>,
    pub service_wildcards: Vec<ServiceWildcard>,
    pub privilege_escalation: Vec<PrivescFinding>,
    pub resource_exposure: Vec<ActionHit>,
    pub credentials_exposure: Vec<ActionHit>,
    pub data_exfiltration: Vec<ActionHit>,
    pub infrastructure_modification: Vec<ActionHit>,
    /// Sensitive actions (identity/key permissions management, credential and audit tampering)
    /// allowed by a statement without an MFA condition.
    pub mfa_missing: Vec<ActionHit>,
    pub unknown_actions: Vec<UnknownAction>,
    /// Allowed actions that are a step of some escalation (see [`crate::privesc::primitive_actions`]),
    /// on any resource, conditional or not.
    pub escalation_primitives: Vec<ActionHit>,
    /// How many distinct actions the policy allows on some resource.
    pub allowed_action_count: usize,
}

impl PolicyAnalysis {
    /// Whether any privilege-escalation method is enabled (on any resource).
    pub fn has_privilege_escalation(&self) -> bool {
        !self.privilege_escalation.is_empty()
    }
}

/// The actions one statement names (Action expanded, or everything but NotAction).
pub fn statement_actions(catalog: &Catalog, statement: &Statement) -> ActionSet {
    let mut set = ActionSet::new();
    for pattern in &statement.action.patterns {
        catalog.expand_set(&pattern.raw, &mut set);
    }
    if statement.action.negated {
        set.complement(catalog.len())
    } else {
        set
    }
}

/// Actions that an unconditional Deny on every resource removes from the whole policy.
pub fn unconditionally_denied(catalog: &Catalog, doc: &PolicyDocument) -> ActionSet {
    let mut denied = ActionSet::new();
    for s in &doc.statements {
        if s.effect == Effect::Deny
            && !s.has_conditions()
            && s.resource_is_star()
            && s.principal.is_none()
        {
            denied.union_with(&statement_actions(catalog, s));
        }
    }
    denied
}

/// Whether a statement is limited by an MFA condition (a `false` MFA test does not count).
pub fn has_mfa_condition(statement: &Statement) -> bool {
    statement.conditions.iter().any(|c| {
        let key = c.key.to_ascii_lowercase();
        (key == "aws:multifactorauthpresent"
            && (c.values.iter().all(|v| v.eq_ignore_ascii_case("true"))
                || c.operator.kind == crate::condition::OperatorKind::Null))
            || key == "aws:multifactorauthage"
    })
}

fn primitive_ids() -> &'static Vec<ActionId> {
    static IDS: OnceLock<Vec<ActionId>> = OnceLock::new();
    IDS.get_or_init(|| {
        let catalog = Catalog::get();
        crate::privesc::primitive_actions()
            .iter()
            .filter_map(|a| catalog.lookup(a))
            .collect()
    })
}

fn method_ids() -> &'static Vec<Vec<Vec<ActionId>>> {
    static IDS: OnceLock<Vec<Vec<Vec<ActionId>>>> = OnceLock::new();
    IDS.get_or_init(|| {
        let catalog = Catalog::get();
        METHODS
            .iter()
            .map(|m| {
                m.requires
                    .iter()
                    .map(|group| group.iter().filter_map(|a| catalog.lookup(a)).collect())
                    .collect()
            })
            .collect()
    })
}

/// Packed per-action grant: statement index + 1 in the low bits, flags above. 0 = not granted.
const STAR: u32 = 1 << 30;
const UNCONDITIONAL: u32 = 1 << 29;
const INDEX_MASK: u32 = UNCONDITIONAL - 1;

/// Analyses one document.
pub fn analyze(doc: &PolicyDocument) -> PolicyAnalysis {
    analyze_with(Catalog::get(), doc)
}

/// Analyses one document against a given catalog.
pub fn analyze_with(catalog: &Catalog, doc: &PolicyDocument) -> PolicyAnalysis {
    let mut out = PolicyAnalysis::default();
    let denied = unconditionally_denied(catalog, doc);
    // Best grant per action: unrestricted beats star-but-conditional beats scoped.
    let mut grants: Vec<u32> = vec![0; catalog.len()];
    let mut unrestricted = ActionSet::new();
    // Actions some statement allows on a resource other than the caller's own user (see
    // `is_own_user_only`): minting credentials only for yourself gains nothing.
    let mut beyond_own_user = ActionSet::new();
    for s in &doc.statements {
        for (item, pattern) in s.action.patterns.iter().enumerate() {
            if pattern.service == "*" && pattern.action == "*" {
                continue;
            }
            let known_service = !pattern.service.contains(['*', '?'])
                && catalog.service(&pattern.service).is_some();
            if catalog.expand(&pattern.raw).is_empty() {
                out.unknown_actions.push(UnknownAction {
                    pattern: pattern.raw.clone(),
                    statement: s.index,
                    item,
                    unknown_service: !known_service && !pattern.service.contains(['*', '?']),
                });
            }
        }
        if s.effect != Effect::Allow {
            continue;
        }
        if s.action.negated {
            out.allow_not_action.push(s.index);
        }
        if s.resource.as_ref().is_some_and(|r| r.negated) {
            out.allow_not_resource.push(s.index);
        }
        let star = s.resource_is_star() || s.resource.as_ref().is_some_and(|r| r.negated);
        let unconditional = !s.has_conditions();
        if !s.action.negated
            && s.action.patterns.iter().any(|p| p.is_everything())
            && s.resource_is_star()
            && unconditional
        {
            out.admin_statements.push(s.index);
        }
        if !s.action.negated {
            for p in &s.action.patterns {
                if !p.service.contains(['*', '?'])
                    && !p.service.is_empty()
                    && p.action.bytes().all(|b| b == b'*')
                    && !p.action.is_empty()
                {
                    if let Some(service) = catalog.service(&p.service) {
                        out.service_wildcards.push(ServiceWildcard {
                            service: service.prefix.clone(),
                            statement: s.index,
                            sensitive: SENSITIVE_SERVICES.contains(&service.prefix.as_str()),
                        });
                    }
                }
            }
        }
        let mut actions = statement_actions(catalog, s);
        actions.difference_with(&denied);
        let packed = (s.index as u32 + 1).min(INDEX_MASK)
            | if star { STAR } else { 0 }
            | if unconditional { UNCONDITIONAL } else { 0 };
        let rank =
            |g: u32| (g & STAR != 0) as u8 * 2 + (g & UNCONDITIONAL != 0) as u8 + (g != 0) as u8;
        for id in actions.iter() {
            let slot = &mut grants[id.0 as usize];
            if rank(packed) > rank(*slot) {
                *slot = packed;
            }
        }
        if star && unconditional {
            unrestricted.union_with(&actions);
        }
        if !s.resource.as_ref().is_some_and(is_own_user_only) {
            beyond_own_user.union_with(&actions);
        }
        let passes_anywhere = catalog
            .lookup("iam:passrole")
            .is_some_and(|id| statement_actions(catalog, s).contains(id) && !denied.contains(id));
        let limited_to_service = s
            .conditions
            .iter()
            .any(|c| c.key.eq_ignore_ascii_case("iam:PassedToService"));
        if passes_anywhere && s.resource_is_star() && !limited_to_service {
            out.passrole_star.push(s.index);
        }
    }
    out.is_admin = !catalog.is_empty() && unrestricted.len() == catalog.len();

    let hit = |id: ActionId, g: u32| ActionHit {
        action: catalog.full_name(id),
        statement: ((g & INDEX_MASK) - 1) as usize,
        resource_star: g & STAR != 0,
        conditional: g & UNCONDITIONAL == 0,
    };
    for (i, &g) in grants.iter().enumerate() {
        if g == 0 {
            continue;
        }
        out.allowed_action_count += 1;
        let id = ActionId(i as u32);
        let risk = if std::ptr::eq(catalog, Catalog::get()) {
            crate::risk::risk_table()[i]
        } else {
            classify(catalog, id)
        };
        let star = g & STAR != 0;
        if star {
            if risk.resource_exposure {
                out.resource_exposure.push(hit(id, g));
            }
            if risk.credentials_exposure {
                out.credentials_exposure.push(hit(id, g));
            }
            if risk.data_exfiltration {
                out.data_exfiltration.push(hit(id, g));
            }
            if risk.infrastructure_modification {
                out.infrastructure_modification.push(hit(id, g));
            }
        }
        if risk.sensitive {
            let statement = &doc.statements[((g & INDEX_MASK) - 1) as usize];
            if !has_mfa_condition(statement) {
                out.mfa_missing.push(hit(id, g));
            }
        }
    }

    for id in primitive_ids() {
        let g = grants[id.0 as usize];
        if g != 0 {
            out.escalation_primitives.push(hit(*id, g));
        }
    }
    for (method, groups) in METHODS.iter().zip(method_ids()) {
        let targets_others = OTHER_USER_METHODS.contains(&method.id);
        let mut chosen = Vec::with_capacity(groups.len());
        for group in groups {
            let best = group
                .iter()
                .filter(|id| grants[id.0 as usize] != 0)
                .filter(|id| !targets_others || beyond_own_user.contains(**id))
                // Broadest grant first; among equals, the earliest statement, then the group's order.
                .min_by_key(|id| {
                    let g = grants[id.0 as usize];
                    (g & STAR == 0, g & UNCONDITIONAL == 0, g & INDEX_MASK)
                });
            match best {
                Some(id) => chosen.push(hit(*id, grants[id.0 as usize])),
                None => break,
            }
        }
        if chosen.len() == groups.len() && !groups.is_empty() {
            let mut statements: Vec<usize> = chosen.iter().map(|h| h.statement).collect();
            statements.sort_unstable();
            statements.dedup();
            let unrestricted = chosen.iter().all(ActionHit::unrestricted);
            out.privilege_escalation.push(PrivescFinding {
                method,
                actions: chosen,
                statements,
                unrestricted,
            });
        }
    }
    out
}

/// Whether every resource is the caller's own IAM user: `arn:aws:iam::ACCOUNT:user/${aws:username}`,
/// optionally under a path (`user/PATH/${aws:username}`; a user name is unique whatever the path).
/// Anything after the variable (`${aws:username}*` also matches `alice-admin`) or a negated list is not.
fn is_own_user_only(resource: &ResourceSpec) -> bool {
    !resource.negated
        && !resource.patterns.is_empty()
        && resource.patterns.iter().all(|p| {
            let mut parts = p.splitn(6, ':');
            let (arn, partition, service, region, _account, rest) = (
                parts.next(),
                parts.next(),
                parts.next(),
                parts.next(),
                parts.next(),
                parts.next(),
            );
            arn == Some("arn")
                && partition.is_some_and(|x| !x.contains(['*', '?']))
                && service.is_some_and(|x| x.eq_ignore_ascii_case("iam"))
                && region == Some("")
                && rest.is_some_and(|r| {
                    // Policy variable names are case-insensitive.
                    r.strip_prefix("user/").is_some_and(|path| {
                        let path = path.to_ascii_lowercase();
                        path == "${aws:username}" || path.ends_with("/${aws:username}")
                    })
                })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analyze_text(text: &str) -> PolicyAnalysis {
        analyze(&PolicyDocument::parse(text).unwrap())
    }

    fn method_ids(a: &PolicyAnalysis) -> Vec<&str> {
        a.privilege_escalation.iter().map(|p| p.method.id).collect()
    }

    #[test]
    fn admin_is_everything_on_everything() {
        let a = analyze_text(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        );
        assert!(a.is_admin);
        assert_eq!(a.admin_statements, vec![0]);
        assert!(a.privilege_escalation.len() > 50);
        let scoped = analyze_text(
            r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}"#,
        );
        assert!(!scoped.is_admin);
        let denied = analyze_text(
            r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"iam:*","Resource":"*"}]}"#,
        );
        assert!(!denied.is_admin);
        assert!(!method_ids(&denied).contains(&"create-policy-version"));
    }

    #[test]
    fn credentials_minted_only_for_ones_own_user_are_no_escalation_and_near_misses_are() {
        let methods = |resource: &str| {
            let text = format!(
                r#"{{"Statement":[{{"Effect":"Allow","Action":["iam:CreateAccessKey","iam:UpdateLoginProfile","iam:AttachUserPolicy"],"Resource":{resource}}}]}}"#
            );
            let analysis = analyze_text(&text);
            let ids: Vec<&'static str> = analysis
                .privilege_escalation
                .iter()
                .map(|p| p.method.id)
                .collect();
            ids
        };
        // AWS's self-service pattern: keys and password for yourself only. Attaching a policy to
        // yourself still is one.
        for own in [
            r#""arn:aws:iam::*:user/${aws:username}""#,
            r#"["arn:aws:iam::111122223333:user/staff/${aws:username}", "arn:aws:iam::*:user/${AWS:UserName}"]"#,
        ] {
            let ids = methods(own);
            assert!(!ids.contains(&"create-access-key"), "{own}: {ids:?}");
            assert!(!ids.contains(&"update-login-profile"), "{own}: {ids:?}");
            assert!(ids.contains(&"attach-user-policy"), "{own}: {ids:?}");
        }
        for other in [
            r#""*""#,
            r#""arn:aws:iam::*:user/${aws:username}*""#,
            r#""arn:aws:iam::*:user/*""#,
            r#"["arn:aws:iam::*:user/${aws:username}", "arn:aws:iam::*:user/admin"]"#,
            r#""arn:aws:iam::*:role/${aws:username}""#,
        ] {
            let ids = methods(other);
            assert!(ids.contains(&"create-access-key"), "{other}: {ids:?}");
            assert!(ids.contains(&"update-login-profile"), "{other}: {ids:?}");
        }
        // A second statement granting the same action beyond the caller's user keeps the method.
        let two = analyze_text(
            r#"{"Statement":[
            {"Effect":"Allow","Action":"iam:CreateAccessKey","Resource":"arn:aws:iam::*:user/${aws:username}"},
            {"Effect":"Allow","Action":"iam:CreateAccessKey","Resource":"arn:aws:iam::*:user/ops/*"}]}"#,
        );
        assert!(method_ids(&two).contains(&"create-access-key"));
    }

    #[test]
    fn finds_named_privilege_escalation_methods() {
        let a = analyze_text(
            r#"{"Statement":[
            {"Effect":"Allow","Action":["iam:PassRole"],"Resource":"arn:aws:iam::111122223333:role/lambda-*"},
            {"Effect":"Allow","Action":["lambda:CreateFunction","lambda:InvokeFunction","iam:CreatePolicyVersion"],"Resource":"*"}]}"#,
        );
        let ids = method_ids(&a);
        assert!(ids.contains(&"passrole-lambda-invoke"), "{ids:?}");
        assert!(ids.contains(&"create-policy-version"));
        assert!(!ids.contains(&"passrole-ec2"));
        let lambda = a
            .privilege_escalation
            .iter()
            .find(|p| p.method.id == "passrole-lambda-invoke")
            .unwrap();
        assert_eq!(lambda.statements, vec![0, 1]);
        assert!(!lambda.unrestricted, "PassRole is scoped to lambda-* roles");
        assert!(a.passrole_star.is_empty());
    }

    #[test]
    fn categories_count_actions_on_star() {
        let a = analyze_text(
            r#"{"Statement":[
            {"Effect":"Allow","Action":["s3:GetObject","s3:PutBucketPolicy","iam:CreateAccessKey","ec2:RunInstances"],"Resource":"*"},
            {"Effect":"Allow","Action":["secretsmanager:GetSecretValue"],"Resource":"arn:aws:secretsmanager:us-east-1:1:secret:x"}]}"#,
        );
        let names = |hits: &[ActionHit]| hits.iter().map(|h| h.action.clone()).collect::<Vec<_>>();
        assert_eq!(names(&a.data_exfiltration), vec!["s3:GetObject"]);
        assert_eq!(names(&a.credentials_exposure), vec!["iam:CreateAccessKey"]);
        assert!(names(&a.resource_exposure).contains(&"s3:PutBucketPolicy".to_owned()));
        assert!(names(&a.infrastructure_modification).contains(&"ec2:RunInstances".to_owned()));
        assert!(names(&a.mfa_missing).contains(&"iam:CreateAccessKey".to_owned()));
        assert_eq!(a.allowed_action_count, 5);
    }

    #[test]
    fn not_action_and_wildcards() {
        let a = analyze_text(
            r#"{"Statement":[
            {"Effect":"Allow","NotAction":["iam:*","organizations:*"],"Resource":"*"},
            {"Effect":"Allow","Action":["kms:*","s3:*"],"NotResource":"arn:aws:s3:::x"}]}"#,
        );
        assert_eq!(a.allow_not_action, vec![0]);
        assert_eq!(a.allow_not_resource, vec![1]);
        assert!(!a.is_admin);
        let kms = a
            .service_wildcards
            .iter()
            .find(|w| w.service == "kms")
            .unwrap();
        assert!(kms.sensitive);
        assert!(
            !a.service_wildcards
                .iter()
                .find(|w| w.service == "s3")
                .unwrap()
                .sensitive
        );
        assert!(method_ids(&a).contains(&"lambda-update-code"));
        assert!(!method_ids(&a).contains(&"attach-user-policy"));
    }

    #[test]
    fn passrole_star_needs_unlimited_passrole() {
        let a = analyze_text(
            r#"{"Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"*"}]}"#,
        );
        assert_eq!(a.passrole_star, vec![0]);
        let limited = analyze_text(
            r#"{"Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"*","Condition":{"StringEquals":{"iam:PassedToService":"ec2.amazonaws.com"}}}]}"#,
        );
        assert!(limited.passrole_star.is_empty());
    }

    #[test]
    fn mfa_condition_silences_mfa_missing() {
        let a = analyze_text(
            r#"{"Statement":[{"Effect":"Allow","Action":"iam:AttachUserPolicy","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}"#,
        );
        assert!(a.mfa_missing.is_empty());
        let bad = analyze_text(
            r#"{"Statement":[{"Effect":"Allow","Action":"iam:AttachUserPolicy","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"false"}}}]}"#,
        );
        assert_eq!(bad.mfa_missing.len(), 1);
    }

    #[test]
    fn unknown_actions_are_reported() {
        let a = analyze_text(
            r#"{"Statement":[{"Effect":"Allow","Action":["iam:listusers","iam:list","nosuch:Thing"],"Resource":"*"}]}"#,
        );
        assert_eq!(a.unknown_actions.len(), 2);
        assert!(!a.unknown_actions[0].unknown_service);
        assert!(a.unknown_actions[1].unknown_service);
        assert_eq!(a.unknown_actions[1].item, 2);
    }
}
