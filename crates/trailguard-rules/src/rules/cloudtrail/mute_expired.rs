//! CT055 mute-expired: a mute (`trailguard mute add`) reached its expiry, so the findings it kept quiet
//! are reported and alerted again. Not a record rule: no CloudTrail event marks it, so `trailguard
//! serve` (and `trailguard lambda`) raise it from the store's mutes, once per mute and expiry across
//! every worker and restart (the finding's id is the mute's id and its expiry; the outbox and the
//! findings table are keyed on it). One-shot runs (`scan`, `audit`, `policy check`) print expired
//! mutes at their start instead.
//!
//! Severity: medium, on purpose. Not the muted rule's own severity: the findings the mute let through
//! again are alerted at theirs when they recur, and the expiry itself is a decision to make (renew
//! the accepted risk after a review, or fix its cause), not an intrusion to page for. Not low: a
//! lapse nobody hears about is the failure this rule exists for, and routes commonly start at medium.

use super::common::sh;
use crate::finding::{Evidence, Finding, FindingSource, Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::FindingBuilder;

pub const META: RuleMeta = RuleMeta {
    code: "CT055",
    name: "mute-expired",
    title: "A mute expired: the findings it silenced are reported again",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1562.001"],
    compliance: &[],
    events: &[],
    kb_entries: &[],
    doc: RuleDoc {
        what: "A mute (`trailguard mute add`, `mute import`, or a mute from the dashboard) whose expiry has \
               passed. From then on it mutes nothing: the findings it matched are stored, reported and \
               alerted at their own severity again. Raised by `serve` and `lambda` from the store's mutes, \
               once per mute and expiry however many workers run; `scan`, `audit` and `policy check` print \
               each expired mute at the start of the run instead.",
        why: "A mute is accepted risk with a date on it. When the date passes without anyone deciding, \
              either alerts come back with no context for the people on call, or someone silences them \
              again more broadly (a longer or wider mute, a disabled rule): suppressions that grow \
              unreviewed are how detection is impaired quietly (ATT&CK T1562.001 is the attacker's \
              version of the same outcome). The expiry is the moment the risk must be looked at again.",
        example: "`trailguard mute add --rule CT006 --principal 'arn:aws:iam::*:role/terraform-*' --reason \
                  \"IaC manages aliases\" --expires 2027-03-01`; on 2027-03-01 serve raises CT055 for it, and \
                  CT006 findings of the Terraform roles are alerted again.",
        fix: "Review the reason: if the risk is still accepted, renew the mute with a new expiry (`trailguard \
              mute add` with the same fields keeps its id and replaces the expiry); if not, fix what the \
              findings point at and remove the mute (`trailguard mute remove ID`). `trailguard mute list` \
              shows every mute with its expiry.",
        references: &[
            "https://attack.mitre.org/techniques/T1562/001/",
        ],
    },
};

/// The rule in the registry: it has no verb, since no record marks an expiry; `serve` calls
/// [`finding`] from the store's mutes.
pub struct MuteExpired;

/// What the finding says about the mute that expired. Every value is as stored: the matcher may come
/// from a finding's fields (a mute made from the dashboard), so it is never trusted as markup.
#[derive(Debug, Clone, Copy)]
pub struct ExpiredMute<'a> {
    pub id: &'a str,
    /// RFC 3339.
    pub expires_at: &'a str,
    /// What it matched, as (`mute add` flag without `--`, value): `("rule", "CT006")`, ...
    pub matches: &'a [(&'a str, &'a str)],
    pub reason: &'a str,
    pub created_by: &'a str,
    pub created_at: &'a str,
}

