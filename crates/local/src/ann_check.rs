//! A complete structural check of a saved approximate index (a usearch HNSW file) before it is
//! mapped for search.
//!
//! usearch trusts the neighbour lists of a file it maps: a bad slot, count or level sends a
//! search through a wild pointer (SIGSEGV). This check reads everything a search follows:
//!
//! ```text
//! rows: u32, bytes per vector: u32, rows × bytes per vector       the vectors (f32/f16/i8)
//! 64 B head: b"usearch", version u16 × 3, metric u8, scalar u8, key kind u8, slot kind u8,
//!            present u64, deleted u64, dimensions u64, multi u8, zero padding
//! graph head: size, connectivity, connectivity_base, max_level, entry_slot (u64 each)
//! levels: size × i16
//! nodes: key u64, level i16, then for each level 0..=level: count u32, capacity × slot u32
//!        (capacity: connectivity_base at level 0, connectivity above)
//! ```
//!
//! Types and sizes must be what this library builds, levels in range and equal in both places,
//! counts within capacity, neighbour slots naming nodes at that level, and the nodes must end
//! at the end of the file. Vector values are not checked (similarities are recomputed).

use std::ops::Range;

use serde::{Deserialize, Serialize};
use usearch::ScalarKind;

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
    /// Its name in the settings, usearch's value type, bytes per value and usearch's code of
    /// that type (as its file header stores it).
    fn spec(self) -> (&'static str, ScalarKind, usize, u8) {
        match self {
            Self::F32 => ("f32", ScalarKind::F32, 4, 11),
            Self::F16 => ("f16", ScalarKind::F16, 2, 12),
            Self::I8 => ("i8", ScalarKind::I8, 1, 23),
        }
    }

    pub(crate) fn scalar(self) -> ScalarKind {
        self.spec().1
    }
}

impl std::str::FromStr for AnnQuantization {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [Self::F32, Self::F16, Self::I8]
            .into_iter()
            .find(|q| q.spec().0 == s)
            .ok_or_else(|| format!("unknown quantization {s:?}; use f32, f16 or i8"))
    }
}

/// What the library expects of its own index files.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Expect {
    /// Values per vector.
    pub(crate) dim: usize,
    /// Bytes per stored value (4 for f32, 2 for f16, 1 for i8).
    pub(crate) scalar_bytes: usize,
    /// usearch's code of the stored value type.
    pub(crate) scalar_code: u8,
}

impl Expect {
    /// The files of `dim`-value vectors stored as `q`.
    pub(crate) fn of(dim: usize, q: AnnQuantization) -> Self {
        let (_, _, scalar_bytes, scalar_code) = q.spec();
        Self {
            dim,
            scalar_bytes,
            scalar_code,
        }
    }
}

/// Maps the file at `path` and [`check`]s it.
pub(crate) fn check_file(path: &std::path::Path, e: Expect) -> songrec_storage::StorageResult<()> {
    use songrec_storage::StorageError;
    let file = std::fs::File::open(path).map_err(|err| StorageError::io(path, err))?;
    // SAFETY: index files are written under a fresh name and never changed in place once the
    // manifest names them (see `crate::ann`).
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|err| StorageError::io(path, err))?;
    check(&map, e)
        .map(|_| ())
        .map_err(|why| StorageError::corrupt(path, why))
}

/// [`check_file`] for the file at `path` as an index of `dim`-value vectors stored as `q`
/// (for the cost example and the fuzz targets).
#[cfg(any(test, feature = "internals"))]
#[cfg_attr(not(feature = "internals"), allow(dead_code))]
pub fn check_path(path: &std::path::Path, dim: usize, q: AnnQuantization) -> Result<(), String> {
    check_file(path, Expect::of(dim, q)).map_err(|e| e.to_string())
}

/// For the fuzz targets: [`check_file`] on the file at `path` as an index of `dim`-value
/// vectors stored as `q`; a file that passes is mapped by usearch and searched (with and
/// without a filter). Returns whether it passed.
#[cfg(any(test, feature = "internals"))]
#[cfg_attr(not(feature = "internals"), allow(dead_code))]
pub fn check_and_search(path: &std::path::Path, dim: usize, q: AnnQuantization) -> bool {
    if check_file(path, Expect::of(dim, q)).is_err() {
        return false;
    }
    let Some(p) = path.to_str() else {
        return false;
    };
    let Ok(index) = usearch::Index::restore_view(p) else {
        return true;
    };
    let mut v = vec![0.0f32; dim];
    v[0] = 1.0;
    let _ = index.search(&v, 10);
    let _ = index.filtered_search(&v, 10, |k| k % 2 == 0);
    true
}

