//! What principals did, from CloudTrail: the (principal, action, resource) triples of their calls, in one
//! pass over the logs for every principal at once, and the least-privilege policy those triples call for.
//!
//! - A call is mapped to its IAM permissions by [`trailguard_policy::event_actions`]; an event that maps
//!   to nothing is kept in [`Usage::unmapped`] with its reason and count, never dropped.
//! - Successful calls go to [`PrincipalUsage::allowed`], access-denied ones to [`PrincipalUsage::denied`]
//!   ("asked for, denied"); other failures are counted only (the call did not show a need).
//! - The principal is the IAM identity that holds the policies: a role session counts for its role
//!   (`sessionIssuer.arn`), so sessions are matched across; with `per_session` the session name is kept
//!   apart. Calls with no principal of the account (AWS services acting on their own) are counted only.
//! - The resource is the ARN the permission was checked against, when the action supports resource-level
//!   permissions (the catalog's resource types): an ARN among the top-level request parameters that fits
//!   the resource type, else the type's ARN template filled from the record (partition, region, account,
//!   and request parameters named like the template's variables). A value holding a wildcard character
//!   never fills a template (every string in a record is attacker-controlled). Otherwise `*`. A role or user
//!   name fills `${RoleNameWithPath}` without its path: narrowed ARNs assume the default path `/`.
//! - Memory is bounded by the distinct triples, principals and events, not by the number of records.
//! - [`Usage::window`] is the span of `eventTime` the kept records cover; every result states it.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use trailguard_event::peek::{peek_value, RawRecord};
use trailguard_event::{
    parse_event_time, scan, Observer, Record, RecordVisitor, ScanError, ScanOptions, ScanStats,
};
use trailguard_policy::catalog::{ActionId, Catalog};
use trailguard_policy::event_actions::{EventActions, Mapping, SERVICE_EVENT_TYPE};
use trailguard_policy::glob::glob_match;

/// Who made calls: the identity whose policies decide them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PrincipalKey {
    /// The user's, role's, root's or federated user's ARN.
    pub arn: String,
    /// The role session name, only when sessions are split.
    pub session: Option<String>,
}

/// One permission on one resource (`*` when it has no resource-level permission).
pub type Triple = (ActionId, Box<str>);

/// What one principal did in the window.
#[derive(Debug, Clone, Default)]
pub struct PrincipalUsage {
    /// Successful calls: permission and resource → how many times.
    pub allowed: HashMap<Triple, u64>,
    /// Calls refused for want of permission.
    pub denied: HashMap<Triple, u64>,
    /// Calls that failed for another reason (not a need, not a refusal).
    pub other_failures: u64,
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
}

impl PrincipalUsage {
    /// Adds another part of the same principal's usage (another worker's, another session's).
    pub fn add(&mut self, other: &PrincipalUsage) {
        for (t, n) in &other.allowed {
            *self.allowed.entry(t.clone()).or_default() += n;
        }
        for (t, n) in &other.denied {
            *self.denied.entry(t.clone()).or_default() += n;
        }
        self.other_failures += other.other_failures;
        self.first_seen = min_some(self.first_seen, other.first_seen);
        self.last_seen = max_some(self.last_seen, other.last_seen);
    }
}

/// An event that maps to no permission, as reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnmappedEvent {
    pub reason: String,
    pub count: u64,
}

