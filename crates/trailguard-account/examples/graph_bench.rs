//! Benchmark of the escalation graph (not a timed test): the full graph of the Cloudsplaining example
//! account, of a generated account of 10,000 principals and 20,000 customer-managed policies, and the
//! re-evaluation of single IAM changes on the generated account. Prints one line per measure and the
//! process's peak resident memory. Run through `scripts/bench-graph.sh` (optimised policy and account
//! crates).
//!
//! The generated account is seeded and so the same on every run: 5,000 users, 5,000 roles, 100
//! groups; each principal holds 1-3 of the policies and a user 0-2 groups; most statements grant
//! harmless reads on named resources, about one in twenty an escalation step on one named target
//! (assume, pass to Lambda or EC2, create a policy version, an access key, a trust rewrite); 1% of the
//! principals are admins. Role trusts: services 60%, named principals 30%, the account 10%.

use std::time::Instant;

use serde_json::{json, Value};
use trailguard_account::graph::{Change, Graph, NodeKind};
use trailguard_account::model::AuthorizationDetails;

const ACCT: &str = "123456789012";

/// xorshift64*: a seeded generator, enough for shaping test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

fn arn(kind: &str, name: &str) -> String {
    format!("arn:aws:iam::{ACCT}:{kind}/{name}")
}

