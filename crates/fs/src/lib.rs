//! File helpers every songrec crate shares, written once.
//!
//! Every file songrec writes is written atomically: a temporary file in the same folder, fsync,
//! rename over the destination, fsync the folder. A crash leaves the old file or the new one,
//! never half of one. Two flavours:
//!
//! - [`write_atomic`] / [`write_atomic_nosync_dir`]: songrec's own state (library indexes,
//!   journals, caches, resume files), streamed through a writer.
//! - [`write_user_file`]: files for the user's other programs (maps, images, playlists): the
//!   mode an ordinary new file gets (0666 less the umask), or the mode of the file it replaces,
//!   rather than the private 0600 of a temporary file; the folder is created if needed.
//!
//! Errors are plain [`std::io::Error`]s; callers add the path in their own error type.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

mod stamp;
pub use stamp::{
    Stamp, keyed_by_path, keyed_by_string, mtime_nanos, path_from_key, path_key, same_file,
    size_and_mtime, stamp,
};

/// A temporary path next to `dest` (same folder, so the final rename is atomic), unique per
/// process and call and not predictable by another user: the name carries 64 bits from a
/// randomly keyed hash. Create it with [`create_new`], never `File::create`: that refuses a
/// file or link already there instead of writing through it.
///
/// ```
/// let t = songrec_fs::temp_path(std::path::Path::new("/lib/meta.json"));
/// assert_eq!(t.parent(), Some(std::path::Path::new("/lib")));
/// assert!(t.file_name().unwrap().to_str().unwrap().starts_with(".meta.json."));
/// ```
pub fn temp_path(dest: &Path) -> PathBuf {
    use std::hash::{BuildHasher as _, Hasher as _};
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    // RandomState's keys are random per process (and per call after the first).
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(n);
    h.write_u32(std::process::id());
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    dest.with_file_name(format!(".{name}.{:016x}.tmp", h.finish()))
}

/// Creates `path` for writing only if nothing is there (`O_CREAT | O_EXCL`: an existing file or
/// a link planted at that name is an error, never followed), with the mode any new file gets.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let p = dir.path().join("t");
/// songrec_fs::create_new(&p).unwrap();
/// assert_eq!(songrec_fs::create_new(&p).unwrap_err().kind(), std::io::ErrorKind::AlreadyExists);
/// ```
pub fn create_new(path: &Path) -> io::Result<File> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

/// fsyncs a folder so a rename inside it is durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes `dest` atomically (see the crate doc), then fsyncs its folder.
///
/// ```
/// use std::io::Write;
/// let dir = tempfile::tempdir().unwrap();
/// let p = dir.path().join("state.json");
/// songrec_fs::write_atomic(&p, |w| w.write_all(b"{}")).unwrap();
/// assert_eq!(std::fs::read(&p).unwrap(), b"{}");
/// ```
pub fn write_atomic(
    dest: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    write_atomic_nosync_dir(dest, write)?;
    match dest.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => sync_dir(parent),
        _ => Ok(()),
    }
}

/// Like [`write_atomic`] without the folder fsync (callers writing many files sync once).
/// On failure the temporary file is removed and `dest` is untouched.
pub fn write_atomic_nosync_dir(
    dest: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let tmp = temp_path(dest);
    let result = (|| -> io::Result<()> {
        let f = create_new(&tmp)?;
        let mut w = io::BufWriter::with_capacity(1 << 16, f);
        write(&mut w)?;
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        fs::rename(&tmp, dest)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Copies the file `src` into the new file `tmp` (made with [`create_new`]) through `copy`
/// (reader, writer), then fsyncs `tmp`; removes `tmp` again if the copy or the fsync fails.
pub fn copy_to_new<T>(
    src: &Path,
    tmp: &Path,
    copy: impl FnOnce(File, &mut File) -> io::Result<T>,
) -> io::Result<T> {
    let input = File::open(src)?;
    let mut out = create_new(tmp)?;
    let copied = copy(input, &mut out).and_then(|t| out.sync_all().map(|()| t));
    if copied.is_err() {
        let _ = fs::remove_file(tmp);
    }
    copied
}

/// Writes `bytes` to `dest` atomically as a file for the user's other programs (see the crate
/// doc), creating its folder if needed.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let p = dir.path().join("a/b.m3u8");
/// songrec_fs::write_user_file(&p, b"#EXTM3U\n").unwrap();
/// assert_eq!(std::fs::read(&p).unwrap(), b"#EXTM3U\n");
/// ```
pub fn write_user_file(dest: &Path, bytes: &[u8]) -> io::Result<()> {
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent)?;
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
    let mut tmp = builder.tempfile_in(&parent)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(dest).map_err(|e| e.error)?;
    // The folder fsync makes the rename durable; not every platform allows it.
    let _ = sync_dir(&parent);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        write_atomic(&p, |w| w.write_all(b"old")).unwrap();
        let err = write_atomic(&p, |w| {
            w.write_all(b"half")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "disk full");
        assert_eq!(fs::read(&p).unwrap(), b"old");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary left"
        );
    }

    #[test]
    fn temp_paths_are_unique_and_not_the_pid_and_a_counter() {
        let d = Path::new("x/y");
        let (a, b) = (temp_path(d), temp_path(d));
        assert_ne!(a, b);
        let name = a.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            !name.contains(&format!(".{}.", std::process::id())),
            "predictable: {name}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_link_planted_at_a_temporary_name_is_not_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, b"precious").unwrap();
        let planted = dir.path().join(".state.json.tmp");
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        let err = create_new(&planted).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
    }

    #[cfg(unix)]
    #[test]
    fn user_files_follow_the_umask_and_replaced_files_keep_their_mode() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        // What any program gets for a new file here: 0666 less the umask.
        let plain = dir.path().join("plain");
        File::create(&plain).unwrap();
        let expected = fs::metadata(&plain).unwrap().permissions().mode() & 0o777;
        let map = dir.path().join("map.html");
        write_user_file(&map, b"<html>").unwrap();
        let mode = fs::metadata(&map).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, expected, "{mode:o} vs {expected:o}");
        assert_ne!(mode, 0o600, "not the private mode of a temporary file");
        fs::set_permissions(&map, fs::Permissions::from_mode(0o640)).unwrap();
        write_user_file(&map, b"<html>2").unwrap();
        let mode = fs::metadata(&map).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
    }
}
