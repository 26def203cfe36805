//! The contract every findings store keeps, run against each backend: SQLite on a temporary file and
//! PostgreSQL on a fresh database of the test run's server ([`trailguard_testkit::postgres`]).
//! `store_contract!` writes one test per backend for each case, so a new backend is one more line.

use std::path::PathBuf;

use trailguard_rules::output::RunSummary;
use trailguard_rules::{Actor, Finding, FindingSource, Fix, Outcome, Resource, Severity};
use trailguard_testkit::PgDatabase;

use super::schema::SCHEMA_VERSION;
use super::{
    Delivery, FindingQuery, FindingStore, ObjectCommit, ObjectVersion, RunStatus, SaveStats,
    SequenceWork, StoreError, StoredObservation,
};

/// A fresh, empty store of one backend.
pub(super) enum Fixture {
    Sqlite {
        _dir: tempfile::TempDir,
        path: PathBuf,
    },
    Postgres(PgDatabase),
}

impl Fixture {
    pub(super) fn sqlite() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tg.db");
        Fixture::Sqlite { _dir: dir, path }
    }

    pub(super) fn postgres() -> Fixture {
        Fixture::Postgres(trailguard_testkit::postgres().fresh_database())
    }

    /// The `--store` value.
    pub(super) fn spec(&self) -> String {
        match self {
            Fixture::Sqlite { path, .. } => path.display().to_string(),
            Fixture::Postgres(db) => db.url().to_owned(),
        }
    }

    pub(super) fn open(&self) -> Box<dyn FindingStore> {
        super::open(&self.spec()).unwrap()
    }

    /// The statement that sets the store's schema version.
    fn set_version(&self, version: i64) -> String {
        match self {
            Fixture::Sqlite { .. } => format!("PRAGMA user_version = {version}"),
            Fixture::Postgres(_) => format!("UPDATE trailguard_schema SET version = {version}"),
        }
    }
}

pub(super) fn finding(rule: &str, event: &str, severity: Severity) -> Finding {
    Finding {
        id: Finding::stable_id(&[rule, event]),
        rule_id: rule.to_owned(),
        rule_name: format!("{}-rule", rule.to_lowercase()),
        title: format!("{rule} fired"),
        severity,
        source: FindingSource::Cloudtrail,
        outcome: Outcome::Success,
        message: "something risky".into(),
        event_time: Some(format!("2024-03-01T10:{:02}:00Z", event.len())),
        event_name: Some("CreateAccessKey".into()),
        event_source: Some("iam.amazonaws.com".into()),
        event_id: Some(event.to_owned()),
        account: Some("111122223333".into()),
        region: Some("us-east-1".into()),
        actor: Some(Actor {
            arn: Some("arn:aws:iam::111122223333:user/alice".into()),
            ..Actor::default()
        }),
        resource: Some(Resource {
            kind: "AwsIamUser".into(),
            id: "arn:aws:iam::111122223333:user/bob".into(),
            name: Some("bob".into()),
        }),
        evidence: vec![],
        attack: vec![],
        compliance: vec![],
        fix: Fix::default(),
        notes: vec![],
        location: None,
    }
}

macro_rules! store_contract {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $case() { super::$case(super::Fixture::sqlite()) })*
        }
        mod postgres {
            $(#[test] fn $case() { super::$case(super::Fixture::postgres()) })*
        }
    };
}

store_contract!(
    rescanning_updates_instead_of_duplicating,
    reopening_keeps_the_data_and_a_newer_schema_is_refused,
    a_damaged_row_is_skipped_and_named,
    a_run_whose_process_is_gone_reads_back_interrupted,
    concurrent_writers_lose_no_run,
    filters_and_order_are_the_same_everywhere,
    an_object_is_committed_once_with_its_findings,
    a_sequence_rule_is_evaluated_over_every_objects_observations,
    observations_stored_long_ago_are_forgotten_and_their_findings_stay,
    delivery_health_keeps_the_latest_arrival_per_account_and_region,
    mutes_are_kept_listed_replaced_and_removed,
    a_finding_alerts_once_and_repeats_fold_into_one_digest,
    two_senders_never_claim_the_same_message,
    a_failed_message_waits_its_backoff_and_is_given_up_at_last,
    dashboard_queries_filter_page_and_derive_status,
    keyset_pages_cover_every_order_once_both_ways,
    overview_counts_equal_a_direct_count_after_every_write,
);

fn rescanning_updates_instead_of_duplicating(fixture: Fixture) {
    let mut store = fixture.open();
    let findings = vec![
        finding("CT001", "e1", Severity::Critical),
        finding("CT010", "e22", Severity::Medium),
    ];
    let run1 = store
        .begin_run("scan", "2024-03-02T00:00:00Z", &["logs".into()])
        .unwrap();
    let first = store
        .save_findings(run1, "2024-03-02T00:00:01Z", &findings)
        .unwrap();
    assert_eq!(
        first,
        SaveStats {
            inserted: 2,
            updated: 0
        }
    );
    let mut summary = RunSummary::new("scan");
    summary.records = 10;
    store.finish_run(run1, &summary).unwrap();

    let run2 = store
        .begin_run("scan", "2024-03-03T00:00:00Z", &["logs".into()])
        .unwrap();
    let mut again = findings.clone();
    again.push(finding("CT020", "e333", Severity::Low));
    let second = store
        .save_findings(run2, "2024-03-03T00:00:01Z", &again)
        .unwrap();
    assert_eq!(
        second,
        SaveStats {
            inserted: 1,
            updated: 2
        }
    );
    // The same finding twice in one run counts one sighting.
    store
        .save_findings(run2, "2024-03-03T00:00:02Z", &findings[..1])
        .unwrap();

    let all = store.findings(&FindingQuery::default()).unwrap().findings;
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].finding, findings[0], "worst first, stored whole");
    assert_eq!(all[0].times_seen, 2);
    assert_eq!(all[0].first_seen_run, run1);
    assert_eq!(all[0].last_seen_run, run2);
    assert_eq!(all[0].first_seen_at, "2024-03-02T00:00:01Z");
    assert_eq!(all[0].last_seen_at, "2024-03-03T00:00:02Z");
    assert_eq!(all[2].times_seen, 1);

    let count = |query: FindingQuery| store.findings(&query).unwrap().findings.len();
    assert_eq!(
        count(FindingQuery {
            min_severity: Some(Severity::High),
            ..Default::default()
        }),
        1
    );
    assert_eq!(
        count(FindingQuery {
            run: Some(run1),
            ..Default::default()
        }),
        2
    );
    assert_eq!(
        count(FindingQuery {
            rule_id: Some("ct010-rule".into()),
            ..Default::default()
        }),
        1
    );

    let runs = store.runs(10).unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].id, run2);
    assert_eq!(runs[0].findings, 3);
    assert_eq!(runs[0].inputs, ["logs"]);
    assert_eq!(runs[1].summary.as_ref().unwrap().records, 10);
    assert!(runs[0].finished_at.is_none());
    assert_eq!(runs[0].status, RunStatus::Running, "this process is alive");
    assert_eq!(runs[1].status, RunStatus::Finished);
}

