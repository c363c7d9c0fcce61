//! Song metadata.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{SongLimitExceeded, StorageError, StorageResult};
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
    /// The song's identity, which never changes: a hash of the audio stream without its tags
    /// (for older songs, the SHA-256 of the file as first ingested).
    pub id: SongId,
    /// Title (from tags, else from the file name).
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artist: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub album: Option<String>,
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
    /// Hex SHA-256 of the audio file's bytes as last ingested: the key of its audio in the
    /// library's store ([`Self::audio_key`]); it changes when the file is retagged.
    #[serde(default)]
    pub content_hash: String,
    /// The file name the song was ingested from.
    #[serde(default)]
    pub file_name: String,
    /// Estimated tempo (read back exactly: see [`narrow_f32`]).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "de_opt_f32"
    )]
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

/// The `f32` a JSON number stands for, given the `f64` a JSON parser made of it.
///
/// `y as f32` rounds twice and lands on the wrong `f32` when `y` falls exactly halfway
/// between two: then the `f32` whose shortest text parses to `y` is the one meant.
///
/// ```
/// use songrec_storage::metadata::narrow_f32;
/// let x = f32::from_bits(0x15ae_43fd);
/// let parsed: f64 = format!("{x:e}").parse().unwrap();
/// assert_ne!((parsed as f32).to_bits(), x.to_bits(), "plain narrowing rounds twice");
/// assert_eq!(narrow_f32(parsed).to_bits(), x.to_bits());
/// assert_eq!(narrow_f32(0.1).to_bits(), 0.1f32.to_bits());
/// ```
pub fn narrow_f32(y: f64) -> f32 {
    let f = y as f32;
    if !f.is_finite() || f64::from(f) == y {
        return f;
    }
    let g = if f64::from(f) < y {
        f.next_up()
    } else {
        f.next_down()
    };
    // Adjacent f32s add and halve exactly in f64.
    if (f64::from(f) + f64::from(g)) / 2.0 != y {
        return f;
    }
    for c in [f, g] {
        if format!("{c:e}").parse::<f64>().ok() == Some(y) {
            return c;
        }
    }
    f
}

fn de_opt_f32<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f32>, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.map(narrow_f32))
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

    /// The key of the song's audio in a backend's audio store: [`Self::content_hash`], or the
    /// id for metadata without one.
    ///
    /// ```
    /// use songrec_storage::{SongId, SongMetadata};
    /// let mut m = SongMetadata::new(SongId::from_bytes(b"audio"), "Song");
    /// assert_eq!(m.audio_key(), m.id);
    /// m.content_hash = SongId::from_bytes(b"retagged file").to_string();
    /// assert_eq!(m.audio_key(), SongId::from_bytes(b"retagged file"));
    /// m.content_hash.clear();
    /// assert_eq!(m.audio_key(), m.id);
    /// ```
    pub fn audio_key(&self) -> SongId {
        SongId::parse(&self.content_hash).unwrap_or_else(|_| self.id.clone())
    }

    /// The song's stored audio identity ([`AUDIO_ID`]), when recorded.
    pub fn audio_identity(&self) -> Option<SongId> {
        SongId::parse(self.extra.get(AUDIO_ID)?.as_str()?).ok()
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

    /// [`Self::check_finite`] and [`Self::check_portable`] as a storage result: what every
    /// backend's put calls first, so no backend holds a song another one would refuse.
    pub fn check_storable(&self) -> StorageResult<()> {
        self.check_finite()
            .map_err(NonFiniteNumber::into_storage_error)?;
        Ok(self.check_portable()?)
    }

    /// Checks the limits the Astra Data API puts on a song's document (the `MAX_*` constants:
    /// tags, free-form fields, their indexed slots, names and arrays, JSON bytes), so that a
    /// song any backend accepts can move to every other one.
    ///
    /// ```
    /// use songrec_storage::{SongId, SongMetadata};
    /// let mut m = SongMetadata::new(SongId::from_bytes(b"x"), "Song");
    /// m.tags = (0..1001).map(|i| format!("t{i}")).collect();
    /// let e = m.check_portable().unwrap_err();
    /// assert_eq!((e.field.as_str(), e.limit, e.actual), ("tags", 1000, 1001));
    /// ```
    pub fn check_portable(&self) -> Result<(), SongLimitExceeded> {
        let extra = self.extra.len();
        let numeric = self.extra.values().filter(|v| has_number(v)).count();
        let slots = "indexed free-form slots (one per field, two per numeric field)";
        let names = (self.extra.keys()).map(|k| {
            (
                k.as_str(),
                "bytes in its name",
                MAX_EXTRA_NAME_BYTES,
                k.len(),
            )
        });
        let arrays = (self.extra.iter()).filter_map(|(k, v)| {
            Some((
                k.as_str(),
                "elements in a free-form array",
                MAX_EXTRA_ARRAY,
                v.as_array()?.len(),
            ))
        });
        let json = std::iter::once_with(|| {
            let bytes = serde_json::to_string(self).map_or(0, |t| t.len());
            (
                "metadata",
                "bytes of metadata JSON",
                MAX_METADATA_BYTES,
                bytes,
            )
        });
        let mut checks = [
            ("tags", "tags", MAX_TAGS, self.tags.len()),
            ("extra", "free-form fields", MAX_EXTRA_FIELDS, extra),
            ("extra", slots, MAX_EXTRA_INDEXED, extra + numeric),
        ]
        .into_iter()
        .chain(names)
        .chain(arrays)
        .chain(json);
        match checks.find(|&(_, _, limit, actual)| actual > limit) {
            Some((field, what, limit, actual)) => Err(SongLimitExceeded {
                song: self.id.to_string(),
                field: field.to_owned(),
                what,
                limit,
                actual,
            }),
            None => Ok(()),
        }
    }

    /// Checks that `duration_secs`, `bpm` and the numbers inside `extra` are finite (JSON has
    /// no NaN or infinity).
    ///
    /// ```
    /// use songrec_storage::{SongId, SongMetadata};
    /// let mut m = SongMetadata::new(SongId::from_bytes(b"x"), "Song");
    /// m.duration_secs = 12.023219954648527;
    /// assert!(m.check_finite().is_ok());
    /// m.bpm = Some(f32::INFINITY);
    /// let e = m.check_finite().unwrap_err();
    /// assert_eq!(e.field, "bpm");
    /// assert!(e.to_string().contains("bpm is inf"));
    /// ```
    pub fn check_finite(&self) -> Result<(), NonFiniteNumber> {
        let refuse = |field: String, value: f64| {
            Err(NonFiniteNumber {
                song: self.id.clone(),
                field,
                value,
            })
        };
        if !self.duration_secs.is_finite() {
            return refuse("duration_secs".into(), self.duration_secs);
        }
        if let Some(b) = self.bpm.filter(|b| !b.is_finite()) {
            return refuse("bpm".into(), f64::from(b));
        }
        match (self.extra.iter())
            .flat_map(|(k, v)| numbers_in(v, k.clone()))
            .find_map(|(path, n)| n.as_f64().filter(|x| !x.is_finite()).map(|x| (path, x)))
        {
            Some((path, x)) => refuse(path, x),
            None => Ok(()),
        }
    }
}

