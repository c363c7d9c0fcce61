//! songrec's local backend: a library in plain files, the embedded default.
//!
//! Layout (compatible with the Python song-recommender songrec replaces):
//!
//! ```text
//! <library>/data/audio/<song id>.<ext>                 audio, named by content hash
//! <library>/data/embeddings/<song id>.npy              vectors of the library's first model
//! <library>/data/embeddings/<model>-<version>/<id>.npy vectors of any further model
//! <library>/data/embeddings/metadata.json              {"<song id>": {metadata}, ...}
//! <library>/data/.songrec/                             songrec's own bookkeeping:
//!     library.json      registered models (name, version, dim, folder)
//!     journal.jsonl     metadata changes since metadata.json was last rewritten
//!     tombstones.json   deleted songs and their last version (for sync)
//!     index/            packed vectors (derived from the .npy files) and their manifest
//!     lock              the write lock
//! ```
//!
//! Every write is atomic: files are written to a temporary name, fsynced and renamed; metadata
//! changes are appended to a journal and fsynced before they count, and folded into
//! `metadata.json` (atomically) when the journal grows or on [`StorageBackend::flush`].
//! One process at a time may write (an OS file lock taken on the first write); readers never
//! block and see the last committed state.

pub mod fsutil;
pub mod lease;
pub mod npy;
pub mod pack;
pub mod snapshot;
pub mod syncrecord;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, UNIX_EPOCH};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use songrec_storage::math::{self, TopK};
use songrec_storage::{
    BatchReport, Embedding, Filter, ListQuery, Match, ModelInfo, ModelStats, Page, PutOutcome,
    SearchQuery, SongId, SongMetadata, SongRecord, SortKey, StorageBackend, StorageError,
    StorageResult, VersionEntry, compare_by,
};

use crate::fsutil::{WriteLock, sync_dir, write_atomic, write_atomic_nosync_dir};
use crate::pack::{Pack, Row};

/// Journal records before `metadata.json` is rewritten.
const COMPACT_AFTER: usize = 5000;
/// Rows above which a search is split across threads.
const PARALLEL_ROWS: usize = 4096;

/// The local file-system backend.
///
/// ```no_run
/// # async fn demo() -> songrec_storage::StorageResult<()> {
/// use songrec_local::LocalBackend;
/// use songrec_storage::{Filter, StorageBackend};
/// let lib = LocalBackend::open("/home/me/.local/share/songrec")?;
/// println!("{lib}: {} songs", lib.count(&Filter::default()).await?);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct LocalBackend {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
    paths: Paths,
    state: Mutex<State>,
}

#[derive(Clone)]
struct Paths {
    #[allow(dead_code)]
    data: PathBuf,
    audio: PathBuf,
    embeddings: PathBuf,
    metadata: PathBuf,
    internal: PathBuf,
    registry: PathBuf,
    journal: PathBuf,
    tombstones: PathBuf,
    index: PathBuf,
    manifest: PathBuf,
    snapshot: PathBuf,
    lock: PathBuf,
}

impl Paths {
    fn new(root: &Path) -> Self {
        let data = root.join("data");
        let internal = data.join(".songrec");
        let index = internal.join("index");
        Self {
            audio: data.join("audio"),
            embeddings: data.join("embeddings"),
            metadata: data.join("embeddings").join("metadata.json"),
            registry: internal.join("library.json"),
            journal: internal.join("journal.jsonl"),
            tombstones: internal.join("tombstones.json"),
            manifest: index.join("manifest.json"),
            snapshot: index.join("metadata.bin"),
            lock: internal.join("lock"),
            index,
            internal,
            data,
        }
    }

    fn model_dir(&self, m: &RegisteredModel) -> PathBuf {
        if m.dir.is_empty() {
            self.embeddings.clone()
        } else {
            self.embeddings.join(&m.dir)
        }
    }

    fn npy(&self, m: &RegisteredModel, id: &SongId) -> PathBuf {
        self.model_dir(m).join(format!("{id}.npy"))
    }

