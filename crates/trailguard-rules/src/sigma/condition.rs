//! The Sigma condition language: `and`, `or`, `not`, parentheses, `1 of x*`, `all of them`.
//!
//! Parsed once at load into a [`Condition`] whose leaves are selection indexes, so matching a record never
//! looks at a name. Precedence (loosest first): `or`, `and`, `not`. Aggregations (`| count() ...`) are the
//! old correlation syntax and are reported as unsupported.
//!
//! Rules come from outside, so nothing here may cost more than the text's length: nesting (parentheses
//! and `not` chains) is bounded by [`MAX_NESTING`] (a deeper condition is an error, not a stack
//! overflow), and `1 of name*pattern*` matches selection names without exponential backtracking.

use super::error::SigmaErrorKind;

/// A compiled condition over a rule's selections (indexes into the rule's selection list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    Selection(usize),
    Not(Box<Condition>),
    And(Vec<Condition>),
    Or(Vec<Condition>),
    /// At least `n` of these selections match (`1 of selection_*`, `2 of them`).
    AtLeast(usize, Vec<usize>),
    /// Every one of these selections matches (`all of filter_*`).
    All(Vec<usize>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token<'s> {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Of,
    All,
    Them,
    Count(usize),
    Ident(&'s str),
    Pipe,
}

fn tokenize(text: &str) -> Result<Vec<Token<'_>>, SigmaErrorKind> {
    let mut tokens = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'(' => {
                tokens.push(Token::LParen);
                i += 1;
            }
            b')' => {
                tokens.push(Token::RParen);
                i += 1;
            }
            b'|' => {
                tokens.push(Token::Pipe);
                i += 1;
            }
            c if c.is_ascii_alphanumeric() || c == b'_' || c == b'*' || c == b'-' || c == b'.' => {
                let start = i;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric()
                        || matches!(bytes[i], b'_' | b'*' | b'-' | b'.'))
                {
                    i += 1;
                }
                let word = &text[start..i];
                let token = match word.to_ascii_lowercase().as_str() {
                    "and" => Token::And,
                    "or" => Token::Or,
                    "not" => Token::Not,
                    "of" => Token::Of,
                    "all" => Token::All,
                    "them" => Token::Them,
                    _ if word.bytes().all(|b| b.is_ascii_digit()) => {
                        Token::Count(word.parse().map_err(|_| {
                            SigmaErrorKind::Invalid(format!(
                                "condition: count `{word}` is too large"
                            ))
                        })?)
                    }
                    _ => Token::Ident(word),
                };
                tokens.push(token);
            }
            _ => {
                let ch = text[i..].chars().next().unwrap_or('?');
                return Err(SigmaErrorKind::Invalid(format!(
                    "condition: unexpected character `{ch}` at offset {i} in `{text}`"
                )));
            }
        }
    }
    Ok(tokens)
}

/// How deep parentheses and `not` may nest. Real rules use three or four levels; the bound keeps the
/// recursive parser (and the recursive matcher and `Drop` of the tree) far from the stack's end.
pub const MAX_NESTING: usize = 64;

struct Parser<'s, 'n> {
    tokens: Vec<Token<'s>>,
    pos: usize,
    text: &'s str,
    names: &'n [String],
    /// Parentheses and `not`s open around the token being parsed.
    depth: usize,
}

/// Parses `text` against the rule's selection names (in order; indexes refer to this slice).
pub fn parse_condition(text: &str, names: &[String]) -> Result<Condition, SigmaErrorKind> {
    // Checked before tokenising: aggregations use characters (`>`, `,`) the condition language has not.
    if text.contains('|') {
        return Err(SigmaErrorKind::Unsupported(format!(
            "aggregation in condition `{text}` (the `| count() ...` syntax); use a correlation rule engine"
        )));
    }
    let tokens = tokenize(text)?;
    if tokens.is_empty() {
        return Err(SigmaErrorKind::Invalid("condition is empty".into()));
    }
    let mut parser = Parser {
        tokens,
        pos: 0,
        text,
        names,
        depth: 0,
    };
    let cond = parser.or_expr()?;
    if let Some(extra) = parser.tokens.get(parser.pos) {
        return Err(parser.error(&format!("unexpected {}", describe(extra))));
    }
    Ok(cond)
}

