//! `songrec previews`: 30-second previews from the iTunes Search API, ingested with metadata.

use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use songrec_app::previews::{PreviewError, PreviewOptions, PreviewOutcome};
use songrec_config::Config;
use songrec_factory::Opened;

use crate::exit;

#[derive(Args, Debug)]
pub struct PreviewsArgs {
    /// Artist or song to search for, e.g. "Daft Punk" or "Paranoid Android".
    pub term: String,
    /// How many tracks to fetch (1..=200).
    #[arg(short = 'n', long, default_value_t = 10, value_parser = crate::args::at_least_one)]
    pub limit: usize,
    /// Store country, e.g. US or GB (default [previews] country, else the API's default).
    #[arg(long)]
    pub country: Option<String>,
    /// Embedders to run: both (default, as `ingest`), dsp or musicnn.
    #[arg(long, default_value = "both")]
    pub embedder: String,
    /// Parallel analysis jobs (default: one per core).
    #[arg(short, long, value_parser = crate::args::jobs)]
    pub jobs: Option<usize>,
    /// Print one JSON report per track and a summary.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: &PreviewsArgs, cfg: &Config, opened: &Opened) -> Result<u8> {
    let (backend, library) = (&opened.backend, &opened.description);
    let staging = tempfile::tempdir().context("creating a download folder")?;
    let mut opts = PreviewOptions::new(&cfg.previews.base_url, staging.path().to_path_buf());
    opts.limit = args.limit;
    opts.country = args
        .country
        .clone()
        .or_else(|| Some(cfg.previews.country.clone()).filter(|c| !c.is_empty()));
    opts.embedders = songrec_app::embedders::parse_list_with(&args.embedder, &cfg.embedder)?;
    opts.jobs = args.jobs.unwrap_or(cfg.ingest.jobs);
    opts.timeout = Duration::from_secs(30);
    let reports =
        match songrec_app::previews::fetch_and_ingest(backend.as_ref(), &args.term, &opts).await {
            Ok(r) => r,
            Err(e @ PreviewError::NoResults(_)) => {
                eprintln!("error: {e}");
                return Ok(exit::ERROR);
            }
            Err(e) => return Err(e).context("fetching previews"),
        };
    let (mut added, mut present, mut none, mut failed) = (0, 0, 0, 0);
    for r in &reports {
        let name = format!("{} – {}", r.track.artist, r.track.title);
        let line = match &r.outcome {
            PreviewOutcome::Added { id } => {
                added += 1;
                format!("added    {}  {name}", id.short())
            }
            PreviewOutcome::AlreadyInLibrary { id, updated } => {
                present += 1;
                let note = if *updated { " (metadata updated)" } else { "" };
                format!("present  {}  {name}{note}", id.short())
            }
            PreviewOutcome::NoPreview => {
                none += 1;
                format!("no preview      {name}")
            }
            PreviewOutcome::Failed { reason, .. } => {
                failed += 1;
                format!("failed: {name}: {reason}")
            }
        };
        if args.json {
            println!("{}", serde_json::to_string(r)?);
        } else if r.failed() {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::json!({"summary": {"added": added, "already_in_library": present, "no_preview": none, "failed": failed}})
        );
    } else {
        println!(
            "{added} added, {present} already in the library, {none} without a preview, {failed} failed, into the {library}"
        );
    }
    Ok(exit::ok_or(failed == 0, exit::PARTIAL))
}
