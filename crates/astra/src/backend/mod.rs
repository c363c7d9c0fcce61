//! [`AstraBackend`]: songrec's [`StorageBackend`] on the Astra DB Data API (metadata and
//! vectors) plus S3-compatible object storage (audio).
//!
//! Layout (see `migrations/astra/README.md`): a songs collection with every song's canonical
//! metadata, version and tombstone (plus the model registry), and one cosine vector collection
//! per embedding model whose documents carry a copy of the song's metadata, so a filtered
//! similarity search is a single `find` request.
//!
//! | operation | requests |
//! |---|---|
//! | `search` (cosine, any pushed-down filter) | 1 |
//! | `search` (dot / l2, or a range filter on a multi-valued `extra` field) | one per page of candidates (exact, slower) |
//! | `put_songs` (n new songs, m models) | ≈ (m + 1) · ⌈n / chunk⌉ (chunk ≤ 100); re-puts add one upsert per existing document |
//! | `put_metadata` | 1 + one per registered model |
//! | `count` | 1 (≤ 1000 matches), else 1 + 16 (+ 16 per group above 1000) |
//! | `list` (any sort, any size) | ⌈limit / page⌉ + 2 (estimate, key sample) (+1 per window boundary crossed) |
//! | `list_versions` | one per page of 20–50 songs |
//! | `changes_since` (a cursor) | 1 (the clock) + one per page of 20–50 changed songs (+1 when nothing changed) |
//! | `changes_since(None)` (before a full listing) | 2 (+ one per page of unstamped songs of older versions) |
//! | `versions_of` | one per 100 ids |
//!
//! Writers are assumed to be one process at a time per library (as with the local backend);
//! concurrent writers of the same song may leave a stale metadata copy in a vector collection.
//!
//! This module holds the struct and the [`StorageBackend`] implementation, whose methods
//! delegate to the submodules:
//!
//! - `connection`: [`AstraOptions`], [`AstraBackend::connect`] and accessors.
//! - `registry`: [`AstraBackend::init`] and the model registry (names and templates in
//!   `schema`).
//! - `writes`: storing vectors, metadata and batches of songs; deleting songs.
//! - `listing`: reading metadata, listings and their cursors, counts, versions.
//! - `search`: reading vectors and similarity search (ANN or exact scan).
//! - `docs` (document layout), `filter` (filters translated to the Data API), `errors` (error
//!   mapping), `doctor` (`songrec doctor` checks).

mod connection;
mod docs;
mod doctor;
mod errors;
mod feed;
mod filter;
mod listing;
mod registry;
mod schema;
mod search;
mod writes;

use std::fmt;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value, json};
use songrec_storage::{
    BatchReport, ChangeCursor, Changes, Embedding, Filter, ListQuery, Match, ModelInfo, ModelStats,
    Page, PutOutcome, SearchQuery, SongId, SongMetadata, SongRecord, StorageBackend, StorageError,
    StorageResult, VersionEntry,
};
use tokio::sync::Mutex;

use crate::blobs::{self, BlobStore};
use crate::dataapi::{Collection, DataApiClient};

pub use connection::{AstraOptions, S3Options};
pub use doctor::{CheckStatus, DoctorCheck, DoctorReport, doctor, names as doctor_checks};
pub use feed::OVERLAP_MS;
pub use schema::InitReport;

use schema::Registry;

/// Documents per `insertMany` request used by [`AstraBackend::connect`] (the server maximum).
pub const INSERT_CHUNK: usize = 100;
/// Concurrent single-document upserts (re-puts) and count partitions.
const CONCURRENCY: usize = 8;

/// songrec's storage on Astra DB (Data API) + S3.
///
/// ```no_run
/// # async fn demo(opts: songrec_astra::AstraOptions) -> songrec_storage::StorageResult<()> {
/// use songrec_astra::AstraBackend;
/// use songrec_storage::{Filter, StorageBackend};
///
/// AstraBackend::init(&opts, &[]).await?; // once: creates the collections
/// let backend = AstraBackend::connect(&opts)?;
/// println!("{backend}: {} songs", backend.count(&Filter::default()).await?);
/// # Ok(()) }
/// ```
pub struct AstraBackend {
    client: DataApiClient,
    blobs: BlobStore,
    prefix: String,
    songs: Collection,
    display: String,
    registry: Mutex<Option<Registry>>,
    /// See [`AstraBackend::with_feed_overlap`].
    feed_overlap_ms: i64,
    /// See [`AstraBackend::with_sort_cap`].
    sort_cap: f64,
    /// Whether this process found every song's title and artist sort keys of the current form
    /// ([`docs::SORT_KEYS_VERSION`]).
    sort_keys_checked: std::sync::atomic::AtomicBool,
    /// Whether this process said that older sort keys make it sort listings itself.
    sort_keys_warned: std::sync::atomic::AtomicBool,
}

