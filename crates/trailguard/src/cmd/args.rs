//! Flags several commands share, parsed one way: `--fail-on`, `--format` and `--min-severity`.
//!
//! The conventions every subcommand follows (AWS CLI habits): `--region` is the AWS API region (event
//! filters say what they filter, e.g. `scan --event-region`), `--profile` and `--endpoint-url` pick the
//! credentials and endpoint, `--rule CODE` selects rules and `--ignore CODE` leaves them out
//! (repeatable or comma-separated; `policy check` also takes its old `--select`), and `--min-severity`
//! drops findings below a severity from the report, and `-o FILE` writes the report to FILE (`-o -`
//! to stdout, as `-` means in most tools: [`output_file`]).

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::Context;

use trailguard_rules::engine::Engine;
use trailguard_rules::meta::resolve_codes;
use trailguard_rules::output::{Format, RunSummary};
use trailguard_rules::rules::cloudtrail::aws_networks::AwsNetworks;
use trailguard_rules::rules::cloudtrail::instance_credentials_used_outside_aws::InstanceCredentialsUsedOutsideAws;
use trailguard_rules::Severity;

/// The file `--output` names, or `None` for stdout: no `--output`, or `-`.
pub fn output_file(output: Option<&Path>) -> Option<&Path> {
    output.filter(|path| path.as_os_str() != "-")
}

/// Writes a report built whole in memory to `--output` ([`output_file`]): the file, or stdout. A reader
/// that closes stdout early (`| head`) has what it wanted, so that is not an error.
pub fn write_report(output: Option<&Path>, report: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    match output_file(output) {
        Some(path) => std::fs::write(path, report)
            .with_context(|| format!("cannot write `{}`", path.display())),
        None => {
            let mut out = std::io::stdout().lock();
            match out.write_all(report).and_then(|()| out.flush()) {
                Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                other => other.context("cannot write the report to stdout"),
            }
        }
    }
}

/// `--fail-on`: a severity threshold, or never fail on findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    AtOrAbove(Severity),
    Never,
}

impl FailOn {
    /// How many of the run's findings make it fail (exit code 1).
    pub fn failing(self, summary: &RunSummary) -> u64 {
        match self {
            FailOn::Never => 0,
            FailOn::AtOrAbove(threshold) => summary.findings_at_or_above(threshold),
        }
    }
}

pub fn parse_fail_on(text: &str) -> Result<FailOn, String> {
    match text.to_ascii_lowercase().as_str() {
        "never" | "none" | "off" => Ok(FailOn::Never),
        other => Severity::from_str(other)
            .map(FailOn::AtOrAbove)
            .map_err(|e| format!("{e}, or never")),
    }
}

/// `--rule` and `--ignore`: which built-in CloudTrail rules a run keeps (`scan`, `serve`, `lambda`), and
/// `--aws-ip-ranges`, what one of them knows. All also come from the environment, as a Lambda function or
/// a container is configured; a scan's notes name the rules left out and the list given, so a variable
/// set and forgotten shows in every report.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RuleChoice {
    /// Run only these built-in rules (code like CT001 or name). Repeatable or comma-separated; default all.
    #[arg(
        long,
        env = "TRAILGUARD_RULE",
        value_name = "CODE",
        value_delimiter = ','
    )]
    pub rule: Vec<String>,

    /// Never run these built-in rules (codes or names, repeatable or comma-separated). For example
    /// `--ignore CT033,CT034,CT057` leaves out the bursts over read traffic, most of a scan's rule time.
    #[arg(
        long,
        env = "TRAILGUARD_IGNORE",
        value_name = "CODE",
        value_delimiter = ','
    )]
    pub ignore: Vec<String>,

    /// A current copy of AWS's ip-ranges.json (https://ip-ranges.amazonaws.com/ip-ranges.json), added to
    /// the snapshot of AWS's networks this build carries: CT106 then reads a network AWS announced since
    /// as AWS's, not as outside.
    #[arg(long, env = "TRAILGUARD_AWS_IP_RANGES", value_name = "FILE")]
    pub aws_ip_ranges: Option<PathBuf>,
}

impl RuleChoice {
    /// `engine` with only the chosen rules. An unknown code or name, or a choice that leaves no rule, is
    /// a usage error: a typo in a CI job must fail, not scan with nothing (or everything).
    pub fn apply(&self, engine: Engine) -> anyhow::Result<Engine> {
        self.apply_listing(engine).map(|(engine, _)| engine)
    }

