//! `songrec eval`: similarity quality on a labelled folder; the work is in `songrec_app::eval`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use clap::Args;
use songrec_config::Config;
use songrec_factory as factory;
use songrec_storage::plural::count;

use crate::exit;
use crate::progress::{Bar, progress_bar};

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// A folder with one sub-folder of songs per label (e.g. genre/, drums/kick/ ...).
    pub folder: PathBuf,
    /// Embedders to evaluate: both (musicnn and dsp, plus their blends), dsp or musicnn.
    #[arg(long, default_value = "both")]
    pub embedder: String,
    /// Neural weights of the blends to evaluate, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "0.6", value_parser = crate::args::weight)]
    pub blend: Vec<f32>,
    /// Keep the scratch library here (reused by later runs, so files are analysed once);
    /// default: a temporary folder removed afterwards.
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Parallel analysis jobs (default: one per core).
    #[arg(short, long, value_parser = crate::args::jobs)]
    pub jobs: Option<usize>,
    /// Machine-readable report.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: &EvalArgs, cfg: &Config) -> Result<u8> {
    let embedders = songrec_app::embedders::parse_list_with(&args.embedder, &cfg.embedder)?;
    let (work_dir, _temp) = match &args.work_dir {
        Some(d) => (d.clone(), None),
        None => {
            let t = tempfile::Builder::new()
                .prefix("songrec-eval-")
                .tempdir()
                .context("creating a scratch folder for the evaluation library")?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    let backend = factory::scratch_local(work_dir.join("library"))
        .with_context(|| format!("opening the scratch library in {}", work_dir.display()))?;
    let opts = songrec_app::eval::EvalOptions {
        folder: args.folder.clone(),
        embedders,
        blends: args.blend.clone(),
        work_dir: work_dir.clone(),
        jobs: args.jobs.unwrap_or(0),
    };
    let bar = progress_bar(
        !args.json,
        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} files, eta {eta} {wide_msg}",
    );
    let progress = Arc::new(Bar {
        bar: bar.clone(),
        json: false,
        lock: Mutex::new(()),
        stop: None,
    });
    let report = songrec_app::eval::evaluate(&backend, &opts, progress)
        .await
        .with_context(|| format!("evaluating {}", args.folder.display()))?;
    bar.finish_and_clear();
    if args.json {
        crate::output::print_json(&report)?;
        return Ok(exit::OK);
    }
    for (p, why) in &report.failed {
        eprintln!("skipped {}: {why}", p.display());
    }
    let labels: Vec<String> = report
        .labels
        .iter()
        .map(|(l, n)| format!("{l} {n}"))
        .collect();
    let dups = report.duplicates;
    let once = (dups > 0).then(|| format!(", {} counted once", count(dups, "duplicate file")));
    println!(
        "{}: {} in {} ({}){}",
        args.folder.display(),
        count(report.songs, "song"),
        count(report.labels.len(), "label"),
        labels.join(", "),
        once.unwrap_or_default()
    );
    println!("same-label precision of `songrec similar` (leave-one-out, k = 1, 5, 10):");
    println!("  {:<12} {:>6} {:>6} {:>6}", "", "p@1", "p@5", "p@10");
    for r in &report.rows {
        println!(
            "  {:<12} {:>6.3} {:>6.3} {:>6.3}",
            r.name, r.precision[0], r.precision[1], r.precision[2]
        );
    }
    println!(
        "  {:<12} {:>6.3} {:>6.3} {:>6.3}",
        "chance", report.chance, report.chance, report.chance
    );
    Ok(exit::OK)
}
