//! Approximate nearest neighbours: an HNSW graph per model over the packed vectors, so a
//! similarity search in a large library visits a few thousand vectors instead of all of them.
//!
//! # Which crate
//!
//! [`usearch`] (Unum's HNSW, C++ core compiled with `cc`, builds offline from crates.io).
//! Compared with `hnsw_rs` (pure Rust) on the same clustered 50k × 512 set, M = 16,
//! ef_construction = 128, ef_search = 64, 2 cores: usearch built in 13.6 s against 46 s,
//! answered in 0.32 ms against 0.65 ms at recall@10 0.992 against 0.990, and peaked at 221 MB
//! resident against 322 MB. It also removes keys (so deletes and re-embeds are applied in place),
//! stores vectors as f32, f16 or i8, and opens a saved index as a read-only memory map (`view`),
//! which a short-lived `songrec similar` process needs. The price is a C++ build step (about
//! four minutes once, on two cores).
//!
//! # How it stays right
//!
//! - The `.npy` files stay the source of truth and the pack (see [`crate::pack`]) the derived
//!   copy searched exactly; the graph indexes the pack's records, keyed by record number, up to
//!   a mark (`covered`). Records appended after the mark (adds, re-embeds since the last fold)
//!   are scanned exactly at each search and merged in; a key whose record is no longer live
//!   (deleted or superseded) is filtered out during the graph search, so a deleted song never
//!   comes back. Every similarity returned is recomputed exactly from the pack.
//! - The writer holding the library lock folds the unindexed tail into the graph (loading it,
//!   adding the new records, removing dead keys, saving) once it exceeds a tenth of the graph;
//!   the first graph is built when a model reaches the size threshold, by the writer, or by a
//!   reader that can take the lock (like the pack), or by `songrec reindex`.
//! - Each save goes to a fresh file name, is fsynced, and only then named in the index
//!   manifest (which is written atomically); the old file is removed afterwards. A crash leaves
//!   the manifest naming either the old complete file or the new complete file. The manifest
//!   entry records the pack build it indexes, the record mark, the vector count, the file's
//!   length and a hash of its first and last 64 KiB: a stale, truncated or damaged index is
//!   ignored (the search runs exactly) and rebuilt by the next process that can take the lock.
//! - A filter never loses matches: a selective filter (estimated on a sample of the candidates)
//!   runs the exact scan; otherwise the filter runs inside the graph search and the candidate
//!   list is widened until `offset + k` results pass the filter, threshold and exclusions,
//!   falling back to the exact scan when widening runs out.

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use songrec_storage::math::{self, Scored};
use songrec_storage::{Metric, SearchQuery, StorageError, StorageResult};
use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

use crate::fsutil::{WriteLock, sync_dir};
use crate::index::{CandRow, Manifest};
use crate::layout::read_opt;
use crate::pack;
use crate::registry::RegisteredModel;
use crate::state::{Inner, State};

/// How vectors are stored inside the approximate index (the pack keeps the f32 originals, from
/// which every returned similarity is recomputed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnnQuantization {
    /// 4 bytes per value.
    F32,
    /// 2 bytes per value: half the memory, recall within noise of f32.
    #[default]
    F16,
    /// 1 byte per value.
    I8,
}

impl AnnQuantization {
    fn scalar(self) -> ScalarKind {
        match self {
            Self::F32 => ScalarKind::F32,
            Self::F16 => ScalarKind::F16,
            Self::I8 => ScalarKind::I8,
        }
    }
}

impl std::str::FromStr for AnnQuantization {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "f32" => Ok(Self::F32),
            "f16" => Ok(Self::F16),
            "i8" => Ok(Self::I8),
            _ => Err(format!("unknown quantization {s:?}; use f32, f16 or i8")),
        }
    }
}

/// When and how the local backend uses an approximate nearest-neighbour index.
#[derive(Clone, Debug, PartialEq)]
pub struct AnnOptions {
    /// Vectors of a model from which its searches go through the index (`usize::MAX`: never).
    pub min_vectors: usize,
    /// HNSW connectivity (M).
    pub connectivity: usize,
    /// Candidate list size while building (ef_construction).
    pub expansion_add: usize,
    /// Candidate list size while searching (ef_search); widened for filters and paging.
    /// `None`: [`auto_expansion_search`] of the number of vectors indexed.
    pub expansion_search: Option<usize>,
    /// Storage of vectors in the index.
    pub quantization: AnnQuantization,
    /// Filters estimated to keep less than this share of the songs run the exact scan.
    pub min_selectivity: f32,
}

