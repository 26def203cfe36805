//! The README's scripts on a fresh machine: `scripts/setup.sh` builds the Python test helpers into a virtual
//! environment of its own, keyed on the lock file, and `scripts/demo.sh` shows cargo's progress and says where
//! the binary is.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest, Sha256};
use trailguard_testkit::{pinned_python_version, workspace_root};

fn script(name: &str) -> PathBuf {
    workspace_root().join("scripts").join(name)
}

fn run(command: &mut Command) -> Output {
    let out = command.output().expect("bash runs");
    assert!(
        out.status.success(),
        "{command:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout_line(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// `setup.sh --print-path`: where the environment for `lock` lives under the cache directory `cache`.
fn venv_path(cache: &Path, lock: &Path) -> String {
    stdout_line(&run(Command::new("bash")
        .arg(script("setup.sh"))
        .arg("--print-path")
        .env("XDG_CACHE_HOME", cache)
        .env("TRAILGUARD_LOCK", lock)))
}

fn python_xy() -> String {
    let out =
        run(Command::new("python3")
            .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"]));
    stdout_line(&out)
}

#[test]
fn setup_keys_the_environment_on_the_lock_file_under_the_cache_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let lock = fs::read(workspace_root().join("scripts/requirements.lock")).expect("the lock file");
    let a = tmp.path().join("a.lock");
    let b = tmp.path().join("b.lock");
    fs::write(&a, &lock).unwrap();
    fs::write(&b, [lock.as_slice(), b"# one more line\n"].concat()).unwrap();

    let digest = hex::encode(Sha256::digest(&lock));
    let expected =
        cache
            .join("trailguard")
            .join(format!("venv-py{}-{}", python_xy(), &digest[..16]));
    assert_eq!(venv_path(&cache, &a), expected.to_string_lossy());
    // Same lock, same environment (CI reuses it); a changed lock gets a new one.
    assert_eq!(venv_path(&cache, &a), venv_path(&cache, &a));
    assert_ne!(venv_path(&cache, &a), venv_path(&cache, &b));
    assert!(!cache.exists(), "--print-path creates nothing");
}

#[test]
fn every_requirement_in_the_lock_is_pinned_with_hashes() {
    let lock =
        fs::read_to_string(workspace_root().join("scripts/requirements.lock")).expect("lock");
    let mut packages = Vec::new();
    // A requirement starts at column 0; its `--hash` options follow on continuation lines.
    let mut current: Option<(String, usize)> = None;
    for line in lock.lines() {
        if line.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            if let Some(done) = current.take() {
                packages.push(done);
            }
            let requirement = line.trim_end_matches('\\').trim().to_owned();
            current = Some((requirement, 0));
        } else if let Some((_, hashes)) = current.as_mut() {
            if line.trim_start().starts_with("--hash=sha256:") {
                *hashes += 1;
            }
        }
    }
    packages.extend(current);
    let names: Vec<&str> = packages
        .iter()
        .map(|(r, _)| r.split("==").next().unwrap_or(""))
        .collect();
    for wanted in ["moto", "boto3", "botocore", "awscli", "cfn-lint", "flask"] {
        assert!(names.contains(&wanted), "{wanted} is not in the lock");
    }
    for (requirement, hashes) in &packages {
        assert!(
            requirement.contains("=="),
            "`{requirement}` is not pinned to one version"
        );
        assert!(*hashes > 0, "`{requirement}` has no hash");
    }
}

/// The real set-up, as `scripts/test.sh` runs it (reuses the environment when the lock has not changed).
#[test]
fn setup_makes_a_virtual_environment_with_the_pinned_test_packages() {
    let out = run(Command::new("bash")
        .arg(script("setup.sh"))
        .env_remove("TRAILGUARD_PYTHON"));
    let venv = PathBuf::from(stdout_line(&out));
    let print_path = stdout_line(&run(Command::new("bash")
        .arg(script("setup.sh"))
        .arg("--print-path")));
    assert_eq!(venv, PathBuf::from(print_path));
    assert!(venv.join(".complete").is_file());
    // Its own site-packages only: nothing from the system Python leaks in.
    let cfg = fs::read_to_string(venv.join("pyvenv.cfg")).expect("pyvenv.cfg");
    assert!(
        cfg.contains("include-system-site-packages = false"),
        "{cfg}"
    );
    let pinned = pinned_python_version;
    let versions = stdout_line(&run(Command::new(venv.join("bin/python")).args([
        "-c",
        "import sys, moto, boto3, botocore; assert sys.prefix != sys.base_prefix; \
         print(moto.__version__, boto3.__version__, botocore.__version__)",
    ])));
    assert_eq!(
        versions,
        format!(
            "{} {} {}",
            pinned("moto"),
            pinned("boto3"),
            pinned("botocore")
        )
    );
    let aws = run(Command::new(venv.join("bin/aws")).arg("--version"));
    let aws_version = String::from_utf8_lossy(&aws.stdout) + String::from_utf8_lossy(&aws.stderr);
    assert!(
        aws_version.contains(&format!("aws-cli/{}", pinned("awscli"))),
        "{aws_version}"
    );
    // The work tree's `.venv` leads the tests to it when TRAILGUARD_PYTHON is not set.
    assert_eq!(
        fs::canonicalize(workspace_root().join(".venv")).unwrap(),
        fs::canonicalize(&venv).unwrap()
    );
}

fn write_executable(path: &Path, text: &str) {
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// `demo.sh` against a stand-in `cargo` that records its arguments and reports a stand-in binary.
#[test]
fn demo_shows_cargo_progress_and_says_where_the_binary_is() {
    let tmp = tempfile::tempdir().unwrap();
    let fake_bin = tmp.path().join("bin");
    let release = tmp.path().join("target/release");
    fs::create_dir_all(&fake_bin).unwrap();
    fs::create_dir_all(&release).unwrap();
    let trailguard = release.join("trailguard");
    let calls = tmp.path().join("calls");
    write_executable(
        &trailguard,
        &format!(
            "#!/bin/sh\necho \"trailguard $*\" >> '{}'\nexit 1\n",
            calls.display()
        ),
    );
    write_executable(
        &fake_bin.join("cargo"),
        &format!(
            "#!/bin/sh\necho \"cargo $*\" >> '{calls}'\n\
             echo '   Compiling trailguard v0.1.0' >&2\n\
             echo '{{\"reason\":\"compiler-artifact\",\"executable\":\"{exe}\",\"fresh\":false}}'\n\
             echo '{{\"reason\":\"build-finished\",\"success\":true}}'\n",
            calls = calls.display(),
            exe = trailguard.display()
        ),
    );
    let path = std::env::join_paths(
        std::iter::once(fake_bin.clone())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let out = run(Command::new("bash")
        .arg(script("demo.sh"))
        .arg("--quiet")
        .env("PATH", path));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let calls = fs::read_to_string(&calls).unwrap();
    let lines: Vec<&str> = calls.lines().collect();
    assert_eq!(lines.len(), 2, "{calls}");
    // The build is its own step, not silenced: cargo's progress reaches the terminal.
    assert!(lines[0].starts_with("cargo build --release"), "{calls}");
    assert!(
        !lines[0].split(' ').any(|w| w == "-q" || w == "--quiet"),
        "{calls}"
    );
    assert!(stderr.contains("Compiling trailguard"), "{stderr}");
    // The binary it reported runs the scan, with the extra arguments.
    assert_eq!(
        lines[1],
        "trailguard scan samples/cloudtrail --store .trailguard/trailguard.db --quiet"
    );
    assert!(
        stderr.contains(&format!("the binary is {}", trailguard.display())),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("export PATH=\"{}:$PATH\"", release.display())),
        "{stderr}"
    );
    assert!(stderr.contains("cargo install --locked --path crates/trailguard"));
}
