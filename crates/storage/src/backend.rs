//! The one trait every storage backend implements.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::StorageResult;
use crate::filter::Filter;
use crate::id::SongId;
use crate::metadata::{SongMetadata, VersionEntry};
use crate::model::{Embedding, ModelInfo};
use crate::query::{ListQuery, Match, Page, SearchQuery};

/// Where a song's pieces live: audio bytes, vectors (one per model) and metadata.
///
/// Implementations: the local file layout (`songrec-local`), Astra DB + S3 (`songrec-astra`),
/// and layers that wrap any backend (retry, metrics, fault injection, caching). Every
/// implementation runs the shared conformance suite ([`crate::conformance`]).
///
/// Contract highlights:
/// - Metadata is the commit point of a song: embeddings and audio without metadata are
///   invisible to `search`, `list` and `count`. Writers store audio, then embeddings, then metadata.
/// - Writes are atomic per call; `put_songs` reports per-song outcomes.
/// - `search` filters first, then ranks (exact filtered search), and returns metadata with each match.
/// - `delete_song` leaves a tombstone visible in `list_versions`, so sync can propagate it.
/// - `Display` names the backend and, for layers, the whole stack (`Retry(Local(/music/data))`).
///
/// ```no_run
/// # async fn demo(backend: &dyn songrec_storage::StorageBackend) -> songrec_storage::StorageResult<()> {
/// use songrec_storage::{Filter, SongId};
/// let n = backend.count(&Filter::default()).await?;
/// let id = SongId::from_bytes(b"...");
/// if let Some(meta) = backend.get_metadata(&id).await? {
///     println!("{n} songs; {} is v{}", meta.title, meta.version);
/// }
/// # Ok(()) }
/// ```
#[async_trait]
pub trait StorageBackend: fmt::Display + fmt::Debug + Send + Sync {
    // ---- audio -------------------------------------------------------------------------

    /// Stores the audio file at `src` under `id`, streaming it. The bytes must hash to `id`
    /// (else [`crate::StorageError::HashMismatch`] and nothing is stored). Storing a blob that
    /// is already present is a no-op reported as `already_present`.
    async fn put_audio(&self, id: &SongId, src: &Path) -> StorageResult<PutOutcome>;

    /// Writes the song's audio to `dest` atomically, verifying its hash; returns the byte count.
    async fn get_audio(&self, id: &SongId, dest: &Path) -> StorageResult<u64>;

    /// A URL a player can fetch the audio from, valid for at least `expires_in` where the
    /// backend supports expiry (local files: a `file://` URL that does not expire).
    async fn audio_url(&self, id: &SongId, expires_in: Duration) -> StorageResult<String>;

    /// Whether the song's audio is stored.
    async fn has_audio(&self, id: &SongId) -> StorageResult<bool>;

    /// Removes the audio; `false` if there was none.
    async fn delete_audio(&self, id: &SongId) -> StorageResult<bool>;

    // ---- embeddings --------------------------------------------------------------------

    /// Stores (or replaces) the song's vector for `embedding.model`. A dimension that differs
    /// from vectors already stored for the same model is a [`crate::StorageError::DimensionMismatch`].
    async fn put_embedding(&self, id: &SongId, embedding: &Embedding) -> StorageResult<()>;

    /// The song's vector for `model`, if stored.
    async fn get_embedding(
        &self,
        id: &SongId,
        model: &ModelInfo,
    ) -> StorageResult<Option<Embedding>>;

    /// Exact similarity search (see [`SearchQuery`]).
    async fn search(&self, query: &SearchQuery) -> StorageResult<Vec<Match>>;

    /// The most results one [`search`](Self::search) can reach (`offset + k`): the store's own
    /// cap (the Data API's 1000, [`crate::query::MAX_RESULTS`]), or `usize::MAX` when it has
    /// none (the local files). A layer reports its inner backend's; a fallback the smaller of
    /// its two. Searches beyond it are refused with `InvalidInput`.
    fn max_results(&self) -> usize;

    /// The models with stored vectors, and how many songs each covers.
    async fn models(&self) -> StorageResult<Vec<ModelStats>>;

    // ---- metadata ----------------------------------------------------------------------

    /// Inserts or replaces a song's metadata, stored as given (versions included).
    async fn put_metadata(&self, metadata: &SongMetadata) -> StorageResult<()>;

    /// A song's metadata.
    async fn get_metadata(&self, id: &SongId) -> StorageResult<Option<SongMetadata>>;

    /// A page of songs matching a filter.
    async fn list(&self, query: &ListQuery) -> StorageResult<Page<SongMetadata>>;

    /// How many songs match a filter.
    async fn count(&self, filter: &Filter) -> StorageResult<u64>;

    /// Deletes a song's metadata, vectors and audio, leaving a tombstone; `false` if unknown.
    async fn delete_song(&self, id: &SongId) -> StorageResult<bool>;

    // ---- batches -----------------------------------------------------------------------

    /// Stores several songs' vectors and metadata (audio goes through `put_audio`).
    /// Each song is stored whole or not at all; failures are reported per song.
    async fn put_songs(&self, songs: &[SongRecord]) -> StorageResult<BatchReport>;

    /// Metadata of several songs (unknown ids are left out).
    async fn get_metadata_many(&self, ids: &[SongId]) -> StorageResult<Vec<SongMetadata>>;

    // ---- sync --------------------------------------------------------------------------

    /// Every song's (id, version, content hash) plus tombstones, without reading whole songs.
    async fn list_versions(&self) -> StorageResult<Vec<VersionEntry>>;

