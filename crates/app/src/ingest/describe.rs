//! What a song's metadata says of its file: the vocabulary of the free-form `extra` fields
//! ingest writes (style and sound tags, where each described field came from, the audio
//! identity) and the metadata built from a file's tags and analysis.

use chrono::Utc;
use songrec_audio::{FileAnalysis, Tags};
use songrec_storage::{SongId, SongMetadata};

/// Metadata `extra` key of the model's style tags: `[["electronic", 0.61], ...]`, strongest
/// first, at most [`STYLE_TAGS_KEPT`].
pub const STYLE_TAGS: &str = "style_tags";
/// How many style tags are kept per song.
pub const STYLE_TAGS_KEPT: usize = 10;

/// The stored form of a model's tag probabilities: the strongest [`STYLE_TAGS_KEPT`], rounded.
///
/// ```
/// let v = songrec_app::ingest::style_tags_value(&[("rock".into(), 0.2), ("pop".into(), 0.71234)]);
/// assert_eq!(v, serde_json::json!([["pop", 0.712], ["rock", 0.2]]));
/// ```
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

/// Metadata `extra` key of the song's audio identity (`songrec_audio::identity`, hex): what
/// finds a retagged file's song. Equal to the id for songs ingested since songs are identified
/// by their audio; set by `songrec relink` for older ones.
pub const AUDIO_ID: &str = "audio_id";

/// A song's stored audio identity ([`AUDIO_ID`]).
pub fn audio_id_of(m: &SongMetadata) -> Option<SongId> {
    SongId::parse(m.extra.get(AUDIO_ID)?.as_str()?).ok()
}

/// Sets the fields a file's tags describe (title, artist, album, genre; track, disc and year
/// in `extra`) and where each came from ([`TAG_SOURCES`]), leaving alone the fields edited by
/// hand (source `edit`): what a new song gets and what a retag changes. The title falls back to
/// the file's name.
pub fn describe_from_tags(m: &mut SongMetadata, t: &Tags, path: &std::path::Path) {
    use songrec_audio::FieldSource;
    let s = &t.sources;
    let (title, title_source) = match t.title.clone().filter(|t| !t.trim().is_empty()) {
        Some(title) => (title, s.title.unwrap_or(FieldSource::Tag)),
        None => (
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            FieldSource::FileName,
        ),
    };
    let edited = |m: &SongMetadata, f: &str| field_source(m, f) == Some("edit");
    let text = [
        ("title", Some(title), Some(title_source)),
        ("artist", t.artist.clone(), s.artist),
        ("album", t.album.clone(), s.album),
        ("genre", t.genre.clone(), s.genre),
    ];
    for (field, value, source) in text {
        if edited(m, field) {
            continue;
        }
        let slot = match field {
            "title" => {
                m.title = value.clone().unwrap_or_default();
                None
            }
            "artist" => Some(&mut m.artist),
            "album" => Some(&mut m.album),
            _ => Some(&mut m.genre),
        };
        if let Some(slot) = slot {
            *slot = value.clone();
        }
        set_field_source(m, field, value.and(source).map(FieldSource::as_str));
    }
    for (field, value, source) in [
        ("track", t.track, s.track),
        ("disc", t.disc, s.disc),
        ("year", t.year, s.year),
    ] {
        if edited(m, field) {
            continue;
        }
        match value {
            Some(v) => m.extra.insert(field.into(), v.into()),
            None => m.extra.remove(field),
        };
        set_field_source(m, field, value.and(source).map(FieldSource::as_str));
    }
}

/// Builds a song's metadata from its analysis: the tags (embedded, else from the path) with
/// where each came from ([`TAG_SOURCES`]), and the track, disc and year in `extra`; `key` is the
/// SHA-256 of the file's bytes ([`SongMetadata::content_hash`]), `id` the audio identity.
pub fn metadata_from(id: &SongId, key: &SongId, fa: &FileAnalysis, file_size: u64) -> SongMetadata {
    let mut m = SongMetadata::new(id.clone(), "");
    m.content_hash = key.as_str().to_owned();
    m.extra
        .insert(AUDIO_ID.into(), serde_json::Value::String(id.to_string()));
    describe_from_tags(&mut m, &fa.tags, &fa.path);
    m.duration_secs = fa.info.duration_secs;
    m.sample_rate = fa.info.sample_rate;
    m.channels = fa.info.channels;
    m.file_size = file_size;
    m.file_name = fa
        .path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Tempo and key from the first embedder that estimates them (the DSP embedder does).
    m.bpm = fa
        .analyses
        .iter()
        .find_map(|a| a.analysis.bpm)
        .map(|b| (b * 10.0).round() / 10.0);
    m.key = fa.analyses.iter().find_map(|a| a.analysis.key.clone());
    m.extra.insert(
        "codec".into(),
        serde_json::Value::String(fa.info.codec.clone()),
    );
    // Descriptors from the embedder that measures them (the DSP one; a neural embedder leaves
    // them empty), style tags from the one that predicts them (musicnn).
    if let Some(d) = fa
        .analyses
        .iter()
        .find(|a| a.analysis.descriptors.analysed_secs > 0.0)
        && let Ok(v) = serde_json::to_value(&d.analysis.descriptors)
    {
        m.extra.insert("descriptors".into(), v);
    }
    if let Some(a) = fa.analyses.iter().find(|a| !a.analysis.tags.is_empty()) {
        m.extra
            .insert(STYLE_TAGS.into(), style_tags_value(&a.analysis.tags));
    }
    if let Some(a) = fa
        .analyses
        .iter()
        .find(|a| !a.analysis.sound_tags.is_empty())
    {
        m.extra
            .insert(SOUND_TAGS.into(), style_tags_value(&a.analysis.sound_tags));
    }
    m.created_at = Utc::now();
    m.updated_at = m.created_at;
    m
}
