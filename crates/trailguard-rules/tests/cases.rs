//! The labelled cases of every rule, in every family, run by one harness.
//!
//! Each rule `src/rules/<family>/<stem>.rs` has `<stem>.cases.json` beside it:
//! `{"rule": "CT001", "cases": [{"name", "why"?, <input>, "expect"}]}`. The input depends on the family:
//! - CloudTrail: `"records"`, a list of `{"base", "patch", "repeat"?}`. `base` names a file of
//!   `src/rules/cloudtrail/base_records/`; `patch` is a JSON merge patch (RFC 7386) applied to it;
//!   `repeat` (default 1) sends that record several times. Every record gets its own `eventID`
//!   (derived from the rule, the case name and the record's place) unless its patch sets one, since
//!   sequence rules observe an event id once. The records go through the whole built-in engine.
//! - Posture: `"snapshot"`, saved API outputs by file name (a JSON value, or a string for text files),
//!   and `"credential_report"`, rows by column (a column left out reads as for a user created
//!   on 2023-01-01 with nothing enabled); "now" is [`POSTURE_NOW`] unless the case sets `"now"`. Only the rule's
//!   check runs.
//! - Policy: `"document"` (a JSON value) or `"text"` (exactly the bytes `policy check` would read),
//!   run through every policy check as `trailguard policy check` does.
//!
//! `expect` first: `fires` (whether the rule reports anything), then optionally `codes` (exactly the
//! rule codes the whole run reports), `count` (findings of the rule), `severity` (of each of them),
//! `principal` (the actor ARN of each), `resources` (resource names of the rule's findings, in order),
//! and for posture `not_evaluated`. A case with `fires: true` is positive, an evaluated one with
//! `fires: false` negative; every rule needs both. Only when every expectation holds are the findings
//! of each file snapshotted (insta, `src/rules/<family>/snapshots/<stem>.snap`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use trailguard_account::snapshot::{RawSnapshot, CREDENTIAL_REPORT_CSV};
use trailguard_account::AccountSnapshot;
use trailguard_event::Record;
use trailguard_rules::engine::Engine;
use trailguard_rules::meta::{Family, RuleMeta};
use trailguard_rules::rules::policy::{check_text, VersionSelection};
use trailguard_rules::rules::posture::{PostureContext, CHECKS};
use trailguard_rules::Finding;

/// The "now" of posture cases that do not set their own.
const POSTURE_NOW: &str = "2024-06-01T00:00:00Z";

/// The account of credential report rows that do not give an `arn`.
const REPORT_ACCOUNT: &str = "111122223333";

/// The rules that must have cases: every registered rule, except those raised outside the engine
/// (CT051, raised by `serve` from delivery health and tested there). The one place the harness
/// enumerates rules.
fn catalog() -> Vec<&'static RuleMeta> {
    trailguard_rules::registry::all()
        .filter(|r| !r.raised_outside_engine)
        .map(|r| r.meta)
        .collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CasesFile {
    rule: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    /// Why the case is labelled so, when the name does not say it (repeated in a failure).
    #[serde(default)]
    why: Option<String>,
    #[serde(default)]
    records: Option<Vec<RecordSpec>>,
    #[serde(default)]
    snapshot: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    credential_report: Option<Vec<BTreeMap<String, String>>>,
    #[serde(default)]
    now: Option<String>,
    #[serde(default)]
    document: Option<Value>,
    #[serde(default)]
    text: Option<String>,
    expect: Expect,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordSpec {
    base: String,
    #[serde(default)]
    patch: Value,
    #[serde(default = "one")]
    repeat: usize,
}

fn one() -> usize {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    fires: bool,
    #[serde(default)]
    codes: Option<BTreeSet<String>>,
    #[serde(default)]
    count: Option<usize>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    principal: Option<String>,
    #[serde(default)]
    resources: Option<Vec<String>>,
    #[serde(default)]
    not_evaluated: bool,
}

/// One cases file, read and checked for shape.
struct Loaded {
    path: PathBuf,
    family: Family,
    /// The rule file's stem (`risky_policy_version`), which names the snapshot.
    stem: String,
    file: CasesFile,
}

/// What one case produced.
struct Outcome {
    /// Every finding of the run, for `codes` and the snapshot.
    findings: Vec<Finding>,
    /// Set when a posture check could not run.
    not_evaluated: Option<String>,
    /// The `eventID`s of records whose call failed (CloudTrail).
    refused: BTreeSet<String>,
}

fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/rules")
}

