//! Files for the user's other programs (maps, images, playlists), written atomically with the
//! mode an ordinary new file gets: [`songrec_fs::write_user_file`] with this crate's error type.

use std::path::Path;

use crate::error::{DiscoverError, DiscoverResult};

/// Writes `bytes` to `dest` atomically, creating the parent folder if needed.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let p = dir.path().join("a/b.txt");
/// songrec_discover::fsutil::write_atomic(&p, b"hello").unwrap();
/// assert_eq!(std::fs::read(&p).unwrap(), b"hello");
/// ```
pub fn write_atomic(dest: &Path, bytes: &[u8]) -> DiscoverResult<()> {
    songrec_fs::write_user_file(dest, bytes).map_err(|e| DiscoverError::io(dest, e))
}