/// usearch's metric code of the inner product.
const METRIC_IP: u8 = b'i';
/// usearch's scalar code of u64 (keys) and u32 (neighbour slots).
const KIND_U64: u8 = 14;
const KIND_U32: u8 = 15;
const DENSE_HEAD: usize = 64;
const GRAPH_HEAD: usize = 40;
const NODE_HEAD: usize = 10;
/// Far above what any library builds (M ≤ 64 in practice), low enough that sizes never overflow.
const MAX_CONNECTIVITY: u64 = 4096;
/// HNSW levels grow with log_M(n): 64 covers any index that fits in memory.
const MAX_LEVEL: u64 = 64;

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn slice(&self, r: Range<usize>, what: &str) -> Result<&'a [u8], String> {
        self.bytes
            .get(r.clone())
            .ok_or_else(|| format!("{what} at {}..{} lies past the end", r.start, r.end))
    }
    fn u16(&self, at: usize, what: &str) -> Result<u16, String> {
        let b = self.slice(at..at + 2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&self, at: usize, what: &str) -> Result<u32, String> {
        let b = self.slice(at..at + 4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&self, at: usize, what: &str) -> Result<u64, String> {
        let b = self.slice(at..at + 8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
}

/// What a valid file holds.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Summary {
    /// Nodes in the graph (including removed ones).
    pub(crate) nodes: usize,
    /// Nodes whose key was removed.
    pub(crate) deleted: u64,
}

fn too_big(what: &str) -> String {
    format!("{what} does not fit in memory")
}

/// Checks a whole index file; `Err` says what is wrong.
pub(crate) fn check(bytes: &[u8], e: Expect) -> Result<Summary, String> {
    let r = Reader { bytes };
    let rows = r.u32(0, "matrix size")? as usize;
    let cols = r.u32(4, "matrix size")? as usize;
    let want_cols = e
        .dim
        .checked_mul(e.scalar_bytes)
        .ok_or_else(|| too_big("a vector"))?;
    if cols != want_cols {
        return Err(format!("{cols} bytes per vector, expected {want_cols}"));
    }
    let mut off = rows
        .checked_mul(cols)
        .and_then(|n| n.checked_add(8))
        .ok_or_else(|| too_big("the vectors"))?;
    let head = r.slice(off..off + DENSE_HEAD, "header")?;
    if &head[..7] != b"usearch" {
        return Err("no usearch header after the vectors".into());
    }
    let (major, minor) = (r.u16(off + 7, "version")?, r.u16(off + 9, "version")?);
    if major != 2 || minor < 10 {
        return Err(format!(
            "usearch format {major}.{minor}, expected 2.10 or later"
        ));
    }
    let (metric, scalar, key, slot) = (head[13], head[14], head[15], head[16]);
    if metric != METRIC_IP || scalar != e.scalar_code || key != KIND_U64 || slot != KIND_U32 {
        return Err(format!(
            "types (metric {metric}, scalar {scalar}, key {key}, slot {slot}) are not the ones \
             this library builds"
        ));
    }
    let present = r.u64(off + 17, "count")?;
    let deleted = r.u64(off + 25, "count")?;
    let dims = r.u64(off + 33, "dimensions")?;
    if dims != e.dim as u64 || head[41] != 0 {
        return Err(format!(
            "{dims} dimensions (multi {}), expected {}",
            head[41], e.dim
        ));
    }
    if present.checked_add(deleted) != Some(rows as u64) {
        return Err(format!(
            "{present} present and {deleted} deleted vectors for {rows} rows"
        ));
    }
    off += DENSE_HEAD;
    let size = r.u64(off, "graph header")?;
    let conn = r.u64(off + 8, "graph header")?;
    let base = r.u64(off + 16, "graph header")?;
    let max_level = r.u64(off + 24, "graph header")?;
    let entry = r.u64(off + 32, "graph header")?;
    off += GRAPH_HEAD;
    if size != rows as u64 {
        return Err(format!("{size} graph nodes for {rows} vectors"));
    }
    if size == 0 {
        return if off == bytes.len() {
            Ok(Summary { nodes: 0, deleted })
        } else {
            Err(format!("{} bytes after an empty graph", bytes.len() - off))
        };
    }
    if !(2..=MAX_CONNECTIVITY).contains(&conn) || !(conn..=2 * MAX_CONNECTIVITY).contains(&base) {
        return Err(format!("connectivity {conn} / {base} out of range"));
    }
    if max_level >= MAX_LEVEL || entry >= size {
        return Err(format!(
            "top level {max_level} or entry node {entry} of {size} out of range"
        ));
    }
    let n = rows;
    let levels_bytes = r.slice(off..off + 2 * n, "level table")?;
    off += 2 * n;
    let mut levels = Vec::with_capacity(n);
    for (i, b) in levels_bytes.chunks_exact(2).enumerate() {
        let l = i16::from_le_bytes([b[0], b[1]]);
        if l < 0 || l as u64 > max_level {
            return Err(format!("node {i} at level {l}, top level {max_level}"));
        }
        levels.push(l as u16);
    }
    if u64::from(levels[entry as usize]) < max_level {
        return Err(format!(
            "entry node {entry} at level {}, below the top level {max_level}",
            levels[entry as usize]
        ));
    }
    // Sizes are bounded above (connectivity ≤ 8192, level < 64), so these products fit.
    let (conn, base) = (conn as usize, base as usize);
    let base_bytes = 4 + 4 * base;
    let level_bytes = 4 + 4 * conn;
    for (i, &level) in levels.iter().enumerate() {
        let level = usize::from(level);
        let node_bytes = NODE_HEAD + base_bytes + level * level_bytes;
        let node = r.slice(off..off + node_bytes, "node")?;
        let own = i16::from_le_bytes([node[8], node[9]]);
        if own < 0 || own as usize != level {
            return Err(format!(
                "node {i} says level {own}, the level table {level}"
            ));
        }
        let mut at = NODE_HEAD;
        for l in 0..=level {
            let cap = if l == 0 { base } else { conn };
            let count = u32::from_le_bytes([node[at], node[at + 1], node[at + 2], node[at + 3]]);
            if count as usize > cap {
                return Err(format!(
                    "node {i} has {count} neighbours at level {l}, room for {cap}"
                ));
            }
            let list = &node[at + 4..at + 4 + 4 * count as usize];
            for s in list.chunks_exact(4) {
                let s = u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize;
                match levels.get(s) {
                    Some(&sl) if usize::from(sl) >= l => {}
                    Some(_) => {
                        return Err(format!(
                            "node {i} links to node {s} at level {l}, above that node"
                        ));
                    }
                    None => {
                        return Err(format!("node {i} links to node {s} of {n} at level {l}"));
                    }
                }
            }
            at += if l == 0 { base_bytes } else { level_bytes };
        }
        off += node_bytes;
    }
    if off != bytes.len() {
        return Err(format!("the graph ends at byte {off} of {}", bytes.len()));
    }
    Ok(Summary { nodes: n, deleted })
}

#[cfg(test)]
mod tests {
    use super::*;
    use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

    fn saved(n: usize, remove: &[u64]) -> (tempfile::TempDir, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let index = Index::new(&IndexOptions {
            dimensions: 4,
            metric: MetricKind::IP,
            quantization: ScalarKind::F16,
            connectivity: 4,
            expansion_add: 16,
            expansion_search: 16,
            multi: false,
        })
        .unwrap();
        index.reserve(n).unwrap();
        for i in 0..n {
            let x = i as f32;
            let v = [x.sin(), x.cos(), (x * 0.7).sin(), (x * 1.3).cos()];
            index.add(i as u64, &v).unwrap();
        }
        for &k in remove {
            index.remove(k).unwrap();
        }
        let p = dir.path().join("i.usearch");
        index.save(p.to_str().unwrap()).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        (dir, bytes)
    }

    const F16: Expect = Expect {
        dim: 4,
        scalar_bytes: 2,
        scalar_code: 12,
    };

    #[test]
    fn a_saved_index_passes_and_its_damage_is_found() {
        let (_d, bytes) = saved(300, &[5, 7]);
        let s = check(&bytes, F16).unwrap();
        assert_eq!(
            s,
            Summary {
                nodes: 300,
                deleted: 2
            }
        );
        assert!(check(&bytes, Expect { dim: 5, ..F16 }).is_err());
        assert!(check(&bytes[..bytes.len() - 1], F16).is_err());
        // A neighbour slot past the node count, in the middle of the graph.
        let graph = 8 + 300 * 8 + DENSE_HEAD + GRAPH_HEAD + 2 * 300;
        let node0 = graph;
        let mut bad = bytes.clone();
        // Node 0 is at level 0 or above: its first slot follows key, level and count.
        let count = u32::from_le_bytes(bad[node0 + 10..node0 + 14].try_into().unwrap());
        assert!(count > 0);
        bad[node0 + 14..node0 + 18].copy_from_slice(&u32::MAX.to_le_bytes());
        let err = check(&bad, F16).unwrap_err();
        assert!(err.contains("links to node"), "{err}");
        // A count past the capacity.
        let mut bad = bytes.clone();
        bad[node0 + 10..node0 + 14].copy_from_slice(&1000u32.to_le_bytes());
        assert!(check(&bad, F16).unwrap_err().contains("room for"));
        // A level table entry that disagrees with the node.
        let mut bad = bytes.clone();
        let lv = graph - 2 * 300;
        bad[lv] = bad[lv].wrapping_add(1);
        assert!(check(&bad, F16).is_err());
    }

    #[test]
    fn every_single_byte_change_in_the_graph_is_caught_or_harmless() {
        // Flipping any byte of the graph part either fails the check or leaves a file that
        // usearch can map and search without touching memory outside it.
        let (dir, bytes) = saved(120, &[]);
        let graph = 8 + 120 * 8;
        let path = dir.path().join("d.usearch");
        for at in (graph..bytes.len()).step_by(7) {
            let mut bad = bytes.clone();
            bad[at] ^= 0xA5;
            if check(&bad, F16).is_ok() {
                std::fs::write(&path, &bad).unwrap();
                if let Ok(index) = Index::restore_view(path.to_str().unwrap()) {
                    let _ = index.search(&[1.0, 0.0, 0.0, 0.0], 10);
                }
            }
        }
    }
}
