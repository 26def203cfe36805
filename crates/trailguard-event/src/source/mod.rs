//! Where records come from: input discovery, one file per kind of source, and content sniffing.
//!
//! Every source hands out its bytes as stored through the one [`Source`] trait; [`open_decoded`] then
//! sniffs the content (gzip magic bytes, not the file name) and decompresses multi-member gzip. The
//! pipeline never needs to know which kind of source it reads.
//!
//! - [`file`](mod@file): a file on disk (`.json`, `.json.gz`, JSON lines, anything sniffed as JSON or gzip).
//! - [`reader`]: a one-shot stream, such as stdin (`-`).
//! - [`memory`]: bytes already in memory (tests, data fetched elsewhere).
//! - [`walk`]: turns the command-line inputs into sources, walking directories in the S3 layout.

pub mod file;
pub mod memory;
pub mod reader;
pub mod walk;

use std::io::{self, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use flate2::read::MultiGzDecoder;

pub use file::FileSource;
pub use memory::MemorySource;
pub use reader::ReaderSource;
pub use walk::{discover, Discovered};

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
    let joined = io::Cursor::new(head).chain(counted);
    let (reader, encoding): (Box<dyn Read + Send>, _) = if is_gzip {
        // MultiGzDecoder buffers its input itself.
        (Box::new(MultiGzDecoder::new(joined)), Encoding::Gzip)
    } else {
        (Box::new(joined), Encoding::Plain)
    };
    Ok(Opened {
        reader,
        encoding,
        stored_bytes,
    })
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
