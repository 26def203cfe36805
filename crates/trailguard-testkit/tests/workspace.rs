//! Facts about the workspace that its documents state: the minimum Rust version.

use std::process::Command;

use trailguard_testkit::workspace_root;

/// `1.94.1` → `[1, 94, 1]`, so versions compare as numbers.
fn version_key(version: &str) -> Vec<u64> {
    version
        .split('.')
        .map(|part| part.parse().expect("numeric version part"))
        .collect()
}

/// The minimum Rust version is the newest `rust-version` any locked dependency declares (on any platform):
/// Cargo.toml says so for every crate of ours, and so does the README's install line.
#[test]
fn rust_version_is_the_one_the_locked_dependencies_need() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(workspace_root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let resolved: Vec<&str> = metadata["resolve"]["nodes"]
        .as_array()
        .expect("resolve nodes")
        .iter()
        .filter_map(|n| n["id"].as_str())
        .collect();
    let packages = metadata["packages"].as_array().expect("packages");
    let (needed, by) = packages
        .iter()
        .filter(|p| !p["source"].is_null() && resolved.contains(&p["id"].as_str().unwrap_or("")))
        .filter_map(|p| Some((p["rust_version"].as_str()?, p["name"].as_str()?)))
        .max_by_key(|(version, _)| version_key(version))
        .expect("some dependency declares a rust-version");

    let ours: Vec<(&str, Option<&str>)> = packages
        .iter()
        .filter(|p| p["source"].is_null())
        .map(|p| (p["name"].as_str().unwrap_or(""), p["rust_version"].as_str()))
        .collect();
    assert!(ours.len() >= 7, "{ours:?}");
    for (name, version) in &ours {
        assert_eq!(
            *version,
            Some(needed),
            "{name}: rust-version should be {needed} (needed by {by})"
        );
    }
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).expect("README");
    assert!(
        readme.contains(&format!("Rust {needed} or newer")),
        "README.md should say `Rust {needed} or newer` (needed by {by})"
    );
}
