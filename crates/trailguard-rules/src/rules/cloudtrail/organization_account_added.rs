//! CT035 organization-account-added: accounts created in or invited to the organization, and this account
//! accepting an invitation to join one.

use trailguard_event::Record;

use super::common::{change_finding, request_field, Change};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{CloudTrailRule, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT035",
    name: "organization-account-added",
    title: "Account created in or invited to the organization",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1136.003", "T1484.002"],
    compliance: &["CIS-4.15", "CloudWatch.15"],
    events: &[
        ("organizations.amazonaws.com", "CreateAccount"),
        ("organizations.amazonaws.com", "CreateGovCloudAccount"),
        ("organizations.amazonaws.com", "InviteAccountToOrganization"),
        ("organizations.amazonaws.com", "AcceptHandshake"),
    ],
    kb_entries: &[],
    doc: RuleDoc {
        what: "`CreateAccount` and `CreateGovCloudAccount` (a new member account, with an administrator role \
               the management account can assume), `InviteAccountToOrganization` (an outside account asked \
               to join) and `AcceptHandshake` (this account accepting an invitation, which puts it under \
               another management account's control). **medium**; the account name, email or target are in \
               the evidence.",
        why: "A new account is a place to run workloads (crypto-mining, exfiltration staging) outside the \
              existing accounts' guardrails and monitoring until someone notices, and its \
              `OrganizationAccountAccessRole` is full admin for whoever controls the management account. \
              Accepting an invitation hands the account's control to another organization's SCPs and admins.",
        example: "`aws organizations create-account --email ops+x@example.com --account-name sandbox-x` from a \
                  session that does not normally manage accounts.",
        fix: "Confirm the account with the cloud platform team. If unknown, move it to a quarantine OU with a \
              deny-all SCP, find its owner email, and close it; for an accepted invitation, confirm the new \
              management account is yours.",
        references: &[
            "https://docs.aws.amazon.com/organizations/latest/APIReference/API_CreateAccount.html",
            "https://docs.aws.amazon.com/organizations/latest/APIReference/API_AcceptHandshake.html",
        ],
    },
};

/// Flags accounts joining the organization, or this account joining one.
#[derive(Debug, Default)]
pub struct OrganizationAccountAdded;

impl CloudTrailRule for OrganizationAccountAdded {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let params = record.request_parameters();
        let account = record.account_id().unwrap_or("unknown").to_owned();
        let (done, tried, target) = match record.event_name.as_ref() {
            "InviteAccountToOrganization" => {
                let target = params
                    .as_ref()
                    .and_then(|p| p.pointer("/target/id")?.as_str().map(str::to_owned))
                    .unwrap_or_else(|| "an account".to_owned());
                (
                    format!("invited `{target}` to join the organization"),
                    format!("invite `{target}` to join the organization"),
                    target,
                )
            }
            "AcceptHandshake" => {
                let handshake = request_field(params.as_ref(), "handshakeId")
                    .unwrap_or_else(|| "unknown".to_owned());
                (
                    format!(
                        "accepted handshake `{handshake}`: account {account} joined another organization"
                    ),
                    format!("accept handshake `{handshake}`"),
                    account.clone(),
                )
            }
            _ => {
                let name = request_field(params.as_ref(), "accountName")
                    .unwrap_or_else(|| "unnamed".to_owned());
                (
                    format!("created member account `{name}`"),
                    format!("create member account `{name}`"),
                    name,
                )
            }
        };
        out.push(change_finding(
            &META,
            record,
            META.severity,
            Change {
                done,
                tried,
                resource: Resource {
                    kind: "AwsAccount".to_owned(),
                    id: target,
                    name: None,
                },
                evidence_keys: &["accountName", "email", "target", "handshakeId", "roleName"],
                summary: "Confirm the account with the cloud platform team; quarantine it (deny-all SCP) if \
                          nobody owns it."
                    .to_owned(),
            },
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent};

    #[test]
    fn new_and_invited_accounts_are_reported() {
        let create = TestEvent::new("organizations.amazonaws.com", "CreateAccount")
            .request(r#"{"accountName":"sandbox-x","email":"ops+x@example.com"}"#);
        let f = &check(&OrganizationAccountAdded, &create)[0];
        assert_eq!(f.severity, Severity::Medium);
        assert!(
            f.message.contains("created member account `sandbox-x`"),
            "{}",
            f.message
        );
        assert!(f
            .evidence
            .iter()
            .any(|e| e.path == "requestParameters.email"));
        let invite = TestEvent::new("organizations.amazonaws.com", "InviteAccountToOrganization")
            .request(r#"{"target":{"id":"111122223333","type":"ACCOUNT"}}"#);
        let f = &check(&OrganizationAccountAdded, &invite)[0];
        assert!(
            f.message.contains("invited `111122223333`"),
            "{}",
            f.message
        );
    }
}
