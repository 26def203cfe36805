//! Where records come from: input discovery, one file per kind of source, and content sniffing.
//!
//! Every source hands out its bytes as stored through the one [`Source`] trait; [`open_decoded`] then
//! sniffs the content (gzip magic bytes, not the file name) and decompresses multi-member gzip. The
//! pipeline never needs to know which kind of source it reads.
//!
//! Gzip bytes are handed on only once their member passed its CRC check ([`CheckedGz`]): a damaged
//! member's records are never read, so corrupted values cannot become findings (nor replace a good
//! stored one); the read fails instead, naming the member, and the file is reported as damaged. A
//! file cut short is different: what was inflated before the cut is intact (only the check is
//! missing), so it is handed on and the read fails after it. A member larger than
//! [`CHECKED_MEMBER_MAX`] decompressed cannot be held back whole: it streams, and its check still fails
//! the read at its end. A gzip file of known size up to [`WHOLE_GZIP_MAX`] (every CloudTrail log) is
//! read whole and inflated by [`WholeGzip`] under the same contract, twice as fast.
//!
//! - [`file`](mod@file): a file on disk (`.json`, `.json.gz`, JSON lines, anything sniffed as JSON or gzip).
//! - [`reader`]: a one-shot stream, such as stdin (`-`).
//! - [`memory`]: bytes already in memory (tests, data fetched elsewhere).
//! - [`walk`]: turns the command-line inputs into sources, walking directories in the S3 layout.

pub mod file;
pub mod memory;
pub mod reader;
pub mod walk;
mod whole_gzip;

use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

// One member at a time, on purpose: `CheckedGz` checks each member's trailer before handing its bytes on
// and then starts the next member itself, so no member is dropped (clippy.toml bans it elsewhere).
#[allow(clippy::disallowed_types)]
use flate2::bufread::GzDecoder;

pub use file::FileSource;
pub use memory::MemorySource;
pub use reader::ReaderSource;
pub use walk::{discover, Discovered};
pub use whole_gzip::{WholeGzip, WHOLE_GZIP_MAX};

/// A source of CloudTrail bytes.
pub trait Source: Send + Sync {
    /// The name used in messages and finding locations (`-` for stdin).
    fn name(&self) -> &Path;
    /// Size as stored, when known; used for progress and to decide whether to split one input across
    /// workers.
    fn size_hint(&self) -> Option<u64>;
    /// Opens the bytes as stored (maybe compressed). May be called once only for stream sources.
    fn open(&self) -> io::Result<Box<dyn Read + Send>>;
}

/// How the stored bytes are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Plain,
    Gzip,
}

/// An opened source: decoded bytes plus a live count of stored bytes read so far.
pub struct Opened {
    pub reader: Box<dyn Read + Send>,
    pub encoding: Encoding,
    /// Stored (compressed) bytes consumed; read it to report progress and gzip error positions.
    pub stored_bytes: Arc<AtomicU64>,
}

/// Opens a source and sniffs its encoding from the first bytes: gzip (`1f 8b`, any number of
/// concatenated members) or plain text.
pub fn open_decoded(source: &dyn Source) -> io::Result<Opened> {
    let stored_bytes = Arc::new(AtomicU64::new(0));
    let counted = CountingReader {
        inner: source.open()?,
        count: Arc::clone(&stored_bytes),
    };
    let mut counted = counted;
    let head = read_head(&mut counted, 2)?;
    let is_gzip = head.starts_with(&[0x1f, 0x8b]);
    let whole = is_gzip
        && source
            .size_hint()
            .is_some_and(|size| size <= WHOLE_GZIP_MAX);
    let (reader, encoding): (Box<dyn Read + Send>, _) = if whole {
        (whole_gzip(head, counted, &stored_bytes)?, Encoding::Gzip)
    } else if is_gzip {
        let joined = io::Cursor::new(head).chain(counted);
        (
            Box::new(CheckedGz::new(BufReader::new(joined))),
            Encoding::Gzip,
        )
    } else {
        (
            Box::new(io::Cursor::new(head).chain(counted)),
            Encoding::Plain,
        )
    };
    Ok(Opened {
        reader,
        encoding,
        stored_bytes,
    })
}

