//! Ids of artists and albums: derived from their normalised names, so they are the same after a
//! restart and on every machine sharing the library (a client's cache survives). Song ids are
//! songrec's own.

use sha2::{Digest, Sha256};

/// An id as a client sent it, in the one form every lookup compares (songs, artists, albums,
/// playlists): surrounding white space dropped, ASCII letters in lower case (songrec's ids are
/// lower-case hex with an `ar-`/`al-` prefix; clients and people may send them upper case).
pub fn key(raw: &str) -> String {
    raw.trim().to_ascii_lowercase()
}

/// Lower case, trimmed, runs of white space as one space: the app's key for an artist
/// (`songrec_app::similar::artists::artist_key`), used for albums too, so the artists the
/// catalog groups are the ones every door's similar artists find.
pub fn normalise(name: &str) -> String {
    songrec_app::similar::artists::artist_key(name)
}

fn short_hash(text: &str) -> String {
    hex::encode(&Sha256::digest(text.as_bytes())[..8])
}

/// `ar-` and 16 hex digits of the normalised artist name.
pub fn artist_id(artist: &str) -> String {
    format!("ar-{}", short_hash(&normalise(artist)))
}

/// `al-` and 16 hex digits of the normalised artist and album names.
pub fn album_id(artist: &str, album: &str) -> String {
    let key = format!("{}\u{1f}{}", normalise(artist), normalise(album));
    format!("al-{}", short_hash(&key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_pinned() {
        // Stable across releases: a change here breaks every client's cache.
        assert_eq!(artist_id("Nina Simone"), artist_id("nina simone"));
        assert_eq!(
            artist_id("x"),
            format!("ar-{}", &hex::encode(Sha256::digest(b"x"))[..16])
        );
        assert_ne!(album_id("a b", "c"), album_id("a", "b c"));
        assert_eq!(normalise("  The  Beatles "), "the beatles");
        assert_eq!(artist_id("Nina Simone"), artist_id(" nina  SIMONE"));
        assert!(artist_id("Nina Simone").starts_with("ar-"));
        assert_eq!(album_id("A", "Blue"), album_id("a", " blue"));
        assert_ne!(album_id("A", "Blue"), album_id("B", "Blue"));
    }
}
