//! Similar artists, by sound: the one rule every door asks (`songrec similar --artists`,
//! `GET /api/v1/artists/{name}/similar`, Subsonic's `getArtistInfo`).
//!
//! Artists are keyed as the Subsonic catalog groups them: a song's artist trimmed
//! ([`UNKNOWN_ARTIST`] when it has none), compared by [`artist_key`] (lower case, runs of white
//! space as one space), so "The Band" and " the  band" are one artist.

use std::collections::HashMap;

use serde::Serialize;
use songrec_storage::{Filter, Ranking, SongMetadata, StorageBackend, StorageBackendExt};

use super::ask::SimilarAsk;
use super::query::Target;
use crate::AppError;
use crate::embedders::Pool;

/// Songs of an artist whose neighbours decide its similar artists.
pub const ARTIST_PROBES: usize = 5;
/// Neighbours asked for each of those songs.
pub const ARTIST_NEIGHBOURS: usize = 50;
/// The name of the artist of songs without one.
pub const UNKNOWN_ARTIST: &str = "[Unknown Artist]";
/// Names offered when an artist is not found.
const MAX_SUGGESTIONS: usize = 5;

/// A song's artist as it is grouped: trimmed, [`UNKNOWN_ARTIST`] when there is none.
pub fn artist_name(m: &SongMetadata) -> &str {
    m.artist
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(UNKNOWN_ARTIST)
}

/// The key an artist name is compared by: lower case, trimmed, runs of white space as one space.
pub fn artist_key(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// At most [`ARTIST_PROBES`] of an artist's songs (in the library's order), spread over them:
/// every `ceil(len / ARTIST_PROBES)`-th, from the first.
pub fn probes<T>(songs: &[T]) -> impl Iterator<Item = &T> {
    let step = songs.len().div_ceil(ARTIST_PROBES).max(1);
    songs.iter().step_by(step)
}

/// Another artist and how near it sits: its [`artist_key`] and the best cosine similarity of
/// one of its songs to one of the probes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ArtistMatch {
    pub key: String,
    pub similarity: f32,
}

/// The pure part of the rule: the neighbours found for every probe (each as its artist's key
/// and its cosine similarity) ranked into artists. The artist `own` is left out; each other
/// artist keeps its best similarity; best first, ties by key (ascending).
pub fn rank_artists(
    own: &str,
    neighbours: impl IntoIterator<Item = (String, f32)>,
) -> Vec<ArtistMatch> {
    let mut best: HashMap<String, f32> = HashMap::new();
    for (key, sim) in neighbours {
        if key != own {
            let e = best.entry(key).or_insert(f32::NEG_INFINITY);
            *e = e.max(sim);
        }
    }
    let mut ranked: Vec<ArtistMatch> = best
        .into_iter()
        .map(|(key, similarity)| ArtistMatch { key, similarity })
        .collect();
    ranked.sort_by(|a, b| {
        b.similarity
            .total_cmp(&a.similarity)
            .then_with(|| a.key.cmp(&b.key))
    });
    ranked
}

/// The artists nearest to the artist keyed `own` by sound, all of them, ranked by
/// [`rank_artists`]: for each of `probes` (see [`probes`]), its [`ARTIST_NEIGHBOURS`] nearest
/// songs, one per recording (the `similar` use case with `distinct`, `auto` vectors, cosine).
pub async fn nearest_artists(
    backend: &dyn StorageBackend,
    pool: &Pool,
    own: &str,
    probes: &[SongMetadata],
) -> Result<Vec<ArtistMatch>, AppError> {
    let k = ARTIST_NEIGHBOURS.clamp(1, backend.max_results().max(1));
    let mut found = Vec::new();
    for probe in probes {
        let ask = SimilarAsk {
            target: Some(Target::Song(Box::new(probe.clone()))),
            distinct: true,
            ranking: Ranking {
                k,
                ..Ranking::default()
            },
            ..SimilarAsk::default()
        };
        let answer = super::ask::answer(backend, &ask, pool).await?;
        found.extend(
            answer
                .results
                .into_iter()
                .map(|r| (artist_key(artist_name(&r.song)), r.similarity)),
        );
    }
    Ok(rank_artists(own, found))
}

/// An artist of the library and its songs, in the order the Subsonic catalog lists them
/// (album, disc, track, title, id).
#[derive(Clone, Debug)]
pub struct ArtistSongs<'a> {
    /// The name as the first of its songs spells it.
    pub name: &'a str,
    pub songs: Vec<&'a SongMetadata>,
}

fn extra_number(m: &SongMetadata, key: &str) -> i64 {
    m.extra
        .get(key)
        .and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        })
        .unwrap_or(0)
}

/// The library's songs grouped by [`artist_key`].
pub fn group_by_artist(songs: &[SongMetadata]) -> HashMap<String, ArtistSongs<'_>> {
    let mut sorted: Vec<&SongMetadata> = songs.iter().collect();
    sorted.sort_by_cached_key(|m| {
        let album = m.album.as_deref().map(str::trim).filter(|a| !a.is_empty());
        (
            artist_key(album.unwrap_or("[Unknown Album]")),
            extra_number(m, "disc"),
            extra_number(m, "track"),
            m.title.to_lowercase(),
            m.id.clone(),
        )
    });
    let mut out: HashMap<String, ArtistSongs<'_>> = HashMap::new();
    for m in sorted {
        let name = artist_name(m);
        out.entry(artist_key(name))
            .or_insert_with(|| ArtistSongs {
                name,
                songs: Vec::new(),
            })
            .songs
            .push(m);
    }
    out
}

