//! What the local backend's fuzz targets do with an input, shared with the crate's replay test
//! (included with `#[path]`; the including module brings `LocalBackend`, `npy`, `pack` and
//! `snapshot` of songrec-local into scope, and `songrec_storage`).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use songrec_storage::{ListQuery, SortKey, StorageBackend};

use super::{LocalBackend, npy, pack, snapshot};

/// The `.npy` reader; a vector that parsed round-trips bit for bit through the writer.
pub fn npy(data: &[u8]) -> bool {
    let Ok(v) = npy::decode(data) else {
        return false;
    };
    let again = npy::decode(&npy::encode(&v)).expect("an encoded vector parses");
    assert!(
        v.iter()
            .map(|x| x.to_bits())
            .eq(again.iter().map(|x| x.to_bits())),
        "a vector changed on the way through the writer"
    );
    true
}

/// The pack reader. The input's first byte picks the dimension (1..=16), the second how much
/// the index claims is committed (even: the whole file; odd: its longest whole-record
/// prefix), the rest is the file, written to `dir`.
pub fn pack(dir: &Path, data: &[u8]) -> bool {
    let [d, mode, file @ ..] = data else {
        return false;
    };
    let dim = 1 + usize::from(*d % 16);
    let rs = pack::record_size(dim);
    let committed = if mode & 1 == 0 || file.len() < 64 {
        file.len()
    } else {
        64 + (file.len() - 64) / rs * rs
    };
    let path = dir.join("model.pack");
    std::fs::write(&path, file).expect("write the fuzz input");
    let Ok(pack) = pack::Pack::open(&path, dim, committed) else {
        return false;
    };
    for row in pack.live_rows() {
        assert_eq!(pack.vector(&row).len(), dim);
    }
    true
}

/// The snapshot reader. The stamp it must match is taken from the input itself (bytes
/// 8..32), so inputs get past the staleness check and into the records. What decodes encodes
/// back to a snapshot that decodes to as many songs.
pub fn snapshot(data: &[u8]) -> bool {
    let size = data
        .get(8..16)
        .map_or(0, |b| u64::from_le_bytes(b.try_into().expect("8 bytes")));
    let mtime = data
        .get(16..32)
        .map_or(0, |b| u128::from_le_bytes(b.try_into().expect("16 bytes")));
    let Some(songs) = snapshot::decode(data, (size, mtime)) else {
        return false;
    };
    let refs: Vec<_> = songs.iter().collect();
    let again = snapshot::decode(&snapshot::encode(&refs, (size, mtime)), (size, mtime))
        .expect("an encoded snapshot decodes");
    assert_eq!(again.len(), songs.len());
    true
}

/// An empty scratch library and a current-thread runtime, for [`library`] inputs.
pub struct Scratch {
    _dir: tempfile::TempDir,
    /// The library's root folder.
    pub root: PathBuf,
    /// The runtime the library is opened on.
    pub rt: tokio::runtime::Runtime,
}

impl Scratch {
    /// A new scratch library in a temporary folder.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("lib");
        library_folders(&root);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        Scratch {
            _dir: dir,
            root,
            rt,
        }
    }

    /// [`library`] on this scratch library.
    pub fn library(&self, rel: &str, data: &[u8]) -> bool {
        library(&self.root, &self.rt, rel, data)
    }
}

/// Creates the folders of an empty library under `root`.
pub fn library_folders(root: &Path) {
    for d in ["data/embeddings", "data/.songrec/index"] {
        std::fs::create_dir_all(root.join(d)).expect("library folders");
    }
}

/// Writes `data` as the library file `rel` (`data/embeddings/metadata.json`,
/// `data/.songrec/journal.jsonl`) of the library at `root`, opens the library the way every
/// command does and lists it in several orders; then removes the file again. Returns whether
/// the library opened.
pub fn library(root: &Path, rt: &tokio::runtime::Runtime, rel: &str, data: &[u8]) -> bool {
    let file = root.join(rel);
    std::fs::write(&file, data).expect("write the fuzz input");
    let opened = match LocalBackend::open(root) {
        Ok(lib) => {
            for sort in [
                SortKey::Title,
                SortKey::Artist,
                SortKey::Bpm,
                SortKey::Duration,
            ] {
                let q = ListQuery {
                    sort,
                    limit: 1000,
                    ..ListQuery::default()
                };
                rt.block_on(lib.list(&q)).expect("an opened library lists");
            }
            true
        }
        Err(_) => false,
    };
    std::fs::remove_file(&file).expect("remove the fuzz input");
    opened
}
