//! `policy diff` is exact both ways: on generated pairs of documents, for sampled actions and resources,
//! what the diff says changed equals what the evaluator decides for each document (every condition key
//! unknown). A seeded generator, so a failure names the seed and reproduces.

use trailguard_policy::catalog::Catalog;
use trailguard_policy::diff::{diff, Permission};
use trailguard_policy::eval::{evaluate, Decision, PolicySet, Request};
use trailguard_policy::PolicyDocument;

/// xorshift64*: small, seeded, good enough to spread choices.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:PutObject",
    "s3:ListBucket",
    "s3:DeleteBucket",
    "iam:CreateUser",
    "iam:GetUser",
    "iam:PassRole",
    "ec2:RunInstances",
    "kms:Decrypt",
    "sts:AssumeRole",
];

const ACTION_PATTERNS: &[&str] = &[
    "s3:GetObject",
    "s3:PutObject",
    "iam:PassRole",
    "iam:CreateUser",
    "ec2:RunInstances",
    "s3:*",
    "s3:Get*",
    "iam:*",
    "iam:*User",
    "i?m:Get*",
    "*",
    "kms:*",
    "*:Decrypt",
];

const RESOURCES: &[&str] = &[
    "*",
    "arn:aws:s3:::a",
    "arn:aws:s3:::a/x",
    "arn:aws:s3:::ab/y",
    "arn:aws:s3:::b/y",
    "arn:aws:iam::111122223333:user/alice",
    "arn:aws:iam::111122223333:role/admin",
    "arn:aws:iam::111122223333:role/admxn",
    "arn:aws:ec2:us-east-1:111122223333:instance/i-1",
    "x",
];

const RESOURCE_PATTERNS: &[&str] = &[
    "*",
    "arn:aws:s3:::a",
    "arn:aws:s3:::a/*",
    "arn:aws:s3:::a*",
    "arn:aws:s3:::*/y",
    "arn:aws:s3:::b/y",
    "arn:aws:iam::111122223333:user/*",
    "arn:aws:iam::*:role/adm?n",
    "arn:aws:*",
    "arn:aws:ec2:*:*:instance/*",
    "x",
];

fn list(rng: &mut Rng, pool: &[&str], max: usize) -> serde_json::Value {
    let n = 1 + rng.below(max);
    let items: Vec<&str> = (0..n).map(|_| rng.pick(pool)).collect();
    if items.len() == 1 && rng.chance(50) {
        serde_json::json!(items[0])
    } else {
        serde_json::json!(items)
    }
}

fn document(rng: &mut Rng) -> PolicyDocument {
    let count = rng.below(5);
    let statements: Vec<serde_json::Value> = (0..count)
        .map(|_| {
            let mut s = serde_json::Map::new();
            let effect = if rng.chance(30) { "Deny" } else { "Allow" };
            s.insert("Effect".into(), effect.into());
            let action_key = if rng.chance(15) {
                "NotAction"
            } else {
                "Action"
            };
            s.insert(action_key.into(), list(rng, ACTION_PATTERNS, 3));
            match rng.below(10) {
                0 => {}
                1 | 2 => {
                    s.insert("NotResource".into(), list(rng, RESOURCE_PATTERNS, 2));
                }
                _ => {
                    s.insert("Resource".into(), list(rng, RESOURCE_PATTERNS, 2));
                }
            }
            if rng.chance(30) {
                s.insert(
                    "Condition".into(),
                    serde_json::json!({"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
                );
            }
            serde_json::Value::Object(s)
        })
        .collect();
    let text = serde_json::json!({"Version": "2012-10-17", "Statement": statements}).to_string();
    PolicyDocument::parse(&text).unwrap()
}

fn permission(doc: &PolicyDocument, action: &str, resource: &str) -> Permission {
    let set = PolicySet {
        identity: vec![doc],
        ..Default::default()
    };
    match evaluate(
        &set,
        &Request::new(action, resource).treat_missing_as_unknown(),
    ) {
        Decision::Allow { .. } => Permission::Allowed,
        Decision::Conditional { .. } => Permission::Conditional,
        Decision::ExplicitDeny { .. } | Decision::ImplicitDeny { .. } => Permission::Denied,
    }
}

#[test]
fn the_diff_agrees_with_the_evaluator_on_generated_pairs() {
    let catalog = Catalog::get();
    // The pool's actions, and a spread of others that only wildcards reach.
    let mut actions: Vec<String> = ACTIONS.iter().map(|a| (*a).to_owned()).collect();
    actions.extend(
        (0..catalog.len())
            .step_by(1999)
            .map(|i| catalog.full_name(trailguard_policy::catalog::ActionId(i as u32))),
    );
    let mut checked = 0;
    let mut changed = 0;
    for seed in 1..=150u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let old = document(&mut rng);
        let new = document(&mut rng);
        let delta = diff(&old, &new);
        for action in &actions {
            for resource in RESOURCES {
                let before = permission(&old, action, resource);
                let after = permission(&new, action, resource);
                let expected = (before != after).then_some((before, after));
                assert_eq!(
                    delta.change_at(action, resource),
                    expected,
                    "seed {seed}: {action} on {resource}\nold: {old:#?}\nnew: {new:#?}\ndiff: {:#?}",
                    delta.added.iter().chain(&delta.removed).map(|c| (&c.resource, c.from, c.to, &c.actions)).collect::<Vec<_>>()
                );
                checked += 1;
                changed += usize::from(expected.is_some());
            }
        }
        // Every listed change is real for some resource in its region (no "2 no longer allowed" ghosts)
        // and every count matches the lists.
        let listed: usize = delta.added.iter().map(|c| c.action_count).sum();
        assert!(listed >= delta.added_action_count, "seed {seed}");
    }
    // The generator exercises both outcomes.
    assert!(changed > checked / 20, "{changed} of {checked}");
    assert!(changed < checked, "{changed} of {checked}");
}

#[test]
fn read_only_to_everything_is_all_gain_and_no_loss() {
    let read_only = PolicyDocument::parse(
        r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":["s3:Get*","s3:List*"],"Resource":["arn:aws:s3:::reports","arn:aws:s3:::reports/*"]},
        {"Effect":"Allow","Action":["iam:Get*","iam:List*"],"Resource":"*"}]}"#,
    )
    .unwrap();
    let admin = PolicyDocument::parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    )
    .unwrap();
    let d = diff(&read_only, &admin);
    assert!(d.removed.is_empty(), "{:#?}", d.removed);
    assert_eq!(d.removed_action_count, 0);
    assert!(d.new_risks.became_admin);
    // What was already allowed is not "gained": s3:GetObject on the reports bucket stays as it was,
    // and is gained everywhere else.
    assert_eq!(
        d.change_at("s3:GetObject", "arn:aws:s3:::reports/q1.csv"),
        None
    );
    assert_eq!(
        d.change_at("s3:GetObject", "arn:aws:s3:::other/x"),
        Some((Permission::Denied, Permission::Allowed))
    );
    let s3 = d
        .added
        .iter()
        .find(|c| c.actions.iter().any(|a| a == "s3:GetObject"))
        .expect("s3:GetObject gained outside the bucket");
    assert_eq!(
        s3.resource,
        "* except arn:aws:s3:::reports or arn:aws:s3:::reports/*"
    );
    assert_eq!(d.change_at("iam:GetUser", "*"), None);
    assert_eq!(
        d.added_action_count,
        Catalog::get().len()
            - Catalog::get().expand("iam:Get*").len()
            - Catalog::get().expand("iam:List*").len() // s3:Get*/s3:List* are gained too (outside the bucket).
    );
}
