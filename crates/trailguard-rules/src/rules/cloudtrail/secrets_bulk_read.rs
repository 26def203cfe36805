//! CT057 secrets-bulk-read: one principal reading the values of many secrets (Secrets Manager) or
//! SecureString parameters (Systems Manager, with decryption) in a short time. A sequence rule.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use trailguard_event::Record;

use super::burst::{
    counted, run_finding, BurstFold, RunCalls, RunOutline, LIST_CAP, NAMES_PER_RUN,
};
use super::common::{
    call_failed, caller_key, describe_caller, evidence, flag_set, long_term_key, made_by_aws,
    member_either_case, request_field,
};
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{fold_all, Observation, Observed, Report, SequenceFold, SequenceRule};
use crate::Finding;

pub const META: RuleMeta = RuleMeta {
    code: "CT057",
    name: "secrets-bulk-read",
    title: "Bulk read of secrets",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1555.006", "T1552"],
    compliance: &[],
    events: &[
        ("secretsmanager.amazonaws.com", "GetSecretValue"),
        ("secretsmanager.amazonaws.com", "BatchGetSecretValue"),
        ("ssm.amazonaws.com", "GetParameter"),
        ("ssm.amazonaws.com", "GetParameters"),
        ("ssm.amazonaws.com", "GetParametersByPath"),
    ],
    kb_entries: &[],
    doc: RuleDoc {
        what: "One principal reading the values of at least 10 distinct secrets (Secrets Manager \
               `GetSecretValue`, `BatchGetSecretValue` by id) or SecureString parameters (Systems Manager \
               `GetParameter`/`GetParameters` with `withDecryption`) within 10 minutes, or bulk reads of at \
               least 3 different filters or paths in that time (`BatchGetSecretValue` by `filters`, \
               `GetParametersByPath` with decryption: they name no secret and return every match, a page at \
               a time); with a long-term IAM user access key (`AKIA…`), 3 bulk reads of the same one. A single \
               catch-all read is a burst of its own: `BatchGetSecretValue` whose every filter value is \
               negated (`!…`: every secret without that tag or name, which Stratus Red Team and intruders \
               use to read them all), or `GetParametersByPath` on `/` with `recursive` (every parameter). \
               One finding per burst with the secrets named. **medium**; **high** with 25 or more secrets, 5 or \
               more filters or paths, or a long-term key as the caller's credential. Refused calls \
               are left to CT034; plain `String` parameters (read without decryption) and calls AWS services \
               make on a principal's behalf (`invokedBy`, such as CloudFormation resolving a dynamic \
               reference) are not counted.",
        why: "An application reads the few secrets it was built for, the same ones every time. Reading many \
              distinct secrets, or paging through every secret that matches a filter, is an intruder with \
              stolen credentials harvesting the credentials the account stores (ATT&CK T1555.006; Stratus Red \
              Team's `secretsmanager-retrieve-secrets`, `secretsmanager-batch-retrieve-secrets` and \
              `ssm-retrieve-securestring-parameters`). Each secret read opens whatever it protects: \
              databases, third-party APIs, other clouds.",
        example: "An IAM user's access key reads 20 secrets with `GetSecretValue` within a minute, after one \
                  `ListSecrets`.",
        fix: "Find out who the principal is and why it reads so many secrets. If it is not expected, revoke its \
              credentials, rotate every secret and parameter it read (each one is exposed), and narrow \
              `secretsmanager:GetSecretValue`, `ssm:GetParameter*` and `kms:Decrypt` to the secrets each \
              workload needs.",
        references: &[
            "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html",
            "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_BatchGetSecretValue.html",
            "https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameters.html",
            "https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParametersByPath.html",
            "https://stratus-red-team.cloud/attack-techniques/AWS/aws.credential-access.secretsmanager-retrieve-secrets/",
            "https://stratus-red-team.cloud/attack-techniques/AWS/aws.credential-access.ssm-retrieve-securestring-parameters/",
        ],
    },
};

/// The window every count is taken over.
const WINDOW_MS: i64 = 10 * 60 * 1000;
/// Distinct secrets or parameters read within the window that make a burst.
const DISTINCT_SECRETS: usize = 10;
/// Different filters or paths read in bulk within the window that make a burst (the same one read that
/// often, with a long-term key).
const BULK_READS: usize = 3;
/// A burst reaching either of these is high.
const HIGH_SECRETS: usize = 25;
const HIGH_BULK_READS: usize = 5;

