//! The cache layer over the real Astra backend (local Data API server + s3s-fs on 127.0.0.1):
//! the conformance suite, requests saved by a warm cache, and cached data served while the
//! remote is down.

use std::path::Path;
use std::time::Duration;

use crate::{Env, backend_at};
use songrec_astra::AstraBackend;
use songrec_cache::{Cache, CacheLayer};
use songrec_storage::layers::{CircuitBreaker, CircuitBreakerLayer, LayerExt};
use songrec_storage::prelude::*;
use songrec_storage::{ModelInfo, SongId};
use songrec_testkit::data::record;

fn model() -> ModelInfo {
    ModelInfo::new("cache-test", "1", 16)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_over_astra_passes_conformance() {
    let env = Env::start(true).await;
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(dir.path(), 64 << 20).unwrap();
    let store = cache.store().clone();
    let b = backend_at(&env.cloud, &env.base_url(), env.token())
        .layer(CircuitBreaker::new(1, Duration::from_secs(30)))
        .layer(cache);
    assert!(
        b.to_string().starts_with("Cache(CircuitBreaker(Astra("),
        "{b}"
    );
    songrec_conformance::run_all(&b).await;
    let s = store.stats().unwrap();
    assert!(s.session.hits > 0 && s.session.misses > 0, "{s}");
    assert_eq!(store.check().unwrap(), Vec::<String>::new());
}

type Stack = CacheLayer<CircuitBreakerLayer<AstraBackend>>;

/// Reads every song's metadata and vector, and every blob, checking the answers.
async fn pass(
    b: &Stack,
    records: &[songrec_storage::SongRecord],
    blobs: &[(SongId, Vec<u8>)],
    dir: &Path,
) {
    for r in records {
        let m = b.get_metadata(&r.metadata.id).await.unwrap().unwrap();
        let e = b.get_embedding(&m.id, &model()).await.unwrap().unwrap();
        assert_eq!(e.vector, r.embeddings[0].vector);
    }
    for (i, (id, bytes)) in blobs.iter().enumerate() {
        let out = dir.join(format!("out{i}"));
        assert_eq!(b.get_audio(id, &out).await.unwrap(), bytes.len() as u64);
        assert_eq!(&std::fs::read(&out).unwrap(), bytes);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_cache_saves_requests_and_outlives_the_remote() {
    let Env { mut cloud, backend } = Env::start(true).await;
    let records: Vec<_> = (0..40).map(|n| record(n, &model())).collect();
    backend.put_songs(&records).await.unwrap();
    let src = tempfile::tempdir().unwrap();
    let mut blobs = Vec::new();
    for i in 0..3u8 {
        let bytes: Vec<u8> = (0..50_000u32)
            .map(|x| (x as u8).wrapping_mul(7).wrapping_add(i))
            .collect();
        let id = SongId::from_bytes(&bytes);
        let p = src.path().join(format!("{i}.bin"));
        std::fs::write(&p, &bytes).unwrap();
        backend.put_audio(&id, &p).await.unwrap();
        blobs.push((id, bytes));
    }

    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(dir.path(), 64 << 20).unwrap();
    let store = cache.store().clone();
    let b = backend_at(&cloud, &cloud.api_url(), cloud.token())
        .layer(CircuitBreaker::new(1, Duration::from_secs(60)))
        .layer(cache);
    let requests = || b.inner().inner().requests_sent();

    let r0 = requests();
    pass(&b, &records, &blobs, src.path()).await;
    let first = requests() - r0;
    let r1 = requests();
    pass(&b, &records, &blobs, src.path()).await;
    let second = requests() - r1;
    // Cold: per song a metadata read and a vector read (plus the model registry once).
    // Warm: the metadata read only; every vector and blob comes from disk.
    assert!(first > 80, "{first}");
    assert_eq!(second, 40, "warm pass: one metadata request per song");
    let s = store.stats().unwrap().session;
    assert_eq!((s.hits, s.misses), (43, 43));
    assert_eq!(s.bytes_served, s.bytes_fetched);

    // The remote goes away: cached vectors and audio are still served, the rest fails fast.
    cloud.stop().await;
    let id = &records[5].metadata.id;
    assert!(b.get_embedding(id, &model()).await.unwrap().is_some());
    let out = src.path().join("offline.bin");
    assert_eq!(b.get_audio(&blobs[1].0, &out).await.unwrap(), 50_000);
    let err = b.get_metadata(id).await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    assert!(b.inner().is_open());
    let before = requests();
    let err = b.list_versions().await.unwrap_err();
    assert!(
        err.to_string().contains("songrec tries it again in"),
        "{err}"
    );
    assert_eq!(requests(), before, "an open circuit sends nothing");
}
