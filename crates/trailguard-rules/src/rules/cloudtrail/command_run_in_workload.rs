//! CT101 command-run-in-workload: a principal running commands on instances through Systems Manager
//! (`SendCommand`), opening a Session Manager session on one (`StartSession`), running a command in an
//! ECS container (`ExecuteCommand`), opening a SageMaker notebook (`CreatePresignedNotebookInstanceUrl`)
//! or a tunnel to a private instance through an EC2 Instance Connect Endpoint (`OpenTunnel`).
//! Whoever does so acts as the instance's, task's or notebook's role: the `ssm:SendCommand`,
//! `ssm:StartSession` and `sagemaker:CreatePresignedNotebookInstanceUrl` escalation paths.

use serde_json::Value;
use trailguard_event::Record;

use super::common::{
    call_judgement_rule, instance_resource, is_instance_id, member_either_case,
    member_str_either_case, notebook_instance_arn, regional_arn, CallJudgement, Judged,
};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::ANY_EVENT;

pub const META: RuleMeta = RuleMeta {
    code: "CT101",
    name: "command-run-in-workload",
    title: "Command run or session opened in an instance, container or notebook",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1651", "T1078.004", "T1552.005"],
    compliance: &[],
    events: &[ANY_EVENT],
    kb_entries: &["SendCommand", "StartSession"],
    doc: RuleDoc {
        what: "A principal reaching into compute it does not run as. **medium**: `SendCommand` with a \
               document that runs whatever the caller passes (`AWS-RunShellScript`, \
               `AWS-RunPowerShellScript`, `AWS-RunRemoteScript`, `AWS-RunDocument`, the Ansible, Salt and \
               Docker runners, `AWS-InstallApplication`). **low**: a command document of the account's own \
               or shared from another account (it runs whatever it holds); a Session Manager session \
               (`StartSession`: a shell, an SSH session or a port forward through the instance); a command \
               run in an ECS container (`ExecuteCommand`, ECS Exec); a SageMaker notebook instance opened \
               (`CreatePresignedNotebookInstanceUrl`: a Jupyter terminal as the notebook's role, also how \
               the console opens a notebook); a tunnel opened to a private address through an EC2 Instance \
               Connect Endpoint (`OpenTunnel`: SSH or RDP to instances with no public address). **info**: \
               other AWS documents (patching, agent updates, inventory). The finding names the document, \
               the instances (or the `targets` that select them, `*` meaning every managed instance) and \
               the session's reason when one was given. A refused call is an attempt, one step lower; a refused low one \
               is not reported. Commands Systems Manager sends itself (State Manager associations, \
               Maintenance Windows) are left out.",
        why: "An instance runs with its profile's role, a task with its task role, and whatever runs on \
              them can read those credentials from the metadata endpoint. With `ssm:SendCommand` or \
              `ssm:StartSession` on an instance whose role is stronger than their own, attackers gain that \
              role without passing it to anything (the documented `ssm:SendCommand`, `ssm:StartSession` \
              and `sagemaker:CreatePresignedNotebookInstanceUrl` privilege-escalation paths, \
              pathfinding.cloud ssm-001, ssm-002 and sagemaker-004; Stratus Red Team `ssm-send-command`, \
              `ssm-start-session`). The same calls run ransomware or miners on a fleet at once (ATT&CK \
              T1651 Cloud Administration Command). CloudTrail hides the commands of `SendCommand` \
              (`HIDDEN_DUE_TO_SECURITY_REASONS`): the document and the targets are what the record tells. \
              CT072 (instance-credentials-exfiltrated) reports the stolen role then used from the \
              caller's address.",
        example: "IAM user `christophe` runs `AWS-RunShellScript` on `i-00456a8d163f546ff`, \
                  `i-0cfe23b1a7ceba6f8` and `i-09d40ccfc0ae91cfa` with his access key.",
        fix: "Ask the caller what the command or session was for; read the command's output \
              (`aws ssm list-command-invocations --command-id ID --details`) or the session's log. If it \
              was not theirs to run, revoke the instance role's sessions issued before now and the \
              caller's credentials. Limit `ssm:SendCommand` and `ssm:StartSession` to named documents and \
              to instances tagged for the caller (`ssm:resourceTag`), and log sessions to S3 or CloudWatch \
              Logs.",
        references: &[
            "https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendCommand.html",
            "https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_StartSession.html",
            "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-exec.html",
            "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreatePresignedNotebookInstanceUrl.html",
            "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/log-ec2-instance-connect-endpoint-using-cloudtrail.html",
            "https://attack.mitre.org/techniques/T1651/",
            "https://stratus-red-team.cloud/attack-techniques/AWS/aws.execution.ssm-send-command/",
        ],
    },
};

