//! Tests of the full-content checks of derived files (see [`crate::integrity`]): damage in place
//! (bit rot: same file, same modification time) in a pack, an approximate index or the metadata
//! snapshot is caught and repaired; a copied library (every file a new inode) is used as it is;
//! a writer's replacement file is still never taken for the file the manifest names; manifests
//! written before checksums were recorded are read as before and gain them.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use songrec_storage::prelude::*;

use songrec_storage::rng::SplitMix;
use songrec_storage::{Embedding, Match, ModelInfo, SearchQuery, SongId, SongMetadata, SongRecord};

use songrec_testkit::damage::rot;

use crate::{LocalBackend, LocalOptions};

const DIM: usize = 16;

fn model() -> ModelInfo {
    ModelInfo::new("m", "1", DIM)
}

fn opts(min_vectors: usize) -> LocalOptions {
    LocalOptions::with_ann_threshold(min_vectors)
}

fn song(i: usize) -> SongMetadata {
    SongMetadata::new(
        SongId::from_bytes(&(i as u64).to_le_bytes()),
        format!("S{i}"),
    )
}

fn vector(rng: &mut SplitMix) -> Vec<f32> {
    (0..DIM).map(|_| rng.gauss()).collect()
}

/// A library of `n` random songs written by one writer (dropped), the approximate index used
/// from `min_vectors`; and a query.
async fn library(dir: &Path, n: usize, min_vectors: usize) -> Vec<f32> {
    let b = LocalBackend::open_with(dir, opts(min_vectors)).unwrap();
    let mut rng = SplitMix::new(11);
    let records: Vec<SongRecord> = (0..n)
        .map(|i| SongRecord {
            metadata: song(i),
            embeddings: vec![Embedding::new(model(), vector(&mut rng)).unwrap()],
        })
        .collect();
    assert!(b.put_songs(&records).await.unwrap().is_complete());
    b.flush().await.unwrap();
    vector(&mut rng)
}

/// The top 10 (ids and similarity bits) of `q`, approximate or exact.
async fn answer(b: &LocalBackend, q: &[f32], exact: bool) -> Vec<(SongId, u32)> {
    let query = SearchQuery::new(model(), q.to_vec(), 10).with(|r| r.exact = exact);
    let ms: Vec<Match> = b.search(&query).await.unwrap();
    assert_eq!(ms.len(), 10);
    ms.into_iter()
        .map(|m| (m.id, m.similarity.to_bits()))
        .collect()
}

fn index_dir(lib: &Path) -> PathBuf {
    lib.join("data/.songrec/index")
}

fn pack_path(lib: &Path) -> PathBuf {
    index_dir(lib).join("m-1.pack")
}

fn manifest(lib: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(index_dir(lib).join("manifest.json")).unwrap()).unwrap()
}

fn ann_file(lib: &Path) -> PathBuf {
    let name = manifest(lib)["packs"]["m-1"]["ann"]["file"]
        .as_str()
        .expect("an approximate index")
        .to_owned();
    index_dir(lib).join(name)
}

/// Offset of the record of `id` in the pack at `path` (the last one, if rewritten).
fn record_of(path: &Path, id: &SongId) -> usize {
    let bytes = fs::read(path).unwrap();
    let rs = crate::pack::record_size(DIM);
    let raw = id.to_bytes();
    (0..(bytes.len() - crate::pack::HEADER) / rs)
        .map(|i| crate::pack::HEADER + i * rs)
        .rfind(|&off| bytes[off..off + 32] == raw)
        .expect("the song's record")
}

fn rebuilds(b: &LocalBackend) -> usize {
    b.inner.faults.rebuilds.load(Ordering::Relaxed)
}

