//! The vocabulary of the metadata's free-form `extra` fields that songrec itself writes and
//! reads: style and sound tags, where each described field came from, the audio identity.
//! Ingest writes them; `similar --explain`, words queries, edits, previews, relink and the doors
//! read them.

use songrec_storage::SongMetadata;

/// Metadata `extra` key of the model's style tags: `[["electronic", 0.61], ...]`, strongest
/// first, at most [`STYLE_TAGS_KEPT`].
pub const STYLE_TAGS: &str = "style_tags";
/// How many style tags are kept per song.
pub const STYLE_TAGS_KEPT: usize = 10;

/// The stored form of a model's tag probabilities: the strongest [`STYLE_TAGS_KEPT`], rounded.
pub fn style_tags_value(tags: &[(String, f32)]) -> serde_json::Value {
    let mut t: Vec<&(String, f32)> = tags.iter().filter(|(_, p)| p.is_finite()).collect();
    t.sort_by(|a, b| b.1.total_cmp(&a.1));
    serde_json::Value::Array(
        t.into_iter()
            .take(STYLE_TAGS_KEPT)
            .map(|(n, p)| serde_json::json!([n, (f64::from(*p) * 1000.0).round() / 1000.0]))
            .collect(),
    )
}

/// A song's stored style tags (see [`STYLE_TAGS`]).
pub fn style_tags_of(m: &SongMetadata) -> Vec<(String, f32)> {
    tags_of(m, STYLE_TAGS)
}

/// Metadata `extra` key of the sound tags (musicnn's MTT network: instruments, voice, tempo,
/// loudness), stored like [`STYLE_TAGS`].
pub const SOUND_TAGS: &str = "sound_tags";

/// A song's stored sound tags (see [`SOUND_TAGS`]).
pub fn sound_tags_of(m: &SongMetadata) -> Vec<(String, f32)> {
    tags_of(m, SOUND_TAGS)
}

fn tags_of(m: &SongMetadata, key: &str) -> Vec<(String, f32)> {
    m.extra
        .get(key)
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|e| {
                    let e = e.as_array()?;
                    Some((e.first()?.as_str()?.to_owned(), e.get(1)?.as_f64()? as f32))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Metadata `extra` key of where each described field came from: `{"title": "file_name",
/// "artist": "path", "album": "tag", …}` (`tag`, `path`, `file_name`; `edit` once edited by
/// hand, `itunes` once `previews` wrote it).
pub const TAG_SOURCES: &str = "tag_sources";

/// Records that `field` of `m` now comes from `source` (for [`TAG_SOURCES`]); `None` forgets
/// it (the field was removed).
pub fn set_field_source(m: &mut SongMetadata, field: &str, source: Option<&str>) {
    let entry = m
        .extra
        .entry(TAG_SOURCES.to_owned())
        .or_insert_with(|| serde_json::Value::Object(Default::default()));
    if !entry.is_object() {
        *entry = serde_json::Value::Object(Default::default());
    }
    if let Some(o) = entry.as_object_mut() {
        match source {
            Some(s) => o.insert(field.to_owned(), s.into()),
            None => o.remove(field),
        };
    }
}

/// Where `field` of `m` came from ([`TAG_SOURCES`]), when known.
pub fn field_source<'a>(m: &'a SongMetadata, field: &str) -> Option<&'a str> {
    m.extra.get(TAG_SOURCES)?.get(field)?.as_str()
}

pub use songrec_storage::metadata::AUDIO_ID;

#[cfg(test)]
mod tests {
    #[test]
    fn doc_style_tags_value() {
        let v = crate::extra::style_tags_value(&[("rock".into(), 0.2), ("pop".into(), 0.71234)]);
        assert_eq!(v, serde_json::json!([["pop", 0.712], ["rock", 0.2]]));
    }
}
