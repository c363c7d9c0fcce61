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
//! changes are appended to a journal and fsynced before they count, and folded into
//! `metadata.json` (atomically) when the journal grows or on
//! [`StorageBackend::flush`](songrec_storage::StorageBackend::flush).
//! One process at a time may write (an OS file lock taken on the first write); readers never
//! block and see the last committed state.
//!
//! # Where each concern lives
//!
//! - `backend`: [`LocalBackend`] itself and its
//!   [`StorageBackend`](songrec_storage::StorageBackend) implementation, which runs
//!   every operation on a blocking thread against the shared state.
//! - `state`: the in-memory view of a library (songs, tombstones, registry, open packs), how a
//!   reader catches up with other processes' commits and how a writer takes the lock.
//! - `layout`: where the files above live (`Paths`) and small helpers that read, write and
//!   stamp them.
//! - `journal`: the metadata journal: parsing (with repair of torn appends), replay, appends and
//!   compaction into `metadata.json`.
//! - `registry`: the model registry (`library.json`), including the adoption of a Python-tool
//!   library's flat `.npy` files.
//! - `index`: the packed vector index: keeping each model's pack in step with its `.npy` folder,
//!   the manifest, and writing vectors.
//! - `search`: ranking candidate rows for a similarity search, and the sort order of listings.
//! - `ann`: the approximate nearest-neighbour index of large models (HNSW, `usearch`): when a
//!   search uses it, how it is kept in step, checked and rebuilt, and why results stay exact
//!   where it matters.
//! - `audio`: the audio folder: its index of files and hash-verified copies.
//! - `integrity`: the full-content checksums of the derived files and what this process has
//!   already checked.
//! - `fsutil` (atomic writes, the write lock), `npy` (the `.npy` format), `pack` (the packed
//!   vector file), `rows` (a pack's live-row table), `snapshot` (the binary snapshot of
//!   `metadata.json`), `ann_check` (the complete check of an approximate index file before it
//!   is mapped): file formats and primitives the modules above build on, private to the crate
//!   (the `internals` feature makes them public for the fuzz targets in `fuzz/`).
//! - [`syncrecord`] (what `songrec sync` remembers about a remote) and [`lease`] (a sync lease in
//!   a local file): used by sync, not by the backend itself.
//! - `tests` (unit tests, with the fault-injection hooks the backend calls under `cfg(test)`),
//!   `alloc_probe` and `fuzz_replay`: test-only.

mod ann;
mod audio;
mod backend;
mod index;
mod journal;
mod layout;
mod manifest;
mod registry;
mod search;
mod songs;
mod state;

mod fsutil;
#[cfg(feature = "internals")]
pub mod integrity;
#[cfg(not(feature = "internals"))]
mod integrity;
pub mod lease;
pub mod syncrecord;

// File formats: crate-private; public only with the `internals` feature, for the fuzz targets.
#[cfg(not(feature = "internals"))]
mod ann_check;
#[cfg(feature = "internals")]
pub mod ann_check;
#[cfg(feature = "internals")]
pub mod npy;
#[cfg(not(feature = "internals"))]
mod npy;
#[cfg(feature = "internals")]
pub mod pack;
#[cfg(not(feature = "internals"))]
mod pack;
#[cfg(not(feature = "internals"))]
mod rows;
#[cfg(feature = "internals")]
pub mod rows;
#[cfg(feature = "internals")]
pub mod snapshot;
#[cfg(not(feature = "internals"))]
mod snapshot;

pub use ann::{AnnOptions, DEFAULT_MIN_VECTORS, LocalOptions, auto_expansion_search};
pub use ann_check::AnnQuantization;
pub use backend::LocalBackend;

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
