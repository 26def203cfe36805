//! `trailguard lambda`: the `serve` worker as an AWS Lambda function (custom runtime, `provided.al2023`)
//! behind an SQS event source mapping. The handler is [`crate::lambda::handle_batch`]; this file reads
//! the settings (flags, or the function's environment variables), connects the store once per execution
//! environment, and runs the Lambda runtime loop. `--event FILE` works one recorded batch instead and
//! prints the partial batch response, for a local try without Lambda. Mutes and alerts work as in
//! `serve` (`--config`/`$TRAILGUARD_CONFIG`, `--alert`/`$TRAILGUARD_ALERT`,
//! `--alert-min-severity`/`$TRAILGUARD_ALERT_MIN_SEVERITY`).
//!
//! The store and the AWS calls are blocking code with a runtime of their own (`Service` and the
//! PostgreSQL client call `block_on`), so they stay on this thread; the Lambda runtime loop runs on a
//! thread of its own and hands each batch over a channel, waiting for its response. Lambda sends one
//! event at a time to an execution environment, so nothing queues on the channel.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{mpsc, Arc};
use std::time::Instant;

use anyhow::{bail, Context};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use chrono::{SecondsFormat, Utc};
use trailguard_rules::engine::Engine;
use trailguard_rules::sigma::SigmaRuleSet;

use crate::cmd::args::RuleChoice;
use crate::cmd::serve::run_summary;
use crate::lambda::handle_batch;
use crate::remote;
use crate::serve::{alerts::ServeAlerts, metrics::Metrics, Service};
use crate::store;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  # The function's bootstrap (deploy/bootstrap) runs this, with TRAILGUARD_STORE set by the template:
  trailguard lambda
  # One recorded SQS batch, locally: prints {\"batchItemFailures\": [...]}
  trailguard lambda --event batch.json --store tg.db --endpoint-url http://127.0.0.1:5000

The event source mapping must report batch item failures (FunctionResponseTypes: ReportBatchItemFailures):
only the failed messages are then retried. Give the queue a visibility timeout of at least six times the
function's timeout, and a redrive policy to a dead-letter queue.")]
pub struct LambdaArgs {
    /// The findings store: a PostgreSQL URL (every concurrent execution environment writes to it), or a
    /// SQLite file (on EFS, with the function's reserved concurrency at 1).
    #[arg(long, env = "TRAILGUARD_STORE", value_name = "STORE")]
    pub store: String,

    /// Only objects whose key starts with this; others are acknowledged and counted.
    #[arg(long, env = "TRAILGUARD_PREFIX", value_name = "PREFIX")]
    pub prefix: Option<String>,

    /// Also run the Sigma rules in DIR (shipped in the function's package). Repeatable.
    #[arg(long, value_name = "DIR")]
    pub sigma: Vec<PathBuf>,

    /// The built-in rules to run, as `scan` takes them; set `$TRAILGUARD_IGNORE` in the function's
    /// environment to leave some out.
    #[command(flatten)]
    pub rules: RuleChoice,

    /// Work this recorded SQS event (Lambda's JSON) once and print the response, without the runtime.
    #[arg(long, value_name = "FILE")]
    pub event: Option<PathBuf>,

    /// Send alerts for new findings: slack=URL, webhook=URL, sns=TOPIC_ARN, file=PATH. Repeatable, or
    /// comma-separated in $TRAILGUARD_ALERT. Mutes are always applied (they live in the store).
    #[arg(
        long = "alert",
        env = "TRAILGUARD_ALERT",
        value_delimiter = ',',
        value_name = "KIND=TARGET",
        help_heading = "Alerts and mutes"
    )]
    pub alert: Vec<String>,

    /// With --alert: only findings at or above this severity.
    #[arg(long = "alert-min-severity", env = "TRAILGUARD_ALERT_MIN_SEVERITY", value_name = "SEVERITY", value_parser = crate::cmd::args::parse_severity, help_heading = "Alerts and mutes")]
    pub alert_min_severity: Option<trailguard_rules::Severity>,

    /// The config file with alert destinations (a path in the function's package or on EFS; secrets
    /// from the environment variables it names). Default: ./trailguard.toml when it exists.
    #[arg(
        long,
        env = "TRAILGUARD_CONFIG",
        value_name = "FILE",
        help_heading = "Alerts and mutes"
    )]
    pub config: Option<PathBuf>,

    #[command(flatten)]
    pub aws: crate::cmd::args::AwsArgs,
}

/// One batch handed to this thread by the runtime loop, and where its response goes.
type Job = (SqsEvent, tokio::sync::oneshot::Sender<SqsBatchResponse>);

