//! Sigma string values with wildcards, compiled once into the cheapest matcher that fits.
//!
//! In a Sigma value `*` matches any run of characters and `?` one character; `\*`, `\?` and `\\` are
//! the literal characters, and a backslash before anything else is itself literal (so Windows paths need
//! no doubling). A value compiles to exact / prefix / suffix / contains comparisons when its wildcards
//! allow, and to one anchored regex otherwise, so no record ever pays for a regex it does not need.
//! Matching is case-insensitive unless the `cased` modifier asked otherwise.

use regex::{Regex, RegexBuilder};

use super::error::SigmaErrorKind;

/// One part of a Sigma string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Lit(String),
    /// `*`
    Star,
    /// `?`
    One,
}

/// A Sigma string value: literal text and wildcards.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SigmaString {
    pieces: Vec<Piece>,
}

impl SigmaString {
    /// Parses wildcards and escapes as Sigma writes them.
    pub fn parse(text: &str) -> SigmaString {
        let mut out = SigmaString::default();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '*' => out.push(Piece::Star),
                '?' => out.push(Piece::One),
                '\\' => match chars.peek() {
                    Some(&next @ ('*' | '?' | '\\')) => {
                        chars.next();
                        out.push_char(next);
                    }
                    _ => out.push_char('\\'),
                },
                c => out.push_char(c),
            }
        }
        out
    }

    /// A value with no wildcards at all (the output of base64, a number, a boolean).
    pub fn literal(text: &str) -> SigmaString {
        let mut out = SigmaString::default();
        if !text.is_empty() {
            out.pieces.push(Piece::Lit(text.to_owned()));
        }
        out
    }

    fn push(&mut self, piece: Piece) {
        // Consecutive stars mean the same as one; keeping one makes shapes easy to recognise.
        if piece == Piece::Star && self.pieces.last() == Some(&Piece::Star) {
            return;
        }
        self.pieces.push(piece);
    }

    fn push_char(&mut self, c: char) {
        if let Some(Piece::Lit(s)) = self.pieces.last_mut() {
            s.push(c);
        } else {
            self.pieces.push(Piece::Lit(c.to_string()));
        }
    }

    pub fn has_wildcards(&self) -> bool {
        self.pieces.iter().any(|p| !matches!(p, Piece::Lit(_)))
    }

    /// The text when there are no wildcards.
    pub fn as_plain(&self) -> Option<String> {
        if self.has_wildcards() {
            return None;
        }
        Some(
            self.pieces
                .iter()
                .filter_map(|p| match p {
                    Piece::Lit(s) => Some(s.as_str()),
                    _ => None,
                })
                .collect(),
        )
    }

    /// `*value*`, `value*`, `*value` for the contains / startswith / endswith modifiers.
    pub fn wrapped(mut self, star_before: bool, star_after: bool) -> SigmaString {
        if star_before && self.pieces.first() != Some(&Piece::Star) {
            self.pieces.insert(0, Piece::Star);
        }
        if star_after {
            self.push(Piece::Star);
        }
        self
    }

    /// Rewrites every literal part (used by `windash`), keeping the wildcards.
    pub fn map_literals(&self, f: impl Fn(&str) -> String) -> SigmaString {
        SigmaString {
            pieces: self
                .pieces
                .iter()
                .map(|p| match p {
                    Piece::Lit(s) => Piece::Lit(f(s)),
                    other => other.clone(),
                })
                .collect(),
        }
    }

    pub fn pieces(&self) -> &[Piece] {
        &self.pieces
    }
}

/// A compiled string matcher.
#[derive(Debug, Clone)]
pub struct StrMatcher {
    kind: Kind,
    cased: bool,
}

#[derive(Debug, Clone)]
enum Kind {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Contains(String),
    /// `*`: any string, including the empty one.
    Any,
    Regex(Regex),
}

