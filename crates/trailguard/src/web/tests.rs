//! The dashboard in-process: real findings (the Stratus Red Team detonation logs through the built-in
//! engine, plus a CreatePolicyVersion record carrying hostile strings) in a SQLite store, requests
//! sent to [`super::app`] with tower's `oneshot`, answers asserted on their HTML and JSON.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::{json, value::RawValue, Value};
use tower::ServiceExt;
use trailguard_event::Record;
use trailguard_rules::engine::Engine;
use trailguard_rules::{Finding, Severity};

use super::{app, AppState, AuthMode, Shared, StoreHandle};
use crate::store::{self, dashboard, dashboard::Role};

const ADMIN_PASSWORD: &str = "correct horse battery staple";
const VIEWER_PASSWORD: &str = "viewer password 1234";

const SCRIPT: &str = "<script>alert('ua')</script>";
const IMG: &str = "\"><img src=x onerror=alert(1)>";
const JS_URL: &str = "javascript:alert(document.cookie)";

fn scan(engine: &Engine, records: &[&RawValue]) -> Vec<Finding> {
    let mut worker = engine.new_worker();
    for raw in records {
        if let Ok(record) = Record::from_raw(raw) {
            worker.visit(&record);
        }
    }
    engine.finish(vec![worker])
}

/// A CreatePolicyVersion that makes an admin policy the default, with a hostile user agent, policy
/// name and policy document.
fn hostile_record() -> String {
    let document = json!({"Version": "2012-10-17", "Statement": [{"Sid": format!("x{IMG}"),
        "Effect": "Allow", "Action": "*", "Resource": "*"}]})
    .to_string();
    json!({"eventVersion": "1.08", "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLEPRINCIPAL",
        "arn": format!("arn:aws:iam::111122223333:user/{JS_URL}"), "accountId": "111122223333",
        "accessKeyId": "AKIAEXAMPLEKEY0001", "userName": JS_URL},
        "eventTime": "2024-03-01T10:00:00Z", "eventSource": "iam.amazonaws.com",
        "eventName": "CreatePolicyVersion", "awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.66",
        "userAgent": format!("{SCRIPT} {JS_URL}"),
        "requestParameters": {"policyArn": format!("arn:aws:iam::111122223333:policy/ops{IMG}"),
            "policyDocument": document, "setAsDefault": true},
        "responseElements": {"policyVersion": {"versionId": "v2", "isDefaultVersion": true,
            "createDate": "Mar 1, 2024 10:00:00 AM"}},
        "requestID": "5d3c1a2b-0000-4000-8000-000000000001", "eventID": "5d3c1a2b-0000-4000-8000-000000000002",
        "readOnly": false, "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": "111122223333"})
    .to_string()
}

struct Fixture {
    _dir: tempfile::TempDir,
    state: Shared,
    /// The hostile CreatePolicyVersion finding.
    policy_finding: Finding,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("tg.db").display().to_string();
    let engine = Engine::builtin();
    let mut findings = Vec::new();
    let logs =
        trailguard_testkit::shared_data().join("cloudtrail/stratus-red-team/docs/detonation-logs");
    for name in [
        "aws.persistence.iam-create-admin-user.json",
        "aws.persistence.iam-backdoor-user.json",
        "aws.defense-evasion.cloudtrail-stop.json",
        "aws.initial-access.console-login-without-mfa.json",
    ] {
        let path = logs.join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        let raws: Vec<&RawValue> = serde_json::from_str(&text).unwrap();
        findings.extend(scan(&engine, &raws));
    }
    let hostile = hostile_record();
    let raw: &RawValue = serde_json::from_str(&hostile).unwrap();
    let policy_findings = scan(&engine, &[raw]);
    let policy_finding = policy_findings
        .iter()
        .find(|f| f.event_name.as_deref() == Some("CreatePolicyVersion"))
        .expect("the CreatePolicyVersion record gives a finding")
        .clone();
    findings.extend(policy_findings);
    assert!(findings.len() > 5, "{}", findings.len());
    {
        let mut store = store::open(&spec).unwrap();
        let run = store
            .begin_run("scan", "2024-03-02T00:00:00Z", &["stratus".into()])
            .unwrap();
        store
            .save_findings(run, "2024-03-02T00:00:00Z", &findings)
            .unwrap();
        super::auth::add_user(store.as_mut(), "alice", Role::Admin, ADMIN_PASSWORD).unwrap();
        super::auth::add_user(store.as_mut(), "victor", Role::Viewer, VIEWER_PASSWORD).unwrap();
    }
    let handle = StoreHandle::spawn(spec).unwrap();
    let state = AppState::new(
        handle,
        AuthMode::Required {
            secure_cookies: false,
        },
    );
    Fixture {
        _dir: dir,
        state,
        policy_finding,
    }
}

#[derive(Debug)]
struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

