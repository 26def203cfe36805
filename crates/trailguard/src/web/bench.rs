//! `trailguard web bench` (hidden; `scripts/bench-web.sh` runs it): fills a fresh store with N findings
//! (the findings of a real Stratus detonation log, cloned with new ids, times over 30 days, 200
//! principals, 5 accounts), then times pages of the dashboard through [`super::app`] in-process, so
//! the number is the handler, the query and the template, without the network.

use std::time::Instant;

use anyhow::Context;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::value::RawValue;
use tower::ServiceExt;
use trailguard_event::Record;
use trailguard_rules::engine::Engine;
use trailguard_rules::{Actor, Finding};

use super::{app, AppState, AuthMode, StoreHandle};
use crate::store;

pub fn run(spec: &str, findings: u64, rounds: u32, sample: &std::path::Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(sample)
        .with_context(|| format!("cannot read {}", sample.display()))?;
    let raws: Vec<&RawValue> =
        serde_json::from_str(&text).context("the sample is not a JSON array")?;
    let engine = Engine::builtin();
    let mut worker = engine.new_worker();
    for raw in raws {
        if let Ok(record) = Record::from_raw(raw) {
            worker.visit(&record);
        }
    }
    let templates = engine.finish(vec![worker]);
    anyhow::ensure!(!templates.is_empty(), "the sample gives no finding");

    let started = Instant::now();
    {
        let mut store = store::open(spec)?;
        let run = store.begin_run("bench", "2024-03-31T00:00:00Z", &[])?;
        let mut batch = Vec::with_capacity(5000);
        for i in 0..findings {
            let mut f: Finding = templates[(i as usize) % templates.len()].clone();
            f.id = Finding::stable_id(&[&f.id, &i.to_string()]);
            let minute = i % (30 * 24 * 60);
            f.event_time = Some(format!(
                "2024-03-{:02}T{:02}:{:02}:00Z",
                1 + minute / (24 * 60),
                (minute / 60) % 24,
                minute % 60
            ));
            f.account = Some(format!("11112222333{}", i % 5));
            f.actor = Some(Actor {
                arn: Some(format!("arn:aws:iam::111122223333:user/user-{}", i % 200)),
                ..f.actor.unwrap_or_default()
            });
            batch.push(f);
            if batch.len() == 5000 {
                store.save_findings(run, "2024-03-31T00:00:00Z", &batch)?;
                batch.clear();
            }
        }
        store.save_findings(run, "2024-03-31T00:00:00Z", &batch)?;
    }
    eprintln!(
        "stored {findings} findings in {:.1} s ({:.0} findings/s)",
        started.elapsed().as_secs_f64(),
        findings as f64 / started.elapsed().as_secs_f64()
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let state = AppState::new(StoreHandle::spawn(spec.to_owned())?, AuthMode::Disabled);
        // The deep page is reached as a reader reaches it, by the cursor of the page before it
        // (found here untimed, 500 rows at a time).
        let deep = (findings / super::findings::PAGE_SIZE / 2).max(2);
        let skip = (deep - 1) * super::findings::PAGE_SIZE;
        let cursor = state
            .store
            .run(move |store| {
                use crate::store::dashboard::{self, FindingFilter, PageAt, Sort};
                let (mut at, mut read) = (PageAt::First, 0);
                while read < skip {
                    let page = dashboard::list(
                        store,
                        &FindingFilter::default(),
                        Sort::Severity,
                        &at,
                        (skip - read).min(500),
                    )?;
                    read += page.rows.len() as u64;
                    match page.rows.last() {
                        Some(row) if page.more => {
                            at = PageAt::After(dashboard::Cursor::of(row, Sort::Severity))
                        }
                        _ => break,
                    }
                }
                Ok(match at {
                    PageAt::After(c) => c.encode(),
                    _ => String::new(),
                })
            })
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.message))?;
        let pages = [
            "/findings".to_owned(),
            "/findings?severity=critical&status=open".to_owned(),
            "/findings?sort=newest&from=2024-03-10&to=2024-03-20".to_owned(),
            "/findings?principal=arn%3Aaws%3Aiam%3A%3A111122223333%3Auser%2Fuser-7".to_owned(),
            format!("/findings?page={deep}&after={cursor}"),
            "/api/v1/findings?status=open&limit=50".to_owned(),
            "/".to_owned(),
        ];
        println!("page\tmedian_ms\tmax_ms");
        for page in &pages {
            let mut times = Vec::new();
            for _ in 0..rounds {
                let request = Request::builder()
                    .uri(page.as_str())
                    .header(header::ACCEPT, "text/html")
                    .body(Body::empty())?;
                let t = Instant::now();
                let response = app(state.clone()).oneshot(request).await?;
                let status = response.status();
                let _ = axum::body::to_bytes(response.into_body(), 64 << 20).await?;
                times.push(t.elapsed().as_secs_f64() * 1000.0);
                anyhow::ensure!(status == StatusCode::OK, "{page}: {status}");
            }
            times.sort_by(f64::total_cmp);
            let label = match page.split_once("&after=") {
                Some((head, _)) => format!("{head}&after=CURSOR"),
                None => page.clone(),
            };
            println!(
                "{label}\t{:.1}\t{:.1}",
                times[times.len() / 2],
                times[times.len() - 1]
            );
        }
        Ok::<_, anyhow::Error>(())
    })?;
    let peak = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_owned())
        })
        .unwrap_or_else(|| "?".into());
    println!("peak memory: {peak} kB");
    Ok(())
}
