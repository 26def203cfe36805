//! `trailguard web`: a dashboard over the findings store, behind a login.
//!
//! [`app`] builds the whole router from an [`AppState`]; `trailguard web` serves it, and the tests call
//! it in-process. One file per handler group: [`auth`] (login, sessions, CSRF, roles, users),
//! [`overview`], [`findings`] (list, exports, one finding, mute and resolve), [`pages`] (principals,
//! rules and knowledge base, runs), [`api`] (`/api/v1`), [`assets`] (the stylesheet and the one script).
//!
//! The contract:
//! - Every string from a record is attacker-controlled: pages are minijinja templates with HTML
//!   auto-escaping on (values can only become text, in elements and in quoted attributes), and links
//!   built from record values are our own paths with the value URL-encoded, so a `javascript:` URL in a
//!   record is never an `href`. The few server-built fragments (SVG charts, the KB's own Markdown)
//!   escape their record values themselves ([`escape`]).
//! - Every response carries the security headers ([`security_headers`]): a CSP of `'self'` only (no
//!   inline script or style, no external asset: it works air-gapped), frame denial, no-sniff, no referrer.
//! - The store belongs to one thread ([`StoreHandle`]): handlers send it closures, so a backend need not
//!   be `Send` and SQLite sees one connection.

pub mod api;
pub mod assets;
pub mod auth;
mod bench;
pub mod findings;
pub mod overview;
pub mod pages;
pub mod principal;
mod render;
#[cfg(test)]
mod tests;
pub mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use clap::{Args, Subcommand};

use crate::store::{self, FindingStore, StoreError};
use crate::triage::DEFAULT_STORE;

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  printf '%s' \"$PASSWORD\" | trailguard web user add alice --role admin --password-stdin
  trailguard web --store .trailguard/trailguard.db --listen 127.0.0.1:8080
  trailguard web --listen 127.0.0.1:8080 --no-auth")]
pub struct WebArgs {
    /// The store to show: a SQLite file or a postgres:// URL (as `scan --store`).
    #[arg(long, value_name = "PATH|URL", default_value = DEFAULT_STORE, global = true)]
    pub store: String,
    /// `HOST:PORT` to listen on, or a bare port on 127.0.0.1.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Serve without a login: only on a loopback address.
    #[arg(long)]
    pub no_auth: bool,
    /// Mark the session cookie `Secure` (set this behind a TLS-terminating proxy; always so with
    /// --tls-cert).
    #[arg(long)]
    pub secure_cookies: bool,
    /// Serve HTTPS with this certificate chain (PEM, the server's certificate first).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// An account snapshot (a directory `trailguard audit snapshot` wrote): principal pages then show
    /// each principal's policies, what it can do and its privilege-escalation path.
    #[arg(long, value_name = "DIR")]
    pub snapshot: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<WebCommand>,
}

#[derive(Debug, Subcommand)]
pub enum WebCommand {
    /// Manage dashboard users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Fill a fresh store with findings and time the dashboard's pages (scripts/bench-web.sh).
    #[command(hide = true)]
    Bench(BenchArgs),
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user (or replace the role and password of an existing one).
    Add {
        name: String,
        #[arg(long, value_parser = ["viewer", "admin"])]
        role: String,
        /// Read the password from standard input (one line); the only way, so it never shows in `ps`.
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Findings to store (in a fresh store: give a new --store path).
    #[arg(long, default_value_t = 100_000)]
    pub findings: u64,
    /// Requests per page timed.
    #[arg(long, default_value_t = 20)]
    pub rounds: u32,
    /// The CloudTrail log (a JSON array of records) whose findings are cloned.
    #[arg(long)]
    pub sample: PathBuf,
}

pub fn run(args: WebArgs) -> anyhow::Result<ExitCode> {
    if let Some(WebCommand::Bench(bench)) = &args.command {
        bench::run(&args.store, bench.findings, bench.rounds, &bench.sample)?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(WebCommand::User {
        command: UserCommand::Add { name, role, .. },
    }) = &args.command
    {
        let mut password = String::new();
        std::io::stdin()
            .read_line(&mut password)
            .context("cannot read the password from standard input")?;
        let password = password.trim_end_matches(['\r', '\n']);
        let role = store::dashboard::Role::parse(role).context("--role: viewer or admin")?;
        let mut store = store::open(&args.store)
            .with_context(|| format!("cannot open store `{}`", store::display_name(&args.store)))?;
        auth::add_user(store.as_mut(), name, role, password)?;
        eprintln!(
            "user `{name}` ({}) saved in {}",
            role.as_str(),
            store::display_name(&args.store)
        );
        return Ok(ExitCode::SUCCESS);
    }
    let addr = crate::serve::listen::parse_listen(&args.listen).map_err(anyhow::Error::msg)?;
    refuse_open_no_auth(addr, args.no_auth)?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(tls::server_config(cert, key)?),
        _ => None,
    };
    let account = args
        .snapshot
        .as_deref()
        .map(principal::Account::load)
        .transpose()?;
    let handle = StoreHandle::spawn(args.store.clone())?;
    let state = AppState::with_account(
        handle,
        auth_mode(args.no_auth, args.secure_cookies, tls.is_some()),
        account,
    );
    serve(state, addr, tls)
}

/// Logins unless `--no-auth`; the session cookie `Secure` when asked, and always under TLS.
pub fn auth_mode(no_auth: bool, secure_cookies: bool, tls: bool) -> AuthMode {
    if no_auth {
        AuthMode::Disabled
    } else {
        AuthMode::Required {
            secure_cookies: secure_cookies || tls,
        }
    }
}

fn serve(
    state: Arc<AppState>,
    addr: SocketAddr,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("--listen: cannot listen on {addr}"))?;
        match tls {
            Some(config) => {
                eprintln!("trailguard web: https://{addr}/");
                let listener = tls::TlsListener::new(listener, config)?;
                axum::serve(listener, app(state)).await
            }
            None => {
                eprintln!("trailguard web: http://{addr}/");
                axum::serve(listener, app(state)).await
            }
        }
        .context("the web server stopped")
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `--no-auth` only where nobody else can connect.
pub fn refuse_open_no_auth(addr: SocketAddr, no_auth: bool) -> anyhow::Result<()> {
    if no_auth && !addr.ip().is_loopback() {
        bail!("--no-auth is only allowed on a loopback address, not {addr}: anyone who can reach it could mute findings");
    }
    Ok(())
}

/// Whether users must log in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    Required {
        secure_cookies: bool,
    },
    /// `--no-auth` on loopback: everyone is the admin `local`.
    Disabled,
}

