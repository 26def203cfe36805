//! CT006 account-alias-created: who created an account alias, from where, with or without MFA, and whether
//! the alias is easy to guess.

use trailguard_event::Record;

use super::common::{call_failed, describe_caller, evidence, finding_for, request_field};
use crate::call::Call;
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{CloudTrailRule, EventContext, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT006",
    name: "account-alias-created",
    title: "Account alias created",
    family: Family::Cloudtrail,
    severity: Severity::Low,
    attack: &["T1589", "T1110"],
    compliance: &[],
    events: &[("iam.amazonaws.com", "CreateAccountAlias")],
    kb_entries: &["CreateAccountAlias"],
    doc: RuleDoc {
        what: "Every `CreateAccountAlias` call, with who made it (root, IAM user, role session, federated \
               user), from which address and whether the session used MFA. The finding is **info** for an \
               unremarkable alias and **medium** when the alias is guessable: it contains the account id, is \
               four characters or fewer, looks like a default (`aws`, `prod-account`, `company1`) or, once \
               separators, digits and environment words are removed, is a word from a bundled list of common \
               terms. Creation by the root user without MFA raises the severity one step.",
        why: "The alias becomes the sign-in URL `https://ALIAS.signin.aws.amazon.com/console`. A guessable alias \
              lets anyone confirm the account exists and aim password spraying and phishing at its sign-in page \
              (the URL answers differently for existing and unknown aliases). Aliases are global: a well-known \
              name also tells an attacker which company the account belongs to. Changing an alias is rare, so \
              the identity behind it is worth a look, especially the root user.",
        example: "`aws iam create-account-alias --account-alias prod` by the root user without MFA.",
        fix: "Choose an alias that does not reveal the company or environment and cannot be guessed (or use no \
              alias and sign in through IAM Identity Center). Replace a guessable alias: delete it and create \
              the new one in the same change.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateAccountAlias.html",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/console_account-alias.html",
        ],
    },
};

const COMMON_WORDS: &str = include_str!("account_alias_words.txt");

/// Words that, stripped from an alias, leave its distinctive part (`acme-prod-01` → `acme`).
const ENVIRONMENT_WORDS: &[&str] = &[
    "prod",
    "production",
    "dev",
    "development",
    "test",
    "testing",
    "stage",
    "staging",
    "qa",
    "uat",
    "sandbox",
    "aws",
    "account",
    "main",
    "master",
    "root",
    "admin",
    "org",
    "corp",
    "cloud",
];

/// Why an alias is guessable, or `None`.
pub fn guessable_reason(alias: &str, account_id: Option<&str>) -> Option<String> {
    let lower = alias.to_ascii_lowercase();
    if let Some(account) = account_id.filter(|a| !a.is_empty()) {
        if lower.contains(account) {
            return Some("it contains the account id".to_owned());
        }
    }
    if lower.chars().filter(|c| c.is_ascii_alphanumeric()).count() <= 4 {
        return Some("it is four characters or fewer".to_owned());
    }
    if lower.chars().all(|c| c.is_ascii_digit() || c == '-') {
        return Some("it is only digits".to_owned());
    }
    let is_common = |word: &str| {
        COMMON_WORDS
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .any(|w| w == word)
    };
    if is_common(&lower) {
        return Some(format!("`{alias}` is a common word"));
    }
    // The distinctive part: split on separators, drop digits and environment words.
    let parts: Vec<&str> = lower
        .split(['-', '.', '_'])
        .map(|p| p.trim_end_matches(|c: char| c.is_ascii_digit()))
        .filter(|p| !p.is_empty())
        .collect();
    let distinctive: Vec<&str> = parts
        .iter()
        .copied()
        .filter(|p| !ENVIRONMENT_WORDS.contains(p))
        .collect();
    if distinctive.is_empty() {
        return Some("it is made only of default-looking environment words".to_owned());
    }
    if distinctive.iter().all(|p| is_common(p)) {
        return Some(format!(
            "its distinctive part `{}` is a common word",
            distinctive.join("-")
        ));
    }
    let squashed: String = lower.chars().filter(|c| c.is_ascii_alphabetic()).collect();
    if is_common(&squashed) {
        return Some(format!("`{squashed}` is a common word"));
    }
    None
}

/// Reports every account alias creation; guessable aliases get a higher severity.
#[derive(Debug, Default)]
pub struct AccountAliasCreated;

