//! Where alerts go: `trailguard.toml` and `--alert KIND=TARGET`.
//!
//! ```toml
//! [alerts]
//! fold_window = "1h"        # repeats of a rule and principal within it fold into one digest
//! retry_base = "5s"         # first retry wait; doubles per attempt, at most an hour
//!
//! [[alerts.destination]]
//! kind = "slack"
//! url_env = "SLACK_WEBHOOK_URL"   # secrets come from the environment, named here, never printed
//! min_severity = "high"
//! rate_per_minute = 20
//!
//! [[alerts.destination]]
//! kind = "webhook"
//! url = "https://hooks.example.com/trailguard"
//! secret_env = "TRAILGUARD_WEBHOOK_SECRET"
//! rules = ["CT001", "CT006"]
//! accounts = ["111122223333"]
//!
//! [[alerts.destination]]
//! kind = "sns"
//! topic_arn = "arn:aws:sns:us-east-1:111122223333:trailguard-alerts"   # or topic_arn_env
//! min_severity = "critical"
//!
//! [[alerts.destination]]
//! kind = "file"
//! path = "alerts.jsonl"
//! ```
//! `--alert slack=URL|webhook=URL|sns=TOPIC_ARN|file=PATH` adds a destination with `--alert-min-severity` as its
//! route (a webhook given this way is signed with `$TRAILGUARD_WEBHOOK_SECRET` when set). A
//! destination's name — the key of its rows in the outbox — is its `name`, or its kind and a hash of
//! its target, so the same target keeps its outbox across runs without printing a secret URL.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use serde::Deserialize;
use trailguard_rules::{Finding, Severity};

/// The default fold window: one alert, then one digest, per rule and principal per hour.
pub const DEFAULT_FOLD_WINDOW: Duration = Duration::from_secs(3600);

/// The environment variable that names the config file when `--config` does not.
pub const CONFIG_ENV: &str = "TRAILGUARD_CONFIG";

/// The secret of a webhook given with `--alert webhook=URL`.
pub const WEBHOOK_SECRET_ENV: &str = "TRAILGUARD_WEBHOOK_SECRET";

/// Which findings a destination takes; empty lists take all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Route {
    pub min_severity: Option<Severity>,
    pub rules: Vec<String>,
    pub accounts: Vec<String>,
}

/// Where messages are sent. URLs and secrets are kept out of `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub enum Target {
    Slack {
        url: String,
    },
    Webhook {
        url: String,
        secret: Option<String>,
    },
    File {
        path: PathBuf,
    },
    /// An SNS topic, reached with the command's AWS settings (`--profile`, `--region`,
    /// `--endpoint-url`); the region is the topic's own unless `--region` says otherwise.
    Sns {
        topic_arn: String,
    },
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Slack { .. } => f.write_str("Slack"),
            Target::Webhook { secret, .. } => write!(f, "Webhook(signed: {})", secret.is_some()),
            Target::File { path } => write!(f, "File({})", path.display()),
            Target::Sns { topic_arn } => write!(f, "Sns({topic_arn})"),
        }
    }
}

impl Target {
    fn kind(&self) -> &'static str {
        match self {
            Target::Slack { .. } => "slack",
            Target::Webhook { .. } => "webhook",
            Target::File { .. } => "file",
            Target::Sns { .. } => "sns",
        }
    }

    /// `kind-HASH`: a stable name that does not reveal the target.
    fn default_name(&self) -> String {
        let target = match self {
            Target::Slack { url } | Target::Webhook { url, .. } => url.clone(),
            Target::File { path } => path.display().to_string(),
            Target::Sns { topic_arn } => topic_arn.clone(),
        };
        let id = Finding::stable_id(&["destination", self.kind(), &target]);
        format!("{}-{}", self.kind(), &id.trim_start_matches("tg-")[..8])
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub name: String,
    pub target: Target,
    pub route: Route,
    pub rate_per_minute: Option<u32>,
}

/// Every destination and the shared timing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertSettings {
    pub destinations: Vec<Destination>,
    pub fold_window: Duration,
    pub retry_base: Duration,
}