async fn send(
    state: &Shared,
    method: &str,
    uri: &str,
    cookie: &str,
    form: Option<String>,
) -> Answer {
    let mut request = Request::builder().method(method).uri(uri);
    if !cookie.is_empty() {
        request = request.header(header::COOKIE, cookie);
    }
    let body = match form {
        Some(form) => {
            request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            Body::from(form)
        }
        None => Body::empty(),
    };
    let response = app(state.clone())
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 64 << 20)
        .await
        .unwrap();
    Answer {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

async fn get(state: &Shared, uri: &str, cookie: &str) -> Answer {
    send(state, "GET", uri, cookie, None).await
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", super::findings::url(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The value of the first hidden `csrf` field of a page.
fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[at..].split('"').next().unwrap().to_owned()
}

fn set_cookie(answer: &Answer, name: &str) -> Option<String> {
    answer
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// Logs in and returns the session cookie (`tg_session=...`), or the failed answer.
async fn login(state: &Shared, name: &str, password: &str) -> Result<String, Answer> {
    let page = get(state, "/login", "").await;
    let login_cookie = set_cookie(&page, "tg_login").unwrap();
    let login_cookie = login_cookie.split(';').next().unwrap().to_owned();
    let csrf = csrf_of(&page.body);
    let answer = send(
        state,
        "POST",
        "/login",
        &login_cookie,
        Some(form(&[
            ("name", name),
            ("password", password),
            ("csrf", &csrf),
            ("next", "/findings"),
        ])),
    )
    .await;
    match set_cookie(&answer, "tg_session") {
        Some(cookie) if answer.status == StatusCode::SEE_OTHER => {
            Ok(cookie.split(';').next().unwrap().to_owned())
        }
        _ => Err(answer),
    }
}

/// Text as the templates escape it (minijinja's HTML escaping, which also escapes `/`).
fn html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
        .replace('/', "&#x2f;")
}

fn finding_path(f: &Finding) -> String {
    format!("/findings/{}", super::findings::url(&f.id))
}

#[tokio::test]
async fn pages_need_a_login_and_the_session_cookie_is_strict() {
    let fx = fixture();
    let anonymous = get(&fx.state, "/findings", "").await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert_eq!(
        anonymous.headers[header::LOCATION],
        "/login?next=%2Ffindings"
    );
    assert_eq!(
        get(&fx.state, "/api/v1/findings", "").await.status,
        StatusCode::UNAUTHORIZED
    );

    let wrong = login(&fx.state, "alice", "not the password")
        .await
        .unwrap_err();
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(
        wrong.body.contains("Wrong user name or password"),
        "{}",
        wrong.body
    );

    let page = get(&fx.state, "/login", "").await;
    let csrf = csrf_of(&page.body);
    let answer = send(
        &fx.state,
        "POST",
        "/login",
        "",
        Some(form(&[
            ("name", "alice"),
            ("password", ADMIN_PASSWORD),
            ("csrf", &csrf),
        ])),
    )
    .await;
    assert_eq!(
        answer.status,
        StatusCode::FORBIDDEN,
        "a login form without its cookie is refused"
    );

    let page = get(&fx.state, "/login", "").await;
    let login_cookie = set_cookie(&page, "tg_login").unwrap();
    // The token of this page, which its cookie carries.
    let csrf = csrf_of(&page.body);
    let answer = send(
        &fx.state,
        "POST",
        "/login",
        login_cookie.split(';').next().unwrap(),
        Some(form(&[
            ("name", "alice"),
            ("password", ADMIN_PASSWORD),
            ("csrf", &csrf),
        ])),
    )
    .await;
    let session = set_cookie(&answer, "tg_session").unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(session.contains(attribute), "{session}");
    }
    assert!(!session.contains("Secure"), "no TLS here: {session}");
    let cookie = session.split(';').next().unwrap();
    let list = get(&fx.state, "/findings", cookie).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("alice (admin)"), "{}", list.body);
}