const SSM: &str = "ssm.amazonaws.com";
const ECS: &str = "ecs.amazonaws.com";
const SAGEMAKER: &str = "sagemaker.amazonaws.com";
const INSTANCE_CONNECT: &str = "ec2-instance-connect.amazonaws.com";

const WATCHED: &[(&str, &str)] = &[
    (SSM, "SendCommand"),
    (SSM, "StartSession"),
    (ECS, "ExecuteCommand"),
    (SAGEMAKER, "CreatePresignedNotebookInstanceUrl"),
    (INSTANCE_CONNECT, "OpenTunnel"),
];

/// AWS documents that run what the caller passes them: a script, a script's URL, another document, a
/// playbook, a container command or an installer.
const ARBITRARY_COMMAND_DOCUMENTS: &[&str] = &[
    "AWS-RunShellScript",
    "AWS-RunPowerShellScript",
    "AWS-RunRemoteScript",
    "AWS-RunDocument",
    "AWS-RunAnsiblePlaybook",
    "AWS-ApplyAnsiblePlaybooks",
    "AWS-RunSaltState",
    "AWS-RunDockerAction",
    "AWS-InstallApplication",
];

/// Owners' prefixes of the documents AWS publishes; any other name is the account's own, or an ARN of one
/// shared from another account.
const AWS_DOCUMENT_PREFIXES: &[&str] = &[
    "AWS-",
    "AWSEC2-",
    "AWSSupport-",
    "AWSFleetManager-",
    "Amazon",
];

/// How many instance ids a message lists before it counts the rest.
const LISTED: usize = 5;

/// The document's name without its ARN: `arn:aws:ssm:us-east-1:111122223333:document/Tools` is `Tools`.
fn document_name(document: &str) -> &str {
    document
        .strip_prefix("arn:")
        .and_then(|_| document.rsplit_once(":document/"))
        .map_or(document, |(_, name)| name)
}

/// Whether a document name is one AWS publishes.
fn is_aws_document(name: &str) -> bool {
    AWS_DOCUMENT_PREFIXES
        .iter()
        .any(|prefix| name.starts_with(prefix))
}

/// What a document may run, and the severity that follows. Only AWS names documents `AWS…` or
/// `Amazon…` (the prefixes are reserved), so a name settles whose a document is; an ARN also tells which
/// account shares it.
fn document_reach(document: &str, account: Option<&str>) -> (Severity, &'static str) {
    let name = document_name(document);
    let owner = document
        .strip_prefix("arn:")
        .and_then(|arn| arn.split(':').nth(3))
        .filter(|owner| !owner.is_empty());
    if ARBITRARY_COMMAND_DOCUMENTS.contains(&name) {
        (
            Severity::Medium,
            "which runs whatever commands the caller passes",
        )
    } else if is_aws_document(name) {
        (Severity::Info, "an AWS document with a fixed task")
    } else if owner.is_some_and(|owner| Some(owner) != account) {
        (
            Severity::Low,
            "a document shared from another account, which runs whatever it holds",
        )
    } else {
        (
            Severity::Low,
            "a document of the account's own, which runs whatever it holds",
        )
    }
}

/// The strings of a JSON array, or the one string a client wrote in its place.
fn strings(value: Option<&Value>) -> Vec<&str> {
    match value {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(one)) => vec![one.as_str()],
        _ => Vec::new(),
    }
}