pub fn run(args: LambdaArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let started_at = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
    if let Some(missing) = args.sigma.iter().find(|p| !p.exists()) {
        bail!("--sigma `{}`: no such file or directory", missing.display());
    }
    let sigma = if args.sigma.is_empty() {
        None
    } else {
        let (set, errors) = SigmaRuleSet::load_dirs(&args.sigma);
        for err in errors.iter().filter(|e| !e.is_skip()) {
            eprintln!("warning: sigma: {err}");
        }
        Some(set)
    };
    // Alerts and mutes as in `serve`: the destinations are checked before anything connects.
    let settings =
        crate::alert::config::load(args.config.as_deref(), &args.alert, args.alert_min_severity)?;
    // A recorded event is read before anything connects, so a bad file is the only error shown.
    let recorded: Option<SqsEvent> = args
        .event
        .as_ref()
        .map(|path| {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read `{}`", path.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("`{}` is not an SQS event", path.display()))
        })
        .transpose()?;
    // Sequence rules are evaluated over the store's observations of every object, as in `serve`.
    let engine = args
        .rules
        .apply(Engine::builtin())?
        .with_deferred_sequences();

    let mut store = store::open(&args.store)?;
    let runtime = remote::runtime()?;
    let target = args.aws.target();
    let config = target.load(&runtime);
    let inputs: Vec<String> = std::env::var("AWS_LAMBDA_FUNCTION_NAME")
        .map(|name| vec![format!("lambda:{name}")])
        .unwrap_or_default();
    let run = store
        .begin_run("lambda", &started_at, &inputs)
        .context("cannot record the run")?;
    // No worker loop runs here, so nothing ever asks to stop.
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    let service = Service {
        engine: &engine,
        sigma: sigma.as_ref(),
        sqs: aws_sdk_sqs::Client::new(&config),
        s3: remote::s3::client(&config, args.aws.endpoint_url.is_some()),
        runtime: Arc::clone(&runtime),
        queues: Vec::new(),
        store: args.store.clone(),
        run,
        prefix: args.prefix.clone(),
        drain: false,
        wait_seconds: 0,
        metrics: Arc::new(Metrics::default()),
        stop,
        progress: false,
        // Delivery health is checked by `serve`'s worker loop; a Lambda function only records arrivals.
        silence_after: chrono::TimeDelta::hours(1),
        alerts: Some(ServeAlerts::new(settings, target)),
    };
    let mut dispatcher = match &service.alerts {
        Some(alerts) => alerts.dispatcher()?,
        None => None,
    };
    // The run's record is brought up to date after every batch: an execution environment is frozen
    // between invocations and ended without notice.
    let mut batch = |event: &SqsEvent| -> anyhow::Result<SqsBatchResponse> {
        let response = handle_batch(&service, store.as_mut(), dispatcher.as_mut(), event);
        let summary = run_summary("lambda", &service.metrics, started, &started_at, &inputs);
        store
            .finish_run(run, &summary)
            .context("cannot record the run")?;
        Ok(response)
    };

    if let Some(event) = recorded {
        let response = batch(&event)?;
        println!("{}", serde_json::to_string_pretty(&response)?);
        return Ok(ExitCode::SUCCESS);
    }

    let (jobs, incoming) = mpsc::channel::<Job>();
    let runtime_loop = std::thread::spawn(move || runtime_loop(jobs));
    for (event, reply) in incoming {
        match batch(&event) {
            Ok(response) => {
                let _ = reply.send(response);
            }
            // Dropping `reply` fails the invocation: Lambda retries the whole batch.
            Err(err) => eprintln!("error: {err:#}"),
        }
    }
    match runtime_loop.join() {
        Ok(result) => result.map(|()| ExitCode::SUCCESS),
        Err(_) => bail!("the Lambda runtime loop panicked"),
    }
}

/// The Lambda runtime API loop: each invocation's event goes to the worker thread, and its response
/// back to Lambda.
fn runtime_loop(jobs: mpsc::Sender<Job>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let handler =
        lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<SqsEvent>| {
            let jobs = jobs.clone();
            async move {
                let (reply, response) = tokio::sync::oneshot::channel();
                jobs.send((event.payload, reply))
                    .map_err(|_| "the worker has stopped".to_owned())?;
                response
                    .await
                    .map_err(|_| "the batch could not be worked; see the error above".to_owned())
            }
        });
    runtime
        .block_on(lambda_runtime::run(handler))
        .map_err(|e| anyhow::anyhow!("Lambda runtime: {e}"))
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: LambdaArgs,
    }

    /// The function takes its rules from its environment, and leaves out what it is told to.
    #[test]
    fn rules_are_chosen_by_flag_or_environment() {
        let command = Cli::command();
        for (flag, variable) in [("rule", "TRAILGUARD_RULE"), ("ignore", "TRAILGUARD_IGNORE")] {
            let arg = command
                .get_arguments()
                .find(|a| a.get_id() == flag)
                .unwrap();
            assert_eq!(arg.get_env().and_then(|v| v.to_str()), Some(variable));
        }
        let cli =
            Cli::try_parse_from(["lambda", "--store", "x.db", "--ignore", "CT033,ct057"]).unwrap();
        let all = Engine::builtin().rule_codes();
        let kept = cli
            .args
            .rules
            .apply(Engine::builtin())
            .unwrap()
            .rule_codes();
        assert_eq!(kept.len(), all.len() - 2, "{kept:?}");
        assert!(!kept.contains(&"CT033") && !kept.contains(&"CT057"));
        let unknown =
            Cli::try_parse_from(["lambda", "--store", "x.db", "--ignore", "CT999"]).unwrap();
        let err = unknown.args.rules.apply(Engine::builtin()).unwrap_err();
        assert!(
            err.to_string().contains("--ignore: unknown rule `CT999`"),
            "{err}"
        );
    }
}
