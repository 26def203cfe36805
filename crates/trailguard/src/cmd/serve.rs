//! `trailguard serve --queue URL --store STORE`: workers on SQS that scan each CloudTrail log file as it
//! is delivered and keep the findings in the store. The worker itself is [`crate::serve`]; this file
//! checks the flags, connects (queues, store, listener) before any work, runs the workers, handles
//! SIGTERM and Ctrl-C, and records the process as one `serve` run in the store.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use chrono::{SecondsFormat, Utc};
use trailguard_rules::engine::Engine;
use trailguard_rules::output::RunSummary;
use trailguard_rules::sigma::SigmaRuleSet;

use super::args::RuleChoice;
use crate::remote;
use crate::serve::{self, listen, metrics::Metrics, Service};
use crate::store;
use crate::ui;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  trailguard serve --queue https://sqs.us-east-1.amazonaws.com/111122223333/trail-files --store /var/lib/trailguard/trailguard.db
  trailguard serve --queue URL --store tg.db --workers 4 --prefix AWSLogs/111122223333/ --listen 9464
  trailguard serve --queue URL --store tg.db --drain     # work until the queue is empty, then exit

Messages are deleted only after their findings are committed; a failure leaves the message for SQS to
redeliver (and, after the queue's redrive limit, to move to its dead-letter queue). SIGTERM finishes the
objects in hand and exits 0.")]
pub struct ServeArgs {
    /// SQS queue URL to take notifications from (S3 events, CloudTrail's SNS notifications, EventBridge).
    /// Repeatable.
    #[arg(long, required = true, value_name = "SQS_URL")]
    pub queue: Vec<String>,

    /// The findings store (a SQLite file, created if missing), shared by every worker.
    #[arg(long, value_name = "STORE")]
    pub store: String,

    /// Workers in this process, each with its own messages and store connection.
    #[arg(long, default_value_t = 2, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub workers: u16,

    /// Only objects whose key starts with this; others are acknowledged and counted.
    #[arg(long, value_name = "PREFIX")]
    pub prefix: Option<String>,

    /// Work until every queue is empty (nothing visible or in flight), then exit. A message that keeps
    /// failing holds the queue open until SQS moves it to the dead-letter queue: give the queue a redrive
    /// policy.
    #[arg(long)]
    pub drain: bool,

    #[command(flatten)]
    pub rules: RuleChoice,

    /// An account snapshot (as `scan --snapshot`): CT054 re-evaluates its escalation graph on every
    /// IAM change (applying only the changes it has not applied yet), CT039 knows its trails.
    #[arg(long, value_name = "DIR")]
    pub snapshot: Option<PathBuf>,

    /// Also run the Sigma rules in DIR (a directory of SigmaHQ YAML rules, or one file). Repeatable.
    #[arg(long, value_name = "DIR")]
    pub sigma: Vec<PathBuf>,

    /// Serve GET /healthz and GET /metrics (Prometheus) on ADDR: HOST:PORT, or a port on 127.0.0.1.
    #[arg(long, value_name = "ADDR", value_parser = listen::parse_listen)]
    pub listen: Option<std::net::SocketAddr>,

    /// Raise a CT051 finding when an account and region whose CloudTrail files were arriving has sent
    /// none for longer than this (`90s`, `30m`, `1h`, `2d`): the trail may have been stopped, moved or
    /// filtered.
    #[arg(long = "silence-after", default_value = "1h", value_name = "AGE", value_parser = parse_silence)]
    pub silence_after: chrono::TimeDelta,

    #[command(flatten)]
    pub triage: crate::triage::TriageArgs,

    /// No summary at exit (failures are still reported).
    #[arg(long, short = 'q')]
    pub quiet: bool,

    #[command(flatten)]
    pub aws: crate::cmd::args::AwsArgs,
}

fn parse_silence(text: &str) -> Result<chrono::TimeDelta, String> {
    crate::cmd::scan::parse_age(text.trim())
        .filter(|age| *age > chrono::TimeDelta::zero())
        .ok_or_else(|| format!("cannot read `{text}`: give a length such as 90s, 30m, 1h or 2d"))
}

/// Sets a flag on SIGTERM and SIGINT (instead of ending the process), which the workers are told of.
fn watch_for_termination() -> anyhow::Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let flag = Arc::clone(&flag);
        // SAFETY: the action only stores to an atomic, which is async-signal-safe; it allocates
        // nothing, takes no lock and never panics.
        unsafe {
            signal_hook_registry::register(signal, move || flag.store(true, Ordering::SeqCst))
        }
        .with_context(|| format!("cannot handle signal {signal}"))?;
    }
    Ok(flag)
}

