//! A gzip file already whole in memory, inflated a member at a time by libdeflate.
//!
//! CloudTrail delivers each log as one small gzip file (about 140 KB holding 1.3 MB of JSON). For such a
//! file the stream decoder's bookkeeping is wasted: libdeflate inflates a whole member in one call about
//! twice as fast, which is a quarter of a gzip scan. [`WholeGzip`] keeps [`super::CheckedGz`]'s
//! contract: a member's bytes are handed on only after its trailer (CRC-32 and length) checked
//! out, members are numbered the same way, and whatever libdeflate cannot settle in one call (a member
//! damaged, cut short, or larger than [`super::CHECKED_MEMBER_MAX`] inflated) is handed, with the rest of the
//! file, to `CheckedGz`, which then reports it as it always has (and hands on the intact bytes of a
//! file cut short). One difference, by design: libdeflate accepts a few irregular deflate encodings
//! that zlib refuses, when what they decode to passes the member's check; such a member is read here
//! and reported damaged by the stream reader (its test counts how often: a few in a thousand mangled
//! files).
//!
//! The count of stored bytes (progress, error positions) moves a member at a time; once the rest of the
//! file is handed over it is the file's length, which is where a cut file ends.

use std::cell::RefCell;
use std::io::{self, BufReader, Cursor, Read};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::{CheckedGz, CheckedMember, FIRST_MEMBER_BUFFER};

/// The largest gzip file read whole into memory; a larger one streams ([`super::CheckedGz`]).
pub const WHOLE_GZIP_MAX: u64 = 16 << 20;

/// What one call to inflate a member gave.
#[derive(Debug, PartialEq, Eq)]
enum Inflated {
    /// The member inflated and checked out: its length in, and its bytes out.
    Member { read: usize, written: usize },
    /// The member's bytes do not fit the buffer.
    NoRoom,
    /// The member is damaged or cut short.
    Bad,
}

/// One libdeflate decompressor per thread (about 10 KB, its tables kept between files).
struct Decompressor(NonNull<libdeflate_sys::libdeflate_decompressor>);

impl Decompressor {
    fn new() -> Decompressor {
        // SAFETY: the call takes no arguments; a null result (out of memory) is turned into a panic below,
        // as any failed allocation is.
        let raw = unsafe { libdeflate_sys::libdeflate_alloc_decompressor() };
        Decompressor(NonNull::new(raw).expect("libdeflate could not allocate a decompressor"))
    }

    /// Inflates the first gzip member of `input` into `out`.
    fn member(&mut self, input: &[u8], out: &mut [u8]) -> Inflated {
        let (mut read, mut written) = (0usize, 0usize);
        // SAFETY: the decompressor is live (freed only on drop) and used by this thread alone; `input`
        // and `out` are valid for their lengths, which libdeflate never reads or writes past; the two
        // counts are valid places for it to write.
        let result = unsafe {
            libdeflate_sys::libdeflate_gzip_decompress_ex(
                self.0.as_ptr(),
                input.as_ptr().cast(),
                input.len(),
                out.as_mut_ptr().cast(),
                out.len(),
                &raw mut read,
                &raw mut written,
            )
        };
        match result {
            libdeflate_sys::libdeflate_result_LIBDEFLATE_SUCCESS => {
                Inflated::Member { read, written }
            }
            libdeflate_sys::libdeflate_result_LIBDEFLATE_INSUFFICIENT_SPACE => Inflated::NoRoom,
            _ => Inflated::Bad,
        }
    }
}

impl Drop for Decompressor {
    fn drop(&mut self) {
        // SAFETY: allocated by `libdeflate_alloc_decompressor` and freed only here.
        unsafe { libdeflate_sys::libdeflate_free_decompressor(self.0.as_ptr()) }
    }
}

thread_local! {
    static DECOMPRESSOR: RefCell<Decompressor> = RefCell::new(Decompressor::new());
}

/// A gzip file read whole ([`WHOLE_GZIP_MAX`] at most), handing on its checked members' bytes.
pub struct WholeGzip {
    compressed: Vec<u8>,
    /// Where the next member starts in `compressed`.
    next: usize,
    /// Stored bytes consumed, for progress and error positions: the end of the last member read.
    consumed: Arc<AtomicU64>,
    member: CheckedMember,
    members: u64,
    /// From the first member libdeflate could not settle to the end of the file.
    rest: Option<CheckedGz<BufReader<Cursor<Vec<u8>>>>>,
}

