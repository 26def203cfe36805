//! Mutes: what an operator has decided not to be told about, and why.
//!
//! A [`Mute`] names a finding by any of its fields — rule code (or name), principal ARN glob, account,
//! region, resource ARN glob, event name, source IP CIDR — and every field it names must match (a field
//! the finding lacks never matches). Globs are IAM's (`*` any run, `?` one character, nothing else:
//! `trailguard_policy::glob`), so a pattern cannot mean more than it shows and costs linear time. A
//! mute must name at least one field, carry a reason, and expire unless made permanent; who added it
//! and when is kept.
//!
//! Mutes live in the store ([`crate::store::alerting`]) so every worker sees the same ones. A command
//! loads them once as a [`MuteSet`] at its start, which splits them into active and expired (an
//! expired mute mutes nothing and is reported loudly), and calls [`MuteSet::apply`] on each finding:
//! a muted finding is still stored (with the mute's id) and counted, but hidden from reports unless
//! `--show-muted`, and never alerted.

use chrono::{DateTime, NaiveDate, Utc};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use trailguard_policy::glob::glob_match;
use trailguard_rules::Finding;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MuteError {
    #[error("a mute needs a reason (--reason)")]
    NoReason,
    #[error("a mute needs an expiry (--expires DATE) or --permanent")]
    NoExpiry,
    #[error("a mute cannot both expire and be permanent")]
    ExpiringPermanent,
    #[error("a mute must name at least one of: rule, principal, account, region, resource, event name, source IP")]
    MatchesEverything,
    #[error("expiry `{0}` is not a date (YYYY-MM-DD) or an RFC 3339 time")]
    BadExpiry(String),
    #[error("source IP `{0}` is not an address or a CIDR block")]
    BadCidr(String),
    #[error("account `{0}` is not a 12-digit AWS account id")]
    BadAccount(String),
    #[error("`{field}` must not contain control characters")]
    ControlCharacter { field: &'static str },
}

/// What a mute matches. Empty fields match anything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MuteMatch {
    /// A rule code (`CT006`) or rule name, compared without regard to case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// A glob over the actor's ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// A glob over the resource's ARN (or id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_name: Option<String>,
    /// An address or CIDR block the caller's source IP must fall in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
}

/// A mute as the store keeps it and `mute export` writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mute {
    /// `mute-` and a hash of what it matches: importing the same mute twice keeps one.
    pub id: String,
    #[serde(flatten)]
    pub matches: MuteMatch,
    pub reason: String,
    /// RFC 3339 UTC; `None` for a permanent mute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    pub created_by: String,
    pub created_at: String,
}

/// A mute as `mute add` or a reviewed file (`mute export`/`import`) states it, before it is checked.
/// Unknown keys are refused: a misspelt matcher must not silently widen a mute.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MuteRequest {
    /// Written by `export` for the reader; recomputed from the matcher on import.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    #[serde(default)]
    pub reason: String,
    /// A date (`2027-03-01`: the mute ends at its start, UTC) or an RFC 3339 time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub permanent: bool,
    /// Kept from a file; otherwise the user running the command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
}

impl From<&Mute> for MuteRequest {
    fn from(mute: &Mute) -> MuteRequest {
        let m = mute.matches.clone();
        MuteRequest {
            id: Some(mute.id.clone()),
            rule: m.rule,
            principal: m.principal,
            account: m.account,
            region: m.region,
            resource: m.resource,
            event_name: m.event_name,
            source_ip: m.source_ip,
            reason: mute.reason.clone(),
            expires: mute.expires_at.clone(),
            permanent: mute.expires_at.is_none(),
            created_by: Some(mute.created_by.clone()),
            created_at: Some(mute.created_at.clone()),
        }
    }
}

