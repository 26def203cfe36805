//! CT097 identity-pool-guest-access: a Cognito identity pool set to hand out AWS credentials to anyone
//! (unauthenticated, or "guest", identities), through the basic flow that skips AWS's scope-down policy,
//! or given a role for its guests.

use serde_json::Value;
use trailguard_event::Record;

use super::common::{
    call_judgement_rule, flag_set, member_either_case, member_str_either_case, regional_arn,
    CallJudgement, Judged,
};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::ANY_EVENT;

pub const META: RuleMeta = RuleMeta {
    code: "CT097",
    name: "identity-pool-guest-access",
    title: "Cognito identity pool opened to unauthenticated callers",
    family: Family::Cloudtrail,
    severity: Severity::Low,
    attack: &["T1098", "T1078.004", "T1556"],
    compliance: &[],
    events: &[ANY_EVENT],
    kb_entries: &[],
    doc: RuleDoc {
        what: "A Cognito identity pool created or updated (`CreateIdentityPool`, `UpdateIdentityPool`) to \
               allow unauthenticated identities together with the basic (classic) authentication flow: \
               **high**, since anyone who knows the pool id (it ships inside the app) gets credentials for \
               the pool's unauthenticated role, without the scope-down policy AWS applies to guests in the \
               enhanced flow. **low**: unauthenticated identities allowed (an update cannot tell whether \
               they were allowed before: it restates the whole configuration), the basic flow allowed for \
               signed-in users, or a role given to the pool's guests (`SetIdentityPoolRoles` with an \
               `unauthenticated` role). The flags are read in either case (`allowUnauthenticatedIdentities`, \
               `AllowUnauthenticatedIdentities`). A refused call is an attempt, one step lower; a refused low \
               one is not reported. Calls AWS makes are left out.",
        why: "An identity pool is a credential vending machine: `GetId` and `GetCredentialsForIdentity` need \
              no AWS signature. Guest access turns the pool's unauthenticated role into a role anyone on the \
              internet can assume, so an attacker who can edit a pool opens it to keep anonymous access \
              (ATT&CK T1098, T1078.004), and a role with broad permissions wired to the guests of a public \
              app is a well-known path into accounts. The basic flow lets the caller take the role's \
              credentials with `AssumeRoleWithWebIdentity` itself, without the session policy that limits \
              guests to a short list of services. Elastic watches the credentials such pools issue; this \
              rule reports the change that makes them possible.",
        example: "Role session `deploy` runs `aws cognito-identity update-identity-pool --identity-pool-id \
                  us-east-1:4f8a2c1e-0000-4d6b-9a2f-7c3e5b1d9a00 --identity-pool-name web \
                  --allow-unauthenticated-identities --allow-classic-flow`.",
        fix: "Unless the pool serves a public app by design, turn guest access and the basic flow off \
              (`update-identity-pool` restates the whole configuration: read it first with \
              `describe-identity-pool` and keep its login providers). Check what the unauthenticated role \
              allows and what its sessions did (`AssumeRoleWithWebIdentity`, calls by \
              `cognito-identity.amazonaws.com` federated sessions).",
        references: &[
            "https://docs.aws.amazon.com/cognito/latest/developerguide/authentication-flow.html",
            "https://docs.aws.amazon.com/cognito/latest/developerguide/iam-roles.html",
            "https://docs.aws.amazon.com/cognitoidentity/latest/APIReference/API_UpdateIdentityPool.html",
            "https://docs.aws.amazon.com/cognitoidentity/latest/APIReference/API_SetIdentityPoolRoles.html",
        ],
    },
};

const COGNITO_IDENTITY: &str = "cognito-identity.amazonaws.com";

const WATCHED: &[(&str, &str)] = &[
    (COGNITO_IDENTITY, "CreateIdentityPool"),
    (COGNITO_IDENTITY, "UpdateIdentityPool"),
    (COGNITO_IDENTITY, "SetIdentityPoolRoles"),
];

/// The pool a call names: its id from the request (an update, a role change) or the response (a new
/// pool), and its name when given.
fn pool(record: &Record<'_>, params: &Value) -> Resource {
    let response = record.response_elements();
    let id = member_str_either_case(Some(params), "identityPoolId")
        .or_else(|| member_str_either_case(response.as_ref(), "identityPoolId"));
    let name = member_str_either_case(Some(params), "identityPoolName");
    let label = name
        .clone()
        .or_else(|| id.clone())
        .unwrap_or_else(|| "(unnamed)".to_owned());
    Resource {
        kind: "AwsCognitoIdentityPool".to_owned(),
        id: id
            .map(|id| regional_arn(record, "cognito-identity", &format!("identitypool/{id}")))
            .unwrap_or_else(|| label.clone()),
        name: Some(label),
    }
}

