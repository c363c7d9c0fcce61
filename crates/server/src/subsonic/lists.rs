//! Lists: albums by kind (`getAlbumList`/`2`), random songs, songs of a genre, and search
//! (`search2`/`3`: names first, songrec's words engine when no name matches; an empty query
//! pages through everything, as clients sync with it).

use serde_json::{Value, json};
use songrec_app::similar::SimilarAsk;
use songrec_storage::rng::SplitMix;
use songrec_storage::{Ranking, SongMetadata};

use super::call::{Call, Reply};
use super::entries;
use crate::subsonic_core::catalog::{Album, artist_of, extra_number};
use crate::subsonic_core::error::Fail;

/// Largest `size`/`count` of a list.
pub const MAX_LIST: usize = 500;
/// Largest page of a search (clients sync the whole library through `search3` pages).
pub const MAX_SEARCH_PAGE: usize = 10_000;

fn shuffle<T>(v: &mut [T]) {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut rng = SplitMix::new(seed);
    for i in (1..v.len()).rev() {
        v.swap(i, rng.below(i + 1));
    }
}

fn same_genre(g: Option<&str>, want: &str) -> bool {
    g.is_some_and(|g| g.trim().eq_ignore_ascii_case(want.trim()))
}

/// `fromYear`/`toYear`: either order (a reversed range lists newest first).
fn years(c: &Call<'_>, required: bool) -> Result<Option<(i64, i64)>, Fail> {
    let get = |k: &str| -> Result<Option<i64>, Fail> {
        match c.p.get(k).filter(|v| !v.is_empty()) {
            None if required => Err(Fail::missing(k)),
            None => Ok(None),
            Some(_) => c.p.number(k, 0, -9999, 9999).map(Some),
        }
    };
    Ok(match (get("fromYear")?, get("toYear")?) {
        (Some(a), Some(b)) => Some((a, b)),
        (Some(a), None) => Some((a, 9999)),
        (None, Some(b)) => Some((-9999, b)),
        (None, None) => None,
    })
}

fn in_years(y: Option<i64>, range: Option<(i64, i64)>) -> bool {
    range.is_none_or(|(a, b)| y.is_some_and(|y| y >= a.min(b) && y <= a.max(b)))
}

/// `getAlbumList` (`id3` false: albums as directories) and `getAlbumList2`.
pub async fn album_list(c: &Call<'_>, id3: bool) -> Result<Reply, Fail> {
    let kind = c.p.required("type")?;
    let size = c.p.number("size", 10, 1, MAX_LIST)?;
    let offset = c.p.number("offset", 0, 0, usize::MAX / 2)?;
    let cat = c.catalog().await?;
    let mut albums: Vec<&Album> = match kind {
        "random" => {
            let mut v: Vec<&Album> = cat.albums.iter().collect();
            shuffle(&mut v);
            v
        }
        "newest" => cat.newest.iter().map(|&i| &cat.albums[i]).collect(),
        "alphabeticalByName" => cat.by_name.iter().map(|&i| &cat.albums[i]).collect(),
        "alphabeticalByArtist" => cat.albums.iter().collect(),
        "byYear" => {
            let range = years(c, true)?;
            let mut v: Vec<&Album> = cat
                .albums
                .iter()
                .filter(|a| in_years(a.year, range))
                .collect();
            v.sort_by_key(|a| a.year);
            if range.is_some_and(|(a, b)| a > b) {
                v.reverse();
            }
            v
        }
        "byGenre" => {
            let g = c.p.required("genre")?;
            cat.albums
                .iter()
                .filter(|a| same_genre(a.genre.as_deref(), g))
                .collect()
        }
        "frequent" => {
            let mut v: Vec<&Album> = cat.albums.iter().filter(|a| a.plays > 0).collect();
            v.sort_by_key(|a| std::cmp::Reverse(a.plays));
            v
        }
        "recent" => {
            let mut v: Vec<&Album> = cat.albums.iter().filter(|a| a.played.is_some()).collect();
            v.sort_by(|a, b| b.played.cmp(&a.played));
            v
        }
        "starred" => cat.albums.iter().filter(|a| a.starred).collect(),
        // Ratings are not kept.
        "highest" => Vec::new(),
        other => {
            return Err(Fail::other(format!(
                "unknown album list type {other:?}; use random, newest, alphabeticalByName, \
                 alphabeticalByArtist, byYear, byGenre, frequent, recent, starred or highest"
            )));
        }
    };
    let albums: Vec<Value> = albums
        .drain(..)
        .skip(offset)
        .take(size)
        .map(|a| entries::album(&cat, a))
        .collect();
    let key = if id3 { "albumList2" } else { "albumList" };
    Ok(Reply::one(key, json!({ "album": albums })))
}

/// `getRandomSongs`: `size`, `genre`, `fromYear`, `toYear`.
pub async fn random_songs(c: &Call<'_>) -> Result<Reply, Fail> {
    let size = c.p.number("size", 10, 1, MAX_LIST)?;
    let genre = c.p.get("genre").filter(|g| !g.is_empty());
    let range = years(c, false)?;
    let cat = c.catalog().await?;
    let mut songs: Vec<&SongMetadata> = cat
        .songs
        .iter()
        .filter(|m| genre.is_none_or(|g| same_genre(m.genre.as_deref(), g)))
        .filter(|m| in_years(extra_number(m, "year"), range))
        .collect();
    shuffle(&mut songs);
    songs.truncate(size);
    Ok(Reply::one(
        "randomSongs",
        json!({ "song": entries::songs(songs) }),
    ))
}

