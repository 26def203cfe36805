//! Quoting for the scripts `fix --format cli` and `--format python` write. Every value in a plan may come
//! from a CloudTrail record, so it is attacker-chosen: a user name can hold a newline, quotes, `$(...)`,
//! backticks, `'''`, NUL or a Unicode line separator. Each function here is the one place its language's
//! quoting lives; a script renderer passes every value through one of them and nothing else.
//!
//! - [`shell_word`]: one bash word that expands to exactly the value (no expansion, no word splitting).
//! - [`python_str`]: a Python string literal that evaluates to exactly the value, printable ASCII only.
//! - [`comment_text`]: the value on one line, its control and line-breaking characters shown as escapes,
//!   for `#` comments in either language (a comment cannot quote, so nothing may end its line).
//!
//! NUL is the exception: no shell word can carry it (argv strings end at NUL), so [`shell_word`] returns
//! `None` for it and the plan skips any call holding one (no AWS name can contain NUL either).
//!
//! This file is the one home of quoting in the workspace: `Call` renders through it, rules' suggested
//! commands (`rules::cloudtrail::common::sh`) go through [`shell_word_shown`], and the fuzz target
//! `fuzz/fuzz_targets/fix_script.rs` includes it by path and checks it against real bash and python3.

use std::fmt::Write as _;

/// Characters that need no quoting in a shell word.
fn is_shell_safe(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_./:=@+,%".contains(c)
}

/// Characters that may break a line, reorder text on screen or vanish when shown: C0 and C1 controls,
/// DEL, the Unicode line and paragraph separators, and the bidirectional and zero-width format characters.
pub fn is_hazard(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{2028}' | '\u{2029}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{feff}')
}

/// A bash word for `value`: bare when it is made of safe characters only, `'...'` when it is printable,
/// and ANSI-C `$'...'` with `\xHH` byte escapes when it holds control or line-breaking characters (the
/// byte escapes do not depend on the locale). `None` when the value holds NUL, which no word can carry.
pub fn shell_word(value: &str) -> Option<String> {
    if value.contains('\0') {
        return None;
    }
    if !value.is_empty() && value.chars().all(is_shell_safe) {
        return Some(value.to_owned());
    }
    if !value.chars().any(is_hazard) {
        return Some(format!("'{}'", value.replace('\'', r"'\''")));
    }
    let mut out = String::from("$'");
    for c in value.chars() {
        match c {
            '\\' => out.push_str(r"\\"),
            '\'' => out.push_str(r"\'"),
            '\n' => out.push_str(r"\n"),
            '\t' => out.push_str(r"\t"),
            '\r' => out.push_str(r"\r"),
            c if is_hazard(c) => {
                let mut buf = [0u8; 4];
                for byte in c.encode_utf8(&mut buf).bytes() {
                    let _ = write!(out, "\\x{byte:02x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    Some(out)
}

/// [`shell_word`] for a command shown to a person (a finding's suggestion, a plan): a value holding NUL,
/// which no word can carry, is shown as `<NUL: ...>` in [`comment_text`] form, which no shell reads as
/// the value. Plans refuse such calls before any script is written (`Call::holds_nul`).
pub fn shell_word_shown(value: &str) -> String {
    shell_word(value).unwrap_or_else(|| format!("<NUL: {}>", comment_text(value)))
}

/// A double-quoted Python 3 string literal for `value`, written in printable ASCII: everything else is an
/// escape (`\n`, `\x00`, `\u2028`, `\U0001f600`), so no value can end the literal, the line or the file.
pub fn python_str(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str(r"\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str(r"\n"),
            '\r' => out.push_str(r"\r"),
            '\t' => out.push_str(r"\t"),
            ' '..='~' => out.push(c),
            c if (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

/// `value` for a `#` comment line: control and line-breaking characters become visible escapes (`\n`,
/// `\x1b`, `\u{2028}`), so the comment stays one line and shows what the value really holds.
pub fn comment_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\n' => out.push_str(r"\n"),
            '\r' => out.push_str(r"\r"),
            '\t' => out.push_str(r"\t"),
            c if is_hazard(c) && (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_hazard(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &[&str] = &[
        "bob\n touch /tmp/x",
        "it's",
        "$(touch /tmp/x)",
        "`touch /tmp/x`",
        "'''; import os #",
        "back\\slash",
        "line\u{2028}sep\u{2029}para\u{85}nel",
        "esc\u{1b}]0;title\u{7}",
        "crlf\r\nx",
        "",
    ];

    #[test]
    fn shell_words_are_plain_quoted_or_escaped() {
        assert_eq!(
            shell_word("arn:aws:iam::1:user/bob").unwrap(),
            "arn:aws:iam::1:user/bob"
        );
        assert_eq!(shell_word("bob smith").unwrap(), "'bob smith'");
        assert_eq!(shell_word("it's").unwrap(), r"'it'\''s'");
        assert_eq!(shell_word("a\nb").unwrap(), r"$'a\nb'");
        assert_eq!(shell_word("a\u{2028}'").unwrap(), r"$'a\xe2\x80\xa8\''");
        assert_eq!(shell_word("nul\0"), None);
        for value in HOSTILE {
            let word = shell_word(value).unwrap();
            assert!(!word.contains('\n') && !word.contains('\r'), "{word}");
        }
    }

    #[test]
    fn python_literals_are_printable_ascii() {
        assert_eq!(python_str("a\"b"), r#""a\"b""#);
        assert_eq!(python_str("nul\0"), r#""nul\x00""#);
        assert_eq!(python_str("\u{2028}é😀"), r#""\u2028\xe9\U0001f600""#);
        for value in HOSTILE {
            let literal = python_str(value);
            assert!(
                literal.chars().all(|c| (' '..='~').contains(&c)),
                "{literal}"
            );
        }
    }

    #[test]
    fn comments_stay_on_one_line() {
        assert_eq!(comment_text("a\nb\u{2028}c\u{1b}"), r"a\nb\u{2028}c\x1b");
        for value in HOSTILE {
            assert!(!comment_text(value).chars().any(is_hazard), "{value:?}");
        }
    }
}
