//! CT099 identity-store-changed: the IAM Identity Center directory changed by hand, through the Identity
//! Store API (`identitystore.amazonaws.com`) or the console's own API (`sso-directory.amazonaws.com`): a
//! user's e-mail or user name rewritten, a user added to a group or created, other user and group changes
//! recorded.

use serde_json::Value;
use trailguard_event::Record;

use super::common::{
    call_judgement_rule, member_either_case, member_str_either_case, CallJudgement, Judged,
};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::ANY_EVENT;

pub const META: RuleMeta = RuleMeta {
    code: "CT099",
    name: "identity-store-changed",
    title: "IAM Identity Center directory user or group changed by hand",
    family: Family::Cloudtrail,
    severity: Severity::Low,
    attack: &["T1098", "T1136.003", "T1098.003"],
    compliance: &[],
    events: &[ANY_EVENT],
    kb_entries: &[],
    doc: RuleDoc {
        what: "Writes to the Identity Center directory, under the Identity Store API \
               (`identitystore.amazonaws.com`) and the console's API (`sso-directory.amazonaws.com`), which AWS \
               says to watch together. **medium**: a user's e-mail addresses or user name rewritten \
               (`UpdateUser` with an operation on `emails` or `userName`). **low**: a user added to a group \
               (`CreateGroupMembership`, `AddMemberToGroup`), which gives it every account assignment of the \
               group, and a user created (`CreateUser`). **info**: the other user and group writes (groups \
               created, renamed or deleted, users deleted, members removed, other user attributes). A refused \
               call is an attempt, one step lower; refused low and info calls are not reported. Provisioning \
               from an external identity provider goes through SCIM, which records under its own source and \
               is not this rule's; calls AWS makes are left out.",
        why: "Whoever can write the directory decides who the people of the organization are. Adding a user \
              they control to a group that holds an administrator permission set gives them every account \
              the group reaches, without touching a permission set or an assignment (CT037, CT052); a new \
              user is a backdoor identity (ATT&CK T1136.003). Rewriting a user's e-mail sends that user's \
              password reset and verification mail to the attacker: the first step of taking the account \
              over, and of an identity-provider login matched by e-mail (T1098).",
        example: "Role session `helpdesk` runs `aws identitystore update-user --identity-store-id d-9067642ac7 \
                  --user-id 94482488-3041-7026-18f3-be45837cd0e4 --operations \
                  AttributePath=emails,AttributeValue='[{\"Value\":\"it-support@example.net\",\"Primary\":true}]'`.",
        fix: "Confirm the change with the directory's owners. Undo an e-mail rewritten without a request and \
              check the user's recent sign-ins and MFA devices; remove memberships and users nobody asked for, \
              after reading what they did (`UserAuthentication`, `GetRoleCredentials` by that user).",
        references: &[
            "https://docs.aws.amazon.com/singlesignon/latest/userguide/sso-info-in-cloudtrail.html",
            "https://docs.aws.amazon.com/singlesignon/latest/IdentityStoreAPIReference/API_UpdateUser.html",
            "https://docs.aws.amazon.com/singlesignon/latest/IdentityStoreAPIReference/API_CreateGroupMembership.html",
            "https://attack.mitre.org/techniques/T1098/",
        ],
    },
};

/// The two sources of directory writes: the public Identity Store API and the console's own API.
pub(super) const IDENTITY_STORE: &str = "identitystore.amazonaws.com";
pub(super) const CONSOLE_DIRECTORY: &str = "sso-directory.amazonaws.com";

const WATCHED: &[(&str, &str)] = &[
    (IDENTITY_STORE, "UpdateUser"),
    (CONSOLE_DIRECTORY, "UpdateUser"),
    (IDENTITY_STORE, "CreateGroupMembership"),
    (CONSOLE_DIRECTORY, "AddMemberToGroup"),
    (IDENTITY_STORE, "CreateUser"),
    (CONSOLE_DIRECTORY, "CreateUser"),
    (IDENTITY_STORE, "DeleteUser"),
    (CONSOLE_DIRECTORY, "DeleteUser"),
    (IDENTITY_STORE, "CreateGroup"),
    (CONSOLE_DIRECTORY, "CreateGroup"),
    (IDENTITY_STORE, "UpdateGroup"),
    (CONSOLE_DIRECTORY, "UpdateGroup"),
    (IDENTITY_STORE, "DeleteGroup"),
    (CONSOLE_DIRECTORY, "DeleteGroup"),
    (IDENTITY_STORE, "DeleteGroupMembership"),
    (CONSOLE_DIRECTORY, "RemoveMemberFromGroup"),
];

