//! The protocol's shapes of songs (`Child`), albums (`AlbumID3`, and `Child` directories for
//! the folder-based calls) and artists (`ArtistID3`), as value trees for [`super::render`].

use serde_json::{Value, json};
use songrec_storage::SongMetadata;
use songrec_storage::listening::stamp;

use crate::subsonic_core::catalog::{Album, Artist, Catalog, album_of, artist_of, extra_number};
use crate::subsonic_core::ids::{album_id, artist_id};
use crate::subsonic_core::listened;

/// Sets the field `key` of the object `o` to `v`, when there is one.
fn put(o: &mut Value, key: &str, v: Option<impl Into<Value>>) {
    if let Some(v) = v {
        o[key] = v.into();
    }
}

/// A song as a `Child`.
pub fn song(m: &SongMetadata) -> Value {
    let (artist, album) = (artist_of(m), album_of(m));
    let al_id = album_id(artist, album);
    let seconds = m.duration_secs.max(0.0);
    let bit_rate =
        (seconds > 0.0).then(|| (m.file_size as f64 * 8.0 / seconds / 1000.0).round() as u64);
    let mut o = json!({
        "id": m.id.as_str(),
        "parent": al_id,
        "isDir": false,
        "title": m.title,
        "album": album,
        "artist": artist,
        "size": m.file_size,
        "contentType": crate::audio::mime_from_name(&m.file_name),
        "suffix": crate::audio::extension(&m.file_name),
        "duration": seconds.round() as u64,
        "path": format!("{artist}/{album}/{}", m.file_name),
        "albumId": al_id,
        "artistId": artist_id(artist),
        "coverArt": m.id.as_str(),
        "type": "music",
        "mediaType": "song",
        "isVideo": false,
        "created": stamp(m.created_at),
    });
    put(&mut o, "track", extra_number(m, "track"));
    put(&mut o, "discNumber", extra_number(m, "disc"));
    put(&mut o, "year", extra_number(m, "year"));
    put(&mut o, "genre", m.genre.clone());
    put(&mut o, "bitRate", bit_rate);
    put(
        &mut o,
        "samplingRate",
        (m.sample_rate > 0).then_some(m.sample_rate),
    );
    put(
        &mut o,
        "channelCount",
        (m.channels > 0).then_some(m.channels),
    );
    put(&mut o, "bpm", m.bpm.map(|b| b.round() as i64));
    put(&mut o, "playCount", Some(listened::plays(m)));
    put(&mut o, "starred", listened::text(m, listened::STARRED));
    put(&mut o, "played", listened::text(m, listened::PLAYED));
    put(
        &mut o,
        "genres",
        m.genre.as_ref().map(|g| json!([{ "name": g }])),
    );
    o
}

/// Songs as `Child` values.
pub fn songs<'a>(ms: impl IntoIterator<Item = &'a SongMetadata>) -> Vec<Value> {
    ms.into_iter().map(song).collect()
}

/// An album as an `AlbumID3` (without its songs).
pub fn album(c: &Catalog, a: &Album) -> Value {
    let artist = &c.artists[a.artist];
    let mut o = json!({
        "id": a.id,
        "name": a.name,
        "title": a.name,
        "artist": artist.name,
        "artistId": artist.id,
        "coverArt": a.id,
        "songCount": a.songs.len(),
        "duration": a.duration.round() as u64,
        "created": stamp(a.created),
        "isDir": true,
        "parent": artist.id,
        "album": a.name,
    });
    put(&mut o, "year", a.year);
    put(&mut o, "genre", a.genre.clone());
    put(&mut o, "playCount", Some(a.plays));
    put(&mut o, "played", a.played.clone());
    o
}

/// An album with its songs (`getAlbum`).
pub fn album_with_songs(c: &Catalog, a: &Album) -> Value {
    let mut v = album(c, a);
    v["song"] = Value::Array(songs(c.songs_at(&a.songs)));
    v
}

/// An artist as an `ArtistID3`.
pub fn artist(a: &Artist) -> Value {
    json!({"id": a.id, "name": a.name, "albumCount": a.albums.len()})
}

/// An artist as an `ArtistID3` (`id3`), or as the classic calls' `Artist` (id and name).
pub fn artist_as(a: &Artist, id3: bool) -> Value {
    if id3 {
        artist(a)
    } else {
        json!({"id": a.id, "name": a.name})
    }
}

/// An artist with its albums (`getArtist`).
pub fn artist_with_albums(c: &Catalog, a: &Artist) -> Value {
    let mut v = artist(a);
    v["album"] = a.albums.iter().map(|&i| album(c, &c.albums[i])).collect();
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use songrec_storage::SongId;

    #[test]
    fn a_song_child() {
        let mut m = SongMetadata::new(SongId::from_bytes(b"x"), "Tune");
        m.file_name = "Tune.MP3".into();
        m.file_size = 480_000;
        m.duration_secs = 30.0;
        m.extra.insert("track".into(), 3.into());
        let v = song(&m);
        assert_eq!(v["suffix"], "mp3");
        assert_eq!(v["contentType"], "audio/mpeg");
        assert_eq!(v["bitRate"], 128);
        assert_eq!(v["track"], 3);
        assert_eq!(v["artist"], "[Unknown Artist]");
        assert_eq!(
            v["albumId"],
            album_id("[Unknown Artist]", "[Unknown Album]")
        );
        assert!(v.get("year").is_none());
    }
}