/// `kind` bits of an observation.
const BULK: u8 = 0x01;
const LONG_TERM_KEY: u8 = 0x02;
/// The call named several secrets (its subject is a list).
const LISTED: u8 = 0x04;
/// A bulk read that selects every secret or parameter ([`Read::Bulk`]).
const CATCH_ALL: u8 = 0x08;

/// Bulk reads of secrets and SecureString parameters.
#[derive(Debug, Default)]
pub struct SecretsBulkRead;

/// What one call read.
enum Read<'r> {
    /// One secret or parameter, by name (borrowed from the record when it can be).
    One(Cow<'r, str>),
    /// Several, by name.
    Listed(Vec<String>),
    /// Every match of a filter or path (described), and whether that is everything
    /// ([`filters_select_everything`], [`walks_every_parameter`]).
    Bulk(String, bool),
}

/// Whether `GetParametersByPath` walks every parameter: the root path `/` with `recursive`.
fn walks_every_parameter(params: &Value) -> bool {
    flag_set(params.get("recursive")) && params.get("path").and_then(Value::as_str) == Some("/")
}

/// Whether `BatchGetSecretValue` filters select every secret: filters (values within a filter are
/// alternatives, filters all apply) that only exclude, each value negated with `!`, as Secrets Manager's
/// filter syntax allows.
fn filters_select_everything(params: &Value) -> bool {
    let Some(filters) = params.get("filters").and_then(Value::as_array) else {
        return false;
    };
    let only_excludes = |filter: &Value| {
        member_either_case(Some(filter), "values")
            .and_then(Value::as_array)
            .is_some_and(|values| {
                !values.is_empty()
                    && values
                        .iter()
                        .all(|v| v.as_str().is_some_and(|v| v.starts_with('!')))
            })
    };
    !filters.is_empty() && filters.iter().all(only_excludes)
}

/// The few `requestParameters` a single-name read carries, read without building the whole object
/// (most reads are one `GetSecretValue` or `GetParameter`). Any surprise (a repeated key, say) and the
/// caller reads the parsed object instead.
#[derive(Deserialize)]
struct OneNameParams<'r> {
    #[serde(borrow, rename = "secretId")]
    secret_id: Option<&'r RawValue>,
    #[serde(borrow)]
    name: Option<&'r RawValue>,
    #[serde(rename = "withDecryption")]
    with_decryption: Option<Value>,
}

/// A JSON string's value, borrowed when it holds no escape; `None` for any other JSON.
fn string_of(raw: &RawValue) -> Option<Cow<'_, str>> {
    serde_json::from_str(raw.get()).ok()
}

/// Whether the call asked for decrypted values (`withDecryption`). Systems Manager returns SecureString
/// values decrypted only when asked.
fn decrypts(with_decryption: Option<&Value>) -> bool {
    flag_set(with_decryption)
}

fn secrets_read<'r>(record: &'r Record<'r>) -> Option<Read<'r>> {
    let one_name = match (record.event_source.as_ref(), record.event_name.as_ref()) {
        ("secretsmanager.amazonaws.com", "GetSecretValue") => Some(true),
        ("ssm.amazonaws.com", "GetParameter") => Some(false),
        _ => None,
    };
    if let (Some(secrets_manager), Some(raw)) = (one_name, record.request_parameters) {
        if let Ok(params) = serde_json::from_str::<OneNameParams<'r>>(raw.get()) {
            let name = if secrets_manager {
                params.secret_id
            } else if decrypts(params.with_decryption.as_ref()) {
                params.name
            } else {
                return None;
            };
            return name.and_then(string_of).map(Read::One);
        }
    }
    let params = record.request_parameters()?;
    let one = |key: &str| request_field(Some(&params), key).map(|name| Read::One(name.into()));
    let list = |key: &str| -> Vec<String> {
        params
            .get(key)
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let decrypted = decrypts(params.get("withDecryption"));
    match (record.event_source.as_ref(), record.event_name.as_ref()) {
        ("secretsmanager.amazonaws.com", "GetSecretValue") => one("secretId"),
        ("secretsmanager.amazonaws.com", "BatchGetSecretValue") => {
            let named = list("secretIdList");
            if named.is_empty() {
                let filters = params
                    .get("filters")
                    .map(|f| f.to_string())
                    .unwrap_or_default();
                let everything = filters_select_everything(&params);
                Some(Read::Bulk(format!("filters {filters}"), everything))
            } else {
                Some(Read::Listed(named))
            }
        }
        ("ssm.amazonaws.com", "GetParameter") if decrypted => one("name"),
        ("ssm.amazonaws.com", "GetParameters") if decrypted => Some(Read::Listed(list("names"))),
        ("ssm.amazonaws.com", "GetParametersByPath") if decrypted => {
            let path = request_field(Some(&params), "path").unwrap_or_default();
            let everything = walks_every_parameter(&params);
            Some(Read::Bulk(format!("path {path}"), everything))
        }
        _ => None,
    }
}