/// Everything collected in one pass.
#[derive(Debug, Clone, Default)]
pub struct Usage {
    pub principals: BTreeMap<PrincipalKey, PrincipalUsage>,
    /// `(eventSource, eventName)` → why it maps to nothing.
    pub unmapped: BTreeMap<(String, String), UnmappedEvent>,
    /// Records with no principal of an account (AWS services acting on their own).
    pub service_calls: u64,
    /// Earliest and latest `eventTime` of the records seen.
    pub window: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

/// How many whole days a window covers, at least 1: "unused in the 17 days these logs cover".
pub fn window_days(window: Option<(DateTime<Utc>, DateTime<Utc>)>) -> i64 {
    window
        .map_or(0, |(from, to)| ((to - from).num_hours() + 23) / 24)
        .max(1)
}

/// Error codes that mean the caller lacked permission.
fn is_denial(code: &str) -> bool {
    code.contains("AccessDenied")
        || code.contains("Unauthorized")
        || code.contains("Forbidden")
        || code == "NotAuthorized"
}

fn widen(
    window: &mut Option<(DateTime<Utc>, DateTime<Utc>)>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) {
    *window = Some(match *window {
        Some((a, b)) => (a.min(from), b.max(to)),
        None => (from, to),
    });
}

impl Usage {
    /// Folds another worker's usage into this one.
    pub fn merge(&mut self, other: Usage) {
        for (key, theirs) in other.principals {
            self.principals.entry(key).or_default().add(&theirs);
        }
        for (key, event) in other.unmapped {
            self.unmapped
                .entry(key)
                .and_modify(|e| e.count += event.count)
                .or_insert(event);
        }
        self.service_calls += other.service_calls;
        if let Some((from, to)) = other.window {
            widen(&mut self.window, from, to);
        }
    }

    /// The principals whose ARN is `arn` (one, or one per session when sessions were split).
    pub fn for_arn<'u>(
        &'u self,
        arn: &'u str,
    ) -> impl Iterator<Item = (&'u PrincipalKey, &'u PrincipalUsage)> {
        self.principals.iter().filter(move |(k, _)| k.arn == arn)
    }
}

fn min_some<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_some<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// The principal of a record, or `None` for a service acting on its own.
pub fn principal_of(record: &Record<'_>, per_session: bool) -> Option<PrincipalKey> {
    let (arn, session) = principal_ref(record)?;
    Some(PrincipalKey {
        arn: arn.into_owned(),
        session: per_session.then(|| session.to_string()),
    })
}

/// The principal's ARN and the role session name (empty for other identities), borrowed from the record.
fn principal_ref<'r>(record: &'r Record<'_>) -> Option<(Cow<'r, str>, &'r str)> {
    let identity = &record.user_identity;
    let arn = identity.arn.as_deref();
    match identity.identity_type.as_deref() {
        Some("AssumedRole") => {
            let assumed = arn?;
            let (head, rest) = assumed.split_once(":assumed-role/")?;
            let (role_name, session) = rest.split_once('/').unwrap_or((rest, ""));
            let issuer = identity
                .session_context
                .as_ref()
                .and_then(|c| c.session_issuer.as_ref())
                .and_then(|i| i.arn.as_deref());
            // Without the issuer (rare), the role ARN is rebuilt without its path.
            let role = match issuer {
                Some(role) => Cow::Borrowed(role),
                None => Cow::Owned(format!(
                    "{}:role/{role_name}",
                    head.replacen(":sts:", ":iam:", 1)
                )),
            };
            Some((role, session))
        }
        Some("IAMUser" | "Root" | "FederatedUser") => Some((Cow::Borrowed(arn?), "")),
        _ => None,
    }
}

/// The permissions an event needs, worked out once per distinct event.
#[derive(Debug, Clone)]
enum Needs {
    /// `(action, the request parameter that must be present, if any)`, and whether any of them needs
    /// the request parameters to name its resource.
    Actions {
        actions: Vec<(ActionId, Option<String>)>,
        reads_params: bool,
    },
    Unmapped(String),
}

fn needs(catalog: &Catalog, source: &str, name: &str) -> Needs {
    let actions: Vec<(ActionId, Option<String>)> =
        match EventActions::get().map(source, name, catalog) {
            Mapping::Action(id) => vec![(id, None)],
            Mapping::Listed(listed) => listed
                .always
                .iter()
                .map(|id| (*id, None))
                .chain(
                    listed
                        .when_present
                        .iter()
                        .map(|p| (p.action, Some(p.param.clone()))),
                )
                .collect(),
            Mapping::Unmapped(reason) => return Needs::Unmapped(reason.to_string()),
        };
    let reads_params = actions
        .iter()
        .any(|(id, param)| param.is_some() || !catalog.action(*id).resource_types.is_empty());
    Needs::Actions {
        actions,
        reads_params,
    }
}

