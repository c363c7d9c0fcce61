//! Metadata filters, evaluated the same way by every backend.
//!
//! A [`Filter`] is a conjunction of [`Condition`]s. Text comparisons are case-insensitive
//! (Unicode lowercase), `tags` equality means "has this tag", ranges are inclusive.
//! Backends that push filters into a remote query must give the same answers as
//! [`Filter::matches`]; the conformance suite checks that.

use serde::{Deserialize, Serialize};

use crate::error::{StorageError, StorageResult};
use crate::metadata::SongMetadata;

/// A metadata field a filter can test.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Title,
    Artist,
    Album,
    Genre,
    /// Musical key, e.g. `A minor`.
    Key,
    /// Mood/style tags (a list).
    Tags,
    /// Original file name.
    FileName,
    /// Tempo in bpm.
    Bpm,
    /// Duration in seconds.
    Duration,
    /// Sample rate in Hz.
    SampleRate,
    Channels,
    /// File size in bytes.
    FileSize,
    /// Sync version.
    Version,
    /// A free-form field from `extra`.
    Extra(String),
}

impl Field {
    /// Parses a user-facing field name (`genre`, `bpm`, `extra.mood`, ...).
    pub fn parse(s: &str) -> StorageResult<Self> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "title" => Self::Title,
            "artist" => Self::Artist,
            "album" => Self::Album,
            "genre" => Self::Genre,
            "key" => Self::Key,
            "tag" | "tags" | "mood" => Self::Tags,
            "file" | "file_name" | "filename" => Self::FileName,
            "bpm" | "tempo" => Self::Bpm,
            "duration" | "duration_secs" => Self::Duration,
            "sample_rate" => Self::SampleRate,
            "channels" => Self::Channels,
            "file_size" | "size" => Self::FileSize,
            "version" => Self::Version,
            // Any other name is a free-form field (`edit --set game=hedgewars` is found by
            // `--where game=hedgewars` as by `--where extra.game=hedgewars`), named as typed.
            _ => {
                let typed = s.trim();
                let name = typed.strip_prefix("extra.").unwrap_or(typed);
                if name.is_empty()
                    || !name
                        .chars()
                        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
                {
                    return Err(StorageError::InvalidInput(format!(
                        "unknown field {s:?}; use title, artist, album, genre, key, tags, file_name, bpm, duration, sample_rate, channels, file_size, version or the name of a free-form field (letters, digits, _ - .), e.g. label or extra.label"
                    )));
                }
                Self::Extra(name.to_owned())
            }
        })
    }

    /// The field's name in stored documents (`extra` fields are stored at the top level).
    pub fn doc_name(&self) -> &str {
        match self {
            Self::Title => "title",
            Self::Artist => "artist",
            Self::Album => "album",
            Self::Genre => "genre",
            Self::Key => "key",
            Self::Tags => "tags",
            Self::FileName => "file_name",
            Self::Bpm => "bpm",
            Self::Duration => "duration_secs",
            Self::SampleRate => "sample_rate",
            Self::Channels => "channels",
            Self::FileSize => "file_size",
            Self::Version => "version",
            Self::Extra(n) => n,
        }
    }

    /// Whether the field holds text (compared case-insensitively).
    pub fn is_text(&self) -> bool {
        matches!(
            self,
            Self::Title
                | Self::Artist
                | Self::Album
                | Self::Genre
                | Self::Key
                | Self::Tags
                | Self::FileName
        )
    }

    /// Whether any of the field's values in a song satisfies `pred` (no allocation).
    pub fn any_value(&self, m: &SongMetadata, mut pred: impl FnMut(ValueRef<'_>) -> bool) -> bool {
        let text = |s: &Option<String>, pred: &mut dyn FnMut(ValueRef<'_>) -> bool| {
            s.as_deref().is_some_and(|s| pred(ValueRef::Text(s)))
        };
        match self {
            Self::Title => pred(ValueRef::Text(&m.title)),
            Self::Artist => text(&m.artist, &mut pred),
            Self::Album => text(&m.album, &mut pred),
            Self::Genre => text(&m.genre, &mut pred),
            Self::Key => text(&m.key, &mut pred),
            Self::Tags => m.tags.iter().any(|t| pred(ValueRef::Text(t))),
            Self::FileName => pred(ValueRef::Text(&m.file_name)),
            Self::Bpm => m.bpm.is_some_and(|b| pred(ValueRef::Number(f64::from(b)))),
            Self::Duration => pred(ValueRef::Number(m.duration_secs)),
            Self::SampleRate => pred(ValueRef::Number(f64::from(m.sample_rate))),
            Self::Channels => pred(ValueRef::Number(f64::from(m.channels))),
            Self::FileSize => pred(ValueRef::Number(m.file_size as f64)),
            Self::Version => pred(ValueRef::Number(m.version as f64)),
            Self::Extra(n) => match m.extra.get(n) {
                None | Some(serde_json::Value::Null) => false,
                Some(serde_json::Value::Array(a)) => {
                    a.iter().filter_map(ValueRef::from_json).any(pred)
                }
                Some(v) => ValueRef::from_json(v).is_some_and(pred),
            },
        }
    }
}

