//! [`LocalBackend`] and its [`StorageBackend`] implementation: each operation runs on a
//! blocking thread, as a reader (`with_state`) or a writer (`with_writable`) of the shared state.

use std::fmt;
use std::fs;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use songrec_storage::backend::{AudioStore, PlaylistStore, SongStore, VectorStore, VersionLog};
use songrec_storage::query::{ListStart, position_cursor, sort_position};
use songrec_storage::{
    BatchReport, Embedding, Filter, ListQuery, Match, ModelInfo, ModelStats, Page, PutOutcome,
    SavedPlaylist, SearchQuery, SongId, SongMetadata, SongRecord, StorageError, StorageResult,
    VersionEntry,
};

use crate::audio::copy_verified;
use crate::fsutil::sync_dir;
use crate::index::check_vector;
use crate::layout::Paths;
use crate::npy;
use crate::options::LocalOptions;
use crate::records::JournalRecord;
use crate::search::list_order;
use crate::state::{Inner, State};

/// Whether `p` is a user's file the library refers to (not a file inside the library).
fn is_user_file(p: &Path, inner: &Inner) -> bool {
    !p.starts_with(&inner.paths.audio)
}

/// The local file-system backend.
///
/// ```no_run
/// # async fn demo() -> songrec_storage::StorageResult<()> {
/// use songrec_local::LocalBackend;
/// use songrec_storage::prelude::*;
/// use songrec_storage::Filter;
/// let lib = LocalBackend::open("/home/me/.local/share/songrec")?;
/// println!("{lib}: {} songs", lib.count(&Filter::default()).await?);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct LocalBackend {
    pub(crate) inner: Arc<Inner>,
}

impl LocalBackend {
    /// Opens (or prepares to create) the library rooted at `root` (which holds `data/`).
    /// Nothing is written until the first write.
    pub fn open(root: impl AsRef<Path>) -> StorageResult<Self> {
        Self::open_with(root, LocalOptions::default())
    }

    /// [`LocalBackend::open`] with options (e.g. when the approximate index kicks in).
    pub fn open_with(root: impl AsRef<Path>, opts: LocalOptions) -> StorageResult<Self> {
        let root = root.as_ref().to_path_buf();
        if root.exists() && !root.is_dir() {
            return Err(StorageError::InvalidInput(format!(
                "library path {} is not a directory",
                root.display()
            )));
        }
        let paths = Paths::new(&root);
        let backend = Self {
            inner: Arc::new(Inner {
                verified: crate::integrity::Verified::shared(&paths.index),
                paths,
                root,
                state: Mutex::new(State::default()),
                opts,
                #[cfg(test)]
                faults: crate::tests::Faults::default(),
            }),
        };
        // Parse everything now so a corrupt file is reported before any work starts.
        backend.inner.with_state(|_| Ok(()))?;
        Ok(backend)
    }

    /// songrec's bookkeeping folder, `<library>/data/.songrec`.
    pub fn internal_dir(&self) -> &Path {
        &self.inner.paths.internal
    }

    /// Takes the library's write lock now (held until this backend is dropped), so a long
    /// operation such as `sync` excludes other writers from its start instead of its first write.
    pub async fn lock_for_writing(&self) -> StorageResult<()> {
        self.write(|_, _| Ok(())).await
    }

    /// Rebuilds every model's packed vector file from the `.npy` files (after editing them by
    /// hand), and the approximate index of every model with at least
    /// [`AnnOptions::min_vectors`](crate::AnnOptions::min_vectors) vectors.
    pub async fn reindex(&self) -> StorageResult<()> {
        self.reindex_with_progress(|_, _, _| {}).await
    }

    /// [`LocalBackend::reindex`] reporting the approximate index builds as
    /// (model key, vectors added, total).
    pub async fn reindex_with_progress(
        &self,
        progress: impl Fn(&str, u64, u64) + Send + Sync + 'static,
    ) -> StorageResult<()> {
        self.write(move |inner, st| {
            if st.journal_records > 0 {
                // Brings `metadata.json` up to date on a library too large to fold on
                // every flush.
                inner.compact(st)?;
            }
            let models = st.registry.models.clone();
            for m in &models {
                inner.rebuild_pack(st, m, true)?;
                if inner.ann_live(st, m).is_some() {
                    let key = m.model.key();
                    inner.build_ann_with(st, m, &|done, total| progress(&key, done, total))?;
                }
            }
            Ok(())
        })
        .await
    }

