//! The change feed ([`songrec_storage::StorageBackend::changes_since`]) and lookups of versions
//! by id.
//!
//! Every write of a songs document stamps `changed_at` with the server's time (`$currentDate`:
//! machines' clocks do not matter). `insertMany` cannot use update operators, so a batch inserts
//! new documents `pending: true` and then stamps them (`updateMany` by `_id`, removing
//! `pending`); the feed returns stamped and pending documents alike, so a writer killed between
//! the two requests loses nothing.
//!
//! A clock document (`_id` [`CLOCK_ID`], no `deleted` field, so listings never see it) holds a
//! random `epoch` and the server time of the last feed request. A cursor `(epoch, t)` means every
//! write stamped at or before `t` was seen. Each feed request first updates the clock (one
//! `findOneAndUpdate`), reading the server's time `R`; writes stamped before `R − overlap`
//! ([`OVERLAP_MS`]) are taken as visible. `changes_since(None)` stamps documents of older
//! versions and returns `R − overlap`; `changes_since(Some(c))` returns `None` (list everything)
//! when the clock is missing or of another epoch, else the songs with `changed_at > c.t` or
//! `pending`, and the cursor `max(c.t, R − overlap)`. When nothing changed, one `findOne`
//! checks that the collection holds any song (else `None`, so an emptied library reaches the
//! full listing's empty-listing rail). Unstamped documents of older versions are found by the
//! next full reconciliation.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use songrec_storage::{ChangeCursor, Changes, SongId, StorageError, StorageResult, VersionEntry};

use super::docs;
use super::errors;
use super::handle::AstraBackend;
use super::listing::{IN_CHUNK, unique_ids};
use super::storage::Ops;

/// The server-time field every write of a songs document stamps.
pub(crate) const CHANGED_AT: &str = "changed_at";
/// Set on documents inserted by `insertMany` until their stamp is written.
pub(crate) const PENDING: &str = "pending";
/// `_id` of the clock document in the songs collection.
pub(crate) const CLOCK_ID: &str = "sync:clock";
/// Default overlap (ms): writes stamped this long before a feed read are taken as visible to
/// it; later ones are read again by the next feed read.
pub const OVERLAP_MS: i64 = 5_000;

/// The update that stamps a songs document (merged into writes that already `$set`/`$unset`).
pub(crate) fn stamp() -> Value {
    json!({ "$currentDate": { CHANGED_AT: true }, "$unset": { PENDING: "" } })
}

/// Adds the stamp to an update document (`$currentDate`, and `pending` to its `$unset`).
pub(crate) fn stamped(mut update: Value) -> Value {
    if let Some(u) = update.as_object_mut() {
        u.insert("$currentDate".into(), json!({ CHANGED_AT: true }));
        let unset = u.entry("$unset").or_insert_with(|| json!({}));
        if let Some(o) = unset.as_object_mut() {
            o.insert(PENDING.into(), json!(""));
        }
    }
    update
}

#[derive(Serialize, Deserialize)]
struct Cursor {
    /// The clock document's epoch.
    e: String,
    /// Server time, ms since the Unix epoch.
    t: i64,
}

const CURSOR_PREFIX: &str = "astra1.";

impl Cursor {
    fn encode(&self) -> ChangeCursor {
        let json = serde_json::to_vec(self).unwrap_or_default();
        ChangeCursor::new(format!("{CURSOR_PREFIX}{}", URL_SAFE_NO_PAD.encode(json)))
    }

    fn decode(c: &ChangeCursor) -> Option<Self> {
        let b = URL_SAFE_NO_PAD
            .decode(c.as_str().strip_prefix(CURSOR_PREFIX)?)
            .ok()?;
        serde_json::from_slice(&b).ok()
    }
}

/// A songs document (projected) as a version entry.
pub(crate) fn version_entry(d: &Value) -> StorageResult<VersionEntry> {
    let id = docs::doc_id(d)?;
    Ok(VersionEntry {
        version: d.get("version").and_then(Value::as_u64).unwrap_or(1),
        content_hash: d
            .get("content_hash")
            .and_then(Value::as_str)
            .unwrap_or(id.as_str())
            .to_owned(),
        deleted: d.get("deleted").and_then(Value::as_bool).unwrap_or(false),
        id,
    })
}

fn malformed(what: &str) -> StorageError {
    errors::backend(format!("malformed answer from the Data API: {what}"))
}

impl AstraBackend {
    /// The overlap in force: [`AstraBackend::with_feed_overlap`]'s, else [`OVERLAP_MS`].
    fn feed_overlap(&self) -> i64 {
        self.feed_overlap_ms.unwrap_or(OVERLAP_MS)
    }

