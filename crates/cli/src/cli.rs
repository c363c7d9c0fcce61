//! Arguments and the per-command glue.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use songrec_app::factory::{Backend, Opened};
use songrec_app::ingest::{FileReport, IngestOptions, Outcome, Progress};
use songrec_app::similar::{SimilarRequest, Target};
use songrec_storage::config::Config;
use songrec_storage::query::MAX_PAGE;
use songrec_storage::{Filter, ListQuery, Metric, SortKey, StorageBackendExt};

use crate::exit;
use crate::output;

/// Find songs that sound alike, in a music library that can live on several machines.
#[derive(Parser, Debug)]
#[command(name = "songrec", version, about, long_about = None)]
pub struct Cli {
    /// Storage backend: local (default) or astra.
    #[arg(long, global = true, value_parser = backend_name, help_heading = GLOBAL)]
    pub storage_backend: Option<String>,
    /// Local library folder (holds data/); default ~/.local/share/songrec.
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub library: Option<PathBuf>,
    /// Configuration file (default: $SONGREC_CONFIG, else ~/.config/songrec/config.toml; a
    /// config.toml in the working directory is read only when named here).
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub config: Option<PathBuf>,
    /// Environment file to load (default: $SONGREC_ENV_FILE, else ~/.config/songrec/.env; a .env
    /// in the working directory is read only when named here). Never overrides variables
    /// already set.
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub env_file: Option<PathBuf>,
    /// More log output (-v, -vv).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = GLOBAL)]
    pub verbose: u8,
    /// Only errors.
    #[arg(short, long, global = true, help_heading = GLOBAL)]
    pub quiet: bool,
    /// Do not use the disk cache or the offline copy of a remote library.
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub no_cache: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// The heading of the options every command takes, apart from each command's own.
const GLOBAL: &str = "Global options";

/// `--storage-backend`: checked by clap, so a wrong name is a usage error (exit 2).
fn backend_name(s: &str) -> Result<String, String> {
    s.parse::<songrec_storage::config::BackendKind>()
        .map(|_| s.to_owned())
        .map_err(|_| "use local or astra".to_owned())
}

/// A count that must be at least 1 (`-k`, `-n`): clap refuses 0 as a usage error (exit 2).
pub fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Decode, analyse and store audio files and folders.
    Ingest(IngestArgs),
    /// List songs, with filters.
    List(ListArgs),
    /// Songs that sound like a song (or like an audio file with --file).
    Similar(SimilarArgs),
    /// Everything known about one song.
    Show(ShowArgs),
    /// Delete songs (metadata, vectors and audio).
    Delete(DeleteArgs),
    /// Library statistics.
    Stats(JsonFlag),
    /// Rebuild the local vector index from the .npy files.
    Reindex,
    /// Copy the whole library between backends: `migrate --from local --to astra` (or
    /// `'local->astra'` quoted, or local→astra). Idempotent and resumable; never changes the source.
    /// `migrate --status` shows the last runs from the ledger.
    Migrate(MigrateArgs),
    /// Create the Astra DB collections (idempotent; reports collections with other settings).
    InitAstra(InitAstraArgs),
    /// Check the Astra/S3 configuration before any work: credentials, keyspace, collections, bucket.
    Doctor,
    /// Measure search and ingest speed.
    Bench(BenchArgs),
    /// Generate an example library of synthesised songs (WAV).
    Synth(SynthArgs),
    /// Compute one embedder's vectors for every song (e.g. add musicnn to a DSP library).
    /// Resumable: rerun after an interruption and it continues.
    Reembed(crate::quality::ReembedArgs),
    /// Measure similarity quality on a labelled folder (one sub-folder per label):
    /// precision@1/5/10 per embedder and blend, against chance.
    Eval(crate::quality::EvalArgs),
    /// Two-way sync of this machine's library with the shared remote (Astra + S3).
    Sync(crate::sync::SyncArgs),
    /// Change a song's metadata (bumps its version, so sync carries the change).
    Edit(crate::sync::EditArgs),
    /// The disk cache and offline copy of a remote library: stats, clear, refresh.
    Cache(crate::cache::CacheArgs),
    /// A playlist that flows from seed songs (--seed, repeatable) or travels --from A --to B.
    Playlist(crate::playlist::PlaylistArgs),
    /// Duplicate songs: the same audio in other files, or the same recording re-encoded or trimmed.
    Dupes(crate::dupes::DupesArgs),
    /// A map of the library: a self-contained HTML page (and/or a PNG image).
    Map(crate::map::MapArgs),
    /// Groups of songs that sound alike (k-means), with their dominant genres.
    Clusters(crate::map::ClustersArgs),
    /// The songs least like the rest of the library.
    Outliers(crate::map::OutliersArgs),
    /// Serve the web page and REST API (127.0.0.1:8080 by default).
    Serve(crate::serve::ServeArgs),
    /// Fetch 30-second previews from the iTunes Search API and ingest them with their metadata.
    Previews(crate::previews::PreviewsArgs),
}

