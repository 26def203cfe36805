//! CT100 workload-role-swapped: a running workload given another IAM role: an EC2 instance's profile
//! replaced or one attached, a Lambda function's execution role changed, a CodeBuild project's service
//! role changed, a SageMaker notebook's role changed. The `iam:PassRole` escalation paths that reuse a
//! workload the caller already reaches.

use serde_json::Value;
use trailguard_event::Record;

use super::common::{
    call_judgement_rule, ec2_request_member, instance_resource, lambda_function_arn,
    member_either_case, member_str_either_case, notebook_instance_arn, regional_arn, CallJudgement,
    Judged,
};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::ANY_EVENT;

pub const META: RuleMeta = RuleMeta {
    code: "CT100",
    name: "workload-role-swapped",
    title: "Running workload given another IAM role",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1098", "T1548", "T1078.004"],
    compliance: &[],
    events: &[ANY_EVENT],
    kb_entries: &[],
    doc: RuleDoc {
        what: "An existing workload made to run with another IAM role, the role named in the request. \
               **medium**: an EC2 instance's instance profile replaced \
               (`ReplaceIamInstanceProfileAssociation`), a Lambda function's execution role changed \
               (`UpdateFunctionConfiguration` with `role`), a CodeBuild project's service role changed \
               (`UpdateProject` with `serviceRole`), a SageMaker notebook instance's role changed \
               (`UpdateNotebookInstance` with `roleArn`). **low**: an instance profile attached to an instance \
               that had none (`AssociateIamInstanceProfile`), which is also how instances are set up after \
               launch. Requests are read flat or wrapped in EC2's `<Operation>Request`, in either case. A \
               refused call is an attempt, one step lower; a refused low one is not reported. Calls AWS \
               services make (CloudFormation applying a stack) are left out.",
        why: "With `iam:PassRole` on a powerful role and the right to reconfigure a workload they already \
              reach, attackers need not create anything: they point the instance, function, build project \
              or notebook at the role, then read its credentials from the instance metadata service, from \
              the function's environment or from a build (ATT&CK T1098, T1548; the `PassRole` escalation \
              paths to existing EC2, Lambda, CodeBuild and SageMaker resources). A profile replaced on a \
              running instance, or a function's role changed, is seldom part of a deployment, which \
              creates workloads with their roles.",
        example: "IAM user `dev-ci` runs `aws ec2 replace-iam-instance-profile-association --association-id \
                  iip-assoc-0e7736511a163c209 --iam-instance-profile Name=admin-profile` for the build \
                  instance it can reach over SSM.",
        fix: "Confirm the change with the workload's owners. If it was not planned, give the workload its \
              previous role back, revoke the sessions of the role it was given (IAM console, Revoke \
              sessions), and review what that role did from the workload since.",
        references: &[
            "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ReplaceIamInstanceProfileAssociation.html",
            "https://docs.aws.amazon.com/lambda/latest/api/API_UpdateFunctionConfiguration.html",
            "https://docs.aws.amazon.com/codebuild/latest/APIReference/API_UpdateProject.html",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html",
            "https://attack.mitre.org/techniques/T1548/",
        ],
    },
};

const EC2: &str = "ec2.amazonaws.com";
const LAMBDA: &str = "lambda.amazonaws.com";

/// Lambda records its API version in the event name; both versions it has written are watched.
const WATCHED: &[(&str, &str)] = &[
    (EC2, "ReplaceIamInstanceProfileAssociation"),
    (EC2, "AssociateIamInstanceProfile"),
    (LAMBDA, "UpdateFunctionConfiguration20150331v2"),
    (LAMBDA, "UpdateFunctionConfiguration20150331"),
    ("codebuild.amazonaws.com", "UpdateProject"),
    ("sagemaker.amazonaws.com", "UpdateNotebookInstance"),
];

/// The instance profile an EC2 request names: its ARN, else its name.
fn instance_profile(params: &Value, wrapper: &str) -> Option<String> {
    let profile = ec2_request_member(params, wrapper, "iamInstanceProfile")?;
    member_str_either_case(Some(profile), "arn")
        .or_else(|| member_str_either_case(Some(profile), "name"))
}