/// Collects usage from records; one per worker, turned into [`Usage`] by [`UsageCollector::into_usage`].
/// Lookups per record borrow from the record: nothing is allocated for a principal, event or triple
/// already seen.
#[derive(Debug, Default)]
pub struct UsageCollector {
    usage: Usage,
    per_session: bool,
    /// eventSource → eventName → what it needs.
    needs: HashMap<Box<str>, HashMap<Box<str>, Arc<Needs>>>,
    /// ARN → session name (empty unless split) → usage.
    principals: HashMap<Box<str>, HashMap<Box<str>, Tally>>,
    /// An action's resource types: `(ARN template, the template as a glob)`.
    templates: HashMap<ActionId, Arc<[(String, String)]>>,
    /// The current record's permissions and resources, kept to reuse its allocation.
    scratch: Vec<(ActionId, Cow<'static, str>)>,
}

/// Permission → resource → count, looked up by `&str` so a triple already seen allocates nothing.
type Counts = HashMap<ActionId, HashMap<Box<str>, u64>>;

/// One principal's usage as a worker collects it; [`PrincipalUsage`] once the pass is over.
#[derive(Debug, Default)]
struct Tally {
    allowed: Counts,
    denied: Counts,
    other_failures: u64,
    first_seen: Option<DateTime<Utc>>,
    last_seen: Option<DateTime<Utc>>,
}

fn count(counts: &mut Counts, action: ActionId, resource: &str) {
    let per_resource = counts.entry(action).or_default();
    match per_resource.get_mut(resource) {
        Some(n) => *n += 1,
        None => {
            per_resource.insert(resource.into(), 1);
        }
    }
}

impl Tally {
    fn into_usage(self) -> PrincipalUsage {
        let flat = |counts: Counts| -> HashMap<Triple, u64> {
            counts
                .into_iter()
                .flat_map(|(action, per)| per.into_iter().map(move |(r, n)| ((action, r), n)))
                .collect()
        };
        PrincipalUsage {
            allowed: flat(self.allowed),
            denied: flat(self.denied),
            other_failures: self.other_failures,
            first_seen: self.first_seen,
            last_seen: self.last_seen,
        }
    }
}

impl UsageCollector {
    pub fn new(per_session: bool) -> UsageCollector {
        UsageCollector {
            per_session,
            ..UsageCollector::default()
        }
    }

    /// What this worker saw.
    pub fn into_usage(mut self) -> Usage {
        for (arn, sessions) in self.principals {
            for (session, used) in sessions {
                let key = PrincipalKey {
                    arn: arn.to_string(),
                    session: self.per_session.then(|| session.to_string()),
                };
                self.usage
                    .principals
                    .entry(key)
                    .or_default()
                    .add(&used.into_usage());
            }
        }
        self.usage
    }

    fn needs_of(&mut self, source: &str, name: &str) -> Arc<Needs> {
        if let Some(found) = self.needs.get(source).and_then(|names| names.get(name)) {
            return found.clone();
        }
        let found = Arc::new(needs(Catalog::get(), source, name));
        self.needs
            .entry(source.into())
            .or_default()
            .insert(name.into(), found.clone());
        found
    }

    fn templates_of(&mut self, catalog: &Catalog, action: ActionId) -> Arc<[(String, String)]> {
        self.templates
            .entry(action)
            .or_insert_with(|| {
                let service = catalog.service_of(action);
                catalog
                    .action(action)
                    .resource_types
                    .iter()
                    .filter_map(|(index, _)| service.resource_types.get(*index as usize))
                    .map(|r| (r.arn.clone(), template_glob(&r.arn)))
                    .collect()
            })
            .clone()
    }

    fn record_time(&mut self, record: &Record<'_>) -> Option<DateTime<Utc>> {
        let time = parse_event_time(&record.event_time)?;
        widen(&mut self.usage.window, time, time);
        Some(time)
    }

