//! The library as Subsonic sees it: artists, their albums and the albums' songs, grouped by
//! normalised names (see [`super::ids`]). Built from one listing of the library and kept until
//! the library changes (checked by the cheap version listing on every request).

use std::collections::HashMap;
use std::sync::Arc;

use songrec_storage::{Filter, SongMetadata, StorageBackend, StorageBackendExt};

use super::error::Fail;
use super::ids::{album_id, artist_id, normalise};
use super::listened;

/// The name shown for songs without an artist (the app's, so every door groups them alike).
pub use songrec_app::similar::artists::UNKNOWN_ARTIST;
/// The name shown for songs without an album.
pub const UNKNOWN_ALBUM: &str = "[Unknown Album]";
/// Leading words left out when sorting and indexing artists.
pub const IGNORED_ARTICLES: &str = "The El La Los Las Le Les";

/// A name, trimmed, or `unknown` when there is none.
fn name_or<'a>(name: Option<&'a str>, unknown: &'static str) -> &'a str {
    name.map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(unknown)
}

/// A song's artist, as the catalog groups it: the app's rule
/// (`songrec_app::similar::artists::artist_name`).
pub fn artist_of(m: &SongMetadata) -> &str {
    songrec_app::similar::artists::artist_name(m)
}

/// A song's album, as the catalog groups it.
pub fn album_of(m: &SongMetadata) -> &str {
    name_or(m.album.as_deref(), UNKNOWN_ALBUM)
}

/// A whole number of the song's free-form fields (`track`, `disc`, `year`).
pub fn extra_number(m: &SongMetadata, key: &str) -> Option<i64> {
    m.extra.get(key).and_then(|v| {
        v.as_i64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
    })
}

/// The name without a leading article, lower case: how artists sort.
pub fn sort_key(name: &str) -> String {
    let n = normalise(name);
    IGNORED_ARTICLES
        .split(' ')
        .find_map(|a| n.strip_prefix(&format!("{} ", a.to_lowercase())))
        .map_or_else(|| n.clone(), str::to_owned)
}

/// The index letter of an artist: the first letter of [`sort_key`], `#` for anything else.
pub fn index_letter(name: &str) -> String {
    match sort_key(name).chars().next() {
        Some(c) if c.is_alphabetic() => c.to_uppercase().collect(),
        _ => "#".into(),
    }
}

/// An artist and where its albums and songs are.
#[derive(Clone, Debug, Default)]
pub struct Artist {
    pub id: String,
    pub name: String,
    /// Indexes into [`Catalog::albums`], by name.
    pub albums: Vec<usize>,
    /// Indexes into [`Catalog::songs`].
    pub songs: Vec<usize>,
}

/// An album of one artist.
#[derive(Clone, Debug, Default)]
pub struct Album {
    pub id: String,
    pub name: String,
    /// Index into [`Catalog::artists`].
    pub artist: usize,
    /// Indexes into [`Catalog::songs`], in disc and track order.
    pub songs: Vec<usize>,
    pub year: Option<i64>,
    pub genre: Option<String>,
    /// The earliest time one of its songs was added.
    pub created: chrono::DateTime<chrono::Utc>,
    /// Seconds.
    pub duration: f64,
    /// Plays of its songs.
    pub plays: u64,
    /// When one of its songs was last played (RFC 3339).
    pub played: Option<String>,
    /// Whether one of its songs is starred.
    pub starred: bool,
}

/// Every song, artist and album.
#[derive(Debug, Default)]
pub struct Catalog {
    /// Songs, ordered by artist, album, disc, track and title.
    pub songs: Vec<SongMetadata>,
    /// Artists by [`sort_key`].
    pub artists: Vec<Artist>,
    /// Albums, ordered by artist then name.
    pub albums: Vec<Album>,
    /// Indexes into `albums`, newest first (`getAlbumList2` `newest`).
    pub newest: Vec<usize>,
    /// Indexes into `albums` by album name (`alphabeticalByName`).
    pub by_name: Vec<usize>,
    /// Each genre (as tagged) with its song and album counts, by name.
    pub genres: Vec<(String, usize, usize)>,
    song_at: HashMap<String, usize>,
    artist_at: HashMap<String, usize>,
    album_at: HashMap<String, usize>,
}

