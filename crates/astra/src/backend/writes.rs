//! Writes: vectors and metadata of one song, batches of songs (`insertMany`, with an upsert for
//! each document that already exists), and deletion (vectors, audio, then a tombstone).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures::{StreamExt as _, TryStreamExt as _};
use serde_json::{Map, Value, json};
use songrec_storage::{
    BatchReport, Embedding, ModelInfo, SongId, SongMetadata, SongRecord, StorageError,
    StorageResult,
};

use super::docs::{self, META};
use super::errors;
use super::feed;
use super::handle::{AstraBackend, CONCURRENCY, id_filter};
use super::schema::{self, RegisteredModel, registry_key};
use super::storage::Ops;
use crate::dataapi::{Collection, DataApiError, ErrorKind, UpdateOptions, encode_vector};

/// Result of [`AstraBackend::write_docs`].
struct WriteOutcome {
    /// Input index → (error kind, message).
    failed: BTreeMap<usize, (Option<ErrorKind>, String)>,
    /// Input indices of documents that existed and were replaced.
    replaced: Vec<usize>,
}

pub(super) fn insert_failure_message(f: &crate::dataapi::InsertFailure) -> String {
    match &f.code {
        Some(c) => format!("{c}: {}", f.message),
        None => f.message.clone(),
    }
}

/// The documents `build` makes of `songs`, and the song of each; a song whose document cannot
/// be built goes to `failed`.
fn build_docs<'a, T>(
    songs: Vec<(&'a SongMetadata, T)>,
    failed: &mut HashMap<SongId, String>,
    build: impl Fn(&SongMetadata, T) -> StorageResult<Value>,
) -> (Vec<Value>, Vec<&'a SongMetadata>) {
    let mut out = (Vec::new(), Vec::new());
    for (m, x) in songs {
        match build(m, x) {
            Ok(d) => {
                out.0.push(d);
                out.1.push(m);
            }
            Err(e) => {
                failed.insert(m.id.clone(), e.to_string());
            }
        }
    }
    out
}

impl AstraBackend {
    fn wire(&self, v: &[f32]) -> Value {
        encode_vector(v, self.client.config().vector_encoding)
    }

