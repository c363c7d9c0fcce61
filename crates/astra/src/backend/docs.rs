//! Document layout: what a song looks like in the songs collection and in a vector collection.
//!
//! Songs collection (`<prefix>_songs`), one document per song (live or tombstone):
//!
//! ```text
//! { "_id": "<sha256 hex>", "deleted": false, "version": 3, "content_hash": "<hex>",
//!   "bucket": "3f",                      // first two hex digits of the id (count partitioning)
//!   "meta": "<SongMetadata as JSON text>",  // canonical, exact round trip, not indexed
//!   "f": { ...lowercase / numeric filter shadows... },
//!   "s": { ...one composite sort key per SortKey... } }
//! ```
//!
//! Vector collection (`<prefix>_v_<model>`), one document per song with a vector:
//!
//! ```text
//! { "_id": "<sha256 hex>", "$vector": {"$binary": ...}, "bucket": "3f",
//!   "live": true,   // the song's metadata exists (the copy below is present)
//!   "meta": "...", "f": { ... } }   // denormalised copy: filters + Match.metadata in one request
//! ```
//!
//! A later version of the model shares the collection: its documents are
//! `"_id": "<sha256 hex>@<version>"` with `"mv": "<version>"` (see `schema::RegisteredModel`).

use std::fmt::Write as _;

use serde_json::{Map, Number, Value, json};
use sha2::{Digest as _, Sha256};
use songrec_storage::query::sort_position;
use songrec_storage::{SongId, SongMetadata, SortKey, StorageError, StorageResult};

use super::errors;

/// Field holding the canonical metadata as JSON text.
pub(crate) const META: &str = "meta";
/// Texts longer than this (bytes, after lowercasing) are stored as a hash in filter shadows,
/// so documents never hit the indexed-string limit; equality still works on the hash.
const MAX_SHADOW_TEXT: usize = 512;
/// The form of the `s` sort keys, stored as `s.v`: 2 since titles and artists sort in
/// natural order (documents without it carry keys of an earlier songrec, which a sorted
/// listing rewrites before it reads).
pub(crate) const SORT_KEYS_VERSION: u64 = 2;
/// The count-partitioning bucket of a song id: its first two hex digits.
pub(crate) fn bucket(id: &SongId) -> String {
    id.as_str().chars().take(2).collect()
}

/// Lowercase text as stored in filter shadows (long texts become a hash of the lowercase text).
pub(crate) fn shadow_text(s: &str) -> String {
    let lc = s.to_lowercase();
    if lc.len() <= MAX_SHADOW_TEXT {
        lc
    } else {
        format!("#sha256:{}", hex::encode(Sha256::digest(lc.as_bytes())))
    }
}

/// A finite f64 as a JSON number (`None` for NaN / infinities).
pub(crate) fn num(x: f64) -> Option<Value> {
    Number::from_f64(x).map(Value::Number)
}

/// The document key an `extra` field is stored under (inside `f.x`, `f.xn`, `f.xm`).
///
/// Names made of `[A-Za-z0-9_-]` are kept as they are; anything else (dots, `$`, spaces,
/// non-ASCII, the empty name) is hex-encoded behind `_h_` so it is a valid, unambiguous path.
pub(crate) fn extra_key(name: &str) -> String {
    let plain = !name.is_empty()
        && !name.starts_with("_h_")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain {
        name.to_owned()
    } else {
        format!("_h_{}", hex::encode(name.as_bytes()))
    }
}

/// A scalar `extra` value as stored in the `f.x` shadow (text lowercased); `None` for
/// null, objects and arrays.
fn extra_scalar(v: &Value) -> Option<Value> {
    match v {
        Value::Bool(b) => Some(Value::Bool(*b)),
        Value::Number(n) => n.as_f64().and_then(num),
        Value::String(s) => Some(Value::String(shadow_text(s))),
        _ => None,
    }
}

