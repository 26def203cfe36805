//! Turns command-line inputs into sources: files as given, directories walked recursively (the S3
//! layout `AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/` or any other), `-` for stdin.
//!
//! In a directory, a file is read when its name looks like a log (`.json`, `.jsonl`, `.ndjson`, `.gz`)
//! or, having no extension, its first bytes look like JSON or gzip; other files (README, LICENSE) are
//! counted as ignored. A file named on the command line is always read and judged by its content.
//! CloudTrail digest files (`CloudTrail-Digest` in the path) are skipped and counted without opening.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use super::{FileSource, ReaderSource, Source};
use crate::error::{InputError, ScanError, SkipReason};

/// The result of discovery.
#[derive(Default)]
pub struct Discovered {
    /// Inputs to read, in a stable order (arguments in order, directory entries sorted by name).
    pub sources: Vec<Box<dyn Source>>,
    /// Digest files skipped by their path.
    pub digest_files: Vec<PathBuf>,
    /// Files in walked directories that are not logs.
    pub ignored: u64,
    /// Inputs that could not be listed or opened.
    pub errors: Vec<InputError>,
}

const LOG_SUFFIXES: &[&str] = &[".json", ".jsonl", ".ndjson", ".gz", ".json.gz"];

/// Expands `inputs` (files, directories, `-`) into sources.
pub fn discover(inputs: &[PathBuf]) -> Result<Discovered, ScanError> {
    if inputs.is_empty() {
        return Err(ScanError::NoInputs);
    }
    let mut found = Discovered::default();
    let mut stdin_seen = false;
    for input in inputs {
        if input.as_os_str() == "-" {
            if stdin_seen {
                return Err(ScanError::StdinTwice);
            }
            stdin_seen = true;
            found.sources.push(Box::new(ReaderSource::stdin()));
            continue;
        }
        match std::fs::metadata(input) {
            Ok(meta) if meta.is_dir() => walk_dir(input, &mut found),
            Ok(meta) => {
                if is_digest_path(input) {
                    found.digest_files.push(input.clone());
                } else if meta.is_file() {
                    found
                        .sources
                        .push(Box::new(FileSource::with_size(input, meta.len())));
                } else {
                    found.sources.push(Box::new(FileSource::stream(input)));
                }
            }
            Err(err) => found.errors.push(InputError::file(
                input,
                SkipReason::Unreadable,
                format!("cannot read input: {err}"),
            )),
        }
    }
    Ok(found)
}

fn walk_dir(dir: &Path, found: &mut Discovered) {
    let walker = WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !is_hidden(e.file_name()));
    for entry in walker {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                let path = err.path().unwrap_or(dir).to_path_buf();
                found.errors.push(InputError::file(
                    path,
                    SkipReason::Unreadable,
                    format!("cannot list directory entry: {err}"),
                ));
                continue;
            }
        };
        let kind = entry.file_type();
        if kind.is_dir() {
            continue;
        }
        if !kind.is_file() {
            // Opening a FIFO blocks until a writer comes; a device may never end. Counted, not read.
            found.errors.push(InputError::file(
                entry.path(),
                SkipReason::NotRegularFile,
                format!("skipped: {}, not a regular file", special_kind(&kind)),
            ));
            continue;
        }
        let path = entry.path();
        if is_digest_path(path) {
            found.digest_files.push(path.to_path_buf());
            continue;
        }
        if !looks_like_log(path) {
            found.ignored += 1;
            continue;
        }
        let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
        found
            .sources
            .push(Box::new(FileSource::with_size(path, size)));
    }
}

/// What a non-regular directory entry is, for the warning.
fn special_kind(kind: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_block_device() || kind.is_char_device() {
            return "a device";
        }
    }
    let _ = kind;
    "a special file"
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.to_str().is_some_and(|n| n.starts_with('.'))
}

/// CloudTrail writes digests under `AWSLogs/<acct>/CloudTrail-Digest/` with `CloudTrail-Digest` in
/// the file name as well.
pub fn is_digest_path(path: &Path) -> bool {
    path.to_string_lossy().contains("CloudTrail-Digest")
}

