//! [`AstraBackend`]: songrec's [`StorageBackend`](songrec_storage::StorageBackend) on the Astra DB Data API (metadata and
//! vectors) plus S3-compatible object storage (audio).
//!
//! Layout (see `migrations/astra/README.md`): a songs collection with every song's canonical
//! metadata, version and tombstone (plus the model registry), and one cosine vector collection
//! per embedding model whose documents carry a copy of the song's metadata, so a filtered
//! similarity search is a single `find` request.
//!
//! | operation | requests |
//! |---|---|
//! | `search` (cosine, any pushed-down filter) | 1 |
//! | `search` (dot / l2, or a range filter on a multi-valued `extra` field) | one per page of candidates (exact, slower) |
//! | `put_songs` (n new songs, m models) | ≈ (m + 1) · ⌈n / chunk⌉ (chunk ≤ 100); re-puts add one upsert per existing document |
//! | `put_metadata` | 1 + one per registered model |
//! | `count` | 1 (≤ 1000 matches), else 1 + 16 (+ 16 per group above 1000) |
//! | `list` (any sort, any size) | ⌈limit / page⌉ + 2 (estimate, key sample) (+1 per window boundary crossed) |
//! | `list_versions` | one per page of 20–50 songs |
//! | `changes_since` (a cursor) | 1 (the clock) + one per page of 20–50 changed songs (+1 when nothing changed) |
//! | `changes_since(None)` (before a full listing) | 2 (+ one per page of unstamped songs of older versions) |
//! | `versions_of` | one per 100 ids |
//!
//! Writers are assumed to be one process at a time per library (as with the local backend);
//! concurrent writers of the same song may leave a stale metadata copy in a vector collection.
//!
//! `handle` holds the struct; `storage` generates the [`StorageBackend`](songrec_storage::StorageBackend)
//! implementation, each method calling the method of the same name of `storage::Ops`, written in
//! the submodule that does that part of the work:
//!
//! - `audio`: the S3 objects of the songs' audio.
//! - `connection`: [`AstraOptions`], [`AstraBackend::connect`] and accessors.
//! - `registry`: [`AstraBackend::init`] and the model registry (names and templates in `schema`).
//! - `writes`: storing vectors, metadata and batches of songs; deleting songs.
//! - `listing`: reading metadata, listings and their cursors, counts, versions.
//! - `search`: reading vectors and similarity search (ANN or exact scan).
//! - `docs` (document layout), `filter` (filters translated to the Data API), `errors` (error
//!   mapping), `doctor` (`songrec doctor` checks).

mod audio;
mod connection;
mod docs;
mod doctor;
mod errors;
mod feed;
mod filter;
#[cfg(test)]
mod fuzz_replay;
mod handle;
mod list_cursor;
mod listing;
mod playlists;
mod registry;
mod schema;
mod search;
mod storage;
mod writes;

pub use connection::{AstraOptions, S3Options};
pub use doctor::{CheckStatus, DoctorCheck, DoctorReport, doctor, names as doctor_checks};
pub use feed::OVERLAP_MS;
pub use handle::AstraBackend;
pub use schema::InitReport;

pub use crate::dataapi::INSERT_CHUNK;