fn opening(record: &Record<'_>, params: &Value) -> Option<Judged> {
    let resource = pool(record, params);
    let label = resource.name.clone().unwrap_or_default();
    let judged = |severity, done: String, tried: String| Judged {
        severity,
        done,
        tried,
        resource: resource.clone(),
        undo: None,
    };
    if record.event_name == "SetIdentityPoolRoles" {
        let roles = member_either_case(Some(params), "roles");
        let guest_role = member_either_case(roles, "unauthenticated")?.as_str()?;
        return Some(judged(
            Severity::Low,
            format!("gave the unauthenticated identities of pool `{label}` role `{guest_role}`"),
            format!("give the unauthenticated identities of pool `{label}` role `{guest_role}`"),
        ));
    }
    let guests = flag_set(member_either_case(
        Some(params),
        "allowUnauthenticatedIdentities",
    ));
    let basic_flow = flag_set(member_either_case(Some(params), "allowClassicFlow"));
    let verb = if record.event_name == "CreateIdentityPool" {
        ("created", "create")
    } else {
        ("updated", "update")
    };
    let (severity, what) = match (guests, basic_flow) {
        (true, true) => (
            Severity::High,
            "with unauthenticated identities and the basic flow allowed: anyone who knows its id gets its \
             guest role's credentials, without the guest scope-down policy",
        ),
        (true, false) => (
            Severity::Low,
            "with unauthenticated identities allowed: anyone who knows its id gets its guest role's \
             credentials",
        ),
        (false, true) => (
            Severity::Low,
            "with the basic flow allowed: its users take role credentials without a scope-down policy",
        ),
        (false, false) => return None,
    };
    Some(judged(
        severity,
        format!("{} identity pool `{label}` {what}", verb.0),
        format!(
            "{} identity pool `{label}` with guest access or the basic flow",
            verb.1
        ),
    ))
}

/// The rule's calls, judgement and evidence ([`CallJudgement`]).
const JUDGEMENT: CallJudgement = CallJudgement {
    meta: &META,
    watched: WATCHED,
    judge: opening,
    evidence_keys: &[
        "identityPoolId",
        "identityPoolName",
        "allowUnauthenticatedIdentities",
        "allowClassicFlow",
        "roles",
        "IdentityPoolId",
        "IdentityPoolName",
        "AllowUnauthenticatedIdentities",
        "AllowClassicFlow",
        "Roles",
    ],
    summary: "Unless the pool serves a public app by design, turn guest access and the basic flow off and \
              check what its unauthenticated role allows.",
};

call_judgement_rule!(
    /// Flags identity pools opened to unauthenticated callers.
    IdentityPoolGuestAccess,
    JUDGEMENT
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent, ASSUMED_ROLE_MFA};

    fn update(request: &str) -> TestEvent {
        TestEvent::new(COGNITO_IDENTITY, "UpdateIdentityPool")
            .identity(ASSUMED_ROLE_MFA)
            .request(request)
    }

    #[test]
    fn guests_with_the_basic_flow_are_high_and_either_alone_low() {
        let both = check(
            &IdentityPoolGuestAccess,
            &update(
                r#"{"identityPoolId":"us-east-1:4f8a2c1e-0000-4d6b-9a2f-7c3e5b1d9a00","identityPoolName":"web","allowUnauthenticatedIdentities":true,"allowClassicFlow":true}"#,
            ),
        );
        assert_eq!(both.len(), 1, "{both:#?}");
        assert_eq!(both[0].severity, Severity::High);
        let resource = both[0].resource.as_ref().unwrap();
        assert!(resource
            .id
            .ends_with(":identitypool/us-east-1:4f8a2c1e-0000-4d6b-9a2f-7c3e5b1d9a00"));
        // The API's own spelling, as some producers write requests.
        let pascal = check(
            &IdentityPoolGuestAccess,
            &update(r#"{"IdentityPoolName":"web","AllowUnauthenticatedIdentities":true}"#),
        );
        assert_eq!(pascal[0].severity, Severity::Low);
        assert!(check(
            &IdentityPoolGuestAccess,
            &update(r#"{"identityPoolName":"web","allowUnauthenticatedIdentities":false,"allowClassicFlow":false}"#)
        )
        .is_empty());
    }

    #[test]
    fn a_guest_role_is_low_and_an_authenticated_role_alone_nothing() {
        let roles = |roles: &str| {
            TestEvent::new(COGNITO_IDENTITY, "SetIdentityPoolRoles")
                .identity(ASSUMED_ROLE_MFA)
                .request(&format!(
                    r#"{{"identityPoolId":"us-east-1:4f8a2c1e-0000-4d6b-9a2f-7c3e5b1d9a00","roles":{roles}}}"#
                ))
        };
        let guest = check(
            &IdentityPoolGuestAccess,
            &roles(
                r#"{"unauthenticated":"arn:aws:iam::229654561268:role/guest","authenticated":"arn:aws:iam::229654561268:role/member"}"#,
            ),
        );
        assert_eq!(guest.len(), 1);
        assert_eq!(guest[0].severity, Severity::Low);
        assert!(guest[0].message.contains("role/guest"));
        assert!(check(
            &IdentityPoolGuestAccess,
            &roles(r#"{"authenticated":"arn:aws:iam::229654561268:role/member"}"#)
        )
        .is_empty());
    }
}
