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
mod vectors;

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

/// The default log filter: songrec's own crates (every target starting with `songrec`) at
/// `warn`, third-party crates silent (symphonia logs "errors" about files the per-file report
/// already explains). `-v` adds songrec's `info` and the libraries' warnings, `-vv` everything
/// at `debug`; `-q` keeps songrec's errors only. `SONGREC_LOG` replaces the filter.
fn log_filter(verbose: u8, quiet: bool) -> &'static str {
    match (quiet, verbose) {
        (true, _) => "off,songrec=error",
        (_, 0) => "off,songrec=warn",
        (_, 1) => "warn,songrec=info",
        _ => "debug",
    }
}

/// Whether log lines get ANSI colour: only on a terminal, and never with `NO_COLOR` set.
fn colour_stderr() -> bool {
    std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn init_logging(verbose: u8, quiet: bool) {
    let filter = std::env::var("SONGREC_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| tracing_subscriber::EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new(log_filter(verbose, quiet)));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour_stderr())
        .without_time()
        .try_init();
}

/// Loads the environment file (never overriding variables already set), the config file, then
/// applies flags. Only the user's configuration folder, `--config`/`--env-file` and the
/// environment are trusted; files in the working directory are read only when named.
fn load_config(cli: &Cli) -> Result<songrec_storage::config::Config> {
    use songrec_storage::config::Config;
    let env: HashMap<String, String> = std::env::vars().collect();
    let env_file = cli
        .env_file
        .clone()
        .or_else(|| Config::default_env_file(&env));
    if let Some(p) = &env_file {
        dotenvy::from_path(p).with_context(|| format!("reading {}", p.display()))?;
    }
    let env: HashMap<String, String> = std::env::vars().collect();
    let file = cli.config.clone().or_else(|| Config::default_file(&env));
    if !cli.quiet
        && let Some(note) = unused_local_files(file.as_deref(), env_file.as_deref())
    {
        eprintln!("info: {note}");
    }
    let mut cfg = Config::from_sources(file.as_deref(), &env).context("loading configuration")?;
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

/// One line naming a `config.toml` or `.env` in the working directory that is not used (and how
/// to use it), or `None` when there is none or it is the file in use.
fn unused_local_files(
    config: Option<&std::path::Path>,
    env_file: Option<&std::path::Path>,
) -> Option<String> {
    let same = |used: Option<&std::path::Path>, local: &std::path::Path| {
        used.is_some_and(|u| match (u.canonicalize(), local.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        })
    };
    let mut unused = Vec::new();
    let local_config = std::path::Path::new("config.toml");
    if local_config.is_file() && !same(config, local_config) {
        unused.push(("./config.toml", "--config ./config.toml"));
    }
    let local_env = std::path::Path::new(".env");
    if local_env.is_file() && !same(env_file, local_env) {
        unused.push(("./.env", "--env-file ./.env"));
    }
    if unused.is_empty() {
        return None;
    }
    let names: Vec<&str> = unused.iter().map(|u| u.0).collect();
    let flags: Vec<&str> = unused.iter().map(|u| u.1).collect();
    Some(format!(
        "{} in the working directory {} not read (settings come from ~/.config/songrec, \
         $SONGREC_CONFIG, $SONGREC_ENV_FILE and the environment); to use {}, pass {}",
        names.join(" and "),
        if names.len() == 1 { "is" } else { "are" },
        if names.len() == 1 { "it" } else { "them" },
        flags.join(" ")
    ))
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