impl MuteRequest {
    /// Checks the request and makes the mute; `who` and `now` are used unless the request carries them.
    pub fn into_mute(self, who: &str, now: DateTime<Utc>) -> Result<Mute, MuteError> {
        let reason = self.reason.trim().to_owned();
        if reason.is_empty() {
            return Err(MuteError::NoReason);
        }
        let expires_at = match (self.expires.as_deref(), self.permanent) {
            (Some(_), true) => return Err(MuteError::ExpiringPermanent),
            (None, false) => return Err(MuteError::NoExpiry),
            (None, true) => None,
            (Some(text), false) => Some(stamp(parse_expiry(text)?)),
        };
        let m = MuteMatch {
            rule: self.rule,
            principal: self.principal,
            account: self.account,
            region: self.region,
            resource: self.resource,
            event_name: self.event_name,
            source_ip: self.source_ip,
        };
        let fields = [
            ("rule", &m.rule),
            ("principal", &m.principal),
            ("account", &m.account),
            ("region", &m.region),
            ("resource", &m.resource),
            ("event name", &m.event_name),
            ("source IP", &m.source_ip),
        ];
        if fields
            .iter()
            .all(|(_, v)| v.as_deref().is_none_or(str::is_empty))
        {
            return Err(MuteError::MatchesEverything);
        }
        for (field, value) in fields
            .iter()
            .chain([("reason", &Some(reason.clone()))].iter())
        {
            if value
                .as_deref()
                .is_some_and(|v| v.chars().any(char::is_control))
            {
                return Err(MuteError::ControlCharacter { field });
            }
        }
        if let Some(account) = &m.account {
            if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
                return Err(MuteError::BadAccount(account.clone()));
            }
        }
        if let Some(cidr) = &m.source_ip {
            parse_cidr(cidr)?;
        }
        Ok(Mute {
            id: mute_id(&m),
            matches: m,
            reason,
            expires_at,
            created_by: self.created_by.unwrap_or_else(|| who.to_owned()),
            created_at: self.created_at.unwrap_or_else(|| stamp(now)),
        })
    }
}

/// The id of a mute: the same matcher always gets the same id, so an import is idempotent.
fn mute_id(m: &MuteMatch) -> String {
    let field = |v: &Option<String>| v.clone().unwrap_or_default();
    let hashed = Finding::stable_id(&[
        "mute",
        &field(&m.rule).to_ascii_uppercase(),
        &field(&m.principal),
        &field(&m.account),
        &field(&m.region),
        &field(&m.resource),
        &field(&m.event_name),
        &field(&m.source_ip),
    ]);
    format!("mute-{}", hashed.trim_start_matches("tg-"))
}

/// How the store writes a time: RFC 3339 UTC to the millisecond, fixed width, so text order is time order.
pub fn stamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A time read back from the store (or any RFC 3339 text).
pub fn parse_stamp(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn parse_expiry(text: &str) -> Result<DateTime<Utc>, MuteError> {
    if let Some(time) = parse_stamp(text) {
        return Ok(time);
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|day| day.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| MuteError::BadExpiry(text.to_owned()))
}

fn parse_cidr(text: &str) -> Result<IpNet, MuteError> {
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| MuteError::BadCidr(text.to_owned()))
}

impl Mute {
    /// Whether the mute has expired at `now`.
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at
            .as_deref()
            .is_some_and(|at| parse_stamp(at).is_none_or(|at| at <= now))
    }

    /// Whether every field the mute names matches the finding.
    pub fn matches(&self, finding: &Finding) -> bool {
        let m = &self.matches;
        let actor = finding.actor.as_ref();
        let exact = |want: &Option<String>, have: Option<&str>| {
            want.as_deref()
                .is_none_or(|want| have.is_some_and(|have| want == have))
        };
        let glob = |want: &Option<String>, have: Option<&str>| {
            want.as_deref().is_none_or(|want| {
                have.is_some_and(|have| glob_match(want.as_bytes(), have.as_bytes(), false))
            })
        };
        let rule = m.rule.as_deref().is_none_or(|rule| {
            rule.eq_ignore_ascii_case(&finding.rule_id)
                || rule.eq_ignore_ascii_case(&finding.rule_name)
        });
        let source_ip = m.source_ip.as_deref().is_none_or(|cidr| {
            let ip = actor
                .and_then(|a| a.source_ip.as_deref())
                .and_then(|ip| ip.parse::<std::net::IpAddr>().ok());
            match (parse_cidr(cidr), ip) {
                (Ok(net), Some(ip)) => net.contains(&ip),
                _ => false,
            }
        });
        rule && source_ip
            && exact(&m.account, finding.account.as_deref())
            && exact(&m.region, finding.region.as_deref())
            && exact(&m.event_name, finding.event_name.as_deref())
            && glob(&m.principal, actor.and_then(|a| a.arn.as_deref()))
            && glob(
                &m.resource,
                finding.resource.as_ref().map(|r| r.id.as_str()),
            )
    }

    /// The CT055 finding of this mute's expiry (`None` for a permanent mute): its id is the mute's id
    /// and expiry, so every worker that notices the expiry raises the same finding.
    pub fn expiry_finding(&self) -> Option<Finding> {
        use trailguard_rules::rules::cloudtrail::mute_expired;
        let expires_at = self.expires_at.as_deref()?;
        let m = &self.matches;
        // Named as `mute add` takes them, so the finding's renew command is the same mute.
        let matches: Vec<(&str, &str)> = [
            ("rule", &m.rule),
            ("principal", &m.principal),
            ("account", &m.account),
            ("region", &m.region),
            ("resource", &m.resource),
            ("event-name", &m.event_name),
            ("source-ip", &m.source_ip),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value.as_deref()?)))
        .collect();
        Some(mute_expired::finding(&mute_expired::ExpiredMute {
            id: &self.id,
            expires_at,
            matches: &matches,
            reason: &self.reason,
            created_by: &self.created_by,
            created_at: &self.created_at,
        }))
    }

    /// One line for a person: id, what it matches, until when, why.
    pub fn describe(&self) -> String {
        let m = &self.matches;
        let mut parts = Vec::new();
        for (name, value) in [
            ("rule", &m.rule),
            ("principal", &m.principal),
            ("account", &m.account),
            ("region", &m.region),
            ("resource", &m.resource),
            ("event", &m.event_name),
            ("source-ip", &m.source_ip),
        ] {
            if let Some(value) = value {
                parts.push(format!("{name}={value}"));
            }
        }
        let until = self.expires_at.as_deref().unwrap_or("permanent");
        format!(
            "{} {} until {until}: {} (by {} at {})",
            self.id,
            parts.join(" "),
            self.reason,
            self.created_by,
            self.created_at
        )
    }
}