fn family_of(dir: &str) -> Option<Family> {
    match dir {
        "cloudtrail" => Some(Family::Cloudtrail),
        "posture" => Some(Family::Posture),
        "policy" => Some(Family::Policy),
        _ => None,
    }
}

/// Every `*.cases.json` under `src/rules/<family>/`, in path order.
fn load_all() -> Vec<Loaded> {
    let mut loaded = Vec::new();
    let mut families: Vec<PathBuf> = std::fs::read_dir(rules_dir())
        .expect("src/rules lists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_dir())
        .collect();
    families.sort();
    for dir in families {
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let family = family_of(name).unwrap_or_else(|| panic!("unknown rule family dir {name}"));
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("family dir lists")
            .map(|e| e.expect("dir entry").path())
            .filter(|p| p.to_string_lossy().ends_with(".cases.json"))
            .collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path).expect("cases file reads");
            let file: CasesFile =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let stem = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".cases.json"))
                .unwrap_or_default()
                .to_owned();
            loaded.push(Loaded {
                path,
                family,
                stem,
                file,
            });
        }
    }
    loaded
}

fn is_negative(case: &Case) -> bool {
    !case.expect.fires && !case.expect.not_evaluated
}

#[test]
fn every_rule_has_cases_beside_it_with_a_positive_and_a_negative() {
    let files = load_all();
    let mut problems = Vec::new();
    let mut seen: BTreeMap<&str, &Path> = BTreeMap::new();
    for loaded in &files {
        let rule = loaded.file.rule.as_str();
        let shown = loaded.path.display();
        if let Some(other) = seen.insert(rule, &loaded.path) {
            problems.push(format!(
                "{rule} has two cases files: {} and {shown}",
                other.display()
            ));
        }
        // The cases sit beside the rule they label: `<stem>.rs` declares the code.
        let rule_file = loaded.path.with_file_name(format!("{}.rs", loaded.stem));
        let declares = std::fs::read_to_string(&rule_file)
            .is_ok_and(|text| text.contains(&format!("code: \"{rule}\"")));
        if !declares {
            problems.push(format!(
                "{shown}: {} does not declare {rule}",
                rule_file.display()
            ));
        }
        if !loaded.file.cases.iter().any(|c| c.expect.fires) {
            problems.push(format!("{shown}: no positive case (`fires: true`)"));
        }
        if !loaded.file.cases.iter().any(is_negative) {
            problems.push(format!(
                "{shown}: no negative case (evaluated, `fires: false`)"
            ));
        }
        let mut names = BTreeSet::new();
        for case in &loaded.file.cases {
            if !names.insert(case.name.as_str()) {
                problems.push(format!("{shown}: two cases named {:?}", case.name));
            }
        }
    }
    for meta in catalog() {
        match seen.get(meta.code) {
            None => problems.push(format!("{} has no cases file", meta.code)),
            Some(path) if family_of_path(path) != Some(meta.family) => {
                problems.push(format!("{}: cases in the wrong family dir", path.display()))
            }
            Some(_) => {}
        }
    }
    let known: BTreeSet<&str> = catalog().iter().map(|m| m.code).collect();
    for rule in seen.keys().filter(|r| !known.contains(*r)) {
        problems.push(format!(
            "{}: no rule {rule} in the catalog",
            seen[rule].display()
        ));
    }
    assert!(problems.is_empty(), "cases files:\n{}", problems.join("\n"));
}

fn family_of_path(path: &Path) -> Option<Family> {
    family_of(path.parent()?.file_name()?.to_str()?)
}