/// Shadows of one `extra` value: the `f.x` value (scalar or array of scalars) and its numbers
/// (one number is compared by range filters; with several, range filters are answered by a
/// superset query plus an exact client-side check).
fn extra_shadow(v: &Value) -> Option<(Value, Vec<Value>)> {
    let value = match v {
        Value::Array(items) => Value::Array(items.iter().filter_map(extra_scalar).collect()),
        other => extra_scalar(other)?,
    };
    let numbers = match &value {
        Value::Array(xs) if xs.is_empty() => return None,
        Value::Array(xs) => xs.iter().filter(|x| x.is_number()).cloned().collect(),
        x => x.is_number().then(|| x.clone()).into_iter().collect(),
    };
    Some((value, numbers))
}

/// The `f` object: every value a [`songrec_storage::Filter`] can test, in the form the
/// translated Data API filter compares against (see `filter.rs`).
pub(crate) fn filter_shadows(m: &SongMetadata) -> Value {
    let mut f = Map::new();
    let mut text = |k: &str, v: &Option<String>| {
        if let Some(s) = v {
            f.insert(k.into(), json!(shadow_text(s)));
        }
    };
    text("artist", &m.artist);
    text("album", &m.album);
    text("genre", &m.genre);
    text("key", &m.key);
    f.insert("title".into(), json!(shadow_text(&m.title)));
    f.insert("file_name".into(), json!(shadow_text(&m.file_name)));
    if !m.tags.is_empty() {
        let tags: Vec<String> = m.tags.iter().map(|t| shadow_text(t)).collect();
        f.insert("tags".into(), json!(tags));
    }
    let mut number = |k: &str, x: f64| {
        if let Some(v) = num(x) {
            f.insert(k.into(), v);
        }
    };
    if let Some(b) = m.bpm {
        number("bpm", f64::from(b));
    }
    number("duration_secs", m.duration_secs);
    number("sample_rate", f64::from(m.sample_rate));
    number("channels", f64::from(m.channels));
    number("file_size", m.file_size as f64);
    number("version", m.version as f64);

    let (mut x, mut xn, mut xm) = (Map::new(), Map::new(), Map::new());
    for (name, value) in &m.extra {
        let Some((value, numbers)) = extra_shadow(value) else {
            continue;
        };
        let key = extra_key(name);
        match numbers.as_slice() {
            [] => {}
            [n] => _ = xn.insert(key.clone(), n.clone()),
            _ => _ = xm.insert(key.clone(), json!(true)),
        }
        x.insert(key, value);
    }
    for (k, v) in [("x", x), ("xn", xn), ("xm", xm)] {
        if !v.is_empty() {
            f.insert(k.into(), Value::Object(v));
        }
    }
    Value::Object(f)
}

/// A [`sort_position`] whose order is the same under the Data API's two string orders (the
/// in-memory sort compares UTF-16 code units, range filters UTF-8 bytes; they disagree when a
/// character above U+FFFF meets one in U+E000–U+FFFF): characters from U+E000 up are written as
/// U+E000 and six hex digits of their offset, every other one is below U+D800.
fn service_position(m: &SongMetadata, key: SortKey) -> String {
    let position = sort_position(m, key);
    let mut out = String::with_capacity(position.len());
    for c in position.chars() {
        if u32::from(c) >= 0xE000 {
            let _ = write!(out, "\u{E000}{:06x}", u32::from(c) - 0xE000);
        } else {
            out.push(c);
        }
    }
    out
}

/// Name of the composite sort field for a key (inside `s`), `None` for [`SortKey::Id`].
pub(crate) fn sort_field(key: SortKey) -> Option<&'static str> {
    Some(match key {
        SortKey::Id => return None,
        SortKey::Title => "s.title",
        SortKey::Artist => "s.artist",
        SortKey::Created => "s.created",
        SortKey::Updated => "s.updated",
        SortKey::Bpm => "s.bpm",
        SortKey::Duration => "s.duration",
    })
}

