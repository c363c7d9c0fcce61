//! Carrying a plan out: deletions, merges and copies, each advancing the record as it
//! completes (see the module above for the order of work).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::StreamExt as _;
use songrec_storage::progress::Progress;
use songrec_storage::{
    Embedding, ModelInfo, SongId, SongMetadata, SongRecord, StorageBackend, StorageError,
};

#[cfg(any(test, feature = "test-hooks"))]
use super::options::ABORT_AFTER_ENV;
use super::options::{LocalFiles, SyncOptions};
use super::report::{SyncError, SyncReport};
use crate::lease::Lease;
use crate::merge::merge;
use crate::plan::{Action, ConflictKind, Side};
use crate::record::{RecordChange, RecordStore};

pub(super) struct Exec<'a> {
    pub(super) local: &'a dyn StorageBackend,
    pub(super) remote: &'a dyn StorageBackend,
    pub(super) lease: Option<&'a Arc<Lease>>,
    pub(super) record: &'a dyn RecordStore,
    pub(super) opts: &'a SyncOptions,
    pub(super) writes: AtomicU64,
    pub(super) machine: String,
    pub(super) models: tokio::sync::Mutex<HashMap<Side, Vec<ModelInfo>>>,
    /// Audio linked to this machine's own files.
    pub(super) linked: AtomicU64,
}

