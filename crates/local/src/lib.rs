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

/// Records the largest single allocation made by the current thread, so tests can check that
/// corrupt input does not make a parser reserve huge buffers.
#[cfg(test)]
mod alloc_probe {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    thread_local! {
        static LARGEST: Cell<usize> = const { Cell::new(0) };
    }

    struct Probe;

    // SAFETY: every call is forwarded to the system allocator unchanged.
    unsafe impl GlobalAlloc for Probe {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            note(layout.size());
            // SAFETY: forwarded with the caller's layout.
            unsafe { System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: forwarded with the caller's pointer and layout.
            unsafe { System.dealloc(ptr, layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            note(new_size);
            // SAFETY: forwarded with the caller's arguments.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    fn note(size: usize) {
        let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
    }

    #[global_allocator]
    static PROBE: Probe = Probe;

    /// Forgets earlier allocations of this thread.
    pub fn reset() {
        LARGEST.with(|l| l.set(0));
    }

    /// The largest allocation this thread made since [`reset`].
    pub fn largest() -> usize {
        LARGEST.with(Cell::get)
    }
}
#[cfg(test)]
mod fuzz_replay;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, Write};
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
    #[cfg(test)]
    faults: tests::Faults,
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
    /// Identity of the mapped file (a rebuild replaces the file, maybe at the same length).
    file: Option<u64>,
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
    /// Bytes of the journal replayed: the end of its last complete record, where the next
    /// record goes.
    journal_len: u64,
    /// Identity of the journal file replayed (a compaction replaces the file).
    journal_id: Option<u64>,
    /// Replay skipped fragments of failed appends: the next writer rewrites the journal.
    journal_repaired: bool,
    /// Stamps of the files this state was loaded from, so a reader notices other processes'
    /// writes.
    seen: Seen,
    manifest: Manifest,
    packs: HashMap<String, PackCache>,
    /// Packs built in this process's memory because the index could not be written, with the
    /// stamp of the `.npy` folder they were built from.
    private: HashMap<String, Option<u128>>,
    audio: Option<HashMap<SongId, PathBuf>>,
    /// Stamp of the audio folder when `audio` was listed (a reader lists it again when it moves).
    audio_stamp: Option<u128>,
}

/// Size, modification time (ns) and identity of a file.
type FileStamp = (u64, u128, u64);

/// The small index files are compared by content: file times are only as fine as the kernel's
/// clock tick, and a replaced file may get the inode of the one it replaced, so two writes in
/// one tick can leave the same size, time and inode.
#[derive(Default)]
struct Seen {
    metadata: Option<FileStamp>,
    tombstones: Option<FileStamp>,
    registry: Option<Vec<u8>>,
    manifest: Option<Vec<u8>>,
}

/// A file's bytes, `None` if it does not exist.
fn read_opt(path: &Path) -> StorageResult<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StorageError::io(path, e)),
    }
}

/// Parses JSON bytes read with [`read_opt`] (a missing file is the default value).
fn parse_json<T: for<'de> Deserialize<'de> + Default>(
    path: &Path,
    bytes: Option<&[u8]>,
) -> StorageResult<T> {
    bytes.map_or_else(
        || Ok(T::default()),
        |b| serde_json::from_slice(b).map_err(|e| StorageError::corrupt(path, e.to_string())),
    )
}

fn file_id(m: &fs::Metadata) -> u64 {
    #[cfg(unix)]
    {
        std::os::unix::fs::MetadataExt::ino(m)
    }
    #[cfg(not(unix))]
    {
        m.created()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as u64)
    }
}

