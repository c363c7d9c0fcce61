use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::*;
use songrec_conformance::MemoryBackend;
use songrec_conformance::run_all;
use songrec_storage::backend::{SongRecord, StorageBackend};
use songrec_storage::filter::Filter;
use songrec_storage::id::SongId;
use songrec_storage::layers::{Chaos, CircuitBreaker, LayerExt, MetricsLayer, MetricsRecorder};
use songrec_storage::metadata::SongMetadata;
use songrec_storage::model::{Embedding, ModelInfo};
use songrec_storage::prelude::*;
use songrec_storage::query::{ListQuery, SearchQuery};

fn model() -> ModelInfo {
    ModelInfo::new("cache-test", "1", 4)
}

fn song(n: u32) -> SongMetadata {
    let mut m = SongMetadata::new(SongId::from_bytes(format!("song {n}").as_bytes()), "t");
    m.title = format!("Song {n}");
    m
}

fn vector(n: u32) -> Vec<f32> {
    vec![n as f32 + 1.0, 0.5, -0.25, (n % 3) as f32]
}

fn record(n: u32) -> SongRecord {
    SongRecord {
        metadata: song(n),
        embeddings: vec![Embedding::new(model(), vector(n)).unwrap()],
    }
}

/// Audio bytes of `len` that hash to their id, written to `dir`.
fn audio_file(dir: &Path, seed: u8, len: usize) -> (SongId, std::path::PathBuf) {
    let bytes: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect();
    let id = SongId::from_bytes(&bytes);
    let p = dir.join(format!("src-{seed}.bin"));
    std::fs::write(&p, &bytes).unwrap();
    (id, p)
}

/// A cache store of `limit` bytes in a fresh folder, and a fresh folder for source files.
fn store_and_sources(limit: u64) -> (tempfile::TempDir, tempfile::TempDir, CacheStore) {
    let dir = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let s = CacheStore::open(dir.path(), limit).unwrap();
    (dir, src, s)
}