impl Catalog {
    /// Groups `songs`.
    pub fn build(mut songs: Vec<SongMetadata>) -> Self {
        let order = |m: &SongMetadata| {
            (
                sort_key(artist_of(m)),
                normalise(album_of(m)),
                extra_number(m, "disc").unwrap_or(0),
                extra_number(m, "track").unwrap_or(0),
                m.title.to_lowercase(),
                m.id.clone(),
            )
        };
        songs.sort_by_cached_key(order);
        let mut c = Catalog::default();
        for (i, m) in songs.iter().enumerate() {
            c.song_at.insert(m.id.as_str().to_owned(), i);
            let (artist, album) = (artist_of(m), album_of(m));
            let ar_id = artist_id(artist);
            let ar = *c.artist_at.entry(ar_id.clone()).or_insert_with(|| {
                c.artists.push(Artist {
                    id: ar_id,
                    name: artist.to_owned(),
                    ..Artist::default()
                });
                c.artists.len() - 1
            });
            c.artists[ar].songs.push(i);
            let al_id = album_id(artist, album);
            let al = *c.album_at.entry(al_id.clone()).or_insert_with(|| {
                c.albums.push(Album {
                    id: al_id,
                    name: album.to_owned(),
                    artist: ar,
                    created: m.created_at,
                    ..Album::default()
                });
                c.artists[ar].albums.push(c.albums.len() - 1);
                c.albums.len() - 1
            });
            let a = &mut c.albums[al];
            a.songs.push(i);
            a.year = a.year.or_else(|| extra_number(m, "year"));
            a.genre = a.genre.clone().or_else(|| m.genre.clone());
            a.created = a.created.min(m.created_at);
            a.duration += m.duration_secs;
            a.plays += listened::plays(m);
            if let Some(p) = listened::text(m, listened::PLAYED)
                && a.played.as_deref().is_none_or(|q| q < p)
            {
                a.played = Some(p.to_owned());
            }
            a.starred |= listened::text(m, listened::STARRED).is_some();
        }
        c.songs = songs;
        c.orders();
        c
    }

    /// The orders and counts requests would otherwise compute each time.
    fn orders(&mut self) {
        let albums = &self.albums;
        let mut newest: Vec<usize> = (0..albums.len()).collect();
        newest.sort_by(|&a, &b| {
            (albums[b].created.cmp(&albums[a].created)).then(albums[a].id.cmp(&albums[b].id))
        });
        let mut by_name: Vec<usize> = (0..albums.len()).collect();
        by_name.sort_by_cached_key(|&a| (normalise(&albums[a].name), albums[a].id.clone()));
        let mut genres: std::collections::BTreeMap<&str, (usize, usize)> = Default::default();
        for a in albums {
            let mut seen: Vec<&str> = Vec::new();
            for m in a.songs.iter().map(|&i| &self.songs[i]) {
                if let Some(g) = m.genre.as_deref() {
                    let e = genres.entry(g).or_default();
                    e.0 += 1;
                    if !seen.contains(&g) {
                        seen.push(g);
                        e.1 += 1;
                    }
                }
            }
        }
        self.genres = genres
            .into_iter()
            .map(|(g, (songs, albums))| (g.to_owned(), songs, albums))
            .collect();
        self.newest = newest;
        self.by_name = by_name;
    }

    pub fn artist(&self, id: &str) -> Option<&Artist> {
        self.artist_at
            .get(&super::ids::key(id))
            .map(|&i| &self.artists[i])
    }

    pub fn album(&self, id: &str) -> Option<&Album> {
        self.album_at
            .get(&super::ids::key(id))
            .map(|&i| &self.albums[i])
    }

    /// The artist with this id, or error 70.
    pub fn artist_or_70(&self, id: &str) -> Result<&Artist, Fail> {
        self.artist(id).ok_or_else(|| Fail::no_such("artist", id))
    }

    /// The album with this id, or error 70.
    pub fn album_or_70(&self, id: &str) -> Result<&Album, Fail> {
        self.album(id).ok_or_else(|| Fail::no_such("album", id))
    }