fn describe(token: &Token<'_>) -> String {
    match token {
        Token::LParen => "`(`".into(),
        Token::RParen => "`)`".into(),
        Token::And => "`and`".into(),
        Token::Or => "`or`".into(),
        Token::Not => "`not`".into(),
        Token::Of => "`of`".into(),
        Token::All => "`all`".into(),
        Token::Them => "`them`".into(),
        Token::Count(n) => format!("`{n}`"),
        Token::Ident(s) => format!("`{s}`"),
        Token::Pipe => "`|`".into(),
    }
}

impl<'s> Parser<'s, '_> {
    fn error(&self, what: &str) -> SigmaErrorKind {
        SigmaErrorKind::Invalid(format!(
            "condition `{}`: {what} (token {})",
            self.text,
            self.pos + 1
        ))
    }

    fn peek(&self) -> Option<&Token<'s>> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token<'s>> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn or_expr(&mut self) -> Result<Condition, SigmaErrorKind> {
        let mut items = vec![self.and_expr()?];
        while self.peek() == Some(&Token::Or) {
            self.pos += 1;
            items.push(self.and_expr()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Condition::Or(items)
        })
    }

    fn and_expr(&mut self) -> Result<Condition, SigmaErrorKind> {
        let mut items = vec![self.not_expr()?];
        while self.peek() == Some(&Token::And) {
            self.pos += 1;
            items.push(self.not_expr()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Condition::And(items)
        })
    }

    /// Enters one level of nesting (a parenthesis or a `not`), refusing to go past [`MAX_NESTING`].
    fn nest<T>(
        &mut self,
        parse: impl FnOnce(&mut Self) -> Result<T, SigmaErrorKind>,
    ) -> Result<T, SigmaErrorKind> {
        if self.depth >= MAX_NESTING {
            // The whole text may be megabytes: name the limit, not the condition.
            return Err(SigmaErrorKind::Invalid(format!(
                "condition nests parentheses and `not` more than {MAX_NESTING} deep (at token {})",
                self.pos + 1
            )));
        }
        self.depth += 1;
        let result = parse(self);
        self.depth -= 1;
        result
    }

    fn not_expr(&mut self) -> Result<Condition, SigmaErrorKind> {
        if self.peek() == Some(&Token::Not) {
            self.pos += 1;
            return self.nest(|p| Ok(Condition::Not(Box::new(p.not_expr()?))));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Condition, SigmaErrorKind> {
        match self.next() {
            Some(Token::LParen) => {
                let inner = self.nest(Self::or_expr)?;
                match self.next() {
                    Some(Token::RParen) => Ok(inner),
                    Some(other) => {
                        Err(self.error(&format!("expected `)`, found {}", describe(&other))))
                    }
                    None => Err(self.error("missing `)`")),
                }
            }
            Some(Token::Count(n)) => self.quantified(Quantifier::AtLeast(n)),
            Some(Token::All) => self.quantified(Quantifier::All),
            Some(Token::Ident(name)) => match self.names.iter().position(|n| n == name) {
                Some(index) => Ok(Condition::Selection(index)),
                None => Err(self.error(&format!(
                    "unknown selection `{name}` (defined: {})",
                    self.names.join(", ")
                ))),
            },
            Some(other) => Err(self.error(&format!("unexpected {}", describe(&other)))),
            None => Err(self.error("unexpected end")),
        }
    }

    fn quantified(&mut self, quantifier: Quantifier) -> Result<Condition, SigmaErrorKind> {
        match self.next() {
            Some(Token::Of) => {}
            Some(other) => {
                return Err(self.error(&format!("expected `of`, found {}", describe(&other))))
            }
            None => return Err(self.error("expected `of`")),
        }
        let targets: Vec<usize> = match self.next() {
            // `them` is every selection except those whose name starts with `_` (spec).
            Some(Token::Them) => (0..self.names.len())
                .filter(|&i| !self.names[i].starts_with('_'))
                .collect(),
            Some(Token::Ident(pattern)) => {
                let found: Vec<usize> = (0..self.names.len())
                    .filter(|&i| glob_match(pattern, &self.names[i]))
                    .collect();
                if found.is_empty() {
                    return Err(self.error(&format!("`{pattern}` matches no selection")));
                }
                found
            }
            Some(other) => {
                return Err(self.error(&format!(
                    "expected a selection pattern or `them`, found {}",
                    describe(&other)
                )))
            }
            None => return Err(self.error("expected a selection pattern or `them`")),
        };
        Ok(match quantifier {
            Quantifier::All => Condition::All(targets),
            Quantifier::AtLeast(0) => return Err(self.error("`0 of` can never be useful")),
            Quantifier::AtLeast(n) => Condition::AtLeast(n, targets),
        })
    }
}

enum Quantifier {
    AtLeast(usize),
    All,
}

/// Selection-name patterns: `*` matches any run of characters, everything else is literal (the tokenizer
/// lets no `?` through). The policy engine's glob backtracks only to the last `*`, so a hostile
/// `a*a*a*...b*` costs at most name length times pattern length, never exponential time.
fn glob_match(pattern: &str, name: &str) -> bool {
    trailguard_policy::glob::glob_match(pattern.as_bytes(), name.as_bytes(), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn precedence_or_and_not() {
        let n = names(&["a", "b", "c"]);
        let c = parse_condition("a or b and not c", &n).unwrap();
        assert_eq!(
            c,
            Condition::Or(vec![
                Condition::Selection(0),
                Condition::And(vec![
                    Condition::Selection(1),
                    Condition::Not(Box::new(Condition::Selection(2)))
                ])
            ])
        );
    }

    #[test]
    fn parentheses_group() {
        let n = names(&["a", "b", "c"]);
        let c = parse_condition("(a or b) and c", &n).unwrap();
        assert_eq!(
            c,
            Condition::And(vec![
                Condition::Or(vec![Condition::Selection(0), Condition::Selection(1)]),
                Condition::Selection(2)
            ])
        );
    }

    #[test]
    fn quantifiers_and_patterns() {
        let n = names(&["selection_a", "selection_b", "filter_x", "_hidden"]);
        assert_eq!(
            parse_condition("1 of selection_*", &n).unwrap(),
            Condition::AtLeast(1, vec![0, 1])
        );
        assert_eq!(
            parse_condition("all of filter_*", &n).unwrap(),
            Condition::All(vec![2])
        );
        assert_eq!(
            parse_condition("all of them", &n).unwrap(),
            Condition::All(vec![0, 1, 2])
        );
        assert_eq!(
            parse_condition("1 of them", &n).unwrap(),
            Condition::AtLeast(1, vec![0, 1, 2])
        );
        assert_eq!(
            parse_condition("not 1 of filter*", &n).unwrap(),
            Condition::Not(Box::new(Condition::AtLeast(1, vec![2])))
        );
        assert_eq!(
            parse_condition("2 of them", &n).unwrap(),
            Condition::AtLeast(2, vec![0, 1, 2])
        );
    }

    #[test]
    fn keywords_are_case_insensitive() {
        let n = names(&["a", "b"]);
        assert_eq!(
            parse_condition("a AND NOT b", &n).unwrap(),
            Condition::And(vec![
                Condition::Selection(0),
                Condition::Not(Box::new(Condition::Selection(1)))
            ])
        );
    }

    #[test]
    fn malformed_conditions_give_clear_errors() {
        let n = names(&["selection", "filter"]);
        let cases = [
            ("selection and", "unexpected end"),
            ("selection or or filter", "unexpected `or`"),
            ("(selection", "missing `)`"),
            ("selection)", "unexpected `)`"),
            ("selektion", "unknown selection `selektion`"),
            ("1 of nothing_*", "matches no selection"),
            ("all selection", "expected `of`"),
            ("selection | count() > 5", "aggregation"),
            ("selection & filter", "unexpected character `&`"),
            ("", "empty"),
            ("0 of them", "`0 of`"),
        ];
        for (text, expected) in cases {
            let err = parse_condition(text, &n).unwrap_err().to_string();
            assert!(
                err.contains(expected),
                "`{text}` gave `{err}`, wanted `{expected}`"
            );
        }
    }

    #[test]
    fn glob_matches_selection_names() {
        assert!(glob_match("filter*", "filter1"));
        assert!(glob_match("filter_main_*", "filter_main_x"));
        assert!(!glob_match("filter_main_*", "filter_optional_x"));
        assert!(glob_match("*", ""));
        assert!(glob_match("sel*_a", "selection_a"));
    }
}