// ---- conformance ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_layer_passes_conformance() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(dir.path(), 64 << 20).unwrap();
    let store = cache.store().clone();
    let b = MemoryBackend::new().layer(cache);
    assert_eq!(b.to_string(), "Cache(Memory)");
    run_all(&b).await;
    let s = store.stats().unwrap();
    assert!(s.session.hits > 0, "conformance reads vectors twice: {s}");
    assert_eq!(store.check().unwrap(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fallback_layer_passes_conformance() {
    let fallback = Fallback::new(MemoryBackend::new());
    let status = fallback.status();
    let b = MemoryBackend::new().layer(fallback);
    run_all(&b).await;
    assert_eq!(status.served_from_fallback(), 0);
    assert_eq!(status.mirror_errors(), 0);
    // The copy followed every write: it is empty again, with the tombstones.
    assert_eq!(b.secondary().count(&Filter::default()).await.unwrap(), 0);
    assert!(
        b.secondary()
            .list_versions()
            .await
            .unwrap()
            .iter()
            .any(|v| v.deleted)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_offline_stack_passes_conformance() {
    let dir = tempfile::tempdir().unwrap();
    let b = MemoryBackend::new()
        .layer(CircuitBreaker::new(1, Duration::from_secs(30)).persist_to(dir.path().join("c")))
        .layer(Cache::open(dir.path().join("cache"), 64 << 20).unwrap())
        .layer(Fallback::new(MemoryBackend::new()));
    assert_eq!(
        b.to_string(),
        "Fallback(Cache(CircuitBreaker(Memory)), Memory)"
    );
    run_all(&b).await;
}

// ---- the store -----------------------------------------------------------------------------

#[test]
fn hits_misses_and_bytes_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let s = CacheStore::open(dir.path(), 1 << 20).unwrap();
    let id = SongId::from_bytes(b"a");
    let e = Embedding::new(model(), vector(1)).unwrap();
    assert_eq!(s.get_embedding("ns", &id, &model()).unwrap(), None);
    s.put_embedding("ns", &id, &e, true).unwrap();
    assert_eq!(
        s.get_embedding("ns", &id, &model()).unwrap(),
        Some(e.clone())
    );
    assert_eq!(
        s.get_embedding("other", &id, &model()).unwrap(),
        None,
        "namespaces never mix"
    );
    let c = s.stats().unwrap().session;
    assert_eq!((c.hits, c.misses), (1, 2));
    assert_eq!((c.bytes_served, c.bytes_fetched), (16, 16));
    assert_eq!(s.stats().unwrap().embedding_entries, 1);
}

#[test]
fn least_recently_used_is_evicted_first_and_the_limit_holds() {
    let dir = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    // Room for two 1000-byte blobs, not three.
    let s = CacheStore::open(dir.path(), 2500).unwrap();
    let blobs: Vec<_> = (0..3u8).map(|i| audio_file(src.path(), i, 1000)).collect();
    s.put_audio_from(&blobs[0].0, &blobs[0].1).unwrap();
    s.put_audio_from(&blobs[1].0, &blobs[1].1).unwrap();
    // Use the first: the second is now the least recently used.
    let out = src.path().join("out.bin");
    assert_eq!(s.get_audio(&blobs[0].0, &out).unwrap(), Some(1000));
    s.put_audio_from(&blobs[2].0, &blobs[2].1).unwrap();
    assert!(s.has_audio(&blobs[0].0).unwrap());
    assert!(!s.has_audio(&blobs[1].0).unwrap(), "LRU entry evicted");
    assert!(!s.audio_path(&blobs[1].0).exists(), "its file is gone");
    assert!(s.has_audio(&blobs[2].0).unwrap());
    let st = s.stats().unwrap();
    assert_eq!((st.entries, st.bytes, st.session.evictions), (2, 2000, 1));
    assert_eq!(s.check().unwrap(), Vec::<String>::new());

    // A blob larger than the whole cache is not kept, and evicts nothing.
    let (big, big_src) = audio_file(src.path(), 9, 3000);
    s.put_audio_from(&big, &big_src).unwrap();
    assert!(!s.has_audio(&big).unwrap());
    assert_eq!(s.stats().unwrap().entries, 2);
}

#[test]
fn the_cache_survives_a_restart_with_its_order() {
    let dir = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let blobs: Vec<_> = (0..3u8).map(|i| audio_file(src.path(), i, 1000)).collect();
    {
        let s = CacheStore::open(dir.path(), 2500).unwrap();
        s.put_audio_from(&blobs[0].0, &blobs[0].1).unwrap();
        s.put_audio_from(&blobs[1].0, &blobs[1].1).unwrap();
        s.get_audio(&blobs[0].0, &src.path().join("o")).unwrap();
        s.learn_versions("ns", &[(SongId::from_bytes(b"v"), Some(7))])
            .unwrap();
    }
    let s = CacheStore::open(dir.path(), 2500).unwrap();
    let st = s.stats().unwrap();
    assert_eq!((st.entries, st.bytes), (2, 2000));
    assert_eq!(
        (st.total.hits, st.session.hits),
        (1, 0),
        "totals persist, sessions do not"
    );
    assert_eq!(
        s.known_version("ns", &SongId::from_bytes(b"v")).unwrap(),
        Some(7)
    );
    // The order persisted too: blob 1 (not blob 0, used last) goes.
    s.put_audio_from(&blobs[2].0, &blobs[2].1).unwrap();
    assert!(s.has_audio(&blobs[0].0).unwrap());
    assert!(!s.has_audio(&blobs[1].0).unwrap());
    assert_eq!(
        s.get_audio(&blobs[0].0, &src.path().join("o2")).unwrap(),
        Some(1000)
    );
    assert_eq!(
        std::fs::read(src.path().join("o2")).unwrap(),
        std::fs::read(&blobs[0].1).unwrap()
    );
}

#[test]
fn a_new_song_version_invalidates_its_vectors() {
    let dir = tempfile::tempdir().unwrap();
    let s = CacheStore::open(dir.path(), 1 << 20).unwrap();
    let id = SongId::from_bytes(b"a");
    let e = Embedding::new(model(), vector(1)).unwrap();
    s.learn_versions("ns", &[(id.clone(), Some(1))]).unwrap();
    s.put_embedding("ns", &id, &e, true).unwrap();
    s.learn_versions("ns", &[(id.clone(), Some(1))]).unwrap();
    assert!(
        s.get_embedding("ns", &id, &model()).unwrap().is_some(),
        "same version: kept"
    );
    s.learn_versions("ns", &[(id.clone(), Some(2))]).unwrap();
    assert_eq!(s.get_embedding("ns", &id, &model()).unwrap(), None);
    assert_eq!(
        s.stats().unwrap().embedding_entries,
        0,
        "the stale row is gone"
    );
    s.put_embedding("ns", &id, &e, true).unwrap();
    assert!(s.get_embedding("ns", &id, &model()).unwrap().is_some());
    s.learn_versions("ns", &[(id.clone(), None)]).unwrap();
    assert_eq!(
        s.get_embedding("ns", &id, &model()).unwrap(),
        None,
        "deleted song"
    );
    assert_eq!(s.check().unwrap(), Vec::<String>::new());
}

#[test]
fn damaged_entries_are_dropped_not_served() {
    let (dir, src, s) = store_and_sources(1 << 20);
    let (id, p) = audio_file(src.path(), 1, 5000);
    s.put_audio_from(&id, &p).unwrap();
    // Flip a byte of the cached file.
    let cached = s.audio_path(&id);
    let mut b = std::fs::read(&cached).unwrap();
    b[100] ^= 0xff;
    std::fs::write(&cached, b).unwrap();
    let out = src.path().join("out.bin");
    std::fs::write(&out, b"keep me").unwrap();
    assert_eq!(s.get_audio(&id, &out).unwrap(), None);
    assert_eq!(
        std::fs::read(&out).unwrap(),
        b"keep me",
        "nothing bad written"
    );
    assert!(!cached.exists() && !s.has_audio(&id).unwrap());
    let st = s.stats().unwrap();
    assert_eq!((st.session.corrupt, st.entries), (1, 0));

    // A damaged vector row.
    let e = Embedding::new(model(), vector(2)).unwrap();
    s.put_embedding("ns", &id, &e, true).unwrap();
    let conn = rusqlite::Connection::open(dir.path().join(INDEX_FILE)).unwrap();
    conn.execute(
        "UPDATE entries SET data = zeroblob(16) WHERE kind = 'embedding'",
        [],
    )
    .unwrap();
    assert_eq!(s.get_embedding("ns", &id, &model()).unwrap(), None);
    assert_eq!(s.stats().unwrap().session.corrupt, 2);
    assert_eq!(s.check().unwrap(), Vec::<String>::new());
    let names: Vec<_> = std::fs::read_dir(src.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains(".tmp")), "{names:?}");
}

#[test]
fn an_unreadable_index_is_replaced_and_a_newer_one_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(INDEX_FILE),
        b"this is not sqlite at all, sorry",
    )
    .unwrap();
    let s = CacheStore::open(dir.path(), 1000).unwrap();
    assert_eq!(s.stats().unwrap().entries, 0);
    assert!(
        std::fs::read_dir(dir.path()).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .contains("unreadable")),
        "the damaged index is kept aside"
    );
    drop(s);
    let conn = rusqlite::Connection::open(dir.path().join(INDEX_FILE)).unwrap();
    conn.execute_batch("PRAGMA user_version = 99").unwrap();
    drop(conn);
    let err = CacheStore::open(dir.path(), 1000).unwrap_err();
    assert!(err.to_string().contains("newer"), "{err}");
}