impl CloudTrailRule for AccountAliasCreated {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let params = record.request_parameters();
        let alias = request_field(params.as_ref(), "accountAlias").unwrap_or_default();
        let account = record.account_id().map(str::to_owned);
        let guessable = guessable_reason(&alias, account.as_deref());
        let mut severity = if guessable.is_some() {
            Severity::Medium
        } else {
            Severity::Info
        };
        let root_without_mfa = record.user_identity.is_root()
            && record.user_identity.mfa_authenticated() != Some(true);
        if root_without_mfa {
            severity = severity.raised();
        }
        let context = EventContext::from_record(record);
        let who = describe_caller(&context);
        let mut finding = finding_for(&META, record, severity);
        let verb = if call_failed(record) {
            "tried to create"
        } else {
            "created"
        };
        let mut message = format!(
            "{who} {verb} account alias `{alias}` for account {}.",
            account.as_deref().unwrap_or("unknown")
        );
        if let Some(reason) = &guessable {
            message.push_str(&format!(" The alias is guessable: {reason}."));
        }
        if root_without_mfa {
            message.push_str(" The root user acted without MFA.");
        }
        finding.message = message;
        finding.resource = Some(Resource {
            kind: "AwsAccount".to_owned(),
            id: account.unwrap_or_else(|| "unknown".to_owned()),
            name: Some(alias.clone()),
        });
        finding
            .evidence
            .push(evidence("requestParameters.accountAlias", alias.as_str()));
        finding.evidence.push(evidence(
            "userIdentity.type",
            context.actor.identity_type.clone().unwrap_or_default(),
        ));
        if let Some(mfa) = context.actor.mfa {
            finding.evidence.push(evidence(
                "userIdentity.sessionContext.attributes.mfaAuthenticated",
                mfa.to_string(),
            ));
        }
        if let Some(ip) = &context.actor.source_ip {
            finding
                .evidence
                .push(evidence("sourceIPAddress", ip.as_str()));
        }
        if let Some(reason) = guessable.filter(|_| !call_failed(record)) {
            finding.fix.summary =
                format!("Replace the guessable alias ({reason}) with one that cannot be guessed.");
            finding.fix.commands = vec![
                Call::DeleteAccountAlias {
                    alias: alias.clone(),
                }
                .to_cli(),
                "aws iam create-account-alias --account-alias NEW_UNGUESSABLE_ALIAS".to_owned(),
            ];
        } else {
            finding.fix.summary =
                "No change needed if the alias was intended; confirm who made it.".to_owned();
        }
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{
        check, TestEvent, ASSUMED_ROLE_MFA, FEDERATED, ROOT,
    };

    fn create(alias: &str) -> TestEvent {
        TestEvent::iam("CreateAccountAlias").request(&format!(r#"{{"accountAlias":"{alias}"}}"#))
    }

    #[test]
    fn guessable_aliases_are_recognised() {
        let acct = Some("229654561268");
        for alias in [
            "229654561268",
            "acct-229654561268",
            "prod",
            "aws1",
            "production",
            "mycompany",
            "prod-account",
            "company-prod-01",
            "aws-sandbox",
            "my-company",
            "12345-678",
        ] {
            assert!(
                guessable_reason(alias, acct).is_some(),
                "{alias} should be guessable"
            );
        }
        for alias in ["quartz-heron-7731", "acme-payments-eu", "zx81-lynx-ops"] {
            assert_eq!(
                guessable_reason(alias, acct),
                None,
                "{alias} should not be guessable"
            );
        }
    }

    #[test]
    fn a_guessable_alias_by_root_without_mfa_is_high() {
        let f = &check(&AccountAliasCreated, &create("production").identity(ROOT))[0];
        assert_eq!(f.severity, Severity::High);
        assert!(f.message.contains("the root user"), "{}", f.message);
        assert!(f.message.contains("common word"), "{}", f.message);
        assert!(f.message.contains("without MFA"), "{}", f.message);
        assert_eq!(
            f.fix.commands[0],
            "aws iam delete-account-alias --account-alias production"
        );
        assert!(f
            .evidence
            .iter()
            .any(|e| e.path == "userIdentity.type" && e.value == "Root"));
    }

    #[test]
    fn an_unguessable_alias_is_info_and_names_the_caller() {
        let f = &check(
            &AccountAliasCreated,
            &create("quartz-heron-7731").identity(ASSUMED_ROLE_MFA),
        )[0];
        assert_eq!(f.severity, Severity::Info);
        assert!(f.message.contains("role session"), "{}", f.message);
        assert!(f.message.contains("(MFA)"), "{}", f.message);
        assert!(f.fix.commands.is_empty());
        let f = &check(
            &AccountAliasCreated,
            &create("quartz-heron-7731").identity(FEDERATED),
        )[0];
        assert!(f.message.starts_with("federated user"), "{}", f.message);
        assert!(f.message.contains("198.51.100.23"), "{}", f.message);
    }

    #[test]
    fn a_denied_creation_is_an_attempt() {
        let f = &check(&AccountAliasCreated, &create("prod").denied())[0];
        assert_eq!(f.severity, Severity::Low);
        assert!(f.message.contains("tried to create"));
        assert!(f.fix.commands.is_empty());
    }
}
