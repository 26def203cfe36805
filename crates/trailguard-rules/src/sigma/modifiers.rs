//! Value modifiers (`field|contains|all`): parsed and checked at load, and the value transforms
//! (`base64`, `base64offset`, `windash`, `wide`/`utf16*`) that turn one written value into the strings
//! actually searched for.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::error::SigmaErrorKind;
use super::pattern::SigmaString;

/// How a value is compared with the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    Equals,
    Contains,
    StartsWith,
    EndsWith,
    Re {
        insensitive: bool,
        multi_line: bool,
        dot_all: bool,
    },
    Cidr,
    Exists,
    Compare(CmpOp),
    /// The value names another field; compare with that field's value (`equals`, or with contains etc.).
    FieldRef(RefKind),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Gt,
    Gte,
    Lt,
    Lte,
}

impl CmpOp {
    pub fn holds(self, left: f64, right: f64) -> bool {
        match self {
            CmpOp::Gt => left > right,
            CmpOp::Gte => left >= right,
            CmpOp::Lt => left < right,
            CmpOp::Lte => left <= right,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind {
    Equals,
    Contains,
    StartsWith,
    EndsWith,
}

/// A value transform, applied in the order written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transform {
    Base64,
    Base64Offset,
    Windash,
    Utf16Le,
    Utf16Be,
    /// `utf16`: little-endian with a byte-order mark.
    Utf16Bom,
}

/// Every modifier on one field, checked for conflicts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Modifiers {
    pub kind: MatchKind,
    /// `all`: every value in the list must match (default: any).
    pub all: bool,
    pub cased: bool,
    pub transforms: Vec<Transform>,
}

/// Parses the modifiers after a field name (`["contains", "all"]` for `field|contains|all`).
pub fn parse_modifiers(field: &str, names: &[&str]) -> Result<Modifiers, SigmaErrorKind> {
    let mut kind: Option<MatchKind> = None;
    let mut fieldref = false;
    let mut all = false;
    let mut cased = false;
    let mut transforms = Vec::new();
    let (mut re_i, mut re_m, mut re_s) = (false, false, false);

    let mut set_kind = |new: MatchKind, name: &str| -> Result<(), SigmaErrorKind> {
        match kind {
            Some(_) => Err(SigmaErrorKind::Invalid(format!(
                "field `{field}`: modifier `{name}` conflicts with an earlier comparison modifier"
            ))),
            None => {
                kind = Some(new);
                Ok(())
            }
        }
    };

    for &name in names {
        match name {
            "contains" => set_kind(MatchKind::Contains, name)?,
            "startswith" => set_kind(MatchKind::StartsWith, name)?,
            "endswith" => set_kind(MatchKind::EndsWith, name)?,
            "re" => set_kind(
                MatchKind::Re {
                    insensitive: false,
                    multi_line: false,
                    dot_all: false,
                },
                name,
            )?,
            "i" | "ignorecase" => re_i = true,
            "m" | "multiline" => re_m = true,
            "s" | "dotall" => re_s = true,
            "cidr" => set_kind(MatchKind::Cidr, name)?,
            "exists" => set_kind(MatchKind::Exists, name)?,
            "gt" => set_kind(MatchKind::Compare(CmpOp::Gt), name)?,
            "gte" => set_kind(MatchKind::Compare(CmpOp::Gte), name)?,
            "lt" => set_kind(MatchKind::Compare(CmpOp::Lt), name)?,
            "lte" => set_kind(MatchKind::Compare(CmpOp::Lte), name)?,
            "fieldref" => fieldref = true,
            "all" => all = true,
            "cased" => cased = true,
            "base64" => transforms.push(Transform::Base64),
            "base64offset" => transforms.push(Transform::Base64Offset),
            "windash" => transforms.push(Transform::Windash),
            "wide" | "utf16le" => transforms.push(Transform::Utf16Le),
            "utf16be" => transforms.push(Transform::Utf16Be),
            "utf16" => transforms.push(Transform::Utf16Bom),
            "expand" => {
                return Err(SigmaErrorKind::Unsupported(format!(
                    "field `{field}`: modifier `expand` needs placeholder values, which trailguard does not have"
                )))
            }
            "" => {
                return Err(SigmaErrorKind::Invalid(format!(
                    "field `{field}`: empty modifier (`||`)"
                )))
            }
            other => {
                return Err(SigmaErrorKind::Unsupported(format!(
                    "field `{field}`: unknown modifier `{other}`"
                )))
            }
        }
    }

    let mut kind = kind.unwrap_or(MatchKind::Equals);
    if re_i || re_m || re_s {
        match &mut kind {
            MatchKind::Re {
                insensitive,
                multi_line,
                dot_all,
            } => {
                *insensitive = re_i;
                *multi_line = re_m;
                *dot_all = re_s;
            }
            _ => {
                return Err(SigmaErrorKind::Invalid(format!(
                    "field `{field}`: `i`, `m` and `s` only go with `re`"
                )))
            }
        }
    }
    if fieldref {
        kind = MatchKind::FieldRef(match kind {
            MatchKind::Equals => RefKind::Equals,
            MatchKind::Contains => RefKind::Contains,
            MatchKind::StartsWith => RefKind::StartsWith,
            MatchKind::EndsWith => RefKind::EndsWith,
            _ => {
                return Err(SigmaErrorKind::Invalid(format!(
                "field `{field}`: `fieldref` only combines with contains, startswith or endswith"
            )))
            }
        });
    }
    let string_kind = matches!(
        kind,
        MatchKind::Equals | MatchKind::Contains | MatchKind::StartsWith | MatchKind::EndsWith
    );
    if !transforms.is_empty() && !string_kind {
        return Err(SigmaErrorKind::Invalid(format!(
            "field `{field}`: base64/windash/utf16 modifiers only go with plain, contains, startswith or endswith values"
        )));
    }
    if cased && !(string_kind || matches!(kind, MatchKind::FieldRef(_))) {
        return Err(SigmaErrorKind::Invalid(format!(
            "field `{field}`: `cased` only goes with string comparisons"
        )));
    }
    let encodes = transforms.iter().any(|t| {
        matches!(
            t,
            Transform::Utf16Le | Transform::Utf16Be | Transform::Utf16Bom
        )
    });
    let base64 = transforms
        .iter()
        .any(|t| matches!(t, Transform::Base64 | Transform::Base64Offset));
    if encodes && !base64 {
        return Err(SigmaErrorKind::Invalid(format!(
            "field `{field}`: `wide`/`utf16` must be followed by `base64` or `base64offset` (CloudTrail fields are text)"
        )));
    }
    Ok(Modifiers {
        kind,
        all,
        cased,
        transforms,
    })
}

enum Stage {
    Text(SigmaString),
    Bytes(Vec<u8>),
}

/// Applies the transforms to one written value, giving the strings to search for (before the
/// contains/startswith/endswith wildcards are added).
pub fn apply_transforms(
    field: &str,
    value: SigmaString,
    transforms: &[Transform],
) -> Result<Vec<SigmaString>, SigmaErrorKind> {
    let mut stages = vec![Stage::Text(value)];
    for transform in transforms {
        let mut next = Vec::with_capacity(stages.len());
        for stage in stages {
            match transform {
                Transform::Windash => match stage {
                    Stage::Text(s) => {
                        next.extend(windash_variants(&s).into_iter().map(Stage::Text))
                    }
                    Stage::Bytes(_) => {
                        return Err(SigmaErrorKind::Invalid(format!(
                            "field `{field}`: `windash` must come before `wide`/`utf16`"
                        )))
                    }
                },
                Transform::Utf16Le | Transform::Utf16Be | Transform::Utf16Bom => {
                    let text = plain_text(field, &stage)?;
                    next.push(Stage::Bytes(encode_utf16(&text, *transform)));
                }
                Transform::Base64 => {
                    let bytes = stage_bytes(field, stage)?;
                    next.push(Stage::Text(SigmaString::literal(&STANDARD.encode(bytes))));
                }
                Transform::Base64Offset => {
                    let bytes = stage_bytes(field, stage)?;
                    next.extend(
                        base64_offsets(&bytes)
                            .into_iter()
                            .map(|s| Stage::Text(SigmaString::literal(&s))),
                    );
                }
            }
        }
        stages = next;
    }
    stages
        .into_iter()
        .map(|stage| match stage {
            Stage::Text(s) => Ok(s),
            Stage::Bytes(_) => Err(SigmaErrorKind::Invalid(format!(
                "field `{field}`: encoded bytes need `base64` or `base64offset`"
            ))),
        })
        .collect()
}

fn plain_text(field: &str, stage: &Stage) -> Result<String, SigmaErrorKind> {
    match stage {
        Stage::Text(s) => s.as_plain().ok_or_else(|| {
            SigmaErrorKind::Invalid(format!(
                "field `{field}`: wildcards cannot be encoded (base64/utf16 of `*` or `?` means nothing)"
            ))
        }),
        Stage::Bytes(_) => Err(SigmaErrorKind::Invalid(format!(
            "field `{field}`: value encoded twice"
        ))),
    }
}

fn stage_bytes(field: &str, stage: Stage) -> Result<Vec<u8>, SigmaErrorKind> {
    match stage {
        Stage::Bytes(b) => Ok(b),
        text @ Stage::Text(_) => Ok(plain_text(field, &text)?.into_bytes()),
    }
}

fn encode_utf16(text: &str, transform: Transform) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 2 + 2);
    if transform == Transform::Utf16Bom {
        out.extend_from_slice(&[0xFF, 0xFE]);
    }
    for unit in text.encode_utf16() {
        let bytes = if transform == Transform::Utf16Be {
            unit.to_be_bytes()
        } else {
            unit.to_le_bytes()
        };
        out.extend_from_slice(&bytes);
    }
    out
}

