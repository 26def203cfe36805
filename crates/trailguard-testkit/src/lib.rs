//! Test support shared by the crates' integration tests.
//!
//! - [`MotoServer`]: a real `python -m moto.server` on 127.0.0.1 and a free port, killed on drop;
//!   [`MotoServer::shared`] is one server for a whole test binary, which exits with it.
//! - [`python`]: the interpreter with the test packages (moto, boto3, botocore, the AWS CLI), which
//!   `scripts/setup.sh` installs into a virtual environment of its own.
//! - [`pinned_python_version`]: what `scripts/requirements.lock` pins, for tests that must run on exactly that.
//! - [`shared_data`]: the reference data folder (`../shared/data` beside the checkout).
//! - [`within`]: a deadline for work on hostile input.
//! - [`postgres`]: the PostgreSQL server of this test run (one for all tests), and a fresh database in it
//!   per test ([`Postgres::fresh_database`]).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root exists")
}

/// `../shared/data` beside the checkout, or `$TRAILGUARD_SHARED_DATA` when set.
pub fn shared_data() -> PathBuf {
    if let Some(dir) = std::env::var_os("TRAILGUARD_SHARED_DATA") {
        return PathBuf::from(dir);
    }
    workspace_root().join("../shared/data")
}

/// The Python interpreter for tests: `$TRAILGUARD_PYTHON` (set by `scripts/test.sh`), else the work tree's
/// `.venv/bin/python` (the link `scripts/setup.sh` leaves to its environment), else `python3` from PATH.
pub fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("TRAILGUARD_PYTHON") {
        return PathBuf::from(python);
    }
    let venv = workspace_root().join(".venv/bin/python");
    if venv.is_file() {
        return venv;
    }
    PathBuf::from("python3")
}

/// The version `scripts/requirements.lock` pins for a Python package (`botocore` → `1.44.8`).
pub fn pinned_python_version(package: &str) -> String {
    let lock = workspace_root().join("scripts/requirements.lock");
    let text = std::fs::read_to_string(&lock)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", lock.display()));
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{package}==")))
        .map(|rest| rest.trim_end_matches('\\').trim().to_owned())
        .unwrap_or_else(|| panic!("{package} is not pinned in {}", lock.display()))
}

/// PATH for child processes with the test environment's `bin/` (where `aws` and `cfn-lint` live) first,
/// so a command such as `aws` resolves there even when the tests were not started by `scripts/test.sh`.
pub fn path_with_python_bin() -> std::ffi::OsString {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(bin) = python().parent().filter(|d| !d.as_os_str().is_empty()) {
        dirs.push(bin.to_path_buf());
    }
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(dirs).unwrap_or_default()
}

/// A moto server for one test (or one test binary). Each instance has its own port and so its own state.
pub struct MotoServer {
    child: Child,
    port: u16,
}

impl MotoServer {
    /// Starts `python -m moto.server` ([`python`]) on 127.0.0.1 and waits until it answers.
    ///
    /// Panics with a clear message when moto is not installed: run `scripts/setup.sh`.
    pub fn start() -> MotoServer {
        MotoServer::start_with_env(&[])
    }

    /// Like [`MotoServer::start`], with extra environment for the server, e.g.
    /// `[("MOTO_IAM_LOAD_MANAGED_POLICIES", "false")]` when a test resets moto often and needs no AWS managed
    /// policies (loading them makes every reset cost about a second).
    pub fn start_with_env(env: &[(&str, &str)]) -> MotoServer {
        let port = free_port();
        let python = python();
        let child = Command::new(&python)
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            // AWS managed policies (AdministratorAccess, ReadOnlyAccess, ...) exist only when asked for.
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start `{} -m moto.server`: {e}; run scripts/setup.sh",
                    python.display()
                )
            });
        let server = MotoServer { child, port };
        server.wait_ready(Duration::from_secs(60));
        server
    }

    /// One server for every test of this test binary, started on first use. Tests that share it must
    /// name their buckets and queues uniquely and never [`MotoServer::reset`] it. Statics are never
    /// dropped, so this server watches its parent instead: it exits when the test process is gone.
    pub fn shared() -> &'static MotoServer {
        static SHARED: std::sync::OnceLock<MotoServer> = std::sync::OnceLock::new();
        SHARED.get_or_init(|| {
            let port = free_port();
            let python = python();
            let script = r#"
import os, sys, time
from moto.server import ThreadedMotoServer
parent = os.getppid()
server = ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[1]), verbose=False)
server.start()
while os.getppid() == parent:
    time.sleep(0.5)