/// The `s` object: per sort key the song's [`sort_position`] (as [`service_position`] writes
/// it), whose order equals [`songrec_storage::compare_by`] (ties broken by id, which ends every
/// key), so a listing is a single-field sort with keyset paging.
pub(crate) fn sort_keys(m: &SongMetadata) -> Value {
    let at = |key| service_position(m, key);
    json!({
        "v": SORT_KEYS_VERSION,
        "title": at(SortKey::Title),
        "artist": at(SortKey::Artist),
        "created": at(SortKey::Created),
        "updated": at(SortKey::Updated),
        "bpm": at(SortKey::Bpm),
        "duration": at(SortKey::Duration),
    })
}

/// The fields of a live songs-collection document (without `_id`).
pub(crate) fn song_fields(m: &SongMetadata) -> StorageResult<Map<String, Value>> {
    let mut d = copy_fields(m)?;
    d.remove("live");
    d.insert("deleted".into(), json!(false));
    d.insert("version".into(), json!(m.version));
    d.insert("content_hash".into(), json!(m.content_hash));
    d.insert("s".into(), sort_keys(m));
    Ok(d)
}

/// A full songs-collection document.
pub(crate) fn song_doc(m: &SongMetadata) -> StorageResult<Value> {
    let mut d = song_fields(m)?;
    d.insert("_id".into(), json!(m.id.as_str()));
    Ok(Value::Object(d))
}

/// The metadata copy carried by vector documents (without `_id` and `$vector`).
pub(crate) fn copy_fields(m: &SongMetadata) -> StorageResult<Map<String, Value>> {
    let mut d = Map::new();
    d.insert("live".into(), json!(true));
    d.insert("bucket".into(), json!(bucket(&m.id)));
    let text = serde_json::to_string(m).map_err(|e| {
        StorageError::InvalidInput(format!(
            "metadata of song {} cannot be serialised: {e}",
            m.id
        ))
    })?;
    d.insert(META.into(), json!(text));
    d.insert("f".into(), filter_shadows(m));
    Ok(d)
}

/// A full vector document of model `r` for a committed song.
pub(crate) fn vector_doc(
    m: &SongMetadata,
    wire_vector: Value,
    r: &super::schema::RegisteredModel,
) -> StorageResult<Value> {
    let mut d = copy_fields(m)?;
    d.insert("_id".into(), json!(r.doc_id(&m.id)));
    if let Some(tag) = &r.tag {
        d.insert(super::schema::TAG.into(), json!(tag));
    }
    d.insert("$vector".into(), wire_vector);
    Ok(Value::Object(d))
}

/// Parses the canonical metadata of a document (songs or vector collection).
pub(crate) fn parse_meta(doc: &Value) -> StorageResult<SongMetadata> {
    let id = doc.get("_id").and_then(Value::as_str).unwrap_or("?");
    let text = doc.get(META).and_then(Value::as_str).ok_or_else(|| {
        errors::backend(format!(
            "document {id} has no `meta` text; it was not written by songrec or is damaged"
        ))
    })?;
    serde_json::from_str(text)
        .map_err(|e| errors::backend(format!("document {id} has unreadable metadata: {e}")))
}

