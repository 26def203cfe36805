//! `trailguard mute add|list|remove|export|import` end to end on a SQLite store: what a team does with
//! mutes it reviews in git. The same matcher keeps its id (an import twice changes nothing), a
//! misspelt key in a reviewed file is refused before anything is written, and who added a mute and
//! when survive the round trip.

use std::path::Path;
use std::process::{Command, Output};

fn trailguard(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .current_dir(dir)
        .args(args)
        .args(["--store", "tg.db"])
        .env("NO_COLOR", "1")
        .env("TRAILGUARD_USER", "alice")
        .output()
        .expect("trailguard runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const ADD: &[&str] = &[
    "mute",
    "add",
    "--rule",
    "CT006",
    "--principal",
    "arn:aws:iam::*:role/terraform-*",
    "--account",
    "111122223333",
    "--reason",
    "IaC manages aliases",
    "--expires",
    "2099-03-01",
];

#[test]
fn mutes_round_trip_through_a_reviewed_file_with_their_ids() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let added = trailguard(dir, ADD);
    assert!(added.status.success(), "{}", stderr(&added));
    let id = stdout(&added).trim().to_owned();
    assert!(id.starts_with("mute-"), "{id}");
    // The same matcher again: the same mute, not a second one.
    assert_eq!(stdout(&trailguard(dir, ADD)).trim(), id);
    let list = stdout(&trailguard(dir, &["mute", "list"]));
    assert_eq!(list.lines().count(), 1, "{list}");
    assert!(
        list.contains(&id)
            && list.contains("principal=arn:aws:iam::*:role/terraform-*")
            && list.contains("until 2099-03-01T00:00:00.000Z")
            && list.contains("by alice"),
        "{list}"
    );

    for file in ["mutes.toml", "mutes.yaml"] {
        let exported = trailguard(dir, &["mute", "export", file]);
        assert!(exported.status.success(), "{}", stderr(&exported));
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        assert!(text.contains("IaC manages aliases"), "{text}");
        // Removed, then imported from the reviewed file: the same id, author and time.
        let removed = trailguard(dir, &["mute", "remove", &id]);
        assert!(removed.status.success(), "{}", stderr(&removed));
        let empty = trailguard(dir, &["mute", "list"]);
        assert_eq!(stdout(&empty), "", "{file}");
        for _ in 0..2 {
            let imported = trailguard(dir, &["mute", "import", file]);
            assert!(imported.status.success(), "{}", stderr(&imported));
        }
        assert_eq!(
            stdout(&trailguard(dir, &["mute", "list"])),
            list,
            "{file}: imported twice, one mute as it was"
        );
    }

    // A misspelt matcher would widen the mute: the whole file is refused and nothing is written.
    std::fs::write(
        dir.join("typo.toml"),
        "[[mute]]\nrule = \"CT007\"\nreason = \"ok\"\nexpires = \"2099-01-01\"\n\n\
         [[mute]]\nrule = \"CT008\"\nprinciple = \"arn:aws:iam::111122223333:user/ci\"\n\
         reason = \"typo\"\nexpires = \"2099-01-01\"\n",
    )
    .unwrap();
    let refused = trailguard(dir, &["mute", "import", "typo.toml"]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("principle"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(stdout(&trailguard(dir, &["mute", "list"])), list);

    // No removing what is not there, and no mute without an expiry, or one already past.
    let missing = trailguard(dir, &["mute", "remove", "mute-0000000000000000"]);
    assert_ne!(missing.status.code(), Some(0));
    assert!(stderr(&missing).contains("no mute"), "{}", stderr(&missing));
    let forever = trailguard(dir, &["mute", "add", "--rule", "CT001", "--reason", "x"]);
    assert!(
        stderr(&forever).contains("--expires DATE") && !forever.status.success(),
        "{}",
        stderr(&forever)
    );
    let past = trailguard(
        dir,
        &[
            "mute",
            "add",
            "--rule",
            "CT001",
            "--reason",
            "x",
            "--expires",
            "2020-01-01",
        ],
    );
    assert!(
        stderr(&past).contains("already past") && !past.status.success(),
        "{}",
        stderr(&past)
    );
    assert_eq!(stdout(&trailguard(dir, &["mute", "list"])), list);
}
