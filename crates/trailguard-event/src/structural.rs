//! Finds where a JSON object or array ends, 64 bytes at a time.
//!
//! Splitting a trail into records and skipping nested values while peeking at a record only need the
//! brackets that lie outside strings. Each 64-byte block is turned into bit masks (quotes, backslashes,
//! opening and closing brackets) with SIMD compares; escaped quotes are removed with carry arithmetic on
//! the backslash runs, the inside of strings is the prefix XOR of the remaining quotes, and the brackets
//! outside strings are counted. A block that cannot close the value (fewer closing brackets than are
//! open) is passed with two popcounts, so the bits are walked one by one only near the end of a value.
//!
//! The scan checks structure only (strings closed, brackets balanced); the parser judges the rest. A
//! backslash escapes the byte after it wherever it stands (outside a string it is invalid JSON, which
//! the parser reports): an escaped quote never opens or closes a string, so the masks need not know
//! where strings are to find the escapes.
//!
//! The splitter's pass over a whole record ([`value_end_hinted`]) also gathers [`TextHints`] from two
//! more masks, so the raw tests every record meets need not search its text again.

/// Bit masks of one 64-byte block: bit `i` stands for byte `i`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Masks {
    quote: u64,
    backslash: u64,
    /// `{` and `[`.
    open: u64,
    /// `}` and `]`.
    close: u64,
    /// `r` and `C`, for [`TextHints::error_code`] (only the splitter's scan reads them; the compiler drops
    /// them from the others).
    small_r: u64,
    capital_c: u64,
}

/// What the splitter's pass over a value saw on the way, for the tests every record meets before any
/// parse ([`crate::peek::RawRecord`]): each `false` is certain, each `true` only a maybe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextHints {
    /// The text holds a backslash (so it may spell characters as escapes).
    pub backslash: bool,
    /// The text may hold `rCode"`, as an `errorCode` key ends; `false` only when it does not.
    pub error_code: bool,
}

impl TextHints {
    /// Nothing known: every test searches the text.
    pub const UNKNOWN: TextHints = TextHints {
        backslash: true,
        error_code: true,
    };
    const NONE: TextHints = TextHints {
        backslash: false,
        error_code: false,
    };

    /// Takes in the bits of one block (or of its part inside the value).
    #[inline(always)]
    fn note(&mut self, backslash: u64, error_code: u64) {
        self.backslash |= backslash != 0;
        self.error_code |= error_code != 0;
    }
}

