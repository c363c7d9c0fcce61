//! The storage roles of [`AstraBackend`] (a `StorageBackend` through them): each method calls
//! the method of the same name of [`Ops`], written in `audio`, `writes`, `listing`, `search`,
//! `registry`, `feed` and `playlists`. `Ops` implements no role and is called by path (no
//! auto-deref), so a missing method is a compile error, never a call of the role's method
//! itself (an endless recursion).

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use songrec_storage::backend::{
    AudioStore, BatchReport, ChangeCursor, Changes, LibrarySummary, ModelStats, PlaylistStore,
    PutOutcome, SongCount, SongRecord, SongStore, VectorStore, VersionLog,
};
use songrec_storage::query::{ListQuery, Match, Page, SearchQuery};
use songrec_storage::{
    Embedding, Filter, ModelInfo, SavedPlaylist, SongId, SongMetadata, StorageError, StorageResult,
    VersionEntry,
};

use super::handle::AstraBackend;

/// The backend's operations: one inherent method per trait method (the backend's own fields
/// and helpers through `Deref`).
pub(super) struct Ops<'a>(&'a AstraBackend);

impl std::ops::Deref for Ops<'_> {
    type Target = AstraBackend;

    fn deref(&self) -> &AstraBackend {
        self.0
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl AudioStore for AstraBackend {
    async fn put_audio(&self, id: &SongId, src: &Path) -> StorageResult<PutOutcome> {
        Ops::put_audio(&Ops(self), id, src).await
    }

    async fn get_audio(&self, id: &SongId, dest: &Path) -> StorageResult<u64> {
        Ops::get_audio(&Ops(self), id, dest).await
    }

    async fn audio_url(&self, id: &SongId, expires_in: Duration) -> StorageResult<String> {
        Ops::audio_url(&Ops(self), id, expires_in).await
    }

    async fn has_audio(&self, id: &SongId) -> StorageResult<bool> {
        Ops::has_audio(&Ops(self), id).await
    }

    async fn delete_audio(&self, id: &SongId) -> StorageResult<bool> {
        Ops::delete_audio(&Ops(self), id).await
    }

    async fn link_audio(&self, id: &SongId, path: &Path) -> StorageResult<PutOutcome> {
        Ops::link_audio(&Ops(self), id, path).await
    }

    async fn link_audio_as(
        &self,
        key: &SongId,
        path: &Path,
        own: &SongId,
    ) -> StorageResult<PutOutcome> {
        Ops::link_audio_as(&Ops(self), key, path, own).await
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl VectorStore for AstraBackend {
    async fn put_embedding(&self, id: &SongId, embedding: &Embedding) -> StorageResult<()> {
        Ops::put_embedding(&Ops(self), id, embedding).await
    }

    async fn get_embedding(
        &self,
        id: &SongId,
        model: &ModelInfo,
    ) -> StorageResult<Option<Embedding>> {
        Ops::get_embedding(&Ops(self), id, model).await
    }

    async fn search(&self, query: &SearchQuery) -> StorageResult<Vec<Match>> {
        Ops::search(&Ops(self), query).await
    }

    /// The Data API's vector-search cap.
    fn max_results(&self) -> usize {
        songrec_storage::query::MAX_RESULTS
    }

    async fn models(&self) -> StorageResult<Vec<ModelStats>> {
        Ops::models(&Ops(self)).await
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl SongStore for AstraBackend {
    async fn put_metadata(&self, metadata: &SongMetadata) -> StorageResult<()> {
        Ops::put_metadata(&Ops(self), metadata).await
    }

    async fn put_metadata_if(&self, metadata: &SongMetadata, expected: u64) -> StorageResult<()> {
        Ops::put_metadata_if(&Ops(self), metadata, expected).await
    }

    async fn get_metadata(&self, id: &SongId) -> StorageResult<Option<SongMetadata>> {
        Ops::get_metadata(&Ops(self), id).await
    }

    async fn get_metadata_many(&self, ids: &[SongId]) -> StorageResult<Vec<SongMetadata>> {
        Ops::get_metadata_many(&Ops(self), ids).await
    }

    async fn list(&self, query: &ListQuery) -> StorageResult<Page<SongMetadata>> {
        Ops::list(&Ops(self), query).await
    }

    async fn count(&self, filter: &Filter) -> StorageResult<u64> {
        Ops::count(&Ops(self), filter).await
    }

    async fn quick_count(&self, filter: &Filter) -> StorageResult<SongCount> {
        Ops::quick_count(&Ops(self), filter).await
    }

    async fn delete_song(&self, id: &SongId) -> StorageResult<bool> {
        Ops::delete_song(&Ops(self), id).await
    }

    async fn put_songs(&self, songs: &[SongRecord]) -> StorageResult<BatchReport> {
        Ops::put_songs(&Ops(self), songs).await
    }

    async fn flush(&self) -> StorageResult<()> {
        Ops::flush(&Ops(self)).await
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl VersionLog for AstraBackend {
    async fn list_versions(&self) -> StorageResult<Vec<VersionEntry>> {
        Ops::list_versions(&Ops(self)).await
    }

    async fn versions_of(&self, ids: &[SongId]) -> StorageResult<Vec<VersionEntry>> {
        Ops::versions_of(&Ops(self), ids).await
    }

    async fn ids_with_prefix(&self, prefix: &str, limit: usize) -> StorageResult<Vec<SongId>> {
        Ops::ids_with_prefix(&Ops(self), prefix, limit).await
    }

    async fn changes_since(&self, since: Option<&ChangeCursor>) -> StorageResult<Option<Changes>> {
        Ops::changes_since(&Ops(self), since).await
    }

    async fn summary(&self) -> StorageResult<LibrarySummary> {
        Ops::summary(&Ops(self)).await
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl PlaylistStore for AstraBackend {
    async fn put_playlist(&self, playlist: &SavedPlaylist) -> StorageResult<()> {
        Ops::put_playlist(&Ops(self), playlist).await
    }

    async fn get_playlist(&self, id: &str) -> StorageResult<Option<SavedPlaylist>> {
        Ops::get_playlist(&Ops(self), id).await
    }

    async fn list_playlists(&self) -> StorageResult<Vec<SavedPlaylist>> {
        Ops::list_playlists(&Ops(self)).await
    }
}

impl Ops<'_> {
    /// The cloud holds copies only: a user's file is uploaded.
    pub(super) async fn link_audio(&self, id: &SongId, path: &Path) -> StorageResult<PutOutcome> {
        self.put_audio(id, path).await
    }

    /// The cloud keeps each song's own bytes: another file of the same recording is not kept.
    pub(super) async fn link_audio_as(
        &self,
        _key: &SongId,
        _path: &Path,
        _own: &SongId,
    ) -> StorageResult<PutOutcome> {
        Err(StorageError::Unsupported(
            "the cloud keeps each song's own bytes, not another file of the same recording".into(),
        ))
    }

    /// Nothing to flush: every write is sent when it is made.
    pub(super) async fn flush(&self) -> StorageResult<()> {
        Ok(())
    }
}