    /// Makes buffered state durable and compact (e.g. the local journal). Cheap when idle.
    async fn flush(&self) -> StorageResult<()>;
}

/// What `put_audio` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutOutcome {
    /// Bytes in the blob.
    pub bytes: u64,
    /// The blob was already stored; nothing was written.
    pub already_present: bool,
}

/// A model and how many vectors it has.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelStats {
    /// The model.
    pub model: ModelInfo,
    /// Songs with a vector of this model.
    pub count: u64,
}

/// A song's metadata and vectors, for batch writes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SongRecord {
    /// Metadata (the commit point).
    pub metadata: SongMetadata,
    /// Vectors, at most one per model.
    pub embeddings: Vec<Embedding>,
}

/// Per-song outcome of a batch write.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchReport {
    /// Songs stored.
    pub stored: Vec<SongId>,
    /// Songs not stored, with the reason.
    pub failed: Vec<(SongId, String)>,
}

impl BatchReport {
    /// Whether every song was stored.
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty()
    }
}

/// Shared and boxed backends are backends: `Arc<dyn StorageBackend>` (what the factory returns)
/// can be layered and passed wherever a `StorageBackend` is expected.
macro_rules! forward_pointer {
    ($ptr:ident) => {
        #[async_trait]
        #[deny(clippy::missing_trait_methods)]
        impl<T: StorageBackend + ?Sized> StorageBackend for $ptr<T> {
            async fn put_audio(&self, id: &SongId, src: &Path) -> StorageResult<PutOutcome> {
                (**self).put_audio(id, src).await
            }
            async fn get_audio(&self, id: &SongId, dest: &Path) -> StorageResult<u64> {
                (**self).get_audio(id, dest).await
            }
            async fn audio_url(&self, id: &SongId, expires_in: Duration) -> StorageResult<String> {
                (**self).audio_url(id, expires_in).await
            }
            async fn has_audio(&self, id: &SongId) -> StorageResult<bool> {
                (**self).has_audio(id).await
            }
            async fn delete_audio(&self, id: &SongId) -> StorageResult<bool> {
                (**self).delete_audio(id).await
            }
            async fn put_embedding(&self, id: &SongId, embedding: &Embedding) -> StorageResult<()> {
                (**self).put_embedding(id, embedding).await
            }
            async fn get_embedding(
                &self,
                id: &SongId,
                model: &ModelInfo,
            ) -> StorageResult<Option<Embedding>> {
                (**self).get_embedding(id, model).await
            }
            async fn search(&self, query: &SearchQuery) -> StorageResult<Vec<Match>> {
                (**self).search(query).await
            }
            fn max_results(&self) -> usize {
                (**self).max_results()
            }
            async fn models(&self) -> StorageResult<Vec<ModelStats>> {
                (**self).models().await
            }
            async fn put_metadata(&self, metadata: &SongMetadata) -> StorageResult<()> {
                (**self).put_metadata(metadata).await
            }
            async fn get_metadata(&self, id: &SongId) -> StorageResult<Option<SongMetadata>> {
                (**self).get_metadata(id).await
            }
            async fn list(&self, query: &ListQuery) -> StorageResult<Page<SongMetadata>> {
                (**self).list(query).await
            }
            async fn count(&self, filter: &Filter) -> StorageResult<u64> {
                (**self).count(filter).await
            }
            async fn delete_song(&self, id: &SongId) -> StorageResult<bool> {
                (**self).delete_song(id).await
            }
            async fn put_songs(&self, songs: &[SongRecord]) -> StorageResult<BatchReport> {
                (**self).put_songs(songs).await
            }
            async fn get_metadata_many(&self, ids: &[SongId]) -> StorageResult<Vec<SongMetadata>> {
                (**self).get_metadata_many(ids).await
            }
            async fn list_versions(&self) -> StorageResult<Vec<VersionEntry>> {
                (**self).list_versions().await
            }
            async fn flush(&self) -> StorageResult<()> {
                (**self).flush().await
            }
        }
    };
}
forward_pointer!(Arc);
forward_pointer!(Box);

/// Conveniences over any [`StorageBackend`], written once (like `object_store`'s extension
/// traits): implemented for every backend, never overridden.
#[async_trait]
pub trait StorageBackendExt: StorageBackend {
    /// Every song matching `filter`, in id order, paging through [`StorageBackend::list`]
    /// with the largest page (one request per 1000 songs on a remote backend).
    async fn list_all(&self, filter: &Filter) -> StorageResult<Vec<SongMetadata>> {
        let mut out = Vec::new();
        let mut q = ListQuery {
            filter: filter.clone(),
            limit: crate::query::MAX_PAGE,
            ..ListQuery::default()
        };
        loop {
            let page = self.list(&q).await?;
            out.extend(page.items);
            match page.next {
                Some(c) => q.cursor = Some(c),
                None => return Ok(out),
            }
        }
    }

    /// Calls `f` with each page of songs matching `query` (its cursor is the start, its
    /// `limit` the page size) until the pages end or `f` returns `false`. Returns the pages
    /// seen. For walking a library without holding all of it.
    async fn for_each_page<F>(&self, query: &ListQuery, mut f: F) -> StorageResult<usize>
    where
        F: FnMut(Vec<SongMetadata>) -> bool + Send,
    {
        let mut q = query.clone();
        let mut pages = 0;
        loop {
            let page = self.list(&q).await?;
            pages += 1;
            if !f(page.items) {
                return Ok(pages);
            }
            match page.next {
                Some(c) => q.cursor = Some(c),
                None => return Ok(pages),
            }
        }
    }
}

impl<T: StorageBackend + ?Sized> StorageBackendExt for T {}