/// The `_id` of a document as a song id (a vector document of a version sharing another's
/// collection is `<song id>@<version>`).
pub(crate) fn doc_id(doc: &Value) -> StorageResult<SongId> {
    let raw = doc.get("_id").and_then(Value::as_str).unwrap_or_default();
    let song = raw.split_once('@').map_or(raw, |(id, _)| id);
    SongId::parse(song)
        .map_err(|_| errors::backend(format!("document id {raw:?} is not a song id")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use songrec_storage::compare_by;

    fn song(n: u32, title: &str, artist: Option<&str>, bpm: Option<f32>) -> SongMetadata {
        let mut m = SongMetadata::new(SongId::from_bytes(&n.to_le_bytes()), title);
        m.artist = artist.map(str::to_owned);
        m.bpm = bpm;
        m.duration_secs = f64::from(n) * 1.5 - 3.0;
        m
    }

    #[test]
    fn sort_keys_order_like_compare_by() {
        let songs = vec![
            song(1, "b", Some("X"), Some(120.0)),
            song(2, "B", None, None),
            song(3, "a", Some("x"), Some(-3.0)),
            song(4, "ab", Some("x y"), Some(0.0)),
            song(5, "a", Some("x"), None),
            song(6, "Ünï", Some("ä"), Some(119.5)),
            song(7, "\u{10000}", Some("\u{FFFD}"), None),
            song(8, "\u{FFFD}", Some("\u{10400}x"), None),
            song(9, "\u{E000}", Some("\u{E000}"), None),
            song(10, "\u{E000}\u{10FFFF}", Some("\u{D7FF}"), None),
            song(11, "\u{E001}", Some("\u{1F600}"), None),
            song(12, "track10", Some("Band 10"), None),
            song(13, "Track2", Some("band 9"), None),
            song(14, "track1", Some("band09"), None),
            song(15, "track 1", Some("band 009"), None),
            song(16, "track02", Some("band"), None),
            // Control characters below the separator order as in every other backend.
            song(17, "a", Some("x\u{0}"), None),
            song(18, "a\u{1}\u{1}", Some("x"), None),
            song(19, "a\u{0}", Some("x\u{1}"), None),
            song(20, "a\u{2}b", Some("x\u{2}"), None),
        ];
        let utf16 = |a: &String, b: &String| a.encode_utf16().cmp(b.encode_utf16());
        for key in [
            SortKey::Title,
            SortKey::Artist,
            SortKey::Bpm,
            SortKey::Duration,
            SortKey::Created,
        ] {
            let field = sort_field(key)
                .and_then(|f| f.strip_prefix("s."))
                .unwrap_or("");
            let mut by_rust = songs.clone();
            by_rust.sort_by(|a, b| compare_by(key, a, b));
            let mut by_key = songs.clone();
            by_key.sort_by_key(|m| sort_keys(m)[field].as_str().unwrap_or_default().to_owned());
            let ids = |v: &[SongMetadata]| v.iter().map(|m| m.id.clone()).collect::<Vec<_>>();
            assert_eq!(ids(&by_key), ids(&by_rust), "{key:?}");
            // The server's in-memory sort (UTF-16 code units) agrees too.
            let mut by_utf16 = songs.clone();
            by_utf16.sort_by(|a, b| {
                let k =
                    |m: &SongMetadata| sort_keys(m)[field].as_str().unwrap_or_default().to_owned();
                utf16(&k(a), &k(b))
            });
            assert_eq!(ids(&by_utf16), ids(&by_rust), "{key:?} in UTF-16 order");
        }
    }

    #[test]
    fn extra_shadows_and_keys() {
        let mut m = song(1, "t", None, None);
        m.extra.insert("Label".into(), json!("Parlophone"));
        m.extra.insert("a.b".into(), json!([1, "X", 2.5, {"o": 1}]));
        m.extra.insert("none".into(), json!(null));
        m.extra.insert("obj".into(), json!({"a": 1}));
        let f = filter_shadows(&m);
        assert_eq!(f["x"]["Label"], json!("parlophone"));
        let k = extra_key("a.b");
        assert_eq!(k, "_h_612e62");
        assert_eq!(f["x"][&k], json!([1.0, "x", 2.5]));
        assert_eq!(f["xm"][&k], json!(true));
        assert!(f["xn"].get(&k).is_none());
        assert!(f["x"].get("none").is_none() && f["x"].get("obj").is_none());
        assert_eq!(extra_key("_h_x"), "_h_5f685f78");
        assert_eq!(extra_key(""), "_h_");
    }

    #[test]
    fn long_text_is_hashed_consistently() {
        let long = "Ab".repeat(400);
        assert_eq!(shadow_text(&long), shadow_text(&long.to_uppercase()));
        assert!(shadow_text(&long).starts_with("#sha256:"));
        assert_eq!(shadow_text("MiXeD"), "mixed");
    }
}