#[tokio::test]
async fn failed_logins_are_rate_limited_per_user() {
    let fx = fixture();
    for _ in 0..super::auth::MAX_FAILURES {
        let answer = login(&fx.state, "victor", "guess").await.unwrap_err();
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    }
    let blocked = login(&fx.state, "victor", VIEWER_PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(
        blocked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        blocked.body
    );
    // Another user is not held back.
    assert!(login(&fx.state, "alice", ADMIN_PASSWORD).await.is_ok());
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let fx = fixture();
    let cookie = login(&fx.state, "alice", ADMIN_PASSWORD).await.unwrap();
    for (uri, cookie) in [
        ("/login", ""),
        ("/nowhere", ""),
        ("/static/copy.js", ""),
        ("/", cookie.as_str()),
        ("/findings?severity=bogus", cookie.as_str()),
        ("/api/v1/findings", cookie.as_str()),
    ] {
        let answer = get(&fx.state, uri, cookie).await;
        let csp = answer.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(csp.starts_with("default-src 'self'"), "{uri}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{uri}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{uri}: {csp}");
        assert_eq!(answer.headers[header::X_FRAME_OPTIONS], "DENY", "{uri}");
        assert_eq!(
            answer.headers[header::X_CONTENT_TYPE_OPTIONS],
            "nosniff",
            "{uri}"
        );
        assert_eq!(
            answer.headers[header::REFERRER_POLICY],
            "no-referrer",
            "{uri}"
        );
        // No inline script anywhere: every <script> loads our one file.
        for piece in answer.body.split("<script").skip(1) {
            assert!(
                piece.starts_with(" src=\"/static/copy.js\""),
                "{uri}: {piece}"
            );
        }
    }
}

#[tokio::test]
async fn the_list_filters_sorts_pages_and_exports() {
    let fx = fixture();
    let cookie = login(&fx.state, "victor", VIEWER_PASSWORD).await.unwrap();
    let all = get(&fx.state, "/api/v1/findings?limit=500", &cookie).await;
    let all: Value = serde_json::from_str(&all.body).unwrap();
    let total = all["total"].as_u64().unwrap();
    assert_eq!(total as usize, all["items"].as_array().unwrap().len());

    let critical = get(
        &fx.state,
        "/api/v1/findings?severity=critical&limit=500",
        &cookie,
    )
    .await;
    let critical: Value = serde_json::from_str(&critical.body).unwrap();
    let items = critical["items"].as_array().unwrap();
    assert!(
        !items.is_empty() && (items.len() as u64) < total,
        "{critical}"
    );
    assert!(
        items.iter().all(|r| r["severity"] == "critical"),
        "{critical}"
    );

    let page = get(&fx.state, "/findings?severity=critical", &cookie).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains(&format!("{} findings", items.len())),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("sev-high\">high</span></td>"),
        "only critical rows"
    );

    // By rule and by principal; newest first is newest first.
    let rule = items[0]["rule_id"].as_str().unwrap();
    let by_rule = get(
        &fx.state,
        &format!("/api/v1/findings?rule={rule}&sort=newest"),
        &cookie,
    )
    .await;
    let by_rule: Value = serde_json::from_str(&by_rule.body).unwrap();
    let rows = by_rule["items"].as_array().unwrap();
    assert!(rows.iter().all(|r| r["rule_id"] == rule));
    let times: Vec<&str> = rows
        .iter()
        .filter_map(|r| r["event_time"].as_str())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");

    // Pages of 2, read on by their `next` cursors, cover the set once and in the one-page order;
    // read back by `previous`, they give the same pages.
    let one_page: Vec<String> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut uri = "/api/v1/findings?limit=2".to_owned();
    loop {
        let answer = get(&fx.state, &uri, &cookie).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let answer: Value = serde_json::from_str(&answer.body).unwrap();
        let ids: Vec<String> = answer["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect();
        seen.extend(ids.clone());
        pages.push((ids, answer["previous"].clone()));
        match answer["next"].as_str() {
            Some(next) => uri = format!("/api/v1/findings?limit=2&after={next}"),
            None => break,
        }
    }
    assert_eq!(seen, one_page);
    assert_eq!(pages.len() as u64, total.div_ceil(2));
    assert!(pages[0].1.is_null(), "the first page has no previous");
    for i in 1..pages.len() {
        let before = pages[i].1.as_str().expect("a previous cursor");
        let answer = get(
            &fx.state,
            &format!("/api/v1/findings?limit=2&before={before}"),
            &cookie,
        )
        .await;
        let answer: Value = serde_json::from_str(&answer.body).unwrap();
        let ids: Vec<String> = answer["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids, pages[i - 1].0, "page {i} read back");
    }
    // A cursor is checked: another sort's, or one edited by hand, is a 400, not a wrong page.
    let first_next = get(&fx.state, "/api/v1/findings?limit=2", &cookie).await;
    let first_next: Value = serde_json::from_str(&first_next.body).unwrap();
    let cursor = first_next["next"].as_str().unwrap();
    let other_sort = get(
        &fx.state,
        &format!("/api/v1/findings?limit=2&sort=newest&after={cursor}"),
        &cookie,
    )
    .await;
    assert_eq!(
        other_sort.status,
        StatusCode::BAD_REQUEST,
        "{}",
        other_sort.body
    );
    let forged = get(
        &fx.state,
        &format!(
            "/api/v1/findings?limit=2&after={}",
            hex::encode("{\"s\":1}")
        ),
        &cookie,
    )
    .await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST, "{}", forged.body);
    assert!(forged.body.contains("cursor"), "{}", forged.body);
    // The HTML list links its next page by cursor, and that page links back to page 1.
    let html = get(&fx.state, "/findings?sort=oldest", &cookie).await;
    assert_eq!(html.status, StatusCode::OK);
    if total > super::findings::PAGE_SIZE {
        let next = html
            .body
            .split("href=\"")
            .find(|h| h.contains("after="))
            .unwrap();
        let next = next.split('"').next().unwrap().replace("&amp;", "&");
        let second = get(&fx.state, &next, &cookie).await;
        assert_eq!(second.status, StatusCode::OK, "{}", second.body);
        assert!(second.body.contains("page 2 of"), "{}", second.body);
        assert!(
            second.body.contains("href=\"/findings?sort=oldest\""),
            "{}",
            second.body
        );
    }

    let csv = get(&fx.state, "/findings/export.csv?severity=critical", &cookie).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert_eq!(csv.body.lines().count(), items.len() + 1, "{}", csv.body);
    let jsonl = get(
        &fx.state,
        "/findings/export.jsonl?severity=critical",
        &cookie,
    )
    .await;
    let lines: Vec<Value> = jsonl
        .body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), items.len());
    assert!(lines
        .iter()
        .all(|l| l["severity"] == "critical" && l["status"] == "open"));

    let bad = get(&fx.state, "/findings?status=gone", &cookie).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(
        bad.body.contains("status `gone` is not one of"),
        "{}",
        bad.body
    );
}

