//! CT059 root-session-assumed: `sts:AssumeRoot`, a management or delegated-administrator account taking
//! a short root session on a member account, judged by the root task it is scoped to.

use trailguard_event::Record;

use super::common::{call_failed, describe_caller, evidence, finding_for, sh};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{CloudTrailRule, EventContext, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT059",
    name: "root-session-assumed",
    title: "Root session taken on a member account",
    family: Family::Cloudtrail,
    severity: Severity::High,
    attack: &["T1078.004", "T1098"],
    compliance: &[],
    events: &[("sts.amazonaws.com", "AssumeRoot")],
    kb_entries: &[],
    doc: RuleDoc {
        what: "`sts:AssumeRoot`: a principal of the Organizations management account or of the delegated \
               administrator for IAM getting root credentials for a member account (up to 15 minutes), \
               scoped by an AWS managed task policy. Judged by that task: **high** for \
               `IAMCreateRootUserPassword` (the member account's root user can sign in to the console \
               again), `S3UnlockBucketPolicy` and `SQSUnlockQueuePolicy` (a resource policy that shut \
               everyone out is deleted) and any other or missing task policy; **medium** for \
               `IAMDeleteRootUserCredentials` (the intended clean-up, which also removes the root MFA \
               devices and keys, so it should match a plan); **low** for `IAMAuditRootUserCredentials` \
               (reads only). A refused call is an attempt, one step lower. What the session then does is \
               recorded in the member account as root activity (CT014).",
        why: "Centralised root access replaces member-account root passwords, yet whoever can call \
              `AssumeRoot` in the management account holds root in every member account on demand. An \
              attacker there can give a member account's root user a console password again (a durable way \
              back in as root, which no IAM policy in that account limits; only SCPs do) or delete the \
              bucket policy that guards evidence. Each session should be a planned, ticketed \
              task.",
        example: "Role session `OrgAdmin/jane` in the management account calls `aws sts assume-root \
                  --target-principal 222222222222 --task-policy-arn \
                  arn=arn:aws:iam::aws:policy/root-task/IAMCreateRootUserPassword`.",
        fix: "Confirm the task with whoever owns the member account. If it was not planned, review the root \
              activity in that account (its own trail shows the session's calls), undo them (delete a new \
              root password, restore a deleted policy), and revoke the caller's credentials. Limit \
              `sts:AssumeRoot` to a break-glass role, with `sts:TaskPolicyArn` conditions for the tasks \
              each role may do.",
        references: &[
            "https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoot.html",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_root-user-privileged-task.html",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/cloudtrail-track-privileged-tasks.html",
        ],
    },
};

/// The AWS managed policies (`arn:aws:iam::aws:policy/root-task/NAME`) an `AssumeRoot` session is
/// scoped to, each with its severity and what the session may do.
const TASKS: &[(&str, Severity, &str)] = &[
    (
        "IAMAuditRootUserCredentials",
        Severity::Low,
        "read which credentials the member account's root user has",
    ),
    (
        "IAMDeleteRootUserCredentials",
        Severity::Medium,
        "delete the root user's password, access keys, signing certificates and MFA devices",
    ),
    (
        "IAMCreateRootUserPassword",
        Severity::High,
        "give the root user a console password again (a way back into the account as root)",
    ),
    (
        "S3UnlockBucketPolicy",
        Severity::High,
        "delete a bucket policy that denies everyone",
    ),
    (
        "SQSUnlockQueuePolicy",
        Severity::High,
        "delete a queue policy that denies everyone",
    ),
];

/// The task policy's name when `arn` is one of AWS's root-task policies.
fn task_name(arn: &str) -> Option<&str> {
    arn.strip_prefix("arn:")?
        .split_once(":iam::aws:policy/root-task/")
        .map(|(_, name)| name)
}

/// Flags root sessions taken on member accounts.
#[derive(Debug, Default)]
pub struct RootSessionAssumed;