#[tokio::test]
async fn a_pack_damaged_in_place_is_ignored_and_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path();
    let q = library(lib, 300, usize::MAX).await;
    let good = answer(&LocalBackend::open(lib).unwrap(), &q, true).await;
    let rs = crate::pack::record_size(DIM);
    let top = record_of(&pack_path(lib), &good[0].0);
    // The magic, the dimension, the build, and the top match's id, norm, live flag and
    // vector values (a high byte: the score changes a lot).
    for at in [
        0,
        9,
        17,
        top + 3,
        top + 33,
        top + 36,
        top + 40 + 3,
        top + rs - 1,
    ] {
        let build = manifest(lib)["packs"]["m-1"]["build"].clone();
        rot(&pack_path(lib), at as u64);
        let b = LocalBackend::open(lib).unwrap();
        assert_eq!(answer(&b, &q, true).await, good, "pack byte {at}");
        assert_eq!(rebuilds(&b), 1, "pack byte {at}: not rebuilt");
        assert_ne!(manifest(lib)["packs"]["m-1"]["build"], build);
        // The rebuilt pack is sound: a fresh process uses it as it is.
        let again = LocalBackend::open(lib).unwrap();
        assert_eq!(answer(&again, &q, true).await, good);
        assert_eq!(rebuilds(&again), 0, "pack byte {at}: rebuilt twice");
    }
}

#[tokio::test]
async fn a_damaged_pack_is_rebuilt_in_memory_while_a_writer_holds_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path();
    let q = library(lib, 300, usize::MAX).await;
    let good = answer(&LocalBackend::open(lib).unwrap(), &q, true).await;
    let top = record_of(&pack_path(lib), &good[0].0);
    rot(&pack_path(lib), (top + 40 + 3) as u64);
    let paths = crate::layout::Paths::new(lib);
    let lock = hold_lock(lib, &paths);
    let b = LocalBackend::open(lib).unwrap();
    assert_eq!(answer(&b, &q, true).await, good);
    assert_eq!(rebuilds(&b), 1);
    assert!(
        b.inner.state.lock().unwrap().private.contains_key("m-1"),
        "built in this process's memory"
    );
    drop(lock);
}

#[tokio::test]
async fn an_index_damaged_in_its_middle_is_ignored_and_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path();
    let n = 3000;
    let q = library(lib, n, 1000).await;
    let good = answer(
        &LocalBackend::open_with(lib, opts(1000)).unwrap(),
        &q,
        false,
    )
    .await;
    assert_eq!(
        good,
        answer(&LocalBackend::open_with(lib, opts(1000)).unwrap(), &q, true).await
    );
    let before = ann_file(lib);
    let len = fs::metadata(&before).unwrap().len();
    // A vector value past the first 64 KiB (vectors: 8 bytes, then n × DIM f16 values), and a
    // neighbour slot in the middle of the graph, both outside the sampled ends.
    let vector_at = 8 + (n * DIM * 2) as u64 - 1000;
    assert!(vector_at > 64 * 1024 && vector_at < len - 64 * 1024);
    for at in [vector_at, len / 2] {
        let was = ann_file(lib);
        rot(&was, at);
        let b = LocalBackend::open_with(lib, opts(1000)).unwrap();
        assert_eq!(answer(&b, &q, false).await, good, "index byte {at}");
        assert_ne!(ann_file(lib), was, "index byte {at}: not rebuilt");
        assert_eq!(rebuilds(&b), 0, "the pack was not damaged");
    }
}

#[tokio::test]
async fn a_snapshot_damaged_in_place_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path();
    library(lib, 50, usize::MAX).await;
    let b = LocalBackend::open(lib).unwrap();
    let mut want = Vec::new();
    for i in 0..50 {
        want.push(b.get_metadata(&song(i).id).await.unwrap().unwrap());
    }
    drop(b);
    let snap = index_dir(lib).join("metadata.bin");
    // A song's id in the snapshot's table (header 48 bytes), then a byte of the last record.
    let len = fs::metadata(&snap).unwrap().len();
    for at in [48 + 5, len - 20] {
        rot(&snap, at);
        let b = LocalBackend::open(lib).unwrap();
        for (i, want) in want.iter().enumerate() {
            let got = b.get_metadata(&song(i).id).await.unwrap();
            assert_eq!(got.as_ref(), Some(want), "snapshot byte {at}");
        }
        drop(b);
        // The next writer writes a sound snapshot again.
        let w = LocalBackend::open(lib).unwrap();
        w.lock_for_writing().await.unwrap();
        drop(w);
        let b = LocalBackend::open(lib).unwrap();
        assert!(b.inner.state.lock().unwrap().snapshot_current);
    }
}