    fn pack(&self, m: &RegisteredModel) -> PathBuf {
        self.index.join(format!("{}.pack", m.model.file_key()))
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct RegisteredModel {
    model: ModelInfo,
    /// Folder under `embeddings/`; empty for the library's first model (flat layout).
    dir: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Registry {
    format: u32,
    models: Vec<RegisteredModel>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Manifest {
    packs: BTreeMap<String, PackEntry>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct PackEntry {
    committed: usize,
    /// Modification time (ns) of the model's `.npy` folder when the pack was last brought in step.
    stamp: Option<u128>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum JournalRecord {
    Put(Box<SongMetadata>),
    Delete { id: SongId, version: u64 },
}

#[derive(Clone, Copy)]
struct CandRow {
    row: Row,
    slot: u32,
}

struct PackCache {
    pack: Pack,
    /// Live rows joined with metadata slots, valid for (pack length, metadata generation).
    rows: Option<(usize, u64, Arc<Vec<CandRow>>)>,
}

#[derive(Default)]
struct State {
    loaded: bool,
    lock: Option<WriteLock>,
    registry: Registry,
    songs: Vec<SongMetadata>,
    index: pack::IdMap<usize>,
    tombstones: BTreeMap<SongId, u64>,
    meta_gen: u64,
    journal_records: usize,
    manifest: Manifest,
    packs: HashMap<String, PackCache>,
    audio: Option<HashMap<SongId, PathBuf>>,
}

impl State {
    fn get(&self, id: &SongId) -> Option<&SongMetadata> {
        self.index.get(&id.to_bytes()).map(|&i| &self.songs[i])
    }

    fn upsert(&mut self, m: SongMetadata) {
        self.tombstones.remove(&m.id);
        match self.index.get(&m.id.to_bytes()) {
            Some(&i) => self.songs[i] = m,
            None => {
                self.index.insert(m.id.to_bytes(), self.songs.len());
                self.songs.push(m);
            }
        }
        self.meta_gen += 1;
    }

    fn remove(&mut self, id: &SongId, version: u64) {
        if let Some(i) = self.index.remove(&id.to_bytes()) {
            self.songs.swap_remove(i);
            if let Some(moved) = self.songs.get(i) {
                self.index.insert(moved.id.to_bytes(), i);
            }
        }
        self.tombstones.insert(id.clone(), version);
        self.meta_gen += 1;
    }

    fn model(&self, m: &ModelInfo) -> Option<&RegisteredModel> {
        self.registry.models.iter().find(|r| r.model.same_model(m))
    }
}

impl LocalBackend {
    /// Opens (or prepares to create) the library rooted at `root` (which holds `data/`).
    /// Nothing is written until the first write.
    pub fn open(root: impl AsRef<Path>) -> StorageResult<Self> {
        let root = root.as_ref().to_path_buf();
        if root.exists() && !root.is_dir() {
            return Err(StorageError::InvalidInput(format!(
                "library path {} is not a directory",
                root.display()
            )));
        }
        let backend = Self {
            inner: Arc::new(Inner {
                paths: Paths::new(&root),
                root,
                state: Mutex::new(State::default()),
            }),
        };
        // Parse everything now so a corrupt file is reported before any work starts.
        backend.inner.with_state(|_| Ok(()))?;
        Ok(backend)
    }

    /// The library root.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// songrec's bookkeeping folder, `<library>/data/.songrec`.
    pub fn internal_dir(&self) -> &Path {
        &self.inner.paths.internal
    }

    /// Takes the library's write lock now (held until this backend is dropped), so a long
    /// operation such as `sync` excludes other writers from its start instead of its first write.
    pub async fn lock_for_writing(&self) -> StorageResult<()> {
        self.blocking(|inner| inner.with_writable(|_| Ok(()))).await
    }

    /// Rebuilds every model's packed vector file from the `.npy` files (after editing them by hand).
    pub async fn reindex(&self) -> StorageResult<()> {
        self.blocking(|inner| {
            inner.with_writable(|st| {
                let models = st.registry.models.clone();
                for m in &models {
                    inner.rebuild_pack(st, m, true)?;
                }
                Ok(())
            })
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
            .map_err(|e| StorageError::Backend {
                backend: "local".into(),
                message: format!("worker failed: {e}"),
                transient: false,
            })?
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

fn read_json<T: for<'de> Deserialize<'de> + Default>(path: &Path) -> StorageResult<T> {
    match fs::read(path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).map_err(|e| StorageError::corrupt(path, e.to_string()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(e) => Err(StorageError::io(path, e)),
    }
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> StorageResult<()> {
    write_atomic(path, |w| {
        serde_json::to_writer(&mut *w, value).map_err(std::io::Error::other)?;
        w.write_all(b"\n")
    })
}

fn dir_stamp(dir: &Path) -> Option<u128> {
    let m = fs::metadata(dir).ok()?.modified().ok()?;
    Some(m.duration_since(UNIX_EPOCH).ok()?.as_nanos())
}

fn mkdirs(dir: &Path) -> StorageResult<()> {
    fs::create_dir_all(dir).map_err(|e| StorageError::io(dir, e))
}

/// Parses `metadata.json`: an object keyed by song id (an entry's `id` defaults to its key).
fn parse_metadata(path: &Path) -> StorageResult<Vec<SongMetadata>> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StorageError::io(path, e)),
    };
    if let Ok(map) = serde_json::from_slice::<BTreeMap<String, SongMetadata>>(&bytes) {
        return Ok(map.into_values().collect());
    }
    let raw: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&bytes)
        .map_err(|e| StorageError::corrupt(path, format!("not a JSON object of songs: {e}")))?;
    raw.into_iter()
        .map(|(key, mut v)| {
            if let Some(obj) = v.as_object_mut() {
                obj.entry("id")
                    .or_insert_with(|| serde_json::Value::String(key.clone()));
                if !obj.contains_key("title") {
                    obj.insert("title".into(), serde_json::Value::String(key.clone()));
                }
            }
            serde_json::from_value(v)
                .map_err(|e| StorageError::corrupt(path, format!("entry {key:?}: {e}")))
        })
        .collect()
}

impl Inner {
    fn lock_state(&self) -> StorageResult<MutexGuard<'_, State>> {
        self.state.lock().map_err(|_| StorageError::Backend {
            backend: "local".into(),
            message: "internal state poisoned by an earlier panic".into(),
            transient: false,
        })
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut State) -> StorageResult<T>) -> StorageResult<T> {
        let mut st = self.lock_state()?;
        if !st.loaded {
            self.load(&mut st)?;
        }
        f(&mut st)
    }

    /// Takes the write lock (once; kept until the backend is dropped), reloading state first
    /// so writes never build on a stale view.
    fn with_writable<T>(&self, f: impl FnOnce(&mut State) -> StorageResult<T>) -> StorageResult<T> {
        let mut st = self.lock_state()?;
        if st.lock.is_none() {
            mkdirs(&self.paths.internal)?;
            let lock = WriteLock::acquire(&self.root, &self.paths.lock)?;
            let keep_audio = st.audio.take();
            *st = State::default();
            st.audio = keep_audio;
            self.load(&mut st)?;
            st.lock = Some(lock);
            for d in [&self.paths.audio, &self.paths.embeddings, &self.paths.index] {
                mkdirs(d)?;
            }
            self.repair_journal_tail()?;
        }
        f(&mut st)
    }

    fn load(&self, st: &mut State) -> StorageResult<()> {
        let p = &self.paths;
        st.registry = read_json(&p.registry)?;
        let from_snapshot = snapshot::stamp(&p.metadata).and_then(|stamp| {
            fs::read(&p.snapshot)
                .ok()
                .and_then(|b| snapshot::decode(&b, stamp))
        });
        let songs = match from_snapshot {
            Some(songs) => songs,
            None => parse_metadata(&p.metadata)?,
        };
        for m in songs {
            st.index.insert(m.id.to_bytes(), st.songs.len());
            st.songs.push(m);
        }
        let tombs: BTreeMap<SongId, u64> = read_json(&p.tombstones)?;
        st.tombstones = tombs;
        st.manifest = read_json(&p.manifest)?;
        self.replay_journal(st)?;
        if st.registry.models.is_empty() {
            self.adopt_legacy_vectors(st)?;
        }
        st.loaded = true;
        Ok(())
    }

    /// A library written by the Python tool has flat `.npy` files but no registry: register them
    /// as model `legacy@0` with the dimension of the first file.
    fn adopt_legacy_vectors(&self, st: &mut State) -> StorageResult<()> {
        let Ok(entries) = fs::read_dir(&self.paths.embeddings) else {
            return Ok(());
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.extension().is_some_and(|x| x == "npy") {
                let v = npy::read(&path)?;
                st.registry.models.push(RegisteredModel {
                    model: ModelInfo::new("legacy", "0", v.len()),
                    dir: String::new(),
                });
                tracing::info!(
                    "adopted existing .npy vectors as model legacy@0 ({}-d)",
                    v.len()
                );
                break;
            }
        }
        Ok(())
    }

    fn replay_journal(&self, st: &mut State) -> StorageResult<()> {
        let path = &self.paths.journal;
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StorageError::io(path, e)),
        };
        let mut reader = BufReader::new(file);
        let mut line = String::new();
        let mut n = 0usize;
        loop {
            line.clear();
            let k = reader
                .read_line(&mut line)
                .map_err(|e| StorageError::io(path, e))?;
            if k == 0 {
                break;
            }
            n += 1;
            if !line.ends_with('\n') {
                // A torn final line: the write that produced it never completed (no fsync ack).
                tracing::warn!("ignoring an incomplete last record in {}", path.display());
                break;
            }
            let rec: JournalRecord = serde_json::from_str(&line)
                .map_err(|e| StorageError::corrupt(path, format!("record {n}: {e}")))?;
            match rec {
                JournalRecord::Put(m) => st.upsert(*m),
                JournalRecord::Delete { id, version } => st.remove(&id, version),
            }
            st.journal_records += 1;
        }
        Ok(())
    }

    /// Cuts an incomplete last journal line (only called with the write lock held).
    fn repair_journal_tail(&self) -> StorageResult<()> {
        let path = &self.paths.journal;
        let Ok(mut f) = OpenOptions::new().read(true).write(true).open(path) else {
            return Ok(());
        };
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)
            .map_err(|e| StorageError::io(path, e))?;
        if buf.is_empty() || buf.ends_with(b"\n") {
            return Ok(());
        }
        let keep = buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        f.set_len(keep as u64)
            .and_then(|()| f.sync_all())
            .map_err(|e| StorageError::io(path, e))
    }

    fn append_journal(&self, st: &mut State, recs: &[JournalRecord]) -> StorageResult<()> {
        if recs.is_empty() {
            return Ok(());
        }
        let path = &self.paths.journal;
        let mut buf = Vec::new();
        for r in recs {
            serde_json::to_writer(&mut buf, r)
                .map_err(|e| StorageError::InvalidInput(e.to_string()))?;
            buf.push(b'\n');
        }
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| StorageError::io(path, e))?;
        f.write_all(&buf)
            .and_then(|()| f.sync_data())
            .map_err(|e| StorageError::io(path, e))?;
        st.journal_records += recs.len();
        if st.journal_records >= COMPACT_AFTER {
            self.compact(st)?;
        }
        Ok(())
    }

    /// Folds the journal into `metadata.json` and `tombstones.json`.
    fn compact(&self, st: &mut State) -> StorageResult<()> {
        let sorted: BTreeMap<&str, &SongMetadata> =
            st.songs.iter().map(|m| (m.id.as_str(), m)).collect();
        mkdirs(&self.paths.embeddings)?;
        write_atomic(&self.paths.metadata, |w| {
            serde_json::to_writer(&mut *w, &sorted).map_err(std::io::Error::other)?;
            w.write_all(b"\n")
        })?;
        if let Some(stamp) = snapshot::stamp(&self.paths.metadata) {
            let songs: Vec<&SongMetadata> = sorted.values().copied().collect();
            let bytes = snapshot::encode(&songs, stamp);
            mkdirs(&self.paths.index)?;
            write_atomic_nosync_dir(&self.paths.snapshot, |w| w.write_all(&bytes))?;
        }
        write_json(&self.paths.tombstones, &st.tombstones)?;
        write_atomic(&self.paths.journal, |_| Ok(()))?;
        st.journal_records = 0;
        // metadata.json lives beside the first model's vectors: its folder's stamp moved.
        self.restamp(st)?;
        Ok(())
    }

    fn restamp(&self, st: &mut State) -> StorageResult<()> {
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
            write_json(&self.paths.manifest, &st.manifest)?;
        }
        Ok(())
    }

    fn register(&self, st: &mut State, model: &ModelInfo) -> StorageResult<RegisteredModel> {
        if let Some(r) = st.model(model) {
            if r.model.dim != model.dim {
                return Err(StorageError::DimensionMismatch {
                    model: model.key(),
                    expected: r.model.dim,
                    got: model.dim,
                });
            }
            return Ok(r.clone());
        }
        let dir = if st.registry.models.is_empty() {
            String::new()
        } else {
            model.file_key()
        };
        let r = RegisteredModel {
            model: model.clone(),
            dir,
        };
        st.registry.format = 1;
        st.registry.models.push(r.clone());
        write_json(&self.paths.registry, &st.registry)?;
        mkdirs(&self.paths.model_dir(&r))?;
        Ok(r)
    }

    /// Reads every `.npy` of a model into a fresh pack. Persists it when `persist` (write lock
    /// held); otherwise builds a private copy for this process only.
    fn rebuild_pack(
        &self,
        st: &mut State,
        m: &RegisteredModel,
        persist: bool,
    ) -> StorageResult<()> {
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
                let v = npy::read(&path)?;
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
        let (path, keep_file) = if persist {
            (self.paths.pack(m), true)
        } else {
            let p = std::env::temp_dir().join(format!(
                "songrec-pack-{}-{key}.{}.tmp",
                std::process::id(),
                rows.len()
            ));
            (p, false)
        };
        if persist {
            mkdirs(&self.paths.index)?;
        }
        let committed = Pack::build(&path, m.model.dim, rows)?;
        let pack = Pack::open(&path, m.model.dim, committed)?;
        if keep_file {
            st.manifest
                .packs
                .insert(key.clone(), PackEntry { committed, stamp });
            write_json(&self.paths.manifest, &st.manifest)?;
        } else {
            let _ = fs::remove_file(&path); // the mapping stays valid
        }
        st.packs.insert(key, PackCache { pack, rows: None });
        Ok(())
    }

    /// Makes sure the model's pack is open and in step with its `.npy` folder.
    fn ensure_pack(&self, st: &mut State, m: &RegisteredModel) -> StorageResult<()> {
        let key = m.model.file_key();
        let stamp = dir_stamp(&self.paths.model_dir(m));
        let entry = st.manifest.packs.get(&key).cloned();
        let fresh = entry
            .as_ref()
            .is_some_and(|e| e.stamp == stamp && stamp.is_some());
        if fresh
            && st
                .packs
                .get(&key)
                .is_some_and(|c| Some(c.pack.committed()) == entry.as_ref().map(|e| e.committed))
        {
            return Ok(());
        }
        if let (true, Some(e)) = (fresh, &entry) {
            match Pack::open(&self.paths.pack(m), m.model.dim, e.committed) {
                Ok(pack) => {
                    st.packs.insert(key, PackCache { pack, rows: None });
                    return Ok(());
                }
                Err(err) => tracing::warn!("rebuilding vector index for {}: {err}", m.model.key()),
            }
        }
        if st.lock.is_some() {
            return self.rebuild_pack(st, m, true);
        }
        // A reader: persist the rebuild only if no writer is active right now.
        match WriteLock::acquire(&self.root, &self.paths.lock) {
            Ok(_lock) => self.rebuild_pack(st, m, true),
            Err(StorageError::Locked { .. }) => self.rebuild_pack(st, m, false),
            Err(e) if !self.paths.internal.exists() => {
                tracing::debug!("read-only library ({e}); building the index in memory");
                self.rebuild_pack(st, m, false)
            }
            Err(e) => Err(e),
        }
    }

    fn write_vectors(&self, st: &mut State, items: &[(SongId, &Embedding)]) -> StorageResult<()> {
        type Rows<'a> = Vec<(SongId, &'a [f32])>;
        let mut by_model: BTreeMap<String, (RegisteredModel, Rows<'_>)> = BTreeMap::new();
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
            self.ensure_pack(st, &r)?;
            let records: Vec<(SongId, Option<&[f32]>)> =
                rows.iter().map(|(id, v)| (id.clone(), Some(*v))).collect();
            self.append_pack(st, &r, &key, &records)?;
        }
        Ok(())
    }

