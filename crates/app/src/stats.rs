//! Library statistics through the storage trait (any backend).

use std::collections::BTreeMap;

use serde::Serialize;
use songrec_storage::query::MAX_PAGE;
use songrec_storage::{ListQuery, ModelStats, StorageBackend, StorageBackendExt};

use crate::AppResult;

/// What `songrec stats` and `GET /api/v1/stats` report.
///
/// ```
/// let s = songrec_app::stats::LibraryStats::default();
/// assert_eq!(s.songs, 0);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LibraryStats {
    /// Live songs.
    pub songs: u64,
    /// Summed duration in seconds.
    pub total_secs: f64,
    /// Summed audio file sizes in bytes.
    pub total_bytes: u64,
    /// Songs per genre (`(none)` for songs without one), most first, then by name.
    pub genres: Vec<GenreCount>,
    /// Models with stored vectors and how many songs each covers.
    pub models: Vec<ModelStats>,
    /// Deleted songs remembered for sync.
    pub tombstones: u64,
}

/// One genre's song count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GenreCount {
    /// Genre name as stored.
    pub genre: String,
    /// Songs.
    pub count: u64,
}

/// Walks the whole library once (pages of 1000) and adds it up.
pub async fn library_stats(backend: &dyn StorageBackend) -> AppResult<LibraryStats> {
    let q = ListQuery {
        limit: MAX_PAGE,
        ..ListQuery::default()
    };
    let mut genres = BTreeMap::<String, u64>::new();
    let mut s = LibraryStats::default();
    backend
        .for_each_page(&q, |items| {
            for m in &items {
                s.songs += 1;
                s.total_secs += m.duration_secs;
                s.total_bytes += m.file_size;
                let g = m
                    .genre
                    .clone()
                    .filter(|g| !g.trim().is_empty())
                    .unwrap_or_else(|| "(none)".into());
                *genres.entry(g).or_default() += 1;
            }
            true
        })
        .await?;
    let mut genres: Vec<GenreCount> = genres
        .into_iter()
        .map(|(genre, count)| GenreCount { genre, count })
        .collect();
    genres.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.genre.cmp(&b.genre)));
    s.genres = genres;
    s.models = backend.models().await?;
    s.tombstones = backend
        .list_versions()
        .await?
        .iter()
        .filter(|v| v.deleted)
        .count() as u64;
    Ok(s)
}