/// The finding for one mute's expiry. Its id is the mute's id and expiry: every worker raises the same
/// finding, and a mute renewed and expired again is a new one.
pub fn finding(mute: &ExpiredMute<'_>) -> Finding {
    let field = |name: &str| {
        mute.matches
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    };
    let described = mute
        .matches
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join(" ");
    let silenced = field("rule").map_or_else(
        || "the findings it matched".to_owned(),
        |rule| format!("the {rule} findings it matched"),
    );
    let renew_flags: String = mute
        .matches
        .iter()
        .map(|(name, value)| format!(" --{name} {}", sh(value)))
        .collect();
    let mut finding = FindingBuilder::new(
        &META,
        FindingSource::Cloudtrail,
        &[mute.id, mute.expires_at],
    )
    .message(format!(
        "Mute {} ({described}) expired at {}: {silenced} are reported and alerted again. It was \
         added by {} at {} because: {}",
        mute.id, mute.expires_at, mute.created_by, mute.created_at, mute.reason
    ))
    .account(field("account"))
    .resource(Resource {
        kind: "TrailguardMute".to_owned(),
        id: mute.id.to_owned(),
        name: None,
    })
    .evidence(Evidence {
        path: "mute".to_owned(),
        value: serde_json::json!({
            "id": mute.id,
            "matches": mute
                .matches
                .iter()
                .map(|(n, v)| ((*n).to_owned(), serde_json::Value::from(*v)))
                .collect::<serde_json::Map<String, serde_json::Value>>(),
            "reason": mute.reason,
            "expires_at": mute.expires_at,
            "created_by": mute.created_by,
            "created_at": mute.created_at,
        }),
    })
    .fix_summary(
        "Review the mute's reason: renew it with a new expiry if the risk is still accepted, else fix \
         the cause and remove it.",
    )
    .build();
    finding.fix.commands = vec![
        format!(
            "trailguard mute add{renew_flags} --reason {} --expires YYYY-MM-DD",
            sh(mute.reason)
        ),
        format!("trailguard mute remove {}", sh(mute.id)),
    ];
    finding.event_time = Some(mute.expires_at.to_owned());
    finding.region = field("region").map(str::to_owned);
    finding
}

#[cfg(test)]
mod tests {
    //! The labelled cases of a rule raised outside the engine: the findings of expiries, as `serve`
    //! builds them (its end-to-end test is `tests/serve_alerts.rs`).

    use super::*;

    fn mute<'a>(matches: &'a [(&'a str, &'a str)], expires_at: &'a str) -> ExpiredMute<'a> {
        ExpiredMute {
            id: "mute-3f2a",
            expires_at,
            matches,
            reason: "IaC manages aliases",
            created_by: "alice",
            created_at: "2026-12-01T00:00:00.000Z",
        }
    }

    #[test]
    fn one_expiry_is_one_stable_finding_and_a_renewed_mute_is_another() {
        let matches = [
            ("rule", "CT006"),
            ("principal", "arn:aws:iam::*:role/terraform-*"),
            ("account", "111122223333"),
        ];
        let first = finding(&mute(&matches, "2027-03-01T00:00:00.000Z"));
        assert_eq!(first.rule_id, "CT055");
        assert_eq!(first.severity, Severity::Medium);
        assert_eq!(
            first.id,
            finding(&mute(&matches, "2027-03-01T00:00:00.000Z")).id
        );
        assert_ne!(
            first.id,
            finding(&mute(&matches, "2027-06-01T00:00:00.000Z")).id,
            "renewed and expired again: a new finding"
        );
        assert_eq!(first.account.as_deref(), Some("111122223333"));
        assert_eq!(first.region, None);
        assert_eq!(first.resource.as_ref().unwrap().id, "mute-3f2a");
        assert!(first.message.contains("CT006"), "{}", first.message);
        assert!(first.message.contains("IaC manages aliases"));
        assert_eq!(
            first.fix.commands[0],
            "trailguard mute add --rule CT006 --principal 'arn:aws:iam::*:role/terraform-*' \
             --account 111122223333 --reason 'IaC manages aliases' --expires YYYY-MM-DD"
        );
        assert_eq!(first.fix.commands[1], "trailguard mute remove mute-3f2a");
    }

    #[test]
    fn a_hostile_matcher_stays_one_shell_word_in_the_fix() {
        let matches = [("principal", "arn:aws:iam::1:role/x'; rm -rf / #")];
        let f = finding(&mute(&matches, "2027-03-01T00:00:00.000Z"));
        assert!(
            !f.fix.commands[0].contains("x'; rm"),
            "{}",
            f.fix.commands[0]
        );
        assert!(
            f.message.contains(": the findings it matched are reported"),
            "{}",
            f.message
        );
        assert_eq!(f.account, None);
    }
}