    fn append_pack(
        &self,
        st: &mut State,
        r: &RegisteredModel,
        key: &str,
        records: &[(SongId, Option<&[f32]>)],
    ) -> StorageResult<()> {
        let cache = st.packs.get_mut(key).ok_or_else(|| StorageError::Backend {
            backend: "local".into(),
            message: format!("vector index for {} not open", r.model.key()),
            transient: false,
        })?;
        let committed = cache.pack.append(records)?;
        cache.rows = None;
        st.manifest.packs.insert(
            key.to_owned(),
            PackEntry {
                committed,
                stamp: dir_stamp(&self.paths.model_dir(r)),
            },
        );
        write_json(&self.paths.manifest, &st.manifest)
    }

    /// The model's live rows that have metadata, shared with the cache (no copy per query).
    fn candidates(&self, st: &mut State, m: &RegisteredModel) -> StorageResult<Arc<Vec<CandRow>>> {
        self.ensure_pack(st, m)?;
        let key = m.model.file_key();
        let meta_gen = st.meta_gen;
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
        let rows: Vec<CandRow> = cache
            .pack
            .live_rows()
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

    fn search(&self, st: &mut State, q: &SearchQuery) -> StorageResult<Vec<Match>> {
        q.validate()?;
        let Some(m) = st.model(&q.model).cloned() else {
            return Ok(Vec::new());
        };
        if m.model.dim != q.model.dim {
            return Err(StorageError::DimensionMismatch {
                model: q.model.key(),
                expected: m.model.dim,
                got: q.model.dim,
            });
        }
        let rows = self.candidates(st, &m)?;
        let cache = st
            .packs
            .get(&m.model.file_key())
            .ok_or_else(|| StorageError::NotFound(m.model.key()))?;
        let exclude: HashSet<[u8; 32]> = q.exclude.iter().map(SongId::to_bytes).collect();
        let ranked = rank(&cache.pack, &rows, &st.songs, q, &exclude);
        Ok(ranked
            .into_iter()
            .skip(q.offset)
            .map(|(s, slot)| {
                let meta = st.songs[slot].clone();
                let (similarity, distance) = s;
                Match {
                    id: meta.id.clone(),
                    similarity,
                    distance,
                    metadata: meta,
                }
            })
            .collect())
    }

    fn audio_index<'a>(
        &self,
        st: &'a mut State,
    ) -> StorageResult<&'a mut HashMap<SongId, PathBuf>> {
        if st.audio.is_none() {
            let mut map = HashMap::new();
            if let Ok(entries) = fs::read_dir(&self.paths.audio) {
                for e in entries.flatten() {
                    let path = e.path();
                    let name = e.file_name();
                    let name = name.to_string_lossy();
                    if name.starts_with('.') {
                        continue;
                    }
                    let stem = name.split('.').next().unwrap_or_default();
                    if let Ok(id) = SongId::parse(stem) {
                        map.insert(id, path);
                    }
                }
            }
            st.audio = Some(map);
        }
        st.audio
            .as_mut()
            .ok_or_else(|| StorageError::NotFound("audio index".into()))
    }
}