/// A small gzip file read whole and inflated by [`WholeGzip`]; one that turns out larger than
/// [`WHOLE_GZIP_MAX`] (it grew since it was listed) streams after all. The stored bytes counted while
/// reading are set back: `WholeGzip` counts them a member at a time.
fn whole_gzip(
    head: Vec<u8>,
    counted: CountingReader,
    stored_bytes: &Arc<AtomicU64>,
) -> io::Result<Box<dyn Read + Send>> {
    let mut compressed = head;
    let mut limited = counted.take(WHOLE_GZIP_MAX + 1 - compressed.len() as u64);
    if let Err(err) = limited.read_to_end(&mut compressed) {
        let message = format!("read failed after {} bytes: {err}", compressed.len());
        return Err(io::Error::new(err.kind(), message));
    }
    if compressed.len() as u64 > WHOLE_GZIP_MAX {
        let joined = io::Cursor::new(compressed).chain(limited.into_inner());
        return Ok(Box::new(CheckedGz::new(BufReader::new(joined))));
    }
    stored_bytes.store(0, Ordering::Relaxed);
    Ok(Box::new(WholeGzip::new(
        compressed,
        Arc::clone(stored_bytes),
    )))
}

/// Decompressed bytes of one gzip member held back until its CRC check passed.
pub const CHECKED_MEMBER_MAX: usize = 8 << 20;

/// The first size of the buffer a member inflates into; it doubles as needed (a CloudTrail file's
/// single member is about 1.3 MB inflated).
const FIRST_MEMBER_BUFFER: usize = 256 << 10;

/// Decompresses concatenated gzip members (as `MultiGzDecoder` does), handing out a member's bytes
/// only after its trailer (CRC-32 and length) checked out; see the module doc.
#[allow(clippy::disallowed_types)] // one member at a time; see the `use` above
pub struct CheckedGz<R: BufRead> {
    /// The compressed input between members.
    input: Option<R>,
    /// The member being read, when it is too large to hold back and streams.
    streaming: Option<GzDecoder<R>>,
    /// The member being held back, or handed out once checked.
    member: CheckedMember,
    /// Members read so far (for messages).
    members: u64,
    /// The input ended inside a member: reported once the intact bytes before the cut are read.
    cut: Option<io::Error>,
}

#[allow(clippy::disallowed_types)] // one member at a time; see the `use` above
impl<R: BufRead> CheckedGz<R> {
    pub fn new(input: R) -> Self {
        CheckedGz::continuing(input, 0)
    }

    /// A reader of `input`, the rest of a file whose first `members` were read already (numbered on
    /// from there in messages).
    pub fn continuing(input: R, members: u64) -> Self {
        CheckedGz {
            input: Some(input),
            streaming: None,
            member: CheckedMember::new(),
            members,
            cut: None,
        }
    }

    fn damaged(&self, err: &io::Error) -> io::Error {
        let message = if err.kind() == io::ErrorKind::UnexpectedEof {
            format!("gzip member {} ends early (truncated file)", self.members)
        } else {
            format!(
                "gzip member {} is damaged ({err}); its records were not read",
                self.members
            )
        };
        io::Error::new(err.kind(), message)
    }

