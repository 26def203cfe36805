//! The published catalog of IAM privilege-escalation methods: Rhino Security Labs' original 21,
//! and the later ones documented by Bishop Fox (iam-vulnerable), Datadog (pathfinding.cloud),
//! HackTricks and AWS's own guidance. Each method names the permissions that together enable it:
//! `requires` is a list of groups, all needed, each satisfied by any one of its actions.

/// One way to gain more privilege than a policy grants directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PrivescMethod {
    /// Stable slug, e.g. `create-policy-version`.
    pub id: &'static str,
    /// The name used by Cloudsplaining / Rhino where one exists, e.g. `CreateNewPolicyVersion`.
    pub name: &'static str,
    pub description: &'static str,
    /// All groups needed; any action of a group satisfies it (lower-case `service:action`).
    pub requires: &'static [&'static [&'static str]],
    pub source: &'static str,
}

const RHINO: &str = "Rhino Security Labs, AWS IAM privilege escalation methods";
const BISHOP: &str = "Bishop Fox, iam-vulnerable";
const LATER: &str = "pathfinding.cloud / HackTricks AWS privilege escalation";

macro_rules! method {
    ($id:literal, $name:literal, $source:expr, $desc:literal, [$([$($a:literal),+]),+]) => {
        PrivescMethod { id: $id, name: $name, description: $desc, requires: &[$(&[$($a),+]),+], source: $source }
    };
}

/// Methods that escalate only through another user's credentials: granted on the caller's own user
/// alone (`user/${aws:username}`, AWS's self-service pattern), they give nothing new.
pub const OTHER_USER_METHODS: &[&str] = &[
    "create-access-key",
    "create-login-profile",
    "update-login-profile",
];

