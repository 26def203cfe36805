//! CT054 escalation-path-opened: an IAM change that lets a principal reach admin, judged on the
//! privilege-escalation graph of an account snapshot (`trailguard_account::graph`).
//!
//! Not a built-in engine rule: it needs the snapshot, so `scan --snapshot DIR` and `serve --snapshot
//! DIR` add an [`EscalationPathOpened`] to their engine. It observes every successful IAM write event
//! of the snapshot's account ([`trailguard_account::graph::events::CHANGE_EVENTS`]) as a [`Change`]; its evaluation applies them in
//! event-time order to a copy of the snapshot's graph, skipping events older than the snapshot (it
//! holds them already), and raises one finding per principal that could not reach admin and now can
//! (high; medium when the new path hangs on conditions the snapshot cannot decide, which it names),
//! and one per principal that could and no longer can (info). Failed calls change nothing.
//!
//! `serve` evaluates the rule again after every object, over every change stored so far. The graph and
//! findings of the last evaluation are kept ([`Replayed`]): when the changes it applied are the first
//! of the new evaluation's (the usual case: the new object's changes are newer), only the new ones are
//! applied, each recomputing just what it touches (`Graph::apply`); a change older than one applied
//! already (a late file) starts again from the snapshot, so the result is always that of one replay
//! of every change in time order.

use std::sync::{Arc, Mutex};

use trailguard_account::graph::events::{change_of, subject_of};
use trailguard_account::graph::{Certainty, Change, Graph, NodeKind, PathReport};
use trailguard_event::Record;

use super::common::{call_failed, evidence};
use crate::finding::{FindingSource, Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{FindingBuilder, Observation, Observed, Report, SequenceRule};
use crate::Finding;

pub const META: RuleMeta = RuleMeta {
    code: "CT054",
    name: "escalation-path-opened",
    title: "IAM change opened a path to admin",
    family: Family::Cloudtrail,
    severity: Severity::High,
    attack: &["T1098", "T1078.004"],
    compliance: &[],
    events: &[
        ("iam.amazonaws.com", "CreateUser"),
        ("iam.amazonaws.com", "CreateRole"),
        ("iam.amazonaws.com", "CreateGroup"),
        ("iam.amazonaws.com", "DeleteUser"),
        ("iam.amazonaws.com", "DeleteRole"),
        ("iam.amazonaws.com", "DeleteGroup"),
        ("iam.amazonaws.com", "CreatePolicy"),
        ("iam.amazonaws.com", "DeletePolicy"),
        ("iam.amazonaws.com", "CreatePolicyVersion"),
        ("iam.amazonaws.com", "DeletePolicyVersion"),
        ("iam.amazonaws.com", "SetDefaultPolicyVersion"),
        ("iam.amazonaws.com", "PutUserPolicy"),
        ("iam.amazonaws.com", "PutRolePolicy"),
        ("iam.amazonaws.com", "PutGroupPolicy"),
        ("iam.amazonaws.com", "DeleteUserPolicy"),
        ("iam.amazonaws.com", "DeleteRolePolicy"),
        ("iam.amazonaws.com", "DeleteGroupPolicy"),
        ("iam.amazonaws.com", "AttachUserPolicy"),
        ("iam.amazonaws.com", "AttachRolePolicy"),
        ("iam.amazonaws.com", "AttachGroupPolicy"),
        ("iam.amazonaws.com", "DetachUserPolicy"),
        ("iam.amazonaws.com", "DetachRolePolicy"),
        ("iam.amazonaws.com", "DetachGroupPolicy"),
        ("iam.amazonaws.com", "UpdateAssumeRolePolicy"),
        ("iam.amazonaws.com", "AddUserToGroup"),
        ("iam.amazonaws.com", "RemoveUserFromGroup"),
        ("iam.amazonaws.com", "PutUserPermissionsBoundary"),
        ("iam.amazonaws.com", "PutRolePermissionsBoundary"),
        ("iam.amazonaws.com", "DeleteUserPermissionsBoundary"),
        ("iam.amazonaws.com", "DeleteRolePermissionsBoundary"),
    ],
    kb_entries: &[
        "CreatePolicyVersion",
        "SetDefaultPolicyVersion",
        "AttachUserPolicy",
        "PutUserPolicy",
        "UpdateAssumeRolePolicy",
        "AddUserToGroup",
    ],
    doc: RuleDoc {
        what: "An IAM change event (a policy written, attached, versioned or made default, a trust policy \
               rewritten, a user added to a group, a boundary removed, a principal created or deleted) after \
               which a user or role that could not become administrator can, by some chain of steps of the \
               escalation graph (`trailguard audit paths`): **high**, naming the principal and the hop the \
               change opened. A path that holds only if a condition the snapshot cannot decide holds (MFA, source \
               network, tags) is **medium**, naming the conditions. A change that closes such a path is \
               reported as **info**. Needs `scan --snapshot \
               DIR` (or `serve --snapshot DIR`): the account snapshot is the graph the events are applied to, in \
               event-time order; events older than the snapshot are in it already and are not applied again.",
        why: "Attackers chain: a `CreatePolicyVersion` on a policy attached to yourself, a trust policy that \
              now names you, a group you were just added to. Each event alone can look routine; what matters \
              is that afterwards someone is an administrator who was not. The graph answers that at the \
              moment of the change, instead of in the next batch audit.",
        example: "`dev-alice` holds `iam:CreatePolicyVersion` on `ops-readonly`, which is attached to her. A \
                  `CreatePolicyVersion` of `ops-readonly` with `setAsDefault` and `\"Action\": \"*\"` makes her \
                  admin: `dev-alice` can now reach admin.",
        fix: "If the change was not intended, undo it (delete the policy version and restore the old default, \
              detach the policy, restore the trust policy, remove the group membership). Otherwise cut the hop \
              the finding names: narrow the statement that grants it. `trailguard audit paths --principal ARN` \
              shows every remaining path.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/cloudtrail-integration.html",
            "https://pathfinding.cloud",
            "https://attack.mitre.org/techniques/T1098/",
        ],
    },
};

