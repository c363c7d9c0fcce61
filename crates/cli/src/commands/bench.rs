//! `songrec bench`: speed numbers printed for the record (never asserted in tests).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use songrec_factory as factory;
use songrec_storage::prelude::*;
use songrec_storage::rng::{Mixture, SplitMix};
use songrec_storage::{
    Embedding, Filter, Match, ModelInfo, SearchQuery, SongId, SongMetadata, SongRecord,
    StorageBackend, math,
};

use crate::exit;

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub what: BenchWhat,
}

#[derive(Subcommand, Debug)]
pub enum BenchWhat {
    /// Top-k search over synthetic clustered vectors (a mixture of Gaussians): the exact scan
    /// (in-process and whole `songrec similar` runs), then the approximate index (recall@k
    /// against the exact answer, latency, build time, index bytes, peak resident memory). The
    /// vectors and queries are left as `vectors.npy` and `queries.npy` in each library folder
    /// for `scripts/eval/faiss_search.py`.
    Search(SearchBench),
    /// Decode + analysis speed on generated songs or given files (one thread, then `ingest` on
    /// every core), with bliss-audio on the same files when its harness is given.
    Ingest(IngestBench),
}

#[derive(Args, Debug)]
pub struct SearchBench {
    /// Library sizes.
    #[arg(long, value_delimiter = ',', default_values_t = vec![10_000usize, 100_000], value_parser = crate::args::bench_songs)]
    songs: Vec<usize>,
    /// Vector dimension.
    #[arg(long, default_value_t = 512, value_parser = crate::args::dim)]
    dim: usize,
    /// Results per query.
    #[arg(short, long, default_value_t = 10, value_parser = crate::args::at_least_one)]
    k: usize,
    /// Queries per size.
    #[arg(long, default_value_t = 50, value_parser = crate::args::at_least_one)]
    queries: usize,
    /// Keep the generated libraries here (reused when present) instead of a temp folder.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Spread of each synthetic cluster around its centre, per coordinate (centres have
    /// spread 1): larger is harder for the approximate index.
    #[arg(long, default_value_t = 0.6)]
    spread: f32,
    /// ef_search values to measure the approximate index at (default: the one the library
    /// would use at that size, `[local] ann_ef_search = 0`); each gets a recall/latency line.
    #[arg(long, value_delimiter = ',', value_parser = crate::args::ef)]
    ef_search: Vec<usize>,
    /// Reuse an approximate index already built in the library folder instead of
    /// rebuilding (and timing) it.
    #[arg(long)]
    keep_index: bool,
    /// ef_construction of the index built (default: the library's).
    #[arg(long, value_parser = crate::args::ef)]
    ef_construction: Option<usize>,
}

#[derive(Args, Debug)]
pub struct IngestBench {
    /// Embedders to run: dsp, mix (the default of `ingest`), musicnn, aisfx or both (musicnn on the runtime `ingest` would use:
    /// ONNX Runtime when configured or installed, else tract; `songrec doctor` says which).
    /// With mix alone, each song's CPU time is printed stage by stage (decode, resample,
    /// DSP, musicnn, aisfx, file hash, audio identity, fingerprint; the writes as the rest of
    /// `ingest -j 1`) with each network's GFLOP/s against this core's peak.
    #[arg(long, default_value = "dsp")]
    embedder: String,
    /// Number of songs.
    #[arg(long, default_value_t = 8, value_parser = crate::args::per_style)]
    songs: usize,
    /// Length of each song in seconds.
    #[arg(long, default_value_t = 180.0, value_parser = crate::args::song_seconds)]
    seconds: f32,
    /// Bench these audio files (the files directly in DIR, symlinks followed) instead of
    /// generated songs: real music is slower to decode than synthesised.
    #[arg(long, value_name = "DIR")]
    files: Option<PathBuf>,
    /// The bliss-audio harness (`scripts/eval/bliss_harness`, built outside the workspace:
    /// `cargo build --release` there), run on the same files on one core, printed beside.
    #[arg(long, value_name = "BINARY")]
    bliss: Option<PathBuf>,
    /// With `--embedder mix`: rounds of the per-stage measurement, each songrec then
    /// bliss-audio (when given) on the same files; medians are printed.
    #[arg(long, default_value_t = 1, value_parser = crate::args::at_least_one)]
    rounds: usize,
}

