//! Mutes in `trailguard scan`, end to end on the bundled sample trail: a mute hides exactly the findings
//! it matches (a near miss in another account hides none), the muted ones are counted in the summary and
//! shown with `--show-muted`, and a mute that has expired mutes nothing and is reported at the start.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn trailguard(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("TRAILGUARD_CONFIG")
        .output()
        .expect("trailguard runs")
}

fn samples() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../samples/cloudtrail").to_owned()
}

/// The findings of a JSON-lines scan, by id: (rule, account).
fn scan_json(dir: &Path, extra: &[&str]) -> (BTreeMap<String, (String, String)>, String) {
    let samples = samples();
    let mut args = vec![
        "scan",
        samples.as_str(),
        "--format",
        "json",
        "--fail-on",
        "never",
        "--store",
        "tg.db",
    ];
    args.extend_from_slice(extra);
    let out = trailguard(dir, &args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    let findings = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("a JSON line"))
        .map(|f| {
            let field = |k: &str| f[k].as_str().unwrap_or_default().to_owned();
            (field("id"), (field("rule_id"), field("account")))
        })
        .collect();
    (findings, err)
}

fn mute(dir: &Path, rule: &str, account: &str) -> String {
    let out = trailguard(
        dir,
        &[
            "mute",
            "add",
            "--store",
            "tg.db",
            "--rule",
            rule,
            "--account",
            account,
            "--reason",
            "accepted in review",
            "--expires",
            "2099-01-01",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn a_mute_hides_what_it_matches_counts_it_and_an_expired_one_mutes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (all, _) = scan_json(dir, &[]);
    // The rule with the most findings in one account: what a team would mute.
    let mut tally: BTreeMap<(String, String), usize> = BTreeMap::new();
    for key in all.values().filter(|(_, account)| !account.is_empty()) {
        *tally.entry(key.clone()).or_default() += 1;
    }
    let ((rule, account), muted) = tally
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .expect("the samples raise findings with an account");
    assert!(muted < all.len(), "the mute must leave something unmuted");

    // A near miss first: the same rule in another account mutes nothing.
    mute(dir, &rule, "999999999999");
    let (near_miss, err) = scan_json(dir, &[]);
    assert_eq!(near_miss.len(), all.len(), "{err}");

    let id = mute(dir, &rule, &account);
    let (shown, err) = scan_json(dir, &[]);
    assert_eq!(shown.len(), all.len() - muted, "{err}");
    assert!(shown
        .values()
        .all(|key| key != &(rule.clone(), account.clone())));
    let (with_muted, _) = scan_json(dir, &["--show-muted"]);
    assert_eq!(with_muted, all, "--show-muted reports the muted ones too");

    // The human summary counts them.
    let samples = samples();
    let text = trailguard(
        dir,
        &[
            "scan",
            samples.as_str(),
            "--fail-on",
            "never",
            "--store",
            "tg.db",
        ],
    );
    let summary = format!(
        "{}{}",
        String::from_utf8_lossy(&text.stdout),
        String::from_utf8_lossy(&text.stderr)
    );
    assert!(
        summary.contains(&format!("{muted} muted")),
        "{rule}/{account}: {summary}"
    );

    // Expired (as a reviewed file imported after its date leaves it): it mutes nothing and is reported.
    let exported = trailguard(dir, &["mute", "export", "--store", "tg.db", "mutes.toml"]);
    assert!(exported.status.success(), "{exported:?}");
    let file = dir.join("mutes.toml");
    let reviewed = std::fs::read_to_string(&file).unwrap();
    assert!(reviewed.contains("2099-01-01"), "{reviewed}");
    std::fs::write(&file, reviewed.replace("2099-01-01", "2020-01-01")).unwrap();
    let imported = trailguard(dir, &["mute", "import", "--store", "tg.db", "mutes.toml"]);
    assert!(imported.status.success(), "{imported:?}");
    let list =
        String::from_utf8_lossy(&trailguard(dir, &["mute", "list", "--store", "tg.db"]).stdout)
            .into_owned();
    assert!(list.contains(&format!("EXPIRED {id}")), "{list}");
    let (after, err) = scan_json(dir, &[]);
    assert_eq!(after, all, "an expired mute mutes nothing: {err}");
    assert!(err.contains("EXPIRED"), "{err}");
}