    /// Takes one record with what its event needs; `params` are its request parameters when read.
    fn take(&mut self, record: &Record<'_>, needs: &Needs, params: Option<&Value>) {
        let time = self.record_time(record);
        if record.event_type.as_deref() == Some(SERVICE_EVENT_TYPE) {
            self.usage.service_calls += 1;
            return;
        }
        let Some((arn, session)) = principal_ref(record) else {
            self.usage.service_calls += 1;
            return;
        };
        let catalog = Catalog::get();
        let actions = match needs {
            Needs::Actions { actions, .. } => actions,
            Needs::Unmapped(reason) => {
                let key = (
                    record.event_source.to_string(),
                    record.event_name.to_string(),
                );
                self.usage
                    .unmapped
                    .entry(key)
                    .or_insert_with(|| UnmappedEvent {
                        reason: reason.clone(),
                        count: 0,
                    })
                    .count += 1;
                return;
            }
        };
        let place = Place::of(record);
        let mut resources = std::mem::take(&mut self.scratch);
        resources.clear();
        for (action, param) in actions {
            let explicit = match param {
                Some(param) => match params.and_then(|p| p.get(param)) {
                    Some(value) => value.as_str(),
                    None => continue,
                },
                None => None,
            };
            let templates = self.templates_of(catalog, *action);
            resources.push((*action, resource_for(&templates, params, explicit, &place)));
        }
        let session = if self.per_session { session } else { "" };
        let entry = match self
            .principals
            .get_mut(&*arn)
            .and_then(|s| s.get_mut(session))
        {
            Some(entry) => entry,
            None => self
                .principals
                .entry(arn.as_ref().into())
                .or_default()
                .entry(session.into())
                .or_default(),
        };
        entry.first_seen = min_some(entry.first_seen, time);
        entry.last_seen = max_some(entry.last_seen, time);
        let failure = record.error_code.as_deref().filter(|c| !c.is_empty());
        let target = match failure {
            None => Some(&mut entry.allowed),
            Some(code) if is_denial(code) => Some(&mut entry.denied),
            Some(_) => {
                entry.other_failures += 1;
                None
            }
        };
        if let Some(target) = target {
            for (action, resource) in resources.drain(..) {
                count(target, action, &resource);
            }
        }
        self.scratch = resources;
    }
}

impl RecordVisitor for UsageCollector {
    fn visit(&mut self, record: &Record<'_>) {
        let params = record.request_parameters().filter(Value::is_object);
        let needs = self.needs_of(&record.event_source, &record.event_name);
        self.take(record, &needs, params.as_ref());
    }

    /// Every record is settled from its text: the typed fields from one structural walk, and for the
    /// events whose resource the request names, `requestParameters` alone parsed (never the whole
    /// record, whose `responseElements` may be large). A record the walk cannot read is parsed.
    fn wants_raw(&mut self, raw: &RawRecord<'_>) -> bool {
        let Some((source, name)) = raw.source_and_name() else {
            return true;
        };
        let needs = self.needs_of(source, name);
        let Some(record) = Record::peek_typed(raw.text()) else {
            return true;
        };
        let params = match &*needs {
            Needs::Actions {
                reads_params: true, ..
            } => peek_value(raw.text(), "requestParameters")
                .and_then(|text| serde_json::from_slice::<Value>(text).ok())
                .filter(Value::is_object),
            _ => None,
        };
        self.take(&record, &needs, params.as_ref());
        false
    }
}

/// Runs one pass over the inputs and returns what every principal did.
pub fn collect(
    opts: &ScanOptions,
    per_session: bool,
    observer: &dyn Observer,
) -> Result<(Usage, ScanStats), ScanError> {
    let (workers, stats) = scan(
        opts,
        || UsageCollector::new(per_session),
        &ObserverRef(observer),
    )?;
    let mut usage = Usage::default();
    for worker in workers {
        usage.merge(worker.into_usage());
    }
    Ok((usage, stats))
}

struct ObserverRef<'a>(&'a dyn Observer);

