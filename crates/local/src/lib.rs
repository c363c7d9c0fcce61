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
//! Bottom to top: a module imports only modules named before it (the test modules aside).
//!
//! 1. File formats and primitives, which import nothing above them: `fsutil` (atomic writes,
//!    the write lock, file identity), `npy` (the `.npy` format), `ann_check` (the approximate
//!    index's quantization, and the complete check of its file before it is mapped),
//!    `integrity` (the full-content checksums of the derived files and what this process has
//!    already checked), then `pack` (the packed vector file), `rows` (a pack's live rows and
//!    their table) and `snapshot` (the binary snapshot of `metadata.json`). Crate-private;
//!    public with the `internals` feature, for the fuzz targets in `fuzz/`.
//! 2. The small files and in-memory types built on them: `layout` (where the files above live,
//!    `Paths`, the model registry's records and small helpers that read, write and stamp
//!    files), `manifest` (the index manifest: each model's pack and approximate index),
//!    `songs` (the song list, read lazily from the snapshot, and a listing's order), and `ann`'s
//!    own types (`ann/mod.rs`: an open approximate index; `ann/options.rs`: its options).
//! 3. `state`: the in-memory view of a library (songs, tombstones, registry, open packs and
//!    indexes), how a reader catches up with other processes' commits and how a writer takes
//!    the lock.
//! 4. The operations on that state: `journal` (the metadata journal: parsing, with repair of torn
//!    appends, replay, appends and compaction into `metadata.json`), `registry` (registering a
//!    model, adopting a Python-tool library's flat `.npy` files), `index` (keeping each model's
//!    pack in step with its `.npy` folder, writing vectors), `search` (ranking candidate rows for a
//!    similarity search, and listings), `ann/{build,open,search}` (the approximate
//!    nearest-neighbour index of large models, HNSW with `usearch`: when a search uses it, how it
//!    is kept in step, checked and rebuilt, and why results stay exact where it matters) and
//!    `audio` (the audio folder: its index of files and hash-verified copies).
//! 5. `backend`: [`LocalBackend`] itself and its
//!    [`StorageBackend`](songrec_storage::StorageBackend) implementation, which runs every
//!    operation on a blocking thread against the shared state.
//!
//! Beside them, `tests` (unit tests, with the fault-injection hooks the backend calls under
//! `cfg(test)`), `alloc_probe` and `fuzz_replay` are test-only.

mod ann;
mod audio;
mod backend;
mod fsutil;
mod index;
mod journal;
mod layout;
mod manifest;
mod playlists;
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