/// Every number inside a JSON value with its path below `path` (`path.key[2]`), in order.
pub fn numbers_in(v: &serde_json::Value, path: String) -> Vec<(String, &serde_json::Number)> {
    match v {
        serde_json::Value::Number(n) => vec![(path, n)],
        serde_json::Value::Array(items) => (items.iter().enumerate())
            .flat_map(|(i, x)| numbers_in(x, format!("{path}[{i}]")))
            .collect(),
        serde_json::Value::Object(map) => (map.iter())
            .flat_map(|(k, x)| numbers_in(x, format!("{path}.{k}")))
            .collect(),
        _ => Vec::new(),
    }
}

/// Most tags a song may have (the cloud's indexed-array limit).
pub const MAX_TAGS: usize = 1000;

/// `extra` key of the song's audio identity (`songrec_audio::identity`, hex): what finds a
/// retagged file's song; set by `songrec relink` for older songs.
pub const AUDIO_ID: &str = "audio_id";

/// Most free-form fields a song may have (the cloud's per-object property limit).
pub const MAX_EXTRA_FIELDS: usize = 1000;
/// Most indexed slots the free-form fields may take: one per field plus one per numeric
/// field (the cloud's 2,000 indexed properties per document, less the song's own fields).
pub const MAX_EXTRA_INDEXED: usize = 1950;
/// Longest free-form field name, in UTF-8 bytes: the cloud indexes a field under a path such
/// as `f.xn._h_<name as hex>`, and a path holds at most 1,000 characters.
pub const MAX_EXTRA_NAME_BYTES: usize = 480;
/// Most elements of an array in a free-form field (the cloud's indexed-array limit).
pub const MAX_EXTRA_ARRAY: usize = 1000;
/// Most bytes of a song's metadata as JSON (the cloud's 4,000,000-character document,
/// which holds the metadata about three times).
pub const MAX_METADATA_BYTES: usize = 1_000_000;

/// Whether a free-form value is, or is an array holding, a number (indexed twice by the cloud).
fn has_number(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Number(_) => true,
        serde_json::Value::Array(items) => items.iter().any(serde_json::Value::is_number),
        _ => false,
    }
}

/// A metadata number that cannot be stored: NaN or an infinity (see
/// [`SongMetadata::check_finite`]). Backends refuse such a song before writing anything and
/// report it as [`StorageError::InvalidInput`].
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error(
    "song {song}: {field} is {value}; only finite numbers can be stored, so nothing was written"
)]
pub struct NonFiniteNumber {
    pub song: SongId,
    /// The field: `duration_secs`, `bpm`, or an `extra` path such as `loudness` or `stats.peaks[2]`.
    pub field: String,
    /// The offending value (NaN, `inf` or `-inf`).
    pub value: f64,
}

impl NonFiniteNumber {
    /// As the storage error backends return ([`StorageError::InvalidInput`]).
    pub fn into_storage_error(self) -> StorageError {
        StorageError::InvalidInput(self.to_string())
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
    pub id: SongId,
    /// Current version (of the tombstone, for deleted songs).
    pub version: u64,
    /// Content hash of the audio.
    pub content_hash: String,
    /// A tombstone: the song was deleted at this version.
    pub deleted: bool,
}