/// `i-a`, `i-b` and 3 more.
fn listed(ids: &[&str]) -> String {
    let shown: Vec<String> = ids
        .iter()
        .take(LISTED)
        .map(|id| format!("`{id}`"))
        .collect();
    match ids.len().saturating_sub(LISTED) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

/// The instances a `SendCommand` selects through `targets`: `instances selected by `tag:team=web``, or
/// `every managed instance` for `InstanceIds=*`.
fn targets(params: &Value) -> Option<String> {
    let Some(Value::Array(targets)) = member_either_case(Some(params), "targets") else {
        return None;
    };
    let mut selectors = Vec::new();
    for target in targets {
        let Some(key) = member_str_either_case(Some(target), "key") else {
            continue;
        };
        let values = strings(member_either_case(Some(target), "values"));
        if key.eq_ignore_ascii_case("InstanceIds") && values.contains(&"*") {
            return Some("every managed instance".to_owned());
        }
        selectors.push(format!("`{key}={}`", values.join(",")));
    }
    (!selectors.is_empty()).then(|| format!("instances selected by {}", selectors.join(" and ")))
}

fn send_command(record: &Record<'_>, params: &Value) -> Option<Judged> {
    let document = member_str_either_case(Some(params), "documentName")?;
    let (severity, reach) = document_reach(&document, record.account_id());
    let instances = strings(member_either_case(Some(params), "instanceIds"));
    let (on, resource) = match (instances.first(), targets(params)) {
        (Some(first), _) => (
            format!(
                "instance{} {}",
                if instances.len() == 1 { "" } else { "s" },
                listed(&instances)
            ),
            instance_resource(record, first),
        ),
        (None, selected) => (
            selected.unwrap_or_else(|| "instances it does not name".to_owned()),
            Resource {
                kind: "AwsSsmDocument".to_owned(),
                id: document_arn(record, &document),
                name: Some(document.clone()),
            },
        ),
    };
    Some(Judged::new(
        severity,
        format!("ran Systems Manager document `{document}` ({reach}) on {on}"),
        format!("run Systems Manager document `{document}` on {on}"),
        resource,
    ))
}

/// A document's ARN: as named, or built from its name. AWS's own documents belong to no account: their
/// ARNs leave it empty.
fn document_arn(record: &Record<'_>, document: &str) -> String {
    if document.starts_with("arn:") {
        return document.to_owned();
    }
    if is_aws_document(document) {
        let region = record.aws_region.as_deref().unwrap_or("REGION");
        return format!("arn:aws:ssm:{region}::document/{document}");
    }
    regional_arn(record, "ssm", &format!("document/{document}"))
}

fn start_session(record: &Record<'_>, params: &Value) -> Option<Judged> {
    let target = member_str_either_case(Some(params), "target")?;
    let kind = match member_str_either_case(Some(params), "documentName").as_deref() {
        None | Some("SSM-SessionManagerRunShell") => "a shell session".to_owned(),
        Some(document) if document.contains("PortForwarding") => {
            format!("a port-forwarding session (`{document}`)")
        }
        Some("AWS-StartSSHSession") => "an SSH session (`AWS-StartSSHSession`)".to_owned(),
        Some(document) => format!("a session with document `{document}`"),
    };
    let reason = member_str_either_case(Some(params), "reason")
        .map(|reason| format!(", giving the reason \"{reason}\""))
        .unwrap_or_default();
    let resource = if is_instance_id(&target) {
        instance_resource(record, &target)
    } else {
        Resource {
            kind: "AwsSsmManagedInstance".to_owned(),
            id: regional_arn(record, "ssm", &format!("managed-instance/{target}")),
            name: Some(target.clone()),
        }
    };
    Some(Judged::new(
        Severity::Low,
        format!("opened {kind} on `{target}` through Session Manager{reason}"),
        format!("open {kind} on `{target}` through Session Manager"),
        resource,
    ))
}

fn execute_command(record: &Record<'_>, params: &Value) -> Option<Judged> {
    let task = member_str_either_case(Some(params), "task")?;
    let cluster =
        member_str_either_case(Some(params), "cluster").unwrap_or_else(|| "default".to_owned());
    let container = member_str_either_case(Some(params), "container")
        .map(|c| format!(" container `{c}` of"))
        .unwrap_or_default();
    let command = member_str_either_case(Some(params), "command")
        .map(|c| format!("`{c}`"))
        .unwrap_or_else(|| "a command".to_owned());
    let task_arn = if task.starts_with("arn:") {
        task.clone()
    } else {
        let cluster_name = cluster.rsplit('/').next().unwrap_or(&cluster);
        regional_arn(record, "ecs", &format!("task/{cluster_name}/{task}"))
    };
    let resource = Resource {
        kind: "AwsEcsTask".to_owned(),
        id: task_arn,
        name: Some(task.clone()),
    };
    Some(Judged::new(
        Severity::Low,
        format!("ran {command} in{container} ECS task `{task}` (ECS Exec)"),
        format!("run {command} in{container} ECS task `{task}` (ECS Exec)"),
        resource,
    ))
}

fn open_notebook(record: &Record<'_>, params: &Value) -> Option<Judged> {
    let notebook = member_str_either_case(Some(params), "notebookInstanceName")?;
    let resource = Resource {
        kind: "AwsSageMakerNotebookInstance".to_owned(),
        id: notebook_instance_arn(record, &notebook),
        name: Some(notebook.clone()),
    };
    Some(Judged::new(
        Severity::Low,
        format!(
            "opened SageMaker notebook instance `{notebook}` (a signed URL to its Jupyter server, whose \
             terminal runs as the notebook's role)"
        ),
        format!("open SageMaker notebook instance `{notebook}`"),
        resource,
    ))
}

/// A tunnel through an EC2 Instance Connect Endpoint: its request names the endpoint, the private address
/// and the port, not the instance.
fn open_tunnel(record: &Record<'_>, params: &Value) -> Option<Judged> {
    let endpoint = member_str_either_case(Some(params), "instanceConnectEndpointId")?;
    let address = member_str_either_case(Some(params), "privateIpAddress")
        .unwrap_or_else(|| "(unnamed address)".to_owned());
    let port = member_either_case(Some(params), "remotePort")
        .map(|port| match port {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        })
        .map(|port| format!(" port {port}"))
        .unwrap_or_default();
    let resource = Resource {
        kind: "AwsEc2InstanceConnectEndpoint".to_owned(),
        id: regional_arn(
            record,
            "ec2",
            &format!("instance-connect-endpoint/{endpoint}"),
        ),
        name: Some(endpoint.clone()),
    };
    Some(Judged::new(
        Severity::Low,
        format!(
            "opened a tunnel to {address}{port} through EC2 Instance Connect Endpoint `{endpoint}`"
        ),
        format!(
            "open a tunnel to {address}{port} through EC2 Instance Connect Endpoint `{endpoint}`"
        ),
        resource,
    ))
}

fn reach(record: &Record<'_>, params: &Value) -> Option<Judged> {
    match record.event_name.as_ref() {
        "SendCommand" => send_command(record, params),
        "StartSession" => start_session(record, params),
        "ExecuteCommand" => execute_command(record, params),
        "CreatePresignedNotebookInstanceUrl" => open_notebook(record, params),
        "OpenTunnel" => open_tunnel(record, params),
        _ => None,
    }
}

/// The rule's calls, judgement and evidence ([`CallJudgement`]).
const JUDGEMENT: CallJudgement = CallJudgement {
    meta: &META,
    watched: WATCHED,
    judge: reach,
    evidence_keys: &[
        "documentName",
        "instanceIds",
        "targets",
        "target",
        "reason",
        "cluster",
        "task",
        "container",
        "command",
        "notebookInstanceName",
        "instanceConnectEndpointId",
        "privateIpAddress",
        "remotePort",
    ],
    summary:
        "Ask the caller what the command or session was for and read its output; if it was not \
              theirs to run, revoke the sessions of the instance's or task's role and the caller's \
              credentials.",
};

call_judgement_rule!(
    /// Flags commands and sessions run on instances and containers through Systems Manager or ECS Exec.
    CommandRunInWorkload,
    JUDGEMENT
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent, IAM_USER};

    fn send(request: &str) -> TestEvent {
        TestEvent::new(SSM, "SendCommand")
            .identity(IAM_USER)
            .request(request)
    }

    #[test]
    fn the_document_decides_the_severity_of_a_command() {
        let cases = [
            ("AWS-RunShellScript", Some(Severity::Medium)),
            ("AWS-RunPowerShellScript", Some(Severity::Medium)),
            ("AWS-RunPatchBaseline", Some(Severity::Info)),
            ("AmazonCloudWatch-ManageAgent", Some(Severity::Info)),
            ("Team-Deploy", Some(Severity::Low)),
            (
                "arn:aws:ssm:us-east-1:444455556666:document/Collect",
                Some(Severity::Low),
            ),
            (
                "arn:aws:ssm:us-east-1::document/AWS-RunShellScript",
                Some(Severity::Medium),
            ),
        ];
        for (document, expected) in cases {
            let found = check(
                &CommandRunInWorkload,
                &send(&format!(
                    r#"{{"documentName":"{document}","instanceIds":["i-0786a3a8b5c0d92ef"]}}"#
                )),
            );
            assert_eq!(found.first().map(|f| f.severity), expected, "{document}");
        }
        // An ARN of the caller's own account is the account's document, not a shared one.
        let own = check(
            &CommandRunInWorkload,
            &send(
                r#"{"documentName":"arn:aws:ssm:us-east-1:229654561268:document/Collect","instanceIds":["i-0786a3a8b5c0d92ef"]}"#,
            ),
        );
        assert!(
            own[0].message.contains("of the account's own"),
            "{}",
            own[0].message
        );
    }

    #[test]
    fn targets_and_many_instances_are_named() {
        let everywhere = send(
            r#"{"documentName":"AWS-RunShellScript","targets":[{"key":"InstanceIds","values":["*"]}]}"#,
        );
        let found = check(&CommandRunInWorkload, &everywhere);
        assert!(
            found[0].message.contains("every managed instance"),
            "{}",
            found[0].message
        );
        assert_eq!(found[0].resource.as_ref().unwrap().kind, "AwsSsmDocument");
        assert_eq!(
            found[0].resource.as_ref().unwrap().id,
            "arn:aws:ssm:us-east-1::document/AWS-RunShellScript"
        );
        let many = send(
            r#"{"documentName":"AWS-RunShellScript","instanceIds":["i-0000000000000000a","i-0000000000000000b","i-0000000000000000c","i-0000000000000000d","i-0000000000000000e","i-0000000000000000f","i-00000000000000010"]}"#,
        );
        let found = check(&CommandRunInWorkload, &many);
        assert!(
            found[0].message.contains("and 2 more"),
            "{}",
            found[0].message
        );
        assert_eq!(
            found[0].resource.as_ref().unwrap().name.as_deref(),
            Some("i-0000000000000000a")
        );
    }

    #[test]
    fn sessions_and_container_commands_are_low_and_refused_ones_are_dropped() {
        let session = TestEvent::new(SSM, "StartSession")
            .identity(IAM_USER)
            .request(r#"{"target":"i-0786a3a8b5c0d92ef","reason":"debug disk"}"#);
        let found = check(&CommandRunInWorkload, &session);
        assert_eq!(found[0].severity, Severity::Low);
        assert!(found[0].message.contains("debug disk"));
        let exec = TestEvent::new(ECS, "ExecuteCommand")
            .identity(IAM_USER)
            .request(r#"{"cluster":"prod","task":"5d3e1f2a9b8c4d7e","container":"api","command":"/bin/sh","interactive":true}"#);
        let found = check(&CommandRunInWorkload, &exec);
        assert_eq!(
            found[0].resource.as_ref().unwrap().id,
            "arn:aws:ecs:us-east-1:229654561268:task/prod/5d3e1f2a9b8c4d7e"
        );
        let notebook = TestEvent::new(SAGEMAKER, "CreatePresignedNotebookInstanceUrl")
            .identity(IAM_USER)
            .request(r#"{"notebookInstanceName":"Research-NB","sessionExpirationDurationInSeconds":1800}"#);
        let found = check(&CommandRunInWorkload, &notebook);
        assert_eq!(found[0].severity, Severity::Low);
        let notebook_arn = &found[0].resource.as_ref().unwrap().id;
        assert!(
            notebook_arn.ends_with(":notebook-instance/research-nb"),
            "{notebook_arn}"
        );
        let tunnel = TestEvent::new(INSTANCE_CONNECT, "OpenTunnel")
            .identity(IAM_USER)
            .request(r#"{"instanceConnectEndpointId":"eice-0123456789abcdef0","maxTunnelDuration":"3600","remotePort":"22","privateIpAddress":"10.0.1.25"}"#);
        let found = check(&CommandRunInWorkload, &tunnel);
        assert_eq!(found[0].severity, Severity::Low);
        assert!(
            found[0].message.contains("10.0.1.25 port 22"),
            "{}",
            found[0].message
        );
        assert!(check(&CommandRunInWorkload, &session.denied()).is_empty());
    }

    #[test]
    fn a_refused_shell_script_is_an_attempt_one_step_lower() {
        let refused =
            send(r#"{"documentName":"AWS-RunShellScript","instanceIds":["i-0786a3a8b5c0d92ef"]}"#)
                .denied();
        let found = check(&CommandRunInWorkload, &refused);
        assert_eq!(found[0].severity, Severity::Low);
        assert!(
            found[0].message.contains("tried to run"),
            "{}",
            found[0].message
        );
    }
}
