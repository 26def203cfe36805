//! PA024 account-alias-weak: no account alias, or a guessable one; and who may create or delete it.

use trailguard_account::snapshot::ACCOUNT_ALIASES;
use trailguard_account::who_can::{decide, Access};
use trailguard_account::ParsedPrincipal;

use super::{evidence, PostureContext, Report};
use crate::finding::{Finding, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rules::cloudtrail::account_alias_created::guessable_reason;

pub const META: RuleMeta = RuleMeta {
    code: "PA024",
    name: "account-alias-weak",
    title: "Account alias missing or guessable",
    family: Family::Posture,
    severity: Severity::Low,
    attack: &["T1589", "T1110"],
    compliance: &["IAM.account-alias"],
    events: &[],
    kb_entries: &["CreateAccountAlias", "DeleteAccountAlias"],
    doc: RuleDoc {
        what: "The account has no alias (**low**), or its alias is guessable (**medium**): it contains the account \
               id, is four characters or fewer, is only digits, or is a common word once environment words are \
               removed (the same test as CT006). Every finding lists the users and roles that the policy engine \
               says may `iam:CreateAccountAlias` or `iam:DeleteAccountAlias`; with a sound alias the list is \
               reported as an **info** observation.",
        why: "The alias is the console sign-in URL. A guessable one confirms the account exists and invites \
              password spraying; no alias means sign-in pages show the bare account id. Few principals should be \
              able to change it: a renamed alias breaks bookmarks and can send users to a look-alike page.",
        example: "`aws iam list-account-aliases` returns `{\"AccountAliases\": [\"prod\"]}`, and three users \
                  with AdministratorAccess may delete it.",
        fix: "Set an alias that identifies the account to your staff but is not a guessable word or the company \
              name (`aws iam create-account-alias --account-alias NAME`), and keep the alias permissions to \
              administrators.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/console_account-alias.html",
            "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateAccountAlias.html",
        ],
    },
};

/// `(action, principals allowed)` for the two alias actions; `None` without authorization details.
fn alias_changers(ctx: &PostureContext<'_>) -> Option<Vec<(String, Vec<String>)>> {
    ctx.snapshot.authorization.as_ref()?;
    let parsed: Vec<ParsedPrincipal<'_>> =
        ctx.principals.iter().map(ParsedPrincipal::parse).collect();
    let mut out = Vec::new();
    for action in ["iam:CreateAccountAlias", "iam:DeleteAccountAlias"] {
        let names = parsed
            .iter()
            .filter_map(|p| decide(p, action, Some("*")))
            .map(|entry| match entry.access {
                Access::Allowed => entry.arn,
                Access::Conditional { keys, .. } => {
                    format!("{} (if {})", entry.arn, keys.join(", "))
                }
            })
            .collect();
        out.push((action.to_owned(), names));
    }
    Some(out)
}

fn attach_changers(finding: &mut Finding, changers: &Option<Vec<(String, Vec<String>)>>) {
    match changers {
        Some(list) => {
            for (action, principals) in list {
                finding
                    .evidence
                    .push(evidence(format!("who_can.{action}"), principals.clone()));
            }
        }
        None => finding.notes.push(
            "Who may change the alias is unknown: the authorization details are missing.".into(),
        ),
    }
}

fn summary(changers: &Option<Vec<(String, Vec<String>)>>) -> String {
    match changers {
        Some(list) => {
            let counts: Vec<String> = list
                .iter()
                .map(|(action, p)| {
                    format!(
                        "{} principal(s) may {}",
                        p.len(),
                        action.trim_start_matches("iam:")
                    )
                })
                .collect();
            format!(" {}.", counts.join(", "))
        }
        None => String::new(),
    }
}