/// What the watch did with the events it saw (`scan` prints it in its summary).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchTally {
    /// Changes applied to the graph.
    pub applied: u64,
    /// Changes older than the snapshot, left out.
    pub before_snapshot: u64,
    /// IAM events of another account than the snapshot's.
    pub other_account: u64,
    /// Changes naming something the snapshot does not hold, or records without what a change needs;
    /// the first few reasons are kept.
    pub skipped: u64,
    pub reasons: Vec<String>,
}

impl WatchTally {
    fn skip(&mut self, reason: String) {
        self.skipped += 1;
        if self.reasons.len() < 5 {
            self.reasons.push(reason);
        }
    }
}

/// The rule with its snapshot: see the module doc.
pub struct EscalationPathOpened {
    graph: Arc<Graph>,
    /// The last evaluation's end state; `None` before the first.
    replayed: Mutex<Option<Replayed>>,
    /// Event time (ms) the snapshot was taken at, when known: older changes are in it.
    since: Option<i64>,
    /// The snapshot's account: IAM events of other accounts change another graph.
    account: Option<String>,
    tally: Arc<Mutex<WatchTally>>,
}

impl EscalationPathOpened {
    pub fn new(graph: Graph, since: Option<i64>, account: Option<String>) -> EscalationPathOpened {
        EscalationPathOpened {
            graph: Arc::new(graph),
            replayed: Mutex::new(None),
            since,
            account,
            tally: Arc::default(),
        }
    }

    /// The tally, shared: read it after the run.
    pub fn tally(&self) -> Arc<Mutex<WatchTally>> {
        Arc::clone(&self.tally)
    }

    fn count(&self, f: impl FnOnce(&mut WatchTally)) {
        if let Ok(mut tally) = self.tally.lock() {
            f(&mut tally);
        }
    }

