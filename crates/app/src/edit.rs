//! `songrec edit`: change a song's metadata by hand. Every change bumps the song's version and
//! update time, which is how `songrec sync` sees that it changed here.

use serde_json::Value;
use songrec_storage::SongMetadata;

use crate::{AppError, AppResult};

/// Requested changes.
#[derive(Clone, Debug, Default)]
pub struct Edit {
    /// New title.
    pub title: Option<String>,
    /// New artist (empty: remove).
    pub artist: Option<String>,
    /// New album (empty: remove).
    pub album: Option<String>,
    /// New genre (empty: remove).
    pub genre: Option<String>,
    pub add_tags: Vec<String>,
    pub remove_tags: Vec<String>,
    /// `key=value` pairs: `title`, `artist`, `album`, `genre`, `key`, `bpm`, or any free-form
    /// field (values that read as JSON numbers, booleans, arrays or objects are stored as such).
    pub set: Vec<(String, String)>,
    /// Fields to remove: `artist`, `album`, `genre`, `key`, `bpm` or a free-form field.
    pub unset: Vec<String>,
}

/// Fields that describe the file or the library's bookkeeping: never edited by hand.
const FIXED: &str = "id content_hash version created_at updated_at duration_secs sample_rate \
     channels file_size file_name tags";

fn fixed(field: &str) -> bool {
    FIXED.split_whitespace().any(|f| f == field)
}

fn opt(v: &str) -> Option<String> {
    let v = v.trim();
    (!v.is_empty()).then(|| v.to_owned())
}

fn set_field(m: &mut SongMetadata, key: &str, value: &str) -> AppResult<()> {
    match key {
        "title" => {
            let t =
                opt(value).ok_or_else(|| AppError::Invalid("a title cannot be empty".into()))?;
            m.title = t;
        }
        "artist" => m.artist = opt(value),
        "album" => m.album = opt(value),
        "genre" => m.genre = opt(value),
        "key" => {
            m.key = opt(value)
                .map(|k| crate::musickey::normalize(&k))
                .transpose()?
        }
        "bpm" => {
            let bpm = |b: String| {
                let ok = b.parse::<f32>().ok().filter(|x| x.is_finite() && *x > 0.0);
                ok.ok_or_else(|| AppError::Invalid(format!("bpm: {b:?} is not a positive number")))
            };
            m.bpm = opt(value).map(bpm).transpose()?;
        }
        k if fixed(k) => {
            return Err(AppError::Invalid(format!(
                "{k} is not editable (it describes the file or the library's bookkeeping)"
            )));
        }
        "" => return Err(AppError::Invalid("--set needs KEY=VALUE".into())),
        k => {
            let v = match serde_json::from_str::<Value>(value) {
                Ok(
                    v @ (Value::Number(_) | Value::Bool(_) | Value::Array(_) | Value::Object(_)),
                ) => v,
                _ => Value::String(value.to_owned()),
            };
            m.extra.insert(k.to_owned(), v);
        }
    }
    Ok(())
}

