//! Posture checks: one file per check (`PA001`...), each with `pub const META: RuleMeta` and the verb
//! `pub fn check(ctx: &PostureContext) -> Report`: reading an [`AccountSnapshot`], it returns findings, or
//! says why it could not be evaluated ([`Report::missing`]: a snapshot file was missing). A check is
//! registered by one line in the `register!` block below: its module and its [`Section`].
//!
//! Compliance ids name CIS AWS Foundations Benchmark v3.0.0 controls (`CIS-1.14`) and AWS Security
//! Hub controls (`IAM.3`, `CloudTrail.1`). "Now" is part of the [`PostureContext`], by default the
//! credential report's generation time, so an audit of a saved snapshot gives the same findings
//! whenever it runs.
//!
//! Each check belongs to a [`Section`]; [`audit`] runs them all and scores each section (see
//! [`SectionScore`]).

use chrono::{DateTime, Utc};
use serde::Serialize;
use trailguard_account::{effective_principals, AccountSnapshot, EffectivePrincipal};

use crate::finding::{Evidence, Finding, FindingSource, Resource, Severity};
use crate::meta::RuleMeta;
use crate::rule::{FindingBuilder, Report};

pub mod policy_facts;

crate::registry::register! { posture:
    password_policy_weak in PasswordPolicy,
    root_mfa_disabled in Root,
    root_hardware_mfa_missing in Root,
    root_access_keys in Root,
    root_used_recently in Root,
    console_user_without_mfa in UsersAndCredentials,
    mfa_device_not_enabled in UsersAndCredentials,
    password_unused in UsersAndCredentials,
    access_key_unused in UsersAndCredentials,
    access_key_not_rotated in UsersAndCredentials,
    multiple_active_access_keys in UsersAndCredentials,
    unused_user in UsersAndCredentials,
    user_direct_policies in PrincipalsAndPolicies,
    full_admin_principal in PrincipalsAndPolicies,
    overprivileged_principal in PrincipalsAndPolicies,
    inline_role_policy_broad in PrincipalsAndPolicies,
    support_role_missing in PrincipalsAndPolicies,
    cloudtrail_multi_region_missing in Logging,
    cloudtrail_log_validation_disabled in Logging,
    cloudtrail_not_kms_encrypted in Logging,
    cloudtrail_global_events_excluded in Logging,
    access_analyzer_disabled in Account,
    server_certificate_expired in Account,
    account_alias_weak in Account,
}

#[cfg(test)]
pub(crate) mod testkit;

/// The part of the account a check looks at; the audit scores each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    PasswordPolicy,
    Root,
    UsersAndCredentials,
    PrincipalsAndPolicies,
    Logging,
    Account,
}

impl Section {
    pub const ALL: [Section; 6] = [
        Section::PasswordPolicy,
        Section::Root,
        Section::UsersAndCredentials,
        Section::PrincipalsAndPolicies,
        Section::Logging,
        Section::Account,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Section::PasswordPolicy => "Password policy",
            Section::Root => "Root account",
            Section::UsersAndCredentials => "Users & credentials",
            Section::PrincipalsAndPolicies => "Principals & policies",
            Section::Logging => "Logging",
            Section::Account => "Account",
        }
    }
}

/// What a check needs: the snapshot, the audit's "now", and the principals' effective policies.
pub struct PostureContext<'a> {
    pub snapshot: &'a AccountSnapshot,
    pub now: DateTime<Utc>,
    /// Empty when the authorization details are missing.
    pub principals: Vec<EffectivePrincipal>,
    facts: std::sync::OnceLock<Vec<policy_facts::PrincipalFacts>>,
}

