//! The packed vector index: each model's pack (see [`crate::pack`]) kept in step with its
//! `.npy` folder, the manifest recording how much of each pack is committed, writing vectors,
//! and the candidate rows a search scores.

use std::collections::BTreeMap;
use std::fs;
use std::sync::Arc;

use songrec_storage::{Embedding, SongId, StorageError, StorageResult};

use crate::fsutil::{file_id, sync_dir, write_atomic_nosync_dir};
use crate::layout::{RegisteredModel, dir_stamp, mkdirs, read_opt};
use crate::manifest::{Manifest, PackEntry};
use crate::npy;
use crate::pack::{CandRow, Pack};
use crate::state::{Inner, PackCache, State};

impl Inner {
    /// Writes the state's manifest (atomically) and notes its bytes as the ones seen, so this
    /// process neither reads back nor re-parses what it wrote.
    pub(crate) fn save_manifest(&self, st: &mut State) -> StorageResult<()> {
        let path = &self.paths.manifest;
        let mut bytes = serde_json::to_vec(&st.manifest)
            .map_err(|e| StorageError::io(path, std::io::Error::other(e)))?;
        bytes.push(b'\n');
        crate::fsutil::write_atomic(path, |w| w.write_all(&bytes))?;
        st.seen.manifest = Some(bytes);
        Ok(())
    }

    pub(crate) fn restamp(&self, st: &mut State) -> StorageResult<()> {
        let models = st.registry.models.clone();
        let mut changed = false;
        for m in &models {
            if let Some(e) = st.manifest.packs.get_mut(&m.model.file_key()) {
                let s = dir_stamp(&self.paths.model_dir(m));
                if e.stamp != s {
                    e.stamp = s;
                    changed = true;
                }
            }
        }
        if changed {
            self.save_manifest(st)?;
        }
        Ok(())
    }

