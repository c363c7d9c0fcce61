//! The command line: the clap tree (`Cli`, `Command`) and the one dispatcher from a parsed
//! command line to the command modules.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use songrec_factory::{self as factory, Reads};

use crate::args::{GlobalArgs, JsonFlag};
use crate::commands::{
    bench, cache, delete, doctor, dupes, edit, eval, ingest, init_astra, list, map, migrate,
    playlist, previews, radio, reembed, reindex, relink, serve, show, similar, stats, sync, synth,
};
use crate::config::load_config;
use crate::exit;
use crate::library::{NewFolder, require_library};

/// `songrec --version`: the version and the built-in models with their credits (the same
/// lines as `songrec_app::embedders::MODEL_CREDITS`).
const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\nbuilt-in models: musicnn by J. Pons and X. Serra, ISC licence; aisfx by Ma & Lerch (ISMIR 2022), CC BY 4.0"
);

/// Find songs that sound alike, in a music library that can live on several machines.
#[derive(Parser, Debug)]
#[command(name = "songrec", version, long_version = LONG_VERSION, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Decode, analyse and store audio files and folders.
    Ingest(ingest::IngestArgs),
    /// List songs, with filters.
    List(list::ListArgs),
    /// Songs that sound like a song (or like an audio file with --file).
    Similar(similar::SimilarArgs),
    /// Everything known about one song.
    Show(show::ShowArgs),
    /// Delete songs (metadata, vectors and audio).
    Delete(delete::DeleteArgs),
    /// Library statistics.
    Stats(JsonFlag),
    /// Rebuild the local vector index from the .npy files (`--verify`: check it in full instead).
    Reindex(reindex::ReindexArgs),
    /// Copy the whole library between backends: `migrate --from local --to astra` (or
    /// `'local->astra'` quoted, or local→astra). Idempotent and resumable; never changes the source.
    /// `migrate --status` shows the last runs from the ledger.
    Migrate(migrate::MigrateArgs),
    /// Create the Astra DB collections (idempotent; reports collections with other settings).
    InitAstra(init_astra::InitAstraArgs),
    /// Check the setup before any work: the neural runtime, the local library (songs, vectors,
    /// write lock, index) and the cloud when configured (credentials, keyspace, collections, bucket).
    Doctor,
    /// Measure search and ingest speed.
    Bench(bench::BenchArgs),
    /// Generate an example library of synthesised songs (WAV).
    Synth(synth::SynthArgs),
    /// Compute one embedder's vectors for every song (e.g. add musicnn to a DSP library).
    /// Resumable: rerun after an interruption and it continues.
    Reembed(reembed::ReembedArgs),
    /// Measure similarity quality on a labelled folder (one sub-folder per label):
    /// precision@1/5/10 per embedder and blend, against chance.
    Eval(eval::EvalArgs),
    /// Two-way sync of this machine's library with the shared remote (Astra + S3).
    Sync(sync::SyncArgs),
    /// Change a song's metadata (bumps its version, so sync carries the change).
    Edit(edit::EditArgs),
    /// The disk cache and offline copy of a remote library: stats, clear, refresh.
    Cache(cache::CacheArgs),
    /// A playlist that flows from seed songs (--seed, repeatable) or travels --from A --to B.
    Playlist(playlist::PlaylistArgs),
    /// Keep MPD's queue going with songs like the one playing, learning from skips.
    Radio(radio::RadioArgs),
    /// Duplicate songs: the same audio in other files, or the same recording re-encoded or trimmed.
    Dupes(dupes::DupesArgs),
    /// A map of the library: a self-contained HTML page (and/or a PNG image).
    Map(map::MapArgs),
    /// Groups of songs that sound alike (k-means), with their dominant genres.
    Clusters(map::ClustersArgs),
    /// The songs least like the rest of the library.
    Outliers(map::OutliersArgs),
    /// Serve the web page and REST API (127.0.0.1:8080 by default).
    Serve(serve::ServeArgs),
    /// Fetch 30-second previews from the iTunes Search API and ingest them with their metadata.
    Previews(previews::PreviewsArgs),
    /// Keep each song's audio from your own file below a folder (a reference by default):
    /// converts a library whose files an earlier songrec copied, once each file is verified.
    Relink(relink::RelinkArgs),
}