/// The three base64 renderings of `bytes` as it may appear at any offset inside a longer encoded text:
/// encode with 0, 1 and 2 leading filler bytes, then drop the characters the filler and the unknown
/// neighbours influence.
pub fn base64_offsets(bytes: &[u8]) -> Vec<String> {
    const START: [usize; 3] = [0, 2, 3];
    let mut out = Vec::with_capacity(3);
    for shift in 0..3 {
        let mut padded = vec![b' '; shift];
        padded.extend_from_slice(bytes);
        let encoded = STANDARD.encode(&padded);
        // Characters after the value's last full group depend on what follows it in the real text.
        let trim_end = match (bytes.len() + shift) % 3 {
            0 => 0,
            1 => 3,
            _ => 2,
        };
        let end = encoded.len().saturating_sub(trim_end);
        if START[shift] < end {
            out.push(encoded[START[shift]..end].to_owned());
        }
    }
    out.dedup();
    out
}

/// `windash`: a command-line flag may start with `-`, `/`, or the dashes Windows also accepts.
fn windash_variants(value: &SigmaString) -> Vec<SigmaString> {
    const DASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];
    let mut out: Vec<SigmaString> = Vec::with_capacity(DASHES.len());
    for dash in DASHES {
        let variant = value.map_literals(|lit| {
            let mut s = String::with_capacity(lit.len());
            let mut prev_is_boundary = true;
            for c in lit.chars() {
                if prev_is_boundary && (c == '-' || c == '/') {
                    s.push(dash);
                } else {
                    s.push(c);
                }
                prev_is_boundary = c.is_whitespace();
            }
            s
        });
        if !out.contains(&variant) {
            out.push(variant);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mods(list: &[&str]) -> Result<Modifiers, SigmaErrorKind> {
        parse_modifiers("f", list)
    }

    #[test]
    fn parses_kinds_and_flags() {
        assert_eq!(mods(&[]).unwrap().kind, MatchKind::Equals);
        let m = mods(&["contains", "all", "cased"]).unwrap();
        assert_eq!(m.kind, MatchKind::Contains);
        assert!(m.all && m.cased);
        assert_eq!(
            mods(&["re", "i", "s"]).unwrap().kind,
            MatchKind::Re {
                insensitive: true,
                multi_line: false,
                dot_all: true
            }
        );
        assert_eq!(
            mods(&["fieldref", "endswith"]).unwrap().kind,
            MatchKind::FieldRef(RefKind::EndsWith)
        );
        assert_eq!(mods(&["gte"]).unwrap().kind, MatchKind::Compare(CmpOp::Gte));
        assert_eq!(
            mods(&["base64offset", "contains"]).unwrap().transforms,
            vec![Transform::Base64Offset]
        );
    }

    #[test]
    fn rejects_unknown_and_conflicting_modifiers() {
        let cases: [(&[&str], &str); 8] = [
            (&["contians"], "unknown modifier `contains`"),
            (&["contains", "endswith"], "conflicts"),
            (&["i"], "only go with `re`"),
            (&["re", "contains"], "conflicts"),
            (&["cidr", "base64"], "only go with plain"),
            (&["wide"], "must be followed by `base64`"),
            (&["expand"], "placeholder"),
            (&["fieldref", "re"], "only combines"),
        ];
        for (list, expected) in cases {
            let err = mods(list).unwrap_err().to_string();
            let expected = expected.replace("`contains`", "`contians`");
            assert!(err.contains(&expected), "{list:?} gave `{err}`");
        }
    }

    #[test]
    fn base64_and_offsets_match_known_encodings() {
        let out = apply_transforms("f", SigmaString::parse("http"), &[Transform::Base64]).unwrap();
        assert_eq!(out, vec![SigmaString::literal("aHR0cA==")]);
        // The three offsets of "http" as found inside any longer base64 text.
        assert_eq!(base64_offsets(b"http"), vec!["aHR0c", "h0dH", "odHRw"]);
        // Check the offsets against real encodings of longer texts containing the value.
        for prefix in ["", "a", "ab", "abc"] {
            let text = format!("{prefix}http://x");
            let encoded = STANDARD.encode(text.as_bytes());
            assert!(
                base64_offsets(b"http")
                    .iter()
                    .any(|v| encoded.contains(v.as_str())),
                "no offset variant found in {encoded}"
            );
        }
    }

    #[test]
    fn utf16_then_base64() {
        let out = apply_transforms(
            "f",
            SigmaString::parse("ab"),
            &[Transform::Utf16Le, Transform::Base64],
        )
        .unwrap();
        assert_eq!(out, vec![SigmaString::literal(&STANDARD.encode(b"a\0b\0"))]);
        let be = apply_transforms(
            "f",
            SigmaString::parse("ab"),
            &[Transform::Utf16Be, Transform::Base64],
        )
        .unwrap();
        assert_eq!(be, vec![SigmaString::literal(&STANDARD.encode(b"\0a\0b"))]);
    }

    #[test]
    fn encoding_wildcards_is_an_error() {
        let err =
            apply_transforms("f", SigmaString::parse("a*"), &[Transform::Base64]).unwrap_err();
        assert!(
            err.to_string().contains("wildcards cannot be encoded"),
            "{err}"
        );
    }

    #[test]
    fn windash_makes_dash_variants_at_word_starts() {
        let out =
            apply_transforms("f", SigmaString::parse("cmd -c x-y"), &[Transform::Windash]).unwrap();
        let plain: Vec<String> = out.iter().filter_map(|s| s.as_plain()).collect();
        assert_eq!(plain.len(), 5);
        assert!(plain.contains(&"cmd -c x-y".to_owned()));
        assert!(plain.contains(&"cmd /c x-y".to_owned()));
        assert!(plain.contains(&"cmd \u{2013}c x-y".to_owned()));
    }
}
