//! CT098 role-trust-granted-to-self: a role's trust policy rewritten so that the caller itself may assume
//! the role: an IAM user naming its own ARN, or a role session naming its own role (a role that trusts
//! itself, which lets a stolen session renew itself).

use trailguard_event::Record;
use trailguard_policy::glob::glob_match;
use trailguard_policy::{Effect, PolicyDocument, PrincipalKind, Statement};

use super::common::{
    call_failed, describe_caller, evidence, finding_for, identity_resource, made_by_aws,
    policy_text, request_field, role_session, sh, worth_reporting,
};
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::{FixAction, IdentityKind};
use crate::rule::{CloudTrailRule, EventContext, Report, ANY_EVENT};

pub const META: RuleMeta = RuleMeta {
    code: "CT098",
    name: "role-trust-granted-to-self",
    title: "Role trust policy changed to let the caller assume the role",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1098.003", "T1548", "T1078.004"],
    compliance: &[],
    // Routed `UpdateAssumeRolePolicy` only; CT010 shows the event's entry.
    events: &[ANY_EVENT],
    kb_entries: &[],
    doc: RuleDoc {
        what: "`UpdateAssumeRolePolicy` whose new trust policy has an `Allow` statement for `sts:AssumeRole` \
               (or a wildcard covering it) naming the caller itself as an AWS principal: an IAM user's own \
               ARN, or, for a role session, its role's ARN or the session's own `assumed-role` ARN. **medium**, \
               as either \"the caller made itself a way into role X\" or \"role X now trusts itself\" (when a \
               session of the role rewrote its own trust). A refused call is an attempt, one step lower. The \
               principals are compared without regard to case, as IAM names are. Conditions on the statement \
               are shown, not judged. Calls AWS services make, the account root as a principal (the account's \
               own policies decide then) and other principals of the account are not this rule's (CT010 \
               judges outsiders; CT054, with a snapshot, judges whether the change opens a path to \
               administrator).",
        why: "`iam:UpdateAssumeRolePolicy` followed by `sts:AssumeRole` is one of the documented privilege \
              escalation paths: a principal allowed to edit a more privileged role's trust names itself and \
              takes the role's permissions (ATT&CK T1098.003, T1548). A role that trusts itself lets a \
              session renew itself by assuming its own role again, so stolen role credentials outlive the \
              hour they were issued for (role chain juggling). Infrastructure code that manages the trust of \
              roles it deploys through also names itself, which is why this is medium.",
        example: "IAM user `dev-ci` runs `aws iam update-assume-role-policy --role-name billing-admin \
                  --policy-document '{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\
                  \"Principal\":{\"AWS\":\"arn:aws:iam::229654561268:user/dev-ci\"},\"Action\":\"sts:AssumeRole\"}]}'`.",
        fix: "Ask the caller why it needs the role. If not planned, restore the previous trust policy, revoke \
              the role's active sessions (IAM console, Revoke sessions) and review what the caller did as the \
              role. Deny `iam:UpdateAssumeRolePolicy` to principals that do not administer IAM.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateAssumeRolePolicy.html",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html",
            "https://aws.amazon.com/blogs/security/announcing-an-update-to-iam-role-trust-policy-behavior/",
            "https://attack.mitre.org/techniques/T1098/003/",
        ],
    },
};

const UPDATE_TRUST: (&str, &str) = ("iam.amazonaws.com", "UpdateAssumeRolePolicy");
const WATCHED: &[(&str, &str)] = &[UPDATE_TRUST];

/// The ARNs a trust policy would name the caller by: an IAM user's ARN; a role session's role ARN and
/// its own `assumed-role` ARN.
fn caller_arns<'r>(record: &'r Record<'_>) -> Vec<&'r str> {
    let identity = &record.user_identity;
    match identity.identity_type.as_deref() {
        Some("IAMUser") => identity.arn.as_deref().into_iter().collect(),
        Some("AssumedRole") => {
            let issuer = identity
                .session_context
                .as_ref()
                .and_then(|c| c.session_issuer.as_ref())
                .and_then(|i| i.arn.as_deref());
            issuer.into_iter().chain(identity.arn.as_deref()).collect()
        }
        _ => Vec::new(),
    }
}

/// Whether the statement's actions let a principal assume the role.
fn allows_assume_role(statement: &Statement) -> bool {
    let covers = statement.action.patterns.iter().any(|pattern| {
        glob_match(pattern.service.as_bytes(), b"sts", true)
            && glob_match(pattern.action.as_bytes(), b"assumerole", true)
    });
    covers != statement.action.negated
}

/// The caller ARN an `Allow` statement for `sts:AssumeRole` names, and that statement's index.
fn naming_caller<'r>(doc: &PolicyDocument, callers: &[&'r str]) -> Option<(&'r str, usize)> {
    doc.statements
        .iter()
        .filter(|s| s.effect == Effect::Allow && allows_assume_role(s))
        .find_map(|statement| {
            let principal = statement.principal.as_ref().filter(|p| !p.negated)?;
            principal
                .entries
                .iter()
                .filter(|(kind, ..)| *kind == PrincipalKind::Aws)
                .flat_map(|(_, _, values)| values)
                .find_map(|value| {
                    callers
                        .iter()
                        .find(|arn| arn.eq_ignore_ascii_case(value.trim()))
                })
                .map(|arn| (*arn, statement.index))
        })
}

/// Flags trust policies rewritten to name the caller.
#[derive(Debug, Default)]
pub struct RoleTrustGrantedToSelf;

