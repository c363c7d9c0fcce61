//! Composable layers over any [`StorageBackend`], in the style of OpenDAL's layers.
//!
//! Each layer wraps a backend, implements [`StorageBackend`] itself by delegating every
//! method, and shows the whole stack in its `Display` (`Retry(Timeout(Metrics(Memory)))`).
//! [`LayerExt::layer`] stacks them like a list, innermost first:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! # #[cfg(feature = "conformance")] {
//! use std::time::Duration;
//! use songrec_storage::StorageBackend;
//! use songrec_storage::layers::{LayerExt, MetricsRecorder, Retry, Timeout, testing::MemoryBackend};
//! let metrics = MetricsRecorder::new();
//! let backend = MemoryBackend::new()
//!     .layer(metrics.clone())
//!     .layer(Timeout::new(Duration::from_secs(30)))
//!     .layer(Retry::default());
//! assert_eq!(backend.to_string(), "Retry(Timeout(Metrics(Memory)))");
//! backend.flush().await.unwrap();
//! assert_eq!(metrics.metrics().op("flush").unwrap().calls, 1);
//! # } }
//! ```
//!
//! Retry-safety: every operation of the trait may be repeated. Writes are idempotent by design
//! (content-addressed audio, upserts, deletes), so a repeated write leaves the same state; only
//! the *answer* of `put_audio` (`already_present`), `delete_audio` and `delete_song` (`bool`)
//! can differ when an earlier attempt's acknowledgement was lost. [`RetryLayer`] passes such
//! answers through unchanged (the state is what the caller asked for either way, and rewriting
//! `false` to `true` would misreport deletes of unknown songs), and [`ChaosLayer`] therefore
//! only injects "lost ack" faults into writes whose repeat gives an identical answer.

// Fault injection: test tooling, compiled only for tests and with the `test-hooks` feature.
#[cfg(any(test, feature = "test-hooks"))]
mod chaos;
mod circuit;
#[cfg(any(test, feature = "test-hooks"))]
mod crash;
mod metrics;
mod retry;
#[cfg(any(test, feature = "conformance"))]
pub mod testing;
mod timeout;

#[cfg(any(test, feature = "test-hooks"))]
pub use chaos::{Chaos, ChaosLayer};
pub use circuit::{CircuitBreaker, CircuitBreakerLayer};
#[cfg(any(test, feature = "test-hooks"))]
pub use crash::{CrashAction, CrashLayer, CrashPoint, kill_self};
pub use metrics::{Metrics, MetricsLayer, MetricsRecorder, OpMetrics};
pub use retry::{Retry, RetryLayer};
pub use timeout::{Timeout, TimeoutLayer};

use crate::backend::{BatchReport, Changes, ModelStats, PutOutcome, StorageBackend};
use crate::metadata::{SongMetadata, VersionEntry};
use crate::model::Embedding;
use crate::query::{Match, Page};

/// A layer configuration that wraps a backend `B` into a new backend.
pub trait Layer<B: StorageBackend> {
    /// The wrapped backend.
    type Output: StorageBackend;
    /// Wraps `inner`.
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

/// The trait's operations, as seen by layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum Op {
    PutAudio,
    GetAudio,
    AudioUrl,
    HasAudio,
    DeleteAudio,
    PutEmbedding,
    GetEmbedding,
    Search,
    Models,
    PutMetadata,
    GetMetadata,
    List,
    Count,
    DeleteSong,
    PutSongs,
    GetMetadataMany,
    ListVersions,
    VersionsOf,
    IdsWithPrefix,
    ChangesSince,
    Summary,
    Flush,
}