/// Whether an update touches where a user is reached or who it is: an operation on `emails` (or one of
/// its sub-attributes) or `userName`, wherever the request names the attribute (the Identity Store API's
/// `operations[].attributePath`, or a member of that name in the console API's request).
fn rewrites_contact(params: &Value) -> bool {
    fn is_contact(name: &str) -> bool {
        let name = name.trim().to_ascii_lowercase();
        name.starts_with("email") || name == "username"
    }
    match params {
        Value::Object(members) => members.iter().any(|(key, value)| {
            is_contact(key)
                || (key.eq_ignore_ascii_case("attributePath")
                    && value.as_str().is_some_and(is_contact))
                || rewrites_contact(value)
        }),
        Value::Array(items) => items.iter().any(rewrites_contact),
        _ => false,
    }
}

/// The user or group a call names, by id (the directory holds no names in most of its requests).
fn subject(record: &Record<'_>, params: &Value, key: &str, kind: &str) -> Resource {
    let response = record.response_elements();
    let id = member_str_either_case(Some(params), key)
        .or_else(|| member_str_either_case(response.as_ref(), key))
        .unwrap_or_else(|| "(unnamed)".to_owned());
    let name = member_str_either_case(Some(params), "userName")
        .or_else(|| member_str_either_case(Some(params), "displayName"))
        .filter(|name| !name.is_empty() && name != "HIDDEN_DUE_TO_SECURITY_REASONS");
    Resource {
        kind: kind.to_owned(),
        id: id.clone(),
        name: Some(name.unwrap_or(id)),
    }
}

/// The member a membership call adds: `memberId.userId` (Identity Store API), else whatever id the
/// console's request gives. CT052 reads memberships through it too.
pub(super) fn added_member(params: &Value) -> Option<String> {
    let member = member_either_case(Some(params), "memberId")
        .or_else(|| member_either_case(Some(params), "member"));
    member
        .and_then(|m| {
            member_str_either_case(Some(m), "userId")
                .or_else(|| member_str_either_case(Some(m), "memberId"))
                .or_else(|| m.as_str().map(str::to_owned))
        })
        .or_else(|| member_str_either_case(Some(params), "userId"))
}

fn directory_change(record: &Record<'_>, params: &Value) -> Option<Judged> {
    let judged = Judged::new;
    let user = || subject(record, params, "userId", "AwsIdentityStoreUser");
    let group = || subject(record, params, "groupId", "AwsIdentityStoreGroup");
    let name = record.event_name.as_ref();
    Some(match name {
        "UpdateUser" if rewrites_contact(params) => {
            let user = user();
            let label = user.name.clone().unwrap_or_default();
            judged(
                Severity::Medium,
                format!(
                    "rewrote the e-mail or user name of Identity Center user `{label}`, which decide where \
                     its password reset mail goes and which sign-in is matched to it"
                ),
                format!("rewrite the e-mail or user name of Identity Center user `{label}`"),
                user,
            )
        }
        "CreateGroupMembership" | "AddMemberToGroup" => {
            let group = group();
            let label = group.name.clone().unwrap_or_default();
            let who = added_member(params).unwrap_or_else(|| "(unnamed)".to_owned());
            judged(
                Severity::Low,
                format!(
                    "added Identity Center user `{who}` to group `{label}`: it now holds the group's account \
                     assignments"
                ),
                format!("add Identity Center user `{who}` to group `{label}`"),
                group,
            )
        }
        "CreateUser" => {
            let user = user();
            let label = user.name.clone().unwrap_or_default();
            judged(
                Severity::Low,
                format!("created Identity Center user `{label}`"),
                format!("create Identity Center user `{label}`"),
                user,
            )
        }
        _ => {
            let (target, word) = if name.contains("Group") || name.contains("Member") {
                (group(), "group")
            } else {
                (user(), "user")
            };
            let label = target.name.clone().unwrap_or_default();
            judged(
                Severity::Info,
                format!("called {name} on Identity Center {word} `{label}`"),
                format!("call {name} on Identity Center {word} `{label}`"),
                target,
            )
        }
    })
}

