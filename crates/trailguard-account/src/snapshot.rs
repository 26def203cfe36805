//! The account snapshot: a set of saved API outputs ([`RawSnapshot`], file name → JSON text) and
//! their parsed form ([`AccountSnapshot`]).
//!
//! Both the live collector and the offline loader produce a `RawSnapshot`, and only
//! [`AccountSnapshot::from_raw`] turns it into the model, so live and offline audits share one code
//! path and give identical findings. File names (all optional; a missing file leaves its part `None`
//! and the checks that need it report "not evaluated"):
//!
//! | file | command |
//! |---|---|
//! | `get-account-authorization-details.json` | `aws iam get-account-authorization-details` |
//! | `get-credential-report.json` or `credential-report.csv` | `aws iam get-credential-report` (base64 CSV, or the decoded CSV) |
//! | `get-account-password-policy.json` | `aws iam get-account-password-policy` (`{}` when the account has none) |
//! | `get-account-summary.json` | `aws iam get-account-summary` |
//! | `list-account-aliases.json` | `aws iam list-account-aliases` |
//! | `list-virtual-mfa-devices.json` | `aws iam list-virtual-mfa-devices` |
//! | `list-server-certificates.json` | `aws iam list-server-certificates` |
//! | `get-caller-identity.json` | `aws sts get-caller-identity` |
//! | `describe-trails.json` | `aws cloudtrail describe-trails` |
//! | `get-trail-status/<trail name>.json` | `aws cloudtrail get-trail-status --name <trail>` |
//! | `get-event-selectors/<trail name>.json` | `aws cloudtrail get-event-selectors --trail-name <trail>` |
//! | `list-analyzers.json` | `aws accessanalyzer list-analyzers` |
//! | `list-access-keys/<user name>.json` | `aws iam list-access-keys --user-name <user>` (users with an active key) |

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::model::*;

pub const AUTHORIZATION_DETAILS: &str = "get-account-authorization-details.json";
pub const CREDENTIAL_REPORT: &str = "get-credential-report.json";
pub const CREDENTIAL_REPORT_CSV: &str = "credential-report.csv";
pub const PASSWORD_POLICY: &str = "get-account-password-policy.json";
pub const ACCOUNT_SUMMARY: &str = "get-account-summary.json";
pub const ACCOUNT_ALIASES: &str = "list-account-aliases.json";
pub const VIRTUAL_MFA_DEVICES: &str = "list-virtual-mfa-devices.json";
pub const SERVER_CERTIFICATES: &str = "list-server-certificates.json";
pub const CALLER_IDENTITY: &str = "get-caller-identity.json";
pub const DESCRIBE_TRAILS: &str = "describe-trails.json";
pub const TRAIL_STATUS_DIR: &str = "get-trail-status";
pub const EVENT_SELECTORS_DIR: &str = "get-event-selectors";
pub const ANALYZERS: &str = "list-analyzers.json";
pub const ACCESS_KEYS_DIR: &str = "list-access-keys";

/// Every top-level file a snapshot may hold, for docs and `--help`.
pub const SNAPSHOT_FILES: &[&str] = &[
    AUTHORIZATION_DETAILS,
    CREDENTIAL_REPORT,
    PASSWORD_POLICY,
    ACCOUNT_SUMMARY,
    ACCOUNT_ALIASES,
    VIRTUAL_MFA_DEVICES,
    SERVER_CERTIFICATES,
    CALLER_IDENTITY,
    DESCRIBE_TRAILS,
    ANALYZERS,
];

/// The per-trail or per-user file name: the name with path-hostile characters replaced, plus `.json`.
pub fn safe_file_name(trail_name: &str) -> String {
    let safe: String = trail_name
        .chars()
        .map(|c| match c {
            '/' | ':' | '\\' => '_',
            c => c,
        })
        .collect();
    format!("{safe}.json")
}

/// Something wrong with one file; the rest of the snapshot is still used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotProblem {
    /// File name inside the snapshot (or the API call, for live collection errors).
    pub file: String,
    pub message: String,
}

impl fmt::Display for SnapshotProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.message)
    }
}

