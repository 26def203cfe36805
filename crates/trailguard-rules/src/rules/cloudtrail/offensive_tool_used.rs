//! CT083 offensive-tool-used: credentials checked by a secret scanner (TruffleHog), IAM changed with a
//! tool seen in AWS account takeovers (S3 Browser), or calls from a penetration-testing distribution
//! (Kali, Parrot, Pentoo), known by the user agent of the calls a stolen key makes first.
//!
//! The user agent is read on two kinds of call only: `sts:GetCallerIdentity`, the call every tool
//! makes first with a key it found, and IAM writes, where a takeover turns into persistence. Both are
//! source patterns, so the raw test ([`OffensiveToolUsed::wants_raw`]) settles the rest unparsed.

use std::sync::LazyLock;

use memchr::memmem::Finder;
use trailguard_event::peek::RawRecord;
use trailguard_event::Record;

use super::common::{
    call_failed, describe_caller, finding_for, long_term_key, sh, worth_reporting,
};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{CloudTrailRule, EventContext, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT083",
    name: "offensive-tool-used",
    title: "Credentials used by a secret scanner or attack tooling",
    family: Family::Cloudtrail,
    severity: Severity::High,
    attack: &["T1078.004", "T1552.001", "T1098.001"],
    compliance: &[],
    events: &[
        ("sts.amazonaws.com", "GetCallerIdentity*"),
        ("iam.amazonaws.com", "Create*"),
        ("iam.amazonaws.com", "Put*"),
        ("iam.amazonaws.com", "Attach*"),
        ("iam.amazonaws.com", "Add*"),
        ("iam.amazonaws.com", "Update*"),
    ],
    kb_entries: &[],
    doc: RuleDoc {
        what: "A call whose user agent names a tool: **high** for TruffleHog (`GetCallerIdentity` is how it \
               verifies a key it found: the key is in someone's scan results) and for S3 Browser making an \
               IAM change (creating users, keys, login profiles or policies with it is a pattern of AWS \
               account takeovers); **medium** for a penetration-testing distribution (`kali`, `parrot` or \
               `pentoo` in the user agent's platform, as the AWS CLI and SDKs write it: what GuardDuty's \
               `PenTest:IAMUser` findings look for); **low** for an IAM write that creates credentials or grants \
               permissions (`CreateAccessKey`, `CreateUser`, login profiles, roles and trust policies, \
               policies attached or put, group membership) from AWS CloudShell (`exec-env/CloudShell`: a \
               console session, perhaps a hijacked one, making itself durable). Read on `GetCallerIdentity` and IAM writes (`Create*`, \
               `Put*`, `Attach*`, `Add*`, `Update*`), the first call made with a found key and the calls \
               that turn it into persistence; SigmaHQ's user-agent rules (`--sigma`) read every call. A \
               refused IAM write is an attempt, one step lower. The fix deactivates a long-term key.",
        why: "A user agent is the caller's to choose, so its absence proves nothing; but attackers who do not \
              bother to change it give themselves away. Secret scanners verify every AWS key they find with \
              `GetCallerIdentity`: when TruffleHog verifies one of this account's keys, the key has leaked \
              (a public repository, a CI log, a container image), and crews seen in cloud intrusions run \
              it on stolen material (ATT&CK T1552.001). S3 Browser's IAM features have been used to create \
              users and keys for persistence after a key leak (T1098.001), and calls from Kali or Parrot \
              are either an authorised test or someone's attack tooling (T1078.004).",
        example: "`GetCallerIdentity` with user agent `TruffleHog` and IAM user `build-bot`'s access key \
                  `AKIAIOSFODNN7EXAMPLE`, from an address the account has never seen.",
        fix: "A key verified by a secret scanner has leaked: deactivate it, find where it was published, \
              rotate it, and review everything it did. For S3 Browser or a testing distribution, confirm \
              with the caller's owner whether a test was planned; if not, treat the credentials as \
              compromised.",
        references: &[
            "https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_finding-types-iam.html",
            "https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html#rotating_access_keys_console",
            "https://attack.mitre.org/techniques/T1552/001/",
        ],
    },
};

