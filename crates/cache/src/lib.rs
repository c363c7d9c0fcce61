//! The read cache and the offline fallback, two layers over a remote backend:
//!
//! ```text
//! Fallback(                      reads: the remote, else the offline copy (+ a warning); writes: the remote only
//!   Cache(                       disk LRU: audio blobs (hash-checked), vectors keyed by (song, model, version)
//!     CircuitBreaker(Astra(..))),  stops calling a remote that keeps failing (its state is shared by processes)
//!   Local(<cache>/offline/..))   metadata + vectors of the remote library, kept up to date by the traffic
//! ```
//!
//! - [`Cache`] / [`CacheLayer`]: a size-limited disk cache of what never changes under a key
//!   (audio by content hash, vectors by song, model and song version), shared by processes
//!   through an SQLite index in WAL mode (schema in `migrations/cache/`).
//! - [`Fallback`] / [`FallbackLayer`]: when the primary is unavailable, reads are answered by
//!   an offline copy of the library and [`FallbackStatus`] says so; writes fail at once.
//!
//! The immutable cache sits below the fallback (it serves offline too); the fallback needs a
//! complete copy of mutable state, which an evicting LRU cannot be. The circuit breaker sits
//! below the cache so cache hits never count against the remote.

mod fallback;
mod layer;
mod store;
#[cfg(test)]
mod tests;

pub use fallback::{Fallback, FallbackLayer, FallbackStatus, RefreshReport, SnapshotRefresh};
pub use layer::{Cache, CacheLayer};
pub use store::{BLOBS_DIR, CacheCounters, CacheStats, CacheStore, INDEX_FILE};
