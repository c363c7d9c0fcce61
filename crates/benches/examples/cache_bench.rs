//! Cache benchmark: a repeated `similar` workload on an Astra library, cold cache vs warm.
//!
//! ```text
//! cargo run -p songrec-benches --example cache_bench -- [--songs 2000] [--queries 200] [--blobs 20] [--blob-kb 1024] [--rtt-ms 0]
//! ```
//!
//! Starts a local Data API server and an S3 server (s3s-fs) in-process on 127.0.0.1, loads
//! `--songs` songs (metadata + a DSP-model-sized vector each) and `--blobs` audio blobs, then
//! runs the same workload twice through `Cache(CircuitBreaker(Astra))` with an empty cache
//! folder: `--queries` similarity queries as `songrec similar TITLE` makes them (resolve the
//! title, read the song's vector, search) plus one `get_audio` per blob. Prints per pass:
//! Data API requests, latency per query (median, p95), cache hits/misses and bytes.
//! `--rtt-ms` adds a delay to every call that reaches the remote (a `Chaos` layer below the
//! cache), to see what the saved requests are worth over a real network.

use std::path::Path;
use std::time::{Duration, Instant};

use songrec_app::similar::Target;
use songrec_astra::AstraBackend;
use songrec_cache::{Cache, CacheLayer, CacheStore};
use songrec_rank::{Question, Space};
use songrec_storage::layers::{Chaos, ChaosLayer, CircuitBreaker, CircuitBreakerLayer, LayerExt};
use songrec_storage::prelude::*;
use songrec_storage::rng::SplitMix;
use songrec_storage::{Embedding, SongId, SongMetadata, SongRecord};

type Stack = CacheLayer<CircuitBreakerLayer<ChaosLayer<AstraBackend>>>;

/// A repeated `similar` workload on an Astra library, cold cache against warm.
#[derive(clap::Parser)]
struct Args {
    /// Songs loaded (at least 2).
    #[arg(long, default_value_t = 2000)]
    songs: usize,
    /// Similarity queries a pass.
    #[arg(long, default_value_t = 200)]
    queries: usize,
    /// Audio blobs fetched a pass.
    #[arg(long, default_value_t = 20)]
    blobs: usize,
    /// Size of each blob, KiB.
    #[arg(long, default_value_t = 1024)]
    blob_kb: usize,
    /// Delay added to every call that reaches the remote, ms.
    #[arg(long, default_value_t = 0)]
    rtt_ms: u64,
}