/// The masks, one byte at a time: the reference the SIMD versions are tested against, and the fallback
/// on processors without them.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn classify_scalar(block: &[u8; 64]) -> Masks {
    let mut m = Masks::default();
    for (i, &b) in block.iter().enumerate() {
        let bit = 1u64 << i;
        match b {
            b'"' => m.quote |= bit,
            b'\\' => m.backslash |= bit,
            b'{' | b'[' => m.open |= bit,
            b'}' | b']' => m.close |= bit,
            b'r' => m.small_r |= bit,
            b'C' => m.capital_c |= bit,
            _ => {}
        }
    }
    m
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Masks, TextHints};
    use std::arch::x86_64::*;

    /// SSE2 is part of x86_64, so this needs no detection. `{`/`[` and `}`/`]` differ only in bit 0x20,
    /// so one OR and one compare finds each pair.
    #[inline(always)]
    pub(super) fn classify_sse2(block: &[u8; 64]) -> Masks {
        let mut m = Masks::default();
        // SAFETY: SSE2 is always available on x86_64; the loads read 16 of the block's 64 bytes.
        unsafe {
            let quote = _mm_set1_epi8(b'"' as i8);
            let backslash = _mm_set1_epi8(b'\\' as i8);
            let case = _mm_set1_epi8(0x20);
            let open = _mm_set1_epi8(b'{' as i8);
            let close = _mm_set1_epi8(b'}' as i8);
            let small_r = _mm_set1_epi8(b'r' as i8);
            let capital_c = _mm_set1_epi8(b'C' as i8);
            for k in 0..4 {
                let v = _mm_loadu_si128(block.as_ptr().add(16 * k).cast());
                let folded = _mm_or_si128(v, case);
                let shift = 16 * k;
                m.quote |= u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, quote)) as u16) << shift;
                m.backslash |=
                    u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, backslash)) as u16) << shift;
                m.open |=
                    u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(folded, open)) as u16) << shift;
                m.close |=
                    u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(folded, close)) as u16) << shift;
                m.small_r |=
                    u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, small_r)) as u16) << shift;
                m.capital_c |=
                    u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, capital_c)) as u16) << shift;
            }
        }
        m
    }

    /// The same with two 32-byte loads. Only inlined into functions compiled for AVX2.
    #[inline(always)]
    pub(super) unsafe fn classify_avx2(block: &[u8; 64]) -> Masks {
        let mut m = Masks::default();
        let quote = _mm256_set1_epi8(b'"' as i8);
        let backslash = _mm256_set1_epi8(b'\\' as i8);
        let case = _mm256_set1_epi8(0x20);
        let open = _mm256_set1_epi8(b'{' as i8);
        let close = _mm256_set1_epi8(b'}' as i8);
        let small_r = _mm256_set1_epi8(b'r' as i8);
        let capital_c = _mm256_set1_epi8(b'C' as i8);
        for k in 0..2 {
            let v = _mm256_loadu_si256(block.as_ptr().add(32 * k).cast());
            let folded = _mm256_or_si256(v, case);
            let shift = 32 * k;
            m.quote |= u64::from(_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, quote)) as u32) << shift;
            m.backslash |=
                u64::from(_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, backslash)) as u32) << shift;
            m.open |=
                u64::from(_mm256_movemask_epi8(_mm256_cmpeq_epi8(folded, open)) as u32) << shift;
            m.close |=
                u64::from(_mm256_movemask_epi8(_mm256_cmpeq_epi8(folded, close)) as u32) << shift;
            m.small_r |=
                u64::from(_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, small_r)) as u32) << shift;
            m.capital_c |=
                u64::from(_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, capital_c)) as u32) << shift;
        }
        m
    }

    /// Whether [`container_end_avx2`] may run: every feature it is compiled with. Asked on every
    /// split and skip, so the four detections are made once.
    pub(super) fn has_avx2_kit() -> bool {
        static KIT: std::sync::LazyLock<bool> = std::sync::LazyLock::new(|| {
            std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("pclmulqdq")
                && std::arch::is_x86_feature_detected!("popcnt")
                && std::arch::is_x86_feature_detected!("bmi1")
        });
        *KIT
    }

    /// The prefix XOR of `bits` (bit `i` of the result is the XOR of bits `0..=i`) in one carry-less
    /// multiplication by all ones. Only inlined into functions compiled with PCLMULQDQ.
    #[inline(always)]
    pub(super) unsafe fn prefix_xor_clmul(bits: u64) -> u64 {
        let product = _mm_clmulepi64_si128(_mm_set_epi64x(0, bits as i64), _mm_set1_epi8(-1), 0);
        _mm_cvtsi128_si64(product) as u64
    }

    /// Compiled with the instructions its inner loop wants besides AVX2: a hardware popcount and
    /// trailing-zero count (without `popcnt`, `count_ones` is a dozen shifts and masks) and the
    /// carry-less multiply for the string mask. Call only when [`has_avx2_kit`] says so.
    #[target_feature(enable = "avx2,pclmulqdq,popcnt,bmi1")]
    pub(super) unsafe fn container_end_avx2<const HINTS: bool>(
        buf: &[u8],
        start: usize,
        depth: usize,
        hints: &mut TextHints,
    ) -> Option<usize> {
        super::container_end_with::<HINTS>(
            buf,
            start,
            depth,
            |b| unsafe { classify_avx2(b) },
            |q| unsafe { prefix_xor_clmul(q) },
            hints,
        )
    }

    pub(super) fn container_end_sse2<const HINTS: bool>(
        buf: &[u8],
        start: usize,
        depth: usize,
        hints: &mut TextHints,
    ) -> Option<usize> {
        super::container_end_with::<HINTS>(
            buf,
            start,
            depth,
            classify_sse2,
            super::prefix_xor_shifts,
            hints,
        )
    }
}

/// String state carried from one block to the next.
#[derive(Debug, Default, Clone, Copy)]
struct Strings {
    /// All ones when the previous block ended inside a string.
    inside: u64,
    /// 1 when the previous block ended with an odd run of backslashes (its next byte is escaped).
    escape_carry: u64,
}

const EVEN_BITS: u64 = 0x5555_5555_5555_5555;

