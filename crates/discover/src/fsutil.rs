//! Atomic file writes: a temporary file in the same folder, fsync, rename, fsync the folder.
//! A crash leaves the old file or the new one, never half of one.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::{DiscoverError, DiscoverResult};

/// Writes `bytes` to `dest` atomically, creating the parent folder if needed.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let p = dir.path().join("a/b.txt");
/// songrec_discover::fsutil::write_atomic(&p, b"hello").unwrap();
/// assert_eq!(std::fs::read(&p).unwrap(), b"hello");
/// ```
pub fn write_atomic(dest: &Path, bytes: &[u8]) -> DiscoverResult<()> {
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(|e| DiscoverError::io(&parent, e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".songrec-")
        .suffix(".tmp")
        .tempfile_in(&parent)
        .map_err(|e| DiscoverError::io(&parent, e))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| DiscoverError::io(dest, e))?;
    tmp.persist(dest)
        .map_err(|e| DiscoverError::io(dest, e.error))?;
    if let Ok(d) = fs::File::open(&parent) {
        // Directory fsync makes the rename durable; not every platform allows it.
        let _ = d.sync_all();
    }
    Ok(())
}
