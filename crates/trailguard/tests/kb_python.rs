//! Every Python remediation snippet runs against a real local moto server.
//!
//! All snippets go to one `run_snippets.py` process (one interpreter, one boto3 import), which resets moto
//! before each and runs its setup block then its code in a fresh namespace. Entries marked
//! `moto: unsupported: ...` are skipped and listed on stderr.

mod kb_support;

use std::io::Write;
use std::process::{Command, Stdio};

use trailguard_kb::{Kb, MotoSupport};
use trailguard_testkit::MotoServer;

#[derive(serde::Deserialize)]
struct SnippetResult {
    entry: String,
    ok: bool,
    error: Option<String>,
    seconds: f64,
}

fn runner() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../trailguard-kb/scripts/run_snippets.py")
}

fn run_snippets(moto: &MotoServer, snippets: &serde_json::Value) -> Vec<SnippetResult> {
    let python = trailguard_testkit::python();
    let mut child = Command::new(python)
        .arg(runner())
        .arg("--json")
        .envs(moto.env())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 starts");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(snippets.to_string().as_bytes())
        .expect("write snippets");
    let out = child.wait_with_output().expect("runner finishes");
    assert!(
        out.status.success(),
        "runner failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "runner output is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[test]
fn every_python_snippet_runs_against_moto() {
    let kb = Kb::builtin();
    assert!(
        kb.errors().is_empty(),
        "entries that do not parse: {:?}",
        kb.errors()
    );
    let mut snippets = Vec::new();
    let mut skipped = Vec::new();
    for entry in kb.entries() {
        match &entry.moto {
            MotoSupport::Supported => snippets.push(serde_json::json!({
                "entry": entry.file,
                "setup": entry.sections.python_setup.clone().unwrap_or_default(),
                "code": entry.sections.python,
            })),
            MotoSupport::Unsupported(reason) => skipped.push(format!("{}: {reason}", entry.file)),
        }
    }
    assert!(!snippets.is_empty(), "no runnable snippets");
    // Without AWS managed policies, as `run_snippets.py FILE` runs them by hand; with them every reset
    // costs about a second.
    let moto = MotoServer::start_with_env(&[("MOTO_IAM_LOAD_MANAGED_POLICIES", "false")]);
    let results = run_snippets(&moto, &serde_json::Value::Array(snippets.clone()));
    assert_eq!(results.len(), snippets.len(), "one result per snippet");
    eprintln!(
        "skipped ({}), moto cannot run them:\n  {}",
        skipped.len(),
        skipped.join("\n  ")
    );
    let mut slowest: Vec<&SnippetResult> = results.iter().collect();
    slowest.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
    for r in slowest.iter().take(3) {
        eprintln!("slowest: {} {:.2}s", r.entry, r.seconds);
    }
    let failures: Vec<String> = results
        .iter()
        .filter(|r| !r.ok)
        .map(|r| {
            format!(
                "FAIL {}\n{}",
                r.entry,
                r.error.as_deref().unwrap_or("(no traceback)")
            )
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} Python snippets failed on moto:\n{}",
        failures.len(),
        results.len(),
        failures.join("\n")
    );
    assert_eq!(
        kb_support::readme_number_after("every boto3 fix runs against a local moto server ("),
        results.len(),
        "the README's count of snippets run on moto"
    );
}

/// The runner must report failures, isolate snippets from each other and reset moto between them.
#[test]
fn runner_reports_failures_and_resets_state() {
    let moto = MotoServer::start_with_env(&[("MOTO_IAM_LOAD_MANAGED_POLICIES", "false")]);
    let snippets = serde_json::json!([
        {"entry": "creates", "setup": "", "code": "import boto3\nboto3.client('iam').create_user(UserName='left-over')\n"},
        {"entry": "isolated", "setup": "", "code": "import boto3\nusers = boto3.client('iam').list_users()['Users']\nassert users == [], users\n"},
        {"entry": "namespace", "setup": "", "code": "assert 'boto3' not in globals()\n"},
        {"entry": "raises", "setup": "X = 1\n", "code": "import boto3\nboto3.client('iam').delete_user(UserName='nobody')\n"},
        {"entry": "exits", "setup": "", "code": "raise SystemExit('stop')\n"},
        {"entry": "setup-fails", "setup": "1/0\n", "code": "print('never')\n"},
    ]);
    let results = run_snippets(&moto, &snippets);
    let status: Vec<(&str, bool)> = results.iter().map(|r| (r.entry.as_str(), r.ok)).collect();
    assert_eq!(
        status,
        [
            ("creates", true),
            ("isolated", true),
            ("namespace", true),
            ("raises", false),
            ("exits", false),
            ("setup-fails", false)
        ]
    );
    assert!(
        results[3]
            .error
            .as_deref()
            .unwrap_or("")
            .contains("NoSuchEntity"),
        "{:?}",
        results[3].error
    );
    assert!(results[5]
        .error
        .as_deref()
        .unwrap_or("")
        .contains("ZeroDivisionError"));
}