impl StrMatcher {
    /// Compiles a Sigma string; `cased` makes the comparison case-sensitive.
    pub fn compile(value: &SigmaString, cased: bool) -> Result<StrMatcher, SigmaErrorKind> {
        let pieces = value.pieces();
        // Case-insensitive comparisons below work byte-wise on ASCII; other text goes to a regex, which
        // knows Unicode case folding.
        let simple_text = |s: &str| cased || s.is_ascii();
        let norm = |s: &str| {
            if cased {
                s.to_owned()
            } else {
                s.to_ascii_lowercase()
            }
        };
        let kind = match pieces {
            [] => Kind::Exact(String::new()),
            [Piece::Lit(s)] if simple_text(s) => Kind::Exact(norm(s)),
            [Piece::Star] => Kind::Any,
            [Piece::Lit(s), Piece::Star] if simple_text(s) => Kind::Prefix(norm(s)),
            [Piece::Star, Piece::Lit(s)] if simple_text(s) => Kind::Suffix(norm(s)),
            [Piece::Star, Piece::Lit(s), Piece::Star] if simple_text(s) => Kind::Contains(norm(s)),
            _ => Kind::Regex(wildcard_regex(pieces, cased)?),
        };
        Ok(StrMatcher { kind, cased })
    }

    /// The exact (lower-cased unless cased) text this matcher accepts, if it accepts only one.
    /// The literal text every match contains (exact, prefix, suffix or contains patterns).
    pub fn required_text(&self) -> Option<&str> {
        match &self.kind {
            Kind::Exact(s) | Kind::Prefix(s) | Kind::Suffix(s) | Kind::Contains(s) => Some(s),
            _ => None,
        }
    }