/// The store's record of a service run (`serve`, or `lambda` so far) from its metrics.
pub(crate) fn run_summary(
    command: &str,
    metrics: &Metrics,
    started: Instant,
    started_at: &str,
    inputs: &[String],
) -> RunSummary {
    let mut summary = RunSummary::new(command);
    summary.started_at = Some(started_at.to_owned());
    summary.inputs = inputs.to_vec();
    summary.files = metrics.objects_processed.load(Ordering::Relaxed);
    summary.files_failed = metrics.objects_failed.load(Ordering::Relaxed);
    summary.records = metrics.records.load(Ordering::Relaxed);
    summary.findings = metrics.findings_by_severity();
    summary.errors = metrics.errors_by_kind().values().sum();
    summary.findings_muted = metrics.findings_muted.load(Ordering::Relaxed);
    for (reason, count) in metrics.skipped_by_reason() {
        summary.skipped.insert(reason.replace('_', " "), count);
    }
    summary.duration_ms = started.elapsed().as_millis().min(u128::from(u64::MAX)) as u64;
    summary.finished_at = Some(Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true));
    summary
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
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
    // Sequence rules are evaluated over the store's observations of every object, not one object's.
    // Every worker shares the engine, so the snapshot's graph is built once.
    let mut engine = Engine::builtin();
    if let Some(dir) = &args.snapshot {
        engine = super::scan_snapshot::with_snapshot(engine, dir, false)?.0;
    }
    // After the snapshot, which replaces the rules it seeds: an ignored rule stays out.
    let engine = args.rules.apply(engine)?.with_deferred_sequences();

    // Everything that can fail before work starts: the listener, the store, the queues.
    let listener = args.listen.map(listen::bind).transpose()?;
    let mut run_store = store::open(&args.store)?;
    let runtime = remote::runtime()?;
    let target = args.aws.target();
    let config = target.load(&runtime);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let s3 = remote::s3::client(&config, args.aws.endpoint_url.is_some());
    let queues = serve::queues(&sqs, &runtime, &args.queue)?;
    let settings = crate::alert::config::load(
        args.triage.config.as_deref(),
        &args.triage.alert,
        args.triage.alert_min_severity,
    )?;
    let alerts = serve::alerts::ServeAlerts::new(settings, target.clone());
    let run = run_store
        .begin_run("serve", &started_at, &args.queue)
        .context("cannot record the run")?;

    // SIGTERM and Ctrl-C: finish what is in hand, then stop.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let signalled = watch_for_termination()?;
    {
        let signalled = Arc::clone(&signalled);
        let stop_tx = stop_tx.clone();
        runtime.spawn(async move {
            while !signalled.load(Ordering::Relaxed) {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            let _ = stop_tx.send(true);
        });
    }

    let metrics = Arc::new(Metrics::default());
    let listening = listener.map(|listener| {
        if let Ok(addr) = listener.local_addr() {
            eprintln!("listening on http://{addr} (/healthz, /metrics)");
        }
        let metrics = Arc::clone(&metrics);
        let stop = stop_rx.clone();
        std::thread::spawn(move || listen::serve(listener, metrics, stop))
    });
    let service = Service {
        engine: &engine,
        sigma: sigma.as_ref(),
        sqs,
        s3,
        runtime: Arc::clone(&runtime),
        queues,
        store: args.store.clone(),
        run,
        prefix: args.prefix.clone(),
        drain: args.drain,
        wait_seconds: if args.drain { 1 } else { 20 },
        metrics: Arc::clone(&metrics),
        stop: stop_rx,
        progress: !args.quiet && ui::stderr_is_terminal(),
        silence_after: args.silence_after,
        alerts: Some(alerts),
    };
    eprintln!(
        "serving {} with {} workers{}",
        match args.queue.as_slice() {
            [one] => one.clone(),
            many => format!("{} queues", many.len()),
        },
        args.workers,
        if args.drain {
            " until the queues are empty"
        } else {
            ""
        }
    );
    let results: Vec<anyhow::Result<()>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..usize::from(args.workers))
            .map(|index| {
                let service = &service;
                scope.spawn(move || service.worker(index))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a worker panicked")))
            })
            .collect()
    });
    let _ = stop_tx.send(true);
    if let Some(listening) = listening {
        let _ = listening.join();
    }

    let summary = run_summary("serve", &metrics, started, &started_at, &args.queue);
    // The connection opened at start may have died since (a restarted server): once more on a new one.
    if run_store.finish_run(run, &summary).is_err() {
        store::open(&args.store)
            .and_then(|mut fresh| fresh.finish_run(run, &summary))
            .context("cannot record the end of the run")?;
    }
    if !args.quiet {
        let count = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
        let skipped: Vec<String> = metrics
            .skipped_by_reason()
            .iter()
            .map(|(reason, n)| format!("{n} {}", reason.replace('_', " ")))
            .collect();
        eprintln!(
            "served run {run}: {} messages ({} deleted, {} left on the queue, {} unrecognised); {} objects committed, {} already processed, {} failed; {} records, {} findings{}",
            count(&metrics.messages_received),
            count(&metrics.messages_deleted),
            count(&metrics.messages_left),
            count(&metrics.messages_unrecognised),
            count(&metrics.objects_processed),
            count(&metrics.objects_duplicate),
            count(&metrics.objects_failed),
            count(&metrics.records),
            summary.findings.values().sum::<u64>(),
            if skipped.is_empty() {
                String::new()
            } else {
                format!("; skipped: {}", skipped.join(", "))
            }
        );
    }
    for result in results {
        result?;
    }
    Ok(ExitCode::SUCCESS)
}
