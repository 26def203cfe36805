//! What each destination receives for an outbox message (`alert`: a finding; `digest`: a closed fold
//! window; `mute-expired`: a mute, as `serve` enqueued an expiry before it raised CT055 findings, kept
//! so such rows in an existing outbox are still delivered). Slack gets a readable message — severity, title, who / what /
//! where, the first fix command, the `trailguard explain` name — with every value from a record
//! escaped for Slack's markup; the webhook and the file get JSON.

use serde_json::json;
use trailguard_rules::output::visible;
use trailguard_rules::Finding;

use crate::mute::Mute;
use crate::store::alerting::{Digest, OutboxMessage};

/// Escapes text for Slack's mrkdwn (`&`, `<`, `>`: links and mentions) after control characters.
fn slack(text: &str) -> String {
    visible(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Text inside a Slack code span: escaped, with backticks that would end the span replaced.
fn slack_code(text: &str) -> String {
    slack(text).replace('`', "'")
}

/// The Slack message (an incoming-webhook body) for an outbox message.
pub fn slack_body(message: &OutboxMessage) -> anyhow::Result<serde_json::Value> {
    let text = match message.kind.as_str() {
        "alert" => slack_finding(&serde_json::from_str(&message.payload)?),
        "digest" => slack_digest(&serde_json::from_str(&message.payload)?),
        "mute-expired" => slack_mute(&serde_json::from_str(&message.payload)?),
        other => anyhow::bail!("unknown outbox message kind `{}`", visible(other)),
    };
    Ok(json!({ "text": text }))
}

fn slack_finding(finding: &Finding) -> String {
    let mut lines = vec![format!(
        "*{}* {} `{}`",
        finding.severity.as_str().to_ascii_uppercase(),
        slack(&finding.title),
        slack_code(&finding.rule_id)
    )];
    lines.push(slack(&finding.message));
    let who = finding
        .actor
        .as_ref()
        .and_then(|a| a.arn.as_deref())
        .unwrap_or("unknown");
    let what = finding.event_name.as_deref().unwrap_or(&finding.rule_name);
    let mut place: Vec<&str> = Vec::new();
    place.extend(finding.account.as_deref());
    place.extend(finding.region.as_deref());
    lines.push(format!(
        "*Who:* `{}`  *What:* `{}`  *Where:* {}",
        slack_code(who),
        slack_code(what),
        slack(&if place.is_empty() {
            "-".to_owned()
        } else {
            place.join(" / ")
        })
    ));
    if let Some(resource) = &finding.resource {
        lines.push(format!("*Resource:* `{}`", slack_code(&resource.id)));
    }
    if let Some(command) = finding.fix.commands.first() {
        lines.push(format!("*Fix:* `{}`", slack_code(command)));
    }
    if let Some(entry) = finding
        .fix
        .kb_entry
        .as_deref()
        .or(finding.event_name.as_deref())
    {
        lines.push(format!(
            "*Explain:* `trailguard explain {}`",
            slack_code(entry)
        ));
    }
    lines.push(format!("_finding {}_", slack_code(&finding.id)));
    lines.join("\n")
}

fn slack_digest(digest: &Digest) -> String {
    let (rule, principal) = digest
        .fold_key
        .split_once('|')
        .unwrap_or((&digest.fold_key, "-"));
    format!(
        "*{}* more finding{} of `{}` by `{}` folded into the alert for `{}`, from {} until {}",
        digest.repeats,
        if digest.repeats == 1 { "" } else { "s" },
        slack_code(rule),
        slack_code(principal),
        slack_code(&digest.first_finding),
        slack(&digest.window_start),
        slack(&digest.window_end)
    )
}

fn slack_mute(mute: &Mute) -> String {
    format!(
        "*Mute expired:* `{}` no longer mutes anything (it said: {}). Renew it with `trailguard mute add` or remove it.",
        slack_code(&mute.id),
        slack(&mute.describe())
    )
}

/// The webhook's body: the finding's JSON for an alert, an envelope for the other kinds.
pub fn webhook_body(message: &OutboxMessage) -> anyhow::Result<Vec<u8>> {
    if message.kind == "alert" {
        return Ok(message.payload.clone().into_bytes());
    }
    let inner: serde_json::Value = serde_json::from_str(&message.payload)?;
    Ok(serde_json::to_vec(
        &json!({ "kind": message.kind, message.kind.as_str(): inner }),
    )?)
}

/// A one-line subject (SNS, e-mail subscribers): `trailguard HIGH CT006 Account alias changed`, in
/// printable ASCII (SNS refuses anything else) and at most `max` characters.
pub fn subject(message: &OutboxMessage, max: usize) -> anyhow::Result<String> {
    let text = match message.kind.as_str() {
        "alert" => {
            let finding: Finding = serde_json::from_str(&message.payload)?;
            format!(
                "trailguard {} {} {}",
                finding.severity.as_str().to_ascii_uppercase(),
                finding.rule_id,
                finding.title
            )
        }
        "digest" => {
            let digest: Digest = serde_json::from_str(&message.payload)?;
            let rule = digest.fold_key.split('|').next().unwrap_or_default();
            format!("trailguard digest: {} more {rule}", digest.repeats)
        }
        "mute-expired" => {
            let mute: Mute = serde_json::from_str(&message.payload)?;
            format!("trailguard mute expired: {}", mute.id)
        }
        other => anyhow::bail!("unknown outbox message kind `{}`", visible(other)),
    };
    let mut clean: String = text
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { ' ' })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    clean.truncate(max);
    Ok(clean)
}

/// One line of the JSON-lines file: kind, delivery id, and the message.
pub fn file_line(message: &OutboxMessage) -> anyhow::Result<String> {
    let inner: serde_json::Value = serde_json::from_str(&message.payload)?;
    Ok(serde_json::to_string(&json!({
        "kind": message.kind,
        "delivery": message.dedup_key,
        "message": inner,
    }))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailguard_rules::{Actor, FindingSource, Severity};

    #[test]
    fn slack_text_escapes_what_a_record_controls() {
        let mut finding = Finding::new(
            "tg-1",
            "CT006",
            "account-alias-changed",
            "Account alias changed",
            Severity::High,
            FindingSource::Cloudtrail,
            "alias set to <!channel> & `rm`\u{1b}[2J",
        );
        finding.event_name = Some("CreateAccountAlias".into());
        finding.account = Some("111122223333".into());
        finding.actor = Some(Actor {
            arn: Some("arn:aws:iam::111122223333:user/`x`<@U1>".into()),
            ..Actor::default()
        });
        finding.fix.commands = vec!["aws iam delete-account-alias --account-alias evil".into()];
        let message = OutboxMessage {
            id: 1,
            destination: "slack-1".into(),
            dedup_key: "alert:tg-1".into(),
            kind: "alert".into(),
            payload: serde_json::to_string(&finding).unwrap(),
            attempt: 1,
        };
        let body = slack_body(&message).unwrap();
        insta::assert_snapshot!(body["text"].as_str().unwrap());
        // SNS subjects: printable ASCII on one line, cut to the limit.
        let short = subject(&message, 100).unwrap();
        assert_eq!(short, "trailguard HIGH CT006 Account alias changed");
        finding.title = "line\nbreak \u{e9}t\u{e9} ".repeat(20);
        let long = OutboxMessage {
            payload: serde_json::to_string(&finding).unwrap(),
            ..message
        };
        let cut = subject(&long, 100).unwrap();
        assert_eq!(cut.len(), 100);
        assert!(
            cut.chars().all(|c| c.is_ascii_graphic() || c == ' '),
            "{cut}"
        );
    }
}