fn parse_args() -> Result<Args, String> {
    let a = <Args as clap::Parser>::parse();
    if a.songs < 2 || a.queries == 0 {
        return Err("--songs must be at least 2 and --queries positive".into());
    }
    Ok(a)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn pass(
    b: &Stack,
    store: &CacheStore,
    titles: &[String],
    blobs: &[SongId],
    scratch: &Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let astra = b.inner().inner().inner();
    let embedder = songrec_app::embedders::by_name("dsp")?;
    let model = songrec_app::embedders::model_of(embedder.as_ref());
    let pool = songrec_app::embedders::Pool::new(Default::default());
    let before = store.stats()?.session;
    let r0 = astra.requests_sent();
    let mut lat = Vec::with_capacity(titles.len());
    let mut results = 0usize;
    let t_all = Instant::now();
    for t in titles {
        let t0 = Instant::now();
        let song = songrec_app::resolve::resolve(b, t).await?;
        let target = Target::Song(Box::new(song));
        let q = Question {
            space: Space::from(model.clone()),
            ranking: Default::default(),
        };
        results += songrec_app::similar::similar(b, &target, &q, &pool)
            .await?
            .len();
        lat.push(t0.elapsed());
    }
    let queries_secs = t_all.elapsed().as_secs_f64();
    let requests = astra.requests_sent() - r0;
    let t_audio = Instant::now();
    for (i, id) in blobs.iter().enumerate() {
        b.get_audio(id, &scratch.join(format!("out{i}"))).await?;
    }
    let audio_secs = t_audio.elapsed().as_secs_f64();
    lat.sort();
    let after = store.stats()?.session;
    let (hits, misses) = (after.hits - before.hits, after.misses - before.misses);
    println!(
        "  {} similar queries ({results} results): {requests} Data API requests ({:.2} per query), {:.2} s, median {:.2} ms, p95 {:.2} ms",
        titles.len(),
        requests as f64 / titles.len() as f64,
        queries_secs,
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.95).as_secs_f64() * 1e3,
    );
    println!(
        "  {} audio reads: {:.2} s; cache: {hits} hits, {misses} misses (hit ratio {:.1} %), {} bytes served from disk, {} bytes fetched from the remote",
        blobs.len(),
        audio_secs,
        if hits + misses > 0 {
            hits as f64 * 100.0 / (hits + misses) as f64
        } else {
            0.0
        },
        after.bytes_served - before.bytes_served,
        after.bytes_fetched - before.bytes_fetched,
    );
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let tmp = tempfile::tempdir()?;
    let mut cloud = songrec_testkit::LocalCloud::start().await;
    let opts = cloud.options();
    let embedder = songrec_app::embedders::by_name("dsp")?;
    let model = songrec_app::embedders::model_of(embedder.as_ref());
    AstraBackend::init(&opts, std::slice::from_ref(&model)).await?;

    // The library: songs with distinct titles, a vector each; some audio blobs.
    let loader = AstraBackend::connect(&opts)?;
    let mut rng = SplitMix::new(42);
    let t0 = Instant::now();
    let mut titles = Vec::new();
    for chunk in (0..args.songs).collect::<Vec<_>>().chunks(500) {
        let recs: Vec<SongRecord> = chunk
            .iter()
            .map(|&i| {
                let mut m = SongMetadata::new(
                    SongId::from_bytes(format!("cache bench {i}").as_bytes()),
                    format!("Bench Track {i:05}"),
                );
                m.artist = Some(format!("Artist {}", i % 50));
                m.genre = Some(["rock", "jazz", "pop", "folk"][i % 4].into());
                titles.push(m.title.clone());
                let v = (0..model.dim).map(|_| rng.next_signed()).collect();
                SongRecord {
                    metadata: m,
                    embeddings: vec![Embedding::new(model.clone(), v).expect("finite vector")],
                }
            })
            .collect();
        let r = loader.put_songs(&recs).await?;
        if !r.is_complete() {
            return Err(format!("loading failed: {:?}", r.failed.first()).into());
        }
    }
    let mut blob_ids = Vec::new();
    for i in 0..args.blobs {
        let bytes: Vec<u8> = (0..args.blob_kb * 1024)
            .map(|_| (rng.next_u64() >> 56) as u8)
            .collect();
        let id = SongId::from_bytes(&bytes);
        let p = tmp.path().join(format!("blob{i}"));
        std::fs::write(&p, &bytes)?;
        loader.put_audio(&id, &p).await?;
        blob_ids.push(id);
    }
    println!(
        "library: {} songs ({}-d vectors), {} blobs of {} KiB on {} (loaded in {:.1} s)",
        args.songs,
        model.dim,
        args.blobs,
        args.blob_kb,
        loader,
        t0.elapsed().as_secs_f64()
    );
    let picks: Vec<String> = (0..args.queries)
        .map(|_| titles[rng.below(titles.len())].clone())
        .collect();
    let distinct: std::collections::HashSet<&String> = picks.iter().collect();
    println!(
        "workload: {} queries over {} distinct songs, k = 10, cosine",
        picks.len(),
        distinct.len()
    );

    // Simulated network round trip added to every call that reaches the remote.
    let rtt = Duration::from_millis(args.rtt_ms);
    println!("simulated round trip per remote call: {} ms", args.rtt_ms);
    let cache_dir = tmp.path().join("cache");
    let cache = Cache::open(&cache_dir, 2 << 30)?;
    let store = cache.store().clone();
    let b: Stack = AstraBackend::connect(&opts)?
        .layer(Chaos::new(0).latency(rtt))
        .layer(CircuitBreaker::new(1, Duration::from_secs(30)))
        .layer(cache);
    let scratch = tmp.path().join("scratch");
    std::fs::create_dir_all(&scratch)?;
    for name in ["first pass (cold cache)", "second pass (warm cache)"] {
        println!("{name}:");
        pass(&b, &store, &picks, &blob_ids, &scratch).await?;
    }
    // The same warm stack with the cache folder reopened (a new process).
    let b2: Stack = AstraBackend::connect(&opts)?
        .layer(Chaos::new(0).latency(rtt))
        .layer(CircuitBreaker::new(1, Duration::from_secs(30)))
        .layer(Cache::open(&cache_dir, 2 << 30)?);
    println!("third pass (cache reopened, as by a new process):");
    pass(&b2, b2.store(), &picks, &blob_ids, &scratch).await?;
    let s = store.stats()?;
    println!(
        "cache folder: {} entries, {:.1} MB",
        s.entries,
        s.bytes as f64 / 1e6
    );
    cloud.stop().await;
    Ok(())
}