/// A tool a user agent names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tool {
    TruffleHog,
    S3Browser,
    /// A penetration-testing distribution, by the name the user agent gives it.
    TestingDistribution(&'static str),
    /// AWS CloudShell: the CLI there writes `exec-env/CloudShell` in its user agent.
    CloudShell,
}

/// The distributions' names as they appear in a user agent's platform (`exe/x86_64.kali.2024`,
/// `Linux/6.6.9-kali1-amd64`), lower case.
const DISTRIBUTIONS: &[&str] = &["kali", "parrot", "pentoo"];

/// A needle searched for in a lower-cased user agent, and whether it must stand as a word (no letter
/// right before or after it).
struct Needle {
    finder: Finder<'static>,
    word: bool,
}

impl Needle {
    fn new(text: &'static str, word: bool) -> Needle {
        Needle {
            finder: Finder::new(text.as_bytes()),
            word,
        }
    }

    fn is_in(&self, lower: &[u8]) -> bool {
        let len = self.finder.needle().len();
        self.finder.find_iter(lower).any(|at| {
            !self.word
                || (!lower[..at].last().is_some_and(u8::is_ascii_alphabetic)
                    && !lower.get(at + len).is_some_and(u8::is_ascii_alphabetic))
        })
    }
}

/// The needles, built once: searchers cost more to build than a user agent costs to search.
static NEEDLES: LazyLock<Needles> = LazyLock::new(|| Needles {
    trufflehog: Needle::new("trufflehog", false),
    s3_browser: Needle::new("s3 browser", false),
    distributions: DISTRIBUTIONS
        .iter()
        .map(|name| (*name, Needle::new(name, true)))
        .collect(),
    cloudshell: Needle::new("exec-env/cloudshell", false),
});