impl Default for AlertSettings {
    fn default() -> AlertSettings {
        AlertSettings {
            destinations: Vec::new(),
            fold_window: DEFAULT_FOLD_WINDOW,
            retry_base: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    alerts: Option<AlertsSection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertsSection {
    fold_window: Option<String>,
    retry_base: Option<String>,
    #[serde(default)]
    destination: Vec<DestinationEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DestinationEntry {
    kind: String,
    name: Option<String>,
    url: Option<String>,
    url_env: Option<String>,
    secret_env: Option<String>,
    path: Option<PathBuf>,
    topic_arn: Option<String>,
    topic_arn_env: Option<String>,
    min_severity: Option<String>,
    #[serde(default)]
    rules: Vec<String>,
    #[serde(default)]
    accounts: Vec<String>,
    rate_per_minute: Option<u32>,
}

/// Reads `30s`, `5m`, `1h`, `2d`, or a number of seconds.
pub fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .with_context(|| format!("`{text}` is not a duration (30s, 5m, 1h, 2d)"))?;
    let unit = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => bail!("`{text}` is not a duration (30s, 5m, 1h, 2d)"),
    };
    Ok(Duration::from_secs(number.saturating_mul(unit)))
}

fn env_secret(name: &str, what: &str) -> anyhow::Result<String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .with_context(|| format!("{what}: environment variable `{name}` is not set"))
}

impl DestinationEntry {
    fn into_destination(self, index: usize) -> anyhow::Result<Destination> {
        let what = format!("alerts.destination[{index}] ({})", self.kind);
        let url = match (&self.url, &self.url_env) {
            (Some(url), None) => Some(url.clone()),
            (None, Some(name)) => Some(env_secret(name, &what)?),
            (Some(_), Some(_)) => bail!("{what}: give `url` or `url_env`, not both"),
            (None, None) => None,
        };
        let topic_arn = match (&self.topic_arn, &self.topic_arn_env) {
            (Some(arn), None) => Some(arn.clone()),
            (None, Some(name)) => Some(env_secret(name, &what)?),
            (Some(_), Some(_)) => bail!("{what}: give `topic_arn` or `topic_arn_env`, not both"),
            (None, None) => None,
        };
        if topic_arn.is_some() && self.kind != "sns" {
            bail!("{what}: `topic_arn` is for SNS destinations");
        }
        let target = match (self.kind.as_str(), url, self.path) {
            ("slack", Some(url), None) => Target::Slack {
                url: check_url(&url, &what)?,
            },
            ("webhook", Some(url), None) => Target::Webhook {
                url: check_url(&url, &what)?,
                secret: self
                    .secret_env
                    .as_deref()
                    .map(|name| env_secret(name, &what))
                    .transpose()?,
            },
            ("file", None, Some(path)) => Target::File { path },
            ("slack" | "webhook", _, _) => {
                bail!("{what}: needs `url` or `url_env` (and no `path`)")
            }
            ("file", _, _) => bail!("{what}: needs `path` (and no `url`)"),
            ("sns", None, None) => Target::Sns {
                topic_arn: check_topic_arn(
                    topic_arn
                        .as_deref()
                        .with_context(|| format!("{what}: needs `topic_arn` or `topic_arn_env`"))?,
                    &what,
                )?,
            },
            ("sns", _, _) => bail!("{what}: needs `topic_arn` (and no `url` or `path`)"),
            (other, _, _) => bail!("{what}: unknown kind `{other}` (slack, webhook, sns, file)"),
        };
        if self.secret_env.is_some() && !matches!(target, Target::Webhook { .. }) {
            bail!("{what}: `secret_env` is for webhooks");
        }
        let min_severity = self
            .min_severity
            .as_deref()
            .map(|s| {
                s.parse::<Severity>()
                    .map_err(|e| anyhow::anyhow!("{what}: {e}"))
            })
            .transpose()?;
        Ok(Destination {
            name: self.name.unwrap_or_else(|| target.default_name()),
            target,
            route: Route {
                min_severity,
                rules: self.rules,
                accounts: self.accounts,
            },
            rate_per_minute: self.rate_per_minute,
        })
    }
}

fn check_url(url: &str, what: &str) -> anyhow::Result<String> {
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(url.to_owned())
    } else {
        // Not the URL itself: it may carry a token.
        bail!("{what}: the URL must start with https:// or http://")
    }
}

/// An SNS topic ARN: `arn:PARTITION:sns:REGION:ACCOUNT:NAME`.
fn check_topic_arn(arn: &str, what: &str) -> anyhow::Result<String> {
    let parts: Vec<&str> = arn.split(':').collect();
    let well_formed = parts.len() == 6
        && parts[0] == "arn"
        && parts[2] == "sns"
        && parts.iter().skip(3).all(|p| !p.is_empty());
    if !well_formed {
        bail!(
            "{what}: `{}` is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)",
            trailguard_rules::output::visible(arn)
        );
    }
    Ok(arn.to_owned())
}

