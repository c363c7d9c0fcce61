//! A bounded load test of `GET /api/v1/songs/{id}/similar` over loopback: N concurrent clients
//! for T seconds against a synthetic library (metadata + random unit vectors of the DSP model),
//! reporting throughput and latency percentiles. Numbers are printed, never asserted.
//! With `--subsonic`, the Subsonic API instead (`/rest/`, one client): the first `getArtists`
//! (which groups the library), then `getArtists`, `getAlbumList2` pages, `search3` (a word, and
//! the empty query's pages) and the start of a `stream` (headers and the first bytes).
//!
//! ```sh
//! cargo run --release -p songrec-benches --example loadtest -- --songs 10000 --clients 8 --seconds 10
//! cargo run --release -p songrec-benches --example loadtest -- --songs 100000 --subsonic
//! # against a server started elsewhere (its library must be the one in --dir):
//! cargo run --release -p songrec-benches --example loadtest -- --url http://127.0.0.1:8080 --dir DIR
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use songrec_storage::prelude::*;
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
    /// Time the Subsonic API (`/rest/`) instead of `similar`.
    #[arg(long)]
    subsonic: bool,
}

/// Songs of the synthetic library that get audio (a short WAV each), for `stream`.
const WITH_AUDIO: usize = 20;

/// A WAV of `n`'s own: 0.5 s of 8-bit mono noise at 8 kHz.
fn wav(n: usize) -> Vec<u8> {
    let data: Vec<u8> = {
        let mut rng = SplitMix::new(n as u64 + 1);
        (0..4000).map(|_| (rng.next_u64() >> 56) as u8).collect()
    };
    let mut w = Vec::with_capacity(44 + data.len());
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    for v in [16u32, 0x0001_0001, 8000, 8000, 0x0008_0001] {
        w.extend_from_slice(&v.to_le_bytes());
    }
    w.extend_from_slice(b"data");
    w.extend_from_slice(&(data.len() as u32).to_le_bytes());
    w.extend_from_slice(&data);
    w
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
        m.album = Some(format!("Album {}", i % 4999));
        if i < WITH_AUDIO {
            let bytes = wav(i);
            let key = SongId::from_bytes(&bytes);
            let f = dir.join(format!(".loadtest-{i}.wav"));
            std::fs::write(&f, &bytes)?;
            backend.put_audio(&key, &f).await?;
            m.content_hash = key.as_str().to_owned();
            m.file_name = format!("song {i}.wav");
            m.file_size = bytes.len() as u64;
        }
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

/// The user of the Subsonic timings: `SONGREC_SUBSONIC_USER` and `SONGREC_SUBSONIC_PASSWORD`
/// (for `--url`), else `bench`/`bench` (the server in this process is given it).
fn bench_user() -> (String, String) {
    let var = |k: &str| std::env::var(k).unwrap_or_else(|_| "bench".into());
    (
        var("SONGREC_SUBSONIC_USER"),
        var("SONGREC_SUBSONIC_PASSWORD"),
    )
}

/// Times `runs` calls of `/rest/<call>?<query(run)>` one after the other and prints the
/// latency percentiles. `first_bytes`: until the first body chunk (a stream's start).
async fn timed(
    base: &str,
    label: &str,
    runs: usize,
    first_bytes: bool,
    query: impl Fn(usize) -> String,
) {
    let client = reqwest::Client::new();
    let (user, password) = bench_user();
    let mut lat = Vec::with_capacity(runs);
    let mut bad = 0;
    for i in 0..runs {
        let url = format!("{base}/rest/{}&u={user}&p={password}&f=json", query(i));
        let t = Instant::now();
        let ok = match client.get(&url).send().await {
            Ok(mut r) if first_bytes => r.chunk().await.ok().flatten().is_some(),
            Ok(r) => r.text().await.is_ok_and(|b| b.contains(r#""status":"ok""#)),
            Err(_) => false,
        };
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        bad += usize::from(!ok);
    }
    lat.sort_by(f64::total_cmp);
    println!(
        "{label:<44} {runs:>3} runs, {bad} failed: latency ms p50 {:.1} p90 {:.1} max {:.1}",
        pct(&lat, 0.5),
        pct(&lat, 0.9),
        lat.last().copied().unwrap_or(f64::NAN)
    );
}

/// The Subsonic API's calls a player makes to browse, page and search, and a stream's start.
async fn subsonic(base: &str) {
    let fixed = |q: &'static str| move |_| q.to_owned();
    // The first call groups the library into artists and albums; later ones reuse that.
    timed(
        base,
        "getArtists (first: groups the library)",
        1,
        false,
        fixed("getArtists?"),
    )
    .await;
    timed(base, "getArtists", 20, false, fixed("getArtists?")).await;
    timed(
        base,
        "getAlbumList2 alphabeticalByName, pages of 50",
        20,
        false,
        |i| {
            format!(
                "getAlbumList2?type=alphabeticalByName&size=50&offset={}",
                i * 100
            )
        },
    )
    .await;
    timed(
        base,
        "getAlbumList2 newest, 50",
        20,
        false,
        fixed("getAlbumList2?type=newest&size=50"),
    )
    .await;
    timed(base, "search3 one word", 20, false, |i| {
        format!("search3?query=song+{i}7")
    })
    .await;
    timed(
        base,
        "search3 empty query, pages of 500 songs",
        20,
        false,
        |i| {
            format!(
                "search3?query=&artistCount=0&albumCount=0&songCount=500&songOffset={}",
                i * 5000
            )
        },
    )
    .await;
    timed(
        base,
        "stream, until the first bytes",
        WITH_AUDIO,
        true,
        |i| {
            let id = SongId::from_bytes(format!("loadtest song {i}").as_bytes());
            format!("stream?id={id}")
        },
    )
    .await;
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
            let (user, password) = bench_user();
            let server = songrec_testkit::server::serve(backend.clone(), |o| {
                o.subsonic.credentials.user = user;
                o.subsonic.credentials.password = songrec_storage::Secret::new(password);
            })
            .await;
            (server.base.clone(), Some(server))
        }
    };
    println!(
        "library: {} songs at {}; server {base}; {} cores",
        ids.len(),
        dir.display(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    if args.subsonic {
        subsonic(&base).await;
        return Ok(());
    }
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