/// Scores candidate rows and keeps the best `offset + k`; returns ((similarity, distance), slot).
fn rank(
    pack: &Pack,
    rows: &[CandRow],
    songs: &[SongMetadata],
    q: &SearchQuery,
    exclude: &HashSet<[u8; 32]>,
) -> Vec<((f32, Option<f32>), usize)> {
    let qn = math::norm(&q.vector);
    let want = q.offset + q.k;
    let scan = |base: usize, chunk: &[CandRow]| {
        let mut top: TopK<([u8; 32], u32)> = TopK::new(want);
        for (i, c) in chunk.iter().enumerate() {
            if (!exclude.is_empty() && exclude.contains(&c.row.id))
                || (!q.filter.is_empty() && !q.filter.matches(&songs[c.slot as usize]))
            {
                continue;
            }
            let d = math::dot(&q.vector, pack.vector(&c.row));
            let (s, _) = math::score(q.metric, d, qn, c.row.norm);
            if q.threshold.is_some_and(|t| s < t) || top.floor().is_some_and(|f| s < f) {
                continue;
            }
            top.push(s, (c.row.id, (base + i) as u32));
        }
        top
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let top = if rows.len() >= PARALLEL_ROWS && threads > 1 {
        let chunk = rows.len().div_ceil(threads);
        std::thread::scope(|s| {
            let handles: Vec<_> = rows
                .chunks(chunk)
                .enumerate()
                .map(|(j, c)| s.spawn(move || scan(j * chunk, c)))
                .collect();
            let mut all = TopK::new(want);
            for h in handles {
                match h.join() {
                    Ok(t) => all.merge(t),
                    Err(p) => std::panic::resume_unwind(p),
                }
            }
            all
        })
    } else {
        scan(0, rows)
    };
    top.into_sorted()
        .into_iter()
        .map(|s| {
            let c = rows[s.key.1 as usize];
            let d = math::dot(&q.vector, pack.vector(&c.row));
            (math::score(q.metric, d, qn, c.row.norm), c.slot as usize)
        })
        .collect()
}

/// Sorts like [`compare_by`], computing each song's text key once (lowercasing inside the
/// comparator would allocate O(n log n) strings).
fn sort_songs(hits: &mut Vec<&SongMetadata>, key: SortKey, descending: bool) {
    use std::cmp::Ordering;
    let text = |m: &SongMetadata| match key {
        SortKey::Title => m.title.to_lowercase(),
        SortKey::Artist => format!(
            "{}\u{0}{}",
            m.artist
                .as_deref()
                .map(str::to_lowercase)
                .unwrap_or_default(),
            m.title.to_lowercase()
        ),
        _ => String::new(),
    };
    let mut keyed: Vec<(String, &SongMetadata)> = hits.iter().map(|m| (text(m), *m)).collect();
    keyed.sort_by(|(ka, a), (kb, b)| {
        let o = match key {
            SortKey::Title => ka.cmp(kb).then_with(|| a.id.cmp(&b.id)),
            SortKey::Artist => match (&a.artist, &b.artist) {
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
                _ => ka.cmp(kb),
            }
            .then_with(|| a.id.cmp(&b.id)),
            _ => compare_by(key, a, b),
        };
        if descending { o.reverse() } else { o }
    });
    *hits = keyed.into_iter().map(|(_, m)| m).collect();
}

fn copy_hashing(src: &Path, tmp: &Path) -> StorageResult<(SongId, u64)> {
    let mut input = File::open(src).map_err(|e| StorageError::io(src, e))?;
    let result = (|| -> std::io::Result<(SongId, u64)> {
        let mut out = File::create(tmp)?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut n = 0u64;
        loop {
            let k = input.read(&mut buf)?;
            if k == 0 {
                break;
            }
            h.update(&buf[..k]);
            out.write_all(&buf[..k])?;
            n += k as u64;
        }
        out.sync_all()?;
        Ok((SongId::from_raw(&h.finalize().into()), n))
    })();
    match result {
        Ok(v) => Ok(v),
        Err(e) => {
            let _ = fs::remove_file(tmp);
            Err(StorageError::io(src, e))
        }
    }
}

/// Copies `src` to `dest` atomically if its bytes hash to `id`.
fn copy_verified(id: &SongId, src: &Path, dest: &Path) -> StorageResult<u64> {
    let tmp = fsutil::temp_path(dest);
    let (actual, n) = copy_hashing(src, &tmp)?;
    if actual != *id {
        let _ = fs::remove_file(&tmp);
        return Err(StorageError::HashMismatch {
            id: id.to_string(),
            actual: actual.to_string(),
        });
    }
    fs::rename(&tmp, dest).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        StorageError::io(dest, e)
    })?;
    if let Some(parent) = dest.parent() {
        sync_dir(parent)?;
    }
    Ok(n)
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl StorageBackend for LocalBackend {
    async fn put_audio(&self, id: &SongId, src: &Path) -> StorageResult<PutOutcome> {
        let (id, src) = (id.clone(), src.to_path_buf());
        self.blocking(move |inner| {
            inner.with_writable(|st| {
                if let Some(p) = inner.audio_index(st)?.get(&id)
                    && let Ok(meta) = fs::metadata(p)
                {
                    return Ok(PutOutcome {
                        bytes: meta.len(),
                        already_present: true,
                    });
                }
                let ext = src
                    .extension()
                    .and_then(|e| e.to_str())
                    .filter(|e| {
                        !e.is_empty()
                            && e.len() <= 8
                            && e.chars().all(|c| c.is_ascii_alphanumeric())
                    })
                    .map_or_else(|| "bin".to_owned(), str::to_ascii_lowercase);
                let dest = inner.paths.audio.join(format!("{id}.{ext}"));
                let bytes = copy_verified(&id, &src, &dest)?;
                inner.audio_index(st)?.insert(id, dest);
                Ok(PutOutcome {
                    bytes,
                    already_present: false,
                })
            })
        })
        .await
    }

    async fn get_audio(&self, id: &SongId, dest: &Path) -> StorageResult<u64> {
        let (id, dest) = (id.clone(), dest.to_path_buf());
        self.blocking(move |inner| {
            let src = inner.with_state(|st| Ok(inner.audio_index(st)?.get(&id).cloned()))?;
            let src =
                src.ok_or_else(|| StorageError::NotFound(format!("audio of song {}", id.short())))?;
            copy_verified(&id, &src, &dest)
        })
        .await
    }

    async fn audio_url(&self, id: &SongId, _expires_in: Duration) -> StorageResult<String> {
        let id = id.clone();
        self.blocking(move |inner| {
            let p = inner.with_state(|st| Ok(inner.audio_index(st)?.get(&id).cloned()))?;
            let p =
                p.ok_or_else(|| StorageError::NotFound(format!("audio of song {}", id.short())))?;
            let abs = fs::canonicalize(&p).map_err(|e| StorageError::io(&p, e))?;
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
        self.blocking(move |inner| {
            inner.with_state(|st| Ok(inner.audio_index(st)?.get(&id).is_some_and(|p| p.exists())))
        })
        .await
    }

    async fn delete_audio(&self, id: &SongId) -> StorageResult<bool> {
        let id = id.clone();
        self.blocking(move |inner| {
            inner.with_writable(|st| {
                let Some(p) = inner.audio_index(st)?.remove(&id) else {
                    return Ok(false);
                };
                match fs::remove_file(&p) {
                    Ok(()) => {
                        sync_dir(&inner.paths.audio)?;
                        Ok(true)
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
                    Err(e) => Err(StorageError::io(&p, e)),
                }
            })
        })
        .await
    }

    async fn put_embedding(&self, id: &SongId, embedding: &Embedding) -> StorageResult<()> {
        embedding.validate()?;
        let (id, e) = (id.clone(), embedding.clone());
        self.blocking(move |inner| inner.with_writable(|st| inner.write_vectors(st, &[(id, &e)])))
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

    async fn search(&self, query: &SearchQuery) -> StorageResult<Vec<Match>> {
        let q = query.clone();
        self.blocking(move |inner| inner.with_state(|st| inner.search(st, &q)))
            .await
    }

    async fn models(&self) -> StorageResult<Vec<ModelStats>> {
        self.blocking(move |inner| {
            inner.with_state(|st| {
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
        })
        .await
    }

    async fn put_metadata(&self, metadata: &SongMetadata) -> StorageResult<()> {
        metadata.check_storable()?;
        let m = metadata.clone();
        self.blocking(move |inner| {
            inner.with_writable(|st| {
                inner.append_journal(st, &[JournalRecord::Put(Box::new(m.clone()))])?;
                st.upsert(m);
                Ok(())
            })
        })
        .await
    }

    async fn get_metadata(&self, id: &SongId) -> StorageResult<Option<SongMetadata>> {
        let id = id.clone();
        self.blocking(move |inner| inner.with_state(|st| Ok(st.get(&id).cloned())))
            .await
    }

    async fn list(&self, query: &ListQuery) -> StorageResult<Page<SongMetadata>> {
        query.validate()?;
        let q = query.clone();
        self.blocking(move |inner| {
            inner.with_state(|st| {
                let start = match &q.cursor {
                    None => 0,
                    Some(c) => c
                        .parse::<usize>()
                        .map_err(|_| StorageError::InvalidInput(format!("bad cursor {c:?}")))?,
                };
                let mut hits: Vec<&SongMetadata> =
                    st.songs.iter().filter(|m| q.filter.matches(m)).collect();
                sort_songs(&mut hits, q.sort, q.descending);
                let items: Vec<SongMetadata> = hits
                    .iter()
                    .skip(start)
                    .take(q.limit)
                    .map(|m| (*m).clone())
                    .collect();
                let end = start + items.len();
                Ok(Page {
                    next: (end < hits.len()).then(|| end.to_string()),
                    items,
                })
            })
        })
        .await
    }

    async fn count(&self, filter: &Filter) -> StorageResult<u64> {
        filter.validate()?;
        let f = filter.clone();
        self.blocking(move |inner| {
            inner.with_state(|st| Ok(st.songs.iter().filter(|m| f.matches(m)).count() as u64))
        })
        .await
    }

    async fn delete_song(&self, id: &SongId) -> StorageResult<bool> {
        let id = id.clone();
        self.blocking(move |inner| {
            inner.with_writable(|st| {
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
                if let Some(p) = inner.audio_index(st)?.remove(&id) {
                    match fs::remove_file(&p) {
                        Ok(()) => sync_dir(&inner.paths.audio)?,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(StorageError::io(&p, e)),
                    }
                }
                inner.append_journal(
                    st,
                    &[JournalRecord::Delete {
                        id: id.clone(),
                        version: version + 1,
                    }],
                )?;
                st.remove(&id, version + 1);
                Ok(true)
            })
        })
        .await
    }

    async fn put_songs(&self, songs: &[SongRecord]) -> StorageResult<BatchReport> {
        let songs = songs.to_vec();
        self.blocking(move |inner| {
            inner.with_writable(|st| {
                let mut report = BatchReport::default();
                let mut ok = Vec::new();
                for s in &songs {
                    if let Err(e) = s.metadata.check_storable() {
                        report.failed.push((s.metadata.id.clone(), e.to_string()));
                        continue;
                    }
                    let check = s.embeddings.iter().try_for_each(|e| {
                        e.validate()?;
                        match st.model(&e.model) {
                            Some(r) if r.model.dim != e.model.dim => {
                                Err(StorageError::DimensionMismatch {
                                    model: e.model.key(),
                                    expected: r.model.dim,
                                    got: e.model.dim,
                                })
                            }
                            _ => Ok(()),
                        }
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
                for s in ok {
                    st.upsert(s.metadata.clone());
                    report.stored.push(s.metadata.id.clone());
                }
                Ok(report)
            })
        })
        .await
    }

    async fn get_metadata_many(&self, ids: &[SongId]) -> StorageResult<Vec<SongMetadata>> {
        let ids = ids.to_vec();
        self.blocking(move |inner| {
            inner.with_state(|st| Ok(ids.iter().filter_map(|id| st.get(id).cloned()).collect()))
        })
        .await
    }

    async fn list_versions(&self) -> StorageResult<Vec<VersionEntry>> {
        self.blocking(move |inner| {
            inner.with_state(|st| {
                let mut v: Vec<VersionEntry> = st
                    .songs
                    .iter()
                    .map(|m| VersionEntry {
                        id: m.id.clone(),
                        version: m.version,
                        content_hash: m.content_hash.clone(),
                        deleted: false,
                    })
                    .collect();
                v.extend(st.tombstones.iter().map(|(id, &version)| VersionEntry {
                    id: id.clone(),
                    version,
                    content_hash: id.to_string(),
                    deleted: true,
                }));
                v.sort_by(|a, b| a.id.cmp(&b.id));
                Ok(v)
            })
        })
        .await
    }

    async fn flush(&self) -> StorageResult<()> {
        self.blocking(move |inner| {
            let mut st = inner.lock_state()?;
            if st.lock.is_some() && st.journal_records > 0 {
                inner.compact(&mut st)?;
            }
            Ok(())
        })
        .await
    }
}
