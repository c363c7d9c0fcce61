//! Building, saving and keeping the index in step: the first build, each save under a fresh
//! name, and folding the pack's unindexed tail into the graph.

use std::fs;

use songrec_storage::{StorageError, StorageResult};
use usearch::{Index, IndexOptions, MetricKind};

use super::{ann_err, path_str, record_no, sample_hash, unit};
use crate::ann_cache::AnnCache;
use crate::fsutil::sync_dir;
use crate::layout::RegisteredModel;
use crate::manifest::AnnEntry;
use crate::pack;
use crate::pack::nonce;
use crate::state::{Inner, State};

/// The model's open pack (`what`: the operation, for the error).
fn open_pack<'a>(st: &'a State, m: &RegisteredModel, what: &str) -> StorageResult<&'a pack::Pack> {
    let cache = st.packs.get(&m.model.file_key());
    let missing = || ann_err(what, format!("no open pack for {}", m.model.key()));
    Ok(&cache.ok_or_else(missing)?.pack)
}

impl Inner {
    fn new_index(&self, dim: usize, capacity: usize, threads: usize) -> StorageResult<Index> {
        let o = &self.opts.ann;
        let opts = IndexOptions {
            dimensions: dim,
            metric: MetricKind::IP,
            quantization: o.quantization.scalar(),
            connectivity: o.connectivity,
            expansion_add: o.expansion_add,
            expansion_search: o.ef_search_for(capacity),
            multi: false,
        };
        let index = Index::new(&opts).map_err(|e| ann_err("create", e))?;
        index
            .reserve_capacity_and_threads(capacity.max(1), threads)
            .map_err(|e| ann_err("reserve", e))?;
        Ok(index)
    }

    /// The live vectors of the model's open pack when they are enough for an approximate index
    /// ([`crate::AnnOptions::min_vectors`]).
    pub(crate) fn ann_live(&self, st: &State, m: &RegisteredModel) -> Option<usize> {
        let pack = st.packs.get(&m.model.file_key());
        let live = pack.map_or(0, |c| c.pack.live_rows().len());
        (live >= self.opts.ann.min_vectors).then_some(live)
    }

    /// Builds the model's index from its open pack and commits it (write lock held).
    pub(crate) fn build_ann(&self, st: &mut State, m: &RegisteredModel) -> StorageResult<()> {
        self.build_ann_with(st, m, &|_, _| {})
    }

    /// [`Inner::build_ann`] reporting (vectors added, total) as it goes.
    pub(crate) fn build_ann_with(
        &self,
        st: &mut State,
        m: &RegisteredModel,
        progress: &(dyn Fn(u64, u64) + Sync),
    ) -> StorageResult<()> {
        let dim = m.model.dim;
        let pack = open_pack(st, m, "build")?;
        let rows = pack.live_rows();
        let covered = pack.committed();
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 8);
        let index = self.new_index(dim, rows.len(), threads)?;
        let done = std::sync::atomic::AtomicU64::new(0);
        let total = rows.len() as u64;
        let chunk = rows.len().div_ceil(threads).max(1);
        let results: Vec<StorageResult<bool>> = std::thread::scope(|s| {
            let handles: Vec<_> = rows
                .chunks(chunk)
                .map(|part| {
                    let (index, done) = (&index, &done);
                    s.spawn(move || -> StorageResult<bool> {
                        let mut unit_norm = true;
                        for r in part {
                            unit_norm &= (r.norm - 1.0).abs() <= 1e-3;
                            if let Some(v) = unit(pack.vector(r), r.norm) {
                                index
                                    .add(record_no(r.offset, dim), &v)
                                    .map_err(|e| ann_err("add", e))?;
                            }
                            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            if n % 1024 == 0 {
                                progress(n, total);
                            }
                        }
                        Ok(unit_norm)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(ann_err("build", "a worker panicked")))
                })
                .collect()
        });
        let unit_norm = results
            .into_iter()
            .try_fold(true, |all, r| r.map(|u| all & u))?;
        progress(total, total);
        self.commit_ann(st, m, index, covered, unit_norm)
    }

