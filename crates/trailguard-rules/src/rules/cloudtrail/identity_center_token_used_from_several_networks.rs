//! CT093 identity-center-token-used-from-several-networks: one IAM Identity Center access token (the
//! portal's bearer token, named by `userIdentity.credentialId`) used from two networks within two hours:
//! the token was copied off the machine it was issued to.
//!
//! A sequence rule with a two-hour reach over the portal API calls a token makes (`ListAccounts`,
//! `ListAccountRoles`, `GetRoleCredentials`). Without address-ownership data, a network is an IPv4 `/16` or
//! an IPv6 `/48` ([`network_of`]): two addresses of one office or one home fall in one network, a laptop
//! and an attacker's server do not.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use trailguard_event::Record;

use super::common::{
    account_scoped, account_scoped_name, call_failed, evidence, finding_from_event,
    identity_center_user, network_of, request_field, same_address_family,
};
use crate::finding::{Finding, Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{Observation, Observed, Report, SequenceRule};

pub const META: RuleMeta = RuleMeta {
    code: "CT093",
    name: "identity-center-token-used-from-several-networks",
    title: "Identity Center access token used from several networks",
    family: Family::Cloudtrail,
    severity: Severity::High,
    attack: &["T1550.001", "T1528", "T1078.004"],
    compliance: &[],
    events: &[
        ("sso.amazonaws.com", "GetRoleCredentials"),
        ("sso.amazonaws.com", "ListAccounts"),
        ("sso.amazonaws.com", "ListAccountRoles"),
    ],
    kb_entries: &["GetRoleCredentials", "ListAccounts", "ListAccountRoles"],
    doc: RuleDoc {
        what: "One Identity Center access token (`userIdentity.credentialId` of the portal API's \
               `ListAccounts`, `ListAccountRoles` and `GetRoleCredentials`) used from addresses in two or more \
               networks within two hours, a network being an IPv4 `/16` or an IPv6 `/48` (IPv4 and IPv6 \
               addresses are not compared, as a dual-stack machine uses both). **high** when role credentials \
               were obtained (`GetRoleCredentials` succeeded) from a network other than the token's first; \
               **medium** when the other networks only listed accounts and roles; when every call from the \
               other networks was refused (a copied token that had expired), an attempt, one step lower. One \
               finding per token, with every address, what each did and the roles obtained elsewhere.",
        why: "The CLI keeps the token `aws sso login` obtained in `~/.aws/sso/cache` for up to a working day; \
              malware, a stolen backup or a shared home directory hands it to someone else, who then takes \
              role credentials for every account and permission set of the user without a password or MFA \
              (ATT&CK T1550.001, T1528). The token stays on the machine it was issued to, so one token seen \
              from a second network is the copy being used. Elastic raises the same pattern on networks \
              (autonomous systems); a laptop moving between home and office within the two hours gives it too, \
              hence the evidence lists every address to compare with the user.",
        example: "Token `7e5d4c3b-…` of `dana@example.com` lists accounts from 198.51.100.7 at 09:05; at 09:40 the \
                  same token calls `ListAccountRoles` and `GetRoleCredentials` for `AdministratorAccess` in \
                  account 444455556666 from 45.133.172.19.",
        fix: "Ask the user whether they moved networks with the same CLI session. If not: delete the user's \
              active sessions in Identity Center (the token stops working), find the machine the token was \
              taken from, and review the role sessions opened with the credentials obtained from the other \
              network.",
        references: &[
            "https://docs.aws.amazon.com/singlesignon/latest/PortalAPIReference/API_GetRoleCredentials.html",
            "https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-sso.html",
            "https://docs.aws.amazon.com/singlesignon/latest/userguide/authconcept.html",
            "https://attack.mitre.org/techniques/T1550/001/",
        ],
    },
};

/// How long one token's uses are compared.
pub const WINDOW_MS: i64 = 2 * 60 * 60 * 1000;

const LISTED: u8 = 0;
const OBTAINED: u8 = 1;

/// Flags one Identity Center token used from several networks.
#[derive(Debug, Default)]
pub struct IdentityCenterTokenUsedFromSeveralNetworks;

impl SequenceRule for IdentityCenterTokenUsedFromSeveralNetworks {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn reach_ms(&self) -> Option<i64> {
        Some(WINDOW_MS)
    }

    fn observe<'r>(&self, record: &'r Record<'r>) -> Option<Observed<'r>> {
        let token = record
            .user_identity
            .credential_id
            .as_deref()
            .filter(|t| !t.is_empty())?;
        identity_center_user(record)?;
        let address = record.source_ip_address.as_deref()?;
        network_of(address)?;
        let (kind, detail) = if record.event_name == "GetRoleCredentials" && !call_failed(record) {
            let params = record.request_parameters();
            let role = request_field(params.as_ref(), "roleName").unwrap_or_default();
            let account = request_field(params.as_ref(), "accountId").unwrap_or_default();
            (OBTAINED, format!("{role} in {account}"))
        } else {
            (LISTED, String::new())
        };
        Observed::new(
            record,
            kind,
            0,
            address.to_owned(),
            account_scoped(record, token),
            detail,
        )
    }

    fn evaluate(&self, observations: &[Observation], out: &mut Report) {
        // token → its uses still in the window, until it is seen on a second network.
        let mut uses: HashMap<&str, Vec<&Observation>> = HashMap::new();
        // Tokens seen on several networks, in the order they were: their uses up to a window after.
        let mut flagged: Vec<(i64, Vec<&Observation>)> = Vec::new();
        let mut flagged_at: HashMap<&str, usize> = HashMap::new();
        for (n, obs) in observations.iter().enumerate() {
            if n % 1024 == 0 {
                uses.retain(|_, seen| {
                    seen.retain(|u| obs.at - u.at <= WINDOW_MS);
                    !seen.is_empty()
                });
            }
            let token = obs.subject.as_ref();
            if let Some(&i) = flagged_at.get(token) {
                // The rest of a copied token's window belongs to the same finding.
                let (until, seen) = &mut flagged[i];
                if obs.at <= *until {
                    seen.push(obs);
                }
                continue;
            }
            let seen = uses.entry(token).or_default();
            seen.retain(|u| obs.at - u.at <= WINDOW_MS);
            // Until a token is flagged, the uses of each address family lie in one network, so one
            // earlier use of this family tells whether this use is on another.
            let earlier = seen
                .iter()
                .find(|u| same_address_family(&u.principal, &obs.principal))
                .map(|u| network_of(&u.principal));
            seen.push(obs);
            if earlier.is_none_or(|network| network == network_of(&obs.principal)) {
                continue;
            }
            let seen = uses.remove(token).unwrap_or_default();
            flagged_at.insert(token, flagged.len());
            flagged.push((obs.at + WINDOW_MS, seen));
        }
        for (_, seen) in &flagged {
            out.push(finding(seen));
        }
    }
}

fn finding(uses: &[&Observation]) -> Finding {
    let first = uses[0];
    let last = uses[uses.len() - 1];
    let first_network = network_of(&first.principal);
    // The uses away from the token's first network.
    let elsewhere: Vec<&Observation> = uses
        .iter()
        .copied()
        .filter(|u| {
            same_address_family(&u.principal, &first.principal)
                && network_of(&u.principal) != first_network
        })
        .collect();
    let obtained_elsewhere = elsewhere.iter().any(|u| u.kind == OBTAINED);
    let severity = if obtained_elsewhere {
        Severity::High
    } else {
        Severity::Medium
    };
    // On the latest use elsewhere that worked; when every one was refused, the replay is an attempt.
    let anchor = elsewhere
        .iter()
        .rev()
        .find(|u| u.event.error_code.is_none())
        .or(elsewhere.last())
        .copied()
        .unwrap_or(last);
    let attempt = anchor.event.error_code.is_some();
    let mut finding = finding_from_event(&META, &anchor.event, severity);
    let token = account_scoped_name(&first.subject);
    // address → the calls made from it, in order.
    let mut by_address: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for u in uses {
        let refused = if u.event.error_code.is_some() {
            " refused"
        } else {
            ""
        };
        by_address
            .entry(u.principal.as_ref())
            .or_default()
            .push(format!("{}{refused}", u.event.event_name));
    }
    let roles: BTreeSet<&str> = elsewhere
        .iter()
        .filter(|u| u.kind == OBTAINED && !u.detail.is_empty())
        .map(|u| u.detail.as_ref())
        .collect();
    let user = last
        .event
        .actor
        .user_name
        .clone()
        .unwrap_or_else(|| "an Identity Center user".to_owned());
    let places = by_address
        .iter()
        .map(|(address, calls)| format!("{address} ({})", calls.join(", ")))
        .collect::<Vec<_>>()
        .join("; ");
    finding.message = format!(
        "Identity Center token `{token}` of `{user}` was used from several networks between {} and {}: \
         {places}{}.",
        first.event.event_time,
        last.event.event_time,
        if obtained_elsewhere {
            format!(
                "; role credentials were obtained away from its first network ({})",
                roles.iter().copied().collect::<Vec<_>>().join(", ")
            )
        } else {
            String::new()
        },
    );
    finding.resource = Some(Resource {
        kind: "AwsSsoAccessToken".to_owned(),
        id: token.to_owned(),
        name: Some(user.clone()),
    });
    finding.evidence = vec![
        evidence("credentialId", token),
        evidence("addresses", by_address.keys().copied().collect::<Vec<_>>()),
        evidence(
            "rolesObtainedElsewhere",
            roles.iter().copied().collect::<Vec<_>>(),
        ),
    ];
    if attempt {
        finding.fix.summary = format!(
            "The copy was refused; find out with `{user}` which machine the token was copied from."
        );
        return finding;
    }
    finding.fix.summary = format!(
        "Ask `{user}` whether they moved networks with one CLI session; if not, delete the user's active \
         Identity Center sessions and review the role sessions opened from the other addresses."
    );
    finding.fix.actions.push(FixAction::Manual {
        description: format!(
            "If `{user}` did not use token `{token}` from every one of these addresses, delete the user's \
             active sessions in IAM Identity Center (Users, Active sessions), find the machine the token was \
             copied from, and review what the role credentials obtained since {} did.",
            first.event.event_time
        ),
    });
    finding
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{run_sequence, TestEvent};

    fn portal_call(name: &str, token: &str, ip: &str, time: &str) -> TestEvent {
        let call = TestEvent::new("sso.amazonaws.com", name)
            .identity(&format!(
                r#"{{"type":"Unknown","principalId":"9067a1b2c3-4d5e6f70","accountId":"229654561268","userName":"dana@example.com","onBehalfOf":{{"userId":"9067a1b2c3-4d5e6f70","identityStoreArn":"arn:aws:identitystore::229654561268:identitystore/d-9067a1b2c3"}},"credentialId":"{token}"}}"#
            ))
            .source_ip(ip)
            .time(time)
            .id(&format!("{name}-{token}-{ip}-{time}"));
        if name == "GetRoleCredentials" {
            call.request(r#"{"roleName":"AdministratorAccess","accountId":"444455556666"}"#)
        } else {
            call.read_only(true)
        }
    }

    fn run(calls: &[TestEvent]) -> Vec<Finding> {
        run_sequence(Box::new(IdentityCenterTokenUsedFromSeveralNetworks), calls)
    }

    #[test]
    fn networks_are_slash_16_and_slash_48() {
        assert_eq!(network_of("198.51.100.7").as_deref(), Some("198.51.0.0/16"));
        assert_eq!(
            network_of("2001:db8:abcd:12::1").as_deref(),
            Some("2001:db8:abcd::/48")
        );
        assert_eq!(network_of("AWS Internal"), None);
        assert_eq!(network_of("lambda.amazonaws.com"), None);
    }

    #[test]
    fn role_credentials_taken_from_a_second_network_are_high() {
        let copied = [
            portal_call(
                "ListAccounts",
                "tok-1",
                "198.51.100.7",
                "2024-08-01T09:05:00Z",
            ),
            portal_call(
                "ListAccountRoles",
                "tok-1",
                "45.133.172.19",
                "2024-08-01T09:40:00Z",
            ),
            portal_call(
                "GetRoleCredentials",
                "tok-1",
                "45.133.172.19",
                "2024-08-01T09:40:02Z",
            ),
            portal_call(
                "GetRoleCredentials",
                "tok-1",
                "45.133.172.20",
                "2024-08-01T09:41:00Z",
            ),
        ];
        let findings = run(&copied);
        assert_eq!(findings.len(), 1, "one finding per token: {findings:#?}");
        let f = &findings[0];
        assert_eq!(f.severity, Severity::High);
        assert!(
            f.message
                .contains("45.133.172.19 (ListAccountRoles, GetRoleCredentials)")
                && f.message.contains("AdministratorAccess in 444455556666"),
            "{}",
            f.message
        );
        let listed_only = [
            portal_call(
                "GetRoleCredentials",
                "tok-2",
                "198.51.100.7",
                "2024-08-01T09:05:00Z",
            ),
            portal_call(
                "ListAccounts",
                "tok-2",
                "45.133.172.19",
                "2024-08-01T09:40:00Z",
            ),
        ];
        assert_eq!(run(&listed_only)[0].severity, Severity::Medium);
    }

    #[test]
    fn one_network_two_tokens_a_late_use_or_two_families_are_not_reported() {
        let office = [
            portal_call(
                "ListAccounts",
                "tok-1",
                "198.51.100.7",
                "2024-08-01T09:05:00Z",
            ),
            portal_call(
                "GetRoleCredentials",
                "tok-1",
                "198.51.23.9",
                "2024-08-01T09:40:00Z",
            ),
        ];
        assert!(run(&office).is_empty());
        let two_tokens = [
            portal_call(
                "ListAccounts",
                "tok-1",
                "198.51.100.7",
                "2024-08-01T09:05:00Z",
            ),
            portal_call(
                "GetRoleCredentials",
                "tok-2",
                "45.133.172.19",
                "2024-08-01T09:40:00Z",
            ),
        ];
        assert!(run(&two_tokens).is_empty());
        let next_morning = [
            portal_call(
                "ListAccounts",
                "tok-1",
                "198.51.100.7",
                "2024-08-01T09:05:00Z",
            ),
            portal_call(
                "GetRoleCredentials",
                "tok-1",
                "45.133.172.19",
                "2024-08-01T11:40:00Z",
            ),
        ];
        assert!(run(&next_morning).is_empty());
        let dual_stack = [
            portal_call(
                "ListAccounts",
                "tok-1",
                "198.51.100.7",
                "2024-08-01T09:05:00Z",
            ),
            portal_call(
                "GetRoleCredentials",
                "tok-1",
                "2001:db8:abcd:12::1",
                "2024-08-01T09:06:00Z",
            ),
        ];
        assert!(run(&dual_stack).is_empty());
    }
}
