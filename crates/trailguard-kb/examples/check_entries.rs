//! Checks the embedded entries without building the whole `trailguard` binary: parse errors, and every
//! `aws ...` command against botocore's service models. Handy while writing entries:
//!
//! ```text
//! cargo run -p trailguard-kb --example check_entries -- "$(.venv/bin/python -c 'import botocore,os;print(os.path.dirname(botocore.__file__))')/data"
//! ```
//!
//! The authoritative checks are the `kb_*` tests of the `trailguard` crate; this is the quick loop.

use std::process::ExitCode;

use trailguard_kb::awscli::Checker;
use trailguard_kb::Kb;

fn main() -> ExitCode {
    let Some(data_dir) = std::env::args().nth(1) else {
        eprintln!("usage: check_entries BOTOCORE_DATA_DIR");
        return ExitCode::from(2);
    };
    let kb = Kb::builtin();
    let mut problems = 0;
    for error in kb.errors() {
        println!("{error}");
        problems += 1;
    }
    let mut checker = Checker::new(data_dir);
    let mut commands = 0;
    for entry in kb.entries() {
        for command in &entry.cli_commands {
            commands += 1;
            for problem in checker.check(&command.command) {
                println!("`{}`:{}: {problem}", entry.file, command.line);
                problems += 1;
            }
        }
    }
    println!(
        "{} entries, {} parse errors, {commands} AWS CLI commands checked, {problems} problem(s)",
        kb.entries().len(),
        kb.errors().len()
    );
    if problems == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
