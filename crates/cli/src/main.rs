//! `songrec`: a thin command line over the songrec library crates. It parses arguments, builds a
//! backend from the configuration through the factory, calls the library and prints.

mod bench;
mod cache;
mod cli;
mod dupes;
mod map;
mod migrate;
mod output;
mod playlist;
mod previews;
mod quality;
mod serve;
mod sync;

use std::collections::HashMap;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;

use crate::cli::{Cli, Command};

/// Exit codes (also in the README).
pub mod exit {
    /// Everything worked.
    pub const OK: u8 = 0;
    /// The command failed.
    pub const ERROR: u8 = 1;
    /// Usage error (clap's own).
    pub const USAGE: u8 = 2;
    /// The command finished but some files failed (ingest) or songs failed (sync, migrate).
    pub const PARTIAL: u8 = 3;
    /// Sync finished; conflicts were resolved by the policy and need a look.
    pub const CONFLICTS: u8 = 4;
    /// Refused by a safety rail (sync: delete limit, empty listing, lease held elsewhere).
    pub const REFUSED: u8 = 5;
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::ERROR);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(exit::USAGE)
            } else {
                ExitCode::from(exit::ERROR)
            }
        }
    }
}

/// A command line that parsed but cannot mean anything (exit code 2, like clap's own errors).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn init_logging(verbose: u8, quiet: bool) {
    // symphonia warns about harmless quirks of real files (junk before a header, ...); the
    // per-file report already says what matters.
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (_, 0) => "warn,symphonia=error,symphonia_core=error",
        (_, 1) => "info,symphonia=error,symphonia_core=error",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("SONGREC_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .try_init();
}

/// Loads `.env` (never overriding variables already set), the config file, then applies flags.
fn load_config(cli: &Cli) -> Result<songrec_storage::config::Config> {
    match dotenvy::dotenv() {
        Ok(_) | Err(dotenvy::Error::Io(_)) => {}
        Err(e) => return Err(e).context("reading .env"),
    }
    let env: HashMap<String, String> = std::env::vars().collect();
    let file = cli
        .config
        .clone()
        .or_else(|| songrec_storage::config::Config::default_file(&env));
    let mut cfg = songrec_storage::config::Config::from_sources(file.as_deref(), &env)
        .context("loading configuration")?;
    if let Some(b) = &cli.storage_backend {
        cfg.backend = b.parse().context("--storage-backend")?;
    }
    if let Some(l) = &cli.library {
        cfg.local.path = songrec_storage::config::expand_home(l);
    }
    if cli.no_cache {
        cfg.cache.enabled = false;
    }
    Ok(cfg)
}

async fn run(cli: Cli) -> Result<u8> {
    if let Command::Synth(args) = &cli.command {
        return cli::synth(args);
    }
    if let Command::Bench(args) = &cli.command {
        return bench::run(args).await;
    }
    let cfg = load_config(&cli)?;
    match &cli.command {
        Command::InitAstra(args) => return cli::init_astra(args, &cfg).await,
        Command::Doctor => return cli::doctor(&cfg).await,
        Command::Migrate(args) => return migrate::run(args, &cfg).await,
        Command::Eval(args) => return quality::eval(args, &cfg).await,
        Command::Sync(args) => return sync::sync(args, &cfg).await,
        Command::Cache(args) => return cache::run(args, &cfg).await,
        _ => {}
    }
    // Read-only commands may be answered by the offline copy of a remote library (with a
    // warning); the others fail at once while the remote is unreachable.
    let reads = match &cli.command {
        Command::List(_) | Command::Show(_) | Command::Similar(_) | Command::Stats(_) => {
            songrec_app::factory::Reads::MayUseOfflineCopy
        }
        _ => songrec_app::factory::Reads::RemoteOnly,
    };
    cli::require_library(&cli.command, &cfg)?;
    let opened = songrec_app::factory::open(&cfg, reads)
        .with_context(|| format!("opening the {} library", cfg.backend))?;
    tracing::info!("using {}", opened.backend);
    let code = cli::dispatch(&cli, &cfg, &opened).await;
    if let Some(w) = opened.offline_warning() {
        eprintln!("warning: {w}");
    }
    // Everything durable was flushed by the command; let the OS reclaim the in-memory library
    // instead of freeing a hundred thousand songs one by one at exit.
    std::mem::forget(opened);
    code
}