os._exit(0)
"#;
            let child = Command::new(&python)
                .args(["-c", script, &port.to_string()])
                .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "false")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!(
                        "cannot start moto with `{}`: {e}; run scripts/setup.sh",
                        python.display()
                    )
                });
            let server = MotoServer { child, port };
            server.wait_ready(Duration::from_secs(60));
            server
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`, for `--endpoint-url` and `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Runs a Python snippet (`python3 -c`) with boto3 pointed at this server and returns its stdout.
    /// Panics with the snippet's stderr when it fails: the state a test builds must exist.
    pub fn python(&self, code: &str) -> String {
        let python = python();
        let out = Command::new(&python)
            .arg("-c")
            .arg(code)
            .envs(self.env())
            .output()
            .unwrap_or_else(|e| panic!("cannot run `{}`: {e}", python.display()));
        assert!(
            out.status.success(),
            "python failed: {}\n{code}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Environment for child processes (aws cli, boto3, our binary) so they talk to this server only,
    /// with PATH leading to the test environment's `aws` ([`path_with_python_bin`]).
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            (
                "PATH".into(),
                path_with_python_bin().to_string_lossy().into_owned(),
            ),
            ("AWS_ENDPOINT_URL".into(), self.endpoint()),
            ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
            ("AWS_SESSION_TOKEN".into(), "testing".into()),
            ("AWS_DEFAULT_REGION".into(), "us-east-1".into()),
            ("AWS_REGION".into(), "us-east-1".into()),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
            ("AWS_CONFIG_FILE".into(), "/dev/null".into()),
            ("AWS_SHARED_CREDENTIALS_FILE".into(), "/dev/null".into()),
        ]
    }

    /// Wipes all state (moto's reset endpoint), so one server can serve several tests in turn.
    pub fn reset(&self) {
        let _ = http_request(self.port, "POST", "/moto-api/reset");
    }

    fn wait_ready(&self, limit: Duration) {
        let start = Instant::now();
        while start.elapsed() < limit {
            if http_request(self.port, "GET", "/moto-api/").is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "moto server on port {} did not answer within {limit:?}",
            self.port
        );
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// A minimal HTTP/1.0 request; returns the status line when the server answered.
fn http_request(port: u16, method: &str, path: &str) -> Option<String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
    )
    .ok()?;
    let mut buf = String::new();
    stream.read_to_string(&mut buf).ok()?;
    buf.lines().next().map(str::to_owned)
}

/// Runs `f` on its own thread (default stack) and waits at most `secs` seconds for its answer, so a
/// hang or a runaway computation on hostile input fails the test instead of stalling the suite.
pub fn within<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(secs))
        .unwrap_or_else(|_| panic!("did not finish within {secs} s"))
}

/// The PostgreSQL server of this test run: `$TRAILGUARD_TEST_PG_URL` (an administrator URL: `scripts/test.sh`
/// starts one cluster per run with `scripts/test-postgres.sh` and exports it), else a cluster this test
/// binary starts with the same script on first use, stopped and removed when the binary exits. Every test
/// takes a database of its own from it ([`Postgres::fresh_database`]), so tests never see each other's rows.
pub fn postgres() -> &'static Postgres {
    static SERVER: OnceLock<Postgres> = OnceLock::new();
    SERVER.get_or_init(|| {
        if let Some(url) = std::env::var("TRAILGUARD_TEST_PG_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            return Postgres { admin_url: url };
        }
        let script = workspace_root().join("scripts/test-postgres.sh");
        let out = Command::new("bash")
            .arg(&script)
            .args(["start", "--watch", &std::process::id().to_string()])
            .stderr(Stdio::inherit())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let url = stdout
            .lines()
            .find_map(|l| l.strip_prefix("TRAILGUARD_TEST_PG_URL="))
            .filter(|_| out.status.success())
            .unwrap_or_else(|| panic!("{} start failed: {stdout}", script.display()));
        Postgres {
            admin_url: url.trim().to_owned(),
        }
    })
}

/// A PostgreSQL server the tests may create databases in (see [`postgres`]).
pub struct Postgres {
    admin_url: String,
}

impl Postgres {
    /// The URL of the server's `postgres` database, as its superuser.
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    /// A new, empty database, dropped when the value is.
    pub fn fresh_database(&self) -> PgDatabase {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "tg_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        psql(&self.admin_url, &format!("CREATE DATABASE {name}"));
        PgDatabase {
            url: with_database(&self.admin_url, &name),
            admin_url: self.admin_url.clone(),
            name,
        }
    }
}

/// A database of its own for one test (see [`Postgres::fresh_database`]).
pub struct PgDatabase {
    url: String,
    admin_url: String,
    name: String,
}

impl PgDatabase {
    /// The `postgres://` URL for `--store`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Runs SQL with `psql` in this database and returns its unaligned, tuples-only output, trimmed
    /// (`SELECT COUNT(*) FROM runs` → `"4"`). Panics with psql's message when the SQL fails.
    pub fn sql(&self, sql: &str) -> String {
        psql(&self.url, sql)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let _ = Command::new(pg_tool("psql"))
            .args(["-X", "-q", "-d", &self.admin_url, "-c"])
            .arg(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let (prefix, _) = base.rsplit_once('/').expect("a postgres:// URL");
    if query.is_empty() {
        format!("{prefix}/{name}")
    } else {
        format!("{prefix}/{name}?{query}")
    }
}

fn psql(url: &str, sql: &str) -> String {
    let psql = pg_tool("psql");
    let out = Command::new(&psql)
        .args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", psql.display()));
    assert!(
        out.status.success(),
        "psql failed: {}\n{sql}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A PostgreSQL client program: from the newest `/usr/lib/postgresql/*/bin` (Debian), else PATH.
fn pg_tool(name: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    dirs.sort_by_key(|d| {
        d.file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.into_iter()
        .rev()
        .map(|d| d.join("bin").join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(name))
}