    /// [`RuleChoice::apply`], and the notes a report makes of the choice: the codes `--ignore` took out of
    /// what would have run (what `--rule` left out is not among them), and the list of AWS's networks
    /// CT106 was given.
    pub fn apply_listing(&self, engine: Engine) -> anyhow::Result<(Engine, Vec<String>)> {
        let (engine, mut notes) = match &self.aws_ip_ranges {
            Some(path) => {
                let networks = aws_networks_from(path)?;
                let note = format!(
                    "CT106 reads AWS's networks from this build's snapshot and `{}` (createDate {})",
                    path.display(),
                    networks.published().filter(|d| !d.is_empty()).unwrap_or("not given")
                );
                let rule = InstanceCredentialsUsedOutsideAws::knowing(networks);
                (engine.with_sequence(Box::new(rule)), vec![note])
            }
            None => (engine, Vec::new()),
        };
        if self.rule.is_empty() && self.ignore.is_empty() {
            return Ok((engine, notes));
        }
        let metas = trailguard_rules::registry::family_metas(trailguard_rules::Family::Cloudtrail);
        let resolve = |flag: &str, entries: &[String]| {
            resolve_codes(&metas, entries)
                .map_err(|e| anyhow::anyhow!("{flag}: {e}: see `trailguard rules`"))
        };
        let only = resolve("--rule", &self.rule)?;
        let ignored = resolve("--ignore", &self.ignore)?;
        let selected = |code: &str| only.is_empty() || only.contains(&code);
        let left_out: Vec<&'static str> = (engine.rule_codes().into_iter())
            .filter(|code| selected(code) && ignored.contains(code))
            .collect();
        let engine = engine.retain(|meta| selected(meta.code) && !ignored.contains(&meta.code));
        if engine.rule_codes().is_empty() {
            let mut asked = Vec::new();
            if !self.rule.is_empty() {
                asked.push(format!("--rule {}", self.rule.join(",")));
            }
            if !self.ignore.is_empty() {
                asked.push(format!("--ignore {}", self.ignore.join(",")));
            }
            anyhow::bail!(
                "no built-in rule is left to run with {}: see `trailguard rules`",
                asked.join(" ")
            );
        }
        if !engine.rule_codes().contains(&"CT106") {
            // Nothing read the list: the note would say otherwise.
            notes.clear();
        }
        if !left_out.is_empty() {
            notes.push(format!("not run (--ignore): {}", left_out.join(", ")));
        }
        Ok((engine, notes))
    }
}

/// The snapshot of AWS's networks united with the copy of `ip-ranges.json` at `path`, for the rest of the
/// process (a run reads it once, `serve` and `lambda` for as long as they run).
fn aws_networks_from(path: &Path) -> anyhow::Result<&'static AwsNetworks> {
    let flag = || format!("--aws-ip-ranges `{}`", path.display());
    let text = std::fs::read_to_string(path).with_context(flag)?;
    let networks = AwsNetworks::with_published(&text).with_context(flag)?;
    Ok(Box::leak(Box::new(networks)))
}

/// The AWS flags, one home for every command that calls AWS with the usual settings (`policy check`
/// for SNS alerts, `serve`, `lambda`, `backfill`): the SDK's credential chain and region unless given.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AwsArgs {
    /// AWS profile (default: the usual credential chain).
    #[arg(long, value_name = "NAME", help_heading = "AWS inputs")]
    pub profile: Option<String>,

    /// AWS region to call.
    #[arg(
        long,
        alias = "aws-region",
        value_name = "REGION",
        help_heading = "AWS inputs"
    )]
    pub region: Option<String>,

    /// Send AWS calls to this endpoint (e.g. a local moto server).
    #[arg(long = "endpoint-url", value_name = "URL", help_heading = "AWS inputs")]
    pub endpoint_url: Option<String>,
}

impl AwsArgs {
    pub fn target(&self) -> crate::aws::AwsTarget {
        crate::aws::AwsTarget {
            profile: self.profile.clone(),
            region: self.region.clone(),
            endpoint_url: self.endpoint_url.clone(),
        }
    }
}

pub fn parse_severity(text: &str) -> Result<Severity, String> {
    Severity::from_str(text).map_err(|e| e.to_string())
}

/// Checks `--event-name` values before a scan. Names are matched exactly, as CloudTrail writes them:
/// an event name is an API operation's name (`CreatePolicyVersion`), and Athena, CloudTrail Lake and the
/// LookupEvents API all compare it exactly, so a filter here keeps the same meaning as there (and the
/// raw pre-filter stays a byte search). A name that differs from a known event only in case can never
/// match and is refused with the right spelling; an unknown name close to a known one gets a warning
/// (the knowledge base does not list every API), and the scan goes on.
pub fn check_event_names(names: &[String]) -> anyhow::Result<Vec<String>> {
    // The knowledge base takes tens of milliseconds to load: not for a scan that names no event.
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let kb = trailguard_kb::Kb::builtin();
    let mut warnings = Vec::new();
    for name in names {
        match kb.lookup(name) {
            Some(entry) if entry.event == *name => {}
            Some(entry) => anyhow::bail!(
                "--event-name `{name}` would match nothing: event names are case-sensitive in CloudTrail; did you mean `{}`?",
                entry.event
            ),
            None => {
                let close = kb.suggest(name);
                if !close.is_empty() {
                    warnings.push(format!(
                        "--event-name `{name}` is not an event trailguard knows; did you mean {}? (event names are case-sensitive)",
                        close
                            .iter()
                            .map(|c| format!("`{c}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
        }
    }
    Ok(warnings)
}

pub fn parse_format(text: &str) -> Result<Format, String> {
    Format::from_str(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_on_parses_severities_and_never() {
        assert_eq!(
            parse_fail_on("HIGH").unwrap(),
            FailOn::AtOrAbove(Severity::High)
        );
        assert_eq!(parse_fail_on("never").unwrap(), FailOn::Never);
        assert!(parse_fail_on("severe").unwrap_err().contains("`severe`"));
        assert!(parse_format("sarif").is_ok());
        assert!(parse_format("yaml").is_err());
    }

    #[test]
    fn event_names_in_the_wrong_case_are_refused_with_the_right_spelling() {
        let err = check_event_names(&["createpolicyversion".into()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("did you mean `CreatePolicyVersion`?"), "{err}");
        assert!(err.contains("case-sensitive"), "{err}");
        assert!(check_event_names(&["CreatePolicyVersion".into()])
            .unwrap()
            .is_empty());
        let warnings = check_event_names(&["CreatePolicyVersoin".into()]).unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].contains("`CreatePolicyVersion`"),
            "{warnings:?}"
        );
        // Events the knowledge base does not list are scanned for as given.
        assert!(check_event_names(&["GetObject".into()]).unwrap().is_empty());
    }
}