/// The mutes a run applies: active ones, and the expired ones it must report.
#[derive(Debug, Clone, Default)]
pub struct MuteSet {
    pub active: Vec<Mute>,
    pub expired: Vec<Mute>,
}

impl MuteSet {
    pub fn new(mutes: Vec<Mute>, now: DateTime<Utc>) -> MuteSet {
        let (expired, active) = mutes.into_iter().partition(|m| m.expired(now));
        MuteSet { active, expired }
    }

    /// The first active mute that matches the finding.
    pub fn apply(&self, finding: &Finding) -> Option<&Mute> {
        self.active.iter().find(|m| m.matches(finding))
    }

    /// Says, on stderr, which mutes have expired and no longer mute anything.
    pub fn warn_expired(&self) {
        for mute in &self.expired {
            eprintln!(
                "warning: mute EXPIRED and no longer applied: {} (renew it with `trailguard mute add`, or `trailguard mute remove {}`)",
                trailguard_rules::output::visible(&mute.describe()),
                mute.id
            );
        }
    }
}

/// Who runs this command, for `created_by`: `$TRAILGUARD_USER`, else `$USER`, else `unknown`.
pub fn current_user() -> String {
    ["TRAILGUARD_USER", "USER", "LOGNAME"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailguard_rules::{Actor, FindingSource, Resource, Severity};

    fn now() -> DateTime<Utc> {
        parse_stamp("2026-12-04T00:00:00Z").unwrap()
    }

    fn alias_finding(arn: &str, account: &str) -> Finding {
        let mut f = Finding::new(
            "tg-1",
            "CT006",
            "account-alias-changed",
            "Account alias changed",
            Severity::Medium,
            FindingSource::Cloudtrail,
            "alias changed",
        );
        f.account = Some(account.into());
        f.region = Some("us-east-1".into());
        f.event_name = Some("CreateAccountAlias".into());
        f.actor = Some(Actor {
            arn: Some(arn.into()),
            source_ip: Some("203.0.113.7".into()),
            ..Actor::default()
        });
        f.resource = Some(Resource {
            kind: "AwsAccount".into(),
            id: format!("arn:aws:iam::{account}:root"),
            name: None,
        });
        f
    }

    fn mute(matches: MuteMatch) -> Mute {
        MuteRequest {
            rule: matches.rule,
            principal: matches.principal,
            account: matches.account,
            region: matches.region,
            resource: matches.resource,
            event_name: matches.event_name,
            source_ip: matches.source_ip,
            reason: "IaC manages aliases".into(),
            expires: Some("2027-03-01".into()),
            ..MuteRequest::default()
        }
        .into_mute("alice", now())
        .unwrap()
    }

    #[test]
    fn principal_globs_match_at_their_edges_and_nowhere_else() {
        let m = mute(MuteMatch {
            rule: Some("ct006".into()),
            principal: Some("arn:aws:iam::*:role/terraform-*".into()),
            account: Some("111122223333".into()),
            ..MuteMatch::default()
        });
        let hit = |arn: &str, account: &str| m.matches(&alias_finding(arn, account));
        assert!(hit(
            "arn:aws:iam::111122223333:role/terraform-",
            "111122223333"
        ));
        assert!(hit(
            "arn:aws:iam::111122223333:role/terraform-ci",
            "111122223333"
        ));
        // Near misses: another account, a prefix that is not the glob's, case, a suffix after the role.
        assert!(!hit(
            "arn:aws:iam::111122223333:role/terraform-ci",
            "444455556666"
        ));
        assert!(!hit(
            "arn:aws:iam::111122223333:role/terraform",
            "111122223333"
        ));
        assert!(!hit(
            "arn:aws:iam::111122223333:role/Terraform-ci",
            "111122223333"
        ));
        assert!(!hit(
            "arn:aws:iam::111122223333:user/terraform-ci",
            "111122223333"
        ));
        assert!(!hit(
            "xarn:aws:iam::111122223333:role/terraform-ci",
            "111122223333"
        ));
        // `?` is one character, and regex syntax is literal.
        let q = mute(MuteMatch {
            principal: Some("arn:aws:iam::111122223333:role/ci-?".into()),
            ..MuteMatch::default()
        });
        assert!(q.matches(&alias_finding(
            "arn:aws:iam::111122223333:role/ci-1",
            "111122223333"
        )));
        assert!(!q.matches(&alias_finding(
            "arn:aws:iam::111122223333:role/ci-12",
            "111122223333"
        )));
        let dot = mute(MuteMatch {
            principal: Some("arn:aws:iam::.*".into()),
            ..MuteMatch::default()
        });
        assert!(!dot.matches(&alias_finding(
            "arn:aws:iam::111122223333:role/x",
            "111122223333"
        )));
    }

    #[test]
    fn every_named_field_must_match_and_a_missing_field_never_does() {
        let m = mute(MuteMatch {
            source_ip: Some("203.0.113.0/28".into()),
            event_name: Some("CreateAccountAlias".into()),
            region: Some("us-east-1".into()),
            resource: Some("arn:aws:iam::*:root".into()),
            ..MuteMatch::default()
        });
        let f = alias_finding("arn:aws:iam::1:role/x", "111122223333");
        assert!(m.matches(&f));
        let mut outside = f.clone();
        outside.actor.as_mut().unwrap().source_ip = Some("203.0.113.16".into());
        assert!(!m.matches(&outside));
        let mut service = f.clone();
        service.actor.as_mut().unwrap().source_ip = Some("iam.amazonaws.com".into());
        assert!(!m.matches(&service));
        let mut other_region = f.clone();
        other_region.region = Some("us-east-2".into());
        assert!(!m.matches(&other_region));
        let mut no_resource = f.clone();
        no_resource.resource = None;
        assert!(!m.matches(&no_resource));
        let single = mute(MuteMatch {
            source_ip: Some("203.0.113.7".into()),
            ..MuteMatch::default()
        });
        assert!(single.matches(&f));
    }

    #[test]
    fn a_mute_needs_a_reason_an_expiry_and_a_matcher() {
        let base = MuteRequest {
            rule: Some("CT006".into()),
            reason: "r".into(),
            expires: Some("2027-03-01".into()),
            ..MuteRequest::default()
        };
        let err = |change: fn(&mut MuteRequest)| {
            let mut r = base.clone();
            change(&mut r);
            r.into_mute("a", now()).unwrap_err()
        };
        assert_eq!(err(|r| r.reason = " ".into()), MuteError::NoReason);
        assert_eq!(err(|r| r.expires = None), MuteError::NoExpiry);
        assert_eq!(err(|r| r.permanent = true), MuteError::ExpiringPermanent);
        assert_eq!(err(|r| r.rule = None), MuteError::MatchesEverything);
        assert!(matches!(
            err(|r| r.expires = Some("soon".into())),
            MuteError::BadExpiry(_)
        ));
        assert!(matches!(
            err(|r| r.source_ip = Some("10.0.0.0/33".into())),
            MuteError::BadCidr(_)
        ));
        assert!(matches!(
            err(|r| r.account = Some("1111".into())),
            MuteError::BadAccount(_)
        ));
        let mut permanent = base.clone();
        permanent.expires = None;
        permanent.permanent = true;
        let m = permanent.into_mute("alice", now()).unwrap();
        assert_eq!(m.expires_at, None);
        assert_eq!(m.created_by, "alice");
        // The id depends on what is matched, not on the reason or who asked.
        let again = MuteRequest {
            reason: "other".into(),
            ..base.clone()
        };
        assert_eq!(
            again.into_mute("bob", now()).unwrap().id,
            base.into_mute("a", now()).unwrap().id
        );
    }

    #[test]
    fn an_expired_mute_stops_muting() {
        let m = mute(MuteMatch {
            rule: Some("CT006".into()),
            ..MuteMatch::default()
        });
        let f = alias_finding("arn:aws:iam::1:role/x", "111122223333");
        let before = MuteSet::new(vec![m.clone()], now());
        assert_eq!(before.apply(&f).map(|m| m.id.as_str()), Some(m.id.as_str()));
        let after = MuteSet::new(
            vec![m.clone()],
            parse_stamp("2027-03-01T00:00:00Z").unwrap(),
        );
        assert!(after.apply(&f).is_none());
        assert_eq!(after.expired, vec![m]);
    }
}