/// The rule's calls, judgement and evidence ([`CallJudgement`]).
const JUDGEMENT: CallJudgement = CallJudgement {
    meta: &META,
    watched: WATCHED,
    judge: directory_change,
    evidence_keys: &[
        "identityStoreId",
        "userId",
        "groupId",
        "memberId",
        "userName",
        "displayName",
        "operations",
    ],
    summary:
        "Confirm the change with the directory's owners; undo it and review the user's sign-ins if \
              nobody asked for it.",
};

call_judgement_rule!(
    /// Flags Identity Center directory changes made by hand.
    IdentityStoreChanged,
    JUDGEMENT
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent, ASSUMED_ROLE_MFA};

    fn call(source: &str, name: &str, request: &str) -> TestEvent {
        TestEvent::new(source, name)
            .identity(ASSUMED_ROLE_MFA)
            .request(request)
    }

    #[test]
    fn an_email_rewrite_is_medium_in_either_api() {
        let api = call(
            IDENTITY_STORE,
            "UpdateUser",
            r#"{"identityStoreId":"d-9067642ac7","userId":"94482488-3041-7026-18f3-be45837cd0e4","operations":[{"attributePath":"emails","attributeValue":"HIDDEN_DUE_TO_SECURITY_REASONS"}]}"#,
        );
        let found = check(&IdentityStoreChanged, &api);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].severity, Severity::Medium);
        assert!(found[0]
            .message
            .contains("94482488-3041-7026-18f3-be45837cd0e4"));
        let console = call(
            CONSOLE_DIRECTORY,
            "UpdateUser",
            r#"{"identityStoreId":"d-9067642ac7","userId":"94482488-3041-7026-18f3-be45837cd0e4","userAttributes":{"emails":"HIDDEN_DUE_TO_SECURITY_REASONS"}}"#,
        );
        assert_eq!(
            check(&IdentityStoreChanged, &console)[0].severity,
            Severity::Medium
        );
        let title = call(
            IDENTITY_STORE,
            "UpdateUser",
            r#"{"identityStoreId":"d-9067642ac7","userId":"94482488-3041-7026-18f3-be45837cd0e4","operations":[{"attributePath":"title","attributeValue":"Engineer"}]}"#,
        );
        assert_eq!(
            check(&IdentityStoreChanged, &title)[0].severity,
            Severity::Info
        );
    }

    #[test]
    fn a_membership_names_the_member_and_group() {
        let found = check(
            &IdentityStoreChanged,
            &call(
                IDENTITY_STORE,
                "CreateGroupMembership",
                r#"{"identityStoreId":"d-9067642ac7","groupId":"f4d8c4a8-e011-70a6-bc6f-55a4d5b1c001","memberId":{"userId":"94482488-3041-7026-18f3-be45837cd0e4"}}"#,
            ),
        );
        assert_eq!(found[0].severity, Severity::Low);
        assert!(found[0]
            .message
            .contains("user `94482488-3041-7026-18f3-be45837cd0e4` to group `f4d8c4a8-e011-70a6-bc6f-55a4d5b1c001`"));
        assert_eq!(
            found[0].resource.as_ref().map(|r| r.kind.as_str()),
            Some("AwsIdentityStoreGroup")
        );
    }

    #[test]
    fn refused_low_calls_and_reads_are_not_reported() {
        let refused = call(
            IDENTITY_STORE,
            "CreateUser",
            r#"{"identityStoreId":"d-9067642ac7","userName":"ghost"}"#,
        )
        .denied();
        assert!(check(&IdentityStoreChanged, &refused).is_empty());
        let read = call(
            IDENTITY_STORE,
            "ListGroupMemberships",
            r#"{"identityStoreId":"d-9067642ac7","groupId":"f4d8c4a8-e011-70a6-bc6f-55a4d5b1c001"}"#,
        );
        assert!(check(&IdentityStoreChanged, &read).is_empty());
    }
}