/// Carries what was set by hand on `saved` (a song pruned when its file went away) onto `new`
/// (the same song analysed again when its file came back): described fields edited by hand,
/// the user's tags, and every other field the analysis does not write (free-form fields, stars,
/// plays). What describes the file comes from `new`.
///
/// ```
/// use songrec_app::edit::{apply, carry_edits, Edit};
/// use songrec_storage::{SongId, SongMetadata};
/// let mut saved = SongMetadata::new(SongId::from_bytes(b"x"), "From tags");
/// let e = Edit { genre: Some("Chiptune".into()), set: vec![("label".into(), "Warp".into())], add_tags: vec!["fav".into()], ..Edit::default() };
/// apply(&mut saved, &e).unwrap();
/// let mut new = SongMetadata::new(SongId::from_bytes(b"x"), "From tags");
/// new.genre = Some("Game".into());
/// carry_edits(&saved, &mut new);
/// assert_eq!(new.genre.as_deref(), Some("Chiptune"));
/// assert_eq!(new.extra["label"], "Warp");
/// assert_eq!(new.tags, vec!["fav".to_string()]);
/// ```
pub fn carry_edits(saved: &SongMetadata, new: &mut SongMetadata) {
    use crate::extra::{TAG_SOURCES, field_source, set_field_source};
    for f in ["title", "artist", "album", "genre", "track", "disc", "year"] {
        if field_source(saved, f) != Some("edit") {
            continue;
        }
        match f {
            "title" => new.title = saved.title.clone(),
            "artist" => new.artist = saved.artist.clone(),
            "album" => new.album = saved.album.clone(),
            "genre" => new.genre = saved.genre.clone(),
            other => {
                if let Some(v) = saved.extra.get(other) {
                    new.extra.insert(other.to_owned(), v.clone());
                }
            }
        }
        set_field_source(new, f, Some("edit"));
    }
    for t in &saved.tags {
        if !new.tags.contains(t) {
            new.tags.push(t.clone());
        }
    }
    for (k, v) in &saved.extra {
        if k != TAG_SOURCES && !new.extra.contains_key(k) {
            new.extra.insert(k.clone(), v.clone());
        }
    }
}