/// Centres of the synthetic mixture (the same for the library and the queries).
const CENTRES: usize = 1000;

/// Unit vectors from the synthetic mixture of `dim` (its centres fixed by `dim`), drawn from
/// `seed`.
fn mixture(dim: usize, seed: u64, spread: f32) -> impl FnMut() -> Vec<f32> {
    let mut mix = Mixture::new(0x5eed ^ dim as u64, CENTRES, dim, spread).reseeded(seed);
    move || unit(mix.draw())
}

/// `v` normalised.
fn unit(mut v: Vec<f32>) -> Vec<f32> {
    math::normalize(&mut v);
    v
}

/// Streams rows into a 2-d float32 `.npy` file (for the FAISS comparison).
struct NpyWriter(std::io::BufWriter<std::fs::File>);

impl NpyWriter {
    fn create(path: &Path, rows: usize, dim: usize) -> Result<Self> {
        let mut header =
            format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {dim}), }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut w = std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        );
        w.write_all(b"\x93NUMPY\x01\x00")?;
        w.write_all(&(header.len() as u16).to_le_bytes())?;
        w.write_all(header.as_bytes())?;
        Ok(Self(w))
    }
    fn row(&mut self, v: &[f32]) -> Result<()> {
        for x in v {
            self.0.write_all(&x.to_le_bytes())?;
        }
        Ok(())
    }
    fn finish(mut self) -> Result<()> {
        Ok(self.0.flush()?)
    }
}

/// This process's peak resident memory (VmHWM), bytes.
fn peak_rss() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Resets VmHWM to the current resident size (Linux `clear_refs` 5), so the next
/// [`peak_rss`] measures one phase.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", b"5").is_ok()
}

/// The `p` quantile of `v` (nearest rank).
fn pct(v: &[f64], p: f64) -> f64 {
    let mut sorted = v.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Single-core sequential read bandwidth, bytes/s (sum over a buffer larger than the caches).
fn read_bandwidth() -> f64 {
    let v = vec![1.0f32; 64 << 20]; // 256 MB
    let best = (0..3)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(math::dot(&v, &v[..]));
            t.elapsed().as_secs_f64()
        })
        .fold(f64::MAX, f64::min);
    // dot reads both operands (the same buffer, so from memory once per element pair).
    (v.len() * 4) as f64 / best
}

/// One search, and the milliseconds it took.
async fn timed(backend: &dyn StorageBackend, q: &SearchQuery) -> Result<(Vec<Match>, f64)> {
    let t = Instant::now();
    let r = backend.search(q).await?;
    Ok((r, t.elapsed().as_secs_f64() * 1e3))
}