impl Default for AnnOptions {
    fn default() -> Self {
        Self {
            min_vectors: DEFAULT_MIN_VECTORS,
            connectivity: 16,
            expansion_add: 128,
            expansion_search: None,
            quantization: AnnQuantization::default(),
            min_selectivity: 0.05,
        }
    }
}

impl AnnOptions {
    /// The ef_search used for an index of `n` vectors: the configured one, else
    /// [`auto_expansion_search`].
    pub fn ef_search_for(&self, n: usize) -> usize {
        self.expansion_search
            .unwrap_or_else(|| auto_expansion_search(n))
            .max(1)
    }
}

/// ef_search for an index of `n` vectors when none is configured: 64 up to 100k vectors (recall@10
/// 1.000 there), then 40 more per doubling, so about 197 at 1M. Measured at 1M × 512 (clustered,
/// M 16, efC 128, f16): recall@10 0.917 at 64, 0.945 at 96, 0.966 at 128, 0.990 at 192, 0.991 at
/// 256, with the median latency flat at about 2 ms from 96 up (`songrec bench search --songs
/// 1000000 --ef-search 64,96,128,192,256`, README "Large libraries").
///
/// ```
/// use songrec_local::auto_expansion_search as ef;
/// assert_eq!((ef(10_000), ef(100_000)), (64, 64));
/// assert!(ef(200_000) > 64 && ef(1_000_000) >= 192 && ef(10_000_000) > ef(1_000_000));
/// ```
pub fn auto_expansion_search(n: usize) -> usize {
    const BASE: usize = 64;
    const FROM: usize = 100_000;
    const PER_DOUBLING: f64 = 40.0;
    if n <= FROM {
        return BASE;
    }
    let doublings = (n as f64 / FROM as f64).log2();
    BASE + (doublings * PER_DOUBLING).round() as usize
}

/// Default of [`AnnOptions::min_vectors`]: below it the exact scan answers in under ~5 ms
/// (measured: 9.5 ms at 100k × 512 on two cores), so the index is not worth its upkeep.
pub const DEFAULT_MIN_VECTORS: usize = 50_000;

/// Options of a [`LocalBackend`](crate::LocalBackend).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LocalOptions {
    /// The approximate nearest-neighbour index.
    pub ann: AnnOptions,
}

impl LocalOptions {
    /// The defaults, with the approximate index used from `min_vectors` vectors of a model
    /// (`usize::MAX`: never).
    pub fn with_ann_threshold(min_vectors: usize) -> Self {
        Self {
            ann: AnnOptions {
                min_vectors,
                ..AnnOptions::default()
            },
        }
    }
}

impl AnnEntry {
    /// Checks the index file in `dir` in full: its CRC-32C against the recorded one and its
    /// graph's structure (`songrec reindex --verify`, whatever the shared record says).
    pub(crate) fn verify_in(&self, dir: &std::path::Path, dim: usize) -> StorageResult<()> {
        let path = dir.join(&self.file);
        if let Some(expect) = self.crc32c {
            let got = crate::integrity::file_crc(&path)?;
            if got != expect {
                return Err(crate::integrity::mismatch(&path, got, expect));
            }
        }
        crate::ann_check::check_file(&path, crate::ann_check::Expect::of(dim, self.quantization))
    }
}

/// What the index manifest records about a model's approximate index.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct AnnEntry {
    /// File name inside the index folder.
    file: String,
    /// The pack build whose record numbers are the keys.
    build: u64,
    /// Pack bytes covered: every live record before this offset is in the graph (except
    /// vectors of norm 0, which are scanned exactly).
    covered: usize,
    /// Vectors in the graph.
    count: usize,
    /// File length.
    bytes: u64,
    /// SHA-256 of the file's length, first and last 64 KiB (hex).
    check: String,
    /// CRC-32C of the whole file, checked once per process (per file identity) before it is
    /// mapped. Absent in manifests written before it was recorded: such an index is checked as
    /// before (length, sampled hash, graph structure) and gains one at the writer's next
    /// append or the next rebuild.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) crc32c: Option<u32>,
    /// Every indexed vector has norm 1 (± 1e-3): dot products rank like cosines.
    unit_norm: bool,
    quantization: AnnQuantization,
}

