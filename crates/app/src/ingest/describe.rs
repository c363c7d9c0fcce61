//! The metadata built from a file's tags and analysis (the `extra` fields it writes are named in
//! [`crate::extra`]).

use chrono::Utc;
use songrec_audio::{FileAnalysis, Tags};
use songrec_storage::{SongId, SongMetadata};

use crate::extra::{
    AUDIO_ID, SOUND_TAGS, STYLE_TAGS, field_source, set_field_source, style_tags_value,
};

/// Sets the fields a file's tags describe (title, artist, album, genre; track, disc and year
/// in `extra`) and where each came from ([`crate::extra::TAG_SOURCES`]), leaving alone the fields edited by
/// hand (source `edit`): what a new song gets and what a retag changes. The title falls back to
/// the file's name.
pub fn describe_from_tags(m: &mut SongMetadata, t: &Tags, path: &std::path::Path) {
    use songrec_audio::FieldSource;
    let s = &t.sources;
    let (title, title_source) = match t.title.clone().filter(|t| !t.trim().is_empty()) {
        Some(title) => (title, s.title.unwrap_or(FieldSource::Tag)),
        None => (lossy(path.file_stem()), FieldSource::FileName),
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

/// A file name (or stem) as text; empty when there is none.
pub(super) fn lossy(name: Option<&std::ffi::OsStr>) -> String {
    name.map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Builds a song's metadata from its analysis: the tags (embedded, else from the path) with
/// where each came from ([`crate::extra::TAG_SOURCES`]), and the track, disc and year in `extra`; `key` is the
/// SHA-256 of the file's bytes ([`SongMetadata::content_hash`]), `id` the audio identity.
pub fn metadata_from(id: &SongId, key: &SongId, fa: &FileAnalysis, file_size: u64) -> SongMetadata {
    let mut m = SongMetadata::new(id.clone(), "");
    m.content_hash = key.as_str().to_owned();
    m.extra.insert(AUDIO_ID.into(), id.to_string().into());
    describe_from_tags(&mut m, &fa.tags, &fa.path);
    m.duration_secs = fa.info.duration_secs;
    m.sample_rate = fa.info.sample_rate;
    m.channels = fa.info.channels;
    m.file_size = file_size;
    m.file_name = lossy(fa.path.file_name());
    // Tempo and key from the first embedder that estimates them (the DSP embedder does).
    m.bpm = fa
        .analyses
        .iter()
        .find_map(|a| a.analysis.bpm)
        .map(|b| (b * 10.0).round() / 10.0);
    m.key = fa.analyses.iter().find_map(|a| a.analysis.key.clone());
    m.extra.insert("codec".into(), fa.info.codec.clone().into());
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
