//! A bounded load test of `GET /api/v1/songs/{id}/similar` over loopback: N concurrent clients
//! for T seconds against a synthetic library (metadata + random unit vectors of the DSP model),
//! reporting throughput and latency percentiles. Numbers are printed, never asserted.
//!
//! ```sh
//! cargo run --release -p songrec-server --example loadtest -- --songs 10000 --clients 8 --seconds 10
//! # against a server started elsewhere (its library must be the one in --dir):
//! cargo run --release -p songrec-server --example loadtest -- --url http://127.0.0.1:8080 --dir DIR
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use songrec_storage::rng::SplitMix;
use songrec_storage::{Embedding, SongId, SongMetadata, SongRecord, StorageBackend};

#[derive(Parser, Debug)]
struct Args {
    /// Songs in the synthetic library.
    #[arg(long, default_value_t = 10_000)]
    songs: usize,
    /// Concurrent clients.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Seconds per scenario.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Results per query.
    #[arg(short, long, default_value_t = 10)]
    k: usize,
    /// Library folder (kept and reused; default: a temporary folder).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Test a server that is already running instead of one in this process.
    #[arg(long)]
    url: Option<String>,
}

const GENRES: &[&str] = &[
    "rock", "jazz", "techno", "ambient", "pop", "folk", "metal", "soul", "house", "blues",
];

async fn build_library(dir: &std::path::Path, n: usize) -> anyhow_lite::Result<()> {
    let done = dir.join(format!(".loadtest-{n}"));
    if done.exists() {
        return Ok(());
    }
    let t = Instant::now();
    let backend = songrec_local::LocalBackend::open(dir)?;
    let e = songrec_app::embedders::by_name("dsp")?;
    let model = songrec_app::embedders::model_of(e.as_ref());
    let mut rng = SplitMix::new(n as u64);
    let mut batch = Vec::new();
    for i in 0..n {
        let id = SongId::from_bytes(format!("loadtest song {i}").as_bytes());
        let mut m = SongMetadata::new(id, format!("Load Song {i}"));
        m.artist = Some(format!("Artist {}", i % 997));
        m.genre = Some(GENRES[i % GENRES.len()].to_owned());
        m.bpm = Some(70.0 + (i % 100) as f32);
        m.duration_secs = 180.0;
        let mut v: Vec<f32> = (0..model.dim).map(|_| rng.next_signed()).collect();
        songrec_storage::math::normalize(&mut v);
        batch.push(SongRecord {
            metadata: m,
            embeddings: vec![Embedding {
                model: model.clone(),
                vector: v,
            }],
        });
        if batch.len() == 2000 || i + 1 == n {
            let r = backend.put_songs(&batch).await?;
            if !r.is_complete() {
                return Err(format!("library: {:?}", r.failed.first()).into());
            }
            batch.clear();
        }
    }
    backend.flush().await?;
    std::fs::write(&done, b"")?;
    eprintln!(
        "built {n} songs × {}-d ({}) in {:.1} s",
        model.dim,
        model.key(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Minimal boxed-error result for an example.
mod anyhow_lite {
    pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn scenario(
    name: &str,
    base: &str,
    ids: Arc<Vec<String>>,
    query: &str,
    clients: usize,
    seconds: f64,
) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()
        .expect("client");
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (client, ids, base, query) = (
            client.clone(),
            ids.clone(),
            base.to_owned(),
            query.to_owned(),
        );
        tasks.push(tokio::spawn(async move {
            let mut rng = SplitMix::new(c as u64 * 7919 + 1);
            let (mut lat, mut errors) = (Vec::new(), 0u64);
            while Instant::now() < deadline {
                let id = &ids[rng.below(ids.len())];
                let t = Instant::now();
                let ok = match client
                    .get(format!("{base}/api/v1/songs/{id}/similar?{query}"))
                    .send()
                    .await
                {
                    Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                    _ => false,
                };
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
                if !ok {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    let (mut lat, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (l, e) = t.await.expect("client task");
        lat.extend(l);
        errors += e;
    }
    let wall = started.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    println!(
        "{name:<28} {clients:>3} clients {wall:>5.1} s: {:>7} requests, {errors} errors, {:>8.1} req/s, latency ms p50 {:.2} p90 {:.2} p99 {:.2} max {:.2}",
        lat.len(),
        lat.len() as f64 / wall,
        pct(&lat, 0.5),
        pct(&lat, 0.9),
        pct(&lat, 0.99),
        lat.last().copied().unwrap_or(f64::NAN)
    );
}

#[tokio::main]
async fn main() -> anyhow_lite::Result<()> {
    let args = Args::parse();
    let tmp = tempfile::tempdir()?;
    let dir = args.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    if args.url.is_none() {
        build_library(&dir, args.songs).await?;
    }
    let backend: Arc<dyn StorageBackend> = Arc::new(songrec_local::LocalBackend::open(&dir)?);
    let ids: Vec<String> = songrec_storage::StorageBackendExt::list_all(
        backend.as_ref(),
        &songrec_storage::Filter::default(),
    )
    .await?
    .iter()
    .map(|m| m.id.as_str().to_owned())
    .collect();
    if ids.is_empty() {
        return Err("the library is empty".into());
    }
    let ids = Arc::new(ids);
    let (base, _server) = match &args.url {
        Some(u) => (u.trim_end_matches('/').to_owned(), None),
        None => {
            let server = songrec_testkit::server::serve(backend.clone(), |_| {}).await;
            (server.base.clone(), Some(server))
        }
    };
    println!(
        "library: {} songs at {}; server {base}; {} cores",
        ids.len(),
        dir.display(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let k = args.k;
    scenario(
        &format!("similar k={k}"),
        &base,
        ids.clone(),
        &format!("k={k}"),
        args.clients,
        args.seconds,
    )
    .await;
    scenario(
        &format!("similar k={k} genre=rock"),
        &base,
        ids.clone(),
        &format!("k={k}&genre=rock"),
        args.clients,
        args.seconds,
    )
    .await;
    scenario(
        &format!("similar k={k}, 1 client"),
        &base,
        ids,
        &format!("k={k}"),
        1,
        args.seconds,
    )
    .await;
    Ok(())
}