/// A scalar a filter compares with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Bool(bool),
    Number(f64),
    Text(String),
}

/// A borrowed [`Value`], as found in a song.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ValueRef<'a> {
    Bool(bool),
    Number(f64),
    Text(&'a str),
}

impl<'a> ValueRef<'a> {
    fn from_json(v: &'a serde_json::Value) -> Option<Self> {
        match v {
            serde_json::Value::Bool(b) => Some(Self::Bool(*b)),
            serde_json::Value::Number(n) => n.as_f64().map(Self::Number),
            serde_json::Value::String(s) => Some(Self::Text(s)),
            _ => None,
        }
    }

    fn equals(self, other: &Value) -> bool {
        match (self, other) {
            (Self::Text(a), Value::Text(b)) => eq_ignore_case(a, b),
            (Self::Number(a), Value::Number(b)) => a == *b,
            (Self::Bool(a), Value::Bool(b)) => a == *b,
            _ => false,
        }
    }
}

/// Unicode case-insensitive equality (lowercase mapping), without allocating.
pub fn eq_ignore_case(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

/// One test on one field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// The field equals the value (for lists: contains it). Text is case-insensitive.
    Eq(Field, Value),
    /// The field equals one of the values.
    In(Field, Vec<Value>),
    /// A numeric field lies in `[min, max]` (either bound optional).
    Range {
        field: Field,
        /// Inclusive lower bound.
        min: Option<f64>,
        /// Inclusive upper bound.
        max: Option<f64>,
    },
    /// The field is present (for lists: non-empty).
    Exists(Field),
}

impl Condition {
    /// Whether a song satisfies the condition.
    pub fn matches(&self, m: &SongMetadata) -> bool {
        match self {
            Self::Eq(f, v) => f.any_value(m, |x| x.equals(v)),
            Self::In(f, vs) => f.any_value(m, |x| vs.iter().any(|v| x.equals(v))),
            Self::Range { field, min, max } => field.any_value(m, |x| {
                let within = |x: f64| min.is_none_or(|lo| x >= lo) && max.is_none_or(|hi| x <= hi);
                matches!(x, ValueRef::Number(x) if within(x))
            }),
            Self::Exists(f) => f.any_value(m, |_| true),
        }
    }

    fn validate(&self) -> StorageResult<()> {
        let why = match self {
            Self::Range { field, min, max } => {
                let f = field.doc_name();
                match (min, max) {
                    _ if field.is_text() => format!("range filter on text field {f}"),
                    (Some(lo), Some(hi)) if lo > hi => format!("empty range {lo}..{hi} on {f}"),
                    (None, None) => format!("range filter on {f} needs a bound"),
                    _ => return Ok(()),
                }
            }
            Self::In(f, vs) if vs.is_empty() => {
                format!("`in` filter on {} needs at least one value", f.doc_name())
            }
            Self::In(f, vs) if vs.len() > 100 => {
                let (f, n) = (f.doc_name(), vs.len());
                format!("`in` filter on {f} has {n} values; at most 100 are allowed")
            }
            _ => return Ok(()),
        };
        Err(StorageError::InvalidInput(why))
    }
}

/// A conjunction of conditions; the empty filter matches everything.
///
/// ```
/// use songrec_storage::{Condition, Field, Filter, SongId, SongMetadata, Value};
/// let mut m = SongMetadata::new(SongId::from_bytes(b"x"), "Song");
/// m.genre = Some("Rock".into());
/// m.bpm = Some(120.0);
/// let f = Filter::default()
///     .and(Condition::Eq(Field::Genre, Value::Text("rock".into())))
///     .and(Condition::Range { field: Field::Bpm, min: Some(110.0), max: Some(130.0) });
/// assert!(f.matches(&m));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Filter {
    /// All must hold.
    pub all: Vec<Condition>,
}

