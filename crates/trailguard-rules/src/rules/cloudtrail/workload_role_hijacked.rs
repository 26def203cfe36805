//! CT074 workload-role-hijacked: an existing workload that runs with an IAM role made to run the caller's
//! code or accept the caller's key: a Glue development endpoint given an SSH key, a CodeBuild build
//! started with its own buildspec, a SageMaker notebook given a lifecycle script. The "existing PassRole"
//! privilege-escalation paths, exercised.

use serde_json::Value;
use trailguard_event::Record;

use super::common::{
    call_failed, describe_caller, event_in, finding_for, made_by_aws, region_arg, regional_arn,
    request_evidence, sh, worth_reporting,
};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{CloudTrailRule, EventContext, Report, ANY_EVENT};

pub const META: RuleMeta = RuleMeta {
    code: "CT074",
    name: "workload-role-hijacked",
    title: "Workload made to run the caller's code with its role",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1098.004", "T1648", "T1078.004"],
    compliance: &[],
    events: &[ANY_EVENT],
    kb_entries: &[],
    doc: RuleDoc {
        what: "A workload that already runs with an IAM role made to run what the caller brings: Glue \
               `UpdateDevEndpoint` adding an SSH public key (`publicKey`, `addPublicKeys`) or \
               `CreateDevEndpoint` with one; CodeBuild `StartBuild`/`StartBuildBatch` with a \
               `buildspecOverride` (commands of the caller's choosing in place of the project's reviewed \
               buildspec); SageMaker `UpdateNotebookInstance` attaching a lifecycle configuration (a script \
               that runs as root at the notebook's next start). **medium**; **low** for a new development \
               endpoint created with a key (how endpoints are meant to be used). Calls AWS services make on \
               a principal's behalf (CodePipeline starting a build) are left out; a refused call is an \
               attempt, one step lower.",
        why: "Each of these hands the caller the role of the workload without `iam:PassRole`: an SSH shell \
              on the endpoint, a build container or a notebook reads the role's credentials from its \
              metadata endpoint. They are documented privilege-escalation paths (pathfinding.cloud \
              glue-002, codebuild-002/003, sagemaker-005, the \"existing PassRole\" category): a principal \
              with a narrow policy and one of these permissions on a workload whose role is broad holds \
              the broad role.",
        example: "Role session `dev-ci/alice` calls `glue update-dev-endpoint --endpoint-name etl-dev \
                  --add-public-keys \"ssh-ed25519 AAAA...\"`, then connects to the endpoint, whose role \
                  may read every S3 bucket.",
        fix: "Undo the change (delete the key, detach the lifecycle configuration, stop the build), then \
              check what the workload's role did since, and treat the caller's credentials as compromised \
              if the change was not planned. Grant these permissions only on workloads whose role is no \
              broader than the caller's own.",
        references: &[
            "https://docs.aws.amazon.com/glue/latest/webapi/API_UpdateDevEndpoint.html",
            "https://docs.aws.amazon.com/codebuild/latest/APIReference/API_StartBuild.html",
            "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateNotebookInstance.html",
            "https://pathfinding.cloud",
        ],
    },
};

const WATCHED: &[(&str, &str)] = &[
    ("glue.amazonaws.com", "UpdateDevEndpoint"),
    ("glue.amazonaws.com", "CreateDevEndpoint"),
    ("codebuild.amazonaws.com", "StartBuild"),
    ("codebuild.amazonaws.com", "StartBuildBatch"),
    ("sagemaker.amazonaws.com", "UpdateNotebookInstance"),
];

/// Flags workloads made to run the caller's code with their role.
#[derive(Debug, Default)]
pub struct WorkloadRoleHijacked;

/// What a call did to which workload, judged from its request.
struct Hijack {
    severity: Severity,
    /// What was done, naming the workload: as done ("added a key to …") and as tried ("add a key to …").
    done: String,
    tried: String,
    workload: Resource,
    /// The request fields shown as evidence.
    fields: &'static [&'static str],
    undo: Option<String>,
}

fn text<'p>(params: &'p Value, key: &str) -> Option<&'p str> {
    params.get(key)?.as_str().filter(|s| !s.is_empty())
}

/// Whether the request brings a key: a string, or a non-empty list of them.
fn brings_key(params: &Value, key: &str) -> bool {
    match params.get(key) {
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(keys)) => !keys.is_empty(),
        _ => false,
    }
}

