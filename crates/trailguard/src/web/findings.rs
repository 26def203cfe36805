//! The findings list (filters, sort, pages, CSV and JSON-lines exports), one finding's page, and the
//! admin's mute and resolve forms.

use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::Deserialize;
use trailguard_rules::{Finding, Severity};

use super::auth::{self, Session};
use super::render::{trusted, user_page};
use super::{Shared, WebError};
use crate::mute::{stamp, MuteRequest};
use crate::store::alerting;
use crate::store::dashboard::{self, Cursor, FindingFilter, PageAt, Sort, Status};

/// Rows per page of the list.
pub const PAGE_SIZE: u64 = 50;
/// The most rows one export writes.
pub const EXPORT_LIMIT: u64 = 100_000;

/// The list's query string: the filters, the sort and the page (empty fields are no filter).
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
pub struct ListParams {
    pub severity: Option<String>,
    pub rule: Option<String>,
    pub account: Option<String>,
    pub region: Option<String>,
    pub principal: Option<String>,
    pub event_name: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub status: Option<String>,
    pub sort: Option<String>,
    /// The page's number, for display only (where a page starts is its cursor).
    pub page: Option<u64>,
    /// A cursor: the page after this position.
    pub after: Option<String>,
    /// A cursor: the page before this position.
    pub before: Option<String>,
    /// API only: rows per answer (at most 500).
    pub limit: Option<u64>,
}

fn given(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

impl ListParams {
    /// The store filter and sort, or a 400 naming the bad field.
    pub fn filter(&self) -> Result<(FindingFilter, Sort), WebError> {
        let bad = |field: &str, value: &str, allowed: &str| {
            WebError::new(
                StatusCode::BAD_REQUEST,
                format!("{field} `{value}` is not one of: {allowed}"),
            )
        };
        let severity = match given(&self.severity) {
            None => None,
            Some(s) => Some(
                Severity::ALL
                    .into_iter()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| bad("severity", &s, "critical, high, medium, low, info"))?,
            ),
        };
        let status = match given(&self.status) {
            None => None,
            Some(s) => {
                Some(Status::parse(&s).ok_or_else(|| bad("status", &s, "open, muted, resolved"))?)
            }
        };
        let sort = match given(&self.sort) {
            None => Sort::default(),
            Some(s) => {
                Sort::parse(&s).ok_or_else(|| bad("sort", &s, "severity, newest, oldest, rule"))?
            }
        };
        Ok((
            FindingFilter {
                severity,
                rule: given(&self.rule),
                account: given(&self.account),
                region: given(&self.region),
                principal: given(&self.principal),
                event_name: given(&self.event_name),
                from: given(&self.from),
                to: given(&self.to),
                status,
            },
            sort,
        ))
    }

    /// Where the page starts: the `after` or `before` cursor (checked against the sort), else the
    /// first page.
    pub fn at(&self, sort: Sort) -> Result<PageAt, WebError> {
        let bad = |why: String| WebError::new(StatusCode::BAD_REQUEST, why);
        match (given(&self.after), given(&self.before)) {
            (Some(_), Some(_)) => Err(bad("give `after` or `before`, not both".into())),
            (Some(c), None) => Ok(PageAt::After(Cursor::decode(&c, sort).map_err(bad)?)),
            (None, Some(c)) => Ok(PageAt::Before(Cursor::decode(&c, sort).map_err(bad)?)),
            (None, None) => Ok(PageAt::First),
        }
    }

    /// The filters and sort as a query string (no page), for links to other pages and the exports.
    pub fn query_string(&self) -> String {
        fn enc(v: &str) -> percent_encoding::PercentEncode<'_> {
            percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
        }
        [
            ("severity", &self.severity),
            ("rule", &self.rule),
            ("account", &self.account),
            ("region", &self.region),
            ("principal", &self.principal),
            ("event_name", &self.event_name),
            ("from", &self.from),
            ("to", &self.to),
            ("status", &self.status),
            ("sort", &self.sort),
        ]
        .iter()
        .filter_map(|(k, v)| given(v).map(|v| format!("{k}={}", enc(&v))))
        .collect::<Vec<_>>()
        .join("&")
    }
}