    /// Updates the clock document and returns its epoch and the server time (ms).
    async fn clock(&self) -> StorageResult<(String, i64)> {
        // The epoch: 128 random bits as hex.
        let epoch = uuid::Uuid::new_v4().simple().to_string();
        let cmd = json!({"findOneAndUpdate": {
            "filter": {"_id": CLOCK_ID},
            "update": {"$currentDate": {"at": true}, "$setOnInsert": {"epoch": epoch}},
            "projection": {"at": 1, "epoch": 1},
            "options": {"upsert": true, "returnDocument": "after"},
        }});
        let resp = self
            .client
            .run_command(Some(self.songs.name()), &cmd, true)
            .await
            .map_err(|e| errors::api(e, "reading the sync clock"))?;
        let doc = resp
            .data
            .as_ref()
            .and_then(|d| d.get("document"))
            .ok_or_else(|| malformed("findOneAndUpdate returned no document"))?;
        let t = (doc.pointer("/at/$date").and_then(Value::as_i64))
            .ok_or_else(|| malformed("the clock has no time"))?;
        let e = doc
            .get("epoch")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("the clock has no epoch"))?
            .to_owned();
        Ok((e, t))
    }

    async fn feed_head(&self) -> StorageResult<Changes> {
        // Documents of older versions (and any left pending) get their stamp now.
        let filter = json!({"deleted": {"$in": [true, false]}, CHANGED_AT: {"$exists": false}});
        self.songs
            .update_many(filter, stamp())
            .await
            .map_err(|e| errors::api(e, "stamping songs written by older versions"))?;
        let (e, now) = self.clock().await?;
        Ok(Changes {
            entries: Vec::new(),
            cursor: Cursor {
                e,
                t: now.saturating_sub(self.feed_overlap()),
            }
            .encode(),
        })
    }

    async fn feed_since(&self, c: Cursor) -> StorageResult<Option<Changes>> {
        let (epoch, now) = self.clock().await?;
        if epoch != c.e {
            return Ok(None);
        }
        let filter = json!({"$or": [
            {CHANGED_AT: {"$gt": {"$date": c.t}}},
            {PENDING: true},
        ]});
        let entries = self
            .find_versions(filter, "reading the change feed")
            .await?;
        // Nothing changed: make sure the collection still holds songs at all (documents
        // removed without tombstones, e.g. a wiped library, never show up in a feed; the full
        // listing sees them, and its empty-listing rail stops the sync).
        if entries.is_empty() {
            let every = json!({"deleted": {"$in": [true, false]}});
            let what = "checking that the library holds songs";
            let any = self
                .song_where(every, Some(json!({"_id": 1})), what)
                .await?;
            if any.is_none() {
                return Ok(None);
            }
        }
        Ok(Some(Changes {
            entries,
            cursor: Cursor {
                e: c.e,
                t: c.t.max(now.saturating_sub(self.feed_overlap())),
            }
            .encode(),
        }))
    }

    /// The version entries of the song documents `filter` selects (documents without a
    /// `deleted` field, such as the sync clock, are not songs and are skipped).
    pub(super) async fn find_versions(
        &self,
        filter: Value,
        what: &str,
    ) -> StorageResult<Vec<VersionEntry>> {
        let projection = json!({"version": 1, "content_hash": 1, "deleted": 1});
        let docs = self.songs_where(filter, Some(projection), what).await?;
        docs.iter()
            .filter(|d| d.get("deleted").is_some())
            .map(version_entry)
            .collect()
    }
}

impl Ops<'_> {
    /// Implements `StorageBackend::changes_since`: `changed_at` stamps (server time), a clock
    /// document with an epoch, an overlap of [`OVERLAP_MS`](super::OVERLAP_MS).
    pub(super) async fn changes_since(
        &self,
        since: Option<&ChangeCursor>,
    ) -> StorageResult<Option<Changes>> {
        match since {
            None => self.feed_head().await.map(Some),
            Some(c) => match Cursor::decode(c) {
                None => Ok(None),
                Some(c) => self.feed_since(c).await,
            },
        }
    }

    pub(super) async fn versions_of(&self, ids: &[SongId]) -> StorageResult<Vec<VersionEntry>> {
        let mut out = Vec::new();
        for chunk in unique_ids(ids).chunks(IN_CHUNK) {
            let filter = json!({"_id": {"$in": chunk}, "deleted": {"$in": [true, false]}});
            out.extend(self.find_versions(filter, "reading song versions").await?);
        }
        Ok(out)
    }
}
