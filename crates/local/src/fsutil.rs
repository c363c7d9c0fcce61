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
/// the holder in the lock file for the error message of the next process: a first line
/// `pid N (what it is)`, and a second line `brief` when it takes the lock only for each write
/// ([`LockHold::PerWrite`](crate::LockHold::PerWrite)).
#[derive(Debug)]
pub(crate) struct WriteLock {
    _file: File,
}

/// What a lock file says of its holder.
struct Holder {
    who: String,
    brief: bool,
}

impl Holder {
    fn read(lock_path: &Path) -> Self {
        let text = fs::read_to_string(lock_path).unwrap_or_default();
        let mut lines = text.lines().map(str::trim);
        let who = lines
            .next()
            .filter(|s| !s.is_empty())
            .unwrap_or("unknown process")
            .to_owned();
        Self {
            who,
            brief: lines.any(|l| l == BRIEF),
        }
    }
}

/// The lock file's mark of a holder that takes the lock only for each write.
const BRIEF: &str = "brief";

impl WriteLock {
    /// Takes the lock. A holder that takes it only for each write is waited for up to `wait`
    /// (its writes take milliseconds); a holder that keeps it fails this at once with
    /// [`StorageError::Locked`], as does a brief holder still there after `wait`.
    pub(crate) fn acquire(
        library: &Path,
        lock_path: &Path,
        me: &LockOwner,
        wait: std::time::Duration,
    ) -> StorageResult<Self> {
        let mut file = open_lock_file(lock_path)?;
        let start = std::time::Instant::now();
        let mut pause = std::time::Duration::from_millis(1);
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(fs::TryLockError::WouldBlock) => {
                    let holder = Holder::read(lock_path);
                    if !holder.brief || start.elapsed() >= wait {
                        return Err(StorageError::Locked {
                            library: library.to_path_buf(),
                            lock_file: lock_path.to_path_buf(),
                            holder: holder.who,
                            brief: holder.brief,
                        });
                    }
                    // The holder is in the middle of one write: look again shortly.
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(std::time::Duration::from_millis(20));
                }
                Err(fs::TryLockError::Error(e)) => return Err(StorageError::io(lock_path, e)),
            }
        }
        let mut text = format!("pid {} ({})", std::process::id(), me.what());
        if me.brief {
            text.push('\n');
            text.push_str(BRIEF);
        }
        file.set_len(0)
            .and_then(|()| {
                use std::io::Seek;
                file.seek(io::SeekFrom::Start(0))?;
                file.write_all(text.as_bytes())?;
                file.flush()
            })
            .map_err(|e| StorageError::io(lock_path, e))?;
        Ok(Self { _file: file })
    }
}

/// This process as the lock file names it.
pub(crate) struct LockOwner {
    /// What it is ("songrec serve on 127.0.0.1:4533"); `None`: its first two arguments.
    pub(crate) what: Option<String>,
    /// It takes the lock only for each write.
    pub(crate) brief: bool,
}

impl LockOwner {
    fn what(&self) -> String {
        self.what.clone().unwrap_or_else(|| {
            // `args_os`: `args` panics on an argument that is not UTF-8 (`--library=$'/tmp/l\xff'`).
            std::env::args_os()
                .take(2)
                .map(|a| a.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        })
    }
}
