//! Composable layers over any [`StorageBackend`], in the style of OpenDAL's layers.
//!
//! Each layer wraps a backend, implements [`StorageBackend`] itself by delegating every
//! method, and shows the whole stack in its `Display` (`Retry(Timeout(Metrics(Memory)))`).
//! [`LayerExt::layer`] stacks them like a list, innermost first:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use std::time::Duration;
//! use songrec_storage::StorageBackend;
//! use songrec_storage::layers::{LayerExt, MetricsRecorder, Retry, Timeout};
//! use songrec_conformance::MemoryBackend;
//! let metrics = MetricsRecorder::new();
//! let backend = MemoryBackend::new()
//!     .layer(metrics.clone())
//!     .layer(Timeout::new(Duration::from_secs(30)))
//!     .layer(Retry::default());
//! assert_eq!(backend.to_string(), "Retry(Timeout(Metrics(Memory)))");
//! backend.flush().await.unwrap();
//! assert_eq!(metrics.metrics().op("flush").unwrap().calls, 1);
//! # }
//! ```
//!
//! Retry-safety: every operation of the trait may be repeated. Writes are idempotent by design
//! (content-addressed audio, upserts, deletes), so a repeated write leaves the same state; only
//! the *answer* of `put_audio` (`already_present`), `delete_audio` and `delete_song` (`bool`)
//! can differ when an earlier attempt's acknowledgement was lost. [`RetryLayer`] passes such
//! answers through unchanged (the state is what the caller asked for either way, and rewriting
//! `false` to `true` would misreport deletes of unknown songs), and `ChaosLayer` therefore
//! only injects "lost ack" faults into writes whose repeat gives an identical answer.

// Fault injection: test tooling, compiled only for tests and with the `test-hooks` feature.
#[cfg(any(test, feature = "test-hooks"))]
mod chaos;
mod circuit;
#[cfg(any(test, feature = "test-hooks"))]
mod crash;
mod metrics;
mod retry;
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

/// Declares [`Op`] and its names (the trait method each variant stands for).
macro_rules! ops {
    ($($op:ident $name:literal,)*) => {
        /// The trait's operations, as seen by layers.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[allow(missing_docs)]
        pub enum Op {
            $($op,)*
        }

        impl Op {
            /// The trait method's name.
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$op => $name,)*
                }
            }
        }
    };
}

ops! {
    PutAudio "put_audio",
    GetAudio "get_audio",
    AudioUrl "audio_url",
    HasAudio "has_audio",
    DeleteAudio "delete_audio",
    PutEmbedding "put_embedding",
    GetEmbedding "get_embedding",
    Search "search",
    Models "models",
    PutMetadata "put_metadata",
    GetMetadata "get_metadata",
    List "list",
    Count "count",
    DeleteSong "delete_song",
    PutPlaylist "put_playlist",
    GetPlaylist "get_playlist",
    ListPlaylists "list_playlists",
    PutSongs "put_songs",
    GetMetadataMany "get_metadata_many",
    ListVersions "list_versions",
    VersionsOf "versions_of",
    IdsWithPrefix "ids_with_prefix",
    ChangesSince "changes_since",
    Summary "summary",
    Flush "flush",
}

impl Op {
    /// Whether repeating the write after it succeeded returns exactly the same answer.
    pub fn repeat_gives_same_answer(self) -> bool {
        matches!(
            self,
            Self::PutEmbedding
                | Self::PutMetadata
                | Self::PutPlaylist
                | Self::PutSongs
                | Self::Flush
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
impl Outcome for Option<crate::playlist::SavedPlaylist> {}
impl Outcome for Vec<crate::playlist::SavedPlaylist> {}

/// Makes `$ty<B>` the layer that `$config` builds ([`Layer`] through `$ty::new(inner, config)`),
/// shown as `$name(inner)`, with an `inner()` accessor, and implements [`StorageBackend`] for
/// it by routing every method through `self.$run(op, || self.inner.method(args))`; the methods
/// come from `backend_methods!`.
macro_rules! delegate_backend {
    ($config:ident => $ty:ident, $run:ident, $name:literal) => {
        impl<B: $crate::backend::StorageBackend> $crate::layers::Layer<B> for $config {
            type Output = $ty<B>;
            fn wrap(self, inner: B) -> $ty<B> {
                $ty::new(inner, self)
            }
        }
        impl<B> $ty<B> {
            pub fn inner(&self) -> &B {
                &self.inner
            }
        }
        impl<B: std::fmt::Display> std::fmt::Display for $ty<B> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!($name, "({})"), self.inner)
            }
        }
        $crate::backend_methods!(delegate_backend! { @impl $ty, $run; });
    };
    (@impl $ty:ident, $run:ident; $($name:ident($($arg:ident: $argty:ty),*) -> $out:ty, $op:ident;)*) => {
        #[async_trait::async_trait]
        #[deny(clippy::missing_trait_methods)]
        impl<B: $crate::backend::StorageBackend> $crate::backend::StorageBackend for $ty<B> {
            $(async fn $name(&self, $($arg: $argty),*) -> $crate::error::StorageResult<$out> {
                self.$run($crate::layers::Op::$op, || self.inner.$name($($arg),*)).await
            })*
            fn max_results(&self) -> usize {
                self.inner.max_results()
            }
        }
    };
}
pub(crate) use delegate_backend;
