//! Migrate benchmark: songs/s of `migrate` local → astra and astra → local against the local
//! Data API server and s3s-fs (in-process on 127.0.0.1), optionally through fault proxies.
//!
//! ```text
//! cargo run --release -p songrec-benches --example migrate_bench -- --songs 2000 [--kb 16]
//!     [--faults 0.2] [--concurrency 8] [--batch 100] [--dim 512]
//! ```
//!
//! The library is built directly through `LocalBackend` (N songs, each a WAV of `--kb` KiB, one
//! `--dim`-d vector, varied metadata). Both backends come from `songrec_factory::build`,
//! the same stack `songrec migrate` uses, and the same ledger (in a temp cache folder). After
//! each direction a `counts` verify must be clean. With `--faults R`, a `FaultProxy` in front
//! of each server fails a share R of requests (429/503/timeouts/resets, before and after
//! forwarding; request timeouts 1 s).

use std::path::Path;
use std::time::{Duration, Instant};

use songrec_app::migrate::ledger::Ledger;
use songrec_app::migrate::{LedgerContext, MigrateOptions, NoProgress, VerifyLevel};
use songrec_config::{BackendKind, Config};
use songrec_local::LocalBackend;
use songrec_storage::prelude::*;
use songrec_storage::{Embedding, ModelInfo, SongId, SongMetadata, SongRecord};
use songrec_testkit::{FaultPlan, LocalCloud};

/// A migration between two libraries, with optional injected faults.
#[derive(clap::Parser)]
struct Args {
    /// Songs migrated.
    #[arg(short = 'n', long, default_value_t = 2000)]
    songs: usize,
    /// Audio KiB a song.
    #[arg(long, default_value_t = 16)]
    kb: usize,
    /// Share of requests that fail (fault proxy).
    #[arg(long, default_value_t = 0.0)]
    faults: f64,
    /// Songs in flight.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Songs a batch.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Vector dimension.
    #[arg(long, default_value_t = 512)]
    dim: usize,
}

fn parse_args() -> Result<Args, String> {
    Ok(<Args as clap::Parser>::parse())
}

fn make_library(rt: &tokio::runtime::Runtime, root: &Path, a: &Args) -> Result<(), String> {
    rt.block_on(async {
        let lib = LocalBackend::open(root).map_err(|e| e.to_string())?;
        let model = ModelInfo::new("dsp", "1", a.dim);
        let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut batch = Vec::new();
        for i in 0..a.songs {
            let mut bytes = b"RIFF....WAVEfmt ".to_vec();
            let mut x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            while bytes.len() < a.kb * 1024 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                bytes.extend_from_slice(&x.to_le_bytes());
            }
            let id = SongId::from_bytes(&bytes);
            let p = tmp.path().join("song.wav");
            std::fs::write(&p, &bytes).map_err(|e| e.to_string())?;
            lib.put_audio(&id, &p).await.map_err(|e| e.to_string())?;
            let mut m = SongMetadata::new(id.clone(), format!("Song {i}"));
            m.artist = Some(format!("Artist {}", i % 50));
            m.genre = Some(["Rock", "Jazz", "Pop"][i % 3].into());
            m.bpm = Some(80.0 + (i % 80) as f32);
            m.file_size = bytes.len() as u64;
            m.content_hash = id.as_str().to_owned();
            let v: Vec<f32> = (0..a.dim)
                .map(|k| ((i * 31 + k) % 97) as f32 / 97.0 - 0.5)
                .collect();
            batch.push(SongRecord {
                metadata: m,
                embeddings: vec![Embedding::new(model.clone(), v).map_err(|e| e.to_string())?],
            });
            if batch.len() == 500 {
                lib.put_songs(&batch).await.map_err(|e| e.to_string())?;
                batch.clear();
            }
        }
        lib.put_songs(&batch).await.map_err(|e| e.to_string())?;
        lib.flush().await.map_err(|e| e.to_string())
    })
}

