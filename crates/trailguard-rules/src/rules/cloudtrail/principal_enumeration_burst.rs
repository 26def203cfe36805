//! CT065 principal-enumeration-burst: one principal writing policies that name users and roles which do
//! not exist, again and again: the resource-policy trick that tells whether a principal exists in
//! another account (a policy naming a missing principal is refused as malformed).

use trailguard_event::Record;
use trailguard_policy::PolicyDocument;

use super::burst::{burst_finding, bursts, counted, Burst, BurstShape, FAILED};
use super::common::{
    caller_key, describe_caller, evidence, names_missing_principal, policy_text, principal_account,
};
use super::outsiders::outsiders;
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{Observation, Observed, Report, SequenceRule};
use crate::Finding;

pub const META: RuleMeta = RuleMeta {
    code: "CT065",
    name: "principal-enumeration-burst",
    title: "Burst of policies naming principals that do not exist",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1087.004", "T1580"],
    compliance: &[],
    events: &[
        ("iam.amazonaws.com", "UpdateAssumeRolePolicy"),
        ("iam.amazonaws.com", "CreateRole"),
        ("s3.amazonaws.com", "PutBucketPolicy"),
        ("lambda.amazonaws.com", "AddPermission*"),
    ],
    kb_entries: &[],
    doc: RuleDoc {
        what: "At least 10 role trust policies (`UpdateAssumeRolePolicy`, `CreateRole`), bucket policies \
               (`PutBucketPolicy`) or Lambda permissions (`AddPermission`) written by one principal within \
               10 minutes and refused because a principal they name does not exist \
               (`MalformedPolicyDocument`, `MalformedPolicy` or an invalid-parameter error whose message \
               names the principal), naming at least 5 different principals. One finding per burst, with \
               the principals and accounts tried. **medium**; **high** from 50 refused writes.",
        why: "AWS checks that every principal a policy names exists, so writing a policy is an oracle: an \
              attacker with write access to one role or bucket learns which users and roles exist in any \
              other account, without a single call or log line there (Quiet Riot, Pacu \
              `iam__enum_users` and `iam__enum_roles`, ATT&CK T1087.004). It is the first step before \
              trying those roles' trust policies. Infrastructure code meets the same error for a role it \
              has just created, but retries the same principal: a burst of different ones is a list being \
              tried.",
        example: "Role session `ci/deploy` calls `UpdateAssumeRolePolicy` on role `probe` 300 times in four \
                  minutes, each with a trust policy naming another `arn:aws:iam::193672423079:role/...`, and \
                  all but three are refused with `MalformedPolicyDocumentException: Invalid principal in \
                  policy`.",
        fix: "Identify the caller: an authorised assessment says so; otherwise its credentials are in an \
              attacker's hands. Revoke them, and look at which of the tried principals existed (the calls \
              that succeeded) and what the role or bucket used as the oracle trusts now.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html",
            "https://attack.mitre.org/techniques/T1087/004/",
        ],
    },
};

const SHAPE: BurstShape = BurstShape {
    window_ms: 10 * 60 * 1000,
    threshold: 10,
    // Different principals: a deployment retrying the role it has just created names the same one.
    min_kinds: 5,
};

/// Refused writes from which a burst is high.
const HIGH_FROM: u64 = 50;

/// The outside principal the refused policy names (the first, when several), and its account.
fn tried_principal(record: &Record<'_>) -> Option<(String, String)> {
    let params = record.request_parameters();
    if record.event_source == "lambda.amazonaws.com" {
        let principal = params.as_ref()?.get("principal")?.as_str()?.to_owned();
        let account = principal_account(&principal).unwrap_or_default().to_owned();
        return Some((principal, account));
    }
    let key = match record.event_name.as_ref() {
        "UpdateAssumeRolePolicy" => "policyDocument",
        "CreateRole" => "assumeRolePolicyDocument",
        _ => "bucketPolicy",
    };
    let text = policy_text(params.as_ref(), key)?;
    let text = trailguard_policy::decode_policy_text(&text).into_owned();
    let doc = PolicyDocument::parse(&text).ok()?;
    let found = outsiders(&doc, record.account_id(), &[]);
    let (account, principal) = found.iter().find_map(|o| o.account)?;
    Some((principal.to_owned(), account.to_owned()))
}

/// Bursts of policy writes refused for naming principals that do not exist.
#[derive(Debug, Default)]
pub struct PrincipalEnumerationBurst;

impl SequenceRule for PrincipalEnumerationBurst {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn reach_ms(&self) -> Option<i64> {
        Some(SHAPE.window_ms)
    }

    fn observe<'r>(&self, record: &'r Record<'r>) -> Option<Observed<'r>> {
        if !names_missing_principal(record) {
            return None;
        }
        let message = record.error_message.as_deref().unwrap_or_default();
        // The principal from the request's policy, else as the message quotes it (IAM does).
        let (principal, account) = tried_principal(record).unwrap_or_else(|| {
            let quoted = message
                .split_once("Invalid principal in policy: ")
                .map(|(_, rest)| rest.trim().to_owned());
            (
                quoted.unwrap_or_else(|| record.event_name.to_string()),
                String::new(),
            )
        });
        Observed::new(record, FAILED, 0, caller_key(record), account, principal)
    }

    fn evaluate(&self, observations: &[Observation], out: &mut Report) {
        bursts(observations, SHAPE, |burst| out.push(finding(burst)));
    }
}

fn finding(burst: &Burst<'_>) -> Finding {
    let event = &burst.first.event;
    let severity = if burst.count >= HIGH_FROM {
        Severity::High
    } else {
        META.severity
    };
    let mut finding = burst_finding(&META, burst, severity);
    let accounts: Vec<&str> = burst.subjects.iter().copied().collect();
    let tried = if burst.other_details > 0 {
        format!("more than {}", burst.details.len())
    } else {
        burst.details.len().to_string()
    };
    let sample: Vec<String> = counted(&burst.details).take(10).collect();
    finding.message = format!(
        "{} had {} policy writes refused for naming principals that do not exist, {} different \
         principals{} between {} and {} ({}{}): how the users and roles of other accounts are \
         enumerated.",
        describe_caller(event),
        burst.count,
        tried,
        if accounts.is_empty() {
            String::new()
        } else {
            format!(" in account(s) {}", accounts.join(", "))
        },
        event.event_time,
        burst.last_time,
        sample.join(", "),
        if burst.details.len() > sample.len() {
            ", ..."
        } else {
            ""
        },
    );
    finding.evidence.push(evidence("accounts", accounts));
    finding.evidence.push(evidence(
        "principals",
        serde_json::to_value(&burst.details).unwrap_or_default(),
    ));
    finding.fix.summary = "Identify the caller; unless it is an authorised assessment, revoke its \
                           credentials and check what the role or bucket it wrote trusts now."
        .to_owned();
    finding
}
