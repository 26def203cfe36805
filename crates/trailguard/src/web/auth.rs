//! Login, sessions, CSRF and roles.
//!
//! - Users live in the store (`web_users`) with argon2id hashes (the `argon2` crate's default: Argon2id
//!   v19, 19 MiB, 2 passes, a random salt per hash); a password is never stored or logged.
//! - A login makes a session: a random 256-bit token in a cookie `tg_session` (HttpOnly,
//!   SameSite=Strict, `Secure` under TLS or with `--secure-cookies`), kept in the store
//!   (`web_sessions`) as its SHA-256 for [`SESSION_TTL`]: a restart keeps users logged in, a stolen
//!   copy of the store holds no usable token, and logout deletes the row. Each request reads its
//!   session with the user's current role. Each session has its own random CSRF token, which every
//!   form carries in a hidden `csrf` field and [`Session::check_csrf`] compares in constant time. The
//!   login form itself is covered by a double-submit token (a `tg_login` cookie equal to its hidden
//!   field).
//! - Failed logins are limited per user name ([`LoginLimiter`]): after [`MAX_FAILURES`] within
//!   [`FAILURE_WINDOW`], that name is refused (429) until the window moves on, right password or not.
//! - Viewers read; admins also mute and resolve ([`Session::require_admin`]: 403 otherwise).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::Utc;
use sha2::{Digest, Sha256};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use password_hash::rand_core::{OsRng, RngCore};
use serde::Deserialize;

use super::{AuthMode, Shared, WebError};
use crate::store::dashboard::{self, Role};
use crate::store::{FindingStore, StoreError};

pub const SESSION_COOKIE: &str = "tg_session";
pub const LOGIN_COOKIE: &str = "tg_login";
pub const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);
pub const MAX_FAILURES: usize = 5;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// A random token: 32 bytes from the OS, hex.
pub fn token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Hashes a password with argon2id and stores the user.
pub fn add_user(
    store: &mut dyn FindingStore,
    name: &str,
    role: Role,
    password: &str,
) -> anyhow::Result<()> {
    if name.is_empty() || name.chars().any(char::is_control) {
        anyhow::bail!("a user name must be non-empty and hold no control characters");
    }
    if password.chars().count() < 12 {
        anyhow::bail!("the password must be at least 12 characters");
    }
    let hash = hash_password(password)?;
    let now = crate::mute::stamp(chrono::Utc::now());
    dashboard::put_user(store, name, role, &hash, &now)
        .map_err(|e| anyhow::anyhow!("cannot save user `{name}`: {e}"))
}

pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A logged-in user.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: String,
    pub role: Role,
    pub csrf: String,
}

impl Session {
    /// Refuses a form whose `csrf` field is missing or not this session's.
    pub fn check_csrf(&self, given: Option<&str>) -> Result<(), WebError> {
        match given {
            Some(given) if constant_time_eq(given.as_bytes(), self.csrf.as_bytes()) => Ok(()),
            _ => Err(WebError::new(
                StatusCode::FORBIDDEN,
                "the form's CSRF token is missing or wrong: reload the page and try again",
            )),
        }
    }

    pub fn require_admin(&self) -> Result<(), WebError> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Viewer => Err(WebError::new(
                StatusCode::FORBIDDEN,
                "viewers cannot mute or resolve findings: ask an admin",
            )),
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What the store keeps of a session token: its SHA-256, hex.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Stores a new session for `user` and returns its token (the cookie's value).
async fn create_session(state: &Shared, user: &str) -> Result<String, WebError> {
    let key = token();
    let hash = token_hash(&key);
    let user = user.to_owned();
    let now = Utc::now();
    let expires = now + chrono::Duration::from_std(SESSION_TTL).unwrap_or_default();
    let (now, expires) = (crate::mute::stamp(now), crate::mute::stamp(expires));
    state
        .store
        .run(move |store| dashboard::create_session(store, &hash, &user, &token(), &now, &expires))
        .await?;
    Ok(key)
}

/// Failed logins per user name, within [`FAILURE_WINDOW`].
#[derive(Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

impl LoginLimiter {
    fn blocked(&self, name: &str) -> bool {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let list = map.entry(name.to_owned()).or_default();
        list.retain(|at| now.duration_since(*at) < FAILURE_WINDOW);
        list.len() >= MAX_FAILURES
    }

    fn failed(&self, name: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(name.to_owned()).or_default().push(Instant::now());
    }

    fn succeeded(&self, name: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(name);
    }
}

/// The value of one cookie in the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The request's session; with `--no-auth`, the admin `local` (one CSRF token for the process).
pub async fn session(state: &Shared, headers: &HeaderMap) -> Option<Session> {
    match state.auth {
        AuthMode::Disabled => {
            static LOCAL_CSRF: std::sync::OnceLock<String> = std::sync::OnceLock::new();
            Some(Session {
                user: "local".into(),
                role: Role::Admin,
                csrf: LOCAL_CSRF.get_or_init(token).clone(),
            })
        }
        AuthMode::Required { .. } => {
            let hash = token_hash(&cookie(headers, SESSION_COOKIE)?);
            let now = crate::mute::stamp(Utc::now());
            // A store that cannot answer is logged by `run` and reads as no session.
            let stored = state
                .store
                .run(move |store| dashboard::session(store, &hash, &now))
                .await
                .ok()??;
            Some(Session {
                user: stored.user,
                role: stored.role,
                csrf: stored.csrf,
            })
        }
    }
}

/// The session, or the response that sends the browser to the login page.
#[allow(
    clippy::result_large_err,
    reason = "the error is the page a handler sends at once (a redirect or a refusal); boxing it buys nothing"
)]
pub async fn require(state: &Shared, headers: &HeaderMap, here: &str) -> Result<Session, Response> {
    session(state, headers).await.ok_or_else(|| {
        let next = percent_encoding::utf8_percent_encode(here, percent_encoding::NON_ALPHANUMERIC);
        Redirect::to(&format!("/login?next={next}")).into_response()
    })
}

