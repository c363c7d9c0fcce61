//! Printing results for people (aligned text) and programs (`--json`).

use anyhow::Result;
use songrec_app::explain::Explanation;
use songrec_app::similar::Target;
use songrec_app::words::TagQuery;
use songrec_storage::{Match, Metric, ModelInfo, SongMetadata};

use songrec_app::stats::LibraryStats;
use songrec_cache::CacheStats;

fn trunc(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

fn bpm(m: &SongMetadata) -> String {
    m.bpm.map_or_else(|| "-".into(), |b| format!("{b:.0}"))
}

fn mmss(secs: f64) -> String {
    let s = secs.round() as u64;
    format!("{}:{:02}", s / 60, s % 60)
}

pub fn songs(items: &[SongMetadata], total: u64, json: bool) -> Result<()> {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"total": total, "songs": items}))?
        );
        return Ok(());
    }
    println!(
        "{:<12}  {:<24}  {:<32}  {:<12}  {:>5}  {:<9}  {:>6}",
        "ID", "ARTIST", "TITLE", "GENRE", "BPM", "KEY", "TIME"
    );
    for m in items {
        println!(
            "{:<12}  {:<24}  {:<32}  {:<12}  {:>5}  {:<9}  {:>6}",
            m.id.short(),
            trunc(m.artist.as_deref().unwrap_or("-"), 24),
            trunc(&m.title, 32),
            trunc(m.genre.as_deref().unwrap_or("-"), 12),
            bpm(m),
            m.key.as_deref().unwrap_or("-"),
            mmss(m.duration_secs)
        );
    }
    println!("({} of {total} songs)", items.len());
    Ok(())
}

/// What `similar --distinct` folded.
pub struct Folding {
    /// Per match: copies of its recording folded into it.
    pub copies: Vec<usize>,
    /// Copies of the query left out.
    pub query_copies: usize,
}

fn copies(n: usize) -> String {
    format!("{n} {}", if n == 1 { "copy" } else { "copies" })
}

/// A query's words (`similar --text`), read as style tags, and each match's tag score when
/// they steer a song's neighbours.
pub struct Words<'a> {
    pub text: &'a str,
    pub query: &'a TagQuery,
    pub tag_scores: Option<&'a [f32]>,
}

