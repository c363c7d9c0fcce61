//! A shared, type-erased backend usable where a sized [`StorageBackend`] is needed (to stack
//! layers such as [`songrec_storage::layers::MetricsRecorder`] over the factory's
//! `Arc<dyn StorageBackend>`).

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use songrec_storage::{
    BatchReport, Embedding, Filter, ListQuery, Match, ModelInfo, ModelStats, Page, PutOutcome,
    SearchQuery, SongId, SongMetadata, SongRecord, StorageBackend, StorageResult, VersionEntry,
};

/// `Arc<dyn StorageBackend>` as a backend of its own. `Display` is the inner stack's, so
/// `Metrics(Shared(x))` reads as `Metrics(x)`.
///
/// ```
/// use std::sync::Arc;
/// use songrec_server::shared::SharedBackend;
/// use songrec_storage::layers::{LayerExt, MetricsRecorder};
/// let dir = tempfile::tempdir().unwrap();
/// let local = songrec_local::LocalBackend::open(dir.path()).unwrap();
/// let b = SharedBackend::new(Arc::new(local)).layer(MetricsRecorder::new());
/// assert!(b.to_string().starts_with("Metrics(Local("), "{b}");
/// ```
#[derive(Clone, Debug)]
pub struct SharedBackend(pub Arc<dyn StorageBackend>);

impl SharedBackend {
    /// Wraps a shared backend.
    pub fn new(inner: Arc<dyn StorageBackend>) -> Self {
        Self(inner)
    }
}

impl fmt::Display for SharedBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl StorageBackend for SharedBackend {
    async fn put_audio(&self, id: &SongId, src: &Path) -> StorageResult<PutOutcome> {
        self.0.put_audio(id, src).await
    }
    async fn get_audio(&self, id: &SongId, dest: &Path) -> StorageResult<u64> {
        self.0.get_audio(id, dest).await
    }
    async fn audio_url(&self, id: &SongId, expires_in: Duration) -> StorageResult<String> {
        self.0.audio_url(id, expires_in).await
    }
    async fn has_audio(&self, id: &SongId) -> StorageResult<bool> {
        self.0.has_audio(id).await
    }
    async fn delete_audio(&self, id: &SongId) -> StorageResult<bool> {
        self.0.delete_audio(id).await
    }
    async fn put_embedding(&self, id: &SongId, embedding: &Embedding) -> StorageResult<()> {
        self.0.put_embedding(id, embedding).await
    }
    async fn get_embedding(
        &self,
        id: &SongId,
        model: &ModelInfo,
    ) -> StorageResult<Option<Embedding>> {
        self.0.get_embedding(id, model).await
    }
    async fn search(&self, query: &SearchQuery) -> StorageResult<Vec<Match>> {
        self.0.search(query).await
    }
    async fn models(&self) -> StorageResult<Vec<ModelStats>> {
        self.0.models().await
    }
    async fn put_metadata(&self, metadata: &SongMetadata) -> StorageResult<()> {
        self.0.put_metadata(metadata).await
    }
    async fn get_metadata(&self, id: &SongId) -> StorageResult<Option<SongMetadata>> {
        self.0.get_metadata(id).await
    }
    async fn list(&self, query: &ListQuery) -> StorageResult<Page<SongMetadata>> {
        self.0.list(query).await
    }
    async fn count(&self, filter: &Filter) -> StorageResult<u64> {
        self.0.count(filter).await
    }
    async fn delete_song(&self, id: &SongId) -> StorageResult<bool> {
        self.0.delete_song(id).await
    }
    async fn put_songs(&self, songs: &[SongRecord]) -> StorageResult<BatchReport> {
        self.0.put_songs(songs).await
    }
    async fn get_metadata_many(&self, ids: &[SongId]) -> StorageResult<Vec<SongMetadata>> {
        self.0.get_metadata_many(ids).await
    }
    async fn list_versions(&self) -> StorageResult<Vec<VersionEntry>> {
        self.0.list_versions().await
    }
    async fn flush(&self) -> StorageResult<()> {
        self.0.flush().await
    }
}