#[tokio::test]
async fn the_finding_page_shows_who_what_and_the_fix_commands() {
    let fx = fixture();
    let cookie = login(&fx.state, "victor", VIEWER_PASSWORD).await.unwrap();
    let page = get(&fx.state, &finding_path(&fx.policy_finding), &cookie).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("CreatePolicyVersion"));
    assert!(page.body.contains("2024-03-01T10:00:00Z"));
    assert!(page.body.contains("aws iam "), "AWS CLI fix: {}", page.body);
    assert!(
        page.body.contains("import boto3"),
        "boto3 fix: {}",
        page.body
    );
    assert!(page.body.contains("data-copy=\"fix-cli\""), "copy button");
    assert!(page.body.contains(&fx.policy_finding.id));
    // A viewer sees no triage forms.
    assert!(!page.body.contains("/mute\""), "{}", page.body);
    let missing = get(&fx.state, "/findings/no-such-id", &cookie).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn hostile_record_values_render_as_text() {
    let fx = fixture();
    let cookie = login(&fx.state, "alice", ADMIN_PASSWORD).await.unwrap();
    let mut pages = Vec::new();
    for uri in [
        finding_path(&fx.policy_finding),
        "/findings".to_owned(),
        "/".to_owned(),
        format!(
            "/principal?arn={}",
            super::findings::url(&format!("arn:aws:iam::111122223333:user/{JS_URL}"))
        ),
    ] {
        let page = get(&fx.state, &uri, &cookie).await;
        assert_eq!(page.status, StatusCode::OK, "{uri}");
        pages.push((uri, page.body));
    }
    for (uri, html) in &pages {
        assert!(!html.contains("<img src=x"), "{uri}");
        assert!(!html.contains("<script>alert"), "{uri}");
        assert!(!html.contains("href=\"javascript:"), "{uri}");
        assert!(!html.contains("src=\"javascript:"), "{uri}");
    }
    let (_, finding_html) = &pages[0];
    // They are there, as text.
    assert!(
        finding_html.contains("&lt;script&gt;alert("),
        "user agent shown escaped"
    );
    assert!(
        finding_html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "policy name shown escaped"
    );
    assert!(
        finding_html.contains("javascript:alert(document.cookie)"),
        "the ARN is shown"
    );
    let (_, principal_html) = &pages[3];
    assert!(
        principal_html.contains(&format!(
            "/findings/{}",
            super::findings::url(&fx.policy_finding.id)
        )),
        "the principal page lists its finding: {principal_html}"
    );
    assert!(
        !principal_html.contains("No finding matches"),
        "{principal_html}"
    );
}

async fn status_of(state: &Shared, cookie: &str, id: &str) -> String {
    let answer = get(
        state,
        &format!("/api/v1/findings/{}", super::findings::url(id)),
        cookie,
    )
    .await;
    let value: Value = serde_json::from_str(&answer.body).unwrap();
    value["status"].as_str().unwrap().to_owned()
}

