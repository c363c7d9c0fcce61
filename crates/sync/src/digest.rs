//! Metadata content digests: what "the same metadata" means to sync.
//!
//! Versions alone can collide across machines (two machines both edit v3 into a different v4),
//! so sync also compares a digest of the metadata's *content*: every field except `version` and
//! `updated_at` (which change on every write without changing what the song is), serialised as
//! canonical JSON (object keys sorted at every level) and hashed with SHA-256.

use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use songrec_storage::SongMetadata;

/// Fields that are bookkeeping of a write, not content.
pub const NOT_CONTENT: [&str; 2] = ["version", "updated_at"];

/// The metadata as a JSON object without [`NOT_CONTENT`] fields (`extra` fields are top-level keys).
///
/// ```
/// use songrec_storage::{SongId, SongMetadata};
/// use songrec_sync::digest::content;
/// let m = SongMetadata::new(SongId::from_bytes(b"a"), "Song");
/// let c = content(&m);
/// assert_eq!(c["title"], "Song");
/// assert!(!c.contains_key("version"));
/// ```
pub fn content(m: &SongMetadata) -> Map<String, Value> {
    let mut obj = match serde_json::to_value(m) {
        Ok(Value::Object(o)) => o,
        // SongMetadata always serialises to an object; keep the digest total anyway.
        _ => Map::new(),
    };
    for k in NOT_CONTENT {
        obj.remove(k);
    }
    obj
}

/// Hex SHA-256 of the canonical JSON of [`content`].
///
/// ```
/// use songrec_storage::{SongId, SongMetadata};
/// use songrec_sync::digest::digest;
/// let mut m = SongMetadata::new(SongId::from_bytes(b"a"), "Song");
/// let d = digest(&m);
/// m.touch(); // new version and update time, same content
/// assert_eq!(digest(&m), d);
/// m.title = "Other".into();
/// assert_ne!(digest(&m), d);
/// ```
pub fn digest(m: &SongMetadata) -> String {
    digest_content(&content(m))
}

/// Hex SHA-256 of the canonical JSON of a content object.
pub fn digest_content(c: &Map<String, Value>) -> String {
    let json = serde_json::to_string(c).unwrap_or_default();
    hex::encode(Sha256::digest(json.as_bytes()))
}

/// Canonical JSON of any value (sorted keys, no whitespace): serde_json's `Map` is a
/// `BTreeMap` (the `preserve_order` feature is off; a test below checks it), so its compact
/// form already sorts the keys at every level.
pub fn canonical(v: &Value) -> String {
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use songrec_storage::SongId;

    #[test]
    fn key_order_does_not_matter() {
        let a = json!({"b": 1, "a": {"y": [1, {"q": 2, "p": 1}], "x": null}});
        let b = json!({"a": {"x": null, "y": [1, {"p": 1, "q": 2}]}, "b": 1});
        assert_eq!(canonical(&a), canonical(&b));
        assert_eq!(
            canonical(&a),
            r#"{"a":{"x":null,"y":[1,{"p":1,"q":2}]},"b":1}"#
        );
    }

    #[test]
    fn extra_fields_and_every_content_field_count() {
        let base = SongMetadata::new(SongId::from_bytes(b"s"), "T");
        let d0 = digest(&base);
        let mut m = base.clone();
        m.extra.insert("label".into(), json!("Warp"));
        assert_ne!(digest(&m), d0);
        let mut m = base.clone();
        m.tags.push("dark".into());
        assert_ne!(digest(&m), d0);
        let mut m = base.clone();
        m.bpm = Some(120.0);
        assert_ne!(digest(&m), d0);
        let mut m = base.clone();
        m.created_at = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
        assert_ne!(digest(&m), d0, "created_at is content");
        let mut m = base.clone();
        m.version = 9;
        m.updated_at = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
        assert_eq!(digest(&m), d0, "version and updated_at are not");
    }

    #[test]
    fn survives_a_json_round_trip() {
        let mut m = SongMetadata::new(SongId::from_bytes(b"r"), "Round");
        m.bpm = Some(0.1);
        m.duration_secs = 1.0 / 3.0;
        m.extra.insert("n".into(), json!({"z": 1, "a": [true]}));
        let back: SongMetadata = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(digest(&back), digest(&m));
    }

    /// Moved from the storage crate's metadata tests: every awkward float (halfway decimals,
    /// subnormals, extremes) in duration, bpm and `extra` keeps the digest through text and
    /// through a `Value`, so a round trip through any backend is never seen as an edit.
    #[test]
    fn awkward_floats_keep_the_digest() {
        use songrec_conformance::floats::{f32_cases, f64_cases};
        let f32s = f32_cases(7, 64);
        for (i, d) in f64_cases(11, 64).into_iter().enumerate() {
            let mut m = SongMetadata::new(SongId::from_bytes(b"floats"), "Floats");
            m.duration_secs = d;
            m.bpm = Some(f32s[i % f32s.len()]);
            m.extra.insert("floats".into(), json!([d, -d]));
            let text = serde_json::to_string(&m).unwrap();
            let back: SongMetadata = serde_json::from_str(&text).unwrap();
            assert_eq!(digest(&back), digest(&m), "text: {text}");
            let value = serde_json::to_value(&m).unwrap();
            let back: SongMetadata = serde_json::from_value(value).unwrap();
            assert_eq!(digest(&back), digest(&m), "value: {text}");
        }
    }
}