fn statement(rng: &mut Rng, users: usize, roles: usize, policies: usize) -> Value {
    if rng.chance(5) {
        let role = arn("role", &format!("r{}", rng.below(roles)));
        return match rng.below(6) {
            0 => json!({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role}),
            1 => {
                json!({"Effect": "Allow", "Action": ["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"], "Resource": role})
            }
            2 => {
                json!({"Effect": "Allow", "Action": ["iam:PassRole", "ec2:RunInstances"], "Resource": "*",
                         "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}})
            }
            3 => {
                json!({"Effect": "Allow", "Action": "iam:CreatePolicyVersion", "Resource": arn("policy", &format!("p{}", rng.below(policies)))})
            }
            4 => {
                json!({"Effect": "Allow", "Action": "iam:CreateAccessKey", "Resource": arn("user", &format!("u{}", rng.below(users)))})
            }
            _ => {
                json!({"Effect": "Allow", "Action": "iam:UpdateAssumeRolePolicy", "Resource": role})
            }
        };
    }
    let bucket = rng.below(1000);
    match rng.below(3) {
        0 => {
            json!({"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": [format!("arn:aws:s3:::b{bucket}"), format!("arn:aws:s3:::b{bucket}/*")]})
        }
        1 => json!({"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}),
        _ => {
            json!({"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": format!("arn:aws:s3:::b{bucket}")})
        }
    }
}

fn document(rng: &mut Rng, users: usize, roles: usize, policies: usize) -> Value {
    let n = 1 + rng.below(3);
    let statements: Vec<Value> = (0..n)
        .map(|_| statement(rng, users, roles, policies))
        .collect();
    json!({"Version": "2012-10-17", "Statement": statements})
}

fn generate(users: usize, roles: usize, groups: usize, policies: usize) -> AuthorizationDetails {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let admin = json!({"PolicyName": "AdministratorAccess", "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"});
    let attach = |rng: &mut Rng| -> Vec<Value> {
        if rng.chance(1) {
            return vec![admin.clone()];
        }
        (0..1 + rng.below(3))
            .map(|_| {
                let p = format!("p{}", rng.below(policies));
                json!({"PolicyName": p, "PolicyArn": arn("policy", &p)})
            })
            .collect()
    };
    let user_list: Vec<Value> = (0..users)
        .map(|i| {
            let attached = attach(&mut rng);
            let group_list: Vec<String> = (0..rng.below(3)).map(|_| format!("g{}", rng.below(groups))).collect();
            json!({"UserName": format!("u{i}"), "Arn": arn("user", &format!("u{i}")), "UserId": format!("AIDA{i}"),
                   "AttachedManagedPolicies": attached, "GroupList": group_list})
        })
        .collect();
    let role_list: Vec<Value> = (0..roles)
        .map(|i| {
            let attached = attach(&mut rng);
            let principal = match rng.below(10) {
                0..=5 => json!({"Service": if rng.chance(50) { "lambda.amazonaws.com" } else { "ec2.amazonaws.com" }}),
                6..=8 => json!({"AWS": arn(if rng.chance(50) { "user" } else { "role" }, &format!("{}{}", if rng.chance(50) { "u" } else { "r" }, rng.below(users.min(roles))))}),
                _ => json!({"AWS": format!("arn:aws:iam::{ACCT}:root")}),
            };
            json!({"RoleName": format!("r{i}"), "Arn": arn("role", &format!("r{i}")), "RoleId": format!("AROA{i}"),
                   "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}]},
                   "AttachedManagedPolicies": attached})
        })
        .collect();
    let group_list: Vec<Value> = (0..groups)
        .map(|i| {
            let attached = attach(&mut rng);
            json!({"GroupName": format!("g{i}"), "Arn": arn("group", &format!("g{i}")), "AttachedManagedPolicies": attached})
        })
        .collect();
    let mut policy_list: Vec<Value> = (0..policies)
        .map(|i| {
            let doc = document(&mut rng, users, roles, policies);
            json!({"PolicyName": format!("p{i}"), "Arn": arn("policy", &format!("p{i}")), "DefaultVersionId": "v1",
                   "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": true, "Document": doc}]})
        })
        .collect();
    policy_list.push(json!({"PolicyName": "AdministratorAccess", "Arn": "arn:aws:iam::aws:policy/AdministratorAccess", "DefaultVersionId": "v1",
        "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": true, "Document": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}}]}));
    serde_json::from_value(
        json!({"UserDetailList": user_list, "RoleDetailList": role_list,
        "GroupDetailList": group_list, "Policies": policy_list}),
    )
    .unwrap_or_default()
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    let shared =
        std::env::var("TRAILGUARD_SHARED_DATA").unwrap_or_else(|_| "../shared/data".into());
    let example = std::path::Path::new(&shared).join("peer-suites/cloudsplaining/example.json");
    let text = std::fs::read_to_string(&example).unwrap_or_default();
    match serde_json::from_str::<AuthorizationDetails>(&text) {
        Ok(details) => {
            let mut best = f64::MAX;
            let mut reaching = 0;
            for _ in 0..5 {
                let start = Instant::now();
                let graph = Graph::build(&details, Vec::new());
                best = best.min(start.elapsed().as_secs_f64() * 1e3);
                reaching = graph.paths_to_admin(false).len();
            }
            println!("example account (122 principals): full graph {best:.1} ms (best of 5), {reaching} reach admin");
        }
        Err(err) => println!("example account: cannot read {}: {err}", example.display()),
    }

    let (users, roles, groups, policies) = (5_000, 5_000, 100, 20_000);
    let details = generate(users, roles, groups, policies);
    let start = Instant::now();
    let mut graph = Graph::build(&details, Vec::new());
    let build = start.elapsed().as_secs_f64();
    let edges = graph.all_edges().count();
    let reaching = graph.paths_to_admin(false).len();
    println!(
        "generated account ({} principals, {} policies): full graph {build:.2} s, {edges} edges, {reaching} reach admin",
        users + roles,
        policies
    );

    let mut rng = Rng(7);
    let mut times = Vec::new();
    let mut opened = 0;
    for i in 0..400 {
        let change = match i % 4 {
            0 => Change::PutInlinePolicy {
                kind: NodeKind::User,
                name: format!("u{}", rng.below(users)),
                policy_name: format!("bench{i}"),
                document: document(&mut rng, users, roles, policies),
            },
            1 => Change::AttachPolicy {
                kind: NodeKind::Role,
                name: format!("r{}", rng.below(roles)),
                policy_arn: arn("policy", &format!("p{}", rng.below(policies))),
            },
            2 => Change::CreatePolicyVersion {
                policy_arn: arn("policy", &format!("p{}", rng.below(policies))),
                version_id: format!("v{}", i + 2),
                document: document(&mut rng, users, roles, policies),
                set_as_default: true,
            },
            _ => Change::AddUserToGroup {
                user: format!("u{}", rng.below(users)),
                group: format!("g{}", rng.below(groups)),
            },
        };
        let start = Instant::now();
        if let Ok(update) = graph.apply(&change) {
            opened += update.opened.len();
        }
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    println!(
        "one IAM change re-evaluated: median {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.1} ms ({} changes, {opened} openings)",
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0),
        times.len()
    );
    if let Some(peak) = peak_rss_mib() {
        println!("peak resident memory: {peak:.0} MiB");
    }
}
