//! What the local backend's fuzz targets do with an input, shared with the crate's replay test
//! (included with `#[path]`; the including module brings `AnnQuantization`, `LocalBackend`, `ann_check`, `npy`,
//! `pack`, `rows` and `snapshot` of songrec-local into scope, and `songrec_storage`).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use songrec_storage::prelude::*;
use songrec_storage::{ListQuery, SortKey};

use super::{AnnQuantization, LocalBackend, ann_check, npy, pack, rows, snapshot};

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
/// prefix), the rest is the file, written to `dir`. A pack that opens is checked against its
/// own checksum (which must pass, from scratch and extending a checked prefix) and against
/// another (which must fail).
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
    let mut pack = pack;
    let crc = pack.content_crc().expect("a pack that opened reads");
    let reopen = || pack::Pack::open(&path, dim, committed).expect("it opened before");
    reopen()
        .verify(crc, None)
        .expect("a pack matches its own checksum");
    assert!(
        reopen().verify(crc ^ 1, None).is_err(),
        "another checksum passed"
    );
    if committed >= 64 + rs {
        // A reader that checked the header and first record reads on from there.
        let mut first = pack::Pack::open(&path, dim, 64 + rs).expect("a shorter prefix opens");
        let prefix = (64 + rs, first.content_crc().expect("it reads"));
        reopen()
            .verify(crc, Some(prefix))
            .expect("extending a checked prefix");
    }
    // The build its header names (bytes 16..24) is the only one it is read as.
    let named = file
        .get(16..24)
        .map_or(0, |b| u64::from_le_bytes(b.try_into().expect("8 bytes")));
    for build in [named, named ^ 1] {
        if let Ok(pack) = pack::Pack::open(&path, dim, committed).and_then(|p| p.with_build(build))
        {
            assert!(build == named || named == 0, "read as another build");
            let (rows, _) = pack.live_rows_counted();
            for row in rows {
                assert_eq!(pack.vector(&row).len(), dim);
            }
        }
    }
    true
}

/// The live-row table reader. The first byte picks the dimension (1..=16) and how many records
/// past what the table covers the pack holds (0..=15); the rest is the table. The build it must
/// match is its own (bytes 8..16), so inputs get past that check; the table is decoded as it is
/// and with its checksum recomputed (so inputs get past the checksum into the rows). A table
/// that decodes lists record offsets inside what it covers, and encodes back to a table that
/// decodes alike. Returns whether the table as it is decoded.
pub fn rows(data: &[u8]) -> bool {
    let [d, table @ ..] = data else {
        return false;
    };
    let dim = 1 + usize::from(*d % 16);
    let rs = pack::record_size(dim);
    let field = |at: usize| {
        table
            .get(at..at + 8)
            .map_or(0, |b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    };
    let build = field(8);
    let committed = usize::try_from(field(16))
        .unwrap_or(usize::MAX)
        .saturating_add(usize::from(*d / 16) * rs);
    let as_is = rows::decode(table, build, dim, committed).is_ok();
    let mut sealed = table.to_vec();
    rows::seal(&mut sealed);
    assert!(
        !as_is || sealed == table,
        "a table with a wrong checksum decoded"
    );
    let Ok((found, covered)) = rows::decode(&sealed, build, dim, committed) else {
        return as_is;
    };
    assert!(covered <= committed);
    for r in &found {
        assert!(r.offset() >= 64 && r.offset() + rs <= covered);
        assert_eq!((r.offset() - 64) % rs, 0);
    }
    let again = rows::encode(build, covered, &found);
    let (back, cov) =
        rows::decode(&again, build, dim, committed).expect("an encoded table decodes");
    assert_eq!((back.len(), cov), (found.len(), covered));
    as_is
}

/// The check of an approximate index file before usearch maps it. The first byte picks how
/// vectors are stored (f32, f16, i8), the second the dimension (1..=16); the rest is the file,
/// written to `dir`. A file that passes the check is mapped and searched: that must not crash.
pub fn ann(dir: &Path, data: &[u8]) -> bool {
    let [q, d, file @ ..] = data else {
        return false;
    };
    let quantization = match q % 3 {
        0 => AnnQuantization::F32,
        1 => AnnQuantization::F16,
        _ => AnnQuantization::I8,
    };
    let dim = 1 + usize::from(*d % 16);
    let path = dir.join("model.usearch");
    std::fs::write(&path, file).expect("write the fuzz input");
    ann_check::check_and_search(&path, dim, quantization)
}

/// The snapshot reader. The stamp it must match is taken from the input itself (bytes
/// 8..32), so inputs get past the staleness check; the input is decoded as it is and with its
/// checksum recomputed (so inputs get past the checksum into the table and records). What
/// decodes encodes back to a snapshot that decodes to as many songs. Returns whether the input
/// as it is decoded.
pub fn snapshot(data: &[u8]) -> bool {
    let size = data
        .get(8..16)
        .map_or(0, |b| u64::from_le_bytes(b.try_into().expect("8 bytes")));
    let mtime = data
        .get(16..32)
        .map_or(0, |b| u128::from_le_bytes(b.try_into().expect("16 bytes")));
    let as_is = snapshot::decode(data, (size, mtime)).is_some();
    let mut sealed = data.to_vec();
    snapshot::seal(&mut sealed);
    assert!(
        !as_is || sealed == data,
        "a snapshot with a wrong checksum decoded"
    );
    let Some(songs) = snapshot::decode(&sealed, (size, mtime)) else {
        return as_is;
    };
    let refs: Vec<_> = songs.iter().collect();
    let again = snapshot::decode(&snapshot::encode(&refs, (size, mtime)), (size, mtime))
        .expect("an encoded snapshot decodes");
    assert_eq!(again.len(), songs.len());
    as_is
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

/// The one scratch library of a fuzz target's process.
pub fn scratch() -> &'static Scratch {
    static S: std::sync::OnceLock<Scratch> = std::sync::OnceLock::new();
    S.get_or_init(Scratch::new)
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