/// Applies `e` to the song `m` names and stores it, read afresh and written over the version
/// read ([`songrec_storage::StorageBackend::put_metadata_if`]), again when another writer
/// changed the song in between: a play a server counted meanwhile is kept. Returns the song as
/// stored, whether anything changed and the version it had before.
pub async fn store(
    backend: &dyn songrec_storage::StorageBackend,
    m: &SongMetadata,
    e: &Edit,
) -> AppResult<(SongMetadata, bool, u64)> {
    use songrec_storage::StorageError;
    // Each lost round means another writer changed the song in between; a play a second
    // takes far fewer rounds than this.
    for _ in 0..64 {
        let mut fresh = backend
            .get_metadata(&m.id)
            .await?
            .ok_or_else(|| StorageError::NotFound(format!("song {}", m.id)))?;
        let old = fresh.version;
        if !apply(&mut fresh, e)? {
            return Ok((fresh, false, old));
        }
        match backend.put_metadata_if(&fresh, old).await {
            Ok(()) => return Ok((fresh, true, old)),
            Err(StorageError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StorageError::Conflict(format!(
        "song {} kept changing while the edit was written; try again",
        m.id
    ))
    .into())
}

/// Applies `e`; if anything changed, bumps the version and update time. Returns whether it did.
pub fn apply(m: &mut SongMetadata, e: &Edit) -> AppResult<bool> {
    let before = m.clone();
    let named = [
        ("title", &e.title),
        ("artist", &e.artist),
        ("album", &e.album),
        ("genre", &e.genre),
    ];
    for (k, v) in named {
        if let Some(v) = v {
            set_field(m, k, v)?;
        }
    }
    for (k, v) in &e.set {
        set_field(m, k.trim(), v)?;
    }
    for k in &e.unset {
        match k.trim() {
            "artist" => m.artist = None,
            "album" => m.album = None,
            "genre" => m.genre = None,
            "key" => m.key = None,
            "bpm" => m.bpm = None,
            k if fixed(k) || k == "title" => {
                return Err(AppError::Invalid(format!("{k} cannot be removed")));
            }
            k => {
                m.extra.remove(k);
            }
        }
    }
    for t in &e.add_tags {
        let t = t.trim();
        if !t.is_empty() && !m.tags.iter().any(|x| x == t) {
            m.tags.push(t.to_owned());
        }
    }
    m.tags
        .retain(|t| !e.remove_tags.iter().any(|r| r.trim() == t));
    // A described field changed by hand comes from the edit now, not from a tag or the path.
    let value = |m: &SongMetadata, f: &str| match f {
        "title" => Some(Value::from(m.title.clone())),
        "artist" => m.artist.clone().map(Value::from),
        "album" => m.album.clone().map(Value::from),
        "genre" => m.genre.clone().map(Value::from),
        other => m.extra.get(other).cloned(),
    };
    for f in ["title", "artist", "album", "genre", "track", "disc", "year"] {
        let now = value(&*m, f);
        if now != value(&before, f) {
            crate::extra::set_field_source(m, f, now.is_some().then_some("edit"));
        }
    }
    if *m == before {
        return Ok(false);
    }
    m.touch();
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use songrec_storage::SongId;

    fn song() -> SongMetadata {
        let mut m = SongMetadata::new(SongId::from_bytes(b"s"), "Song");
        m.artist = Some("A".into());
        m.tags = vec!["x".into()];
        m
    }

    #[test]
    fn an_edited_field_comes_from_the_edit() {
        use crate::extra::{field_source, set_field_source};
        let mut m = song();
        set_field_source(&mut m, "artist", Some("path"));
        set_field_source(&mut m, "title", Some("file_name"));
        m.extra.insert("track".into(), 3.into());
        set_field_source(&mut m, "track", Some("file_name"));
        let e = Edit {
            artist: Some("B".into()),
            unset: vec!["track".into()],
            ..Edit::default()
        };
        assert!(apply(&mut m, &e).unwrap());
        assert_eq!(field_source(&m, "artist"), Some("edit"));
        assert_eq!(field_source(&m, "title"), Some("file_name"));
        assert_eq!(field_source(&m, "track"), None);
        // The same edit again changes nothing, sources included.
        let v = m.version;
        assert!(!apply(&mut m, &e).unwrap());
        assert_eq!(m.version, v);
    }

    #[test]
    fn edits_bump_version_only_when_something_changed() {
        let mut m = song();
        assert!(!apply(&mut m, &Edit::default()).unwrap());
        assert!(
            !apply(
                &mut m,
                &Edit {
                    artist: Some("A".into()),
                    add_tags: vec!["x".into()],
                    ..Edit::default()
                }
            )
            .unwrap()
        );
        assert_eq!(m.version, 1);
        let e = Edit {
            genre: Some("jazz".into()),
            artist: Some(String::new()),
            add_tags: vec!["late night".into()],
            remove_tags: vec!["x".into()],
            set: vec![
                ("year".into(), "1997".into()),
                ("label".into(), "Warp".into()),
                ("key".into(), "Am".into()),
                ("bpm".into(), "121.5".into()),
            ],
            ..Edit::default()
        };
        assert!(apply(&mut m, &e).unwrap());
        assert_eq!(m.version, 2);
        assert_eq!(m.genre.as_deref(), Some("jazz"));
        assert_eq!(m.artist, None);
        assert_eq!(m.tags, vec!["late night"]);
        assert_eq!(m.extra["year"], 1997);
        assert_eq!(m.extra["label"], "Warp");
        assert_eq!(m.key.as_deref(), Some("A minor"));
        assert_eq!(m.bpm, Some(121.5));
        let e = Edit {
            unset: vec!["label".into(), "bpm".into()],
            ..Edit::default()
        };
        assert!(apply(&mut m, &e).unwrap());
        assert!(!m.extra.contains_key("label") && m.bpm.is_none());
        assert_eq!(m.version, 3);
    }

    #[test]
    fn bookkeeping_fields_are_refused() {
        for (k, v) in [
            ("version", "9"),
            ("id", "x"),
            ("file_size", "1"),
            ("title", " "),
        ] {
            let e = Edit {
                set: vec![(k.into(), v.into())],
                ..Edit::default()
            };
            let mut m = song();
            assert!(apply(&mut m, &e).is_err(), "{k}");
        }
        let e = Edit {
            set: vec![("bpm".into(), "fast".into())],
            ..Edit::default()
        };
        assert!(
            apply(&mut song(), &e)
                .unwrap_err()
                .to_string()
                .contains("fast")
        );
        let e = Edit {
            unset: vec!["title".into()],
            ..Edit::default()
        };
        assert!(apply(&mut song(), &e).is_err());
    }
}