/// The instance a profile call is about: the request's `instanceId` (an attachment), else the one the
/// response's association names (a replacement names only the association).
fn instance_of(record: &Record<'_>, params: &Value, wrapper: &str) -> Option<String> {
    if let Some(id) = ec2_request_member(params, wrapper, "instanceId").and_then(Value::as_str) {
        return Some(id.to_owned());
    }
    let response = record.response_elements()?;
    let association = member_either_case(Some(&response), "iamInstanceProfileAssociation")
        .or_else(|| {
            member_either_case(
                Some(&response),
                "ReplaceIamInstanceProfileAssociationResponse",
            )
            .and_then(|r| member_either_case(Some(r), "iamInstanceProfileAssociation"))
        })?;
    member_str_either_case(Some(association), "instanceId")
}

fn swap(record: &Record<'_>, params: &Value) -> Option<Judged> {
    let judged = Judged::new;
    let name = record.event_name.as_ref();
    if record.event_source == EC2 {
        let wrapper = format!("{name}Request");
        let profile = instance_profile(params, &wrapper)?;
        let instance = instance_of(record, params, &wrapper);
        // A refused replacement names only the association: the instance is known by it.
        let association = ec2_request_member(params, &wrapper, "associationId")
            .and_then(Value::as_str)
            .unwrap_or("(unnamed)");
        let (label, resource) = match &instance {
            Some(id) => (format!("`{id}`"), instance_resource(record, id)),
            None => (
                format!("of association `{association}`"),
                Resource {
                    kind: "AwsEc2Instance".to_owned(),
                    id: association.to_owned(),
                    name: Some(association.to_owned()),
                },
            ),
        };
        return Some(if name == "ReplaceIamInstanceProfileAssociation" {
            judged(
                Severity::Medium,
                format!(
                    "replaced the instance profile of running instance {label} with `{profile}`: whoever \
                     reaches the instance now gets that role's credentials"
                ),
                format!("replace the instance profile of instance {label} with `{profile}`"),
                resource,
            )
        } else {
            judged(
                Severity::Low,
                format!("attached instance profile `{profile}` to instance {label}"),
                format!("attach instance profile `{profile}` to instance {label}"),
                resource,
            )
        });
    }
    let setting = ROLE_SETTINGS
        .iter()
        .find(|setting| setting.source == record.event_source)?;
    let role = member_str_either_case(Some(params), setting.role_key)?;
    let workload = member_str_either_case(Some(params), setting.name_key)
        .unwrap_or_else(|| format!("(unnamed {})", setting.unnamed));
    let what = format!("{} `{workload}` to `{role}`", setting.which_role);
    Some(judged(
        Severity::Medium,
        format!("changed {what}: {}", setting.consequence),
        format!("change {what}"),
        Resource {
            kind: setting.kind.to_owned(),
            id: (setting.arn)(record, &workload),
            name: Some(workload),
        },
    ))
}

