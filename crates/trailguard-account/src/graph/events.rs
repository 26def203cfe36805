//! Reading a [`Change`] from an IAM write event of CloudTrail.
//!
//! The contract: [`change_of`] takes a successful call's `eventName`, `requestParameters` and
//! `responseElements` (a failed call changed nothing: the caller leaves it out) and answers
//! `Ok(None)` for an event that does not change who may do what (`CreateAccessKey`, reads, other
//! services), `Ok(Some(change))` for one that does, and `Err` naming the missing field for one whose
//! record lacks what the change needs. Every string comes from the record, so nothing here trusts
//! it beyond its type: a policy document that is not JSON becomes `null` (no statement, so it grants
//! nothing), never a failure of the run.

use serde_json::Value;

use super::{Change, NodeKind};
use crate::snapshot::decode_policy_document;

/// Every `eventName` (of `iam.amazonaws.com`) that [`change_of`] turns into a change.
pub const CHANGE_EVENTS: &[&str] = &[
    "CreateUser",
    "CreateRole",
    "CreateGroup",
    "DeleteUser",
    "DeleteRole",
    "DeleteGroup",
    "CreatePolicy",
    "DeletePolicy",
    "CreatePolicyVersion",
    "DeletePolicyVersion",
    "SetDefaultPolicyVersion",
    "PutUserPolicy",
    "PutRolePolicy",
    "PutGroupPolicy",
    "DeleteUserPolicy",
    "DeleteRolePolicy",
    "DeleteGroupPolicy",
    "AttachUserPolicy",
    "AttachRolePolicy",
    "AttachGroupPolicy",
    "DetachUserPolicy",
    "DetachRolePolicy",
    "DetachGroupPolicy",
    "UpdateAssumeRolePolicy",
    "AddUserToGroup",
    "RemoveUserFromGroup",
    "PutUserPermissionsBoundary",
    "PutRolePermissionsBoundary",
    "DeleteUserPermissionsBoundary",
    "DeleteRolePermissionsBoundary",
];

