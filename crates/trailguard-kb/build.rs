//! Embeds every entry under `entries/` into the binary: generates a table of
//! `(relative path, include_str!(absolute path))`, sorted so the build is reproducible.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

fn main() -> io::Result<()> {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let entries_dir = manifest.join("entries");
    // A directory here makes cargo rescan it (recursively) for any change.
    println!("cargo:rerun-if-changed={}", entries_dir.display());

    let mut files = Vec::new();
    collect(&entries_dir, &mut files)?;
    files.sort();

    let mut table =
        String::from("/// `(path relative to entries/, text)` for every embedded entry.\n");
    table.push_str("pub static EMBEDDED: &[(&str, &str)] = &[\n");
    for path in &files {
        let relative = path
            .strip_prefix(&entries_dir)
            .expect("collected under entries_dir")
            .to_string_lossy()
            .replace('\\', "/");
        table.push_str(&format!(
            "    ({relative:?}, include_str!({:?})),\n",
            path.display().to_string()
        ));
    }
    table.push_str("];\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo")).join("embedded.rs");
    fs::write(out, table)
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> io::Result<()> {
    if !dir.is_dir() {
        return Ok(());
    }
    for item in fs::read_dir(dir)? {
        let path = item?.path();
        if path.is_dir() {
            collect(&path, files)?;
        } else if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    Ok(())
}
