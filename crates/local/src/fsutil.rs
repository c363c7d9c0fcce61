//! The library's write lock, and the shared atomic writes ([`songrec_fs`]) with its error type.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use songrec_storage::{StorageError, StorageResult};

pub(crate) use songrec_fs::temp_path;

/// fsyncs a directory so a rename inside it is durable.
pub(crate) fn sync_dir(dir: &Path) -> StorageResult<()> {
    songrec_fs::sync_dir(dir).map_err(|e| StorageError::io(dir, e))
}

/// [`songrec_fs::write_atomic`] with the library's error type.
pub(crate) fn write_atomic(
    dest: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> StorageResult<()> {
    songrec_fs::write_atomic(dest, write).map_err(|e| StorageError::io(dest, e))
}

/// [`songrec_fs::write_atomic_nosync_dir`] with the library's error type.
pub(crate) fn write_atomic_nosync_dir(
    dest: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> StorageResult<()> {
    songrec_fs::write_atomic_nosync_dir(dest, write).map_err(|e| StorageError::io(dest, e))
}

pub(crate) fn file_id(m: &fs::Metadata) -> u64 {
    #[cfg(unix)]
    {
        std::os::unix::fs::MetadataExt::ino(m)
    }
    #[cfg(not(unix))]
    {
        m.created()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as u64)
    }
}

/// A lock file opened for reading and writing, created if missing (never truncated).
fn open_lock_file(path: &Path) -> StorageResult<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| StorageError::io(path, e))
}

/// The fold lock (`data/.songrec/fold.lock`), held until dropped: exclusively by a writer
/// while it folds the journal into `metadata.json` (from the first file it replaces to the
/// emptied journal), shared by a reader whose loads were overtaken by folds (see
/// `Inner::load`), so that the next fold waits for its load.
#[derive(Debug)]
pub(crate) struct FoldLock(#[allow(dead_code)] File);

impl FoldLock {
    /// A writer's, before it folds: waits for the readers that hold it.
    pub(crate) fn exclusive(path: &Path) -> StorageResult<Self> {
        let file = open_lock_file(path)?;
        file.lock().map_err(|e| StorageError::io(path, e))?;
        Ok(Self(file))
    }

    /// A reader's: waits for a fold in progress. `None` when there is no lock file and this
    /// process may not make one (a read-only library), or it cannot be locked.
    pub(crate) fn shared(path: &Path) -> Option<Self> {
        // Made if missing (a library folded only by older versions), where this process may.
        let file = open_lock_file(path).or_else(|_| File::open(path)).ok()?;
        file.lock_shared().ok()?;
        Some(Self(file))
    }
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
        let mut file = open_lock_file(lock_path)?;
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
            // `args_os`: `args` panics on an argument that is not UTF-8 (`--library=$'/tmp/l\xff'`).
            std::env::args_os()
                .take(2)
                .map(|a| a.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(" ")
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
