//! songrec's local backend: a library in plain files, the embedded default.
//!
//! Layout (compatible with the Python song-recommender songrec replaces):
//!
//! ```text
//! <library>/data/audio/<song id>.<ext>                 audio, named by content hash
//! <library>/data/embeddings/<song id>.npy              vectors of the library's first model
//! <library>/data/embeddings/<model>-<version>/<id>.npy vectors of any further model
//! <library>/data/embeddings/metadata.json              {"<song id>": {metadata}, ...}
//! <library>/data/.songrec/                             songrec's own bookkeeping:
//!     library.json      registered models (name, version, dim, folder)
//!     journal.jsonl     metadata changes since metadata.json was last rewritten
//!     tombstones.json   deleted songs and their last version (for sync)
//!     index/            packed vectors (derived from the .npy files), their manifest, and
//!                       each large model's approximate nearest-neighbour index (*.usearch)
//!     lock              the write lock
//! ```
//!
//! Every write is atomic: files are written to a temporary name, fsynced and renamed; metadata
//! changes are appended to a fsynced journal before they count, and folded into `metadata.json`
//! when the journal grows or on [`StorageBackend::flush`](songrec_storage::StorageBackend::flush).
//! One process at a time may write (an OS file lock taken on the first write); readers never
//! block and see the last committed state.
//!
//! Modules, bottom to top (each imports only those before it): file formats and primitives
//! (`fsutil`, `npy`, `ann_check`, `integrity`, `pack`, `rows`, `snapshot`; public with the
//! `internals` feature, for `fuzz/`), small files and types (`layout`, `manifest`, `songs`,
//! `records`, `options`, `ann_cache`), `state` (the in-memory view, catching up, the write lock), the
//! operations on it (`journal`, `registry`, `index`, `search`, `ann/*`, `audio`), and `backend`
//! ([`LocalBackend`]).

mod ann;
mod ann_cache;
mod audio;
mod backend;
mod fsutil;
mod index;
mod journal;
mod layout;
mod manifest;
mod options;
mod playlists;
mod records;
mod registry;
mod search;
mod songs;
mod state;

/// Declares modules private to the crate, public with the `internals` feature.
macro_rules! internals {
    ($($m:ident),*) => {$(
        #[cfg(feature = "internals")]
        pub mod $m;
        #[cfg(not(feature = "internals"))]
        mod $m;
    )*};
}
internals!(ann_check, integrity, npy, pack, rows, snapshot);

pub use ann_check::AnnQuantization;
pub use backend::LocalBackend;
pub use options::{AnnOptions, DEFAULT_MIN_VECTORS, LocalOptions, LockHold, auto_expansion_search};

#[cfg(test)]
mod alloc_probe;
#[cfg(test)]
mod ann_tests;
#[cfg(test)]
mod fuzz_replay;
#[cfg(test)]
mod integrity_tests;
#[cfg(test)]
mod journal_tests;
#[cfg(test)]
mod tests;