impl Strings {
    /// The bytes of this block that a backslash escapes.
    #[inline(always)]
    fn escaped(&mut self, backslash: u64) -> u64 {
        if backslash == 0 && self.escape_carry == 0 {
            return 0;
        }
        // A backslash escaped by the previous block's last one starts no escape of its own.
        let backslash = backslash & !self.escape_carry;
        let follows = (backslash << 1) | self.escape_carry;
        // Runs of backslashes: the bytes right after a run escape where the run has odd length. Adding
        // the run starts on odd positions to the backslashes carries through each run; comparing the
        // parity of where a run ends with where it started tells odd from even.
        let odd_starts = backslash & !EVEN_BITS & !follows;
        let (carried, overflow) = odd_starts.overflowing_add(backslash);
        self.escape_carry = u64::from(overflow);
        let inverted = carried << 1;
        (EVEN_BITS ^ inverted) & follows
    }

    /// Marks the bytes inside strings (the opening quote included, the closing one not), from the
    /// prefix XOR of the block's unescaped quotes.
    #[inline(always)]
    fn inside(&mut self, quotes_prefix_xor: u64) -> u64 {
        let inside = quotes_prefix_xor ^ self.inside;
        // Broadcast the last bit: still inside a string at the block's end?
        self.inside = ((inside as i64) >> 63) as u64;
        inside
    }
}

/// The prefix XOR of `bits` (bit `i` of the result is the XOR of bits `0..=i`), by doubling shifts.
#[inline(always)]
fn prefix_xor_shifts(bits: u64) -> u64 {
    let mut x = bits;
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// The index just past the bracket that closes the value, scanning from `start` (outside any string)
/// with `depth` brackets already open before it. With `depth == 0`, `buf[start]` is the value's own
/// opening bracket. `None` when `buf` ends first.
pub(crate) fn container_end(buf: &[u8], start: usize, depth: usize) -> Option<usize> {
    let mut unused = TextHints::UNKNOWN;
    dispatch::<false>(buf, start, depth, &mut unused)
}

/// [`container_end`] of a value starting at `start`, and what the same pass saw in the value's text
/// ([`TextHints`]): the splitter's scan of each record.
pub(crate) fn value_end_hinted(buf: &[u8], start: usize) -> Option<(usize, TextHints)> {
    let mut hints = TextHints::NONE;
    let end = dispatch::<true>(buf, start, 0, &mut hints)?;
    Some((end, hints))
}

#[inline(always)]
fn dispatch<const HINTS: bool>(
    buf: &[u8],
    start: usize,
    depth: usize,
    hints: &mut TextHints,
) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        if x86::has_avx2_kit() {
            // SAFETY: the processor has every feature the function is compiled with (checked just
            // above).
            return unsafe { x86::container_end_avx2::<HINTS>(buf, start, depth, hints) };
        }
        x86::container_end_sse2::<HINTS>(buf, start, depth, hints)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        container_end_with::<HINTS>(buf, start, depth, classify_scalar, prefix_xor_shifts, hints)
    }
}

/// The bytes of a block that may end an `errorCode` key: a `C` after an `r` (the previous block's last
/// byte carried in `r_before`) and before a quote four bytes on. A `C` in the last four bytes, whose
/// quote would be in the next block, counts as a maybe.
#[inline(always)]
fn error_code_ends(m: &Masks, r_before: u64) -> u64 {
    m.capital_c & ((m.small_r << 1) | (r_before >> 63)) & ((m.quote >> 4) | (0xF << 60))
}

