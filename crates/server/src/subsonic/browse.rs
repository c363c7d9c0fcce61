//! Browsing: the server's facts, the artist index (by folder and by tags, which are the same
//! here: songrec groups by tags), directories, artists, albums, songs and genres.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::call::{Call, Reply};
use super::entries;
use crate::subsonic_core::catalog::{Catalog, IGNORED_ARTICLES, index_letter};
use crate::subsonic_core::error::Fail;

/// The one music folder: the library.
pub const FOLDER_ID: u32 = 1;

/// `getOpenSubsonicExtensions` (answered without signing in).
pub fn extensions() -> Reply {
    let ext = |name: &str| json!({"name": name, "versions": [1]});
    Reply::one(
        "openSubsonicExtensions",
        Value::Array(vec![
            ext("apiKeyAuthentication"),
            ext("formPost"),
            ext("sonicSimilarity"),
        ]),
    )
}

/// `getLicense`: always valid.
pub fn license() -> Reply {
    Reply::one(
        "license",
        json!({"valid": true, "email": "", "licenseExpires": "2999-12-31T00:00:00.000Z"}),
    )
}

/// `getUser`: the one user and what it may do; another name is error 50.
pub fn user(c: &Call<'_>) -> Result<Reply, Fail> {
    let name = c.p.required("username")?;
    let me = &c.st.subsonic.options.credentials.user;
    if name != me.as_str() {
        return Err(Fail::not_authorised("this server has one user; ask for it"));
    }
    Ok(Reply::one(
        "user",
        json!({
            "username": me, "scrobblingEnabled": false, "adminRole": false,
            "settingsRole": false, "downloadRole": true, "uploadRole": false,
            "playlistRole": true, "coverArtRole": false, "commentRole": false,
            "podcastRole": false, "streamRole": true, "jukeboxRole": false,
            "shareRole": false, "videoConversionRole": false, "folder": [FOLDER_ID],
        }),
    ))
}

/// `getMusicFolders`.
pub fn music_folders() -> Reply {
    Reply::one(
        "musicFolders",
        json!({"musicFolder": [{"id": FOLDER_ID, "name": "songrec"}]}),
    )
}

/// The artists by index letter.
fn index(
    c: &Catalog,
    artist: impl Fn(&crate::subsonic_core::catalog::Artist) -> Value,
) -> Vec<Value> {
    let mut by: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for a in &c.artists {
        by.entry(index_letter(&a.name)).or_default().push(artist(a));
    }
    // `#` last, as players show it.
    let hash = by.remove("#");
    by.into_iter()
        .chain(hash.map(|v| ("#".to_owned(), v)))
        .map(|(name, artists)| json!({"name": name, "artist": artists}))
        .collect()
}

/// `getIndexes`.
pub async fn indexes(c: &Call<'_>) -> Result<Reply, Fail> {
    let cat = c.catalog().await?;
    let modified = cat
        .songs
        .iter()
        .map(|m| m.updated_at.timestamp_millis())
        .max()
        .unwrap_or(0);
    Ok(Reply::one(
        "indexes",
        json!({
            "lastModified": modified,
            "ignoredArticles": IGNORED_ARTICLES,
            "index": index(&cat, |a| json!({"id": a.id, "name": a.name, "albumCount": a.albums.len()})),
        }),
    ))
}

/// `getArtists`.
pub async fn artists(c: &Call<'_>) -> Result<Reply, Fail> {
    let cat = c.catalog().await?;
    Ok(Reply::one(
        "artists",
        json!({"ignoredArticles": IGNORED_ARTICLES, "index": index(&cat, entries::artist)}),
    ))
}

/// `getMusicDirectory`: an artist's albums, or an album's songs.
pub async fn directory(c: &Call<'_>) -> Result<Reply, Fail> {
    let id = c.p.required("id")?;
    let cat = c.catalog().await?;
    let dir = if let Some(a) = cat.artist(id) {
        let albums: Vec<Value> = a
            .albums
            .iter()
            .map(|&i| entries::album(&cat, &cat.albums[i]))
            .collect();
        json!({"id": a.id, "name": a.name, "parent": FOLDER_ID.to_string(), "child": albums})
    } else if let Some(al) = cat.album(id) {
        json!({
            "id": al.id, "name": al.name, "parent": cat.artists[al.artist].id,
            "child": entries::songs(cat.songs_at(&al.songs)),
        })
    } else {
        return Err(Fail::no_such("directory", id));
    };
    Ok(Reply::one("directory", dir))
}

/// `getArtist`.
pub async fn artist(c: &Call<'_>) -> Result<Reply, Fail> {
    let cat = c.catalog().await?;
    let a = cat.artist_or_70(c.p.required("id")?)?;
    Ok(Reply::one("artist", entries::artist_with_albums(&cat, a)))
}

/// `getAlbum`.
pub async fn album(c: &Call<'_>) -> Result<Reply, Fail> {
    let cat = c.catalog().await?;
    let a = cat.album_or_70(c.p.required("id")?)?;
    Ok(Reply::one("album", entries::album_with_songs(&cat, a)))
}

/// `getSong`.
pub async fn song(c: &Call<'_>) -> Result<Reply, Fail> {
    let cat = c.catalog().await?;
    let m = cat.song_or_70(c.p.required("id")?)?;
    Ok(Reply::one("song", entries::song(m)))
}

/// `getGenres`: each genre with its songs and albums.
pub async fn genres(c: &Call<'_>) -> Result<Reply, Fail> {
    let cat = c.catalog().await?;
    let genres: Vec<Value> = cat
        .genres
        .iter()
        .map(|(g, songs, albums)| json!({"value": g, "songCount": songs, "albumCount": albums}))
        .collect();
    Ok(Reply::one("genres", json!({ "genre": genres })))
}