#[allow(
    clippy::result_large_err,
    reason = "the error is the page a handler sends at once (a redirect or a refusal); boxing it buys nothing"
)]
async fn login_redirect(
    state: &Shared,
    headers: &HeaderMap,
    here: &str,
) -> Result<Session, Response> {
    auth::require(state, headers, here).await
}

pub async fn list(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(params): Query<ListParams>,
) -> Response {
    list_with(State(state), headers, Query(params), minijinja::context! {}).await
}

/// The list with more for its template (the principal page's sections).
pub async fn list_with(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(params): Query<ListParams>,
    extra: minijinja::Value,
) -> Response {
    let session = match login_redirect(&state, &headers, "/findings").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match list_page(&state, &session, params, extra).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn list_page(
    state: &Shared,
    session: &Session,
    params: ListParams,
    extra: minijinja::Value,
) -> Result<Response, WebError> {
    let (filter, sort) = params.filter()?;
    let at = params.at(sort)?;
    let first = at == PageAt::First;
    let listed = state
        .store
        .run(move |store| dashboard::list(store, &filter, sort, &at, PAGE_SIZE))
        .await?;
    // The page number is carried for display; a page with nothing before it is page 1.
    let page = if first || !listed.earlier {
        1
    } else {
        params.page.unwrap_or(2).max(2)
    };
    let query = params.query_string();
    let link = |p: u64, position: &str, cursor: Cursor| {
        let sep = if query.is_empty() { "" } else { "&" };
        format!(
            "/findings?{query}{sep}page={p}&{position}={}",
            cursor.encode()
        )
    };
    let pages = listed.total.div_ceil(PAGE_SIZE).max(1);
    let prev = listed.previous(sort).map(|c| {
        if page <= 2 {
            // Page 1 has a plain address (no cursor), as the first visit did.
            if query.is_empty() {
                "/findings".to_owned()
            } else {
                format!("/findings?{query}")
            }
        } else {
            link(page - 1, "before", c)
        }
    });
    let next = listed.next(sort).map(|c| link(page + 1, "after", c));
    Ok(user_page(
        state,
        session,
        "findings.html",
        minijinja::context! {
            rows => &listed.rows,
            total => listed.total,
            page => page,
            pages => pages,
            prev => prev,
            next => next,
            query => &query,
            params => &params,
            sort => sort.as_str(),
            ..extra
        },
    ))
}

/// The filtered set as CSV: one row per finding, cells that a spreadsheet would run as a formula
/// (`=`, `+`, `-`, `@`, tab, CR) prefixed with `'`.
pub async fn export_csv(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(params): Query<ListParams>,
) -> Response {
    export(state, headers, params, Format::Csv).await
}

/// The filtered set as JSON lines: one finding (with its `status`) per line.
pub async fn export_jsonl(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(params): Query<ListParams>,
) -> Response {
    export(state, headers, params, Format::JsonLines).await
}

#[derive(Clone, Copy)]
enum Format {
    Csv,
    JsonLines,
}

async fn export(state: Shared, headers: HeaderMap, params: ListParams, format: Format) -> Response {
    if let Err(r) = login_redirect(&state, &headers, "/findings").await {
        return r;
    }
    let result = async {
        let (filter, sort) = params.filter()?;
        let (rows, _skipped) = state
            .store
            .run(move |store| dashboard::export(store, &filter, sort, EXPORT_LIMIT))
            .await?;
        let (body, kind, name) = match format {
            Format::Csv => (csv_of(&rows), "text/csv; charset=utf-8", "findings.csv"),
            Format::JsonLines => (
                jsonl_of(&rows),
                "application/x-ndjson; charset=utf-8",
                "findings.jsonl",
            ),
        };
        Ok::<_, WebError>(
            (
                [
                    (header::CONTENT_TYPE, kind.to_owned()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{name}\""),
                    ),
                ],
                body,
            )
                .into_response(),
        )
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// A cell a spreadsheet will not evaluate.
pub fn csv_cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

fn csv_of(rows: &[(Finding, Status)]) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let _ = writer.write_record([
        "id",
        "status",
        "severity",
        "rule_id",
        "title",
        "event_time",
        "event_name",
        "account",
        "region",
        "principal",
        "resource",
    ]);
    for (f, status) in rows {
        let opt = |v: &Option<String>| v.as_deref().map(csv_cell).unwrap_or_default();
        let _ = writer.write_record([
            csv_cell(&f.id),
            status.as_str().to_owned(),
            f.severity.as_str().to_owned(),
            csv_cell(&f.rule_id),
            csv_cell(&f.title),
            opt(&f.event_time),
            opt(&f.event_name),
            opt(&f.account),
            opt(&f.region),
            opt(&f.actor.as_ref().and_then(|a| a.arn.clone())),
            opt(&f.resource.as_ref().map(|r| r.id.clone())),
        ]);
    }
    String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
}

fn jsonl_of(rows: &[(Finding, Status)]) -> String {
    let mut out = String::new();
    for (finding, status) in rows {
        let mut value = serde_json::to_value(finding).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            map.insert("status".into(), status.as_str().into());
        }
        out.push_str(&value.to_string());
        out.push('\n');
    }
    out
}

