//! songrec's ears behind the players' "similar" and "mix" buttons, through the use cases every
//! door calls: a song's neighbours are `songrec_app::similar::answer` (one song per recording,
//! never the song itself), songs around an album or an artist are a playlist from their songs as
//! seeds, and a sonic path is the playlist "from one song to another"
//! (`songrec_app::views::playlist`).

use serde_json::{Value, json};
use songrec_app::similar::{Choice, SimilarAsk, Target, artists};
use songrec_app::views::{PlaylistAsk, PlaylistShape};
use songrec_discover::playlist::{Constraints, Playlist};
use songrec_storage::{Ranking, SongMetadata};

use super::call::{Call, Reply};
use super::entries;
use super::lists::MAX_LIST;
use super::media::song_by_id;
use crate::subsonic_core::catalog::Catalog;
use crate::subsonic_core::error::Fail;
use crate::subsonic_core::ids::artist_id;

/// Most seed songs of an album's or an artist's mix.
pub const MAX_SEEDS: usize = 20;
/// Candidates per step of a sonic path (as `songrec playlist --candidates`).
pub const PATH_CANDIDATES: usize = 30;

/// A cosine similarity (−1..1) on the 0..1 scale of `sonicMatch`.
pub fn unit(cosine: f32) -> f64 {
    let u = (f64::from(cosine) + 1.0) / 2.0;
    if u.is_nan() { 0.0 } else { u.clamp(0.0, 1.0) }
}

/// The `k` nearest songs of `m` (one per recording, best first) and their cosine similarity.
async fn neighbours(
    c: &Call<'_>,
    m: &SongMetadata,
    k: usize,
) -> Result<Vec<(SongMetadata, f32)>, Fail> {
    let b = c.st.backend.as_ref();
    let ask = SimilarAsk {
        target: Some(Target::Song(Box::new(m.clone()))),
        distinct: true,
        ranking: Ranking {
            k: k.clamp(1, b.max_results().max(1)),
            ..Ranking::default()
        },
        ..SimilarAsk::default()
    };
    let a = songrec_app::similar::answer(b, &ask, &c.st.embedders).await?;
    Ok(a.results
        .into_iter()
        .map(|r| (r.song, r.similarity))
        .collect())
}

/// A playlist of `n` songs in this `shape`, in an order that flows.
async fn playlist(c: &Call<'_>, shape: PlaylistShape, n: usize) -> Result<Playlist, Fail> {
    let ask = PlaylistAsk {
        shape,
        n,
        constraints: Constraints::default(),
        choice: Choice::Auto,
    };
    Ok(songrec_app::views::playlist(c.st.backend.as_ref(), &ask).await?)
}

/// At most `max` of the songs at `at`, spread over them.
fn spread(cat: &Catalog, at: &[usize], max: usize) -> Vec<SongMetadata> {
    let step = at.len().div_ceil(max.max(1)).max(1);
    at.iter()
        .step_by(step)
        .map(|&i| cat.songs[i].clone())
        .collect()
}

/// `getSimilarSongs` (a song, an album or an artist id) and `getSimilarSongs2` (an artist id).
pub async fn similar_songs(c: &Call<'_>, id3: bool) -> Result<Reply, Fail> {
    let id = c.p.required("id")?;
    let count = c.p.number("count", 50, 1, MAX_LIST)?;
    let songs: Vec<SongMetadata> = if !id3 && !id.starts_with("ar-") && !id.starts_with("al-") {
        let m = song_by_id(c, id).await?;
        neighbours(c, &m, count)
            .await?
            .into_iter()
            .map(|(s, _)| s)
            .collect()
    } else {
        let cat = c.catalog().await?;
        let seeds = match (cat.artist(id), cat.album(id)) {
            (Some(a), _) => spread(&cat, &a.songs, MAX_SEEDS),
            (None, Some(al)) if !id3 => spread(&cat, &al.songs, MAX_SEEDS),
            _ => return Err(Fail::no_such("artist or album", id)),
        };
        let around = playlist(c, PlaylistShape::Seeds(seeds), count).await?;
        around.entries.into_iter().map(|e| e.song).collect()
    };
    let key = if id3 { "similarSongs2" } else { "similarSongs" };
    Ok(Reply::one(key, json!({ "song": entries::songs(&songs) })))
}