    /// Writes documents with `insertMany`, replacing existing ones with one upsert each; returns
    /// the failures by input index and the indices replaced. With `stamp` (songs documents) they
    /// get their change time (see the `feed` module).
    async fn write_docs(
        &self,
        coll: &Collection,
        docs: Vec<Value>,
        what: &str,
        stamp: bool,
    ) -> StorageResult<WriteOutcome> {
        let mut to_insert = docs.clone();
        for o in to_insert.iter_mut().filter_map(Value::as_object_mut) {
            if stamp {
                o.insert(feed::PENDING.into(), json!(true));
            }
        }
        let report = coll
            .insert_many(to_insert)
            .await
            .map_err(|e| errors::api(e, what))?;
        let mut failed = BTreeMap::new();
        let mut upserts = Vec::new();
        for f in report.failures {
            if f.is_already_exists() {
                upserts.push(f.index);
            } else {
                failed.insert(f.index, (Some(f.kind), insert_failure_message(&f)));
            }
        }
        let results: Vec<(usize, Result<_, DataApiError>)> = futures::stream::iter(upserts.clone())
            .map(|i| {
                // `$set` of every field but `_id` (a full replacement of songrec's fields).
                let doc = docs.get(i).and_then(Value::as_object);
                let mut fields = doc.cloned().unwrap_or_default();
                let id = fields.remove("_id").unwrap_or(Value::Null);
                let update = json!({ "$set": fields });
                let update = if stamp { feed::stamped(update) } else { update };
                let done = coll.update_one(json!({ "_id": id }), update, UpdateOptions::upsert());
                async move { (i, done.await) }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for (i, e) in results.into_iter().filter_map(|(i, r)| Some((i, r.err()?))) {
            failed.insert(i, (e.kind(), e.to_string()));
        }
        if stamp {
            let inserted: Vec<Value> = (0..docs.len())
                .filter(|i| !failed.contains_key(i) && !upserts.contains(i))
                .filter_map(|i| docs.get(i).and_then(|d| d.get("_id")).cloned())
                .collect();
            for chunk in inserted.chunks(100) {
                // A failed stamp leaves the songs pending: still in the feed, still stored.
                if let Err(e) = coll
                    .update_many(json!({"_id": {"$in": chunk}}), feed::stamp())
                    .await
                {
                    tracing::warn!(
                        "stamping new songs' change time: {e} (they stay in the change feed as pending)"
                    );
                }
            }
        }
        let replaced = upserts
            .into_iter()
            .filter(|i| !failed.contains_key(i))
            .collect();
        Ok(WriteOutcome { failed, replaced })
    }
}

impl Ops<'_> {
    pub(super) async fn put_embedding(
        &self,
        id: &SongId,
        embedding: &Embedding,
    ) -> StorageResult<()> {
        embedding.validate()?;
        let r = self.ensure_model(&embedding.model).await?;
        let meta = self.get_metadata(id).await?;
        let mut set = match &meta {
            Some(m) => docs::copy_fields(m)?,
            None => Map::from_iter([
                ("live".into(), json!(false)),
                ("bucket".into(), json!(docs::bucket(id))),
            ]),
        };
        set.insert("$vector".into(), self.wire(&embedding.vector));
        if let Some(tag) = &r.tag {
            set.insert(schema::TAG.into(), json!(tag));
        }
        let mut update = json!({ "$set": set });
        if meta.is_none() {
            update["$unset"] = json!({ META: "", "f": "" });
        }
        self.vectors(&r)
            .update_one(r.id_filter(id), update, UpdateOptions::upsert())
            .await
            .map_err(|e| {
                errors::api_vector(
                    e,
                    &format!("storing the {} vector of song {id}", r.model.key()),
                    &r.model.key(),
                    r.model.dim,
                    embedding.vector.len(),
                )
            })?;
        Ok(())
    }

    pub(super) async fn put_metadata(&self, metadata: &SongMetadata) -> StorageResult<()> {
        metadata.check_storable()?;
        self.update_copies(metadata).await?;
        let id = &metadata.id;
        self.songs
            .update_one(
                id_filter(id),
                feed::stamped(json!({ "$set": docs::song_fields(metadata)? })),
                UpdateOptions::upsert(),
            )
            .await
            .map_err(|e| errors::api(e, &format!("storing metadata of song {id}")))?;
        Ok(())
    }

    /// [`Self::put_metadata`] as one conditional update of the song's document (its
    /// `version` still `expected`), then the copies in the vector collections. When nothing
    /// matched, the stored song is read: equal to `metadata`, this write had landed (a retried
    /// request whose first answer was lost) and the copies are brought up to it; else a
    /// conflict.
    pub(super) async fn put_metadata_if(
        &self,
        metadata: &SongMetadata,
        expected: u64,
    ) -> StorageResult<()> {
        metadata.check_storable()?;
        let id = &metadata.id;
        let filter = json!({"_id": id.as_str(), "deleted": false, "version": expected});
        let done = self
            .songs
            .update_one(
                filter,
                feed::stamped(json!({ "$set": docs::song_fields(metadata)? })),
                UpdateOptions::default(),
            )
            .await
            .map_err(|e| errors::api(e, &format!("storing metadata of song {id}")))?;
        if done.matched_count == 0 {
            let stored = self.get_metadata(id).await?;
            if stored.as_ref() != Some(metadata) {
                let found = stored.map(|m| m.version);
                return Err(StorageError::version_conflict(id, expected, found));
            }
        }
        self.update_copies(metadata).await
    }

    /// Updates the copy of the song's metadata each model's vector collection keeps (what a
    /// vector search filters on), in every collection at once.
    async fn update_copies(&self, metadata: &SongMetadata) -> StorageResult<()> {
        let reg = self.registry().await?;
        let copy = json!({ "$set": docs::copy_fields(metadata)? });
        let id = &metadata.id;
        futures::stream::iter(reg.into_values())
            .map(|r| {
                let coll = self.vectors(&r);
                let copy = copy.clone();
                let what = format!("updating the metadata copy in {}", coll.name());
                async move {
                    let done = coll.update_one(r.id_filter(id), copy, UpdateOptions::default());
                    done.await.map_err(|e| errors::api(e, &what))
                }
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect::<Vec<_>>()
            .await?;
        Ok(())
    }

    pub(super) async fn delete_song(&self, id: &SongId) -> StorageResult<bool> {
        let filter = json!({"_id": id.as_str(), "deleted": false});
        let projection = json!({"version": 1, "content_hash": 1});
        let what = format!("reading song {id}");
        let doc = self.song_where(filter, Some(projection), &what).await?;
        let Some(doc) = doc else { return Ok(false) };
        let version = doc.get("version").and_then(Value::as_u64).unwrap_or(1);
        let content_hash = doc
            .get("content_hash")
            .and_then(Value::as_str)
            .unwrap_or(id.as_str())
            .to_owned();
        let reg = self.registry().await?;
        futures::stream::iter(reg.into_values())
            .map(|r| {
                let coll = self.vectors(&r);
                let what = format!("deleting the vector of song {id} in {}", coll.name());
                async move {
                    let done = coll.delete_one(r.id_filter(id)).await;
                    done.map_err(|e| errors::api(e, &what))
                }
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect::<Vec<_>>()
            .await?;
        // The audio is stored under the file's content hash (equal to the id for songs ingested
        // before songrec identified songs by their audio).
        let audio = SongId::parse(&content_hash).unwrap_or_else(|_| id.clone());
        self.blobs
            .delete(audio.as_str())
            .await
            .map_err(|e| errors::blob(e, id))?;
        self.songs
            .update_one(
                id_filter(id),
                feed::stamped(json!({
                    "$set": {"deleted": true, "version": version + 1, "content_hash": content_hash},
                    "$unset": {META: "", "f": "", "s": ""},
                })),
                UpdateOptions::default(),
            )
            .await
            .map_err(|e| errors::api(e, &format!("writing the tombstone of song {id}")))?;
        Ok(true)
    }

    pub(super) async fn put_songs(&self, songs: &[SongRecord]) -> StorageResult<BatchReport> {
        // Last record per id wins; outcomes are reported for every input record.
        let last: HashMap<&SongId, usize> = songs
            .iter()
            .enumerate()
            .map(|(i, s)| (&s.metadata.id, i))
            .collect();
        let mut failed: HashMap<SongId, String> = HashMap::new();
        let mut batch: Vec<(&SongMetadata, Vec<&Embedding>)> = Vec::new();
        for (i, s) in songs.iter().enumerate() {
            if last.get(&s.metadata.id) != Some(&i) {
                continue;
            }
            let mut by_model: BTreeMap<(String, String), &Embedding> = BTreeMap::new();
            let mut err = s.metadata.check_storable().err().map(|e| match e {
                songrec_storage::StorageError::InvalidInput(m) => m,
                other => other.to_string(),
            });
            for e in &s.embeddings {
                if let Err(x) = e.validate() {
                    err = Some(x.to_string());
                }
                by_model.insert(registry_key(&e.model), e);
            }
            match err {
                Some(m) => {
                    failed.insert(s.metadata.id.clone(), m);
                }
                None => batch.push((&s.metadata, by_model.into_values().collect())),
            }
        }
        // Distinct models (a name@version offered with two dimensions counts twice: the one
        // matching the registry is stored, the other fails with DimensionMismatch).
        let models: BTreeSet<&ModelInfo> = batch
            .iter()
            .flat_map(|(_, es)| es.iter().map(|e| &e.model))
            .collect();
        // Vectors first, per model; the songs document (the commit point) last.
        for model in models {
            let users: Vec<(&SongMetadata, &Embedding)> = batch
                .iter()
                .filter(|(m, _)| !failed.contains_key(&m.id))
                .filter_map(|(m, es)| es.iter().find(|e| e.model == *model).map(|e| (*m, *e)))
                .collect();
            let r = match self.ensure_model(model).await {
                Ok(r) => r,
                Err(e @ StorageError::DimensionMismatch { .. }) => {
                    for (m, _) in &users {
                        failed.insert(m.id.clone(), e.to_string());
                    }
                    continue;
                }
                Err(e) => return Err(e),
            };
            let (docs_out, owners) = build_docs(users, &mut failed, |m, e| {
                e.model.same_dim_as(&r.model)?;
                docs::vector_doc(m, self.wire(&e.vector), &r)
            });
            let what = format!("storing {} vectors in {}", r.model.key(), r.collection);
            let written = self
                .write_docs(&self.vectors(&r), docs_out, &what, false)
                .await?;
            for (i, (kind, msg)) in written.failed {
                if let Some(m) = owners.get(i) {
                    let msg = if kind == Some(ErrorKind::VectorDimensionMismatch) {
                        format!(
                            "{} vector: {msg} (collection {} does not hold the registered {}-d vectors; run `songrec doctor`)",
                            r.model.key(),
                            r.collection,
                            r.model.dim
                        )
                    } else {
                        format!("{} vector: {msg}", r.model.key())
                    };
                    failed.insert(m.id.clone(), msg);
                }
            }
        }
        let live: Vec<(&SongMetadata, ())> = batch
            .iter()
            .filter(|(m, _)| !failed.contains_key(&m.id))
            .map(|(m, _)| (*m, ()))
            .collect();
        let (song_docs, owners) = build_docs(live, &mut failed, |m, ()| docs::song_doc(m));
        let written = self
            .write_docs(&self.songs, song_docs, "storing song metadata", true)
            .await?;
        for (i, (_, msg)) in &written.failed {
            if let Some(m) = owners.get(*i) {
                failed.insert(m.id.clone(), format!("metadata: {msg}"));
            }
        }
        // Songs that already existed may have vectors of models not in this batch: refresh
        // the metadata copy there too (one updateOne per such song and model).
        let replaced: Vec<&SongMetadata> = written
            .replaced
            .iter()
            .filter_map(|i| owners.get(*i).copied())
            .collect();
        if !replaced.is_empty() {
            let reg = self.registry().await?;
            let mut jobs = Vec::new();
            for m in replaced {
                let given: BTreeSet<(String, String)> = batch
                    .iter()
                    .find(|(b, _)| b.id == m.id)
                    .map(|(_, es)| es.iter().map(|e| registry_key(&e.model)).collect())
                    .unwrap_or_default();
                for r in reg.values() {
                    if !given.contains(&registry_key(&r.model)) {
                        jobs.push((m.clone(), r.clone(), self.vectors(r)));
                    }
                }
            }
            let results: Vec<(SongId, StorageResult<()>)> = futures::stream::iter(jobs)
                .map(
                    |(m, r, coll): (SongMetadata, RegisteredModel, Collection)| async move {
                        let r = async {
                            let copy = json!({ "$set": docs::copy_fields(&m)? });
                            coll.update_one(r.id_filter(&m.id), copy, UpdateOptions::default())
                                .await
                                .map_err(|e| errors::api(e, "refreshing a metadata copy"))?;
                            Ok(())
                        }
                        .await;
                        (m.id.clone(), r)
                    },
                )
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
            for (id, r) in results {
                if let Err(e) = r {
                    failed.insert(id, format!("metadata copy: {e}"));
                }
            }
        }
        let mut report = BatchReport::default();
        for s in songs {
            match failed.get(&s.metadata.id) {
                Some(msg) => report.failed.push((s.metadata.id.clone(), msg.clone())),
                None => report.stored.push(s.metadata.id.clone()),
            }
        }
        Ok(report)
    }
}