#[test]
fn every_case_meets_its_expectation_then_matches_its_snapshot() {
    let files = load_all();
    let bases = base_records();
    let engine = Engine::builtin();
    let mut failures = Vec::new();
    let mut snapshots = Vec::new();
    let mut attempts = 0;
    for loaded in &files {
        let mut shown = Vec::new();
        for case in &loaded.file.cases {
            let mut at = format!("{} / {:?}", loaded.path.display(), case.name);
            if let Some(why) = &case.why {
                at.push_str(&format!(" ({why})"));
            }
            match run_case(loaded, case, &engine, &bases) {
                Ok(outcome) => {
                    attempts += outcome
                        .findings
                        .iter()
                        .filter(|f| is_attempt(&outcome, f))
                        .count();
                    for problem in judge(loaded, case, &outcome) {
                        failures.push(format!("{at}: {problem}"));
                    }
                    let mut entry = serde_json::json!({
                        "case": case.name,
                        "findings": outcome.findings,
                    });
                    if let Some(reason) = outcome.not_evaluated {
                        entry["not_evaluated"] = Value::String(reason);
                    }
                    shown.push(entry);
                }
                Err(problem) => failures.push(format!("{at}: {problem}")),
            }
        }
        snapshots.push((loaded, shown));
    }
    assert!(
        failures.is_empty(),
        "case expectations:\n{}",
        failures.join("\n")
    );
    assert!(
        attempts >= 10,
        "only {attempts} findings on refused calls checked"
    );
    for (loaded, shown) in snapshots {
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(loaded.path.with_file_name("snapshots"));
        settings.set_prepend_module_to_snapshot(false);
        settings.set_omit_expression(true);
        settings.bind(|| insta::assert_json_snapshot!(loaded.stem.clone(), shown));
    }
}

/// The expectation of one case, as a list of what did not hold.
fn judge(loaded: &Loaded, case: &Case, outcome: &Outcome) -> Vec<String> {
    let rule = loaded.file.rule.as_str();
    let expect = &case.expect;
    let mine: Vec<&Finding> = outcome
        .findings
        .iter()
        .filter(|f| f.rule_id == rule)
        .collect();
    let mut problems = Vec::new();
    if expect.not_evaluated != outcome.not_evaluated.is_some() {
        problems.push(format!(
            "expected not_evaluated = {}, got {:?}",
            expect.not_evaluated, outcome.not_evaluated
        ));
    }
    let fired = !mine.is_empty();
    if expect.fires != fired {
        let verb = if expect.fires { "fire" } else { "stay silent" };
        problems.push(format!(
            "{rule} should {verb}; it reported {} finding(s): {:?}",
            mine.len(),
            mine.iter().map(|f| &f.message).collect::<Vec<_>>()
        ));
    }
    if let Some(codes) = &expect.codes {
        let fired: BTreeSet<String> = outcome.findings.iter().map(|f| f.rule_id.clone()).collect();
        if &fired != codes {
            problems.push(format!(
                "expected codes {codes:?}, the run reported {fired:?}"
            ));
        }
    }
    if let Some(count) = expect.count {
        if mine.len() != count {
            problems.push(format!(
                "expected {count} {rule} finding(s), got {}",
                mine.len()
            ));
        }
    }
    if let Some(severity) = &expect.severity {
        for f in &mine {
            let got = serde_json::to_value(f.severity).unwrap_or_default();
            if got.as_str() != Some(severity.as_str()) {
                problems.push(format!(
                    "expected severity {severity}, got {got} ({})",
                    f.message
                ));
            }
        }
    }
    if let Some(principal) = &expect.principal {
        for f in &mine {
            let got = f.actor.as_ref().and_then(|a| a.arn.as_deref());
            if got != Some(principal.as_str()) {
                problems.push(format!("expected principal {principal}, got {got:?}"));
            }
        }
    }
    if let Some(resources) = &expect.resources {
        let got: Vec<String> = mine
            .iter()
            .map(|f| {
                f.resource
                    .as_ref()
                    .and_then(|r| r.name.clone())
                    .unwrap_or_default()
            })
            .collect();
        if &got != resources {
            problems.push(format!("expected resources {resources:?}, got {got:?}"));
        }
    }
    if loaded.family == Family::Cloudtrail {
        problems.extend(cloudtrail_invariants(outcome));
    }
    problems
}

/// Whether `f` reports a refused call: it is then an attempt with no fix actions, since nothing changed.
/// Burst findings are about the run of refusals itself, which did happen; they count them in `refused`.
fn is_attempt(outcome: &Outcome, f: &Finding) -> bool {
    let burst = f.evidence.iter().any(|e| e.path == "refused");
    let refused = f
        .event_id
        .as_ref()
        .is_some_and(|id| outcome.refused.contains(id));
    refused && !burst
}