/// An open index, and the map from its keys to the candidate rows of the current state.
pub(crate) struct AnnCache {
    entry: AnnEntry,
    index: Index,
    /// Loaded into memory (can be changed and saved) rather than a read-only view.
    writable: bool,
    /// Keyed by the candidate rows it was computed from (held, so never mistaken for other
    /// rows at the same address) and the pack length.
    map: Option<(Arc<Vec<CandRow>>, usize, Arc<AnnMap>)>,
}

/// For one list of candidate rows: candidate index + 1 of each record number (0: not a
/// candidate), and the candidates the graph does not hold (scanned exactly).
struct AnnMap {
    by_record: Vec<u32>,
    unindexed: Vec<u32>,
}

/// A ranked candidate: similarity, keyed by (song id bytes, candidate row).
pub(crate) type Ranked = Scored<([u8; 32], u32)>;

/// A fresh, non-zero number naming a pack build or an index file.
pub(crate) fn nonce() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let n = t ^ (u64::from(std::process::id()) << 32) ^ 0x9e37_79b9_7f4a_7c15;
    n.max(1)
}

fn ann_err(what: &str, e: impl std::fmt::Display) -> StorageError {
    StorageError::Backend {
        backend: "local".into(),
        message: format!("approximate index: {what}: {e}"),
        transient: false,
    }
}

fn path_str(p: &Path) -> StorageResult<&str> {
    p.to_str()
        .ok_or_else(|| StorageError::InvalidInput(format!("non-UTF-8 path {}", p.display())))
}

/// SHA-256 of a file's length and its first and last 64 KiB.
fn sample_hash(path: &Path) -> StorageResult<String> {
    const SPAN: u64 = 64 * 1024;
    let io = |e| StorageError::io(path, e);
    let mut f = fs::File::open(path).map_err(io)?;
    let len = f.metadata().map_err(io)?.len();
    let mut h = Sha256::new();
    h.update(len.to_le_bytes());
    let mut buf = vec![0u8; SPAN.min(len) as usize];
    f.read_exact(&mut buf).map_err(io)?;
    h.update(&buf);
    let tail = len.saturating_sub(SPAN);
    f.seek(SeekFrom::Start(tail)).map_err(io)?;
    let mut buf = vec![0u8; (len - tail) as usize];
    f.read_exact(&mut buf).map_err(io)?;
    h.update(&buf);
    Ok(hex::encode(h.finalize()))
}

/// The record number of a row (its key in the graph).
fn record_no(offset: usize, dim: usize) -> u64 {
    ((offset - pack::HEADER) / pack::record_size(dim)) as u64
}

