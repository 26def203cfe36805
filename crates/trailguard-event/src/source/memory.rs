//! Bytes already in memory: test inputs, or logs fetched by other means (an S3 `GetObject` body).

use std::io::{self, Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Source;

/// In-memory bytes under a name; can be opened any number of times.
#[derive(Debug, Clone)]
pub struct MemorySource {
    name: PathBuf,
    bytes: Arc<[u8]>,
}

impl MemorySource {
    pub fn new(name: impl Into<PathBuf>, bytes: impl Into<Arc<[u8]>>) -> Self {
        MemorySource {
            name: name.into(),
            bytes: bytes.into(),
        }
    }
}

impl Source for MemorySource {
    fn name(&self) -> &Path {
        &self.name
    }

    fn size_hint(&self) -> Option<u64> {
        Some(self.bytes.len() as u64)
    }

    fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(Cursor::new(Arc::clone(&self.bytes))))
    }
}