/// `getArtistInfo` / `getArtistInfo2`: `similarArtist`, the artists whose songs sit nearest to
/// this artist's by sound (best first; the rule is `songrec_app::similar::artists`', asked with
/// the catalog's songs); songrec has no biographies or pictures.
pub async fn artist_info(c: &Call<'_>, id3: bool) -> Result<Reply, Fail> {
    let id = c.p.required("id")?;
    let count = c.p.number("count", 20, 1, MAX_LIST)?;
    let cat = c.catalog().await?;
    let artist = cat.artist_or_70(id)?;
    let probes: Vec<SongMetadata> = artists::probes(&artist.songs)
        .map(|&i| cat.songs[i].clone())
        .collect();
    let own = artists::artist_key(&artist.name);
    let ranked =
        artists::nearest_artists(c.st.backend.as_ref(), &c.st.embedders, &own, &probes).await?;
    let similar: Vec<Value> = ranked
        .iter()
        .filter_map(|a| cat.artist(&artist_id(&a.key)))
        .take(count)
        .map(|a| entries::artist_as(a, id3))
        .collect();
    let key = if id3 { "artistInfo2" } else { "artistInfo" };
    Ok(Reply::one(key, json!({ "similarArtist": similar })))
}

/// `getTopSongs` (`artist` is a name): the artist's most played songs (then in album and
/// track order).
pub async fn top_songs(c: &Call<'_>) -> Result<Reply, Fail> {
    let name = c.p.required("artist")?;
    let count = c.p.number("count", 50, 1, MAX_LIST)?;
    let cat = c.catalog().await?;
    let mut songs: Vec<&SongMetadata> = cat
        .artist(&artist_id(name))
        .map(|a| cat.songs_at(&a.songs).collect())
        .unwrap_or_default();
    songs.sort_by_key(|m| std::cmp::Reverse(crate::subsonic_core::listened::plays(m)));
    songs.truncate(count);
    let songs = entries::songs(songs);
    Ok(Reply::one("topSongs", json!({ "song": songs })))
}

fn sonic_match(m: &SongMetadata, similarity: f64) -> Value {
    json!({"entry": entries::song(m), "similarity": similarity})
}

/// `getSonicSimilarTracks` (extension `sonicSimilarity`): the song's nearest songs, best first,
/// never the song itself, with their similarity on 0..1.
pub async fn sonic_similar(c: &Call<'_>) -> Result<Reply, Fail> {
    let m = song_by_id(c, c.p.required("id")?).await?;
    let count = c.p.number("count", 10, 1, MAX_LIST)?;
    let matches: Vec<Value> = neighbours(c, &m, count)
        .await?
        .iter()
        .map(|(s, sim)| sonic_match(s, unit(*sim)))
        .collect();
    Ok(Reply::one("sonicMatch", Value::Array(matches)))
}

/// `findSonicPath` (extension `sonicSimilarity`): `count` songs from `startSongId` to
/// `endSongId`, both included; each similarity is to the song before (1 for the first).
pub async fn sonic_path(c: &Call<'_>) -> Result<Reply, Fail> {
    let from = song_by_id(c, c.p.required("startSongId")?).await?;
    let to = song_by_id(c, c.p.required("endSongId")?).await?;
    let count = c.p.number("count", 25, 2, MAX_LIST)?;
    let shape = PlaylistShape::Path {
        from: Box::new(from),
        to: Box::new(to),
        candidates: PATH_CANDIDATES,
    };
    let p = playlist(c, shape, count).await?;
    let matches: Vec<Value> = p
        .entries
        .iter()
        .map(|e| sonic_match(&e.song, e.similarity_to_previous.map_or(1.0, unit)))
        .collect();
    Ok(Reply::one("sonicMatch", Value::Array(matches)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn similarity_on_the_unit_scale() {
        use super::unit;
        assert_eq!(unit(1.0), 1.0);
        assert_eq!(unit(-1.0), 0.0);
        assert_eq!(unit(0.0), 0.5);
        assert_eq!(unit(f32::NAN), 0.0);
    }
}