    /// Decompresses the next member into `ready`, or starts streaming it when it is too large.
    /// `Ok(false)` at the end of the input.
    fn next_member(&mut self) -> io::Result<bool> {
        let Some(mut input) = self.input.take() else {
            return Ok(false);
        };
        if input.fill_buf()?.is_empty() {
            return Ok(false);
        }
        self.members += 1;
        self.member.clear();
        let mut decoder = GzDecoder::new(input);
        loop {
            let member = &mut self.member;
            if member.filled == member.buffer.len() {
                member.grow();
            }
            match decoder.read(&mut member.buffer[member.filled..]) {
                Ok(0) => break,
                Ok(n) => {
                    member.filled += n;
                    if member.filled >= CHECKED_MEMBER_MAX {
                        self.streaming = Some(decoder);
                        return Ok(true);
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => {
                    self.cut = Some(self.damaged(&err));
                    return Ok(true);
                }
                Err(err) => {
                    self.member.clear();
                    return Err(self.damaged(&err));
                }
            }
        }
        self.input = Some(decoder.into_inner());
        Ok(true)
    }
}

impl<R: BufRead> Read for CheckedGz<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(n) = self.member.hand_out(out) {
                return Ok(n);
            }
            if let Some(decoder) = self.streaming.as_mut() {
                match decoder.read(out) {
                    Ok(0) => {
                        if let Some(decoder) = self.streaming.take() {
                            self.input = Some(decoder.into_inner());
                        }
                    }
                    Ok(n) => return Ok(n),
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                    Err(err) => {
                        self.streaming = None;
                        return Err(self.damaged(&err));
                    }
                }
                continue;
            }
            if let Some(cut) = self.cut.take() {
                return Err(cut);
            }
            if !self.next_member()? {
                return Ok(0);
            }
        }
    }
}

/// A gzip member's checked bytes, `buffer[..filled]`, handed out from `pos`, for [`CheckedGz`] and
/// [`WholeGzip`]. The member inflates straight into `buffer` (no staging copy); the buffer is the
/// thread's, so it keeps its size between members and files and is zeroed only when it grows.
struct CheckedMember {
    buffer: RecycledBuffer,
    filled: usize,
    pos: usize,
}

impl CheckedMember {
    fn new() -> CheckedMember {
        CheckedMember {
            buffer: RecycledBuffer::take(),
            filled: 0,
            pos: 0,
        }
    }

    /// Forgets the last member's bytes (a new member, or a damaged one); the room stays.
    fn clear(&mut self) {
        (self.filled, self.pos) = (0, 0);
    }

    /// Doubles the room, from [`FIRST_MEMBER_BUFFER`] up to [`CHECKED_MEMBER_MAX`]; `false` when it
    /// is that large already.
    fn grow(&mut self) -> bool {
        let grown = (self.buffer.len() * 2).clamp(FIRST_MEMBER_BUFFER, CHECKED_MEMBER_MAX);
        let grew = grown > self.buffer.len();
        self.buffer.resize(grown, 0);
        grew
    }

    /// Copies out as many of the bytes not yet handed out as fit; `None` when all have been.
    fn hand_out(&mut self, out: &mut [u8]) -> Option<usize> {
        if self.pos >= self.filled {
            return None;
        }
        let n = out.len().min(self.filled - self.pos);
        out[..n].copy_from_slice(&self.buffer[self.pos..self.pos + n]);
        self.pos += n;
        Some(n)
    }
}

/// The buffer a gzip member inflates into, lent by the thread for as long as one file is read and
/// given back when it is dropped. A scan reads thousands of CloudTrail files, each one member of about
/// 1.3 MB: a buffer of its own per file grew four times from [`FIRST_MEMBER_BUFFER`], copying and
/// zeroing as it went, which cost a gzip scan about 6% of its CPU.
struct RecycledBuffer(Vec<u8>);

