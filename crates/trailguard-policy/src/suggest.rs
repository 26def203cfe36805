//! "Did you mean ...?": the closest names to a misspelled one, by edit distance, case-insensitively.
//! Used for action names (the catalog), rule codes and rule names.

/// Levenshtein distance between two strings, in characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// How far a suggestion may be from what was typed: a quarter of its length, at least 3.
pub fn close_enough(wanted: &str, distance: usize) -> bool {
    distance <= 3.max(wanted.chars().count() / 4)
}

/// Up to `max` candidates closest to `wanted` (ignoring ASCII case), nearest first, ties in the
/// candidates' order; only those [`close_enough`].
pub fn closest<'c>(
    wanted: &str,
    candidates: impl IntoIterator<Item = &'c str>,
    max: usize,
) -> Vec<&'c str> {
    let wanted = wanted.to_ascii_lowercase();
    let mut scored: Vec<(usize, usize, &str)> = candidates
        .into_iter()
        .enumerate()
        .map(|(i, c)| (edit_distance(&wanted, &c.to_ascii_lowercase()), i, c))
        .filter(|(d, _, _)| close_enough(&wanted, *d))
        .collect();
    scored.sort_unstable();
    scored.into_iter().take(max).map(|(_, _, c)| c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_and_suggestions() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
        assert_eq!(
            closest("CreateUsr", ["DeleteUser", "CreateRole", "createuser"], 3),
            vec!["createuser"]
        );
        assert_eq!(
            closest("PC01", ["CT001", "PC010", "PC001"], 2),
            vec!["PC010", "PC001"]
        );
        assert!(closest("completely-different", ["PC001"], 3).is_empty());
    }
}