/// The fix for one finding as AWS CLI commands and boto3 lines: the offline plan of its fix actions
/// (the same calls `trailguard fix` would make), else the commands the rule suggests.
pub fn fix_commands(finding: &Finding) -> (Vec<String>, Vec<String>) {
    let offline = crate::fix::plan::build(
        std::slice::from_ref(finding),
        None,
        &crate::fix::plan::PlanOptions::default(),
    );
    let mut cli = Vec::new();
    let mut python = Vec::new();
    if let Ok(plan) = offline {
        for step in &plan.steps {
            for call in &step.calls {
                cli.push(call.to_cli());
                python.push(call.to_python());
            }
        }
    }
    if cli.is_empty() {
        cli = finding.fix.commands.clone();
    }
    if !python.is_empty() {
        let mut services: Vec<&str> = python
            .iter()
            .filter_map(|line| line.split_once('.').map(|(s, _)| s))
            .collect();
        services.sort_unstable();
        services.dedup();
        let mut head = vec!["import boto3".to_owned()];
        head.extend(
            services
                .iter()
                .map(|s| format!("{s} = boto3.client(\"{s}\")")),
        );
        head.append(&mut python);
        python = head;
    }
    (cli, python)
}

/// The knowledge-base entry of a finding, as HTML (the KB is ours, embedded in the binary).
pub fn kb_html(name: &str) -> Option<(String, String)> {
    let entry = trailguard_kb::Kb::builtin().lookup(name)?;
    let mut html = String::new();
    pulldown_cmark::html::push_html(
        &mut html,
        pulldown_cmark::Parser::new_ext(
            &entry.body_without_setup(),
            pulldown_cmark::Options::ENABLE_TABLES,
        ),
    );
    Some((entry.event.clone(), html))
}

