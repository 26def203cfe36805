//! CT091 iam-changed-by-function-or-task: an IAM identity or permission change made by code running in a
//! Lambda function or an ECS task, told by the execution environment the AWS SDKs write into their user
//! agent (`exec-env/AWS_Lambda_<runtime>`, `exec-env/AWS_ECS_FARGATE`, `exec-env/AWS_ECS_EC2`).
//!
//! The watched changes and their severities are CT060's ([`super::iam_changed_by_instance`]): the same
//! judgement for the other two places a workload's role credentials live.

use trailguard_event::Record;

use super::common::{event_in, evidence, is_instance_id, role_session, sh};
use super::iam_changed_by_instance::{workload_iam_change, WorkloadIamChange, WATCHED};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{CloudTrailRule, Report, ANY_EVENT};

pub const META: RuleMeta = RuleMeta {
    code: "CT091",
    name: "iam-changed-by-function-or-task",
    title: "IAM changed from a Lambda function or an ECS task",
    family: Family::Cloudtrail,
    severity: Severity::High,
    attack: &["T1648", "T1098", "T1136.003", "T1552.005"],
    compliance: &[],
    // Routed only CT060's watched events: it judges the caller, so their entries need not show it firing.
    events: &[ANY_EVENT],
    kb_entries: &[],
    doc: RuleDoc {
        what: "An IAM change made by a role session whose user agent carries the execution environment the \
               AWS SDKs report from inside a Lambda function (`exec-env/AWS_Lambda_<runtime>`) or an ECS task \
               (`exec-env/AWS_ECS_FARGATE`, `exec-env/AWS_ECS_EC2`): code running in the workload, with its \
               role, changed IAM. **high** for users, their credentials and their permissions (`CreateUser`, \
               `CreateAccessKey`, `CreateLoginProfile`, `UpdateLoginProfile`, `AddUserToGroup`, \
               `AttachUserPolicy`, `PutUserPolicy`, `UploadSSHPublicKey`, \
               `CreateServiceSpecificCredential`); **medium** for roles and policies (`CreateRole`, \
               `UpdateAssumeRolePolicy`, `Attach/PutRolePolicy`, `Attach/PutGroupPolicy`, `CreatePolicy`, \
               `CreatePolicyVersion`, `SetDefaultPolicyVersion`), which deployment and provisioning functions \
               may make as their job. A refused call is an attempt, one step lower. The function (Lambda names \
               the execution role's session after it) or task, the runtime, the role and what was changed are \
               in the evidence. Sessions named after an EC2 instance are CT060's.",
        why: "A function or container that changes IAM is either automation built for it or code that should \
              not be there: a poisoned dependency, a command injection in a handler, a function whose code \
              an attacker replaced (CT077), or a container image pulled from the wrong place. Attackers run \
              such code to make users, keys and passwords that outlive the workload (ATT&CK T1136.003, \
              T1098), with the workload's role, which is often broader than its job needs (T1648: serverless \
              execution). Elastic raises IAM changes by a Lambda execution role; CT060 does the same for \
              instances.",
        example: "Role session `arn:aws:sts::111122223333:assumed-role/thumbnailer-role/thumbnailer`, user agent \
                  `Boto3/1.34.2 md/Botocore#1.34.2 ua/2.0 os/linux#5.10 lang/python#3.12.1 \
                  exec-env/AWS_Lambda_python3.12`, calls `CreateUser` for `svc-sync`, then `CreateAccessKey`.",
        fix: "Find out whether the function or task is meant to change IAM. If not, stop it (for a function, \
              set its reserved concurrency to 0), read its current code and image, revoke the role's \
              sessions, undo the change, and take the IAM permissions off its role. If it is provisioning \
              automation, give it a role limited to the identities it manages (a path or a permissions \
              boundary it must set).",
        references: &[
            "https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime",
            "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html",
            "https://docs.aws.amazon.com/sdkref/latest/guide/feature-appid.html",
            "https://attack.mitre.org/techniques/T1648/",
        ],
    },
};

/// Where the SDK said it ran, from the `exec-env/` part of its user agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Workload<'r> {
    /// A Lambda function; the runtime as the SDK wrote it (`python3.12`, `nodejs20.x`).
    Function { runtime: &'r str },
    /// An ECS task; the launch type (`FARGATE`, `EC2`).
    Task { launch_type: &'r str },
}

impl Workload<'_> {
    fn described(self, session_name: &str) -> String {
        match self {
            Workload::Function { runtime } => {
                format!("code in Lambda function `{session_name}` ({runtime})")
            }
            Workload::Task { launch_type } => format!("code in an ECS task ({launch_type})"),
        }
    }
}