impl<'a> PostureContext<'a> {
    /// A context whose "now" is `now`, else the credential report's generation time, else the clock.
    pub fn new(snapshot: &'a AccountSnapshot, now: Option<DateTime<Utc>>) -> PostureContext<'a> {
        let now = now
            .or_else(|| snapshot.reference_time())
            .unwrap_or_else(Utc::now);
        let principals = snapshot
            .authorization
            .as_ref()
            .map(effective_principals)
            .unwrap_or_default();
        PostureContext {
            snapshot,
            now,
            principals,
            facts: std::sync::OnceLock::new(),
        }
    }

    /// The policy engine's view of every principal, computed on first use.
    pub fn facts(&self) -> &[policy_facts::PrincipalFacts] {
        self.facts
            .get_or_init(|| policy_facts::compute(&self.principals))
    }

    pub fn account(&self) -> Option<&str> {
        self.snapshot.account_id.as_deref()
    }

    /// The account's own ARN-like id for account-level findings.
    pub fn account_resource(&self) -> Resource {
        let account = self.account().unwrap_or("unknown");
        Resource {
            kind: "AwsAccount".into(),
            id: format!("arn:aws:iam::{account}:root"),
            name: self
                .snapshot
                .aliases
                .as_ref()
                .and_then(|a| a.first().cloned()),
        }
    }

    /// Days from an AWS timestamp to now; `None` when the text is not a time (`N/A`, `no_information`).
    pub fn days_since(&self, text: &str) -> Option<i64> {
        trailguard_account::time::parse_aws_time(text)
            .map(|t| trailguard_account::time::days_between(t, self.now))
    }

    /// Starts a finding of `meta` on `resource`; `discriminator` keeps several findings of one check on
    /// one resource apart (e.g. the key slot).
    pub fn finding(
        &self,
        meta: &'static RuleMeta,
        resource: Resource,
        discriminator: &str,
        message: String,
    ) -> Finding {
        let account = self.account().unwrap_or("");
        FindingBuilder::new(
            meta,
            FindingSource::Posture,
            &[account, &resource.id, discriminator],
        )
        .account(self.account())
        .resource(resource)
        .message(message)
        .fix_summary(first_sentence(meta.doc.fix))
        .build()
    }
}

/// `today`, `1 day ago`, `N days ago`, for messages.
pub fn ago(days: i64) -> String {
    match days {
        i64::MIN..=0 => "today".to_owned(),
        1 => "1 day ago".to_owned(),
        n => format!("{n} days ago"),
    }
}

/// An IAM user resource.
pub fn user_resource(arn: &str, name: &str) -> Resource {
    Resource {
        kind: "AwsIamUser".into(),
        id: arn.to_owned(),
        name: Some(name.to_owned()),
    }
}

/// A piece of evidence.
pub fn evidence(path: impl Into<String>, value: impl Into<serde_json::Value>) -> Evidence {
    Evidence {
        path: path.into(),
        value: value.into(),
    }
}

fn first_sentence(text: &str) -> String {
    match text.find(". ") {
        Some(end) => text[..=end].trim().to_owned(),
        None => text.trim().to_owned(),
    }
}

/// A registered check.
#[derive(Clone, Copy)]
pub struct PostureCheck {
    pub meta: &'static RuleMeta,
    pub section: Section,
    /// The verb: the check's findings on the snapshot, or why it could not be evaluated.
    pub check: fn(&PostureContext<'_>) -> Report,
}

/// A check that could not run, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotEvaluated {
    pub rule_id: String,
    pub title: String,
    pub reason: String,
}

/// One section's score: the severity-weighted share of its evaluated checks that passed.
///
/// Weights: critical 10, high 6, medium 3, low 1, info 0.5 (the check's baseline severity). A
/// section with no evaluated check has no score (`null` in JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SectionScore {
    pub section: Section,
    pub title: String,
    /// 0–100, rounded; `None` when nothing in the section could be evaluated.
    pub score: Option<u32>,
    pub checks_passed: usize,
    pub checks_failed: usize,
    pub checks_not_evaluated: usize,
    pub findings: usize,
}

/// Everything an audit found.
#[derive(Debug, Clone, PartialEq)]
pub struct PostureReport {
    /// Findings in check order, then in each check's order.
    pub findings: Vec<Finding>,
    pub not_evaluated: Vec<NotEvaluated>,
    pub sections: Vec<SectionScore>,
    /// The weighted score over every evaluated check (same weights).
    pub overall: Option<u32>,
}

