//! A file on disk. Its encoding is sniffed from its content, so a gzip file named `.json` still reads.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::Source;

/// A file on disk, opened when the scan reaches it.
#[derive(Debug, Clone)]
pub struct FileSource {
    path: PathBuf,
    size: Option<u64>,
}

impl FileSource {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let size = std::fs::metadata(&path).ok().map(|m| m.len());
        FileSource { path, size }
    }

    /// A named pipe or device (`<(zcat ...)`, `/dev/stdin`): no size, so it is read as a stream and
    /// split across workers.
    pub fn stream(path: impl Into<PathBuf>) -> Self {
        FileSource {
            path: path.into(),
            size: None,
        }
    }

    /// A file whose size is already known (from a directory walk).
    pub fn with_size(path: impl Into<PathBuf>, size: u64) -> Self {
        FileSource {
            path: path.into(),
            size: Some(size),
        }
    }
}

impl Source for FileSource {
    fn name(&self) -> &Path {
        &self.path
    }

    fn size_hint(&self) -> Option<u64> {
        self.size
    }

    fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(File::open(&self.path)?))
    }
}
