//! [`CacheLayer`]: serves audio and embeddings from a disk cache, fetches misses from the
//! wrapped backend.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::store::{CacheStats, CacheStore};
use songrec_storage::backend::{AudioStore, PlaylistStore, SongStore, VectorStore, VersionLog};
use songrec_storage::backend::{
    BatchReport, ChangeCursor, Changes, ModelStats, PutOutcome, SongRecord, StorageBackend,
};
use songrec_storage::error::{StorageError, StorageResult};
use songrec_storage::filter::Filter;
use songrec_storage::id::SongId;
use songrec_storage::layers::Layer;
use songrec_storage::metadata::{SongMetadata, VersionEntry};
use songrec_storage::model::{Embedding, ModelInfo};
use songrec_storage::playlist::SavedPlaylist;
use songrec_storage::query::{ListQuery, Match, Page, SearchQuery};

/// Cache configuration: a cache folder (shared by every layer and process that opens it) and
/// the namespace of the wrapped library (audio is content-addressed and shared; embeddings are not).
///
/// ```
/// use songrec_cache::Cache;
/// let dir = tempfile::tempdir().unwrap();
/// let cache = Cache::open(dir.path(), 64 << 20).unwrap().namespace("astra:db1/music");
/// assert_eq!(cache.store().max_bytes(), 64 << 20);
/// ```
#[derive(Clone, Debug)]
pub struct Cache {
    store: Arc<CacheStore>,
    ns: Option<String>,
    keep_audio: bool,
}

impl Cache {
    /// Opens the cache folder `dir` (created if missing) with a size limit in bytes.
    pub fn open(dir: impl AsRef<Path>, max_bytes: u64) -> StorageResult<Self> {
        Ok(Self::from_store(Arc::new(CacheStore::open(
            dir, max_bytes,
        )?)))
    }

    /// Uses an already open store.
    pub fn from_store(store: Arc<CacheStore>) -> Self {
        Self {
            store,
            ns: None,
            keep_audio: true,
        }
    }

    /// Whether audio fetched on a miss is kept (default true; bulk copies, which read every
    /// blob once, turn it off). Cached audio is served either way.
    pub fn keep_audio(mut self, keep: bool) -> Self {
        self.keep_audio = keep;
        self
    }

    /// Names the wrapped library (default: the wrapped backend's `Display`).
    pub fn namespace(mut self, ns: impl Into<String>) -> Self {
        self.ns = Some(ns.into());
        self
    }

    /// The store, e.g. for [`CacheStore::stats`].
    pub fn store(&self) -> &Arc<CacheStore> {
        &self.store
    }
}

impl<B: StorageBackend> Layer<B> for Cache {
    type Output = CacheLayer<B>;
    fn wrap(self, inner: B) -> CacheLayer<B> {
        let ns = self.ns.unwrap_or_else(|| inner.to_string());
        CacheLayer {
            inner,
            store: self.store,
            ns,
            keep_audio: self.keep_audio,
        }
    }
}