/// The change an IAM event made; see the module doc.
pub fn change_of(
    event_name: &str,
    params: Option<&Value>,
    response: Option<&Value>,
    account: Option<&str>,
) -> Result<Option<Change>, String> {
    let empty = Value::Null;
    let params = params.unwrap_or(&empty);
    let text = |key: &str| -> Result<String, String> {
        params
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("{event_name} without requestParameters.{key}"))
    };
    let optional = |key: &str| params.get(key).and_then(Value::as_str).map(str::to_owned);
    let document = |key: &str| -> Result<Value, String> {
        let raw = text(key)?;
        Ok(decode_policy_document(&raw).unwrap_or(Value::Null))
    };
    // The ARN of an entity the event created: the response names it; without one, the account and
    // the path make it.
    let created_arn = |field: &str, kind: &str, name: &str| -> Result<String, String> {
        if let Some(arn) = response
            .and_then(|r| r.get(field))
            .and_then(|e| e.get("arn"))
            .and_then(Value::as_str)
        {
            return Ok(arn.to_owned());
        }
        let account = account.ok_or_else(|| format!("{event_name} without an account or ARN"))?;
        let path = optional("path").unwrap_or_else(|| "/".to_owned());
        Ok(format!("arn:aws:iam::{account}:{kind}{path}{name}"))
    };
    let kind_of = |event: &str| {
        if event.contains("User") {
            NodeKind::User
        } else if event.contains("Role") {
            NodeKind::Role
        } else {
            NodeKind::Group
        }
    };
    let name_key = |kind: NodeKind| match kind {
        NodeKind::User => "userName",
        NodeKind::Role => "roleName",
        NodeKind::Group => "groupName",
    };
    let change = match event_name {
        "CreateUser" => {
            let name = text("userName")?;
            Change::CreateUser {
                arn: created_arn("user", "user", &name)?,
                boundary: optional("permissionsBoundary"),
                name,
            }
        }
        "CreateRole" => {
            let name = text("roleName")?;
            Change::CreateRole {
                arn: created_arn("role", "role", &name)?,
                trust: document("assumeRolePolicyDocument")?,
                boundary: optional("permissionsBoundary"),
                name,
            }
        }
        "CreateGroup" => {
            let name = text("groupName")?;
            Change::CreateGroup {
                arn: created_arn("group", "group", &name)?,
                name,
            }
        }
        "DeleteUser" | "DeleteRole" | "DeleteGroup" => {
            let kind = kind_of(event_name);
            Change::DeleteEntity {
                kind,
                name: text(name_key(kind))?,
            }
        }
        "CreatePolicy" => {
            let name = text("policyName")?;
            Change::CreatePolicy {
                arn: created_arn("policy", "policy", &name)?,
                document: document("policyDocument")?,
            }
        }
        "DeletePolicy" => Change::DeletePolicy {
            arn: text("policyArn")?,
        },
        "CreatePolicyVersion" => {
            let version_id = response
                .and_then(|r| r.get("policyVersion"))
                .and_then(|v| v.get("versionId"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    format!("{event_name} without responseElements.policyVersion.versionId")
                })?
                .to_owned();
            Change::CreatePolicyVersion {
                policy_arn: text("policyArn")?,
                version_id,
                document: document("policyDocument")?,
                set_as_default: params
                    .get("setAsDefault")
                    .is_some_and(|v| v.as_bool() == Some(true) || v.as_str() == Some("true")),
            }
        }
        "DeletePolicyVersion" => Change::DeletePolicyVersion {
            policy_arn: text("policyArn")?,
            version_id: text("versionId")?,
        },
        "SetDefaultPolicyVersion" => Change::SetDefaultPolicyVersion {
            policy_arn: text("policyArn")?,
            version_id: text("versionId")?,
        },
        "PutUserPolicy" | "PutRolePolicy" | "PutGroupPolicy" => {
            let kind = kind_of(event_name);
            Change::PutInlinePolicy {
                kind,
                name: text(name_key(kind))?,
                policy_name: text("policyName")?,
                document: document("policyDocument")?,
            }
        }
        "DeleteUserPolicy" | "DeleteRolePolicy" | "DeleteGroupPolicy" => {
            let kind = kind_of(event_name);
            Change::DeleteInlinePolicy {
                kind,
                name: text(name_key(kind))?,
                policy_name: text("policyName")?,
            }
        }
        "AttachUserPolicy" | "AttachRolePolicy" | "AttachGroupPolicy" => {
            let kind = kind_of(event_name);
            Change::AttachPolicy {
                kind,
                name: text(name_key(kind))?,
                policy_arn: text("policyArn")?,
            }
        }
        "DetachUserPolicy" | "DetachRolePolicy" | "DetachGroupPolicy" => {
            let kind = kind_of(event_name);
            Change::DetachPolicy {
                kind,
                name: text(name_key(kind))?,
                policy_arn: text("policyArn")?,
            }
        }
        "UpdateAssumeRolePolicy" => Change::UpdateAssumeRolePolicy {
            role: text("roleName")?,
            document: document("policyDocument")?,
        },
        "AddUserToGroup" => Change::AddUserToGroup {
            user: text("userName")?,
            group: text("groupName")?,
        },
        "RemoveUserFromGroup" => Change::RemoveUserFromGroup {
            user: text("userName")?,
            group: text("groupName")?,
        },
        "PutUserPermissionsBoundary" | "PutRolePermissionsBoundary" => {
            let kind = kind_of(event_name);
            Change::PutPermissionsBoundary {
                kind,
                name: text(name_key(kind))?,
                policy_arn: Some(text("permissionsBoundary")?),
            }
        }
        "DeleteUserPermissionsBoundary" | "DeleteRolePermissionsBoundary" => {
            let kind = kind_of(event_name);
            Change::PutPermissionsBoundary {
                kind,
                name: text(name_key(kind))?,
                policy_arn: None,
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(change))
}

/// What a change is about, for messages: `user `bob``, `policy `arn:...``.
pub fn subject_of(change: &Change) -> String {
    let kind = |k: &NodeKind| format!("{k:?}").to_lowercase();
    match change {
        Change::CreateUser { name, .. } => format!("user `{name}`"),
        Change::CreateRole { name, .. } | Change::UpdateAssumeRolePolicy { role: name, .. } => {
            format!("role `{name}`")
        }
        Change::CreateGroup { name, .. } => format!("group `{name}`"),
        Change::DeleteEntity { kind: k, name }
        | Change::PutInlinePolicy { kind: k, name, .. }
        | Change::DeleteInlinePolicy { kind: k, name, .. }
        | Change::AttachPolicy { kind: k, name, .. }
        | Change::DetachPolicy { kind: k, name, .. }
        | Change::PutPermissionsBoundary { kind: k, name, .. } => format!("{} `{name}`", kind(k)),
        Change::CreatePolicy { arn, .. }
        | Change::DeletePolicy { arn }
        | Change::CreatePolicyVersion {
            policy_arn: arn, ..
        }
        | Change::DeletePolicyVersion {
            policy_arn: arn, ..
        }
        | Change::SetDefaultPolicyVersion {
            policy_arn: arn, ..
        } => format!("policy `{arn}`"),
        Change::AddUserToGroup { user, group } | Change::RemoveUserFromGroup { user, group } => {
            format!("user `{user}` in group `{group}`")
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn real_record_shapes_become_changes() {
        // requestParameters and responseElements of the Stratus Red Team CreateRole record.
        let params = json!({"assumeRolePolicyDocument": "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [{\"Effect\": \"Allow\", \"Principal\": {\"AWS\": \"arn:aws:iam::193672423079:root\"}, \"Action\": \"sts:AssumeRole\"}]}",
            "permissionsBoundary": "arn:aws:iam::aws:policy/AWSDenyAll", "roleName": "stratus-red-team-malicious-iam-role"});
        let response = json!({"role": {"arn": "arn:aws:iam::609418236337:role/stratus-red-team-malicious-iam-role", "path": "/"}});
        let change = change_of(
            "CreateRole",
            Some(&params),
            Some(&response),
            Some("609418236337"),
        )
        .unwrap()
        .unwrap();
        let Change::CreateRole {
            name,
            arn,
            trust,
            boundary,
        } = change
        else {
            panic!("{change:?}")
        };
        assert_eq!(name, "stratus-red-team-malicious-iam-role");
        assert_eq!(
            arn,
            "arn:aws:iam::609418236337:role/stratus-red-team-malicious-iam-role"
        );
        assert_eq!(
            trust["Statement"][0]["Principal"]["AWS"],
            "arn:aws:iam::193672423079:root"
        );
        assert_eq!(
            boundary.as_deref(),
            Some("arn:aws:iam::aws:policy/AWSDenyAll")
        );

        let version = change_of(
            "CreatePolicyVersion",
            Some(&json!({"policyArn": "arn:aws:iam::1:policy/p", "policyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":[]}", "setAsDefault": true})),
            Some(&json!({"policyVersion": {"versionId": "v3", "isDefaultVersion": true}})),
            None,
        )
        .unwrap()
        .unwrap();
        assert!(
            matches!(version, Change::CreatePolicyVersion { ref version_id, set_as_default: true, .. } if version_id == "v3")
        );
        // Without the version id the record cannot say which version it made.
        let err = change_of(
            "CreatePolicyVersion",
            Some(&json!({"policyArn": "p", "policyDocument": "{}"})),
            None,
            None,
        )
        .unwrap_err();
        assert!(err.contains("versionId"), "{err}");
        // A CreateUser without a response builds its ARN from the account and path.
        let user = change_of(
            "CreateUser",
            Some(&json!({"userName": "eve", "path": "/ops/"})),
            None,
            Some("111122223333"),
        )
        .unwrap()
        .unwrap();
        assert!(
            matches!(user, Change::CreateUser { ref arn, .. } if arn == "arn:aws:iam::111122223333:user/ops/eve")
        );
        assert_eq!(
            change_of(
                "CreateAccessKey",
                Some(&json!({"userName": "eve"})),
                None,
                None
            ),
            Ok(None)
        );
        assert!(change_of(
            "AttachUserPolicy",
            Some(&json!({"userName": 5})),
            None,
            None
        )
        .is_err());
        for name in CHANGE_EVENTS {
            assert_ne!(
                change_of(name, None, None, Some("111122223333")),
                Ok(None),
                "{name} is listed but not read"
            );
        }
    }
}