/// A call's `subject`: the name it read as it is, or a JSON array of the names (for a list, and for a
/// lone name that is empty or starts with `[`, so the two cannot be mistaken).
fn subject_of(read: Read<'_>) -> Option<Cow<'_, str>> {
    match read {
        Read::One(name) if !name.is_empty() && !name.starts_with('[') => Some(name),
        Read::One(name) => serde_json::to_string(&[name]).ok().map(Cow::Owned),
        Read::Listed(names) if names.is_empty() => None,
        Read::Listed(names) => serde_json::to_string(&names).ok().map(Cow::Owned),
        Read::Bulk(..) => Some(Cow::Borrowed("")),
    }
}

/// The names a call's `subject` holds ([`subject_of`]).
fn names_in(subject: &str) -> Vec<String> {
    if subject.starts_with('[') {
        serde_json::from_str(subject).unwrap_or_default()
    } else {
        vec![subject.to_owned()]
    }
}

impl SequenceRule for SecretsBulkRead {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn reach_ms(&self) -> Option<i64> {
        Some(WINDOW_MS)
    }

    /// `observe` reads names, identity, outcome and request parameters: a typed peek serves it.
    fn typed_fields_only(&self) -> bool {
        true
    }

    fn observe<'r>(&self, record: &'r Record<'r>) -> Option<Observed<'r>> {
        if call_failed(record) {
            return None;
        }
        if made_by_aws(record) {
            return None;
        }
        let read = secrets_read(record)?;
        let (mut kind, detail) = match &read {
            Read::Bulk(what, everything) => (
                if *everything { BULK | CATCH_ALL } else { BULK },
                what.clone(),
            ),
            Read::Listed(_) => (LISTED, String::new()),
            Read::One(_) => (0, String::new()),
        };
        if long_term_key(record).is_some() {
            kind |= LONG_TERM_KEY;
        }
        // One name as it is, several as a JSON array: any text a name holds survives the round trip.
        let subject = subject_of(read)?;
        Observed::new(record, kind, 0, caller_key(record), subject, detail)
    }

    /// Folded as the calls come: per principal, runs of calls and a few bytes per call, never the
    /// calls' events ([`BurstFold`]); each run is judged by [`judge`] at the end.
    fn fold(&self) -> Option<Box<dyn SequenceFold>> {
        Some(Box::new(BurstFold::judged_by(
            &META,
            WINDOW_MS,
            could_be_burst,
            judge,
        )))
    }

    /// The engine folds instead ([`SequenceRule::fold`]); this runs the same fold over a slice.
    fn evaluate(&self, observations: &[Observation], out: &mut Report) {
        let fold = BurstFold::judged_by(&META, WINDOW_MS, could_be_burst, judge);
        let _limit = fold_all(Box::new(fold), observations, out);
    }
}

/// The calls of the last [`WINDOW_MS`]: how many times each secret and each bulk target was read
/// (secrets and targets as the run's small integers), and how many distinct ones that makes.
#[derive(Default)]
struct Window {
    calls: VecDeque<(i64, u32, Option<u32>)>,
    secrets: Tally,
    targets: Tally,
    bulk_calls: usize,
}

/// Reads per small integer, and how many integers are read at least once.
#[derive(Default)]
struct Tally {
    counts: Vec<u32>,
    distinct: usize,
}

impl Tally {
    fn add(&mut self, key: u32) {
        let key = key as usize;
        if key >= self.counts.len() {
            self.counts.resize(key + 1, 0);
        }
        self.distinct += usize::from(self.counts[key] == 0);
        self.counts[key] += 1;
    }

    fn forget(&mut self, key: u32) {
        if let Some(n) = self.counts.get_mut(key as usize).filter(|n| **n > 0) {
            *n -= 1;
            self.distinct -= usize::from(*n == 0);
        }
    }
}

impl Window {
    /// Forgets the calls more than the window before `at`.
    fn slide_to(&mut self, at: i64, names: &[Option<Vec<u32>>]) {
        while self
            .calls
            .front()
            .is_some_and(|(t, _, _)| at - t > WINDOW_MS)
        {
            let Some((_, subject, target)) = self.calls.pop_front() else {
                break;
            };
            for name in names.get(subject as usize).into_iter().flatten().flatten() {
                self.secrets.forget(*name);
            }
            if let Some(target) = target {
                self.targets.forget(target);
                self.bulk_calls -= 1;
            }
        }
    }

    fn add(&mut self, at: i64, subject: u32, names: &[u32], target: Option<u32>) {
        for name in names {
            self.secrets.add(*name);
        }
        if let Some(target) = target {
            self.targets.add(target);
            self.bulk_calls += 1;
        }
        self.calls.push_back((at, subject, target));
    }
}

/// Whether a run could read enough for [`judge`]: it read a list or in bulk, or it read one secret at a
/// time and named enough of them (a lone name is one secret, so fewer subjects are fewer secrets).
fn could_be_burst(run: &RunOutline) -> bool {
    run.kinds & (BULK | LISTED) != 0 || run.subjects >= DISTINCT_SECRETS
}

/// The finding for one principal's run of reads, when some window of it read enough.
fn judge(run: &RunCalls<'_>) -> Option<Finding> {
    // Each distinct subject (one name or a list: `subject_of`) read once, its names numbered: the
    // list of subject `i` is `names[i]`, `None` until read (a subject over the run's limit has none,
    // and is reported).
    let mut numbers: HashMap<String, u32> = HashMap::new();
    let mut names: Vec<Option<Vec<u32>>> = Vec::new();
    for call in &run.calls {
        let (Some(subject), i) = (call.subject, call.subject_index as usize) else {
            continue;
        };
        if i >= names.len() {
            names.resize(i + 1, None);
        }
        if names[i].is_some() {
            continue;
        }
        names[i] = Some(
            names_in(subject)
                .into_iter()
                .map(|name| {
                    let next = numbers.len() as u32;
                    *numbers.entry(name).or_insert(next)
                })
                .collect(),
        );
    }
    let secrets: BTreeSet<&str> = numbers.keys().map(String::as_str).collect();

    let mut window = Window::default();
    let (mut peak_secrets, mut peak_targets, mut peak_bulk_calls) = (0, 0, 0);
    let mut long_term_key = false;
    let mut catch_all = false;
    let mut bulk_reads: BTreeMap<&str, u64> = BTreeMap::new();
    for call in &run.calls {
        long_term_key |= call.kind & LONG_TERM_KEY != 0;
        catch_all |= call.kind & CATCH_ALL != 0;
        window.slide_to(call.at, &names);
        // Targets past the run's limit of names count as one more.
        let target = (call.kind & BULK != 0).then_some(match call.detail {
            Some(_) => call.detail_index,
            None => NAMES_PER_RUN as u32,
        });
        if let (Some(detail), true) = (call.detail, target.is_some()) {
            *bulk_reads.entry(detail).or_default() += 1;
        }
        let listed = names
            .get(call.subject_index as usize)
            .and_then(Option::as_deref)
            .unwrap_or_default();
        window.add(call.at, call.subject_index, listed, target);
        peak_secrets = peak_secrets.max(window.secrets.distinct);
        peak_targets = peak_targets.max(window.targets.distinct);
        peak_bulk_calls = peak_bulk_calls.max(window.bulk_calls);
    }
    // The same filter or path read again is an application reloading what it always reads (a
    // function's cold starts); a person's long-term key paging through one is not.
    let burst = catch_all
        || peak_secrets >= DISTINCT_SECRETS
        || peak_targets >= BULK_READS
        || (long_term_key && peak_bulk_calls >= BULK_READS);
    if !burst {
        return None;
    }
    let calls = run.calls.len();
    let bulk_count: u64 = bulk_reads.values().sum();
    let severity =
        if peak_secrets >= HIGH_SECRETS || peak_targets >= HIGH_BULK_READS || long_term_key {
            Severity::High
        } else {
            META.severity
        };
    let event = &run.first.event;
    let mut finding = run_finding(&META, run.first, severity);
    let shown: Vec<&str> = secrets.iter().copied().take(LIST_CAP).collect();
    let more = secrets.len().saturating_sub(shown.len());
    let mut read = Vec::new();
    if !secrets.is_empty() {
        read.push(format!(
            "{} secret(s) or parameter(s) by name",
            secrets.len()
        ));
    }
    if bulk_count > 0 {
        read.push(format!("{bulk_count} bulk read(s) by filter or path"));
    }
    finding.message = format!(
        "{} read {} in {} call(s) between {} and {}{}{}.",
        describe_caller(event),
        read.join(" and "),
        calls,
        event.event_time,
        run.last_time,
        if catch_all {
            ", with a selection that matches every secret or parameter"
        } else {
            ""
        },
        if long_term_key {
            ", with a long-term access key"
        } else {
            ""
        }
    );
    finding.evidence.push(evidence("calls", calls));
    finding.evidence.push(evidence("secrets", secrets.len()));
    if catch_all {
        finding.evidence.push(evidence("catchAllSelection", true));
    }
    let mut listed: Vec<String> = shown.into_iter().map(str::to_owned).collect();
    if more > 0 {
        listed.push(format!("{more} more"));
    }
    finding.evidence.push(evidence("secretNames", listed));
    if bulk_count > 0 {
        let reads: Vec<String> = counted(&bulk_reads).collect();
        finding.evidence.push(evidence("bulkReads", reads));
    }
    finding.fix.summary =
        "Find out why this principal reads so many secrets; if unexpected, revoke \
                           its credentials and rotate every secret and parameter it read."
            .to_owned();
    Some(finding)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{run_sequence, TestEvent, IAM_USER};

    const ROLE: &str = r#"{"type":"AssumedRole","principalId":"AROAEXAMPLE:app","arn":"arn:aws:sts::229654561268:assumed-role/app/app","accountId":"229654561268","accessKeyId":"ASIAEXAMPLE00000001","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAEXAMPLE","arn":"arn:aws:iam::229654561268:role/app","accountId":"229654561268","userName":"app"},"attributes":{"creationDate":"2024-08-01T13:00:00Z","mfaAuthenticated":"false"}}}"#;

    fn get_secret(i: usize, second: usize) -> TestEvent {
        TestEvent::new("secretsmanager.amazonaws.com", "GetSecretValue")
            .identity(ROLE)
            .request(&format!(
                r#"{{"secretId":"arn:aws:secretsmanager:us-east-1:229654561268:secret:db-{i}-AbCdEf"}}"#
            ))
            .read_only(true)
            .time(&format!("2024-08-01T13:{:02}:{:02}Z", second / 60, second % 60))
            .id(&format!("gsv-{i}-{second}"))
    }

    fn run(events: &[TestEvent]) -> Vec<Finding> {
        run_sequence(Box::new(SecretsBulkRead), events)
    }

    #[test]
    fn ten_distinct_secrets_in_a_window_are_one_medium_burst() {
        let events: Vec<_> = (0..10).map(|i| get_secret(i, i * 20)).collect();
        let findings = run(&events);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert_eq!(findings[0].severity, Severity::Medium);
        assert!(
            findings[0].message.contains("10 secret(s)"),
            "{}",
            findings[0].message
        );
        // Nine, or the same secret read again and again, is what applications do.
        assert!(run(&events[..9]).is_empty());
        let same: Vec<_> = (0..30)
            .map(|i| get_secret(1, i * 10).id(&format!("same-{i}")))
            .collect();
        assert!(run(&same).is_empty());
    }

    /// Workers read files in any order and in parallel: the fold, fed shuffled and dealt to two workers
    /// (with repeats), finds what one walk in time order finds. Secrets read in waves (more than the few
    /// names a run scans before it keeps a map), some named twice in one `GetParameters` call.
    #[test]
    fn the_fold_finds_the_same_whatever_the_order_and_the_workers() {
        use crate::rules::cloudtrail::common::testing::{fold_dealt_to_two, with_record};
        let mut events: Vec<TestEvent> = Vec::new();
        for wave in 0..3usize {
            for i in 0..12 + wave * 5 {
                // Waves twenty minutes apart (more than the window between them); within one, a read
                // every twenty seconds.
                let second = wave * 1200 + i * 20;
                events.push(get_secret(i % (10 + wave * 3), second));
            }
            let names = format!(
                r#"{{"names":["/app/p{wave}","/app/p{wave}","/app/q"],"withDecryption":true}}"#
            );
            events.push(
                TestEvent::new("ssm.amazonaws.com", "GetParameters")
                    .identity(ROLE)
                    .request(&names)
                    .time(&format!("2024-08-01T13:{:02}:30Z", wave * 20 + 1))
                    .id(&format!("gp-{wave}")),
            );
        }
        let in_order = run(&events);
        assert_eq!(in_order.len(), 3, "each wave a burst: {in_order:#?}");

        let observe = |e: &TestEvent| {
            with_record(&e.json(), |r| {
                SecretsBulkRead.observe(r).map(Observed::into_observation)
            })
        };
        let mut calls: Vec<Observation> = events.iter().filter_map(observe).collect();
        calls.extend(events.iter().step_by(7).filter_map(observe));
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        for i in (1..calls.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            calls.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let (report, limit) = fold_dealt_to_two(calls, || {
            Box::new(BurstFold::judged_by(
                &META,
                WINDOW_MS,
                could_be_burst,
                judge,
            ))
        });
        assert_eq!(limit, None);
        let key = |f: &Finding| {
            (
                f.id.clone(),
                f.severity,
                f.message.clone(),
                f.evidence.clone(),
            )
        };
        let mut folded: Vec<_> = report.findings().iter().map(key).collect();
        let mut walked: Vec<_> = in_order.iter().map(key).collect();
        folded.sort_by(|a, b| a.0.cmp(&b.0));
        walked.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(folded, walked);
    }

    /// The outline screen passes over only runs that cannot read ten secrets nor read in bulk: nine
    /// names one at a time, however often; a list or a bulk read is always judged.
    #[test]
    fn runs_that_cannot_be_bursts_are_passed_over_unjudged() {
        let outline = |subjects, kinds| RunOutline { subjects, kinds };
        assert!(!could_be_burst(&outline(
            DISTINCT_SECRETS - 1,
            LONG_TERM_KEY
        )));
        assert!(could_be_burst(&outline(DISTINCT_SECRETS, 0)));
        assert!(could_be_burst(&outline(1, LISTED)));
        assert!(could_be_burst(&outline(0, BULK)));
        // Nine secrets read one at a time and then the same nine again: never ten, as judged in full.
        let nine: Vec<_> = (0..18).map(|i| get_secret(i % 9, i)).collect();
        assert!(run(&nine).is_empty());
    }

    #[test]
    fn the_count_is_per_window_not_per_run() {
        // One new secret every two minutes: never ten within ten minutes, though one long run.
        let trickle: Vec<_> = (0..30).map(|i| get_secret(i, i * 120)).collect();
        assert!(run(&trickle).is_empty());
    }

    #[test]
    fn a_long_term_key_many_secrets_or_many_bulk_reads_are_high() {
        let keyed: Vec<_> = (0..10)
            .map(|i| get_secret(i, i).identity(IAM_USER))
            .collect();
        assert_eq!(run(&keyed)[0].severity, Severity::High);
        let many: Vec<_> = (0..25).map(|i| get_secret(i, i)).collect();
        assert_eq!(run(&many)[0].severity, Severity::High);
        let batch = |n: usize, tag: usize| {
            TestEvent::new("secretsmanager.amazonaws.com", "BatchGetSecretValue")
                .identity(ROLE)
                .request(&format!(
                    r#"{{"filters":[{{"key":"tag-key","values":["team-{tag}"]}}]}}"#
                ))
                .time(&format!("2024-08-01T13:00:{n:02}Z"))
                .id(&format!("batch-{n}"))
        };
        let three: Vec<_> = (0..3).map(|n| batch(n, n)).collect();
        assert_eq!(run(&three)[0].severity, Severity::Medium);
        assert!(run(&three[..2]).is_empty());
        let five: Vec<_> = (0..5).map(|n| batch(n, n)).collect();
        assert_eq!(run(&five)[0].severity, Severity::High);
        // The same filter again and again: an application reloading (cold starts), unless a person's
        // long-term key pages through it.
        let same: Vec<_> = (0..5).map(|n| batch(n, 0)).collect();
        assert!(run(&same).is_empty());
        let keyed: Vec<_> = same.into_iter().map(|e| e.identity(IAM_USER)).collect();
        assert_eq!(run(&keyed)[0].severity, Severity::High);
    }

    #[test]
    fn parameters_count_only_when_decrypted_and_refusals_and_services_not_at_all() {
        let params = |decrypt: bool| {
            let names: Vec<String> = (0..12)
                .map(|i| format!("\"/prod/db/password-{i}\""))
                .collect();
            TestEvent::new("ssm.amazonaws.com", "GetParameters")
                .identity(ROLE)
                .request(&format!(
                    r#"{{"names":[{}],"withDecryption":{decrypt}}}"#,
                    names.join(",")
                ))
                .read_only(true)
        };
        let findings = run(&[params(true)]);
        assert_eq!(findings.len(), 1);
        assert!(
            findings[0].message.contains("12 secret(s)"),
            "{}",
            findings[0].message
        );
        assert!(run(&[params(false)]).is_empty());
        let refused: Vec<_> = (0..12).map(|i| get_secret(i, i).denied()).collect();
        assert!(run(&refused).is_empty());
        let resolved: Vec<_> = (0..12)
            .map(|i| {
                get_secret(i, i).identity(
                    r#"{"type":"AssumedRole","arn":"arn:aws:sts::229654561268:assumed-role/deployer/cfn","accountId":"229654561268","invokedBy":"cloudformation.amazonaws.com"}"#,
                )
            })
            .collect();
        assert!(run(&resolved).is_empty());
    }

    /// A call's subject is one name as it is, or a JSON array: a lone name that is empty or could be
    /// read as an array is written as an array, so every subject reads back as the names the call read.
    #[test]
    fn a_subject_reads_back_as_the_names_the_call_read() {
        let plain = subject_of(Read::One(Cow::Borrowed("db-1"))).unwrap();
        assert!(matches!(plain, Cow::Borrowed("db-1")));
        for name in ["db-1", "", "[\"a\",\"b\"]", "[", "a\"b"] {
            let subject = subject_of(Read::One(Cow::Owned(name.to_owned()))).unwrap();
            assert_eq!(names_in(&subject), vec![name.to_owned()], "{subject}");
        }
        let listed = vec!["a".to_owned(), "[b]".to_owned()];
        let subject = subject_of(Read::Listed(listed.clone())).unwrap();
        assert_eq!(names_in(&subject), listed);
        assert!(subject_of(Read::Listed(Vec::new())).is_none());
    }

    /// The quick read of a single-name call's parameters agrees with the parsed object, and hands over
    /// to it when it cannot settle (a repeated key: the parsed object keeps the last one).
    #[test]
    fn single_name_reads_agree_with_the_parsed_parameters() {
        use crate::rules::cloudtrail::common::testing::with_record;
        let read = |source: &str, name: &str, params: &str| -> Option<Vec<String>> {
            let event = TestEvent::new(source, name).identity(ROLE).request(params);
            with_record(&event.json(), |record| {
                secrets_read(record)
                    .and_then(subject_of)
                    .map(|subject| names_in(&subject))
            })
        };
        let sm = "secretsmanager.amazonaws.com";
        let ssm = "ssm.amazonaws.com";
        let one = |name: &str| Some(vec![name.to_owned()]);
        assert_eq!(
            read(sm, "GetSecretValue", r#"{"secretId":"db-1"}"#),
            one("db-1")
        );
        assert_eq!(
            read(sm, "GetSecretValue", r#"{"secretId":"d\u0062-1"}"#),
            one("db-1")
        );
        assert_eq!(
            read(sm, "GetSecretValue", r#"{"secretId":"a","secretId":"b"}"#),
            one("b")
        );
        assert_eq!(read(sm, "GetSecretValue", r#"{"secretId":7}"#), None);
        assert_eq!(
            read(sm, "GetSecretValue", r#"{"versionStage":"AWSCURRENT"}"#),
            None
        );
        let decrypted = r#"{"name":"/prod/db","withDecryption":true}"#;
        assert_eq!(read(ssm, "GetParameter", decrypted), one("/prod/db"));
        let as_text = r#"{"name":"/prod/db","withDecryption":"true"}"#;
        assert_eq!(read(ssm, "GetParameter", as_text), one("/prod/db"));
        let plain = r#"{"name":"/prod/db","withDecryption":false}"#;
        assert_eq!(read(ssm, "GetParameter", plain), None);
        assert_eq!(read(ssm, "GetParameter", r#"{"name":"/prod/db"}"#), None);
    }
}