/// A workload whose role one request member sets: where to read the role and the workload's name, how to
/// say what changed, and the workload as a resource.
struct RoleSetting {
    source: &'static str,
    role_key: &'static str,
    name_key: &'static str,
    /// The workload's kind, for a request that names none: `(unnamed function)`.
    unnamed: &'static str,
    /// Whose role changed, before the workload's name: `the execution role of Lambda function`.
    which_role: &'static str,
    /// What the new role means, after the change.
    consequence: &'static str,
    kind: &'static str,
    arn: fn(&Record<'_>, &str) -> String,
}

/// The non-EC2 watched calls, each setting one workload's role.
const ROLE_SETTINGS: &[RoleSetting] = &[
    RoleSetting {
        source: LAMBDA,
        role_key: "role",
        name_key: "functionName",
        unnamed: "function",
        which_role: "the execution role of Lambda function",
        consequence: "its code now runs with that role",
        kind: "AwsLambdaFunction",
        arn: |record, function| lambda_function_arn(record, function, record.account_id()),
    },
    RoleSetting {
        source: "codebuild.amazonaws.com",
        role_key: "serviceRole",
        name_key: "name",
        unnamed: "project",
        which_role: "the service role of CodeBuild project",
        consequence: "its builds now run with that role",
        kind: "AwsCodeBuildProject",
        arn: |record, project| regional_arn(record, "codebuild", &format!("project/{project}")),
    },
    RoleSetting {
        source: "sagemaker.amazonaws.com",
        role_key: "roleArn",
        name_key: "notebookInstanceName",
        unnamed: "notebook",
        which_role: "the role of SageMaker notebook instance",
        consequence: "code run in it gets that role's credentials",
        kind: "AwsSageMakerNotebookInstance",
        arn: notebook_instance_arn,
    },
];

/// The rule's calls, judgement and evidence ([`CallJudgement`]).
const JUDGEMENT: CallJudgement = CallJudgement {
    meta: &META,
    watched: WATCHED,
    judge: swap,
    evidence_keys: &[
        "ReplaceIamInstanceProfileAssociationRequest",
        "AssociateIamInstanceProfileRequest",
        "associationId",
        "instanceId",
        "iamInstanceProfile",
        "functionName",
        "role",
        "name",
        "serviceRole",
        "notebookInstanceName",
        "roleArn",
    ],
    summary:
        "Confirm the role change with the workload's owners; if it was not planned, restore the \
              previous role and revoke the sessions of the one given.",
};

call_judgement_rule!(
    /// Flags running workloads given another IAM role.
    WorkloadRoleSwapped,
    JUDGEMENT
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent, IAM_USER};

    #[test]
    fn a_replaced_profile_is_medium_flat_or_wrapped_and_names_the_instance() {
        let wrapped = TestEvent::new(EC2, "ReplaceIamInstanceProfileAssociation")
            .identity(IAM_USER)
            .request(r#"{"ReplaceIamInstanceProfileAssociationRequest":{"AssociationId":"iip-assoc-0e7736511a163c209","IamInstanceProfile":{"Name":"admin-profile"}}}"#)
            .response(r#"{"ReplaceIamInstanceProfileAssociationResponse":{"iamInstanceProfileAssociation":{"associationId":"iip-assoc-08049da59357d598c","instanceId":"i-0a1b2c3d4e5f60718","state":"associating","iamInstanceProfile":{"arn":"arn:aws:iam::229654561268:instance-profile/admin-profile","id":"AIPAZ49AHUAJEXAMPLE1"}}}}"#);
        let found = check(&WorkloadRoleSwapped, &wrapped);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].severity, Severity::Medium);
        assert!(found[0]
            .message
            .contains("`i-0a1b2c3d4e5f60718` with `admin-profile`"));
        let flat = TestEvent::new(EC2, "AssociateIamInstanceProfile")
            .identity(IAM_USER)
            .request(r#"{"instanceId":"i-0a1b2c3d4e5f60718","iamInstanceProfile":{"arn":"arn:aws:iam::229654561268:instance-profile/web"}}"#);
        assert_eq!(
            check(&WorkloadRoleSwapped, &flat)[0].severity,
            Severity::Low
        );
    }

    #[test]
    fn a_function_or_project_changed_without_a_role_is_not_this_rules() {
        let memory = TestEvent::new(LAMBDA, "UpdateFunctionConfiguration20150331v2")
            .identity(IAM_USER)
            .request(r#"{"functionName":"billing-export","memorySize":512}"#);
        assert!(check(&WorkloadRoleSwapped, &memory).is_empty());
        let role = TestEvent::new(LAMBDA, "UpdateFunctionConfiguration20150331v2")
            .identity(IAM_USER)
            .request(r#"{"functionName":"billing-export","role":"arn:aws:iam::229654561268:role/admin"}"#);
        let found = check(&WorkloadRoleSwapped, &role);
        assert_eq!(found[0].severity, Severity::Medium);
        let project = TestEvent::new("codebuild.amazonaws.com", "UpdateProject")
            .identity(IAM_USER)
            .request(r#"{"name":"web-build","timeoutInMinutes":30}"#);
        assert!(check(&WorkloadRoleSwapped, &project).is_empty());
    }
}