/// `cp -a`: a new inode for every file, the same bytes and times.
fn copy_all(from: &Path, to: &Path) {
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success());
}

fn inode(path: &Path) -> u64 {
    std::os::unix::fs::MetadataExt::ino(&fs::metadata(path).unwrap())
}

#[tokio::test]
async fn a_copied_library_is_used_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    let q = library(&lib, 3000, 1000).await;
    let b = LocalBackend::open_with(&lib, opts(1000)).unwrap();
    let (good, exact) = (answer(&b, &q, false).await, answer(&b, &q, true).await);
    drop(b);
    let before = manifest(&lib)["packs"]["m-1"].clone();
    assert!(before["ann"].is_object());
    let copy = dir.path().join("copy");
    copy_all(&lib, &copy);
    assert_ne!(inode(&pack_path(&lib)), inode(&pack_path(&copy)));
    let b = LocalBackend::open_with(&copy, opts(1000)).unwrap();
    assert_eq!(answer(&b, &q, false).await, good);
    assert_eq!(answer(&b, &q, true).await, exact);
    assert_eq!(rebuilds(&b), 0, "the copied pack was rebuilt");
    let after = manifest(&copy)["packs"]["m-1"].clone();
    for field in ["build", "committed", "stamp", "ann"] {
        assert_eq!(after[field], before[field], "{field} changed");
    }
    // The lock was free: the manifest now names the copy's file.
    assert_eq!(after["file"].as_u64(), Some(inode(&pack_path(&copy))));
    drop(b);
    let b = LocalBackend::open_with(&copy, opts(1000)).unwrap();
    assert_eq!(answer(&b, &q, false).await, good);
    assert_eq!(rebuilds(&b), 0);
}

#[tokio::test]
async fn a_copied_library_is_used_as_it_is_while_a_writer_holds_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    let q = library(&lib, 300, usize::MAX).await;
    let good = answer(&LocalBackend::open(&lib).unwrap(), &q, true).await;
    let copy = dir.path().join("copy");
    copy_all(&lib, &copy);
    let named = manifest(&copy)["packs"]["m-1"]["file"].clone();
    let paths = crate::layout::Paths::new(&copy);
    let lock = hold_lock(&copy, &paths);
    let b = LocalBackend::open(&copy).unwrap();
    for _ in 0..3 {
        assert_eq!(answer(&b, &q, true).await, good);
    }
    assert_eq!(rebuilds(&b), 0);
    assert_eq!(
        manifest(&copy)["packs"]["m-1"]["file"],
        named,
        "written without the lock"
    );
    drop(lock);
}

#[tokio::test]
async fn a_damaged_pack_in_a_copied_library_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    let q = library(&lib, 300, usize::MAX).await;
    let good = answer(&LocalBackend::open(&lib).unwrap(), &q, true).await;
    let copy = dir.path().join("copy");
    copy_all(&lib, &copy);
    let top = record_of(&pack_path(&copy), &good[0].0);
    rot(&pack_path(&copy), (top + 40 + 3) as u64);
    let b = LocalBackend::open(&copy).unwrap();
    assert_eq!(answer(&b, &q, true).await, good);
    assert_eq!(rebuilds(&b), 1);
}

