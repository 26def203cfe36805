//! Wildcard matching as IAM does it: `*` any run of characters, `?` exactly one.

/// Matches `text` against `pattern`. With `ignore_case`, ASCII letters compare case-insensitively
/// (action names); without, exactly (resources, condition values). Linear-time backtracking.
pub fn glob_match(pattern: &[u8], text: &[u8], ignore_case: bool) -> bool {
    glob_match_by(pattern, text, |p, t| {
        p == b'?' || (ignore_case && p.eq_ignore_ascii_case(&t)) || p == t
    })
}

/// [`glob_match`] with the rule for one pattern byte other than `*` against one text byte given by
/// `one` (e.g. a `?` that must not stand for a `*` of the text, when the text is itself a pattern).
/// Backtracks only to the last `*`: at most pattern length times text length steps, never exponential.
pub fn glob_match_by(pattern: &[u8], text: &[u8], one: impl Fn(u8, u8) -> bool) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] != b'*' && one(pattern[p], text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while p < pattern.len() && pattern[p] == b'*' {
        p += 1;
    }
    p == pattern.len()
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn wildcards() {
        assert!(glob_match(b"*", b"", false));
        assert!(glob_match(b"create*", b"createuser", false));
        assert!(glob_match(b"*object*", b"getobjectacl", false));
        assert!(!glob_match(b"*object", b"getobjectacl", false));
        assert!(glob_match(b"get?bject", b"getObject", true));
        assert!(!glob_match(b"Get?bject", b"getObject", false));
        assert!(glob_match(b"a*b*c", b"aXbYbZc", false));
        assert!(!glob_match(b"a*b*c", b"aXbYbZ", false));
        assert!(glob_match(
            b"arn:aws:s3:::b/*",
            b"arn:aws:s3:::b/k/x",
            false
        ));
    }
}
