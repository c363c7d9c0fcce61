//! `songrec similar`: songs that sound like a song, or like an audio file, or that the neural
//! model tagged with the given words (`--text`), or a song's neighbours moved towards words;
//! with `--artists NAME`, the artists that sound most like an artist.

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use songrec_app::AppError;
use songrec_app::embedders::Pool;
use songrec_app::similar::artists::{self, ArtistsError};
use songrec_app::similar::{AskError, SimilarAsk, Target};
use songrec_config::Config;
use songrec_factory::Backend;
use songrec_storage::Ranking;
use songrec_storage::plural::count;

use crate::args::{FilterArgs, at_least_one};
use crate::exit;
use crate::output;

#[derive(Args, Debug)]
// What to be similar to: a song, --file or --text (clap names all three when none is given).
#[command(group(clap::ArgGroup::new("query").required(true).multiple(true).args(["song", "file", "text", "artists"])))]
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
    /// The artists that sound most like this artist (its name, any case): a few of its songs'
    /// nearest songs, each other artist by its best match, printed with that similarity and
    /// its number of songs. Takes -k and --json only.
    #[arg(long, value_name = "ARTIST", conflicts_with_all = [
        "song", "file", "text", "offset", "metric", "threshold", "explain", "distinct", "exact",
        "embedder", "blend", "model", "genre", "artist", "album", "key", "bpm", "duration", "tag", "conditions",
    ])]
    pub artists: Option<String>,
    /// Number of results.
    #[arg(short, long, default_value_t = Ranking::default().k, value_parser = at_least_one)]
    pub k: usize,
    /// Skip this many of the best results.
    #[arg(long, default_value_t = 0, value_parser = crate::args::count)]
    pub offset: usize,
    /// cosine, dot or l2.
    #[arg(long, default_value_t = Ranking::default().metric.to_string())]
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

pub async fn run(args: &SimilarArgs, cfg: &Config, backend: Backend) -> Result<u8> {
    if let Some(artist) = &args.artists {
        return similar_artists(artist, args, cfg, backend).await;
    }
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
    let ask = SimilarAsk {
        ranking: Ranking {
            k: args.k,
            offset: args.offset,
            metric: args.metric.parse()?,
            threshold: args.threshold,
            filter: args.filter.to_filter()?,
            exact: args.exact,
        },
        choice: args.vectors.choice()?,
        target,
        words,
        distinct: args.distinct,
        explain: args.explain,
        notes: !args.json,
    };
    let embedders = Pool::new(cfg.embedder.clone());
    let prepared = songrec_app::similar::prepare(backend.as_ref(), &ask, &embedders)
        .await
        .map_err(ask_error)?;
    for note in &prepared.notes {
        eprintln!("note: {note}");
    }
    let answer = prepared
        .run(backend.as_ref())
        .await
        .context(match ask.target {
            None => "search by words",
            Some(_) => "similarity search",
        })?;
    if let Some(why) = &answer.nothing_matched {
        bail!("{why}");
    }
    output::matches(&answer, args.json)?;
    Ok(exit::OK)
}

/// `--artists NAME`: the similar artists, one per line with its similarity.
async fn similar_artists(
    artist: &str,
    args: &SimilarArgs,
    cfg: &Config,
    backend: Backend,
) -> Result<u8> {
    let embedders = Pool::new(cfg.embedder.clone());
    let answer = artists::similar_artists(backend.as_ref(), &embedders, artist, args.k).await;
    let answer = match answer {
        Ok(a) => a,
        Err(ArtistsError::UnknownArtist { name, near }) => {
            let near = match near.as_slice() {
                [] => String::new(),
                some => format!("; did you mean {}?", some.join(", ")),
            };
            bail!(
                "no artist named {name:?} in the library{near} (`songrec list --sort artist` \
                 lists the songs with their artists)"
            )
        }
        Err(ArtistsError::App(e)) => return Err(e).context("similar artists"),
    };
    if args.json {
        output::print_json(&answer)?;
        return Ok(exit::OK);
    }
    println!(
        "Artists like {} ({}, {} probed):",
        answer.artist,
        count(answer.songs, "song"),
        answer.probes
    );
    if answer.similar.is_empty() {
        println!("  (no other artist among their neighbours)");
    }
    for a in &answer.similar {
        let songs = count(a.songs, "song");
        println!("  {:>6.3}  {}  ({songs})", a.similarity, a.name);
    }
    Ok(exit::OK)
}

/// An ask that names no answer, in the command line's words.
fn ask_error(e: AppError) -> anyhow::Error {
    let AppError::Ask(e) = e else {
        return e.into();
    };
    anyhow!(match e {
        AskError::Nothing => "give a song, --file or --text",
        AskError::DistinctWithWords => "--distinct cannot be combined with --text",
        AskError::ExplainNeedsSong => {
            "--explain needs a song from the library (a file's tags and tempo are not stored, \
             --text alone has none); ingest it first"
        }
        AskError::VectorsWithWordsAlone => {
            "--embedder, --blend, --model and --threshold apply to a song's or a file's \
             neighbours, not to --text alone"
        }
        AskError::BlendNeedsCosine => {
            "a blend mixes cosine similarities; use --metric cosine (or dot)"
        }
    })
}