impl Exec<'_> {
    fn side(&self, s: Side) -> &dyn StorageBackend {
        s.pick(self.local, self.remote)
    }

    /// Counts a completed write; the test fault hook aborts here.
    fn wrote(&self) {
        let _n = self.writes.fetch_add(1, Ordering::SeqCst) + 1;
        #[cfg(any(test, feature = "test-hooks"))]
        if self
            .opts
            .abort_after_writes
            .is_some_and(|limit| _n >= limit)
        {
            eprintln!("test fault hook: aborting after {_n} writes ({ABORT_AFTER_ENV})");
            std::process::abort();
        }
    }

    async fn check_lease(&self) -> Result<(), SyncError> {
        if let Some(l) = self.lease {
            l.check().await?;
        }
        Ok(())
    }

    fn commit(&self, changes: &[RecordChange]) -> Result<(), SyncError> {
        if changes.is_empty() {
            return Ok(());
        }
        self.record.commit(changes)?;
        self.wrote();
        Ok(())
    }

    pub(super) async fn execute(
        &self,
        actions: Vec<Action>,
        report: &mut SyncReport,
        progress: &dyn Progress,
    ) -> Result<(), SyncError> {
        let batch = self.opts.batch_size.max(1);
        let mut recorded_deleted = Vec::new();
        let mut deletes = Vec::new();
        let mut reconciles = Vec::new();
        let mut copies: BTreeMap<(Side, bool), Vec<SongId>> = BTreeMap::new();
        for a in actions {
            match a {
                Action::RecordDeleted { id, version } => {
                    recorded_deleted.push(RecordChange::Deleted { id, version });
                }
                Action::Delete { id, on } => deletes.push((id, on)),
                Action::Reconcile { id, added_both } => reconciles.push((id, added_both)),
                Action::Copy { id, from, full } => copies.entry((from, full)).or_default().push(id),
            }
        }
        self.name_conflicts(report).await;

        for chunk in recorded_deleted.chunks(batch) {
            self.commit(chunk)?;
            progress.advance(chunk.len() as u64);
        }

        for chunk in deletes.chunks(batch) {
            self.check_lease().await?;
            let done: Vec<(SongId, Side, Result<bool, StorageError>)> =
                futures::stream::iter(chunk.iter())
                    .map(|(id, on)| async move {
                        let r = self.side(*on).delete_song(id).await;
                        if r.is_ok() {
                            self.wrote();
                        }
                        (id.clone(), *on, r)
                    })
                    .buffer_unordered(self.opts.concurrency.max(1))
                    .collect()
                    .await;
            let mut changes = Vec::new();
            for (id, on, r) in done {
                match r {
                    Ok(_) => {
                        *on.pick(&mut report.deleted_local, &mut report.deleted_remote) += 1;
                        // The version is informational for deleted entries.
                        changes.push(RecordChange::Deleted { id, version: 0 });
                    }
                    Err(e) if e.is_fatal() => return Err(e.into()),
                    Err(e) => report
                        .failed
                        .push((id, format!("deleting on the {on} side: {e}"))),
                }
            }
            self.commit(&changes)?;
            progress.advance(chunk.len() as u64);
        }

        for chunk in reconciles.chunks(batch) {
            self.check_lease().await?;
            self.reconcile(chunk, report).await?;
            progress.advance(chunk.len() as u64);
        }

        for ((from, full), ids) in copies {
            let models = self.models(from).await?;
            for chunk in ids.chunks(batch) {
                self.check_lease().await?;
                self.copy(chunk, from, full, &models, report).await?;
                progress.advance(chunk.len() as u64);
            }
        }
        Ok(())
    }

    /// Fills in song names of edit-vs-delete conflicts (a few reads, only when there are any).
    async fn name_conflicts(&self, report: &mut SyncReport) {
        for c in report.conflicts.iter_mut().filter(|c| c.title.is_empty()) {
            let live = match c.kind {
                ConflictKind::DeletedHereEditedThere => Side::Remote,
                _ => Side::Local,
            };
            if let Ok(Some(m)) = self.side(live).get_metadata(&c.id).await {
                c.title = m.display_name();
            }
        }
    }

    async fn reconcile(
        &self,
        chunk: &[(SongId, bool)],
        report: &mut SyncReport,
    ) -> Result<(), SyncError> {
        let ids: Vec<SongId> = chunk.iter().map(|(id, _)| id.clone()).collect();
        let (lm, rm) = futures::join!(
            self.local.get_metadata_many(&ids),
            self.remote.get_metadata_many(&ids)
        );
        let by_id = |v: Vec<SongMetadata>| -> HashMap<SongId, SongMetadata> {
            v.into_iter().map(|m| (m.id.clone(), m)).collect()
        };
        let (lm, rm) = (by_id(lm?), by_id(rm?));
        let base = self.record.base_metadata(&ids)?;
        let now = chrono::Utc::now();
        let mut writes: HashMap<Side, Vec<SongRecord>> = HashMap::new();
        let mut results: HashMap<SongId, (SongMetadata, Vec<Side>)> = HashMap::new();
        for (id, added_both) in chunk {
            let (Some(l), Some(r)) = (lm.get(id), rm.get(id)) else {
                report.failed.push((
                    id.clone(),
                    "changed while syncing (deleted on one side); the next run picks it up".into(),
                ));
                continue;
            };
            let b = if *added_both { None } else { base.get(id) };
            let m = merge(b, l, r, self.opts.policy, now, &self.machine);
            if let Some(c) = m.conflict {
                report.conflicts.push(c);
            }
            for s in &m.write {
                writes.entry(*s).or_default().push(SongRecord {
                    metadata: m.result.clone(),
                    embeddings: Vec::new(),
                });
            }
            results.insert(id.clone(), (m.result, m.write));
        }
        // The side written to also gets the other side's vectors: a new vector (e.g. from
        // `songrec reembed`, which bumps the version) travels with the change. Vectors are a
        // function of the audio and the model, so overwriting an equal one is harmless.
        for (side, recs) in &mut writes {
            let models = self.models(side.other()).await?;
            let fetched: Vec<Result<Vec<Embedding>, StorageError>> =
                futures::stream::iter(recs.iter())
                    .map(|r| self.vectors(side.other(), &r.metadata.id, &models))
                    .buffered(self.opts.concurrency.max(1))
                    .collect()
                    .await;
            let mut keep = Vec::new();
            for (mut r, v) in std::mem::take(recs).into_iter().zip(fetched) {
                match v {
                    Ok(v) => {
                        r.embeddings = v;
                        keep.push(r);
                    }
                    Err(e) if e.is_fatal() => return Err(e.into()),
                    Err(e) => {
                        results.remove(&r.metadata.id);
                        report.failed.push((
                            r.metadata.id.clone(),
                            format!("reading vectors on the {} side: {e}", side.other()),
                        ));
                    }
                }
            }
            *recs = keep;
        }
        // A merge that takes a retag (another content hash) brings that file's audio along.
        for (side, recs) in &mut writes {
            let here = side.pick(&lm, &rm);
            let mut keep = Vec::new();
            for r in std::mem::take(recs) {
                let changed = here
                    .get(&r.metadata.id)
                    .is_some_and(|m| m.content_hash != r.metadata.content_hash);
                if changed && let Err(e) = self.move_audio(side.other(), &r.metadata).await {
                    if e.is_fatal() {
                        return Err(e.into());
                    }
                    results.remove(&r.metadata.id);
                    report.failed.push((
                        r.metadata.id.clone(),
                        format!("copying the audio from the {} side: {e}", side.other()),
                    ));
                    continue;
                }
                keep.push(r);
            }
            *recs = keep;
        }
        // Remote first, then here: a run killed in between leaves the merge on the remote,
        // which the next run recognises (the remote then holds the merged, newer version).
        let mut stored: HashMap<Side, HashSet<SongId>> = HashMap::new();
        for side in [Side::Remote, Side::Local] {
            if let Some(recs) = writes.get(&side) {
                stored.insert(side, self.put_records(side, recs, report).await?);
            }
        }
        let mut changes = Vec::new();
        for (id, (result, sides)) in results {
            if sides
                .iter()
                .all(|s| stored.get(s).is_some_and(|ok| ok.contains(&id)))
            {
                for s in &sides {
                    *s.pick(&mut report.pulled_changed, &mut report.pushed_changed) += 1;
                }
                if sides.is_empty() {
                    report.recorded += 1;
                }
                changes.push(RecordChange::Live(result));
            }
        }
        self.commit(&changes)
    }

    /// Writes metadata-bearing records to a side; returns the ids stored.
    async fn put_records(
        &self,
        side: Side,
        recs: &[SongRecord],
        report: &mut SyncReport,
    ) -> Result<HashSet<SongId>, SyncError> {
        match self.side(side).put_songs(recs).await {
            Ok(rep) => {
                self.wrote();
                report.failed.extend(
                    rep.failed
                        .into_iter()
                        .map(|(id, why)| (id, format!("writing on the {side} side: {why}"))),
                );
                Ok(rep.stored.into_iter().collect())
            }
            Err(e) if e.is_fatal() => Err(e.into()),
            Err(e) => {
                report.failed.extend(recs.iter().map(|r| {
                    (
                        r.metadata.id.clone(),
                        format!("writing on the {side} side: {e}"),
                    )
                }));
                Ok(HashSet::new())
            }
        }
    }

    async fn copy(
        &self,
        ids: &[SongId],
        from: Side,
        full: bool,
        models: &[ModelInfo],
        report: &mut SyncReport,
    ) -> Result<(), SyncError> {
        let src = self.side(from);
        let metas = match src.get_metadata_many(ids).await {
            Ok(v) => v,
            Err(e) if e.is_fatal() => return Err(e.into()),
            Err(e) => {
                report.failed.extend(
                    ids.iter()
                        .map(|id| (id.clone(), format!("reading on the {from} side: {e}"))),
                );
                return Ok(());
            }
        };
        let found: HashSet<&SongId> = metas.iter().map(|m| &m.id).collect();
        for id in ids.iter().filter(|id| !found.contains(id)) {
            report.failed.push((
                id.clone(),
                format!("deleted on the {from} side while syncing; the next run picks it up"),
            ));
        }
        // The target's content hashes: a song whose file changed brings its audio along.
        let targets: HashMap<SongId, String> = if full {
            HashMap::new()
        } else {
            self.side(from.other())
                .versions_of(ids)
                .await?
                .into_iter()
                .filter(|v| !v.deleted)
                .map(|v| (v.id, v.content_hash))
                .collect()
        };
        let targets = &targets;
        let reads: Vec<(SongId, Result<SongRecord, StorageError>)> = futures::stream::iter(metas)
            .map(|m| async move {
                let id = m.id.clone();
                let hash = targets.get(&id).map(String::as_str);
                (id, self.transfer(from, m, full, hash, models).await)
            })
            .buffer_unordered(self.opts.concurrency.max(1))
            .collect()
            .await;
        let mut records = Vec::new();
        for (id, r) in reads {
            match r {
                Ok(rec) => records.push(rec),
                Err(e) if e.is_fatal() => return Err(e.into()),
                Err(e) => report
                    .failed
                    .push((id, format!("copying from the {from} side: {e}"))),
            }
        }
        if records.is_empty() {
            return Ok(());
        }
        let stored = self.put_records(from.other(), &records, report).await?;
        let mut changes = Vec::new();
        for r in records {
            if stored.contains(&r.metadata.id) {
                // The audio of the file as it was before a retag is no song's any more.
                if let Some(old) = targets
                    .get(&r.metadata.id)
                    .filter(|h| **h != r.metadata.content_hash)
                    .and_then(|h| SongId::parse(h).ok())
                    && let Err(e) = self.side(from.other()).delete_audio(&old).await
                {
                    tracing::warn!("removing the audio of an earlier version of a file: {e}");
                }
                match (from, full) {
                    (Side::Local, true) => report.pushed_new += 1,
                    (Side::Local, false) => report.pushed_changed += 1,
                    (Side::Remote, true) => report.pulled_new += 1,
                    (Side::Remote, false) => report.pulled_changed += 1,
                }
                changes.push(RecordChange::Live(r.metadata));
            }
        }
        self.commit(&changes)
    }

    /// Links the local side's audio to this machine's files read anew (see
    /// [`LocalFiles::fresh`]): a file with the bytes of audio held here, and the recording of
    /// a song here under other tags. Both are tried for each file: a library that holds the
    /// file's own bytes (an ingest here) may also hold the song's newer audio as a copy (a
    /// retag made elsewhere, downloaded by a sync that did not know this folder), and that copy
    /// is replaced by the file too. The backend checks each link against the file's own hash;
    /// a reference that holds is left as it is. Files of no song here are not linked.
    pub(super) async fn link_fresh_files(
        &self,
        files: &dyn LocalFiles,
    ) -> Result<(), StorageError> {
        for file in files.fresh() {
            let same_bytes = match self.local.has_audio(&file.key).await {
                Ok(true) => Some(self.local.link_audio(&file.key, &file.path).await),
                Ok(false) => None,
                Err(e) if e.is_fatal() => return Err(e),
                Err(_) => continue,
            };
            let retagged = match self.song_of_audio(file.audio.as_ref()).await? {
                Some(m) if m.audio_key() != file.key => Some(
                    (self.local)
                        .link_audio_as(&m.audio_key(), &file.path, &file.key)
                        .await,
                ),
                _ => None,
            };
            for linked in [same_bytes, retagged].into_iter().flatten() {
                match linked {
                    Ok(out) if !out.already_present => {
                        self.linked.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(_) => {}
                    Err(e) if e.is_fatal() => return Err(e),
                    Err(e) => tracing::warn!("{}: not linked: {e}", file.path.display()),
                }
            }
        }
        Ok(())
    }

    /// The local song whose audio identity is `audio` (its id, for songs identified by their
    /// audio).
    async fn song_of_audio(
        &self,
        audio: Option<&SongId>,
    ) -> Result<Option<SongMetadata>, StorageError> {
        let Some(audio) = audio else {
            return Ok(None);
        };
        match self.local.get_metadata(audio).await {
            Ok(m) => Ok(m.filter(|m| m.audio_identity().is_none_or(|a| a == *audio))),
            Err(e) if e.is_fatal() => Err(e),
            Err(_) => Ok(None),
        }
    }

    /// Puts a song's audio, kept under its file's content hash on the `from` side, onto the
    /// other side: linked to this machine's own copy of the file when `--music` found one,
    /// else copied through a file in transit. A source without the audio is no error (a song
    /// added without it).
    async fn move_audio(&self, from: Side, metadata: &SongMetadata) -> Result<(), StorageError> {
        let (src, dst) = (self.side(from), self.side(from.other()));
        let key = metadata.audio_key();
        // This machine's file of the same bytes, else of the same recording under other tags.
        let here = (from.other() == Side::Local)
            .then_some(self.opts.local_files.as_ref())
            .flatten()
            .and_then(|f| {
                let same_bytes = f.find(&key).map(|p| (p, None));
                same_bytes.or_else(|| {
                    let audio = metadata
                        .audio_identity()
                        .unwrap_or_else(|| metadata.id.clone());
                    f.find_audio(&audio).map(|(p, own)| (p, Some(own)))
                })
            });
        if let Some((path, own)) = here {
            let linked = match &own {
                None => dst.link_audio(&key, &path).await,
                Some(own) => dst.link_audio_as(&key, &path, own).await,
            };
            match linked {
                Ok(_) => {
                    self.linked.fetch_add(1, Ordering::SeqCst);
                    self.wrote();
                    return Ok(());
                }
                Err(e) if e.is_fatal() => return Err(e),
                Err(e) => tracing::warn!(
                    "{}: not linked ({e}); downloading the audio instead",
                    path.display()
                ),
            }
        }
        let ext = Path::new(&metadata.file_name)
            .extension()
            .and_then(|e| e.to_str())
            .filter(|e| {
                !e.is_empty() && e.len() <= 8 && e.chars().all(|c| c.is_ascii_alphanumeric())
            })
            .unwrap_or("bin");
        let tmp = self.opts.scratch_dir.join(format!("{key}.{ext}"));
        let moved = match src.get_audio(&key, &tmp).await {
            Ok(_) => dst.put_audio(&key, &tmp).await.map(|_| self.wrote()),
            Err(StorageError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        };
        let _ = std::fs::remove_file(&tmp);
        moved
    }

    /// The models with vectors on a side (asked once per run and side).
    async fn models(&self, side: Side) -> Result<Vec<ModelInfo>, StorageError> {
        let mut cache = self.models.lock().await;
        if let Some(m) = cache.get(&side) {
            return Ok(m.clone());
        }
        let m = self.side(side).models().await?;
        let m: Vec<ModelInfo> = m.into_iter().map(|s| s.model).collect();
        cache.insert(side, m.clone());
        Ok(m)
    }

    async fn vectors(
        &self,
        side: Side,
        id: &SongId,
        models: &[ModelInfo],
    ) -> Result<Vec<Embedding>, StorageError> {
        let mut out = Vec::new();
        for m in models {
            if let Some(e) = self.side(side).get_embedding(id, m).await? {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// Every vector of a song and, for a whole-song copy or a song whose file changed (a
    /// retag: another content hash than the target holds), its audio (if the source has it),
    /// moved to the target side; returns the record (vectors + metadata) to store there.
    async fn transfer(
        &self,
        from: Side,
        metadata: SongMetadata,
        full: bool,
        target_hash: Option<&str>,
        models: &[ModelInfo],
    ) -> Result<SongRecord, StorageError> {
        if full || target_hash.is_some_and(|h| h != metadata.content_hash) {
            self.move_audio(from, &metadata).await?;
        }
        let embeddings = self.vectors(from, &metadata.id, models).await?;
        Ok(SongRecord {
            metadata,
            embeddings,
        })
    }
}