/// Every known method, in a stable order.
pub const METHODS: &[PrivescMethod] = &[
    method!("create-policy-version", "CreateNewPolicyVersion", RHINO, "Create a new version of a managed policy attached to yourself with `--set-as-default`, granting any permission.", [["iam:createpolicyversion"]]),
    method!("set-default-policy-version", "SetExistingDefaultPolicyVersion", RHINO, "Make an older, more permissive version of an attached managed policy the default.", [["iam:setdefaultpolicyversion"]]),
    method!("passrole-ec2", "CreateEC2WithExistingInstanceProfile", RHINO, "Launch an EC2 instance with a privileged instance profile and read its role credentials from the metadata service.", [["iam:passrole"], ["ec2:runinstances"]]),
    method!("create-access-key", "CreateAccessKey", RHINO, "Create an access key for another (more privileged) user.", [["iam:createaccesskey"]]),
    method!("create-login-profile", "CreateLoginProfile", RHINO, "Set a console password for a user who has none and sign in as them.", [["iam:createloginprofile"]]),
    method!("update-login-profile", "UpdateLoginProfile", RHINO, "Change another user's console password and sign in as them.", [["iam:updateloginprofile"]]),
    method!("attach-user-policy", "AttachUserPolicy", RHINO, "Attach AdministratorAccess (or any managed policy) to yourself.", [["iam:attachuserpolicy"]]),
    method!("attach-group-policy", "AttachGroupPolicy", RHINO, "Attach any managed policy to a group you belong to.", [["iam:attachgrouppolicy"]]),
    method!("attach-role-policy", "AttachRolePolicy", RHINO, "Attach any managed policy to a role you can assume.", [["iam:attachrolepolicy"], ["sts:assumerole"]]),
    method!("put-user-policy", "PutUserPolicy", RHINO, "Write an inline policy granting anything on your own user.", [["iam:putuserpolicy"]]),
    method!("put-group-policy", "PutGroupPolicy", RHINO, "Write an inline policy granting anything on a group you belong to.", [["iam:putgrouppolicy"]]),
    method!("put-role-policy", "PutRolePolicy", RHINO, "Write an inline policy granting anything on a role you can assume.", [["iam:putrolepolicy"], ["sts:assumerole"]]),
    method!("add-user-to-group", "AddUserToGroup", RHINO, "Add yourself to a more privileged group.", [["iam:addusertogroup"]]),
    method!("update-assume-role-policy", "UpdateRolePolicyToAssumeIt", RHINO, "Rewrite a privileged role's trust policy so that you may assume it.", [["iam:updateassumerolepolicy"], ["sts:assumerole"]]),
    method!("passrole-lambda-invoke", "PassExistingRoleToNewLambdaThenInvoke", RHINO, "Create a Lambda function with a privileged role and invoke it.", [["iam:passrole"], ["lambda:createfunction"], ["lambda:invokefunction", "lambda:invokefunctionurl"]]),
    method!("passrole-lambda-new-dynamodb", "PassExistingRoleToNewLambdaThenTriggerWithNewDynamo", RHINO, "Create a Lambda function with a privileged role and trigger it from a new DynamoDB stream.", [["iam:passrole"], ["lambda:createfunction"], ["lambda:createeventsourcemapping"], ["dynamodb:createtable"], ["dynamodb:putitem"]]),
    method!("passrole-lambda-existing-dynamodb", "PassExistingRoleToNewLambdaThenTriggerWithExistingDynamo", RHINO, "Create a Lambda function with a privileged role and trigger it from an existing DynamoDB stream.", [["iam:passrole"], ["lambda:createfunction"], ["lambda:createeventsourcemapping"]]),
    method!("lambda-update-code", "EditExistingLambdaFunctionWithRole", RHINO, "Replace the code of an existing function that runs with a privileged role.", [["lambda:updatefunctioncode"]]),
    method!("passrole-glue-dev-endpoint", "PassExistingRoleToNewGlueDevEndpoint", RHINO, "Create a Glue development endpoint with a privileged role and SSH into it.", [["iam:passrole"], ["glue:createdevendpoint"]]),
    method!("glue-update-dev-endpoint", "UpdateExistingGlueDevEndpoint", RHINO, "Add your SSH key to an existing Glue development endpoint that has a privileged role.", [["glue:updatedevendpoint"]]),
    method!("passrole-cloudformation", "PassExistingRoleToCloudFormation", RHINO, "Create a CloudFormation stack that runs with a privileged role and creates what you want.", [["iam:passrole"], ["cloudformation:createstack", "cloudformation:createstackset"]]),
    method!("passrole-datapipeline", "PassExistingRoleToNewDataPipeline", RHINO, "Create a Data Pipeline that runs commands with a privileged role.", [["iam:passrole"], ["datapipeline:createpipeline"], ["datapipeline:putpipelinedefinition"]]),
    method!("passrole-codebuild", "PassRoleToNewCodeBuildProject", BISHOP, "Create a CodeBuild project with a privileged service role and run a build.", [["iam:passrole"], ["codebuild:createproject"], ["codebuild:startbuild", "codebuild:startbuildbatch"]]),
    method!("codebuild-update-project", "EditExistingCodeBuildProject", LATER, "Change the buildspec of an existing project that has a privileged role and start a build.", [["codebuild:updateproject"], ["codebuild:startbuild", "codebuild:startbuildbatch"]]),
    method!("codebuild-buildspec-override", "StartBuildWithBuildspecOverride", LATER, "Start a build of an existing privileged project with an overriding buildspec.", [["codebuild:startbuild", "codebuild:startbuildbatch"], ["codebuild:batchgetprojects"]]),
    method!("passrole-sagemaker-notebook", "PassRoleToNewSageMakerNotebook", BISHOP, "Create a SageMaker notebook with a privileged role and open it through a presigned URL.", [["iam:passrole"], ["sagemaker:createnotebookinstance"], ["sagemaker:createpresignednotebookinstanceurl"]]),
    method!("sagemaker-presigned-notebook", "SageMakerPresignedNotebookUrl", BISHOP, "Open an existing notebook instance that has a privileged role.", [["sagemaker:createpresignednotebookinstanceurl"]]),
    method!("passrole-sagemaker-training", "PassRoleToNewSageMakerTrainingJob", BISHOP, "Run a SageMaker training job with a privileged role and your container.", [["iam:passrole"], ["sagemaker:createtrainingjob"]]),
    method!("passrole-sagemaker-processing", "PassRoleToNewSageMakerProcessingJob", BISHOP, "Run a SageMaker processing job with a privileged role and your container.", [["iam:passrole"], ["sagemaker:createprocessingjob"]]),
    method!("sagemaker-lifecycle-config", "SageMakerNotebookLifecycleConfig", LATER, "Attach a lifecycle script to an existing privileged notebook instance.", [["sagemaker:createnotebookinstancelifecycleconfig"], ["sagemaker:updatenotebookinstance"]]),
    method!("passrole-ecs-task", "PassRoleToNewECSTask", LATER, "Register a task definition with a privileged task role and run it.", [["iam:passrole"], ["ecs:registertaskdefinition"], ["ecs:runtask", "ecs:starttask"]]),
    method!("passrole-ecs-service", "PassRoleToNewECSService", LATER, "Register a task definition with a privileged task role and create a service running it.", [["iam:passrole"], ["ecs:registertaskdefinition"], ["ecs:createservice", "ecs:updateservice"]]),
    method!("ecs-execute-command", "ECSExecuteCommand", LATER, "Open a shell in a running container whose task role is privileged.", [["ecs:executecommand"]]),
    method!("ssm-send-command", "SSMSendCommand", BISHOP, "Run commands on an instance with a privileged instance profile.", [["ssm:sendcommand"]]),
    method!("ssm-start-session", "SSMStartSession", BISHOP, "Open a shell on an instance with a privileged instance profile.", [["ssm:startsession"]]),
    method!("ssm-create-association", "SSMCreateAssociation", LATER, "Schedule a command document on instances with privileged instance profiles.", [["ssm:createassociation"]]),
    method!("ec2-instance-connect", "EC2InstanceConnect", BISHOP, "Push an SSH key to an instance with a privileged instance profile and log in.", [["ec2-instance-connect:sendsshpublickey"]]),
    method!("ec2-serial-console", "EC2SerialConsoleConnect", LATER, "Push an SSH key for the serial console of an instance with a privileged instance profile.", [["ec2-instance-connect:sendserialconsolesshpublickey"]]),
    method!("ec2-modify-user-data", "ModifyInstanceUserData", LATER, "Stop an instance with a privileged profile, replace its user data with your script, start it.", [["ec2:modifyinstanceattribute"], ["ec2:stopinstances"], ["ec2:startinstances"]]),
    method!("passrole-ec2-spot", "PassRoleToSpotInstances", LATER, "Request Spot instances with a privileged instance profile.", [["iam:passrole"], ["ec2:requestspotinstances", "ec2:requestspotfleet"]]),
    method!("passrole-ec2-associate-profile", "AssociateInstanceProfile", LATER, "Attach a privileged instance profile to an instance you control.", [["iam:passrole"], ["ec2:associateiaminstanceprofile", "ec2:replaceiaminstanceprofileassociation"]]),
    method!("passrole-autoscaling", "PassRoleToAutoScaling", LATER, "Create a launch configuration with a privileged instance profile and an Auto Scaling group that uses it.", [["iam:passrole"], ["autoscaling:createlaunchconfiguration", "ec2:createlaunchtemplate"], ["autoscaling:createautoscalinggroup", "autoscaling:updateautoscalinggroup"]]),
    method!("ec2-launch-template-version", "ModifyLaunchTemplate", LATER, "Add a launch template version with your user data to a template used by a privileged Auto Scaling group.", [["ec2:createlaunchtemplateversion"], ["ec2:modifylaunchtemplate"]]),
    method!("add-role-to-instance-profile", "AddRoleToInstanceProfile", LATER, "Put a privileged role into an instance profile attached to an instance you control.", [["iam:addroletoinstanceprofile"], ["iam:passrole"]]),
    method!("cloudformation-update-stack", "UpdateExistingCloudFormationStack", LATER, "Update a stack that runs with a privileged service role to create what you want.", [["cloudformation:updatestack", "cloudformation:updatestackset"], ["iam:passrole"]]),
    method!("cloudformation-change-set", "CloudFormationChangeSet", LATER, "Create and execute a change set on a stack with a privileged service role.", [["cloudformation:createchangeset"], ["cloudformation:executechangeset"]]),
    method!("passrole-glue-job", "PassRoleToNewGlueJob", LATER, "Create a Glue job with a privileged role and run it.", [["iam:passrole"], ["glue:createjob"], ["glue:startjobrun", "glue:createtrigger"]]),
    method!("glue-update-job", "EditExistingGlueJob", LATER, "Replace the script of an existing privileged Glue job and run it.", [["glue:updatejob"], ["glue:startjobrun", "glue:createtrigger"]]),
    method!("passrole-glue-session", "PassRoleToNewGlueSession", LATER, "Open an interactive Glue session with a privileged role and run code.", [["iam:passrole"], ["glue:createsession"], ["glue:runstatement"]]),
    method!("lambda-update-configuration", "EditExistingLambdaConfiguration", LATER, "Add a malicious layer or environment to a privileged function.", [["lambda:updatefunctionconfiguration"]]),
    method!("passrole-lambda-permission", "PassRoleToNewLambdaThenAddPermission", LATER, "Create a function with a privileged role and let yourself invoke it through a resource policy or a function URL.", [["iam:passrole"], ["lambda:createfunction"], ["lambda:addpermission", "lambda:createfunctionurlconfig"]]),
    method!("passrole-emr", "PassRoleToNewEMRCluster", LATER, "Start an EMR cluster with a privileged instance profile and run steps.", [["iam:passrole"], ["elasticmapreduce:runjobflow"]]),
    method!("passrole-stepfunctions", "PassRoleToNewStateMachine", LATER, "Create a Step Functions state machine with a privileged role that calls any API, and start it.", [["iam:passrole"], ["states:createstatemachine"], ["states:startexecution", "states:startsyncexecution"]]),
    method!("stepfunctions-update", "EditExistingStateMachine", LATER, "Rewrite a privileged state machine's definition and start it.", [["states:updatestatemachine"], ["states:startexecution", "states:startsyncexecution"]]),
    method!("passrole-batch", "PassRoleToNewBatchJob", LATER, "Register a Batch job definition with a privileged role and submit it.", [["iam:passrole"], ["batch:registerjobdefinition"], ["batch:submitjob"]]),
    method!("passrole-apprunner", "PassRoleToNewAppRunnerService", LATER, "Create an App Runner service with a privileged instance role.", [["iam:passrole"], ["apprunner:createservice"]]),
    method!("apprunner-update-service", "EditExistingAppRunnerService", LATER, "Change the image or start command of a privileged App Runner service.", [["apprunner:updateservice"]]),
    method!("delete-role-boundary", "DeleteRolePermissionsBoundary", LATER, "Remove the permissions boundary that limits a role.", [["iam:deleterolepermissionsboundary"]]),
    method!("delete-user-boundary", "DeleteUserPermissionsBoundary", LATER, "Remove the permissions boundary that limits a user.", [["iam:deleteuserpermissionsboundary"]]),
    method!("put-role-boundary", "PutRolePermissionsBoundary", LATER, "Replace a role's permissions boundary with a permissive one.", [["iam:putrolepermissionsboundary"]]),
    method!("put-user-boundary", "PutUserPermissionsBoundary", LATER, "Replace a user's permissions boundary with a permissive one.", [["iam:putuserpermissionsboundary"]]),
    method!("create-role-and-assume", "CreateRoleThenAssume", LATER, "Create a role trusting yourself with any policy attached, then assume it.", [["iam:createrole"], ["iam:attachrolepolicy", "iam:putrolepolicy"], ["sts:assumerole"]]),
    method!("passrole-bedrock-agentcore", "PassRoleToNewCodeInterpreter", LATER, "Create a Bedrock AgentCore code interpreter with a privileged role and run code in it.", [["iam:passrole"], ["bedrock-agentcore:createcodeinterpreter"], ["bedrock-agentcore:invokecodeinterpreter"]]),
    method!("passrole-mwaa", "PassRoleToNewAirflowEnvironment", LATER, "Create an MWAA environment with a privileged execution role and run your DAGs.", [["iam:passrole"], ["airflow:createenvironment"]]),
    method!("kms-create-grant", "KMSCreateGrant", LATER, "Create a grant on a KMS key that lets you (or anyone you name) decrypt with it.", [["kms:creategrant"]]),
];