impl WholeGzip {
    /// The file's `compressed` bytes; `consumed` is set as its members are read.
    pub fn new(compressed: Vec<u8>, consumed: Arc<AtomicU64>) -> WholeGzip {
        WholeGzip {
            compressed,
            next: 0,
            consumed,
            member: CheckedMember::new(),
            members: 0,
            rest: None,
        }
    }

    /// Inflates the next member into `ready`, or hands the rest of the file to [`CheckedGz`].
    /// `false` at the end of the file.
    fn next_member(&mut self) -> bool {
        let input = &self.compressed[self.next..];
        if input.is_empty() {
            return false;
        }
        self.member.clear();
        if self.member.buffer.len() < FIRST_MEMBER_BUFFER {
            self.member.grow();
        }
        loop {
            let inflated =
                DECOMPRESSOR.with(|d| d.borrow_mut().member(input, &mut self.member.buffer));
            match inflated {
                // A member is at least 18 bytes; `read > 0` keeps the walk moving whatever the library says.
                Inflated::Member { read, written } if read > 0 => {
                    self.members += 1;
                    self.next += read;
                    self.member.filled = written;
                    self.consumed.store(self.next as u64, Ordering::Relaxed);
                    return true;
                }
                Inflated::NoRoom if self.member.grow() => {}
                Inflated::Member { .. } | Inflated::NoRoom | Inflated::Bad => {
                    // The file's bytes move to the stream reader, from this member on: no copy.
                    let end = self.compressed.len() as u64;
                    let mut rest = Cursor::new(std::mem::take(&mut self.compressed));
                    rest.set_position(self.next as u64);
                    self.rest = Some(CheckedGz::continuing(BufReader::new(rest), self.members));
                    self.consumed.store(end, Ordering::Relaxed);
                    return true;
                }
            }
        }
    }
}

