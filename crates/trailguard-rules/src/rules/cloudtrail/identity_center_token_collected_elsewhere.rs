//! CT092 identity-center-token-collected-elsewhere: an IAM Identity Center device-code token collected
//! from an address that none of the user's own portal activity just before came from: the user approved a
//! code in their browser, and someone else's client received the token (device-code phishing).
//!
//! A sequence rule with a short reach: per user (the identity store id, [`identity_center_user`]), the
//! addresses of the portal events of the last [`WINDOW_MS`] are kept; a device-code `CreateToken` is judged
//! against them when it comes.

use std::collections::{BTreeSet, HashMap};

use trailguard_event::Record;

use super::common::{
    account_scoped, account_scoped_name, call_failed, evidence, finding_from_event,
    identity_center_user, request_field,
};
use crate::finding::{Finding, Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{Observation, Observed, Report, SequenceRule};

pub const META: RuleMeta = RuleMeta {
    code: "CT092",
    name: "identity-center-token-collected-elsewhere",
    title: "Identity Center device-code token collected away from the approving browser",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1528", "T1566.002", "T1550.001"],
    compliance: &[],
    events: &[
        ("sso.amazonaws.com", "CreateToken"),
        ("signin.amazonaws.com", "UserAuthentication"),
        ("sso.amazonaws.com", "Authenticate"),
        ("sso.amazonaws.com", "ListApplications"),
    ],
    kb_entries: &[
        "CreateToken",
        "UserAuthentication",
        "Authenticate",
        "ListApplications",
    ],
    doc: RuleDoc {
        what: "A successful `CreateToken` with the device-code grant (`urn:ietf:params:oauth:grant-type:device_code`) \
               for an Identity Center user, from an address that none of that user's portal events of the 15 \
               minutes before came from (`UserAuthentication`, `Authenticate`, and the portal's \
               `ListApplications`, which the page approving a device code loads), while at least one of them \
               did come from another address. **medium**: one finding per token, naming the address that \
               collected it, its user agent and client, and the addresses the user approved from. A token \
               with no portal event of the user in the window is not judged (the user may have approved in a \
               browser session opened earlier).",
        why: "In device-code phishing the attacker starts a device sign-in against the organization's portal \
              and sends the user the genuine AWS verification link; the user signs in and approves in their \
              own browser, with their own MFA, and the attacker's script collects the token, then role \
              credentials for every account the user holds (ATT&CK T1528, T1566.002). Nothing about the \
              sign-in is wrong; the one trace is that the token is collected where the approval did not \
              happen. `aws sso login` on a laptop opens the browser on the same machine, so both come from \
              one address. A remote development host, or a browser behind a different proxy than the CLI, \
              gives the same pattern legitimately, hence medium.",
        example: "`dana@example.com` signs in to the access portal from 203.0.113.120 and the approval page loads \
                  (`ListApplications`); a minute later a `CreateToken` with the device-code grant for dana comes \
                  from 45.133.172.19 with user agent `python-requests/2.31.0`.",
        fix: "Ask the user whether they approved a sign-in for a CLI on another machine. If not: delete the \
              user's active sessions in Identity Center (which ends the token's use), review the \
              `GetRoleCredentials` and role sessions from the collecting address, and warn the user about the \
              message that carried the link.",
        references: &[
            "https://docs.aws.amazon.com/singlesignon/latest/OIDCAPIReference/API_CreateToken.html",
            "https://docs.aws.amazon.com/singlesignon/latest/userguide/understanding-sign-in-events.html",
            "https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-sso.html",
            "https://attack.mitre.org/techniques/T1528/",
        ],
    },
};

/// How long before a token the user's portal events count: device codes live 10 minutes by default.
pub const WINDOW_MS: i64 = 15 * 60 * 1000;

/// A portal event of the user (from their browser).
const PORTAL: u8 = 0;
/// A device-code token collected for the user.
const TOKEN: u8 = 1;

/// The device-code grant type `CreateToken` names.
const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Flags device-code tokens collected away from where the user approved them.
#[derive(Debug, Default)]
pub struct IdentityCenterTokenCollectedElsewhere;

impl SequenceRule for IdentityCenterTokenCollectedElsewhere {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn reach_ms(&self) -> Option<i64> {
        Some(WINDOW_MS)
    }

    fn observe<'r>(&self, record: &'r Record<'r>) -> Option<Observed<'r>> {
        if call_failed(record) || record.error_message.is_some() {
            return None;
        }
        let address = record
            .source_ip_address
            .as_deref()
            .filter(|a| !a.is_empty())?;
        let user = account_scoped(record, identity_center_user(record)?);
        if record.event_name == "CreateToken" {
            let params = record.request_parameters();
            if request_field(params.as_ref(), "grantType").as_deref() != Some(DEVICE_CODE_GRANT) {
                return None;
            }
            let client = request_field(params.as_ref(), "clientId").unwrap_or_default();
            // A token sorts after the portal events of the same second.
            return Observed::new(record, TOKEN, 1, address.to_owned(), user, client);
        }
        Observed::new(
            record,
            PORTAL,
            0,
            address.to_owned(),
            user,
            record.event_name.as_ref(),
        )
    }

    fn evaluate(&self, observations: &[Observation], out: &mut Report) {
        // user → that user's portal events still in the window, oldest first.
        let mut portal: HashMap<&str, Vec<&Observation>> = HashMap::new();
        for (n, obs) in observations.iter().enumerate() {
            if n % 1024 == 0 {
                portal.retain(|_, seen| {
                    seen.retain(|p| obs.at - p.at <= WINDOW_MS);
                    !seen.is_empty()
                });
            }
            if obs.kind == PORTAL {
                portal.entry(&obs.subject).or_default().push(obs);
                continue;
            }
            let Some(seen) = portal.get_mut(obs.subject.as_ref()) else {
                continue;
            };
            seen.retain(|p| obs.at - p.at <= WINDOW_MS);
            if seen.is_empty() || seen.iter().any(|p| p.principal == obs.principal) {
                continue;
            }
            out.push(finding(obs, seen));
        }
    }
}

fn finding(token: &Observation, portal: &[&Observation]) -> Finding {
    let user_id = account_scoped_name(&token.subject);
    let mut finding = finding_from_event(&META, &token.event, META.severity);
    let actor = &token.event.actor;
    // Newer token records name the user only by its id; the portal events carry its name.
    let name = std::iter::once(&token.event.actor)
        .chain(portal.iter().map(|p| &p.event.actor))
        .find_map(|a| {
            a.user_name
                .clone()
                .filter(|n| !n.is_empty() && n != user_id)
        });
    let shown = match name.as_deref() {
        Some(name) => format!("`{name}` ({user_id})"),
        None => format!("`{user_id}`"),
    };
    let approving: BTreeSet<&str> = portal.iter().map(|p| p.principal.as_ref()).collect();
    let steps: BTreeSet<&str> = portal.iter().map(|p| p.detail.as_ref()).collect();
    let agent = actor.user_agent.as_deref().unwrap_or("no user agent");
    finding.message = format!(
        "A device-code token for Identity Center user {shown} was collected from {} ({agent}), but the \
         user's portal activity in the 15 minutes before came only from {} ({}): a code approved in the \
         user's browser for a client elsewhere, as in device-code phishing.",
        token.principal,
        approving.iter().copied().collect::<Vec<_>>().join(", "),
        steps.iter().copied().collect::<Vec<_>>().join(", "),
    );
    finding.resource = Some(Resource {
        kind: "AwsIdentityStoreUser".to_owned(),
        id: user_id.to_owned(),
        name,
    });
    finding.evidence = vec![
        evidence("tokenAddress", token.principal.to_string()),
        evidence(
            "portalAddresses",
            approving.iter().copied().collect::<Vec<_>>(),
        ),
        evidence("portalEvents", steps.iter().copied().collect::<Vec<_>>()),
        evidence("clientId", token.detail.to_string()),
        evidence("userId", user_id),
    ];
    finding.fix.summary = format!(
        "Ask {shown} whether they approved a CLI sign-in on another machine; if not, delete the user's \
         active Identity Center sessions and review the role credentials taken from {}.",
        token.principal
    );
    finding.fix.actions.push(FixAction::Manual {
        description: format!(
            "If {shown} did not approve a sign-in for a CLI at {}, delete the user's active sessions in IAM \
             Identity Center (Users, Active sessions), then review `GetRoleCredentials` from that address \
             since {} and the role sessions it opened.",
            token.principal, token.event.event_time
        ),
    });
    finding
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{run_sequence, TestEvent};

    const DANA: &str = "9067a1b2c3-4d5e6f70-8a9b-4c0d-9e1f-2a3b4c5d6e7f";

    fn portal_identity(user_id: &str) -> String {
        format!(
            r#"{{"type":"Unknown","principalId":"{user_id}","accountId":"229654561268","userName":"dana@example.com","onBehalfOf":{{"userId":"{user_id}","identityStoreArn":"arn:aws:identitystore::229654561268:identitystore/d-9067a1b2c3"}}}}"#
        )
    }

    fn approval_page(ip: &str, time: &str) -> TestEvent {
        TestEvent::new("sso.amazonaws.com", "ListApplications")
            .identity(&portal_identity(DANA))
            .read_only(true)
            .source_ip(ip)
            .time(time)
            .id(&format!("apps-{ip}-{time}"))
    }

    fn token(grant: &str, ip: &str, time: &str) -> TestEvent {
        TestEvent::new("sso.amazonaws.com", "CreateToken")
            .identity(&format!(
                r#"{{"type":"IdentityCenterUser","accountId":"229654561268","onBehalfOf":{{"userId":"{DANA}","identityStoreArn":"arn:aws:identitystore::229654561268:identitystore/d-9067a1b2c3"}},"credentialId":"7e5d4c3b-2a19-4f08-b7e6-d5c4b3a29180"}}"#
            ))
            .request(&format!(
                r#"{{"clientId":"EXAMPLEclientid1234","clientSecret":"HIDDEN_DUE_TO_SECURITY_REASONS","grantType":"{grant}","deviceCode":"EXAMPLEdevicecode5678"}}"#
            ))
            .user_agent("python-requests/2.31.0")
            .source_ip(ip)
            .time(time)
            .id(&format!("token-{ip}-{time}"))
    }

    #[test]
    fn a_token_collected_away_from_the_approving_browser_is_medium() {
        let phished = [
            approval_page("203.0.113.120", "2024-08-01T10:00:00Z"),
            token(DEVICE_CODE_GRANT, "45.133.172.19", "2024-08-01T10:01:10Z"),
        ];
        let findings = run_sequence(Box::new(IdentityCenterTokenCollectedElsewhere), &phished);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        let f = &findings[0];
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(f.resource.as_ref().map(|r| r.id.as_str()), Some(DANA));
        assert!(
            f.message
                .contains("collected from 45.133.172.19 (python-requests/2.31.0)")
                && f.message
                    .contains("came only from 203.0.113.120 (ListApplications)"),
            "{}",
            f.message
        );
    }

    #[test]
    fn the_same_machine_a_stale_approval_or_another_grant_is_not_reported() {
        let laptop = [
            approval_page("203.0.113.120", "2024-08-01T10:00:00Z"),
            approval_page("198.51.100.7", "2024-08-01T10:00:30Z"),
            token(DEVICE_CODE_GRANT, "198.51.100.7", "2024-08-01T10:01:10Z"),
        ];
        assert!(run_sequence(Box::new(IdentityCenterTokenCollectedElsewhere), &laptop).is_empty());
        let stale = [
            approval_page("203.0.113.120", "2024-08-01T09:40:00Z"),
            token(DEVICE_CODE_GRANT, "45.133.172.19", "2024-08-01T10:01:10Z"),
        ];
        assert!(run_sequence(Box::new(IdentityCenterTokenCollectedElsewhere), &stale).is_empty());
        let refresh = [
            approval_page("203.0.113.120", "2024-08-01T10:00:00Z"),
            token("refresh_token", "45.133.172.19", "2024-08-01T10:01:10Z"),
        ];
        assert!(run_sequence(Box::new(IdentityCenterTokenCollectedElsewhere), &refresh).is_empty());
        let no_portal = [token(
            DEVICE_CODE_GRANT,
            "45.133.172.19",
            "2024-08-01T10:01:10Z",
        )];
        assert!(
            run_sequence(Box::new(IdentityCenterTokenCollectedElsewhere), &no_portal).is_empty()
        );
    }
}
