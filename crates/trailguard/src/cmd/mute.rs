//! `trailguard mute add|list|remove|export|import`: the mutes every command and worker applies, kept in
//! the store. Export writes a TOML or YAML file a team reviews in git; import reads one back (same id
//! for the same matcher, so importing twice changes nothing). The model is [`crate::mute`].

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use chrono::Utc;
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};
use trailguard_rules::output::visible;

use crate::mute::{current_user, Mute, MuteRequest};
use crate::store::{self, alerting};
use crate::triage::DEFAULT_STORE;

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  trailguard mute add --rule CT006 --principal 'arn:aws:iam::*:role/terraform-*' \\
      --account 111122223333 --reason \"IaC manages aliases\" --expires 2027-03-01
  trailguard mute list
  trailguard mute export mutes.toml && git add mutes.toml
  trailguard mute import mutes.toml
  trailguard mute remove mute-0123456789abcdef")]
pub struct MuteArgs {
    /// The store that holds the mutes: a SQLite file or a postgres:// URL (as `scan --store`).
    #[arg(long, value_name = "PATH|URL", default_value = DEFAULT_STORE, global = true)]
    pub store: String,

    #[command(subcommand)]
    pub command: MuteCommand,
}

#[derive(Debug, Subcommand)]
pub enum MuteCommand {
    /// Add a mute (globs `*` and `?` in --principal and --resource; no regexes).
    Add(AddArgs),
    /// List mutes, expired ones marked.
    List,
    /// Remove a mute by its id.
    Remove { id: String },
    /// Write every mute to a file (.toml, .yaml or .yml), or to stdout as TOML.
    Export { file: Option<PathBuf> },
    /// Add or update the mutes of a file written by `export` (or by hand).
    Import { file: PathBuf },
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// Rule code (CT006) or name.
    #[arg(long)]
    pub rule: Option<String>,
    /// Principal ARN glob, e.g. 'arn:aws:iam::*:role/terraform-*'.
    #[arg(long)]
    pub principal: Option<String>,
    /// 12-digit account id.
    #[arg(long)]
    pub account: Option<String>,
    #[arg(long)]
    pub region: Option<String>,
    /// Resource ARN glob.
    #[arg(long)]
    pub resource: Option<String>,
    #[arg(long = "event-name")]
    pub event_name: Option<String>,
    /// Source IP address or CIDR block, e.g. 203.0.113.0/24.
    #[arg(long = "source-ip")]
    pub source_ip: Option<String>,
    /// Why (required).
    #[arg(long)]
    pub reason: String,
    /// When the mute ends: a date (YYYY-MM-DD, at 00:00 UTC) or an RFC 3339 time. Required unless --permanent.
    #[arg(long)]
    pub expires: Option<String>,
    #[arg(long)]
    pub permanent: bool,
}

/// The file `export` writes and `import` reads.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MuteFile {
    #[serde(default)]
    mute: Vec<MuteRequest>,
}

pub fn run(args: MuteArgs) -> anyhow::Result<ExitCode> {
    let now = Utc::now();
    let mut store = store::open(&args.store)?;
    let store = store.as_mut();
    match args.command {
        MuteCommand::Add(add) => {
            let request = MuteRequest {
                rule: add.rule,
                principal: add.principal,
                account: add.account,
                region: add.region,
                resource: add.resource,
                event_name: add.event_name,
                source_ip: add.source_ip,
                reason: add.reason,
                expires: add.expires,
                permanent: add.permanent,
                ..MuteRequest::default()
            };
            let mute = request.into_mute(&current_user(), now)?;
            if mute.expired(now) {
                bail!(
                    "the expiry `{}` is already past",
                    mute.expires_at.as_deref().unwrap_or("")
                );
            }
            alerting::add_mute(store, &mute)?;
            println!("{}", mute.id);
        }
        MuteCommand::List => {
            let mutes = alerting::mutes(store)?;
            if mutes.is_empty() {
                eprintln!("no mutes in {}", store::display_name(&args.store));
            }
            for mute in mutes {
                let mark = if mute.expired(now) { "EXPIRED " } else { "" };
                println!("{mark}{}", visible(&mute.describe()));
            }
        }
        MuteCommand::Remove { id } => {
            if !alerting::remove_mute(store, &id)? {
                bail!("no mute `{}`: see `trailguard mute list`", visible(&id));
            }
            eprintln!("removed {}", visible(&id));
        }
        MuteCommand::Export { file } => {
            let mutes = alerting::mutes(store)?;
            let out = MuteFile {
                mute: mutes.iter().map(MuteRequest::from).collect(),
            };
            let text = match file.as_deref().map(file_format).transpose()? {
                Some(Format::Yaml) => serde_yaml::to_string(&out)?,
                Some(Format::Toml) | None => toml::to_string(&out)?,
            };
            match file {
                Some(path) => std::fs::write(&path, text)
                    .with_context(|| format!("cannot write `{}`", path.display()))?,
                None => print!("{text}"),
            }
        }
        MuteCommand::Import { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read `{}`", file.display()))?;
            let parsed: MuteFile = match file_format(&file)? {
                Format::Yaml => {
                    serde_yaml::from_str(&text).with_context(|| format!("`{}`", file.display()))?
                }
                Format::Toml => {
                    toml::from_str(&text).with_context(|| format!("`{}`", file.display()))?
                }
            };
            // Check every entry before writing any, so a bad file changes nothing.
            let who = current_user();
            let mutes = parsed
                .mute
                .into_iter()
                .enumerate()
                .map(|(n, request)| {
                    request
                        .into_mute(&who, now)
                        .with_context(|| format!("`{}`: mute {}", file.display(), n + 1))
                })
                .collect::<anyhow::Result<Vec<Mute>>>()?;
            for mute in &mutes {
                alerting::add_mute(store, mute)?;
            }
            eprintln!("imported {} mutes from {}", mutes.len(), file.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

enum Format {
    Toml,
    Yaml,
}

fn file_format(path: &std::path::Path) -> anyhow::Result<Format> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("toml") => Ok(Format::Toml),
        Some("yaml" | "yml") => Ok(Format::Yaml),
        _ => bail!("`{}`: use a .toml, .yaml or .yml file", path.display()),
    }
}