/// Errors reading or writing a snapshot directory as a whole.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotIoError {
    #[error("cannot read snapshot directory `{path}`")]
    ReadDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{path}` is neither a snapshot directory nor a file")]
    NotADirectory { path: PathBuf },
    #[error("cannot write `{path}`")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Saved API outputs by relative file name (`get-trail-status/main.json` uses `/`), plus problems met
/// while collecting them (files that could not be read, API calls that failed).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawSnapshot {
    pub files: BTreeMap<String, String>,
    pub problems: Vec<SnapshotProblem>,
}

impl RawSnapshot {
    /// Adds a file from a JSON value, pretty-printed like the CLI does.
    pub fn insert_json(&mut self, name: impl Into<String>, value: &Value) {
        let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".to_owned());
        self.files.insert(name.into(), text + "\n");
    }

    /// Reads a snapshot directory, or a single saved `get-account-authorization-details` file (as
    /// Cloudsplaining and similar tools take), which then stands for the whole snapshot.
    pub fn read_path(path: &Path) -> Result<RawSnapshot, SnapshotIoError> {
        if path.is_file() {
            let mut raw = RawSnapshot::default();
            raw.read_one(path, AUTHORIZATION_DETAILS.to_owned());
            return Ok(raw);
        }
        RawSnapshot::read_dir(path)
    }

    /// Reads every known file from `dir`; unreadable files become problems, unknown files are ignored.
    pub fn read_dir(dir: &Path) -> Result<RawSnapshot, SnapshotIoError> {
        if !dir.is_dir() {
            return Err(SnapshotIoError::NotADirectory {
                path: dir.to_owned(),
            });
        }
        let mut raw = RawSnapshot::default();
        let mut names: Vec<String> = SNAPSHOT_FILES.iter().map(|s| s.to_string()).collect();
        names.push(CREDENTIAL_REPORT_CSV.to_owned());
        for name in names {
            let path = dir.join(&name);
            if path.is_file() {
                raw.read_one(&path, name);
            }
        }
        for sub in [TRAIL_STATUS_DIR, EVENT_SELECTORS_DIR, ACCESS_KEYS_DIR] {
            let subdir = dir.join(sub);
            if !subdir.is_dir() {
                continue;
            }
            let entries =
                std::fs::read_dir(&subdir).map_err(|source| SnapshotIoError::ReadDir {
                    path: subdir.clone(),
                    source,
                })?;
            let mut paths: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect();
            paths.sort();
            for path in paths {
                if let Some(file) = path.file_name().and_then(|f| f.to_str()) {
                    let name = format!("{sub}/{file}");
                    raw.read_one(&path, name);
                }
            }
        }
        Ok(raw)
    }

    fn read_one(&mut self, path: &Path, name: String) {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                self.files.insert(name, text);
            }
            Err(err) => self.problems.push(SnapshotProblem {
                file: name,
                message: format!("cannot read `{}`: {err}", path.display()),
            }),
        }
    }

    /// Files that are not the API output their name claims: valid JSON of another shape (a policy
    /// document, `{}`, another command's output) or a CSV that is not a credential report. Such a file
    /// would parse as an empty account and score well, so an offline audit refuses it. Files that are
    /// not JSON at all are left to [`AccountSnapshot::from_raw`], which reports them with their position.
    pub fn shape_problems(&self) -> Vec<SnapshotProblem> {
        let mut problems = Vec::new();
        for (name, text) in &self.files {
            if name == CREDENTIAL_REPORT_CSV {
                let header = text
                    .trim_start_matches('\u{feff}')
                    .lines()
                    .next()
                    .unwrap_or("");
                let columns: Vec<&str> = header.split(',').map(str::trim).collect();
                if !(columns.contains(&"user") && columns.contains(&"arn")) {
                    problems.push(SnapshotProblem {
                        file: name.clone(),
                        message: format!(
                            "not a credential report: expected the CSV header of `aws iam get-credential-report` (user,arn,...), found `{}`",
                            shorten(header, 60)
                        ),
                    });
                }
                continue;
            }
            let Some(expected) = expected_shape(name) else {
                continue;
            };
            let Ok(value) = serde_json::from_str::<Value>(text) else {
                continue;
            };
            let found = match &value {
                Value::Object(map) if expected.keys.iter().any(|k| map.contains_key(*k)) => {
                    continue
                }
                Value::Object(map) if map.is_empty() && expected.empty_allowed => continue,
                Value::Object(map) if map.is_empty() => "an empty object".to_owned(),
                Value::Object(map) => {
                    let keys: Vec<&str> = map.keys().take(6).map(String::as_str).collect();
                    let mut found = format!("an object with {}", keys.join(", "));
                    if map.contains_key("Statement") {
                        found.push_str(" (a policy document?)");
                    }
                    found
                }
                Value::Array(_) => "an array".to_owned(),
                other => format!("a JSON {}", json_kind(other)),
            };
            problems.push(SnapshotProblem {
                file: name.clone(),
                message: format!(
                    "not the output of `{}`: expected a JSON object with {}, found {found}",
                    expected.command,
                    expected.keys.join(" or ")
                ),
            });
        }
        problems
    }

    /// Writes every file under `dir` (created if needed). Returns the paths written.
    pub fn write_dir(&self, dir: &Path) -> Result<Vec<PathBuf>, SnapshotIoError> {
        let mut written = Vec::new();
        for (name, text) in &self.files {
            let path = dir.join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|source| SnapshotIoError::Write {
                    path: parent.to_owned(),
                    source,
                })?;
            }
            std::fs::write(&path, text).map_err(|source| SnapshotIoError::Write {
                path: path.clone(),
                source,
            })?;
            written.push(path);
        }
        Ok(written)
    }
}

/// What a snapshot file must look like: the command that writes it and its top-level keys (any one).
struct ExpectedShape {
    command: &'static str,
    keys: &'static [&'static str],
    /// `{}` is a real answer (no password policy set).
    empty_allowed: bool,
}

fn shape(command: &'static str, keys: &'static [&'static str]) -> ExpectedShape {
    ExpectedShape {
        command,
        keys,
        empty_allowed: false,
    }
}

fn expected_shape(name: &str) -> Option<ExpectedShape> {
    let dir = name.split_once('/').map(|(dir, _)| dir);
    Some(match (name, dir) {
        (AUTHORIZATION_DETAILS, _) => shape(
            "aws iam get-account-authorization-details",
            &[
                "UserDetailList",
                "GroupDetailList",
                "RoleDetailList",
                "Policies",
            ],
        ),
        (CREDENTIAL_REPORT, _) => shape("aws iam get-credential-report", &["Content"]),
        (PASSWORD_POLICY, _) => ExpectedShape {
            empty_allowed: true,
            ..shape("aws iam get-account-password-policy", &["PasswordPolicy"])
        },
        (ACCOUNT_SUMMARY, _) => shape("aws iam get-account-summary", &["SummaryMap"]),
        (ACCOUNT_ALIASES, _) => shape("aws iam list-account-aliases", &["AccountAliases"]),
        (VIRTUAL_MFA_DEVICES, _) => {
            shape("aws iam list-virtual-mfa-devices", &["VirtualMFADevices"])
        }
        (SERVER_CERTIFICATES, _) => shape(
            "aws iam list-server-certificates",
            &["ServerCertificateMetadataList"],
        ),
        (CALLER_IDENTITY, _) => shape("aws sts get-caller-identity", &["Account"]),
        (DESCRIBE_TRAILS, _) => shape("aws cloudtrail describe-trails", &["trailList"]),
        (ANALYZERS, _) => shape("aws accessanalyzer list-analyzers", &["analyzers"]),
        (_, Some(TRAIL_STATUS_DIR)) => shape("aws cloudtrail get-trail-status", &["IsLogging"]),
        (_, Some(EVENT_SELECTORS_DIR)) => shape(
            "aws cloudtrail get-event-selectors",
            &["EventSelectors", "AdvancedEventSelectors"],
        ),
        (_, Some(ACCESS_KEYS_DIR)) => shape("aws iam list-access-keys", &["AccessKeyMetadata"]),
        _ => return None,
    })
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// The parsed account snapshot that posture checks read. `None` = the file was missing or unusable.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AccountSnapshot {
    pub account_id: Option<String>,
    pub authorization: Option<AuthorizationDetails>,
    pub credential_report: Option<CredentialReport>,
    /// `Some(None)`: the account has no password policy; `None`: not collected.
    pub password_policy: Option<Option<PasswordPolicy>>,
    pub account_summary: Option<BTreeMap<String, i64>>,
    pub aliases: Option<Vec<String>>,
    pub virtual_mfa_devices: Option<Vec<VirtualMfaDevice>>,
    pub server_certificates: Option<Vec<ServerCertificate>>,
    pub trails: Option<Vec<Trail>>,
    /// By trail name.
    pub trail_status: BTreeMap<String, TrailStatus>,
    /// By trail name.
    pub event_selectors: BTreeMap<String, EventSelectorsFile>,
    pub analyzers: Option<Vec<Analyzer>>,
    /// Access key ids by user name, from `list-access-keys/<user>.json`.
    pub access_keys: BTreeMap<String, Vec<AccessKeyMetadata>>,
    /// Files that were present but unusable, and collection errors.
    pub problems: Vec<SnapshotProblem>,
}

impl AccountSnapshot {
    /// Reads and parses a snapshot directory.
    pub fn load_dir(dir: &Path) -> Result<AccountSnapshot, SnapshotIoError> {
        Ok(AccountSnapshot::from_raw(&RawSnapshot::read_dir(dir)?))
    }

    /// Parses every file; a bad file becomes a problem naming the file and position, never an error.
    pub fn from_raw(raw: &RawSnapshot) -> AccountSnapshot {
        let mut snap = AccountSnapshot {
            problems: raw.problems.clone(),
            ..AccountSnapshot::default()
        };
        let mut parser = Parser {
            raw,
            problems: &mut snap.problems,
        };

        snap.authorization = parser
            .parse::<AuthorizationDetails>(AUTHORIZATION_DETAILS)
            .map(|mut details| {
                decode_documents(&mut details, parser.problems);
                details
            });
        snap.credential_report = parser.credential_report();
        snap.password_policy = parser
            .parse::<PasswordPolicyFile>(PASSWORD_POLICY)
            .map(|f| f.password_policy);
        snap.account_summary = parser
            .parse::<AccountSummaryFile>(ACCOUNT_SUMMARY)
            .map(|f| f.summary_map);
        snap.aliases = parser
            .parse::<AccountAliasesFile>(ACCOUNT_ALIASES)
            .map(|f| f.account_aliases);
        snap.virtual_mfa_devices = parser
            .parse::<VirtualMfaDevicesFile>(VIRTUAL_MFA_DEVICES)
            .map(|f| f.virtual_mfa_devices);
        snap.server_certificates = parser
            .parse::<ServerCertificatesFile>(SERVER_CERTIFICATES)
            .map(|f| f.server_certificate_metadata_list);
        snap.trails = parser
            .parse::<DescribeTrailsFile>(DESCRIBE_TRAILS)
            .map(|f| f.trail_list);
        snap.analyzers = parser
            .parse::<AnalyzersFile>(ANALYZERS)
            .map(|f| f.analyzers);
        let caller = parser.parse::<CallerIdentityFile>(CALLER_IDENTITY);
        let key_files: Vec<&String> = raw
            .files
            .keys()
            .filter(|name| name.starts_with(ACCESS_KEYS_DIR) && name.ends_with(".json"))
            .collect();
        for name in key_files {
            if let Some(file) = parser.parse::<AccessKeysFile>(name) {
                for key in file.access_key_metadata {
                    snap.access_keys
                        .entry(key.user_name.clone())
                        .or_default()
                        .push(key);
                }
            }
        }

        if let Some(trails) = &snap.trails {
            for trail in trails {
                let file = safe_file_name(&trail.name);
                let status_name = format!("{TRAIL_STATUS_DIR}/{file}");
                if let Some(status) = parser.parse::<TrailStatus>(&status_name) {
                    snap.trail_status.insert(trail.name.clone(), status);
                }
                let selectors_name = format!("{EVENT_SELECTORS_DIR}/{file}");
                if let Some(selectors) = parser.parse::<EventSelectorsFile>(&selectors_name) {
                    snap.event_selectors.insert(trail.name.clone(), selectors);
                }
            }
        }

        snap.account_id = caller
            .map(|c| c.account)
            .filter(|a| !a.is_empty())
            .or_else(|| snap.first_account_in_arns());
        snap
    }

    fn first_account_in_arns(&self) -> Option<String> {
        let mut arns: Vec<&str> = Vec::new();
        if let Some(report) = &self.credential_report {
            arns.extend(report.rows.iter().map(|r| r.arn.as_str()));
        }
        if let Some(auth) = &self.authorization {
            arns.extend(auth.user_detail_list.iter().map(|u| u.arn.as_str()));
            arns.extend(auth.role_detail_list.iter().map(|r| r.arn.as_str()));
            arns.extend(auth.group_detail_list.iter().map(|g| g.arn.as_str()));
        }
        arns.into_iter().find_map(account_of_arn).map(str::to_owned)
    }

    /// The id of the access key in credential-report slot `slot` of `user`: the key whose creation time
    /// equals the slot's `last_rotated` time (that is how the report defines it).
    pub fn access_key_id(&self, user: &str, last_rotated: &str) -> Option<&str> {
        // The report has whole seconds; `list-access-keys` may print fractions.
        let rotated = crate::time::parse_aws_time(last_rotated)?.timestamp();
        self.access_keys
            .get(user)?
            .iter()
            .find(|k| {
                crate::time::parse_aws_time(&k.create_date).map(|t| t.timestamp()) == Some(rotated)
            })
            .map(|k| k.access_key_id.as_str())
    }

    /// The default "now" of an audit: the credential report's generation time, or, when the report
    /// holds later times (a report cannot mention what happened after it was made, but emulators
    /// such as moto print a fixed generation time), the latest time in it. `None` without a report.
    pub fn reference_time(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        let report = self.credential_report.as_ref()?;
        let latest = report
            .rows
            .iter()
            .flat_map(|r| {
                [
                    &r.user_creation_time,
                    &r.password_last_used,
                    &r.password_last_changed,
                    &r.access_key_1_last_rotated,
                    &r.access_key_1_last_used_date,
                    &r.access_key_2_last_rotated,
                    &r.access_key_2_last_used_date,
                ]
            })
            .filter_map(|t| crate::time::parse_aws_time(t))
            .max();
        match (self.generated_time(), latest) {
            (Some(generated), Some(latest)) => Some(generated.max(latest)),
            (generated, latest) => generated.or(latest),
        }
    }

    /// The credential report's generation time as AWS printed it.
    pub fn generated_time(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.credential_report
            .as_ref()
            .and_then(|r| r.generated_time.as_deref())
            .and_then(crate::time::parse_aws_time)
    }
}

/// The account id field of an ARN (`arn:aws:iam::123456789012:user/x` → `123456789012`).
pub fn account_of_arn(arn: &str) -> Option<&str> {
    let account = arn.split(':').nth(4)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
}

struct Parser<'a> {
    raw: &'a RawSnapshot,
    problems: &'a mut Vec<SnapshotProblem>,
}

impl Parser<'_> {
    fn parse<T: DeserializeOwned>(&mut self, name: &str) -> Option<T> {
        let text = self.raw.files.get(name)?;
        match serde_json::from_str::<T>(text) {
            Ok(value) => Some(value),
            Err(err) => {
                self.problems.push(SnapshotProblem {
                    file: name.to_owned(),
                    message: json_error_message(&err),
                });
                None
            }
        }
    }

    fn credential_report(&mut self) -> Option<CredentialReport> {
        if let Some(file) = self.parse::<CredentialReportFile>(CREDENTIAL_REPORT) {
            let csv_bytes = match base64::engine::general_purpose::STANDARD
                .decode(file.content.trim().as_bytes())
            {
                Ok(bytes) => bytes,
                Err(err) => {
                    self.problems.push(SnapshotProblem {
                        file: CREDENTIAL_REPORT.to_owned(),
                        message: format!("`Content` is not base64: {err}"),
                    });
                    return None;
                }
            };
            let rows = self.csv_rows(CREDENTIAL_REPORT, &csv_bytes)?;
            return Some(CredentialReport {
                generated_time: file.generated_time,
                rows,
            });
        }
        let text = self.raw.files.get(CREDENTIAL_REPORT_CSV)?;
        let rows = self.csv_rows(CREDENTIAL_REPORT_CSV, text.as_bytes())?;
        // The decoded CSV carries no generation time; the newest time in it stands in for it.
        Some(CredentialReport {
            generated_time: None,
            rows,
        })
    }

    fn csv_rows(&mut self, name: &str, bytes: &[u8]) -> Option<Vec<CredentialReportRow>> {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(bytes);
        let mut rows = Vec::new();
        let mut bad = 0usize;
        for (index, record) in reader.deserialize::<CredentialReportRow>().enumerate() {
            match record {
                Ok(row) => rows.push(row),
                Err(err) => {
                    bad += 1;
                    if bad <= 5 {
                        self.problems.push(SnapshotProblem {
                            file: name.to_owned(),
                            message: format!("row {}: {err}", index + 2),
                        });
                    }
                }
            }
        }
        if bad > 5 {
            self.problems.push(SnapshotProblem {
                file: name.to_owned(),
                message: format!("{bad} rows skipped in all"),
            });
        }
        if rows.is_empty() && bad > 0 {
            return None;
        }
        Some(rows)
    }
}

fn json_error_message(err: &serde_json::Error) -> String {
    format!(
        "not valid JSON for this file at line {} column {}: {err}",
        err.line(),
        err.column()
    )
}

/// Turns URL-encoded document strings (the raw API's form) into JSON objects, in place.
fn decode_documents(details: &mut AuthorizationDetails, problems: &mut Vec<SnapshotProblem>) {
    let mut fix = |doc: &mut Value, path: String| {
        if let Value::String(text) = doc {
            match decode_policy_document(text) {
                Some(value) => *doc = value,
                None => {
                    problems.push(SnapshotProblem {
                        file: AUTHORIZATION_DETAILS.to_owned(),
                        message: format!(
                            "{path}: policy document is neither JSON nor URL-encoded JSON"
                        ),
                    });
                    *doc = Value::Null;
                }
            }
        }
    };
    for (i, user) in details.user_detail_list.iter_mut().enumerate() {
        for (j, p) in user.user_policy_list.iter_mut().enumerate() {
            fix(
                &mut p.policy_document,
                format!("UserDetailList[{i}].UserPolicyList[{j}].PolicyDocument"),
            );
        }
    }
    for (i, group) in details.group_detail_list.iter_mut().enumerate() {
        for (j, p) in group.group_policy_list.iter_mut().enumerate() {
            fix(
                &mut p.policy_document,
                format!("GroupDetailList[{i}].GroupPolicyList[{j}].PolicyDocument"),
            );
        }
    }
    for (i, role) in details.role_detail_list.iter_mut().enumerate() {
        fix(
            &mut role.assume_role_policy_document,
            format!("RoleDetailList[{i}].AssumeRolePolicyDocument"),
        );
        for (j, p) in role.role_policy_list.iter_mut().enumerate() {
            fix(
                &mut p.policy_document,
                format!("RoleDetailList[{i}].RolePolicyList[{j}].PolicyDocument"),
            );
        }
    }
    for (i, policy) in details.policies.iter_mut().enumerate() {
        for (j, v) in policy.policy_version_list.iter_mut().enumerate() {
            fix(
                &mut v.document,
                format!("Policies[{i}].PolicyVersionList[{j}].Document"),
            );
        }
    }
}

/// A policy document string as the IAM API returns it (URL-encoded JSON) or plain JSON text, decoded by
/// the policy crate ([`trailguard_policy::decode_policy_text`], the one decoder): a `+` is a space only
/// when the text was form-encoded, so a `%2B` in an ARN stays a `+`.
pub fn decode_policy_document(text: &str) -> Option<Value> {
    let decoded = trailguard_policy::decode_policy_text(text);
    serde_json::from_str::<Value>(&decoded)
        .ok()
        .filter(Value::is_object)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_encoded_plus_in_a_policy_document_stays_a_plus() {
        // IAM encodes `+` as `%2B`; only a form-encoded space is a bare `+`.
        let encoded = "%7B%22Statement%22%3A%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3AGetObject%22%2C%22Resource%22%3A%22arn%3Aaws%3As3%3A%3A%3Aa%2Bb%2F*%22%7D%7D";
        let document = decode_policy_document(encoded).unwrap();
        assert_eq!(document["Statement"]["Resource"], "arn:aws:s3:::a+b/*");
        let form = "%7B%22Statement%22%3A+%7B%22Effect%22%3A+%22Allow%22%7D%7D";
        assert_eq!(
            decode_policy_document(form).unwrap()["Statement"]["Effect"],
            "Allow"
        );
    }

    fn raw(files: &[(&str, &str)]) -> RawSnapshot {
        RawSnapshot {
            files: files
                .iter()
                .map(|(n, t)| (n.to_string(), t.to_string()))
                .collect(),
            problems: Vec::new(),
        }
    }

    #[test]
    fn a_missing_file_leaves_its_part_unset_and_no_problem() {
        let snap = AccountSnapshot::from_raw(&raw(&[(
            ACCOUNT_ALIASES,
            r#"{"AccountAliases":["acme-prod"]}"#,
        )]));
        assert_eq!(snap.aliases, Some(vec!["acme-prod".to_owned()]));
        assert!(snap.authorization.is_none());
        assert!(snap.password_policy.is_none());
        assert!(snap.problems.is_empty());
    }

    #[test]
    fn a_bad_file_is_a_problem_with_its_position_and_the_rest_loads() {
        let snap = AccountSnapshot::from_raw(&raw(&[
            (ACCOUNT_ALIASES, "{\n  \"AccountAliases\": [\"a\",\n}"),
            (PASSWORD_POLICY, "{}"),
        ]));
        assert!(snap.aliases.is_none());
        assert_eq!(snap.password_policy, Some(None));
        assert_eq!(snap.problems.len(), 1);
        assert_eq!(snap.problems[0].file, ACCOUNT_ALIASES);
        assert!(
            snap.problems[0].message.contains("line 3"),
            "{}",
            snap.problems[0]
        );
    }

    #[test]
    fn credential_report_reads_base64_and_plain_csv() {
        let csv = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n\
<root_account>,arn:aws:iam::111122223333:root,2020-01-01T00:00:00+00:00,not_supported,2024-05-01T10:00:00+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n\
alice,arn:aws:iam::111122223333:user/alice,2021-01-01T00:00:00+00:00,true,2024-05-02T10:00:00+00:00,2021-01-01T00:00:00+00:00,N/A,false,true,2021-01-01T00:00:00+00:00,2024-05-01T00:00:00+00:00,us-east-1,s3,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n";
        let encoded = base64::engine::general_purpose::STANDARD.encode(csv);
        let json = format!(
            r#"{{"Content":"{encoded}","ReportFormat":"text/csv","GeneratedTime":"2024-06-01T00:00:00+00:00"}}"#
        );
        let from_json = AccountSnapshot::from_raw(&raw(&[(CREDENTIAL_REPORT, &json)]));
        let report = from_json.credential_report.as_ref().unwrap();
        assert_eq!(report.rows.len(), 2);
        assert!(report.root().unwrap().mfa_active());
        let alice = report.users().next().unwrap();
        assert!(alice.password_enabled() && !alice.mfa_active());
        assert!(alice.access_keys()[0].active && !alice.access_keys()[1].active);
        assert_eq!(from_json.account_id.as_deref(), Some("111122223333"));
        assert_eq!(
            from_json
                .generated_time()
                .map(crate::time::format_aws_time)
                .as_deref(),
            Some("2024-06-01T00:00:00+00:00")
        );

        let from_csv = AccountSnapshot::from_raw(&raw(&[(CREDENTIAL_REPORT_CSV, csv)]));
        assert_eq!(from_csv.credential_report.unwrap().rows, report.rows);
    }

    #[test]
    fn url_encoded_documents_are_decoded() {
        let details = r#"{"UserDetailList":[{"UserName":"u","Arn":"arn:aws:iam::111122223333:user/u",
            "UserPolicyList":[{"PolicyName":"p","PolicyDocument":"%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D"}]}]}"#;
        let snap = AccountSnapshot::from_raw(&raw(&[(AUTHORIZATION_DETAILS, details)]));
        let auth = snap.authorization.unwrap();
        assert_eq!(
            auth.user_detail_list[0].user_policy_list[0].policy_document["Version"],
            "2012-10-17"
        );
    }

    #[test]
    fn a_single_file_is_read_as_the_authorization_details() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("example.json");
        std::fs::write(
            &file,
            r#"{"UserDetailList":[{"UserName":"u","Arn":"arn:aws:iam::111122223333:user/u"}]}"#,
        )
        .unwrap();
        let raw = RawSnapshot::read_path(&file).unwrap();
        let snap = AccountSnapshot::from_raw(&raw);
        assert_eq!(
            snap.authorization.unwrap().user_detail_list[0].user_name,
            "u"
        );
        let missing = RawSnapshot::read_path(&dir.path().join("nope")).unwrap_err();
        assert!(
            missing
                .to_string()
                .contains("neither a snapshot directory nor a file"),
            "{missing}"
        );
    }

    #[test]
    fn files_of_another_shape_are_named_with_what_was_expected() {
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
        let raw = raw(&[
            (AUTHORIZATION_DETAILS, policy),
            (ACCOUNT_SUMMARY, "{}"),
            (ACCOUNT_ALIASES, r#"{"SummaryMap":{"Users":2}}"#),
            (PASSWORD_POLICY, "{}"),
            (DESCRIBE_TRAILS, "[]"),
            ("get-trail-status/main.json", r#"{"IsLogging":false}"#),
            ("list-access-keys/bob.json", r#"{"AccountAliases":[]}"#),
            (CREDENTIAL_REPORT_CSV, "name,value\na,b\n"),
            (VIRTUAL_MFA_DEVICES, "{ not json"),
        ]);
        let problems: Vec<String> = raw.shape_problems().iter().map(|p| p.to_string()).collect();
        assert_eq!(
            problems,
            [
                "credential-report.csv: not a credential report: expected the CSV header of `aws iam get-credential-report` (user,arn,...), found `name,value`",
                "describe-trails.json: not the output of `aws cloudtrail describe-trails`: expected a JSON object with trailList, found an array",
                "get-account-authorization-details.json: not the output of `aws iam get-account-authorization-details`: expected a JSON object with UserDetailList or GroupDetailList or RoleDetailList or Policies, found an object with Statement, Version (a policy document?)",
                "get-account-summary.json: not the output of `aws iam get-account-summary`: expected a JSON object with SummaryMap, found an empty object",
                "list-access-keys/bob.json: not the output of `aws iam list-access-keys`: expected a JSON object with AccessKeyMetadata, found an object with AccountAliases",
                "list-account-aliases.json: not the output of `aws iam list-account-aliases`: expected a JSON object with AccountAliases, found an object with SummaryMap",
            ]
        );
    }

    #[test]
    fn trail_files_are_matched_by_trail_name() {
        let snap = AccountSnapshot::from_raw(&raw(&[
            (
                DESCRIBE_TRAILS,
                r#"{"trailList":[{"Name":"main","TrailARN":"arn:aws:cloudtrail:us-east-1:111122223333:trail/main","IsMultiRegionTrail":true}]}"#,
            ),
            ("get-trail-status/main.json", r#"{"IsLogging":true}"#),
            (
                "get-event-selectors/main.json",
                r#"{"TrailARN":"x","EventSelectors":[{"ReadWriteType":"WriteOnly","IncludeManagementEvents":true}]}"#,
            ),
        ]));
        assert!(snap.trail_status["main"].is_logging);
        assert!(!snap.event_selectors["main"].logs_all_management_events());
    }

    #[test]
    fn cloudsplaining_example_loads_whole() {
        let path =
            trailguard_testkit::shared_data().join("peer-suites/cloudsplaining/example.json");
        let Ok(text) = std::fs::read_to_string(&path) else {
            panic!("reference data missing at {}", path.display());
        };
        let snap = AccountSnapshot::from_raw(&raw(&[(AUTHORIZATION_DETAILS, &text)]));
        assert!(snap.problems.is_empty(), "{:?}", snap.problems);
        let auth = snap.authorization.unwrap();
        assert_eq!(auth.user_detail_list.len(), 44);
        assert_eq!(auth.role_detail_list.len(), 78);
        assert_eq!(auth.group_detail_list.len(), 5);
        assert_eq!(auth.policies.len(), 84);
        assert!(auth.policies.iter().all(|p| p.default_document().is_some()));
        assert_eq!(snap.account_id.as_deref(), Some("200611803367"));
    }
}