fn weight(severity: Severity) -> f64 {
    match severity {
        Severity::Critical => 10.0,
        Severity::High => 6.0,
        Severity::Medium => 3.0,
        Severity::Low => 1.0,
        Severity::Info => 0.5,
    }
}

/// Runs every check and scores each section.
pub fn audit(ctx: &PostureContext<'_>) -> PostureReport {
    run_checks(ctx, CHECKS)
}

/// Runs the given checks (a subset for tests or `--rule` filters) and scores each section.
pub fn run_checks(ctx: &PostureContext<'_>, checks: &[PostureCheck]) -> PostureReport {
    let mut findings = Vec::new();
    let mut not_evaluated = Vec::new();
    // Per section: (passed weight, evaluated weight, passed, failed, not evaluated, findings).
    let mut tallies = vec![(0.0f64, 0.0f64, 0usize, 0usize, 0usize, 0usize); Section::ALL.len()];
    for check in checks {
        let index = Section::ALL
            .iter()
            .position(|s| *s == check.section)
            .unwrap_or(0);
        let tally = &mut tallies[index];
        let report = (check.check)(ctx);
        match report.not_evaluated_reason() {
            None => {
                let found = report.into_findings();
                let w = weight(check.meta.severity);
                tally.1 += w;
                // Info findings are observations (e.g. who may change the alias), not failures.
                if found.iter().all(|f| f.severity == Severity::Info) {
                    tally.0 += w;
                    tally.2 += 1;
                } else {
                    tally.3 += 1;
                }
                tally.5 += found.len();
                findings.extend(found);
            }
            Some(reason) => {
                tally.4 += 1;
                not_evaluated.push(NotEvaluated {
                    rule_id: check.meta.code.to_owned(),
                    title: check.meta.title.to_owned(),
                    reason: reason.to_owned(),
                });
            }
        }
    }
    let score =
        |passed: f64, total: f64| (total > 0.0).then(|| (100.0 * passed / total).round() as u32);
    let sections = Section::ALL
        .iter()
        .zip(&tallies)
        .filter(|(_, t)| t.2 + t.3 + t.4 > 0)
        .map(|(section, t)| SectionScore {
            section: *section,
            title: section.title().to_owned(),
            score: score(t.0, t.1),
            checks_passed: t.2,
            checks_failed: t.3,
            checks_not_evaluated: t.4,
            findings: t.5,
        })
        .collect();
    let (passed, total) = tallies
        .iter()
        .fold((0.0, 0.0), |(p, t), tally| (p + tally.0, t + tally.1));
    PostureReport {
        findings,
        not_evaluated,
        sections,
        overall: score(passed, total),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_snapshot_evaluates_nothing_and_scores_nothing() {
        let snapshot = AccountSnapshot::default();
        let ctx = PostureContext::new(&snapshot, Some(testkit::now()));
        let report = audit(&ctx);
        assert!(report.findings.is_empty());
        assert_eq!(report.not_evaluated.len(), CHECKS.len());
        assert!(report.sections.iter().all(|s| s.score.is_none()));
        assert_eq!(report.overall, None);
    }

    #[test]
    fn scores_weigh_failed_checks_by_severity() {
        // A weak password policy fails PA001 (medium); nothing else in that section.
        let snapshot = testkit::snapshot(&[(
            trailguard_account::snapshot::PASSWORD_POLICY,
            r#"{"PasswordPolicy":{"MinimumPasswordLength":8}}"#,
        )]);
        let ctx = PostureContext::new(&snapshot, Some(testkit::now()));
        let report = audit(&ctx);
        let password = report
            .sections
            .iter()
            .find(|s| s.section == Section::PasswordPolicy)
            .unwrap();
        assert_eq!((password.score, password.checks_failed), (Some(0), 1));
        assert_eq!(report.overall, Some(0));
    }
}