struct Needles {
    trufflehog: Needle,
    s3_browser: Needle,
    distributions: Vec<(&'static str, Needle)>,
    cloudshell: Needle,
}

/// The tool a user agent names, if any (ASCII case ignored).
fn tool_in(user_agent: &[u8]) -> Option<Tool> {
    // Lower-cased on the stack: user agents are short, and this runs on every `GetCallerIdentity`.
    let mut buffer = [0u8; 512];
    let owned;
    let lower: &[u8] = match buffer.get_mut(..user_agent.len()) {
        Some(slot) => {
            slot.copy_from_slice(user_agent);
            slot.make_ascii_lowercase();
            slot
        }
        None => {
            owned = user_agent.to_ascii_lowercase();
            &owned
        }
    };
    let needles = &*NEEDLES;
    if needles.trufflehog.is_in(lower) {
        return Some(Tool::TruffleHog);
    }
    if needles.s3_browser.is_in(lower) {
        return Some(Tool::S3Browser);
    }
    if let Some((name, _)) = needles
        .distributions
        .iter()
        .find(|(_, needle)| needle.is_in(lower))
    {
        return Some(Tool::TestingDistribution(name));
    }
    needles.cloudshell.is_in(lower).then_some(Tool::CloudShell)
}

/// The IAM writes that turn a console session into credentials or permissions of its own: what a
/// hijacked session does from CloudShell.
const PERSISTENCE_WRITES: &[&str] = &[
    "CreateAccessKey",
    "CreateUser",
    "CreateLoginProfile",
    "UpdateLoginProfile",
    "CreateRole",
    "UpdateAssumeRolePolicy",
    "AttachUserPolicy",
    "AttachRolePolicy",
    "PutUserPolicy",
    "PutRolePolicy",
    "AddUserToGroup",
    "CreateInstanceProfile",
    "AddRoleToInstanceProfile",
];

/// How much a tool's call (`event`, an IAM write when `iam_write`) matters: `None` when it does not.
fn severity_of(tool: Tool, iam_write: bool, event: &str) -> Option<Severity> {
    match tool {
        Tool::TruffleHog => Some(Severity::High),
        Tool::S3Browser => iam_write.then_some(Severity::High),
        Tool::TestingDistribution(_) => Some(Severity::Medium),
        Tool::CloudShell => {
            (iam_write && PERSISTENCE_WRITES.contains(&event)).then_some(Severity::Low)
        }
    }
}

/// Whether any `"userAgent"` member's string value in a record's raw text passes `test`; `None` when one
/// cannot be read without parsing (an escape inside it, or a value that is not a plain string).
fn any_raw_user_agent(text: &[u8], mut test: impl FnMut(&[u8]) -> bool) -> Option<bool> {
    static KEY: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(br#""userAgent""#));
    let key_len = KEY.needle().len();
    for at in KEY.find_iter(text) {
        let rest = text.get(at + key_len..)?.trim_ascii_start();
        // A match that is not followed by a colon is the key's text inside another string.
        let Some(after_colon) = rest.strip_prefix(b":") else {
            continue;
        };
        let value = after_colon.trim_ascii_start();
        if value.starts_with(b"null") {
            continue;
        }
        let body = value.strip_prefix(b"\"")?;
        let end = memchr::memchr2(b'"', b'\\', body)?;
        if body[end] == b'\\' {
            return None;
        }
        if test(&body[..end]) {
            return Some(true);
        }
    }
    Some(false)
}

/// Flags calls whose user agent names a secret scanner, S3 Browser or a testing distribution.
#[derive(Debug, Default)]
pub struct OffensiveToolUsed;

impl CloudTrailRule for OffensiveToolUsed {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    /// Parse only records whose user agent may name a tool (or cannot be read from the text).
    fn wants_raw(&self, raw: &RawRecord<'_>) -> bool {
        if raw.source_and_name().is_some_and(|(source, name)| {
            source == "sts.amazonaws.com" && name != "GetCallerIdentity"
        }) {
            return false;
        }
        any_raw_user_agent(raw.text(), |ua| tool_in(ua).is_some()).unwrap_or(true)
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let iam_write = record.event_source == "iam.amazonaws.com";
        let verifies_key =
            record.event_source == "sts.amazonaws.com" && record.event_name == "GetCallerIdentity";
        if !(iam_write || verifies_key) {
            return;
        }
        let Some(tool) = record
            .user_agent
            .as_deref()
            .and_then(|ua| tool_in(ua.as_bytes()))
        else {
            return;
        };
        let Some(severity) = severity_of(tool, iam_write, &record.event_name) else {
            return;
        };
        let failed = call_failed(record);
        if !worth_reporting(failed, severity) {
            return;
        }
        let mut finding = finding_for(&META, record, severity);
        let who = describe_caller(&EventContext::from_record(record));
        let call = format!(
            "{}:{}",
            record.event_source.trim_end_matches(".amazonaws.com"),
            record.event_name
        );
        let key = long_term_key(record);
        finding.message = match tool {
            Tool::TruffleHog => format!(
                "{who} was verified by the secret scanner TruffleHog ({call}): the credential is in \
                 someone's scan results, so it has leaked."
            ),
            Tool::S3Browser => format!(
                "{who} made an IAM change ({call}) with S3 Browser, a tool seen creating users and keys \
                 in AWS account takeovers{}.",
                if failed { "; the call failed" } else { "" }
            ),
            Tool::CloudShell => format!(
                "{who} made an IAM change that creates credentials or grants permissions ({call}) from \
                 AWS CloudShell, where a hijacked console session turns into persistence without any \
                 tooling{}.",
                if failed { "; the call failed" } else { "" }
            ),
            Tool::TestingDistribution(name) => format!(
                "{who} called {call} from a penetration-testing distribution (`{name}` in the user \
                 agent){}.",
                if failed { "; the call failed" } else { "" }
            ),
        };
        let identity = &record.user_identity;
        let principal = identity
            .arn
            .as_deref()
            .or(identity.principal_id.as_deref())
            .unwrap_or("unknown")
            .to_owned();
        finding.resource = Some(Resource {
            kind: "AwsIamPrincipal".to_owned(),
            id: principal.clone(),
            name: key.map(str::to_owned),
        });
        if failed {
            finding.fix.summary =
                "Nothing changed; find out who ran this tool with the credential and why."
                    .to_owned();
            out.push(finding);
            return;
        }
        match (tool, key, identity.user_name.as_deref()) {
            (Tool::TruffleHog, Some(key), Some(user))
                if identity.identity_type.as_deref() == Some("IAMUser") =>
            {
                finding.fix.summary = format!(
                    "Deactivate access key `{key}` of `{user}` now, find where it was published, and \
                     review what it did."
                );
                finding.fix.commands = vec![format!(
                    "aws iam update-access-key --user-name {} --access-key-id {} --status Inactive",
                    sh(user),
                    sh(key)
                )];
            }
            _ => {
                finding.fix.summary =
                    "Confirm with the credential's owner whether this tool's use was \
                                       planned; if not, treat the credential as compromised."
                        .to_owned();
            }
        }
        finding.fix.actions.push(FixAction::Manual {
            description: format!(
                "Find out who ran this tool with `{principal}`; unless it was a planned test, revoke the \
                 credential and review its activity."
            ),
        });
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tools_are_named_by_their_user_agents() {
        assert_eq!(tool_in(b"TruffleHog"), Some(Tool::TruffleHog));
        assert_eq!(
            tool_in(b"trufflehog/3.63.2 aws-sdk-go-v2/1.24.0"),
            Some(Tool::TruffleHog)
        );
        assert_eq!(
            tool_in(b"S3 Browser 11.5.7 https://s3browser.com"),
            Some(Tool::S3Browser)
        );
        assert_eq!(
            tool_in(
                b"aws-cli/2.15.30 Python/3.11.8 Linux/6.6.9-amd64 exe/x86_64.kali.2024 prompt/off"
            ),
            Some(Tool::TestingDistribution("kali"))
        );
        assert_eq!(
            tool_in(b"Boto3/1.34.2 md/Botocore#1.34.2 ua/2.0 os/linux#6.5.0-13parrot1-amd64"),
            Some(Tool::TestingDistribution("parrot"))
        );
        // Letters around a distribution's name make another word.
        assert_eq!(
            tool_in(b"aws-sdk-java/2.20 Linux/5.15 OpenJDK_64-Bit vendor/Kalibrate"),
            None
        );
        assert_eq!(
            tool_in(b"aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0 exe/x86_64.ubuntu.22"),
            None
        );
    }

    #[test]
    fn the_raw_test_reads_every_user_agent_and_is_unsure_of_escapes() {
        let plain = br#"{"eventSource":"sts.amazonaws.com","eventName":"GetCallerIdentity","userAgent": "TruffleHog","requestParameters":null}"#;
        let mut seen = Vec::new();
        let found = any_raw_user_agent(plain, |ua| {
            seen.push(ua.to_vec());
            false
        });
        assert_eq!((found, seen), (Some(false), vec![b"TruffleHog".to_vec()]));
        assert!(OffensiveToolUsed.wants_raw(&RawRecord::new(plain)));
        let quiet = br#"{"eventSource":"sts.amazonaws.com","eventName":"GetCallerIdentity","userAgent":"aws-cli/2.15.30","requestParameters":{"note":"\"userAgent\" TruffleHog"}}"#;
        assert!(!OffensiveToolUsed.wants_raw(&RawRecord::new(quiet)));
        let escaped = br#"{"eventSource":"sts.amazonaws.com","eventName":"GetCallerIdentity","userAgent":"Truffle\u0048og"}"#;
        assert_eq!(any_raw_user_agent(escaped, |_| false), None);
        assert!(OffensiveToolUsed.wants_raw(&RawRecord::new(escaped)));
        let other_sts = br#"{"eventSource":"sts.amazonaws.com","eventName":"GetCallerIdentityX","userAgent":"TruffleHog"}"#;
        assert!(!OffensiveToolUsed.wants_raw(&RawRecord::new(other_sts)));
    }
}
