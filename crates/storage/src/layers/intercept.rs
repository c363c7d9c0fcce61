//! What a layer is: the [`Layer`] config that wraps a backend, the [`Intercept`] trait of the
//! wrapper, and the roles of [`StorageBackend`] forwarded through it once for all layers.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;

use super::op::Op;
use crate::backend::{
    AudioStore, BatchReport, ChangeCursor, Changes, LibrarySummary, ModelStats, PlaylistStore,
    PutOutcome, SongCount, SongRecord, SongStore, StorageBackend, VectorStore, VersionLog,
};
use crate::error::StorageResult;
use crate::filter::Filter;
use crate::id::SongId;
use crate::metadata::{SongMetadata, VersionEntry};
use crate::model::{Embedding, ModelInfo};
use crate::playlist::SavedPlaylist;
use crate::query::{ListQuery, Match, Page, SearchQuery};

/// A layer configuration that wraps a backend `B` into a new backend.
pub trait Layer<B: StorageBackend> {
    /// The wrapped backend.
    type Output: StorageBackend;
    fn wrap(self, inner: B) -> Self::Output;
}

/// Stacks layers: `backend.layer(a).layer(b)` is `b(a(backend))`.
pub trait LayerExt: StorageBackend + Sized {
    /// Wraps `self` in `layer`.
    fn layer<L: Layer<Self>>(self, layer: L) -> L::Output {
        layer.wrap(self)
    }
}

impl<B: StorageBackend> LayerExt for B {}

/// What a layer is: the backend it wraps, and what it does around each call to it (retry it,
/// time it out, count it, refuse it while a circuit is open, inject faults). Every role of
/// [`StorageBackend`] is forwarded through it by the impls below, written once for all layers:
/// each method calls [`intercept`](Self::intercept) with its [`Op`] and a closure that calls the
/// inner backend's method of the same name. `max_results`, which is no call, is the inner
/// backend's.
///
/// `Arc` and `Box` are layers that do nothing around a call, so a shared or boxed backend
/// (`Arc<dyn StorageBackend>`, what the factory returns) is a backend too.
pub trait Intercept: Send + Sync {
    /// The wrapped backend.
    type Inner: StorageBackend + ?Sized;

    /// The wrapped backend (where the layer's calls go).
    fn inner(&self) -> &Self::Inner;

    /// Runs `call` (a call of the inner backend, which may be made again) as this layer does
    /// for `op`. Answers are owned values (`'static`), so a layer may look at them by type (the
    /// metrics layer counts the bytes of audio moved).
    fn intercept<T, F, Fut>(
        &self,
        op: Op,
        call: F,
    ) -> impl Future<Output = StorageResult<T>> + Send
    where
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = StorageResult<T>> + Send,
        T: Send + 'static;
}

