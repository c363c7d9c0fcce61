//! Saved playlists in the cloud: one document per playlist in the songs collection, of kind
//! `playlist`, `_id` `playlist:<id>`, the playlist itself under `meta` (a field the collection
//! does not index, so a long song list meets no indexed-array limit). Like the model registry's
//! documents they carry no `deleted` field, so song listings never see them; the playlist's own
//! tombstone flag lives inside `meta`.

use serde_json::{Value, json};
use songrec_storage::playlist::{SavedPlaylist, is_playlist_id};
use songrec_storage::{StorageError, StorageResult};

use super::docs::META;
use super::errors;
use super::storage::Ops;
use crate::dataapi::UpdateOptions;

/// The document kind of a playlist.
const KIND: &str = "playlist";

fn doc_id(id: &str) -> String {
    format!("{KIND}:{id}")
}

fn parse(doc: &Value) -> StorageResult<SavedPlaylist> {
    let id = doc["_id"].as_str().unwrap_or("?");
    serde_json::from_value(doc[META].clone()).map_err(|e| {
        errors::backend(format!(
            "the playlist document {id} does not read as a playlist: {e}"
        ))
    })
}

impl Ops<'_> {
    pub(super) async fn put_playlist(&self, p: &SavedPlaylist) -> StorageResult<()> {
        p.validate()?;
        let body = serde_json::to_value(p)
            .map_err(|e| StorageError::InvalidInput(format!("playlist {}: {e}", p.id)))?;
        self.songs
            .update_one(
                json!({"_id": doc_id(&p.id)}),
                json!({"$set": {"kind": KIND, META: body}}),
                UpdateOptions::upsert(),
            )
            .await
            .map_err(|e| errors::api(e, &format!("saving playlist {:?}", p.name)))?;
        Ok(())
    }

    pub(super) async fn get_playlist(&self, id: &str) -> StorageResult<Option<SavedPlaylist>> {
        if !is_playlist_id(id) {
            return Ok(None);
        }
        let filter = json!({"_id": doc_id(id), "kind": KIND});
        let what = format!("reading playlist {id}");
        let doc = self.song_where(filter, None, &what).await?;
        doc.as_ref().map(parse).transpose()
    }

    /// Every playlist, in id order. A document that does not read as a playlist is reported
    /// in the log and left out.
    pub(super) async fn list_playlists(&self) -> StorageResult<Vec<SavedPlaylist>> {
        let what = "listing the saved playlists";
        let docs = self.songs_where(json!({"kind": KIND}), None, what).await?;
        let mut out: Vec<SavedPlaylist> = docs
            .iter()
            .filter_map(|d| {
                parse(d)
                    .inspect_err(|e| tracing::warn!("{e}; the playlist is left out"))
                    .ok()
            })
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }
}