impl Filter {
    pub fn and(mut self, c: Condition) -> Self {
        self.all.push(c);
        self
    }

    /// Whether the filter has no conditions.
    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    /// Whether a song satisfies every condition.
    pub fn matches(&self, m: &SongMetadata) -> bool {
        self.all.iter().all(|c| c.matches(m))
    }

    /// Rejects filters no backend can answer consistently.
    pub fn validate(&self) -> StorageResult<()> {
        if self.all.len() > 32 {
            return Err(StorageError::InvalidInput(format!(
                "a filter may have at most 32 conditions, got {}",
                self.all.len()
            )));
        }
        self.all.iter().try_for_each(Condition::validate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::SongId;

    fn song() -> SongMetadata {
        let mut m = SongMetadata::new(SongId::from_bytes(b"s"), "Paranoid Android");
        m.artist = Some("Radiohead".into());
        m.genre = Some("Rock".into());
        m.key = Some("A minor".into());
        m.bpm = Some(121.5);
        m.tags = vec!["moody".into(), "guitar".into()];
        m.extra
            .insert("label".into(), serde_json::json!("Parlophone"));
        m
    }

    #[test]
    fn text_is_case_insensitive_and_tags_contain() {
        let m = song();
        assert!(Condition::Eq(Field::Genre, Value::Text("ROCK".into())).matches(&m));
        assert!(!Condition::Eq(Field::Genre, Value::Text("pop".into())).matches(&m));
        assert!(Condition::Eq(Field::Tags, Value::Text("Guitar".into())).matches(&m));
        assert!(!Condition::Eq(Field::Tags, Value::Text("piano".into())).matches(&m));
        assert!(
            Condition::Eq(
                Field::Extra("label".into()),
                Value::Text("parlophone".into())
            )
            .matches(&m)
        );
    }

    #[test]
    fn ranges_are_inclusive_and_skip_missing() {
        let m = song();
        let r = |min, max| Condition::Range {
            field: Field::Bpm,
            min,
            max,
        };
        assert!(r(Some(121.5), Some(121.5)).matches(&m));
        assert!(r(Some(110.0), None).matches(&m));
        assert!(!r(None, Some(121.0)).matches(&m));
        let mut no_bpm = m.clone();
        no_bpm.bpm = None;
        assert!(!r(Some(0.0), None).matches(&no_bpm));
        assert!(!Condition::Exists(Field::Bpm).matches(&no_bpm));
        assert!(Condition::Exists(Field::Bpm).matches(&m));
    }

    #[test]
    fn case_folding_without_allocation() {
        assert!(eq_ignore_case("Ünïcödé", "üNÏCÖDÉ"));
        assert!(eq_ignore_case("ROCK", "rock"));
        assert!(!eq_ignore_case("rock", "rocks"));
        assert!(
            !eq_ignore_case("straße", "STRASSE"),
            "lowercase mapping, not full case folding"
        );
    }

    #[test]
    fn in_and_validation() {
        let m = song();
        let c = Condition::In(
            Field::Artist,
            vec![Value::Text("x".into()), Value::Text("radiohead".into())],
        );
        assert!(c.matches(&m));
        assert!(
            Filter::default()
                .and(Condition::In(Field::Genre, vec![]))
                .validate()
                .is_err()
        );
        let bad = Condition::Range {
            field: Field::Bpm,
            min: Some(5.0),
            max: Some(1.0),
        };
        assert!(Filter::default().and(bad).validate().is_err());
        let text_range = Condition::Range {
            field: Field::Title,
            min: Some(1.0),
            max: None,
        };
        assert!(Filter::default().and(text_range).validate().is_err());
        assert_eq!(
            Field::parse("extra.mood").unwrap(),
            Field::Extra("mood".into())
        );
        // A bare name that is no built-in field is a free-form one, named as typed.
        assert_eq!(Field::parse("Game").unwrap(), Field::Extra("Game".into()));
        assert_eq!(Field::parse("GENRE").unwrap(), Field::Genre);
        for bad in ["", "extra.", "two words", "a=b"] {
            assert!(Field::parse(bad).is_err(), "{bad:?}");
        }
    }
}