impl fmt::Debug for AstraBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AstraBackend")
            .field("display", &self.display)
            .field("prefix", &self.prefix)
            .field("client", &self.client)
            .field("blobs", &self.blobs)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for AstraBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

fn id_filter(id: &SongId) -> Value {
    json!({"_id": id.as_str()})
}

fn base(key: &str, value: Value) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(key.into(), value);
    m
}

#[async_trait]
impl StorageBackend for AstraBackend {
    async fn put_audio(&self, id: &SongId, src: &Path) -> StorageResult<PutOutcome> {
        let out = self
            .blobs
            .put_file(id.as_str(), src)
            .await
            .map_err(|e| errors::blob(e, id))?;
        Ok(match out {
            blobs::PutOutcome::Uploaded { bytes, .. } => PutOutcome {
                bytes,
                already_present: false,
            },
            blobs::PutOutcome::AlreadyPresent => PutOutcome {
                bytes: tokio::fs::metadata(src)
                    .await
                    .map_err(|e| StorageError::io(src, e))?
                    .len(),
                already_present: true,
            },
        })
    }

    async fn get_audio(&self, id: &SongId, dest: &Path) -> StorageResult<u64> {
        self.blobs
            .get_to_file(id.as_str(), dest)
            .await
            .map_err(|e| errors::blob(e, id))
    }

    async fn audio_url(&self, id: &SongId, expires_in: Duration) -> StorageResult<String> {
        self.blobs
            .presigned_get_url(id.as_str(), expires_in)
            .await
            .map(String::from)
            .map_err(|e| errors::blob(e, id))
    }

    async fn has_audio(&self, id: &SongId) -> StorageResult<bool> {
        self.blobs
            .exists(id.as_str())
            .await
            .map_err(|e| errors::blob(e, id))
    }

    async fn delete_audio(&self, id: &SongId) -> StorageResult<bool> {
        if !self.has_audio(id).await? {
            return Ok(false);
        }
        self.blobs
            .delete(id.as_str())
            .await
            .map_err(|e| errors::blob(e, id))?;
        Ok(true)
    }

    async fn put_embedding(&self, id: &SongId, embedding: &Embedding) -> StorageResult<()> {
        self.store_embedding(id, embedding).await
    }

    async fn get_embedding(
        &self,
        id: &SongId,
        model: &ModelInfo,
    ) -> StorageResult<Option<Embedding>> {
        self.read_embedding(id, model).await
    }

    /// The Data API's vector-search cap.
    fn max_results(&self) -> usize {
        songrec_storage::query::MAX_RESULTS
    }

    async fn search(&self, query: &SearchQuery) -> StorageResult<Vec<Match>> {
        self.find_similar(query).await
    }

    async fn models(&self) -> StorageResult<Vec<ModelStats>> {
        self.model_stats().await
    }

    async fn put_metadata(&self, metadata: &SongMetadata) -> StorageResult<()> {
        self.store_metadata(metadata).await
    }

    async fn get_metadata(&self, id: &SongId) -> StorageResult<Option<SongMetadata>> {
        self.read_metadata(id).await
    }

    async fn list(&self, query: &ListQuery) -> StorageResult<Page<SongMetadata>> {
        self.list_page(query).await
    }

    async fn count(&self, filter: &Filter) -> StorageResult<u64> {
        self.count_songs(filter).await
    }

    async fn quick_count(&self, filter: &Filter) -> StorageResult<songrec_storage::SongCount> {
        self.quick_count_songs(filter).await
    }

    async fn delete_song(&self, id: &SongId) -> StorageResult<bool> {
        self.remove_song(id).await
    }

    async fn put_songs(&self, songs: &[SongRecord]) -> StorageResult<BatchReport> {
        self.store_songs(songs).await
    }

    async fn get_metadata_many(&self, ids: &[SongId]) -> StorageResult<Vec<SongMetadata>> {
        self.read_metadata_many(ids).await
    }

    async fn list_versions(&self) -> StorageResult<Vec<VersionEntry>> {
        self.read_versions().await
    }

    async fn versions_of(&self, ids: &[SongId]) -> StorageResult<Vec<VersionEntry>> {
        self.read_versions_of(ids).await
    }

    /// See the `feed` module: `changed_at` stamps (server time), a clock document with an
    /// epoch, an overlap of [`OVERLAP_MS`].
    async fn changes_since(&self, since: Option<&ChangeCursor>) -> StorageResult<Option<Changes>> {
        self.read_changes(since).await
    }

    /// One unsorted walk of the songs collection: the Data API has no aggregation.
    async fn summary(&self) -> StorageResult<songrec_storage::LibrarySummary> {
        self.summarize().await
    }

    async fn flush(&self) -> StorageResult<()> {
        Ok(())
    }
}
