//! songrec storage, the contract: the domain types, the [`StorageBackend`] trait (with
//! [`StorageBackendExt`], and impls for `Arc`/`Box`), the search math they share, and the
//! composable [`layers`] (chaos and crash only with the `test-hooks` feature). Kept light (no
//! SQLite, TOML or HTTP) and free of backend implementations (`songrec-factory` builds them).
//!
//! - **A third backend**: a crate implementing [`StorageBackend`] whose tests call
//!   `songrec_conformance::run_all`, plus one arm in `songrec-factory`.
//! - **A new layer**: a module in [`layers`] with a `Layer` config and a wrapper made by one
//!   `delegate_backend!` line, and a conformance test.

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
