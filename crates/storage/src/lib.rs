//! songrec storage: the domain types, the [`StorageBackend`] trait every backend implements,
//! the pure search math they share, and the backend-agnostic conformance suite.
//!
//! This crate never depends on a backend implementation; the factory that stacks layers over a
//! concrete backend lives above it (in `songrec-app`).

pub mod backend;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
pub mod error;
pub mod filter;
pub mod id;
pub mod layers;
pub mod math;
pub mod metadata;
pub mod model;
pub mod query;
pub mod secret;
pub mod sync;

pub use backend::{
    BatchReport, ModelStats, PutOutcome, SongRecord, StorageBackend, StorageBackendExt,
};
pub use error::{StorageError, StorageResult};
pub use filter::{Condition, Field, Filter, Value};
pub use id::SongId;
pub use metadata::{NonFiniteNumber, SongMetadata, VersionEntry};
pub use model::{Embedding, ModelInfo};
pub use query::{ListQuery, Match, Metric, Page, SearchQuery, SortKey, compare_by};
pub use secret::Secret;
