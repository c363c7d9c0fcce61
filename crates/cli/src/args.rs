//! Option groups and value parsers shared by several commands: the global options, the song
//! filters, `--json`, counts that must be at least 1, the playlist rules `playlist` and `radio`
//! share ([`RuleArgs`]), and the MPD address every `--mpd` flag reads ([`mpd_address`]).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use songrec_config::Config;
use songrec_mpd::Address;

/// The options every command takes (`--library`, `--config`, `-v`, ...).
#[derive(Args, Debug)]
pub struct GlobalArgs {
    /// Storage backend: local (default) or astra (Astra DB + S3; alias: cloud).
    #[arg(long, global = true, value_parser = backend_name, help_heading = GLOBAL)]
    pub storage_backend: Option<String>,
    /// Local library folder (holds data/); default ~/.local/share/songrec.
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub library: Option<PathBuf>,
    /// Configuration file (default: $SONGREC_CONFIG, else ~/.config/songrec/config.toml; a
    /// config.toml in the working directory is read only when named here).
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub config: Option<PathBuf>,
    /// Environment file to load (default: $SONGREC_ENV_FILE, else ~/.config/songrec/.env; a .env in
    /// the working directory is read only when named here). Never overrides variables already set.
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
}

/// The heading of the options every command takes, apart from each command's own.
const GLOBAL: &str = "Global options";

/// `--storage-backend`: checked by clap, so a wrong name is a usage error (exit 2).
fn backend_name(s: &str) -> Result<String, String> {
    s.parse::<songrec_config::BackendKind>()
        .map(|_| s.to_owned())
        .map_err(|_| "use local or astra (alias: cloud)".to_owned())
}

/// Most songs a count may name (`-k`, `-n`, `--offset`, ...): far above any library songrec
/// holds, so a bigger number is a typo (`-k 100000000000` once asked for a 4 TB allocation).
/// Refused by clap as a usage error (exit 2) with the range.
pub const MAX_COUNT: usize = 1_000_000;

/// A whole number in `MIN..=MAX`, as clap's value parser: anything else is a usage error
/// (exit 2) that names the range.
pub fn bounded<const MIN: usize, const MAX: usize>(s: &str) -> Result<usize, String> {
    match s.trim().parse::<u128>() {
        Ok(n) if (MIN as u128..=MAX as u128).contains(&n) => Ok(n as usize),
        Ok(_) => Err(format!("must be from {MIN} to {MAX}")),
        Err(e) => Err(e.to_string()),
    }
}

/// A count of songs that must be at least 1 (`-k`, `-n`): 1..=[`MAX_COUNT`].
pub fn at_least_one(s: &str) -> Result<usize, String> {
    bounded::<1, MAX_COUNT>(s)
}

/// A count of songs that may be 0 (`--offset`, `--exclude-recent`): 0..=[`MAX_COUNT`].
pub fn count(s: &str) -> Result<usize, String> {
    bounded::<0, MAX_COUNT>(s)
}

/// Parallel jobs (`--jobs`): 0 (one per core) ..= [`songrec_config::MAX_JOBS`].
pub fn jobs(s: &str) -> Result<usize, String> {
    bounded::<0, { songrec_config::MAX_JOBS }>(s)
}

/// Songs per style of `synth`: 1..=10000.
pub fn per_style(s: &str) -> Result<usize, String> {
    bounded::<1, 10_000>(s)
}

/// Seconds of a synthesised song: 0.5..=600.
pub fn song_seconds(s: &str) -> Result<f32, String> {
    within(s, 0.5, 600.0)
}

/// A number in `lo..=hi`, as clap's value parser.
fn within(s: &str, lo: f32, hi: f32) -> Result<f32, String> {
    match s.trim().parse::<f32>() {
        Ok(v) if (lo..=hi).contains(&v) => Ok(v),
        Ok(_) => Err(format!("must be from {lo} to {hi}")),
        Err(e) => Err(e.to_string()),
    }
}

/// Library sizes of `bench search`: 1..=10 000 000.
pub fn bench_songs(s: &str) -> Result<usize, String> {
    bounded::<1, 10_000_000>(s)
}

/// A vector dimension (`bench search --dim`): 1..=8192.
pub fn dim(s: &str) -> Result<usize, String> {
    bounded::<1, 8192>(s)
}

/// An approximate index's candidate list (`--ef-search`, `--ef-construction`): 1..=100 000.
pub fn ef(s: &str) -> Result<usize, String> {
    bounded::<1, 100_000>(s)
}

/// A blend's neural weight (`eval --blend`): 0..=1.
pub fn weight(s: &str) -> Result<f32, String> {
    within(s, 0.0, 1.0)
}

/// A percentage (`--max-delete`): 0..=100.
pub fn percent(s: &str) -> Result<u32, String> {
    bounded::<0, 100>(s).map(|n| n as u32)
}

/// The song filter flags (`filter_args`), read into the filters the REST API reads too
/// (`songrec_app::filters::FilterSpec`).
pub use crate::filter_args::FilterArgs;

#[derive(Args, Debug)]
pub struct JsonFlag {
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// How the local library keeps a file (`--audio`): reference, reflink or copy.
pub fn audio_mode(s: &str) -> Result<songrec_storage::AudioMode, String> {
    s.parse()
}

/// The playlist rules `playlist` and `radio` share.
#[derive(Args, Debug)]
pub struct RuleArgs {
    /// At most one song per artist (radio: around the song playing).
    #[arg(long)]
    pub no_repeat_artist: bool,
    /// At most one song per album (radio: around the song playing).
    #[arg(long)]
    pub no_repeat_album: bool,
    /// Leave out songs that were in the last N playlists.
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = crate::args::count)]
    pub exclude_recent: usize,
}

/// The MPD server `--mpd [ADDR]` names: ADDR, else `MPD_HOST`/`MPD_PORT`, else `[mpd] address`,
/// else localhost.
pub fn mpd_address(given: Option<&str>, cfg: &Config) -> Result<Address> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let host = var("MPD_HOST").or_else(|| cfg.mpd.address.clone());
    Ok(Address::from_env(
        given,
        host.as_deref(),
        var("MPD_PORT").as_deref(),
    )?)
}
