//! A song's stars and plays as its metadata holds them (its listening history, see
//! [`songrec_storage::listening`]), read for the catalog and the song entries;
//! [`crate::subsonic::marks`] writes them.

use songrec_storage::SongMetadata;
use songrec_storage::listening::Listening;

pub use songrec_storage::listening::{PLAYED, STARRED};

/// A song's plays.
pub fn plays(m: &SongMetadata) -> u64 {
    Listening::of(m).plays
}

/// A free-form text field of the song (`starred`, `played`).
pub fn text<'a>(m: &'a SongMetadata, key: &str) -> Option<&'a str> {
    m.extra.get(key).and_then(|v| v.as_str())
}