#[derive(Args, Debug)]
pub struct JsonFlag {
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

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

#[derive(Args, Debug, Clone, Default)]
pub struct FilterArgs {
    /// Only this genre (case-insensitive).
    #[arg(long)]
    pub genre: Option<String>,
    /// Only this artist.
    #[arg(long)]
    pub artist: Option<String>,
    /// Only this album.
    #[arg(long)]
    pub album: Option<String>,
    /// Only this key, e.g. "A minor", "Am", "F#".
    #[arg(long)]
    pub key: Option<String>,
    /// Tempo range, e.g. 110..130, 120.., ..90.
    #[arg(long)]
    pub bpm: Option<String>,
    /// Duration range in seconds, e.g. 60..300.
    #[arg(long)]
    pub duration: Option<String>,
    /// Only songs with this tag.
    #[arg(long)]
    pub tag: Option<String>,
    /// Any field: FIELD=VALUE or FIELD=MIN..MAX (repeatable), e.g. extra.label=Warp.
    #[arg(long = "where", value_name = "FIELD=VALUE")]
    pub conditions: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Sort by id, title, artist, created, updated, bpm or duration.
    #[arg(long, default_value = "artist")]
    pub sort: String,
    /// Reverse order.
    #[arg(long)]
    pub desc: bool,
    /// At most this many songs.
    #[arg(short = 'n', long, default_value_t = 50)]
    pub limit: usize,
    /// Skip this many songs.
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

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

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// The song.
    pub song: String,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct MigrateArgs {
    /// FROM→TO, e.g. local→astra, or 'local->astra' in quotes (unquoted, a shell reads `>` as a
    /// redirect). Same as --from local --to astra.
    pub spec: Option<String>,
    /// Source backend.
    #[arg(long)]
    pub from: Option<String>,
    /// Target backend.
    #[arg(long)]
    pub to: Option<String>,
    /// Print the plan; copy nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// How to compare both sides afterwards: counts (listings and vector counts), sample
    /// (plus 32 songs in depth: metadata, vectors, audio read back and hash-checked),
    /// sample:N, or full (every song in depth).
    #[arg(long, default_value = "sample", value_name = "LEVEL")]
    pub verify: String,
    /// Skip the final comparison of both sides.
    #[arg(long, conflicts_with = "verify")]
    pub no_verify: bool,
    /// Songs copied concurrently.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Songs per write batch (and per ledger transaction).
    #[arg(long, default_value_t = 100)]
    pub batch_size: usize,
    /// Show the last runs recorded in the ledger (and the newest run's failures); copy nothing.
    #[arg(long, conflicts_with_all = ["spec", "from", "to", "dry_run"])]
    pub status: bool,
    /// With --status: machine-readable output.
    #[arg(long, requires = "status")]
    pub json: bool,
}

/// Parses `local->astra`, `local→astra`, `local=>astra`, `local:astra` or `local to astra`.
///
/// An unquoted `local->astra` reaches us as `local-`: the shell took `>astra` as a redirect
/// (and created a file named `astra`). That is recognised and explained, as a usage error.
pub fn parse_migrate_spec(spec: &str) -> Result<(String, String)> {
    for sep in ["->", "→", "=>", " to ", ":"] {
        if let Some((a, b)) = spec.split_once(sep) {
            let (a, b) = (a.trim(), b.trim());
            if !a.is_empty() && !b.is_empty() {
                return Ok((a.to_owned(), b.to_owned()));
            }
        }
    }
    if let Some(from) = spec.strip_suffix('-').or_else(|| spec.strip_suffix('=')) {
        let from = from.trim();
        let to = if from == "astra" { "local" } else { "astra" };
        return Err(crate::UsageError(format!(
            "`{spec}` is what is left of `{from}->{to}` after the shell read `>{to}` as a redirect: \
             it ran `songrec migrate {spec}` and may have created an empty file named `{to}` in this \
             folder{stray} (delete it).\n\
             Type `songrec migrate --from {from} --to {to}`, or quote the arrow: \
             `songrec migrate '{from}->{to}'` (`{from}→{to}` needs no quotes).",
            stray = stray_file_hint(to),
        ))
        .into());
    }
    Err(crate::UsageError(format!(
        "cannot read {spec:?} as FROM→TO; type `songrec migrate --from local --to astra` \
         (or `'local->astra'` in quotes, or local→astra)"
    ))
    .into())
}

/// " (there is one: ./astra, 0 bytes)" when a file left by a redirect is in the working folder.
fn stray_file_hint(name: &str) -> String {
    match std::fs::metadata(name) {
        Ok(m) if m.is_file() => format!(" (there is one: ./{name}, {} bytes)", m.len()),
        _ => String::new(),
    }
}

#[derive(Args, Debug)]
pub struct InitAstraArgs {
    /// Embedders whose vector collections to create: dsp, musicnn or both.
    #[arg(long, default_value = "both")]
    pub embedder: String,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// Songs to delete.
    #[arg(required = true)]
    pub songs: Vec<String>,
}

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
        /// Embedders to run: dsp, musicnn or both (musicnn on ONNX Runtime when
        /// SONGREC_ORT_LIBRARY is set, else tract).
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

#[derive(Args, Debug)]
pub struct SynthArgs {
    /// Output folder (created).
    pub dir: PathBuf,
    /// Songs per style.
    #[arg(long, default_value_t = 4)]
    pub per_style: usize,
    /// Seconds per song.
    #[arg(long, default_value_t = 20.0)]
    pub seconds: f32,
    /// One sub-folder per style (a labelled set for `songrec eval`).
    #[arg(long)]
    pub by_style: bool,
}

impl FilterArgs {
    /// The same filters as the REST API (`songrec_app::filters`).
    pub fn to_filter(&self) -> Result<Filter> {
        let spec = songrec_app::filters::FilterSpec {
            genre: self.genre.clone(),
            artist: self.artist.clone(),
            album: self.album.clone(),
            key: self.key.clone(),
            bpm: self.bpm.clone(),
            duration: self.duration.clone(),
            tag: self.tag.clone(),
            conditions: self.conditions.clone(),
        };
        Ok(spec.to_filter()?)
    }
}

/// Draws an indicatif bar on stderr and prints failures as they happen.
pub(crate) struct Bar {
    pub(crate) bar: ProgressBar,
    pub(crate) json: bool,
    pub(crate) lock: Mutex<()>,
}

impl Progress for Bar {
    fn start(&self, total: u64) {
        self.bar.set_length(total);
    }
    fn file_done(&self, r: &FileReport) {
        let _g = self.lock.lock();
        self.bar.inc(1);
        if self.json {
            if let Ok(line) = serde_json::to_string(r) {
                self.bar.suspend(|| println!("{line}"));
            }
            return;
        }
        match &r.outcome {
            Outcome::Failed { reason, .. } => self.bar.println(format!("skipped: {reason}")),
            Outcome::Added {
                title, warnings, ..
            } => {
                for w in warnings {
                    self.bar
                        .println(format!("warning: {}: {w}", r.path.display()));
                }
                self.bar.set_message(title.clone());
            }
            _ => {}
        }
    }
}

/// A progress bar on stderr when it is a terminal (and `wanted`), else a hidden one.
///
/// It ticks on its own (spinner and elapsed time move while files are in flight), and its
/// `{eta}` is the work left at the average pace of the work done so far (elapsed / done ×
/// left), shown once something is done: not indicatif's estimate from the latest steps, which
/// said "2m" for a 7 s ingest whose first files all finished at once.
pub(crate) fn progress_bar(wanted: bool, template: &str) -> ProgressBar {
    if !wanted || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(0);
    b.set_style(
        ProgressStyle::with_template(template)
            .map(|s| s.with_key("eta", eta_from_work_done))
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    b.enable_steady_tick(std::time::Duration::from_millis(150));
    b
}

fn eta_from_work_done(state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write) {
    let _ = w.write_str(&eta_text(
        state.pos(),
        state.len(),
        state.elapsed().as_secs_f64(),
    ));
}

/// "…" until something is done, then elapsed / done × left, e.g. "12s", "3m05s".
fn eta_text(done: u64, total: Option<u64>, elapsed_secs: f64) -> String {
    let Some(total) = total else {
        return "…".to_owned();
    };
    if done == 0 {
        return "…".to_owned();
    }
    let left = total.saturating_sub(done) as f64 * elapsed_secs / done as f64;
    let secs = left.round() as u64;
    if secs < 60 {
        format!("{secs}s")
    } else if secs < 3600 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{}h{:02}m", secs / 3600, secs % 3600 / 60)
    }
}

async fn ingest(args: &IngestArgs, cfg: &Config, opened: &Opened) -> Result<u8> {
    let backend = opened.backend.clone();
    paths_exist(&args.paths)?;
    let embedders = songrec_app::embedders::parse_list_with(&args.embedder, &cfg.embedder)?;
    let state_file = if args.force {
        None
    } else {
        let name: String = backend
            .to_string()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        Some(
            cfg.cache
                .path
                .join("ingest-state")
                .join(format!("{name}.json")),
        )
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

async fn list(args: &ListArgs, backend: Backend) -> Result<u8> {
    let filter = args.filter.to_filter()?;
    let sort: SortKey = args.sort.parse()?;
    let q = ListQuery {
        filter,
        sort,
        descending: args.desc,
        limit: MAX_PAGE,
        cursor: None,
    };
    let mut items = Vec::new();
    let mut skipped = 0usize;
    backend
        .for_each_page(&q, |page| {
            for m in page {
                if skipped < args.offset {
                    skipped += 1;
                } else if items.len() < args.limit {
                    items.push(m);
                }
            }
            items.len() < args.limit
        })
        .await
        .context("listing songs")?;
    let total = backend.count(&q.filter).await?;
    output::songs(&items, total, args.json)?;
    Ok(exit::OK)
}

async fn similar(args: &SimilarArgs, cfg: &Config, backend: Backend) -> Result<u8> {
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

/// A path that does not exist is a mistake, not a partly finished job: nothing is ingested.
fn paths_exist(paths: &[PathBuf]) -> Result<()> {
    match paths.iter().find(|p| std::fs::symlink_metadata(p).is_err()) {
        Some(p) => bail!(
            "{}: no such file or folder; nothing was ingested",
            p.display()
        ),
        None => Ok(()),
    }
}

/// Commands that work on an existing library refuse a local folder that holds none (a typo in
/// `--library` would otherwise list "0 of 0 songs"); `ingest` and `previews` create it, saying where.
pub fn require_library(command: &Command, cfg: &Config) -> Result<()> {
    if cfg.backend != songrec_storage::config::BackendKind::Local {
        return Ok(());
    }
    let root = &cfg.local.path;
    if root.join("data").is_dir() {
        return Ok(());
    }
    match command {
        Command::Ingest(a) => {
            // A wrong path is reported before anything is created.
            paths_exist(&a.paths)?;
            eprintln!("creating a new library at {}", root.display());
            Ok(())
        }
        Command::Previews(_) => {
            eprintln!("creating a new library at {}", root.display());
            Ok(())
        }
        _ => bail!(
            "no songrec library at {}: ingest songs first (`songrec --library {} ingest ~/Music`), \
             or point --library / SONGREC_LIBRARY at an existing library",
            root.display(),
            root.display()
        ),
    }
}

pub async fn dispatch(cli: &Cli, cfg: &Config, opened: &Opened) -> Result<u8> {
    let backend = opened.backend.clone();
    match &cli.command {
        Command::Ingest(a) => ingest(a, cfg, opened).await,
        Command::List(a) => list(a, backend).await,
        Command::Similar(a) => similar(a, cfg, backend).await,
        Command::Show(a) => {
            let m = songrec_app::resolve::resolve(backend.as_ref(), &a.song).await?;
            let models = backend.models().await?;
            let mut have = Vec::new();
            for s in models {
                if backend.get_embedding(&m.id, &s.model).await?.is_some() {
                    have.push(s.model);
                }
            }
            let audio = backend.has_audio(&m.id).await?;
            output::show(&m, &have, audio, a.json)?;
            Ok(exit::OK)
        }
        Command::Delete(a) => {
            for s in &a.songs {
                let m = songrec_app::resolve::resolve(backend.as_ref(), s).await?;
                if backend
                    .delete_song(&m.id)
                    .await
                    .with_context(|| format!("deleting {}", m.display_name()))?
                {
                    println!("deleted {}  {}", m.id.short(), m.display_name());
                }
            }
            backend.flush().await?;
            Ok(exit::OK)
        }
        Command::Stats(j) => {
            let stats = songrec_app::stats::library_stats(backend.as_ref()).await?;
            let cache = opened.cache.as_ref().and_then(|c| c.stats().ok());
            output::stats(&opened.description, &stats, cache.as_ref(), j.json)?;
            Ok(exit::OK)
        }
        Command::Reembed(a) => crate::quality::reembed(a, cfg, backend).await,
        Command::Serve(a) => crate::serve::run(a, cfg, backend).await,
        Command::Previews(a) => crate::previews::run(a, cfg, backend).await,
        Command::Reindex => {
            let local = songrec_local::LocalBackend::open(&cfg.local.path)?;
            local.reindex().await?;
            println!("rebuilt the vector index of {local}");
            Ok(exit::OK)
        }
        Command::Edit(a) => crate::sync::edit(a, backend).await,
        Command::Playlist(a) => crate::playlist::run(a, cfg, backend).await,
        Command::Dupes(a) => crate::dupes::run(a, backend).await,
        Command::Map(a) => crate::map::map(a, cfg, backend).await,
        Command::Clusters(a) => crate::map::clusters(a, cfg, backend).await,
        Command::Outliers(a) => crate::map::outliers(a, cfg, backend).await,
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
    }
}

pub(crate) struct MigrateBar(pub(crate) ProgressBar);
impl songrec_app::migrate::MigrateProgress for MigrateBar {
    fn start(&self, total: u64) {
        self.0.set_length(total);
    }
    fn advance(&self, n: u64) {
        self.0.inc(n);
    }
}

/// `songrec init-astra`: applies `migrations/astra` idempotently.
pub async fn init_astra(args: &InitAstraArgs, cfg: &Config) -> Result<u8> {
    let models = songrec_app::embedders::models_of_list(&args.embedder)?;
    let report = songrec_astra::AstraBackend::init(cfg, &models)
        .await
        .context("initialising the Astra collections")?;
    print!("{report}");
    Ok(exit::OK)
}

/// `songrec doctor`: every check with what to fix; exit 1 if any failed.
pub async fn doctor(cfg: &Config) -> Result<u8> {
    let report = songrec_astra::doctor(cfg).await;
    for c in &report.checks {
        println!("{c}");
    }
    Ok(if report.is_ok() {
        exit::OK
    } else {
        exit::ERROR
    })
}

pub fn synth(args: &SynthArgs) -> Result<u8> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let mut n = 0;
    for style in songrec_app::synth::STYLES {
        for i in 0..args.per_style {
            let spec = songrec_app::synth::SongSpec::for_style(style, i as u64 + 1, args.seconds);
            let title = format!("{} {}", style_title(style), i + 1);
            let artist = format!("The {} Ensemble", capitalise(style));
            let dir = if args.by_style {
                args.dir.join(style)
            } else {
                args.dir.clone()
            };
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let path = dir.join(format!("{artist} - {title}.wav"));
            let tags = [
                ("INAM", title.as_str()),
                ("IART", artist.as_str()),
                ("IGNR", style),
            ];
            songrec_app::synth::write_wav_tagged(&path, &songrec_app::synth::render(&spec), &tags)
                .with_context(|| format!("writing {}", path.display()))?;
            n += 1;
        }
    }
    println!("wrote {n} songs to {}", args.dir.display());
    Ok(exit::OK)
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
}

fn style_title(style: &str) -> &'static str {
    match style {
        "techno" => "Warehouse Pulse",
        "rock" => "Garage Anthem",
        "ballad" => "Slow Piano",
        "ambient" => "Drifting Pads",
        _ => "Blue Swing",
    }
}

#[cfg(test)]
mod tests {
    use super::parse_migrate_spec;

    #[test]
    fn eta_follows_the_work_done() {
        use super::eta_text;
        assert_eq!(eta_text(0, Some(18), 7.0), "…", "nothing done: no guess");
        // 9 of 18 files in 7 s: 7 s more, whatever the first file took.
        assert_eq!(eta_text(9, Some(18), 7.0), "7s");
        assert_eq!(eta_text(1, Some(18), 7.0), "1m59s");
        assert_eq!(eta_text(18, Some(18), 7.0), "0s");
        assert_eq!(eta_text(1, Some(1000), 10.0), "2h46m");
        assert_eq!(eta_text(5, None, 1.0), "…");
    }

    #[test]
    fn migrate_spellings() {
        for s in [
            "local->astra",
            "local→astra",
            "local => astra",
            "local to astra",
            "local:astra",
        ] {
            assert_eq!(
                parse_migrate_spec(s).unwrap(),
                ("local".to_owned(), "astra".to_owned()),
                "{s}"
            );
        }
        assert!(parse_migrate_spec("local").is_err());
        assert!(parse_migrate_spec("->astra").is_err());
    }

    #[test]
    fn migrate_spec_cut_by_a_shell_redirect_is_explained() {
        for (typed, from, to) in [
            ("local-", "local", "astra"),
            ("astra-", "astra", "local"),
            ("local=", "local", "astra"),
        ] {
            let e = parse_migrate_spec(typed).unwrap_err();
            assert!(
                e.downcast_ref::<crate::UsageError>().is_some(),
                "{typed}: a usage error"
            );
            let msg = e.to_string();
            assert!(msg.contains("redirect"), "{msg}");
            assert!(msg.contains(&format!("--from {from} --to {to}")), "{msg}");
            assert!(msg.contains(&format!("'{from}->{to}'")), "{msg}");
            assert!(msg.contains(&format!("file named `{to}`")), "{msg}");
        }
    }
}
