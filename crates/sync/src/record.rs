//! The per-machine record of the last synced state (the "base" of the three-way comparison).
//!
//! For every song this machine has synced with a given remote, the record keeps the version
//! and content digest both sides agreed on, whether it was a deletion, and the metadata itself
//! (for field-by-field merges). A side whose listing differs from the record changed since the
//! last sync; that is how sync tells "changed here" from "changed there". The record is only
//! advanced for songs whose transfer completed, so an interrupted sync is finished by the next.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use songrec_storage::{ChangeCursor, SongId, SongMetadata, StorageError, StorageResult};

/// What the record says about one song.
///
/// ```
/// use songrec_sync::record::BaseEntry;
/// let b = BaseEntry { version: 3, digest: "ab".into(), deleted: false };
/// assert!(!b.deleted);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseEntry {
    /// The version both sides had.
    pub version: u64,
    /// [`crate::digest::digest`] of the metadata both sides had (empty for deletions).
    pub digest: String,
    /// Both sides had deleted the song.
    pub deleted: bool,
}

#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)] // short-lived, in small batches
pub enum RecordChange {
    /// Both sides now hold this metadata.
    Live(SongMetadata),
    /// Both sides have deleted the song.
    Deleted {
        id: SongId,
        /// The version it was deleted at (as far as known).
        version: u64,
    },
}

impl RecordChange {
    pub fn id(&self) -> &SongId {
        match self {
            Self::Live(m) => &m.id,
            Self::Deleted { id, .. } => id,
        }
    }
}

/// Where the record stands in the remote's change feed
/// ([`songrec_storage::StorageBackend::changes_since`]).
///
/// Invariant: every remote change before `cursor` is reflected in the record (each song the
/// feed does not mention since then is on the remote as the record says). It is written only
/// after a run whose every song completed, and only with a cursor read before that run's
/// listing or feed, so a crash anywhere re-reads the same changes.
///
/// ```
/// use songrec_storage::ChangeCursor;
/// use songrec_sync::record::FeedPosition;
/// let p = FeedPosition { cursor: ChangeCursor::new("c"), full_at: chrono::Utc::now() };
/// let json = serde_json::to_string(&p).unwrap();
/// assert_eq!(serde_json::from_str::<FeedPosition>(&json).unwrap(), p);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedPosition {
    /// The remote's change cursor.
    pub cursor: ChangeCursor,
    /// When the full reconciliation this position descends from started.
    pub full_at: DateTime<Utc>,
}

/// Durable storage of the record, for one (local library, remote) pair.
///
/// Implementations: [`crate::stores::sqlite_record::SqliteRecord`] and, for tests, an
/// in-memory one.
pub trait RecordStore: Send + Sync {
    /// This machine's id (generated once, then persisted).
    fn machine_id(&self) -> String;
    /// Every song's base entry.
    fn load(&self) -> StorageResult<HashMap<SongId, BaseEntry>>;
    /// The synced metadata of some songs (songs without one are left out).
    fn base_metadata(&self, ids: &[SongId]) -> StorageResult<HashMap<SongId, SongMetadata>>;
    /// Applies changes atomically (all or none) and durably.
    fn commit(&self, changes: &[RecordChange]) -> StorageResult<()>;
    /// The record's position in the remote's change feed, if it keeps one. The default keeps
    /// none, so every run is a full reconciliation.
    fn feed_position(&self) -> StorageResult<Option<FeedPosition>> {
        Ok(None)
    }
    /// Stores (or, with `None`, forgets) the feed position, durably. Called only after the
    /// run's record changes were committed.
    fn set_feed_position(&self, position: Option<&FeedPosition>) -> StorageResult<()> {
        let _ = position;
        Ok(())
    }
}

/// The base entry a change leads to.
pub fn entry_of(change: &RecordChange) -> BaseEntry {
    match change {
        RecordChange::Live(m) => BaseEntry {
            version: m.version,
            digest: crate::digest::digest(m),
            deleted: false,
        },
        RecordChange::Deleted { version, .. } => BaseEntry {
            version: *version,
            digest: String::new(),
            deleted: true,
        },
    }
}

/// A [`RecordStore`] whose feed position is kept in a small JSON file (for stores that keep
/// none themselves, such as the SQLite record): `{"<remote>": {"machine": "…", "position":
/// {…}}}`. A position written under another machine id (the record file was recreated) is
/// ignored, and so is an unreadable file: the run is then a full reconciliation.
#[derive(Debug)]
pub struct FeedFile<R> {
    inner: R,
    path: PathBuf,
    remote: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct FeedFileEntry {
    machine: String,
    position: FeedPosition,
}

impl<R: RecordStore> FeedFile<R> {
    /// `inner`'s rows, with the feed position of `remote` kept in `path`.
    pub fn new(inner: R, path: impl AsRef<Path>, remote: impl Into<String>) -> Self {
        Self {
            inner,
            path: path.as_ref().to_path_buf(),
            remote: remote.into(),
        }
    }

    pub fn inner(&self) -> &R {
        &self.inner
    }

    fn read_all(&self) -> BTreeMap<String, FeedFileEntry> {
        match std::fs::read(&self.path) {
            Ok(b) => serde_json::from_slice(&b).unwrap_or_else(|e| {
                tracing::warn!(
                    "{}: unreadable sync feed position ({e}); this run reconciles fully",
                    self.path.display()
                );
                BTreeMap::new()
            }),
            Err(_) => BTreeMap::new(),
        }
    }
}

impl<R: RecordStore> RecordStore for FeedFile<R> {
    fn machine_id(&self) -> String {
        self.inner.machine_id()
    }

    fn load(&self) -> StorageResult<HashMap<SongId, BaseEntry>> {
        self.inner.load()
    }

    fn base_metadata(&self, ids: &[SongId]) -> StorageResult<HashMap<SongId, SongMetadata>> {
        self.inner.base_metadata(ids)
    }

    fn commit(&self, changes: &[RecordChange]) -> StorageResult<()> {
        self.inner.commit(changes)
    }

    fn feed_position(&self) -> StorageResult<Option<FeedPosition>> {
        let machine = self.inner.machine_id();
        Ok(self
            .read_all()
            .remove(&self.remote)
            .filter(|e| e.machine == machine)
            .map(|e| e.position))
    }

    fn set_feed_position(&self, position: Option<&FeedPosition>) -> StorageResult<()> {
        let mut all = self.read_all();
        match position {
            Some(p) => {
                all.insert(
                    self.remote.clone(),
                    FeedFileEntry {
                        machine: self.inner.machine_id(),
                        position: p.clone(),
                    },
                );
            }
            None => {
                if all.remove(&self.remote).is_none() {
                    return Ok(());
                }
            }
        }
        let json = serde_json::to_vec_pretty(&all).map_err(|e| {
            StorageError::backend("sync record", format!("encoding the feed position: {e}"))
        })?;
        songrec_fs::write_atomic(&self.path, |w| w.write_all(&json))
            .map_err(|e| StorageError::io(&self.path, e))
    }
}
