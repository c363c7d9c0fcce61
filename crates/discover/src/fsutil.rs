//! Atomic file writes: a temporary file in the same folder, fsync, rename, fsync the folder.
//! A crash leaves the old file or the new one, never half of one.
//!
//! These are files for the user's other programs (maps, images, playlists), so they get the
//! mode an ordinary new file gets (0666 less the umask), or keep the mode of the file they
//! replace; not the private 0600 of a temporary file.

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
    let mut builder = tempfile::Builder::new();
    builder.prefix(".songrec-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        // The OS applies the umask to the mode given at creation, as for any new file.
        let mode = fs::metadata(dest)
            .map(|m| m.permissions().mode() & 0o7777)
            .unwrap_or(0o666);
        builder.permissions(fs::Permissions::from_mode(mode));
    }
    let mut tmp = builder
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

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::write_atomic;

    #[test]
    fn new_files_follow_the_umask_and_replaced_files_keep_their_mode() {
        let dir = tempfile::tempdir().unwrap();
        // What any program gets for a new file here: 0666 less the umask.
        let plain = dir.path().join("plain");
        std::fs::File::create(&plain).unwrap();
        let expected = std::fs::metadata(&plain).unwrap().permissions().mode() & 0o777;
        let map = dir.path().join("map.html");
        write_atomic(&map, b"<html>").unwrap();
        let mode = std::fs::metadata(&map).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, expected, "{mode:o} vs {expected:o}");
        assert_ne!(mode, 0o600, "not the private mode of a temporary file");
        std::fs::set_permissions(&map, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&map, b"<html>2").unwrap();
        let mode = std::fs::metadata(&map).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
    }
}
