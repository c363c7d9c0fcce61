//! songrec storage, the contract: the domain types, the [`StorageBackend`] trait in its roles
//! ([`AudioStore`], [`VectorStore`], [`SongStore`], [`VersionLog`], [`PlaylistStore`]; with
//! [`StorageBackendExt`]), the search math they share, and the
//! composable [`layers`] (chaos and crash only with the `test-hooks` feature). Kept light (no
//! SQLite, TOML or HTTP) and free of backend implementations (`songrec-factory` builds them).
//!
//! - **A third backend**: a crate implementing the five role traits (a [`StorageBackend`] is
//!   any type that does) whose tests call `songrec_conformance::run_all`, plus one arm in
//!   `songrec-factory`.
//! - **A new layer**: a module in [`layers`] with a [`layers::Layer`] config and a wrapper that
//!   implements [`layers::Intercept`] (its inner backend and what it does around each call),
//!   and a conformance test. The roles are forwarded through `Intercept` in one place.

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
pub mod prelude;
pub mod progress;
pub mod query;
pub mod rng;
pub mod secret;

pub use backend::{
    AudioMode, AudioStore, BatchReport, ChangeCursor, Changes, LibrarySummary, ModelStats,
    PlaylistStore, PutOutcome, SongCount, SongRecord, SongStore, StorageBackend, StorageBackendExt,
    VectorStore, VersionLog, summarize_by_walking,
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
