//! Library statistics through the storage trait (any backend).

use std::collections::BTreeMap;

use serde::Serialize;
use songrec_storage::{ModelStats, StorageBackend};

use crate::AppResult;

/// What `songrec stats` and `GET /api/v1/stats` report.
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

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GenreCount {
    /// Genre name as stored.
    pub genre: String,
    pub count: u64,
}

/// Adds the library up ([`StorageBackend::summary`]: the local backend answers from its
/// records; remote ones walk the listing) and lists the models.
pub async fn library_stats(backend: &dyn StorageBackend) -> AppResult<LibraryStats> {
    let sum = backend.summary().await?;
    let mut genres = BTreeMap::<String, u64>::new();
    let mut named = 0;
    for (g, n) in sum.genres {
        if !g.trim().is_empty() {
            named += n;
            *genres.entry(g).or_default() += n;
        }
    }
    if sum.songs > named {
        *genres.entry("(none)".into()).or_default() += sum.songs - named;
    }
    let mut genres: Vec<GenreCount> = genres
        .into_iter()
        .map(|(genre, count)| GenreCount { genre, count })
        .collect();
    genres.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.genre.cmp(&b.genre)));
    Ok(LibraryStats {
        songs: sum.songs,
        total_secs: sum.total_secs,
        total_bytes: sum.total_bytes,
        genres,
        models: backend.models().await?,
        tombstones: sum.tombstones,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn doc_librarystats() {
        let s = crate::stats::LibraryStats::default();
        assert_eq!(s.songs, 0);
    }
}
