//! The documented surface matches the real one: every command is in the README, every `scan --format` is
//! in its table of output formats, and a command's one-line help names all of its subcommands.

use std::process::Command;

fn trailguard(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(args)
        .output()
        .expect("trailguard runs");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README")
}

/// The names under `Commands:` in a clap help text (`help` excluded).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        // A name is indented by two spaces; deeper lines continue a wrapped description.
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_command_is_documented_in_the_readme() {
    let commands = subcommands(&trailguard(&["--help"]));
    assert!(commands.len() >= 8, "{commands:?}");
    let readme = readme();
    let missing: Vec<&String> = commands
        .iter()
        .filter(|c| !readme.contains(&format!("trailguard {c}")))
        .collect();
    assert!(missing.is_empty(), "README never shows: {missing:?}");
}

#[test]
fn every_scan_format_is_in_the_readme_table() {
    // The refusal of an unknown format lists the real ones.
    let refusal = trailguard(&["scan", "--format", "no-such-format", "-"]);
    let expected = refusal
        .split("expected ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("no list of formats in: {refusal}"));
    let formats: Vec<&str> = expected
        .split([',', ' '])
        .filter(|w| !w.is_empty() && *w != "or")
        .collect();
    assert!(formats.contains(&"sarif"), "{formats:?}");
    let readme = readme();
    for format in &formats {
        assert!(
            readme.contains(&format!("| `{format}`")),
            "README's output format table lacks `{format}`"
        );
        assert!(
            trailguard(&["scan", "--help"]).contains(format),
            "`scan --help` does not mention {format}"
        );
    }
}

#[test]
fn command_summaries_name_all_their_subcommands() {
    let top = trailguard(&["--help"]);
    for command in subcommands(&top) {
        let help = trailguard(&[command.as_str(), "--help"]);
        let subs = subcommands(&help);
        if subs.is_empty() {
            continue;
        }
        // The summary: the help's first paragraph (what `trailguard --help` lists, unwrapped).
        let summary = help
            .lines()
            .take_while(|l| !l.trim().is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        for sub in &subs {
            assert!(
                summary.contains(sub.as_str()),
                "`trailguard {command}` summary does not name `{sub}`: {summary}"
            );
        }
    }
}