impl CloudTrailRule for RootSessionAssumed {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let params = record.request_parameters();
        let target = params
            .as_ref()
            .and_then(|p| p.get("targetPrincipal")?.as_str())
            .map(str::to_owned);
        // `taskPolicyArn` is a PolicyDescriptorType (`{"arn": ...}`); a bare string is read too.
        let policy_arn = params.as_ref().and_then(|p| {
            let member = p.get("taskPolicyArn")?;
            member
                .get("arn")
                .unwrap_or(member)
                .as_str()
                .map(str::to_owned)
        });
        let task = policy_arn.as_deref().and_then(task_name);
        let known = task.and_then(|name| TASKS.iter().find(|(known, ..)| *known == name));
        let (severity, what) = match known {
            Some(&(_, severity, what)) => (severity, what),
            None => (
                META.severity,
                "act as root under a task policy this rule does not know",
            ),
        };
        let failed = call_failed(record);
        let mut finding = finding_for(&META, record, severity);
        let who = describe_caller(&EventContext::from_record(record));
        let account = target.as_deref().map_or_else(
            || "an unnamed member account".to_owned(),
            |t| format!("member account {t}"),
        );
        let task_shown = task.unwrap_or(policy_arn.as_deref().unwrap_or("no task policy"));
        finding.message = if failed {
            format!(
                "{who} tried to take a root session on {account} with task `{task_shown}`; the call failed."
            )
        } else {
            format!(
                "{who} took a root session on {account} with task `{task_shown}`: for up to 15 minutes it \
                 may {what}."
            )
        };
        // `targetPrincipal` is the member account's id or an ARN within it.
        let account_id = target.as_deref().map(|t| {
            t.strip_prefix("arn:")
                .and_then(|rest| rest.split(':').nth(3))
                .unwrap_or(t)
                .to_owned()
        });
        finding.resource = Some(Resource {
            kind: "AwsAccount".to_owned(),
            id: account_id.unwrap_or_else(|| "unknown".to_owned()),
            name: target.clone(),
        });
        if let Some(target) = &target {
            finding.evidence.push(evidence(
                "requestParameters.targetPrincipal",
                target.as_str(),
            ));
        }
        finding.evidence.push(evidence(
            "requestParameters.taskPolicyArn.arn",
            policy_arn.as_deref().unwrap_or("(absent)"),
        ));
        if let Some(seconds) = params
            .as_ref()
            .and_then(|p| p.get("durationSeconds")?.as_u64())
        {
            finding
                .evidence
                .push(evidence("requestParameters.durationSeconds", seconds));
        }
        if failed {
            finding.fix.summary =
                "No session was issued; find out why this principal tried to take root.".to_owned();
        } else {
            // Run in the member account: its trail holds what the root session did.
            let lookup = format!(
                "aws cloudtrail lookup-events --region {} --lookup-attributes \
                 AttributeKey=Username,AttributeValue=root --start-time {}",
                sh(record.aws_region.as_deref().unwrap_or("us-east-1")),
                sh(&record.event_time),
            );
            finding.fix.summary = format!(
                "Confirm the `{task_shown}` task on {account} was planned; if not, review what the root \
                 session did there (its trail, from the command below run in that account), undo it and \
                 revoke the caller's credentials."
            );
            finding.fix.commands = vec![lookup];
            finding.fix.actions.push(FixAction::Manual {
                description: format!(
                    "Confirm with the owner of {account} that the `{task_shown}` root task was planned; if \
                     not, undo the session's changes and restrict `sts:AssumeRoot` to a break-glass role."
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

    fn assume_root(task: &str) -> TestEvent {
        TestEvent::new("sts.amazonaws.com", "AssumeRoot")
            .identity(ASSUMED_ROLE_MFA)
            .request(&format!(
                r#"{{"targetPrincipal":"222222222222","taskPolicyArn":{{"arn":"arn:aws:iam::aws:policy/root-task/{task}"}}}}"#
            ))
            .response(r#"{"credentials":{"accessKeyId":"ASIAIOSFODNN7EXAMPLE","sessionToken":"IQoJb3JpZ2luX2VjEXAMPLE","expiration":"Oct 25, 2024, 9:07:11 PM"}}"#)
    }

    #[test]
    fn the_task_policy_sets_the_severity() {
        for (task, severity) in [
            ("IAMAuditRootUserCredentials", Severity::Low),
            ("IAMDeleteRootUserCredentials", Severity::Medium),
            ("IAMCreateRootUserPassword", Severity::High),
            ("S3UnlockBucketPolicy", Severity::High),
            ("SomeFutureTask", Severity::High),
        ] {
            let f = &check(&RootSessionAssumed, &assume_root(task))[0];
            assert_eq!(f.severity, severity, "{task}");
            assert_eq!(
                f.resource.as_ref().map(|r| r.id.as_str()),
                Some("222222222222")
            );
            assert!(f.message.contains(task), "{}", f.message);
        }
    }

    #[test]
    fn a_refused_call_is_an_attempt_and_an_arn_target_names_its_account() {
        let f = &check(
            &RootSessionAssumed,
            &assume_root("IAMCreateRootUserPassword").denied(),
        )[0];
        assert_eq!(f.severity, Severity::Medium);
        assert!(f.fix.actions.is_empty());
        let by_arn = TestEvent::new("sts.amazonaws.com", "AssumeRoot").request(
            r#"{"targetPrincipal":"arn:aws:iam::333333333333:root","taskPolicyArn":{"arn":"arn:aws:iam::aws:policy/root-task/S3UnlockBucketPolicy"}}"#,
        );
        let f = &check(&RootSessionAssumed, &by_arn)[0];
        assert_eq!(
            f.resource.as_ref().map(|r| r.id.as_str()),
            Some("333333333333")
        );
    }

    #[test]
    fn task_names_come_only_from_aws_root_task_policies() {
        assert_eq!(
            task_name("arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials"),
            Some("IAMAuditRootUserCredentials")
        );
        assert_eq!(
            task_name("arn:aws-us-gov:iam::aws:policy/root-task/S3UnlockBucketPolicy"),
            Some("S3UnlockBucketPolicy")
        );
        // A customer policy named like a task is not one.
        assert_eq!(
            task_name("arn:aws:iam::111122223333:policy/root-task/IAMAuditRootUserCredentials"),
            None
        );
    }
}