/// Runs a parsed command line: commands that need no library first, then those that open
/// their own backends, then the rest on the configured backend (built by the factory).
pub async fn run(cli: Cli) -> Result<u8> {
    if let Command::Synth(args) = &cli.command {
        return synth::run(args);
    }
    if let Command::Bench(args) = &cli.command {
        return bench::run(args).await;
    }
    let cfg = load_config(&cli.global)?;
    // A command that fails leaves no library folder it created behind.
    let fresh = NewFolder::note(&cfg);
    let result = run_with(&cli, &cfg).await;
    if !matches!(result, Ok(code) if code != exit::ERROR) {
        fresh.failed();
    }
    result
}

/// [`run`] once the configuration is loaded.
async fn run_with(cli: &Cli, cfg: &songrec_config::Config) -> Result<u8> {
    // `ingest --audio` chooses how this run keeps the files.
    let adjusted = match &cli.command {
        Command::Ingest(a) => Some(a.configured(cfg)),
        Command::Relink(a) => Some(a.configured(cfg)),
        _ => None,
    };
    let cfg = adjusted.as_ref().unwrap_or(cfg);
    match &cli.command {
        Command::InitAstra(args) => return init_astra::run(args, cfg).await,
        Command::Doctor => return doctor::run(cfg).await,
        Command::Migrate(args) => return migrate::run(args, cfg).await,
        Command::Eval(args) => return eval::run(args, cfg).await,
        Command::Sync(args) => return sync::run(args, cfg).await,
        Command::Cache(args) => return cache::run(args, cfg).await,
        _ => {}
    }
    // Read-only commands may be answered by the offline copy of a remote library (with a
    // warning); the others fail at once while the remote is unreachable.
    let reads = match &cli.command {
        Command::List(_) | Command::Show(_) | Command::Similar(_) | Command::Stats(_) => {
            Reads::MayUseOfflineCopy
        }
        _ => Reads::RemoteOnly,
    };
    // `ingest` and `previews` may create a local library; the others need one.
    let creates = match &cli.command {
        Command::Ingest(a) => Some(a.paths.as_slice()),
        Command::Previews(_) => Some(&[][..]),
        _ => None,
    };
    let may_create = require_library(cfg, creates)?;
    // Processes that run until stopped take the write lock only per write, so other
    // writers run beside them; the lock file names them for those writers' messages.
    let long_running = match &cli.command {
        Command::Serve(a) => Some(format!(
            "songrec serve on {}",
            a.bind.as_deref().unwrap_or(&cfg.server.bind)
        )),
        Command::Radio(_) => Some("songrec radio".to_owned()),
        _ => None,
    };
    let opened = match &long_running {
        Some(what) => factory::open_long_running(cfg, reads, what),
        None => factory::open(cfg, reads),
    }
    .with_context(|| format!("opening the {}", factory::describe(cfg, cfg.backend)))?;
    tracing::info!("using {}", opened.backend);
    let backend = opened.backend.clone();
    let code = match &cli.command {
        Command::Ingest(a) => ingest::run(a, cfg, &opened).await,
        Command::List(a) => list::run(a, backend).await,
        Command::Similar(a) => similar::run(a, cfg, backend).await,
        Command::Show(a) => show::run(a, cfg, backend).await,
        Command::Delete(a) => delete::run(a, backend).await,
        Command::Stats(j) => stats::run(j, &opened).await,
        Command::Reembed(a) => reembed::run(a, cfg, &opened).await,
        Command::Serve(a) => serve::run(a, cfg, backend).await,
        Command::Previews(a) => previews::run(a, cfg, &opened).await,
        Command::Relink(a) => relink::run(a, cfg, &opened).await,
        Command::Reindex(a) => reindex::run(a, cfg).await,
        Command::Edit(a) => edit::run(a, backend).await,
        Command::Playlist(a) => playlist::run(a, cfg, backend).await,
        Command::Radio(a) => radio::run(a, cfg, backend).await,
        Command::Dupes(a) => dupes::run(a, &opened).await,
        Command::Map(a) => map::map(a, backend).await,
        Command::Clusters(a) => map::clusters(a, backend).await,
        Command::Outliers(a) => map::outliers(a, backend).await,
        Command::Migrate(_)
        | Command::Sync(_)
        | Command::InitAstra(_)
        | Command::Doctor
        | Command::Bench(_)
        | Command::Eval(_)
        | Command::Cache(_)
        | Command::Synth(_) => {
            unreachable!("handled before a backend is built")
        }
    };
    if matches!(code, Ok(c) if c != exit::ERROR) {
        crate::library::say_new_library(cfg, may_create);
    }
    if let Some(w) = opened.offline_warning() {
        eprintln!("warning: {w}");
    }
    // Everything durable was flushed by the command; let the OS reclaim the in-memory library
    // instead of freeing a hundred thousand songs one by one at exit.
    std::mem::forget(opened);
    code
}
