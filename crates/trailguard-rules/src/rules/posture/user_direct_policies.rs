//! PA013 user-direct-policies: IAM users with policies attached or embedded directly, not through groups.

use trailguard_account::snapshot::AUTHORIZATION_DETAILS;

use super::{evidence, user_resource, PostureContext, Report};
use crate::call::Call;
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::remediation::IdentityKind;

pub const META: RuleMeta = RuleMeta {
    code: "PA013",
    name: "user-direct-policies",
    title: "User has policies attached directly",
    family: Family::Posture,
    severity: Severity::Low,
    attack: &["T1098"],
    compliance: &["CIS-1.15", "IAM.2"],
    events: &[],
    kb_entries: &["AttachUserPolicy", "PutUserPolicy"],
    doc: RuleDoc {
        what: "IAM users with inline policies (`UserPolicyList`) or managed policies attached to the user itself \
               (`AttachedManagedPolicies`) in the authorization details. One finding per user, listing them.",
        why: "Permissions granted one user at a time drift: nobody reviews them as a set, they outlive role \
              changes, and an attacker's `AttachUserPolicy` blends in. Granting through groups (or better, \
              roles) keeps access reviewable.",
        example: "`{\"UserName\": \"alice\", \"AttachedManagedPolicies\": [{\"PolicyName\": \"AdministratorAccess\"}]}`",
        fix: "Create or pick a group that carries the permission, add the user, then detach the user's managed \
              policies and delete its inline ones.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html",
            "https://docs.aws.amazon.com/securityhub/latest/userguide/iam-controls.html#iam-2",
        ],
    },
};

pub fn check(ctx: &PostureContext<'_>) -> Report {
    let Some(details) = &ctx.snapshot.authorization else {
        return Report::missing(AUTHORIZATION_DETAILS);
    };
    let mut findings = Vec::new();
    for user in &details.user_detail_list {
        let inline: Vec<&str> = user
            .user_policy_list
            .iter()
            .map(|p| p.policy_name.as_str())
            .collect();
        let managed: Vec<&str> = user
            .attached_managed_policies
            .iter()
            .map(|p| p.policy_arn.as_str())
            .collect();
        if inline.is_empty() && managed.is_empty() {
            continue;
        }
        let mut parts = Vec::new();
        if !managed.is_empty() {
            parts.push(format!("managed {}", managed.join(", ")));
        }
        if !inline.is_empty() {
            parts.push(format!("inline {}", inline.join(", ")));
        }
        let mut finding = ctx.finding(
            &META,
            user_resource(&user.arn, &user.user_name),
            "",
            format!(
                "IAM user `{}` has policies of its own instead of through a group: {}.",
                user.user_name,
                parts.join("; ")
            ),
        );
        finding.evidence.push(evidence(
            "AttachedManagedPolicies",
            serde_json::to_value(&user.attached_managed_policies).unwrap_or_default(),
        ));
        if !inline.is_empty() {
            finding
                .evidence
                .push(evidence("UserPolicyList[].PolicyName", inline.clone()));
        }
        for arn in &managed {
            let detach = Call::DetachPolicy {
                principal_kind: IdentityKind::User,
                principal_name: user.user_name.clone(),
                policy_arn: arn.to_string(),
            };
            finding.fix.commands.push(detach.to_cli());
        }
        finding.fix.actions.push(FixAction::Manual {
            description: format!(
                "Grant `{}`'s permissions through a group, then remove the user's own policies.",
                user.user_name
            ),
        });
        findings.push(finding);
    }
    Report::evaluated(findings)
}

#[cfg(test)]
mod tests {
    use super::super::testkit;
    use super::*;
    use crate::rules::posture::PostureContext;

    #[test]
    fn cloudsplaining_users_with_their_own_policies() {
        let snap = testkit::cloudsplaining();
        let ctx = PostureContext::new(&snap, Some(testkit::now()));
        let outcome = check(&ctx);
        let names = testkit::names(&outcome);
        // Verified by hand in example.json: users with AttachedManagedPolicies or UserPolicyList.
        assert!(
            names.contains(&"fn1-privesc3-partial-user".to_owned()),
            "{names:?}"
        );
        let expected = snap
            .authorization
            .as_ref()
            .unwrap()
            .user_detail_list
            .iter()
            .filter(|u| !u.attached_managed_policies.is_empty() || !u.user_policy_list.is_empty())
            .count();
        assert_eq!(names.len(), expected);
        assert!(expected > 10 && expected < 44, "{expected}");
        let f = &outcome.findings()[names
            .iter()
            .position(|n| n == "fn1-privesc3-partial-user")
            .unwrap()];
        assert_eq!(
            f.message,
            "IAM user `fn1-privesc3-partial-user` has policies of its own instead of through a group: managed \
             arn:aws:iam::200611803367:policy/fn1-passrole-star, arn:aws:iam::200611803367:policy/fn1-privesc3-partial."
        );
    }

    #[test]
    fn group_only_users_pass() {
        let details = r#"{"UserDetailList":[{"UserName":"g","Arn":"arn:aws:iam::111122223333:user/g","GroupList":["devs"]}]}"#;
        assert_eq!(
            testkit::run(check, &[(AUTHORIZATION_DETAILS, details)]),
            Report::evaluated(Vec::new())
        );
    }
}
