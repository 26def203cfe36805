//! Hand-written accounts for every catalog path the graph expresses, each with negative twins (a
//! Deny, a boundary, a condition, a missing permission), and incremental updates checked against a
//! full rebuild.

use serde_json::{json, Value};

use super::catalog::{PassRolePath, IAM_PATHS, PASS_ROLE_PATHS};
use super::*;

const ACCT: &str = "111122223333";
const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

fn arn(kind: &str, name: &str) -> String {
    format!("arn:aws:iam::{ACCT}:{kind}/{name}")
}

fn doc(statements: &[Value]) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

fn allow(actions: &[&str], resource: &str) -> Value {
    json!({"Effect": "Allow", "Action": actions, "Resource": resource})
}

fn managed(arn: &str, statements: &[Value]) -> Value {
    json!({"Arn": arn, "PolicyName": arn.rsplit('/').next(), "DefaultVersionId": "v1",
           "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": true, "Document": doc(statements)}]})
}

fn trust(principal: Value) -> Value {
    doc(&[json!({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"})])
}

/// How a twin blocks the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Twin {
    Positive,
    Deny,
    Boundary,
    Condition,
    Missing,
}

/// The actor (`actor`, a user unless `role_actor`) holds `statements` inline. Around it: an admin
/// user, an admin role and an admin group; a plain role and user to modify; a group `team` the actor
/// is in with customer policy `team-policy`; customer policies attached to the actor and the plain
/// role; service roles with AdministratorAccess for every PassRole path's service.
fn account(statements: &[Value], role_actor: bool, twin: Twin) -> AuthorizationDetails {
    let mut statements: Vec<Value> = statements.to_vec();
    match twin {
        Twin::Deny => {
            let first = statements[0]["Action"][0].clone();
            statements.push(json!({"Effect": "Deny", "Action": first, "Resource": "*"}));
        }
        Twin::Condition => {
            for s in &mut statements {
                s["Condition"] = json!({"Bool": {"aws:MultiFactorAuthPresent": "true"}});
            }
        }
        Twin::Missing => {
            statements.pop();
        }
        Twin::Positive | Twin::Boundary => {}
    }
    let boundary = (twin == Twin::Boundary).then(|| {
        json!({"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": arn("policy", "s3-only")})
    });
    let actor_policy = json!([{"PolicyName": "grants", "PolicyDocument": doc(&statements)}]);
    let actor_attached =
        json!([{"PolicyName": "actor-policy", "PolicyArn": arn("policy", "actor-policy")}]);
    let admin_attached = json!([{"PolicyName": "AdministratorAccess", "PolicyArn": ADMIN}]);
    let mut users = vec![
        json!({"UserName": "admin-user", "Arn": arn("user", "admin-user"), "AttachedManagedPolicies": admin_attached}),
        json!({"UserName": "target-user", "Arn": arn("user", "target-user")}),
    ];
    let mut roles = vec![
        json!({"RoleName": "admin-role", "Arn": arn("role", "admin-role"),
               "AssumeRolePolicyDocument": trust(json!({"AWS": format!("arn:aws:iam::{ACCT}:root")})),
               "AttachedManagedPolicies": admin_attached}),
        json!({"RoleName": "target-role", "Arn": arn("role", "target-role"),
               "AssumeRolePolicyDocument": trust(json!({"AWS": format!("arn:aws:iam::{ACCT}:root")})),
               "AttachedManagedPolicies": [{"PolicyName": "role-policy", "PolicyArn": arn("policy", "role-policy")}]}),
    ];
    let mut services: Vec<&str> = PASS_ROLE_PATHS.iter().map(|p| p.service).collect();
    services.dedup();
    for service in services {
        let name = format!("svc-{}", service.split('.').next().unwrap_or(service));
        roles.push(json!({"RoleName": name, "Arn": arn("role", &name),
            "AssumeRolePolicyDocument": trust(json!({"Service": service})),
            "AttachedManagedPolicies": admin_attached}));
    }
    let mut actor = json!({"Arn": arn(if role_actor { "role" } else { "user" }, "actor"),
        "AttachedManagedPolicies": actor_attached});
    if let Some(b) = boundary {
        actor["PermissionsBoundary"] = b;
    }
    if role_actor {
        actor["RoleName"] = json!("actor");
        actor["RolePolicyList"] = actor_policy;
        actor["AssumeRolePolicyDocument"] = trust(json!({"Service": "ec2.amazonaws.com"}));
        roles.push(actor);
    } else {
        actor["UserName"] = json!("actor");
        actor["UserPolicyList"] = actor_policy;
        actor["GroupList"] = json!(["team"]);
        users.push(actor);
    }
    serde_json::from_value(json!({
        "UserDetailList": users,
        "RoleDetailList": roles,
        "GroupDetailList": [
            {"GroupName": "admins", "Arn": arn("group", "admins"), "AttachedManagedPolicies": admin_attached},
            {"GroupName": "team", "Arn": arn("group", "team"),
             "AttachedManagedPolicies": [{"PolicyName": "team-policy", "PolicyArn": arn("policy", "team-policy")}]},
        ],
        "Policies": [
            managed(ADMIN, &[allow(&["*"], "*")]),
            managed(&arn("policy", "s3-only"), &[allow(&["s3:*"], "*")]),
            managed(&arn("policy", "actor-policy"), &[allow(&["s3:ListAllMyBuckets"], "*")]),
            managed(&arn("policy", "team-policy"), &[allow(&["s3:ListAllMyBuckets"], "*")]),
            managed(&arn("policy", "role-policy"), &[allow(&["s3:ListAllMyBuckets"], "*")]),
        ],
    }))
    .unwrap()
}

/// Each IAM/STS catalog path: the actor's statements, whether the actor is a role, and the kind of
/// the first hop with where it leads.
fn iam_case(id: &str) -> (Vec<Value>, bool, &'static str, String) {
    let user = |n: &str| arn("user", n);
    let role = |n: &str| arn("role", n);
    let policy = |n: &str| arn("policy", n);
    let group = |n: &str| arn("group", n);
    let one = |a: &str, r: String| vec![allow(&[a], &r)];
    let two = |a: &str, r: String, b: &str, s: String| vec![allow(&[a], &r), allow(&[b], &s)];
    match id {
        "iam-001" => (
            one("iam:CreatePolicyVersion", policy("actor-policy")),
            false,
            "modify_permissions",
            "admin".into(),
        ),
        "iam-002" => (
            one("iam:CreateAccessKey", user("admin-user")),
            false,
            "mint_credentials",
            user("admin-user"),
        ),
        "iam-003" => (
            two(
                "iam:CreateAccessKey",
                user("admin-user"),
                "iam:DeleteAccessKey",
                user("admin-user"),
            ),
            false,
            "mint_credentials",
            user("admin-user"),
        ),
        "iam-004" => (
            one("iam:CreateLoginProfile", user("admin-user")),
            false,
            "mint_credentials",
            user("admin-user"),
        ),
        "iam-005" => (
            one("iam:PutRolePolicy", role("actor")),
            true,
            "modify_permissions",
            "admin".into(),
        ),
        "iam-006" => (
            one("iam:UpdateLoginProfile", user("admin-user")),
            false,
            "mint_credentials",
            user("admin-user"),
        ),
        "iam-007" => (
            one("iam:PutUserPolicy", user("actor")),
            false,
            "modify_permissions",
            "admin".into(),
        ),
        "iam-008" => (
            one("iam:AttachUserPolicy", user("actor")),
            false,
            "modify_permissions",
            "admin".into(),
        ),
        "iam-009" => (
            one("iam:AttachRolePolicy", role("actor")),
            true,
            "modify_permissions",
            "admin".into(),
        ),
        "iam-010" => (
            one("iam:AttachGroupPolicy", group("team")),
            false,
            "modify_permissions",
            "admin".into(),
        ),
        "iam-011" => (
            one("iam:PutGroupPolicy", group("team")),
            false,
            "modify_permissions",
            "admin".into(),
        ),
        "iam-012" => (
            one("iam:UpdateAssumeRolePolicy", role("admin-role")),
            false,
            "rewrite_trust",
            role("admin-role"),
        ),
        "iam-013" => (
            one("iam:AddUserToGroup", group("admins")),
            false,
            "join_group",
            group("admins"),
        ),
        "iam-014" => (
            two(
                "iam:AttachRolePolicy",
                role("target-role"),
                "sts:AssumeRole",
                role("target-role"),
            ),
            false,
            "modify_permissions",
            "admin".into(),
        ),
        "iam-015" => (
            two(
                "iam:AttachUserPolicy",
                user("target-user"),
                "iam:CreateAccessKey",
                user("target-user"),
            ),
            false,
            "modify_permissions",
            "admin".into(),
        ),
        "iam-016" => (
            two(
                "iam:CreatePolicyVersion",
                policy("role-policy"),
                "sts:AssumeRole",
                role("target-role"),
            ),
            false,
            "modify_permissions",
            "admin".into(),
        ),
        "iam-017" => (
            two(
                "iam:PutRolePolicy",
                role("target-role"),
                "sts:AssumeRole",
                role("target-role"),
            ),
            false,
            "modify_permissions",
            "admin".into(),
        ),
        "iam-018" => (
            two(
                "iam:PutUserPolicy",
                user("target-user"),
                "iam:CreateAccessKey",
                user("target-user"),
            ),
            false,
            "modify_permissions",
            "admin".into(),
        ),
        "iam-019" => (
            two(
                "iam:AttachRolePolicy",
                role("target-role"),
                "iam:UpdateAssumeRolePolicy",
                role("target-role"),
            ),
            false,
            "modify_permissions",
            "admin".into(),
        ),
        "iam-020" => (
            two(
                "iam:CreatePolicyVersion",
                policy("role-policy"),
                "iam:UpdateAssumeRolePolicy",
                role("target-role"),
            ),
            false,
            "modify_permissions",
            "admin".into(),
        ),
        "iam-021" => (
            two(
                "iam:PutRolePolicy",
                role("target-role"),
                "iam:UpdateAssumeRolePolicy",
                role("target-role"),
            ),
            false,
            "modify_permissions",
            "admin".into(),
        ),
        "sts-001" => (
            one("sts:AssumeRole", role("admin-role")),
            false,
            "assume_role",
            role("admin-role"),
        ),
        other => panic!("no case for {other}"),
    }
}

fn pass_case(path: &PassRolePath) -> Vec<Value> {
    let role = arn(
        "role",
        &format!("svc-{}", path.service.split('.').next().unwrap_or("")),
    );
    let mut statements = vec![allow(&["iam:PassRole"], &role)];
    statements.extend(path.actions.iter().map(|a| allow(&[a], "*")));
    statements
}

fn actor_reach(
    details: &AuthorizationDetails,
    role_actor: bool,
) -> (Option<Certainty>, Option<PathReport>) {
    let graph = Graph::build(details, Vec::new());
    let id = graph
        .node_by_arn(&arn(if role_actor { "role" } else { "user" }, "actor"))
        .unwrap();
    (graph.reaches_admin(id), graph.path_to_admin(id))
}

fn kind_name(kind: &EdgeKind) -> String {
    serde_json::to_value(kind).unwrap()["kind"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn every_iam_path_exists_and_each_twin_blocks_it() {
    for (id, _) in IAM_PATHS {
        let (statements, role_actor, kind, to) = iam_case(id);
        let (reach, path) = actor_reach(
            &account(&statements, role_actor, Twin::Positive),
            role_actor,
        );
        assert_eq!(reach, Some(Certainty::Certain), "{id}");
        let path = path.unwrap();
        let first = &path.hops[0];
        assert_eq!(
            (kind_name(&first.kind), &first.to),
            (kind.to_owned(), &to),
            "{id}: {path:#?}"
        );
        assert!(
            first.grants.iter().all(|g| g.statement.is_some()),
            "{id}: {first:?}"
        );
        for twin in [Twin::Deny, Twin::Boundary, Twin::Missing] {
            // The graph does not count a user's keys, so iam-003's DeleteAccessKey is never needed.
            if id == &"iam-003" && twin == Twin::Missing {
                continue;
            }
            let (reach, path) = actor_reach(&account(&statements, role_actor, twin), role_actor);
            assert_eq!(reach, None, "{id} {twin:?}: {path:#?}");
        }
        let (reach, _) = actor_reach(
            &account(&statements, role_actor, Twin::Condition),
            role_actor,
        );
        assert_eq!(reach, Some(Certainty::Conditional), "{id} condition");
    }
}

/// IAM matches action names without regard to case: a policy that spells them in lower case opens the
/// same path, and the path names each action as AWS documents it (the catalog's spelling).
#[test]
fn pass_role_actions_match_in_any_case_and_are_named_as_aws_spells_them() {
    for path in PASS_ROLE_PATHS {
        assert!(
            path.actions.iter().all(|a| a
                .split(':')
                .nth(1)
                .is_some_and(|name| name.starts_with(|c: char| c.is_ascii_uppercase()))),
            "{}: {:?}",
            path.id,
            path.actions
        );
        let role = arn(
            "role",
            &format!("svc-{}", path.service.split('.').next().unwrap_or("")),
        );
        let mut statements = vec![allow(&["IAM:passrole"], &role)];
        statements.extend(
            path.actions
                .iter()
                .map(|a| allow(&[a.to_ascii_lowercase().as_str()], "*")),
        );
        let (reach, report) = actor_reach(&account(&statements, false, Twin::Positive), false);
        assert_eq!(reach, Some(Certainty::Certain), "{}", path.id);
        let hop = &report.unwrap().hops[0];
        let EdgeKind::PassRole { path: found, .. } = hop.kind else {
            panic!("{}: {hop:?}", path.id)
        };
        let found = PASS_ROLE_PATHS.iter().find(|o| o.id == found).unwrap();
        let named: Vec<&str> = hop.grants.iter().map(|g| g.action.as_str()).collect();
        for action in found.actions {
            assert!(named.contains(action), "{}: {named:?}", path.id);
        }
    }
}

#[test]
fn every_pass_role_path_exists_and_each_twin_blocks_it() {
    for path in PASS_ROLE_PATHS {
        let statements = pass_case(path);
        let (reach, report) = actor_reach(&account(&statements, false, Twin::Positive), false);
        assert_eq!(reach, Some(Certainty::Certain), "{}", path.id);
        let hop = &report.unwrap().hops[0];
        // The path found is this one or a shorter one of the same service that it contains.
        let EdgeKind::PassRole {
            path: found,
            service,
        } = hop.kind
        else {
            panic!("{}: {hop:?}", path.id)
        };
        let found = PASS_ROLE_PATHS.iter().find(|o| o.id == found).unwrap();
        assert_eq!(service, path.service);
        assert!(
            found.actions.iter().all(|a| path.actions.contains(a)),
            "{}: {found:?}",
            path.id
        );
        assert_eq!(hop.grants.len(), found.actions.len() + 1);
        for twin in [Twin::Deny, Twin::Boundary, Twin::Missing] {
            let (reach, report) = actor_reach(&account(&statements, false, twin), false);
            // Another path of the same service may still hold when one action is missing.
            let other = PASS_ROLE_PATHS.iter().any(|o| {
                o.id != path.id
                    && o.service == path.service
                    && o.actions
                        .iter()
                        .all(|a| path.actions[..path.actions.len() - 1].contains(a))
            });
            if !(twin == Twin::Missing && other) {
                assert_eq!(reach, None, "{} {twin:?}: {report:#?}", path.id);
            }
        }
        let (reach, _) = actor_reach(&account(&statements, false, Twin::Condition), false);
        assert_eq!(reach, Some(Certainty::Conditional), "{} condition", path.id);
    }
}

#[test]
fn passed_role_must_trust_the_service_and_passed_to_service_is_checked() {
    let path = PASS_ROLE_PATHS
        .iter()
        .find(|p| p.id == "lambda-001")
        .unwrap();
    let mut statements = pass_case(path);
    // PassRole only towards EC2: the Lambda path no longer holds.
    statements[0]["Condition"] =
        json!({"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}});
    let (reach, _) = actor_reach(&account(&statements, false, Twin::Positive), false);
    assert_eq!(reach, None);
    statements[0]["Condition"] =
        json!({"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}});
    let (reach, _) = actor_reach(&account(&statements, false, Twin::Positive), false);
    assert_eq!(reach, Some(Certainty::Certain));
}

#[test]
fn every_expressible_catalog_path_is_covered() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/privesc-paths/pathfinding.cloud/data/paths");
    let shared = std::env::var("TRAILGUARD_SHARED_DATA")
        .map(|d| std::path::PathBuf::from(d).join("privesc-paths/pathfinding.cloud/data/paths"))
        .unwrap_or(dir);
    let mut expressible = Vec::new();
    for service in std::fs::read_dir(&shared).unwrap() {
        for file in std::fs::read_dir(service.unwrap().path()).unwrap() {
            let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
            let field = |key: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(key))
                    .map(|v| v.trim().trim_matches('"').to_owned())
                    .unwrap()
            };
            let (id, category) = (field("id:"), field("category:"));
            // A new-PassRole path that passes a role; the IAM and STS categories.
            let passes = text.contains("permission: iam:PassRole")
                || text.contains("permission: \"iam:PassRole\"");
            let existing_resource =
                category == "existing-passrole" || (category == "new-passrole" && !passes);
            if !existing_resource {
                expressible.push(id);
            }
        }
    }
    expressible.sort();
    let mut covered: Vec<String> = PASS_ROLE_PATHS
        .iter()
        .map(|p| p.id.to_owned())
        .chain(IAM_PATHS.iter().map(|(id, _)| (*id).to_owned()))
        .collect();
    covered.sort();
    assert_eq!(covered, expressible);
}

#[test]
fn a_trust_naming_the_principal_needs_no_identity_grant_and_deny_still_wins() {
    let mut details = account(&[allow(&["s3:GetObject"], "*")], false, Twin::Positive);
    details.role_detail_list[0].assume_role_policy_document =
        trust(json!({"AWS": arn("user", "actor")}));
    let (reach, path) = actor_reach(&details, false);
    assert_eq!(reach, Some(Certainty::Certain));
    let hop = &path.unwrap().hops[0];
    assert_eq!(hop.grants.len(), 1);
    assert_eq!(
        hop.grants[0].statement.as_deref(),
        Some("trust policy of role `admin-role` Statement[0]")
    );
    details.user_detail_list[2].user_policy_list[0].policy_document =
        doc(&[json!({"Effect": "Deny", "Action": "sts:*", "Resource": "*"})]);
    assert_eq!(actor_reach(&details, false).0, None);
}

#[test]
fn chains_report_the_shortest_path_with_every_hop() {
    // actor → (assume) hop-role → (pass to Lambda) svc-lambda (admin).
    let mut details = account(
        &[allow(&["sts:AssumeRole"], &arn("role", "hop-role"))],
        false,
        Twin::Positive,
    );
    let lambda = PASS_ROLE_PATHS
        .iter()
        .find(|p| p.id == "lambda-001")
        .unwrap();
    details.role_detail_list.push(
        serde_json::from_value(json!({"RoleName": "hop-role", "Arn": arn("role", "hop-role"),
            "AssumeRolePolicyDocument": trust(json!({"AWS": format!("arn:aws:iam::{ACCT}:root")})),
            "RolePolicyList": [{"PolicyName": "lambda", "PolicyDocument": doc(&pass_case(lambda))}]}))
        .unwrap(),
    );
    let graph = Graph::build(&details, Vec::new());
    let actor = graph.node_by_arn(&arn("user", "actor")).unwrap();
    let path = graph.path_to_admin(actor).unwrap();
    let steps: Vec<(String, String)> = path
        .hops
        .iter()
        .map(|h| (kind_name(&h.kind), h.to.clone()))
        .collect();
    assert_eq!(
        steps,
        [
            ("assume_role".to_owned(), arn("role", "hop-role")),
            ("pass_role".to_owned(), arn("role", "svc-lambda")),
        ]
    );
    // Towards a target rather than admin.
    let to_hop = graph.paths_to(graph.node_by_arn(&arn("role", "hop-role")).unwrap());
    assert_eq!(
        to_hop.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["actor"]
    );
}

fn reach_table(graph: &Graph) -> Vec<(String, Option<Certainty>, Option<usize>)> {
    let mut out: Vec<_> = (0..graph.nodes.len())
        .filter(|&id| !graph.nodes[id].deleted)
        .map(|id| {
            (
                graph.nodes[id].arn.clone(),
                graph.reaches_admin(id),
                graph.path_to_admin(id).map(|p| p.hops.len()),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn changes_open_and_close_paths_like_a_rebuild_would() {
    let mut graph = Graph::build(
        &account(&[allow(&["s3:GetObject"], "*")], false, Twin::Positive),
        Vec::new(),
    );
    let actor = graph.node_by_arn(&arn("user", "actor")).unwrap();
    let team = graph.node_by_arn(&arn("group", "team")).unwrap();
    assert!(team < actor);
    let steps = [
        // Opens nothing: a harmless inline policy.
        (
            Change::PutInlinePolicy {
                kind: NodeKind::User,
                name: "target-user".into(),
                policy_name: "p".into(),
                document: doc(&[allow(&["s3:*"], "*")]),
            },
            vec![],
            vec![],
        ),
        // The actor may now create versions of the team policy, attached to its group.
        (
            Change::CreatePolicyVersion {
                policy_arn: arn("policy", "team-policy"),
                version_id: "v2".into(),
                document: doc(&[allow(
                    &["iam:CreatePolicyVersion"],
                    &arn("policy", "team-policy"),
                )]),
                set_as_default: true,
            },
            vec![team, actor],
            vec![],
        ),
        // Back to the first version: closed.
        (
            Change::SetDefaultPolicyVersion {
                policy_arn: arn("policy", "team-policy"),
                version_id: "v1".into(),
            },
            vec![],
            vec![team, actor],
        ),
        // target-role may pass roles to Lambda; then the actor may assume target-role.
        (
            Change::PutInlinePolicy {
                kind: NodeKind::Role,
                name: "target-role".into(),
                policy_name: "lambda".into(),
                document: doc(&pass_case(
                    PASS_ROLE_PATHS
                        .iter()
                        .find(|p| p.id == "lambda-001")
                        .unwrap(),
                )),
            },
            vec![graph.node_by_arn(&arn("role", "target-role")).unwrap()],
            vec![],
        ),
        (
            Change::PutInlinePolicy {
                kind: NodeKind::User,
                name: "actor".into(),
                policy_name: "grants".into(),
                document: doc(&[allow(&["sts:AssumeRole"], &arn("role", "target-role"))]),
            },
            vec![actor],
            vec![],
        ),
        // The role's trust stops naming the account: closed again.
        (
            Change::UpdateAssumeRolePolicy {
                role: "target-role".into(),
                document: trust(json!({"Service": "ec2.amazonaws.com"})),
            },
            vec![],
            vec![actor],
        ),
        (
            Change::AddUserToGroup {
                user: "target-user".into(),
                group: "admins".into(),
            },
            vec![graph.node_by_arn(&arn("user", "target-user")).unwrap()],
            vec![],
        ),
        (
            Change::AttachPolicy {
                kind: NodeKind::Group,
                name: "team".into(),
                policy_arn: ADMIN.into(),
            },
            vec![team, actor],
            vec![],
        ),
        (
            Change::PutPermissionsBoundary {
                kind: NodeKind::User,
                name: "actor".into(),
                policy_arn: Some(arn("policy", "s3-only")),
            },
            vec![],
            vec![actor],
        ),
    ];
    for (i, (change, opened, closed)) in steps.into_iter().enumerate() {
        let update = graph.apply(&change).unwrap();
        assert_eq!(
            (&update.opened, &update.closed),
            (&opened, &closed),
            "step {i}: {change:?}"
        );
        let rebuilt = Graph::build(&graph.details, Vec::new());
        assert_eq!(reach_table(&graph), reach_table(&rebuilt), "step {i}");
    }
    assert!(graph
        .apply(&Change::AddUserToGroup {
            user: "nobody".into(),
            group: "admins".into()
        })
        .is_err());
}

#[test]
fn set_default_version_escalates_only_when_an_old_version_grants_admin() {
    let mut details = account(
        &[allow(
            &["iam:SetDefaultPolicyVersion"],
            &arn("policy", "actor-policy"),
        )],
        false,
        Twin::Positive,
    );
    assert_eq!(actor_reach(&details, false).0, None);
    details.policies[2].policy_version_list.push(
        serde_json::from_value(json!({"VersionId": "v0", "IsDefaultVersion": false, "Document": doc(&[allow(&["*"], "*")])})).unwrap(),
    );
    let (reach, path) = actor_reach(&details, false);
    assert_eq!(reach, Some(Certainty::Certain));
    assert!(matches!(
        path.unwrap().hops[0].kind,
        EdgeKind::ModifyPermissions {
            action: "iam:SetDefaultPolicyVersion",
            ..
        }
    ));
}

#[test]
fn created_and_deleted_principals_open_and_close_paths_like_a_rebuild_would() {
    // The actor may mint keys for any user, before the user it will use exists.
    let mut graph = Graph::build(
        &account(
            &[allow(&["iam:CreateAccessKey"], &arn("user", "new-*"))],
            false,
            Twin::Positive,
        ),
        Vec::new(),
    );
    let actor = graph.node_by_arn(&arn("user", "actor")).unwrap();
    let steps: Vec<(Change, Vec<&str>, Vec<&str>)> = vec![
        (
            Change::CreateUser {
                name: "new-hire".into(),
                arn: arn("user", "new-hire"),
                boundary: None,
            },
            vec![],
            vec![],
        ),
        // AdministratorAccess is not in every snapshot: the graph knows its document.
        (
            Change::AttachPolicy {
                kind: NodeKind::User,
                name: "new-hire".into(),
                policy_arn: ADMIN.into(),
            },
            vec!["actor", "new-hire"],
            vec![],
        ),
        // Applied twice (an event the snapshot already holds): nothing moves.
        (
            Change::CreateUser {
                name: "new-hire".into(),
                arn: arn("user", "new-hire"),
                boundary: None,
            },
            vec![],
            vec![],
        ),
        (
            Change::DeleteEntity {
                kind: NodeKind::User,
                name: "new-hire".into(),
            },
            vec![],
            vec!["actor", "new-hire"],
        ),
        // A role trusting the actor by ARN, then made admin.
        (
            Change::CreateRole {
                name: "backdoor".into(),
                arn: arn("role", "backdoor"),
                trust: trust(json!({"AWS": arn("user", "actor")})),
                boundary: None,
            },
            vec![],
            vec![],
        ),
        (
            Change::CreatePolicy {
                arn: arn("policy", "everything"),
                document: doc(&[allow(&["*"], "*")]),
            },
            vec![],
            vec![],
        ),
        (
            Change::AttachPolicy {
                kind: NodeKind::Role,
                name: "backdoor".into(),
                policy_arn: arn("policy", "everything"),
            },
            vec!["actor", "backdoor"],
            vec![],
        ),
        // A new version of that policy without the grant, made default, then the old one deleted.
        (
            Change::CreatePolicyVersion {
                policy_arn: arn("policy", "everything"),
                version_id: "v2".into(),
                document: doc(&[allow(&["s3:GetObject"], "*")]),
                set_as_default: true,
            },
            vec![],
            vec!["actor", "backdoor"],
        ),
        (
            Change::DeletePolicyVersion {
                policy_arn: arn("policy", "everything"),
                version_id: "v1".into(),
            },
            vec![],
            vec![],
        ),
    ];
    for (i, (change, opened, closed)) in steps.into_iter().enumerate() {
        let update = graph.apply(&change).unwrap();
        let names = |ids: &[NodeId]| -> Vec<String> {
            let mut names: Vec<String> = ids.iter().map(|&n| graph.nodes[n].name.clone()).collect();
            names.sort();
            names
        };
        assert_eq!(
            (names(&update.opened), names(&update.closed)),
            (
                opened.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                closed.iter().map(|s| s.to_string()).collect::<Vec<_>>()
            ),
            "step {i}: {change:?}"
        );
        let rebuilt = Graph::build(&graph.details, Vec::new());
        assert_eq!(reach_table(&graph), reach_table(&rebuilt), "step {i}");
    }
    assert_eq!(graph.reaches_admin(actor), None);
    // The set-default escalation is gone with the old version.
    let policy = graph
        .details
        .policies
        .iter()
        .find(|p| p.arn == arn("policy", "everything"))
        .unwrap();
    assert_eq!(policy.policy_version_list.len(), 1);
}

#[test]
fn conditional_paths_are_reported_apart_and_name_their_conditions() {
    // `actor` may version `actor-policy` (attached to it) only with MFA; `mfa-admin` is an admin
    // only from one network; `plain` reaches nothing.
    let mut details = account(&[allow(&["s3:GetObject"], "*")], false, Twin::Positive);
    details.user_detail_list.push(
        serde_json::from_value(
            json!({"UserName": "mfa-admin", "Arn": arn("user", "mfa-admin"),
            "UserPolicyList": [{"PolicyName": "office", "PolicyDocument": doc(&[json!({
                "Effect": "Allow", "Action": "*", "Resource": "*",
                "Condition": {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}})])}]}),
        )
        .unwrap(),
    );
    let mut graph = Graph::build(&details, Vec::new());
    let actor = graph.node_by_arn(&arn("user", "actor")).unwrap();
    let mfa_admin = graph.node_by_arn(&arn("user", "mfa-admin")).unwrap();
    assert_eq!(graph.reaches_admin(actor), None);

    // Its own admin grant is conditional: the report names the condition, with no hop.
    let report = graph.path_to_admin(mfa_admin).unwrap();
    assert_eq!(report.certainty, Certainty::Conditional);
    assert!(report.hops.is_empty());
    assert_eq!(
        report.admin_conditions,
        ["aws:SourceIp IpAddress 192.0.2.0/24"]
    );
    assert_eq!(report.conditions(), report.admin_conditions);

    let put = |statement: Value| Change::PutInlinePolicy {
        kind: NodeKind::User,
        name: "actor".to_owned(),
        policy_name: "versioning".to_owned(),
        document: doc(&[statement]),
    };
    let mfa = json!({"Effect": "Allow", "Action": "iam:CreatePolicyVersion",
        "Resource": arn("policy", "actor-policy"),
        "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}});
    let update = graph.apply(&put(mfa)).unwrap();
    assert_eq!(
        (&update.opened, &update.closed, &update.opened_conditionally),
        (&vec![], &vec![], &vec![actor])
    );
    let report = graph.path_to_admin(actor).unwrap();
    assert_eq!(report.certainty, Certainty::Conditional);
    assert_eq!(report.hops.len(), 1);
    assert_eq!(report.hops[0].certainty, Certainty::Conditional);
    assert_eq!(
        report.conditions(),
        ["aws:MultiFactorAuthPresent Bool true"]
    );
    // The certain search does not count it.
    assert_eq!(graph.reaches_admin(actor), Some(Certainty::Conditional));

    // The same grant without the condition makes the path certain: opened, not opened again
    // conditionally.
    let update = graph
        .apply(&put(allow(
            &["iam:CreatePolicyVersion"],
            &arn("policy", "actor-policy"),
        )))
        .unwrap();
    assert_eq!(
        (&update.opened, &update.opened_conditionally),
        (&vec![actor], &vec![])
    );
    assert_eq!(
        graph.path_to_admin(actor).unwrap().certainty,
        Certainty::Certain
    );
    assert_eq!(
        reach_table(&graph),
        reach_table(&Graph::build(&graph.details, Vec::new()))
    );
}