impl Observer for ObserverRef<'_> {
    fn on_input_error(&self, err: &trailguard_event::InputError) {
        self.0.on_input_error(err);
    }
    fn on_progress(&self, done: u64, total: u64) {
        self.0.on_progress(done, total);
    }
}

/// Where a call happened, for ARN templates.
struct Place<'r> {
    partition: &'r str,
    region: &'r str,
    account: &'r str,
}

impl<'r> Place<'r> {
    fn of(record: &'r Record<'_>) -> Place<'r> {
        let partition = record
            .user_identity
            .arn
            .as_deref()
            .and_then(|arn| arn.strip_prefix("arn:"))
            .and_then(|rest| rest.split(':').next())
            .filter(|p| p.starts_with("aws"))
            .unwrap_or("aws");
        Place {
            partition,
            region: record.aws_region.as_deref().unwrap_or(""),
            account: record.account_id().unwrap_or(""),
        }
    }
}

fn has_wildcard(text: &str) -> bool {
    text.contains(['*', '?', '$'])
}

/// The ARN the permission was checked against, or `*` (see the module doc). `templates` are the
/// action's resource types with their globs.
fn resource_for(
    templates: &[(String, String)],
    params: Option<&Value>,
    explicit: Option<&str>,
    place: &Place<'_>,
) -> Cow<'static, str> {
    const ANY: Cow<'static, str> = Cow::Borrowed("*");
    if templates.is_empty() {
        return ANY;
    }
    let fits = |arn: &str| {
        !has_wildcard(arn)
            && templates
                .iter()
                .any(|(_, glob)| glob_match(glob.as_bytes(), arn.as_bytes(), false))
    };
    if let Some(arn) = explicit {
        return if fits(arn) {
            Cow::Owned(arn.to_string())
        } else {
            ANY
        };
    }
    let object = params.and_then(Value::as_object);
    if let Some(found) = object
        .into_iter()
        .flat_map(|o| o.values())
        .filter_map(Value::as_str)
        .find(|v| v.starts_with("arn:") && fits(v))
    {
        return Cow::Owned(found.to_string());
    }
    templates
        .iter()
        .find_map(|(t, _)| fill_template(t, object, place))
        .map_or(ANY, Cow::Owned)
}

/// `arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}` → `arn:*:iam::*:role/*`.
fn template_glob(template: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        out.push('*');
        rest = rest[start..]
            .find('}')
            .map_or("", |end| &rest[start + end + 1..]);
    }
    out.push_str(rest);
    out
}

/// The template with every variable filled, or `None` when one cannot be.
fn fill_template(
    template: &str,
    params: Option<&serde_json::Map<String, Value>>,
    place: &Place<'_>,
) -> Option<String> {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}')? + start;
        let var = &rest[start + 2..end];
        let value = match var {
            "Partition" => Some(place.partition),
            "Region" => Some(place.region).filter(|r| !r.is_empty()),
            "Account" => Some(place.account).filter(|a| !a.is_empty()),
            _ => param_for(var, params?),
        }?;
        // A value that is itself a path or an ARN (`alias/aws/ssm`, a key ARN) is a resource of another
        // type: only an object key or a path variable may hold a `/`.
        let path_like = var == "ObjectName" || var.ends_with("Path");
        if value.is_empty() || has_wildcard(value) || (!path_like && value.contains(['/', ':'])) {
            return None;
        }
        out.push_str(value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// The request parameter a template variable names: `BucketName` → `bucketName`, `RoleNameWithPath` →
/// `roleName`, S3's `ObjectName` → `key`.
fn param_for<'p>(var: &str, params: &'p serde_json::Map<String, Value>) -> Option<&'p str> {
    let lower_first = |s: &str| {
        let mut chars = s.chars();
        chars
            .next()
            .map(|c| c.to_ascii_lowercase().to_string() + chars.as_str())
            .unwrap_or_default()
    };
    let base = var.strip_suffix("WithPath").unwrap_or(var);
    let mut names = vec![lower_first(var), lower_first(base)];
    if var == "ObjectName" {
        names.push("key".into());
    }
    names
        .iter()
        .find_map(|n| params.get(n).and_then(Value::as_str))
}

