//! Where a library's files live ([`Paths`]) and the small helpers that read, write, create and
//! stamp them.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use songrec_storage::{ModelInfo, SongId, StorageError, StorageResult};

use crate::fsutil::{file_id, write_atomic};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct RegisteredModel {
    pub(crate) model: ModelInfo,
    /// Folder under `embeddings/`; empty for the library's first model (flat layout).
    pub(crate) dir: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Registry {
    pub(crate) format: u32,
    pub(crate) models: Vec<RegisteredModel>,
}

#[derive(Clone)]
pub(crate) struct Paths {
    pub(crate) audio: PathBuf,
    pub(crate) embeddings: PathBuf,
    pub(crate) metadata: PathBuf,
    pub(crate) internal: PathBuf,
    pub(crate) registry: PathBuf,
    pub(crate) journal: PathBuf,
    pub(crate) tombstones: PathBuf,
    /// Saved playlists ([`crate::playlists`]).
    pub(crate) playlists: PathBuf,
    pub(crate) index: PathBuf,
    pub(crate) manifest: PathBuf,
    pub(crate) snapshot: PathBuf,
    pub(crate) lock: PathBuf,
    /// See [`crate::fsutil::FoldLock`].
    pub(crate) fold_lock: PathBuf,
}

impl Paths {
    pub(crate) fn new(root: &Path) -> Self {
        let data = root.join("data");
        let internal = data.join(".songrec");
        let index = internal.join("index");
        Self {
            audio: data.join("audio"),
            embeddings: data.join("embeddings"),
            metadata: data.join("embeddings").join("metadata.json"),
            registry: internal.join("library.json"),
            journal: internal.join("journal.jsonl"),
            tombstones: internal.join("tombstones.json"),
            playlists: data.join("playlists"),
            manifest: index.join("manifest.json"),
            snapshot: index.join("metadata.bin"),
            lock: internal.join("lock"),
            fold_lock: internal.join("fold.lock"),
            index,
            internal,
        }
    }

    pub(crate) fn model_dir(&self, m: &RegisteredModel) -> PathBuf {
        if m.dir.is_empty() {
            self.embeddings.clone()
        } else {
            self.embeddings.join(&m.dir)
        }
    }

    pub(crate) fn npy(&self, m: &RegisteredModel, id: &SongId) -> PathBuf {
        self.model_dir(m).join(format!("{id}.npy"))
    }

    pub(crate) fn pack(&self, m: &RegisteredModel) -> PathBuf {
        self.index.join(format!("{}.pack", m.model.file_key()))
    }
}

/// Size, modification time (ns) and identity of a file.
pub(crate) type FileStamp = (u64, u128, u64);

/// A file's bytes, `None` if it does not exist.
pub(crate) fn read_opt(path: &Path) -> StorageResult<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StorageError::io(path, e)),
    }
}

/// Parses JSON bytes read with [`read_opt`] (a missing file is the default value).
pub(crate) fn parse_json<T: for<'de> Deserialize<'de> + Default>(
    path: &Path,
    bytes: Option<&[u8]>,
) -> StorageResult<T> {
    bytes.map_or_else(
        || Ok(T::default()),
        |b| serde_json::from_slice(b).map_err(|e| StorageError::corrupt(path, e.to_string())),
    )
}

pub(crate) fn file_stamp(path: &Path) -> Option<FileStamp> {
    let m = fs::metadata(path).ok()?;
    Some((m.len(), songrec_fs::mtime_nanos(&m)?, file_id(&m)))
}

pub(crate) fn read_json<T: for<'de> Deserialize<'de> + Default>(path: &Path) -> StorageResult<T> {
    parse_json(path, read_opt(path)?.as_deref())
}

pub(crate) fn write_json<T: Serialize>(path: &Path, value: &T) -> StorageResult<()> {
    write_atomic(path, |w| {
        serde_json::to_writer(&mut *w, value).map_err(std::io::Error::other)?;
        w.write_all(b"\n")
    })
}

pub(crate) fn dir_stamp(dir: &Path) -> Option<u128> {
    songrec_fs::mtime_nanos(&fs::metadata(dir).ok()?)
}

pub(crate) fn mkdirs(dir: &Path) -> StorageResult<()> {
    fs::create_dir_all(dir).map_err(|e| StorageError::io(dir, e))
}
