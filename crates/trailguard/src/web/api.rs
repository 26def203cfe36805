//! `/api/v1`: the findings (same filters as the list, paged), one finding, the mutes, and the OpenAPI
//! document that describes them (`openapi.json`, written by hand; the tests check real answers
//! against it). Same session as the pages; no session is a 401, not a redirect.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::findings::ListParams;
use super::{auth, Shared, WebError};
use crate::store::{alerting, dashboard};

/// The most rows one answer holds.
pub const MAX_LIMIT: u64 = 500;

pub const OPENAPI: &str = include_str!("openapi.json");

fn unauthorized() -> WebError {
    WebError::new(StatusCode::UNAUTHORIZED, "log in first")
}

/// An error as the API answers it: `{"error": "..."}`.
fn api_error(err: WebError) -> Response {
    (err.status, Json(json!({ "error": err.message }))).into_response()
}

pub async fn findings(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(params): Query<ListParams>,
) -> Response {
    let result = async {
        auth::session(&state, &headers)
            .await
            .ok_or_else(unauthorized)?;
        let (filter, sort) = params.filter()?;
        let limit = params.limit.unwrap_or(50).clamp(1, MAX_LIMIT);
        let at = params.at(sort)?;
        let listed = state
            .store
            .run(move |store| dashboard::list(store, &filter, sort, &at, limit))
            .await?;
        Ok::<_, WebError>(Json(json!({
            "total": listed.total,
            "limit": limit,
            "more": listed.more,
            "next": listed.next(sort).map(|c| c.encode()),
            "previous": listed.previous(sort).map(|c| c.encode()),
            "items": listed.rows,
        })))
    }
    .await;
    result.map_or_else(api_error, IntoResponse::into_response)
}

pub async fn finding(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        auth::session(&state, &headers)
            .await
            .ok_or_else(unauthorized)?;
        let found = state
            .store
            .run(move |store| dashboard::finding(store, &id))
            .await?
            .ok_or_else(|| WebError::new(StatusCode::NOT_FOUND, "no stored finding has this id"))?;
        let (cli, python) = super::findings::fix_commands(&found.finding);
        Ok::<_, WebError>(Json(json!({
            "finding": found.finding,
            "status": found.status,
            "first_seen_at": found.first_seen_at,
            "last_seen_at": found.last_seen_at,
            "times_seen": found.times_seen,
            "mute_id": found.mute_id,
            "fix": { "cli": cli, "boto3": python },
        })))
    }
    .await;
    result.map_or_else(api_error, IntoResponse::into_response)
}

pub async fn mutes(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let result = async {
        auth::session(&state, &headers)
            .await
            .ok_or_else(unauthorized)?;
        let mutes = state.store.run(alerting::mutes).await?;
        Ok::<_, WebError>(Json(json!({ "items": mutes })))
    }
    .await;
    result.map_or_else(api_error, IntoResponse::into_response)
}

pub async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}
