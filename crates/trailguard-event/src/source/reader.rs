//! A one-shot stream such as stdin (`-`): read once, size unknown, always split across workers.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::Source;

/// A stream that can be opened once. A second `open` is an error rather than silently empty input.
pub struct ReaderSource {
    name: PathBuf,
    reader: Mutex<Option<Box<dyn Read + Send>>>,
}

impl ReaderSource {
    pub fn new(name: impl Into<PathBuf>, reader: impl Read + Send + 'static) -> Self {
        ReaderSource {
            name: name.into(),
            reader: Mutex::new(Some(Box::new(reader))),
        }
    }

    /// Standard input, named `-` in messages.
    pub fn stdin() -> Self {
        ReaderSource::new("-", io::stdin())
    }
}

impl Source for ReaderSource {
    fn name(&self) -> &Path {
        &self.name
    }

    fn size_hint(&self) -> Option<u64> {
        None
    }

    fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        let mut slot = self
            .reader
            .lock()
            .map_err(|_| io::Error::other("stream source lock poisoned"))?;
        slot.take().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("stream `{}` was already read", self.name.display()),
            )
        })
    }
}