fn reopening_keeps_the_data_and_a_newer_schema_is_refused(fixture: Fixture) {
    {
        let mut store = fixture.open();
        let run = store
            .begin_run("scan", "2024-03-02T00:00:00Z", &[])
            .unwrap();
        store
            .save_findings(
                run,
                "2024-03-02T00:00:00Z",
                &[finding("CT001", "e1", Severity::High)],
            )
            .unwrap();
    }
    let mut store = fixture.open();
    assert_eq!(
        store
            .findings(&FindingQuery::default())
            .unwrap()
            .findings
            .len(),
        1,
        "reopening applies no migration twice and keeps the data"
    );
    store
        .test_sql(&fixture.set_version(SCHEMA_VERSION + 1))
        .unwrap();
    drop(store);
    let err = super::open(&fixture.spec()).err().unwrap();
    assert!(
        matches!(err, StoreError::TooNew { found, .. } if found == SCHEMA_VERSION + 1),
        "{err}"
    );
    assert!(
        err.to_string().contains("newer than this trailguard"),
        "{err}"
    );
}

fn a_damaged_row_is_skipped_and_named(fixture: Fixture) {
    let mut store = fixture.open();
    let run = store
        .begin_run("scan", "2024-03-02T00:00:00Z", &[])
        .unwrap();
    let good = finding("CT001", "e1", Severity::High);
    let bad = finding("CT010", "e22", Severity::Critical);
    store
        .save_findings(run, "2024-03-02T00:00:01Z", &[good.clone(), bad.clone()])
        .unwrap();
    store
        .test_sql(&format!(
            "UPDATE findings SET body = '{{\"id\": truncated' WHERE id = '{}'",
            bad.id
        ))
        .unwrap();
    let bad_row: i64 = store
        .test_sql(&format!(
            "SELECT CAST(rowid AS TEXT) FROM findings WHERE id = '{}'",
            bad.id
        ))
        .unwrap()
        .unwrap()
        .parse()
        .unwrap();
    let read = store.findings(&FindingQuery::default()).unwrap();
    assert_eq!(read.findings.len(), 1);
    assert_eq!(read.findings[0].finding, good);
    assert_eq!(read.damaged.len(), 1);
    assert_eq!(read.damaged[0].row, bad_row);
    assert_eq!(read.damaged[0].id.as_deref(), Some(bad.id.as_str()));
    let text = read.damaged[0].to_string();
    assert!(
        text.contains("not valid JSON") && text.contains("line 1"),
        "{text}"
    );
}

fn a_run_whose_process_is_gone_reads_back_interrupted(fixture: Fixture) {
    let mut store = fixture.open();
    let run = store
        .begin_run("scan", "2024-03-02T00:00:00Z", &[])
        .unwrap();
    // Hand the run to a process that has exited.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let gone = child.id();
    let start = super::row::process_start(i64::from(gone));
    child.wait().unwrap();
    let Some(start) = start else {
        return; // no /proc here: this host cannot tell, and says "unfinished"
    };
    store
        .test_sql(&format!(
            "UPDATE runs SET pid = {gone}, process_start = '{start}' WHERE id = {run}"
        ))
        .unwrap();
    assert_eq!(store.runs(1).unwrap()[0].status, RunStatus::Interrupted);
    // The next run records the mark, so a reused pid cannot bring it back to life.
    store
        .begin_run("scan", "2024-03-03T00:00:00Z", &[])
        .unwrap();
    let status = store
        .test_sql(&format!("SELECT status FROM runs WHERE id = {run}"))
        .unwrap();
    assert_eq!(status.as_deref(), Some("interrupted"));
    // A run recorded on another host cannot be judged from here.
    store
        .test_sql(&format!(
            "UPDATE runs SET status = NULL, host = 'elsewhere.invalid' WHERE id = {run}"
        ))
        .unwrap();
    let runs = store.runs(10).unwrap();
    let other = runs.iter().find(|r| r.id == run).unwrap();
    assert_eq!(other.status, RunStatus::Unknown);
}