impl CloudTrailRule for RoleTrustGrantedToSelf {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn watched(&self) -> &'static [(&'static str, &'static str)] {
        WATCHED
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        if record.event_source != UPDATE_TRUST.0
            || record.event_name != UPDATE_TRUST.1
            || made_by_aws(record)
        {
            return;
        }
        let callers = caller_arns(record);
        if callers.is_empty() {
            return;
        }
        let params = record.request_parameters();
        let Some(raw_text) = policy_text(params.as_ref(), "policyDocument") else {
            return;
        };
        let text = trailguard_policy::decode_policy_text(&raw_text).into_owned();
        let Ok(doc) = PolicyDocument::parse(&text) else {
            return;
        };
        let Some((named, statement)) = naming_caller(&doc, &callers) else {
            return;
        };
        let failed = call_failed(record);
        if !worth_reporting(failed, META.severity) {
            return;
        }
        let role =
            request_field(params.as_ref(), "roleName").unwrap_or_else(|| "unknown".to_owned());
        let itself = role_session(record)
            .is_some_and(|session| session.role_name.eq_ignore_ascii_case(&role));
        let who = describe_caller(&EventContext::from_record(record));
        let mut finding = finding_for(&META, record, META.severity);
        let what = if itself {
            format!(
                "the role trusts itself (`{named}`): a session of it can renew itself by assuming the role \
                 again"
            )
        } else {
            format!("the caller itself (`{named}`) may assume it and act with its permissions")
        };
        finding.message = if failed {
            format!(
                "{who} tried to change the trust policy of role `{role}` so that {what}; the call failed."
            )
        } else {
            format!("{who} changed the trust policy of role `{role}` so that {what}.")
        };
        finding.resource = Some(identity_resource(
            IdentityKind::Role,
            record.account_id(),
            &role,
        ));
        finding.evidence.push(evidence("trustedCaller", named));
        if let Some(statement) = doc.statements.iter().find(|s| s.index == statement) {
            finding.evidence.push(evidence(
                format!("requestParameters.policyDocument.{}", statement.path()),
                text.get(statement.span.start..statement.span.end)
                    .unwrap_or_default(),
            ));
        }
        if failed {
            finding.fix.summary =
                "Nothing changed; find out why the caller tried to make itself trusted by the role."
                    .to_owned();
            out.push(finding);
            return;
        }
        finding.fix.summary = format!(
            "Unless `{named}` is meant to assume `{role}`, restore the role's previous trust policy and revoke \
             its active sessions."
        );
        finding.fix.commands = vec![format!("aws iam get-role --role-name {}", sh(&role))];
        finding.fix.actions.push(FixAction::Manual {
            description: format!(
                "If `{named}` is not meant to assume role `{role}`, restore the role's previous trust policy, \
                 revoke its active sessions (IAM console, Revoke sessions) and review what was done as the role."
            ),
        });
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent, ASSUMED_ROLE_MFA, IAM_USER};

    fn trust(principal: &str, action: &str) -> String {
        let document = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Service":"ec2.amazonaws.com"}},"Action":"sts:AssumeRole"}},{{"Effect":"Allow","Principal":{{"AWS":"{principal}"}},"Action":"{action}"}}]}}"#
        );
        serde_json::json!({"roleName": "billing-admin", "policyDocument": document}).to_string()
    }

    fn update(identity: &str, principal: &str, action: &str) -> TestEvent {
        TestEvent::iam("UpdateAssumeRolePolicy")
            .identity(identity)
            .request(&trust(principal, action))
    }

    #[test]
    fn a_user_naming_itself_is_medium_whatever_the_case_or_wildcard() {
        for (principal, action) in [
            (
                "arn:aws:iam::229654561268:user/christophe",
                "sts:AssumeRole",
            ),
            ("ARN:AWS:IAM::229654561268:USER/CHRISTOPHE", "sts:Assume*"),
            ("arn:aws:iam::229654561268:user/christophe", "*"),
        ] {
            let findings = check(
                &RoleTrustGrantedToSelf,
                &update(IAM_USER, principal, action),
            );
            assert_eq!(findings.len(), 1, "{principal} {action}");
            assert_eq!(findings[0].severity, Severity::Medium);
            assert!(findings[0].message.contains("so that the caller itself"));
        }
    }

    #[test]
    fn others_the_account_and_other_actions_are_not_this_rules() {
        for (principal, action) in [
            ("arn:aws:iam::229654561268:user/alice", "sts:AssumeRole"),
            ("arn:aws:iam::229654561268:root", "sts:AssumeRole"),
            (
                "arn:aws:iam::229654561268:user/christophe",
                "sts:TagSession",
            ),
        ] {
            assert!(
                check(
                    &RoleTrustGrantedToSelf,
                    &update(IAM_USER, principal, action)
                )
                .is_empty(),
                "{principal} {action}"
            );
        }
    }

    #[test]
    fn a_role_session_naming_its_own_role_makes_it_trust_itself() {
        let role_arn = "arn:aws:iam::229654561268:role/Admin";
        let findings = check(
            &RoleTrustGrantedToSelf,
            &update(ASSUMED_ROLE_MFA, role_arn, "sts:AssumeRole")
                .request(&trust(role_arn, "sts:AssumeRole").replace("billing-admin", "Admin")),
        );
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert!(findings[0].message.contains("the role trusts itself"));
        let refused = check(
            &RoleTrustGrantedToSelf,
            &update(ASSUMED_ROLE_MFA, role_arn, "sts:AssumeRole").denied(),
        );
        assert_eq!(refused[0].severity, Severity::Low);
        assert!(refused[0].fix.actions.is_empty());
    }
}
