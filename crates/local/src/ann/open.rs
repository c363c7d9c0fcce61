//! Opening a saved index, checked against its manifest entry, and making sure a usable one is
//! open before a search.

use std::fs;
use std::path::PathBuf;

use songrec_storage::{StorageError, StorageResult};
use usearch::Index;

use super::{path_str, sample_hash};
use crate::ann_cache::AnnCache;
use crate::ann_check::{Expect, check_file};
use crate::layout::{RegisteredModel, read_opt};
use crate::manifest::{AnnEntry, Manifest};
use crate::state::{Inner, State};

impl Inner {
    /// Opens the index an entry names, checking it against the entry.
    fn open_ann(&self, e: &AnnEntry, dim: usize) -> StorageResult<Index> {
        if e.file.is_empty()
            || !e
                .file
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'))
        {
            return Err(StorageError::corrupt(
                &self.paths.manifest,
                format!("bad index file name {:?}", e.file),
            ));
        }
        let path = self.paths.index.join(&e.file);
        let len = fs::metadata(&path)
            .map_err(|err| StorageError::io(&path, err))?
            .len();
        if len != e.bytes {
            return Err(StorageError::corrupt(
                &path,
                format!("{len} bytes, the manifest says {}", e.bytes),
            ));
        }
        if sample_hash(&path)? != e.check {
            return Err(StorageError::corrupt(
                &path,
                "content does not match the manifest",
            ));
        }
        // The sampled hash misses damage in the middle: the full checksum and structure do not.
        self.check_ann_file(e, dim)?;
        let index = Index::restore_view(path_str(&path)?)
            .map_err(|err| StorageError::corrupt(&path, err.to_string()))?;
        if index.size() != e.count || index.dimensions() != dim {
            return Err(StorageError::corrupt(
                &path,
                format!(
                    "{} vectors of {} values; the manifest says {} of {dim}",
                    index.size(),
                    index.dimensions(),
                    e.count
                ),
            ));
        }
        index.change_expansion_search(self.opts.ann.ef_search_for(index.size()));
        Ok(index)
    }

    /// Checks the index file an entry names in full, checksum and graph structure (once per file
    /// state with a checksum; every time without one), and returns its path.
    pub(super) fn check_ann_file(&self, e: &AnnEntry, dim: usize) -> StorageResult<PathBuf> {
        let path = self.paths.index.join(&e.file);
        let structure = || check_file(&path, Expect::of(dim, e.quantization));
        match e.crc32c {
            Some(crc) => self.verified.check_file(&path, crc, structure)?,
            None => structure()?,
        }
        Ok(path)
    }

    /// Makes sure `st.anns` holds a usable index for the model's open shared pack, building it
    /// when missing, stale or damaged if this process holds or can take the write lock.
    /// `false`: no index now (the caller scans exactly).
    pub(super) fn ensure_ann(&self, st: &mut State, m: &RegisteredModel) -> StorageResult<bool> {
        let key = m.model.file_key();
        if st.private.contains_key(&key) {
            return Ok(false); // an in-memory pack: nothing shared to index
        }
        if self.usable_ann(st, m)? {
            return Ok(true);
        }
        if st.lock.is_some() {
            self.build_ann(st, m)?;
            return Ok(true);
        }
        match self.try_write_lock() {
            Ok(lock) => {
                // Start from the manifest on disk: the pack must still be the one open here.
                let bytes = read_opt(&self.paths.manifest)?;
                let disk = Manifest::parse(&self.paths.manifest, bytes.as_deref());
                let pack_of = |m: &Manifest| m.packs.get(&key).map(|e| (e.committed, e.build));
                if pack_of(&disk) != pack_of(&st.manifest) {
                    return Ok(false); // a writer moved on; the next search catches up
                }
                st.manifest = disk;
                st.seen.manifest = bytes;
                if self.usable_ann(st, m)? {
                    return Ok(true); // another process built it meanwhile
                }
                // Only a library no writer indexed yet (written by an older songrec or the
                // Python tool) gets here: say why this search takes longer, once.
                tracing::warn!(
                    "building the approximate-search index for {} (once for this library; \
                     `songrec reindex` builds it ahead of time)",
                    m.model.key()
                );
                let built = self.build_ann(st, m);
                drop(lock);
                // This search stays exact, as the docs promise for a missing or damaged index:
                // a graph built just now (a threaded build, so not the same graph twice) may
                // rank differently from the one it replaces. The next search uses it.
                built.map(|()| false)
            }
            Err(StorageError::Locked { .. }) => Ok(false),
            Err(e) => {
                tracing::debug!("cannot build the approximate index now: {e}");
                Ok(false)
            }
        }
    }

    /// Whether the manifest names an index for the open pack that is (or can be) opened.
    pub(super) fn usable_ann(&self, st: &mut State, m: &RegisteredModel) -> StorageResult<bool> {
        let key = m.model.file_key();
        let Some(pe) = st.manifest.packs.get(&key) else {
            return Ok(false);
        };
        let committed = st.packs.get(&key).map(|c| c.pack.committed());
        let Some(e) = pe.ann.clone() else {
            return Ok(false);
        };
        if e.build != pe.build || pe.build == 0 || committed.is_none_or(|c| e.covered > c) {
            tracing::debug!("approximate index of {} is stale", m.model.key());
            return Ok(false);
        }
        if st.anns.get(&key).is_some_and(|a| a.entry == e) {
            return Ok(true);
        }
        match self.open_ann(&e, m.model.dim) {
            Ok(index) => {
                st.anns.insert(
                    key,
                    AnnCache {
                        entry: e,
                        index,
                        writable: false,
                        map: None,
                    },
                );
                Ok(true)
            }
            Err(err) => {
                // Once per process and file: a long-running `serve` keeps quiet about it after.
                let what = err.to_string();
                crate::integrity::warn_once(&what, || {
                    format!(
                        "approximate index of {} ignored ({what}); searching exactly until it is \
                         rebuilt (`songrec reindex` rebuilds it now)",
                        m.model.key()
                    )
                });
                st.anns.remove(&key);
                Ok(false)
            }
        }
    }
}
