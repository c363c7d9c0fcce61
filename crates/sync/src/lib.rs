//! Two-way sync of this machine's library with a shared remote library (`songrec sync`):
//! take the [`lease`] → list both sides → load the [`record`] of the last synced state →
//! [`plan`] (pure) → refuse if a safety rail trips → [`merge`] songs changed on both sides →
//! apply deletions and copies ([`engine`]) → advance the record per completed song → carry
//! saved [`playlists`] → release the lease. A no-op run costs the two listings and the lease.

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
