//! `trailguard bench --baseline BIN`: the scan phases of this build and of another run interleaved and are
//! held against a slowdown target. Here the baseline is this same build, on a small generated corpus.

use std::process::Command;

#[test]
fn the_bench_holds_each_scan_phase_against_the_baseline() {
    let corpus = tempfile::tempdir().unwrap();
    let exe = env!("CARGO_BIN_EXE_trailguard");
    let output = Command::new(exe)
        .args(["bench", "--generate", "--size-mb", "2", "--formats", "gz"])
        .args([
            "--threads",
            "2",
            "--rounds",
            "2",
            "--json",
            "--baseline",
            exe,
        ])
        .arg("--corpus")
        .arg(corpus.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let comparisons: Vec<serde_json::Value> = stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|v| v.get("baseline_phase").is_some())
        .collect();
    let phases: Vec<(&str, &str)> = comparisons
        .iter()
        .map(|c| {
            (
                c["phase"].as_str().unwrap(),
                c["baseline_phase"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(phases, [("scan", "scan"), ("scan-no-bulk", "scan")]);
    for comparison in &comparisons {
        assert_eq!(comparison["format"], "gz");
        for side in ["seconds", "baseline_seconds"] {
            let runs = comparison[side].as_array().unwrap();
            assert_eq!(runs.len(), 2, "{comparison}");
            assert!(
                runs.iter().all(|s| s.as_f64().unwrap() > 0.0),
                "{comparison}"
            );
        }
    }

    // A baseline that cannot run is one readable error naming it.
    let output = Command::new(exe)
        .args(["bench", "--formats", "gz", "--rounds", "1"])
        .args(["--baseline", "/nonexistent/trailguard"])
        .arg("--corpus")
        .arg(corpus.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--baseline `/nonexistent/trailguard`: no such file")
            && stderr.lines().count() == 1,
        "{stderr}"
    );
}