async fn ids_with_status(state: &Shared, cookie: &str, status: &str) -> Vec<String> {
    let answer = get(
        state,
        &format!("/api/v1/findings?status={status}&limit=500"),
        cookie,
    )
    .await;
    let value: Value = serde_json::from_str(&answer.body).unwrap();
    value["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_admin_mutes_a_finding_and_it_moves_from_open_to_muted() {
    let fx = fixture();
    let cookie = login(&fx.state, "alice", ADMIN_PASSWORD).await.unwrap();
    let id = fx.policy_finding.id.clone();
    assert!(ids_with_status(&fx.state, &cookie, "open")
        .await
        .contains(&id));
    let page = get(&fx.state, &finding_path(&fx.policy_finding), &cookie).await;
    let csrf = csrf_of(&page.body);
    let answer = send(
        &fx.state,
        "POST",
        &format!("{}/mute", finding_path(&fx.policy_finding)),
        &cookie,
        Some(form(&[
            ("csrf", &csrf),
            ("reason", "break-glass drill"),
            ("expires", "2099-01-01"),
        ])),
    )
    .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    assert!(!ids_with_status(&fx.state, &cookie, "open")
        .await
        .contains(&id));
    assert!(ids_with_status(&fx.state, &cookie, "muted")
        .await
        .contains(&id));
    let page = get(&fx.state, &finding_path(&fx.policy_finding), &cookie).await;
    assert!(
        page.body.contains("Status: <strong>muted</strong>"),
        "{}",
        page.body
    );

    let mutes = get(&fx.state, "/api/v1/mutes", &cookie).await;
    let mutes: Value = serde_json::from_str(&mutes.body).unwrap();
    let mute = &mutes["items"][0];
    assert_eq!(mute["reason"], "break-glass drill");
    assert_eq!(mute["rule"], fx.policy_finding.rule_id.as_str());
    assert!(mute["expires_at"]
        .as_str()
        .unwrap()
        .starts_with("2099-01-01"));

    // Resolve another one; both actions are logged with who.
    let other = ids_with_status(&fx.state, &cookie, "open").await.remove(0);
    let answer = send(
        &fx.state,
        "POST",
        &format!("/findings/{}/resolve", super::findings::url(&other)),
        &cookie,
        Some(form(&[("csrf", &csrf), ("note", "key rotated")])),
    )
    .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    assert_eq!(status_of(&fx.state, &cookie, &other).await, "resolved");
    let actions = fx
        .state
        .store
        .run(|store| dashboard::actions(store, 10))
        .await
        .unwrap();
    let logged: Vec<(&str, &str, &str)> = actions
        .iter()
        .map(|a| (a.actor.as_str(), a.action.as_str(), a.finding_id.as_str()))
        .collect();
    assert_eq!(
        logged,
        vec![
            ("alice", "resolve", other.as_str()),
            ("alice", "mute", id.as_str())
        ]
    );
    let runs = get(&fx.state, "/runs", &cookie).await;
    assert!(runs.body.contains("key rotated"), "{}", runs.body);
}

#[tokio::test]
async fn a_viewer_cannot_mute_or_resolve() {
    let fx = fixture();
    let cookie = login(&fx.state, "victor", VIEWER_PASSWORD).await.unwrap();
    let page = get(&fx.state, "/findings", &cookie).await;
    let csrf = csrf_of(&page.body);
    for (action, fields) in [
        (
            "mute",
            vec![
                ("csrf", csrf.as_str()),
                ("reason", "no"),
                ("expires", "2099-01-01"),
            ],
        ),
        ("resolve", vec![("csrf", csrf.as_str()), ("note", "no")]),
    ] {
        let answer = send(
            &fx.state,
            "POST",
            &format!("{}/{action}", finding_path(&fx.policy_finding)),
            &cookie,
            Some(form(&fields)),
        )
        .await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{action}");
        assert!(answer.body.contains("viewers cannot"), "{}", answer.body);
    }
    assert_eq!(
        status_of(&fx.state, &cookie, &fx.policy_finding.id).await,
        "open"
    );
}

#[tokio::test]
async fn a_form_without_its_csrf_token_is_refused() {
    let fx = fixture();
    let cookie = login(&fx.state, "alice", ADMIN_PASSWORD).await.unwrap();
    let uri = format!("{}/mute", finding_path(&fx.policy_finding));
    for fields in [
        vec![("reason", "r"), ("expires", "2099-01-01")],
        vec![("csrf", "0000"), ("reason", "r"), ("expires", "2099-01-01")],
    ] {
        let answer = send(&fx.state, "POST", &uri, &cookie, Some(form(&fields))).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN);
        assert!(
            answer.body.contains("CSRF token is missing or wrong"),
            "{}",
            answer.body
        );
    }
    // Another session's token is wrong here too.
    let other = login(&fx.state, "victor", VIEWER_PASSWORD).await.unwrap();
    let other_csrf = csrf_of(&get(&fx.state, "/findings", &other).await.body);
    let answer = send(
        &fx.state,
        "POST",
        &uri,
        &cookie,
        Some(form(&[
            ("csrf", &other_csrf),
            ("reason", "r"),
            ("expires", "2099-01-01"),
        ])),
    )
    .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(
        status_of(&fx.state, &cookie, &fx.policy_finding.id).await,
        "open"
    );
}

/// Checks `value` against an OpenAPI 3.0 schema (the subset our document uses: `$ref`, `type`,
/// `required`, `properties`, `items`, `enum`, `nullable`, `minimum`, `maximum`); the failures, by path.
fn check(doc: &Value, schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap();
        let target = &doc["components"]["schemas"][name];
        assert!(!target.is_null(), "dangling $ref {reference}");
        return check(doc, target, value, path, errors);
    }
    if value.is_null() && schema["nullable"] == true {
        return;
    }
    if let Some(kind) = schema["type"].as_str() {
        let ok = match kind {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            other => panic!("type {other} not supported by this checker"),
        };
        if !ok {
            errors.push(format!("{path}: expected {kind}, got {value}"));
            return;
        }
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(value) {
            errors.push(format!("{path}: {value} not in {allowed:?}"));
        }
    }
    if let (Some(min), Some(n)) = (schema["minimum"].as_f64(), value.as_f64()) {
        if n < min {
            errors.push(format!("{path}: {n} < {min}"));
        }
    }
    if let (Some(max), Some(n)) = (schema["maximum"].as_f64(), value.as_f64()) {
        if n > max {
            errors.push(format!("{path}: {n} > {max}"));
        }
    }
    for field in schema["required"].as_array().into_iter().flatten() {
        let field = field.as_str().unwrap();
        if value.get(field).is_none() {
            errors.push(format!("{path}: missing `{field}`"));
        }
    }
    if let Some(properties) = schema["properties"].as_object() {
        for (name, sub) in properties {
            if let Some(v) = value.get(name) {
                check(doc, sub, v, &format!("{path}.{name}"), errors);
            }
        }
    }
    if let (Some(items), Some(values)) = (schema.get("items"), value.as_array()) {
        for (i, v) in values.iter().enumerate() {
            check(doc, items, v, &format!("{path}[{i}]"), errors);
        }
    }
}

fn response_schema<'a>(doc: &'a Value, path: &str, status: &str) -> &'a Value {
    let schema =
        &doc["paths"][path]["get"]["responses"][status]["content"]["application/json"]["schema"];
    assert!(!schema.is_null(), "{path} {status} is not documented");
    schema
}