/// `Arc` and `Box`: layers that do nothing around a call.
macro_rules! pointer_layer {
    ($($ptr:ty),*) => {$(
        impl<T: StorageBackend + ?Sized> Intercept for $ptr {
            type Inner = T;

            fn inner(&self) -> &T {
                self
            }

            fn intercept<R, F, Fut>(
                &self,
                _: Op,
                mut call: F,
            ) -> impl Future<Output = StorageResult<R>> + Send
            where
                F: FnMut() -> Fut + Send,
                Fut: Future<Output = StorageResult<R>> + Send,
                R: Send + 'static,
            {
                call()
            }
        }
    )*};
}
pointer_layer!(std::sync::Arc<T>, Box<T>);

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<L: Intercept> AudioStore for L {
    async fn put_audio(&self, id: &SongId, src: &Path) -> StorageResult<PutOutcome> {
        self.intercept(Op::PutAudio, || self.inner().put_audio(id, src))
            .await
    }

    async fn get_audio(&self, id: &SongId, dest: &Path) -> StorageResult<u64> {
        self.intercept(Op::GetAudio, || self.inner().get_audio(id, dest))
            .await
    }

    async fn audio_url(&self, id: &SongId, expires_in: Duration) -> StorageResult<String> {
        self.intercept(Op::AudioUrl, || self.inner().audio_url(id, expires_in))
            .await
    }

    async fn has_audio(&self, id: &SongId) -> StorageResult<bool> {
        self.intercept(Op::HasAudio, || self.inner().has_audio(id))
            .await
    }

    async fn delete_audio(&self, id: &SongId) -> StorageResult<bool> {
        self.intercept(Op::DeleteAudio, || self.inner().delete_audio(id))
            .await
    }

    async fn link_audio(&self, id: &SongId, path: &Path) -> StorageResult<PutOutcome> {
        self.intercept(Op::PutAudio, || self.inner().link_audio(id, path))
            .await
    }

    async fn link_audio_as(
        &self,
        key: &SongId,
        path: &Path,
        own: &SongId,
    ) -> StorageResult<PutOutcome> {
        self.intercept(Op::PutAudio, || self.inner().link_audio_as(key, path, own))
            .await
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<L: Intercept> VectorStore for L {
    async fn put_embedding(&self, id: &SongId, embedding: &Embedding) -> StorageResult<()> {
        self.intercept(Op::PutEmbedding, || {
            self.inner().put_embedding(id, embedding)
        })
        .await
    }

    async fn get_embedding(
        &self,
        id: &SongId,
        model: &ModelInfo,
    ) -> StorageResult<Option<Embedding>> {
        self.intercept(Op::GetEmbedding, || self.inner().get_embedding(id, model))
            .await
    }

    async fn search(&self, query: &SearchQuery) -> StorageResult<Vec<Match>> {
        self.intercept(Op::Search, || self.inner().search(query))
            .await
    }

    fn max_results(&self) -> usize {
        self.inner().max_results()
    }

    async fn models(&self) -> StorageResult<Vec<ModelStats>> {
        self.intercept(Op::Models, || self.inner().models()).await
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<L: Intercept> SongStore for L {
    async fn put_metadata(&self, metadata: &SongMetadata) -> StorageResult<()> {
        self.intercept(Op::PutMetadata, || self.inner().put_metadata(metadata))
            .await
    }

    async fn put_metadata_if(&self, metadata: &SongMetadata, expected: u64) -> StorageResult<()> {
        self.intercept(Op::PutMetadataIf, || {
            self.inner().put_metadata_if(metadata, expected)
        })
        .await
    }

    async fn get_metadata(&self, id: &SongId) -> StorageResult<Option<SongMetadata>> {
        self.intercept(Op::GetMetadata, || self.inner().get_metadata(id))
            .await
    }

    async fn get_metadata_many(&self, ids: &[SongId]) -> StorageResult<Vec<SongMetadata>> {
        self.intercept(Op::GetMetadataMany, || self.inner().get_metadata_many(ids))
            .await
    }

    async fn list(&self, query: &ListQuery) -> StorageResult<Page<SongMetadata>> {
        self.intercept(Op::List, || self.inner().list(query)).await
    }

    async fn count(&self, filter: &Filter) -> StorageResult<u64> {
        self.intercept(Op::Count, || self.inner().count(filter))
            .await
    }

    async fn quick_count(&self, filter: &Filter) -> StorageResult<SongCount> {
        self.intercept(Op::Count, || self.inner().quick_count(filter))
            .await
    }

    async fn delete_song(&self, id: &SongId) -> StorageResult<bool> {
        self.intercept(Op::DeleteSong, || self.inner().delete_song(id))
            .await
    }

    async fn put_songs(&self, songs: &[SongRecord]) -> StorageResult<BatchReport> {
        self.intercept(Op::PutSongs, || self.inner().put_songs(songs))
            .await
    }

    async fn flush(&self) -> StorageResult<()> {
        self.intercept(Op::Flush, || self.inner().flush()).await
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<L: Intercept> VersionLog for L {
    async fn list_versions(&self) -> StorageResult<Vec<VersionEntry>> {
        self.intercept(Op::ListVersions, || self.inner().list_versions())
            .await
    }

    async fn versions_of(&self, ids: &[SongId]) -> StorageResult<Vec<VersionEntry>> {
        self.intercept(Op::VersionsOf, || self.inner().versions_of(ids))
            .await
    }

    async fn ids_with_prefix(&self, prefix: &str, limit: usize) -> StorageResult<Vec<SongId>> {
        self.intercept(Op::IdsWithPrefix, || {
            self.inner().ids_with_prefix(prefix, limit)
        })
        .await
    }

    async fn changes_since(&self, since: Option<&ChangeCursor>) -> StorageResult<Option<Changes>> {
        self.intercept(Op::ChangesSince, || self.inner().changes_since(since))
            .await
    }

    async fn summary(&self) -> StorageResult<LibrarySummary> {
        self.intercept(Op::Summary, || self.inner().summary()).await
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<L: Intercept> PlaylistStore for L {
    async fn put_playlist(&self, playlist: &SavedPlaylist) -> StorageResult<()> {
        self.intercept(Op::PutPlaylist, || self.inner().put_playlist(playlist))
            .await
    }

    async fn get_playlist(&self, id: &str) -> StorageResult<Option<SavedPlaylist>> {
        self.intercept(Op::GetPlaylist, || self.inner().get_playlist(id))
            .await
    }

    async fn list_playlists(&self) -> StorageResult<Vec<SavedPlaylist>> {
        self.intercept(Op::ListPlaylists, || self.inner().list_playlists())
            .await
    }
}

/// Makes `$ty<B>` the layer `$config` builds, shown as `$name(inner)`, whose
/// [`Intercept::intercept`] is its `$run` method.
macro_rules! layer_of {
    ($config:ident => $ty:ident, $run:ident, $name:literal) => {
        impl<B: $crate::backend::StorageBackend> $crate::layers::intercept::Layer<B> for $config {
            type Output = $ty<B>;
            fn wrap(self, inner: B) -> $ty<B> {
                $ty::new(inner, self)
            }
        }
        impl<B: std::fmt::Display> std::fmt::Display for $ty<B> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!($name, "({})"), self.inner)
            }
        }
        impl<B: $crate::backend::StorageBackend> $crate::layers::intercept::Intercept for $ty<B> {
            type Inner = B;
            fn inner(&self) -> &B {
                &self.inner
            }
            fn intercept<T, F, Fut>(
                &self,
                op: $crate::layers::op::Op,
                call: F,
            ) -> impl std::future::Future<Output = $crate::error::StorageResult<T>> + Send
            where
                F: FnMut() -> Fut + Send,
                Fut: std::future::Future<Output = $crate::error::StorageResult<T>> + Send,
                T: Send + 'static,
            {
                self.$run(op, call)
            }
        }
    };
}
pub(crate) use layer_of;