fn cookie_attributes(state: &Shared) -> &'static str {
    match state.auth {
        AuthMode::Required {
            secure_cookies: true,
        } => "; Path=/; HttpOnly; SameSite=Strict; Secure",
        _ => "; Path=/; HttpOnly; SameSite=Strict",
    }
}

/// Only our own absolute paths are followed after login (no `//host`, no scheme).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/".to_owned(),
    }
}

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn login_page(State(state): State<Shared>, Query(q): Query<NextQuery>) -> Response {
    let csrf = token();
    let html = super::render::page(
        &state,
        "login.html",
        minijinja::context! { csrf => &csrf, next => safe_next(q.next.as_deref()), error => "" },
    );
    let mut response = html.into_response();
    let cookie = format!("{LOGIN_COOKIE}={csrf}{}", cookie_attributes(&state));
    if let Ok(value) = cookie.parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    csrf: Option<String>,
    next: Option<String>,
}

pub async fn login(
    State(state): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, WebError> {
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty()
        || !constant_time_eq(
            form.csrf.as_deref().unwrap_or("").as_bytes(),
            expected.as_bytes(),
        )
    {
        return Err(WebError::new(
            StatusCode::FORBIDDEN,
            "the login form's CSRF token is missing or wrong: reload the page and try again",
        ));
    }
    if state.limiter.blocked(&form.name) {
        return Err(WebError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too many failed logins for this user: wait 15 minutes",
        ));
    }
    let name = form.name.clone();
    let password = form.password.clone();
    // Hashing is slow on purpose: off the async threads, like the store work itself.
    let ok = state
        .store
        .run(move |store| {
            Ok::<_, StoreError>(match dashboard::user(store, &name)? {
                Some((_, hash)) if verify_password(&password, &hash) => Some(()),
                _ => None,
            })
        })
        .await?;
    let Some(()) = ok else {
        state.limiter.failed(&form.name);
        let csrf = token();
        let mut response = (
            StatusCode::UNAUTHORIZED,
            super::render::page(
                &state,
                "login.html",
                minijinja::context! { csrf => &csrf, next => safe_next(form.next.as_deref()),
                error => "Wrong user name or password." },
            ),
        )
            .into_response();
        if let Ok(value) = format!("{LOGIN_COOKIE}={csrf}{}", cookie_attributes(&state)).parse() {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
        return Ok(response);
    };
    state.limiter.succeeded(&form.name);
    let key = create_session(&state, &form.name).await?;
    let mut response = Redirect::to(&safe_next(form.next.as_deref())).into_response();
    if let Ok(value) = format!("{SESSION_COOKIE}={key}{}", cookie_attributes(&state)).parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

pub async fn logout(
    State(state): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    if let Some(session) = session(&state, &headers).await {
        session.check_csrf(form.csrf.as_deref())?;
        if let Some(key) = cookie(&headers, SESSION_COOKIE) {
            let hash = token_hash(&key);
            state
                .store
                .run(move |store| dashboard::delete_session(store, &hash))
                .await?;
        }
    }
    let mut response = Redirect::to("/login").into_response();
    if let Ok(value) = format!("{SESSION_COOKIE}=; Max-Age=0{}", cookie_attributes(&state)).parse()
    {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}