    /// Applies one observed change to `replayed`'s graph and adds the findings it makes.
    fn replay(&self, replayed: &mut Replayed, obs: &Observation) {
        replayed.applied.push(ChangeKey::of(obs));
        if self.since.is_some_and(|since| obs.at < since) {
            self.count(|t| t.before_snapshot += 1);
            return;
        }
        let Ok(change) = serde_json::from_str::<Change>(&obs.detail) else {
            return;
        };
        let graph = &mut replayed.graph;
        let update = match graph.apply(&change) {
            Ok(update) => update,
            Err(err) => {
                let id = obs
                    .event
                    .event_id
                    .as_deref()
                    .unwrap_or("without an eventID");
                self.count(|t| t.skip(format!("event {id}: {err}")));
                return;
            }
        };
        self.count(|t| t.applied += 1);
        let rebuilt: Vec<&str> = update
            .rebuilt
            .iter()
            .map(|&n| graph.nodes[n].arn.as_str())
            .collect();
        for &id in update.opened.iter().chain(&update.opened_conditionally) {
            if graph.nodes[id].kind == NodeKind::Group {
                continue;
            }
            if let Some(path) = graph.path_to_admin(id) {
                replayed.findings.push(opened(obs, &path, &rebuilt));
            }
        }
        for &id in &update.closed {
            let node = &graph.nodes[id];
            if node.kind != NodeKind::Group && !node.deleted {
                replayed
                    .findings
                    .push(closed(obs, node.kind, &node.name, &node.arn));
            }
        }
    }
}

/// The snapshot's graph after a run of changes, with the changes (in the order applied) and the findings
/// they made.
struct Replayed {
    applied: Vec<ChangeKey>,
    graph: Graph,
    findings: Vec<Finding>,
}

/// What tells one observed change from another: its place in time order and the change itself.
#[derive(PartialEq, Eq)]
struct ChangeKey {
    at: i64,
    rank: u8,
    event_id: Option<String>,
    detail: Box<str>,
}

impl ChangeKey {
    fn of(obs: &Observation) -> ChangeKey {
        ChangeKey {
            at: obs.at,
            rank: obs.rank,
            event_id: obs.event.event_id.clone(),
            detail: obs.detail.clone(),
        }
    }

    fn is(&self, obs: &Observation) -> bool {
        self.at == obs.at
            && self.rank == obs.rank
            && self.event_id == obs.event.event_id
            && self.detail == obs.detail
    }
}

/// Order within one second (CloudTrail's resolution): what is created first, what is deleted last.
fn rank(change: &Change) -> u8 {
    match change {
        Change::CreateUser { .. }
        | Change::CreateRole { .. }
        | Change::CreateGroup { .. }
        | Change::CreatePolicy { .. } => 0,
        Change::DeleteEntity { .. } | Change::DeletePolicy { .. } => 2,
        _ => 1,
    }
}

impl SequenceRule for EscalationPathOpened {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn observe<'r>(&self, record: &'r Record<'r>) -> Option<Observed<'r>> {
        if record.event_source != "iam.amazonaws.com" || call_failed(record) {
            return None;
        }
        let account = record.account_id();
        if let (Some(ours), Some(theirs)) = (self.account.as_deref(), account) {
            if ours != theirs {
                self.count(|t| t.other_account += 1);
                return None;
            }
        }
        let params = record.request_parameters();
        let response = record.response_elements();
        let change = match change_of(
            &record.event_name,
            params.as_ref(),
            response.as_ref(),
            account,
        ) {
            Ok(Some(change)) => change,
            Ok(None) => return None,
            Err(reason) => {
                let id = record.event_id.as_deref().unwrap_or("without an eventID");
                self.count(|t| t.skip(format!("event {id}: {reason}")));
                return None;
            }
        };
        let detail = serde_json::to_string(&change).ok()?;
        Observed::new(record, 0, rank(&change), subject_of(&change), "", detail)
    }

    fn evaluate(&self, observations: &[Observation], out: &mut Report) {
        let mut last = self
            .replayed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Carry on from the last evaluation when every change it applied comes first here, in order.
        let mut replayed = match last.take() {
            Some(r)
                if r.applied.len() <= observations.len()
                    && r.applied.iter().zip(observations).all(|(k, o)| k.is(o)) =>
            {
                r
            }
            _ => Replayed {
                applied: Vec::with_capacity(observations.len()),
                graph: (*self.graph).clone(),
                findings: Vec::new(),
            },
        };
        for obs in &observations[replayed.applied.len()..] {
            self.replay(&mut replayed, obs);
        }
        out.extend(replayed.findings.iter().cloned());
        *last = Some(replayed);
    }
}

