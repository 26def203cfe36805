//! CT071 access-key-reactivated: an IAM access key switched back to `Active` (`UpdateAccessKey`): a
//! credential someone had turned off works again.

use trailguard_event::Record;

use super::common::{
    call_failed, caller_iam_user, describe_caller, finding_for, finding_id, other_user_named,
    request_evidence, request_field, session_named_like, sh, user_resource, worth_reporting,
};
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{CloudTrailRule, EventContext, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT071",
    name: "access-key-reactivated",
    title: "Access key reactivated",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1098.001", "T1078.004"],
    compliance: &[],
    events: &[("iam.amazonaws.com", "UpdateAccessKey")],
    kb_entries: &["UpdateAccessKey"],
    doc: RuleDoc {
        what: "`UpdateAccessKey` with `status` `Active`: an access key that was inactive works again. \
               **medium** for another user's key; **low** for the caller's own (an IAM Identity Center \
               session named like the user counts as its own, and says so). Deactivations are not \
               reported. A refused call is an attempt, one step lower; a refused call that would be low is \
               not reported.",
        why: "Keys are switched off rather than deleted when a responder contains an incident or an owner \
              retires an old key, so turning one back on undoes that decision: an attacker with \
              `iam:UpdateAccessKey` revives an old, often privileged, service key after the clean-up and has \
              long-term access again without creating anything new (ATT&CK T1098.001). The knowledge-base \
              entry names this as the case to look for.",
        example: "Role session `AdministratorAccess/alice@example.com` calls `aws iam update-access-key \
                  --user-name svc-backup --access-key-id AKIAQRSTUVWXOLDKEY01 --status Active` the day after \
                  the key was switched off during an incident.",
        fix: "Confirm with the key's owner and whoever switched it off; if the reactivation was not agreed, \
              switch it off again (the finding gives the command), then delete it, and review what the key \
              did while it was active.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateAccessKey.html",
            "https://attack.mitre.org/techniques/T1098/001/",
        ],
    },
};

/// Flags access keys switched back on.
#[derive(Debug, Default)]
pub struct AccessKeyReactivated;

impl CloudTrailRule for AccessKeyReactivated {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let params = record.request_parameters();
        let active = request_field(params.as_ref(), "status")
            .is_some_and(|s| s.eq_ignore_ascii_case("Active"));
        if !active {
            return;
        }
        let key = request_field(params.as_ref(), "accessKeyId")
            .unwrap_or_else(|| "(unnamed key)".to_owned());
        // Without `userName` the call acts on the caller's own keys.
        let other = other_user_named(record, params.as_ref());
        let same_name = other
            .as_deref()
            .and_then(|user| session_named_like(record, user))
            .filter(|s| s.identity_center);
        let severity = if other.is_some() && same_name.is_none() {
            Severity::Medium
        } else {
            Severity::Low
        };
        let failed = call_failed(record);
        if !worth_reporting(failed, severity) {
            return;
        }
        let user = other
            .clone()
            .or_else(|| caller_iam_user(record).map(str::to_owned))
            .or_else(|| request_field(params.as_ref(), "userName"));
        let mut finding = finding_for(&META, record, severity);
        finding.id = finding_id(&META, record, &[&key]);
        let who = describe_caller(&EventContext::from_record(record));
        let whose = match &other {
            Some(user) => format!("user `{user}`'s access key {key}"),
            None => format!("its own access key {key}"),
        };
        let note = same_name.map(|s| s.same_name_note()).unwrap_or_default();
        finding.message = if failed {
            format!("{who} tried to reactivate {whose}; the call failed.{note}")
        } else {
            format!("{who} reactivated {whose}: the key works again.{note}")
        };
        if let Some(user) = &user {
            finding.resource = Some(user_resource(record.account_id(), user));
        }
        request_evidence(
            &mut finding,
            params.as_ref(),
            &["userName", "accessKeyId", "status"],
        );
        if let Some(session) = same_name {
            finding.evidence.push(session.same_name_evidence());
        }
        if failed {
            finding.fix.summary =
                "Nothing changed; find out why this principal tried to revive the key.".to_owned();
        } else {
            let user_arg = user
                .as_deref()
                .map(|u| format!(" --user-name {}", sh(u)))
                .unwrap_or_default();
            finding.fix.summary =
                "Unless the owner and whoever switched the key off agreed, switch it off \
                                   again, delete it, and review what it did while active."
                    .to_owned();
            finding.fix.commands = vec![format!(
                "aws iam update-access-key{user_arg} --access-key-id {} --status Inactive",
                sh(&key)
            )];
            finding.fix.actions.push(FixAction::Manual {
                description: format!(
                    "Confirm the reactivation of access key {key} with its owner; if it was not agreed, \
                     deactivate and delete it and review its use since."
                ),
            });
        }
        out.push(finding);
    }
}
