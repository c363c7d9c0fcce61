//! Playlists: `getPlaylists`, `getPlaylist`, `createPlaylist`, `updatePlaylist`,
//! `deletePlaylist`, over the library's saved playlists
//! ([`songrec_storage::playlist::SavedPlaylist`]), written through the backend so they survive
//! a restart, and reach other machines with `songrec sync` and `songrec playlist --saved`.
//!
//! A playlist keeps the ids of songs later deleted from the library (they come back if the
//! song does); its entries and counts show the songs the library holds.

use chrono::Utc;
use serde_json::{Value, json};
use songrec_storage::listening::stamp;
use songrec_storage::playlist::SavedPlaylist;
use songrec_storage::{SongId, SongMetadata, StorageBackendExt as _};

use super::call::{Call, Reply};
use super::entries;
use crate::subsonic_core::error::Fail;

/// The live playlist `id`, or error 70.
async fn by_id(c: &Call<'_>, id: &str) -> Result<SavedPlaylist, Fail> {
    match c.st.backend.get_playlist(id).await? {
        Some(p) if !p.deleted => Ok(p),
        _ => Err(Fail::no_such("playlist", id)),
    }
}

/// Song ids as the client sent them; an unknown or malformed one is error 70.
async fn songs(c: &Call<'_>, name: &str) -> Result<Vec<SongId>, Fail> {
    let parse = |r: &str| SongId::parse(&r.trim().to_ascii_lowercase());
    let raw = c.p.all(name);
    let ids = raw
        .iter()
        .map(|r| parse(r).map_err(|_| Fail::no_such("song", r)));
    let ids = ids.collect::<Result<Vec<_>, _>>()?;
    let known: std::collections::HashSet<SongId> =
        c.st.backend
            .get_metadata_many(&ids)
            .await?
            .into_iter()
            .map(|m| m.id)
            .collect();
    if let Some(missing) = ids.iter().find(|i| !known.contains(i)) {
        return Err(Fail::no_such("song", missing.as_str()));
    }
    Ok(ids)
}

/// A playlist's `Playlist` value: its songs' count and length as the library holds them.
fn shape(c: &Call<'_>, p: &SavedPlaylist, songs: &[SongMetadata]) -> Value {
    let owner = p
        .owner
        .clone()
        .unwrap_or_else(|| c.st.subsonic.options.credentials.user.clone());
    let mut o = json!({
        "id": p.id,
        "name": p.name,
        "owner": owner,
        "public": p.public,
        "songCount": songs.len(),
        "duration": songs.iter().map(|m| m.duration_secs.max(0.0)).sum::<f64>().round() as u64,
        "created": stamp(p.created_at),
        "changed": stamp(p.updated_at),
    });
    if let Some(comment) = &p.comment {
        o["comment"] = comment.clone().into();
    }
    if let Some(first) = songs.first() {
        o["coverArt"] = first.id.as_str().into();
    }
    o
}

/// `getPlaylists`: every playlist, by name.
pub async fn list(c: &Call<'_>) -> Result<Reply, Fail> {
    let mut out = Vec::new();
    for p in c.st.backend.playlists().await? {
        let songs = c.st.backend.playlist_songs(&p).await?;
        out.push(shape(c, &p, &songs));
    }
    Ok(Reply::one("playlists", json!({ "playlist": out })))
}

/// One playlist with its songs.
async fn with_entries(c: &Call<'_>, p: &SavedPlaylist) -> Result<Reply, Fail> {
    let songs = c.st.backend.playlist_songs(p).await?;
    let mut v = shape(c, p, &songs);
    v["entry"] = entries::songs(&songs).into();
    Ok(Reply::one("playlist", v))
}

/// `getPlaylist`.
pub async fn get(c: &Call<'_>) -> Result<Reply, Fail> {
    let p = by_id(c, c.p.required("id")?).await?;
    with_entries(c, &p).await
}

/// `createPlaylist`: a new playlist `name` of the `songId`s, or (`playlistId`) the songs of an
/// existing one replaced. Answers the playlist.
pub async fn create(c: &Call<'_>) -> Result<Reply, Fail> {
    let _one = c.st.playlist_writes.lock().await;
    let ids = songs(c, "songId").await?;
    let now = Utc::now();
    let p = if let Some(id) = c.p.get("playlistId").filter(|v| !v.is_empty()) {
        let mut p = by_id(c, id).await?;
        if let Some(name) = c.p.get("name").filter(|v| !v.trim().is_empty()) {
            p.name = songrec_storage::playlist::check_name(name)?;
        }
        p.songs = ids;
        p.touch(now);
        p
    } else {
        let name = c.p.get("name").ok_or_else(|| Fail::missing("name"))?;
        let mut p = SavedPlaylist::new(name, ids, now)?;
        p.owner = Some(c.st.subsonic.options.credentials.user.clone());
        p
    };
    c.st.backend.put_playlist(&p).await?;
    with_entries(c, &p).await
}

/// `updatePlaylist`: name, comment, public flag, songs added (`songIdToAdd`) and removed by
/// their index before this change (`songIndexToRemove`).
pub async fn update(c: &Call<'_>) -> Result<Reply, Fail> {
    // Read, changed and written whole while no other change of this server runs: 30 songs
    // added at once are 30 songs.
    let _one = c.st.playlist_writes.lock().await;
    let mut p = by_id(c, c.p.required("playlistId")?).await?;
    if let Some(name) = c.p.get("name") {
        p.name = songrec_storage::playlist::check_name(name)?;
    }
    if let Some(comment) = c.p.get("comment") {
        p.comment = Some(comment.to_owned()).filter(|s| !s.trim().is_empty());
    }
    if let Some(public) = c.p.get("public") {
        p.public = match public {
            "true" => true,
            "false" => false,
            other => {
                return Err(Fail::other(format!(
                    "public must be true or false, got {other:?}"
                )));
            }
        };
    }
    let mut remove = Vec::new();
    for raw in c.p.all("songIndexToRemove") {
        let i: usize = raw
            .trim()
            .parse()
            .ok()
            .filter(|i| *i < p.songs.len())
            .ok_or_else(|| {
                Fail::other(format!(
                    "songIndexToRemove must be an index below {}, got {raw:?}",
                    p.songs.len()
                ))
            })?;
        remove.push(i);
    }
    let add = songs(c, "songIdToAdd").await?;
    let kept: Vec<SongId> = p
        .songs
        .iter()
        .enumerate()
        .filter(|(i, _)| !remove.contains(i))
        .map(|(_, s)| s.clone())
        .collect();
    p.songs = kept;
    p.songs.extend(add);
    p.touch(Utc::now());
    c.st.backend.put_playlist(&p).await?;
    Ok(Reply::empty())
}

/// `deletePlaylist`: leaves a tombstone, so the deletion reaches other machines.
pub async fn delete(c: &Call<'_>) -> Result<Reply, Fail> {
    let id = c.p.required("id")?;
    let _one = c.st.playlist_writes.lock().await;
    if !c.st.backend.delete_playlist(id).await? {
        return Err(Fail::no_such("playlist", id));
    }
    Ok(Reply::empty())
}
