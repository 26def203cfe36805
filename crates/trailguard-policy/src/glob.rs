//! Wildcard matching as IAM does it: `*` any run of characters, `?` exactly one.

/// Matches `text` against `pattern`. With `ignore_case`, ASCII letters compare case-insensitively
/// (action names); without, exactly (resources, condition values). Linear-time backtracking.
pub fn glob_match(pattern: &[u8], text: &[u8], ignore_case: bool) -> bool {
    let eq = |a: u8, b: u8| {
        if ignore_case {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len()
            && (pattern[p] == b'?' || (pattern[p] != b'*' && eq(pattern[p], text[t])))
        {
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