/// An LRU disk cache in front of a (remote) backend.
///
/// What is cached, and why it cannot go stale:
///
/// | data | key | served from the cache | invalidated by |
/// |---|---|---|---|
/// | audio | song id = SHA-256 of the bytes | `get_audio` (re-hashed on every read) | `delete_audio` / `delete_song` through the layer |
/// | vectors | (namespace, song id, model `name@version`, song version) | `get_embedding` | a new song version seen in any result passing through (`get_metadata`, `list`, `search`, `list_versions`, ...), `put_embedding` / `put_songs` / `delete_song` through the layer |
///
/// Everything else (metadata, listings, counts, searches) is mutable and always goes to the inner
/// backend; uploads (`put_audio`) are not cached. A cache that fails never fails a read (the read
/// goes to the inner backend, with a warning). While the inner backend is unavailable,
/// `has_audio` answers `true` for audio held in the cache.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use songrec_cache::Cache;
/// use songrec_storage::layers::LayerExt;
/// use songrec_conformance::MemoryBackend;
/// use songrec_storage::prelude::*;
/// use songrec_storage::{Embedding, ModelInfo, SongId, SongMetadata, SongRecord};
/// let dir = tempfile::tempdir().unwrap();
/// let b = MemoryBackend::new().layer(Cache::open(dir.path(), 1 << 20).unwrap());
/// assert_eq!(b.to_string(), "Cache(Memory)");
/// let m = SongMetadata::new(SongId::from_bytes(b"x"), "X");
/// let e = Embedding::new(ModelInfo::new("m", "1", 2), vec![1.0, 0.0]).unwrap();
/// b.put_songs(&[SongRecord { metadata: m.clone(), embeddings: vec![e.clone()] }]).await.unwrap();
/// assert_eq!(b.get_embedding(&m.id, &e.model).await.unwrap(), Some(e));
/// assert_eq!(b.stats().unwrap().session.hits, 1); // written through, then served from disk
/// # }
/// ```
#[derive(Debug)]
pub struct CacheLayer<B> {
    inner: B,
    store: Arc<CacheStore>,
    ns: String,
    keep_audio: bool,
}

impl<B: StorageBackend> CacheLayer<B> {
    /// The wrapped backend.
    pub fn inner(&self) -> &B {
        &self.inner
    }

    pub fn store(&self) -> &Arc<CacheStore> {
        &self.store
    }

    /// Counters and contents of the cache.
    pub fn stats(&self) -> StorageResult<CacheStats> {
        self.store.stats()
    }

    /// Runs a store operation on the blocking pool.
    async fn on_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&CacheStore, &str) -> StorageResult<T> + Send + 'static,
    ) -> StorageResult<T> {
        let store = self.store.clone();
        let ns = self.ns.clone();
        tokio::task::spawn_blocking(move || f(&store, &ns))
            .await
            .map_err(|e| StorageError::backend("cache", format!("cache task failed: {e}")))?
    }

    /// Runs a store operation whose failure must not fail the caller: logs it instead.
    async fn quietly(
        &self,
        what: &str,
        f: impl FnOnce(&CacheStore, &str) -> StorageResult<()> + Send + 'static,
    ) {
        if let Err(e) = self.on_store(f).await {
            tracing::warn!("cache: {what}: {e}");
        }
    }

    /// Records the song versions seen (`None`: no live version), dropping stale vectors.
    async fn learn(&self, seen: Vec<(SongId, Option<u64>)>) {
        if !seen.is_empty() {
            self.quietly("recording song versions", move |s, ns| {
                s.learn_versions(ns, &seen)
            })
            .await;
        }
    }

    async fn learn_entries(&self, entries: &[VersionEntry]) {
        let seen = entries.iter();
        self.learn(
            seen.map(|v| (v.id.clone(), (!v.deleted).then_some(v.version)))
                .collect(),
        )
        .await;
    }

    async fn learn_metadata<'a>(&self, ms: impl IntoIterator<Item = &'a SongMetadata>) {
        let seen = ms
            .into_iter()
            .map(|m| (m.id.clone(), Some(m.version)))
            .collect();
        self.learn(seen).await;
    }
}

/// The records of `songs` that `report` says were stored.
pub(crate) fn stored_records(songs: &[SongRecord], report: &BatchReport) -> Vec<SongRecord> {
    let stored: std::collections::HashSet<&SongId> = report.stored.iter().collect();
    songs
        .iter()
        .filter(|s| stored.contains(&s.metadata.id))
        .cloned()
        .collect()
}