/// What every handler shares.
pub struct AppState {
    pub store: StoreHandle,
    pub auth: AuthMode,
    pub limiter: auth::LoginLimiter,
    pub templates: minijinja::Environment<'static>,
    /// The account snapshot of `--snapshot`, for principal pages.
    pub account: Option<principal::Account>,
}

impl AppState {
    pub fn new(store: StoreHandle, auth: AuthMode) -> Arc<AppState> {
        AppState::with_account(store, auth, None)
    }

    pub fn with_account(
        store: StoreHandle,
        auth: AuthMode,
        account: Option<principal::Account>,
    ) -> Arc<AppState> {
        Arc::new(AppState {
            account,
            store,
            auth,
            limiter: auth::LoginLimiter::default(),
            templates: render::environment(),
        })
    }
}

pub type Shared = Arc<AppState>;

/// The whole dashboard.
pub fn app(state: Shared) -> Router {
    Router::new()
        .route("/", get(overview::page))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/findings", get(findings::list))
        .route("/findings/export.csv", get(findings::export_csv))
        .route("/findings/export.jsonl", get(findings::export_jsonl))
        .route("/findings/{id}", get(findings::detail))
        .route("/findings/{id}/mute", post(findings::mute))
        .route("/findings/{id}/resolve", post(findings::resolve))
        .route("/principal", get(pages::principal))
        .route("/rules", get(pages::rules))
        .route("/kb/{name}", get(pages::kb_entry))
        .route("/runs", get(pages::runs))
        .route("/api/v1/findings", get(api::findings))
        .route("/api/v1/findings/{id}", get(api::finding))
        .route("/api/v1/mutes", get(api::mutes))
        .route("/api/v1/openapi.json", get(api::openapi))
        .route("/static/style.css", get(assets::style))
        .route("/static/copy.js", get(assets::copy_js))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(state)
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

/// The headers every response carries.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// A failure a handler answers with: a status and one line.
#[derive(Debug)]
pub struct WebError {
    pub status: StatusCode,
    pub message: String,
}

impl WebError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> WebError {
        WebError {
            status,
            message: message.into(),
        }
    }
}

impl From<StoreError> for WebError {
    fn from(err: StoreError) -> WebError {
        let mut text = err.to_string();
        let mut cause = std::error::Error::source(&err);
        while let Some(inner) = cause {
            text.push_str(&format!(": {inner}"));
            cause = inner.source();
        }
        eprintln!("trailguard web: {text}");
        WebError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the store could not answer",
        )
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let body = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{0}</title>\
             <link rel=\"stylesheet\" href=\"/static/style.css\"><link rel=\"icon\" href=\"data:,\"></head><body><main><h1>{0}</h1>\
             <p>{1}</p><p><a href=\"/\">Back to the overview</a></p></main></body></html>",
            self.status,
            escape(&self.message)
        );
        (self.status, Html(body)).into_response()
    }
}

/// HTML-escapes text for the few fragments built outside templates.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

type Job = Box<dyn FnOnce(&mut dyn FindingStore) + Send>;

/// The store, owned by one thread that runs the closures handlers send it.
#[derive(Clone)]
pub struct StoreHandle {
    jobs: std::sync::mpsc::Sender<Job>,
}

impl StoreHandle {
    /// Opens the store on its own thread; an unusable store fails here, before anything listens.
    pub fn spawn(spec: String) -> anyhow::Result<StoreHandle> {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let (opened, open_result) = std::sync::mpsc::channel::<Result<(), String>>();
        std::thread::Builder::new()
            .name("web-store".into())
            .spawn(move || {
                let mut store = match store::open(&spec) {
                    Ok(store) => {
                        let _ = opened.send(Ok(()));
                        store
                    }
                    Err(err) => {
                        let mut text = err.to_string();
                        if let Some(cause) = std::error::Error::source(&err) {
                            text.push_str(&format!(": {cause}"));
                        }
                        let _ = opened.send(Err(text));
                        return;
                    }
                };
                while let Ok(job) = queue.recv() {
                    job(store.as_mut());
                }
            })
            .context("cannot start the store thread")?;
        match open_result.recv() {
            Ok(Ok(())) => Ok(StoreHandle { jobs }),
            Ok(Err(text)) => bail!("{text}"),
            Err(_) => bail!("the store thread stopped"),
        }
    }

    /// Runs `work` on the store's thread.
    pub async fn run<R: Send + 'static>(
        &self,
        work: impl FnOnce(&mut dyn FindingStore) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, WebError> {
        let (done, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |store| {
            let _ = done.send(work(store));
        });
        self.jobs.send(job).map_err(|_| {
            WebError::new(StatusCode::SERVICE_UNAVAILABLE, "the store thread stopped")
        })?;
        let result = answer.await.map_err(|_| {
            WebError::new(StatusCode::SERVICE_UNAVAILABLE, "the store thread stopped")
        })?;
        Ok(result?)
    }
}