/// What every built-in CloudTrail finding carries, and what a finding on a refused call may not claim.
fn cloudtrail_invariants(outcome: &Outcome) -> Vec<String> {
    let mut problems = Vec::new();
    for f in &outcome.findings {
        if f.event_id.is_none() || f.account.is_none() || f.actor.is_none() {
            problems.push(format!(
                "{}: a finding without event, account or actor",
                f.rule_id
            ));
        }
        if f.message.is_empty() || f.fix.summary.is_empty() || f.fix.kb_entry.is_none() {
            problems.push(format!(
                "{}: a finding without message, fix or kb entry",
                f.rule_id
            ));
        }
        if is_attempt(outcome, f) {
            if !f.title.starts_with("Attempted:") {
                problems.push(format!(
                    "{}: a refused call reads as done: {}",
                    f.rule_id, f.title
                ));
            }
            if !f.fix.actions.is_empty() {
                problems.push(format!("{}: an attempt carries fix actions", f.rule_id));
            }
        }
    }
    problems
}

fn run_case(
    loaded: &Loaded,
    case: &Case,
    engine: &Engine,
    bases: &BTreeMap<String, Value>,
) -> Result<Outcome, String> {
    let inputs = [
        case.records.is_some(),
        case.snapshot.is_some() || case.credential_report.is_some(),
        case.document.is_some() || case.text.is_some(),
    ];
    let wanted = match loaded.family {
        Family::Cloudtrail => 0,
        Family::Posture => 1,
        Family::Policy => 2,
    };
    if inputs
        .iter()
        .enumerate()
        .any(|(i, given)| *given != (i == wanted))
    {
        return Err(format!(
            "a {:?} case gives exactly its family's input (records | snapshot, credential_report | document, text)",
            loaded.family
        ));
    }
    match loaded.family {
        Family::Cloudtrail => run_cloudtrail(&loaded.file.rule, case, engine, bases),
        Family::Posture => run_posture(&loaded.file.rule, case),
        Family::Policy => run_policy(case),
    }
}

/// `src/rules/cloudtrail/base_records/<name>.json` by name.
fn base_records() -> BTreeMap<String, Value> {
    let dir = rules_dir().join("cloudtrail/base_records");
    let mut bases = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).expect("base_records lists") {
        let path = entry.expect("dir entry").path();
        let Some(name) = path.file_stem().and_then(|n| n.to_str()) else {
            continue;
        };
        let text = std::fs::read_to_string(&path).expect("base record reads");
        let value: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        bases.insert(name.to_owned(), value);
    }
    bases
}

