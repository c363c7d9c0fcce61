//! Song metadata.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::id::SongId;

/// Everything songrec knows about a song besides its audio and vectors.
///
/// `version` starts at 1 and is bumped by every change; sync compares it across machines.
/// Unknown JSON fields are kept in `extra`, so metadata written by other tools survives a round trip.
///
/// ```
/// use songrec_storage::{SongId, SongMetadata};
/// let m = SongMetadata::new(SongId::from_bytes(b"x"), "Paranoid Android");
/// assert_eq!(m.version, 1);
/// assert_eq!(m.display_name(), "Paranoid Android");
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SongMetadata {
    /// Content hash of the audio file (hex SHA-256).
    pub id: SongId,
    /// Title (from tags, else from the file name).
    pub title: String,
    /// Artist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artist: Option<String>,
    /// Album.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub album: Option<String>,
    /// Genre.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub genre: Option<String>,
    /// Duration in seconds.
    #[serde(default)]
    pub duration_secs: f64,
    /// Original sample rate in Hz.
    #[serde(default)]
    pub sample_rate: u32,
    /// Original channel count.
    #[serde(default)]
    pub channels: u16,
    /// Audio file size in bytes.
    #[serde(default)]
    pub file_size: u64,
    /// Hex SHA-256 of the audio bytes (equal to `id` for songs songrec ingested).
    #[serde(default)]
    pub content_hash: String,
    /// The file name the song was ingested from.
    #[serde(default)]
    pub file_name: String,
    /// Estimated tempo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bpm: Option<f32>,
    /// Estimated key, e.g. `A minor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Mood and style tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// When the song entered the library (defaults to the Unix epoch for metadata from other tools).
    #[serde(default)]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(default)]
    pub updated_at: DateTime<Utc>,
    /// Per-song version for sync; bumped on every change.
    #[serde(default = "one")]
    pub version: u64,
    /// Free-form fields.
    #[serde(default, flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

fn one() -> u64 {
    1
}

impl SongMetadata {
    /// Metadata with a title and defaults elsewhere, created now.
    pub fn new(id: SongId, title: impl Into<String>) -> Self {
        let now = Utc::now();
        Self {
            content_hash: id.as_str().to_owned(),
            id,
            title: title.into(),
            artist: None,
            album: None,
            genre: None,
            duration_secs: 0.0,
            sample_rate: 0,
            channels: 0,
            file_size: 0,
            file_name: String::new(),
            bpm: None,
            key: None,
            tags: Vec::new(),
            created_at: now,
            updated_at: now,
            version: 1,
            extra: BTreeMap::new(),
        }
    }

    /// "Artist – Title" when the artist is known, else the title.
    pub fn display_name(&self) -> String {
        match &self.artist {
            Some(a) if !a.is_empty() => format!("{a} – {}", self.title),
            _ => self.title.clone(),
        }
    }

    /// Marks a change: bumps the version and the update time.
    pub fn touch(&mut self) {
        self.version += 1;
        self.updated_at = Utc::now();
    }
}

/// One row of the cheap listing sync uses: enough to decide what changed without reading songs.
///
/// ```
/// use songrec_storage::{SongId, VersionEntry};
/// let v = VersionEntry { id: SongId::from_bytes(b"a"), version: 3, content_hash: String::new(), deleted: true };
/// assert!(v.deleted);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionEntry {
    /// Song id.
    pub id: SongId,
    /// Current version (of the tombstone, for deleted songs).
    pub version: u64,
    /// Content hash of the audio.
    pub content_hash: String,
    /// A tombstone: the song was deleted at this version.
    pub deleted: bool,
}
