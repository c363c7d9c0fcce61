//! Printing results for people (aligned text) and programs (`--json`).

use std::path::PathBuf;

use anyhow::Result;
use songrec_app::similar::{QueryInfo, SimilarAnswer};
use songrec_storage::plural::{count, noun};
use songrec_storage::{ModelInfo, SongCount, SongMetadata};

use songrec_app::stats::LibraryStats;
use songrec_cache::CacheStats;

/// Prints `v` as pretty JSON.
pub(crate) fn print_json(v: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// `items` joined by commas, `-` when there are none.
pub(crate) fn list_or_dash(items: &[String]) -> String {
    if items.is_empty() {
        "-".to_owned()
    } else {
        items.join(", ")
    }
}

pub(crate) fn trunc(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

fn bpm(m: &SongMetadata) -> String {
    m.bpm.map_or_else(
        || "-".into(),
        |b| songrec_app::explain::whole_bpm(b).to_string(),
    )
}

pub(crate) fn mmss(secs: f64) -> String {
    let s = secs.round() as u64;
    format!("{}:{:02}", s / 60, s % 60)
}

/// `total` is exact, or a lower bound on the cloud (JSON: `"total_exact": false`; text:
/// `1000+` and where the exact figure is).
pub fn songs(items: &[SongMetadata], total: SongCount, json: bool) -> Result<()> {
    if json {
        let mut v = serde_json::json!({"total": total.value(), "songs": items});
        if !total.is_exact() {
            v["total_exact"] = serde_json::json!(false);
        }
        return print_json(&v);
    }
    println!(
        "{:<12}  {:<24}  {:<32}  {:<24}  {:<12}  {:>5}  {:<9}  {:>6}",
        "ID", "ARTIST", "TITLE", "ALBUM", "GENRE", "BPM", "KEY", "TIME"
    );
    for m in items {
        println!(
            "{:<12}  {:<24}  {:<32}  {:<24}  {:<12}  {:>5}  {:<9}  {:>6}",
            m.id.short(),
            trunc(m.artist.as_deref().unwrap_or("-"), 24),
            trunc(&m.title, 32),
            trunc(m.album.as_deref().unwrap_or("-"), 24),
            trunc(m.genre.as_deref().unwrap_or("-"), 12),
            bpm(m),
            m.key.as_deref().unwrap_or("-"),
            mmss(m.duration_secs)
        );
    }
    let songs = noun(total.value(), "song");
    if total.is_exact() {
        println!("({} of {total} {songs})", items.len());
    } else {
        println!(
            "({} of {total} {songs}; counting more would cost a request per 1000 songs: \
             `songrec stats` counts the whole library)",
            items.len()
        );
    }
    Ok(())
}

/// `songrec similar`: the answer (`--json`: as the REST API gives it).
pub fn matches(answer: &SimilarAnswer, json: bool) -> Result<()> {
    if json {
        return print_json(answer);
    }
    let (ms, words) = (&answer.results, answer.words.as_ref());
    let towards = words
        .map(|w| format!(", moved towards {}", w.describe()))
        .unwrap_or_default();
    match (&answer.query, words) {
        (QueryInfo::Song(m), _) => println!(
            "Songs like {} ({}, {} bpm, {}){towards}:",
            m.display_name(),
            m.id.short(),
            bpm(m),
            m.key.as_deref().unwrap_or("key ?")
        ),
        (QueryInfo::File(p), _) => println!("Songs like {}{towards}:", p.display()),
        (QueryInfo::Text(text), Some(w)) if w.terms.is_empty() => println!(
            "Songs for {:?} (titles and fields holding {}):",
            text,
            w.text_words.join(", ")
        ),
        (QueryInfo::Text(text), Some(w)) => println!("Songs for {:?} ({}):", text, w.describe()),
        _ => println!("Songs:"),
    }
    let summary = || {
        if let (Some(folded), Some(query)) = (answer.copies_folded, answer.query_copies_excluded) {
            println!(
                "(one song per recording: {} folded, {} of the query left out)",
                count(folded, "copy"),
                count(query, "copy")
            );
        }
    };
    if ms.is_empty() {
        println!("  (no matches)");
        summary();
        return Ok(());
    }
    let words_alone = matches!(answer.query, QueryInfo::Text(_));
    let score_label = if words_alone { "SCORE" } else { "SIM" };
    println!(
        "{:>3}  {:>7}  {:<12}  {:<44}  {:>5}  {:<9}  {:<12}",
        "#", score_label, "ID", "SONG", "BPM", "KEY", "GENRE"
    );
    for (i, m) in ms.iter().enumerate() {
        let folded = match m.copies_folded {
            Some(n) if n > 0 => format!("  (+{} folded)", count(n, "copy")),
            _ => String::new(),
        };
        println!(
            "{:>3}  {:>7.4}  {:<12}  {:<44}  {:>5}  {:<9}  {:<12}{folded}",
            i + 1,
            m.similarity,
            m.song.id.short(),
            trunc(&m.song.display_name(), 44),
            bpm(&m.song),
            m.song.key.as_deref().unwrap_or("-"),
            trunc(m.song.genre.as_deref().unwrap_or("-"), 12)
        );
        if let Some(e) = &m.explanation
            && !e.summary.is_empty()
        {
            println!("{:>14}{}", "↳ ", e.summary);
        }
    }
    summary();
    Ok(())
}

/// Where a song's audio is, as `show` says it.
#[derive(Debug, PartialEq, Eq)]
pub enum Audio {
    /// A copy (or clone) held by the library, or in the cloud's bucket.
    Stored,
    /// The user's own file, where it lies: the local library only refers to it.
    RefersTo(PathBuf),
    Missing,
}

pub fn show(m: &SongMetadata, models: &[ModelInfo], audio: &Audio, json: bool) -> Result<()> {
    if json {
        let refers_to = match audio {
            Audio::RefersTo(p) => Some(p.display().to_string()),
            _ => None,
        };
        return print_json(&serde_json::json!({
            "song": m, "embeddings": models,
            "audio_stored": *audio != Audio::Missing, "audio_refers_to": refers_to,
        }));
    }
    print!("{}", show_text(m, models, audio));
    Ok(())
}

/// `songrec show` for people: every stored field, one per line, the predicted style and sound
/// tags, the vectors held, then the free-form fields (`edit --set NAME=VALUE`) by name.
fn show_text(m: &SongMetadata, models: &[ModelInfo], audio: &Audio) -> String {
    use songrec_app::extra::{SOUND_TAGS, STYLE_TAGS, TAG_SOURCES, sound_tags_of, style_tags_of};
    use songrec_identity::fingerprint::EXTRA_KEY as FINGERPRINT;
    use std::fmt::Write as _;
    let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
    let list = |items: Vec<String>| list_or_dash(&items);
    let tags = |t: Vec<(String, f32)>| {
        list(
            t.iter()
                .map(|(n, p)| format!("{n} {:.0} %", p * 100.0))
                .collect(),
        )
    };
    let mut lines: Vec<(&str, String)> = vec![
        ("id", m.id.to_string()),
        ("title", sourced(m, "title", m.title.clone())),
        ("artist", sourced(m, "artist", opt(&m.artist))),
        ("album", sourced(m, "album", opt(&m.album))),
        ("genre", sourced(m, "genre", opt(&m.genre))),
        (
            "duration",
            format!("{} ({:.2} s)", mmss(m.duration_secs), m.duration_secs),
        ),
        ("bpm", bpm(m)),
        ("key", opt(&m.key)),
        ("tags", list(m.tags.clone())),
        ("style", tags(style_tags_of(m))),
        ("sound", tags(sound_tags_of(m))),
        (
            "format",
            format!(
                "{} Hz, {} ch, {}, {}",
                m.sample_rate,
                m.channels,
                count(m.file_size, "byte"),
                m.file_name
            ),
        ),
        (
            "audio",
            match audio {
                Audio::Stored => "stored".into(),
                Audio::RefersTo(p) => format!("refers to {} (your file, not copied)", p.display()),
                Audio::Missing => "missing".into(),
            },
        ),
        (
            "vectors",
            list(models.iter().map(ToString::to_string).collect()),
        ),
        ("content", m.content_hash.clone()),
        ("added", m.created_at.to_rfc3339()),
        (
            "version",
            format!("{} (updated {})", m.version, m.updated_at.to_rfc3339()),
        ),
    ];
    for (k, v) in &m.extra {
        let text = match k.as_str() {
            STYLE_TAGS | SOUND_TAGS | TAG_SOURCES => continue,
            // About 1.5 KB of base64: `show --json` prints it.
            FINGERPRINT => fingerprint_summary(v),
            _ => sourced(m, k, extra_value(v)),
        };
        lines.push((k, text));
    }
    let width = lines
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0)
        .max(10);
    let mut out = String::new();
    for (k, v) in lines {
        let _ = writeln!(out, "{k:<width$}  {v}");
    }
    out
}

/// `value` followed by where the song's `field` came from, when the song says
/// (`Kevin Rowe  (from the path)`).
fn sourced(m: &SongMetadata, field: &str, value: String) -> String {
    let from = match songrec_app::extra::field_source(m, field) {
        Some("tag") => "from the file's tags",
        Some("path") => "from the folder names",
        Some("file_name") => "from the file name",
        Some("edit") => "edited",
        Some("itunes") => "from the iTunes preview",
        Some(other) => other,
        None => return value,
    };
    format!("{value}  ({from})")
}

/// The stored acoustic fingerprint in a few words (the fingerprint itself is about 1.5 KB of
/// base64, for programs: `show --json`).
fn fingerprint_summary(v: &serde_json::Value) -> String {
    match songrec_identity::fingerprint::FingerprintRecord::from_extra(v) {
        Some(r) => format!(
            "stored ({}, {:.0} s of audio; `show --json` prints it)",
            r.algo, r.secs
        ),
        None => "stored (`show --json` prints it)".to_owned(),
    }
}

/// A free-form field's value on one line: text as is, numbers as they are, objects as
/// `name value` pairs (the DSP descriptors), anything else as compact JSON.
fn extra_value(v: &serde_json::Value) -> String {
    use serde_json::Value;
    let num = |n: f64| {
        if n.fract() == 0.0 && n.abs() < 1e15 {
            format!("{n:.0}")
        } else if n.abs() >= 10.0 {
            format!("{n:.1}")
        } else {
            format!("{n:.3}")
        }
    };
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), num),
        Value::Object(o) => o
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| match v {
                Value::Object(_) => format!("{k} {v}"),
                v => format!("{k} {}", extra_value(v)),
            })
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