    /// Reads every `.npy` of a model into a fresh pack. Persists it when `persist` (write lock
    /// held); otherwise builds a private copy in this process's memory. A vector that cannot be
    /// searched (NaN, infinity, overflowing norm) is skipped with a message.
    pub(crate) fn rebuild_pack(
        &self,
        st: &mut State,
        m: &RegisteredModel,
        persist: bool,
    ) -> StorageResult<()> {
        #[cfg(test)]
        self.faults
            .rebuilds
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = self.paths.model_dir(m);
        let stamp = dir_stamp(&dir);
        let mut rows = Vec::new();
        if let Ok(entries) = fs::read_dir(&dir) {
            for e in entries.flatten() {
                let path = e.path();
                let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
                    continue;
                };
                if path.extension().is_none_or(|x| x != "npy") {
                    continue;
                }
                let Ok(id) = SongId::parse(stem) else {
                    tracing::warn!("skipping {}: its name is not a song id", path.display());
                    continue;
                };
                let v = match npy::read_checked(&path)? {
                    Ok(v) => v,
                    Err(why) => {
                        tracing::warn!("skipping {}: {why}", path.display());
                        continue;
                    }
                };
                if v.len() != m.model.dim {
                    return Err(StorageError::corrupt(
                        &path,
                        format!(
                            "{}-d vector in the folder of {} ({}-d)",
                            v.len(),
                            m.model.key(),
                            m.model.dim
                        ),
                    ));
                }
                rows.push((id, v));
            }
        }
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        let key = m.model.file_key();
        let path = self.paths.pack(m);
        if !persist {
            let pack = Pack::build_in_memory(&path, m.model.dim, &rows)?;
            st.packs.insert(
                key.clone(),
                PackCache {
                    pack,
                    file: None,
                    build: 0,
                    rows: None,
                },
            );
            st.private.insert(key, stamp);
            return Ok(());
        }
        mkdirs(&self.paths.index)?;
        let build = crate::pack::nonce();
        let (committed, crc) = Pack::build(&path, m.model.dim, build, rows)?;
        // Written here, under the lock: checked as it was written, not read again.
        self.verified.note_pack(&path, build, committed, crc);
        let cache = self.open_pack(m, committed, build, Some(crc))?;
        st.manifest.packs.insert(
            key.clone(),
            PackEntry {
                committed,
                stamp,
                build,
                file: cache.file,
                crc32c: Some(crc),
                ann: None,
            },
        );
        // The approximate index of the old pack names records of another file.
        st.anns.remove(&key);
        self.save_manifest(st)?;
        st.private.remove(&key);
        st.packs.insert(key, cache);
        Ok(())
    }

    /// Maps a model's pack file, noting which file it is, and checks its committed bytes
    /// against the manifest's checksum `crc` (once per file and build in this process; after
    /// an append by another process, only the new bytes).
    fn open_pack(
        &self,
        m: &RegisteredModel,
        committed: usize,
        build: u64,
        crc: Option<u32>,
    ) -> StorageResult<PackCache> {
        let path = self.paths.pack(m);
        // The identity is taken before and after mapping: the same both times, the file
        // mapped is that file.
        let meta = fs::metadata(&path).ok();
        let file = meta.as_ref().map(file_id);
        let mut pack = Pack::open(&path, m.model.dim, committed)?.with_build(build)?;
        if fs::metadata(&path).ok().as_ref().map(file_id) != file {
            return Err(replaced(m));
        }
        if let (Some(crc), Some(meta)) = (crc, &meta) {
            pack.verify(
                crc,
                self.verified.pack_prefix(&path, meta, build, committed),
            )?;
            self.verified.note_pack(&path, build, committed, crc);
        }
        Ok(PackCache {
            pack,
            file,
            build,
            rows: None,
        })
    }

    /// Makes sure the model's pack is open and in step with its `.npy` folder.
    ///
    /// A reader never writes the index while a writer holds the lock: it keeps using the last
    /// committed pack (the writer brings it in step), or builds one in memory if there is none.
    /// When no writer is at work, it takes the lock for the rebuild, starting from the
    /// manifest on disk, never from its own older copy.
    pub(crate) fn ensure_pack(&self, st: &mut State, m: &RegisteredModel) -> StorageResult<()> {
        let key = m.model.file_key();
        let stamp = dir_stamp(&self.paths.model_dir(m));
        let entry = st.manifest.packs.get(&key).cloned();
        if let Some(e) = &entry
            && e.stamp == stamp
            && stamp.is_some()
        {
            match self.use_shared_pack(st, m, &key, e.committed) {
                Ok(()) => return Ok(()),
                Err(StorageError::Corrupt { path, detail }) => {
                    let instead = format!(
                        "rebuilding the vector index of {} from the .npy files",
                        m.model.key()
                    );
                    crate::integrity::ignore_damaged("vector pack", &path, &detail, &instead);
                }
                Err(err) => tracing::warn!("rebuilding vector index for {}: {err}", m.model.key()),
            }
        }
        if st.lock.is_some() {
            return self.rebuild_pack(st, m, true);
        }
        if st.private.get(&key).is_some_and(|built| *built == stamp) && st.packs.contains_key(&key)
        {
            return Ok(()); // built in memory from the folder as it is now
        }
        match self.try_write_lock() {
            Ok(lock) => {
                let bytes = read_opt(&self.paths.manifest)?;
                st.manifest = Manifest::parse(&self.paths.manifest, bytes.as_deref());
                st.seen.manifest = bytes;
                if let Some(e) = st.manifest.packs.get(&key).cloned()
                    && e.stamp == stamp
                    && stamp.is_some()
                    && self.use_shared_pack(st, m, &key, e.committed).is_ok()
                {
                    // Another process brought it in step meanwhile.
                    return Ok(());
                }
                let rebuilt = self.rebuild_pack(st, m, true);
                drop(lock);
                rebuilt
            }
            Err(StorageError::Locked { .. }) => {
                if let Some(e) = &entry {
                    match self.use_shared_pack(st, m, &key, e.committed) {
                        Ok(()) => return Ok(()),
                        Err(err) => tracing::debug!("{err}; building the index in memory"),
                    }
                }
                self.rebuild_pack(st, m, false)
            }
            Err(e) if !self.paths.internal.exists() => {
                tracing::debug!("read-only library ({e}); building the index in memory");
                self.rebuild_pack(st, m, false)
            }
            Err(e) => Err(e),
        }
    }

    /// Uses the shared pack file of `m` with `committed` records: the open one when it is that
    /// file at that length, else the file mapped now (replacing a private in-memory build).
    fn use_shared_pack(
        &self,
        st: &mut State,
        m: &RegisteredModel,
        key: &str,
        committed: usize,
    ) -> StorageResult<()> {
        let disk = fs::metadata(self.paths.pack(m)).ok().map(|m| file_id(&m));
        let entry = st.manifest.packs.get(key);
        let build = entry.map_or(0, |e| e.build);
        let crc = entry.and_then(|e| e.crc32c);
        // The file the manifest names (the one on disk when the manifest does not say).
        let named = entry.and_then(|e| e.file).or(disk);
        let open = st
            .packs
            .get(key)
            .filter(|c| c.file.is_some() && c.file == named && c.build == build)
            .map(|c| c.pack.committed());
        if open == Some(committed) {
            return Ok(());
        }
        if disk != named {
            return self.adopt_pack(st, m, key, committed);
        }
        let cache = self.open_pack(m, committed, build, crc)?;
        st.private.remove(key);
        st.packs.insert(key.to_owned(), cache);
        Ok(())
    }

    /// The pack file on disk is not the one the manifest names. Either a writer put a new file
    /// in place and has not named it yet (its header names a new build: refused), or the
    /// library was copied or restored (every file has a new identity): a file whose header
    /// names the manifest's build and whose bytes match the manifest's checksum is that build,
    /// and is used; the manifest is made to name it when the lock can be had (else this
    /// process remembers it, and checks it once like any pack).
    fn adopt_pack(
        &self,
        st: &mut State,
        m: &RegisteredModel,
        key: &str,
        committed: usize,
    ) -> StorageResult<()> {
        let Some(e) = st.manifest.packs.get(key).cloned() else {
            return Err(replaced(m));
        };
        // Without a checksum (an older manifest) or a build in the header, a copy cannot be
        // told from a replacement: rebuilt, as before.
        let Some(crc) = e.crc32c.filter(|_| e.build != 0) else {
            return Err(replaced(m));
        };
        let path = self.paths.pack(m);
        match Pack::open(&path, m.model.dim, committed) {
            Ok(p) if p.header_build() == e.build => {}
            _ => return Err(replaced(m)),
        }
        let cache = self.open_pack(m, committed, e.build, Some(crc))?;
        tracing::info!(
            "{} is the vector pack the index manifest names, copied (its checksum matches): \
             used as it is",
            path.display()
        );
        let file = cache.file;
        st.private.remove(key);
        st.packs.insert(key.to_owned(), cache);
        if let Some(pe) = st.manifest.packs.get_mut(key) {
            pe.file = file;
        }
        if let Err(err) = self.record_adopted(st, key, &e, file) {
            tracing::debug!("the manifest still names the original pack file: {err}");
        }
        Ok(())
    }

    /// Writes the adopted identity `file` of the pack of `key` (whose entry was `was`) into the
    /// manifest on disk, if the write lock is held or free and the entry is still `was`.
    fn record_adopted(
        &self,
        st: &mut State,
        key: &str,
        was: &PackEntry,
        file: Option<u64>,
    ) -> StorageResult<()> {
        let _lock = match st.lock {
            Some(_) => None,
            None => Some(self.try_write_lock()?),
        };
        let bytes = read_opt(&self.paths.manifest)?;
        let mut disk = Manifest::parse(&self.paths.manifest, bytes.as_deref());
        let Some(d) = disk.packs.get_mut(key).filter(|d| {
            (d.committed, d.build, d.crc32c, d.file)
                == (was.committed, was.build, was.crc32c, was.file)
        }) else {
            return Ok(()); // a writer moved on; its manifest names its own file
        };
        d.file = file;
        st.manifest = disk;
        self.save_manifest(st)
    }

    pub(crate) fn write_vectors(
        &self,
        st: &mut State,
        items: &[(SongId, &Embedding)],
    ) -> StorageResult<()> {
        type Rows<'a> = Vec<(SongId, &'a [f32])>;
        for (id, e) in items {
            check_vector(id, e)?;
        }
        let mut by_model: BTreeMap<String, (RegisteredModel, Rows<'_>)> = BTreeMap::new();
        for (_, e) in items {
            self.register(st, &e.model)?;
        }
        // Bring each pack in step before this batch's files move the folder's stamp; afterwards
        // the moved stamp would look like another tool's change and cost a full rebuild.
        for (_, e) in items {
            if let std::collections::btree_map::Entry::Vacant(slot) =
                by_model.entry(e.model.file_key())
            {
                let r = self.register(st, &e.model)?;
                self.ensure_pack(st, &r)?;
                slot.insert((r, Vec::new()));
            }
        }
        for (id, e) in items {
            let r = self.register(st, &e.model)?;
            write_atomic_nosync_dir(&self.paths.npy(&r, id), |w| {
                w.write_all(&npy::encode(&e.vector))
            })?;
            by_model
                .entry(r.model.file_key())
                .or_insert_with(|| (r.clone(), Vec::new()))
                .1
                .push((id.clone(), &e.vector));
        }
        for (key, (r, rows)) in by_model {
            sync_dir(&self.paths.model_dir(&r))?;
            let records: Vec<(SongId, Option<&[f32]>)> =
                rows.iter().map(|(id, v)| (id.clone(), Some(*v))).collect();
            self.append_pack(st, &r, &key, &records)?;
        }
        Ok(())
    }

    pub(crate) fn append_pack(
        &self,
        st: &mut State,
        r: &RegisteredModel,
        key: &str,
        records: &[(SongId, Option<&[f32]>)],
    ) -> StorageResult<()> {
        let cache = st.packs.get_mut(key).ok_or_else(|| {
            StorageError::backend(
                "local",
                format!("vector index for {} not open", r.model.key()),
            )
        })?;
        let committed = cache.pack.append(records)?;
        cache.rows = None;
        let file = cache.file;
        let crc = cache.pack.known_crc();
        if let Some(c) = crc {
            self.verified
                .note_pack(&self.paths.pack(r), cache.build, committed, c);
        }
        let stamp = dir_stamp(&self.paths.model_dir(r));
        let entry = st
            .manifest
            .packs
            .entry(key.to_owned())
            .or_insert_with(|| PackEntry {
                committed,
                stamp,
                build: crate::pack::nonce(),
                file,
                crc32c: None,
                ann: None,
            });
        // The approximate index (if any) still covers the records before its `covered` mark;
        // the new records are scanned exactly until the writer folds them in.
        entry.committed = committed;
        entry.stamp = stamp;
        entry.file = entry.file.or(file);
        entry.crc32c = crc;
        self.save_manifest(st)?;
        if let Err(e) = self.maintain_ann(st, r) {
            // The vectors are committed; the index is derived and is rebuilt when next needed.
            tracing::warn!("approximate index of {} not updated: {e}", r.model.key());
        }
        Ok(())
    }

    /// The model's live rows that have metadata, shared with the cache (no copy per query).
    pub(crate) fn candidates(
        &self,
        st: &mut State,
        m: &RegisteredModel,
    ) -> StorageResult<Arc<Vec<CandRow>>> {
        self.ensure_pack(st, m)?;
        let key = m.model.file_key();
        let meta_gen = st.meta_gen;
        let st_locked = st.lock.is_some();
        let State { packs, index, .. } = st;
        let cache = packs
            .get_mut(&key)
            .ok_or_else(|| StorageError::NotFound(format!("vectors of {}", m.model.key())))?;
        let committed = cache.pack.committed();
        if let Some((c, g, rows)) = &cache.rows
            && *c == committed
            && *g == meta_gen
        {
            return Ok(Arc::clone(rows));
        }
        let (live, scanned) = cache.pack.live_rows_counted();
        if scanned > (live.len() / 10).max(4096) {
            // Most of the pack was read to find its live rows: write the table so the next
            // process reads that instead (only under the library lock, which a reader takes
            // only if it is free).
            let lock = (!st_locked).then(|| self.try_write_lock().ok()).flatten();
            if (st_locked || lock.is_some())
                && let Err(e) = cache.pack.save_rows(&live)
            {
                tracing::debug!("live-row table of {} not written: {e}", m.model.key());
            }
        }
        let rows: Vec<CandRow> = live
            .into_iter()
            .filter_map(|row| {
                index.get(&row.id).map(|&slot| CandRow {
                    row,
                    slot: slot as u32,
                })
            })
            .collect();
        let rows = Arc::new(rows);
        cache.rows = Some((committed, meta_gen, Arc::clone(&rows)));
        Ok(rows)
    }
}

/// The error of a pack file replaced while it was being opened, or not yet named by the
/// manifest: the caller uses another copy (see [`Inner::ensure_pack`]).
fn replaced(m: &RegisteredModel) -> StorageError {
    StorageError::Backend {
        backend: "local".into(),
        message: format!("the vector index of {} is being replaced", m.model.key()),
        transient: true,
    }
}

/// Refuses a vector that could not be searched: a norm that overflows `f32` (`[3e38, 3e38]`),
/// beyond what [`Embedding::validate`] checks.
pub(crate) fn check_vector(id: &SongId, e: &Embedding) -> StorageResult<()> {
    match npy::unusable(&e.vector) {
        Some(why) => Err(StorageError::InvalidInput(format!(
            "vector of song {} for model {}: {why}",
            id.short(),
            e.model.key()
        ))),
        None => Ok(()),
    }
}
