//! CT060 iam-changed-by-instance: an IAM identity or permission change made with an EC2 instance's role
//! credentials (a role session named after the instance, as EC2 names the sessions it hands out).

use trailguard_event::Record;

use super::common::{
    call_failed, describe_caller, event_in, evidence, finding_for, is_instance_id, role_session, sh,
};
use crate::finding::{Finding, Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{CloudTrailRule, EventContext, Report, ANY_EVENT};

/// The IAM changes watched: users, their credentials and their permissions first (a workload rarely
/// needs any of them: high), then roles and policies ([`ROLES_AND_POLICIES`]: medium). CT091 watches the
/// same changes made from a Lambda function or an ECS task, starting its findings with [`workload_iam_change`].
pub(super) const WATCHED: &[(&str, &str)] = &[
    ("iam.amazonaws.com", "CreateUser"),
    ("iam.amazonaws.com", "CreateAccessKey"),
    ("iam.amazonaws.com", "CreateLoginProfile"),
    ("iam.amazonaws.com", "UpdateLoginProfile"),
    ("iam.amazonaws.com", "AddUserToGroup"),
    ("iam.amazonaws.com", "AttachUserPolicy"),
    ("iam.amazonaws.com", "PutUserPolicy"),
    ("iam.amazonaws.com", "UploadSSHPublicKey"),
    ("iam.amazonaws.com", "CreateServiceSpecificCredential"),
    ("iam.amazonaws.com", "CreateRole"),
    ("iam.amazonaws.com", "UpdateAssumeRolePolicy"),
    ("iam.amazonaws.com", "AttachRolePolicy"),
    ("iam.amazonaws.com", "PutRolePolicy"),
    ("iam.amazonaws.com", "AttachGroupPolicy"),
    ("iam.amazonaws.com", "PutGroupPolicy"),
    ("iam.amazonaws.com", "CreatePolicy"),
    ("iam.amazonaws.com", "CreatePolicyVersion"),
    ("iam.amazonaws.com", "SetDefaultPolicyVersion"),
];

/// The watched changes an infrastructure-as-code runner on an instance may make as its job: medium.
const ROLES_AND_POLICIES: &[&str] = &[
    "CreateRole",
    "UpdateAssumeRolePolicy",
    "AttachRolePolicy",
    "PutRolePolicy",
    "AttachGroupPolicy",
    "PutGroupPolicy",
    "CreatePolicy",
    "CreatePolicyVersion",
    "SetDefaultPolicyVersion",
];

pub const META: RuleMeta = RuleMeta {
    code: "CT060",
    name: "iam-changed-by-instance",
    title: "IAM changed with an EC2 instance's credentials",
    family: Family::Cloudtrail,
    severity: Severity::High,
    attack: &["T1552.005", "T1098", "T1136.003"],
    compliance: &[],
    // Routed only the `WATCHED` events: it judges the caller, so their entries need not show it firing.
    events: &[ANY_EVENT],
    kb_entries: &[],
    doc: RuleDoc {
        what: "An IAM change made by a role session whose name is an EC2 instance id (`i-` and 8 or 17 hex \
               digits), which is how EC2 names the sessions of the instance-profile credentials it serves \
               through the instance metadata service. **high** for users, their credentials and their \
               permissions (`CreateUser`, `CreateAccessKey`, `CreateLoginProfile`, `UpdateLoginProfile`, \
               `AddUserToGroup`, `AttachUserPolicy`, `PutUserPolicy`, `UploadSSHPublicKey`, \
               `CreateServiceSpecificCredential`); **medium** for roles and policies (`CreateRole`, \
               `UpdateAssumeRolePolicy`, `Attach/PutRolePolicy`, `Attach/PutGroupPolicy`, `CreatePolicy`, \
               `CreatePolicyVersion`, `SetDefaultPolicyVersion`), which an infrastructure-as-code runner on \
               an instance may make as its job. A refused call is an attempt, one step lower. The instance \
               id, its role and what was changed are in the evidence.",
        why: "Credentials taken from an instance's metadata service (through SSRF in a web application, or \
              a foothold on the host) are the commonest way into an AWS account from a workload (ATT&CK \
              T1552.005). An attacker holding them makes IAM users, keys and passwords to keep access \
              after the instance is gone (T1136.003, T1098). Applications seldom manage IAM identities, so \
              the change itself, made by an instance, is the signal; peers raise it for `CreateUser` alone.",
        example: "Role session `arn:aws:sts::111122223333:assumed-role/web-app/i-0a1b2c3d4e5f67890` calls \
                  `CreateUser` for `support-backup`, then `CreateAccessKey` and `AttachUserPolicy` with \
                  `AdministratorAccess`.",
        fix: "Find out whether the software on the instance is meant to change IAM. If not, treat the role's \
              credentials as stolen: revoke the role's sessions, require IMDSv2 on the instance (and find the \
              SSRF or the foothold), undo the change, and remove the IAM permissions from the instance's \
              role. If it is an infrastructure runner, give it a role of its own assumed per job.",
        references: &[
            "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/iam-roles-for-amazon-ec2.html",
            "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html",
            "https://attack.mitre.org/techniques/T1552/005/",
        ],
    },
};

/// What the call changed, named from its request: the user, role, group or policy.
fn changed(params: Option<&serde_json::Value>) -> Option<String> {
    let params = params?;
    [
        "userName",
        "roleName",
        "groupName",
        "policyArn",
        "policyName",
    ]
    .iter()
    .find_map(|key| params.get(*key)?.as_str())
    .map(str::to_owned)
}

/// What a watched IAM change changed ([`changed`]), and `` on `TARGET` `` for a message (empty when the
/// request names nothing). CT060, CT091 and CT096 say it the same way.
pub(super) fn change_target(record: &Record<'_>) -> (Option<String>, String) {
    let target = changed(record.request_parameters().as_ref());
    let on = target
        .as_deref()
        .map(|t| format!(" on `{t}`"))
        .unwrap_or_default();
    (target, on)
}

/// A watched IAM change as CT060 and CT091 start their finding: at its severity (high for users, their
/// credentials and permissions, medium for roles and policies; [`finding_for`] lowers a refused call), with
/// who made it and what it changed.
pub(super) struct WorkloadIamChange {
    pub finding: Finding,
    /// The caller, described.
    pub who: String,
    /// The user, role, group or policy the request names.
    pub target: Option<String>,
    /// `` on `TARGET` `` for a message, empty when the request names nothing.
    pub on: String,
    pub failed: bool,
}

pub(super) fn workload_iam_change(
    meta: &'static RuleMeta,
    record: &Record<'_>,
) -> WorkloadIamChange {
    let severity = if ROLES_AND_POLICIES.contains(&record.event_name.as_ref()) {
        Severity::Medium
    } else {
        Severity::High
    };
    let (target, on) = change_target(record);
    WorkloadIamChange {
        finding: finding_for(meta, record, severity),
        who: describe_caller(&EventContext::from_record(record)),
        target,
        on,
        failed: call_failed(record),
    }
}

/// Flags IAM changes made with instance-profile credentials.
#[derive(Debug, Default)]
pub struct IamChangedByInstance;

impl CloudTrailRule for IamChangedByInstance {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn watched(&self) -> &'static [(&'static str, &'static str)] {
        WATCHED
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        if !event_in(record, WATCHED) {
            return;
        }
        let Some(session) = role_session(record).filter(|s| is_instance_id(s.session_name)) else {
            return;
        };
        let name = record.event_name.as_ref();
        let instance = session.session_name;
        let WorkloadIamChange {
            mut finding,
            who,
            target,
            on,
            failed,
        } = workload_iam_change(&META, record);
        finding.message = if failed {
            format!(
                "{who}, the credentials of EC2 instance {instance}, tried to call iam:{name}{on}; the call failed."
            )
        } else {
            format!(
                "{who}, the credentials of EC2 instance {instance}, called iam:{name}{on}: workloads seldom \
                 change IAM, and stolen instance credentials do."
            )
        };
        finding.resource = Some(Resource {
            kind: "AwsEc2Instance".to_owned(),
            id: instance.to_owned(),
            name: Some(instance.to_owned()),
        });
        finding.evidence.push(evidence("instanceId", instance));
        finding
            .evidence
            .push(evidence("instanceRole", session.role_name));
        if let Some(target) = &target {
            finding.evidence.push(evidence("changed", target.as_str()));
        }
        if failed {
            finding.fix.summary =
                "Nothing changed; find out why software on the instance tried to change IAM."
                    .to_owned();
        } else {
            let region = record.aws_region.as_deref().unwrap_or("us-east-1");
            let require_imdsv2 = format!(
                "aws ec2 modify-instance-metadata-options --region {} --instance-id {} --http-tokens required \
                 --http-endpoint enabled",
                sh(region),
                sh(instance)
            );
            finding.fix.summary = format!(
                "Confirm software on {instance} is meant to change IAM; if not, revoke the sessions of role \
                 `{}`, require IMDSv2 on the instance and undo iam:{name}{on}.",
                session.role_name
            );
            finding.fix.commands = vec![require_imdsv2];
            finding.fix.actions.push(FixAction::Manual {
                description: format!(
                    "If {instance} is not meant to change IAM, revoke the active sessions of role `{}` \
                     (IAM console, Revoke sessions), require IMDSv2 on the instance and undo the change.",
                    session.role_name
                ),
            });
        }
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent, ASSUMED_ROLE_MFA};

    fn instance_identity(session: &str) -> String {
        format!(
            r#"{{"type":"AssumedRole","principalId":"AROAQRSTUVWXEXAMPLE02:{session}","arn":"arn:aws:sts::229654561268:assumed-role/web-app/{session}","accountId":"229654561268","accessKeyId":"ASIAQRSTUVWXEXAMPLE2","sessionContext":{{"sessionIssuer":{{"type":"Role","principalId":"AROAQRSTUVWXEXAMPLE02","arn":"arn:aws:iam::229654561268:role/web-app","accountId":"229654561268","userName":"web-app"}},"attributes":{{"creationDate":"2024-08-01T13:00:00Z","mfaAuthenticated":"false"}},"ec2RoleDelivery":"2.0"}}}}"#
        )
    }

    #[test]
    fn users_and_keys_made_by_an_instance_are_high_and_roles_medium() {
        let identity = instance_identity("i-0a1b2c3d4e5f67890");
        let user = TestEvent::iam("CreateUser")
            .identity(&identity)
            .request(r#"{"userName":"support-backup"}"#);
        let f = &check(&IamChangedByInstance, &user)[0];
        assert_eq!(f.severity, Severity::High);
        assert_eq!(
            f.resource.as_ref().map(|r| r.id.as_str()),
            Some("i-0a1b2c3d4e5f67890")
        );
        assert!(f.message.contains("`support-backup`"), "{}", f.message);
        assert!(f.fix.commands[0].contains("--http-tokens required"));
        let role = TestEvent::iam("AttachRolePolicy")
            .identity(&identity)
            .request(
                r#"{"roleName":"app","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}"#,
            );
        assert_eq!(
            check(&IamChangedByInstance, &role)[0].severity,
            Severity::Medium
        );
        let refused = TestEvent::iam("CreateAccessKey")
            .identity(&identity)
            .request(r#"{"userName":"admin"}"#)
            .denied();
        let f = &check(&IamChangedByInstance, &refused)[0];
        assert_eq!(f.severity, Severity::Medium);
        assert!(f.fix.actions.is_empty());
    }

    #[test]
    fn every_role_and_policy_change_is_watched() {
        for name in ROLES_AND_POLICIES {
            assert!(WATCHED.iter().any(|(_, watched)| watched == name), "{name}");
        }
    }

    #[test]
    fn only_sessions_named_like_an_instance_count() {
        for session in ["i-0a1b2c3d", "i-0a1b2c3d4e5f67890", "i-0A1B2C3D"] {
            assert!(is_instance_id(session), "{session}");
        }
        for session in [
            "i-0a1b2c3",
            "i-0a1b2c3g",
            "i-0a1b2c3d4e5f6789",
            "alice",
            "i-",
            "x-0a1b2c3d",
        ] {
            assert!(!is_instance_id(session), "{session}");
        }
        let person = TestEvent::iam("CreateUser")
            .identity(ASSUMED_ROLE_MFA)
            .request(r#"{"userName":"support-backup"}"#);
        assert!(check(&IamChangedByInstance, &person).is_empty());
        let user = TestEvent::iam("CreateUser").request(r#"{"userName":"support-backup"}"#);
        assert!(check(&IamChangedByInstance, &user).is_empty());
    }
}