/// `getSongsByGenre`: `genre`, `count`, `offset`.
pub async fn songs_by_genre(c: &Call<'_>) -> Result<Reply, Fail> {
    let genre = c.p.required("genre")?;
    let count = c.p.number("count", 10, 1, MAX_LIST)?;
    let offset = c.p.number("offset", 0, 0, usize::MAX / 2)?;
    let cat = c.catalog().await?;
    let songs = cat
        .songs
        .iter()
        .filter(|m| same_genre(m.genre.as_deref(), genre))
        .skip(offset)
        .take(count);
    Ok(Reply::one(
        "songsByGenre",
        json!({ "song": entries::songs(songs) }),
    ))
}

/// `getStarred`/`getStarred2`: the starred songs (stars are kept on songs only).
pub async fn starred(c: &Call<'_>, id3: bool) -> Result<Reply, Fail> {
    let cat = c.catalog().await?;
    let songs = cat.songs.iter().filter(|m| {
        crate::subsonic_core::listened::text(m, crate::subsonic_core::listened::STARRED).is_some()
    });
    let key = if id3 { "starred2" } else { "starred" };
    Ok(Reply::one(
        key,
        json!({"artist": [], "album": [], "song": entries::songs(songs)}),
    ))
}

fn has_words(hay: &str, words: &[String]) -> bool {
    let hay = hay.to_lowercase();
    words.iter().all(|w| hay.contains(w.as_str()))
}

/// The words of a query (`""`, as some clients send for "everything", is empty).
fn query_words(q: &str) -> Vec<String> {
    let q = q.trim();
    let q = q
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or(q);
    q.split_whitespace()
        .map(|w| w.trim_matches('*').to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

fn page(c: &Call<'_>, what: &str) -> Result<(usize, usize), Fail> {
    Ok((
        c.p.number(&format!("{what}Count"), 20, 0, MAX_SEARCH_PAGE)?,
        c.p.number(&format!("{what}Offset"), 0, 0, usize::MAX / 2)?,
    ))
}

/// Songs for words that name no song: the words engine of `songrec similar --text`.
async fn by_words(c: &Call<'_>, text: &str, k: usize, offset: usize) -> Vec<SongMetadata> {
    let Ok(words) = songrec_app::words::parse_off_workers(text.to_owned()).await else {
        return Vec::new();
    };
    let b = c.st.backend.as_ref();
    let max = b.max_results();
    if k == 0 || k.saturating_add(offset) > max {
        return Vec::new();
    }
    let ask = SimilarAsk {
        words: Some(words),
        ranking: Ranking {
            k,
            offset,
            ..Ranking::default()
        },
        ..SimilarAsk::default()
    };
    match songrec_app::similar::answer(b, &ask, &c.st.embedders).await {
        Ok(a) if a.nothing_matched.is_none() => a.results.into_iter().map(|r| r.song).collect(),
        _ => Vec::new(),
    }
}

fn song_text(m: &SongMetadata) -> String {
    format!(
        "{} {} {} {}",
        artist_of(m),
        m.title,
        m.album.as_deref().unwrap_or(""),
        m.file_name
    )
}

/// `search2` / `search3`.
pub async fn search(c: &Call<'_>, id3: bool) -> Result<Reply, Fail> {
    let q = c.p.get("query").unwrap_or("");
    let words = query_words(q);
    let (ar_n, ar_off) = page(c, "artist")?;
    let (al_n, al_off) = page(c, "album")?;
    let (so_n, so_off) = page(c, "song")?;
    let cat = c.catalog().await?;
    let artists: Vec<Value> = cat
        .artists
        .iter()
        .filter(|a| has_words(&a.name, &words))
        .skip(ar_off)
        .take(ar_n)
        .map(|a| entries::artist_as(a, id3))
        .collect();
    let albums: Vec<Value> = cat
        .albums
        .iter()
        .filter(|a| {
            has_words(
                &format!("{} {}", a.name, cat.artists[a.artist].name),
                &words,
            )
        })
        .skip(al_off)
        .take(al_n)
        .map(|a| entries::album(&cat, a))
        .collect();
    let mut songs: Vec<Value> = entries::songs(
        cat.songs
            .iter()
            .filter(|m| has_words(&song_text(m), &words))
            .skip(so_off)
            .take(so_n),
    );
    let named = cat.songs.iter().any(|m| has_words(&song_text(m), &words));
    if !named && !words.is_empty() && so_n > 0 {
        songs = entries::songs(&by_words(c, q, so_n, so_off).await);
    }
    let key = if id3 {
        "searchResult3"
    } else {
        "searchResult2"
    };
    Ok(Reply::one(
        key,
        json!({"artist": artists, "album": albums, "song": songs}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries() {
        assert!(query_words("\"\"").is_empty());
        assert!(query_words("  ").is_empty());
        assert_eq!(query_words("Blue* Train"), ["blue", "train"]);
        assert!(in_years(Some(1990), Some((2000, 1980))));
        assert!(!in_years(None, Some((1, 2))));
        assert!(in_years(None, None));
    }
}
