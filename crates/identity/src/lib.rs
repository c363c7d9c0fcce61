//! The recording's identity, on any [`songrec_storage::StorageBackend`]: which files hold one
//! recording, whatever their tags, container or encoding.
//!
//! - [`fingerprint`]: what is taken from a song's decoded audio at ingest (a hash of the PCM,
//!   a Chromaprint fingerprint, a [`waveform`] signature) and how two records compare;
//! - [`recording`]: which songs are copies of one recording (fingerprints when stored, else
//!   artist + title + duration), so playlists and `similar --distinct` hold one copy of each;
//! - [`dupes`]: exact duplicates (the same decoded audio in different files) and near duplicates
//!   (the same recording re-encoded or trimmed), kept apart from songs that merely sound alike.
//!
//! The comparisons are pure and unit-tested; only [`dupes`] touches a library, through the
//! storage trait. The library views that use this (playlists, maps) are `songrec-discover`'s.

pub mod dupes;
pub mod error;
pub mod fingerprint;
pub mod recording;
pub mod waveform;

pub use error::{IdentityError, IdentityResult};
