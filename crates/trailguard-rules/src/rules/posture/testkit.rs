//! Fixture snapshots for the posture checks' tests, shaped exactly like saved CLI output.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use trailguard_account::snapshot::{self, RawSnapshot};
use trailguard_account::AccountSnapshot;

use super::{PostureContext, Report};

pub const ACCOUNT: &str = "111122223333";

/// The fixed "now" of every posture test: also the fixture credential reports' generation time.
pub fn now() -> DateTime<Utc> {
    trailguard_account::time::parse_aws_time("2024-06-01T00:00:00+00:00").unwrap_or_default()
}

/// An ISO time `days` before [`now`].
pub fn days_ago(days: i64) -> String {
    trailguard_account::time::format_aws_time(now() - chrono::Duration::days(days))
}

/// A snapshot from `(file name, text)` pairs.
pub fn snapshot(files: &[(&str, &str)]) -> AccountSnapshot {
    let raw = RawSnapshot {
        files: files
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect(),
        problems: Vec::new(),
    };
    AccountSnapshot::from_raw(&raw)
}

const HEADER: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated";

/// One credential report row for `user` (`<root_account>` for root): created 400 days ago, no
/// password, no MFA, no keys, unless `fields` says otherwise.
pub fn row(user: &str, fields: &[(&str, &str)]) -> String {
    let arn = if user == "<root_account>" {
        format!("arn:aws:iam::{ACCOUNT}:root")
    } else {
        format!("arn:aws:iam::{ACCOUNT}:user/{user}")
    };
    HEADER
        .split(',')
        .map(|column| {
            if let Some((_, value)) = fields.iter().find(|(k, _)| *k == column) {
                return value.to_string();
            }
            match column {
                "user" => user.to_owned(),
                "arn" => arn.clone(),
                "user_creation_time" => days_ago(400),
                "password_enabled" if user == "<root_account>" => "not_supported".into(),
                "password_enabled" | "mfa_active" => "false".into(),
                c if c.ends_with("_active") => "false".into(),
                _ => "N/A".into(),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// `get-credential-report.json` holding `rows`, generated at [`now`].
pub fn credential_report(rows: &[String]) -> String {
    let csv = format!("{HEADER}\n{}\n", rows.join("\n"));
    let content = base64::engine::general_purpose::STANDARD.encode(csv);
    format!(
        r#"{{"Content":"{content}","ReportFormat":"text/csv","GeneratedTime":"{}"}}"#,
        days_ago(0)
    )
}

/// Runs one check over a snapshot made of `files`, at [`now`].
pub fn run(check: fn(&PostureContext<'_>) -> Report, files: &[(&str, &str)]) -> Report {
    let snap = snapshot(files);
    let ctx = PostureContext::new(&snap, Some(now()));
    check(&ctx)
}

/// Runs one check over a credential report made of `rows`.
pub fn run_report(check: fn(&PostureContext<'_>) -> Report, rows: &[String]) -> Report {
    let report = credential_report(rows);
    run(check, &[(snapshot::CREDENTIAL_REPORT, &report)])
}

/// The resource names of the findings, for compact assertions.
pub fn names(outcome: &Report) -> Vec<String> {
    outcome
        .findings()
        .iter()
        .map(|f| {
            f.resource
                .as_ref()
                .and_then(|r| r.name.clone())
                .unwrap_or_default()
        })
        .collect()
}

/// The Cloudsplaining example account as a snapshot (authorization details only).
pub fn cloudsplaining() -> AccountSnapshot {
    // The same place `trailguard_testkit::shared_data()` looks: `$TRAILGUARD_SHARED_DATA`, else
    // `../shared/data` beside the checkout.
    let data = std::env::var_os("TRAILGUARD_SHARED_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
        });
    let path = data.join("peer-suites/cloudsplaining/example.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reference data {}: {e}", path.display()));
    snapshot(&[(snapshot::AUTHORIZATION_DETAILS, &text)])
}
