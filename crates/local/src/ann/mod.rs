//! Approximate nearest neighbours: an HNSW graph per model over the packed vectors, so a
//! similarity search in a large library visits a few thousand vectors instead of all of them.
//!
//! # Which crate
//!
//! [`usearch`] (Unum's HNSW, C++ core compiled with `cc`, builds offline from crates.io). Compared
//! with `hnsw_rs` (pure Rust) on the same clustered 50k × 512 set, M = 16, ef_construction = 128,
//! ef_search = 64, 2 cores: usearch built in 13.6 s against 46 s, answered in 0.32 ms against 0.65
//! ms at recall@10 0.992 against 0.990, and peaked at 221 MB resident against 322 MB. It also
//! removes keys (so deletes and re-embeds are applied in place), stores vectors as f32, f16 or i8,
//! and opens a saved index as a read-only memory map (`view`), which a short-lived `songrec
//! similar` process needs. The price is a C++ build step (about four minutes once, on two cores).
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

use sha2::{Digest, Sha256};
use songrec_storage::math::Scored;
use songrec_storage::{StorageError, StorageResult};
use usearch::Index;

use crate::manifest::{AnnEntry, Manifest};
use crate::pack::{self, CandRow};

mod build;
mod open;
mod options;
mod search;

pub use options::{AnnOptions, DEFAULT_MIN_VECTORS, LocalOptions, auto_expansion_search};

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
    StorageError::backend("local", format!("approximate index: {what}: {e}"))
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

/// Bytes of a model's current index file (for the benchmark), if it has one.
pub(crate) fn ann_file_bytes(manifest: &Manifest, key: &str) -> Option<u64> {
    manifest.packs.get(key)?.ann.as_ref().map(|e| e.bytes)
}
