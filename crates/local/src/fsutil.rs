//! Atomic writes and the library's write lock.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use songrec_storage::{StorageError, StorageResult};

/// A temporary path next to `dest` (same directory, so the final rename is atomic).
pub(crate) fn temp_path(dest: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    dest.with_file_name(format!(".{name}.{}.{n}.tmp", std::process::id()))
}

/// fsyncs a directory so a rename inside it is durable.
pub(crate) fn sync_dir(dir: &Path) -> StorageResult<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StorageError::io(dir, e))
}

/// Writes `dest` atomically: temp file in the same directory, fsync, rename, fsync the directory.
/// A crash leaves either the old file or the new one, never a torn mix.
pub fn write_atomic(
    dest: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> StorageResult<()> {
    write_atomic_nosync_dir(dest, write)?;
    if let Some(parent) = dest.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

/// Like [`write_atomic`] without the directory fsync (callers batching many files sync once).
pub(crate) fn write_atomic_nosync_dir(
    dest: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> StorageResult<()> {
    let tmp = temp_path(dest);
    let result = (|| -> io::Result<()> {
        let f = File::create(&tmp)?;
        let mut w = io::BufWriter::with_capacity(1 << 16, f);
        write(&mut w)?;
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        fs::rename(&tmp, dest)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(StorageError::io(dest, e));
    }
    Ok(())
}

/// The exclusive write lock of a library, held until dropped.
///
/// Uses the OS's advisory file lock (released automatically if the process dies) and records
/// the holder's pid and command in the lock file for the error message of the next process.
#[derive(Debug)]
pub(crate) struct WriteLock {
    _file: File,
}

impl WriteLock {
    /// Takes the lock or fails at once with [`StorageError::Locked`].
    pub(crate) fn acquire(library: &Path, lock_path: &Path) -> StorageResult<Self> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(lock_path)
            .map_err(|e| StorageError::io(lock_path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let holder = fs::read_to_string(lock_path)
                    .ok()
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "unknown process".into());
                return Err(StorageError::Locked {
                    library: library.to_path_buf(),
                    lock_file: lock_path.to_path_buf(),
                    holder,
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(StorageError::io(lock_path, e)),
        }
        let who = format!(
            "pid {} ({})",
            std::process::id(),
            std::env::args().take(2).collect::<Vec<_>>().join(" ")
        );
        file.set_len(0)
            .and_then(|()| {
                use std::io::Seek;
                file.seek(io::SeekFrom::Start(0))?;
                file.write_all(who.as_bytes())?;
                file.flush()
            })
            .map_err(|e| StorageError::io(lock_path, e))?;
        Ok(Self { _file: file })
    }
}