#[tokio::test]
async fn a_replacement_the_manifest_does_not_name_yet_is_never_used() {
    // A writer renamed a rebuilt pack into place and has not written the manifest yet (it
    // holds the lock): the new file has the same length but other vectors and a new build.
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path();
    let q = library(lib, 300, usize::MAX).await;
    let good = answer(&LocalBackend::open(lib).unwrap(), &q, true).await;
    let paths = crate::layout::Paths::new(lib);
    let lock = hold_lock(lib, &paths);
    let mut rng = SplitMix::new(99);
    let rows: Vec<(SongId, Vec<f32>)> = (0..300).map(|i| (song(i).id, vector(&mut rng))).collect();
    crate::pack::Pack::build(&pack_path(lib), DIM, crate::pack::nonce(), rows).unwrap();
    let named = manifest(lib)["packs"]["m-1"].clone();
    let b = LocalBackend::open(lib).unwrap();
    assert_eq!(answer(&b, &q, true).await, good, "read the unnamed file");
    assert_eq!(manifest(lib)["packs"]["m-1"], named);
    drop(lock);
}

#[tokio::test]
async fn a_manifest_without_checksums_is_read_as_before_and_gains_them() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path();
    let q = library(lib, 3000, 1000).await;
    let good = answer(
        &LocalBackend::open_with(lib, opts(1000)).unwrap(),
        &q,
        false,
    )
    .await;
    let paths = crate::layout::Paths::new(lib);
    // As the previous version wrote it: no checksum of the pack or of the index.
    let bytes = fs::read(&paths.manifest).unwrap();
    let mut m = crate::manifest::Manifest::parse(&paths.manifest, Some(&bytes));
    for e in m.packs.values_mut() {
        e.crc32c = None;
        if let Some(a) = e.ann.as_mut() {
            a.crc32c = None;
        }
    }
    crate::layout::write_json(&paths.manifest, &m).unwrap();
    let old = manifest(lib)["packs"]["m-1"].clone();
    assert!(old.get("crc32c").is_none() && old["ann"].get("crc32c").is_none());
    let ann = ann_file(lib);
    let b = LocalBackend::open_with(lib, opts(1000)).unwrap();
    assert_eq!(answer(&b, &q, false).await, good);
    assert_eq!(rebuilds(&b), 0);
    assert_eq!(ann_file(lib), ann, "the index was rebuilt");
    drop(b);
    // The next write records both.
    let w = LocalBackend::open_with(lib, opts(1000)).unwrap();
    let mut rng = SplitMix::new(5);
    w.put_songs(&[SongRecord {
        metadata: song(5000),
        embeddings: vec![Embedding::new(model(), vector(&mut rng)).unwrap()],
    }])
    .await
    .unwrap();
    drop(w);
    let now = manifest(lib)["packs"]["m-1"].clone();
    assert!(now["crc32c"].is_u64(), "{now}");
    assert!(now["ann"]["crc32c"].is_u64(), "{now}");
    assert_eq!(now["build"], old["build"], "the pack was rebuilt");
    // And they are right: a fresh reader checks them and rebuilds nothing.
    let b = LocalBackend::open_with(lib, opts(1000)).unwrap();
    answer(&b, &q, false).await;
    assert_eq!(rebuilds(&b), 0);
    assert_eq!(ann_file(lib), ann);
}

/// A header checksum covers every byte but its own field, and the field's padding must be zero:
/// any one byte changed anywhere is caught, and a file ending inside the field is cut short.
#[test]
fn a_header_checksum_catches_any_byte_changed() {
    use crate::integrity::HeaderCrc;
    let crc = HeaderCrc { at: 12 };
    let mut bytes: Vec<u8> = (0..64u8).map(|b| b.wrapping_mul(37)).collect();
    crc.seal(&mut bytes);
    assert_eq!(crc.check(&bytes), Ok(()));
    for i in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[i] ^= 0x10;
        assert!(crc.check(&bad).is_err(), "byte {i} changed and not caught");
    }
    assert_eq!(crc.check(&bytes[..19]), Err("cut short"));
    let mut short = bytes[..10].to_vec();
    crc.seal(&mut short);
    assert_eq!(
        short,
        bytes[..10],
        "sealing bytes without a field changes nothing"
    );
}