pub fn stats(
    backend: &str,
    s: &LibraryStats,
    cache: Option<&CacheStats>,
    json: bool,
) -> Result<()> {
    if json {
        let genres: Vec<(&str, u64)> = s
            .genres
            .iter()
            .map(|g| (g.genre.as_str(), g.count))
            .collect();
        return print_json(&serde_json::json!({
            "backend": backend, "songs": s.songs, "models": s.models, "genres": genres,
            "total_duration_secs": s.total_secs, "total_bytes": s.total_bytes, "tombstones": s.tombstones,
            "cache": cache}));
    }
    println!("library     {backend}");
    println!(
        "songs       {} ({}, {:.1} MB)",
        s.songs,
        length_of_music(s.total_secs),
        s.total_bytes as f64 / 1e6
    );
    for m in &s.models {
        println!("vectors     {}: {}", m.model, m.count);
    }
    for o in songrec_app::embedders::outdated_models(&s.models) {
        println!("            note: {}", o.advice());
    }
    if let Some(advice) = songrec_app::embedders::upgrade_advice(&s.models) {
        println!("            note: {advice}");
    }
    let g: Vec<String> = s
        .genres
        .iter()
        .take(10)
        .map(|g| format!("{} {}", g.genre, g.count))
        .collect();
    println!("genres      {}", list_or_dash(&g));
    println!("deleted     {}", count(s.tombstones, "tombstone"));
    if let Some(c) = cache {
        println!("{}", stats_lines(c));
    }
    Ok(())
}