/// One similar artist.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SimilarArtist {
    /// As the library spells it (see [`ArtistSongs::name`]).
    pub name: String,
    /// The best cosine similarity (−1..1) of one of its songs to one of the probes.
    pub similarity: f32,
    /// Its songs in the library.
    pub songs: usize,
}

/// The artists similar to one artist, best first.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SimilarArtists {
    /// The artist asked about, as the library spells it.
    pub artist: String,
    /// Its songs in the library.
    pub songs: usize,
    /// How many of its songs were probed.
    pub probes: usize,
    /// At most the `count` asked for, best first.
    pub similar: Vec<SimilarArtist>,
}

/// Why similar artists cannot be answered.
#[derive(Debug, thiserror::Error)]
pub enum ArtistsError {
    /// No song of the library has this artist (by [`artist_key`]); `near` holds up to five
    /// artists whose names contain the one asked for, or are contained in it.
    #[error("no artist named {name:?} in the library")]
    UnknownArtist { name: String, near: Vec<String> },
    #[error(transparent)]
    App(#[from] AppError),
}

impl From<songrec_storage::StorageError> for ArtistsError {
    fn from(e: songrec_storage::StorageError) -> Self {
        Self::App(e.into())
    }
}

/// The artists of the library that sound most like `artist` (matched by [`artist_key`], so
/// case and spacing do not matter), at most `count`, best first. The rule: up to
/// [`ARTIST_PROBES`] of the artist's songs spread over them ([`probes`]) each ask for their
/// [`ARTIST_NEIGHBOURS`] nearest songs, one per recording ([`nearest_artists`]); every other
/// artist keeps the best cosine similarity of one of its songs; best first, ties by
/// [`artist_key`] ([`rank_artists`]).
pub async fn similar_artists(
    backend: &dyn StorageBackend,
    pool: &Pool,
    artist: &str,
    count: usize,
) -> Result<SimilarArtists, ArtistsError> {
    let songs = backend.list_all(&Filter::default()).await?;
    let library = group_by_artist(&songs);
    let own = artist_key(artist);
    let Some(this) = library.get(&own) else {
        let mut near: Vec<&str> = library
            .iter()
            .filter(|(k, _)| !own.is_empty() && (k.contains(&own) || own.contains(k.as_str())))
            .map(|(_, a)| a.name)
            .collect();
        near.sort_by_key(|n| artist_key(n));
        near.truncate(MAX_SUGGESTIONS);
        return Err(ArtistsError::UnknownArtist {
            name: artist.trim().to_owned(),
            near: near.into_iter().map(str::to_owned).collect(),
        });
    };
    let probed: Vec<SongMetadata> = probes(&this.songs).map(|m| (*m).clone()).collect();
    let ranked = nearest_artists(backend, pool, &own, &probed).await?;
    let similar = ranked
        .into_iter()
        .filter_map(|a| {
            library.get(&a.key).map(|s| SimilarArtist {
                name: s.name.to_owned(),
                similarity: a.similarity,
                songs: s.songs.len(),
            })
        })
        .take(count)
        .collect();
    Ok(SimilarArtists {
        artist: this.name.to_owned(),
        songs: this.songs.len(),
        probes: probed.len(),
        similar,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use songrec_storage::SongId;

    fn n(key: &str, sim: f32) -> (String, f32) {
        (key.to_owned(), sim)
    }

    #[test]
    fn best_per_artist_best_first_ties_by_key_own_left_out() {
        let ranked = rank_artists(
            "me",
            [
                n("b", 0.5),
                n("me", 0.99),
                n("c", 0.7),
                n("b", 0.9),
                n("a", 0.7),
                n("c", 0.1),
            ],
        );
        let got: Vec<(&str, f32)> = ranked
            .iter()
            .map(|a| (a.key.as_str(), a.similarity))
            .collect();
        assert_eq!(got, [("b", 0.9), ("a", 0.7), ("c", 0.7)]);
        assert!(rank_artists("me", [n("me", 1.0)]).is_empty());
    }

    #[test]
    fn probes_spread_over_the_songs() {
        let twelve: Vec<usize> = (0..12).collect();
        assert_eq!(probes(&twelve).copied().collect::<Vec<_>>(), [0, 3, 6, 9]);
        let three = [0, 1, 2];
        assert_eq!(probes(&three).count(), 3);
        assert_eq!(probes::<u8>(&[]).count(), 0);
    }

    fn song(title: &str, artist: Option<&str>, track: i64) -> SongMetadata {
        let mut m = SongMetadata::new(SongId::from_bytes(title.as_bytes()), title);
        m.artist = artist.map(str::to_owned);
        m.extra.insert("track".into(), track.into());
        m
    }

    #[test]
    fn artists_grouped_by_key_songs_in_catalog_order() {
        let songs = [
            song("b", Some("The Band"), 2),
            song("a", Some(" the  band "), 1),
            song("c", None, 1),
            song("d", Some("  "), 1),
        ];
        let g = group_by_artist(&songs);
        assert_eq!(g.len(), 2);
        let band = &g[&artist_key("THE BAND")];
        assert_eq!(band.name, "the  band");
        let titles: Vec<&str> = band.songs.iter().map(|m| m.title.as_str()).collect();
        assert_eq!(titles, ["a", "b"]);
        assert_eq!(g[&artist_key(UNKNOWN_ARTIST)].songs.len(), 2);
    }
}
