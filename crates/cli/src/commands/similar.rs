//! `songrec similar`: songs that sound like a song, or like an audio file, or that the neural
//! model tagged with the given words (`--text`), or a song's neighbours moved towards words.

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
// What to be similar to: a song, --file or --text (clap names all three when none is given).
#[command(group(clap::ArgGroup::new("query").required(true).multiple(true).args(["song", "file", "text"])))]
pub struct SimilarArgs {
    /// The song: title, "artist - title", id prefix or path of an ingested file.
    #[arg(conflicts_with = "file")]
    pub song: Option<String>,
    /// Query by an audio file that need not be in the library.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Words for the style tags the neural model stored with each song ("mellow acoustic
    /// guitar", "relaxing but not sad"). Alone: songs ranked by those tags. With a song or
    /// --file: its neighbours moved towards the words ("but more electronic").
    #[arg(long)]
    pub text: Option<String>,
    /// Number of results.
    #[arg(short, long, default_value_t = 10, value_parser = at_least_one)]
    pub k: usize,
    /// Skip this many of the best results.
    #[arg(long, default_value_t = 0, value_parser = crate::args::count)]
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
    /// Rank every song exactly, even in a large local library that keeps an approximate
    /// nearest-neighbour index (slower; the JSON output says `"exact"` either way).
    #[arg(long)]
    pub exact: bool,
}

/// `songrec similar`.
pub async fn run(args: &SimilarArgs, cfg: &Config, backend: Backend) -> Result<u8> {
    let words = args
        .text
        .as_deref()
        .map(songrec_app::words::parse)
        .transpose()?;
    if let Some(w) = &words
        && !args.json
    {
        eprintln!("{}", songrec_app::words::report(w));
    }
    let target = match (&args.song, &args.file) {
        (_, Some(f)) => Some(Target::File(f.clone())),
        (Some(s), None) => Some(Target::Song(Box::new(
            songrec_app::resolve::resolve(backend.as_ref(), s).await?,
        ))),
        (None, None) => None,
    };
    let metric: Metric = args.metric.parse()?;
    let filter = args.filter.to_filter()?;
    let Some(target) = target else {
        // Words alone.
        let (Some(w), Some(out)) = (
            &words,
            words_out(words.as_ref(), args.text.as_deref(), None),
        ) else {
            bail!("give a song, --file or --text");
        };
        if args.distinct || args.explain {
            bail!("--distinct and --explain need a song or --file next to --text");
        }
        let ms =
            songrec_app::words::by_words(backend.as_ref(), w, args.k, args.offset, &filter, &[])
                .await
                .context("search by words")?;
        if ms.is_empty() && args.offset == 0 {
            bail!(songrec_app::words::nothing_matched(backend.as_ref(), w, &filter).await?);
        }
        let model = songrec_app::words::STYLE_TAGS_MODEL;
        output::matches(None, &ms, metric, model, None, None, Some(&out), args.json)?;
        return Ok(exit::OK);
    };
    let choice = args.vectors.choice()?;
    let parts =
        songrec_app::similar::choose_parts(backend.as_ref(), &target, &choice, &cfg.embedder)
            .await?;
    tracing::info!("comparing {parts:?}");
    let model = songrec_app::similar::space_of(&parts).key();
    if !args.json {
        let stats = backend.models().await?;
        for o in songrec_app::embedders::outdated_models(&stats) {
            eprintln!("note: {}", o.advice());
        }
        if choice == songrec_app::similar::Choice::Auto
            && let Some(advice) = songrec_app::embedders::upgrade_advice(&stats)
        {
            eprintln!("note: {advice}");
        }
    }
    let req = SimilarRequest {
        target: target.clone(),
        parts,
        k: args.k,
        metric,
        threshold: args.threshold,
        offset: args.offset,
        filter,
        exact: args.exact,
    };
    let mut tag_scores = None;
    let (matches, distinct) = if let Some(w) = &words {
        if args.distinct {
            bail!("--distinct cannot be combined with --text");
        }
        let steered = songrec_app::words::steer(backend.as_ref(), &req, w)
            .await
            .context("similarity search")?;
        tag_scores = Some(steered.iter().map(|s| s.tag_score).collect::<Vec<f32>>());
        (steered.into_iter().map(|s| s.matched).collect(), None)
    } else if args.distinct {
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
        Some(&target),
        &matches,
        metric,
        &model,
        explanations.as_deref(),
        distinct.as_ref(),
        words_out(words.as_ref(), args.text.as_deref(), tag_scores.as_deref()).as_ref(),
        args.json,
    )?;
    Ok(exit::OK)
}

fn words_out<'a>(
    query: Option<&'a songrec_app::words::TagQuery>,
    text: Option<&'a str>,
    tag_scores: Option<&'a [f32]>,
) -> Option<output::Words<'a>> {
    query.zip(text).map(|(query, text)| output::Words {
        text,
        query,
        tag_scores,
    })
}