#[allow(clippy::too_many_arguments)]
pub fn matches(
    target: Option<&Target>,
    ms: &[Match],
    metric: Metric,
    model: &str,
    explanations: Option<&[Explanation]>,
    folding: Option<&Folding>,
    words: Option<&Words<'_>>,
    json: bool,
) -> Result<()> {
    if json {
        let mut q = match target {
            Some(Target::Song(m)) => serde_json::json!({"song": m.id, "title": m.display_name()}),
            Some(Target::File(p)) => serde_json::json!({"file": p}),
            None => serde_json::json!({}),
        };
        if let Some(w) = words {
            q["text"] = w.text.into();
            q["tags"] = w
                .query
                .terms
                .iter()
                .map(|t| serde_json::json!({"tag": t.tag, "weight": t.weight, "from": t.from}))
                .collect();
            q["unknown_words"] = serde_json::to_value(&w.query.unknown)?;
            q["used_words"] = serde_json::to_value(&w.query.used)?;
            q["ignored_words"] = serde_json::to_value(&w.query.ignored)?;
        }
        let mut matches = serde_json::to_value(ms)?;
        if let (Some(scores), Some(arr)) =
            (words.and_then(|w| w.tag_scores), matches.as_array_mut())
        {
            for (m, s) in arr.iter_mut().zip(scores) {
                if let Some(o) = m.as_object_mut() {
                    o.insert("tag_score".into(), (*s).into());
                }
            }
        }
        if let (Some(ex), Some(arr)) = (explanations, matches.as_array_mut()) {
            for (m, e) in arr.iter_mut().zip(ex) {
                if let Some(o) = m.as_object_mut() {
                    o.insert("explanation".into(), serde_json::to_value(e)?);
                }
            }
        }
        // Whether every result list behind these matches was ranked exactly (no ANN index).
        let exact = !ms.iter().any(|m| m.approximate);
        let mut out = serde_json::json!({"query": q, "model": model, "metric": metric, "exact": exact, "matches": matches});
        if let Some(f) = folding {
            if let Some(arr) = out["matches"].as_array_mut() {
                for (m, c) in arr.iter_mut().zip(&f.copies) {
                    if let Some(o) = m.as_object_mut() {
                        o.insert("copies_folded".into(), (*c).into());
                    }
                }
            }
            out["distinct"] = true.into();
            out["copies_folded"] = f.copies.iter().sum::<usize>().into();
            out["query_copies_excluded"] = f.query_copies.into();
        }
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    let towards = words
        .map(|w| format!(", moved towards {}", w.query.describe()))
        .unwrap_or_default();
    match (target, words) {
        (Some(Target::Song(m)), _) => println!(
            "Songs like {} ({}, {} bpm, {}){towards}:",
            m.display_name(),
            m.id.short(),
            bpm(m),
            m.key.as_deref().unwrap_or("key ?")
        ),
        (Some(Target::File(p)), _) => println!("Songs like {}{towards}:", p.display()),
        (None, Some(w)) => println!("Songs for {:?} ({}):", w.text, w.query.describe()),
        (None, None) => println!("Songs:"),
    }
    let summary = || {
        if let Some(f) = folding {
            let folded: usize = f.copies.iter().sum();
            println!(
                "(one song per recording: {} folded, {} of the query left out)",
                copies(folded),
                copies(f.query_copies)
            );
        }
    };
    if ms.is_empty() {
        println!("  (no matches)");
        summary();
        return Ok(());
    }
    let score_label = if target.is_none() { "SCORE" } else { "SIM" };
    println!(
        "{:>3}  {:>7}  {:<12}  {:<44}  {:>5}  {:<9}  {:<12}",
        "#", score_label, "ID", "SONG", "BPM", "KEY", "GENRE"
    );
    for (i, m) in ms.iter().enumerate() {
        let folded = match folding.and_then(|f| f.copies.get(i)) {
            Some(&n) if n > 0 => format!("  (+{} folded)", copies(n)),
            _ => String::new(),
        };
        println!(
            "{:>3}  {:>7.4}  {:<12}  {:<44}  {:>5}  {:<9}  {:<12}{folded}",
            i + 1,
            m.similarity,
            m.id.short(),
            trunc(&m.metadata.display_name(), 44),
            bpm(&m.metadata),
            m.metadata.key.as_deref().unwrap_or("-"),
            trunc(m.metadata.genre.as_deref().unwrap_or("-"), 12)
        );
        if let Some(e) = explanations.and_then(|ex| ex.get(i))
            && !e.summary.is_empty()
        {
            println!("{:>14}{}", "↳ ", e.summary);
        }
    }
    summary();
    Ok(())
}

pub fn show(m: &SongMetadata, models: &[ModelInfo], audio: bool, json: bool) -> Result<()> {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"song": m, "embeddings": models, "audio_stored": audio})
            )?
        );
        return Ok(());
    }
    let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
    println!("id          {}", m.id);
    println!("title       {}", m.title);
    println!("artist      {}", opt(&m.artist));
    println!("album       {}", opt(&m.album));
    println!("genre       {}", opt(&m.genre));
    println!(
        "duration    {} ({:.2} s)",
        mmss(m.duration_secs),
        m.duration_secs
    );
    println!("bpm         {}", bpm(m));
    println!("key         {}", opt(&m.key));
    println!(
        "tags        {}",
        if m.tags.is_empty() {
            "-".into()
        } else {
            m.tags.join(", ")
        }
    );
    println!(
        "format      {} Hz, {} ch, {} bytes, {}",
        m.sample_rate, m.channels, m.file_size, m.file_name
    );
    println!("audio       {}", if audio { "stored" } else { "missing" });
    println!(
        "embeddings  {}",
        if models.is_empty() {
            "-".into()
        } else {
            models
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    println!(
        "version     {} (updated {})",
        m.version,
        m.updated_at.to_rfc3339()
    );
    Ok(())
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
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "backend": backend, "songs": s.songs, "models": s.models, "genres": genres,
                "total_duration_secs": s.total_secs, "total_bytes": s.total_bytes, "tombstones": s.tombstones,
                "cache": cache}))?
        );
        return Ok(());
    }
    println!("library     {backend}");
    println!(
        "songs       {} ({:.1} h, {:.1} MB)",
        s.songs,
        s.total_secs / 3600.0,
        s.total_bytes as f64 / 1e6
    );
    for m in &s.models {
        println!("vectors     {}: {}", m.model, m.count);
    }
    for o in songrec_app::embedders::outdated_models(&s.models) {
        println!("            note: {}", o.advice());
    }
    let g: Vec<String> = s
        .genres
        .iter()
        .take(10)
        .map(|g| format!("{} {}", g.genre, g.count))
        .collect();
    println!(
        "genres      {}",
        if g.is_empty() {
            "-".into()
        } else {
            g.join(", ")
        }
    );
    println!("deleted     {} tombstones", s.tombstones);
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
        "cache       {} entries, {:.1} of {:.1} MB; this run {} hits / {} misses ({}); all runs {} / {} ({})",
        s.entries,
        s.bytes as f64 / 1e6,
        s.max_bytes as f64 / 1e6,
        s.session.hits,
        s.session.misses,
        ratio(&s.session),
        s.total.hits,
        s.total.misses,
        ratio(&s.total),
    )
}