thread_local! {
    /// The largest buffer a [`CheckedGz`] or [`WholeGzip`] of the thread gave back (at most
    /// [`CHECKED_MEMBER_MAX`]).
    static SPARE_MEMBER_BUFFER: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

impl RecycledBuffer {
    fn take() -> RecycledBuffer {
        RecycledBuffer(SPARE_MEMBER_BUFFER.take())
    }
}

impl Drop for RecycledBuffer {
    fn drop(&mut self) {
        let buffer = std::mem::take(&mut self.0);
        // Only the thread's largest buffer is worth keeping; the other is freed as usual.
        if buffer.len() <= CHECKED_MEMBER_MAX {
            // `try_with`: a reader dropped while the thread's locals are torn down just frees its buffer.
            let _ = SPARE_MEMBER_BUFFER.try_with(|spare| {
                let kept = spare.take();
                spare.set(if kept.len() >= buffer.len() {
                    kept
                } else {
                    buffer
                });
            });
        }
    }
}

impl std::ops::Deref for RecycledBuffer {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl std::ops::DerefMut for RecycledBuffer {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

/// Reads up to `n` bytes (fewer only at end of input), retrying short reads from pipes.
fn read_head(reader: &mut impl Read, n: usize) -> io::Result<Vec<u8>> {
    let mut head = vec![0u8; n];
    let mut got = 0;
    while got < n {
        match reader.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    head.truncate(got);
    Ok(head)
}

/// Counts the bytes read through it into a shared counter.
struct CountingReader {
    inner: Box<dyn Read + Send>,
    count: Arc<AtomicU64>,
}

impl Read for CountingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Read, Write};

    use flate2::write::GzEncoder;
    use flate2::Compression;

    use super::{CheckedGz, SPARE_MEMBER_BUFFER};

    /// `bytes` as one gzip member (the readers' tests share it).
    pub(super) fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    fn inflate(compressed: Vec<u8>) -> (Vec<u8>, Option<String>) {
        let mut out = Vec::new();
        let err = CheckedGz::new(Cursor::new(compressed))
            .read_to_end(&mut out)
            .err();
        (out, err.map(|e| e.to_string()))
    }

    /// A gzip file read whole whose read fails part way is reported with how far the read got, not
    /// handed on in part.
    #[test]
    fn a_whole_gzip_file_whose_read_fails_says_how_far_it_got() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("device error"))
            }
        }
        struct HalfReadable(Vec<u8>);
        impl super::Source for HalfReadable {
            fn name(&self) -> &std::path::Path {
                std::path::Path::new("half.json.gz")
            }
            fn size_hint(&self) -> Option<u64> {
                Some(self.0.len() as u64 * 2)
            }
            fn open(&self) -> std::io::Result<Box<dyn Read + Send>> {
                Ok(Box::new(Cursor::new(self.0.clone()).chain(Failing)))
            }
        }
        let head = gzip(b"{\"Records\":[]}")[..10].to_vec();
        let err = super::open_decoded(&HalfReadable(head)).err().unwrap();
        assert_eq!(err.to_string(), "read failed after 10 bytes: device error");
    }

    /// Files read one after another on a thread share its buffer: the second inflates into the room the
    /// first grew, and each hands out exactly its own bytes, never what an earlier, longer file left
    /// behind (nor a damaged member's).
    #[test]
    fn files_read_on_one_thread_share_a_buffer_and_hand_out_only_their_own_bytes() {
        let long: Vec<u8> = (0..3_000_000u32).map(|i| b'a' + (i % 23) as u8).collect();
        assert_eq!(inflate(gzip(&long)), (long.clone(), None));
        let kept = SPARE_MEMBER_BUFFER.take();
        assert!(kept.len() >= long.len(), "the grown buffer is kept");
        let room = kept.as_ptr();
        SPARE_MEMBER_BUFFER.set(kept);

        let mut reader = CheckedGz::new(Cursor::new(gzip(b"short")));
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"short");
        assert_eq!(
            reader.member.buffer.as_ptr(),
            room,
            "the second file reuses the room"
        );
        drop(reader);

        let mut damaged = gzip(&long[..100_000]);
        let crc_at = damaged.len() - 8;
        damaged[crc_at] ^= 0xff;
        let (out, err) = inflate(damaged);
        assert!(out.is_empty(), "a damaged member hands out nothing");
        assert!(err.is_some_and(|e| e.contains("damaged")));
        assert_eq!(inflate(gzip(b"")), (Vec::new(), None));
        assert_eq!(inflate(gzip(b"{}")), (b"{}".to_vec(), None));
    }
}
