//! songrec storage, the contract: the domain types, the [`StorageBackend`] trait every backend
//! implements (with [`StorageBackendExt`] for conveniences written once, and impls for
//! `Arc`/`Box` so a shared handle is a backend), the pure search math they share (and a seeded
//! random generator for reproducible tests and clustering), the
//! composable [`layers`] (retry, timeout, metrics, circuit breaker; chaos and crash only with
//! the `test-hooks` feature). The backend-agnostic conformance suite every backend and layer
//! runs is the test-only crate `songrec-conformance`.
//!
//! It is kept light (no SQLite, TOML or HTTP): the disk cache is `songrec-cache`, the sync
//! engine `songrec-sync`, the configuration `songrec-config`. It never depends on a backend
//! implementation; the composition root that builds concrete backends and stacks layers over
//! them lives above it (`songrec-factory`).
//!
//! - **A third backend**: a crate implementing [`StorageBackend`] whose tests call
//!   `songrec_conformance::run_all`, plus one arm in `songrec-factory`.
//! - **A new layer**: a module in [`layers`] with a `Layer` config and a wrapper whose `Layer`
//!   impl, `Display` and trait impl come from one `delegate_backend!` line (every method routed
//!   through the wrapper's `run`), and a conformance test.

pub mod backend;
pub mod conflict;
pub mod doctor;
pub mod error;
pub mod filter;
pub mod id;
pub mod layers;
pub mod listening;
pub mod math;
pub mod metadata;
pub mod model;
pub mod playlist;
pub mod plural;
pub mod progress;
pub mod query;
pub mod rng;
pub mod secret;

pub use backend::{
    AudioMode, BatchReport, ChangeCursor, Changes, LibrarySummary, ModelStats, PutOutcome,
    SongCount, SongRecord, StorageBackend, StorageBackendExt, summarize_by_walking,
};
pub use error::{SongLimitExceeded, StorageError, StorageResult};
pub use filter::{Condition, Field, Filter, Value};
pub use id::SongId;
pub use math::Metric;
pub use metadata::{NonFiniteNumber, SongMetadata, VersionEntry};
pub use model::{Embedding, ModelInfo};
pub use playlist::SavedPlaylist;
pub use progress::{NoProgress, Progress};
pub use query::{ListQuery, Match, Page, Ranking, SearchQuery, SortKey, compare_by};
pub use secret::Secret;