#[test]
fn clear_empties_everything() {
    let (_dir, src, s) = store_and_sources(1 << 20);
    let (id, p) = audio_file(src.path(), 3, 2000);
    s.put_audio_from(&id, &p).unwrap();
    s.put_embedding(
        "ns",
        &id,
        &Embedding::new(model(), vector(1)).unwrap(),
        true,
    )
    .unwrap();
    assert!(s.clear().unwrap() > 2000);
    let st = s.stats().unwrap();
    assert_eq!((st.entries, st.bytes, st.total.bytes_fetched), (0, 0, 0));
    assert!(!s.audio_path(&id).exists());
    assert_eq!(s.check().unwrap(), Vec::<String>::new());
}

/// Two handles on one folder (separate SQLite connections, as two processes have) writing,
/// reading and evicting at once leave a consistent index.
#[test]
fn concurrent_handles_keep_the_index_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let blobs: Vec<_> = (0..12u8).map(|i| audio_file(src.path(), i, 700)).collect();
    let blobs = Arc::new(blobs);
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let root = dir.path().to_path_buf();
            let out = src.path().join(format!("out{t}"));
            let blobs = blobs.clone();
            std::thread::spawn(move || {
                let s = CacheStore::open(&root, 4000).unwrap();
                for round in 0..5 {
                    for (i, (id, p)) in blobs.iter().enumerate() {
                        if (i + round + t).is_multiple_of(2) {
                            s.put_audio_from(id, p).unwrap();
                        } else if let Some(n) = s.get_audio(id, &out).unwrap() {
                            assert_eq!(n, 700);
                        }
                        let sid = SongId::from_bytes(&[i as u8]);
                        let e = Embedding::new(model(), vector(i as u32)).unwrap();
                        s.put_embedding("ns", &sid, &e, true).unwrap();
                        if let Some(got) = s.get_embedding("ns", &sid, &model()).unwrap() {
                            assert_eq!(got, e);
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let s = CacheStore::open(dir.path(), 4000).unwrap();
    assert_eq!(s.check().unwrap(), Vec::<String>::new());
    let st = s.stats().unwrap();
    assert!(st.bytes <= 4000 && st.total.evictions > 0, "{st}");
}

/// The same with two real processes: this test binary re-runs itself as the workers.
#[test]
fn two_processes_share_a_cache_folder() {
    if let Ok(root) = std::env::var("SONGREC_CACHE_TEST_CHILD") {
        let s = CacheStore::open(&root, 6000).unwrap();
        let src = tempfile::tempdir().unwrap();
        let seed: u8 = std::env::var("SONGREC_CACHE_TEST_SEED")
            .unwrap()
            .parse()
            .unwrap();
        for round in 0..4u8 {
            for i in 0..10u8 {
                let (id, p) = audio_file(src.path(), i, 900);
                if (i + round + seed).is_multiple_of(3) {
                    s.put_audio_from(&id, &p).unwrap();
                } else {
                    s.get_audio(&id, &src.path().join("o")).unwrap();
                }
                let sid = SongId::from_bytes(&[i]);
                s.learn_versions("ns", &[(sid.clone(), Some(u64::from(round % 2 + 1)))])
                    .unwrap();
                s.put_embedding(
                    "ns",
                    &sid,
                    &Embedding::new(model(), vector(i.into())).unwrap(),
                    true,
                )
                .unwrap();
            }
        }
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..2)
        .map(|seed| {
            std::process::Command::new(&exe)
                .args([
                    "--exact",
                    "tests::two_processes_share_a_cache_folder",
                    "--nocapture",
                ])
                .env("SONGREC_CACHE_TEST_CHILD", dir.path())
                .env("SONGREC_CACHE_TEST_SEED", seed.to_string())
                // The child is a test harness too: keep its own "running 1 test ... test
                // result" lines out of this test's log unless it fails.
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "a worker process failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let s = CacheStore::open(dir.path(), 6000).unwrap();
    assert_eq!(s.check().unwrap(), Vec::<String>::new());
    let st = s.stats().unwrap();
    // Each worker made 40 audio reads or writes and 40 vector writes.
    assert!(st.total.hits + st.total.misses > 0, "{st}");
    assert!(st.bytes <= 6000 && st.total.evictions > 0, "{st}");
    assert!(st.total.bytes_fetched >= 2 * 40 * 16, "{st}");
}

/// `remote`, given the audio `(id, path)`, behind metrics and then a 1 MiB cache in `dir`;
/// with the metrics and the cache's store.
async fn metered_cache(
    remote: MemoryBackend,
    (id, path): (&SongId, &Path),
    dir: &Path,
) -> (
    MetricsRecorder,
    Arc<CacheStore>,
    CacheLayer<MetricsLayer<MemoryBackend>>,
) {
    remote.put_audio(id, path).await.unwrap();
    let metrics = MetricsRecorder::new();
    let cache = Cache::open(dir, 1 << 20).unwrap();
    let store = cache.store().clone();
    (metrics.clone(), store, remote.layer(metrics).layer(cache))
}

/// The vector of `id` for the test model, which must be there.
async fn vector_of(b: &impl StorageBackend, id: &SongId) -> Vec<f32> {
    b.get_embedding(id, &model()).await.unwrap().unwrap().vector
}

// ---- the layers ----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_reads_are_served_from_disk_until_a_version_changes() {
    let dir = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let remote = MemoryBackend::new();
    remote.put_songs(&[record(1), record(2)]).await.unwrap();
    let (aid, apath) = audio_file(src.path(), 1, 10_000);
    let (metrics, store, b) = metered_cache(remote, (&aid, &apath), dir.path()).await;
    let calls = |op: &str| metrics.metrics().op(op).map_or(0, |o| o.calls);

    let id = song(1).id;
    b.get_metadata(&id).await.unwrap();
    for _ in 0..3 {
        assert_eq!(vector_of(&b, &id).await, vector(1));
        let out = src.path().join("out.bin");
        assert_eq!(b.get_audio(&aid, &out).await.unwrap(), 10_000);
        assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&apath).unwrap());
    }
    assert_eq!((calls("get_embedding"), calls("get_audio")), (1, 1));
    let st = store.stats().unwrap().session;
    assert_eq!((st.hits, st.misses), (4, 2));
    assert_eq!(st.bytes_fetched, 10_000 + 16);

    // Another machine edits the song: the listing shows version 2, the cached vector is dropped.
    let mut m = song(1);
    m.touch();
    b.inner().inner().put_metadata(&m).await.unwrap();
    b.inner()
        .inner()
        .put_embedding(&id, &Embedding::new(model(), vector(9)).unwrap())
        .await
        .unwrap();
    b.list(&ListQuery::default()).await.unwrap();
    assert_eq!(vector_of(&b, &id).await, vector(9));
    assert_eq!(calls("get_embedding"), 2);

    // Writes through the layer: put_embedding invalidates, delete_song drops everything.
    b.put_embedding(&id, &Embedding::new(model(), vector(5)).unwrap())
        .await
        .unwrap();
    assert_eq!(vector_of(&b, &id).await, vector(5));
    b.delete_song(&id).await.unwrap();
    assert_eq!(b.get_embedding(&id, &model()).await.unwrap(), None);
    assert_eq!(store.check().unwrap(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_cached_blob_is_fetched_again() {
    let dir = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let remote = MemoryBackend::new();
    let (aid, apath) = audio_file(src.path(), 4, 4096);
    let (metrics, store, b) = metered_cache(remote, (&aid, &apath), dir.path()).await;
    let out = src.path().join("o.bin");
    b.get_audio(&aid, &out).await.unwrap();
    std::fs::write(store.audio_path(&aid), b"garbage").unwrap();
    assert_eq!(b.get_audio(&aid, &out).await.unwrap(), 4096);
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&apath).unwrap());
    assert_eq!(metrics.metrics().op("get_audio").unwrap().calls, 2);
    assert_eq!(store.stats().unwrap().session.corrupt, 1);
    // ...and cached again, intact.
    assert_eq!(
        std::fs::read(store.audio_path(&aid)).unwrap(),
        std::fs::read(&apath).unwrap()
    );

    // A bulk reader keeps no new audio but is served what is cached.
    let (other, opath) = audio_file(src.path(), 5, 2048);
    b.inner().inner().put_audio(&other, &opath).await.unwrap();
    let bulk = MemoryBackend::new().layer(Cache::from_store(store.clone()).keep_audio(false));
    bulk.put_audio(&other, &opath).await.unwrap();
    bulk.get_audio(&other, &out).await.unwrap();
    assert!(!store.has_audio(&other).unwrap());
    bulk.put_audio(&aid, &apath).await.unwrap();
    let before = store.stats().unwrap().session.hits;
    bulk.get_audio(&aid, &out).await.unwrap();
    assert_eq!(store.stats().unwrap().session.hits, before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_reads_use_the_copy_and_writes_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let fallback = Fallback::new(MemoryBackend::new()).state_file(dir.path().join("state.json"));
    let status = fallback.status();
    let b = MemoryBackend::new()
        .layer(Chaos::new(3))
        .layer(CircuitBreaker::new(1, Duration::from_secs(60)))
        .layer(Cache::open(dir.path().join("cache"), 1 << 20).unwrap())
        .layer(fallback);
    let recs: Vec<_> = (0..5).map(record).collect();
    b.put_songs(&recs).await.unwrap();
    // A read of the remote records when it was reached.
    assert_eq!(b.count(&Filter::default()).await.unwrap(), 5);
    assert!(status.synced_at().is_some());
    let cached = song(0).id;
    b.get_embedding(&cached, &model()).await.unwrap();

    // The remote goes down.
    b.primary()
        .inner()
        .inner()
        .set_config(Chaos::new(3).fail_ratio(1.0));
    let page = b
        .list(&ListQuery {
            limit: 2,
            ..ListQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
    let next = page.next.clone().unwrap();
    assert!(next.starts_with("offline:"));
    let page2 = b
        .list(&ListQuery {
            limit: 2,
            cursor: Some(next),
            ..ListQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(page2.items.len(), 2);
    assert_ne!(page.items[0].id, page2.items[0].id);
    // A listing begun on the copy ends there even if the remote is back meanwhile.
    b.primary().inner().inner().set_config(Chaos::new(3));
    let page3 = b
        .list(&ListQuery {
            limit: 2,
            cursor: page2.next.clone(),
            ..ListQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(page3.items.len(), 1, "5 songs: 2 + 2 + 1");
    assert!(page3.next.is_none());
    b.primary()
        .inner()
        .inner()
        .set_config(Chaos::new(3).fail_ratio(1.0));
    let hits = b
        .search(&SearchQuery::new(model(), vector(3), 2))
        .await
        .unwrap();
    assert_eq!(
        hits[0].id,
        song(3).id,
        "offline search is exact on the copy"
    );
    assert_eq!(
        b.get_metadata(&song(4).id).await.unwrap().unwrap().title,
        "Song 4"
    );
    assert!(
        b.get_embedding(&song(2).id, &model())
            .await
            .unwrap()
            .is_some()
    );
    let w = status.warning().expect("a warning");
    assert!(
        w.starts_with("remote unavailable (") && w.contains("showing cached data from"),
        "{w}"
    );
    assert!(w.contains("cache refresh"), "not fully refreshed yet: {w}");
    assert!(status.served_from_fallback() >= 4);

    // Writes: refused at once, and the copy is untouched.
    let before = b.secondary().list_versions().await.unwrap();
    let err = b.put_songs(&[record(7)]).await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    assert!(err.to_string().contains("nothing was changed"), "{err}");
    let err = b.delete_song(&song(1).id).await.unwrap_err();
    assert!(err.to_string().contains("nothing was changed"), "{err}");
    assert_eq!(b.secondary().list_versions().await.unwrap(), before);

    // A later process reads the sync time back.
    let f2 = Fallback::new(MemoryBackend::new()).state_file(dir.path().join("state.json"));
    assert!(f2.status().synced_at().is_some());
    assert!(FallbackStatus::default().synced_at().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_mode_never_answers_from_the_copy() {
    let fallback = Fallback::new(MemoryBackend::new()).reads(false);
    let status = fallback.status();
    let b = MemoryBackend::new().layer(Chaos::new(5)).layer(fallback);
    b.put_songs(&[record(1)]).await.unwrap();
    assert_eq!(
        b.secondary().count(&Filter::default()).await.unwrap(),
        1,
        "still copied"
    );
    b.primary().set_config(Chaos::new(5).fail_ratio(1.0));
    assert!(
        b.count(&Filter::default())
            .await
            .unwrap_err()
            .is_unavailable()
    );
    assert_eq!(status.served_from_fallback(), 0);
    assert!(status.warning().is_none());
}

/// An offline copy that holds nothing and was never refreshed knows nothing of the library: the
/// read fails with the remote's error and says so, instead of answering "0 songs". Once the copy
/// holds a song, or was completely refreshed (an empty library is then truly empty), it answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_copy_never_refreshed_is_no_answer() {
    let fallback = Fallback::new(MemoryBackend::new());
    let status = fallback.status();
    let b = MemoryBackend::new()
        .layer(Chaos::new(2).fail_ratio(1.0))
        .layer(fallback);
    let err = b.count(&Filter::default()).await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    assert!(
        err.to_string().contains("no offline copy") && err.to_string().contains("cache refresh"),
        "{err}"
    );
    let err = b.list(&ListQuery::default()).await.unwrap_err();
    assert!(err.to_string().contains("no offline copy"), "{err}");
    assert_eq!(status.served_from_fallback(), 0);
    assert!(status.warning().is_none());

    // A copy holding a song answers, with the warning.
    b.secondary().put_songs(&[record(1)]).await.unwrap();
    assert_eq!(b.count(&Filter::default()).await.unwrap(), 1);
    assert!(status.warning().is_some());

    // A complete refresh of an empty library: its copy's "0 songs" is the answer.
    let fallback = Fallback::new(MemoryBackend::new());
    let b = MemoryBackend::new().layer(Chaos::new(2)).layer(fallback);
    b.refresh_snapshot(&|_, _| {}).await.unwrap();
    b.primary().set_config(Chaos::new(2).fail_ratio(1.0));
    assert_eq!(b.count(&Filter::default()).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_copies_everything_and_only_what_changed() {
    let remote = MemoryBackend::new();
    remote
        .put_songs(&(0..30).map(record).collect::<Vec<_>>())
        .await
        .unwrap();
    let fallback = Fallback::new(MemoryBackend::new());
    let status = fallback.status();
    let b = remote.layer(fallback);
    let r = b.refresh_snapshot(&|_, _| {}).await.unwrap();
    assert_eq!((r.songs, r.copied, r.vectors, r.unchanged), (30, 30, 30, 0));
    assert!(status.full_refresh_at().is_some());
    assert_eq!(
        b.secondary()
            .get_embedding(&song(7).id, &model())
            .await
            .unwrap()
            .unwrap()
            .vector,
        vector(7)
    );
    // One song changes, one is deleted on the remote (behind the layer's back).
    let mut m = song(3);
    m.title = "Renamed".into();
    m.touch();
    b.primary().put_metadata(&m).await.unwrap();
    b.primary().delete_song(&song(4).id).await.unwrap();
    let r = b.refresh_snapshot(&|_, _| {}).await.unwrap();
    assert_eq!((r.songs, r.copied, r.removed, r.unchanged), (29, 1, 1, 28));
    assert_eq!(
        b.secondary()
            .get_metadata(&song(3).id)
            .await
            .unwrap()
            .unwrap()
            .title,
        "Renamed"
    );
    assert!(
        b.secondary()
            .get_metadata(&song(4).id)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_circuit_is_shared_through_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("circuit.json");
    let breaker = CircuitBreaker::new(1, Duration::from_secs(60)).persist_to(&file);
    let metrics = MetricsRecorder::new();
    let b = MemoryBackend::new()
        .layer(Chaos::new(1).fail_ratio(1.0))
        .layer(metrics.clone())
        .layer(breaker.clone());
    assert!(b.count(&Filter::default()).await.is_err());
    assert!(b.is_open() && file.exists());
    // A new process (a new layer on the same file) starts open and does not call the remote.
    let metrics2 = MetricsRecorder::new();
    let b2 = MemoryBackend::new()
        .layer(metrics2.clone())
        .layer(breaker.clone());
    assert!(b2.is_open());
    let err = b2.count(&Filter::default()).await.unwrap_err();
    assert!(
        err.to_string().contains("injected fault"),
        "the reason travels: {err}"
    );
    assert_eq!(metrics2.metrics().total_calls(), 0);
    // A success (after the cool-down) closes it for everyone.
    std::fs::write(
        &file,
        std::fs::read_to_string(&file)
            .unwrap()
            .replace("\"open_until_unix_ms\":", "\"open_until_unix_ms\":1,\"x\":"),
    )
    .unwrap();
    let b3 = MemoryBackend::new().layer(breaker);
    assert!(!b3.is_open());
    assert_eq!(b3.count(&Filter::default()).await.unwrap(), 0);
    assert!(!file.exists());
}
