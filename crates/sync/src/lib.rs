//! Two-way sync of this machine's library with a shared remote library (`songrec sync`).
//!
//! - [`plan`]: the pure three-way planner (record of the last synced state, both listings,
//!   conflict policy → actions, conflicts, safety-rail violations);
//! - [`merge`]: the pure field-by-field merge of a song changed on both sides;
//! - [`digest`]: metadata content digests (versions alone can collide across machines);
//! - [`record`]: the per-machine record of the last synced state ([`record::RecordStore`]);
//! - [`lease`]: the remote lease, so two machines never sync the same library at once;
//! - [`playlists`]: saved playlists, the newer version of each going both ways;
//! - [`engine`]: the executor that carries a plan out over two [`songrec_storage::StorageBackend`]s;
//! - [`stores`]: the record in SQLite, the lease in a local file or in an object store.
//!
//! The flow of one run: take the lease → list both sides (`list_versions`, one cheap listing
//! each) → load the record → plan → refuse if a safety rail trips → merge songs changed on
//! both sides → apply deletions and copies → advance the record per completed song → release
//! the lease. A no-op run costs the two listings and the lease, nothing per song.

pub mod digest;
pub mod engine;
pub mod lease;
pub mod merge;
pub mod plan;
pub mod playlists;
pub mod record;
/// The record and lease stores songrec uses (the composition root picks them per backend).
pub mod stores {
    pub mod file_lease;
    pub mod object_lease;
    pub mod sqlite_record;
}

#[cfg(test)]
mod tests;
