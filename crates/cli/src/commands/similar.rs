//! `songrec similar`: songs that sound like a song, or like an audio file.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use songrec_app::similar::{SimilarRequest, Target};
use songrec_config::Config;
use songrec_factory::Backend;
use songrec_storage::Metric;

use crate::args::{FilterArgs, at_least_one};
use crate::exit;
use crate::output;

#[derive(Args, Debug)]
pub struct SimilarArgs {
    /// The song: title, "artist - title", id prefix or path of an ingested file.
    #[arg(required_unless_present = "file", conflicts_with = "file")]
    pub song: Option<String>,
    /// Query by an audio file that need not be in the library.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Number of results.
    #[arg(short, long, default_value_t = 10, value_parser = at_least_one)]
    pub k: usize,
    /// Skip this many of the best results.
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    /// cosine, dot or l2.
    #[arg(long, default_value = "cosine")]
    pub metric: String,
    /// Minimum similarity (cosine: -1..1).
    #[arg(long)]
    pub threshold: Option<f32>,
    #[command(flatten)]
    pub vectors: crate::vectors::VectorArgs,
    /// Say for each match which aspects agree (key, tempo, timbre, energy, style tags).
    #[arg(long)]
    pub explain: bool,
    /// One song per recording: of copies of one recording (the same fingerprint when `dupes`
    /// stored one, else the same artist, title and duration within a second) keep the best
    /// ranked, say how many copies were folded into it, and leave out copies of the query.
    #[arg(long)]
    pub distinct: bool,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// `songrec similar`.
pub async fn run(args: &SimilarArgs, cfg: &Config, backend: Backend) -> Result<u8> {
    let target = match (&args.song, &args.file) {
        (_, Some(f)) => Target::File(f.clone()),
        (Some(s), None) => Target::Song(Box::new(
            songrec_app::resolve::resolve(backend.as_ref(), s).await?,
        )),
        (None, None) => bail!("give a song or --file"),
    };
    let metric: Metric = args.metric.parse()?;
    let choice = args.vectors.choice()?;
    let parts =
        songrec_app::similar::choose_parts(backend.as_ref(), &target, &choice, &cfg.embedder)
            .await?;
    tracing::info!("comparing {parts:?}");
    let req = SimilarRequest {
        target: target.clone(),
        parts,
        k: args.k,
        metric,
        threshold: args.threshold,
        offset: args.offset,
        filter: args.filter.to_filter()?,
    };
    let (matches, distinct) = if args.distinct {
        let d = songrec_app::similar::similar_distinct(backend.as_ref(), &req)
            .await
            .context("similarity search")?;
        let folding = output::Folding {
            copies: d.copies_folded,
            query_copies: d.query_copies,
        };
        (d.matches, Some(folding))
    } else {
        let m = songrec_app::similar::similar(backend.as_ref(), &req)
            .await
            .context("similarity search")?;
        (m, None)
    };
    let explanations = match (&target, args.explain) {
        (Target::Song(q), true) => Some(
            matches
                .iter()
                .map(|m| songrec_app::explain::explain(q, &m.metadata))
                .collect::<Vec<_>>(),
        ),
        (Target::File(_), true) => {
            bail!(
                "--explain needs a song from the library (a file's tags and tempo are not stored); ingest it first"
            )
        }
        _ => None,
    };
    output::matches(
        &target,
        &matches,
        metric,
        explanations.as_deref(),
        distinct.as_ref(),
        args.json,
    )?;
    Ok(exit::OK)
}