#[test]
fn the_checker_catches_what_the_document_forbids() {
    let doc: Value = serde_json::from_str(super::api::OPENAPI).unwrap();
    let schema = response_schema(&doc, "/api/v1/findings", "200");
    let mut errors = Vec::new();
    let bad = json!({"total": -1, "limit": 5, "more": "no", "next": null, "previous": null,
        "items": [{"id": "x", "rule_id": "CT001", "title": "t", "severity": "dire", "status": "open"}]});
    check(&doc, schema, &bad, "$", &mut errors);
    assert_eq!(errors.len(), 3, "{errors:?}");
}

#[tokio::test]
async fn api_answers_match_the_openapi_document() {
    let fx = fixture();
    let cookie = login(&fx.state, "alice", ADMIN_PASSWORD).await.unwrap();
    let served = get(&fx.state, "/api/v1/openapi.json", &cookie).await;
    let doc: Value = serde_json::from_str(&served.body).unwrap();
    assert_eq!(doc["openapi"], "3.0.3");
    // A mute, so the mutes list is not empty.
    let csrf = csrf_of(&get(&fx.state, "/findings", &cookie).await.body);
    send(
        &fx.state,
        "POST",
        &format!("{}/mute", finding_path(&fx.policy_finding)),
        &cookie,
        Some(form(&[
            ("csrf", &csrf),
            ("reason", "drill"),
            ("expires", "2099-01-01"),
        ])),
    )
    .await;
    let cases = [
        ("/api/v1/findings".to_owned(), "/api/v1/findings", "200"),
        (
            "/api/v1/findings?severity=critical&status=open&sort=newest".to_owned(),
            "/api/v1/findings",
            "200",
        ),
        (
            "/api/v1/findings?sort=sideways".to_owned(),
            "/api/v1/findings",
            "400",
        ),
        (
            format!(
                "/api/v1/findings/{}",
                super::findings::url(&fx.policy_finding.id)
            ),
            "/api/v1/findings/{id}",
            "200",
        ),
        (
            "/api/v1/findings/nope".to_owned(),
            "/api/v1/findings/{id}",
            "404",
        ),
        ("/api/v1/mutes".to_owned(), "/api/v1/mutes", "200"),
    ];
    for (uri, path, status) in cases {
        let answer = get(&fx.state, &uri, &cookie).await;
        assert_eq!(answer.status.as_str(), status, "{uri}: {}", answer.body);
        let value: Value = serde_json::from_str(&answer.body).unwrap();
        let mut errors = Vec::new();
        check(
            &doc,
            response_schema(&doc, path, status),
            &value,
            "$",
            &mut errors,
        );
        assert!(errors.is_empty(), "{uri}: {errors:?}");
        if status == "200" {
            assert!(value != json!({}) && !value.is_null());
        }
    }
    let one = get(
        &fx.state,
        &format!(
            "/api/v1/findings/{}",
            super::findings::url(&fx.policy_finding.id)
        ),
        &cookie,
    )
    .await;
    let one: Value = serde_json::from_str(&one.body).unwrap();
    assert_eq!(one["status"], "muted");
    assert!(!one["fix"]["cli"].as_array().unwrap().is_empty());
}

#[test]
fn csv_cells_never_start_a_formula() {
    assert_eq!(
        super::findings::csv_cell("=HYPERLINK(\"x\")"),
        "'=HYPERLINK(\"x\")"
    );
    assert_eq!(super::findings::csv_cell("@SUM(1)"), "'@SUM(1)");
    assert_eq!(
        super::findings::csv_cell("arn:aws:iam::1:user/a"),
        "arn:aws:iam::1:user/a"
    );
}

#[test]
fn the_chart_escapes_its_labels() {
    let svg = super::overview::severity_chart(&[
        ("2024-03-01".into(), "critical".into(), 3),
        ("<b>x".into(), "high".into(), 1),
    ]);
    assert!(svg.contains("<rect class=\"bar sev-critical\""), "{svg}");
    assert!(!svg.contains("<b>"), "{svg}");
    assert!(svg.contains("&lt;b&gt;x"), "{svg}");
}

#[test]
fn severities_filter_by_their_store_rank() {
    // The list's severity filter compares ranks; the store writes `severity as i64`.
    let built = dashboard::FindingFilter {
        severity: Some(Severity::Critical),
        ..Default::default()
    }
    .count();
    assert_eq!(
        built.params,
        vec![store::schema::Param::Int(Severity::Critical as i64)]
    );
}

#[test]
fn no_auth_is_refused_unless_loopback() {
    use super::refuse_open_no_auth;
    assert!(refuse_open_no_auth("127.0.0.1:8080".parse().unwrap(), true).is_ok());
    assert!(refuse_open_no_auth("[::1]:8080".parse().unwrap(), true).is_ok());
    let err = refuse_open_no_auth("0.0.0.0:8080".parse().unwrap(), true).unwrap_err();
    assert!(
        err.to_string().contains("only allowed on a loopback"),
        "{err}"
    );
    assert!(refuse_open_no_auth("10.0.0.5:8080".parse().unwrap(), true).is_err());
    assert!(refuse_open_no_auth("0.0.0.0:8080".parse().unwrap(), false).is_ok());
}