async fn build_library(
    dir: &Path,
    n: usize,
    dim: usize,
    spread: f32,
    model: &ModelInfo,
) -> Result<()> {
    let done = dir.join(".bench-complete");
    if done.exists() {
        return Ok(());
    }
    let t = Instant::now();
    // The approximate index is built (and timed) separately, after generation.
    let backend = factory::scratch_local_with(dir, usize::MAX)?;
    let mut draw = mixture(dim, n as u64 ^ dim as u64, spread);
    let mut npy = NpyWriter::create(&dir.join("vectors.npy"), n, dim)?;
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
        bench_extra(&mut m, i);
        let vector = draw();
        npy.row(&vector)?;
        batch.push(SongRecord {
            metadata: m,
            embeddings: vec![Embedding {
                model: model.clone(),
                vector,
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
    npy.finish()?;
    eprintln!(
        "\r  built {n}-song library in {:.1} s            ",
        t.elapsed().as_secs_f64()
    );
    std::fs::write(&done, b"ok").context("marking bench library")?;
    Ok(())
}

/// The free-form fields a real ingest stores with each song (codec, DSP descriptors, the ten
/// strongest musicnn style tags), so bench libraries weigh what real ones do (~1 KB a song).
fn bench_extra(m: &mut SongMetadata, i: usize) {
    let f = |k: usize| ((i * 7919 + k * 104_729) % 1000) as f64 / 10.0;
    m.extra.insert("codec".into(), serde_json::json!("vorbis"));
    m.extra.insert(
        "descriptors".into(),
        serde_json::json!({
            "centroid_hz": 1000.0 + f(1) * 20.0, "rolloff_hz": 3000.0 + f(2) * 40.0,
            "flatness_db": -f(3) / 3.0, "loudness_db": -f(4) / 5.0,
            "dynamic_range_db": f(5) / 4.0, "bpm": 70.0 + f(6), "pulse_clarity": f(7) / 100.0,
            "key": "A minor", "key_tonic": "A", "key_mode": "minor",
            "key_confidence": f(8) / 100.0, "onset_rate": f(9) / 20.0, "analysed_secs": 180.0,
        }),
    );
    let tags: Vec<serde_json::Value> =
        "rock pop electronic chill Mellow ambient acoustic guitar jazz indie"
            .split(' ')
            .enumerate()
            .map(|(k, t)| serde_json::json!([t, (f(10 + k) / 100.0 * 1000.0).round() / 1000.0]))
            .collect();
    m.extra
        .insert("style_tags".into(), serde_json::Value::Array(tags));
}

async fn bench_search(a: &SearchBench) -> Result<u8> {
    let (dim, k, queries, spread) = (a.dim, a.k, a.queries, a.spread);
    let tmp = tempfile::tempdir()?;
    let base: PathBuf = a.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    let model = ModelInfo::new("bench", "1", dim);
    let bw = read_bandwidth();
    println!(
        "single-core read bandwidth: {:.1} GB/s (measured)",
        bw / 1e9
    );
    for &n in &a.songs {
        let lib = if spread == 0.6 {
            base.join(format!("lib-{n}x{dim}-mixture"))
        } else {
            base.join(format!("lib-{n}x{dim}-mixture-{spread}"))
        };
        build_library(&lib, n, dim, spread, &model).await?;
        let bytes = (n * dim * 4) as f64;
        let floor_issue = bytes / 20e9 * 1e3;
        let floor_measured = bytes / bw * 1e3;

        // In-process: a fresh backend, one cold query, then timed warm queries.
        let backend = factory::scratch_local_with(&lib, usize::MAX)?;
        let mut rng = SplitMix::new(7);
        let mut query = || SearchQuery::new(model.clone(), unit(rng.vector(dim)), k);
        let (_, cold) = timed(&backend, &query()).await?;
        let mut times = Vec::with_capacity(queries);
        for _ in 0..queries {
            let (r, ms) = timed(&backend, &query()).await?;
            times.push(ms);
            anyhow::ensure!(r.len() == k, "expected {k} results");
        }
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
            let mut q = query();
            q.ranking.filter = Filter::default().and(songrec_storage::Condition::Eq(
                songrec_storage::Field::Genre,
                songrec_storage::Value::Text("jazz".into()),
            ));
            ft.push(timed(&backend, &q).await?.1);
        }
        println!(
            "search {n} x {dim}, top-{k}, genre filter (10%): median {:.2} ms",
            pct(&ft, 0.5)
        );
        drop(backend);

        // Whole process: `songrec similar <id> -k 10 --exact` against the library.
        similar_processes(&lib, n, k, &model, true)?;
        bench_ann(&lib, n, &model, a).await?;
        similar_processes(&lib, n, k, &model, false)?;
    }
    Ok(exit::OK)
}

async fn bench_ingest(a: &IngestBench) -> Result<u8> {
    let (embedder, seconds) = (a.embedder.as_str(), a.seconds);
    let (given, bliss) = (a.files.as_deref(), a.bliss.as_deref());
    let embedders = songrec_app::embedders::parse_list(embedder)?;
    let env = songrec_config::process_env();
    let cfg = songrec_config::Config::from_sources(None, &env)?;
    if let Some(line) = songrec_app::embedders::runtime_line(embedder, &cfg.embedder)? {
        println!("{line}");
    }
    let names = embedders
        .iter()
        .map(|e| format!("{}@{}", e.name(), e.version()))
        .collect::<Vec<_>>()
        .join("+");
    let dir = tempfile::tempdir()?;
    let music = dir.path().join("music");
    std::fs::create_dir_all(&music)?;
    let ffmpeg = std::process::Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    let mut files = Vec::new();
    if let Some(d) = given {
        let mut found: Vec<PathBuf> = std::fs::read_dir(d)
            .with_context(|| format!("reading {}", d.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        found.sort();
        anyhow::ensure!(!found.is_empty(), "no files in {}", d.display());
        for (i, f) in found.iter().enumerate() {
            let ext = f.extension().and_then(|e| e.to_str()).unwrap_or("audio");
            let copy = music.join(format!("{i:05}.{ext}"));
            std::fs::copy(f, &copy).with_context(|| format!("copying {}", f.display()))?;
            files.push(copy);
        }
    }
    for i in 0..if given.is_some() { 0 } else { a.songs } {
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
    let kind = if let Some(d) = given {
        format!("the files of {}", d.display())
    } else if ffmpeg {
        format!("generated, {seconds:.0} s, 44.1 kHz stereo mp3/flac")
    } else {
        format!("generated, {seconds:.0} s, 22.05 kHz mono wav (no ffmpeg)")
    };
    let refs: Vec<&dyn songrec_audio::Embedder> = embedders.iter().map(|e| e.as_ref()).collect();
    if embedders.len() == 1 && embedders[0].name() == songrec_neural::MIX_NAME {
        let mix = songrec_neural::MixConfig::with_musicnn(songrec_app::embedders::musicnn_config(
            &cfg.embedder,
        )?);
        let mix = songrec_neural::MixEmbedder::new(&mix)?;
        let stages = super::bench_stages::StageBench {
            mix: &mix,
            bliss,
            music: &music,
            rounds: a.rounds,
        };
        let analysis = super::bench_stages::run(&files, &stages)?;
        drop(mix);
        // `ingest` on one thread, timed on the process's CPU clock: what it costs per song
        // besides a new file's work (`analysis`) is the writes and the bookkeeping.
        let lib = dir.path().join("lib1");
        let (summary, cpu) = ingest_into(&lib, &music, embedders.clone(), 1).await?;
        let added = summary.added().max(1) as f64;
        println!(
            "songrec ingest -j 1 ({names}, local backend): {:.3} s CPU per song ({} files); besides a new file's work (writes, bookkeeping): {:.3} s",
            cpu / added,
            files.len(),
            cpu / added - analysis
        );
    } else {
        let r = songrec_audio::bench::bench_ingest_with(&files, &refs);
        println!(
            "analysis (decode + {names}, one thread): {} songs ({kind}): {:.2} songs/s, {:.0}x realtime, {:.2} s per song",
            r.songs,
            r.songs_per_sec(),
            r.realtime_factor(),
            r.wall_secs / r.songs.max(1) as f64
        );
        fingerprint_cost(&files, &refs, r.wall_secs / r.songs.max(1) as f64);
        if let Some(b) = bliss {
            // Same files, one core (the harness sets bliss's own thread count to 1).
            for line in super::bench_stages::bliss_output(b, &music)?.lines() {
                println!("{line} (bliss-audio, same files, one thread)");
            }
        }
    }
    // The whole pipeline (hash, analyse on every core, store) into a fresh local library.
    let (summary, _) = ingest_into(&dir.path().join("lib"), &music, embedders, 0).await?;
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

/// `ingest` with `jobs` threads of `music` into a fresh local library at `lib`, and the
/// process's CPU seconds it took.
async fn ingest_into(
    lib: &Path,
    music: &Path,
    embedders: Vec<std::sync::Arc<dyn songrec_audio::Embedder>>,
    jobs: usize,
) -> Result<(songrec_app::ingest::IngestSummary, f64)> {
    let backend = factory::scratch_local(lib)?;
    let opts = songrec_app::ingest::IngestOptions::new(embedders, jobs);
    let cpu = songrec_neural::profile::process_cpu();
    let progress = std::sync::Arc::new(songrec_app::ingest::NoProgress);
    let roots = [music.to_path_buf()];
    let summary = songrec_app::ingest::ingest(&backend, &roots, &opts, progress).await?;
    Ok((summary, songrec_neural::profile::process_cpu() - cpu))
}

/// What the acoustic fingerprint taken at ingest adds per song: Chromaprint and the PCM hash
/// on the audio the embedders' decode already holds (decoded here untimed), against
/// `per_song` seconds of decode + analysis.
fn fingerprint_cost(files: &[PathBuf], embedders: &[&dyn songrec_audio::Embedder], per_song: f64) {
    let opts = embedders
        .first()
        .map(|e| e.decode_options())
        .unwrap_or_default();
    let decoded: Vec<_> = files
        .iter()
        .filter_map(|f| songrec_audio::decode_file_with(f, &opts).ok())
        .collect();
    if decoded.is_empty() {
        return;
    }
    let t = std::time::Instant::now();
    for d in &decoded {
        std::hint::black_box(songrec_identity::fingerprint::analyse_audio(&d.audio));
    }
    let each = t.elapsed().as_secs_f64() / decoded.len() as f64;
    println!(
        "fingerprint at ingest (Chromaprint + PCM hash on the same decode, one thread): {:.1} ms per song, {:.1} % of decode + analysis",
        each * 1e3,
        100.0 * each / per_song.max(f64::MIN_POSITIVE)
    );
}

/// Times five whole `songrec similar <id> -k K --json` processes (with `--exact` or not), and
/// their peak resident memory when `/usr/bin/time` is there.
fn similar_processes(lib: &Path, n: usize, k: usize, model: &ModelInfo, exact: bool) -> Result<()> {
    let exe = std::env::current_exe()?;
    let timer = Path::new("/usr/bin/time");
    let mut runs = Vec::new();
    let mut peak_kb = 0u64;
    let mut exact_out = true;
    for i in 0..5 {
        let id = SongId::from_bytes(format!("bench song {}", i * 7).as_bytes());
        let mut cmd = if timer.exists() {
            let mut c = std::process::Command::new(timer);
            c.args(["-f", "maxrss_kb=%M"]).arg(&exe);
            c
        } else {
            std::process::Command::new(&exe)
        };
        cmd.args(["--library"]).arg(lib).args([
            "similar",
            id.short(),
            "-k",
            &k.to_string(),
            "--model",
            &model.key(),
            "--json",
        ]);
        if exact {
            cmd.arg("--exact");
        }
        let t = Instant::now();
        let out = cmd.output()?;
        runs.push(t.elapsed().as_secs_f64());
        anyhow::ensure!(
            out.status.success(),
            "songrec similar failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout)?;
        exact_out &= json["exact"].as_bool().unwrap_or(false);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if let Some(kb) = stderr
            .lines()
            .find_map(|l| l.strip_prefix("maxrss_kb="))
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            peak_kb = peak_kb.max(kb);
        }
    }
    println!(
        "`songrec similar{}` process on {n} songs: median {:.3} s, max {:.3} s (5 runs), peak RSS {}, JSON said exact: {exact_out}",
        if exact { " --exact" } else { "" },
        pct(&runs, 0.5),
        pct(&runs, 1.0),
        if peak_kb > 0 {
            format!("{:.0} MB", peak_kb as f64 / 1e3)
        } else {
            "?".into()
        }
    );
    Ok(())
}

/// The approximate index on one library: build, then recall@k and latency against the exact
/// scan, index bytes and the peak resident memory of a search phase.
async fn bench_ann(lib: &Path, n: usize, model: &ModelInfo, run: &SearchBench) -> Result<()> {
    let (dim, k, queries, spread) = (run.dim, run.k, run.queries, run.spread);
    let defaults = factory::AnnOptions::default();
    let o = factory::AnnOptions {
        min_vectors: 1,
        expansion_add: run.ef_construction.unwrap_or(defaults.expansion_add),
        ..defaults
    };
    let backend = factory::scratch_local_ann(lib, o.clone())?;
    let kept = run.keep_index && backend.ann_index_bytes(model).await?.is_some();
    let (build, build_peak) = if kept {
        (None, None)
    } else {
        let t = Instant::now();
        backend.build_approximate_index().await?;
        (Some(t.elapsed().as_secs_f64()), peak_rss())
    };
    let bytes = backend.ann_index_bytes(model).await?.unwrap_or(0);
    drop(backend);
    // The queries: new draws from the library's mixture, kept for the FAISS script.
    let mut draw = mixture(dim, 0xbeef, spread);
    let qs: Vec<Vec<f32>> = (0..queries).map(|_| draw()).collect();
    let mut w = NpyWriter::create(&lib.join("queries.npy"), qs.len(), dim)?;
    for q in &qs {
        w.row(q)?;
    }
    w.finish()?;
    // The exact answers, once.
    let backend = factory::scratch_local_with(lib, usize::MAX)?;
    let mut exact_ms = Vec::new();
    let mut truth = Vec::with_capacity(qs.len());
    for v in &qs {
        let q = SearchQuery::new(model.clone(), v.clone(), k).with(|r| r.exact = true);
        let (exact, ms) = timed(&backend, &q).await?;
        exact_ms.push(ms);
        truth.push(
            exact
                .into_iter()
                .map(|m| m.id)
                .collect::<std::collections::HashSet<_>>(),
        );
    }
    drop(backend);
    let efs = if run.ef_search.is_empty() {
        vec![None]
    } else {
        run.ef_search.iter().map(|&e| Some(e)).collect()
    };
    let raw = (n * dim * 4) as f64;
    let mb = |b: f64| b / 1e6;
    println!(
        "ann {n} x {dim} (usearch HNSW M={} efC={}, {:?}): build {}, index {:.0} MB ({:.2}x the f32 vectors), peak RSS build {} MB; exact scan median {:.2} ms",
        o.connectivity,
        o.expansion_add,
        o.quantization,
        build.map_or("kept (--keep-index)".into(), |b| format!("{b:.1} s")),
        mb(bytes as f64),
        bytes as f64 / raw,
        build_peak.map_or("?".into(), |b| format!("{:.0}", mb(b as f64))),
        pct(&exact_ms, 0.5),
    );
    for ef in efs {
        let opts = factory::AnnOptions {
            expansion_search: ef,
            ..o.clone()
        };
        let ef_used = opts.ef_search_for(n);
        // A fresh process-like phase: the index is opened as a memory map, as `similar` does.
        let measured = reset_peak_rss();
        let backend = factory::scratch_local_ann(lib, opts)?;
        let mut ann_ms = Vec::new();
        let mut hits = 0usize;
        let mut approximate = 0usize;
        for (i, (v, want)) in qs.iter().zip(&truth).enumerate() {
            let q = SearchQuery::new(model.clone(), v.clone(), k);
            let (got, ms) = timed(&backend, &q).await?;
            if i > 0 {
                ann_ms.push(ms); // the first query maps the index
            }
            approximate += usize::from(got.iter().all(|m| m.approximate));
            hits += got.iter().filter(|m| want.contains(&m.id)).count();
        }
        let search_peak = peak_rss().filter(|_| measured);
        drop(backend);
        println!(
            "  efS={ef_used}{}: recall@{k} {:.3}, median {:.3} ms, p95 {:.3} ms ({approximate}/{} queries approximate), peak RSS {}",
            if ef.is_none() { " (auto)" } else { "" },
            hits as f64 / (qs.len() * k).max(1) as f64,
            pct(&ann_ms, 0.5),
            pct(&ann_ms, 0.95),
            qs.len(),
            search_peak.map_or("? (no clear_refs)".into(), |b| format!(
                "{:.0} MB in-process ({:.2}x the f32 vectors)",
                mb(b as f64),
                b as f64 / raw
            )),
        );
    }
    println!(
        "  FAISS side by side: python scripts/eval/faiss_search.py {} -k {k} --m {} --ef-construction {} --ef-search {}",
        lib.display(),
        o.connectivity,
        o.expansion_add,
        o.ef_search_for(n)
    );
    Ok(())
}

pub async fn run(args: &BenchArgs) -> Result<u8> {
    match &args.what {
        BenchWhat::Search(a) => bench_search(a).await,
        BenchWhat::Ingest(a) => bench_ingest(a).await,
    }
}