#[inline(always)]
fn container_end_with<const HINTS: bool>(
    buf: &[u8],
    start: usize,
    mut depth: usize,
    classify: impl Fn(&[u8; 64]) -> Masks,
    prefix_xor: impl Fn(u64) -> u64,
    hints: &mut TextHints,
) -> Option<usize> {
    let mut strings = Strings::default();
    let mut pos = start;
    let mut tail = [b' '; 64];
    let mut r_before = 0u64;
    while pos < buf.len() {
        let block: &[u8; 64] = match buf.get(pos..pos + 64) {
            Some(b) => b.try_into().ok()?,
            None => {
                // The last, partial block, padded with spaces (which are never structural).
                let rest = &buf[pos..];
                tail[..rest.len()].copy_from_slice(rest);
                tail[rest.len()..].fill(b' ');
                &tail
            }
        };
        let m = classify(block);
        // What the hints would take in from this block: all of it unless the value ends inside.
        let (backslash, code) = if HINTS {
            let code = error_code_ends(&m, r_before);
            r_before = m.small_r;
            (m.backslash, code)
        } else {
            (0, 0)
        };
        let escaped = strings.escaped(m.backslash);
        let inside = strings.inside(prefix_xor(m.quote & !escaped));
        let open = m.open & !inside;
        let close = m.close & !inside;
        let closes = close.count_ones() as usize;
        if closes < depth {
            // This block cannot bring the depth to zero.
            depth = depth + open.count_ones() as usize - closes;
        } else {
            let mut bits = open | close;
            while bits != 0 {
                let i = bits.trailing_zeros();
                let bit = 1u64 << i;
                if open & bit != 0 {
                    depth += 1;
                } else {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        let end = pos + i as usize + 1;
                        if HINTS {
                            // The value's own bytes only: up to and including the closing bracket.
                            let own = u64::MAX >> (63 - i);
                            hints.note(backslash & own, code & own);
                        }
                        return (end <= buf.len()).then_some(end);
                    }
                }
                bits &= bits - 1;
            }
        }
        if HINTS {
            hints.note(backslash, code);
        }
        pos += 64;
    }
    None
}

/// From inside a string starting at `i`, the index just past its closing quote; `None` when `buf` ends
/// first. Record strings are short, so this looks at 16 bytes at a time without a call into a search
/// routine (whose set-up costs more than the search on a 20-byte string).
#[inline]
pub(crate) fn string_end(buf: &[u8], i: usize) -> Option<usize> {
    string_end_plain(buf, i).map(|(end, _)| end)
}