/// A real `audit --offline --store` of the escalation fixture snapshot into the dashboard's store:
/// the overview then shows that audit's overall score and every section's score, and the runs page
/// lists it.
#[tokio::test]
async fn the_overview_shows_the_latest_stored_audit_scores() {
    let fx = fixture();
    let cookie = login(&fx.state, "victor", VIEWER_PASSWORD).await.unwrap();
    let before = get(&fx.state, "/", &cookie).await;
    assert!(
        before.body.contains("No audit stored yet"),
        "{}",
        before.body
    );

    let snapshot =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/escalation-snapshot");
    let report = fx._dir.path().join("audit.jsonl");
    let spec = fx._dir.path().join("tg.db");
    let cli = <crate::Cli as clap::Parser>::try_parse_from([
        std::ffi::OsStr::new("trailguard"),
        "audit".as_ref(),
        "--offline".as_ref(),
        snapshot.as_os_str(),
        "--store".as_ref(),
        spec.as_os_str(),
        "--format".as_ref(),
        "json".as_ref(),
        "--quiet".as_ref(),
        "-o".as_ref(),
        report.as_os_str(),
    ])
    .unwrap();
    let crate::Command::Audit(args) = cli.command else {
        panic!("parsed as another command")
    };
    tokio::task::spawn_blocking(move || crate::cmd::audit::run(args))
        .await
        .unwrap()
        .unwrap();
    let text = std::fs::read_to_string(&report).unwrap();
    let summary: Value = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find_map(|v| v.get("audit_summary").cloned())
        .expect("the audit's summary line");
    let sections = summary["sections"].as_array().unwrap();
    assert!(sections.len() > 2, "{summary}");

    let page = get(&fx.state, "/", &cookie).await;
    assert_eq!(page.status, StatusCode::OK);
    let audit = page
        .body
        .split("id=\"audit-scores\"")
        .nth(1)
        .unwrap()
        .split("</section>")
        .next()
        .unwrap();
    let overall = match summary["overall_score"].as_u64() {
        Some(n) => format!("{n}/100"),
        None => "n/a".into(),
    };
    assert!(
        audit.contains(&format!("overall <strong>{overall}</strong>")),
        "{audit}"
    );
    if let Some(account) = summary["account"].as_str() {
        assert!(audit.contains(&html(account)), "{audit}");
    }
    for section in sections {
        let score = section["score"]
            .as_u64()
            .map_or("n/a".to_owned(), |n| n.to_string());
        let row = format!(
            "<tr><td>{}</td><td class=\"num\">{score}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>",
            html(section["title"].as_str().unwrap()),
            section["checks_passed"],
            section["checks_failed"],
        );
        assert!(audit.contains(&row), "{row} in {audit}");
    }
    let runs = get(&fx.state, "/runs", &cookie).await;
    let runs = runs.body.split("id=\"audits\"").nth(1).unwrap();
    assert!(runs.contains("escalation-snapshot"), "{runs}");
}

/// Sessions live in the store: a new server over the same store (a restart) still knows the cookie;
/// the store holds the token's hash, not the token; logout deletes the session everywhere.
#[tokio::test]
async fn a_session_outlives_a_restart_and_logout_ends_it() {
    let fx = fixture();
    let cookie = login(&fx.state, "alice", ADMIN_PASSWORD).await.unwrap();
    let token = cookie.strip_prefix("tg_session=").unwrap().to_owned();
    let spec = fx._dir.path().join("tg.db").display().to_string();
    let restarted = AppState::new(
        StoreHandle::spawn(spec.clone()).unwrap(),
        AuthMode::Required {
            secure_cookies: false,
        },
    );
    let page = get(&restarted, "/findings", &cookie).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("alice"), "the user is shown");

    let stored: Vec<String> = {
        let conn = rusqlite::Connection::open(&spec).unwrap();
        let mut stmt = conn.prepare("SELECT token_hash FROM web_sessions").unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(stored, vec![super::auth::token_hash(&token)]);
    assert!(!stored.contains(&token));

    let csrf = csrf_of(&page.body);
    let out = send(
        &restarted,
        "POST",
        "/logout",
        &cookie,
        Some(form(&[("csrf", &csrf)])),
    )
    .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    for state in [&restarted, &fx.state] {
        let after = get(state, "/findings", &cookie).await;
        assert_eq!(after.status, StatusCode::SEE_OTHER, "logged out everywhere");
    }
    let api = get(&fx.state, "/api/v1/findings", &cookie).await;
    assert_eq!(api.status, StatusCode::UNAUTHORIZED);
}

