//! What the `rest_query` fuzz target does with an input, shared with songrec-server's replay
//! test (included with `#[path]`; the including module brings songrec-server's `params`
//! module into scope).

#![allow(dead_code)]

use songrec_storage::{Metric, SongId, SongMetadata, SortKey};

use super::params::Params;

fn song() -> SongMetadata {
    let mut m = SongMetadata::new(SongId::from_bytes(b"fuzz"), "Title".to_string());
    m.artist = Some("Artist".into());
    m.genre = Some("Rock".into());
    m.bpm = Some(120.0);
    m.duration_secs = 12.023_219_954_648_527;
    m.key = Some("A minor".into());
    m.tags = vec!["live".into()];
    m.extra.insert("label".into(), serde_json::json!("Warp"));
    m
}

/// A query string read the way the song listing, then the similar-songs endpoint read theirs:
/// filters (with `where=FIELD=VALUE` conditions, built into a storage filter and applied to a
/// song), text, sort key, flag, numbers, cursor, metric, float, then the refusal of leftovers.
/// Returns whether the listing accepted it.
pub fn query(data: &[u8]) -> bool {
    let Ok(raw) = std::str::from_utf8(data) else {
        return false;
    };
    let m = song();
    let mut p = Params::parse(Some(raw));
    let mut ok = match p.filter() {
        Ok(spec) => match spec.to_filter() {
            Ok(filter) => {
                let _ = filter.matches(&m);
                true
            }
            Err(_) => false,
        },
        Err(_) => false,
    };
    ok &= p.text("q").is_ok();
    ok &= matches!(
        p.one("sort").map(|s| s.map(|s| s.parse::<SortKey>())),
        Ok(None | Some(Ok(_)))
    );
    ok &= p.flag("desc").is_ok();
    ok &= p.number::<usize>("limit", 1, 500).is_ok();
    ok &= p.number::<usize>("offset", 0, usize::MAX / 2).is_ok();
    ok &= p.one("cursor").is_ok();
    ok &= p.finish().is_ok();

    let mut p = Params::parse(Some(raw));
    let _ = p.number::<usize>("k", 1, 1000);
    let _ = p.number::<usize>("offset", 0, 999);
    let _ = p.one("metric").map(|s| s.map(|s| s.parse::<Metric>()));
    let _ = p.float("threshold");
    let _ = p.one("model");
    let _ = p.all("seed");
    let _ = p.finish();
    ok
}