    pub fn exact_literal(&self) -> Option<&str> {
        match &self.kind {
            Kind::Exact(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_match(&self, haystack: &str) -> bool {
        let h = haystack.as_bytes();
        match &self.kind {
            Kind::Any => true,
            Kind::Regex(re) => re.is_match(haystack),
            Kind::Exact(p) if self.cased => haystack == p,
            Kind::Prefix(p) if self.cased => haystack.starts_with(p.as_str()),
            Kind::Suffix(p) if self.cased => haystack.ends_with(p.as_str()),
            Kind::Contains(p) if self.cased => haystack.contains(p.as_str()),
            Kind::Exact(p) => h.eq_ignore_ascii_case(p.as_bytes()),
            Kind::Prefix(p) => {
                h.len() >= p.len() && h[..p.len()].eq_ignore_ascii_case(p.as_bytes())
            }
            Kind::Suffix(p) => {
                h.len() >= p.len() && h[h.len() - p.len()..].eq_ignore_ascii_case(p.as_bytes())
            }
            Kind::Contains(p) => contains_ignore_ascii_case(h, p.as_bytes()),
        }
    }
}

/// Substring search ignoring ASCII case; `needle` is already lower-case.
pub fn contains_ignore_ascii_case(haystack: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    if haystack.len() < needle.len() {
        return false;
    }
    let last_start = haystack.len() - needle.len();
    let first_upper = first.to_ascii_uppercase();
    let mut i = 0;
    while i <= last_start {
        let b = haystack[i];
        if (b == first || b == first_upper)
            && haystack[i + 1..i + needle.len()].eq_ignore_ascii_case(rest)
        {
            return true;
        }
        i += 1;
    }
    false
}

/// A `re` value: the regex plus, when one can be proven, a literal every match must contain, checked
/// first with a plain substring search (most records fail it and never reach the regex engine).
#[derive(Debug, Clone)]
pub struct RegexMatcher {
    regex: Regex,
    /// The required literal, lower-cased when the regex ignores case.
    needle: Option<String>,
    /// A prepared searcher for `needle` (case-sensitive regexes), built once.
    finder: Option<memchr::memmem::Finder<'static>>,
}

impl RegexMatcher {
    pub fn new(regex: Regex, source: &str, insensitive: bool) -> RegexMatcher {
        let needle = required_literal(source)
            .filter(|n| n.len() >= 3 && (!insensitive || n.is_ascii()))
            .map(|n| {
                if insensitive {
                    n.to_ascii_lowercase()
                } else {
                    n
                }
            });
        let finder = needle
            .as_ref()
            .filter(|_| !insensitive)
            .map(|n| memchr::memmem::Finder::new(n.as_bytes()).into_owned());
        RegexMatcher {
            regex,
            needle,
            finder,
        }
    }

    pub fn is_match(&self, haystack: &str) -> bool {
        if let Some(finder) = &self.finder {
            if finder.find(haystack.as_bytes()).is_none() {
                return false;
            }
        } else if let Some(n) = &self.needle {
            if !contains_ignore_ascii_case(haystack.as_bytes(), n.as_bytes()) {
                return false;
            }
        }
        self.regex.is_match(haystack)
    }

    pub fn needle(&self) -> Option<&str> {
        self.needle.as_deref()
    }
}

/// The longest run of literal characters every match of `pattern` must contain, found conservatively:
/// none when the pattern has alternation or inline flags; text inside groups, classes and escapes like
/// `\d` is skipped; a character made optional by `*`, `?` or `{` is dropped from its run.
pub fn required_literal(pattern: &str) -> Option<String> {
    if pattern.contains('|') || pattern.contains("(?") {
        return None;
    }
    let mut runs: Vec<String> = Vec::new();
    let mut run = String::new();
    let mut depth = 0usize;
    let mut chars = pattern.chars().peekable();
    let finish = |run: &mut String, runs: &mut Vec<String>| {
        if !run.is_empty() {
            runs.push(std::mem::take(run));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '*' | '?' | '{' => {
                run.pop();
                finish(&mut run, &mut runs);
                if c == '{' {
                    for n in chars.by_ref() {
                        if n == '}' {
                            break;
                        }
                    }
                }
            }
            '+' | '.' | '^' | '$' => finish(&mut run, &mut runs),
            '(' => {
                finish(&mut run, &mut runs);
                depth += 1;
            }
            ')' => {
                finish(&mut run, &mut runs);
                depth = depth.saturating_sub(1);
            }
            '[' => {
                finish(&mut run, &mut runs);
                // Skip the class, allowing `]` first and escaped characters inside.
                let mut first = true;
                while let Some(n) = chars.next() {
                    match n {
                        '\\' => {
                            chars.next();
                        }
                        ']' if !first => break,
                        _ => {}
                    }
                    first = false;
                }
            }
            '\\' => match chars.next() {
                Some(e) if e.is_ascii_alphanumeric() => {
                    finish(&mut run, &mut runs);
                    // `\p{Greek}` and friends carry a braced name.
                    if matches!(e, 'p' | 'P' | 'x' | 'u') && chars.peek() == Some(&'{') {
                        for n in chars.by_ref() {
                            if n == '}' {
                                break;
                            }
                        }
                    }
                }
                Some(e) if depth == 0 => run.push(e),
                Some(_) => {}
                None => finish(&mut run, &mut runs),
            },
            c if depth == 0 => run.push(c),
            _ => {}
        }
    }
    finish(&mut run, &mut runs);
    runs.into_iter().max_by_key(String::len)
}

fn wildcard_regex(pieces: &[Piece], cased: bool) -> Result<Regex, SigmaErrorKind> {
    let mut source = String::from("^");
    for piece in pieces {
        match piece {
            Piece::Lit(s) => source.push_str(&regex::escape(s)),
            Piece::Star => source.push_str(".*"),
            Piece::One => source.push('.'),
        }
    }
    source.push('$');
    RegexBuilder::new(&source)
        .case_insensitive(!cased)
        .dot_matches_new_line(true)
        .build()
        .map_err(|e| SigmaErrorKind::Invalid(format!("wildcard pattern too complex: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(value: &str) -> StrMatcher {
        StrMatcher::compile(&SigmaString::parse(value), false).unwrap()
    }

    #[test]
    fn exact_is_case_insensitive_by_default() {
        assert!(m("DeleteTrail").is_match("deletetrail"));
        assert!(m("DeleteTrail").is_match("DELETETRAIL"));
        assert!(!m("DeleteTrail").is_match("DeleteTrails"));
        let cased = StrMatcher::compile(&SigmaString::parse("DeleteTrail"), true).unwrap();
        assert!(cased.is_match("DeleteTrail"));
        assert!(!cased.is_match("deletetrail"));
    }

    #[test]
    fn shapes_compile_to_cheap_matchers() {
        assert!(matches!(m("abc*").kind, Kind::Prefix(_)));
        assert!(matches!(m("*abc").kind, Kind::Suffix(_)));
        assert!(matches!(m("*abc*").kind, Kind::Contains(_)));
        assert!(matches!(m("**").kind, Kind::Any));
        assert!(matches!(m("a*c").kind, Kind::Regex(_)));
        assert!(matches!(m("a?c").kind, Kind::Regex(_)));
        assert_eq!(m("Exact").exact_literal(), Some("exact"));
    }

    #[test]
    fn wildcards_match() {
        assert!(m("Update*").is_match("UpdateFunctionConfiguration20150331v2"));
        assert!(!m("Update*").is_match("CreateFunction"));
        assert!(m("*.amazonaws.com").is_match("iam.AmazonAWS.com"));
        assert!(m("*Suspended*").is_match(r#"{"Status":"suspended"}"#));
        assert!(m("a?c").is_match("abc"));
        assert!(!m("a?c").is_match("abbc"));
        assert!(m("arn:*:user/*").is_match("arn:aws:iam::1:user/bob"));
        assert!(!m("arn:*:user/*").is_match("arn:aws:iam::1:role/bob"));
        assert!(m("*").is_match(""));
    }

    #[test]
    fn escapes_make_wildcards_literal() {
        let star = m(r"a\*b");
        assert!(star.is_match("a*b"));
        assert!(!star.is_match("axxb"));
        let q = m(r"what\?");
        assert!(q.is_match("what?"));
        assert!(!q.is_match("whatx"));
        let backslash = m(r"C:\\Windows");
        assert!(backslash.is_match(r"C:\Windows"));
        // A backslash before an ordinary character is literal.
        assert!(m(r"C:\Windows").is_match(r"c:\windows"));
    }

    #[test]
    fn non_ascii_uses_unicode_case_folding() {
        assert!(m("ÜBER*").is_match("über-admin"));
        assert!(m("*straße").is_match("Hauptstraße"));
    }

    #[test]
    fn required_literals_are_conservative() {
        let cases = [
            (".+:assumed-role/aws:.+", Some(":assumed-role/aws:")),
            ("^arn:aws:iam::[0-9]{12}:root$", Some("arn:aws:iam::")),
            ("abcd*", Some("abc")),
            ("abc?def", Some("def")),
            (r"\d+\.evil\.com", Some(".evil.com")),
            ("(optional)?tail", Some("tail")),
            ("a|b", None),
            ("(?i)abc", None),
            ("x{2,3}yz", Some("yz")),
            (r"[\]a-z]+suffix", Some("suffix")),
            (r"\p{Greek}+word", Some("word")),
        ];
        for (pattern, want) in cases {
            assert_eq!(required_literal(pattern).as_deref(), want, "{pattern}");
        }
    }

    #[test]
    fn regex_with_needle_agrees_with_plain_regex() {
        let texts = [
            "arn:aws:sts::1:assumed-role/aws:ec2-instance/i-1",
            "arn:aws:sts::1:assumed-role/Admin/x",
            ":assumed-role/aws:",
            "x:ASSUMED-ROLE/AWS:y",
        ];
        for (pattern, insensitive) in [
            (".+:assumed-role/aws:.+", false),
            (".+:assumed-role/aws:.+", true),
        ] {
            let regex = RegexBuilder::new(pattern)
                .case_insensitive(insensitive)
                .build()
                .unwrap();
            let fast = RegexMatcher::new(regex.clone(), pattern, insensitive);
            assert!(fast.needle().is_some());
            for text in texts {
                assert_eq!(
                    fast.is_match(text),
                    regex.is_match(text),
                    "{pattern} {insensitive} {text}"
                );
            }
        }
    }

    #[test]
    fn contains_ignore_case_edges() {
        assert!(contains_ignore_ascii_case(b"abc", b""));
        assert!(!contains_ignore_ascii_case(b"ab", b"abc"));
        assert!(contains_ignore_ascii_case(b"xxABC", b"abc"));
        assert!(!contains_ignore_ascii_case(b"xxABD", b"abc"));
    }
}
