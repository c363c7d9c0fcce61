//! `songrec bench`: speed numbers printed for the record (never asserted in tests).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use songrec_factory as factory;
use songrec_storage::{
    Embedding, Filter, ModelInfo, SearchQuery, SongId, SongMetadata, SongRecord, StorageBackend,
    math,
};

use crate::exit;

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub what: BenchWhat,
}

#[derive(Subcommand, Debug)]
pub enum BenchWhat {
    /// Exact top-k search over synthetic vectors (in-process and whole `songrec similar` runs).
    Search {
        /// Library sizes.
        #[arg(long, value_delimiter = ',', default_values_t = vec![10_000usize, 100_000])]
        songs: Vec<usize>,
        /// Vector dimension.
        #[arg(long, default_value_t = 512)]
        dim: usize,
        /// Results per query.
        #[arg(short, long, default_value_t = 10)]
        k: usize,
        /// Queries per size.
        #[arg(long, default_value_t = 50)]
        queries: usize,
        /// Keep the generated libraries here (reused when present) instead of a temp folder.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Decode + analysis speed on generated songs (one thread, then `ingest` on every core).
    Ingest {
        /// Embedders to run: dsp, musicnn or both (musicnn on the runtime `ingest` would use:
        /// ONNX Runtime when configured or installed, else tract; `songrec doctor` says which).
        #[arg(long, default_value = "dsp")]
        embedder: String,
        /// Number of songs.
        #[arg(long, default_value_t = 8)]
        songs: usize,
        /// Length of each song in seconds.
        #[arg(long, default_value_t = 180.0)]
        seconds: f32,
    },
}

struct Lcg(u64);
impl Lcg {
    fn f(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    }
    fn unit(&mut self, dim: usize) -> Vec<f32> {
        let mut v: Vec<f32> = (0..dim).map(|_| self.f()).collect();
        math::normalize(&mut v);
        v
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Single-core sequential read bandwidth, bytes/s (sum over a buffer larger than the caches).
fn read_bandwidth() -> f64 {
    let v = vec![1.0f32; 64 << 20]; // 256 MB
    let mut best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let s = math::dot(&v, &v[..]);
        let dt = t.elapsed().as_secs_f64();
        std::hint::black_box(s);
        best = best.min(dt);
    }
    // dot reads both operands (the same buffer, so from memory once per element pair).
    (v.len() * 4) as f64 / best
}

async fn build_library(dir: &Path, n: usize, dim: usize, model: &ModelInfo) -> Result<()> {
    let done = dir.join(".bench-complete");
    if done.exists() {
        return Ok(());
    }
    let t = Instant::now();
    let backend = factory::scratch_local(dir)?;
    let mut rng = Lcg(n as u64 ^ dim as u64);
    let genres = [
        "rock", "jazz", "techno", "ambient", "pop", "folk", "metal", "soul", "house", "blues",
    ];
    let mut batch = Vec::with_capacity(2000);
    for i in 0..n {
        let id = SongId::from_bytes(format!("bench song {i}").as_bytes());
        let mut m = SongMetadata::new(id, format!("Bench Song {i}"));
        m.artist = Some(format!("Artist {}", i % 997));
        m.genre = Some(genres[i % genres.len()].to_owned());
        m.bpm = Some(70.0 + (i % 100) as f32);
        m.duration_secs = 180.0;
        batch.push(SongRecord {
            metadata: m,
            embeddings: vec![Embedding {
                model: model.clone(),
                vector: rng.unit(dim),
            }],
        });
        if batch.len() == 2000 || i + 1 == n {
            let r = backend.put_songs(&batch).await?;
            anyhow::ensure!(r.is_complete(), "bench library: {:?}", r.failed.first());
            batch.clear();
            eprint!("\r  building {n}-song library: {}/{n}", i + 1);
        }
    }
    backend.flush().await?;
    eprintln!(
        "\r  built {n}-song library in {:.1} s            ",
        t.elapsed().as_secs_f64()
    );
    std::fs::write(&done, b"ok").context("marking bench library")?;
    Ok(())
}

async fn bench_search(
    sizes: &[usize],
    dim: usize,
    k: usize,
    queries: usize,
    dir: Option<&Path>,
) -> Result<u8> {
    let tmp = tempfile::tempdir()?;
    let base: PathBuf = dir.map_or_else(|| tmp.path().to_path_buf(), Path::to_path_buf);
    let model = ModelInfo::new("bench", "1", dim);
    let bw = read_bandwidth();
    println!(
        "single-core read bandwidth: {:.1} GB/s (measured)",
        bw / 1e9
    );
    for &n in sizes {
        let lib = base.join(format!("lib-{n}x{dim}"));
        build_library(&lib, n, dim, &model).await?;
        let bytes = (n * dim * 4) as f64;
        let floor_issue = bytes / 20e9 * 1e3;
        let floor_measured = bytes / bw * 1e3;

        // In-process: a fresh backend, one cold query, then timed warm queries.
        let backend = factory::scratch_local(&lib)?;
        let mut rng = Lcg(7);
        let t = Instant::now();
        backend
            .search(&SearchQuery::new(model.clone(), rng.unit(dim), k))
            .await?;
        let cold = t.elapsed().as_secs_f64() * 1e3;
        let mut times = Vec::with_capacity(queries);
        for _ in 0..queries {
            let q = SearchQuery::new(model.clone(), rng.unit(dim), k);
            let t = Instant::now();
            let r = backend.search(&q).await?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
            anyhow::ensure!(r.len() == k, "expected {k} results");
        }
        times.sort_by(f64::total_cmp);
        let med = pct(&times, 0.5);
        println!(
            "search {n} x {dim}, top-{k}: median {med:.2} ms, p95 {:.2} ms, first (cold) {cold:.1} ms; floor {floor_issue:.2} ms at 20 GB/s ({:.2}x), {floor_measured:.2} ms at measured bandwidth ({:.2}x)",
            pct(&times, 0.95),
            med / floor_issue,
            med / floor_measured
        );
        // With a filter (exact: filter first, then rank).
        let mut ft = Vec::new();
        for _ in 0..queries.min(20) {
            let mut q = SearchQuery::new(model.clone(), rng.unit(dim), k);
            q.filter = Filter::default().and(songrec_storage::Condition::Eq(
                songrec_storage::Field::Genre,
                songrec_storage::Value::Text("jazz".into()),
            ));
            let t = Instant::now();
            backend.search(&q).await?;
            ft.push(t.elapsed().as_secs_f64() * 1e3);
        }
        ft.sort_by(f64::total_cmp);
        println!(
            "search {n} x {dim}, top-{k}, genre filter (10%): median {:.2} ms",
            pct(&ft, 0.5)
        );
        drop(backend);

        // Whole process: `songrec similar <id> -k 10` against the library.
        let exe = std::env::current_exe()?;
        let mut runs = Vec::new();
        for i in 0..5 {
            let id = SongId::from_bytes(format!("bench song {}", i * 7).as_bytes());
            let t = Instant::now();
            let out = std::process::Command::new(&exe)
                .args(["--library"])
                .arg(&lib)
                .args([
                    "similar",
                    id.short(),
                    "-k",
                    &k.to_string(),
                    "--model",
                    &model.key(),
                    "--json",
                ])
                .output()?;
            runs.push(t.elapsed().as_secs_f64());
            anyhow::ensure!(
                out.status.success(),
                "songrec similar failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        runs.sort_by(f64::total_cmp);
        println!(
            "`songrec similar` process on {n} songs: median {:.3} s, max {:.3} s (5 runs)",
            pct(&runs, 0.5),
            runs[runs.len() - 1]
        );
    }
    Ok(exit::OK)
}

async fn bench_ingest(songs: usize, seconds: f32, embedder: &str) -> Result<u8> {
    let embedders = songrec_app::embedders::parse_list(embedder)?;
    let env: std::collections::HashMap<String, String> = std::env::vars().collect();
    let cfg = songrec_config::Config::from_sources(None, &env)?;
    if let Some(line) = songrec_app::embedders::runtime_line(embedder, &cfg.embedder)? {
        println!("{line}");
    }
    let names: Vec<String> = embedders
        .iter()
        .map(|e| format!("{}@{}", e.name(), e.version()))
        .collect();
    let names = names.join("+");
    let dir = tempfile::tempdir()?;
    let music = dir.path().join("music");
    std::fs::create_dir_all(&music)?;
    let ffmpeg = std::process::Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    let mut files = Vec::new();
    for i in 0..songs {
        let style = songrec_audio::synth::STYLES[i % songrec_audio::synth::STYLES.len()];
        let spec = songrec_audio::synth::SongSpec::for_style(style, i as u64, seconds);
        let wav = dir.path().join(format!("{i}.wav"));
        songrec_audio::synth::write_wav(&wav, &songrec_audio::synth::render(&spec))?;
        // Like real music: 44.1 kHz stereo, compressed (half mp3, half flac) when ffmpeg is here.
        let out = if ffmpeg {
            let ext = if i % 2 == 0 { "mp3" } else { "flac" };
            let p = music.join(format!("{i}.{ext}"));
            let st = std::process::Command::new("ffmpeg")
                .args(["-hide_banner", "-loglevel", "error", "-y", "-i"])
                .arg(&wav)
                .args(["-ar", "44100", "-ac", "2"])
                .arg(&p)
                .status()?;
            anyhow::ensure!(st.success(), "ffmpeg failed");
            p
        } else {
            let p = music.join(format!("{i}.wav"));
            std::fs::rename(&wav, &p)?;
            p
        };
        files.push(out);
    }
    let kind = if ffmpeg {
        "44.1 kHz stereo mp3/flac"
    } else {
        "22.05 kHz mono wav (no ffmpeg)"
    };
    let refs: Vec<&dyn songrec_audio::Embedder> = embedders.iter().map(|e| e.as_ref()).collect();
    let r = songrec_audio::bench::bench_ingest_with(&files, &refs);
    println!(
        "analysis (decode + {names}, one thread): {} songs of {seconds:.0} s ({kind}): {:.2} songs/s, {:.0}x realtime, {:.2} s per song",
        r.songs,
        r.songs_per_sec(),
        r.realtime_factor(),
        r.wall_secs / r.songs.max(1) as f64
    );
    // The whole pipeline (hash, analyse on every core, store) into a fresh local library.
    let backend = factory::scratch_local(dir.path().join("lib"))?;
    let opts = songrec_app::ingest::IngestOptions {
        jobs: 0,
        embedders,
        batch_size: 32,
        state_file: None,
    };
    let summary = songrec_app::ingest::ingest(
        &backend,
        &[music],
        &opts,
        std::sync::Arc::new(songrec_app::ingest::NoProgress),
    )
    .await?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "songrec ingest ({names}, {cores} cores, local backend): {} songs in {:.2} s: {:.2} songs/s, {:.0}x realtime",
        summary.added(),
        summary.elapsed_secs,
        summary.added() as f64 / summary.elapsed_secs,
        summary.audio_secs / summary.elapsed_secs
    );
    Ok(exit::OK)
}

/// `songrec bench`.
pub async fn run(args: &BenchArgs) -> Result<u8> {
    match &args.what {
        BenchWhat::Search {
            songs,
            dim,
            k,
            queries,
            dir,
        } => bench_search(songs, *dim, *k, *queries, dir.as_deref()).await,
        BenchWhat::Ingest {
            songs,
            seconds,
            embedder,
        } => bench_ingest(*songs, *seconds, embedder).await,
    }
}
