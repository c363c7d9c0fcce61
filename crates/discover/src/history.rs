//! A small record of recent playlists, so `--exclude-recent N` can leave out songs that were
//! in the last N playlists. One JSON file per library, written atomically; the newest
//! [`KEEP`] playlists are kept.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use songrec_storage::SongId;

use crate::error::{DiscoverError, DiscoverResult};
use crate::fsutil::write_atomic;

/// Playlists remembered.
pub const KEEP: usize = 200;

/// One remembered playlist.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When it was made.
    pub at: DateTime<Utc>,
    pub songs: Vec<SongId>,
}

/// The history file's content.
///
/// ```
/// use songrec_discover::history::History;
/// use songrec_storage::SongId;
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("h.json");
/// let mut h = History::load(&path).unwrap();
/// h.record(vec![SongId::from_bytes(b"a")]);
/// h.save(&path).unwrap();
/// let h = History::load(&path).unwrap();
/// assert!(h.recent(1).contains(&SongId::from_bytes(b"a")));
/// assert!(h.recent(0).is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// Format version.
    #[serde(default = "one")]
    pub version: u32,
    /// Oldest first.
    pub playlists: Vec<HistoryEntry>,
}

fn one() -> u32 {
    1
}

impl History {
    /// Reads the file; a missing file is an empty history, a damaged one an error (the file
    /// is left alone).
    pub fn load(path: &Path) -> DiscoverResult<Self> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| DiscoverError::Corrupt {
                path: path.to_path_buf(),
                detail: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self {
                version: 1,
                playlists: Vec::new(),
            }),
            Err(e) => Err(DiscoverError::io(path, e)),
        }
    }

    /// Songs of the newest `n` playlists.
    pub fn recent(&self, n: usize) -> HashSet<SongId> {
        self.playlists
            .iter()
            .rev()
            .take(n)
            .flat_map(|p| p.songs.iter().cloned())
            .collect()
    }

    /// Adds a playlist (made now), dropping the oldest beyond [`KEEP`].
    pub fn record(&mut self, songs: Vec<SongId>) {
        self.playlists.push(HistoryEntry {
            at: Utc::now(),
            songs,
        });
        let extra = self.playlists.len().saturating_sub(KEEP);
        self.playlists.drain(..extra);
    }

    /// Writes the file atomically.
    pub fn save(&self, path: &Path) -> DiscoverResult<()> {
        let bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| DiscoverError::Invalid(format!("cannot encode the history: {e}")))?;
        write_atomic(path, &bytes)
    }
}

/// The history file of a library, under `state_dir`, named after the backend's description
/// (e.g. `Local(/music/data)`), so each library has its own.
///
/// ```
/// let p = songrec_discover::history::path_for(std::path::Path::new("/s"), "Local(/m/data)");
/// assert_eq!(p, std::path::Path::new("/s/playlist-history/Local__m_data_.json"));
/// ```
pub fn path_for(state_dir: &Path, backend: &str) -> PathBuf {
    let name = backend.replace(|c: char| !c.is_ascii_alphanumeric(), "_");
    state_dir
        .join("playlist-history")
        .join(format!("{name}.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_and_reports_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.json");
        let mut h = History::load(&path).unwrap();
        for i in 0..(KEEP + 5) {
            h.record(vec![SongId::from_bytes(format!("{i}").as_bytes())]);
        }
        assert_eq!(h.playlists.len(), KEEP);
        h.save(&path).unwrap();
        let back = History::load(&path).unwrap();
        assert_eq!(back, h);
        let last2 = back.recent(2);
        assert_eq!(last2.len(), 2);
        assert!(last2.contains(&SongId::from_bytes(format!("{}", KEEP + 4).as_bytes())));
        assert!(
            !back.recent(KEEP).contains(&SongId::from_bytes(b"0")),
            "oldest dropped"
        );

        std::fs::write(&path, b"{not json").unwrap();
        let err = History::load(&path).unwrap_err().to_string();
        assert!(err.contains("h.json") && err.contains("untouched"), "{err}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"{not json",
            "left as it was"
        );
    }
}
