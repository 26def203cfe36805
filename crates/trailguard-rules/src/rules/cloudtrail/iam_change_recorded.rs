//! CT050 iam-change-recorded: every IAM change, at informational level, as an audit trail of who changed
//! IAM; the calls CIS 4.4 watches (IAM policy changes) carry that control's id.

use trailguard_event::peek::RawRecord;
use trailguard_event::Record;

use super::common::{change_finding, identity_resource, named_identity, request_field, Change};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{CloudTrailRule, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT050",
    name: "iam-change-recorded",
    title: "IAM change",
    family: Family::Cloudtrail,
    severity: Severity::Info,
    attack: &["T1098"],
    compliance: &["CIS-4.4", "CloudWatch.4"],
    // Every IAM call (a source pattern: the engine offers it nothing else); `wants_raw` drops the reads.
    events: &[("iam.amazonaws.com", "*")],
    kb_entries: &[],
    doc: RuleDoc {
        what: "Every call to IAM (`iam.amazonaws.com`) that is not a read (`Get*`, `List*`, `Generate*`, \
               `Simulate*`): users, roles and groups created or deleted, policies attached, put or changed, \
               keys, passwords, MFA devices, providers. **info**, so it never trips the default `--fail-on`; \
               a team gets the list of who changed what in IAM, when and from where. Users and roles created \
               and managed policies attached say so in the message. The IAM policy changes CIS 4.4 watches \
               (`Put/Delete{User,Group,Role}Policy`, `Create/DeletePolicy`, `Create/DeletePolicyVersion`, \
               `SetDefaultPolicyVersion`, `Attach/Detach{User,Group,Role}Policy`) carry `CIS-4.4` and \
               `CloudWatch.4`; other changes carry no compliance id.",
        why: "Most IAM changes are routine, but every persistence and privilege-escalation technique in IAM is \
              one of them, and the other rules judge only the shapes known to be risky. An inventory of every \
              change lets a responder reconstruct a principal's actions and an auditor answer CIS 4.4 (an alarm \
              on IAM policy changes).",
        example: "`CreateRole` for `lambda-exec` by a deployment role: one info finding, \"created role \
                  `lambda-exec`\".",
        fix: "Nothing to fix for planned changes. Filter the findings by actor (`--rule CT050` with `--format \
              json`) to review a principal's changes, and revert any that no change ticket explains.",
        references: &[
            "https://docs.aws.amazon.com/securityhub/latest/userguide/cloudwatch-controls.html#cloudwatch-4",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/cloudtrail-integration.html",
        ],
    },
};

/// IAM calls that only read: never a change.
const READ_PREFIXES: &[&str] = &["Get", "List", "Generate", "Simulate"];

/// The IAM policy changes of the CIS 4.4 metric filter.
const CIS_4_4: &[&str] = &[
    "DeleteGroupPolicy",
    "DeleteRolePolicy",
    "DeleteUserPolicy",
    "PutGroupPolicy",
    "PutRolePolicy",
    "PutUserPolicy",
    "CreatePolicy",
    "DeletePolicy",
    "CreatePolicyVersion",
    "DeletePolicyVersion",
    "SetDefaultPolicyVersion",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "AttachUserPolicy",
    "DetachUserPolicy",
    "AttachGroupPolicy",
    "DetachGroupPolicy",
];

/// Whether a call is an IAM change: any IAM call but a read ([`READ_PREFIXES`]).
pub fn is_iam_change(source: &str, name: &str) -> bool {
    source == "iam.amazonaws.com" && !READ_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Records every IAM change.
#[derive(Debug, Default)]
pub struct IamChangeRecorded;

impl CloudTrailRule for IamChangeRecorded {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn wants_raw(&self, raw: &RawRecord<'_>) -> bool {
        raw.source_and_name()
            .is_none_or(|(source, name)| is_iam_change(source, name))
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let name = record.event_name.as_ref();
        if !is_iam_change(&record.event_source, name) {
            return;
        }
        let params = record.request_parameters();
        let field = |key: &str| request_field(params.as_ref(), key);
        let principal =
            named_identity(params.as_ref()).map(|(kind, value)| (kind, kind.as_str(), value));
        let (done, tried) = match (name, &principal, field("policyArn")) {
            ("CreateUser" | "CreateRole" | "CreateGroup", Some((_, word, value)), _) => (
                format!("created {word} `{value}`"),
                format!("create {word} `{value}`"),
            ),
            (n, Some((_, word, value)), Some(policy)) if n.starts_with("Attach") => (
                format!("attached managed policy `{policy}` to {word} `{value}`"),
                format!("attach managed policy `{policy}` to {word} `{value}`"),
            ),
            (_, Some((_, word, value)), _) => (
                format!("called iam:{name} on {word} `{value}`"),
                format!("call iam:{name} on {word} `{value}`"),
            ),
            _ => (format!("called iam:{name}"), format!("call iam:{name}")),
        };
        let resource = match &principal {
            Some((kind, _, value)) => identity_resource(*kind, record.account_id(), value),
            None => Resource {
                kind: "AwsAccount".to_owned(),
                id: record.account_id().unwrap_or("unknown").to_owned(),
                name: None,
            },
        };
        let mut finding = change_finding(
            &META,
            record,
            META.severity,
            Change {
                done,
                tried,
                resource,
                evidence_keys: &["userName", "roleName", "groupName", "policyArn", "policyName"],
                summary: "Nothing to fix if the change was planned; otherwise revert it and review the caller."
                    .to_owned(),
            },
        );
        if !CIS_4_4.contains(&name) {
            finding.compliance.clear();
        }
        // An inventory entry asks for review, not for a change to apply.
        finding.fix.actions.clear();
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent};

    #[test]
    fn changes_are_info_and_policy_changes_carry_cis_4_4() {
        let attach = TestEvent::iam("AttachRolePolicy").request(
            r#"{"policyArn":"arn:aws:iam::aws:policy/ReadOnlyAccess","roleName":"auditor"}"#,
        );
        let f = &check(&IamChangeRecorded, &attach)[0];
        assert_eq!(f.severity, Severity::Info);
        assert_eq!(f.compliance, vec!["CIS-4.4", "CloudWatch.4"]);
        assert!(f.message.contains("attached managed policy `arn:aws:iam::aws:policy/ReadOnlyAccess` to role `auditor`"), "{}", f.message);
        let create = TestEvent::iam("CreateUser").request(r#"{"userName":"svc-backup"}"#);
        let f = &check(&IamChangeRecorded, &create)[0];
        assert!(
            f.message.contains("created user `svc-backup`"),
            "{}",
            f.message
        );
        assert!(f.compliance.is_empty());
    }

    #[test]
    fn reads_and_other_services_are_not_changes() {
        let read = TestEvent::iam("GetAccountAuthorizationDetails").read_only(true);
        assert!(check(&IamChangeRecorded, &read).is_empty());
        // Other services never reach the rule: it declares IAM's source only.
        let engine =
            crate::engine::Engine::from_rules(vec![Box::new(IamChangeRecorded)], Vec::new());
        for (source, name) in [
            ("sts.amazonaws.com", "AssumeRole"),
            ("iam.amazonaws.com", "ListUsers"),
        ] {
            let json = TestEvent::new(source, name).json();
            let raw = trailguard_event::peek::RawRecord::new(json.as_bytes());
            assert!(!engine.wants_raw(&raw), "{source} {name}");
        }
        let json = TestEvent::iam("CreateUser").json();
        assert!(engine.wants_raw(&trailguard_event::peek::RawRecord::new(json.as_bytes())));
    }
}