/// The region in a topic ARN (checked by [`check_topic_arn`]).
pub fn topic_region(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

/// Parses `--alert KIND=TARGET`.
pub fn parse_alert_flag(text: &str, min_severity: Option<Severity>) -> anyhow::Result<Destination> {
    let Some((kind, value)) = text.split_once('=') else {
        bail!(
            "--alert `{kind}`: use KIND=TARGET (slack=URL, webhook=URL, sns=TOPIC_ARN, file=PATH)",
            kind = text.split(':').next().unwrap_or("")
        );
    };
    let what = format!("--alert {kind}=…");
    let target = match kind {
        "slack" => Target::Slack {
            url: check_url(value, &what)?,
        },
        "webhook" => Target::Webhook {
            url: check_url(value, &what)?,
            secret: std::env::var(WEBHOOK_SECRET_ENV)
                .ok()
                .filter(|v| !v.is_empty()),
        },
        "file" => Target::File {
            path: PathBuf::from(value),
        },
        "sns" => Target::Sns {
            topic_arn: check_topic_arn(value, &what)?,
        },
        other => bail!("--alert: unknown kind `{other}` (slack, webhook, sns, file)"),
    };
    Ok(Destination {
        name: target.default_name(),
        target,
        route: Route {
            min_severity,
            ..Route::default()
        },
        rate_per_minute: None,
    })
}

/// The settings of a run: the config file (`--config`, else `$TRAILGUARD_CONFIG`, else
/// `./trailguard.toml` when it exists) and the `--alert` flags.
pub fn load(
    config: Option<&Path>,
    alerts: &[String],
    min_severity: Option<Severity>,
) -> anyhow::Result<AlertSettings> {
    let from_env = std::env::var_os(CONFIG_ENV).map(PathBuf::from);
    let path = match (config, from_env) {
        (Some(path), _) => Some(path.to_path_buf()),
        (None, Some(path)) => Some(path),
        (None, None) => Some(PathBuf::from("trailguard.toml")).filter(|p| p.exists()),
    };
    let mut settings = match &path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read config `{}`", path.display()))?;
            parse_config(&text).with_context(|| format!("config `{}`", path.display()))?
        }
        None => AlertSettings::default(),
    };
    for flag in alerts {
        settings
            .destinations
            .push(parse_alert_flag(flag, min_severity)?);
    }
    let mut names: Vec<&str> = settings
        .destinations
        .iter()
        .map(|d| d.name.as_str())
        .collect();
    names.sort_unstable();
    if let Some(pair) = names.windows(2).find(|w| w[0] == w[1]) {
        bail!("two alert destinations are named `{}`", pair[0]);
    }
    Ok(settings)
}

/// Parses the text of a config file.
pub fn parse_config(text: &str) -> anyhow::Result<AlertSettings> {
    let file: ConfigFile = toml::from_str(text)?;
    let mut settings = AlertSettings::default();
    let Some(alerts) = file.alerts else {
        return Ok(settings);
    };
    if let Some(window) = &alerts.fold_window {
        settings.fold_window = parse_duration(window).context("alerts.fold_window")?;
    }
    if let Some(base) = &alerts.retry_base {
        settings.retry_base = parse_duration(base).context("alerts.retry_base")?;
    }
    for (index, entry) in alerts.destination.into_iter().enumerate() {
        settings.destinations.push(entry.into_destination(index)?);
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_file_reads_routes_and_secrets_from_the_environment() {
        std::env::set_var("TG_TEST_HOOK_SECRET", "s3cret");
        let settings = parse_config(
            r#"
            [alerts]
            fold_window = "30m"
            [[alerts.destination]]
            kind = "webhook"
            url = "http://127.0.0.1:9/hook"
            secret_env = "TG_TEST_HOOK_SECRET"
            min_severity = "high"
            rules = ["CT006"]
            accounts = ["111122223333"]
            rate_per_minute = 5
            [[alerts.destination]]
            kind = "file"
            name = "audit-log"
            path = "alerts.jsonl"
            "#,
        )
        .unwrap();
        assert_eq!(settings.fold_window, Duration::from_secs(1800));
        let hook = &settings.destinations[0];
        assert_eq!(
            hook.target,
            Target::Webhook {
                url: "http://127.0.0.1:9/hook".into(),
                secret: Some("s3cret".into())
            }
        );
        assert_eq!(hook.route.min_severity, Some(Severity::High));
        assert_eq!(hook.rate_per_minute, Some(5));
        assert!(hook.name.starts_with("webhook-"), "{}", hook.name);
        assert!(!format!("{hook:?}").contains("s3cret"));
        assert!(!format!("{hook:?}").contains("127.0.0.1"));
        assert_eq!(settings.destinations[1].name, "audit-log");
    }

    #[test]
    fn mistakes_in_a_config_are_named_without_the_secret() {
        let err = parse_config(
            "[alerts]\n[[alerts.destination]]\nkind = \"slack\"\nurl_env = \"TG_TEST_UNSET_VAR\"\n",
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("TG_TEST_UNSET_VAR"), "{err:#}");
        let err = parse_config(
            "[alerts]\n[[alerts.destination]]\nkind = \"slack\"\nurl = \"ftp://x/TOKEN\"\n",
        )
        .unwrap_err();
        assert!(!format!("{err:#}").contains("TOKEN"), "{err:#}");
        assert!(parse_config("[alerts]\nfold = \"1h\"\n").is_err());
        assert!(parse_alert_flag("pager=x", None).is_err());
        assert!(parse_alert_flag("slack", None).is_err());
        let file = parse_alert_flag("file=out.jsonl", Some(Severity::High)).unwrap();
        assert_eq!(file.route.min_severity, Some(Severity::High));
        assert_eq!(
            file.name,
            parse_alert_flag("file=out.jsonl", None).unwrap().name
        );
        assert_eq!(parse_duration("2d").unwrap(), Duration::from_secs(172_800));
        assert!(parse_duration("1w").is_err());
    }
}