impl Op {
    /// The trait method's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::PutAudio => "put_audio",
            Self::GetAudio => "get_audio",
            Self::AudioUrl => "audio_url",
            Self::HasAudio => "has_audio",
            Self::DeleteAudio => "delete_audio",
            Self::PutEmbedding => "put_embedding",
            Self::GetEmbedding => "get_embedding",
            Self::Search => "search",
            Self::Models => "models",
            Self::PutMetadata => "put_metadata",
            Self::GetMetadata => "get_metadata",
            Self::List => "list",
            Self::Count => "count",
            Self::DeleteSong => "delete_song",
            Self::PutSongs => "put_songs",
            Self::GetMetadataMany => "get_metadata_many",
            Self::ListVersions => "list_versions",
            Self::VersionsOf => "versions_of",
            Self::IdsWithPrefix => "ids_with_prefix",
            Self::ChangesSince => "changes_since",
            Self::Summary => "summary",
            Self::Flush => "flush",
        }
    }

    /// Whether repeating the write after it succeeded returns exactly the same answer.
    pub fn repeat_gives_same_answer(self) -> bool {
        matches!(
            self,
            Self::PutEmbedding | Self::PutMetadata | Self::PutSongs | Self::Flush
        )
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Audio bytes moved by a successful call (for [`MetricsLayer`]).
pub(crate) trait Outcome {
    fn audio_bytes(&self, _op: Op) -> u64 {
        0
    }
}
impl Outcome for PutOutcome {
    fn audio_bytes(&self, _op: Op) -> u64 {
        if self.already_present { 0 } else { self.bytes }
    }
}
impl Outcome for u64 {
    fn audio_bytes(&self, op: Op) -> u64 {
        if op == Op::GetAudio { *self } else { 0 }
    }
}
impl Outcome for () {}
impl Outcome for bool {}
impl Outcome for String {}
impl Outcome for Option<Embedding> {}
impl Outcome for Option<SongMetadata> {}
impl Outcome for Vec<Match> {}
impl Outcome for Vec<ModelStats> {}
impl Outcome for Vec<SongMetadata> {}
impl Outcome for Vec<VersionEntry> {}
impl Outcome for Page<SongMetadata> {}
impl Outcome for BatchReport {}
impl Outcome for Option<Changes> {}
impl Outcome for crate::backend::LibrarySummary {}
impl Outcome for crate::backend::SongCount {}
impl Outcome for Vec<crate::id::SongId> {}

/// Implements [`StorageBackend`] for `$ty<B>` by routing every method through
/// `self.$run(op, || self.inner.method(args))`.
macro_rules! delegate_backend {
    ($ty:ident, $run:ident) => {
        #[async_trait::async_trait]
        #[deny(clippy::missing_trait_methods)]
        impl<B: $crate::backend::StorageBackend> $crate::backend::StorageBackend for $ty<B> {
            async fn put_audio(
                &self,
                id: &$crate::id::SongId,
                src: &std::path::Path,
            ) -> $crate::error::StorageResult<$crate::backend::PutOutcome> {
                self.$run($crate::layers::Op::PutAudio, || {
                    self.inner.put_audio(id, src)
                })
                .await
            }
            async fn get_audio(
                &self,
                id: &$crate::id::SongId,
                dest: &std::path::Path,
            ) -> $crate::error::StorageResult<u64> {
                self.$run($crate::layers::Op::GetAudio, || {
                    self.inner.get_audio(id, dest)
                })
                .await
            }
            async fn audio_url(
                &self,
                id: &$crate::id::SongId,
                expires_in: std::time::Duration,
            ) -> $crate::error::StorageResult<String> {
                self.$run($crate::layers::Op::AudioUrl, || {
                    self.inner.audio_url(id, expires_in)
                })
                .await
            }
            async fn has_audio(
                &self,
                id: &$crate::id::SongId,
            ) -> $crate::error::StorageResult<bool> {
                self.$run($crate::layers::Op::HasAudio, || self.inner.has_audio(id))
                    .await
            }
            async fn delete_audio(
                &self,
                id: &$crate::id::SongId,
            ) -> $crate::error::StorageResult<bool> {
                self.$run($crate::layers::Op::DeleteAudio, || {
                    self.inner.delete_audio(id)
                })
                .await
            }
            async fn put_embedding(
                &self,
                id: &$crate::id::SongId,
                embedding: &$crate::model::Embedding,
            ) -> $crate::error::StorageResult<()> {
                self.$run($crate::layers::Op::PutEmbedding, || {
                    self.inner.put_embedding(id, embedding)
                })
                .await
            }
            async fn get_embedding(
                &self,
                id: &$crate::id::SongId,
                model: &$crate::model::ModelInfo,
            ) -> $crate::error::StorageResult<Option<$crate::model::Embedding>> {
                self.$run($crate::layers::Op::GetEmbedding, || {
                    self.inner.get_embedding(id, model)
                })
                .await
            }
            async fn search(
                &self,
                query: &$crate::query::SearchQuery,
            ) -> $crate::error::StorageResult<Vec<$crate::query::Match>> {
                self.$run($crate::layers::Op::Search, || self.inner.search(query))
                    .await
            }
            fn max_results(&self) -> usize {
                self.inner.max_results()
            }
            async fn models(
                &self,
            ) -> $crate::error::StorageResult<Vec<$crate::backend::ModelStats>> {
                self.$run($crate::layers::Op::Models, || self.inner.models())
                    .await
            }
            async fn put_metadata(
                &self,
                metadata: &$crate::metadata::SongMetadata,
            ) -> $crate::error::StorageResult<()> {
                self.$run($crate::layers::Op::PutMetadata, || {
                    self.inner.put_metadata(metadata)
                })
                .await
            }
            async fn get_metadata(
                &self,
                id: &$crate::id::SongId,
            ) -> $crate::error::StorageResult<Option<$crate::metadata::SongMetadata>> {
                self.$run($crate::layers::Op::GetMetadata, || {
                    self.inner.get_metadata(id)
                })
                .await
            }
            async fn list(
                &self,
                query: &$crate::query::ListQuery,
            ) -> $crate::error::StorageResult<$crate::query::Page<$crate::metadata::SongMetadata>>
            {
                self.$run($crate::layers::Op::List, || self.inner.list(query))
                    .await
            }
            async fn count(
                &self,
                filter: &$crate::filter::Filter,
            ) -> $crate::error::StorageResult<u64> {
                self.$run($crate::layers::Op::Count, || self.inner.count(filter))
                    .await
            }
            async fn quick_count(
                &self,
                filter: &$crate::filter::Filter,
            ) -> $crate::error::StorageResult<$crate::backend::SongCount> {
                self.$run($crate::layers::Op::Count, || self.inner.quick_count(filter))
                    .await
            }
            async fn delete_song(
                &self,
                id: &$crate::id::SongId,
            ) -> $crate::error::StorageResult<bool> {
                self.$run($crate::layers::Op::DeleteSong, || {
                    self.inner.delete_song(id)
                })
                .await
            }
            async fn put_songs(
                &self,
                songs: &[$crate::backend::SongRecord],
            ) -> $crate::error::StorageResult<$crate::backend::BatchReport> {
                self.$run($crate::layers::Op::PutSongs, || self.inner.put_songs(songs))
                    .await
            }
            async fn get_metadata_many(
                &self,
                ids: &[$crate::id::SongId],
            ) -> $crate::error::StorageResult<Vec<$crate::metadata::SongMetadata>> {
                self.$run($crate::layers::Op::GetMetadataMany, || {
                    self.inner.get_metadata_many(ids)
                })
                .await
            }
            async fn list_versions(
                &self,
            ) -> $crate::error::StorageResult<Vec<$crate::metadata::VersionEntry>> {
                self.$run($crate::layers::Op::ListVersions, || {
                    self.inner.list_versions()
                })
                .await
            }
            async fn versions_of(
                &self,
                ids: &[$crate::id::SongId],
            ) -> $crate::error::StorageResult<Vec<$crate::metadata::VersionEntry>> {
                self.$run($crate::layers::Op::VersionsOf, || {
                    self.inner.versions_of(ids)
                })
                .await
            }
            async fn ids_with_prefix(
                &self,
                prefix: &str,
                limit: usize,
            ) -> $crate::error::StorageResult<Vec<$crate::id::SongId>> {
                self.$run($crate::layers::Op::IdsWithPrefix, || {
                    self.inner.ids_with_prefix(prefix, limit)
                })
                .await
            }
            async fn changes_since(
                &self,
                since: Option<&$crate::backend::ChangeCursor>,
            ) -> $crate::error::StorageResult<Option<$crate::backend::Changes>> {
                self.$run($crate::layers::Op::ChangesSince, || {
                    self.inner.changes_since(since)
                })
                .await
            }
            async fn summary(
                &self,
            ) -> $crate::error::StorageResult<$crate::backend::LibrarySummary> {
                self.$run($crate::layers::Op::Summary, || self.inner.summary())
                    .await
            }
            async fn flush(&self) -> $crate::error::StorageResult<()> {
                self.$run($crate::layers::Op::Flush, || self.inner.flush())
                    .await
            }
        }
    };
}
pub(crate) use delegate_backend;

#[cfg(test)]
mod tests;