pub fn check(ctx: &PostureContext<'_>) -> Report {
    let Some(aliases) = &ctx.snapshot.aliases else {
        return Report::missing(ACCOUNT_ALIASES);
    };
    let changers = alias_changers(ctx);
    let mut resource = ctx.account_resource();
    let (severity, message, discriminator) = match aliases.first() {
        None => (
            Severity::Low,
            "The account has no alias: the sign-in URL shows the bare account id.".to_owned(),
            "none".to_owned(),
        ),
        Some(alias) => match guessable_reason(alias, ctx.account()) {
            Some(reason) => (
                Severity::Medium,
                format!("The account alias `{alias}` is guessable: {reason}."),
                alias.clone(),
            ),
            None => (
                Severity::Info,
                format!("The account alias `{alias}` is not guessable."),
                alias.clone(),
            ),
        },
    };
    if severity == Severity::Info && changers.is_none() {
        return Report::evaluated(Vec::new());
    }
    resource.name = aliases.first().cloned();
    let mut finding = ctx.finding(
        &META,
        resource,
        &discriminator,
        format!("{message}{}", summary(&changers)),
    );
    finding.severity = severity;
    finding
        .evidence
        .push(evidence("AccountAliases", aliases.clone()));
    attach_changers(&mut finding, &changers);
    if severity > Severity::Info {
        finding
            .fix
            .commands
            .push("aws iam create-account-alias --account-alias NEW_ALIAS".to_owned());
        finding.fix.actions.push(FixAction::Manual {
            description: "Choose a non-guessable alias and set it; limit who may change it.".into(),
        });
    }
    Report::evaluated(vec![finding])
}

#[cfg(test)]
mod tests {
    use super::super::testkit;
    use super::*;
    use trailguard_account::snapshot::AUTHORIZATION_DETAILS;

    const DETAILS: &str = r#"{"UserDetailList":[
        {"UserName":"admin","Arn":"arn:aws:iam::111122223333:user/admin","UserPolicyList":[{"PolicyName":"all",
          "PolicyDocument":{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}}]},
        {"UserName":"reader","Arn":"arn:aws:iam::111122223333:user/reader","UserPolicyList":[{"PolicyName":"r",
          "PolicyDocument":{"Statement":[{"Effect":"Allow","Action":"iam:List*","Resource":"*"}]}}]},
        {"UserName":"aliaser","Arn":"arn:aws:iam::111122223333:user/aliaser","UserPolicyList":[{"PolicyName":"a",
          "PolicyDocument":{"Statement":[{"Effect":"Allow","Action":"iam:CreateAccountAlias","Resource":"*"}]}}]}]}"#;

    #[test]
    fn a_guessable_alias_lists_who_can_change_it() {
        let outcome = testkit::run(
            check,
            &[
                (ACCOUNT_ALIASES, r#"{"AccountAliases":["prod"]}"#),
                (AUTHORIZATION_DETAILS, DETAILS),
            ],
        );
        let f = &outcome.findings()[0];
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(
            f.message,
            "The account alias `prod` is guessable: it is four characters or fewer. 2 principal(s) may \
             CreateAccountAlias, 1 principal(s) may DeleteAccountAlias."
        );
        assert_eq!(f.evidence[1].path, "who_can.iam:CreateAccountAlias");
        assert_eq!(
            f.evidence[1].value,
            serde_json::json!([
                "arn:aws:iam::111122223333:user/admin",
                "arn:aws:iam::111122223333:user/aliaser"
            ])
        );
    }

    #[test]
    fn a_sound_alias_is_an_observation_and_no_alias_is_low() {
        let sound = testkit::run(
            check,
            &[
                (ACCOUNT_ALIASES, r#"{"AccountAliases":["zq-ledger-7841"]}"#),
                (AUTHORIZATION_DETAILS, DETAILS),
            ],
        );
        assert_eq!(sound.findings()[0].severity, Severity::Info);
        let sound_alone = testkit::run(
            check,
            &[(ACCOUNT_ALIASES, r#"{"AccountAliases":["zq-ledger-7841"]}"#)],
        );
        assert_eq!(sound_alone, Report::evaluated(Vec::new()));
        let none = testkit::run(check, &[(ACCOUNT_ALIASES, r#"{"AccountAliases":[]}"#)]);
        assert_eq!(none.findings()[0].severity, Severity::Low);
        assert!(none.findings()[0].notes[0].contains("unknown"));
    }
}