fn file_stamp(path: &Path) -> Option<FileStamp> {
    let m = fs::metadata(path).ok()?;
    let mtime = m
        .modified()
        .ok()?
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_nanos();
    Some((m.len(), mtime, file_id(&m)))
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
                #[cfg(test)]
                faults: tests::Faults::default(),
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

/// What a pass over journal bytes found.
struct JournalScan {
    records: Vec<JournalRecord>,
    /// Byte range of each record's text (without its newline).
    ranges: Vec<std::ops::Range<usize>>,
    /// Bytes up to the end of the last complete line.
    consumed: usize,
    /// The bytes end with a line that has no newline yet (a torn or an in-progress write).
    torn_tail: bool,
    /// Line numbers where the start of a failed write was dropped before a complete record.
    repaired: Vec<usize>,
}

/// Parses journal lines. `before` is the number of records before these bytes (for messages).
///
/// A line that is not a record is corruption and an error, with one exception that is safe to
/// repair: the incomplete start of a record whose append failed (a full disk), followed on the
/// same line by a complete record appended later by a version that did not roll the failed
/// write back. The fragment is provably not a record (it is JSON cut short) and was never
/// acknowledged, so it is dropped and the complete record after it kept.
fn scan_journal(bytes: &[u8], before: usize) -> Result<JournalScan, String> {
    let mut scan = JournalScan {
        records: Vec::new(),
        ranges: Vec::new(),
        consumed: 0,
        torn_tail: false,
        repaired: Vec::new(),
    };
    let mut pos = 0;
    while pos < bytes.len() {
        let Some(nl) = bytes[pos..].iter().position(|&b| b == b'\n') else {
            scan.torn_tail = true;
            break;
        };
        let line = &bytes[pos..pos + nl];
        let n = before + scan.records.len() + 1;
        let (rec, start) = match serde_json::from_slice::<JournalRecord>(line) {
            Ok(rec) => (rec, 0),
            Err(e) => match recover_torn_line(line) {
                Some((rec, start)) => {
                    scan.repaired.push(n);
                    (rec, start)
                }
                None => return Err(format!("record {n}: {e}")),
            },
        };
        scan.records.push(rec);
        scan.ranges.push(pos + start..pos + nl);
        pos += nl + 1;
        scan.consumed = pos;
    }
    Ok(scan)
}

/// Splits a line made of one or more fragments of records cut short, then one complete record;
/// returns the record and where it starts. Fragments and the record all start where a record
/// starts (`{"put":` or `{"delete":`), and every fragment must be JSON cut short, not
/// malformed.
fn recover_torn_line(line: &[u8]) -> Option<(JournalRecord, usize)> {
    const STARTS: [&[u8]; 2] = [b"{\"put\":", b"{\"delete\":"];
    let starts: Vec<usize> = (0..line.len())
        .filter(|&i| STARTS.iter().any(|s| line[i..].starts_with(s)))
        .take(64)
        .collect();
    if starts.first() != Some(&0) {
        return None;
    }
    let cut_short =
        |seg: &[u8]| serde_json::from_slice::<serde_json::Value>(seg).is_err_and(|e| e.is_eof());
    // reach[k]: the bytes before starts[k] are nothing but fragments cut short.
    let mut reach = vec![false; starts.len()];
    reach[0] = true;
    for j in 1..starts.len() {
        reach[j] = (0..j).any(|k| reach[k] && cut_short(&line[starts[k]..starts[j]]));
        if reach[j]
            && let Ok(rec) = serde_json::from_slice::<JournalRecord>(&line[starts[j]..])
        {
            return Some((rec, starts[j]));
        }
    }
    None
}

impl Inner {
    fn lock_state(&self) -> StorageResult<MutexGuard<'_, State>> {
        self.state.lock().map_err(|_| StorageError::Backend {
            backend: "local".into(),
            message: "internal state poisoned by an earlier panic".into(),
            transient: false,
        })
    }

    /// Runs `f` on the current state. A reader (no write lock) first catches up with what
    /// other processes committed since it last looked.
    fn with_state<T>(&self, f: impl FnOnce(&mut State) -> StorageResult<T>) -> StorageResult<T> {
        let mut st = self.lock_state()?;
        if !st.loaded {
            self.load(&mut st)?;
        } else if st.lock.is_none() {
            self.refresh(&mut st)?;
        }
        f(&mut st)
    }

    /// Brings a reader's state up to date with other processes' commits, doing work in
    /// proportion to the changes: a few `stat`s when nothing changed, the new journal records
    /// when a writer appended, a reload after a writer folded the journal into `metadata.json`.
    fn refresh(&self, st: &mut State) -> StorageResult<()> {
        let p = &self.paths;
        let replaced = file_stamp(&p.metadata) != st.seen.metadata
            || file_stamp(&p.tombstones) != st.seen.tombstones;
        if replaced || !self.replay_journal(st, true)? {
            self.reload(st)?;
        }
        let registry = read_opt(&p.registry)?;
        if registry != st.seen.registry {
            st.registry = parse_json(&p.registry, registry.as_deref())?;
            st.seen.registry = registry;
            if st.registry.models.is_empty() {
                self.adopt_legacy_vectors(st)?;
            }
        }
        self.reread_manifest(st)
    }

    /// Reads the manifest again if its content changed.
    fn reread_manifest(&self, st: &mut State) -> StorageResult<()> {
        let manifest = read_opt(&self.paths.manifest)?;
        if manifest != st.seen.manifest {
            st.manifest = parse_json(&self.paths.manifest, manifest.as_deref())?;
            st.seen.manifest = manifest;
        }
        Ok(())
    }

    /// Loads the state afresh, keeping the mapped packs (checked against the manifest on use).
    fn reload(&self, st: &mut State) -> StorageResult<()> {
        #[cfg(test)]
        self.faults
            .reloads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let packs = std::mem::take(&mut st.packs);
        let private = std::mem::take(&mut st.private);
        let (audio, audio_stamp) = (st.audio.take(), st.audio_stamp);
        *st = State {
            packs,
            private,
            audio,
            audio_stamp,
            ..State::default()
        };
        self.load(st)
    }

    /// Takes the write lock (once; kept until the backend is dropped), reloading state first
    /// so writes never build on a stale view.
    fn with_writable<T>(&self, f: impl FnOnce(&mut State) -> StorageResult<T>) -> StorageResult<T> {
        let mut st = self.lock_state()?;
        if st.lock.is_none() {
            mkdirs(&self.paths.internal)?;
            let lock = WriteLock::acquire(&self.root, &self.paths.lock)?;
            let listed = st.audio_stamp;
            let keep_audio = st
                .audio
                .take()
                .filter(|_| listed.is_some() && listed == dir_stamp(&self.paths.audio));
            *st = State::default();
            st.audio = keep_audio;
            self.load(&mut st)?;
            st.lock = Some(lock);
            for d in [&self.paths.audio, &self.paths.embeddings, &self.paths.index] {
                mkdirs(d)?;
            }
            self.repair_journal(&mut st)?;
        }
        f(&mut st)
    }

    fn load(&self, st: &mut State) -> StorageResult<()> {
        let p = &self.paths;
        // Stamps are taken before the files are read: a change in between is seen next time.
        st.seen = Seen {
            metadata: file_stamp(&p.metadata),
            tombstones: file_stamp(&p.tombstones),
            registry: read_opt(&p.registry)?,
            manifest: read_opt(&p.manifest)?,
        };
        st.registry = parse_json(&p.registry, st.seen.registry.as_deref())?;
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
        st.manifest = parse_json(&p.manifest, st.seen.manifest.as_deref())?;
        self.replay_journal(st, false)?;
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
                let v = match npy::read_checked(&path)? {
                    Ok(v) => v,
                    Err(why) => {
                        tracing::warn!("skipping {}: {why}", path.display());
                        continue;
                    }
                };
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

    /// Replays the journal from the start, or (`tail`) only what was appended since the last
    /// replay. Returns false, having applied nothing, when the tail cannot be replayed because
    /// the journal was replaced (a compaction) or shrank: the caller reloads.
    fn replay_journal(&self, st: &mut State, tail: bool) -> StorageResult<bool> {
        let path = &self.paths.journal;
        let mut file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(!tail || st.journal_id.is_none());
            }
            Err(e) => return Err(StorageError::io(path, e)),
        };
        let meta = file.metadata().map_err(|e| StorageError::io(path, e))?;
        let id = file_id(&meta);
        let from = if tail {
            if st.journal_id != Some(id) || meta.len() < st.journal_len {
                return Ok(false);
            }
            if meta.len() == st.journal_len {
                return Ok(true);
            }
            st.journal_len
        } else {
            0
        };
        let mut bytes = Vec::new();
        file.seek(std::io::SeekFrom::Start(from))
            .and_then(|_| file.read_to_end(&mut bytes))
            .map_err(|e| StorageError::io(path, e))?;
        let scan = scan_journal(&bytes, st.journal_records)
            .map_err(|detail| StorageError::corrupt(path, detail))?;
        if scan.torn_tail && !tail {
            // The write that produced it never completed (no fsync ack); a writer cuts it.
            tracing::warn!("ignoring an incomplete last record in {}", path.display());
        }
        if !scan.repaired.is_empty() {
            tracing::warn!(
                "{}: dropped the incomplete start of a failed write before record(s) {:?}; \
                 every complete record was kept",
                path.display(),
                scan.repaired
            );
            st.journal_repaired = true;
        }
        for rec in scan.records {
            match rec {
                JournalRecord::Put(m) => st.upsert(*m),
                JournalRecord::Delete { id, version } => st.remove(&id, version),
            }
            st.journal_records += 1;
        }
        st.journal_len = from + scan.consumed as u64;
        st.journal_id = Some(id);
        Ok(true)
    }

    /// With the write lock just taken: rewrites a journal whose replay skipped fragments of
    /// failed appends (keeping every complete record byte for byte), or cuts an incomplete
    /// last record, so the next record starts on a clean line.
    fn repair_journal(&self, st: &mut State) -> StorageResult<()> {
        let path = &self.paths.journal;
        if st.journal_repaired {
            let bytes = fs::read(path).map_err(|e| StorageError::io(path, e))?;
            let scan =
                scan_journal(&bytes, 0).map_err(|detail| StorageError::corrupt(path, detail))?;
            write_atomic(path, |w| {
                for r in &scan.ranges {
                    w.write_all(&bytes[r.clone()])?;
                    w.write_all(b"\n")?;
                }
                Ok(())
            })?;
            tracing::warn!(
                "{}: rewrote the journal without the incomplete fragments",
                path.display()
            );
            st.journal_repaired = false;
            st.journal_len = scan.ranges.iter().map(|r| r.len() as u64 + 1).sum();
            st.journal_id = fs::metadata(path).ok().map(|m| file_id(&m));
            return Ok(());
        }
        let Ok(f) = OpenOptions::new().write(true).open(path) else {
            return Ok(());
        };
        let len = f.metadata().map_err(|e| StorageError::io(path, e))?.len();
        if len > st.journal_len {
            f.set_len(st.journal_len)
                .and_then(|()| f.sync_all())
                .map_err(|e| StorageError::io(path, e))?;
        }
        Ok(())
    }

    /// Appends records and fsyncs them; they count only once this returns. A failed write or
    /// fsync (a full disk) is rolled back to the last complete record, so the next append
    /// never lands after a fragment.
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
        let io = |e| StorageError::io(path, e);
        let mut f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(io)?;
        let good = st.journal_len;
        let len = f.metadata().map_err(io)?.len();
        if len < good {
            return Err(StorageError::corrupt(
                path,
                format!("shrank from {good} to {len} bytes while this process held the write lock"),
            ));
        }
        if len > good {
            // What an earlier failed append could not roll back.
            f.set_len(good).map_err(io)?;
        }
        let written = f
            .seek(std::io::SeekFrom::Start(good))
            .and_then(|_| self.write_journal_bytes(&mut f, &buf))
            .and_then(|()| f.sync_data());
        if let Err(e) = written {
            if let Err(undo) = f.set_len(good).and_then(|()| f.sync_data()) {
                tracing::warn!(
                    "could not roll back a failed append to {} ({undo}); the next write or open \
                     cuts it",
                    path.display()
                );
            }
            return Err(io(e));
        }
        st.journal_len = good + buf.len() as u64;
        st.journal_records += recs.len();
        if st.journal_records >= COMPACT_AFTER {
            self.compact(st)?;
        }
        Ok(())
    }

    fn write_journal_bytes(&self, f: &mut File, buf: &[u8]) -> std::io::Result<()> {
        #[cfg(test)]
        if let Some(n) = self.faults.take_journal_fault() {
            f.write_all(&buf[..n.min(buf.len())])?;
            return Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "no space left on device (injected)",
            ));
        }
        f.write_all(buf)
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
        st.journal_len = 0;
        st.journal_id = fs::metadata(&self.paths.journal).ok().map(|m| file_id(&m));
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
        if model.dim == 0 {
            return Err(StorageError::InvalidInput(format!(
                "model {} has dimension 0",
                model.key()
            )));
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
    /// held); otherwise builds a private copy in this process's memory. A vector that cannot be
    /// searched (NaN, infinity, overflowing norm) is skipped with a message.
    fn rebuild_pack(
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
                    rows: None,
                },
            );
            st.private.insert(key, stamp);
            return Ok(());
        }
        mkdirs(&self.paths.index)?;
        let committed = Pack::build(&path, m.model.dim, rows)?;
        let cache = self.open_pack(m, committed)?;
        st.manifest
            .packs
            .insert(key.clone(), PackEntry { committed, stamp });
        write_json(&self.paths.manifest, &st.manifest)?;
        st.seen.manifest = read_opt(&self.paths.manifest)?;
        st.private.remove(&key);
        st.packs.insert(key, cache);
        Ok(())
    }

    /// Maps a model's pack file, noting which file it is.
    fn open_pack(&self, m: &RegisteredModel, committed: usize) -> StorageResult<PackCache> {
        let path = self.paths.pack(m);
        // The identity is taken first: if the file is replaced in between, the next look sees
        // a different file and maps it again.
        let file = fs::metadata(&path).ok().map(|m| file_id(&m));
        Ok(PackCache {
            pack: Pack::open(&path, m.model.dim, committed)?,
            file,
            rows: None,
        })
    }

    /// Makes sure the model's pack is open and in step with its `.npy` folder.
    ///
    /// A reader never writes the index while a writer holds the lock: it keeps using the last
    /// committed pack (the writer brings it in step), or builds one in memory if there is none.
    /// When no writer is at work, it takes the lock for the rebuild, starting from the
    /// manifest on disk, never from its own older copy.
    fn ensure_pack(&self, st: &mut State, m: &RegisteredModel) -> StorageResult<()> {
        let key = m.model.file_key();
        let stamp = dir_stamp(&self.paths.model_dir(m));
        let entry = st.manifest.packs.get(&key).cloned();
        // Committed length of the open pack, if it is the shared file as it is now.
        let pack_path = self.paths.pack(m);
        let open_committed = |st: &State, key: &str| {
            let file = fs::metadata(&pack_path).ok().map(|m| file_id(&m));
            st.packs
                .get(key)
                .filter(|c| c.file.is_some() && c.file == file)
                .map(|c| c.pack.committed())
        };
        let fresh = entry
            .as_ref()
            .is_some_and(|e| e.stamp == stamp && stamp.is_some());
        if let (true, Some(e)) = (fresh, &entry) {
            if open_committed(st, &key) == Some(e.committed) {
                return Ok(());
            }
            match self.open_pack(m, e.committed) {
                Ok(cache) => {
                    st.private.remove(&key);
                    st.packs.insert(key, cache);
                    return Ok(());
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
        match WriteLock::acquire(&self.root, &self.paths.lock) {
            Ok(lock) => {
                let bytes = read_opt(&self.paths.manifest)?;
                st.manifest = parse_json(&self.paths.manifest, bytes.as_deref())?;
                st.seen.manifest = bytes;
                if let Some(e) = st.manifest.packs.get(&key)
                    && e.stamp == stamp
                    && stamp.is_some()
                    && let Ok(cache) = self.open_pack(m, e.committed)
                {
                    // Another process brought it in step meanwhile.
                    st.private.remove(&key);
                    st.packs.insert(key, cache);
                    return Ok(());
                }
                let rebuilt = self.rebuild_pack(st, m, true);
                drop(lock);
                rebuilt
            }
            Err(StorageError::Locked { .. }) => {
                if let Some(e) = &entry {
                    if open_committed(st, &key) == Some(e.committed) {
                        return Ok(());
                    }
                    match self.open_pack(m, e.committed) {
                        Ok(cache) => {
                            st.private.remove(&key);
                            st.packs.insert(key, cache);
                            return Ok(());
                        }
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

    fn write_vectors(&self, st: &mut State, items: &[(SongId, &Embedding)]) -> StorageResult<()> {
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
        if math::checked_norm(&q.vector).is_none() {
            return Err(StorageError::InvalidInput(
                "the query vector's norm overflows float32".into(),
            ));
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
        let stamp = dir_stamp(&self.paths.audio);
        if st.audio.is_none() || (st.lock.is_none() && stamp != st.audio_stamp) {
            st.audio_stamp = stamp;
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

/// Refuses a vector that could not be searched: a norm that overflows `f32` (`[3e38, 3e38]`),
/// beyond what [`Embedding::validate`] checks.
fn check_vector(id: &SongId, e: &Embedding) -> StorageResult<()> {
    match npy::unusable(&e.vector) {
        Some(why) => Err(StorageError::InvalidInput(format!(
            "vector of song {} for model {}: {why}",
            id.short(),
            e.model.key()
        ))),
        None => Ok(()),
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
                        check_vector(&s.metadata.id, e)?;
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use songrec_storage::Metric;

    /// Test seams: injected write failures and counters of expensive work.
    #[derive(Default)]
    pub(super) struct Faults {
        /// Write this many bytes of the next journal append, then fail as a full disk does.
        journal_write: Mutex<Option<usize>>,
        /// Packs rebuilt from the `.npy` files.
        pub(super) rebuilds: AtomicUsize,
        /// Full reloads of a reader's state.
        pub(super) reloads: AtomicUsize,
    }

    impl Faults {
        pub(super) fn take_journal_fault(&self) -> Option<usize> {
            self.journal_write.lock().unwrap().take()
        }
    }

    fn model() -> ModelInfo {
        ModelInfo::new("m", "1", 4)
    }

    fn song(i: u32) -> SongMetadata {
        SongMetadata::new(SongId::from_bytes(&i.to_le_bytes()), format!("Song {i}"))
    }

    fn record(i: u32, v: [f32; 4]) -> SongRecord {
        SongRecord {
            metadata: song(i),
            embeddings: vec![Embedding::new(model(), v.to_vec()).unwrap()],
        }
    }

    async fn ids(b: &LocalBackend) -> Vec<SongId> {
        let mut v: Vec<SongId> = b
            .list_versions()
            .await
            .unwrap()
            .into_iter()
            .filter(|e| !e.deleted)
            .map(|e| e.id)
            .collect();
        v.sort();
        v
    }

    fn sorted(v: impl IntoIterator<Item = u32>) -> Vec<SongId> {
        let mut v: Vec<SongId> = v.into_iter().map(|i| song(i).id).collect();
        v.sort();
        v
    }

    async fn top(b: &LocalBackend, v: [f32; 4]) -> SongId {
        b.search(&SearchQuery::new(model(), v.to_vec(), 1))
            .await
            .unwrap()[0]
            .id
            .clone()
    }

    fn journal(dir: &Path) -> PathBuf {
        dir.join("data/.songrec/journal.jsonl")
    }

    #[tokio::test]
    async fn a_failed_journal_append_is_rolled_back_and_the_library_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::open(dir.path()).unwrap();
        b.put_metadata(&song(1)).await.unwrap();
        // The disk fills up in the middle of the next record.
        b.inner.faults.journal_write.lock().unwrap().replace(17);
        let err = b.put_metadata(&song(2)).await.unwrap_err();
        assert!(err.to_string().contains("no space left"), "{err}");
        assert!(b.get_metadata(&song(2).id).await.unwrap().is_none());
        // Space is freed; ingest goes on.
        b.put_metadata(&song(3)).await.unwrap();
        // A fragment that a failed roll-back left behind is cut before the next record too.
        let mut f = OpenOptions::new()
            .append(true)
            .open(journal(dir.path()))
            .unwrap();
        f.write_all(b"{\"put\":{\"id\":\"ab").unwrap();
        b.put_metadata(&song(4)).await.unwrap();
        drop(b);
        let text = fs::read_to_string(journal(dir.path())).unwrap();
        assert_eq!(text.lines().count(), 3, "{text}");
        let b = LocalBackend::open(dir.path()).unwrap();
        assert_eq!(ids(&b).await, sorted([1, 3, 4]));
    }

    #[tokio::test]
    async fn a_fragment_before_good_records_is_dropped_and_every_record_kept() {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::open(dir.path()).unwrap();
        for i in 1..=4 {
            b.put_metadata(&song(i)).await.unwrap();
        }
        drop(b);
        // What a version without roll-back left after a full disk: the start of a record,
        // then (same line) the next records, committed after space was freed.
        let text = fs::read_to_string(journal(dir.path())).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let torn = format!(
            "{}\n{}{}\n{}{}{}\n{}\n",
            lines[0],
            &lines[1][..30],
            lines[2],
            &lines[1][..9],
            &lines[1][..22],
            lines[3],
            lines[1]
        );
        fs::write(journal(dir.path()), &torn).unwrap();
        // A reader opens it with every complete record and leaves the file alone.
        let r = LocalBackend::open(dir.path()).unwrap();
        assert_eq!(ids(&r).await, sorted([1, 2, 3, 4]));
        assert_eq!(fs::read_to_string(journal(dir.path())).unwrap(), torn);
        drop(r);
        // A writer rewrites it without the fragments, the complete records byte for byte.
        let w = LocalBackend::open(dir.path()).unwrap();
        w.put_metadata(&song(5)).await.unwrap();
        drop(w);
        let repaired = fs::read_to_string(journal(dir.path())).unwrap();
        let kept: Vec<&str> = repaired.lines().collect();
        assert_eq!(kept[..4], [lines[0], lines[2], lines[3], lines[1]]);
        assert_eq!(kept.len(), 5);
        let b = LocalBackend::open(dir.path()).unwrap();
        assert_eq!(ids(&b).await, sorted([1, 2, 3, 4, 5]));
    }

    #[test]
    fn only_fragments_cut_short_are_dropped() {
        let good = br#"{"delete":{"id":"00","version":2}}"#;
        let id = song(1).id;
        let rec = format!(r#"{{"delete":{{"id":"{id}","version":2}}}}"#);
        assert!(serde_json::from_str::<JournalRecord>(&rec).is_ok());
        // Malformed (not merely cut short) text before a record is corruption, not a fragment.
        for bad in [
            format!(r#"{{"put":{{"id":"x"}}}}{rec}"#),
            format!(r#"{{"put":]{rec}"#),
            format!(r#"xx{rec}"#),
            format!("{rec}{rec}"),
        ] {
            let err = scan_journal(format!("{bad}\n").as_bytes(), 7)
                .err()
                .unwrap_or_else(|| panic!("accepted {bad}"));
            assert!(err.starts_with("record 8:"), "{err}");
        }
        let ok = scan_journal(format!("{{\"delete\":{{\"id\":\"{rec}\n").as_bytes(), 0).unwrap();
        assert_eq!(ok.repaired, vec![1]);
        assert_eq!(ok.records.len(), 1);
        // The last line without its newline is not consumed (a write in progress or torn).
        let bytes = format!("{rec}\n{}", std::str::from_utf8(good).unwrap());
        let s = scan_journal(bytes.as_bytes(), 0).unwrap();
        assert!(s.torn_tail && s.consumed == rec.len() + 1 && s.records.len() == 1);
    }

    #[tokio::test]
    async fn a_reader_sees_other_writers_commits_with_work_in_proportion() {
        let dir = tempfile::tempdir().unwrap();
        let w = LocalBackend::open(dir.path()).unwrap();
        w.put_songs(&[
            record(1, [1.0, 0.0, 0.0, 0.0]),
            record(2, [0.0, 1.0, 0.0, 0.0]),
        ])
        .await
        .unwrap();
        let r = LocalBackend::open(dir.path()).unwrap();
        assert_eq!(ids(&r).await, sorted([1, 2]));
        assert_eq!(top(&r, [1.0, 0.1, 0.0, 0.0]).await, song(1).id);
        let audio = dir.path().join("clip.ogg");
        fs::write(&audio, b"clip 3").unwrap();
        let audio_id = SongId::from_bytes(b"clip 3");
        assert!(!r.has_audio(&audio_id).await.unwrap());
        let reloads = || r.inner.faults.reloads.load(Ordering::Relaxed);
        let before = reloads();

        // Appends are replayed from the journal's tail, packs remapped.
        w.put_songs(&[record(3, [0.0, 0.0, 1.0, 0.0])])
            .await
            .unwrap();
        w.put_audio(&audio_id, &audio).await.unwrap();
        assert_eq!(ids(&r).await, sorted([1, 2, 3]));
        assert_eq!(top(&r, [0.0, 0.0, 1.0, 0.0]).await, song(3).id);
        assert!(r.has_audio(&audio_id).await.unwrap());
        w.delete_song(&song(1).id).await.unwrap();
        assert_eq!(ids(&r).await, sorted([2, 3]));
        assert_eq!(top(&r, [1.0, 0.1, 0.0, 0.0]).await, song(2).id);
        // A new model.
        let m2 = ModelInfo::new("other", "2", 2);
        w.put_embedding(
            &song(2).id,
            &Embedding::new(m2.clone(), vec![1.0, 2.0]).unwrap(),
        )
        .await
        .unwrap();
        let models = r.models().await.unwrap();
        assert_eq!(models.len(), 2);
        assert_eq!(models[1].model, m2);
        assert_eq!(models[1].count, 1);
        assert_eq!(reloads(), before, "appends need no full reload");

        // Folding the journal into metadata.json replaces files: one reload.
        w.put_songs(&[record(4, [0.0, 0.0, 0.0, 1.0])])
            .await
            .unwrap();
        w.flush().await.unwrap();
        assert_eq!(ids(&r).await, sorted([2, 3, 4]));
        assert_eq!(top(&r, [0.0, 0.0, 0.0, 1.0]).await, song(4).id);
        assert_eq!(reloads(), before + 1);
        assert_eq!(ids(&r).await, sorted([2, 3, 4]));
        assert_eq!(reloads(), before + 1, "nothing changed, nothing reloaded");
        assert_eq!(r.inner.faults.rebuilds.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn a_writer_appends_without_rereading_the_vector_folder() {
        let dir = tempfile::tempdir().unwrap();
        let w = LocalBackend::open(dir.path()).unwrap();
        for i in 0..4 {
            w.put_songs(&[record(i, [i as f32 + 1.0, 1.0, 0.0, 0.0])])
                .await
                .unwrap();
        }
        // One build when the pack is first needed; every later batch only appends.
        assert_eq!(w.inner.faults.rebuilds.load(Ordering::Relaxed), 1);
        assert_eq!(w.models().await.unwrap()[0].count, 4);
    }

    #[tokio::test]
    async fn a_reader_never_rolls_back_the_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let m2 = ModelInfo::new("other", "2", 2);
        let w = LocalBackend::open(dir.path()).unwrap();
        w.put_songs(&[record(1, [1.0, 0.0, 0.0, 0.0])])
            .await
            .unwrap();
        w.put_embedding(
            &song(1).id,
            &Embedding::new(m2.clone(), vec![1.0, 2.0]).unwrap(),
        )
        .await
        .unwrap();
        drop(w);
        let r = LocalBackend::open(dir.path()).unwrap();
        assert_eq!(r.models().await.unwrap().len(), 2);
        // Another process adds a vector of the second model and exits.
        let w = LocalBackend::open(dir.path()).unwrap();
        w.put_songs(&[SongRecord {
            metadata: song(2),
            embeddings: vec![Embedding::new(m2.clone(), vec![3.0, 4.0]).unwrap()],
        }])
        .await
        .unwrap();
        drop(w);
        let manifest = dir.path().join("data/.songrec/index/manifest.json");
        let committed = |key: &str| -> u64 {
            let m: serde_json::Value =
                serde_json::from_slice(&fs::read(&manifest).unwrap()).unwrap();
            m["packs"][key]["committed"].as_u64().unwrap()
        };
        let m2_len = committed("other-2");
        // Another tool drops a vector into the first model's folder: the reader rebuilds that
        // model's pack (no writer is at work) and records it in the manifest.
        let s = song(9);
        fs::write(
            dir.path().join(format!("data/embeddings/{}.npy", s.id)),
            npy::encode(&[0.0, 0.0, 1.0, 0.0]),
        )
        .unwrap();
        let rebuilds = r.inner.faults.rebuilds.load(Ordering::Relaxed);
        r.search(&SearchQuery::new(model(), vec![1.0, 0.0, 0.0, 0.0], 1))
            .await
            .unwrap();
        assert_eq!(
            r.inner.faults.rebuilds.load(Ordering::Relaxed),
            rebuilds + 1
        );
        assert_eq!(
            committed("other-2"),
            m2_len,
            "the other model's pack was rolled back"
        );
        let counts: Vec<u64> = r.models().await.unwrap().iter().map(|m| m.count).collect();
        assert_eq!(counts, vec![1, 2]);
    }

    #[tokio::test]
    async fn a_reader_serves_the_committed_pack_while_a_writer_works() {
        let dir = tempfile::tempdir().unwrap();
        let w = LocalBackend::open(dir.path()).unwrap();
        w.put_songs(&[
            record(1, [1.0, 0.0, 0.0, 0.0]),
            record(2, [0.0, 1.0, 0.0, 0.0]),
        ])
        .await
        .unwrap();
        let r = LocalBackend::open(dir.path()).unwrap();
        assert_eq!(top(&r, [0.0, 1.0, 0.0, 0.0]).await, song(2).id);
        // The vector folder moves while the writer holds the lock (as it does between the
        // writer's own .npy writes and its index update).
        fs::write(
            dir.path()
                .join(format!("data/embeddings/{}.npy", song(9).id)),
            npy::encode(&[0.0, 0.0, 1.0, 0.0]),
        )
        .unwrap();
        for _ in 0..3 {
            assert_eq!(top(&r, [0.0, 1.0, 0.0, 0.0]).await, song(2).id);
        }
        assert_eq!(
            r.inner.faults.rebuilds.load(Ordering::Relaxed),
            0,
            "a reader re-read every .npy file"
        );
        // Once the writer brings the index in step, the reader follows.
        w.put_songs(&[record(3, [0.0, 0.0, 0.0, 1.0])])
            .await
            .unwrap();
        assert_eq!(top(&r, [0.0, 0.0, 0.0, 1.0]).await, song(3).id);
        assert_eq!(r.inner.faults.rebuilds.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn a_private_index_uses_no_shared_temporary_file() {
        // A library written by the Python tool, on a read-only medium: no bookkeeping folder,
        // so the index is built for this process only.
        let dir = tempfile::tempdir().unwrap();
        let emb = dir.path().join("lib/data/embeddings");
        fs::create_dir_all(&emb).unwrap();
        for i in 0..2u32 {
            let v = [i as f32, 1.0, 0.0, 0.0];
            fs::write(emb.join(format!("{}.npy", song(i).id)), npy::encode(&v)).unwrap();
        }
        // Someone else on the machine plants a symlink where a predictable name would be.
        let victim = dir.path().join("victim");
        fs::write(&victim, b"precious").unwrap();
        let planted = std::env::temp_dir().join(format!(
            "songrec-pack-{}-legacy-0.2.tmp",
            std::process::id()
        ));
        let _ = fs::remove_file(&planted);
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        let b = LocalBackend::open(dir.path().join("lib")).unwrap();
        let models = b.models().await;
        let _ = fs::remove_file(&planted);
        assert_eq!(models.unwrap()[0].count, 0, "no metadata: no candidates");
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        assert!(
            !dir.path().join("lib/data/.songrec").exists(),
            "nothing written"
        );
        // The in-memory index is reused while the folder does not change.
        b.models().await.unwrap();
        assert_eq!(b.inner.faults.rebuilds.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn vectors_that_cannot_be_searched_are_refused_or_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::open(dir.path()).unwrap();
        b.put_songs(&[record(1, [1.0, 0.0, 0.0, 0.0])])
            .await
            .unwrap();
        // Finite values whose norm overflows: refused with a typed error, nothing stored.
        let huge = Embedding::new(model(), vec![3e38, 3e38, 0.0, 0.0]).unwrap();
        let err = b.put_embedding(&song(2).id, &huge).await.unwrap_err();
        assert!(
            matches!(&err, StorageError::InvalidInput(m) if m.contains("norm")),
            "{err}"
        );
        let report = b
            .put_songs(&[
                record(3, [0.0, 1.0, 0.0, 0.0]),
                SongRecord {
                    metadata: song(2),
                    embeddings: vec![huge.clone()],
                },
            ])
            .await
            .unwrap();
        assert_eq!(report.stored, vec![song(3).id]);
        assert_eq!(report.failed.len(), 1);
        assert!(b.get_metadata(&song(2).id).await.unwrap().is_none());
        let q = SearchQuery::new(model(), vec![3e38, 3e38, 0.0, 0.0], 1);
        assert!(matches!(
            b.search(&q).await.unwrap_err(),
            StorageError::InvalidInput(_)
        ));
        // Files another tool wrote: NaN, infinity, a float64 beyond float32's range. The index
        // skips them (with a message); the rest stays searchable.
        let emb = dir.path().join("data/embeddings");
        let mut f8 = b"\x93NUMPY\x01\x00".to_vec();
        let dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }\n";
        f8.extend_from_slice(&(dict.len() as u16).to_le_bytes());
        f8.extend_from_slice(dict.as_bytes());
        for x in [1e300f64, 0.0, 0.0, 0.0] {
            f8.extend_from_slice(&x.to_le_bytes());
        }
        for (i, bytes) in [
            (4u32, npy::encode(&[f32::NAN, 1.0, 0.0, 0.0])),
            (5, npy::encode(&[-f32::NAN, 1.0, 0.0, 0.0])),
            (6, npy::encode(&[f32::INFINITY, 0.0, 0.0, 0.0])),
            (7, f8),
        ] {
            fs::write(emb.join(format!("{}.npy", song(i).id)), bytes).unwrap();
            b.put_metadata(&song(i)).await.unwrap();
        }
        b.reindex().await.unwrap();
        for v in [
            [1.0, 0.0, 0.0, 0.0],
            [0.0, 1.0, 0.0, 0.0],
            [-1.0, -1.0, 0.0, 0.0],
        ] {
            for metric in [Metric::Cosine, Metric::Dot, Metric::L2] {
                let mut q = SearchQuery::new(model(), v.to_vec(), 10);
                q.metric = metric;
                let hits = b.search(&q).await.unwrap();
                let mut got: Vec<SongId> = hits.iter().map(|h| h.id.clone()).collect();
                got.sort();
                assert_eq!(got, sorted([1, 3]), "{metric:?} {v:?}");
                assert!(hits.iter().all(|h| h.similarity.is_finite()));
            }
        }
        assert_eq!(b.models().await.unwrap()[0].count, 2);
        assert!(b.get_embedding(&song(4).id, &model()).await.is_err());
    }

    #[tokio::test]
    async fn legacy_adoption_skips_files_it_cannot_use() {
        let dir = tempfile::tempdir().unwrap();
        let emb = dir.path().join("data/embeddings");
        fs::create_dir_all(&emb).unwrap();
        // A zero-length vector would register a model of dimension 0; a huge shape used to
        // overflow into one.
        let mut empty = b"\x93NUMPY\x01\x00".to_vec();
        let dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693952,), }\n";
        empty.extend_from_slice(&(dict.len() as u16).to_le_bytes());
        empty.extend_from_slice(dict.as_bytes());
        fs::write(emb.join(format!("{}.npy", song(1).id)), npy::encode(&[])).unwrap();
        fs::write(
            emb.join(format!("{}.npy", song(2).id)),
            npy::encode(&[f32::NAN; 3]),
        )
        .unwrap();
        fs::write(
            emb.join(format!("{}.npy", song(3).id)),
            npy::encode(&[1.0, 2.0]),
        )
        .unwrap();
        let b = LocalBackend::open(dir.path()).unwrap();
        let models = b.models().await.unwrap();
        assert_eq!(models.len(), 1);
        assert_eq!(models[0].model, ModelInfo::new("legacy", "0", 2));
        // With only the overflowing shape, the file is reported (it is malformed).
        let dir = tempfile::tempdir().unwrap();
        let emb = dir.path().join("data/embeddings");
        fs::create_dir_all(&emb).unwrap();
        fs::write(emb.join(format!("{}.npy", song(1).id)), &empty).unwrap();
        let err = LocalBackend::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("too large"), "{err}");
    }
}
