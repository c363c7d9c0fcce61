//! `songrec ingest`: decode, analyse and store audio files and folders.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{Result, bail};
use clap::Args;
use songrec_app::ingest::{IngestOptions, Outcome};
use songrec_config::Config;
use songrec_factory::{self as factory, Opened};

use crate::exit;
use crate::library::paths_exist;
use crate::progress::{Bar, progress_bar};

#[derive(Args, Debug)]
pub struct IngestArgs {
    /// Files or folders (searched recursively).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Embedders to run: both (default: `similar` then blends style and sound), dsp (about 3x
    /// faster) or musicnn. musicnn runs on tract, or on ONNX Runtime when
    /// SONGREC_ORT_LIBRARY / [embedder] onnxruntime_library is set.
    #[arg(long, default_value = "both")]
    pub embedder: String,
    /// Parallel analysis jobs (default: one per core).
    #[arg(short, long)]
    pub jobs: Option<usize>,
    /// Re-read files even if their size and modification time are unchanged.
    #[arg(long)]
    pub force: bool,
    /// Print one JSON report per file and a summary.
    #[arg(long)]
    pub json: bool,
}

/// `songrec ingest`.
pub async fn run(args: &IngestArgs, cfg: &Config, opened: &Opened) -> Result<u8> {
    let backend = opened.backend.clone();
    paths_exist(&args.paths)?;
    let embedders = songrec_app::embedders::parse_list_with(&args.embedder, &cfg.embedder)?;
    if !args.json
        && let Some(line) = songrec_app::embedders::runtime_line(&args.embedder, &cfg.embedder)?
    {
        eprintln!("{line}");
    }
    let state_file = if args.force {
        None
    } else {
        Some(factory::ingest_state_file(cfg, &backend.to_string()))
    };
    let opts = IngestOptions {
        jobs: args.jobs.unwrap_or(cfg.ingest.jobs),
        embedders,
        batch_size: 32,
        state_file,
    };
    let bar = progress_bar(
        !args.json,
        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} files, eta {eta} {wide_msg}",
    );
    let progress = Arc::new(Bar {
        bar: bar.clone(),
        json: args.json,
        lock: Mutex::new(()),
    });
    let summary =
        songrec_app::ingest::ingest(backend.as_ref(), &args.paths, &opts, progress).await?;
    bar.finish_and_clear();
    let failed = summary.failed();
    if summary.files.is_empty() {
        let roots: Vec<String> = args.paths.iter().map(|p| p.display().to_string()).collect();
        let seen = songrec_app::ingest::unsupported_extensions(&args.paths);
        let mut msg = format!("no audio files found under {}", roots.join(", "));
        if !seen.is_empty() {
            let list: Vec<String> = seen
                .iter()
                .map(|(ext, n)| format!(".{ext} ({n})"))
                .collect();
            msg.push_str(&format!(
                "; files seen but not read: {} (songrec reads {}; convert others with ffmpeg)",
                list.join(", "),
                songrec_app::ingest::AUDIO_EXTENSIONS
                    .iter()
                    .map(|e| format!(".{e}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
        }
        bail!(msg);
    }
    if args.json {
        println!(
            "{}",
            serde_json::json!({"summary": {"added": summary.added(), "skipped": summary.skipped(), "failed": failed.len(),
                "elapsed_secs": summary.elapsed_secs, "audio_secs": summary.audio_secs}})
        );
    } else {
        // With a visible bar, failures and warnings were printed as they happened.
        if bar.is_hidden() {
            for f in &summary.files {
                match &f.outcome {
                    Outcome::Failed { reason, .. } => eprintln!("skipped: {reason}"),
                    Outcome::Added { warnings, .. } => {
                        for w in warnings {
                            eprintln!("warning: {}: {w}", f.path.display());
                        }
                    }
                    _ => {}
                }
            }
        }
        println!(
            "ingested {} new, {} already in the library, {} failed ({} files, {:.1} s, {:.0} s of audio analysed) into the {}",
            summary.added(),
            summary.skipped(),
            failed.len(),
            summary.files.len(),
            summary.elapsed_secs,
            summary.audio_secs,
            opened.description
        );
    }
    Ok(if failed.is_empty() {
        exit::OK
    } else {
        exit::PARTIAL
    })
}