impl<B: fmt::Display> fmt::Display for CacheLayer<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cache({})", self.inner)
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<B: StorageBackend> AudioStore for CacheLayer<B> {
    async fn put_audio(&self, id: &SongId, src: &Path) -> StorageResult<PutOutcome> {
        self.inner.put_audio(id, src).await
    }

    async fn link_audio(&self, id: &SongId, path: &Path) -> StorageResult<PutOutcome> {
        self.inner.link_audio(id, path).await
    }

    async fn link_audio_as(
        &self,
        key: &SongId,
        path: &Path,
        own: &SongId,
    ) -> StorageResult<PutOutcome> {
        self.inner.link_audio_as(key, path, own).await
    }

    async fn get_audio(&self, id: &SongId, dest: &Path) -> StorageResult<u64> {
        let (i, d) = (id.clone(), dest.to_path_buf());
        match self.on_store(move |s, _| s.get_audio(&i, &d)).await {
            Ok(Some(n)) => return Ok(n),
            Ok(None) => {}
            // A missing destination folder fails the inner read too, in its own words.
            Err(e)
                if dest
                    .parent()
                    .is_some_and(|p| !p.as_os_str().is_empty() && !p.is_dir()) =>
            {
                tracing::debug!("cache: {e}");
            }
            Err(e) => tracing::warn!("cache: reading audio of {}: {e}", id.short()),
        }
        let n = self.inner.get_audio(id, dest).await?;
        let (i, d) = (id.clone(), dest.to_path_buf());
        if self.keep_audio {
            self.quietly("storing audio", move |s, _| s.put_audio_from(&i, &d))
                .await;
        } else {
            self.quietly("counting audio", move |s, _| s.note_audio_fetched(n))
                .await;
        }
        Ok(n)
    }

    async fn audio_url(&self, id: &SongId, expires_in: Duration) -> StorageResult<String> {
        self.inner.audio_url(id, expires_in).await
    }

    async fn has_audio(&self, id: &SongId) -> StorageResult<bool> {
        match self.inner.has_audio(id).await {
            Err(e) if e.is_unavailable() => {
                let i = id.clone();
                match self.on_store(move |s, _| s.has_audio(&i)).await {
                    Ok(true) => Ok(true),
                    _ => Err(e),
                }
            }
            r => r,
        }
    }

    async fn delete_audio(&self, id: &SongId) -> StorageResult<bool> {
        let r = self.inner.delete_audio(id).await?;
        let i = id.clone();
        self.quietly("dropping audio", move |s, _| s.drop_audio(&i))
            .await;
        Ok(r)
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<B: StorageBackend> VectorStore for CacheLayer<B> {
    async fn put_embedding(&self, id: &SongId, embedding: &Embedding) -> StorageResult<()> {
        self.inner.put_embedding(id, embedding).await?;
        // The song's version is not known here (metadata usually follows): invalidate.
        let (i, m) = (id.clone(), embedding.model.clone());
        self.quietly("dropping a vector", move |s, ns| {
            s.drop_embeddings(ns, &i, Some(&m))
        })
        .await;
        Ok(())
    }

    async fn get_embedding(
        &self,
        id: &SongId,
        model: &ModelInfo,
    ) -> StorageResult<Option<Embedding>> {
        let (i, m) = (id.clone(), model.clone());
        match self
            .on_store(move |s, ns| s.get_embedding(ns, &i, &m))
            .await
        {
            Ok(Some(e)) => return Ok(Some(e)),
            Ok(None) => {}
            Err(e) => tracing::warn!("cache: reading a vector of {}: {e}", id.short()),
        }
        let got = self.inner.get_embedding(id, model).await?;
        if let Some(e) = &got {
            let (i, e) = (id.clone(), e.clone());
            self.quietly("storing a vector", move |s, ns| {
                s.put_embedding(ns, &i, &e, true)
            })
            .await;
        }
        Ok(got)
    }

    fn max_results(&self) -> usize {
        self.inner.max_results()
    }

    async fn search(&self, query: &SearchQuery) -> StorageResult<Vec<Match>> {
        let r = self.inner.search(query).await?;
        self.learn_metadata(r.iter().map(|m| &m.metadata)).await;
        Ok(r)
    }

    async fn models(&self) -> StorageResult<Vec<ModelStats>> {
        self.inner.models().await
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<B: StorageBackend> SongStore for CacheLayer<B> {
    async fn put_metadata(&self, metadata: &SongMetadata) -> StorageResult<()> {
        self.inner.put_metadata(metadata).await?;
        self.learn_metadata([metadata]).await;
        Ok(())
    }

    async fn put_metadata_if(&self, metadata: &SongMetadata, expected: u64) -> StorageResult<()> {
        self.inner.put_metadata_if(metadata, expected).await?;
        self.learn_metadata([metadata]).await;
        Ok(())
    }

    async fn get_metadata(&self, id: &SongId) -> StorageResult<Option<SongMetadata>> {
        let r = self.inner.get_metadata(id).await?;
        self.learn(vec![(id.clone(), r.as_ref().map(|m| m.version))])
            .await;
        Ok(r)
    }

    async fn list(&self, query: &ListQuery) -> StorageResult<Page<SongMetadata>> {
        let r = self.inner.list(query).await?;
        self.learn_metadata(&r.items).await;
        Ok(r)
    }

    async fn count(&self, filter: &Filter) -> StorageResult<u64> {
        self.inner.count(filter).await
    }

    async fn quick_count(&self, filter: &Filter) -> StorageResult<songrec_storage::SongCount> {
        self.inner.quick_count(filter).await
    }

    async fn delete_song(&self, id: &SongId) -> StorageResult<bool> {
        let r = self.inner.delete_song(id).await?;
        self.learn(vec![(id.clone(), None)]).await;
        let i = id.clone();
        self.quietly("dropping a deleted song", move |s, ns| {
            s.drop_embeddings(ns, &i, None)?;
            s.drop_audio(&i)
        })
        .await;
        Ok(r)
    }

    async fn put_songs(&self, songs: &[SongRecord]) -> StorageResult<BatchReport> {
        let report = self.inner.put_songs(songs).await?;
        let written = stored_records(songs, &report);
        if !written.is_empty() {
            self.learn_metadata(written.iter().map(|s| &s.metadata))
                .await;
            self.quietly("storing written vectors", move |s, ns| {
                for r in &written {
                    s.drop_embeddings(ns, &r.metadata.id, None)?;
                    for e in &r.embeddings {
                        s.put_embedding(ns, &r.metadata.id, e, false)?;
                    }
                }
                Ok(())
            })
            .await;
        }
        Ok(report)
    }

    async fn get_metadata_many(&self, ids: &[SongId]) -> StorageResult<Vec<SongMetadata>> {
        let r = self.inner.get_metadata_many(ids).await?;
        self.learn_metadata(&r).await;
        Ok(r)
    }

    async fn flush(&self) -> StorageResult<()> {
        self.inner.flush().await
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<B: StorageBackend> VersionLog for CacheLayer<B> {
    async fn list_versions(&self) -> StorageResult<Vec<VersionEntry>> {
        let r = self.inner.list_versions().await?;
        self.learn_entries(&r).await;
        Ok(r)
    }

    async fn ids_with_prefix(&self, prefix: &str, limit: usize) -> StorageResult<Vec<SongId>> {
        self.inner.ids_with_prefix(prefix, limit).await
    }

    async fn versions_of(&self, ids: &[SongId]) -> StorageResult<Vec<VersionEntry>> {
        let r = self.inner.versions_of(ids).await?;
        self.learn_entries(&r).await;
        Ok(r)
    }

    async fn summary(&self) -> StorageResult<songrec_storage::LibrarySummary> {
        self.inner.summary().await
    }

    async fn changes_since(&self, since: Option<&ChangeCursor>) -> StorageResult<Option<Changes>> {
        let r = self.inner.changes_since(since).await?;
        if let Some(c) = &r {
            self.learn_entries(&c.entries).await;
        }
        Ok(r)
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<B: StorageBackend> PlaylistStore for CacheLayer<B> {
    async fn put_playlist(&self, playlist: &SavedPlaylist) -> StorageResult<()> {
        self.inner.put_playlist(playlist).await
    }

    async fn get_playlist(&self, id: &str) -> StorageResult<Option<SavedPlaylist>> {
        self.inner.get_playlist(id).await
    }

    async fn list_playlists(&self) -> StorageResult<Vec<SavedPlaylist>> {
        self.inner.list_playlists().await
    }
}