/// Actions that are not a method by themselves but expand what a principal can become, counted as
/// escalation primitives alongside every method's IAM step (the per-action notion some datasets use).
pub const EXTRA_PRIMITIVES: &[&str] = &[
    "iam:createservicelinkedrole",
    "iam:createvirtualmfadevice",
    "iam:enablemfadevice",
    "iam:resyncmfadevice",
];

/// Every action that is a step of some escalation: `iam:PassRole`, the IAM actions of every method,
/// every action of a single-action method, and [`EXTRA_PRIMITIVES`].
pub fn primitive_actions() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = EXTRA_PRIMITIVES.to_vec();
    for m in METHODS {
        for group in m.requires {
            for action in *group {
                let single = m.requires.len() == 1;
                let iam_step = action.starts_with("iam:");
                if single || iam_step {
                    out.push(action);
                }
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Looks up a method by its slug.
pub fn method(id: &str) -> Option<&'static PrivescMethod> {
    METHODS.iter().find(|m| m.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    #[test]
    fn every_method_names_real_actions_and_is_unique() {
        let catalog = Catalog::get();
        assert!(METHODS.len() >= 60, "{} methods", METHODS.len());
        for (i, m) in METHODS.iter().enumerate() {
            assert!(
                METHODS[..i]
                    .iter()
                    .all(|o| o.id != m.id && o.name != m.name),
                "duplicate {}",
                m.id
            );
            for group in m.requires {
                for action in *group {
                    assert!(
                        catalog.lookup(action).is_some(),
                        "{}: {action} not in the catalog",
                        m.id
                    );
                    assert_eq!(*action, action.to_ascii_lowercase());
                }
            }
        }
        assert_eq!(method("create-access-key").unwrap().name, "CreateAccessKey");
        for id in OTHER_USER_METHODS {
            assert!(method(id).is_some(), "{id} names no method");
        }
    }
}