/// [`string_end`], and whether the string is plain: ASCII without a backslash, so that its bytes are
/// the text it spells (found in the same pass).
#[inline]
pub(crate) fn string_end_plain(buf: &[u8], mut i: usize) -> Option<(usize, bool)> {
    let mut plain = true;
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        while i + 16 <= buf.len() {
            // SAFETY: SSE2 is part of x86_64; the load reads buf[i..i + 16], in bounds (checked above).
            let (hits, high) = unsafe {
                let v = _mm_loadu_si128(buf.as_ptr().add(i).cast());
                let hits = _mm_or_si128(
                    _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8)),
                    _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8)),
                );
                (_mm_movemask_epi8(hits) as u32, _mm_movemask_epi8(v) as u32)
            };
            if hits == 0 {
                plain &= high == 0;
                i += 16;
                continue;
            }
            let first = hits.trailing_zeros();
            plain &= high & ((1u32 << first) - 1) == 0;
            let at = i + first as usize;
            if buf[at] == b'"' {
                return Some((at + 1, plain));
            }
            plain = false;
            i = at + 2;
        }
    }
    while i < buf.len() {
        match buf[i] {
            b'"' => return Some((i + 1, plain)),
            b'\\' => {
                plain = false;
                i += 2;
            }
            b => {
                plain &= b.is_ascii();
                i += 1;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The obvious byte-at-a-time answer.
    fn reference(buf: &[u8], start: usize, mut depth: usize) -> Option<usize> {
        let mut i = start;
        let mut in_string = false;
        while i < buf.len() {
            let b = buf[i];
            if b == b'\\' {
                // The next byte is escaped, in a string or not (outside one it is invalid anyway): it
                // neither ends a string nor escapes, but outside a string a bracket still counts.
                i += 1;
                if !in_string && i < buf.len() {
                    match buf[i] {
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                return Some(i + 1);
                            }
                        }
                        _ => {}
                    }
                }
                i += 1;
                continue;
            }
            if in_string {
                if b == b'"' {
                    in_string = false;
                }
            } else {
                match b {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
            }
            i += 1;
        }
        None
    }

    fn all_versions(buf: &[u8], start: usize, depth: usize) -> Vec<Option<usize>> {
        let mut hints = TextHints::UNKNOWN;
        let mut out = vec![
            container_end(buf, start, depth),
            container_end_with::<false>(
                buf,
                start,
                depth,
                classify_scalar,
                prefix_xor_shifts,
                &mut hints,
            ),
        ];
        #[cfg(target_arch = "x86_64")]
        {
            out.push(x86::container_end_sse2::<false>(
                buf, start, depth, &mut hints,
            ));
            if x86::has_avx2_kit() {
                out.push(unsafe {
                    x86::container_end_avx2::<false>(buf, start, depth, &mut hints)
                });
            }
        }
        out
    }

    fn check(text: &[u8], start: usize, depth: usize) {
        let want = reference(text, start, depth);
        for (v, got) in all_versions(text, start, depth).into_iter().enumerate() {
            assert_eq!(
                got,
                want,
                "version {v} on {:?} from {start}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn both_prefix_xors_agree_with_the_bit_by_bit_one() {
        let by_bits = |bits: u64| {
            let mut acc = 0u64;
            let mut out = 0u64;
            for i in 0..64 {
                acc ^= (bits >> i) & 1;
                out |= acc << i;
            }
            out
        };
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut cases = vec![0, 1, u64::MAX, 1 << 63, 0b1001, 0x8000_0000_0000_0001];
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            cases.push(x);
            cases.push(x & x.rotate_left(7) & x.rotate_left(19));
        }
        for bits in cases {
            assert_eq!(prefix_xor_shifts(bits), by_bits(bits), "{bits:#x}");
            #[cfg(target_arch = "x86_64")]
            if x86::has_avx2_kit() {
                assert_eq!(
                    unsafe { x86::prefix_xor_clmul(bits) },
                    by_bits(bits),
                    "{bits:#x}"
                );
            }
        }
    }

    #[test]
    fn escapes_and_brackets_in_strings_at_every_block_offset() {
        let pieces = [
            r#"{"a":"}]"}"#,
            r#"{"a":"\"}"}"#,
            r#"{"a":"\\"}"#,
            r#"{"a":"\\\"}\\"}"#,
            r#"{"a":["x",{"b":"\\\\\\"}]}"#,
            r#"[1,[2,[3]],"]"]"#,
            r#"{"k\"ey":{"x":"\u0022"}}"#,
        ];
        for piece in pieces {
            // Shift the value across block boundaries, with backslash runs just before them.
            for pad in 0..130 {
                let mut text = vec![b' '; pad];
                text.extend_from_slice(piece.as_bytes());
                text.extend_from_slice(br#" ,{"after":"}"}"#);
                check(&text, pad, 0);
                let end = reference(&text, pad, 0).unwrap();
                assert_eq!(&text[pad..end], piece.as_bytes(), "pad {pad}");
            }
        }
    }

    #[test]
    fn long_backslash_runs_across_blocks() {
        for run in 0..140 {
            for pad in [0usize, 1, 31, 62, 63] {
                let mut text = vec![b'{', b'"', b'a', b'"', b':', b'"'];
                text.extend(std::iter::repeat_n(b'x', pad));
                text.extend(std::iter::repeat_n(b'\\', run));
                text.extend_from_slice(b"\"}\"}");
                check(&text, 0, 0);
            }
        }
    }

    #[test]
    fn unfinished_values_and_open_depth() {
        check(br#"{"a":{"b":1}"#, 0, 0);
        check(br#"{"a":"}"#, 0, 0);
        check(br#""x":1}],"y""#, 0, 2);
        check(br#"1}"#, 0, 1);
        check(b"", 0, 0);
    }

    #[test]
    fn agrees_with_the_reference_on_real_shaped_records_and_damaged_copies() {
        let start = chrono::DateTime::from_timestamp(1_709_251_200, 0).unwrap();
        let mut synth = crate::synth::Synth::new(11, start);
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..400 {
            let text = synth.next_record().into_bytes();
            check(&text, 0, 0);
            assert_eq!(container_end(&text, 0, 0), Some(text.len()));
            // Damage: flip bytes into structural characters at pseudo-random places.
            let mut damaged = text.clone();
            for _ in 0..4 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let at = (seed as usize) % damaged.len();
                damaged[at] = b"\"\\{}[]"[(seed >> 32) as usize % 6];
            }
            check(&damaged, 0, 0);
        }
    }

    /// Every kernel's hints about a value, from the splitter's pass.
    fn all_hints(buf: &[u8]) -> Vec<Option<(usize, TextHints)>> {
        fn run(end: impl FnOnce(&mut TextHints) -> Option<usize>) -> Option<(usize, TextHints)> {
            let mut hints = TextHints::NONE;
            end(&mut hints).map(|end| (end, hints))
        }
        let mut out = vec![
            value_end_hinted(buf, 0),
            run(|h| container_end_with::<true>(buf, 0, 0, classify_scalar, prefix_xor_shifts, h)),
        ];
        #[cfg(target_arch = "x86_64")]
        {
            out.push(run(|h| x86::container_end_sse2::<true>(buf, 0, 0, h)));
            if x86::has_avx2_kit() {
                out.push(run(|h| unsafe {
                    x86::container_end_avx2::<true>(buf, 0, 0, h)
                }));
            }
        }
        out
    }

    /// The hints' contract, for every kernel: a backslash in the value is reported exactly, and an
    /// `errorCode` key is never missed (`rCode"` in the value sets the hint; a value without `rC`
    /// leaves it unset), wherever the bytes fall against the 64-byte blocks. Bytes after the value
    /// (the next record in the buffer) count for nothing.
    #[test]
    fn hints_report_backslashes_exactly_and_never_miss_an_error_code_key() {
        let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
        let mut cases: Vec<Vec<u8>> = Vec::new();
        for pad in 0..140 {
            let filler = "x".repeat(pad);
            for body in [
                format!(r#"{{"a":"{filler}","errorCode":"AccessDenied"}}"#),
                format!(r#"{{"a":"{filler}","Code":"rC","b":"r","c":"Code"}}"#),
                format!(r#"{{"a":"{filler}rCodex","b":1}}"#),
                format!(r#"{{"a":"{filler}\u0065rrorCode"}}"#),
                format!(r#"{{"a":"{filler}"rCode""}}"#),
                format!(r#"{{"a":"{filler}"}}"#),
            ] {
                cases.push(body.into_bytes());
            }
        }
        let start = chrono::DateTime::from_timestamp(1_709_251_200, 0).unwrap();
        let mut synth = crate::synth::Synth::new(5, start);
        for _ in 0..300 {
            cases.push(synth.next_record().into_bytes());
        }
        let mut saw = (0, 0);
        for value in cases {
            // The next record right behind it, holding everything the hints look for.
            let mut buf = value.clone();
            buf.extend_from_slice(br#",{"errorCode":"\"}"#);
            let backslash = value.contains(&b'\\');
            let key_end = contains(&value, br#"rCode""#);
            saw.0 += usize::from(key_end);
            saw.1 += usize::from(!backslash && !contains(&value, b"rC"));
            for (v, got) in all_hints(&buf).into_iter().enumerate() {
                let text = String::from_utf8_lossy(&value);
                let (end, hints) = got.unwrap_or_else(|| panic!("version {v}: no end in {text}"));
                assert_eq!(end, value.len(), "version {v}: {text}");
                assert_eq!(hints.backslash, backslash, "version {v}: {text}");
                assert!(
                    !key_end || hints.error_code,
                    "version {v} missed the key: {text}"
                );
                if !contains(&value, b"rC") {
                    assert!(!hints.error_code, "version {v}: {text}");
                }
            }
        }
        assert!(
            saw.0 > 400 && saw.1 > 300,
            "both kinds of value were tried: {saw:?}"
        );
    }

    #[test]
    fn string_ends_and_plainness_agree_with_a_byte_loop() {
        fn reference_end(buf: &[u8], mut i: usize) -> Option<usize> {
            while i < buf.len() {
                match buf[i] {
                    b'"' => return Some(i + 1),
                    b'\\' => i += 2,
                    _ => i += 1,
                }
            }
            None
        }
        let pieces: [&[u8]; 7] = [
            b"abc\"",
            b"a\\\"b\"",
            b"\\\\\"",
            b"caf\xc3\xa9\"",
            b"no end",
            b"ends in a backslash \\",
            b"",
        ];
        for piece in pieces {
            for pad in 0..40 {
                let mut text = vec![b'x'; pad];
                text.extend_from_slice(piece);
                text.extend_from_slice(b",\"next\"");
                for start in [0, pad] {
                    let end = reference_end(&text, start);
                    assert_eq!(
                        string_end(&text, start),
                        end,
                        "{:?} from {start}",
                        String::from_utf8_lossy(&text)
                    );
                    if let Some(end) = end {
                        let inner = &text[start..end - 1];
                        assert_eq!(
                            string_end_plain(&text, start).map(|(_, plain)| plain),
                            Some(!inner.iter().any(|&b| b == b'\\' || b >= 0x80)),
                            "{inner:?}"
                        );
                    }
                }
            }
        }
    }
}
