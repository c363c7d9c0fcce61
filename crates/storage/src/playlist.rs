//! Saved playlists: library data like a song's metadata, stored by every backend
//! ([`crate::backend::PlaylistStore::put_playlist`]) and carried by `songrec sync`.
//!
//! A playlist has a fixed id, a name and its songs in order (repeats allowed). Every change
//! bumps its version; a deleted one stays as a tombstone. Two machines' versions are
//! reconciled by [`newer`], which picks one whole (merging two orders would make a third).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{StorageError, StorageResult};
use crate::id::SongId;

/// The longest playlist name accepted, in characters.
pub const MAX_NAME: usize = 200;
/// The most songs one playlist holds.
pub const MAX_SONGS: usize = 10_000;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedPlaylist {
    /// `pl-` and 16 hex digits; never changes.
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The songs, in order.
    #[serde(default)]
    pub songs: Vec<SongId>,
    /// Shown to every user of a shared server (the Subsonic `public` flag).
    #[serde(default)]
    pub public: bool,
    /// Who made it (the Subsonic user), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Bumped on every change.
    pub version: u64,
    /// A tombstone: the playlist was deleted at this version.
    #[serde(default)]
    pub deleted: bool,
}

/// Whether `id` is a playlist id (`pl-` and 16 lowercase hex digits).
pub fn is_playlist_id(id: &str) -> bool {
    id.strip_prefix("pl-").is_some_and(|h| {
        h.len() == 16
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

impl SavedPlaylist {
    /// A new playlist named `name` holding `songs`, made at `now` (the id comes from the name,
    /// the time to the nanosecond and a per-process counter, so two made at once differ).
    ///
    /// ```
    /// use songrec_storage::playlist::{SavedPlaylist, is_playlist_id};
    /// let p = SavedPlaylist::new("Evening", vec![], chrono::Utc::now()).unwrap();
    /// assert!(is_playlist_id(&p.id));
    /// assert_eq!((p.version, p.deleted), (1, false));
    /// assert!(SavedPlaylist::new("  ", vec![], chrono::Utc::now()).is_err());
    /// ```
    pub fn new(name: &str, songs: Vec<SongId>, now: DateTime<Utc>) -> StorageResult<Self> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static MADE: AtomicU64 = AtomicU64::new(0);
        let name = check_name(name)?;
        check_songs(&songs)?;
        let seed = format!(
            "{name}\0{}\0{}\0{}",
            now.timestamp_nanos_opt().unwrap_or_default(),
            std::process::id(),
            MADE.fetch_add(1, Ordering::Relaxed)
        );
        let hash = SongId::from_bytes(seed.as_bytes());
        Ok(Self {
            id: format!("pl-{}", &hash.as_str()[..16]),
            name,
            comment: None,
            songs,
            public: false,
            owner: None,
            created_at: now,
            updated_at: now,
            version: 1,
            deleted: false,
        })
    }

    /// Records a change made at `now`: the next version.
    pub fn touch(&mut self, now: DateTime<Utc>) {
        self.version += 1;
        self.updated_at = now.max(self.updated_at);
    }

    /// Turns the playlist into its tombstone (no songs, no comment), as changed at `now`.
    pub fn delete(&mut self, now: DateTime<Utc>) {
        self.songs.clear();
        self.comment = None;
        self.deleted = true;
        self.touch(now);
    }

    /// Checks what a backend stores: a playlist id, a name, at most [`MAX_SONGS`] songs.
    pub fn validate(&self) -> StorageResult<()> {
        if !is_playlist_id(&self.id) {
            return Err(StorageError::InvalidInput(format!(
                "{:?} is not a playlist id (pl- and 16 hex digits)",
                self.id
            )));
        }
        check_name(&self.name)?;
        check_songs(&self.songs)
    }
}

/// The name, trimmed, if it is one.
pub fn check_name(name: &str) -> StorageResult<String> {
    let n = name.trim();
    if n.is_empty() {
        return Err(StorageError::InvalidInput(
            "a playlist needs a name".to_owned(),
        ));
    }
    if n.chars().count() > MAX_NAME || n.chars().any(char::is_control) {
        return Err(StorageError::InvalidInput(format!(
            "a playlist name is at most {MAX_NAME} characters without control characters"
        )));
    }
    Ok(n.to_owned())
}

fn check_songs(songs: &[SongId]) -> StorageResult<()> {
    if songs.len() > MAX_SONGS {
        return Err(StorageError::InvalidInput(format!(
            "a playlist holds at most {MAX_SONGS} songs, not {}",
            songs.len()
        )));
    }
    Ok(())
}

/// Which of two versions of one playlist stands: the higher version, then the later change,
/// then (equal in both) the tombstone, then the larger content, so both machines pick the same.
///
/// ```
/// use songrec_storage::playlist::{SavedPlaylist, newer};
/// let now = chrono::Utc::now();
/// let a = SavedPlaylist::new("A", vec![], now).unwrap();
/// let mut b = a.clone();
/// b.name = "B".into();
/// b.touch(now);
/// assert_eq!(newer(&a, &b).name, "B");
/// assert_eq!(newer(&b, &a).name, "B");
/// ```
pub fn newer<'a>(a: &'a SavedPlaylist, b: &'a SavedPlaylist) -> &'a SavedPlaylist {
    let key = |p: &SavedPlaylist| {
        (
            p.version,
            p.updated_at,
            p.deleted,
            serde_json::to_string(p).unwrap_or_default(),
        )
    };
    if key(b) > key(a) { b } else { a }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_differ_and_validate() {
        let now = Utc::now();
        let a = SavedPlaylist::new("Same", vec![], now).unwrap();
        let b = SavedPlaylist::new("Same", vec![], now).unwrap();
        assert_ne!(a.id, b.id, "two made at the same instant");
        a.validate().unwrap();
        let mut bad = a.clone();
        bad.id = "../x".into();
        assert!(bad.validate().is_err());
        assert!(!is_playlist_id("pl-ABCDEF0123456789"));
        assert!(check_name(&"x".repeat(MAX_NAME + 1)).is_err());
        assert!(check_name("a\nb").is_err());
        assert_eq!(check_name("  Road trip ").unwrap(), "Road trip");
    }

    #[test]
    fn a_tombstone_wins_over_its_own_past() {
        let now = Utc::now();
        let p = SavedPlaylist::new("P", vec![SongId::from_bytes(b"s")], now).unwrap();
        let mut gone = p.clone();
        gone.delete(now);
        assert!(gone.songs.is_empty() && gone.deleted && gone.version == 2);
        assert!(newer(&p, &gone).deleted);
        // An equal version with equal times: the tombstone, on both sides.
        let mut edited = p.clone();
        edited.touch(now);
        edited.updated_at = gone.updated_at;
        assert!(newer(&edited, &gone).deleted && newer(&gone, &edited).deleted);
    }
}