pub async fn detail(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let here = format!("/findings/{id}");
    let session = match login_redirect(&state, &headers, &here).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let result = async {
        let lookup = id.clone();
        let found = state
            .store
            .run(move |store| dashboard::finding(store, &lookup))
            .await?
            .ok_or_else(|| WebError::new(StatusCode::NOT_FOUND, "no stored finding has this id"))?;
        let f = &found.finding;
        let (cli, python) = fix_commands(f);
        let kb = f.fix.kb_entry.as_deref().or(f.event_name.as_deref()).and_then(kb_html);
        let evidence: Vec<(String, String)> = f
            .evidence
            .iter()
            .map(|e| {
                (
                    e.path.clone(),
                    serde_json::to_string_pretty(&e.value).unwrap_or_default(),
                )
            })
            .collect();
        let raw = serde_json::to_string_pretty(f).unwrap_or_default();
        Ok::<_, WebError>(user_page(
            &state,
            &session,
            "finding.html",
            minijinja::context! {
                f => f,
                status => found.status.as_str(),
                first_seen_at => &found.first_seen_at,
                last_seen_at => &found.last_seen_at,
                times_seen => found.times_seen,
                mute_id => &found.mute_id,
                resolved => &found.resolved,
                principal => f.actor.as_ref().and_then(|a| a.arn.clone()),
                evidence => evidence,
                raw => raw,
                cli => cli,
                python => python.join("\n"),
                kb_name => kb.as_ref().map(|(n, _)| n.clone()),
                kb_html => kb.map(|(_, h)| trusted(h)),
                default_expiry => (Utc::now() + chrono::Duration::days(30)).format("%Y-%m-%d").to_string(),
            },
        ))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

#[derive(Debug, Deserialize)]
pub struct MuteForm {
    csrf: Option<String>,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    expires: String,
}

/// Checks the session, the CSRF token, then the role: a form from nowhere is refused before anything
/// about the user is considered.
async fn admin_form(
    state: &Shared,
    headers: &HeaderMap,
    csrf: Option<&str>,
) -> Result<Session, WebError> {
    let session = auth::session(state, headers)
        .await
        .ok_or_else(|| WebError::new(StatusCode::UNAUTHORIZED, "log in first"))?;
    session.check_csrf(csrf)?;
    session.require_admin()?;
    Ok(session)
}

/// Mutes one finding: a mute matching its rule, principal, account, region, resource and event (as
/// narrow as the finding allows), with the reason and expiry given, linked to the finding and logged.
pub async fn mute(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<MuteForm>,
) -> Result<Response, WebError> {
    let session = admin_form(&state, &headers, form.csrf.as_deref()).await?;
    let who = session.user.clone();
    let finding_id = id.clone();
    state
        .store
        .run(move |store| {
            let Some(found) = dashboard::finding(store, &finding_id)? else {
                return Ok(Err(WebError::new(
                    StatusCode::NOT_FOUND,
                    "no stored finding has this id",
                )));
            };
            let f = &found.finding;
            let request = MuteRequest {
                id: None,
                rule: Some(f.rule_id.clone()),
                principal: f.actor.as_ref().and_then(|a| a.arn.clone()),
                account: f.account.clone(),
                region: f.region.clone(),
                resource: f.resource.as_ref().map(|r| r.id.clone()),
                event_name: f.event_name.clone(),
                source_ip: None,
                reason: form.reason.clone(),
                expires: given(&Some(form.expires.clone())),
                permanent: false,
                created_by: Some(format!("web:{who}")),
                created_at: None,
            };
            let now = Utc::now();
            let mute = match request.into_mute(&who, now) {
                Ok(m) => m,
                Err(e) => return Ok(Err(WebError::new(StatusCode::BAD_REQUEST, e.to_string()))),
            };
            alerting::add_mute(store, &mute)?;
            let detail = format!(
                "{} until {}: {}",
                mute.id,
                mute.expires_at.as_deref().unwrap_or("never"),
                mute.reason
            );
            dashboard::link_mute(store, &finding_id, &mute.id, &who, &stamp(now), &detail)?;
            Ok(Ok(()))
        })
        .await??;
    Ok(Redirect::to(&format!("/findings/{}", url(&id))).into_response())
}

#[derive(Debug, Deserialize)]
pub struct ResolveForm {
    csrf: Option<String>,
    #[serde(default)]
    note: String,
}

pub async fn resolve(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<ResolveForm>,
) -> Result<Response, WebError> {
    let session = admin_form(&state, &headers, form.csrf.as_deref()).await?;
    if form
        .note
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r')
    {
        return Err(WebError::new(
            StatusCode::BAD_REQUEST,
            "the note must not contain control characters",
        ));
    }
    let who = session.user.clone();
    let finding_id = id.clone();
    let exists = state
        .store
        .run(move |store| {
            if dashboard::finding(store, &finding_id)?.is_none() {
                return Ok(false);
            }
            dashboard::resolve(
                store,
                &finding_id,
                &who,
                &stamp(Utc::now()),
                form.note.trim(),
            )?;
            Ok(true)
        })
        .await?;
    if !exists {
        return Err(WebError::new(
            StatusCode::NOT_FOUND,
            "no stored finding has this id",
        ));
    }
    Ok(Redirect::to(&format!("/findings/{}", url(&id))).into_response())
}

/// A path segment, percent-encoded: everything but RFC 3986's unreserved characters, as the templates'
/// `urlencode` leaves them, so a finding's link reads the same wherever it is drawn.
pub fn url(segment: &str) -> String {
    const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(segment, PATH_SEGMENT).to_string()
}
