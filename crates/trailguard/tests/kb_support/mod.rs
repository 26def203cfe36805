//! Shared helpers for the knowledge-base correctness tests (`kb_*.rs`).

#![allow(dead_code)] // each test binary uses a different subset

use std::path::PathBuf;
use std::process::Command;

/// The non-IAM events the knowledge base must cover, as `(service directory, event name)`.
pub const REQUIRED_NON_IAM: &[(&str, &str)] = &[
    ("signin", "ConsoleLogin"),
    ("sts", "AssumeRole"),
    ("sts", "AssumeRoleWithSAML"),
    ("sts", "AssumeRoleWithWebIdentity"),
    ("sts", "GetFederationToken"),
    ("sts", "GetSessionToken"),
    ("organizations", "LeaveOrganization"),
    ("cloudtrail", "StopLogging"),
    ("cloudtrail", "DeleteTrail"),
    ("cloudtrail", "UpdateTrail"),
    ("cloudtrail", "PutEventSelectors"),
    ("access-analyzer", "DeleteAnalyzer"),
    ("access-analyzer", "DeleteArchiveRule"),
];

/// botocore's `data/` directory (the service models the AWS CLI and boto3 are generated from), of exactly
/// the version `scripts/requirements.lock` pins: the knowledge base is kept current against that model,
/// so checking it against another botocore would test something else.
pub fn botocore_data() -> PathBuf {
    let python = trailguard_testkit::python();
    let out = Command::new(&python)
        .args([
            "-c",
            "import botocore, os; print(botocore.__version__); \
             print(os.path.join(os.path.dirname(botocore.__file__), 'data'))",
        ])
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `{}`: {e}; botocore is needed for these tests (scripts/setup.sh)",
                python.display()
            )
        });
    assert!(
        out.status.success(),
        "botocore is not importable: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut lines = stdout.lines();
    let version = lines.next().unwrap_or_default().trim();
    let pinned = trailguard_testkit::pinned_python_version("botocore");
    assert_eq!(
        version,
        pinned,
        "`{}` has botocore {version}, but scripts/requirements.lock pins {pinned}: run the tests through \
         scripts/test.sh (or scripts/setup.sh once, then set TRAILGUARD_PYTHON to its python)",
        python.display()
    );
    let dir = PathBuf::from(lines.next().unwrap_or_default().trim());
    assert!(
        dir.join("iam").is_dir(),
        "no iam model under {}",
        dir.display()
    );
    dir
}

/// The newest `service-2.json` of a botocore service directory, parsed (plain or gzipped).
pub fn service_model(data: &std::path::Path, service: &str) -> serde_json::Value {
    trailguard_kb::awscli::service_json(data, service).unwrap_or_else(|| {
        panic!(
            "no readable botocore model for `{service}` under {}",
            data.display()
        )
    })
}

/// The IAM write operations CloudTrail records as management events: every operation of the IAM API
/// that does not start with Get, List, Simulate or Generate.
pub fn iam_write_operations(data: &std::path::Path) -> Vec<String> {
    let model = service_model(data, "iam");
    let ops = model["operations"].as_object().expect("operations object");
    let mut names: Vec<String> = ops
        .keys()
        .filter(|n| {
            !["Get", "List", "Simulate", "Generate"]
                .iter()
                .any(|p| n.starts_with(p))
        })
        .cloned()
        .collect();
    names.sort();
    names
}

/// The number the README states right after `before` (e.g. `every \`aws\` command line (` → `607`): the
/// README's counts of checked commands and snippets are asserted, so they cannot go stale.
pub fn readme_number_after(before: &str) -> usize {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    let flat = readme.split_whitespace().collect::<Vec<_>>().join(" ");
    let start = flat
        .find(before)
        .unwrap_or_else(|| panic!("README no longer says `{before}`"))
        + before.len();
    let digits: String = flat[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',')
        .filter(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("README: no number after `{before}`"))
}