/// `--tls-cert/--tls-key`: a self-signed certificate made here with the openssl CLI, the dashboard
/// served through [`super::tls::TlsListener`], and a rustls client that trusts only that
/// certificate: the login page answers over TLS with a `Secure` cookie, and plain HTTP gets no page.
#[tokio::test]
async fn tls_serves_the_dashboard_with_secure_cookies() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    // A server certificate (not a CA: webpki refuses a CA as the server's own) for localhost.
    let config = dir.path().join("openssl.cnf");
    std::fs::write(
        &config,
        "[req]\ndistinguished_name = dn\nx509_extensions = leaf\nprompt = no\n\
         [dn]\nCN = localhost\n\
         [leaf]\nbasicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\n\
         extendedKeyUsage = serverAuth\nsubjectAltName = DNS:localhost, IP:127.0.0.1\n",
    )
    .unwrap();
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "1", "-config"])
        .arg(&config)
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("the openssl CLI runs");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );

    // A key that is not PEM is refused before anything listens, naming the flag and file.
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a key").unwrap();
    let refused = super::tls::server_config(&cert, &junk)
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("--tls-key") && refused.contains("junk.pem"),
        "{refused}"
    );

    let fx = fixture();
    let state = AppState::new(fx.state.store.clone(), super::auth_mode(false, false, true));
    let config = super::tls::server_config(&cert, &key).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let listener = super::tls::TlsListener::new(listener, config).unwrap();
    tokio::spawn(async move { axum::serve(listener, app(state)).await });

    let mut roots = rustls::RootCertStore::empty();
    for der in
        <rustls::pki_types::CertificateDer<'_> as rustls::pki_types::pem::PemObject>::pem_file_iter(
            &cert,
        )
        .unwrap()
    {
        roots.add(der.unwrap()).unwrap();
    }
    let client = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(client));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector
        .connect(name, tcp)
        .await
        .expect("the handshake succeeds");
    tls.write_all(b"GET /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    tls.read_to_string(&mut answer).await.ok();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let cookie = answer
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie: tg_login="))
        .expect("the login cookie");
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(answer.contains("<form"), "the login page");

    // Plain HTTP on the TLS port is not served.
    let mut plain = tokio::net::TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(b"GET /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut bytes = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        plain.read_to_end(&mut bytes),
    )
    .await;
    assert!(!String::from_utf8_lossy(&bytes).contains("<form"));
}

/// The principal page with `--snapshot`: the escalation fixture's account, with the `pass-roles`
/// policy attached to bob (who may already create Lambda functions, and `ops-admin` trusts Lambda):
/// bob's page shows his policies, what he can do and his path to admin through `ops-admin`; an admin
/// role is one already; a principal outside the snapshot is said to be; without a snapshot the page
/// says how to get these sections.
#[tokio::test]
async fn the_principal_page_shows_policies_abilities_and_escalation_path() {
    let fixture_dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/escalation-snapshot");
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&fixture_dir).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    let details_path = dir.path().join("get-account-authorization-details.json");
    let mut details: Value =
        serde_json::from_str(&std::fs::read_to_string(&details_path).unwrap()).unwrap();
    let bob = details["UserDetailList"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|u| u["UserName"] == "bob")
        .unwrap();
    bob["AttachedManagedPolicies"] = json!([{"PolicyName": "pass-roles",
        "PolicyArn": "arn:aws:iam::111122223333:policy/pass-roles"}]);
    std::fs::write(&details_path, details.to_string()).unwrap();

    let fx = fixture();
    let account = super::principal::Account::load(dir.path()).unwrap();
    let state = AppState::with_account(
        fx.state.store.clone(),
        AuthMode::Required {
            secure_cookies: false,
        },
        Some(account),
    );
    let cookie = login(&state, "victor", VIEWER_PASSWORD).await.unwrap();
    let page = |arn: &str| {
        let state = state.clone();
        let cookie = cookie.clone();
        let uri = format!("/principal?arn={}", super::findings::url(arn));
        async move {
            let answer = get(&state, &uri, &cookie).await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
            let at = answer
                .body
                .find("id=\"principal-account\"")
                .expect("the section");
            answer.body[at..].to_owned()
        }
    };

    let bob = page("arn:aws:iam::111122223333:user/bob").await;
    assert!(bob.contains("inline policy `lambda-dev`"), "{bob}");
    assert!(
        bob.contains(&html(
            "managed policy `arn:aws:iam::111122223333:policy/pass-roles`"
        )),
        "{bob}"
    );
    assert!(
        bob.contains("&quot;lambda:CreateFunction&quot;"),
        "the document, escaped: {bob}"
    );
    for action in ["iam:PassRole", "lambda:CreateFunction"] {
        assert!(
            bob.contains(&format!("<td><code>{action}</code></td><td>allowed")),
            "{action}: {bob}"
        );
    }
    assert!(
        !bob.contains("<td><code>iam:CreateAccessKey</code>"),
        "{bob}"
    );
    let path = bob
        .split("<ol class=\"path\">")
        .nth(1)
        .expect("a path")
        .split("</ol>")
        .next()
        .unwrap();
    assert!(
        path.contains(&html("arn:aws:iam::111122223333:user/bob")),
        "{path}"
    );
    assert!(
        path.contains(&html("arn:aws:iam::111122223333:role/ops-admin")),
        "{path}"
    );
    assert!(path.contains("lambda"), "{path}");

    let admin = page("arn:aws:iam::111122223333:role/ops-admin").await;
    assert!(admin.contains("Already an administrator"), "{admin}");
    assert!(
        admin.contains("<td><code>*</code></td><td>allowed"),
        "{admin}"
    );
    let alice = page("arn:aws:iam::111122223333:user/dev-alice").await;
    assert!(alice.contains("No path to administrator"), "{alice}");
    let stranger = page(&format!("arn:aws:iam::111122223333:user/{SCRIPT}")).await;
    assert!(stranger.contains("Not a user or role"), "{stranger}");
    assert!(!stranger.contains(SCRIPT), "escaped");

    let cookie = login(&fx.state, "victor", VIEWER_PASSWORD).await.unwrap();
    let without = get(
        &fx.state,
        "/principal?arn=arn%3Aaws%3Aiam%3A%3A111122223333%3Auser%2Fbob",
        &cookie,
    )
    .await;
    assert!(
        without.body.contains("No account snapshot"),
        "{}",
        without.body
    );
}