    /// Checks every derived file of the index in full, whatever the shared record of checked
    /// files says (see `integrity.rs`): each model's pack against the checksum the
    /// manifest recorded, and its approximate index's checksum and graph. Returns the files
    /// checked and, for each damaged one, what is wrong (`songrec reindex` rebuilds them).
    pub async fn verify_index(&self) -> StorageResult<(usize, Vec<StorageError>)> {
        self.read(move |inner, st| {
            let (mut checked, mut damaged) = (0, Vec::new());
            for m in &st.registry.models {
                let Some(e) = st.manifest.packs.get(&m.model.file_key()) else {
                    continue;
                };
                let dim = m.model.dim;
                if let Some(crc) = e.crc32c {
                    checked += 1;
                    let pack = crate::pack::Pack::open(&inner.paths.pack(m), dim, e.committed)
                        .and_then(|p| p.with_build(e.build));
                    if let Err(err) = pack.and_then(|mut p| p.verify(crc, None)) {
                        damaged.push(err);
                    }
                }
                if let Some(a) = &e.ann {
                    checked += 1;
                    if let Err(err) = a.verify_in(&inner.paths.index, dim) {
                        damaged.push(err);
                    }
                }
            }
            Ok((checked, damaged))
        })
        .await
    }

    /// (Re)builds the approximate index of every model with at least
    /// [`AnnOptions::min_vectors`](crate::AnnOptions::min_vectors) vectors from its current
    /// pack (without re-reading the `.npy` files), e.g. to time the build.
    pub async fn build_approximate_index(&self) -> StorageResult<()> {
        self.write(move |inner, st| {
            let models = st.registry.models.clone();
            for m in &models {
                inner.ensure_pack(st, m)?;
                if inner.ann_live(st, m).is_some() {
                    inner.build_ann(st, m)?;
                }
            }
            Ok(())
        })
        .await
    }

    /// Bytes of the model's approximate index file, if it has one (for benchmarks).
    pub async fn ann_index_bytes(&self, model: &ModelInfo) -> StorageResult<Option<u64>> {
        let model = model.clone();
        self.read(move |_, st| {
            let key = st.model(&model).map(|r| r.model.file_key());
            Ok(key.and_then(|k| Some(st.manifest.packs.get(&k)?.ann.as_ref()?.bytes)))
        })
        .await
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Inner) -> StorageResult<T> + Send + 'static,
    ) -> StorageResult<T> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| StorageError::backend("local", format!("worker failed: {e}")))?
    }

    /// [`Self::blocking`] as a reader of the state.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Inner, &mut State) -> StorageResult<T> + Send + 'static,
    ) -> StorageResult<T> {
        self.blocking(move |inner| inner.with_state(|st| f(inner, st)))
            .await
    }

    /// [`Self::blocking`] as the writer of the state.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Inner, &mut State) -> StorageResult<T> + Send + 'static,
    ) -> StorageResult<T> {
        self.blocking(move |inner| inner.with_writable(|st| f(inner, st)))
            .await
    }
}

/// The listing entry of a live song (`i`th record) or of a tombstone.
fn live_entry(songs: &crate::songs::Songs, i: usize) -> VersionEntry {
    let (version, content_hash) = songs.version_and_hash(i);
    VersionEntry {
        id: SongId::from_raw(&songs.raw_id(i)),
        version,
        content_hash,
        deleted: false,
    }
}

fn tombstone_entry(id: &SongId, version: u64) -> VersionEntry {
    VersionEntry {
        id: id.clone(),
        version,
        content_hash: id.to_string(),
        deleted: true,
    }
}

impl fmt::Display for LocalBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Local({})", self.inner.root.display())
    }
}