/// The least-privilege policy for one principal's usage.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedPolicy {
    /// The IAM policy document, ready for `aws iam create-policy-version`.
    pub document: Value,
    /// Permissions asked for and denied: `service:Action resource`, sorted.
    pub denied: Vec<String>,
}

/// One service's part of a generated policy.
#[derive(Default)]
struct ServiceGrants {
    /// Actions that need `*`.
    on_any: BTreeSet<String>,
    /// Actions granted on the ARNs seen.
    narrowed: BTreeSet<String>,
    arns: BTreeSet<String>,
}

/// Builds the policy: per service, one statement for the actions with resource-level permissions
/// (resources: the ARNs seen) and one for those that need `*`; actions sorted.
pub fn generate_policy(usage: &PrincipalUsage, catalog: &Catalog) -> GeneratedPolicy {
    let mut services: BTreeMap<String, ServiceGrants> = BTreeMap::new();
    let mut wide: BTreeSet<ActionId> = BTreeSet::new();
    for (action, resource) in usage.allowed.keys() {
        if &**resource == "*" {
            wide.insert(*action);
        }
    }
    for (action, resource) in usage.allowed.keys() {
        let prefix = catalog.service_of(*action).prefix.clone();
        let name = catalog.full_name(*action);
        let entry = services.entry(prefix).or_default();
        if wide.contains(action) {
            entry.on_any.insert(name);
        } else {
            entry.narrowed.insert(name);
            entry.arns.insert(resource.to_string());
        }
    }
    let mut statements = Vec::new();
    for (
        prefix,
        ServiceGrants {
            on_any: any,
            narrowed,
            arns,
        },
    ) in services
    {
        let sid = sid_for(&prefix);
        if !narrowed.is_empty() {
            statements.push(json!({
                "Sid": format!("{sid}Resources"),
                "Effect": "Allow",
                "Action": narrowed.into_iter().collect::<Vec<_>>(),
                "Resource": arns.into_iter().collect::<Vec<_>>(),
            }));
        }
        if !any.is_empty() {
            statements.push(json!({
                "Sid": sid,
                "Effect": "Allow",
                "Action": any.into_iter().collect::<Vec<_>>(),
                "Resource": "*",
            }));
        }
    }
    let mut denied: Vec<String> = usage
        .denied
        .keys()
        .map(|(a, r)| format!("{} {r}", catalog.full_name(*a)))
        .collect();
    denied.sort();
    GeneratedPolicy {
        document: json!({"Version": "2012-10-17", "Statement": statements}),
        denied,
    }
}

/// `resource-explorer-2` → `ResourceExplorer2` (a Sid is alphanumeric).
fn sid_for(prefix: &str) -> String {
    prefix
        .split(|c: char| !c.is_ascii_alphanumeric())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_become_globs_and_fill_from_the_record() {
        assert_eq!(
            template_glob("arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}"),
            "arn:*:iam::*:role/*"
        );
        let place = Place {
            partition: "aws",
            region: "us-east-1",
            account: "111122223333",
        };
        let params =
            json!({"roleName": "app", "bucketName": "b*", "key": "k", "keyId": "alias/aws/ssm"});
        let params = params.as_object();
        assert_eq!(
            fill_template(
                "arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}",
                params,
                &place
            )
            .as_deref(),
            Some("arn:aws:iam::111122223333:role/app")
        );
        // A wildcard in a value never reaches a policy.
        assert_eq!(
            fill_template(
                "arn:${Partition}:s3:::${BucketName}/${ObjectName}",
                params,
                &place
            ),
            None
        );
        assert_eq!(
            fill_template("arn:${Partition}:s3:::${Missing}", params, &place),
            None
        );
        assert_eq!(sid_for("resource-explorer-2"), "ResourceExplorer2");
        assert_eq!(window_days(None), 1);
    }
}