fn resource(kind: NodeKind, name: &str, arn: &str) -> Resource {
    Resource {
        kind: match kind {
            NodeKind::User => "AwsIamUser",
            NodeKind::Role => "AwsIamRole",
            NodeKind::Group => "AwsIamGroup",
        }
        .to_owned(),
        id: arn.to_owned(),
        name: Some(name.to_owned()),
    }
}

fn short(arn: &str) -> &str {
    if arn == "admin" {
        return arn;
    }
    arn.rsplit('/').next().unwrap_or(arn)
}

fn event_id(obs: &Observation) -> String {
    obs.event
        .event_id
        .clone()
        .unwrap_or_else(|| format!("{}|{}", obs.event.event_time, obs.event.event_name))
}

fn opened(obs: &Observation, path: &PathReport, rebuilt: &[&str]) -> Finding {
    let change = format!("{} on {}", obs.event.event_name, obs.principal);
    let opening = path
        .hops
        .iter()
        .find(|h| rebuilt.contains(&h.from.as_str()));
    let how = match (path.hops.is_empty(), opening) {
        (true, _) => "it is an administrator itself now".to_owned(),
        (false, Some(hop)) => format!(
            "`{}` {} `{}`",
            short(&hop.from),
            hop.kind.describe(),
            short(&hop.to)
        ),
        (false, None) => format!(
            "`{}` is an administrator now",
            path.hops.last().map_or("", |h| short(&h.from))
        ),
    };
    let steps: Vec<String> = path
        .hops
        .iter()
        .map(|h| format!("{} `{}`", h.kind.describe(), short(&h.to)))
        .collect();
    let chain = if steps.is_empty() {
        String::new()
    } else {
        format!(
            " Path in {} step(s): {}.",
            steps.len(),
            steps.join(", then ")
        )
    };
    let conditions = path.conditions();
    let (reach, unless) = match path.certainty {
        Certainty::Certain => ("can now reach admin".to_owned(), String::new()),
        Certainty::Conditional => (
            "can now reach admin if conditions hold".to_owned(),
            format!(
                " The snapshot cannot decide: {}.",
                conditions
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
    };
    let mut finding = FindingBuilder::new(
        &META,
        FindingSource::Cloudtrail,
        &[&event_id(obs), &path.arn, "opened"],
    )
    .with_event(&obs.event)
    .message(format!(
        "`{}` {reach}: {how} (opened by {change}).{chain}{unless}",
        path.name
    ))
    .resource(resource(path.kind, &path.name, &path.arn))
    .fix_summary(format!(
        "If {change} was not intended, undo it; otherwise cut the hop it opened by narrowing the \
         statement that grants it (`trailguard audit paths --principal {}`).",
        path.arn
    ))
    .build();
    if path.certainty == Certainty::Conditional {
        finding.title = "IAM change opened a conditional path to admin".to_owned();
        finding.severity = Severity::Medium;
        finding.evidence.push(evidence(
            "conditions".to_owned(),
            serde_json::to_value(&conditions).unwrap_or_default(),
        ));
    }
    for (i, hop) in path.hops.iter().enumerate() {
        finding.evidence.push(evidence(
            format!("hops[{i}]"),
            serde_json::to_value(hop).unwrap_or_default(),
        ));
    }
    finding
}

fn closed(obs: &Observation, kind: NodeKind, name: &str, arn: &str) -> Finding {
    let mut finding = FindingBuilder::new(
        &META,
        FindingSource::Cloudtrail,
        &[&event_id(obs), arn, "closed"],
    )
    .with_event(&obs.event)
    .message(format!(
        "`{name}` can no longer reach admin (closed by {} on {}).",
        obs.event.event_name, obs.principal
    ))
    .resource(resource(kind, name, arn))
    .fix_summary("Nothing to fix: a path to admin closed.")
    .build();
    finding.title = "IAM change closed a path to admin".to_owned();
    finding.severity = Severity::Info;
    finding
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{run_sequence, TestEvent};
    use serde_json::json;

    use crate::rules::cloudtrail::common::testing::ACCOUNT as ACCT;

    fn graph() -> Graph {
        let details = serde_json::from_value(json!({
            "UserDetailList": [
                {"UserName": "dev-alice", "Arn": format!("arn:aws:iam::{ACCT}:user/dev-alice"),
                 "AttachedManagedPolicies": [{"PolicyName": "ops-readonly", "PolicyArn": format!("arn:aws:iam::{ACCT}:policy/ops-readonly")}]},
                {"UserName": "bob", "Arn": format!("arn:aws:iam::{ACCT}:user/bob")}
            ],
            "Policies": [{"Arn": format!("arn:aws:iam::{ACCT}:policy/ops-readonly"), "PolicyName": "ops-readonly",
                "DefaultVersionId": "v1", "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": true,
                "Document": {"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": ["s3:Get*", "iam:CreatePolicyVersion"], "Resource": "*"}]}}]}]
        }))
        .unwrap();
        Graph::build(&details, Vec::new())
    }

    fn version(time: &str, id: &str, document: &str) -> TestEvent {
        TestEvent::iam("CreatePolicyVersion")
            .request(&json!({"policyArn": format!("arn:aws:iam::{ACCT}:policy/ops-readonly"),
                "policyDocument": document, "setAsDefault": true}).to_string())
            .response(r#"{"policyVersion":{"versionId":"v2","isDefaultVersion":true,"createDate":"Aug 1, 2024 1:00:00 PM"}}"#)
            .time(time)
            .id(id)
    }

    #[test]
    fn a_new_version_of_a_policy_one_may_version_opens_a_path_and_failed_or_old_ones_do_not() {
        // dev-alice may already version the policy attached to her: she is admin in one step before
        // anything happens, so the watch starts from a graph where bob is the one to watch.
        let watch = || {
            Box::new(EscalationPathOpened::new(
                graph(),
                Some(1_722_500_000_000), // 2024-08-01T08:13:20Z
                Some(ACCT.to_owned()),
            ))
        };
        let attach = |time: &str, id: &str, user: &str| {
            TestEvent::iam("AttachUserPolicy")
                .request(&json!({"userName": user, "policyArn": format!("arn:aws:iam::{ACCT}:policy/ops-readonly")}).to_string())
                .time(time)
                .id(id)
        };
        let findings = run_sequence(
            watch(),
            &[
                // Before the snapshot: in it already, not applied again.
                attach("2024-08-01T08:00:00Z", "old", "bob"),
                // Denied: changed nothing.
                attach("2024-08-01T13:00:00Z", "denied", "bob").denied(),
                attach("2024-08-01T13:05:00Z", "attach", "bob"),
            ],
        );
        assert_eq!(findings.len(), 1, "{findings:#?}");
        let f = &findings[0];
        assert_eq!(f.rule_id, "CT054");
        assert_eq!(f.severity, Severity::High);
        assert_eq!(f.event_id.as_deref(), Some("attach"));
        assert!(
            f.message.starts_with("`bob` can now reach admin"),
            "{}",
            f.message
        );
        assert!(
            f.message.contains("iam:CreatePolicyVersion"),
            "{}",
            f.message
        );

        // A harmless version changes nothing for anyone; then one without the grant closes alice's path.
        let findings = run_sequence(
            watch(),
            &[version(
                "2024-08-01T13:00:00Z",
                "narrow",
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
            )],
        );
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert_eq!(findings[0].severity, Severity::Info);
        assert!(findings[0]
            .message
            .starts_with("`dev-alice` can no longer reach admin"));
    }

    #[test]
    fn a_grant_hanging_on_an_undecided_condition_opens_a_conditional_path_rated_lower() {
        let put = |id: &str, time: &str, statement: serde_json::Value| {
            TestEvent::iam("PutUserPolicy")
                .request(&json!({"userName": "bob", "policyName": id,
                    "policyDocument": json!({"Version": "2012-10-17", "Statement": [statement]}).to_string()})
                .to_string())
                .time(time)
                .id(id)
        };
        let findings = run_sequence(
            Box::new(EscalationPathOpened::new(
                graph(),
                None,
                Some(ACCT.to_owned()),
            )),
            &[
                put(
                    "office",
                    "2024-08-01T13:00:00Z",
                    json!({"Effect": "Allow", "Action": "*", "Resource": "*",
                        "Condition": {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}}),
                ),
                // Still conditional: nothing new to say.
                put(
                    "office2",
                    "2024-08-01T13:01:00Z",
                    json!({"Effect": "Allow", "Action": "*", "Resource": "*",
                        "Condition": {"IpAddress": {"aws:SourceIp": "198.51.100.0/24"}}}),
                ),
                // Certain now: the high finding.
                put(
                    "anywhere",
                    "2024-08-01T13:02:00Z",
                    json!({"Effect": "Allow", "Action": "*", "Resource": "*"}),
                ),
            ],
        );
        let seen: Vec<(&str, Severity)> = findings
            .iter()
            .map(|f| (f.event_id.as_deref().unwrap_or(""), f.severity))
            .collect();
        assert_eq!(
            seen,
            [("office", Severity::Medium), ("anywhere", Severity::High)],
            "{findings:#?}"
        );
        let conditional = &findings[0];
        assert_eq!(
            conditional.title,
            "IAM change opened a conditional path to admin"
        );
        assert!(
            conditional
                .message
                .starts_with("`bob` can now reach admin if conditions hold"),
            "{}",
            conditional.message
        );
        assert!(
            conditional
                .message
                .contains("`aws:SourceIp IpAddress 192.0.2.0/24`"),
            "{}",
            conditional.message
        );
        assert!(!findings[1].message.contains("conditions hold"));
    }

    #[test]
    fn a_later_evaluation_applies_only_the_changes_it_has_not_seen_and_a_late_one_replays_all() {
        use crate::rules::cloudtrail::common::testing::with_record;
        let attach = |time: &str, id: &str, user: &str| {
            TestEvent::iam("AttachUserPolicy")
                .request(&json!({"userName": user, "policyArn": format!("arn:aws:iam::{ACCT}:policy/ops-readonly")}).to_string())
                .time(time)
                .id(id)
        };
        let events = [
            attach("2024-08-01T13:05:00Z", "bob", "bob"),
            version(
                "2024-08-01T13:10:00Z",
                "narrow",
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
            ),
            attach("2024-08-01T13:00:00Z", "late", "bob"),
        ];
        let new = || EscalationPathOpened::new(graph(), None, Some(ACCT.to_owned()));
        let watch = new();
        let observed: Vec<Observation> = events
            .iter()
            .map(|e| {
                with_record(&e.json(), |r| {
                    watch.observe(r).map(Observed::into_observation)
                })
                .expect("an IAM change")
            })
            .collect();
        let (bob, narrow, late) = (&observed[0], &observed[1], &observed[2]);
        let evaluate = |rule: &EscalationPathOpened, observations: &[&Observation]| {
            let owned: Vec<Observation> = observations.iter().map(|&o| o.clone()).collect();
            let mut report = Report::default();
            rule.evaluate(&owned, &mut report);
            report.into_findings()
        };
        let applied = |rule: &EscalationPathOpened| rule.tally.lock().unwrap().applied;

        let first = evaluate(&watch, &[bob]);
        assert_eq!(first.len(), 1, "{first:#?}");
        assert_eq!(applied(&watch), 1);
        // As `serve` evaluates after the next object: the old change is not applied again, and the
        // findings are those of one replay of both.
        let second = evaluate(&watch, &[bob, narrow]);
        assert_eq!(applied(&watch), 2);
        assert_eq!(second, evaluate(&new(), &[bob, narrow]));
        assert_eq!(
            second.len(),
            3,
            "bob opened, then alice and bob closed: {second:#?}"
        );
        // A change older than those applied arrives: everything is replayed from the snapshot.
        let third = evaluate(&watch, &[late, bob, narrow]);
        assert_eq!(applied(&watch), 5);
        assert_eq!(third, evaluate(&new(), &[late, bob, narrow]));
        assert_ne!(third, second);
    }

    #[test]
    fn the_watched_events_are_the_ones_the_graph_reads() {
        let declared: Vec<&str> = META.events.iter().map(|(_, e)| *e).collect();
        assert_eq!(declared, trailguard_account::graph::events::CHANGE_EVENTS);
    }
}
