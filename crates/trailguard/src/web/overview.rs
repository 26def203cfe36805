//! The overview: findings by severity per day (an SVG drawn here), top rules and principals, log
//! delivery health per account and region, the newest critical findings, the latest stored audit's
//! score per section (`audit --store`), and the latest runs.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use chrono::Utc;

use super::render::{trusted, user_page};
use super::{auth, escape, Shared, WebError};
use crate::store::dashboard::{self, FindingFilter, PageAt, Sort, Status};
use trailguard_rules::Severity;

/// Days the chart covers.
pub const CHART_DAYS: i64 = 30;

pub async fn page(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let session = match auth::require(&state, &headers, "/").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let result = async {
        let since = (Utc::now() - chrono::Duration::days(CHART_DAYS))
            .format("%Y-%m-%d")
            .to_string();
        let (overview, critical, runs, audit) = state
            .store
            .run(move |store| {
                let overview = dashboard::overview(store, &since, 10)?;
                let critical = dashboard::list(
                    store,
                    &FindingFilter {
                        severity: Some(Severity::Critical),
                        status: Some(Status::Open),
                        ..FindingFilter::default()
                    },
                    Sort::Newest,
                    &PageAt::First,
                    10,
                )?;
                let runs = store.runs(5)?;
                let audit = dashboard::audits(store, 1)?.into_iter().next();
                Ok((overview, critical, runs, audit))
            })
            .await?;
        let chart = severity_chart(&overview.per_day);
        let now = Utc::now();
        let deliveries: Vec<_> = overview
            .deliveries
            .iter()
            .map(|d| {
                let age_hours = crate::mute::parse_stamp(&d.last_arrival_at)
                    .map(|t| (now - t).num_hours())
                    .unwrap_or(i64::MAX);
                let health = match age_hours {
                    h if h < 1 => "ok",
                    h if h < 24 => "late",
                    _ => "silent",
                };
                minijinja::context! { account => &d.account, region => &d.region,
                    last_arrival_at => &d.last_arrival_at, newest_event_at => &d.newest_event_at,
                    health => health }
            })
            .collect();
        let runs: Vec<_> = runs
            .iter()
            .map(|r| {
                minijinja::context! { id => r.id, command => &r.command, started_at => &r.started_at,
                status => r.status.as_str(), findings => r.findings }
            })
            .collect();
        Ok::<_, WebError>(user_page(
            &state,
            &session,
            "overview.html",
            minijinja::context! {
                chart => trusted(chart),
                top_rules => &overview.top_rules,
                top_principals => &overview.top_principals,
                deliveries => deliveries,
                critical => &critical.rows,
                runs => runs,
                audit => audit,
            },
        ))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

const SEVERITIES: [&str; 5] = ["critical", "high", "medium", "low", "info"];

/// Stacked bars, one per day, one colour class per severity; every label escaped (days come from
/// records' event times).
pub fn severity_chart(per_day: &[(String, String, u64)]) -> String {
    let mut days: Vec<&str> = per_day.iter().map(|(d, _, _)| d.as_str()).collect();
    days.dedup();
    if days.is_empty() {
        return "<p>No findings in the last 30 days.</p>".to_owned();
    }
    let total = |day: &str| -> u64 {
        per_day
            .iter()
            .filter(|(d, _, _)| d == day)
            .map(|(_, _, n)| n)
            .sum()
    };
    let max = days.iter().map(|d| total(d)).max().unwrap_or(1).max(1);
    let (width, height, bar) = (720.0_f64, 200.0_f64, 720.0 / days.len() as f64);
    let mut svg = format!(
        "<svg class=\"chart\" role=\"img\" aria-label=\"Findings by severity per day\" \
         viewBox=\"0 0 {width} {}\" xmlns=\"http://www.w3.org/2000/svg\">",
        height + 40.0
    );
    for (i, day) in days.iter().enumerate() {
        let x = i as f64 * bar;
        let mut y = height;
        for severity in SEVERITIES {
            let n = per_day
                .iter()
                .find(|(d, s, _)| d == day && s == severity)
                .map_or(0, |(_, _, n)| *n);
            if n == 0 {
                continue;
            }
            let h = n as f64 / max as f64 * height;
            y -= h;
            svg.push_str(&format!(
                "<rect class=\"bar sev-{severity}\" x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{h:.1}\">\
                 <title>{} {severity}: {n}</title></rect>",
                x + 1.0,
                (bar - 2.0).max(1.0),
                escape(day)
            ));
        }
        if i % (days.len() / 8).max(1) == 0 {
            svg.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{}\" class=\"axis\">{}</text>",
                x + 1.0,
                height + 16.0,
                escape(day.get(5..).unwrap_or(day))
            ));
        }
    }
    svg.push_str(&format!(
        "<text x=\"0\" y=\"{}\" class=\"axis\">max {max} per day</text></svg>",
        height + 34.0
    ));
    svg
}
