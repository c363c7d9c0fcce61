//! The read cache and the offline fallback, two layers over a remote backend:
//!
//! ```text
//! Fallback(                      reads: the remote, else the offline copy (+ a warning); writes: the remote only
//!   Cache(                       disk LRU: audio blobs (hash-checked), vectors keyed by (song, model, version)
//!     CircuitBreaker(Astra(..))),  stops calling a remote that keeps failing (its state is shared by processes)
//!   Local(<cache>/offline/..))   metadata + vectors of the remote library, kept up to date by the traffic
//! ```
//!
//! - [`Cache`] / [`CacheLayer`]: a size-limited disk cache of what never changes under a
//!   key: audio by content hash, vectors by (song, model `name@version`, song version). An
//!   SQLite index in WAL mode (schema in `migrations/cache/`) lets several processes share
//!   a cache folder; recency is an [`lru::LruCache`] in memory plus a shared tick in the index.
//! - [`Fallback`] / [`FallbackLayer`]: when the primary is unavailable, reads are answered
//!   by a secondary backend (an offline copy of the library) and [`FallbackStatus`] says so;
//!   writes fail at once and change nothing. The copy is refreshed by the traffic and by
//!   [`FallbackLayer::refresh_snapshot`].
//!
//! Why two layers: the cache holds immutable data and can serve it whether or not the remote
//! is up, so it sits *below* the fallback (a cached vector is used even offline, without a
//! trip to the copy); the fallback needs a complete, queryable copy of mutable state
//! (metadata, every vector, for `list` and `similar`), which an LRU that evicts cannot be.
//! The circuit breaker sits below the cache so cache hits never count against the remote.

mod fallback;
mod layer;
mod store;
#[cfg(test)]
mod tests;

pub use fallback::{Fallback, FallbackLayer, FallbackStatus, RefreshReport, SnapshotRefresh};
pub use layer::{Cache, CacheLayer};
pub use store::{BLOBS_DIR, CacheCounters, CacheStats, CacheStore, INDEX_FILE};