impl fmt::Debug for LocalBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalBackend")
            .field("root", &self.inner.root)
            .finish()
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl AudioStore for LocalBackend {
    async fn put_audio(&self, id: &SongId, src: &Path) -> StorageResult<PutOutcome> {
        let (id, src) = (id.clone(), src.to_path_buf());
        self.write(move |inner, st| inner.store_copy(st, &id, &src))
            .await
    }

    async fn get_audio(&self, id: &SongId, dest: &Path) -> StorageResult<u64> {
        let (id, dest) = (id.clone(), dest.to_path_buf());
        self.blocking(move |inner| {
            let (src, hash) = inner.with_state(|st| inner.audio_source(st, &id))?;
            copy_verified(&hash, &src, &dest).map_err(|e| match e {
                // A referenced file that changed between the check and the copy.
                StorageError::HashMismatch { .. } if is_user_file(&src, inner) => {
                    StorageError::Stale {
                        path: src.clone(),
                        detail: "the file's bytes changed since songrec analysed it".into(),
                    }
                }
                e => e,
            })
        })
        .await
    }

    async fn audio_url(&self, id: &SongId, _expires_in: Duration) -> StorageResult<String> {
        let id = id.clone();
        self.blocking(move |inner| {
            let (p, _) = inner.with_state(|st| inner.audio_source(st, &id))?;
            let abs = if is_user_file(&p, inner) {
                p
            } else {
                fs::canonicalize(&p).map_err(|e| StorageError::io(&p, e))?
            };
            url::Url::from_file_path(&abs)
                .map(String::from)
                .map_err(|()| {
                    StorageError::InvalidInput(format!("cannot make a URL of {}", abs.display()))
                })
        })
        .await
    }

    async fn has_audio(&self, id: &SongId) -> StorageResult<bool> {
        let id = id.clone();
        self.read(move |inner, st| inner.holds_audio(st, &id)).await
    }

    async fn delete_audio(&self, id: &SongId) -> StorageResult<bool> {
        let id = id.clone();
        self.write(move |inner, st| inner.drop_audio(st, &id)).await
    }

    async fn link_audio(&self, id: &SongId, path: &Path) -> StorageResult<PutOutcome> {
        let (id, path) = (id.clone(), path.to_path_buf());
        self.write(move |inner, st| inner.link(st, &id, &path, None))
            .await
    }

    async fn link_audio_as(
        &self,
        key: &SongId,
        path: &Path,
        own: &SongId,
    ) -> StorageResult<PutOutcome> {
        let (key, path, own) = (key.clone(), path.to_path_buf(), own.clone());
        self.write(move |inner, st| inner.link(st, &key, &path, Some(&own)))
            .await
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl VectorStore for LocalBackend {
    async fn put_embedding(&self, id: &SongId, embedding: &Embedding) -> StorageResult<()> {
        embedding.validate()?;
        let (id, e) = (id.clone(), embedding.clone());
        self.write(move |inner, st| inner.write_vectors(st, &[(id, &e)]))
            .await
    }

    async fn get_embedding(
        &self,
        id: &SongId,
        model: &ModelInfo,
    ) -> StorageResult<Option<Embedding>> {
        let (id, model) = (id.clone(), model.clone());
        self.blocking(move |inner| {
            let Some(r) = inner.with_state(|st| Ok(st.model(&model).cloned()))? else {
                return Ok(None);
            };
            let path = inner.paths.npy(&r, &id);
            if !path.exists() {
                return Ok(None);
            }
            let v = npy::read(&path)?;
            if v.len() != r.model.dim {
                return Err(StorageError::corrupt(
                    &path,
                    format!("{}-d vector for {}", v.len(), r.model),
                ));
            }
            Ok(Some(Embedding {
                model: r.model,
                vector: v,
            }))
        })
        .await
    }

    /// No cap of its own: a search ranks every stored vector anyway.
    fn max_results(&self) -> usize {
        usize::MAX
    }

    async fn search(&self, query: &SearchQuery) -> StorageResult<Vec<Match>> {
        let q = query.clone();
        self.read(move |inner, st| inner.search(st, &q)).await
    }

    async fn models(&self) -> StorageResult<Vec<ModelStats>> {
        self.read(move |inner, st| {
            let models = st.registry.models.clone();
            let mut out = Vec::new();
            for m in models {
                let count = inner.candidates(st, &m)?.len() as u64;
                out.push(ModelStats {
                    model: m.model,
                    count,
                });
            }
            Ok(out)
        })
        .await
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl SongStore for LocalBackend {
    async fn put_metadata(&self, metadata: &SongMetadata) -> StorageResult<()> {
        metadata.check_storable()?;
        let m = metadata.clone();
        self.write(move |inner, st| inner.append_journal(st, &[JournalRecord::Put(Box::new(m))]))
            .await
    }

    async fn put_metadata_if(&self, metadata: &SongMetadata, expected: u64) -> StorageResult<()> {
        metadata.check_storable()?;
        let m = metadata.clone();
        // Compared under the write lock, on the state just brought up to date: no other
        // process can write between the comparison and the journal record.
        self.write(move |inner, st| {
            let stored = st.get(&m.id);
            if stored == Some(&m) {
                return Ok(()); // a repeat of this write, which landed
            }
            let stored = stored.map(|s| s.version);
            if stored != Some(expected) {
                return Err(StorageError::version_conflict(&m.id, expected, stored));
            }
            inner.append_journal(st, &[JournalRecord::Put(Box::new(m))])
        })
        .await
    }

    async fn get_metadata(&self, id: &SongId) -> StorageResult<Option<SongMetadata>> {
        let id = id.clone();
        self.read(move |_, st| Ok(st.get(&id).cloned())).await
    }

    async fn list(&self, query: &ListQuery) -> StorageResult<Page<SongMetadata>> {
        query.validate()?;
        let q = query.clone();
        self.read(move |_, st| {
            let start = ListStart::parse(q.cursor.as_deref())?;
            let first = (start == ListStart::Offset(0)).then_some(q.limit);
            let (order, total) = list_order(st, &q.filter, q.sort, q.descending, first);
            // Keyset paging: the page starts after the last song's position, wherever
            // songs were added or deleted since.
            let start = start.index_in(&order, q.descending, |&i| {
                sort_position(&st.songs.light(i as usize), q.sort)
            });
            let items: Vec<SongMetadata> = order
                .iter()
                .skip(start)
                .take(q.limit)
                .map(|&i| st.songs.copy(i as usize))
                .collect();
            let end = start + items.len();
            Ok(Page {
                next: items
                    .last()
                    .filter(|_| end < total)
                    .map(|m| position_cursor(m, q.sort)),
                items,
            })
        })
        .await
    }

    async fn count(&self, filter: &Filter) -> StorageResult<u64> {
        filter.validate()?;
        let f = filter.clone();
        self.read(move |_, st| {
            let songs = &st.songs;
            Ok((0..songs.len()).filter(|&i| songs.matches(i, &f)).count() as u64)
        })
        .await
    }

    /// The local files count every song cheaply: exact.
    async fn quick_count(&self, filter: &Filter) -> StorageResult<songrec_storage::SongCount> {
        Ok(songrec_storage::SongCount::Exact(self.count(filter).await?))
    }

    async fn delete_song(&self, id: &SongId) -> StorageResult<bool> {
        let id = id.clone();
        self.write(move |inner, st| {
            let Some(version) = st.get(&id).map(|m| m.version) else {
                return Ok(false);
            };
            let models = st.registry.models.clone();
            for r in &models {
                let path = inner.paths.npy(r, &id);
                if path.exists() {
                    inner.ensure_pack(st, r)?;
                    fs::remove_file(&path).map_err(|e| StorageError::io(&path, e))?;
                    sync_dir(&inner.paths.model_dir(r))?;
                    inner.append_pack(st, r, &r.model.file_key(), &[(id.clone(), None)])?;
                }
            }
            // The audio is kept under the file's content hash; a reference is forgotten,
            // the user's file left alone.
            let key = st.get(&id).map_or_else(|| id.clone(), |m| m.audio_key());
            inner.drop_audio(st, &key)?;
            inner.append_journal(
                st,
                &[JournalRecord::Delete {
                    id: id.clone(),
                    version: version + 1,
                }],
            )?;
            Ok(true)
        })
        .await
    }

    async fn put_songs(&self, songs: &[SongRecord]) -> StorageResult<BatchReport> {
        let songs = songs.to_vec();
        self.write(move |inner, st| {
            let mut report = BatchReport::default();
            let mut ok = Vec::new();
            for s in &songs {
                if let Err(e) = s.metadata.check_storable() {
                    report.failed.push((s.metadata.id.clone(), e.to_string()));
                    continue;
                }
                let check = s.embeddings.iter().try_for_each(|e| {
                    e.validate()?;
                    check_vector(&s.metadata.id, e)?;
                    st.model(&e.model)
                        .map_or(Ok(()), |r| e.model.same_dim_as(&r.model))
                });
                match check {
                    Ok(()) => ok.push(s),
                    Err(e) => report.failed.push((s.metadata.id.clone(), e.to_string())),
                }
            }
            let vectors: Vec<(SongId, &Embedding)> = ok
                .iter()
                .flat_map(|s| s.embeddings.iter().map(|e| (s.metadata.id.clone(), e)))
                .collect();
            inner.write_vectors(st, &vectors)?;
            let recs: Vec<JournalRecord> = ok
                .iter()
                .map(|s| JournalRecord::Put(Box::new(s.metadata.clone())))
                .collect();
            inner.append_journal(st, &recs)?;
            report
                .stored
                .extend(ok.into_iter().map(|s| s.metadata.id.clone()));
            Ok(report)
        })
        .await
    }

    async fn get_metadata_many(&self, ids: &[SongId]) -> StorageResult<Vec<SongMetadata>> {
        let ids = ids.to_vec();
        self.read(move |_, st| Ok(ids.iter().filter_map(|id| st.get(id).cloned()).collect()))
            .await
    }

    async fn flush(&self) -> StorageResult<()> {
        self.blocking(move |inner| {
            let mut st = inner.lock_state()?;
            if st.lock.is_some()
                && crate::journal::fold_on_flush(st.songs.len(), st.journal_records)
            {
                inner.compact(&mut st)?;
            }
            Ok(())
        })
        .await
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl VersionLog for LocalBackend {
    async fn versions_of(&self, ids: &[SongId]) -> StorageResult<Vec<VersionEntry>> {
        let ids = ids.to_vec();
        self.read(move |_, st| {
            let unique: std::collections::BTreeSet<&SongId> = ids.iter().collect();
            Ok(unique
                .into_iter()
                .filter_map(|id| match st.index.get(&id.to_bytes()) {
                    Some(&i) => Some(VersionEntry {
                        id: id.clone(),
                        ..live_entry(&st.songs, i)
                    }),
                    None => st.tombstones.get(id).map(|&v| tombstone_entry(id, v)),
                })
                .collect())
        })
        .await
    }

    /// No feed: the local files list cheaply (in memory), so sync reads them whole.
    /// Adds up the records without decoding their free-form fields (nor keeping them decoded).
    async fn summary(&self) -> StorageResult<songrec_storage::LibrarySummary> {
        self.read(move |_, st| {
            let mut s = songrec_storage::LibrarySummary::default();
            for i in 0..st.songs.len() {
                s.add(&st.songs.light(i));
            }
            s.tombstones = st.tombstones.len() as u64;
            Ok(s)
        })
        .await
    }

    async fn changes_since(
        &self,
        _since: Option<&songrec_storage::ChangeCursor>,
    ) -> StorageResult<Option<songrec_storage::Changes>> {
        Ok(None)
    }

    async fn ids_with_prefix(&self, prefix: &str, limit: usize) -> StorageResult<Vec<SongId>> {
        let prefix = prefix.to_ascii_lowercase();
        self.read(move |_, st| {
            let songs = &st.songs;
            let mut ids: Vec<SongId> = (0..songs.len())
                .map(|i| songs.raw_id(i))
                .filter(|raw| crate::songs::has_hex_prefix(raw, prefix.as_bytes()))
                .map(|raw| SongId::from_raw(&raw))
                .collect();
            ids.sort();
            ids.truncate(limit);
            Ok(ids)
        })
        .await
    }

    async fn list_versions(&self) -> StorageResult<Vec<VersionEntry>> {
        self.read(move |_, st| {
            let mut v: Vec<VersionEntry> = (0..st.songs.len())
                .map(|i| live_entry(&st.songs, i))
                .collect();
            v.extend(st.tombstones.iter().map(|(id, &v)| tombstone_entry(id, v)));
            v.sort_by(|a, b| a.id.cmp(&b.id));
            Ok(v)
        })
        .await
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl PlaylistStore for LocalBackend {
    async fn put_playlist(&self, playlist: &SavedPlaylist) -> StorageResult<()> {
        playlist.validate()?;
        let p = playlist.clone();
        self.write(move |inner, _| crate::playlists::put(&inner.paths.playlists, &p))
            .await
    }

    async fn get_playlist(&self, id: &str) -> StorageResult<Option<SavedPlaylist>> {
        let id = id.to_owned();
        self.blocking(move |inner| crate::playlists::get(&inner.paths.playlists, &id))
            .await
    }

    async fn list_playlists(&self) -> StorageResult<Vec<SavedPlaylist>> {
        self.blocking(move |inner| crate::playlists::list(&inner.paths.playlists))
            .await
    }
}
