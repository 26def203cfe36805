//! Values rendered into the scripts `fix --format cli` and `--format python` print, and into the
//! commands findings suggest (`crates/trailguard-rules/src/call/quote.rs`): whatever a record holds, the
//! quoted form must reach bash, or Python, as exactly that value, and a
//! comment must stay on its one line. The oracles are real interpreters (`bash`, `python3`), not our own
//! reading of the quoting rules.
#![no_main]

use std::io::{BufRead, BufReader, Write};
use std::process::{ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/trailguard-rules/src/call/quote.rs"]
#[allow(dead_code)] // `shell_word_shown` only wraps `shell_word`, which is what this target checks
mod quote;

/// One long-lived `python3` that evaluates a literal per line and answers with its UTF-8 bytes in hex
/// (spawning one per input would make the target a thousand times slower).
struct Python {
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

// A raw string: Python's indentation must survive (a `\` line continuation would eat it).
const EVALUATOR: &str = r#"import ast, sys
for line in sys.stdin:
    try:
        value = ast.literal_eval(line)
        sys.stdout.write(value.encode('utf-8', 'surrogatepass').hex() + '\n')
    except Exception as err:
        sys.stdout.write('error ' + type(err).__name__ + '\n')
    sys.stdout.flush()
"#;

fn python() -> &'static Mutex<Python> {
    static PYTHON: OnceLock<Mutex<Python>> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let mut child = Command::new("python3")
            .args(["-c", EVALUATOR])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        Mutex::new(Python {
            input: child.stdin.take().expect("piped stdin"),
            output: BufReader::new(child.stdout.take().expect("piped stdout")),
        })
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    if value.len() > 4096 {
        return;
    }

    // bash: the word is one argument equal to the value; NUL has no word and must get none.
    match quote::shell_word(value) {
        None => assert!(value.contains('\0'), "no shell word for {value:?}"),
        Some(word) => {
            let script = format!("printf '%s' {word}");
            let out = Command::new("bash")
                .args(["--norc", "--noprofile", "-c", &script])
                .env_clear()
                .output()
                .expect("bash runs");
            assert!(out.status.success(), "the script failed: {script:?}");
            assert_eq!(
                out.stdout,
                value.as_bytes(),
                "bash read another value from {script:?}"
            );
        }
    }

    // Python: the literal is one printable-ASCII line that evaluates to the value.
    let literal = quote::python_str(value);
    assert!(
        literal.bytes().all(|b| (0x20..0x7f).contains(&b)),
        "literal is not printable ASCII: {literal:?}"
    );
    let mut python = python().lock().expect("python lock");
    writeln!(python.input, "{literal}").expect("python reads");
    python.input.flush().expect("python reads");
    let mut answer = String::new();
    python
        .output
        .read_line(&mut answer)
        .expect("python answers");
    assert_eq!(
        answer.trim_end(),
        hex(value.as_bytes()),
        "python read another value from {literal:?}"
    );

    // Comments: nothing that ends a line or reorders text survives.
    let comment = quote::comment_text(value);
    assert!(
        !comment.chars().any(quote::is_hazard),
        "comment keeps a hazardous character: {comment:?}"
    );
});