/// JSON merge patch (RFC 7386): objects merge member by member, `null` removes, anything else replaces.
fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(members) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(into) = target {
        for (key, value) in members {
            if value.is_null() {
                into.remove(key);
            } else {
                merge_patch(into.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// A UUID-shaped event id, stable for a record's place in a named case.
fn event_id(rule: &str, case: &str, index: usize) -> String {
    let digest = hex::encode(Sha256::digest(format!("{rule}\n{case}\n{index}")));
    format!(
        "{}-{}-4{}-a{}-{}",
        &digest[..8],
        &digest[8..12],
        &digest[13..16],
        &digest[17..20],
        &digest[20..32]
    )
}

fn run_cloudtrail(
    rule: &str,
    case: &Case,
    engine: &Engine,
    bases: &BTreeMap<String, Value>,
) -> Result<Outcome, String> {
    let mut texts = Vec::new();
    let mut refused = BTreeSet::new();
    for spec in case.records.iter().flatten() {
        let base = bases
            .get(&spec.base)
            .ok_or_else(|| format!("no base record {:?}", spec.base))?;
        let mut record = base.clone();
        merge_patch(&mut record, &spec.patch);
        let own_id = spec.patch.get("eventID").is_some();
        for _ in 0..spec.repeat {
            if !own_id {
                record["eventID"] = Value::String(event_id(rule, &case.name, texts.len()));
            }
            if record.get("errorCode").is_some() {
                refused.insert(record["eventID"].as_str().unwrap_or_default().to_owned());
            }
            texts.push(serde_json::to_string(&record).map_err(|e| e.to_string())?);
        }
    }
    if texts.is_empty() {
        return Err("no records".to_owned());
    }
    let mut worker = engine.new_worker();
    for text in &texts {
        let raw: &serde_json::value::RawValue =
            serde_json::from_str(text).map_err(|e| e.to_string())?;
        let record = Record::from_raw(raw).map_err(|e| format!("not a CloudTrail record: {e}"))?;
        worker.visit(&record);
    }
    Ok(Outcome {
        findings: engine.finish(vec![worker]),
        not_evaluated: None,
        refused,
    })
}

const REPORT_COLUMNS: &[&str] = &[
    "user",
    "arn",
    "user_creation_time",
    "password_enabled",
    "password_last_used",
    "password_last_changed",
    "password_next_rotation",
    "mfa_active",
    "access_key_1_active",
    "access_key_1_last_rotated",
    "access_key_1_last_used_date",
    "access_key_1_last_used_region",
    "access_key_1_last_used_service",
    "access_key_2_active",
    "access_key_2_last_rotated",
    "access_key_2_last_used_date",
    "access_key_2_last_used_region",
    "access_key_2_last_used_service",
    "cert_1_active",
    "cert_1_last_rotated",
    "cert_2_active",
    "cert_2_last_rotated",
];

/// The credential report CSV of `rows`: a column a row leaves out reads as for a user created on
/// 2023-01-01 with no password, MFA, keys or certificates.
fn credential_report_csv(rows: &[BTreeMap<String, String>]) -> Result<String, String> {
    let mut csv = REPORT_COLUMNS.join(",");
    for row in rows {
        if let Some(unknown) = row.keys().find(|k| !REPORT_COLUMNS.contains(&k.as_str())) {
            return Err(format!("credential report has no column {unknown:?}"));
        }
        let user = row
            .get("user")
            .ok_or("a credential report row without `user`")?;
        let root = user == "<root_account>";
        let cells: Vec<String> = REPORT_COLUMNS
            .iter()
            .map(|column| match (row.get(*column), *column) {
                (Some(value), _) => value.clone(),
                (None, "arn") if root => format!("arn:aws:iam::{REPORT_ACCOUNT}:root"),
                (None, "arn") => format!("arn:aws:iam::{REPORT_ACCOUNT}:user/{user}"),
                (None, "user_creation_time") => "2023-01-01T00:00:00+00:00".to_owned(),
                (None, "password_enabled") if root => "not_supported".to_owned(),
                (None, c) if c.ends_with("_active") || c == "password_enabled" => {
                    "false".to_owned()
                }
                (None, _) => "N/A".to_owned(),
            })
            .collect();
        csv.push('\n');
        csv.push_str(&cells.join(","));
    }
    csv.push('\n');
    Ok(csv)
}

fn run_posture(rule: &str, case: &Case) -> Result<Outcome, String> {
    let check = CHECKS
        .iter()
        .find(|c| c.meta.code == rule)
        .ok_or_else(|| format!("no posture check {rule}"))?;
    let mut raw = RawSnapshot::default();
    for (name, value) in case.snapshot.iter().flatten() {
        match value {
            Value::String(text) => {
                raw.files.insert(name.clone(), text.clone());
            }
            value => raw.insert_json(name.clone(), value),
        }
    }
    if let Some(rows) = &case.credential_report {
        raw.files.insert(
            CREDENTIAL_REPORT_CSV.to_owned(),
            credential_report_csv(rows)?,
        );
    }
    let snapshot = AccountSnapshot::from_raw(&raw);
    let now_text = case.now.as_deref().unwrap_or(POSTURE_NOW);
    let now = chrono::DateTime::parse_from_rfc3339(now_text)
        .map_err(|e| format!("now {now_text:?}: {e}"))?
        .with_timezone(&chrono::Utc);
    let ctx = PostureContext::new(&snapshot, Some(now));
    let report = (check.check)(&ctx);
    Ok(Outcome {
        not_evaluated: report.not_evaluated_reason().map(str::to_owned),
        findings: report.into_findings(),
        refused: BTreeSet::new(),
    })
}

fn run_policy(case: &Case) -> Result<Outcome, String> {
    let text = match (&case.text, &case.document) {
        (Some(text), None) => text.clone(),
        (None, Some(document)) => {
            serde_json::to_string_pretty(document).map_err(|e| e.to_string())?
        }
        _ => return Err("a policy case gives `document` or `text`, not both".to_owned()),
    };
    Ok(Outcome {
        findings: check_text("policy.json", &text, VersionSelection::All).findings,
        not_evaluated: None,
        refused: BTreeSet::new(),
    })
}