/// The cache line(s) of `songrec stats`.
fn stats_lines(s: &CacheStats) -> String {
    let ratio = |c: &songrec_cache::CacheCounters| {
        c.hit_ratio()
            .map_or_else(|| "-".into(), |r| format!("{:.0} %", r * 100.0))
    };
    format!(
        "cache       {}, {:.1} of {:.1} MB; this run {} / {} ({}); all runs {} / {} ({})",
        count(s.entries, "entry"),
        s.bytes as f64 / 1e6,
        s.max_bytes as f64 / 1e6,
        count(s.session.hits, "hit"),
        count(s.session.misses, "miss"),
        ratio(&s.session),
        s.total.hits,
        s.total.misses,
        ratio(&s.total),
    )
}

/// A length of music for people: "45 s", "12 min", "10.2 h".
pub(crate) fn length_of_music(secs: f64) -> String {
    if secs < 120.0 {
        format!("{secs:.0} s")
    } else if secs < 2.0 * 3600.0 {
        format!("{:.0} min", secs / 60.0)
    } else {
        format!("{:.1} h", secs / 3600.0)
    }
}

#[cfg(test)]
mod tests {
    use songrec_storage::{ModelInfo, SongId, SongMetadata};

    #[test]
    fn show_lists_every_field_the_tags_and_the_vectors() {
        let mut m = SongMetadata::new(SongId::from_bytes(b"x"), "Clip");
        m.file_name = "clip.flac".into();
        m.extra
            .insert("game".into(), serde_json::json!("hedgewars"));
        m.extra.insert("year".into(), serde_json::json!(1999));
        m.extra.insert(
            "descriptors".into(),
            serde_json::json!({"centroid_hz": 1834.4, "key": "A minor", "bpm": null}),
        );
        m.extra.insert(
            songrec_app::extra::STYLE_TAGS.into(),
            serde_json::json!([["rock", 0.712], ["pop", 0.2]]),
        );
        m.extra.insert(
            songrec_app::extra::SOUND_TAGS.into(),
            serde_json::json!([["guitar", 0.5]]),
        );
        let models = [ModelInfo::new("songrec-dsp", "3", 150)];
        let t = super::show_text(&m, &models, &super::Audio::Stored);
        let line = |k: &str| {
            t.lines()
                .find(|l| l.split_whitespace().next() == Some(k))
                .unwrap_or_else(|| panic!("no {k} line in\n{t}"))
                .to_owned()
        };
        assert!(line("game").ends_with("  hedgewars"), "{t}");
        assert!(line("year").ends_with("  1999"), "{t}");
        assert!(line("style").contains("rock 71 %, pop 20 %"), "{t}");
        assert!(line("sound").contains("guitar 50 %"), "{t}");
        assert!(line("vectors").contains("songrec-dsp@3 (150-d)"), "{t}");
        assert!(
            line("descriptors").contains("centroid_hz 1834.4")
                && line("descriptors").contains("key A minor")
                && !line("descriptors").contains("bpm"),
            "{t}"
        );
        assert!(
            !t.contains("style_tags") && !t.contains("sound_tags"),
            "{t}"
        );
        // Values start in one column.
        let col = |l: &str| l.len() - l.split_once("  ").map_or("", |x| x.1).trim_start().len();
        let cols: std::collections::BTreeSet<usize> = t.lines().map(col).collect();
        assert_eq!(cols.len(), 1, "aligned:\n{t}");
    }
}