impl Read for WholeGzip {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(rest) = self.rest.as_mut() {
                return rest.read(out);
            }
            if let Some(n) = self.member.hand_out(out) {
                return Ok(n);
            }
            if !self.next_member() {
                return Ok(0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::tests::gzip;
    use crate::source::CHECKED_MEMBER_MAX;

    /// What both readers make of `compressed`: the bytes handed on, the error, and (for the whole
    /// reader) the stored bytes counted.
    fn both(compressed: &[u8]) -> [(Vec<u8>, Option<String>); 2] {
        let read = |reader: &mut dyn Read| {
            let mut out = Vec::new();
            let err = reader.read_to_end(&mut out).err().map(|e| e.to_string());
            (out, err)
        };
        let consumed = Arc::new(AtomicU64::new(0));
        let whole = read(&mut WholeGzip::new(compressed.to_vec(), consumed));
        let streamed = read(&mut CheckedGz::new(BufReader::new(Cursor::new(
            compressed.to_vec(),
        ))));
        [whole, streamed]
    }

    fn text(n: usize, seed: u32) -> Vec<u8> {
        (0..n as u32)
            .map(|i| b'a' + ((i.wrapping_mul(seed) >> 3) % 26) as u8)
            .collect()
    }

    /// The whole reader is the stream reader, faster: on single and concatenated members, members
    /// larger than the first buffer and than [`CHECKED_MEMBER_MAX`], damaged members (among good ones)
    /// and files cut at every kind of place, both hand on the same bytes and fail with the same
    /// message.
    #[test]
    fn reads_every_file_exactly_as_the_stream_reader_does() {
        let small = gzip(b"{\"Records\":[]}");
        let mid = gzip(&text(FIRST_MEMBER_BUFFER * 3 + 17, 7));
        let huge = gzip(&text(CHECKED_MEMBER_MAX + 5, 13));
        let mut damaged = gzip(&text(50_000, 3));
        let crc_at = damaged.len() - 8;
        damaged[crc_at] ^= 0x40;
        let mut corrupt_body = gzip(&text(50_000, 5));
        corrupt_body[20] ^= 0xff;
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty member", gzip(b"")),
            ("one member", small.clone()),
            ("grown buffer", mid.clone()),
            ("over the checked limit", huge.clone()),
            (
                "three members",
                [small.clone(), mid.clone(), small.clone()].concat(),
            ),
            (
                "damaged trailer between good members",
                [small.clone(), damaged, small.clone()].concat(),
            ),
            ("damaged body", corrupt_body),
            ("cut in the header", small[..5].to_vec()),
            ("cut in the body", mid[..mid.len() / 2].to_vec()),
            ("cut in the trailer", mid[..mid.len() - 3].to_vec()),
            (
                "cut in the second member",
                [small.clone(), mid[..1000].to_vec()].concat(),
            ),
            (
                "trailing garbage",
                [small.clone(), b"\x1f\x8bxx".to_vec()].concat(),
            ),
        ];
        for (name, compressed) in cases {
            let [whole, streamed] = both(&compressed);
            assert_eq!(whole.1, streamed.1, "{name}: the same error");
            assert!(
                whole.0 == streamed.0,
                "{name}: the same bytes ({} and {})",
                whole.0.len(),
                streamed.0.len()
            );
        }
        // The cases above do read something and do fail: the comparison is not of two empty results.
        assert!(!both(&mid)[0].0.is_empty());
        assert!(both(&mid[..mid.len() / 2])[0].1.is_some());
    }

    /// Hostile bytes: thousands of files made from good ones by flipping bits, cutting, splicing and
    /// appending garbage (a fixed xorshift sequence, so a failure repeats). The whole reader hands on
    /// what the stream reader hands on and fails as it fails, with one exception found by this test:
    /// libdeflate accepts a few deflate encodings that zlib calls corrupt when the bytes they decode to
    /// pass the member's CRC-32 and length check. There the whole reader reads further, and all it
    /// hands on is the original content: a damaged byte is never handed on.
    #[test]
    fn mangled_files_read_as_the_stream_reader_reads_them() {
        let members = [gzip(&text(3_000, 3)), gzip(b""), gzip(&text(70_000, 11))];
        let good = members.concat();
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move |below: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % below as u64) as usize
        };
        let original = [text(3_000, 3), text(70_000, 11)].concat();
        let (mut failed, mut read, mut lenient) = (0, 0, 0);
        for case in 0..3000 {
            let mut bytes = good.clone();
            match case % 4 {
                0 => {
                    for _ in 0..1 + next(4) {
                        let at = next(bytes.len());
                        bytes[at] ^= 1 << next(8);
                    }
                }
                1 => bytes.truncate(next(bytes.len())),
                2 => {
                    let at = next(bytes.len());
                    let from = next(bytes.len());
                    let piece = bytes[from..(from + 64).min(bytes.len())].to_vec();
                    bytes.splice(at..at, piece);
                }
                _ => bytes.extend((0..1 + next(40)).map(|_| next(256) as u8)),
            }
            let [whole, streamed] = both(&bytes);
            if whole != streamed {
                lenient += 1;
                let refused = streamed.1.as_deref().unwrap_or_default();
                assert!(
                    refused.contains("corrupt deflate stream"),
                    "case {case}: {refused}"
                );
                assert!(
                    whole.0.len() > streamed.0.len(),
                    "case {case}: reads further"
                );
                assert!(
                    whole.0.starts_with(&streamed.0),
                    "case {case}: the same start"
                );
                assert!(
                    original.starts_with(&whole.0),
                    "case {case}: only intact bytes"
                );
            }
            failed += usize::from(whole.1.is_some());
            read += usize::from(!whole.0.is_empty());
        }
        // Both kinds of outcome happen: the comparison covers failures and files read at least in part;
        // the lenient ones are a few in a thousand.
        assert!(
            failed > 1000 && read > 1000,
            "{failed} failed, {read} read something"
        );
        assert!(
            lenient < 30,
            "{lenient} read further than the stream reader"
        );
    }

    /// Stored bytes advance a member at a time: after the first of two members, the count is its
    /// length; at the end, the file's.
    #[test]
    fn stored_bytes_advance_with_each_member() {
        let first = gzip(&text(1000, 3));
        let second = gzip(&text(2000, 5));
        let consumed = Arc::new(AtomicU64::new(0));
        let mut reader = WholeGzip::new(
            [first.clone(), second.clone()].concat(),
            Arc::clone(&consumed),
        );
        let mut out = vec![0u8; 1000];
        reader.read_exact(&mut out).unwrap();
        assert_eq!(consumed.load(Ordering::Relaxed), first.len() as u64);
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).unwrap();
        assert_eq!(rest.len(), 2000);
        assert_eq!(
            consumed.load(Ordering::Relaxed),
            (first.len() + second.len()) as u64
        );
    }
}
