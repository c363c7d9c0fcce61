//! A [`LeaseStore`] in a local file (for tests and for remotes that are folders): the lease
//! object is `<path>`, replaced atomically; compare-and-swap is made atomic by an OS file lock
//! on `<path>.lock` held for the read-compare-write. The tag is the SHA-256 of the bytes.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use sha2::{Digest as _, Sha256};
use songrec_storage::{StorageError, StorageResult};

use crate::lease::{LeaseStore, LeaseTag};

/// A lease object in a file.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use songrec_sync::stores::file_lease::FileLeaseStore;
/// use songrec_sync::lease::LeaseStore;
/// let dir = tempfile::tempdir().unwrap();
/// let s = FileLeaseStore::new(dir.path().join("sync.lease"));
/// let tag = s.create(b"mine").await.unwrap().unwrap();
/// assert!(s.create(b"theirs").await.unwrap().is_none());
/// assert!(s.replace(b"renewed", &tag).await.unwrap().is_some());
/// assert!(s.replace(b"stale", &tag).await.unwrap().is_none());
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct FileLeaseStore {
    path: PathBuf,
}

impl FileLeaseStore {
    /// A lease at `path` (its folder is created on first write).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    fn locked<T>(&self, f: impl FnOnce(&Path) -> StorageResult<T>) -> StorageResult<T> {
        if let Some(dir) = self.path.parent() {
            fs::create_dir_all(dir).map_err(|e| StorageError::io(dir, e))?;
        }
        let mut lock_name = self.path.as_os_str().to_owned();
        lock_name.push(".lock");
        let lock_path = PathBuf::from(lock_name);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| StorageError::io(&lock_path, e))?;
        file.lock().map_err(|e| StorageError::io(&lock_path, e))?;
        let out = f(&self.path);
        let _ = file.unlock();
        out
    }
}

fn tag_of(bytes: &[u8]) -> LeaseTag {
    LeaseTag(hex::encode(Sha256::digest(bytes)))
}

fn read(path: &Path) -> StorageResult<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StorageError::io(path, e)),
    }
}

fn write(path: &Path, body: &[u8]) -> StorageResult<LeaseTag> {
    songrec_fs::write_atomic(path, |w| w.write_all(body)).map_err(|e| StorageError::io(path, e))?;
    Ok(tag_of(body))
}

impl fmt::Display for FileLeaseStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lease file {}", self.path.display())
    }
}

#[async_trait]
impl LeaseStore for FileLeaseStore {
    async fn read(&self) -> StorageResult<Option<(Vec<u8>, LeaseTag)>> {
        self.locked(|p| {
            Ok(read(p)?.map(|b| {
                let t = tag_of(&b);
                (b, t)
            }))
        })
    }

    async fn create(&self, body: &[u8]) -> StorageResult<Option<LeaseTag>> {
        self.locked(|p| match read(p)? {
            Some(_) => Ok(None),
            None => write(p, body).map(Some),
        })
    }

    async fn replace(&self, body: &[u8], expected: &LeaseTag) -> StorageResult<Option<LeaseTag>> {
        self.locked(|p| match read(p)? {
            Some(cur) if tag_of(&cur) == *expected => write(p, body).map(Some),
            _ => Ok(None),
        })
    }
}