#[allow(clippy::too_many_arguments)]
fn run_direction(
    rt: &tokio::runtime::Runtime,
    cfg: &Config,
    from: BackendKind,
    to: BackendKind,
    ledger: &Ledger,
    scratch: &Path,
    a: &Args,
) -> Result<(), String> {
    let build = |kind| {
        let mut c = cfg.clone();
        c.backend = kind;
        songrec_factory::build(&c).map_err(|e| e.to_string())
    };
    let (source, target) = (build(from)?, build(to)?);
    let ctx = LedgerContext {
        ledger,
        source: songrec_app::migrate::identity(cfg, from),
        target: songrec_app::migrate::identity(cfg, to),
    };
    let mut opts = MigrateOptions::new(scratch);
    opts.concurrency = a.concurrency;
    opts.batch_size = a.batch;
    let t0 = Instant::now();
    let report = rt.block_on(async {
        let plan = songrec_app::migrate::plan_for(source.as_ref(), target.as_ref()).await?;
        songrec_app::migrate::migrate(
            source.as_ref(),
            target.as_ref(),
            plan,
            &opts,
            &NoProgress,
            Some(&ctx),
        )
        .await
    });
    let total = t0.elapsed().as_secs_f64();
    let report = report.map_err(|e| e.to_string())?;
    let v = rt
        .block_on(songrec_app::migrate::verify(
            source.as_ref(),
            target.as_ref(),
            VerifyLevel::Counts,
            1,
            &report.plan.held,
            &scratch.join("verify"),
        ))
        .map_err(|e| e.to_string())?;
    println!(
        "{from} -> {to}: {} songs copied, {} failed, {} retry rounds in {:.2} s (plan + copy: {:.2} s) = {:.0} songs/s; verify: {}",
        report.copied,
        report.failed.len(),
        report.retry_rounds,
        report.elapsed_secs,
        total,
        report.copied as f64 / total,
        v.summary()
    );
    if !v.is_clean() || !report.failed.is_empty() {
        return Err("the migration was not complete".into());
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::from(2);
        }
    };
    match run(&a) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("migrate_bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(a: &Args) -> Result<(), String> {
    // Servers (and proxies) on their own runtime threads; the client on another.
    let mut servers = LocalCloud::builder();
    if a.faults > 0.0 {
        let plan = |seed| FaultPlan::random(seed, a.faults).with_hold(Duration::from_secs(20));
        servers = servers.api_faults(plan(1)).s3_faults(plan(2));
    }
    let cloud = servers.start_blocking();
    let client = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut cfg = cloud.cfg();
    if a.faults > 0.0 {
        cfg.astra.request_timeout_secs = 1;
        cfg.s3.request_timeout_secs = 1;
    }
    cfg.cache.path = dir.path().join("cache");
    let lib1 = dir.path().join("lib1");
    let t = Instant::now();
    make_library(&client, &lib1, a)?;
    println!(
        "library: {} songs of {} KiB, {}-d vectors, built in {:.1} s; faults: {:.0}% of requests{}",
        a.songs,
        a.kb,
        a.dim,
        t.elapsed().as_secs_f64(),
        a.faults * 100.0,
        if a.faults > 0.0 {
            " (429/503/timeout/reset, before and after forwarding)"
        } else {
            ""
        }
    );
    let model = ModelInfo::new("dsp", "1", a.dim);
    client
        .block_on(songrec_astra::AstraBackend::init(
            &songrec_factory::astra_options(&cfg),
            &[model],
        ))
        .map_err(|e| e.to_string())?;
    let ledger =
        Ledger::open(&songrec_factory::migrate_ledger_path(&cfg)).map_err(|e| e.to_string())?;
    let scratch = dir.path().join("scratch");

    cfg.local.path = lib1;
    run_direction(
        &client,
        &cfg,
        BackendKind::Local,
        BackendKind::Astra,
        &ledger,
        &scratch,
        a,
    )?;
    cfg.local.path = dir.path().join("lib2");
    run_direction(
        &client,
        &cfg,
        BackendKind::Astra,
        BackendKind::Local,
        &ledger,
        &scratch,
        a,
    )?;
    let proxies = [("data api", cloud.api_proxy()), ("s3", cloud.s3_proxy())];
    for (name, p) in proxies.iter().filter_map(|(n, p)| Some((n, (*p)?))) {
        let s = p.stats();
        println!(
            "{name} proxy: {} requests, {} faults injected",
            s.requests, s.injected
        );
    }
    Ok(())
}