fn looks_like_log(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if LOG_SUFFIXES.iter().any(|s| name.ends_with(s)) {
        return true;
    }
    if path.extension().is_some() {
        return false;
    }
    // No extension: judge by the first byte that is not whitespace.
    let mut head = [0u8; 64];
    let Ok(mut file) = File::open(path) else {
        // Unreadable files are read anyway so that the error is reported, not hidden.
        return true;
    };
    let n = file.read(&mut head).unwrap_or(0);
    let head = &head[..n];
    if head.starts_with(&[0x1f, 0x8b]) {
        return true;
    }
    let head = head.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(head);
    matches!(
        head.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{' | b'[')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(found: &Discovered, root: &Path) -> Vec<String> {
        found
            .sources
            .iter()
            .map(|s| s.name().strip_prefix(root).unwrap().display().to_string())
            .collect()
    }

    #[test]
    fn walks_s3_layout_skipping_digests_and_non_logs() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let day = root.join("AWSLogs/111122223333/CloudTrail/us-east-1/2024/01/02");
        let digest = root.join("AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/01/02");
        std::fs::create_dir_all(&day).unwrap();
        std::fs::create_dir_all(&digest).unwrap();
        std::fs::write(day.join("b.json.gz"), b"\x1f\x8b").unwrap();
        std::fs::write(day.join("a.json"), b"{}").unwrap();
        std::fs::write(day.join("events"), b"  {\"eventName\":1}").unwrap();
        std::fs::write(day.join("LICENSE"), b"MIT License").unwrap();
        std::fs::write(day.join("notes.md"), b"# notes").unwrap();
        std::fs::write(day.join(".hidden.json"), b"{}").unwrap();
        std::fs::write(
            digest.join("111122223333_CloudTrail-Digest_us-east-1_x.json.gz"),
            b"",
        )
        .unwrap();
        let found = discover(&[root.to_path_buf()]).unwrap();
        let prefix = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/01/02/";
        assert_eq!(
            names(&found, root),
            [
                format!("{prefix}a.json"),
                format!("{prefix}b.json.gz"),
                format!("{prefix}events")
            ]
        );
        assert_eq!(found.digest_files.len(), 1);
        assert_eq!(found.ignored, 2);
        assert!(found.errors.is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_in_a_directory_is_counted_with_its_reason_not_opened() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.json"), b"{}").unwrap();
        let fifo = dir.path().join("pipe.json");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let found = discover(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(names(&found, dir.path()), ["a.json"]);
        assert_eq!(found.errors.len(), 1, "{:?}", found.errors);
        assert_eq!(found.errors[0].file, fifo);
        assert_eq!(found.errors[0].reason, SkipReason::NotRegularFile);
        assert!(
            found.errors[0]
                .to_string()
                .contains("a FIFO (named pipe), not a regular file"),
            "{}",
            found.errors[0]
        );
    }

    #[test]
    fn missing_input_is_an_error_not_a_stop() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x.txt"), b"anything").unwrap();
        let missing = dir.path().join("nope.json");
        let explicit = dir.path().join("x.txt");
        let found = discover(&[missing.clone(), explicit.clone()]).unwrap();
        assert_eq!(found.errors.len(), 1);
        assert_eq!(found.errors[0].file, missing);
        assert_eq!(found.errors[0].reason, SkipReason::Unreadable);
        // A file named explicitly is read whatever its extension.
        assert_eq!(found.sources.len(), 1);
        assert_eq!(found.sources[0].name(), explicit);
    }

    #[test]
    fn no_inputs_and_double_stdin_are_scan_errors() {
        assert!(matches!(discover(&[]), Err(ScanError::NoInputs)));
        let dash = PathBuf::from("-");
        assert!(matches!(
            discover(&[dash.clone(), dash]),
            Err(ScanError::StdinTwice)
        ));
    }
}