/// The workload a user agent reports, from its `exec-env/` token (the SDKs copy the
/// `AWS_EXECUTION_ENV` variable Lambda and ECS set there). Case is kept: the SDKs write it exactly.
fn workload_of(user_agent: &str) -> Option<Workload<'_>> {
    let (_, rest) = user_agent.split_once("exec-env/")?;
    let token = rest.split([' ', ')', ';']).next().unwrap_or_default();
    if let Some(runtime) = token.strip_prefix("AWS_Lambda_") {
        return (!runtime.is_empty()).then_some(Workload::Function { runtime });
    }
    match token.strip_prefix("AWS_ECS_") {
        Some(launch_type @ ("FARGATE" | "EC2")) => Some(Workload::Task { launch_type }),
        _ => None,
    }
}

/// Flags IAM changes made by code in a Lambda function or an ECS task.
#[derive(Debug, Default)]
pub struct IamChangedByFunctionOrTask;

impl CloudTrailRule for IamChangedByFunctionOrTask {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn watched(&self) -> &'static [(&'static str, &'static str)] {
        WATCHED
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        if !event_in(record, WATCHED) {
            return;
        }
        let Some(workload) = record.user_agent.as_deref().and_then(workload_of) else {
            return;
        };
        // A session named after an instance is CT060's, whatever runs on the instance.
        let Some(session) = role_session(record).filter(|s| !is_instance_id(s.session_name)) else {
            return;
        };
        let name = record.event_name.as_ref();
        let region = record.aws_region.as_deref().unwrap_or("us-east-1");
        let WorkloadIamChange {
            mut finding,
            who,
            target,
            on,
            failed,
        } = workload_iam_change(&META, record);
        let running = workload.described(session.session_name);
        finding.message = if failed {
            format!("{who}, {running}, tried to call iam:{name}{on}; the call failed.")
        } else {
            format!(
                "{who}, {running}, called iam:{name}{on}: workloads seldom change IAM, and code planted in \
                 one does."
            )
        };
        match workload {
            Workload::Function { runtime } => {
                finding.resource = Some(Resource {
                    kind: "AwsLambdaFunction".to_owned(),
                    id: session.session_name.to_owned(),
                    name: Some(session.session_name.to_owned()),
                });
                finding
                    .evidence
                    .push(evidence("function", session.session_name));
                finding.evidence.push(evidence("runtime", runtime));
            }
            Workload::Task { launch_type } => {
                finding.evidence.push(evidence("launchType", launch_type));
                finding
                    .evidence
                    .push(evidence("sessionName", session.session_name));
            }
        }
        finding.evidence.push(evidence("role", session.role_name));
        if let Some(target) = &target {
            finding.evidence.push(evidence("changed", target.as_str()));
        }
        if failed {
            finding.fix.summary =
                "Nothing changed; find out why the workload tried to change IAM.".to_owned();
            out.push(finding);
            return;
        }
        finding.fix.summary = format!(
            "Confirm {running} is meant to change IAM; if not, stop it, revoke the sessions of role `{}` and \
             undo iam:{name}{on}.",
            session.role_name
        );
        if let Workload::Function { .. } = workload {
            finding.fix.commands = vec![format!(
                "aws lambda put-function-concurrency --region {} --function-name {} \
                 --reserved-concurrent-executions 0",
                sh(region),
                sh(session.session_name)
            )];
        }
        finding.fix.actions.push(FixAction::Manual {
            description: format!(
                "If {running} is not meant to change IAM, stop it, read its code or image, revoke the active \
                 sessions of role `{}` (IAM console, Revoke sessions) and undo the change.",
                session.role_name
            ),
        });
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent, ASSUMED_ROLE_MFA};

    const FUNCTION_IDENTITY: &str = r#"{"type":"AssumedRole","principalId":"AROAQRSTUVWXEXAMPLE03:thumbnailer","arn":"arn:aws:sts::229654561268:assumed-role/thumbnailer-role/thumbnailer","accountId":"229654561268","accessKeyId":"ASIAQRSTUVWXEXAMPLE3","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAQRSTUVWXEXAMPLE03","arn":"arn:aws:iam::229654561268:role/thumbnailer-role","accountId":"229654561268","userName":"thumbnailer-role"},"attributes":{"creationDate":"2024-08-01T13:00:00Z","mfaAuthenticated":"false"}}}"#;
    const LAMBDA_AGENT: &str = "Boto3/1.34.2 md/Botocore#1.34.2 ua/2.0 os/linux#5.10.205-215.816.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.1 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.34.2";

    fn from_function(name: &str) -> TestEvent {
        TestEvent::iam(name)
            .identity(FUNCTION_IDENTITY)
            .user_agent(LAMBDA_AGENT)
    }

    #[test]
    fn the_execution_environment_is_read_from_the_user_agent() {
        assert_eq!(
            workload_of(LAMBDA_AGENT),
            Some(Workload::Function {
                runtime: "python3.12"
            })
        );
        assert_eq!(
            workload_of("aws-sdk-js/3.540.0 ua/2.1 os/linux#5.10 lang/js md/nodejs#20.11.1 api/iam#3.540.0 exec-env/AWS_Lambda_nodejs20.x"),
            Some(Workload::Function { runtime: "nodejs20.x" })
        );
        assert_eq!(
            workload_of("aws-cli/2.15.0 Python/3.11.6 Linux/5.10 exec-env/AWS_ECS_FARGATE exe/x86_64.amzn.2 prompt/off command/iam.create-user"),
            Some(Workload::Task { launch_type: "FARGATE" })
        );
        assert_eq!(
            workload_of("aws-sdk-java/2.20.0 Linux/5.10 exec-env/AWS_ECS_EC2"),
            Some(Workload::Task { launch_type: "EC2" })
        );
        for agent in [
            "aws-cli/2.15.0 Python/3.11.6 Linux/5.10 exec-env/CloudShell",
            "aws-cli/2.15.0 Python/3.11.6 Darwin/23.1.0 exe/x86_64",
            "exec-env/AWS_Lambda_",
            "exec-env/AWS_ECS_SOMETHING",
            "AWS_Lambda_python3.12",
        ] {
            assert_eq!(workload_of(agent), None, "{agent}");
        }
    }

    #[test]
    fn users_made_from_a_function_are_high_and_roles_medium() {
        let user = from_function("CreateUser").request(r#"{"userName":"svc-sync"}"#);
        let f = &check(&IamChangedByFunctionOrTask, &user)[0];
        assert_eq!(f.severity, Severity::High);
        assert_eq!(
            f.resource.as_ref().map(|r| r.id.as_str()),
            Some("thumbnailer")
        );
        assert!(
            f.message
                .contains("Lambda function `thumbnailer` (python3.12)"),
            "{}",
            f.message
        );
        assert!(
            f.fix.commands[0].contains("--reserved-concurrent-executions 0"),
            "{:?}",
            f.fix.commands
        );
        let role = from_function("AttachRolePolicy").request(
            r#"{"roleName":"app","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}"#,
        );
        assert_eq!(
            check(&IamChangedByFunctionOrTask, &role)[0].severity,
            Severity::Medium
        );
        let refused = from_function("CreateAccessKey")
            .request(r#"{"userName":"admin"}"#)
            .denied();
        let f = &check(&IamChangedByFunctionOrTask, &refused)[0];
        assert_eq!(f.severity, Severity::Medium);
        assert!(f.fix.actions.is_empty() && f.fix.commands.is_empty());
    }

    #[test]
    fn people_instances_and_reads_are_not_reported() {
        let person = TestEvent::iam("CreateUser")
            .identity(ASSUMED_ROLE_MFA)
            .request(r#"{"userName":"svc-sync"}"#);
        assert!(check(&IamChangedByFunctionOrTask, &person).is_empty());
        let read = from_function("GetUser").request(r#"{"userName":"svc-sync"}"#);
        assert!(check(&IamChangedByFunctionOrTask, &read).is_empty());
        let instance = TestEvent::iam("CreateUser")
            .identity(&FUNCTION_IDENTITY.replace("thumbnailer\"", "i-0a1b2c3d4e5f67890\""))
            .user_agent("aws-sdk-java/2.20.0 Linux/5.10 exec-env/AWS_ECS_EC2")
            .request(r#"{"userName":"svc-sync"}"#);
        assert!(check(&IamChangedByFunctionOrTask, &instance).is_empty());
    }
}
