//! The escalation paths the graph turns into edges, keyed by their pathfinding.cloud id
//! (`../shared/data/privesc-paths/pathfinding.cloud/data/paths/<service>/<id>.yaml`).
//!
//! Only paths that IAM policies alone can express are here: "new PassRole" paths (pass an existing
//! role to a service that runs your code), and the IAM and STS paths, which the edge builder handles
//! action by action. Paths that need an existing compute resource (a function, an instance, a stack,
//! a notebook) are not: the snapshot holds no such resources. The test
//! `every_expressible_catalog_path_is_covered` reads the catalog and holds this list to it.

/// A "pass a role to a service that runs code for it" path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PassRolePath {
    /// pathfinding.cloud id, e.g. `lambda-001`.
    pub id: &'static str,
    /// The service principal the passed role must trust.
    pub service: &'static str,
    /// The actions besides `iam:PassRole`, all needed, spelled as AWS documents them (matching is
    /// case-insensitive, as IAM's).
    pub actions: &'static [&'static str],
}

macro_rules! pass {
    ($id:literal, $service:literal, [$($a:literal),+]) => {
        PassRolePath { id: $id, service: $service, actions: &[$($a),+] }
    };
}

/// Every catalog path of the "new PassRole" category that needs no pre-existing resource.
pub const PASS_ROLE_PATHS: &[PassRolePath] = &[
    pass!(
        "apprunner-001",
        "tasks.apprunner.amazonaws.com",
        ["apprunner:CreateService"]
    ),
    pass!(
        "bedrock-001",
        "bedrock-agentcore.amazonaws.com",
        [
            "bedrock-agentcore:CreateCodeInterpreter",
            "bedrock-agentcore:StartCodeInterpreterSession",
            "bedrock-agentcore:InvokeCodeInterpreter"
        ]
    ),
    pass!(
        "cloudformation-001",
        "cloudformation.amazonaws.com",
        ["cloudformation:CreateStack"]
    ),
    pass!(
        "cloudformation-003",
        "cloudformation.amazonaws.com",
        [
            "cloudformation:CreateStackSet",
            "cloudformation:CreateStackInstances"
        ]
    ),
    pass!(
        "cloudformation-004",
        "cloudformation.amazonaws.com",
        ["cloudformation:UpdateStackSet"]
    ),
    pass!(
        "codebuild-001",
        "codebuild.amazonaws.com",
        ["codebuild:CreateProject", "codebuild:StartBuild"]
    ),
    pass!(
        "codebuild-004",
        "codebuild.amazonaws.com",
        ["codebuild:CreateProject", "codebuild:StartBuildBatch"]
    ),
    pass!(
        "datapipeline-001",
        "datapipeline.amazonaws.com",
        [
            "datapipeline:CreatePipeline",
            "datapipeline:PutPipelineDefinition",
            "datapipeline:ActivatePipeline"
        ]
    ),
    pass!("ec2-001", "ec2.amazonaws.com", ["ec2:RunInstances"]),
    pass!("ec2-003", "ec2.amazonaws.com", ["ec2:RequestSpotInstances"]),
    pass!(
        "ecs-001",
        "ecs-tasks.amazonaws.com",
        [
            "ecs:CreateCluster",
            "ecs:RegisterTaskDefinition",
            "ecs:CreateService"
        ]
    ),
    pass!(
        "ecs-002",
        "ecs-tasks.amazonaws.com",
        [
            "ecs:CreateCluster",
            "ecs:RegisterTaskDefinition",
            "ecs:RunTask"
        ]
    ),
    pass!(
        "ecs-003",
        "ecs-tasks.amazonaws.com",
        ["ecs:RegisterTaskDefinition", "ecs:CreateService"]
    ),
    pass!(
        "ecs-004",
        "ecs-tasks.amazonaws.com",
        ["ecs:RegisterTaskDefinition", "ecs:RunTask"]
    ),
    pass!(
        "ecs-005",
        "ecs-tasks.amazonaws.com",
        ["ecs:RegisterTaskDefinition", "ecs:StartTask"]
    ),
    pass!("glue-001", "glue.amazonaws.com", ["glue:CreateDevEndpoint"]),
    pass!(
        "glue-003",
        "glue.amazonaws.com",
        ["glue:CreateJob", "glue:StartJobRun"]
    ),
    pass!(
        "glue-004",
        "glue.amazonaws.com",
        ["glue:CreateJob", "glue:CreateTrigger"]
    ),
    pass!(
        "glue-005",
        "glue.amazonaws.com",
        ["glue:UpdateJob", "glue:StartJobRun"]
    ),
    pass!(
        "glue-006",
        "glue.amazonaws.com",
        ["glue:UpdateJob", "glue:CreateTrigger"]
    ),
    pass!(
        "lambda-001",
        "lambda.amazonaws.com",
        ["lambda:CreateFunction", "lambda:InvokeFunction"]
    ),
    pass!(
        "lambda-002",
        "lambda.amazonaws.com",
        ["lambda:CreateFunction", "lambda:CreateEventSourceMapping"]
    ),
    pass!(
        "lambda-006",
        "lambda.amazonaws.com",
        ["lambda:CreateFunction", "lambda:AddPermission"]
    ),
    pass!(
        "sagemaker-001",
        "sagemaker.amazonaws.com",
        ["sagemaker:CreateNotebookInstance"]
    ),
    pass!(
        "sagemaker-002",
        "sagemaker.amazonaws.com",
        ["sagemaker:CreateTrainingJob"]
    ),
    pass!(
        "sagemaker-003",
        "sagemaker.amazonaws.com",
        ["sagemaker:CreateProcessingJob"]
    ),
];

