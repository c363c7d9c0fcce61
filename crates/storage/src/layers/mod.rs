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
//! Every operation may be repeated: writes are idempotent, and only the answer of `put_audio`
//! and the deletes can differ after a lost acknowledgement (see [`RetryLayer`]). The one
//! exception is `put_metadata_if`, a compare-and-set: repeated after a lost acknowledgement
//! and another writer's change, it answers a conflict although it landed.

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

use crate::backend::StorageBackend;

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
            /// Every operation, in the trait's order.
            pub const ALL: &[Op] = &[$(Self::$op,)*];

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
    PutMetadataIf "put_metadata_if",
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
    ///
    /// Not `put_metadata_if`: its repeat answers `Ok` only while no other write came between
    /// (see [`crate::StorageBackend::put_metadata_if`]); after one, a conflict, and the
    /// caller's read-change-write applies its change again.
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

/// Makes `$ty<B>` the layer `$config` builds, shown as `$name(inner)`, with `inner()`, and
/// routes every trait method through `self.$run(op, || self.inner.method(args))`.
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
