//! CT023 federation-token-persistence: sts GetFederationToken called by an IAM user.

use trailguard_event::Record;

use super::common::{
    call_failed, caller_iam_user, deny_sessions_issued_before, describe_caller, evidence,
    finding_for, policy_text, request_field, sh,
};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{CloudTrailRule, EventContext, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT023",
    name: "federation-token-persistence",
    title: "Federation token obtained by an IAM user",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1078.004", "T1550.001"],
    compliance: &[],
    events: &[("sts.amazonaws.com", "GetFederationToken")],
    kb_entries: &["GetFederationToken"],
    doc: RuleDoc {
        what: "`GetFederationToken` called with an IAM user's long-term access key. The finding is **high** when \
               the session policy passed in `requestParameters.policy` allows everything (`\"Action\": \"*\"`), \
               i.e. the session keeps all of the user's rights.",
        why: "Federation tokens last up to 36 hours and survive the deletion or deactivation of the access key \
              that created them. An attacker holding a stolen key mints one to keep access after the key is \
              rotated (Stratus Red Team `sts-federation-token`). The resulting `FederatedUser` sessions are rare \
              in most accounts and easy to overlook.",
        example: "IAM user `ci-deployer` calls `aws sts get-federation-token --name backup --policy '{...\"Action\":\"*\"...}'`.",
        fix: "Deactivate the user's key if the call is unexpected. Deleting the key does not end the federated \
              session: attach an inline policy to the user that denies everything for tokens issued up to the \
              event (`aws:TokenIssueTime`), which cuts off the session, or delete the user.",
        references: &[
            "https://docs.aws.amazon.com/STS/latest/APIReference/API_GetFederationToken.html",
            "https://stratus-red-team.cloud/attack-techniques/AWS/aws.persistence.sts-federation-token/",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_disable-perms.html",
        ],
    },
};

/// Flags federation tokens requested by IAM users.
#[derive(Debug, Default)]
pub struct FederationTokenPersistence;

impl CloudTrailRule for FederationTokenPersistence {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let Some(user) = caller_iam_user(record).map(str::to_owned) else {
            return;
        };
        let params = record.request_parameters();
        let name = request_field(params.as_ref(), "name").unwrap_or_else(|| "unknown".to_owned());
        let session_policy = policy_text(params.as_ref(), "policy");
        let admin_session = session_policy
            .as_deref()
            .is_some_and(super::document_risk::is_admin_document);
        let severity = if admin_session {
            Severity::High
        } else {
            META.severity
        };
        let response = record.response_elements();
        let federated_arn = response
            .as_ref()
            .and_then(|r| r.pointer("/federatedUser/arn")?.as_str().map(str::to_owned));
        let mut finding = finding_for(&META, record, severity);
        let who = describe_caller(&EventContext::from_record(record));
        finding.message = if call_failed(record) {
            format!("{who} tried to get a federation token named `{name}`; the call failed.")
        } else {
            let mut m = format!(
                "{who} got a federation token named `{name}`; the session outlives the access key that created it."
            );
            if admin_session {
                m.push_str(" Its session policy allows every action.");
            }
            m
        };
        finding.resource = Some(Resource {
            kind: "AwsStsFederatedUser".to_owned(),
            id: federated_arn.unwrap_or_else(|| {
                format!(
                    "arn:aws:sts::{}:federated-user/{name}",
                    record.account_id().unwrap_or("ACCOUNT_ID")
                )
            }),
            name: Some(name.clone()),
        });
        finding
            .evidence
            .push(evidence("requestParameters.name", name.as_str()));
        if let Some(policy) = &session_policy {
            finding
                .evidence
                .push(evidence("requestParameters.policy", policy.as_str()));
        }
        if call_failed(record) {
            finding.fix.summary = "No token was issued; check why this user tried.".to_owned();
        } else {
            let key = record
                .user_identity
                .access_key_id
                .as_deref()
                .unwrap_or("ACCESS_KEY_ID")
                .to_owned();
            // Deny every session this user got up to and including this token (issued at the event time);
            // sessions started later with a new key are not affected.
            let cutoff = trailguard_event::parse_event_time(&record.event_time)
                .map(|t| t + chrono::Duration::seconds(1))
                .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                .unwrap_or_else(|| record.event_time.to_string());
            let deny = deny_sessions_issued_before(&cutoff);
            finding.fix.summary = format!(
                "If unexpected: deactivate key {key} of `{user}` and deny the sessions issued up to this token with an inline policy."
            );
            finding.fix.commands = vec![
                format!("aws iam update-access-key --user-name {} --access-key-id {} --status Inactive", sh(&user), sh(&key)),
                format!(
                    "aws iam put-user-policy --user-name {} --policy-name trailguard-revoke-old-sessions --policy-document {}",
                    sh(&user),
                    sh(&deny)
                ),
            ];
            finding.fix.actions.push(FixAction::DeactivateAccessKey {
                user_name: user,
                access_key_id: key,
            });
        }
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent, ASSUMED_ROLE_MFA};

    fn token(policy: &str) -> TestEvent {
        TestEvent::new("sts.amazonaws.com", "GetFederationToken")
            .request(&format!(r#"{{"name":"stratus_red_team","policy":{}}}"#, serde_json::Value::from(policy)))
            .response(r#"{"credentials":{"accessKeyId":"ASIASTJKC5GCM7ZE6LUP","expiration":"Nov 30, 2024, 8:43:17 PM","sessionToken":"IQoJb3JpZ2luX2VjEOH"},"federatedUser":{"arn":"arn:aws:sts::229654561268:federated-user/stratus_red_team","federatedUserId":"229654561268:stratus_red_team"},"packedPolicySize":4}"#)
    }

    #[test]
    fn an_admin_session_policy_is_high() {
        let e = token(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        );
        let f = &check(&FederationTokenPersistence, &e)[0];
        assert_eq!(f.severity, Severity::High);
        assert_eq!(
            f.resource.as_ref().unwrap().id,
            "arn:aws:sts::229654561268:federated-user/stratus_red_team"
        );
        assert!(
            f.fix.commands[0].contains("--access-key-id AKIAOZUDECYXYM4ONAN4 --status Inactive")
        );
        assert!(
            f.fix.commands[1].contains(r#""aws:TokenIssueTime":"2024-08-01T13:33:29Z""#),
            "{}",
            f.fix.commands[1]
        );
    }

    #[test]
    fn a_narrow_session_policy_is_medium() {
        let e = token(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"}]}"#,
        );
        assert_eq!(
            check(&FederationTokenPersistence, &e)[0].severity,
            Severity::Medium
        );
    }

    #[test]
    fn non_users_and_denials() {
        let by_role = token("{}").identity(ASSUMED_ROLE_MFA);
        assert!(check(&FederationTokenPersistence, &by_role).is_empty());
        let f = &check(&FederationTokenPersistence, &token("{}").denied())[0];
        assert_eq!(f.severity, Severity::Low);
        assert!(f.fix.actions.is_empty());
    }
}