/// Catalog paths the edge builder implements action by action (IAM and STS), with the edge kind
/// each one becomes. `iam-003` (delete a key first when the user has two) is the same edge as
/// `iam-002`: the graph does not count existing keys.
pub const IAM_PATHS: &[(&str, &str)] = &[
    (
        "iam-001",
        "modify: iam:CreatePolicyVersion on a policy attached to yourself",
    ),
    ("iam-002", "mint credentials: iam:CreateAccessKey"),
    (
        "iam-003",
        "mint credentials: iam:CreateAccessKey (+ iam:DeleteAccessKey)",
    ),
    ("iam-004", "mint credentials: iam:CreateLoginProfile"),
    ("iam-005", "modify: iam:PutRolePolicy on yourself"),
    ("iam-006", "mint credentials: iam:UpdateLoginProfile"),
    ("iam-007", "modify: iam:PutUserPolicy on yourself"),
    ("iam-008", "modify: iam:AttachUserPolicy on yourself"),
    ("iam-009", "modify: iam:AttachRolePolicy on yourself"),
    ("iam-010", "modify: iam:AttachGroupPolicy on your group"),
    ("iam-011", "modify: iam:PutGroupPolicy on your group"),
    ("iam-012", "rewrite trust: iam:UpdateAssumeRolePolicy"),
    ("iam-013", "join group: iam:AddUserToGroup"),
    ("iam-014", "modify another: iam:AttachRolePolicy + assume"),
    (
        "iam-015",
        "modify another: iam:AttachUserPolicy + access key",
    ),
    (
        "iam-016",
        "modify another: iam:CreatePolicyVersion + assume",
    ),
    ("iam-017", "modify another: iam:PutRolePolicy + assume"),
    ("iam-018", "modify another: iam:PutUserPolicy + access key"),
    (
        "iam-019",
        "modify another: iam:AttachRolePolicy + rewrite trust",
    ),
    (
        "iam-020",
        "modify another: iam:CreatePolicyVersion + rewrite trust",
    ),
    (
        "iam-021",
        "modify another: iam:PutRolePolicy + rewrite trust",
    ),
    ("sts-001", "assume role: sts:AssumeRole"),
];

/// Actions that mint credentials for a user (the actor then acts as that user).
pub const MINT_ACTIONS: &[&str] = &[
    "iam:CreateAccessKey",
    "iam:CreateLoginProfile",
    "iam:UpdateLoginProfile",
];

/// The probes that define an administrator: a principal is admin when the policy engine allows
/// every one of them on `*`. `trailguard-probe:AnyAction` is an action no policy names, so only a
/// grant of every action (`*`, or a `NotAction` that leaves it) allows it; the others make sure
/// that grant is not carved out for IAM, STS or the common data services.
pub const ADMIN_PROBES: &[&str] = &[
    "trailguard-probe:AnyAction",
    "iam:AttachUserPolicy",
    "iam:PutRolePolicy",
    "iam:CreatePolicyVersion",
    "iam:PassRole",
    "sts:AssumeRole",
    "s3:GetObject",
    "ec2:RunInstances",
    "kms:Decrypt",
    "organizations:LeaveOrganization",
];