    /// Saves an index under a fresh name, fsyncs it, names it in the manifest (atomically) and
    /// removes the model's older index files.
    fn commit_ann(
        &self,
        st: &mut State,
        m: &RegisteredModel,
        index: Index,
        covered: usize,
        unit_norm: bool,
    ) -> StorageResult<()> {
        let key = m.model.file_key();
        let name = format!("{key}.{:016x}.usearch", nonce());
        let path = self.paths.index.join(&name);
        #[cfg(test)]
        if self
            .faults
            .ann_save_fails
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            // A crash after part of the file was written: the manifest never names it.
            let _ = fs::write(&path, b"USEARCH partial");
            return Err(ann_err("save", "injected failure"));
        }
        index
            .save(path_str(&path)?)
            .map_err(|e| ann_err("save", e))?;
        fs::File::open(&path)
            .and_then(|f| f.sync_all())
            .map_err(|e| StorageError::io(&path, e))?;
        sync_dir(&self.paths.index)?;
        let bytes = fs::metadata(&path)
            .map_err(|e| StorageError::io(&path, e))?
            .len();
        let check = sample_hash(&path)?;
        let crc = crate::integrity::file_crc(&path)?;
        let pe = st
            .manifest
            .packs
            .get_mut(&key)
            .ok_or_else(|| ann_err("commit", format!("no pack entry for {}", m.model.key())))?;
        if pe.build == 0 {
            pe.build = nonce(); // a manifest from before approximate indexes
        }
        let entry = AnnEntry {
            file: name.clone(),
            build: pe.build,
            covered,
            count: index.size(),
            bytes,
            check,
            crc32c: Some(crc),
            unit_norm,
            quantization: self.opts.ann.quantization,
        };
        pe.ann = Some(entry.clone());
        self.save_manifest(st)?;
        // Written by this process from the pack: recorded as checked for every process.
        self.verified.note_file(&path, crc);
        index.change_expansion_search(self.opts.ann.ef_search_for(index.size()));
        st.anns.insert(
            key.clone(),
            AnnCache {
                entry,
                index,
                writable: true,
                map: None,
            },
        );
        self.remove_old_ann_files(&key, &name);
        Ok(())
    }

    /// Removes a model's index files other than `keep` (older saves, interrupted ones).
    fn remove_old_ann_files(&self, key: &str, keep: &str) {
        let prefix = format!("{key}.");
        let Ok(entries) = fs::read_dir(&self.paths.index) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some(rest) = name.strip_prefix(&prefix) else {
                continue;
            };
            // `<key>.<16 hex>.usearch`: the key itself may contain dots, so check the shape.
            let ours = rest.len() == 16 + ".usearch".len()
                && rest.ends_with(".usearch")
                && rest[..16].chars().all(|c| c.is_ascii_hexdigit());
            if ours && name != keep {
                let _ = fs::remove_file(e.path());
            }
        }
    }

    /// Keeps the model's index in step after the writer appended to its pack: builds it when
    /// the model reaches the size threshold, folds the unindexed tail in once it exceeds a
    /// tenth of the graph, rebuilds it when stale or damaged.
    pub(crate) fn maintain_ann(&self, st: &mut State, m: &RegisteredModel) -> StorageResult<()> {
        let key = m.model.file_key();
        let dim = m.model.dim;
        let Some(pe) = st.manifest.packs.get(&key) else {
            return Ok(());
        };
        let committed = pe.committed;
        let records = committed.saturating_sub(pack::HEADER) / pack::record_size(dim);
        if records < self.opts.ann.min_vectors || st.private.contains_key(&key) {
            return Ok(());
        }
        let Some(mut e) = pe.ann.clone() else {
            // Worth building only when enough vectors are live (records count rewrites too).
            if let Some(live) = self.ann_live(st, m) {
                tracing::info!(
                    "building the approximate index of {} ({live} vectors)",
                    m.model.key()
                );
                self.build_ann(st, m)?;
            }
            return Ok(());
        };
        if !self.usable_ann(st, m)? {
            return self.build_ann(st, m);
        }
        if e.crc32c.is_none() {
            // An index named by an older manifest: record its checksum now (it was just opened
            // and checked as before), so from now on it is checked completely.
            e.crc32c = Some(crate::integrity::file_crc(&self.paths.index.join(&e.file))?);
            if let Some(pe) = st.manifest.packs.get_mut(&key) {
                pe.ann = Some(e.clone());
            }
            if let Some(a) = st.anns.get_mut(&key) {
                a.entry = e.clone();
            }
            self.save_manifest(st)?;
        }
        let tail = committed.saturating_sub(e.covered) / pack::record_size(dim);
        if tail <= (e.count / 10).max(1024) {
            return Ok(());
        }
        self.fold_ann(st, m, &e)
    }

    /// Adds the records past the index's mark and removes the keys whose records are no longer
    /// live, then commits the result under a new name.
    fn fold_ann(&self, st: &mut State, m: &RegisteredModel, e: &AnnEntry) -> StorageResult<()> {
        let key = m.model.file_key();
        let dim = m.model.dim;
        // An index loaded in memory here can be changed in place; a view is loaded afresh. The
        // cache entry goes either way: a failure half-way leaves nothing half-changed cached.
        let index = match st.anns.remove(&key) {
            Some(a) if a.writable && a.entry == *e => a.index,
            _ => {
                // Folding a damaged graph would carry the damage into the next file.
                let path = self.check_ann_file(e, dim)?;
                let index = Index::restore(path_str(&path)?)
                    .map_err(|err| StorageError::corrupt(&path, err.to_string()))?;
                index.change_expansion_add(self.opts.ann.expansion_add);
                index
            }
        };
        let pack = open_pack(st, m, "fold")?;
        let rows = pack.live_rows();
        let covered = pack.committed();
        let mut live = vec![false; record_no(covered, dim) as usize];
        for r in &rows {
            if let Some(l) = live.get_mut(record_no(r.offset, dim) as usize) {
                *l = true;
            }
        }
        for (no, &is_live) in live
            .iter()
            .enumerate()
            .take(record_no(e.covered, dim) as usize)
        {
            if !is_live && index.contains(no as u64) {
                index
                    .remove(no as u64)
                    .map_err(|err| ann_err("remove", err))?;
            }
        }
        let new: Vec<&pack::Row> = rows.iter().filter(|r| r.offset >= e.covered).collect();
        index
            .reserve(index.size() + new.len() + 1)
            .map_err(|err| ann_err("reserve", err))?;
        let mut unit_norm = e.unit_norm;
        for r in new {
            unit_norm &= (r.norm - 1.0).abs() <= 1e-3;
            if let Some(v) = unit(pack.vector(r), r.norm) {
                index
                    .add(record_no(r.offset, dim), &v)
                    .map_err(|err| ann_err("add", err))?;
            }
        }
        self.commit_ann(st, m, index, covered, unit_norm)
    }
}