fn workload(record: &Record<'_>, kind: &str, service: &str, path: &str, name: &str) -> Resource {
    Resource {
        kind: kind.to_owned(),
        id: regional_arn(record, service, &format!("{path}/{name}")),
        name: Some(name.to_owned()),
    }
}

fn judge(record: &Record<'_>, params: &Value) -> Option<Hijack> {
    let region = region_arg(record);
    match record.event_name.as_ref() {
        name @ ("UpdateDevEndpoint" | "CreateDevEndpoint") => {
            if !brings_key(params, "publicKey")
                && !brings_key(params, "addPublicKeys")
                && !brings_key(params, "publicKeys")
            {
                return None;
            }
            let endpoint = text(params, "endpointName").unwrap_or("(unnamed)");
            let created = name == "CreateDevEndpoint";
            Some(Hijack {
                severity: if created {
                    Severity::Low
                } else {
                    Severity::Medium
                },
                done: if created {
                    format!("created Glue development endpoint `{endpoint}` with an SSH key")
                } else {
                    format!("added an SSH key to Glue development endpoint `{endpoint}`")
                },
                tried: format!("add an SSH key to Glue development endpoint `{endpoint}`"),
                workload: workload(record, "AwsGlueDevEndpoint", "glue", "devEndpoint", endpoint),
                fields: &["endpointName", "roleArn", "publicKey", "addPublicKeys", "publicKeys"],
                undo: (!created).then(|| {
                    format!(
                        "aws glue get-dev-endpoint{region} --endpoint-name {} --query DevEndpoint.PublicKeys",
                        sh(endpoint)
                    )
                }),
            })
        }
        "StartBuild" | "StartBuildBatch" => {
            text(params, "buildspecOverride")?;
            let project = text(params, "projectName").unwrap_or("(unnamed)");
            Some(Hijack {
                severity: Severity::Medium,
                done: format!(
                    "started a build of CodeBuild project `{project}` with a buildspec of its own"
                ),
                tried: format!(
                    "start a build of CodeBuild project `{project}` with a buildspec of its own"
                ),
                workload: workload(record, "AwsCodeBuildProject", "codebuild", "project", project),
                fields: &["projectName", "buildspecOverride", "sourceVersion"],
                undo: Some(format!(
                    "aws codebuild list-builds-for-project{region} --project-name {} --sort-order DESCENDING",
                    sh(project)
                )),
            })
        }
        "UpdateNotebookInstance" => {
            let config = text(params, "lifecycleConfigName")?;
            let notebook = text(params, "notebookInstanceName").unwrap_or("(unnamed)");
            Some(Hijack {
                severity: Severity::Medium,
                done: format!(
                    "attached lifecycle configuration `{config}` to SageMaker notebook `{notebook}`"
                ),
                tried: format!(
                    "attach lifecycle configuration `{config}` to SageMaker notebook `{notebook}`"
                ),
                workload: workload(
                    record,
                    "AwsSageMakerNotebookInstance",
                    "sagemaker",
                    "notebook-instance",
                    notebook,
                ),
                fields: &["notebookInstanceName", "lifecycleConfigName", "roleArn"],
                undo: Some(format!(
                    "aws sagemaker update-notebook-instance{region} --notebook-instance-name {} --disassociate-lifecycle-config",
                    sh(notebook)
                )),
            })
        }
        _ => None,
    }
}

impl CloudTrailRule for WorkloadRoleHijacked {
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
        let Some(hijack) = judge(record, &params) else {
            return;
        };
        let failed = call_failed(record);
        if !worth_reporting(failed, hijack.severity) {
            return;
        }
        let mut finding = finding_for(&META, record, hijack.severity);
        let who = describe_caller(&EventContext::from_record(record));
        finding.message = if failed {
            format!("{who} tried to {}; the call was refused.", hijack.tried)
        } else {
            format!(
                "{who} {}: whatever runs there holds the workload's role, so the caller does too.",
                hijack.done
            )
        };
        finding.resource = Some(hijack.workload);
        request_evidence(&mut finding, Some(&params), hijack.fields);
        if failed {
            finding.fix.summary =
                "Nothing changed; find out why this principal tried to take over the workload's role."
                    .to_owned();
        } else {
            finding.fix.summary =
                "If it was not planned, undo it, review what the workload's role did \
                                   since, and treat the caller's credentials as compromised."
                    .to_owned();
            finding.fix.commands.extend(hijack.undo);
        }
        out.push(finding);
    }
}
