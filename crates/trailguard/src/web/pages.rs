//! A principal's findings, the rules and knowledge-base pages (the content of `trailguard docs`), and
//! the history of runs, audits and web actions.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::findings::{kb_html, ListParams};
use super::render::{trusted, user_page};
use super::{auth, Shared, WebError};
use crate::store::dashboard;

#[derive(Debug, Deserialize)]
pub struct PrincipalQuery {
    #[serde(default)]
    arn: String,
    page: Option<u64>,
    after: Option<String>,
    before: Option<String>,
}

/// Every finding of one principal (the findings list filtered to its ARN, any status), then, with
/// `--snapshot`, its policies, what it can do and its escalation path ([`super::principal`]).
pub async fn principal(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<PrincipalQuery>,
) -> Response {
    let account = match &state.account {
        Some(account) => minijinja::context! { loaded => true,
        account_id => &account.account_id, view => account.describe(&q.arn) },
        None => minijinja::context! { loaded => false },
    };
    let extra = minijinja::context! { principal_arn => &q.arn, account => account };
    let params = ListParams {
        principal: Some(q.arn),
        page: q.page,
        after: q.after,
        before: q.before,
        ..ListParams::default()
    };
    super::findings::list_with(State(state), headers, Query(params), extra).await
}

pub async fn rules(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let session = match auth::require(&state, &headers, "/rules").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let rules: Vec<_> = trailguard_rules::registry::metas()
        .iter()
        .map(|m| {
            minijinja::context! { code => m.code, name => m.name, title => m.title,
            severity => m.severity.as_str(), kb => m.kb_entries }
        })
        .collect();
    user_page(
        &state,
        &session,
        "rules.html",
        minijinja::context! { rules => rules },
    )
}

pub async fn kb_entry(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    let session = match auth::require(&state, &headers, "/rules").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match kb_html(&name) {
        Some((event, html)) => user_page(
            &state,
            &session,
            "kb.html",
            minijinja::context! { name => event, html => trusted(html) },
        ),
        None => WebError::new(
            StatusCode::NOT_FOUND,
            "no knowledge-base entry has this name",
        )
        .into_response(),
    }
}

pub async fn runs(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let session = match auth::require(&state, &headers, "/runs").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let result = state
        .store
        .run(|store| {
            Ok((
                store.runs(100)?,
                dashboard::actions(store, 100)?,
                dashboard::audits(store, 100)?,
            ))
        })
        .await;
    match result {
        Ok((runs, actions, audits)) => {
            let runs: Vec<_> = runs
                .iter()
                .map(|r| {
                    minijinja::context! { id => r.id, command => &r.command,
                    started_at => &r.started_at, finished_at => &r.finished_at,
                    status => r.status.as_str(), findings => r.findings,
                    inputs => r.inputs.join(", ") }
                })
                .collect();
            user_page(
                &state,
                &session,
                "runs.html",
                minijinja::context! { runs => runs, actions => actions, audits => audits },
            )
        }
        Err(e) => e.into_response(),
    }
}