/// Four writers, each with its own connection, racing to create the schema and saving the same
/// findings in different orders: every run is recorded and finished, every finding counted by all.
fn concurrent_writers_lose_no_run(fixture: Fixture) {
    let spec = fixture.spec();
    let findings: Vec<Finding> = (0..300)
        .map(|i| finding("CT001", &format!("event-{i}"), Severity::High))
        .collect();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let spec = spec.clone();
            let mut mine = findings.clone();
            if w % 2 == 1 {
                mine.reverse();
            }
            std::thread::spawn(move || {
                let mut store = super::open(&spec).unwrap();
                let run = store
                    .begin_run("scan", "2024-03-02T00:00:00Z", &[])
                    .unwrap();
                for chunk in mine.chunks(50) {
                    store
                        .save_findings(run, "2024-03-02T00:00:01Z", chunk)
                        .unwrap();
                }
                store.finish_run(run, &RunSummary::new("scan")).unwrap();
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    let store = fixture.open();
    let runs = store.runs(100).unwrap();
    assert_eq!(runs.len(), 4);
    assert!(runs.iter().all(|r| r.status == RunStatus::Finished));
    assert!(runs.iter().all(|r| r.findings == 300));
    let stored = store.findings(&FindingQuery::default()).unwrap();
    assert_eq!(stored.findings.len(), 300);
    assert!(stored.findings.iter().all(|f| f.times_seen == 4));
}

fn filters_and_order_are_the_same_everywhere(fixture: Fixture) {
    let mut store = fixture.open();
    let run = store
        .begin_run("scan", "2024-03-02T00:00:00Z", &[])
        .unwrap();
    let mut undated = finding("CT003", "e4444", Severity::High);
    undated.event_time = None;
    let mut other_account = finding("CT002", "e55555", Severity::High);
    other_account.account = Some("999999999999".into());
    let batch = vec![
        finding("CT001", "e1", Severity::High),
        undated.clone(),
        finding("CT001", "e333", Severity::High),
        other_account.clone(),
        finding("CT009", "e22", Severity::Low),
    ];
    store
        .save_findings(run, "2024-03-02T00:00:01Z", &batch)
        .unwrap();
    let ids = |query: FindingQuery| -> Vec<String> {
        store
            .findings(&query)
            .unwrap()
            .findings
            .into_iter()
            .map(|f| f.finding.event_id.unwrap_or_default())
            .collect()
    };
    // Worst first, then newest event first, undated last.
    assert_eq!(
        ids(FindingQuery::default()),
        ["e55555", "e333", "e1", "e4444", "e22"]
    );
    assert_eq!(
        ids(FindingQuery {
            account: Some("999999999999".into()),
            ..Default::default()
        }),
        ["e55555"]
    );
    assert_eq!(
        ids(FindingQuery {
            since: Some("2024-03-01T10:04".into()),
            ..Default::default()
        }),
        ["e55555", "e333"]
    );
    assert_eq!(
        ids(FindingQuery {
            rule_id: Some("CT001".into()),
            limit: Some(1),
            ..Default::default()
        }),
        ["e333"]
    );
}

/// `serve`'s commit: an object version's findings go in once, with its row, whichever worker comes first.
fn an_object_is_committed_once_with_its_findings(fixture: Fixture) {
    let mut first = fixture.open();
    let mut second = fixture.open();
    let run = first
        .begin_run("serve", "2024-03-02T00:00:00Z", &[])
        .unwrap();
    let object = ObjectVersion {
        bucket: "trail".into(),
        key: "AWSLogs/1/CloudTrail/us-east-1/2024/03/01/x.json.gz".into(),
        etag: "d41d8cd98f00b204e9800998ecf8427e".into(),
    };
    let findings = [
        finding("CT001", "e1", Severity::High),
        finding("CT010", "e22", Severity::Low),
    ];
    let none = SequenceWork::none();
    assert!(!first.object_processed(&object).unwrap());
    assert_eq!(
        first
            .commit_object(run, "2024-03-02T00:00:01Z", &object, 7, &findings, &none)
            .unwrap(),
        ObjectCommit::Committed {
            saved: SaveStats {
                inserted: 2,
                updated: 0
            },
            reevaluated: Vec::new(),
        }
    );
    // Another worker with the same notification: nothing written, not even a sighting.
    assert!(second.object_processed(&object).unwrap());
    assert_eq!(
        second
            .commit_object(
                run,
                "2024-03-02T00:00:02Z",
                &object,
                7,
                &findings[..1],
                &none
            )
            .unwrap(),
        ObjectCommit::AlreadyProcessed
    );
    let stored = first.findings(&FindingQuery::default()).unwrap().findings;
    assert_eq!(stored.len(), 2);
    assert!(stored
        .iter()
        .all(|f| f.last_seen_at == "2024-03-02T00:00:01Z"));
    // A new version of the object (another ETag) is new work.
    let newer = ObjectVersion {
        etag: "0123456789abcdef0123456789abcdef".into(),
        ..object.clone()
    };
    assert!(matches!(
        second
            .commit_object(run, "2024-03-02T00:00:03Z", &newer, 1, &[], &none)
            .unwrap(),
        ObjectCommit::Committed { .. }
    ));
    let rows = first
        .test_sql("SELECT CAST(COUNT(*) AS TEXT) FROM processed_objects")
        .unwrap();
    assert_eq!(rows.as_deref(), Some("2"));
}

/// A burst rule for the contract: a finding once three events are stored, keyed by the earliest, so an
/// earlier event arriving later changes which finding the rule gives.
fn burst_of_three(rule: &str, mut bodies: Vec<String>) -> Vec<Finding> {
    bodies.sort();
    if bodies.len() < 3 {
        return Vec::new();
    }
    let mut burst = finding(rule, &bodies[0], Severity::High);
    burst.message = format!("{} events", bodies.len());
    vec![burst]
}

/// One object of `serve` with these observations (event names) of rule CT014.
fn commit_events(
    store: &mut dyn FindingStore,
    run: i64,
    key: &str,
    events: &[&str],
) -> ObjectCommit {
    commit_events_at(store, run, key, events, "2024-03-02T00:00:01Z", None)
}

/// [`commit_events`], stored at `seen_at`, forgetting CT014's observations stored before `forget`.
fn commit_events_at(
    store: &mut dyn FindingStore,
    run: i64,
    key: &str,
    events: &[&str],
    seen_at: &str,
    forget: Option<&str>,
) -> ObjectCommit {
    let observations: Vec<StoredObservation> = events
        .iter()
        .map(|event| StoredObservation {
            rule: "CT014".into(),
            key: (*event).to_owned(),
            at: event.len() as i64,
            body: (*event).to_owned(),
        })
        .collect();
    let object = ObjectVersion {
        bucket: "trail".into(),
        key: key.into(),
        etag: "e".into(),
    };
    let forget_before = |_: &str| forget.map(str::to_owned);
    let sequences = SequenceWork {
        observations: &observations,
        evaluate: &burst_of_three,
        forget_before: &forget_before,
    };
    store
        .commit_object(run, seen_at, &object, 1, &[], &sequences)
        .unwrap()
}

/// A long-running service forgets observations stored before the line it is given, after the evaluation
/// that still sees them; the findings they made stay, and are not taken for stale by later evaluations.
fn observations_stored_long_ago_are_forgotten_and_their_findings_stay(fixture: Fixture) {
    let mut store = fixture.open();
    let run = store
        .begin_run("serve", "2024-03-01T00:00:00Z", &[])
        .unwrap();
    let stored = |store: &dyn FindingStore| -> Vec<(String, String)> {
        let read = store.findings(&FindingQuery::default()).unwrap();
        let mut found: Vec<(String, String)> = read
            .findings
            .into_iter()
            .map(|f| (f.finding.event_id.unwrap_or_default(), f.finding.message))
            .collect();
        found.sort();
        found
    };
    let observations = |store: &mut dyn FindingStore| {
        store
            .test_sql("SELECT CAST(COUNT(*) AS TEXT) FROM sequence_observations")
            .unwrap()
    };
    let (old, new, line) = (
        "2024-03-01T00:00:00Z",
        "2024-03-09T00:00:00Z",
        Some("2024-03-02T00:00:00Z"),
    );
    commit_events_at(store.as_mut(), run, "a", &["e1", "e2", "e3"], old, None);
    assert_eq!(stored(store.as_ref()), [("e1".into(), "3 events".into())]);
    // Evaluated with the old observations still there, then they are forgotten.
    commit_events_at(store.as_mut(), run, "b", &["e8"], new, line);
    assert_eq!(stored(store.as_ref()), [("e1".into(), "4 events".into())]);
    assert_eq!(observations(store.as_mut()).as_deref(), Some("1"));
    // Later evaluations no longer give that burst; it stays.
    commit_events_at(store.as_mut(), run, "c", &["e9"], new, line);
    assert_eq!(stored(store.as_ref()), [("e1".into(), "4 events".into())]);
    commit_events_at(store.as_mut(), run, "d", &["e90"], new, line);
    assert_eq!(
        stored(store.as_ref()),
        [
            ("e1".into(), "4 events".into()),
            ("e8".into(), "3 events".into())
        ]
    );
    assert_eq!(observations(store.as_mut()).as_deref(), Some("3"));
}

/// `serve`'s sequence rules: each commit evaluates the rule over the observations of every object so
/// far, whichever connection committed them, and the rule's stored findings are that evaluation's.
fn a_sequence_rule_is_evaluated_over_every_objects_observations(fixture: Fixture) {
    let mut first = fixture.open();
    let mut second = fixture.open();
    let run = first
        .begin_run("serve", "2024-03-02T00:00:00Z", &[])
        .unwrap();
    let stored = |store: &dyn FindingStore| -> Vec<(String, String)> {
        let read = store.findings(&FindingQuery::default()).unwrap();
        read.findings
            .into_iter()
            .map(|f| (f.finding.event_id.unwrap_or_default(), f.finding.message))
            .collect()
    };
    let reevaluated = |commit: ObjectCommit| match commit {
        ObjectCommit::Committed { reevaluated, .. } => reevaluated,
        ObjectCommit::AlreadyProcessed => panic!("a new object was taken for processed"),
    };
    let ct014 = vec!["CT014".to_owned()];
    assert_eq!(
        reevaluated(commit_events(first.as_mut(), run, "a", &["e5", "e7"])),
        ct014
    );
    assert!(stored(first.as_ref()).is_empty(), "two events are no burst");
    commit_events(second.as_mut(), run, "b", &["e6"]);
    assert_eq!(stored(first.as_ref()), [("e5".into(), "3 events".into())]);
    // A repeated event adds nothing and evaluates nothing.
    assert_eq!(
        reevaluated(commit_events(first.as_mut(), run, "c", &["e6", "e7"])),
        Vec::<String>::new()
    );
    assert_eq!(stored(second.as_ref()), [("e5".into(), "3 events".into())]);
    // An earlier event arrives last: the burst now starts there, and the finding it replaces is gone
    // with its links.
    commit_events(second.as_mut(), run, "d", &["e4"]);
    assert_eq!(stored(first.as_ref()), [("e4".into(), "4 events".into())]);
    let links = first
        .test_sql("SELECT CAST(COUNT(*) AS TEXT) FROM run_findings")
        .unwrap();
    assert_eq!(links.as_deref(), Some("1"));
    let times = first
        .test_sql("SELECT CAST(MAX(times_seen) AS TEXT) FROM findings")
        .unwrap();
    assert_eq!(times.as_deref(), Some("1"), "one finding, seen once");
    // A second delivery of an object changes nothing.
    assert_eq!(
        commit_events(first.as_mut(), run, "d", &["e4"]),
        ObjectCommit::AlreadyProcessed
    );
}

/// `serve`'s delivery health: per account and region, the latest arrival and the newest event time.
fn delivery_health_keeps_the_latest_arrival_per_account_and_region(fixture: Fixture) {
    let mut store = fixture.open();
    let delivery = |account: &str, region: &str, arrival: &str, newest: Option<&str>| Delivery {
        account: account.into(),
        region: region.into(),
        last_arrival_at: arrival.into(),
        newest_event_at: newest.map(str::to_owned),
    };
    for d in [
        delivery(
            "1",
            "us-east-1",
            "2024-03-02T10:00:00Z",
            Some("2024-03-02T09:55:00Z"),
        ),
        // Files processed out of order: the latest arrival and the newest event win.
        delivery(
            "1",
            "us-east-1",
            "2024-03-02T09:00:00Z",
            Some("2024-03-02T09:59:00Z"),
        ),
        delivery("1", "us-east-1", "2024-03-02T09:30:00Z", None),
        delivery("1", "eu-west-1", "2024-03-02T08:00:00Z", None),
        delivery(
            "2",
            "us-east-1",
            "2024-03-02T11:00:00Z",
            Some("2024-03-02T10:58:00Z"),
        ),
    ] {
        store.record_delivery(&d).unwrap();
    }
    assert_eq!(
        store.silent_deliveries("2024-03-02T10:30:00Z").unwrap(),
        [
            delivery("1", "eu-west-1", "2024-03-02T08:00:00Z", None),
            delivery(
                "1",
                "us-east-1",
                "2024-03-02T10:00:00Z",
                Some("2024-03-02T09:59:00Z")
            ),
        ]
    );
    assert!(store
        .silent_deliveries("2024-03-02T08:00:00Z")
        .unwrap()
        .is_empty());
}

fn at(text: &str) -> chrono::DateTime<chrono::Utc> {
    crate::mute::parse_stamp(text).unwrap()
}

fn mutes_are_kept_listed_replaced_and_removed(fixture: Fixture) {
    use super::alerting;
    use crate::mute::MuteRequest;
    let mut store = fixture.open();
    let request = MuteRequest {
        rule: Some("CT006".into()),
        principal: Some("arn:aws:iam::*:role/terraform-*".into()),
        account: Some("111122223333".into()),
        source_ip: Some("10.0.0.0/8".into()),
        reason: "IaC manages aliases".into(),
        expires: Some("2027-03-01".into()),
        ..MuteRequest::default()
    };
    let mute = request
        .clone()
        .into_mute("alice", at("2026-12-04T00:00:00Z"))
        .unwrap();
    alerting::add_mute(store.as_mut(), &mute).unwrap();
    // The same matcher again (an import of a reviewed file): one row, the newer reason and expiry.
    let renewed = MuteRequest {
        reason: "still IaC".into(),
        expires: Some("2028-01-01".into()),
        ..request
    }
    .into_mute("bob", at("2026-12-05T00:00:00Z"))
    .unwrap();
    assert_eq!(renewed.id, mute.id);
    alerting::add_mute(fixture.open().as_mut(), &renewed).unwrap();
    let listed = alerting::mutes(store.as_mut()).unwrap();
    assert_eq!(listed, vec![renewed.clone()]);
    assert_eq!(
        listed[0].expires_at.as_deref(),
        Some("2028-01-01T00:00:00.000Z")
    );
    // An expiry is claimed once, and only the one the mute has now (not the one it was renewed from).
    assert!(
        !alerting::claim_expiry_report(store.as_mut(), &mute, at("2028-01-02T00:00:00Z")).unwrap()
    );
    assert!(alerting::reported_expiries(store.as_mut())
        .unwrap()
        .is_empty());
    assert!(
        alerting::claim_expiry_report(store.as_mut(), &renewed, at("2028-01-02T00:00:00Z"))
            .unwrap()
    );
    assert!(!alerting::claim_expiry_report(
        fixture.open().as_mut(),
        &renewed,
        at("2028-01-02T00:00:01Z")
    )
    .unwrap());
    assert_eq!(
        alerting::reported_expiries(store.as_mut()).unwrap(),
        [(renewed.id.clone(), "2028-01-01T00:00:00.000Z".to_owned())]
            .into_iter()
            .collect::<std::collections::HashSet<_>>()
    );
    alerting::set_finding_mutes(
        store.as_mut(),
        &[
            ("tg-a".into(), Some(mute.id.clone())),
            ("tg-b".into(), None),
        ],
        at("2026-12-05T00:00:00Z"),
    )
    .unwrap();
    assert_eq!(
        alerting::finding_mute(store.as_mut(), "tg-a").unwrap(),
        Some(mute.id.clone())
    );
    alerting::set_finding_mutes(
        store.as_mut(),
        &[("tg-a".into(), None)],
        at("2026-12-06T00:00:00Z"),
    )
    .unwrap();
    assert_eq!(
        alerting::finding_mute(store.as_mut(), "tg-a").unwrap(),
        None
    );
    assert!(alerting::remove_mute(store.as_mut(), &mute.id).unwrap());
    assert!(!alerting::remove_mute(store.as_mut(), &mute.id).unwrap());
    assert!(alerting::mutes(store.as_mut()).unwrap().is_empty());
}

fn a_finding_alerts_once_and_repeats_fold_into_one_digest(fixture: Fixture) {
    use super::alerting::{self, AlertIntent, Digest, Enqueued};
    let mut store = fixture.open();
    let hour = std::time::Duration::from_secs(3600);
    let intent = |finding: &'static str, now: &str| AlertIntent {
        destination: "slack-1",
        finding_id: finding,
        fold_key: "CT006|arn:aws:iam::1:role/ci",
        payload: "{}",
        fold_window: hour,
        now: at(now),
        recount: true,
    };
    let enqueue = |store: &mut dyn FindingStore, finding, now| {
        alerting::enqueue_alert(store, &intent(finding, now)).unwrap()
    };
    assert_eq!(
        enqueue(store.as_mut(), "tg-1", "2026-12-04T10:00:00Z"),
        Enqueued::Alert
    );
    // Another worker, the same finding: no second alert.
    assert_eq!(
        enqueue(fixture.open().as_mut(), "tg-1", "2026-12-04T10:00:01Z"),
        Enqueued::AlreadyAlerted
    );
    assert_eq!(
        enqueue(store.as_mut(), "tg-2", "2026-12-04T10:30:00Z"),
        Enqueued::Folded
    );
    assert_eq!(
        enqueue(store.as_mut(), "tg-3", "2026-12-04T10:59:59Z"),
        Enqueued::Folded
    );
    // Another destination folds on its own.
    let other = AlertIntent {
        destination: "file-1",
        ..intent("tg-3", "2026-12-04T10:59:59Z")
    };
    assert_eq!(
        alerting::enqueue_alert(store.as_mut(), &other).unwrap(),
        Enqueued::Alert
    );
    // `serve` offering a stored finding again: no alert and no repeat (the digest below says three).
    let again = AlertIntent {
        recount: false,
        ..intent("tg-1", "2026-12-04T10:59:59Z")
    };
    assert_eq!(
        alerting::enqueue_alert(store.as_mut(), &again).unwrap(),
        Enqueued::AlreadyAlerted
    );
    let due = alerting::claim(store.as_mut(), at("2026-12-04T11:00:00Z"), 10).unwrap();
    let keys: Vec<_> = due
        .iter()
        .map(|m| (m.destination.as_str(), m.dedup_key.as_str()))
        .collect();
    assert_eq!(keys, [("slack-1", "alert:tg-1"), ("file-1", "alert:tg-3")]);
    // The window closes: one digest with three repeats (tg-1 again, tg-2, tg-3), enqueued once.
    assert_eq!(
        alerting::close_windows(store.as_mut(), at("2026-12-04T11:00:00Z")).unwrap(),
        1
    );
    assert_eq!(
        alerting::close_windows(fixture.open().as_mut(), at("2026-12-04T11:00:01Z")).unwrap(),
        0
    );
    let digests = alerting::claim(store.as_mut(), at("2026-12-04T11:00:02Z"), 10).unwrap();
    assert_eq!(digests.len(), 1);
    let digest: Digest = serde_json::from_str(&digests[0].payload).unwrap();
    assert_eq!(
        digest,
        Digest {
            fold_key: "CT006|arn:aws:iam::1:role/ci".into(),
            first_finding: "tg-1".into(),
            repeats: 3,
            window_start: "2026-12-04T10:00:00.000Z".into(),
            window_end: "2026-12-04T11:00:00.000Z".into(),
        }
    );
    // After the window a new finding of the key is alerted at once and opens the next window.
    assert_eq!(
        enqueue(store.as_mut(), "tg-4", "2026-12-04T12:00:00Z"),
        Enqueued::Alert
    );
}

fn two_senders_never_claim_the_same_message(fixture: Fixture) {
    use super::alerting;
    let mut store = fixture.open();
    let now = at("2026-12-04T10:00:00Z");
    for n in 0..60 {
        alerting::enqueue_message(store.as_mut(), "hook", &format!("m{n}"), "alert", "{}", now)
            .unwrap();
    }
    let spec = fixture.spec();
    let senders: Vec<_> = (0..3)
        .map(|_| {
            let spec = spec.clone();
            std::thread::spawn(move || {
                let mut store = super::open(&spec).unwrap();
                let mut mine = Vec::new();
                loop {
                    let claimed = alerting::claim(store.as_mut(), now, 4).unwrap();
                    if claimed.is_empty() {
                        break mine;
                    }
                    for message in claimed {
                        alerting::mark_sent(store.as_mut(), message.id, now).unwrap();
                        mine.push(message.dedup_key);
                    }
                }
            })
        })
        .collect();
    let mut all: Vec<String> = senders
        .into_iter()
        .flat_map(|s| s.join().unwrap())
        .collect();
    let claimed = all.len();
    all.sort();
    all.dedup();
    assert_eq!(
        (claimed, all.len()),
        (60, 60),
        "a message was claimed twice"
    );
    let counts = alerting::outbox_counts(store.as_mut()).unwrap();
    assert_eq!((counts.sent, counts.pending), (60, 0));
}

fn a_failed_message_waits_its_backoff_and_is_given_up_at_last(fixture: Fixture) {
    use super::alerting;
    let mut store = fixture.open();
    let base = std::time::Duration::from_secs(5);
    let mut now = at("2026-12-04T10:00:00Z");
    alerting::enqueue_message(store.as_mut(), "hook", "m", "alert", "{}", now).unwrap();
    let mut attempts = 0;
    loop {
        let claimed = alerting::claim(store.as_mut(), now, 1).unwrap();
        let [message] = claimed.as_slice() else {
            panic!("attempt {} not due at {now}", attempts + 1)
        };
        attempts += 1;
        assert_eq!(message.attempt, attempts);
        // Held under its lease: another sender finds nothing.
        assert!(alerting::claim(fixture.open().as_mut(), now, 1)
            .unwrap()
            .is_empty());
        if alerting::mark_failed(store.as_mut(), message, "HTTP 500", base, now).unwrap() {
            break;
        }
        let wait = alerting::backoff(message.attempt, base);
        let early = now + chrono::Duration::from_std(wait).unwrap() - chrono::Duration::seconds(1);
        assert!(alerting::claim(store.as_mut(), early, 1)
            .unwrap()
            .is_empty());
        now += chrono::Duration::from_std(wait).unwrap();
    }
    assert_eq!(attempts, alerting::MAX_ATTEMPTS);
    let counts = alerting::outbox_counts(store.as_mut()).unwrap();
    assert_eq!((counts.given_up, counts.pending, counts.sent), (1, 0, 0));
    assert!(
        alerting::claim(store.as_mut(), now + chrono::Duration::days(1), 1)
            .unwrap()
            .is_empty()
    );
}

fn dashboard_queries_filter_page_and_derive_status(fixture: Fixture) {
    use super::dashboard::{self, FindingFilter, PageAt, Role, Sort, Status};
    let mut store = fixture.open();
    let mut findings = Vec::new();
    for (i, severity) in [
        Severity::Critical,
        Severity::High,
        Severity::Critical,
        Severity::Low,
    ]
    .into_iter()
    .enumerate()
    {
        let mut f = finding("CT001", &format!("event-{i}"), severity);
        f.event_time = Some(format!("2024-03-0{}T10:00:00Z", i + 1));
        f.region = Some(if i % 2 == 0 { "us-east-1" } else { "eu-west-1" }.into());
        findings.push(f);
    }
    findings[3].rule_id = "CT002".into();
    let run = store
        .begin_run("scan", "2024-03-05T00:00:00Z", &[])
        .unwrap();
    store
        .save_findings(run, "2024-03-05T00:00:00Z", &findings)
        .unwrap();
    let ids = |page: &dashboard::ListPage| -> Vec<String> {
        page.rows.iter().map(|r| r.id.clone()).collect()
    };

    let critical = FindingFilter {
        severity: Some(Severity::Critical),
        ..Default::default()
    };
    let page =
        dashboard::list(store.as_mut(), &critical, Sort::Newest, &PageAt::First, 10).unwrap();
    assert_eq!(
        ids(&page),
        vec![findings[2].id.clone(), findings[0].id.clone()]
    );
    assert_eq!((page.total, page.more), (2, false));

    let west = FindingFilter {
        region: Some("eu-west-1".into()),
        to: Some("2024-03-03".into()),
        ..Default::default()
    };
    let page = dashboard::list(store.as_mut(), &west, Sort::Oldest, &PageAt::First, 10).unwrap();
    assert_eq!(ids(&page), vec![findings[1].id.clone()]);

    // Pages of one, in the severity order, cover every finding once.
    let mut seen = Vec::new();
    let mut at = PageAt::First;
    for n in 0..4 {
        let page = dashboard::list(
            store.as_mut(),
            &FindingFilter::default(),
            Sort::Severity,
            &at,
            1,
        )
        .unwrap();
        assert_eq!(page.more, n < 3);
        seen.extend(ids(&page));
        if let Some(next) = page.next(Sort::Severity) {
            at = PageAt::After(next);
        }
    }
    assert_eq!(
        seen[..2]
            .iter()
            .filter(|id| [&findings[0].id, &findings[2].id].contains(id))
            .count(),
        2
    );
    assert_eq!(seen.last(), Some(&findings[3].id));

    // Status: muted wins over resolved; open is neither.
    dashboard::link_mute(
        store.as_mut(),
        &findings[0].id,
        "mute-1",
        "alice",
        "2024-03-06T00:00:00Z",
        "drill",
    )
    .unwrap();
    dashboard::resolve(
        store.as_mut(),
        &findings[1].id,
        "bob",
        "2024-03-06T00:00:01Z",
        "fixed",
    )
    .unwrap();
    let of = |store: &mut dyn FindingStore, status| {
        let filter = FindingFilter {
            status: Some(status),
            ..Default::default()
        };
        let page = dashboard::list(store, &filter, Sort::Rule, &PageAt::First, 10).unwrap();
        let mut ids: Vec<String> = page.rows.iter().map(|r| r.id.clone()).collect();
        ids.sort();
        ids
    };
    assert_eq!(
        of(store.as_mut(), Status::Muted),
        vec![findings[0].id.clone()]
    );
    assert_eq!(
        of(store.as_mut(), Status::Resolved),
        vec![findings[1].id.clone()]
    );
    let mut open = vec![findings[2].id.clone(), findings[3].id.clone()];
    open.sort();
    assert_eq!(of(store.as_mut(), Status::Open), open);
    let detail = dashboard::finding(store.as_mut(), &findings[1].id)
        .unwrap()
        .unwrap();
    assert_eq!(detail.status, Status::Resolved);
    assert_eq!(detail.resolved.unwrap().0, "bob");
    let actions = dashboard::actions(store.as_mut(), 10).unwrap();
    assert_eq!(
        actions
            .iter()
            .map(|a| (a.actor.as_str(), a.action.as_str()))
            .collect::<Vec<_>>(),
        vec![("bob", "resolve"), ("alice", "mute")]
    );

    let (rows, skipped) = dashboard::export(
        store.as_mut(),
        &FindingFilter {
            rule: Some("CT002".into()),
            ..Default::default()
        },
        Sort::Severity,
        10,
    )
    .unwrap();
    assert_eq!((rows.len(), skipped), (1, 0));
    assert_eq!(
        (rows[0].0.id.as_str(), rows[0].1),
        (findings[3].id.as_str(), Status::Open)
    );

    let overview = dashboard::overview(store.as_mut(), "2024-03-02", 5).unwrap();
    assert_eq!(overview.per_day.len(), 3, "{:?}", overview.per_day);
    assert_eq!(
        overview.top_rules[0],
        ("CT001".into(), "ct001-rule".into(), 3)
    );
    assert_eq!(overview.top_principals[0].1, 4);

    dashboard::put_user(
        store.as_mut(),
        "alice",
        Role::Viewer,
        "hash-1",
        "2024-03-06T00:00:00Z",
    )
    .unwrap();
    dashboard::put_user(
        store.as_mut(),
        "alice",
        Role::Admin,
        "hash-2",
        "2024-03-07T00:00:00Z",
    )
    .unwrap();
    assert_eq!(
        dashboard::user(store.as_mut(), "alice").unwrap(),
        Some((Role::Admin, "hash-2".into()))
    );
    assert_eq!(dashboard::user(store.as_mut(), "nobody").unwrap(), None);
}

/// 130 findings over 3 severities, 3 rules, 4 principals and a few days, some without an event time,
/// with ties in every sort key but the id.
fn many_findings() -> Vec<Finding> {
    (0..130)
        .map(|i| {
            let severity = [Severity::Critical, Severity::High, Severity::Low][i % 3];
            let mut f = finding(
                &format!("CT00{}", i % 3 + 1),
                &format!("event-{i}"),
                severity,
            );
            f.rule_id = format!("CT00{}", (i / 7) % 3 + 1);
            f.event_time = (i % 11 != 0).then(|| format!("2024-03-0{}T10:00:00Z", i % 5 + 1));
            f.actor = Some(Actor {
                arn: Some(format!("arn:aws:iam::111122223333:user/u{}", i % 4)),
                ..Actor::default()
            });
            f
        })
        .collect()
}

fn keyset_pages_cover_every_order_once_both_ways(fixture: Fixture) {
    use super::dashboard::{self, Cursor, FindingFilter, PageAt, Sort, Status};
    let mut store = fixture.open();
    let findings = many_findings();
    let run = store
        .begin_run("scan", "2024-03-09T00:00:00Z", &[])
        .unwrap();
    store
        .save_findings(run, "2024-03-09T00:00:00Z", &findings)
        .unwrap();
    for filter in [
        FindingFilter::default(),
        FindingFilter {
            severity: Some(Severity::High),
            status: Some(Status::Open),
            ..Default::default()
        },
    ] {
        for sort in [Sort::Severity, Sort::Newest, Sort::Oldest, Sort::Rule] {
            let whole =
                dashboard::list(store.as_mut(), &filter, sort, &PageAt::First, 500).unwrap();
            let whole: Vec<String> = whole.rows.iter().map(|r| r.id.clone()).collect();
            assert!(whole.len() > 20, "{sort:?}: {}", whole.len());
            // The one-page order is the sort's: check it against the rows themselves.
            let rows = dashboard::list(store.as_mut(), &filter, sort, &PageAt::First, 500)
                .unwrap()
                .rows;
            for pair in rows.windows(2) {
                let (a, b) = (Cursor::of(&pair[0], sort), Cursor::of(&pair[1], sort));
                let ordered = match sort {
                    Sort::Severity => {
                        (-a.rank, rev(&a.time), rev(&a.id)) < (-b.rank, rev(&b.time), rev(&b.id))
                    }
                    Sort::Newest => (rev(&a.time), rev(&a.id)) < (rev(&b.time), rev(&b.id)),
                    Sort::Oldest => (&a.time, &a.id) < (&b.time, &b.id),
                    Sort::Rule => {
                        (&a.rule, rev(&a.time), rev(&a.id)) < (&b.rule, rev(&b.time), rev(&b.id))
                    }
                };
                assert!(ordered, "{sort:?}: {a:?} then {b:?}");
            }
            // Forward by `next`, pages of 7.
            let mut pages: Vec<dashboard::ListPage> = Vec::new();
            let mut at = PageAt::First;
            loop {
                let page = dashboard::list(store.as_mut(), &filter, sort, &at, 7).unwrap();
                assert_eq!(page.total as usize, whole.len());
                assert_eq!(page.earlier, !pages.is_empty());
                let next = page.next(sort);
                pages.push(page);
                match next {
                    Some(c) => at = PageAt::After(Cursor::decode(&c.encode(), sort).unwrap()),
                    None => break,
                }
            }
            let forward: Vec<String> = pages
                .iter()
                .flat_map(|p| p.rows.iter().map(|r| r.id.clone()))
                .collect();
            assert_eq!(forward, whole, "{sort:?} forward");
            // Back by `previous` from the last page gives every earlier page again.
            for i in (1..pages.len()).rev() {
                let before = pages[i].previous(sort).expect("a previous cursor");
                let back =
                    dashboard::list(store.as_mut(), &filter, sort, &PageAt::Before(before), 7)
                        .unwrap();
                assert_eq!(
                    back.rows.iter().map(|r| &r.id).collect::<Vec<_>>(),
                    pages[i - 1].rows.iter().map(|r| &r.id).collect::<Vec<_>>(),
                    "{sort:?} back to page {i}"
                );
                assert_eq!(back.earlier, i > 1);
            }
        }
    }
    // A cursor of one sort is refused by another.
    let page = dashboard::list(
        store.as_mut(),
        &FindingFilter::default(),
        Sort::Rule,
        &PageAt::First,
        3,
    )
    .unwrap();
    let cursor = page.next(Sort::Rule).unwrap().encode();
    assert!(Cursor::decode(&cursor, Sort::Newest).is_err());
    assert!(Cursor::decode("zz", Sort::Rule).is_err());
}

/// Descending on text, as a sortable key.
fn rev(text: &str) -> std::cmp::Reverse<&str> {
    std::cmp::Reverse(text)
}

fn overview_counts_equal_a_direct_count_after_every_write(fixture: Fixture) {
    use super::dashboard;
    let mut store = fixture.open();
    let findings = many_findings();
    let check = |store: &mut dyn FindingStore, when: &str| {
        let stored = dashboard::stored_counts(store);
        assert!(!stored.0.is_empty(), "{when}: no counts");
        assert_eq!(stored, dashboard::direct_counts(store), "{when}");
    };
    // Findings stored before the counts existed are counted by the migration: a fresh store has
    // them from its first insert, so the check starts there.
    let run = store
        .begin_run("scan", "2024-03-09T00:00:00Z", &[])
        .unwrap();
    store
        .save_findings(run, "2024-03-09T00:00:00Z", &findings[..100])
        .unwrap();
    check(store.as_mut(), "after the first scan");
    // Seen again (an update that changes no counted column), with 30 new ones.
    let run = store
        .begin_run("scan", "2024-03-10T00:00:00Z", &[])
        .unwrap();
    store
        .save_findings(run, "2024-03-10T00:00:00Z", &findings)
        .unwrap();
    check(store.as_mut(), "after a rescan");
    // A new rule version changes a finding's severity.
    let mut raised = findings[5].clone();
    raised.severity = Severity::Critical;
    let run = store
        .begin_run("scan", "2024-03-11T00:00:00Z", &[])
        .unwrap();
    store
        .save_findings(run, "2024-03-11T00:00:00Z", &[raised])
        .unwrap();
    check(store.as_mut(), "after a severity change");
    let at = "2024-03-12T00:00:00Z";
    for f in &findings[..10] {
        dashboard::link_mute(store.as_mut(), &f.id, "mute-1", "alice", at, "drill").unwrap();
    }
    check(store.as_mut(), "after mutes");
    // Resolving a muted finding leaves it muted; an open one becomes resolved.
    for f in &findings[5..20] {
        dashboard::resolve(store.as_mut(), &f.id, "bob", at, "fixed").unwrap();
    }
    check(store.as_mut(), "after resolves");
    dashboard::resolve(store.as_mut(), &findings[12].id, "carol", at, "again").unwrap();
    check(store.as_mut(), "after a second resolve");
    // `mute` and `serve` set which stored findings a mute covers (and uncover the rest).
    super::alerting::set_finding_mutes(
        store.as_mut(),
        &[
            (findings[0].id.clone(), None),
            (findings[40].id.clone(), Some("mute-2".into())),
        ],
        chrono::Utc::now(),
    )
    .unwrap();
    check(store.as_mut(), "after set_finding_mutes");
    let counts = dashboard::stored_counts(store.as_mut());
    let muted: i64 = counts
        .0
        .iter()
        .filter(|c| c.3 == "muted")
        .map(|c| c.4)
        .sum();
    let resolved: i64 = counts
        .0
        .iter()
        .filter(|c| c.3 == "resolved")
        .map(|c| c.4)
        .sum();
    assert_eq!((muted, resolved), (10, 10), "{counts:?}");
    let overview = dashboard::overview(store.as_mut(), "2024-03-01", 3).unwrap();
    let total: u64 = overview.per_day.iter().map(|d| d.2).sum();
    let undated = findings.iter().filter(|f| f.event_time.is_none()).count() as u64;
    assert_eq!(total, 130 - undated);
    assert_eq!(overview.top_principals.len(), 3);
    assert!(
        overview.top_principals.iter().all(|p| p.1 >= 32),
        "{:?}",
        overview.top_principals
    );
}
