//! songrec's tag code (crates/audio/src/tags.rs, compiled here verbatim through #[path])
//! vs lofty 0.25, on files/*.  Prints a JSON line per file; see REPORT.md.
#[allow(dead_code)]
#[path = "../../../../../crates/audio/src/tags.rs"]
mod ours;

use std::path::Path;
use std::time::Instant;

use lofty::file::TaggedFileExt;
use lofty::tag::{Accessor, ItemKey, Tag};
use ours::{Tags, TagsBuilder};
use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

/// songrec's tag path without the sample decoding: decode.rs's open_format (content probe,
/// no hint) + default track + decoder creation (for the pcm check) + TagsBuilder + RIFF INFO.
fn ours_tags_only(path: &Path) -> Result<Tags, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut format = symphonia::default::get_probe()
        .probe(&Hint::new(), mss, FormatOptions::default(), MetadataOptions::default())
        .map_err(|e| e.to_string())?;
    let track = format.default_track(TrackType::Audio).ok_or("no audio track")?.clone();
    let params = track.codec_params.as_ref().and_then(|p| p.audio()).ok_or("no params")?.clone();
    let codec = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map(|d| d.codec_info().short_name.to_string())
        .map_err(|e| e.to_string())?;
    let mut b = TagsBuilder::default();
    b.collect(&mut *format, track.id);
    if codec.starts_with("pcm")
        && let Some(info) = ours::riff_info(path)
    {
        b.add_raw(&info);
    }
    Ok(b.build())
}

fn clean(s: &str) -> Option<String> {
    let t = s.trim().trim_matches('\0').trim();
    (!t.is_empty()).then(|| t.to_string())
}

fn first_year(s: &str) -> Option<u32> {
    let b = s.as_bytes();
    (0..b.len().saturating_sub(3)).find_map(|i| {
        let w = &b[i..i + 4];
        let ok = w.iter().all(u8::is_ascii_digit)
            && (i == 0 || !b[i - 1].is_ascii_digit())
            && (i + 4 == b.len() || !b[i + 4].is_ascii_digit());
        ok.then(|| s[i..i + 4].parse::<u32>().ok()).flatten().filter(|y| (1000..3000).contains(y))
    })
}

/// lofty, mapped onto songrec's Tags with songrec's rules: primary tag first then the others,
/// first non-empty value wins, multi-valued artists joined with "; ", album artist as fallback.
fn lofty_tags(path: &Path, opts: lofty::config::ParseOptions) -> Result<Tags, String> {
    let f = lofty::probe::Probe::open(path)
        .map_err(|e| e.to_string())?
        .options(opts)
        .guess_file_type()
        .map_err(|e| e.to_string())?
        .read()
        .map_err(|e| e.to_string())?;
    let mut tags: Vec<&Tag> = Vec::new();
    if let Some(p) = f.primary_tag() {
        tags.push(p);
    }
    for t in f.tags() {
        if !std::ptr::eq(t, *tags.first().unwrap_or(&t)) || tags.is_empty() {
            if !tags.iter().any(|x| std::ptr::eq(*x, t)) {
                tags.push(t);
            }
        }
    }
    let pick = |g: &dyn Fn(&Tag) -> Option<String>| tags.iter().find_map(|t| g(t).as_deref().and_then(clean));
    let mut out = Tags::default();
    out.title = pick(&|t| t.title().map(|s| s.into_owned()));
    out.artist = pick(&|t| {
        let v: Vec<&str> = t.get_strings(ItemKey::TrackArtist).collect();
        (!v.is_empty()).then(|| v.join("; "))
    })
    .or_else(|| pick(&|t| t.get_string(ItemKey::AlbumArtist).map(str::to_string)));
    out.album = pick(&|t| t.album().map(|s| s.into_owned()));
    out.genre = pick(&|t| t.genre().map(|s| s.into_owned()));
    out.track = tags.iter().find_map(|t| t.track()).filter(|&n| n > 0);
    out.year = tags.iter().find_map(|t| {
        t.date().map(|d| u32::from(d.year)).filter(|y| (1000..3000).contains(y)).or_else(|| {
            [ItemKey::RecordingDate, ItemKey::Year, ItemKey::ReleaseDate, ItemKey::OriginalReleaseDate]
                .iter()
                .find_map(|k| t.get_string(*k).and_then(first_year))
        })
    });
    if !out.is_empty() {
        out.source = ours::TagSource::Metadata;
    }
    Ok(out)
}

fn median_us(n: usize, mut f: impl FnMut()) -> f64 {
    f(); // warm
    let mut v: Vec<f64> = (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[n / 2]
}

fn j(t: &Result<Tags, String>) -> serde_json::Value {
    match t {
        Ok(t) => serde_json::json!({"title": t.title.as_ref().map(|s| if s.chars().count() > 40 { format!("{}…({} chars)", s.chars().take(12).collect::<String>(), s.chars().count()) } else { s.clone() }),
            "artist": t.artist, "album": t.album.as_ref().map(|s| if s.chars().count() > 40 { format!("{}…({} chars)", s.chars().take(12).collect::<String>(), s.chars().count()) } else { s.clone() }), "genre": t.genre, "track": t.track, "year": t.year}),
        Err(e) => serde_json::json!({"error": e}),
    }
}

fn main() {
    let dir = std::env::args().nth(1).unwrap_or("files".into());
    let n: usize = std::env::args().nth(2).and_then(|s| s.parse().ok()).unwrap_or(50);
    let mut paths: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e != "json")).collect();
    paths.sort();
    let default_opts = lofty::config::ParseOptions::new();
    let fast_opts = lofty::config::ParseOptions::new().read_properties(false).read_cover_art(false);
    for p in &paths {
        let real: Result<Tags, String> = songrec_audio::decode_file(p).map(|d| serde_json::from_value(serde_json::to_value(d.tags).unwrap()).unwrap()).map_err(|e| e.to_string());
        let ours = ours_tags_only(p);
        let lofty = lofty_tags(p, default_opts);
        let lofty_fast = lofty_tags(p, fast_opts);
        let t_ours = median_us(n, || { let _ = std::hint::black_box(ours_tags_only(p)); });
        let t_lofty = median_us(n, || { let _ = std::hint::black_box(lofty_tags(p, default_opts)); });
        let t_lofty_fast = median_us(n, || { let _ = std::hint::black_box(lofty_tags(p, fast_opts)); });
        let t_decode = median_us(3, || { let _ = std::hint::black_box(songrec_audio::decode_file(p)); });
        let line = serde_json::json!({
            "file": p.file_name().unwrap().to_string_lossy(),
            "bytes": std::fs::metadata(p).unwrap().len(),
            "songrec_decode_file": j(&real),
            "ours_tags_only_equals_decode": format!("{:?}", real.as_ref().ok()) == format!("{:?}", ours.as_ref().ok()),
            "lofty": j(&lofty),
            "lofty_noprops_same": format!("{:?}", lofty.as_ref().ok()) == format!("{:?}", lofty_fast.as_ref().ok()),
            "us_ours_tags_only": t_ours, "us_lofty": t_lofty, "us_lofty_noprops": t_lofty_fast, "us_songrec_decode_file": t_decode,
        });
        println!("{line}");
    }
}