/// A vector scaled to norm 1 (the graph compares directions), or `None` for norm 0.
fn unit(v: &[f32], norm: f32) -> Option<Vec<f32>> {
    (norm.is_finite() && norm > 0.0).then(|| v.iter().map(|x| x / norm).collect())
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
        // The sampled hash misses damage in the middle: the full checksum catches it (a vector
        // value changed in place would make the graph search miss neighbours).
        // usearch trusts what it maps: the graph is checked structurally too (once per file
        // state with the checksum; every time for an index without one).
        let structure = || {
            crate::ann_check::check_file(&path, crate::ann_check::Expect::of(dim, e.quantization))
        };
        match e.crc32c {
            Some(crc) => self.verified.check_file(&path, crc, structure)?,
            None => structure()?,
        }
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

    /// Makes sure `st.anns` holds a usable index for the model's open shared pack, building it
    /// when missing, stale or damaged if this process holds or can take the write lock.
    /// `false`: no index now (the caller scans exactly).
    fn ensure_ann(&self, st: &mut State, m: &RegisteredModel) -> StorageResult<bool> {
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
        match WriteLock::acquire(&self.root, &self.paths.lock) {
            Ok(lock) => {
                // Start from the manifest on disk: the pack must still be the one open here.
                let bytes = read_opt(&self.paths.manifest)?;
                let disk = Manifest::parse(&self.paths.manifest, bytes.as_deref());
                let same = |a: &Manifest, b: &Manifest| {
                    let (x, y) = (a.packs.get(&key), b.packs.get(&key));
                    x.map(|e| (e.committed, e.build)) == y.map(|e| (e.committed, e.build))
                };
                if !same(&disk, &st.manifest) {
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
                built.map(|()| true)
            }
            Err(StorageError::Locked { .. }) => Ok(false),
            Err(e) => {
                tracing::debug!("cannot build the approximate index now: {e}");
                Ok(false)
            }
        }
    }

    /// Whether the manifest names an index for the open pack that is (or can be) opened.
    fn usable_ann(&self, st: &mut State, m: &RegisteredModel) -> StorageResult<bool> {
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
        let key = m.model.file_key();
        let dim = m.model.dim;
        let cache = st
            .packs
            .get(&key)
            .ok_or_else(|| ann_err("build", format!("no open pack for {}", m.model.key())))?;
        let pack = &cache.pack;
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
        let mut unit_norm = true;
        for r in results {
            unit_norm &= r?;
        }
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
        let Some(e) = pe.ann.clone() else {
            // Worth building only when enough vectors are live (records count rewrites too).
            let live = st.packs.get(&key).map_or(0, |c| c.pack.live_rows().len());
            if live >= self.opts.ann.min_vectors {
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
        let e = if e.crc32c.is_none() {
            // An index named by an older manifest: record its checksum now (it was just opened
            // and checked as before), so from now on it is checked completely.
            let mut with = e;
            with.crc32c = Some(crate::integrity::file_crc(
                &self.paths.index.join(&with.file),
            )?);
            if let Some(pe) = st.manifest.packs.get_mut(&key) {
                pe.ann = Some(with.clone());
            }
            if let Some(a) = st.anns.get_mut(&key) {
                a.entry = with.clone();
            }
            self.save_manifest(st)?;
            with
        } else {
            e
        };
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
                let path = self.paths.index.join(&e.file);
                // Folding a damaged graph would carry the damage into the next file.
                let structure = || {
                    crate::ann_check::check_file(
                        &path,
                        crate::ann_check::Expect::of(dim, e.quantization),
                    )
                };
                match e.crc32c {
                    Some(crc) => self.verified.check_file(&path, crc, structure)?,
                    None => structure()?,
                }
                let index = Index::restore(path_str(&path)?)
                    .map_err(|err| StorageError::corrupt(&path, err.to_string()))?;
                index.change_expansion_add(self.opts.ann.expansion_add);
                index
            }
        };
        let cache = st
            .packs
            .get(&key)
            .ok_or_else(|| ann_err("fold", format!("no open pack for {}", m.model.key())))?;
        let pack = &cache.pack;
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

    /// An approximate search, or `None` when the exact scan must answer (below the size
    /// threshold, `exact` asked, a metric or filter the index cannot serve, no usable index,
    /// or widening ran out before `offset + k` results passed).
    pub(crate) fn search_ann(
        &self,
        st: &mut State,
        m: &RegisteredModel,
        q: &SearchQuery,
        rows: &Arc<Vec<CandRow>>,
        exclude: &std::collections::HashSet<[u8; 32]>,
    ) -> StorageResult<Option<Vec<Ranked>>> {
        let o = &self.opts.ann;
        let n = rows.len();
        let Some(want) = q.offset.checked_add(q.k) else {
            return Ok(None);
        };
        if q.exact
            || n < o.min_vectors
            || !matches!(q.metric, Metric::Cosine | Metric::Dot)
            || want == 0
            || want > n / 8
        {
            return Ok(None);
        }
        if !q.filter.is_empty() {
            let step = (n / 2000).max(1);
            let (mut seen, mut kept) = (0usize, 0usize);
            for c in rows.iter().step_by(step) {
                seen += 1;
                kept += usize::from(st.songs.matches(c.slot as usize, &q.filter));
            }
            let share = kept as f32 / seen.max(1) as f32;
            if share < o.min_selectivity || (share * n as f32) < (4 * want) as f32 {
                tracing::debug!(
                    "filter keeps ~{:.1}% of the songs: exact scan",
                    share * 100.0
                );
                return Ok(None);
            }
        }
        let qn = math::norm(&q.vector);
        let Some(qv) = unit(&q.vector, qn) else {
            return Ok(None);
        };
        if !self.ensure_ann(st, m)? {
            return Ok(None);
        }
        let key = m.model.file_key();
        let dim = m.model.dim;
        let State {
            anns, packs, songs, ..
        } = st;
        let (Some(ann), Some(cache)) = (anns.get_mut(&key), packs.get(&key)) else {
            return Ok(None);
        };
        if q.metric == Metric::Dot && !ann.entry.unit_norm {
            return Ok(None);
        }
        let pack = &cache.pack;
        let committed = pack.committed();
        let map = match &ann.map {
            Some((r, c, map)) if Arc::ptr_eq(r, rows) && *c == committed => Arc::clone(map),
            _ => {
                let map = Arc::new(ann_map(rows, dim, committed, ann.entry.covered));
                ann.map = Some((Arc::clone(rows), committed, Arc::clone(&map)));
                map
            }
        };
        let rows: &[CandRow] = rows;
        let songs: &crate::songs::Songs = songs;
        let pass = |ci: usize| {
            rows.get(ci).is_some_and(|c| {
                (exclude.is_empty() || !exclude.contains(&c.row.id))
                    && songs.matches(c.slot as usize, &q.filter)
            })
        };
        let scored = |ci: usize| -> Option<Ranked> {
            let c = rows.get(ci)?;
            let (s, _) = math::score(
                q.metric,
                math::dot(&q.vector, pack.vector(&c.row)),
                qn,
                c.row.norm,
            );
            (!s.is_nan() && q.threshold.is_none_or(|t| s >= t)).then_some(Scored {
                score: s,
                key: (c.row.id, ci as u32),
            })
        };
        // The rows the graph does not hold, scanned exactly once.
        let tail: Vec<Ranked> = map
            .unindexed
            .iter()
            .map(|&ci| ci as usize)
            .filter(|&ci| pass(ci))
            .filter_map(scored)
            .collect();
        let mut count = (2 * want).max(20);
        let limit = (64 * want).max(4096).min(n);
        let base_ef = o.ef_search_for(ann.index.size());
        loop {
            let ef = base_ef.max(count);
            ann.index.change_expansion_search(ef);
            let found = ann.index.filtered_search(&qv, count, |k| {
                usize::try_from(k)
                    .ok()
                    .and_then(|k| map.by_record.get(k))
                    .is_some_and(|&c| c != 0 && pass(c as usize - 1))
            });
            ann.index.change_expansion_search(base_ef);
            let found = found.map_err(|e| ann_err("search", e))?;
            let mut all: Vec<Ranked> = tail.clone();
            let exhausted = found.keys.len() < count;
            for k in found.keys {
                let ci = usize::try_from(k)
                    .ok()
                    .and_then(|k| map.by_record.get(k))
                    .copied()
                    .unwrap_or(0);
                if ci != 0
                    && let Some(s) = scored(ci as usize - 1)
                {
                    all.push(s);
                }
            }
            if all.len() >= want {
                all.sort();
                all.truncate(want);
                return Ok(Some(all));
            }
            if exhausted || count >= limit {
                tracing::debug!(
                    "approximate search found {} of {want} results: exact scan",
                    all.len()
                );
                return Ok(None);
            }
            count = (count * 4).min(limit);
        }
    }
}

fn ann_map(rows: &[CandRow], dim: usize, committed: usize, covered: usize) -> AnnMap {
    let mut by_record = vec![0u32; record_no(committed.max(pack::HEADER), dim) as usize];
    let mut unindexed = Vec::new();
    for (ci, c) in rows.iter().enumerate() {
        if let Some(slot) = by_record.get_mut(record_no(c.row.offset, dim) as usize) {
            *slot = ci as u32 + 1;
        }
        if c.row.offset >= covered || !(c.row.norm.is_finite() && c.row.norm > 0.0) {
            unindexed.push(ci as u32);
        }
    }
    AnnMap {
        by_record,
        unindexed,
    }
}

/// Bytes of a model's current index file (for the benchmark), if it has one.
pub(crate) fn ann_file_bytes(manifest: &Manifest, key: &str) -> Option<u64> {
    manifest.packs.get(key)?.ann.as_ref().map(|e| e.bytes)
}