    /// The song with this id, or error 70.
    pub fn song_or_70(&self, id: &str) -> Result<&SongMetadata, Fail> {
        let song = self
            .song_at
            .get(&super::ids::key(id))
            .map(|&i| &self.songs[i]);
        song.ok_or_else(|| Fail::no_such("song", id))
    }

    /// The songs at these indexes.
    pub fn songs_at<'a>(&'a self, at: &'a [usize]) -> impl Iterator<Item = &'a SongMetadata> {
        at.iter().map(|&i| &self.songs[i])
    }
}

/// The catalog of the library as it is now, rebuilt when the library has changed.
#[derive(Default)]
pub struct CatalogCache {
    slot: tokio::sync::Mutex<Option<(u64, Arc<Catalog>)>>,
}

impl CatalogCache {
    /// The current catalog.
    pub async fn get(&self, b: &dyn StorageBackend) -> Result<Arc<Catalog>, Fail> {
        let mut slot = self.slot.lock().await;
        let now = crate::fingerprint::fingerprint(b).await?;
        if let Some((at, c)) = slot.as_ref()
            && *at == now
        {
            return Ok(c.clone());
        }
        let songs = b.list_all(&Filter::default()).await?;
        let c = tokio::task::spawn_blocking(move || Arc::new(Catalog::build(songs)))
            .await
            .map_err(|_| Fail::other("grouping the library failed; the server log has more"))?;
        *slot = Some((now, c.clone()));
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use songrec_storage::SongId;

    fn song(title: &str, artist: Option<&str>, album: Option<&str>, track: i64) -> SongMetadata {
        let mut m = SongMetadata::new(SongId::from_bytes(title.as_bytes()), title);
        m.artist = artist.map(str::to_owned);
        m.album = album.map(str::to_owned);
        m.extra.insert("track".into(), track.into());
        m.duration_secs = 10.0;
        m
    }

    #[test]
    fn groups_by_normalised_names() {
        let c = Catalog::build(vec![
            song("b", Some("The Band"), Some("One"), 2),
            song("a", Some("the band "), Some("one"), 1),
            song("c", Some("Abba"), None, 1),
            song("d", None, None, 1),
        ]);
        let names: Vec<&str> = c.artists.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["[Unknown Artist]", "Abba", "the band"]);
        let band = c.artist(&artist_id("The Band")).unwrap();
        assert_eq!(band.albums.len(), 1);
        let one = &c.albums[band.albums[0]];
        let titles: Vec<&str> = c.songs_at(&one.songs).map(|m| m.title.as_str()).collect();
        assert_eq!(titles, ["a", "b"]);
        assert_eq!(one.duration, 20.0);
        assert!(c.artist(&artist_id(UNKNOWN_ARTIST)).is_some());
        assert_eq!(c.artist_or_70("ar-0").unwrap_err().code, 70);
        assert_eq!(index_letter("The Beatles"), "B");
        assert_eq!(index_letter("élan"), "É");
        assert_eq!(index_letter("2Pac"), "#");
    }

    #[test]
    fn orders_and_genre_counts() {
        let mut songs = vec![
            song("a", Some("X"), Some("Zeta"), 1),
            song("b", Some("X"), Some("Zeta"), 2),
            song("c", Some("Y"), Some("alpha"), 1),
        ];
        songs[0].genre = Some("Rock".into());
        songs[1].genre = Some("Rock".into());
        songs[2].genre = Some("Jazz".into());
        songs[2].created_at = songs[0].created_at + chrono::Duration::days(1);
        let c = Catalog::build(songs);
        let name = |order: &[usize]| -> Vec<String> {
            order.iter().map(|&i| c.albums[i].name.clone()).collect()
        };
        assert_eq!(name(&c.by_name), ["alpha", "Zeta"]);
        assert_eq!(name(&c.newest), ["alpha", "Zeta"]);
        assert_eq!(
            c.genres,
            [("Jazz".to_owned(), 1, 1), ("Rock".to_owned(), 2, 1)]
        );
    }
}