#[tokio::test]
async fn a_check_is_paid_once_per_file_state_for_every_process() {
    // Each process used to read the whole pack and approximate index to check their
    // checksums: at 1M × 512 over 3 GB per `songrec similar`. Now the first process records
    // the check under the file's state and the next ones read nothing, until a write changes
    // the file; damage in place (same inode, modification time restored) still moves the
    // status-change time, so it is checked and caught.
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path();
    let q = library(lib, 3000, 1000).await;
    let checked = crate::integrity::checked_bytes;
    let first = checked();
    let good = answer(
        &LocalBackend::open_with(lib, opts(1000)).unwrap(),
        &q,
        false,
    )
    .await;
    let paid = checked() - first;
    let pack_len = fs::metadata(pack_path(lib)).unwrap().len();
    assert!(
        paid < pack_len,
        "the writer recorded what it wrote: {paid} bytes read"
    );
    for round in 0..3 {
        let before = checked();
        let b = LocalBackend::open_with(lib, opts(1000)).unwrap();
        assert_eq!(answer(&b, &q, false).await, good);
        assert_eq!(answer(&b, &q, true).await, good);
        assert_eq!(
            checked() - before,
            0,
            "process {round} read files to check them again"
        );
    }
    // A write in place, the modification time restored: checked in full, caught, rebuilt.
    let top = record_of(&pack_path(lib), &good[0].0);
    rot(&pack_path(lib), (top + 40 + 3) as u64);
    let before = checked();
    let b = LocalBackend::open_with(lib, opts(1000)).unwrap();
    assert_eq!(answer(&b, &q, true).await, good);
    assert!(
        checked() - before >= pack_len / 2,
        "the damaged pack was not read"
    );
    assert_eq!(rebuilds(&b), 1, "the damaged pack was not rebuilt");
}

#[tokio::test]
async fn reindex_verify_reads_everything_whatever_the_record_says() {
    // Damage that changes no file time (the disk itself) is invisible to the record; the full
    // check reads every derived file anyway and names the damaged one.
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path();
    let q = library(lib, 3000, 1000).await;
    let b = LocalBackend::open_with(lib, opts(1000)).unwrap();
    answer(&b, &q, false).await;
    let (checked, damaged) = b.verify_index().await.unwrap();
    assert_eq!((checked, damaged.len()), (2, 0), "{damaged:?}");
    let ann = ann_file(lib);
    let record = index_dir(lib).join(crate::integrity::RECORD_FILE);
    let recorded = fs::read(&record).unwrap();
    let mut bytes = fs::read(&ann).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x10;
    fs::write(&ann, &bytes).unwrap();
    // Pretend the file was never written: the record describes its state as it is now.
    let state = crate::integrity::file_state(&fs::metadata(&ann).unwrap());
    let mut r: serde_json::Value = serde_json::from_slice(&recorded).unwrap();
    let name = ann.file_name().unwrap().to_str().unwrap();
    r["files"][name]["state"] = serde_json::Value::String(state);
    fs::write(&record, serde_json::to_vec(&r).unwrap()).unwrap();
    let (checked, damaged) = LocalBackend::open(lib)
        .unwrap()
        .verify_index()
        .await
        .unwrap();
    assert_eq!(checked, 2);
    assert_eq!(damaged.len(), 1, "{damaged:?}");
    assert!(damaged[0].to_string().contains(name), "{}", damaged[0]);
}

/// Takes `lib`'s write lock as another process would (held until dropped).
fn hold_lock(lib: &Path, paths: &crate::layout::Paths) -> crate::fsutil::WriteLock {
    let me = crate::fsutil::LockOwner {
        what: None,
        brief: false,
    };
    crate::fsutil::WriteLock::acquire(lib, &paths.lock, &me, std::time::Duration::ZERO).unwrap()
}
